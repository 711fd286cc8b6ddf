//! The transition function: [`step`]`(&mut Execution, Event) -> Transition`.
//!
//! `step` is deterministic and does no I/O: time comes in the event, randomness is seeded
//! from the execution ARN and the event id. It changes the execution in place and returns what
//! it did: the history events it wrote and the [`Command`]s the driver must carry out (run a
//! frame, invoke a task, arm a timer). Pure states (Pass, Choice, Succeed, Fail, bookkeeping of
//! Parallel and Map) run to the next blocking point inside one step, so a driver can persist
//! them as one group.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use rand::{RngCore, SeedableRng};
use serde_json::{json, Map, Value};

use crate::asl::error::{self, error_matches, StatesError};
use crate::asl::model::{
    Body, Catcher, MapState, ParallelState, State, TaskState, Transition as Flow, WaitState,
};
use crate::asl::path::{Path, Scope};
use crate::asl::payload::{json_len, PAYLOAD_LIMIT_BYTES};
use crate::asl::timestamp::iso_time;
use crate::engine::execution::{
    body_at, BodyPath, Children, Execution, Frame, FrameId, Phase, Status,
};
use crate::engine::history::{details_key, HistoryEvent};
use crate::engine::retry::retry_delay_ms;
use crate::engine::task::TaskRequest;

/// What one event did to an execution: the history it wrote and the work it asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transition {
    /// The history events written, in order (only when the execution records history; event
    /// ids are counted either way).
    pub events: Vec<HistoryEvent>,
    /// What the driver must do, in order.
    pub commands: Vec<Command>,
}

/// Something the driver must do after a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run the frame (it was created or made ready).
    Run(FrameId),
    /// Invoke the task of the frame's current state.
    Invoke {
        /// The waiting frame.
        frame: FrameId,
        /// Which wait of the frame the result ends (see [`Frame::wait`]).
        wait: u64,
        /// What to invoke.
        request: Box<TaskRequest>,
    },
    /// Fire a timer event for the frame at `due` (ms since the epoch).
    Timer {
        /// The waiting frame.
        frame: FrameId,
        /// Which wait of the frame the timer ends (see [`Frame::wait`]).
        wait: u64,
        /// When.
        due: i64,
    },
}

/// Applies one event to an execution and returns what it did. An event for an execution that
/// has ended, or for a wait a frame has left (a stale task result or timer), changes nothing.
pub fn step(execution: &mut Execution, event: Event) -> Transition {
    let mut stepper = Stepper {
        exec: execution,
        out: Transition::default(),
    };
    stepper.apply(event);
    stepper.out
}

/// An execution while one event is applied, and what the event has done so far.
pub(crate) struct Stepper<'e> {
    exec: &'e mut Execution,
    pub(crate) out: Transition,
}

impl Deref for Stepper<'_> {
    type Target = Execution;

    fn deref(&self) -> &Execution {
        self.exec
    }
}

impl DerefMut for Stepper<'_> {
    fn deref_mut(&mut self) -> &mut Execution {
        self.exec
    }
}

/// Something that happened to an execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The execution starts.
    Start {
        /// Now, ms since the epoch.
        time: i64,
    },
    /// A frame may run.
    Run {
        /// The frame.
        frame: FrameId,
        /// Now.
        time: i64,
    },
    /// A task finished.
    TaskDone {
        /// The waiting frame.
        frame: FrameId,
        /// The wait this result ends.
        wait: u64,
        /// The task's raw result or its failure.
        result: Result<Value, StatesError>,
        /// Now.
        time: i64,
    },
    /// A task's request was accepted (`.sync` and `.waitForTaskToken` patterns): recorded as
    /// TaskSubmitted, once per attempt.
    TaskSubmitted {
        /// The waiting frame.
        frame: FrameId,
        /// The wait of the task.
        wait: u64,
        /// What the submission answered.
        output: Value,
        /// Now.
        time: i64,
    },
    /// A timer fired (Wait over, retry delay over).
    Timer {
        /// The waiting frame.
        frame: FrameId,
        /// The wait this timer ends.
        wait: u64,
        /// Now.
        time: i64,
    },
    /// The execution ran past its `TimeoutSeconds`.
    ExecutionTimeout {
        /// Now.
        time: i64,
    },
    /// The execution is stopped from outside.
    Stop {
        /// Error to record.
        error: Option<String>,
        /// Cause to record.
        cause: Option<String>,
        /// Now.
        time: i64,
    },
}

/// Randomness derived from a seed, created on first use.
pub(crate) struct LazyRng {
    seed: u64,
    rng: Option<rand::rngs::StdRng>,
}

impl LazyRng {
    fn get(&mut self) -> &mut rand::rngs::StdRng {
        let seed = self.seed;
        self.rng
            .get_or_insert_with(|| rand::rngs::StdRng::seed_from_u64(seed))
    }
}

impl RngCore for LazyRng {
    fn next_u32(&mut self) -> u32 {
        self.get().next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.get().next_u64()
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.get().fill_bytes(dst)
    }
}

