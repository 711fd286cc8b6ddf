use super::*;
use serde_json::json;

const VALIDATION_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/validation");
const CASES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/cases");

/// The `.json` files of a directory, sorted by name.
fn json_files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn errors(text: &str) -> Vec<String> {
    match validate_text(text) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.iter().map(ToString::to_string).collect(),
    }
}

fn errors_of(definition: Value) -> Vec<String> {
    validate(&definition)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The validation files whose verdict AWS overturns (tests/conformance-aws-verdicts.txt).
fn aws_verdicts() -> Vec<String> {
    let list = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance-aws-verdicts.txt"
    );
    std::fs::read_to_string(list)
        .expect("tests/conformance-aws-verdicts.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(file, _)| file.trim().to_string()))
        .collect()
}

#[test]
fn conformance_validation_verdicts_match() {
    let mut wrong = Vec::new();
    let mut counts = [0usize; 2];
    let overturned = aws_verdicts();
    for (verdict, valid_here) in [("valid", true), ("invalid", false)] {
        for path in json_files(&format!("{VALIDATION_DIR}/{verdict}")) {
            let text = std::fs::read_to_string(&path).expect("readable test file");
            let result = validate_text(&text);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let expect_valid = valid_here != overturned.contains(&format!("{verdict}/{name}"));
            counts[usize::from(!expect_valid)] += 1;
            match (expect_valid, result) {
                (true, Err(diags)) => wrong.push(format!(
                    "{} was rejected: {}",
                    path.display(),
                    diags
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
                (false, Ok(_)) => wrong.push(format!("{} was accepted", path.display())),
                _ => {}
            }
        }
    }
    assert!(counts[0] > 0 && counts[1] > 0, "no validation files found");
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn conformance_case_definitions_are_valid() {
    let mut wrong = Vec::new();
    let files = json_files(CASES_DIR);
    assert!(!files.is_empty(), "no cases found");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable case file");
        let case: Value = serde_json::from_str(&text).expect("case is JSON");
        let definition = case.get("definition").cloned().unwrap_or(Value::Null);
        let diags = validate(&definition);
        if !diags.is_empty() {
            wrong.push(format!(
                "{}: {}",
                path.display(),
                diags
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} rejected:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn unknown_next_state_is_reported_with_path() {
    let err = errors(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#);
    // As AWS reports it: the missing target, and then that nothing ends the workflow.
    assert_eq!(
        err,
        [
            "/States/A/Next: no state named \"B\"",
            "/: no state reachable from StartAt ends the workflow"
        ]
    );
}

#[test]
fn valid_definition_is_returned_parsed() {
    let value = validate_text(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#);
    assert_eq!(
        value,
        Ok(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}))
    );
}

#[test]
fn invalid_json_is_reported_at_the_root() {
    let err = errors(r#"{"StartAt": }"#);
    assert_eq!(err, ["/: invalid JSON: expected value at line 1 column 13"]);
}

#[test]
fn duplicate_keys_are_reported_with_path() {
    let err = errors(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true,"Type":"Pass"}}}"#);
    assert_eq!(err, ["/States/A/Type: duplicate field \"Type\""]);
}

#[test]
fn duplicate_state_names_across_scopes_are_reported() {
    let err = errors_of(json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}
        ]}
    }}));
    assert_eq!(
        err,
        ["/States/P/Branches/0/States/P: duplicate state name \"P\", first defined in /States"]
    );
}

#[test]
fn transition_out_of_a_branch_is_reported() {
    let err = errors_of(json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Done", "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Done"}}}
        ]},
        "Done": {"Type": "Succeed"}
    }}));
    assert_eq!(
        err,
        [
            "/States/P/Branches/0/States/B/Next: state \"Done\" is defined in /States, outside \
          this scope: transitions cannot cross a Parallel branch or Map item processor"
        ]
    );
}

