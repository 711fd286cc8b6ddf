//! Distributed Map runs on DynamoDB Local survive the death of what drives them: a worker
//! killed with SIGKILL in the middle of a 10,000-item Map Run, and a `serve` killed and
//! started again. No child execution runs twice, none is lost, and the ResultWriter's files
//! (on moto's S3) list every item exactly once.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stepfn::store::dynamodb::DynamoStore;
use stepfn::store::{MapRunRecord, Store};

use crate::durable::{
    check_history, describe, endpoint, history, new_table, report, spawn_worker_with, start,
    stepfn, uuid_like, write_temp,
};
use crate::support::moto::moto_endpoint;
use crate::support::serve::Server;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The Map Runs of `parent`, as stored.
fn map_runs(table: &str, endpoint: &str, parent: &str) -> Vec<MapRunRecord> {
    block_on(async {
        let store = DynamoStore::connect(table, Some(endpoint))
            .await
            .expect("DynamoDB Local");
        store.list_map_runs(parent).await.expect("list map runs")
    })
}

/// An `Authorization` header that moto takes as a signed request (it checks no signature
/// unless told to, but refuses anonymous reads of objects).
const MOTO_AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, \
                         SignedHeaders=host, Signature=0";

/// An S3 request to moto: the body of a success, or a panic.
fn s3(method: reqwest::Method, url: &str) -> String {
    block_on(async {
        let answer = reqwest::Client::new()
            .request(method.clone(), url)
            .header("Authorization", MOTO_AUTH)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        assert!(answer.status().is_success(), "{method} {url}: {answer:?}");
        answer.text().await.expect("body")
    })
}

/// A Distributed Map of STANDARD children over `$.items`: each child doubles its item.
fn doubling_map(result_writer: Option<Value>) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemSelector": {"n.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Double",
            "States": {"Double": {"Type": "Pass",
                "Parameters": {"n.$": "$.n", "twice.$": "States.MathAdd($.n, $.n)"},
                "End": true}}
        },
        "MaxConcurrency": 200,
        "End": true
    });
    if let (Some(w), Some(o)) = (result_writer, map.as_object_mut()) {
        o.insert("ResultWriter".into(), w);
    }
    json!({"StartAt": "Fan", "States": {"Fan": map}})
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_map_run_of_ten_thousand_items_survives_kill_dash_nine_of_its_worker() {
    const ITEMS: u64 = 10_000;
    let endpoint = endpoint();
    let moto = moto_endpoint();
    let table = new_table(&endpoint);
    let bucket = format!("map-durable-{}", uuid_like());
    s3(reqwest::Method::PUT, &format!("{moto}/{bucket}"));
    let def = write_temp(
        "map-durable.asl.json",
        &doubling_map(Some(json!({
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": bucket, "Prefix": "results"}
        }))),
    );
    let input = json!({"items": (0..ITEMS).collect::<Vec<_>>()});
    let started = start(&def, &table, &endpoint, "map-durable", &input);
    let parent = crate::durable::ok_json(&started)["executionArn"]
        .as_str()
        .expect("executionArn")
        .to_string();
    let env = [("AWS_ENDPOINT_URL_S3", moto.as_str())];
    let worker_args = ["--lease-seconds", "2", "--concurrency", "4"];

    // The first worker dies in the middle of the Map Run.
    let mut first = spawn_worker_with(&table, &endpoint, &worker_args, &env);
    let mut done_before_kill = 0;
    wait_for(
        "a tenth of the children done",
        Duration::from_secs(180),
        || {
            done_before_kill = map_runs(&table, &endpoint, &parent)
                .first()
                .map_or(0, |r| r.succeeded);
            done_before_kill >= ITEMS / 10
        },
    );
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let at_kill = map_runs(&table, &endpoint, &parent);
    assert_eq!(at_kill.len(), 1, "one Map Run");
    assert!(
        at_kill[0].succeeded < ITEMS && at_kill[0].status == "RUNNING",
        "killed in the middle: {:?}",
        at_kill[0]
    );

    // The next worker takes the execution over and finishes the same Map Run.
    let mut second = spawn_worker_with(&table, &endpoint, &worker_args, &env);
    wait_for("the parent ends", Duration::from_secs(400), || {
        describe(&table, &endpoint, &parent)["status"] != "RUNNING"
    });
    let _ = second.kill();
    let _ = second.wait();
    let described = describe(&table, &endpoint, &parent);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    report(&format!(
        "map run kill -9 test: {ITEMS} STANDARD children, killed after {done_before_kill} had succeeded"
    ));

    let runs = map_runs(&table, &endpoint, &parent);
    assert_eq!(
        runs.len(),
        1,
        "the second worker went on with the same Map Run"
    );
    let run = &runs[0];
    assert_eq!(
        (run.status.as_str(), run.succeeded, run.failed, run.total),
        ("SUCCEEDED", ITEMS, 0, ITEMS),
        "{run:?}"
    );

    // Every child execution exactly once, every one succeeded.
    let children = block_on(async {
        let store = DynamoStore::connect(&table, Some(&endpoint))
            .await
            .expect("DynamoDB Local");
        store
            .list_executions(&run.state_machine_arn)
            .await
            .expect("list children")
    });
    assert_eq!(children.len() as u64, ITEMS, "one child execution per item");
    assert!(children
        .iter()
        .all(|c| c.status == stepfn::engine::execution::Status::Succeeded));

    // The parent's history: one Map Run, started and succeeded once.
    let events = history(&table, &endpoint, &parent);
    check_history(&events);
    let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
    assert_eq!((count("MapRunStarted"), count("MapRunSucceeded")), (1, 1));

    // The ResultWriter's files: each item once, with its child's output.
    let output: Value =
        serde_json::from_str(described["output"].as_str().expect("output")).expect("JSON");
    let key = output["ResultWriterDetails"]["Key"]
        .as_str()
        .expect("manifest key");
    let manifest: Value =
        serde_json::from_str(&s3(reqwest::Method::GET, &format!("{moto}/{bucket}/{key}")))
            .expect("manifest JSON");
    assert_eq!(manifest["MapRunArn"], json!(run.arn));
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    let files = manifest["ResultFiles"]["SUCCEEDED"]
        .as_array()
        .expect("SUCCEEDED files");
    let mut seen = BTreeSet::new();
    let mut arns = BTreeSet::new();
    for file in files {
        let key = file["Key"].as_str().expect("key");
        let entries: Vec<Value> =
            serde_json::from_str(&s3(reqwest::Method::GET, &format!("{moto}/{bucket}/{key}")))
                .expect("results JSON");
        for e in entries {
            assert_eq!(e["Status"], "SUCCEEDED");
            let out: Value =
                serde_json::from_str(e["Output"].as_str().expect("Output")).expect("Output JSON");
            let n = out["n"].as_u64().expect("n");
            assert_eq!(out["twice"], json!(2 * n), "{e}");
            assert!(seen.insert(n), "item {n} listed twice");
            assert!(arns.insert(e["ExecutionArn"].to_string()), "{e}");
        }
    }
    assert_eq!(seen, (0..ITEMS).collect::<BTreeSet<_>>(), "every item once");
}

