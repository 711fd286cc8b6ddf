//! Nested Step Functions: `arn:aws:states:::states:startExecution` (request-response:
//! `{"ExecutionArn", "StartDate"}`), `.sync` (the child's DescribeExecution, `Output` a string),
//! `.sync:2` (`Input` and `Output` as JSON) and `.waitForTaskToken` (the child is started, the
//! task waits for SendTaskSuccess/Failure with the token the parent passed it).
//!
//! Children run on the same engine and store as their parent: a child is stored with
//! [`start_execution_of`] and driven by whoever gets its lease (a `.sync` task drives it itself, so
//! `stepfn run` needs no worker). A child's name is the task's `Name`, or one derived from the
//! attempt's idempotency key, so an attempt invoked again after a takeover finds its child
//! instead of starting a second one.
//!
//! A child that fails, times out or is aborted fails a `.sync` task with `States.TaskFailed`
//! and the child's description as the cause; a missing state machine or a taken name fail
//! with `StepFunctions.<Exception>` as AWS names them. The child's input is the task's `Input`
//! (`{}` when absent); pass `"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"`
//! in it, as on AWS, to link the two.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::{json, Map, Value};
use sha2::Digest as _;

use crate::asl::error::StatesError;
use crate::asl::resource::{Pattern, Resource};
use crate::engine::execution::Status;
use crate::engine::task::TaskRequest;
use crate::runtime::describe::describe_json;
use crate::runtime::durable::{
    drive_execution, start_execution_of, start_target, DurableOptions, MachineCache, StartError,
};
use crate::store::AnyStore;
use crate::store::{ExecutionRecord, Store};
use crate::tasks::{Continuation, Invocation, TaskFuture, TaskInvoker};

/// The pattern of `resource` when it is a nested Step Functions task
/// (`arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]`).
pub fn nested_pattern(resource: &Resource) -> Option<Pattern> {
    match resource.integration()? {
        ("states", "startExecution", pattern) => Some(pattern),
        _ => None,
    }
}

/// Nested executions over a store.
pub struct StatesTasks {
    store: AnyStore,
    /// What runs the children's tasks (the integrations this belongs to).
    invoker: Weak<dyn TaskInvoker>,
    machines: MachineCache,
    virtual_clock: bool,
}

fn service_error(code: &str, message: &str) -> StatesError {
    StatesError::new(
        format!("StepFunctions.{code}Exception"),
        format!(
            "{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; Request ID: {}; Proxy: null)",
            uuid::Uuid::new_v4()
        ),
    )
}

pub(crate) fn store_error(e: impl std::fmt::Display) -> StatesError {
    StatesError::new(
        "StepFunctions.SdkClientException",
        format!("Unable to execute HTTP request: {e}"),
    )
}

