//! Memory bounded by what an execution holds (issue 18): a Map that gives every iteration the
//! whole input runs in memory linear in the input, and GetExecutionHistory pages through a
//! long history by event ids, forward and reverse, on the memory and DynamoDB stores.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::durable::{endpoint, history, new_table, report, stepfn, store_args, uuid_like};
use crate::support::serve::Server;

/// The peak resident memory (`VmHWM`, in KiB) of process `pid`, while it lives.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The bound on `stepfn run`'s peak memory: far above what the run needs (~100 MB in a debug
/// build) and far below what it took when every iteration's input was built at the Map's
/// start (over 4 GiB for this input).
const BOUND_KIB: u64 = 300 * 1024;

#[test]
fn a_map_giving_every_iteration_the_whole_input_runs_in_linear_memory() {
    let dir = std::env::temp_dir().join(format!("stepfn-memory-bounds-{}", uuid_like()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let definition = dir.join("whole.json");
    std::fs::write(
        &definition,
        json!({
            "StartAt": "M",
            "States": {"M": {
                "Type": "Map",
                "MaxConcurrency": 0,
                "ItemsPath": "$.items",
                "ItemSelector": {"all.$": "$"},
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": true}}
                },
                "End": true
            }}
        })
        .to_string(),
    )
    .expect("definition");
    // ~24 KB: 12,000 items, each iteration's input the whole 24 KB.
    let input = json!({"items": vec![1; 12_000]}).to_string();
    assert!(input.len() > 24_000, "{}", input.len());
    let input_file = dir.join("input.json");
    std::fs::write(&input_file, &input).expect("input");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepfn"))
        .arg("run")
        .arg(&definition)
        .arg("--input-file")
        .arg(&input_file)
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stepfn run starts");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_kib(pid) {
            peak = peak.max(kib);
        }
        if peak > BOUND_KIB {
            // Stop it before it takes the machine's memory.
            let _ = child.kill();
            let _ = child.wait();
            panic!("stepfn run's peak memory passed {BOUND_KIB} KiB: {peak} KiB");
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "stepfn run still runs");
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = child.wait_with_output().expect("output");
    let _ = std::fs::remove_dir_all(&dir);
    // AWS: every iteration's output is the whole input, so the Map's result is over 256 KiB.
    assert_eq!(
        status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    assert_eq!(result["status"], "FAILED", "{result}");
    assert_eq!(result["error"], "States.DataLimitExceeded", "{result}");
    assert_eq!(
        result["cause"],
        "The state/task 'M' returned a result with a size exceeding the maximum number of bytes service limit.",
        "{result}"
    );
    assert!(peak > 0, "the peak memory was read");
    report(&format!(
        "memory: Map of 12,000 iterations each given the whole 24 KB input: peak {} MB (bound {} MB)",
        peak / 1024,
        BOUND_KIB / 1024
    ));
}

/// Runs a Map of 1,000 Pass iterations (4,000-odd history events) on `server` and returns its
/// execution ARN once it succeeded.
fn long_history(server: &Server) -> String {
    let name = format!("pages{}", uuid_like());
    let created = server.api(
        "CreateStateMachine",
        json!({
            "name": name,
            "roleArn": "arn:aws:iam::123456789012:role/r",
            "definition": json!({
                "StartAt": "M",
                "States": {"M": {
                    "Type": "Map",
                    "MaxConcurrency": 10,
                    "ItemProcessor": {
                        "StartAt": "P",
                        "States": {"P": {"Type": "Pass", "End": true}}
                    },
                    "End": true
                }}
            })
            .to_string()
        }),
    );
    let machine = created["stateMachineArn"]
        .as_str()
        .expect("machine")
        .to_string();
    let items: Vec<Value> = (0..1_000).map(|i| json!({"i": i})).collect();
    let started = server.api(
        "StartExecution",
        json!({"stateMachineArn": machine, "input": Value::Array(items).to_string()}),
    );
    let arn = started["executionArn"]
        .as_str()
        .expect("execution")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let d = server.api("DescribeExecution", json!({"executionArn": arn}));
        if d["status"] != "RUNNING" {
            assert_eq!(d["status"], "SUCCEEDED", "{d}");
            return arn;
        }
        assert!(Instant::now() < deadline, "still running: {d}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every page of `arn`'s history with `maxResults` `max` (0: the default), in order.
fn pages(server: &Server, arn: &str, max: u64, reverse: bool) -> Vec<Value> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({"executionArn": arn, "maxResults": max, "reverseOrder": reverse});
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let page = server.api("GetExecutionHistory", req);
        let got = page["events"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"));
        let want = if max == 0 { 100 } else { max as usize };
        match page.get("nextToken").and_then(Value::as_str) {
            Some(t) => {
                assert_eq!(got.len(), want, "a full page before the last");
                token = Some(t.to_string());
            }
            None => {
                assert!(!got.is_empty() && got.len() <= want, "{}", got.len());
                events.extend(got.iter().cloned());
                return events;
            }
        }
        events.extend(got.iter().cloned());
    }
}

/// Pages `arn`'s history every way and checks them against each other; returns the events.
fn history_pages_by_event_ids(server: &Server, store: &str) -> (String, Vec<Value>) {
    let arn = long_history(server);
    let forward = pages(server, &arn, 1000, false);
    let n = forward.len();
    assert!(n > 4_000, "{n} events");
    let ids: Vec<u64> = forward
        .iter()
        .map(|e| e["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(
        ids,
        (1..=n as u64).collect::<Vec<_>>(),
        "every event once, in order"
    );
    assert_eq!(forward[0]["type"], "ExecutionStarted");
    assert_eq!(forward[n - 1]["type"], "ExecutionSucceeded");
    for max in [0, 333] {
        assert_eq!(pages(server, &arn, max, false), forward, "forward by {max}");
    }
    let mut backward = forward.clone();
    backward.reverse();
    for max in [251, 1000] {
        assert_eq!(pages(server, &arn, max, true), backward, "reverse by {max}");
    }
    // A token no page gave is refused as before.
    let bad = server.api(
        "GetExecutionHistory",
        json!({"executionArn": arn, "nextToken": "bm90IGEgdG9rZW4="}),
    );
    assert_eq!(
        bad["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t)),
        Some("InvalidToken"),
        "{bad}"
    );
    assert_eq!(bad["message"], "Invalid Token: 'bm90IGEgdG9rZW4='", "{bad}");
    report(&format!(
        "history: {n} events paged forward and reverse by 100 to 1,000 on the {store} store"
    ));
    (arn, forward)
}

#[test]
fn history_pages_by_event_ids_on_the_memory_store() {
    let server = Server::start(stepfn(), &[]);
    history_pages_by_event_ids(&server, "memory");
}

#[test]
fn history_pages_by_event_ids_on_dynamodb_local() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let args = store_args(&table, &endpoint);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(stepfn(), &args);
    let (arn, pages) = history_pages_by_event_ids(&server, "DynamoDB");
    // `stepfn history` streams the whole history page by page: the same events.
    assert_eq!(history(&table, &endpoint, &arn), pages, "stepfn history");
}
