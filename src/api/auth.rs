//! `stepfn serve --auth`: every API request must carry an AWS Signature Version 4 made with one
//! of the configured credentials, as the real service demands.
//!
//! The check recomputes the signature the client should have sent, with `aws-sigv4` (the signer
//! the Rust SDK uses) over what the request carries: its method, path and query, the headers its
//! `SignedHeaders` names, the SHA-256 of its body, the region and service of its credential
//! scope and the time of its `X-Amz-Date`; the secret is the one configured for its access key.
//! The two signatures are compared in constant time. A request dated more than five minutes
//! away from the server's clock is refused, as AWS refuses it, and so is a credential scoped to
//! another service than the one addressed (`states`, `events`, `scheduler`); any region is
//! taken (it names the region of the ARNs, as without `--auth`). Session tokens are not
//! checked (a signed `X-Amz-Security-Token` is signed like any header), and only the
//! `Authorization` header form is read: presigned URLs and `Date` instead of `X-Amz-Date` are
//! refused.
//!
//! Refusals take the shape of the wire the request came in on:
//! - AWS JSON 1.0 (Step Functions): 400 with `{"__type": "com.amazon.coral.service#<Name>",
//!   "message"}`;
//! - AWS JSON 1.1 (EventBridge, `X-Amz-Target: AWSEvents.*`): 400 with the bare `__type`;
//! - REST-JSON (the Scheduler API's `/schedules`, `/schedule-groups`, `/tags` paths): 403 with
//!   `x-amzn-ErrorType: <Name>` and `{"Message"}`.
//!
//! The names and messages are AWS's: `MissingAuthenticationTokenException` ("Missing
//! Authentication Token") for a request without a signature, `UnrecognizedClientException`
//! ("The security token included in the request is invalid.") for an unknown access key,
//! `InvalidSignatureException` for a wrong signature or date, `IncompleteSignatureException`
//! for an `Authorization` header that lacks a part.
//!
//! What stays open: `GET` and `HEAD` of the console's pages and assets (`/`, `/machine`,
//! `/execution`, `/console/app.*`), the health answer of `GET /` and `/metrics`. They read
//! nothing of the store; the console's own reads and actions (its script's `POST /` and
//! `POST /console/history`) need a signature like any other call, so under `--auth` the console
//! shows the refusals instead of data.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use axum::body::{Body, Bytes};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use http_body_util::{BodyExt, Limited};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::http::{EVENTS_CONTENT_TYPE, EVENTS_TARGET_PREFIX, JSON_CONTENT_TYPE, MAX_BODY_BYTES};

/// How far a request's `X-Amz-Date` may be from the server's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// The algorithm of every `Authorization` header accepted.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The format of `X-Amz-Date` (ISO 8601 basic, UTC).
const AMZ_DATE: &str = "%Y%m%dT%H%M%SZ";

