//! The AWS JSON 1.0 protocol over HTTP, as AWS Step Functions speaks it: `POST /` with
//! `X-Amz-Target: AWSStepFunctions.<Operation>` and a JSON object body, answered with the
//! operation's JSON (200) or an error `{"__type", "message"}` (400, or 500 for internal failures).
//!
//! This module owns the wire: routing, the body limit, JSON parsing, error shapes, request ids.
//! What an operation does is left to an [`Operations`] implementation (the dispatcher in
//! `api`). Signatures are checked before a request gets here, and only under `serve --auth`
//! (see `guard` and `auth`); otherwise any credentials are accepted, as a local endpoint does.
//! Content types are not checked either: the SDKs send `application/x-amz-json-1.0`,
//! curl and reqwest send others, and all are read as JSON.
//!
//! Error `__type`s carry the namespace the real service puts in front of each name, so every SDK
//! maps them to its modeled exception (botocore, the Rust and JavaScript SDKs keep what follows
//! the last `#`, after dropping anything from the first `:`):
//! - Step Functions' own errors: `com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist`;
//! - `ValidationException`: `com.amazon.coral.validate#ValidationException`;
//! - protocol errors (`SerializationException`, `UnknownOperationException`, `InternalFailure`):
//!   `com.amazon.coral.service#...`.
//!
//! The real service sends the error only in the body (no `x-amzn-ErrorType` header), and so do we.
//!
//! EventBridge shares the address: a target `AWSEvents.<Operation>` (AWS JSON 1.1) goes to
//! [`Operations::events_call`], answered as `application/x-amz-json-1.1` with bare error
//! `__type`s (`ResourceNotFoundException`), as EventBridge sends them.

use std::future::Future;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tracing::Instrument;

use crate::api::error::{ApiError, Exception};
use crate::api::operation::Operation;

pub use crate::api::connections::ServerConfig;

/// The `X-Amz-Target` prefix of every Step Functions operation (the model's `targetPrefix`).
pub const TARGET_PREFIX: &str = "AWSStepFunctions.";

/// The content type of every JSON response.
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The `X-Amz-Target` prefix of every EventBridge operation.
pub const EVENTS_TARGET_PREFIX: &str = "AWSEvents.";

/// The content type of EventBridge's responses (AWS JSON 1.1).
pub const EVENTS_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The largest request body read, in bytes.
///
/// Step Functions takes definitions up to 1 MiB and inputs up to 256 KiB, each as a JSON string
/// inside the body, where escaping (`\"`, `\u0000`) makes them longer: 2 MiB leaves that margin.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A body over [`MAX_BODY_BYTES`] but under this is read to its end and discarded before the
/// error is sent, so the client reads the error rather than a reset connection; a longer one is
/// refused without reading it.
const MAX_DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// Handles one operation: Ok(response JSON) or Err(error).
pub trait Operations: Send + Sync + 'static {
    /// Runs `operation` on `request`, which is always a JSON object, for `caller`.
    ///
    /// The call runs in a task of its own: a client that hangs up does not cancel it.
    fn call(
        &self,
        operation: Operation,
        request: Value,
        caller: Caller,
    ) -> impl Future<Output = Result<Value, ApiError>> + Send;

    /// Runs EventBridge's `operation` (the name after `AWSEvents.`) on `request`, a JSON
    /// object, for `caller`. Without an implementation, every one is unknown.
    fn events_call(
        &self,
        operation: String,
        request: Value,
        caller: Caller,
    ) -> impl Future<Output = Result<Value, ApiError>> + Send {
        let _ = (request, caller);
        async move {
            Err(unknown_operation(format!(
                "unknown operation {operation:?}"
            )))
        }
    }
}

/// Who is asking, as far as the request says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The region of the SigV4 credential scope (`Credential=KEY/DATE/REGION/states/...`).
    pub region: Option<String>,
}

