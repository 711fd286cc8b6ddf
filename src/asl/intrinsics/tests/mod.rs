//! Intrinsic functions: the conformance cases, parsing and evaluation failures; each family
//! of functions in [`functions`].

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;

fn context(input: &Value) -> Value {
    json!({
        "Execution": {
            "Id": "arn:aws:states:us-east-1:111111111111:execution:my-machine:exec-1",
            "Input": input,
            "Name": "exec-1",
            "StartTime": "2024-01-01T00:00:00.000Z"
        },
        "StateMachine": {
            "Id": "arn:aws:states:us-east-1:111111111111:stateMachine:my-machine",
            "Name": "my-machine"
        },
        "State": {"Name": "State_0", "EnteredTime": "2024-01-01T00:00:00.000Z", "RetryCount": 0}
    })
}

fn eval_with(src: &str, input: Value, seed: u64) -> Result<Value, StatesError> {
    let ctx = context(&input);
    let call = Intrinsic::parse(src).expect("valid intrinsic");
    call.eval(&Scope::new(&input, &ctx), &mut StdRng::seed_from_u64(seed))
}

fn eval(src: &str, input: Value) -> Result<Value, StatesError> {
    eval_with(src, input, 7)
}

fn ok(src: &str, input: Value) -> Value {
    eval(src, input).unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// The cause of a failing call, asserting its error name.
fn fails(src: &str, input: Value) -> String {
    let err = eval(src, input).expect_err(src);
    assert_eq!(err.error, "States.Runtime", "{src}");
    err.cause.unwrap_or_default()
}

fn invalid(src: &str, input: Value, function: &str) {
    let cause = fails(src, input);
    assert_eq!(
        cause,
        format!("The function '{src}' had the following error: Invalid arguments in {function}")
    );
}

fn syntax_error(src: &str) -> String {
    Intrinsic::parse(src).expect_err(src).reason
}

// --- conformance cases --------------------------------------------------------------

/// Compares JSON values as the conformance README says: numbers by value.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Builds a payload template: `"key.$"` fields are intrinsic calls or paths.
fn apply_parameters(
    template: &Value,
    scope: &Scope<'_>,
    rng: &mut dyn RngCore,
) -> Result<Value, StatesError> {
    let Value::Object(fields) = template else {
        return Ok(template.clone());
    };
    let mut out = Map::new();
    for (key, value) in fields {
        match (key.strip_suffix(".$"), value) {
            (Some(name), Value::String(src)) if is_intrinsic(src) => {
                let call =
                    Intrinsic::parse(src).map_err(|e| StatesError::runtime(e.to_string()))?;
                out.insert(name.to_string(), call.eval(scope, rng)?);
            }
            (Some(name), Value::String(src)) => {
                let path = Path::parse(src).map_err(|e| StatesError::runtime(e.to_string()))?;
                let v = path
                    .eval(scope)
                    .map_err(|e| StatesError::runtime(e.to_string()))?;
                out.insert(name.to_string(), v);
            }
            _ => {
                out.insert(key.clone(), apply_parameters(value, scope, rng)?);
            }
        }
    }
    Ok(Value::Object(out))
}

/// Runs a machine made of one Pass state with `Parameters`: InputPath, Parameters,
/// ResultPath, OutputPath.
fn run_pass(state: &Value, input: &Value) -> Result<Value, StatesError> {
    let ctx = context(input);
    let path = |field: &str| state.get(field).and_then(Value::as_str).map(Path::parse);
    let effective = match path("InputPath") {
        Some(p) => p
            .expect("valid InputPath")
            .eval(&Scope::new(input, &ctx))
            .map_err(|e| StatesError::runtime(e.to_string()))?,
        None => input.clone(),
    };
    let mut rng = StdRng::seed_from_u64(42);
    let result = apply_parameters(
        &state["Parameters"],
        &Scope::new(&effective, &ctx),
        &mut rng,
    )?;
    let output = match path("ResultPath") {
        Some(p) => p
            .expect("valid ResultPath")
            .set(input.clone(), result)
            .map_err(StatesError::runtime)?,
        None => result,
    };
    match path("OutputPath") {
        Some(p) => p
            .expect("valid OutputPath")
            .eval(&Scope::new(&output, &ctx))
            .map_err(|e| StatesError::runtime(e.to_string())),
        None => Ok(output),
    }
}

/// Checks one case; `Ok(false)` when it is not a single Pass state with Parameters.
fn check_case(case: &Value) -> Result<bool, String> {
    let states = case["definition"]["States"]
        .as_object()
        .ok_or("no States")?;
    let [(_, state)] = states.iter().collect::<Vec<_>>()[..] else {
        return Ok(false);
    };
    if state["Type"] != "Pass" || !state["Parameters"].is_object() {
        return Ok(false);
    }
    let expect = &case["expect"];
    match (expect["status"].as_str(), run_pass(state, &case["input"])) {
        (Some("SUCCEEDED"), Ok(mut actual)) => {
            let mut expected = expect["output"].clone();
            for pointer in case["ignore_paths"].as_array().into_iter().flatten() {
                let pointer = pointer.as_str().ok_or("ignore path is not a string")?;
                let slot = actual
                    .pointer_mut(pointer)
                    .ok_or(format!("output lacks ignored path {pointer}"))?;
                *slot = Value::Null;
                if let Some(slot) = expected.pointer_mut(pointer) {
                    *slot = Value::Null;
                }
            }
            if json_eq(&actual, &expected) {
                Ok(true)
            } else {
                Err(format!("output {actual} != expected {expected}"))
            }
        }
        (Some("FAILED"), Err(err)) => {
            if expect["error"].as_str() != Some(err.error.as_str()) {
                return Err(format!(
                    "error {} != expected {}",
                    err.error, expect["error"]
                ));
            }
            match expect.get("cause") {
                Some(cause) if cause.as_str() != err.cause.as_deref() => {
                    Err(format!("cause {:?} != expected {cause}", err.cause))
                }
                _ => Ok(true),
            }
        }
        (status, result) => Err(format!("expected {status:?}, got {result:?}")),
    }
}

#[test]
fn conformance_cases_of_intrinsic_functions_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/cases");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("cases directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("intrinsic-functions-") && n.ends_with(".json"))
        .collect();
    names.sort();
    let (mut checked, mut failures) = (0, Vec::new());
    for name in &names {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("readable case");
        let case: Value = serde_json::from_str(&text).expect("case is JSON");
        match check_case(&case) {
            Ok(true) => checked += 1,
            Ok(false) => {}
            Err(why) => failures.push(format!("{name}: {why}")),
        }
    }
    eprintln!(
        "intrinsic conformance: {checked} of {} cases checked and passed",
        names.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        checked,
        names.len(),
        "every intrinsic case is a single Pass state"
    );
    assert!(checked >= 86);
}

