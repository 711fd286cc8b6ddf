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

mod connections;
mod invoker;
mod request;
mod response;
#[cfg(test)]
mod tests;

use connections::*;
pub use connections::{Connections, ConnectionsError};
pub use invoker::HttpTasks;
use request::*;
use response::*;

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
