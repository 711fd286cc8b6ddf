//! `stepfn-lambda`, the real function binary, run under `cargo lambda watch` (the Lambda
//! runtime and invoke API emulator, from the pinned venv of `infra/lambda-tools.sh`) against
//! DynamoDB Local: the Step Functions API through events, sweeps, executions longer than one
//! invocation, a function killed mid-invocation, and bad events.
//!
//! The emulator runs with `--only-lambda-apis`: it serves the runtime and invoke APIs on
//! 127.0.0.1 and the test starts the function processes itself, as Lambda starts sandboxes, so
//! it can kill one and start another.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::lambda_watch::*;

fn call(watch: &Watch, operation: &str, request: Value) -> Value {
    invoke(watch, &json!({"Operation": operation, "Request": request}))
}

fn create_machine(watch: &Watch, name: &str, definition: &Value) -> String {
    let created = call(
        watch,
        "CreateStateMachine",
        json!({"name": name, "definition": definition.to_string(),
               "roleArn": "arn:aws:iam::111111111111:role/stepfn"}),
    );
    created["stateMachineArn"]
        .as_str()
        .unwrap_or_else(|| panic!("CreateStateMachine: {created}"))
        .to_string()
}

/// Sends sweeps until the execution is no longer running.
fn sweep_until_done(watch: &Watch, arn: &str, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let d = call(watch, "DescribeExecution", json!({"executionArn": arn}));
        if d["status"] != "RUNNING" {
            return d;
        }
        assert!(
            started.elapsed() < limit,
            "{arn} still running after {limit:?}: {d}"
        );
        let swept = invoke(watch, &json!({"Operation": "Sweep"}));
        assert!(
            swept.get("swept").is_some(),
            "a sweep answers its counts: {swept}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn history(watch: &Watch, arn: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({"executionArn": arn, "maxResults": 1000});
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let page = call(watch, "GetExecutionHistory", req);
        events.extend(page["events"].as_array().cloned().expect("events"));
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return events,
        }
    }
}

/// Events without their timestamps, and ARNs of the run named alike.
fn comparable(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(o) = e.as_object_mut() {
                o.remove("timestamp");
            }
            e
        })
        .collect()
}

/// Contiguous ids, no event twice, every entered state exited, one end.
fn check_history(events: &[Value]) {
    let ids: Vec<u64> = events.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert_eq!(
        ids,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "ids are contiguous"
    );
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let entered = types.iter().filter(|t| t.ends_with("StateEntered")).count();
    let exited = types.iter().filter(|t| t.ends_with("StateExited")).count();
    assert_eq!(
        entered, exited,
        "every entered state exited once: {types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| **t == "ExecutionStarted").count(),
        1
    );
    let ends = types
        .iter()
        .filter(|t| t.starts_with("Execution") && **t != "ExecutionStarted")
        .count();
    assert_eq!(ends, 1, "one end event: {types:?}");
}

