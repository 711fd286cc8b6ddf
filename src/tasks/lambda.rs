//! The Lambda integration: a function ARN as `Resource` (the payload is the task input, the
//! result the function's answer) and `arn:aws:states:::lambda:invoke` (`FunctionName`,
//! `Payload`, `InvocationType`, `Qualifier`, `ClientContext`, `LogType`; the result is the whole
//! Invoke answer: `ExecutedVersion`, `Payload`, `StatusCode`, `SdkHttpMetadata`,
//! `SdkResponseMetadata`, and `LogResult` when asked), through aws-sdk-lambda with the standard
//! endpoint settings (`AWS_ENDPOINT_URL_LAMBDA`).
//!
//! A function error fails the task with the function's `errorType` as the error (`Lambda.Unknown`
//! when it has none) and its error document, as sent, as the cause. A refused call fails with
//! `Lambda.<Exception>` (`Lambda.ResourceNotFoundException`, `Lambda.TooManyRequestsException`,
//! ...) and the SDK for Java's message; no answer at all with `Lambda.SdkClientException`.
//!
//! Every invocation carries the attempt's idempotency key in its client context
//! (`custom."stepfn-idempotency-key"`), merged into a `ClientContext` the task gives.

use aws_config::BehaviorVersion;
use aws_sdk_lambda::config::Region;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use aws_sdk_lambda::Client;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::asl::error::StatesError;
use crate::asl::resource::{Pattern, Resource};
use crate::engine::task::TaskRequest;
use crate::tasks::sdk::HttpCapture;
use crate::tasks::TaskFuture;

/// The optimised integration's resource.
pub const INVOKE: &str = "arn:aws:states:::lambda:invoke";
/// The client-context key that carries the idempotency key.
pub const IDEMPOTENCY_KEY: &str = "stepfn-idempotency-key";

/// Lambda tasks.
#[derive(Debug, Clone)]
pub struct LambdaTasks {
    client: Client,
}

impl LambdaTasks {
    /// A client from the standard AWS settings; with an endpoint override and no region, the
    /// region is `us-east-1`.
    pub async fn from_env() -> Self {
        let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let mut config = aws_sdk_lambda::config::Builder::from(&shared);
        let overridden = ["AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if shared.region().is_none() && overridden {
            config = config.region(Region::new("us-east-1"));
        }
        LambdaTasks {
            client: Client::from_conf(config.build()),
        }
    }

    /// True for the resources this runs: a function ARN, or `lambda:invoke`.
    pub fn handles(resource: &Resource) -> bool {
        resource.is_lambda_function()
            || resource.integration() == Some(("lambda", "invoke", Pattern::RequestResponse))
    }

    /// Runs the task of `request`.
    pub fn invoke(&self, request: &TaskRequest) -> TaskFuture {
        let client = self.client.clone();
        let resource = request.resource.clone();
        let params = request.input.clone();
        let key = request.idempotency_key();
        Box::pin(async move {
            if resource.is("lambda", "invoke") {
                invoke_api(&client, &params, &key).await
            } else {
                let call = Invoke {
                    function: resource.to_string(),
                    payload: Some(params.to_string().into_bytes()),
                    invocation_type: None,
                    qualifier: None,
                    client_context: client_context(None, &key)?,
                    log_type: None,
                };
                let answer = call.send(&client).await?;
                Ok(answer.payload)
            }
        })
    }
}

/// One Invoke call.
struct Invoke {
    function: String,
    payload: Option<Vec<u8>>,
    invocation_type: Option<InvocationType>,
    qualifier: Option<String>,
    client_context: String,
    log_type: Option<LogType>,
}

/// What an Invoke answered.
struct Answer {
    payload: Value,
    result: Map<String, Value>,
}

fn runtime(message: impl Into<String>) -> StatesError {
    StatesError::runtime(message.into())
}

