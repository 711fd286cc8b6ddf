//! The Step Functions API: one dispatcher of operations (`CreateStateMachine`,
//! `StartExecution`, ...) with AWS's request and response shapes, over a [`Store`], shared by
//! `stepfn serve` (HTTP, in `http`) and the Lambda entry point.
//!
//! Executions started here are driven by a worker loop running beside the dispatcher; EXPRESS
//! machines' `StartSyncExecution` runs in memory within the request.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::asl::load::load;
use crate::asl::validate::validate_text;
use crate::engine::execution::{ExecutionInfo, Status};
use crate::engine::history::HistoryEvent;
use crate::runtime::arn::{self, StatesArn};
use crate::runtime::clock::real_now;
use crate::runtime::describe::describe_json;
use crate::runtime::driver::{self, RunOptions};
use crate::runtime::durable::{start_execution, StartError};
use crate::runtime::invokers::{Invokers, Mocks, RouteError, Setup};
use crate::store::AnyStore;
use crate::store::{
    ActivityRecord, InboxKind, InboxMessage, MachineRecord, StopRequest, Store, StoreError,
};
use crate::tasks::TaskInvoker;

pub mod http;

pub use http::ApiError;

fn err(kind: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        kind: kind.to_string(),
        message: message.into(),
    }
}

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> Self {
        err("ValidationException", e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        err("InternalFailure", e.to_string())
    }
}

/// The Step Functions API over a store.
pub struct Service {
    store: AnyStore,
    invokers: Arc<Invokers>,
}

fn now_ms() -> i64 {
    real_now()
}

fn epoch(ms: i64) -> Value {
    serde_json::Number::from_f64(ms as f64 / 1000.0)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn field<'a>(req: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    match req.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(err(
            "ValidationException",
            format!("1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must be a string"),
        )),
        None => Err(err(
            "ValidationException",
            format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"),
        )),
    }
}

fn opt_field<'a>(req: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => field(req, name).map(Some),
    }
}

/// Step Functions' name rule: 1 to 80 characters, none of whitespace, `<>{}[]?*"#%\^|~`$&,;:/`
/// or control characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 80
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(err("InvalidName", format!("Invalid Name: '{name}'")))
    }
}

/// `arn#TestCase` selects a mocked test case, as in Step Functions Local.
fn split_test_case(target: &str) -> (&str, Option<&str>) {
    match target.split_once('#') {
        Some((arn, case)) => (arn, Some(case)),
        None => (target, None),
    }
}

/// The request's execution name, checked, or a new UUID.
fn execution_name(req: &Value) -> Result<String, ApiError> {
    match opt_field(req, "name")? {
        Some(n) => {
            check_name(n)?;
            Ok(n.to_string())
        }
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// Splits `arn:aws:states:<region>:<account>:<kind>:<rest>`; checks the kind.
fn check_arn<'a>(text: &'a str, kind: &str) -> Result<&'a str, ApiError> {
    match StatesArn::parse(text) {
        Some(parsed) if parsed.kind == kind => Ok(parsed.rest),
        _ => Err(err("InvalidArn", format!("Invalid Arn: '{text}'"))),
    }
}

fn page(req: &Value, len: usize) -> Result<(usize, usize), ApiError> {
    let max = match req.get("maxResults") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_u64() {
            Some(0) => 100,
            Some(n) if n <= 1000 => n as usize,
            _ => {
                return Err(err(
                    "ValidationException",
                    "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000",
                ))
            }
        },
    };
    let start = match opt_field(req, "nextToken")? {
        None => 0,
        Some(token) => base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .filter(|n: &usize| *n <= len)
            .ok_or_else(|| err("InvalidToken", format!("Invalid Token: '{token}'")))?,
    };
    Ok((start, max))
}

fn next_token(end: usize, len: usize) -> Option<Value> {
    (end < len).then(|| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(format!("offset:{end}")))
    })
}

fn with_page(
    mut out: Map<String, Value>,
    key: &str,
    items: Vec<Value>,
    req: &Value,
) -> Result<Value, ApiError> {
    let (start, max) = page(req, items.len())?;
    let end = (start + max).min(items.len());
    out.insert(key.into(), Value::Array(items[start..end].to_vec()));
    if let Some(t) = next_token(end, items.len()) {
        out.insert("nextToken".into(), t);
    }
    Ok(Value::Object(out))
}

