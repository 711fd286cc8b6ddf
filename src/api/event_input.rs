//! What an event rule's target starts its execution with: the event itself, or the target's
//! `Input` (a constant), `InputPath` (a JSONPath into the event) or `InputTransformer`
//! (`InputPathsMap` of JSONPaths, and an `InputTemplate` with `<name>` placeholders), as
//! EventBridge documents them; and the checks `PutTargets` makes of them, so a target that
//! could never deliver is refused before it is stored.
//!
//! Template rules (EventBridge's user guide, "Transforming target input"): in a JSON template a
//! string value put where a value goes is quoted, one put inside a quoted string is inserted
//! as its text; objects, arrays, numbers, booleans and null go in as JSON. A template that is
//! not JSON (`"<source> sent <count> items"`) becomes one JSON string, as EventBridge sends
//! such text, unless what it renders to is JSON already (`"<detail>"`).

use serde_json::{Map, Value};

use super::{err, ApiError, Exception};
use crate::asl::path::{Path, Scope};
use crate::scheduler::record::{RuleRecord, RuleTarget};

/// The placeholders every template may use without declaring them.
const PREDEFINED: [&str; 5] = [
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event",
    "aws.events.event.json",
    "aws.events.event.ingestion-time",
];

fn validation(message: impl Into<String>) -> ApiError {
    err(Exception::ValidationException, message)
}

/// Checks a target's `Input`, `InputPath` and `InputTransformer` (`index` from 1, for the
/// messages) and keeps them on `target`.
///
/// # Errors
/// A `ValidationException` worded as EventBridge words it where its wording is known.
pub(super) fn check_input(
    spec: &Map<String, Value>,
    index: usize,
    target: &mut RuleTarget,
) -> Result<(), ApiError> {
    let id = target.id.clone();
    let given = |name: &str| spec.get(name).is_some_and(|v| !v.is_null());
    let count = ["Input", "InputPath", "InputTransformer"]
        .iter()
        .filter(|n| given(n))
        .count();
    if count > 1 {
        return Err(validation(format!(
            "Only one of Input, InputPath, or InputTransformer must be provided for target {id}."
        )));
    }
    let string = |name: &str, member: &str| -> Result<Option<String>, ApiError> {
        match spec.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(validation(format!(
                "1 validation error detected: Value at 'targets.{index}.member.{member}' failed to satisfy constraint: Member must be a string"
            ))),
        }
    };
    if let Some(input) = string("Input", "input")? {
        if serde_json::from_str::<Value>(&input).is_err() {
            return Err(validation(format!(
                "Parameter Input is not valid. Reason: the Input of target {id} is not valid JSON."
            )));
        }
        target.input = Some(input);
    }
    if let Some(path) = string("InputPath", "inputPath")? {
        Path::parse(&path).map_err(|e| {
            validation(format!(
                "Parameter InputPath is not valid. Reason: target {id}: {e}."
            ))
        })?;
        target.input_path = Some(path);
    }
    match spec.get("InputTransformer") {
        None | Some(Value::Null) => {}
        Some(Value::Object(transformer)) => {
            check_transformer(transformer, index, &id)?;
            target.input_transformer = Some(Value::Object(transformer.clone()));
        }
        Some(_) => {
            return Err(validation(format!(
                "1 validation error detected: Value at 'targets.{index}.member.inputTransformer' failed to satisfy constraint: Member must be a structure"
            )))
        }
    }
    Ok(())
}

