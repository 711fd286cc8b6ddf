//! TestState against the execution: each top-level Pass, Choice, Succeed, Wait, Fail and
//! (mocked with the result it got) Task state an execution of a case ran is run again through
//! TestState (the whole definition with `stateName`, the input the state got) and must give
//! the output and next state the execution went on with.
//!
//! States whose answer depends on what TestState replaces are left out: the context object
//! (`$$`, `$states.context`), variables (`Assign`), randomness and the clock, a Task that
//! failed and was retried or caught, and the states inside Map and Parallel states.

use serde_json::{json, Value};

/// What the definition uses that TestState gives differently from an execution.
fn depends_on_the_execution(definition: &Value) -> bool {
    let text = definition.to_string();
    [
        "$$",
        "$states.context",
        "\"Assign\"",
        "States.UUID",
        "States.MathRandom",
        "$random",
        "$uuid",
        "$now",
        "$millis",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn details<'a>(event: &'a Value, key: &str) -> Option<&'a Value> {
    event.get(key)
}

fn parse(text: Option<&Value>) -> Value {
    text.and_then(Value::as_str)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// One state of the execution to check: its name, input, the mocked task result, and what
/// the execution did next.
struct Ran {
    name: String,
    kind: String,
    input: String,
    result: Option<String>,
    output: Option<Value>,
    failure: Option<(Value, Value)>,
    next: Option<String>,
    clean: bool,
}

/// The top-level states of `events` that TestState can be compared on.
fn top_level_states(definition: &Value, events: &[Value]) -> Vec<Ran> {
    let mut out: Vec<Ran> = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<Ran> = None;
    for event in events {
        let kind = event["type"].as_str().unwrap_or_default();
        if kind.ends_with("StateStarted")
            && (kind.starts_with("Map") || kind.starts_with("Parallel"))
        {
            depth += 1;
            continue;
        }
        if (kind.starts_with("MapState") || kind.starts_with("ParallelState"))
            && ["Succeeded", "Failed", "Aborted"]
                .iter()
                .any(|s| kind.ends_with(s))
        {
            depth = depth.saturating_sub(1);
            continue;
        }
        if depth > 0 {
            continue;
        }
        if let Some(d) = details(event, "stateEnteredEventDetails") {
            let name = d["name"].as_str().unwrap_or_default().to_string();
            if let Some(previous) = current.as_mut() {
                if previous.next.is_none() && previous.output.is_some() {
                    previous.next = Some(name.clone());
                }
            }
            if let Some(done) = current.take() {
                out.push(done);
            }
            let state_kind = definition["States"][&name]["Type"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            current = Some(Ran {
                name,
                kind: state_kind,
                input: d["input"].as_str().unwrap_or("{}").to_string(),
                result: None,
                output: None,
                failure: None,
                next: None,
                clean: true,
            });
            continue;
        }
        let Some(ran) = current.as_mut() else {
            continue;
        };
        if let Some(d) = details(event, "stateExitedEventDetails") {
            ran.output = Some(parse(d.get("output")));
        } else if let Some(d) = details(event, "taskSucceededEventDetails")
            .or_else(|| details(event, "lambdaFunctionSucceededEventDetails"))
        {
            if ran.result.is_some() {
                ran.clean = false;
            }
            ran.result = d["output"].as_str().map(str::to_string);
        } else if let Some(d) = details(event, "executionFailedEventDetails") {
            ran.failure = Some((d["error"].clone(), d["cause"].clone()));
        } else if kind.ends_with("Failed") || kind.ends_with("TimedOut") {
            ran.clean = false;
        }
    }
    if let Some(done) = current.take() {
        out.push(done);
    }
    out.retain(|r| r.clean);
    out
}

/// Runs the case's states through TestState; the number of states compared, or what differed.
pub(crate) fn check_states(
    definition: &Value,
    events: &[Value],
    runtime: &tokio::runtime::Runtime,
) -> Result<usize, String> {
    if depends_on_the_execution(definition) {
        return Ok(0);
    }
    let service = stepfn::api::Service::with_mocks(
        stepfn::store::AnyStore::Memory(stepfn::store::memory::MemoryStore::new()),
        None,
    );
    let mut compared = 0;
    for ran in top_level_states(definition, events) {
        let mut request = json!({
            "definition": definition.to_string(),
            "stateName": ran.name,
            "input": ran.input,
            "roleArn": "arn:aws:iam::111111111111:role/conformance",
        });
        match ran.kind.as_str() {
            "Pass" | "Choice" | "Succeed" | "Wait" | "Fail" => {}
            "Task" => match &ran.result {
                Some(result) => request["mock"] = json!({"result": result}),
                None => continue,
            },
            _ => continue,
        }
        let answer = runtime
            .block_on(service.call("TestState", request))
            .map_err(|e| format!("state {}: TestState refused: {e:?}", ran.name))?;
        match (&ran.output, &ran.failure) {
            (Some(output), _) => {
                let got = parse(answer.get("output"));
                if answer["status"] != "SUCCEEDED" || &got != output {
                    return Err(format!(
                        "state {}: TestState answered {answer}, the execution's output was {output}",
                        ran.name
                    ));
                }
                if answer.get("nextState").and_then(Value::as_str) != ran.next.as_deref() {
                    return Err(format!(
                        "state {}: TestState's nextState {:?}, the execution went on to {:?}",
                        ran.name,
                        answer.get("nextState"),
                        ran.next
                    ));
                }
            }
            (None, Some((error, cause))) if ran.kind == "Fail" => {
                // An execution locates a runtime failure in its cause ("An error occurred
                // while executing the state 'X' (entered at the event id #N). ..."); TestState
                // gives the cause alone, as AWS's recordings of it show.
                let cause = cause.as_str().map_or(cause.clone(), |c| {
                    let plain = c
                        .strip_prefix("An error occurred while executing the state '")
                        .and_then(|rest| rest.split_once("). "))
                        .map_or(c, |(_, tail)| tail);
                    json!(plain)
                });
                let same = answer["status"] == "FAILED"
                    && &answer["error"] == error
                    && answer.get("cause").unwrap_or(&Value::Null) == &cause;
                if !same {
                    return Err(format!(
                        "state {}: TestState answered {answer}, the execution failed with {error} / {cause}",
                        ran.name
                    ));
                }
            }
            _ => continue,
        }
        compared += 1;
    }
    Ok(compared)
}
