//! The `stepfn` command line: thin over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;

use stepfn::asl::validate::validate_text;
use stepfn::engine::runner::RunOptions;
use stepfn::engine::Status;
use stepfn::local::{result_json, run_local, LocalRun, RunError};

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
    /// Runs one execution in memory and prints its output.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The definition file.
    definition: PathBuf,
    /// The execution input, as JSON.
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// A file holding the execution input.
    #[arg(long)]
    input_file: Option<PathBuf>,
    /// The state machine name (defaults to the file stem); matched against the mock config.
    #[arg(long)]
    name: Option<String>,
    /// An AWS Step Functions Local MockConfigFile.
    #[arg(long, requires = "test_case")]
    mocks: Option<PathBuf>,
    /// The test case of the mock config to use.
    #[arg(long, requires = "mocks")]
    test_case: Option<String>,
    /// Skip waits and retry delays instantly.
    #[arg(long)]
    virtual_clock: bool,
    /// Include the history events.
    #[arg(long)]
    history: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
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
    match cli.command {
        Command::Validate { files } => validate_files(&files),
        Command::Run(args) => run(args),
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

fn read_json(path: &Path, what: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{what} {} is not JSON: {e}", path.display()))
}

fn run(args: RunArgs) -> ExitCode {
    let invalid = |msg: String| {
        eprintln!("{msg}");
        ExitCode::from(2)
    };
    let def_text = match std::fs::read_to_string(&args.definition) {
        Ok(t) => t,
        Err(e) => return invalid(format!("cannot read {}: {e}", args.definition.display())),
    };
    let definition = match validate_text(&def_text) {
        Ok(v) => v,
        Err(diags) => {
            let mut msg = format!("{}: invalid definition", args.definition.display());
            for d in diags {
                msg.push_str(&format!("\n  {d}"));
            }
            return invalid(msg);
        }
    };
    let input = match (&args.input, &args.input_file) {
        (Some(s), _) => match serde_json::from_str(s) {
            Ok(v) => v,
            Err(e) => return invalid(format!("--input is not JSON: {e}")),
        },
        (None, Some(p)) => match read_json(p, "input file") {
            Ok(v) => v,
            Err(e) => return invalid(e),
        },
        (None, None) => Value::Object(Default::default()),
    };
    let mocks = match (&args.mocks, &args.test_case) {
        (Some(p), Some(case)) => match read_json(p, "mock config") {
            Ok(v) => Some((v, case.clone())),
            Err(e) => return invalid(e),
        },
        _ => None,
    };
    let machine_name = args.name.clone().unwrap_or_else(|| {
        let stem = args
            .definition
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "state-machine".into());
        stem.strip_suffix(".asl")
            .map(str::to_string)
            .unwrap_or(stem)
    });
    let run = LocalRun {
        definition,
        input,
        machine_name,
        execution_name: uuid::Uuid::new_v4().to_string(),
        mocks,
        options: RunOptions {
            virtual_clock: args.virtual_clock,
            record_history: args.history,
        },
    };
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
    let exec = match runtime.block_on(run_local(run)) {
        Ok(e) => e,
        Err(
            e @ (RunError::InvalidDefinition(_) | RunError::InvalidInput(_) | RunError::Mock(_)),
        ) => return invalid(e.to_string()),
    };
    let succeeded = exec.status == Status::Succeeded;
    match args.format {
        Format::Json => {
            println!("{}", result_json(&exec, args.history));
        }
        Format::Text => {
            if succeeded {
                println!("{}", exec.output.clone().unwrap_or(Value::Null));
            } else {
                eprintln!("status: {}", exec.status.as_str());
                if let Some(e) = &exec.error {
                    eprintln!("error: {}", e.error);
                    if let Some(c) = &e.cause {
                        eprintln!("cause: {c}");
                    }
                }
            }
            if args.history {
                if let Some(h) = &exec.history {
                    for e in h {
                        eprintln!("{}", e.to_api_json());
                    }
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
