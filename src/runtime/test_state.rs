//! TestState's run of one state: the state alone in a machine of its own (its `Next`,
//! Choice and Catch targets renamed to stand-in Succeed states, so the run stops where the
//! state hands over), driven in memory on a virtual clock with a [`Probe`] on it, which
//! records the state's intermediate values, its error and the retrier or catcher that took
//! it. A Map or Parallel state, whose mocked result stands in for its iterations or
//! branches, runs as a Task with the same input and output processing.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::asl::diagnostic::Diagnostic;
use crate::asl::error::StatesError;
use crate::asl::load::load;
use crate::asl::validate::validate_text;
use crate::engine::execution::{Execution, ExecutionInfo, Status};
use crate::engine::probe::Probe;
use crate::engine::task::TaskRequest;
use crate::runtime::arn;
use crate::runtime::clock::Clock;
use crate::runtime::driver::{drive, Input};
use crate::tasks::{Invocation, TaskInvoker};

/// The name the tested state runs under, as AWS names it in the context object and in the
/// definition errors of a single state.
pub const STATE_NAME: &str = "StateName";

/// The resource a mocked Map or Parallel state runs as.
const MOCKED_RESOURCE: &str = "arn:aws:states:::lambda:invoke";

/// What to test.
#[derive(Debug, Clone)]
pub struct TestRun {
    /// The state's definition (a JSON object with `Type`).
    pub state: Value,
    /// The query language the state inherits from its machine.
    pub query_language: Option<String>,
    /// The state's input.
    pub input: Input,
    /// The caller's context object, if any.
    pub context: Option<Value>,
    /// The variables in scope.
    pub variables: Map<String, Value>,
    /// Retries the matching retrier has made already.
    pub retry_count: u32,
    /// The role the state runs as (the context object's `Execution.RoleArn`).
    pub role_arn: Option<String>,
}

/// How the state ended, as TestState reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    /// Done; its output is ready.
    Succeeded,
    /// Failed, with no retrier or catcher left for the error.
    Failed,
    /// Failed with an error a retrier would retry.
    Retriable,
    /// Failed with an error a catcher took.
    CaughtError,
}

impl TestStatus {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Succeeded => "SUCCEEDED",
            TestStatus::Failed => "FAILED",
            TestStatus::Retriable => "RETRIABLE",
            TestStatus::CaughtError => "CAUGHT_ERROR",
        }
    }
}

/// What the run showed.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// How the state ended.
    pub status: TestStatus,
    /// Its output (SUCCEEDED, CAUGHT_ERROR).
    pub output: Option<Value>,
    /// The error (FAILED, RETRIABLE, CAUGHT_ERROR).
    pub error: Option<StatesError>,
    /// The state it hands over to.
    pub next_state: Option<String>,
    /// The probe: intermediate values, retrier and catcher.
    pub probe: Probe,
}

/// A task answer fixed in advance (TestState's `mock`).
pub struct Answer(pub Result<Value, StatesError>);

impl TaskInvoker for Answer {
    fn invoke(&self, _request: &TaskRequest) -> Invocation {
        Invocation::Ready(self.0.clone())
    }
}

/// The real invoker, for a TestState of a Task without a mock: a task that would wait for a
/// callback fails at once (nothing can answer it within the request).
pub struct RealCall(pub Arc<dyn TaskInvoker>);

impl TaskInvoker for RealCall {
    fn invoke(&self, request: &TaskRequest) -> Invocation {
        match self.0.invoke(request) {
            Invocation::Ready(r) => Invocation::Ready(r),
            Invocation::Pending(f) => Invocation::Pending(f),
            _ => Invocation::Ready(Err(StatesError::new(
                crate::asl::error::TASK_FAILED,
                "TestState cannot wait for a task token or an activity worker: give a mock",
            ))),
        }
    }
}

