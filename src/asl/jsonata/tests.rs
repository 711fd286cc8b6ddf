use serde_json::json;

use super::*;

fn states(input: Value) -> Value {
    json!({ "input": input, "context": {} })
}

fn moment() -> Moment {
    Moment::new(1_700_000_000_000, 7)
}

fn no_vars() -> Map<String, Value> {
    Map::new()
}

fn vars(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Evaluates `expr` (text) against `input`, panicking on failure or undefined.
fn run(expr: &str, input: Value) -> Value {
    eval(expr, &states(input), &no_vars(), &moment())
        .expect("evaluates")
        .expect("defined")
}

fn cause(error: StatesError) -> String {
    assert_eq!(error.error, QUERY_EVALUATION_ERROR);
    error.cause.unwrap_or_default()
}

#[test]
fn expression_fields_need_the_exact_surround() {
    assert!(is_expression("{% $states.input %}"));
    assert!(is_expression("{%%}"));
    assert!(!is_expression(" {% states.input %} "));
    assert!(!is_expression("{% states.input %} "));
    assert!(!is_expression("{%}"));
    assert!(!is_expression("$states.input"));
    assert!(!is_expression("States.Format('Format:{}', 101)"));
    assert_eq!(expression_text("{%  $x  %}"), Some("$x"));
    assert_eq!(expression_text("{%%}"), Some(""));
    assert_eq!(expression_text("$x"), None);
}

#[test]
fn deeply_nested_expressions_fail_instead_of_overflowing() {
    for deep in [
        format!("{}1{}", "(".repeat(600), ")".repeat(600)),
        format!("{}1", "-".repeat(600)),
        format!("1{}", "+1".repeat(600)),
        format!("{}1", "true ? ".repeat(300)),
        // Found by the `expression` fuzz target: a quote inside a name is part of the name,
        // so the brackets after it nest (the estimate took them for a string's).
        format!("J\"a{}\"", "[".repeat(600)),
        format!("$x/a.b`a{}`", "[".repeat(600)),
    ] {
        assert!(
            eval(&deep, &states(json!({})), &no_vars(), &moment()).is_err(),
            "{deep}"
        );
    }
}

#[test]
fn literals_evaluate_to_themselves() {
    assert_eq!(run("true", json!({})), json!(true));
    assert_eq!(run("null", json!({})), json!(null));
    assert_eq!(run("1", json!({})), json!(1));
    assert_eq!(run("'string'", json!({})), json!("string"));
    assert_eq!(run("[]", json!({})), json!([]));
    assert_eq!(run("[1, 'two', 3]", json!({})), json!([1, "two", 3]));
    assert_eq!(run("{'foo': 'bar'}", json!({})), json!({"foo": "bar"}));
}

#[test]
fn states_input_paths_select_values() {
    let input = json!({"input_value": [1, 2, 3], "condition": true, "type": "Public"});
    assert_eq!(
        run("$states.input.input_value", input.clone()),
        json!([1, 2, 3])
    );
    assert_eq!(run("$states.input.condition", input.clone()), json!(true));
    assert_eq!(
        run("$states.input.type = 'Public'", input.clone()),
        json!(true)
    );
    assert_eq!(
        run("$states.input.type = \"Public\"", input.clone()),
        json!(true)
    );
    assert_eq!(run("$states.input", input.clone()), input);
    assert_eq!(
        run(
            "$not($states.input.result.done)",
            json!({"result": {"done": false}})
        ),
        json!(true)
    );
}

#[test]
fn states_result_error_output_and_context_are_bound() {
    let states = json!({
        "input": {"inputData": "dummy"},
        "result": {"ja_expr": 7},
        "errorOutput": {"Error": "Exception", "Cause": "boom"},
        "context": {"Map": {"Item": {"Value": "Item1", "Index": 0}}}
    });
    let value = |expr: &str| eval(expr, &states, &no_vars(), &moment()).expect("evaluates");
    assert_eq!(value("$states.result.ja_expr"), Some(json!(7)));
    assert_eq!(value("$states.errorOutput.Error"), Some(json!("Exception")));
    assert_eq!(
        value("$states.context.Map.Item.Value"),
        Some(json!("Item1"))
    );
    assert_eq!(value("$states.input.missing"), None);
}

#[test]
fn variables_are_bound_by_name() {
    let vars = vars(json!({
        "var_input_value": "string literal",
        "var_constant_1": 1,
        "ItemsVar": ["Item1", "Item2"],
        "var": "\""
    }));
    let states = states(json!({"input_values": [1, 2, 3]}));
    let value = |expr: &str| eval(expr, &states, &vars, &moment()).expect("evaluates");
    assert_eq!(value("$var_input_value"), Some(json!("string literal")));
    assert_eq!(
        value("$sum($states.input.input_values) + $var_constant_1"),
        Some(json!(7))
    );
    assert_eq!(value("$ItemsVar"), Some(json!(["Item1", "Item2"])));
    assert_eq!(value("$doesNotExist"), None);
    // From the escape-sequence cases: `$var = '"'`.
    assert_eq!(value("$var = '\"'"), Some(json!(true)));
}

#[test]
fn variables_named_like_builtins_shadow_them() {
    let vars = vars(json!({"count": 5, "random": "mine"}));
    let states = states(json!({}));
    assert_eq!(
        eval("$count + 1", &states, &vars, &moment()).expect("evaluates"),
        Some(json!(6))
    );
    assert_eq!(
        eval("$random", &states, &vars, &moment()).expect("evaluates"),
        Some(json!("mine"))
    );
    assert_eq!(
        eval("$sum([1, 2])", &states, &vars, &moment()).expect("evaluates"),
        Some(json!(3))
    );
}

#[test]
fn states_cannot_be_hidden_by_a_variable() {
    let vars = vars(json!({"states": "nope"}));
    let value = eval(
        "$states.input.a",
        &states(json!({"a": 1})),
        &vars,
        &moment(),
    )
    .expect("evaluates");
    assert_eq!(value, Some(json!(1)));
}

#[test]
fn string_escapes_compare_equal() {
    assert_eq!(run("$states.input = '\"'", json!("\"")), json!(true));
    assert_eq!(run("'a\\\"b'", json!({})), json!("a\"b"));
    assert_eq!(run("\"tab\\there\"", json!({})), json!("tab\there"));
}

#[test]
fn regular_expressions_match() {
    assert_eq!(
        run("$contains('hello$world', /^hello\\$/)", json!({})),
        json!(true)
    );
    assert_eq!(
        run("$contains(\"hello$world\", /^hello\\$/)", json!({})),
        json!(true)
    );
}

#[test]
fn assignment_yields_the_assigned_value() {
    assert_eq!(run("$variable := 1", json!({})), json!(1));
    assert_eq!(run("($x := 2; $x * 3)", json!({})), json!(6));
}

#[test]
fn integral_numbers_come_back_as_integers() {
    assert_eq!(run("$number(\"2\")", json!({})), json!(2));
    assert!(run("$number(\"2\")", json!({})).is_i64());
    assert!(run("$sum([1, 2, 3]) + 1", json!({})).is_i64());
    assert_eq!(run("0.1", json!({})), json!(0.1));
    assert_eq!(run("-0", json!({})), json!(0));
    assert_eq!(run("1/0", json!({})), json!("Infinity"));
    assert_eq!(run("[1.5, 2.0]", json!({})), json!([1.5, 2]));
}

#[test]
fn partition_splits_into_chunks() {
    let cases = [
        (json!([0]), 1, json!([[0]])),
        (json!([0]), 2, json!([[0]])),
        (json!([0, 1]), 1, json!([[0], [1]])),
        (json!([0, 1]), 3, json!([[0, 1]])),
        (json!([0, 1]), 4, json!([[0, 1]])),
        (json!([0, 1]), 5, json!([[0, 1]])),
        (json!([0, 1, 2]), 1, json!([[0], [1], [2]])),
        (json!([0, 1, 2]), 2, json!([[0, 1], [2]])),
        (json!([0, 1, 2]), 3, json!([[0, 1, 2]])),
        (json!([0, 1, 2]), 5, json!([[0, 1, 2]])),
        (json!([0, 1, 2, 3]), 1, json!([[0], [1], [2], [3]])),
        (json!([0, 1, 2, 3]), 3, json!([[0, 1, 2], [3]])),
        (json!([0, 1, 2, 3]), 5, json!([[0, 1, 2, 3]])),
    ];
    for (fst, snd, expected) in cases {
        let input = json!({"FunctionInput": {"fst": fst, "snd": snd}});
        let expr = "$partition($states.input.FunctionInput.fst, $states.input.FunctionInput.snd)";
        assert_eq!(run(expr, input), expected, "{fst} by {snd}");
    }
}

#[test]
fn partition_edge_cases() {
    let value = |expr: &str| eval(expr, &states(json!({})), &no_vars(), &moment());
    assert_eq!(value("$partition([], 2)").expect("evaluates"), None);
    assert_eq!(value("$partition([1, 2], 0)").expect("evaluates"), None);
    assert_eq!(
        value("$partition([1, 2])").expect("evaluates"),
        Some(json!([[1, 2]]))
    );
    let err = value("$partition([1, 2], -2)").expect_err("negative size");
    assert_eq!(
        cause(err),
        "The JSONata expression '$partition([1, 2], -2)' threw an error during evaluation. \
         D3137: Second argument must be zero or greater"
    );
    let err = value("$partition([1], 1, 1)").expect_err("surplus argument");
    assert!(cause(err).ends_with(
        "T0410: Argument 3 of function \"partition\" does not match function signature"
    ));
}

#[test]
fn range_counts_by_step() {
    let expr = "$range($states.input.FunctionInput.fst, $states.input.FunctionInput.snd, $states.input.FunctionInput.trd)";
    let cases = [
        ((0, 9, 3), json!([0, 3, 6, 9])),
        ((0, 10, 3), json!([0, 3, 6, 9])),
        ((1, 9, 2), json!([1, 3, 5, 7, 9])),
    ];
    for ((fst, snd, trd), expected) in cases {
        let input = json!({"FunctionInput": {"fst": fst, "snd": snd, "trd": trd}});
        assert_eq!(run(expr, input), expected);
    }
    assert_eq!(run("$range(9, 1, -2)", json!({})), json!([9, 7, 5, 3, 1]));
    assert_eq!(run("$range(3, 3, 1)", json!({})), json!(3));
    assert_eq!(
        run("$range(-1.2, 2.8, 1.9)", json!({})),
        json!([-1, 0, 1, 2])
    );
    let undefined =
        |expr: &str| eval(expr, &states(json!({})), &no_vars(), &moment()).expect("evaluates");
    assert_eq!(undefined("$range(3, 1, 1)"), None);
    assert_eq!(undefined("$range(0, 4, 0)"), None);
    assert_eq!(undefined("$range(0, 4)"), None);
    let err = eval(
        "$range('0', 4, 1)",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("string");
    assert!(cause(err)
        .ends_with("T0410: Argument 1 of function \"range\" does not match function signature"));
    let err = eval(
        "$range(0, 1e12, 1)",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("huge");
    assert_eq!(
        cause(err),
        "The JSONata expression '$range(0, 1e12, 1)' threw an error during evaluation: \
         Expression evaluation memory limit exceeded: Check for excessive memory usage"
    );
    let err = eval("[0..2000000]", &states(json!({})), &no_vars(), &moment()).expect_err("huge");
    assert!(cause(err).ends_with(
        "during evaluation: Expression evaluation memory limit exceeded: Check for excessive memory usage"
    ));
}

#[test]
fn parse_reads_json_strings() {
    let cases = [
        ("-0", json!(0)),
        ("1", json!(1)),
        ("1.1", json!(1.1)),
        ("true", json!(true)),
        ("[1, 2, \"HelloWorld\"]", json!([1, 2, "HelloWorld"])),
        (
            "{\"Arg1\": 1, \"Arg2\": []}",
            json!({"Arg1": 1, "Arg2": []}),
        ),
    ];
    for (text, expected) in cases {
        let input = json!({ "FunctionInput": text });
        assert_eq!(
            run("$parse($states.input.FunctionInput)", input),
            expected,
            "{text}"
        );
    }
    let err = eval("$parse('{')", &states(json!({})), &no_vars(), &moment()).expect_err("invalid");
    assert!(cause(err).ends_with(". D3137: Invalid JSON"));
}

#[test]
fn hash_uuid_and_random() {
    assert_eq!(
        run("$hash('input data', 'SHA-1')", json!({})),
        json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
    );
    assert_eq!(
        run("$hash('abc', 'MD5')", json!({})),
        json!("900150983cd24fb0d6963f7d28e17f72")
    );
    let err = eval(
        "$hash('a', 'SHA-2')",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("algo");
    assert!(cause(err).ends_with(
        "D3137: Hash algorithm 'SHA-2' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
    ));
    assert_eq!(run("$random(42)", json!({})), json!(0.7275636800328681));
    let unseeded = run("$random()", json!({}));
    assert!(unseeded.as_f64().is_some_and(|n| (0.0..1.0).contains(&n)));
    assert_eq!(run("$length($uuid())", json!({})), json!(36));
}

#[test]
fn now_and_millis_are_the_moment_of_the_step() {
    let at = |expr: &str| {
        eval(
            expr,
            &states(json!({})),
            &no_vars(),
            &Moment::new(1_700_000_000_123, 1),
        )
        .expect("evaluates")
        .expect("defined")
    };
    assert_eq!(at("$millis()"), json!(1_700_000_000_123_i64));
    assert_eq!(at("$now()"), json!("2023-11-14T22:13:20.123Z"));
    assert_eq!(at("$now() = $fromMillis($millis())"), json!(true));
    assert_eq!(at("$now('[Y0001]-[M01]-[D01]')"), json!("2023-11-14"));
    assert_eq!(at("$now('[H01]:[m01]', '+0100')"), json!("23:13"));
}

#[test]
fn uuid_random_and_shuffle_draw_from_the_seed() {
    let draw = |seed: u64| {
        let moment = Moment::new(0, seed);
        let expr = "[$uuid(), $uuid(), $random(), $shuffle([1, 2, 3, 4, 5, 6, 7, 8])]";
        let first = eval(expr, &states(json!({})), &no_vars(), &moment).expect("evaluates");
        let second = eval(expr, &states(json!({})), &no_vars(), &moment).expect("evaluates");
        (first, second)
    };
    let (a, a_next) = draw(42);
    let (b, b_next) = draw(42);
    assert_eq!((&a, &a_next), (&b, &b_next), "the same seed draws the same");
    assert_ne!(a, a_next, "each evaluation of a step draws anew");
    let a = a.expect("defined");
    assert_ne!(a[0], a[1], "two $uuid() calls differ");
    let uuid = a[0].as_str().expect("string");
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid.as_bytes()[14], b'4', "a version 4 UUID: {uuid}");
    assert_ne!(
        draw(43).0.expect("defined"),
        a,
        "another seed draws otherwise"
    );
}

#[test]
fn missing_jsonata_builtins_are_provided() {
    assert_eq!(run("$type([1])", json!({})), json!("array"));
    assert_eq!(run("$type({})", json!({})), json!("object"));
    assert_eq!(run("$average([1, 2, 3, 4])", json!({})), json!(2.5));
    assert_eq!(run("$spread({'a': 1})", json!({})), json!({"a": 1}));
    assert_eq!(run("$count($shuffle([1, 2, 3]))", json!({})), json!(3));
    assert_eq!(
        run(
            "$sift({'a': 1, 'b': 2, 'c': 3}, function($v) { $v > 1 })",
            json!({})
        ),
        json!({"b": 2, "c": 3})
    );
    assert_eq!(
        run(
            "$sift($states.input, function($v, $k) { $k = 'y' })",
            json!({"x": 1, "y": 2})
        ),
        json!({"y": 2})
    );
    assert_eq!(run("$formatBase(100, 2)", json!({})), json!("1100100"));
    assert_eq!(run("$formatBase(2555, 16)", json!({})), json!("9fb"));
    assert_eq!(run("$formatBase(-10)", json!({})), json!("-10"));
    assert!(eval(
        "$formatBase(1, 40)",
        &states(json!({})),
        &no_vars(),
        &moment()
    )
    .is_err());
    assert_eq!(
        run("$encodeUrlComponent('?x=test')", json!({})),
        json!("%3Fx%3Dtest")
    );
    assert_eq!(
        run("$encodeUrl('https://mozilla.org/?x=шеллы')", json!({})),
        json!("https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B")
    );
    assert_eq!(
        run("$decodeUrlComponent('%3Fx%3Dtest')", json!({})),
        json!("?x=test")
    );
    assert_eq!(
        run(
            "$decodeUrl('https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B')",
            json!({})
        ),
        json!("https://mozilla.org/?x=шеллы")
    );
    assert!(eval(
        "$decodeUrl('%E0%A4%A')",
        &states(json!({})),
        &no_vars(),
        &moment()
    )
    .is_err());
}

#[test]
fn eval_is_not_available() {
    let err = eval("$eval('1')", &states(json!({})), &no_vars(), &moment()).expect_err("no $eval");
    assert!(cause(err).ends_with(". T1006: Attempted to invoke a non-function"));
}

#[test]
fn undefined_fields_fail_with_aws_cause() {
    let err = eval_field(
        "{% $doesNotExist %}",
        "Assign/result",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("undefined");
    assert_eq!(
        cause(err),
        "The JSONata expression '$doesNotExist' specified for the field 'Assign/result' \
         returned nothing (undefined)."
    );
}

#[test]
fn throwing_fields_name_the_field() {
    let err = eval_field(
        "{% $sum('a') %}",
        "Output",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("throws");
    assert_eq!(
        cause(err),
        "The JSONata expression '$sum('a')' specified for the field 'Output' threw an error \
         during evaluation. T0412: Argument 1 of function \"sum\" must be an array of \"numbers\""
    );
    let err = eval_field(
        "{% $error('boom') %}",
        "Output",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("throws");
    assert!(cause(err).ends_with("threw an error during evaluation. D3137: boom"));
    let err = eval_field(
        "{% 1; 2 %}",
        "Output",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("syntax");
    assert!(cause(err).ends_with(". S0201: Syntax error `;`"));
}

#[test]
fn recursion_depth_is_bounded_like_aws() {
    let expr = "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(31))";
    assert_eq!(run(expr, json!({})), json!(31));
    let expr = "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(32))";
    let err = eval(expr, &states(json!({})), &no_vars(), &moment()).expect_err("too deep");
    assert!(cause(err).contains(". U1001: Stack overflow error"));
}

#[test]
fn runaway_recursion_through_builtins_fails_instead_of_overflowing() {
    for expr in [
        "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))",
        "($f := function($n) { $n = 0 ? 0 : $map([1], $f) }; $f(3))",
        "($f := function($n) { $reduce([1, 2], function($a, $b) { $f($n) }) }; $f(1))",
    ] {
        let err = eval(expr, &states(json!({})), &no_vars(), &moment()).expect_err(expr);
        assert_eq!(err.error, QUERY_EVALUATION_ERROR, "{expr}");
    }
    // These end early in jsonata-rs (a tail call comes back unevaluated); they must not
    // crash either way.
    for expr in [
        "($f := function($n) { $filter([1], function($v) { $f($n) }) }; $f(1))",
        "($f := function($n) { $single([1], function($v) { $f($n) }) }; $f(1))",
        "($f := function($n) { $each({'a': 1}, function($v) { $f($n) }) }; $f(1))",
        "($f := function($n) { $sort([1, 2], function($a, $b) { $f($n) }) }; $f(1))",
        "($f := function($n) { $replace('a', 'a', function($m) { $f($n) }) }; $f(1))",
    ] {
        let _ = eval(expr, &states(json!({})), &no_vars(), &moment());
    }
    assert_eq!(
        run("$map([1, 2], function($v) { $v * 2 })", json!({})),
        json!([2, 4])
    );
    assert_eq!(
        run(
            "$reduce([1, 2, 3], function($a, $b) { $a + $b })",
            json!({})
        ),
        json!(6)
    );
    assert_eq!(
        run("$sort([3, 1, 2], function($a, $b) { $a > $b })", json!({})),
        json!([1, 2, 3])
    );
}

#[test]
fn template_literals_are_kept() {
    let template = json!({
        "constant_null": null,
        "constant_int": 0,
        "constant_float": 0.1,
        "constant_bool": true,
        "constant_str": "constant string",
        "constant_not_jsonata": " {% states.input %} ",
        "constant_varpath_states": "$states.input",
        "constant_jp_input.$": "$",
        "constant_if": "States.Format('Format:{}', 101)",
        "constant_lst": [null, 0, 0.1, true, [], {"constant": 0}, " {% states.input %} "],
        "constant_obj_empty": {}
    });
    let value = eval_template(
        &template,
        "Output",
        &states(json!({"a": 1})),
        &no_vars(),
        &moment(),
    )
    .expect("evaluates");
    assert_eq!(value, template);
    assert_eq!(
        eval_template(
            &json!({}),
            "Arguments",
            &states(json!({})),
            &no_vars(),
            &moment()
        )
        .expect("{}"),
        json!({})
    );
}

#[test]
fn template_expressions_are_evaluated_recursively() {
    let template = json!([
        null, 0, 0.1, true, "string", [], "$nosuchvar", "$.no.such.path",
        "{% $states.input %}", {"key": "{% true %}"}
    ]);
    let input = json!({"input_value": "stringliteral"});
    let value = eval_template(&template, "Output", &states(input), &no_vars(), &moment())
        .expect("evaluates");
    assert_eq!(
        value,
        json!([
            null, 0, 0.1, true, "string", [], "$nosuchvar", "$.no.such.path",
            {"input_value": "stringliteral"}, {"key": true}
        ])
    );
    let items = json!([1, "{% $number(\"2\") %}", 3]);
    assert_eq!(
        eval_template(&items, "Items", &states(json!({})), &no_vars(), &moment()).expect("items"),
        json!([1, 2, 3])
    );
}

#[test]
fn template_errors_carry_the_nested_field() {
    let template = json!({"result": "{% $doesNotExist %}"});
    let err = eval_template(
        &template,
        "Output",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("undefined");
    assert_eq!(
        cause(err),
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' \
         returned nothing (undefined)."
    );
    let template = json!({"a": [1, "{% $nope %}"]});
    let err = eval_template(
        &template,
        "Arguments",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("undefined");
    assert!(cause(err).contains("for the field 'Arguments/a[1]'"));
}

#[test]
fn type_checks_use_aws_messages() {
    let cases = [
        ("{% true %}", json!(true), "boolean", "true"),
        ("{% null %}", json!(null), "null", "null"),
        ("{% 1 %}", json!(1), "number", "1"),
        (
            "{% {'foo': 'bar'} %}",
            json!({"foo": "bar"}),
            "object",
            "{\"foo\":\"bar\"}",
        ),
        ("{% 'string' %}", json!("string"), "string", "\"string\""),
    ];
    for (expr, value, actual, shown) in cases {
        let text = expression_text(expr).unwrap_or_default();
        let err = expect_type(expr, "Items", &value, "array").expect_err("not an array");
        assert_eq!(
            cause(err),
            format!(
                "The JSONata expression '{text}' specified for the field 'Items' returned an \
                 unexpected result type. Expected 'array', but was '{actual}' for value: {shown}"
            )
        );
    }
    let err = expect_type("$ItemsVar", "Items", &json!(true), "array").expect_err("boolean");
    assert_eq!(
        cause(err),
        "The JSONata expression '$ItemsVar' specified for the field 'Items' returned an \
         unexpected result type. Expected 'array', but was 'boolean' for value: true"
    );
    assert!(expect_type("$x", "Items", &json!([]), "array").is_ok());
    assert!(expect_type("$x", "MaxConcurrency", &json!(1), "integer").is_ok());
    assert!(expect_type("$x", "MaxConcurrency", &json!(1.5), "integer").is_err());
    assert!(expect_type("$x", "Seconds", &json!(1.5), "number").is_ok());
}

#[test]
fn key_order_follows_inputs_and_expression() {
    let input = json!({"zeta": 1, "alpha": 2, "mid": {"y": 1, "b": 2}});
    let value = run("$states.input", input.clone());
    let keys: Vec<&String> = value
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["zeta", "alpha", "mid"]);
    let inner: Vec<&String> = value["mid"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(inner, ["y", "b"]);
    let value = run("{'zz': 1, 'aa': 2, 'mm': 3}", json!({}));
    let keys: Vec<&String> = value
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["zz", "aa", "mm"]);
    let value = run(
        "$merge([$states.input, {'new': 1, 'alpha': 3}])",
        input.clone(),
    );
    let keys: Vec<&String> = value
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["zeta", "alpha", "mid", "new"]);
    let value = run(
        "{'mid': $states.input.mid, 'zeta': $states.input.zeta}",
        input,
    );
    let keys: Vec<&String> = value
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["mid", "zeta"]);
}

#[test]
fn odd_inputs_do_not_panic() {
    for expr in [
        "",
        "{",
        "}",
        "$",
        "$$",
        "%",
        "/",
        "//",
        "/a",
        "[1..",
        "$sum(",
        "'\\u12'",
        "**",
        "$states.input[",
        "$string()",
        "$substring()",
        "$lookup()",
        "$keys()",
        "$now('x','y')",
        "$fromMillis()",
        "$toMillis()",
        "$pad()",
        "$split()",
        "$match()",
        "$replace()",
        "$zip()",
        "$sort()",
        "$each()",
        "$map()",
        "$filter()",
        "$reduce()",
        "$single()",
        "$merge()",
        "$distinct()",
        "$power()",
        "$round()",
        "$millis(1)",
        "[1,2][$]",
        "$states.input ~> $sum",
        "$sift()",
        "$formatNumber(1, '#')",
        "{}.a",
        "a.b.c[0].d",
        "a.%.b",
    ] {
        let _ = eval(
            expr,
            &states(json!({"a": [1, {"b": null}]})),
            &no_vars(),
            &moment(),
        );
    }
    // jsonata-rs panics on the parent operator; the panic becomes an error.
    assert!(eval("a.%.b", &states(json!({})), &no_vars(), &moment()).is_err());
    let err =
        eval("$round()", &states(json!({})), &no_vars(), &moment()).expect_err("panics inside");
    assert!(cause(err).ends_with(": The JSONata engine does not support this expression"));
}

#[test]
fn a_catastrophic_regex_answers_in_linear_time() {
    // `regress` backtracks for minutes on these; the linear engine answers at once.
    let text = format!("{}!", "a".repeat(50_000));
    let input = states(json!(text));
    let none = eval(
        "$match($states.input, /(a+)+$/)",
        &input,
        &no_vars(),
        &moment(),
    );
    assert_eq!(none, Ok(None));
    assert_eq!(
        run("$contains($states.input, /^(a|aa)+$/)", json!(text)),
        json!(false)
    );
    let found = run("$match($states.input, /(a+)+!$/)", json!(text));
    assert_eq!(found["index"], json!(0));
    assert_eq!(found["match"].as_str().map(str::len), Some(50_001));
    assert_eq!(
        run("$replace($states.input, /(a+)+!/, 'x')", json!(text)),
        json!("x")
    );
    assert_eq!(
        run("$split($states.input, /(a+)+b/)", json!(text)),
        json!([text])
    );
}

#[test]
fn regex_builtins_follow_jsonata() {
    assert_eq!(
        run("$match('ababbabbcc', /a(b+)/)", json!({})),
        json!([
            {"match": "ab", "index": 0, "groups": ["b"]},
            {"match": "abb", "index": 2, "groups": ["bb"]},
            {"match": "abb", "index": 5, "groups": ["bb"]}
        ])
    );
    assert_eq!(
        run("$match('ababbabbcc', /a(b+)/, 1)", json!({})),
        json!({"match": "ab", "index": 0, "groups": ["b"]})
    );
    assert_eq!(
        run("$match('éa', /a/).index", json!({})),
        json!(1),
        "index counts UTF-16 code units"
    );
    assert_eq!(run("$match('ABC', /b/i).match", json!({})), json!("B"));
    assert_eq!(
        run(
            "$replace('John Smith', /(\\w+)\\s(\\w+)/, '$2, $1')",
            json!({})
        ),
        json!("Smith, John")
    );
    assert_eq!(
        run("$replace('265USD', /([0-9]+)USD/, '$$$1')", json!({})),
        json!("$265")
    );
    assert_eq!(
        run(
            "$replace('abcd', /[bc]/, function($m) { $uppercase($m.match) })",
            json!({})
        ),
        json!("aBCd")
    );
    assert_eq!(
        run("$replace('a-b-c', /-/, '+', 1)", json!({})),
        json!("a+b-c")
    );
    assert_eq!(
        run("$split('a1b22c', /[0-9]+/)", json!({})),
        json!(["a", "b", "c"])
    );
    assert_eq!(run("$split('a,,b', /,/)", json!({})), json!(["a", "", "b"]));
    assert_eq!(
        run("$split('a1b2c', /[0-9]/, 2)", json!({})),
        json!(["a", "b"])
    );
    assert_eq!(
        run("'a1b' ~> $split(/[0-9]/)", json!({})),
        json!(["a", "b"])
    );
    assert_eq!(run("$contains('abc', /B/i)", json!({})), json!(true));
    // Strings are still plain text to these functions.
    assert_eq!(run("$split('a.b', '.')", json!({})), json!(["a", "b"]));
    assert_eq!(run("$replace('a.b', '.', '-')", json!({})), json!("a-b"));
    assert_eq!(run("$contains('a.b', '.')", json!({})), json!(true));
    let err = eval(
        "$replace('abc', /x*/, '-')",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("zero-length matches never progress");
    assert!(cause(err).contains("D1004"));
}

#[test]
fn the_engine_regex_builtins_cannot_be_reached_by_name() {
    let err = eval(
        "$contains('a', 'a') and $__stepfn_builtin_contains('aaaa!', /(a+)+$/)",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("reserved");
    assert!(cause(err).ends_with(": Names starting with $__stepfn_ are reserved"));
    assert_eq!(run("'abc' ~> $match(/b/)", json!({}))["index"], json!(1));
}

#[test]
fn backtracking_regex_features_fail_the_state_clearly() {
    let err = eval(
        "$match('aa', /(a)\\1/)",
        &states(json!({})),
        &no_vars(),
        &moment(),
    )
    .expect_err("backreferences need backtracking");
    assert_eq!(
        cause(err),
        "The JSONata expression '$match('aa', /(a)\\1/)' threw an error during evaluation: \
         Unsupported regular expression: /(a)\\1/ uses a backreference, which cannot be \
         evaluated without backtracking"
    );
}

#[test]
fn only_the_named_parts_of_states_are_read() {
    assert_eq!(
        read_paths("$states.input.a + $states . context.`b c`[0]", "states"),
        Some(vec![vec!["input", "a"], vec!["context", "b c"]])
    );
    assert_eq!(read_paths("$keys($states)", "states"), Some(vec![vec![]]));
    assert_eq!(read_paths("$statesX.a", "states"), None);
    assert_eq!(
        read_paths("$states.input.a.%.b", "states"),
        Some(vec![vec![]])
    );
    let states = json!({"input": {"a": [{"v": 1, "w": 2}, 3], "b": 4},
                        "context": {"Execution": {"Input": {"big": true}}}});
    let arena = Bump::new();
    let copied = to_jsonata_along(&arena, &states, &[vec!["input", "a", "v"]]);
    let mut budget = usize::MAX;
    assert_eq!(
        from_jsonata(copied, 0, &mut budget).ok().flatten(),
        Some(json!({"input": {"a": [{"v": 1}, 3]}}))
    );
    // What the expression reads is the same as with the whole object.
    assert_eq!(
        run(
            "$states.input.a.v",
            json!({"a": [{"v": 1, "w": 2}, {"v": 3}]})
        ),
        json!([1, 3])
    );
    assert_eq!(
        run("$states.input.a", json!({"a": {"z": 1, "b": 2}, "c": 3})),
        json!({"z": 1, "b": 2})
    );
    assert_eq!(
        run("$count($keys($states.input))", json!({"a": 1, "c": 3})),
        json!(2)
    );
}

#[test]
fn fuzzed_allocations_fail_at_the_memory_limit_instead_of_aborting_or_stalling() {
    // Found by the `expression` fuzz target: jsonata-rs allocated a $pad width near 2^63 up
    // front (the process aborted) and built a 10^7-item range in one step, past the time limit.
    for expression in [
        "$pad(\"x\", 9223372036854775807)",
        "$pad(\"x\", -9223372036854775808)",
        "$pad(\"x\", 100000000)",
        "[1..10000000]",
        "$count([1..10000000])",
    ] {
        let err = eval(expression, &states(json!({})), &no_vars(), &moment())
            .expect_err("over the memory limit");
        assert!(
            cause(err).ends_with(
                "Expression evaluation memory limit exceeded: Check for excessive memory usage"
            ),
            "{expression}"
        );
    }
    assert_eq!(run("$pad(\"x\", 4)", json!({})), json!("x   "));
    assert_eq!(run("$pad(\"x\", -3, \"#\")", json!({})), json!("##x"));
    assert_eq!(
        run("$count($range(1, 1000000, 1))", json!({})),
        json!(1_000_000)
    );
    assert_eq!(run("$count([1..1000000])", json!({})), json!(1_000_000));
}
