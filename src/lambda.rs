//! stepfn as an AWS Lambda function: events in, the Step Functions, EventBridge Scheduler and
//! EventBridge APIs and durable driving out.
//!
//! The function (`src/bin/stepfn-lambda.rs`) hands every event to [`Function::handle`]:
//!
//! - `{"Operation": "<Step Functions operation>", "Request": {...}}` runs the operation through
//!   the same dispatcher as `stepfn serve` ([`Service::call`]) and answers its result, or
//!   `{"__type", "message"}` for an API error. A missing `Request` is `{}`.
//! - `{"Service": "scheduler", "Operation": "CreateSchedule", "Request": {...}}` runs an
//!   EventBridge Scheduler operation ([`Service::scheduler_call`]; members under their model
//!   names, `Name` and `GroupName` in the request as the REST path and query carry them), and
//!   `{"Service": "events", "Operation": "PutEvents", "Request": {...}}` an EventBridge one
//!   ([`Service::events_call`]). The service is named because operation names collide
//!   (`TagResource`, `ListTagsForResource`); no `Service`, or `"states"`, is Step Functions.
//!   Their errors are `{"__type", "message"}` with the bare exception name, as those services
//!   name them (`ResourceNotFoundException`); an unknown service is an
//!   `UnknownOperationException` naming it.
//! - `{"Operation": "Sweep"}`, or a scheduled EventBridge event (`"source": "aws.events"`), drives
//!   every due execution: fired timers (Wait, retry backoff, task and heartbeat timeouts), leases
//!   expired (a crashed invocation's work), callbacks delivered, stop requests; and first
//!   starts the executions of due schedule slots (EventBridge Scheduler schedules stored by
//!   the same table), so an EventBridge rule that invokes the function each minute fires them.
//!   Slots fire by the wall clock, or by the clock `STEPFN_SCHEDULER_CLOCK` sets (see
//!   [`ScheduleClock`]), as in `stepfn serve` and `stepfn worker`.
//! - `{"Operation": "DriveExecution", "Request": {"executionArn": ...}}` drives one execution:
//!   the function sends it to itself (asynchronously, `InvocationType: Event`) after an operation
//!   that makes an execution runnable (StartExecution, SendTaskSuccess/Failure, StopExecution),
//!   and again when a drive runs out of time, so nothing waits for the next sweep when it need
//!   not. The sweep is the safety net for lost self-invocations. A `PutEvents` that took an
//!   event may have started executions (one per matching rule target) whose ARNs it does not
//!   answer: the function sends itself a `Sweep`, which drives them.
//!
//! A drive runs until the execution ends, parks (a long Wait, a callback, an activity) or the
//! invocation's deadline comes near; then everything is committed and the invocation returns
//! in time, and the next invocation goes on from the commit. Short Waits (under the park
//! threshold, 2 s) are slept in the invocation when they end before the deadline.
//!
//! The deadline is the Lambda context's, less a margin (a fifth of the time left, between
//! 0.2 s and 5 s) for the last commit. `STEPFN_FUNCTION_TIMEOUT_MS` caps the time an
//! invocation takes (emulators such as `cargo lambda watch` give no real deadline).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::api::Service;
use crate::api::{ApiError, Exception};
use crate::runtime::durable::{drive_execution, DriveOutcome, DurableOptions, MachineCache};
use crate::runtime::invokers::{Invokers, Mocks, Setup};
use crate::runtime::schedules::ScheduleClock;
use crate::store::dynamodb::DynamoStore;
use crate::store::AnyStore;
use crate::store::Store;

/// The operation that drives one execution (stepfn's own, not a Step Functions operation).
pub const DRIVE_OPERATION: &str = "DriveExecution";
/// The operation that drives every due execution.
pub const SWEEP_OPERATION: &str = "Sweep";

/// The APIs an event's `Service` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// Step Functions (`"states"`, or no `Service`), and the function's own operations.
    States,
    /// EventBridge Scheduler (`"scheduler"`).
    Scheduler,
    /// EventBridge (`"events"`).
    Events,
}

