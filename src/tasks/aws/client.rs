//! One HTTP client for every AWS service: the endpoint (the service's regional endpoint, or
//! `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL`), credentials and region from the
//! standard chain (aws-config), SigV4 (aws-sigv4), retries of throttling and server errors,
//! and the protocol that writes the request and reads the answer.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use percent_encoding::utf8_percent_encode;
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};

use crate::asl::services::{Operation, Protocol, ServiceModel, ShapeType};
use crate::tasks::aws::wire::{self, WireError, WireRequest, WireResponse};
use crate::tasks::aws::{json, query, rest, xml};
use crate::tasks::sdk::error_chain;

/// How many times a call is tried when the service throttles or fails on its side.
const ATTEMPTS: u32 = 3;

/// A call that did not give a result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CallError {
    /// The parameters do not fit the operation's input (a JSON Pointer names where).
    Params(String),
    /// The service answered with an error.
    Service(ServiceError),
    /// No answer: the endpoint could not be reached, or the answer could not be read.
    Client(String),
}

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServiceError {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The code and message.
    pub(crate) error: WireError,
    /// The request id the service gave.
    pub(crate) request_id: Option<String>,
    /// S3's extended request id (`x-amz-id-2`).
    pub(crate) extended_id: Option<String>,
    /// The response's headers.
    pub(crate) headers: Vec<(String, String)>,
}

/// A successful call: the result and the response it came from (for `SdkHttpMetadata`).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The result, members in PascalCase.
    pub(crate) value: Value,
    /// The HTTP response.
    pub(crate) response: WireResponse,
    /// The request id.
    pub(crate) request_id: Option<String>,
}

/// Where requests go and who signs them.
pub(crate) struct AwsClient {
    http: reqwest::Client,
    region: String,
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
    /// An endpoint for every service, over the environment's.
    endpoint: Option<String>,
}

impl AwsClient {
    /// The client of the standard AWS settings: region and credentials from the environment,
    /// the shared config files, SSO, the instance metadata...
    pub(crate) async fn from_env() -> Self {
        Self::with_endpoint(None).await
    }

    /// As [`AwsClient::from_env`], every request sent to `endpoint` when one is given.
    pub(crate) async fn with_endpoint(endpoint: Option<String>) -> Self {
        let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let region = shared
            .region()
            .map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
        AwsClient {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            region,
            credentials: shared.credentials_provider(),
            cached: Mutex::new(None),
            endpoint,
        }
    }

