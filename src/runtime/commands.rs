//! What the CLI's commands do (`run`, `start`, `worker`), over either store, and the error
//! they map to exit codes. The CLI reads files and prints; these take values.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value;

use crate::asl::error::StatesError;
use crate::asl::load::load;
use crate::engine::history::HistoryEvent;
use crate::engine::Status;
use crate::runtime::arn;
use crate::runtime::clock::real_now;
use crate::runtime::driver::RunOptions;
use crate::runtime::durable::{
    drive_execution, start_execution, DriveError, DriveOutcome, DurableOptions, MachineCache,
    StartError,
};
use crate::runtime::invokers::{Invokers, Mocks, Setup};
use crate::runtime::local::{run_local, LocalRun};
use crate::runtime::worker::{run_worker_with, WorkerStats};
use crate::store::{
    AnyStore, ExecutionRecord, MachineRecord, Scheduling, Store, StoreConfig, StoreError,
};
use crate::tasks::integrations::Integrations;
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
pub fn require_durable(config: &StoreConfig, command: &str) -> Result<(), CommandError> {
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
        arn: arn::state_machine(name),
        name: name.to_string(),
        definition,
        kind: "STANDARD".into(),
        role_arn: arn::default_role(),
        created: now,
        tags: Default::default(),
        definition_text: None,
        config: Default::default(),
        version: None,
        published: Default::default(),
    }
}

/// Checks a name the user gave for a state machine or an execution by the rule StartExecution
/// and CreateStateMachine apply ([`arn::is_valid_name`]); `what` names where it came from
/// (`--name`).
///
/// # Errors
/// [`CommandError::Invalid`] naming the option, the name and the rule.
pub fn check_name(what: &str, name: &str) -> Result<(), CommandError> {
    if arn::is_valid_name(name) {
        return Ok(());
    }
    let shown = serde_json::to_string(name).unwrap_or_else(|_| format!("{name:?}"));
    Err(CommandError::Invalid(format!(
        "{what} {shown}: Invalid Name (Step Functions names are {})",
        arn::NAME_RULE
    )))
}

