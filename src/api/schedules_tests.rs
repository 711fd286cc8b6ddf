//! The Scheduler operations on a memory store: what is stored and answered, and that bad
//! requests get the service's errors and change nothing.

use super::*;
use crate::scheduler::record::{ScheduleRecord, GROUP_KIND, SCHEDULE_KIND};
use crate::store::memory::MemoryStore;
use crate::store::{Expect, Resource};

fn service() -> Service {
    Service::with_mocks(AnyStore::Memory(MemoryStore::new()), None)
}

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:nightly";
const ROLE: &str = "arn:aws:iam::111111111111:role/scheduler";

fn create_request(name: &str) -> Value {
    json!({
        "Name": name,
        "ScheduleExpression": "rate(5 minutes)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": MACHINE, "RoleArn": ROLE},
    })
}

async fn stored(s: &Service, group: &str, name: &str) -> (ScheduleRecord, u64) {
    let resource = s
        .store()
        .get_resource(SCHEDULE_KIND, &format!("{group}/{name}"))
        .await
        .expect("store")
        .expect("stored");
    (
        serde_json::from_value(resource.body).expect("a schedule record"),
        resource.version,
    )
}

async fn everything(s: &Service) -> (Vec<Resource>, Vec<Resource>) {
    (
        s.store().list_resources(SCHEDULE_KIND).await.expect("list"),
        s.store().list_resources(GROUP_KIND).await.expect("list"),
    )
}

async fn refused(s: &Service, operation: &str, req: Value) -> ApiError {
    s.scheduler_call(operation, req)
        .await
        .expect_err("the request is refused")
}

#[tokio::test]
async fn create_then_get_answers_every_member() {
    let s = service();
    s.scheduler_call("CreateScheduleGroup", json!({"Name": "reports"}))
        .await
        .expect("group");
    let start = (now_ms() / 1000 + 3600) as f64;
    let created = s
        .scheduler_call(
            "CreateSchedule",
            json!({
                "Name": "weekday",
                "GroupName": "reports",
                "ScheduleExpression": "cron(0 9 ? * MON-FRI *)",
                "ScheduleExpressionTimezone": "Europe/Paris",
                "StartDate": start,
                "EndDate": start + 86_400.0,
                "Description": "weekday mornings",
                "State": "DISABLED",
                "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
                "ActionAfterCompletion": "DELETE",
                "ClientToken": "token-1",
                "CatchUp": "all",
                "Target": {
                    "Arn": MACHINE,
                    "RoleArn": ROLE,
                    "Input": "{\"report\": \"daily\"}",
                    "RetryPolicy": {"MaximumRetryAttempts": 3},
                },
            }),
        )
        .await
        .expect("created");
    let arn = "arn:aws:scheduler:us-east-1:111111111111:schedule/reports/weekday";
    assert_eq!(created, json!({"ScheduleArn": arn}));
    let got = s
        .scheduler_call(
            "GetSchedule",
            json!({"Name": "weekday", "GroupName": "reports"}),
        )
        .await
        .expect("got");
    let created_at = got["CreationDate"].clone();
    assert!(created_at.as_f64().is_some(), "{got}");
    assert_eq!(
        got,
        json!({
            "Arn": arn,
            "GroupName": "reports",
            "Name": "weekday",
            "ScheduleExpression": "cron(0 9 ? * MON-FRI *)",
            "ScheduleExpressionTimezone": "Europe/Paris",
            "StartDate": start,
            "EndDate": start + 86_400.0,
            "Description": "weekday mornings",
            "State": "DISABLED",
            "CreationDate": created_at,
            "LastModificationDate": created_at,
            "Target": {
                "Arn": MACHINE,
                "RoleArn": ROLE,
                "Input": "{\"report\": \"daily\"}",
                "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 3},
            },
            "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
            "ActionAfterCompletion": "DELETE",
        })
    );
    let (record, _) = stored(&s, "reports", "weekday").await;
    assert_eq!(record.since, record.created);
    assert_eq!(
        (record.fired, record.buffered, record.last_execution.clone()),
        (None, None, None)
    );
    assert_eq!(
        (record.catch_up.as_str(), record.overlap.as_str()),
        ("all", "allow")
    );
    assert_eq!(record.window_minutes, Some(15));
    assert!(record.schedule().is_ok());
}