/// How a state ended.
pub(crate) enum Outcome {
    /// Output ready; follow the transition.
    Next(Value),
    /// The frame waits for an event.
    Blocked,
    /// The state failed.
    Failed(StatesError),
}

/// The history event type of `state` for `what` (Entered, Exited, Failed).
fn event_name(state: &State, what: &str) -> &'static str {
    macro_rules! names {
        ($($variant:ident => $entered:literal, $exited:literal, $failed:literal;)*) => {
            match state {
                $(State::$variant(_) => match what {
                    "Entered" => $entered,
                    "Exited" => $exited,
                    _ => $failed,
                },)*
            }
        };
    }
    names! {
        Pass => "PassStateEntered", "PassStateExited", "PassStateFailed";
        Task => "TaskStateEntered", "TaskStateExited", "TaskStateFailed";
        Choice => "ChoiceStateEntered", "ChoiceStateExited", "ChoiceStateFailed";
        Wait => "WaitStateEntered", "WaitStateExited", "WaitStateFailed";
        Succeed => "SucceedStateEntered", "SucceedStateExited", "SucceedStateFailed";
        Fail => "FailStateEntered", "FailStateExited", "FailStateFailed";
        Parallel => "ParallelStateEntered", "ParallelStateExited", "ParallelStateFailed";
        Map => "MapStateEntered", "MapStateExited", "MapStateFailed";
    }
}

