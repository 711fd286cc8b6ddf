//! AWS's quota on an execution's history (25,000 events), and the bound on the events one
//! step writes.

use crate::asl::error::StatesError;
use crate::engine::execution::{FrameId, Status};
use crate::engine::step::{Command, Stepper};

/// AWS's quota on a standard execution's history: 25,000 events. Event 25,000 is the
/// execution's last; unless it is ExecutionSucceeded or ExecutionFailed, the execution fails with
/// [`history_limit_error`] (`States.Runtime`) as that event. Express executions have no such
/// quota (their five-minute limit bounds them).
pub const HISTORY_LIMIT: u64 = 25_000;

/// Events one step writes at most before a frame about to enter its next state yields (it
/// runs on at the [`Command::Run`] the step returns): a loop of pure states is then a run of
/// short steps, so a durable driver checkpoints it as it goes (its memory bounded by what it
/// has not committed) and a driver can do other work between them.
pub const MAX_EVENTS_PER_STEP: u64 = 1000;

/// AWS's quota on an express execution's duration: five minutes. One that runs longer times
/// out as a machine `TimeoutSeconds` of 300 would time it out.
pub const EXPRESS_MAX_SECONDS: u64 = 300;

/// The error an execution fails with when its history reaches `limit` events, as AWS words
/// it.
pub fn history_limit_error(limit: u64) -> StatesError {
    StatesError::runtime(format!(
        "The execution reached the maximum number of history events ({limit})."
    ))
}

/// Whether an event of this type may be the history's last. AWS: "If the event number
/// 25,000 is ExecutionSucceeded, the execution finishes successfully. If the event number
/// 25,000 isn't ExecutionSucceeded, the ExecutionFailed event is logged" (an ExecutionFailed
/// of the execution's own keeps its error).
fn may_be_last(event_type: &str) -> bool {
    matches!(event_type, "ExecutionSucceeded" | "ExecutionFailed")
}

impl Stepper<'_> {
    /// Whether an event of type `event_type` may be written now. Not once the execution has
    /// ended (within this step: nothing follows its last event); and the event that would be
    /// the history's last, unless it is ExecutionSucceeded or ExecutionFailed, is an
    /// ExecutionFailed instead, as on AWS: the execution fails here.
    pub(crate) fn history_has_room(&mut self, event_type: &str, time: i64) -> bool {
        if self.status != Status::Running {
            return false;
        }
        if self.last_event_id.saturating_add(1) >= self.history_limit && !may_be_last(event_type) {
            let err = history_limit_error(self.history_limit);
            self.finish(Status::Failed, None, Some(err), time);
            return false;
        }
        true
    }

    /// Whether frame `id`, about to enter its next state, yields because this step has
    /// written [`MAX_EVENTS_PER_STEP`] events: it then runs on at the `Run` command returned.
    pub(crate) fn yields(&mut self, id: FrameId) -> bool {
        if self.last_event_id.saturating_sub(self.first_event) < MAX_EVENTS_PER_STEP {
            return false;
        }
        self.out.commands.push(Command::Run(id));
        true
    }
}
