//! Definition validation: is a state machine definition one Step Functions would accept?
//!
//! Two layers. The JSON Schema `schemas/asl.schema.json` owns the shapes: which fields each
//! state type has in each query language, their JSON types and ranges, and unknown fields. The
//! code here owns what a schema cannot say: duplicate keys in the text, transitions (`StartAt`,
//! `Next`, `Default`, a catcher's `Next`) that name a state of their own scope (the top level, a
//! Parallel branch or a Map item processor), reachability, `Next` versus `End`, mutually
//! exclusive fields, state names, retrier and catcher ordering around `States.ALL`, resource
//! ARNs, paths, intrinsic function calls, and JSONata expressions (their `{% %}` surround and
//! their syntax, checked by `asl::jsonata::syntax`, a recognizer modelled on the JSONata
//! 2.0.6 parser).
//!
//! Choice rules are checked by [`crate::asl::choice::ChoiceRule::parse`] and intrinsic calls by
//! [`crate::asl::intrinsics::Intrinsic::parse`]; paths are compiled by
//! [`crate::asl::path::Path::parse`]. Building the runtime model is left to the parser.
//!
//! Every problem is reported, each as a [`Diagnostic`] with the JSON Pointer of the offending
//! value.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::asl::choice::ChoiceRule;
use crate::asl::diagnostic::{join, Diagnostic};
use crate::asl::intrinsics::Intrinsic;
use crate::asl::nesting;
use crate::asl::path::Path;

mod checker;
mod express;
mod integrations;
mod jackson;
mod quotas;
mod reader_config;
pub use jackson::message as jackson_message;
#[cfg(test)]
mod tests;
mod values;

pub use express::{express_violations, express_violations_text};
pub use quotas::{definition_too_large, MAX_DEFINITION_CHARS, MAX_SECONDS};

use checker::*;
use quotas::TIME_FIELDS;
use values::*;

/// The JSON Schema of a definition, embedded at build time.
const SCHEMA: &str = include_str!("../../../schemas/asl.schema.json");

/// AWS: "The name of the state ... must be 80 characters or fewer".
const MAX_STATE_NAME_CHARS: usize = 80;

/// Deepest nesting of arrays and objects `validate` walks: Jackson's, as for text.
const MAX_NESTING: usize = crate::asl::nesting::MAX_JSON_NESTING;

