//! Definition validation: is a state machine definition one Step Functions would accept?
//!
//! Two layers. The JSON Schema `schemas/asl.schema.json` owns the shapes: which fields each
//! state type has in each query language, their JSON types and ranges, and unknown fields. The
//! code here owns what a schema cannot say: duplicate keys in the text, transitions (`StartAt`,
//! `Next`, `Default`, a catcher's `Next`) that name a state of their own scope (the top level, a
//! Parallel branch or a Map item processor), reachability, `Next` versus `End`, mutually
//! exclusive fields, state names, retrier and catcher ordering around `States.ALL`, resource
//! ARNs, paths, intrinsic function calls, and JSONata expressions (their `{% %}` surround and
//! their syntax, checked by a recognizer modelled on the JSONata 2.0.6 parser).
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
use crate::asl::path::Path;

/// The JSON Schema of a definition, embedded at build time.
const SCHEMA: &str = include_str!("../../schemas/asl.schema.json");

/// AWS: "The name of the state ... must be 80 characters or fewer".
const MAX_STATE_NAME_CHARS: usize = 80;

/// Deepest nesting of arrays and objects `validate` walks. Text parsed by serde_json stops at
/// 128 levels, so only a hand-built value can exceed this.
const MAX_NESTING: usize = 256;

/// The eight state types.
const STATE_TYPES: [&str; 8] = [
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// Validates a definition given as JSON text: JSON syntax and duplicate keys (which
/// `serde_json::Value` would silently drop), then everything [`validate`] checks.
///
/// # Errors
/// Every problem found, each located by a JSON Pointer; a syntax error alone when the text is
/// not JSON.
pub fn validate_text(text: &str) -> Result<Value, Vec<Diagnostic>> {
    let duplicates = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = ValueSeed {
        pointer: String::new(),
        duplicates: &duplicates,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    let value = match parsed {
        Ok(value) => value,
        Err(err) => return Err(vec![Diagnostic::new("", format!("invalid JSON: {err}"))]),
    };
    let mut diags = duplicates.into_inner();
    diags.extend(validate(&value));
    if diags.is_empty() {
        Ok(value)
    } else {
        Err(diags)
    }
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
            ValidationErrorKind::Required { property } => match property.as_str() {
                Some(name) => format!("missing required field {}", quote(name)),
                None => format!("missing required field {property}"),
            },
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
                let options = match &**options {
                    Value::Array(items) => items
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                format!("expected one of {options}, got {instance}")
            }
            ValidationErrorKind::Constant { expected_value } => {
                format!("expected {expected_value}, got {instance}")
            }
            ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
            ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
            ValidationErrorKind::MinItems { limit: 1 }
            | ValidationErrorKind::MinProperties { limit: 1 } => "must not be empty".to_string(),
            ValidationErrorKind::MinItems { limit } => format!("must have at least {limit} items"),
            _ => lowercase_first(&error.to_string()),
        };
        diags.push(Diagnostic::new(pointer, message));
    }
    diags
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
// Semantic checks

/// How strictly a path field is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathRule {
    /// Any path (`InputPath`, `OutputPath`, a payload template's `.$` value): queries allowed.
    Any,
    /// A reference path (one node): `ItemsPath` and the `...Path` fields of Wait, Task, Map.
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

struct Checker<'a> {
    diags: Vec<Diagnostic>,
    /// Every state name, with the JSON Pointer of the `States` object that defines it first.
    names: HashMap<&'a str, String>,
    top: QueryLanguage,
}

