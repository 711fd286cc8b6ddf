//! TestState against AWS's recorded answers (LocalStack's AWS-validated snapshots of
//! tests/aws/services/stepfunctions/v2/test_state, Apache-2.0).

use super::*;
use crate::store::memory::MemoryStore;

fn service() -> Service {
    Service::with_mocks(AnyStore::Memory(MemoryStore::new()), None)
}

async fn test(req: Value) -> Value {
    service().call("TestState", req).await.expect("TestState")
}

async fn refused(req: Value) -> ApiError {
    service()
        .call("TestState", req)
        .await
        .expect_err("TestState refuses")
}

fn text(v: &Value) -> Value {
    serde_json::from_str(v.as_str().expect("a JSON text")).expect("JSON")
}

#[tokio::test]
async fn a_pass_state_shows_its_processing_at_debug() {
    let definition = json!({"Type": "Pass", "InputPath": "$.initialData",
        "Parameters": {"staticValue": "some value", "inputValue.$": "$.fieldFromInput"},
        "ResultPath": "$.modifiedData", "End": true});
    let input = json!({"initialData": {"fieldFromInput": "value from input", "otherField": "other"},
        "unrelatedData": {"someOtherField": 1234}});
    let out = test(
        json!({"definition": definition.to_string(), "input": input.to_string(),
        "inspectionLevel": "DEBUG"}),
    )
    .await;
    assert_eq!(out["status"], "SUCCEEDED");
    assert!(out.get("nextState").is_none());
    let data = &out["inspectionData"];
    assert_eq!(
        text(&data["afterInputPath"]),
        json!({"fieldFromInput": "value from input", "otherField": "other"})
    );
    let params = json!({"staticValue": "some value", "inputValue": "value from input"});
    assert_eq!(text(&data["afterParameters"]), params);
    assert_eq!(text(&data["afterResultSelector"]), params);
    let mut expected = input.clone();
    expected["modifiedData"] = params;
    assert_eq!(text(&data["afterResultPath"]), expected);
    assert_eq!(text(&out["output"]), expected);
    assert_eq!(text(&data["input"]), input);

    // With a Result, AWS shows the result and not the input processing.
    let mut with_result = definition;
    with_result["Result"] = json!({"resultKey": "result value"});
    let out = test(
        json!({"definition": with_result.to_string(), "input": input.to_string(),
        "inspectionLevel": "DEBUG"}),
    )
    .await;
    let data = out["inspectionData"].as_object().expect("data");
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["afterResultPath", "afterResultSelector", "input", "result"]
    );
    // At INFO there is no inspectionData.
    let info = test(json!({"definition": with_result.to_string(), "input": "{}"})).await;
    assert!(info.get("inspectionData").is_none());
}

#[tokio::test]
async fn a_mocked_error_is_caught_or_retriable_with_aws_details() {
    let catching = json!({"QueryLanguage": "JSONata", "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": "foo", "Payload": "bar"},
        "Catch": [{"ErrorEquals": ["MockException"], "Output": "{% $states.errorOutput %}", "Next": "HandleMockError"},
                  {"ErrorEquals": ["States.TaskFailed"], "Next": "HandleThreshold"}],
        "End": true});
    let mock =
        json!({"errorOutput": {"error": "MockException", "cause": "Mock the cause of the error."}});
    let out = test(
        json!({"definition": catching.to_string(), "input": "{\"Value\":\"HelloWorld\"}",
        "mock": mock, "inspectionLevel": "DEBUG"}),
    )
    .await;
    assert_eq!(out["status"], "CAUGHT_ERROR");
    assert_eq!(out["error"], "MockException");
    assert_eq!(out["cause"], "Mock the cause of the error.");
    assert_eq!(out["nextState"], "HandleMockError");
    assert_eq!(
        out["inspectionData"]["errorDetails"],
        json!({"catchIndex": 0})
    );
    assert_eq!(
        text(&out["inspectionData"]["afterArguments"]),
        json!({"FunctionName": "foo", "Payload": "bar"})
    );
    assert_eq!(
        text(&out["output"]),
        json!({"Error": "MockException", "Cause": "Mock the cause of the error."})
    );

    let retrying = json!({"QueryLanguage": "JSONata", "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"FunctionName": "foo"},
        "Retry": [{"ErrorEquals": ["MockException"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 2.0}],
        "End": true});
    let out = test(json!({"definition": retrying.to_string(), "mock": mock,
        "stateConfiguration": {"retrierRetryCount": 4}, "inspectionLevel": "DEBUG"}))
    .await;
    assert_eq!(out["status"], "RETRIABLE");
    assert!(out.get("output").is_none());
    assert_eq!(
        out["inspectionData"]["errorDetails"],
        json!({"retryBackoffIntervalSeconds": 16, "retryIndex": 0})
    );
    let out = test(json!({"definition": retrying.to_string(), "mock": mock,
        "stateConfiguration": {"retrierRetryCount": 5}, "inspectionLevel": "DEBUG"}))
    .await;
    assert_eq!(out["status"], "FAILED");
    assert_eq!(
        out["inspectionData"]["errorDetails"],
        json!({"retryIndex": 0})
    );
}

