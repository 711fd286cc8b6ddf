//! Distributed Map throughput.
//!
//! * `s3/...`: the contract. One Map Run whose `ItemReader` reads N items (100,000 by
//!   default) from one JSON object in S3 (moto, which `infra/moto.sh` installs and starts when
//!   `STEPFN_TEST_MOTO_ENDPOINT` is not set), one `EXPRESS` child execution per item (a Pass
//!   state), on the memory store and, with `STEPFN_TEST_DYNAMODB_ENDPOINT` set, on DynamoDB
//!   Local. Prints items/s, the peak RSS of the run, and on DynamoDB the requests, read and
//!   write units per item.
//! * `inline/...`: items from the state's input, children `EXPRESS` and `STANDARD` (stored
//!   executions with their own history; on DynamoDB a hundredth of the items).
//!
//! Each case runs in a process of its own, so its peak RSS is its own.
//! `cargo bench --bench distributed` (`STEPFN_BENCH_ITEMS=N` sets the items).

use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};

use stepfn::runtime::commands;
use stepfn::runtime::durable::DurableOptions;
use stepfn::runtime::invokers::{Invokers, Mocks, Setup};
use stepfn::store::dynamodb::DynamoStore;
use stepfn::store::memory::MemoryStore;
use stepfn::store::AnyStore;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BUCKET: &str = "stepfn-bench-distributed";
const KEY: &str = "items.json";

fn processor(execution_type: &str) -> Value {
    json!({
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
        "StartAt": "Square",
        "States": {"Square": {"Type": "Pass",
            "Parameters": {"sq.$": "States.MathAdd($.v, $.v)"}, "End": true}}
    })
}

/// Items from the state's input.
fn inline_machine(execution_type: &str) -> Value {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "ItemSelector": {"v.$": "$$.Map.Item.Value"},
        "ItemProcessor": processor(execution_type),
        "MaxConcurrency": 1000,
        "ResultSelector": {"n.$": "States.ArrayLength($)"},
        "End": true
    }}})
}

/// Items from one JSON object in S3.
fn s3_machine() -> Value {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": BUCKET, "Key": KEY}
        },
        "ItemSelector": {"v.$": "$$.Map.Item.Value.qty"},
        "ItemProcessor": processor("EXPRESS"),
        "MaxConcurrency": 1000,
        "ResultSelector": {"n.$": "States.ArrayLength($)"},
        "End": true
    }}})
}

/// The process's peak resident set, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn once(store: AnyStore, name: &str, definition: Value, input: Value, items: usize) -> f64 {
    let invoker = Invokers::new(Setup {
        store: store.clone(),
        integrations: None,
        mocks: Mocks::None,
        virtual_clock: true,
    })
    .expect("invokers");
    let now = chrono::Utc::now().timestamp_millis();
    let name = format!("bench-{name}-{now}");
    let record = commands::machine_record(&name, definition, now);
    let started = commands::start(&store, &record, "run", input, now)
        .await
        .expect("starts");
    let options = DurableOptions {
        owner: "bench".into(),
        lease_ms: 600_000,
        park_after_ms: None,
        deadline_ms: None,
        virtual_clock: true,
    };
    let t = Instant::now();
    let done = commands::run_durably(&store, &started.info.arn, invoker, &options)
        .await
        .expect("runs");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(
        done.output,
        Some(json!({"n": items})),
        "{name}: {:?}",
        done.error
    );
    secs
}

fn report(label: &str, items: usize, secs: f64) {
    println!(
        "distributed/{label:<24} {items:>7} items in {secs:>7.3} s  {:>8.0} items/s  peak RSS {:>6.1} MiB",
        items as f64 / secs,
        peak_rss_mib()
    );
}

