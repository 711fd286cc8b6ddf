//! The execution log: one item per committed version, written once and never rewritten, and
//! the markers that hold a version's slot for a lease holder or close it for a stop request.
//!
//! The slot of version `v` is the sort key `L#<first event id>#<v>`, where the first event id
//! is one more than the last event id of version `v - 1`: whoever knows version `v - 1` (its
//! writer, a worker taking over, a stop request) names the same key, so a slot is taken once
//! and a stale writer's put meets the item that took it.

use super::*;

/// A slot held for the lease holder named in `owner`: only that writer's commit takes it.
pub(super) const MARK_LEASE: &str = "lease";
/// A slot closed by a stop request: only a commit that aborts the execution takes it.
pub(super) const MARK_STOP: &str = "stop";

/// The lowest and highest sort keys of the log.
const LOG_FIRST: &str = "L#";
const LOG_LAST: &str = "L#~";
/// Attempts at holding or closing the next slot while commits keep taking it.
const MARK_ATTEMPTS: usize = 20;
/// Executions whose head this store keeps in memory before it forgets them all.
const KNOWN_MAX: usize = 10_000;

/// The sort key of the slot of `version`, whose first event id is `first`.
pub(super) fn log_sk(first: u64, version: u64) -> String {
    format!("L#{first:020}#{version:020}")
}

/// The sort key after every slot whose first event id is at most `id`.
fn log_upto(id: u64) -> String {
    format!("L#{id:020}#~")
}

/// The committed version an execution's next commit follows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Head {
    pub(super) version: u64,
    pub(super) last_event_id: u64,
}

impl Head {
    /// The head from META and the newest committed log item: META carries the version of the
    /// last commit that changed it, or of a redrive's reopening, which adds no log item.
    pub(super) fn of(meta: &Item, latest: Option<&Item>, what: &str) -> Result<Head, StoreError> {
        let meta_head = Head {
            version: req_n(meta, "version", what)?,
            last_event_id: req_n(meta, "last_event_id", what)?,
        };
        let Some(latest) = latest else {
            return Ok(meta_head);
        };
        let log_head = Head {
            version: req_n(latest, "v", what)?,
            last_event_id: req_n(latest, "last", what)?,
        };
        Ok(if log_head.version >= meta_head.version {
            log_head
        } else {
            Head {
                version: meta_head.version,
                last_event_id: log_head.last_event_id.max(meta_head.last_event_id),
            }
        })
    }

    /// The slot of the next version.
    pub(super) fn next_slot(&self) -> String {
        log_sk(self.last_event_id + 1, self.version + 1)
    }
}

/// What this store instance knows of an execution: its head after the last commit it saw, and
/// the owner that acquired it through this instance. A commit goes on the log alone only for
/// that owner; everything else is checked against the table.
#[derive(Clone, Debug)]
pub(super) struct Known {
    pub(super) head: Head,
    pub(super) owner: Option<String>,
}

/// A commit's log item and the chunk items to write before it.
pub(super) struct LogItem {
    pub(super) item: Item,
    pub(super) chunks: Vec<Item>,
}

/// The log item of version `version` in slot `sk`: its events and the snapshot after them as
/// one deflated body (the events' JSON array, then the snapshot's JSON; `elen` is where the
/// snapshot starts), inline when it fits, else in chunks.
pub(super) fn log_item(
    commit: &Commit<'_>,
    sk: String,
    version: u64,
    last_event_id: u64,
    cid: &str,
) -> Result<LogItem, StoreError> {
    let (arn, events, snapshot) = (commit.arn, commit.events, commit.snapshot);
    let what = format!("commit version {version} of {arn}");
    let mut body = Vec::with_capacity(1024);
    body.push(b'[');
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        serde_json::to_writer(&mut body, event).map_err(|e| backend_msg(&what, e.to_string()))?;
    }
    body.push(b']');
    let elen = body.len();
    serde_json::to_writer(&mut body, snapshot).map_err(|e| backend_msg(&what, e.to_string()))?;
    let pk = ex_pk(arn);
    let mut item = key(&pk, &sk);
    item.insert("v".into(), n(version));
    item.insert("last".into(), n(last_event_id));
    item.insert("elen".into(), n(elen));
    item.insert("owner".into(), s(commit.owner));
    item.insert("cid".into(), s(cid));
    let placed = place_bytes(
        "body",
        compress(&body),
        INLINE_MAX,
        &pk,
        format!("BODY#{version:020}#{cid}#"),
    );
    item.extend(placed.attrs);
    Ok(LogItem {
        item,
        chunks: placed.chunks,
    })
}