#[test]
fn unreachable_state_is_reported() {
    let err = errors_of(json!({"StartAt": "A", "States": {
        "A": {"Type": "Succeed"},
        "B": {"Type": "Succeed"}
    }}));
    assert_eq!(
        err,
        ["/States/B: state \"B\" is not reachable from StartAt"]
    );
}

#[test]
fn states_reached_only_through_choices_and_catchers_are_reachable() {
    let err = errors_of(json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Default": "T", "Choices": [
            {"Variable": "$.x", "IsPresent": true, "Next": "S"}
        ]},
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
        "S": {"Type": "Succeed"},
        "F": {"Type": "Fail"}
    }}));
    assert_eq!(err, Vec::<String>::new());
}

#[test]
fn state_needs_exactly_one_of_next_and_end() {
    let err = errors_of(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B", "End": true},
        "B": {"Type": "Wait", "Seconds": 1}
    }}));
    assert_eq!(
        err,
        [
            "/States/A/End: \"End\" and \"Next\" are mutually exclusive",
            "/States/B: a Wait state must have \"Next\" or \"End\": true",
        ]
    );
}

#[test]
fn states_all_must_be_alone_and_in_the_last_retrier() {
    let err = errors_of(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
              "Retry": [
                  {"ErrorEquals": ["States.ALL", "Custom"]},
                  {"ErrorEquals": ["States.Timeout"]}
              ]}
    }}));
    assert_eq!(
        err,
        [
            "/States/T/Retry/0/ErrorEquals: \"States.ALL\" must be the only error name in its \
             \"ErrorEquals\"",
            "/States/T/Retry/0: a retrier matching \"States.ALL\" must be the last one",
        ]
    );
}

#[test]
fn retrier_fields_are_range_checked() {
    let err = errors_of(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
              "Retry": [{"ErrorEquals": [], "IntervalSeconds": 0, "BackoffRate": 0.5,
                         "JitterStrategy": "HALF"}]}
    }}));
    assert_eq!(
        err,
        [
            "/States/T/Retry/0/ErrorEquals: must not be empty",
            "/States/T/Retry/0/IntervalSeconds: must be at least 1",
            "/States/T/Retry/0/BackoffRate: must be at least 1",
            "/States/T/Retry/0/JitterStrategy: expected one of \"FULL\", \"NONE\", got \"HALF\"",
        ]
    );
}

#[test]
fn wrong_json_types_are_reported_by_the_schema() {
    let err = errors_of(json!({"StartAt": 1, "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
              "Credentials": null}
    }}));
    assert_eq!(
        err,
        [
            "/StartAt: expected string, got integer",
            "/States/A/Credentials: expected object, got null",
        ]
    );
}

#[test]
fn unknown_state_type_is_reported() {
    let err = errors_of(json!({"StartAt": "A", "States": {"A": {"Type": "Sleep"}}}));
    assert_eq!(
        err,
        [
            "/States/A/Type: expected one of \"Pass\", \"Task\", \"Choice\", \"Wait\", \
          \"Succeed\", \"Fail\", \"Parallel\", \"Map\", got \"Sleep\""
        ]
    );
}

#[test]
fn unknown_field_names_the_state_type() {
    let err = errors_of(json!({"StartAt": "A", "States": {
        "A": {"Type": "Succeed", "Next": "A"}
    }}));
    assert_eq!(
        err,
        ["/States/A/Next: field \"Next\" is not supported in a Succeed state"]
    );
}

#[test]
fn field_of_the_other_query_language_is_reported() {
    let err = errors_of(
        json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {
            "A": {"Type": "Pass", "InputPath": "$.a", "End": true},
            "B": {"Type": "Pass", "QueryLanguage": "JSONPath", "Output": 1, "End": true}
        }}),
    );
    assert_eq!(
        err,
        [
            "/States/A/InputPath: field \"InputPath\" is only supported in JSONPath states, \
             and this state's QueryLanguage is JSONata",
            "/States/B/Output: field \"Output\" is only supported in JSONata states, and this \
             state's QueryLanguage is JSONPath",
            "/States/B: state \"B\" is not reachable from StartAt",
            // AWS does not let a state downgrade a JSONata machine to JSONPath.
            "/States/B: a state cannot set QueryLanguage JSONPath in a JSONata state machine",
        ]
    );
}

