//! EventBridge Scheduler's schedules: CreateSchedule, GetSchedule, UpdateSchedule,
//! DeleteSchedule and ListSchedules, as functions of the request JSON (members under their model
//! names, path and query parameters merged in), independent of HTTP: `serve` reaches them
//! through the REST-JSON wire in `scheduler_http`, the Lambda function by name through
//! [`Service::scheduler_call`]. Schedule groups and their tags are in `schedule_groups`.
//!
//! What is stored is the [`ScheduleRecord`] the runtime's sweep reads to fire slots; the sweep
//! writes its firing state into the same document, so every write of an existing schedule is a
//! compare-and-swap on the version read, retried from a fresh read when it loses.

use serde_json::{json, Map, Value};

use super::schedule_groups::{group_policies, load_group};
use super::scheduler_input::*;
use super::*;
use crate::runtime::arn::split_machine;
use crate::scheduler::expression::{Expression, Schedule};
use crate::scheduler::record::{schedule_key, ScheduleRecord, ScheduleTarget, SCHEDULE_KIND};
use crate::store::Expect;

/// The operations of the Scheduler API (service model `scheduler-2021-06-30`).
pub const SCHEDULER_OPERATIONS: &[&str] = &[
    "CreateSchedule",
    "CreateScheduleGroup",
    "DeleteSchedule",
    "DeleteScheduleGroup",
    "GetSchedule",
    "GetScheduleGroup",
    "ListScheduleGroups",
    "ListSchedules",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
    "UpdateSchedule",
];

/// The group of a schedule created without `GroupName`; it always exists.
pub(super) const DEFAULT_GROUP: &str = "default";

/// How many times a write that lost a compare-and-swap to the sweep is tried again.
pub(super) const CAS_ATTEMPTS: usize = 20;

/// AWS's `RetryPolicy` when none is given: a day, 185 attempts.
const DEFAULT_MAX_EVENT_AGE: i64 = 86_400;
const DEFAULT_MAX_RETRY_ATTEMPTS: i64 = 185;

/// A rate or cron schedule's `StartDate` may lie at most this far in the past (ms).
const START_DATE_SLACK_MS: i64 = 5 * 60_000;

/// The group a request names (`GroupName`), `default` when none.
fn group_member(req: &Value) -> Result<&str, ApiError> {
    let group = opt_str(req, "GroupName", "GroupName", 1, 64)?.unwrap_or(DEFAULT_GROUP);
    check_resource_name(group, "GroupName")?;
    Ok(group)
}

/// The message of a schedule that is not there.
pub(super) fn schedule_not_found(name: &str) -> ApiError {
    err(
        Exception::ResourceNotFoundException,
        format!("Schedule {name} does not exist."),
    )
}

/// A stored document that does not read as what it should be: a store fault, not the caller's.
pub(super) fn corrupt(kind: &str, key: &str, e: serde_json::Error) -> ApiError {
    err(
        Exception::InternalFailure,
        format!("stored {kind} {key} is not readable: {e}"),
    )
}

fn read_schedule(resource: &crate::store::Resource) -> Result<ScheduleRecord, ApiError> {
    serde_json::from_value(resource.body.clone())
        .map_err(|e| corrupt(SCHEDULE_KIND, &resource.key, e))
}

/// `arn:aws:iam::<12 digits>:role/<path and name>` (the model's `RoleArn` pattern).
fn valid_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(":iam::") else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role/") else {
        return false;
    };
    partition
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '-')
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !role.is_empty()
        && role
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@/-".contains(c))
}

/// `arn:aws:states:<region>:<12 digits>:stateMachine:<name>[:<version or alias>]`.
fn valid_machine_arn(arn: &str) -> bool {
    let Some(parsed) = StatesArn::parse(arn) else {
        return false;
    };
    split_machine(arn).is_some()
        && !parsed.region.is_empty()
        && parsed.account.len() == 12
        && parsed.account.chars().all(|c| c.is_ascii_digit())
        && parsed.rest.split(':').next().is_some_and(valid_name)
}

