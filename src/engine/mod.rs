//! The core: an execution's state, the deterministic `step` function, history events, retry
//! backoff and the task seam. No I/O, no clock, no OS randomness: time and seeds come in events.

mod context;
pub mod execution;
pub mod history;
pub mod limits;
pub mod probe;
mod redrive;
pub mod retry;
mod rng;
mod states;
pub mod step;
pub mod task;
#[cfg(test)]
mod tests;

pub use execution::{Execution, ExecutionInfo, Status};
pub use probe::Probe;
pub use step::Event;