/// The condition of a put into a slot: the slot is free, or held for `owner`, or (for a
/// commit that aborts) closed by a stop request.
pub(super) fn slot_condition(owner: &str, aborting: bool) -> Expr {
    let mut expr = Expr::default();
    let (pk, mark, who) = (expr.name("pk"), expr.name("mark"), expr.name("owner"));
    let (lease, me) = (expr.value(s(MARK_LEASE)), expr.value(s(owner)));
    let mut condition =
        format!("attribute_not_exists({pk}) OR ({mark} = {lease} AND {who} = {me})");
    if aborting {
        let stop = expr.value(s(MARK_STOP));
        condition.push_str(&format!(" OR {mark} = {stop}"));
    }
    expr.check_raw(condition);
    expr
}

/// True when `item` is a marker (not a committed version).
pub(super) fn is_marker(item: &Item) -> bool {
    item.contains_key("mark")
}

impl DynamoStore {
    /// The newest committed log item of `arn`, if any.
    pub(super) async fn latest_log(&self, arn: &str) -> Result<Option<Item>, StoreError> {
        let what = format!("read the log head of {arn}");
        let pk = ex_pk(arn);
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .log_descending(&what, &pk, LOG_LAST, 3, start.take(), false)
                .await?;
            if let Some(item) = out
                .items
                .unwrap_or_default()
                .into_iter()
                .find(|i| !is_marker(i))
            {
                return Ok(Some(item));
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(None),
            }
        }
    }

    /// The head of `arn` as the table has it, with META and the newest log item.
    pub(super) async fn read_head(
        &self,
        arn: &str,
    ) -> Result<Option<(Head, Item, Option<Item>)>, StoreError> {
        let what = format!("get execution {arn}");
        let Some(meta) = self.get_consistent(&what, &ex_pk(arn), "META").await? else {
            return Ok(None);
        };
        let latest = self.latest_log(arn).await?;
        let head = Head::of(&meta, latest.as_ref(), &what)?;
        Ok(Some((head, meta, latest)))
    }

    /// Puts marker `mark` into the slot after the head, re-reading the head while commits
    /// take the slot first. A lease marker replaces another lease marker but not a stop; a
    /// stop replaces any marker. Returns the head it marked after (or found closed by a stop)
    /// with the newest log item.
    pub(super) async fn mark_next_slot(
        &self,
        arn: &str,
        meta: &Item,
        mut latest: Option<Item>,
        mark: &str,
        owner: Option<&str>,
    ) -> Result<(Head, Option<Item>), StoreError> {
        let what = format!("mark the next log slot of {arn} ({mark})");
        for _ in 0..MARK_ATTEMPTS {
            let head = Head::of(meta, latest.as_ref(), &what)?;
            let mut item = key(&ex_pk(arn), &head.next_slot());
            item.insert("mark".into(), s(mark));
            if let Some(owner) = owner {
                item.insert("owner".into(), s(owner));
            }
            let mut expr = Expr::default();
            let (pk, m) = (expr.name("pk"), expr.name("mark"));
            if mark == MARK_LEASE {
                let lease = expr.value(s(MARK_LEASE));
                expr.check_raw(format!("attribute_not_exists({pk}) OR {m} = {lease}"));
            } else {
                expr.check_raw(format!(
                    "attribute_not_exists({pk}) OR attribute_exists({m})"
                ));
            }
            match self.put_if(&what, &item, &expr).await? {
                Ok(()) => return Ok((head, latest)),
                // Closed by a stop: a lease holder's only commit there aborts.
                Err(Some(old))
                    if old
                        .get("mark")
                        .and_then(|m| m.as_s().ok())
                        .map(String::as_str)
                        == Some(MARK_STOP) =>
                {
                    return Ok((head, latest));
                }
                Err(_) => {}
            }
            // A commit took the slot: mark after it.
            latest = self.latest_log(arn).await?;
        }
        Err(backend_msg(
            &what,
            format!("commits took the next slot {MARK_ATTEMPTS} times in a row"),
        ))
    }

    /// Puts `item` on `expr`'s condition; `Ok(Err(old))` when the condition failed, with the
    /// item found there when DynamoDB returned it.
    pub(super) async fn put_if(
        &self,
        what: &str,
        item: &Item,
        expr: &Expr,
    ) -> Result<Result<(), Option<Item>>, StoreError> {
        let result = self
            .call(what, || {
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item.clone()))
                    .set_condition_expression(expr.condition_expression())
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => {
                    Ok(Err(c.item().filter(|i| !i.is_empty()).cloned()))
                }
                _ => Err(backend(what, &e)),
            },
        }
    }

    /// One page of log slots of partition `pk` up to sort key `to`, newest first.
    async fn log_descending(
        &self,
        what: &str,
        pk: &str,
        to: &str,
        limit: i32,
        start: Option<Item>,
        keys_only: bool,
    ) -> Result<aws_sdk_dynamodb::operation::query::QueryOutput, StoreError> {
        self.call(what, || {
            let query = self
                .client()
                .query()
                .table_name(self.table())
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#sk", "sk")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":from", s(LOG_FIRST))
                .expression_attribute_values(":to", s(to))
                .scan_index_forward(false)
                .limit(limit)
                .set_exclusive_start_key(start.clone());
            match keys_only {
                true => query.projection_expression("#pk, #sk"),
                false => query,
            }
            .send()
        })
        .await
        .map_err(|e| backend(what, &e))
    }

    /// What this store knows of `arn`.
    pub(super) fn known(&self, arn: &str) -> Option<Known> {
        let known = self.inner.known.lock().unwrap_or_else(|e| e.into_inner());
        known.get(arn).cloned()
    }

    /// Records what this store knows of `arn` (`None`: forget it).
    pub(super) fn set_known(&self, arn: &str, value: Option<Known>) {
        let mut known = self.inner.known.lock().unwrap_or_else(|e| e.into_inner());
        match value {
            Some(value) => {
                if known.len() >= KNOWN_MAX && !known.contains_key(arn) {
                    known.clear();
                }
                known.insert(arn.to_string(), value);
            }
            None => {
                known.remove(arn);
            }
        }
    }

    /// The body of log item `item`, inflated: the events' JSON array, then the snapshot's JSON.
    pub(super) async fn log_body(
        &self,
        item: &Item,
        what: &str,
    ) -> Result<(Vec<u8>, usize), StoreError> {
        let pk = req_s(item, "pk", what)?.to_string();
        let body = self
            .read_bytes(item, &pk, "body", what)
            .await?
            .ok_or_else(|| corrupt(what, "a log item has no body"))?;
        let elen: usize = req_n(item, "elen", what)?;
        if elen > body.len() {
            return Err(corrupt(what, "a log item's events end past its body"));
        }
        Ok((body, elen))
    }

    /// The snapshot committed in log item `item`.
    pub(super) async fn log_snapshot(
        &self,
        item: &Item,
        what: &str,
    ) -> Result<Snapshot, StoreError> {
        let (body, elen) = self.log_body(item, what).await?;
        let text = std::str::from_utf8(&body[elen..])
            .map_err(|_| corrupt(what, "a log item's snapshot is not UTF-8"))?;
        parse_json(text, what)
    }

    /// The events committed in log item `item`.
    pub(super) async fn log_events(
        &self,
        item: &Item,
        what: &str,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        let (body, elen) = self.log_body(item, what).await?;
        let text = std::str::from_utf8(&body[..elen])
            .map_err(|_| corrupt(what, "a log item's events are not UTF-8"))?;
        parse_json(text, what)
    }

    /// The events of `arn` with ids `from..=to` (see [`Store::history_range`]): the log items
    /// from the one holding event `from` (the newest slot whose first event id is at most
    /// `from`) to the last slot that starts at most at `to`.
    pub(super) async fn read_history_range(
        &self,
        arn: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        let pk = ex_pk(arn);
        let what = format!("history of {arn}");
        let from = from.max(1);
        if from > to {
            return self.ensure_exists(arn).await.map(|()| Vec::new());
        }
        let out = self
            .log_descending(&what, &pk, &log_upto(from), 1, None, true)
            .await?;
        let start = out
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|i| i.get("sk").and_then(|v| v.as_s().ok()).cloned())
            .unwrap_or_else(|| LOG_FIRST.to_string());
        let items = self
            .query_range(&what, &pk, &start, &log_upto(to), false)
            .await?;
        if items.is_empty() {
            return self.ensure_exists(arn).await.map(|()| Vec::new());
        }
        let mut events = Vec::new();
        for item in items.iter().filter(|i| !is_marker(i)) {
            let last: u64 = req_n(item, "last", &what)?;
            if last < from {
                continue;
            }
            events.extend(
                self.log_events(item, &what)
                    .await?
                    .into_iter()
                    .filter(|e| (from..=to).contains(&e.id)),
            );
        }
        Ok(events)
    }

    /// `NotFound` unless execution `arn` exists.
    async fn ensure_exists(&self, arn: &str) -> Result<(), StoreError> {
        let what = format!("history of {arn}");
        match self.get_consistent(&what, &ex_pk(arn), "META").await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(arn.to_string())),
        }
    }
}
