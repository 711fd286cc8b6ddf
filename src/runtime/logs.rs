//! Execution logs, as a state machine's `loggingConfiguration` asks for them: each history
//! event at the configured level (ALL, ERROR, FATAL) as the log event AWS writes to CloudWatch
//! Logs (`id`, `type`, `details`, `previous_event_id`, `event_timestamp`, `execution_arn`,
//! `redrive_count`; input and output only with `includeExecutionData`), one JSON object per
//! line, to stdout or to the file `STEPFN_EXECUTION_LOGS` names.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Map, Value};

use crate::engine::history::HistoryEvent;

/// The levels that log something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Every event.
    All,
    /// Error events (failures, time-outs, aborts, Fail states entered).
    Error,
    /// The execution's failure, time-out or abort.
    Fatal,
}

/// What a state machine logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// The level.
    pub level: Level,
    /// Whether input and output are logged.
    pub include_data: bool,
}

impl LogConfig {
    /// The configuration of a `loggingConfiguration` object; `None` for level OFF or none.
    pub fn from_json(logging: Option<&Value>) -> Option<LogConfig> {
        let logging = logging?;
        let level = match logging.get("level").and_then(Value::as_str) {
            Some("ALL") => Level::All,
            Some("ERROR") => Level::Error,
            Some("FATAL") => Level::Fatal,
            _ => return None,
        };
        Some(LogConfig {
            level,
            include_data: logging
                .get("includeExecutionData")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// Whether an event of `kind` is logged at this level.
    pub fn logs(&self, kind: &str) -> bool {
        let fatal = matches!(
            kind,
            "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut"
        );
        match self.level {
            Level::All => true,
            Level::Fatal => fatal,
            Level::Error => {
                fatal
                    || kind == "FailStateEntered"
                    || kind.ends_with("Failed")
                    || kind.ends_with("TimedOut")
                    || kind.ends_with("Aborted")
            }
        }
    }
}

/// The log event AWS writes for `event` of execution `arn`.
pub fn log_event(config: &LogConfig, arn: &str, redrive_count: u32, event: &HistoryEvent) -> Value {
    let api = event.to_api_json();
    let mut details = Map::new();
    if let Some(Value::Object(d)) = api
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")))
        .map(|(_, v)| v)
    {
        for (k, v) in d {
            let data = matches!(
                k.as_str(),
                "input" | "inputDetails" | "output" | "outputDetails" | "parameters"
            );
            if config.include_data || !data {
                details.insert(k.clone(), v.clone());
            }
        }
    }
    json!({
        "id": event.id.to_string(),
        "type": event.event_type,
        "details": details,
        "previous_event_id": api.get("previousEventId").and_then(Value::as_u64).unwrap_or(0).to_string(),
        "event_timestamp": api.get("timestamp").and_then(Value::as_f64)
            .map(|t| ((t * 1000.0).round() as i64).to_string()).unwrap_or_default(),
        "execution_arn": arn,
        "redrive_count": redrive_count.to_string(),
    })
}

/// Where execution logs go: the file `STEPFN_EXECUTION_LOGS` names (appended), or stdout.
fn sink() -> &'static Mutex<Box<dyn Write + Send>> {
    static SINK: OnceLock<Mutex<Box<dyn Write + Send>>> = OnceLock::new();
    SINK.get_or_init(|| {
        let file = std::env::var("STEPFN_EXECUTION_LOGS")
            .ok()
            .filter(|p| !p.is_empty() && p != "-")
            .and_then(|path| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| {
                        tracing::warn!(path = %path, error = %e, "execution logs go to stdout");
                    })
                    .ok()
            });
        let out: Box<dyn Write + Send> = match file {
            Some(f) => Box::new(f),
            None => Box::new(std::io::stdout()),
        };
        Mutex::new(out)
    })
}

/// Logs `events` of execution `arn` as `config` asks.
pub fn write(config: &LogConfig, arn: &str, redrive_count: u32, events: &[HistoryEvent]) {
    let mut lines = String::new();
    for event in events.iter().filter(|e| config.logs(&e.event_type)) {
        lines.push_str(&log_event(config, arn, redrive_count, event).to_string());
        lines.push('\n');
    }
    if lines.is_empty() {
        return;
    }
    let mut out = sink().lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = out.write_all(lines.as_bytes()).and_then(|()| out.flush()) {
        tracing::warn!(error = %e, "cannot write execution logs");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_log_what_aws_logs() {
        let all = LogConfig::from_json(Some(&json!({"level": "ALL"}))).expect("on");
        let error = LogConfig::from_json(Some(&json!({"level": "ERROR"}))).expect("on");
        let fatal = LogConfig::from_json(Some(&json!({"level": "FATAL"}))).expect("on");
        assert!(LogConfig::from_json(Some(&json!({"level": "OFF"}))).is_none());
        assert!(all.logs("PassStateEntered"));
        assert!(!error.logs("PassStateEntered") && error.logs("FailStateEntered"));
        assert!(error.logs("TaskFailed") && error.logs("ExecutionFailed"));
        assert!(!fatal.logs("FailStateEntered") && fatal.logs("ExecutionFailed"));
        assert!(!all.include_data);
    }
}