async fn invoke_api(client: &Client, params: &Value, key: &str) -> Result<Value, StatesError> {
    let Some(p) = params.as_object() else {
        return Err(runtime(
            "The Parameters of a lambda:invoke task must be an object",
        ));
    };
    for name in p.keys() {
        if !matches!(
            name.as_str(),
            "FunctionName"
                | "Payload"
                | "InvocationType"
                | "Qualifier"
                | "ClientContext"
                | "LogType"
        ) {
            return Err(runtime(format!(
                "The field \"{name}\" is not supported by Step Functions"
            )));
        }
    }
    let text = |name: &str| -> Result<Option<String>, StatesError> {
        match p.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(runtime(format!(
                "The value for the field '{name}' must be a STRING"
            ))),
        }
    };
    let function = text("FunctionName")?
        .ok_or_else(|| runtime("The field 'FunctionName' is required but was missing"))?;
    // A string payload is sent as it is (it is JSON text already); anything else as JSON.
    let payload = match p.get("Payload") {
        None => None,
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        Some(v) => Some(v.to_string().into_bytes()),
    };
    let invocation_type = match text("InvocationType")?.as_deref() {
        None | Some("RequestResponse") => None,
        Some("Event") => Some(InvocationType::Event),
        Some("DryRun") => Some(InvocationType::DryRun),
        Some(other) => {
            return Err(runtime(format!(
                "The value '{other}' for the field 'InvocationType' is not one of RequestResponse, Event, DryRun"
            )))
        }
    };
    let log_type = match text("LogType")?.as_deref() {
        None | Some("None") => None,
        Some("Tail") => Some(LogType::Tail),
        Some(other) => {
            return Err(runtime(format!(
                "The value '{other}' for the field 'LogType' is not one of None, Tail"
            )))
        }
    };
    let call = Invoke {
        function,
        payload,
        invocation_type,
        qualifier: text("Qualifier")?,
        client_context: client_context(text("ClientContext")?.as_deref(), key)?,
        log_type,
    };
    let answer = call.send(client).await?;
    Ok(Value::Object(answer.result))
}

/// The client context to send: the task's own (base64 JSON) with the idempotency key added
/// under `custom`.
fn client_context(given: Option<&str>, key: &str) -> Result<String, StatesError> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut context = match given {
        None => json!({}),
        Some(text) => engine
            .decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .filter(Value::is_object)
            .ok_or_else(|| runtime("The value for the field 'ClientContext' must be base64-encoded JSON object text"))?,
    };
    if let Some(o) = context.as_object_mut() {
        let custom = o.entry("custom").or_insert_with(|| json!({}));
        if let Some(c) = custom.as_object_mut() {
            c.insert(IDEMPOTENCY_KEY.into(), Value::String(key.to_string()));
        }
    }
    Ok(engine.encode(context.to_string()))
}

/// A payload as Step Functions shows it: JSON when it parses, a string otherwise.
fn payload_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The failure of a function that answered an error document (`errorType`, `errorMessage`).
fn function_error(bytes: &[u8]) -> StatesError {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let error = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "Lambda.Unknown".to_string());
    StatesError::new(error, text)
}