/// The request's `Target`, checked: a state machine to start, with a role, an input that is
/// JSON, and a retry policy (AWS's defaults for what is left out).
fn target_of(req: &Value) -> Result<ScheduleTarget, ApiError> {
    let target = opt_struct(req, "Target", "Target")?.ok_or_else(|| missing("Target"))?;
    let arn = req_str(target, "Arn", "Target.Arn", 1, 1600)?;
    if !valid_machine_arn(arn) {
        return Err(invalid(format!(
            "Invalid Target Arn {arn}: stepfn schedules start Step Functions state machines \
             (arn:aws:states:<region>:<account>:stateMachine:<name>)."
        )));
    }
    let role_arn = req_str(target, "RoleArn", "Target.RoleArn", 1, 1600)?;
    if !valid_role_arn(role_arn) {
        return Err(constraint(
            &json!(role_arn),
            "target.roleArn",
            r"Member must satisfy regular expression pattern: arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+",
        ));
    }
    let input = opt_str(target, "Input", "Target.Input", 1, 256 * 1024)?;
    if let Some(text) = input {
        // Spec: "If you are configuring a templated Lambda, AWS Step Functions, or Amazon
        // EventBridge target, the input must be a well-formed JSON."
        if serde_json::from_str::<Value>(text).is_err() {
            return Err(invalid(
                "Target Input must be well-formed JSON for a Step Functions target.",
            ));
        }
    }
    let retry = opt_struct(target, "RetryPolicy", "Target.RetryPolicy")?;
    let (max_age, max_attempts) = match retry {
        Some(policy) => (
            opt_int(
                policy,
                "MaximumEventAgeInSeconds",
                "Target.RetryPolicy.MaximumEventAgeInSeconds",
                60,
                86_400,
            )?,
            opt_int(
                policy,
                "MaximumRetryAttempts",
                "Target.RetryPolicy.MaximumRetryAttempts",
                0,
                185,
            )?,
        ),
        None => (None, None),
    };
    let dead_letter = match opt_struct(target, "DeadLetterConfig", "Target.DeadLetterConfig")? {
        Some(config) => opt_str(config, "Arn", "Target.DeadLetterConfig.Arn", 1, 1600)?,
        None => None,
    };
    Ok(ScheduleTarget {
        arn: arn.to_string(),
        role_arn: role_arn.to_string(),
        input: input.map(str::to_string),
        max_event_age_seconds: Some(max_age.unwrap_or(DEFAULT_MAX_EVENT_AGE)),
        max_retry_attempts: Some(max_attempts.unwrap_or(DEFAULT_MAX_RETRY_ATTEMPTS)),
        dead_letter_arn: dead_letter.map(str::to_string),
    })
}

/// `FlexibleTimeWindow`: the window in minutes when its mode is `FLEXIBLE`, `None` when `OFF`.
fn window_of(req: &Value) -> Result<Option<i64>, ApiError> {
    let window = opt_struct(req, "FlexibleTimeWindow", "FlexibleTimeWindow")?
        .ok_or_else(|| missing("FlexibleTimeWindow"))?;
    let mode = opt_enum(
        window,
        "Mode",
        "FlexibleTimeWindow.Mode",
        &["OFF", "FLEXIBLE"],
    )?
    .ok_or_else(|| missing("FlexibleTimeWindow.Mode"))?;
    let minutes = opt_int(
        window,
        "MaximumWindowInMinutes",
        "FlexibleTimeWindow.MaximumWindowInMinutes",
        1,
        1440,
    )?;
    match (mode, minutes) {
        ("FLEXIBLE", None) => Err(invalid(
            "MaximumWindowInMinutes must be provided when the FlexibleTimeWindow Mode is FLEXIBLE.",
        )),
        ("FLEXIBLE", minutes) => Ok(minutes),
        _ => Ok(None),
    }
}