/// moto's endpoint: `STEPFN_TEST_MOTO_ENDPOINT`, or a server `infra/moto.sh` starts (and
/// `true` when this bench must stop it).
fn moto() -> (String, bool) {
    if let Ok(e) = std::env::var("STEPFN_TEST_MOTO_ENDPOINT") {
        return (e, false);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/infra/moto.sh");
    let running = Command::new("bash")
        .args([script, "endpoint"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(e) = running {
        return (e, false);
    }
    for step in ["install", "start"] {
        let out = Command::new("bash")
            .args([script, step])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script} {step}: {e}"));
        assert!(
            out.status.success(),
            "`bash infra/moto.sh {step}` failed (moto needs Python 3.10+ and PyPI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if step == "start" {
            return (
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
                true,
            );
        }
    }
    unreachable!("the loop returns at start")
}

/// An `Authorization` header that moto takes as a signed request (it checks no signature
/// unless told to, but refuses anonymous writes over an object).
const MOTO_AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, \
                         SignedHeaders=host, Signature=0";

/// Puts `items` items in one JSON object of moto's S3.
async fn put_items(endpoint: &str, items: usize) {
    let http = reqwest::Client::new();
    let base = endpoint.trim_end_matches('/');
    let created = http
        .put(format!("{base}/{BUCKET}"))
        .header("Authorization", MOTO_AUTH)
        .send()
        .await
        .expect("moto answers");
    assert!(created.status().is_success(), "create bucket: {created:?}");
    let body = Value::Array(
        (0..items)
            .map(|i| json!({"id": format!("order-{i:06}"), "qty": i % 97}))
            .collect(),
    )
    .to_string();
    let put = http
        .put(format!("{base}/{BUCKET}/{KEY}"))
        .header("Authorization", MOTO_AUTH)
        .body(body)
        .send()
        .await
        .expect("moto answers");
    assert!(put.status().is_success(), "put object: {put:?}");
}

/// The cases, each measured in a process of its own (so each peak RSS is its own).
const CASES: [&str; 5] = [
    "s3/memory/express",
    "inline/memory/express",
    "inline/memory/standard",
    "s3/dynamodb/express",
    "inline/dynamodb/standard",
];

/// Runs one case in this process and prints its figures.
async fn case(name: &str, items: usize) {
    let inline = |n: usize| Value::Array((0..n).map(|i| json!(i)).collect());
    match name {
        "s3/memory/express" => {
            let store = AnyStore::Memory(MemoryStore::new());
            let secs = once(store, "s3", s3_machine(), json!({}), items).await;
            report(name, items, secs);
        }
        "inline/memory/express" | "inline/memory/standard" => {
            let kind = if name.ends_with("express") {
                "EXPRESS"
            } else {
                "STANDARD"
            };
            let store = AnyStore::Memory(MemoryStore::new());
            let secs = once(store, "inline", inline_machine(kind), inline(items), items).await;
            report(name, items, secs);
        }
        _ => {
            let Ok(endpoint) = std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT") else {
                println!(
                    "distributed/{name:<24} skipped: STEPFN_TEST_DYNAMODB_ENDPOINT is not set \
                     (start DynamoDB Local with `bash infra/dynamodb-local.sh install && bash \
                     infra/dynamodb-local.sh start` and export the endpoint it prints)"
                );
                return;
            };
            let table = format!("bench-distributed-{}", std::process::id());
            let dynamo = DynamoStore::connect_metered(&table, Some(&endpoint))
                .await
                .expect("DynamoDB Local");
            dynamo.init().await.expect("create table");
            let store = AnyStore::Dynamo(dynamo.clone());
            let requests = dynamo.request_count();
            let (reads, writes) = dynamo.capacity().unwrap_or_default();
            // STANDARD children on DynamoDB: a hundredth of the items.
            let n = if name.starts_with("s3") {
                let secs = once(store, "s3", s3_machine(), json!({}), items).await;
                report(name, items, secs);
                items
            } else {
                let n = (items / 100).max(1);
                let secs = once(store, "inline", inline_machine("STANDARD"), inline(n), n).await;
                report(name, n, secs);
                n
            } as f64;
            let (reads2, writes2) = dynamo.capacity().unwrap_or_default();
            println!(
                "distributed/{name:<24} {:.4} requests, {:.4} read units, {:.4} write units per item",
                (dynamo.request_count() - requests) as f64 / n,
                (reads2 - reads) / n,
                (writes2 - writes) / n,
            );
        }
    }
}

fn main() {
    let items: usize = std::env::var("STEPFN_BENCH_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    if let Ok(name) = std::env::var("STEPFN_BENCH_CASE") {
        rt.block_on(case(&name, items));
        return;
    }
    let (moto, started_moto) = moto();
    // The reader's S3 client takes the standard endpoint setting.
    let mut env = vec![("AWS_ENDPOINT_URL_S3", moto.clone())];
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if std::env::var(k).is_err() {
            env.push((k, v.to_string()));
        }
    }
    rt.block_on(put_items(&moto, items));
    let me = std::env::current_exe().expect("the bench's own path");
    for name in CASES {
        let status = Command::new(&me)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("STEPFN_BENCH_CASE", name)
            .status()
            .expect("the bench runs a case");
        assert!(status.success(), "case {name} failed");
    }
    if started_moto {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/infra/moto.sh");
        let _ = Command::new("bash").args([script, "stop"]).status();
    }
}
