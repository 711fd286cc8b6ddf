//! Fair scheduling: tenant A submits 10,000 executions, then tenant B 100; one worker
//! (concurrency 8, memory store) drives them with `--scheduling fifo` and with `fair`. Prints
//! B's delay from submission to end (p50, p99, max: the start delay, as each execution is three
//! Pass states) and how long A's flood took. Run: `cargo bench --bench fairness`.

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

async fn case(scheduling: Scheduling) -> (i64, i64, i64, f64) {
    let store = MemoryStore::new();
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
    let mut b_arns = Vec::new();
    let mut a_arns = Vec::new();
    for i in 0..A_COUNT {
        let r = start_execution_of(
            &store,
            &machines[0],
            None,
            &format!("a{i}"),
            json!({}).into(),
            real_now(),
        )
        .await
        .expect("start");
        a_arns.push(r.info.arn);
    }
    for i in 0..B_COUNT {
        let r = start_execution_of(
            &store,
            &machines[1],
            None,
            &format!("b{i}"),
            json!({}).into(),
            real_now(),
        )
        .await
        .expect("start");
        b_arns.push(r.info.arn);
    }
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
        let (p50, p99, max, rate) = runtime.block_on(case(policy));
        println!(
            "  {name:>4}: B's submission-to-end delay p50 {p50} ms, p99 {p99} ms, max {max} ms; \
             all {} executions at {rate:.0}/s",
            A_COUNT + B_COUNT
        );
    }
}
