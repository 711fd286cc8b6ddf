//! An expression and an input document → evaluation, as a state evaluates its fields: a
//! JSONPath (read, and written as a `ResultPath`), an intrinsic function call, or a JSONata
//! expression. Ok or a States error are answers; a panic, a stack overflow or a hang is a
//! finding.
//!
//! Input: the first line is `KIND EXPRESSION` (KIND is `path`, `set`, `intrinsic` or
//! `jsonata`), the rest is the JSON input document. An object input also gives the variables
//! (`$name`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Map, Value};
use stepfn::asl::intrinsics::Intrinsic;
use stepfn::asl::jsonata::{self, Moment};
use stepfn::asl::path::{Path, Scope};

/// The stack of a tokio worker thread, where executions evaluate their states.
const STACK_BYTES: usize = 2 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    keep_last_input(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (head, rest) = text.split_once('\n').unwrap_or((text, ""));
    let Some((kind, expr)) = head.split_once(' ') else {
        return;
    };
    let Ok(input) = serde_json::from_str::<Value>(rest) else {
        return;
    };
    let (kind, expr) = (kind.to_string(), expr.to_string());
    std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(move || evaluate(&kind, &expr, input))
        .expect("a thread for the input")
        .join()
        .expect("evaluation does not panic");
});

fn evaluate(kind: &str, expr: &str, input: Value) {
    let context = json!({
        "Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:m:e", "Input": input.clone(),
                      "Name": "e", "StartTime": "2024-01-01T00:00:00.000Z"},
        "State": {"Name": "S", "EnteredTime": "2024-01-01T00:00:00.000Z"},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:m", "Name": "m"},
    });
    let vars: Map<String, Value> = match &input {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let scope = Scope::new(&input, &context).with_vars(&vars);
    match kind {
        "path" => {
            if let Ok(path) = Path::parse(expr) {
                let _ = path.eval(&scope);
                let _ = path.lookup(&scope);
            }
        }
        "set" => {
            if let Ok(path) = Path::parse(expr) {
                let _ = path.set(input.clone(), json!({"result": [1, "two"]}));
            }
        }
        "intrinsic" => {
            if let Ok(call) = Intrinsic::parse(expr) {
                let _ = call.eval(&scope, &mut StdRng::seed_from_u64(0));
            }
        }
        "jsonata" => {
            let states = json!({"input": input, "context": context});
            let _ = jsonata::eval(expr, &states, &vars, &Moment::new(1_700_000_000_000, 7));
        }
        _ => {}
    }
}

/// With `STEPFN_FUZZ_LAST_INPUT=<file>`, each input is written there before it runs: a stack
/// overflow on the thread it runs on kills the process before libFuzzer can save it (its
/// signal handler has no stack left), and this file is then the reproducer.
fn keep_last_input(data: &[u8]) {
    if let Some(path) = std::env::var_os("STEPFN_FUZZ_LAST_INPUT") {
        let _ = std::fs::write(path, data);
    }
}
