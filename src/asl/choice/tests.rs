use super::*;
use serde_json::json;

fn rule(v: Value) -> ChoiceRule {
    ChoiceRule::parse(&v, "/States/C/Choices/0").expect("valid rule")
}

fn errors(v: Value) -> Vec<String> {
    ChoiceRule::parse(&v, "/States/C/Choices/0")
        .expect_err("invalid rule")
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn eval(r: &ChoiceRule, input: Value) -> Result<bool, StatesError> {
    let ctx = json!({"Execution": {"Name": "run-1"}});
    r.matches(&Scope::new(&input, &ctx))
}

fn test(op: &str, operand: Value, variable: Value) -> bool {
    let mut r = serde_json::Map::new();
    r.insert("Variable".into(), json!("$.v"));
    r.insert(op.into(), operand);
    r.insert("Next".into(), json!("X"));
    eval(&rule(Value::Object(r)), json!({ "v": variable })).expect("no runtime error")
}

fn ts(s: &str) -> Option<Timestamp> {
    Timestamp::parse(s)
}

#[test]
fn string_matches_honours_escaped_star() {
    // JSON "log-\\*.txt" is the pattern log-\*.txt: a literal star.
    assert!(test(
        "StringMatches",
        json!("log-\\*.txt"),
        json!("log-*.txt")
    ));
    assert!(!test(
        "StringMatches",
        json!("log-\\*.txt"),
        json!("log-1.txt")
    ));
}

#[test]
fn string_matches_honours_escaped_backslash() {
    assert!(test("StringMatches", json!("a\\\\*"), json!("a\\bc")));
    assert!(!test("StringMatches", json!("a\\\\*"), json!("abc")));
}

#[test]
fn string_matches_wildcards_match_any_run_of_characters() {
    assert!(test("StringMatches", json!("*.log"), json!("app.log")));
    assert!(test("StringMatches", json!("*.log"), json!(".log")));
    assert!(test("StringMatches", json!("a*b*c"), json!("a-b-b-c")));
    assert!(test("StringMatches", json!("*"), json!("")));
    assert!(!test("StringMatches", json!("ab*ba"), json!("aba")));
    assert!(test("StringMatches", json!("ab*ba"), json!("abba")));
    assert!(test("StringMatches", json!("é*ü"), json!("éxü")));
    assert!(!test("StringMatches", json!("log"), json!("logs")));
    assert!(!test("StringMatches", json!("*"), json!(1)));
}

#[test]
fn missing_variable_fails_the_execution_with_runtime_error() {
    let r = rule(json!({"Variable": "$.type", "StringEquals": "Private", "Next": "X"}));
    let err = eval(&r, json!({"value": 1})).expect_err("missing variable");
    assert_eq!(err.error, "States.Runtime");
    assert_eq!(
        err.cause.as_deref(),
        Some(
            "Invalid path '$.type': The choice state's condition path references an invalid value."
        )
    );
    let is_null = rule(json!({"Variable": "$.type", "IsNull": true, "Next": "X"}));
    assert!(eval(&is_null, json!({})).expect_err("missing").is_runtime());
}

#[test]
fn is_present_is_false_for_a_missing_variable() {
    let present = rule(json!({"Variable": "$.a.b", "IsPresent": true, "Next": "X"}));
    assert_eq!(eval(&present, json!({"a": 1})), Ok(false));
    assert_eq!(eval(&present, json!({"a": {"b": null}})), Ok(true));
    let absent = rule(json!({"Not": {"Variable": "$.a", "IsPresent": true}, "Next": "X"}));
    assert_eq!(eval(&absent, json!({})), Ok(true));
    let r = rule(json!({"Variable": "$.a", "IsPresent": false, "Next": "X"}));
    assert_eq!(eval(&r, json!({})), Ok(true));
}

#[test]
fn missing_path_operand_fails_the_execution_with_runtime_error() {
    let r = rule(json!({"Variable": "$.left", "NumericLessThanPath": "$.right", "Next": "X"}));
    let err = eval(&r, json!({"left": 8})).expect_err("missing operand");
    assert_eq!(
        err.to_string(),
        "States.Runtime: Invalid path '$.right': The choice state's condition path references an invalid value."
    );
    // Even when the variable has the wrong type.
    assert!(eval(&r, json!({"left": "8"})).is_err());
    assert_eq!(eval(&r, json!({"left": 8, "right": "9"})), Ok(false));
    assert_eq!(eval(&r, json!({"left": 8, "right": 9})), Ok(true));
}

#[test]
fn numeric_comparison_is_by_value_across_ints_and_floats() {
    assert!(test("NumericEquals", json!(1), json!(1.0)));
    assert!(test("NumericEquals", json!(1.0), json!(1)));
    assert!(test("NumericEquals", json!(2.22), json!(2.22)));
    assert!(test("NumericLessThan", json!(1.5), json!(1)));
    assert!(test("NumericGreaterThanEquals", json!(-3), json!(-3.0)));
    assert!(!test(
        "NumericEquals",
        json!(9_007_199_254_740_993_i64),
        json!(9_007_199_254_740_992_i64)
    ));
    assert!(test("NumericGreaterThan", json!(-1), json!(u64::MAX)));
    assert!(test(
        "NumericLessThanEquals",
        json!(u64::MAX),
        json!(i64::MIN)
    ));
}

#[test]
fn type_mismatches_are_false_not_errors() {
    assert!(!test("NumericEquals", json!(0), json!("0")));
    assert!(!test("NumericEquals", json!(1), json!(true)));
    assert!(!test("StringEquals", json!("1"), json!(1)));
    assert!(!test("BooleanEquals", json!(false), json!(0)));
    assert!(!test("BooleanEquals", json!(true), json!(null)));
    assert!(!test(
        "TimestampEquals",
        json!("2012-10-09T19:00:55Z"),
        json!(0)
    ));
    assert!(!test(
        "TimestampLessThan",
        json!("2012-10-09T19:00:55Z"),
        json!("yesterday")
    ));
    assert!(!test("StringLessThan", json!("b"), json!(["a"])));
}

#[test]
fn string_order_follows_utf16_code_units() {
    assert!(test("StringLessThan", json!("AB"), json!("A")));
    assert!(test("StringLessThan", json!("a"), json!("B")));
    assert!(!test("StringLessThan", json!("B"), json!("a")));
    assert!(!test("StringGreaterThan", json!("A "), json!("A")));
    assert!(test("StringGreaterThanEquals", json!(""), json!("")));
    // U+FF61 > U+1F600 in UTF-16 (0xFF61 > 0xD83D), though not by code point.
    assert!(test(
        "StringGreaterThan",
        json!("\u{1F600}"),
        json!("\u{FF61}")
    ));
    assert_eq!(compare_utf16("\u{FF61}", "\u{1F600}"), Ordering::Greater);
    assert_eq!(compare_utf16("abc", "abd"), Ordering::Less);
}

#[test]
fn timestamps_compare_as_instants_across_offsets_and_fractions() {
    assert!(test(
        "TimestampEquals",
        json!("2012-10-09T18:00:55Z"),
        json!("2012-10-09T19:00:55+01:00")
    ));
    assert!(test(
        "TimestampGreaterThan",
        json!("2012-10-09T19:00:55Z"),
        json!("2012-10-09T19:00:55.5Z")
    ));
    assert!(test(
        "TimestampLessThan",
        json!("2012-10-09T19:00:55.000000001Z"),
        json!("2012-10-09T19:00:55Z")
    ));
    assert!(test(
        "TimestampEquals",
        json!("2012-10-09T19:00:55.5Z"),
        json!("2012-10-09T19:00:55.500Z")
    ));
    assert!(test(
        "TimestampLessThanEquals",
        json!("2012-10-10T00:00:00Z"),
        json!("2012-10-09T23:59:59-00:00")
    ));
    assert!(!test(
        "TimestampEquals",
        json!("2012-10-09T19:00:55Z"),
        json!("2012-10-09T19:00:55")
    ));
}

#[test]
fn timestamps_parse_as_java_iso_offset_date_time() {
    assert_eq!(
        ts("1970-01-01T00:00:00Z"),
        Some(Timestamp { secs: 0, nanos: 0 })
    );
    assert_eq!(
        ts("1970-01-01T01:00:00+01:00"),
        Some(Timestamp { secs: 0, nanos: 0 })
    );
    assert_eq!(
        ts("2016-03-05T21:29:29.243167252Z"),
        Some(Timestamp {
            secs: 1_457_213_369,
            nanos: 243_167_252
        })
    );
    assert_eq!(ts("2016-03-14t01:59:00z"), ts("2016-03-14T01:59:00Z"));
    assert_eq!(ts("2016-03-14T01:59Z"), ts("2016-03-14T01:59:00Z"));
    assert_eq!(ts("2016-03-14T02:59:00+01"), ts("2016-03-14T01:59:00Z"));
    assert_eq!(
        ts("2016-03-14T02:59:30+01:00:30"),
        ts("2016-03-14T01:59:00Z")
    );
    assert!(ts("2024-02-29T00:00:00Z").is_some());
    assert!(ts("2023-02-29T00:00:00Z").is_none());
    assert!(ts("2016-12-05T25:29:29Z").is_none());
    assert!(ts("2016-12-05T24:00:00Z").is_none());
    assert!(ts("2016-12-31T23:59:60Z").is_none());
    assert!(ts("2016-12-05 21:29:29Z").is_none());
    assert!(ts("2016-12-05T21:29:29").is_none());
    assert!(ts("2016-12-05T21:29:29.1234567890Z").is_none());
    assert!(ts("2016-12-05T21:29:29+19:00").is_none());
    assert!(ts("2016-12-05T21:29:29+0100").is_none());
    assert!(ts("2016-12-05T21:29:29+01:").is_none());
    assert!(ts("2016-12-05").is_none());
    assert!(ts("16-12-05T21:29:29Z").is_none());
    assert!(ts("2016-1-05T21:29:29Z").is_none());
    assert!(ts("2016-12-05T21:29:29Zjunk").is_none());
    assert!(ts("２016-12-05T21:29:29Z").is_none());
}

#[test]
fn is_operators_test_the_json_type() {
    assert!(test("IsNumeric", json!(true), json!(0.0)));
    assert!(test("IsNumeric", json!(false), json!("1")));
    assert!(test("IsString", json!(true), json!("")));
    assert!(test("IsBoolean", json!(true), json!(false)));
    assert!(test("IsNull", json!(true), json!(null)));
    assert!(test("IsNull", json!(false), json!([])));
    assert!(test(
        "IsTimestamp",
        json!(true),
        json!("2012-10-09T19:00:55+01:00")
    ));
    assert!(test(
        "IsTimestamp",
        json!(false),
        json!("2012-10-09T19:00:55")
    ));
    assert!(test("IsTimestamp", json!(false), json!(1_349_809_255)));
}

#[test]
fn boolean_operators_nest_to_any_depth() {
    let r = rule(json!({
        "Or": [
            {"Variable": "$.n", "NumericEquals": 0},
            {"And": [
                {"Variable": "$.n", "NumericGreaterThanEquals": 20},
                {"Not": {"Not": {"Variable": "$.n", "NumericLessThan": 30}}}
            ]}
        ],
        "Next": "X"
    }));
    assert_eq!(eval(&r, json!({"n": 0})), Ok(true));
    assert_eq!(eval(&r, json!({"n": 22})), Ok(true));
    assert_eq!(eval(&r, json!({"n": 30})), Ok(false));
    assert_eq!(eval(&r, json!({"n": 5})), Ok(false));
}

#[test]
fn and_stops_at_the_first_false_rule() {
    let r = rule(json!({
        "And": [{"Variable": "$.a", "IsPresent": true}, {"Variable": "$.a", "BooleanEquals": true}],
        "Next": "X"
    }));
    assert_eq!(eval(&r, json!({})), Ok(false));
    assert_eq!(eval(&r, json!({"a": true})), Ok(true));
}

#[test]
fn path_operands_compare_against_the_input() {
    let r = rule(json!({"Variable": "$.a", "StringEqualsPath": "$.b", "Next": "X"}));
    assert_eq!(eval(&r, json!({"a": "x", "b": "x"})), Ok(true));
    let r = rule(json!({"Variable": "$.a", "BooleanEqualsPath": "$.b", "Next": "X"}));
    assert_eq!(eval(&r, json!({"a": true, "b": true})), Ok(true));
    assert_eq!(eval(&r, json!({"a": true, "b": "true"})), Ok(false));
    let r = rule(json!({"Variable": "$.a", "TimestampLessThanPath": "$.b", "Next": "X"}));
    assert_eq!(
        eval(
            &r,
            json!({"a": "2012-10-09T19:00:55Z", "b": "2012-10-09T19:00:56Z"})
        ),
        Ok(true)
    );
    let r =
        rule(json!({"Variable": "$$.Execution.Name", "StringEqualsPath": "$.name", "Next": "X"}));
    assert_eq!(eval(&r, json!({"name": "run-1"})), Ok(true));
}

#[test]
fn uses_context_is_true_when_any_path_reads_the_context_object() {
    let r = rule(json!({"Variable": "$.a", "IsPresent": true, "Next": "X"}));
    assert!(!r.uses_context());
    let r = rule(
        json!({"Not": {"Variable": "$.a", "StringEqualsPath": "$$.Execution.Name"}, "Next": "X"}),
    );
    assert!(r.uses_context());
    let r = rule(json!({"And": [{"Variable": "$$.State.Name", "IsString": true}], "Next": "X"}));
    assert!(r.uses_context());
}

#[test]
fn jsonata_condition_is_kept_for_the_engine() {
    let r = rule(
        json!({"Condition": "{% $states.input.ok %}", "Next": "X", "Assign": {"a": 1}, "Output": "out"}),
    );
    assert_eq!(
        r.jsonata_condition(),
        Some(&json!("{% $states.input.ok %}"))
    );
    assert_eq!(r.assign(), Some(&json!({"a": 1})));
    assert_eq!(r.output(), Some(&json!("out")));
    assert!(eval(&r, json!({}))
        .expect_err("engine evaluates JSONata")
        .is_runtime());
    let constant = rule(json!({"Condition": true, "Next": "X"}));
    assert_eq!(eval(&constant, json!({})), Ok(true));
}

#[test]
fn every_problem_is_reported_with_its_pointer() {
    assert_eq!(
        errors(json!({"Variable": "$.a", "NumericEqual": 1, "Next": "X"})),
        [
            "/States/C/Choices/0/NumericEqual: unknown field \"NumericEqual\" in a choice rule",
            "/States/C/Choices/0: a choice rule needs a comparison operator, \"And\", \"Or\", \"Not\" or \"Condition\"",
        ]
    );
    assert_eq!(
        errors(json!({"Variable": "$.a", "NumericEquals": "1", "StringEquals": "1", "Next": "X"})),
        [
            "/States/C/Choices/0/StringEquals: a choice rule has one condition, but \"NumericEquals\" and \"StringEquals\" are both here",
            "/States/C/Choices/0/NumericEquals: \"NumericEquals\" must be a number",
        ]
    );
    assert_eq!(
        errors(json!({"StringEquals": "x"})),
        [
            "/States/C/Choices/0: \"StringEquals\" needs \"Variable\"",
            "/States/C/Choices/0: a choice rule must have \"Next\"",
        ]
    );
    assert_eq!(
        errors(json!({"And": [{"Variable": "$.a", "IsNull": true, "Next": "Y"}, {"Variable": "a.b", "IsNull": "yes"}], "Next": "X"})),
        [
            "/States/C/Choices/0/And/0/Next: \"Next\" is only allowed in a top-level choice rule",
            "/States/C/Choices/0/And/1/Variable: \"Variable\" is not a valid path: invalid JSONPath \"a.b\": a path must start with '$'",
            "/States/C/Choices/0/And/1/IsNull: \"IsNull\" must be a boolean",
        ]
    );
    assert_eq!(
        errors(json!({"Variable": "$.a", "Not": {"Variable": "$.t", "TimestampEqualsPath": 3}, "Next": 1})),
        [
            "/States/C/Choices/0/Variable: \"Variable\" is not allowed with \"Not\"",
            "/States/C/Choices/0/Not/TimestampEqualsPath: \"TimestampEqualsPath\" must be a string holding a path",
            "/States/C/Choices/0/Next: \"Next\" must be a string",
        ]
    );
    assert_eq!(
        errors(json!({"Variable": "$.t", "TimestampEquals": "2016-03-14 01:59:00Z", "Next": "X"})),
        ["/States/C/Choices/0/TimestampEquals: \"TimestampEquals\" must be an ISO-8601 timestamp such as \"2016-03-14T01:59:00Z\", not \"2016-03-14 01:59:00Z\""]
    );
    assert_eq!(
        errors(json!({"Or": [], "Next": "X"})),
        ["/States/C/Choices/0/Or: \"Or\" must be a non-empty array of choice rules"]
    );
    assert_eq!(
        errors(json!({"Not": {"Condition": "{% true %}"}, "Next": "X"})),
        ["/States/C/Choices/0/Not/Condition: \"Condition\" is only allowed in a top-level choice rule"]
    );
    assert_eq!(
        errors(json!("rule")),
        ["/States/C/Choices/0: a choice rule must be an object"]
    );
    assert_eq!(
        ChoiceRule::parse_all(&json!([]), "/States/C/Choices")
            .expect_err("empty")
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["/States/C/Choices: \"Choices\" must be a non-empty array of choice rules"]
    );
}

/// The result of a tiny walk through a case's machine.
#[derive(Debug, PartialEq)]
enum Outcome {
    Succeeded(Value),
    Failed(Option<String>, Option<String>),
}

/// Runs a machine of Choice, Pass (with or without `Result`), Succeed and Fail states;
/// `None` when it uses anything else.
fn walk(definition: &Value, input: Value) -> Option<Outcome> {
    let states = definition.get("States")?;
    let mut name = definition.get("StartAt")?.as_str()?.to_string();
    let mut input = input;
    let context = json!({});
    for _ in 0..100 {
        let state = states.get(&name)?;
        let next = match state.get("Type")?.as_str()? {
            "Choice" => {
                let pointer = format!("/States/{name}/Choices");
                let rules = ChoiceRule::parse_all(state.get("Choices")?, &pointer)
                    .unwrap_or_else(|d| panic!("{pointer}: {d:?}"));
                let mut chosen = None;
                for rule in &rules {
                    match rule.matches(&Scope::new(&input, &context)) {
                        Ok(true) => {
                            chosen = Some(rule.next().to_string());
                            break;
                        }
                        Ok(false) => {}
                        Err(e) => return Some(Outcome::Failed(Some(e.error), e.cause)),
                    }
                }
                match chosen.or_else(|| state.get("Default")?.as_str().map(String::from)) {
                    Some(next) => next,
                    None => {
                        return Some(Outcome::Failed(
                            Some(crate::asl::error::NO_CHOICE_MATCHED.into()),
                            None,
                        ))
                    }
                }
            }
            "Pass" => {
                if let Some(result) = state.get("Result") {
                    input = result.clone();
                }
                if state.get("End") == Some(&json!(true)) {
                    return Some(Outcome::Succeeded(input));
                }
                state.get("Next")?.as_str()?.to_string()
            }
            "Succeed" => return Some(Outcome::Succeeded(input)),
            "Fail" => {
                let field = |k: &str| state.get(k).and_then(Value::as_str).map(String::from);
                return Some(Outcome::Failed(field("Error"), field("Cause")));
            }
            _ => return None,
        };
        name = next;
    }
    None
}

fn is_jsonata(definition: &Value) -> bool {
    let jsonata = |v: &Value| v.get("QueryLanguage") == Some(&json!("JSONata"));
    let states = definition.get("States").and_then(Value::as_object);
    jsonata(definition)
        || states.is_some_and(|states| {
            states.values().any(|s| {
                jsonata(s)
                    || s.get("Choices")
                        .and_then(Value::as_array)
                        .is_some_and(|rules| rules.iter().any(|r| r.get("Condition").is_some()))
            })
        })
}

fn cases() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/cases");
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(dir)
        .expect("cases directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&p).expect("readable case");
            (name, serde_json::from_str(&text).expect("case is JSON"))
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

#[test]
fn recorded_choice_cases_take_the_recorded_branch() {
    let (mut checked, mut passed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for (name, case) in cases().iter().filter(|(n, _)| n.starts_with("choice-")) {
        let definition = &case["definition"];
        if is_jsonata(definition) {
            skipped += 1;
            continue;
        }
        let Some(outcome) = walk(definition, case["input"].clone()) else {
            failures.push(format!("{name}: the test walker cannot run this machine"));
            continue;
        };
        checked += 1;
        let expect = &case["expect"];
        let ok = match (&outcome, expect["status"].as_str()) {
            (Outcome::Succeeded(output), Some("SUCCEEDED")) => *output == expect["output"],
            (Outcome::Failed(error, cause), Some("FAILED")) => {
                error.as_deref() == expect["error"].as_str()
                    && expect
                        .get("cause")
                        .is_none_or(|c| cause.as_deref() == c.as_str())
            }
            _ => false,
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!("{name}: got {outcome:?}, expected {expect}"));
        }
    }
    println!("choice cases: {checked} checked, {passed} passed, {skipped} skipped (JSONata)");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 300, "only {checked} choice cases checked");
}

#[test]
fn every_choice_rule_in_the_recorded_cases_parses() {
    fn visit(states: &Value, at: &str, count: &mut usize) {
        let Some(states) = states.as_object() else {
            return;
        };
        for (name, state) in states {
            let at = join(&join(at, "States"), name);
            if let Some(choices) = state.get("Choices") {
                let rules = ChoiceRule::parse_all(choices, &join(&at, "Choices"))
                    .unwrap_or_else(|d| panic!("{d:?}"));
                *count += rules.len();
            }
            for (i, b) in state
                .get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                visit(&b["States"], &join(&join(&at, "Branches"), i), count);
            }
            for key in ["Iterator", "ItemProcessor"] {
                if let Some(p) = state.get(key) {
                    visit(&p["States"], &join(&at, key), count);
                }
            }
        }
    }
    let mut count = 0;
    for (_, case) in cases() {
        visit(&case["definition"]["States"], "", &mut count);
    }
    assert!(count > 330, "only {count} rules parsed");
}
