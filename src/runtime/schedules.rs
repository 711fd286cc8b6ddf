//! Firing schedules: each worker (and `serve`, and the Lambda function's sweep) looks at the
//! stored schedules about once a second and starts the executions of their due slots; and a
//! backfill starts the executions of past slots on request.
//!
//! A slot fires exactly once, whoever fires it and however often: its execution is named after
//! the schedule and the slot ([`slot::execution_name`]), and the store keeps one execution per
//! name, so a second worker, a retry after a crash between the start and the mark, or a backfill
//! over fired slots starts nothing new. The schedule's document then records the slot as fired
//! with a compare-and-swap on its version, so workers do not all redo the same starts: the one
//! that loses the race reads the schedule again at its next look.

use serde_json::Value;

use crate::engine::execution::Status;
use crate::runtime::arn;
use crate::runtime::clock::real_now;
use crate::runtime::driver::Input;
use crate::runtime::machines::{create_execution_of, new_execution, start_target, StartError};
use crate::scheduler::record::{schedule_key, ScheduleRecord, SCHEDULE_KIND};
use crate::scheduler::slot::{self, Decision};
use crate::store::{Expect, Resource, Store, StoreError};

/// How many slots one look fires per schedule at most (the rest at the next look).
const SLOTS_PER_LOOK: usize = 100;

/// What one look at the schedules did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fired {
    /// Executions started (ARNs), oldest slot first.
    pub started: Vec<String>,
    /// Slots skipped by an overlap policy.
    pub skipped: usize,
    /// Slots whose execution could not start (no such state machine, bad input); logged.
    pub failed: usize,
    /// Schedules deleted after their last slot (`ActionAfterCompletion: DELETE`).
    pub deleted: Vec<String>,
}

/// Why a slot's execution did not start.
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    /// The target's input, context attributes replaced, is not JSON.
    #[error("the target's Input is not JSON: {0}")]
    Input(String),
    /// The target state machine (version, alias) is not stored.
    #[error("State Machine Does Not Exist: '{0}'")]
    NoMachine(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether an execution started: `false` when the slot's execution already existed.
async fn start_slot<S: Store>(
    store: &S,
    schedule: &ScheduleRecord,
    slot: i64,
    input_text: String,
    now: i64,
) -> Result<(String, bool), SlotError> {
    let target = &schedule.target;
    let name = slot::execution_name(&schedule.group, &schedule.name, slot);
    let value: Value =
        serde_json::from_str(&input_text).map_err(|e| SlotError::Input(e.to_string()))?;
    let Some(found) = start_target(store, &target.arn).await? else {
        return Err(SlotError::NoMachine(target.arn.clone()));
    };
    let arn = arn::execution(found.machine.machine_arn(), &name);
    if store.get_execution(&arn).await?.is_some() {
        return Ok((arn, false));
    }
    let input = Input {
        value,
        text: Some(input_text.into()),
    };
    let record = new_execution(
        &found.machine,
        found.alias.as_deref(),
        &name,
        input,
        now,
        None,
    );
    match create_execution_of(store, record).await {
        Ok((record, created)) => Ok((record.info.arn, created)),
        // Started in between by another worker (or closed already): the slot has fired.
        Err(StartError::AlreadyExists(arn)) => Ok((arn, false)),
        Err(StartError::NoMachine(arn)) => Err(SlotError::NoMachine(arn)),
        Err(StartError::Store(e)) => Err(e.into()),
    }
}

/// Starts the executions of every enabled schedule's due slots at `now` (ms since the
/// epoch), moves each schedule's firing state on, and deletes the schedules that are done
/// and say so. A schedule another worker moved on in between is left to the next look.
///
/// # Errors
/// A store failure listing the schedules; a failure on one schedule is logged and the others
/// go on.
pub async fn fire_due<S: Store>(store: &S, now: i64) -> Result<Fired, StoreError> {
    let mut fired = Fired::default();
    for resource in store.list_resources(SCHEDULE_KIND).await? {
        if let Err(e) = fire_one(store, resource, now, &mut fired).await {
            tracing::warn!(error = %e, "schedules: cannot fire a schedule; next look retries");
        }
    }
    Ok(fired)
}

async fn fire_one<S: Store>(
    store: &S,
    resource: Resource,
    now: i64,
    fired: &mut Fired,
) -> Result<(), StoreError> {
    let mut record: ScheduleRecord = match serde_json::from_value(resource.body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(key = %resource.key, error = %e, "schedules: unreadable schedule");
            return Ok(());
        }
    };
    if !record.enabled() {
        return Ok(());
    }
    let schedule = match record.schedule() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(schedule = %record.arn, error = %e, "schedules: bad expression");
            return Ok(());
        }
    };
    let before = record.clone();
    let mut running = running_execution(store, &record).await?;
    // A buffered slot starts once the execution it waited for ended.
    if let (Some(slot), false) = (record.buffered, running) {
        record.buffered = None;
        start_into(store, &mut record, slot, fired).await?;
        running = true;
    }
    let due = slot::due_slots(
        &schedule,
        record.fired,
        record.since,
        now,
        record.window_ms(),
        record.catch_up(),
        SLOTS_PER_LOOK,
    );
    let overlap = record.overlap();
    for slot in due {
        match overlap.decide(usize::from(running), usize::from(record.buffered.is_some())) {
            Decision::Start => {
                if start_into(store, &mut record, slot, fired).await? {
                    running = true;
                }
            }
            Decision::Skip => fired.skipped += 1,
            Decision::Buffer => record.buffered = Some(slot),
        }
        record.fired = Some(slot);
    }
    let last = record
        .fired
        .is_some_and(|f| schedule.next_after(f).is_none())
        || (record.fired.is_none() && schedule.next_after(record.since).is_none());
    let done = last && record.buffered.is_none();
    let key = schedule_key(&record.group, &record.name);
    let mut version = resource.version;
    if record != before {
        let body = serde_json::to_value(&record).map_err(|e| StoreError::Corrupt {
            what: format!("schedule {key}"),
            reason: e.to_string(),
        })?;
        match store
            .put_resource(SCHEDULE_KIND, &key, &body, Expect::Version(version))
            .await?
        {
            Some(v) => version = v,
            // Another worker (or an UpdateSchedule) moved it on; its slots started by name.
            None => return Ok(()),
        }
    }
    if done
        && record.deletes_when_done()
        && store
            .delete_resource(SCHEDULE_KIND, &key, Expect::Version(version))
            .await?
    {
        fired.deleted.push(record.arn.clone());
    }
    Ok(())
}

