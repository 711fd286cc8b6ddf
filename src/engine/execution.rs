//! Execution state: the frames of an execution (the top level, Parallel branches, Map
//! iterations), its status, event counter and history.
//!
//! The state is plain data, changed only by `step`. Everything time- or chance-dependent
//! comes in through events (time) or is derived from the execution ARN (randomness), so the
//! same events on the same state give the same result.

use std::sync::Arc;

use serde_json::Value;

use crate::asl::error::StatesError;
use crate::asl::model::{Body, State, StateMachine};
use crate::engine::limits::{EXPRESS_MAX_SECONDS, HISTORY_LIMIT};
use crate::engine::step::Command;
use crate::engine::task::TaskRequest;

/// Index of a frame in [`Execution::frames`]; never reused within an execution.
pub type FrameId = usize;

/// The status of an execution, as DescribeExecution names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Still going.
    Running,
    /// Ended with an output.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Ran past the execution's `TimeoutSeconds`.
    TimedOut,
    /// Stopped from outside.
    Aborted,
}

impl Status {
    /// The API spelling (`SUCCEEDED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

/// Names and ids an execution runs under.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExecutionInfo {
    /// The execution ARN.
    pub arn: String,
    /// The execution name.
    pub name: String,
    /// The state machine ARN.
    pub state_machine_arn: String,
    /// The state machine name.
    pub state_machine_name: String,
    /// The role the execution runs as.
    pub role_arn: String,
    /// Start time, ms since the epoch.
    pub start_time: i64,
    /// The version and alias it was started through, and the revision it runs.
    #[serde(default, skip_serializing_if = "Origin::is_plain")]
    pub origin: Origin,
}

/// What an execution was started through: a version (`NAME:3`), an alias (`NAME:prod`, which
/// chose the version), and the state machine revision it runs (none before the first update).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// The version ARN, when started through a version or an alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_arn: Option<String>,
    /// The alias ARN, when started through an alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_arn: Option<String>,
    /// The state machine's revision when it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// For a Distributed Map's child execution: the Map Run that started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run_arn: Option<String>,
    /// Its place in the workers' queue (stepfn's own): priority and fairness key, from the
    /// state machine's tags or the start request; `None`: priority 0, no key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueKey>,
}

/// Where an execution queues for the workers: `--scheduling priority` takes higher
/// priorities first, `--scheduling fair` shares the workers across tenants by weight.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueKey {
    /// Higher runs first (default 0).
    #[serde(default)]
    pub priority: i32,
    /// The fairness key (default: none, one queue shared by all).
    #[serde(default)]
    pub tenant: String,
    /// The tenant's share of the workers against others (default 1).
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

impl Origin {
    /// True when started on the state machine itself, before any update.
    pub fn is_plain(&self) -> bool {
        self == &Origin::default()
    }
}

impl ExecutionInfo {
    /// The ARN whose definition the execution runs: its version's, or the state machine's.
    pub fn definition_arn(&self) -> &str {
        self.origin
            .version_arn
            .as_deref()
            .unwrap_or(&self.state_machine_arn)
    }

    /// The region of the execution ARN (`arn:aws:states:REGION:...`), `us-east-1` if the ARN
    /// has none.
    pub fn region(&self) -> &str {
        self.arn
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .unwrap_or("us-east-1")
    }
}

/// Where a frame's states are: a path of (state index, branch index) from the top level.
/// Branch index is the Parallel branch, and 0 for a Map item processor.
pub type BodyPath = Arc<[(u32, u32)]>;

/// Resolves a body path to its body.
pub fn body_at<'m>(machine: &'m StateMachine, path: &[(u32, u32)]) -> &'m Body {
    let mut body = &machine.body;
    for &(state, branch) in path {
        body = match &body.states.0[state as usize].1 {
            State::Parallel(p) => &p.branches[branch as usize],
            State::Map(m) => &m.item_processor,
            _ => unreachable!("body paths only go through Parallel and Map states"),
        };
    }
    body
}