/// `stepfn start`: stores the machine and a new execution; returns its ARN and start date.
///
/// # Errors
/// When a name breaks Step Functions' rule (nothing is stored then), the name is taken with
/// another input, or the store fails.
pub async fn start(
    store: &AnyStore,
    machine: &MachineRecord,
    name: &str,
    input: impl Into<crate::runtime::driver::Input>,
    now: i64,
) -> Result<ExecutionRecord, CommandError> {
    check_name("state machine name", &machine.name)?;
    check_name("execution name", name)?;
    store.put_machine(machine).await?;
    Ok(start_execution(store, machine, name, input, now).await?)
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

/// The real integrations (HTTP, DynamoDB, Lambda), with the HTTP connections of `connections`
/// or, when it is `None`, of the file `STEPFN_CONNECTIONS` names.
///
/// # Errors
/// [`CommandError::Invalid`] when the connections file cannot be used.
pub fn integrations(connections: Option<PathBuf>) -> Result<Arc<dyn TaskInvoker>, CommandError> {
    let path = connections.or_else(|| std::env::var_os("STEPFN_CONNECTIONS").map(PathBuf::from));
    let integrations = Integrations::with_connections_file(path).map_err(CommandError::Invalid)?;
    Ok(Arc::new(integrations))
}

/// The invoker stack of a CLI command: the real integrations, nested executions in `store`,
/// and the test case `mocks` (config and case) of the config's state machine `machine`.
///
/// # Errors
/// [`CommandError::Invalid`] when the connections file or the test case cannot be used.
pub fn invokers(
    store: &AnyStore,
    connections: Option<PathBuf>,
    mocks: Option<(Value, String)>,
    machine: &str,
    virtual_clock: bool,
) -> Result<Arc<Invokers>, CommandError> {
    let mocks = match mocks {
        Some((config, case)) => Mocks::Case {
            config,
            machine: machine.to_string(),
            case,
        },
        None => Mocks::None,
    };
    Invokers::new(Setup {
        store: store.clone(),
        integrations: Some(integrations(connections)?),
        mocks,
        virtual_clock,
    })
    .map_err(|e| CommandError::Invalid(e.to_string()))
}

/// Checks that a definition loads (paths, templates and rules compile), every problem on one
/// line each.
///
/// # Errors
/// [`CommandError::Invalid`] with the problems.
pub fn loadable(definition: &Value) -> Result<(), CommandError> {
    load(definition).map(|_| ()).map_err(|d| {
        CommandError::Invalid(
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// What `stepfn run` runs.
pub struct RunRequest {
    /// The definition (validated).
    pub definition: Value,
    /// The execution input.
    pub input: Value,
    /// The input as the user wrote it.
    pub input_text: Option<String>,
    /// The state machine name (matched against the MockConfigFile).
    pub machine_name: String,
    /// A MockConfigFile and the test case to use.
    pub mocks: Option<(Value, String)>,
    /// State machines nested tasks can start, by name.
    pub machines: Vec<(String, Value)>,
    /// Where the execution lives.
    pub store: StoreConfig,
    /// The HTTP connections file (`--connections`).
    pub connections: Option<PathBuf>,
    /// Skip waits and retry delays.
    pub virtual_clock: bool,
    /// Keep the history.
    pub record_history: bool,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunReport {
    /// The status.
    pub status: Status,
    /// The output, once succeeded.
    pub output: Option<Value>,
    /// The error, once failed.
    pub error: Option<StatesError>,
    /// The history events, when asked for.
    pub history: Option<Vec<HistoryEvent>>,
}

/// `stepfn run`: one execution to its end, in memory or durably on the store.
///
/// # Errors
/// [`CommandError::Invalid`] for a definition, input, mock config or connections file that
/// cannot be used; store failures.
pub async fn run(request: RunRequest) -> Result<RunReport, CommandError> {
    let execution_name = uuid::Uuid::new_v4().to_string();
    for (name, _) in &request.machines {
        check_name("--machine", name)?;
    }
    let store = request.store.open().await?;
    for (name, definition) in &request.machines {
        loadable(definition)?;
        let record = machine_record(name, definition.clone(), real_now());
        store.put_machine(&record).await?;
    }
    if let Some((config, case)) = &request.mocks {
        crate::tasks::mock::TestCase::from_config(config, &request.machine_name, case)
            .and_then(|c| c.check_states(&request.definition, case))
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
    }
    let invoker = invokers(
        &store,
        request.connections,
        request.mocks,
        &request.machine_name,
        request.virtual_clock,
    )?;
    if !request.store.is_durable() {
        let run = LocalRun {
            definition: request.definition,
            input: request.input,
            input_text: request.input_text,
            machine_name: request.machine_name,
            execution_name,
            options: RunOptions {
                virtual_clock: request.virtual_clock,
                record_history: request.record_history,
            },
            invoker,
        };
        let finished = run_local(run)
            .await
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
        let exec = finished.execution;
        return Ok(RunReport {
            status: exec.status,
            output: exec.output,
            error: exec.error,
            history: finished.history,
        });
    }
    loadable(&request.definition)?;
    let now = real_now();
    let machine = machine_record(&request.machine_name, request.definition, now);
    let record = start(&store, &machine, &execution_name, request.input, now).await?;
    let options = DurableOptions {
        owner: format!("run-{}", uuid::Uuid::new_v4()),
        lease_ms: 60_000,
        park_after_ms: None,
        deadline_ms: None,
        virtual_clock: request.virtual_clock,
    };
    let done = run_durably(&store, &record.info.arn, invoker, &options).await?;
    let history = if request.record_history {
        Some(store.history(&done.info.arn).await?)
    } else {
        None
    };
    Ok(RunReport {
        status: done.status,
        output: done.output,
        error: done.error,
        history,
    })
}

/// What `stepfn worker` runs.
pub struct WorkerRequest {
    /// The store of the executions.
    pub store: StoreConfig,
    /// A MockConfigFile and the test case for every execution (matched under the config's
    /// first state machine).
    pub mocks: Option<(Value, String)>,
    /// The HTTP connections file.
    pub connections: Option<PathBuf>,
    /// Executions driven at once.
    pub concurrency: usize,
    /// Lease length, ms.
    pub lease_ms: i64,
    /// Exit after this long with nothing to do, ms.
    pub idle_exit_ms: Option<i64>,
    /// The worker's name.
    pub name: String,
    /// The order in which it takes due executions.
    pub scheduling: Scheduling,
}

/// `stepfn worker`: drives due executions until `shutdown` is set.
///
/// # Errors
/// A store that is not durable, unusable mocks or connections, store failures.
pub async fn worker(
    request: WorkerRequest,
    shutdown: Arc<AtomicBool>,
) -> Result<WorkerStats, CommandError> {
    require_durable(&request.store, "worker")?;
    let store = request.store.open().await?;
    // Mocks apply to every state machine: match them under the config's own machine name.
    let machine = request
        .mocks
        .as_ref()
        .and_then(|(config, _)| config["StateMachines"].as_object())
        .and_then(|m| m.keys().next().cloned())
        .unwrap_or_default();
    let invoker = invokers(&store, request.connections, request.mocks, &machine, false)?;
    let options = DurableOptions {
        lease_ms: request.lease_ms.max(1_000),
        ..DurableOptions::worker(request.name)
    };
    let idle = request.idle_exit_ms;
    let clock =
        crate::runtime::schedules::ScheduleClock::from_env().map_err(CommandError::Invalid)?;
    let sweeper = tokio::spawn(crate::runtime::schedules::run_sweeper(
        store.clone(),
        clock,
        Arc::clone(&shutdown),
    ));
    let stats = run_worker_with(
        store,
        invoker,
        options,
        request.concurrency,
        Arc::clone(&shutdown),
        idle,
        request.scheduling,
    )
    .await;
    // An idle exit ends the worker without a shutdown: stop the sweeper too.
    shutdown.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sweeper.await;
    Ok(stats?)
}
