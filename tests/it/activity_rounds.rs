//! An activity worker's rounds of GetActivityTask → SendTaskHeartbeat → SendTaskSuccess
//! against `stepfn serve`, on the memory store and on DynamoDB Local: every task it gets is the
//! one the execution waits for now, never one it already answered (a heartbeat wakes the
//! execution, whose worker must not queue the task again).

use serde_json::{json, Value};

use crate::durable::{endpoint, new_table, report, stepfn, store_args, uuid_like};
use crate::support::serve::Server;

/// An activity task in a loop: `n` counts the rounds, up to `rounds`.
fn looping(activity: &str, rounds: u64) -> Value {
    json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 60,
                 "TimeoutSeconds": 600, "Next": "More"},
        "More": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericLessThan": rounds, "Next": "Work"}],
            "Default": "Done"},
        "Done": {"Type": "Succeed"}}})
}

/// `workers` activity workers at once, each `rounds` rounds with an execution of its own.
fn rounds_in_parallel(server: &Server, workers: usize, rounds: u64) {
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| self::rounds(server, rounds));
        }
    });
}

fn rounds(server: &Server, rounds: u64) {
    let tag = format!("{}-{:?}", uuid_like(), std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "");
    let activity = server.api("CreateActivity", json!({"name": format!("rounds-{tag}")}))
        ["activityArn"]
        .as_str()
        .expect("activity")
        .to_string();
    let machine = server.api(
        "CreateStateMachine",
        json!({"name": format!("rounds-{tag}"), "roleArn": "arn:aws:iam::111111111111:role/r",
               "definition": looping(&activity, rounds).to_string()}),
    )["stateMachineArn"]
        .as_str()
        .expect("machine")
        .to_string();
    let execution = server.api(
        "StartExecution",
        json!({"stateMachineArn": machine, "input": json!({"n": 0}).to_string()}),
    )["executionArn"]
        .as_str()
        .expect("started")
        .to_string();
    let mut tokens = std::collections::HashSet::new();
    for round in 0..rounds {
        let task = server.api(
            "GetActivityTask",
            json!({"activityArn": activity, "workerName": "w"}),
        );
        let token = task["taskToken"]
            .as_str()
            .unwrap_or_else(|| panic!("round {round}: no task: {task}"))
            .to_string();
        let input: Value =
            serde_json::from_str(task["input"].as_str().unwrap_or("null")).expect("input JSON");
        assert_eq!(input, json!({"n": round}), "round {round}: a stale task");
        assert!(
            tokens.insert(token.clone()),
            "round {round}: a token seen before"
        );
        let beat = server.api("SendTaskHeartbeat", json!({"taskToken": token}));
        assert!(
            beat.get("__type").is_none(),
            "round {round}: heartbeat: {beat}"
        );
        let done = server.api(
            "SendTaskSuccess",
            json!({"taskToken": token, "output": json!({"n": round + 1}).to_string()}),
        );
        assert!(
            done.get("__type").is_none(),
            "round {round}: success: {done}"
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let d = server.api("DescribeExecution", json!({"executionArn": execution}));
        if d["status"] != "RUNNING" {
            assert_eq!(d["status"], "SUCCEEDED", "{d}");
            assert_eq!(d["output"], json!({"n": rounds}).to_string());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still running: {d}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn heartbeat_rounds_get_only_current_tasks_on_the_memory_store() {
    let server = Server::start(stepfn(), &[]);
    rounds_in_parallel(&server, 10, 100);
    report(
        "activity: 1,000 rounds (10 workers x 100) of get, heartbeat, success on the memory store, no stale task",
    );
}

#[test]
fn heartbeat_rounds_get_only_current_tasks_on_dynamodb_local() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let args = store_args(&table, &endpoint);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(stepfn(), &args);
    rounds_in_parallel(&server, 5, 40);
    report(
        "activity: 200 rounds (5 workers x 40) of get, heartbeat, success on DynamoDB Local, no stale task",
    );
}
