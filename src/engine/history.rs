//! History events with Step Functions' event types, ids and previous-event ids.
//!
//! An event's details are kept as the JSON object GetExecutionHistory shows under the
//! event's details key (`stateEnteredEventDetails`, `taskScheduledEventDetails`, ...).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::asl::error::StatesError;

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// 1-based, contiguous within an execution.
    pub id: u64,
    /// The event this one follows from (0 for the first).
    pub previous_event_id: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The Step Functions event type, e.g. `PassStateEntered`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The details object, keyed as in the Step Functions API.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl HistoryEvent {
    /// The event as GetExecutionHistory returns it (timestamp in epoch seconds).
    pub fn to_api_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert(
            "timestamp".into(),
            serde_json::Number::from_f64(self.timestamp as f64 / 1000.0)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        );
        obj.insert("type".into(), Value::String(self.event_type.clone()));
        obj.insert("id".into(), Value::from(self.id));
        obj.insert(
            "previousEventId".into(),
            Value::from(self.previous_event_id),
        );
        for (k, v) in &self.details {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }
}

/// The details key Step Functions uses for an event type.
pub fn details_key(event_type: &str) -> String {
    let stem = if let Some(kind) = event_type.strip_suffix("StateEntered") {
        let _ = kind;
        "stateEntered".to_string()
    } else if event_type.ends_with("StateExited") {
        "stateExited".to_string()
    } else {
        let mut s = event_type.to_string();
        if let Some(first) = s.get_mut(0..1) {
            first.make_ascii_lowercase();
        }
        s
    };
    format!("{stem}EventDetails")
}

/// What a history event records: one variant per shape of `*EventDetails` the engine writes,
/// turned into the JSON GetExecutionHistory shows by [`Details::into_json`]. Text fields hold
/// JSON documents as text, as the API returns them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Details {
    /// No details object (`ParallelStateStarted`, `MapStateSucceeded`, `*StateFailed`, ...).
    None,
    /// `ExecutionStarted`.
    ExecutionStarted {
        /// The execution input.
        input: String,
        /// The role it runs as.
        role_arn: String,
    },
    /// `ExecutionRedriven`.
    ExecutionRedriven {
        /// Redrives so far, this one included.
        redrive_count: u32,
    },
    /// `ExecutionSucceeded`, `ExecutionFailed`, `ExecutionTimedOut`, `ExecutionAborted`.
    ExecutionEnded {
        /// The output, when it succeeded.
        output: Option<String>,
        /// The error and cause, when it did not (an empty error is left out).
        error: Option<StatesError>,
    },
    /// `<Type>StateEntered`.
    StateEntered {
        /// The state.
        name: String,
        /// Its input.
        input: String,
    },
    /// `<Type>StateExited`.
    StateExited {
        /// The state.
        name: String,
        /// Its output.
        output: String,
        /// The variables it assigned, each as JSON text.
        assigned: Option<Box<Map<String, Value>>>,
    },
    /// `MapRunStarted`.
    MapRunStarted {
        /// The Map Run's ARN.
        map_run_arn: String,
    },
    /// `MapStateStarted`.
    MapStarted {
        /// The number of items.
        length: usize,
    },
    /// `MapIterationStarted`, `MapIterationSucceeded`, `MapIterationFailed`.
    MapIteration {
        /// The Map state.
        name: String,
        /// The iteration's index.
        index: usize,
    },
    /// `TaskScheduled`.
    TaskScheduled {
        /// `resourceType` and `resource`.
        resource: (String, String),
        /// The region the task runs in.
        region: String,
        /// The effective parameters.
        parameters: String,
        /// `TimeoutSeconds`.
        timeout: Option<u64>,
        /// `HeartbeatSeconds`.
        heartbeat: Option<u64>,
    },
    /// `LambdaFunctionScheduled` (a function ARN as `Resource`).
    LambdaScheduled {
        /// The function ARN.
        resource: String,
        /// The effective input.
        input: String,
        /// `TimeoutSeconds`.
        timeout: Option<u64>,
    },
    /// `ActivityScheduled`.
    ActivityScheduled {
        /// The activity ARN.
        resource: String,
        /// The effective input.
        input: String,
        /// `TimeoutSeconds`.
        timeout: Option<u64>,
        /// `HeartbeatSeconds`.
        heartbeat: Option<u64>,
    },
    /// `ActivityStarted`.
    ActivityStarted {
        /// The `workerName` of GetActivityTask.
        worker_name: Option<String>,
    },
    /// `TaskStarted`.
    TaskStarted {
        /// `resourceType` and `resource`.
        resource: (String, String),
    },
    /// `TaskSubmitted`, `TaskSucceeded`, and `LambdaFunctionSucceeded` (no resource).
    TaskOutput {
        /// `resourceType` and `resource`, except for the legacy Lambda events.
        resource: Option<(String, String)>,
        /// What the task answered.
        output: String,
    },
    /// `EvaluationFailed`: a state's own expression failed (`States.QueryEvaluationError`).
    EvaluationFailed {
        /// The state.
        state: String,
        /// The error, cause and field.
        error: StatesError,
    },
    /// `TaskFailed`, `TaskTimedOut`, and `LambdaFunctionFailed` (no resource).
    TaskError {
        /// `resourceType` and `resource`, except for the legacy Lambda events.
        resource: Option<(String, String)>,
        /// The error and cause.
        error: StatesError,
    },
}

