//! Either store backend behind one type, chosen at run time (`--store memory|dynamodb`), and
//! the configuration that opens it.

use crate::engine::history::HistoryEvent;
use crate::store::dynamodb::DynamoStore;
use crate::store::memory::MemoryStore;
use crate::store::Redrives;
use crate::store::{
    ActivityRecord, ActivityTask, Commit, Created, ExecutionRecord, Expect, InboxMessage,
    MachineRecord, MapRunRecord, Resource, Scheduling, StopRequest, Store, StoreError,
};
use serde_json::Value;

/// Either backend, chosen at run time by `--store`.
#[derive(Clone)]
pub enum AnyStore {
    /// In process.
    Memory(MemoryStore),
    /// DynamoDB (or DynamoDB Local).
    Dynamo(DynamoStore),
}

/// The store request latency histogram (seconds, by `operation`): each request through
/// [`AnyStore`] is timed.
pub const REQUEST_TIME: &str = "stepfn_store_request_duration_seconds";

macro_rules! delegate {
    ($self:ident, $s:ident => $_s:ident . $method:ident ( $($arg:expr),* ) .await) => {{
        let started = std::time::Instant::now();
        let result = match $self {
            AnyStore::Memory($s) => $s.$method($($arg),*).await,
            AnyStore::Dynamo($s) => $s.$method($($arg),*).await,
        };
        metrics::histogram!(REQUEST_TIME, "operation" => stringify!($method))
            .record(started.elapsed().as_secs_f64());
        result
    }};
}

impl Store for AnyStore {
    async fn put_machine(&self, machine: &MachineRecord) -> Result<(), StoreError> {
        delegate!(self, s => s.put_machine(machine).await)
    }
    async fn get_machine(&self, arn: &str) -> Result<Option<MachineRecord>, StoreError> {
        delegate!(self, s => s.get_machine(arn).await)
    }
    async fn list_machines(&self) -> Result<Vec<MachineRecord>, StoreError> {
        delegate!(self, s => s.list_machines().await)
    }
    async fn delete_machine(&self, arn: &str) -> Result<bool, StoreError> {
        delegate!(self, s => s.delete_machine(arn).await)
    }
    async fn list_executions(&self, machine_arn: &str) -> Result<Vec<ExecutionRecord>, StoreError> {
        delegate!(self, s => s.list_executions(machine_arn).await)
    }
    async fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError> {
        delegate!(self, s => s.request_stop(arn, request).await)
    }
    async fn reopen(
        &self,
        arn: &str,
        expected_version: u64,
        redrive: &Redrives,
        now: i64,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.reopen(arn, expected_version, redrive, now).await)
    }
    async fn deliver(&self, arn: &str, message: &InboxMessage) -> Result<bool, StoreError> {
        delegate!(self, s => s.deliver(arn, message).await)
    }
    async fn put_map_run(&self, r: &MapRunRecord) -> Result<(), StoreError> {
        delegate!(self, s => s.put_map_run(r).await)
    }
    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRecord>, StoreError> {
        delegate!(self, s => s.get_map_run(arn).await)
    }
    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>, StoreError> {
        delegate!(self, s => s.list_map_runs(execution_arn).await)
    }
    async fn count_parked(&self, now: i64) -> Result<u64, StoreError> {
        delegate!(self, s => s.count_parked(now).await)
    }
    async fn due_queue(
        &self,
        now: i64,
        limit: usize,
        scheduling: Scheduling,
    ) -> Result<Vec<String>, StoreError> {
        delegate!(self, s => s.due_queue(now, limit, scheduling).await)
    }
    async fn put_resource(
        &self,
        kind: &str,
        key: &str,
        body: &Value,
        expect: Expect,
    ) -> Result<Option<u64>, StoreError> {
        delegate!(self, s => s.put_resource(kind, key, body, expect).await)
    }
    async fn get_resource(&self, kind: &str, key: &str) -> Result<Option<Resource>, StoreError> {
        delegate!(self, s => s.get_resource(kind, key).await)
    }
    async fn list_resources(&self, kind: &str) -> Result<Vec<Resource>, StoreError> {
        delegate!(self, s => s.list_resources(kind).await)
    }
    async fn delete_resource(
        &self,
        kind: &str,
        key: &str,
        expect: Expect,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.delete_resource(kind, key, expect).await)
    }
    async fn put_activity(&self, a: &ActivityRecord) -> Result<(), StoreError> {
        delegate!(self, s => s.put_activity(a).await)
    }
    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>, StoreError> {
        delegate!(self, s => s.get_activity(arn).await)
    }
    async fn list_activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        delegate!(self, s => s.list_activities().await)
    }
    async fn delete_activity(&self, arn: &str) -> Result<bool, StoreError> {
        delegate!(self, s => s.delete_activity(arn).await)
    }
    async fn enqueue_activity_task(
        &self,
        activity_arn: &str,
        task: &ActivityTask,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.enqueue_activity_task(activity_arn, task).await)
    }
    async fn take_activity_task(
        &self,
        activity_arn: &str,
    ) -> Result<Option<ActivityTask>, StoreError> {
        delegate!(self, s => s.take_activity_task(activity_arn).await)
    }
    async fn create_execution(&self, record: &ExecutionRecord) -> Result<Created, StoreError> {
        delegate!(self, s => s.create_execution(record).await)
    }
    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        delegate!(self, s => s.get_execution(arn).await)
    }
    async fn commit(&self, commit: Commit<'_>) -> Result<u64, StoreError> {
        delegate!(self, s => s.commit(commit).await)
    }
    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        delegate!(self, s => s.history(arn).await)
    }
    async fn history_range(
        &self,
        arn: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        delegate!(self, s => s.history_range(arn, from, to).await)
    }
    async fn acquire(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        delegate!(self, s => s.acquire(arn, owner, now, lease_ms).await)
    }
    async fn renew(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.renew(arn, owner, now, lease_ms).await)
    }
    async fn release(&self, arn: &str, owner: &str) -> Result<(), StoreError> {
        delegate!(self, s => s.release(arn, owner).await)
    }
    async fn due_executions(&self, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        delegate!(self, s => s.due_executions(now, limit).await)
    }
}

/// Which store the CLI uses.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `memory` or `dynamodb`.
    pub kind: StoreKind,
    /// The DynamoDB table.
    pub table: String,
    /// An endpoint overriding the standard AWS settings.
    pub endpoint: Option<String>,
}

/// The store backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// In process; executions end with the process.
    Memory,
    /// DynamoDB: executions survive the process.
    Dynamodb,
}

impl StoreConfig {
    /// Opens the configured store.
    ///
    /// # Errors
    /// When DynamoDB cannot be configured.
    pub async fn open(&self) -> Result<AnyStore, StoreError> {
        match self.kind {
            StoreKind::Memory => Ok(AnyStore::Memory(MemoryStore::new())),
            StoreKind::Dynamodb => Ok(AnyStore::Dynamo(
                DynamoStore::connect(&self.table, self.endpoint.as_deref()).await?,
            )),
        }
    }

    /// True when the store outlives the process.
    pub fn is_durable(&self) -> bool {
        self.kind == StoreKind::Dynamodb
    }
}

impl AnyStore {
    /// Creates what the backend needs (the DynamoDB table; idempotent). Nothing for memory.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn init(&self) -> Result<(), StoreError> {
        if let AnyStore::Dynamo(d) = self {
            d.init().await?;
        }
        Ok(())
    }
}