fn tags_of(req: &Value) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for t in req
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = field(t, "key")?.to_string();
        let value = opt_field(t, "value")?.unwrap_or_default().to_string();
        out.push((key, value));
    }
    Ok(out)
}

impl Service {
    /// A service over `store` whose executions run their tasks through `invokers` (built with
    /// [`Mocks::Routed`], so `stateMachineArn#TestCase` selects a test case).
    pub fn new(store: AnyStore, invokers: Arc<Invokers>) -> Self {
        Service { store, invokers }
    }

    /// A service over `store` with no integrations, and the MockConfigFile `mocks` if any.
    pub fn with_mocks(store: AnyStore, mocks: Option<Value>) -> Self {
        let invokers = Invokers::new(Setup {
            store: store.clone(),
            integrations: None,
            mocks: Mocks::Routed(mocks),
            virtual_clock: false,
        })
        .expect("routed mocks are checked per execution, not at construction");
        Service::new(store, invokers)
    }

    /// The task invoker executions of this service use (mocks routed by test case).
    pub fn invoker(&self) -> Arc<dyn TaskInvoker> {
        Arc::clone(&self.invokers) as Arc<dyn TaskInvoker>
    }

    /// The store.
    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    /// Runs one operation.
    ///
    /// # Errors
    /// The API error, with the exception name AWS uses.
    pub async fn call(&self, operation: &str, req: Value) -> Result<Value, ApiError> {
        if !req.is_object() {
            return Err(err(
                "SerializationException",
                "the request body must be a JSON object",
            ));
        }
        match operation {
            "CreateStateMachine" => self.create_state_machine(&req).await,
            "DescribeStateMachine" => self.describe_state_machine(&req).await,
            "UpdateStateMachine" => self.update_state_machine(&req).await,
            "DeleteStateMachine" => self.delete_state_machine(&req).await,
            "ListStateMachines" => self.list_state_machines(&req).await,
            "ValidateStateMachineDefinition" => Ok(validate_definition(&req)),
            "StartExecution" => self.start_execution(&req).await,
            "StartSyncExecution" => self.start_sync_execution(&req).await,
            "DescribeExecution" => self.describe_execution(&req).await,
            "DescribeStateMachineForExecution" => self.describe_machine_for_execution(&req).await,
            "ListExecutions" => self.list_executions(&req).await,
            "StopExecution" => self.stop_execution(&req).await,
            "GetExecutionHistory" => self.get_execution_history(&req).await,
            "SendTaskSuccess" => self.send_task(&req, "success").await,
            "SendTaskFailure" => self.send_task(&req, "failure").await,
            "SendTaskHeartbeat" => self.send_task(&req, "heartbeat").await,
            "CreateActivity" => self.create_activity(&req).await,
            "DescribeActivity" => self.describe_activity(&req).await,
            "ListActivities" => self.list_activities(&req).await,
            "DeleteActivity" => self.delete_activity(&req).await,
            "GetActivityTask" => self.get_activity_task(&req).await,
            "TagResource" => self.tag_resource(&req).await,
            "UntagResource" => self.untag_resource(&req).await,
            "ListTagsForResource" => self.list_tags(&req).await,
            other => Err(err(
                "UnknownOperationException",
                format!("Unknown operation: {other}"),
            )),
        }
    }

    async fn machine(&self, arn: &str) -> Result<MachineRecord, ApiError> {
        check_arn(arn, "stateMachine")?;
        self.store.get_machine(arn).await?.ok_or_else(|| {
            err(
                "StateMachineDoesNotExist",
                format!("State Machine Does Not Exist: '{arn}'"),
            )
        })
    }