/// Starts slot `slot`'s execution and notes it in `record`; true when it runs (started now or
/// before); a slot that cannot start is counted and logged, as EventBridge Scheduler drops an
/// invocation that fails for good.
async fn start_into<S: Store>(
    store: &S,
    record: &mut ScheduleRecord,
    slot: i64,
    fired: &mut Fired,
) -> Result<bool, StoreError> {
    let name = slot::execution_name(&record.group, &record.name, slot);
    let input = slot::slot_input(record.target.input.as_deref(), slot, &record.arn, &name, 1);
    // `now` is the schedule clock's, which may run ahead of the wall clock; the execution
    // starts (and is due to its drivers) by the wall clock, as every other execution.
    match start_slot(store, record, slot, input, real_now()).await {
        Ok((arn, started)) => {
            if started {
                fired.started.push(arn.clone());
            }
            record.last_execution = Some(arn);
            Ok(true)
        }
        Err(SlotError::Store(e)) => Err(e),
        Err(e) => {
            fired.failed += 1;
            tracing::warn!(schedule = %record.arn, slot, error = %e, "schedules: slot not started");
            Ok(false)
        }
    }
}

/// Whether the execution the schedule started last still runs.
async fn running_execution<S: Store>(
    store: &S,
    record: &ScheduleRecord,
) -> Result<bool, StoreError> {
    let Some(arn) = &record.last_execution else {
        return Ok(false);
    };
    Ok(store
        .get_execution(arn)
        .await?
        .is_some_and(|e| e.status == Status::Running))
}

/// The time schedules fire by: the wall clock; or, for tests and demonstrations, a clock that
/// `STEPFN_SCHEDULER_CLOCK` sets (`{"at": ISO 8601, "real": ms since the epoch, "speed": N}`:
/// at wall-clock time `real` it reads `at`, and it runs `speed` times as fast), shared by every
/// process given the same value. Only the firing of schedules reads it; executions keep the
/// wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleClock {
    at: i64,
    real: i64,
    speed: f64,
}

/// The environment variable that sets a [`ScheduleClock`].
pub const CLOCK_VARIABLE: &str = "STEPFN_SCHEDULER_CLOCK";

impl ScheduleClock {
    /// The wall clock.
    pub fn wall() -> ScheduleClock {
        ScheduleClock {
            at: 0,
            real: 0,
            speed: 1.0,
        }
    }

    /// The clock `STEPFN_SCHEDULER_CLOCK` sets, else the wall clock.
    ///
    /// # Errors
    /// A value that is not `{"at": ISO 8601, "real": ms, "speed": N}` with a positive speed.
    pub fn from_env() -> Result<ScheduleClock, String> {
        match std::env::var(CLOCK_VARIABLE) {
            Ok(text) => ScheduleClock::parse(&text),
            Err(_) => Ok(ScheduleClock::wall()),
        }
    }

