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

use serde_json::{Map, Value};

use crate::asl::error::{self, error_matches, StatesError};
use crate::asl::model::{Body, Catcher, State, Transition as Flow};
use crate::asl::payload::{json_len, PAYLOAD_LIMIT_BYTES};
use crate::engine::execution::{
    body_at, BodyPath, Execution, Frame, FrameId, FrameInput, Phase, Status,
};
use crate::engine::history::{details_key, Details, HistoryEvent};
use crate::engine::probe::Probe;
use crate::engine::retry::retry_delay_ms;
use crate::engine::rng::LazyRng;
use crate::engine::states::children::ChildEnd;
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
    let mut out = Transition::default();
    step_into(execution, event, &mut out);
    out
}

/// [`step`], appending what the event did to `out`: a driver that drains `out` after each
/// step reuses its buffers instead of allocating two vectors per event.
pub fn step_into(execution: &mut Execution, event: Event, out: &mut Transition) {
    let running = execution.status == Status::Running;
    let mut stepper = Stepper {
        now: event.time(),
        first_event: execution.last_event_id,
        exec: execution,
        out,
        output_len: None,
    };
    stepper.apply(event);
    if running && execution.status != Status::Running {
        // Ended within the step (by its history limit, say, in the middle of starting Map
        // iterations): no frame it started afterwards lives on, and nothing is left to do.
        for f in execution.frames.iter_mut() {
            *f = None;
        }
        out.commands.clear();
    }
}

