//! The pinned Python clients (boto3, the AWS CLI) that `infra/python-clients.sh` installs.

use std::path::PathBuf;
use std::process::Command;

use super::lambda_watch::root;

/// The venv holding boto3 and the AWS CLI, installed on first use.
pub(crate) fn venv() -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("infra/python-clients.sh"))
        .current_dir(root())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "infra/python-clients.sh failed (needs python3 with venv: apt-get install python3-venv): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    PathBuf::from(path)
}

/// Runs the client script `tests/clients/<script>` with `--stepfn <binary> --moto <moto>
/// --serve <serve>` and `extra` arguments, under test credentials; panics with its output
/// unless it succeeds. Its last line (the checks it passed).
pub(crate) fn run_client(script: &str, moto: &str, serve: &str, extra: &[&str]) -> String {
    let out = Command::new(venv().join("bin/python"))
        .arg(root().join("tests/clients").join(script))
        .args(["--stepfn", env!("CARGO_BIN_EXE_stepfn")])
        .args(["--moto", moto, "--serve", serve])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.trim().lines().last().unwrap_or_default().to_string()
}
