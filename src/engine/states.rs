//! What each state type does with its input, in both query languages: input and output
//! processing (InputPath, Parameters, ResultSelector, ResultPath, OutputPath for JSONPath;
//! Arguments and Output for JSONata), variables (`Assign`), and the work of each state.
//!
//! `step.rs` owns the frames, transitions, retry and catch; this file computes values.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::asl::error::{self, StatesError};
use crate::asl::jsonata;
use crate::asl::model::{
    Catcher, ChoiceState, Common, FailState, MapState, ParallelState, PassState, PathField,
    QueryLanguage, ResultFields, TaskState, WaitState,
};
use crate::asl::path::Scope;
use crate::asl::template::Template;
use crate::asl::timestamp::parse_timestamp;
use crate::engine::execution::FrameId;
use crate::engine::step::{Outcome, Stepper};

/// What the expressions of the current state read besides its input: the context object
/// (`Value::Null` when no expression needs it) and the variables in scope.
pub(crate) struct Env {
    pub(crate) context: Value,
    pub(crate) vars: Arc<Map<String, Value>>,
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

/// `ResultPath`: where the result goes in the raw input.
pub(crate) fn apply_result_path(
    field: &PathField,
    input: Value,
    result: Value,
) -> Result<Value, StatesError> {
    match field {
        PathField::Default => Ok(result),
        PathField::Null => Ok(input),
        PathField::Path(p) => p
            .set(input, result)
            .map_err(|cause| StatesError::new(error::RESULT_PATH_MATCH_FAILURE, cause)),
    }
}

fn uses_context(field: &PathField) -> bool {
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

fn error_output(err: &StatesError) -> Value {
    let mut o = Map::new();
    o.insert("Error".into(), Value::String(err.error.clone()));
    if let Some(c) = &err.cause {
        o.insert("Cause".into(), Value::String(c.clone()));
    }
    Value::Object(o)
}

impl Stepper<'_> {
    /// The environment of the frame's current state.
    pub(crate) fn env(&self, id: FrameId, name: &str, context: bool, with_retry: bool) -> Env {
        match self.frames.get(id).and_then(Option::as_ref) {
            Some(frame) => Env {
                context: if context {
                    self.context(frame, name, with_retry)
                } else {
                    Value::Null
                },
                vars: Arc::clone(&frame.vars),
            },
            None => Env {
                context: Value::Null,
                vars: Arc::default(),
            },
        }
    }

    /// Sets the variables a state assigned.
    pub(crate) fn apply_vars(&mut self, id: FrameId, assigned: Assigned) {
        let Some(assigned) = assigned else { return };
        if assigned.is_empty() {
            return;
        }
        if let Some(frame) = self.frames.get_mut(id).and_then(Option::as_mut) {
            let vars = Arc::make_mut(&mut frame.vars);
            for (k, v) in assigned {
                vars.insert(k, v);
            }
        }
    }

    /// Evaluates a JSONPath `Assign` template over `input`.
    fn assign_jsonpath(
        &self,
        template: Option<&Template>,
        input: &Value,
        env: &Env,
    ) -> Result<Assigned, StatesError> {
        let Some(t) = template else { return Ok(None) };
        let mut rng = self.rng();
        match t.eval(&env.scope(input), &mut rng)? {
            Value::Object(map) => Ok(Some(map)),
            _ => Ok(None),
        }
    }

    /// Evaluates a JSONata `Assign` object with `$states`.
    fn assign_jsonata(
        &self,
        assign: Option<&Value>,
        states: &Value,
        env: &Env,
    ) -> Result<Assigned, StatesError> {
        let Some(assign) = assign else {
            return Ok(None);
        };
        match jsonata::eval_template(assign, "Assign", states, &env.vars)? {
            Value::Object(map) => Ok(Some(map)),
            _ => Ok(None),
        }
    }

    /// Evaluates a JSONata `Output` (or returns `default`).
    fn output_jsonata(
        output: Option<&Value>,
        states: &Value,
        env: &Env,
        default: Value,
    ) -> Result<Value, StatesError> {
        match output {
            Some(o) => jsonata::eval_template(o, "Output", states, &env.vars),
            None => Ok(default),
        }
    }

    pub(crate) fn run_pass(
        &mut self,
        id: FrameId,
        name: &str,
        p: &PassState,
    ) -> Result<Outcome, StatesError> {
        if p.common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, false);
            let raw = self.take_input(id);
            let states = env.states(&raw, None);
            let assigned = self.assign_jsonata(p.common.assign.as_ref(), &states, &env)?;
            let output = Self::output_jsonata(p.common.output.as_ref(), &states, &env, raw)?;
            self.apply_vars(id, assigned);
            return Ok(Outcome::Next(output));
        }
        let needs_ctx = common_uses_context(&p.common)
            || p.parameters.as_ref().is_some_and(Template::uses_context);
        let env = self.env(id, name, needs_ctx, false);
        let raw = self.take_input(id);
        if p.result.is_none()
            && p.parameters.is_none()
            && p.common.input_path == PathField::Default
            && p.result_path == PathField::Default
            && p.common.assign_template.is_none()
        {
            return Ok(Outcome::Next(apply_path(&p.common.output_path, raw, &env)?));
        }
        let result = match &p.result {
            Some(r) => r.clone(),
            None => {
                let owned;
                let effective = match &p.common.input_path {
                    PathField::Default => &raw,
                    f => {
                        owned = apply_path(f, raw.clone(), &env)?;
                        &owned
                    }
                };
                match &p.parameters {
                    Some(t) => {
                        let mut rng = self.rng();
                        t.eval(&env.scope(effective), &mut rng)?
                    }
                    None => effective.clone(),
                }
            }
        };
        let assigned = self.assign_jsonpath(p.common.assign_template.as_ref(), &result, &env)?;
        let combined = apply_result_path(&p.result_path, raw, result)?;
        let output = apply_path(&p.common.output_path, combined, &env)?;
        self.apply_vars(id, assigned);
        Ok(Outcome::Next(output))
    }

    /// Runs a Choice state; the outcome carries the target state index as a number.
    pub(crate) fn run_choice(
        &mut self,
        id: FrameId,
        name: &str,
        c: &ChoiceState,
    ) -> Result<Outcome, StatesError> {
        let jsonata = c.common.lang == QueryLanguage::JSONata;
        let env = self.env(id, name, jsonata || c.uses_context, false);
        let raw = self.take_input(id);
        if jsonata {
            let states = env.states(&raw, None);
            let mut chosen = None;
            for (i, rule) in c.choices.iter().enumerate() {
                let condition = rule.jsonata_condition().cloned().unwrap_or(Value::Null);
                let value = match &condition {
                    Value::String(s) if jsonata::is_expression(s) => {
                        let expr = jsonata::expression_text(s).unwrap_or_default();
                        let v = jsonata::eval(expr, &states, &env.vars)?.unwrap_or(Value::Null);
                        jsonata::expect_type(expr, "Condition", &v, "boolean")?;
                        v
                    }
                    other => other.clone(),
                };
                if value == Value::Bool(true) {
                    chosen = Some(i);
                    break;
                }
            }
            let (target, output, assign) = match chosen {
                Some(i) => (
                    c.targets[i],
                    c.choices[i].output().or(c.common.output.as_ref()),
                    c.choices[i].assign(),
                ),
                None => match c.default_target {
                    Some(t) => (t, c.common.output.as_ref(), c.common.assign.as_ref()),
                    None => return Err(no_choice(name)),
                },
            };
            let assigned = self.assign_jsonata(assign, &states, &env)?;
            let output = Self::output_jsonata(output, &states, &env, raw)?;
            self.frame_input(id, output);
            self.apply_vars(id, assigned);
            return Ok(Outcome::Next(Value::from(target as u64)));
        }
        let input = apply_path(&c.common.input_path, raw, &env)?;
        let scope = env.scope(&input);
        let mut chosen = None;
        for (i, rule) in c.choices.iter().enumerate() {
            if rule.matches(&scope)? {
                chosen = Some(i);
                break;
            }
        }
        let (target, assign) = match chosen {
            Some(i) => (c.targets[i], c.rule_assigns.get(i).and_then(Option::as_ref)),
            None => match c.default_target {
                Some(t) => (t, c.common.assign_template.as_ref()),
                None => return Err(no_choice(name)),
            },
        };
        let assigned = self.assign_jsonpath(assign, &input, &env)?;
        // A Choice state's output is its effective input, through OutputPath.
        let output = apply_path(&c.common.output_path, input, &env)?;
        self.frame_input(id, output);
        self.apply_vars(id, assigned);
        Ok(Outcome::Next(Value::from(target as u64)))
    }

    pub(crate) fn run_succeed(
        &mut self,
        id: FrameId,
        name: &str,
        common: &Common,
    ) -> Result<Outcome, StatesError> {
        let jsonata = common.lang == QueryLanguage::JSONata;
        let env = self.env(id, name, jsonata || common_uses_context(common), false);
        let raw = self.take_input(id);
        if jsonata {
            let states = env.states(&raw, None);
            return Ok(Outcome::Next(Self::output_jsonata(
                common.output.as_ref(),
                &states,
                &env,
                raw,
            )?));
        }
        let effective = apply_path(&common.input_path, raw, &env)?;
        Ok(Outcome::Next(apply_path(
            &common.output_path,
            effective,
            &env,
        )?))
    }

    /// The error and cause of a Fail state.
    pub(crate) fn fail_error(
        &mut self,
        id: FrameId,
        name: &str,
        f: &FailState,
    ) -> Result<StatesError, StatesError> {
        let env = self.env(id, name, true, false);
        let raw = self.take_input(id);
        if f.lang == QueryLanguage::JSONata {
            let states = env.states(&raw, None);
            let text = |field: &str, v: &Option<String>| -> Result<Option<String>, StatesError> {
                match v {
                    Some(s) if jsonata::is_expression(s) => {
                        let expr = jsonata::expression_text(s).unwrap_or_default();
                        let v = jsonata::eval(expr, &states, &env.vars)?.unwrap_or(Value::Null);
                        jsonata::expect_type(expr, field, &v, "string")?;
                        Ok(Some(render_plain(&v)))
                    }
                    other => Ok(other.clone()),
                }
            };
            return Ok(StatesError {
                error: text("Error", &f.error)?.unwrap_or_default(),
                cause: text("Cause", &f.cause)?,
            });
        }
        let scope = env.scope(&raw);
        let mut rng = self.rng();
        let error = match (&f.error, &f.error_path) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(d)) => Some(render_plain(&d.eval("ErrorPath", &scope, &mut rng)?)),
            (None, None) => None,
        };
        let cause = match (&f.cause, &f.cause_path) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(d)) => Some(render_plain(&d.eval("CausePath", &scope, &mut rng)?)),
            (None, None) => None,
        };
        Ok(StatesError {
            error: error.unwrap_or_default(),
            cause,
        })
    }

    /// Works out a Wait state's due time and output. Returns (due, output).
    pub(crate) fn wait_until(
        &mut self,
        id: FrameId,
        name: &str,
        w: &WaitState,
        time: i64,
    ) -> Result<(i64, Value), StatesError> {
        if w.common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, false);
            let raw = self.take_input(id);
            let states = env.states(&raw, None);
            let due = if let Some(secs) = &w.seconds {
                let v = eval_field(secs, "Seconds", &states, &env)?;
                let Some(s) = v.as_i64().filter(|s| *s >= 0) else {
                    return Err(StatesError::new(
                        error::QUERY_EVALUATION_ERROR,
                        format!(
                            "The Seconds field must be a non-negative integer, but was: {}",
                            render_plain(&v)
                        ),
                    ));
                };
                time + s * 1000
            } else if let Some(ts) = &w.timestamp {
                let v = eval_field(&Value::String(ts.clone()), "Timestamp", &states, &env)?;
                let text = render_plain(&v);
                parse_timestamp(&text).ok_or_else(|| {
                    StatesError::new(
                        error::QUERY_EVALUATION_ERROR,
                        format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"),
                    )
                })?
            } else {
                time
            };
            let assigned = self.assign_jsonata(w.common.assign.as_ref(), &states, &env)?;
            let output = Self::output_jsonata(w.common.output.as_ref(), &states, &env, raw)?;
            self.apply_vars(id, assigned);
            return Ok((due, output));
        }
        let env = self.env(id, name, common_uses_context(&w.common), false);
        let raw = self.take_input(id);
        let effective = apply_path(&w.common.input_path, raw, &env)?;
        let scope = env.scope(&effective);
        let due = if let Some(secs) = &w.seconds {
            time + secs.as_i64().unwrap_or(0).max(0) * 1000
        } else if let Some(ts) = &w.timestamp {
            parse_timestamp(ts).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {ts}"
                ))
            })?
        } else if let Some(p) = &w.seconds_path {
            let v = p.lookup(&scope).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The SecondsPath parameter does not reference an input value: {p}"
                ))
            })?;
            let Some(secs) = v.as_i64() else {
                return Err(StatesError::runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {p} == {}",
                    render_plain(v)
                )));
            };
            if secs < 0 {
                return Err(StatesError::runtime(format!(
                    "The SecondsPath parameter references a negative value: {p} == {secs}"
                )));
            }
            time + secs * 1000
        } else if let Some(p) = &w.timestamp_path {
            let v = p.lookup(&scope).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The TimestampPath parameter does not reference an input value: {p}"
                ))
            })?;
            let bad = || {
                StatesError::runtime(format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                    render_plain(v)
                ))
            };
            parse_timestamp(v.as_str().ok_or_else(bad)?).ok_or_else(bad)?
        } else {
            time
        };
        let assigned = self.assign_jsonpath(w.common.assign_template.as_ref(), &effective, &env)?;
        let output = apply_path(&w.common.output_path, effective, &env)?;
        self.apply_vars(id, assigned);
        Ok((due, output))
    }

    /// The input a Task sends to its resource (Parameters or Arguments).
    pub(crate) fn task_input(
        &self,
        id: FrameId,
        name: &str,
        t: &TaskState,
        token: Option<&str>,
    ) -> Result<Value, StatesError> {
        let Some(frame) = self.frames.get(id).and_then(Option::as_ref) else {
            return Ok(Value::Null);
        };
        let with_token = |mut env: Env| {
            if let (Some(token), Value::Object(ctx)) = (token, &mut env.context) {
                ctx.insert("Task".into(), json!({"Token": token}));
            }
            env
        };
        if t.common.lang == QueryLanguage::JSONata {
            let env = with_token(self.env(id, name, true, true));
            let states = env.states(&frame.input, None);
            return match &t.arguments {
                Some(a) => jsonata::eval_template(a, "Arguments", &states, &env.vars),
                None => Ok(frame.input.clone()),
            };
        }
        let needs_ctx = common_uses_context(&t.common)
            || t.parameters.as_ref().is_some_and(Template::uses_context);
        let env = with_token(self.env(id, name, needs_ctx, true));
        let owned;
        let effective = match &t.common.input_path {
            PathField::Default => &frame.input,
            f => {
                owned = apply_path(f, frame.input.clone(), &env)?;
                &owned
            }
        };
        match &t.parameters {
            Some(tpl) => {
                let mut rng = self.rng();
                tpl.eval(&env.scope(effective), &mut rng)
            }
            None => Ok(effective.clone()),
        }
    }

    /// The input of each Parallel branch (Parameters or Arguments).
    pub(crate) fn branch_input(
        &self,
        id: FrameId,
        name: &str,
        p: &ParallelState,
    ) -> Result<Value, StatesError> {
        let Some(frame) = self.frames.get(id).and_then(Option::as_ref) else {
            return Ok(Value::Null);
        };
        if p.common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, true);
            let states = env.states(&frame.input, None);
            return match &p.arguments {
                Some(a) => jsonata::eval_template(a, "Arguments", &states, &env.vars),
                None => Ok(frame.input.clone()),
            };
        }
        let needs_ctx = common_uses_context(&p.common)
            || p.parameters.as_ref().is_some_and(Template::uses_context);
        let env = self.env(id, name, needs_ctx, true);
        let effective = apply_path(&p.common.input_path, frame.input.clone(), &env)?;
        match &p.parameters {
            Some(t) => {
                let mut rng = self.rng();
                t.eval(&env.scope(&effective), &mut rng)
            }
            None => Ok(effective),
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
            let raw = self.take_input(id);
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
        let result = match &fields.result_selector {
            Some(t) => {
                let mut rng = self.rng();
                t.eval(&env.scope(&result), &mut rng)?
            }
            None => result,
        };
        let assigned = self.assign_jsonpath(common.assign_template.as_ref(), &result, &env)?;
        let raw_input = self.take_input(id);
        let combined = apply_result_path(&fields.result_path, raw_input, result)?;
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
        let raw = self.take_input(id);
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

    /// A Map state's items, concurrency and failure tolerance.
    pub(crate) fn map_setup(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
    ) -> Result<MapSetup, StatesError> {
        let Some(frame) = self.frames.get(id).and_then(Option::as_ref) else {
            return Err(StatesError::runtime("the Map state's frame is gone"));
        };
        if m.common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, true);
            let states = env.states(&frame.input, None);
            let items = match &m.items {
                Some(v) => {
                    let items = jsonata::eval_template(v, "Items", &states, &env.vars)?;
                    if let Value::String(s) = v {
                        let expr = jsonata::expression_text(s).unwrap_or(s);
                        jsonata::expect_type(expr, "Items", &items, "array")?;
                    }
                    items
                }
                None => frame.input.clone(),
            };
            let Value::Array(items) = items else {
                return Err(StatesError::new(
                    error::QUERY_EVALUATION_ERROR,
                    format!(
                        "Map state input must be an array but was: {}",
                        serde_json::to_string(&items).unwrap_or_default()
                    ),
                ));
            };
            let number = |field: &str, v: &Option<Value>| -> Result<Option<Value>, StatesError> {
                v.as_ref()
                    .map(|v| eval_field(v, field, &states, &env))
                    .transpose()
            };
            let max_concurrency = number("MaxConcurrency", &m.max_concurrency)?
                .and_then(|v| v.as_u64())
                .unwrap_or(0) as usize;
            let count = number("ToleratedFailureCount", &m.tolerated_failure_count)?;
            let pct = number(
                "ToleratedFailurePercentage",
                &m.tolerated_failure_percentage,
            )?;
            let (tolerated, has_tolerance) = tolerance_from(
                count.map(|c| c.as_i64().unwrap_or(0)),
                pct.and_then(|p| p.as_f64()),
                items.len(),
            )?;
            return Ok(MapSetup {
                items,
                selector_input: None,
                max_concurrency,
                tolerated,
                has_tolerance,
            });
        }
        let env = self.env(id, name, common_uses_context(&m.common), true);
        let selected = match &m.common.input_path {
            PathField::Default => None,
            f => Some(apply_path(f, frame.input.clone(), &env)?),
        };
        let effective = selected.as_ref().unwrap_or(&frame.input);
        let scope = env.scope(effective);
        let items_value = match &m.items_path {
            PathField::Default | PathField::Null => effective.clone(),
            PathField::Path(p) => p
                .eval(&scope)
                .map_err(|e| StatesError::runtime(e.to_string()))?,
        };
        let Value::Array(items) = items_value else {
            return Err(StatesError::runtime(format!(
                "Map state input must be an array but was: {}",
                serde_json::to_string(&items_value).unwrap_or_default()
            )));
        };
        let max_concurrency = match (&m.max_concurrency, &m.max_concurrency_path) {
            (Some(v), _) => v.as_u64().unwrap_or(0) as usize,
            (None, Some(p)) => {
                let v = p.lookup(&scope).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The MaxConcurrencyPath field refers to a missing value: {p}"
                    ))
                })?;
                match v.as_i64() {
                    Some(n) if n >= 0 => n as usize,
                    _ => {
                        return Err(StatesError::runtime(format!(
                            "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {p}",
                            render_plain(v)
                        )))
                    }
                }
            }
            (None, None) => 0,
        };
        let count = match (&m.tolerated_failure_count, &m.tolerated_failure_count_path) {
            (Some(v), _) => Some(v.as_i64().unwrap_or(0)),
            (None, Some(p)) => {
                let v = p.lookup(&scope).cloned().unwrap_or(Value::Null);
                match integer_like(&v) {
                    Some(c) => Some(c),
                    None => {
                        return Err(StatesError::runtime(format!(
                            "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {p}",
                            render_plain(&v)
                        )))
                    }
                }
            }
            (None, None) => None,
        };
        let pct = match (
            &m.tolerated_failure_percentage,
            &m.tolerated_failure_percentage_path,
        ) {
            (Some(v), _) => Some(v.as_f64().unwrap_or(0.0)),
            (None, Some(p)) => {
                let v = p.lookup(&scope).cloned().unwrap_or(Value::Null);
                match float_like(&v) {
                    Some(c) => Some(c),
                    None => {
                        return Err(StatesError::runtime(format!(
                            "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {p}",
                            render_plain(&v)
                        )))
                    }
                }
            }
            (None, None) => None,
        };
        let (tolerated, has_tolerance) = tolerance_from(count, pct, items.len())?;
        Ok(MapSetup {
            items,
            selector_input: selected,
            max_concurrency,
            tolerated,
            has_tolerance,
        })
    }

    /// The input of Map iteration `index` (ItemSelector, or the item itself).
    pub(crate) fn iteration_input(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        index: usize,
        item: Value,
        selector_input: &Value,
    ) -> Result<Value, StatesError> {
        let Some(selector) = &m.item_selector else {
            return Ok(item);
        };
        let map_item = json!({"Item": {"Index": index, "Value": item}});
        if m.common.lang == QueryLanguage::JSONata {
            let mut env = self.env(id, name, true, true);
            if let Value::Object(ctx) = &mut env.context {
                ctx.insert("Map".into(), map_item);
            }
            let states = env.states(selector_input, None);
            let raw = match selector {
                Template::Literal(v) => v.clone(),
                _ => {
                    return Err(StatesError::runtime(
                        "ItemSelector uses JSONPath in a JSONata state",
                    ))
                }
            };
            return jsonata::eval_template(&raw, "ItemSelector", &states, &env.vars);
        }
        let mut env = self.env(id, name, selector.uses_context(), true);
        if let Value::Object(ctx) = &mut env.context {
            ctx.insert("Map".into(), map_item);
        }
        let mut rng = self.rng();
        selector.eval(&env.scope(selector_input), &mut rng)
    }

    fn frame_input(&mut self, id: FrameId, value: Value) {
        if let Some(f) = self.frames.get_mut(id).and_then(Option::as_mut) {
            f.input = value;
        }
    }
}

