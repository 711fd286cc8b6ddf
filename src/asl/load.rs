//! Loading a definition: validate it (every problem at once, located by JSON Pointer), then
//! build the typed, checked [`StateMachine`] the engine runs.

use std::sync::Arc;

use serde_json::Value;

use crate::asl::diagnostic::Diagnostic;
use crate::asl::model::StateMachine;
use crate::asl::nesting::{depth_of, with_stack_for};
use crate::asl::validate::validate;

/// Validates and loads a definition.
///
/// # Errors
/// Every problem, located by JSON Pointer.
pub fn load(definition: &Value) -> Result<Arc<StateMachine>, Vec<Diagnostic>> {
    with_stack_for(depth_of(definition), || {
        let diags = validate(definition);
        if !diags.is_empty() {
            return Err(diags);
        }
        StateMachine::from_value(definition).map(Arc::new)
    })
}