/// An execution while one event is applied, and what the event has done so far.
pub(crate) struct Stepper<'e> {
    exec: &'e mut Execution,
    pub(crate) out: &'e mut Transition,
    /// The time of the event being applied.
    pub(crate) now: i64,
    /// The id of the last event before this step.
    pub(crate) first_event: u64,
    /// An upper bound on the JSON length of the output a state of this frame just produced,
    /// when its input's length was known: [`Self::handle_outcome`] takes it instead of walking
    /// the output for the payload limit.
    pub(crate) output_len: Option<(FrameId, usize)>,
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
    /// A worker took an activity task (GetActivityTask): recorded as ActivityStarted.
    TaskStarted {
        /// The waiting frame.
        frame: FrameId,
        /// The wait of the task.
        wait: u64,
        /// The `workerName` the worker gave, if any.
        worker_name: Option<String>,
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
    /// A closed execution is redriven (RedriveExecution): its top-level state `state`, which
    /// did not succeed, runs again on `input` with the variables `vars`.
    Redrive {
        /// The state (its index in the top-level body).
        state: usize,
        /// The input it had.
        input: Value,
        /// The top-level variables it had.
        vars: Map<String, Value>,
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

impl Event {
    /// When it happened, ms since the epoch.
    pub fn time(&self) -> i64 {
        match self {
            Event::Start { time }
            | Event::Run { time, .. }
            | Event::TaskDone { time, .. }
            | Event::TaskSubmitted { time, .. }
            | Event::TaskStarted { time, .. }
            | Event::Timer { time, .. }
            | Event::ExecutionTimeout { time }
            | Event::Redrive { time, .. }
            | Event::Stop { time, .. } => *time,
        }
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

/// The frame's input as history shows it: the caller's text while unchanged.
fn input_text_of(f: &Frame) -> String {
    match &f.input_text {
        Some(t) => t.to_string(),
        None => to_json_string(&f.input),
    }
}

pub(crate) fn to_json_string(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl Stepper<'_> {
    /// Applies one event; what it wrote and asks for goes to `self.out`.
    pub(crate) fn apply(&mut self, event: Event) {
        if self.status != Status::Running && !matches!(event, Event::Redrive { .. }) {
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
                let Some(f) = self.frame(frame).filter(|f| f.wait == wait) else {
                    return;
                };
                if f.task
                    .as_deref()
                    .is_some_and(crate::engine::task::is_map_run)
                {
                    self.map_run_done(frame, result, time)
                } else {
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
            Event::TaskStarted {
                frame,
                wait,
                worker_name,
                time,
            } => {
                if self.frame(frame).is_some_and(|f| f.wait == wait) {
                    self.activity_started(frame, worker_name, time)
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
                        self.timeout_seconds().unwrap_or_default()
                    )),
                    location: None,
                };
                self.finish(Status::TimedOut, None, Some(err), time);
            }
            Event::Redrive {
                state,
                input,
                vars,
                time,
            } => self.redrive(state, input, vars, time),
            Event::Stop { error, cause, time } => {
                let err = StatesError {
                    error: error.unwrap_or_default(),
                    cause,
                    location: None,
                };
                // A Map Run in flight is aborted with its execution: MapRunAborted first.
                let map_runs: Vec<FrameId> = (0..self.frames.len())
                    .filter(|id| {
                        self.frame(*id)
                            .and_then(|f| f.task.as_deref())
                            .is_some_and(crate::engine::task::is_map_run)
                    })
                    .collect();
                for id in map_runs {
                    self.emit(Some(id), time, "MapRunAborted", || Details::None);
                }
                self.finish(Status::Aborted, None, Some(err), time);
            }
        }
    }

    /// Writes a history event that follows the frame's last event (the previous event of the
    /// execution for an execution-level event) and becomes the frame's last event.
    pub(crate) fn emit(
        &mut self,
        frame: Option<FrameId>,
        time: i64,
        event_type: &'static str,
        details: impl FnOnce() -> Details,
    ) -> u64 {
        self.write_event(frame, None, time, event_type, details)
    }

    /// Writes a history event whose `previousEventId` is `previous`; it becomes the frame's
    /// last event.
    pub(crate) fn emit_after(
        &mut self,
        frame: Option<FrameId>,
        previous: u64,
        time: i64,
        event_type: &'static str,
        details: impl FnOnce() -> Details,
    ) -> u64 {
        self.write_event(frame, Some(previous), time, event_type, details)
    }

    fn write_event(
        &mut self,
        frame: Option<FrameId>,
        previous: Option<u64>,
        time: i64,
        event_type: &'static str,
        details: impl FnOnce() -> Details,
    ) -> u64 {
        if !self.history_has_room(event_type, time) {
            return self.last_event_id;
        }
        self.last_event_id += 1;
        let id = self.last_event_id;
        let previous = match frame.and_then(|f| self.frame_mut(f)) {
            Some(fr) => {
                let last = std::mem::replace(&mut fr.last_event, id);
                previous.unwrap_or(last)
            }
            None => previous.unwrap_or(id - 1),
        };
        if self.record_history {
            let mut event = HistoryEvent {
                id,
                previous_event_id: previous,
                timestamp: time,
                event_type: event_type.to_string(),
                details: Map::new(),
            };
            if let Some(d) = details().into_json() {
                event
                    .details
                    .insert(details_key(event_type), Value::Object(d));
            }
            self.out.events.push(event);
        }
        id
    }

    /// Sets the event the frame's next event follows.
    pub(crate) fn link_frame(&mut self, frame: FrameId, last_event: u64) {
        if let Some(fr) = self.frame_mut(frame) {
            fr.last_event = last_event;
        }
    }

    /// The frame's last event.
    pub(crate) fn last_event_of(&self, frame: FrameId) -> u64 {
        self.frame(frame).map(|f| f.last_event).unwrap_or_default()
    }

    pub(crate) fn start(&mut self, time: i64) {
        let text = self.input_text.clone().filter(|_| self.record_history);
        let input = self.record_history.then(|| match &text {
            Some(t) => t.to_string(),
            None => to_json_string(&self.input),
        });
        let role = self.info.role_arn.clone();
        // ExecutionStarted carries the start time DescribeExecution reports, though a worker
        // may first drive the execution (and enter its first state) later.
        let started = self.info.start_time.min(time);
        self.emit(None, started, "ExecutionStarted", || {
            Details::ExecutionStarted {
                input: input.unwrap_or_default(),
                role_arn: role,
            }
        });
        let start = self.machine.body.start;
        let vars = self
            .probe
            .as_ref()
            .map(|p| Arc::new(p.variables.clone()))
            .unwrap_or_default();
        let id = self.new_frame(
            None,
            Arc::from(Vec::new()),
            start,
            self.input.clone(),
            None,
            vars,
        );
        // AWS links the first state's StateEntered event to no event (previousEventId 0).
        self.link_frame(id, 0);
        if let Some(f) = self.frame_mut(id) {
            f.input_text = text;
        }
        self.run_frame(id, time);
    }

    pub(crate) fn new_frame(
        &mut self,
        parent: Option<(FrameId, usize)>,
        body: BodyPath,
        start: usize,
        input: impl Into<crate::engine::execution::FrameInput>,
        map_index: Option<usize>,
        vars: Arc<Map<String, Value>>,
    ) -> FrameId {
        let last_event = self.last_event_id;
        self.frames.push(Some(Frame {
            parent,
            body,
            current: start,
            input: input.into(),
            phase: Phase::Enter,
            entered_event: 0,
            entered_previous: 0,
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
            input_text: None,
            assigned: None,
            deferred_input: None,
            input_lent: false,
        }));
        self.frames.len() - 1
    }

    /// Starts a new wait for the frame and returns its number.
    pub(crate) fn begin_wait(&mut self, id: FrameId) -> u64 {
        self.waits += 1;
        let wait = self.waits;
        if let Some(f) = self.frame_mut(id) {
            f.wait = wait;
        }
        wait
    }

    pub(crate) fn frame(&self, id: FrameId) -> Option<&Frame> {
        self.frames.get(id).and_then(Option::as_ref)
    }

    pub(crate) fn frame_mut(&mut self, id: FrameId) -> Option<&mut Frame> {
        self.frames.get_mut(id).and_then(Option::as_mut)
    }

    pub(crate) fn rng(&self) -> LazyRng {
        LazyRng::from_seed(self.seed_now())
    }

    /// The seed of the randomness drawn now: the execution's seed moved on by the events so
    /// far, so every step draws differently and a replay draws the same.
    pub(crate) fn seed_now(&self) -> u64 {
        self.seed ^ self.last_event_id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    pub(crate) fn run_frame(&mut self, id: FrameId, time: i64) {
        let machine = Arc::clone(&self.machine);
        if let Err(e) = self.build_deferred_input(id) {
            self.end_frame(id, Err(e), time);
            return;
        }
        loop {
            if self.status != Status::Running {
                return;
            }
            let Some(frame) = self.frame(id) else { return };
            let body = body_at(&machine, &frame.body);
            let (name, state) = body.state(frame.current);
            match frame.phase {
                Phase::Enter => {
                    if self.yields(id) {
                        return;
                    }
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

    pub(crate) fn enter(&mut self, id: FrameId, name: &str, state: &State, time: i64) {
        self.transitions += 1;
        let event_type = event_name(state, "Entered");
        let input = self
            .record_history
            .then_some(())
            .and_then(|()| self.frame(id).map(input_text_of));
        let previous = self.last_event_of(id);
        let event = self.emit(Some(id), time, event_type, || Details::StateEntered {
            name: name.to_string(),
            input: input.unwrap_or_default(),
        });
        if let Some(f) = self.frame_mut(id) {
            f.entered_event = event;
            f.entered_previous = previous;
            f.assigned = None;
            f.entered_time = time;
            f.retries.clear();
            f.retry_count = 0;
            f.phase = Phase::Run;
            f.pending_error = None;
        }
    }

    /// A failure of the state's own evaluation: its cause prefixed as Step Functions does, and
    /// for `States.QueryEvaluationError` an `EvaluationFailed` event, which AWS links to the
    /// event the StateEntered followed (to the StateEntered itself for a Wait, whose
    /// `Seconds`/`Timestamp` are evaluated after it is entered).
    pub(crate) fn evaluation_failed(
        &mut self,
        id: FrameId,
        name: &str,
        state: &State,
        err: StatesError,
        time: i64,
    ) -> StatesError {
        let err = self.located(id, name, err);
        if err.error == error::QUERY_EVALUATION_ERROR {
            let previous = match (state, self.frame(id)) {
                (State::Wait(_), Some(f)) => f.entered_event,
                (_, Some(f)) => f.entered_previous,
                (_, None) => self.last_event_id,
            };
            let details = Details::EvaluationFailed {
                state: name.to_string(),
                error: err.clone(),
            };
            self.emit_after(Some(id), previous, time, "EvaluationFailed", || details);
        }
        err
    }

    /// Prefixes a runtime failure's cause as Step Functions does.
    pub(crate) fn located(&self, id: FrameId, name: &str, mut err: StatesError) -> StatesError {
        if self.probe.is_some() {
            // TestState reports the cause alone.
            return err;
        }
        if matches!(
            err.error.as_str(),
            error::RUNTIME | error::QUERY_EVALUATION_ERROR
        ) {
            let entered = self.frame(id).map(|f| f.entered_event).unwrap_or_default();
            let place = format!(
                "An error occurred while executing the state '{name}' (entered at the event id #{entered}). "
            );
            let cause = err.cause.take().unwrap_or_default();
            // Located once: a failure already located here passes through unchanged.
            err.cause = Some(if cause.starts_with(&place) {
                cause
            } else {
                format!("{place}{cause}")
            });
        }
        err
    }

    pub(crate) fn run_state(
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

    /// Keeps the frame's input text only while it still spells the state's output (`None`:
    /// the frame's input).
    fn keep_text_if_unchanged(&mut self, id: FrameId, output: Option<&Value>) {
        let Some(f) = self.frames.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        if let Some(text) = &f.input_text {
            let value = output.unwrap_or(&f.input);
            if serde_json::from_str::<Value>(text).ok().as_ref() != Some(value) {
                f.input_text = None;
            }
        }
    }

    pub(crate) fn take_input(&mut self, id: FrameId) -> Value {
        self.take_frame_input(id).into_value()
    }

    /// The frame's input as it is held: shared with other frames or not.
    pub(crate) fn take_frame_input(&mut self, id: FrameId) -> FrameInput {
        self.frame_mut(id)
            .map(|f| std::mem::take(&mut f.input))
            .unwrap_or_default()
    }

    /// Acts on a state's outcome. Returns true when the frame can go on running now.
    pub(crate) fn handle_outcome(
        &mut self,
        id: FrameId,
        body: &Body,
        name: &str,
        state: &State,
        outcome: Outcome,
        time: i64,
    ) -> bool {
        let bound = self
            .output_len
            .take()
            .and_then(|(frame, len)| (frame == id).then_some(len));
        match outcome {
            Outcome::Blocked => false,
            Outcome::Next(output) => {
                if let State::Choice(_) = state {
                    let target = output.as_u64().unwrap_or_default() as usize;
                    self.keep_text_if_unchanged(id, None);
                    self.exit(id, name, state, time);
                    if let Some(f) = self.frame_mut(id) {
                        f.current = target;
                        f.phase = Phase::Enter;
                    }
                    return true;
                }
                let len = match bound {
                    Some(len) if len <= PAYLOAD_LIMIT_BYTES => len,
                    _ => json_len(&output, PAYLOAD_LIMIT_BYTES),
                };
                if len > PAYLOAD_LIMIT_BYTES {
                    let err = StatesError::new(
                        error::DATA_LIMIT_EXCEEDED,
                        format!("The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit."),
                    );
                    return self.handle_outcome(id, body, name, state, Outcome::Failed(err), time);
                }
                self.keep_text_if_unchanged(id, Some(&output));
                if let Some(f) = self.frame_mut(id) {
                    f.input = FrameInput::sized(output, len);
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
                let err = self.evaluation_failed(id, name, state, err, time);
                self.fail_state(id, body, name, state, err, time)
            }
        }
    }

    pub(crate) fn exit(&mut self, id: FrameId, name: &str, state: &State, time: i64) {
        let output = self
            .record_history
            .then_some(())
            .and_then(|()| self.frame(id).map(input_text_of));
        let assigned = self.frame_mut(id).and_then(|f| f.assigned.take());
        self.emit(Some(id), time, event_name(state, "Exited"), || {
            Details::StateExited {
                name: name.to_string(),
                output: output.unwrap_or_default(),
                assigned,
            }
        });
    }

    /// Retry, catch, or fail the frame. Returns true when the frame can run on now.
    pub(crate) fn fail_state(
        &mut self,
        id: FrameId,
        body: &Body,
        name: &str,
        state: &State,
        err: StatesError,
        time: i64,
    ) -> bool {
        let _ = body;
        if let Some(p) = self.probing(id) {
            p.error = Some(err.clone());
        }
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
            if let Some(p) = self.probing(id) {
                // TestState: the state is not retried; it is RETRIABLE while attempts remain.
                let used = p.retry_count;
                let left = u64::from(used) < retrier.max_attempts;
                p.retry = Some((index, left.then(|| Probe::backoff_seconds(retrier, used))));
                if left {
                    self.end_frame(id, Err(err), time);
                    return false;
                }
            } else if u64::from(used) < retrier.max_attempts {
                // A retry runs the whole state again: nothing is kept for a redrive.
                self.redrive_memo = None;
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
        if let Some((index, catcher)) = fields
            .catch
            .iter()
            .enumerate()
            .find(|(_, c)| error_matches(&c.error_equals, &err.error))
        {
            if let Some(p) = self.probing(id) {
                p.catch_index = Some(index);
            }
            self.redrive_memo = None;
            self.state_failed_event(id, state, time);
            return self.catch(id, name, state, catcher, err, time);
        }
        self.state_failed_event(id, state, time);
        self.end_frame(id, Err(err), time);
        false
    }

    /// A Map or Parallel state that fails writes MapStateFailed or ParallelStateFailed, caught
    /// or not.
    fn state_failed_event(&mut self, id: FrameId, state: &State, time: i64) {
        if let State::Map(_) | State::Parallel(_) = state {
            self.emit(Some(id), time, event_name(state, "Failed"), || {
                Details::None
            });
        }
    }

    pub(crate) fn catch(
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
                let e = self.evaluation_failed(id, name, state, e, time);
                self.end_frame(id, Err(e), time);
                return false;
            }
        };
        if let Some(f) = self.frame_mut(id) {
            f.input = output.into();
            f.input_text = None;
        }
        self.exit(id, name, state, time);
        if let Some(f) = self.frame_mut(id) {
            f.current = catcher.target;
            f.phase = Phase::Enter;
        }
        true
    }

    /// A frame reached the end of its body (or failed without a catcher).
    pub(crate) fn end_frame(&mut self, id: FrameId, result: Result<Value, StatesError>, time: i64) {
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
                Ok(output) => {
                    self.output_text = frame.input_text;
                    self.finish(Status::Succeeded, Some(output), None, time)
                }
                Err(err) => self.finish(Status::Failed, None, Some(err), time),
            },
            Some((parent, slot)) => {
                let end = ChildEnd {
                    frame: id,
                    slot,
                    map_index: frame.map_index,
                    last_event: frame.last_event,
                    text: frame.input_text.clone(),
                };
                self.child_done(parent, end, result, time)
            }
        }
    }

    pub(crate) fn cancel(&mut self, id: FrameId) {
        if let Some(frame) = self.frames.get_mut(id).and_then(Option::take) {
            if let Some(children) = frame.children {
                for c in children.live {
                    self.cancel(c);
                }
            }
        }
    }

    pub(crate) fn finish(
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
        let text = self.output_text.take();
        let out_str = self.record_history.then_some(()).and_then(|()| {
            output.as_ref().map(|o| match &text {
                Some(t) => t.to_string(),
                None => to_json_string(o),
            })
        });
        self.emit(None, time, ev, || Details::ExecutionEnded {
            output: out_str,
            error: err.clone(),
        });
        if self.status != Status::Running {
            // The history limit failed the execution instead.
            return;
        }
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
