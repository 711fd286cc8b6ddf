//! The in-memory driver: feeds events to `step`, carries out its commands (run frames, invoke
//! tasks, arm timers) and owns the clock.
//!
//! The clock is real time by default. With a virtual clock, a timer (Wait, retry delay,
//! timeout) fires as soon as nothing else can happen, and the clock jumps to its due time, so
//! waits cost nothing and timestamps still move as they would.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinSet;

use crate::asl::error::{self, StatesError};
use crate::asl::model::StateMachine;
use crate::asl::timestamp::after_seconds;
use crate::engine::execution::{Execution, ExecutionInfo, FrameId, Status};
use crate::engine::history::HistoryEvent;
use crate::engine::step::{step_into, Command, Event, Transition};
use crate::runtime::clock::Clock;
use crate::tasks::{Invocation, TaskInvoker};

/// How to drive an execution.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Skip waits and retry delays instantly.
    pub virtual_clock: bool,
    /// Keep the full history with event details.
    pub record_history: bool,
}

/// Ready steps a drive takes between yields to the async runtime.
const YIELD_EVERY_STEPS: u64 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Frame(FrameId, u64),
    TaskTimeout(FrameId, u64),
    Heartbeat(FrameId, u64),
    Execution,
}

enum Ready {
    Run(FrameId),
    TaskDone(FrameId, u64, Result<Value, StatesError>),
}

/// An execution driven to its end in memory, and its history when it was recorded.
#[derive(Debug)]
pub struct Finished {
    /// The ended execution.
    pub execution: Execution,
    /// Every history event, with details (`None` unless [`RunOptions::record_history`]).
    pub history: Option<Vec<HistoryEvent>>,
}

/// An execution input: its value, and the text the caller sent when there was one (history
/// shows that text as sent).
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The input.
    pub value: Value,
    /// The caller's text of it.
    pub text: Option<Arc<str>>,
}

impl From<Value> for Input {
    fn from(value: Value) -> Self {
        Input { value, text: None }
    }
}

/// Runs a new execution of `machine` on `input` to its end.
pub async fn run(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: impl Into<Input>,
    invoker: Arc<dyn TaskInvoker>,
    options: RunOptions,
) -> Finished {
    let mut clock = Clock::new(options.virtual_clock);
    let mut info = info;
    info.start_time = clock.now();
    let input = input.into();
    let mut exec = Execution::new(machine, info, input.value, options.record_history);
    exec.input_text = input.text;
    let mut history = Vec::new();
    crate::runtime::telemetry::started(&exec);
    drive(&mut exec, invoker, &mut clock, &mut history).await;
    crate::runtime::telemetry::ran(&exec);
    Finished {
        execution: exec,
        history: options.record_history.then_some(history),
    }
}

/// Applies `event` and takes in what it did: its commands join `queue`, its events `log`.
fn apply(
    exec: &mut Execution,
    event: Event,
    queue: &mut VecDeque<Command>,
    log: &mut Vec<HistoryEvent>,
) {
    thread_local! {
        // One transition buffer per thread, drained after every step: no two vectors
        // allocated per event.
        static SCRATCH: std::cell::RefCell<Transition> = std::cell::RefCell::default();
    }
    SCRATCH.with_borrow_mut(|out| {
        // Empty even if an earlier step panicked half way.
        out.events.clear();
        out.commands.clear();
        step_into(exec, event, out);
        queue.extend(out.commands.drain(..));
        log.append(&mut out.events);
    });
}

/// Drives a started or new execution in memory until it ends; its history events are
/// appended to `history` (when the execution records them).
pub async fn drive(
    exec: &mut Execution,
    invoker: Arc<dyn TaskInvoker>,
    clock: &mut Clock,
    history: &mut Vec<HistoryEvent>,
) {
    // In memory nothing can fail to persist and nothing parks.
    let _ = drive_with(exec, invoker, clock, &mut InMemory, history).await;
}

/// Where a driver keeps an execution between steps.
pub(crate) trait Persist: Send {
    /// True when effects must wait for a checkpoint (a durable store).
    fn durable(&self) -> bool;

