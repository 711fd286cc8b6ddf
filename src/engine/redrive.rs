//! A redrive (RedriveExecution): a closed execution runs again from one top-level state.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::engine::execution::Status;
use crate::engine::history::Details;
use crate::engine::step::Stepper;

impl Stepper<'_> {
    /// Reopens the closed execution: `ExecutionRedriven`, then its top-level state `state`
    /// ready to run on `input` with the variables `vars`; what it ended with is gone.
    pub(crate) fn redrive(
        &mut self,
        state: usize,
        input: Value,
        vars: Map<String, Value>,
        time: i64,
    ) {
        if self.status == Status::Running {
            return;
        }
        self.redrive_count += 1;
        self.redrive_time = Some(time);
        self.status = Status::Running;
        self.output = None;
        self.output_text = None;
        self.error = None;
        self.stop_time = None;
        for f in self.frames.iter_mut() {
            *f = None;
        }
        let redrive_count = self.redrive_count;
        self.emit(None, time, "ExecutionRedriven", || {
            Details::ExecutionRedriven { redrive_count }
        });
        let redriven = self.last_event_id;
        let id = self.new_frame(
            None,
            Arc::from(Vec::new()),
            state,
            input,
            None,
            Arc::new(vars),
        );
        self.link_frame(id, redriven);
    }
}
