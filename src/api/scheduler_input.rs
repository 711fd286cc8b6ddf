//! Reading EventBridge Scheduler requests: members checked as the service model constrains them
//! (lengths, patterns, ranges, enums), with the service's `ValidationException` wording
//! (`1 validation error detected: Value 'x' at 'target.roleArn' failed to satisfy constraint:
//! ...`), stepfn's policy names, and the pages of list answers.

use serde_json::{json, Value};

use super::*;
use crate::scheduler::slot::{CatchUp, Overlap};

/// A `ValidationException` as the service words its constraint failures.
pub(super) fn constraint(value: &Value, at: &str, rule: &str) -> ApiError {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    err(
        Exception::ValidationException,
        format!("1 validation error detected: Value '{shown}' at '{at}' failed to satisfy constraint: {rule}"),
    )
}

pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    err(Exception::ValidationException, message)
}

/// The wire name of a member in validation messages: `Target.RoleArn` is `target.roleArn`.
pub(super) fn wire_path(path: &str) -> String {
    path.split('.')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// An optional string member `name` of `obj` (its path `path` in messages), 1 to `max`
/// characters.
pub(super) fn opt_str<'a>(
    obj: &'a Value,
    name: &str,
    path: &str,
    min: usize,
    max: usize,
) -> Result<Option<&'a str>, ApiError> {
    let at = wire_path(path);
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let len = s.chars().count();
            if len < min {
                Err(constraint(
                    &json!(s),
                    &at,
                    &format!("Member must have length greater than or equal to {min}"),
                ))
            } else if len > max {
                Err(constraint(
                    &json!(s),
                    &at,
                    &format!("Member must have length less than or equal to {max}"),
                ))
            } else {
                Ok(Some(s))
            }
        }
        Some(other) => Err(constraint(other, &at, "Member must be a string")),
    }
}

/// A required string member.
pub(super) fn req_str<'a>(
    obj: &'a Value,
    name: &str,
    path: &str,
    min: usize,
    max: usize,
) -> Result<&'a str, ApiError> {
    opt_str(obj, name, path, min, max)?.ok_or_else(|| missing(path))
}

pub(super) fn missing(path: &str) -> ApiError {
    err(
        Exception::ValidationException,
        format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            wire_path(path)
        ),
    )
}

/// A name of a schedule or group: 1 to 64 of `[0-9a-zA-Z-_.]`.
pub(super) fn check_resource_name(value: &str, path: &str) -> Result<(), ApiError> {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        Ok(())
    } else {
        Err(constraint(
            &json!(value),
            &wire_path(path),
            "Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+",
        ))
    }
}

/// A required name member (`Name`, `GroupName`, ...), checked.
pub(super) fn name_member<'a>(obj: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    let value = req_str(obj, name, name, 1, 64)?;
    check_resource_name(value, name)?;
    Ok(value)
}

/// An optional integer member within `min..=max`; numeric strings (query parameters) count.
pub(super) fn opt_int(
    obj: &Value,
    name: &str,
    path: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    let at = wire_path(path);
    let value = match obj.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let n = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| constraint(value, &at, "Member must be an integer"))?;
    if n < min {
        return Err(constraint(
            value,
            &at,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(constraint(
            value,
            &at,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(Some(n))
}

/// An optional enum member, one of `values`.
pub(super) fn opt_enum<'a>(
    obj: &'a Value,
    name: &str,
    path: &str,
    values: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    let Some(value) = opt_str(obj, name, path, 0, usize::MAX)? else {
        return Ok(None);
    };
    if values.contains(&value) {
        Ok(Some(value))
    } else {
        Err(constraint(
            &json!(value),
            &wire_path(path),
            &format!(
                "Member must satisfy enum value set: [{}]",
                values.join(", ")
            ),
        ))
    }
}

/// An optional structure member.
pub(super) fn opt_struct<'a>(
    obj: &'a Value,
    name: &str,
    path: &str,
) -> Result<Option<&'a Value>, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(other) => Err(constraint(
            other,
            &wire_path(path),
            "Member must be a structure",
        )),
    }
}

/// An optional timestamp member: epoch seconds (as the SDKs send it) or an ISO 8601 text; ms.
pub(super) fn opt_date(obj: &Value, name: &str) -> Result<Option<i64>, ApiError> {
    let value = match obj.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let ms = match value {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && s.abs() < 1e13)
            .map(|s| (s * 1000.0).round() as i64),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis()),
        _ => None,
    };
    ms.map(Some).ok_or_else(|| {
        constraint(
            value,
            &wire_path(name),
            "Member must be a timestamp (epoch seconds)",
        )
    })
}

/// `name` when it names a catch-up policy; where it came from in the message otherwise.
pub(super) fn check_catch_up(name: &str, place: &str) -> Result<String, ApiError> {
    match CatchUp::parse(name) {
        Some(_) => Ok(name.to_string()),
        None => Err(invalid(format!(
            "Invalid {place} {name}: the catch-up policy is one of none, latest, all."
        ))),
    }
}

/// `name` when it names an overlap policy; where it came from in the message otherwise.
pub(super) fn check_overlap(name: &str, place: &str) -> Result<String, ApiError> {
    match Overlap::parse(name) {
        Some(_) => Ok(name.to_string()),
        None => Err(invalid(format!(
            "Invalid {place} {name}: the overlap policy is one of allow, skip, buffer-one."
        ))),
    }
}

/// A list request's page: the items after `NextToken` (the key of the last one shown, in
/// base64), at most `MaxResults` (1 to 100, default 100) of them, and the next token.
pub(super) fn key_page<T>(
    req: &Value,
    items: Vec<(String, T)>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = opt_int(req, "MaxResults", "MaxResults", 1, 100)?.unwrap_or(100) as usize;
    let after = match opt_str(req, "NextToken", "NextToken", 1, 2048)? {
        None => None,
        Some(token) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("after:").map(str::to_string))
                .ok_or_else(|| invalid(format!("Invalid NextToken {token}.")))?,
        ),
    };
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(key, _)| after.as_ref().is_none_or(|a| key > a))
        .collect();
    let more = rest.len() > max;
    rest.truncate(max);
    let token = if more {
        rest.last().map(|(key, _)| {
            base64::engine::general_purpose::STANDARD.encode(format!("after:{key}"))
        })
    } else {
        None
    };
    Ok((rest.into_iter().map(|(_, item)| item).collect(), token))
}
