//! A mocked task result checked against the service's model, as TestState's
//! `mock.fieldValidationMode` asks: STRICT checks the types of the fields given and that the
//! required ones are there, PRESENT only the types of the fields given, NONE nothing. Fields
//! the model does not have pass (a newer API may have them).

use serde_json::Value;

use crate::asl::resource::{Pattern, Resource};
use crate::asl::services::{pascal, service, ServiceModel, Shape, ShapeType};

/// How much of a mocked result is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Types of the fields given, and the required fields.
    Strict,
    /// Types of the fields given.
    Present,
    /// Nothing.
    None,
}

/// The SDK service whose API a resource's result follows: every `aws-sdk:*` resource, and the
/// optimized integrations whose results are the API's (SQS, SNS, EventBridge, DynamoDB);
/// request-response only (a `.sync` or callback result is not the API's answer).
fn api_of(resource: &Resource) -> Option<(String, &str)> {
    let (svc, action, pattern) = resource.integration()?;
    if pattern != Pattern::RequestResponse {
        return None;
    }
    if let Some(sdk) = svc.strip_prefix("aws-sdk:") {
        return Some((sdk.to_string(), action));
    }
    let sdk = match svc {
        "sqs" | "sns" | "dynamodb" => svc,
        "events" => "eventbridge",
        _ => return None,
    };
    Some((sdk.to_string(), action))
}

/// Checks a mocked `result` of a task on `resource`; the error is AWS's message.
///
/// # Errors
/// `Mock result schema validation error: ...` naming the field.
pub fn check_mocked_result(
    resource: &Resource,
    result: &Value,
    mode: FieldValidation,
) -> Result<(), String> {
    if mode == FieldValidation::None {
        return Ok(());
    }
    let Some((name, action)) = api_of(resource) else {
        return Ok(());
    };
    let Some(model) = service(&name) else {
        return Ok(());
    };
    let Some(output) = model
        .operation_for_action(action)
        .and_then(|op| op.output.as_ref())
        .and_then(|o| model.shape(&o.shape))
    else {
        return Ok(());
    };
    if !result.is_object() {
        return Err("Mock result schema validation error: the result must be a JSON object".into());
    }
    check(&model, output, result, "", mode)
}

fn type_error(field: &str, expected: &str) -> String {
    format!("Mock result schema validation error: Field '{field}' must be {expected}")
}

fn check(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    field: &str,
    mode: FieldValidation,
) -> Result<(), String> {
    if shape.document {
        return Ok(());
    }
    match shape.kind {
        ShapeType::Structure => {
            let Value::Object(fields) = value else {
                return Err(type_error(field, "an object"));
            };
            if mode == FieldValidation::Strict {
                for required in &shape.required {
                    let key = pascal(required);
                    if !fields.contains_key(&key) {
                        return Err(format!(
                            "Mock result schema validation error: Required field '{key}' is missing"
                        ));
                    }
                }
            }
            for (key, v) in fields {
                let Some((_, member)) = shape.member(key) else {
                    continue;
                };
                if let Some(target) = model.shape(&member.shape) {
                    check(model, target, v, key, mode)?;
                }
            }
            Ok(())
        }
        ShapeType::List => {
            let Value::Array(items) = value else {
                return Err(type_error(field, "an array"));
            };
            let item = shape.member.as_ref().and_then(|m| model.shape(&m.shape));
            for v in items {
                if let Some(item) = item {
                    check(model, item, v, field, mode)?;
                }
            }
            Ok(())
        }
        ShapeType::Map => {
            let Value::Object(entries) = value else {
                return Err(type_error(field, "an object"));
            };
            let item = shape.value.as_ref().and_then(|m| model.shape(&m.shape));
            for v in entries.values() {
                if let Some(item) = item {
                    check(model, item, v, field, mode)?;
                }
            }
            Ok(())
        }
        ShapeType::String | ShapeType::Timestamp | ShapeType::Blob => match value {
            Value::String(_) => Ok(()),
            _ => Err(type_error(field, "a string")),
        },
        ShapeType::Boolean => match value {
            Value::Bool(_) => Ok(()),
            _ => Err(type_error(field, "a boolean")),
        },
        ShapeType::Float | ShapeType::Double | ShapeType::BigDecimal => match value {
            Value::Number(_) => Ok(()),
            _ => Err(type_error(field, "a number")),
        },
        _ => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
            _ => Err(type_error(field, "a number")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checked(arn: &str, result: Value, mode: FieldValidation) -> Result<(), String> {
        check_mocked_result(&Resource::parse(arn), &result, mode)
    }

    #[test]
    fn strict_checks_types_and_required_fields() {
        let get = "arn:aws:states:::aws-sdk:s3:getObject";
        assert_eq!(
            checked(
                get,
                json!({"Body": "x", "ContentLength": 1}),
                FieldValidation::Strict
            ),
            Ok(())
        );
        assert_eq!(
            checked(get, json!({"ContentLength": "1"}), FieldValidation::Strict),
            Err(
                "Mock result schema validation error: Field 'ContentLength' must be a number"
                    .into()
            )
        );
        let send = "arn:aws:states:::sqs:sendMessage";
        assert_eq!(
            checked(
                send,
                json!({"MessageId": "m", "Unknown": 1}),
                FieldValidation::Strict
            ),
            Ok(())
        );
        let list = "arn:aws:states:::aws-sdk:s3:listBuckets";
        assert_eq!(
            checked(
                list,
                json!({"Buckets": {"Name": "b"}}),
                FieldValidation::Present
            ),
            Err("Mock result schema validation error: Field 'Buckets' must be an array".into())
        );
        let put_events = "arn:aws:states:::aws-sdk:eventbridge:putEvents";
        assert_eq!(
            checked(
                put_events,
                json!({"Entries": [{"EventId": 5}]}),
                FieldValidation::Present
            ),
            Err("Mock result schema validation error: Field 'EventId' must be a string".into())
        );
    }

    #[test]
    fn required_fields_only_under_strict() {
        // STS AssumeRole's Credentials require AccessKeyId, SecretAccessKey, SessionToken and
        // Expiration.
        let assume = "arn:aws:states:::aws-sdk:sts:assumeRole";
        let partial = json!({"Credentials": {"AccessKeyId": "a"}});
        assert!(checked(assume, partial.clone(), FieldValidation::Strict)
            .is_err_and(|e| e.contains("Required field 'SecretAccessKey' is missing")));
        assert_eq!(
            checked(assume, partial.clone(), FieldValidation::Present),
            Ok(())
        );
        assert_eq!(
            checked(assume, json!({"Credentials": 5}), FieldValidation::None),
            Ok(())
        );
        // Not the API's answer: no check.
        let lambda = "arn:aws:states:::lambda:invoke";
        assert_eq!(
            checked(
                lambda,
                json!({"Payload": {"a": 1}}),
                FieldValidation::Strict
            ),
            Ok(())
        );
        let callback = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";
        assert_eq!(
            checked(callback, json!({"paid": true}), FieldValidation::Strict),
            Ok(())
        );
    }
}
