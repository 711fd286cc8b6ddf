//! Input and output processing, in both query languages: InputPath, Parameters,
//! ResultSelector, ResultPath and OutputPath for JSONPath; Arguments and Output for JSONata;
//! variables (`Assign`); and what the expressions of a state read (its [`Env`]).

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::asl::error::{self, StatesError};
use crate::asl::jsonata::{self, Moment};
use crate::asl::model::{Catcher, Common, PathField, QueryLanguage, ResultFields};
use crate::asl::path::Scope;
use crate::asl::payload::{json_len, PAYLOAD_LIMIT_BYTES};
use crate::asl::template::Template;
use crate::engine::execution::{FrameId, FrameInput};
use crate::engine::step::{to_json_string, Stepper};

/// What the expressions of the current state read besides its input: the context object
/// (`Value::Null` when no expression needs it) and the variables in scope.
pub(crate) struct Env {
    pub(crate) context: Value,
    pub(crate) vars: Arc<Map<String, Value>>,
    /// The step's time and seed, for JSONata's `$now`, `$uuid`, `$random`, ...
    pub(crate) moment: Moment,
}

impl Env {
    /// A JSONPath scope over `input`.
    pub(crate) fn scope<'a>(&'a self, input: &'a Value) -> Scope<'a> {
        Scope::new(input, &self.context).with_vars(&self.vars)
    }

    /// The JSONata `$states` object: input, context, and `extra` (result or errorOutput).
    pub(crate) fn states(&self, input: &Value, extra: Option<(&str, &Value)>) -> Value {
        let mut states = Map::new();
        states.insert("input".into(), input.clone());
        states.insert("context".into(), self.context.clone());
        if let Some((k, v)) = extra {
            states.insert(k.into(), v.clone());
        }
        Value::Object(states)
    }
}

/// Variables assigned by a state, applied once its output is known.
pub(crate) type Assigned = Option<Map<String, Value>>;

/// `InputPath` (and `OutputPath`): `null` gives `{}`, a path selects from the value.
pub(crate) fn apply_path(field: &PathField, value: Value, env: &Env) -> Result<Value, StatesError> {
    match field {
        PathField::Default => Ok(value),
        PathField::Null => Ok(Value::Object(Map::new())),
        PathField::Path(p) if p.is_root() && p.variable().is_none() && !p.uses_context() => {
            Ok(value)
        }
        PathField::Path(p) => p
            .eval(&env.scope(&value))
            .map_err(|e| StatesError::runtime(e.to_string())),
    }
}

/// A state's effective input: its raw input itself, or what InputPath selects from a copy.
pub(crate) fn effective_input<'a>(
    raw: &'a Value,
    input_path: &PathField,
    env: &Env,
) -> Result<Cow<'a, Value>, StatesError> {
    match input_path {
        PathField::Default => Ok(Cow::Borrowed(raw)),
        f => apply_path(f, raw.clone(), env).map(Cow::Owned),
    }
}

/// `ResultPath`: where the result goes in the raw input.
pub(crate) fn apply_result_path(
    field: &PathField,
    input: impl Into<FrameInput>,
    result: Value,
) -> Result<Value, StatesError> {
    match field {
        // The input is dropped unread: no copy of a shared one.
        PathField::Default => Ok(result),
        PathField::Null => Ok(input.into().into_value()),
        PathField::Path(p) => p
            .set(input.into().into_value(), result)
            .map_err(|cause| StatesError::new(error::RESULT_PATH_MATCH_FAILURE, cause)),
    }
}

/// An upper bound on the JSON length of `result` put into an input `input_len` long at
/// `field` (as [`apply_result_path`] puts it); `None` when ResultPath is `$` (the output is the
/// result: walking it is the check) or is not a reference path.
fn result_path_bound(field: &PathField, input_len: usize, result: &Value) -> Option<usize> {
    match field {
        PathField::Null => Some(input_len),
        PathField::Default => None,
        PathField::Path(p) => {
            let steps = p.reference_steps().filter(|s| !s.is_empty())?;
            // Each step may add a field to an object it creates: `{"name":...}` and a comma.
            let added: usize = steps
                .iter()
                .map(|s| match s {
                    crate::asl::path::Step::Field(name) => name.len() + 6,
                    crate::asl::path::Step::Index(_) => 0,
                })
                .sum();
            Some(input_len + added + json_len(result, PAYLOAD_LIMIT_BYTES))
        }
    }
}

