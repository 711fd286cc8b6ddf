//! AWS's quotas on a definition: its size, and the largest wait, timeout and heartbeat.
//!
//! The time maxima live in the JSON Schema (each field's `maximum`); this module names them and
//! says which fields AWS words its "Maximum value is 99999999" for. The size is checked on the
//! text before it is parsed.

use crate::asl::diagnostic::Diagnostic;

/// AWS's largest wait, timeout and heartbeat, in seconds (the schema holds it as each field's
/// `maximum`): the Wait state's `Seconds`, a Task's `TimeoutSeconds` and `HeartbeatSeconds`, and
/// the state machine's `TimeoutSeconds`.
pub const MAX_SECONDS: u64 = 99_999_999;

/// The fields [`MAX_SECONDS`] caps.
pub(super) const TIME_FIELDS: [&str; 3] = ["Seconds", "TimeoutSeconds", "HeartbeatSeconds"];

/// AWS's largest definition, in characters: the `Definition` shape of the Step Functions API
/// has `max: 1048576` ("Maximum size of a state machine definition: 1 MB", a hard quota).
pub const MAX_DEFINITION_CHARS: usize = 1_048_576;

/// A diagnostic for a definition longer than [`MAX_DEFINITION_CHARS`] characters, else none.
pub fn definition_too_large(text: &str) -> Option<Diagnostic> {
    // A byte count bounds the character count from above: most texts need no counting.
    if text.len() <= MAX_DEFINITION_CHARS {
        return None;
    }
    let chars = text.chars().count();
    (chars > MAX_DEFINITION_CHARS).then(|| {
        Diagnostic::new(
            "",
            format!(
                "definition is {chars} characters long, more than the {MAX_DEFINITION_CHARS} Step Functions allows"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::{validate, validate_text};
    use super::*;

    fn aws_texts(definition: &Value) -> Vec<String> {
        validate(definition)
            .iter()
            .map(Diagnostic::aws_text)
            .collect()
    }

    fn wait(seconds: Value) -> Value {
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": true}}})
    }

    fn task(field: &str, value: Value) -> Value {
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": "f"}, "QueryLanguage": "JSONata",
            field: value, "End": true}}})
    }

    #[test]
    fn wait_seconds_over_the_maximum_is_refused_as_aws_words_it() {
        assert!(validate(&wait(json!(MAX_SECONDS))).is_empty());
        let diags = validate(&wait(json!(MAX_SECONDS + 1)));
        assert_eq!(
            diags.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["/States/W/Seconds: must be at most 99999999"]
        );
        assert_eq!(
            aws_texts(&wait(json!(i64::MAX))),
            ["SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/W/Seconds"]
        );
    }

    #[test]
    fn task_timeout_and_heartbeat_over_the_maximum_are_refused() {
        for field in ["TimeoutSeconds", "HeartbeatSeconds"] {
            assert!(
                validate(&task(field, json!(MAX_SECONDS))).is_empty(),
                "{field}"
            );
            assert_eq!(
                aws_texts(&task(field, json!(9_223_372_036_854_775_000u64))),
                [format!(
                    "SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/T/{field}"
                )]
            );
        }
        // A JSONata expression is evaluated at run time, not capped here.
        assert!(validate(&task("TimeoutSeconds", json!("{% 5 %}"))).is_empty());
    }

    #[test]
    fn machine_timeout_over_the_maximum_is_refused() {
        let mut machine = wait(json!(1));
        machine["TimeoutSeconds"] = json!(100_000_000);
        assert_eq!(
            aws_texts(&machine),
            ["SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /TimeoutSeconds"]
        );
    }

    #[test]
    fn definition_over_the_size_limit_is_refused_before_parsing() {
        let pad = |n: usize| {
            let head = r#"{"Comment":""#;
            let tail = r#"","StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
            format!("{head}{}{tail}", "x".repeat(n - head.len() - tail.len()))
        };
        assert!(validate_text(&pad(MAX_DEFINITION_CHARS)).is_ok());
        let diags = validate_text(&pad(MAX_DEFINITION_CHARS + 1)).unwrap_err();
        assert_eq!(
            diags.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["/: definition is 1048577 characters long, more than the 1048576 Step Functions allows"]
        );
        // Characters, not bytes: 600,000 two-byte characters are within the limit.
        let wide = format!(
            r#"{{"Comment":"{}","StartAt":"P","States":{{"P":{{"Type":"Pass","End":true}}}}}}"#,
            "é".repeat(600_000)
        );
        assert!(wide.len() > MAX_DEFINITION_CHARS);
        assert!(definition_too_large(&wide).is_none());
    }
}