/// The access keys requests may be signed with, and their secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secrets stay out of logs.
        f.debug_struct("Credentials")
            .field("access_keys", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// No credentials yet.
    pub fn new() -> Credentials {
        Credentials::default()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Adds `access_key_id` with `secret`.
    ///
    /// # Errors
    ///
    /// An empty key or secret, or a key given twice with different secrets.
    pub fn add(&mut self, access_key_id: &str, secret: &str) -> Result<(), String> {
        let (key, secret) = (access_key_id.trim(), secret.trim());
        if key.is_empty() || secret.is_empty() {
            return Err("an access key id and its secret must not be empty".to_string());
        }
        if key.contains(['/', ' ', ',']) {
            return Err(format!(
                "access key id {key:?} has a '/', ',' or space, which a SigV4 credential cannot carry"
            ));
        }
        match self.secrets.get(key) {
            Some(known) if known != secret => Err(format!(
                "access key id {key} is given twice with different secrets"
            )),
            _ => {
                self.secrets.insert(key.to_string(), secret.to_string());
                Ok(())
            }
        }
    }

    /// Adds a `--auth-key` value: `ACCESS_KEY_ID:SECRET`.
    ///
    /// # Errors
    ///
    /// A value without `:`, or what [`Credentials::add`] refuses.
    pub fn add_pair(&mut self, pair: &str) -> Result<(), String> {
        let (key, secret) = pair
            .split_once(':')
            .ok_or_else(|| "--auth-key takes ACCESS_KEY_ID:SECRET".to_string())?;
        self.add(key, secret)
            .map_err(|e| format!("--auth-key {key}:...: {e}"))
    }

    /// Adds the credentials of an AWS shared credentials file (INI, as `~/.aws/credentials`):
    /// every profile's `aws_access_key_id` and `aws_secret_access_key`.
    ///
    /// # Errors
    ///
    /// An unreadable file, a line that is neither a `[profile]`, a `key = value` nor a
    /// comment, a profile with only one of the two keys, or a file without credentials; each
    /// names the file and the line.
    pub fn add_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read credentials file {}: {e}", path.display()))?;
        self.add_ini(&text)
            .map_err(|e| format!("credentials file {}: {e}", path.display()))
    }

    /// Adds the credentials of the text of a shared credentials file (see
    /// [`Credentials::add_file`]).
    fn add_ini(&mut self, text: &str) -> Result<(), String> {
        struct Profile {
            name: String,
            line: usize,
            key: Option<String>,
            secret: Option<String>,
        }
        let mut profiles: Vec<Profile> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let name = name.strip_suffix(']').ok_or_else(|| {
                    format!("line {number}: a profile header is [name], found {line:?}")
                })?;
                profiles.push(Profile {
                    name: name.trim().to_string(),
                    line: number,
                    key: None,
                    secret: None,
                });
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(format!(
                    "line {number}: expected [profile], name = value or a comment, found {line:?}"
                ));
            };
            let Some(profile) = profiles.last_mut() else {
                return Err(format!(
                    "line {number}: {} is outside any [profile]",
                    name.trim()
                ));
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "aws_access_key_id" => profile.key = Some(value.trim().to_string()),
                "aws_secret_access_key" => profile.secret = Some(value.trim().to_string()),
                _ => {} // aws_session_token, region, ...: not used to verify
            }
        }
        let mut found = false;
        for profile in profiles {
            let at = format!("profile [{}] (line {})", profile.name, profile.line);
            match (profile.key, profile.secret) {
                (Some(key), Some(secret)) => {
                    self.add(&key, &secret).map_err(|e| format!("{at}: {e}"))?;
                    found = true;
                }
                (None, None) => {}
                _ => {
                    return Err(format!(
                        "{at}: has only one of aws_access_key_id and aws_secret_access_key"
                    ))
                }
            }
        }
        if found {
            Ok(())
        } else {
            Err("no profile with aws_access_key_id and aws_secret_access_key".to_string())
        }
    }

    /// Why a request with these parts is refused, if it is; `now` is the server's clock.
    pub(crate) fn refusal(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Option<Refusal> {
        self.verify(method, uri, headers, body, now).err()
    }

    fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Refusal> {
        let Some(authorization) = headers.get(AUTHORIZATION) else {
            return Err(Refusal::Missing);
        };
        let authorization = authorization
            .to_str()
            .map_err(|_| Refusal::incomplete("the Authorization header is not text"))?;
        let header = Authorization::parse(authorization)?;
        let secret = self
            .secrets
            .get(header.access_key)
            .ok_or(Refusal::UnknownKey)?;
        let date = headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Refusal::incomplete(
                    "Authorization header requires existence of a 'X-Amz-Date' header.",
                )
            })?;
        let time = chrono::NaiveDateTime::parse_from_str(date, AMZ_DATE)
            .map_err(|_| {
                Refusal::incomplete(format!(
                    "X-Amz-Date {date:?} is not an ISO 8601 basic date (YYYYMMDD'T'HHMMSS'Z')"
                ))
            })?
            .and_utc();
        if !date.starts_with(header.date) {
            return Err(Refusal::Invalid(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{}' != '{}', from '{date}'.",
                header.date,
                &date[..8]
            )));
        }
        check_skew(time.into(), now)?;
        if let Some(service) = service_of(uri, headers) {
            if header.service != service {
                return Err(Refusal::Invalid(format!(
                    "Credential should be scoped to correct service: '{service}'."
                )));
            }
        }
        if !header.signed_headers.contains(&"host") {
            return Err(Refusal::Invalid(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
                    .to_string(),
            ));
        }
        let expected = expected_signature(&header, secret, method, uri, headers, body, time.into())
            .ok_or(Refusal::Mismatch)?;
        let given = header.signature.as_bytes();
        if bool::from(expected.as_bytes().ct_eq(given)) {
            Ok(())
        } else {
            Err(Refusal::Mismatch)
        }
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
/// Signature=...` header.
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(text: &'a str) -> Result<Authorization<'a>, Refusal> {
        let text = text.trim();
        let (algorithm, rest) = text.split_once(' ').unwrap_or((text, ""));
        if algorithm != ALGORITHM {
            return Err(Refusal::incomplete(format!(
                "Unsupported AWS 'algorithm': '{algorithm}'; stepfn verifies {ALGORITHM}"
            )));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let Some((name, value)) = part.trim().split_once('=') else {
                continue;
            };
            match name.trim() {
                "Credential" => credential = Some(value.trim()),
                "SignedHeaders" => signed = Some(value.trim()),
                "Signature" => signature = Some(value.trim()),
                _ => {}
            }
        }
        let mut missing = String::new();
        for (name, value) in [
            ("Credential", credential),
            ("Signature", signature),
            ("SignedHeaders", signed),
        ] {
            if value.is_none_or(str::is_empty) {
                missing.push_str(&format!(
                    "Authorization header requires '{name}' parameter. "
                ));
            }
        }
        if !missing.is_empty() {
            return Err(Refusal::incomplete(missing.trim_end()));
        }
        let credential = credential.unwrap_or_default();
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key, date, region, service, "aws4_request"] = scope[..] else {
            return Err(Refusal::incomplete(format!(
                "Credential {credential:?} is not ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request"
            )));
        };
        if access_key.is_empty() || date.len() != 8 || region.is_empty() || service.is_empty() {
            return Err(Refusal::incomplete(format!(
                "Credential {credential:?} is not ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request"
            )));
        }
        Ok(Authorization {
            access_key,
            date,
            region,
            service,
            signed_headers: signed.unwrap_or_default().split(';').collect(),
            signature: signature.unwrap_or_default(),
        })
    }
}

