//! History reads: the events of an id range, from META's tail and the event items that hold
//! them, entering the items at the one that holds the range's first event.

use super::*;

impl DynamoStore {
    /// The events of `arn` with ids `from..=to` (see [`Store::history_range`]).
    pub(super) async fn read_history_range(
        &self,
        arn: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        let pk = ex_pk(arn);
        let what = format!("history of {arn}");
        let out = self
            .call(&what, || {
                self.client()
                    .get_item()
                    .table_name(self.table())
                    .set_key(Some(key(&pk, "META")))
                    .consistent_read(true)
                    .projection_expression("#last, #tail, #claims")
                    .expression_attribute_names("#last", "last_event_id")
                    .expression_attribute_names("#tail", "tail")
                    .expression_attribute_names("#claims", "claims")
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?;
        let Some(meta) = out.item else {
            return Err(StoreError::NotFound(arn.to_string()));
        };
        let last: u64 = req_n(&meta, "last_event_id", &what)?;
        let (from, to) = (from.max(1), to.min(last));
        if from > to {
            return Ok(Vec::new());
        }
        // The tail holds the latest committed events; an event item of the same id may be the
        // leftover of a failed commit, so the tail wins.
        let mut tail = tail_events(&meta, &what)?;
        let claims = committed_claims(&meta, &what)?;
        let lo = (from..=to).find(|id| !tail.contains_key(id));
        let hi = (from..=to).rev().find(|id| !tail.contains_key(id));
        let mut items: HashMap<u64, Item> = HashMap::new();
        let mut cover: Option<(u64, Item)> = None;
        if let (Some(lo), Some(hi)) = (lo, hi) {
            // The walk enters the items at the one holding event `lo`: the event's own item,
            // or the block that holds it.
            let (start, item) = self.cover_item(&what, &pk, lo, &claims).await?;
            if start < hi {
                for item in self
                    .query_range(&what, &pk, &ev_sk(start + 1), &ev_sk(hi), false)
                    .await?
                {
                    items.insert(event_item_id(&item, &what)?, item);
                }
            }
            cover = Some((start, item));
        }
        // Walk the ids: the tail first, then the item at the id (one event, or a block that
        // moves the walk past its last event). Items the walk steps over are leftovers.
        let mut events: Vec<HistoryEvent> = Vec::new();
        let mut id = from;
        while id <= to {
            let event_what = format!("history event {id} of {arn}");
            let mut found: Vec<HistoryEvent> = Vec::new();
            let mut first = id;
            let item = match &cover {
                Some((start, item)) if Some(id) == lo => Some((*start, item)),
                _ => items.get(&id).map(|item| (id, item)),
            };
            if let Some(json) = tail.remove(&id) {
                found.push(parse_json(&json, &event_what)?);
            } else if let Some((start, item)) = item {
                first = start;
                let event_what = format!("history event {start} of {arn}");
                let block = match (item.get("evz"), get_s(item, "evs", &event_what)?) {
                    (Some(AttributeValue::B(z)), _) => Some(
                        decompress(z.as_ref().to_vec())
                            .ok()
                            .and_then(|b| String::from_utf8(b).ok())
                            .ok_or_else(|| {
                                corrupt(&event_what, "attribute evz does not inflate")
                            })?,
                    ),
                    (Some(_), _) => {
                        return Err(corrupt(&event_what, "attribute evz is not binary"))
                    }
                    (None, block) => block.map(str::to_string),
                };
                if let Some(block) = block {
                    let block_last: u64 = req_n(item, "last", &event_what)?;
                    let block: Vec<HistoryEvent> = parse_json(&block, &event_what)?;
                    if block_last < id
                        || block_last > last
                        || block.len() as u64 != block_last - start + 1
                    {
                        return Err(corrupt(&event_what, "the block does not hold its events"));
                    }
                    found = block;
                } else {
                    let json = self
                        .read_doc(item, &pk, "ev", &event_what)
                        .await?
                        .ok_or_else(|| corrupt(&event_what, "attribute ev is missing"))?;
                    found.push(parse_json(&json, &event_what)?);
                }
            } else {
                return Err(corrupt(&event_what, "the event is missing"));
            }
            for (expected, event) in (first..).zip(found) {
                if event.id != expected {
                    return Err(corrupt(
                        format!("history event {expected} of {arn}"),
                        format!("holds event {}", event.id),
                    ));
                }
                if expected >= id && expected <= to {
                    events.push(event);
                }
            }
            id = events.last().map_or(id + 1, |e| e.id + 1).max(id + 1);
        }
        Ok(events)
    }

    /// The item that holds history event `id` (its own item, or the block that holds it) and
    /// the id it starts at: the nearest event item at or before `id` that a committed commit
    /// wrote (an item of a claimed commit that never committed is a leftover, passed over).
    async fn cover_item(
        &self,
        what: &str,
        pk: &str,
        id: u64,
        claims: &HashSet<String>,
    ) -> Result<(u64, Item), StoreError> {
        let event_what = format!("{what}: event {id}");
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .call(what, || {
                    self.client()
                        .query()
                        .table_name(self.table())
                        .consistent_read(true)
                        .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_names("#sk", "sk")
                        .expression_attribute_values(":pk", s(pk))
                        .expression_attribute_values(":from", s(ev_sk(0)))
                        .expression_attribute_values(":to", s(ev_sk(id)))
                        .scan_index_forward(false)
                        .limit(4)
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await
                .map_err(|e| backend(what, &e))?;
            for item in out.items.unwrap_or_default() {
                if get_s(&item, "cid", what)?.is_some_and(|cid| !claims.contains(cid)) {
                    continue;
                }
                let at = event_item_id(&item, what)?;
                let holds = match get_n::<u64>(&item, "last", what)? {
                    Some(last) => last >= id,
                    None => at == id,
                };
                if !holds {
                    return Err(corrupt(&event_what, "the event is missing"));
                }
                return Ok((at, item));
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Err(corrupt(&event_what, "the event is missing")),
            }
        }
    }
}

/// The id of the first event of an event item, from its sort key.
fn event_item_id(item: &Item, what: &str) -> Result<u64, StoreError> {
    let sk = req_s(item, "sk", what)?;
    sk.strip_prefix("EV#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| corrupt(what, format!("item {sk} is no history event")))
}

/// The nonces of the claimed commits that committed (see [`DynamoStore::commit_claimed`]):
/// event items stamped with another nonce are leftovers.
fn committed_claims(meta: &Item, what: &str) -> Result<HashSet<String>, StoreError> {
    match meta.get("claims") {
        None => Ok(HashSet::new()),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(cid) => Ok(cid.clone()),
                _ => Err(corrupt(what, "attribute claims holds a non-string")),
            })
            .collect(),
        Some(_) => Err(corrupt(what, "attribute claims is not a list")),
    }
}
