//! Task states: the request the driver invokes, its timeouts, and what its result or failure
//! does (TaskScheduled, TaskStarted, TaskSubmitted, TaskSucceeded/Failed/TimedOut, and the
//! legacy LambdaFunction* events for function ARNs).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::asl::error::{self, StatesError};
use crate::asl::jsonata::{self};
use crate::asl::model::{PathField, QueryLanguage, State, TaskState};
use crate::asl::path::{Path, Scope};
use crate::asl::payload::{json_len, PAYLOAD_LIMIT_BYTES};
use crate::asl::template::Template;
use crate::asl::timestamp::after_seconds;
use crate::engine::execution::{body_at, FrameId, Phase};
use crate::engine::history::Details;
use crate::engine::states::io::*;
use crate::engine::step::{to_json_string, Command, Outcome, Stepper};
use crate::engine::task::TaskRequest;

impl Stepper<'_> {
    pub(crate) fn run_task(
        &mut self,
        id: FrameId,
        name: &str,
        t: &TaskState,
        now: i64,
    ) -> Result<Outcome, StatesError> {
        // The wait this task will be; a callback or `.sync` task's token names it.
        let token = t
            .resource
            .has_task_token()
            .then(|| crate::engine::task::task_token(&self.info.arn, id, self.waits + 1));
        let (params, after_input_path) = self.task_input(id, name, t, token.as_deref())?;
        if let Some(v) = after_input_path {
            self.inspect(id, "afterInputPath", || v);
        }
        let timeout = self.task_seconds(&t.timeout_seconds, &t.timeout_seconds_path, id)?;
        let heartbeat = self.task_seconds(&t.heartbeat_seconds, &t.heartbeat_seconds_path, id)?;
        // A task that sends its input as it is borrows it while the driver invokes it, unless a
        // snapshot keeps the request (durable) or a probe inspects the frame.
        let lend = self.lend_task_inputs && !self.durable && self.probe.is_none();
        let params = match params {
            Some(p) => p,
            None => match self.frame_mut(id) {
                Some(f) if lend => {
                    f.input_lent = true;
                    std::mem::take(&mut f.input).into_value()
                }
                Some(f) => Value::clone(&f.input),
                None => Value::Null,
            },
        };
        let key = match t.common.lang {
            QueryLanguage::JSONata => "afterArguments",
            QueryLanguage::JSONPath => "afterParameters",
        };
        self.inspect(id, key, || params.clone());
        let attempt = self.frame(id).map(|f| f.retry_count).unwrap_or_default();
        let lambda = t.resource.is_lambda_function();
        // Stamped when this attempt starts (after a retry's interval), so history never runs
        // backwards.
        let time = now;
        let params_str = self.record_history.then(|| to_json_string(&params));
        let resource = t.resource.clone();
        if t.resource.is_activity() {
            self.emit(Some(id), time, "ActivityScheduled", || {
                Details::ActivityScheduled {
                    resource: resource.to_string(),
                    input: params_str.clone().unwrap_or_default(),
                    timeout,
                    heartbeat,
                }
            });
        } else if lambda {
            self.emit(Some(id), time, "LambdaFunctionScheduled", || {
                Details::LambdaScheduled {
                    resource: resource.to_string(),
                    input: params_str.clone().unwrap_or_default(),
                    timeout,
                }
            });
            self.emit(Some(id), time, "LambdaFunctionStarted", || Details::None);
        } else {
            // History off: nothing to render.
            let region = self.record_history.then(|| self.info.region().to_string());
            self.emit(Some(id), time, "TaskScheduled", || Details::TaskScheduled {
                resource: t.resource.history_parts(),
                region: region.unwrap_or_default(),
                parameters: params_str.unwrap_or_default(),
                timeout,
                heartbeat,
            });
            self.emit(Some(id), time, "TaskStarted", || Details::TaskStarted {
                resource: t.resource.history_parts(),
            });
        }
        let wait = self.begin_wait(id);
        let request = TaskRequest {
            execution_arn: Arc::clone(&self.arn),
            state_name: self.shared_state_name(id, name),
            resource,
            input: params,
            attempt,
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
            frame: id,
            timeout_at: timeout.map(|t| after_seconds(now, t)),
            heartbeat_at: heartbeat.map(|h| after_seconds(now, h)),
            token,
            submitted: false,
        };
        let keep = self.durable.then(|| Arc::new(request.clone()));
        if let Some(f) = self.frame_mut(id) {
            f.phase = Phase::Task { attempt };
            f.task = keep;
        }
        self.out.commands.push(Command::Invoke {
            frame: id,
            wait,
            request: Box::new(request),
        });
        Ok(Outcome::Blocked)
    }

    /// The name of frame `id`'s current state, `name`, shared with the state machine.
    fn shared_state_name(&self, id: FrameId, name: &str) -> Arc<str> {
        match self.frame(id) {
            Some(f) => body_at(&self.machine, &f.body).state_name(f.current),
            None => Arc::from(name),
        }
    }

    pub(crate) fn task_seconds(
        &self,
        fixed: &Option<Value>,
        path: &Option<Path>,
        id: FrameId,
    ) -> Result<Option<u64>, StatesError> {
        if let Some(v) = fixed {
            return Ok(v.as_u64());
        }
        if let Some(p) = path {
            let input = self.frame(id).map_or(&Value::Null, |f| &*f.input);
            let v = p
                .eval(&Scope::new(input, &Value::Null))
                .map_err(|e| StatesError::runtime(e.to_string()))?;
            return match v.as_u64() {
                Some(s) if s > 0 => Ok(Some(s)),
                _ => Err(StatesError::runtime(format!(
                    "The {p} path does not reference a positive integer"
                ))),
            };
        }
        Ok(None)
    }

    /// The input a Task sends to its resource (Parameters or Arguments), `None` when that is
    /// the frame's input as it is; with a probe, also the effective input (after InputPath).
    pub(crate) fn task_input(
        &self,
        id: FrameId,
        name: &str,
        t: &TaskState,
        token: Option<&str>,
    ) -> Result<(Option<Value>, Option<Value>), StatesError> {
        let Some(frame) = self.frames.get(id).and_then(Option::as_ref) else {
            return Ok((Some(Value::Null), None));
        };
        let with_token = |mut env: Env| {
            if let (Some(token), Value::Object(ctx)) = (token, &mut env.context) {
                // A context TestState was given keeps its own token.
                if !ctx.contains_key("Task") || self.probe.is_none() {
                    ctx.insert("Task".into(), json!({"Token": token}));
                }
            }
            env
        };
        if t.common.lang == QueryLanguage::JSONata {
            let env = with_token(self.env(id, name, true, true));
            let states = env.states(&frame.input, None);
            return match &t.arguments {
                Some(a) => jsonata::eval_template(a, "Arguments", &states, &env.vars, &env.moment)
                    .map(Some),
                None => Ok(None),
            }
            .map(|v| (v, None));
        }
        let needs_ctx = common_uses_context(&t.common)
            || t.parameters.as_ref().is_some_and(Template::uses_context);
        let env = with_token(self.env(id, name, needs_ctx, true));
        let effective = effective_input(&frame.input, &t.common.input_path, &env)?;
        let after_input_path = self.probe.is_some().then(|| effective.clone().into_owned());
        let params = match (&t.parameters, &t.common.input_path) {
            (Some(tpl), _) => {
                let mut rng = self.rng();
                Some(tpl.eval(&env.scope(&effective), &mut rng)?)
            }
            (None, PathField::Default) => None,
            (None, _) => Some(effective.into_owned()),
        };
        Ok((params, after_input_path))
    }

    /// The Task state frame `id` waits in, the first time an attempt reports it started or was
    /// submitted (a durable execution keeps its task, so a report repeated after a takeover is
    /// not recorded twice); `None` otherwise.
    fn first_report(&mut self, id: FrameId) -> Option<Arc<crate::asl::model::StateMachine>> {
        let machine = Arc::clone(&self.machine);
        let frame = self.frame_mut(id)?;
        if !matches!(frame.phase, Phase::Task { .. }) {
            return None;
        }
        if let Some(task) = frame.task.as_mut() {
            if task.submitted {
                return None;
            }
            Arc::make_mut(task).submitted = true;
        }
        Some(machine)
    }

    /// A worker took the frame's activity task: ActivityStarted, once per attempt.
    pub(crate) fn activity_started(&mut self, id: FrameId, worker: Option<String>, time: i64) {
        let Some(machine) = self.first_report(id) else {
            return;
        };
        let Some(frame) = self.frame(id) else { return };
        let (_, state) = body_at(&machine, &frame.body).state(frame.current);
        let State::Task(t) = state else { return };
        if !t.resource.is_activity() {
            return;
        }
        self.emit(Some(id), time, "ActivityStarted", || {
            Details::ActivityStarted {
                worker_name: worker,
            }
        });
    }

    pub(crate) fn task_submitted(&mut self, id: FrameId, output: Value, time: i64) {
        let Some(machine) = self.first_report(id) else {
            return;
        };
        let Some(frame) = self.frame(id) else { return };
        let (_, state) = body_at(&machine, &frame.body).state(frame.current);
        let State::Task(t) = state else { return };
        let output = self.record_history.then(|| to_json_string(&output));
        self.emit(Some(id), time, "TaskSubmitted", || Details::TaskOutput {
            resource: Some(t.resource.history_parts()),
            output: output.unwrap_or_default(),
        });
    }

    pub(crate) fn task_done(&mut self, id: FrameId, result: Result<Value, StatesError>, time: i64) {
        let machine = Arc::clone(&self.machine);
        let Some(frame) = self.frame(id) else { return };
        if !matches!(frame.phase, Phase::Task { .. }) {
            return;
        }
        let body = body_at(&machine, &frame.body);
        let (name, state) = body.state(frame.current);
        let State::Task(t) = state else { return };
        let lambda = t.resource.is_lambda_function();
        let activity = t.resource.is_activity();
        // The legacy Lambda and the activity events carry no resource.
        let legacy = lambda || activity;
        if let Some(f) = self.frame_mut(id) {
            f.task = None;
            // A task's result is new text.
            f.input_text = None;
        }
        let outcome = match result {
            Ok(raw) => {
                let out_str = self.record_history.then(|| to_json_string(&raw));
                let ev = if lambda {
                    "LambdaFunctionSucceeded"
                } else if activity {
                    "ActivitySucceeded"
                } else {
                    "TaskSucceeded"
                };
                self.emit(Some(id), time, ev, || Details::TaskOutput {
                    resource: (!legacy).then(|| t.resource.history_parts()),
                    output: out_str.unwrap_or_default(),
                });
                if json_len(&raw, PAYLOAD_LIMIT_BYTES) > PAYLOAD_LIMIT_BYTES {
                    Outcome::Failed(StatesError::new(
                        error::DATA_LIMIT_EXCEEDED,
                        format!("The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit."),
                    ))
                } else {
                    match self.state_output(id, name, &t.common, &t.result, raw) {
                        Ok(v) => Outcome::Next(v),
                        Err(e) => Outcome::Failed(e),
                    }
                }
            }
            Err(err) => {
                let timed_out = err.error == error::TIMEOUT;
                let ev = match (lambda, activity, timed_out) {
                    (true, _, _) => "LambdaFunctionFailed",
                    (_, true, true) => "ActivityTimedOut",
                    (_, true, false) => "ActivityFailed",
                    (_, _, true) => "TaskTimedOut",
                    _ => "TaskFailed",
                };
                let e2 = err.clone();
                self.emit(Some(id), time, ev, || Details::TaskError {
                    resource: (!legacy).then(|| t.resource.history_parts()),
                    error: e2,
                });
                Outcome::Failed(err)
            }
        };
        if self.handle_outcome(id, body, name, state, outcome, time) {
            self.run_frame(id, time);
        }
    }
}
