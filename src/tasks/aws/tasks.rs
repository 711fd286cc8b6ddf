//! The Task states the AWS service models run: `aws-sdk:<service>:<action>` for every
//! service, and the optimized `sqs:sendMessage`, `sns:publish` and `events:putEvents`, each
//! also as `.waitForTaskToken` (the request is sent, then the task waits for its token).
//!
//! Errors are named as Step Functions names them. AWS SDK tasks: `<Client>.<Exception>` with
//! the SDK for Java's client name (`S3.NoSuchKeyException`, `DynamoDb.DynamoDbException` for
//! a code the model does not list) and the cause `<message> (Service: S3, Status Code: 404,
//! Request ID: ..., Extended Request ID: ...)`. Optimized tasks keep the older SDK's form:
//! `SQS.AmazonSQSException`, `SNS.NotFoundException`, `(Service: AmazonSNS; Status Code: 404;
//! Error Code: NotFound; Request ID: ...; Proxy: null)`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::asl::error::{StatesError, TASK_FAILED};
use crate::asl::resource::{Pattern, Resource};
use crate::asl::services::{self, ServiceModel};
use crate::engine::task::TaskRequest;
use crate::tasks::aws::client::{Answer, AwsClient, CallError, ServiceError, SharedClient};
use crate::tasks::sdk::HttpMetadata;
use crate::tasks::{Invocation, TaskFuture};

/// The optimized integrations this runs: Step Functions' service, the SDK service, the
/// action, the prefix of its error names and the service name in causes.
const OPTIMIZED: &[(&str, &str, &str, &str, &str)] = &[
    ("sqs", "sqs", "sendMessage", "SQS", "AmazonSQS"),
    ("sns", "sns", "publish", "SNS", "AmazonSNS"),
    (
        "events",
        "eventbridge",
        "putEvents",
        "EventBridge",
        "AmazonEventBridge",
    ),
];

/// The AWS service tasks.
#[derive(Clone, Default)]
pub struct AwsTasks {
    client: SharedClient,
}

/// Which integration a resource is.
enum Route {
    Sdk { service: String },
    Optimized { index: usize },
}

fn route(resource: &Resource) -> Option<(Route, &str, Pattern)> {
    let (service, action, pattern) = resource.integration()?;
    if !matches!(
        pattern,
        Pattern::RequestResponse | Pattern::WaitForTaskToken
    ) {
        return None;
    }
    if let Some(sdk) = service.strip_prefix("aws-sdk:") {
        return Some((
            Route::Sdk {
                service: sdk.to_string(),
            },
            action,
            pattern,
        ));
    }
    let index = OPTIMIZED
        .iter()
        .position(|(s, _, a, _, _)| *s == service && *a == action)?;
    Some((Route::Optimized { index }, action, pattern))
}

impl AwsTasks {
    /// Tasks whose client is built on first use from the standard AWS settings.
    pub fn new() -> Self {
        AwsTasks::default()
    }

    /// True for the resources this runs.
    pub fn handles(resource: &Resource) -> bool {
        route(resource).is_some()
    }

    /// Runs the task of `request`.
    pub fn invoke(&self, request: &TaskRequest) -> Invocation {
        let Some((route, action, pattern)) = route(&request.resource) else {
            return Invocation::Ready(Err(StatesError::new(
                TASK_FAILED,
                format!("no AWS integration for resource '{}'", request.resource),
            )));
        };
        let action = action.to_string();
        let cell = Arc::clone(&self.client);
        let params = request.input.clone();
        let timeout = request.timeout_seconds.map(Duration::from_secs);
        let context = Context {
            execution_arn: request.execution_arn.to_string(),
            state_name: request.state_name.to_string(),
        };
        let future: TaskFuture = Box::pin(async move {
            let client = cell.get_or_init(AwsClient::from_env).await;
            match route {
                Route::Sdk { service } => {
                    sdk_call(client, &service, &action, &params, timeout, &context).await
                }
                Route::Optimized { index } => {
                    optimized_call(client, OPTIMIZED[index], params, timeout, &context).await
                }
            }
        });
        match pattern {
            Pattern::WaitForTaskToken => Invocation::Submitted(future),
            _ => Invocation::Pending(future),
        }
    }
}

