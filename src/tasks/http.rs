//! The HTTP Task (`arn:aws:states:::http:invoke`): one HTTPS API call through an EventBridge
//! connection, shaped as AWS Step Functions shapes it.
//!
//! This module owns the connections ([`Connections`], read from a JSON file keyed by
//! `ConnectionArn`), the request Step Functions builds from a task's resolved `Parameters`
//! (or `Arguments`), the OAuth client-credentials token cache, and the result or failure of the
//! call. Resolving paths, retriers, catchers and the state's own `TimeoutSeconds` timer are the
//! engine's; [`HttpTasks::invoke`] only sees the resolved parameters.
//!
//! Behaviour, from "Call HTTPS APIs in Step Functions workflows"
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/call-https-apis.html>):
//!
//! - Parameters: `ApiEndpoint` and `Method` (`GET`, `POST`, `PUT`, `DELETE`, `PATCH`,
//!   `OPTIONS`, `HEAD`) are required; the connection is `Authentication.ConnectionArn` or
//!   `InvocationConfig.ConnectionArn` (AWS requires one: "You must include the connection ARN in
//!   any HTTP Task that calls an HTTPS API"); `Headers`, `QueryParameters`, `RequestBody` and
//!   `Transform` are optional. A malformed or unknown field fails the task with
//!   `States.Runtime`, the error AWS names for forbidden headers and unmergeable bodies.
//! - Headers: the definition may not set `A-IM`, `Accept-Charset`, `Accept-Datetime`,
//!   `Accept-Encoding`, `Authorization`, `Cache-Control`, `Connection`, `Content-Encoding`,
//!   `Content-MD5`, `Date`, `Expect`, `Forwarded`, `From`, `Host`, `HTTP2-Settings`, `If-Match`,
//!   `If-Modified-Since`, `If-None-Match`, `If-Range`, `If-Unmodified-Since`, `Max-Forwards`,
//!   `Origin`, `Pragma`, `Proxy-Authorization`, `Referer`, `Server`, `TE`, `Trailer`,
//!   `Transfer-Encoding`, `Upgrade`, `Via`, `Warning`, `x-forwarded-*`, `x-amz-*` or `x-amzn-*`
//!   (`States.Runtime`). Step Functions sets `User-Agent: Amazon|StepFunctions|HttpInvoke|<region>`
//!   (the region is the connection ARN's), `Range: bytes=0-262144` and `Host`; a definition's
//!   `User-Agent`, `Range` or `Content-Length` is replaced. stepfn adds
//!   `X-Stepfn-Idempotency-Key`. A JSON body goes with `Content-Type:
//!   application/json; charset=UTF-8` unless a content type is given; a URL-encoded one with
//!   `application/x-www-form-urlencoded` (AWS asks the definition to set it; stepfn sets it when
//!   missing).
//! - Merging: the connection's `InvocationHttpParameters` are added to the definition's headers,
//!   query parameters and request body; on a duplicate key the connection's value wins. A string
//!   `RequestBody` cannot be merged with connection body parameters (`States.Runtime`).
//! - `Transform.RequestBodyEncoding` `URL_ENCODED` form-encodes an object `RequestBody`, nested
//!   objects as `key[sub]`, arrays per `RequestEncodingOptions.ArrayFormat`: `INDICES` (the
//!   default, `array[0]=a&array[1]=b`), `REPEAT` (`array=a&array=b`), `COMMAS` (`array=a,b`) or
//!   `BRACKETS` (`array[]=a&array[]=b`). Keys and values are percent-encoded as in AWS's example
//!   request (`metadata%5Border_details%5D=monthly%20report%20data`).
//! - Authorization: `API_KEY` sends the header `ApiKeyName: ApiKeyValue`, `BASIC` sends
//!   `Authorization: Basic`, `OAUTH_CLIENT_CREDENTIALS` requests a token from
//!   `AuthorizationEndpoint` (method `HttpMethod`; client id and secret in an
//!   `Authorization: Basic` header, `grant_type=client_credentials` form-encoded with the
//!   connection's `OAuthHttpParameters`), caches it until 60 seconds before `expires_in` runs out
//!   (EventBridge refreshes tokens about to expire) and sends `Authorization: Bearer <token>`. A
//!   401 or 407 answer drops the cached token, so a retrier gets a fresh one. A failed token
//!   request fails the task with `Events.ConnectionResource.InvalidConnectionState`; an unknown
//!   connection with `Events.ConnectionResource.ResourceNotFound` (AWS's "Connection errors").
//! - Result of a 2xx answer: `{"Headers": {"<lowercase name>": ["value", ...]}, "ResponseBody":
//!   <JSON if the content type is JSON, else a string>, "StatusCode": 200, "StatusText": "OK"}`,
//!   as in the TestState example
//!   (<https://docs.aws.amazon.com/step-functions/latest/dg/test-state-isolation.html>).
//!   Another status fails with `States.Http.StatusCode.<code>` and, as cause, that same object
//!   as JSON text (AWS documents the error name, not the cause text). `StatusText` is the
//!   status code's standard reason phrase. Redirects are not followed (a 3xx fails like any
//!   non-2xx answer).
//! - "Unsupported HTTP Task responses": a content type `application/octet-stream`, `image/*`,
//!   `video/*` or `audio/*`, or a body that is not UTF-8 text, fails with `States.Runtime`. A
//!   body over 256 KiB fails with `States.DataLimitExceeded`.
//! - "HTTP task requests will timeout after 60 seconds": a call that takes longer, and a refused,
//!   reset or broken connection, fail with `States.Http.Socket`. The caller's `timeout` (the
//!   state's `TimeoutSeconds`) fails with `States.Timeout` and cause `Task timed out.`.
//!
//! stepfn also accepts `http://` endpoints (AWS only calls HTTPS), so local services and tests
//! can be reached. Secrets of a connection appear in no cause.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::asl::error::{self, StatesError};
use crate::tasks::TaskFuture;

/// The `Resource` of an HTTP Task.
pub const RESOURCE: &str = "arn:aws:states:::http:invoke";

/// The header that carries the idempotency key of the task attempt.
pub const IDEMPOTENCY_KEY_HEADER: &str = "X-Stepfn-Idempotency-Key";

/// Error of a transport failure or of a call longer than [`SOCKET_TIMEOUT`].
pub const HTTP_SOCKET: &str = "States.Http.Socket";

/// Prefix of the error of a non-2xx answer: `States.Http.StatusCode.404`.
pub const HTTP_STATUS_CODE_PREFIX: &str = "States.Http.StatusCode.";

/// Error of a ConnectionArn that names no connection.
pub const CONNECTION_NOT_FOUND: &str = "Events.ConnectionResource.ResourceNotFound";

/// Error of a connection whose OAuth authorization fails.
pub const CONNECTION_INVALID_STATE: &str = "Events.ConnectionResource.InvalidConnectionState";

/// How long Step Functions lets one HTTP Task request take: "HTTP task requests will timeout
/// after 60 seconds".
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest response body read: the `Range: bytes=0-262144` Step Functions asks for.
const MAX_RESPONSE_BYTES: usize = 262_144;

/// The `Range` header Step Functions sends.
const RANGE: &str = "bytes=0-262144";

/// The content type of a JSON request body.
const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// The content type of a URL-encoded request body.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// A cached token is refreshed once it expires within this margin.
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The fields of an HTTP Task's parameters.
const FIELDS: [&str; 8] = [
    "ApiEndpoint",
    "Method",
    "Authentication",
    "InvocationConfig",
    "Headers",
    "QueryParameters",
    "Transform",
    "RequestBody",
];

/// The methods an HTTP Task may use.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];

/// Headers a definition may not set; `x-forwarded-`, `x-amz-` and `x-amzn-` prefixes too.
const FORBIDDEN_HEADERS: [&str; 32] = [
    "a-im",
    "accept-charset",
    "accept-datetime",
    "accept-encoding",
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-md5",
    "date",
    "expect",
    "forwarded",
    "from",
    "host",
    "http2-settings",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "origin",
    "pragma",
    "proxy-authorization",
    "referer",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "warning",
];

/// Headers Step Functions sets itself: a definition's value is dropped.
const REPLACED_HEADERS: [&str; 3] = ["user-agent", "range", "content-length"];

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

/// A connections file or value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionsError {
    /// The file cannot be read.
    #[error("cannot read connections file {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("connections file {} is not JSON: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A connection is malformed.
    #[error("{origin}: invalid at {}: {message}", pointer_text(.pointer))]
    Invalid {
        /// `connections file <path>` or `connections`.
        origin: String,
        /// JSON Pointer of the problem (RFC 6901; `~1` stands for `/` in an ARN).
        pointer: String,
        /// What is wrong.
        message: String,
    },
}

/// A pointer as the messages show it: the empty pointer is the whole document.
fn pointer_text(pointer: &str) -> String {
    if pointer.is_empty() {
        "the top level".to_string()
    } else {
        pointer.to_string()
    }
}

