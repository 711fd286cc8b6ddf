//! The JSON protocols: awsJson 1.0/1.1 (`POST /`, `X-Amz-Target`, the whole input as JSON)
//! and the JSON bodies of restJson1; a JSON error's code and message.

use serde_json::{Map, Value};

use crate::asl::services::{Operation, ServiceModel, Shape, ShapeType};
use crate::tasks::aws::wire::{
    self, base64, blob_bytes, check_number, child, describe, invalid, is_number, pascal,
    result_time_of, shape_of, timestamp_param, TimeFormat, WireError, WireRequest, WireResponse,
};

/// A parameter value as the JSON body carries it, checked against its shape.
///
/// # Errors
/// A value of the wrong type, or an unknown member, named by its JSON Pointer.
pub(crate) fn encode(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    time: TimeFormat,
    path: &str,
) -> Result<Value, String> {
    if shape.document {
        return Ok(value.clone());
    }
    match shape.kind {
        ShapeType::Structure => {
            let mut out = Map::new();
            for (name, member, v, at) in wire::members(shape, value, path)? {
                if member.location.is_some() {
                    continue;
                }
                let target = shape_of(model, member)?;
                let key = member
                    .location_name
                    .clone()
                    .unwrap_or_else(|| name.to_string());
                let t = TimeFormat::of(member, target, time);
                out.insert(key, encode(model, target, v, t, &at)?);
            }
            fill_tokens(shape, &mut out, value);
            Ok(Value::Object(out))
        }
        ShapeType::List => {
            let Value::Array(items) = value else {
                return Err(invalid(path, "must be an array"));
            };
            let (member, target) = wire::list_item(model, shape, path)?;
            let t = TimeFormat::of(member, target, time);
            items
                .iter()
                .enumerate()
                .map(|(i, v)| encode(model, target, v, t, &child(path, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        ShapeType::Map => {
            let Value::Object(entries) = value else {
                return Err(invalid(path, "must be an object"));
            };
            let (member, target) = wire::map_value(model, shape, path)?;
            let t = TimeFormat::of(member, target, time);
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k.clone(), encode(model, target, v, t, &child(path, k))?);
            }
            Ok(Value::Object(out))
        }
        ShapeType::Timestamp => {
            let t = timestamp_param(value, path)?;
            Ok(match time {
                TimeFormat::Epoch => wire::epoch_number(t),
                other => Value::String(wire::format_time(t, other)),
            })
        }
        ShapeType::Blob => Ok(Value::String(base64(&blob_bytes(value)))),
        ShapeType::String => match value {
            Value::String(_) => Ok(value.clone()),
            _ => Err(invalid(path, "must be a string")),
        },
        ShapeType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(invalid(path, "must be a boolean")),
        },
        kind if is_number(kind) => match value {
            Value::Number(n) => {
                check_number(kind, n, path)?;
                Ok(value.clone())
            }
            _ => Err(invalid(path, format_args!("must be {}", describe(kind)))),
        },
        kind => Err(invalid(path, format_args!("must be {}", describe(kind)))),
    }
}

/// Members with the idempotency-token trait that the parameters leave out get a fresh UUID.
fn fill_tokens(shape: &Shape, out: &mut Map<String, Value>, given: &Value) {
    for (name, member) in shape.members() {
        if member.idempotency_token && shape.member(&pascal(name)).is_some() {
            let given = given.get(pascal(name)).or_else(|| given.get(name.as_str()));
            if given.is_none_or(Value::is_null) {
                let key = member.location_name.clone().unwrap_or_else(|| name.clone());
                out.insert(key, Value::String(uuid::Uuid::new_v4().to_string()));
            }
        }
    }
}

/// A value of the response body as a task result holds it: members by their PascalCase
/// names, timestamps as ISO-8601, members the model does not know left out.
pub(crate) fn decode(model: &ServiceModel, shape: &Shape, value: &Value) -> Value {
    if shape.document {
        return value.clone();
    }
    match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(fields)) => {
            let mut out = Map::new();
            for (name, member) in shape.members() {
                let key = member.location_name.as_deref().unwrap_or(name);
                let (Some(v), Some(target)) = (fields.get(key), model.shape(&member.shape)) else {
                    continue;
                };
                if v.is_null() {
                    continue;
                }
                out.insert(pascal(name), decode(model, target, v));
            }
            Value::Object(out)
        }
        (ShapeType::List, Value::Array(items)) => {
            let target = shape.member.as_ref().and_then(|m| model.shape(&m.shape));
            Value::Array(
                items
                    .iter()
                    .map(|v| target.map_or_else(|| v.clone(), |t| decode(model, t, v)))
                    .collect(),
            )
        }
        (ShapeType::Map, Value::Object(entries)) => {
            let target = shape.value.as_ref().and_then(|m| model.shape(&m.shape));
            Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let v = target.map_or_else(|| v.clone(), |t| decode(model, t, v));
                        (k.clone(), v)
                    })
                    .collect(),
            )
        }
        (ShapeType::Timestamp, v) => result_time_of(v),
        _ => value.clone(),
    }
}