pub(crate) fn uses_context(field: &PathField) -> bool {
    matches!(field, PathField::Path(p) if p.uses_context())
}

/// True when a JSONPath state's common fields or `Assign` read `$$`.
pub(crate) fn common_uses_context(common: &Common) -> bool {
    uses_context(&common.input_path)
        || uses_context(&common.output_path)
        || common
            .assign_template
            .as_ref()
            .is_some_and(Template::uses_context)
}

/// Renders a value as causes quote it: strings raw, the rest as JSON.
pub(crate) fn render_plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

pub(crate) fn error_output(err: &StatesError) -> Value {
    let mut o = Map::new();
    o.insert("Error".into(), Value::String(err.error.clone()));
    if let Some(c) = &err.cause {
        o.insert("Cause".into(), Value::String(c.clone()));
    }
    Value::Object(o)
}

/// Evaluates a field that may be a JSONata expression string or a literal.
pub(crate) fn eval_field(
    v: &Value,
    field: &str,
    states: &Value,
    env: &Env,
) -> Result<Value, StatesError> {
    jsonata::eval_template(v, field, states, &env.vars, &env.moment)
}

/// An integer, or a string holding one (variables often hold numbers as strings).
pub(crate) fn integer_like(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number, or a string holding one.
pub(crate) fn float_like(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Stepper<'_> {
    /// The environment of the frame's current state.
    pub(crate) fn env(&self, id: FrameId, name: &str, context: bool, with_retry: bool) -> Env {
        let moment = Moment::new(self.now, self.seed_now());
        match self.frames.get(id).and_then(Option::as_ref) {
            Some(frame) => Env {
                context: if context {
                    self.context(frame, name, with_retry)
                } else {
                    Value::Null
                },
                vars: Arc::clone(&frame.vars),
                moment,
            },
            None => Env {
                context: Value::Null,
                vars: Arc::default(),
                moment,
            },
        }
    }

    /// Sets the variables a state assigned.
    pub(crate) fn apply_vars(&mut self, id: FrameId, assigned: Assigned) {
        let Some(assigned) = assigned else { return };
        if assigned.is_empty() {
            return;
        }
        let record = self.record_history;
        if let Some(frame) = self.frames.get_mut(id).and_then(Option::as_mut) {
            if record {
                let texts = frame.assigned.get_or_insert_with(Default::default);
                for (k, v) in &assigned {
                    texts.insert(k.clone(), Value::String(to_json_string(v)));
                }
            }
            let vars = Arc::make_mut(&mut frame.vars);
            for (k, v) in assigned {
                vars.insert(k, v);
            }
        }
    }

    /// Evaluates a JSONPath `Assign` template over `input`.
    pub(crate) fn assign_jsonpath(
        &self,
        template: Option<&Template>,
        input: &Value,
        env: &Env,
    ) -> Result<Assigned, StatesError> {
        let Some(t) = template else { return Ok(None) };
        let mut rng = self.rng();
        match t.eval(&env.scope(input), &mut rng)? {
            Value::Object(map) => checked_assignment(map),
            _ => Ok(None),
        }
    }

    /// Evaluates a JSONata `Assign` object with `$states`.
    pub(crate) fn assign_jsonata(
        &self,
        assign: Option<&Value>,
        states: &Value,
        env: &Env,
    ) -> Result<Assigned, StatesError> {
        let Some(assign) = assign else {
            return Ok(None);
        };
        match jsonata::eval_template(assign, "Assign", states, &env.vars, &env.moment)? {
            Value::Object(map) => checked_assignment(map),
            _ => Ok(None),
        }
    }

    /// Evaluates a JSONata `Output` (or returns `default`).
    pub(crate) fn output_jsonata(
        output: Option<&Value>,
        states: &Value,
        env: &Env,
        default: Value,
    ) -> Result<Value, StatesError> {
        match output {
            Some(o) => jsonata::eval_template(o, "Output", states, &env.vars, &env.moment),
            None => Ok(default),
        }
    }

    /// ResultSelector, Assign, ResultPath and OutputPath (or Output and Assign) on the
    /// result of a Task, Parallel or Map state; returns the state output.
    pub(crate) fn state_output(
        &mut self,
        id: FrameId,
        name: &str,
        common: &Common,
        fields: &ResultFields,
        result: Value,
    ) -> Result<Value, StatesError> {
        if common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, true);
            self.inspect(id, "result", || result.clone());
            let raw = self.take_frame_input(id);
            let states = env.states(&raw, Some(("result", &result)));
            let assigned = self.assign_jsonata(common.assign.as_ref(), &states, &env)?;
            let output = Self::output_jsonata(common.output.as_ref(), &states, &env, result)?;
            self.apply_vars(id, assigned);
            return Ok(output);
        }
        let needs_ctx = common_uses_context(common)
            || fields
                .result_selector
                .as_ref()
                .is_some_and(Template::uses_context);
        let env = self.env(id, name, needs_ctx, true);
        self.inspect(id, "result", || result.clone());
        let result = match &fields.result_selector {
            Some(t) => {
                let mut rng = self.rng();
                t.eval(&env.scope(&result), &mut rng)?
            }
            None => result,
        };
        self.inspect(id, "afterResultSelector", || result.clone());
        let assigned = self.assign_jsonpath(common.assign_template.as_ref(), &result, &env)?;
        let raw_input = self.take_frame_input(id);
        // The output's length, bounded from the input's without walking the whole output.
        let bound = match (&common.output_path, raw_input.known_len()) {
            (PathField::Default, Some(len)) => result_path_bound(&fields.result_path, len, &result),
            _ => None,
        };
        let combined = apply_result_path(&fields.result_path, raw_input, result)?;
        self.output_len = bound.map(|b| (id, b));
        self.inspect(id, "afterResultPath", || combined.clone());
        let output = apply_path(&common.output_path, combined, &env)?;
        self.apply_vars(id, assigned);
        Ok(output)
    }

    /// The output of a catcher: the error output through ResultPath (or Output), with
    /// the catcher's Assign applied.
    pub(crate) fn catcher_output(
        &mut self,
        id: FrameId,
        name: &str,
        lang: QueryLanguage,
        catcher: &Catcher,
        err: &StatesError,
    ) -> Result<Value, StatesError> {
        let error_output = error_output(err);
        let needs_ctx = lang == QueryLanguage::JSONata
            || catcher
                .assign_template
                .as_ref()
                .is_some_and(Template::uses_context);
        let env = self.env(id, name, needs_ctx, true);
        let raw = self.take_frame_input(id);
        if lang == QueryLanguage::JSONata {
            let states = env.states(&raw, Some(("errorOutput", &error_output)));
            let assigned = self.assign_jsonata(catcher.assign.as_ref(), &states, &env)?;
            let output =
                Self::output_jsonata(catcher.output.as_ref(), &states, &env, error_output)?;
            self.apply_vars(id, assigned);
            return Ok(output);
        }
        let assigned =
            self.assign_jsonpath(catcher.assign_template.as_ref(), &error_output, &env)?;
        let output = apply_result_path(&catcher.result_path, raw, error_output)?;
        self.apply_vars(id, assigned);
        Ok(output)
    }

    pub(crate) fn frame_input(&mut self, id: FrameId, value: impl Into<FrameInput>) {
        if let Some(f) = self.frames.get_mut(id).and_then(Option::as_mut) {
            f.input = value.into();
        }
    }
}

/// The variables one `Assign` sets, unless together they are larger than AWS allows (256 KiB,
/// the payload limit): then the state fails with `States.DataLimitExceeded`, as a state whose
/// output is too large does.
fn checked_assignment(map: Map<String, Value>) -> Result<Assigned, StatesError> {
    let size: usize = map
        .iter()
        .map(|(k, v)| k.len() + json_len(v, PAYLOAD_LIMIT_BYTES))
        .sum();
    if size > PAYLOAD_LIMIT_BYTES {
        return Err(StatesError::new(
            error::DATA_LIMIT_EXCEEDED,
            format!(
                "The variables assigned have a size exceeding the maximum number of bytes service limit ({PAYLOAD_LIMIT_BYTES})."
            ),
        ));
    }
    Ok(Some(map))
}
