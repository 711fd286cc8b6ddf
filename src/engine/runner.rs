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
use crate::engine::state::{Command, Execution, ExecutionInfo, FrameId, Status};
use crate::engine::step::Event;
use crate::tasks::{Invocation, TaskInvoker};

/// How to drive an execution.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Skip waits and retry delays instantly.
    pub virtual_clock: bool,
    /// Keep the full history with event details.
    pub record_history: bool,
}

/// A clock in ms since the epoch.
#[derive(Debug, Clone)]
pub struct Clock {
    virtual_now: Option<i64>,
}

impl Clock {
    /// Real time, or a virtual clock starting now.
    pub fn new(virtual_clock: bool) -> Self {
        Clock {
            virtual_now: virtual_clock.then(real_now),
        }
    }

    /// Now.
    pub fn now(&self) -> i64 {
        self.virtual_now.unwrap_or_else(real_now)
    }

    fn is_virtual(&self) -> bool {
        self.virtual_now.is_some()
    }

    fn advance_to(&mut self, t: i64) {
        if let Some(now) = self.virtual_now.as_mut() {
            *now = (*now).max(t);
        }
    }
}

fn real_now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Frame(FrameId),
    TaskTimeout(FrameId, u32),
    Execution,
}

enum Ready {
    Run(FrameId),
    TaskDone(FrameId, u32, Result<Value, StatesError>),
}

/// Runs a new execution of `machine` on `input` to its end and returns it.
pub async fn run(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
    options: RunOptions,
) -> Execution {
    let mut clock = Clock::new(options.virtual_clock);
    let mut info = info;
    info.start_time = clock.now();
    let mut exec = Execution::new(machine, info, input, options.record_history);
    drive(&mut exec, invoker, &mut clock).await;
    exec
}

/// Drives a started or new execution until it ends.
pub async fn drive(exec: &mut Execution, invoker: Arc<dyn TaskInvoker>, clock: &mut Clock) {
    let mut ready: VecDeque<Ready> = VecDeque::new();
    let mut timers: BinaryHeap<Reverse<(i64, u64, TimerKind)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut pending: JoinSet<(FrameId, u32, Result<Value, StatesError>)> = JoinSet::new();
    if exec.last_event_id == 0 {
        if let Some(secs) = exec.machine.timeout_seconds {
            let due = exec.info.start_time + (secs as i64) * 1000;
            timers.push(Reverse((due, seq, TimerKind::Execution)));
            seq += 1;
        }
        exec.step(Event::Start { time: clock.now() });
    }
    loop {
        while let Some(cmd) = exec.commands.pop_front() {
            match cmd {
                Command::Run(f) => ready.push_back(Ready::Run(f)),
                Command::Timer { frame, due } => {
                    timers.push(Reverse((due, seq, TimerKind::Frame(frame))));
                    seq += 1;
                }
                Command::Invoke { frame, request } => {
                    let attempt = request.attempt;
                    match invoker.invoke(&request) {
                        Invocation::Ready(r) => ready.push_back(Ready::TaskDone(frame, attempt, r)),
                        Invocation::Pending(fut) => {
                            if let Some(t) = request.timeout_seconds {
                                let due = clock.now() + (t as i64) * 1000;
                                timers.push(Reverse((
                                    due,
                                    seq,
                                    TimerKind::TaskTimeout(frame, attempt),
                                )));
                                seq += 1;
                            }
                            pending.spawn(async move { (frame, attempt, fut.await) });
                        }
                    }
                }
            }
        }
        if exec.status != Status::Running {
            pending.abort_all();
            return;
        }
        if let Some(r) = ready.pop_front() {
            let time = clock.now();
            match r {
                Ready::Run(frame) => exec.step(Event::Run { frame, time }),
                Ready::TaskDone(frame, _attempt, result) => exec.step(Event::TaskDone {
                    frame,
                    result,
                    time,
                }),
            }
            continue;
        }
        // Nothing ready: wait for a task or the next timer.
        let next_timer = timers.peek().map(|Reverse((due, _, _))| *due);
        if pending.is_empty() {
            let Some(due) = next_timer else {
                // Nothing can happen any more; the execution cannot progress.
                let time = clock.now();
                exec.step(Event::Stop {
                    error: Some(error::RUNTIME.to_string()),
                    cause: Some("the execution has no work left but did not end".into()),
                    time,
                });
                return;
            };
            if clock.is_virtual() {
                clock.advance_to(due);
            } else {
                let wait = due - clock.now();
                if wait > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
                }
            }
            fire_timer(exec, &mut timers, clock);
            continue;
        }
        if clock.is_virtual() {
            // Tasks in flight take real time; timers only fire once they are all done, unless a
            // task timeout is due first in task time, which a virtual clock cannot tell.
            if let Some(Ok((frame, attempt, result))) = pending.join_next().await {
                ready.push_back(Ready::TaskDone(frame, attempt, result));
            }
            continue;
        }
        let sleep = match next_timer {
            Some(due) => (due - clock.now()).max(0) as u64,
            None => u64::MAX / 4,
        };
        tokio::select! {
            done = pending.join_next() => {
                if let Some(Ok((frame, attempt, result))) = done {
                    ready.push_back(Ready::TaskDone(frame, attempt, result));
                }
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(sleep)) => {
                fire_timer(exec, &mut timers, clock);
            }
        }
    }
}

fn fire_timer(
    exec: &mut Execution,
    timers: &mut BinaryHeap<Reverse<(i64, u64, TimerKind)>>,
    clock: &Clock,
) {
    let Some(Reverse((_, _, kind))) = timers.pop() else {
        return;
    };
    let time = clock.now();
    match kind {
        TimerKind::Frame(frame) => exec.step(Event::Timer { frame, time }),
        TimerKind::Execution => exec.step(Event::ExecutionTimeout { time }),
        TimerKind::TaskTimeout(frame, _attempt) => exec.step(Event::TaskDone {
            frame,
            result: Err(StatesError::new(error::TIMEOUT, "Task timed out.")),
            time,
        }),
    }
}