/// What a call needs of its execution.
pub(crate) struct Context {
    /// The execution's ARN.
    pub(crate) execution_arn: String,
    /// The state that calls.
    pub(crate) state_name: String,
}

fn model_of(service: &str, action: &str) -> Result<Arc<ServiceModel>, StatesError> {
    services::service(service).ok_or_else(|| {
        StatesError::new(
            TASK_FAILED,
            format!("there is no AWS service '{service}' (aws-sdk:{service}:{action})"),
        )
    })
}

/// The operation an action names.
fn operation<'m>(
    model: &'m ServiceModel,
    service: &str,
    action: &str,
) -> Result<&'m crate::asl::services::Operation, StatesError> {
    model.operation_for_action(action).ok_or_else(|| {
        StatesError::new(
            TASK_FAILED,
            format!("the {service} service has no action '{action}'"),
        )
    })
}

/// One `aws-sdk:<service>:<action>` call: its result, or its error as Step Functions names it.
pub(crate) async fn sdk_call(
    client: &AwsClient,
    service: &str,
    action: &str,
    params: &Value,
    timeout: Option<Duration>,
    context: &Context,
) -> Result<Value, StatesError> {
    sdk_answer(client, service, action, params, timeout, context)
        .await
        .map(|answer| answer.value)
}

/// [`sdk_call`], with the whole answer (the raw response body of a binary S3 object).
pub(crate) async fn sdk_answer(
    client: &AwsClient,
    service: &str,
    action: &str,
    params: &Value,
    timeout: Option<Duration>,
    context: &Context,
) -> Result<Answer, StatesError> {
    let model = model_of(service, action)?;
    let op = operation(&model, service, action)?;
    let client_name = model.client_name();
    match client.call(&model, op, params, timeout).await {
        Ok(answer) => Ok(answer),
        Err(CallError::Service(e)) => Err(sdk_error(&model, &client_name, &e)),
        Err(CallError::Params(problem)) => Err(params_error(context, &problem)),
        Err(CallError::Client(cause)) => Err(StatesError::new(
            format!("{client_name}.SdkClientException"),
            cause,
        )),
    }
}

/// An AWS SDK task's error: the exception the operation models, or the service's base
/// exception.
fn sdk_error(model: &ServiceModel, client_name: &str, e: &ServiceError) -> StatesError {
    let exception = match modeled(model, &e.error.code) {
        Some(name) => with_exception_suffix(name),
        None => format!("{client_name}Exception"),
    };
    let mut details = vec![
        format!("Service: {client_name}"),
        format!("Status Code: {}", e.status),
        format!("Request ID: {}", e.request_id.as_deref().unwrap_or("null")),
    ];
    if let Some(extended) = &e.extended_id {
        details.push(format!("Extended Request ID: {extended}"));
    }
    StatesError::new(
        format!("{client_name}.{exception}"),
        format!("{} ({})", e.error.message, details.join(", ")),
    )
}

/// The error shape a wire code names (any of the service's, as the SDK for Java maps codes to
/// exception classes service-wide).
fn modeled<'m>(model: &'m ServiceModel, code: &str) -> Option<&'m str> {
    model.error_shape(code).map(|(name, _)| name)
}

fn with_exception_suffix(name: &str) -> String {
    if name.ends_with("Exception") {
        name.to_string()
    } else {
        format!("{name}Exception")
    }
}

fn params_error(context: &Context, problem: &str) -> StatesError {
    StatesError::new(
        TASK_FAILED,
        format!(
            "the parameters of state '{}' do not fit the API: {problem}",
            context.state_name
        ),
    )
}

async fn optimized_call(
    client: &AwsClient,
    (_, service, action, prefix, cause_service): (&str, &str, &str, &str, &str),
    mut params: Value,
    timeout: Option<Duration>,
    context: &Context,
) -> Result<Value, StatesError> {
    let model = model_of(service, action)?;
    let op = operation(&model, service, action)?;
    prepare(action, &mut params, context);
    let answer = match client.call(&model, op, &params, timeout).await {
        Ok(answer) => answer,
        Err(CallError::Service(e)) => {
            return Err(optimized_error(&model, prefix, cause_service, &e))
        }
        Err(CallError::Params(problem)) => return Err(params_error(context, &problem)),
        Err(CallError::Client(cause)) => {
            return Err(StatesError::new(
                format!("{prefix}.SdkClientException"),
                cause,
            ))
        }
    };
    finish(action, answer)
}