#[test]
fn nested_states_inherit_the_top_level_query_language() {
    let machine = |map_language: &str| {
        json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "QueryLanguage": map_language, "End": true,
                  "ItemProcessor": {"StartAt": "P", "States": {
                      "P": {"Type": "Pass", "Output": 1, "End": true}
                  }}}
        }})
    };
    let expected = [
        "/States/M/ItemProcessor/States/P/Output: field \"Output\" is only \
                     supported in JSONata states, and this state's QueryLanguage is JSONPath",
    ];
    assert_eq!(errors_of(machine("JSONata")), expected);
    assert_eq!(errors_of(machine("JSONPath")), expected);
}

#[test]
fn mutually_exclusive_fields_are_reported() {
    let err = errors_of(json!({"StartAt": "F", "States": {
        "F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}
    }}));
    assert_eq!(
        err,
        ["/States/F/ErrorPath: \"Error\" and \"ErrorPath\" are mutually exclusive"]
    );
}

#[test]
fn wait_state_needs_a_duration() {
    let err = errors_of(json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "End": true}
    }}));
    assert_eq!(
        err,
        [
            "/States/W: a Wait state must have one of \"Seconds\", \"Timestamp\", \
          \"SecondsPath\", \"TimestampPath\""
        ]
    );
}

#[test]
fn wait_timestamp_must_be_iso_8601() {
    let err = errors_of(json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Timestamp": "yesterday", "End": true}
    }}));
    assert_eq!(
        err,
        [
            "/States/W/Timestamp: \"yesterday\" is not an ISO 8601 timestamp (e.g. \
          \"2016-03-14T01:59:00Z\")"
        ]
    );
}

#[test]
fn heartbeat_must_be_shorter_than_timeout() {
    let err = errors_of(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
              "TimeoutSeconds": 10, "HeartbeatSeconds": 10}
    }}));
    assert_eq!(
        err,
        [
            "/States/T/HeartbeatSeconds: \"HeartbeatSeconds\" must be smaller than \
          \"TimeoutSeconds\""
        ]
    );
}

#[test]
fn map_needs_an_item_processor() {
    let err = errors_of(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": true}
    }}));
    assert_eq!(
        err,
        ["/States/M: a Map state must have \"ItemProcessor\" (or the legacy \"Iterator\")"]
    );
}

#[test]
fn distributed_map_needs_an_execution_type() {
    let err = errors_of(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED"},
            "StartAt": "P", "States": {"P": {"Type": "Succeed"}}
        }}
    }}));
    assert_eq!(
        err,
        ["/States/M/ItemProcessor/ProcessorConfig: missing required field \"ExecutionType\""]
    );
}

#[test]
fn state_names_longer_than_80_characters_are_reported() {
    let name = "n".repeat(81);
    let err = errors_of(json!({"StartAt": name, "States": {name.clone(): {"Type": "Succeed"}}}));
    assert_eq!(
        err,
        [format!(
            "/States/{name}: state name \"{name}\" is longer than 80 characters"
        )]
    );
}

#[test]
fn result_path_must_be_a_reference_path_on_the_input() {
    let machine = |result_path: &str| {
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "ResultPath": result_path, "End": true}
        }})
    };
    assert_eq!(errors_of(machine("$.a.b[0]")), Vec::<String>::new());
    assert_eq!(
        errors_of(machine("$$.Execution.Id")),
        [
            "/States/A/ResultPath: invalid ResultPath \"$$.Execution.Id\": it must be a \
          reference path starting with \"$\""
        ]
    );
    assert_eq!(
        errors_of(machine("$.items[*]")),
        [
            "/States/A/ResultPath: invalid ResultPath \"$.items[*]\": it must name one place \
          (names and indexes only)"
        ]
    );
    assert_eq!(errors_of(machine("$.a.['b c'].[0]")), Vec::<String>::new());
}

