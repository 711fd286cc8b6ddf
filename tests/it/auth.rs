//! `stepfn serve --auth`: API requests must be signed (SigV4) with a configured credential.
//! The AWS CLI and boto3 (the pinned venv) with the right key get through, for Step Functions,
//! the Scheduler API and EventBridge; a wrong secret, an unknown key, no signature or a stale
//! date get AWS's errors as the clients report them; the console's pages stay readable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::{json, Value};

use crate::support::python::venv;
use crate::support::serve::Server;

const KEY: &str = "AKIDSTEPFNAUTH";
const SECRET: &str = "right/secret+value";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stepfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepfn"));
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    c
}

/// A credentials file (AWS INI) with `KEY`/`SECRET` in a profile of its own, in a new
/// directory that lives as long as the returned guard.
fn credentials_file() -> (TempDir, PathBuf) {
    let dir = TempDir::new();
    let path = dir.0.join("credentials");
    std::fs::write(
        &path,
        format!(
            "# the keys stepfn serve accepts\n[default]\naws_access_key_id = {KEY}\n\
             aws_secret_access_key = {SECRET}\nregion = us-east-1\n\n[other]\n\
             aws_access_key_id = AKIDSECOND\naws_secret_access_key = second\n"
        ),
    )
    .expect("write credentials");
    (dir, path)
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("stepfn-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn serve_with_file(file: &Path) -> Server {
    Server::start(stepfn(), &["--auth", file.to_str().expect("utf-8 path")])
}

/// Runs the pinned AWS CLI against `endpoint` as `key`/`secret`, with no config files and no
/// retries.
fn aws(endpoint: &str, key: &str, secret: &str, args: &[&str]) -> Output {
    let venv = venv();
    Command::new(venv.join("bin/aws"))
        .args([
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("aws runs")
}

/// The JSON the CLI printed; panics with its output unless it succeeded.
fn aws_ok(endpoint: &str, args: &[&str]) -> Value {
    let out = aws(endpoint, KEY, SECRET, args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aws {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// What the CLI printed on stderr; panics unless it failed.
fn aws_err(endpoint: &str, key: &str, secret: &str, args: &[&str]) -> String {
    let out = aws(endpoint, key, secret, args);
    assert!(
        !out.status.success(),
        "aws {args:?} as {key} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

const INVALID_SIGNATURE: &str = "The request signature we calculated does not match the \
     signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
     service documentation for details.";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

#[test]
fn the_aws_cli_gets_through_with_the_right_key_and_aws_errors_without_it() {
    let (_dir, file) = credentials_file();
    let server = serve_with_file(&file);
    let endpoint = server.endpoint.as_str();

    let listed = aws_ok(endpoint, &["stepfunctions", "list-state-machines"]);
    assert_eq!(listed, json!({"stateMachines": []}));
    let definition =
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"ok":1},"End":true}}}"#;
    let created = aws_ok(
        endpoint,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "signed",
            "--role-arn",
            "arn:aws:iam::111111111111:role/r",
            "--definition",
            definition,
        ],
    );
    let machine = created["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let started = aws_ok(
        endpoint,
        &[
            "stepfunctions",
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--input",
            r#"{"a": "b c+d/é"}"#,
        ],
    );
    let execution = started["executionArn"].as_str().expect("arn").to_string();
    let mut described = Value::Null;
    for _ in 0..100 {
        described = aws_ok(
            endpoint,
            &[
                "stepfunctions",
                "describe-execution",
                "--execution-arn",
                &execution,
            ],
        );
        if described["status"] != "RUNNING" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(described["output"], r#"{"ok":1}"#);

    // The second profile of the file counts too.
    let out = aws(
        endpoint,
        "AKIDSECOND",
        "second",
        &["stepfunctions", "list-state-machines"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A wrong secret, and an unknown key, as the CLI reports AWS's errors.
    let wrong = aws_err(
        endpoint,
        KEY,
        "not-the-secret",
        &[
            "stepfunctions",
            "start-execution",
            "--state-machine-arn",
            &machine,
        ],
    );
    assert_eq!(
        wrong,
        format!(
            "An error occurred (InvalidSignatureException) when calling the StartExecution \
             operation: {INVALID_SIGNATURE}"
        )
    );
    let unknown = aws_err(
        endpoint,
        "AKIDUNKNOWN",
        SECRET,
        &["stepfunctions", "list-state-machines"],
    );
    assert_eq!(
        unknown,
        format!(
            "An error occurred (UnrecognizedClientException) when calling the \
             ListStateMachines operation: {INVALID_TOKEN}"
        )
    );
    // The refused StartExecution started nothing.
    let executions = aws_ok(
        endpoint,
        &[
            "stepfunctions",
            "list-executions",
            "--state-machine-arn",
            &machine,
        ],
    );
    assert_eq!(
        executions["executions"].as_array().map(Vec::len),
        Some(1),
        "{executions}"
    );

    // The Scheduler API (REST-JSON) and EventBridge (JSON 1.1) are covered alike.
    let schedules = aws_ok(
        endpoint,
        &["scheduler", "list-schedules", "--max-results", "5"],
    );
    assert_eq!(schedules, json!({"Schedules": []}));
    let wrong = aws_err(
        endpoint,
        KEY,
        "not-the-secret",
        &["scheduler", "list-schedules"],
    );
    assert_eq!(
        wrong,
        format!(
            "An error occurred (InvalidSignatureException) when calling the ListSchedules \
             operation: {INVALID_SIGNATURE}"
        )
    );
    let unknown = aws_err(
        endpoint,
        "AKIDUNKNOWN",
        SECRET,
        &["scheduler", "list-schedule-groups"],
    );
    assert_eq!(
        unknown,
        format!(
            "An error occurred (UnrecognizedClientException) when calling the \
             ListScheduleGroups operation: {INVALID_TOKEN}"
        )
    );
    let rules = aws_ok(endpoint, &["events", "list-rules"]);
    assert_eq!(rules, json!({"Rules": []}));
    let wrong = aws_err(endpoint, KEY, "not-the-secret", &["events", "list-rules"]);
    assert!(
        wrong.starts_with(
            "An error occurred (InvalidSignatureException) when calling the ListRules"
        ),
        "{wrong}"
    );
}

/// boto3's error codes for the right key, a wrong secret and an unknown key, on Step Functions
/// and the Scheduler API.
const BOTO3_CHECK: &str = r#"
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
endpoint, key, secret = sys.argv[1:4]
config = Config(retries={"max_attempts": 1})
def code(service, call, k, s):
    client = boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=k, aws_secret_access_key=s, config=config)
    try:
        getattr(client, call)()
        return "ok"
    except ClientError as e:
        return "%s %d: %s" % (e.response["Error"]["Code"],
                              e.response["ResponseMetadata"]["HTTPStatusCode"],
                              e.response["Error"]["Message"])
print(json.dumps({
    "right": code("stepfunctions", "list_state_machines", key, secret),
    "wrong": code("stepfunctions", "list_activities", key, "wrong"),
    "unknown": code("stepfunctions", "list_state_machines", "AKIDNOPE", secret),
    "scheduler_right": code("scheduler", "list_schedule_groups", key, secret),
    "scheduler_wrong": code("scheduler", "list_schedules", key, "wrong"),
}))
"#;

#[test]
fn boto3_gets_through_with_the_right_key_and_aws_error_codes_without_it() {
    let server = Server::start(stepfn(), &["--auth-key", &format!("{KEY}:{SECRET}")]);
    let out = Command::new(venv().join("bin/python"))
        .args(["-c", BOTO3_CHECK, &server.endpoint, KEY, SECRET])
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codes: Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(
        codes,
        json!({
            "right": "ok",
            "wrong": format!("InvalidSignatureException 400: {INVALID_SIGNATURE}"),
            "unknown": format!("UnrecognizedClientException 400: {INVALID_TOKEN}"),
            "scheduler_right": "ok",
            "scheduler_wrong": format!("InvalidSignatureException 403: {INVALID_SIGNATURE}"),
        })
    );
}

/// Headers `aws-sigv4` adds to a Step Functions request signed as `KEY` at `time`.
fn signed_headers(
    endpoint: &str,
    operation: &str,
    body: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let host = endpoint.trim_start_matches("http://").to_string();
    let mut headers = vec![
        ("host".to_string(), host),
        (
            "content-type".to_string(),
            "application/x-amz-json-1.0".to_string(),
        ),
        (
            "x-amz-target".to_string(),
            format!("AWSStepFunctions.{operation}"),
        ),
    ];
    let identity = aws_credential_types::Credentials::new(KEY, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("states")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("params")
        .into();
    let signable = SignableRequest::new(
        "POST",
        "/",
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let (added, _) = instructions.into_parts();
    for header in added {
        headers.push((header.name().to_string(), header.value().to_string()));
    }
    headers
}

#[test]
fn unsigned_and_stale_requests_are_refused_and_the_console_pages_stay_open() {
    let server = Server::start(stepfn(), &["--auth-key", &format!("{KEY}:{SECRET}")]);
    let endpoint = server.endpoint.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let client = reqwest::Client::new();
        // No signature: Step Functions' JSON 1.0 shape.
        let answer = client
            .post(&endpoint)
            .header("X-Amz-Target", "AWSStepFunctions.CreateStateMachine")
            .header("Content-Type", "application/x-amz-json-1.0")
            .body(
                json!({"name": "unsigned", "roleArn": "arn:aws:iam::111111111111:role/r",
                         "definition": "{}"})
                .to_string(),
            )
            .send()
            .await
            .expect("request");
        assert_eq!(answer.status().as_u16(), 400);
        let body: Value = answer.json().await.expect("JSON");
        assert_eq!(
            body,
            json!({"__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
                   "message": "Missing Authentication Token"})
        );
        // The Scheduler API's REST shape.
        let answer = client
            .get(format!("{endpoint}/schedules"))
            .send()
            .await
            .expect("request");
        assert_eq!(answer.status().as_u16(), 403);
        assert_eq!(
            answer.headers()["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
        let body: Value = answer.json().await.expect("JSON");
        assert_eq!(body, json!({"Message": "Missing Authentication Token"}));
        // The console's data endpoint needs a signature; its pages and /metrics do not.
        let answer = client
            .post(format!("{endpoint}/console/history"))
            .body(r#"{"executionArn": "arn:aws:states:us-east-1:111111111111:execution:a:b"}"#)
            .send()
            .await
            .expect("request");
        assert_eq!(answer.status().as_u16(), 400);
        for path in ["/console/app.js", "/metrics", "/"] {
            let answer = client
                .get(format!("{endpoint}{path}"))
                .send()
                .await
                .expect("request");
            assert_eq!(answer.status().as_u16(), 200, "{path}");
        }
        // Signed right now: through. Signed ten minutes ago: expired.
        let body = "{}";
        for (time, expect) in [
            (SystemTime::now(), 200),
            (SystemTime::now() - Duration::from_secs(600), 400),
        ] {
            let mut request = client.post(&endpoint).body(body);
            for (name, value) in signed_headers(&endpoint, "ListStateMachines", body, time) {
                if name != "host" {
                    request = request.header(name, value);
                }
            }
            let answer = request.send().await.expect("request");
            assert_eq!(answer.status().as_u16(), expect);
            let value: Value = answer.json().await.expect("JSON");
            if expect == 400 {
                assert_eq!(
                    value["__type"],
                    "com.amazon.coral.service#InvalidSignatureException"
                );
                let message = value["message"].as_str().expect("message");
                assert!(message.starts_with("Signature expired: "), "{message}");
                assert!(message.ends_with(" - 5 min.)"), "{message}");
            } else {
                assert_eq!(value, json!({"stateMachines": []}));
            }
        }
    });
    // Nothing unsigned was created.
    let listed = server.api("ListStateMachines", json!({}));
    assert_eq!(
        listed["__type"],
        "com.amazon.coral.service#MissingAuthenticationTokenException"
    );
}

#[test]
fn a_bad_credentials_file_or_key_stops_serve_with_the_reason() {
    let dir = TempDir::new();
    let missing = dir.0.join("nope");
    let half = dir.0.join("half");
    std::fs::write(&half, "[ci]\naws_access_key_id = AKID\n").expect("write");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--auth".into(), missing.display().to_string()],
            format!("--auth: cannot read credentials file {}", missing.display()),
        ),
        (
            vec!["--auth".into(), half.display().to_string()],
            format!(
                "--auth: credentials file {}: profile [ci] (line 1): has only one of \
                 aws_access_key_id and aws_secret_access_key",
                half.display()
            ),
        ),
        (
            vec!["--auth-key".into(), "AKIDNOSECRET".into()],
            "--auth-key takes ACCESS_KEY_ID:SECRET".into(),
        ),
    ];
    for (args, expect) in cases {
        let out = stepfn()
            .args(["serve", "--port", "0"])
            .args(&args)
            .current_dir(root())
            .output()
            .expect("stepfn runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(out.stdout.is_empty(), "{args:?} bound");
        assert!(stderr.contains(&expect), "{args:?}: {stderr}");
    }
}

/// Runs `program` with `args`, as the test key the client scripts use; panics with its output
/// unless it succeeds. Its last line (the checks it passed).
fn client_flow(program: &Path, args: &[&str]) -> String {
    let venv = venv();
    let out = Command::new(program)
        .args(args)
        .env(
            "PATH",
            format!(
                "{}:{}",
                venv.join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("AWS_CLI", venv.join("bin/aws"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{program:?} {args:?} failed under --auth:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.trim().lines().last().unwrap_or_default().to_string()
}

#[test]
fn the_client_flows_pass_unchanged_under_auth() {
    // Every operation the suite's client scripts call, signed by the CLI and boto3 with the
    // scripts' own key, verifies.
    let server = Server::start(stepfn(), &["--auth-key", "test:test"]);
    let endpoint = server.endpoint.as_str();
    let python = venv().join("bin/python");
    let cli = client_flow(
        Path::new("bash"),
        &[
            root()
                .join("tests/clients/awscli_flow.sh")
                .to_str()
                .expect("path"),
            endpoint,
        ],
    );
    assert!(
        cli.starts_with("awscli flow: ") && cli.ends_with(" checks passed"),
        "{cli}"
    );
    for script in ["boto3_session.py", "boto3_scheduler.py"] {
        let line = client_flow(
            &python,
            &[
                root()
                    .join("tests/clients")
                    .join(script)
                    .to_str()
                    .expect("path"),
                "--endpoint",
                endpoint,
            ],
        );
        assert!(line.ends_with(" checks passed"), "{script}: {line}");
    }
    // And the same key is refused with another secret.
    let wrong = aws_err(
        endpoint,
        "test",
        "not-test",
        &["stepfunctions", "list-activities"],
    );
    assert!(wrong.contains("(InvalidSignatureException)"), "{wrong}");
}

#[test]
fn backfill_through_an_auth_serve_signs_with_the_environments_credentials() {
    let (_dir, file) = credentials_file();
    let server = serve_with_file(&file);
    let endpoint = server.endpoint.as_str();
    let definition = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let created = aws_ok(
        endpoint,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "ticker",
            "--role-arn",
            "arn:aws:iam::111111111111:role/r",
            "--definition",
            definition,
        ],
    );
    let machine = created["stateMachineArn"].as_str().expect("arn");
    aws_ok(
        endpoint,
        &[
            "scheduler",
            "create-schedule",
            "--name",
            "hourly",
            "--schedule-expression",
            "cron(0 * * * ? *)",
            "--flexible-time-window",
            "Mode=OFF",
            "--target",
            &format!("Arn={machine},RoleArn=arn:aws:iam::111111111111:role/r"),
        ],
    );
    let backfill = |key: Option<(&str, &str)>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stepfn"));
        command
            .args(["backfill", "hourly", "--endpoint", endpoint])
            .args([
                "--from",
                "2026-05-01T00:00:00Z",
                "--to",
                "2026-05-01T02:00:00Z",
            ])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_REGION", "us-east-1");
        if let Some((key, secret)) = key {
            command
                .env("AWS_ACCESS_KEY_ID", key)
                .env("AWS_SECRET_ACCESS_KEY", secret);
        }
        command.output().expect("stepfn runs")
    };
    let unsigned = backfill(None);
    assert!(!unsigned.status.success());
    let stderr = String::from_utf8_lossy(&unsigned.stderr);
    assert!(stderr.contains("Missing Authentication Token"), "{stderr}");
    let wrong = backfill(Some((KEY, "not-the-secret")));
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("The request signature we calculated does not match"),
        "{stderr}"
    );
    let signed = backfill(Some((KEY, SECRET)));
    let stdout = String::from_utf8_lossy(&signed.stdout);
    assert!(
        signed.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("JSON report");
    assert_eq!(report, json!({"slots": 3, "started": 3, "existing": 0}));
}