// --- parsing ------------------------------------------------------------------------

#[test]
fn is_intrinsic_needs_states_prefix_name_and_paren() {
    assert!(is_intrinsic("States.Format('x')"));
    assert!(is_intrinsic("States.Foo()"));
    assert!(!is_intrinsic("States.Format"));
    assert!(!is_intrinsic("States.(1)"));
    assert!(!is_intrinsic("States.Format ('x')"));
    assert!(!is_intrinsic("$.States.Format('x')"));
    assert!(!is_intrinsic(" States.Array()"));
}

#[test]
fn unknown_function_is_a_syntax_error() {
    let err = Intrinsic::parse("States.Compare($.a, $.b)").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid intrinsic function call \"States.Compare($.a, $.b)\" at offset 0: \
         unknown intrinsic function 'States.Compare'"
    );
}

#[test]
fn malformed_calls_are_syntax_errors() {
    assert_eq!(syntax_error("States.Array("), "missing argument");
    assert_eq!(syntax_error("States.Array($.a"), "missing ')'");
    assert_eq!(
        syntax_error("States.Array($.a, )"),
        "expected an argument but found ')'"
    );
    assert_eq!(
        syntax_error("States.UUID(,)"),
        "expected an argument but found ','"
    );
    assert_eq!(
        syntax_error("States.Array($.a) trailing"),
        "unexpected text after the closing ')'"
    );
    assert_eq!(
        syntax_error("States.Array('abc"),
        "unterminated string literal"
    );
    assert_eq!(syntax_error("States.Array(1.)"), "invalid number \"1.\"");
    assert_eq!(
        syntax_error("States.Array(.5)"),
        "expected an argument but found '.'"
    );
    assert_eq!(syntax_error("States.Array(01)"), "invalid number \"01\"");
    assert_eq!(
        syntax_error("States.Array(1e999)"),
        "number 1e999 is out of range"
    );
    assert_eq!(
        syntax_error("States.Array([1,2])"),
        "expected an argument but found '['"
    );
    assert_eq!(syntax_error("States.Array(True)"), "unexpected \"True\"");
    assert_eq!(
        syntax_error("States.Array(1 2)"),
        "expected ',' or ')' but found '2'"
    );
    assert!(syntax_error("States.Array($.a[)").starts_with("invalid JSONPath"));
}

#[test]
fn open_escape_in_string_literal_is_a_syntax_error() {
    let err = Intrinsic::parse(r"States.Base64Decode('YWJj\nZA==')").unwrap_err();
    assert_eq!(err.offset, 25);
    assert!(
        err.reason.starts_with("invalid escape '\\n'"),
        "{}",
        err.reason
    );
}

#[test]
fn nesting_deeper_than_ten_is_rejected() {
    let nested = |depth: usize| format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
    assert_eq!(ok(&nested(10), json!({})), json!([[[[[[[[[[1]]]]]]]]]]));
    assert_eq!(
        syntax_error(&nested(11)),
        "intrinsic functions are nested more than 10 deep"
    );
    // Deep garbage must not overflow the stack.
    assert!(Intrinsic::parse(&nested(100_000)).is_err());
}

