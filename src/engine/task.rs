//! The seam between the engine and the integrations: what a Task state asks the driver to
//! invoke ([`TaskRequest`]), its idempotency key, and the task tokens of callback tasks.

use std::sync::Arc;

use serde_json::Value;

use crate::asl::resource::Resource;
use crate::engine::execution::FrameId;

/// A task invocation, as the driver hands it to a task invoker.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskRequest {
    /// The execution the task belongs to.
    pub execution_arn: Arc<str>,
    /// The Task state's name.
    pub state_name: Arc<str>,
    /// The `Resource` ARN.
    pub resource: Resource,
    /// The effective parameters.
    pub input: Value,
    /// Attempt number (0 for the first try).
    pub attempt: u32,
    /// Timeout in seconds, if any.
    pub timeout_seconds: Option<u64>,
    /// Heartbeat in seconds, if any.
    pub heartbeat_seconds: Option<u64>,
    /// The frame that runs the task (part of the idempotency key).
    pub frame: FrameId,
    /// When the task times out (`TimeoutSeconds` after it started), ms since the epoch.
    #[serde(default)]
    pub timeout_at: Option<i64>,
    /// When the task times out without a heartbeat, ms since the epoch (moved by heartbeats).
    #[serde(default)]
    pub heartbeat_at: Option<i64>,
    /// The task token, for `.waitForTaskToken` and activity tasks.
    #[serde(default)]
    pub token: Option<String>,
    /// The request was accepted (TaskSubmitted is in the history).
    #[serde(default)]
    pub submitted: bool,
}

/// The task token of a `.waitForTaskToken` task: names the execution, frame and wait, so a
/// callback finds its task and a stale one is recognised.
pub fn task_token(execution_arn: &str, frame: FrameId, wait: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("v1|{frame}|{wait}|{execution_arn}"))
}

/// Reads a task token: (execution ARN, frame, wait); `None` when it is not one of ours.
pub fn parse_task_token(token: &str) -> Option<(String, FrameId, u64)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(4, '|');
    if parts.next()? != "v1" {
        return None;
    }
    let frame = parts.next()?.parse().ok()?;
    let wait = parts.next()?.parse().ok()?;
    let arn = parts.next()?.to_string();
    Some((arn, frame, wait))
}

impl TaskRequest {
    /// A stable key for at-least-once de-duplication: execution, frame, state and attempt.
    /// A re-run of the same attempt after a crash carries the same key.
    pub fn idempotency_key(&self) -> String {
        format!(
            "{}#{}#{}#{}",
            self.execution_arn, self.frame, self.state_name, self.attempt
        )
    }
}

/// The resource of a Map Run's requests to the driver.
pub const MAP_RUN_RESOURCE: &str = "arn:aws:states:::mapRun";

/// The most child executions a Map Run runs at once when `MaxConcurrency` is 0 or absent.
pub const DEFAULT_MAX_CONCURRENCY: usize = 10_000;

/// True when `request` is a Map Run's.
pub fn is_map_run(request: &TaskRequest) -> bool {
    request.resource.as_str() == MAP_RUN_RESOURCE
}
