//! Distributed Map: child executions stored with their own history (STANDARD) or run in
//! memory (EXPRESS), the Map Run events of the parent, tolerated failures, `ItemBatcher`, and
//! a Catch of a failed Map Run; on the memory store through the invoker stack `stepfn run`
//! and `serve` build.

use serde_json::{json, Value};
use stepfn::api::{Exception, Service};
use stepfn::engine::execution::Status;
use stepfn::runtime::commands;
use stepfn::runtime::durable::DurableOptions;
use stepfn::runtime::invokers::{Invokers, Mocks, Setup};
use stepfn::store::memory::MemoryStore;
use stepfn::store::{AnyStore, ExecutionRecord, Store};

struct Ran {
    record: ExecutionRecord,
    events: Vec<Value>,
    store: AnyStore,
}

impl Ran {
    fn types(&self) -> Vec<&str> {
        self.events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect()
    }

    fn map_run_arn(&self) -> String {
        self.events
            .iter()
            .find(|e| e["type"] == "MapRunStarted")
            .and_then(|e| e["mapRunStartedEventDetails"]["mapRunArn"].as_str())
            .expect("a MapRunStarted event")
            .to_string()
    }
}

fn run(name: &str, definition: Value, input: Value) -> Ran {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = AnyStore::Memory(MemoryStore::new());
        let invoker = Invokers::new(Setup {
            store: store.clone(),
            integrations: None,
            mocks: Mocks::None,
            virtual_clock: true,
        })
        .expect("invokers");
        let now = chrono::Utc::now().timestamp_millis();
        let machine = commands::machine_record(name, definition, now);
        let started = commands::start(&store, &machine, "parent", input, now)
            .await
            .expect("starts");
        let options = DurableOptions {
            owner: "test".into(),
            lease_ms: 60_000,
            park_after_ms: None,
            deadline_ms: None,
            virtual_clock: true,
        };
        let record = commands::run_durably(&store, &started.info.arn, invoker, &options)
            .await
            .expect("runs");
        let events = store
            .history(&started.info.arn)
            .await
            .expect("history")
            .iter()
            .map(|e| e.to_api_json())
            .collect();
        Ran {
            record,
            events,
            store,
        }
    })
}

fn distributed(processor: Value, execution_type: &str, extra: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            "StartAt": "Work",
            "States": {"Work": processor}
        },
        "End": true
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut map, extra) {
        m.extend(e);
    }
    json!({"StartAt": "Fan", "States": {"Fan": map}})
}

#[test]
fn standard_children_are_stored_executions_with_their_own_history() {
    let def = distributed(
        json!({"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($.v, $.v)"}, "End": true}),
        "STANDARD",
        json!({"ItemSelector": {"v.$": "$$.Map.Item.Value"}, "Label": "doubling", "MaxConcurrency": 2}),
    );
    let ran = run("fanout", def, json!([1, 2, 3]));
    assert_eq!(
        ran.record.status,
        Status::Succeeded,
        "{:?}",
        ran.record.error
    );
    assert_eq!(
        ran.record.output,
        Some(json!([{"double": 2}, {"double": 4}, {"double": 6}]))
    );
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    let map_run = ran.map_run_arn();
    assert!(
        map_run.starts_with("arn:aws:states:us-east-1:111111111111:mapRun:fanout/doubling:"),
        "{map_run}"
    );
    let child_machine = "arn:aws:states:us-east-1:111111111111:stateMachine:fanout/doubling";
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let children = rt
        .block_on(ran.store.list_executions(child_machine))
        .expect("children listed");
    assert_eq!(children.len(), 3);
    let mut outputs = Vec::new();
    for child in &children {
        assert_eq!(child.status, Status::Succeeded);
        assert_eq!(
            child.info.origin.map_run_arn.as_deref(),
            Some(map_run.as_str())
        );
        assert!(child
            .info
            .arn
            .starts_with("arn:aws:states:us-east-1:111111111111:execution:fanout/doubling:"));
        let history = rt
            .block_on(ran.store.history(&child.info.arn))
            .expect("history");
        let types: Vec<&str> = history.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "ExecutionStarted",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
        let full = rt
            .block_on(ran.store.get_execution(&child.info.arn))
            .expect("read")
            .expect("stored");
        outputs.push(full.output.unwrap_or_default());
    }
    outputs.sort_by_key(|o| o["double"].as_i64());
    assert_eq!(
        outputs,
        [
            json!({"double": 2}),
            json!({"double": 4}),
            json!({"double": 6})
        ]
    );
    // The child machine is stored for its executions, and stays hidden from the parent's.
    let machine = rt
        .block_on(ran.store.get_machine(child_machine))
        .expect("read");
    assert!(machine.is_some());
}

