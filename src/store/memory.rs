//! The in-process store: the default, with the same semantics as DynamoDB (versions,
//! leases, committed history) so every engine test can run against both.

use crate::store::Redrives;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::engine::execution::QueueKey;
use crate::engine::execution::Status;
use crate::engine::history::HistoryEvent;
use crate::store::{
    check_activity_task_size, inbox_message_too_large, ActivityRecord, ActivityTask, Commit,
    Created, ExecutionRecord, InboxMessage, Lease, MachineRecord, MapRunRecord, StopRequest, Store,
    StoreError, INBOX_MAX_MESSAGES,
};
use crate::store::{check_resource_size, Expect, Resource, Scheduling};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
struct Inner {
    machines: HashMap<String, MachineRecord>,
    executions: HashMap<String, ExecutionRecord>,
    history: HashMap<String, Vec<HistoryEvent>>,
    activities: HashMap<String, ActivityRecord>,
    map_runs: HashMap<String, MapRunRecord>,
    /// Queued tasks by activity ARN, in no particular order.
    activity_tasks: HashMap<String, Vec<ActivityTask>>,
    /// Tokens of the activity tasks taken: never queued again.
    activity_taken: std::collections::HashSet<String>,
    /// Resources by kind, then key: body and version.
    resources: HashMap<String, BTreeMap<String, (Value, u64)>>,
    /// Fair scheduling: the service each fairness key had (executions taken over weight),
    /// and the virtual time (the service of the key taken last).
    served: HashMap<String, f64>,
    virtual_time: f64,
    /// The running executions that are due, by due time then ARN: a look for due work reads
    /// its head instead of every execution.
    due_index: BTreeSet<(i64, String)>,
}

impl Inner {
    /// Keeps [`Inner::due_index`] in step with execution `arn`, whose due time was `before`
    /// until the change just made to it.
    fn reindex(&mut self, arn: &str, before: Option<i64>) {
        let now = self
            .executions
            .get(arn)
            .filter(|r| r.status == Status::Running)
            .and_then(|r| r.due);
        if now == before {
            return;
        }
        if let Some(d) = before {
            self.due_index.remove(&(d, arn.to_string()));
        }
        if let Some(d) = now {
            self.due_index.insert((d, arn.to_string()));
        }
    }

    /// The running executions due by `now` whose lease is free, oldest due first.
    fn due_by(&self, now: i64) -> impl Iterator<Item = (i64, &ExecutionRecord)> + '_ {
        self.due_index
            .range(..=(now, String::from(char::MAX)))
            .filter_map(|(d, arn)| self.executions.get(arn).map(|r| (*d, r)))
            .filter(move |(_, r)| r.status == Status::Running && lease_free(&r.lease, "", now))
    }
}

/// An in-memory store; clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn lease_free(lease: &Option<Lease>, owner: &str, now: i64) -> bool {
    match lease {
        None => true,
        Some(l) => l.owner == owner || l.expires < now,
    }
}

impl Store for MemoryStore {
    async fn put_machine(&self, machine: &MachineRecord) -> Result<(), StoreError> {
        self.lock()
            .machines
            .insert(machine.arn.clone(), machine.clone());
        Ok(())
    }

    async fn get_machine(&self, arn: &str) -> Result<Option<MachineRecord>, StoreError> {
        Ok(self.lock().machines.get(arn).cloned())
    }

    async fn list_machines(&self) -> Result<Vec<MachineRecord>, StoreError> {
        let mut machines: Vec<MachineRecord> = self.lock().machines.values().cloned().collect();
        machines.sort_by(|a, b| (a.created, &a.name, &a.arn).cmp(&(b.created, &b.name, &b.arn)));
        Ok(machines)
    }

    async fn delete_machine(&self, arn: &str) -> Result<bool, StoreError> {
        Ok(self.lock().machines.remove(arn).is_some())
    }

    async fn put_resource(
        &self,
        kind: &str,
        key: &str,
        body: &Value,
        expect: Expect,
    ) -> Result<Option<u64>, StoreError> {
        check_resource_size(kind, key, body)?;
        let mut inner = self.lock();
        let of_kind = inner.resources.entry(kind.to_string()).or_default();
        let old = of_kind.get(key).map(|(_, v)| *v);
        if !expect.holds(old) {
            return Ok(None);
        }
        let version = old.unwrap_or(0) + 1;
        of_kind.insert(key.to_string(), (body.clone(), version));
        Ok(Some(version))
    }

    async fn get_resource(&self, kind: &str, key: &str) -> Result<Option<Resource>, StoreError> {
        Ok(self
            .lock()
            .resources
            .get(kind)
            .and_then(|m| m.get(key))
            .map(|(body, version)| Resource {
                key: key.to_string(),
                body: body.clone(),
                version: *version,
            }))
    }