impl Api {
    /// The API an event names, or the error to answer.
    fn of(event: &Value) -> Result<Api, ApiError> {
        match event.get("Service") {
            None | Some(Value::Null) => Ok(Api::States),
            Some(Value::String(name)) => match name.as_str() {
                "states" => Ok(Api::States),
                "scheduler" => Ok(Api::Scheduler),
                "events" => Ok(Api::Events),
                other => Err(ApiError::new(
                    Exception::UnknownOperationException,
                    format!(
                        "unknown service {other:?}: an event's Service is \"states\" (the default), \"scheduler\" or \"events\""
                    ),
                )),
            },
            Some(_) => Err(ApiError::new(
                Exception::SerializationException,
                "Service must be a string",
            )),
        }
    }

    /// The answer to error `e` of this API: Step Functions' namespaced `__type`, the bare name
    /// for the others, as each service's wire has it.
    fn error(self, e: &ApiError) -> Value {
        match self {
            Api::States => api_error(e),
            // Scheduler's model names its internal error InternalServerException.
            Api::Scheduler if e.kind == Exception::InternalFailure => {
                json!({"__type": "InternalServerException", "message": e.message})
            }
            Api::Scheduler | Api::Events => json!({"__type": e.kind.name(), "message": e.message}),
        }
    }
}

/// How the function behaves, from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The DynamoDB table (`STEPFN_TABLE`).
    pub table: String,
    /// The function's own name, for self-invocations (`AWS_LAMBDA_FUNCTION_NAME`); `None`:
    /// no self-invocation, the sweep drives everything.
    pub function_name: Option<String>,
    /// Lease length, ms (`STEPFN_LEASE_SECONDS`, default 30 s): how long a crashed invocation
    /// keeps an execution from others.
    pub lease_ms: i64,
    /// Park when the next timer is further than this, ms (`STEPFN_PARK_AFTER_MS`, default 2 s).
    pub park_after_ms: i64,
    /// Caps an invocation's time, ms (`STEPFN_FUNCTION_TIMEOUT_MS`); the context deadline
    /// otherwise.
    pub timeout_cap_ms: Option<i64>,
    /// How long to wait for the answer to a self-invocation, ms
    /// (`STEPFN_SELF_INVOKE_WAIT_MS`, default 2 s). Lambda accepts an `Event` invocation at
    /// once; an emulator that answers only when the invocation ends is left to it after this.
    pub self_invoke_wait_ms: u64,
    /// Executions a sweep drives at once (`STEPFN_SWEEP_CONCURRENCY`, default 16).
    pub sweep_concurrency: usize,
    /// A MockConfigFile (`STEPFN_MOCK_CONFIG`, a path), as `stepfn serve --mocks`.
    pub mocks: Option<Value>,
}

fn env_number<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{name} must be a number, not {v:?}")),
        _ => Ok(None),
    }
}

impl Settings {
    /// Reads the settings from the environment.
    ///
    /// # Errors
    /// A message naming the variable that is missing or malformed.
    pub fn from_env() -> Result<Settings, String> {
        let table = std::env::var("STEPFN_TABLE")
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or("STEPFN_TABLE is not set: it names the DynamoDB table of the executions")?;
        let mocks = match std::env::var_os("STEPFN_MOCK_CONFIG") {
            Some(path) if !path.is_empty() => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "STEPFN_MOCK_CONFIG: cannot read {}: {e}",
                        path.to_string_lossy()
                    )
                })?;
                Some(serde_json::from_str(&text).map_err(|e| {
                    format!(
                        "STEPFN_MOCK_CONFIG: {} is not JSON: {e}",
                        path.to_string_lossy()
                    )
                })?)
            }
            _ => None,
        };
        Ok(Settings {
            table,
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .ok()
                .filter(|n| !n.is_empty()),
            lease_ms: env_number::<i64>("STEPFN_LEASE_SECONDS")?
                .unwrap_or(30)
                .max(1)
                * 1000,
            park_after_ms: env_number("STEPFN_PARK_AFTER_MS")?.unwrap_or(2_000),
            timeout_cap_ms: env_number("STEPFN_FUNCTION_TIMEOUT_MS")?,
            self_invoke_wait_ms: env_number("STEPFN_SELF_INVOKE_WAIT_MS")?.unwrap_or(2_000),
            sweep_concurrency: env_number::<usize>("STEPFN_SWEEP_CONCURRENCY")?
                .unwrap_or(16)
                .max(1),
            mocks,
        })
    }
}