    /// Makes every event so far durable: `events` (those not yet committed, drained by a
    /// successful checkpoint) and the execution's snapshot; `due` is when a worker should
    /// drive the execution next if this one stops now.
    fn checkpoint(
        &mut self,
        exec: &mut Execution,
        events: &mut Vec<HistoryEvent>,
        due: Option<i64>,
        now: i64,
    ) -> impl std::future::Future<Output = Result<(), DriveStop>> + Send;

    /// Park the execution (stop driving it) when nothing is left but a timer due later than
    /// this many ms from now; `None`: never park, wait in process.
    fn park_after_ms(&self) -> Option<i64>;

    /// True when the driver should stop at the next checkpoint (shutdown).
    fn stop_requested(&self) -> bool {
        false
    }

    /// When the driver must have committed and let go (the end of a Lambda invocation), ms
    /// since the epoch; `None`: no limit.
    fn deadline(&self) -> Option<i64> {
        None
    }

    /// Callbacks delivered since the driver took the execution (or last asked), for tasks
    /// that may be answered while the driver waits on them (a `.sync` task's token); each is
    /// consumed by the next checkpoint. None where nothing can deliver them.
    fn inbox(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Vec<crate::store::InboxMessage>, DriveStop>> + Send
    {
        async { Ok(Vec::new()) }
    }
}

/// How often a driver waiting on a `.sync` task looks for a callback with its token.
const CALLBACK_POLL_MS: u64 = 250;

/// True when a task in flight has a token a callback may answer while its job runs (`.sync`,
/// `.sync:2`): the driver then looks for callbacks as it waits.
fn answerable_in_flight(exec: &Execution) -> bool {
    use crate::asl::resource::Pattern;
    exec.frames
        .iter()
        .flatten()
        .filter_map(|f| f.task.as_deref())
        .any(|t| {
            t.token.is_some()
                && matches!(t.resource.pattern(), Some(Pattern::Sync | Pattern::Sync2))
        })
}

/// Applies callbacks that arrived mid-drive: results end their task (stale ones are ignored
/// by `step`); heartbeats and start reports do not move a `.sync` task.
fn apply_callbacks(
    exec: &mut Execution,
    messages: Vec<crate::store::InboxMessage>,
    queue: &mut VecDeque<Command>,
    log: &mut Vec<HistoryEvent>,
    time: i64,
) {
    use crate::store::InboxKind;
    for message in messages {
        let result = match message.kind {
            InboxKind::Success { output } => Ok(output),
            InboxKind::Failure { error, cause } => Err(StatesError {
                error: error.unwrap_or_default(),
                cause,
                location: None,
            }),
            InboxKind::Heartbeat | InboxKind::Started { .. } => continue,
        };
        apply(
            exec,
            Event::TaskDone {
                frame: message.frame,
                wait: message.wait,
                result,
                time,
            },
            queue,
            log,
        );
    }
}

/// Why a driver stopped before the execution ended.
#[derive(Debug, thiserror::Error)]
pub enum DriveStop {
    /// Parked: waiting for a timer; a worker picks it up when due.
    #[error("parked until a timer is due")]
    Parked,
    /// Another worker owns the execution now.
    #[error("the execution was taken over by another worker")]
    Lost,
    /// Asked to stop (shutdown); the state so far is committed.
    #[error("stopped on request")]
    Stopped,
    /// The deadline came: the state so far is committed and the execution is due again at
    /// once (or at its next timer), for the next driver to go on.
    #[error("stopped at the deadline")]
    Deadline,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

struct InMemory;

impl Persist for InMemory {
    fn durable(&self) -> bool {
        false
    }

    async fn checkpoint(
        &mut self,
        _exec: &mut Execution,
        _events: &mut Vec<HistoryEvent>,
        _due: Option<i64>,
        _now: i64,
    ) -> Result<(), DriveStop> {
        Ok(())
    }

