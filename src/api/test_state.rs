//! TestState: one state (or the state `stateName` of a whole machine) run once on an input,
//! with AWS's request checks, mocks (`result` or `errorOutput`), `stateConfiguration`, and
//! the answer AWS gives: `status`, `output`, `error`, `cause`, `nextState` and, at DEBUG and
//! TRACE, `inspectionData`. The run itself is [`crate::runtime::test_state`].

use crate::asl::error::StatesError;
use crate::asl::path::{Path, Scope};
use crate::asl::resource::Resource;
use crate::asl::services::{check_mocked_result, FieldValidation};
use crate::runtime::test_state::{
    as_mocked_task, check_state, test_state, Answer, RealCall, TestOutcome, TestRun, TestStatus,
};

use super::*;

fn invalid(message: impl Into<String>) -> ApiError {
    err(Exception::ValidationException, message)
}

/// The state named `name` anywhere in `machine` (top level, Parallel branches, Map
/// processors).
fn find_state<'a>(machine: &'a Value, name: &str) -> Option<&'a Value> {
    let states = machine.get("States")?.as_object()?;
    if let Some(s) = states.get(name) {
        return Some(s);
    }
    states.values().find_map(|s| {
        let bodies: Vec<&Value> = match s.get("Type").and_then(Value::as_str) {
            Some("Parallel") => s
                .get("Branches")
                .and_then(Value::as_array)
                .map(|b| b.iter().collect())
                .unwrap_or_default(),
            Some("Map") => ["ItemProcessor", "Iterator"]
                .iter()
                .filter_map(|k| s.get(*k))
                .collect(),
            _ => Vec::new(),
        };
        bodies.into_iter().find_map(|b| find_state(b, name))
    })
}

/// A JSON text field of the request (`input`, `variables`, `context`, `mock.result`).
fn json_text(req: &Value, name: &str) -> Result<Option<(Value, String)>, ApiError> {
    let Some(text) = opt_field(req, name)? else {
        return Ok(None);
    };
    if text.len() > crate::asl::payload::PAYLOAD_LIMIT_BYTES {
        return Err(invalid(format!("1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must have length less than or equal to 262144")));
    }
    let value = serde_json::from_str(text).map_err(|e| {
        err(
            Exception::InvalidExecutionInput,
            format!(
                "Invalid State Machine Execution Input: '{}'",
                crate::asl::validate::jackson_message(text, &e)
            ),
        )
    })?;
    Ok(Some((value, text.to_string())))
}

/// The caller's context object, checked as AWS checks it.
fn check_context(context: &Value, state: &Value) -> Result<(), ApiError> {
    let bad = |why: String| invalid(format!("Invalid Context object provided: {why}"));
    let Value::Object(top) = context else {
        return Err(bad("the context must be a JSON object".into()));
    };
    let allowed: &[(&str, &[&str])] = &[
        (
            "Execution",
            &["Id", "Input", "Name", "RoleArn", "StartTime"],
        ),
        ("State", &["EnteredTime", "Name", "RetryCount"]),
        ("StateMachine", &["Id", "Name"]),
        ("Task", &["Token"]),
    ];
    for (key, value) in top {
        if key == "Map" {
            return Err(bad(
                "'Map' field is not supported when mocking a Context object".into(),
            ));
        }
        let Some((_, fields)) = allowed.iter().find(|(k, _)| k == key) else {
            return Err(bad(format!("Field '{key}' is not allowed")));
        };
        if let Value::Object(inner) = value {
            for (field, v) in inner {
                if !fields.contains(&field.as_str()) {
                    return Err(bad(format!("Field '{field}' is not allowed")));
                }
                let integer = field == "RetryCount";
                let ok = match (integer, field.as_str()) {
                    (true, _) => v.is_i64() || v.is_u64(),
                    (false, "Input") => true,
                    (false, _) => v.is_string(),
                };
                if !ok {
                    let kind = if integer { "an integer" } else { "a string" };
                    return Err(bad(format!("{key}.{field} must be {kind}")));
                }
            }
        }
    }
    if top.contains_key("Task") {
        let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
        let waits = resource.ends_with(".sync")
            || resource.ends_with(".sync:2")
            || resource.ends_with(".waitForTaskToken");
        if !waits {
            return Err(bad("Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern".into()));
        }
    }
    Ok(())
}

/// What the caller mocked.
enum Mock {
    Result(Value),
    Error(StatesError),
}

