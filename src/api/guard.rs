//! Cross-site protection: a web page on another origin, open in the user's browser, must not be
//! able to start or stop executions on a local `stepfn serve`.
//!
//! Two checks, before any route:
//! - the `Host` header must name this server as a browser would reach it directly: `localhost`,
//!   an IP address, or a name allowed by configuration (`serve` adds its `--host`); any other name is a DNS
//!   rebinding (`evil.example` resolving to 127.0.0.1) and is refused;
//! - a request that changes something (any method but GET, HEAD and OPTIONS) carrying an
//!   `Origin` header must come from this server's own origin (`http://` + its `Host`).
//!
//! SDKs and the CLI send no `Origin` and address the endpoint they were given, so they pass.
//! Refusals are 403s in the API's error shape (`AccessDeniedException`).
//!
//! With credentials configured (`serve --auth`), a request that passes both checks must then
//! carry a valid SigV4 signature (see [`super::auth`]).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use super::auth::{self, Credentials};
use super::error::{ApiError, Exception};
use super::http::JSON_CONTENT_TYPE;

/// What requests may be addressed to.
#[derive(Debug)]
pub(crate) struct Guard {
    /// Lowercase host names besides `localhost` and IP addresses.
    names: Vec<String>,
    /// The credentials requests must be signed with; None: signatures are not checked.
    credentials: Option<Credentials>,
}

impl Guard {
    /// A guard accepting `localhost`, IP addresses and the `allowed` names.
    pub(crate) fn new(allowed: &[String]) -> Guard {
        let names = allowed.iter().map(|n| n.to_ascii_lowercase()).collect();
        Guard {
            names,
            credentials: None,
        }
    }

    /// The guard also demanding a signature made with one of `credentials` (if any).
    pub(crate) fn with_credentials(self, credentials: Option<Credentials>) -> Guard {
        Guard {
            credentials,
            ..self
        }
    }

    /// Why a request with these `Host` and `Origin` headers and `method` is refused, if it is.
    pub(crate) fn refusal(
        &self,
        method: &Method,
        host: Option<&HeaderValue>,
        origin: Option<&HeaderValue>,
    ) -> Option<String> {
        let host = match host.map(HeaderValue::to_str) {
            None => None,
            Some(Ok(host)) => Some(host),
            Some(Err(_)) => return Some("the Host header is not text".to_string()),
        };
        if let Some(host) = host {
            if !self.allows(host) {
                return Some(format!(
                    "requests addressed to host {host:?} are refused (DNS rebinding?); \
                     start serve with --allow-host to accept it"
                ));
            }
        }
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return None;
        }
        let origin = origin?;
        let own = host.map(|h| format!("http://{h}"));
        match (origin.to_str(), own) {
            (Ok(origin), Some(own)) if origin.eq_ignore_ascii_case(&own) => None,
            (Ok(origin), _) => Some(format!(
                "cross-site {method} from origin {origin:?} refused: \
                 only pages of this server may send it"
            )),
            (Err(_), _) => Some("the Origin header is not text".to_string()),
        }
    }

    /// Whether `host` (a `Host` header: name or address, with or without a port) is this server.
    fn allows(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        name == "localhost" || name.parse::<IpAddr>().is_ok() || self.names.contains(&name)
    }
}

/// The name of a `Host` header without its port: `[::1]:80` is `::1`, `a:80` is `a`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The middleware: refuses what [`Guard::refusal`] refuses, passes the rest on.
pub(crate) async fn check(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let refusal = guard.refusal(request.method(), headers.get(HOST), headers.get(ORIGIN));
    if let Some(message) = refusal {
        tracing::info!(%message, "request refused");
        return forbidden(&message);
    }
    match &guard.credentials {
        Some(credentials) if auth::required(request.method(), request.uri()) => {
            let (parts, body) = request.into_parts();
            let body = match auth::read_body(body, &parts.uri, &parts.headers).await {
                Ok(body) => body,
                Err(answer) => return answer,
            };
            let now = std::time::SystemTime::now();
            let refusal =
                credentials.refusal(&parts.method, &parts.uri, &parts.headers, &body, now);
            if let Some(refusal) = refusal {
                tracing::info!(error = refusal.name(), message = %refusal.message(), "unsigned or badly signed request refused");
                return auth::refuse(&refusal, &parts.uri, &parts.headers);
            }
            next.run(Request::from_parts(parts, axum::body::Body::from(body)))
                .await
        }
        _ => next.run(request).await,
    }
}

/// A 403 in the API's error shape.
fn forbidden(message: &str) -> Response {
    let (_, kind) = ApiError::new(Exception::AccessDeniedException, message).wire();
    let body = json!({"__type": kind, "message": message}).to_string();
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new(&["stepfn".to_string()])
    }

    fn refused(method: Method, host: Option<&str>, origin: Option<&str>) -> Option<String> {
        let host = host.map(|h| HeaderValue::from_str(h).expect("header"));
        let origin = origin.map(|o| HeaderValue::from_str(o).expect("header"));
        guard().refusal(&method, host.as_ref(), origin.as_ref())
    }

    #[test]
    fn hosts_of_this_server_pass_and_other_names_are_refused() {
        for host in [
            "127.0.0.1:8083",
            "localhost:8083",
            "LOCALHOST",
            "[::1]:8083",
            "10.1.2.3:8083",
            "stepfn:8083",
        ] {
            assert_eq!(refused(Method::POST, Some(host), None), None, "{host}");
        }
        let message = refused(Method::GET, Some("evil.example:8083"), None).expect("refused");
        assert!(message.contains("\"evil.example:8083\""), "{message}");
        assert!(refused(Method::POST, Some("localhost.evil.example"), None).is_some());
    }

    #[test]
    fn cross_site_changes_are_refused_and_same_origin_ones_pass() {
        let host = Some("127.0.0.1:8083");
        assert_eq!(
            refused(Method::POST, host, Some("http://127.0.0.1:8083")),
            None
        );
        assert_eq!(
            refused(Method::GET, host, Some("http://evil.example")),
            None
        );
        for origin in [
            "http://evil.example",
            "null",
            "https://127.0.0.1:8083",
            "http://127.0.0.1:9999",
        ] {
            let message = refused(Method::POST, host, Some(origin)).expect("refused");
            assert!(message.contains(origin), "{message}");
        }
        assert!(refused(Method::DELETE, host, Some("http://evil.example")).is_some());
    }
}