/// One segment of a JSON Pointer, escaped: `~` as `~0`, `/` as `~1`.
fn escape_pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// EventBridge connections by `ConnectionArn`.
///
/// The file is a JSON object from ConnectionArn to what EventBridge's CreateConnection takes:
///
/// ```json
/// {
///   "arn:aws:events:us-east-1:123456789012:connection/Stripe/81210c42": {
///     "AuthorizationType": "API_KEY",
///     "AuthParameters": {
///       "ApiKeyAuthParameters": {"ApiKeyName": "Authorization", "ApiKeyValue": "Bearer sk_test"},
///       "InvocationHttpParameters": {
///         "HeaderParameters": [{"Key": "Stripe-Version", "Value": "2024-06-20", "IsValueSecret": false}]
///       }
///     }
///   }
/// }
/// ```
///
/// `AuthorizationType` is `API_KEY` (`ApiKeyAuthParameters {ApiKeyName, ApiKeyValue}`), `BASIC`
/// (`BasicAuthParameters {Username, Password}`) or `OAUTH_CLIENT_CREDENTIALS` (`OAuthParameters
/// {AuthorizationEndpoint, HttpMethod, ClientParameters {ClientID, ClientSecret},
/// OAuthHttpParameters}`); `InvocationHttpParameters` and `OAuthHttpParameters` hold
/// `HeaderParameters`, `QueryStringParameters` and `BodyParameters`, arrays of
/// `{Key, Value, IsValueSecret}`.
#[derive(Clone, Default)]
pub struct Connections {
    by_arn: HashMap<String, Arc<Connection>>,
}

impl std::fmt::Debug for Connections {
    // Connections hold secrets: only their ARNs are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut arns: Vec<&String> = self.by_arn.keys().collect();
        arns.sort();
        f.debug_struct("Connections").field("arns", &arns).finish()
    }
}

impl Connections {
    /// Reads a connections file.
    ///
    /// # Errors
    /// When the file cannot be read, is not JSON, or a connection is malformed; the message
    /// names the file and the JSON Pointer of the problem.
    pub fn from_file(path: &Path) -> Result<Self, ConnectionsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConnectionsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| ConnectionsError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(&value, &format!("connections file {}", path.display()))
    }

    /// Reads connections from a JSON value.
    ///
    /// # Errors
    /// When a connection is malformed; the message names the JSON Pointer of the problem.
    pub fn from_value(v: &Value) -> Result<Self, ConnectionsError> {
        Self::parse(v, "connections")
    }

    fn parse(v: &Value, origin: &str) -> Result<Self, ConnectionsError> {
        let invalid = |pointer: String, message: String| ConnectionsError::Invalid {
            origin: origin.to_string(),
            pointer,
            message,
        };
        let parsed: HashMap<String, Connection> =
            serde_path_to_error::deserialize(v).map_err(|e| {
                let mut pointer = String::new();
                for segment in e.path().iter() {
                    pointer.push('/');
                    match segment {
                        serde_path_to_error::Segment::Seq { index } => {
                            pointer.push_str(&index.to_string());
                        }
                        serde_path_to_error::Segment::Map { key } => {
                            pointer.push_str(&escape_pointer_segment(key));
                        }
                        serde_path_to_error::Segment::Enum { variant } => {
                            pointer.push_str(&escape_pointer_segment(variant));
                        }
                        serde_path_to_error::Segment::Unknown => pointer.push('?'),
                    }
                }
                invalid(pointer, e.inner().to_string())
            })?;
        let mut by_arn = HashMap::with_capacity(parsed.len());
        for (arn, connection) in parsed {
            let at = format!("/{}", escape_pointer_segment(&arn));
            connection
                .check()
                .map_err(|(path, message)| invalid(format!("{at}{path}"), message))?;
            by_arn.insert(arn, Arc::new(connection));
        }
        Ok(Connections { by_arn })
    }

    fn get(&self, arn: &str) -> Option<Arc<Connection>> {
        self.by_arn.get(arn).cloned()
    }
}

