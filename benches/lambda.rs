//! `stepfn-lambda` under `cargo lambda watch`: cold start (a new function process to its first
//! event handled) and the warm per-invocation overhead (a round trip of a trivial event
//! through the emulator's Invoke API), plus the size of the deployable bootstrap.
//!
//! Needs DynamoDB Local (`STEPFN_TEST_DYNAMODB_ENDPOINT`, see infra/dynamodb-local.sh) and
//! cargo-lambda (installed by infra/lambda-tools.sh). Run: `cargo bench --bench lambda`. The
//! function measured is `target/lambda/stepfn-lambda/bootstrap` when `cargo lambda build
//! --release` has made it, the bench profile's `stepfn-lambda` otherwise.

use std::time::{Duration, Instant};

use serde_json::json;

// Shared with the tests; the bench uses part of it.
#[allow(dead_code)]
#[path = "../tests/it/support/lambda_watch.rs"]
mod lambda_watch;

use lambda_watch::*;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn main() {
    let bootstrap = root().join("target/lambda/stepfn-lambda/bootstrap");
    let binary = if bootstrap.exists() {
        let size = std::fs::metadata(&bootstrap).map(|m| m.len()).unwrap_or(0);
        println!(
            "bootstrap (cargo lambda build --release): {:.1} MB",
            size as f64 / 1e6
        );
        bootstrap
    } else {
        println!("no target/lambda/stepfn-lambda/bootstrap: measuring the bench build");
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_stepfn-lambda"))
    };
    let watch = Watch::start();
    let table = new_table();
    let validate = json!({"Operation": "ValidateStateMachineDefinition",
        "Request": {"definition": json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string()}});

    // Cold starts: the invocation waits in the emulator's queue; the process starts; the time
    // to the answer is the cold start plus one trivial event.
    let mut cold = Vec::new();
    let mut reported = Vec::new();
    for _ in 0..10 {
        let event = validate.clone();
        let port = watch.port;
        let pending = std::thread::spawn(move || {
            let w = WatchRef { port };
            invoke_port(&w, &event)
        });
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        let mut sandbox = Sandbox::start_binary(&watch, &table, &binary, &[]);
        let answer = pending.join().expect("invocation thread");
        cold.push(started.elapsed());
        assert_eq!(answer["result"], "OK", "{answer}");
        // The function's own figure: process start to the first event handled.
        let log = sandbox.log();
        if let Some(ms) = log
            .split("cold_start_ms=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
        {
            reported.push(ms);
        }
        sandbox.kill();
    }
    cold.sort();
    reported.sort_by(f64::total_cmp);
    println!(
        "cold start, spawn to answer (10 runs): p50 {:.1} ms, max {:.1} ms; the function's own start-to-first-event: p50 {:.1} ms",
        percentile(&cold, 0.5),
        percentile(&cold, 1.0),
        reported.get(reported.len() / 2).copied().unwrap_or(f64::NAN)
    );

    // Warm: one sandbox, many trivial events.
    let _sandbox = Sandbox::start_binary(&watch, &table, &binary, &[]);
    for _ in 0..20 {
        invoke(&watch, &validate);
    }
    let mut warm = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        invoke(&watch, &validate);
        warm.push(t.elapsed());
    }
    warm.sort();
    let describe = json!({"Operation": "DescribeExecution",
        "Request": {"executionArn": "arn:aws:states:us-east-1:111111111111:execution:none:none"}});
    let mut with_store = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        invoke(&watch, &describe);
        with_store.push(t.elapsed());
    }
    with_store.sort();
    println!(
        "warm invocation through cargo lambda watch: trivial event p50 {:.2} ms, p99 {:.2} ms; DescribeExecution (1 GetItem) p50 {:.2} ms, p99 {:.2} ms",
        percentile(&warm, 0.5),
        percentile(&warm, 0.99),
        percentile(&with_store, 0.5),
        percentile(&with_store, 0.99),
    );
}
