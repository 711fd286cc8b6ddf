//! The due index's partitions and the order in which workers take due executions.
//!
//! An execution without a queue key is due in one of the [`DUE_SHARDS`] shards `DUE#<n>` (by
//! its ARN). One with a queue key (`stepfn:priority`, `stepfn:tenant`) is due in its queue's
//! own partition `DUE#Q#<priority>#<tenant>`, kept in META's `qpk` so that every later update
//! of the due time (`SET gsi1pk = if_not_exists(qpk, shard)`) puts it back there. Each queue is
//! listed once in the registry partition `DUEQ` (`<priority>#<tenant>`, with its tenant,
//! priority and weight) when a process first creates an execution in it.
//!
//! A look for due work reads the registry (cached for [`QUEUES_TTL`]) and queries every
//! partition's head (oldest due first, at most what it may take):
//! * FIFO merges all heads by due time;
//! * priority takes the highest priority's partitions first, by due time within one;
//! * fair takes from the tenant with the least service so far (executions taken, divided by
//!   its weight; start-time fair queuing, kept per process), within a tenant the highest
//!   priority first. A tenant's flood stays in its own partitions, so another tenant's work is
//!   always at the head of its own: nothing starves behind a backlog.
//!
//! Cost: one query per partition per look, and one more for the registry every
//! [`QUEUES_TTL`]; a queue's partition is one DynamoDB partition (on AWS, about 1,000 writes a
//! second for one tenant and priority).

use std::collections::BTreeMap;

use super::*;
use crate::engine::execution::QueueKey;
use crate::store::Scheduling;

/// A tenant's due work: (negated priority, due, ARN).
type Work = Vec<(i32, i64, String)>;

/// The registry of queue partitions.
const QUEUES_PK: &str = "DUEQ";
/// How long a process keeps its copy of the registry.
pub(super) const QUEUES_TTL: Duration = Duration::from_secs(2);

/// What a process knows of the queues.
#[derive(Default)]
pub(super) struct Queues {
    /// Queue partitions this process registered (or saw registered).
    registered: HashSet<String>,
    /// The registry as last read, and when.
    listed: Option<(Instant, Vec<Partition>)>,
    /// Fair scheduling: each tenant's service, and the virtual time.
    served: HashMap<String, f64>,
    virtual_time: f64,
}

/// One partition of the due index.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Partition {
    pk: String,
    tenant: String,
    priority: i32,
    weight: u32,
}

/// The due index partition of an execution in queue `queue`.
pub(super) fn queue_partition(queue: &QueueKey) -> String {
    format!("DUE#Q#{}#{}", queue.priority, queue.tenant)
}