fn check_transformer(
    transformer: &Map<String, Value>,
    index: usize,
    id: &str,
) -> Result<(), ApiError> {
    let Some(Value::String(template)) = transformer.get("InputTemplate") else {
        return Err(validation(format!(
            "1 validation error detected: Value null at 'targets.{index}.member.inputTransformer.inputTemplate' failed to satisfy constraint: Member must not be null"
        )));
    };
    let mut declared = Vec::new();
    match transformer.get("InputPathsMap") {
        None | Some(Value::Null) => {}
        Some(Value::Object(paths)) => {
            for (key, path) in paths {
                let Value::String(path) = path else {
                    return Err(validation(format!(
                        "InputPathsMap for target {id} maps {key} to a value that is not a string."
                    )));
                };
                Path::parse(path).map_err(|e| {
                    validation(format!(
                        "InputPathsMap for target {id} contains an invalid JSONPath for {key}: {e}."
                    ))
                })?;
                declared.push(key.as_str());
            }
        }
        Some(_) => {
            return Err(validation(format!(
                "1 validation error detected: Value at 'targets.{index}.member.inputTransformer.inputPathsMap' failed to satisfy constraint: Member must be a map"
            )))
        }
    }
    for name in placeholders(template) {
        if !declared.contains(&name) && !PREDEFINED.contains(&name) {
            return Err(validation(format!(
                "InputTemplate for target {id} contains invalid placeholder {name}."
            )));
        }
    }
    Ok(())
}

/// A placeholder's name: `<` and `>` around letters, digits, `_`, `-` and `.`.
fn placeholder_at(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('<')?;
    let end = rest.find('>')?;
    let name = &rest[..end];
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    valid.then_some(name)
}

/// The placeholders of `template`, in order.
fn placeholders(template: &str) -> Vec<&str> {
    template
        .char_indices()
        .filter(|(_, c)| *c == '<')
        .filter_map(|(i, _)| placeholder_at(&template[i..]))
        .collect()
}

/// The input text of an execution `target` of `rule` starts for `event`.
///
/// # Errors
/// Why no input could be made (a template that renders to nothing JSON can carry).
pub(super) fn target_input(
    target: &RuleTarget,
    rule: &RuleRecord,
    event: &Value,
) -> Result<String, String> {
    if let Some(input) = &target.input {
        return Ok(input.clone());
    }
    let lookup = |path: &str| -> Value {
        Path::parse(path)
            .ok()
            .and_then(|p| p.eval(&Scope::new(event, &Value::Null)).ok())
            .unwrap_or(Value::Null)
    };
    if let Some(path) = &target.input_path {
        return Ok(lookup(path).to_string());
    }
    let Some(transformer) = &target.input_transformer else {
        return Ok(event.to_string());
    };
    let template = transformer
        .get("InputTemplate")
        .and_then(Value::as_str)
        .ok_or("the target's InputTransformer has no InputTemplate")?;
    let paths = transformer.get("InputPathsMap").and_then(Value::as_object);
    let value_of = |name: &str| -> Option<Value> {
        if let Some(path) = paths.and_then(|p| p.get(name)).and_then(Value::as_str) {
            return Some(lookup(path));
        }
        match name {
            "aws.events.rule-arn" => Some(Value::String(rule.arn.clone())),
            "aws.events.rule-name" => Some(Value::String(rule.name.clone())),
            "aws.events.event" | "aws.events.event.json" => Some(event.clone()),
            "aws.events.event.ingestion-time" => event.get("time").cloned(),
            _ => None,
        }
    };
    Ok(render(template, &value_of))
}

