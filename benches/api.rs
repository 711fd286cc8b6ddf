//! `stepfn serve` over HTTP, from the AWS SDK for Rust (signing included): StartExecution
//! requests/s and StartSyncExecution latency (p50, p99) on a 5-state EXPRESS machine, with 1
//! and 16 concurrent clients. The server runs in this process on 127.0.0.1 with the memory
//! store and its worker driving the started executions. Run: `cargo bench --bench api`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::StateMachineType;

use stepfn::api::Service;
use stepfn::runtime::durable::DurableOptions;
use stepfn::runtime::worker::run_worker;
use stepfn::store::memory::MemoryStore;
use stepfn::store::AnyStore;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIVE_STATES: &str = r#"{"StartAt":"A","States":{
  "A":{"Type":"Pass","Parameters":{"n.$":"States.MathAdd($.n, 1)"},"Next":"B"},
  "B":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThan":0,"Next":"C"}],"Default":"C"},
  "C":{"Type":"Pass","Result":{"ok":true},"ResultPath":"$.c","Next":"D"},
  "D":{"Type":"Pass","Parameters":{"n.$":"$.n","ok.$":"$.c.ok"},"Next":"E"},
  "E":{"Type":"Succeed"}}}"#;

fn client(endpoint: &str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn measure<F, Fut>(clients: usize, per_client: usize, call: F) -> (f64, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let call = call.clone();
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let t = Instant::now();
                call(c * per_client + i).await;
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.expect("client task"));
    }
    all.sort();
    (all.len() as f64 / started.elapsed().as_secs_f64(), all)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // The API alone, then with the console's routes beside it (as `stepfn serve` serves
    // them): the console must add no measurable cost while no browser is open.
    for console in [false, true] {
        runtime.block_on(bench(console));
    }
    std::thread::sleep(Duration::from_millis(10));
}

async fn bench(console: bool) {
    let label = if console { "api+console" } else { "api" };
    {
        let store = AnyStore::Memory(MemoryStore::new());
        let service = Arc::new(Service::with_mocks(store.clone(), None));
        let shutdown = Arc::new(AtomicBool::new(false));
        let worker = tokio::spawn(run_worker(
            store,
            service.invoker(),
            DurableOptions::worker("bench"),
            16,
            Arc::clone(&shutdown),
            None,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let extra = if console {
            stepfn::console::router(Arc::clone(&service))
        } else {
            axum::Router::new()
        };
        let server = tokio::spawn(stepfn::api::http::serve_with(
            listener,
            Arc::clone(&service),
            extra,
            async {
                let _ = stop_rx.await;
            },
        ));
        let c = client(&endpoint);
        let standard = c
            .create_state_machine()
            .name("bench-standard")
            .definition(FIVE_STATES)
            .role_arn("arn:aws:iam::111111111111:role/r")
            .send()
            .await
            .expect("create")
            .state_machine_arn()
            .to_string();
        let express = c
            .create_state_machine()
            .name("bench-express")
            .definition(FIVE_STATES)
            .role_arn("arn:aws:iam::111111111111:role/r")
            .r#type(StateMachineType::Express)
            .send()
            .await
            .expect("create")
            .state_machine_arn()
            .to_string();
        for clients in [1usize, 16] {
            let per_client = 2_000 / clients;
            let (c1, arn) = (c.clone(), standard.clone());
            let (rate, lat) = measure(clients, per_client, move |i| {
                let (c, arn) = (c1.clone(), arn.clone());
                async move {
                    c.start_execution()
                        .state_machine_arn(arn)
                        .name(format!("x{clients}-{i}"))
                        .input(r#"{"n": 1}"#)
                        .send()
                        .await
                        .expect("start");
                }
            })
            .await;
            println!(
                "{label:<12} StartExecution      {clients:>2} clients: {rate:>7.0} requests/s  p50 {:.2} ms  p99 {:.2} ms",
                percentile(&lat, 0.5),
                percentile(&lat, 0.99)
            );
            // The SDKs send StartSyncExecution to a `sync-` host prefix, which a loopback
            // address cannot take, so this one goes as a plain AWS JSON 1.0 request.
            let http = reqwest::Client::new();
            let (url, arn) = (endpoint.clone(), express.clone());
            let (rate, lat) = measure(clients, per_client, move |_| {
                let (http, url, arn) = (http.clone(), url.clone(), arn.clone());
                async move {
                    let out: serde_json::Value = http
                        .post(url)
                        .header("X-Amz-Target", "AWSStepFunctions.StartSyncExecution")
                        .header("Content-Type", "application/x-amz-json-1.0")
                        .body(
                            serde_json::json!({"stateMachineArn": arn, "input": r#"{"n": 1}"#})
                                .to_string(),
                        )
                        .send()
                        .await
                        .expect("sync")
                        .json()
                        .await
                        .expect("json");
                    assert_eq!(out["status"], "SUCCEEDED");
                }
            })
            .await;
            println!(
                "{label:<12} StartSyncExecution  {clients:>2} clients: {rate:>7.0} requests/s  p50 {:.2} ms  p99 {:.2} ms",
                percentile(&lat, 0.5),
                percentile(&lat, 0.99)
            );
        }
        shutdown.store(true, Ordering::Relaxed);
        let _ = stop_tx.send(());
        let _ = server.await;
        let _ = worker.await;
    }
}