/// Step Functions' own changes to an optimized request: a JSON message body, SNS message or
/// event detail given as JSON is sent as its text; each event's `Resources` gain the state
/// machine's and the execution's ARNs.
fn prepare(action: &str, params: &mut Value, context: &Context) {
    let as_text = |v: &mut Value| {
        if !v.is_string() && !v.is_null() {
            *v = Value::String(v.to_string());
        }
    };
    match action {
        "sendMessage" => {
            if let Some(body) = params.get_mut("MessageBody") {
                as_text(body);
            }
        }
        "publish" => {
            if let Some(message) = params.get_mut("Message") {
                as_text(message);
            }
        }
        "putEvents" => {
            let machine = machine_arn(&context.execution_arn);
            if let Some(Value::Array(entries)) = params.get_mut("Entries") {
                for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(detail) = entry.get_mut("Detail") {
                        if detail.is_object() {
                            as_text(detail);
                        }
                    }
                    let resources = entry
                        .entry("Resources")
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = resources {
                        list.push(Value::String(machine.clone()));
                        list.push(Value::String(context.execution_arn.clone()));
                    }
                }
            }
        }
        _ => {}
    }
}

/// The state machine an execution ARN belongs to.
fn machine_arn(execution_arn: &str) -> String {
    let parts: Vec<&str> = execution_arn.split(':').collect();
    match parts.as_slice() {
        [arn, partition, states, region, account, "execution" | "express", machine, ..] => {
            format!("{arn}:{partition}:{states}:{region}:{account}:stateMachine:{machine}")
        }
        _ => execution_arn.to_string(),
    }
}