/// Refuses `time` more than [`MAX_SKEW`] away from `now`, with AWS's messages.
fn check_skew(time: SystemTime, now: SystemTime) -> Result<(), Refusal> {
    let format = |t: SystemTime| chrono::DateTime::<chrono::Utc>::from(t).format(AMZ_DATE);
    if time + MAX_SKEW < now {
        return Err(Refusal::Invalid(format!(
            "Signature expired: {} is now earlier than {} ({} - 5 min.)",
            format(time),
            format(now - MAX_SKEW),
            format(now)
        )));
    }
    if time > now + MAX_SKEW {
        return Err(Refusal::Invalid(format!(
            "Signature not yet current: {} is still later than {} ({} + 5 min.)",
            format(time),
            format(now + MAX_SKEW),
            format(now)
        )));
    }
    Ok(())
}

/// The signature the client should have sent, as `aws-sigv4` makes it over the headers the
/// client signed; None if the request cannot be signed (a header that is not text).
fn expected_signature(
    header: &Authorization<'_>,
    secret: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    time: SystemTime,
) -> Option<String> {
    let mut signed = Vec::new();
    for name in &header.signed_headers {
        // The signer adds `X-Amz-Date` itself, from `time`.
        if name.eq_ignore_ascii_case("x-amz-date") {
            continue;
        }
        for value in headers.get_all(*name) {
            signed.push((*name, value.to_str().ok()?));
        }
    }
    let mut settings = SigningSettings::default();
    // Exactly what the client listed is signed, `User-Agent` too if it signed it.
    settings.excluded_headers = None;
    let identity = aws_credential_types::Credentials::new(
        header.access_key,
        secret,
        None,
        None,
        "stepfn serve --auth",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(header.region)
        .name(header.service)
        .time(time)
        .settings(settings)
        .build()
        .ok()?
        .into();
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let signable = SignableRequest::new(
        method.as_str(),
        target,
        signed.into_iter(),
        SignableBody::Bytes(body),
    )
    .ok()?;
    let (_, signature) = sign(signable, &params).ok()?.into_parts();
    Some(signature)
}

/// Why a request is refused: each is one of AWS's exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// An access key that is not configured.
    UnknownKey,
    /// A signature that differs from the one the configured secret makes.
    Mismatch,
    /// A date or scope that cannot be right (expired, not yet current, another day).
    Invalid(String),
    /// An `Authorization` header lacking a part.
    Incomplete(String),
    /// A body too long (or broken) to be read and verified.
    Body(String),
}