fn parse_mock(req: &Value, kind: &str, state: &Value) -> Result<Option<Mock>, ApiError> {
    let Some(mock) = req.get("mock").filter(|m| !m.is_null()) else {
        return Ok(None);
    };
    if !mock.is_object() {
        return Err(invalid("1 validation error detected: Value at 'mock' failed to satisfy constraint: Member must be a structure"));
    }
    if matches!(kind, "Pass" | "Fail" | "Succeed" | "Wait" | "Choice") {
        return Err(invalid(format!(
            "State type '{kind}' is not supported when a mock is specified"
        )));
    }
    let result = mock.get("result").filter(|v| !v.is_null());
    let error = mock.get("errorOutput").filter(|v| !v.is_null());
    let mode = match opt_field(mock, "fieldValidationMode")? {
        None | Some("STRICT") => FieldValidation::Strict,
        Some("PRESENT") => FieldValidation::Present,
        Some("NONE") => FieldValidation::None,
        Some(mode) => return Err(invalid(format!("1 validation error detected: Value '{mode}' at 'mock.fieldValidationMode' failed to satisfy constraint: Member must satisfy enum value set: [STRICT, PRESENT, NONE]"))),
    };
    match (result, error) {
        (Some(_), Some(_)) => Err(invalid(
            "A test mock should have only one of the following fields: [result, errorOutput].",
        )),
        (Some(_), None) => {
            let text = field(mock, "result")?;
            let value = serde_json::from_str(text)
                .map_err(|_| invalid("Mocked result must be valid JSON"))?;
            if kind == "Task" {
                if let Some(resource) = state.get("Resource").and_then(Value::as_str) {
                    check_mocked_result(&Resource::parse(resource), &value, mode)
                        .map_err(invalid)?;
                }
            }
            Ok(Some(Mock::Result(value)))
        }
        (None, Some(e)) => Ok(Some(Mock::Error(StatesError {
            error: opt_field(e, "error")?.unwrap_or_default().to_string(),
            cause: opt_field(e, "cause")?.map(str::to_string),
            location: None,
        }))),
        (None, None) => Err(invalid(
            "A test mock should have one of the following fields: [result, errorOutput].",
        )),
    }
}

/// A non-negative integer of `stateConfiguration`.
fn config_count(config: Option<&Value>, name: &str) -> Result<Option<u64>, ApiError> {
    match config.and_then(|c| c.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            invalid(format!("1 validation error detected: Value '{v}' at 'stateConfiguration.{name}' failed to satisfy constraint: Member must have value greater than or equal to 0"))
        }),
    }
}

/// A Map's number field (`MaxConcurrency`, `ToleratedFailureCount`, ...) as the state would
/// evaluate it on `input`: a literal, its `...Path` form, or a JSONata expression.
fn map_number(state: &Value, name: &str, input: &Value, context: &Value) -> Option<Value> {
    if let Some(v) = state.get(name) {
        if let Value::String(s) = v {
            if crate::asl::jsonata::is_expression(s) {
                let states = json!({"input": input, "context": context});
                let moment = crate::asl::jsonata::Moment::new(now_ms(), 0);
                return crate::asl::jsonata::eval(s, &states, &Map::new(), &moment)
                    .ok()
                    .flatten();
            }
        }
        return Some(v.clone());
    }
    let path = state.get(format!("{name}Path"))?.as_str()?;
    Path::parse(path)
        .ok()?
        .eval(&Scope::new(input, context))
        .ok()
}

/// What the Map's own processing shows before its iterations: its effective input, items
/// and limits.
fn map_inspection(state: &Value, input: &Value, context: &Value) -> Map<String, Value> {
    let mut data = Map::new();
    let jsonata = state.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata");
    let mut effective = input.clone();
    if !jsonata {
        if let Some(p) = state.get("InputPath").and_then(Value::as_str) {
            if let Some(v) = Path::parse(p)
                .ok()
                .and_then(|p| p.eval(&Scope::new(input, context)).ok())
            {
                effective = v;
            }
        }
        data.insert("afterInputPath".into(), effective.clone());
        let items = match state.get("ItemsPath").and_then(Value::as_str) {
            Some(p) => Path::parse(p)
                .ok()
                .and_then(|p| p.eval(&Scope::new(&effective, context)).ok()),
            None => Some(effective.clone()),
        };
        if let Some(items) = items {
            data.insert("afterItemsPath".into(), items);
        }
    }
    let concurrency = map_number(state, "MaxConcurrency", &effective, context);
    data.insert(
        "maxConcurrency".into(),
        concurrency.filter(Value::is_number).unwrap_or(json!(0)),
    );
    for name in ["ToleratedFailureCount", "ToleratedFailurePercentage"] {
        if let Some(v) = map_number(state, name, &effective, context) {
            let key = format!("{}{}", name[..1].to_lowercase(), &name[1..]);
            let v = if name == "ToleratedFailurePercentage" {
                v.as_f64().map_or(v, |f| json!(f))
            } else {
                v
            };
            data.insert(key, v);
        }
    }
    data
}

