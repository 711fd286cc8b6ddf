//! What the runtime tells an operator: the metrics it records (through the `metrics` facade;
//! the console installs the Prometheus recorder and renders them) and the tracing spans of
//! drives and task invocations.
//!
//! Executions are counted where their start and end become true, once each: for a durable
//! execution at the commit that writes `ExecutionStarted` or its end event (a commit is
//! conditional, so a second worker or a takeover cannot count it again), for an in-memory
//! (express) execution when its only drive starts and ends. The engine records nothing: its hot path
//! stays a pure `step`. Recording is off until [`enable`] (the console calls it when it
//! installs the recorder); until then, as under `stepfn run` and in the benches, a hook costs
//! one atomic load per execution and per task invocation, and nothing more unless a tracing
//! subscriber wants the spans.
//!
//! The names follow CloudWatch's Step Functions metrics (`ExecutionsStarted` is
//! `stepfn_executions_started_total`, `ExecutionTime` is `stepfn_execution_time_seconds`,
//! `ServiceIntegrationRunTime` and `LambdaFunctionRunTime` are `stepfn_task_duration_seconds`,
//! `ActivitiesScheduled` is `stepfn_activities_scheduled_total`, ...).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use metrics::{counter, gauge, histogram};
use tracing::Instrument;

use crate::engine::execution::{Execution, Status};
use crate::engine::history::HistoryEvent;
use crate::engine::task::TaskRequest;
use crate::runtime::durable::{DriveError, DriveOutcome};
use crate::tasks::{Invocation, TaskInvoker};

/// Executions started (CloudWatch `ExecutionsStarted`), by `state_machine`.
pub const EXECUTIONS_STARTED: &str = "stepfn_executions_started_total";
/// Executions that succeeded (`ExecutionsSucceeded`).
pub const EXECUTIONS_SUCCEEDED: &str = "stepfn_executions_succeeded_total";
/// Executions that failed (`ExecutionsFailed`).
pub const EXECUTIONS_FAILED: &str = "stepfn_executions_failed_total";
/// Executions stopped by StopExecution (`ExecutionsAborted`).
pub const EXECUTIONS_ABORTED: &str = "stepfn_executions_aborted_total";
/// Executions past their `TimeoutSeconds` (`ExecutionsTimedOut`).
pub const EXECUTIONS_TIMED_OUT: &str = "stepfn_executions_timed_out_total";
/// Executions reopened by RedriveExecution (`ExecutionsRedriven`).
pub const EXECUTIONS_REDRIVEN: &str = "stepfn_executions_redriven_total";
/// Start to end of an execution, seconds (`ExecutionTime`), by `state_machine`.
pub const EXECUTION_TIME: &str = "stepfn_execution_time_seconds";
/// Activity tasks scheduled (`ActivitiesScheduled`), by `state_machine`.
pub const ACTIVITIES_SCHEDULED: &str = "stepfn_activities_scheduled_total";
/// Activity tasks a worker took (`ActivitiesStarted`).
pub const ACTIVITIES_STARTED: &str = "stepfn_activities_started_total";
/// Activity tasks that succeeded (`ActivitiesSucceeded`).
pub const ACTIVITIES_SUCCEEDED: &str = "stepfn_activities_succeeded_total";
/// Activity tasks that failed (`ActivitiesFailed`).
pub const ACTIVITIES_FAILED: &str = "stepfn_activities_failed_total";
/// Activity tasks that timed out (`ActivitiesTimedOut`, heartbeats included).
pub const ACTIVITIES_TIMED_OUT: &str = "stepfn_activities_timed_out_total";
/// From invocation to result of a task run in process (a Lambda function, a service
/// integration, a mock), seconds, by `resource` and `outcome` (`succeeded`, `failed`):
/// `ServiceIntegrationRunTime` and `LambdaFunctionRunTime`.
pub const TASK_DURATION: &str = "stepfn_task_duration_seconds";
/// From an activity task scheduled to a worker taking it, seconds, by `activity` (the
/// activity's name): CloudWatch `ActivityScheduleTime`.
pub const ACTIVITY_SCHEDULE_TIME: &str = "stepfn_activity_schedule_time_seconds";
/// From a worker taking an activity task to its SendTaskSuccess or SendTaskFailure, seconds,
/// by `activity` and `outcome`: `ActivityRunTime`.
pub const ACTIVITY_RUN_TIME: &str = "stepfn_activity_run_time_seconds";
/// From an activity task scheduled to its end, seconds, by `activity` and `outcome`:
/// `ActivityTime`.
pub const ACTIVITY_TIME: &str = "stepfn_activity_time_seconds";
/// Task invocations that are a retry (attempt > 0), by `resource`.
pub const TASK_RETRIES: &str = "stepfn_task_retries_total";
/// Drives of a worker by `outcome` (`succeeded`, `failed`, `timed_out`, `aborted`, `parked`,
/// `busy`, `lost`, `stopped`, `yielded`, `error`): the scheduler's success rate, and with
/// `parked` the rate at which executions park.
pub const WORKER_DRIVES: &str = "stepfn_worker_drives_total";
/// How long one drive ran, seconds (the scheduler's runtime).
pub const WORKER_DRIVE_TIME: &str = "stepfn_worker_drive_seconds";
/// From when an execution was due (started, a timer fired, a callback came) to when a worker
/// took it, seconds.
pub const SCHEDULE_DELAY: &str = "stepfn_schedule_delay_seconds";
/// Executions a worker is driving now (gauge).
pub const RUNNING: &str = "stepfn_worker_running_executions";
/// Executions parked in the store (due later, held by no worker), as a worker last counted
/// them (gauge; every worker reports the same store-wide count).
pub const PARKED: &str = "stepfn_parked_executions";
/// How often a worker counts the parked executions, while metrics are recorded.
pub const PARKED_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// Store requests, seconds, by `operation` (recorded by the store layer).
pub const STORE_REQUEST_TIME: &str = crate::store::any::REQUEST_TIME;

