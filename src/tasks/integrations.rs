//! The real integrations behind one [`TaskInvoker`]: the HTTP Task
//! (`arn:aws:states:::http:invoke`), DynamoDB (`arn:aws:states:::dynamodb:*`), Lambda (a
//! function ARN, `arn:aws:states:::lambda:invoke`), and the AWS services
//! (`arn:aws:states:::aws-sdk:*`, `sqs:sendMessage`, `sns:publish`, `events:putEvents`). Other
//! resources go to [`NoIntegrations`] (callbacks and activities wait for their answer; the
//! rest fail naming their resource). Mocks (a MockConfigFile) wrap this invoker and win for
//! the states they name.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::asl::resource::Pattern;
use crate::engine::task::TaskRequest;
use crate::tasks::aws::AwsTasks;
use crate::tasks::dynamodb::DynamoDbTasks;
use crate::tasks::http::{Connections, HttpTasks};
use crate::tasks::lambda::LambdaTasks;
use crate::tasks::{Invocation, NoIntegrations, TaskInvoker};

/// HTTP, DynamoDB, Lambda and AWS service tasks.
#[derive(Clone)]
pub struct Integrations {
    http: HttpTasks,
    /// Built on first use, from the standard AWS settings.
    dynamodb: Arc<OnceCell<DynamoDbTasks>>,
    /// Built on first use, from the standard AWS settings.
    lambda: Arc<OnceCell<LambdaTasks>>,
    /// The AWS SDK and optimized service tasks (their client built on first use).
    aws: AwsTasks,
}

impl Integrations {
    /// Integrations with the HTTP connections `connections`.
    pub fn new(connections: Connections) -> Self {
        Integrations {
            http: HttpTasks::new(connections),
            dynamodb: Arc::new(OnceCell::new()),
            lambda: Arc::new(OnceCell::new()),
            aws: AwsTasks::new(),
        }
    }

    /// The connections file named by `STEPFN_CONNECTIONS` (or none).
    ///
    /// # Errors
    /// The file's problem, naming it and the JSON Pointer.
    pub fn from_env() -> Result<Self, String> {
        Self::with_connections_file(std::env::var_os("STEPFN_CONNECTIONS").map(Into::into))
    }

    /// Integrations whose HTTP connections come from `path` (none: no connections).
    ///
    /// # Errors
    /// The file's problem, naming it and the JSON Pointer.
    pub fn with_connections_file(path: Option<std::path::PathBuf>) -> Result<Self, String> {
        let connections = match path {
            Some(p) if !p.as_os_str().is_empty() => {
                Connections::from_file(&p).map_err(|e| e.to_string())?
            }
            _ => Connections::default(),
        };
        Ok(Integrations::new(connections))
    }
}

impl TaskInvoker for Integrations {
    fn invoke(&self, request: &TaskRequest) -> Invocation {
        if request.resource.integration() == Some(("http", "invoke", Pattern::RequestResponse)) {
            let timeout = request.timeout_seconds.map(Duration::from_secs);
            return Invocation::Pending(self.http.invoke(
                request.input.clone(),
                request.idempotency_key(),
                timeout,
            ));
        }
        if DynamoDbTasks::handles(&request.resource) {
            let cell = Arc::clone(&self.dynamodb);
            let resource = request.resource.clone();
            let params = request.input.clone();
            return Invocation::Pending(Box::pin(async move {
                let tasks = cell.get_or_init(DynamoDbTasks::from_env).await;
                tasks.invoke(&resource, params).await
            }));
        }
        if request.resource.integration() == Some(("lambda", "invoke", Pattern::WaitForTaskToken)) {
            let cell = Arc::clone(&self.lambda);
            let request = request.clone();
            return Invocation::Submitted(Box::pin(async move {
                let tasks = cell.get_or_init(LambdaTasks::from_env).await;
                tasks.invoke(&request).await
            }));
        }
        if LambdaTasks::handles(&request.resource) {
            let cell = Arc::clone(&self.lambda);
            let request = request.clone();
            return Invocation::Pending(Box::pin(async move {
                let tasks = cell.get_or_init(LambdaTasks::from_env).await;
                tasks.invoke(&request).await
            }));
        }
        if AwsTasks::handles(&request.resource) {
            return self.aws.invoke(request);
        }
        NoIntegrations.invoke(request)
    }
}