/// One connection, as EventBridge's CreateConnection takes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Connection {
    authorization_type: AuthorizationType,
    auth_parameters: AuthParameters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum AuthorizationType {
    #[serde(rename = "API_KEY")]
    ApiKey,
    #[serde(rename = "BASIC")]
    Basic,
    #[serde(rename = "OAUTH_CLIENT_CREDENTIALS")]
    OAuthClientCredentials,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AuthParameters {
    #[serde(default)]
    api_key_auth_parameters: Option<ApiKeyAuth>,
    #[serde(default)]
    basic_auth_parameters: Option<BasicAuth>,
    #[serde(default, rename = "OAuthParameters")]
    oauth_parameters: Option<OAuth>,
    #[serde(default)]
    invocation_http_parameters: Option<HttpParameters>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ApiKeyAuth {
    api_key_name: String,
    api_key_value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BasicAuth {
    username: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct OAuth {
    authorization_endpoint: String,
    http_method: OAuthMethod,
    client_parameters: ClientParameters,
    #[serde(default, rename = "OAuthHttpParameters")]
    oauth_http_parameters: Option<HttpParameters>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum OAuthMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
}

impl OAuthMethod {
    fn as_method(self) -> Method {
        match self {
            OAuthMethod::Get => Method::GET,
            OAuthMethod::Post => Method::POST,
            OAuthMethod::Put => Method::PUT,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientParameters {
    #[serde(rename = "ClientID")]
    client_id: String,
    #[serde(rename = "ClientSecret")]
    client_secret: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct HttpParameters {
    #[serde(default)]
    header_parameters: Vec<Parameter>,
    #[serde(default)]
    query_string_parameters: Vec<Parameter>,
    #[serde(default)]
    body_parameters: Vec<Parameter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Parameter {
    key: String,
    value: String,
    // Only EventBridge's console hides secret values; stepfn never prints any value.
    #[serde(default)]
    #[allow(dead_code)]
    is_value_secret: bool,
}

impl Connection {
    /// Checks what serde cannot: the parameters match the type, headers and URLs are valid.
    /// The error is a pointer relative to the connection and a message.
    fn check(&self) -> Result<(), (String, String)> {
        let p = &self.auth_parameters;
        let present = [
            (
                "ApiKeyAuthParameters",
                AuthorizationType::ApiKey,
                p.api_key_auth_parameters.is_some(),
            ),
            (
                "BasicAuthParameters",
                AuthorizationType::Basic,
                p.basic_auth_parameters.is_some(),
            ),
            (
                "OAuthParameters",
                AuthorizationType::OAuthClientCredentials,
                p.oauth_parameters.is_some(),
            ),
        ];
        let type_name = self.authorization_type.name();
        for (field, kind, is_present) in present {
            if kind == self.authorization_type && !is_present {
                return Err((
                    "/AuthParameters".into(),
                    format!("AuthorizationType {type_name} needs {field}"),
                ));
            }
            // CreateConnection: "You must include only authorization parameters for the
            // AuthorizationType you specify."
            if kind != self.authorization_type && is_present {
                return Err((
                    format!("/AuthParameters/{field}"),
                    format!("{field} does not go with AuthorizationType {type_name}"),
                ));
            }
        }
        if let Some(key) = &p.api_key_auth_parameters {
            if HeaderName::from_bytes(key.api_key_name.as_bytes()).is_err() {
                return Err((
                    "/AuthParameters/ApiKeyAuthParameters/ApiKeyName".into(),
                    format!("{:?} is not a valid header name", key.api_key_name),
                ));
            }
            if HeaderValue::from_str(&key.api_key_value).is_err() {
                return Err((
                    "/AuthParameters/ApiKeyAuthParameters/ApiKeyValue".into(),
                    "not a valid header value".into(),
                ));
            }
        }
        if let Some(oauth) = &p.oauth_parameters {
            let url = Url::parse(&oauth.authorization_endpoint).ok();
            if !url.as_ref().is_some_and(is_http_url) {
                return Err((
                    "/AuthParameters/OAuthParameters/AuthorizationEndpoint".into(),
                    format!("{:?} is not an http(s) URL", oauth.authorization_endpoint),
                ));
            }
            if let Some(params) = &oauth.oauth_http_parameters {
                check_headers(
                    params,
                    "/AuthParameters/OAuthParameters/OAuthHttpParameters",
                )?;
            }
        }
        if let Some(params) = &p.invocation_http_parameters {
            check_headers(params, "/AuthParameters/InvocationHttpParameters")?;
        }
        Ok(())
    }

    /// The connection's `InvocationHttpParameters`, empty if none.
    fn invocation(&self) -> Option<&HttpParameters> {
        self.auth_parameters.invocation_http_parameters.as_ref()
    }
}

impl AuthorizationType {
    fn name(self) -> &'static str {
        match self {
            AuthorizationType::ApiKey => "API_KEY",
            AuthorizationType::Basic => "BASIC",
            AuthorizationType::OAuthClientCredentials => "OAUTH_CLIENT_CREDENTIALS",
        }
    }
}

fn check_headers(params: &HttpParameters, at: &str) -> Result<(), (String, String)> {
    for (i, header) in params.header_parameters.iter().enumerate() {
        if HeaderName::from_bytes(header.key.as_bytes()).is_err() {
            return Err((
                format!("{at}/HeaderParameters/{i}/Key"),
                format!("{:?} is not a valid header name", header.key),
            ));
        }
        if HeaderValue::from_str(&header.value).is_err() {
            return Err((
                format!("{at}/HeaderParameters/{i}/Value"),
                "not a valid header value".into(),
            ));
        }
    }
    Ok(())
}

fn is_http_url(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
}

// ---------------------------------------------------------------------------------------------
// The invoker
// ---------------------------------------------------------------------------------------------

/// A cached OAuth access token.
#[derive(Debug, Clone)]
struct Token {
    access_token: String,
    /// When the token expires; `None` if the endpoint gave no `expires_in`.
    expires_at: Option<Instant>,
}

impl Token {
    fn is_fresh(&self) -> bool {
        self.expires_at
            .is_none_or(|at| at > Instant::now() + TOKEN_REFRESH_MARGIN)
    }
}

/// One token slot per connection; its async lock makes concurrent tasks share one request.
type TokenSlot = Arc<tokio::sync::Mutex<Option<Token>>>;

struct Inner {
    client: reqwest::Client,
    connections: Connections,
    tokens: Mutex<HashMap<String, TokenSlot>>,
}

/// Runs HTTP Tasks: an HTTP client, the connections and their OAuth tokens.
#[derive(Clone)]
pub struct HttpTasks {
    inner: Arc<Inner>,
    socket_timeout: Duration,
}

impl HttpTasks {
    /// An invoker calling through `connections`.
    pub fn new(connections: Connections) -> Self {
        let client = reqwest::Client::builder()
            // A redirect is another endpoint: it would carry the connection's credentials there.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds: its TLS backend is compiled in");
        HttpTasks {
            inner: Arc::new(Inner {
                client,
                connections,
                tokens: Mutex::new(HashMap::new()),
            }),
            socket_timeout: SOCKET_TIMEOUT,
        }
    }

    /// The same invoker with another limit for one request than AWS's 60 seconds
    /// ([`SOCKET_TIMEOUT`]); past it the task fails with `States.Http.Socket`.
    pub fn with_socket_timeout(mut self, limit: Duration) -> Self {
        self.socket_timeout = limit;
        self
    }

    /// Runs one `arn:aws:states:::http:invoke` task with its resolved Parameters/Arguments.
    ///
    /// `idempotency_key` is sent as the header `X-Stepfn-Idempotency-Key`; `timeout` bounds the
    /// call (token request included), after which the task fails with `States.Timeout`.
    pub fn invoke(
        &self,
        params: Value,
        idempotency_key: String,
        timeout: Option<Duration>,
    ) -> TaskFuture {
        let inner = Arc::clone(&self.inner);
        let socket_timeout = self.socket_timeout;
        Box::pin(async move {
            let call = inner.call(&params, &idempotency_key, socket_timeout);
            match timeout {
                Some(limit) => tokio::time::timeout(limit, call)
                    .await
                    .unwrap_or_else(|_| Err(StatesError::new(error::TIMEOUT, "Task timed out."))),
                None => call.await,
            }
        })
    }
}

impl Inner {
    async fn call(
        &self,
        params: &Value,
        idempotency_key: &str,
        socket_timeout: Duration,
    ) -> Result<Value, StatesError> {
        let task = TaskParameters::parse(params)?;
        let connection = self.connections.get(&task.connection_arn).ok_or_else(|| {
            StatesError::new(
                CONNECTION_NOT_FOUND,
                format!(
                    "no connection {:?}: the HTTP Task's ConnectionArn must name a connection of the connections file",
                    task.connection_arn
                ),
            )
        })?;
        let mut request = task.build(&connection, idempotency_key)?;
        let oauth = match (
            connection.authorization_type,
            &connection.auth_parameters.oauth_parameters,
        ) {
            (AuthorizationType::OAuthClientCredentials, Some(oauth)) => Some(oauth),
            _ => None,
        };
        if let Some(oauth) = oauth {
            let token = self
                .bearer_token(
                    &task.connection_arn,
                    oauth,
                    &request.user_agent,
                    socket_timeout,
                )
                .await?;
            request.headers.insert(
                reqwest::header::AUTHORIZATION,
                header_value(&format!("Bearer {token}"))?,
            );
        }
        let shown = request.shown_url();
        let builder = self
            .client
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone());
        let builder = match request.body.take() {
            Some(body) => builder.body(body),
            None => builder,
        };
        let answer = tokio::time::timeout(socket_timeout, async {
            let response = builder.send().await.map_err(|e| socket_error(&shown, &e))?;
            read_response(response, &shown).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(StatesError::new(
                HTTP_SOCKET,
                format!(
                    "the request to {shown} took longer than {} seconds",
                    socket_timeout.as_secs_f64()
                ),
            ))
        })?;
        if (200..300).contains(&answer.status) {
            return Ok(answer.result);
        }
        if oauth.is_some() && matches!(answer.status, 401 | 407) {
            // EventBridge refreshes OAuth tokens "when a 401 or 407 response is returned".
            self.drop_token(&task.connection_arn).await;
        }
        Err(StatesError::new(
            format!("{HTTP_STATUS_CODE_PREFIX}{}", answer.status),
            answer.result.to_string(),
        ))
    }

    fn token_slot(&self, arn: &str) -> TokenSlot {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(tokens.entry(arn.to_string()).or_default())
    }

    async fn drop_token(&self, arn: &str) {
        *self.token_slot(arn).lock().await = None;
    }

    /// The cached token of the connection, or a new one from its authorization endpoint.
    async fn bearer_token(
        &self,
        arn: &str,
        oauth: &OAuth,
        user_agent: &str,
        socket_timeout: Duration,
    ) -> Result<String, StatesError> {
        let slot = self.token_slot(arn);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.is_fresh()) {
            return Ok(token.access_token.clone());
        }
        let token =
            tokio::time::timeout(socket_timeout, self.request_token(arn, oauth, user_agent))
                .await
                .unwrap_or_else(|_| {
                    Err(StatesError::new(
                        CONNECTION_INVALID_STATE,
                        format!(
                    "the OAuth token request of connection {arn:?} took longer than {} seconds",
                    socket_timeout.as_secs_f64()
                ),
                    ))
                })?;
        let access_token = token.access_token.clone();
        *cached = Some(token);
        Ok(access_token)
    }

    async fn request_token(
        &self,
        arn: &str,
        oauth: &OAuth,
        user_agent: &str,
    ) -> Result<Token, StatesError> {
        let failed = |why: String| {
            StatesError::new(
                CONNECTION_INVALID_STATE,
                format!("the OAuth token request of connection {arn:?} failed: {why}"),
            )
        };
        let mut url = Url::parse(&oauth.authorization_endpoint)
            .map_err(|e| failed(format!("bad AuthorizationEndpoint: {e}")))?;
        let shown = shown_url(&url);
        let none = HttpParameters::default();
        let extra = oauth.oauth_http_parameters.as_ref().unwrap_or(&none);
        let mut query: Vec<(String, String)> = Vec::new();
        for p in &extra.query_string_parameters {
            query.push((p.key.clone(), percent_encode(&p.value)));
        }
        let mut form: Vec<(String, String)> =
            vec![("grant_type".into(), "client_credentials".into())];
        for p in &extra.body_parameters {
            form.retain(|(k, _)| k != &p.key);
            form.push((p.key.clone(), p.value.clone()));
        }
        let method = oauth.http_method.as_method();
        let form: Vec<(String, String)> = form
            .into_iter()
            .map(|(k, v)| (k, percent_encode(&v)))
            .collect();
        let body = if method == Method::GET {
            // A GET carries no body: the form goes in the query.
            query.extend(form);
            None
        } else {
            Some(join_pairs(&form))
        };
        append_query(&mut url, &query);
        let mut headers = HeaderMap::new();
        for p in &extra.header_parameters {
            let (name, value) = (header_name(&p.key)?, header_value(&p.value)?);
            headers.insert(name, value);
        }
        let credentials = format!(
            "{}:{}",
            oauth.client_parameters.client_id, oauth.client_parameters.client_secret
        );
        let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
        headers.insert(
            reqwest::header::AUTHORIZATION,
            header_value(&format!("Basic {basic}"))?,
        );
        headers.insert(reqwest::header::USER_AGENT, header_value(user_agent)?);
        headers
            .entry(reqwest::header::ACCEPT)
            .or_insert(HeaderValue::from_static("application/json"));
        let mut builder = self.client.request(method, url).headers(headers);
        if let Some(body) = body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, FORM_CONTENT_TYPE)
                .body(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| failed(format!("{shown}: {}", error_chain(&e))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| failed(format!("{shown}: {}", error_chain(&e))))?;
        if !status.is_success() {
            return Err(failed(format!("{shown} answered {status}")));
        }
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|_| failed(format!("{shown} did not answer JSON")))?;
        let access_token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| failed(format!("{shown} answered no access_token")))?
            .to_string();
        let expires_in = match answer.get("expires_in") {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let expires_at = expires_in
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Instant::now() + Duration::from_secs_f64(s.min(1.0e9)));
        Ok(Token {
            access_token,
            expires_at,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------

/// How arrays of a URL-encoded body are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayFormat {
    /// `array[0]=a&array[1]=b` (the default).
    Indices,
    /// `array=a&array=b`.
    Repeat,
    /// `array=a,b`.
    Commas,
    /// `array[]=a&array[]=b`.
    Brackets,
}

/// The parameters of one HTTP Task, checked.
#[derive(Debug)]
struct TaskParameters {
    endpoint: Url,
    method: Method,
    connection_arn: String,
    /// Header names and values, in order; a name may repeat.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Query parameters: raw key, percent-encoded value.
    query: Vec<(String, String)>,
    body: Option<Value>,
    url_encoded: bool,
    array_format: ArrayFormat,
}

/// A request ready to send.
#[derive(Debug)]
struct HttpRequest {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<String>,
    user_agent: String,
}

impl HttpRequest {
    /// The URL without its query (which may hold connection secrets), for causes.
    fn shown_url(&self) -> String {
        shown_url(&self.url)
    }
}

fn runtime(cause: impl Into<String>) -> StatesError {
    StatesError::runtime(cause)
}

impl TaskParameters {
    fn parse(params: &Value) -> Result<TaskParameters, StatesError> {
        let obj = params
            .as_object()
            .ok_or_else(|| runtime("the HTTP Task parameters must be a JSON object"))?;
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(runtime(format!(
                "the HTTP Task parameters have an unknown field {unknown:?}; the fields are {}",
                FIELDS.join(", ")
            )));
        }
        let endpoint = match obj.get("ApiEndpoint") {
            None | Some(Value::Null) => {
                return Err(runtime("the HTTP Task parameters need ApiEndpoint"));
            }
            Some(Value::String(s)) => Url::parse(s)
                .ok()
                .filter(is_http_url)
                .ok_or_else(|| runtime(format!("ApiEndpoint {s:?} is not an http(s) URL")))?,
            Some(other) => {
                return Err(runtime(format!(
                    "ApiEndpoint must be a string, not {}",
                    type_name(other)
                )));
            }
        };
        let method = match obj.get("Method") {
            None | Some(Value::Null) => {
                return Err(runtime("the HTTP Task parameters need Method"));
            }
            Some(Value::String(s)) if METHODS.contains(&s.as_str()) => {
                Method::from_bytes(s.as_bytes()).map_err(|_| runtime("bad Method"))?
            }
            Some(other) => {
                return Err(runtime(format!(
                    "Method must be one of {}, not {other}",
                    METHODS.join(", ")
                )));
            }
        };
        let connection_arn = connection_arn(obj)?;
        let headers = match obj.get("Headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(h)) => definition_headers(h)?,
            Some(other) => {
                return Err(runtime(format!(
                    "Headers must be a JSON object, not {}",
                    type_name(other)
                )));
            }
        };
        let query = match obj.get("QueryParameters") {
            None | Some(Value::Null) => Vec::new(),
            Some(q) => query_pairs(q)?,
        };
        let (url_encoded, array_format) = match obj.get("Transform") {
            None | Some(Value::Null) => (false, ArrayFormat::Indices),
            Some(t) => transform(t)?,
        };
        let body = match obj.get("RequestBody") {
            None | Some(Value::Null) => None,
            Some(b) => Some(b.clone()),
        };
        Ok(TaskParameters {
            endpoint,
            method,
            connection_arn,
            headers,
            query,
            body,
            url_encoded,
            array_format,
        })
    }

    /// Merges the connection's parameters and authorization (but an OAuth token) in.
    fn build(
        &self,
        connection: &Connection,
        idempotency_key: &str,
    ) -> Result<HttpRequest, StatesError> {
        let none = HttpParameters::default();
        let extra = connection.invocation().unwrap_or(&none);

        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        // Spec: "If the same header keys are present in the definition and connection, Step
        // Functions uses the corresponding values specified in the EventBridge connection".
        for p in &extra.header_parameters {
            headers.insert(header_name(&p.key)?, header_value(&p.value)?);
        }

        let mut query = self.query.clone();
        for p in &extra.query_string_parameters {
            query.retain(|(k, _)| k != &p.key);
            query.push((p.key.clone(), percent_encode(&p.value)));
        }
        let mut url = self.endpoint.clone();
        append_query(&mut url, &query);

        let body = merge_body(self.body.clone(), &extra.body_parameters)?;
        let body = match body {
            None => None,
            Some(Value::String(text)) => Some(text),
            Some(Value::Object(fields)) if self.url_encoded => {
                Some(form_encode(&fields, self.array_format))
            }
            Some(other) if self.url_encoded => {
                return Err(runtime(format!(
                    "a URL_ENCODED RequestBody must be a JSON object or a string, not {}",
                    type_name(&other)
                )));
            }
            Some(other) => Some(other.to_string()),
        };
        if body.is_some() && !headers.contains_key(reqwest::header::CONTENT_TYPE) {
            let content_type = if self.url_encoded {
                FORM_CONTENT_TYPE
            } else {
                JSON_CONTENT_TYPE
            };
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static(content_type),
            );
        }

        match connection.authorization_type {
            AuthorizationType::ApiKey => {
                if let Some(key) = &connection.auth_parameters.api_key_auth_parameters {
                    headers.insert(
                        header_name(&key.api_key_name)?,
                        header_value(&key.api_key_value)?,
                    );
                }
            }
            AuthorizationType::Basic => {
                if let Some(basic) = &connection.auth_parameters.basic_auth_parameters {
                    let encoded = base64::engine::general_purpose::STANDARD
                        .encode(format!("{}:{}", basic.username, basic.password));
                    headers.insert(
                        reqwest::header::AUTHORIZATION,
                        header_value(&format!("Basic {encoded}"))?,
                    );
                }
            }
            // The token is fetched when the request is sent.
            AuthorizationType::OAuthClientCredentials => {}
        }

        let region = self.connection_arn.split(':').nth(3).unwrap_or_default();
        let user_agent = format!("Amazon|StepFunctions|HttpInvoke|{region}");
        headers.insert(reqwest::header::USER_AGENT, header_value(&user_agent)?);
        headers.insert(reqwest::header::RANGE, HeaderValue::from_static(RANGE));
        headers.insert(
            HeaderName::from_static("x-stepfn-idempotency-key"),
            header_value(idempotency_key)?,
        );
        Ok(HttpRequest {
            method: self.method.clone(),
            url,
            headers,
            body,
            user_agent,
        })
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `Authentication.ConnectionArn` or `InvocationConfig.ConnectionArn`.
fn connection_arn(obj: &Map<String, Value>) -> Result<String, StatesError> {
    let mut found = None;
    for field in ["Authentication", "InvocationConfig"] {
        let Some(holder) = obj.get(field) else {
            continue;
        };
        let arn = holder
            .as_object()
            .and_then(|o| o.get("ConnectionArn"))
            .and_then(Value::as_str)
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| {
                runtime(format!(
                    "{field} must be an object with a string ConnectionArn"
                ))
            })?;
        if found.is_some() {
            return Err(runtime(
                "give the connection in Authentication or in InvocationConfig, not in both",
            ));
        }
        found = Some(arn.to_string());
    }
    found.ok_or_else(|| {
        runtime(
            "the HTTP Task parameters need Authentication.ConnectionArn (or \
             InvocationConfig.ConnectionArn): Step Functions calls HTTPS APIs only through an \
             EventBridge connection",
        )
    })
}

fn is_forbidden_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    FORBIDDEN_HEADERS.contains(&lower.as_str())
        || ["x-forwarded-", "x-amz-", "x-amzn-"]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
}

fn header_name(name: &str) -> Result<HeaderName, StatesError> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| runtime(format!("{name:?} is not a valid header name")))
}

fn header_value(value: &str) -> Result<HeaderValue, StatesError> {
    HeaderValue::from_str(value).map_err(|_| runtime("a header value has invalid characters"))
}

/// The definition's `Headers`: each value a scalar or an array of scalars.
fn definition_headers(
    h: &Map<String, Value>,
) -> Result<Vec<(HeaderName, HeaderValue)>, StatesError> {
    let mut out = Vec::new();
    for (name, value) in h {
        if is_forbidden_header(name) {
            return Err(runtime(format!(
                "the header {name:?} cannot be set in an HTTP Task"
            )));
        }
        if REPLACED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let header = header_name(name)?;
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for v in values {
            let text = scalar_text(v).ok_or_else(|| {
                runtime(format!(
                    "the value of header {name:?} must be a string, a number, a boolean or an \
                     array of them"
                ))
            })?;
            out.push((header.clone(), header_value(&text)?));
        }
    }
    Ok(out)
}

/// The text of a string, number or boolean.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `QueryParameters`: an object (arrays repeat their key, nested objects are `key[sub]`), an
/// array of such objects, or a query string.
fn query_pairs(q: &Value) -> Result<Vec<(String, String)>, StatesError> {
    let mut out = Vec::new();
    match q {
        Value::Object(fields) => {
            for (k, v) in fields {
                flatten(k.clone(), v, ArrayFormat::Repeat, &mut out);
            }
        }
        Value::Array(items) => {
            for item in items {
                let fields = item.as_object().ok_or_else(|| {
                    runtime("QueryParameters given as an array must hold JSON objects")
                })?;
                for (k, v) in fields {
                    flatten(k.clone(), v, ArrayFormat::Repeat, &mut out);
                }
            }
        }
        Value::String(s) => {
            let parsed = Url::parse(&format!(
                "http://query.invalid/?{}",
                s.trim_start_matches('?')
            ))
            .map_err(|_| runtime("QueryParameters is not a valid query string"))?;
            for (k, v) in parsed.query_pairs() {
                out.push((k.into_owned(), percent_encode(&v)));
            }
        }
        other => {
            return Err(runtime(format!(
                "QueryParameters must be a JSON object, an array or a string, not {}",
                type_name(other)
            )));
        }
    }
    Ok(out)
}

/// `Transform`: whether the body is URL-encoded, and how its arrays are.
fn transform(t: &Value) -> Result<(bool, ArrayFormat), StatesError> {
    let obj = t
        .as_object()
        .ok_or_else(|| runtime("Transform must be a JSON object"))?;
    if let Some(unknown) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "RequestBodyEncoding" | "RequestEncodingOptions"))
    {
        return Err(runtime(format!(
            "Transform has an unknown field {unknown:?}; the fields are RequestBodyEncoding, \
             RequestEncodingOptions"
        )));
    }
    let url_encoded = match obj.get("RequestBodyEncoding") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "NONE" => false,
        Some(Value::String(s)) if s == "URL_ENCODED" => true,
        Some(other) => {
            return Err(runtime(format!(
                "Transform.RequestBodyEncoding must be NONE or URL_ENCODED, not {other}"
            )));
        }
    };
    let format = match obj.get("RequestEncodingOptions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(options)) => {
            if let Some(unknown) = options.keys().find(|k| k.as_str() != "ArrayFormat") {
                return Err(runtime(format!(
                    "Transform.RequestEncodingOptions has an unknown field {unknown:?}; the \
                     field is ArrayFormat"
                )));
            }
            options.get("ArrayFormat")
        }
        Some(other) => {
            return Err(runtime(format!(
                "Transform.RequestEncodingOptions must be a JSON object, not {}",
                type_name(other)
            )));
        }
    };
    let array_format = match format {
        None | Some(Value::Null) => ArrayFormat::Indices,
        Some(Value::String(s)) => match s.as_str() {
            "INDICES" => ArrayFormat::Indices,
            "REPEAT" => ArrayFormat::Repeat,
            "COMMAS" => ArrayFormat::Commas,
            "BRACKETS" => ArrayFormat::Brackets,
            _ => {
                return Err(runtime(format!(
                    "Transform.RequestEncodingOptions.ArrayFormat must be INDICES, REPEAT, \
                     COMMAS or BRACKETS, not {s:?}"
                )));
            }
        },
        Some(other) => {
            return Err(runtime(format!(
                "Transform.RequestEncodingOptions.ArrayFormat must be a string, not {}",
                type_name(other)
            )));
        }
    };
    Ok((url_encoded, array_format))
}

