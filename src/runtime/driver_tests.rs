//! Tests of the in-memory driver: timers, timeouts, retries, history ids.
use super::*;
use crate::engine::step::step;
use crate::tasks::mock::{MockInvoker, TestCase};
use crate::tasks::NoIntegrations;
use serde_json::json;

async fn run_with(definition: Value, input: Value, mocks: Value) -> Finished {
    let info = crate::runtime::arn::local_execution("m", "e", 0);
    run_as(info, definition, input, mocks, true).await
}

/// Runs `definition` as execution `info`, on the virtual or the real clock, history recorded.
async fn run_as(
    info: ExecutionInfo,
    definition: Value,
    input: Value,
    mocks: Value,
    virtual_clock: bool,
) -> Finished {
    let machine = Arc::new(StateMachine::from_value(&definition).expect("valid definition"));
    let case = TestCase::from_state_responses(&mocks).expect("valid mocks");
    let invoker = Arc::new(MockInvoker::new(case, Arc::new(NoIntegrations)));
    let options = RunOptions {
        virtual_clock,
        record_history: true,
    };
    run(machine, info, input, invoker, options).await
}

fn types(run: &Finished) -> Vec<String> {
    let history = run.history.as_ref().expect("history recorded");
    history.iter().map(|e| e.event_type.clone()).collect()
}

#[tokio::test]
async fn execution_timeout_times_out_a_long_wait() {
    let exec = run_with(
        json!({"TimeoutSeconds": 5, "StartAt": "W",
               "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(exec.execution.status, Status::TimedOut);
    assert_eq!(
        exec.execution.error.as_ref().map(|e| e.error.as_str()),
        Some("States.Timeout")
    );
    assert_eq!(
        types(&exec).last().map(String::as_str),
        Some("ExecutionTimedOut")
    );
}

/// Runs `definition` as an express execution, on the virtual or the real clock.
async fn run_express(definition: Value, virtual_clock: bool) -> Finished {
    let mut info = crate::runtime::arn::local_execution("m", "e", 0);
    info.arn = crate::runtime::arn::express_execution(&info.state_machine_arn, "e", "1");
    run_as(info, definition, json!({}), json!({}), virtual_clock).await
}

#[tokio::test]
async fn an_express_execution_times_out_after_five_minutes() {
    let exec = run_express(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 400, "End": true}}}),
        true,
    )
    .await;
    assert_eq!(exec.execution.status, Status::TimedOut);
    let error = exec.execution.error.as_ref().expect("an error");
    assert_eq!(error.error, "States.Timeout");
    assert_eq!(
        error.cause.as_deref(),
        Some("The execution has exceeded its timeout of 300 seconds")
    );
    // A shorter TimeoutSeconds of its own still counts; a standard one waits its 400 s.
    let exec = run_express(
        json!({"TimeoutSeconds": 10, "StartAt": "W",
               "States": {"W": {"Type": "Wait", "Seconds": 400, "End": true}}}),
        true,
    )
    .await;
    assert_eq!(
        exec.execution.error.and_then(|e| e.cause).as_deref(),
        Some("The execution has exceeded its timeout of 10 seconds")
    );
    let exec = run_with(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 400, "End": true}}}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(exec.execution.status, Status::Succeeded);
}

#[tokio::test]
async fn a_timeout_ends_an_endless_loop_of_pure_states() {
    // An express execution has no history limit: only its timeout can end this loop, and
    // the loop never waits for a timer.
    let exec = run_express(
        json!({"TimeoutSeconds": 1, "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "A"}}}),
        false,
    )
    .await;
    assert_eq!(exec.execution.status, Status::TimedOut);
    assert_eq!(
        types(&exec).last().map(String::as_str),
        Some("ExecutionTimedOut")
    );
}

#[tokio::test]
async fn wait_advances_the_virtual_clock() {
    let exec = run_with(
        json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 90, "Next": "P"},
            "P": {"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}, "End": true}}}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(exec.execution.status, Status::Succeeded);
    let entered = exec.execution.output.as_ref().expect("output")["t"]
        .as_str()
        .expect("time");
    let started = crate::asl::timestamp::iso_time(exec.execution.info.start_time);
    let waited = crate::asl::timestamp::parse_timestamp(entered).expect("iso")
        - crate::asl::timestamp::parse_timestamp(&started).expect("iso");
    assert_eq!(waited, 90_000);
}

#[tokio::test]
async fn oversized_state_output_fails_with_data_limit_exceeded() {
    let big = "x".repeat(300 * 1024);
    let exec = run_with(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": big, "End": true}}}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(exec.execution.status, Status::Failed);
    assert_eq!(
        exec.execution.error.as_ref().map(|e| e.error.as_str()),
        Some("States.DataLimitExceeded")
    );
}

#[tokio::test]
async fn retries_run_before_the_catcher_and_count_attempts() {
    let exec = run_with(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
                  "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "C"}],
                  "End": true},
            "C": {"Type": "Pass", "End": true}}}),
        json!({"in": 1}),
        json!({"T": {"0-9": {"Throw": {"Error": "Boom", "Cause": "bad"}}}}),
    )
    .await;
    assert_eq!(exec.execution.status, Status::Succeeded);
    assert_eq!(
        exec.execution.output,
        Some(json!({"in": 1, "err": {"Error": "Boom", "Cause": "bad"}}))
    );
    let failed = types(&exec)
        .iter()
        .filter(|t| *t == "LambdaFunctionFailed")
        .count();
    assert_eq!(failed, 3, "one try and two retries");
}

