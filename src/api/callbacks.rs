//! Task token callbacks: SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat.

use super::*;

impl Service {
    /// SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat: a callback for the
    /// `.waitForTaskToken` task its token names.
    pub(super) async fn send_task(&self, req: &Value, what: &str) -> Result<Value, ApiError> {
        let token = field(req, "taskToken")?;
        let invalid = || err(Exception::InvalidToken, format!("Invalid Token: '{token}'"));
        let (arn, frame, wait) =
            crate::engine::task::parse_task_token(token).ok_or_else(invalid)?;
        let record = self.store.get_execution(&arn).await?.ok_or_else(invalid)?;
        let gone = || {
            err(
                Exception::TaskTimedOut,
                "Task Timed Out: 'Provided task does not exist anymore'",
            )
        };
        if record.status != Status::Running {
            return Err(gone());
        }
        let waiting = record
            .snapshot
            .as_ref()
            .is_some_and(|s| s.awaits_task(frame, wait));
        if !waiting {
            return Err(gone());
        }
        let kind = match what {
            "success" => {
                let text = field(req, "output")?;
                let output: Value = serde_json::from_str(text)
                    .map_err(|e| err(Exception::InvalidOutput, format!("Invalid Output: '{e}'")))?;
                InboxKind::Success { output }
            }
            "failure" => InboxKind::Failure {
                error: opt_field(req, "error")?.map(str::to_string),
                cause: opt_field(req, "cause")?.map(str::to_string),
            },
            _ => InboxKind::Heartbeat,
        };
        let message = InboxMessage {
            frame,
            wait,
            kind,
            time: now_ms(),
        };
        if !self.store.deliver(&arn, &message).await? {
            return Err(gone());
        }
        if what != "heartbeat" {
            crate::runtime::telemetry::activity_answered(token, what == "success", now_ms());
        }
        Ok(json!({}))
    }
}
