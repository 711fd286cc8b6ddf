//! The console that `stepfn serve` serves beside the API: its routes next to the API's `POST /`,
//! its one-read history against GetExecutionHistory, and the browser test
//! (tests/browser/console.mjs: headless Chromium driven by playwright-core) on the memory store
//! and on DynamoDB Local. The browser test needs what `bash infra/browser.sh` installs; without
//! it the test fails saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::serve::Server;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stepfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepfn"));
    c.current_dir(root())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    c
}

fn get(url: &str, accept: Option<&str>) -> (u16, String, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut request = reqwest::Client::new().get(url);
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let answer = request.send().await.expect("request");
        let status = answer.status().as_u16();
        let kind = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, kind, answer.text().await.expect("body"))
    })
}

fn post_history(url: &str, body: &str) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let answer = reqwest::Client::new()
            .post(format!("{url}/console/history"))
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = answer.status().as_u16();
        let text = answer.text().await.expect("body");
        (status, serde_json::from_str(&text).expect("a JSON answer"))
    })
}

fn wait_until_done(server: &Server, arn: &str) -> Value {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let d = server.api("DescribeExecution", json!({"executionArn": arn}));
        if d["status"] != "RUNNING" {
            return d;
        }
        assert!(Instant::now() < end, "{arn} still running: {d}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn console_pages_sit_beside_the_api() {
    let server = Server::start(stepfn(), &[]);
    let url = &server.endpoint;
    let (status, kind, body) = get(&format!("{url}/"), Some("text/html,*/*;q=0.8"));
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(body.contains("<script src=\"/console/app.js\">"), "{body}");
    for page in ["/machine?arn=x", "/execution?arn=x"] {
        let (status, kind, _) = get(&format!("{url}{page}"), Some("text/html"));
        assert_eq!(
            (status, kind.starts_with("text/html")),
            (200, true),
            "{page}"
        );
    }
    let (status, kind, body) = get(&format!("{url}/console/app.js"), None);
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/javascript"), "{kind}");
    assert!(body.contains("X-Amz-Target"), "the script calls the API");
    let (status, kind, _) = get(&format!("{url}/console/app.css"), None);
    assert_eq!((status, kind.starts_with("text/css")), (200, true));
    // Not a browser: the API's health answer, as without the console.
    let (status, _, body) = get(&format!("{url}/"), Some("application/json"));
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON"),
        json!({"service": "stepfn", "status": "ok"})
    );
    // The API's POST / still answers.
    let listed = server.api("ListStateMachines", json!({}));
    assert_eq!(listed, json!({"stateMachines": []}));
    // Another path is still the API's protocol error.
    let (status, _, body) = get(&format!("{url}/nothing-here"), None);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no operation at /nothing-here"), "{body}");
}

