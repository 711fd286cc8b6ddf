//! EventBridge's operations on a memory store: rules, targets, events that start executions,
//! and bad requests that answer AWS's errors and change nothing.

use super::event_delivery::delivery_name;
use super::*;
use crate::scheduler::record::{RuleRecord, RuleTarget};
use crate::store::memory::MemoryStore;

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:orders";
const PATTERN: &str = r#"{"source": [{"prefix": "shop."}], "detail-type": [{"anything-but": "Test"}], "detail": {"amount": [{"numeric": [">", 100]}], "customer": [{"exists": true}]}}"#;

async fn service() -> Service {
    let s = Service::with_mocks(AnyStore::Memory(MemoryStore::new()), None);
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    s.call(
        "CreateStateMachine",
        json!({"name": "orders", "definition": def, "roleArn": "arn:aws:iam::111111111111:role/r"}),
    )
    .await
    .expect("machine");
    s
}

async fn events(s: &Service, op: &str, req: Value) -> Value {
    s.events_call(op, req)
        .await
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

async fn events_err(s: &Service, op: &str, req: Value) -> ApiError {
    s.events_call(op, req).await.expect_err(op)
}

/// A rule `big-orders` with PATTERN and one target, the `orders` machine.
async fn rule_with_target(s: &Service) {
    events(
        s,
        "PutRule",
        json!({"Name": "big-orders", "EventPattern": PATTERN}),
    )
    .await;
    let put = events(
        s,
        "PutTargets",
        json!({"Rule": "big-orders", "Targets": [{"Id": "sfn", "Arn": MACHINE}]}),
    )
    .await;
    assert_eq!(put, json!({"FailedEntryCount": 0, "FailedEntries": []}));
}

fn entry(source: &str, amount: i64) -> Value {
    json!({"Source": source, "DetailType": "OrderPlaced",
           "Detail": json!({"amount": amount, "customer": "c-1"}).to_string()})
}

async fn executions(s: &Service) -> Vec<Value> {
    let listed = s
        .call("ListExecutions", json!({"stateMachineArn": MACHINE}))
        .await
        .expect("list");
    listed["executions"].as_array().cloned().unwrap_or_default()
}

async fn execution_input(s: &Service, arn: &Value) -> Value {
    let described = s
        .call("DescribeExecution", json!({"executionArn": arn}))
        .await
        .expect("describe");
    serde_json::from_str(described["input"].as_str().expect("input")).expect("JSON input")
}

#[tokio::test]
async fn a_matching_event_starts_one_execution_with_the_event_as_input() {
    let s = service().await;
    rule_with_target(&s).await;
    let put = events(
        &s,
        "PutEvents",
        json!({"Entries": [entry("shop.orders", 250), entry("shop.orders", 50), entry("bank", 500)]}),
    )
    .await;
    assert_eq!(put["FailedEntryCount"], 0);
    let ids: Vec<&str> = put["Entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["EventId"].as_str().expect("EventId"))
        .collect();
    assert_eq!(ids.len(), 3);
    let started = executions(&s).await;
    assert_eq!(started.len(), 1, "{started:?}");
    let input = execution_input(&s, &started[0]["executionArn"]).await;
    assert_eq!(input["version"], "0");
    assert_eq!(input["id"], ids[0]);
    assert_eq!(input["source"], "shop.orders");
    assert_eq!(input["detail-type"], "OrderPlaced");
    assert_eq!(input["detail"], json!({"amount": 250, "customer": "c-1"}));
    assert_eq!(input["account"], "111111111111");
    assert_eq!(input["region"], "us-east-1");
    assert_eq!(input["resources"], json!([]));
    let time = input["time"].as_str().expect("time");
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok()
            && time.ends_with('Z')
            && time.len() == 20,
        "{time}"
    );
}

#[tokio::test]
async fn a_delivery_made_twice_starts_the_execution_once() {
    let s = service().await;
    rule_with_target(&s).await;
    events(&s, "PutEvents", json!({"Entries": [entry("shop.x", 101)]})).await;
    let first = executions(&s).await;
    assert_eq!(first.len(), 1);
    let input = execution_input(&s, &first[0]["executionArn"]).await;
    // The same event delivered again (a retry) names the same execution.
    let (rule, _) = s.load_rule("default", "big-orders").await.expect("rule");
    let target = &rule.targets[0];
    let id = input["id"].as_str().expect("id");
    s.deliver_one(id, &input, &rule, target).await;
    assert_eq!(executions(&s).await.len(), 1);
    assert_eq!(first[0]["name"], delivery_name(id, &rule, target));
}

#[tokio::test]
async fn disabled_rules_and_other_buses_start_nothing() {
    let s = service().await;
    rule_with_target(&s).await;
    events(&s, "DisableRule", json!({"Name": "big-orders"})).await;
    assert_eq!(
        events(&s, "DescribeRule", json!({"Name": "big-orders"})).await["State"],
        "DISABLED"
    );
    events(&s, "PutEvents", json!({"Entries": [entry("shop.x", 999)]})).await;
    assert!(executions(&s).await.is_empty());
    events(&s, "EnableRule", json!({"Name": "big-orders"})).await;
    let mut other = entry("shop.x", 999);
    other["EventBusName"] = json!("other-bus");
    events(&s, "PutEvents", json!({"Entries": [other]})).await;
    assert!(executions(&s).await.is_empty());
    events(&s, "PutEvents", json!({"Entries": [entry("shop.x", 999)]})).await;
    assert_eq!(executions(&s).await.len(), 1);
}

#[tokio::test]
async fn a_target_input_transformer_shapes_the_execution_input() {
    let s = service().await;
    events(
        &s,
        "PutRule",
        json!({"Name": "r", "EventPattern": r#"{"source": ["shop"]}"#}),
    )
    .await;
    events(
        &s,
        "PutTargets",
        json!({"Rule": "r", "Targets": [{"Id": "t", "Arn": MACHINE, "InputTransformer": {
            "InputPathsMap": {"amount": "$.detail.amount"},
            "InputTemplate": "{\"amount\": <amount>, \"rule\": \"<aws.events.rule-name>\"}"}}]}),
    )
    .await;
    events(&s, "PutEvents", json!({"Entries": [entry("shop", 7)]})).await;
    let started = executions(&s).await;
    assert_eq!(started.len(), 1);
    assert_eq!(
        execution_input(&s, &started[0]["executionArn"]).await,
        json!({"amount": 7, "rule": "r"})
    );
}

#[tokio::test]
async fn put_rule_answers_the_arn_and_an_update_keeps_the_targets() {
    let s = service().await;
    rule_with_target(&s).await;
    let again = events(
        &s,
        "PutRule",
        json!({"Name": "big-orders", "EventPattern": r#"{"source": ["other"]}"#, "Description": "d"}),
    )
    .await;
    assert_eq!(
        again,
        json!({"RuleArn": "arn:aws:events:us-east-1:111111111111:rule/big-orders"})
    );
    let described = events(&s, "DescribeRule", json!({"Name": "big-orders"})).await;
    assert_eq!(
        described,
        json!({"Name": "big-orders", "Arn": "arn:aws:events:us-east-1:111111111111:rule/big-orders",
               "EventPattern": r#"{"source": ["other"]}"#, "State": "ENABLED", "Description": "d",
               "EventBusName": "default", "CreatedBy": "111111111111"})
    );
    let targets = events(&s, "ListTargetsByRule", json!({"Rule": "big-orders"})).await;
    assert_eq!(targets, json!({"Targets": [{"Id": "sfn", "Arn": MACHINE}]}));
    let custom = events(
        &s,
        "PutRule",
        json!({"Name": "c", "EventBusName": "orders-bus", "EventPattern": "{}"}),
    )
    .await;
    assert_eq!(
        custom["RuleArn"],
        "arn:aws:events:us-east-1:111111111111:rule/orders-bus/c"
    );
}

#[tokio::test]
async fn list_rules_filters_by_prefix_and_bus_and_pages() {
    let s = service().await;
    for name in ["a-1", "a-2", "a-3", "b-1"] {
        events(&s, "PutRule", json!({"Name": name, "EventPattern": "{}"})).await;
    }
    events(
        &s,
        "PutRule",
        json!({"Name": "a-4", "EventBusName": "elsewhere", "EventPattern": "{}"}),
    )
    .await;
    let names = |v: &Value| -> Vec<String> {
        v["Rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(|r| r["Name"].as_str().expect("name").to_string())
            .collect()
    };
    let first = events(&s, "ListRules", json!({"NamePrefix": "a-", "Limit": 2})).await;
    assert_eq!(names(&first), ["a-1", "a-2"]);
    let second = events(
        &s,
        "ListRules",
        json!({"NamePrefix": "a-", "Limit": 2, "NextToken": first["NextToken"]}),
    )
    .await;
    assert_eq!(names(&second), ["a-3"]);
    assert!(second.get("NextToken").is_none());
    let all = events(&s, "ListRules", json!({})).await;
    assert_eq!(names(&all), ["a-1", "a-2", "a-3", "b-1"]);
    let e = events_err(&s, "ListRules", json!({"Limit": 0})).await;
    assert_eq!(e.message, "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1");
}

#[tokio::test]
async fn delete_rule_is_refused_while_it_has_targets_unless_forced() {
    let s = service().await;
    rule_with_target(&s).await;
    let e = events_err(&s, "DeleteRule", json!({"Name": "big-orders"})).await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::ValidationException,
            "Rule can't be deleted since it has targets."
        )
    );
    let removed = events(
        &s,
        "RemoveTargets",
        json!({"Rule": "big-orders", "Ids": ["sfn", "nope"]}),
    )
    .await;
    assert_eq!(
        removed,
        json!({"FailedEntryCount": 1, "FailedEntries": [{"TargetId": "nope",
            "ErrorCode": "ResourceNotFoundException",
            "ErrorMessage": "Rule 'big-orders' does not have a target with the Id 'nope'."}]})
    );
    events(&s, "DeleteRule", json!({"Name": "big-orders"})).await;
    assert_eq!(
        events(&s, "ListRules", json!({})).await,
        json!({"Rules": []})
    );
    // Deleting what is not there succeeds, and Force deletes a rule with targets.
    events(&s, "DeleteRule", json!({"Name": "big-orders"})).await;
    rule_with_target(&s).await;
    events(
        &s,
        "DeleteRule",
        json!({"Name": "big-orders", "Force": true}),
    )
    .await;
    assert_eq!(
        events(&s, "ListRules", json!({})).await,
        json!({"Rules": []})
    );
}

#[tokio::test]
async fn bad_patterns_rules_and_targets_answer_awss_errors_and_change_nothing() {
    let s = service().await;
    rule_with_target(&s).await;
    let rules = events(&s, "ListRules", json!({})).await;
    let targets = events(&s, "ListTargetsByRule", json!({"Rule": "big-orders"})).await;

    let e = events_err(
        &s,
        "PutRule",
        json!({"Name": "big-orders", "EventPattern": r#"{"source": [{"prefix": 5}]}"#}),
    )
    .await;
    assert_eq!(e.kind, Exception::InvalidEventPatternException);
    assert_eq!(
        e.message,
        "Event pattern is not valid. Reason: prefix match pattern must be a string at \"source\""
    );
    let e = events_err(&s, "PutRule", json!({"Name": "x"})).await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::ValidationException,
            "Parameter(s) EventPattern or ScheduleExpression must be specified."
        )
    );
    let e = events_err(
        &s,
        "PutRule",
        json!({"Name": "bad name", "EventPattern": "{}"}),
    )
    .await;
    assert_eq!(e.message, "1 validation error detected: Value 'bad name' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+");

    let e = events_err(&s, "DescribeRule", json!({"Name": "missing"})).await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::ResourceNotFoundException,
            "Rule missing does not exist on EventBus default."
        )
    );
    let e = events_err(
        &s,
        "PutTargets",
        json!({"Rule": "missing", "EventBusName": "b", "Targets": [{"Id": "t", "Arn": MACHINE}]}),
    )
    .await;
    assert_eq!(e.message, "Rule missing does not exist on EventBus b.");

    let put_target = |arn: &str| json!({"Rule": "big-orders", "Targets": [{"Id": "new", "Arn": MACHINE}, {"Id": "bad", "Arn": arn}]});
    let e = events_err(&s, "PutTargets", put_target("not-an-arn")).await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::ValidationException,
            "Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format."
        )
    );
    let queue = "arn:aws:sqs:us-east-1:111111111111:q";
    let e = events_err(&s, "PutTargets", put_target(queue)).await;
    assert_eq!(e.kind, Exception::ValidationException);
    assert!(
        e.message.starts_with(&format!("Parameter {queue} is not valid. Reason: stepfn delivers events only to Step Functions state machines")),
        "{}",
        e.message
    );
    let e = events_err(
        &s,
        "PutTargets",
        json!({"Rule": "big-orders", "Targets": [{"Id": "!@#$@!#$", "Arn": MACHINE}]}),
    )
    .await;
    assert_eq!(e.message, "1 validation error detected: Value '!@#$@!#$' at 'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+");
    let many: Vec<Value> = (0..5)
        .map(|i| json!({"Id": format!("t{i}"), "Arn": MACHINE}))
        .collect();
    let e = events_err(
        &s,
        "PutTargets",
        json!({"Rule": "big-orders", "Targets": many}),
    )
    .await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::LimitExceededException,
            "The requested resource exceeds the maximum number allowed."
        )
    );

    assert_eq!(events(&s, "ListRules", json!({})).await, rules);
    assert_eq!(
        events(&s, "ListTargetsByRule", json!({"Rule": "big-orders"})).await,
        targets
    );
}