#[tokio::test]
async fn map_tolerates_failures_up_to_the_count() {
    let def = |count: u64| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": count,
            "ItemProcessor": {"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "F"}], "Default": "P"},
                "F": {"Type": "Fail", "Error": "Zero"},
                "P": {"Type": "Pass", "End": true}}},
            "End": true}}})
    };
    let ok = run_with(def(1), json!([1, 0, 2]), json!({})).await;
    assert_eq!(ok.execution.status, Status::Succeeded);
    assert_eq!(ok.execution.output, Some(json!([1, {"Error": "Zero"}, 2])));
    let failed = run_with(def(1), json!([0, 0, 2]), json!({})).await;
    assert_eq!(
        failed.execution.error.as_ref().map(|e| e.error.as_str()),
        Some("States.ExceedToleratedFailureThreshold")
    );
}

#[tokio::test]
async fn failed_branch_fails_the_parallel_state_with_its_error() {
    let exec = run_with(
        json!({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": true}}},
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Branch.Broke", "Cause": "c"}}}]}}}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(exec.execution.status, Status::Failed);
    assert_eq!(
        exec.execution.error.as_ref().map(|e| e.error.as_str()),
        Some("Branch.Broke")
    );
    let t = types(&exec);
    assert!(t.contains(&"ParallelStateFailed".to_string()), "{t:?}");
    assert!(
        !t.contains(&"WaitStateExited".to_string()),
        "the waiting branch was cancelled"
    );
}

#[tokio::test]
async fn history_ids_are_contiguous_and_point_backwards() {
    let exec = run_with(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2,
            "ItemProcessor": {"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}], "End": true}}},
            "End": true}}}),
        json!([1, 2, 3]),
        json!({"T": {"0": {"Throw": {"Error": "E"}}, "1": {"Return": {"ok": true}}}}),
    )
    .await;
    assert_eq!(exec.execution.status, Status::Succeeded);
    let history = exec.history.as_ref().expect("history");
    for (i, e) in history.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1);
        assert!(e.previous_event_id < e.id);
    }
    let t = types(&exec);
    for ty in [
        "MapStateStarted",
        "MapIterationStarted",
        "MapIterationSucceeded",
        "TaskScheduled",
        "TaskFailed",
        "MapStateSucceeded",
        "ExecutionSucceeded",
    ] {
        assert!(t.iter().any(|x| x == ty), "missing {ty} in {t:?}");
    }
    let entered = t.iter().filter(|x| x.ends_with("StateEntered")).count();
    let exited = t.iter().filter(|x| x.ends_with("StateExited")).count();
    assert_eq!(entered, exited);
    assert_eq!(exec.execution.transitions, 4);
}

#[tokio::test]
async fn stop_aborts_with_error_and_cause() {
    let machine = Arc::new(
        StateMachine::from_value(
            &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": true}}}),
        )
        .expect("valid"),
    );
    let mut exec = Execution::new(
        machine,
        crate::runtime::arn::local_execution("m", "e", 0),
        json!({}),
        true,
    );
    step(&mut exec, Event::Start { time: 0 });
    let stopped = step(
        &mut exec,
        Event::Stop {
            error: Some("User.Stop".into()),
            cause: Some("enough".into()),
            time: 1,
        },
    );
    assert_eq!(exec.status, Status::Aborted);
    let types: Vec<&str> = stopped
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(types, ["ExecutionAborted"]);
    let late = step(
        &mut exec,
        Event::Timer {
            frame: 0,
            wait: 1,
            time: 5000,
        },
    );
    assert_eq!(late, Transition::default());
    assert_eq!(
        exec.status,
        Status::Aborted,
        "events after the end change nothing"
    );
}

