//! The context object (`$$`) a state sees.

use serde_json::{json, Map, Value};

use crate::asl::timestamp::iso_time;
use crate::engine::execution::Frame;
use crate::engine::step::Stepper;

impl Stepper<'_> {
    /// The context object for the frame's current state.
    pub(crate) fn context(&self, frame: &Frame, name: &str, with_retry: bool) -> Value {
        if let Some(context) = self.probe.as_ref().and_then(|p| p.context.as_ref()) {
            return context.clone();
        }
        let needs = self.machine.context_needs;
        let mut ctx = Map::new();
        if needs.execution {
            let mut execution = Map::new();
            execution.insert("Id".into(), Value::String(self.info.arn.clone()));
            // Copying the execution input is only worth it when some path can read it.
            if needs.input {
                execution.insert("Input".into(), self.input.clone());
            }
            execution.insert(
                "StartTime".into(),
                Value::String(iso_time(self.info.start_time)),
            );
            execution.insert("Name".into(), Value::String(self.info.name.clone()));
            execution.insert("RoleArn".into(), Value::String(self.info.role_arn.clone()));
            execution.insert("RedriveCount".into(), Value::from(self.redrive_count));
            if let Some(t) = self.redrive_time {
                execution.insert("RedriveTime".into(), Value::String(iso_time(t)));
            }
            ctx.insert("Execution".into(), Value::Object(execution));
        }
        if needs.state_machine {
            ctx.insert(
                "StateMachine".into(),
                json!({
                    "Id": self.info.state_machine_arn,
                    "Name": self.info.state_machine_name,
                }),
            );
        }
        if needs.state {
            let mut state = Map::new();
            state.insert(
                "EnteredTime".into(),
                Value::String(iso_time(frame.entered_time)),
            );
            state.insert("Name".into(), Value::String(name.to_string()));
            if with_retry {
                state.insert("RetryCount".into(), Value::from(frame.retry_count));
            }
            ctx.insert("State".into(), Value::Object(state));
        }
        Value::Object(ctx)
    }
}
