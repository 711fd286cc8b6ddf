//! Commits: a version's events and snapshot put into its log slot, alone while the lease
//! holder drives on, or in one transaction with META's update when the execution's status,
//! due time or inbox change.

use super::*;

/// What a failed conditional write on META found there.
pub(super) enum Failed {
    /// The execution does not exist.
    Missing,
    /// The item as it was.
    Found(Item),
    /// DynamoDB did not say.
    Unknown,
}

impl DynamoStore {
    /// An execution record from its META item and its newest committed log item.
    pub(super) async fn decode_meta(
        &self,
        arn: &str,
        item: &Item,
        latest: Option<&Item>,
    ) -> Result<ExecutionRecord, StoreError> {
        let what = format!("execution {arn}");
        let what = what.as_str();
        let pk = ex_pk(arn);
        let status = parse_status(req_s(item, "status", what)?, what)?;
        let lease = decode_lease(item, what)?;
        let stop_request = decode_stop_request(item, what)?;
        let due = get_n(item, "due", what)?;
        let mut inbox = Vec::new();
        match item.get("inbox") {
            None => {}
            Some(AttributeValue::L(entries)) => {
                for entry in entries {
                    let AttributeValue::M(entry) = entry else {
                        return Err(corrupt(what, "an inbox entry is not a map"));
                    };
                    let json = self
                        .read_doc(entry, &pk, "m", what)
                        .await?
                        .ok_or_else(|| corrupt(what, "an inbox entry has no message"))?;
                    inbox.push(parse_json(&json, what)?);
                }
            }
            Some(_) => return Err(corrupt(what, "attribute inbox is not a list")),
        }
        let rec_json = self
            .read_doc(item, &pk, "rec", what)
            .await?
            .ok_or_else(|| corrupt(what, "attribute rec is missing"))?;
        let rec: RecIn = parse_json(&rec_json, what)?;
        let head = Head::of(item, latest, what)?;
        let snapshot: Option<Snapshot> = match latest {
            Some(latest) => Some(self.log_snapshot(latest, what).await?),
            None => match self.read_doc(item, &pk, "snap", what).await? {
                Some(json) => Some(parse_json(&json, what)?),
                None => None,
            },
        };
        let (output, error, stop_time) = match &snapshot {
            Some(snap) => (snap.output.clone(), snap.error.clone(), snap.stop_time),
            None => (rec.output, rec.error, rec.stop_time),
        };
        Ok(ExecutionRecord {
            info: rec.info,
            input: rec.input,
            input_text: rec.input_text,
            status,
            output,
            error,
            stop_time,
            version: head.version,
            last_event_id: head.last_event_id,
            snapshot,
            due,
            lease,
            stop_request,
            inbox,
            redrive: decode_redrive(item, what)?,
        })
    }

    /// Reads what a failed conditional write on META found, when DynamoDB did not return it.
    pub(super) async fn meta_after_failure(
        &self,
        arn: &str,
        failed: Failed,
    ) -> Result<Option<Item>, StoreError> {
        match failed {
            Failed::Missing => Ok(None),
            Failed::Found(item) => Ok(Some(item)),
            Failed::Unknown => {
                let what = format!("get execution {arn}");
                let out = self
                    .call(&what, || {
                        self.client()
                            .get_item()
                            .table_name(self.table())
                            .set_key(Some(key(&ex_pk(arn), "META")))
                            .consistent_read(true)
                            .send()
                    })
                    .await
                    .map_err(|e| backend(&what, &e))?;
                Ok(out.item)
            }
        }
    }

    /// Turns a failed META condition of a commit into the error (or, when this very commit
    /// had already succeeded on an attempt whose answer was lost, into the new version).
    pub(super) async fn commit_failed(
        &self,
        commit: &Commit<'_>,
        cid: &str,
        failed: Failed,
    ) -> Result<u64, StoreError> {
        let Some(old) = self.meta_after_failure(commit.arn, failed).await? else {
            return Err(StoreError::NotFound(commit.arn.to_string()));
        };
        if get_s(&old, "cid", &format!("execution {}", commit.arn))? == Some(cid) {
            return Ok(commit.expected_version + 1);
        }
        Err(StoreError::Conflict {
            arn: commit.arn.to_string(),
            expected: commit.expected_version,
        })
    }

