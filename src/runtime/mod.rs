//! The shell around the engine: the only layer that spawns, sleeps, reads the clock or holds
//! leases. It drives executions in memory ([`driver`], [`local`]) or durably on a store
//! ([`durable`], [`worker`]), runs nested executions ([`nested`]) and Distributed Map runs ([`map_run`]), and shapes what the CLI and
//! the API show of them ([`describe`]); [`telemetry`] is what it records for an operator.

pub mod arn;
pub mod clock;
pub mod commands;
pub mod describe;
pub mod driver;
pub mod durable;
#[cfg(test)]
mod effects_tests;
pub mod invokers;
pub mod local;
pub mod logs;
pub mod machines;
pub mod map_run;
pub mod nested;
pub mod redrive;
pub mod schedules;
pub mod signals;
pub mod telemetry;
pub mod test_state;
pub mod worker;
