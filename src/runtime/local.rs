//! One execution in memory, as `stepfn run` does it: validate the definition and input, drive
//! the execution, and shape the result.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::asl::diagnostic::Diagnostic;
use crate::asl::error::StatesError;
use crate::asl::load::load;
use crate::asl::payload::json_len;
use crate::asl::payload::PAYLOAD_LIMIT_BYTES;
use crate::engine::execution::Status;
use crate::engine::history::HistoryEvent;
use crate::runtime::driver::{self, Finished, RunOptions};
use crate::tasks::TaskInvoker;

/// Why a local run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The definition does not validate.
    #[error("invalid definition:\n{}", list(.0))]
    InvalidDefinition(Vec<Diagnostic>),
    /// The input is not acceptable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

fn list(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What to run.
#[derive(Clone)]
pub struct LocalRun {
    /// The definition.
    pub definition: Value,
    /// The execution input.
    pub input: Value,
    /// The input as the caller wrote it, when there is such a text.
    pub input_text: Option<String>,
    /// The state machine name (matched against the MockConfigFile).
    pub machine_name: String,
    /// The execution name.
    pub execution_name: String,
    /// Driving options.
    pub options: RunOptions,
    /// What runs the tasks (an [`Invokers`](crate::runtime::invokers::Invokers) stack).
    pub invoker: Arc<dyn TaskInvoker>,
}

/// Runs `run` to its end.
///
/// # Errors
/// [`RunError`] when the definition or input is unusable; nothing ran then.
pub async fn run_local(run: LocalRun) -> Result<Finished, RunError> {
    let machine = load(&run.definition).map_err(RunError::InvalidDefinition)?;
    if json_len(&run.input, PAYLOAD_LIMIT_BYTES) > PAYLOAD_LIMIT_BYTES {
        return Err(RunError::InvalidInput(format!(
            "the input is over the {PAYLOAD_LIMIT_BYTES}-byte limit"
        )));
    }
    let info = crate::runtime::arn::local_execution(&run.machine_name, &run.execution_name, 0);
    let input = driver::Input {
        value: run.input,
        text: run.input_text.map(Arc::from),
    };
    Ok(driver::run(machine, info, input, run.invoker, run.options).await)
}

/// The `--format json` result object: status, output, error, cause (and history).
pub fn result_json(run: &Finished, with_history: bool) -> Value {
    let exec = &run.execution;
    result_object(
        exec.status,
        exec.output.as_ref(),
        exec.error.as_ref(),
        run.history.as_deref(),
        with_history,
    )
}

/// The `--format json` result object from its parts.
pub fn result_object(
    status: Status,
    output: Option<&Value>,
    error: Option<&StatesError>,
    history: Option<&[HistoryEvent]>,
    with_history: bool,
) -> Value {
    let mut out = Map::new();
    out.insert("status".into(), Value::String(status.as_str().into()));
    out.insert(
        "output".into(),
        if status == Status::Succeeded {
            output.cloned().unwrap_or(Value::Null)
        } else {
            Value::Null
        },
    );
    let (error, cause) = match error {
        Some(e) => (
            if e.error.is_empty() {
                Value::Null
            } else {
                Value::String(e.error.clone())
            },
            e.cause.clone().map(Value::String).unwrap_or(Value::Null),
        ),
        None => (Value::Null, Value::Null),
    };
    out.insert("error".into(), error);
    out.insert("cause".into(), cause);
    if with_history {
        let events = history
            .map(|h| h.iter().map(HistoryEvent::to_api_json).collect())
            .unwrap_or_default();
        out.insert("history".into(), Value::Array(events));
    }
    Value::Object(out)
}

/// A MockConfigFile holding one test case for `machine` from `state -> responses`.
pub fn mock_config_from_responses(machine: &str, case: &str, responses: &Value) -> Value {
    let mut states = Map::new();
    let mut mocked = Map::new();
    if let Value::Object(map) = responses {
        for (state, resp) in map {
            let name = format!("{state}Response");
            states.insert(state.clone(), Value::String(name.clone()));
            mocked.insert(name, resp.clone());
        }
    }
    json!({
        "StateMachines": { machine: { "TestCases": { case: states } } },
        "MockedResponses": mocked,
    })
}
