//! The `stepfn` command line: thin over the library.

mod args;
mod backfill;
mod files;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::{json, Value};

use stepfn::api::http::ServerConfig;
use stepfn::api::serve::{serve_with, ServeOptions};
use stepfn::asl::validate::validate_text;
use stepfn::engine::history::HistoryEvent;
use stepfn::engine::Status;
use stepfn::runtime::commands::{self, CommandError, RunReport, RunRequest, WorkerRequest};
use stepfn::runtime::describe;
use stepfn::runtime::signals::shutdown_on_signal;
use stepfn::store::{AnyStore, Store};

use args::{Cli, Command, Format, InputArgs, RunArgs, StoreArgs};
use files::{
    machine_name_of, read_definition, read_input, read_json, read_machines, read_mocks,
    serve_credentials,
};

// JSON values allocate at every transition; mimalloc makes that markedly cheaper than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        // Colour only on a terminal: logs sent to a file or a pipe stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Validate { files } => validate_files(&files),
        Command::Run(args) => block_on_one_thread(move || run(args)),
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
            scheduling,
            metrics_port,
            mocks,
        } => block_on(async move {
            if let Some(port) = metrics_port {
                let (listener, addr) = stepfn::console::metrics::bind(port).await.map_err(|e| {
                    CommandError::Invalid(format!("--metrics-port {port}: cannot bind: {e}"))
                })?;
                println!("{}", json!({"metrics": format!("http://{addr}/metrics")}));
                tokio::spawn(async move {
                    let served =
                        stepfn::console::metrics::serve(listener, std::future::pending()).await;
                    if let Err(e) = served {
                        tracing::error!(error = %e, "the metrics server failed");
                    }
                });
            }
            let request = WorkerRequest {
                store: store.config(),
                mocks: read_mocks(&mocks)?,
                connections: mocks.connections,
                concurrency,
                lease_ms: (lease_seconds.max(1) * 1000) as i64,
                idle_exit_ms: idle_exit_seconds.map(|s| (s * 1000) as i64),
                name: worker_name.unwrap_or_else(|| format!("worker-{}", uuid::Uuid::new_v4())),
                scheduling: scheduling.policy(),
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
            account,
            virtual_clock,
            lease_seconds,
            scheduling,
            header_timeout_seconds,
            body_timeout_seconds,
            max_connections,
            allow_hosts,
            auth,
            auth_keys,
        } => block_on(async move {
            let mocks = mocks.or_else(|| std::env::var_os("SFN_MOCK_CONFIG").map(PathBuf::from));
            let credentials = serve_credentials(auth.as_deref(), &auth_keys)?;
            let options = ServeOptions {
                account,
                virtual_clock,
                host,
                port,
                store: store.config(),
                mocks: mocks.map(|p| read_json(&p, "mock config")).transpose()?,
                connections,
                concurrency,
                lease_ms: i64::try_from(lease_seconds.saturating_mul(1_000)).unwrap_or(i64::MAX),
                scheduling: scheduling.policy(),
                http: ServerConfig {
                    header_timeout: Duration::from_secs(header_timeout_seconds),
                    body_timeout: Duration::from_secs(body_timeout_seconds),
                    max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
                    allowed_hosts: allow_hosts,
                    credentials,
                },
            };
            serve_with(options, stepfn::console::router, |addr| {
                println!("{}", json!({"endpoint": format!("http://{addr}")}));
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }),
        Command::TestState {
            request,
            connections,
        } => block_on(test_state(request, connections)),
        Command::Redrive {
            arn,
            client_token,
            store,
        } => block_on(async move {
            let store = durable_store(&store, "redrive").await?;
            let now = stepfn::runtime::clock::real_now();
            match stepfn::runtime::redrive::request_redrive(
                &store,
                &arn,
                client_token.as_deref(),
                now,
            )
            .await
            {
                Ok(date) => {
                    println!(
                        "{}",
                        json!({"redriveDate": stepfn::asl::timestamp::iso_time(date)})
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(stepfn::runtime::redrive::RedriveError::Store(e)) => Err(e.into()),
                Err(e) => Err(CommandError::Invalid(e.to_string())),
            }
        }),
        Command::Backfill {
            schedule,
            from,
            to,
            group,
            max_concurrency,
            endpoint,
            store,
        } => block_on(backfill::backfill(backfill::Request {
            schedule,
            from,
            to,
            group,
            max_concurrency,
            endpoint,
            store,
        })),
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
            write_history(&store, &arn).await?;
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// Events `stepfn history` reads at a time.
const HISTORY_PAGE: u64 = 1000;

/// Writes execution `arn`'s history to stdout as `{"events":[...]}` (GetExecutionHistory's
/// events), page by page as they are read: a long history is never held whole.
async fn write_history(store: &AnyStore, arn: &str) -> Result<(), CommandError> {
    use std::io::Write;
    let cannot =
        |e: std::io::Error| CommandError::Invalid(format!("cannot write the history: {e}"));
    let mut out = std::io::BufWriter::new(std::io::stdout());
    out.write_all(b"{\"events\":[").map_err(cannot)?;
    let mut from = 1;
    let mut first = true;
    loop {
        let page = store
            .history_range(arn, from, from.saturating_add(HISTORY_PAGE - 1))
            .await?;
        let Some(last) = page.last().map(|e| e.id) else {
            break;
        };
        for event in &page {
            if !first {
                out.write_all(b",").map_err(cannot)?;
            }
            first = false;
            serde_json::to_writer(&mut out, &HistoryEvent::to_api_json(event))
                .map_err(|e| cannot(e.into()))?;
        }
        from = last + 1;
    }
    out.write_all(b"]}\n").map_err(cannot)?;
    out.flush().map_err(cannot)
}

/// `stepfn test-state`: one TestState request through the API's own dispatcher, with the
/// real integrations for unmocked tasks.
async fn test_state(
    request: Option<PathBuf>,
    connections: Option<PathBuf>,
) -> Result<ExitCode, CommandError> {
    let text = match request.as_deref() {
        None => read_stdin()?,
        Some(p) if p.as_os_str() == "-" => read_stdin()?,
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| CommandError::Invalid(format!("{}: cannot read: {e}", p.display())))?,
    };
    let mut req: Value = serde_json::from_str(&text)
        .map_err(|e| CommandError::Invalid(format!("the TestState request is not JSON: {e}")))?;
    if let Value::Object(o) = &mut req {
        for key in ["definition", "input", "variables", "context"] {
            if let Some(v) = o.get_mut(key).filter(|v| v.is_object() || v.is_array()) {
                *v = Value::String(v.to_string());
            }
        }
        if let Some(result) = o
            .get_mut("mock")
            .and_then(|m| m.get_mut("result"))
            .filter(|v| !v.is_string() && !v.is_null())
        {
            *result = Value::String(result.to_string());
        }
    }
    let store = AnyStore::Memory(stepfn::store::memory::MemoryStore::new());
    let invokers = commands::invokers(&store, connections, None, "TestState", true)?;
    let service = stepfn::api::Service::new(store, invokers);
    match service.call("TestState", req).await {
        Ok(answer) => {
            println!("{answer}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(CommandError::Invalid(format!(
            "{}: {}",
            e.kind.name(),
            e.message
        ))),
    }
}

fn read_stdin() -> Result<String, CommandError> {
    std::io::read_to_string(std::io::stdin())
        .map_err(|e| CommandError::Invalid(format!("cannot read stdin: {e}")))
}

fn block_on(fut: impl std::future::Future<Output = Result<ExitCode, CommandError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(stepfn::asl::nesting::THREAD_STACK_BYTES)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(fut);
    // A task still busy (a drive left evaluating at shutdown) must not hold the process.
    runtime.shutdown_timeout(Duration::from_secs(1));
    exit_code(result)
}

/// `block_on` for a command that drives its work itself (`stepfn run`): a current-thread
/// runtime on one thread with the workers' stack. Starting and stopping a pool of workers
/// costs more than such a command gains from them (about 2 ms of a 10 ms run).
fn block_on_one_thread<F, Fut>(make: F) -> ExitCode
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<ExitCode, CommandError>>,
{
    let thread = std::thread::Builder::new()
        .name("stepfn".into())
        .stack_size(stepfn::asl::nesting::THREAD_STACK_BYTES)
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            let result = runtime.block_on(make());
            // A task still busy (a drive left evaluating at shutdown) must not hold the process.
            runtime.shutdown_timeout(Duration::from_secs(1));
            exit_code(result)
        });
    match thread.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            ExitCode::from(1)
        }
    }
}

fn exit_code(result: Result<ExitCode, CommandError>) -> ExitCode {
    match result {
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

pub(crate) async fn durable_store(
    store: &StoreArgs,
    command: &str,
) -> Result<AnyStore, CommandError> {
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

async fn run(args: RunArgs) -> Result<ExitCode, CommandError> {
    let (input, input_text) = read_input(&args.input)?;
    let request = RunRequest {
        definition: read_definition(&args.definition)?,
        input,
        input_text,
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
    let machine_name = machine_name_of(&definition, &machine_name);
    commands::check_name("--machine-name", &machine_name)?;
    if let Some(name) = &name {
        commands::check_name("--name", name)?;
    }
    let def = read_definition(&definition)?;
    commands::loadable(&def)?;
    let (value, text) = read_input(&input)?;
    let input = stepfn::runtime::driver::Input {
        value,
        text: text.map(std::sync::Arc::from),
    };
    let store = config.open().await?;
    let now = stepfn::runtime::clock::real_now();
    let machine = commands::machine_record(&machine_name, def, now);
    let name = name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let record = commands::start(&store, &machine, &name, input, now).await?;
    println!("{}", describe::started_json(&record));
    Ok(ExitCode::SUCCESS)
}
