//! Mocked task results from an AWS Step Functions Local MockConfigFile.
//!
//! Format: `StateMachines.<name>.TestCases.<case>.<state> = <response name>`, and
//! `MockedResponses.<response name>` maps invocation numbers (`"0"`, `"1-2"`) to
//! `{"Return": value}` or `{"Throw": {"Error", "Cause"}}`. Invocations are counted per state and
//! execution, retries included; past the last key the last response repeats.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;

use crate::asl::error::StatesError;
use crate::asl::resource::Resource;
use crate::engine::task::TaskRequest;
use crate::tasks::{Invocation, TaskInvoker};

/// A mock config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The file is not a MockConfigFile.
    #[error("invalid mock config at {pointer}: {message}")]
    Invalid {
        /// JSON Pointer of the problem.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The state machine has no entry.
    #[error("mock config has no state machine named {0:?} under /StateMachines")]
    NoMachine(String),
    /// The test case does not exist.
    #[error("mock config has no test case {case:?} under /StateMachines/{machine}/TestCases")]
    NoTestCase {
        /// State machine name.
        machine: String,
        /// Test case name.
        case: String,
    },
    /// A test case names a state the state machine does not have.
    #[error("test case {case:?} mocks state {state:?}, which the state machine does not have")]
    UnknownState {
        /// Test case name.
        case: String,
        /// State name.
        state: String,
    },
    /// A test case names a response that does not exist.
    #[error("test case {case:?} maps state {state:?} to unknown mocked response {response:?}")]
    NoResponse {
        /// Test case name.
        case: String,
        /// State name.
        state: String,
        /// Response name.
        response: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MockConfigFile {
    #[serde(default)]
    state_machines: HashMap<String, MachineEntry>,
    #[serde(default)]
    mocked_responses: HashMap<String, HashMap<String, MockStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MachineEntry {
    #[serde(default)]
    test_cases: HashMap<String, HashMap<String, String>>,
}

/// One mocked invocation result.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum MockStep {
    /// The task succeeds with this raw result.
    Return(Value),
    /// The task fails.
    Throw(MockThrow),
}

/// A mocked failure.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MockThrow {
    /// Error name.
    #[serde(rename = "Error")]
    pub error: String,
    /// Cause.
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// The responses of one state: sorted ranges of invocation numbers.
#[derive(Debug, Clone, Default)]
pub struct MockedResponse {
    ranges: Vec<(u32, u32, MockStep)>,
}

impl MockedResponse {
    /// Parses `{"0": step, "1-2": step}`.
    fn parse(map: &HashMap<String, MockStep>, name: &str) -> Result<MockedResponse, MockError> {
        let mut ranges = Vec::new();
        for (key, step) in map {
            let bad = || MockError::Invalid {
                pointer: format!("/MockedResponses/{name}/{key}"),
                message: "keys must be invocation numbers like \"0\" or ranges like \"1-2\"".into(),
            };
            let (lo, hi) = match key.split_once('-') {
                Some((a, b)) => (
                    a.trim().parse::<u32>().map_err(|_| bad())?,
                    b.trim().parse::<u32>().map_err(|_| bad())?,
                ),
                None => {
                    let n = key.trim().parse::<u32>().map_err(|_| bad())?;
                    (n, n)
                }
            };
            if hi < lo {
                return Err(bad());
            }
            ranges.push((lo, hi, step.clone()));
        }
        ranges.sort_by_key(|r| r.0);
        Ok(MockedResponse { ranges })
    }

    /// The step for invocation number `n` (the last one past the end).
    pub fn step(&self, n: u32) -> Option<&MockStep> {
        self.ranges
            .iter()
            .find(|(lo, hi, _)| (*lo..=*hi).contains(&n))
            .or_else(|| self.ranges.last())
            .map(|(_, _, s)| s)
    }
}

/// The mocked responses of one test case, by state name.
#[derive(Debug, Clone, Default)]
pub struct TestCase {
    states: rustc_hash::FxHashMap<String, MockedResponse>,
}

impl TestCase {
    /// Builds a test case straight from `state -> {"0": step, ...}` (the conformance format).
    ///
    /// # Errors
    /// When a key or a step is malformed.
    pub fn from_state_responses(value: &Value) -> Result<TestCase, MockError> {
        let map: HashMap<String, HashMap<String, MockStep>> = serde_json::from_value(value.clone())
            .map_err(|e| MockError::Invalid {
                pointer: String::new(),
                message: e.to_string(),
            })?;
        let mut states = rustc_hash::FxHashMap::default();
        for (state, resp) in &map {
            states.insert(state.clone(), MockedResponse::parse(resp, state)?);
        }
        Ok(TestCase { states })
    }

    /// Loads test case `case` of machine `machine` from a MockConfigFile.
    ///
    /// # Errors
    /// When the file is malformed or lacks the machine, the case or a response.
    pub fn from_config(config: &Value, machine: &str, case: &str) -> Result<TestCase, MockError> {
        let file: MockConfigFile =
            serde_path_to_error::deserialize(config).map_err(|e| MockError::Invalid {
                pointer: format!("/{}", e.path().to_string().replace('.', "/")),
                message: e.inner().to_string(),
            })?;
        let entry = file
            .state_machines
            .get(machine)
            .ok_or_else(|| MockError::NoMachine(machine.to_string()))?;
        let states = entry
            .test_cases
            .get(case)
            .ok_or_else(|| MockError::NoTestCase {
                machine: machine.to_string(),
                case: case.to_string(),
            })?;
        let mut out = rustc_hash::FxHashMap::default();
        for (state, response) in states {
            let r = file
                .mocked_responses
                .get(response)
                .ok_or_else(|| MockError::NoResponse {
                    case: case.to_string(),
                    state: state.clone(),
                    response: response.clone(),
                })?;
            out.insert(state.clone(), MockedResponse::parse(r, response)?);
        }
        Ok(TestCase { states: out })
    }
}

impl TestCase {
    /// Checks that every state the case mocks is a state of `definition` (at any depth), as
    /// Step Functions Local refuses a test case naming a state that does not exist.
    ///
    /// # Errors
    /// [`MockError::UnknownState`] naming the first such state (in name order).
    pub fn check_states(&self, definition: &Value, case: &str) -> Result<(), MockError> {
        let mut known = std::collections::HashSet::new();
        state_names(definition, &mut known);
        let mut mocked: Vec<&String> = self.states.keys().collect();
        mocked.sort();
        match mocked.into_iter().find(|s| !known.contains(s.as_str())) {
            Some(state) => Err(MockError::UnknownState {
                case: case.to_string(),
                state: state.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// Every state name of a definition: its `States` and those of its branches and processors.
fn state_names<'v>(v: &'v Value, out: &mut std::collections::HashSet<&'v str>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(states)) = map.get("States") {
                out.extend(states.keys().map(String::as_str));
            }
            for child in map.values() {
                state_names(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| state_names(i, out)),
        _ => {}
    }
}

/// Invocations so far, by execution ARN and state name.
type Counters = rustc_hash::FxHashMap<Arc<str>, rustc_hash::FxHashMap<Arc<str>, u32>>;

/// A task invoker answering from a test case; states it does not mock go to `fallback`.
pub struct MockInvoker {
    case: TestCase,
    counters: Mutex<Counters>,
    fallback: Arc<dyn TaskInvoker>,
}

impl MockInvoker {
    /// Mocks from `case`; unmocked states go to `fallback`.
    pub fn new(case: TestCase, fallback: Arc<dyn TaskInvoker>) -> Self {
        MockInvoker {
            case,
            counters: Mutex::new(Counters::default()),
            fallback,
        }
    }
}

impl TaskInvoker for MockInvoker {
    fn invoke(&self, request: &TaskRequest) -> Invocation {
        let Some(resp) = self.case.states.get(&*request.state_name) else {
            return self.fallback.invoke(request);
        };
        let n = {
            let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            let per_state = match counters.get_mut(&*request.execution_arn) {
                Some(p) => p,
                None => counters
                    .entry(Arc::clone(&request.execution_arn))
                    .or_default(),
            };
            let count = per_state
                .entry(Arc::clone(&request.state_name))
                .or_insert(0);
            *count += 1;
            *count - 1
        };
        Invocation::Ready(match resp.step(n) {
            Some(MockStep::Return(v)) => Ok(function_result(&request.resource, v)),
            Some(MockStep::Throw(t)) => Err(StatesError {
                error: t.error.clone(),
                cause: t.cause.clone(),
                location: None,
            }),
            None => Err(StatesError::new(
                crate::asl::error::TASK_FAILED,
                format!("no mocked response for state '{}'", request.state_name),
            )),
        })
    }
}

/// The result a Task sees from a mocked Lambda call.
///
/// MockConfigFiles give Lambda responses in the Invoke shape (`StatusCode`, `Payload`). A Task
/// whose `Resource` is a function ARN receives only the function's return value, so, as Step
/// Functions Local does, such a response is unwrapped to its `Payload`; any other value is the
/// return value itself.
fn function_result(resource: &Resource, value: &Value) -> Value {
    use crate::asl::path::field;
    let payload = match value {
        Value::Object(o) if resource.is_lambda_function() && field(o, "StatusCode").is_some() => {
            field(o, "Payload")
        }
        _ => None,
    };
    payload.unwrap_or(value).clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ranges_pick_the_step_and_repeat_the_last() {
        let case = TestCase::from_state_responses(&json!({
            "T": {"0": {"Throw": {"Error": "E", "Cause": "c"}}, "1-2": {"Return": 1}, "3": {"Return": 2}}
        }))
        .expect("valid");
        let r = &case.states["T"];
        assert!(matches!(r.step(0), Some(MockStep::Throw(_))));
        assert_eq!(r.step(2), Some(&MockStep::Return(json!(1))));
        assert_eq!(r.step(9), Some(&MockStep::Return(json!(2))));
    }

    #[test]
    fn invoke_shaped_returns_unwrap_for_function_arns_only() {
        let v = json!({"StatusCode": 200, "Payload": {"ok": true}});
        let arn = &Resource::parse("arn:aws:lambda:us-east-1:111111111111:function:f");
        assert_eq!(function_result(arn, &v), json!({"ok": true}));
        let invoke = Resource::parse("arn:aws:states:::lambda:invoke");
        assert_eq!(function_result(&invoke, &v), v);
        assert_eq!(function_result(arn, &json!(0.0)), json!(0.0));
    }

    #[test]
    fn a_test_case_naming_an_unknown_state_is_refused() {
        let cfg = json!({
            "StateMachines": {"m": {"TestCases": {"Typo": {"Tsk": "Ok"}, "Good": {"T": "Ok"}}}},
            "MockedResponses": {"Ok": {"0": {"Return": {"x": 1}}}}
        });
        let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "x", "End": true}}}]}}});
        let good = TestCase::from_config(&cfg, "m", "Good").expect("valid");
        assert!(good.check_states(&definition, "Good").is_ok());
        let typo = TestCase::from_config(&cfg, "m", "Typo").expect("valid");
        assert_eq!(
            typo.check_states(&definition, "Typo")
                .expect_err("unknown state")
                .to_string(),
            "test case \"Typo\" mocks state \"Tsk\", which the state machine does not have"
        );
    }

    #[test]
    fn config_file_resolves_test_case_responses() {
        let cfg = json!({
            "StateMachines": {"m": {"TestCases": {"Happy": {"T": "Ok"}}}},
            "MockedResponses": {"Ok": {"0": {"Return": {"x": 1}}}}
        });
        let case = TestCase::from_config(&cfg, "m", "Happy").expect("valid");
        assert_eq!(
            case.states["T"].step(0),
            Some(&MockStep::Return(json!({"x": 1})))
        );
        let err = TestCase::from_config(&cfg, "m", "Nope").expect_err("missing case");
        assert_eq!(
            err.to_string(),
            "mock config has no test case \"Nope\" under /StateMachines/m/TestCases"
        );
    }
}
