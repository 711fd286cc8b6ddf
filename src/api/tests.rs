use super::*;
use crate::store::memory::MemoryStore;

fn service() -> Service {
    Service::with_mocks(AnyStore::Memory(MemoryStore::new()), None)
}

#[test]
fn names_follow_step_functions_rules() {
    assert!(valid_name("order-42_ok.v2"));
    assert!(!valid_name(""));
    assert!(!valid_name("has space"));
    assert!(!valid_name("a:b"));
    assert!(!valid_name(&"x".repeat(81)));
}

#[tokio::test]
async fn unknown_execution_is_execution_does_not_exist() {
    let e = service()
        .call(
            "DescribeExecution",
            json!({"executionArn": "arn:aws:states:us-east-1:111111111111:execution:m:e"}),
        )
        .await
        .expect_err("missing");
    assert_eq!(e.kind, Exception::ExecutionDoesNotExist);
    let e = service()
        .call("DescribeExecution", json!({"executionArn": "nope"}))
        .await
        .expect_err("bad arn");
    assert_eq!(e.kind, Exception::InvalidArn);
}

#[tokio::test]
async fn create_is_idempotent_and_conflicts_on_change() {
    let s = service();
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let a = s
        .call(
            "CreateStateMachine",
            json!({"name": "m", "definition": def, "roleArn": "r"}),
        )
        .await
        .expect("create");
    let b = s
        .call(
            "CreateStateMachine",
            json!({"name": "m", "definition": def, "roleArn": "r"}),
        )
        .await
        .expect("again");
    assert_eq!(a["stateMachineArn"], b["stateMachineArn"]);
    let other = r#"{"StartAt":"Q","States":{"Q":{"Type":"Pass","End":true}}}"#;
    let e = s
        .call(
            "CreateStateMachine",
            json!({"name": "m", "definition": other, "roleArn": "r"}),
        )
        .await
        .expect_err("conflict");
    assert_eq!(e.kind, Exception::StateMachineAlreadyExists);
    let e = s
        .call(
            "CreateStateMachine",
            json!({"name": "bad", "definition": "{}", "roleArn": "r"}),
        )
        .await
        .expect_err("invalid");
    assert_eq!(e.kind, Exception::InvalidDefinition);
}