/// stepfn's catch-up and overlap policies of a schedule: the group's `stepfn:catch-up` and
/// `stepfn:overlap` tags, else the request's `CatchUp` and `Overlap`, else the defaults.
fn policies_of(
    req: &Value,
    group: (Option<String>, Option<String>),
) -> Result<(String, String), ApiError> {
    let catch_up = match group.0 {
        Some(tagged) => tagged,
        None => match opt_str(req, "CatchUp", "CatchUp", 1, 64)? {
            Some(name) => check_catch_up(name, "CatchUp")?,
            None => "none".to_string(),
        },
    };
    let overlap = match group.1 {
        Some(tagged) => tagged,
        None => match opt_str(req, "Overlap", "Overlap", 1, 64)? {
            Some(name) => check_overlap(name, "Overlap")?,
            None => "allow".to_string(),
        },
    };
    Ok((catch_up, overlap))
}

/// What a Create or Update request says of a schedule, checked.
#[derive(Clone)]
struct Request {
    name: String,
    group: String,
    expression: String,
    timezone: Option<String>,
    start_date: Option<i64>,
    end_date: Option<i64>,
    state: String,
    window_minutes: Option<i64>,
    action_after_completion: String,
    description: Option<String>,
    kms_key_arn: Option<String>,
    target: ScheduleTarget,
}

impl Request {
    /// Reads and checks `req` at `now` (ms): every member, then the expression in its time zone
    /// and window.
    fn parse(req: &Value, now: i64) -> Result<Request, ApiError> {
        let name = name_member(req, "Name")?.to_string();
        let group = group_member(req)?.to_string();
        let expression = req_str(req, "ScheduleExpression", "ScheduleExpression", 1, 256)?;
        let timezone = opt_str(
            req,
            "ScheduleExpressionTimezone",
            "ScheduleExpressionTimezone",
            1,
            50,
        )?;
        let start_date = opt_date(req, "StartDate")?;
        let end_date = opt_date(req, "EndDate")?;
        let state = opt_enum(req, "State", "State", &["ENABLED", "DISABLED"])?.unwrap_or("ENABLED");
        let action = opt_enum(
            req,
            "ActionAfterCompletion",
            "ActionAfterCompletion",
            &["NONE", "DELETE"],
        )?
        .unwrap_or("NONE");
        let description = opt_str(req, "Description", "Description", 0, 512)?;
        let kms_key_arn = opt_str(req, "KmsKeyArn", "KmsKeyArn", 1, 2048)?;
        if let Some(token) = opt_str(req, "ClientToken", "ClientToken", 1, 64)? {
            if !token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(constraint(
                    &json!(token),
                    "clientToken",
                    "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+",
                ));
            }
        }
        let target = target_of(req)?;
        let window_minutes = window_of(req)?;
        let schedule = Schedule::new(expression, timezone, start_date, end_date, now)
            .map_err(|e| invalid(e.0))?;
        if let (Some(start), false) = (
            start_date,
            matches!(schedule.expression(), Expression::At(_)),
        ) {
            // EventBridge Scheduler ignores StartDate for one-time schedules; for recurring ones
            // it refuses one more than 5 minutes in the past.
            if start < now - START_DATE_SLACK_MS {
                return Err(invalid(
                    "The StartDate you specify cannot be earlier than 5 minutes ago.",
                ));
            }
        }
        Ok(Request {
            name,
            group,
            expression: expression.to_string(),
            timezone: timezone.map(str::to_string),
            start_date,
            end_date,
            state: state.to_string(),
            window_minutes,
            action_after_completion: action.to_string(),
            description: description.map(str::to_string),
            kms_key_arn: kms_key_arn.map(str::to_string),
            target,
        })
    }

    /// The stored schedule: new (`previous` None; its firing state starts now) or replacing
    /// `previous` (its firing state kept; counting slots again from now when the expression,
    /// time zone, start date or state changed).
    fn into_record(
        self,
        arn: String,
        policies: (String, String),
        now: i64,
        previous: Option<&ScheduleRecord>,
    ) -> ScheduleRecord {
        let (created, since, fired, buffered, last_execution) = match previous {
            None => (now, now, None, None, None),
            Some(old) => {
                let changed = old.expression != self.expression
                    || old.timezone != self.timezone
                    || old.start_date != self.start_date
                    || old.state != self.state;
                (
                    old.created,
                    if changed { now } else { old.since },
                    old.fired,
                    old.buffered,
                    old.last_execution.clone(),
                )
            }
        };
        ScheduleRecord {
            name: self.name,
            group: self.group,
            arn,
            expression: self.expression,
            timezone: self.timezone,
            start_date: self.start_date,
            end_date: self.end_date,
            state: self.state,
            window_minutes: self.window_minutes,
            action_after_completion: self.action_after_completion,
            description: self.description,
            kms_key_arn: self.kms_key_arn,
            target: self.target,
            created,
            modified: now,
            catch_up: policies.0,
            overlap: policies.1,
            since,
            fired,
            buffered,
            last_execution,
        }
    }
}

