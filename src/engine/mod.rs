//! The engine: the deterministic `step` function, execution state, history, retry backoff,
//! and the in-memory driver that carries out commands.

pub mod durable;
pub mod history;
pub mod retry;
pub mod runner;
pub mod state;
mod states;
pub mod step;

pub use state::{Execution, ExecutionInfo, Status};
pub use step::Event;
