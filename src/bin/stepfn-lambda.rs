//! `stepfn-lambda`: stepfn as an AWS Lambda function (`provided.al2023`), on the DynamoDB table
//! named by `STEPFN_TABLE`. Events and settings: see `stepfn::lambda`.

use std::sync::Arc;
use std::time::Instant;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Error> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(stepfn::asl::nesting::THREAD_STACK_BYTES)
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), Error> {
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
    let function = Arc::new(stepfn::lambda::Function::from_env().await?);
    let first = Arc::new(std::sync::Once::new());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = Arc::clone(&function);
        let first = Arc::clone(&first);
        async move {
            let deadline = i64::try_from(event.context.deadline).ok();
            let answer = function.handle(event.payload, deadline).await;
            first.call_once(|| {
                tracing::info!(
                    cold_start_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "first event handled"
                )
            });
            answer.map_err(Error::from)
        }
    }))
    .await
}