    fn park_after_ms(&self) -> Option<i64> {
        None
    }
}

/// Invokes a task, then gives its frame back the input the request may have borrowed (see
/// `Frame::input_lent`): the invoker has what it needs of the request once it answers.
fn invoke_giving_back(
    invoker: &dyn TaskInvoker,
    exec: &mut Execution,
    frame: FrameId,
    request: &mut crate::engine::task::TaskRequest,
) -> Invocation {
    let invocation = crate::runtime::telemetry::invoke(invoker, request);
    exec.give_back_input(frame, std::mem::take(&mut request.input));
    invocation
}

/// Events a durable driver processes at most between two checkpoints.
const MAX_EVENTS_PER_CHECKPOINT: usize = 4096;

/// Drives an execution until it ends, persisting through `persist`. A new execution is
/// started; a restored one resumes from its pending work. `log` holds the events not handed to
/// a checkpoint yet (in memory: the whole history); it may come with events already (those of
/// callbacks applied before the drive), which the first checkpoint commits.
pub(crate) async fn drive_with<P: Persist>(
    exec: &mut Execution,
    invoker: Arc<dyn TaskInvoker>,
    clock: &mut Clock,
    persist: &mut P,
    log: &mut Vec<HistoryEvent>,
) -> Result<(), DriveStop> {
    let mut queue: VecDeque<Command> = VecDeque::new();
    let mut ready: VecDeque<Ready> = VecDeque::new();
    let mut timers: BinaryHeap<Reverse<(i64, u64, TimerKind)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut pending: JoinSet<(FrameId, u64, Stage)> = JoinSet::new();
    // Requests of `.waitForTaskToken` tasks being sent (their answer is TaskSubmitted) and
    // activity tasks being queued (`None`: nothing to record); only a failure ends the task.
    let mut submissions: JoinSet<(FrameId, u64, Result<Option<Value>, StatesError>)> =
        JoinSet::new();
    // Effects wait here until what precedes them is durable.
    let mut effects: Vec<Command> = Vec::new();
    if let Some(secs) = exec.timeout_seconds() {
        // A redrive starts the execution's timeout again.
        let since = exec.redrive_time.unwrap_or(exec.info.start_time);
        let due = after_seconds(since, secs);
        timers.push(Reverse((due, seq, TimerKind::Execution)));
        seq += 1;
    }
    // This loop gives every lent task input back right after invoking the task.
    exec.lend_task_inputs = !persist.durable();
    if exec.last_event_id == 0 {
        apply(exec, Event::Start { time: clock.now() }, &mut queue, log);
    } else {
        queue.extend(exec.pending_work());
    }
    let durable = persist.durable();
    let mut since_checkpoint = log.len();
    let mut steps = 0u64;
    loop {
        while let Some(cmd) = queue.pop_front() {
            match cmd {
                Command::Run(f) => ready.push_back(Ready::Run(f)),
                other => effects.push(other),
            }
        }
        let ended = exec.status != Status::Running;
        let past_deadline = persist.deadline().is_some_and(|d| clock.now() >= d);
        let must_checkpoint = durable
            && (ended
                || ready.is_empty()
                || since_checkpoint >= MAX_EVENTS_PER_CHECKPOINT
                || past_deadline
                || persist.stop_requested());
        if must_checkpoint && (since_checkpoint > 0 || !effects.is_empty() || ended) {
            let now = clock.now();
            let next_timer = effects
                .iter()
                .filter_map(|c| match c {
                    Command::Timer { due, .. } => Some(*due),
                    _ => None,
                })
                .chain(timers.peek().map(|Reverse((due, _, _))| *due))
                .min();
            let busy = !ready.is_empty()
                || !pending.is_empty()
                || effects.iter().any(|c| matches!(c, Command::Invoke { .. }));
            let due = if busy { Some(now) } else { next_timer };
            persist.checkpoint(exec, log, due, now).await?;
            since_checkpoint = 0;
            if persist.stop_requested() && !ended {
                pending.abort_all();
                submissions.abort_all();
                return Err(DriveStop::Stopped);
            }
        }
        if past_deadline && !ended {
            // The checkpoint above committed everything, effects not yet carried out included
            // (the next driver rebuilds them from the snapshot); in-flight tasks are invoked
            // again by the next driver (at-least-once, same idempotency key).
            pending.abort_all();
            submissions.abort_all();
            return Err(DriveStop::Deadline);
        }
        // Effects wait until what precedes them is durable: with events not yet committed
        // (states still ready to run, so no checkpoint yet), they stay for the next one.
        let committed = !durable || since_checkpoint == 0;
        let runnable = if committed {
            std::mem::take(&mut effects)
        } else {
            Vec::new()
        };
        for cmd in runnable {
            match cmd {
                Command::Timer { frame, wait, due } => {
                    timers.push(Reverse((due, seq, TimerKind::Frame(frame, wait))));
                    seq += 1;
                }
                Command::Invoke {
                    frame,
                    wait,
                    mut request,
                } => match invoke_giving_back(&*invoker, exec, frame, &mut request) {
                    Invocation::Ready(r) => ready.push_back(Ready::TaskDone(frame, wait, r)),
                    Invocation::Submitted(fut) => {
                        submissions.spawn(async move { (frame, wait, fut.await.map(Some)) });
                        if let Some(due) = request.timeout_at {
                            timers.push(Reverse((due, seq, TimerKind::TaskTimeout(frame, wait))));
                            seq += 1;
                        }
                        if let Some(due) = request.heartbeat_at {
                            timers.push(Reverse((due, seq, TimerKind::Heartbeat(frame, wait))));
                            seq += 1;
                        }
                    }
                    Invocation::Queued(fut) => {
                        submissions.spawn(async move { (frame, wait, fut.await.map(|()| None)) });
                        if let Some(due) = request.timeout_at {
                            timers.push(Reverse((due, seq, TimerKind::TaskTimeout(frame, wait))));
                            seq += 1;
                        }
                        if let Some(due) = request.heartbeat_at {
                            timers.push(Reverse((due, seq, TimerKind::Heartbeat(frame, wait))));
                            seq += 1;
                        }
                    }
                    Invocation::External => {
                        // A callback ends the task; only its timeouts are ours to watch.
                        // Deadlines are absolute and travel with the request, so a worker
                        // that takes over keeps them (and heartbeats move them).
                        if let Some(due) = request.timeout_at {
                            timers.push(Reverse((due, seq, TimerKind::TaskTimeout(frame, wait))));
                            seq += 1;
                        }
                        if let Some(due) = request.heartbeat_at {
                            timers.push(Reverse((due, seq, TimerKind::Heartbeat(frame, wait))));
                            seq += 1;
                        }
                    }
                    Invocation::Pending(fut) => {
                        if let Some(t) = request.timeout_seconds {
                            let due = after_seconds(clock.now(), t);
                            timers.push(Reverse((due, seq, TimerKind::TaskTimeout(frame, wait))));
                            seq += 1;
                        }
                        pending.spawn(async move { (frame, wait, Stage::Done(fut.await)) });
                    }
                    Invocation::Staged(submit, then) => {
                        if let Some(t) = request.timeout_seconds {
                            let due = after_seconds(clock.now(), t);
                            timers.push(Reverse((due, seq, TimerKind::TaskTimeout(frame, wait))));
                            seq += 1;
                        }
                        pending.spawn(async move {
                            let stage = match submit.await {
                                Ok(answer) => Stage::Submitted(answer, then),
                                Err(e) => Stage::Done(Err(e)),
                            };
                            (frame, wait, stage)
                        });
                    }
                },
                Command::Run(f) => ready.push_back(Ready::Run(f)),
            }
        }
        if exec.status != Status::Running {
            pending.abort_all();
            submissions.abort_all();
            return Ok(());
        }
        if !ready.is_empty()
            && !clock.is_virtual()
            && timers
                .peek()
                .is_some_and(|Reverse((due, _, _))| *due <= clock.now())
        {
            // A timer came due while states kept running (a loop of pure states, or one
            // branch busy while another's task times out): it fires between their steps, so an
            // execution's timeout (an express one's five minutes) ends even an endless loop.
            let before = exec.last_event_id;
            fire_timer(exec, &mut timers, clock, &mut queue, log);
            since_checkpoint += (exec.last_event_id - before) as usize;
            continue;
        }
        if let Some(r) = ready.pop_front() {
            steps = steps.wrapping_add(1);
            if steps.is_multiple_of(YIELD_EVERY_STEPS) {
                // A run of ready steps never waits: let the other drives (and, on a shared
                // runtime, the API) have the thread now and then.
                tokio::task::yield_now().await;
            }
            let time = clock.now();
            let before = exec.last_event_id;
            match r {
                Ready::Run(frame) => apply(exec, Event::Run { frame, time }, &mut queue, log),
                Ready::TaskDone(frame, wait, result) => apply(
                    exec,
                    Event::TaskDone {
                        frame,
                        wait,
                        result,
                        time,
                    },
                    &mut queue,
                    log,
                ),
            }
            since_checkpoint += (exec.last_event_id - before) as usize;
            continue;
        }
        // Nothing ready. Requests of callback tasks being sent come first (they are short):
        // only their failure moves the execution.
        if let Some(done) = submissions.join_next().await {
            match done {
                Ok((frame, wait, Err(error))) => {
                    ready.push_back(Ready::TaskDone(frame, wait, Err(error)))
                }
                Ok((_, _, Ok(None))) | Err(_) => {}
                Ok((frame, wait, Ok(Some(output)))) => {
                    let before = exec.last_event_id;
                    let time = clock.now();
                    apply(
                        exec,
                        Event::TaskSubmitted {
                            frame,
                            wait,
                            output,
                            time,
                        },
                        &mut queue,
                        log,
                    );
                    since_checkpoint += (exec.last_event_id - before) as usize;
                }
            }
            continue;
        }
        // Wait for a task or the next timer.
        let next_timer = timers.peek().map(|Reverse((due, _, _))| *due);
        let awaiting_callback = pending.is_empty()
            && exec
                .frames
                .iter()
                .flatten()
                .any(|f| matches!(f.phase, crate::engine::execution::Phase::Task { .. }));
        let timer_far = |limit: i64| next_timer.is_none_or(|due| due - clock.now() > limit);
        if awaiting_callback && persist.park_after_ms().is_some_and(timer_far) {
            // Only a callback (or a timeout) can move this execution: commit when it is due
            // next and let it go; a callback makes it due at once.
            persist
                .checkpoint(exec, log, next_timer, clock.now())
                .await?;
            return Err(DriveStop::Parked);
        }
        if pending.is_empty() {
            let Some(due) = next_timer else {
                if awaiting_callback {
                    let time = clock.now();
                    apply(exec, Event::Stop {
                        error: Some(error::RUNTIME.to_string()),
                        cause: Some(
                            "a .waitForTaskToken or activity task waits for a callback (SendTaskSuccess) that cannot come here: run it under `stepfn serve` or a worker, or mock it".into(),
                        ),
                        time,
                    }, &mut queue, log);
                    since_checkpoint += 1;
                    continue;
                }
                // Nothing can happen any more; the execution cannot progress.
                let time = clock.now();
                apply(
                    exec,
                    Event::Stop {
                        error: Some(error::RUNTIME.to_string()),
                        cause: Some("the execution has no work left but did not end".into()),
                        time,
                    },
                    &mut queue,
                    log,
                );
                since_checkpoint += 1;
                continue;
            };
            if clock.is_virtual() {
                clock.advance_to(due);
            } else {
                let wait = due - clock.now();
                if let Some(limit) = persist.park_after_ms() {
                    if wait > limit {
                        // Everything is committed (the checkpoint above ran with nothing
                        // ready); a worker resumes the execution when the timer is due.
                        return Err(DriveStop::Parked);
                    }
                }
                if persist.deadline().is_some_and(|d| due > d) {
                    // The timer ends after the deadline: the next driver waits for it.
                    return Err(DriveStop::Deadline);
                }
                if wait > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
                }
            }
            let before = exec.last_event_id;
            fire_timer(exec, &mut timers, clock, &mut queue, log);
            since_checkpoint += (exec.last_event_id - before) as usize;
            continue;
        }
        if clock.is_virtual() {
            // Tasks in flight take real time; timers only fire once they are all done.
            if let Some(Ok((frame, wait, stage))) = pending.join_next().await {
                since_checkpoint += stage_done(
                    exec,
                    &mut pending,
                    &mut ready,
                    clock,
                    (frame, wait, stage),
                    (&mut queue, log),
                );
            }
            continue;
        }
        let sleep = match next_timer {
            Some(due) => (due - clock.now()).max(0) as u64,
            None => u64::MAX / 4,
        };
        let until_deadline = match persist.deadline() {
            Some(d) => (d - clock.now()).max(0) as u64,
            None => u64::MAX / 4,
        };
        let poll = durable && answerable_in_flight(exec);
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(CALLBACK_POLL_MS)), if poll && CALLBACK_POLL_MS < sleep.min(until_deadline) => {
                let messages = persist.inbox().await?;
                let before = exec.last_event_id;
                apply_callbacks(exec, messages, &mut queue, log, clock.now());
                since_checkpoint += (exec.last_event_id - before) as usize;
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(until_deadline)), if until_deadline < sleep => {
                // Tasks still in flight: everything up to their invocation is committed, and
                // the next driver invokes them again (at-least-once, same idempotency key).
                pending.abort_all();
                submissions.abort_all();
                return Err(DriveStop::Deadline);
            }
            done = pending.join_next() => {
                if let Some(Ok((frame, wait, stage))) = done {
                    since_checkpoint +=
                        stage_done(exec, &mut pending, &mut ready, clock, (frame, wait, stage), (&mut queue, log));
                }
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(sleep)) => {
                let before = exec.last_event_id;
                fire_timer(exec, &mut timers, clock, &mut queue, log);
                since_checkpoint += (exec.last_event_id - before) as usize;
            }
        }
    }
}

