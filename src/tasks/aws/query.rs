//! The query protocols: awsQuery (SNS, SES, IAM, STS, CloudFormation, ...) and ec2Query. The
//! request is a form (`Action`, `Version`, then the members flattened into dotted keys); the
//! answer is XML, under `<OperationResult>` for awsQuery and directly under the root for EC2.

use percent_encoding::utf8_percent_encode;
use serde_json::Value;

use crate::asl::services::{Member, Operation, Protocol, ServiceModel, Shape, ShapeType};
use crate::tasks::aws::wire::{
    self, child, invalid, scalar_text, shape_of, TimeFormat, WireRequest, WireResponse,
};
use crate::tasks::aws::xml;

/// The form of an operation's request.
///
/// # Errors
/// A parameter that does not fit its shape.
pub(crate) fn build(
    model: &ServiceModel,
    op: &Operation,
    params: &Value,
) -> Result<WireRequest, String> {
    let ec2 = model.metadata.protocol == Protocol::Ec2;
    let mut pairs = vec![
        ("Action".to_string(), op.name.clone()),
        ("Version".to_string(), model.metadata.api_version.clone()),
    ];
    if let Some(input) = op.input.as_ref().and_then(|i| model.shape(&i.shape)) {
        structure(model, input, params, "", "", ec2, &mut pairs)?;
    }
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, wire::UNRESERVED),
                utf8_percent_encode(v, wire::UNRESERVED)
            )
        })
        .collect();
    let mut request = WireRequest::new("POST", "/");
    request.set_header(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    request.body = body.join("&").into_bytes();
    Ok(request)
}

fn key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A member's name in the form: EC2 takes `queryName`, else the capitalized `locationName`
/// or member name; awsQuery the `locationName` or member name.
fn form_name(name: &str, member: &Member, ec2: bool) -> String {
    if ec2 {
        if let Some(q) = &member.query_name {
            return q.clone();
        }
        return wire::pascal(member.location_name.as_deref().unwrap_or(name));
    }
    member
        .location_name
        .clone()
        .unwrap_or_else(|| name.to_string())
}

fn structure(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    prefix: &str,
    path: &str,
    ec2: bool,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (name, member, v, at) in wire::members(shape, value, path)? {
        let target = shape_of(model, member)?;
        let k = key(prefix, &form_name(name, member, ec2));
        serialize(model, member, target, v, &k, &at, ec2, out)?;
    }
    for (name, member) in shape.members() {
        if member.idempotency_token {
            let given = value
                .get(wire::pascal(name))
                .or_else(|| value.get(name.as_str()));
            if given.is_none_or(Value::is_null) {
                out.push((
                    key(prefix, &form_name(name, member, ec2)),
                    uuid::Uuid::new_v4().to_string(),
                ));
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn serialize(
    model: &ServiceModel,
    member: &Member,
    shape: &Shape,
    value: &Value,
    prefix: &str,
    path: &str,
    ec2: bool,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    match shape.kind {
        ShapeType::Structure => structure(model, shape, value, prefix, path, ec2, out),
        ShapeType::List => {
            let Value::Array(items) = value else {
                return Err(invalid(path, "must be an array"));
            };
            let (item, item_shape) = wire::list_item(model, shape, path)?;
            if items.is_empty() {
                if !ec2 {
                    out.push((prefix.to_string(), String::new()));
                }
                return Ok(());
            }
            let list_prefix = if ec2 || member.flattened || shape.flattened {
                // A flattened list's items take the member's name; its own location name
                // renames the list when it is flattened.
                prefix.to_string()
            } else {
                key(prefix, item.location_name.as_deref().unwrap_or("member"))
            };
            for (i, v) in items.iter().enumerate() {
                let k = format!("{list_prefix}.{}", i + 1);
                serialize(
                    model,
                    item,
                    item_shape,
                    v,
                    &k,
                    &child(path, &i.to_string()),
                    ec2,
                    out,
                )?;
            }
            Ok(())
        }
        ShapeType::Map => {
            let Value::Object(entries) = value else {
                return Err(invalid(path, "must be an object"));
            };
            let key_member = shape
                .key
                .as_ref()
                .ok_or_else(|| invalid(path, "has no key shape"))?;
            let (value_member, value_shape) = wire::map_value(model, shape, path)?;
            let key_name = key_member.location_name.as_deref().unwrap_or("key");
            let value_name = value_member.location_name.as_deref().unwrap_or("value");
            let entry_prefix = if member.flattened || shape.flattened {
                prefix.to_string()
            } else {
                key(prefix, "entry")
            };
            for (i, (k, v)) in entries.iter().enumerate() {
                let base = format!("{entry_prefix}.{}", i + 1);
                out.push((key(&base, key_name), k.clone()));
                serialize(
                    model,
                    value_member,
                    value_shape,
                    v,
                    &key(&base, value_name),
                    &child(path, k),
                    ec2,
                    out,
                )?;
            }
            Ok(())
        }
        _ => {
            let format = TimeFormat::of(member, shape, TimeFormat::Iso8601);
            out.push((prefix.to_string(), scalar_text(shape, value, format, path)?));
            Ok(())
        }
    }
}

/// The result of a successful answer.
///
/// # Errors
/// A body that is not XML.
pub(crate) fn parse(
    model: &ServiceModel,
    op: &Operation,
    response: &WireResponse,
) -> Result<Value, String> {
    let Some(output) = op.output.as_ref() else {
        return Ok(wire::empty());
    };
    let Some(shape) = model.shape(&output.shape) else {
        return Ok(wire::empty());
    };
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(wire::empty());
    }
    let root = xml::parse(&response.body)?;
    let holder = match (&output.result_wrapper, model.metadata.protocol) {
        (Some(wrapper), Protocol::Query) => match root.child(wrapper) {
            Some(e) => e,
            None => return Ok(wire::empty()),
        },
        _ => &root,
    };
    Ok(Value::Object(xml::decode_members(model, shape, holder)))
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