    /// One conditional UpdateItem on META; `Ok(Err(failed))` when the condition failed.
    pub(super) async fn update_meta(
        &self,
        what: &str,
        arn: &str,
        expr: &Expr,
        return_values: Option<ReturnValue>,
    ) -> Result<Result<Option<Item>, Failed>, StoreError> {
        let result = self
            .call(what, || {
                self.client()
                    .update_item()
                    .table_name(self.table())
                    .set_key(Some(key(&ex_pk(arn), "META")))
                    .set_update_expression(expr.update_expression())
                    .set_condition_expression(expr.condition_expression())
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .set_return_values(return_values.clone())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
            })
            .await;
        match result {
            Ok(out) => Ok(Ok(out.attributes)),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(Err(match c.item() {
                        Some(item) if !item.is_empty() => Failed::Found(item.clone()),
                        _ => Failed::Missing,
                    }))
                }
                _ => Err(backend(what, &e)),
            },
        }
    }

    /// Writes `items` in one transaction; `Ok(Err((index, failed)))` when the condition of
    /// item `index` failed.
    pub(super) async fn transact(
        &self,
        what: &str,
        items: Vec<TransactWriteItem>,
        token: &str,
    ) -> Result<Result<(), (usize, Failed)>, StoreError> {
        let result = self
            .call_retrying(what, is_transient_transaction, || {
                self.client()
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(token)
                    .send()
            })
            .await;
        let e = match result {
            Ok(_) => return Ok(Ok(())),
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
        else {
            return Err(backend(what, &e));
        };
        let reasons = c.cancellation_reasons();
        let Some(i) = reasons
            .iter()
            .position(|r| r.code() == Some("ConditionalCheckFailed"))
        else {
            return Err(backend(what, &e));
        };
        Ok(Err((
            i,
            match reasons[i].item() {
                Some(item) if !item.is_empty() => Failed::Found(item.clone()),
                // Without the old item we cannot tell a missing execution.
                _ => Failed::Unknown,
            },
        )))
    }

    /// Puts a commit's log item into its slot alone (the lease holder going on driving); a
    /// taken slot is a conflict.
    pub(super) async fn put_log(
        &self,
        what: &str,
        commit: &Commit<'_>,
        item: Item,
        cid: &str,
    ) -> Result<u64, StoreError> {
        let expr = slot_condition(commit.owner, false);
        match self.put_if(what, &item, &expr).await? {
            Ok(()) => Ok(commit.expected_version + 1),
            Err(old) => slot_taken(commit, cid, old.as_ref()),
        }
    }

    /// Puts a commit's log item into its slot in one transaction with META's update (status,
    /// due time, inbox), under META's conditions (lease, inbox, stop request).
    pub(super) async fn put_log_with_meta(
        &self,
        what: &str,
        commit: &Commit<'_>,
        item: Item,
        cid: &str,
        last_event_id: u64,
        guard_inbox: bool,
    ) -> Result<u64, StoreError> {
        let arn = commit.arn;
        let snap = commit.snapshot;
        let version = commit.expected_version + 1;
        let mut expr = Expr::default();
        commit_condition(&mut expr, commit, guard_inbox);
        expr.set("version", n(version));
        // The version whose log item this update came with (a redrive's reopening has none).
        expr.set("lv", n(version));
        expr.set("last_event_id", n(last_event_id));
        expr.set("status", s(snap.status.as_str()));
        expr.set("cid", s(cid));
        match snap.stop_time {
            Some(time) => expr.set("stop_time", n(time)),
            None => expr.remove("stop_time"),
        }
        place_due(&mut expr, arn, snap.status, commit.due);
        // The consumed messages are the first ones: the slot guarantees the writer read the
        // latest version, delivery only appends, and the indexes of one REMOVE refer to the
        // list before the update.
        if commit.consumed_inbox > 0 {
            let inbox = expr.name("inbox");
            for i in 0..commit.consumed_inbox {
                expr.remove.push(format!("{inbox}[{i}]"));
            }
        }
        // A snapshot stored at the creation is superseded by the log's.
        for name in ["snap", "snap_ref", "snap_chunks"] {
            expr.remove(name);
        }
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(&ex_pk(arn), "META")))
            .set_update_expression(expr.update_expression())
            .set_condition_expression(expr.condition_expression())
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| backend_msg(what, e.to_string()))?;
        let slot = slot_condition(commit.owner, snap.status == Status::Aborted);
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .set_condition_expression(slot.condition_expression())
            .set_expression_attribute_names(slot.names())
            .set_expression_attribute_values(slot.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| backend_msg(what, e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact(what, items, cid).await? {
            Ok(()) => Ok(version),
            Err((0, failed)) => self.commit_failed(commit, cid, failed).await,
            Err((_, Failed::Found(old))) => slot_taken(commit, cid, Some(&old)),
            Err(_) => slot_taken(commit, cid, None),
        }
    }
}