/// The eight state types.
const STATE_TYPES: [&str; 8] = [
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// Validates a definition given as JSON text: its size (AWS's 1,048,576 characters), JSON
/// syntax and duplicate keys (which `serde_json::Value` would silently drop), then everything
/// [`validate`] checks.
///
/// # Errors
/// Every problem found, each located by a JSON Pointer; a syntax error alone when the text is
/// not JSON.
pub fn validate_text(text: &str) -> Result<Value, Vec<Diagnostic>> {
    if let Some(diag) = definition_too_large(text) {
        return Err(vec![diag]);
    }
    let (depth, beyond) = nesting::measure(text);
    if let Some((line, column)) = beyond {
        return Err(vec![jackson::too_deep(text, line, column)]);
    }
    nesting::with_stack_for(depth, || {
        let duplicates = RefCell::new(Vec::new());
        let mut de = serde_json::Deserializer::from_str(text);
        // Depth was measured above: as deep as Jackson reads, on a stack that has room.
        de.disable_recursion_limit();
        let parsed = ValueSeed {
            pointer: String::new(),
            duplicates: &duplicates,
        }
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
        let value = match parsed {
            Ok(value) => value,
            Err(err) => return Err(vec![jackson::diagnostic(text, &err)]),
        };
        let mut diags = duplicates.into_inner();
        diags.extend(validate(&value));
        if diags.is_empty() {
            Ok(value)
        } else {
            Err(diags)
        }
    })
}

/// Validates a parsed definition against the JSON Schema and the semantic rules of the
/// Amazon States Language. Returns every problem found (empty when the definition is valid),
/// each with the JSON Pointer of the offending value and a message.
pub fn validate(definition: &Value) -> Vec<Diagnostic> {
    if nesting_exceeds(definition, MAX_NESTING) {
        return vec![Diagnostic::new(
            "",
            format!("definition is nested more than {MAX_NESTING} levels deep"),
        )];
    }
    let top = match definition.get("QueryLanguage") {
        Some(Value::String(s)) if s == "JSONata" => QueryLanguage::Jsonata,
        _ => QueryLanguage::JsonPath,
    };
    let mut annotated = definition.clone();
    if let Value::Object(machine) = &mut annotated {
        annotate(machine, top);
    }
    let mut diags = schema_diagnostics(&annotated);
    let mut checker = Checker {
        diags: Vec::new(),
        names: HashMap::new(),
        top,
    };
    if let Value::Object(machine) = definition {
        checker.collect_names(machine, "");
        checker.machine(machine, "");
    }
    diags.append(&mut checker.diags);
    if top == QueryLanguage::Jsonata {
        if let Value::Object(machine) = definition {
            downgrades(machine, "", &mut diags);
        }
    }
    let mut seen = HashSet::new();
    diags.retain(|d| seen.insert((d.pointer.clone(), d.message.clone())));
    diags
}

/// A string as a JSON literal, for messages: `"B"`.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// True when `value` nests arrays and objects more than `limit` levels deep.
fn nesting_exceeds(value: &Value, limit: usize) -> bool {
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth >= limit {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

// ---------------------------------------------------------------------------------------------
// JSON text with duplicate keys

/// Deserializes a `Value` like serde_json does, noting every duplicate key on the way.
struct ValueSeed<'d> {
    pointer: String,
    duplicates: &'d RefCell<Vec<Diagnostic>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = ValueSeed {
                pointer: join(&self.pointer, items.len()),
                duplicates: self.duplicates,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let pointer = join(&self.pointer, &key);
            let value = access.next_value_seed(ValueSeed {
                pointer: pointer.clone(),
                duplicates: self.duplicates,
            })?;
            if map.contains_key(&key) {
                self.duplicates.borrow_mut().push(Diagnostic::new(
                    pointer,
                    format!("duplicate field {}", quote(&key)),
                ));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

// ---------------------------------------------------------------------------------------------
// Query languages

/// The query language of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryLanguage {
    JsonPath,
    Jsonata,
}

impl QueryLanguage {
    /// The language `state` declares, or `inherited`.
    fn of(state: &Map<String, Value>, inherited: QueryLanguage) -> QueryLanguage {
        match state.get("QueryLanguage").and_then(Value::as_str) {
            Some("JSONata") => QueryLanguage::Jsonata,
            Some("JSONPath") => QueryLanguage::JsonPath,
            _ => inherited,
        }
    }
}

/// States that set `QueryLanguage` to JSONPath in a JSONata state machine: AWS does not let a
/// state downgrade the machine's language.
fn downgrades(machine: &Map<String, Value>, at: &str, diags: &mut Vec<Diagnostic>) {
    let Some(Value::Object(states)) = machine.get("States") else {
        return;
    };
    for (name, state) in states {
        let Value::Object(state) = state else {
            continue;
        };
        let here = join(&format!("{at}/States"), name);
        if state.get("QueryLanguage").and_then(Value::as_str) == Some("JSONPath") {
            diags.push(
                Diagnostic::new(
                    here.clone(),
                    "a state cannot set QueryLanguage JSONPath in a JSONata state machine",
                )
                .worded_by_aws(
                    "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
                ),
            );
        }
        // A Distributed Map's item processor runs as child executions of its own, which may
        // use either language.
        let distributed = state
            .get("ItemProcessor")
            .and_then(|p| p.pointer("/ProcessorConfig/Mode"))
            .and_then(Value::as_str)
            == Some("DISTRIBUTED");
        for (path, nested) in nested_machines(state) {
            if distributed && (path == "/ItemProcessor" || path == "/Iterator") {
                continue;
            }
            downgrades(nested, &format!("{here}{path}"), diags);
        }
    }
}

/// The nested state machines of a state: Parallel branches, a Map's item processor.
fn nested_machines(state: &Map<String, Value>) -> Vec<(String, &Map<String, Value>)> {
    let mut nested = Vec::new();
    if let Some(Value::Array(branches)) = state.get("Branches") {
        for (i, branch) in branches.iter().enumerate() {
            if let Value::Object(machine) = branch {
                nested.push((format!("/Branches/{i}"), machine));
            }
        }
    }
    for key in ["ItemProcessor", "Iterator"] {
        if let Some(Value::Object(machine)) = state.get(key) {
            nested.push((format!("/{key}"), machine));
        }
    }
    nested
}

/// Writes the effective `QueryLanguage` into every state that does not declare one, so the
/// schema can pick the state's field set. States in Parallel branches and Map item processors
/// inherit the top-level language, not the enclosing state's (as AWS validates them).
fn annotate(machine: &mut Map<String, Value>, top: QueryLanguage) {
    let Some(Value::Object(states)) = machine.get_mut("States") else {
        return;
    };
    for state in states.values_mut() {
        let Value::Object(state) = state else {
            continue;
        };
        if !state.contains_key("QueryLanguage") {
            let name = match top {
                QueryLanguage::JsonPath => "JSONPath",
                QueryLanguage::Jsonata => "JSONata",
            };
            state.insert("QueryLanguage".to_string(), Value::String(name.to_string()));
        }
        if let Some(Value::Array(branches)) = state.get_mut("Branches") {
            for branch in branches {
                if let Value::Object(branch) = branch {
                    annotate(branch, top);
                }
            }
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(Value::Object(processor)) = state.get_mut(key) {
                annotate(processor, top);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON Schema

/// The state types in the order AWS lists them in its messages.
const STATE_TYPES_AWS_ORDER: [&str; 8] = [
    "Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map",
];

/// The parsed schema and its compiled validator, built once.
fn schema() -> &'static (Value, jsonschema::Validator) {
    static SCHEMA_CELL: OnceLock<(Value, jsonschema::Validator)> = OnceLock::new();
    SCHEMA_CELL.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(SCHEMA).expect("schemas/asl.schema.json is valid JSON");
        let validator =
            jsonschema::validator_for(&schema).expect("schemas/asl.schema.json is a valid schema");
        (schema, validator)
    })
}

/// Validates `annotated` (a definition with every state's `QueryLanguage` filled in) against
/// the schema and turns each error into a diagnostic.
fn schema_diagnostics(annotated: &Value) -> Vec<Diagnostic> {
    let (schema, validator) = schema();
    let mut diags = Vec::new();
    for error in validator.iter_errors(annotated) {
        let pointer = error.instance_path().as_str().to_string();
        let instance: &Value = error.instance().as_ref();
        let message = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for field in unexpected {
                    diags.push(Diagnostic::new(
                        join(&pointer, field),
                        unknown_field_message(schema, annotated, &pointer, field),
                    ));
                }
                continue;
            }
            ValidationErrorKind::Required { property } => {
                let name = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_string);
                diags.push(Diagnostic::new(
                    pointer,
                    format!("missing required field {}", quote(&name)),
                ));
                continue;
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(ty) => ty.as_str().to_string(),
                    TypeKind::Multiple(set) => set
                        .iter()
                        .map(|ty| ty.as_str())
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                format!("expected {expected}, got {}", json_type(instance))
            }
            ValidationErrorKind::Enum { options } => {
                let items: Vec<&Value> = match &**options {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                let quoted: Vec<String> = items.iter().map(|v| v.to_string()).collect();
                let message = format!("expected one of {}, got {instance}", quoted.join(", "));
                let field = pointer.rsplit('/').next().unwrap_or_default().to_string();
                // AWS lists the state types in its own order.
                let values: Vec<String> = if field == "Type" && pointer.contains("/States/") {
                    STATE_TYPES_AWS_ORDER
                        .iter()
                        .map(|t| t.to_string())
                        .collect()
                } else {
                    items
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .collect()
                };
                diags.push(Diagnostic::new(pointer, message).worded_by_aws(format!(
                    "The field '{field}' should have one of these values: [{}]",
                    values.join(", ")
                )));
                continue;
            }
            ValidationErrorKind::Constant { expected_value } => {
                format!("expected {expected_value}, got {instance}")
            }
            ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
            ValidationErrorKind::Maximum { limit } => {
                let field = pointer.rsplit('/').next().unwrap_or_default();
                let mut diag = Diagnostic::new(pointer.clone(), format!("must be at most {limit}"));
                // AWS (a CloudFormation deployment's error, cfn-lint issue 4075):
                // "SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/Wait/Seconds".
                if TIME_FIELDS.contains(&field) {
                    diag = diag.worded_by_aws(format!("Maximum value is {limit}"));
                }
                diags.push(diag);
                continue;
            }
            ValidationErrorKind::MinItems { limit: 1 }
            | ValidationErrorKind::MinProperties { limit: 1 } => {
                diags.push(
                    Diagnostic::new(pointer, "must not be empty")
                        .worded_by_aws("Value cannot be empty"),
                );
                continue;
            }
            ValidationErrorKind::MinItems { limit } => format!("must have at least {limit} items"),
            _ => lowercase_first(&error.to_string()),
        };
        diags.push(Diagnostic::new(pointer, message));
    }
    word_required_as_aws(&mut diags);
    diags
}

/// Gives the missing-field diagnostics of each object AWS's one message,
/// `These fields are required: [States, StartAt]` (the fields in the order AWS recorded them).
fn word_required_as_aws(diags: &mut [Diagnostic]) {
    let missing = |d: &Diagnostic| {
        d.message
            .strip_prefix("missing required field ")
            .map(|q| q.trim_matches('"').to_string())
    };
    let mut by_pointer: HashMap<String, Vec<String>> = HashMap::new();
    for d in diags.iter() {
        if let Some(name) = missing(d) {
            by_pointer.entry(d.pointer.clone()).or_default().push(name);
        }
    }
    for d in diags.iter_mut() {
        if missing(d).is_some() {
            if let Some(names) = by_pointer.get(&d.pointer) {
                let mut names = names.clone();
                names.reverse();
                d.aws = Some(format!("These fields are required: [{}]", names.join(", ")));
            }
        }
    }
}

/// The JSON type of `value`, as schema messages name it.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Explains why `field` is not allowed in the object at `pointer`: for a state, names its type
/// or the query language the field belongs to.
fn unknown_field_message(schema: &Value, doc: &Value, pointer: &str, field: &str) -> String {
    let is_state = pointer
        .rsplit_once('/')
        .is_some_and(|(parent, _)| parent.ends_with("/States"));
    let state = doc.pointer(pointer).and_then(Value::as_object);
    let state_type = state
        .and_then(|s| s.get("Type"))
        .and_then(Value::as_str)
        .filter(|t| STATE_TYPES.contains(t));
    let (Some(state), Some(state_type), true) = (state, state_type, is_state) else {
        return format!("unknown field {}", quote(field));
    };
    let language = QueryLanguage::of(state, QueryLanguage::JsonPath);
    let (other, other_name, this_name) = match language {
        QueryLanguage::JsonPath => ("Jsonata", "JSONata", "JSONPath"),
        QueryLanguage::Jsonata => ("JsonPath", "JSONPath", "JSONata"),
    };
    let def = format!("{}{other}", state_type.to_lowercase());
    let in_other = schema
        .get("$defs")
        .and_then(|defs| defs.get(def))
        .and_then(|d| d.get("properties"))
        .is_some_and(|props| props.get(field).is_some());
    if in_other {
        format!(
            "field {} is only supported in {other_name} states, and this state's QueryLanguage is {this_name}",
            quote(field)
        )
    } else {
        format!(
            "field {} is not supported in a {state_type} state",
            quote(field)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// What the semantic checks (checker.rs, values.rs) share

/// How strictly a path field is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathRule {
    /// Any path (`InputPath`, `OutputPath`, a payload template's `.$` value): queries allowed.
    Any,
    /// A reference path: `ItemsPath` and the `...Path` fields of Wait, Task, Map. AWS's
    /// current documentation allows filters there (`$.jar[?(@.a >= 5)]`) but not functions,
    /// lexical operators, regular expressions or comparisons with another value.
    Reference,
    /// `ResultPath`: a reference path on `$` (no `$$`, no variables).
    Result,
}

/// Fields that take an integer (or, in JSONata, an expression) rather than any value.
const NUMERIC_OR_EXPRESSION: [&str; 6] = [
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "Seconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
];

/// Fields of a JSONata state that are never evaluated as JSONata.
const NOT_EVALUATED: [&str; 13] = [
    "Type",
    "Comment",
    "QueryLanguage",
    "Next",
    "End",
    "Default",
    "Resource",
    "Retry",
    "Label",
    "Branches",
    "ItemProcessor",
    "Iterator",
    "Choices",
];