/// What a frame waits for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Phase {
    /// Ready to enter its current state.
    Enter,
    /// Entered; ready to run (again, after a retry delay) the current state.
    Run,
    /// A task is running; its result comes as an event.
    Task {
        /// Attempt number, from 0.
        attempt: u32,
    },
    /// A Wait state or retry delay; a timer event ends it.
    Timer {
        /// Whether the timer is a retry delay (then the state runs again) or a Wait.
        retry: bool,
        /// When it fires, ms since the epoch.
        due: i64,
    },
    /// Parallel branches or Map iterations are running.
    Children,
    /// Done; the frame is about to be removed.
    Done,
}

/// Progress of a Parallel or Map state's children.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Children {
    /// Results by branch or item index.
    pub results: Vec<Value>,
    /// Live child frames.
    pub live: FrameSet,
    /// Map: the items not started yet are `items[next..]`.
    pub items: Vec<Value>,
    /// Map: next item to start.
    pub next: usize,
    /// Map: the input the ItemSelector sees.
    pub selector_input: Option<Value>,
    /// Map: at most this many at once (0: no limit).
    pub max_concurrency: usize,
    /// Children finished, successfully or not.
    pub finished: usize,
    /// Map: failed iterations.
    pub failed: usize,
    /// Map: failures tolerated.
    pub tolerated: f64,
    /// Map: whether a tolerance was set (changes the failure error).
    pub has_tolerance: bool,
    /// Map: the body path every iteration runs, once known.
    pub child_body: Option<BodyPath>,
    /// The slots of the children that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_slots: Vec<usize>,
    /// After a redrive, the outputs of the children that succeeded before it (they do not
    /// run again), by slot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<Option<Value>>,
    /// The output texts of the children that kept the caller's text (empty when none did):
    /// the state's result text is theirs joined, as AWS joins them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<Option<Arc<str>>>,
    /// Map: bytes of JSON text of the iterations' results so far (commas included), checked
    /// against the payload limit as each result arrives.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub result_bytes: usize,
    /// Map: the iteration inputs are large, so each is built when its iteration first runs
    /// (see [`DeferredInput`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub defer_inputs: bool,
    /// Map: `items` holds one null per item, and each iteration reads its item where it is,
    /// in the ItemSelector's input at ItemsPath (which does not change while the Map runs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub items_in_input: bool,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

/// The moment a Map iteration's input was evaluated when the iteration started, so that the
/// same input is built again when the iteration first runs: a large ItemSelector result is
/// not kept for every iteration waiting to run (with `MaxConcurrency` 0 that is all of them).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeferredInput {
    /// The step's time, ms since the epoch.
    pub time: i64,
    /// The step's seed of randomness.
    pub seed: u64,
}

/// What a redrive keeps of a top-level Parallel or Map state that failed: its place and the
/// outputs of its children that succeeded, by slot (`None`: it failed, was aborted or did not
/// start).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RedriveMemo {
    /// The state's index in the top-level body.
    pub state: usize,
    /// The children's outputs.
    pub results: Vec<Option<Value>>,
}

/// A set of frame ids.
pub type FrameSet = rustc_hash::FxHashSet<FrameId>;

/// A frame's input: its own value, or one it shares with other frames (the branches of a
/// Parallel state start on one input) until it changes it; and, when known, its length as
/// JSON text (so the payload limit is checked without walking it again). Serialized as the
/// value.
#[derive(Debug, Clone, Default)]
pub struct FrameInput {
    held: Held,
    len: Option<usize>,
}

#[derive(Debug, Clone)]
enum Held {
    Owned(Value),
    Shared(Arc<Value>),
}

impl Default for Held {
    fn default() -> Self {
        Held::Owned(Value::Null)
    }
}

impl From<Value> for FrameInput {
    fn from(v: Value) -> Self {
        FrameInput {
            held: Held::Owned(v),
            len: None,
        }
    }
}

impl std::ops::Deref for FrameInput {
    type Target = Value;

    fn deref(&self) -> &Value {
        match &self.held {
            Held::Owned(v) => v,
            Held::Shared(v) => v,
        }
    }
}

impl FrameInput {
    /// `value`, whose JSON text is `len` bytes long (as `json_len` counts).
    pub fn sized(value: Value, len: usize) -> Self {
        FrameInput {
            held: Held::Owned(value),
            len: Some(len),
        }
    }