/// A commit whose slot was taken: by its own earlier attempt (its nonce), else a conflict.
fn slot_taken(commit: &Commit<'_>, cid: &str, old: Option<&Item>) -> Result<u64, StoreError> {
    let ours = old
        .and_then(|o| o.get("cid"))
        .and_then(|c| c.as_s().ok())
        .is_some_and(|c| c == cid);
    if ours {
        return Ok(commit.expected_version + 1);
    }
    Err(StoreError::Conflict {
        arn: commit.arn.to_string(),
        expected: commit.expected_version,
    })
}

/// The conditions on META of a commit that updates it: the lease, and no pending stop request
/// unless the commit applies it; with `guard_inbox`, also that the inbox holds no message the
/// writer did not read (see [`DynamoStore::commit`]). The version is the slot's to check.
pub(super) fn commit_condition(expr: &mut Expr, commit: &Commit<'_>, guard_inbox: bool) {
    expr.check("lease_owner", "=", s(commit.owner));
    if guard_inbox {
        let inbox = expr.name("inbox");
        let consumed = expr.value(n(commit.consumed_inbox));
        if commit.consumed_inbox == 0 {
            expr.check_raw(format!(
                "(attribute_not_exists({inbox}) OR size({inbox}) = {consumed})"
            ));
        } else {
            expr.check_raw(format!("size({inbox}) = {consumed}"));
        }
    }
    // A pending stop request lets only the commit that applies it through.
    if commit.snapshot.status != Status::Aborted {
        let (stop, status) = (expr.name("stop_req"), expr.name("status"));
        let running = expr.value(s(Status::Running.as_str()));
        expr.check_raw(format!(
            "(attribute_not_exists({stop}) OR {status} <> {running})"
        ));
    }
}

/// SETs the due attributes and index keys of META, or REMOVEs them when not due.
pub(super) fn place_due(expr: &mut Expr, arn: &str, status: Status, due: Option<i64>) {
    match due.filter(|_| status == Status::Running) {
        Some(due) => {
            expr.set("due", n(due));
            // A queued execution's partition (`qpk`, set at its creation), else its shard.
            let (gpk, shard) = expr.name_value("gsi1pk", s(format!("DUE#{}", due_shard(arn))));
            let qpk = expr.name("qpk");
            expr.set
                .push(format!("{gpk} = if_not_exists({qpk}, {shard})"));
            expr.set("gsi1sk", s(time_sort_key(due)));
        }
        None => {
            expr.remove("due");
            expr.remove("gsi1pk");
            expr.remove("gsi1sk");
        }
    }
}