#[tokio::test]
async fn under_the_virtual_clock_jsonata_now_is_the_state_entered_time() {
    // A day-long wait: on the virtual clock it passes at once, and $now() after it is the
    // virtual time the next state was entered at, not the OS clock's.
    let exec = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 86400, "Next": "P"},
        "P": {"Type": "Pass", "End": true, "Output": {
            "now": "{% $now() %}",
            "millis": "{% $millis() %}",
            "entered": "{% $states.context.State.EnteredTime %}",
            "start": "{% $states.context.Execution.StartTime %}"
        }}}}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(exec.execution.status, Status::Succeeded);
    let out = exec.execution.output.expect("output");
    assert_eq!(out["now"], out["entered"], "{out}");
    let start = exec.execution.info.start_time;
    assert_eq!(out["millis"], json!(start + 86_400_000), "{out}");
    assert_ne!(out["now"], out["start"]);
}

/// A Task without Parameters lends its input to the request; the driver gives it back, so
/// ResultPath, a retry and a catcher all see the input (and the task sends it each time).
#[tokio::test]
async fn a_task_sending_its_input_gets_it_back_for_retries_result_path_and_catch() {
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
              "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}],
              "ResultPath": "$.r", "Next": "U"},
        "U": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:g",
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Done"}],
              "End": true},
        "Done": {"Type": "Succeed"}}});
    let mocks = json!({
        "T": {"0": {"Throw": {"Error": "Flaky", "Cause": "once"}}, "1": {"Return": {"ok": 1}}},
        "U": {"0": {"Throw": {"Error": "Boom", "Cause": "broke"}}}
    });
    let exec = run_with(definition, json!({"order": {"id": 7}}), mocks).await;
    assert_eq!(exec.execution.status, Status::Succeeded);
    assert_eq!(
        exec.execution.output,
        Some(json!({"order": {"id": 7}, "r": {"ok": 1},
                    "caught": {"Error": "Boom", "Cause": "broke"}}))
    );
    // Each attempt sent the input as it was.
    let history = exec.history.as_ref().expect("history recorded");
    let sent: Vec<&str> = history
        .iter()
        .filter(|e| e.event_type == "LambdaFunctionScheduled")
        .filter_map(|e| {
            e.details
                .get("lambdaFunctionScheduledEventDetails")
                .and_then(|d| d.get("input"))
                .and_then(Value::as_str)
        })
        .collect();
    assert_eq!(
        sent,
        [
            r#"{"order":{"id":7}}"#,
            r#"{"order":{"id":7}}"#,
            r#"{"order":{"id":7},"r":{"ok":1}}"#
        ]
    );
}

/// Outputs whose length is bounded from the input's (a Task's ResultPath, a Choice, a Pass
/// or Succeed passing the input on, Parallel branches sharing it) still fail at the limit.
#[tokio::test]
async fn outputs_bounded_from_their_input_still_fail_past_the_payload_limit() {
    let definition = json!({"StartAt": "Grow", "States": {
            "Grow": {"Type": "Pass", "Parameters": {"a.$": "$.a"}, "Next": "Same"},
            "Same": {"Type": "Pass", "Next": "Pick"},
            "Pick": {"Type": "Choice", "Choices": [
                {"Variable": "$.a", "IsPresent": true, "Next": "Both"}], "Default": "Both"},
            "Both": {"Type": "Parallel", "ResultPath": null, "Next": "T", "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}]},
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                  "ResultPath": "$.deep.r", "End": true}}});
    let input = json!({"a": "x".repeat(200 * 1024)});
    for (result_kb, fails) in [(40, false), (60, true)] {
        let mocks = json!({"T": {"0": {"Return": "y".repeat(result_kb * 1024)}}});
        let exec = run_with(definition.clone(), input.clone(), mocks).await;
        let error = exec.execution.error.as_ref().map(|e| e.error.as_str());
        if fails {
            assert_eq!(error, Some("States.DataLimitExceeded"), "{result_kb} KiB");
        } else {
            assert_eq!(
                exec.execution.status,
                Status::Succeeded,
                "{result_kb} KiB: {error:?}"
            );
        }
    }
}
