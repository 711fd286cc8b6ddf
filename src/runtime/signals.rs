//! SIGTERM and SIGINT: how a long-running command learns it should stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag set when SIGTERM or SIGINT arrives. Call inside a tokio runtime.
pub fn shutdown_on_signal() -> Arc<AtomicBool> {
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shutdown);
    tokio::spawn(async move {
        wait_for_signal().await;
        flag.store(true, Ordering::Relaxed);
    });
    shutdown
}

/// Resolves at the first SIGTERM or SIGINT (only Ctrl-C where there are no Unix signals).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