/// An awsJson request: `POST /` with the whole input as the body.
///
/// # Errors
/// Parameters that do not fit the input shape.
pub(crate) fn build(
    model: &ServiceModel,
    op: &Operation,
    params: &Value,
) -> Result<WireRequest, String> {
    let body = match &op.input {
        Some(input) => {
            let shape = model
                .shape(&input.shape)
                .ok_or_else(|| format!("the {} model has no shape {}", model.name, input.shape))?;
            encode(model, shape, params, TimeFormat::Epoch, "")?
        }
        None => wire::empty(),
    };
    let mut request = WireRequest::new("POST", "/");
    let version = model.metadata.json_version.as_deref().unwrap_or("1.0");
    request.set_header("Content-Type", format!("application/x-amz-json-{version}"));
    if let Some(prefix) = &model.metadata.target_prefix {
        request.set_header("X-Amz-Target", format!("{prefix}.{}", op.name));
    }
    request.body = body.to_string().into_bytes();
    Ok(request)
}

/// An awsJson response's result.
///
/// # Errors
/// A body that is not JSON.
pub(crate) fn parse(
    model: &ServiceModel,
    op: &Operation,
    response: &WireResponse,
) -> Result<Value, String> {
    let Some(output) = op.output.as_ref().and_then(|o| model.shape(&o.shape)) else {
        return Ok(wire::empty());
    };
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(wire::empty());
    }
    let value: Value = serde_json::from_slice(&response.body)
        .map_err(|e| format!("the response is not JSON: {e}"))?;
    Ok(decode(model, output, &value))
}

/// A JSON error response's code and message: the code from `x-amzn-ErrorType`, `__type` or
/// `code`, without its namespace (`com.amazonaws.sqs#QueueDoesNotExist`) or suffix (`:http://...`).
pub(crate) fn error(response: &WireResponse) -> WireError {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| body.get(*n).and_then(Value::as_str))
            .map(str::to_string)
    };
    let code = response
        .header("x-amzn-errortype")
        .map(str::to_string)
        .or_else(|| field(&["__type", "code", "Code"]))
        .unwrap_or_default();
    let code = code.split(':').next().unwrap_or_default();
    let code = code.rsplit('#').next().unwrap_or_default().to_string();
    let message = field(&["message", "Message", "errorMessage"]).unwrap_or_default();
    WireError { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::services::service;
    use serde_json::json;

    #[test]
    fn an_aws_json_request_carries_the_target_and_the_members() {
        let sqs = service("sqs").expect("sqs");
        let op = sqs.operation_for_action("sendMessage").expect("op");
        let params = json!({
            "QueueUrl": "http://q",
            "MessageBody": "hi",
            "DelaySeconds": 5,
            "MessageAttributes": {"a": {"DataType": "String", "StringValue": "x"}}
        });
        let request = build(&sqs, op, &params).expect("request");
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/");
        assert!(request
            .headers
            .contains(&("X-Amz-Target".into(), "AmazonSQS.SendMessage".into())));
        assert!(request
            .headers
            .contains(&("Content-Type".into(), "application/x-amz-json-1.0".into())));
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body, params);
        let err = build(&sqs, op, &json!({"QueueUrl": "q", "DelaySeconds": "5"})).unwrap_err();
        assert_eq!(err, "parameter /DelaySeconds must be an integer");
    }

    #[test]
    fn timestamps_and_blobs_take_their_json_forms() {
        let sfn = service("sfn").expect("sfn");
        let op = sfn.operation_for_action("describeExecution").expect("op");
        let output = sfn
            .shape(&op.output.as_ref().expect("out").shape)
            .expect("shape");
        let result = decode(
            &sfn,
            output,
            &json!({"executionArn": "arn", "startDate": 1.7e9, "status": "RUNNING", "extra": 1}),
        );
        assert_eq!(
            result,
            json!({"ExecutionArn": "arn", "StartDate": "2023-11-14T22:13:20Z", "Status": "RUNNING"})
        );
        let kms = service("kms").expect("kms");
        let op = kms.operation_for_action("encrypt").expect("op");
        let request = build(&kms, op, &json!({"KeyId": "k", "Plaintext": "hi"})).expect("request");
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body, json!({"KeyId": "k", "Plaintext": "aGk="}));
    }

    #[test]
    fn idempotency_tokens_are_filled_in() {
        let sfn = service("sfn").expect("sfn");
        let op = sfn.operation_for_action("startExecution").expect("op");
        let request = build(&sfn, op, &json!({"StateMachineArn": "arn"})).expect("request");
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body, json!({"stateMachineArn": "arn"}));
        let ec2ish = service("ecs").expect("ecs");
        let op = ec2ish.operation_for_action("runTask").expect("op");
        let request = build(&ec2ish, op, &json!({"TaskDefinition": "t"})).expect("request");
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body["clientToken"].as_str().map(str::len), Some(36));
    }

    #[test]
    fn error_codes_lose_their_namespace() {
        let response = WireResponse {
            status: 400,
            headers: vec![],
            body: br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}"#.to_vec(),
        };
        assert_eq!(
            error(&response),
            WireError {
                code: "QueueDoesNotExist".into(),
                message: "gone".into()
            }
        );
        let response = WireResponse {
            status: 404,
            headers: vec![(
                "x-amzn-errortype".into(),
                "ResourceNotFoundException:http://x/".into(),
            )],
            body: br#"{"Message":"Function not found"}"#.to_vec(),
        };
        assert_eq!(error(&response).code, "ResourceNotFoundException");
        assert_eq!(error(&response).message, "Function not found");
    }
}
