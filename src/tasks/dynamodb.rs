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

/// Reads parameters into SDK types. A method's `Err` is a refusal of Step Functions; what
/// DynamoDB itself would refuse is kept in `invalid` (the first such) and reading goes on, so a
/// refusal later in the parameters still wins.
#[derive(Debug, Default)]
struct Reader {
    invalid: Option<String>,
}

type Read<T> = Result<T, String>;

impl Reader {
    fn call(&mut self, client: &Client, op: Operation, fields: &Map<String, Value>) -> Read<Call> {
        let allowed = op.fields();
        if let Some(name) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "The field \"{name}\" is not supported by Step Functions"
            ));
        }
        if let Some(name) = op.required().iter().find(|k| !fields.contains_key(**k)) {
            return Err(format!("The field '{name}' is required but was missing"));
        }
        let get = |name: &str| fields.get(name).map(|v| (v, child("", name)));
        let table = get("TableName")
            .map(|(v, at)| self.string(v, "TableName", &at))
            .transpose()?;
        let key = get("Key")
            .map(|(v, at)| self.attribute_map(v, "Key", &at))
            .transpose()?;
        let item = get("Item")
            .map(|(v, at)| self.attribute_map(v, "Item", &at))
            .transpose()?;
        let attributes_to_get = get("AttributesToGet")
            .map(|(v, at)| self.strings(v, "AttributesToGet", &at))
            .transpose()?;
        let consistent_read = get("ConsistentRead")
            .map(|(v, at)| self.boolean(v, "ConsistentRead", &at))
            .transpose()?;
        let names = get("ExpressionAttributeNames")
            .map(|(v, at)| self.string_map(v, "ExpressionAttributeNames", &at))
            .transpose()?;
        let values = get("ExpressionAttributeValues")
            .map(|(v, at)| self.attribute_map(v, "ExpressionAttributeValues", &at))
            .transpose()?;
        let expected = get("Expected")
            .map(|(v, at)| self.expected(v, &at))
            .transpose()?;
        let updates = get("AttributeUpdates")
            .map(|(v, at)| self.attribute_updates(v, &at))
            .transpose()?;
        let text = |name: &str| -> Read<Option<String>> {
            match get(name) {
                Some((v, at)) => Ok(Some(self.string(v, name, &at)?)),
                None => Ok(None),
            }
        };
        let projection = text("ProjectionExpression")?;
        let condition = text("ConditionExpression")?;
        let update = text("UpdateExpression")?;
        // Enumerations go to DynamoDB as written: it answers an unknown value with a
        // ValidationException, as it does on AWS.
        let conditional_operator =
            text("ConditionalOperator")?.map(|s| ConditionalOperator::from(s.as_str()));
        let consumed =
            text("ReturnConsumedCapacity")?.map(|s| ReturnConsumedCapacity::from(s.as_str()));
        let metrics = text("ReturnItemCollectionMetrics")?
            .map(|s| ReturnItemCollectionMetrics::from(s.as_str()));
        let return_values = text("ReturnValues")?.map(|s| ReturnValue::from(s.as_str()));
        let on_failure = text("ReturnValuesOnConditionCheckFailure")?
            .map(|s| ReturnValuesOnConditionCheckFailure::from(s.as_str()));

        Ok(match op {
            Operation::Get => Call::Get(
                client
                    .get_item()
                    .set_table_name(table)
                    .set_key(key)
                    .set_attributes_to_get(attributes_to_get)
                    .set_consistent_read(consistent_read)
                    .set_expression_attribute_names(names)
                    .set_projection_expression(projection)
                    .set_return_consumed_capacity(consumed),
            ),
            Operation::Put => Call::Put(
                client
                    .put_item()
                    .set_table_name(table)
                    .set_item(item)
                    .set_conditional_operator(conditional_operator)
                    .set_condition_expression(condition)
                    .set_expected(expected)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_consumed_capacity(consumed)
                    .set_return_item_collection_metrics(metrics)
                    .set_return_values(return_values)
                    .set_return_values_on_condition_check_failure(on_failure),
            ),
            Operation::Update => Call::Update(
                client
                    .update_item()
                    .set_table_name(table)
                    .set_key(key)
                    .set_attribute_updates(updates)
                    .set_conditional_operator(conditional_operator)
                    .set_condition_expression(condition)
                    .set_expected(expected)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_consumed_capacity(consumed)
                    .set_return_item_collection_metrics(metrics)
                    .set_return_values(return_values)
                    .set_return_values_on_condition_check_failure(on_failure)
                    .set_update_expression(update),
            ),
            Operation::Delete => Call::Delete(
                client
                    .delete_item()
                    .set_table_name(table)
                    .set_key(key)
                    .set_conditional_operator(conditional_operator)
                    .set_condition_expression(condition)
                    .set_expected(expected)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_consumed_capacity(consumed)
                    .set_return_item_collection_metrics(metrics)
                    .set_return_values(return_values)
                    .set_return_values_on_condition_check_failure(on_failure),
            ),
        })
    }

    fn wrong_type(field: &str, expected: JsonType, at: &str) -> String {
        located(
            format!(
                "The value for the field '{field}' must be {}",
                expected.article()
            ),
            at,
        )
    }

    fn unsupported(field: &str, at: &str) -> String {
        located(
            format!("The field \"{field}\" is not supported by Step Functions"),
            at,
        )
    }

    fn string(&self, v: &Value, field: &str, at: &str) -> Read<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(Self::wrong_type(field, JsonType::String, at)),
        }
    }

    fn boolean(&self, v: &Value, field: &str, at: &str) -> Read<bool> {
        match v {
            Value::Bool(b) => Ok(*b),
            _ => Err(Self::wrong_type(field, JsonType::Boolean, at)),
        }
    }

    fn object<'v>(&self, v: &'v Value, field: &str, at: &str) -> Read<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Ok(m),
            _ => Err(Self::wrong_type(field, JsonType::Object, at)),
        }
    }

    fn array<'v>(&self, v: &'v Value, field: &str, at: &str) -> Read<&'v [Value]> {
        match v {
            Value::Array(a) => Ok(a),
            _ => Err(Self::wrong_type(field, JsonType::Array, at)),
        }
    }

    /// A list of strings; an element is named by its list's field.
    fn strings(&self, v: &Value, field: &str, at: &str) -> Read<Vec<String>> {
        let list = self.array(v, field, at)?;
        list.iter()
            .enumerate()
            .map(|(i, e)| self.string(e, field, &child(at, &i.to_string())))
            .collect()
    }

    fn string_map(&self, v: &Value, field: &str, at: &str) -> Read<HashMap<String, String>> {
        let map = self.object(v, field, at)?;
        map.iter()
            .map(|(k, e)| Ok((k.clone(), self.string(e, k, &child(at, k))?)))
            .collect()
    }

    /// Base64 (standard alphabet, padded), as the DynamoDB JSON API writes binary.
    fn blob(&self, v: &Value, field: &str, at: &str) -> Read<Blob> {
        let text = self.string(v, field, at)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Blob::new)
            .map_err(|_| {
                located(
                    format!("The value for the field '{field}' must be valid Base64"),
                    at,
                )
            })
    }

    /// A map of attribute names to attribute values (`Key`, `Item`, `M`, ...).
    fn attribute_map(
        &mut self,
        v: &Value,
        field: &str,
        at: &str,
    ) -> Read<HashMap<String, AttributeValue>> {
        let map = self.object(v, field, at)?;
        let mut out = HashMap::with_capacity(map.len());
        for (name, value) in map {
            let av = self.attribute_value(value, name, &child(at, name))?;
            out.insert(name.clone(), av);
        }
        Ok(out)
    }

    fn attribute_list(&mut self, v: &Value, field: &str, at: &str) -> Read<Vec<AttributeValue>> {
        let list = self.array(v, field, at)?;
        let mut out = Vec::with_capacity(list.len());
        for (i, e) in list.iter().enumerate() {
            out.push(self.attribute_value(e, field, &child(at, &i.to_string()))?);
        }
        Ok(out)
    }

    /// One attribute value: an object with exactly one of `S`, `N`, `B`, `BOOL`, `NULL`, `M`,
    /// `L`, `SS`, `NS`, `BS`.
    fn attribute_value(&mut self, v: &Value, field: &str, at: &str) -> Read<AttributeValue> {
        let members = self.object(v, field, at)?;
        let mut found: Option<AttributeValue> = None;
        let mut several = false;
        for (ty, value) in members {
            let here = child(at, ty);
            let av = match ty.as_str() {
                "S" => AttributeValue::S(self.string(value, ty, &here)?),
                "N" => AttributeValue::N(self.string(value, ty, &here)?),
                "B" => AttributeValue::B(self.blob(value, ty, &here)?),
                "BOOL" => AttributeValue::Bool(self.boolean(value, ty, &here)?),
                "NULL" => AttributeValue::Null(self.boolean(value, ty, &here)?),
                "SS" => AttributeValue::Ss(self.strings(value, ty, &here)?),
                "NS" => AttributeValue::Ns(self.strings(value, ty, &here)?),
                "BS" => {
                    let list = self.array(value, ty, &here)?;
                    let mut blobs = Vec::with_capacity(list.len());
                    for (i, e) in list.iter().enumerate() {
                        blobs.push(self.blob(e, ty, &child(&here, &i.to_string()))?);
                    }
                    AttributeValue::Bs(blobs)
                }
                "M" => AttributeValue::M(self.attribute_map(value, ty, &here)?),
                "L" => AttributeValue::L(self.attribute_list(value, ty, &here)?),
                _ => return Err(Self::unsupported(ty, &here)),
            };
            several |= found.is_some();
            found = Some(av);
        }
        // DynamoDB's own words for these two (ValidationException).
        let problem = if several {
            Some("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
        } else if found.is_none() {
            Some("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
        } else {
            None
        };
        if let Some(problem) = problem {
            if self.invalid.is_none() {
                self.invalid = Some(located(problem.to_string(), at));
            }
        }
        Ok(found.unwrap_or(AttributeValue::Null(true)))
    }

    /// The legacy `Expected` map of conditions.
    fn expected(&mut self, v: &Value, at: &str) -> Read<HashMap<String, ExpectedAttributeValue>> {
        let map = self.object(v, "Expected", at)?;
        let mut out = HashMap::with_capacity(map.len());
        for (name, entry) in map {
            let here = child(at, name);
            let members = self.object(entry, name, &here)?;
            let mut b = ExpectedAttributeValue::builder();
            for (field, value) in members {
                let there = child(&here, field);
                b = match field.as_str() {
                    "Value" => b.value(self.attribute_value(value, field, &there)?),
                    "Exists" => b.exists(self.boolean(value, field, &there)?),
                    "ComparisonOperator" => b.comparison_operator(ComparisonOperator::from(
                        self.string(value, field, &there)?.as_str(),
                    )),
                    "AttributeValueList" => {
                        b.set_attribute_value_list(Some(self.attribute_list(value, field, &there)?))
                    }
                    _ => return Err(Self::unsupported(field, &there)),
                };
            }
            out.insert(name.clone(), b.build());
        }
        Ok(out)
    }

    /// The legacy `AttributeUpdates` map of updateItem.
    fn attribute_updates(
        &mut self,
        v: &Value,
        at: &str,
    ) -> Read<HashMap<String, AttributeValueUpdate>> {
        let map = self.object(v, "AttributeUpdates", at)?;
        let mut out = HashMap::with_capacity(map.len());
        for (name, entry) in map {
            let here = child(at, name);
            let members = self.object(entry, name, &here)?;
            let mut b = AttributeValueUpdate::builder();
            for (field, value) in members {
                let there = child(&here, field);
                b = match field.as_str() {
                    "Value" => b.value(self.attribute_value(value, field, &there)?),
                    "Action" => b.action(AttributeAction::from(
                        self.string(value, field, &there)?.as_str(),
                    )),
                    _ => return Err(Self::unsupported(field, &there)),
                };
            }
            out.insert(name.clone(), b.build());
        }
        Ok(out)
    }
}

/// An attribute value in the DynamoDB JSON API's shape; binary as Base64.
fn attribute_json(av: &AttributeValue) -> Value {
    let b64 =
        |b: &Blob| Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
    let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
    let (ty, value) = match av {
        AttributeValue::S(s) => ("S", Value::String(s.clone())),
        AttributeValue::N(n) => ("N", Value::String(n.clone())),
        AttributeValue::B(b) => ("B", b64(b)),
        AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
        AttributeValue::Null(b) => ("NULL", Value::Bool(*b)),
        AttributeValue::Ss(v) => ("SS", strings(v)),
        AttributeValue::Ns(v) => ("NS", strings(v)),
        AttributeValue::Bs(v) => ("BS", Value::Array(v.iter().map(b64).collect())),
        AttributeValue::M(m) => ("M", attribute_map_json(m)),
        AttributeValue::L(l) => ("L", Value::Array(l.iter().map(attribute_json).collect())),
        // A type newer than this SDK: DynamoDB has sent nothing this code could read.
        _ => return Value::Object(Map::new()),
    };
    let mut m = Map::new();
    m.insert(ty.to_string(), value);
    Value::Object(m)
}

/// An attribute map with its names sorted (DynamoDB's order is lost in the SDK's `HashMap`).
fn attribute_map_json(map: &HashMap<String, AttributeValue>) -> Value {
    let sorted: BTreeMap<&String, &AttributeValue> = map.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect(),
    )
}

fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn capacity_json(c: &Capacity) -> Value {
    let mut m = Map::new();
    put(
        &mut m,
        "ReadCapacityUnits",
        c.read_capacity_units().map(number),
    );
    put(
        &mut m,
        "WriteCapacityUnits",
        c.write_capacity_units().map(number),
    );
    put(&mut m, "CapacityUnits", c.capacity_units().map(number));
    Value::Object(m)
}

fn capacity_map_json(map: &HashMap<String, Capacity>) -> Value {
    let sorted: BTreeMap<&String, &Capacity> = map.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, c)| (k.clone(), capacity_json(c)))
            .collect(),
    )
}

fn consumed_capacity_json(c: &ConsumedCapacity) -> Value {
    let mut m = Map::new();
    put(
        &mut m,
        "TableName",
        c.table_name().map(|s| Value::String(s.to_string())),
    );
    put(&mut m, "CapacityUnits", c.capacity_units().map(number));
    put(
        &mut m,
        "ReadCapacityUnits",
        c.read_capacity_units().map(number),
    );
    put(
        &mut m,
        "WriteCapacityUnits",
        c.write_capacity_units().map(number),
    );
    put(&mut m, "Table", c.table().map(capacity_json));
    put(
        &mut m,
        "LocalSecondaryIndexes",
        c.local_secondary_indexes().map(capacity_map_json),
    );
    put(
        &mut m,
        "GlobalSecondaryIndexes",
        c.global_secondary_indexes().map(capacity_map_json),
    );
    Value::Object(m)
}