    async fn create_state_machine(&self, req: &Value) -> Result<Value, ApiError> {
        let name = field(req, "name")?;
        check_name(name)?;
        let text = field(req, "definition")?;
        let definition = parse_definition(text)?;
        let role = opt_field(req, "roleArn")?.map_or_else(arn::default_role, str::to_string);
        let kind = opt_field(req, "type")?.unwrap_or("STANDARD").to_string();
        if kind != "STANDARD" && kind != "EXPRESS" {
            return Err(err(
                "ValidationException",
                format!("1 validation error detected: Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"),
            ));
        }
        let arn = arn::state_machine(name);
        if let Some(existing) = self.store.get_machine(&arn).await? {
            if existing.definition == definition
                && existing.role_arn == role
                && existing.kind == kind
            {
                return Ok(
                    json!({"stateMachineArn": arn, "creationDate": epoch(existing.created)}),
                );
            }
            return Err(err(
                "StateMachineAlreadyExists",
                format!("State Machine Already Exists: '{arn}'"),
            ));
        }
        let now = now_ms();
        let record = MachineRecord {
            arn: arn.clone(),
            name: name.to_string(),
            definition,
            kind,
            role_arn: role,
            created: now,
            tags: tags_of(req)?.into_iter().collect(),
            definition_text: Some(text.to_string()),
        };
        self.store.put_machine(&record).await?;
        Ok(json!({"stateMachineArn": arn, "creationDate": epoch(now)}))
    }

    async fn describe_state_machine(&self, req: &Value) -> Result<Value, ApiError> {
        let m = self.machine(field(req, "stateMachineArn")?).await?;
        Ok(machine_json(&m))
    }

    async fn update_state_machine(&self, req: &Value) -> Result<Value, ApiError> {
        let mut m = self.machine(field(req, "stateMachineArn")?).await?;
        if let Some(def) = opt_field(req, "definition")? {
            m.definition = parse_definition(def)?;
            m.definition_text = Some(def.to_string());
        }
        if let Some(role) = opt_field(req, "roleArn")? {
            m.role_arn = role.to_string();
        }
        self.store.put_machine(&m).await?;
        Ok(json!({"updateDate": epoch(now_ms())}))
    }