/// The Map's answer when `failures` of its iterations failed: its threshold exceeded, or the
/// mock. Only a Map with a tolerated failure count or percentage counts failures.
fn tolerate(data: &Map<String, Value>, failures: u64, items: usize) -> Option<StatesError> {
    let count = data.get("toleratedFailureCount").and_then(Value::as_u64);
    let percentage = data
        .get("toleratedFailurePercentage")
        .and_then(Value::as_f64);
    if count.is_none() && percentage.is_none() {
        return None;
    }
    let over_count = count.is_some_and(|c| failures > c);
    let over_percentage =
        percentage.is_some_and(|p| items > 0 && (failures as f64) * 100.0 / (items as f64) > p);
    let exceeded = match (count, percentage) {
        (Some(_), Some(_)) => over_count && over_percentage,
        _ => over_count || over_percentage,
    };
    exceeded.then(|| {
        StatesError::new(
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded",
        )
    })
}

/// The keys of `inspectionData` AWS shows for a state of `kind` in `jsonata` or JSONPath.
fn shown(kind: &str, jsonata: bool, has_result: bool, key: &str) -> bool {
    match (kind, jsonata) {
        ("Parallel", false) => matches!(key, "afterResultSelector" | "afterResultPath"),
        ("Parallel", true) => false,
        ("Map", false) => matches!(
            key,
            "afterInputPath"
                | "afterItemsPath"
                | "maxConcurrency"
                | "toleratedFailureCount"
                | "toleratedFailurePercentage"
                | "afterResultSelector"
                | "afterResultPath"
        ),
        ("Map", true) => matches!(
            key,
            "maxConcurrency" | "toleratedFailureCount" | "toleratedFailurePercentage"
        ),
        ("Pass", false) if has_result => key != "afterInputPath" && key != "afterParameters",
        _ => true,
    }
}

/// A JSON value as the text a header or body carries (a string as itself).
fn plain_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => crate::engine::step::to_json_string(other),
    }
}

/// TRACE's `request` and `response` of an HTTP Task (`arn:aws:states:::http:invoke`), from the
/// parameters it sent and the result it got; all strings, as the model has them. The
/// connection's authorization is not shown (AWS shows it only with `revealSecrets`).
fn http_trace(params: Option<&Value>, result: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(p) = params {
        let mut url = p.get("ApiEndpoint").map(plain_text).unwrap_or_default();
        if let Some(Value::Object(query)) = p.get("QueryParameters") {
            let pairs: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", plain_text(v)))
                .collect();
            if !pairs.is_empty() {
                url = format!("{url}?{}", pairs.join("&"));
            }
        }
        let headers = p.get("Headers").map(plain_text).unwrap_or_default();
        out.insert(
            "request".into(),
            json!({"protocol": "https", "method": p.get("Method").map(plain_text).unwrap_or_default(),
                   "url": url, "headers": headers,
                   "body": p.get("RequestBody").map(plain_text).unwrap_or_default()}),
        );
    }
    if let Some(r) = result {
        out.insert(
            "response".into(),
            json!({"protocol": "https",
                   "statusCode": r.get("StatusCode").map(plain_text).unwrap_or_default(),
                   "statusMessage": r.get("StatusText").map(plain_text).unwrap_or_default(),
                   "headers": r.get("Headers").map(plain_text).unwrap_or_default(),
                   "body": r.get("ResponseBody").map(plain_text).unwrap_or_default()}),
        );
    }
    out
}

fn json_string(v: &Value) -> Value {
    Value::String(crate::engine::step::to_json_string(v))
}