#[tokio::test]
async fn bad_requests_get_the_services_errors_and_store_nothing() {
    let s = service();
    let with = |patch: Value| {
        let mut req = create_request("s");
        for (k, v) in patch.as_object().expect("object") {
            req[k] = v.clone();
        }
        req
    };
    let cases = [
        (
            with(json!({"ScheduleExpression": "cron(0 1 * * * *)"})),
            Exception::ValidationException,
            "Invalid Schedule Expression cron(0 1 * * * *).",
        ),
        (
            with(json!({"ScheduleExpression": "rate(10 seconds)"})),
            Exception::ValidationException,
            "Invalid Schedule Expression rate(10 seconds).",
        ),
        (
            with(json!({"ScheduleExpressionTimezone": "Mars/Olympus"})),
            Exception::ValidationException,
            "Invalid ScheduleExpressionTimezone Mars/Olympus.",
        ),
        (
            with(json!({"StartDate": 4_000_000_000.0, "EndDate": 3_999_999_999.0})),
            Exception::ValidationException,
            "The EndDate must be after the StartDate.",
        ),
        (
            with(json!({"StartDate": 1_000_000_000.0})),
            Exception::ValidationException,
            "The StartDate you specify cannot be earlier than 5 minutes ago.",
        ),
        (
            with(json!({"Target": {"Arn": "arn:aws:lambda:us-east-1:111111111111:function:f", "RoleArn": ROLE}})),
            Exception::ValidationException,
            "Invalid Target Arn arn:aws:lambda:us-east-1:111111111111:function:f: stepfn schedules start Step Functions state machines (arn:aws:states:<region>:<account>:stateMachine:<name>).",
        ),
        (
            with(json!({"Target": {"Arn": MACHINE, "RoleArn": "role"}})),
            Exception::ValidationException,
            r"1 validation error detected: Value 'role' at 'target.roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+",
        ),
        (
            with(json!({"Target": {"Arn": MACHINE, "RoleArn": ROLE, "Input": "not json"}})),
            Exception::ValidationException,
            "Target Input must be well-formed JSON for a Step Functions target.",
        ),
        (
            with(json!({"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}})),
            Exception::ValidationException,
            "MaximumWindowInMinutes must be provided when the FlexibleTimeWindow Mode is FLEXIBLE.",
        ),
        (
            with(json!({"FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1441}})),
            Exception::ValidationException,
            "1 validation error detected: Value '1441' at 'flexibleTimeWindow.maximumWindowInMinutes' failed to satisfy constraint: Member must have value less than or equal to 1440",
        ),
        (
            with(json!({"FlexibleTimeWindow": {"Mode": "SOMETIMES"}})),
            Exception::ValidationException,
            "1 validation error detected: Value 'SOMETIMES' at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]",
        ),
        (
            with(json!({"Name": "has space"})),
            Exception::ValidationException,
            "1 validation error detected: Value 'has space' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+",
        ),
        (
            with(json!({"Name": "x".repeat(65)})),
            Exception::ValidationException,
            &format!("1 validation error detected: Value '{}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 64", "x".repeat(65)),
        ),
        (
            with(json!({"ActionAfterCompletion": "KEEP"})),
            Exception::ValidationException,
            "1 validation error detected: Value 'KEEP' at 'actionAfterCompletion' failed to satisfy constraint: Member must satisfy enum value set: [NONE, DELETE]",
        ),
        (
            with(json!({"State": "ON"})),
            Exception::ValidationException,
            "1 validation error detected: Value 'ON' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]",
        ),
        (
            with(json!({"CatchUp": "some"})),
            Exception::ValidationException,
            "Invalid CatchUp some: the catch-up policy is one of none, latest, all.",
        ),
        (
            with(json!({"Overlap": "queue"})),
            Exception::ValidationException,
            "Invalid Overlap queue: the overlap policy is one of allow, skip, buffer-one.",
        ),
        (
            with(json!({"GroupName": "missing"})),
            Exception::ResourceNotFoundException,
            "Schedule group missing does not exist.",
        ),
        (
            json!({"Name": "s", "ScheduleExpression": "rate(1 day)", "Target": {"Arn": MACHINE, "RoleArn": ROLE}}),
            Exception::ValidationException,
            "1 validation error detected: Value null at 'flexibleTimeWindow' failed to satisfy constraint: Member must not be null",
        ),
    ];
    for (req, kind, message) in cases {
        let e = refused(&s, "CreateSchedule", req.clone()).await;
        assert_eq!((e.kind, e.message.as_str()), (kind, message), "{req}");
    }
    assert_eq!(everything(&s).await, (vec![], vec![]));
}

#[tokio::test]
async fn duplicate_missing_and_one_time_schedules() {
    let s = service();
    s.scheduler_call("CreateSchedule", create_request("once"))
        .await
        .expect("created");
    let before = everything(&s).await;
    let e = refused(&s, "CreateSchedule", create_request("once")).await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::ConflictException,
            "Schedule once already exists."
        )
    );
    for op in ["GetSchedule", "DeleteSchedule"] {
        let e = refused(&s, op, json!({"Name": "other"})).await;
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                Exception::ResourceNotFoundException,
                "Schedule other does not exist."
            )
        );
    }
    let e = refused(&s, "UpdateSchedule", create_request("other")).await;
    assert_eq!(e.kind, Exception::ResourceNotFoundException);
    assert_eq!(everything(&s).await, before);
    // StartDate does not count for a one-time schedule, even in the past.
    let mut at = create_request("at");
    at["ScheduleExpression"] = json!("at(2030-01-01T09:00:00)");
    at["StartDate"] = json!(1_000_000_000);
    s.scheduler_call("CreateSchedule", at)
        .await
        .expect("an at() schedule ignores StartDate");
}

#[tokio::test]
async fn update_replaces_the_schedule_and_keeps_the_firing_state() {
    let s = service();
    s.scheduler_call("CreateSchedule", create_request("r"))
        .await
        .expect("created");
    // The sweep fired a slot.
    let (mut record, version) = stored(&s, "default", "r").await;
    record.fired = Some(record.since + 300_000);
    record.last_execution =
        Some("arn:aws:states:us-east-1:111111111111:execution:nightly:x".into());
    let body = serde_json::to_value(&record).expect("serializes");
    s.store()
        .put_resource(SCHEDULE_KIND, "default/r", &body, Expect::Version(version))
        .await
        .expect("store")
        .expect("written");
    let since = record.since;

    let mut same_timing = create_request("r");
    same_timing["Description"] = json!("now described");
    same_timing["Target"]["Input"] = json!("{\"v\": 2}");
    s.scheduler_call("UpdateSchedule", same_timing)
        .await
        .expect("updated");
    let (updated, _) = stored(&s, "default", "r").await;
    assert_eq!(updated.description.as_deref(), Some("now described"));
    assert_eq!(updated.target.input.as_deref(), Some("{\"v\": 2}"));
    assert_eq!(
        updated.since, since,
        "timing unchanged: slots count as before"
    );
    assert_eq!(updated.fired, record.fired);
    assert_eq!(updated.last_execution, record.last_execution);
    assert_eq!(updated.created, record.created);

    let mut disabled = create_request("r");
    disabled["State"] = json!("DISABLED");
    s.scheduler_call("UpdateSchedule", disabled)
        .await
        .expect("updated");
    let (updated, _) = stored(&s, "default", "r").await;
    assert_eq!(updated.state, "DISABLED");
    assert_eq!(updated.description, None, "an update replaces everything");
    assert_eq!(
        updated.since, updated.modified,
        "a state change restarts the count"
    );
    assert_eq!(updated.fired, record.fired);

    let mut bad = create_request("r");
    bad["ScheduleExpression"] = json!("rate(0 minutes)");
    let before = everything(&s).await;
    let e = refused(&s, "UpdateSchedule", bad).await;
    assert_eq!(e.message, "Invalid Schedule Expression rate(0 minutes).");
    assert_eq!(everything(&s).await, before);
}

#[tokio::test]
async fn group_tags_set_the_policies_of_its_schedules() {
    let s = service();
    s.scheduler_call(
        "CreateScheduleGroup",
        json!({"Name": "g", "Tags": [{"Key": "stepfn:catch-up", "Value": "latest"}]}),
    )
    .await
    .expect("group");
    let mut req = create_request("a");
    req["GroupName"] = json!("g");
    req["CatchUp"] = json!("all");
    req["Overlap"] = json!("skip");
    s.scheduler_call("CreateSchedule", req)
        .await
        .expect("created");
    let (record, _) = stored(&s, "g", "a").await;
    assert_eq!(
        (record.catch_up.as_str(), record.overlap.as_str()),
        ("latest", "skip"),
        "the group's tag wins over the request"
    );

    let group = "arn:aws:scheduler:us-east-1:111111111111:schedule-group/g";
    s.scheduler_call(
        "TagResource",
        json!({"ResourceArn": group, "Tags": [{"Key": "stepfn:overlap", "Value": "buffer-one"}, {"Key": "team", "Value": "data"}]}),
    )
    .await
    .expect("tagged");
    let (record, _) = stored(&s, "g", "a").await;
    assert_eq!(
        record.overlap, "buffer-one",
        "tagging reaches existing schedules"
    );

    let before = everything(&s).await;
    let e = refused(
        &s,
        "TagResource",
        json!({"ResourceArn": group, "Tags": [{"Key": "stepfn:overlap", "Value": "sometimes"}]}),
    )
    .await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::ValidationException,
            "Invalid tag stepfn:overlap value sometimes: the overlap policy is one of allow, skip, buffer-one."
        )
    );
    let e = refused(
        &s,
        "TagResource",
        json!({"ResourceArn": "arn:aws:scheduler:us-east-1:111111111111:schedule-group/none", "Tags": []}),
    )
    .await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::ResourceNotFoundException,
            "Schedule group none does not exist."
        )
    );
    assert_eq!(everything(&s).await, before);

    s.scheduler_call(
        "UntagResource",
        json!({"ResourceArn": group, "TagKeys": ["team"]}),
    )
    .await
    .expect("untagged");
    let tags = s
        .scheduler_call("ListTagsForResource", json!({"ResourceArn": group}))
        .await
        .expect("tags");
    assert_eq!(
        tags,
        json!({"Tags": [
            {"Key": "stepfn:catch-up", "Value": "latest"},
            {"Key": "stepfn:overlap", "Value": "buffer-one"},
        ]})
    );
    s.scheduler_call(
        "UntagResource",
        json!({"ResourceArn": group, "TagKeys": ["stepfn:overlap"]}),
    )
    .await
    .expect("untagged");
    let (record, _) = stored(&s, "g", "a").await;
    assert_eq!(
        (record.catch_up.as_str(), record.overlap.as_str()),
        ("latest", "allow"),
        "untagging puts the default back"
    );
}

