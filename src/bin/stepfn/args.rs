//! The command line's arguments, as clap parses them.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use stepfn::store::{StoreConfig, StoreKind};

/// Runs Amazon States Language state machines.
#[derive(Parser)]
#[command(name = "stepfn", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
        /// The order in which it takes due executions: `fifo` (by due time), `priority`
        /// (the executions' `stepfn:priority` first), `fair` (shared across `stepfn:tenant`
        /// keys by `stepfn:weight`).
        #[arg(long, value_enum, default_value_t = SchedulingArg::Fifo)]
        scheduling: SchedulingArg,
        /// Serve Prometheus metrics at `http://127.0.0.1:PORT/metrics` (0: a free port; the
        /// bound address is printed as `{"metrics": URL}`).
        #[arg(long, value_name = "PORT")]
        metrics_port: Option<u16>,
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
        /// An AWS Step Functions Local MockConfigFile; `stateMachineArn#TestCase` selects a case
        /// (default: $SFN_MOCK_CONFIG, as Step Functions Local reads it).
        #[arg(long)]
        mocks: Option<PathBuf>,
        /// HTTP Task connections (default: $STEPFN_CONNECTIONS); see `run --help`.
        #[arg(long)]
        connections: Option<PathBuf>,
        /// Executions driven at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// The account of the ARNs it makes (the region is the one each request's credentials
        /// name).
        #[arg(long, default_value = "111111111111")]
        account: String,
        /// Skip Wait states and retry intervals of the executions it drives.
        #[arg(long)]
        virtual_clock: bool,
        /// Lease length in seconds; on a shared store, another worker (or this serve restarted)
        /// takes over an execution this long after the serve driving it died.
        #[arg(long, default_value_t = 30)]
        lease_seconds: u64,
        /// The order in which it takes due executions: `fifo`, `priority` or `fair` (see
        /// `worker --help`).
        #[arg(long, value_enum, default_value_t = SchedulingArg::Fifo)]
        scheduling: SchedulingArg,
        /// Seconds a connection has to send a complete request head, counted from when it
        /// opened or got its previous response: idle connections and clients sending headers
        /// slowly are closed after it.
        #[arg(long, visible_alias = "idle-timeout-seconds", default_value_t = 10,
              value_parser = clap::value_parser!(u64).range(1..))]
        header_timeout_seconds: u64,
        /// Seconds reading a request body may take.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
        body_timeout_seconds: u64,
        /// Connections served at once; more wait until one closes.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
        max_connections: u64,
        /// A host name requests may be addressed to besides localhost and IP addresses (e.g.
        /// the name of a container); repeat for several. Requests to other names are refused.
        #[arg(long = "allow-host", value_name = "NAME")]
        allow_hosts: Vec<String>,
        /// Verify AWS Signature Version 4 on every API request against the credentials of FILE,
        /// an AWS shared credentials file (INI: `[profile]` sections with `aws_access_key_id`
        /// and `aws_secret_access_key`; every profile counts). Unsigned requests, unknown keys,
        /// wrong signatures and dates over 5 minutes off are refused with AWS's errors. Reading
        /// the console's pages, `GET /` and `/metrics` stay open; the console's data calls need
        /// a signature, so the console shows nothing under `--auth`.
        #[arg(long, value_name = "FILE")]
        auth: Option<PathBuf>,
        /// A credential requests may be signed with, as `ACCESS_KEY_ID:SECRET` (implies
        /// checking signatures, as `--auth` does); repeat for several. Prefer `--auth`: a
        /// command line is visible to other users of the machine.
        #[arg(long = "auth-key", value_name = "ACCESS_KEY_ID:SECRET")]
        auth_keys: Vec<String>,
    },
    /// Tests one state as the TestState API does: reads a TestState request (JSON, from FILE
    /// or stdin) and prints its response. `definition`, `input`, `variables`, `context` and
    /// `mock.result` may be given as JSON values instead of JSON texts.
    TestState {
        /// The request file; `-` or none reads stdin.
        request: Option<PathBuf>,
        /// HTTP Task connections (default: $STEPFN_CONNECTIONS); see `run --help`.
        #[arg(long)]
        connections: Option<PathBuf>,
    },
    /// Redrives a failed, timed-out or aborted execution of a durable store (as
    /// RedriveExecution does); workers drive it on. Prints `{"redriveDate": ...}`.
    Redrive {
        /// The execution ARN.
        arn: String,
        /// An idempotency token: the same token within 15 minutes answers the same redrive.
        #[arg(long)]
        client_token: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Starts one execution per slot of a schedule between two times (inclusive) whose
    /// execution does not exist yet, each with the input the slot would have had (by default
    /// `{"scheduledTime": ...}`); prints `{"slots", "started", "existing"}`. Running it again
    /// starts nothing new.
    Backfill {
        /// The schedule's name.
        schedule: String,
        /// The first time, ISO 8601 (`2026-01-01T00:00:00Z`; no offset is UTC).
        #[arg(long)]
        from: String,
        /// The last time, ISO 8601.
        #[arg(long)]
        to: String,
        /// The schedule group.
        #[arg(long, default_value = "default")]
        group: String,
        /// At most this many of its executions run at once (0: no limit).
        #[arg(long, default_value_t = 0)]
        max_concurrency: usize,
        /// A running `stepfn serve` to backfill through (its Scheduler and Step Functions
        /// APIs), instead of a store.
        #[arg(long, conflicts_with = "store")]
        endpoint: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
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
pub(crate) struct StoreArgs {
    /// Where executions live.
    #[arg(long, value_enum, default_value_t = StoreArg::Memory)]
    pub(crate) store: StoreArg,
    /// The DynamoDB table.
    #[arg(long, default_value = "stepfn")]
    pub(crate) table: String,
    /// The DynamoDB endpoint (default: the standard AWS settings, e.g.
    /// AWS_ENDPOINT_URL_DYNAMODB).
    #[arg(long)]
    pub(crate) dynamodb_endpoint: Option<String>,
}

impl StoreArgs {
    pub(crate) fn config(&self) -> StoreConfig {
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
pub(crate) enum StoreArg {
    /// In process; executions end with the process.
    Memory,
    /// DynamoDB: executions survive the process.
    Dynamodb,
}

#[derive(clap::Args, Clone)]
pub(crate) struct InputArgs {
    /// The execution input, as JSON.
    #[arg(long, conflicts_with = "input_file")]
    pub(crate) input: Option<String>,
    /// A file holding the execution input.
    #[arg(long)]
    pub(crate) input_file: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
pub(crate) struct MockArgs {
    /// An AWS Step Functions Local MockConfigFile.
    #[arg(long, requires = "test_case")]
    pub(crate) mocks: Option<PathBuf>,
    /// The test case of the mock config to use.
    #[arg(long, requires = "mocks")]
    pub(crate) test_case: Option<String>,
    /// HTTP Task connections: a JSON object from ConnectionArn to EventBridge's
    /// `AuthorizationType` and `AuthParameters` (default: $STEPFN_CONNECTIONS).
    #[arg(long)]
    pub(crate) connections: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The definition file.
    pub(crate) definition: PathBuf,
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// The state machine name (defaults to the file stem); matched against the mock config.
    #[arg(long)]
    pub(crate) name: Option<String>,
    #[command(flatten)]
    pub(crate) mocks: MockArgs,
    /// Skip waits and retry delays instantly.
    #[arg(long)]
    pub(crate) virtual_clock: bool,
    /// Include the history events.
    #[arg(long)]
    pub(crate) history: bool,
    /// A state machine that nested Step Functions tasks can start, under the ARN
    /// arn:aws:states:us-east-1:111111111111:stateMachine:NAME (repeatable).
    #[arg(long = "machine", value_name = "NAME=DEFINITION.json")]
    pub(crate) machines: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The output JSON on stdout; error and cause on stderr.
    Text,
    /// One JSON object with status, output, error, cause (and history).
    Json,
}

/// The worker scheduling policies, as `--scheduling` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchedulingArg {
    /// By due time, oldest first.
    Fifo,
    /// Higher `stepfn:priority` first, FIFO within a priority.
    Priority,
    /// Weighted-fair across `stepfn:tenant` keys, priority then FIFO within a key.
    Fair,
}

impl SchedulingArg {
    pub(crate) fn policy(self) -> stepfn::store::Scheduling {
        match self {
            SchedulingArg::Fifo => stepfn::store::Scheduling::Fifo,
            SchedulingArg::Priority => stepfn::store::Scheduling::Priority,
            SchedulingArg::Fair => stepfn::store::Scheduling::Fair,
        }
    }
}