#[test]
fn reference_path_fields_take_filters_but_not_functions_or_lexical_operators() {
    let wait = |seconds_path: &str| {
        json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "SecondsPath": seconds_path, "End": true}
        }})
    };
    assert_eq!(errors_of(wait("$wait.seconds")), Vec::<String>::new());
    assert_eq!(errors_of(wait("$.a.[0]")), Vec::<String>::new());
    assert_eq!(
        errors_of(wait("$.a.length()")),
        [
            "/States/W/SecondsPath: invalid reference path \"$.a.length()\": functions such as \
          length() are not supported in a reference path"
        ]
    );
    let map = |items_path: &str| {
        json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemsPath": items_path, "End": true,
                  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}
        }})
    };
    // AWS's documentation shows `$.jar[?(@.a >= 5)]` as a reference path.
    assert_eq!(errors_of(map("$.jar[?(@.a >= 5)]")), Vec::<String>::new());
    assert_eq!(
        errors_of(map("$.jar[?(@.t subsetof ['a'])]")),
        [
            "/States/M/ItemsPath: invalid reference path \"$.jar[?(@.t subsetof ['a'])]\": \
          lexical operators such as subsetof are not supported in a reference path"
        ]
    );
    assert_eq!(
        errors_of(map("$.jar[?(@.a =~ /x.*/)]")),
        [
            "/States/M/ItemsPath: invalid reference path \"$.jar[?(@.a =~ /x.*/)]\": filtering \
          by regular expression is not supported in a reference path"
        ]
    );
    assert_eq!(
        errors_of(map("$.jar[?(@.a < $.limit)]")),
        [
            "/States/M/ItemsPath: invalid reference path \"$.jar[?(@.a < $.limit)]\": filtering \
          by referencing another value is not supported in a reference path"
        ]
    );
}

#[test]
fn jayway_path_forms_are_accepted_where_any_path_is() {
    let machine = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": "$..interests[?(@.category==home)]",
              "Parameters": {
                  "last.$": "$.l[(@.length-1)]",
                  "pair.$": "$.l[*]['id','name']",
                  "n.$": "$.l.length()",
                  "words.$": "States.JsonToString($.[?(@.year <= 1998)])",
                  "in.$": "$.l[?(@.id in [1, 2] && @.name =~ /a.*/i)]"
              },
              "OutputPath": "$.[0]",
              "End": true}
    }});
    assert_eq!(errors_of(machine), Vec::<String>::new());
}

#[test]
fn payload_template_values_must_be_paths_or_intrinsic_calls() {
    let err = errors_of(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "End": true, "Parameters": {
            "ok.$": "States.Format('{}', $var.name)",
            "list": [{"bad.$": 3}],
            "sum.$": "States.MathAdd(1, 'one')"
        }}
    }}));
    assert_eq!(
        err,
        [
            "/States/A/Parameters/list/0/bad.$: the value of \"bad.$\" must be a path or an \
             intrinsic function call, got integer",
            "/States/A/Parameters/sum.$: invalid intrinsic function call \"States.MathAdd(1, \
             'one')\": the arguments of States.MathAdd must be numbers, paths or function \
             calls, not 'one'",
        ]
    );
}

#[test]
fn payload_template_keys_must_differ_once_the_suffix_is_stripped() {
    let err = errors_of(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "End": true, "Parameters": {"a.$": "$.a", "a": 1}}
    }}));
    assert_eq!(
        err,
        [
            "/States/A/Parameters/a: field \"a\" conflicts with \"a.$\": both are named \"a\" \
          once \".$\" is stripped"
        ]
    );
}