/// The request body with the connection's body parameters merged in.
fn merge_body(body: Option<Value>, params: &[Parameter]) -> Result<Option<Value>, StatesError> {
    if params.is_empty() {
        return Ok(body);
    }
    let mut fields = match body {
        None => Map::new(),
        Some(Value::Object(fields)) => fields,
        // Spec: "If you specify the request body as a string instead of a JSON object, and the
        // EventBridge connection also contains request body, Step Functions can't merge the
        // request body [...]. It fails the HTTP Task with the States.Runtime error."
        Some(other) => {
            return Err(runtime(format!(
                "RequestBody is {}, which cannot be merged with the body parameters of the \
                 connection",
                type_name(&other)
            )));
        }
    };
    for p in params {
        fields.insert(p.key.clone(), Value::String(p.value.clone()));
    }
    Ok(Some(Value::Object(fields)))
}

/// Percent-encodes all but RFC 3986's unreserved characters (space is `%20`).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Flattens `value` under the raw key `key` into (raw key, percent-encoded value) pairs.
fn flatten(key: String, value: &Value, format: ArrayFormat, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                flatten(format!("{key}[{k}]"), v, format, out);
            }
        }
        Value::Array(items) => {
            let scalars: Option<Vec<String>> = items.iter().map(scalar_text).collect();
            match (format, scalars) {
                (ArrayFormat::Commas, Some(texts)) => {
                    if !texts.is_empty() {
                        let joined: Vec<String> = texts.iter().map(|t| percent_encode(t)).collect();
                        out.push((key, joined.join(",")));
                    }
                }
                // COMMAS cannot write nested values: they take indices.
                (ArrayFormat::Indices | ArrayFormat::Commas, _) => {
                    for (i, item) in items.iter().enumerate() {
                        flatten(format!("{key}[{i}]"), item, format, out);
                    }
                }
                (ArrayFormat::Brackets, _) => {
                    for item in items {
                        flatten(format!("{key}[]"), item, format, out);
                    }
                }
                (ArrayFormat::Repeat, _) => {
                    for item in items {
                        flatten(key.clone(), item, format, out);
                    }
                }
            }
        }
        Value::Null => out.push((key, String::new())),
        scalar => {
            let text = scalar_text(scalar).unwrap_or_default();
            out.push((key, percent_encode(&text)));
        }
    }
}

