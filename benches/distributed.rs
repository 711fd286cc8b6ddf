//! Distributed Map throughput: one Map Run of N items, children EXPRESS (in memory) and
//! STANDARD (stored executions with their own history), on the memory store or, with
//! STEPFN_TEST_DYNAMODB_ENDPOINT set, on DynamoDB Local too.
//!
//! `cargo bench --bench distributed` (STEPFN_BENCH_ITEMS=N sets the items, 10,000 by
//! default; STANDARD on DynamoDB runs a tenth of them). Prints, per run: items, wall time,
//! child executions per second.

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

fn machine(execution_type: &str) -> Value {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "ItemSelector": {"v.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            "StartAt": "Square",
            "States": {"Square": {"Type": "Pass",
                "Parameters": {"sq.$": "States.MathAdd($.v, $.v)"}, "End": true}}
        },
        "MaxConcurrency": 1000,
        "ResultSelector": {"n.$": "States.ArrayLength($)"},
        "End": true
    }}})
}

async fn once(store: AnyStore, execution_type: &str, items: usize) -> f64 {
    let invoker = Invokers::new(Setup {
        store: store.clone(),
        integrations: None,
        mocks: Mocks::None,
        virtual_clock: true,
    })
    .expect("invokers");
    let now = chrono::Utc::now().timestamp_millis();
    let name = format!("bench-{}-{now}", execution_type.to_lowercase());
    let record = commands::machine_record(&name, machine(execution_type), now);
    let input = Value::Array((0..items).map(|i| json!(i)).collect());
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
        "{execution_type}: {:?}",
        done.error
    );
    secs
}

fn report(label: &str, items: usize, secs: f64) {
    println!(
        "distributed/{label}: {items} items in {:.3} s, {:.0} child executions/s",
        secs,
        items as f64 / secs
    );
}

fn main() {
    let items: usize = std::env::var("STEPFN_BENCH_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        for kind in ["EXPRESS", "STANDARD"] {
            let store = AnyStore::Memory(MemoryStore::new());
            let secs = once(store, kind, items).await;
            report(&format!("memory/{}", kind.to_lowercase()), items, secs);
        }
        if let Ok(endpoint) = std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT") {
            let table = format!("bench-distributed-{}", std::process::id());
            let store = DynamoStore::connect(&table, Some(&endpoint))
                .await
                .expect("DynamoDB Local");
            store.init().await.expect("create table");
            let n = (items / 10).max(1);
            let secs = once(AnyStore::Dynamo(store), "STANDARD", n).await;
            report("dynamodb/standard", n, secs);
        }
    });
}