#[test]
fn resources_must_be_arns() {
    let machine = |resource: &str| {
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": resource, "End": true}
        }})
    };
    for ok in [
        "arn:aws:states:::lambda:invoke",
        "arn:aws:lambda:us-east-1:111111111111:function:f",
        "arn:aws:lambda:us-east-1:111111111111:function:f:$LATEST",
        "arn:aws:lambda:us-east-1:111111111111:function:f:prod",
        "arn:aws:states:us-east-1:12345:activity:hello-world",
        "arn:aws:states:::aws-sdk:s3:listObjectsV2",
    ] {
        assert_eq!(errors_of(machine(ok)), Vec::<String>::new(), "{ok}");
    }
    assert_eq!(
        errors_of(machine("${LambdaArn}")),
        [
            "/States/T/Resource: invalid resource \"${LambdaArn}\": not an ARN \
          (arn:partition:service:region:account:resource)"
        ]
    );
    assert_eq!(
        errors_of(machine("arn:aws:lambda:us-east-1:1:function:f:a:b")),
        [
            "/States/T/Resource: invalid resource \"arn:aws:lambda:us-east-1:1:function:f:a:b\": \
          not a Lambda function ARN (function:name with an optional version or alias)"
        ]
    );
}

#[test]
fn choice_rules_are_checked_in_their_query_language() {
    let err = errors_of(json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Condition": "{% true %}", "Next": "S"}
        ], "Default": "S"},
        "S": {"Type": "Succeed"}
    }}));
    assert_eq!(
        err,
        [
            "/States/C/Choices/0/Condition: field \"Condition\" of a choice rule is only \
          supported in JSONata states, and this state's QueryLanguage is JSONPath"
        ]
    );
}

#[test]
fn jsonata_expressions_need_the_exact_surround() {
    let machine = |output: &str| {
        json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {
            "A": {"Type": "Pass", "Output": {"v": output}, "End": true}
        }})
    };
    assert_eq!(
        errors_of(machine("{% $states.input %}")),
        Vec::<String>::new()
    );
    // Without the surround, at the very start and end, a string is a constant.
    assert_eq!(
        errors_of(machine(" {% states.input %} ")),
        Vec::<String>::new()
    );
    // AWS takes the delimiters without the inner spaces.
    for tight in ["{%1%}", "{%$states.input %}", "{% $states.input%}"] {
        assert_eq!(errors_of(machine(tight)), Vec::<String>::new(), "{tight}");
    }
    assert_eq!(
        errors_of(machine("{% %}")),
        [
            "/States/A/Output/v: malformed JSONata expression \"{% %}\": write it as \
          \"{% <expression> %}\""
        ]
    );
    assert_eq!(
        errors_of(machine("{% 1 +\n 2 %}")),
        [
            "/States/A/Output/v: malformed JSONata expression \"{% 1 +\\n 2 %}\": it must be \
          on one line"
        ]
    );
}

#[test]
fn jsonata_syntax_errors_are_reported_with_position() {
    let err = errors_of(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "QueryLanguage": "JSONata", "End": true,
              "Assign": {"x": "{% $sum([1, 2) %}"}}
    }}));
    assert_eq!(
        err,
        [
            "/States/A/Assign/x: invalid JSONata expression \"{% $sum([1, 2) %}\": expected \
          \"]\", got \")\" (at character 13)"
        ]
    );
}

#[test]
fn jsonata_strings_in_jsonpath_states_are_constants() {
    let err = errors_of(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "End": true, "Assign": {"x": "{% ((( %}"}}
    }}));
    assert_eq!(err, Vec::<String>::new());
}

#[test]
fn jsonata_numeric_fields_take_numbers_or_expressions() {
    let err = errors_of(
        json!({"StartAt": "W", "QueryLanguage": "JSONata", "States": {
            "W": {"Type": "Wait", "Seconds": "ten", "End": true}
        }}),
    );
    assert_eq!(
        err,
        ["/States/W/Seconds: expected a number or a JSONata expression, got \"ten\""]
    );
}