fn failing_on_two() -> Value {
    json!({
        "Type": "Choice",
        "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Boom"}],
        "Default": "Fine"
    })
}

fn with_boom(mut def: Value) -> Value {
    let states = &mut def["States"]["Fan"]["ItemProcessor"]["States"];
    states["Boom"] = json!({"Type": "Fail", "Error": "Item.Bad", "Cause": "two"});
    states["Fine"] = json!({"Type": "Succeed"});
    def
}

#[test]
fn a_child_failure_beyond_the_tolerance_fails_the_map_run() {
    let def = with_boom(distributed(failing_on_two(), "STANDARD", json!({})));
    let ran = run("strict", def, json!([1, 2, 3]));
    assert_eq!(ran.record.status, Status::Failed);
    let err = ran.record.error.clone().expect("an error");
    assert_eq!(err.error, "States.ExceedToleratedFailureThreshold");
    assert_eq!(
        err.cause.as_deref(),
        Some("The specified tolerated failure threshold was exceeded")
    );
    let types = ran.types();
    assert_eq!(
        &types[3..],
        [
            "MapRunStarted",
            "MapRunFailed",
            "MapStateFailed",
            "ExecutionFailed"
        ]
    );
    let failed = &ran.events[4]["mapRunFailedEventDetails"];
    assert_eq!(failed["error"], "States.ExceedToleratedFailureThreshold");
}

#[test]
fn tolerated_failures_leave_their_error_in_the_results() {
    let def = with_boom(distributed(
        failing_on_two(),
        "EXPRESS",
        json!({"ToleratedFailureCount": 1}),
    ));
    let ran = run("tolerant", def, json!([1, 2, 3]));
    assert_eq!(
        ran.record.status,
        Status::Succeeded,
        "{:?}",
        ran.record.error
    );
    assert_eq!(
        ran.record.output,
        Some(json!([1, {"Error": "Item.Bad", "Cause": "two"}, 3]))
    );
    // A percentage below one failure in three tolerates none.
    let def = with_boom(distributed(
        failing_on_two(),
        "EXPRESS",
        json!({"ToleratedFailurePercentage": 30}),
    ));
    let ran = run("tolerant-pct", def, json!([1, 2, 3]));
    assert_eq!(ran.record.status, Status::Failed);
}

#[test]
fn a_caught_map_run_failure_goes_on_to_the_catcher() {
    let mut def = with_boom(distributed(failing_on_two(), "EXPRESS", json!({})));
    def["States"]["Fan"]["Catch"] = json!([{
        "ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
        "ResultPath": "$.error",
        "Next": "Recovered"
    }]);
    def["States"]["Recovered"] = json!({"Type": "Pass", "End": true});
    let ran = run("caught", def, json!({"items": [2]}));
    assert_eq!(ran.record.status, Status::Failed, "the input is no array");
    let mut def = with_boom(distributed(
        failing_on_two(),
        "EXPRESS",
        json!({"ItemsPath": "$.items"}),
    ));
    def["States"]["Fan"]["Catch"] = json!([{
        "ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
        "ResultPath": "$.error",
        "Next": "Recovered"
    }]);
    def["States"]["Recovered"] = json!({"Type": "Pass", "End": true});
    let ran = run("caught", def, json!({"items": [2]}));
    assert_eq!(
        ran.record.status,
        Status::Succeeded,
        "{:?}",
        ran.record.error
    );
    let out = ran.record.output.clone().unwrap_or_default();
    assert_eq!(
        out["error"]["Error"],
        "States.ExceedToleratedFailureThreshold"
    );
    assert!(ran.types().contains(&"MapStateFailed"));
}

