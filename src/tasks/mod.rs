//! Task invocation behind one trait, [`TaskInvoker`]; one file per integration.
//!
//! An invoker either answers at once ([`Invocation::Ready`], as mocks do) or hands back a
//! future the driver polls alongside other work ([`Invocation::Pending`]).

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::asl::error::StatesError;
use crate::engine::task::TaskRequest;

pub mod aws;
pub mod dynamodb;
pub mod http;
pub mod integrations;
pub mod items;
pub mod lambda;
pub mod mock;
pub(crate) mod sdk;

/// A task result still to come.
pub type TaskFuture = Pin<Box<dyn Future<Output = Result<Value, StatesError>> + Send>>;

/// A task's request being queued somewhere a worker takes it from (an activity task).
pub type QueueFuture = Pin<Box<dyn Future<Output = Result<(), StatesError>> + Send>>;

/// What runs once a submission is accepted: it gets the submission's answer.
pub type Continuation = Box<dyn FnOnce(Value) -> TaskFuture + Send>;

/// The answer of an invoker.
pub enum Invocation {
    /// The result is known now.
    Ready(Result<Value, StatesError>),
    /// The result comes later.
    Pending(TaskFuture),
    /// The result comes from outside, through a task token (`.waitForTaskToken`): a callback
    /// delivered to the execution's inbox (SendTaskSuccess, SendTaskFailure).
    External,
    /// Like [`Invocation::External`], once this future has sent the integration's request
    /// (`.waitForTaskToken` of Lambda or a nested execution); its answer is recorded as
    /// TaskSubmitted, its failure fails the task.
    Submitted(TaskFuture),
    /// Like [`Invocation::External`], once this future has queued the task for a worker (an
    /// activity task); its failure fails the task, its success is not recorded.
    Queued(QueueFuture),
    /// A `.sync` task: the first future submits the job (its answer is recorded as
    /// TaskSubmitted), the continuation waits for the job's result.
    Staged(TaskFuture, Continuation),
}

/// Runs the work of Task states.
pub trait TaskInvoker: Send + Sync {
    /// Starts the task of `request`.
    fn invoke(&self, request: &TaskRequest) -> Invocation;
}

/// An invoker with no integrations: every task fails with a cause naming its resource.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIntegrations;

impl TaskInvoker for NoIntegrations {
    fn invoke(&self, request: &TaskRequest) -> Invocation {
        if request.resource.takes_task_token() {
            // The integration's own request is not sent; the task waits for its callback
            // (an activity worker's answer comes the same way).
            return Invocation::External;
        }
        Invocation::Ready(Err(StatesError::new(
            crate::asl::error::TASK_FAILED,
            format!(
                "no integration for resource '{}' of state '{}': give a mocked response (--mocks)",
                request.resource, request.state_name
            ),
        )))
    }
}