impl Refusal {
    fn incomplete(message: impl Into<String>) -> Refusal {
        Refusal::Incomplete(message.into())
    }

    /// The exception's name.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Refusal::Missing => "MissingAuthenticationTokenException",
            Refusal::UnknownKey => "UnrecognizedClientException",
            Refusal::Mismatch | Refusal::Invalid(_) => "InvalidSignatureException",
            Refusal::Incomplete(_) => "IncompleteSignatureException",
            Refusal::Body(_) => "ValidationException",
        }
    }

    /// The message, as AWS words it.
    pub(crate) fn message(&self) -> String {
        match self {
            Refusal::Missing => "Missing Authentication Token".to_string(),
            Refusal::UnknownKey => {
                "The security token included in the request is invalid.".to_string()
            }
            Refusal::Mismatch => "The request signature we calculated does not match the \
                                  signature you provided. Check your AWS Secret Access Key and \
                                  signing method. Consult the service documentation for details."
                .to_string(),
            Refusal::Invalid(message) | Refusal::Incomplete(message) | Refusal::Body(message) => {
                message.clone()
            }
        }
    }
}

/// Whether a request needs a signature: all but reading the console's pages, the health
/// answer and the metrics.
pub(crate) fn required(method: &Method, uri: &Uri) -> bool {
    let open = matches!(
        uri.path(),
        "/" | "/machine" | "/execution" | "/console/app.js" | "/console/app.css" | "/metrics"
    );
    !(open && (*method == Method::GET || *method == Method::HEAD))
}

/// The wire a request came in on, which decides the shape of its refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// Step Functions: AWS JSON 1.0.
    Json10,
    /// EventBridge: AWS JSON 1.1.
    Json11,
    /// The Scheduler API: REST-JSON.
    Rest,
}

fn wire_of(uri: &Uri, headers: &HeaderMap) -> Wire {
    let path = uri.path();
    if path.starts_with("/schedules")
        || path.starts_with("/schedule-groups")
        || path.starts_with("/tags/")
    {
        return Wire::Rest;
    }
    let events = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with(EVENTS_TARGET_PREFIX));
    if events {
        Wire::Json11
    } else {
        Wire::Json10
    }
}

/// The namespace of a refusal's `__type` on the AWS JSON 1.0 wire.
fn namespace(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::Body(_) => "com.amazon.coral.validate",
        _ => "com.amazon.coral.service",
    }
}

/// The signing name of the service a request is for, as its credential scope must name it;
/// None for stepfn's own endpoints (the console's), which take any.
fn service_of(uri: &Uri, headers: &HeaderMap) -> Option<&'static str> {
    match wire_of(uri, headers) {
        Wire::Rest => Some("scheduler"),
        Wire::Json11 => Some("events"),
        Wire::Json10 if uri.path() == "/" => Some("states"),
        Wire::Json10 => None,
    }
}