/// The child's name for an attempt without a `Name`: a UUID-shaped digest of its idempotency
/// key, the same every time the attempt is invoked.
pub fn child_name(idempotency_key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha2::Sha256::digest(idempotency_key.as_bytes());
    let hex: String = digest
        .iter()
        .take(16)
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The ARN of the child execution `request` starts (or started), when it is a nested
/// Step Functions task.
pub fn child_arn(request: &TaskRequest) -> Option<String> {
    nested_pattern(&request.resource)?;
    let machine = request.input.get("StateMachineArn")?.as_str()?;
    let name = match request.input.get("Name").and_then(Value::as_str) {
        Some(n) => n.to_string(),
        None => child_name(&request.idempotency_key()),
    };
    Some(crate::runtime::arn::execution(machine, &name))
}

/// DescribeExecution as the integration answers it: PascalCase keys, dates in epoch ms;
/// with `json`, `Input` and `Output` parsed.
fn description(record: &ExecutionRecord, json: bool) -> Value {
    let api = describe_json(record);
    let mut out = Map::new();
    if let Value::Object(fields) = api {
        for (key, value) in fields {
            let mut chars = key.chars();
            let Some(first) = chars.next() else { continue };
            let name = format!("{}{}", first.to_ascii_uppercase(), chars.as_str());
            let value = match (name.as_str(), value) {
                ("StartDate" | "StopDate", Value::Number(n)) => {
                    json!((n.as_f64().unwrap_or_default() * 1000.0).round() as i64)
                }
                ("InputDetails" | "OutputDetails", Value::Object(d)) => Value::Object(
                    d.into_iter()
                        .map(|(k, v)| {
                            let mut c = k.chars();
                            let k = c
                                .next()
                                .map(|f| format!("{}{}", f.to_ascii_uppercase(), c.as_str()))
                                .unwrap_or_default();
                            (k, v)
                        })
                        .collect(),
                ),
                ("Input" | "Output", Value::String(s)) if json => {
                    serde_json::from_str(&s).unwrap_or(Value::String(s))
                }
                (_, v) => v,
            };
            out.insert(name, value);
        }
    }
    Value::Object(out)
}

impl StatesTasks {
    /// Nested executions stored in `store`, their tasks run by `invoker`.
    pub fn new(store: AnyStore, invoker: Weak<dyn TaskInvoker>, virtual_clock: bool) -> Self {
        StatesTasks {
            store,
            invoker,
            machines: MachineCache::default(),
            virtual_clock,
        }
    }

    /// Starts the child of `request` (or finds the one this attempt started).
    async fn start(&self, request: &TaskRequest) -> Result<ExecutionRecord, StatesError> {
        let params = &request.input;
        let Some(p) = params.as_object() else {
            return Err(StatesError::runtime(
                "The Parameters of a states:startExecution task must be an object",
            ));
        };
        if let Some(extra) = p
            .keys()
            .find(|k| !matches!(k.as_str(), "StateMachineArn" | "Input" | "Name"))
        {
            return Err(StatesError::runtime(format!(
                "The field \"{extra}\" is not supported by Step Functions"
            )));
        }
        let machine_arn = p
            .get("StateMachineArn")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                StatesError::runtime("The field 'StateMachineArn' is required but was missing")
            })?;
        let input = match p.get("Input") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
                service_error(
                    "InvalidExecutionInput",
                    &format!("Invalid State Machine Execution Input: '{e}'"),
                )
            })?,
            Some(v) => v.clone(),
        };
        let derived = p.get("Name").is_none();
        let name = match p.get("Name").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            None => child_name(&request.idempotency_key()),
        };
        let target = start_target(&self.store, machine_arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                service_error(
                    "StateMachineDoesNotExist",
                    &format!("State Machine Does Not Exist: '{machine_arn}'"),
                )
            })?;
        let now = crate::runtime::clock::real_now();
        let started = start_execution_of(
            &self.store,
            &target.machine,
            target.alias.as_deref(),
            &name,
            input.clone().into(),
            now,
        );
        match started.await {
            Ok(record) => Ok(record),
            Err(StartError::AlreadyExists(arn)) => {
                // This attempt's own child, already ended (an attempt invoked again).
                match self.store.get_execution(&arn).await.map_err(store_error)? {
                    Some(existing) if derived && existing.input == input => Ok(existing),
                    _ => Err(service_error(
                        "ExecutionAlreadyExists",
                        &format!("Execution Already Exists: '{arn}'"),
                    )),
                }
            }
            Err(StartError::NoMachine(arn)) => Err(service_error(
                "StateMachineDoesNotExist",
                &format!("State Machine Does Not Exist: '{arn}'"),
            )),
            Err(StartError::Store(e)) => Err(store_error(e)),
        }
    }

    /// Drives the child until it ends (others may drive it too: then this waits).
    async fn wait_for(&self, arn: &str) -> Result<ExecutionRecord, StatesError> {
        drive_to_end(
            &self.store,
            arn,
            &self.invoker,
            &self.machines,
            self.virtual_clock,
        )
        .await
    }

    /// Runs a nested Step Functions task of `pattern`: request-response answers the start;
    /// `.waitForTaskToken` starts the child and waits for the callback; `.sync` and `.sync:2`
    /// start it (TaskSubmitted) and wait for its end.
    pub fn invoke(self: &Arc<Self>, pattern: Pattern, request: &TaskRequest) -> Invocation {
        let me = Arc::clone(self);
        let request = request.clone();
        let submit: TaskFuture = Box::pin(async move {
            let child = me.start(&request).await?;
            Ok(start_answer(&child.info.arn, child.info.start_time))
        });
        match pattern {
            Pattern::RequestResponse => Invocation::Pending(submit),
            Pattern::WaitForTaskToken => Invocation::Submitted(submit),
            Pattern::Sync | Pattern::Sync2 => {
                let me = Arc::clone(self);
                let then: Continuation = Box::new(move |started: Value| {
                    Box::pin(async move {
                        let arn = started["ExecutionArn"].as_str().unwrap_or_default();
                        let done = me.wait_for(arn).await?;
                        let described = description(&done, pattern == Pattern::Sync2);
                        if done.status == Status::Succeeded {
                            Ok(described)
                        } else {
                            Err(StatesError::new(
                                crate::asl::error::TASK_FAILED,
                                described.to_string(),
                            ))
                        }
                    })
                });
                Invocation::Staged(submit, then)
            }
        }
    }
}

