//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`): objects whose
//! `"key.$"` fields take their value from a path or an intrinsic function call.
//!
//! A template is compiled once; evaluating it builds the payload in one pass.

use serde_json::{Map, Value};

use crate::asl::error::StatesError;
use crate::asl::intrinsics::{is_intrinsic, Intrinsic};
use crate::asl::path::{Path, Scope};

/// A dynamic value: a path (`$.a`, `$$.Map.Item.Value`) or an intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub enum Dynamic {
    /// A JSONPath.
    Path(Path),
    /// An intrinsic function call.
    Intrinsic(Intrinsic),
}

impl Dynamic {
    /// Parses the string value of a `"key.$"` field.
    ///
    /// # Errors
    /// A message when `src` is neither a valid path nor a valid intrinsic call.
    pub fn parse(src: &str) -> Result<Dynamic, String> {
        if src.starts_with('$') {
            Path::parse(src)
                .map(Dynamic::Path)
                .map_err(|e| e.to_string())
        } else if is_intrinsic(src) {
            Intrinsic::parse(src)
                .map(Dynamic::Intrinsic)
                .map_err(|e| e.to_string())
        } else {
            Err(format!(
                "{src:?} is neither a JSONPath nor an intrinsic function call"
            ))
        }
    }

    /// True when the value reads the context object.
    pub fn uses_context(&self) -> bool {
        match self {
            Dynamic::Path(p) => p.uses_context(),
            Dynamic::Intrinsic(i) => i.uses_context(),
        }
    }

    /// True when `f` holds for every path the value reads.
    pub fn all_paths(&self, f: &dyn Fn(&Path) -> bool) -> bool {
        match self {
            Dynamic::Path(p) => f(p),
            Dynamic::Intrinsic(i) => i.all_paths(f),
        }
    }

    /// Evaluates the value; `field` names the field for error causes.
    ///
    /// # Errors
    /// `States.Runtime` when a path finds nothing; intrinsic failures as they come.
    pub fn eval(
        &self,
        field: &str,
        scope: &Scope<'_>,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Value, StatesError> {
        match self {
            Dynamic::Path(p) => p.eval(scope).map_err(|_| {
                let doc = if p.uses_context() {
                    scope.context
                } else {
                    scope.input
                };
                StatesError::runtime(format!(
                    "The JSONPath '{}' specified for the field '{}' could not be found in the input '{}'",
                    p,
                    field,
                    serde_json::to_string(doc).unwrap_or_default()
                ))
            }),
            Dynamic::Intrinsic(i) => i.eval(scope, rng),
        }
    }
}

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// A value with nothing dynamic in it.
    Literal(Value),
    /// An object with at least one dynamic field somewhere inside.
    Object {
        /// The fields, in order, by their output names.
        fields: Vec<(String, Template)>,
        /// The output object with every key in place, literal fields filled and the others
        /// null: evaluating clones it (no key hashed) and fills the others in. `None` when two
        /// fields share an output name (`"a"` and `"a.$"`): then the fields are inserted one by
        /// one, the later replacing the earlier.
        skeleton: Option<Map<String, Value>>,
    },
    /// An array with at least one dynamic field somewhere inside.
    Array(Vec<Template>),
    /// The value of a `"key.$"` field; `field` keeps the key as written.
    Dynamic {
        /// The key as written, with its `.$`.
        field: String,
        /// The path or call.
        value: Dynamic,
    },
}

impl Template {
    /// Compiles a template.
    ///
    /// # Errors
    /// A message naming the first field whose `.$` value is not a string, a valid path or
    /// a valid intrinsic call.
    pub fn compile(value: &Value) -> Result<Template, String> {
        let t = compile(value)?;
        Ok(t)
    }

    /// True when some path in the template reads the context object.
    pub fn uses_context(&self) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Object { fields, .. } => fields.iter().any(|(_, t)| t.uses_context()),
            Template::Array(items) => items.iter().any(Template::uses_context),
            Template::Dynamic { value, .. } => value.uses_context(),
        }
    }

    /// True when `f` holds for every path in the template.
    pub fn all_paths(&self, f: &dyn Fn(&Path) -> bool) -> bool {
        match self {
            Template::Literal(_) => true,
            Template::Object { fields, .. } => fields.iter().all(|(_, t)| t.all_paths(f)),
            Template::Array(items) => items.iter().all(|t| t.all_paths(f)),
            Template::Dynamic { value, .. } => value.all_paths(f),
        }
    }

    /// Builds the payload.
    ///
    /// # Errors
    /// `States.Runtime` when a path finds nothing; intrinsic failures as they come.
    pub fn eval(
        &self,
        scope: &Scope<'_>,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Value, StatesError> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Object {
                fields,
                skeleton: Some(skeleton),
            } => {
                let mut out = skeleton.clone();
                for (slot, (_, t)) in out.values_mut().zip(fields) {
                    if !is_static(t) {
                        *slot = t.eval(scope, rng)?;
                    }
                }
                Ok(Value::Object(out))
            }
            Template::Object {
                fields,
                skeleton: None,
            } => {
                let mut out = Map::with_capacity(fields.len());
                for (key, t) in fields {
                    out.insert(key.clone(), t.eval(scope, rng)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(scope, rng))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Dynamic { field, value } => value.eval(field, scope, rng),
        }
    }
}

