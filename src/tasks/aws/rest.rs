//! The HTTP bindings of restJson1 and restXml: URI labels, query string, headers and payload
//! of a request, and the headers, status and payload of a response. The body itself is the
//! protocol's (JSON in `json.rs`, XML in `xml.rs`).

use percent_encoding::{utf8_percent_encode, AsciiSet};
use serde_json::{Map, Value};

use crate::asl::services::{Location, Member, Operation, ServiceModel, Shape, ShapeType};
use crate::tasks::aws::wire::{
    self, base64, blob_bytes, child, invalid, pascal, scalar_from_text, scalar_text, shape_of,
    unbase64, TimeFormat, WireRequest, WireResponse,
};

/// A greedy label (`{Key+}`) keeps its slashes.
const GREEDY: &AsciiSet = &wire::UNRESERVED.remove(b'/');

/// The HTTP-bound parts of a request, and the members left for the body.
pub(crate) struct Bound<'p> {
    /// The request with method, path, query string and headers set.
    pub(crate) request: WireRequest,
    /// The payload member, when the input names one: its name, shape and value.
    pub(crate) payload: Option<(&'p str, &'p Value)>,
    /// The members that go in the body (no location), as given.
    pub(crate) body: Map<String, Value>,
}

/// Binds the input's members to the URI, query string and headers.
///
/// # Errors
/// A parameter that does not fit, or a URI label with no value.
pub(crate) fn bind<'p>(
    model: &ServiceModel,
    op: &Operation,
    input: Option<&'p Shape>,
    params: &'p Value,
) -> Result<Bound<'p>, String> {
    let (path_template, literal_query) = match op.http.request_uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (op.http.request_uri.as_str(), None),
    };
    let mut labels: Vec<(String, String, bool)> = Vec::new();
    let mut request = WireRequest::new(&op.http.method, "/");
    let mut body = Map::new();
    let mut payload = None;
    if let Some(shape) = input {
        for (name, member, value, at) in wire::members(shape, params, "")? {
            let target = shape_of(model, member)?;
            if shape.payload.as_deref() == Some(name) {
                payload = Some((name, value));
                continue;
            }
            let wire_name = member.location_name.as_deref().unwrap_or(name);
            match member.location {
                Some(Location::Uri) => {
                    let text = scalar_text(target, value, TimeFormat::Iso8601, &at)?;
                    labels.push((wire_name.to_string(), text, false));
                }
                Some(Location::Querystring) => {
                    query(model, member, target, wire_name, value, &at, &mut request)?;
                }
                Some(Location::Header) => {
                    let text = header_text(member, target, value, &at)?;
                    request.headers.push((wire_name.to_string(), text));
                }
                Some(Location::Headers) => {
                    let Value::Object(entries) = value else {
                        return Err(invalid(&at, "must be an object"));
                    };
                    for (k, v) in entries {
                        let Value::String(text) = v else {
                            return Err(invalid(&child(&at, k), "must be a string"));
                        };
                        request
                            .headers
                            .push((format!("{wire_name}{k}"), text.clone()));
                    }
                }
                Some(Location::StatusCode) => {}
                None => {
                    body.insert(pascal(name), value.clone());
                }
            }
        }
    }
    request.path = expand(path_template, &labels, input)?;
    if let Some(q) = literal_query {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            request.query.push((k.to_string(), v.to_string()));
        }
    }
    request.host_prefix = host_prefix(op, input, params)?;
    Ok(Bound {
        request,
        payload,
        body,
    })
}

