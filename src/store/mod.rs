//! Durable storage of state machines, executions and their history: the [`Store`] trait and
//! its backends (memory, DynamoDB), which behave the same.
//!
//! A commit is the unit of durability: the new history events and the execution's snapshot
//! are written, then the execution record moves from `expected_version` to the next version
//! in one conditional write. A writer whose expected version or lease is stale gets
//! [`StoreError::Conflict`] and must reload; so two workers racing on one execution cannot both
//! apply a step. Readers see history only up to the committed `last_event_id`.
//!
//! A stop request ([`Store::request_stop`]) fences the execution the same way: while one is
//! pending on a RUNNING execution, every commit fails with [`StoreError::Conflict`] except the
//! one that ends the execution as ABORTED, so a worker mid-drive loses its run and the next
//! driver (the execution is made due at once) applies the stop.
//!
//! Task callbacks reach an execution through its inbox ([`Store::deliver`]): delivery appends
//! a message and makes the execution due without touching `version`, and the commit that
//! applies messages removes exactly the ones it consumed ([`Commit::consumed_inbox`], counted
//! from the front of the inbox the writer read), keeping any delivered since.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::asl::error::StatesError;
use crate::engine::execution::{ExecutionInfo, Snapshot, Status};
use crate::engine::history::HistoryEvent;

pub mod any;
pub mod capacity;
pub mod dynamodb;
pub mod memory;

pub use any::{AnyStore, StoreConfig, StoreKind};

#[cfg(test)]
pub(crate) mod suite;
#[cfg(test)]
pub(crate) mod suite_history;
#[cfg(test)]
pub(crate) mod suite_map_runs;
#[cfg(test)]
pub(crate) mod suite_queue;

/// Names and ARNs of execution `name` of state machine `machine`, for the store's tests.
#[cfg(test)]
pub(crate) fn test_info(machine: &str, name: &str, start_time: i64) -> ExecutionInfo {
    let prefix = "arn:aws:states:us-east-1:111111111111";
    ExecutionInfo {
        arn: format!("{prefix}:execution:{machine}:{name}"),
        name: name.to_string(),
        state_machine_arn: format!("{prefix}:stateMachine:{machine}"),
        state_machine_name: machine.to_string(),
        role_arn: "arn:aws:iam::111111111111:role/stepfn".to_string(),
        start_time,
        origin: Default::default(),
    }
}

/// A stored state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineRecord {
    /// `arn:aws:states:<region>:<account>:stateMachine:<name>`.
    pub arn: String,
    /// The name.
    pub name: String,
    /// The definition, as JSON.
    pub definition: Value,
    /// `STANDARD` or `EXPRESS`.
    pub kind: String,
    /// The role executions run as.
    pub role_arn: String,
    /// Creation time, ms since the epoch.
    pub created: i64,
    /// Tags, key to value; part of the record (`put_machine` replaces them with it).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The definition exactly as given (DescribeStateMachine returns it unchanged).
    #[serde(default)]
    pub definition_text: Option<String>,
    /// Its configuration beyond the definition, as the API shows it.
    #[serde(default)]
    pub config: MachineConfig,
    /// For a version (ARN `<machine>:<n>`): which machine and number it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionOf>,
    /// For a state machine: the versions published of it and its aliases.
    #[serde(default, skip_serializing_if = "Published::is_empty")]
    pub published: Published,
}

impl MachineRecord {
    /// The state machine's ARN: its own, or for a version the machine's it was published of.
    pub fn machine_arn(&self) -> &str {
        self.version.as_ref().map_or(&self.arn, |v| &v.machine_arn)
    }

    /// True for a state machine itself (not a version, not a kept revision).
    pub fn is_machine(&self) -> bool {
        self.version.is_none() && !self.arn.contains('@')
    }
}

/// Where a state machine's record is kept once an update replaced `revision` of it (`None`:
/// the definition it was created with), for the executions still running it.
pub fn revision_key(machine_arn: &str, revision: Option<&str>) -> String {
    format!("{machine_arn}@{}", revision.unwrap_or("created"))
}