impl DynamoStore {
    fn queues(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.inner.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists queue `queue` in the registry, once per process.
    pub(super) async fn register_queue(&self, queue: &QueueKey) -> Result<(), StoreError> {
        let pk = queue_partition(queue);
        if self.queues().registered.contains(&pk) {
            return Ok(());
        }
        let what = format!("register due queue {pk}");
        let mut item = key(QUEUES_PK, &format!("{}#{}", queue.priority, queue.tenant));
        item.insert("qpk".into(), s(&pk));
        item.insert("tenant".into(), s(&queue.tenant));
        item.insert("priority".into(), n(queue.priority));
        item.insert("weight".into(), n(queue.weight.max(1)));
        self.put_plain(&what, item).await?;
        let mut queues = self.queues();
        queues.registered.insert(pk);
        queues.listed = None;
        Ok(())
    }

    /// Every partition of the due index: the shards and the registered queues.
    async fn partitions(&self) -> Result<Vec<Partition>, StoreError> {
        if let Some((at, listed)) = &self.queues().listed {
            if at.elapsed() < QUEUES_TTL {
                return Ok(listed.clone());
            }
        }
        let what = "list due queues";
        let mut listed: Vec<Partition> = (0..DUE_SHARDS)
            .map(|shard| Partition {
                pk: format!("DUE#{shard}"),
                tenant: String::new(),
                priority: 0,
                weight: 1,
            })
            .collect();
        for item in self
            .query_range(what, QUEUES_PK, "\u{1}", "\u{10FFFF}", false)
            .await?
        {
            listed.push(Partition {
                pk: req_s(&item, "qpk", what)?.to_string(),
                tenant: get_s(&item, "tenant", what)?
                    .unwrap_or_default()
                    .to_string(),
                priority: get_n(&item, "priority", what)?.unwrap_or(0),
                weight: get_n::<u32>(&item, "weight", what)?.unwrap_or(1).max(1),
            });
        }
        self.queues().listed = Some((Instant::now(), listed.clone()));
        Ok(listed)
    }

    /// Up to `limit` due executions of each of `partitions`, queried at once.
    async fn heads(
        &self,
        partitions: &[Partition],
        now: i64,
        limit: usize,
    ) -> Result<Vec<Vec<(i64, String)>>, StoreError> {
        let mut queries = JoinSet::new();
        for (i, partition) in partitions.iter().enumerate() {
            let store = self.clone();
            let pk = partition.pk.clone();
            queries.spawn(
                async move { (i, store.due_in_partition(&pk, now, limit).await) }
                    .instrument(tracing::Span::current()),
            );
        }
        let mut heads = vec![Vec::new(); partitions.len()];
        while let Some(done) = queries.join_next().await {
            let (i, found) =
                done.map_err(|e| backend_msg("query due executions", format!("task failed: {e}")))?;
            heads[i] = found?;
        }
        Ok(heads)
    }

    /// Up to `limit` due executions in the order `scheduling` says.
    pub(super) async fn due_ordered(
        &self,
        now: i64,
        limit: usize,
        scheduling: Scheduling,
    ) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let partitions = self.partitions().await?;
        match scheduling {
            Scheduling::Fifo => {
                let mut due: Vec<(i64, String)> = self
                    .heads(&partitions, now, limit)
                    .await?
                    .into_iter()
                    .flatten()
                    .collect();
                due.sort();
                Ok(due.into_iter().take(limit).map(|(_, arn)| arn).collect())
            }
            Scheduling::Priority => {
                let mut levels: Vec<i32> = partitions.iter().map(|p| p.priority).collect();
                levels.sort_unstable_by(|a, b| b.cmp(a));
                levels.dedup();
                let mut taken = Vec::new();
                for level in levels {
                    let of_level: Vec<Partition> = partitions
                        .iter()
                        .filter(|p| p.priority == level)
                        .cloned()
                        .collect();
                    let left = limit - taken.len();
                    let mut due: Vec<(i64, String)> = self
                        .heads(&of_level, now, left)
                        .await?
                        .into_iter()
                        .flatten()
                        .collect();
                    due.sort();
                    taken.extend(due.into_iter().take(left).map(|(_, arn)| arn));
                    if taken.len() >= limit {
                        break;
                    }
                }
                Ok(taken)
            }
            Scheduling::Fair => {
                let heads = self.heads(&partitions, now, limit).await?;
                Ok(self.take_fairly(&partitions, heads, limit))
            }
        }
    }