#[test]
fn deeply_nested_values_are_refused_without_overflowing() {
    let mut deep = json!(1);
    for _ in 0..(MAX_NESTING + 10) {
        deep = json!([deep]);
    }
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": deep, "End": true}
    }});
    assert_eq!(
        errors_of(definition),
        ["/: definition is nested more than 1000 levels deep"]
    );
    let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        errors(&text),
        ["/: invalid JSON: Document nesting depth (1001) exceeds the maximum allowed (1000, from `StreamReadConstraints.getMaxNestingDepth()`)"]
    );
}

#[test]
fn validation_never_panics_on_mutated_definitions() {
    let replacements = [
        json!(null),
        json!(true),
        json!(-1.5),
        json!("{% %}"),
        json!("States.Format("),
        json!([]),
        json!({}),
        json!({"Type": "Map"}),
    ];
    let mut checked = 0;
    for verdict in ["valid", "invalid"] {
        for path in json_files(&format!("{VALIDATION_DIR}/{verdict}")) {
            let text = std::fs::read_to_string(&path).expect("readable test file");
            let Ok(original) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let mut pointers = Vec::new();
            collect_pointers(&original, String::new(), &mut pointers);
            for pointer in &pointers {
                for replacement in &replacements {
                    let mut mutated = original.clone();
                    if let Some(slot) = mutated.pointer_mut(pointer) {
                        *slot = replacement.clone();
                    }
                    let _ = validate(&mutated);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000);
}

fn collect_pointers(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                collect_pointers(child, join(&pointer, key), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_pointers(child, join(&pointer, i), out);
            }
        }
        _ => {}
    }
    out.push(pointer);
}

/// Verdicts of the reference parser (jsonata 2.0.6) on these expressions.
#[test]
fn jsonata_checker_agrees_with_the_reference_parser() {
    let valid = [
        "$states.input.a[0].b",
        "$sum($states.input.numbers) + 1",
        "$exists($x) ? $x : {}",
        "($a := 1; $b := 2; $a + $b)",
        "$map([1..3], function($v, $i) { $v * $i })",
        "function($x)<n:n>{$x}",
        "λ($x){$x}",
        "$match($s, /^a[b-c]+$/i)",
        "a.b{'k': c}",
        "a^(>b, <c)",
        "Account.Order@$o#$i.Product",
        "| $ | {'a': 1}, ['b'] |",
        "$f(?, 2)",
        "`field name`.x",
        "/* comment */ 1",
        "a.%.b",
        "$x in [1, 2] and not or in",
        "[]",
        "()",
        "a[]",
        "-1",
    ];
    for expr in valid {
        assert_eq!(
            crate::asl::jsonata::syntax::check(expr).map_err(|e| e.code),
            Ok(()),
            "{expr}"
        );
    }
    let invalid = [
        ("", "S0207"),
        ("1 +", "S0207"),
        ("$sum(1", "S0203"),
        ("a[1, 2)", "S0202"),
        ("'open", "S0101"),
        ("1e999", "S0102"),
        ("\"\\q\"", "S0103"),
        ("`name", "S0105"),
        ("/* open", "S0106"),
        ("1 2", "S0201"),
        ("!", "S0204"),
        ("function(a){1}", "S0208"),
        ("a{'x':1}{'y':2}", "S0210"),
        ("$.store.book[?(@.price < 10)]", "S0211"),
        ("a := 1", "S0212"),
        ("a.1", "S0213"),
        ("a@b", "S0214"),
        ("a[0]@$x", "S0215"),
        ("a^(b)@$x", "S0216"),
        ("%", "S0217"),
        ("$match(x, //)", "S0301"),
        ("$match(x, /ab)", "S0302"),
        ("$x ?? 1", "S0211"),
    ];
    for (expr, code) in invalid {
        assert_eq!(
            crate::asl::jsonata::syntax::check(expr).map_err(|e| e.code),
            Err(code),
            "{expr}"
        );
    }
}

#[test]
fn jsonata_checker_limits_nesting() {
    let deep = format!("{}1{}", "$f(".repeat(1000), ")".repeat(1000));
    let err = crate::asl::jsonata::syntax::check(&deep)
        .map(|()| "")
        .map_err(|e| e.message);
    assert_eq!(
        err,
        Err("expression is nested more than 64 levels deep".to_string())
    );
}

#[test]
fn definitions_in_the_style_of_the_aws_guide_are_accepted() {
    let definitions = [
        json!({"Comment": "distributed map", "Version": "1.0", "TimeoutSeconds": 3600,
            "StartAt": "Map", "States": {"Map": {
            "Type": "Map", "Label": "Map", "MaxConcurrency": 1000,
            "ToleratedFailurePercentage": 5, "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                "Parameters": {"Bucket": "b", "Key.$": "$.key"}},
            "ItemBatcher": {"MaxItemsPerBatch": 10, "BatchInput": {"run.$": "$$.Execution.Id"}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": "b", "Prefix": "out"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Invoke", "States": {"Invoke": {
                    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "OutputPath": "$.Payload",
                    "Parameters": {"Payload.$": "$",
                        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"},
                    "Retry": [{"ErrorEquals": ["Lambda.ServiceException",
                        "Lambda.TooManyRequestsException"], "IntervalSeconds": 2,
                        "MaxAttempts": 6, "BackoffRate": 2, "MaxDelaySeconds": 30,
                        "JitterStrategy": "FULL"}],
                    "End": true}}}}}}),
        json!({"StartAt": "Wait for callback", "States": {
            "Wait for callback": {"Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q",
                    "MessageBody": {"token.$": "$$.Task.Token", "input.$": "$"}},
                "Credentials": {"RoleArn.$": "$.roleArn"},
                "TimeoutSecondsPath": "$.timeout", "HeartbeatSecondsPath": "$.heartbeat",
                "ResultSelector": {"status.$": "$.Status"}, "ResultPath": "$.callback",
                "Assign": {"attempt.$": "States.MathAdd($attempt, 1)", "fixed": 1},
                "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": null,
                    "Next": "Check"},
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                    "Next": "Failed"}],
                "Next": "Check"},
            "Check": {"Type": "Choice", "Default": "Failed",
                "Choices": [
                    {"And": [{"Variable": "$.callback.status", "IsPresent": true},
                             {"Variable": "$.callback.status", "StringMatches": "OK*"}],
                     "Next": "Done"},
                    {"Not": {"Variable": "$.when", "TimestampLessThanEqualsPath": "$.deadline"},
                     "Assign": {"late": true}, "Next": "Later"}]},
            "Later": {"Type": "Wait", "TimestampPath": "$.deadline", "Next": "Parallel"},
            "Parallel": {"Type": "Parallel", "InputPath": null, "OutputPath": null,
                "ResultSelector": {"first.$": "$[0]"}, "ResultPath": "$.branches",
                "Branches": [{"StartAt": "Noop", "States": {"Noop": {"Type": "Pass",
                    "Result": {"a": 1}, "ResultPath": null, "End": true}}}],
                "Next": "Done"},
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "ErrorPath": "States.Format('E{}', $.code)",
                "CausePath": "$.error.Cause"}}}),
        json!({"QueryLanguage": "JSONata", "StartAt": "Get", "States": {
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                "Arguments": {"TableName": "t", "Key": {"pk": {"S": "{% $states.input.id %}"}}},
                "TimeoutSeconds": "{% $states.input.timeout %}", "HeartbeatSeconds": 5,
                "Output": "{% $states.result.Item %}",
                "Assign": {"item": "{% $states.result.Item %}"},
                "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops",
                    "Output": {"error": "{% $states.errorOutput %}"}}],
                "Next": "Decide"},
            "Decide": {"Type": "Choice", "Default": "Each", "Output": "{% $item %}",
                "Choices": [{"Condition": "{% $item.count > 10 %}", "Next": "Oops",
                    "Output": {"big": true}}]},
            "Each": {"Type": "Map", "Items": "{% $item.list %}", "MaxConcurrency": "{% 2 %}",
                "ItemSelector": {"value": "{% $states.context.Map.Item.Value %}"},
                "ItemProcessor": {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait",
                    "Seconds": "{% $states.input.value %}", "End": true}}},
                "Next": "Done"},
            "Done": {"Type": "Succeed", "Output": {"n": "{% $count($item.list) %}"}},
            "Oops": {"Type": "Fail", "Error": "{% 'Too' & 'Big' %}", "Cause": "constant"}}}),
    ];
    for definition in definitions {
        assert_eq!(errors_of(definition), Vec::<String>::new());
    }
}