    /// Calls `op` of `model` with `params` (PascalCase members), retrying throttling and
    /// server errors; `timeout` bounds each attempt.
    pub(crate) async fn call(
        &self,
        model: &ServiceModel,
        op: &Operation,
        params: &Value,
        timeout: Option<Duration>,
    ) -> Result<Answer, CallError> {
        let request = build(model, op, params).map_err(CallError::Params)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.send(model, op, &request, timeout).await;
            let retry = match &outcome {
                Err(CallError::Client(_)) => true,
                Err(CallError::Service(e)) => retryable(e),
                _ => false,
            };
            if !retry || attempt >= ATTEMPTS {
                return outcome;
            }
            let jitter = u64::from(rand::random::<u8>());
            tokio::time::sleep(Duration::from_millis(100 * (1 << attempt) + jitter)).await;
        }
    }

    async fn send(
        &self,
        model: &ServiceModel,
        op: &Operation,
        request: &WireRequest,
        timeout: Option<Duration>,
    ) -> Result<Answer, CallError> {
        let (base, overridden) = match &self.endpoint {
            Some(url) => (url.clone(), true),
            None => endpoint(model, &self.region),
        };
        let mut url = reqwest::Url::parse(&base)
            .map_err(|e| CallError::Client(format!("endpoint {base}: {e}")))?;
        if let (Some(prefix), false) = (&request.host_prefix, overridden) {
            let host = url.host_str().unwrap_or_default().to_string();
            url.set_host(Some(&format!("{prefix}{host}")))
                .map_err(|e| CallError::Client(format!("host prefix {prefix}: {e}")))?;
        }
        let base_path = url.path().trim_end_matches('/').to_string();
        let mut target = format!("{}{}", url.origin().ascii_serialization(), base_path);
        target.push_str(&request.path);
        if !request.query.is_empty() {
            let pairs: Vec<String> = request
                .query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        utf8_percent_encode(k, wire::UNRESERVED),
                        utf8_percent_encode(v, wire::UNRESERVED)
                    )
                })
                .collect();
            target.push('?');
            target.push_str(&pairs.join("&"));
        }
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let mut headers = request.headers.clone();
        headers.push(("host".into(), authority));
        if op.needs_checksum() {
            use md5::Digest as _;
            let digest = md5::Md5::digest(&request.body);
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-md5"))
            {
                headers.push(("Content-MD5".into(), wire::base64(&digest)));
            }
        }
        if op.authtype.as_deref() != Some("none") {
            self.sign(model, request, &target, &mut headers).await?;
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| CallError::Client(e.to_string()))?;
        let mut builder = self.http.request(method, &target);
        for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
            builder = builder.header(name, value);
        }
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        let sent = builder
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| CallError::Client(unreachable_cause(&e)))?;
        let status = sent.status().as_u16();
        let headers: Vec<(String, String)> = sent
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = sent
            .bytes()
            .await
            .map_err(|e| CallError::Client(unreachable_cause(&e)))?
            .to_vec();
        let response = WireResponse {
            status,
            headers,
            body,
        };
        let request_id = request_id(&response);
        if (200..300).contains(&status) {
            let value = parse(model, op, &response).map_err(CallError::Client)?;
            return Ok(Answer {
                value,
                response,
                request_id,
            });
        }
        Err(CallError::Service(ServiceError {
            status,
            error: error_of(model, &response),
            request_id,
            extended_id: response.header("x-amz-id-2").map(str::to_string),
            headers: response.headers.clone(),
        }))
    }

    async fn credentials(&self) -> Result<Option<Credentials>, CallError> {
        let Some(provider) = &self.credentials else {
            return Ok(None);
        };
        let mut cached = self.cached.lock().await;
        let fresh = cached.as_ref().is_some_and(|c| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + Duration::from_secs(300))
        });
        if !fresh {
            let c = provider
                .provide_credentials()
                .await
                .map_err(|e| CallError::Client(format!("no AWS credentials: {e}")))?;
            *cached = Some(c);
        }
        Ok(cached.clone())
    }

    async fn sign(
        &self,
        model: &ServiceModel,
        request: &WireRequest,
        target: &str,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(), CallError> {
        let Some(credentials) = self.credentials().await? else {
            return Err(CallError::Client(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile"
                    .into(),
            ));
        };
        let mut settings = SigningSettings::default();
        if model.name == "s3" {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let identity = credentials.into();
        let region = signing_region(model, &self.region);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name(model.signing_name())
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| CallError::Client(format!("signing: {e}")))?
            .into();
        let signable = SignableRequest::new(
            &request.method,
            target,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(&request.body),
        )
        .map_err(|e| CallError::Client(format!("signing: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| CallError::Client(format!("signing: {e}")))?
            .into_parts();
        let (signed, _) = instructions.into_parts();
        for header in signed {
            headers.push((header.name().to_string(), header.value().to_string()));
        }
        Ok(())
    }
}

/// The shared client, built on first use.
pub(crate) type SharedClient = Arc<OnceCell<AwsClient>>;

/// The base URL of a service and whether it was overridden by the environment.
pub(crate) fn endpoint(model: &ServiceModel, region: &str) -> (String, bool) {
    let key = model
        .metadata
        .service_id
        .to_ascii_uppercase()
        .replace([' ', '-'], "_");
    for var in [
        format!("AWS_ENDPOINT_URL_{key}"),
        "AWS_ENDPOINT_URL".to_string(),
    ] {
        if let Ok(url) = std::env::var(&var) {
            if !url.is_empty() {
                return (url, true);
            }
        }
    }
    let prefix = &model.metadata.endpoint_prefix;
    let global = matches!(
        prefix.as_str(),
        "iam" | "route53" | "cloudfront" | "organizations" | "globalaccelerator" | "shield"
    );
    let host = match &model.metadata.global_endpoint {
        Some(g) if global => g.clone(),
        _ if region.starts_with("cn-") => format!("{prefix}.{region}.amazonaws.com.cn"),
        _ => format!("{prefix}.{region}.amazonaws.com"),
    };
    (format!("https://{host}"), false)
}

/// Global services sign for us-east-1.
fn signing_region(model: &ServiceModel, region: &str) -> String {
    match model.metadata.endpoint_prefix.as_str() {
        "iam" | "route53" | "cloudfront" | "organizations" | "globalaccelerator" | "shield" => {
            "us-east-1".into()
        }
        _ => region.to_string(),
    }
}

/// Whether an error answer is worth another attempt.
fn retryable(e: &ServiceError) -> bool {
    e.status >= 500
        || e.status == 429
        || matches!(
            e.error.code.as_str(),
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "ProvisionedThroughputExceededException"
                | "RequestThrottled"
                | "SlowDown"
                | "RequestTimeout"
        )
}

/// The request as the operation's protocol writes it.
pub(crate) fn build(
    model: &ServiceModel,
    op: &Operation,
    params: &Value,
) -> Result<WireRequest, String> {
    let input = op.input.as_ref().and_then(|i| model.shape(&i.shape));
    match model.metadata.protocol {
        Protocol::Json => json::build(model, op, params),
        Protocol::Query | Protocol::Ec2 => query::build(model, op, params),
        Protocol::RestJson | Protocol::RestXml => {
            let xml_body = model.metadata.protocol == Protocol::RestXml;
            let bound = rest::bind(model, op, input, params)?;
            let mut request = bound.request;
            if let (Some((name, value)), Some(shape)) = (bound.payload, input) {
                let (_, member) = shape
                    .member(name)
                    .ok_or_else(|| format!("no payload {name}"))?;
                let target = wire::shape_of(model, member)?;
                let at = wire::child("", &wire::pascal(name));
                if target.kind == ShapeType::Structure && !target.document {
                    if xml_body {
                        request.body = xml::encode_payload(model, member, target, value, &at)?;
                    } else {
                        let v = json::encode(model, target, value, wire::TimeFormat::Epoch, &at)?;
                        request.body = v.to_string().into_bytes();
                    }
                } else if target.document {
                    request.body = value.to_string().into_bytes();
                } else {
                    request.body = rest::raw_payload(target, value);
                }
            } else if let Some(shape) = input {
                let body = Value::Object(bound.body);
                let has_body_members = shape.members().iter().any(|(_, m)| m.location.is_none());
                if xml_body {
                    if body.as_object().is_some_and(|b| !b.is_empty()) {
                        let root = op
                            .input
                            .as_ref()
                            .and_then(|i| i.location_name.clone())
                            .unwrap_or_else(|| {
                                op.input
                                    .as_ref()
                                    .map(|i| i.shape.clone())
                                    .unwrap_or_default()
                            });
                        let namespace = op.input.as_ref().and_then(|i| i.xml_namespace.as_ref());
                        request.body = xml::encode(model, &root, namespace, shape, &body, "")?;
                    }
                } else if has_body_members {
                    let v = json::encode(model, shape, &body, wire::TimeFormat::Epoch, "")?;
                    request.body = v.to_string().into_bytes();
                    request.set_header("Content-Type", "application/json");
                }
            }
            Ok(request)
        }
        Protocol::Cbor => Err(format!(
            "the {} service speaks only Smithy RPC v2 CBOR, which stepfn does not",
            model.name
        )),
    }
}

/// The result of a successful response.
pub(crate) fn parse(
    model: &ServiceModel,
    op: &Operation,
    response: &WireResponse,
) -> Result<Value, String> {
    match model.metadata.protocol {
        Protocol::Json => json::parse(model, op, response),
        Protocol::Query | Protocol::Ec2 => query::parse(model, op, response),
        Protocol::RestJson | Protocol::RestXml => {
            let Some(output) = op.output.as_ref().and_then(|o| model.shape(&o.shape)) else {
                return Ok(wire::empty());
            };
            let mut members = rest::unbind(model, output, response);
            let empty_body = response.body.iter().all(u8::is_ascii_whitespace);
            let xml_body = model.metadata.protocol == Protocol::RestXml;
            let decode = |shape, body: &[u8]| -> Result<Value, String> {
                if xml_body {
                    let root = xml::parse(body)?;
                    Ok(xml::decode(model, shape, &root))
                } else {
                    let v: Value = serde_json::from_slice(body)
                        .map_err(|e| format!("the response is not JSON: {e}"))?;
                    Ok(json::decode(model, shape, &v))
                }
            };
            if let Some(name) = &output.payload {
                if let Some((_, member)) = output.member(name) {
                    let target = wire::shape_of(model, member)?;
                    let value = match target.kind {
                        ShapeType::Structure if !target.document => {
                            if empty_body {
                                None
                            } else {
                                Some(decode(target, &response.body)?)
                            }
                        }
                        _ if target.document => serde_json::from_slice(&response.body).ok(),
                        _ => Some(rest::payload_text(&response.body)),
                    };
                    if let Some(v) = value {
                        members.insert(wire::pascal(name), v);
                    }
                }
            } else if !empty_body {
                if let Value::Object(body) = decode(output, &response.body)? {
                    for (k, v) in body {
                        members.entry(k).or_insert(v);
                    }
                }
            }
            Ok(Value::Object(members))
        }
        Protocol::Cbor => Err("Smithy RPC v2 CBOR is not supported".into()),
    }
}

/// The code and message of an error response.
fn error_of(model: &ServiceModel, response: &WireResponse) -> WireError {
    let found = match model.metadata.protocol {
        Protocol::Json | Protocol::RestJson | Protocol::Cbor => Some(json::error(response)),
        _ => xml::error(&response.body),
    };
    match found {
        Some(e) if !e.code.is_empty() => e,
        _ => WireError {
            code: status_code_name(response.status).to_string(),
            message: String::new(),
        },
    }
}

/// The code of an error answer with no body (a HEAD request's 404).
fn status_code_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        _ => "InternalError",
    }
}

/// The request id of a response: a header, or the body's `RequestId`.
fn request_id(response: &WireResponse) -> Option<String> {
    response
        .header("x-amzn-requestid")
        .or_else(|| response.header("x-amz-request-id"))
        .map(str::to_string)
        .or_else(|| xml::request_id(&response.body))
}

/// Why a request got no answer, as the SDK for Java says it.
fn unreachable_cause(e: &reqwest::Error) -> String {
    format!("Unable to execute HTTP request: {}", error_chain(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::services::service;

    #[test]
    fn endpoints_are_regional_unless_overridden() {
        let sqs = service("sqs").expect("sqs");
        let iam = service("iam").expect("iam");
        // The test process sets no AWS_ENDPOINT_URL for these services.
        if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
            assert_eq!(
                endpoint(&sqs, "eu-west-1"),
                ("https://sqs.eu-west-1.amazonaws.com".into(), false)
            );
            assert_eq!(
                endpoint(&iam, "eu-west-1"),
                ("https://iam.amazonaws.com".into(), false)
            );
        }
        assert_eq!(signing_region(&iam, "eu-west-1"), "us-east-1");
        assert_eq!(signing_region(&sqs, "eu-west-1"), "eu-west-1");
    }

    #[test]
    fn throttling_and_server_errors_are_retried() {
        let e = |status, code: &str| ServiceError {
            status,
            error: WireError {
                code: code.into(),
                message: String::new(),
            },
            request_id: None,
            extended_id: None,
            headers: vec![],
        };
        assert!(retryable(&e(500, "InternalError")));
        assert!(retryable(&e(400, "ThrottlingException")));
        assert!(!retryable(&e(404, "NoSuchBucket")));
        assert!(!retryable(&e(400, "ValidationException")));
    }
}