#[tokio::test]
async fn choice_fail_and_succeed_answer_as_aws_does() {
    let choice = json!({"Type": "Choice", "Choices": [
        {"Variable": "$.value", "NumericGreaterThanEquals": 20, "Next": "ValueInTwenties"}],
        "Default": "Other"});
    let out = test(json!({"definition": choice.to_string(),
        "input": "{\"type\":\"Private\",\"value\":22}", "inspectionLevel": "DEBUG"}))
    .await;
    assert_eq!(out["status"], "SUCCEEDED");
    assert_eq!(out["nextState"], "ValueInTwenties");
    assert_eq!(
        text(&out["output"]),
        json!({"type": "Private", "value": 22})
    );
    assert_eq!(
        text(&out["inspectionData"]["afterInputPath"]),
        json!({"type": "Private", "value": 22})
    );

    let fail = json!({"Type": "Fail", "Error": "SomeFailure",
        "Cause": "This state machines raises a 'SomeFailure' failure."});
    let out = test(
        json!({"definition": fail.to_string(), "input": "{\"Value\":\"HelloWorld\"}",
        "inspectionLevel": "TRACE"}),
    )
    .await;
    assert_eq!(out["status"], "FAILED");
    assert_eq!(out["error"], "SomeFailure");
    assert_eq!(
        out["cause"],
        "This state machines raises a 'SomeFailure' failure."
    );
    assert!(out.get("output").is_none());

    let out = test(json!({"definition": "{\"Type\":\"Succeed\"}", "input": "{\"a\":1}"})).await;
    assert_eq!(out, json!({"output": "{\"a\":1}", "status": "SUCCEEDED"}));
}

#[tokio::test]
async fn a_state_of_a_whole_machine_runs_alone_with_the_callers_variables() {
    let machine = json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"constant": 1}, "Next": "State0"},
        "State0": {"Type": "Pass", "Output": {
            "name": "{% $states.context.State.Name %}",
            "sum": "{% $sum($states.input.values) + $constant %}"}, "Next": "State1"},
        "State1": {"Type": "Fail", "Error": "SomeFailure"}}});
    let out = test(
        json!({"definition": machine.to_string(), "stateName": "State0",
        "input": "{\"values\":[1,2,3]}", "variables": "{\"constant\":10}",
        "inspectionLevel": "DEBUG"}),
    )
    .await;
    assert_eq!(out["status"], "SUCCEEDED");
    assert_eq!(out["nextState"], "State1");
    assert_eq!(
        text(&out["output"]),
        json!({"name": "StateName", "sum": 16})
    );
    assert_eq!(
        text(&out["inspectionData"]["variables"]),
        json!({"constant": 10})
    );
    let e = refused(json!({"definition": machine.to_string(), "stateName": "dne"})).await;
    assert_eq!(e.kind, Exception::ValidationException);
    assert_eq!(e.message, "State not found in definition");
}