/// `stepfn run` of the same definition and input, with its history.
fn local_run(definition: &Value, input: &Value, name: &str) -> Value {
    let path = std::env::temp_dir().join(format!("{}.asl.json", unique("lambda-def-")));
    std::fs::write(&path, definition.to_string()).expect("write definition");
    let out = Command::new(env!("CARGO_BIN_EXE_stepfn"))
        .arg("run")
        .arg(&path)
        .args(["--input", &input.to_string(), "--name", name])
        .args(["--history", "--format", "json"])
        .output()
        .expect("stepfn run");
    let _ = std::fs::remove_file(&path);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stepfn run printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A Map, a Wait that parks, and a Retry whose backoff timers park too (no integration: the
/// task, SQS, has no integration here: it fails, is retried twice, and is caught).
fn map_wait_retry() -> Value {
    json!({
        "StartAt": "Items",
        "States": {
            "Items": {"Type": "Pass", "Result": [1, 2, 3, 4], "ResultPath": "$.items", "Next": "Double"},
            "Double": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                "ItemProcessor": {"StartAt": "Twice", "States": {
                    "Twice": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": true}}},
                "ResultPath": "$.doubled", "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Call"},
            "Call": {
                "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask",
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Done"}],
                "End": true},
            "Done": {"Type": "Pass", "Parameters": {"doubled.$": "$.doubled", "error.$": "$.failure.Error"}, "End": true}
        }
    })
}

#[test]
fn api_events_and_sweeps_run_an_execution_as_stepfn_run_does() {
    let watch = Watch::start();
    let table = new_table();
    // Parks every timer (Wait, retry backoff) after 300 ms, so sweeps must fire them.
    let _sandbox = Sandbox::start(&watch, &table, &[("STEPFN_PARK_AFTER_MS", "300")]);
    let definition = map_wait_retry();
    let machine = create_machine(&watch, "mapwaitretry", &definition);
    let input = json!({"order": 7});
    let started = call(
        &watch,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "run1", "input": input.to_string()}),
    );
    let arn = started["executionArn"]
        .as_str()
        .expect("executionArn")
        .to_string();
    assert!(started["startDate"].is_number(), "{started}");
    let done = sweep_until_done(&watch, &arn, Duration::from_secs(60));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");

    let local = local_run(&definition, &input, "run1");
    assert_eq!(local["status"], "SUCCEEDED", "{local}");
    let output: Value =
        serde_json::from_str(done["output"].as_str().expect("output")).expect("JSON");
    assert_eq!(output, local["output"], "same output as stepfn run");
    assert_eq!(
        output["doubled"],
        json!([{"v": 2}, {"v": 4}, {"v": 6}, {"v": 8}])
    );

    let events = history(&watch, &arn);
    check_history(&events);
    let local_events = local["history"].as_array().expect("history");
    let types = |es: &[Value]| -> Vec<String> {
        es.iter()
            .map(|e| e["type"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        types(&events),
        types(local_events),
        "same events in the same order"
    );
    // Details too (inputs, outputs, errors, ids), timestamps aside; the ARNs differ by the
    // machine's name only.
    let normalize = |es: &[Value]| -> Vec<Value> {
        comparable(es)
            .into_iter()
            .map(|e| {
                let text = e.to_string();
                serde_json::from_str(&text.replace("stateMachine:mapwaitretry", "stateMachine:SM"))
                    .unwrap_or(e)
            })
            .collect()
    };
    let ours = normalize(&events);
    let theirs = normalize(local_events);
    for (a, b) in ours.iter().zip(theirs.iter()) {
        if a["type"] == "ExecutionStarted" {
            continue; // names the state machine and role, which differ between the two
        }
        assert_eq!(a, b, "event differs");
    }
    report(&format!(
        "lambda: Map + Wait + Retry through {} events, same output and history as stepfn run",
        events.len()
    ));
}

#[test]
fn an_execution_longer_than_an_invocation_goes_on_in_the_next_ones() {
    let watch = Watch::start();
    let table = new_table();
    // Invocations of 1.5 s (1.2 s of driving after the margin); four 1 s Waits take 4 s.
    let sandbox = Sandbox::start(&watch, &table, &[("STEPFN_FUNCTION_TIMEOUT_MS", "1500")]);
    let definition = json!({"StartAt": "W1", "States": {
        "W1": {"Type": "Wait", "Seconds": 1, "Next": "W2"},
        "W2": {"Type": "Wait", "Seconds": 1, "Next": "W3"},
        "W3": {"Type": "Wait", "Seconds": 1, "Next": "W4"},
        "W4": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Pass", "Result": "long", "End": true}}});
    let machine = create_machine(&watch, "long", &definition);
    let begin = Instant::now();
    let started = call(
        &watch,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "long1"}),
    );
    let arn = started["executionArn"]
        .as_str()
        .expect("executionArn")
        .to_string();
    // No sweeps: the self-invocations carry the execution from one invocation to the next.
    let done = loop {
        let d = call(&watch, "DescribeExecution", json!({"executionArn": arn}));
        if d["status"] != "RUNNING" {
            break d;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(60),
            "still running: {d}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["output"], "\"long\"");
    let log = sandbox.log();
    let yielded = log.matches("outcome=\"yielded\"").count();
    let finished = log.matches("outcome=\"finished\"").count();
    assert!(
        yielded >= 2 && finished == 1,
        "the execution spans several invocations (yielded {yielded}, finished {finished}):\n{log}"
    );
    let events = history(&watch, &arn);
    check_history(&events);
    let local = local_run(&definition, &json!({}), "long1");
    let types = |es: &[Value]| -> Vec<String> {
        es.iter()
            .map(|e| e["type"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        types(&events),
        types(local["history"].as_array().expect("history"))
    );
    report(&format!(
        "lambda: a 4 s execution in 1.5 s invocations: {} drives handed over, {} events, none lost or doubled",
        yielded,
        events.len()
    ));
}

#[test]
fn a_function_killed_mid_invocation_is_taken_over_with_an_exact_history() {
    let watch = Watch::start();
    let table = new_table();
    let env = [("STEPFN_LEASE_SECONDS", "2")];
    let mut first = Sandbox::start(&watch, &table, &env);
    let definition = json!({"StartAt": "Fan", "States": {
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
                "ItemProcessor": {"StartAt": "Nap", "States": {
                    "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Echo"},
                    "Echo": {"Type": "Pass", "End": true}}},
                "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}}});
    let machine = create_machine(&watch, "killed", &definition);
    let input = json!({"items": [1, 2, 3, 4, 5, 6]});
    let started = call(
        &watch,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "k1", "input": input.to_string()}),
    );
    let arn = started["executionArn"]
        .as_str()
        .expect("executionArn")
        .to_string();
    // The self-invoked drive is sleeping in the first Waits: kill the sandbox under it.
    std::thread::sleep(Duration::from_millis(600));
    first.kill();
    // Lambda starts a new sandbox for the next invocations.
    let _second = Sandbox::start(&watch, &table, &env);
    let mid = history(&watch, &arn);
    assert!(
        !mid.iter().any(|e| e["type"] == "ExecutionSucceeded"),
        "killed before the end"
    );
    let done = sweep_until_done(&watch, &arn, Duration::from_secs(60));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value =
        serde_json::from_str(done["output"].as_str().expect("output")).expect("JSON");
    let local = local_run(&definition, &input, "k1");
    assert_eq!(output, local["output"]);
    let events = history(&watch, &arn);
    check_history(&events);
    let types = |es: &[Value]| -> Vec<String> {
        es.iter()
            .map(|e| e["type"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        types(&events),
        types(local["history"].as_array().expect("history"))
    );
    report(&format!(
        "lambda: sandbox killed mid-invocation after {} events; taken over, {} events exact",
        mid.len(),
        events.len()
    ));
}

#[test]
fn bad_events_get_api_errors_and_change_nothing() {
    let watch = Watch::start();
    let table = new_table();
    let _sandbox = Sandbox::start(&watch, &table, &[]);
    let machine = create_machine(
        &watch,
        "ok",
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
    );
    let listed = |watch: &Watch| {
        (
            call(watch, "ListStateMachines", json!({})),
            call(watch, "ListExecutions", json!({"stateMachineArn": machine})),
        )
    };
    let before = listed(&watch);
    let cases = [
        (
            json!({"Operation": "LaunchRockets", "Request": {}}),
            "com.amazon.coral.service#UnknownOperationException",
        ),
        (
            json!({"Operation": "StartExecution", "Request": "not an object"}),
            "com.amazon.coral.service#SerializationException",
        ),
        (
            json!({"Operation": 42}),
            "com.amazon.coral.service#SerializationException",
        ),
        (
            json!({"Request": {}}),
            "com.amazon.coral.service#SerializationException",
        ),
        (
            json!({"Operation": "StartExecution", "Request": {"stateMachineArn": machine, "input": "{not json"}}),
            "com.amazonaws.swf.service.v2.model#InvalidExecutionInput",
        ),
        (
            json!({"Operation": "StartExecution", "Request": {"stateMachineArn": 7}}),
            "com.amazon.coral.validate#ValidationException",
        ),
        (
            json!({"Operation": "StartExecution", "Request": {"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:nope"}}),
            "com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist",
        ),
        (
            json!({"Operation": "CreateStateMachine", "Request": {"name": "broken", "roleArn": "arn:aws:iam::111111111111:role/r",
            "definition": json!({"StartAt": "Nowhere", "States": {"P": {"Type": "Pass", "End": true}}}).to_string()}}),
            "com.amazonaws.swf.service.v2.model#InvalidDefinition",
        ),
        (
            json!({"Operation": "DescribeExecution", "Request": {"executionArn": "garbage"}}),
            "com.amazonaws.swf.service.v2.model#InvalidArn",
        ),
        (
            json!({"Operation": "DriveExecution", "Request": {}}),
            "com.amazon.coral.validate#ValidationException",
        ),
    ];
    for (event, kind) in &cases {
        let answer = invoke(&watch, event);
        assert_eq!(answer["__type"], *kind, "{event} -> {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{event} -> {answer}"
        );
    }
    assert_eq!(listed(&watch), before, "bad events change nothing stored");
    report(&format!(
        "lambda: {} bad events answered with API errors, nothing stored changed",
        cases.len()
    ));
}