#[test]
fn items_are_batched_with_the_batch_input() {
    let def = distributed(
        json!({"Type": "Pass", "End": true}),
        "EXPRESS",
        json!({
            "ItemsPath": "$.items",
            "ItemSelector": {"n.$": "$$.Map.Item.Value"},
            "ItemBatcher": {"MaxItemsPerBatchPath": "$.size", "BatchInput": {"run.$": "$.run"}}
        }),
    );
    let ran = run(
        "batches",
        def,
        json!({"items": [1, 2, 3, 4, 5], "size": 2, "run": "r1"}),
    );
    assert_eq!(
        ran.record.status,
        Status::Succeeded,
        "{:?}",
        ran.record.error
    );
    assert_eq!(
        ran.record.output,
        Some(json!([
            {"Items": [{"n": 1}, {"n": 2}], "BatchInput": {"run": "r1"}},
            {"Items": [{"n": 3}, {"n": 4}], "BatchInput": {"run": "r1"}},
            {"Items": [{"n": 5}], "BatchInput": {"run": "r1"}}
        ]))
    );
    // A byte limit: each item is 12 bytes of JSON, so 40 bytes hold two with the wrapper.
    let def = distributed(
        json!({"Type": "Pass", "End": true}),
        "EXPRESS",
        json!({"ItemBatcher": {"MaxInputBytesPerBatch": 40}}),
    );
    let ran = run(
        "bytes",
        def,
        json!(["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"]),
    );
    assert_eq!(
        ran.record.status,
        Status::Succeeded,
        "{:?}",
        ran.record.error
    );
    let batches = ran.record.output.clone().unwrap_or_default();
    let sizes: Vec<usize> = batches
        .as_array()
        .map(|b| {
            b.iter()
                .map(|x| x["Items"].as_array().map_or(0, Vec::len))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(sizes, [2, 1], "{batches}");
}

#[test]
fn a_bad_batch_size_fails_the_map_run_naming_the_field() {
    let def = distributed(
        json!({"Type": "Pass", "End": true}),
        "EXPRESS",
        json!({"ItemsPath": "$.items", "ItemBatcher": {"MaxItemsPerBatchPath": "$.size"}}),
    );
    let ran = run("bad-batch", def, json!({"items": [1], "size": "many"}));
    assert_eq!(ran.record.status, Status::Failed);
    let err = ran.record.error.clone().expect("an error");
    assert_eq!(err.error, "States.Runtime");
    assert!(
        err.cause
            .as_deref()
            .is_some_and(|c| c.contains("MaxItemsPerBatch") && c.contains("'Fan'")),
        "{err:?}"
    );
    assert!(ran.types().contains(&"MapRunFailed"));
}

#[test]
fn express_children_keep_no_stored_execution() {
    let def = distributed(json!({"Type": "Pass", "End": true}), "EXPRESS", json!({}));
    let ran = run("quick", def, json!([1, 2]));
    assert_eq!(ran.record.output, Some(json!([1, 2])));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let machines = rt.block_on(ran.store.list_machines()).expect("machines");
    assert_eq!(machines.len(), 1, "only the parent's machine is stored");
}

#[test]
fn the_map_run_api_describes_lists_and_updates_the_map_run() {
    let def = distributed(
        json!({"Type": "Pass", "End": true}),
        "STANDARD",
        json!({"Label": "seen", "ItemBatcher": {"MaxItemsPerBatch": 2}, "ToleratedFailureCount": 3}),
    );
    let ran = run("watched", def, json!([1, 2, 3, 4, 5]));
    assert_eq!(
        ran.record.status,
        Status::Succeeded,
        "{:?}",
        ran.record.error
    );
    let map_run = ran.map_run_arn();
    let api = Service::with_mocks(ran.store.clone(), None);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let call = |op: &str, req: Value| rt.block_on(api.call(op, req));

    let d = call("DescribeMapRun", json!({"mapRunArn": map_run})).expect("described");
    assert_eq!(d["mapRunArn"], json!(map_run));
    assert_eq!(d["executionArn"], json!(ran.record.info.arn));
    assert_eq!(d["status"], "SUCCEEDED");
    assert!(
        d["startDate"].is_number() && d["stopDate"].is_number(),
        "{d}"
    );
    assert_eq!(d["maxConcurrency"], 0);
    assert_eq!(d["toleratedFailureCount"], 3);
    assert_eq!(d["executionCounts"]["total"], 3, "three batches: {d}");
    assert_eq!(d["executionCounts"]["succeeded"], 3);
    assert_eq!(d["executionCounts"]["pending"], 0);
    assert_eq!(d["itemCounts"]["total"], 5, "five items: {d}");
    assert_eq!(d["itemCounts"]["succeeded"], 5);

    let listed = call("ListMapRuns", json!({"executionArn": ran.record.info.arn})).expect("listed");
    let runs = listed["mapRuns"].as_array().expect("mapRuns");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["mapRunArn"], json!(map_run));
    assert_eq!(
        runs[0]["stateMachineArn"],
        "arn:aws:states:us-east-1:111111111111:stateMachine:watched/seen"
    );

    let children = call("ListExecutions", json!({"mapRunArn": map_run})).expect("children");
    let children = children["executions"].as_array().expect("executions");
    assert_eq!(children.len(), 3);
    for child in children {
        assert_eq!(child["status"], "SUCCEEDED");
        let d = call(
            "DescribeExecution",
            json!({"executionArn": child["executionArn"]}),
        )
        .expect("child described");
        assert_eq!(d["mapRunArn"], json!(map_run));
    }
    let parent = call(
        "DescribeExecution",
        json!({"executionArn": ran.record.info.arn}),
    )
    .expect("parent described");
    assert!(parent.get("mapRunArn").is_none(), "{parent}");

    // The child machine is not listed among the state machines.
    let machines = call("ListStateMachines", json!({})).expect("machines");
    let names: Vec<&str> = machines["stateMachines"]
        .as_array()
        .expect("stateMachines")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(!names.iter().any(|n| n.contains('/')), "{names:?}");

    call(
        "UpdateMapRun",
        json!({"mapRunArn": map_run, "maxConcurrency": 7, "toleratedFailurePercentage": 12.5}),
    )
    .expect("updated");
    let d = call("DescribeMapRun", json!({"mapRunArn": map_run})).expect("described");
    assert_eq!(d["maxConcurrency"], 7);
    assert_eq!(d["toleratedFailurePercentage"], 12.5);
    assert_eq!(d["toleratedFailureCount"], 3);

    let e = call("UpdateMapRun", json!({"mapRunArn": map_run})).expect_err("nothing to update");
    assert_eq!(e.kind, Exception::ValidationException);
    let missing = format!("{map_run}-gone");
    let e = call("DescribeMapRun", json!({"mapRunArn": missing})).expect_err("unknown");
    assert_eq!(e.kind, Exception::ResourceNotFound);
    assert_eq!(e.message, format!("Resource not found: '{missing}'"));
    let e = call("DescribeMapRun", json!({"mapRunArn": ran.record.info.arn}))
        .expect_err("not a map run");
    assert_eq!(e.kind, Exception::InvalidArn);
    let e = call("ListExecutions", json!({})).expect_err("neither ARN");
    assert_eq!(e.kind, Exception::ValidationException);
}