impl<'a> Checker<'a> {
    fn report(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(pointer, message));
    }

    /// Records every state name of the machine and its nested machines, reporting names used
    /// twice (AWS: state names must be unique within the whole state machine) and names that
    /// are too long.
    fn collect_names(&mut self, machine: &'a Map<String, Value>, pointer: &str) {
        let Some(Value::Object(states)) = machine.get("States") else {
            return;
        };
        let states_pointer = join(pointer, "States");
        for (name, state) in states {
            let at = join(&states_pointer, name);
            if name.chars().count() > MAX_STATE_NAME_CHARS {
                self.report(
                    at.clone(),
                    format!(
                        "state name {} is longer than {MAX_STATE_NAME_CHARS} characters",
                        quote(name)
                    ),
                );
            }
            match self.names.get(name.as_str()) {
                Some(first) => {
                    let message = format!(
                        "duplicate state name {}, first defined in {first}",
                        quote(name)
                    );
                    self.report(at.clone(), message);
                }
                None => {
                    self.names.insert(name, states_pointer.clone());
                }
            }
            if let Value::Object(state) = state {
                for (suffix, nested) in nested_machines(state) {
                    self.collect_names(nested, &format!("{at}{suffix}"));
                }
            }
        }
    }

    /// Checks one state machine scope (the top level, a branch or an item processor) and the
    /// scopes nested in it.
    fn machine(&mut self, machine: &'a Map<String, Value>, pointer: &str) {
        let Some(Value::Object(states)) = machine.get("States") else {
            return;
        };
        let states_pointer = join(pointer, "States");
        let start = machine.get("StartAt").and_then(Value::as_str);
        if let Some(start) = start {
            if !states.contains_key(start) {
                self.report(
                    join(pointer, "StartAt"),
                    self.missing_target_message(start, &states_pointer),
                );
            }
        }
        for (name, state) in states {
            let Value::Object(state) = state else {
                continue;
            };
            let at = join(&states_pointer, name);
            let language = QueryLanguage::of(state, self.top);
            self.state(state, &at, language, states, &states_pointer);
            for (suffix, nested) in nested_machines(state) {
                self.machine(nested, &format!("{at}{suffix}"));
            }
        }
        if let Some(start) = start.filter(|s| states.contains_key(*s)) {
            self.reachability(states, start, &states_pointer);
        }
    }

    /// Why `target` cannot be reached from a scope whose states are at `states_pointer`.
    fn missing_target_message(&self, target: &str, states_pointer: &str) -> String {
        match self.names.get(target) {
            Some(elsewhere) if elsewhere != states_pointer => format!(
                "state {} is defined in {elsewhere}, outside this scope: transitions cannot cross a Parallel branch or Map item processor",
                quote(target)
            ),
            _ => format!("no state named {}", quote(target)),
        }
    }

    /// Checks that a transition target exists in the scope.
    fn target(
        &mut self,
        pointer: String,
        target: &Value,
        scope: &Map<String, Value>,
        states_pointer: &str,
    ) {
        if let Some(name) = target.as_str() {
            if !scope.contains_key(name) {
                let message = self.missing_target_message(name, states_pointer);
                self.report(pointer, message);
            }
        }
    }

    /// Reports states that no transition reaches from `StartAt`.
    fn reachability(&mut self, states: &Map<String, Value>, start: &str, states_pointer: &str) {
        let mut reached: HashSet<&str> = HashSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(name) = queue.pop_front() {
            let Some(Value::Object(state)) = states.get(name) else {
                continue;
            };
            for next in transitions(state) {
                if states.contains_key(next) && reached.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        for name in states.keys() {
            if !reached.contains(name.as_str()) {
                self.report(
                    join(states_pointer, name),
                    format!("state {} is not reachable from StartAt", quote(name)),
                );
            }
        }
    }

    fn state(
        &mut self,
        state: &'a Map<String, Value>,
        at: &str,
        language: QueryLanguage,
        scope: &Map<String, Value>,
        states_pointer: &str,
    ) {
        let state_type = state.get("Type").and_then(Value::as_str).unwrap_or("");
        let field = |name: &str| join(at, name);

        // Transitions.
        if let Some(next) = state.get("Next") {
            self.target(field("Next"), next, scope, states_pointer);
        }
        if let Some(default) = state.get("Default") {
            self.target(field("Default"), default, scope, states_pointer);
        }
        if matches!(state_type, "Pass" | "Task" | "Wait" | "Parallel" | "Map") {
            let has_next = state.contains_key("Next");
            let has_end = state.get("End") == Some(&Value::Bool(true));
            if has_next && has_end {
                self.report(field("End"), "\"End\" and \"Next\" are mutually exclusive");
            } else if !has_next && !has_end {
                self.report(
                    at,
                    format!("a {state_type} state must have \"Next\" or \"End\": true"),
                );
            }
        }
        if let Some(Value::Array(catchers)) = state.get("Catch") {
            for (i, catcher) in catchers.iter().enumerate() {
                if let Some(next) = catcher.get("Next") {
                    let pointer = join(&join(&field("Catch"), i), "Next");
                    self.target(pointer, next, scope, states_pointer);
                }
            }
            self.error_matchers(&field("Catch"), catchers, "catcher");
        }
        if let Some(Value::Array(retriers)) = state.get("Retry") {
            self.error_matchers(&field("Retry"), retriers, "retrier");
        }

        // Fields that exclude each other. Apart from the item processor, one field of each pair
        // is JSONPath-only, and the schema already rejects it in a JSONata state.
        let pairs: &[[&str; 2]] = match (state_type, language) {
            ("Map", _) => &[["ItemProcessor", "Iterator"]],
            _ => &[],
        };
        let jsonpath_pairs: &[[&str; 2]] = match (state_type, language) {
            ("Task", QueryLanguage::JsonPath) => &[
                ["TimeoutSeconds", "TimeoutSecondsPath"],
                ["HeartbeatSeconds", "HeartbeatSecondsPath"],
            ],
            ("Fail", QueryLanguage::JsonPath) => &[["Error", "ErrorPath"], ["Cause", "CausePath"]],
            ("Map", QueryLanguage::JsonPath) => &[
                ["ItemSelector", "Parameters"],
                ["MaxConcurrency", "MaxConcurrencyPath"],
                ["ToleratedFailureCount", "ToleratedFailureCountPath"],
                [
                    "ToleratedFailurePercentage",
                    "ToleratedFailurePercentagePath",
                ],
            ],
            _ => &[],
        };
        for pair in pairs.iter().chain(jsonpath_pairs) {
            self.at_most_one(state, at, pair);
        }
        match state_type {
            "Wait" => {
                let fields: &[&str] = match language {
                    QueryLanguage::JsonPath => {
                        &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
                    }
                    QueryLanguage::Jsonata => &["Seconds", "Timestamp"],
                };
                self.exactly_one(state, at, "Wait", fields);
            }
            "Map" => {
                if !state.contains_key("ItemProcessor") && !state.contains_key("Iterator") {
                    self.report(
                        at,
                        "a Map state must have \"ItemProcessor\" (or the legacy \"Iterator\")",
                    );
                }
                if let (QueryLanguage::JsonPath, Some(Value::Object(reader))) =
                    (language, state.get("ItemReader"))
                {
                    if let Some(Value::Object(config)) = reader.get("ReaderConfig") {
                        let config_at = join(&field("ItemReader"), "ReaderConfig");
                        self.at_most_one(config, &config_at, &["MaxItems", "MaxItemsPath"]);
                    }
                }
                if let (QueryLanguage::JsonPath, Some(Value::Object(batcher))) =
                    (language, state.get("ItemBatcher"))
                {
                    let batcher_at = field("ItemBatcher");
                    self.at_most_one(
                        batcher,
                        &batcher_at,
                        &["MaxItemsPerBatch", "MaxItemsPerBatchPath"],
                    );
                    self.at_most_one(
                        batcher,
                        &batcher_at,
                        &["MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"],
                    );
                }
            }
            "Task" => {
                let seconds = |name: &str| state.get(name).and_then(Value::as_u64);
                if let (Some(timeout), Some(heartbeat)) =
                    (seconds("TimeoutSeconds"), seconds("HeartbeatSeconds"))
                {
                    if heartbeat >= timeout {
                        self.report(
                            field("HeartbeatSeconds"),
                            "\"HeartbeatSeconds\" must be smaller than \"TimeoutSeconds\"",
                        );
                    }
                }
            }
            _ => {}
        }

        // Resources.
        if let Some(Value::String(resource)) = state.get("Resource") {
            self.resource(field("Resource"), resource);
        }
        for key in ["ItemReader", "ResultWriter"] {
            if let Some(Value::String(resource)) = state.get(key).and_then(|v| v.get("Resource")) {
                self.resource(join(&field(key), "Resource"), resource);
            }
        }

        // Choice rules.
        if state_type == "Choice" {
            if let Some(Value::Array(rules)) = state.get("Choices") {
                for (i, rule) in rules.iter().enumerate() {
                    let rule_at = join(&field("Choices"), i);
                    self.choice_rule(rule, &rule_at, language);
                    if let Some(next) = rule.get("Next") {
                        self.target(join(&rule_at, "Next"), next, scope, states_pointer);
                    }
                }
            }
        }

        match language {
            QueryLanguage::JsonPath => self.jsonpath_fields(state, at),
            QueryLanguage::Jsonata => self.jsonata_fields(state, at),
        }
    }

    /// Checks the `ErrorEquals` of retriers or catchers around `States.ALL`.
    fn error_matchers(&mut self, pointer: &str, matchers: &[Value], what: &str) {
        let last = matchers.len().saturating_sub(1);
        for (i, matcher) in matchers.iter().enumerate() {
            let Some(Value::Array(names)) = matcher.get("ErrorEquals") else {
                continue;
            };
            let at = join(pointer, i);
            if names.iter().any(|n| n == "States.ALL") {
                if names.len() > 1 {
                    self.report(
                        join(&at, "ErrorEquals"),
                        "\"States.ALL\" must be the only error name in its \"ErrorEquals\"",
                    );
                }
                if i != last {
                    self.report(
                        at,
                        format!("a {what} matching \"States.ALL\" must be the last one"),
                    );
                }
            }
        }
    }

    fn at_most_one(&mut self, object: &Map<String, Value>, at: &str, fields: &[&str]) {
        let present: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|f| object.contains_key(*f))
            .collect();
        if let [first, second, ..] = present[..] {
            self.report(
                join(at, second),
                format!(
                    "{} and {} are mutually exclusive",
                    quote(first),
                    quote(second)
                ),
            );
        }
    }

    fn exactly_one(
        &mut self,
        object: &Map<String, Value>,
        at: &str,
        state_type: &str,
        fields: &[&str],
    ) {
        let quoted: Vec<String> = fields.iter().map(|f| quote(f)).collect();
        let present: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|f| object.contains_key(*f))
            .collect();
        match present[..] {
            [] => self.report(
                at,
                format!(
                    "a {state_type} state must have one of {}",
                    quoted.join(", ")
                ),
            ),
            [_] => {}
            [first, second, ..] => self.report(
                join(at, second),
                format!(
                    "{} and {} are mutually exclusive",
                    quote(first),
                    quote(second)
                ),
            ),
        }
    }

    fn resource(&mut self, pointer: String, resource: &str) {
        if let Err(problem) = check_arn(resource) {
            self.report(
                pointer,
                format!("invalid resource {}: {problem}", quote(resource)),
            );
        }
    }

    fn choice_rule(&mut self, rule: &Value, at: &str, language: QueryLanguage) {
        let Value::Object(fields) = rule else {
            self.report(at, "a choice rule must be an object");
            return;
        };
        let foreign: Vec<&str> = fields
            .keys()
            .map(String::as_str)
            .filter(|key| match language {
                QueryLanguage::JsonPath => matches!(*key, "Condition" | "Output"),
                QueryLanguage::Jsonata => {
                    !matches!(*key, "Condition" | "Next" | "Assign" | "Output" | "Comment")
                }
            })
            .collect();
        if !foreign.is_empty() {
            let (other, this) = match language {
                QueryLanguage::JsonPath => ("JSONata", "JSONPath"),
                QueryLanguage::Jsonata => ("JSONPath", "JSONata"),
            };
            for key in foreign {
                self.report(
                    join(at, key),
                    format!(
                        "field {} of a choice rule is only supported in {other} states, and this state's QueryLanguage is {this}",
                        quote(key)
                    ),
                );
            }
            return;
        }
        if language == QueryLanguage::Jsonata && !fields.contains_key("Condition") {
            self.report(
                at,
                "a choice rule in a JSONata state must have \"Condition\"",
            );
            return;
        }
        if let Err(mut problems) = ChoiceRule::parse(rule, at) {
            self.diags.append(&mut problems);
        }
        if language == QueryLanguage::JsonPath {
            if let Some(assign) = fields.get("Assign") {
                self.payload_template(&join(at, "Assign"), assign);
            }
        }
    }

    /// Paths and payload templates of a JSONPath state.
    fn jsonpath_fields(&mut self, state: &Map<String, Value>, at: &str) {
        let field = |name: &str| join(at, name);
        for (name, rule) in [
            ("InputPath", PathRule::Any),
            ("OutputPath", PathRule::Any),
            ("ResultPath", PathRule::Result),
            ("ItemsPath", PathRule::Reference),
            ("SecondsPath", PathRule::Reference),
            ("TimestampPath", PathRule::Reference),
            ("TimeoutSecondsPath", PathRule::Reference),
            ("HeartbeatSecondsPath", PathRule::Reference),
            ("MaxConcurrencyPath", PathRule::Reference),
            ("ToleratedFailureCountPath", PathRule::Reference),
            ("ToleratedFailurePercentagePath", PathRule::Reference),
        ] {
            if let Some(Value::String(path)) = state.get(name) {
                self.path(field(name), path, rule);
            }
        }
        for name in ["ErrorPath", "CausePath"] {
            if let Some(Value::String(path)) = state.get(name) {
                self.path_or_intrinsic(field(name), path, PathRule::Reference);
            }
        }
        for name in [
            "Parameters",
            "ResultSelector",
            "ItemSelector",
            "Credentials",
            "Assign",
        ] {
            if let Some(template) = state.get(name) {
                self.payload_template(&field(name), template);
            }
        }
        if let Some(Value::Object(reader)) = state.get("ItemReader") {
            let reader_at = field("ItemReader");
            if let Some(template) = reader.get("Parameters") {
                self.payload_template(&join(&reader_at, "Parameters"), template);
            }
            if let Some(Value::String(path)) = reader
                .get("ReaderConfig")
                .and_then(|c| c.get("MaxItemsPath"))
            {
                let at = join(&join(&reader_at, "ReaderConfig"), "MaxItemsPath");
                self.path(at, path, PathRule::Reference);
            }
        }
        if let Some(Value::Object(batcher)) = state.get("ItemBatcher") {
            let batcher_at = field("ItemBatcher");
            for name in ["MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"] {
                if let Some(Value::String(path)) = batcher.get(name) {
                    self.path(join(&batcher_at, name), path, PathRule::Reference);
                }
            }
            if let Some(template) = batcher.get("BatchInput") {
                self.payload_template(&join(&batcher_at, "BatchInput"), template);
            }
        }
        if let Some(template) = state.get("ResultWriter").and_then(|w| w.get("Parameters")) {
            self.payload_template(&join(&field("ResultWriter"), "Parameters"), template);
        }
        if let Some(Value::Array(catchers)) = state.get("Catch") {
            for (i, catcher) in catchers.iter().enumerate() {
                let catcher_at = join(&field("Catch"), i);
                if let Some(Value::String(path)) = catcher.get("ResultPath") {
                    self.path(join(&catcher_at, "ResultPath"), path, PathRule::Result);
                }
                if let Some(assign) = catcher.get("Assign") {
                    self.payload_template(&join(&catcher_at, "Assign"), assign);
                }
            }
        }
        if let Some(Value::String(timestamp)) = state.get("Timestamp") {
            self.timestamp(field("Timestamp"), timestamp);
        }
    }

    /// A payload template: every `"key.$"` holds a path or an intrinsic call, and no two keys
    /// are the same once `.$` is stripped.
    fn payload_template(&mut self, at: &str, template: &Value) {
        match template {
            Value::Object(map) => {
                let mut seen: HashMap<&str, &str> = HashMap::new();
                for (key, value) in map {
                    let key_at = join(at, key);
                    let name = match key.strip_suffix(".$") {
                        Some(name) => {
                            match value {
                                Value::String(s) => {
                                    self.path_or_intrinsic(key_at.clone(), s, PathRule::Any)
                                }
                                _ => self.report(
                                    key_at.clone(),
                                    format!(
                                        "the value of {} must be a path or an intrinsic function call, got {}",
                                        quote(key),
                                        json_type(value)
                                    ),
                                ),
                            }
                            name
                        }
                        None => {
                            self.payload_template(&key_at, value);
                            key.as_str()
                        }
                    };
                    if let Some(other) = seen.insert(name, key) {
                        self.report(
                            key_at,
                            format!(
                                "field {} conflicts with {}: both are named {} once \".$\" is stripped",
                                quote(key),
                                quote(other),
                                quote(name)
                            ),
                        );
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.payload_template(&join(at, i), item);
                }
            }
            _ => {}
        }
    }

    fn path_or_intrinsic(&mut self, at: String, s: &str, rule: PathRule) {
        if s.starts_with("States.") {
            if let Err(problem) = check_intrinsic(s) {
                self.report(at, problem);
            }
        } else {
            self.path(at, s, rule);
        }
    }

    fn path(&mut self, at: String, s: &str, rule: PathRule) {
        if let Err(problem) = check_path(s, rule) {
            self.report(at, problem);
        }
    }

    fn timestamp(&mut self, at: String, s: &str) {
        if chrono::DateTime::parse_from_rfc3339(s).is_err() {
            self.report(
                at,
                format!(
                    "{} is not an ISO 8601 timestamp (e.g. \"2016-03-14T01:59:00Z\")",
                    quote(s)
                ),
            );
        }
    }

    /// JSONata expressions of a JSONata state, and the fields that must hold one when they
    /// hold a string.
    fn jsonata_fields(&mut self, state: &Map<String, Value>, at: &str) {
        for (key, value) in state {
            if NOT_EVALUATED.contains(&key.as_str()) {
                continue;
            }
            let key_at = join(at, key);
            match (key.as_str(), value) {
                (name, Value::String(s)) if NUMERIC_OR_EXPRESSION.contains(&name) => {
                    self.expression_required(&key_at, s, "a number");
                }
                ("Items", Value::String(s)) => self.expression_required(&key_at, s, "an array"),
                ("Timestamp", Value::String(s)) if !is_expression(s) => {
                    self.timestamp(key_at, s);
                }
                ("Credentials", Value::String(s)) => {
                    self.expression_required(&key_at, s, "an object");
                }
                ("Catch", Value::Array(catchers)) => {
                    for (i, catcher) in catchers.iter().enumerate() {
                        let catcher_at = join(&key_at, i);
                        for name in ["Output", "Assign"] {
                            if let Some(v) = catcher.get(name) {
                                self.jsonata_template(&join(&catcher_at, name), v);
                            }
                        }
                    }
                }
                ("ItemReader" | "ResultWriter", Value::Object(config)) => {
                    for (name, v) in config {
                        if name == "ReaderConfig" {
                            if let Some(Value::String(s)) = v.get("MaxItems") {
                                let max_at = join(&join(&key_at, name), "MaxItems");
                                self.expression_required(&max_at, s, "a number");
                            }
                        } else if name != "Resource" {
                            self.jsonata_template(&join(&key_at, name), v);
                        }
                    }
                }
                ("ItemBatcher", Value::Object(batcher)) => {
                    for (name, v) in batcher {
                        let field_at = join(&key_at, name);
                        match (name.as_str(), v) {
                            ("MaxItemsPerBatch" | "MaxInputBytesPerBatch", Value::String(s)) => {
                                self.expression_required(&field_at, s, "a number");
                            }
                            _ => self.jsonata_template(&field_at, v),
                        }
                    }
                }
                _ => self.jsonata_template(&key_at, value),
            }
        }
        if let Some(Value::Array(rules)) = state.get("Choices") {
            for (i, rule) in rules.iter().enumerate() {
                let rule_at = join(&join(at, "Choices"), i);
                for name in ["Condition", "Output", "Assign"] {
                    if let Some(value) = rule.get(name) {
                        self.jsonata_template(&join(&rule_at, name), value);
                    }
                }
            }
        }
    }

    /// A value whose strings may be JSONata expressions.
    fn jsonata_template(&mut self, at: &str, value: &Value) {
        match value {
            Value::String(s) => self.jsonata_string(at, s),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.jsonata_template(&join(at, i), item);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    self.jsonata_template(&join(at, key), item);
                }
            }
            _ => {}
        }
    }

    /// A string where only a JSONata expression (or a value of the field's JSON type) fits.
    fn expression_required(&mut self, at: &str, s: &str, expected: &str) {
        if s.starts_with("{%") || s.ends_with("%}") {
            self.jsonata_string(at, s);
        } else {
            self.report(
                at,
                format!(
                    "expected {expected} or a JSONata expression, got {}",
                    quote(s)
                ),
            );
        }
    }

    fn jsonata_string(&mut self, at: &str, s: &str) {
        if let Err(problem) = check_jsonata(s) {
            self.report(at, problem);
        }
    }
}