#[tokio::test]
async fn bad_entries_fail_alone_as_aws_answers_them() {
    let s = service().await;
    rule_with_target(&s).await;
    let put = events(
        &s,
        "PutEvents",
        json!({"Entries": [
            {"DetailType": "t", "Detail": "{}"},
            {"Source": "shop.x", "Detail": "{}"},
            {"Source": "shop.x", "DetailType": "t"},
            {"Source": "shop.x", "DetailType": "t", "Detail": "[]"},
            {"Source": "shop.x", "DetailType": "t", "Detail": "{{}"},
            entry("shop.x", 1000),
        ]}),
    )
    .await;
    assert_eq!(put["FailedEntryCount"], 5);
    let answers = put["Entries"].as_array().expect("entries");
    assert_eq!(
        answers[..5],
        [
            json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}),
            json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter DetailType is not valid. Reason: DetailType is a required argument."}),
            json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required argument."}),
            json!({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}),
            json!({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}),
        ]
    );
    assert!(answers[5]["EventId"].is_string());
    assert_eq!(executions(&s).await.len(), 1);
    let e = events_err(&s, "PutEvents", json!({"Entries": []})).await;
    assert_eq!(e.kind, Exception::ValidationException);
}

#[tokio::test]
async fn test_event_pattern_answers_the_match() {
    let s = service().await;
    let event = json!({"source": "shop.a", "detail-type": "OrderPlaced", "detail": {"amount": 101, "customer": null}});
    let answer = events(
        &s,
        "TestEventPattern",
        json!({"EventPattern": PATTERN, "Event": event.to_string()}),
    )
    .await;
    assert_eq!(answer, json!({"Result": true}));
    let answer = events(
        &s,
        "TestEventPattern",
        json!({"EventPattern": PATTERN, "Event": json!({"source": "shop.a", "detail-type": "Test", "detail": {"amount": 101, "customer": 1}}).to_string()}),
    )
    .await;
    assert_eq!(answer, json!({"Result": false}));
    let e = events_err(
        &s,
        "TestEventPattern",
        json!({"EventPattern": PATTERN, "Event": "[1]"}),
    )
    .await;
    assert_eq!(e.message, "Parameter Event is not valid.");
    let e = events_err(&s, "Frobnicate", json!({})).await;
    assert_eq!(e.kind, Exception::UnknownOperationException);
}

