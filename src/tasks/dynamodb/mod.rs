//! The optimized DynamoDB integration of Task states: `arn:aws:states:::dynamodb:getItem`,
//! `putItem`, `updateItem` and `deleteItem`, request-response only.
//!
//! Owns the trip from a Task state's effective parameters (the DynamoDB API's JSON request, in
//! its PascalCase names) to a DynamoDB call and back: the result is the API's JSON response as
//! Step Functions hands it over (with `SdkHttpMetadata` and `SdkResponseMetadata`), a failure is
//! the `DynamoDB.*` error with the cause text of the AWS SDK for Java, which Step Functions runs
//! on. Leaves to others: resolving `Parameters` / `Arguments` and paths (`asl`), retriers,
//! catchers, timeouts and history (`engine`), and refusing unknown resources such as
//! `dynamodb:putItem.sync` when a definition is created (the validator).
//!
//! What AWS does, as far as it is documented or recorded:
//! - Only these four actions, and no `.sync` / `.waitForTaskToken` pattern; the error prefix is
//!   `DynamoDB` (the AWS SDK integration `aws-sdk:dynamodb:*` uses `DynamoDb`)
//!   (<https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html>).
//! - The error name is `DynamoDB.` and the SDK for Java's exception class: the error code for
//!   modelled errors (`InternalServerError` becomes `InternalServerErrorException`), and
//!   `AmazonDynamoDBException` for the rest, `ValidationException` included
//!   (<https://github.com/aws/aws-cdk/issues/13669>).
//! - The cause is the SDK for Java's message: `<message> (Service: AmazonDynamoDBv2; Status
//!   Code: 400; Error Code: <code>; Request ID: <id>; Proxy: null)` (same issue).
//! - Parameters Step Functions cannot turn into a request fail the state with `States.Runtime`:
//!   `The Parameters '<json>' could not be used to start the Task: [The value for the field 'S'
//!   must be a STRING]` (<https://github.com/aws/aws-cdk/issues/9181>); the engine prefixes the
//!   state's name and entered event.
//! - Results carry `SdkHttpMetadata` (`AllHttpHeaders`, `HttpHeaders`, `HttpStatusCode`) and
//!   `SdkResponseMetadata` (`RequestId`) beside the API's fields (LocalStack's recording
//!   against AWS, <https://github.com/localstack/localstack/blob/master/tests/aws/services/stepfunctions/v2/services/test_dynamodb_task_service.snapshot.json>).

use std::collections::{BTreeMap, HashMap};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::Region;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeValue, AttributeValueUpdate, Capacity, ComparisonOperator,
    ConditionalOperator, ConsumedCapacity, ExpectedAttributeValue, ItemCollectionMetrics,
    ReturnConsumedCapacity, ReturnItemCollectionMetrics, ReturnValue,
    ReturnValuesOnConditionCheckFailure,
};
use aws_sdk_dynamodb::Client;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::asl::error::StatesError;
use crate::asl::resource::{Pattern, Resource};
use crate::tasks::sdk::HttpCapture;
use crate::tasks::TaskFuture;

mod output;
mod reader;
#[cfg(test)]
mod tests;

use output::*;
use reader::*;

/// The error prefix of the optimized DynamoDB integration.
const ERROR_PREFIX: &str = "DynamoDB.";

/// Runs the Task states of the optimized DynamoDB integration against one DynamoDB client.
#[derive(Debug, Clone)]
pub struct DynamoDbTasks {
    client: Client,
}

