//! The integration tests, one binary (the conformance runner keeps its own, `harness = false`):
//! the CLI, the API with real clients, durable executions on DynamoDB Local, Task integrations
//! against real peers, the Lambda function under the emulator, nested executions,
//! EventBridge rules that start executions, and schedules fired by `stepfn serve`.

mod activity_rounds;
mod api;
mod auth;
mod cli;
mod console;
mod distributed;
mod durable;
mod events;
mod integrations;
mod lambda;
mod map_durable;
mod map_errors;
mod memory_bounds;
mod metrics;
mod nested;
mod property;
mod readers;
mod redos;
mod robustness;
mod schedules;
mod schedules_api;
mod schedules_serve;
mod serve_hygiene;
mod services;
mod support;
