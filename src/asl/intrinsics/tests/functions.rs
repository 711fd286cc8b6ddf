//! Each family of intrinsic functions, against what AWS returns.

use super::*;

// --- States.Format ------------------------------------------------------------------

#[test]
fn format_renders_values_like_aws() {
    let input = json!({"s": "x", "n": 1.1, "i": -1, "b": false, "z": null,
                       "o": {"Arg1": 1, "Arg2": []}, "a": [1, "two", {"k": null}]});
    assert_eq!(
        ok(
            "States.Format('{}|{}|{}|{}|{}|{}|{}', $.s, $.n, $.i, $.b, $.z, $.o, $.a)",
            input
        ),
        json!("x|1.1|-1|false|null|{Arg1=1, Arg2=[]}|[1, two, {k=null}]")
    );
}

#[test]
fn format_escaped_braces_and_quotes_are_literal() {
    assert_eq!(
        ok(
            r#"States.Format('Name: \'{}\', set: \{{}\}, slash: \\', $.a, $.b)"#,
            json!({"a": "Ann", "b": 3})
        ),
        json!(r"Name: 'Ann', set: {3}, slash: \")
    );
}

#[test]
fn format_template_may_come_from_a_path() {
    assert_eq!(
        ok(
            "States.Format($.t, $.name)",
            json!({"t": "Hello, {}.", "name": "Arnav"})
        ),
        json!("Hello, Arnav.")
    );
    invalid("States.Format($.t, 1)", json!({"t": 123}), "States.Format");
}

#[test]
fn format_argument_count_must_match_placeholders() {
    for src in [
        "States.Format('{} {}', 'x')",
        "States.Format('{}', 'x', 'y')",
    ] {
        assert_eq!(
            fails(src, json!({})),
            format!(
                "The function '{src}' had the following error: Invalid arguments in \
                 States.Format: number of arguments do not match the occurrences of {{}}"
            )
        );
    }
    assert_eq!(
        ok("States.Format('no placeholders')", json!({})),
        json!("no placeholders")
    );
}

#[test]
fn format_unmatched_braces_fail_at_evaluation() {
    for (src, what) in [
        (
            "States.Format('Hello {', 'x')",
            "matching '}' not found for '{'.",
        ),
        (
            "States.Format('Hello {{}}', 'x')",
            "matching '}' not found for '{'.",
        ),
        ("States.Format('}')", "matching '{' not found for '}'."),
    ] {
        assert_eq!(
            fails(src, json!({})),
            format!(
                "The function '{src}' had the following error: Invalid template in \
                 States.Format: {what}"
            )
        );
    }
}

#[test]
fn format_handles_multibyte_text() {
    assert_eq!(
        ok("States.Format('héllo {} 🚀', $.a)", json!({"a": "wörld"})),
        json!("héllo wörld 🚀")
    );
}

// --- JSON ---------------------------------------------------------------------------

#[test]
fn string_to_json_parses_and_blank_is_null() {
    assert_eq!(
        ok("States.StringToJson($.s)", json!({"s": " {\"a\":1} "})),
        json!({"a": 1})
    );
    assert_eq!(
        ok("States.StringToJson($.s)", json!({"s": ""})),
        Value::Null
    );
    assert_eq!(
        ok("States.StringToJson($.s)", json!({"s": "  "})),
        Value::Null
    );
    assert_eq!(ok("States.StringToJson($.s)", json!({"s": "-0"})), json!(0));
    assert_eq!(
        ok("States.StringToJson($.s)", json!({"s": "[1.5]"})),
        json!([1.5])
    );
    invalid(
        "States.StringToJson($.s)",
        json!({"s": "{bad json}"}),
        "States.StringToJson",
    );
    invalid(
        "States.StringToJson($.s)",
        json!({"s": "undefined"}),
        "States.StringToJson",
    );
    invalid(
        "States.StringToJson($.s)",
        json!({"s": {"a": 1}}),
        "States.StringToJson",
    );
}

#[test]
fn json_to_string_is_compact_and_keeps_key_order() {
    assert_eq!(
        ok(
            "States.JsonToString($.o)",
            json!({"o": {"z": [true, null], "a": "x"}})
        ),
        json!("{\"z\":[true,null],\"a\":\"x\"}")
    );
    assert_eq!(ok("States.JsonToString('x')", json!({})), json!("\"x\""));
}

#[test]
fn json_merge_is_shallow_and_right_wins() {
    let input =
        json!({"a": {"a": {"a1": 1}, "b": 2, "d": 3}, "b": {"a": {"a3": 1}, "c": 3, "d": 4}});
    assert_eq!(
        ok("States.JsonMerge($.a, $.b, false)", input),
        json!({"a": {"a3": 1}, "b": 2, "d": 4, "c": 3})
    );
}

#[test]
fn json_merge_rejects_deep_mode_and_non_objects() {
    let input = json!({"o": {}, "n": null, "l": []});
    invalid(
        "States.JsonMerge($.o, $.o, true)",
        input.clone(),
        "States.JsonMerge",
    );
    invalid(
        "States.JsonMerge($.n, $.o, false)",
        input.clone(),
        "States.JsonMerge",
    );
    invalid(
        "States.JsonMerge($.o, $.l, false)",
        input.clone(),
        "States.JsonMerge",
    );
    // Observed on AWS: a deep flag that is not `true` merges shallowly.
    assert_eq!(ok("States.JsonMerge($.o, $.o, 'false')", input), json!({}));
}

// --- arrays -------------------------------------------------------------------------

#[test]
fn array_partition_chunks_and_truncates_size() {
    let input = json!({"a": [1, 2, 3, 4, 5]});
    assert_eq!(
        ok("States.ArrayPartition($.a, 2)", input.clone()),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(
        ok("States.ArrayPartition($.a, 2.6)", input.clone()),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(
        ok("States.ArrayPartition($.a, 2147483647)", input.clone()),
        json!([[1, 2, 3, 4, 5]])
    );
    for size in ["0", "-1", "0.6", "-0.4", "'2'", "null"] {
        invalid(
            &format!("States.ArrayPartition($.a, {size})"),
            input.clone(),
            "States.ArrayPartition",
        );
    }
    invalid(
        "States.ArrayPartition('x', 2)",
        json!({}),
        "States.ArrayPartition",
    );
}

#[test]
fn array_range_is_inclusive_and_may_count_down() {
    assert_eq!(
        ok("States.ArrayRange(1, 9, 2)", json!({})),
        json!([1, 3, 5, 7, 9])
    );
    assert_eq!(
        ok("States.ArrayRange(0, 10, 3)", json!({})),
        json!([0, 3, 6, 9])
    );
    assert_eq!(
        ok("States.ArrayRange(5, 1, -2)", json!({})),
        json!([5, 3, 1])
    );
    assert_eq!(ok("States.ArrayRange(3, 3, -1)", json!({})), json!([3]));
    assert_eq!(ok("States.ArrayRange(5, 1, 1)", json!({})), json!([]));
    // Observed on AWS: fractions are truncated.
    assert_eq!(
        ok("States.ArrayRange(5.4, -0.6, -2.4)", json!({})),
        json!([5, 3, 1])
    );
    assert_eq!(ok("States.ArrayRange(1.6, 1.4, 1)", json!({})), json!([1]));
}

#[test]
fn array_range_limits_size_and_step() {
    let thousand = ok("States.ArrayRange(1, 1000, 1)", json!({}));
    assert_eq!(thousand.as_array().map(Vec::len), Some(1000));
    invalid(
        "States.ArrayRange(1, 1001, 1)",
        json!({}),
        "States.ArrayRange",
    );
    invalid(
        "States.ArrayRange(1001, 1, -1)",
        json!({}),
        "States.ArrayRange",
    );
    invalid(
        "States.ArrayRange(1, 10, 0)",
        json!({}),
        "States.ArrayRange",
    );
    invalid(
        "States.ArrayRange(1, 10, 0.49)",
        json!({}),
        "States.ArrayRange",
    );
    invalid(
        "States.ArrayRange('a', 5, 1)",
        json!({}),
        "States.ArrayRange",
    );
    invalid(
        "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
        json!({}),
        "States.ArrayRange",
    );
}

#[test]
fn array_get_item_checks_bounds_and_truncates_index() {
    let input = json!({"a": [10, {"k": 1}, 30]});
    assert_eq!(
        ok("States.ArrayGetItem($.a, 1)", input.clone()),
        json!({"k": 1})
    );
    assert_eq!(
        ok("States.ArrayGetItem($.a, 1.2)", input.clone()),
        json!({"k": 1})
    );
    for index in ["3", "-1", "'1'", "99999999999999999999"] {
        invalid(
            &format!("States.ArrayGetItem($.a, {index})"),
            input.clone(),
            "States.ArrayGetItem",
        );
    }
    invalid(
        "States.ArrayGetItem('x', 0)",
        json!({}),
        "States.ArrayGetItem",
    );
}

#[test]
fn array_contains_matches_like_aws() {
    let input =
        json!({"a": [null, "", 0, [0, 1, false], {"a": 1, "b": 2}, "true", "9007199254740991"]});
    let contains = |target: &str| {
        ok(
            &format!("States.ArrayContains($.a, {target})"),
            input.clone(),
        )
    };
    assert_eq!(contains("States.Array(0, 1, false)"), json!(true));
    assert_eq!(contains("null"), json!(true));
    assert_eq!(contains("false"), json!(false));
    assert_eq!(
        contains("States.StringToJson('{\"a\":1,\"b\":2}')"),
        json!(true)
    );
    // Observed on AWS: key order matters, and strings match scalars of the same text.
    assert_eq!(
        contains("States.StringToJson('{\"b\":2,\"a\":1}')"),
        json!(false)
    );
    assert_eq!(contains("true"), json!(true));
    assert_eq!(contains("9007199254740991"), json!(true));
    assert_eq!(contains("1"), json!(false));
    invalid(
        "States.ArrayContains('x', 'x')",
        json!({}),
        "States.ArrayContains",
    );
}

#[test]
fn array_unique_keeps_first_of_equal_values() {
    let input = json!({"a": [1, "1", 1, "01", {"a": 1, "b": 2}, {"b": 2, "a": 1}, [1, 2], [2, 1], [1, 2], null, null, 1.5]});
    assert_eq!(
        ok("States.ArrayUnique($.a)", input),
        json!([1, "1", "01", {"a": 1, "b": 2}, [1, 2], [2, 1], null, 1.5])
    );
    invalid(
        "States.ArrayUnique($.o)",
        json!({"o": {}}),
        "States.ArrayUnique",
    );
}

#[test]
fn array_length_counts_top_level_items() {
    assert_eq!(
        ok("States.ArrayLength(States.Array())", json!({})),
        json!(0)
    );
    assert_eq!(
        ok("States.ArrayLength($.a)", json!({"a": [[1], [2]]})),
        json!(2)
    );
    invalid("States.ArrayLength('x')", json!({}), "States.ArrayLength");
}

// --- encoding and hashing -----------------------------------------------------------

#[test]
fn base64_round_trips_utf8() {
    assert_eq!(
        ok("States.Base64Encode('🚀✓')", json!({})),
        json!("8J+agOKckw==")
    );
    assert_eq!(
        ok("States.Base64Decode('8J+agOKckw==')", json!({})),
        json!("🚀✓")
    );
    assert_eq!(ok("States.Base64Encode('')", json!({})), json!(""));
    assert_eq!(
        ok("States.Base64Decode('YWJjAGRlZg==')", json!({})),
        json!("abc\u{0}def")
    );
}

#[test]
fn base64_decode_is_lenient_like_aws() {
    assert_eq!(
        ok("States.Base64Decode(' YWJjZA== ')", json!({})),
        json!("abcd")
    );
    assert_eq!(
        ok("States.Base64Decode('YWJjZA')", json!({})),
        json!("abcd")
    );
    assert_eq!(ok("States.Base64Decode('YWJjZ')", json!({})), json!("abc"));
    // Bytes that are not UTF-8 become replacement characters rather than failing.
    assert_eq!(
        ok("States.Base64Decode('/w==')", json!({})),
        json!("\u{fffd}")
    );
}

#[test]
fn base64_and_hash_inputs_are_limited_to_10000_characters() {
    let at_limit = json!({"s": "é".repeat(10_000)});
    let over = json!({"s": "a".repeat(10_001)});
    assert!(eval("States.Base64Encode($.s)", at_limit.clone()).is_ok());
    assert!(eval("States.Hash($.s, 'MD5')", at_limit).is_ok());
    invalid(
        "States.Base64Encode($.s)",
        over.clone(),
        "States.Base64Encode",
    );
    invalid(
        "States.Base64Decode($.s)",
        over.clone(),
        "States.Base64Decode",
    );
    invalid("States.Hash($.s, 'MD5')", over, "States.Hash");
    invalid("States.Base64Encode(123)", json!({}), "States.Base64Encode");
    invalid(
        "States.Base64Decode($.o)",
        json!({"o": {}}),
        "States.Base64Decode",
    );
}

#[test]
fn hash_supports_the_five_algorithms() {
    for (algorithm, digest) in [
        ("MD5", "5d41402abc4b2a76b9719d911017c592"),
        ("SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        ("SHA-256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
        ("SHA-384", "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f"),
        ("SHA-512", "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"),
    ] {
        assert_eq!(ok(&format!("States.Hash('hello', '{algorithm}')"), json!({})), json!(digest));
    }
    for algorithm in ["'sha-256'", "'SHA256'", "'MD-5'", "''", "123"] {
        invalid(
            &format!("States.Hash('hello', {algorithm})"),
            json!({}),
            "States.Hash",
        );
    }
}

#[test]
fn hash_of_a_non_string_hashes_its_json_text() {
    assert_eq!(
        ok("States.Hash(123, 'MD5')", json!({})),
        ok("States.Hash('123', 'MD5')", json!({}))
    );
}

// --- math ---------------------------------------------------------------------------

#[test]
fn math_add_rounds_half_up_like_java() {
    for (a, b, sum) in [
        (-9.0, 3.0, -6),
        (1.49, 1.5, 3),
        (1.5, 1.51, 4),
        (-1.49, -1.5, -2),
        (-1.5, -1.51, -3),
        (1.49, -1.49, 0),
        (-0.5, 0.5, 1),
        (-2.5, 0.0, -2),
        (-3.5, 0.0, -3),
        (2.5, 0.0, 3),
        (0.49999999999999994, 0.0, 0),
    ] {
        assert_eq!(
            ok("States.MathAdd($.a, $.b)", json!({"a": a, "b": b})),
            json!(sum),
            "{a} + {b}"
        );
    }
    assert_eq!(ok("States.MathAdd($.v, -1)", json!({"v": 111})), json!(110));
}

#[test]
fn math_add_stays_within_int32() {
    assert_eq!(
        ok("States.MathAdd(2147483646, 1)", json!({})),
        json!(2147483647)
    );
    assert_eq!(
        ok("States.MathAdd(-2147483647, -1)", json!({})),
        json!(-2147483648_i64)
    );
    for args in [
        "2147483647, 1",
        "-2147483648, -1",
        "3000000000, 1",
        "1e300, 1",
        "18446744073709551615, 0",
    ] {
        invalid(
            &format!("States.MathAdd({args})"),
            json!({}),
            "States.MathAdd",
        );
    }
}

#[test]
fn math_add_rejects_non_numbers() {
    for args in ["'a', 1", "1, '2'", "null, 1", "true, 1", "$.arr, 1"] {
        invalid(
            &format!("States.MathAdd({args})"),
            json!({"arr": [1]}),
            "States.MathAdd",
        );
    }
}

#[test]
fn math_random_is_in_start_inclusive_end_exclusive() {
    for seed in 0..200 {
        let v = eval_with("States.MathRandom(1, 4)", json!({}), seed).expect("valid");
        let v = v.as_i64().expect("an integer");
        assert!((1..4).contains(&v), "{v}");
    }
    // Observed on AWS: bounds are truncated, so 1.6 allows 1 and 1.4..1.6 is empty.
    let v = ok("States.MathRandom(1.6, 2.4)", json!({}));
    assert_eq!(v, json!(1));
    invalid(
        "States.MathRandom(1.4, 1.6)",
        json!({}),
        "States.MathRandom",
    );
    invalid("States.MathRandom(10, 5)", json!({}), "States.MathRandom");
    invalid("States.MathRandom('a', 10)", json!({}), "States.MathRandom");
    invalid(
        "States.MathRandom(1, 10, null)",
        json!({}),
        "States.MathRandom",
    );
    invalid(
        "States.MathRandom(-3000000000, 3000000000)",
        json!({}),
        "States.MathRandom",
    );
}

#[test]
fn math_random_comes_only_from_the_rng() {
    let a = eval_with("States.MathRandom(0, 1000000)", json!({}), 1);
    let b = eval_with("States.MathRandom(0, 1000000)", json!({}), 1);
    assert_eq!(a, b);
}

#[test]
fn math_random_with_seed_follows_java_random() {
    // Observed on AWS: seed 42 over [-5, 5) gives -5 (java.util.Random(42).nextInt(10) = 0).
    assert_eq!(ok("States.MathRandom(-5, 5, 42)", json!({})), json!(-5));
    let first = eval_with("States.MathRandom(1, 1000, 7)", json!({}), 1);
    let second = eval_with("States.MathRandom(1, 1000, 7)", json!({}), 2);
    assert_eq!(first, second);
    // A power-of-two bound takes Java's shortcut.
    let v = ok("States.MathRandom(0, 1024, 3)", json!({}));
    assert!(v.as_i64().is_some_and(|v| (0..1024).contains(&v)));
}

// --- strings ------------------------------------------------------------------------

#[test]
fn string_split_splits_on_each_delimiter_char_and_drops_empty_tokens() {
    let split = |s: &str, d: &str| ok("States.StringSplit($.s, $.d)", json!({"s": s, "d": d}));
    assert_eq!(split("a,b,c", ","), json!(["a", "b", "c"]));
    assert_eq!(split("1+2,3.4", ".+,"), json!(["1", "2", "3", "4"]));
    assert_eq!(split(",a,,b,", ","), json!(["a", "b"]));
    assert_eq!(split("", ","), json!([]));
    assert_eq!(split("abc", ""), json!(["abc"]));
    assert_eq!(split("é—ü—ö", "—"), json!(["é", "ü", "ö"]));
    invalid(
        "States.StringSplit($.n, ',')",
        json!({"n": 123}),
        "States.StringSplit",
    );
    invalid(
        "States.StringSplit('a,b', $.d)",
        json!({"d": [","]}),
        "States.StringSplit",
    );
}

#[test]
fn uuid_is_a_v4_uuid_from_the_rng_and_ignores_arguments() {
    let a = eval_with("States.UUID()", json!({}), 5).expect("valid");
    let b = eval_with("States.UUID('ignored', $.nope)", json!({}), 5).expect("valid");
    assert_eq!(a, b);
    let s = a.as_str().expect("a string");
    let parsed = uuid::Uuid::parse_str(s).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(s, s.to_lowercase());
}

// --- composition --------------------------------------------------------------------

#[test]
fn nested_calls_evaluate_inside_out() {
    assert_eq!(
        ok(
            "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), \
             States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
            json!({})
        ),
        json!("machine")
    );
    assert_eq!(
        ok(
            "States.Hash(States.Format('{}:{}', $.a, $.b), 'SHA-256')",
            json!({"a": "x", "b": "y"})
        ),
        json!("1274e286686b54fe765ec40735665b4bf789cee2a5b22124c5e0491a88e15271")
    );
}

#[test]
fn fail_state_paths_can_be_format_calls() {
    let input = json!({"Error": "error string", "Cause": "cause string"});
    assert_eq!(
        ok("States.Format('{}', $.Error)", input.clone()),
        json!("error string")
    );
    assert_eq!(
        ok(
            "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)",
            input
        ),
        json!("This is a custom error message for error string, caused by cause string.")
    );
}

#[test]
fn json_merge_accepts_a_nested_string_to_json_with_quotes() {
    let input = json!({"input_field": {"constant_input_field": "constant_value"}});
    assert_eq!(
        ok(
            r#"States.JsonMerge(States.StringToJson('{"constant_in_literal": "false"}'), $$.Execution.Input.input_field, false)"#,
            input
        ),
        json!({"constant_in_literal": "false", "constant_input_field": "constant_value"})
    );
}