fn aws_texts(definition: Value) -> Vec<String> {
    validate(&definition)
        .iter()
        .map(Diagnostic::aws_text)
        .collect()
}

#[test]
fn diagnostics_are_worded_and_located_as_aws_recorded_them() {
    assert_eq!(
        aws_texts(json!({"StartAt": "Query", "States": {
            "Query": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:query", "End": true}
        }})),
        ["SCHEMA_VALIDATION_FAILED: The resource provided arn:aws:states:::dynamodb:query is not \
          recognized. The value is not a valid resource ARN, or the resource is not available in \
          this region. at /States/Query/Resource"]
    );
    assert_eq!(
        aws_texts(json!({"StartAt": "IntrinsicEscape", "States": {
            "IntrinsicEscape": {"Type": "Pass", "End": true,
                                "Parameters": {"parsed.$": "States.StringToJson('x'"}}
        }})),
        ["SCHEMA_VALIDATION_FAILED: The value for the field 'parsed.$' must be a valid JSONPath \
          or a valid intrinsic function call at /States/IntrinsicEscape/Parameters"]
    );
    assert_eq!(
        aws_texts(json!({"StartAt": "WaitUntil", "States": {
            "WaitUntil": {"Type": "Wait", "Timestamp": "2016-13-05T21:29:29Z", "End": true}
        }})),
        ["SCHEMA_VALIDATION_FAILED: String does not match RFC3339 timestamp at /States/WaitUntil/Timestamp"]
    );
    assert_eq!(
        aws_texts(json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "InputPath": "$.a b", "ResultPath": "$.a[*]", "End": true}
        }})),
        [
            "SCHEMA_VALIDATION_FAILED: The value for the field 'InputPath' must be a valid JSONPath at /States/P/InputPath",
            "SCHEMA_VALIDATION_FAILED: The value for the field 'ResultPath' must be a valid ReferencePath at /States/P/ResultPath"
        ]
    );
}