/// GetSchedule's answer for `r`.
fn schedule_json(r: &ScheduleRecord) -> Value {
    let mut out = Map::new();
    out.insert("Arn".into(), json!(r.arn));
    out.insert("GroupName".into(), json!(r.group));
    out.insert("Name".into(), json!(r.name));
    out.insert("ScheduleExpression".into(), json!(r.expression));
    out.insert(
        "ScheduleExpressionTimezone".into(),
        json!(r.timezone.as_deref().unwrap_or("UTC")),
    );
    if let Some(start) = r.start_date {
        out.insert("StartDate".into(), epoch(start));
    }
    if let Some(end) = r.end_date {
        out.insert("EndDate".into(), epoch(end));
    }
    if let Some(description) = &r.description {
        out.insert("Description".into(), json!(description));
    }
    out.insert("State".into(), json!(r.state));
    out.insert("CreationDate".into(), epoch(r.created));
    out.insert("LastModificationDate".into(), epoch(r.modified));
    if let Some(kms) = &r.kms_key_arn {
        out.insert("KmsKeyArn".into(), json!(kms));
    }
    let mut target = Map::new();
    target.insert("Arn".into(), json!(r.target.arn));
    target.insert("RoleArn".into(), json!(r.target.role_arn));
    if let Some(input) = &r.target.input {
        target.insert("Input".into(), json!(input));
    }
    let mut retry = Map::new();
    if let Some(age) = r.target.max_event_age_seconds {
        retry.insert("MaximumEventAgeInSeconds".into(), json!(age));
    }
    if let Some(attempts) = r.target.max_retry_attempts {
        retry.insert("MaximumRetryAttempts".into(), json!(attempts));
    }
    target.insert("RetryPolicy".into(), Value::Object(retry));
    if let Some(dlq) = &r.target.dead_letter_arn {
        target.insert("DeadLetterConfig".into(), json!({"Arn": dlq}));
    }
    out.insert("Target".into(), Value::Object(target));
    out.insert(
        "FlexibleTimeWindow".into(),
        match r.window_minutes {
            Some(minutes) => json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": minutes}),
            None => json!({"Mode": "OFF"}),
        },
    );
    out.insert(
        "ActionAfterCompletion".into(),
        json!(r.action_after_completion),
    );
    Value::Object(out)
}

/// ListSchedules' summary of `r`.
fn summary_json(r: &ScheduleRecord) -> Value {
    json!({
        "Arn": r.arn,
        "Name": r.name,
        "GroupName": r.group,
        "State": r.state,
        "CreationDate": epoch(r.created),
        "LastModificationDate": epoch(r.modified),
        "Target": {"Arn": r.target.arn},
    })
}