/// An object as `application/x-www-form-urlencoded` text.
fn form_encode(fields: &Map<String, Value>, format: ArrayFormat) -> String {
    let mut pairs = Vec::new();
    for (k, v) in fields {
        flatten(k.clone(), v, format, &mut pairs);
    }
    join_pairs(&pairs)
}

/// `key=value&...` from raw keys and encoded values.
fn join_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={v}", percent_encode(k)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Appends encoded pairs to the URL's own query.
fn append_query(url: &mut Url, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        return;
    }
    let added = join_pairs(pairs);
    let query = match url.query() {
        Some(own) if !own.is_empty() => format!("{own}&{added}"),
        _ => added,
    };
    url.set_query(Some(&query));
}

/// The URL without query or credentials, for causes.
fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Only fails for URLs that cannot have credentials, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

// ---------------------------------------------------------------------------------------------
// The response
// ---------------------------------------------------------------------------------------------

/// A response as an HTTP Task result.
struct Answer {
    status: u16,
    result: Value,
}

/// The error chain of a transport failure, without reqwest's URL (its query may hold secrets).
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

fn socket_error(shown: &str, e: &reqwest::Error) -> StatesError {
    if e.is_builder() {
        return runtime(format!(
            "the request to {shown} cannot be built: {}",
            error_chain(e)
        ));
    }
    StatesError::new(
        HTTP_SOCKET,
        format!("the request to {shown} failed: {}", error_chain(e)),
    )
}

/// The media type of a `Content-Type` value, lowercase and without parameters.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_json_media(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