#[test]
fn console_history_is_get_execution_history_in_one_read() {
    let server = Server::start(stepfn(), &[]);
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": true,
        "ItemProcessor": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": true}}}}}});
    let machine = server.api(
        "CreateStateMachine",
        json!({"name": "history", "definition": definition.to_string(),
               "roleArn": "arn:aws:iam::123456789012:role/r"}),
    );
    let items: Vec<u32> = (0..700).collect();
    let started = server.api(
        "StartExecution",
        json!({"stateMachineArn": machine["stateMachineArn"],
               "input": json!({"items": items}).to_string()}),
    );
    let arn = started["executionArn"].as_str().expect("executionArn");
    assert_eq!(wait_until_done(&server, arn)["status"], "SUCCEEDED");

    let mut paged = Vec::new();
    let mut token = Value::Null;
    loop {
        let mut request = json!({"executionArn": arn, "maxResults": 1000});
        if !token.is_null() {
            request["nextToken"] = token.clone();
        }
        let page = server.api("GetExecutionHistory", request);
        paged.extend(page["events"].as_array().expect("events").iter().cloned());
        token = page.get("nextToken").cloned().unwrap_or(Value::Null);
        if token.is_null() {
            break;
        }
    }
    assert!(paged.len() > 2800, "{} events", paged.len());

    let (status, all) = post_history(&server.endpoint, &json!({"executionArn": arn}).to_string());
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["events"].as_array().expect("events"), &paged);
    let (status, tail) = post_history(
        &server.endpoint,
        &json!({"executionArn": arn, "after": paged.len() - 2}).to_string(),
    );
    assert_eq!(status, 200, "{tail}");
    assert_eq!(
        tail["events"].as_array().expect("events"),
        &paged[paged.len() - 2..]
    );

    let missing = arn.replace(":history:", ":nothing:");
    let (status, answer) = post_history(
        &server.endpoint,
        &json!({"executionArn": missing}).to_string(),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["__type"]
            .as_str()
            .is_some_and(|t| t.ends_with("#ExecutionDoesNotExist")),
        "{answer}"
    );
    let (status, answer) = post_history(&server.endpoint, "{not json");
    assert_eq!(status, 400);
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("the body is not JSON"),
        "{answer}"
    );
    let (status, answer) = post_history(
        &server.endpoint,
        &json!({"executionArn": arn, "after": -1}).to_string(),
    );
    assert_eq!(status, 400);
    assert_eq!(
        answer["message"],
        "after: an event id (a whole number) is required"
    );
}

/// What the browser test runs with: node, Chromium and the folder whose node_modules has
/// playwright-core. Missing ones fail the test, naming the script that installs them.
fn browser() -> (PathBuf, PathBuf) {
    let fix = "run `bash infra/browser.sh` (it installs Debian's chromium and the pinned \
               playwright-core; infra/test.sh does)";
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node is missing ({node:?}): install Node.js 20+, then {fix}"
    );
    let chromium = PathBuf::from(
        std::env::var("STEPFN_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    assert!(
        chromium.exists(),
        "{} is missing: {fix}",
        chromium.display()
    );
    let dir = std::env::var("STEPFN_TEST_BROWSER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("tests/browser"));
    let playwright = dir.join("node_modules/playwright-core/package.json");
    assert!(
        playwright.exists(),
        "{} is missing: {fix}",
        playwright.display()
    );
    (chromium, dir)
}

fn run_browser_test(server: &Server, outdir: &Path, extra: &[&str]) {
    let (chromium, dir) = browser();
    let _ = std::fs::remove_dir_all(outdir);
    let output = Command::new("node")
        .arg(dir.join("console.mjs"))
        .arg(&server.endpoint)
        .arg(outdir)
        .args(extra)
        .env("STEPFN_TEST_CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "the browser test failed (screenshots in {}):\n{stdout}{stderr}",
        outdir.display()
    );
    assert!(stdout.contains("console browser test passed"), "{stdout}");
    for shot in [
        "machines.png",
        "machine.png",
        "execution.png",
        "execution-running.png",
        "execution-stopped.png",
        "timeline.png",
        "events.png",
    ] {
        assert!(
            outdir.join(shot).exists(),
            "no screenshot {shot} in {}",
            outdir.display()
        );
    }
}

#[test]
fn console_in_a_browser_on_the_memory_store() {
    let server = Server::start(stepfn(), &["--mocks", "tests/browser/mocks.json"]);
    run_browser_test(
        &server,
        &root().join("target/console-screenshots/memory"),
        &[],
    );
}

#[test]
fn console_in_a_browser_on_dynamodb_local() {
    let ddb = std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STEPFN_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `bash infra/test.sh`, \
             which installs and starts DynamoDB Local"
        )
    });
    let table = format!("console{}", std::process::id());
    let server = Server::start(
        stepfn(),
        &[
            "--mocks",
            "tests/browser/mocks.json",
            "--store",
            "dynamodb",
            "--table",
            &table,
            "--dynamodb-endpoint",
            &ddb,
        ],
    );
    // The 10,000-item Map is measured on the memory store; here the pages and actions.
    run_browser_test(
        &server,
        &root().join("target/console-screenshots/dynamodb"),
        &["--without-big-map"],
    );
}