impl Service {
    pub(super) async fn test_state(&self, req: &Value) -> Result<Value, ApiError> {
        let text = field(req, "definition")?;
        let definition: Value = serde_json::from_str(text).map_err(|e| {
            err(
                Exception::InvalidDefinition,
                format!(
                    "Invalid State Machine Definition: '{}'",
                    crate::asl::validate::jackson_message(text, &e)
                ),
            )
        })?;
        let (state, query_language) = match opt_field(req, "stateName")? {
            Some(name) => {
                parse_definition(text)?;
                let state = find_state(&definition, name)
                    .ok_or_else(|| invalid("State not found in definition"))?
                    .clone();
                let lang = definition
                    .get("QueryLanguage")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                (state, lang)
            }
            None => (definition, None),
        };
        if !state.is_object() {
            return Err(err(
                Exception::InvalidDefinition,
                "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The state must be a JSON object at /States/StateName'",
            ));
        }
        check_state(&state, query_language.as_deref()).map_err(|d| {
            err(
                Exception::InvalidDefinition,
                format!(
                    "Invalid State Machine Definition: '{}'",
                    diagnostics_text(&d)
                ),
            )
        })?;
        let kind = state
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mock = parse_mock(req, &kind, &state)?;
        if req.get("revealSecrets").and_then(Value::as_bool) == Some(true) && mock.is_some() {
            return Err(invalid(
                "TestState does not support RevealSecrets when a mock is specified.",
            ));
        }
        let config = req.get("stateConfiguration").filter(|c| !c.is_null());
        let failures = config_count(config, "mapIterationFailureCount")?;
        if failures.is_some() && mock.is_none() {
            return Err(invalid(
                "TestState does not support MapIterationFailureCount when a mock is not specified.",
            ));
        }
        let retry_count = config_count(config, "retrierRetryCount")?.unwrap_or(0);
        let role = opt_field(req, "roleArn")?;
        let mocked_children = matches!(kind.as_str(), "Map" | "Parallel");
        if mocked_children && mock.is_none() {
            return Err(err(
                Exception::InvalidDefinition,
                "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
            ));
        }
        if kind == "Task" && mock.is_none() && role.is_none() {
            return Err(invalid(
                "RoleArn must be specified when testing a Task state",
            ));
        }
        let level = opt_field(req, "inspectionLevel")?.unwrap_or("INFO");
        if !["INFO", "DEBUG", "TRACE"].contains(&level) {
            return Err(invalid(format!("1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]")));
        }
        let input = match json_text(req, "input")? {
            Some((value, text)) => crate::runtime::driver::Input {
                value,
                text: Some(Arc::from(text.as_str())),
            },
            None => json!({}).into(),
        };
        let variables = match json_text(req, "variables")? {
            None => Map::new(),
            Some((Value::Object(vars), _)) => vars,
            Some(_) => return Err(invalid("Variables must be a JSON object")),
        };
        let context = json_text(req, "context")?.map(|(v, _)| v);
        if let Some(c) = &context {
            check_context(c, &state)?;
        }

        // A mocked Map or Parallel: the mock stands in for its iterations or branches.
        let mut extra = Map::new();
        let mut answer = match &mock {
            Some(Mock::Result(v)) => Ok(v.clone()),
            Some(Mock::Error(e)) => Err(e.clone()),
            None => Ok(Value::Null),
        };
        let tested = if mocked_children {
            if let Some(Mock::Result(result)) = &mock {
                self.check_children_mock(&state, &kind, result, failures)?;
            }
            if kind == "Map" {
                let ctx = context.clone().unwrap_or_else(|| json!({}));
                extra = map_inspection(&state, &input.value, &ctx);
                let items = match &mock {
                    Some(Mock::Result(Value::Array(a))) => a.len(),
                    _ => 0,
                };
                if let (Some(n), Ok(_)) = (failures, &answer) {
                    if let Some(e) = tolerate(&extra, n, items) {
                        answer = Err(e);
                    }
                }
            }
            as_mocked_task(&state)
        } else {
            state.clone()
        };
        let invoker: Arc<dyn TaskInvoker> = match mock {
            Some(_) => Arc::new(Answer(answer)),
            None => Arc::new(RealCall(self.invoker())),
        };
        let run = TestRun {
            state: tested,
            query_language: query_language.clone(),
            input: input.clone(),
            context,
            variables: variables.clone(),
            retry_count: u32::try_from(retry_count).unwrap_or(u32::MAX),
            role_arn: role.map(str::to_string),
        };
        let outcome = test_state(run, invoker).await.map_err(|d| {
            err(
                Exception::InvalidDefinition,
                format!(
                    "Invalid State Machine Definition: '{}'",
                    diagnostics_text(&d)
                ),
            )
        })?;
        let jsonata = state
            .get("QueryLanguage")
            .and_then(Value::as_str)
            .or(query_language.as_deref())
            == Some("JSONata");
        let mut inspection = None;
        if level != "INFO" {
            let text = input
                .text
                .as_deref()
                .map_or_else(|| json_string(&input.value), |t| json!(t));
            let mut data = inspection_data(
                &kind,
                jsonata,
                state.get("Result").is_some(),
                text,
                &variables,
                extra,
                &outcome,
            );
            let http = state.get("Resource").and_then(Value::as_str)
                == Some("arn:aws:states:::http:invoke");
            if level == "TRACE" && http {
                let params = outcome
                    .probe
                    .data
                    .get("afterParameters")
                    .or_else(|| outcome.probe.data.get("afterArguments"));
                if let Value::Object(d) = &mut data {
                    d.extend(http_trace(params, outcome.probe.data.get("result")));
                }
            }
            inspection = Some(data);
        }
        Ok(answer_json(outcome, inspection))
    }

