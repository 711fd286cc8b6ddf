//! Fair scheduling: tenant A submits 10,000 executions, then tenant B 100; one worker
//! (concurrency 8) drives them with `--scheduling fifo` and with `fair`, on the memory store
//! and, with `STEPFN_TEST_DYNAMODB_ENDPOINT` set, on DynamoDB Local. Prints B's delay from
//! submission to end (p50, p99, max: the start delay, as each execution is three Pass states)
//! and the rate of the whole run. Run: `cargo bench --bench fairness`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use stepfn::engine::Status;
use stepfn::runtime::clock::real_now;
use stepfn::runtime::commands::machine_record;
use stepfn::runtime::durable::{start_execution_of, DurableOptions};
use stepfn::runtime::machines::TENANT_TAG;
use stepfn::runtime::worker::run_worker_with;
use stepfn::store::dynamodb::DynamoStore;
use stepfn::store::memory::MemoryStore;
use stepfn::store::{Scheduling, Store};
use stepfn::tasks::NoIntegrations;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const A_COUNT: usize = 10_000;
const B_COUNT: usize = 100;

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

async fn case<S: Store + Clone>(store: S, scheduling: Scheduling) -> (i64, i64, i64, f64) {
    let definition = json!({"StartAt": "P1", "States": {
        "P1": {"Type": "Pass", "Next": "P2"},
        "P2": {"Type": "Pass", "Next": "P3"},
        "P3": {"Type": "Pass", "End": true}}});
    let mut machines = Vec::new();
    for tenant in ["a", "b"] {
        let mut m = machine_record(&format!("tenant-{tenant}"), definition.clone(), 0);
        m.tags.insert(TENANT_TAG.into(), tenant.into());
        store.put_machine(&m).await.expect("machine");
        machines.push(m);
    }
    // Submitted 16 at a time, A's all before B's.
    let mut arns = Vec::new();
    for (machine, prefix, count) in [(&machines[0], "a", A_COUNT), (&machines[1], "b", B_COUNT)] {
        let mut next = 0;
        while next < count {
            let mut batch = tokio::task::JoinSet::new();
            for i in next..(next + 16).min(count) {
                let (store, machine) = (store.clone(), machine.clone());
                let name = format!("{prefix}{i}");
                batch.spawn(async move {
                    start_execution_of(&store, &machine, None, &name, json!({}).into(), real_now())
                        .await
                        .expect("start")
                        .info
                        .arn
                });
            }
            let mut done: Vec<String> = batch.join_all().await;
            done.sort();
            arns.push((prefix, done));
            next = (next + 16).min(count);
        }
    }
    let a_arns: Vec<String> = arns
        .iter()
        .filter(|(p, _)| *p == "a")
        .flat_map(|(_, v)| v.clone())
        .collect();
    let b_arns: Vec<String> = arns
        .iter()
        .filter(|(p, _)| *p == "b")
        .flat_map(|(_, v)| v.clone())
        .collect();
    let shutdown = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let worker = tokio::spawn(run_worker_with(
        store.clone(),
        Arc::new(NoIntegrations),
        DurableOptions::worker("bench"),
        8,
        Arc::clone(&shutdown),
        None,
        scheduling,
    ));
    let mut delays = Vec::new();
    for arn in &b_arns {
        loop {
            let r = store
                .get_execution(arn)
                .await
                .expect("get")
                .expect("stored");
            if r.status != Status::Running {
                delays.push(r.stop_time.unwrap_or_default() - r.info.start_time);
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let last_a = a_arns.last().cloned().unwrap_or_default();
    loop {
        let r = store
            .get_execution(&last_a)
            .await
            .expect("get")
            .expect("stored");
        if r.status != Status::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all = started.elapsed().as_secs_f64();
    shutdown.store(true, Ordering::Relaxed);
    let _ = worker.await;
    delays.sort_unstable();
    (
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or_default(),
        (A_COUNT + B_COUNT) as f64 / all,
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "fairness: tenant A submits {A_COUNT}, then tenant B {B_COUNT}; one worker, concurrency 8, memory store"
    );
    for (name, policy) in [("fifo", Scheduling::Fifo), ("fair", Scheduling::Fair)] {
        let (p50, p99, max, rate) = runtime.block_on(case(MemoryStore::new(), policy));
        println!(
            "  memory   {name:>4}: B's submission-to-end delay p50 {p50} ms, p99 {p99} ms, \
             max {max} ms; all {} executions at {rate:.0}/s",
            A_COUNT + B_COUNT
        );
    }
    let Ok(endpoint) = std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT") else {
        println!(
            "  dynamodb skipped: STEPFN_TEST_DYNAMODB_ENDPOINT is not set (start DynamoDB Local \
             with `bash infra/dynamodb-local.sh install && bash infra/dynamodb-local.sh start` \
             and export the endpoint it prints)"
        );
        return;
    };
    for (name, policy) in [("fifo", Scheduling::Fifo), ("fair", Scheduling::Fair)] {
        let store = runtime.block_on(async {
            let table = format!("fairness-{}", uuid::Uuid::new_v4().simple());
            let store = DynamoStore::connect(&table, Some(&endpoint))
                .await
                .expect("connect");
            store.init().await.expect("init");
            store
        });
        let (p50, p99, max, rate) = runtime.block_on(case(store, policy));
        println!(
            "  dynamodb {name:>4}: B's submission-to-end delay p50 {p50} ms, p99 {p99} ms, \
             max {max} ms; all {} executions at {rate:.0}/s",
            A_COUNT + B_COUNT
        );
    }
}