impl Caller {
    /// The caller of a request with these headers.
    pub fn from_headers(headers: &HeaderMap) -> Caller {
        let region = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(credential_region)
            .map(str::to_string);
        Caller { region }
    }
}

/// The region of an `Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/
/// aws4_request, ...` header.
fn credential_region(authorization: &str) -> Option<&str> {
    let scope = authorization.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    let region = scope.split('/').nth(2)?;
    let valid = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then_some(region)
}

/// The router serving `ops`: every method and path reaches one handler, so that each wrong one
/// gets a protocol error rather than a bare 404 or 405.
pub fn router<O: Operations>(ops: Arc<O>) -> Router {
    Router::new().fallback(handle::<O>).with_state(ops)
}

/// Serves `ops` on `listener` until `shutdown` resolves.
///
/// After `shutdown`, no new connection is accepted and requests under way are answered before
/// this returns.
///
/// # Errors
///
/// An I/O error of the listener.
pub async fn serve<O: Operations>(
    listener: tokio::net::TcpListener,
    ops: Arc<O>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, ops, Router::new(), shutdown).await
}

/// Serves `ops` as [`serve`] does, with `extra` routes beside the API (the console and
/// metrics of a layer above): a request that matches one of them goes there, any other to the
/// API.
///
/// # Errors
///
/// An I/O error of the listener.
pub async fn serve_with<O: Operations>(
    listener: tokio::net::TcpListener,
    ops: Arc<O>,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_configured(listener, ops, extra, &ServerConfig::default(), shutdown).await
}

/// Serves `ops` and `extra` as [`serve_with`] does, with `config`'s timeouts, connection limit
/// and allowed hosts; cross-site requests are refused (see [`ServerConfig`]).
///
/// # Errors
///
/// An I/O error of the listener.
pub async fn serve_configured<O: Operations>(
    listener: tokio::net::TcpListener,
    ops: Arc<O>,
    extra: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    super::connections::run(listener, extra.merge(router(ops)), config, shutdown).await
}

async fn handle<O: Operations>(
    State(ops): State<Arc<O>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let events = events_operation(&headers).is_some();
    let content_type = if events {
        EVENTS_CONTENT_TYPE
    } else {
        JSON_CONTENT_TYPE
    };
    let span =
        tracing::debug_span!("api", request_id = %request_id, operation = tracing::field::Empty);
    let result = answer(ops, method, uri, headers, body, &span)
        .instrument(span.clone())
        .await;
    match result {
        Ok(value) => respond(StatusCode::OK, &value, &request_id, content_type),
        Err(error) => {
            let (status, mut kind) = error.wire();
            if events {
                kind = error.kind.name().to_string();
            }
            span.in_scope(|| tracing::debug!(%status, error = %error, "api error"));
            respond(
                status,
                &json!({"__type": kind, "message": error.message}),
                &request_id,
                content_type,
            )
        }
    }
}

/// Everything between the raw request and the answer's JSON.
async fn answer<O: Operations>(
    ops: Arc<O>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    span: &tracing::Span,
) -> Result<Value, ApiError> {
    if uri.path() != "/" {
        return Err(unknown_operation(format!(
            "no operation at {}: the Step Functions API takes POST /",
            uri.path()
        )));
    }
    if method == Method::GET || method == Method::HEAD {
        return Ok(json!({"service": "stepfn", "status": "ok"}));
    }
    if method != Method::POST {
        return Err(unknown_operation(format!(
            "method {method} is not served: the Step Functions API takes POST /"
        )));
    }
    if let Some(name) = events_operation(&headers) {
        let name = name.to_string();
        span.record("operation", name.as_str());
        let caller = Caller::from_headers(&headers);
        let request = parse(read_body(&headers, body).await?)?;
        let call = tokio::spawn(
            async move { ops.events_call(name, request, caller).await }.instrument(span.clone()),
        );
        return call.await.unwrap_or_else(|join| {
            tracing::error!("an EventBridge operation failed: {join}");
            Err(ApiError::new(
                Exception::InternalFailure,
                "the operation failed unexpectedly",
            ))
        });
    }
    let operation = operation(&headers)?;
    span.record("operation", operation.name());
    let caller = Caller::from_headers(&headers);
    let request = parse(read_body(&headers, body).await?)?;
    let call = tokio::spawn(
        async move { ops.call(operation, request, caller).await }.instrument(span.clone()),
    );
    match call.await {
        Ok(result) => result,
        Err(join) => {
            tracing::error!("operation {operation} failed: {join}");
            Err(ApiError::new(
                Exception::InternalFailure,
                format!("operation {operation} failed unexpectedly"),
            ))
        }
    }
}