fn to_json_string(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl Stepper<'_> {
    /// Applies one event; what it wrote and asks for goes to `self.out`.
    fn apply(&mut self, event: Event) {
        if self.status != Status::Running {
            return;
        }
        match event {
            Event::Start { time } => self.start(time),
            Event::Run { frame, time } => self.run_frame(frame, time),
            Event::TaskDone {
                frame,
                wait,
                result,
                time,
            } => {
                if self.frame(frame).is_some_and(|f| f.wait == wait) {
                    self.task_done(frame, result, time)
                }
            }
            Event::TaskSubmitted {
                frame,
                wait,
                output,
                time,
            } => {
                if self.frame(frame).is_some_and(|f| f.wait == wait) {
                    self.task_submitted(frame, output, time)
                }
            }
            Event::Timer { frame, wait, time } => {
                if self.frame(frame).is_some_and(|f| f.wait == wait) {
                    self.timer(frame, time)
                }
            }
            Event::ExecutionTimeout { time } => {
                let err = StatesError {
                    error: error::TIMEOUT.to_string(),
                    cause: Some(format!(
                        "The execution has exceeded its timeout of {} seconds",
                        self.machine.timeout_seconds.unwrap_or_default()
                    )),
                };
                self.finish(Status::TimedOut, None, Some(err), time);
            }
            Event::Stop { error, cause, time } => {
                let err = StatesError {
                    error: error.unwrap_or_default(),
                    cause,
                };
                self.finish(Status::Aborted, None, Some(err), time);
            }
        }
    }

    fn emit(
        &mut self,
        frame: Option<FrameId>,
        time: i64,
        event_type: &str,
        details: impl FnOnce() -> Option<Map<String, Value>>,
    ) -> u64 {
        self.last_event_id += 1;
        let id = self.last_event_id;
        let previous = match frame
            .and_then(|f| self.frames.get_mut(f))
            .and_then(Option::as_mut)
        {
            Some(fr) => std::mem::replace(&mut fr.last_event, id),
            None => id - 1,
        };
        if self.record_history {
            let mut event = HistoryEvent {
                id,
                previous_event_id: previous,
                timestamp: time,
                event_type: event_type.to_string(),
                details: Map::new(),
            };
            if let Some(d) = details() {
                event
                    .details
                    .insert(details_key(event_type), Value::Object(d));
            }
            self.out.events.push(event);
        }
        id
    }

    fn start(&mut self, time: i64) {
        let input = self.record_history.then(|| to_json_string(&self.input));
        let role = self.info.role_arn.clone();
        self.emit(None, time, "ExecutionStarted", || {
            let mut d = Map::new();
            d.insert("input".into(), Value::String(input.unwrap_or_default()));
            d.insert("inputDetails".into(), json!({"truncated": false}));
            d.insert("roleArn".into(), Value::String(role));
            Some(d)
        });
        let start = self.machine.body.start;
        let id = self.new_frame(
            None,
            Arc::from(Vec::new()),
            start,
            self.input.clone(),
            None,
            Arc::default(),
        );
        let last = self.last_event_id;
        if let Some(f) = self.frames[id].as_mut() {
            f.last_event = last;
        }
        self.run_frame(id, time);
    }

    fn new_frame(
        &mut self,
        parent: Option<(FrameId, usize)>,
        body: BodyPath,
        start: usize,
        input: Value,
        map_index: Option<usize>,
        vars: Arc<Map<String, Value>>,
    ) -> FrameId {
        let last_event = self.last_event_id;
        self.frames.push(Some(Frame {
            parent,
            body,
            current: start,
            input,
            phase: Phase::Enter,
            entered_event: 0,
            entered_time: 0,
            retries: Vec::new(),
            retry_count: 0,
            map_index,
            last_event,
            children: None,
            pending_error: None,
            wait: 0,
            task: None,
            vars,
        }));
        self.frames.len() - 1
    }

    /// Starts a new wait for the frame and returns its number.
    fn begin_wait(&mut self, id: FrameId) -> u64 {
        self.waits += 1;
        let wait = self.waits;
        if let Some(f) = self.frame_mut(id) {
            f.wait = wait;
        }
        wait
    }

    fn frame(&self, id: FrameId) -> Option<&Frame> {
        self.frames.get(id).and_then(Option::as_ref)
    }

    fn frame_mut(&mut self, id: FrameId) -> Option<&mut Frame> {
        self.frames.get_mut(id).and_then(Option::as_mut)
    }

    /// The context object for the frame's current state.
    pub(crate) fn context(&self, frame: &Frame, name: &str, with_retry: bool) -> Value {
        let needs = self.machine.context_needs;
        let mut ctx = Map::new();
        if needs.execution {
            let mut execution = Map::new();
            execution.insert("Id".into(), Value::String(self.info.arn.clone()));
            // Copying the execution input is only worth it when some path can read it.
            if needs.input {
                execution.insert("Input".into(), self.input.clone());
            }
            execution.insert(
                "StartTime".into(),
                Value::String(iso_time(self.info.start_time)),
            );
            execution.insert("Name".into(), Value::String(self.info.name.clone()));
            execution.insert("RoleArn".into(), Value::String(self.info.role_arn.clone()));
            execution.insert("RedriveCount".into(), Value::from(0));
            ctx.insert("Execution".into(), Value::Object(execution));
        }
        if needs.state_machine {
            ctx.insert(
                "StateMachine".into(),
                json!({
                    "Id": self.info.state_machine_arn,
                    "Name": self.info.state_machine_name,
                }),
            );
        }
        if needs.state {
            let mut state = Map::new();
            state.insert(
                "EnteredTime".into(),
                Value::String(iso_time(frame.entered_time)),
            );
            state.insert("Name".into(), Value::String(name.to_string()));
            if with_retry {
                state.insert("RetryCount".into(), Value::from(frame.retry_count));
            }
            ctx.insert("State".into(), Value::Object(state));
        }
        Value::Object(ctx)
    }

    pub(crate) fn rng(&self) -> LazyRng {
        LazyRng {
            seed: self.seed ^ self.last_event_id.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            rng: None,
        }
    }

    fn run_frame(&mut self, id: FrameId, time: i64) {
        let machine = Arc::clone(&self.machine);
        loop {
            if self.status != Status::Running {
                return;
            }
            let Some(frame) = self.frame(id) else { return };
            let body = body_at(&machine, &frame.body);
            let (name, state) = body.state(frame.current);
            match frame.phase {
                Phase::Enter => {
                    self.enter(id, name, state, time);
                }
                Phase::Run => {
                    let outcome = self.run_state(id, body, name, state, time);
                    if !self.handle_outcome(id, body, name, state, outcome, time) {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    fn enter(&mut self, id: FrameId, name: &str, state: &State, time: i64) {
        self.transitions += 1;
        let event_type = event_name(state, "Entered");
        let input = self
            .record_history
            .then_some(())
            .and_then(|()| self.frame(id).map(|f| to_json_string(&f.input)));
        let event = self.emit(Some(id), time, event_type, || {
            let mut d = Map::new();
            d.insert("name".into(), Value::String(name.to_string()));
            d.insert("input".into(), Value::String(input.unwrap_or_default()));
            d.insert("inputDetails".into(), json!({"truncated": false}));
            Some(d)
        });
        if let Some(f) = self.frame_mut(id) {
            f.entered_event = event;
            f.entered_time = time;
            f.retries.clear();
            f.retry_count = 0;
            f.phase = Phase::Run;
            f.pending_error = None;
        }
    }

    /// Prefixes a runtime failure's cause as Step Functions does.
    fn located(&self, id: FrameId, name: &str, mut err: StatesError) -> StatesError {
        if matches!(
            err.error.as_str(),
            error::RUNTIME | error::QUERY_EVALUATION_ERROR
        ) {
            let entered = self.frame(id).map(|f| f.entered_event).unwrap_or_default();
            let cause = err.cause.take().unwrap_or_default();
            err.cause = Some(format!(
                "An error occurred while executing the state '{name}' (entered at the event id #{entered}). {cause}"
            ));
        }
        err
    }

    fn run_state(
        &mut self,
        id: FrameId,
        body: &Body,
        name: &str,
        state: &State,
        time: i64,
    ) -> Outcome {
        let _ = body;
        let result = match state {
            State::Pass(p) => self.run_pass(id, name, p),
            State::Choice(c) => self.run_choice(id, name, c),
            State::Succeed(s) => self.run_succeed(id, name, &s.common),
            State::Fail(f) => {
                let err = match self.fail_error(id, name, f) {
                    Ok(err) => err,
                    Err(e) => return Outcome::Failed(e),
                };
                // The Fail state ends its frame with its error; no retry or catch.
                self.end_frame(id, Err(err), time);
                return Outcome::Blocked;
            }
            State::Wait(w) => self.run_wait(id, name, w, time),
            State::Task(t) => self.run_task(id, name, t, time),
            State::Parallel(p) => self.run_parallel(id, name, p, time),
            State::Map(m) => self.run_map(id, name, m, time),
        };
        match result {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed(e),
        }
    }

    pub(crate) fn take_input(&mut self, id: FrameId) -> Value {
        self.frame_mut(id)
            .map(|f| std::mem::take(&mut f.input))
            .unwrap_or_default()
    }

    fn run_wait(
        &mut self,
        id: FrameId,
        name: &str,
        w: &WaitState,
        time: i64,
    ) -> Result<Outcome, StatesError> {
        let (due, output) = self.wait_until(id, name, w, time)?;
        if due <= time {
            return Ok(Outcome::Next(output));
        }
        let wait = self.begin_wait(id);
        if let Some(f) = self.frame_mut(id) {
            f.input = output;
            f.phase = Phase::Timer { retry: false, due };
        }
        self.out.commands.push(Command::Timer {
            frame: id,
            wait,
            due,
        });
        Ok(Outcome::Blocked)
    }

    fn run_task(
        &mut self,
        id: FrameId,
        name: &str,
        t: &TaskState,
        now: i64,
    ) -> Result<Outcome, StatesError> {
        // The wait this task will be; a `.waitForTaskToken` task's token names it.
        let token = t
            .resource
            .takes_task_token()
            .then(|| crate::engine::task::task_token(&self.info.arn, id, self.waits + 1));
        let params = self.task_input(id, name, t, token.as_deref())?;
        let timeout = self.task_seconds(&t.timeout_seconds, &t.timeout_seconds_path, id)?;
        let heartbeat = self.task_seconds(&t.heartbeat_seconds, &t.heartbeat_seconds_path, id)?;
        let attempt = self.frame(id).map(|f| f.retry_count).unwrap_or_default();
        let lambda = t.resource.is_lambda_function();
        let time = self.frame(id).map(|f| f.entered_time).unwrap_or_default();
        let params_str = self.record_history.then(|| to_json_string(&params));
        let resource = t.resource.clone();
        if lambda {
            self.emit(Some(id), time, "LambdaFunctionScheduled", || {
                let mut d = Map::new();
                d.insert("resource".into(), Value::String(resource.to_string()));
                d.insert(
                    "input".into(),
                    Value::String(params_str.clone().unwrap_or_default()),
                );
                d.insert("inputDetails".into(), json!({"truncated": false}));
                if let Some(t) = timeout {
                    d.insert("timeoutInSeconds".into(), Value::from(t));
                }
                Some(d)
            });
            self.emit(Some(id), time, "LambdaFunctionStarted", || None);
        } else {
            self.emit(Some(id), time, "TaskScheduled", || {
                let (rt, rn) = t.resource.history_parts();
                let mut d = Map::new();
                d.insert("resourceType".into(), Value::String(rt));
                d.insert("resource".into(), Value::String(rn));
                d.insert("region".into(), Value::String("us-east-1".into()));
                d.insert(
                    "parameters".into(),
                    Value::String(params_str.unwrap_or_default()),
                );
                if let Some(t) = timeout {
                    d.insert("timeoutInSeconds".into(), Value::from(t));
                }
                if let Some(h) = heartbeat {
                    d.insert("heartbeatInSeconds".into(), Value::from(h));
                }
                Some(d)
            });
            self.emit(Some(id), time, "TaskStarted", || {
                let (rtype, rname) = t.resource.history_parts();
                let mut d = Map::new();
                d.insert("resourceType".into(), Value::String(rtype));
                d.insert("resource".into(), Value::String(rname));
                Some(d)
            });
        }
        let wait = self.begin_wait(id);
        let request = TaskRequest {
            execution_arn: self.info.arn.clone(),
            state_name: name.to_string(),
            resource,
            input: params,
            attempt,
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
            frame: id,
            timeout_at: timeout.map(|t| now + (t as i64) * 1000),
            heartbeat_at: heartbeat.map(|h| now + (h as i64) * 1000),
            token,
            submitted: false,
        };
        let keep = self.durable.then(|| Box::new(request.clone()));
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

    fn task_seconds(
        &self,
        fixed: &Option<Value>,
        path: &Option<Path>,
        id: FrameId,
    ) -> Result<Option<u64>, StatesError> {
        if let Some(v) = fixed {
            return Ok(v.as_u64());
        }
        if let Some(p) = path {
            let input = self.frame(id).map(|f| &f.input).unwrap_or(&Value::Null);
            let v = p.lookup(&Scope::new(input, &Value::Null));
            return match v.and_then(Value::as_u64) {
                Some(s) if s > 0 => Ok(Some(s)),
                _ => Err(StatesError::runtime(format!(
                    "The {p} path does not reference a positive integer"
                ))),
            };
        }
        Ok(None)
    }

    fn task_submitted(&mut self, id: FrameId, output: Value, time: i64) {
        let machine = Arc::clone(&self.machine);
        let Some(frame) = self.frame_mut(id) else {
            return;
        };
        if !matches!(frame.phase, Phase::Task { .. }) {
            return;
        }
        // A durable execution keeps its task: a submission repeated after a takeover is not
        // recorded twice.
        if let Some(task) = frame.task.as_mut() {
            if task.submitted {
                return;
            }
            task.submitted = true;
        }
        let Some(frame) = self.frame(id) else { return };
        let body = body_at(&machine, &frame.body);
        let (_, state) = body.state(frame.current);
        let State::Task(t) = state else { return };
        let output = self.record_history.then(|| to_json_string(&output));
        self.emit(Some(id), time, "TaskSubmitted", || {
            let (rtype, rname) = t.resource.history_parts();
            let mut d = Map::new();
            d.insert("resourceType".into(), Value::String(rtype));
            d.insert("resource".into(), Value::String(rname));
            d.insert("output".into(), Value::String(output.unwrap_or_default()));
            d.insert("outputDetails".into(), json!({"truncated": false}));
            Some(d)
        });
    }

    fn task_done(&mut self, id: FrameId, result: Result<Value, StatesError>, time: i64) {
        let machine = Arc::clone(&self.machine);
        let Some(frame) = self.frame(id) else { return };
        if !matches!(frame.phase, Phase::Task { .. }) {
            return;
        }
        let body = body_at(&machine, &frame.body);
        let (name, state) = body.state(frame.current);
        let State::Task(t) = state else { return };
        let lambda = t.resource.is_lambda_function();
        if let Some(f) = self.frame_mut(id) {
            f.task = None;
        }
        let outcome = match result {
            Ok(raw) => {
                let out_str = self.record_history.then(|| to_json_string(&raw));
                let ev = if lambda {
                    "LambdaFunctionSucceeded"
                } else {
                    "TaskSucceeded"
                };
                self.emit(Some(id), time, ev, || {
                    let mut d = Map::new();
                    if !lambda {
                        let (rtype, rname) = t.resource.history_parts();
                        d.insert("resourceType".into(), Value::String(rtype));
                        d.insert("resource".into(), Value::String(rname));
                    }
                    d.insert("output".into(), Value::String(out_str.unwrap_or_default()));
                    d.insert("outputDetails".into(), json!({"truncated": false}));
                    Some(d)
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
                let ev = if lambda {
                    "LambdaFunctionFailed"
                } else if err.error == error::TIMEOUT {
                    "TaskTimedOut"
                } else {
                    "TaskFailed"
                };
                let e2 = err.clone();
                self.emit(Some(id), time, ev, || {
                    let mut d = Map::new();
                    if !lambda {
                        let (rtype, rname) = t.resource.history_parts();
                        d.insert("resourceType".into(), Value::String(rtype));
                        d.insert("resource".into(), Value::String(rname));
                    }
                    d.insert("error".into(), Value::String(e2.error));
                    if let Some(c) = e2.cause {
                        d.insert("cause".into(), Value::String(c));
                    }
                    Some(d)
                });
                Outcome::Failed(err)
            }
        };
        if self.handle_outcome(id, body, name, state, outcome, time) {
            self.run_frame(id, time);
        }
    }

    /// Acts on a state's outcome. Returns true when the frame can go on running now.
    fn handle_outcome(
        &mut self,
        id: FrameId,
        body: &Body,
        name: &str,
        state: &State,
        outcome: Outcome,
        time: i64,
    ) -> bool {
        match outcome {
            Outcome::Blocked => false,
            Outcome::Next(output) => {
                if let State::Choice(_) = state {
                    let target = output.as_u64().unwrap_or_default() as usize;
                    self.exit(id, name, state, time);
                    if let Some(f) = self.frame_mut(id) {
                        f.current = target;
                        f.phase = Phase::Enter;
                    }
                    return true;
                }
                if json_len(&output, PAYLOAD_LIMIT_BYTES) > PAYLOAD_LIMIT_BYTES {
                    let err = StatesError::new(
                        error::DATA_LIMIT_EXCEEDED,
                        format!("The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit."),
                    );
                    return self.handle_outcome(id, body, name, state, Outcome::Failed(err), time);
                }
                if let Some(f) = self.frame_mut(id) {
                    f.input = output;
                }
                let transition = match state {
                    State::Succeed(_) => Flow::End,
                    s => s.common().map(|c| c.transition).unwrap_or_default(),
                };
                self.exit(id, name, state, time);
                match transition {
                    Flow::Next(next) => {
                        if let Some(f) = self.frame_mut(id) {
                            f.current = next;
                            f.phase = Phase::Enter;
                        }
                        true
                    }
                    Flow::End => {
                        let out = self.take_input(id);
                        self.end_frame(id, Ok(out), time);
                        false
                    }
                }
            }
            Outcome::Failed(err) => {
                let err = self.located(id, name, err);
                self.fail_state(id, body, name, state, err, time)
            }
        }
    }

    fn exit(&mut self, id: FrameId, name: &str, state: &State, time: i64) {
        let output = self
            .record_history
            .then_some(())
            .and_then(|()| self.frame(id).map(|f| to_json_string(&f.input)));
        self.emit(Some(id), time, event_name(state, "Exited"), || {
            let mut d = Map::new();
            d.insert("name".into(), Value::String(name.to_string()));
            d.insert("output".into(), Value::String(output.unwrap_or_default()));
            d.insert("outputDetails".into(), json!({"truncated": false}));
            Some(d)
        });
    }

    /// Retry, catch, or fail the frame. Returns true when the frame can run on now.
    fn fail_state(
        &mut self,
        id: FrameId,
        body: &Body,
        name: &str,
        state: &State,
        err: StatesError,
        time: i64,
    ) -> bool {
        let _ = body;
        let Some(fields) = state.result_fields() else {
            self.end_frame(id, Err(err), time);
            return false;
        };
        // Retry.
        if let Some((index, retrier)) = fields
            .retry
            .iter()
            .enumerate()
            .find(|(_, r)| error_matches(&r.error_equals, &err.error))
        {
            let used = self
                .frame(id)
                .and_then(|f| f.retries.get(index).copied())
                .unwrap_or(0);
            if u64::from(used) < retrier.max_attempts {
                let mut rng = self.rng();
                let delay = retry_delay_ms(retrier, used, &mut rng);
                let wait = self.begin_wait(id);
                if let Some(f) = self.frame_mut(id) {
                    if f.retries.len() <= index {
                        f.retries.resize(index + 1, 0);
                    }
                    f.retries[index] += 1;
                    f.retry_count += 1;
                    f.phase = Phase::Timer {
                        retry: true,
                        due: time + delay,
                    };
                    f.pending_error = Some(err);
                }
                self.out.commands.push(Command::Timer {
                    frame: id,
                    wait,
                    due: time + delay,
                });
                return false;
            }
        }
        // Catch.
        if let Some(catcher) = fields
            .catch
            .iter()
            .find(|c| error_matches(&c.error_equals, &err.error))
        {
            return self.catch(id, name, state, catcher, err, time);
        }
        if let State::Map(_) | State::Parallel(_) = state {
            self.emit(Some(id), time, event_name(state, "Failed"), || None);
        }
        self.end_frame(id, Err(err), time);
        false
    }

    fn catch(
        &mut self,
        id: FrameId,
        name: &str,
        state: &State,
        catcher: &Catcher,
        err: StatesError,
        time: i64,
    ) -> bool {
        let lang = state.common().map(|c| c.lang).unwrap_or_default();
        let output = match self.catcher_output(id, name, lang, catcher, &err) {
            Ok(v) => v,
            Err(e) => {
                let e = self.located(id, name, e);
                self.end_frame(id, Err(e), time);
                return false;
            }
        };
        if let Some(f) = self.frame_mut(id) {
            f.input = output;
        }
        self.exit(id, name, state, time);
        if let Some(f) = self.frame_mut(id) {
            f.current = catcher.target;
            f.phase = Phase::Enter;
        }
        true
    }

    fn timer(&mut self, id: FrameId, time: i64) {
        let machine = Arc::clone(&self.machine);
        let Some(frame) = self.frame(id) else { return };
        let Phase::Timer { retry, .. } = frame.phase else {
            return;
        };
        if retry {
            if let Some(f) = self.frame_mut(id) {
                f.phase = Phase::Run;
                f.pending_error = None;
            }
            self.run_frame(id, time);
            return;
        }
        let body = body_at(&machine, &frame.body);
        let (name, state) = body.state(frame.current);
        let State::Wait(_) = state else { return };
        let outcome = Outcome::Next(self.take_input(id));
        if let Some(f) = self.frame_mut(id) {
            f.phase = Phase::Run;
        }
        if self.handle_outcome(id, body, name, state, outcome, time) {
            self.run_frame(id, time);
        }
    }

    fn run_parallel(
        &mut self,
        id: FrameId,
        name: &str,
        p: &ParallelState,
        time: i64,
    ) -> Result<Outcome, StatesError> {
        let branch_input = self.branch_input(id, name, p)?;
        self.emit(Some(id), time, "ParallelStateStarted", || None);
        let Some(frame) = self.frame(id) else {
            return Ok(Outcome::Blocked);
        };
        let base: Vec<(u32, u32)> = frame.body.to_vec();
        let current = frame.current as u32;
        let vars = Arc::clone(&frame.vars);
        let n = p.branches.len();
        let mut live = crate::engine::execution::FrameSet::default();
        for (i, branch) in p.branches.iter().enumerate() {
            let mut path = base.clone();
            path.push((current, i as u32));
            let child = self.new_frame(
                Some((id, i)),
                Arc::from(path),
                branch.start,
                branch_input.clone(),
                None,
                Arc::clone(&vars),
            );
            live.insert(child);
            self.out.commands.push(Command::Run(child));
        }
        if let Some(f) = self.frame_mut(id) {
            f.phase = Phase::Children;
            f.children = Some(Box::new(Children {
                results: vec![Value::Null; n],
                live,
                items: Vec::new(),
                next: n,
                selector_input: None,
                max_concurrency: 0,
                finished: 0,
                failed: 0,
                tolerated: 0.0,
                has_tolerance: false,
                child_body: None,
            }));
        }
        Ok(Outcome::Blocked)
    }

    fn run_map(
        &mut self,
        id: FrameId,
        name: &str,
        m: &MapState,
        time: i64,
    ) -> Result<Outcome, StatesError> {
        let setup = self.map_setup(id, name, m)?;
        let n = setup.items.len();
        self.emit(Some(id), time, "MapStateStarted", || {
            let mut d = Map::new();
            d.insert("length".into(), Value::from(n));
            Some(d)
        });
        if let Some(f) = self.frame_mut(id) {
            f.phase = Phase::Children;
            f.children = Some(Box::new(Children {
                results: vec![Value::Null; n],
                live: Default::default(),
                items: setup.items,
                next: 0,
                selector_input: setup.selector_input,
                max_concurrency: setup.max_concurrency,
                finished: 0,
                failed: 0,
                tolerated: setup.tolerated,
                has_tolerance: setup.has_tolerance,
                child_body: None,
            }));
        }
        if n == 0 {
            self.complete_children(id, time);
            return Ok(Outcome::Blocked);
        }
        self.start_iterations(id, name, m, time)?;
        Ok(Outcome::Blocked)
    }

    /// Starts Map iterations up to the concurrency limit.
    fn start_iterations(
        &mut self,
        id: FrameId,
        name: &str,
        m: &MapState,
        time: i64,
    ) -> Result<(), StatesError> {
        loop {
            let Some(frame) = self.frame(id) else {
                return Ok(());
            };
            let Some(ch) = frame.children.as_ref() else {
                return Ok(());
            };
            if ch.next >= ch.items.len()
                || (ch.max_concurrency > 0 && ch.live.len() >= ch.max_concurrency)
            {
                return Ok(());
            }
            let index = ch.next;
            // Each item is read once, by the iteration that starts now: move it out.
            let item = self
                .frame_mut(id)
                .and_then(|f| f.children.as_mut())
                .map(|ch| std::mem::take(&mut ch.items[index]))
                .unwrap_or_default();
            let Some(frame) = self.frame(id) else {
                return Ok(());
            };
            let Some(ch) = frame.children.as_ref() else {
                return Ok(());
            };
            let selector_input = ch.selector_input.as_ref().unwrap_or(&frame.input);
            let input = self.iteration_input(id, name, m, index, item, selector_input)?;
            let vars = Arc::clone(&frame.vars);
            let path = match &ch.child_body {
                Some(p) => Arc::clone(p),
                None => {
                    let mut path: Vec<(u32, u32)> = frame.body.to_vec();
                    path.push((frame.current as u32, 0));
                    Arc::from(path)
                }
            };
            let start = m.item_processor.start;
            let map_name = name.to_string();
            self.emit(Some(id), time, "MapIterationStarted", || {
                let mut d = Map::new();
                d.insert("name".into(), Value::String(map_name));
                d.insert("index".into(), Value::from(index));
                Some(d)
            });
            let child = self.new_frame(
                Some((id, index)),
                Arc::clone(&path),
                start,
                input,
                Some(index),
                vars,
            );
            if let Some(ch) = self.frame_mut(id).and_then(|f| f.children.as_mut()) {
                ch.next += 1;
                ch.live.insert(child);
                ch.child_body.get_or_insert(path);
            }
            self.out.commands.push(Command::Run(child));
        }
    }

    /// A frame reached the end of its body (or failed without a catcher).
    fn end_frame(&mut self, id: FrameId, result: Result<Value, StatesError>, time: i64) {
        let Some(frame) = self.frames.get_mut(id).and_then(Option::take) else {
            return;
        };
        if let Some(children) = frame.children {
            for c in children.live {
                self.cancel(c);
            }
        }
        match frame.parent {
            None => match result {
                Ok(output) => self.finish(Status::Succeeded, Some(output), None, time),
                Err(err) => self.finish(Status::Failed, None, Some(err), time),
            },
            Some((parent, slot)) => {
                self.child_done(parent, slot, id, frame.map_index, result, time)
            }
        }
    }

    fn cancel(&mut self, id: FrameId) {
        if let Some(frame) = self.frames.get_mut(id).and_then(Option::take) {
            if let Some(children) = frame.children {
                for c in children.live {
                    self.cancel(c);
                }
            }
        }
    }

    fn child_done(
        &mut self,
        parent: FrameId,
        slot: usize,
        child: FrameId,
        map_index: Option<usize>,
        result: Result<Value, StatesError>,
        time: i64,
    ) {
        let machine = Arc::clone(&self.machine);
        let Some(pf) = self.frame(parent) else { return };
        let body = body_at(&machine, &pf.body);
        let (name, state) = body.state(pf.current);
        let is_map = map_index.is_some();
        if is_map {
            let map_name = name.to_string();
            let ev = if result.is_ok() {
                "MapIterationSucceeded"
            } else {
                "MapIterationFailed"
            };
            self.emit(Some(parent), time, ev, || {
                let mut d = Map::new();
                d.insert("name".into(), Value::String(map_name));
                d.insert("index".into(), Value::from(slot));
                Some(d)
            });
        }
        let Some(ch) = self.frame_mut(parent).and_then(|f| f.children.as_mut()) else {
            return;
        };
        ch.live.remove(&child);
        ch.finished += 1;
        match result {
            Ok(v) => {
                if let Some(r) = ch.results.get_mut(slot) {
                    *r = v;
                }
            }
            Err(err) => {
                let fail = if is_map {
                    ch.failed += 1;
                    if let Some(r) = ch.results.get_mut(slot) {
                        let mut o = Map::new();
                        o.insert("Error".into(), Value::String(err.error.clone()));
                        if let Some(c) = &err.cause {
                            o.insert("Cause".into(), Value::String(c.clone()));
                        }
                        *r = Value::Object(o);
                    }
                    if err.is_runtime() || (ch.failed as f64) > ch.tolerated {
                        Some(if ch.has_tolerance && !err.is_runtime() {
                            StatesError::new(
                                error::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                "The specified tolerated failure threshold was exceeded",
                            )
                        } else {
                            err
                        })
                    } else {
                        None
                    }
                } else {
                    Some(err)
                };
                if let Some(err) = fail {
                    let live = std::mem::take(&mut ch.live);
                    for c in live {
                        self.cancel(c);
                    }
                    if let Some(f) = self.frame_mut(parent) {
                        f.children = None;
                        f.phase = Phase::Run;
                    }
                    if self.fail_state(parent, body, name, state, err, time) {
                        self.run_frame(parent, time);
                    }
                    return;
                }
            }
        }
        let done = ch.finished >= ch.results.len();
        if done {
            self.complete_children(parent, time);
        } else if let State::Map(m) = state {
            if let Err(e) = self.start_iterations(parent, name, m, time) {
                let e = self.located(parent, name, e);
                if self.fail_state(parent, body, name, state, e, time) {
                    self.run_frame(parent, time);
                }
            }
        }
    }

    fn complete_children(&mut self, id: FrameId, time: i64) {
        let machine = Arc::clone(&self.machine);
        let Some(frame) = self.frame_mut(id) else {
            return;
        };
        let Some(ch) = frame.children.take() else {
            return;
        };
        frame.phase = Phase::Run;
        let body_path = frame.body.clone();
        let current = frame.current;
        let body = body_at(&machine, &body_path);
        let (name, state) = body.state(current);
        let results = Value::Array(ch.results);
        let (common, fields, ev) = match state {
            State::Parallel(p) => (&p.common, &p.result, "ParallelStateSucceeded"),
            State::Map(m) => (&m.common, &m.result, "MapStateSucceeded"),
            _ => return,
        };
        self.emit(Some(id), time, ev, || None);
        let outcome = match self.state_output(id, name, common, fields, results) {
            Ok(v) => Outcome::Next(v),
            Err(e) => Outcome::Failed(e),
        };
        if self.handle_outcome(id, body, name, state, outcome, time) {
            self.run_frame(id, time);
        }
    }

    fn finish(
        &mut self,
        status: Status,
        output: Option<Value>,
        err: Option<StatesError>,
        time: i64,
    ) {
        if self.status != Status::Running {
            return;
        }
        let ev = match status {
            Status::Succeeded => "ExecutionSucceeded",
            Status::Failed => "ExecutionFailed",
            Status::TimedOut => "ExecutionTimedOut",
            Status::Aborted => "ExecutionAborted",
            Status::Running => return,
        };
        let out_str = self
            .record_history
            .then_some(())
            .and_then(|()| output.as_ref().map(to_json_string));
        let e2 = err.clone();
        self.emit(None, time, ev, || {
            let mut d = Map::new();
            if let Some(o) = out_str {
                d.insert("output".into(), Value::String(o));
                d.insert("outputDetails".into(), json!({"truncated": false}));
            }
            if let Some(e) = e2 {
                if !e.error.is_empty() {
                    d.insert("error".into(), Value::String(e.error));
                }
                if let Some(c) = e.cause {
                    d.insert("cause".into(), Value::String(c));
                }
            }
            Some(d)
        });
        self.status = status;
        self.output = output;
        self.error = err;
        self.stop_time = Some(time);
        for f in self.frames.iter_mut() {
            *f = None;
        }
        self.out.commands.clear();
    }
}
