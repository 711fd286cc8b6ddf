//! Commits: a step's events and snapshot written under the lease and version conditions, in
//! META's tail, one transaction or several.

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
    /// An execution record from its META item.
    pub(super) async fn decode_meta(
        &self,
        arn: &str,
        item: &Item,
    ) -> Result<ExecutionRecord, StoreError> {
        let what = format!("execution {arn}");
        let what = what.as_str();
        let pk = ex_pk(arn);
        let version = req_n(item, "version", what)?;
        let last_event_id = req_n(item, "last_event_id", what)?;
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
        let snapshot: Option<Snapshot> = match self.read_doc(item, &pk, "snap", what).await? {
            Some(json) => Some(parse_json(&json, what)?),
            None => None,
        };
        if item.contains_key("snap_ref") && status == Status::Running {
            self.mark_chunked(arn, true);
        }
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
            version,
            last_event_id,
            snapshot,
            due,
            lease,
            stop_request,
            inbox,
            redrive: decode_redrive(item, what)?,
        })
    }

    pub(super) fn mark_chunked(&self, arn: &str, chunked: bool) -> bool {
        let mut set = self.inner.chunked.lock().unwrap_or_else(|e| e.into_inner());
        if chunked {
            !set.insert(arn.to_string())
        } else {
            set.remove(arn)
        }
    }

    /// SETs (or REMOVEs) the snapshot attributes of META.
    pub(super) fn place_snapshot(
        &self,
        expr: &mut Expr,
        arn: &str,
        version: u64,
        snapshot: &Snapshot,
        room: usize,
        nonce: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let json = to_json(snapshot, &format!("snapshot of {arn}"))?;
        let placed = place(
            "snap",
            json,
            room,
            &ex_pk(arn),
            format!("SNAP#{version:020}#{nonce}#"),
        );
        let inline = placed.chunks.is_empty();
        for (name, value) in placed.attrs {
            expr.set(&name, value);
        }
        if inline {
            expr.remove("snap_ref");
            expr.remove("snap_chunks");
        } else {
            expr.remove("snap");
        }
        Ok(placed.chunks)
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

    /// Turns a failed commit condition into the error (or, when this very commit had already
    /// succeeded on an attempt whose answer was lost, into the new version).
    pub(super) async fn commit_failed(
        &self,
        commit: &Commit<'_>,
        cid: &str,
        failed: Failed,
    ) -> Result<u64, StoreError> {
        let Some(old) = self.meta_after_failure(commit.arn, failed).await? else {
            return Err(StoreError::NotFound(commit.arn.to_string()));
        };
        let what = format!("execution {}", commit.arn);
        if get_s(&old, "cid", &what)? == Some(cid) {
            return Ok(commit.expected_version + 1);
        }
        let version: u64 = req_n(&old, "version", &what)?;
        let owner = get_s(&old, "lease_owner", &what)?;
        let committed: u64 = req_n(&old, "last_event_id", &what)?;
        if version == commit.expected_version && owner == Some(commit.owner) {
            if let Some(first) = commit.events.first() {
                if first.id != committed.saturating_add(1) {
                    return Err(corrupt(
                        commit.arn,
                        format!("events must follow event {committed}, got {}", first.id),
                    ));
                }
            }
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

    /// Puts items in one transaction with `first` (a META update or check); `Ok(Err(failed))`
    /// when `first`'s condition failed.
    pub(super) async fn transact(
        &self,
        what: &str,
        first: TransactWriteItem,
        puts: Vec<Item>,
        token: &str,
    ) -> Result<Result<(), Failed>, StoreError> {
        let mut items = vec![first];
        for item in puts {
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .build()
                .map_err(|e| backend_msg(what, e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let result = self
            .call_retrying(what, is_transient_transaction, || {
                self.client()
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(token)
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    let reasons = c.cancellation_reasons();
                    match reasons.first() {
                        Some(r) if r.code() == Some("ConditionalCheckFailed") => {
                            Ok(Err(match r.item() {
                                Some(item) if !item.is_empty() => Failed::Found(item.clone()),
                                // Without the old item we cannot tell a missing execution.
                                _ => Failed::Unknown,
                            }))
                        }
                        _ => Err(backend(what, &e)),
                    }
                }
                _ => Err(backend(what, &e)),
            },
        }
    }

    /// Commits small events into META's tail: one conditional UpdateItem. When the tail is full,
    /// its events (committed, so any writer copies the same content) are first written to
    /// their own items, and the tail starts again with this commit's events.
    pub(super) async fn commit_in_tail(
        &self,
        commit: &Commit<'_>,
        cid: &str,
        base: Expr,
        tail: Vec<(u64, String)>,
        size: usize,
    ) -> Result<u64, StoreError> {
        let arn = commit.arn;
        let version = commit.expected_version + 1;
        let what = format!("commit version {version} of {arn}");
        let limit = TAIL_MAX - size;
        let mut append = base.clone();
        for (id, json) in &tail {
            append.set_in("tail", &format!("e{id}"), s(json));
        }
        append.add("tail_bytes", n(size));
        append.check("tail_bytes", "<=", n(limit));
        let old = match self.update_meta(&what, arn, &append, None).await? {
            Ok(_) => return Ok(version),
            Err(Failed::Found(old)) => old,
            Err(failed) => return self.commit_failed(commit, cid, failed).await,
        };
        let meta = format!("execution {arn}");
        let current = get_n::<u64>(&old, "version", &meta)? == Some(commit.expected_version)
            && get_s(&old, "lease_owner", &meta)? == Some(commit.owner)
            && commit.events.first().map(|e| e.id.saturating_sub(1))
                == get_n::<u64>(&old, "last_event_id", &meta)?
            && get_s(&old, "cid", &meta)? != Some(cid)
            && !stop_blocks(&old, commit, &meta)?;
        let full = get_n::<usize>(&old, "tail_bytes", &meta)?.is_none_or(|b| b > limit);
        if !(current && full) {
            return self.commit_failed(commit, cid, Failed::Found(old)).await;
        }
        let flushed = tail_events(&old, &meta)?
            .into_iter()
            .map(|(id, json)| {
                let mut item = key(&ex_pk(arn), &ev_sk(id));
                item.insert("ev".into(), s(json));
                item
            })
            .collect();
        self.put_chunks(&format!("{what}: copy the tail"), flushed)
            .await?;
        let mut replace = base;
        replace.set(
            "tail",
            AttributeValue::M(
                tail.into_iter()
                    .map(|(id, json)| (format!("e{id}"), s(json)))
                    .collect(),
            ),
        );
        replace.set("tail_bytes", n(size));
        match self.update_meta(&what, arn, &replace, None).await? {
            Ok(_) => Ok(version),
            Err(failed) => self.commit_failed(commit, cid, failed).await,
        }
    }

    /// Commits whose events fit in no single transaction: claim, fenced event writes, update.
    pub(super) async fn commit_claimed(
        &self,
        commit: &Commit<'_>,
        cid: &str,
        mut expr: Expr,
        mut events: Vec<Item>,
        guard_inbox: bool,
    ) -> Result<u64, StoreError> {
        let arn = commit.arn;
        // The items carry the claim's nonce, which the final update lists in `claims`: a
        // reader that lands on an item of a claim that never committed (a leftover inside a
        // committed block) knows to pass it over.
        for item in &mut events {
            item.insert("cid".into(), s(cid));
        }
        let what = format!("commit version {} of {arn}", commit.expected_version + 1);
        let mut claim = Expr::default();
        commit_condition(&mut claim, commit, guard_inbox);
        claim.set("claim", s(cid));
        if let Err(failed) = self.update_meta(&what, arn, &claim, None).await? {
            return self.commit_failed(commit, cid, failed).await;
        }

        let check = ConditionCheck::builder()
            .table_name(self.table())
            .set_key(Some(key(&ex_pk(arn), "META")))
            .condition_expression("#version = :version AND #claim = :claim")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_values(":version", n(commit.expected_version))
            .expression_attribute_values(":claim", s(cid))
            .build()
            .map_err(|e| backend_msg(&what, e.to_string()))?;
        let mut groups: Vec<Vec<Item>> = Vec::new();
        let mut bytes = 0;
        for item in events {
            let size = item_size(&item);
            match groups.last_mut() {
                Some(g) if g.len() < TXN_MAX_PUTS && bytes + size <= TXN_MAX_BYTES => {
                    bytes += size;
                    g.push(item);
                }
                _ => {
                    bytes = size;
                    groups.push(vec![item]);
                }
            }
        }
        let mut groups = groups.into_iter().enumerate();
        let mut running = JoinSet::new();
        let spawn = |running: &mut JoinSet<_>, (i, group): (usize, Vec<Item>)| {
            let store = self.clone();
            let what = format!("{what}: events, part {}", i + 1);
            let first = TransactWriteItem::builder()
                .condition_check(check.clone())
                .build();
            let token = format!("{}{i:04}", &cid[..cid.len().min(28)]);
            running.spawn(
                async move { store.transact(&what, first, group, &token).await }
                    .instrument(tracing::Span::current()),
            );
        };
        for group in groups.by_ref().take(CONCURRENCY) {
            spawn(&mut running, group);
        }
        while let Some(done) = running.join_next().await {
            let done =
                done.map_err(|e| backend_msg(&what, format!("event write task failed: {e}")))??;
            if done.is_err() {
                running.abort_all();
                return Err(StoreError::Conflict {
                    arn: arn.to_string(),
                    expected: commit.expected_version,
                });
            }
            if let Some(group) = groups.next() {
                spawn(&mut running, group);
            }
        }

        expr.remove("claim");
        expr.check("claim", "=", s(cid));
        expr.append_to_list("claims", AttributeValue::L(vec![s(cid)]));
        match self.update_meta(&what, arn, &expr, None).await? {
            Ok(_) => Ok(commit.expected_version + 1),
            Err(failed) => self.commit_failed(commit, cid, failed).await,
        }
    }

    /// Deletes the snapshot chunks of versions before `version`.
    pub(super) async fn delete_old_snapshots(&self, arn: &str, version: u64) {
        let what = format!("delete old snapshot chunks of {arn}");
        let to = format!("SNAP#{:020}#~", version.saturating_sub(1));
        match self
            .query_range(&what, &ex_pk(arn), "SNAP#", &to, true)
            .await
        {
            Ok(keys) => self.delete_quietly(&what, keys).await,
            Err(e) => tracing::warn!(table = %self.table(), error = %e, "dynamodb: {what} failed"),
        }
    }
}

/// The condition of every write of a commit on META: the version read, the lease, the events
/// following the committed ones, and no pending stop request unless the commit applies it.
/// The conditions of a commit; with `guard_inbox`, also that the inbox holds no message the
/// writer did not read (see [`DynamoStore::commit`]).
pub(super) fn commit_condition(expr: &mut Expr, commit: &Commit<'_>, guard_inbox: bool) {
    expr.check("version", "=", n(commit.expected_version));
    expr.check("lease_owner", "=", s(commit.owner));
    if let Some(first) = commit.events.first() {
        expr.check("last_event_id", "=", n(first.id.saturating_sub(1)));
    }
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

/// The items of a commit's events (as JSON, in order): consecutive events packed into blocks
/// of up to 350,000 bytes (`EV#<first id>` with `evs`, a JSON array, and `last`, its last id),
/// an event too large for a block alone in its item with its chunks (returned to be written
/// first).
pub(super) fn event_items(
    arn: &str,
    events: Vec<(u64, String)>,
    nonce: &str,
) -> (Vec<Item>, Vec<Item>) {
    let pk = ex_pk(arn);
    let mut items = Vec::new();
    let mut chunks = Vec::new();
    let mut block: Vec<(u64, String)> = Vec::new();
    let mut block_size = 0;
    let flush = |block: &mut Vec<(u64, String)>, items: &mut Vec<Item>| {
        let (Some((first, _)), Some((last, _))) = (block.first(), block.last()) else {
            return;
        };
        let mut item = key(&pk, &ev_sk(*first));
        item.insert("last".into(), n(*last));
        let jsons: Vec<String> = block.drain(..).map(|(_, json)| json).collect();
        let block = format!("[{}]", jsons.join(","));
        item.insert(
            "evz".into(),
            AttributeValue::B(Blob::new(compress(block.as_bytes()))),
        );
        items.push(item);
    };
    for (id, json) in events {
        if json.len() + 2 > INLINE_MAX {
            flush(&mut block, &mut items);
            block_size = 0;
            let placed = place(
                "ev",
                json,
                INLINE_MAX,
                &pk,
                format!("EVC#{id:020}#{nonce}#"),
            );
            let mut item = key(&pk, &ev_sk(id));
            item.extend(placed.attrs);
            items.push(item);
            chunks.extend(placed.chunks);
            continue;
        }
        if block_size + json.len() + 2 > INLINE_MAX {
            flush(&mut block, &mut items);
            block_size = 0;
        }
        block_size += json.len() + 1;
        block.push((id, json));
    }
    flush(&mut block, &mut items);
    (items, chunks)
}

/// The events in META's tail, by id.
pub(super) fn tail_events(meta: &Item, what: &str) -> Result<HashMap<u64, String>, StoreError> {
    let tail = match meta.get("tail") {
        None => return Ok(HashMap::new()),
        Some(AttributeValue::M(tail)) => tail,
        Some(_) => return Err(corrupt(what, "attribute tail is not a map")),
    };
    tail.iter()
        .map(|(k, v)| {
            let id = k
                .strip_prefix('e')
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| corrupt(what, format!("tail entry {k} names no event")))?;
            match v {
                AttributeValue::S(json) => Ok((id, json.clone())),
                _ => Err(corrupt(what, format!("tail entry {k} is not a string"))),
            }
        })
        .collect()
}