impl Service {
    /// Runs one operation of the EventBridge Scheduler API (`CreateSchedule`, ...; see
    /// [`SCHEDULER_OPERATIONS`]) on its request JSON, members under their model names.
    ///
    /// # Errors
    /// The API error, named as the Scheduler service names it.
    pub async fn scheduler_call(&self, operation: &str, req: Value) -> Result<Value, ApiError> {
        self.scheduler_call_as(operation, req, http::Caller::default())
            .await
    }

    /// [`Service::scheduler_call`] for `caller`: schedules and groups it creates are made in its
    /// region.
    ///
    /// # Errors
    /// The API error, named as the Scheduler service names it.
    pub async fn scheduler_call_as(
        &self,
        operation: &str,
        req: Value,
        caller: http::Caller,
    ) -> Result<Value, ApiError> {
        if !req.is_object() {
            return Err(not_an_object());
        }
        let place = self.place(&caller);
        match operation {
            "CreateSchedule" => self.create_schedule(&req, &place).await,
            "GetSchedule" => self.get_schedule(&req).await,
            "UpdateSchedule" => self.update_schedule(&req).await,
            "DeleteSchedule" => self.delete_schedule(&req).await,
            "ListSchedules" => self.list_schedules(&req).await,
            "CreateScheduleGroup" => self.create_schedule_group(&req, &place).await,
            "GetScheduleGroup" => self.get_schedule_group(&req, &place).await,
            "DeleteScheduleGroup" => self.delete_schedule_group(&req).await,
            "ListScheduleGroups" => self.list_schedule_groups(&req, &place).await,
            "TagResource" => self.tag_schedule_group(&req, &place).await,
            "UntagResource" => self.untag_schedule_group(&req, &place).await,
            "ListTagsForResource" => self.list_schedule_group_tags(&req).await,
            _ => Err(unknown(operation)),
        }
    }

    async fn create_schedule(&self, req: &Value, place: &arn::Place) -> Result<Value, ApiError> {
        let now = now_ms();
        let request = Request::parse(req, now)?;
        let group = load_group(self, &request.group).await?;
        let policies = policies_of(req, group_policies(group.as_ref()))?;
        let key = schedule_key(&request.group, &request.name);
        let arn = format!(
            "arn:aws:scheduler:{}:{}:schedule/{}/{}",
            place.region, place.account, request.group, request.name
        );
        let name = request.name.clone();
        let record = request.into_record(arn.clone(), policies, now, None);
        let body = serde_json::to_value(&record).expect("a schedule record serializes");
        match self
            .store
            .put_resource(SCHEDULE_KIND, &key, &body, Expect::Absent)
            .await?
        {
            Some(_) => Ok(json!({"ScheduleArn": arn})),
            None => Err(err(
                Exception::ConflictException,
                format!("Schedule {name} already exists."),
            )),
        }
    }

    async fn get_schedule(&self, req: &Value) -> Result<Value, ApiError> {
        let name = name_member(req, "Name")?;
        let group = group_member(req)?;
        load_group(self, group).await?;
        let resource = self
            .store
            .get_resource(SCHEDULE_KIND, &schedule_key(group, name))
            .await?
            .ok_or_else(|| schedule_not_found(name))?;
        Ok(schedule_json(&read_schedule(&resource)?))
    }

    /// A full replacement of the schedule, as AWS does it, keeping what the sweep wrote.
    async fn update_schedule(&self, req: &Value) -> Result<Value, ApiError> {
        let now = now_ms();
        let request = Request::parse(req, now)?;
        let group = load_group(self, &request.group).await?;
        let policies = policies_of(req, group_policies(group.as_ref()))?;
        let key = schedule_key(&request.group, &request.name);
        for _ in 0..CAS_ATTEMPTS {
            let resource = self
                .store
                .get_resource(SCHEDULE_KIND, &key)
                .await?
                .ok_or_else(|| schedule_not_found(&request.name))?;
            let old = read_schedule(&resource)?;
            let record =
                request
                    .clone()
                    .into_record(old.arn.clone(), policies.clone(), now, Some(&old));
            let body = serde_json::to_value(&record).expect("a schedule record serializes");
            if self
                .store
                .put_resource(
                    SCHEDULE_KIND,
                    &key,
                    &body,
                    Expect::Version(resource.version),
                )
                .await?
                .is_some()
            {
                return Ok(json!({"ScheduleArn": old.arn}));
            }
        }
        Err(err(
            Exception::ConflictException,
            format!(
                "Schedule {} changed while it was being updated; try again.",
                request.name
            ),
        ))
    }

