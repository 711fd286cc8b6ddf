//! `stepfn serve`: the API on a socket, and a worker driving the executions started through
//! it, until SIGTERM or SIGINT.
//!
//! The worker and its drives run on a runtime of their own (the engine runtime), apart from the
//! threads that accept connections and answer requests: a state whose evaluation keeps a
//! thread busy for seconds (a JSONata loop running to its time limit) takes an engine thread,
//! never one the API needs. Shutdown cannot be held up by such an evaluation either: drives get
//! [`DRIVE_GRACE`] to stop at their next step, then are abandoned (their executions are in the
//! store, and a worker resumes them once their lease lapses).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::runtime::commands::{self, CommandError};
use crate::runtime::durable::DurableOptions;
use crate::runtime::invokers::{Invokers, Mocks, Setup};
use crate::runtime::schedules::{run_sweeper, ScheduleClock};
use crate::runtime::signals::wait_for_signal;
use crate::runtime::worker::run_worker_with;
use crate::store::Scheduling;
use crate::store::{AnyStore, StoreConfig};

/// What `stepfn serve` was told.
pub struct ServeOptions {
    /// The address to bind.
    pub host: String,
    /// The port to bind; 0 picks a free one.
    pub port: u16,
    /// Where executions live.
    pub store: StoreConfig,
    /// An AWS Step Functions Local MockConfigFile, already read.
    pub mocks: Option<Value>,
    /// The HTTP Task connections file (default: $STEPFN_CONNECTIONS).
    pub connections: Option<PathBuf>,
    /// Executions driven at once.
    pub concurrency: usize,
    /// The account new resources are made in (12 digits).
    pub account: String,
    /// Skip Wait states and retry intervals of the executions it drives.
    pub virtual_clock: bool,
    /// How long its lease on an execution lasts without renewal, ms: another worker (or a
    /// restarted serve) takes over this long after it died.
    pub lease_ms: i64,
    /// The order in which its worker takes due executions.
    pub scheduling: Scheduling,
    /// Timeouts, the connection limit and the hosts requests may be addressed to.
    pub http: super::http::ServerConfig,
}

/// How long drives under way get to stop at their next step after a signal.
pub const DRIVE_GRACE: Duration = Duration::from_secs(2);
/// How long requests under way get to be answered after a signal.
pub const REQUEST_GRACE: Duration = Duration::from_secs(5);

/// The runtime that drives executions: threads apart from the API's. Shut down without
/// waiting when dropped (a thread still evaluating is left to finish on its own; dropping a
/// runtime inside another would otherwise block or panic).
struct EngineRuntime(Option<tokio::runtime::Runtime>);

impl EngineRuntime {
    /// A runtime with one thread per core (at least two).
    fn new() -> Result<EngineRuntime, CommandError> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("stepfn-engine")
            .thread_stack_size(crate::asl::nesting::THREAD_STACK_BYTES)
            .enable_all()
            .build()
            .map(|runtime| EngineRuntime(Some(runtime)))
            .map_err(|e| CommandError::Invalid(format!("cannot start the engine runtime: {e}")))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.0
            .as_ref()
            .expect("the engine runtime lives until dropped")
            .handle()
    }
}

impl Drop for EngineRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Serves until a signal; `on_bound` hears the bound address before the first request.
pub async fn serve(
    options: ServeOptions,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), CommandError> {
    serve_with(options, |_| axum::Router::new(), on_bound).await
}

/// Serves as [`serve`] does, with the routes `extra` makes for the service (the console and
/// metrics, which live in a layer above the API) on the same address.
pub async fn serve_with(
    options: ServeOptions,
    extra: impl FnOnce(Arc<super::Service>) -> axum::Router,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), CommandError> {
    let store: AnyStore = options.store.open().await?;
    store.init().await?;
    let invokers = Invokers::new(Setup {
        store: store.clone(),
        integrations: Some(commands::integrations(options.connections)?),
        mocks: Mocks::Routed(options.mocks),
        virtual_clock: options.virtual_clock,
    })
    .map_err(|e| CommandError::Invalid(e.to_string()))?;
    if options.account.len() != 12 || !options.account.chars().all(|c| c.is_ascii_digit()) {
        return Err(CommandError::Invalid(format!(
            "--account {}: an AWS account is 12 digits",
            options.account
        )));
    }
    let engine = EngineRuntime::new()?;
    let service = Arc::new(
        super::Service::new(store.clone(), invokers)
            .with_account(options.account)
            .with_engine(engine.handle().clone()),
    );
    let (host, port) = (options.host, options.port);
    let mut http = options.http;
    http.allowed_hosts.push(host.clone());
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| CommandError::Invalid(format!("cannot bind {host}:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CommandError::Invalid(format!("cannot read the bound address: {e}")))?;
    on_bound(addr);
    let shutdown = Arc::new(AtomicBool::new(false));
    let clock = ScheduleClock::from_env().map_err(CommandError::Invalid)?;
    let sweeper = tokio::spawn(run_sweeper(store.clone(), clock, Arc::clone(&shutdown)));
    let worker = engine.handle().spawn(run_worker_with(
        store,
        service.invoker(),
        DurableOptions {
            virtual_clock: options.virtual_clock,
            lease_ms: options.lease_ms.max(1_000),
            ..DurableOptions::worker(format!("serve-{}", uuid::Uuid::new_v4()))
        },
        options.concurrency,
        Arc::clone(&shutdown),
        None,
        options.scheduling,
    ));
    let flag = Arc::clone(&shutdown);
    let signalled = Arc::new(tokio::sync::Notify::new());
    let heard = Arc::clone(&signalled);
    let extra =
        extra(Arc::clone(&service)).merge(super::scheduler_http::routes(Arc::clone(&service)));
    let server = super::http::serve_configured(listener, service, extra, &http, async move {
        wait_for_signal().await;
        flag.store(true, Ordering::Relaxed);
        heard.notify_one();
    });
    let served = tokio::select! {
        served = server => served.map_err(|e| CommandError::Invalid(format!("server failed: {e}"))),
        () = async {
            signalled.notified().await;
            tokio::time::sleep(REQUEST_GRACE).await;
        } => {
            tracing::warn!("requests still under way {REQUEST_GRACE:?} after the signal were dropped");
            Ok(())
        }
    };
    shutdown.store(true, Ordering::Relaxed);
    if tokio::time::timeout(DRIVE_GRACE, worker).await.is_err() {
        tracing::warn!(
            "drives still evaluating {DRIVE_GRACE:?} after the signal were abandoned \
             (a durable store has a worker resume them once their lease lapses)"
        );
    }
    drop(engine);
    let _ = sweeper.await;
    served
}
