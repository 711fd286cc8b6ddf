//! What the protocols share: a request and a response on the wire, a service's error as its
//! code and message, and the conversions of parameter values (JSON from the task's input) to
//! wire text and of wire values back to the JSON a task result holds.
//!
//! Parameters and results name members in PascalCase ([`pascal`]); a timestamp parameter is
//! an ISO-8601 string or epoch seconds, a blob parameter is the text of a string (or the JSON
//! text of any other value); results give timestamps as ISO-8601 strings, blobs as base64
//! (a blob payload, S3's object body, as its text).

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

pub(crate) use crate::asl::services::pascal;
use crate::asl::services::{Member, ServiceModel, Shape, ShapeType};

/// A request ready to sign and send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WireRequest {
    /// `GET`, `POST`, ...
    pub(crate) method: String,
    /// The path, percent-encoded, starting with `/`.
    pub(crate) path: String,
    /// Query parameters, not yet encoded (a key with an empty value is sent as `key=`).
    pub(crate) query: Vec<(String, String)>,
    /// Headers (names as the protocol writes them).
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Vec<u8>,
    /// A prefix for the host (the endpoint trait's, labels filled in).
    pub(crate) host_prefix: Option<String>,
}

impl WireRequest {
    /// A request with no query, headers or body.
    pub(crate) fn new(method: &str, path: &str) -> Self {
        WireRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            host_prefix: None,
        }
    }

    /// Sets a header, replacing one of the same name.
    pub(crate) fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
    }
}

/// A response as it came back.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WireResponse {
    /// The HTTP status.
    pub(crate) status: u16,
    /// Headers, names in lower case.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl WireResponse {
    /// The first value of a header (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A service's error: its code (`NoSuchBucket`, `ResourceNotFoundException`) and message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WireError {
    /// The code, without a namespace (`com.amazonaws.sqs#QueueDoesNotExist` is
    /// `QueueDoesNotExist`).
    pub(crate) code: String,
    /// The message, possibly empty.
    pub(crate) message: String,
}

/// A parameter that does not fit the model, with the JSON Pointer of where it is in the
/// task's parameters.
pub(crate) fn invalid(path: &str, what: impl std::fmt::Display) -> String {
    if path.is_empty() {
        format!("the parameters {what}")
    } else {
        format!("parameter {path} {what}")
    }
}

/// `path` extended by one key or index, as a JSON Pointer.
pub(crate) fn child(path: &str, key: &str) -> String {
    format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// The shape a member refers to.
///
/// # Errors
/// A model that names a shape it lacks (the committed models are checked by the tests).
pub(crate) fn shape_of<'m>(model: &'m ServiceModel, member: &Member) -> Result<&'m Shape, String> {
    model
        .shape(&member.shape)
        .ok_or_else(|| format!("the {} model has no shape {}", model.name, member.shape))
}

/// A list's member and the shape it refers to.
///
/// # Errors
/// A model whose list has no member (the committed models are checked by the tests).
pub(crate) fn list_item<'m>(
    model: &'m ServiceModel,
    list: &'m Shape,
    path: &str,
) -> Result<(&'m Member, &'m Shape), String> {
    let item = list
        .member
        .as_ref()
        .ok_or_else(|| invalid(path, "has no member shape"))?;
    Ok((item, shape_of(model, item)?))
}

/// A map's value member and the shape it refers to.
///
/// # Errors
/// A model whose map has no value (the committed models are checked by the tests).
pub(crate) fn map_value<'m>(
    model: &'m ServiceModel,
    map: &'m Shape,
    path: &str,
) -> Result<(&'m Member, &'m Shape), String> {
    let value = map
        .value
        .as_ref()
        .ok_or_else(|| invalid(path, "has no value shape"))?;
    Ok((value, shape_of(model, value)?))
}

/// What a URI label, query string or form value keeps unescaped: the unreserved characters.
pub(crate) const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A structure parameter's members, each with the model member it names, in the order given;
/// a key the structure does not have is an error naming it. `null` members are left out.
///
/// # Errors
/// Not an object, or a key that names no member.
pub(crate) fn members<'p, 's>(
    shape: &'s Shape,
    value: &'p Value,
    path: &str,
) -> Result<Vec<(&'s str, &'s Member, &'p Value, String)>, String> {
    let Value::Object(map) = value else {
        return Err(invalid(path, "must be an object"));
    };
    let mut out = Vec::with_capacity(map.len());
    for (key, v) in map {
        let Some((name, member)) = shape.member(key) else {
            let known: Vec<String> = shape.members().iter().map(|(n, _)| pascal(n)).collect();
            return Err(invalid(
                &child(path, key),
                format_args!("is not a member; the members are {}", known.join(", ")),
            ));
        };
        if v.is_null() {
            continue;
        }
        out.push((name, member, v, child(path, key)));
    }
    Ok(out)
}

