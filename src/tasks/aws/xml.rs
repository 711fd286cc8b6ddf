//! XML as restXml and the query protocols speak it: a small element tree read with
//! `xmlparser`, shape-directed decoding of a response into a task result, encoding of a
//! restXml request body, and the error bodies of all three protocols.

use serde_json::{Map, Value};

use crate::asl::services::{Member, ServiceModel, Shape, ShapeType, XmlNamespace};
use crate::tasks::aws::wire::{
    self, base64, blob_bytes, child, invalid, pascal, scalar_from_text, shape_of, TimeFormat,
    WireError,
};

/// An XML element: its local name, attributes, children and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Element {
    /// The local name (no prefix).
    pub(crate) name: String,
    /// Attributes by local name.
    pub(crate) attributes: Vec<(String, String)>,
    /// Child elements in order.
    pub(crate) children: Vec<Element>,
    /// The text and CDATA inside, entities decoded.
    pub(crate) text: String,
}

impl Element {
    /// The first child named `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'e>(&'e self, name: &'e str) -> impl Iterator<Item = &'e Element> + 'e {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Decodes `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` and character references.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(end) = after.find(';') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let entity = &after[..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => {
                out.push('&');
                out.push_str(entity);
                out.push(';');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The root element of an XML document.
///
/// # Errors
/// A body that is not well-formed XML.
pub(crate) fn parse(body: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the response is not UTF-8: {e}"))?;
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    for token in xmlparser::Tokenizer::from(text) {
        let token = token.map_err(|e| format!("the response is not XML: {e}"))?;
        match token {
            xmlparser::Token::ElementStart { local, .. } => stack.push(Element {
                name: local.as_str().to_string(),
                ..Element::default()
            }),
            xmlparser::Token::Attribute { local, value, .. } => {
                if let Some(e) = stack.last_mut() {
                    e.attributes
                        .push((local.as_str().to_string(), unescape(value.as_str())));
                }
            }
            xmlparser::Token::ElementEnd { end, .. } => match end {
                xmlparser::ElementEnd::Open => {}
                xmlparser::ElementEnd::Close(..) | xmlparser::ElementEnd::Empty => {
                    let Some(done) = stack.pop() else {
                        return Err("the response is not XML: an end tag with no start".into());
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => root = Some(done),
                    }
                }
            },
            xmlparser::Token::Text { text } => {
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(&unescape(text.as_str()));
                }
            }
            xmlparser::Token::Cdata { text, .. } => {
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(text.as_str());
                }
            }
            _ => {}
        }
    }
    root.ok_or_else(|| "the response is not XML: no root element".to_string())
}

/// Whether a member is a flattened list or map.
fn flattened(member: &Member, target: &Shape) -> bool {
    member.flattened || target.flattened
}

/// The element name of a member.
fn element_name<'a>(name: &'a str, member: &'a Member) -> &'a str {
    member.location_name.as_deref().unwrap_or(name)
}

/// The members of a structure element as a task result holds them.
pub(crate) fn decode_members(
    model: &ServiceModel,
    shape: &Shape,
    elem: &Element,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, member) in shape.members() {
        if member.location.is_some() {
            continue;
        }
        let Some(target) = model.shape(&member.shape) else {
            continue;
        };
        let wire_name = element_name(name, member);
        if member.xml_attribute {
            if let Some((_, v)) = elem
                .attributes
                .iter()
                .find(|(n, _)| n == wire_name.rsplit(':').next().unwrap_or(wire_name))
            {
                out.insert(pascal(name), scalar_from_text(target, v));
            }
            continue;
        }
        let value = match target.kind {
            ShapeType::List if flattened(member, target) => {
                let items: Vec<&Element> = elem.children_named(wire_name).collect();
                if items.is_empty() {
                    continue;
                }
                let item_shape = target.member.as_ref().and_then(|m| model.shape(&m.shape));
                Value::Array(
                    items
                        .iter()
                        .map(|e| item_shape.map_or(Value::Null, |s| decode(model, s, e)))
                        .collect(),
                )
            }
            ShapeType::Map if flattened(member, target) => {
                let entries: Vec<&Element> = elem.children_named(wire_name).collect();
                if entries.is_empty() {
                    continue;
                }
                map_entries(model, target, &entries)
            }
            _ => match elem.child(wire_name) {
                Some(e) => decode(model, target, e),
                None => continue,
            },
        };
        out.insert(pascal(name), value);
    }
    out
}

