//! stepfn runs state machines written in the Amazon States Language (ASL).
//!
//! Module map:
//! - [`asl`]: the language (model, validation, paths, intrinsics, Choice rules); pure, no I/O.
//! - [`engine`]: the deterministic `step` function, execution state, history, retry, and the
//!   in-memory driver.
//! - [`tasks`]: the `TaskInvoker` seam and its implementations (mocks for now).
//!
//! Glossary: a *state machine* is a checked definition; an *execution* runs it on one input; a
//! *frame* is one thread of control inside an execution (the top level, a Parallel branch, or a
//! Map iteration); a *history event* is one record of what happened, as Step Functions writes it.

pub mod api;
pub mod asl;
pub mod engine;
pub mod lambda;
pub mod runtime;
pub mod store;
pub mod tasks;