    async fn delete_schedule(&self, req: &Value) -> Result<Value, ApiError> {
        let name = name_member(req, "Name")?;
        let group = group_member(req)?;
        opt_str(req, "ClientToken", "ClientToken", 1, 64)?;
        load_group(self, group).await?;
        if self
            .store
            .delete_resource(SCHEDULE_KIND, &schedule_key(group, name), Expect::Present)
            .await?
        {
            Ok(json!({}))
        } else {
            Err(schedule_not_found(name))
        }
    }

    async fn list_schedules(&self, req: &Value) -> Result<Value, ApiError> {
        let group = opt_str(req, "GroupName", "ScheduleGroup", 1, 64)?;
        if let Some(group) = group {
            check_resource_name(group, "ScheduleGroup")?;
            load_group(self, group).await?;
        }
        let prefix = opt_str(req, "NamePrefix", "NamePrefix", 1, 64)?;
        if let Some(prefix) = prefix {
            check_resource_name(prefix, "NamePrefix")?;
        }
        let state = opt_enum(req, "State", "State", &["ENABLED", "DISABLED"])?;
        let mut items = Vec::new();
        for resource in self.store.list_resources(SCHEDULE_KIND).await? {
            let record = read_schedule(&resource)?;
            let keep = group.is_none_or(|g| record.group == g)
                && prefix.is_none_or(|p| record.name.starts_with(p))
                && state.is_none_or(|s| record.state == s);
            if keep {
                items.push((resource.key.clone(), summary_json(&record)));
            }
        }
        let (page, token) = key_page(req, items)?;
        let mut out = json!({"Schedules": page});
        if let Some(token) = token {
            out["NextToken"] = json!(token);
        }
        Ok(out)
    }

    /// Sets stepfn's policies on every schedule of `group` (CAS, retried on a lost race), after
    /// the group's `stepfn:*` tags changed.
    pub(super) async fn apply_group_policies(
        &self,
        group: &str,
        policies: (Option<String>, Option<String>),
    ) -> Result<(), ApiError> {
        if policies == (None, None) {
            return Ok(());
        }
        let prefix = schedule_key(group, "");
        for listed in self.store.list_resources(SCHEDULE_KIND).await? {
            if !listed.key.starts_with(&prefix) {
                continue;
            }
            for _ in 0..CAS_ATTEMPTS {
                let Some(resource) = self.store.get_resource(SCHEDULE_KIND, &listed.key).await?
                else {
                    break;
                };
                let mut record = read_schedule(&resource)?;
                if let Some(catch_up) = &policies.0 {
                    record.catch_up = catch_up.clone();
                }
                if let Some(overlap) = &policies.1 {
                    record.overlap = overlap.clone();
                }
                let body = serde_json::to_value(&record).expect("a schedule record serializes");
                if self
                    .store
                    .put_resource(
                        SCHEDULE_KIND,
                        &listed.key,
                        &body,
                        Expect::Version(resource.version),
                    )
                    .await?
                    .is_some()
                {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Deletes every schedule of `group`.
    pub(super) async fn delete_group_schedules(&self, group: &str) -> Result<(), ApiError> {
        let prefix = schedule_key(group, "");
        for resource in self.store.list_resources(SCHEDULE_KIND).await? {
            if resource.key.starts_with(&prefix) {
                self.store
                    .delete_resource(SCHEDULE_KIND, &resource.key, Expect::Any)
                    .await?;
            }
        }
        Ok(())
    }
}