/// The path with its `{Label}` and `{Label+}` parts filled in.
fn expand(
    template: &str,
    labels: &[(String, String, bool)],
    input: Option<&Shape>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let label = &rest[open + 1..open + close];
        let (name, greedy) = match label.strip_suffix('+') {
            Some(n) => (n, true),
            None => (label, false),
        };
        let Some((_, text, _)) = labels.iter().find(|(n, _, _)| n == name) else {
            let member = input
                .and_then(|s| {
                    s.members()
                        .iter()
                        .find(|(n, m)| m.location_name.as_deref().unwrap_or(n) == name)
                })
                .map_or_else(|| name.to_string(), |(n, _)| pascal(n));
            return Err(format!(
                "the parameters need {member}: it is part of the request's path"
            ));
        };
        let set = if greedy { GREEDY } else { wire::UNRESERVED };
        out.push_str(&utf8_percent_encode(text, set).to_string());
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn query(
    model: &ServiceModel,
    member: &Member,
    target: &Shape,
    wire_name: &str,
    value: &Value,
    at: &str,
    request: &mut WireRequest,
) -> Result<(), String> {
    match (target.kind, value) {
        (ShapeType::List, Value::Array(items)) => {
            let (_, item_shape) = wire::list_item(model, target, at)?;
            for (i, v) in items.iter().enumerate() {
                let text = scalar_text(
                    item_shape,
                    v,
                    TimeFormat::Iso8601,
                    &child(at, &i.to_string()),
                )?;
                request.query.push((wire_name.to_string(), text));
            }
        }
        (ShapeType::Map, Value::Object(entries)) => {
            let (_, value_shape) = wire::map_value(model, target, at)?;
            for (k, v) in entries {
                let at = child(at, k);
                if let (ShapeType::List, Value::Array(items)) = (value_shape.kind, v) {
                    let (_, item_shape) = wire::list_item(model, value_shape, &at)?;
                    for v in items {
                        request.query.push((
                            k.clone(),
                            scalar_text(item_shape, v, TimeFormat::Iso8601, &at)?,
                        ));
                    }
                } else {
                    request.query.push((
                        k.clone(),
                        scalar_text(value_shape, v, TimeFormat::Iso8601, &at)?,
                    ));
                }
            }
        }
        _ => {
            let format = TimeFormat::of(member, target, TimeFormat::Iso8601);
            request.query.push((
                wire_name.to_string(),
                scalar_text(target, value, format, at)?,
            ));
        }
    }
    Ok(())
}

fn header_text(member: &Member, target: &Shape, value: &Value, at: &str) -> Result<String, String> {
    if member.jsonvalue || target.jsonvalue {
        return Ok(base64(value.to_string().as_bytes()));
    }
    let format = TimeFormat::of(member, target, TimeFormat::Rfc822);
    if let (ShapeType::List, Value::Array(items)) = (target.kind, value) {
        let texts: Vec<String> = items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        return Ok(texts.join(","));
    }
    scalar_text(target, value, format, at)
}

/// The endpoint trait's host prefix with its labels filled in.
fn host_prefix(
    op: &Operation,
    input: Option<&Shape>,
    params: &Value,
) -> Result<Option<String>, String> {
    let Some(prefix) = op.endpoint.as_ref().and_then(|e| e.host_prefix.as_deref()) else {
        return Ok(None);
    };
    let mut out = prefix.to_string();
    while let Some(open) = out.find('{') {
        let Some(close) = out[open..].find('}') else {
            break;
        };
        let label = out[open + 1..open + close].to_string();
        let value = input
            .and_then(|s| s.member(&label).map(|(n, _)| n.to_string()))
            .and_then(|n| params.get(pascal(&n)).or_else(|| params.get(&n)))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                format!("the parameters need {label}: it is part of the endpoint's host")
            })?;
        out.replace_range(open..open + close + 1, value);
    }
    Ok(Some(out))
}

/// The raw body of a blob or string payload.
pub(crate) fn raw_payload(target: &Shape, value: &Value) -> Vec<u8> {
    match (target.kind, value) {
        (ShapeType::String, Value::String(s)) => s.as_bytes().to_vec(),
        _ => blob_bytes(value),
    }
}

/// The output members a REST response carries in its headers and status.
pub(crate) fn unbind(
    model: &ServiceModel,
    output: &Shape,
    response: &WireResponse,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, member) in output.members() {
        let Some(target) = model.shape(&member.shape) else {
            continue;
        };
        let wire_name = member.location_name.as_deref().unwrap_or(name);
        match member.location {
            Some(Location::Header) => {
                let Some(text) = response.header(wire_name) else {
                    continue;
                };
                let value = if member.jsonvalue || target.jsonvalue {
                    unbase64(text)
                        .and_then(|b| serde_json::from_slice(&b).ok())
                        .unwrap_or_else(|| Value::String(text.to_string()))
                } else if target.kind == ShapeType::List {
                    let item = target.member.as_ref().and_then(|m| model.shape(&m.shape));
                    Value::Array(
                        text.split(',')
                            .map(|t| {
                                item.map_or_else(
                                    || Value::String(t.trim().to_string()),
                                    |s| scalar_from_text(s, t.trim()),
                                )
                            })
                            .collect(),
                    )
                } else {
                    scalar_from_text(target, text)
                };
                out.insert(pascal(name), value);
            }
            Some(Location::Headers) => {
                let prefix = wire_name.to_ascii_lowercase();
                let entries: Map<String, Value> = response
                    .headers
                    .iter()
                    .filter_map(|(n, v)| {
                        let n = n.to_ascii_lowercase();
                        n.strip_prefix(&prefix)
                            .map(|k| (k.to_string(), Value::String(v.clone())))
                    })
                    .collect();
                out.insert(pascal(name), Value::Object(entries));
            }
            Some(Location::StatusCode) => {
                out.insert(pascal(name), Value::from(response.status));
            }
            _ => {}
        }
    }
    out
}