impl DynamoDbTasks {
    /// Connects using the standard AWS settings (region, credentials,
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`).
    ///
    /// With an endpoint override and no region configured, the region is `us-east-1` (DynamoDB
    /// Local ignores it). Without either, calls fail with `DynamoDB.SdkClientException` naming
    /// the missing region. Nothing is sent yet.
    pub async fn from_env() -> Self {
        let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let mut config = aws_sdk_dynamodb::config::Builder::from(&shared);
        let overridden = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if shared.region().is_none() && overridden {
            config = config.region(Region::new("us-east-1"));
        }
        Self::new(Client::from_conf(config.build()))
    }

    /// Runs the tasks through `client`.
    pub fn new(client: Client) -> Self {
        DynamoDbTasks { client }
    }

    /// True for the resources this integration runs: `arn:aws:states:::dynamodb:getItem`,
    /// `putItem`, `updateItem` and `deleteItem` (in any `aws*` partition).
    ///
    /// False with a `.sync` or `.waitForTaskToken` suffix: Step Functions supports neither for
    /// DynamoDB and refuses such a resource when the state machine is created ("The resource
    /// provided ... is not recognized").
    pub fn handles(resource: &Resource) -> bool {
        Operation::from_resource(resource).is_some()
    }

    /// Runs the task of `resource` with its effective parameters `params`, the DynamoDB API
    /// request in JSON (`TableName`, `Key`, `Item`, `UpdateExpression`, ...).
    ///
    /// The result is the API's JSON response (`Item`, `Attributes`, `ConsumedCapacity`,
    /// `ItemCollectionMetrics`, each only when DynamoDB returns it) with `SdkHttpMetadata` and
    /// `SdkResponseMetadata` beside, as Step Functions returns it.
    ///
    /// # Errors
    ///
    /// The future fails with `States.Runtime` when `params` cannot make a request (a field of
    /// the wrong type, one the action does not take, a required one missing), with
    /// `DynamoDB.<exception>` when DynamoDB refuses the request (or would: an attribute value
    /// with no type or several), and with `DynamoDB.SdkClientException` when DynamoDB cannot be
    /// reached.
    pub fn invoke(&self, resource: &Resource, params: Value) -> TaskFuture {
        let operation = Operation::from_resource(resource);
        let client = self.client.clone();
        let resource = resource.to_string();
        Box::pin(async move {
            let Some(operation) = operation else {
                return Err(StatesError::runtime(format!(
                    "The resource provided {resource} is not recognized. The value is not a valid \
                     resource ARN, or the resource is not available in this region."
                )));
            };
            let call =
                Call::build(&client, operation, &params).map_err(|e| e.into_error(&params))?;
            call.send().await
        })
    }
}

/// The four actions of the integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Get,
    Put,
    Update,
    Delete,
}

impl Operation {
    /// The action of an `arn:<partition>:states:::dynamodb:<action>` resource.
    fn from_resource(resource: &Resource) -> Option<Self> {
        let ("dynamodb", action, Pattern::RequestResponse) = resource.integration()? else {
            return None;
        };
        match action {
            "getItem" => Some(Operation::Get),
            "putItem" => Some(Operation::Put),
            "updateItem" => Some(Operation::Update),
            "deleteItem" => Some(Operation::Delete),
            _ => None,
        }
    }

    /// The request fields Step Functions passes on for this action, per the "Supported
    /// parameters" of the integration's documentation; `ReturnValuesOnConditionCheckFailure`,
    /// newer than that list, is taken too.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Operation::Get => &[
                "Key",
                "TableName",
                "AttributesToGet",
                "ConsistentRead",
                "ExpressionAttributeNames",
                "ProjectionExpression",
                "ReturnConsumedCapacity",
            ],
            Operation::Put => &[
                "Item",
                "TableName",
                "ConditionalOperator",
                "ConditionExpression",
                "Expected",
                "ExpressionAttributeNames",
                "ExpressionAttributeValues",
                "ReturnConsumedCapacity",
                "ReturnItemCollectionMetrics",
                "ReturnValues",
                "ReturnValuesOnConditionCheckFailure",
            ],
            Operation::Delete => &[
                "Key",
                "TableName",
                "ConditionalOperator",
                "ConditionExpression",
                "Expected",
                "ExpressionAttributeNames",
                "ExpressionAttributeValues",
                "ReturnConsumedCapacity",
                "ReturnItemCollectionMetrics",
                "ReturnValues",
                "ReturnValuesOnConditionCheckFailure",
            ],
            Operation::Update => &[
                "Key",
                "TableName",
                "AttributeUpdates",
                "ConditionalOperator",
                "ConditionExpression",
                "Expected",
                "ExpressionAttributeNames",
                "ExpressionAttributeValues",
                "ReturnConsumedCapacity",
                "ReturnItemCollectionMetrics",
                "ReturnValues",
                "ReturnValuesOnConditionCheckFailure",
                "UpdateExpression",
            ],
        }
    }

    /// The request fields the action cannot do without.
    fn required(self) -> [&'static str; 2] {
        match self {
            Operation::Put => ["TableName", "Item"],
            _ => ["TableName", "Key"],
        }
    }
}

/// Why parameters make no request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BadParameters {
    /// Step Functions refuses them before calling DynamoDB (`States.Runtime`).
    Refused(String),
    /// DynamoDB would refuse the request with a `ValidationException`; the SDK's types cannot
    /// even carry it (an attribute value with no type, or with several).
    Invalid(String),
}

impl BadParameters {
    fn into_error(self, params: &Value) -> StatesError {
        match self {
            BadParameters::Refused(message) => StatesError::runtime(format!(
                "The Parameters '{}' could not be used to start the Task: [{message}]",
                serde_json::to_string(params).unwrap_or_default()
            )),
            // No request was sent, so there is no request ID: the SDK for Java prints "null".
            BadParameters::Invalid(message) => StatesError::new(
                format!("{ERROR_PREFIX}{}", exception_class("ValidationException")),
                java_cause(&message, 400, "ValidationException", "null"),
            ),
        }
    }
}

/// One ready DynamoDB call.
enum Call {
    Get(GetItemFluentBuilder),
    Put(PutItemFluentBuilder),
    Update(UpdateItemFluentBuilder),
    Delete(DeleteItemFluentBuilder),
}

impl Call {
    /// The call of `operation` with `params`.
    fn build(client: &Client, operation: Operation, params: &Value) -> Result<Call, BadParameters> {
        let Value::Object(fields) = params else {
            return Err(BadParameters::Refused(format!(
                "The parameters must be {}",
                JsonType::Object.article()
            )));
        };
        // Step Functions checks the request's shape before DynamoDB sees it, so its refusals
        // win over what DynamoDB would answer, wherever they are in the parameters.
        let mut reader = Reader::default();
        let call = reader.call(client, operation, fields);
        match (call, reader.invalid) {
            (Err(message), _) => Err(BadParameters::Refused(message)),
            (Ok(_), Some(message)) => Err(BadParameters::Invalid(message)),
            (Ok(call), None) => Ok(call),
        }
    }

    /// Sends the call; the result as Step Functions shows it.
    async fn send(self) -> Result<Value, StatesError> {
        let capture = HttpCapture::default();
        let mut result = match self {
            Call::Get(b) => {
                let out = b.customize().interceptor(capture.clone()).send().await;
                let out = out.map_err(failure)?;
                let mut m = Map::new();
                put(&mut m, "Item", out.item.as_ref().map(attribute_map_json));
                put(
                    &mut m,
                    "ConsumedCapacity",
                    out.consumed_capacity.as_ref().map(consumed_capacity_json),
                );
                m
            }
            Call::Put(b) => {
                let out = b.customize().interceptor(capture.clone()).send().await;
                let out = out.map_err(failure)?;
                write_result(
                    out.attributes.as_ref(),
                    out.consumed_capacity.as_ref(),
                    out.item_collection_metrics.as_ref(),
                )
            }
            Call::Update(b) => {
                let out = b.customize().interceptor(capture.clone()).send().await;
                let out = out.map_err(failure)?;
                write_result(
                    out.attributes.as_ref(),
                    out.consumed_capacity.as_ref(),
                    out.item_collection_metrics.as_ref(),
                )
            }
            Call::Delete(b) => {
                let out = b.customize().interceptor(capture.clone()).send().await;
                let out = out.map_err(failure)?;
                write_result(
                    out.attributes.as_ref(),
                    out.consumed_capacity.as_ref(),
                    out.item_collection_metrics.as_ref(),
                )
            }
        };
        let http = capture.take();
        let request_id = http.request_id();
        result.insert("SdkHttpMetadata".into(), http.to_json());
        let mut metadata = Map::new();
        put(&mut metadata, "RequestId", request_id.map(Value::String));
        result.insert("SdkResponseMetadata".into(), Value::Object(metadata));
        Ok(Value::Object(result))
    }
}

/// The result of putItem, updateItem and deleteItem, which share their response shape.
fn write_result(
    attributes: Option<&HashMap<String, AttributeValue>>,
    consumed: Option<&ConsumedCapacity>,
    metrics: Option<&ItemCollectionMetrics>,
) -> Map<String, Value> {
    let mut m = Map::new();
    put(&mut m, "Attributes", attributes.map(attribute_map_json));
    put(
        &mut m,
        "ConsumedCapacity",
        consumed.map(consumed_capacity_json),
    );
    put(
        &mut m,
        "ItemCollectionMetrics",
        metrics.map(item_collection_metrics_json),
    );
    m
}

/// Inserts `value` under `key` if there is one: absent response fields stay absent.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_string(), value);
    }
}

/// The task failure for a failed call.
fn failure<E>(err: SdkError<E>) -> StatesError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = &err {
        let raw = service.raw();
        let status = raw.status().as_u16();
        let request_id = raw.headers().get("x-amzn-requestid").unwrap_or("null");
        let code = err.code().unwrap_or("null");
        let message = err.message().unwrap_or("null");
        return StatesError::new(
            format!("{ERROR_PREFIX}{}", exception_class(code)),
            java_cause(message, status, code, request_id),
        );
    }
    // No answer from DynamoDB (no connection, timeout, unreadable response): the SDK for Java
    // throws an SdkClientException with this message.
    StatesError::new(
        format!("{ERROR_PREFIX}SdkClientException"),
        format!(
            "Unable to execute HTTP request: {}",
            crate::tasks::sdk::error_chain(&err)
        ),
    )
}

/// The SDK for Java's exception class for a DynamoDB error code: its modelled errors have a
/// class of their own (with `Exception` appended to the two codes without it), all others are
/// `AmazonDynamoDBException`.
fn exception_class(code: &str) -> String {
    const MODELLED: &[&str] = &[
        "BackupInUseException",
        "BackupNotFoundException",
        "ConditionalCheckFailedException",
        "ContinuousBackupsUnavailableException",
        "DuplicateItemException",
        "ExportConflictException",
        "ExportNotFoundException",
        "GlobalTableAlreadyExistsException",
        "GlobalTableNotFoundException",
        "IdempotentParameterMismatchException",
        "ImportConflictException",
        "ImportNotFoundException",
        "IndexNotFoundException",
        "InternalServerError",
        "InvalidEndpointException",
        "InvalidExportTimeException",
        "InvalidRestoreTimeException",
        "ItemCollectionSizeLimitExceededException",
        "LimitExceededException",
        "PointInTimeRecoveryUnavailableException",
        "PolicyNotFoundException",
        "ProvisionedThroughputExceededException",
        "ReplicaAlreadyExistsException",
        "ReplicaNotFoundException",
        "ReplicatedWriteConflictException",
        "RequestLimitExceeded",
        "ResourceInUseException",
        "ResourceNotFoundException",
        "TableAlreadyExistsException",
        "TableInUseException",
        "TableNotFoundException",
        "TransactionCanceledException",
        "TransactionConflictException",
        "TransactionInProgressException",
    ];
    if !MODELLED.contains(&code) {
        return "AmazonDynamoDBException".to_string();
    }
    if code.ends_with("Exception") {
        code.to_string()
    } else {
        format!("{code}Exception")
    }
}

/// The message of an `AmazonServiceException` of the SDK for Java, which Step Functions uses as
/// the cause.
fn java_cause(message: &str, status: u16, code: &str, request_id: &str) -> String {
    format!(
        "{message} (Service: AmazonDynamoDBv2; Status Code: {status}; Error Code: {code}; \
         Request ID: {request_id}; Proxy: null)"
    )
}

/// A JSON type Step Functions names in its refusals.
#[derive(Debug, Clone, Copy)]
enum JsonType {
    String,
    Boolean,
    Object,
    Array,
}

impl JsonType {
    fn article(self) -> &'static str {
        match self {
            JsonType::String => "a STRING",
            JsonType::Boolean => "a BOOLEAN",
            JsonType::Object => "an OBJECT",
            JsonType::Array => "an ARRAY",
        }
    }
}

/// Appends the JSON Pointer of a nested field to a message about it; a top-level field is
/// already named by the message.
fn located(message: String, at: &str) -> String {
    if at.matches('/').count() > 1 {
        format!("{message} (at {at})")
    } else {
        message
    }
}

/// The JSON Pointer (RFC 6901) of `key` inside the value at `at`.
fn child(at: &str, key: &str) -> String {
    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))
}