/// The EventBridge operation `X-Amz-Target` names, if it names one.
fn events_operation(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-amz-target")?
        .to_str()
        .ok()?
        .strip_prefix(EVENTS_TARGET_PREFIX)
}

/// The operation named by `X-Amz-Target`.
fn operation(headers: &HeaderMap) -> Result<Operation, ApiError> {
    let target = headers
        .get("x-amz-target")
        .ok_or_else(|| unknown_operation("missing X-Amz-Target header"))?;
    let target = target
        .to_str()
        .map_err(|_| unknown_operation("X-Amz-Target is not ASCII"))?;
    let name = target.strip_prefix(TARGET_PREFIX).ok_or_else(|| {
        unknown_operation(format!(
            "unknown X-Amz-Target {target:?}: expected {TARGET_PREFIX}<Operation>"
        ))
    })?;
    Operation::parse(name).ok_or_else(|| unknown_operation(format!("unknown operation {name:?}")))
}

/// The body, at most [`MAX_BODY_BYTES`] of it.
async fn read_body(headers: &HeaderMap, mut body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared {
        if length > MAX_DRAIN_BYTES as u64 {
            return Err(too_large(length));
        }
    }
    let capacity = declared.map_or(0, |n| n.min(MAX_BODY_BYTES as u64) as usize);
    let mut data = Vec::with_capacity(capacity);
    let mut seen: usize = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                Exception::SerializationException,
                format!("cannot read the request body: {e}"),
            )
        })?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        seen = seen.saturating_add(chunk.len());
        if seen <= MAX_BODY_BYTES {
            data.extend_from_slice(&chunk);
        } else if seen > MAX_DRAIN_BYTES {
            return Err(too_large(seen as u64));
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(too_large(seen as u64));
    }
    Ok(Bytes::from(data))
}

/// The request object; an empty body is `{}`, as for an operation without input.
fn parse(body: Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            Exception::SerializationException,
            format!("request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        let found = match value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        return Err(ApiError::new(
            Exception::SerializationException,
            format!("request body must be a JSON object, found {found}"),
        ));
    }
    Ok(value)
}

fn unknown_operation(message: impl Into<String>) -> ApiError {
    ApiError::new(Exception::UnknownOperationException, message)
}

fn too_large(length: u64) -> ApiError {
    ApiError::new(
        Exception::ValidationException,
        format!("request body of {length} bytes is over the limit of {MAX_BODY_BYTES} bytes"),
    )
}

