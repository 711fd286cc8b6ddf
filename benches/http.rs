//! The latency stepfn adds to one HTTP task: a GET to a loopback axum server, called directly
//! with reqwest, and as the only state of an in-memory execution (`stepfn run`'s code path:
//! load, run, the HTTP Task with its result shaping). Run: `cargo bench --bench http`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use stepfn::runtime::driver::RunOptions;
use stepfn::runtime::invokers::{Invokers, Mocks, Setup};
use stepfn::runtime::local::{run_local, LocalRun};
use stepfn::store::memory::MemoryStore;
use stepfn::store::AnyStore;
use stepfn::tasks::integrations::Integrations;
use stepfn::tasks::TaskInvoker;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().route(
            "/item",
            axum::routing::get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    r#"{"id":1,"name":"widget"}"#,
                )
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let url = format!("http://{addr}/item");
        let connection = "arn:aws:events:us-east-1:111111111111:connection/bench/1";
        let connections = stepfn::tasks::http::Connections::from_value(&json!({connection: {
            "AuthorizationType": "API_KEY",
            "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}}}}))
        .expect("connections");
        let integrations: Arc<dyn TaskInvoker> = Arc::new(Integrations::new(connections));
        let invokers = Invokers::new(Setup {
            store: AnyStore::Memory(MemoryStore::new()),
            integrations: Some(integrations),
            mocks: Mocks::None,
            virtual_clock: false,
        })
        .expect("no mocks to check");
        let definition = json!({"StartAt": "Get", "States": {"Get": {
            "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {"ApiEndpoint": url, "Method": "GET",
                           "Authentication": {"ConnectionArn": connection}},
            "End": true}}});
        let client = reqwest::Client::new();
        let n = 2_000;
        let mut direct = Vec::with_capacity(n);
        let mut through = Vec::with_capacity(n);
        for i in 0..n + 200 {
            let t = Instant::now();
            let body = client
                .get(&url)
                .header("x-api-key", "k")
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("body");
            let d = t.elapsed();
            assert!(body.contains("widget"));
            let t = Instant::now();
            let exec = run_local(LocalRun {
                input_text: None,
                definition: definition.clone(),
                input: json!({}),
                machine_name: "bench".into(),
                execution_name: format!("e{i}"),
                options: RunOptions::default(),
                invoker: Arc::clone(&invokers) as Arc<dyn TaskInvoker>,
            })
            .await
            .expect("run");
            let s = t.elapsed();
            assert_eq!(exec.execution.status, stepfn::engine::Status::Succeeded);
            if i >= 200 {
                direct.push(d);
                through.push(s);
            }
        }
        direct.sort();
        through.sort();
        println!(
            "direct reqwest GET:        p50 {:.3} ms, p99 {:.3} ms",
            percentile(&direct, 0.5),
            percentile(&direct, 0.99)
        );
        println!(
            "one-state HTTP Task run:   p50 {:.3} ms, p99 {:.3} ms  (stepfn adds p50 {:.3} ms, p99 {:.3} ms)",
            percentile(&through, 0.5),
            percentile(&through, 0.99),
            percentile(&through, 0.5) - percentile(&direct, 0.5),
            percentile(&through, 0.99) - percentile(&direct, 0.99),
        );
    });
}