/// How a timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeFormat {
    /// `2024-01-01T00:00:00Z`.
    Iso8601,
    /// `Mon, 01 Jan 2024 00:00:00 GMT`.
    Rfc822,
    /// Seconds since the epoch.
    Epoch,
}

impl TimeFormat {
    /// The format a member or shape asks for, else `default`.
    pub(crate) fn of(member: &Member, shape: &Shape, default: TimeFormat) -> TimeFormat {
        let named = member
            .timestamp_format
            .as_deref()
            .or(shape.timestamp_format.as_deref());
        match named {
            Some("iso8601") => TimeFormat::Iso8601,
            Some("rfc822") => TimeFormat::Rfc822,
            Some("unixTimestamp") => TimeFormat::Epoch,
            _ => default,
        }
    }
}

/// A timestamp parameter: an ISO-8601 string or a number of seconds since the epoch.
///
/// # Errors
/// Anything else.
pub(crate) fn timestamp_param(value: &Value, path: &str) -> Result<DateTime<Utc>, String> {
    let parsed = match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc)),
        Value::Number(n) => n.as_f64().and_then(|secs| {
            DateTime::<Utc>::from_timestamp_millis((secs * 1000.0).round() as i64)
        }),
        _ => None,
    };
    parsed.ok_or_else(|| {
        invalid(
            path,
            "must be a timestamp: an ISO-8601 date-time or seconds since the epoch",
        )
    })
}

/// A timestamp as a protocol writes it (epoch seconds as text, for headers and queries).
pub(crate) fn format_time(t: DateTime<Utc>, format: TimeFormat) -> String {
    match format {
        TimeFormat::Iso8601 => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        TimeFormat::Rfc822 => t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        TimeFormat::Epoch => epoch_number(t).to_string(),
    }
}

/// Seconds since the epoch, with milliseconds when there are any.
pub(crate) fn epoch_number(t: DateTime<Utc>) -> Value {
    let ms = t.timestamp_millis();
    if ms % 1000 == 0 {
        Value::from(ms / 1000)
    } else {
        serde_json::Number::from_f64(ms as f64 / 1000.0).map_or(Value::Null, Value::Number)
    }
}

/// A timestamp from the wire: ISO-8601, an HTTP date, or epoch seconds.
pub(crate) fn parse_wire_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(text) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(d.and_utc());
    }
    let secs: f64 = text.parse().ok()?;
    DateTime::<Utc>::from_timestamp_millis((secs * 1000.0).round() as i64)
}

/// A timestamp in a task result: ISO-8601 as the SDK for Java's `Instant` prints it
/// (`2024-01-01T10:00:00Z`, `2024-01-01T10:00:00.250Z`).
pub(crate) fn result_time(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// A timestamp value from the wire (text or a JSON number) as a task result holds it; a value
/// that is no timestamp is kept as it is.
pub(crate) fn result_time_of(value: &Value) -> Value {
    let t = match value {
        Value::String(s) => parse_wire_time(s),
        Value::Number(n) => n
            .as_f64()
            .and_then(|s| DateTime::<Utc>::from_timestamp_millis((s * 1000.0).round() as i64)),
        _ => None,
    };
    t.map_or_else(|| value.clone(), result_time)
}

/// The bytes of a blob parameter: a string's text, or the JSON text of any other value.
pub(crate) fn blob_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

/// Base64, as blobs go inside JSON, XML and query bodies.
pub(crate) fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Base64 text decoded; `None` when it is not base64.
pub(crate) fn unbase64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

/// A scalar parameter as text (a URI label, a header, a query-string or query-protocol
/// value): strings as they are, numbers and booleans printed, timestamps in `time_format`,
/// blobs in base64.
///
/// # Errors
/// A value of the wrong type for the shape.
pub(crate) fn scalar_text(
    shape: &Shape,
    value: &Value,
    time_format: TimeFormat,
    path: &str,
) -> Result<String, String> {
    match (shape.kind, value) {
        (ShapeType::Timestamp, v) => Ok(format_time(timestamp_param(v, path)?, time_format)),
        (ShapeType::Blob, v) => Ok(base64(&blob_bytes(v))),
        (ShapeType::String, Value::String(s)) => Ok(s.clone()),
        (ShapeType::String, v) if shape.jsonvalue => Ok(v.to_string()),
        (ShapeType::Boolean, Value::Bool(b)) => Ok(b.to_string()),
        (kind, Value::Number(n)) if is_number(kind) => {
            check_number(kind, n, path)?;
            Ok(n.to_string())
        }
        (kind, _) => Err(invalid(path, format_args!("must be {}", describe(kind)))),
    }
}

/// Whether a shape type is numeric.
pub(crate) fn is_number(kind: ShapeType) -> bool {
    matches!(
        kind,
        ShapeType::Integer
            | ShapeType::Long
            | ShapeType::Short
            | ShapeType::Byte
            | ShapeType::Float
            | ShapeType::Double
            | ShapeType::BigDecimal
            | ShapeType::BigInteger
    )
}

/// An integer shape takes no fractions.
///
/// # Errors
/// A fraction for an integer shape.
pub(crate) fn check_number(
    kind: ShapeType,
    n: &serde_json::Number,
    path: &str,
) -> Result<(), String> {
    let integral = matches!(
        kind,
        ShapeType::Integer
            | ShapeType::Long
            | ShapeType::Short
            | ShapeType::Byte
            | ShapeType::BigInteger
    );
    if integral && !(n.is_i64() || n.is_u64()) {
        return Err(invalid(path, "must be an integer"));
    }
    Ok(())
}

/// What a value of `kind` must be, for error messages.
pub(crate) fn describe(kind: ShapeType) -> &'static str {
    match kind {
        ShapeType::Structure => "an object",
        ShapeType::List => "an array",
        ShapeType::Map => "an object",
        ShapeType::String => "a string",
        ShapeType::Boolean => "a boolean",
        ShapeType::Timestamp => "a timestamp",
        ShapeType::Blob => "a string",
        ShapeType::Integer
        | ShapeType::Long
        | ShapeType::Short
        | ShapeType::Byte
        | ShapeType::BigInteger => "an integer",
        ShapeType::Float | ShapeType::Double | ShapeType::BigDecimal => "a number",
    }
}