    async fn delete_state_machine(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "stateMachineArn")?;
        check_arn(arn, "stateMachine")?;
        self.store.delete_machine(arn).await?;
        Ok(json!({}))
    }

    async fn list_state_machines(&self, req: &Value) -> Result<Value, ApiError> {
        let items: Vec<Value> = self
            .store
            .list_machines()
            .await?
            .iter()
            .map(|m| {
                json!({"stateMachineArn": m.arn, "name": m.name, "type": m.kind, "creationDate": epoch(m.created)})
            })
            .collect();
        with_page(Map::new(), "stateMachines", items, req)
    }

    async fn start_execution(&self, req: &Value) -> Result<Value, ApiError> {
        let (arn, case) = split_test_case(field(req, "stateMachineArn")?);
        let machine = self.machine(arn).await?;
        let name = execution_name(req)?;
        let input = parse_input(req)?;
        if let Some(case) = case {
            self.invokers
                .route(&arn::execution(&machine.arn, &name), &machine.name, case)?;
        }
        let record = start_execution(&self.store, &machine, &name, input, now_ms())
            .await
            .map_err(|e| match e {
                StartError::AlreadyExists(a) => err(
                    "ExecutionAlreadyExists",
                    format!("Execution Already Exists: '{a}'"),
                ),
                StartError::NoMachine(a) => err(
                    "StateMachineDoesNotExist",
                    format!("State Machine Does Not Exist: '{a}'"),
                ),
                StartError::Store(e) => e.into(),
            })?;
        Ok(json!({"executionArn": record.info.arn, "startDate": epoch(record.info.start_time)}))
    }

    async fn start_sync_execution(&self, req: &Value) -> Result<Value, ApiError> {
        let (arn, case) = split_test_case(field(req, "stateMachineArn")?);
        let m = self.machine(arn).await?;
        if m.kind != "EXPRESS" {
            return Err(err(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            ));
        }
        let name = execution_name(req)?;
        let input = parse_input(req)?;
        let machine =
            load(&m.definition).map_err(|d| err("InvalidDefinition", diagnostics_text(&d)))?;
        let info = {
            let id = uuid::Uuid::new_v4().to_string();
            ExecutionInfo {
                arn: arn::express_execution(&m.name, &name, &id),
                name: name.clone(),
                state_machine_arn: m.arn.clone(),
                state_machine_name: m.name.clone(),
                role_arn: m.role_arn.clone(),
                start_time: now_ms(),
            }
        };
        let invoker: Arc<dyn TaskInvoker> = match case {
            Some(case) => {
                self.invokers.route(&info.arn, &m.name, case)?;
                self.invoker()
            }
            None => self.invoker(),
        };
        let exec = driver::run(
            machine,
            info,
            input.clone(),
            invoker,
            RunOptions {
                virtual_clock: false,
                record_history: false,
            },
        )
        .await
        .execution;
        let mut out = Map::new();
        out.insert("executionArn".into(), json!(exec.info.arn));
        out.insert("stateMachineArn".into(), json!(m.arn));
        out.insert("name".into(), json!(name));
        out.insert("startDate".into(), epoch(exec.info.start_time));
        out.insert(
            "stopDate".into(),
            epoch(exec.stop_time.unwrap_or_else(now_ms)),
        );
        out.insert("status".into(), json!(exec.status.as_str()));
        out.insert("input".into(), json!(input.to_string()));
        out.insert("inputDetails".into(), json!({"included": true}));
        if exec.status == Status::Succeeded {
            out.insert(
                "output".into(),
                json!(exec.output.clone().unwrap_or(Value::Null).to_string()),
            );
            out.insert("outputDetails".into(), json!({"included": true}));
        }
        if let Some(e) = &exec.error {
            if !e.error.is_empty() {
                out.insert("error".into(), json!(e.error));
            }
            if let Some(c) = &e.cause {
                out.insert("cause".into(), json!(c));
            }
        }
        out.insert(
            "billingDetails".into(),
            json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}),
        );
        Ok(Value::Object(out))
    }

    async fn execution(&self, arn: &str) -> Result<crate::store::ExecutionRecord, ApiError> {
        check_arn(arn, "execution")?;
        self.store.get_execution(arn).await?.ok_or_else(|| {
            err(
                "ExecutionDoesNotExist",
                format!("Execution Does Not Exist: '{arn}'"),
            )
        })
    }

    async fn describe_execution(&self, req: &Value) -> Result<Value, ApiError> {
        let record = self.execution(field(req, "executionArn")?).await?;
        Ok(describe_json(&record))
    }

    async fn describe_machine_for_execution(&self, req: &Value) -> Result<Value, ApiError> {
        let record = self.execution(field(req, "executionArn")?).await?;
        let m = self.machine(&record.info.state_machine_arn).await?;
        let mut out = machine_json(&m);
        if let Value::Object(o) = &mut out {
            o.insert("updateDate".into(), epoch(m.created));
            o.remove("status");
            o.remove("type");
            o.remove("creationDate");
        }
        Ok(out)
    }

    async fn list_executions(&self, req: &Value) -> Result<Value, ApiError> {
        let m = self.machine(field(req, "stateMachineArn")?).await?;
        if m.kind == "EXPRESS" {
            return Err(err(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            ));
        }
        let filter = opt_field(req, "statusFilter")?;
        let items: Vec<Value> = self
            .store
            .list_executions(&m.arn)
            .await?
            .iter()
            .filter(|r| filter.is_none_or(|f| r.status.as_str() == f))
            .map(|r| {
                let mut o = Map::new();
                o.insert("executionArn".into(), json!(r.info.arn));
                o.insert("stateMachineArn".into(), json!(r.info.state_machine_arn));
                o.insert("name".into(), json!(r.info.name));
                o.insert("status".into(), json!(r.status.as_str()));
                o.insert("startDate".into(), epoch(r.info.start_time));
                if let Some(s) = r.stop_time {
                    o.insert("stopDate".into(), epoch(s));
                }
                Value::Object(o)
            })
            .collect();
        with_page(Map::new(), "executions", items, req)
    }

    async fn stop_execution(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "executionArn")?;
        let record = self.execution(arn).await?;
        let now = now_ms();
        if record.status == Status::Running {
            let request = StopRequest {
                error: opt_field(req, "error")?.map(str::to_string),
                cause: opt_field(req, "cause")?.map(str::to_string),
                time: now,
            };
            self.store.request_stop(arn, &request).await?;
            self.stop_sync_children(&record, &request).await?;
        }
        Ok(json!({"stopDate": epoch(record.stop_time.unwrap_or(now))}))
    }

    /// Stops the children that `.sync` tasks of a stopped execution wait for, as Step Functions
    /// does.
    async fn stop_sync_children(
        &self,
        record: &crate::store::ExecutionRecord,
        request: &StopRequest,
    ) -> Result<(), ApiError> {
        use crate::asl::resource::Pattern;
        use crate::runtime::nested::{child_arn, nested_pattern};
        let Some(snapshot) = &record.snapshot else {
            return Ok(());
        };
        for (_, frame) in &snapshot.frames {
            let Some(task) = &frame.task else { continue };
            if !matches!(
                nested_pattern(&task.resource),
                Some(Pattern::Sync | Pattern::Sync2)
            ) {
                continue;
            }
            let Some(child) = child_arn(task) else {
                continue;
            };
            if let Some(c) = self.store.get_execution(&child).await? {
                if c.status == Status::Running {
                    self.store.request_stop(&child, request).await?;
                }
            }
        }
        Ok(())
    }

    async fn get_execution_history(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "executionArn")?;
        self.execution(arn).await?;
        let include_data = req
            .get("includeExecutionData")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let mut events: Vec<Value> = self
            .store
            .history(arn)
            .await?
            .iter()
            .map(|e| event_json(e, include_data))
            .collect();
        if req.get("reverseOrder").and_then(Value::as_bool) == Some(true) {
            events.reverse();
        }
        with_page(Map::new(), "events", events, req)
    }

    /// SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat: a callback for the
    /// `.waitForTaskToken` task its token names.
    async fn send_task(&self, req: &Value, what: &str) -> Result<Value, ApiError> {
        let token = field(req, "taskToken")?;
        let invalid = || err("InvalidToken", format!("Invalid Token: '{token}'"));
        let (arn, frame, wait) =
            crate::engine::task::parse_task_token(token).ok_or_else(invalid)?;
        let record = self.store.get_execution(&arn).await?.ok_or_else(invalid)?;
        let gone = || {
            err(
                "TaskTimedOut",
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
                    .map_err(|e| err("InvalidOutput", format!("Invalid Output: '{e}'")))?;
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
        Ok(json!({}))
    }

    async fn activity(&self, arn: &str) -> Result<ActivityRecord, ApiError> {
        check_arn(arn, "activity")?;
        self.store.get_activity(arn).await?.ok_or_else(|| {
            err(
                "ActivityDoesNotExist",
                format!("Activity Does Not Exist: '{arn}'"),
            )
        })
    }

    async fn create_activity(&self, req: &Value) -> Result<Value, ApiError> {
        let name = field(req, "name")?;
        check_name(name)?;
        let arn = arn::activity(name);
        if let Some(existing) = self.store.get_activity(&arn).await? {
            return Ok(json!({"activityArn": arn, "creationDate": epoch(existing.created)}));
        }
        let now = now_ms();
        let record = ActivityRecord {
            arn: arn.clone(),
            name: name.to_string(),
            created: now,
            tags: tags_of(req)?.into_iter().collect(),
        };
        self.store.put_activity(&record).await?;
        Ok(json!({"activityArn": arn, "creationDate": epoch(now)}))
    }

    async fn describe_activity(&self, req: &Value) -> Result<Value, ApiError> {
        let a = self.activity(field(req, "activityArn")?).await?;
        Ok(json!({"activityArn": a.arn, "name": a.name, "creationDate": epoch(a.created)}))
    }

    async fn list_activities(&self, req: &Value) -> Result<Value, ApiError> {
        let items: Vec<Value> = self
            .store
            .list_activities()
            .await?
            .iter()
            .map(
                |a| json!({"activityArn": a.arn, "name": a.name, "creationDate": epoch(a.created)}),
            )
            .collect();
        with_page(Map::new(), "activities", items, req)
    }

    async fn delete_activity(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "activityArn")?;
        check_arn(arn, "activity")?;
        self.store.delete_activity(arn).await?;
        Ok(json!({}))
    }

    /// GetActivityTask: a long poll of up to 60 s, as on AWS; `{}` when nothing came.
    async fn get_activity_task(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "activityArn")?;
        self.activity(arn).await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(task) = self.store.take_activity_task(arn).await? {
                return Ok(json!({
                    "taskToken": task.token,
                    "input": serde_json::to_string(&task.input).unwrap_or_default(),
                }));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(json!({}));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn tag_resource(&self, req: &Value) -> Result<Value, ApiError> {
        let mut m = self
            .machine(field(req, "resourceArn")?)
            .await
            .map_err(not_found_resource)?;
        for (k, v) in tags_of(req)? {
            m.tags.insert(k, v);
        }
        self.store.put_machine(&m).await?;
        Ok(json!({}))
    }

    async fn untag_resource(&self, req: &Value) -> Result<Value, ApiError> {
        let mut m = self
            .machine(field(req, "resourceArn")?)
            .await
            .map_err(not_found_resource)?;
        for k in req
            .get("tagKeys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = k.as_str() {
                m.tags.remove(k);
            }
        }
        self.store.put_machine(&m).await?;
        Ok(json!({}))
    }

    async fn list_tags(&self, req: &Value) -> Result<Value, ApiError> {
        let m = self
            .machine(field(req, "resourceArn")?)
            .await
            .map_err(not_found_resource)?;
        let tags: Vec<Value> = m
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        Ok(json!({"tags": tags}))
    }
}