#[tokio::test]
async fn validate_reports_diagnostics_with_locations() {
    let v = service()
        .call(
            "ValidateStateMachineDefinition",
            json!({"definition": r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#}),
        )
        .await
        .expect("validate");
    assert_eq!(v["result"], "FAIL");
    assert_eq!(v["diagnostics"][0]["location"], "/States/A/Next");
    assert_eq!(v["diagnostics"][0]["severity"], "ERROR");
}

#[tokio::test]
async fn test_case_suffix_selects_mocked_responses() {
    let mocks = json!({
        "StateMachines": {"mocked": {"TestCases": {"Happy": {"T": "Ok"}, "Sad": {"T": "Boom"},
                                                   "Typo": {"Tsk": "Ok"}}}},
        "MockedResponses": {
            "Ok": {"0": {"Return": {"done": true}}},
            "Boom": {"0": {"Throw": {"Error": "Mock.Error", "Cause": "sad path"}}}
        }
    });
    let s = Service::with_mocks(AnyStore::Memory(MemoryStore::new()), Some(mocks));
    let def = r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:111111111111:function:f","End":true}}}"#;
    let arn = s
        .call(
            "CreateStateMachine",
            json!({"name": "mocked", "definition": def, "roleArn": "r", "type": "EXPRESS"}),
        )
        .await
        .expect("create")["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let happy = s
        .call(
            "StartSyncExecution",
            json!({"stateMachineArn": format!("{arn}#Happy")}),
        )
        .await
        .expect("sync");
    assert_eq!(happy["status"], "SUCCEEDED");
    assert_eq!(happy["output"], r#"{"done":true}"#);
    let sad = s
        .call(
            "StartSyncExecution",
            json!({"stateMachineArn": format!("{arn}#Sad")}),
        )
        .await
        .expect("sync");
    assert_eq!(sad["status"], "FAILED");
    assert_eq!(sad["error"], "Mock.Error");
    assert_eq!(sad["cause"], "sad path");
    let unknown = s
        .call(
            "StartSyncExecution",
            json!({"stateMachineArn": format!("{arn}#Nope")}),
        )
        .await
        .expect_err("no such test case");
    assert_eq!(unknown.kind, Exception::ValidationException);
    let typo = s
        .call(
            "StartExecution",
            json!({"stateMachineArn": format!("{arn}#Typo")}),
        )
        .await
        .expect_err("a test case mocking a state the machine lacks");
    assert_eq!(typo.kind, Exception::ValidationException);
    assert!(
        typo.message.contains("mocks state \"Tsk\""),
        "{}",
        typo.message
    );
}

#[tokio::test]
async fn pagination_walks_all_machines() {
    let s = service();
    // Created out of name order; AWS lists by name.
    for i in [2, 0, 1] {
        s.call(
            "CreateStateMachine",
            json!({"name": format!("m{i}"), "definition": r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#, "roleArn": "r"}),
        )
        .await
        .expect("create");
    }
    let mut names = Vec::new();
    let mut req = json!({"maxResults": 2});
    loop {
        let page = s
            .call("ListStateMachines", req.clone())
            .await
            .expect("list");
        for m in page["stateMachines"].as_array().expect("array") {
            names.push(m["name"].as_str().unwrap_or_default().to_string());
        }
        match page.get("nextToken") {
            Some(t) => req = json!({"maxResults": 2, "nextToken": t}),
            None => break,
        }
    }
    assert_eq!(names, ["m0", "m1", "m2"]);
}

#[tokio::test]
async fn executions_are_listed_most_recent_first() {
    let s = service();
    let arn = s
        .call(
            "CreateStateMachine",
            json!({"name": "order", "definition": r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#, "roleArn": "r"}),
        )
        .await
        .expect("create")["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    for name in ["first", "second", "third"] {
        s.call(
            "StartExecution",
            json!({"stateMachineArn": arn, "name": name}),
        )
        .await
        .expect("start");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let list = s
        .call("ListExecutions", json!({"stateMachineArn": arn}))
        .await
        .expect("list");
    let names: Vec<&str> = list["executions"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["third", "second", "first"]);
}

#[tokio::test]
async fn describe_execution_shows_the_input_as_sent() {
    let s = service();
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let m = s
        .call(
            "CreateStateMachine",
            json!({"name": "m", "definition": def, "roleArn": "arn:aws:iam::111111111111:role/r"}),
        )
        .await
        .expect("create");
    let text = "{ \"a\" : [1,  2] }";
    let started = s
        .call(
            "StartExecution",
            json!({"stateMachineArn": m["stateMachineArn"], "input": text}),
        )
        .await
        .expect("start");
    let d = s
        .call(
            "DescribeExecution",
            json!({"executionArn": started["executionArn"]}),
        )
        .await
        .expect("describe");
    assert_eq!(d["input"], text);
}

#[tokio::test]
async fn state_machines_show_their_configuration_and_updates_a_revision() {
    let s = service();
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let created = s
        .call(
            "CreateStateMachine",
            json!({"name": "cfg", "definition": def, "roleArn": "arn:aws:iam::111111111111:role/r"}),
        )
        .await
        .expect("create");
    let arn = created["stateMachineArn"].clone();
    let d = s
        .call("DescribeStateMachine", json!({"stateMachineArn": arn}))
        .await
        .expect("describe");
    assert_eq!(d["tracingConfiguration"], json!({"enabled": false}));
    assert_eq!(
        d["encryptionConfiguration"],
        json!({"type": "AWS_OWNED_KEY"})
    );
    assert_eq!(
        d["loggingConfiguration"],
        json!({"level": "OFF", "includeExecutionData": false})
    );
    assert!(
        d.get("revisionId").is_none(),
        "no revision before an update"
    );

    let e = s
        .call("UpdateStateMachine", json!({"stateMachineArn": arn}))
        .await
        .expect_err("nothing to update");
    assert_eq!(e.kind, Exception::MissingRequiredParameter);
    assert_eq!(
        e.message,
        "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified"
    );

    let e = s
        .call(
            "UpdateStateMachine",
            json!({"stateMachineArn": arn, "loggingConfiguration": {"level": "ALL"}}),
        )
        .await
        .expect_err("a level without a destination");
    assert_eq!(e.kind, Exception::InvalidLoggingConfiguration);

    let updated = s
        .call(
            "UpdateStateMachine",
            json!({"stateMachineArn": arn, "tracingConfiguration": {"enabled": true}}),
        )
        .await
        .expect("update");
    let revision = updated["revisionId"]
        .as_str()
        .expect("revisionId")
        .to_string();
    let d = s
        .call("DescribeStateMachine", json!({"stateMachineArn": arn}))
        .await
        .expect("describe");
    assert_eq!(d["revisionId"], revision.as_str());
    assert_eq!(d["tracingConfiguration"], json!({"enabled": true}));
}

#[tokio::test]
async fn express_machines_cannot_use_sync_callbacks_or_activities() {
    let s = service();
    let def = r#"{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync","End":true}}}"#;
    let e = s
        .call(
            "CreateStateMachine",
            json!({"name": "ex", "definition": def, "type": "EXPRESS",
                   "roleArn": "arn:aws:iam::111111111111:role/r"}),
        )
        .await
        .expect_err("express with .sync");
    assert_eq!(e.kind, Exception::InvalidDefinition);
    assert_eq!(
        e.message,
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not support '.sync' service integration at /States/S/Resource'"
    );
    let v = s
        .call(
            "ValidateStateMachineDefinition",
            json!({"definition": def, "type": "EXPRESS"}),
        )
        .await
        .expect("validate");
    assert_eq!(v["result"], "FAIL");
    assert_eq!(v["diagnostics"][0]["location"], "/States/S/Resource");
    let v = s
        .call("ValidateStateMachineDefinition", json!({"definition": def}))
        .await
        .expect("validate");
    assert_eq!(v["result"], "OK", "a STANDARD machine may use .sync");
}

#[tokio::test]
async fn resources_are_made_in_the_callers_region_and_the_services_account() {
    let s = service().with_account("123456789012");
    let caller = http::Caller {
        region: Some("eu-west-1".into()),
    };
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let m = s
        .call_as(
            "CreateStateMachine",
            json!({"name": "regional", "definition": def}),
            caller.clone(),
        )
        .await
        .expect("create");
    assert_eq!(
        m["stateMachineArn"],
        "arn:aws:states:eu-west-1:123456789012:stateMachine:regional"
    );
    let started = s
        .call_as(
            "StartExecution",
            json!({"stateMachineArn": m["stateMachineArn"], "name": "e"}),
            caller.clone(),
        )
        .await
        .expect("start");
    assert_eq!(
        started["executionArn"],
        "arn:aws:states:eu-west-1:123456789012:execution:regional:e"
    );
    let a = s
        .call_as("CreateActivity", json!({"name": "act"}), caller)
        .await
        .expect("activity");
    assert_eq!(
        a["activityArn"],
        "arn:aws:states:eu-west-1:123456789012:activity:act"
    );
    let d = s
        .call(
            "DescribeStateMachine",
            json!({"stateMachineArn": m["stateMachineArn"]}),
        )
        .await
        .expect("describe");
    assert_eq!(d["roleArn"], "arn:aws:iam::123456789012:role/stepfn");
}

#[test]
fn the_region_is_read_from_the_sigv4_credential_scope() {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        axum::http::header::AUTHORIZATION,
        "AWS4-HMAC-SHA256 Credential=AKID/20261203/ap-south-1/states/aws4_request, SignedHeaders=host, Signature=abc"
            .parse()
            .expect("header"),
    );
    assert_eq!(
        http::Caller::from_headers(&headers).region.as_deref(),
        Some("ap-south-1")
    );
    assert_eq!(
        http::Caller::from_headers(&axum::http::HeaderMap::new()).region,
        None
    );
}

#[tokio::test]
async fn activities_take_tags() {
    let s = service();
    let a = s
        .call(
            "CreateActivity",
            json!({"name": "tagged", "tags": [{"key": "team", "value": "a"}]}),
        )
        .await
        .expect("create");
    let arn = a["activityArn"].clone();
    s.call(
        "TagResource",
        json!({"resourceArn": arn, "tags": [{"key": "env", "value": "dev"}]}),
    )
    .await
    .expect("tag");
    s.call(
        "UntagResource",
        json!({"resourceArn": arn, "tagKeys": ["team"]}),
    )
    .await
    .expect("untag");
    let listed = s
        .call("ListTagsForResource", json!({"resourceArn": arn}))
        .await
        .expect("list");
    assert_eq!(listed["tags"], json!([{"key": "env", "value": "dev"}]));
    let e = s
        .call(
            "ListTagsForResource",
            json!({"resourceArn": "arn:aws:states:us-east-1:111111111111:activity:none"}),
        )
        .await
        .expect_err("missing");
    assert_eq!(e.kind, Exception::ResourceNotFound);
}

#[tokio::test]
async fn invalid_definitions_are_worded_as_aws_words_them() {
    let s = service();
    let cases = [
        (
            r#"{"StartAt":"A"}"#,
            "SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /",
        ),
        (
            r#"{"StartAt":"X","States":{"X":{"Type":"Nope","End":true}}}"#,
            "SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at /States/X/Type",
        ),
        (
            r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[],"End":true}}}"#,
            "SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/P/Branches",
        ),
    ];
    for (i, (def, message)) in cases.iter().enumerate() {
        let e = s
            .call(
                "CreateStateMachine",
                json!({"name": format!("bad{i}"), "definition": def,
                       "roleArn": "arn:aws:iam::111111111111:role/r"}),
            )
            .await
            .expect_err("invalid");
        assert_eq!(e.kind, Exception::InvalidDefinition, "{def}");
        assert_eq!(
            e.message,
            format!("Invalid State Machine Definition: '{message}'"),
            "{def}"
        );
    }
}

#[tokio::test]
async fn validate_state_machine_definition_reports_as_aws_recorded() {
    let s = service();
    let v = s
        .call(
            "ValidateStateMachineDefinition",
            json!({"definition": "{}"}),
        )
        .await
        .expect("validate");
    assert_eq!(
        v["diagnostics"],
        json!([{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "location": "/",
                "message": "These fields are required: [States, StartAt]"}])
    );
    let v = s
        .call("ValidateStateMachineDefinition", json!({"definition": ""}))
        .await
        .expect("validate");
    assert_eq!(
        v["diagnostics"],
        json!([{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
                "message": "Definition must be a valid JSON object"}])
    );
    let v = s
        .call(
            "ValidateStateMachineDefinition",
            json!({"definition": "not a definition"}),
        )
        .await
        .expect("validate");
    assert_eq!(
        v["diagnostics"],
        json!([{"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION",
                "location": "[Source: (String)\"not a definition\"; line: 1, column: 4]",
                "message": "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: (String)\"not a definition\"; line: 1, column: 4]"}])
    );
    let downgrade = r#"{"QueryLanguage":"JSONata","StartAt":"Pass","States":{"Pass":{"Type":"Pass","QueryLanguage":"JSONPath","End":true}}}"#;
    let v = s
        .call(
            "ValidateStateMachineDefinition",
            json!({"definition": downgrade}),
        )
        .await
        .expect("validate");
    assert_eq!(
        v["diagnostics"],
        json!([{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "location": "/States/Pass",
                "message": "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"}])
    );
}

#[tokio::test]
async fn workflows_that_cannot_end_or_reach_a_state_are_refused_with_aws_codes() {
    let s = service();
    let endless = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"A"}}}"#;
    let v = s
        .call(
            "ValidateStateMachineDefinition",
            json!({"definition": endless}),
        )
        .await
        .expect("validate");
    assert_eq!(
        v["diagnostics"],
        json!([{"severity": "ERROR", "code": "MISSING_END_STATE",
                "message": "Workflow has no terminal state"}])
    );
    let e = s
        .call(
            "CreateStateMachine",
            json!({"name": "endless", "definition": endless,
                   "roleArn": "arn:aws:iam::111111111111:role/r"}),
        )
        .await
        .expect_err("endless");
    assert_eq!(
        e.message,
        "Invalid State Machine Definition: 'MISSING_END_STATE: Workflow has no terminal state at null'"
    );
    let orphan = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true},"C":{"Type":"Pass","End":true}}}"#;
    let v = s
        .call(
            "ValidateStateMachineDefinition",
            json!({"definition": orphan}),
        )
        .await
        .expect("validate");
    assert_eq!(
        v["diagnostics"],
        json!([{"severity": "ERROR", "code": "MISSING_TRANSITION_TARGET",
                "message": "State \"C\" is not reachable.", "location": "/States/C"}])
    );
    let dangling = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"NOPE"}}}"#;
    let v = s
        .call(
            "ValidateStateMachineDefinition",
            json!({"definition": dangling}),
        )
        .await
        .expect("validate");
    assert_eq!(
        v["diagnostics"],
        json!([
            {"severity": "ERROR", "code": "MISSING_TRANSITION_TARGET",
             "message": "Missing 'Next' target: NOPE", "location": "/States/A/Next"},
            {"severity": "ERROR", "code": "MISSING_END_STATE",
             "message": "Workflow has no terminal state"}
        ])
    );
}

