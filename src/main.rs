//! The `stepfn` command line: thin over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};

use stepfn::asl::validate::validate_text;
use stepfn::engine::history::HistoryEvent;
use stepfn::engine::Status;
use stepfn::runtime::commands::{self, CommandError, RunReport, RunRequest, WorkerRequest};
use stepfn::runtime::describe;
use stepfn::runtime::durable::DurableOptions;
use stepfn::runtime::invokers::{Invokers, Mocks, Setup};
use stepfn::runtime::worker::run_worker;
use stepfn::store::{AnyStore, Store, StoreConfig, StoreKind};

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
            store.config().open().await?.init().await?;
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
        } => block_on(async move {
            let request = WorkerRequest {
                store: store.config(),
                mocks: read_mocks(&mocks)?,
                connections: mocks.connections,
                concurrency,
                lease_ms: (lease_seconds.max(1) * 1000) as i64,
                idle_exit_ms: idle_exit_seconds.map(|s| (s * 1000) as i64),
                name: worker_name.unwrap_or_else(|| format!("worker-{}", uuid::Uuid::new_v4())),
            };
            let stats = commands::worker(request, shutdown_on_signal()).await?;
            eprintln!(
                "worker stopped: {} finished, {} parked, {} contended, {} failed",
                stats.finished, stats.parked, stats.contended, stats.failed
            );
            Ok(ExitCode::SUCCESS)
        }),
        Command::Serve {
            host,
            port,
            store,
            mocks,
            connections,
            concurrency,
        } => block_on(serve(host, port, store, mocks, connections, concurrency)),
        Command::Describe { arn, store } => block_on(async move {
            let store = durable_store(&store, "describe").await?;
            let record = store.get_execution(&arn).await?.ok_or_else(|| {
                CommandError::Invalid(format!("Execution Does Not Exist: '{arn}'"))
            })?;
            println!("{}", describe::describe_json(&record));
            Ok(ExitCode::SUCCESS)
        }),
        Command::History { arn, store } => block_on(async move {
            let store = durable_store(&store, "history").await?;
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

async fn durable_store(store: &StoreArgs, command: &str) -> Result<AnyStore, CommandError> {
    let config = store.config();
    commands::require_durable(&config, command)?;
    Ok(config.open().await?)
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

/// The state machines of `--machine NAME=DEFINITION.json`, read and validated.
fn read_machines(specs: &[String]) -> Result<Vec<(String, Value)>, CommandError> {
    specs
        .iter()
        .map(|spec| {
            let (name, path) = spec.split_once('=').ok_or_else(|| {
                CommandError::Invalid(format!("--machine {spec}: expected NAME=DEFINITION.json"))
            })?;
            Ok((name.to_string(), read_definition(Path::new(path))?))
        })
        .collect()
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

async fn run(args: RunArgs) -> Result<ExitCode, CommandError> {
    let request = RunRequest {
        definition: read_definition(&args.definition)?,
        input: read_input(&args.input)?,
        machine_name: machine_name_of(&args.definition, &args.name),
        mocks: read_mocks(&args.mocks)?,
        machines: read_machines(&args.machines)?,
        store: args.store.config(),
        connections: args.mocks.connections.clone(),
        virtual_clock: args.virtual_clock,
        record_history: args.history,
    };
    let report = commands::run(request).await?;
    Ok(print_report(&report, args.format, args.history))
}

fn print_report(report: &RunReport, format: Format, with_history: bool) -> ExitCode {
    let succeeded = report.status == Status::Succeeded;
    let history = report.history.as_deref();
    match format {
        Format::Json => {
            println!(
                "{}",
                stepfn::runtime::local::result_object(
                    report.status,
                    report.output.as_ref(),
                    report.error.as_ref(),
                    history,
                    with_history
                )
            );
        }
        Format::Text => {
            if succeeded {
                println!("{}", report.output.clone().unwrap_or(Value::Null));
            } else {
                eprintln!("status: {}", report.status.as_str());
                if let Some(e) = &report.error {
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
    commands::loadable(&def)?;
    let input = read_input(&input)?;
    let store = config.open().await?;
    let now = stepfn::runtime::clock::real_now();
    let machine = commands::machine_record(&machine_name_of(&definition, &machine_name), def, now);
    let name = name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let record = commands::start(&store, &machine, &name, input, now).await?;
    println!("{}", describe::started_json(&record));
    Ok(ExitCode::SUCCESS)
}

/// A flag set when SIGTERM or SIGINT arrives.
fn shutdown_on_signal() -> Arc<AtomicBool> {
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shutdown);
    tokio::spawn(async move {
        wait_for_signal().await;
        flag.store(true, Ordering::Relaxed);
    });
    shutdown
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
    let invokers = Invokers::new(Setup {
        store: store.clone(),
        integrations: Some(commands::integrations(connections)?),
        mocks: Mocks::Routed(mocks),
        virtual_clock: false,
    })
    .map_err(|e| CommandError::Invalid(e.to_string()))?;
    let service = Arc::new(stepfn::api::Service::new(store.clone(), invokers));
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| CommandError::Invalid(format!("cannot bind {host}:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CommandError::Invalid(format!("cannot read the bound address: {e}")))?;
    println!("{}", json!({"endpoint": format!("http://{addr}")}));
    let shutdown = Arc::new(AtomicBool::new(false));
    let worker = tokio::spawn(run_worker(
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