fn respond(
    status: StatusCode,
    value: &Value,
    request_id: &str,
    content_type: &'static str,
) -> Response {
    let body = serde_json::to_vec(value).expect("a serde_json::Value always serializes");
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(request_id).expect("a UUID is a valid header value"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::*;

    /// Echoes `{operation, request}`; `request.fail = {kind, message}` answers that error,
    /// `request.panic` panics.
    struct Echo;

    impl Operations for Echo {
        async fn call(
            &self,
            operation: Operation,
            request: Value,
            _caller: Caller,
        ) -> Result<Value, ApiError> {
            if request.get("panic").is_some() {
                panic!("asked to panic");
            }
            if let Some(fail) = request.get("fail") {
                let kind = fail["kind"].as_str().and_then(Exception::parse);
                return Err(ApiError::new(
                    kind.expect("fail.kind names an exception"),
                    fail["message"].as_str().unwrap_or_default(),
                ));
            }
            Ok(json!({"operation": operation.name(), "request": request}))
        }
    }

    struct Server {
        url: String,
        stop: Option<oneshot::Sender<()>>,
        task: JoinHandle<std::io::Result<()>>,
        client: reqwest::Client,
    }

    impl Server {
        async fn start() -> Server {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let url = format!("http://{}", listener.local_addr().expect("address"));
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(serve(listener, Arc::new(Echo), async move {
                let _ = stopped.await;
            }));
            Server {
                url,
                stop: Some(stop),
                task,
                client: reqwest::Client::new(),
            }
        }

        /// POSTs `body` to `/` as the SDKs do, with target `AWSStepFunctions.<operation>`.
        async fn post(&self, operation: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
            self.client
                .post(format!("{}/", self.url))
                .header("x-amz-target", format!("{TARGET_PREFIX}{operation}"))
                .header(CONTENT_TYPE, JSON_CONTENT_TYPE)
                .body(body)
                .send()
                .await
                .expect("request")
        }

        async fn stop(mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            tokio::time::timeout(Duration::from_secs(10), self.task)
                .await
                .expect("server stops")
                .expect("server task")
                .expect("serve");
        }
    }

    /// Status, headers and JSON body; every response carries JSON and a request id.
    async fn read(response: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
        let status = response.status();
        let headers = response.headers().clone();
        assert_eq!(headers[CONTENT_TYPE], JSON_CONTENT_TYPE);
        assert!(headers.contains_key("x-amzn-RequestId"), "{headers:?}");
        let body = response.json().await.expect("JSON body");
        (status, headers, body)
    }

    async fn assert_error(response: reqwest::Response, status: u16, kind: &str) -> String {
        let (got, _, body) = read(response).await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_eq!(body["__type"], kind, "{body}");
        body["message"].as_str().expect("message").to_string()
    }

    #[tokio::test]
    async fn operation_answers_its_json_with_amz_json_content_type() {
        let server = Server::start().await;
        let response = server
            .post(
                "StartExecution",
                r#"{"stateMachineArn": "arn", "input": "{}"}"#,
            )
            .await;
        let (status, headers, body) = read(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"operation": "StartExecution", "request": {"stateMachineArn": "arn", "input": "{}"}})
        );
        let id = headers["x-amzn-requestid"].to_str().expect("ascii");
        assert_eq!(id.len(), 36, "{id}");
        server.stop().await;
    }

    #[tokio::test]
    async fn application_json_content_type_is_accepted() {
        let server = Server::start().await;
        let response = server
            .client
            .post(format!("{}/", server.url))
            .header("X-Amz-Target", "AWSStepFunctions.ListStateMachines")
            .json(&json!({"maxResults": 1}))
            .send()
            .await
            .expect("request");
        let (status, _, body) = read(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["request"], json!({"maxResults": 1}));
        server.stop().await;
    }

    #[tokio::test]
    async fn empty_body_is_an_empty_request() {
        let server = Server::start().await;
        let (status, _, body) = read(server.post("ListStateMachines", "").await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["request"], json!({}));
        server.stop().await;
    }

    #[tokio::test]
    async fn request_ids_differ_between_responses() {
        let server = Server::start().await;
        let (_, first, _) = read(server.post("ListStateMachines", "{}").await).await;
        let (_, second, _) = read(server.post("ListStateMachines", "{}").await).await;
        assert_ne!(first["x-amzn-requestid"], second["x-amzn-requestid"]);
        server.stop().await;
    }

    #[tokio::test]
    async fn service_error_has_step_functions_namespace() {
        let server = Server::start().await;
        let request = json!({"fail": {"kind": "ExecutionDoesNotExist", "message": "Execution Does Not Exist: 'arn:x'"}});
        let message = assert_error(
            server.post("DescribeExecution", request.to_string()).await,
            400,
            "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist",
        )
        .await;
        assert_eq!(message, "Execution Does Not Exist: 'arn:x'");
        server.stop().await;
    }

    #[tokio::test]
    async fn validation_error_has_coral_validate_namespace() {
        let server = Server::start().await;
        let request =
            json!({"fail": {"kind": "ValidationException", "message": "1 validation error"}});
        let message = assert_error(
            server.post("StartExecution", request.to_string()).await,
            400,
            "com.amazon.coral.validate#ValidationException",
        )
        .await;
        assert_eq!(message, "1 validation error");
        server.stop().await;
    }

    #[tokio::test]
    async fn internal_failure_is_500() {
        let server = Server::start().await;
        let request = json!({"fail": {"kind": "InternalFailure", "message": "store down"}});
        let message = assert_error(
            server.post("StartExecution", request.to_string()).await,
            500,
            "com.amazon.coral.service#InternalFailure",
        )
        .await;
        assert_eq!(message, "store down");
        server.stop().await;
    }

    #[tokio::test]
    async fn panicking_operation_is_an_internal_failure_and_the_server_goes_on() {
        let server = Server::start().await;
        let message = assert_error(
            server.post("StartExecution", r#"{"panic": true}"#).await,
            500,
            "com.amazon.coral.service#InternalFailure",
        )
        .await;
        assert_eq!(message, "operation StartExecution failed unexpectedly");
        let (status, _, _) = read(server.post("StartExecution", "{}").await).await;
        assert_eq!(status, StatusCode::OK);
        server.stop().await;
    }

    #[tokio::test]
    async fn malformed_json_is_a_serialization_exception() {
        let server = Server::start().await;
        let message = assert_error(
            server.post("StartExecution", r#"{"name": "#).await,
            400,
            "com.amazon.coral.service#SerializationException",
        )
        .await;
        assert!(
            message.starts_with("request body is not valid JSON: "),
            "{message}"
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn body_that_is_not_an_object_is_a_serialization_exception() {
        let server = Server::start().await;
        for (body, found) in [
            ("[1, 2]", "an array"),
            ("null", "null"),
            ("\"x\"", "a string"),
            ("3", "a number"),
        ] {
            let message = assert_error(
                server.post("StartExecution", body).await,
                400,
                "com.amazon.coral.service#SerializationException",
            )
            .await;
            assert_eq!(
                message,
                format!("request body must be a JSON object, found {found}")
            );
        }
        server.stop().await;
    }

    #[tokio::test]
    async fn missing_target_is_an_unknown_operation() {
        let server = Server::start().await;
        let response = server
            .client
            .post(format!("{}/", server.url))
            .body("{}")
            .send()
            .await
            .expect("request");
        let message = assert_error(
            response,
            400,
            "com.amazon.coral.service#UnknownOperationException",
        )
        .await;
        assert_eq!(message, "missing X-Amz-Target header");
        server.stop().await;
    }

    #[tokio::test]
    async fn target_of_another_service_is_an_unknown_operation() {
        let server = Server::start().await;
        let response = server
            .client
            .post(format!("{}/", server.url))
            .header("x-amz-target", "DynamoDB_20120810.ListTables")
            .body("{}")
            .send()
            .await
            .expect("request");
        let message = assert_error(
            response,
            400,
            "com.amazon.coral.service#UnknownOperationException",
        )
        .await;
        assert_eq!(
            message,
            "unknown X-Amz-Target \"DynamoDB_20120810.ListTables\": expected AWSStepFunctions.<Operation>"
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn eventbridge_target_is_answered_as_json_1_1_with_bare_error_types() {
        let server = Server::start().await;
        let response = server
            .client
            .post(format!("{}/", server.url))
            .header("x-amz-target", "AWSEvents.ListRules")
            .header(CONTENT_TYPE, EVENTS_CONTENT_TYPE)
            .body("{}")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers()[CONTENT_TYPE], EVENTS_CONTENT_TYPE);
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(
            body,
            json!({"__type": "UnknownOperationException", "message": "unknown operation \"ListRules\""})
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn operation_outside_the_model_is_unknown() {
        let server = Server::start().await;
        let message = assert_error(
            server.post("Frobnicate", "{}").await,
            400,
            "com.amazon.coral.service#UnknownOperationException",
        )
        .await;
        assert_eq!(message, "unknown operation \"Frobnicate\"");
        server.stop().await;
    }

    #[tokio::test]
    async fn wrong_path_or_method_is_an_unknown_operation() {
        let server = Server::start().await;
        let response = server
            .client
            .post(format!("{}/2016-11-23/executions", server.url))
            .header("x-amz-target", "AWSStepFunctions.ListExecutions")
            .body("{}")
            .send()
            .await
            .expect("request");
        let message = assert_error(
            response,
            400,
            "com.amazon.coral.service#UnknownOperationException",
        )
        .await;
        assert_eq!(
            message,
            "no operation at /2016-11-23/executions: the Step Functions API takes POST /"
        );
        let response = server
            .client
            .put(format!("{}/", server.url))
            .header("x-amz-target", "AWSStepFunctions.ListExecutions")
            .body("{}")
            .send()
            .await
            .expect("request");
        let message = assert_error(
            response,
            400,
            "com.amazon.coral.service#UnknownOperationException",
        )
        .await;
        assert_eq!(
            message,
            "method PUT is not served: the Step Functions API takes POST /"
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn get_root_answers_health() {
        let server = Server::start().await;
        let response = server
            .client
            .get(format!("{}/", server.url))
            .send()
            .await
            .expect("request");
        let (status, _, body) = read(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"service": "stepfn", "status": "ok"}));
        server.stop().await;
    }

    #[tokio::test]
    async fn definition_of_one_mib_escaped_is_accepted() {
        let server = Server::start().await;
        // Quotes double in size when escaped: 1 MiB of them is 2 MiB minus a little on the wire.
        let definition = "\"".repeat(1024 * 1024 - 64);
        let request = json!({"definition": definition});
        let body = request.to_string();
        assert!(body.len() > 2 * 1024 * 1024 - 200 && body.len() <= MAX_BODY_BYTES);
        let (status, _, echoed) = read(server.post("CreateStateMachine", body).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(echoed["request"], request);
        server.stop().await;
    }

    #[tokio::test]
    async fn body_over_the_limit_is_a_validation_exception() {
        let server = Server::start().await;
        let body = format!(r#"{{"input": "{}"}}"#, "x".repeat(MAX_BODY_BYTES + 1024));
        let length = body.len();
        let message = assert_error(
            server.post("StartExecution", body).await,
            400,
            "com.amazon.coral.validate#ValidationException",
        )
        .await;
        assert_eq!(
            message,
            format!("request body of {length} bytes is over the limit of {MAX_BODY_BYTES} bytes")
        );
        // The connection was drained, so the client can go on.
        let (status, _, _) = read(server.post("StartExecution", "{}").await).await;
        assert_eq!(status, StatusCode::OK);
        server.stop().await;
    }

    #[tokio::test]
    async fn huge_declared_length_is_refused_unread() {
        let server = Server::start().await;
        let address = server.url.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect");
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: AWSStepFunctions.StartExecution\r\n\
             Content-Type: application/x-amz-json-1.0\r\nContent-Length: 1000000000\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .expect("answered without the body")
            .expect("read");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        assert!(
            answer.contains(r#""__type":"com.amazon.coral.validate#ValidationException""#),
            "{answer}"
        );
        assert!(
            answer.contains("request body of 1000000000 bytes is over the limit"),
            "{answer}"
        );
        server.stop().await;
    }
}
