//! The worker loop: drives due executions of a store, a bounded number at once, until asked
//! to stop. `stepfn worker` and `stepfn serve` run it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::runtime::clock::real_now;
use crate::runtime::durable::{
    drive_execution, DriveError, DriveOutcome, DurableOptions, MachineCache,
};
use crate::runtime::telemetry::PARKED_EVERY;
use crate::store::{Scheduling, Store};
use crate::tasks::TaskInvoker;

/// What a worker did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Executions driven to their end.
    pub finished: u64,
    /// Drives that parked on a timer.
    pub parked: u64,
    /// Drives that lost their lease or found it held.
    pub contended: u64,
    /// Drives that failed on a store error (left to be resumed).
    pub failed: u64,
}

/// Drives due executions until `shutdown` is set (or, with `idle_exit_ms`, until nothing
/// has been due for that long). Store failures are logged and retried after a pause, so a
/// worker rides out an outage of its store.
///
/// # Errors
/// None so far: failures are counted in the stats and logged; the signature leaves room.
pub async fn run_worker<S: Store + Clone>(
    store: S,
    invoker: Arc<dyn TaskInvoker>,
    options: DurableOptions,
    concurrency: usize,
    shutdown: Arc<AtomicBool>,
    idle_exit_ms: Option<i64>,
) -> Result<WorkerStats, DriveError> {
    let fifo = Scheduling::Fifo;
    run_worker_with(
        store,
        invoker,
        options,
        concurrency,
        shutdown,
        idle_exit_ms,
        fifo,
    )
    .await
}

/// As [`run_worker`], taking due executions in the order `scheduling` says.
///
/// # Errors
/// As [`run_worker`].
pub async fn run_worker_with<S: Store + Clone>(
    store: S,
    invoker: Arc<dyn TaskInvoker>,
    options: DurableOptions,
    concurrency: usize,
    shutdown: Arc<AtomicBool>,
    idle_exit_ms: Option<i64>,
    scheduling: Scheduling,
) -> Result<WorkerStats, DriveError> {
    let machines = MachineCache::default();
    let mut stats = WorkerStats::default();
    let mut running: tokio::task::JoinSet<(String, Result<DriveOutcome, DriveError>)> =
        tokio::task::JoinSet::new();
    let mut in_flight: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut idle_since = real_now();
    // Counted at once, then every PARKED_EVERY.
    let mut last_count = std::time::Instant::now()
        .checked_sub(PARKED_EVERY)
        .unwrap_or_else(std::time::Instant::now);
    let concurrency = concurrency.max(1);
    loop {
        while let Some(done) = running.try_join_next() {
            let Ok((arn, result)) = done else { continue };
            in_flight.remove(&arn);
            match result {
                Ok(DriveOutcome::Finished(_)) => stats.finished += 1,
                Ok(DriveOutcome::Parked | DriveOutcome::Stopped | DriveOutcome::Yielded) => {
                    stats.parked += 1
                }
                Ok(DriveOutcome::Busy) | Ok(DriveOutcome::Lost) => stats.contended += 1,
                Err(e) => {
                    stats.failed += 1;
                    tracing::warn!(execution = %arn, error = %e, "drive failed; will retry");
                }
            }
        }
        let stopping = shutdown.load(Ordering::Relaxed);
        if stopping {
            while let Some(done) = running.join_next().await {
                if let Ok((_, Ok(DriveOutcome::Finished(_)))) = done {
                    stats.finished += 1;
                }
            }
            return Ok(stats);
        }
        let now = real_now();
        if crate::runtime::telemetry::recording() && last_count.elapsed() >= PARKED_EVERY {
            last_count = std::time::Instant::now();
            match store.count_parked(now).await {
                Ok(count) => crate::runtime::telemetry::parked(count),
                Err(e) => tracing::warn!(error = %e, "cannot count parked executions"),
            }
        }
        let free = concurrency.saturating_sub(running.len());
        let mut started = 0;
        // FIFO asks past the executions it drives (they may still be listed); a fair or
        // priority order asks for what it can start, so that what it is handed counts.
        let ask = match scheduling {
            Scheduling::Fifo => free + in_flight.len(),
            _ => free,
        };
        if free > 0 {
            match store.due_queue(now, ask, scheduling).await {
                Ok(due) => {
                    for arn in due {
                        if started >= free || in_flight.contains(&arn) {
                            continue;
                        }
                        in_flight.insert(arn.clone());
                        started += 1;
                        let store = store.clone();
                        let invoker = Arc::clone(&invoker);
                        let machines = machines.clone();
                        let options = options.clone();
                        let shutdown = Arc::clone(&shutdown);
                        running.spawn(async move {
                            let r = drive_execution(
                                &store,
                                &arn,
                                invoker,
                                &machines,
                                &options,
                                Some(&shutdown),
                            )
                            .await;
                            (arn, r)
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list due executions; retrying in 1 s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        if started == 0 && running.is_empty() {
            if let Some(limit) = idle_exit_ms {
                if now - idle_since > limit {
                    return Ok(stats);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        } else {
            idle_since = now;
            if started == 0 {
                // Let drives progress before looking for new work again.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}
