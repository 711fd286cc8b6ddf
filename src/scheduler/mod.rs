//! Schedules (the EventBridge Scheduler model stepfn builds toward, issue 17): what a schedule
//! expression means, as slots in time. Pure: no clock, no I/O, nothing else of the crate; the
//! runtime will fire slots and the API will speak the Scheduler protocol on top of it.
//!
//! * [`expression`]: `at(...)`, `rate(...)` and `cron(...)` in a time zone and a window.
//! * [`slot`]: which slots are due (catch-up, flexible window), the execution each starts
//!   (named by the slot) and its input, and the overlap policy.

pub mod expression;
pub mod slot;
