//! What is stored of a schedule and of an event rule: the documents the Scheduler and
//! EventBridge APIs write (as store resources of kinds [`SCHEDULE_KIND`], [`GROUP_KIND`] and
//! [`RULE_KIND`]) and the runtime reads to fire slots and match events. A schedule keeps its
//! firing state in the same document (`fired`, `buffered`, `since`), so one compare-and-swap
//! on the resource's version moves it forward: the API's writes keep that state, and a worker
//! that lost the race reads again.

use serde::{Deserialize, Serialize};

use super::expression::{ExpressionError, Schedule};
use super::slot::{CatchUp, Overlap};

/// The resource kind of schedules; key `<group>/<name>` (see [`schedule_key`]).
pub const SCHEDULE_KIND: &str = "schedule";
/// The resource kind of schedule groups; key the group's name.
pub const GROUP_KIND: &str = "schedule-group";
/// The resource kind of event rules; key `<event bus>/<rule name>` (see [`rule_key`]).
pub const RULE_KIND: &str = "event-rule";

/// The key of schedule `name` of group `group`.
pub fn schedule_key(group: &str, name: &str) -> String {
    format!("{group}/{name}")
}

/// The key of rule `name` on event bus `bus`.
pub fn rule_key(bus: &str, name: &str) -> String {
    format!("{bus}/{name}")
}

/// A schedule, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRecord {
    /// `Name`.
    pub name: String,
    /// `GroupName` (`default` when none was given).
    pub group: String,
    /// `arn:aws:scheduler:<region>:<account>:schedule/<group>/<name>`.
    pub arn: String,
    /// `ScheduleExpression`: `at(...)`, `rate(...)` or `cron(...)`.
    pub expression: String,
    /// `ScheduleExpressionTimezone` (`None`: UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `StartDate`, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<i64>,
    /// `EndDate`, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<i64>,
    /// `State`: `ENABLED` or `DISABLED`.
    pub state: String,
    /// `FlexibleTimeWindow.MaximumWindowInMinutes` when its `Mode` is `FLEXIBLE`; `None` when
    /// `OFF`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<i64>,
    /// `ActionAfterCompletion`: `NONE` or `DELETE`.
    pub action_after_completion: String,
    /// `Description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `KmsKeyArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// `Target`.
    pub target: ScheduleTarget,
    /// `CreationDate`, ms since the epoch.
    pub created: i64,
    /// `LastModificationDate`, ms since the epoch.
    pub modified: i64,
    /// stepfn's catch-up policy for slots missed while no worker ran: `none`, `latest`, `all`.
    #[serde(default = "default_catch_up")]
    pub catch_up: String,
    /// stepfn's overlap policy: `allow`, `skip`, `buffer-one`.
    #[serde(default = "default_overlap")]
    pub overlap: String,
    /// Firing state: where slots count from (creation, or the last change of the expression,
    /// window or state), ms since the epoch.
    pub since: i64,
    /// Firing state: the latest slot fired (started, skipped or buffered), ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired: Option<i64>,
    /// Firing state: a slot kept by `buffer-one` until the running execution ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffered: Option<i64>,
    /// Firing state: the execution the latest started slot started (for the overlap policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_execution: Option<String>,
}

fn default_catch_up() -> String {
    "none".into()
}

fn default_overlap() -> String {
    "allow".into()
}

/// A schedule's `Target` (a state machine, for stepfn to start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTarget {
    /// `Arn`: the state machine (or version, or alias) to start.
    pub arn: String,
    /// `RoleArn`.
    pub role_arn: String,
    /// `Input`: the execution's input text (context attributes replaced when it fires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// `RetryPolicy.MaximumEventAgeInSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_event_age_seconds: Option<i64>,
    /// `RetryPolicy.MaximumRetryAttempts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_attempts: Option<i64>,
    /// `DeadLetterConfig.Arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_arn: Option<String>,
}

impl ScheduleRecord {
    /// The schedule's expression in its zone and window.
    ///
    /// # Errors
    /// AWS's message when the stored expression or time zone is not valid.
    pub fn schedule(&self) -> Result<Schedule, ExpressionError> {
        Schedule::new(
            &self.expression,
            self.timezone.as_deref(),
            self.start_date,
            self.end_date,
            self.created,
        )
    }

    /// Whether the schedule fires (`State` is `ENABLED`).
    pub fn enabled(&self) -> bool {
        self.state == "ENABLED"
    }

    /// The flexible time window, ms (0 when `OFF`).
    pub fn window_ms(&self) -> i64 {
        self.window_minutes.unwrap_or(0).max(0) * 60_000
    }

    /// The catch-up policy (`none` when the stored name is unknown).
    pub fn catch_up(&self) -> CatchUp {
        CatchUp::parse(&self.catch_up).unwrap_or_default()
    }

    /// The overlap policy (`allow` when the stored name is unknown).
    pub fn overlap(&self) -> Overlap {
        Overlap::parse(&self.overlap).unwrap_or_default()
    }

    /// Whether the schedule deletes itself once its last slot fired.
    pub fn deletes_when_done(&self) -> bool {
        self.action_after_completion == "DELETE"
    }
}

/// An event rule, as stored (EventBridge's `PutRule` and `PutTargets`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRecord {
    /// `Name`.
    pub name: String,
    /// `EventBusName` (`default` when none was given).
    pub bus: String,
    /// `arn:aws:events:<region>:<account>:rule/<name>` (`rule/<bus>/<name>` off the default
    /// bus).
    pub arn: String,
    /// `EventPattern`, as the caller wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// `ScheduleExpression` of a scheduled rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// `State`: `ENABLED` or `DISABLED`.
    pub state: String,
    /// `Description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `RoleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The rule's targets, by `Id`.
    #[serde(default)]
    pub targets: Vec<RuleTarget>,
    /// Tags, key to value.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Creation time, ms since the epoch.
    pub created: i64,
}

/// A rule's target (`PutTargets`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleTarget {
    /// `Id`.
    pub id: String,
    /// `Arn`: the state machine to start.
    pub arn: String,
    /// `RoleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `Input`: a constant input instead of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// `InputPath`: the part of the event to pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    /// `InputTransformer` (`InputPathsMap`, `InputTemplate`), as the caller sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<serde_json::Value>,
}