    async fn list_resources(&self, kind: &str) -> Result<Vec<Resource>, StoreError> {
        Ok(self
            .lock()
            .resources
            .get(kind)
            .map(|m| {
                m.iter()
                    .map(|(key, (body, version))| Resource {
                        key: key.clone(),
                        body: body.clone(),
                        version: *version,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn delete_resource(
        &self,
        kind: &str,
        key: &str,
        expect: Expect,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(of_kind) = inner.resources.get_mut(kind) else {
            return Ok(false);
        };
        let old = of_kind.get(key).map(|(_, v)| *v);
        if old.is_none() || expect == Expect::Absent || !expect.holds(old) {
            return Ok(false);
        }
        Ok(of_kind.remove(key).is_some())
    }

    async fn put_map_run(&self, run: &MapRunRecord) -> Result<(), StoreError> {
        self.lock().map_runs.insert(run.arn.clone(), run.clone());
        Ok(())
    }

    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRecord>, StoreError> {
        Ok(self.lock().map_runs.get(arn).cloned())
    }

    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>, StoreError> {
        let mut found: Vec<MapRunRecord> = self
            .lock()
            .map_runs
            .values()
            .filter(|r| r.execution_arn == execution_arn)
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.start, &a.arn).cmp(&(b.start, &b.arn)));
        Ok(found)
    }

    async fn put_activity(&self, activity: &ActivityRecord) -> Result<(), StoreError> {
        self.lock()
            .activities
            .insert(activity.arn.clone(), activity.clone());
        Ok(())
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>, StoreError> {
        Ok(self.lock().activities.get(arn).cloned())
    }

    async fn list_activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        let mut found: Vec<ActivityRecord> = self.lock().activities.values().cloned().collect();
        found.sort_by(|a, b| (a.created, &a.name, &a.arn).cmp(&(b.created, &b.name, &b.arn)));
        Ok(found)
    }

    async fn delete_activity(&self, arn: &str) -> Result<bool, StoreError> {
        Ok(self.lock().activities.remove(arn).is_some())
    }

    async fn enqueue_activity_task(
        &self,
        activity_arn: &str,
        task: &ActivityTask,
    ) -> Result<(), StoreError> {
        check_activity_task_size(activity_arn, task)?;
        let mut inner = self.lock();
        if inner.activity_taken.contains(&task.token) {
            return Ok(());
        }
        let queue = inner
            .activity_tasks
            .entry(activity_arn.to_string())
            .or_default();
        if !queue.iter().any(|t| t.token == task.token) {
            queue.push(task.clone());
        }
        Ok(())
    }

    async fn take_activity_task(
        &self,
        activity_arn: &str,
    ) -> Result<Option<ActivityTask>, StoreError> {
        let mut inner = self.lock();
        let Some(queue) = inner.activity_tasks.get_mut(activity_arn) else {
            return Ok(None);
        };
        let oldest = queue
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| (a.enqueued, &a.token).cmp(&(b.enqueued, &b.token)))
            .map(|(i, _)| i);
        let task = oldest.map(|i| queue.swap_remove(i));
        if queue.is_empty() {
            inner.activity_tasks.remove(activity_arn);
        }
        if let Some(t) = &task {
            inner.activity_taken.insert(t.token.clone());
        }
        Ok(task)
    }

    async fn list_executions(&self, machine_arn: &str) -> Result<Vec<ExecutionRecord>, StoreError> {
        let mut found: Vec<ExecutionRecord> = self
            .lock()
            .executions
            .values()
            .filter(|r| r.info.state_machine_arn == machine_arn)
            .map(|r| ExecutionRecord {
                info: r.info.clone(),
                input: serde_json::Value::Null,
                input_text: None,
                status: r.status,
                output: None,
                error: None,
                stop_time: r.stop_time,
                version: 0,
                last_event_id: 0,
                snapshot: None,
                due: None,
                lease: None,
                stop_request: r.stop_request.clone(),
                inbox: Vec::new(),
                redrive: r.redrive.clone(),
            })
            .collect();
        found.sort_by(|a, b| {
            (b.info.start_time, &b.info.name).cmp(&(a.info.start_time, &a.info.name))
        });
        Ok(found)
    }

    async fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(record) = inner.executions.get_mut(arn) else {
            return Err(StoreError::NotFound(arn.to_string()));
        };
        if record.status != Status::Running {
            return Ok(false);
        }
        record.stop_request.get_or_insert_with(|| request.clone());
        let before = record.due.replace(request.time);
        inner.reindex(arn, before);
        Ok(true)
    }

    async fn reopen(
        &self,
        arn: &str,
        expected_version: u64,
        redrive: &Redrives,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(record) = inner.executions.get_mut(arn) else {
            return Err(StoreError::NotFound(arn.to_string()));
        };
        if record.version != expected_version || record.status == Status::Running {
            return Ok(false);
        }
        let before = None;
        record.status = Status::Running;
        record.version += 1;
        record.due = Some(now);
        record.stop_request = None;
        record.stop_time = None;
        record.lease = None;
        record.redrive = redrive.clone();
        inner.reindex(arn, before);
        Ok(true)
    }

    async fn deliver(&self, arn: &str, message: &InboxMessage) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(record) = inner.executions.get_mut(arn) else {
            return Err(StoreError::NotFound(arn.to_string()));
        };
        if record.status != Status::Running
            || record.inbox.len() >= INBOX_MAX_MESSAGES
            || inbox_message_too_large(message)
        {
            return Ok(false);
        }
        record.inbox.push(message.clone());
        let before = record.due.replace(message.time);
        inner.reindex(arn, before);
        Ok(true)
    }

    async fn create_execution(&self, record: &ExecutionRecord) -> Result<Created, StoreError> {
        let mut inner = self.lock();
        if let Some(existing) = inner.executions.get(&record.info.arn) {
            return Ok(Created::Existing(Box::new(existing.clone())));
        }
        inner
            .executions
            .insert(record.info.arn.clone(), record.clone());
        inner.reindex(&record.info.arn, None);
        Ok(Created::New)
    }

    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        Ok(self.lock().executions.get(arn).cloned())
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let conflict = || StoreError::Conflict {
            arn: commit.arn.to_string(),
            expected: commit.expected_version,
        };
        let record = inner
            .executions
            .get(commit.arn)
            .ok_or_else(|| StoreError::NotFound(commit.arn.to_string()))?;
        let holds_lease = record
            .lease
            .as_ref()
            .is_some_and(|l| l.owner == commit.owner);
        // A pending stop request lets only the commit that applies it through.
        let stopped_elsewhere = record.stop_request.is_some()
            && record.status == Status::Running
            && commit.snapshot.status != Status::Aborted;
        if record.version != commit.expected_version || !holds_lease || stopped_elsewhere {
            return Err(conflict());
        }
        let committed = record.last_event_id;
        if let Some(first) = commit.events.first() {
            if first.id != committed + 1 {
                return Err(StoreError::Corrupt {
                    what: commit.arn.to_string(),
                    reason: format!("events must follow event {committed}, got {}", first.id),
                });
            }
        }
        let history = inner.history.entry(commit.arn.to_string()).or_default();
        history.truncate(committed as usize);
        history.extend(commit.events.iter().cloned());
        let record = inner.executions.get_mut(commit.arn).expect("checked above");
        let before = record.due;
        let snap = commit.snapshot;
        record.status = snap.status;
        record.output = snap.output.clone();
        record.error = snap.error.clone();
        record.stop_time = snap.stop_time;
        record.last_event_id = snap.last_event_id;
        record.snapshot = Some(snap.clone());
        record.due = if snap.status == Status::Running {
            commit.due
        } else {
            None
        };
        let consumed = commit.consumed_inbox.min(record.inbox.len());
        record.inbox.drain(..consumed);
        // A message delivered since the writer read the inbox keeps the execution due.
        if record.status == Status::Running {
            if let Some(first) = record.inbox.iter().map(|m| m.time).min() {
                record.due = Some(record.due.map_or(first, |d| d.min(first)));
            }
        }
        record.version += 1;
        let version = record.version;
        inner.reindex(commit.arn, before);
        Ok(version)
    }

    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let inner = self.lock();
        let last = inner
            .executions
            .get(arn)
            .map(|r| r.last_event_id)
            .ok_or_else(|| StoreError::NotFound(arn.to_string()))?;
        Ok(inner
            .history
            .get(arn)
            .map(|h| h.iter().take(last as usize).cloned().collect())
            .unwrap_or_default())
    }

    async fn history_range(
        &self,
        arn: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        let inner = self.lock();
        let last = inner
            .executions
            .get(arn)
            .map(|r| r.last_event_id)
            .ok_or_else(|| StoreError::NotFound(arn.to_string()))?;
        let (from, to) = (from.max(1), to.min(last));
        if from > to {
            return Ok(Vec::new());
        }
        // Event `id` is at index `id - 1`.
        Ok(inner
            .history
            .get(arn)
            .and_then(|h| h.get(from as usize - 1..(to as usize).min(h.len())))
            .map(<[HistoryEvent]>::to_vec)
            .unwrap_or_default())
    }

    async fn acquire(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        let mut inner = self.lock();
        let Some(record) = inner.executions.get_mut(arn) else {
            return Err(StoreError::NotFound(arn.to_string()));
        };
        if record.status != Status::Running || !lease_free(&record.lease, owner, now) {
            return Ok(None);
        }
        record.lease = Some(Lease {
            owner: owner.to_string(),
            expires: now + lease_ms,
        });
        Ok(Some(record.clone()))
    }

    async fn renew(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(record) = inner.executions.get_mut(arn) else {
            return Err(StoreError::NotFound(arn.to_string()));
        };
        match record.lease.as_mut() {
            Some(l) if l.owner == owner => {
                l.expires = now + lease_ms;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, arn: &str, owner: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some(record) = inner.executions.get_mut(arn) {
            if record.lease.as_ref().is_some_and(|l| l.owner == owner) {
                record.lease = None;
            }
        }
        Ok(())
    }

    async fn due_queue(
        &self,
        now: i64,
        limit: usize,
        scheduling: Scheduling,
    ) -> Result<Vec<String>, StoreError> {
        if scheduling == Scheduling::Fifo {
            return self.due_executions(now, limit).await;
        }
        let mut inner = self.lock();
        let plain = QueueKey {
            priority: 0,
            tenant: String::new(),
            weight: 1,
        };
        // Within a key: higher priority first, then oldest due, then ARN.
        let mut due: Vec<(i32, i64, String, String, u32)> = inner
            .due_by(now)
            .map(|(d, r)| {
                let q = r.info.origin.queue.as_ref().unwrap_or(&plain);
                (
                    -q.priority,
                    d,
                    r.info.arn.clone(),
                    q.tenant.clone(),
                    q.weight.max(1),
                )
            })
            .collect();
        due.sort();
        if scheduling == Scheduling::Priority {
            return Ok(due.into_iter().take(limit).map(|e| e.2).collect());
        }
        // Start-time fair queuing over the keys with due work: take from the key with the least
        // service; a key that comes back after a pause starts at the virtual time, so it
        // neither lost nor saved up a share while it had nothing due.
        let mut queues: BTreeMap<String, (u32, std::collections::VecDeque<String>)> =
            BTreeMap::new();
        for (_, _, arn, tenant, weight) in due {
            queues
                .entry(tenant)
                .or_insert_with(|| (weight, Default::default()))
                .1
                .push_back(arn);
        }
        let vt = inner.virtual_time;
        for tenant in queues.keys() {
            let s = inner.served.entry(tenant.clone()).or_insert(vt);
            *s = s.max(vt);
        }
        let mut taken = Vec::with_capacity(limit.min(64));
        while taken.len() < limit {
            let next = queues
                .iter()
                .filter(|(_, (_, q))| !q.is_empty())
                .map(|(t, _)| (inner.served.get(t).copied().unwrap_or(vt), t.clone()))
                .min_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            let Some((service, tenant)) = next else { break };
            let Some((weight, queue)) = queues.get_mut(&tenant) else {
                break;
            };
            let Some(arn) = queue.pop_front() else { break };
            inner.virtual_time = service;
            inner
                .served
                .insert(tenant, service + 1.0 / f64::from(*weight));
            taken.push(arn);
        }
        Ok(taken)
    }

    async fn count_parked(&self, now: i64) -> Result<u64, StoreError> {
        let inner = self.lock();
        Ok(inner
            .executions
            .values()
            .filter(|r| r.status == Status::Running)
            .filter(|r| r.due.is_some_and(|d| d > now))
            .filter(|r| lease_free(&r.lease, "", now))
            .count() as u64)
    }

    async fn due_executions(&self, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .due_by(now)
            .take(limit)
            .map(|(_, r)| r.info.arn.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn priority_takes_higher_first_and_fifo_within_a_priority() {
        crate::store::suite_queue::priority_order(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn fair_shares_by_weight_so_a_flood_does_not_starve_another_key() {
        crate::store::suite_queue::fair_shares(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn parked_executions_are_counted() {
        crate::store::suite_queue::parked_count(&MemoryStore::new()).await;
    }

    /// The due index holds exactly the running executions with a due time.
    fn assert_index_consistent(store: &MemoryStore) {
        let inner = store.lock();
        let expected: BTreeSet<(i64, String)> = inner
            .executions
            .values()
            .filter(|r| r.status == Status::Running)
            .filter_map(|r| r.due.map(|d| (d, r.info.arn.clone())))
            .collect();
        assert!(!expected.is_empty(), "the suite leaves due executions");
        assert_eq!(inner.due_index, expected);
    }

    #[tokio::test]
    async fn memory_store_passes_the_store_suite() {
        let store = MemoryStore::new();
        crate::store::suite::run(&store).await;
        assert_index_consistent(&store);
        let store = MemoryStore::new();
        crate::store::suite_queue::fair_shares(&store).await;
        assert_index_consistent(&store);
    }
}
