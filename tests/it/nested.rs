//! Nested Step Functions executions (`states:startExecution`, `.sync`, `.sync:2`,
//! `.waitForTaskToken`) through `stepfn run --machine` and through `stepfn serve`: success,
//! child failure, a callback from outside, and a stopped parent stopping its child.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CHILD_ARN: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:child";

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn temp(name: &str, value: &Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepfn-nested-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write");
    path
}

/// Doubles `n`; fails with ChildFailed when `fail`; waits 60 s when `slow`.
fn child() -> Value {
    json!({"StartAt": "Route", "States": {
        "Route": {"Type": "Choice", "Choices": [
            {"Variable": "$.fail", "IsPresent": true, "Next": "Boom"},
            {"Variable": "$.slow", "IsPresent": true, "Next": "Slow"}],
            "Default": "Double"},
        "Boom": {"Type": "Fail", "Error": "ChildFailed", "Cause": "the child was told to fail"},
        "Slow": {"Type": "Wait", "Seconds": 60, "Next": "Double"},
        "Double": {"Type": "Pass", "Parameters": {
            "doubled.$": "States.MathAdd($.n, $.n)",
            "startedBy.$": "$.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"}, "End": true}}})
}

fn parent() -> Value {
    let start = |suffix: &str, input: Value| {
        json!({"Type": "Task", "Resource": format!("arn:aws:states:::states:startExecution{suffix}"),
               "Parameters": {"StateMachineArn": CHILD_ARN, "Input": input}})
    };
    let mut sync = start(
        ".sync",
        json!({"n": 2, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}),
    );
    sync["ResultSelector"] = json!({"output.$": "$.Output", "status.$": "$.Status"});
    sync["ResultPath"] = json!("$.sync");
    sync["Next"] = json!("Sync2");
    let mut sync2 = start(
        ".sync:2",
        json!({"n": 5, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}),
    );
    sync2["ResultSelector"] = json!({"output.$": "$.Output", "input.$": "$.Input.n"});
    sync2["ResultPath"] = json!("$.sync2");
    sync2["Next"] = json!("Fire");
    let mut fire = start(
        "",
        json!({"n": 1, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "x"}),
    );
    fire["ResultSelector"] = json!({"arn.$": "$.ExecutionArn"});
    fire["ResultPath"] = json!("$.fired");
    fire["Next"] = json!("Failing");
    let mut failing = start(".sync", json!({"fail": true}));
    failing["Catch"] =
        json!([{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failed", "Next": "Done"}]);
    failing["End"] = json!(true);
    json!({"StartAt": "Sync", "States": {
        "Sync": sync, "Sync2": sync2, "Fire": fire, "Failing": failing,
        "Done": {"Type": "Pass", "Parameters": {
            "sync.$": "$.sync", "sync2.$": "$.sync2", "fired.$": "$.fired.arn",
            "error.$": "$.failed.Error", "cause.$": "$.failed.Cause"}, "End": true}}})
}

fn check_parent_output(output: &Value, parent_arn_prefix: &str) {
    // `.sync`: Output is the child's output as a string.
    let sync_output: Value = serde_json::from_str(
        output["sync"]["output"]
            .as_str()
            .expect("Output is a string"),
    )
    .expect("Output is JSON text");
    assert_eq!(sync_output["doubled"], 4, "{output}");
    assert!(
        sync_output["startedBy"]
            .as_str()
            .is_some_and(|s| s.starts_with(parent_arn_prefix)),
        "the child sees the parent's execution id: {output}"
    );
    assert_eq!(output["sync"]["status"], "SUCCEEDED");
    // `.sync:2`: Input and Output are JSON.
    assert_eq!(output["sync2"]["output"]["doubled"], 10, "{output}");
    assert_eq!(output["sync2"]["input"], 5);
    assert!(
        output["fired"].as_str().is_some_and(
            |a| a.starts_with("arn:aws:states:us-east-1:111111111111:execution:child:")
        ),
        "{output}"
    );
    // A failed child fails the task with States.TaskFailed and its description.
    assert_eq!(output["error"], "States.TaskFailed", "{output}");
    let cause: Value =
        serde_json::from_str(output["cause"].as_str().expect("cause")).expect("cause is JSON");
    assert_eq!(cause["Status"], "FAILED", "{cause}");
    assert_eq!(cause["Error"], "ChildFailed");
    assert_eq!(cause["Cause"], "the child was told to fail");
    assert!(
        cause["StartDate"].is_i64() && cause["StopDate"].is_i64(),
        "{cause}"
    );
}

#[test]
fn nested_executions_through_stepfn_run() {
    let child_path = temp("child.asl.json", &child());
    let parent_path = temp("parent.asl.json", &parent());
    let out = Command::new(env!("CARGO_BIN_EXE_stepfn"))
        .arg("run")
        .arg(&parent_path)
        .args(["--name", "parent", "--format", "json"])
        .arg("--machine")
        .arg(format!("child={}", child_path.display()))
        .output()
        .expect("stepfn run");
    let result: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(result["status"], "SUCCEEDED", "{result}");
    check_parent_output(
        &result["output"],
        "arn:aws:states:us-east-1:111111111111:execution:parent:",
    );

    // Without --machine the child's machine does not exist.
    let missing = Command::new(env!("CARGO_BIN_EXE_stepfn"))
        .arg("run")
        .arg(&parent_path)
        .args(["--format", "json"])
        .output()
        .expect("stepfn run");
    let result: Value = serde_json::from_slice(&missing.stdout).expect("JSON");
    assert_eq!(result["status"], "FAILED");
    assert_eq!(
        result["error"],
        "StepFunctions.StateMachineDoesNotExistException"
    );
    assert!(
        result["cause"]
            .as_str()
            .is_some_and(|c| c.contains(CHILD_ARN)),
        "{result}"
    );
    report(
        "nested: startExecution, .sync, .sync:2 and a failed child through stepfn run --machine",
    );
}

use crate::support::serve::Server;

fn serve() -> Server {
    Server::start(Command::new(env!("CARGO_BIN_EXE_stepfn")), &[])
}

fn api(server: &Server, operation: &str, body: Value) -> Value {
    server.api(operation, body)
}

fn create(server: &Server, name: &str, definition: &Value) -> String {
    let created = api(
        server,
        "CreateStateMachine",
        json!({"name": name, "definition": definition.to_string(), "roleArn": "arn:aws:iam::111111111111:role/r"}),
    );
    created["stateMachineArn"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string()
}

fn start(server: &Server, machine: &str, name: &str, input: &Value) -> String {
    let started = api(
        server,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": name, "input": input.to_string()}),
    );
    started["executionArn"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_string()
}

fn wait_while(server: &Server, arn: &str, status: &str) -> Value {
    let begin = Instant::now();
    loop {
        let d = api(server, "DescribeExecution", json!({"executionArn": arn}));
        if d["status"] != status {
            return d;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(60),
            "still {status}: {d}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn children(server: &Server) -> Vec<Value> {
    api(
        server,
        "ListExecutions",
        json!({"stateMachineArn": CHILD_ARN}),
    )["executions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn nested_executions_through_stepfn_serve() {
    let server = serve();
    create(&server, "child", &child());
    let machine = create(&server, "parent", &parent());
    let arn = start(&server, &machine, "p1", &json!({}));
    let done = wait_while(&server, &arn, "RUNNING");
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value =
        serde_json::from_str(done["output"].as_str().expect("output")).expect("JSON");
    check_parent_output(&output, &arn);
    assert_eq!(children(&server).len(), 4, "one child per task");
    let history = api(&server, "GetExecutionHistory", json!({"executionArn": arn}));
    let events = history["events"].as_array().expect("events");
    let submitted: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "TaskSubmitted")
        .collect();
    assert_eq!(
        submitted.len(),
        3,
        "one TaskSubmitted per .sync task: {history}"
    );
    let details = &submitted[0]["taskSubmittedEventDetails"];
    assert_eq!(details["resourceType"], "states", "{details}");
    assert_eq!(details["resource"], "startExecution.sync");
    let answer: Value =
        serde_json::from_str(details["output"].as_str().expect("output")).expect("JSON");
    assert!(answer["ExecutionArn"]
        .as_str()
        .is_some_and(|a| a.contains(":execution:child:")));
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let first = types
        .iter()
        .position(|t| *t == "TaskSubmitted")
        .expect("submitted");
    assert_eq!(
        &types[first - 2..=first + 1],
        [
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded"
        ]
    );

    // .waitForTaskToken: the child gets the token; the parent waits for the callback.
    let waiting = create(
        &server,
        "approver",
        &json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
            "Parameters": {"StateMachineArn": CHILD_ARN,
                           "Input": {"n": 21, "token.$": "$$.Task.Token"}},
            "End": true}}}),
    );
    let before = children(&server).len();
    let asking = start(&server, &waiting, "ask1", &json!({}));
    let begin = Instant::now();
    let token = loop {
        let list = children(&server);
        if list.len() > before {
            let newest = &list[0];
            let d = api(
                &server,
                "DescribeExecution",
                json!({"executionArn": newest["executionArn"]}),
            );
            let input: Value =
                serde_json::from_str(d["input"].as_str().expect("input")).expect("JSON");
            break input["token"]
                .as_str()
                .expect("the child got the token")
                .to_string();
        }
        assert!(
            begin.elapsed() < Duration::from_secs(30),
            "no child started"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        api(
            &server,
            "DescribeExecution",
            json!({"executionArn": asking})
        )["status"],
        "RUNNING",
        "the parent waits for the callback, not for the child"
    );
    api(
        &server,
        "SendTaskSuccess",
        json!({"taskToken": token, "output": json!({"approved": true}).to_string()}),
    );
    let asked = wait_while(&server, &asking, "RUNNING");
    assert_eq!(asked["status"], "SUCCEEDED", "{asked}");
    assert_eq!(asked["output"], json!({"approved": true}).to_string());
    let history = api(
        &server,
        "GetExecutionHistory",
        json!({"executionArn": asking}),
    );
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        types.windows(4).any(|w| w
            == [
                "TaskScheduled",
                "TaskStarted",
                "TaskSubmitted",
                "TaskSucceeded"
            ]),
        "{types:?}"
    );

    // A stopped parent stops the child its .sync task waits for.
    let slow_parent = create(
        &server,
        "slowparent",
        &json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync",
            "Parameters": {"StateMachineArn": CHILD_ARN, "Input": {"n": 1, "slow": true}},
            "End": true}}}),
    );
    let before = children(&server).len();
    let stopping = start(&server, &slow_parent, "stop1", &json!({}));
    let begin = Instant::now();
    let child_arn = loop {
        let list = children(&server);
        if list.len() > before {
            break list[0]["executionArn"].as_str().expect("arn").to_string();
        }
        assert!(
            begin.elapsed() < Duration::from_secs(30),
            "no child started"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    api(
        &server,
        "StopExecution",
        json!({"executionArn": stopping, "error": "Enough"}),
    );
    assert_eq!(
        wait_while(&server, &stopping, "RUNNING")["status"],
        "ABORTED"
    );
    let child = wait_while(&server, &child_arn, "RUNNING");
    assert_eq!(
        child["status"], "ABORTED",
        "the child is stopped with its parent: {child}"
    );
    report("nested: .sync, .sync:2, request-response, failed child, .waitForTaskToken callback and a stopped parent through stepfn serve");
}

/// As AWS recorded it (`test_sync_with_task_token`): a `.sync` task has `$$.Task.Token`, and a
/// SendTaskSuccess with it ends the task with that output, whatever the child still does.
#[test]
fn a_sync_task_ends_on_a_callback_with_its_token() {
    let server = serve();
    create(&server, "child", &child());
    let machine = create(
        &server,
        "sync-token",
        &json!({"StartAt": "StartExecution", "States": {"StartExecution": {"Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync",
            "Parameters": {"StateMachineArn": CHILD_ARN,
                           "Input": {"slow": true, "n": 1, "TaskToken.$": "$$.Task.Token"}},
            "End": true}}}),
    );
    let parent = start(&server, &machine, "t1", &json!({}));
    let begin = Instant::now();
    let token = loop {
        if let Some(child) = children(&server).first() {
            let d = api(
                &server,
                "DescribeExecution",
                json!({"executionArn": child["executionArn"]}),
            );
            let input: Value =
                serde_json::from_str(d["input"].as_str().expect("input")).expect("JSON");
            break input["TaskToken"]
                .as_str()
                .expect("the .sync task's child got $$.Task.Token")
                .to_string();
        }
        assert!(begin.elapsed() < Duration::from_secs(30), "no child");
        std::thread::sleep(Duration::from_millis(100));
    };
    let answered = api(
        &server,
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "\"SQS_SEND_MESSAGE_AND_WAIT\""}),
    );
    assert_eq!(answered, json!({}), "SendTaskSuccess");
    let done = wait_while(&server, &parent, "RUNNING");
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["output"], "\"SQS_SEND_MESSAGE_AND_WAIT\"");
    let history = api(
        &server,
        "GetExecutionHistory",
        json!({"executionArn": parent}),
    );
    let submitted = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "TaskSubmitted")
        .map(|e| e["taskSubmittedEventDetails"]["output"].clone())
        .expect("TaskSubmitted");
    let answer: Value = serde_json::from_str(submitted.as_str().expect("text")).expect("JSON");
    assert_eq!(answer["SdkHttpMetadata"]["HttpStatusCode"], 200, "{answer}");
    assert!(answer["SdkResponseMetadata"]["RequestId"].is_string());
    report("nested: a .sync task answered by SendTaskSuccess with its $$.Task.Token, TaskSubmitted with SdkHttpMetadata");
}