#[tokio::test]
async fn groups_default_always_exists_and_deleting_a_group_deletes_its_schedules() {
    let s = service();
    let groups = s
        .scheduler_call("ListScheduleGroups", json!({}))
        .await
        .expect("groups");
    assert_eq!(
        groups,
        json!({"ScheduleGroups": [{
            "Arn": "arn:aws:scheduler:us-east-1:111111111111:schedule-group/default",
            "Name": "default",
            "State": "ACTIVE",
        }]})
    );
    let e = refused(&s, "DeleteScheduleGroup", json!({"Name": "default"})).await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::ValidationException,
            "The default schedule group cannot be deleted."
        )
    );
    let e = refused(&s, "CreateScheduleGroup", json!({"Name": "default"})).await;
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            Exception::ConflictException,
            "Schedule group default already exists."
        )
    );
    s.scheduler_call("CreateScheduleGroup", json!({"Name": "g"}))
        .await
        .expect("group");
    for name in ["a", "b"] {
        let mut req = create_request(name);
        req["GroupName"] = json!("g");
        s.scheduler_call("CreateSchedule", req)
            .await
            .expect("created");
    }
    s.scheduler_call("CreateSchedule", create_request("kept"))
        .await
        .expect("created");
    s.scheduler_call("DeleteScheduleGroup", json!({"Name": "g"}))
        .await
        .expect("deleted");
    let (schedules, groups) = everything(&s).await;
    let keys: Vec<&str> = schedules.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["default/kept"]);
    assert!(groups.is_empty());
    let e = refused(&s, "GetScheduleGroup", json!({"Name": "g"})).await;
    assert_eq!(e.message, "Schedule group g does not exist.");
}

