//! ASL failures as data: [`StatesError`] and the predefined `States.*` error names.
//!
//! A `StatesError` flows through retriers and catchers and into history; it is never a host
//! error. Host errors (a broken store, a bad CLI flag) have their own `thiserror` enums.

use serde::{Deserialize, Serialize};

/// Matches any error name in `ErrorEquals` (except `States.Runtime`, which nothing catches).
pub const ALL: &str = "States.ALL";
/// A task failed.
pub const TASK_FAILED: &str = "States.TaskFailed";
/// A state or the execution ran past its `TimeoutSeconds`.
pub const TIMEOUT: &str = "States.Timeout";
/// The ASL spec's name for a missed heartbeat; AWS records one as [`TIMEOUT`], and so does
/// stepfn.
pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
/// An unrecoverable runtime failure (bad path, bad type); never caught nor retried.
pub const RUNTIME: &str = "States.Runtime";
/// `ResultPath` could not be applied to the state input.
pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
/// A path in `Parameters` or `ItemSelector` matched nothing.
pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
/// A Parallel branch failed.
pub const BRANCH_FAILED: &str = "States.BranchFailed";
/// No Choice rule matched and there is no `Default`.
pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
/// An intrinsic function failed.
pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
/// A Map state failed more iterations than it tolerates.
pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
/// A state input or output is over the payload limit.
pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
/// A Map item could not be read.
pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
/// Not enough permission for a task.
pub const PERMISSIONS: &str = "States.Permissions";
/// A JSONata expression failed or returned the wrong type.
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// A failure as ASL sees it: matched by `ErrorEquals`, shown in history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatesError {
    /// The error name (`States.Timeout`, `Lambda.ServiceException`, a user name...).
    pub error: String,
    /// The human-readable cause, if any.
    pub cause: Option<String>,
    /// For an evaluation failure, the field that failed (`Items`, `Assign/result`,
    /// `Timestamp`): the `location` of the `EvaluationFailed` history event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl StatesError {
    /// Builds an error with a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError {
            error: error.into(),
            cause: Some(cause.into()),
            location: None,
        }
    }

    /// Builds an error with an optional cause.
    pub fn with_cause(error: impl Into<String>, cause: Option<String>) -> Self {
        StatesError {
            error: error.into(),
            cause,
            location: None,
        }
    }

    /// The error with the field it failed in.
    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// Builds a `States.Runtime` error with a cause.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(RUNTIME, cause)
    }

    /// True if this is `States.Runtime`, which no retrier or catcher handles.
    pub fn is_runtime(&self) -> bool {
        self.error == RUNTIME
    }
}

impl std::fmt::Display for StatesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {}", self.error, cause),
            None => f.write_str(&self.error),
        }
    }
}

/// True if `ErrorEquals` names `error`, following ASL's matching rules.
///
/// Spec: "States.ALL" matches any error name, except `States.Runtime`, which is terminal
/// (Step Functions does not catch it even when named) and `States.DataLimitExceeded`, which
/// only its own name matches. `States.TaskFailed` matches any error except `States.Timeout`.
pub fn error_matches(names: &[String], error: &str) -> bool {
    if error == RUNTIME {
        return false;
    }
    if error == DATA_LIMIT_EXCEEDED {
        return names.iter().any(|n| n == error);
    }
    names
        .iter()
        .any(|n| n == error || n == ALL || (n == TASK_FAILED && error != TIMEOUT))
}
