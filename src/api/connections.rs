//! The accept loop of the API server: how long a client may take and how many may be connected.
//!
//! `axum::serve` sets no timeout and no limit, so one client per file descriptor could hold the
//! server forever. Here each connection is served by hyper's HTTP/1 server with its header read
//! timeout (which runs from the moment a connection waits for a request: it closes idle
//! keep-alive connections and clients sending their headers slowly alike), bodies are read under
//! tower-http's request body timeout, and a semaphore caps the connections served at once: over
//! the cap, new ones wait in the listen backlog until a slot frees.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::RequestBodyTimeoutLayer;

use super::guard::{self, Guard};

/// How the server treats its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// How long a connection has to send a complete request head, counted from when it opened
    /// or got its previous response: idle connections are closed after it too.
    pub header_timeout: Duration,
    /// How long reading a request body may take.
    pub body_timeout: Duration,
    /// Connections served at once; more wait until one closes.
    pub max_connections: usize,
    /// Host names (besides `localhost` and IP addresses) that requests may be addressed to.
    pub allowed_hosts: Vec<String>,
    /// The credentials API requests must be signed with (SigV4); None: any or no signature.
    pub credentials: Option<super::auth::Credentials>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1_000,
            allowed_hosts: Vec::new(),
            credentials: None,
        }
    }
}

/// Serves `app` on `listener` under `config` until `shutdown` resolves, then waits for the
/// requests under way (idle connections are closed at once).
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard =
        Arc::new(Guard::new(&config.allowed_hosts).with_credentials(config.credentials.clone()));
    let app = app
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
        .layer(RequestBodyTimeoutLayer::new(config.body_timeout));
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => {
                slot.expect("the connection semaphore is never closed")
            }
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was taken: wait a
                    // little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
