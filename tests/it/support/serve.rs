//! Shared by tests that talk to `stepfn serve`: start it on a free port of 127.0.0.1 (from a
//! prepared command, so a test sets its own environment), and call its API with plain JSON.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running `stepfn serve`, killed on drop.
pub(crate) struct Server {
    child: Child,
    /// Where it listens.
    pub(crate) endpoint: String,
}

impl Server {
    /// Runs `stepfn` (the command, environment set) as `serve --port 0 <extra>`.
    pub(crate) fn start(mut stepfn: Command, extra: &[&str]) -> Server {
        let mut child = stepfn
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("stepfn serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("serve prints its endpoint");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("serve's first line is not JSON ({e}): {line}"));
        let endpoint = v["endpoint"].as_str().expect("endpoint").to_string();
        Server { child, endpoint }
    }

    /// Calls `operation` (AWS JSON 1.0) with `body`; the answer, error or not.
    pub(crate) fn api(&self, operation: &str, body: Value) -> Value {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let answer = reqwest::Client::new()
                .post(&self.endpoint)
                .header("X-Amz-Target", format!("AWSStepFunctions.{operation}"))
                .header("Content-Type", "application/x-amz-json-1.0")
                .body(body.to_string())
                .send()
                .await
                .expect("request");
            let text = answer.text().await.expect("body");
            serde_json::from_str(&text).expect("JSON answer")
        })
    }
}

impl Server {
    /// The `serve` process, to signal it or see it exit.
    pub(crate) fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
