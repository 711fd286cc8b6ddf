//! Durable driving: executions whose every transition is committed to a [`Store`], driven by
//! workers that hold a lease, and resumed by any worker after a crash.
//!
//! A driver takes the execution's lease, restores the engine state from the last commit
//! (or starts it), and runs it with the in-memory runner's loop; at each checkpoint the new
//! history events and the snapshot are committed conditionally on the version it read.
//! Effects (task invocations, timers) are carried out only after the commit that records them,
//! so a crash can only repeat a task attempt (tasks are at-least-once, with a stable
//! idempotency key), never lose or double a transition.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tracing::Instrument;

use crate::asl::timestamp::after_seconds;
use crate::engine::execution::{Execution, Status};
use crate::engine::history::HistoryEvent;
use crate::engine::step::{step, Event};
use crate::runtime::clock::Clock;
use crate::runtime::driver::{drive_with, DriveStop, Persist};
pub use crate::runtime::machines::{
    start_execution, start_execution_of, start_target, MachineCache, StartError, StartTarget,
};
use crate::runtime::telemetry;
use crate::store::{Commit, Store, StoreError};
use crate::tasks::TaskInvoker;

/// How a worker drives executions.
#[derive(Debug, Clone)]
pub struct DurableOptions {
    /// The worker's name, unique among workers.
    pub owner: String,
    /// How long a lease lasts without renewal, ms.
    pub lease_ms: i64,
    /// Park (commit and let go) when the next timer is further than this, ms; `None`:
    /// wait in process.
    pub park_after_ms: Option<i64>,
    /// Skip waits instantly (tests, `run --virtual-clock`).
    pub virtual_clock: bool,
    /// Commit and let go by this time, ms since the epoch (a Lambda invocation's end, less a
    /// margin); `None`: no limit.
    pub deadline_ms: Option<i64>,
}

impl DurableOptions {
    /// Options for a worker named `owner`: 30 s leases, park after 2 s.
    pub fn worker(owner: impl Into<String>) -> Self {
        DurableOptions {
            owner: owner.into(),
            lease_ms: 30_000,
            park_after_ms: Some(2_000),
            virtual_clock: false,
            deadline_ms: None,
        }
    }
}

/// How a drive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveOutcome {
    /// The execution ended with this status.
    Finished(Status),
    /// Waiting for a timer; committed with its due time.
    Parked,
    /// Another worker holds the lease.
    Busy,
    /// Another worker took over mid-drive; nothing of ours after its takeover was committed.
    Lost,
    /// Stopped on request after committing.
    Stopped,
    /// The deadline came; everything is committed and the execution is due again (at once, or
    /// at a timer that ends after the deadline): the next driver goes on.
    Yielded,
}

/// Why driving failed.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored definition no longer loads.
    #[error("state machine {arn} cannot be loaded: {reason}")]
    BadMachine {
        /// The state machine.
        arn: String,
        /// Why.
        reason: String,
    },
}

struct StorePersist<'a, S: Store> {
    store: &'a S,
    arn: String,
    owner: String,
    version: u64,
    lease_ms: i64,
    lease_expires: i64,
    park_after_ms: Option<i64>,
    shutdown: Option<&'a AtomicBool>,
    /// Inbox messages applied before the first checkpoint, removed by it.
    consumed_inbox: usize,
    deadline: Option<i64>,
    /// What the state machine logs of the events each checkpoint commits.
    logs: Option<crate::runtime::logs::LogConfig>,
}