    /// The clock of a `STEPFN_SCHEDULER_CLOCK` value.
    ///
    /// # Errors
    /// As [`ScheduleClock::from_env`].
    pub fn parse(text: &str) -> Result<ScheduleClock, String> {
        let bad = |why: &str| {
            format!("{CLOCK_VARIABLE}: {why}; expected {{\"at\": ISO 8601, \"real\": ms since the epoch, \"speed\": N}}")
        };
        let v: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let at = v["at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .ok_or_else(|| bad("/at is not an ISO 8601 time"))?
            .timestamp_millis();
        let real = v["real"]
            .as_i64()
            .ok_or_else(|| bad("/real is not a number"))?;
        let speed = v["speed"]
            .as_f64()
            .filter(|s| *s > 0.0 && s.is_finite())
            .ok_or_else(|| bad("/speed is not a positive number"))?;
        Ok(ScheduleClock { at, real, speed })
    }

    /// Now, ms since the epoch.
    pub fn now(&self) -> i64 {
        let wall = crate::runtime::clock::real_now();
        if self.real == 0 {
            return wall;
        }
        self.at + ((wall - self.real) as f64 * self.speed) as i64
    }
}

/// How often a worker looks at the schedules, in wall-clock time.
pub const LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(1000);

/// Fires schedules every [`LOOK_EVERY`] until `shutdown` is set: what each worker and
/// `serve` run beside their drives.
pub async fn run_sweeper<S: Store>(
    store: S,
    clock: ScheduleClock,
    shutdown: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    while !shutdown.load(std::sync::atomic::Ordering::Relaxed) {
        match fire_due(&store, clock.now()).await {
            Ok(f) if !f.started.is_empty() || !f.deleted.is_empty() => {
                tracing::info!(
                    started = f.started.len(),
                    skipped = f.skipped,
                    deleted = f.deleted.len(),
                    "schedules fired"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "schedules: cannot list; next look retries"),
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// What a backfill did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Backfilled {
    /// The slots in the range.
    pub slots: usize,
    /// Executions started.
    pub started: Vec<String>,
    /// Slots whose execution existed already (fired, or backfilled before).
    pub existing: usize,
}

/// Why a backfill failed.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// No such schedule.
    #[error("Schedule {0} does not exist.")]
    NoSchedule(String),
    /// The range or the schedule is not valid.
    #[error("{0}")]
    Invalid(String),
    /// A slot's execution cannot start.
    #[error(transparent)]
    Slot(#[from] SlotError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The largest number of slots one backfill takes.
pub const BACKFILL_MAX_SLOTS: usize = 100_000;

/// Starts one execution per slot of schedule `name` in `group` between `from` and `to`
/// (inclusive, ms since the epoch) whose execution does not exist yet, at most
/// `max_concurrency` of them running at once (waiting for some to end before starting more;
/// 0: no limit). Each gets the input the slot would have had when it fired.
///
/// # Errors
/// No such schedule, a range that is empty or backwards, more than [`BACKFILL_MAX_SLOTS`]
/// slots, a target that does not exist, a store failure.
pub async fn backfill<S: Store>(
    store: &S,
    group: &str,
    name: &str,
    from: i64,
    to: i64,
    max_concurrency: usize,
    now: impl Fn() -> i64,
) -> Result<Backfilled, BackfillError> {
    if to < from {
        return Err(BackfillError::Invalid(
            "--to must not be before --from".into(),
        ));
    }
    let key = schedule_key(group, name);
    let resource = store
        .get_resource(SCHEDULE_KIND, &key)
        .await?
        .ok_or_else(|| BackfillError::NoSchedule(name.to_string()))?;
    let record: ScheduleRecord = serde_json::from_value(resource.body)
        .map_err(|e| BackfillError::Invalid(format!("schedule {key} is unreadable: {e}")))?;
    let schedule = record
        .schedule()
        .map_err(|e| BackfillError::Invalid(e.to_string()))?;
    let slots = schedule.slots(from - 1, to, BACKFILL_MAX_SLOTS + 1);
    if slots.len() > BACKFILL_MAX_SLOTS {
        return Err(BackfillError::Invalid(format!(
            "the range holds more than {BACKFILL_MAX_SLOTS} slots: backfill it in parts"
        )));
    }
    let mut done = Backfilled {
        slots: slots.len(),
        ..Backfilled::default()
    };
    let mut running: Vec<String> = Vec::new();
    for slot in slots {
        while max_concurrency > 0 && running.len() >= max_concurrency {
            let mut still = Vec::with_capacity(running.len());
            for arn in running.drain(..) {
                let status = store.get_execution(&arn).await?.map(|e| e.status);
                if status == Some(Status::Running) {
                    still.push(arn);
                }
            }
            running = still;
            if running.len() >= max_concurrency {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        let execution = slot::execution_name(&record.group, &record.name, slot);
        let input = slot::slot_input(
            record.target.input.as_deref(),
            slot,
            &record.arn,
            &execution,
            1,
        );
        let (arn, started) = start_slot(store, &record, slot, input, now()).await?;
        if started {
            running.push(arn.clone());
            done.started.push(arn);
        } else {
            done.existing += 1;
        }
    }
    Ok(done)
}

#[cfg(test)]
#[path = "schedules_tests.rs"]
mod tests;