async fn read_response(
    mut response: reqwest::Response,
    shown: &str,
) -> Result<Answer, StatesError> {
    let status = response.status();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let entry = headers
            .entry(name.as_str().to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(text));
        }
    }
    let media = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| media_type(&String::from_utf8_lossy(v.as_bytes())))
        .unwrap_or_default();
    // Spec ("Unsupported HTTP Task responses"): these content types fail with States.Runtime.
    if media == "application/octet-stream"
        || ["image/", "video/", "audio/"]
            .iter()
            .any(|prefix| media.starts_with(prefix))
    {
        return Err(runtime(format!(
            "the response of {shown} has content type {media}, which an HTTP Task cannot read"
        )));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| socket_error(shown, &e))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_RESPONSE_BYTES + 1 {
            return Err(StatesError::new(
                error::DATA_LIMIT_EXCEEDED,
                format!("the response body of {shown} is larger than 256 KiB"),
            ));
        }
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        runtime(format!(
            "the response body of {shown} is not UTF-8 text, which an HTTP Task cannot read"
        ))
    })?;
    let body = if is_json_media(&media) {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    };
    Ok(Answer {
        status: status.as_u16(),
        result: json!({
            "Headers": headers,
            "ResponseBody": body,
            "StatusCode": status.as_u16(),
            "StatusText": status.canonical_reason().unwrap_or_default(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;

    use super::*;

    const ARN: &str = "arn:aws:events:us-east-1:123456789012:connection/Test/0001";
    const LONG: Option<Duration> = Some(Duration::from_secs(20));

    /// What the test server saw of token requests.
    #[derive(Default)]
    struct Seen {
        token_requests: AtomicUsize,
        last_token_request: Mutex<Value>,
    }

    struct Server {
        url: String,
        seen: Arc<Seen>,
    }

    impl Server {
        /// An axum server on a free port of 127.0.0.1; it stops with the test's runtime.
        async fn start() -> Server {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a free port");
            let url = format!("http://{}", listener.local_addr().expect("local address"));
            let seen = Arc::new(Seen::default());
            let state = Arc::clone(&seen);
            let app = axum::Router::new().fallback(move |request: Request| {
                let seen = Arc::clone(&state);
                async move { route(&seen, request).await }
            });
            tokio::spawn(async move { axum::serve(listener, app).await });
            Server { url, seen }
        }

        /// Parameters calling `path` with `method` through the test connection.
        fn params(&self, path: &str, method: &str) -> Value {
            json!({
                "ApiEndpoint": format!("{}{path}", self.url),
                "Method": method,
                "Authentication": {"ConnectionArn": ARN},
            })
        }
    }

    fn respond(status: u16, content_type: &str, body: impl Into<String>) -> Response {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Body::from(body.into()))
            .expect("a valid test response")
    }

    /// The test API. `/echo` answers the request it got as JSON: method, path, raw query,
    /// headers (repeated ones joined by ", ") and raw body.
    async fn route(seen: &Seen, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .expect("read the request body");
        let mut headers = Map::new();
        for name in parts.headers.keys() {
            let values: Vec<&str> = parts
                .headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().expect("ASCII header"))
                .collect();
            headers.insert(name.as_str().to_string(), json!(values.join(", ")));
        }
        let echo = json!({
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query().unwrap_or_default(),
            "headers": headers,
            "body": String::from_utf8_lossy(&bytes),
        });
        let authorization = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match parts.uri.path() {
            "/echo" => respond(200, "application/json", echo.to_string()),
            "/created" => respond(201, "application/json", echo.to_string()),
            "/text" => respond(200, "text/plain; charset=utf-8", "plain words"),
            "/missing" => respond(404, "application/json", r#"{"message":"no such thing"}"#),
            "/broken" => respond(500, "text/plain", "it broke"),
            "/image" => respond(200, "image/png", "not really a picture"),
            "/huge" => respond(200, "text/plain", "x".repeat(300 * 1024)),
            "/binary" => Response::builder()
                .status(200)
                .header("content-type", "text/plain")
                .body(Body::from(vec![0xff, 0xfe, 0x00]))
                .expect("a valid test response"),
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                respond(200, "text/plain", "too late")
            }
            "/token" => {
                let n = seen.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
                *seen.last_token_request.lock().expect("lock") = echo;
                let token = json!({
                    "access_token": format!("token-{n}"),
                    "token_type": "Bearer",
                    "expires_in": 3600,
                });
                respond(200, "application/json", token.to_string())
            }
            "/protected" if authorization.starts_with("Bearer token-") => {
                respond(200, "application/json", echo.to_string())
            }
            "/unauthorized" | "/protected" => {
                respond(401, "application/json", r#"{"message":"who are you"}"#)
            }
            _ => respond(404, "text/plain", "no route"),
        }
    }

    fn connections_of(connection: Value) -> Connections {
        Connections::from_value(&json!({ ARN: connection })).expect("valid connections")
    }

    fn api_key() -> Value {
        json!({
            "AuthorizationType": "API_KEY",
            "AuthParameters": {
                "ApiKeyAuthParameters": {"ApiKeyName": "X-Api-Key", "ApiKeyValue": "secret-key"}
            }
        })
    }

    fn tasks_with(connection: Value) -> HttpTasks {
        HttpTasks::new(connections_of(connection))
    }

    async fn invoke(tasks: &HttpTasks, params: Value) -> Result<Value, StatesError> {
        tasks.invoke(params, "key-1".to_string(), LONG).await
    }

    /// The request the echo endpoint saw.
    fn echoed(result: &Value) -> &Value {
        &result["ResponseBody"]
    }

    #[tokio::test]
    async fn get_sends_query_parameters_headers_and_the_step_functions_headers() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let mut params = server.params("/echo?fixed=1", "GET");
        params["Headers"] = json!({"X-Custom": "v1", "X-Multi": ["a", "b"], "X-Number": 7});
        params["QueryParameters"] = json!({"currency": "usd", "tag": ["x", "y z"], "n": 5});
        let result = invoke(&tasks, params).await.expect("the call succeeds");

        assert_eq!(result["StatusCode"], json!(200));
        assert_eq!(result["StatusText"], json!("OK"));
        let seen = echoed(&result);
        assert_eq!(seen["method"], "GET");
        assert_eq!(seen["path"], "/echo");
        assert_eq!(seen["query"], "fixed=1&currency=usd&tag=x&tag=y%20z&n=5");
        let headers = &seen["headers"];
        assert_eq!(headers["x-custom"], "v1");
        assert_eq!(headers["x-multi"], "a, b");
        assert_eq!(headers["x-number"], "7");
        assert_eq!(
            headers["user-agent"],
            "Amazon|StepFunctions|HttpInvoke|us-east-1"
        );
        assert_eq!(headers["range"], "bytes=0-262144");
        assert_eq!(headers["x-stepfn-idempotency-key"], "key-1");
        assert_eq!(headers["x-api-key"], "secret-key");
        assert_eq!(headers.get("content-type"), None, "a request without body");
        assert_eq!(seen["body"], "");
    }

    #[tokio::test]
    async fn post_sends_the_request_body_as_json() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let mut params = server.params("/echo", "POST");
        params["RequestBody"] = json!({"a": 1, "b": [true, null], "c": "x"});
        let result = invoke(&tasks, params.clone())
            .await
            .expect("the call succeeds");
        let seen = echoed(&result);
        assert_eq!(seen["method"], "POST");
        assert_eq!(seen["body"], r#"{"a":1,"b":[true,null],"c":"x"}"#);
        assert_eq!(seen["headers"]["content-type"], JSON_CONTENT_TYPE);

        // A content type of the definition is kept.
        params["Headers"] = json!({"Content-Type": "application/vnd.test+json"});
        let result = invoke(&tasks, params).await.expect("the call succeeds");
        assert_eq!(
            echoed(&result)["headers"]["content-type"],
            "application/vnd.test+json"
        );
    }

    #[tokio::test]
    async fn url_encoded_body_writes_each_array_format() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let cases = [
            (
                None,
                "array%5B0%5D=a&array%5B1%5D=b%20c&meta%5Bk%5D=v%2Fw&n=1",
            ),
            (
                Some("INDICES"),
                "array%5B0%5D=a&array%5B1%5D=b%20c&meta%5Bk%5D=v%2Fw&n=1",
            ),
            (Some("REPEAT"), "array=a&array=b%20c&meta%5Bk%5D=v%2Fw&n=1"),
            (Some("COMMAS"), "array=a,b%20c&meta%5Bk%5D=v%2Fw&n=1"),
            (
                Some("BRACKETS"),
                "array%5B%5D=a&array%5B%5D=b%20c&meta%5Bk%5D=v%2Fw&n=1",
            ),
        ];
        for (format, expected) in cases {
            let mut params = server.params("/echo", "POST");
            params["RequestBody"] = json!({"array": ["a", "b c"], "meta": {"k": "v/w"}, "n": 1});
            params["Transform"] = match format {
                None => json!({"RequestBodyEncoding": "URL_ENCODED"}),
                Some(f) => json!({
                    "RequestBodyEncoding": "URL_ENCODED",
                    "RequestEncodingOptions": {"ArrayFormat": f},
                }),
            };
            let result = invoke(&tasks, params).await.expect("the call succeeds");
            let seen = echoed(&result);
            assert_eq!(seen["body"], expected, "ArrayFormat {format:?}");
            assert_eq!(seen["headers"]["content-type"], FORM_CONTENT_TYPE);
        }
    }

    #[tokio::test]
    async fn not_found_fails_with_its_status_code_and_the_response_as_cause() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let err = invoke(&tasks, server.params("/missing", "GET"))
            .await
            .expect_err("a 404 fails the task");
        assert_eq!(err.error, "States.Http.StatusCode.404");
        let cause: Value =
            serde_json::from_str(err.cause.as_deref().expect("a cause")).expect("a JSON cause");
        assert_eq!(cause["StatusCode"], json!(404));
        assert_eq!(cause["StatusText"], json!("Not Found"));
        assert_eq!(cause["ResponseBody"], json!({"message": "no such thing"}));
        assert_eq!(
            cause["Headers"]["content-type"],
            json!(["application/json"])
        );
    }

    #[tokio::test]
    async fn server_error_fails_with_status_code_500() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let err = invoke(&tasks, server.params("/broken", "DELETE"))
            .await
            .expect_err("a 500 fails the task");
        assert_eq!(err.error, "States.Http.StatusCode.500");
        let cause: Value =
            serde_json::from_str(err.cause.as_deref().expect("a cause")).expect("a JSON cause");
        assert_eq!(cause["StatusCode"], json!(500));
        assert_eq!(cause["StatusText"], json!("Internal Server Error"));
        assert_eq!(cause["ResponseBody"], json!("it broke"));
    }

    #[tokio::test]
    async fn response_bodies_are_json_for_json_content_types_and_strings_otherwise() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let json_result = invoke(&tasks, server.params("/created", "PUT"))
            .await
            .expect("a 201 succeeds");
        assert_eq!(json_result["StatusCode"], json!(201));
        assert_eq!(json_result["StatusText"], json!("Created"));
        assert_eq!(json_result["ResponseBody"]["method"], json!("PUT"));

        let text = invoke(&tasks, server.params("/text", "GET"))
            .await
            .expect("the call succeeds");
        assert_eq!(text["ResponseBody"], json!("plain words"));
        assert_eq!(
            text["Headers"]["content-type"],
            json!(["text/plain; charset=utf-8"])
        );
        assert_eq!(text["Headers"]["content-length"], json!(["11"]));
        let keys: Vec<&String> = text.as_object().expect("an object").keys().collect();
        assert_eq!(
            keys,
            ["Headers", "ResponseBody", "StatusCode", "StatusText"]
        );
    }

    #[tokio::test]
    async fn unreadable_responses_fail_with_runtime_errors() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let err = invoke(&tasks, server.params("/image", "GET"))
            .await
            .expect_err("an image fails");
        assert_eq!(
            err,
            StatesError::runtime(format!(
                "the response of {}/image has content type image/png, which an HTTP Task cannot read",
                server.url
            ))
        );
        let err = invoke(&tasks, server.params("/binary", "GET"))
            .await
            .expect_err("binary data fails");
        assert_eq!(
            err,
            StatesError::runtime(format!(
                "the response body of {}/binary is not UTF-8 text, which an HTTP Task cannot read",
                server.url
            ))
        );
    }

    #[tokio::test]
    async fn response_over_256_kib_fails_with_data_limit_exceeded() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let err = invoke(&tasks, server.params("/huge", "GET"))
            .await
            .expect_err("too large");
        assert_eq!(
            err,
            StatesError::new(
                error::DATA_LIMIT_EXCEEDED,
                format!(
                    "the response body of {}/huge is larger than 256 KiB",
                    server.url
                )
            )
        );
    }

    #[tokio::test]
    async fn refused_connection_fails_with_socket_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let address = listener.local_addr().expect("local address");
        drop(listener);
        let tasks = tasks_with(api_key());
        let params = json!({
            "ApiEndpoint": format!("http://{address}/gone?secret=1"),
            "Method": "GET",
            "Authentication": {"ConnectionArn": ARN},
        });
        let err = invoke(&tasks, params).await.expect_err("nobody listens");
        assert_eq!(err.error, HTTP_SOCKET);
        let cause = err.cause.expect("a cause");
        assert!(
            cause.starts_with(&format!("the request to http://{address}/gone failed: ")),
            "{cause}"
        );
        assert!(cause.contains("refused"), "{cause}");
        assert!(
            !cause.contains("secret"),
            "the query stays out of causes: {cause}"
        );
    }

    #[tokio::test]
    async fn slow_answer_past_the_timeout_fails_with_states_timeout() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let started = Instant::now();
        let err = tasks
            .invoke(
                server.params("/slow", "GET"),
                "key-1".to_string(),
                Some(Duration::from_millis(200)),
            )
            .await
            .expect_err("the answer comes too late");
        assert_eq!(err, StatesError::new(error::TIMEOUT, "Task timed out."));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn slow_answer_past_the_socket_limit_fails_with_socket_error() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key()).with_socket_timeout(Duration::from_millis(200));
        let err = tasks
            .invoke(server.params("/slow", "GET"), "key-1".to_string(), None)
            .await
            .expect_err("the answer comes too late");
        assert_eq!(
            err,
            StatesError::new(
                HTTP_SOCKET,
                format!(
                    "the request to {}/slow took longer than 0.2 seconds",
                    server.url
                )
            )
        );
    }

    #[tokio::test]
    async fn basic_connection_sends_basic_authorization() {
        let server = Server::start().await;
        let tasks = tasks_with(json!({
            "AuthorizationType": "BASIC",
            "AuthParameters": {"BasicAuthParameters": {"Username": "user", "Password": "pa:ss"}}
        }));
        // InvocationConfig names the connection as well as Authentication does.
        let params = json!({
            "ApiEndpoint": format!("{}/echo", server.url),
            "Method": "GET",
            "InvocationConfig": {"ConnectionArn": ARN},
        });
        let result = invoke(&tasks, params).await.expect("the call succeeds");
        let expected = base64::engine::general_purpose::STANDARD.encode("user:pa:ss");
        assert_eq!(
            echoed(&result)["headers"]["authorization"],
            format!("Basic {expected}")
        );
    }

    fn oauth(server: &Server) -> Value {
        json!({
            "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
            "AuthParameters": {
                "OAuthParameters": {
                    "AuthorizationEndpoint": format!("{}/token", server.url),
                    "HttpMethod": "POST",
                    "ClientParameters": {"ClientID": "client", "ClientSecret": "s3cret"},
                    "OAuthHttpParameters": {
                        "HeaderParameters": [{"Key": "X-Tenant", "Value": "t1", "IsValueSecret": false}],
                        "QueryStringParameters": [{"Key": "realm", "Value": "r 1"}],
                        "BodyParameters": [{"Key": "audience", "Value": "https://api", "IsValueSecret": true}]
                    }
                }
            }
        })
    }

    #[tokio::test]
    async fn oauth_token_is_requested_once_and_reused() {
        let server = Server::start().await;
        let tasks = tasks_with(oauth(&server));
        for _ in 0..2 {
            let result = invoke(&tasks, server.params("/protected", "GET"))
                .await
                .expect("the call succeeds");
            assert_eq!(
                echoed(&result)["headers"]["authorization"],
                "Bearer token-1"
            );
        }
        assert_eq!(server.seen.token_requests.load(Ordering::SeqCst), 1);
        let token_request = server.seen.last_token_request.lock().expect("lock").clone();
        let client = base64::engine::general_purpose::STANDARD.encode("client:s3cret");
        assert_eq!(token_request["method"], "POST");
        assert_eq!(token_request["query"], "realm=r%201");
        assert_eq!(
            token_request["body"],
            "grant_type=client_credentials&audience=https%3A%2F%2Fapi"
        );
        let headers = &token_request["headers"];
        assert_eq!(headers["authorization"], format!("Basic {client}"));
        assert_eq!(headers["content-type"], FORM_CONTENT_TYPE);
        assert_eq!(headers["x-tenant"], "t1");
    }

    #[tokio::test]
    async fn oauth_token_is_dropped_after_a_401() {
        let server = Server::start().await;
        let tasks = tasks_with(oauth(&server));
        invoke(&tasks, server.params("/protected", "GET"))
            .await
            .expect("the call succeeds");
        let err = invoke(&tasks, server.params("/unauthorized", "GET"))
            .await
            .expect_err("a 401 fails the task");
        assert_eq!(err.error, "States.Http.StatusCode.401");
        let result = invoke(&tasks, server.params("/protected", "GET"))
            .await
            .expect("the call succeeds");
        assert_eq!(
            echoed(&result)["headers"]["authorization"],
            "Bearer token-2"
        );
        assert_eq!(server.seen.token_requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failed_token_request_fails_with_invalid_connection_state() {
        let server = Server::start().await;
        let mut connection = oauth(&server);
        connection["AuthParameters"]["OAuthParameters"]["AuthorizationEndpoint"] =
            json!(format!("{}/missing", server.url));
        let tasks = tasks_with(connection);
        let err = invoke(&tasks, server.params("/protected", "GET"))
            .await
            .expect_err("no token, no call");
        assert_eq!(
            err,
            StatesError::new(
                CONNECTION_INVALID_STATE,
                format!(
                    "the OAuth token request of connection \"{ARN}\" failed: {}/missing answered 404 Not Found",
                    server.url
                )
            )
        );
    }

    #[tokio::test]
    async fn invocation_http_parameters_are_added_and_win_over_the_definition() {
        let server = Server::start().await;
        let mut connection = api_key();
        connection["AuthParameters"]["InvocationHttpParameters"] = json!({
            "HeaderParameters": [
                {"Key": "Header-Param", "Value": "connection"},
                {"Key": "Extra-Header", "Value": "e"}
            ],
            "QueryStringParameters": [
                {"Key": "QueryParam", "Value": "connection"},
                {"Key": "q2", "Value": "c 2"}
            ],
            "BodyParameters": [
                {"Key": "BodyParam", "Value": "connection"},
                {"Key": "b2", "Value": "c2", "IsValueSecret": true}
            ]
        });
        let tasks = tasks_with(connection);
        let mut params = server.params("/echo", "POST");
        params["Headers"] = json!({"Header-Param": "definition", "Request-Id": "r1"});
        params["QueryParameters"] = json!({"QueryParam": "definition", "keep": "k"});
        params["RequestBody"] = json!({"Job": "x", "BodyParam": "definition"});
        let result = invoke(&tasks, params).await.expect("the call succeeds");
        let seen = echoed(&result);
        assert_eq!(seen["headers"]["header-param"], "connection");
        assert_eq!(seen["headers"]["extra-header"], "e");
        assert_eq!(seen["headers"]["request-id"], "r1");
        assert_eq!(seen["query"], "keep=k&QueryParam=connection&q2=c%202");
        assert_eq!(
            seen["body"],
            r#"{"Job":"x","BodyParam":"connection","b2":"c2"}"#
        );

        // A task without body gets the connection's body parameters alone.
        let result = invoke(&tasks, server.params("/echo", "POST"))
            .await
            .expect("the call succeeds");
        assert_eq!(
            echoed(&result)["body"],
            r#"{"BodyParam":"connection","b2":"c2"}"#
        );

        // Spec: a string RequestBody cannot be merged with connection body parameters.
        let mut params = server.params("/echo", "POST");
        params["RequestBody"] = json!("raw text");
        let err = invoke(&tasks, params)
            .await
            .expect_err("nothing to merge into");
        assert_eq!(
            err,
            StatesError::runtime(
                "RequestBody is a string, which cannot be merged with the body parameters of \
                 the connection"
            )
        );
    }

    #[tokio::test]
    async fn string_request_body_is_sent_as_is() {
        let server = Server::start().await;
        let tasks = tasks_with(api_key());
        let mut params = server.params("/echo", "POST");
        params["RequestBody"] = json!("a=1&b=2");
        params["Headers"] = json!({"Content-Type": FORM_CONTENT_TYPE});
        params["Transform"] = json!({"RequestBodyEncoding": "URL_ENCODED"});
        let result = invoke(&tasks, params).await.expect("the call succeeds");
        assert_eq!(echoed(&result)["body"], "a=1&b=2");
    }

    #[tokio::test]
    async fn unknown_connection_arn_fails_naming_it() {
        let server = Server::start().await;
        let tasks = HttpTasks::new(Connections::default());
        let err = invoke(&tasks, server.params("/echo", "GET"))
            .await
            .expect_err("no such connection");
        assert_eq!(
            err,
            StatesError::new(
                CONNECTION_NOT_FOUND,
                format!(
                    "no connection \"{ARN}\": the HTTP Task's ConnectionArn must name a \
                     connection of the connections file"
                )
            )
        );
    }

    #[tokio::test]
    async fn malformed_parameters_fail_with_runtime_errors() {
        let tasks = tasks_with(api_key());
        let base = json!({
            "ApiEndpoint": "http://127.0.0.1:9/x",
            "Method": "GET",
            "Authentication": {"ConnectionArn": ARN},
        });
        let with = |field: &str, value: Value| {
            let mut p = base.clone();
            p[field] = value;
            p
        };
        let without = |field: &str| {
            let mut p = base.clone();
            p.as_object_mut().expect("an object").remove(field);
            p
        };
        let cases = [
            (
                without("Authentication"),
                "the HTTP Task parameters need Authentication.ConnectionArn (or \
                 InvocationConfig.ConnectionArn): Step Functions calls HTTPS APIs only through \
                 an EventBridge connection"
                    .to_string(),
            ),
            (
                without("ApiEndpoint"),
                "the HTTP Task parameters need ApiEndpoint".to_string(),
            ),
            (
                with("ApiEndpoint", json!("ftp://example.com/x")),
                "ApiEndpoint \"ftp://example.com/x\" is not an http(s) URL".to_string(),
            ),
            (
                with("Method", json!("FETCH")),
                "Method must be one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD, not \"FETCH\""
                    .to_string(),
            ),
            (
                with("Headers", json!({"Authorization": "Bearer mine"})),
                "the header \"Authorization\" cannot be set in an HTTP Task".to_string(),
            ),
            (
                with("Headers", json!({"X-Amz-Date": "today"})),
                "the header \"X-Amz-Date\" cannot be set in an HTTP Task".to_string(),
            ),
            (
                with("Headers", json!({"X-Obj": {"a": 1}})),
                "the value of header \"X-Obj\" must be a string, a number, a boolean or an \
                 array of them"
                    .to_string(),
            ),
            (
                with("Transform", json!({"RequestBodyEncoding": "GZIP"})),
                "Transform.RequestBodyEncoding must be NONE or URL_ENCODED, not \"GZIP\""
                    .to_string(),
            ),
            (
                with(
                    "Transform",
                    json!({"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": "SPACES"}}),
                ),
                "Transform.RequestEncodingOptions.ArrayFormat must be INDICES, REPEAT, COMMAS \
                 or BRACKETS, not \"SPACES\""
                    .to_string(),
            ),
            (
                with("Body", json!({})),
                format!(
                    "the HTTP Task parameters have an unknown field \"Body\"; the fields are {}",
                    FIELDS.join(", ")
                ),
            ),
        ];
        for (params, cause) in cases {
            let err = invoke(&tasks, params)
                .await
                .expect_err("malformed parameters");
            assert_eq!(err, StatesError::runtime(cause));
        }
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("stepfn-http-{}-{name}.json", std::process::id()));
        std::fs::write(&path, text).expect("write a temporary file");
        path
    }

    #[test]
    fn connections_file_errors_name_the_file_and_json_pointer() {
        let path = temp_file(
            "bad-type",
            &json!({ ARN: {"AuthorizationType": "TOKEN", "AuthParameters": {}} }).to_string(),
        );
        let err = Connections::from_file(&path).expect_err("an unknown type");
        assert_eq!(
            err.to_string(),
            format!(
                "connections file {}: invalid at \
                 /arn:aws:events:us-east-1:123456789012:connection~1Test~10001/AuthorizationType: \
                 unknown variant `TOKEN`, expected one of `API_KEY`, `BASIC`, \
                 `OAUTH_CLIENT_CREDENTIALS`",
                path.display()
            )
        );
        let _ = std::fs::remove_file(&path);

        let path = temp_file("not-json", "{\"arn\": ");
        let err = Connections::from_file(&path).expect_err("not JSON");
        assert_eq!(
            err.to_string(),
            format!(
                "connections file {} is not JSON: EOF while parsing a value at line 1 column 8",
                path.display()
            )
        );
        let _ = std::fs::remove_file(&path);

        let missing = std::env::temp_dir().join("stepfn-http-no-such-file.json");
        let err = Connections::from_file(&missing).expect_err("no file");
        assert_eq!(
            err.to_string(),
            format!("cannot read connections file {}", missing.display())
        );
    }

    #[test]
    fn connection_errors_name_their_json_pointer() {
        let at = "/arn:aws:events:us-east-1:123456789012:connection~1Test~10001";
        let cases = [
            (
                json!({"AuthorizationType": "API_KEY", "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "k"}}}),
                format!("{at}/AuthParameters/ApiKeyAuthParameters: missing field `ApiKeyValue`"),
            ),
            (
                json!({"AuthorizationType": "BASIC", "AuthParameters": {}}),
                format!("{at}/AuthParameters: AuthorizationType BASIC needs BasicAuthParameters"),
            ),
            (
                json!({"AuthorizationType": "BASIC", "AuthParameters": {
                    "BasicAuthParameters": {"Username": "u", "Password": "p"},
                    "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}}}),
                format!(
                    "{at}/AuthParameters/ApiKeyAuthParameters: ApiKeyAuthParameters does not go \
                     with AuthorizationType BASIC"
                ),
            ),
            (
                json!({"AuthorizationType": "API_KEY", "AuthParameters": {
                    "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"},
                    "InvocationHttpParameters": {"HeaderParameters": [
                        {"Key": "Good", "Value": "1"}, {"Key": "bad name", "Value": "2"}]}}}),
                format!(
                    "{at}/AuthParameters/InvocationHttpParameters/HeaderParameters/1/Key: \
                     \"bad name\" is not a valid header name"
                ),
            ),
            (
                json!({"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {
                    "OAuthParameters": {"AuthorizationEndpoint": "not a url", "HttpMethod": "POST",
                        "ClientParameters": {"ClientID": "c", "ClientSecret": "s"}}}}),
                format!(
                    "{at}/AuthParameters/OAuthParameters/AuthorizationEndpoint: \"not a url\" is \
                     not an http(s) URL"
                ),
            ),
        ];
        for (connection, expected) in cases {
            let err = Connections::from_value(&json!({ ARN: connection }))
                .expect_err("a malformed connection");
            assert_eq!(
                err.to_string(),
                format!("connections: invalid at {expected}")
            );
        }
        let err = Connections::from_value(&json!([])).expect_err("not an object");
        assert_eq!(
            err.to_string(),
            "connections: invalid at the top level: invalid type: sequence, expected a map"
        );
    }

    #[test]
    fn connections_debug_shows_no_secret() {
        let connections = connections_of(api_key());
        let shown = format!("{connections:?}");
        assert_eq!(shown, format!("Connections {{ arns: [{ARN:?}] }}"));
    }
}
