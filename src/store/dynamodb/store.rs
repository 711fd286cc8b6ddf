//! The [`Store`] operations on DynamoDB: machines, activities and their task queue,
//! executions, inboxes, history, leases and the due index.

use super::*;
use crate::store::{MapRunRecord, Redrives};

impl Store for DynamoStore {
    async fn put_machine(&self, machine: &MachineRecord) -> Result<(), StoreError> {
        let pk = sm_pk(&machine.arn);
        let what = format!("put state machine {}", machine.arn);
        let json = to_json(machine, &what)?;
        let prefix = format!("DEFC#{}#", nonce());
        let placed = place("def", json, INLINE_MAX, &pk, prefix.clone());
        self.put_chunks(&what, placed.chunks).await?;
        let mut item = key(&pk, "DEF");
        item.extend(placed.attrs);
        let out = self
            .call(&what, || {
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item.clone()))
                    .return_values(ReturnValue::AllOld)
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?;
        // The chunks of a replaced definition (not ours: a retried put finds its own item).
        if let Some(old) = out.attributes {
            if let (Some(old_prefix), Some(count)) = (
                get_s(&old, "def_ref", &what).ok().flatten(),
                get_n::<usize>(&old, "def_chunks", &what).ok().flatten(),
            ) {
                let keys = (0..count.min(100_000))
                    .filter(|_| old_prefix != prefix)
                    .map(|i| key(&pk, &format!("{old_prefix}{i:05}")))
                    .collect();
                self.delete_quietly(&format!("delete old chunks of {what}"), keys)
                    .await;
            }
        }
        // Listed after it is stored: a failure in between leaves a machine that is stored but
        // not listed, until the put is retried.
        let mut entry = key(MACHINES_PK, &machine.arn);
        entry.insert("name".into(), s(&machine.name));
        entry.insert("created".into(), n(machine.created));
        self.put_plain(&what, entry).await
    }

    async fn get_machine(&self, arn: &str) -> Result<Option<MachineRecord>, StoreError> {
        let pk = sm_pk(arn);
        let what = format!("get state machine {arn}");
        let Some(item) = self.get_consistent(&what, &pk, "DEF").await? else {
            return Ok(None);
        };
        let what = format!("state machine {arn}");
        let json = self
            .read_doc(&item, &pk, "def", &what)
            .await?
            .ok_or_else(|| corrupt(&what, "attribute def is missing"))?;
        parse_json(&json, &what).map(Some)
    }

    async fn list_machines(&self) -> Result<Vec<MachineRecord>, StoreError> {
        let what = "list state machines";
        let keys = self
            .query_partition(what, MACHINES_PK)
            .await?
            .iter()
            .map(|entry| Ok(key(&sm_pk(req_s(entry, "sk", what)?), "DEF")))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut machines = Vec::with_capacity(keys.len());
        // An entry whose DEF is gone (a delete that failed half-way) is skipped.
        for item in self.batch_get(what, keys).await? {
            let pk = req_s(&item, "pk", what)?;
            let item_what = format!("state machine {}", pk.trim_start_matches("SM#"));
            let json = self
                .read_doc(&item, pk, "def", &item_what)
                .await?
                .ok_or_else(|| corrupt(&item_what, "attribute def is missing"))?;
            machines.push(parse_json::<MachineRecord>(&json, &item_what)?);
        }
        machines.sort_by(|a, b| (a.created, &a.name, &a.arn).cmp(&(b.created, &b.name, &b.arn)));
        Ok(machines)
    }