/// A scalar from wire text (a header, an XML element's text) as a task result holds it.
pub(crate) fn scalar_from_text(shape: &Shape, text: &str) -> Value {
    match shape.kind {
        ShapeType::Boolean => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        kind if is_number(kind) => {
            let t = text.trim();
            t.parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                })
                .unwrap_or_else(|| Value::String(t.to_string()))
        }
        ShapeType::Timestamp => result_time_of(&Value::String(text.to_string())),
        ShapeType::String if shape.jsonvalue => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
        _ => Value::String(text.to_string()),
    }
}

/// An empty object: what an operation without output returns.
pub(crate) fn empty() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_read_iso_or_epoch_and_print_as_each_protocol_wants() {
        let t = timestamp_param(&json!("2024-01-02T03:04:05Z"), "/T").expect("iso");
        assert_eq!(t, timestamp_param(&json!(1704164645), "/T").expect("epoch"));
        assert_eq!(format_time(t, TimeFormat::Iso8601), "2024-01-02T03:04:05Z");
        assert_eq!(
            format_time(t, TimeFormat::Rfc822),
            "Tue, 02 Jan 2024 03:04:05 GMT"
        );
        assert_eq!(format_time(t, TimeFormat::Epoch), "1704164645");
        assert_eq!(
            timestamp_param(&json!("tomorrow"), "/T").unwrap_err(),
            "parameter /T must be a timestamp: an ISO-8601 date-time or seconds since the epoch"
        );
        assert_eq!(
            result_time_of(&json!(1704164645.25)),
            json!("2024-01-02T03:04:05.250Z")
        );
        assert_eq!(
            result_time_of(&json!("Tue, 02 Jan 2024 03:04:05 GMT")),
            json!("2024-01-02T03:04:05Z")
        );
    }

    #[test]
    fn blobs_are_the_text_of_the_value() {
        assert_eq!(blob_bytes(&json!("text data")), b"text data");
        assert_eq!(
            blob_bytes(&json!({"Dict": "Value"})),
            br#"{"Dict":"Value"}"#
        );
        assert_eq!(blob_bytes(&json!(false)), b"false");
        assert_eq!(unbase64(&base64(b"hi")).as_deref(), Some(&b"hi"[..]));
    }

    #[test]
    fn unknown_members_are_named_with_their_pointer() {
        let model = crate::asl::services::service("sqs").expect("sqs");
        let op = model.operation_for_action("sendMessage").expect("op");
        let shape = model
            .shape(&op.input.as_ref().expect("in").shape)
            .expect("shape");
        let err = members(shape, &json!({"QueueUrl": "q", "Bogus": 1}), "").unwrap_err();
        assert!(
            err.starts_with(
                "parameter /Bogus is not a member; the members are QueueUrl, MessageBody"
            ),
            "{err}"
        );
        let params = json!({"QueueUrl": "q", "DelaySeconds": null});
        let ok = members(shape, &params, "").expect("ok");
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].3, "/QueueUrl");
    }
}