fn map_entries(model: &ServiceModel, shape: &Shape, entries: &[&Element]) -> Value {
    let key_name = shape
        .key
        .as_ref()
        .and_then(|k| k.location_name.as_deref())
        .unwrap_or("key");
    let value_name = shape
        .value
        .as_ref()
        .and_then(|v| v.location_name.as_deref())
        .unwrap_or("value");
    let value_shape = shape.value.as_ref().and_then(|v| model.shape(&v.shape));
    let mut out = Map::new();
    for entry in entries {
        let Some(key) = entry.child(key_name) else {
            continue;
        };
        let value = match (entry.child(value_name), value_shape) {
            (Some(v), Some(s)) => decode(model, s, v),
            _ => Value::Null,
        };
        out.insert(key.text.clone(), value);
    }
    Value::Object(out)
}

/// An element's content decoded by its shape.
pub(crate) fn decode(model: &ServiceModel, shape: &Shape, elem: &Element) -> Value {
    match shape.kind {
        ShapeType::Structure => Value::Object(decode_members(model, shape, elem)),
        ShapeType::List => {
            let Some(member) = shape.member.as_ref() else {
                return Value::Array(Vec::new());
            };
            let item_name = member.location_name.as_deref().unwrap_or("member");
            let item_shape = model.shape(&member.shape);
            Value::Array(
                elem.children_named(item_name)
                    .map(|e| item_shape.map_or(Value::Null, |s| decode(model, s, e)))
                    .collect(),
            )
        }
        ShapeType::Map => {
            let entries: Vec<&Element> = elem.children_named("entry").collect();
            map_entries(model, shape, &entries)
        }
        _ => scalar_from_text(shape, &elem.text),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
    out
}

fn namespace_attribute(namespace: Option<&XmlNamespace>) -> String {
    match namespace {
        Some(ns) => match &ns.prefix {
            Some(p) => format!(" xmlns:{p}=\"{}\"", escape(&ns.uri)),
            None => format!(" xmlns=\"{}\"", escape(&ns.uri)),
        },
        None => String::new(),
    }
}

/// A restXml request body: the structure `shape` as the element `root`.
///
/// # Errors
/// A parameter that does not fit its shape.
pub(crate) fn encode(
    model: &ServiceModel,
    root: &str,
    namespace: Option<&XmlNamespace>,
    shape: &Shape,
    params: &Value,
    path: &str,
) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    write_value(model, root, namespace, shape, params, path, &mut out)?;
    Ok(out.into_bytes())
}

/// A structure payload member (S3's `Tagging`, `CreateBucketConfiguration`) as the body:
/// the root element is the member's name on the wire (or the shape's).
///
/// # Errors
/// A parameter that does not fit its shape.
pub(crate) fn encode_payload(
    model: &ServiceModel,
    member: &Member,
    target: &Shape,
    value: &Value,
    path: &str,
) -> Result<Vec<u8>, String> {
    let root = member
        .location_name
        .clone()
        .or_else(|| target.location_name.clone())
        .unwrap_or_else(|| member.shape.clone());
    let namespace = member
        .xml_namespace
        .as_ref()
        .or(target.xml_namespace.as_ref());
    encode(model, &root, namespace, target, value, path)
}

