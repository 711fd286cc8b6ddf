//! Prometheus metrics at `/metrics`: installs the process's recorder (the
//! `metrics-exporter-prometheus` one, without its own HTTP listener) and renders what the
//! runtime and the store record ([`crate::runtime::telemetry`] names them) as Prometheus text.
//! `stepfn serve` serves the route beside the API; `stepfn worker --metrics-port` serves it
//! alone ([`serve`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::runtime::telemetry::DESCRIPTIONS;

/// Histogram buckets, seconds: from a store request (ms) to a long execution (an hour).
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0, 900.0, 3600.0,
];

/// How often histogram samples not scraped yet are folded in, so memory stays bounded.
const UPKEEP: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use (once per process). Inside a
/// tokio runtime it also starts the recorder's upkeep.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        // The buckets are constants, valid by construction.
        let builder = builder
            .set_buckets(BUCKETS)
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics shows none");
        }
        for (name, help) in DESCRIPTIONS {
            metrics::describe_counter!(*name, *help);
        }
        crate::runtime::telemetry::enable();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let upkeep = handle.clone();
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(UPKEEP);
                loop {
                    tick.tick().await;
                    upkeep.run_upkeep();
                }
            });
        }
        handle
    })
}

/// The `/metrics` route (installs the recorder).
pub fn routes() -> Router {
    install();
    Router::new().route("/metrics", get(scrape))
}

async fn scrape() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        install().render(),
    )
}

/// Serves `/metrics` alone on `listener` until `shutdown` (`stepfn worker --metrics-port`).
///
/// # Errors
/// When the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, routes())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `/metrics` on 127.0.0.1:`port` (0: a free port) and returns the bound address.
///
/// # Errors
/// When the port cannot be bound.
pub async fn bind(port: u16) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}
