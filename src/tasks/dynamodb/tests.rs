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
        err.cause
            .as_deref()
            .is_some_and(|c| c
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
        err.cause
            .as_deref()
            .is_some_and(|c| c
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
        err.cause
            .as_deref()
            .is_some_and(|c| c
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
