//! API requests → the dispatch every HTTP request of `stepfn serve` ends in
//! (`Service::call`), on a fresh memory store, without a socket. Error answers are answers; a
//! panic (anywhere, including tasks the call spawns), a stack overflow or a hang is a finding.
//!
//! Input: one request per line, `OperationName BODY` (BODY as the HTTP body would carry it),
//! at most [`MAX_CALLS`] of them, run in order on the same service so later calls see what
//! earlier ones created (the ARNs are predictable: `arn:aws:states:us-east-1:111111111111:...`).
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use stepfn::api::Service;
use stepfn::store::memory::MemoryStore;
use stepfn::store::AnyStore;

/// Requests run per input.
const MAX_CALLS: usize = 8;

/// How long one call may take before the next runs. Calls that wait by design
/// (`GetActivityTask`'s long poll, a `StartSyncExecution` with a `Wait`) are cut off here.
const CALL_LIMIT: Duration = Duration::from_millis(300);

fuzz_target!(|data: &[u8]| {
    keep_last_input(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let calls: Vec<(&str, &str)> = text
        .lines()
        .take(MAX_CALLS)
        .map(|line| line.split_once(' ').unwrap_or((line, "")))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let service = Service::with_mocks(AnyStore::Memory(MemoryStore::new()), None);
        for (operation, body) in calls {
            // As the HTTP layer parses a body: blank is `{}`, anything else must be JSON.
            let request = if body.trim().is_empty() {
                json!({})
            } else {
                match serde_json::from_str::<Value>(body) {
                    Ok(request) => request,
                    Err(_) => continue,
                }
            };
            let _ = tokio::time::timeout(CALL_LIMIT, service.call(operation, request)).await;
        }
    });
});

/// With `STEPFN_FUZZ_LAST_INPUT=<file>`, each input is written there before it runs: a stack
/// overflow on the thread it runs on kills the process before libFuzzer can save it (its
/// signal handler has no stack left), and this file is then the reproducer.
fn keep_last_input(data: &[u8]) {
    if let Some(path) = std::env::var_os("STEPFN_FUZZ_LAST_INPUT") {
        let _ = std::fs::write(path, data);
    }
}
