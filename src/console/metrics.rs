//! Prometheus metrics at `/metrics`.

use axum::Router;

/// The `/metrics` route.
pub fn routes() -> Router {
    Router::new()
}
