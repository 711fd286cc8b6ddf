//! Careless and hostile inputs: clear errors, no panic reports, nothing crashes.

use crate::durable::{stepfn, write_temp};
use serde_json::json;

#[test]
fn a_jsonata_engine_panic_fails_the_state_quietly() {
    let machine = write_temp(
        "jsonata-panic.asl.json",
        &json!({"StartAt": "P", "QueryLanguage": "JSONata", "States": {
            "P": {"Type": "Pass", "Output": "{% $round() %}", "End": true}}}),
    );
    let out = stepfn()
        .args(["run", &machine.display().to_string()])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("States.QueryEvaluationError")
            && stderr.contains("The JSONata engine does not support this expression"),
        "{stdout}{stderr}"
    );
    assert!(!stderr.contains("panicked"), "a panic report: {stderr}");
}

/// `levels` Parallel states, each the only state of its parent's one branch, around a Pass.
fn nested_parallels(levels: usize) -> serde_json::Value {
    let mut inner = json!({"StartAt": "P0", "States": {"P0": {"Type": "Pass", "End": true}}});
    for i in 1..=levels {
        let name = format!("P{i}");
        inner = json!({"StartAt": name, "States": {
            name.clone(): {"Type": "Parallel", "Branches": [inner], "End": true}}});
    }
    inner
}

/// Creates and runs `levels` nested Parallel states through `serve` (with `extra` flags).
fn deep_parallels_through_serve(extra: &[&str]) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_stepfn"));
    command
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    let server = crate::support::serve::Server::start(command, extra);
    let role = "arn:aws:iam::123456789012:role/r";
    // 249 Parallel states are 997 levels of JSON: Jackson's 1,000 take them (serde_json alone
    // stops at 128: 32 Parallels).
    let created = server.api(
        "CreateStateMachine",
        json!({"name": "deep", "roleArn": role,
               "definition": nested_parallels(249).to_string()}),
    );
    let machine = created["stateMachineArn"]
        .as_str()
        .unwrap_or_else(|| panic!("created: {created}"))
        .to_string();
    let started = server.api(
        "StartExecution",
        json!({"stateMachineArn": machine, "input": "{\"x\": 1}"}),
    );
    let execution = started["executionArn"]
        .as_str()
        .unwrap_or_else(|| panic!("started: {started}"))
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let described = loop {
        let d = server.api("DescribeExecution", json!({"executionArn": execution}));
        if d["status"] != "RUNNING" || std::time::Instant::now() > deadline {
            break d;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output = described["output"].as_str().expect("output");
    assert_eq!(
        output,
        format!("{}{{\"x\":1}}{}", "[".repeat(249), "]".repeat(249))
    );
    let described = server.api("DescribeStateMachine", json!({"stateMachineArn": machine}));
    assert!(described["definition"]
        .as_str()
        .is_some_and(|d| d.len() > 10_000));
    // One level more is refused as AWS refuses it, and nothing is stored.
    let refused = server.api(
        "CreateStateMachine",
        json!({"name": "deeper", "roleArn": role,
               "definition": nested_parallels(250).to_string()}),
    );
    assert_eq!(
        refused["__type"], "com.amazonaws.swf.service.v2.model#InvalidDefinition",
        "{refused}"
    );
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Document nesting depth (1001) exceeds the maximum allowed (1000"),
        "{refused}"
    );
    let listed = server.api("ListStateMachines", json!({}));
    assert_eq!(
        listed["stateMachines"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}

#[test]
fn definitions_nest_as_deep_as_aws_reads_them_on_the_memory_store() {
    deep_parallels_through_serve(&[]);
}

#[test]
fn definitions_nest_as_deep_as_aws_reads_them_on_dynamodb_local() {
    let ddb = std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STEPFN_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `bash infra/test.sh`, \
             which installs and starts DynamoDB Local"
        )
    });
    let table = format!("deep{}", std::process::id());
    deep_parallels_through_serve(&[
        "--store",
        "dynamodb",
        "--table",
        &table,
        "--dynamodb-endpoint",
        &ddb,
    ]);
}
