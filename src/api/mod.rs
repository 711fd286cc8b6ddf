//! The Step Functions API: one dispatcher of operations (`CreateStateMachine`,
//! `StartExecution`, ...) with AWS's request and response shapes, over a [`Store`], shared by
//! `stepfn serve` (HTTP, in `http`) and the Lambda entry point; beside it, EventBridge's rules
//! and events (`events`, [`Service::events_call`]), whose matching events start executions.
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
use crate::runtime::durable::StartError;
use crate::runtime::invokers::{Invokers, Mocks, RouteError, Setup};
use crate::runtime::machines::{create_execution_of, new_execution};
use crate::store::AnyStore;
use crate::store::{
    ActivityRecord, InboxKind, InboxMessage, MachineConfig, MachineRecord, StopRequest, Store,
    StoreError,
};
use crate::tasks::TaskInvoker;

mod activities;
pub mod auth;
mod callbacks;
mod connections;
pub mod error;
mod event_delivery;
mod event_input;
mod events;
#[cfg(test)]
mod events_tests;
mod executions;
mod guard;
pub mod http;
mod machines;
mod map_runs;
pub mod operation;
mod schedule_groups;
pub mod scheduler_http;
mod scheduler_input;
mod schedules;
#[cfg(test)]
mod schedules_tests;
pub mod serve;
mod shapes;
mod tags;
mod test_state;
#[cfg(test)]
mod test_state_tests;
#[cfg(test)]
mod tests;
mod versions;

use shapes::*;

pub use error::{ApiError, Exception};
pub use operation::Operation;
pub use schedule_groups::{CATCH_UP_TAG, OVERLAP_TAG};
pub use schedules::SCHEDULER_OPERATIONS;

fn err(kind: Exception, message: impl Into<String>) -> ApiError {
    ApiError {
        kind,
        message: message.into(),
    }
}

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> Self {
        err(Exception::ValidationException, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        err(Exception::InternalFailure, e.to_string())
    }
}