/// Where a task in flight got to.
enum Stage {
    /// Its result.
    Done(Result<Value, StatesError>),
    /// Its job was submitted (this answer); the continuation waits for the result.
    Submitted(Value, crate::tasks::Continuation),
}

/// Takes in a task's stage: a result is ready; a submission is recorded (TaskSubmitted) and
/// its continuation starts. Returns the events written.
fn stage_done(
    exec: &mut Execution,
    pending: &mut JoinSet<(FrameId, u64, Stage)>,
    ready: &mut VecDeque<Ready>,
    clock: &Clock,
    (frame, wait, stage): (FrameId, u64, Stage),
    (queue, log): (&mut VecDeque<Command>, &mut Vec<HistoryEvent>),
) -> usize {
    match stage {
        Stage::Done(result) => {
            ready.push_back(Ready::TaskDone(frame, wait, result));
            0
        }
        Stage::Submitted(answer, then) => {
            let before = exec.last_event_id;
            let fut = then(answer.clone());
            apply(
                exec,
                Event::TaskSubmitted {
                    frame,
                    wait,
                    output: answer,
                    time: clock.now(),
                },
                queue,
                log,
            );
            pending.spawn(async move { (frame, wait, Stage::Done(fut.await)) });
            (exec.last_event_id - before) as usize
        }
    }
}

fn fire_timer(
    exec: &mut Execution,
    timers: &mut BinaryHeap<Reverse<(i64, u64, TimerKind)>>,
    clock: &Clock,
    queue: &mut VecDeque<Command>,
    log: &mut Vec<HistoryEvent>,
) {
    let Some(Reverse((_, _, kind))) = timers.pop() else {
        return;
    };
    let time = clock.now();
    match kind {
        TimerKind::Frame(frame, wait) => {
            apply(exec, Event::Timer { frame, wait, time }, queue, log)
        }
        TimerKind::Execution => apply(exec, Event::ExecutionTimeout { time }, queue, log),
        TimerKind::Heartbeat(frame, wait) => apply(
            exec,
            Event::TaskDone {
                frame,
                wait,
                // AWS records a missed heartbeat as a timeout: States.Timeout, no cause.
                result: Err(StatesError::with_cause(error::TIMEOUT, None)),
                time,
            },
            queue,
            log,
        ),
        TimerKind::TaskTimeout(frame, wait) => apply(
            exec,
            Event::TaskDone {
                frame,
                wait,
                result: Err(StatesError::with_cause(error::TIMEOUT, None)),
                time,
            },
            queue,
            log,
        ),
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