/// The states a state can transition to: `Next`, `Default`, its Choice rules' and catchers'
/// `Next`.
fn transitions(state: &Map<String, Value>) -> Vec<&str> {
    let mut targets = Vec::new();
    for key in ["Next", "Default"] {
        if let Some(Value::String(next)) = state.get(key) {
            targets.push(next.as_str());
        }
    }
    for key in ["Choices", "Catch"] {
        if let Some(Value::Array(items)) = state.get(key) {
            for item in items {
                if let Some(Value::String(next)) = item.get("Next") {
                    targets.push(next.as_str());
                }
            }
        }
    }
    targets
}

/// True when `s` is written as a JSONata expression (`{% ... %}`).
fn is_expression(s: &str) -> bool {
    s.starts_with("{%") && s.ends_with("%}")
}

/// Checks a string of a JSONata state. A string is a JSONata expression when it starts with
/// `{%` or ends with `%}`; anything else is a constant.
fn check_jsonata(s: &str) -> Result<(), String> {
    let opens = s.starts_with("{%");
    let closes = s.ends_with("%}");
    if !opens && !closes {
        return Ok(());
    }
    // The surround as asl-validator checks it (`^\{% .+ %\}$`): a space after `{%` and before
    // `%}`, something in between, and no line break.
    let surrounded =
        opens && closes && s.chars().count() >= 7 && s.starts_with("{% ") && s.ends_with(" %}");
    if !surrounded {
        return Err(format!(
            "malformed JSONata expression {}: write it as \"{{% <expression> %}}\", with a space inside each delimiter",
            quote(s)
        ));
    }
    if s.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
        return Err(format!(
            "malformed JSONata expression {}: it must be on one line",
            quote(s)
        ));
    }
    let inner = &s[3..s.len() - 3];
    jsonata::check(inner).map_err(|e| {
        format!(
            "invalid JSONata expression {}: {} (at character {})",
            quote(s),
            e.message,
            e.position + 3
        )
    })
}

/// Checks a path field or a payload template's `.$` value.
fn check_path(s: &str, rule: PathRule) -> Result<(), String> {
    let on_input = s == "$" || s.starts_with("$.") || s.starts_with("$[");
    if rule == PathRule::Result && (s.starts_with("$$") || !on_input) {
        return Err(format!(
            "invalid ResultPath {}: it must be a reference path starting with \"$\"",
            quote(s)
        ));
    }
    // A variable reference: `$name` and an optional path into its value.
    let path = match s.strip_prefix('$') {
        Some(rest) if rest.starts_with(|c: char| c.is_alphabetic() || c == '_') => {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            format!("${}", &rest[end..])
        }
        _ => s.to_string(),
    };
    let parsed = Path::parse(&path)
        .map_err(|e| format!("invalid path {}: {}", quote(s), condense(&e.reason)))?;
    if rule != PathRule::Any && !parsed.is_reference() {
        return Err(format!(
            "invalid path {}: it must be a reference path (no wildcards, filters or slices)",
            quote(s)
        ));
    }
    Ok(())
}

/// Checks an intrinsic function call.
fn check_intrinsic(s: &str) -> Result<(), String> {
    // Variables (`$name`) are valid arguments; the parser knows only `$` and `$$` paths, so
    // each is checked as the path `$` plus whatever follows the name.
    let masked = mask_variables(s);
    if let Err(e) = Intrinsic::parse(&masked) {
        // Paths the path compiler rejects but AWS accepts (a filter comparing with a bare
        // word, `[?(@.key == Name)]`) pass when the call is otherwise balanced.
        let path_only = e.reason.starts_with("invalid JSONPath") && is_balanced(&masked);
        if !path_only {
            return Err(format!(
                "invalid intrinsic function call {}: {}",
                quote(s),
                condense(&e.reason)
            ));
        }
    }
    math_add_arguments(s)
}

/// `s` with every variable reference outside string literals (`$name`) reduced to `$`.
fn mask_variables(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        out.push(c);
        if in_string {
            if c == '\\' {
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                }
            } else if c == '\'' {
                in_string = false;
            }
        } else if c == '\'' {
            in_string = true;
        } else if c == '$' && chars.peek().is_some_and(|n| n.is_alphabetic() || *n == '_') {
            while chars
                .peek()
                .is_some_and(|n| n.is_alphanumeric() || *n == '_')
            {
                chars.next();
            }
        }
    }
    out
}

/// True when the brackets and parentheses of `s` pair up outside string literals.
fn is_balanced(s: &str) -> bool {
    let mut open = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' => open.push(c),
            ')' if open.pop() != Some('(') => return false,
            ']' if open.pop() != Some('[') => return false,
            _ => {}
        }
    }
    open.is_empty() && quote.is_none()
}

/// A parser's message on one line: a multi-line report (`--> 1:2 ... = expected X`) becomes
/// `expected X at column 2`.
fn condense(reason: &str) -> String {
    if !reason.contains('\n') {
        return lowercase_first(reason);
    }
    let head = reason.lines().next().unwrap_or_default();
    let column = reason
        .split("-->")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|at| at.split(':').nth(1));
    let expected = reason
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("= "));
    match (expected, column) {
        (Some(expected), Some(column)) => {
            let prefix = head.split("Failed to parse").next().unwrap_or_default();
            format!("{}{expected} at column {column}", lowercase_first(prefix))
        }
        _ => lowercase_first(head),
    }
}