/// The result of an optimized task: SQS and SNS add the HTTP and response metadata;
/// EventBridge fails with `EventBridge.FailedEntry` when an entry failed.
fn finish(action: &str, answer: Answer) -> Result<Value, StatesError> {
    let Answer {
        value,
        response,
        request_id,
    } = answer;
    if action == "putEvents" {
        let failed = value
            .get("FailedEntryCount")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if failed > 0 {
            return Err(StatesError::new(
                "EventBridge.FailedEntry",
                value.to_string(),
            ));
        }
        return Ok(value);
    }
    let mut out = match value {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let metadata = HttpMetadata {
        status: response.status,
        headers: response.headers.clone(),
    };
    out.insert("SdkHttpMetadata".into(), metadata.to_json());
    let mut response_metadata = Map::new();
    response_metadata.insert(
        "RequestId".into(),
        request_id.map_or(Value::Null, Value::String),
    );
    out.insert(
        "SdkResponseMetadata".into(),
        Value::Object(response_metadata),
    );
    Ok(Value::Object(out))
}

/// An optimized task's error, as the SDK for Java 1 names it.
fn optimized_error(
    model: &ServiceModel,
    prefix: &str,
    cause_service: &str,
    e: &ServiceError,
) -> StatesError {
    // SQS answers in JSON with the query protocol's code in a header
    // (`AWS.SimpleQueueService.NonExistentQueue;Sender`).
    let query_code = e
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-amzn-query-error"))
        .and_then(|(_, v)| v.split(';').next())
        .map(str::to_string);
    let code = query_code.unwrap_or_else(|| e.error.code.clone());
    let exception = modeled(model, &e.error.code)
        .map(with_exception_suffix)
        .unwrap_or_else(|| format!("{cause_service}Exception"));
    StatesError::new(
        format!("{prefix}.{exception}"),
        format!(
            "{} (Service: {cause_service}; Status Code: {}; Error Code: {code}; Request ID: {}; Proxy: null)",
            e.error.message,
            e.status,
            e.request_id.as_deref().unwrap_or("null")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::aws::wire::WireError;
    use serde_json::json;

    fn service_error(status: u16, code: &str, message: &str) -> ServiceError {
        ServiceError {
            status,
            error: WireError {
                code: code.into(),
                message: message.into(),
            },
            request_id: Some("rid".into()),
            extended_id: None,
            headers: vec![],
        }
    }

    #[test]
    fn sdk_errors_take_the_java_client_and_exception_names() {
        let s3 = services::service("s3").expect("s3");
        let mut e = service_error(404, "NoSuchBucket", "The specified bucket does not exist");
        e.extended_id = Some("ext".into());
        let error = sdk_error(&s3, &s3.client_name(), &e);
        assert_eq!(error.error, "S3.NoSuchBucketException");
        assert_eq!(
            error.cause.as_deref(),
            Some("The specified bucket does not exist (Service: S3, Status Code: 404, Request ID: rid, Extended Request ID: ext)")
        );
        let s3_denied = sdk_error(
            &s3,
            "S3",
            &service_error(403, "AccessDenied", "Access Denied"),
        );
        assert_eq!(s3_denied.error, "S3.S3Exception");
        let ddb = services::service("dynamodb").expect("ddb");
        let e = service_error(
            400,
            "ResourceNotFoundException",
            "Requested resource not found",
        );
        assert_eq!(
            sdk_error(&ddb, &ddb.client_name(), &e).error,
            "DynamoDb.ResourceNotFoundException"
        );
        let e = service_error(400, "ValidationException", "1 validation error detected");
        assert_eq!(
            sdk_error(&ddb, &ddb.client_name(), &e).error,
            "DynamoDb.DynamoDbException"
        );
        let sqs = services::service("sqs").expect("sqs");
        let e = service_error(400, "QueueDoesNotExist", "gone");
        assert_eq!(
            sdk_error(&sqs, &sqs.client_name(), &e).error,
            "Sqs.QueueDoesNotExistException"
        );
    }

    #[test]
    fn optimized_errors_keep_the_older_names() {
        let sns = services::service("sns").expect("sns");
        let error = optimized_error(
            &sns,
            "SNS",
            "AmazonSNS",
            &service_error(404, "NotFound", "Topic does not exist"),
        );
        assert_eq!(error.error, "SNS.NotFoundException");
        assert_eq!(
            error.cause.as_deref(),
            Some("Topic does not exist (Service: AmazonSNS; Status Code: 404; Error Code: NotFound; Request ID: rid; Proxy: null)")
        );
        let sqs = services::service("sqs").expect("sqs");
        let mut e = service_error(
            400,
            "MissingParameter",
            "The request must contain the parameter MessageBody.",
        );
        e.headers = vec![(
            "x-amzn-query-error".into(),
            "MissingParameter;Sender".into(),
        )];
        assert_eq!(
            optimized_error(&sqs, "SQS", "AmazonSQS", &e).error,
            "SQS.AmazonSQSException"
        );
    }

    #[test]
    fn optimized_requests_send_json_as_text_and_tag_events() {
        let context = Context {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:M:e1".into(),
            state_name: "S".into(),
        };
        let mut params = json!({"QueueUrl": "q", "MessageBody": {"a": 1}});
        prepare("sendMessage", &mut params, &context);
        assert_eq!(params["MessageBody"], json!(r#"{"a":1}"#));
        let mut params =
            json!({"Entries": [{"Detail": {"m": 1}, "Source": "s"}, {"Detail": "\"x\""}]});
        prepare("putEvents", &mut params, &context);
        assert_eq!(params["Entries"][0]["Detail"], json!(r#"{"m":1}"#));
        assert_eq!(params["Entries"][1]["Detail"], json!("\"x\""));
        assert_eq!(
            params["Entries"][0]["Resources"],
            json!([
                "arn:aws:states:us-east-1:123456789012:stateMachine:M",
                "arn:aws:states:us-east-1:123456789012:execution:M:e1"
            ])
        );
    }

    #[test]
    fn routes_cover_aws_sdk_and_the_optimized_three() {
        let handles = |arn: &str| AwsTasks::handles(&Resource::parse(arn));
        assert!(handles("arn:aws:states:::aws-sdk:s3:getObject"));
        assert!(handles(
            "arn:aws:states:::aws-sdk:sqs:sendMessage.waitForTaskToken"
        ));
        assert!(handles("arn:aws:states:::sqs:sendMessage.waitForTaskToken"));
        assert!(handles("arn:aws:states:::sns:publish"));
        assert!(handles("arn:aws:states:::events:putEvents"));
        assert!(!handles("arn:aws:states:::aws-sdk:s3:getObject.sync"));
        assert!(!handles("arn:aws:states:::dynamodb:getItem"));
        assert!(!handles("arn:aws:states:::lambda:invoke"));
    }
}