/// The function: one per process, shared by its invocations.
pub struct Function {
    service: Service,
    machines: MachineCache,
    settings: Settings,
    lambda: Option<aws_sdk_lambda::Client>,
    owner: String,
    /// The clock schedule slots fire by.
    schedule_clock: ScheduleClock,
}

fn now_ms() -> i64 {
    crate::runtime::clock::real_now()
}

fn api_error(e: &ApiError) -> Value {
    let (_, kind) = e.wire();
    json!({"__type": kind, "message": e.message})
}

/// The execution an operation made runnable, to be driven now.
fn woken_execution(operation: &str, request: &Value, response: &Value) -> Option<String> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    match operation {
        "StartExecution" => text(response, "executionArn"),
        "StopExecution" | "RedriveExecution" => text(request, "executionArn"),
        "SendTaskSuccess" | "SendTaskFailure" => text(request, "taskToken")
            .and_then(|t| crate::engine::task::parse_task_token(&t))
            .map(|(arn, _, _)| arn),
        _ => None,
    }
}

/// Whether a `PutEvents` answer took at least one event (an entry without `ErrorCode`).
fn took_an_event(response: &Value) -> bool {
    response
        .get("Entries")
        .and_then(Value::as_array)
        .is_some_and(|entries| entries.iter().any(|e| e.get("ErrorCode").is_none()))
}

impl Function {
    /// The function from its environment ([`Settings::from_env`]), on the DynamoDB table it
    /// names, with the endpoints of the standard AWS settings.
    ///
    /// # Errors
    /// A message when a setting is missing or malformed.
    pub async fn from_env() -> Result<Function, String> {
        let settings = Settings::from_env()?;
        let store = DynamoStore::connect(&settings.table, None)
            .await
            .map_err(|e| e.to_string())?;
        let lambda = match &settings.function_name {
            Some(_) => {
                let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .load()
                    .await;
                Some(aws_sdk_lambda::Client::new(&shared))
            }
            None => None,
        };
        let store = AnyStore::Dynamo(store);
        let integrations = Arc::new(crate::tasks::integrations::Integrations::from_env()?);
        let mut function = Function::new(store, settings, lambda, Some(integrations));
        function.schedule_clock = ScheduleClock::from_env()?;
        Ok(function)
    }

    /// A function over `store` whose tasks run through `integrations` (none: no integrations);
    /// `lambda` sends self-invocations (none: the sweep drives). Schedules fire by the wall
    /// clock.
    pub fn new(
        store: AnyStore,
        settings: Settings,
        lambda: Option<aws_sdk_lambda::Client>,
        integrations: Option<Arc<dyn crate::tasks::TaskInvoker>>,
    ) -> Self {
        let invokers = Invokers::new(Setup {
            store: store.clone(),
            integrations,
            mocks: Mocks::Routed(settings.mocks.clone()),
            virtual_clock: false,
        })
        .expect("routed mocks are checked per execution, not at construction");
        Function {
            service: Service::new(store, invokers),
            machines: MachineCache::default(),
            lambda: lambda.filter(|_| settings.function_name.is_some()),
            settings,
            owner: format!("lambda-{}", uuid::Uuid::new_v4()),
            schedule_clock: ScheduleClock::wall(),
        }
    }