#[tokio::test]
async fn mocked_map_and_parallel_states_run_their_own_processing_only() {
    let parallel = json!({"Type": "Parallel", "InputPath": "$.parallelInput",
        "ResultPath": "$.parallelResult", "OutputPath": "$", "Branches": [
            {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}},
            {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "End": true}}}], "End": true});
    let out = test(json!({"definition": parallel.to_string(),
        "input": "{\"parallelInput\":{\"data\":\"input_value\"}}",
        "mock": {"result": "[{\"branch1\": \"result\"}, {\"branch2\": \"result\"}]"},
        "inspectionLevel": "DEBUG"}))
    .await;
    assert_eq!(out["status"], "SUCCEEDED");
    assert_eq!(
        text(&out["output"]),
        json!({"parallelInput": {"data": "input_value"},
               "parallelResult": [{"branch1": "result"}, {"branch2": "result"}]})
    );
    let mut keys: Vec<String> = out["inspectionData"]
        .as_object()
        .expect("data")
        .keys()
        .cloned()
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["afterResultPath", "afterResultSelector", "input"]);
    let e = refused(json!({"definition": parallel.to_string(), "mock": {"result": "[1]"}})).await;
    assert_eq!(
        e.message,
        "Mocked result must contain the same number of items as number of Parallel branches."
    );

    let map = json!({"Type": "Map", "ItemsPath": "$.Values", "ToleratedFailureCount": 1,
        "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Pass", "End": true}}},
        "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "HandleThreshold"}],
        "End": true});
    let input = "{\"Values\":[\"first\",\"second\",\"third\"]}";
    let ok = test(json!({"definition": map.to_string(), "input": input,
        "mock": {"result": "[1, 1, 1]"}, "inspectionLevel": "DEBUG"}))
    .await;
    assert_eq!(ok["status"], "SUCCEEDED");
    assert_eq!(text(&ok["output"]), json!([1, 1, 1]));
    assert_eq!(ok["inspectionData"]["maxConcurrency"], 0);
    assert_eq!(ok["inspectionData"]["toleratedFailureCount"], 1);
    assert_eq!(
        text(&ok["inspectionData"]["afterItemsPath"]),
        json!(["first", "second", "third"])
    );
    let over = test(json!({"definition": map.to_string(), "input": input,
        "mock": {"result": "[0, 0, 1]"}, "stateConfiguration": {"mapIterationFailureCount": 2}}))
    .await;
    assert_eq!(over["status"], "CAUGHT_ERROR");
    assert_eq!(over["error"], "States.ExceedToleratedFailureThreshold");
    assert_eq!(over["nextState"], "HandleThreshold");
    let e = refused(json!({"definition": map.to_string(), "input": input,
        "mock": {"result": "[0, 0, 1]"}, "stateConfiguration": {"mapIterationFailureCount": 4}}))
    .await;
    assert_eq!(
        e.message,
        "Map iteration failure count must be less than or equal to the number of Map iterations"
    );
}

#[tokio::test]
async fn a_callers_context_replaces_the_context_object() {
    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody": {"TaskToken.$": "$$.Task.Token", "Name.$": "$$.Execution.Name"}},
        "ResultPath": "$.SQS", "Next": "NEXT_STATE"});
    let out = test(json!({"definition": task.to_string(),
        "context": "{\"Execution\":{\"Name\":\"mine\"},\"Task\":{\"Token\":\"abcd123\"}}",
        "mock": {"result": "{\"ok\":true}"}, "inspectionLevel": "DEBUG"}))
    .await;
    assert_eq!(out["status"], "SUCCEEDED");
    assert_eq!(out["nextState"], "NEXT_STATE");
    assert_eq!(
        text(&out["inspectionData"]["afterParameters"]),
        json!({"QueueUrl": "q", "MessageBody": {"TaskToken": "abcd123", "Name": "mine"}})
    );
    assert_eq!(text(&out["output"]), json!({"SQS": {"ok": true}}));
    for (context, message) in [
        ("{\"Map\":{}}", "Invalid Context object provided: 'Map' field is not supported when mocking a Context object"),
        ("{\"Pokedex\":{}}", "Invalid Context object provided: Field 'Pokedex' is not allowed"),
        ("{\"Execution\":{\"Id\":1}}", "Invalid Context object provided: Execution.Id must be a string"),
    ] {
        let e = refused(json!({"definition": task.to_string(), "context": context,
            "mock": {"result": "{}"}}))
        .await;
        assert_eq!(e.message, message, "{context}");
    }
}