fn write_value(
    model: &ServiceModel,
    name: &str,
    namespace: Option<&XmlNamespace>,
    shape: &Shape,
    value: &Value,
    path: &str,
    out: &mut String,
) -> Result<(), String> {
    match shape.kind {
        ShapeType::Structure => {
            let members = wire::members(shape, value, path)?;
            let mut attributes = namespace_attribute(namespace);
            let mut body = String::new();
            for (member_name, member, v, at) in members {
                if member.location.is_some() {
                    continue;
                }
                let target = shape_of(model, member)?;
                let wire_name = element_name(member_name, member);
                if member.xml_attribute {
                    if let Some(ns) = &member.xml_namespace {
                        if let Some(prefix) = &ns.prefix {
                            attributes
                                .push_str(&format!(" xmlns:{prefix}=\"{}\"", escape(&ns.uri)));
                        }
                    }
                    let text = scalar(target, member, v, &at)?;
                    attributes.push_str(&format!(" {wire_name}=\"{}\"", escape(&text)));
                    continue;
                }
                match target.kind {
                    ShapeType::List if flattened(member, target) => {
                        let Value::Array(items) = v else {
                            return Err(invalid(&at, "must be an array"));
                        };
                        let (_, item_shape) = wire::list_item(model, target, &at)?;
                        for (i, item_value) in items.iter().enumerate() {
                            write_value(
                                model,
                                wire_name,
                                None,
                                item_shape,
                                item_value,
                                &child(&at, &i.to_string()),
                                &mut body,
                            )?;
                        }
                    }
                    _ => write_value(
                        model,
                        wire_name,
                        member.xml_namespace.as_ref(),
                        target,
                        v,
                        &at,
                        &mut body,
                    )?,
                }
            }
            out.push_str(&format!("<{name}{attributes}>{body}</{name}>"));
        }
        ShapeType::List => {
            let Value::Array(items) = value else {
                return Err(invalid(path, "must be an array"));
            };
            let (item, item_shape) = wire::list_item(model, shape, path)?;
            let item_name = item.location_name.as_deref().unwrap_or("member");
            out.push_str(&format!("<{name}{}>", namespace_attribute(namespace)));
            for (i, v) in items.iter().enumerate() {
                write_value(
                    model,
                    item_name,
                    None,
                    item_shape,
                    v,
                    &child(path, &i.to_string()),
                    out,
                )?;
            }
            out.push_str(&format!("</{name}>"));
        }
        ShapeType::Map => {
            let Value::Object(entries) = value else {
                return Err(invalid(path, "must be an object"));
            };
            let key_name = shape
                .key
                .as_ref()
                .and_then(|k| k.location_name.as_deref())
                .unwrap_or("key");
            let (value_member, value_shape) = wire::map_value(model, shape, path)?;
            let value_name = value_member.location_name.as_deref().unwrap_or("value");
            out.push_str(&format!("<{name}{}>", namespace_attribute(namespace)));
            for (k, v) in entries {
                out.push_str(&format!("<entry><{key_name}>{}</{key_name}>", escape(k)));
                write_value(
                    model,
                    value_name,
                    None,
                    value_shape,
                    v,
                    &child(path, k),
                    out,
                )?;
                out.push_str("</entry>");
            }
            out.push_str(&format!("</{name}>"));
        }
        _ => {
            let text = match shape.kind {
                ShapeType::Timestamp => {
                    let format = match shape.timestamp_format.as_deref() {
                        Some("rfc822") => TimeFormat::Rfc822,
                        Some("unixTimestamp") => TimeFormat::Epoch,
                        _ => TimeFormat::Iso8601,
                    };
                    wire::format_time(wire::timestamp_param(value, path)?, format)
                }
                ShapeType::Blob => base64(&blob_bytes(value)),
                _ => wire::scalar_text(shape, value, TimeFormat::Iso8601, path)?,
            };
            out.push_str(&format!(
                "<{name}{}>{}</{name}>",
                namespace_attribute(namespace),
                escape(&text)
            ));
        }
    }
    Ok(())
}

fn scalar(target: &Shape, member: &Member, value: &Value, path: &str) -> Result<String, String> {
    let format = TimeFormat::of(member, target, TimeFormat::Iso8601);
    wire::scalar_text(target, value, format, path)
}

/// The code and message of an error body: restXml's `<Error>` (S3's bare form or inside
/// `<ErrorResponse>`), awsQuery's `<ErrorResponse><Error>`, ec2Query's
/// `<Response><Errors><Error>`.
pub(crate) fn error(body: &[u8]) -> Option<WireError> {
    let root = parse(body).ok()?;
    let error = if root.name == "Error" {
        &root
    } else {
        root.child("Error")
            .or_else(|| root.child("Errors").and_then(|e| e.child("Error")))?
    };
    let code = error.child("Code").map(|c| c.text.trim().to_string())?;
    let message = error
        .child("Message")
        .or_else(|| error.child("message"))
        .map(|m| m.text.trim().to_string())
        .unwrap_or_default();
    Some(WireError { code, message })
}

/// The request id of an XML body: `RequestId` or `RequestID` at the top, or in
/// `ResponseMetadata`.
pub(crate) fn request_id(body: &[u8]) -> Option<String> {
    if !body.starts_with(b"<") && !body.trim_ascii_start().starts_with(b"<") {
        return None;
    }
    let root = parse(body).ok()?;
    let find = |e: &Element| {
        e.children
            .iter()
            .find(|c| c.name == "RequestId" || c.name == "RequestID" || c.name == "requestId")
            .map(|c| c.text.trim().to_string())
    };
    find(&root).or_else(|| root.child("ResponseMetadata").and_then(find))
}

#[cfg(test)]
#[path = "xml_tests.rs"]
mod tests;
