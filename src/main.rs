//! The `stepfn` command line: thin over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};

use stepfn::asl::error::StatesError;
use stepfn::asl::load::load;
use stepfn::asl::validate::validate_text;
use stepfn::engine::history::HistoryEvent;
use stepfn::engine::Status;
use stepfn::runtime::commands::{self, CommandError};
use stepfn::runtime::describe;
use stepfn::runtime::driver::RunOptions;
use stepfn::runtime::durable::DurableOptions;
use stepfn::runtime::local::{run_local, LocalRun, RunError};
use stepfn::store::Store;
use stepfn::store::{AnyStore, StoreConfig, StoreKind};
use stepfn::tasks::integrations::Integrations;
use stepfn::tasks::mock::{MockInvoker, TestCase};
use stepfn::tasks::TaskInvoker;

// JSON values allocate at every transition; mimalloc makes that markedly cheaper than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs Amazon States Language state machines.
#[derive(Parser)]
#[command(name = "stepfn", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Checks definitions; exit 0 if all are valid, else 1 with every problem listed.
    Validate {
        /// Definition files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Runs one execution and prints its output (in memory unless --store says otherwise).
    Run(RunArgs),
    /// Creates the DynamoDB table (idempotent).
    Init {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Starts an execution in a durable store and returns at once; workers drive it.
    Start {
        /// The definition file.
        definition: PathBuf,
        #[command(flatten)]
        input: InputArgs,
        /// The execution name (default: a new UUID).
        #[arg(long)]
        name: Option<String>,
        /// The state machine name (default: the file stem).
        #[arg(long)]
        machine_name: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Drives due executions of a durable store until SIGTERM or SIGINT.
    Worker {
        #[command(flatten)]
        store: StoreArgs,
        /// Executions driven at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Lease length in seconds; another worker takes over an execution this long after
        /// its worker died.
        #[arg(long, default_value_t = 30)]
        lease_seconds: u64,
        /// Exit after this many seconds with nothing to do.
        #[arg(long)]
        idle_exit_seconds: Option<u64>,
        /// The worker's name (default: a new UUID).
        #[arg(long)]
        worker_name: Option<String>,
        #[command(flatten)]
        mocks: MockArgs,
    },
    /// Serves the Step Functions API (AWS JSON 1.0) for the AWS CLI and SDKs, and drives the
    /// executions started through it.
    Serve {
        /// Address to bind (loopback unless told otherwise).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to bind; 0 picks a free one (the chosen endpoint is printed).
        #[arg(long, default_value_t = 8083)]
        port: u16,
        #[command(flatten)]
        store: StoreArgs,
        /// An AWS Step Functions Local MockConfigFile; `stateMachineArn#TestCase` selects a case.
        #[arg(long)]
        mocks: Option<PathBuf>,
        /// HTTP Task connections (default: $STEPFN_CONNECTIONS); see `run --help`.
        #[arg(long)]
        connections: Option<PathBuf>,
        /// Executions driven at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Prints an execution as DescribeExecution shows it.
    Describe {
        /// The execution ARN.
        arn: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Prints an execution's history events as GetExecutionHistory shows them.
    History {
        /// The execution ARN.
        arn: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(clap::Args, Clone)]
struct StoreArgs {
    /// Where executions live.
    #[arg(long, value_enum, default_value_t = StoreArg::Memory)]
    store: StoreArg,
    /// The DynamoDB table.
    #[arg(long, default_value = "stepfn")]
    table: String,
    /// The DynamoDB endpoint (default: the standard AWS settings, e.g.
    /// AWS_ENDPOINT_URL_DYNAMODB).
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
}

impl StoreArgs {
    fn config(&self) -> StoreConfig {
        StoreConfig {
            kind: match self.store {
                StoreArg::Memory => StoreKind::Memory,
                StoreArg::Dynamodb => StoreKind::Dynamodb,
            },
            table: self.table.clone(),
            endpoint: self.dynamodb_endpoint.clone(),
        }
    }
}

/// The store backends, as `--store` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreArg {
    /// In process; executions end with the process.
    Memory,
    /// DynamoDB: executions survive the process.
    Dynamodb,
}

#[derive(clap::Args, Clone)]
struct InputArgs {
    /// The execution input, as JSON.
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// A file holding the execution input.
    #[arg(long)]
    input_file: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct MockArgs {
    /// An AWS Step Functions Local MockConfigFile.
    #[arg(long, requires = "test_case")]
    mocks: Option<PathBuf>,
    /// The test case of the mock config to use.
    #[arg(long, requires = "mocks")]
    test_case: Option<String>,
    /// HTTP Task connections: a JSON object from ConnectionArn to EventBridge's
    /// `AuthorizationType` and `AuthParameters` (default: $STEPFN_CONNECTIONS).
    #[arg(long)]
    connections: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The definition file.
    definition: PathBuf,
    #[command(flatten)]
    input: InputArgs,
    /// The state machine name (defaults to the file stem); matched against the mock config.
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    mocks: MockArgs,
    /// Skip waits and retry delays instantly.
    #[arg(long)]
    virtual_clock: bool,
    /// Include the history events.
    #[arg(long)]
    history: bool,
    /// A state machine that nested Step Functions tasks can start, under the ARN
    /// arn:aws:states:us-east-1:111111111111:stateMachine:NAME (repeatable).
    #[arg(long = "machine", value_name = "NAME=DEFINITION.json")]
    machines: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The output JSON on stdout; error and cause on stderr.
    Text,
    /// One JSON object with status, output, error, cause (and history).
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            // The AWS config's probing of credential and region sources is noise here: a task
            // that cannot reach AWS fails with a cause that says so.
            tracing_subscriber::EnvFilter::try_from_env("STEPFN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,aws_config=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Validate { files } => validate_files(&files),
        Command::Run(args) => block_on(run(args)),
        Command::Init { store } => block_on(async move {
            let store = store.config().open().await?;
            store.init().await?;
            println!("{}", json!({"initialized": true}));
            Ok(ExitCode::SUCCESS)
        }),
        Command::Start {
            definition,
            input,
            name,
            machine_name,
            store,
        } => block_on(start(definition, input, name, machine_name, store)),
        Command::Worker {
            store,
            concurrency,
            lease_seconds,
            idle_exit_seconds,
            worker_name,
            mocks,
        } => block_on(worker(
            store,
            concurrency,
            lease_seconds,
            idle_exit_seconds,
            worker_name,
            mocks,
        )),
        Command::Serve {
            host,
            port,
            store,
            mocks,
            connections,
            concurrency,
        } => block_on(serve(host, port, store, mocks, connections, concurrency)),
        Command::Describe { arn, store } => block_on(async move {
            let config = store.config();
            commands::require_durable(&config, "describe")?;
            let store = config.open().await?;
            let record = store.get_execution(&arn).await?.ok_or_else(|| {
                CommandError::Invalid(format!("Execution Does Not Exist: '{arn}'"))
            })?;
            println!("{}", describe::describe_json(&record));
            Ok(ExitCode::SUCCESS)
        }),
        Command::History { arn, store } => block_on(async move {
            let config = store.config();
            commands::require_durable(&config, "history")?;
            let store = config.open().await?;
            if store.get_execution(&arn).await?.is_none() {
                return Err(CommandError::Invalid(format!(
                    "Execution Does Not Exist: '{arn}'"
                )));
            }
            let events: Vec<Value> = store
                .history(&arn)
                .await?
                .iter()
                .map(HistoryEvent::to_api_json)
                .collect();
            println!("{}", json!({ "events": events }));
            Ok(ExitCode::SUCCESS)
        }),
    }
}

fn block_on(fut: impl std::future::Future<Output = Result<ExitCode, CommandError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(fut) {
        Ok(code) => code,
        Err(CommandError::Invalid(msg)) => {
            eprintln!("{msg}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn validate_files(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: cannot read: {e}", file.display());
                ok = false;
                continue;
            }
        };
        match validate_text(&text) {
            Ok(_) => println!("{}: valid", file.display()),
            Err(diags) => {
                ok = false;
                println!("{}: invalid", file.display());
                for d in diags {
                    println!("  {d}");
                }
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn read_json(path: &Path, what: &str) -> Result<Value, CommandError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CommandError::Invalid(format!("cannot read {what} {}: {e}", path.display()))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| CommandError::Invalid(format!("{what} {} is not JSON: {e}", path.display())))
}

fn read_definition(path: &Path) -> Result<Value, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    validate_text(&text).map_err(|diags| {
        let mut msg = format!("{}: invalid definition", path.display());
        for d in diags {
            msg.push_str(&format!("\n  {d}"));
        }
        CommandError::Invalid(msg)
    })
}

/// Checks that a validated definition also loads (paths, templates, rules compile).
fn loadable(definition: &Value) -> Result<(), CommandError> {
    load(definition).map(|_| ()).map_err(|d| {
        CommandError::Invalid(
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

fn read_input(args: &InputArgs) -> Result<Value, CommandError> {
    match (&args.input, &args.input_file) {
        (Some(s), _) => serde_json::from_str(s)
            .map_err(|e| CommandError::Invalid(format!("--input is not JSON: {e}"))),
        (None, Some(p)) => read_json(p, "input file"),
        (None, None) => Ok(Value::Object(Default::default())),
    }
}

fn read_mocks(args: &MockArgs) -> Result<Option<(Value, String)>, CommandError> {
    match (&args.mocks, &args.test_case) {
        (Some(p), Some(case)) => Ok(Some((read_json(p, "mock config")?, case.clone()))),
        _ => Ok(None),
    }
}

fn machine_name_of(definition: &Path, name: &Option<String>) -> String {
    name.clone().unwrap_or_else(|| {
        let stem = definition
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "state-machine".into());
        stem.strip_suffix(".asl")
            .map(str::to_string)
            .unwrap_or(stem)
    })
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The real integrations (HTTP, DynamoDB, Lambda, nested executions in `store`), with the
/// connections of `--connections` or `STEPFN_CONNECTIONS`.
fn integrations(
    connections: Option<PathBuf>,
    store: &AnyStore,
    virtual_clock: bool,
) -> Result<Arc<dyn TaskInvoker>, CommandError> {
    let path = connections.or_else(|| std::env::var_os("STEPFN_CONNECTIONS").map(PathBuf::from));
    let integrations = Integrations::with_connections_file(path).map_err(CommandError::Invalid)?;
    Ok(integrations.with_states(store.clone(), virtual_clock))
}

/// Stores the state machines of `--machine NAME=DEFINITION.json`, for nested executions.
async fn register_machines(store: &AnyStore, machines: &[String]) -> Result<(), CommandError> {
    for spec in machines {
        let Some((name, path)) = spec.split_once('=') else {
            return Err(CommandError::Invalid(format!(
                "--machine {spec}: expected NAME=DEFINITION.json"
            )));
        };
        let definition = read_definition(&PathBuf::from(path))?;
        loadable(&definition)?;
        let record = commands::machine_record(name, definition, now_ms());
        store.put_machine(&record).await?;
    }
    Ok(())
}

fn invoker_for(
    mocks: Option<(Value, String)>,
    machine_name: &str,
    fallback: Arc<dyn TaskInvoker>,
) -> Result<Arc<dyn TaskInvoker>, CommandError> {
    Ok(match mocks {
        Some((config, case)) => {
            let case = TestCase::from_config(&config, machine_name, &case)
                .map_err(|e| CommandError::Invalid(e.to_string()))?;
            Arc::new(MockInvoker::new(case, fallback))
        }
        None => fallback,
    })
}

async fn run(args: RunArgs) -> Result<ExitCode, CommandError> {
    let definition = read_definition(&args.definition)?;
    let input = read_input(&args.input)?;
    let mocks = read_mocks(&args.mocks)?;
    let machine_name = machine_name_of(&args.definition, &args.name);
    let execution_name = uuid::Uuid::new_v4().to_string();
    let store = args.store.config().open().await?;
    register_machines(&store, &args.machines).await?;
    let fallback = integrations(args.mocks.connections.clone(), &store, args.virtual_clock)?;
    if args.store.store == StoreArg::Memory {
        let run = LocalRun {
            definition,
            input,
            machine_name,
            execution_name,
            mocks,
            options: RunOptions {
                virtual_clock: args.virtual_clock,
                record_history: args.history,
            },
            integrations: Some(Arc::clone(&fallback)),
        };
        let finished = run_local(run).await.map_err(|e| match e {
            RunError::InvalidDefinition(_) | RunError::InvalidInput(_) | RunError::Mock(_) => {
                CommandError::Invalid(e.to_string())
            }
        })?;
        let exec = &finished.execution;
        return Ok(report(
            exec.status,
            exec.output.as_ref(),
            exec.error.as_ref(),
            finished.history.as_deref(),
            args.format,
            args.history,
        ));
    }
    loadable(&definition)?;
    let invoker = invoker_for(mocks, &machine_name, fallback)?;
    let now = now_ms();
    let machine = commands::machine_record(&machine_name, definition, now);
    let record = commands::start(&store, &machine, &execution_name, input, now).await?;
    let options = DurableOptions {
        owner: format!("run-{}", uuid::Uuid::new_v4()),
        lease_ms: 60_000,
        park_after_ms: None,
        deadline_ms: None,
        virtual_clock: args.virtual_clock,
    };
    let done = commands::run_durably(&store, &record.info.arn, invoker, &options).await?;
    let history = if args.history {
        Some(store.history(&done.info.arn).await?)
    } else {
        None
    };
    Ok(report(
        done.status,
        done.output.as_ref(),
        done.error.as_ref(),
        history.as_deref(),
        args.format,
        args.history,
    ))
}

fn report(
    status: Status,
    output: Option<&Value>,
    error: Option<&StatesError>,
    history: Option<&[HistoryEvent]>,
    format: Format,
    with_history: bool,
) -> ExitCode {
    let succeeded = status == Status::Succeeded;
    match format {
        Format::Json => {
            println!(
                "{}",
                stepfn::runtime::local::result_object(status, output, error, history, with_history)
            );
        }
        Format::Text => {
            if succeeded {
                println!("{}", output.cloned().unwrap_or(Value::Null));
            } else {
                eprintln!("status: {}", status.as_str());
                if let Some(e) = error {
                    eprintln!("error: {}", e.error);
                    if let Some(c) = &e.cause {
                        eprintln!("cause: {c}");
                    }
                }
            }
            if with_history {
                for e in history.unwrap_or_default() {
                    eprintln!("{}", e.to_api_json());
                }
            }
        }
    }
    if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn start(
    definition: PathBuf,
    input: InputArgs,
    name: Option<String>,
    machine_name: Option<String>,
    store: StoreArgs,
) -> Result<ExitCode, CommandError> {
    let config = store.config();
    commands::require_durable(&config, "start")?;
    let def = read_definition(&definition)?;
    loadable(&def)?;
    let input = read_input(&input)?;
    let store = config.open().await?;
    let now = now_ms();
    let machine = commands::machine_record(&machine_name_of(&definition, &machine_name), def, now);
    let name = name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let record = commands::start(&store, &machine, &name, input, now).await?;
    println!("{}", describe::started_json(&record));
    Ok(ExitCode::SUCCESS)
}

async fn worker(
    store: StoreArgs,
    concurrency: usize,
    lease_seconds: u64,
    idle_exit_seconds: Option<u64>,
    worker_name: Option<String>,
    mocks: MockArgs,
) -> Result<ExitCode, CommandError> {
    let config = store.config();
    commands::require_durable(&config, "worker")?;
    let connections = mocks.connections.clone();
    let mocks = read_mocks(&mocks)?;
    let store: AnyStore = config.open().await?;
    let fallback = integrations(connections, &store, false)?;
    // Mocks apply to every state machine: match them under the config's own machine names.
    let invoker: Arc<dyn TaskInvoker> = match mocks {
        Some((config, case)) => {
            let machine = config["StateMachines"]
                .as_object()
                .and_then(|m| m.keys().next().cloned())
                .unwrap_or_default();
            invoker_for(Some((config, case)), &machine, fallback)?
        }
        None => fallback,
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shutdown);
    tokio::spawn(async move {
        wait_for_signal().await;
        flag.store(true, Ordering::Relaxed);
    });
    let owner = worker_name.unwrap_or_else(|| format!("worker-{}", uuid::Uuid::new_v4()));
    let options = DurableOptions {
        lease_ms: (lease_seconds.max(1) * 1000) as i64,
        ..DurableOptions::worker(owner)
    };
    let stats = commands::worker(
        store,
        invoker,
        options,
        concurrency,
        shutdown,
        idle_exit_seconds.map(|s| (s * 1000) as i64),
    )
    .await?;
    eprintln!(
        "worker stopped: {} finished, {} parked, {} contended, {} failed",
        stats.finished, stats.parked, stats.contended, stats.failed
    );
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn serve(
    host: String,
    port: u16,
    store: StoreArgs,
    mocks: Option<PathBuf>,
    connections: Option<PathBuf>,
    concurrency: usize,
) -> Result<ExitCode, CommandError> {
    let mocks = match mocks {
        Some(p) => Some(read_json(&p, "mock config")?),
        None => None,
    };
    let store: AnyStore = store.config().open().await?;
    store.init().await?;
    let integrations = integrations(connections, &store, false)?;
    let service = Arc::new(stepfn::api::Service::with_integrations(
        store.clone(),
        mocks,
        integrations,
    ));
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| CommandError::Invalid(format!("cannot bind {host}:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CommandError::Invalid(format!("cannot read the bound address: {e}")))?;
    println!("{}", json!({"endpoint": format!("http://{addr}")}));
    let shutdown = Arc::new(AtomicBool::new(false));
    let worker = tokio::spawn(commands::worker(
        store,
        service.invoker(),
        DurableOptions::worker(format!("serve-{}", uuid::Uuid::new_v4())),
        concurrency,
        Arc::clone(&shutdown),
        None,
    ));
    let flag = Arc::clone(&shutdown);
    stepfn::api::http::serve(listener, service, async move {
        wait_for_signal().await;
        flag.store(true, Ordering::Relaxed);
    })
    .await
    .map_err(|e| CommandError::Invalid(format!("server failed: {e}")))?;
    shutdown.store(true, Ordering::Relaxed);
    let _ = worker.await;
    Ok(ExitCode::SUCCESS)
}