    /// The length of the value's JSON text, when known.
    pub fn known_len(&self) -> Option<usize> {
        self.len
    }

    /// The value, copied only when another frame still shares it.
    pub fn into_value(self) -> Value {
        match self.held {
            Held::Owned(v) => v,
            Held::Shared(v) => Arc::try_unwrap(v).unwrap_or_else(|v| Value::clone(&v)),
        }
    }

    /// The same input for another frame (this one shares it from now on).
    pub fn share(&mut self) -> FrameInput {
        if let Held::Owned(v) = &mut self.held {
            self.held = Held::Shared(Arc::new(std::mem::take(v)));
        }
        self.clone()
    }
}

impl serde::Serialize for FrameInput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Value::serialize(self, s)
    }
}

impl<'de> serde::Deserialize<'de> for FrameInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(FrameInput::from)
    }
}

/// One thread of control: the top level, a Parallel branch or a Map iteration.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Frame {
    /// The frame that waits for this one, and this frame's slot in its results.
    pub parent: Option<(FrameId, usize)>,
    /// Which body's states the frame runs.
    pub body: BodyPath,
    /// Index of the current state in the body.
    pub current: usize,
    /// The current state's raw input (its output once it is done).
    pub input: FrameInput,
    /// What the frame is doing.
    pub phase: Phase,
    /// Event id of the current state's StateEntered event.
    pub entered_event: u64,
    /// The `previousEventId` of that StateEntered event.
    #[serde(default)]
    pub entered_previous: u64,
    /// When the current state was entered, ms since the epoch.
    pub entered_time: i64,
    /// Retries used, per retrier of the current state.
    pub retries: Vec<u32>,
    /// Retries used in the current state in all.
    pub retry_count: u32,
    /// The Map iteration index, for Map children.
    pub map_index: Option<usize>,
    /// The last event this frame wrote.
    pub last_event: u64,
    /// Children of the current Parallel or Map state.
    pub children: Option<Box<Children>>,
    /// The failure being handled by a retry delay.
    pub pending_error: Option<StatesError>,
    /// Identifies the frame's current wait (task, timer); events for an older wait are stale.
    pub wait: u64,
    /// The task in flight, kept so a worker that takes over can invoke it again (shared: a
    /// snapshot of the frame does not copy a large request, such as a Map Run's inputs).
    pub task: Option<Arc<TaskRequest>>,
    /// The variables in scope (a branch or iteration starts with a copy of its parent's).
    pub vars: Arc<serde_json::Map<String, Value>>,
    /// The caller's text of `input` while the frame's input is still the execution input as
    /// sent (AWS writes that text, spacing and all, in the history until a state changes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_text: Option<Arc<str>>,
    /// What the current state assigned, as JSON texts, for its StateExited event (kept only
    /// when history is recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<Box<serde_json::Map<String, Value>>>,
    /// A Map iteration whose input is built when it first runs (`input` is null until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_input: Option<DeferredInput>,
    /// The input was moved into the request of the task in flight (a Task state without
    /// Parameters or Arguments, in a driver that keeps no snapshot): the driver gives it back
    /// with [`Execution::give_back_input`] once the task is invoked. Never set in a snapshot.
    #[serde(skip)]
    pub input_lent: bool,
}

