//! The durable commands behind the CLI (`start`, `worker`, `run --store dynamodb`) over
//! either store, and the error they map to exit codes.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value;

use crate::runtime::durable::{
    drive_execution, start_execution, DriveError, DriveOutcome, DurableOptions, MachineCache,
    StartError,
};
use crate::runtime::worker::{run_worker, WorkerStats};
use crate::store::{AnyStore, ExecutionRecord, MachineRecord, Store, StoreError};
use crate::tasks::TaskInvoker;

/// A command failure, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad input from the user (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// The store failed (exit 1).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Driving failed (exit 1).
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// Starting failed (exit 1).
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Fails unless `config` names a store that outlives the process.
///
/// # Errors
/// [`CommandError::Invalid`] for the memory store.
pub fn require_durable(
    config: &crate::store::StoreConfig,
    command: &str,
) -> Result<(), CommandError> {
    if config.is_durable() {
        Ok(())
    } else {
        Err(CommandError::Invalid(format!(
            "`stepfn {command}` needs a store that outlives the process: add --store dynamodb --table NAME"
        )))
    }
}

/// The state machine record for a definition registered under `name`.
pub fn machine_record(name: &str, definition: Value, now: i64) -> MachineRecord {
    MachineRecord {
        arn: format!("arn:aws:states:us-east-1:111111111111:stateMachine:{name}"),
        name: name.to_string(),
        definition,
        kind: "STANDARD".into(),
        role_arn: "arn:aws:iam::111111111111:role/stepfn".into(),
        created: now,
        tags: Default::default(),
        definition_text: None,
    }
}

/// `stepfn start`: stores the machine and a new execution; returns its ARN and start date.
///
/// # Errors
/// When the name is taken with another input, or the store fails.
pub async fn start(
    store: &AnyStore,
    machine: &MachineRecord,
    name: &str,
    input: Value,
    now: i64,
) -> Result<ExecutionRecord, CommandError> {
    store.put_machine(machine).await?;
    Ok(start_execution(store, machine, name, input, now).await?)
}

/// `stepfn worker`.
///
/// # Errors
/// As [`run_worker`].
pub async fn worker(
    store: AnyStore,
    invoker: Arc<dyn TaskInvoker>,
    options: DurableOptions,
    concurrency: usize,
    shutdown: Arc<AtomicBool>,
    idle_exit_ms: Option<i64>,
) -> Result<WorkerStats, CommandError> {
    Ok(run_worker(store, invoker, options, concurrency, shutdown, idle_exit_ms).await?)
}

/// Drives one execution to its end in this process (`stepfn run --store dynamodb`).
///
/// # Errors
/// When the store fails or another worker holds the execution.
pub async fn run_durably(
    store: &AnyStore,
    arn: &str,
    invoker: Arc<dyn TaskInvoker>,
    options: &DurableOptions,
) -> Result<ExecutionRecord, CommandError> {
    let machines = MachineCache::default();
    loop {
        match drive_execution(store, arn, Arc::clone(&invoker), &machines, options, None).await? {
            DriveOutcome::Finished(_) => break,
            DriveOutcome::Busy | DriveOutcome::Lost => {
                return Err(CommandError::Invalid(format!(
                    "execution {arn} is being driven by another worker"
                )))
            }
            DriveOutcome::Parked | DriveOutcome::Stopped | DriveOutcome::Yielded => continue,
        }
    }
    store
        .get_execution(arn)
        .await?
        .ok_or_else(|| CommandError::Store(StoreError::NotFound(arn.to_string())))
}