#[test]
fn delivery_names_are_short_valid_and_distinct_per_rule_and_target() {
    let rule = |name: &str| RuleRecord {
        name: name.into(),
        bus: "default".into(),
        arn: String::new(),
        event_pattern: None,
        schedule_expression: None,
        state: "ENABLED".into(),
        description: None,
        role_arn: None,
        targets: Vec::new(),
        tags: Default::default(),
        created: 0,
    };
    let target = |id: &str| RuleTarget {
        id: id.into(),
        arn: MACHINE.into(),
        role_arn: None,
        input: None,
        input_path: None,
        input_transformer: None,
    };
    let event = "6a7e8feb-b491-4cf7-a9f1-bf3703467718";
    let long = "x.".repeat(32);
    let names = [
        delivery_name(event, &rule("a"), &target("1")),
        delivery_name(event, &rule("b"), &target("1")),
        delivery_name(event, &rule("a"), &target("2")),
        delivery_name(event, &rule("a"), &target(&long)),
    ];
    for n in &names {
        assert!(n.len() <= 80, "{n}");
        assert!(
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{n}"
        );
        assert!(n.contains(event), "{n}");
    }
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert_eq!(names[0], delivery_name(event, &rule("a"), &target("1")));
}

#[tokio::test]
async fn a_target_that_cannot_start_does_not_fail_the_event_or_the_other_targets() {
    let s = service().await;
    events(
        &s,
        "PutRule",
        json!({"Name": "r", "EventPattern": r#"{"source": ["shop"]}"#}),
    )
    .await;
    let gone = "arn:aws:states:us-east-1:111111111111:stateMachine:gone";
    events(
        &s,
        "PutTargets",
        json!({"Rule": "r", "Targets": [{"Id": "a", "Arn": gone}, {"Id": "b", "Arn": MACHINE}]}),
    )
    .await;
    let put = events(&s, "PutEvents", json!({"Entries": [entry("shop", 1)]})).await;
    assert_eq!(put["FailedEntryCount"], 0);
    assert!(put["Entries"][0]["EventId"].is_string());
    assert_eq!(executions(&s).await.len(), 1);
}

#[tokio::test]
async fn scheduled_rules_are_stored_and_checked_but_match_no_event() {
    let s = service().await;
    events(
        &s,
        "PutRule",
        json!({"Name": "tick", "ScheduleExpression": "rate(5 minutes)"}),
    )
    .await;
    let described = events(&s, "DescribeRule", json!({"Name": "tick"})).await;
    assert_eq!(described["ScheduleExpression"], "rate(5 minutes)");
    let e = events_err(
        &s,
        "PutRule",
        json!({"Name": "t2", "ScheduleExpression": "every day"}),
    )
    .await;
    assert_eq!(e.message, "Parameter ScheduleExpression is not valid.");
    let e = events_err(
        &s,
        "PutRule",
        json!({"Name": "t3", "ScheduleExpression": "rate(5 minutes)", "EventBusName": "b"}),
    )
    .await;
    assert_eq!(
        e.message,
        "ScheduleExpression is supported only on the default event bus."
    );
    events(
        &s,
        "PutTargets",
        json!({"Rule": "tick", "Targets": [{"Id": "t", "Arn": MACHINE}]}),
    )
    .await;
    events(&s, "PutEvents", json!({"Entries": [entry("shop", 1)]})).await;
    assert!(executions(&s).await.is_empty());
}

#[tokio::test]
async fn rules_are_found_by_target_and_the_default_bus_is_described() {
    let s = service().await;
    rule_with_target(&s).await;
    events(
        &s,
        "PutRule",
        json!({"Name": "other", "EventPattern": "{}"}),
    )
    .await;
    let names = events(&s, "ListRuleNamesByTarget", json!({"TargetArn": MACHINE})).await;
    assert_eq!(names, json!({"RuleNames": ["big-orders"]}));
    let bus = json!({"Name": "default", "Arn": "arn:aws:events:us-east-1:111111111111:event-bus/default"});
    assert_eq!(events(&s, "DescribeEventBus", json!({})).await, bus);
    assert_eq!(
        events(&s, "ListEventBuses", json!({})).await,
        json!({"EventBuses": [bus]})
    );
}