#[test]
fn a_restarted_serve_finishes_a_map_run_it_had_started() {
    const ITEMS: u64 = 1_000;
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let args = [
        "--store",
        "dynamodb",
        "--table",
        table.as_str(),
        "--dynamodb-endpoint",
        endpoint.as_str(),
        "--lease-seconds",
        "2",
    ];
    let first = Server::start(stepfn(), &args);
    let created = first.api(
        "CreateStateMachine",
        json!({
            "name": "restarted",
            "definition": doubling_map(None).to_string(),
            "roleArn": "arn:aws:iam::111111111111:role/r"
        }),
    );
    let machine = created["stateMachineArn"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    let started = first.api(
        "StartExecution",
        json!({
            "stateMachineArn": machine,
            "input": json!({"items": (0..ITEMS).collect::<Vec<_>>()}).to_string()
        }),
    );
    let parent = started["executionArn"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_string();
    let mut map_run = String::new();
    wait_for("some children done", Duration::from_secs(120), || {
        let runs = first.api("ListMapRuns", json!({"executionArn": parent}));
        let Some(arn) = runs["mapRuns"][0]["mapRunArn"].as_str() else {
            return false;
        };
        map_run = arn.to_string();
        let d = first.api("DescribeMapRun", json!({"mapRunArn": arn}));
        d["executionCounts"]["succeeded"].as_u64().unwrap_or(0) >= 50
    });
    // SIGKILL, then the same store under a new serve.
    drop(first);
    let second = Server::start(stepfn(), &args);
    let before = second.api("DescribeMapRun", json!({"mapRunArn": map_run}));
    assert_eq!(before["status"], "RUNNING", "{before}");
    wait_for("the parent ends", Duration::from_secs(300), || {
        second.api("DescribeExecution", json!({"executionArn": parent}))["status"] != "RUNNING"
    });
    let d = second.api("DescribeExecution", json!({"executionArn": parent}));
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let output: Value = serde_json::from_str(d["output"].as_str().expect("output")).expect("JSON");
    let expected: Vec<Value> = (0..ITEMS)
        .map(|n| json!({"n": n, "twice": 2 * n}))
        .collect();
    assert_eq!(output, Value::Array(expected), "the results in item order");
    let runs = second.api("ListMapRuns", json!({"executionArn": parent}));
    assert_eq!(runs["mapRuns"].as_array().map(Vec::len), Some(1), "{runs}");
    let after = second.api("DescribeMapRun", json!({"mapRunArn": map_run}));
    assert_eq!(after["status"], "SUCCEEDED", "{after}");
    assert_eq!(
        after["executionCounts"]["succeeded"],
        json!(ITEMS),
        "{after}"
    );
    let children = second.api(
        "ListExecutions",
        json!({"mapRunArn": map_run, "maxResults": 1000}),
    );
    assert_eq!(
        children["executions"].as_array().map(Vec::len),
        Some(ITEMS as usize),
        "one child execution per item"
    );
}

/// `stepfn run` of a Distributed Map reading `reader` on the memory store and on DynamoDB
/// Local: the output of each.
fn run_on_both_stores(reader: Value, batcher: Option<Value>, moto: &str) -> [Value; 2] {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let mut map = json!({
        "Type": "Map",
        "ItemReader": reader,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Echo",
            "States": {"Echo": {"Type": "Pass", "End": true}}
        },
        "End": true
    });
    if let (Some(b), Some(o)) = (batcher, map.as_object_mut()) {
        o.insert("ItemBatcher".into(), b);
    }
    let def = write_temp(
        &format!("reader-{}.asl.json", uuid_like()),
        &json!({"StartAt": "Fan", "States": {"Fan": map}}),
    );
    let path = def.display().to_string();
    let memory = vec!["run", path.as_str()];
    let dynamodb = vec![
        "run",
        path.as_str(),
        "--store",
        "dynamodb",
        "--table",
        table.as_str(),
        "--dynamodb-endpoint",
        endpoint.as_str(),
    ];
    [memory, dynamodb].map(|args| {
        let out = stepfn()
            .env("AWS_ENDPOINT_URL_S3", moto)
            .args(&args)
            .output()
            .expect("stepfn runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON output")
    })
}

#[test]
fn every_reader_format_runs_through_stepfn_run_on_both_stores() {
    let moto = moto_endpoint();
    let bucket = format!("readers-{}", uuid_like());
    s3(reqwest::Method::PUT, &format!("{moto}/{bucket}"));
    let put = |key: &str, body: &str| {
        block_on(async {
            let answer = reqwest::Client::new()
                .put(format!("{moto}/{bucket}/{key}"))
                .header("Authorization", MOTO_AUTH)
                .body(body.to_string())
                .send()
                .await
                .expect("moto answers");
            assert!(answer.status().is_success(), "{answer:?}");
        })
    };
    put("in/items.json", r#"[{"id": 1}, {"id": 2}, {"id": 3}]"#);
    put(
        "in/items.jsonl",
        "{\"id\": 1}\n{\"id\": 2}\n\n{\"id\": 3}\n",
    );
    put("in/items.csv", "id,name\n1,ada\n2,\"bob, jr\"\n");
    put("in/items.psv", "1|ada\n2|bob\n");
    let get = |key: &str, config: Value| {
        json!({
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": config,
            "Parameters": {"Bucket": bucket, "Key": key}
        })
    };
    let cases = [
        (
            get("in/items.json", json!({"InputType": "JSON", "MaxItems": 2})),
            None,
            json!([{"id": 1}, {"id": 2}]),
        ),
        (
            get("in/items.jsonl", json!({"InputType": "JSONL"})),
            None,
            json!([{"id": 1}, {"id": 2}, {"id": 3}]),
        ),
        (
            get(
                "in/items.csv",
                json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
            ),
            None,
            json!([{"id": "1", "name": "ada"}, {"id": "2", "name": "bob, jr"}]),
        ),
        (
            get(
                "in/items.psv",
                json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN",
                       "CSVHeaders": ["n", "who"], "CSVDelimiter": "PIPE"}),
            ),
            None,
            json!([{"n": "1", "who": "ada"}, {"n": "2", "who": "bob"}]),
        ),
        (
            get("in/items.json", json!({"InputType": "JSON"})),
            Some(json!({"MaxItemsPerBatch": 2, "BatchInput": {"b": true}})),
            json!([
                {"Items": [{"id": 1}, {"id": 2}], "BatchInput": {"b": true}},
                {"Items": [{"id": 3}], "BatchInput": {"b": true}}
            ]),
        ),
    ];
    for (reader, batcher, expected) in cases {
        let [memory, dynamodb] = run_on_both_stores(reader.clone(), batcher, &moto);
        assert_eq!(memory, expected, "memory store: {reader}");
        assert_eq!(dynamodb, expected, "DynamoDB store: {reader}");
    }
    let listing = json!({
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": bucket, "Prefix": "in/"}
    });
    for out in run_on_both_stores(listing, None, &moto) {
        let keys: Vec<&str> = out
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|o| o["Key"].as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "in/items.csv",
                "in/items.json",
                "in/items.jsonl",
                "in/items.psv"
            ]
        );
    }
}
