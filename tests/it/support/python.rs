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