fn item_collection_metrics_json(metrics: &ItemCollectionMetrics) -> Value {
    let mut m = Map::new();
    put(
        &mut m,
        "ItemCollectionKey",
        metrics.item_collection_key().map(attribute_map_json),
    );
    m.insert(
        "SizeEstimateRangeGB".into(),
        Value::Array(
            metrics
                .size_estimate_range_gb()
                .iter()
                .copied()
                .map(number)
                .collect(),
        ),
    );
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_dynamodb::config::Credentials;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    use serde_json::json;

    const NO_ENDPOINT: &str = "STEPFN_TEST_DYNAMODB_ENDPOINT (with AWS_ACCESS_KEY_ID and \
        AWS_SECRET_ACCESS_KEY) is not set: the DynamoDB tests need DynamoDB Local. Run `bash \
        infra/test.sh`, or `bash infra/dynamodb-local.sh install && bash infra/dynamodb-local.sh \
        start` and then `eval \"$(bash infra/dynamodb-local.sh env)\"`";

    const GET: &str = "arn:aws:states:::dynamodb:getItem";
    const PUT: &str = "arn:aws:states:::dynamodb:putItem";
    const UPDATE: &str = "arn:aws:states:::dynamodb:updateItem";
    const DELETE: &str = "arn:aws:states:::dynamodb:deleteItem";

    /// The DynamoDB Local endpoint of the test run. The credentials must be set too: without
    /// them the SDK would look for some beyond this machine.
    fn endpoint() -> String {
        let credentials = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
            .iter()
            .all(|v| std::env::var_os(v).is_some());
        match std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT") {
            Ok(endpoint) if credentials => endpoint,
            _ => panic!("{NO_ENDPOINT}"),
        }
    }

    /// Tasks on DynamoDB Local, and a new table of their own (string partition key `pk`).
    async fn fresh_table() -> (DynamoDbTasks, String) {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(Region::new("us-east-1"))
            .load()
            .await;
        let client = Client::new(&shared);
        let table = format!("stepfn-task-{}", uuid::Uuid::new_v4().simple());
        client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("key schema"),
            )
            .send()
            .await
            .expect("create table");
        (DynamoDbTasks::new(client), table)
    }

    /// Tasks whose client would fail to connect: for parameters refused before any request.
    fn offline() -> DynamoDbTasks {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(Credentials::new("x", "x", None, None, "test"))
            .build();
        DynamoDbTasks::new(Client::from_conf(config))
    }

    async fn run(tasks: &DynamoDbTasks, resource: &str, params: Value) -> Value {
        tasks
            .invoke(&Resource::parse(resource), params.clone())
            .await
            .unwrap_or_else(|e| panic!("{resource} with {params} failed: {e}"))
    }

    async fn fail(tasks: &DynamoDbTasks, resource: &str, params: Value) -> StatesError {
        match tasks
            .invoke(&Resource::parse(resource), params.clone())
            .await
        {
            Ok(v) => panic!("{resource} with {params} succeeded: {v}"),
            Err(e) => e,
        }
    }

    /// The result without the HTTP metadata, which varies by request.
    fn api_fields(result: &Value) -> Value {
        let mut m = result.as_object().expect("result is an object").clone();
        m.remove("SdkHttpMetadata");
        m.remove("SdkResponseMetadata");
        Value::Object(m)
    }

    /// Sets compare as sets: DynamoDB keeps no order within SS, NS and BS.
    fn sort_sets(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, e) in m.iter_mut() {
                    if let ("SS" | "NS" | "BS", Value::Array(items)) = (k.as_str(), &mut *e) {
                        items.sort_by_key(|i| i.to_string());
                    } else {
                        sort_sets(e);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(sort_sets),
            _ => {}
        }
    }

    /// Asserts the cause of a DynamoDB failure has the SDK for Java's shape with a real request
    /// ID, and returns that ID.
    fn assert_java_cause(cause: &str, message: &str, code: &str) -> String {
        let head = format!(
            "{message} (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: {code}; Request ID: "
        );
        let id = cause
            .strip_prefix(&head)
            .and_then(|rest| rest.strip_suffix("; Proxy: null)"))
            .unwrap_or_else(|| panic!("cause {cause:?} is not {head}<id>; Proxy: null)"));
        assert!(
            !id.is_empty() && id != "null" && !id.contains(';'),
            "request id {id:?} in {cause:?}"
        );
        id.to_string()
    }

    #[test]
    fn handles_only_the_four_request_response_resources() {
        for action in ["getItem", "putItem", "updateItem", "deleteItem"] {
            assert!(DynamoDbTasks::handles(&Resource::parse(&format!(
                "arn:aws:states:::dynamodb:{action}"
            ))));
            assert!(DynamoDbTasks::handles(&Resource::parse(&format!(
                "arn:aws-cn:states:::dynamodb:{action}"
            ))));
            for suffix in [".sync", ".waitForTaskToken", ".sync:2"] {
                assert!(!DynamoDbTasks::handles(&Resource::parse(&format!(
                    "arn:aws:states:::dynamodb:{action}{suffix}"
                ))));
            }
        }
        for other in [
            "arn:aws:states:::dynamodb:query",
            "arn:aws:states:::dynamodb:GetItem",
            "arn:aws:states:::aws-sdk:dynamodb:getItem",
            "arn:aws:states:us-east-1:123456789012:dynamodb:getItem",
            "arn:aws:states:::lambda:invoke",
            "dynamodb:getItem",
        ] {
            assert!(!DynamoDbTasks::handles(&Resource::parse(other)), "{other}");
        }
    }

    #[test]
    fn error_names_follow_the_java_exception_classes() {
        let named = |code: &str| format!("{ERROR_PREFIX}{}", exception_class(code));
        assert_eq!(
            named("ConditionalCheckFailedException"),
            "DynamoDB.ConditionalCheckFailedException"
        );
        assert_eq!(
            named("ResourceNotFoundException"),
            "DynamoDB.ResourceNotFoundException"
        );
        assert_eq!(
            named("InternalServerError"),
            "DynamoDB.InternalServerErrorException"
        );
        assert_eq!(
            named("RequestLimitExceeded"),
            "DynamoDB.RequestLimitExceededException"
        );
        assert_eq!(
            named("ValidationException"),
            "DynamoDB.AmazonDynamoDBException"
        );
        assert_eq!(
            named("AccessDeniedException"),
            "DynamoDB.AmazonDynamoDBException"
        );
    }

    #[tokio::test]
    async fn put_then_get_round_trips_every_attribute_type() {
        let (tasks, table) = fresh_table().await;
        let item = json!({
            "pk": {"S": "all-types"},
            "s": {"S": "text é"},
            "n": {"N": "-12.5"},
            "b": {"B": "AAEC/w=="},
            "t": {"BOOL": true},
            "f": {"BOOL": false},
            "nul": {"NULL": true},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2.5"]},
            "bs": {"BS": ["AQ==", "Ag=="]},
            "l": {"L": [{"S": "x"}, {"N": "1"}, {"L": []}, {"M": {}}]},
            "m": {"M": {"inner": {"M": {"deep": {"BOOL": false}}}, "list": {"L": [{"NULL": true}]}}}
        });
        let put = run(&tasks, PUT, json!({"TableName": table, "Item": item})).await;
        // No ReturnValues: the API's response is empty; Step Functions adds the metadata.
        assert_eq!(api_fields(&put), json!({}));
        let http = &put["SdkHttpMetadata"];
        assert_eq!(http["HttpStatusCode"], json!(200));
        let request_id = put["SdkResponseMetadata"]["RequestId"]
            .as_str()
            .expect("RequestId");
        assert!(!request_id.is_empty());
        assert_eq!(http["HttpHeaders"]["x-amzn-RequestId"], json!(request_id));
        assert_eq!(
            http["AllHttpHeaders"]["x-amzn-RequestId"],
            json!([request_id])
        );
        assert_eq!(
            http["HttpHeaders"]["Content-Type"],
            json!("application/x-amz-json-1.0")
        );

        let got = run(
            &tasks,
            GET,
            json!({"TableName": table, "Key": {"pk": {"S": "all-types"}},
                   "ConsistentRead": true, "ReturnConsumedCapacity": "TOTAL"}),
        )
        .await;
        let mut expected = item.clone();
        let mut actual = got["Item"].clone();
        sort_sets(&mut expected);
        sort_sets(&mut actual);
        assert_eq!(actual, expected);
        assert_eq!(
            got["ConsumedCapacity"],
            json!({"TableName": table, "CapacityUnits": 1.0})
        );
    }

    #[tokio::test]
    async fn get_item_of_a_missing_key_has_no_item() {
        let (tasks, table) = fresh_table().await;
        let got = run(
            &tasks,
            GET,
            json!({"TableName": table, "Key": {"pk": {"S": "nobody"}}}),
        )
        .await;
        assert_eq!(api_fields(&got), json!({}));
        let keys: Vec<&String> = got.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["SdkHttpMetadata", "SdkResponseMetadata"]);
    }

    #[tokio::test]
    async fn update_item_with_expressions_returns_all_new() {
        let (tasks, table) = fresh_table().await;
        run(
            &tasks,
            PUT,
            json!({"TableName": table,
                   "Item": {"pk": {"S": "counter"}, "count": {"N": "41"}, "old": {"S": "gone soon"}}}),
        )
        .await;
        let updated = run(
            &tasks,
            UPDATE,
            json!({
                "TableName": table,
                "Key": {"pk": {"S": "counter"}},
                "UpdateExpression": "SET #c = #c + :one, tags = :tags REMOVE #o",
                "ConditionExpression": "#c = :was",
                "ExpressionAttributeNames": {"#c": "count", "#o": "old"},
                "ExpressionAttributeValues": {
                    ":one": {"N": "1"}, ":was": {"N": "41"}, ":tags": {"SS": ["red"]}
                },
                "ReturnValues": "ALL_NEW"
            }),
        )
        .await;
        assert_eq!(
            api_fields(&updated),
            json!({"Attributes": {
                "count": {"N": "42"}, "pk": {"S": "counter"}, "tags": {"SS": ["red"]}
            }})
        );
        let got = run(
            &tasks,
            GET,
            json!({"TableName": table, "Key": {"pk": {"S": "counter"}},
                   "ProjectionExpression": "#c", "ExpressionAttributeNames": {"#c": "count"}}),
        )
        .await;
        assert_eq!(api_fields(&got), json!({"Item": {"count": {"N": "42"}}}));
    }

    #[tokio::test]
    async fn delete_item_returns_all_old_and_removes_the_item() {
        let (tasks, table) = fresh_table().await;
        let item = json!({"pk": {"S": "doomed"}, "v": {"N": "7"}});
        run(&tasks, PUT, json!({"TableName": table, "Item": item})).await;
        let deleted = run(
            &tasks,
            DELETE,
            json!({"TableName": table, "Key": {"pk": {"S": "doomed"}}, "ReturnValues": "ALL_OLD"}),
        )
        .await;
        assert_eq!(api_fields(&deleted), json!({"Attributes": item}));
        let got = run(
            &tasks,
            GET,
            json!({"TableName": table, "Key": {"pk": {"S": "doomed"}}, "ConsistentRead": true}),
        )
        .await;
        assert_eq!(api_fields(&got), json!({}));
    }

    #[tokio::test]
    async fn failed_condition_is_conditional_check_failed_with_the_java_cause() {
        let (tasks, table) = fresh_table().await;
        let params = json!({
            "TableName": table,
            "Item": {"pk": {"S": "once"}},
            "ConditionExpression": "attribute_not_exists(pk)"
        });
        run(&tasks, PUT, params.clone()).await;
        let err = fail(&tasks, PUT, params).await;
        assert_eq!(err.error, "DynamoDB.ConditionalCheckFailedException");
        let cause = err.cause.expect("cause");
        assert_java_cause(
            &cause,
            "The conditional request failed",
            "ConditionalCheckFailedException",
        );
    }

    #[tokio::test]
    async fn missing_table_is_resource_not_found() {
        let (tasks, _table) = fresh_table().await;
        let err = fail(
            &tasks,
            GET,
            json!({"TableName": "stepfn-no-such-table", "Key": {"pk": {"S": "a"}}}),
        )
        .await;
        assert_eq!(err.error, "DynamoDB.ResourceNotFoundException");
        let cause = err.cause.expect("cause");
        // DynamoDB Local words it differently from AWS ("Requested resource not found").
        let message = cause.split(" (Service: ").next().unwrap_or_default();
        assert!(!message.is_empty(), "{cause}");
        assert_java_cause(&cause, message, "ResourceNotFoundException");
    }

    #[tokio::test]
    async fn validation_exception_is_amazon_dynamodb_exception() {
        let (tasks, table) = fresh_table().await;
        // The key attribute is a string: a number is refused by DynamoDB, not by Step Functions.
        let err = fail(
            &tasks,
            GET,
            json!({"TableName": table, "Key": {"pk": {"N": "1"}}}),
        )
        .await;
        assert_eq!(err.error, "DynamoDB.AmazonDynamoDBException");
        let cause = err.cause.expect("cause");
        assert!(
            cause.contains("(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ValidationException; Request ID: "),
            "{cause}"
        );
    }

    #[tokio::test]
    async fn attribute_value_of_the_wrong_type_is_refused_naming_its_place() {
        let params =
            json!({"TableName": "t", "Item": {"pk": {"S": "a"}, "data": {"M": {"x": {"S": 5}}}}});
        let err = fail(&offline(), PUT, params).await;
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause.as_deref(),
            Some(
                "The Parameters '{\"TableName\":\"t\",\"Item\":{\"pk\":{\"S\":\"a\"},\"data\":{\"M\":{\"x\":{\"S\":5}}}}}' \
                 could not be used to start the Task: [The value for the field 'S' must be a STRING \
                 (at /Item/data/M/x/S)]"
            )
        );
    }

    #[tokio::test]
    async fn attribute_value_without_a_type_is_a_validation_error_naming_its_place() {
        let err = fail(
            &offline(),
            GET,
            json!({"TableName": "t", "Key": {"a/b": {}}}),
        )
        .await;
        assert_eq!(err.error, "DynamoDB.AmazonDynamoDBException");
        assert_eq!(
            err.cause.as_deref(),
            Some(
                "Supplied AttributeValue is empty, must contain exactly one of the supported \
                 datatypes (at /Key/a~1b) (Service: AmazonDynamoDBv2; Status Code: 400; Error \
                 Code: ValidationException; Request ID: null; Proxy: null)"
            )
        );
        let err = fail(
            &offline(),
            GET,
            json!({"TableName": "t", "Key": {"pk": {"S": "a", "N": "1"}}}),
        )
        .await;
        assert_eq!(err.error, "DynamoDB.AmazonDynamoDBException");
        assert!(
            err.cause.as_deref().is_some_and(|c| c.starts_with(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly \
                 one of the supported datatypes (at /Key/pk) (Service: AmazonDynamoDBv2;"
            )),
            "{err}"
        );
    }

    #[tokio::test]
    async fn step_functions_refusals_win_over_dynamodb_validation() {
        // The empty attribute value comes first, but Step Functions refuses the wrong type
        // before DynamoDB could see either.
        let err = fail(
            &offline(),
            PUT,
            json!({"TableName": "t", "Item": {"a": {}, "b": {"BOOL": "yes"}}}),
        )
        .await;
        assert_eq!(err.error, "States.Runtime");
        assert!(
            err.cause.as_deref().is_some_and(|c| c
                .ends_with("[The value for the field 'BOOL' must be a BOOLEAN (at /Item/b/BOOL)]")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn unsupported_and_missing_fields_are_refused() {
        let tasks = offline();
        let err = fail(
            &tasks,
            GET,
            json!({"TableName": "t", "Key": {"pk": {"S": "a"}}, "ReturnValues": "ALL_OLD"}),
        )
        .await;
        assert_eq!(err.error, "States.Runtime");
        assert!(
            err.cause.as_deref().is_some_and(|c| c.ends_with(
                "could not be used to start the Task: [The field \"ReturnValues\" is not supported by Step Functions]"
            )),
            "{err}"
        );
        let err = fail(&tasks, PUT, json!({"TableName": "t"})).await;
        assert!(
            err.cause.as_deref().is_some_and(|c| c.ends_with(
                "could not be used to start the Task: [The field 'Item' is required but was missing]"
            )),
            "{err}"
        );
        let err = fail(
            &tasks,
            PUT,
            json!({"TableName": "t", "Item": {"pk": {"X": "a"}}}),
        )
        .await;
        assert!(
            err.cause.as_deref().is_some_and(|c| c
                .ends_with("[The field \"X\" is not supported by Step Functions (at /Item/pk/X)]")),
            "{err}"
        );
        let err = fail(
            &tasks,
            UPDATE,
            json!({"TableName": "t", "Key": {"pk": {"S": "a"}}, "ConsistentRead": true}),
        )
        .await;
        assert!(
            err.cause.as_deref().is_some_and(|c| c
                .ends_with("[The field \"ConsistentRead\" is not supported by Step Functions]")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn unreachable_dynamodb_is_an_sdk_client_exception() {
        let err = fail(
            &offline(),
            GET,
            json!({"TableName": "t", "Key": {"pk": {"S": "a"}}}),
        )
        .await;
        assert_eq!(err.error, "DynamoDB.SdkClientException");
        assert!(
            err.cause
                .as_deref()
                .is_some_and(|c| c.starts_with("Unable to execute HTTP request: ")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn legacy_attribute_updates_and_expected_are_passed_on() {
        let (tasks, table) = fresh_table().await;
        run(
            &tasks,
            PUT,
            json!({"TableName": table, "Item": {"pk": {"S": "legacy"}, "n": {"N": "1"}}}),
        )
        .await;
        let updated = run(
            &tasks,
            UPDATE,
            json!({
                "TableName": table,
                "Key": {"pk": {"S": "legacy"}},
                "AttributeUpdates": {"n": {"Action": "ADD", "Value": {"N": "2"}}},
                "Expected": {"n": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}},
                "ReturnValues": "UPDATED_NEW"
            }),
        )
        .await;
        assert_eq!(
            api_fields(&updated),
            json!({"Attributes": {"n": {"N": "3"}}})
        );
        let err = fail(
            &tasks,
            DELETE,
            json!({"TableName": table, "Key": {"pk": {"S": "legacy"}},
                   "Expected": {"n": {"Exists": false}}}),
        )
        .await;
        assert_eq!(err.error, "DynamoDB.ConditionalCheckFailedException");
    }
}