fn not_truncated() -> Value {
    let mut m = Map::new();
    m.insert("truncated".into(), Value::Bool(false));
    Value::Object(m)
}

/// `timeoutInSeconds` and `heartbeatInSeconds`, when set.
fn put_seconds(d: &mut Map<String, Value>, timeout: Option<u64>, heartbeat: Option<u64>) {
    if let Some(t) = timeout {
        d.insert("timeoutInSeconds".into(), Value::from(t));
    }
    if let Some(h) = heartbeat {
        d.insert("heartbeatInSeconds".into(), Value::from(h));
    }
}

fn put_resource(d: &mut Map<String, Value>, resource: Option<(String, String)>) {
    if let Some((kind, name)) = resource {
        d.insert("resourceType".into(), Value::String(kind));
        d.insert("resource".into(), Value::String(name));
    }
}

impl Details {
    /// The details object as GetExecutionHistory shows it; `None` for [`Details::None`].
    pub(crate) fn into_json(self) -> Option<Map<String, Value>> {
        let mut d = Map::new();
        match self {
            Details::None => return None,
            Details::ExecutionStarted { input, role_arn } => {
                d.insert("input".into(), Value::String(input));
                d.insert("inputDetails".into(), not_truncated());
                d.insert("roleArn".into(), Value::String(role_arn));
            }
            Details::ExecutionRedriven { redrive_count } => {
                d.insert("redriveCount".into(), Value::from(redrive_count));
            }
            Details::ExecutionEnded { output, error } => {
                if let Some(o) = output {
                    d.insert("output".into(), Value::String(o));
                    d.insert("outputDetails".into(), not_truncated());
                }
                if let Some(e) = error {
                    if !e.error.is_empty() {
                        d.insert("error".into(), Value::String(e.error));
                    }
                    if let Some(c) = e.cause {
                        d.insert("cause".into(), Value::String(c));
                    }
                }
            }
            Details::StateEntered { name, input } => {
                d.insert("name".into(), Value::String(name));
                d.insert("input".into(), Value::String(input));
                d.insert("inputDetails".into(), not_truncated());
            }
            Details::StateExited {
                name,
                output,
                assigned,
            } => {
                if let Some(vars) = assigned {
                    d.insert("assignedVariables".into(), Value::Object(*vars));
                    d.insert("assignedVariablesDetails".into(), not_truncated());
                }
                d.insert("name".into(), Value::String(name));
                d.insert("output".into(), Value::String(output));
                d.insert("outputDetails".into(), not_truncated());
            }
            Details::MapStarted { length } => {
                d.insert("length".into(), Value::from(length));
            }
            Details::MapRunStarted { map_run_arn } => {
                d.insert("mapRunArn".into(), Value::String(map_run_arn));
            }
            Details::ActivityScheduled {
                resource,
                input,
                timeout,
                heartbeat,
            } => {
                d.insert("resource".into(), Value::String(resource));
                d.insert("input".into(), Value::String(input));
                d.insert("inputDetails".into(), not_truncated());
                put_seconds(&mut d, timeout, heartbeat);
            }
            Details::ActivityStarted { worker_name } => {
                // AWS writes an empty details object when the worker gave no name.
                if let Some(w) = worker_name {
                    d.insert("workerName".into(), Value::String(w));
                }
                return Some(d);
            }
            Details::EvaluationFailed { state, error } => {
                d.insert("error".into(), Value::String(error.error));
                if let Some(c) = error.cause {
                    d.insert("cause".into(), Value::String(c));
                }
                if let Some(l) = error.location {
                    d.insert("location".into(), Value::String(l));
                }
                d.insert("state".into(), Value::String(state));
            }
            Details::MapIteration { name, index } => {
                d.insert("name".into(), Value::String(name));
                d.insert("index".into(), Value::from(index));
            }
            Details::TaskScheduled {
                resource,
                region,
                parameters,
                timeout,
                heartbeat,
            } => {
                put_resource(&mut d, Some(resource));
                d.insert("region".into(), Value::String(region));
                d.insert("parameters".into(), Value::String(parameters));
                put_seconds(&mut d, timeout, heartbeat);
            }
            Details::LambdaScheduled {
                resource,
                input,
                timeout,
            } => {
                d.insert("resource".into(), Value::String(resource));
                d.insert("input".into(), Value::String(input));
                d.insert("inputDetails".into(), not_truncated());
                if let Some(t) = timeout {
                    d.insert("timeoutInSeconds".into(), Value::from(t));
                }
            }
            Details::TaskStarted { resource } => put_resource(&mut d, Some(resource)),
            Details::TaskOutput { resource, output } => {
                put_resource(&mut d, resource);
                d.insert("output".into(), Value::String(output));
                d.insert("outputDetails".into(), not_truncated());
            }
            Details::TaskError { resource, error } => {
                put_resource(&mut d, resource);
                d.insert("error".into(), Value::String(error.error));
                if let Some(c) = error.cause {
                    d.insert("cause".into(), Value::String(c));
                }
            }
        }
        Some(d)
    }
}
