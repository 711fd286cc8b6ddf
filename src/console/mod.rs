//! The web console and the metrics that `stepfn serve` serves beside the API, on its own
//! address (`GET /` and the console's pages, `GET /metrics`), and `stepfn worker` serves on
//! `--metrics-port`. It reads through the API's [`Service`] and never changes what the API
//! would not: the console's actions are API operations.
//!
//! * [`pages`]: the console (HTML, CSS and JavaScript embedded in the binary; no network).
//! * [`metrics`]: Prometheus text at `/metrics`.

use std::sync::Arc;

use axum::Router;

use crate::api::Service;

pub mod metrics;
pub mod pages;

/// The console's and the metrics' routes for `service`, to serve beside the API.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .merge(metrics::routes())
        .merge(pages::routes(service))
}