    /// Start-time fair queuing over the tenants with due work.
    fn take_fairly(
        &self,
        partitions: &[Partition],
        heads: Vec<Vec<(i64, String)>>,
        limit: usize,
    ) -> Vec<String> {
        // Per tenant: its weight and its due work, highest priority first, then oldest.
        let mut tenants: BTreeMap<String, (u32, Work)> = BTreeMap::new();
        for (partition, head) in partitions.iter().zip(heads) {
            if head.is_empty() {
                continue;
            }
            let entry = tenants
                .entry(partition.tenant.clone())
                .or_insert((partition.weight, Vec::new()));
            entry.0 = entry.0.max(partition.weight);
            entry.1.extend(
                head.into_iter()
                    .map(|(due, arn)| (-partition.priority, due, arn)),
            );
        }
        let mut queues: BTreeMap<String, (u32, std::collections::VecDeque<String>)> = tenants
            .into_iter()
            .map(|(tenant, (weight, mut work))| {
                work.sort();
                (tenant, (weight, work.into_iter().map(|w| w.2).collect()))
            })
            .collect();
        let mut state = self.queues();
        let vt = state.virtual_time;
        for tenant in queues.keys() {
            let served = state.served.entry(tenant.clone()).or_insert(vt);
            *served = served.max(vt);
        }
        let mut taken = Vec::new();
        while taken.len() < limit {
            let next = queues
                .iter()
                .filter(|(_, (_, q))| !q.is_empty())
                .map(|(t, _)| (state.served.get(t).copied().unwrap_or(vt), t.clone()))
                .min_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            let Some((service, tenant)) = next else { break };
            let Some((weight, queue)) = queues.get_mut(&tenant) else {
                break;
            };
            let Some(arn) = queue.pop_front() else { break };
            state.virtual_time = service;
            state
                .served
                .insert(tenant, service + 1.0 / f64::from((*weight).max(1)));
            taken.push(arn);
        }
        taken
    }

    /// How many executions of the due index are due after `now` with no live lease: one
    /// counting query (all pages) per partition.
    pub(super) async fn count_parked_in_partitions(&self, now: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        for partition in self.partitions().await? {
            let what = format!("count parked executions ({})", partition.pk);
            let mut start: Option<Item> = None;
            loop {
                let out = self
                    .call(&what, || {
                        self.client()
                            .query()
                            .table_name(self.table())
                            .index_name(DUE_INDEX)
                            .key_condition_expression("#gpk = :p AND #gsk > :now")
                            .filter_expression("attribute_not_exists(#exp) OR #exp < :ms")
                            .expression_attribute_names("#gpk", "gsi1pk")
                            .expression_attribute_names("#gsk", "gsi1sk")
                            .expression_attribute_names("#exp", "lease_expires")
                            .expression_attribute_values(":p", s(&partition.pk))
                            .expression_attribute_values(":now", s(time_sort_key(now)))
                            .expression_attribute_values(":ms", n(now))
                            .select(aws_sdk_dynamodb::types::Select::Count)
                            .set_exclusive_start_key(start.clone())
                            .send()
                    })
                    .await
                    .map_err(|e| backend(&what, &e))?;
                total += u64::try_from(out.count).unwrap_or(0);
                match out.last_evaluated_key {
                    Some(k) if !k.is_empty() => start = Some(k),
                    _ => break,
                }
            }
        }
        Ok(total)
    }

    /// Up to `limit` executions of one due index partition, due by `now` with no live lease,
    /// as (due, ARN) in due order.
    async fn due_in_partition(
        &self,
        pk: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let what = format!("query due executions ({pk})");
        let page = i32::try_from(limit.clamp(25, 1_000)).unwrap_or(1_000);
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .call(&what, || {
                    self.client()
                        .query()
                        .table_name(self.table())
                        .index_name(DUE_INDEX)
                        .key_condition_expression("#gpk = :shard AND #gsk <= :now")
                        .filter_expression("attribute_not_exists(#exp) OR #exp < :ms")
                        .expression_attribute_names("#gpk", "gsi1pk")
                        .expression_attribute_names("#gsk", "gsi1sk")
                        .expression_attribute_names("#exp", "lease_expires")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_names("#due", "due")
                        .expression_attribute_values(":shard", s(pk))
                        .expression_attribute_values(":now", s(time_sort_key(now)))
                        .expression_attribute_values(":ms", n(now))
                        .projection_expression("#pk, #due")
                        .limit(page)
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await
                .map_err(|e| backend(&what, &e))?;
            for item in out.items.unwrap_or_default() {
                let pk = req_s(&item, "pk", &what)?;
                let arn = pk
                    .strip_prefix("EX#")
                    .ok_or_else(|| corrupt(&what, format!("index entry {pk} is no execution")))?;
                let due: i64 = req_n(&item, "due", &what)?;
                found.push((due, arn.to_string()));
                if found.len() == limit {
                    return Ok(found);
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(found),
            }
        }
    }
}