    async fn delete_machine(&self, arn: &str) -> Result<bool, StoreError> {
        let pk = sm_pk(arn);
        let what = format!("delete state machine {arn}");
        // The definition first, then the registry entry: a failure in between leaves an entry
        // that `list_machines` skips, and a retry removes it.
        let old = self
            .call(&what, || {
                self.client()
                    .delete_item()
                    .table_name(self.table())
                    .set_key(Some(key(&pk, "DEF")))
                    .return_values(ReturnValue::AllOld)
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?
            .attributes
            .filter(|item| !item.is_empty());
        self.call(&what, || {
            self.client()
                .delete_item()
                .table_name(self.table())
                .set_key(Some(key(MACHINES_PK, arn)))
                .send()
        })
        .await
        .map_err(|e| backend(&what, &e))?;
        let Some(old) = old else {
            return Ok(false);
        };
        if let (Some(prefix), Some(count)) = (
            get_s(&old, "def_ref", &what).ok().flatten(),
            get_n::<usize>(&old, "def_chunks", &what).ok().flatten(),
        ) {
            let keys = (0..count.min(100_000))
                .map(|i| key(&pk, &format!("{prefix}{i:05}")))
                .collect();
            self.delete_quietly(&format!("delete chunks of {what}"), keys)
                .await;
        }
        Ok(true)
    }

    async fn put_map_run(&self, run: &MapRunRecord) -> Result<(), StoreError> {
        self.put_map_run_items(run).await
    }

    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRecord>, StoreError> {
        self.get_map_run_item(arn).await
    }

    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>, StoreError> {
        self.list_map_run_items(execution_arn).await
    }

    async fn put_resource(
        &self,
        kind: &str,
        key: &str,
        body: &Value,
        expect: crate::store::Expect,
    ) -> Result<Option<u64>, StoreError> {
        self.put_resource_item(kind, key, body, expect).await
    }

    async fn get_resource(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<crate::store::Resource>, StoreError> {
        self.get_resource_item(kind, key).await
    }

    async fn list_resources(&self, kind: &str) -> Result<Vec<crate::store::Resource>, StoreError> {
        self.list_resource_items(kind).await
    }

    async fn delete_resource(
        &self,
        kind: &str,
        key: &str,
        expect: crate::store::Expect,
    ) -> Result<bool, StoreError> {
        self.delete_resource_item(kind, key, expect).await
    }

    async fn put_activity(&self, activity: &ActivityRecord) -> Result<(), StoreError> {
        let what = format!("put activity {}", activity.arn);
        let mut item = key(&act_pk(&activity.arn), "DEF");
        item.insert("act".into(), s(to_json(activity, &what)?));
        self.put_plain(&what, item).await?;
        // Listed after it is stored, as state machines are.
        let mut entry = key(ACTIVITIES_PK, &activity.arn);
        entry.insert("name".into(), s(&activity.name));
        entry.insert("created".into(), n(activity.created));
        self.put_plain(&what, entry).await
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>, StoreError> {
        let what = format!("get activity {arn}");
        let Some(item) = self.get_consistent(&what, &act_pk(arn), "DEF").await? else {
            return Ok(None);
        };
        let what = format!("activity {arn}");
        parse_json(req_s(&item, "act", &what)?, &what).map(Some)
    }

    async fn list_activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        let what = "list activities";
        let keys = self
            .query_partition(what, ACTIVITIES_PK)
            .await?
            .iter()
            .map(|entry| Ok(key(&act_pk(req_s(entry, "sk", what)?), "DEF")))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // An entry whose DEF is gone (a delete that failed half-way) is skipped.
        let mut found = self
            .batch_get(what, keys)
            .await?
            .iter()
            .map(|item| {
                let pk = req_s(item, "pk", what)?;
                let item_what = format!("activity {}", pk.trim_start_matches("ACT#"));
                parse_json::<ActivityRecord>(req_s(item, "act", &item_what)?, &item_what)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        found.sort_by(|a, b| (a.created, &a.name, &a.arn).cmp(&(b.created, &b.name, &b.arn)));
        Ok(found)
    }

    async fn delete_activity(&self, arn: &str) -> Result<bool, StoreError> {
        let what = format!("delete activity {arn}");
        let old = self
            .call(&what, || {
                self.client()
                    .delete_item()
                    .table_name(self.table())
                    .set_key(Some(key(&act_pk(arn), "DEF")))
                    .return_values(ReturnValue::AllOld)
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?
            .attributes
            .filter(|item| !item.is_empty());
        self.call(&what, || {
            self.client()
                .delete_item()
                .table_name(self.table())
                .set_key(Some(key(ACTIVITIES_PK, arn)))
                .send()
        })
        .await
        .map_err(|e| backend(&what, &e))?;
        Ok(old.is_some())
    }

    async fn enqueue_activity_task(
        &self,
        activity_arn: &str,
        task: &ActivityTask,
    ) -> Result<(), StoreError> {
        check_activity_task_size(activity_arn, task)?;
        let what = format!("enqueue activity task {} of {activity_arn}", task.token);
        let pk = actq_pk(activity_arn);
        let marker = Put::builder()
            .table_name(self.table())
            .set_item(Some(key(&pk, &actq_token_sk(&task.token))))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .build()
            .map_err(|e| backend_msg(&what, e.to_string()))?;
        let mut item = key(&pk, &actq_task_sk(task));
        item.insert("task".into(), s(to_json(task, &what)?));
        let queued = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .build()
            .map_err(|e| backend_msg(&what, e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().put(marker).build(),
            TransactWriteItem::builder().put(queued).build(),
        ];
        let token = nonce();
        let result = self
            .call_retrying(&what, is_transient_transaction, || {
                self.client()
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(&token)
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                // The marker exists: a task with this token is queued already.
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons().first().and_then(|r| r.code())
                        == Some("ConditionalCheckFailed") =>
                {
                    Ok(())
                }
                _ => Err(backend(&what, &e)),
            },
        }
    }

    async fn take_activity_task(
        &self,
        activity_arn: &str,
    ) -> Result<Option<ActivityTask>, StoreError> {
        let what = format!("take activity task of {activity_arn}");
        let pk = actq_pk(activity_arn);
        loop {
            let out = self
                .call(&what, || {
                    self.client()
                        .query()
                        .table_name(self.table())
                        .consistent_read(true)
                        .key_condition_expression("#pk = :pk AND begins_with(#sk, :q)")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_names("#sk", "sk")
                        .expression_attribute_values(":pk", s(&pk))
                        .expression_attribute_values(":q", s("Q#"))
                        .limit(1)
                        .send()
                })
                .await
                .map_err(|e| backend(&what, &e))?;
            let Some(item) = out.items.unwrap_or_default().into_iter().next() else {
                return Ok(None);
            };
            let sk = req_s(&item, "sk", &what)?.to_string();
            let item_what = format!("activity task {sk} of {activity_arn}");
            let task: ActivityTask = parse_json(req_s(&item, "task", &item_what)?, &item_what)?;
            let queued = Delete::builder()
                .table_name(self.table())
                .set_key(Some(key(&pk, &sk)))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", "pk")
                .build()
                .map_err(|e| backend_msg(&what, e.to_string()))?;
            // The token's marker stays, marked taken: enqueuing the token again (the
            // execution invoking its task again after a heartbeat or a takeover) is a no-op.
            let mut taken = key(&pk, &actq_token_sk(&task.token));
            taken.insert("taken".into(), AttributeValue::Bool(true));
            let marker = Put::builder()
                .table_name(self.table())
                .set_item(Some(taken))
                .build()
                .map_err(|e| backend_msg(&what, e.to_string()))?;
            let items = vec![
                TransactWriteItem::builder().delete(queued).build(),
                TransactWriteItem::builder().put(marker).build(),
            ];
            // One token for the retries of this attempt: a retry of a deletion that succeeded
            // unseen succeeds again instead of looking like a lost race.
            let token = nonce();
            let result = self
                .call_retrying(&what, is_transient_transaction, || {
                    self.client()
                        .transact_write_items()
                        .set_transact_items(Some(items.clone()))
                        .client_request_token(&token)
                        .send()
                })
                .await;
            match result {
                Ok(_) => return Ok(Some(task)),
                Err(e) => match e.as_service_error() {
                    // Another taker deleted it first: look again.
                    Some(TransactWriteItemsError::TransactionCanceledException(c))
                        if c.cancellation_reasons().first().and_then(|r| r.code())
                            == Some("ConditionalCheckFailed") => {}
                    _ => return Err(backend(&what, &e)),
                },
            }
        }
    }

    async fn list_executions(&self, machine_arn: &str) -> Result<Vec<ExecutionRecord>, StoreError> {
        let what = format!("list executions of {machine_arn}");
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .call(&what, || {
                    self.client()
                        .query()
                        .table_name(self.table())
                        .index_name(EXECUTIONS_INDEX)
                        .key_condition_expression("#gpk = :machine")
                        .expression_attribute_names("#gpk", "gsi2pk")
                        .expression_attribute_values(":machine", s(sm_pk(machine_arn)))
                        .scan_index_forward(false)
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await
                .map_err(|e| backend(&what, &e))?;
            for item in out.items.unwrap_or_default() {
                let pk = req_s(&item, "pk", &what)?;
                found.push(decode_summary(
                    &item,
                    &format!("execution {}", pk.trim_start_matches("EX#")),
                )?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(found),
            }
        }
    }

    async fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError> {
        let what = format!("request stop of {arn}");
        let mut expr = Expr::default();
        expr.set_if_missing("stop_req", s(to_json(request, &what)?));
        place_due(&mut expr, arn, Status::Running, Some(request.time));
        expr.check("status", "=", s(Status::Running.as_str()));
        let meta = match self
            .update_meta(&what, arn, &expr, Some(ReturnValue::AllNew))
            .await?
        {
            Ok(meta) => meta.unwrap_or_default(),
            Err(Failed::Missing) => return Err(StoreError::NotFound(arn.to_string())),
            Err(_) => return Ok(false),
        };
        // Close the next slot, so the lease holder's next commit (it goes on driving without
        // reading META) fails and it applies the stop. Should this fail, the stop still comes
        // at its next commit that updates META.
        let closed = match self.latest_log(arn).await {
            Ok(latest) => self
                .mark_next_slot(arn, &meta, latest, MARK_STOP, None)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = closed {
            tracing::warn!(table = %self.table(), execution = arn, error = %e, "dynamodb: closing the next log slot for a stop failed");
        }
        Ok(true)
    }

    async fn reopen(
        &self,
        arn: &str,
        expected_version: u64,
        redrive: &Redrives,
        now: i64,
    ) -> Result<bool, StoreError> {
        let what = format!("reopen {arn} for a redrive");
        let mut expr = Expr::default();
        expr.set("status", s(Status::Running.as_str()));
        expr.set("version", n(expected_version + 1));
        expr.set("redrive", s(to_json(redrive, &what)?));
        expr.remove("stop_req");
        expr.remove("stop_time");
        expr.remove("lease_owner");
        expr.remove("lease_expires");
        place_due(&mut expr, arn, Status::Running, Some(now));
        expr.check("version", "=", n(expected_version));
        expr.check("status", "<>", s(Status::Running.as_str()));
        match self.update_meta(&what, arn, &expr, None).await? {
            Ok(_) => Ok(true),
            Err(Failed::Missing) => Err(StoreError::NotFound(arn.to_string())),
            Err(_) => Ok(false),
        }
    }

    async fn deliver(&self, arn: &str, message: &InboxMessage) -> Result<bool, StoreError> {
        let what = format!("deliver a message to {arn}");
        if inbox_message_too_large(message) {
            return Ok(false);
        }
        let json = to_json(message, &what)?;
        let prefix = format!("INBOX#{}#", nonce());
        let placed = place("m", json, INBOX_INLINE_MAX, &ex_pk(arn), prefix);
        let chunk_keys = Self::keys_of(&placed.chunks);
        self.put_chunks(&what, placed.chunks).await?;
        let entry = AttributeValue::M(placed.attrs.into_iter().collect());
        let mut expr = Expr::default();
        let (inbox, appended) = expr.name_value("inbox", AttributeValue::L(vec![entry]));
        let empty = expr.value(AttributeValue::L(Vec::new()));
        expr.set.push(format!(
            "{inbox} = list_append(if_not_exists({inbox}, {empty}), {appended})"
        ));
        place_due(&mut expr, arn, Status::Running, Some(message.time));
        expr.check("status", "=", s(Status::Running.as_str()));
        let max = expr.value(n(INBOX_MAX_MESSAGES));
        expr.check_raw(format!(
            "(attribute_not_exists({inbox}) OR size({inbox}) < {max})"
        ));
        let result = match self.update_meta(&what, arn, &expr, None).await? {
            Ok(_) => return Ok(true),
            Err(Failed::Missing) => Err(StoreError::NotFound(arn.to_string())),
            Err(_) => Ok(false),
        };
        self.delete_quietly(&format!("delete unused chunks of {what}"), chunk_keys)
            .await;
        result
    }

    async fn create_execution(&self, record: &ExecutionRecord) -> Result<Created, StoreError> {
        let arn = record.info.arn.as_str();
        let pk = ex_pk(arn);
        let what = format!("create execution {arn}");
        let cid = nonce();
        let rec = to_json(
            &RecOut {
                info: &record.info,
                input: &record.input,
                input_text: record.input_text.as_deref(),
                output: record.output.as_ref(),
                error: record.error.as_ref(),
                stop_time: record.stop_time,
            },
            &what,
        )?;
        let rec = place("rec", rec, REC_INLINE_MAX, &pk, format!("REC#{cid}#"));
        let mut item = key(&pk, "META");
        item.extend(rec.attrs);
        item.insert("version".into(), n(record.version));
        item.insert("last_event_id".into(), n(record.last_event_id));
        item.insert("status".into(), s(record.status.as_str()));
        item.insert("cid".into(), s(&cid));
        item.insert("info".into(), s(to_json(&record.info, &what)?));
        item.extend(execution_index_keys(&record.info));
        if let Some(time) = record.stop_time {
            item.insert("stop_time".into(), n(time));
        }
        if let Some(request) = &record.stop_request {
            item.insert("stop_req".into(), s(to_json(request, &what)?));
        }
        if let Some(lease) = &record.lease {
            item.insert("lease_owner".into(), s(&lease.owner));
            item.insert("lease_expires".into(), n(lease.expires));
        }
        let queue = record.info.origin.queue.as_ref();
        if let Some(queue) = queue {
            self.register_queue(queue).await?;
            item.insert("qpk".into(), s(queues::queue_partition(queue)));
        }
        if let Some(due) = record.due.filter(|_| record.status == Status::Running) {
            item.insert("due".into(), n(due));
            let partition = match queue {
                Some(queue) => queues::queue_partition(queue),
                None => format!("DUE#{}", due_shard(arn)),
            };
            item.insert("gsi1pk".into(), s(partition));
            item.insert("gsi1sk".into(), s(time_sort_key(due)));
        }
        let mut chunks = rec.chunks;
        if let Some(snapshot) = &record.snapshot {
            let room = META_MAX.saturating_sub(item_size(&item));
            let json = to_json(snapshot, &what)?;
            let placed = place(
                "snap",
                json,
                room,
                &pk,
                format!("SNAP#{:020}#{cid}#", record.version),
            );
            item.extend(placed.attrs);
            chunks.extend(placed.chunks);
        }
        let chunk_keys = Self::keys_of(&chunks);
        self.put_chunks(&what, chunks).await?;
        let result = self
            .call(&what, || {
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", "pk")
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
            })
            .await;
        let old = match result {
            Ok(_) => return Ok(Created::New),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => {
                    c.item().filter(|i| !i.is_empty()).cloned()
                }
                _ => return Err(backend(&what, &e)),
            },
        };
        let old = match old {
            Some(old) => old,
            None => match self.meta_after_failure(arn, Failed::Unknown).await? {
                Some(old) => old,
                // Deleted in between: nothing in this store deletes executions.
                None => return Err(backend_msg(&what, "the execution vanished")),
            },
        };
        // An earlier attempt of this very call succeeded unseen.
        if get_s(&old, "cid", &what)? == Some(cid.as_str()) {
            return Ok(Created::New);
        }
        self.delete_quietly(&format!("delete unused chunks of {what}"), chunk_keys)
            .await;
        let existing = Box::pin(self.read_execution(arn))
            .await?
            .ok_or_else(|| backend_msg(&what, "the execution vanished"))?;
        Ok(Created::Existing(Box::new(existing)))
    }

    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        // Boxed: the reads and the decoding make a large future.
        Box::pin(self.read_execution(arn)).await
    }

    /// Commits a step. A message delivered after the writer read the inbox must keep the
    /// execution due (the delivery made it due; a commit that parks would undo that): the
    /// commit first requires the inbox to hold only what the writer read, and when that alone
    /// failed it, commits again due at the first unread message.
    async fn commit(&self, commit: Commit<'_>) -> Result<u64, StoreError> {
        match self.commit_once(commit, true).await {
            Err(StoreError::Conflict { .. }) => match self.unread_message_time(&commit).await? {
                Some(time) => {
                    let due = Some(commit.due.map_or(time, |d| d.min(time)));
                    self.commit_once(Commit { due, ..commit }, false).await
                }
                None => Err(StoreError::Conflict {
                    arn: commit.arn.to_string(),
                    expected: commit.expected_version,
                }),
            },
            other => other,
        }
    }

    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.history_range(arn, 1, u64::MAX).await
    }

    async fn history_range(
        &self,
        arn: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        self.read_history_range(arn, from, to).await
    }

    async fn acquire(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        let what = format!("acquire execution {arn} for {owner}");
        let mut expr = Expr::default();
        expr.set("lease_owner", s(owner));
        expr.set("lease_expires", n(now.saturating_add(lease_ms)));
        expr.check("status", "=", s(Status::Running.as_str()));
        let (o, v) = (expr.name("lease_owner"), expr.value(s(owner)));
        let (e, t) = (expr.name("lease_expires"), expr.value(n(now)));
        expr.check_raw(format!(
            "(attribute_not_exists({o}) OR {o} = {v} OR {e} < {t})"
        ));
        match self
            .update_meta(&what, arn, &expr, Some(ReturnValue::AllNew))
            .await?
        {
            Ok(Some(item)) => {
                // Hold the next slot: a writer whose lease lapsed meets the marker there. An
                // execution never committed has no log to read.
                let committed =
                    get_n::<u64>(&item, "version", &what)? > Some(0) || item.contains_key("lv");
                let latest = match committed {
                    true => self.latest_log(arn).await?,
                    false => None,
                };
                let (_, latest) = self
                    .mark_next_slot(arn, &item, latest, MARK_LEASE, Some(owner))
                    .await?;
                let record = self.decode_meta(arn, &item, latest.as_ref()).await?;
                self.set_known(
                    arn,
                    Some(Known {
                        head: Head {
                            version: record.version,
                            last_event_id: record.last_event_id,
                        },
                        owner: Some(owner.to_string()),
                    }),
                );
                Ok(Some(record))
            }
            Ok(None) => Err(corrupt(arn, "acquire returned no item")),
            Err(Failed::Missing) => Err(StoreError::NotFound(arn.to_string())),
            Err(_) => Ok(None),
        }
    }

    async fn renew(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let what = format!("renew lease of {arn} for {owner}");
        let mut expr = Expr::default();
        expr.set("lease_expires", n(now.saturating_add(lease_ms)));
        expr.check("lease_owner", "=", s(owner));
        match self.update_meta(&what, arn, &expr, None).await? {
            Ok(_) => Ok(true),
            Err(Failed::Missing) => Err(StoreError::NotFound(arn.to_string())),
            Err(_) => Ok(false),
        }
    }

    async fn release(&self, arn: &str, owner: &str) -> Result<(), StoreError> {
        let what = format!("release lease of {arn} for {owner}");
        let mut expr = Expr::default();
        expr.remove("lease_owner");
        expr.remove("lease_expires");
        expr.check("lease_owner", "=", s(owner));
        if self
            .known(arn)
            .is_some_and(|k| k.owner.as_deref() == Some(owner))
        {
            self.set_known(arn, None);
        }
        // Not held (or no such execution): nothing to do.
        let _ = self.update_meta(&what, arn, &expr, None).await?;
        Ok(())
    }

    async fn due_executions(&self, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.due_ordered(now, limit, crate::store::Scheduling::Fifo)
            .await
    }

    async fn due_queue(
        &self,
        now: i64,
        limit: usize,
        scheduling: crate::store::Scheduling,
    ) -> Result<Vec<String>, StoreError> {
        self.due_ordered(now, limit, scheduling).await
    }

    async fn count_parked(&self, now: i64) -> Result<u64, StoreError> {
        self.count_parked_in_partitions(now).await
    }
}

impl DynamoStore {
    /// One attempt at a commit (see [`Store::commit`]): its log item into the slot after the
    /// version it follows, alone when the lease holder that acquired the execution through
    /// this store goes on driving it (status, due time and inbox unchanged), else in one
    /// transaction with META's update.
    async fn commit_once(&self, commit: Commit<'_>, guard_inbox: bool) -> Result<u64, StoreError> {
        let arn = commit.arn;
        let version = commit.expected_version + 1;
        let what = format!("commit version {version} of {arn}");
        let snap = commit.snapshot;
        let known = self.known(arn);
        let head = match known
            .as_ref()
            .map(|k| k.head)
            .filter(|h| h.version == commit.expected_version)
        {
            Some(head) => head,
            None => match self.read_head(arn).await? {
                Some((head, _, _)) => head,
                None => return Err(StoreError::NotFound(arn.to_string())),
            },
        };
        if head.version != commit.expected_version {
            self.set_known(arn, None);
            return Err(StoreError::Conflict {
                arn: arn.to_string(),
                expected: commit.expected_version,
            });
        }
        if let Some(first) = commit.events.first() {
            if first.id != head.last_event_id + 1 {
                return Err(corrupt(
                    arn,
                    format!(
                        "events must follow event {}, got {}",
                        head.last_event_id, first.id
                    ),
                ));
            }
        }
        let last_event_id = commit.events.last().map_or(head.last_event_id, |e| e.id);
        let cid = nonce();
        let log = log_item(&commit, head.next_slot(), version, last_event_id, &cid)?;
        let chunk_keys = Self::keys_of(&log.chunks);
        self.put_chunks(&what, log.chunks).await?;
        let owner = known.and_then(|k| k.owner);
        let alone = commit.due_now
            && snap.status == Status::Running
            && commit.consumed_inbox == 0
            && owner.as_deref() == Some(commit.owner);
        let result = if alone {
            self.put_log(&what, &commit, log.item, &cid).await
        } else {
            self.put_log_with_meta(&what, &commit, log.item, &cid, last_event_id, guard_inbox)
                .await
        };
        match &result {
            Ok(_) if snap.status == Status::Running => self.set_known(
                arn,
                Some(Known {
                    head: Head {
                        version,
                        last_event_id,
                    },
                    owner: owner.filter(|o| o == commit.owner),
                }),
            ),
            Ok(_) => self.set_known(arn, None),
            Err(_) => {
                self.set_known(arn, None);
                self.delete_quietly(&format!("delete unused chunks of {what}"), chunk_keys)
                    .await;
            }
        }
        result
    }

    /// The execution as one version: META and the log head are read at once, so a commit
    /// that updates both can land between the two reads; such a torn pair (a log head older
    /// than META's own commit, or a finished log head beside a running META) is read again.
    async fn read_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let what = format!("get execution {arn}");
        let pk = ex_pk(arn);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (meta, latest) = tokio::join!(
                self.get_consistent(&what, &pk, "META"),
                self.latest_log(arn)
            );
            let (Some(meta), latest) = (meta?, latest?) else {
                return Ok(None);
            };
            let record = Box::pin(self.decode_meta(arn, &meta, latest.as_ref())).await?;
            let meta_version: u64 = req_n(&meta, "version", &what)?;
            let logged: u64 = get_n(&meta, "lv", &what)?.unwrap_or(0);
            let log_version: u64 = match &latest {
                Some(item) => req_n(item, "v", &what)?,
                None => 0,
            };
            let torn = (log_version < logged)
                || (log_version > meta_version
                    && record.status == Status::Running
                    && record
                        .snapshot
                        .as_ref()
                        .is_some_and(|s| s.status != Status::Running));
            if !torn || attempt >= 5 {
                return Ok(Some(record));
            }
        }
    }

    /// When a commit of `commit`'s writer failed, the time of the first message it did not
    /// read, if that (and not a lost lease, a newer version or a stop) is why.
    async fn unread_message_time(&self, commit: &Commit<'_>) -> Result<Option<i64>, StoreError> {
        let Some(record) = self.get_execution(commit.arn).await? else {
            return Ok(None);
        };
        let current = record.version == commit.expected_version
            && record.status == Status::Running
            && record.stop_request.is_none()
            && record
                .lease
                .as_ref()
                .is_some_and(|l| l.owner == commit.owner);
        if !current {
            return Ok(None);
        }
        Ok(record
            .inbox
            .iter()
            .skip(commit.consumed_inbox)
            .map(|m| m.time)
            .min())
    }
}
