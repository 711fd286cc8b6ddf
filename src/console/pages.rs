//! The console's pages: one HTML shell, a stylesheet and a script, embedded in the binary (no
//! network, no CDN). The script reads and acts through the API itself (`POST /` with
//! `X-Amz-Target`, as any client does), so the console has no way to change state that the API
//! lacks.
//!
//! * `GET /` (asked for as HTML): the state machines.
//! * `GET /machine?arn=ARN`: a state machine's definition, graph, executions, failure heatmap
//!   and a form to start an execution.
//! * `GET /execution?arn=ARN`: an execution's status, **Graph**, **Timeline** and **Events**.
//! * `GET /console/app.js`, `GET /console/app.css`: the assets.
//! * `POST /console/history` with `{"executionArn": ARN, "after": ID}`: the events after `ID`
//!   as GetExecutionHistory gives them, all in one answer ([`Service::history_after`]): a long
//!   history is read once, not 1,000 events a request.
//!
//! Any other request to `/` (the API's `POST /`, a `GET /` that does not ask for HTML) goes to
//! the API as without the console.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::api::Service;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// The console's routes. The pages read nothing of `service` on the server: the script calls
/// the API that serves beside them; `/` hands what is not a browser's page load to the API.
pub fn routes(service: Arc<Service>) -> Router {
    let api = crate::api::http::router(Arc::clone(&service));
    Router::new()
        .route("/console/history", post(history).with_state(service))
        .route("/", any(move |request: Request| root(api.clone(), request)))
        .route("/machine", get(page))
        .route("/execution", get(page))
        .route("/console/app.js", get(script))
        .route("/console/app.css", get(style))
}

/// `/`: the console for a browser's `GET`, the API for anything else.
async fn root(api: Router, request: Request) -> Response {
    if request.method() == Method::GET && wants_html(request.headers()) {
        return page().await;
    }
    match api.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// `POST /console/history`: `{"events": [...]}`, the events of `executionArn` after `after`.
async fn history(State(service): State<Arc<Service>>, body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                &format!("the body is not JSON: {e}"),
            )
        }
    };
    let Some(arn) = request.get("executionArn").and_then(Value::as_str) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "executionArn: a string is required",
        );
    };
    let after = match request.get("after") {
        None | Some(Value::Null) => 0,
        Some(v) => match v.as_u64() {
            Some(n) => n,
            None => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    "after: an event id (a whole number) is required",
                )
            }
        },
    };
    match service.history_after(arn, after).await {
        Ok(events) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            format!("{{\"events\":{events}}}"),
        )
            .into_response(),
        Err(e) => {
            let (status, kind) = e.wire();
            refuse(status, &kind, &e.message)
        }
    }
}

fn refuse(status: StatusCode, kind: &str, message: &str) -> Response {
    json_response(status, &json!({"__type": kind, "message": message}))
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        value.to_string(),
    )
        .into_response()
}

/// Whether the request's `Accept` names HTML (a browser's navigation does).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

async fn page() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_asked_for_by_accept() {
        let mut headers = HeaderMap::new();
        assert!(!wants_html(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_html(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
        );
        assert!(wants_html(&headers));
    }

    #[test]
    fn the_shell_loads_only_embedded_assets() {
        assert!(INDEX.contains("/console/app.js") && INDEX.contains("/console/app.css"));
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
        assert!(!SCRIPT.contains("https://") && !STYLE.contains("https://"));
    }
}