/// A published version: an immutable copy of a state machine's definition and configuration,
/// stored as its own [`MachineRecord`] under the ARN `<machine arn>:<number>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionOf {
    /// The state machine's ARN.
    pub machine_arn: String,
    /// Its number, from 1, never reused.
    pub number: u64,
    /// `versionDescription`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A state machine's versions (numbers, for listing and idempotent publishing) and aliases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The highest number ever published (numbers are not reused after a delete).
    #[serde(default)]
    pub last: u64,
    /// The versions that exist, oldest first.
    #[serde(default)]
    pub versions: Vec<VersionEntry>,
    /// The aliases, oldest first.
    #[serde(default)]
    pub aliases: Vec<AliasRecord>,
    /// The replaced revisions kept for running executions ([`revision_key`]s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_revisions: Vec<String>,
}

impl Published {
    /// True before anything was published.
    pub fn is_empty(&self) -> bool {
        self == &Published::default()
    }
}

/// One existing version of a state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    /// Its number.
    pub number: u64,
    /// When it was published, ms since the epoch.
    pub created: i64,
    /// The state machine revision it was published from (none before the first update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_id: Option<String>,
}

/// An alias of a state machine: a name that routes executions to one or two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    /// The alias name (the ARN is `<machine arn>:<name>`).
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Version ARNs with their weights (percent, summing to 100).
    pub routing: Vec<(String, u32)>,
    /// Creation time, ms since the epoch.
    pub created: i64,
    /// Last update time, ms since the epoch.
    pub updated: i64,
}

/// A state machine's configuration as CreateStateMachine and UpdateStateMachine set it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineConfig {
    /// The revision the last UpdateStateMachine made (none before the first update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_id: Option<String>,
    /// `loggingConfiguration` as given (default: level OFF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Value>,
    /// `tracingConfiguration` as given (default: disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Value>,
    /// `encryptionConfiguration` as given (default: an AWS-owned key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Value>,
}

/// A request to stop a running execution (StopExecution), applied by the next driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequest {
    /// The error to record.
    pub error: Option<String>,
    /// The cause to record.
    pub cause: Option<String>,
    /// When it was requested, ms since the epoch; the execution's stop time.
    pub time: i64,
}

/// A message for a running execution from outside (a task callback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxMessage {
    /// The frame whose task the message is for.
    pub frame: usize,
    /// The frame's wait number the message is for (stale when the frame has moved on).
    pub wait: u64,
    /// What happened.
    pub kind: InboxKind,
    /// When it was sent, ms since the epoch.
    pub time: i64,
}

/// What an [`InboxMessage`] reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InboxKind {
    /// SendTaskSuccess.
    Success {
        /// The task output.
        output: Value,
    },
    /// SendTaskFailure.
    Failure {
        /// The error.
        error: Option<String>,
        /// The cause.
        cause: Option<String>,
    },
    /// SendTaskHeartbeat.
    Heartbeat,
    /// GetActivityTask handed the task to a worker.
    Started {
        /// The `workerName` the worker gave.
        worker_name: Option<String>,
    },
}

/// At most this many messages wait in an execution's inbox; [`Store::deliver`] refuses more.
pub const INBOX_MAX_MESSAGES: usize = 100;

/// The largest message (serialized as JSON) [`Store::deliver`] accepts.
pub const INBOX_MAX_BYTES: usize = 300 * 1024;

/// Whether `message` is too large for an inbox.
pub(crate) fn inbox_message_too_large(message: &InboxMessage) -> bool {
    serde_json::to_vec(message).map_or(true, |v| v.len() > INBOX_MAX_BYTES)
}