impl<S: Store> Persist for StorePersist<'_, S> {
    fn durable(&self) -> bool {
        true
    }

    async fn checkpoint(
        &mut self,
        exec: &mut Execution,
        events: &mut Vec<HistoryEvent>,
        due: Option<i64>,
        now: i64,
    ) -> Result<(), DriveStop> {
        if now > self.lease_expires - self.lease_ms / 3 {
            if !self
                .store
                .renew(&self.arn, &self.owner, now, self.lease_ms)
                .await?
            {
                return Err(DriveStop::Lost);
            }
            self.lease_expires = now + self.lease_ms;
        }
        let snapshot = exec.snapshot();
        let commit = Commit {
            arn: &self.arn,
            expected_version: self.version,
            owner: &self.owner,
            events: events.as_slice(),
            snapshot: &snapshot,
            due,
            consumed_inbox: self.consumed_inbox,
            due_now: due.is_some_and(|d| d <= now),
        };
        match self.store.commit(commit).await {
            Ok(v) => {
                self.version = v;
                self.consumed_inbox = 0;
                if let Some(logs) = &self.logs {
                    crate::runtime::logs::write(logs, &self.arn, exec.redrive_count, events);
                }
                telemetry::committed(exec, events);
                events.clear();
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => Err(DriveStop::Lost),
            Err(e) => Err(DriveStop::Store(e)),
        }
    }

    fn park_after_ms(&self) -> Option<i64> {
        self.park_after_ms
    }

    fn stop_requested(&self) -> bool {
        self.shutdown.is_some_and(|s| s.load(Ordering::Relaxed))
    }

    fn deadline(&self) -> Option<i64> {
        self.deadline
    }

    async fn inbox(&mut self) -> Result<Vec<crate::store::InboxMessage>, DriveStop> {
        let record = self
            .store
            .get_execution(&self.arn)
            .await?
            .ok_or(DriveStop::Lost)?;
        // The first `consumed_inbox` messages are applied already; the next commit removes
        // them with these.
        let fresh = record
            .inbox
            .get(self.consumed_inbox..)
            .unwrap_or_default()
            .to_vec();
        self.consumed_inbox = record.inbox.len();
        Ok(fresh)
    }
}

/// Applies callbacks delivered to the execution: task results become `TaskDone` events (stale
/// ones are ignored by `step`), heartbeats move the task's heartbeat deadline. The events
/// written join `log`; the commands are dropped, as the driver rebuilds what runs next from the
/// frames (pending work).
fn apply_inbox(
    exec: &mut Execution,
    inbox: &[crate::store::InboxMessage],
    log: &mut Vec<HistoryEvent>,
) {
    use crate::store::InboxKind;
    if inbox.is_empty() || exec.status != Status::Running {
        return;
    }
    for message in inbox {
        let result = match &message.kind {
            InboxKind::Success { output } => Ok(output.clone()),
            InboxKind::Failure { error, cause } => Err(crate::asl::error::StatesError {
                error: error.clone().unwrap_or_default(),
                cause: cause.clone(),
                location: None,
            }),
            InboxKind::Heartbeat => {
                let frame = exec.frames.get_mut(message.frame).and_then(Option::as_mut);
                if let Some(frame) = frame.filter(|f| f.wait == message.wait) {
                    if let Some(task) = frame.task.as_mut() {
                        if let Some(h) = task.heartbeat_seconds {
                            Arc::make_mut(task).heartbeat_at = Some(after_seconds(message.time, h));
                        }
                    }
                }
                continue;
            }
            InboxKind::Started { worker_name } => {
                let transition = step(
                    exec,
                    Event::TaskStarted {
                        frame: message.frame,
                        wait: message.wait,
                        worker_name: worker_name.clone(),
                        time: message.time,
                    },
                );
                log.extend(transition.events);
                continue;
            }
        };
        let transition = step(
            exec,
            Event::TaskDone {
                frame: message.frame,
                wait: message.wait,
                result,
                time: message.time,
            },
        );
        log.extend(transition.events);
    }
}

/// Drives execution `arn` as far as it goes now: to its end, or until it parks on a timer.
/// A pending stop request (StopExecution) is applied first: the execution ends ABORTED with
/// the request's error and cause. When a stop request arrives mid-drive, the drive's next
/// commit fails; the drive then lets its lease go and applies the stop at once.
///
/// # Errors
/// When the store fails or the stored definition does not load; what was committed stays.
pub async fn drive_execution<S: Store>(
    store: &S,
    arn: &str,
    invoker: Arc<dyn TaskInvoker>,
    machines: &MachineCache,
    options: &DurableOptions,
    shutdown: Option<&AtomicBool>,
) -> Result<DriveOutcome, DriveError> {
    let started = telemetry::drive_started();
    let result = drive_then_stop(store, arn, invoker, machines, options, shutdown)
        .instrument(telemetry::drive_span(arn))
        .await;
    telemetry::drive_ended(started, &result);
    result
}