/// Drives the stored execution `arn` until it ends, its tasks run by `invoker` (others may
/// drive it too: then this waits for them).
///
/// # Errors
/// The store's failure, or the invoker gone.
pub(crate) async fn drive_to_end(
    store: &AnyStore,
    arn: &str,
    invoker: &Weak<dyn TaskInvoker>,
    machines: &MachineCache,
    virtual_clock: bool,
) -> Result<ExecutionRecord, StatesError> {
    let options = DurableOptions {
        owner: format!("sync-{}", uuid::Uuid::new_v4()),
        // A worker that dies while driving children leaves their leases: short ones let the
        // next worker go on with them soon (a live driver renews a third before expiry).
        lease_ms: 10_000,
        // A long timer parks the child (so a stop request or another worker can get at it);
        // this loop drives it again when it is due.
        park_after_ms: Some(2_000),
        virtual_clock,
        deadline_ms: None,
    };
    loop {
        let record = store
            .get_execution(arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| store_error(format!("the child execution {arn} is gone")))?;
        if record.status != Status::Running {
            return Ok(record);
        }
        let Some(invoker) = invoker.upgrade() else {
            return Err(StatesError::runtime("the integrations were shut down"));
        };
        let driven = drive_execution(store, arn, invoker, machines, &options, None).await;
        use crate::runtime::durable::DriveOutcome;
        let pause = match driven {
            Ok(DriveOutcome::Finished(_)) => 0,
            Ok(DriveOutcome::Parked) => 500,
            _ => 100,
        };
        if pause > 0 {
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }
}

/// What a nested start answers, as AWS's StartExecution call returns it to the task:
/// `ExecutionArn`, `StartDate`, and the SDK's `SdkHttpMetadata` and `SdkResponseMetadata`
/// (the headers the Step Functions endpoint sends).
fn start_answer(arn: &str, start_ms: i64) -> Value {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = json!({"executionArn": arn, "startDate": start_ms as f64 / 1000.0}).to_string();
    let date = chrono::DateTime::from_timestamp_millis(start_ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let length = body.len().to_string();
    let headers = [
        ("x-amzn-RequestId", request_id.as_str()),
        ("connection", "keep-alive"),
        ("Content-Length", length.as_str()),
        ("Date", date.as_str()),
        ("Content-Type", "application/x-amz-json-1.0"),
    ];
    let all: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    let mut single: Vec<(&str, &str)> = headers.to_vec();
    single.sort_by_key(|(k, _)| k.to_ascii_lowercase());
    let single: Map<String, Value> = single
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "ExecutionArn": arn,
        "StartDate": start_ms,
        "SdkHttpMetadata": {"AllHttpHeaders": all, "HttpHeaders": single, "HttpStatusCode": 200},
        "SdkResponseMetadata": {"RequestId": request_id},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_answers_with_the_sdks_http_metadata() {
        let a = start_answer("arn:aws:states:us-east-1:111111111111:execution:c:x", 0);
        assert_eq!(
            a["ExecutionArn"],
            "arn:aws:states:us-east-1:111111111111:execution:c:x"
        );
        let http = &a["SdkHttpMetadata"];
        assert_eq!(http["HttpStatusCode"], 200);
        assert_eq!(
            http["HttpHeaders"]["Content-Type"],
            "application/x-amz-json-1.0"
        );
        assert_eq!(http["HttpHeaders"]["Date"], "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http["AllHttpHeaders"]["x-amzn-RequestId"][0],
            a["SdkResponseMetadata"]["RequestId"]
        );
        let keys: Vec<&String> = http["HttpHeaders"]
            .as_object()
            .expect("map")
            .keys()
            .collect();
        assert_eq!(
            keys,
            [
                "connection",
                "Content-Length",
                "Content-Type",
                "Date",
                "x-amzn-RequestId"
            ]
        );
    }

    #[test]
    fn nested_patterns_come_from_the_resource() {
        let pattern = |arn: &str| nested_pattern(&Resource::parse(arn));
        assert_eq!(
            pattern("arn:aws:states:::states:startExecution"),
            Some(Pattern::RequestResponse)
        );
        assert_eq!(
            pattern("arn:aws:states:::states:startExecution.sync:2"),
            Some(Pattern::Sync2)
        );
        assert_eq!(pattern("arn:aws:states:::states:startExecution.nope"), None);
        assert_eq!(pattern("arn:aws:states:::lambda:invoke.sync"), None);
    }

    #[test]
    fn derived_child_names_are_stable_uuids() {
        let a = child_name("arn#1#S#0");
        assert_eq!(a, child_name("arn#1#S#0"));
        assert_ne!(a, child_name("arn#1#S#1"));
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