    /// AWS's checks of a Map's or Parallel's mocked result.
    fn check_children_mock(
        &self,
        state: &Value,
        kind: &str,
        result: &Value,
        failures: Option<u64>,
    ) -> Result<(), ApiError> {
        if kind == "Map" && state.get("ResultWriter").is_some() {
            if !result.is_object() {
                return Err(invalid("Mocked result must be a JSON object."));
            }
            return Ok(());
        }
        let Value::Array(items) = result else {
            return Err(invalid("Mocked result must be an array."));
        };
        if kind == "Parallel" {
            let branches = state
                .get("Branches")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if items.len() != branches {
                return Err(invalid("Mocked result must contain the same number of items as number of Parallel branches."));
            }
        }
        if failures.is_some_and(|n| n > items.len() as u64) {
            return Err(invalid(
                "Map iteration failure count must be less than or equal to the number of Map iterations",
            ));
        }
        Ok(())
    }
}

/// `inspectionData`: the input, the probe's values (as JSON texts) AWS shows for the state,
/// the variables, the Map's limits and `errorDetails`.
fn inspection_data(
    kind: &str,
    jsonata: bool,
    has_result: bool,
    input_text: Value,
    variables: &Map<String, Value>,
    extra: Map<String, Value>,
    outcome: &TestOutcome,
) -> Value {
    let mut data = Map::new();
    data.insert("input".into(), input_text);
    let numbers = [
        "maxConcurrency",
        "toleratedFailureCount",
        "toleratedFailurePercentage",
    ];
    for (key, value) in extra.iter().chain(outcome.probe.data.iter()) {
        if !shown(kind, jsonata, has_result, key) {
            continue;
        }
        if numbers.contains(&key.as_str()) {
            data.insert(key.clone(), value.clone());
        } else {
            data.insert(key.clone(), json_string(value));
        }
    }
    if !variables.is_empty() {
        data.insert(
            "variables".into(),
            json_string(&Value::Object(variables.clone())),
        );
    }
    let mut details = Map::new();
    match (
        outcome.status,
        outcome.probe.retry,
        outcome.probe.catch_index,
    ) {
        (TestStatus::CaughtError, _, Some(index)) => {
            details.insert("catchIndex".into(), json!(index));
        }
        (_, Some((index, backoff)), _) => {
            details.insert("retryIndex".into(), json!(index));
            if let Some(b) = backoff {
                details.insert("retryBackoffIntervalSeconds".into(), json!(b));
            }
        }
        _ => {}
    }
    if !details.is_empty() {
        data.insert("errorDetails".into(), Value::Object(details));
    }
    Value::Object(data)
}

fn answer_json(outcome: TestOutcome, inspection: Option<Value>) -> Value {
    let mut out = Map::new();
    if let Some(o) = &outcome.output {
        out.insert("output".into(), json_string(o));
    }
    if let Some(e) = &outcome.error {
        out.insert("error".into(), json!(e.error));
        if let Some(c) = &e.cause {
            out.insert("cause".into(), json!(c));
        }
    }
    if let Some(i) = inspection {
        out.insert("inspectionData".into(), i);
    }
    if let Some(n) = &outcome.next_state {
        out.insert("nextState".into(), json!(n));
    }
    out.insert("status".into(), json!(outcome.status.as_str()));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_found_in_branches_and_processors() {
        let machine = json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "Inner", "States": {
                "Inner": {"Type": "Pass", "End": true}}}, "End": true}}});
        assert_eq!(
            find_state(&machine, "Inner"),
            Some(&json!({"Type": "Pass", "End": true}))
        );
        assert!(find_state(&machine, "Nope").is_none());
    }

    #[test]
    fn a_map_exceeds_its_tolerance_only_when_it_has_one() {
        let mut data = Map::new();
        assert!(tolerate(&data, 2, 3).is_none());
        data.insert("toleratedFailureCount".into(), json!(1));
        assert!(tolerate(&data, 1, 3).is_none());
        let e = tolerate(&data, 2, 3).expect("exceeded");
        assert_eq!(e.error, "States.ExceedToleratedFailureThreshold");
    }
}