impl http::Operations for Service {
    async fn call(&self, operation: &str, request: Value) -> Result<Value, ApiError> {
        Service::call(self, operation, request).await
    }
}

fn not_found_resource(e: ApiError) -> ApiError {
    if e.kind == "StateMachineDoesNotExist" {
        err(
            "ResourceNotFound",
            e.message
                .replace("State Machine Does Not Exist", "Resource not found"),
        )
    } else {
        e
    }
}

fn machine_json(m: &MachineRecord) -> Value {
    json!({
        "stateMachineArn": m.arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": m
            .definition_text
            .clone()
            .unwrap_or_else(|| serde_json::to_string(&m.definition).unwrap_or_default()),
        "roleArn": m.role_arn,
        "type": m.kind,
        "creationDate": epoch(m.created),
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
    })
}

fn event_json(e: &HistoryEvent, include_data: bool) -> Value {
    let mut v = e.to_api_json();
    if !include_data {
        if let Value::Object(o) = &mut v {
            for (_, details) in o.iter_mut() {
                if let Value::Object(d) = details {
                    for key in ["input", "output", "parameters"] {
                        d.remove(key);
                    }
                }
            }
        }
    }
    v
}

fn diagnostics_text(d: &[crate::asl::diagnostic::Diagnostic]) -> String {
    d.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn parse_definition(text: &str) -> Result<Value, ApiError> {
    let value = validate_text(text).map_err(|d| {
        err(
            "InvalidDefinition",
            format!(
                "Invalid State Machine Definition: '{}'",
                diagnostics_text(&d)
            ),
        )
    })?;
    load(&value).map_err(|d| {
        err(
            "InvalidDefinition",
            format!(
                "Invalid State Machine Definition: '{}'",
                diagnostics_text(&d)
            ),
        )
    })?;
    Ok(value)
}

fn parse_input(req: &Value) -> Result<Value, ApiError> {
    match opt_field(req, "input")? {
        None => Ok(json!({})),
        Some(text) => {
            if text.len() > crate::asl::payload::PAYLOAD_LIMIT_BYTES {
                return Err(err(
                    "ValidationException",
                    "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144",
                ));
            }
            serde_json::from_str(text).map_err(|e| {
                err(
                    "InvalidExecutionInput",
                    format!("Invalid State Machine Execution Input: '{e}'"),
                )
            })
        }
    }
}

fn validate_definition(req: &Value) -> Value {
    let text = req.get("definition").and_then(Value::as_str).unwrap_or("");
    let diagnostics: Vec<Value> = match validate_text(text) {
        Ok(v) => match load(&v) {
            Ok(_) => Vec::new(),
            Err(d) => d,
        },
        Err(d) => d,
    }
    .iter()
    .map(|d| {
        json!({
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": d.message,
            "location": if d.pointer.is_empty() { "/".to_string() } else { d.pointer.clone() },
        })
    })
    .collect();
    let result = if diagnostics.is_empty() { "OK" } else { "FAIL" };
    json!({"result": result, "diagnostics": diagnostics, "truncated": false})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn service() -> Service {
        Service::with_mocks(AnyStore::Memory(MemoryStore::new()), None)
    }

    #[test]
    fn names_follow_step_functions_rules() {
        assert!(valid_name("order-42_ok.v2"));
        assert!(!valid_name(""));
        assert!(!valid_name("has space"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name(&"x".repeat(81)));
    }

    #[tokio::test]
    async fn unknown_execution_is_execution_does_not_exist() {
        let e = service()
            .call(
                "DescribeExecution",
                json!({"executionArn": "arn:aws:states:us-east-1:111111111111:execution:m:e"}),
            )
            .await
            .expect_err("missing");
        assert_eq!(e.kind, "ExecutionDoesNotExist");
        let e = service()
            .call("DescribeExecution", json!({"executionArn": "nope"}))
            .await
            .expect_err("bad arn");
        assert_eq!(e.kind, "InvalidArn");
    }

    #[tokio::test]
    async fn create_is_idempotent_and_conflicts_on_change() {
        let s = service();
        let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
        let a = s
            .call(
                "CreateStateMachine",
                json!({"name": "m", "definition": def, "roleArn": "r"}),
            )
            .await
            .expect("create");
        let b = s
            .call(
                "CreateStateMachine",
                json!({"name": "m", "definition": def, "roleArn": "r"}),
            )
            .await
            .expect("again");
        assert_eq!(a["stateMachineArn"], b["stateMachineArn"]);
        let other = r#"{"StartAt":"Q","States":{"Q":{"Type":"Pass","End":true}}}"#;
        let e = s
            .call(
                "CreateStateMachine",
                json!({"name": "m", "definition": other, "roleArn": "r"}),
            )
            .await
            .expect_err("conflict");
        assert_eq!(e.kind, "StateMachineAlreadyExists");
        let e = s
            .call(
                "CreateStateMachine",
                json!({"name": "bad", "definition": "{}", "roleArn": "r"}),
            )
            .await
            .expect_err("invalid");
        assert_eq!(e.kind, "InvalidDefinition");
    }

    #[tokio::test]
    async fn validate_reports_diagnostics_with_locations() {
        let v = service()
            .call(
                "ValidateStateMachineDefinition",
                json!({"definition": r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#}),
            )
            .await
            .expect("validate");
        assert_eq!(v["result"], "FAIL");
        assert_eq!(v["diagnostics"][0]["location"], "/States/A/Next");
        assert_eq!(v["diagnostics"][0]["severity"], "ERROR");
    }

    #[tokio::test]
    async fn test_case_suffix_selects_mocked_responses() {
        let mocks = json!({
            "StateMachines": {"mocked": {"TestCases": {"Happy": {"T": "Ok"}, "Sad": {"T": "Boom"}}}},
            "MockedResponses": {
                "Ok": {"0": {"Return": {"done": true}}},
                "Boom": {"0": {"Throw": {"Error": "Mock.Error", "Cause": "sad path"}}}
            }
        });
        let s = Service::with_mocks(AnyStore::Memory(MemoryStore::new()), Some(mocks));
        let def = r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:111111111111:function:f","End":true}}}"#;
        let arn = s
            .call(
                "CreateStateMachine",
                json!({"name": "mocked", "definition": def, "roleArn": "r", "type": "EXPRESS"}),
            )
            .await
            .expect("create")["stateMachineArn"]
            .as_str()
            .expect("arn")
            .to_string();
        let happy = s
            .call(
                "StartSyncExecution",
                json!({"stateMachineArn": format!("{arn}#Happy")}),
            )
            .await
            .expect("sync");
        assert_eq!(happy["status"], "SUCCEEDED");
        assert_eq!(happy["output"], r#"{"done":true}"#);
        let sad = s
            .call(
                "StartSyncExecution",
                json!({"stateMachineArn": format!("{arn}#Sad")}),
            )
            .await
            .expect("sync");
        assert_eq!(sad["status"], "FAILED");
        assert_eq!(sad["error"], "Mock.Error");
        assert_eq!(sad["cause"], "sad path");
        let unknown = s
            .call(
                "StartSyncExecution",
                json!({"stateMachineArn": format!("{arn}#Nope")}),
            )
            .await
            .expect_err("no such test case");
        assert_eq!(unknown.kind, "ValidationException");
    }

    #[tokio::test]
    async fn pagination_walks_all_machines() {
        let s = service();
        for i in 0..3 {
            s.call(
                "CreateStateMachine",
                json!({"name": format!("m{i}"), "definition": r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#, "roleArn": "r"}),
            )
            .await
            .expect("create");
        }
        let mut names = Vec::new();
        let mut req = json!({"maxResults": 2});
        loop {
            let page = s
                .call("ListStateMachines", req.clone())
                .await
                .expect("list");
            for m in page["stateMachines"].as_array().expect("array") {
                names.push(m["name"].as_str().unwrap_or_default().to_string());
            }
            match page.get("nextToken") {
                Some(t) => req = json!({"maxResults": 2, "nextToken": t}),
                None => break,
            }
        }
        assert_eq!(names.len(), 3);
    }
}