/// The Step Functions API over a store.
pub struct Service {
    store: AnyStore,
    invokers: Arc<Invokers>,
    /// The account new resources are made in.
    account: String,
    /// Held while a state machine, its versions or aliases change (publishing reads, counts
    /// and writes the machine's record).
    publishing: Arc<tokio::sync::Mutex<()>>,
    /// The runtime express executions run on (serve's engine runtime, apart from the API's);
    /// None: the caller's.
    engine: Option<tokio::runtime::Handle>,
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
        Some(_) => Err(err(Exception::ValidationException,
            format!("1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must be a string"),
        )),
        None => Err(err(Exception::ValidationException,
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

/// An optional structure field (`loggingConfiguration`, ...), checked to be an object; a
/// logging configuration is completed with AWS's defaults and checked as AWS checks it.
fn opt_object(req: &Value, name: &str) -> Result<Option<Value>, ApiError> {
    let value = match req.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => {
            return Err(err(
                Exception::ValidationException,
                format!("1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must be a structure"),
            ))
        }
    };
    if name != "loggingConfiguration" {
        return Ok(Some(Value::Object(value)));
    }
    let mut logging = value;
    let level = logging
        .get("level")
        .and_then(Value::as_str)
        .unwrap_or("OFF")
        .to_string();
    if !["ALL", "ERROR", "FATAL", "OFF"].contains(&level.as_str()) {
        return Err(err(
            Exception::ValidationException,
            format!("1 validation error detected: Value '{level}' at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]"),
        ));
    }
    let destinations = logging
        .get("destinations")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if destinations > 1 || (level != "OFF" && destinations == 0) {
        return Err(err(
            Exception::InvalidLoggingConfiguration,
            "Invalid Logging Configuration: Must specify exactly one Log Destination.",
        ));
    }
    logging.insert("level".into(), json!(level));
    logging
        .entry("includeExecutionData")
        .or_insert(json!(false));
    Ok(Some(Value::Object(logging)))
}

/// Step Functions' name rule (shared with the CLI): see [`crate::runtime::arn::is_valid_name`].
fn valid_name(name: &str) -> bool {
    crate::runtime::arn::is_valid_name(name)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(err(
            Exception::InvalidName,
            format!("Invalid Name: '{name}'"),
        ))
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

/// Splits `arn:aws:states:<region>:<account>:<kind>:<rest>`; checks the kind. The errors are
/// worded as AWS words them.
fn check_arn<'a>(text: &'a str, kind: &str) -> Result<&'a str, ApiError> {
    let invalid = |why: String| err(Exception::InvalidArn, format!("Invalid Arn: '{why}'"));
    match StatesArn::parse(text) {
        Some(parsed) if parsed.kind == kind => Ok(parsed.rest),
        Some(parsed) => Err(invalid(format!(
            "Resource type not valid in this context: {}",
            parsed.kind
        ))),
        None if !text.starts_with("arn:") => Err(invalid(format!("Invalid ARN prefix: {text}"))),
        None => Err(invalid(text.to_string())),
    }
}

/// The offset and page size of a list request, checked as AWS checks them: `maxResults` at
/// most 1000, `nextToken` 1 to `token_max` characters (1024 for state machines and activities,
/// 3096 for executions and history events) and one this service issued.
fn page(req: &Value, len: usize, token_max: usize) -> Result<(usize, usize), ApiError> {
    let max = max_results(req)?;
    let start = match page_token(req, token_max)? {
        None => 0,
        Some(token) => base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .filter(|n: &usize| *n <= len)
            .ok_or_else(|| invalid_token(token))?,
    };
    Ok((start, max))
}

/// A request's `maxResults` (0 or none: 100).
fn max_results(req: &Value) -> Result<usize, ApiError> {
    match req.get("maxResults") {
        None | Some(Value::Null) => Ok(100),
        Some(v) => match v.as_u64() {
            Some(0) => Ok(100),
            Some(n) if n <= 1000 => Ok(n as usize),
            _ => Err(err(
                Exception::ValidationException,
                format!("1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"),
            )),
        },
    }
}

/// A request's `nextToken`, checked for length (its meaning is the operation's).
fn page_token(req: &Value, token_max: usize) -> Result<Option<&str>, ApiError> {
    match opt_field(req, "nextToken")? {
        None => Ok(None),
        Some("") => Err(err(
            Exception::ValidationException,
            "1 validation error detected: Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1",
        )),
        Some(token) if token.chars().count() > token_max => Err(err(
            Exception::ValidationException,
            format!("1 validation error detected: Value '{token}' at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to {token_max}"),
        )),
        Some(token) => Ok(Some(token)),
    }
}

/// The error for a `nextToken` no page of ours gave.
fn invalid_token(token: &str) -> ApiError {
    err(Exception::InvalidToken, format!("Invalid Token: '{token}'"))
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
    let token_max = match key {
        "executions" | "events" => 3096,
        _ => 1024,
    };
    let (start, max) = page(req, items.len(), token_max)?;
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
        Service {
            store,
            invokers,
            account: arn::ACCOUNT.to_string(),
            publishing: Arc::default(),
            engine: None,
        }
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
        self.call_as(operation, req, http::Caller::default()).await
    }

    /// [`Service::call`] for `caller`: resources it creates are made in its region.
    pub async fn call_as(
        &self,
        operation: &str,
        req: Value,
        caller: http::Caller,
    ) -> Result<Value, ApiError> {
        if !req.is_object() {
            return Err(not_an_object());
        }
        let Some(op) = Operation::parse(operation) else {
            return Err(unknown(operation));
        };
        self.dispatch(op, req, self.place(&caller)).await
    }

    /// The service with new resources made in `account`.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }

    /// The same service running express executions on `engine`, so that one spinning in
    /// evaluation cannot hold up the API's threads.
    pub fn with_engine(mut self, engine: tokio::runtime::Handle) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Runs `work` (an express execution) on the engine runtime, or on the caller's.
    fn spawn_engine<F>(&self, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.engine {
            Some(engine) => engine.spawn(work),
            None => tokio::spawn(work),
        }
    }