#[test]
fn a_result_writer_config_takes_aws_values_only() {
    let with_writer = |writer: Value| {
        json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "End": true,
            "ResultWriter": writer,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}})
    };
    for config in [
        json!({"Transformation": "NONE", "OutputType": "JSON"}),
        json!({"Transformation": "COMPACT", "OutputType": "JSONL"}),
        json!({"Transformation": "FLATTEN"}),
    ] {
        let alone = with_writer(json!({"WriterConfig": config}));
        assert_eq!(errors_of(alone), Vec::<String>::new());
        let exported = with_writer(json!({"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "b", "Prefix": "p"}, "WriterConfig": config}));
        assert_eq!(errors_of(exported), Vec::<String>::new());
    }
    assert_eq!(
        aws_texts(with_writer(json!({"WriterConfig": {"OutputType": "CSV"}}))),
        [
            "SCHEMA_VALIDATION_FAILED: The field 'OutputType' should have one of these values: \
          [JSON, JSONL] at /States/Fan/ResultWriter/WriterConfig/OutputType"
        ]
    );
    assert_eq!(
        aws_texts(with_writer(json!({"WriterConfig": {"Transformation": "flatten"}}))),
        ["SCHEMA_VALIDATION_FAILED: The field 'Transformation' should have one of these values: \
          [NONE, COMPACT, FLATTEN] at /States/Fan/ResultWriter/WriterConfig/Transformation"]
    );
    assert_eq!(
        aws_texts(with_writer(json!({}))),
        ["SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/Fan/ResultWriter"]
    );
}