/// A Map state's work list.
pub(crate) struct MapSetup {
    pub(crate) items: Vec<Value>,
    /// The ItemSelector's `$` when InputPath selected it; `None`: the state's raw input.
    pub(crate) selector_input: Option<Value>,
    pub(crate) max_concurrency: usize,
    pub(crate) tolerated: f64,
    pub(crate) has_tolerance: bool,
}

fn no_choice(name: &str) -> StatesError {
    StatesError::new(
        error::NO_CHOICE_MATCHED,
        format!("No Matches! for state '{name}'"),
    )
}

/// Evaluates a field that may be a JSONata expression string or a literal.
fn eval_field(v: &Value, field: &str, states: &Value, env: &Env) -> Result<Value, StatesError> {
    jsonata::eval_template(v, field, states, &env.vars)
}

/// An integer, or a string holding one (variables often hold numbers as strings).
fn integer_like(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number, or a string holding one.
fn float_like(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Failures tolerated out of `n`: (count, whether any tolerance was set).
fn tolerance_from(
    count: Option<i64>,
    pct: Option<f64>,
    n: usize,
) -> Result<(f64, bool), StatesError> {
    let mut tolerated = 0.0;
    let mut set = false;
    if let Some(c) = count {
        if c < 0 {
            return Err(StatesError::runtime(
                "ToleratedFailureCount cannot be negative.",
            ));
        }
        tolerated = c as f64;
        set = true;
    }
    if let Some(p) = pct {
        if !(0.0..=100.0).contains(&p) {
            return Err(StatesError::runtime(
                "ToleratedFailurePercentage must be between 0 and 100.",
            ));
        }
        let by_pct = (p / 100.0) * n as f64;
        tolerated = if set { tolerated.min(by_pct) } else { by_pct };
        set = true;
    }
    Ok((tolerated, set))
}