/// The answer to a refused request, in the shape of its wire.
pub(crate) fn refuse(refusal: &Refusal, uri: &Uri, headers: &HeaderMap) -> Response {
    let name = refusal.name();
    let message = refusal.message();
    let (status, body, content_type) = match wire_of(uri, headers) {
        Wire::Json10 => (
            StatusCode::BAD_REQUEST,
            json!({"__type": format!("{}#{name}", namespace(refusal)), "message": message}),
            JSON_CONTENT_TYPE,
        ),
        Wire::Json11 => (
            StatusCode::BAD_REQUEST,
            json!({"__type": name, "message": message}),
            EVENTS_CONTENT_TYPE,
        ),
        Wire::Rest => (
            StatusCode::FORBIDDEN,
            json!({"Message": message}),
            "application/json",
        ),
    };
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .expect("a UUID is a valid header value"),
    );
    if let Wire::Rest = wire_of(uri, headers) {
        out.insert("x-amzn-errortype", HeaderValue::from_static(name));
    }
    response
}

/// Reads a body of at most [`MAX_BODY_BYTES`] to verify its hash; Err is the answer for a
/// longer or broken one.
pub(crate) async fn read_body(
    body: Body,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Bytes, Response> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            let message = if e.is::<http_body_util::LengthLimitError>() {
                format!("request body is over the limit of {MAX_BODY_BYTES} bytes")
            } else {
                format!("cannot read the request body: {e}")
            };
            Err(refuse(&Refusal::Body(message), uri, headers))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use axum::http::HeaderName;

    use super::*;

    const KEY: &str = "AKIDSTEPFN";
    const SECRET: &str = "s3cr3t/with+chars";

    /// 2026-01-02T03:04:05Z.
    fn when() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_767_323_045)
    }

    fn credentials() -> Credentials {
        let mut c = Credentials::new();
        c.add(KEY, SECRET).expect("add");
        c
    }

    /// A request as a client sends it, signed by `aws-sigv4` with `key`/`secret` at `time`:
    /// (method, uri, headers, body).
    fn signed(
        key: &str,
        secret: &str,
        time: SystemTime,
        method: &str,
        path: &str,
        body: &str,
    ) -> (Method, Uri, HeaderMap, Vec<u8>) {
        let mut headers = vec![
            ("host".to_string(), "127.0.0.1:8083".to_string()),
            (
                "content-type".to_string(),
                "application/x-amz-json-1.0".to_string(),
            ),
            (
                "x-amz-target".to_string(),
                "AWSStepFunctions.ListStateMachines".to_string(),
            ),
            ("user-agent".to_string(), "test/1.0".to_string()),
        ];
        let identity =
            aws_credential_types::Credentials::new(key, secret, None, None, "test").into();
        let service = if path.starts_with("/schedule") {
            "scheduler"
        } else {
            "states"
        };
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let signable = SignableRequest::new(
            method,
            path,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        let (added, _) = instructions.into_parts();
        for header in added {
            headers.push((header.name().to_string(), header.value().to_string()));
        }
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(&value).expect("value"),
            );
        }
        (
            method.parse().expect("method"),
            path.parse().expect("uri"),
            map,
            body.as_bytes().to_vec(),
        )
    }

    fn check(request: &(Method, Uri, HeaderMap, Vec<u8>), now: SystemTime) -> Option<Refusal> {
        let (method, uri, headers, body) = request;
        credentials().refusal(method, uri, headers, body, now)
    }

    fn list() -> (Method, Uri, HeaderMap, Vec<u8>) {
        signed(KEY, SECRET, when(), "POST", "/", r#"{"maxResults": 5}"#)
    }

    #[test]
    fn a_request_signed_by_aws_sigv4_verifies() {
        assert_eq!(check(&list(), when()), None);
        let rest = signed(
            KEY,
            SECRET,
            when(),
            "GET",
            "/schedules?NamePrefix=a%2Bb&MaxResults=5",
            "",
        );
        assert_eq!(check(&rest, when()), None);
        let odd = signed(KEY, SECRET, when(), "DELETE", "/schedules/a%20b%3Ac", "");
        assert_eq!(check(&odd, when()), None);
    }

    #[test]
    fn a_changed_body_header_path_or_method_fails() {
        let mut body = list();
        body.3 = br#"{"maxResults": 6}"#.to_vec();
        assert_eq!(check(&body, when()), Some(Refusal::Mismatch));

        let mut header = list();
        header.2.insert(
            "x-amz-target",
            HeaderValue::from_static("AWSStepFunctions.DeleteStateMachine"),
        );
        assert_eq!(check(&header, when()), Some(Refusal::Mismatch));

        let mut path = list();
        path.1 = "/other".parse().expect("uri");
        assert_eq!(check(&path, when()), Some(Refusal::Mismatch));

        let mut query = signed(KEY, SECRET, when(), "GET", "/schedules?MaxResults=5", "");
        query.1 = "/schedules?MaxResults=6".parse().expect("uri");
        assert_eq!(check(&query, when()), Some(Refusal::Mismatch));

        let mut method = list();
        method.0 = Method::PUT;
        assert_eq!(check(&method, when()), Some(Refusal::Mismatch));

        // An unsigned header (User-Agent) may change.
        let mut agent = list();
        agent
            .2
            .insert("user-agent", HeaderValue::from_static("another/2.0"));
        assert_eq!(check(&agent, when()), None);
    }

    #[test]
    fn a_changed_date_fails() {
        let mut date = list();
        date.2
            .insert("x-amz-date", HeaderValue::from_static("20260102T030406Z"));
        assert_eq!(check(&date, when()), Some(Refusal::Mismatch));
        let mut day = list();
        day.2
            .insert("x-amz-date", HeaderValue::from_static("20260103T030405Z"));
        let refusal = check(&day, when()).expect("refused");
        assert_eq!(refusal.name(), "InvalidSignatureException");
        assert_eq!(
            refusal.message(),
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '20260102' != '20260103', from '20260103T030405Z'."
        );
    }

    #[test]
    fn a_credential_scoped_to_another_service_fails() {
        let (method, uri, mut headers, body) = list();
        let authorization = headers[AUTHORIZATION]
            .to_str()
            .expect("text")
            .replace("/states/", "/events/");
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&authorization).expect("value"),
        );
        let refusal = check(&(method, uri, headers, body), when()).expect("refused");
        assert_eq!(refusal.name(), "InvalidSignatureException");
        assert_eq!(
            refusal.message(),
            "Credential should be scoped to correct service: 'states'."
        );
    }

    #[test]
    fn a_wrong_secret_fails_and_an_unknown_key_is_unrecognized() {
        let wrong = signed(KEY, "not-the-secret", when(), "POST", "/", "{}");
        let refusal = check(&wrong, when()).expect("refused");
        assert_eq!(refusal, Refusal::Mismatch);
        assert_eq!(refusal.name(), "InvalidSignatureException");
        assert!(
            refusal
                .message()
                .starts_with("The request signature we calculated does not match"),
            "{}",
            refusal.message()
        );
        let unknown = signed("AKIDOTHER", SECRET, when(), "POST", "/", "{}");
        let refusal = check(&unknown, when()).expect("refused");
        assert_eq!(refusal.name(), "UnrecognizedClientException");
        assert_eq!(
            refusal.message(),
            "The security token included in the request is invalid."
        );
    }

    #[test]
    fn a_date_over_five_minutes_off_fails() {
        let late = when() + MAX_SKEW + Duration::from_secs(1);
        let refusal = check(&list(), late).expect("refused");
        assert_eq!(
            refusal.message(),
            "Signature expired: 20260102T030405Z is now earlier than 20260102T030406Z \
             (20260102T030906Z - 5 min.)"
        );
        let early = when() - MAX_SKEW - Duration::from_secs(1);
        let refusal = check(&list(), early).expect("refused");
        assert_eq!(refusal.name(), "InvalidSignatureException");
        assert!(
            refusal
                .message()
                .starts_with("Signature not yet current: 20260102T030405Z is still later than"),
            "{}",
            refusal.message()
        );
        // Within the window both ways.
        assert_eq!(check(&list(), when() + MAX_SKEW), None);
        assert_eq!(check(&list(), when() - MAX_SKEW), None);
    }

    #[test]
    fn missing_or_incomplete_authorization_is_refused() {
        let mut none = list();
        none.2.remove(AUTHORIZATION);
        assert_eq!(check(&none, when()), Some(Refusal::Missing));
        let mut partial = list();
        partial.2.insert(
            AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDSTEPFN/20260102/us-east-1/states/aws4_request",
            ),
        );
        let refusal = check(&partial, when()).expect("refused");
        assert_eq!(refusal.name(), "IncompleteSignatureException");
        assert_eq!(
            refusal.message(),
            "Authorization header requires 'Signature' parameter. Authorization header \
             requires 'SignedHeaders' parameter."
        );
        let mut basic = list();
        basic.2.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwdw=="),
        );
        assert_eq!(
            check(&basic, when()).expect("refused").name(),
            "IncompleteSignatureException"
        );
        let mut no_date = list();
        no_date.2.remove("x-amz-date");
        assert_eq!(
            check(&no_date, when()).expect("refused").name(),
            "IncompleteSignatureException"
        );
    }

    #[test]
    fn credentials_files_are_read_as_aws_ini_profiles() {
        let mut c = Credentials::new();
        c.add_ini(
            "# shared\n[default]\naws_access_key_id = AKID1\naws_secret_access_key=one\n\
             region = us-east-1\n\n[ci]\n; second\naws_access_key_id=AKID2\n\
             aws_secret_access_key = two\n[empty]\n",
        )
        .expect("read");
        assert_eq!(c.secrets.get("AKID1").map(String::as_str), Some("one"));
        assert_eq!(c.secrets.get("AKID2").map(String::as_str), Some("two"));
        assert!(!format!("{c:?}").contains("one"), "{c:?}");

        let half = Credentials::new()
            .add_ini("[a]\naws_access_key_id = K\n")
            .expect_err("refused");
        assert_eq!(
            half,
            "profile [a] (line 1): has only one of aws_access_key_id and aws_secret_access_key"
        );
        let outside = Credentials::new()
            .add_ini("aws_access_key_id = K\n")
            .expect_err("refused");
        assert_eq!(
            outside,
            "line 1: aws_access_key_id is outside any [profile]"
        );
        let junk = Credentials::new()
            .add_ini("[a]\nnot a pair\n")
            .expect_err("refused");
        assert!(junk.starts_with("line 2: expected"), "{junk}");
        let nothing = Credentials::new().add_ini("[a]\n").expect_err("refused");
        assert_eq!(
            nothing,
            "no profile with aws_access_key_id and aws_secret_access_key"
        );
    }

    #[test]
    fn auth_key_pairs_are_split_at_the_first_colon() {
        let mut c = Credentials::new();
        c.add_pair("AKID:se:cret").expect("pair");
        assert_eq!(c.secrets.get("AKID").map(String::as_str), Some("se:cret"));
        assert!(c.add_pair("AKID").is_err());
        assert!(c.add_pair("AKID:other").is_err());
        assert!(c.add_pair(":x").is_err());
    }

    #[test]
    fn console_pages_and_metrics_stay_open_and_the_rest_needs_a_signature() {
        let uri = |s: &str| s.parse::<Uri>().expect("uri");
        for path in [
            "/",
            "/machine?arn=x",
            "/execution",
            "/console/app.js",
            "/metrics",
        ] {
            assert!(!required(&Method::GET, &uri(path)), "{path}");
        }
        assert!(required(&Method::POST, &uri("/")));
        assert!(required(&Method::POST, &uri("/console/history")));
        assert!(required(&Method::GET, &uri("/schedules")));
        assert!(required(&Method::DELETE, &uri("/machine")));
    }

    #[test]
    fn refusals_take_the_shape_of_their_wire() {
        let mut headers = HeaderMap::new();
        let json = refuse(&Refusal::Missing, &"/".parse().expect("uri"), &headers);
        assert_eq!(json.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json.headers()[CONTENT_TYPE], JSON_CONTENT_TYPE);
        let rest = refuse(
            &Refusal::UnknownKey,
            &"/schedules".parse().expect("uri"),
            &headers,
        );
        assert_eq!(rest.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            rest.headers()["x-amzn-errortype"],
            "UnrecognizedClientException"
        );
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("AWSEvents.ListRules"),
        );
        let events = refuse(&Refusal::Mismatch, &"/".parse().expect("uri"), &headers);
        assert_eq!(events.headers()[CONTENT_TYPE], EVENTS_CONTENT_TYPE);
    }
}