    /// When this invocation must have let go, ms since the epoch: the context's deadline (when
    /// it is one) or the cap, whichever is sooner, less a margin for the last commit.
    fn end_of(&self, context_deadline_ms: Option<i64>, start: i64) -> i64 {
        let from_context = context_deadline_ms.filter(|d| *d > start);
        let from_cap = self.settings.timeout_cap_ms.map(|c| start + c);
        let deadline = match (from_context, from_cap) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                tracing::warn!(
                    "the invocation has no usable deadline; assuming 60 s (set STEPFN_FUNCTION_TIMEOUT_MS)"
                );
                start + 60_000
            }
        };
        let margin = ((deadline - start) / 5).clamp(200, 5_000);
        deadline - margin
    }

    /// Handles one event; `context_deadline_ms` is the Lambda context's deadline.
    ///
    /// # Errors
    /// Only for drives and sweeps that failed on the store, so that Lambda retries the event;
    /// API errors are answers (`{"__type", "message"}`).
    pub async fn handle(
        &self,
        event: Value,
        context_deadline_ms: Option<i64>,
    ) -> Result<Value, String> {
        let start = now_ms();
        let end = self.end_of(context_deadline_ms, start);
        if event.get("source").and_then(Value::as_str) == Some("aws.events") {
            return Box::pin(self.sweep(end)).await;
        }
        let api = match Api::of(&event) {
            Ok(api) => api,
            Err(e) => return Ok(api_error(&e)),
        };
        let Some(operation) = event.get("Operation") else {
            return Ok(api.error(&ApiError::new(Exception::SerializationException,
                "an event is {\"Operation\": \"<Step Functions operation>\", \"Request\": {...}} (with \"Service\": \"scheduler\" or \"events\" for those APIs), {\"Operation\": \"Sweep\"} or a scheduled EventBridge event",
            )));
        };
        let Some(operation) = operation.as_str() else {
            return Ok(api.error(&ApiError::new(
                Exception::SerializationException,
                "Operation must be a string",
            )));
        };
        let request = match event.get("Request") {
            None | Some(Value::Null) => json!({}),
            Some(r) => r.clone(),
        };
        // The futures are boxed: inline, the sweep's and the dispatchers' nest deeper than the
        // compiler's layout limit allows in the binary's handler.
        match (api, operation) {
            (Api::States, SWEEP_OPERATION) => Box::pin(self.sweep(end)).await,
            (Api::States, DRIVE_OPERATION) => {
                let Some(arn) = request.get("executionArn").and_then(Value::as_str) else {
                    return Ok(api_error(&ApiError::new(Exception::ValidationException,
                        "1 validation error detected: Value null at 'executionArn' failed to satisfy constraint: Member must not be null",
                    )));
                };
                Box::pin(self.drive(arn, end)).await
            }
            (Api::States, _) => match Box::pin(self.service.call(operation, request.clone())).await
            {
                Ok(response) => {
                    if let Some(arn) = woken_execution(operation, &request, &response) {
                        self.send_drive(&arn).await;
                    }
                    Ok(response)
                }
                Err(e) => Ok(api_error(&e)),
            },
            (Api::Scheduler, _) => {
                match Box::pin(self.service.scheduler_call(operation, request)).await {
                    Ok(response) => Ok(response),
                    Err(e) => Ok(api.error(&e)),
                }
            }
            (Api::Events, _) => {
                match Box::pin(self.service.events_call(operation, request)).await {
                    Ok(response) => {
                        if operation == "PutEvents" && took_an_event(&response) {
                            // The executions its rules started are not in the answer: a sweep
                            // drives them now rather than at the next scheduled one.
                            self.send_event(json!({"Operation": SWEEP_OPERATION})).await;
                        }
                        Ok(response)
                    }
                    Err(e) => Ok(api.error(&e)),
                }
            }
        }
    }

    fn options(&self, end: i64) -> DurableOptions {
        DurableOptions {
            owner: self.owner.clone(),
            lease_ms: self.settings.lease_ms,
            park_after_ms: Some(self.settings.park_after_ms),
            virtual_clock: false,
            deadline_ms: Some(end),
        }
    }

    async fn drive(&self, arn: &str, end: i64) -> Result<Value, String> {
        let outcome = drive_execution(
            self.service.store(),
            arn,
            self.service.invoker(),
            &self.machines,
            &self.options(end),
            None,
        )
        .await
        .map_err(|e| format!("driving {arn} failed: {e}"))?;
        tracing::info!(execution = arn, outcome = outcome_name(outcome), "drive");
        if outcome == DriveOutcome::Yielded {
            self.send_drive(arn).await;
        }
        Ok(json!({"executionArn": arn, "outcome": outcome_name(outcome)}))
    }

    async fn sweep(&self, end: i64) -> Result<Value, String> {
        let store = self.service.store();
        let mut counts = std::collections::BTreeMap::<&'static str, u64>::new();
        let mut failures = Vec::new();
        let mut more = false;
        // Schedules first: the executions of due slots are then driven by this very sweep.
        // Boxed: the sweep's future stays shallow enough for the compiler's layout limit.
        let fired = Box::pin(crate::runtime::schedules::fire_due(
            store,
            self.schedule_clock.now(),
        ))
        .await
        .map_err(|e| format!("cannot fire schedules: {e}"))?;
        loop {
            let now = now_ms();
            if now >= end {
                break;
            }
            let due = store
                .due_executions(now, self.settings.sweep_concurrency)
                .await
                .map_err(|e| format!("cannot list due executions: {e}"))?;
            if due.is_empty() {
                break;
            }
            let mut drives = tokio::task::JoinSet::new();
            for arn in due {
                let store = store.clone();
                let invoker = self.service.invoker();
                let machines = self.machines.clone();
                let options = self.options(end);
                drives.spawn(async move {
                    let r = drive_execution(&store, &arn, invoker, &machines, &options, None).await;
                    (arn, r)
                });
            }
            let mut progressed = false;
            while let Some(done) = drives.join_next().await {
                let Ok((arn, result)) = done else { continue };
                match result {
                    Ok(outcome) => {
                        tracing::info!(execution = %arn, outcome = outcome_name(outcome), "sweep drive");
                        *counts.entry(outcome_name(outcome)).or_default() += 1;
                        match outcome {
                            DriveOutcome::Busy | DriveOutcome::Lost => {}
                            DriveOutcome::Yielded => {
                                more = true;
                                progressed = true;
                            }
                            _ => progressed = true,
                        }
                    }
                    Err(e) => failures.push(format!("{arn}: {e}")),
                }
            }
            if !progressed {
                // What is due is held by live invocations; they go on with it.
                break;
            }
        }
        if more || now_ms() >= end {
            // Work is left and this invocation's time is up: the next sweep goes on at once.
            self.send_event(json!({"Operation": SWEEP_OPERATION})).await;
        }
        if !failures.is_empty() {
            return Err(format!("drives failed: {}", failures.join("; ")));
        }
        Ok(json!({"swept": counts, "scheduled": fired.started.len()}))
    }

    async fn send_drive(&self, arn: &str) {
        self.send_event(json!({"Operation": DRIVE_OPERATION, "Request": {"executionArn": arn}}))
            .await;
    }

    /// Invokes this function asynchronously with `event`. Failures are logged: the sweep
    /// drives what a lost self-invocation would have.
    async fn send_event(&self, event: Value) {
        let (Some(client), Some(name)) = (&self.lambda, &self.settings.function_name) else {
            return;
        };
        let payload = aws_sdk_lambda::primitives::Blob::new(event.to_string().into_bytes());
        let call = client
            .invoke()
            .function_name(name)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(payload)
            .send();
        match tokio::time::timeout(
            Duration::from_millis(self.settings.self_invoke_wait_ms),
            call,
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %aws_sdk_lambda::error::DisplayErrorContext(&e), "self-invocation failed; the sweep will drive the execution")
            }
            Err(_) => {
                tracing::debug!("self-invocation sent; its answer did not come in time")
            }
        }
    }
}

fn outcome_name(outcome: DriveOutcome) -> &'static str {
    match outcome {
        DriveOutcome::Finished(_) => "finished",
        DriveOutcome::Parked => "parked",
        DriveOutcome::Busy => "busy",
        DriveOutcome::Lost => "lost",
        DriveOutcome::Stopped => "stopped",
        DriveOutcome::Yielded => "yielded",
    }
}

/// Shared handle for the runtime's service function.
pub type SharedFunction = Arc<Function>;

#[cfg(test)]
#[path = "lambda_tests.rs"]
mod tests;