#[test]
fn whitespace_between_arguments_is_allowed() {
    assert_eq!(
        ok("States.Array( $.a ,\t$.b\n)", json!({"a": 1, "b": 2})),
        json!([1, 2])
    );
    assert_eq!(
        ok("States.UUID( )", json!({})).as_str().map(str::len),
        Some(36)
    );
}

#[test]
fn literals_of_every_kind_are_arguments() {
    assert_eq!(
        ok(
            "States.Array(42, -1.5, 2e3, true, false, null, 'hello', -0)",
            json!({})
        ),
        json!([42, -1.5, 2000.0, true, false, null, "hello", 0])
    );
}

#[test]
fn string_literal_escapes_decode() {
    assert_eq!(
        ok(
            r#"States.Array('it\'s', 'a\\b', '\{\}', '{"k": 1}')"#,
            json!({})
        ),
        json!(["it's", "a\\b", "{}", "{\"k\": 1}"])
    );
}

#[test]
fn paths_of_every_kind_are_arguments() {
    let input = json!({"a": {"b c": [1, 2]}, "users": [{"s": 0, "y": "x,y"}, {"s": 1, "y": "z"}]});
    assert_eq!(
        ok(
            "States.Array($, $.a['b c'][1], $.users[?(@.s == 0)].y, $.users[*].s, $$.Execution.Name)",
            input.clone()
        ),
        json!([input, 2, ["x,y"], [0, 1], "exec-1"])
    );
}

#[test]
fn uses_context_finds_context_paths_in_nested_calls() {
    let parse = |s| Intrinsic::parse(s).expect("valid");
    assert!(!parse("States.Format('{}', $.a)").uses_context());
    assert!(parse("States.Array(1, States.Format('{}', $$.Execution.Id))").uses_context());
}

#[test]
fn parse_keeps_the_call_as_written() {
    let src = "States.MathAdd( $.a ,1 )";
    let call = Intrinsic::parse(src).expect("valid");
    assert_eq!(call.as_str(), src);
    assert_eq!(call.to_string(), src);
}

// --- failures -----------------------------------------------------------------------

#[test]
fn missing_path_argument_fails_with_aws_cause() {
    assert_eq!(
        fails("States.Format('{}', $.nope)", json!({"other": 1})),
        "The function 'States.Format('{}', $.nope)' had the following error: \
         The JsonPath argument for the field '$.nope' could not be found in the input \
         '{\"other\":1}'"
    );
    // The whole call is named, even when a nested call took the argument.
    assert_eq!(
        fails(
            "States.Array(States.Format('{}', $.items[5]))",
            json!({"items": [1]})
        ),
        "The function 'States.Array(States.Format('{}', $.items[5]))' had the following \
         error: The JsonPath argument for the field '$.items[5]' could not be found in the \
         input '{\"items\":[1]}'"
    );
}

#[test]
fn missing_context_path_is_reported_against_the_context_object() {
    assert_eq!(
        fails("States.Format('{}', $$.Nope.Deep)", json!({"other": 1})),
        "The function 'States.Format('{}', $$.Nope.Deep)' had the following error: \
         The JsonPath argument for the field '$.Nope.Deep' could not be found in the \
         input '{\"other\":1}'"
    );
}

#[test]
fn wildcard_matching_nothing_is_an_empty_array() {
    assert_eq!(
        ok(
            "States.ArrayLength($.items[*].nope)",
            json!({"items": [1, 2]})
        ),
        json!(0)
    );
}

#[test]
fn explicit_null_argument_is_present() {
    assert_eq!(
        ok("States.Format('{}', $.n)", json!({"n": null})),
        json!("null")
    );
}

#[test]
fn wrong_argument_counts_fail_at_evaluation() {
    invalid("States.StringToJson()", json!({}), "States.StringToJson");
    invalid(
        "States.JsonToString($.a, $.a)",
        json!({"a": 1}),
        "States.JsonToString",
    );
    invalid(
        "States.ArrayContains($.a)",
        json!({"a": []}),
        "States.ArrayContains",
    );
    invalid("States.MathAdd(1)", json!({}), "States.MathAdd");
    invalid("States.MathAdd(1, 2, 3)", json!({}), "States.MathAdd");
    invalid("States.ArrayRange(1, 5)", json!({}), "States.ArrayRange");
    invalid("States.Hash('a')", json!({}), "States.Hash");
    invalid(
        "States.Base64Encode('a', 'b')",
        json!({}),
        "States.Base64Encode",
    );
    invalid(
        "States.JsonMerge($.a, $.a)",
        json!({"a": {}}),
        "States.JsonMerge",
    );
    invalid("States.MathRandom(1)", json!({}), "States.MathRandom");
    invalid(
        "States.MathRandom(1, 10, 5, 99)",
        json!({}),
        "States.MathRandom",
    );
    invalid("States.Format()", json!({}), "States.Format");
}

mod functions;
