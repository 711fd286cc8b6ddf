//! Careless and hostile inputs: clear errors, no panic reports, nothing crashes.

use crate::durable::{stepfn, write_temp};
use serde_json::json;

#[test]
fn a_jsonata_engine_panic_fails_the_state_quietly() {
    let machine = write_temp(
        "jsonata-panic.asl.json",
        &json!({"StartAt": "P", "QueryLanguage": "JSONata", "States": {
            "P": {"Type": "Pass", "Output": "{% $round() %}", "End": true}}}),
    );
    let out = stepfn()
        .args(["run", &machine.display().to_string()])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("States.QueryEvaluationError")
            && stderr.contains("The JSONata engine does not support this expression"),
        "{stdout}{stderr}"
    );
    assert!(!stderr.contains("panicked"), "a panic report: {stderr}");
}
