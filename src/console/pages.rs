//! The console's pages.

use std::sync::Arc;

use axum::Router;

use crate::api::Service;

/// The console's routes.
pub fn routes(service: Arc<Service>) -> Router {
    let _ = service;
    Router::new()
}