impl Invoke {
    async fn send(self, client: &Client) -> Result<Answer, StatesError> {
        let capture = HttpCapture::default();
        let out = client
            .invoke()
            .function_name(&self.function)
            .set_payload(self.payload.map(Blob::new))
            .set_invocation_type(self.invocation_type)
            .set_qualifier(self.qualifier)
            .client_context(self.client_context)
            .set_log_type(self.log_type)
            .customize()
            .interceptor(capture.clone())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(SdkError::ServiceError(service)) => {
                // An emulator (cargo lambda watch) answers a function error with a 500 and the
                // error document, where Lambda answers 200 with X-Amz-Function-Error.
                let raw = service.raw();
                let body = raw.body().bytes().unwrap_or_default();
                let document = serde_json::from_slice::<Value>(body).ok();
                if document.as_ref().is_some_and(|d| {
                    d.get("errorType").is_some() || d.get("errorMessage").is_some()
                }) {
                    return Err(function_error(body));
                }
                let status = raw.status().as_u16();
                let request_id = raw
                    .headers()
                    .get("x-amzn-requestid")
                    .unwrap_or("null")
                    .to_string();
                let err = service.into_err();
                let code = err.code().unwrap_or("ServiceException").to_string();
                let message = err.message().unwrap_or("null").to_string();
                return Err(StatesError::new(
                    format!("Lambda.{code}"),
                    format!(
                        "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: {request_id}; Proxy: null)"
                    ),
                ));
            }
            Err(e) => {
                return Err(StatesError::new(
                    "Lambda.SdkClientException",
                    format!(
                        "Unable to execute HTTP request: {}",
                        crate::tasks::sdk::error_chain(&e)
                    ),
                ))
            }
        };
        let bytes = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        if out.function_error().is_some() {
            return Err(function_error(&bytes));
        }
        let payload = if bytes.is_empty() {
            Value::Null
        } else {
            payload_value(&bytes)
        };
        let http = capture.take();
        let mut result = Map::new();
        if let Some(v) = out.executed_version() {
            result.insert("ExecutedVersion".into(), Value::String(v.to_string()));
        }
        if let Some(log) = out.log_result() {
            result.insert("LogResult".into(), Value::String(log.to_string()));
        }
        result.insert("Payload".into(), payload.clone());
        let request_id = http.request_id();
        result.insert("SdkHttpMetadata".into(), http.to_json());
        let mut metadata = Map::new();
        if let Some(id) = request_id {
            metadata.insert("RequestId".into(), Value::String(id));
        }
        result.insert("SdkResponseMetadata".into(), Value::Object(metadata));
        result.insert("StatusCode".into(), Value::from(out.status_code()));
        Ok(Answer { payload, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_arns_and_the_invoke_resource_are_handled() {
        assert!(LambdaTasks::handles(&Resource::parse(
            "arn:aws:lambda:us-east-1:111111111111:function:f"
        )));
        assert!(LambdaTasks::handles(&Resource::parse(
            "arn:aws:lambda:us-east-1:111111111111:function:f:live"
        )));
        assert!(LambdaTasks::handles(&Resource::parse(INVOKE)));
        assert!(!LambdaTasks::handles(&Resource::parse(
            "arn:aws:states:::lambda:invoke.waitForTaskToken"
        )));
        assert!(!LambdaTasks::handles(&Resource::parse(
            "arn:aws:lambda:us-east-1:111111111111:layer:l"
        )));
    }

    #[test]
    fn the_client_context_carries_the_idempotency_key() {
        let engine = base64::engine::general_purpose::STANDARD;
        let decode = |s: &str| -> Value {
            serde_json::from_slice(&engine.decode(s).expect("base64")).expect("JSON")
        };
        let fresh = client_context(None, "k1").expect("context");
        assert_eq!(decode(&fresh), json!({"custom": {IDEMPOTENCY_KEY: "k1"}}));
        let given = engine.encode(json!({"custom": {"a": "b"}, "env": {"x": 1}}).to_string());
        let merged = client_context(Some(&given), "k2").expect("context");
        assert_eq!(
            decode(&merged),
            json!({"custom": {"a": "b", IDEMPOTENCY_KEY: "k2"}, "env": {"x": 1}})
        );
        let bad = client_context(Some("%%%"), "k").expect_err("not base64");
        assert_eq!(bad.error, "States.Runtime");
    }

    #[test]
    fn function_errors_name_their_type() {
        let e = function_error(br#"{"errorType":"OrderRejected","errorMessage":"no stock"}"#);
        assert_eq!(e.error, "OrderRejected");
        assert_eq!(
            e.cause.as_deref(),
            Some(r#"{"errorType":"OrderRejected","errorMessage":"no stock"}"#)
        );
        assert_eq!(function_error(b"boom").error, "Lambda.Unknown");
    }

    #[test]
    fn payloads_are_json_when_they_parse() {
        assert_eq!(payload_value(br#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(payload_value(br#""HelloWorld""#), json!("HelloWorld"));
        assert_eq!(payload_value(b"plain"), json!("plain"));
    }
}