/// A Distributed Map's Map Run, as DescribeMapRun shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunRecord {
    /// `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>`.
    pub arn: String,
    /// The parent execution.
    pub execution_arn: String,
    /// The child state machine (`<machine>/<label>`).
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED` or `ABORTED`.
    pub status: String,
    /// Start time, ms since the epoch.
    pub start: i64,
    /// Stop time, ms since the epoch.
    #[serde(default)]
    pub stop: Option<i64>,
    /// Child executions at once, at most (UpdateMapRun changes it while it runs).
    pub max_concurrency: u64,
    /// Child failures tolerated, as a count.
    pub tolerated_failure_count: i64,
    /// Child failures tolerated, as a percentage.
    pub tolerated_failure_percentage: f64,
    /// `STANDARD` or `EXPRESS` children.
    pub execution_type: String,
    /// Child executions in all.
    pub total: u64,
    /// Child executions that succeeded.
    #[serde(default)]
    pub succeeded: u64,
    /// Child executions that failed, timed out or were aborted.
    #[serde(default)]
    pub failed: u64,
    /// Child executions running.
    #[serde(default)]
    pub running: u64,
    /// Items in all (more than `total` when an `ItemBatcher` batches them).
    #[serde(default)]
    pub items_total: u64,
    /// Items of child executions that succeeded.
    #[serde(default)]
    pub items_succeeded: u64,
    /// Items of child executions that failed, timed out or were aborted.
    #[serde(default)]
    pub items_failed: u64,
    /// Items of child executions running.
    #[serde(default)]
    pub items_running: u64,
    /// Of `failed`, the child executions that timed out.
    #[serde(default)]
    pub timed_out: u64,
    /// Of `failed`, the child executions that were aborted.
    #[serde(default)]
    pub aborted: u64,
    /// Of `items_failed`, the items of child executions that timed out.
    #[serde(default)]
    pub items_timed_out: u64,
    /// Of `items_failed`, the items of child executions that were aborted.
    #[serde(default)]
    pub items_aborted: u64,
}

/// A small document kept by key within a kind (schedules, schedule groups, event rules):
/// what the layers above keep beside executions, each with a version for conditional writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The key, unique within its kind.
    pub key: String,
    /// The document.
    pub body: Value,
    /// Its version: 1 when created, one more at each write.
    pub version: u64,
}

/// The condition a resource write or delete holds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Only when no resource has the key (create).
    Absent,
    /// Only when the resource exists at this version (compare and swap).
    Version(u64),
    /// Only when the resource exists, at any version (update).
    Present,
    /// Whatever is there.
    Any,
}

/// The largest resource body (serialized as JSON) [`Store::put_resource`] accepts.
pub const RESOURCE_MAX_BYTES: usize = 300 * 1024;

impl Expect {
    /// Whether the condition holds for a resource at `version` (`None`: there is none).
    pub fn holds(self, version: Option<u64>) -> bool {
        match self {
            Expect::Absent => version.is_none(),
            Expect::Version(v) => version == Some(v),
            Expect::Present => version.is_some(),
            Expect::Any => true,
        }
    }
}

pub(crate) fn check_resource_size(kind: &str, key: &str, body: &Value) -> Result<(), StoreError> {
    let size = serde_json::to_string(body).map(|t| t.len()).unwrap_or(0);
    if size > RESOURCE_MAX_BYTES {
        return Err(StoreError::Backend {
            context: format!("put {kind} {key}"),
            source: format!(
                "the {kind} is {size} bytes, over the {RESOURCE_MAX_BYTES} bytes a resource may hold"
            )
            .into(),
        });
    }
    Ok(())
}

/// The order in which workers take due executions (`--scheduling`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scheduling {
    /// By due time, oldest first.
    #[default]
    Fifo,
    /// Higher priority first (the execution's queue key), by due time within a priority.
    Priority,
    /// Weighted-fair across fairness keys (tenants): each key gets its weight's share of the
    /// executions taken, and within a key, higher priority first, then by due time.
    Fair,
}

impl Scheduling {
    /// The policy named `name` (`fifo`, `priority`, `fair`).
    pub fn parse(name: &str) -> Option<Scheduling> {
        match name {
            "fifo" => Some(Scheduling::Fifo),
            "priority" => Some(Scheduling::Priority),
            "fair" => Some(Scheduling::Fair),
            _ => None,
        }
    }
}

/// A stored activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// `arn:aws:states:<region>:<account>:activity:<name>`.
    pub arn: String,
    /// The name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created: i64,
    /// Tags, key to value; part of the record (`put_activity` replaces them with it).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A task waiting for an activity worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityTask {
    /// The task token (unique per task; enqueuing is idempotent on it).
    pub token: String,
    /// The task input.
    pub input: Value,
    /// When it was enqueued, ms since the epoch; tasks are taken oldest first.
    pub enqueued: i64,
}

/// The largest activity task (serialized as JSON) [`Store::enqueue_activity_task`] accepts
/// (Step Functions caps a task input at 256 KiB).
pub const ACTIVITY_TASK_MAX_BYTES: usize = 300 * 1024;

/// The error for an activity task larger than [`ACTIVITY_TASK_MAX_BYTES`], if it is.
pub(crate) fn check_activity_task_size(
    activity_arn: &str,
    task: &ActivityTask,
) -> Result<(), StoreError> {
    let len = serde_json::to_vec(task).map_or(usize::MAX, |v| v.len());
    if len > ACTIVITY_TASK_MAX_BYTES {
        return Err(StoreError::Backend {
            context: format!("enqueue activity task {} of {activity_arn}", task.token),
            source: format!("the task is {len} bytes of JSON, more than {ACTIVITY_TASK_MAX_BYTES}")
                .into(),
        });
    }
    Ok(())
}

/// Who may drive an execution, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The worker holding it.
    pub owner: String,
    /// When it lapses, ms since the epoch.
    pub expires: i64,
}

/// A stored execution: what DescribeExecution shows and what a worker needs to resume it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// Names, ARNs and start time.
    pub info: ExecutionInfo,
    /// The execution input.
    pub input: Value,
    /// The input as the caller sent it (DescribeExecution and the history show this text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_text: Option<String>,
    /// Status.
    pub status: Status,
    /// The output, once succeeded.
    pub output: Option<Value>,
    /// The error, once failed, timed out or aborted.
    pub error: Option<StatesError>,
    /// When it ended.
    pub stop_time: Option<i64>,
    /// Commits so far; 0 for an execution nobody has started driving.
    pub version: u64,
    /// The last committed history event.
    pub last_event_id: u64,
    /// The engine state after the last commit (`None` before the first).
    pub snapshot: Option<Snapshot>,
    /// When a worker should drive it next; `None` when it waits for nothing a worker does.
    pub due: Option<i64>,
    /// The current lease.
    pub lease: Option<Lease>,
    /// A pending (or, once the execution ended, the applied) stop request.
    #[serde(default)]
    pub stop_request: Option<StopRequest>,
    /// Messages delivered and not yet consumed by a commit, oldest first.
    #[serde(default)]
    pub inbox: Vec<InboxMessage>,
    /// Its redrives (RedriveExecution).
    #[serde(default)]
    pub redrive: Redrives,
}

/// What RedriveExecution did to an execution: how many redrives, when the last one was, and
/// the client tokens of the last ten with their times (a token repeated within 15 minutes
/// answers the same redrive). A reopened execution (RUNNING, its snapshot still closed) is
/// redriven by the next driver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redrives {
    /// Redrives so far.
    #[serde(default)]
    pub count: u32,
    /// When the last one was asked for, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<i64>,
    /// Client tokens of the last redrives, with the redrive time each answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<(String, i64)>,
}

impl Redrives {
    /// True before the first redrive.
    pub fn is_empty(&self) -> bool {
        self == &Redrives::default()
    }
}

impl ExecutionRecord {
    /// A new execution, not yet driven: due at once.
    pub fn new(info: ExecutionInfo, input: Value) -> Self {
        let due = Some(info.start_time);
        ExecutionRecord {
            info,
            input,
            input_text: None,
            status: Status::Running,
            output: None,
            error: None,
            stop_time: None,
            version: 0,
            last_event_id: 0,
            snapshot: None,
            due,
            lease: None,
            stop_request: None,
            inbox: Vec::new(),
            redrive: Redrives::default(),
        }
    }
}

/// One atomic step forward of an execution.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The execution.
    pub arn: &'a str,
    /// The version the writer read; the commit fails unless it is still current.
    pub expected_version: u64,
    /// The writer; the commit fails unless it holds the lease.
    pub owner: &'a str,
    /// The new history events, contiguous after the committed `last_event_id`.
    pub events: &'a [HistoryEvent],
    /// The engine state after these events.
    pub snapshot: &'a Snapshot,
    /// When a worker should drive the execution next.
    pub due: Option<i64>,
    /// How many messages from the front of the inbox the writer read this commit applied;
    /// the commit removes exactly those (messages delivered since stay).
    pub consumed_inbox: usize,
    /// True when `due` is no later than the time of the commit and the writer goes on
    /// driving: should it stop, the execution is due at once, so a backend may keep an earlier
    /// due time it stored (its lease keeps other workers away until it lapses or is let go).
    pub due_now: bool,
}

/// What `create_execution` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// A new execution was stored.
    New,
    /// An execution with that ARN already exists; here it is.
    Existing(Box<ExecutionRecord>),
}

/// A host error of a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The execution does not exist.
    #[error("execution {0} not found")]
    NotFound(String),
    /// Someone else committed first, or took the lease.
    #[error("stale write to {arn}: expected version {expected}")]
    Conflict {
        /// The execution.
        arn: String,
        /// The version the writer expected.
        expected: u64,
    },
    /// The backend failed (after its retries).
    #[error("{context}: {source}")]
    Backend {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Stored data could not be read back.
    #[error("corrupt stored data for {what}: {reason}")]
    Corrupt {
        /// Which item.
        what: String,
        /// Why.
        reason: String,
    },
}

/// Durable storage of state machines, executions and history.
pub trait Store: Send + Sync + 'static {
    /// Reopens closed execution `arn` for a redrive: if it is still at `expected_version` and
    /// closed, makes it RUNNING and due at `now` with `redrive` as its redrives (its applied
    /// stop request dropped, its version moved on); the next driver applies the redrive. False
    /// when it changed or is running.
    fn reopen(
        &self,
        arn: &str,
        expected_version: u64,
        redrive: &Redrives,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a state machine (replacing one with the same ARN).
    fn put_machine(
        &self,
        machine: &MachineRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads a state machine.
    fn get_machine(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<MachineRecord>, StoreError>> + Send;

    /// Every stored state machine, by creation time, then name.
    fn list_machines(&self) -> impl Future<Output = Result<Vec<MachineRecord>, StoreError>> + Send;

    /// Deletes a state machine; true when it existed. Its executions stay, and running ones
    /// may finish (as in Step Functions).
    fn delete_machine(&self, arn: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a Map Run (replacing one with the same ARN).
    fn put_map_run(
        &self,
        run: &MapRunRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads a Map Run.
    fn get_map_run(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<MapRunRecord>, StoreError>> + Send;

    /// The Map Runs of execution `execution_arn`, oldest first.
    fn list_map_runs(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = Result<Vec<MapRunRecord>, StoreError>> + Send;

    /// Writes resource `key` of `kind` if `expect` holds; returns its new version, or `None`
    /// (and changes nothing) when the condition failed.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the body is larger than [`RESOURCE_MAX_BYTES`].
    fn put_resource(
        &self,
        kind: &str,
        key: &str,
        body: &Value,
        expect: Expect,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Reads resource `key` of `kind`, strongly consistent.
    fn get_resource(
        &self,
        kind: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Resource>, StoreError>> + Send;

    /// Every resource of `kind`, by key.
    fn list_resources(
        &self,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<Resource>, StoreError>> + Send;

    /// Deletes resource `key` of `kind` if `expect` holds (with [`Expect::Absent`] nothing is
    /// deleted); true when it was deleted.
    fn delete_resource(
        &self,
        kind: &str,
        key: &str,
        expect: Expect,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores an activity (replacing one with the same ARN).
    fn put_activity(
        &self,
        activity: &ActivityRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads an activity.
    fn get_activity(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<ActivityRecord>, StoreError>> + Send;

    /// Every stored activity, by creation time, then name.
    fn list_activities(
        &self,
    ) -> impl Future<Output = Result<Vec<ActivityRecord>, StoreError>> + Send;

    /// Deletes an activity; true when it existed. Its queued tasks stay (and can still be
    /// taken).
    fn delete_activity(&self, arn: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Queues `task` for the workers of activity `activity_arn`, unless a task with its token
    /// is queued there or was taken (then nothing changes: enqueuing is idempotent on the
    /// token, so a worker that takes an execution over, or drives it again after a heartbeat,
    /// may enqueue again without handing the task out twice). Does not check that the
    /// activity exists.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the task is larger than [`ACTIVITY_TASK_MAX_BYTES`].
    fn enqueue_activity_task(
        &self,
        activity_arn: &str,
        task: &ActivityTask,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes and returns the oldest queued task of activity `activity_arn` (by `enqueued`,
    /// then token); `None` when none is queued. Two concurrent takers never get the same task.
    fn take_activity_task(
        &self,
        activity_arn: &str,
    ) -> impl Future<Output = Result<Option<ActivityTask>, StoreError>> + Send;

    /// Stores a new execution unless one with its ARN exists.
    fn create_execution(
        &self,
        record: &ExecutionRecord,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// Reads an execution.
    fn get_execution(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<ExecutionRecord>, StoreError>> + Send;

    /// The executions of state machine `machine_arn`, newest start first (equal starts: name
    /// descending).
    ///
    /// These are summaries, to keep a listing cheap (what ListExecutions shows): `info`,
    /// `status`, `stop_time` and `stop_request` are as [`Store::get_execution`] has them; the
    /// rest is left out: `snapshot`, `output`, `error`, `due` and `lease` are `None`, `input`
    /// is `null`, `version` and `last_event_id` are 0, `inbox` is empty. A backend may answer from an index
    /// that lags the latest writes by a moment, as Step Functions' ListExecutions does.
    fn list_executions(
        &self,
        machine_arn: &str,
    ) -> impl Future<Output = Result<Vec<ExecutionRecord>, StoreError>> + Send;

    /// Asks a RUNNING execution to stop: records `request` unless a request is already
    /// pending (the first one wins) and makes the execution due at once, so a worker picks it
    /// up and applies it. From then on commits fail with [`StoreError::Conflict`] unless they
    /// end the execution as ABORTED. Returns false (and changes nothing) when the execution is
    /// not running.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such execution.
    fn request_stop(
        &self,
        arn: &str,
        request: &StopRequest,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Delivers `message` to a RUNNING execution: appends it to the inbox and makes the
    /// execution due at once (at `message.time`), so a worker picks it up. Does not change
    /// `version`, so it does not conflict with a commit in flight: that commit removes only
    /// the messages it consumed. Returns false (and changes nothing) when the execution is not
    /// running, when [`INBOX_MAX_MESSAGES`] messages are already waiting, or when the message
    /// is larger than [`INBOX_MAX_BYTES`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such execution.
    fn deliver(
        &self,
        arn: &str,
        message: &InboxMessage,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Commits a step: events and snapshot, then the conditional version bump. Returns the
    /// new version.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the version or the lease is stale, or when a stop request
    /// is pending and this commit does not end the execution as ABORTED.
    fn commit(&self, commit: Commit<'_>) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The committed history of an execution, in event order.
    fn history(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Vec<HistoryEvent>, StoreError>> + Send;

    /// The committed events of an execution with ids `from..=to` (event ids start at 1; the
    /// range is clipped to the last committed event, and is empty when `from > to`), in event
    /// order: a page of the history, read in time proportional to the page rather than to the
    /// history (GetExecutionHistory's pages, `stepfn history`, the console).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such execution.
    fn history_range(
        &self,
        arn: &str,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<HistoryEvent>, StoreError>> + Send;

    /// Takes the lease of an execution when it is free, lapsed, or already `owner`'s, and
    /// returns the record; `None` when another worker holds it or the execution is over.
    fn acquire(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> impl Future<Output = Result<Option<ExecutionRecord>, StoreError>> + Send;

    /// Extends `owner`'s lease; false when it was lost.
    fn renew(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives up `owner`'s lease (no-op when not held).
    fn release(
        &self,
        arn: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// As [`Store::due_executions`], in the order `scheduling` says: the default is FIFO (by
    /// due time); a backend that keeps queue keys orders by priority or shares fairly.
    fn due_queue(
        &self,
        now: i64,
        limit: usize,
        scheduling: Scheduling,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        let _ = scheduling;
        self.due_executions(now, limit)
    }

    /// How many running executions are parked: due later than `now` (a Wait, a retry, a
    /// timeout) and held by no worker. Executions waiting for a callback with no timeout have
    /// no due time and are not counted.
    fn count_parked(&self, now: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Running executions due by `now` whose lease is free or lapsed, at most `limit`.
    fn due_executions(
        &self,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}
