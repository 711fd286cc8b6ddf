//! What the AWS SDK integrations share: the HTTP status and headers of a call's response, shown
//! as the SDK for Java's `SdkHttpMetadata` in task results (DynamoDB, Lambda).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use serde_json::{Map, Value};

/// The status and headers of the last HTTP response of a call.
#[derive(Debug, Default, Clone)]
pub(crate) struct HttpMetadata {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
}

impl HttpMetadata {
    /// `SdkHttpMetadata` as the SDK for Java reports it: `AllHttpHeaders` lists every value of
    /// a header, `HttpHeaders` one value per header in case-insensitive order.
    pub(crate) fn to_json(&self) -> Value {
        let mut all: Map<String, Value> = Map::new();
        for (name, value) in &self.headers {
            let entry = all
                .entry(java_header_name(name))
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(values) = entry {
                values.push(Value::String(value.clone()));
            }
        }
        let mut single: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (name, value) in &self.headers {
            let name = java_header_name(name);
            single.insert(name.to_ascii_lowercase(), (name, value.clone()));
        }
        let single: Map<String, Value> = single
            .into_values()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        let mut m = Map::new();
        m.insert("AllHttpHeaders".into(), Value::Object(all));
        m.insert("HttpHeaders".into(), Value::Object(single));
        m.insert("HttpStatusCode".into(), Value::from(self.status));
        Value::Object(m)
    }
}

/// A header's name as the AWS services write it (the HTTP stack here hands names over in lowercase).
fn java_header_name(name: &str) -> String {
    const KNOWN: &[&str] = &[
        "Connection",
        "Content-Length",
        "Content-Type",
        "Date",
        "Server",
        "x-amz-crc32",
        "x-amzn-RequestId",
        "X-Amz-Executed-Version",
        "X-Amz-Function-Error",
        "X-Amz-Log-Result",
        "x-amzn-Remapped-Content-Length",
        "X-Amzn-Trace-Id",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_string(), |k| k.to_string())
}

/// Keeps the status and headers of a call's last HTTP response, for `SdkHttpMetadata`.
#[derive(Debug, Default, Clone)]
pub(crate) struct HttpCapture(Arc<Mutex<HttpMetadata>>);

impl HttpCapture {
    pub(crate) fn take(&self) -> HttpMetadata {
        match self.0.lock() {
            Ok(mut m) => std::mem::take(&mut *m),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl Intercept for HttpCapture {
    fn name(&self) -> &'static str {
        "StepFunctionsHttpMetadata"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let metadata = HttpMetadata {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        };
        match self.0.lock() {
            Ok(mut m) => *m = metadata,
            Err(poisoned) => *poisoned.into_inner() = metadata,
        }
        Ok(())
    }
}

/// An error and its sources, each by its message: the cause of an SDK client failure, short
/// of the debug dump `DisplayErrorContext` adds.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

impl HttpMetadata {
    /// The `x-amzn-RequestId` header, if any.
    pub(crate) fn request_id(&self) -> Option<String> {
        self.headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-amzn-requestid"))
            .map(|(_, value)| value.clone())
    }
}