/// `template` with its placeholders replaced (see the module's rules).
fn render(template: &str, value_of: &dyn Fn(&str) -> Option<Value>) -> String {
    let json = matches!(template.trim_start().chars().next(), Some('{' | '['));
    let mut out = String::with_capacity(template.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some((name, value)) =
                placeholder_at(rest).and_then(|n| value_of(n).map(|v| (n, v)))
            {
                let text = match (&value, json, in_string) {
                    // Inside a JSON string: the text, escaped as string content.
                    (Value::String(s), true, true) => escape(s),
                    (other, true, true) => escape(&other.to_string()),
                    (other, true, false) => other.to_string(),
                    (Value::String(s), false, _) => s.clone(),
                    (other, false, _) => other.to_string(),
                };
                out.push_str(&text);
                rest = &rest[name.len() + 2..];
                continue;
            }
        }
        if json {
            if !in_string {
                in_string = c == '"';
            } else if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if json || serde_json::from_str::<Value>(&out).is_ok() {
        out
    } else {
        Value::String(out).to_string()
    }
}

/// `text` as the content of a JSON string (escaped, no quotes).
fn escape(text: &str) -> String {
    let quoted = Value::String(text.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule() -> RuleRecord {
        RuleRecord {
            name: "r".into(),
            bus: "default".into(),
            arn: "arn:aws:events:us-east-1:111111111111:rule/r".into(),
            event_pattern: None,
            schedule_expression: None,
            state: "ENABLED".into(),
            description: None,
            role_arn: None,
            targets: Vec::new(),
            tags: Default::default(),
            created: 0,
        }
    }

    fn target(spec: Value) -> Result<RuleTarget, ApiError> {
        let mut t = RuleTarget {
            id: "t1".into(),
            arn: "arn:aws:states:us-east-1:111111111111:stateMachine:m".into(),
            role_arn: None,
            input: None,
            input_path: None,
            input_transformer: None,
        };
        check_input(spec.as_object().expect("object"), 1, &mut t)?;
        Ok(t)
    }

    fn event() -> Value {
        json!({"source": "shop", "detail-type": "Order", "detail": {"id": "o-1", "n": 3, "tags": ["a"]}})
    }

    #[test]
    fn without_input_the_event_is_the_input() {
        let t = target(json!({})).expect("target");
        let text = target_input(&t, &rule(), &event()).expect("input");
        assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), event());
    }

    #[test]
    fn input_path_picks_part_of_the_event() {
        let t = target(json!({"InputPath": "$.detail"})).expect("target");
        assert_eq!(
            target_input(&t, &rule(), &event()).expect("input"),
            r#"{"id":"o-1","n":3,"tags":["a"]}"#
        );
    }

    #[test]
    fn constant_input_replaces_the_event() {
        let t = target(json!({"Input": "{\"fixed\": true}"})).expect("target");
        assert_eq!(
            target_input(&t, &rule(), &event()).expect("input"),
            "{\"fixed\": true}"
        );
    }

    #[test]
    fn json_template_quotes_strings_outside_quotes_and_not_inside() {
        let t = target(json!({"InputTransformer": {
            "InputPathsMap": {"id": "$.detail.id", "n": "$.detail.n", "tags": "$.detail.tags"},
            "InputTemplate": "{\"order\": <id>, \"text\": \"order <id> of <n>\", \"n\": <n>, \"tags\": <tags>, \"rule\": <aws.events.rule-name>}"
        }}))
        .expect("target");
        let text = target_input(&t, &rule(), &event()).expect("input");
        assert_eq!(
            serde_json::from_str::<Value>(&text).expect("json"),
            json!({"order": "o-1", "text": "order o-1 of 3", "n": 3, "tags": ["a"], "rule": "r"})
        );
    }

    #[test]
    fn text_template_becomes_a_json_string() {
        let t = target(json!({"InputTransformer": {
            "InputPathsMap": {"source": "$.source"},
            "InputTemplate": "<source> sent an order"
        }}))
        .expect("target");
        assert_eq!(
            target_input(&t, &rule(), &event()).expect("input"),
            "\"shop sent an order\""
        );
    }

    #[test]
    fn undeclared_placeholder_is_refused_with_awss_message() {
        let e = target(json!({"InputTransformer": {
            "InputPathsMap": {"id": "$.detail.id"},
            "InputTemplate": "{\"a\": <notdefinedkey>}"
        }}))
        .expect_err("refused");
        assert_eq!(e.kind, Exception::ValidationException);
        assert_eq!(
            e.message,
            "InputTemplate for target t1 contains invalid placeholder notdefinedkey."
        );
    }

    #[test]
    fn two_input_kinds_are_refused_with_awss_message() {
        let e = target(json!({"Input": "{}", "InputPath": "$.detail"})).expect_err("refused");
        assert_eq!(
            e.message,
            "Only one of Input, InputPath, or InputTransformer must be provided for target t1."
        );
    }

    #[test]
    fn input_that_is_not_json_is_refused() {
        let e = target(json!({"Input": "{nope"})).expect_err("refused");
        assert_eq!(e.kind, Exception::ValidationException);
        assert!(e.message.contains("target t1"), "{}", e.message);
    }
}