/// A blob or string payload of a response as text (S3's `Body`).
pub(crate) fn payload_text(body: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::services::service;
    use serde_json::json;

    #[test]
    fn labels_query_and_headers_are_bound() {
        let s3 = service("s3").expect("s3");
        let op = s3.operation_for_action("putObject").expect("op");
        let input = s3.shape(&op.input.as_ref().expect("in").shape);
        let params = json!({
            "Bucket": "my-bucket",
            "Key": "a dir/file+1.txt",
            "Body": "text data",
            "ContentType": "text/plain",
            "Metadata": {"owner": "me"},
            "ObjectLockRetainUntilDate": "2024-01-02T03:04:05Z"
        });
        let bound = bind(&s3, op, input, &params).expect("bound");
        assert_eq!(bound.request.method, "PUT");
        assert_eq!(bound.request.path, "/my-bucket/a%20dir/file%2B1.txt");
        assert!(bound
            .request
            .headers
            .contains(&("Content-Type".into(), "text/plain".into())));
        assert!(bound
            .request
            .headers
            .contains(&("x-amz-meta-owner".into(), "me".into())));
        assert!(bound.request.headers.contains(&(
            "x-amz-object-lock-retain-until-date".into(),
            "2024-01-02T03:04:05Z".into()
        )));
        assert_eq!(bound.payload.map(|(n, _)| n), Some("Body"));
        assert!(bound.body.is_empty());

        let op = s3.operation_for_action("listObjectsV2").expect("op");
        let input = s3.shape(&op.input.as_ref().expect("in").shape);
        let params = json!({"Bucket": "b", "Prefix": "p/", "MaxKeys": 3});
        let bound = bind(&s3, op, input, &params).expect("bound");
        assert_eq!(bound.request.path, "/b");
        assert!(bound
            .request
            .query
            .contains(&("list-type".into(), "2".into())));
        assert!(bound
            .request
            .query
            .contains(&("prefix".into(), "p/".into())));
        assert!(bound
            .request
            .query
            .contains(&("max-keys".into(), "3".into())));
        let err = bind(&s3, op, input, &json!({"Prefix": "p/"})).err();
        assert_eq!(
            err.as_deref(),
            Some("the parameters need Bucket: it is part of the request's path")
        );
    }

    #[test]
    fn a_lambda_invoke_binds_the_function_and_the_payload() {
        let lambda = service("lambda").expect("lambda");
        let op = lambda.operation_for_action("invoke").expect("op");
        let input = lambda.shape(&op.input.as_ref().expect("in").shape);
        let params = json!({"FunctionName": "f", "Payload": {"a": 1}, "InvocationType": "Event"});
        let bound = bind(&lambda, op, input, &params).expect("bound");
        assert_eq!(bound.request.path, "/2015-03-31/functions/f/invocations");
        assert!(bound
            .request
            .headers
            .contains(&("X-Amz-Invocation-Type".into(), "Event".into())));
        let (name, value) = bound.payload.expect("payload");
        assert_eq!(name, "Payload");
        let shape = lambda.shape("Blob").or_else(|| lambda.shape("_blob"));
        if let Some(shape) = shape {
            assert_eq!(raw_payload(shape, value), br#"{"a":1}"#);
        }
    }

    #[test]
    fn response_headers_and_status_come_back_as_members() {
        let s3 = service("s3").expect("s3");
        let op = s3.operation_for_action("getObject").expect("op");
        let output = s3
            .shape(&op.output.as_ref().expect("out").shape)
            .expect("shape");
        let response = WireResponse {
            status: 200,
            headers: vec![
                ("content-length".into(), "9".into()),
                ("etag".into(), "\"abc\"".into()),
                (
                    "last-modified".into(),
                    "Tue, 02 Jan 2024 03:04:05 GMT".into(),
                ),
                ("x-amz-meta-owner".into(), "me".into()),
            ],
            body: b"text data".to_vec(),
        };
        let members = unbind(&s3, output, &response);
        assert_eq!(members.get("ContentLength"), Some(&json!(9)));
        assert_eq!(members.get("ETag"), Some(&json!("\"abc\"")));
        assert_eq!(
            members.get("LastModified"),
            Some(&json!("2024-01-02T03:04:05Z"))
        );
        assert_eq!(members.get("Metadata"), Some(&json!({"owner": "me"})));
        assert_eq!(payload_text(&response.body), json!("text data"));
    }
}
