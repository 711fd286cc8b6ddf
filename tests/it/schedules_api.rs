//! The EventBridge Scheduler API of `stepfn serve` with real clients, on the memory store and
//! on DynamoDB Local: an `aws scheduler` CLI flow (groups, a cron schedule in a time zone with a
//! flexible window, a target with input and retry policy, update, tags, delete), boto3's
//! `scheduler` client (tests/clients/boto3_scheduler.py), and AWS's error shapes for bad
//! requests, which change nothing stored.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::durable::{stepfn, store_args};
use crate::support::lambda_watch::{dynamodb_endpoint, report, root};
use crate::support::python::venv;
use crate::support::serve::Server;

/// Runs `aws scheduler <args>` against `endpoint`: the JSON answer, or the CLI's error line.
fn aws(venv: &Path, endpoint: &str, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(venv.join("bin/aws"))
        .args([
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .arg("scheduler")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_PAGER", "")
        .output()
        .expect("the aws cli runs");
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        Ok(serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("aws scheduler {args:?}: not JSON ({e}): {text}")))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn ok(venv: &Path, endpoint: &str, args: &[&str]) -> Value {
    aws(venv, endpoint, args).unwrap_or_else(|e| panic!("aws scheduler {args:?} failed: {e}"))
}

fn cli_error(venv: &Path, endpoint: &str, args: &[&str]) -> String {
    match aws(venv, endpoint, args) {
        Ok(answer) => panic!("aws scheduler {args:?} should fail, answered {answer}"),
        Err(e) => e,
    }
}

/// The schedules of `group`, as ListSchedules answers them.
fn listed(venv: &Path, endpoint: &str, group: &str) -> Value {
    ok(venv, endpoint, &["list-schedules", "--group-name", group])["Schedules"].clone()
}

const TARGET: &str = r#"{"Arn": "arn:aws:states:us-east-1:111111111111:stateMachine:nightly", "RoleArn": "arn:aws:iam::111111111111:role/scheduler", "Input": "{\"report\": \"nightly\"}", "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 4}}"#;

fn cli_flow(endpoint: &str, group: &str) {
    let venv = venv();
    let v = venv.as_path();
    let group_arn = format!("arn:aws:scheduler:us-east-1:111111111111:schedule-group/{group}");
    let created = ok(
        v,
        endpoint,
        &[
            "create-schedule-group",
            "--name",
            group,
            "--tags",
            "Key=team,Value=reports",
        ],
    );
    assert_eq!(created, json!({"ScheduleGroupArn": group_arn}));

    let arn = format!("arn:aws:scheduler:us-east-1:111111111111:schedule/{group}/nightly");
    let created = ok(
        v,
        endpoint,
        &[
            "create-schedule",
            "--name",
            "nightly",
            "--group-name",
            group,
            "--schedule-expression",
            "cron(30 2 ? * MON-FRI *)",
            "--schedule-expression-timezone",
            "America/New_York",
            "--flexible-time-window",
            "Mode=FLEXIBLE,MaximumWindowInMinutes=10",
            "--target",
            TARGET,
            "--description",
            "weeknights",
        ],
    );
    assert_eq!(created, json!({"ScheduleArn": arn}));
    let mut got = ok(
        v,
        endpoint,
        &["get-schedule", "--name", "nightly", "--group-name", group],
    );
    let created_at = got["CreationDate"].take();
    let modified_at = got["LastModificationDate"].take();
    assert!(
        created_at.is_number() && created_at == modified_at,
        "{created_at} {modified_at}"
    );
    assert_eq!(
        got,
        json!({
            "ActionAfterCompletion": "NONE",
            "Arn": arn,
            "CreationDate": null,
            "Description": "weeknights",
            "FlexibleTimeWindow": {"MaximumWindowInMinutes": 10, "Mode": "FLEXIBLE"},
            "GroupName": group,
            "LastModificationDate": null,
            "Name": "nightly",
            "ScheduleExpression": "cron(30 2 ? * MON-FRI *)",
            "ScheduleExpressionTimezone": "America/New_York",
            "State": "ENABLED",
            "Target": {
                "Arn": "arn:aws:states:us-east-1:111111111111:stateMachine:nightly",
                "Input": "{\"report\": \"nightly\"}",
                "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 4},
                "RoleArn": "arn:aws:iam::111111111111:role/scheduler",
            },
        })
    );
    let schedules = listed(v, endpoint, group);
    assert_eq!(schedules.as_array().map(Vec::len), Some(1), "{schedules}");
    assert_eq!(schedules[0]["Arn"], json!(arn));
    assert_eq!(schedules[0]["State"], "ENABLED");

    ok(
        v,
        endpoint,
        &[
            "update-schedule",
            "--name",
            "nightly",
            "--group-name",
            group,
            "--schedule-expression",
            "rate(1 day)",
            "--flexible-time-window",
            "Mode=OFF",
            "--target",
            TARGET,
            "--state",
            "DISABLED",
        ],
    );
    let got = ok(
        v,
        endpoint,
        &["get-schedule", "--name", "nightly", "--group-name", group],
    );
    assert_eq!(got["ScheduleExpression"], "rate(1 day)");
    assert_eq!(got["State"], "DISABLED");
    assert_eq!(got["ScheduleExpressionTimezone"], "UTC");
    assert_eq!(got["FlexibleTimeWindow"], json!({"Mode": "OFF"}));
    assert!(got.get("Description").is_none(), "replaced: {got}");
    assert_eq!(got["CreationDate"], created_at);

    ok(
        v,
        endpoint,
        &[
            "tag-resource",
            "--resource-arn",
            &group_arn,
            "--tags",
            "Key=stepfn:catch-up,Value=latest",
        ],
    );
    let tags = ok(
        v,
        endpoint,
        &["list-tags-for-resource", "--resource-arn", &group_arn],
    );
    assert_eq!(
        tags,
        json!({"Tags": [{"Key": "team", "Value": "reports"}, {"Key": "stepfn:catch-up", "Value": "latest"}]})
    );

    // Refused requests: AWS's error codes and messages, as the CLI shows them; nothing changes.
    let before = listed(v, endpoint, group);
    let create = |name: &str, expression: &str, zone: &str| -> String {
        cli_error(
            v,
            endpoint,
            &[
                "create-schedule",
                "--name",
                name,
                "--group-name",
                group,
                "--schedule-expression",
                expression,
                "--schedule-expression-timezone",
                zone,
                "--flexible-time-window",
                "Mode=OFF",
                "--target",
                TARGET,
            ],
        )
    };
    // The four refusals are independent: run them at once (each CLI start takes most of a
    // second).
    let absent = ["get-schedule", "--name", "absent", "--group-name", group];
    let answers: Vec<String> = std::thread::scope(|scope| {
        let calls = [
            scope.spawn(|| create("bad", "cron(0 1 * * * *)", "UTC")),
            scope.spawn(|| create("bad", "rate(1 day)", "Europe/Atlantis")),
            scope.spawn(|| create("nightly", "rate(1 day)", "UTC")),
            scope.spawn(|| cli_error(v, endpoint, &absent)),
        ];
        calls
            .into_iter()
            .map(|call| call.join().expect("the cli call does not panic"))
            .collect()
    });
    assert_eq!(
        answers,
        [
            "An error occurred (ValidationException) when calling the CreateSchedule operation: \
             Invalid Schedule Expression cron(0 1 * * * *).",
            "An error occurred (ValidationException) when calling the CreateSchedule operation: \
             Invalid ScheduleExpressionTimezone Europe/Atlantis.",
            "An error occurred (ConflictException) when calling the CreateSchedule operation: \
             Schedule nightly already exists.",
            "An error occurred (ResourceNotFoundException) when calling the GetSchedule operation: \
             Schedule absent does not exist.",
        ]
    );
    assert_eq!(listed(v, endpoint, group), before);
    let unchanged = ok(
        v,
        endpoint,
        &["get-schedule", "--name", "nightly", "--group-name", group],
    );
    assert_eq!(unchanged, got, "a refused create changed the schedule");

    ok(
        v,
        endpoint,
        &[
            "delete-schedule",
            "--name",
            "nightly",
            "--group-name",
            group,
        ],
    );
    assert_eq!(listed(v, endpoint, group), json!([]));
    ok(v, endpoint, &["delete-schedule-group", "--name", group]);
    assert_eq!(
        cli_error(v, endpoint, &["get-schedule-group", "--name", group]),
        format!(
            "An error occurred (ResourceNotFoundException) when calling the GetScheduleGroup \
             operation: Schedule group {group} does not exist."
        )
    );
}

fn boto3_flow(endpoint: &str) {
    let out = Command::new(venv().join("bin/python"))
        .arg(root().join("tests/clients/boto3_scheduler.py"))
        .args(["--endpoint", endpoint])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "boto3 scheduler failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report(stdout.trim().lines().last().unwrap_or_default());
}

#[test]
fn aws_cli_and_boto3_scheduler_on_the_memory_store() {
    let server = Server::start(stepfn(), &[]);
    cli_flow(&server.endpoint, "cli-memory");
    boto3_flow(&server.endpoint);
}

#[test]
fn aws_cli_and_boto3_scheduler_on_dynamodb_local() {
    let table = format!("schedapi{}", std::process::id());
    let args = store_args(&table, &dynamodb_endpoint());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(stepfn(), &args);
    cli_flow(&server.endpoint, "cli-dynamodb");
    boto3_flow(&server.endpoint);
}
