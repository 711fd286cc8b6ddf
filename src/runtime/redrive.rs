//! Redriving a closed execution (RedriveExecution): AWS's eligibility rules, the request (one
//! conditional write that reopens the execution, see [`Store::reopen`]), and what the next
//! driver does with a reopened execution: it runs again, on the definition it started with,
//! from the top-level state that did not succeed, on the input and variables that state had
//! (read back from the history), after an `ExecutionRedriven` event; the states that
//! succeeded do not run again. Event ids continue the first run's.

use serde_json::{Map, Value};

use crate::asl::model::StateMachine;
use crate::engine::execution::Status;
use crate::engine::history::HistoryEvent;
use crate::engine::step::Event;
use crate::store::{ExecutionRecord, Redrives, Store, StoreError};

/// How long after it closed an execution can be redriven.
const REDRIVE_WINDOW_MS: i64 = 14 * 24 * 3600 * 1000;
/// How long after its start an execution can be open at most (a year).
const MAX_OPEN_MS: i64 = 366 * 24 * 3600 * 1000;
/// A history this long leaves no room for `ExecutionRedriven` and one more event.
const HISTORY_LIMIT: u64 = 24_999;
/// How long a client token answers the redrive it made.
const TOKEN_MS: i64 = 15 * 60 * 1000;
/// How many client tokens are remembered.
const TOKENS_KEPT: usize = 10;

/// Why `record` cannot be redriven at `now` (AWS's `redriveStatusReason`), if it cannot.
pub fn not_redrivable(record: &ExecutionRecord, now: i64) -> Option<String> {
    match record.status {
        Status::Running | Status::Succeeded => {
            return Some(format!(
                "Execution is {} and cannot be redriven",
                record.status.as_str()
            ))
        }
        Status::Failed | Status::TimedOut | Status::Aborted => {}
    }
    if record.last_event_id >= HISTORY_LIMIT {
        return Some("Execution history event limit exceeded".into());
    }
    if now.saturating_sub(record.info.start_time) > MAX_OPEN_MS {
        return Some("Execution has exceeded the max execution time".into());
    }
    if record
        .stop_time
        .is_some_and(|stop| now.saturating_sub(stop) > REDRIVE_WINDOW_MS)
    {
        return Some("Execution redrivable period exceeded".into());
    }
    None
}