/// One execution: everything `step` reads and writes.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The state machine.
    pub machine: Arc<StateMachine>,
    /// ARNs and names.
    pub info: ExecutionInfo,
    /// The execution input.
    pub input: Value,
    /// The input as the caller sent it, when known: ExecutionStarted and the first states
    /// show this text.
    pub input_text: Option<Arc<str>>,
    /// The output's text when it is still the caller's (for ExecutionSucceeded).
    pub(crate) output_text: Option<Arc<str>>,
    /// Frames by id; `None` once finished.
    pub frames: Vec<Option<Frame>>,
    /// Status.
    pub status: Status,
    /// The output, once succeeded.
    pub output: Option<Value>,
    /// The error, once failed.
    pub error: Option<StatesError>,
    /// When the execution ended.
    pub stop_time: Option<i64>,
    /// Id of the last history event.
    pub last_event_id: u64,
    /// States entered so far (a transition count).
    pub transitions: u64,
    /// Waits begun so far; numbers each frame's waits uniquely.
    pub waits: u64,
    /// Seed of the execution's randomness, from its ARN.
    pub seed: u64,
    /// True when a durable driver persists the execution: frames then keep their task
    /// requests so that another worker can invoke them again.
    pub durable: bool,
    /// True when the driver gives a Task state's input back after invoking its task
    /// ([`Execution::give_back_input`]): such a state then lends its input to the request
    /// instead of copying it (see [`Frame::input_lent`]).
    pub lend_task_inputs: bool,
    /// `info.arn`, shared by the task requests.
    pub(crate) arn: Arc<str>,
    /// True when steps return their history events with details (as GetExecutionHistory
    /// shows them); false when only event ids are counted.
    pub record_history: bool,
    /// Redrives so far.
    pub redrive_count: u32,
    /// When the last redrive happened, ms since the epoch.
    pub redrive_time: Option<i64>,
    /// What a redrive keeps of the top-level Parallel or Map state that failed.
    pub redrive_memo: Option<RedriveMemo>,
    /// TestState's probe on the first state (never stored).
    pub probe: Option<Box<crate::engine::probe::Probe>>,
    /// The most history events the execution may write ([`HISTORY_LIMIT`] for a standard
    /// execution, `u64::MAX` for an express one, whose history AWS does not cap): the event
    /// that would be number `history_limit`, unless it ends the execution, fails it instead.
    pub history_limit: u64,
}

/// Whether `arn` is an express execution's (`arn:aws:states:REGION:ACCOUNT:express:...`).
pub(crate) fn is_express_arn(arn: &str) -> bool {
    arn.split(':').nth(5) == Some("express")
}

/// The durable part of an execution's state: everything `step` reads besides the state
/// machine, the execution's names and its input. Frames are kept sparse (finished frames are
/// gone), so a finished Map of 10,000 iterations costs nothing here.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// Frame ids given out so far.
    pub frame_count: usize,
    /// The live frames.
    pub frames: Vec<(FrameId, Frame)>,
    /// Status.
    pub status: Status,
    /// Output, once succeeded.
    pub output: Option<Value>,
    /// Error, once failed.
    pub error: Option<StatesError>,
    /// When the execution ended.
    pub stop_time: Option<i64>,
    /// Id of the last history event.
    pub last_event_id: u64,
    /// States entered so far.
    pub transitions: u64,
    /// Waits begun so far.
    pub waits: u64,
    /// Redrives so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redrive_count: u32,
    /// When the last redrive happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive_time: Option<i64>,
    /// What a redrive keeps of the top-level Parallel or Map state that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive_memo: Option<RedriveMemo>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Snapshot {
    /// Whether frame `frame` still waits in a Task state for the answer to its wait number
    /// `wait`: the question SendTaskSuccess/Failure/Heartbeat asks of a task token.
    pub fn awaits_task(&self, frame: FrameId, wait: u64) -> bool {
        self.frames
            .iter()
            .any(|(id, f)| *id == frame && f.wait == wait && matches!(f.phase, Phase::Task { .. }))
    }

    /// The task requests in flight: what the waiting Task states asked for (kept when the
    /// execution is durable). StopExecution stops the `.sync` children among them.
    pub fn tasks_in_flight(&self) -> impl Iterator<Item = &TaskRequest> {
        self.frames.iter().filter_map(|(_, f)| f.task.as_deref())
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}

impl Execution {
    /// The seconds after which the execution times out: the machine's `TimeoutSeconds`, and
    /// for an express execution at most [`EXPRESS_MAX_SECONDS`] (AWS's five minutes).
    pub fn timeout_seconds(&self) -> Option<u64> {
        let machine = self.machine.timeout_seconds;
        if is_express_arn(&self.info.arn) {
            Some(machine.map_or(EXPRESS_MAX_SECONDS, |s| s.min(EXPRESS_MAX_SECONDS)))
        } else {
            machine
        }
    }