/// Fields an object template's output has room for beyond its own.
const SPARE_FIELDS: usize = 2;

fn is_static(t: &Template) -> bool {
    matches!(t, Template::Literal(_))
}

fn compile(value: &Value) -> Result<Template, String> {
    match value {
        Value::Object(map) => {
            let mut fields = Vec::with_capacity(map.len());
            for (key, v) in map {
                if let Some(name) = key.strip_suffix(".$") {
                    let src = v.as_str().ok_or_else(|| {
                        format!("the value of field {key:?} must be a string (a path or an intrinsic function call)")
                    })?;
                    let value = Dynamic::parse(src).map_err(|e| format!("field {key:?}: {e}"))?;
                    fields.push((
                        name.to_string(),
                        Template::Dynamic {
                            field: key.clone(),
                            value,
                        },
                    ));
                } else {
                    fields.push((key.clone(), compile(v)?));
                }
            }
            if fields.iter().all(|(_, t)| is_static(t)) {
                return Ok(Template::Literal(value.clone()));
            }
            // Room for a few more fields: a clone keeps the room, and a ResultPath that adds
            // the task's result to this object then does not grow it.
            let mut skeleton = Map::with_capacity(fields.len() + SPARE_FIELDS);
            for (k, t) in &fields {
                let v = match t {
                    Template::Literal(v) => v.clone(),
                    _ => Value::Null,
                };
                skeleton.insert(k.clone(), v);
            }
            let skeleton = (skeleton.len() == fields.len()).then_some(skeleton);
            Ok(Template::Object { fields, skeleton })
        }
        Value::Array(items) => {
            let items = items.iter().map(compile).collect::<Result<Vec<_>, _>>()?;
            if items.iter().all(is_static) {
                Ok(Template::Literal(value.clone()))
            } else {
                Ok(Template::Array(items))
            }
        }
        other => Ok(Template::Literal(other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(template: Value, input: Value) -> Result<Value, StatesError> {
        let t = Template::compile(&template).expect("valid template");
        let ctx = json!({"State": {"Name": "S"}});
        t.eval(&Scope::new(&input, &ctx), &mut rand::rng())
    }

    #[test]
    fn dollar_keys_take_path_values_and_lose_suffix() {
        let out = run(
            json!({"a.$": "$.x", "b": {"c.$": "$$.State.Name"}, "d": [1, {"e.$": "$"}]}),
            json!({"x": 5}),
        );
        assert_eq!(
            out,
            Ok(json!({"a": 5, "b": {"c": "S"}, "d": [1, {"e": {"x": 5}}]}))
        );
    }

    #[test]
    fn missing_path_fails_with_aws_cause() {
        let err = run(
            json!({"value.$": "$.no_such_jsonpath"}),
            json!({"int-literal": 0}),
        )
        .unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause.as_deref(),
            Some("The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'")
        );
    }

    #[test]
    fn fields_keep_their_order_and_a_later_field_of_the_same_name_wins() {
        let out = run(
            json!({"z": 1, "a.$": "$.x", "m": [1], "b.$": "$.y"}),
            json!({"x": "X", "y": {"k": true}}),
        )
        .expect("evaluates");
        assert_eq!(
            serde_json::to_string(&out).expect("json"),
            r#"{"z":1,"a":"X","m":[1],"b":{"k":true}}"#
        );
        let out = run(json!({"a": 1, "b": 2, "a.$": "$.x"}), json!({"x": "X"}));
        assert_eq!(
            out.map(|v| serde_json::to_string(&v).expect("json")),
            Ok(r#"{"a":"X","b":2}"#.to_string())
        );
    }

    #[test]
    fn dollar_value_that_is_not_a_string_is_rejected() {
        assert!(Template::compile(&json!({"a.$": 1})).is_err());
        assert!(Template::compile(&json!({"a.$": "plain"})).is_err());
    }
}
