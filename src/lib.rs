//! stepfn runs state machines written in the Amazon States Language (ASL).
//!
//! Module map, lowest layer first (a layer imports only layers above it in this list;
//! `infra/layers.sh` checks it in CI):
//! - [`asl`] (LANGUAGE): the definition model, loading ([`asl::load`]), validation, paths,
//!   payload templates, intrinsic functions, JSONata, Choice rules, `Resource` ARNs parsed once
//!   ([`asl::resource`]). Pure and sync; imports nothing else of the crate.
//! - [`engine`] (CORE): [`engine::step::step`]`(&mut Execution, Event) -> Transition`, one file per
//!   state type, typed history events, retry backoff, and the task seam ([`engine::task`]).
//!   Pure, sync, deterministic: time and seeds come in events. Imports `asl` only.
//! - [`store`] (PERSISTENCE): the `Store` trait, memory and DynamoDB backends, `AnyStore`.
//!   Imports engine data types only.
//! - [`tasks`] (INTEGRATIONS): `TaskInvoker` and its leaves: mocks, Lambda, HTTP, DynamoDB, the
//!   AWS SDK config. Imports `engine::task` and `asl`.
//! - [`runtime`] (SHELL): the only layer that spawns, sleeps, reads the clock or holds leases:
//!   the in-memory driver, durable executions and the worker loop, the one invoker stack,
//!   nested executions, ARNs, the CLI's commands and DescribeExecution's shape.
//! - [`api`]: the Step Functions API: operations parsed once, one file per group, the HTTP server
//!   and `stepfn serve` ([`api::serve`]). Never names the engine's `Frame` or `Phase`.
//! - [`lambda`]: the Lambda function's events (`src/bin/stepfn-lambda.rs` is its entry point);
//!   `src/bin/stepfn/` is the CLI.
//!
//! Glossary: a *state machine* is a checked definition; an *execution* runs it on one input; a
//! *frame* is one thread of control inside an execution (the top level, a Parallel branch, or a
//! Map iteration); an *event* is something that happens to an execution (it starts, a task
//! answers, a timer fires); a *transition* is what one event did: the *history events* it
//! wrote (records of what happened, as Step Functions writes them) and the *commands* it asks
//! the driver to carry out (run a frame, invoke a task, arm a timer); a *snapshot* is the durable
//! state of an execution between events; a *commit* stores a step's history events and snapshot
//! under the execution's *lease*.

pub mod api;
pub mod asl;
pub mod console;
pub mod engine;
pub mod lambda;
pub mod runtime;
pub mod scheduler;
pub mod store;
pub mod tasks;
