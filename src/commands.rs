//! The durable commands behind the CLI: `init`, `start`, `worker`, `describe`, `history`
//! and `run --store dynamodb`, over either store.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::engine::durable::{
    drive_execution, run_worker, start_execution, DriveError, DriveOutcome, DurableOptions,
    MachineCache, StartError, WorkerStats,
};
use crate::engine::state::Status;
use crate::engine::step::iso_time;
use crate::store::dynamodb::DynamoStore;
use crate::store::memory::MemoryStore;
use crate::store::{
    ActivityRecord, ActivityTask, Commit, Created, ExecutionRecord, InboxMessage, MachineRecord,
    StopRequest, Store, StoreError,
};
use crate::tasks::TaskInvoker;

/// Either backend, chosen at run time by `--store`.
#[derive(Clone)]
pub enum AnyStore {
    /// In process.
    Memory(MemoryStore),
    /// DynamoDB (or DynamoDB Local).
    Dynamo(DynamoStore),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Memory($s) => $e,
            AnyStore::Dynamo($s) => $e,
        }
    };
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
    async fn deliver(&self, arn: &str, message: &InboxMessage) -> Result<bool, StoreError> {
        delegate!(self, s => s.deliver(arn, message).await)
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
    async fn history(
        &self,
        arn: &str,
    ) -> Result<Vec<crate::engine::history::HistoryEvent>, StoreError> {
        delegate!(self, s => s.history(arn).await)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// In process; executions end with the process.
    Memory,
    /// DynamoDB: executions survive the process.
    Dynamodb,
}

/// A command failure, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad input from the user (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// The store failed (exit 1).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Driving failed (exit 1).
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// Starting failed (exit 1).
    #[error(transparent)]
    Start(#[from] StartError),
}

impl StoreConfig {
    /// Opens the configured store.
    ///
    /// # Errors
    /// When DynamoDB cannot be configured.
    pub async fn open(&self) -> Result<AnyStore, CommandError> {
        match self.kind {
            StoreKind::Memory => Ok(AnyStore::Memory(MemoryStore::new())),
            StoreKind::Dynamodb => Ok(AnyStore::Dynamo(
                DynamoStore::connect(&self.table, self.endpoint.as_deref()).await?,
            )),
        }
    }

    /// Fails unless the store outlives the process.
    ///
    /// # Errors
    /// [`CommandError::Invalid`] for the memory store.
    pub fn require_durable(&self, command: &str) -> Result<(), CommandError> {
        match self.kind {
            StoreKind::Dynamodb => Ok(()),
            StoreKind::Memory => Err(CommandError::Invalid(format!(
                "`stepfn {command}` needs a store that outlives the process: add --store dynamodb --table NAME"
            ))),
        }
    }
}

/// `stepfn init`: creates the table (idempotent).
///
/// # Errors
/// When the store fails.
pub async fn init(store: &AnyStore) -> Result<(), CommandError> {
    if let AnyStore::Dynamo(d) = store {
        d.init().await?;
    }
    Ok(())
}

/// The state machine record for a definition registered under `name`.
pub fn machine_record(name: &str, definition: Value, now: i64) -> MachineRecord {
    MachineRecord {
        arn: format!("arn:aws:states:us-east-1:111111111111:stateMachine:{name}"),
        name: name.to_string(),
        definition,
        kind: "STANDARD".into(),
        role_arn: "arn:aws:iam::111111111111:role/stepfn".into(),
        created: now,
        tags: Default::default(),
        definition_text: None,
    }
}

/// `stepfn start`: stores the machine and a new execution; returns its ARN and start date.
///
/// # Errors
/// When the name is taken with another input, or the store fails.
pub async fn start(
    store: &AnyStore,
    machine: &MachineRecord,
    name: &str,
    input: Value,
    now: i64,
) -> Result<ExecutionRecord, CommandError> {
    store.put_machine(machine).await?;
    Ok(start_execution(store, machine, name, input, now).await?)
}

/// `stepfn worker`.
///
/// # Errors
/// As [`run_worker`].
pub async fn worker(
    store: AnyStore,
    invoker: Arc<dyn TaskInvoker>,
    options: DurableOptions,
    concurrency: usize,
    shutdown: Arc<AtomicBool>,
    idle_exit_ms: Option<i64>,
) -> Result<WorkerStats, CommandError> {
    Ok(run_worker(store, invoker, options, concurrency, shutdown, idle_exit_ms).await?)
}

/// Drives one execution to its end in this process (`stepfn run --store dynamodb`).
///
/// # Errors
/// When the store fails or another worker holds the execution.
pub async fn run_durably(
    store: &AnyStore,
    arn: &str,
    invoker: Arc<dyn TaskInvoker>,
    options: &DurableOptions,
) -> Result<ExecutionRecord, CommandError> {
    let machines = MachineCache::default();
    loop {
        match drive_execution(store, arn, Arc::clone(&invoker), &machines, options, None).await? {
            DriveOutcome::Finished(_) => break,
            DriveOutcome::Busy | DriveOutcome::Lost => {
                return Err(CommandError::Invalid(format!(
                    "execution {arn} is being driven by another worker"
                )))
            }
            DriveOutcome::Parked | DriveOutcome::Stopped | DriveOutcome::Yielded => continue,
        }
    }
    store
        .get_execution(arn)
        .await?
        .ok_or_else(|| CommandError::Store(StoreError::NotFound(arn.to_string())))
}

fn epoch_seconds(ms: i64) -> Value {
    serde_json::Number::from_f64(ms as f64 / 1000.0)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// DescribeExecution's response for a record.
pub fn describe_json(record: &ExecutionRecord) -> Value {
    let mut out = Map::new();
    out.insert("executionArn".into(), json!(record.info.arn));
    out.insert(
        "stateMachineArn".into(),
        json!(record.info.state_machine_arn),
    );
    out.insert("name".into(), json!(record.info.name));
    out.insert("status".into(), json!(record.status.as_str()));
    out.insert("startDate".into(), epoch_seconds(record.info.start_time));
    if let Some(stop) = record.stop_time {
        out.insert("stopDate".into(), epoch_seconds(stop));
    }
    out.insert(
        "input".into(),
        json!(serde_json::to_string(&record.input).unwrap_or_default()),
    );
    out.insert("inputDetails".into(), json!({"included": true}));
    if record.status == Status::Succeeded {
        let output = record.output.clone().unwrap_or(Value::Null);
        out.insert(
            "output".into(),
            json!(serde_json::to_string(&output).unwrap_or_default()),
        );
        out.insert("outputDetails".into(), json!({"included": true}));
    }
    if let Some(e) = &record.error {
        if !e.error.is_empty() {
            out.insert("error".into(), json!(e.error));
        }
        if let Some(c) = &e.cause {
            out.insert("cause".into(), json!(c));
        }
    }
    out.insert("redriveCount".into(), json!(0));
    out.insert("redriveStatus".into(), json!("NOT_REDRIVABLE"));
    Value::Object(out)
}

/// `stepfn start`'s output.
pub fn started_json(record: &ExecutionRecord) -> Value {
    json!({"executionArn": record.info.arn, "startDate": iso_time(record.info.start_time)})
}