/// Every metric with its help text, for the recorder to describe.
pub const DESCRIPTIONS: &[(&str, &str)] = &[
    (EXECUTIONS_STARTED, "Executions started."),
    (EXECUTIONS_SUCCEEDED, "Executions that succeeded."),
    (EXECUTIONS_FAILED, "Executions that failed."),
    (EXECUTIONS_ABORTED, "Executions aborted by StopExecution."),
    (EXECUTIONS_TIMED_OUT, "Executions that timed out."),
    (EXECUTIONS_REDRIVEN, "Executions redriven."),
    (EXECUTION_TIME, "Start to end of an execution, seconds."),
    (ACTIVITIES_SCHEDULED, "Activity tasks scheduled."),
    (ACTIVITIES_STARTED, "Activity tasks taken by a worker."),
    (ACTIVITIES_SUCCEEDED, "Activity tasks that succeeded."),
    (ACTIVITIES_FAILED, "Activity tasks that failed."),
    (ACTIVITIES_TIMED_OUT, "Activity tasks that timed out."),
    (
        TASK_DURATION,
        "Task invocations run in process (Lambda, service integrations), seconds.",
    ),
    (TASK_RETRIES, "Task invocations that are a retry."),
    (
        ACTIVITY_SCHEDULE_TIME,
        "From an activity task scheduled to a worker taking it, seconds.",
    ),
    (
        ACTIVITY_RUN_TIME,
        "From a worker taking an activity task to its result, seconds.",
    ),
    (
        ACTIVITY_TIME,
        "From an activity task scheduled to its result, seconds.",
    ),
    (
        WORKER_DRIVES,
        "Drives of an execution by a worker, by outcome.",
    ),
    (WORKER_DRIVE_TIME, "How long a drive ran, seconds."),
    (
        SCHEDULE_DELAY,
        "From an execution due to a worker taking it, seconds.",
    ),
    (RUNNING, "Executions this worker is driving."),
    (
        PARKED,
        "Executions parked in the store: due later (a Wait, a retry, a timeout), held by no worker.",
    ),
    (STORE_REQUEST_TIME, "Store requests, seconds, by operation."),
];

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns recording on, for the rest of the process (once a recorder is installed).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn seconds(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

/// Counts what a durable commit made true: an execution started, ended (with its time),
/// redriven, and its activity tasks' steps. Called once per successful commit.
pub fn committed(exec: &Execution, events: &[HistoryEvent]) {
    if !enabled() {
        return;
    }
    for event in events {
        let name = match event.event_type.as_str() {
            "ExecutionStarted" => EXECUTIONS_STARTED,
            "ExecutionRedriven" => EXECUTIONS_REDRIVEN,
            "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut" => {
                let status = match event.event_type.as_str() {
                    "ExecutionSucceeded" => Status::Succeeded,
                    "ExecutionFailed" => Status::Failed,
                    "ExecutionAborted" => Status::Aborted,
                    _ => Status::TimedOut,
                };
                ended(exec, status, event.timestamp);
                continue;
            }
            "ActivityScheduled" => ACTIVITIES_SCHEDULED,
            "ActivityStarted" => ACTIVITIES_STARTED,
            "ActivitySucceeded" => ACTIVITIES_SUCCEEDED,
            "ActivityFailed" => ACTIVITIES_FAILED,
            "ActivityTimedOut" => ACTIVITIES_TIMED_OUT,
            _ => continue,
        };
        counter!(name, "state_machine" => exec.info.state_machine_name.clone()).increment(1);
    }
}

/// Counts an in-memory execution starting its only drive.
pub fn started(exec: &Execution) {
    if enabled() {
        let machine = exec.info.state_machine_name.clone();
        counter!(EXECUTIONS_STARTED, "state_machine" => machine).increment(1);
    }
}

/// Counts the end of an in-memory execution that [`started`] counted.
pub fn ran(exec: &Execution) {
    if !enabled() {
        return;
    }
    if exec.status != Status::Running {
        ended(
            exec,
            exec.status,
            exec.stop_time.unwrap_or(exec.info.start_time),
        );
    }
}

fn ended(exec: &Execution, status: Status, at: i64) {
    let name = match status {
        Status::Succeeded => EXECUTIONS_SUCCEEDED,
        Status::Failed => EXECUTIONS_FAILED,
        Status::Aborted => EXECUTIONS_ABORTED,
        Status::TimedOut => EXECUTIONS_TIMED_OUT,
        Status::Running => return,
    };
    let machine = exec.info.state_machine_name.clone();
    counter!(name, "state_machine" => machine.clone()).increment(1);
    // A redriven execution's time runs from its redrive, as its timeout does.
    let since = exec.redrive_time.unwrap_or(exec.info.start_time);
    histogram!(EXECUTION_TIME, "state_machine" => machine).record(seconds(at - since));
}

/// Invokes `request` through `invoker` inside a span naming the execution, state and
/// resource; a task run in process has its run time recorded when it ends.
pub fn invoke(invoker: &dyn TaskInvoker, request: &TaskRequest) -> Invocation {
    let span = tracing::info_span!(
        "task",
        execution = %request.execution_arn,
        state = %request.state_name,
        resource = %request.resource.as_str(),
        attempt = request.attempt,
    );
    let recording = enabled();
    if !recording && span.is_disabled() {
        return invoker.invoke(request);
    }
    let resource = recording.then(|| request.resource.as_str().to_string());
    if let Some(resource) = resource.as_ref().filter(|_| request.attempt > 0) {
        counter!(TASK_RETRIES, "resource" => resource.clone()).increment(1);
    }
    let record = |resource: Option<String>, ok: bool, secs: f64| {
        if let Some(resource) = resource {
            let outcome = if ok { "succeeded" } else { "failed" };
            histogram!(TASK_DURATION, "resource" => resource, "outcome" => outcome).record(secs);
        }
    };
    match span.in_scope(|| invoker.invoke(request)) {
        Invocation::Pending(fut) => {
            let started = Instant::now();
            Invocation::Pending(Box::pin(
                async move {
                    let result = fut.await;
                    record(resource, result.is_ok(), started.elapsed().as_secs_f64());
                    result
                }
                .instrument(span),
            ))
        }
        Invocation::Ready(result) => {
            record(resource, result.is_ok(), 0.0);
            Invocation::Ready(result)
        }
        Invocation::Submitted(fut) => Invocation::Submitted(Box::pin(fut.instrument(span))),
        Invocation::Queued(fut) => Invocation::Queued(Box::pin(fut.instrument(span))),
        Invocation::Staged(fut, then) => Invocation::Staged(Box::pin(fut.instrument(span)), then),
        Invocation::External => Invocation::External,
    }
}

/// The span of one drive of execution `arn`.
pub fn drive_span(arn: &str) -> tracing::Span {
    tracing::info_span!("drive", execution = %arn)
}

/// Records that a drive took an execution due at `due` (if it was due) at `now`.
pub fn scheduled(due: Option<i64>, now: i64) {
    if let Some(due) = due.filter(|_| enabled()) {
        histogram!(SCHEDULE_DELAY).record(seconds(now - due));
    }
}

/// Records the start of a drive; returns when it started, for [`drive_ended`].
pub fn drive_started() -> Instant {
    if enabled() {
        gauge!(RUNNING).increment(1.0);
    }
    Instant::now()
}

/// Records the end of a drive that [`drive_started`] began: its outcome and run time.
pub fn drive_ended(started: Instant, result: &Result<DriveOutcome, DriveError>) {
    if !enabled() {
        return;
    }
    gauge!(RUNNING).decrement(1.0);
    let outcome = match result {
        Ok(DriveOutcome::Finished(status)) => match status {
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::TimedOut => "timed_out",
            Status::Aborted => "aborted",
        },
        Ok(DriveOutcome::Parked) => "parked",
        Ok(DriveOutcome::Busy) => "busy",
        Ok(DriveOutcome::Lost) => "lost",
        Ok(DriveOutcome::Stopped) => "stopped",
        Ok(DriveOutcome::Yielded) => "yielded",
        Err(_) => "error",
    };
    counter!(WORKER_DRIVES, "outcome" => outcome).increment(1);
    histogram!(WORKER_DRIVE_TIME).record(started.elapsed().as_secs_f64());
}

/// Whether metrics are being recorded (a recorder is installed).
pub fn recording() -> bool {
    enabled()
}

/// Sets the parked executions gauge.
pub fn parked(count: u64) {
    if enabled() {
        gauge!(PARKED).set(count as f64);
    }
}

/// Activity tasks taken and not answered yet, by task token: the activity's name, when the
/// task was scheduled and when it was taken (ms since the epoch). Kept in the process that
/// answered GetActivityTask, so a result sent to another `serve` on the same table is counted
/// without run times; at most [`ACTIVITIES_TRACKED`] at once (a worker that never answers
/// does not grow it without bound).
static TAKEN: std::sync::Mutex<Option<Taken>> = std::sync::Mutex::new(None);

/// Token to activity name, scheduled and taken times.
type Taken = std::collections::HashMap<String, (String, i64, i64)>;

/// The most activity tasks [`activity_taken`] tracks at once.
pub const ACTIVITIES_TRACKED: usize = 100_000;

/// The name of activity `arn` (`arn:...:activity:NAME`).
fn activity_name(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or(arn).to_string()
}

/// A worker took the task `token` of activity `activity_arn`, scheduled at `scheduled`, at
/// `now` (ms): records its schedule time and keeps it for [`activity_answered`].
pub fn activity_taken(token: &str, activity_arn: &str, scheduled: i64, now: i64) {
    if !enabled() {
        return;
    }
    let activity = activity_name(activity_arn);
    histogram!(ACTIVITY_SCHEDULE_TIME, "activity" => activity.clone())
        .record(seconds(now - scheduled));
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    let map = taken.get_or_insert_with(Default::default);
    if map.len() < ACTIVITIES_TRACKED {
        map.insert(token.to_string(), (activity, scheduled, now));
    }
}

/// The worker answered task `token` at `now` (ms), `ok` for SendTaskSuccess: records its run
/// time and whole time when this process saw it taken.
pub fn activity_answered(token: &str, ok: bool, now: i64) {
    if !enabled() {
        return;
    }
    let found = TAKEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|m| m.remove(token));
    let Some((activity, scheduled, taken)) = found else {
        return;
    };
    let outcome = if ok { "succeeded" } else { "failed" };
    histogram!(ACTIVITY_RUN_TIME, "activity" => activity.clone(), "outcome" => outcome)
        .record(seconds(now - taken));
    histogram!(ACTIVITY_TIME, "activity" => activity, "outcome" => outcome)
        .record(seconds(now - scheduled));
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use serde_json::json;

    fn event(id: u64, event_type: &str, timestamp: i64) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp,
            event_type: event_type.into(),
            details: Default::default(),
        }
    }

    /// The rendered sample `line` (series and value), or `None`.
    fn sample(text: &str, series: &str) -> Option<String> {
        text.lines()
            .find(|l| l.rsplit_once(' ').is_some_and(|(s, _)| s == series))
            .map(str::to_string)
    }

    #[test]
    fn commits_count_a_start_and_an_end_once_and_other_events_not_at_all() {
        let machine = crate::asl::load::load(
            &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .expect("loads");
        let info = crate::runtime::arn::local_execution("counted", "e", 1_000);
        let exec = Execution::new(machine, info, json!({}), false);
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        enable();
        metrics::with_local_recorder(&recorder, || {
            committed(&exec, &[event(1, "ExecutionStarted", 1_000)]);
            committed(
                &exec,
                &[
                    event(2, "PassStateEntered", 1_100),
                    event(3, "PassStateExited", 1_200),
                    event(4, "ActivityScheduled", 1_200),
                ],
            );
            committed(&exec, &[event(5, "ExecutionTimedOut", 3_500)]);
        });
        let text = handle.render();
        let label = r#"{state_machine="counted"}"#;
        for (name, value) in [
            (EXECUTIONS_STARTED, "1"),
            (EXECUTIONS_TIMED_OUT, "1"),
            (ACTIVITIES_SCHEDULED, "1"),
        ] {
            assert_eq!(
                sample(&text, &format!("{name}{label}")),
                Some(format!("{name}{label} {value}")),
                "{text}"
            );
        }
        for name in [EXECUTIONS_SUCCEEDED, EXECUTIONS_FAILED, EXECUTIONS_ABORTED] {
            assert_eq!(sample(&text, &format!("{name}{label}")), None, "{text}");
        }
        assert_eq!(
            sample(&text, &format!("{EXECUTION_TIME}_sum{label}")),
            Some(format!("{EXECUTION_TIME}_sum{label} 2.5")),
            "start to end, seconds: {text}"
        );
    }
}
