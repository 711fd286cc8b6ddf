//! The Lambda function of the stepfn tests. By the event's `action`:
//! - `"fail"`: throws `OrderRejected`;
//! - `"flaky"`: throws `Flaky` on the first call for the event's `key`, answers after;
//! - anything else: answers `{"echo": <event>, "calls": <calls so far for the key>}`.

use std::collections::HashMap;
use std::sync::Mutex;

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::{json, Value};

static CALLS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

fn count(key: &str) -> u64 {
    let mut calls = CALLS.lock().unwrap_or_else(|e| e.into_inner());
    let n = calls
        .get_or_insert_with(HashMap::new)
        .entry(key.to_string())
        .or_insert(0);
    *n += 1;
    *n
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let payload = event.payload;
    let key = payload
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let calls = count(&key);
    match payload.get("action").and_then(Value::as_str) {
        Some("fail") => Err(Diagnostic {
            error_type: "OrderRejected".into(),
            error_message: "the order cannot be accepted".into(),
        }),
        Some("flaky") if calls == 1 => Err(Diagnostic {
            error_type: "Flaky".into(),
            error_message: "first call fails".into(),
        }),
        _ => Ok(json!({"echo": payload, "calls": calls})),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