/// [`drive_execution`] without its telemetry.
async fn drive_then_stop<S: Store>(
    store: &S,
    arn: &str,
    invoker: Arc<dyn TaskInvoker>,
    machines: &MachineCache,
    options: &DurableOptions,
    shutdown: Option<&AtomicBool>,
) -> Result<DriveOutcome, DriveError> {
    let outcome = drive_once(
        store,
        arn,
        Arc::clone(&invoker),
        machines,
        options,
        shutdown,
    )
    .await?;
    if outcome != DriveOutcome::Lost {
        return Ok(outcome);
    }
    // A commit refused for a stop request leaves the lease ours (releasing a lease another
    // worker took is a no-op).
    store.release(arn, &options.owner).await?;
    match store.get_execution(arn).await? {
        Some(record) if record.status == Status::Running && record.stop_request.is_some() => {
            drive_once(store, arn, invoker, machines, options, shutdown).await
        }
        _ => Ok(DriveOutcome::Lost),
    }
}

async fn drive_once<S: Store>(
    store: &S,
    arn: &str,
    invoker: Arc<dyn TaskInvoker>,
    machines: &MachineCache,
    options: &DurableOptions,
    shutdown: Option<&AtomicBool>,
) -> Result<DriveOutcome, DriveError> {
    let mut clock = Clock::new(options.virtual_clock);
    let now = clock.now();
    let Some(record) = store
        .acquire(arn, &options.owner, now, options.lease_ms)
        .await?
    else {
        return Ok(DriveOutcome::Busy);
    };
    telemetry::scheduled(record.due, now);
    let machine = machines.get(store, &record.info).await?;
    let mut exec = match record.snapshot.clone() {
        Some(snapshot) => Execution::restore(
            machine,
            record.info.clone(),
            record.input.clone(),
            snapshot,
            true,
        ),
        None => {
            let mut exec = Execution::new(machine, record.info.clone(), record.input.clone(), true);
            exec.input_text = record.input_text.as_deref().map(Arc::from);
            exec
        }
    };
    exec.durable = true;
    // Events written before the drive (a redrive, a stop, callbacks), committed by its first
    // checkpoint.
    let mut log = Vec::new();
    if record.status == Status::Running && exec.status != Status::Running {
        // Reopened by RedriveExecution: it goes on from the state that did not succeed.
        let history = store.history(arn).await?;
        let event =
            crate::runtime::redrive::redrive_event(&exec.machine, &record.input, &history, now);
        log.extend(step(&mut exec, event).events);
    }
    if let Some(stop) = &record.stop_request {
        if exec.last_event_id == 0 {
            // An execution stopped before any driver ran it gets its ExecutionStarted, and no
            // more: `Event::Start` would also run the start state (a machine of Pass states to
            // its end), so only its first event is kept.
            let mut started = exec.clone();
            let start = Event::Start {
                time: record.info.start_time.min(stop.time),
            };
            if let Some(event) = step(&mut started, start).events.into_iter().next() {
                exec.last_event_id = event.id;
                log.push(event);
            }
        }
        let stopped = step(
            &mut exec,
            Event::Stop {
                error: stop.error.clone(),
                cause: stop.cause.clone(),
                time: stop.time,
            },
        );
        log.extend(stopped.events);
    }
    apply_inbox(&mut exec, &record.inbox, &mut log);
    let mut persist = StorePersist {
        store,
        arn: arn.to_string(),
        owner: options.owner.clone(),
        version: record.version,
        lease_ms: options.lease_ms,
        lease_expires: now + options.lease_ms,
        park_after_ms: options.park_after_ms,
        shutdown,
        consumed_inbox: record.inbox.len(),
        logs: machines.logs_of(record.info.definition_arn()),
        deadline: options.deadline_ms,
    };
    let result = drive_with(&mut exec, invoker, &mut clock, &mut persist, &mut log).await;
    let outcome = match result {
        Ok(()) => DriveOutcome::Finished(exec.status),
        Err(DriveStop::Parked) => DriveOutcome::Parked,
        Err(DriveStop::Lost) => return Ok(DriveOutcome::Lost),
        Err(DriveStop::Stopped) => DriveOutcome::Stopped,
        Err(DriveStop::Deadline) => DriveOutcome::Yielded,
        Err(DriveStop::Store(e)) => {
            tracing::warn!(execution = arn, error = %e, "store failed; leaving the execution to be resumed");
            return Err(e.into());
        }
    };
    store.release(arn, &options.owner).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::error::StatesError;
    use crate::store::memory::MemoryStore;
    use crate::store::{MachineRecord, StopRequest};
    use crate::tasks::{Invocation, NoIntegrations};
    use serde_json::json;
    use serde_json::Value;

    fn machine(definition: Value) -> MachineRecord {
        MachineRecord {
            arn: "arn:aws:states:us-east-1:111111111111:stateMachine:m".into(),
            name: "m".into(),
            definition,
            kind: "STANDARD".into(),
            role_arn: "arn:aws:iam::111111111111:role/r".into(),
            created: 0,
            tags: Default::default(),
            definition_text: None,
            config: Default::default(),
            version: None,
            published: Default::default(),
        }
    }

    fn options(owner: &str) -> DurableOptions {
        DurableOptions {
            owner: owner.into(),
            lease_ms: 60_000,
            park_after_ms: None,
            virtual_clock: true,
            deadline_ms: None,
        }
    }

    #[tokio::test]
    async fn durable_run_commits_the_same_history_as_memory() {
        let store = MemoryStore::new();
        let def = json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {
                "P": {"Type": "Pass", "Parameters": {"x.$": "States.MathAdd($, 1)"}, "End": true}}},
                "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 3, "End": true}}});
        let m = machine(def.clone());
        store.put_machine(&m).await.expect("put");
        let rec = start_execution(&store, &m, "e1", json!([1, 2, 3]), 0)
            .await
            .expect("start");
        let out = drive_execution(
            &store,
            &rec.info.arn,
            Arc::new(NoIntegrations),
            &MachineCache::default(),
            &options("w1"),
            None,
        )
        .await
        .expect("drive");
        assert_eq!(out, DriveOutcome::Finished(Status::Succeeded));
        let stored = store
            .get_execution(&rec.info.arn)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(stored.output, Some(json!([{"x": 2}, {"x": 3}, {"x": 4}])));
        let history = store.history(&rec.info.arn).await.expect("history");
        let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>());
        assert_eq!(
            history.last().map(|e| e.event_type.as_str()),
            Some("ExecutionSucceeded")
        );
    }

    fn user_stop(time: i64) -> StopRequest {
        StopRequest {
            error: Some("User.Stop".into()),
            cause: Some("enough".into()),
            time,
        }
    }

    async fn assert_aborted(store: &MemoryStore, arn: &str, request: &StopRequest) {
        let record = store
            .get_execution(arn)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(record.status, Status::Aborted);
        assert_eq!(
            record.error,
            Some(StatesError {
                error: "User.Stop".into(),
                cause: Some("enough".into()),
                location: None,
            })
        );
        assert_eq!(record.stop_time, Some(request.time));
        assert_eq!((record.due, record.lease), (None, None));
        let history = store.history(arn).await.expect("history");
        assert_eq!(
            history.first().map(|e| e.event_type.as_str()),
            Some("ExecutionStarted")
        );
        let last = history.last().expect("events");
        assert_eq!(last.event_type, "ExecutionAborted");
        assert_eq!(last.timestamp, request.time);
        assert_eq!(
            last.details.get("executionAbortedEventDetails"),
            Some(&json!({"error": "User.Stop", "cause": "enough"}))
        );
    }

    #[tokio::test]
    async fn a_stop_request_aborts_a_parked_execution() {
        let store = MemoryStore::new();
        let m = machine(json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
            "P": {"Type": "Pass", "End": true}}}));
        store.put_machine(&m).await.expect("put");
        let rec = start_execution(&store, &m, "e", json!({}), 0)
            .await
            .expect("start");
        let arn = rec.info.arn.as_str();
        let mut parking = options("w1");
        parking.virtual_clock = false;
        parking.park_after_ms = Some(1_000);
        let drive = |o: DurableOptions| {
            let store = store.clone();
            async move {
                drive_execution(
                    &store,
                    arn,
                    Arc::new(NoIntegrations),
                    &MachineCache::default(),
                    &o,
                    None,
                )
                .await
                .expect("drive")
            }
        };
        assert_eq!(drive(parking).await, DriveOutcome::Parked);
        let now = crate::runtime::clock::real_now();
        let request = user_stop(now);
        assert!(store.request_stop(arn, &request).await.expect("stop"));
        assert_eq!(
            store.due_executions(now, 10).await.expect("due"),
            [arn],
            "due at once"
        );
        assert_eq!(
            drive(options("w2")).await,
            DriveOutcome::Finished(Status::Aborted)
        );
        assert_aborted(&store, arn, &request).await;
        let types: Vec<String> = store
            .history(arn)
            .await
            .expect("history")
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(
            types,
            ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
        );
    }

    #[tokio::test]
    async fn execution_started_is_stamped_with_the_start_time_not_the_first_drive() {
        let store = MemoryStore::new();
        let m = machine(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}));
        store.put_machine(&m).await.expect("put");
        // Started long before a worker drives it (the worker reads the real clock).
        let rec = start_execution(&store, &m, "e", json!({}), 1_000)
            .await
            .expect("start");
        let out = drive_execution(
            &store,
            &rec.info.arn,
            Arc::new(NoIntegrations),
            &MachineCache::default(),
            &options("w"),
            None,
        )
        .await
        .expect("drive");
        assert_eq!(out, DriveOutcome::Finished(Status::Succeeded));
        let history = store.history(&rec.info.arn).await.expect("history");
        assert_eq!(history[0].event_type, "ExecutionStarted");
        assert_eq!(history[0].timestamp, 1_000);
        let stamps: Vec<i64> = history.iter().map(|e| e.timestamp).collect();
        assert!(
            stamps.windows(2).all(|w| w[0] <= w[1]),
            "history never runs backwards: {stamps:?}"
        );
    }

    #[tokio::test]
    async fn a_stop_request_aborts_an_execution_never_driven() {
        let store = MemoryStore::new();
        let m = machine(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}));
        store.put_machine(&m).await.expect("put");
        let rec = start_execution(&store, &m, "e", json!({}), 10)
            .await
            .expect("start");
        let request = user_stop(20);
        assert!(store
            .request_stop(&rec.info.arn, &request)
            .await
            .expect("stop"));
        let out = drive_execution(
            &store,
            &rec.info.arn,
            Arc::new(NoIntegrations),
            &MachineCache::default(),
            &options("w"),
            None,
        )
        .await
        .expect("drive");
        assert_eq!(out, DriveOutcome::Finished(Status::Aborted));
        assert_aborted(&store, &rec.info.arn, &request).await;
        assert_eq!(
            store.history(&rec.info.arn).await.expect("history").len(),
            2
        );
    }

    /// Tasks that start when asked and finish when the test lets them.
    struct GatedInvoker {
        started: Arc<tokio::sync::Notify>,
        gate: Arc<tokio::sync::Notify>,
    }

    impl TaskInvoker for GatedInvoker {
        fn invoke(&self, _request: &crate::engine::task::TaskRequest) -> Invocation {
            self.started.notify_one();
            let gate = Arc::clone(&self.gate);
            Invocation::Pending(Box::pin(async move {
                gate.notified().await;
                Ok(json!("done"))
            }))
        }
    }

    #[tokio::test]
    async fn a_stop_request_mid_drive_aborts_the_execution() {
        let store = MemoryStore::new();
        let m = machine(json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
                  "Next": "P"},
            "P": {"Type": "Pass", "End": true}}}));
        store.put_machine(&m).await.expect("put");
        let rec = start_execution(&store, &m, "e", json!({}), 0)
            .await
            .expect("start");
        let arn = rec.info.arn.clone();
        let started = Arc::new(tokio::sync::Notify::new());
        let gate = Arc::new(tokio::sync::Notify::new());
        let invoker = Arc::new(GatedInvoker {
            started: Arc::clone(&started),
            gate: Arc::clone(&gate),
        });
        let driving = {
            let (store, arn) = (store.clone(), arn.clone());
            tokio::spawn(async move {
                drive_execution(
                    &store,
                    &arn,
                    invoker,
                    &MachineCache::default(),
                    &options("w1"),
                    None,
                )
                .await
            })
        };
        started.notified().await;
        let request = user_stop(crate::runtime::clock::real_now());
        assert!(store.request_stop(&arn, &request).await.expect("stop"));
        gate.notify_one();
        let out = driving.await.expect("task").expect("drive");
        assert_eq!(out, DriveOutcome::Finished(Status::Aborted));
        assert_aborted(&store, &arn, &request).await;
        let history = store.history(&arn).await.expect("history");
        assert!(
            !history.iter().any(|e| e.event_type == "TaskSucceeded"),
            "the task result that came after the stop request is not committed: {history:?}"
        );
    }

    #[tokio::test]
    async fn same_name_same_input_is_idempotent_and_other_input_is_rejected() {
        let store = MemoryStore::new();
        let m = machine(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}));
        store.put_machine(&m).await.expect("put");
        let a = start_execution(&store, &m, "x", json!({"a": 1}), 5)
            .await
            .expect("start");
        let b = start_execution(&store, &m, "x", json!({"a": 1}), 9)
            .await
            .expect("start again");
        assert_eq!(a.info, b.info);
        let err = start_execution(&store, &m, "x", json!({"a": 2}), 9)
            .await
            .expect_err("other input");
        assert!(matches!(err, StartError::AlreadyExists(_)));
    }

    #[tokio::test]
    async fn a_worker_resumes_where_a_lost_one_stopped() {
        let store = MemoryStore::new();
        let m = machine(json!({"StartAt": "W1", "States": {
            "W1": {"Type": "Wait", "Seconds": 10, "Next": "P"},
            "P": {"Type": "Pass", "Result": "done", "End": true}}}));
        store.put_machine(&m).await.expect("put");
        let rec = start_execution(&store, &m, "e", json!({}), 0)
            .await
            .expect("start");
        // A real-clock worker parks on the 10 s wait.
        let mut parking = options("w1");
        parking.virtual_clock = false;
        parking.park_after_ms = Some(1_000);
        let out = drive_execution(
            &store,
            &rec.info.arn,
            Arc::new(NoIntegrations),
            &MachineCache::default(),
            &parking,
            None,
        )
        .await
        .expect("drive");
        assert_eq!(out, DriveOutcome::Parked);
        let parked = store
            .get_execution(&rec.info.arn)
            .await
            .expect("get")
            .expect("exists");
        assert!(parked.due.is_some_and(|d| d > 0));
        assert_eq!(parked.lease, None);
        // Another worker, on a virtual clock, finishes it.
        let out = drive_execution(
            &store,
            &rec.info.arn,
            Arc::new(NoIntegrations),
            &MachineCache::default(),
            &options("w2"),
            None,
        )
        .await
        .expect("drive");
        assert_eq!(out, DriveOutcome::Finished(Status::Succeeded));
        let history = store.history(&rec.info.arn).await.expect("history");
        let types: Vec<&str> = history.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "ExecutionStarted",
                "WaitStateEntered",
                "WaitStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
    }
}