    /// A new execution of `machine`, not started yet. With `record_history` every history
    /// event is kept with its details; without, only event ids are counted.
    pub fn new(
        machine: Arc<StateMachine>,
        info: ExecutionInfo,
        input: Value,
        record_history: bool,
    ) -> Self {
        let seed = fnv(&info.arn);
        let arn = Arc::from(info.arn.as_str());
        let history_limit = if is_express_arn(&info.arn) {
            u64::MAX
        } else {
            HISTORY_LIMIT
        };
        Execution {
            machine,
            info,
            input,
            input_text: None,
            output_text: None,
            frames: Vec::new(),
            status: Status::Running,
            output: None,
            error: None,
            stop_time: None,
            last_event_id: 0,
            transitions: 0,
            waits: 0,
            seed,
            durable: false,
            lend_task_inputs: false,
            arn,
            record_history,
            redrive_count: 0,
            redrive_time: None,
            redrive_memo: None,
            probe: None,
            history_limit,
        }
    }

    /// The durable state, to store after a commit.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            frame_count: self.frames.len(),
            frames: self
                .frames
                .iter()
                .enumerate()
                .filter_map(|(i, f)| f.as_ref().map(|f| (i, f.clone())))
                .collect(),
            status: self.status,
            output: self.output.clone(),
            error: self.error.clone(),
            stop_time: self.stop_time,
            last_event_id: self.last_event_id,
            transitions: self.transitions,
            waits: self.waits,
            redrive_count: self.redrive_count,
            redrive_time: self.redrive_time,
            redrive_memo: self.redrive_memo.clone(),
        }
    }

    /// An execution restored from its snapshot; `record_history` as in [`Execution::new`].
    pub fn restore(
        machine: Arc<StateMachine>,
        info: ExecutionInfo,
        input: Value,
        snapshot: Snapshot,
        record_history: bool,
    ) -> Self {
        let mut exec = Execution::new(machine, info, input, record_history);
        exec.frames = vec![None; snapshot.frame_count];
        for (id, frame) in snapshot.frames {
            if let Some(slot) = exec.frames.get_mut(id) {
                *slot = Some(frame);
            }
        }
        exec.status = snapshot.status;
        exec.output = snapshot.output;
        exec.error = snapshot.error;
        exec.stop_time = snapshot.stop_time;
        exec.last_event_id = snapshot.last_event_id;
        exec.transitions = snapshot.transitions;
        exec.waits = snapshot.waits;
        exec.redrive_count = snapshot.redrive_count;
        exec.redrive_time = snapshot.redrive_time;
        exec.redrive_memo = snapshot.redrive_memo;
        exec
    }

    /// Gives frame `frame` back the input its task's request took (see [`Frame::input_lent`]):
    /// the driver calls it once the invoker has the request, before any result of that task is
    /// applied. Does nothing when the frame lent nothing.
    pub fn give_back_input(&mut self, frame: FrameId, input: Value) {
        if let Some(f) = self.frames.get_mut(frame).and_then(Option::as_mut) {
            if f.input_lent {
                f.input = input.into();
                f.input_lent = false;
            }
        }
    }

    /// The commands that were in flight when the snapshot was taken: run the ready frames,
    /// invoke the tasks again, arm the timers. A worker taking over starts from these.
    pub fn pending_work(&self) -> Vec<Command> {
        let mut out = Vec::new();
        if self.status != Status::Running {
            return out;
        }
        if self.last_event_id == 0 {
            return out;
        }
        for (id, frame) in self.frames.iter().enumerate() {
            let Some(frame) = frame else { continue };
            match &frame.phase {
                Phase::Enter | Phase::Run => out.push(Command::Run(id)),
                Phase::Task { .. } => {
                    if let Some(task) = &frame.task {
                        out.push(Command::Invoke {
                            frame: id,
                            wait: frame.wait,
                            request: Box::new(TaskRequest::clone(task)),
                        });
                    }
                }
                Phase::Timer { due, .. } => out.push(Command::Timer {
                    frame: id,
                    wait: frame.wait,
                    due: *due,
                }),
                Phase::Children | Phase::Done => {}
            }
        }
        out
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