/// Why a redrive was refused.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    /// The execution does not exist.
    #[error("Execution Does Not Exist: '{0}'")]
    NoExecution(String),
    /// It cannot be redriven (AWS's reason).
    #[error("{0}")]
    NotRedrivable(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Redrives execution `arn` at `now`; with `token`, a repeat of a redrive it made in the last
/// 15 minutes answers that redrive again. The redrive's date.
///
/// # Errors
/// [`RedriveError::NotRedrivable`] with AWS's reason, [`RedriveError::NoExecution`].
pub async fn request_redrive<S: Store>(
    store: &S,
    arn: &str,
    token: Option<&str>,
    now: i64,
) -> Result<i64, RedriveError> {
    let record = store
        .get_execution(arn)
        .await?
        .ok_or_else(|| RedriveError::NoExecution(arn.to_string()))?;
    if let Some(token) = token {
        if let Some((_, date)) = record
            .redrive
            .tokens
            .iter()
            .find(|(t, date)| t == token && now.saturating_sub(*date) <= TOKEN_MS)
        {
            return Ok(*date);
        }
    }
    if let Some(reason) = not_redrivable(&record, now) {
        return Err(RedriveError::NotRedrivable(reason));
    }
    let mut redrive: Redrives = record.redrive.clone();
    redrive.count += 1;
    redrive.date = Some(now);
    if let Some(token) = token {
        redrive.tokens.push((token.to_string(), now));
        let extra = redrive.tokens.len().saturating_sub(TOKENS_KEPT);
        redrive.tokens.drain(..extra);
    }
    if !store.reopen(arn, record.version, &redrive, now).await? {
        // Someone else redrove (or changed) it first.
        return Err(RedriveError::NotRedrivable(
            "Execution is RUNNING and cannot be redriven".into(),
        ));
    }
    Ok(now)
}

/// Where a redrive of an execution of `machine` with `history` starts: the last top-level
/// state entered (the one that did not succeed), the input it had and the top-level
/// variables assigned before it; the start state on the execution input when no state ran.
pub fn redrive_point(
    machine: &StateMachine,
    execution_input: &Value,
    history: &[HistoryEvent],
) -> (usize, Value, Map<String, Value>) {
    let mut depth = 0usize;
    let mut vars = Map::new();
    let mut point: Option<(String, Value, Map<String, Value>)> = None;
    for event in history {
        let kind = event.event_type.as_str();
        let nesting = kind.starts_with("MapState") || kind.starts_with("ParallelState");
        if nesting && kind.ends_with("Started") {
            depth += 1;
            continue;
        }
        if nesting
            && ["Succeeded", "Failed", "Aborted"]
                .iter()
                .any(|s| kind.ends_with(s))
        {
            depth = depth.saturating_sub(1);
            continue;
        }
        if depth > 0 {
            continue;
        }
        let json = event.to_api_json();
        if let Some(d) = json.get("stateEnteredEventDetails") {
            let name = d["name"].as_str().unwrap_or_default().to_string();
            let input = d["input"]
                .as_str()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(Value::Null);
            point = Some((name, input, vars.clone()));
        } else if let Some(assigned) = json
            .get("stateExitedEventDetails")
            .and_then(|d| d.get("assignedVariables"))
            .and_then(Value::as_object)
        {
            for (k, v) in assigned {
                let value = v
                    .as_str()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or(Value::Null);
                vars.insert(k.clone(), value);
            }
        }
    }
    let states = &machine.body.states.0;
    if let Some((name, input, vars)) = point {
        if let Some(index) = states.iter().position(|(n, _)| *n == name) {
            return (index, input, vars);
        }
    }
    (machine.body.start, execution_input.clone(), Map::new())
}

/// The event that redrives a reopened execution at `time`.
pub fn redrive_event(
    machine: &StateMachine,
    execution_input: &Value,
    history: &[HistoryEvent],
    time: i64,
) -> Event {
    let (state, input, vars) = redrive_point(machine, execution_input, history);
    Event::Redrive {
        state,
        input,
        vars,
        time,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::asl::error::StatesError;
    use crate::engine::task::TaskRequest;
    use crate::runtime::durable::{drive_execution, DriveOutcome, DurableOptions};
    use crate::runtime::machines::{start_execution, MachineCache};
    use crate::store::memory::MemoryStore;
    use crate::store::{MachineRecord, StopRequest};
    use crate::tasks::{Invocation, TaskInvoker};

    /// Lambda tasks fail with `Bug.Found` on `{"bad": true}` inputs until fixed; others echo.
    struct Flaky(AtomicBool);

    impl TaskInvoker for Flaky {
        fn invoke(&self, request: &TaskRequest) -> Invocation {
            if request.resource.takes_task_token() {
                return Invocation::External;
            }
            let payload = request.input.get("Payload").cloned().unwrap_or_default();
            if payload.get("bad") == Some(&json!(true)) && !self.0.load(Ordering::SeqCst) {
                return Invocation::Ready(Err(StatesError::new("Bug.Found", "not fixed yet")));
            }
            Invocation::Ready(Ok(json!({"Payload": {"done": payload}})))
        }
    }

    fn lambda(payload: &str) -> Value {
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload.$": payload},
            "ResultSelector": {"done.$": "$.Payload.done"}})
    }

    struct Setup {
        store: MemoryStore,
        arn: String,
        invoker: Arc<Flaky>,
        cache: MachineCache,
    }

    async fn setup(definition: Value, input: Value) -> Setup {
        let store = MemoryStore::new();
        let machine = MachineRecord {
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
        };
        store.put_machine(&machine).await.expect("put");
        let now = crate::runtime::clock::real_now();
        let record = start_execution(&store, &machine, "e", input, now)
            .await
            .expect("start");
        Setup {
            store,
            arn: record.info.arn,
            invoker: Arc::new(Flaky(AtomicBool::new(false))),
            cache: MachineCache::default(),
        }
    }

    impl Setup {
        async fn drive(&self) -> DriveOutcome {
            let options = DurableOptions {
                owner: "w".into(),
                lease_ms: 60_000,
                park_after_ms: Some(1_000),
                virtual_clock: true,
                deadline_ms: None,
            };
            drive_execution(
                &self.store,
                &self.arn,
                Arc::clone(&self.invoker) as Arc<dyn TaskInvoker>,
                &self.cache,
                &options,
                None,
            )
            .await
            .expect("drive")
        }

        async fn record(&self) -> ExecutionRecord {
            self.store
                .get_execution(&self.arn)
                .await
                .expect("get")
                .expect("exists")
        }

        async fn types(&self) -> Vec<String> {
            let history = self.store.history(&self.arn).await.expect("history");
            let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
            assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>());
            history.iter().map(|e| e.event_type.clone()).collect()
        }

        async fn redrive(&self, token: Option<&str>) -> Result<i64, RedriveError> {
            let now = crate::runtime::clock::real_now();
            request_redrive(&self.store, &self.arn, token, now).await
        }
    }

    fn after<'a>(types: &'a [String], event: &str) -> &'a [String] {
        let at = types.iter().position(|t| t == event).expect(event);
        &types[at + 1..]
    }

    #[tokio::test]
    async fn a_failed_task_runs_again_and_what_succeeded_does_not() {
        let mut charge = lambda("$");
        charge["Next"] = json!("Done");
        let s = setup(
            json!({"StartAt": "Prep", "States": {
                "Prep": {"Type": "Pass", "Result": {"bad": true}, "Next": "Charge"},
                "Charge": charge,
                "Done": {"Type": "Pass", "End": true}}}),
            json!({}),
        )
        .await;
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::Failed));
        let e = s.redrive(None).await;
        assert!(e.is_ok(), "{e:?}");
        // Fixed, then redriven once more is refused while it runs.
        s.invoker.0.store(true, Ordering::SeqCst);
        let busy = s.redrive(None).await.expect_err("running");
        assert_eq!(
            busy.to_string(),
            "Execution is RUNNING and cannot be redriven"
        );
        let opened = s.record().await;
        assert_eq!(opened.status, Status::Running);
        assert_eq!(opened.redrive.count, 1);
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::Succeeded));
        let done = s.record().await;
        assert_eq!(done.output, Some(json!({"done": {"bad": true}})));
        let types = s.types().await;
        let again = after(&types, "ExecutionRedriven");
        assert_eq!(types[types.len() - again.len() - 2], "ExecutionFailed");
        assert_eq!(again.first().map(String::as_str), Some("TaskStateEntered"));
        let entered: Vec<&str> = again
            .iter()
            .filter(|t| t.ends_with("StateEntered"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            entered,
            ["TaskStateEntered", "PassStateEntered"],
            "Prep does not run again"
        );
        let history = s.store.history(&s.arn).await.expect("history");
        let redriven = history
            .iter()
            .find(|e| e.event_type == "ExecutionRedriven")
            .expect("redriven")
            .to_api_json();
        assert_eq!(
            redriven["executionRedrivenEventDetails"],
            json!({"redriveCount": 1})
        );
        let e = s.redrive(None).await.expect_err("succeeded");
        assert_eq!(
            e.to_string(),
            "Execution is SUCCEEDED and cannot be redriven"
        );
    }

    #[tokio::test]
    async fn a_client_token_answers_its_redrive_again() {
        let mut t = lambda("$");
        t["End"] = json!(true);
        let s = setup(
            json!({"StartAt": "T", "States": {"T": t}}),
            json!({"bad": true}),
        )
        .await;
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::Failed));
        let first = s.redrive(Some("tok-1")).await.expect("redrive");
        let again = s.redrive(Some("tok-1")).await.expect("same token");
        assert_eq!(first, again);
        assert_eq!(s.record().await.redrive.count, 1);
        assert!(
            s.redrive(Some("tok-2")).await.is_err(),
            "a new token is a new redrive"
        );
    }

    #[tokio::test]
    async fn a_parallel_state_redrives_only_its_failed_branches() {
        let mut branch = lambda("$");
        branch["End"] = json!(true);
        let s = setup(
            json!({"StartAt": "Both", "States": {
                "Both": {"Type": "Parallel", "End": true, "Branches": [
                    {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "Result": 1, "End": true}}},
                    {"StartAt": "Call", "States": {"Call": branch}}]}}}),
            json!({"bad": true}),
        )
        .await;
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::Failed));
        s.redrive(None).await.expect("redrive");
        s.invoker.0.store(true, Ordering::SeqCst);
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::Succeeded));
        let out = s.record().await.output.expect("output");
        assert_eq!(out, json!([1, {"done": {"bad": true}}]));
        let types = s.types().await;
        let again: Vec<&str> = after(&types, "ExecutionRedriven")
            .iter()
            .map(String::as_str)
            .filter(|t| t.ends_with("StateEntered"))
            .collect();
        assert_eq!(
            again,
            ["ParallelStateEntered", "TaskStateEntered"],
            "the branch that succeeded does not run again"
        );
    }

    #[tokio::test]
    async fn a_map_state_redrives_only_its_failed_iterations() {
        let mut item = lambda("$");
        item["End"] = json!(true);
        let items: Vec<Value> = (0..6).map(|n| json!({"n": n, "bad": n == 4})).collect();
        let s = setup(
            json!({"StartAt": "Each", "States": {
                "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                         "ItemProcessor": {"StartAt": "Item", "States": {"Item": item}}, "End": true}}}),
            json!({"items": items}),
        )
        .await;
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::Failed));
        let first = s.types().await;
        let first_started = first.iter().filter(|t| *t == "MapIterationStarted").count();
        s.redrive(None).await.expect("redrive");
        s.invoker.0.store(true, Ordering::SeqCst);
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::Succeeded));
        let out = s.record().await.output.expect("output");
        let expected: Vec<Value> = items.iter().map(|i| json!({"done": i})).collect();
        assert_eq!(out, json!(expected));
        let history = s.store.history(&s.arn).await.expect("history");
        let at = history
            .iter()
            .position(|e| e.event_type == "ExecutionRedriven")
            .expect("redriven");
        let rerun: Vec<u64> = history[at..]
            .iter()
            .filter(|e| e.event_type == "MapIterationStarted")
            .filter_map(|e| e.to_api_json()["mapIterationStartedEventDetails"]["index"].as_u64())
            .collect();
        // The iterations that succeeded before the failure keep their output; the failed one
        // and those aborted or not started with it run again.
        assert!(rerun.contains(&4), "{rerun:?}");
        assert!(first_started >= 5, "iterations 0..4 started first time");
        assert!(rerun.len() < 6, "some iterations are kept: {rerun:?}");
        assert!(
            !rerun.contains(&0),
            "iteration 0 succeeded first time: {rerun:?}"
        );
    }

    #[tokio::test]
    async fn timed_out_and_stopped_executions_redrive() {
        let s = setup(
            json!({"TimeoutSeconds": 5, "StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "Seconds": 100, "End": true}}}),
            json!({}),
        )
        .await;
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::TimedOut));
        s.redrive(None)
            .await
            .expect("redrive a timed-out execution");
        // Its timeout starts again: the Wait is longer, so it times out once more.
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::TimedOut));
        let types = s.types().await;
        assert_eq!(
            types.iter().filter(|t| *t == "ExecutionTimedOut").count(),
            2
        );

        let callback = json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}, "End": true}}});
        let s = setup(callback, json!({})).await;
        assert_eq!(s.drive().await, DriveOutcome::Parked);
        let stop = StopRequest {
            error: Some("Operator".into()),
            cause: None,
            time: crate::runtime::clock::real_now(),
        };
        assert!(s.store.request_stop(&s.arn, &stop).await.expect("stop"));
        assert_eq!(s.drive().await, DriveOutcome::Finished(Status::Aborted));
        s.redrive(None).await.expect("redrive a stopped execution");
        assert_eq!(s.drive().await, DriveOutcome::Parked);
        let r = s.record().await;
        assert_eq!(r.status, Status::Running);
        assert!(r.stop_request.is_none(), "the applied stop is gone");
        let types = s.types().await;
        let again = after(&types, "ExecutionRedriven");
        assert_eq!(again.first().map(String::as_str), Some("TaskStateEntered"));
        assert!(again.iter().any(|t| t == "TaskScheduled"));
    }
}
