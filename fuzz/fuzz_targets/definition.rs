//! Definition text → what `CreateStateMachine` and `ValidateStateMachineDefinition` run on it:
//! the validator (size, JSON syntax, duplicate keys, schema, semantic rules), the loader that
//! builds the runtime model, and the EXPRESS checks. Each must answer Ok or diagnostics: a
//! panic, a stack overflow or a hang is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepfn::asl::load::load;
use stepfn::asl::validate::{express_violations, validate_text};

/// The stack of a tokio worker thread, where the API validates definitions.
const STACK_BYTES: usize = 2 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    keep_last_input(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let text = text.to_string();
    std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(move || {
            if let Ok(value) = validate_text(&text) {
                let _ = express_violations(&value);
                let _ = load(&value);
            }
        })
        .expect("a thread for the input")
        .join()
        .expect("validation does not panic");
});

/// With `STEPFN_FUZZ_LAST_INPUT=<file>`, each input is written there before it runs: a stack
/// overflow on the thread it runs on kills the process before libFuzzer can save it (its
/// signal handler has no stack left), and this file is then the reproducer.
fn keep_last_input(data: &[u8]) {
    if let Some(path) = std::env::var_os("STEPFN_FUZZ_LAST_INPUT") {
        let _ = std::fs::write(path, data);
    }
}
