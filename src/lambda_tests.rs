//! The Lambda function on a memory store: operations of the three APIs, sweeps, drives.

use super::*;
use crate::store::memory::MemoryStore;

fn settings() -> Settings {
    Settings {
        table: "t".into(),
        function_name: None,
        lease_ms: 30_000,
        park_after_ms: 2_000,
        timeout_cap_ms: None,
        self_invoke_wait_ms: 100,
        sweep_concurrency: 4,
        mocks: None,
    }
}

fn function() -> Function {
    Function::new(AnyStore::Memory(MemoryStore::new()), settings(), None, None)
}

#[test]
fn the_end_keeps_a_margin_before_the_deadline() {
    let f = function();
    assert_eq!(f.end_of(Some(10_000), 0), 8_000);
    assert_eq!(f.end_of(Some(900_000), 0), 895_000);
    assert_eq!(f.end_of(Some(500), 0), 300);
    // A deadline in the past (an emulator's constant) is not one: 60 s are assumed.
    assert_eq!(f.end_of(Some(600_000), 1_000_000), 1_055_000);
    let mut capped = function();
    capped.settings.timeout_cap_ms = Some(3_000);
    assert_eq!(capped.end_of(Some(900_000), 0), 2_400);
}

#[tokio::test]
async fn operations_answer_results_and_error_shapes() {
    let f = function();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let created = f
        .handle(
            json!({"Operation": "CreateStateMachine", "Request": {"name": "m", "definition": def.to_string(), "roleArn": "arn:aws:iam::111111111111:role/r"}}),
            None,
        )
        .await
        .expect("answer");
    assert!(created["stateMachineArn"].as_str().is_some(), "{created}");
    let unknown = f
        .handle(json!({"Operation": "Frobnicate"}), None)
        .await
        .expect("answer");
    assert_eq!(
        unknown["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );
    let bad = f
        .handle(json!({"Operation": "StartExecution", "Request": []}), None)
        .await
        .expect("answer");
    assert_eq!(
        bad["__type"],
        "com.amazon.coral.service#SerializationException"
    );
    let nothing = f.handle(json!([1, 2]), None).await.expect("answer");
    assert_eq!(
        nothing["__type"],
        "com.amazon.coral.service#SerializationException"
    );
    let listed = f
        .handle(json!({"Operation": "ListStateMachines"}), None)
        .await
        .expect("answer");
    assert_eq!(listed["stateMachines"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_sweep_fires_due_schedule_slots_and_drives_their_executions() {
    use crate::scheduler::record::{schedule_key, ScheduleRecord, SCHEDULE_KIND};
    let f = function();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let created = f
        .handle(
            json!({"Operation": "CreateStateMachine", "Request": {"name": "m", "definition": def.to_string(), "roleArn": "arn:aws:iam::111111111111:role/r"}}),
            None,
        )
        .await
        .expect("answer");
    // Created 90 s ago: its first slot, a minute after creation, is due.
    let since = now_ms() - 90_000;
    let schedule: ScheduleRecord = serde_json::from_value(json!({
        "name": "tick", "group": "default",
        "arn": "arn:aws:scheduler:us-east-1:111111111111:schedule/default/tick",
        "expression": "rate(1 minute)", "state": "ENABLED", "actionAfterCompletion": "NONE",
        "target": {"arn": created["stateMachineArn"], "roleArn": "arn:aws:iam::111111111111:role/r"},
        "created": since, "modified": since, "since": since
    }))
    .expect("record");
    f.service
        .store()
        .put_resource(
            SCHEDULE_KIND,
            &schedule_key("default", "tick"),
            &serde_json::to_value(&schedule).expect("json"),
            crate::store::Expect::Absent,
        )
        .await
        .expect("put");
    let swept = f
        .handle(json!({"Operation": SWEEP_OPERATION}), None)
        .await
        .expect("sweep");
    assert_eq!(swept["scheduled"], 1, "{swept}");
    assert_eq!(swept["swept"]["finished"], 1, "{swept}");
    let again = f
        .handle(json!({"Operation": SWEEP_OPERATION}), None)
        .await
        .expect("sweep");
    assert_eq!(again["scheduled"], 0, "a slot fires once: {again}");
}

fn call(service: Option<&str>, operation: &str, request: Value) -> Value {
    let mut event = json!({"Operation": operation, "Request": request});
    if let Some(service) = service {
        event["Service"] = json!(service);
    }
    event
}

/// A function with a Pass state machine `m`; its ARN.
async fn function_with_machine() -> (Function, String) {
    let f = function();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let created = f
        .handle(
            call(
                None,
                "CreateStateMachine",
                json!({"name": "m", "definition": def.to_string(),
                    "roleArn": "arn:aws:iam::111111111111:role/r"}),
            ),
            None,
        )
        .await
        .expect("answer");
    let arn = created["stateMachineArn"]
        .as_str()
        .expect("machine ARN")
        .to_string();
    (f, arn)
}

#[tokio::test]
async fn the_service_names_the_api_of_colliding_operations() {
    let (f, _) = function_with_machine().await;
    // TagResource is an operation of all three; each answers by its own model.
    let group = "arn:aws:scheduler:us-east-1:111111111111:schedule-group/default";
    let tags = json!([{"Key": "stepfn:catch-up", "Value": "all"}]);
    let scheduler = f
        .handle(
            call(
                Some("scheduler"),
                "TagResource",
                json!({"ResourceArn": group, "Tags": tags}),
            ),
            None,
        )
        .await
        .expect("answer");
    assert!(scheduler.get("__type").is_none(), "{scheduler}");
    let listed = f
        .handle(
            call(
                Some("scheduler"),
                "ListTagsForResource",
                json!({"ResourceArn": group}),
            ),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(listed, json!({"Tags": tags}));
    // The same ARN to Step Functions' TagResource is an ARN it does not take.
    let states = f
        .handle(
            call(
                Some("states"),
                "TagResource",
                json!({"resourceArn": group, "tags": [{"key": "k", "value": "v"}]}),
            ),
            None,
        )
        .await
        .expect("answer");
    assert!(
        states["__type"]
            .as_str()
            .is_some_and(|t| t.starts_with("com.amazon")),
        "{states}"
    );
    let missing = f
        .handle(
            call(Some("scheduler"), "GetSchedule", json!({"Name": "nope"})),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(
        missing,
        json!({"__type": "ResourceNotFoundException", "message": "Schedule nope does not exist."})
    );
    let rule = f
        .handle(
            call(Some("events"), "DescribeRule", json!({"Name": "nope"})),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(rule["__type"], "ResourceNotFoundException", "{rule}");
    let unknown = f
        .handle(call(Some("sqs"), "SendMessage", json!({})), None)
        .await
        .expect("answer");
    assert_eq!(
        unknown,
        json!({"__type": "com.amazon.coral.service#UnknownOperationException",
            "message": "unknown service \"sqs\": an event's Service is \"states\" (the default), \"scheduler\" or \"events\""})
    );
    let bad = f
        .handle(json!({"Service": 7, "Operation": "ListRules"}), None)
        .await
        .expect("answer");
    assert_eq!(
        bad["__type"],
        "com.amazon.coral.service#SerializationException"
    );
    // The function's own operations are Step Functions side only.
    let sweep = f
        .handle(call(Some("scheduler"), SWEEP_OPERATION, json!({})), None)
        .await
        .expect("answer");
    assert_eq!(sweep["__type"], "UnknownOperationException", "{sweep}");
}

#[test]
fn each_api_names_its_errors_as_its_wire_does() {
    let internal = ApiError::new(Exception::InternalFailure, "store down");
    assert_eq!(
        Api::States.error(&internal)["__type"],
        "com.amazon.coral.service#InternalFailure"
    );
    assert_eq!(
        Api::Scheduler.error(&internal),
        json!({"__type": "InternalServerException", "message": "store down"})
    );
    assert_eq!(Api::Events.error(&internal)["__type"], "InternalFailure");
    let conflict = ApiError::new(Exception::ConflictException, "Schedule s already exists.");
    assert_eq!(
        Api::Scheduler.error(&conflict)["__type"],
        "ConflictException"
    );
}

#[tokio::test]
async fn a_schedule_created_through_the_function_fires_at_the_sweep() {
    let (mut f, machine) = function_with_machine().await;
    let created = f
        .handle(
            call(
                Some("scheduler"),
                "CreateSchedule",
                json!({"Name": "tick", "ScheduleExpression": "rate(1 minute)",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {"Arn": machine, "RoleArn": "arn:aws:iam::111111111111:role/r"}}),
            ),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(
        created,
        json!({"ScheduleArn": "arn:aws:scheduler:us-east-1:111111111111:schedule/default/tick"})
    );
    let got = f
        .handle(
            call(Some("scheduler"), "GetSchedule", json!({"Name": "tick"})),
            None,
        )
        .await
        .expect("answer");
    let since = got["CreationDate"]
        .as_f64()
        .map(|s| (s * 1000.0).round() as i64)
        .expect("CreationDate");
    // Nothing is due at creation: the first slot is a minute on.
    let early = f
        .handle(call(None, SWEEP_OPERATION, json!({})), None)
        .await
        .expect("sweep");
    assert_eq!(early["scheduled"], 0, "{early}");
    // The schedule clock 90 s on: the first slot is due, the second not yet.
    let at = chrono::DateTime::from_timestamp_millis(since + 90_000)
        .expect("a time")
        .to_rfc3339();
    f.schedule_clock =
        ScheduleClock::parse(&json!({"at": at, "real": now_ms(), "speed": 1}).to_string())
            .expect("clock");
    let swept = f
        .handle(call(None, SWEEP_OPERATION, json!({})), None)
        .await
        .expect("sweep");
    assert_eq!(swept["scheduled"], 1, "{swept}");
    assert_eq!(swept["swept"]["finished"], 1, "{swept}");
    let again = f
        .handle(call(None, SWEEP_OPERATION, json!({})), None)
        .await
        .expect("sweep");
    assert_eq!(again["scheduled"], 0, "a slot fires once: {again}");
    let slot = since + 60_000;
    let name = crate::scheduler::slot::execution_name("default", "tick", slot);
    let listed = f
        .handle(
            call(None, "ListExecutions", json!({"stateMachineArn": machine})),
            None,
        )
        .await
        .expect("answer");
    let names: Vec<&str> = listed["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, [name.as_str()]);
    let described = f
        .handle(
            call(
                None,
                "DescribeExecution",
                json!({"executionArn": listed["executions"][0]["executionArn"]}),
            ),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let input: Value =
        serde_json::from_str(described["input"].as_str().expect("input")).expect("JSON input");
    assert_eq!(
        input,
        json!({"scheduledTime": crate::scheduler::slot::scheduled_time(slot)})
    );
}

#[tokio::test]
async fn a_rule_and_put_events_through_the_function_start_an_execution() {
    let (f, machine) = function_with_machine().await;
    let events = |operation: &str, request: Value| call(Some("events"), operation, request);
    let rule = f
        .handle(
            events(
                "PutRule",
                json!({"Name": "orders", "EventPattern": r#"{"source": ["shop"]}"#}),
            ),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(
        rule,
        json!({"RuleArn": "arn:aws:events:us-east-1:111111111111:rule/orders"})
    );
    let targets = f
        .handle(
            events(
                "PutTargets",
                json!({"Rule": "orders", "Targets": [{"Id": "sfn", "Arn": machine}]}),
            ),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(targets, json!({"FailedEntryCount": 0, "FailedEntries": []}));
    let entry = |source: &str| json!({"Source": source, "DetailType": "OrderPlaced", "Detail": r#"{"id": 7}"#});
    let put = f
        .handle(
            events(
                "PutEvents",
                json!({"Entries": [entry("shop"), entry("elsewhere")]}),
            ),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    assert!(took_an_event(&put));
    assert!(!took_an_event(
        &json!({"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InvalidArgument"}]})
    ));
    // Only the matching event started an execution; the sweep drives it to its end.
    let swept = f
        .handle(call(None, SWEEP_OPERATION, json!({})), None)
        .await
        .expect("sweep");
    assert_eq!(swept["swept"]["finished"], 1, "{swept}");
    let listed = f
        .handle(
            call(None, "ListExecutions", json!({"stateMachineArn": machine})),
            None,
        )
        .await
        .expect("answer");
    let executions = listed["executions"].as_array().expect("executions");
    assert_eq!(executions.len(), 1, "{listed}");
    assert_eq!(executions[0]["status"], "SUCCEEDED", "{listed}");
    let described = f
        .handle(
            call(
                None,
                "DescribeExecution",
                json!({"executionArn": executions[0]["executionArn"]}),
            ),
            None,
        )
        .await
        .expect("answer");
    let input: Value =
        serde_json::from_str(described["input"].as_str().expect("input")).expect("JSON input");
    assert_eq!(input["source"], "shop", "{input}");
    assert_eq!(input["detail"], json!({"id": 7}), "{input}");
}

#[tokio::test]
async fn a_sweep_drives_started_executions_to_their_end() {
    let f = function();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 7, "End": true}}});
    let created = f
        .handle(
            json!({"Operation": "CreateStateMachine", "Request": {"name": "m", "definition": def.to_string(), "roleArn": "arn:aws:iam::111111111111:role/r"}}),
            None,
        )
        .await
        .expect("answer");
    let started = f
        .handle(
            json!({"Operation": "StartExecution", "Request": {"stateMachineArn": created["stateMachineArn"], "input": "{}"}}),
            None,
        )
        .await
        .expect("answer");
    let arn = started["executionArn"].clone();
    let before = f
        .handle(
            json!({"Operation": "DescribeExecution", "Request": {"executionArn": arn}}),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(before["status"], "RUNNING");
    let swept = f
        .handle(
            json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
            None,
        )
        .await
        .expect("sweep");
    assert_eq!(swept["swept"]["finished"], 1, "{swept}");
    let after = f
        .handle(
            json!({"Operation": "DescribeExecution", "Request": {"executionArn": arn}}),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(after["status"], "SUCCEEDED");
    assert_eq!(after["output"], "7");
}

#[tokio::test]
async fn versions_aliases_test_state_and_redrive_go_through_the_function() {
    let f = function();
    let call = |op: &str, req: Value| json!({"Operation": op, "Request": req});
    // The branch fails until the execution is redriven.
    let def = json!({"StartAt": "Work", "States": {"Work": {"Type": "Parallel", "End": true,
        "Branches": [{"StartAt": "Gate", "States": {
            "Gate": {"Type": "Choice", "Choices": [{"Variable": "$$.Execution.RedriveCount",
                "NumericEquals": 0, "Next": "Broken"}], "Default": "Fine"},
            "Broken": {"Type": "Fail", "Error": "Bug.Found"},
            "Fine": {"Type": "Pass", "Result": "fixed", "End": true}}}]}}});
    let created = f
        .handle(
            call(
                "CreateStateMachine",
                json!({"name": "v", "definition": def.to_string(),
            "roleArn": "arn:aws:iam::111111111111:role/r", "publish": true}),
            ),
            None,
        )
        .await
        .expect("answer");
    let version = created["stateMachineVersionArn"]
        .as_str()
        .expect("version")
        .to_string();
    let alias = f
        .handle(
            call(
                "CreateStateMachineAlias",
                json!({"name": "live",
            "routingConfiguration": [{"stateMachineVersionArn": version, "weight": 100}]}),
            ),
            None,
        )
        .await
        .expect("answer");
    let started = f
        .handle(
            call(
                "StartExecution",
                json!({"stateMachineArn": alias["stateMachineAliasArn"]}),
            ),
            None,
        )
        .await
        .expect("answer");
    let arn = started["executionArn"].clone();
    let sweep = json!({"source": "aws.events", "detail-type": "Scheduled Event"});
    f.handle(sweep.clone(), None).await.expect("sweep");
    let describe = call("DescribeExecution", json!({"executionArn": arn}));
    let failed = f.handle(describe.clone(), None).await.expect("answer");
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["stateMachineVersionArn"], json!(version));
    let redriven = f
        .handle(call("RedriveExecution", json!({"executionArn": arn})), None)
        .await
        .expect("answer");
    assert!(redriven["redriveDate"].is_number(), "{redriven}");
    f.handle(sweep, None).await.expect("sweep");
    let done = f.handle(describe, None).await.expect("answer");
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["output"], "[\"fixed\"]");
    assert_eq!(done["redriveCount"], 1);
    let tested = f
        .handle(
            call(
                "TestState",
                json!({"definition": def.to_string(), "stateName": "Gate",
            "input": "{}"}),
            ),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(tested["nextState"], "Broken", "{tested}");
}

#[tokio::test]
async fn a_drive_past_its_deadline_yields_and_the_next_one_finishes() {
    let f = function();
    // A 1.5 s wait is slept in process, but not past the end of the invocation.
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
        "P": {"Type": "Pass", "Result": "done", "End": true}}});
    let created = f
        .handle(
            json!({"Operation": "CreateStateMachine", "Request": {"name": "m", "definition": def.to_string(), "roleArn": "arn:aws:iam::111111111111:role/r"}}),
            None,
        )
        .await
        .expect("answer");
    let started = f
        .handle(
            json!({"Operation": "StartExecution", "Request": {"stateMachineArn": created["stateMachineArn"]}}),
            None,
        )
        .await
        .expect("answer");
    let arn = started["executionArn"].as_str().expect("arn").to_string();
    let first = f.drive(&arn, now_ms() + 300).await.expect("drive");
    assert_eq!(first["outcome"], "yielded", "{first}");
    let second = f.drive(&arn, now_ms() + 5_000).await.expect("drive");
    assert_eq!(second["outcome"], "finished", "{second}");
    let history = f.service.store().history(&arn).await.expect("history");
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
