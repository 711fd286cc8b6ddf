//! What an EXPRESS state machine may not use: `.sync` and `.waitForTaskToken` integrations and
//! activities, each rejected with AWS's message and the Resource's JSON Pointer.

use serde_json::Value;

use crate::asl::resource::{Pattern, Resource};

/// The Task states an EXPRESS machine cannot run, in document order, as (AWS's message, the
/// JSON Pointer of the Resource); empty when it can run them all.
pub fn express_violations(definition: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(definition, "", &mut out);
    out
}

/// The violations as CreateStateMachine words them: `SCHEMA_VALIDATION_FAILED: <message> at
/// <pointer>`, joined by `, `.
pub fn express_violations_text(violations: &[(String, String)]) -> String {
    violations
        .iter()
        .map(|(message, at)| format!("SCHEMA_VALIDATION_FAILED: {message} at {at}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn walk(body: &Value, at: &str, out: &mut Vec<(String, String)>) {
    let Some(states) = body.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let here = format!("{at}/States/{}", pointer_token(name));
        if state.get("Type").and_then(Value::as_str) == Some("Task") {
            if let Some(arn) = state.get("Resource").and_then(Value::as_str) {
                if let Some(message) = violation(&Resource::parse(arn)) {
                    out.push((message.to_string(), format!("{here}/Resource")));
                }
            }
        }
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            for (i, branch) in branches.iter().enumerate() {
                walk(branch, &format!("{here}/Branches/{i}"), out);
            }
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(processor) = state.get(key) {
                walk(processor, &format!("{here}/{key}"), out);
            }
        }
    }
}

/// The message for one Resource, as AWS words it (its `.waitForTaskToken` message has two
/// spaces before `at`).
fn violation(resource: &Resource) -> Option<&'static str> {
    if resource.is_activity() {
        return Some("Express state machine does not support Activity ARN");
    }
    match resource.pattern() {
        Some(Pattern::Sync | Pattern::Sync2) => {
            Some("Express state machine does not support '.sync' service integration")
        }
        Some(Pattern::WaitForTaskToken) => {
            Some("Express state machine does not support '.waitForTaskToken' service integration ")
        }
        _ => None,
    }
}

/// RFC 6901: `~` as `~0`, `/` as `~1`.
fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn express_machines_reject_sync_callbacks_and_activities_with_aws_messages() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync", "Next": "P"},
            "P": {"Type": "Parallel", "Next": "Ok", "Branches": [{"StartAt": "W", "States": {
                "W": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": true}}}]},
            "Ok": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Act"},
            "Act": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:111111111111:activity:a", "End": true}}});
        assert_eq!(
            express_violations_text(&express_violations(&def)),
            [
                "SCHEMA_VALIDATION_FAILED: Express state machine does not support '.sync' service integration at /States/A/Resource",
                "SCHEMA_VALIDATION_FAILED: Express state machine does not support '.waitForTaskToken' service integration  at /States/P/Branches/0/States/W/Resource",
                "SCHEMA_VALIDATION_FAILED: Express state machine does not support Activity ARN at /States/Act/Resource",
            ]
            .join(", ")
        );
    }
}