#[tokio::test]
async fn list_schedules_filters_and_pages() {
    let s = service();
    for name in ["alpha", "alpine", "beta"] {
        s.scheduler_call("CreateSchedule", create_request(name))
            .await
            .expect("created");
    }
    let mut off = create_request("off");
    off["State"] = json!("DISABLED");
    s.scheduler_call("CreateSchedule", off)
        .await
        .expect("created");
    let names = |answer: &Value| -> Vec<String> {
        answer["Schedules"]
            .as_array()
            .expect("schedules")
            .iter()
            .map(|s| s["Name"].as_str().expect("name").to_string())
            .collect()
    };
    let first = s
        .scheduler_call("ListSchedules", json!({"MaxResults": "2"}))
        .await
        .expect("listed");
    assert_eq!(names(&first), ["alpha", "alpine"]);
    let token = first["NextToken"].clone();
    let second = s
        .scheduler_call(
            "ListSchedules",
            json!({"MaxResults": 2, "NextToken": token}),
        )
        .await
        .expect("listed");
    assert_eq!(names(&second), ["beta", "off"]);
    assert!(second.get("NextToken").is_none(), "{second}");
    let alp = s
        .scheduler_call("ListSchedules", json!({"NamePrefix": "alp"}))
        .await
        .expect("listed");
    assert_eq!(names(&alp), ["alpha", "alpine"]);
    let disabled = s
        .scheduler_call("ListSchedules", json!({"State": "DISABLED"}))
        .await
        .expect("listed");
    assert_eq!(names(&disabled), ["off"]);
    assert_eq!(
        disabled["Schedules"][0]["Target"],
        json!({"Arn": MACHINE}),
        "a summary names the target only"
    );
    let e = refused(&s, "ListSchedules", json!({"GroupName": "nope"})).await;
    assert_eq!(e.kind, Exception::ResourceNotFoundException);
    let e = refused(&s, "ListSchedules", json!({"MaxResults": 101})).await;
    assert_eq!(
        e.message,
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"
    );
}