#[tokio::test]
async fn bad_requests_get_aws_errors() {
    let pass = "{\"Type\":\"Pass\",\"End\":true}";
    let lambda = "{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\",\"End\":true}";
    let map = "{\"Type\":\"Map\",\"ItemProcessor\":{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}";
    let cases = [
        (json!({"definition": pass, "mock": {"result": "{}"}}), Exception::ValidationException,
         "State type 'Pass' is not supported when a mock is specified"),
        (json!({"definition": lambda, "mock": {"result": "{}", "errorOutput": {"error": "E"}}}),
         Exception::ValidationException,
         "A test mock should have only one of the following fields: [result, errorOutput]."),
        (json!({"definition": lambda, "mock": {"result": "{}"}, "revealSecrets": true}),
         Exception::ValidationException,
         "TestState does not support RevealSecrets when a mock is specified."),
        (json!({"definition": lambda, "mock": {"result": "not json"}}), Exception::ValidationException,
         "Mocked result must be valid JSON"),
        (json!({"definition": lambda}), Exception::ValidationException,
         "RoleArn must be specified when testing a Task state"),
        (json!({"definition": map, "roleArn": "r"}), Exception::InvalidDefinition,
         "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]"),
        (json!({"definition": map, "roleArn": "r", "stateConfiguration": {"mapIterationFailureCount": 1}}),
         Exception::ValidationException,
         "TestState does not support MapIterationFailureCount when a mock is not specified."),
        (json!({"definition": map, "mock": {"result": "{}"}}), Exception::ValidationException,
         "Mocked result must be an array."),
    ];
    for (req, kind, message) in cases {
        let e = refused(req.clone()).await;
        assert_eq!((e.kind, e.message.as_str()), (kind, message), "{req}");
    }
    let e = refused(
        json!({"definition": "{\"Type\":\"Parallel\",\"Branches\":[],\"End\":true}",
        "mock": {"result": "[]"}}),
    )
    .await;
    assert_eq!(e.kind, Exception::InvalidDefinition);
    assert!(
        e.message.contains("/States/StateName/Branches"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn trace_shows_an_http_tasks_request_and_response() {
    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": "https://api.example.com/orders", "Method": "POST",
            "QueryParameters": {"dry": "true"}, "RequestBody": {"order": 7},
            "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:111111111111:connection/c/1"}},
        "End": true});
    let result = json!({"StatusCode": 201, "StatusText": "Created",
        "Headers": {"content-type": ["application/json"]}, "ResponseBody": {"id": "o-7"}});
    let out = test(
        json!({"definition": task.to_string(), "inspectionLevel": "TRACE",
        "mock": {"result": result.to_string()}}),
    )
    .await;
    let data = &out["inspectionData"];
    assert_eq!(data["request"]["method"], "POST");
    assert_eq!(
        data["request"]["url"],
        "https://api.example.com/orders?dry=true"
    );
    assert_eq!(data["request"]["body"], "{\"order\":7}");
    assert_eq!(data["response"]["statusCode"], "201");
    assert_eq!(data["response"]["statusMessage"], "Created");
    assert_eq!(data["response"]["body"], "{\"id\":\"o-7\"}");
    let debug = test(
        json!({"definition": task.to_string(), "inspectionLevel": "DEBUG",
        "mock": {"result": result.to_string()}}),
    )
    .await;
    assert!(
        debug["inspectionData"].get("request").is_none(),
        "only at TRACE"
    );
}

#[tokio::test]
async fn mocked_results_are_checked_against_the_service_model() {
    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sts:assumeRole",
        "Parameters": {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "s"}, "End": true})
    .to_string();
    let partial = json!({"Credentials": {"AccessKeyId": "a"}}).to_string();
    // STRICT is the default: the required members of Credentials must be there.
    let e = refused(json!({"definition": task, "mock": {"result": partial}})).await;
    assert_eq!(e.kind, Exception::ValidationException);
    assert_eq!(
        e.message,
        "Mock result schema validation error: Required field 'SecretAccessKey' is missing"
    );
    let out = test(json!({"definition": task,
        "mock": {"result": partial, "fieldValidationMode": "PRESENT"}}))
    .await;
    assert_eq!(out["status"], "SUCCEEDED");
    let wrong = json!({"Credentials": {"AccessKeyId": 7}}).to_string();
    let e = refused(json!({"definition": task,
        "mock": {"result": wrong, "fieldValidationMode": "PRESENT"}}))
    .await;
    assert_eq!(
        e.message,
        "Mock result schema validation error: Field 'AccessKeyId' must be a string"
    );
    let out = test(json!({"definition": task,
        "mock": {"result": wrong, "fieldValidationMode": "NONE"}}))
    .await;
    assert_eq!(out["status"], "SUCCEEDED");
}