#[tokio::test]
async fn bad_arns_are_worded_as_aws_words_them() {
    let s = service();
    let e = s
        .call("DescribeExecution", json!({"executionArn": "nope"}))
        .await
        .expect_err("not an ARN");
    assert_eq!(e.kind, Exception::InvalidArn);
    assert_eq!(e.message, "Invalid Arn: 'Invalid ARN prefix: nope'");
    let e = s
        .call(
            "DescribeExecution",
            json!({"executionArn": "arn:aws:states:us-east-1:111111111111:express:m:e:1"}),
        )
        .await
        .expect_err("an express execution");
    assert_eq!(
        e.message,
        "Invalid Arn: 'Resource type not valid in this context: express'"
    );
}

#[tokio::test]
async fn describe_state_machine_reports_variable_references_and_honours_included_data() {
    let s = service();
    let def = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1},"Next":"B"},"B":{"Type":"Pass","Parameters":{"v.$":"$x","c":"$notARef"},"End":true}}}"#;
    let arn = s
        .call(
            "CreateStateMachine",
            json!({"name": "refs", "definition": def, "roleArn": "r"}),
        )
        .await
        .expect("create")["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let full = s
        .call("DescribeStateMachine", json!({"stateMachineArn": arn}))
        .await
        .expect("describe");
    assert_eq!(full["variableReferences"], json!({"B": ["x"]}));
    let meta = s
        .call(
            "DescribeStateMachine",
            json!({"stateMachineArn": arn, "includedData": "METADATA_ONLY"}),
        )
        .await
        .expect("describe");
    assert!(meta.get("definition").is_none() && meta.get("variableReferences").is_none());
    let bad = s
        .call(
            "DescribeStateMachine",
            json!({"stateMachineArn": arn, "includedData": "SOME"}),
        )
        .await
        .expect_err("bad includedData");
    assert_eq!(bad.kind, Exception::ValidationException);
}