    /// Where `caller`'s new resources are made.
    fn place(&self, caller: &http::Caller) -> arn::Place {
        arn::Place {
            region: caller
                .region
                .clone()
                .unwrap_or_else(|| arn::REGION.to_string()),
            account: self.account.clone(),
        }
    }

    /// Runs one parsed operation on a request object.
    async fn dispatch(
        &self,
        operation: Operation,
        req: Value,
        place: arn::Place,
    ) -> Result<Value, ApiError> {
        use Operation as Op;
        match operation {
            Op::CreateStateMachine => self.create_state_machine(&req, &place).await,
            Op::DescribeStateMachine => self.describe_state_machine(&req).await,
            Op::UpdateStateMachine => self.update_state_machine(&req).await,
            Op::DeleteStateMachine => self.delete_state_machine(&req).await,
            Op::ListStateMachines => self.list_state_machines(&req).await,
            Op::ValidateStateMachineDefinition => validate_definition(&req),
            Op::StartExecution => self.start_execution(&req).await,
            Op::StartSyncExecution => self.start_sync_execution(&req).await,
            Op::DescribeExecution => self.describe_execution(&req).await,
            Op::DescribeStateMachineForExecution => self.describe_machine_for_execution(&req).await,
            Op::ListExecutions => self.list_executions(&req).await,
            Op::StopExecution => self.stop_execution(&req).await,
            Op::GetExecutionHistory => self.get_execution_history(&req).await,
            Op::SendTaskSuccess => self.send_task(&req, "success").await,
            Op::SendTaskFailure => self.send_task(&req, "failure").await,
            Op::SendTaskHeartbeat => self.send_task(&req, "heartbeat").await,
            Op::CreateActivity => self.create_activity(&req, &place).await,
            Op::DescribeActivity => self.describe_activity(&req).await,
            Op::ListActivities => self.list_activities(&req).await,
            Op::DeleteActivity => self.delete_activity(&req).await,
            Op::GetActivityTask => self.get_activity_task(&req).await,
            Op::TagResource => self.tag_resource(&req).await,
            Op::UntagResource => self.untag_resource(&req).await,
            Op::ListTagsForResource => self.list_tags(&req).await,
            Op::TestState => self.test_state(&req).await,
            Op::RedriveExecution => self.redrive_execution(&req).await,
            Op::PublishStateMachineVersion => self.publish_version(&req).await,
            Op::ListStateMachineVersions => self.list_versions(&req).await,
            Op::DeleteStateMachineVersion => self.delete_version(&req).await,
            Op::CreateStateMachineAlias => self.create_alias(&req).await,
            Op::DescribeStateMachineAlias => self.describe_alias(&req).await,
            Op::UpdateStateMachineAlias => self.update_alias(&req).await,
            Op::DeleteStateMachineAlias => self.delete_alias(&req).await,
            Op::ListStateMachineAliases => self.list_aliases(&req).await,
            Op::DescribeMapRun => self.describe_map_run(&req).await,
            Op::ListMapRuns => self.list_map_runs(&req).await,
            Op::UpdateMapRun => self.update_map_run(&req).await,
        }
    }
}

impl http::Operations for Service {
    async fn call(
        &self,
        operation: Operation,
        request: Value,
        caller: http::Caller,
    ) -> Result<Value, ApiError> {
        if !request.is_object() {
            return Err(not_an_object());
        }
        let place = self.place(&caller);
        self.dispatch(operation, request, place).await
    }

    async fn events_call(
        &self,
        operation: String,
        request: Value,
        caller: http::Caller,
    ) -> Result<Value, ApiError> {
        self.events_call_as(&operation, request, caller).await
    }
}

/// The answer to an operation this dispatcher does not know or implement.
fn unknown(operation: &str) -> ApiError {
    err(
        Exception::UnknownOperationException,
        format!("Unknown operation: {operation}"),
    )
}

/// The answer to a request body that is not a JSON object.
fn not_an_object() -> ApiError {
    err(
        Exception::SerializationException,
        "the request body must be a JSON object",
    )
}