/// Step Functions rejects, when the definition is created, a `States.MathAdd` argument that is
/// a string, boolean or null literal (its arguments must be numbers, paths or calls).
fn math_add_arguments(s: &str) -> Result<(), String> {
    const NAME: &str = "States.MathAdd(";
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            if c == '\\' {
                i += 1;
            } else if c == '\'' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if c == '\'' {
            in_string = true;
            i += 1;
            continue;
        }
        if chars[i..].starts_with(&NAME.chars().collect::<Vec<_>>()) {
            i += NAME.chars().count();
            for arg in top_level_arguments(&chars[i..]) {
                let arg = arg.trim();
                if arg.starts_with('\'') || matches!(arg, "true" | "false" | "null") {
                    return Err(format!(
                        "invalid intrinsic function call {}: the arguments of States.MathAdd must be numbers, paths or function calls, not {arg}",
                        quote(s)
                    ));
                }
            }
            continue;
        }
        i += 1;
    }
    Ok(())
}

/// The comma-separated arguments after a call's `(`, up to its `)`.
fn top_level_arguments(chars: &[char]) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &c in chars {
        if in_string {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '\'' {
                in_string = false;
            }
            continue;
        }
        match c {
            '\'' => {
                in_string = true;
                current.push(c);
            }
            '(' | '[' => {
                depth += 1;
                current.push(c);
            }
            ')' | ']' if depth > 0 => {
                depth -= 1;
                current.push(c);
            }
            ')' => break,
            ',' if depth == 0 => args.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    args.push(current);
    args
}

/// Checks a resource ARN: `arn:partition:service:region:account:resource`, and for a Lambda
/// function `function:name` with an optional version or alias.
fn check_arn(s: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err("not an ARN (arn:partition:service:region:account:resource)");
    };
    let word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if arn != "arn" || !word(partition) || !partition.starts_with("aws") {
        return Err("not an ARN (arn:partition:service:region:account:resource)");
    }
    if !word(service) || !(region.is_empty() || word(region)) {
        return Err("not an ARN (arn:partition:service:region:account:resource)");
    }
    if !account.chars().all(|c| c.is_ascii_digit()) {
        return Err("the account of an ARN must be digits");
    }
    if resource.is_empty()
        || resource.starts_with([':', '/'])
        || resource.ends_with([':', '/'])
        || resource.contains(char::is_whitespace)
    {
        return Err("the resource part of the ARN is malformed");
    }
    if service == "lambda" {
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let mut segments = resource.split(':');
        let ok = match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some("function"), Some(name), None, None) => name_ok(name),
            (Some("function"), Some(name), Some(qualifier), None) => {
                name_ok(name) && (qualifier == "$LATEST" || name_ok(qualifier))
            }
            _ => false,
        };
        if !ok {
            return Err(
                "not a Lambda function ARN (function:name with an optional version or alias)",
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSONata syntax

mod jsonata {
    //! A syntax check for JSONata expressions, following the reference parser of JSONata 2.0.6
    //! (the version Step Functions implements): its tokenizer, its Pratt grammar and the errors
    //! of its post-parse pass, without building a syntax tree. Checks it leaves out (the `%`
    //! parent operator's ancestry, function signatures, regular expression bodies) accept.

    /// Nesting beyond this is rejected rather than risking the stack.
    const MAX_DEPTH: usize = 64;

    /// A syntax error: what the reference parser reports, and the character position.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) struct SyntaxError {
        /// The JSONata error code (`S0201` ...).
        pub(super) code: &'static str,
        /// What is wrong, as the reference parser words it (lowercased).
        pub(super) message: String,
        /// Character offset in the expression.
        pub(super) position: usize,
    }

    /// Checks that `src` is a well-formed JSONata expression.
    pub(super) fn check(src: &str) -> Result<(), SyntaxError> {
        let mut parser = Parser {
            lexer: Lexer {
                chars: src.chars().collect(),
                pos: 0,
            },
            token: Token {
                kind: Tok::End,
                text: String::new(),
                position: 0,
            },
            depth: 0,
        };
        parser.advance(None, false)?;
        let expr = parser.expression(0)?;
        if parser.token.kind != Tok::End {
            return Err(parser.error("S0201", format!("syntax error: {}", parser.token.text)));
        }
        if expr.kind == Kind::Parent {
            return Err(SyntaxError {
                code: "S0217",
                message:
                    "the object representing the 'parent' cannot be derived from this expression"
                        .to_string(),
                position: 0,
            });
        }
        Ok(())
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Tok {
        End,
        Op,
        Name,
        Variable,
        Str,
        Number,
        Value,
        Regex,
    }

    #[derive(Debug, Clone)]
    struct Token {
        kind: Tok,
        text: String,
        position: usize,
    }

    impl Token {
        fn is_op(&self, op: &str) -> bool {
            self.kind == Tok::Op && self.text == op
        }
    }

    const WHITESPACE: &[char] = &[' ', '\t', '\n', '\r', '\u{b}'];
    const OPERATOR_CHARS: &[char] = &[
        '.', '[', ']', '{', '}', '(', ')', ',', '@', '#', ';', ':', '?', '+', '-', '*', '/', '%',
        '|', '=', '<', '>', '^', '&', '!', '~',
    ];

    struct Lexer {
        chars: Vec<char>,
        pos: usize,
    }

    impl Lexer {
        fn at(&self, i: usize) -> Option<char> {
            self.chars.get(i).copied()
        }

        fn err(
            &self,
            code: &'static str,
            message: impl Into<String>,
            position: usize,
        ) -> SyntaxError {
            SyntaxError {
                code,
                message: message.into(),
                position,
            }
        }

        /// The next token; `infix` is true where an operator is expected (`/` divides there
        /// instead of opening a regular expression).
        fn next(&mut self, infix: bool) -> Result<Token, SyntaxError> {
            let mut token = self.scan(infix)?;
            if token.text.is_empty() && token.kind != Tok::End {
                token.text = self.chars[token.position..self.pos].iter().collect();
            }
            Ok(token)
        }

        fn scan(&mut self, infix: bool) -> Result<Token, SyntaxError> {
            loop {
                while self.at(self.pos).is_some_and(|c| WHITESPACE.contains(&c)) {
                    self.pos += 1;
                }
                if self.at(self.pos) == Some('/') && self.at(self.pos + 1) == Some('*') {
                    let start = self.pos;
                    self.pos += 2;
                    loop {
                        match (self.at(self.pos), self.at(self.pos + 1)) {
                            (Some('*'), Some('/')) => break,
                            (None, _) => {
                                return Err(self.err("S0106", "comment has no closing tag", start))
                            }
                            _ => self.pos += 1,
                        }
                    }
                    self.pos += 2;
                    continue;
                }
                break;
            }
            let start = self.pos;
            let token = |kind, text: String| Token {
                kind,
                text,
                position: start,
            };
            let Some(c) = self.at(self.pos) else {
                return Ok(token(Tok::End, String::new()));
            };
            if !infix && c == '/' {
                self.pos += 1;
                self.scan_regex()?;
                return Ok(token(Tok::Regex, String::new()));
            }
            let next = self.at(self.pos + 1);
            let double = match (c, next) {
                ('.', Some('.')) => Some(".."),
                (':', Some('=')) => Some(":="),
                ('!', Some('=')) => Some("!="),
                ('>', Some('=')) => Some(">="),
                ('<', Some('=')) => Some("<="),
                ('*', Some('*')) => Some("**"),
                ('~', Some('>')) => Some("~>"),
                _ => None,
            };
            if let Some(op) = double {
                self.pos += 2;
                return Ok(token(Tok::Op, op.to_string()));
            }
            if OPERATOR_CHARS.contains(&c) {
                self.pos += 1;
                return Ok(token(Tok::Op, c.to_string()));
            }
            if c == '"' || c == '\'' {
                self.pos += 1;
                while let Some(ch) = self.at(self.pos) {
                    if ch == '\\' {
                        self.pos += 1;
                        match self.at(self.pos) {
                            Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => {}
                            Some('u') => {
                                let hex = (1..=4)
                                    .filter_map(|k| self.at(self.pos + k))
                                    .take_while(char::is_ascii_hexdigit)
                                    .count();
                                // The reference accepts 1 to 4 hex digits here (`/^[0-9a-fA-F]+$/`
                                // on the next four characters) and skips four characters.
                                let all_hex = (1..=4)
                                    .map(|k| self.at(self.pos + k))
                                    .take_while(Option::is_some)
                                    .all(|ch| ch.is_some_and(|ch| ch.is_ascii_hexdigit()));
                                if hex == 0 || !all_hex {
                                    return Err(self.err(
                                        "S0104",
                                        "the escape sequence \\u must be followed by 4 hex digits",
                                        self.pos,
                                    ));
                                }
                                self.pos += 4;
                            }
                            other => {
                                let shown = other.map(String::from).unwrap_or_default();
                                return Err(self.err(
                                    "S0103",
                                    format!("unsupported escape sequence: \\{shown}"),
                                    self.pos,
                                ));
                            }
                        }
                    } else if ch == c {
                        self.pos += 1;
                        return Ok(token(Tok::Str, String::new()));
                    }
                    self.pos += 1;
                }
                return Err(self.err(
                    "S0101",
                    "string literal must be terminated by a matching quote",
                    self.pos,
                ));
            }
            if let Some(len) = self.number_len() {
                let text: String = self.chars[self.pos..self.pos + len].iter().collect();
                if !text.parse::<f64>().is_ok_and(f64::is_finite) {
                    return Err(self.err("S0102", format!("number out of range: {text}"), start));
                }
                self.pos += len;
                return Ok(token(Tok::Number, text));
            }
            if c == '`' {
                self.pos += 1;
                let Some(end) = (self.pos..self.chars.len()).find(|&i| self.chars[i] == '`') else {
                    self.pos = self.chars.len();
                    return Err(self.err(
                        "S0105",
                        "quoted property name must be terminated with a backquote (`)",
                        self.pos,
                    ));
                };
                let name: String = self.chars[self.pos..end].iter().collect();
                self.pos = end + 1;
                return Ok(token(Tok::Name, name));
            }
            let mut end = self.pos;
            while let Some(ch) = self.at(end) {
                if WHITESPACE.contains(&ch) || OPERATOR_CHARS.contains(&ch) {
                    break;
                }
                end += 1;
            }
            let text: String = self.chars[self.pos..end].iter().collect();
            self.pos = end;
            if c == '$' {
                return Ok(token(Tok::Variable, text));
            }
            Ok(match text.as_str() {
                "or" | "in" | "and" => token(Tok::Op, text),
                "true" | "false" | "null" => token(Tok::Value, text),
                "" => token(Tok::End, text),
                _ => token(Tok::Name, text),
            })
        }

        /// Length of the number literal at the cursor (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?`
        /// without the sign, which is always lexed as an operator first).
        fn number_len(&self) -> Option<usize> {
            let digit = |i: usize| self.at(i).is_some_and(|c| c.is_ascii_digit());
            let mut i = self.pos;
            match self.at(i) {
                Some('0') => i += 1,
                Some('1'..='9') => {
                    while digit(i) {
                        i += 1;
                    }
                }
                _ => return None,
            }
            if self.at(i) == Some('.') && digit(i + 1) {
                i += 1;
                while digit(i) {
                    i += 1;
                }
            }
            if matches!(self.at(i), Some('e' | 'E')) {
                let mut j = i + 1;
                if matches!(self.at(j), Some('+' | '-')) {
                    j += 1;
                }
                if digit(j) {
                    while digit(j) {
                        j += 1;
                    }
                    i = j;
                }
            }
            Some(i - self.pos)
        }

        /// Scans a regular expression after its opening `/`, up to the closing `/` and flags.
        fn scan_regex(&mut self) -> Result<(), SyntaxError> {
            let start = self.pos;
            let mut depth: i64 = 0;
            while let Some(c) = self.at(self.pos) {
                if c == '/' && depth == 0 {
                    let backslashes = (0..self.pos)
                        .rev()
                        .take_while(|&i| self.chars[i] == '\\')
                        .count();
                    if backslashes % 2 == 0 {
                        if self.pos == start {
                            return Err(self.err(
                                "S0301",
                                "empty regular expressions are not allowed",
                                self.pos,
                            ));
                        }
                        self.pos += 1;
                        while matches!(self.at(self.pos), Some('i' | 'm')) {
                            self.pos += 1;
                        }
                        return Ok(());
                    }
                }
                let escaped = self.pos > 0 && self.chars[self.pos - 1] == '\\';
                if matches!(c, '(' | '[' | '{') && !escaped {
                    depth += 1;
                }
                if matches!(c, ')' | ']' | '}') && !escaped {
                    depth -= 1;
                }
                self.pos += 1;
            }
            Err(self.err("S0302", "no terminating / in regular expression", self.pos))
        }
    }

    /// What the post-parse checks need to know about a parsed expression.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        /// A number literal (also after unary minus).
        Number,
        /// `true`, `false` or `null`.
        Value,
        /// A name, or a location path (steps joined by `.`, or a step with `#` or `^(...)`).
        Path,
        Variable,
        Parent,
        Other,
    }

    /// What a parsed expression is before any operator applies to it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Bare {
        No,
        /// A variable reference alone (`$x`).
        Variable,
        /// The name `function` or `λ` alone: a following `(` defines a lambda.
        FunctionKeyword,
    }

    /// A parsed expression as the reference post-parse pass sees it: for a path, `grouped`
    /// belongs to the path and the `step_*` flags to its last step; otherwise all describe the
    /// expression itself.
    #[derive(Debug, Clone, Copy)]
    struct Expr {
        kind: Kind,
        bare: Bare,
        /// It is, or is a path with, a number or `true`/`false`/`null` step.
        literal_step: bool,
        /// Carries a group-by (`{...}` after it).
        grouped: bool,
        step_grouped: bool,
        step_predicated: bool,
        step_sorted: bool,
    }

    impl Expr {
        fn of(kind: Kind) -> Self {
            Expr {
                kind,
                bare: Bare::No,
                literal_step: matches!(kind, Kind::Number | Kind::Value),
                grouped: false,
                step_grouped: false,
                step_predicated: false,
                step_sorted: false,
            }
        }

        fn is_path(&self) -> bool {
            self.kind == Kind::Path
        }
    }

    struct Parser {
        lexer: Lexer,
        token: Token,
        depth: usize,
    }

    /// Left binding power of an operator token.
    fn lbp(token: &Token) -> u32 {
        if token.kind != Tok::Op {
            return 0;
        }
        match token.text.as_str() {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "*" | "/" | "%" => 60,
            "+" | "-" | "&" => 50,
            "=" | "<" | ">" | "^" | "!=" | "<=" | ">=" | "~>" | "in" => 40,
            "and" => 30,
            "or" => 25,
            "?" => 20,
            ":=" => 10,
            _ => 0,
        }
    }

    /// Operators the reference parser has a symbol for; others (`!`, `~`) are unknown.
    fn is_known_operator(op: &str) -> bool {
        !matches!(op, "!" | "~")
    }

    impl Parser {
        fn error(&self, code: &'static str, message: String) -> SyntaxError {
            SyntaxError {
                code,
                message,
                position: self.token.position,
            }
        }

        /// Moves past the current token, which must be `expected` when given.
        fn advance(&mut self, expected: Option<&str>, infix: bool) -> Result<(), SyntaxError> {
            if let Some(id) = expected {
                if !self.token.is_op(id) {
                    return Err(if self.token.kind == Tok::End {
                        self.error("S0203", format!("expected {id:?} before end of expression"))
                    } else {
                        self.error(
                            "S0202",
                            format!("expected {id:?}, got {:?}", self.token.text),
                        )
                    });
                }
            }
            let token = self.lexer.next(infix)?;
            if token.kind == Tok::Op && !is_known_operator(&token.text) {
                return Err(SyntaxError {
                    code: "S0204",
                    message: format!("unknown operator: {:?}", token.text),
                    position: token.position,
                });
            }
            self.token = token;
            Ok(())
        }

        fn expression(&mut self, rbp: u32) -> Result<Expr, SyntaxError> {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.error(
                    "S0000",
                    format!("expression is nested more than {MAX_DEPTH} levels deep"),
                ));
            }
            let t = self.token.clone();
            self.advance(None, true)?;
            let mut left = self.nud(&t)?;
            while rbp < lbp(&self.token) {
                let t = self.token.clone();
                self.advance(None, false)?;
                left = self.led(&t, left)?;
            }
            self.depth -= 1;
            Ok(left)
        }

        fn nud(&mut self, t: &Token) -> Result<Expr, SyntaxError> {
            let unary = || SyntaxError {
                code: "S0211",
                message: format!("the symbol {:?} cannot be used as a unary operator", t.text),
                position: t.position,
            };
            match t.kind {
                Tok::End => Err(SyntaxError {
                    code: "S0207",
                    message: "unexpected end of expression".to_string(),
                    position: t.position,
                }),
                Tok::Name => Ok(Expr {
                    bare: if t.text == "function" || t.text == "\u{3bb}" {
                        Bare::FunctionKeyword
                    } else {
                        Bare::No
                    },
                    ..Expr::of(Kind::Path)
                }),
                Tok::Variable => Ok(Expr {
                    bare: Bare::Variable,
                    ..Expr::of(Kind::Variable)
                }),
                Tok::Number => Ok(Expr::of(Kind::Number)),
                Tok::Value => Ok(Expr::of(Kind::Value)),
                Tok::Str | Tok::Regex => Ok(Expr::of(Kind::Other)),
                Tok::Op => match t.text.as_str() {
                    "and" | "or" | "in" => Ok(Expr::of(Kind::Path)),
                    "-" => {
                        let operand = self.expression(70)?;
                        // Unary minus on a number literal folds into the literal.
                        Ok(Expr::of(if operand.kind == Kind::Number {
                            Kind::Number
                        } else {
                            Kind::Other
                        }))
                    }
                    "*" | "**" => Ok(Expr::of(Kind::Other)),
                    "%" => Ok(Expr::of(Kind::Parent)),
                    "(" => {
                        while !self.token.is_op(")") {
                            self.expression(0)?;
                            if !self.token.is_op(";") {
                                break;
                            }
                            self.advance(Some(";"), false)?;
                        }
                        self.advance(Some(")"), true)?;
                        Ok(Expr::of(Kind::Other))
                    }
                    "[" => {
                        if !self.token.is_op("]") {
                            loop {
                                self.expression(0)?;
                                if self.token.is_op("..") {
                                    self.advance(Some(".."), false)?;
                                    self.expression(0)?;
                                }
                                if !self.token.is_op(",") {
                                    break;
                                }
                                self.advance(Some(","), false)?;
                            }
                        }
                        self.advance(Some("]"), true)?;
                        Ok(Expr::of(Kind::Other))
                    }
                    "{" => {
                        self.object_body()?;
                        Ok(Expr::of(Kind::Other))
                    }
                    "|" => {
                        self.expression(0)?;
                        self.advance(Some("|"), false)?;
                        self.expression(0)?;
                        if self.token.is_op(",") {
                            self.advance(Some(","), false)?;
                            self.expression(0)?;
                        }
                        self.advance(Some("|"), false)?;
                        Ok(Expr::of(Kind::Other))
                    }
                    _ => Err(unary()),
                },
            }
        }

        /// The pairs of an object constructor or group-by, after its `{`.
        fn object_body(&mut self) -> Result<(), SyntaxError> {
            if !self.token.is_op("}") {
                loop {
                    self.expression(0)?;
                    self.advance(Some(":"), false)?;
                    self.expression(0)?;
                    if !self.token.is_op(",") {
                        break;
                    }
                    self.advance(Some(","), false)?;
                }
            }
            self.advance(Some("}"), true)
        }

        fn led(&mut self, t: &Token, left: Expr) -> Result<Expr, SyntaxError> {
            if t.is_op("[") && self.token.is_op("]") {
                // `[]` keeps singleton arrays; the expression is otherwise unchanged.
                self.advance(Some("]"), false)?;
                return Ok(left);
            }
            let mut result = self.led_inner(t, left)?;
            result.bare = Bare::No;
            Ok(result)
        }

        fn led_inner(&mut self, t: &Token, left: Expr) -> Result<Expr, SyntaxError> {
            let op = t.text.as_str();
            let err = |code, message: &str| SyntaxError {
                code,
                message: message.to_string(),
                position: t.position,
            };
            match op {
                "(" => self.call(left),
                "[" => {
                    if left.step_grouped {
                        return Err(err(
                            "S0209",
                            "a predicate cannot follow a grouping expression in a step",
                        ));
                    }
                    self.expression(0)?;
                    self.advance(Some("]"), true)?;
                    Ok(Expr {
                        step_predicated: true,
                        ..left
                    })
                }
                "{" => {
                    self.object_body()?;
                    if left.grouped {
                        return Err(err(
                            "S0210",
                            "each step can only have one grouping expression",
                        ));
                    }
                    Ok(Expr {
                        grouped: true,
                        step_grouped: left.step_grouped || !left.is_path(),
                        ..left
                    })
                }
                "^" => {
                    self.advance(Some("("), false)?;
                    loop {
                        if self.token.is_op("<") {
                            self.advance(Some("<"), false)?;
                        } else if self.token.is_op(">") {
                            self.advance(Some(">"), false)?;
                        }
                        self.expression(0)?;
                        if !self.token.is_op(",") {
                            break;
                        }
                        self.advance(Some(","), false)?;
                    }
                    self.advance(Some(")"), false)?;
                    Ok(Expr {
                        kind: Kind::Path,
                        bare: Bare::No,
                        literal_step: left.literal_step,
                        grouped: left.is_path() && left.grouped,
                        step_grouped: false,
                        step_predicated: false,
                        step_sorted: true,
                    })
                }
                ":=" => {
                    if left.bare != Bare::Variable {
                        return Err(err(
                            "S0212",
                            "the left side of := must be a variable name (start with $)",
                        ));
                    }
                    self.expression(9)?;
                    Ok(Expr::of(Kind::Other))
                }
                "@" | "#" => {
                    let rhs = self.expression(80)?;
                    if rhs.bare != Bare::Variable {
                        return Err(err(
                            "S0214",
                            &format!(
                                "the right side of {op} must be a variable name (start with $)"
                            ),
                        ));
                    }
                    if op == "@" {
                        if left.step_predicated {
                            return Err(err(
                                "S0215",
                                "a context variable binding must precede any predicates on a step",
                            ));
                        }
                        if left.step_sorted {
                            return Err(err(
                                "S0216",
                                "a context variable binding must precede the 'order-by' clause on a step",
                            ));
                        }
                        Ok(left)
                    } else if left.is_path() {
                        Ok(left)
                    } else {
                        // The expression becomes the only step of a new path.
                        Ok(Expr {
                            kind: Kind::Path,
                            grouped: false,
                            step_grouped: left.grouped,
                            ..left
                        })
                    }
                }
                "?" => {
                    self.expression(0)?;
                    if self.token.is_op(":") {
                        self.advance(Some(":"), false)?;
                        self.expression(0)?;
                    }
                    Ok(Expr::of(Kind::Other))
                }
                "." => {
                    let rhs = self.expression(75)?;
                    if left.literal_step || rhs.literal_step {
                        return Err(err(
                            "S0213",
                            "a literal value cannot be used as a step within a path expression",
                        ));
                    }
                    Ok(Expr {
                        kind: Kind::Path,
                        bare: Bare::No,
                        literal_step: false,
                        grouped: left.is_path() && left.grouped,
                        step_grouped: if rhs.is_path() {
                            rhs.step_grouped
                        } else {
                            rhs.grouped
                        },
                        step_predicated: rhs.step_predicated,
                        step_sorted: rhs.is_path() && rhs.step_sorted,
                    })
                }
                _ => {
                    self.expression(lbp(t))?;
                    Ok(Expr::of(Kind::Other))
                }
            }
        }

        /// A function call after its `(`, or a lambda definition when `left` names `function`/`λ`.
        fn call(&mut self, left: Expr) -> Result<Expr, SyntaxError> {
            let is_lambda = left.bare == Bare::FunctionKeyword;
            let mut bad_parameter = None;
            if !self.token.is_op(")") {
                let mut index = 0;
                loop {
                    index += 1;
                    let position = self.token.position;
                    if self.token.is_op("?") {
                        // A placeholder: partial application.
                        self.advance(Some("?"), false)?;
                        bad_parameter.get_or_insert((index, position));
                    } else if self.expression(0)?.bare != Bare::Variable {
                        bad_parameter.get_or_insert((index, position));
                    }
                    if !self.token.is_op(",") {
                        break;
                    }
                    self.advance(Some(","), false)?;
                }
            }
            self.advance(Some(")"), true)?;
            if !is_lambda {
                return Ok(Expr::of(Kind::Other));
            }
            if let Some((index, position)) = bad_parameter {
                return Err(SyntaxError {
                    code: "S0208",
                    message: format!(
                        "parameter {index} of function definition must be a variable name (start with $)"
                    ),
                    position,
                });
            }
            if self.token.is_op("<") {
                // A signature: skipped up to its closing `>`, not checked further.
                let mut depth = 1;
                while depth > 0 && !self.token.is_op("{") && self.token.kind != Tok::End {
                    self.advance(None, false)?;
                    if self.token.is_op(">") {
                        depth -= 1;
                    } else if self.token.is_op("<") {
                        depth += 1;
                    }
                }
                self.advance(Some(">"), false)?;
            }
            self.advance(Some("{"), false)?;
            self.expression(0)?;
            self.advance(Some("}"), false)?;
            Ok(Expr::of(Kind::Other))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VALIDATION_DIR: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/validation");
    const CASES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/cases");

    /// The `.json` files of a directory, sorted by name.
    fn json_files(dir: &str) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
    }

    fn errors(text: &str) -> Vec<String> {
        match validate_text(text) {
            Ok(_) => Vec::new(),
            Err(diags) => diags.iter().map(ToString::to_string).collect(),
        }
    }

    fn errors_of(definition: Value) -> Vec<String> {
        validate(&definition)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn conformance_validation_verdicts_match() {
        let mut wrong = Vec::new();
        let mut counts = [0usize; 2];
        for (verdict, expect_valid) in [("valid", true), ("invalid", false)] {
            for path in json_files(&format!("{VALIDATION_DIR}/{verdict}")) {
                let text = std::fs::read_to_string(&path).expect("readable test file");
                let result = validate_text(&text);
                counts[usize::from(!expect_valid)] += 1;
                match (expect_valid, result) {
                    (true, Err(diags)) => wrong.push(format!(
                        "{} was rejected: {}",
                        path.display(),
                        diags
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    )),
                    (false, Ok(_)) => wrong.push(format!("{} was accepted", path.display())),
                    _ => {}
                }
            }
        }
        assert!(counts[0] > 0 && counts[1] > 0, "no validation files found");
        assert!(
            wrong.is_empty(),
            "{} wrong verdicts:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn conformance_case_definitions_are_valid() {
        let mut wrong = Vec::new();
        let files = json_files(CASES_DIR);
        assert!(!files.is_empty(), "no cases found");
        for path in files {
            let text = std::fs::read_to_string(&path).expect("readable case file");
            let case: Value = serde_json::from_str(&text).expect("case is JSON");
            let definition = case.get("definition").cloned().unwrap_or(Value::Null);
            let diags = validate(&definition);
            if !diags.is_empty() {
                wrong.push(format!(
                    "{}: {}",
                    path.display(),
                    diags
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} rejected:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn unknown_next_state_is_reported_with_path() {
        let err = errors(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#);
        assert_eq!(err, ["/States/A/Next: no state named \"B\""]);
    }

    #[test]
    fn valid_definition_is_returned_parsed() {
        let value = validate_text(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#);
        assert_eq!(
            value,
            Ok(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}))
        );
    }

    #[test]
    fn invalid_json_is_reported_at_the_root() {
        let err = errors(r#"{"StartAt": }"#);
        assert_eq!(err, ["/: invalid JSON: expected value at line 1 column 13"]);
    }

    #[test]
    fn duplicate_keys_are_reported_with_path() {
        let err =
            errors(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true,"Type":"Pass"}}}"#);
        assert_eq!(err, ["/States/A/Type: duplicate field \"Type\""]);
    }

    #[test]
    fn duplicate_state_names_across_scopes_are_reported() {
        let err = errors_of(json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}
            ]}
        }}));
        assert_eq!(
            err,
            ["/States/P/Branches/0/States/P: duplicate state name \"P\", first defined in /States"]
        );
    }

    #[test]
    fn transition_out_of_a_branch_is_reported() {
        let err = errors_of(json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Done"}}}
            ]},
            "Done": {"Type": "Succeed"}
        }}));
        assert_eq!(
            err,
            ["/States/P/Branches/0/States/B/Next: state \"Done\" is defined in /States, outside \
              this scope: transitions cannot cross a Parallel branch or Map item processor"]
        );
    }

    #[test]
    fn unreachable_state_is_reported() {
        let err = errors_of(json!({"StartAt": "A", "States": {
            "A": {"Type": "Succeed"},
            "B": {"Type": "Succeed"}
        }}));
        assert_eq!(
            err,
            ["/States/B: state \"B\" is not reachable from StartAt"]
        );
    }

    #[test]
    fn states_reached_only_through_choices_and_catchers_are_reachable() {
        let err = errors_of(json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Default": "T", "Choices": [
                {"Variable": "$.x", "IsPresent": true, "Next": "S"}
            ]},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail"}
        }}));
        assert_eq!(err, Vec::<String>::new());
    }

    #[test]
    fn state_needs_exactly_one_of_next_and_end() {
        let err = errors_of(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B", "End": true},
            "B": {"Type": "Wait", "Seconds": 1}
        }}));
        assert_eq!(
            err,
            [
                "/States/A/End: \"End\" and \"Next\" are mutually exclusive",
                "/States/B: a Wait state must have \"Next\" or \"End\": true",
            ]
        );
    }

    #[test]
    fn states_all_must_be_alone_and_in_the_last_retrier() {
        let err = errors_of(json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                  "Retry": [
                      {"ErrorEquals": ["States.ALL", "Custom"]},
                      {"ErrorEquals": ["States.Timeout"]}
                  ]}
        }}));
        assert_eq!(
            err,
            [
                "/States/T/Retry/0/ErrorEquals: \"States.ALL\" must be the only error name in its \
                 \"ErrorEquals\"",
                "/States/T/Retry/0: a retrier matching \"States.ALL\" must be the last one",
            ]
        );
    }

    #[test]
    fn retrier_fields_are_range_checked() {
        let err = errors_of(json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                  "Retry": [{"ErrorEquals": [], "IntervalSeconds": 0, "BackoffRate": 0.5,
                             "JitterStrategy": "HALF"}]}
        }}));
        assert_eq!(
            err,
            [
                "/States/T/Retry/0/ErrorEquals: must not be empty",
                "/States/T/Retry/0/IntervalSeconds: must be at least 1",
                "/States/T/Retry/0/BackoffRate: must be at least 1",
                "/States/T/Retry/0/JitterStrategy: expected one of \"FULL\", \"NONE\", got \"HALF\"",
            ]
        );
    }

    #[test]
    fn wrong_json_types_are_reported_by_the_schema() {
        let err = errors_of(json!({"StartAt": 1, "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                  "Credentials": null}
        }}));
        assert_eq!(
            err,
            [
                "/StartAt: expected string, got integer",
                "/States/A/Credentials: expected object, got null",
            ]
        );
    }

    #[test]
    fn unknown_state_type_is_reported() {
        let err = errors_of(json!({"StartAt": "A", "States": {"A": {"Type": "Sleep"}}}));
        assert_eq!(
            err,
            [
                "/States/A/Type: expected one of \"Pass\", \"Task\", \"Choice\", \"Wait\", \
              \"Succeed\", \"Fail\", \"Parallel\", \"Map\", got \"Sleep\""
            ]
        );
    }

    #[test]
    fn unknown_field_names_the_state_type() {
        let err = errors_of(json!({"StartAt": "A", "States": {
            "A": {"Type": "Succeed", "Next": "A"}
        }}));
        assert_eq!(
            err,
            ["/States/A/Next: field \"Next\" is not supported in a Succeed state"]
        );
    }

    #[test]
    fn field_of_the_other_query_language_is_reported() {
        let err = errors_of(
            json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {
                "A": {"Type": "Pass", "InputPath": "$.a", "End": true},
                "B": {"Type": "Pass", "QueryLanguage": "JSONPath", "Output": 1, "End": true}
            }}),
        );
        assert_eq!(
            err,
            [
                "/States/A/InputPath: field \"InputPath\" is only supported in JSONPath states, \
                 and this state's QueryLanguage is JSONata",
                "/States/B/Output: field \"Output\" is only supported in JSONata states, and this \
                 state's QueryLanguage is JSONPath",
                "/States/B: state \"B\" is not reachable from StartAt",
            ]
        );
    }

    #[test]
    fn nested_states_inherit_the_top_level_query_language() {
        let machine = |map_language: &str| {
            json!({"StartAt": "M", "States": {
                "M": {"Type": "Map", "QueryLanguage": map_language, "End": true,
                      "ItemProcessor": {"StartAt": "P", "States": {
                          "P": {"Type": "Pass", "Output": 1, "End": true}
                      }}}
            }})
        };
        let expected = [
            "/States/M/ItemProcessor/States/P/Output: field \"Output\" is only \
                         supported in JSONata states, and this state's QueryLanguage is JSONPath",
        ];
        assert_eq!(errors_of(machine("JSONata")), expected);
        assert_eq!(errors_of(machine("JSONPath")), expected);
    }

    #[test]
    fn mutually_exclusive_fields_are_reported() {
        let err = errors_of(json!({"StartAt": "F", "States": {
            "F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}
        }}));
        assert_eq!(
            err,
            ["/States/F/ErrorPath: \"Error\" and \"ErrorPath\" are mutually exclusive"]
        );
    }

    #[test]
    fn wait_state_needs_a_duration() {
        let err = errors_of(json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "End": true}
        }}));
        assert_eq!(
            err,
            [
                "/States/W: a Wait state must have one of \"Seconds\", \"Timestamp\", \
              \"SecondsPath\", \"TimestampPath\""
            ]
        );
    }

    #[test]
    fn wait_timestamp_must_be_iso_8601() {
        let err = errors_of(json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Timestamp": "yesterday", "End": true}
        }}));
        assert_eq!(
            err,
            [
                "/States/W/Timestamp: \"yesterday\" is not an ISO 8601 timestamp (e.g. \
              \"2016-03-14T01:59:00Z\")"
            ]
        );
    }

    #[test]
    fn heartbeat_must_be_shorter_than_timeout() {
        let err = errors_of(json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                  "TimeoutSeconds": 10, "HeartbeatSeconds": 10}
        }}));
        assert_eq!(
            err,
            [
                "/States/T/HeartbeatSeconds: \"HeartbeatSeconds\" must be smaller than \
              \"TimeoutSeconds\""
            ]
        );
    }

    #[test]
    fn map_needs_an_item_processor() {
        let err = errors_of(json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "End": true}
        }}));
        assert_eq!(
            err,
            ["/States/M: a Map state must have \"ItemProcessor\" (or the legacy \"Iterator\")"]
        );
    }

    #[test]
    fn distributed_map_needs_an_execution_type() {
        let err = errors_of(json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "End": true, "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                "StartAt": "P", "States": {"P": {"Type": "Succeed"}}
            }}
        }}));
        assert_eq!(
            err,
            ["/States/M/ItemProcessor/ProcessorConfig: missing required field \"ExecutionType\""]
        );
    }

    #[test]
    fn state_names_longer_than_80_characters_are_reported() {
        let name = "n".repeat(81);
        let err =
            errors_of(json!({"StartAt": name, "States": {name.clone(): {"Type": "Succeed"}}}));
        assert_eq!(
            err,
            [format!(
                "/States/{name}: state name \"{name}\" is longer than 80 characters"
            )]
        );
    }

    #[test]
    fn result_path_must_be_a_reference_path_on_the_input() {
        let machine = |result_path: &str| {
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "ResultPath": result_path, "End": true}
            }})
        };
        assert_eq!(errors_of(machine("$.a.b[0]")), Vec::<String>::new());
        assert_eq!(
            errors_of(machine("$$.Execution.Id")),
            [
                "/States/A/ResultPath: invalid ResultPath \"$$.Execution.Id\": it must be a \
              reference path starting with \"$\""
            ]
        );
        assert_eq!(
            errors_of(machine("$.items[*]")),
            [
                "/States/A/ResultPath: invalid path \"$.items[*]\": it must be a reference path \
              (no wildcards, filters or slices)"
            ]
        );
    }

    #[test]
    fn reference_path_fields_reject_queries_and_accept_variables() {
        let machine = |seconds_path: &str| {
            json!({"StartAt": "W", "States": {
                "W": {"Type": "Wait", "SecondsPath": seconds_path, "End": true}
            }})
        };
        assert_eq!(errors_of(machine("$wait.seconds")), Vec::<String>::new());
        assert_eq!(
            errors_of(machine("$.a[1:]")),
            [
                "/States/W/SecondsPath: invalid path \"$.a[1:]\": it must be a reference path (no \
              wildcards, filters or slices)"
            ]
        );
    }

    #[test]
    fn payload_template_values_must_be_paths_or_intrinsic_calls() {
        let err = errors_of(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "End": true, "Parameters": {
                "ok.$": "States.Format('{}', $var.name)",
                "list": [{"bad.$": 3}],
                "sum.$": "States.MathAdd(1, 'one')"
            }}
        }}));
        assert_eq!(
            err,
            [
                "/States/A/Parameters/list/0/bad.$: the value of \"bad.$\" must be a path or an \
                 intrinsic function call, got integer",
                "/States/A/Parameters/sum.$: invalid intrinsic function call \"States.MathAdd(1, \
                 'one')\": the arguments of States.MathAdd must be numbers, paths or function \
                 calls, not 'one'",
            ]
        );
    }

    #[test]
    fn payload_template_keys_must_differ_once_the_suffix_is_stripped() {
        let err = errors_of(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "End": true, "Parameters": {"a.$": "$.a", "a": 1}}
        }}));
        assert_eq!(
            err,
            [
                "/States/A/Parameters/a: field \"a\" conflicts with \"a.$\": both are named \"a\" \
              once \".$\" is stripped"
            ]
        );
    }

    #[test]
    fn resources_must_be_arns() {
        let machine = |resource: &str| {
            json!({"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": resource, "End": true}
            }})
        };
        for ok in [
            "arn:aws:states:::lambda:invoke",
            "arn:aws:lambda:us-east-1:111111111111:function:f",
            "arn:aws:lambda:us-east-1:111111111111:function:f:$LATEST",
            "arn:aws:lambda:us-east-1:111111111111:function:f:prod",
            "arn:aws:states:us-east-1:12345:activity:hello-world",
            "arn:aws:states:::aws-sdk:s3:listObjectsV2",
        ] {
            assert_eq!(errors_of(machine(ok)), Vec::<String>::new(), "{ok}");
        }
        assert_eq!(
            errors_of(machine("${LambdaArn}")),
            [
                "/States/T/Resource: invalid resource \"${LambdaArn}\": not an ARN \
              (arn:partition:service:region:account:resource)"
            ]
        );
        assert_eq!(
            errors_of(machine("arn:aws:lambda:us-east-1:1:function:f:a:b")),
            ["/States/T/Resource: invalid resource \"arn:aws:lambda:us-east-1:1:function:f:a:b\": \
              not a Lambda function ARN (function:name with an optional version or alias)"]
        );
    }

    #[test]
    fn choice_rules_are_checked_in_their_query_language() {
        let err = errors_of(json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [
                {"Condition": "{% true %}", "Next": "S"}
            ], "Default": "S"},
            "S": {"Type": "Succeed"}
        }}));
        assert_eq!(
            err,
            [
                "/States/C/Choices/0/Condition: field \"Condition\" of a choice rule is only \
              supported in JSONata states, and this state's QueryLanguage is JSONPath"
            ]
        );
    }

    #[test]
    fn jsonata_expressions_need_the_exact_surround() {
        let machine = |output: &str| {
            json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {
                "A": {"Type": "Pass", "Output": {"v": output}, "End": true}
            }})
        };
        assert_eq!(
            errors_of(machine("{% $states.input %}")),
            Vec::<String>::new()
        );
        // Without the surround, at the very start and end, a string is a constant.
        assert_eq!(
            errors_of(machine(" {% states.input %} ")),
            Vec::<String>::new()
        );
        assert_eq!(
            errors_of(machine("{%1%}")),
            [
                "/States/A/Output/v: malformed JSONata expression \"{%1%}\": write it as \
              \"{% <expression> %}\", with a space inside each delimiter"
            ]
        );
        assert_eq!(
            errors_of(machine("{% 1 +\n 2 %}")),
            [
                "/States/A/Output/v: malformed JSONata expression \"{% 1 +\\n 2 %}\": it must be \
              on one line"
            ]
        );
    }

    #[test]
    fn jsonata_syntax_errors_are_reported_with_position() {
        let err = errors_of(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "QueryLanguage": "JSONata", "End": true,
                  "Assign": {"x": "{% $sum([1, 2) %}"}}
        }}));
        assert_eq!(
            err,
            [
                "/States/A/Assign/x: invalid JSONata expression \"{% $sum([1, 2) %}\": expected \
              \"]\", got \")\" (at character 13)"
            ]
        );
    }

    #[test]
    fn jsonata_strings_in_jsonpath_states_are_constants() {
        let err = errors_of(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "End": true, "Assign": {"x": "{% ((( %}"}}
        }}));
        assert_eq!(err, Vec::<String>::new());
    }

    #[test]
    fn jsonata_numeric_fields_take_numbers_or_expressions() {
        let err = errors_of(
            json!({"StartAt": "W", "QueryLanguage": "JSONata", "States": {
                "W": {"Type": "Wait", "Seconds": "ten", "End": true}
            }}),
        );
        assert_eq!(
            err,
            ["/States/W/Seconds: expected a number or a JSONata expression, got \"ten\""]
        );
    }

    #[test]
    fn deeply_nested_values_are_refused_without_overflowing() {
        let mut deep = json!(1);
        for _ in 0..(MAX_NESTING + 10) {
            deep = json!([deep]);
        }
        let definition = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Result": deep, "End": true}
        }});
        assert_eq!(
            errors_of(definition),
            ["/: definition is nested more than 256 levels deep"]
        );
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            errors(&text),
            ["/: invalid JSON: recursion limit exceeded at line 1 column 128"]
        );
    }

    #[test]
    fn validation_never_panics_on_mutated_definitions() {
        let replacements = [
            json!(null),
            json!(true),
            json!(-1.5),
            json!("{% %}"),
            json!("States.Format("),
            json!([]),
            json!({}),
            json!({"Type": "Map"}),
        ];
        let mut checked = 0;
        for verdict in ["valid", "invalid"] {
            for path in json_files(&format!("{VALIDATION_DIR}/{verdict}")) {
                let text = std::fs::read_to_string(&path).expect("readable test file");
                let Ok(original) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let mut pointers = Vec::new();
                collect_pointers(&original, String::new(), &mut pointers);
                for pointer in &pointers {
                    for replacement in &replacements {
                        let mut mutated = original.clone();
                        if let Some(slot) = mutated.pointer_mut(pointer) {
                            *slot = replacement.clone();
                        }
                        let _ = validate(&mutated);
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000);
    }

    fn collect_pointers(value: &Value, pointer: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    collect_pointers(child, join(&pointer, key), out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    collect_pointers(child, join(&pointer, i), out);
                }
            }
            _ => {}
        }
        out.push(pointer);
    }

    /// Verdicts of the reference parser (jsonata 2.0.6) on these expressions.
    #[test]
    fn jsonata_checker_agrees_with_the_reference_parser() {
        let valid = [
            "$states.input.a[0].b",
            "$sum($states.input.numbers) + 1",
            "$exists($x) ? $x : {}",
            "($a := 1; $b := 2; $a + $b)",
            "$map([1..3], function($v, $i) { $v * $i })",
            "function($x)<n:n>{$x}",
            "λ($x){$x}",
            "$match($s, /^a[b-c]+$/i)",
            "a.b{'k': c}",
            "a^(>b, <c)",
            "Account.Order@$o#$i.Product",
            "| $ | {'a': 1}, ['b'] |",
            "$f(?, 2)",
            "`field name`.x",
            "/* comment */ 1",
            "a.%.b",
            "$x in [1, 2] and not or in",
            "[]",
            "()",
            "a[]",
            "-1",
        ];
        for expr in valid {
            assert_eq!(jsonata::check(expr).map_err(|e| e.code), Ok(()), "{expr}");
        }
        let invalid = [
            ("", "S0207"),
            ("1 +", "S0207"),
            ("$sum(1", "S0203"),
            ("a[1, 2)", "S0202"),
            ("'open", "S0101"),
            ("1e999", "S0102"),
            ("\"\\q\"", "S0103"),
            ("`name", "S0105"),
            ("/* open", "S0106"),
            ("1 2", "S0201"),
            ("!", "S0204"),
            ("function(a){1}", "S0208"),
            ("a{'x':1}{'y':2}", "S0210"),
            ("$.store.book[?(@.price < 10)]", "S0211"),
            ("a := 1", "S0212"),
            ("a.1", "S0213"),
            ("a@b", "S0214"),
            ("a[0]@$x", "S0215"),
            ("a^(b)@$x", "S0216"),
            ("%", "S0217"),
            ("$match(x, //)", "S0301"),
            ("$match(x, /ab)", "S0302"),
            ("$x ?? 1", "S0211"),
        ];
        for (expr, code) in invalid {
            assert_eq!(
                jsonata::check(expr).map_err(|e| e.code),
                Err(code),
                "{expr}"
            );
        }
    }

    #[test]
    fn jsonata_checker_limits_nesting() {
        let deep = format!("{}1{}", "$f(".repeat(1000), ")".repeat(1000));
        let err = jsonata::check(&deep).map(|()| "").map_err(|e| e.message);
        assert_eq!(
            err,
            Err("expression is nested more than 64 levels deep".to_string())
        );
    }

    #[test]
    fn definitions_in_the_style_of_the_aws_guide_are_accepted() {
        let definitions = [
            json!({"Comment": "distributed map", "Version": "1.0", "TimeoutSeconds": 3600,
                "StartAt": "Map", "States": {"Map": {
                "Type": "Map", "Label": "Map", "MaxConcurrency": 1000,
                "ToleratedFailurePercentage": 5, "End": true,
                "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                    "Parameters": {"Bucket": "b", "Key.$": "$.key"}},
                "ItemBatcher": {"MaxItemsPerBatch": 10, "BatchInput": {"run.$": "$$.Execution.Id"}},
                "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket": "b", "Prefix": "out"}},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Invoke", "States": {"Invoke": {
                        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "OutputPath": "$.Payload",
                        "Parameters": {"Payload.$": "$",
                            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"},
                        "Retry": [{"ErrorEquals": ["Lambda.ServiceException",
                            "Lambda.TooManyRequestsException"], "IntervalSeconds": 2,
                            "MaxAttempts": 6, "BackoffRate": 2, "MaxDelaySeconds": 30,
                            "JitterStrategy": "FULL"}],
                        "End": true}}}}}}),
            json!({"StartAt": "Wait for callback", "States": {
                "Wait for callback": {"Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q",
                        "MessageBody": {"token.$": "$$.Task.Token", "input.$": "$"}},
                    "Credentials": {"RoleArn.$": "$.roleArn"},
                    "TimeoutSecondsPath": "$.timeout", "HeartbeatSecondsPath": "$.heartbeat",
                    "ResultSelector": {"status.$": "$.Status"}, "ResultPath": "$.callback",
                    "Assign": {"attempt.$": "States.MathAdd($attempt, 1)", "fixed": 1},
                    "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": null,
                        "Next": "Check"},
                        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                        "Next": "Failed"}],
                    "Next": "Check"},
                "Check": {"Type": "Choice", "Default": "Failed",
                    "Choices": [
                        {"And": [{"Variable": "$.callback.status", "IsPresent": true},
                                 {"Variable": "$.callback.status", "StringMatches": "OK*"}],
                         "Next": "Done"},
                        {"Not": {"Variable": "$.when", "TimestampLessThanEqualsPath": "$.deadline"},
                         "Assign": {"late": true}, "Next": "Later"}]},
                "Later": {"Type": "Wait", "TimestampPath": "$.deadline", "Next": "Parallel"},
                "Parallel": {"Type": "Parallel", "InputPath": null, "OutputPath": null,
                    "ResultSelector": {"first.$": "$[0]"}, "ResultPath": "$.branches",
                    "Branches": [{"StartAt": "Noop", "States": {"Noop": {"Type": "Pass",
                        "Result": {"a": 1}, "ResultPath": null, "End": true}}}],
                    "Next": "Done"},
                "Done": {"Type": "Succeed"},
                "Failed": {"Type": "Fail", "ErrorPath": "States.Format('E{}', $.code)",
                    "CausePath": "$.error.Cause"}}}),
            json!({"QueryLanguage": "JSONata", "StartAt": "Get", "States": {
                "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                    "Arguments": {"TableName": "t", "Key": {"pk": {"S": "{% $states.input.id %}"}}},
                    "TimeoutSeconds": "{% $states.input.timeout %}", "HeartbeatSeconds": 5,
                    "Output": "{% $states.result.Item %}",
                    "Assign": {"item": "{% $states.result.Item %}"},
                    "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops",
                        "Output": {"error": "{% $states.errorOutput %}"}}],
                    "Next": "Decide"},
                "Decide": {"Type": "Choice", "Default": "Each", "Output": "{% $item %}",
                    "Choices": [{"Condition": "{% $item.count > 10 %}", "Next": "Oops",
                        "Output": {"big": true}}]},
                "Each": {"Type": "Map", "Items": "{% $item.list %}", "MaxConcurrency": "{% 2 %}",
                    "ItemSelector": {"value": "{% $states.context.Map.Item.Value %}"},
                    "ItemProcessor": {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait",
                        "Seconds": "{% $states.input.value %}", "End": true}}},
                    "Next": "Done"},
                "Done": {"Type": "Succeed", "Output": {"n": "{% $count($item.list) %}"}},
                "Oops": {"Type": "Fail", "Error": "{% 'Too' & 'Big' %}", "Cause": "constant"}}}),
        ];
        for definition in definitions {
            assert_eq!(errors_of(definition), Vec::<String>::new());
        }
    }
}
