//! Schedules and event triggers (the EventBridge Scheduler and EventBridge rules stepfn builds
//! toward, issue 17): what a schedule expression means, as slots in time, and what an event
//! pattern matches. Pure: no clock, no I/O, nothing else of the crate; the
//! runtime will fire slots and the API will speak the Scheduler protocol on top of it.
//!
//! * [`expression`]: `at(...)`, `rate(...)` and `cron(...)` in a time zone and a window.
//! * [`slot`]: which slots are due (catch-up, flexible window), the execution each starts
//!   (named by the slot) and its input, and the overlap policy.
//! * [`pattern`]: EventBridge event patterns, for rules that start executions on events.
//! * [`record`]: the stored schedule and rule documents the API writes and the runtime reads.

pub mod expression;
pub mod pattern;
pub mod record;
pub mod slot;
