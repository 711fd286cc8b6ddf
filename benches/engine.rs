//! Engine throughput on the benchmark machines of benches/machines (see its README): each
//! bench runs its executions in memory with the virtual clock and no history, and criterion
//! reports the throughput in elements/s, where one element is one state entered: that is
//! transitions/s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;

use stepfn::asl::load::load;
use stepfn::engine::Status;
use stepfn::runtime::driver::{self, RunOptions};
use stepfn::tasks::mock::{MockInvoker, TestCase};
use stepfn::tasks::{NoIntegrations, TaskInvoker};

// The same allocator as the `stepfn` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/machines")
}

fn read(name: &str) -> Value {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The `check_js` expression of bench.json, written in Rust.
fn check(bench: &str, output: &Value) -> bool {
    match bench {
        "pass-chain" => output["counter"]["i"] == 100,
        "choice-loop" => output["counter"] == 10000,
        "map-fanout" | "map-fanout-c10" => output["count"] == 10000 && output["first"] == 2,
        "parallel-fanout" => {
            output["branches"].as_array().map(Vec::len) == Some(10)
                && output["branches"][9]["x"] == 100
        }
        "retry-catch" => output["attempts"] == 100,
        "catch-loop" => output["attempts"] == 1000,
        "order-processing" => {
            output["shipments"].as_array().map(Vec::len) == Some(20)
                && output["shipments"][19]["label"] == "ord-0001-19-SKU-0019"
                && output["notification"]["sent"] == true
        }
        other => panic!("no check for bench {other}"),
    }
}

fn engine(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let index = read("bench.json");
    let filter = std::env::var("STEPFN_BENCH").ok();
    let mut group = c.benchmark_group("transitions");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for bench in index.as_array().expect("bench.json is an array") {
        let name = bench["name"].as_str().expect("name");
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let machine = load(&read(bench["definition"].as_str().expect("definition")))
            .unwrap_or_else(|d| panic!("{name} does not validate: {d:?}"));
        let input = read(bench["input"].as_str().expect("input"));
        let per_sample = bench["executions_per_sample"].as_u64().expect("count");
        let states = bench["states_entered_per_execution"]
            .as_u64()
            .expect("states");
        let invoker: Arc<dyn TaskInvoker> = if name == "order-processing" {
            let case =
                TestCase::from_config(&read("order-processing.mocks.json"), name, "HappyPath")
                    .expect("mock config");
            Arc::new(MockInvoker::new(case, Arc::new(NoIntegrations)))
        } else {
            Arc::new(NoIntegrations)
        };
        let options = RunOptions {
            virtual_clock: true,
            record_history: false,
        };
        let run_once = |i: u64| {
            // Express executions: choice-loop and the map-fanouts write more than a standard
            // execution's 25,000 history events (the peer has no such limit).
            let mut info = stepfn::runtime::arn::local_execution(name, &format!("bench-{i}"), 0);
            info.arn = stepfn::runtime::arn::express_execution(
                &info.state_machine_arn,
                &info.name,
                "00000000-0000-0000-0000-000000000000",
            );
            let exec = runtime
                .block_on(driver::run(
                    Arc::clone(&machine),
                    info,
                    input.clone(),
                    Arc::clone(&invoker),
                    options,
                ))
                .execution;
            assert_eq!(exec.status, Status::Succeeded, "{name}: {:?}", exec.error);
            assert_eq!(exec.transitions, states, "{name}: states entered");
            exec
        };
        let first = run_once(0);
        assert!(
            check(name, first.output.as_ref().expect("output")),
            "{name}: output fails its check: {:?}",
            first.output
        );
        group.throughput(Throughput::Elements(states * per_sample));
        group.bench_function(name, |b| {
            b.iter(|| {
                for i in 0..per_sample {
                    run_once(i);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