#[tokio::test]
async fn paging_parameters_are_checked_as_aws_checks_them() {
    let s = service();
    let too_many = s
        .call("ListStateMachines", json!({"maxResults": 1001}))
        .await
        .expect_err("maxResults over 1000");
    assert_eq!(too_many.kind, Exception::ValidationException);
    assert_eq!(
        too_many.message,
        "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
    );
    let long = "x".repeat(1025);
    let e = s
        .call("ListStateMachines", json!({"nextToken": long}))
        .await
        .expect_err("long token");
    assert_eq!(e.kind, Exception::ValidationException);
    assert!(e
        .message
        .ends_with("Member must have length less than or equal to 1024"));
    let e = s
        .call("ListActivities", json!({"nextToken": ""}))
        .await
        .expect_err("empty token");
    assert_eq!(e.kind, Exception::ValidationException);
    let e = s
        .call("ListStateMachines", json!({"nextToken": "bm90IG91cnM="}))
        .await
        .expect_err("foreign token");
    assert_eq!(e.kind, Exception::InvalidToken);
}

#[tokio::test]
async fn an_input_that_is_not_json_is_worded_as_jackson_words_it() {
    let s = service();
    let arn = s
        .call(
            "CreateStateMachine",
            json!({"name": "in", "definition": r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#, "roleArn": "r"}),
        )
        .await
        .expect("create")["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let e = s
        .call(
            "StartExecution",
            json!({"stateMachineArn": arn, "input": "not an input"}),
        )
        .await
        .expect_err("not JSON");
    assert_eq!(e.kind, Exception::InvalidExecutionInput);
    assert_eq!(
        e.message,
        "Invalid State Machine Execution Input: 'Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')'"
    );
}

#[tokio::test]
async fn an_express_start_runs_under_an_express_arn_that_is_not_describable() {
    let s = service();
    let child = s
        .call(
            "CreateStateMachine",
            json!({"name": "child", "definition": r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#, "roleArn": "r"}),
        )
        .await
        .expect("child")["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let def = json!({"StartAt": "Start", "States": {"Start": {"Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {"StateMachineArn": child, "Name": "from-express"}, "End": true}}});
    let express = s
        .call(
            "CreateStateMachine",
            json!({"name": "fast", "definition": def.to_string(), "roleArn": "r", "type": "EXPRESS"}),
        )
        .await
        .expect("express")["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let started = s
        .call(
            "StartExecution",
            json!({"stateMachineArn": express, "name": "e1"}),
        )
        .await
        .expect("start");
    let arn = started["executionArn"].as_str().expect("arn");
    assert!(
        arn.starts_with("arn:aws:states:us-east-1:111111111111:express:fast:e1:"),
        "{arn}"
    );
    assert!(started["startDate"].is_number());
    let e = s
        .call("DescribeExecution", json!({"executionArn": arn}))
        .await
        .expect_err("not describable");
    assert_eq!(e.kind, Exception::InvalidArn);
    // It ran: its task started the child.
    let mut listed = 0;
    for _ in 0..100 {
        let list = s
            .call("ListExecutions", json!({"stateMachineArn": child}))
            .await
            .expect("list");
        listed = list["executions"].as_array().map_or(0, Vec::len);
        if listed == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(listed, 1, "the express execution ran its task");
}

#[tokio::test]
async fn the_queue_key_comes_from_tags_and_the_trace_header() {
    let s = service();
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let created = s
        .call(
            "CreateStateMachine",
            json!({"name": "q", "definition": def, "roleArn": "r",
                   "tags": [{"key": "stepfn:tenant", "value": "acme"},
                            {"key": "stepfn:priority", "value": "2"}]}),
        )
        .await
        .expect("create");
    let machine = created["stateMachineArn"].clone();
    let queue_of = |arn: Value| {
        let store = s.store().clone();
        async move {
            let arn = arn.as_str().expect("arn").to_string();
            store
                .get_execution(&arn)
                .await
                .expect("get")
                .expect("stored")
                .info
                .origin
                .queue
        }
    };
    let tagged = s
        .call(
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "tagged"}),
        )
        .await
        .expect("start");
    let q = queue_of(tagged["executionArn"].clone())
        .await
        .expect("a queue key");
    assert_eq!((q.priority, q.tenant.as_str(), q.weight), (2, "acme", 1));
    let traced = s
        .call(
            "StartExecution",
            json!({"stateMachineArn": machine, "name": "traced",
                   "traceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793;stepfn:priority=9;stepfn:tenant=other"}),
        )
        .await
        .expect("start");
    let q = queue_of(traced["executionArn"].clone())
        .await
        .expect("a queue key");
    assert_eq!((q.priority, q.tenant.as_str()), (9, "other"));
}

#[tokio::test]
async fn waits_and_timeouts_over_aws_maximum_are_invalid_definitions() {
    let s = service();
    let wait = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":9223372036854775807,"End":true}}}"#;
    let e = s
        .call(
            "CreateStateMachine",
            json!({"name": "w", "definition": wait, "roleArn": "r"}),
        )
        .await
        .expect_err("over the maximum");
    assert_eq!(e.kind, Exception::InvalidDefinition);
    assert_eq!(
        e.message,
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/W/Seconds'"
    );
    let v = s
        .call(
            "ValidateStateMachineDefinition",
            json!({"definition": wait}),
        )
        .await
        .expect("validate");
    assert_eq!(v["result"], "FAIL");
    assert_eq!(v["diagnostics"][0]["message"], "Maximum value is 99999999");
    assert_eq!(v["diagnostics"][0]["location"], "/States/W/Seconds");
    let ok = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"End":true}}}"#;
    let arn = s
        .call(
            "CreateStateMachine",
            json!({"name": "w", "definition": ok, "roleArn": "r"}),
        )
        .await
        .expect("create")["stateMachineArn"]
        .clone();
    let timeout = r#"{"StartAt":"W","TimeoutSeconds":100000000,"States":{"W":{"Type":"Wait","Seconds":1,"End":true}}}"#;
    let e = s
        .call(
            "UpdateStateMachine",
            json!({"stateMachineArn": arn, "definition": timeout}),
        )
        .await
        .expect_err("over the maximum");
    assert_eq!(
        e.message,
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /TimeoutSeconds'"
    );
}

#[tokio::test]
async fn definition_over_aws_size_limit_is_a_validation_exception() {
    let s = service();
    let big = format!(
        r#"{{"Comment":"{}","StartAt":"P","States":{{"P":{{"Type":"Pass","End":true}}}}}}"#,
        "x".repeat(1_048_576)
    );
    let expected = "1 validation error detected: Value at 'definition' failed to satisfy constraint: Member must have length less than or equal to 1048576";
    for (op, req) in [
        (
            "CreateStateMachine",
            json!({"name": "big", "definition": big, "roleArn": "r"}),
        ),
        ("ValidateStateMachineDefinition", json!({"definition": big})),
    ] {
        let e = s.call(op, req).await.expect_err("too large");
        assert_eq!(e.kind, Exception::ValidationException, "{op}");
        assert_eq!(e.message, expected, "{op}");
    }
    let listed = s.call("ListStateMachines", json!({})).await.expect("list");
    assert_eq!(listed["stateMachines"], json!([]));
}