/// `state` as a Task with its input and output processing, for a mocked Map or Parallel.
pub fn as_mocked_task(state: &Value) -> Value {
    const KEEP: &[&str] = &[
        "Comment",
        "QueryLanguage",
        "InputPath",
        "OutputPath",
        "ResultPath",
        "ResultSelector",
        "Output",
        "Assign",
        "Retry",
        "Catch",
        "Next",
        "End",
    ];
    let mut task = Map::new();
    task.insert("Type".into(), json!("Task"));
    task.insert("Resource".into(), json!(MOCKED_RESOURCE));
    if let Value::Object(o) = state {
        for (k, v) in o {
            let parallel_input = o.get("Type") == Some(&json!("Parallel"))
                && (k == "Parameters" || k == "Arguments");
            if KEEP.contains(&k.as_str()) || parallel_input {
                task.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(task)
}

/// The targets a state hands over to (`Next`, Choice rules' and `Default`, catchers' `Next`),
/// renamed to stand-ins; the renamed state and the stand-ins by their original names.
fn with_stand_ins(state: &Value) -> (Value, BTreeMap<String, String>) {
    let mut state = state.clone();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let rename = |slot: &mut Value, names: &mut BTreeMap<String, String>| {
        if let Value::String(target) = slot {
            let count = names.len();
            let stand_in = names
                .entry(target.clone())
                .or_insert_with(|| format!("StepfnNext{count}"))
                .clone();
            *slot = Value::String(stand_in);
        }
    };
    if let Value::Object(o) = &mut state {
        if let Some(next) = o.get_mut("Next") {
            rename(next, &mut names);
        }
        if let Some(default) = o.get_mut("Default") {
            rename(default, &mut names);
        }
        for list in ["Choices", "Catch"] {
            if let Some(Value::Array(items)) = o.get_mut(list) {
                for item in items {
                    if let Some(next) = item.get_mut("Next") {
                        rename(next, &mut names);
                    }
                }
            }
        }
    }
    (state, names)
}

/// The machine of one state (named [`STATE_NAME`]) and its stand-ins, by original name.
fn machine_of(state: &Value, query_language: Option<&str>) -> (Value, BTreeMap<String, String>) {
    let (state, stand_ins) = with_stand_ins(state);
    let mut states = Map::new();
    states.insert(STATE_NAME.into(), state);
    for stand_in in stand_ins.values() {
        states.insert(stand_in.clone(), json!({"Type": "Succeed"}));
    }
    let mut definition = json!({"StartAt": STATE_NAME, "States": states});
    if let Some(lang) = query_language {
        definition["QueryLanguage"] = json!(lang);
    }
    (definition, stand_ins)
}

/// Checks `state` as a definition of one state (its errors located under
/// `/States/StateName`).
///
/// # Errors
/// The definition's diagnostics.
pub fn check_state(state: &Value, query_language: Option<&str>) -> Result<(), Vec<Diagnostic>> {
    let (definition, _) = machine_of(state, query_language);
    let checked = validate_text(&definition.to_string())?;
    load(&checked).map(|_| ())
}

/// Runs the state once with `invoker` answering its task.
///
/// # Errors
/// The definition diagnostics when the state (in its machine of one) does not load.
pub async fn test_state(
    run: TestRun,
    invoker: Arc<dyn TaskInvoker>,
) -> Result<TestOutcome, Vec<Diagnostic>> {
    let (definition, stand_ins) = machine_of(&run.state, run.query_language.as_deref());
    let checked = validate_text(&definition.to_string())?;
    let machine = load(&checked)?;

    let name = uuid::Uuid::new_v4().to_string();
    let machine_arn = arn::state_machine(&format!("TestState-{}", &name[..8]));
    let mut clock = Clock::new(true);
    let info = ExecutionInfo {
        arn: arn::express_execution(&machine_arn, &name, &name),
        name: name.clone(),
        state_machine_arn: machine_arn.clone(),
        state_machine_name: machine_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string(),
        role_arn: run.role_arn.clone().unwrap_or_default(),
        start_time: clock.now(),
        origin: Default::default(),
    };
    let mut exec = Execution::new(machine, info, run.input.value, true);
    exec.input_text = run.input.text;
    exec.probe = Some(Box::new(Probe {
        context: run.context,
        variables: run.variables,
        retry_count: run.retry_count,
        ..Probe::default()
    }));
    let mut history = Vec::new();
    drive(&mut exec, invoker, &mut clock, &mut history).await;

    let probe = exec.probe.take().map(|p| *p).unwrap_or_default();
    let entered = history.iter().find_map(|e| {
        let details = e.to_api_json();
        let name = details
            .get("stateEnteredEventDetails")
            .and_then(|d| d.get("name"))
            .and_then(Value::as_str)?
            .to_string();
        stand_ins
            .iter()
            .find(|(_, stand_in)| **stand_in == name)
            .map(|(original, _)| original.clone())
    });
    let outcome = if matches!(probe.retry, Some((_, Some(_)))) {
        TestOutcome {
            status: TestStatus::Retriable,
            output: None,
            error: probe.error.clone(),
            next_state: None,
            probe,
        }
    } else if exec.status == Status::Succeeded {
        let caught = probe.catch_index.is_some();
        TestOutcome {
            status: if caught {
                TestStatus::CaughtError
            } else {
                TestStatus::Succeeded
            },
            output: exec.output.clone(),
            error: if caught { probe.error.clone() } else { None },
            next_state: entered,
            probe,
        }
    } else {
        TestOutcome {
            status: TestStatus::Failed,
            output: None,
            error: exec.error.clone().or_else(|| probe.error.clone()),
            next_state: None,
            probe,
        }
    };
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(state: Value, input: Value) -> TestRun {
        TestRun {
            state,
            query_language: None,
            input: input.into(),
            context: None,
            variables: Map::new(),
            retry_count: 0,
            role_arn: None,
        }
    }

    #[tokio::test]
    async fn a_pass_state_reports_each_step_of_its_processing() {
        let state = json!({"Type": "Pass", "InputPath": "$.a",
            "Parameters": {"v.$": "$.b"}, "ResultPath": "$.r", "Next": "Elsewhere"});
        let out = test_state(
            run(state, json!({"a": {"b": 1}})),
            Arc::new(Answer(Ok(json!(0)))),
        )
        .await
        .expect("loads");
        assert_eq!(out.status, TestStatus::Succeeded);
        assert_eq!(out.next_state.as_deref(), Some("Elsewhere"));
        assert_eq!(out.output, Some(json!({"a": {"b": 1}, "r": {"v": 1}})));
        assert_eq!(out.probe.data["afterInputPath"], json!({"b": 1}));
        assert_eq!(out.probe.data["afterParameters"], json!({"v": 1}));
        assert_eq!(
            out.probe.data["afterResultPath"],
            json!({"a": {"b": 1}, "r": {"v": 1}})
        );
    }

    #[tokio::test]
    async fn a_task_error_is_retriable_then_caught() {
        let state = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f"},
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 2.0}],
            "Catch": [{"ErrorEquals": ["Other"], "Next": "A"}, {"ErrorEquals": ["States.ALL"], "Next": "B"}],
            "End": true});
        let boom = || Arc::new(Answer(Err(StatesError::new("Boom", "it broke"))));
        let mut r = run(state, json!({}));
        r.retry_count = 4;
        let out = test_state(r.clone(), boom()).await.expect("loads");
        assert_eq!(out.status, TestStatus::Retriable);
        assert_eq!(out.probe.retry, Some((0, Some(16))));
        assert_eq!(out.error.map(|e| e.error), Some("Boom".into()));
        r.retry_count = 5;
        let out = test_state(r, boom()).await.expect("loads");
        assert_eq!(out.status, TestStatus::CaughtError);
        assert_eq!(out.probe.catch_index, Some(1));
        assert_eq!(out.next_state.as_deref(), Some("B"));
        assert_eq!(
            out.output,
            Some(json!({"Error": "Boom", "Cause": "it broke"}))
        );
    }

    #[tokio::test]
    async fn a_mocked_parallel_runs_its_processing_around_the_mock() {
        let state = json!({"Type": "Parallel", "InputPath": "$.in", "ResultPath": "$.out",
            "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}],
            "End": true});
        let task = as_mocked_task(&state);
        let out = test_state(
            run(task, json!({"in": 1})),
            Arc::new(Answer(Ok(json!(["mocked"])))),
        )
        .await
        .expect("loads");
        assert_eq!(out.output, Some(json!({"in": 1, "out": ["mocked"]})));
    }
}