#[cfg(test)]
mod callback_tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::{InboxKind, InboxMessage};
    use crate::tasks::NoIntegrations;
    use serde_json::json;
    use serde_json::Value;

    fn options(owner: &str) -> DurableOptions {
        DurableOptions {
            owner: owner.into(),
            lease_ms: 60_000,
            park_after_ms: Some(2_000),
            virtual_clock: false,
            deadline_ms: None,
        }
    }

    async fn setup(definition: Value) -> (MemoryStore, String) {
        let store = MemoryStore::new();
        let m = crate::runtime::commands::machine_record("cb", definition, 0);
        store.put_machine(&m).await.expect("put");
        let rec = start_execution(&store, &m, "e", json!({"n": 1}), 0)
            .await
            .expect("start");
        (store, rec.info.arn)
    }

    async fn drive(store: &MemoryStore, arn: &str) -> DriveOutcome {
        drive_execution(
            store,
            arn,
            Arc::new(NoIntegrations),
            &MachineCache::default(),
            &options("w"),
            None,
        )
        .await
        .expect("drive")
    }

    /// The token the task was given, read back from its TaskScheduled parameters.
    async fn token(store: &MemoryStore, arn: &str) -> (String, usize, u64) {
        let history = store.history(arn).await.expect("history");
        let scheduled = history
            .iter()
            .rev()
            .find(|e| e.event_type == "TaskScheduled")
            .expect("a task was scheduled");
        let params: Value = serde_json::from_str(
            scheduled.details["taskScheduledEventDetails"]["parameters"]
                .as_str()
                .expect("parameters"),
        )
        .expect("json");
        let token = params["token"].as_str().expect("token").to_string();
        let (a, frame, wait) = crate::engine::task::parse_task_token(&token).expect("ours");
        assert_eq!(a, arn);
        (token, frame, wait)
    }

    fn callback_machine(extra: Value) -> Value {
        let mut task = json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}, "token.$": "$$.Task.Token"},
            "Catch": [{"ErrorEquals": ["Job.Failed"], "ResultPath": "$.failure", "Next": "Caught"}],
            "Next": "Done"});
        if let (Some(t), Some(e)) = (task.as_object_mut(), extra.as_object()) {
            t.extend(e.clone());
        }
        json!({"StartAt": "Wait4Callback", "States": {
            "Wait4Callback": task,
            "Caught": {"Type": "Pass", "End": true},
            "Done": {"Type": "Pass", "End": true}}})
    }

    #[tokio::test]
    async fn a_wait_for_task_token_task_parks_until_its_callback() {
        let (store, arn) = setup(callback_machine(json!({}))).await;
        assert_eq!(drive(&store, &arn).await, DriveOutcome::Parked);
        let parked = store
            .get_execution(&arn)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(parked.due, None, "nothing but a callback can move it");
        let (_, frame, wait) = token(&store, &arn).await;
        let message = InboxMessage {
            frame,
            wait,
            kind: InboxKind::Success {
                output: json!({"ok": true}),
            },
            time: 5,
        };
        assert!(store.deliver(&arn, &message).await.expect("deliver"));
        assert_eq!(
            drive(&store, &arn).await,
            DriveOutcome::Finished(Status::Succeeded)
        );
        let done = store
            .get_execution(&arn)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(done.output, Some(json!({"ok": true})));
        assert!(done.inbox.is_empty(), "the applied callback is consumed");
    }

    #[tokio::test]
    async fn a_failure_callback_goes_through_catch_and_a_stale_one_is_ignored() {
        let (store, arn) = setup(callback_machine(json!({}))).await;
        assert_eq!(drive(&store, &arn).await, DriveOutcome::Parked);
        let (_, frame, wait) = token(&store, &arn).await;
        let stale = InboxMessage {
            frame,
            wait: wait + 7,
            kind: InboxKind::Success { output: json!(1) },
            time: 5,
        };
        assert!(store.deliver(&arn, &stale).await.expect("deliver"));
        let failure = InboxMessage {
            frame,
            wait,
            kind: InboxKind::Failure {
                error: Some("Job.Failed".into()),
                cause: Some("disk full".into()),
            },
            time: 6,
        };
        assert!(store.deliver(&arn, &failure).await.expect("deliver"));
        assert_eq!(
            drive(&store, &arn).await,
            DriveOutcome::Finished(Status::Succeeded)
        );
        let done = store
            .get_execution(&arn)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(
            done.output,
            Some(json!({"n": 1, "failure": {"Error": "Job.Failed", "Cause": "disk full"}}))
        );
    }

    #[tokio::test]
    async fn a_missed_heartbeat_fails_with_heartbeat_timeout() {
        let (store, arn) = setup(callback_machine(json!({"HeartbeatSeconds": 1}))).await;
        let first = drive(&store, &arn).await;
        let second = if first == DriveOutcome::Parked {
            drive(&store, &arn).await
        } else {
            first
        };
        assert_eq!(second, DriveOutcome::Finished(Status::Failed));
        let done = store
            .get_execution(&arn)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(
            done.error.map(|e| e.error),
            Some("States.Timeout".to_string())
        );
    }
}
