//! Prometheus metrics: `/metrics` of `stepfn serve` (memory store, standard and express
//! executions) and of `stepfn worker --metrics-port` (two workers on DynamoDB Local), scraped
//! before and after a known set of executions; each execution is counted once, by the
//! `state_machine` label.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::durable::{describe, endpoint, new_table, ok_json, report, start, stepfn, store_args};
use crate::durable::{uuid_like, write_temp};
use crate::support::serve::Server;

/// GET `url`, the body as text.
fn get(url: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let answer = reqwest::get(url).await.expect("GET");
        assert_eq!(answer.status().as_u16(), 200, "GET {url}");
        let kind = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(kind.starts_with("text/plain"), "content type {kind}");
        answer.text().await.expect("body")
    })
}

/// The sum of the samples of `name` whose labels contain each of `labels` (`key="value"`);
/// 0 when there is none (a counter not incremented yet is not rendered).
fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, number) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|want| rest.contains(want)))
                .then(|| number.parse::<f64>().expect("a sample value"))
        })
        .sum()
}

/// The figures a test watches, for one state machine.
const COUNTERS: [&str; 5] = [
    "stepfn_executions_started_total",
    "stepfn_executions_succeeded_total",
    "stepfn_executions_failed_total",
    "stepfn_executions_aborted_total",
    "stepfn_executions_timed_out_total",
];
const TIME_COUNT: &str = "stepfn_execution_time_seconds_count";

/// `[started, succeeded, failed, aborted, timed out, execution-time count]` of `machine`,
/// summed over the scrapes of `urls`.
fn figures(urls: &[String], machine: &str) -> [f64; 6] {
    let label = format!("state_machine=\"{machine}\"");
    let mut out = [0.0; 6];
    for url in urls {
        let text = get(url);
        for (i, name) in COUNTERS.iter().chain([&TIME_COUNT]).enumerate() {
            out[i] += value(&text, name, &[&label]);
        }
    }
    out
}

/// Waits until the figures of `machine` moved by `expected` from `before` (the counters are
/// incremented right after the commit a client may see first), then checks they stay there.
fn assert_moved(urls: &[String], machine: &str, before: [f64; 6], expected: [f64; 6]) {
    let started = Instant::now();
    let delta = |now: [f64; 6]| -> [f64; 6] { std::array::from_fn(|i| now[i] - before[i]) };
    loop {
        let now = delta(figures(urls, machine));
        if now == expected || started.elapsed() > Duration::from_secs(15) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let now = delta(figures(urls, machine));
    assert_eq!(
        now, expected,
        "{machine}: [started, succeeded, failed, aborted, timed out, time count] moved by"
    );
}

fn wait_done(server: &Server, arn: &str) -> String {
    let started = Instant::now();
    loop {
        let d = server.api("DescribeExecution", json!({"executionArn": arn}));
        let status = d["status"].as_str().unwrap_or_default().to_string();
        if status != "RUNNING" || started.elapsed() > Duration::from_secs(30) {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create(server: &Server, name: &str, kind: &str, definition: &Value) -> String {
    let created = server.api(
        "CreateStateMachine",
        json!({"name": name, "type": kind, "definition": definition.to_string(),
               "roleArn": "arn:aws:iam::111111111111:role/r"}),
    );
    created["stateMachineArn"]
        .as_str()
        .unwrap_or_else(|| panic!("created: {created}"))
        .to_string()
}

/// Succeeds, fails or waits an hour, as the input's `do` says.
fn choosing_machine() -> Value {
    json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.do", "StringEquals": "fail", "Next": "F"},
            {"Variable": "$.do", "StringEquals": "wait", "Next": "W"}],
            "Default": "P"},
        "P": {"Type": "Pass", "End": true},
        "F": {"Type": "Fail", "Error": "Metrics.Failed", "Cause": "on purpose"},
        "W": {"Type": "Wait", "Seconds": 3600, "End": true}}})
}

/// Waits past its `TimeoutSeconds`.
fn slow_machine() -> Value {
    json!({"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "End": true}}})
}

#[test]
fn serve_metrics_count_each_execution_by_state_machine() {
    let server = Server::start(stepfn(), &[]);
    let url = format!("{}/metrics", server.endpoint);
    let urls = [url.clone()];
    let tag = uuid_like();
    let (main, slow, express) = (
        format!("main-{tag}"),
        format!("slow-{tag}"),
        format!("express-{tag}"),
    );
    let main_arn = create(&server, &main, "STANDARD", &choosing_machine());
    let slow_arn = create(&server, &slow, "STANDARD", &slow_machine());
    let express_arn = create(&server, &express, "EXPRESS", &choosing_machine());
    let before = [
        figures(&urls, &main),
        figures(&urls, &slow),
        figures(&urls, &express),
    ];
    let store_before = value(
        &get(&url),
        "stepfn_store_request_duration_seconds_count",
        &["operation=\"commit\""],
    );

    let run = |machine: &str, name: &str, what: &str| -> String {
        let started = server.api(
            "StartExecution",
            json!({"stateMachineArn": machine, "name": name,
                   "input": json!({"do": what}).to_string()}),
        );
        started["executionArn"]
            .as_str()
            .unwrap_or_else(|| panic!("started: {started}"))
            .to_string()
    };
    let mut ends = Vec::new();
    for (i, what) in ["ok", "ok", "ok", "fail", "fail"].iter().enumerate() {
        ends.push(run(&main_arn, &format!("e{i}"), what));
    }
    let waiting = run(&main_arn, "stopped", "wait");
    let timing_out = run(&slow_arn, "slow", "");
    let stopped = server.api(
        "StopExecution",
        json!({"executionArn": waiting, "error": "Metrics.Stop"}),
    );
    assert!(stopped.get("stopDate").is_some(), "stopped: {stopped}");
    let statuses: Vec<String> = ends.iter().map(|arn| wait_done(&server, arn)).collect();
    assert_eq!(
        statuses,
        ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED", "FAILED"]
    );
    assert_eq!(wait_done(&server, &waiting), "ABORTED");
    assert_eq!(wait_done(&server, &timing_out), "TIMED_OUT");
    for what in ["ok", "fail"] {
        let answer = server.api(
            "StartSyncExecution",
            json!({"stateMachineArn": express_arn, "input": json!({"do": what}).to_string()}),
        );
        assert!(answer.get("status").is_some(), "sync: {answer}");
    }

    assert_moved(&urls, &main, before[0], [6.0, 3.0, 2.0, 1.0, 0.0, 6.0]);
    assert_moved(&urls, &slow, before[1], [1.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
    assert_moved(&urls, &express, before[2], [2.0, 1.0, 1.0, 0.0, 0.0, 2.0]);
    let text = get(&url);
    let store_after = value(
        &text,
        "stepfn_store_request_duration_seconds_count",
        &["operation=\"commit\""],
    );
    assert!(
        store_after > store_before,
        "store commits are timed: {store_before} -> {store_after}"
    );
    for name in [
        "stepfn_worker_drives_total",
        "stepfn_worker_drive_seconds_count",
        "stepfn_schedule_delay_seconds_count",
    ] {
        assert!(
            value(&text, name, &[]) >= 7.0,
            "{name} counts drives:\n{text}"
        );
    }
    assert!(
        text.contains("# TYPE stepfn_parked_executions gauge"),
        "the worker counts parked executions:\n{text}"
    );
    assert!(
        text.contains("# TYPE stepfn_execution_time_seconds histogram"),
        "execution time is a histogram:\n{text}"
    );
    assert_eq!(
        value(&text, "stepfn_worker_running_executions", &[]),
        0.0,
        "nothing is being driven now"
    );
    // An activity: a worker takes two tasks, answers one with success and one with failure;
    // schedule, run and whole times are recorded by activity and outcome.
    let activity_name = format!("act-{tag}");
    let activity = server.api("CreateActivity", json!({"name": activity_name}))["activityArn"]
        .as_str()
        .expect("activity")
        .to_string();
    let worker_machine = create(
        &server,
        &format!("worker-{tag}"),
        "STANDARD",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": activity, "End": true}}}),
    );
    let activity_runs: Vec<String> = (0..2)
        .map(|i| run(&worker_machine, &format!("a{i}"), "ok"))
        .collect();
    for (i, answer) in ["SendTaskSuccess", "SendTaskFailure"].iter().enumerate() {
        let task = server.api(
            "GetActivityTask",
            json!({"activityArn": activity, "workerName": "w"}),
        );
        let token = task["taskToken"].as_str().expect("a task").to_string();
        std::thread::sleep(Duration::from_millis(50 * (i as u64 + 1)));
        let body = if i == 0 {
            json!({"taskToken": token, "output": "{}"})
        } else {
            json!({"taskToken": token, "error": "Metrics.Worker"})
        };
        let answered = server.api(answer, body);
        assert!(answered.get("__type").is_none(), "{answer}: {answered}");
    }
    let ends: Vec<String> = activity_runs
        .iter()
        .map(|a| wait_done(&server, a))
        .collect();
    assert_eq!(
        ends.iter().filter(|s| *s == "SUCCEEDED").count(),
        1,
        "{ends:?}"
    );
    assert_eq!(
        ends.iter().filter(|s| *s == "FAILED").count(),
        1,
        "{ends:?}"
    );
    let text = get(&url);
    let label = format!("activity=\"{activity_name}\"");
    assert_eq!(
        value(
            &text,
            "stepfn_activity_schedule_time_seconds_count",
            &[&label]
        ),
        2.0,
        "schedule times:\n{text}"
    );
    for outcome in ["succeeded", "failed"] {
        let outcome = format!("outcome=\"{outcome}\"");
        for name in [
            "stepfn_activity_run_time_seconds_count",
            "stepfn_activity_time_seconds_count",
        ] {
            assert_eq!(
                value(&text, name, &[&label, &outcome]),
                1.0,
                "{name} {outcome}:\n{text}"
            );
        }
    }
    assert!(
        value(&text, "stepfn_activity_run_time_seconds_sum", &[&label]) >= 0.1,
        "run times span the worker's work:\n{text}"
    );
    report(
        "metrics: serve /metrics counted 3 succeeded, 2 failed, 1 aborted, 1 timed out, 2 express, 2 activity tasks",
    );
}

/// A `stepfn worker --metrics-port 0`, killed on drop; its stdout is kept open.
struct Worker {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    metrics: String,
}

impl Worker {
    fn start(table: &str, endpoint: &str, extra: &[String]) -> Worker {
        let mut args = vec!["worker".to_string()];
        args.extend(store_args(table, endpoint));
        args.extend(["--metrics-port".into(), "0".into()]);
        args.extend(extra.iter().cloned());
        let mut child = stepfn()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("worker starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("the worker prints its metrics address");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the worker's first line is not JSON ({e}): {line}"));
        let metrics = v["metrics"].as_str().expect("metrics").to_string();
        assert!(metrics.starts_with("http://127.0.0.1:"), "{metrics}");
        assert!(metrics.ends_with("/metrics"), "{metrics}");
        Worker {
            child,
            _stdout: stdout,
            metrics,
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn worker_metrics_port_counts_each_execution_once_across_two_workers() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let tag = uuid_like();
    let main = format!("wmain-{tag}");
    let slow = format!("wslow-{tag}");
    // Every Task is mocked: the first attempt throws, the retry returns.
    let mocks = write_temp(
        &format!("mocks-{tag}.json"),
        &json!({
            "StateMachines": {main.clone(): {"TestCases": {"flaky": {"T": "Flaky"}}}},
            "MockedResponses": {"Flaky": {
                "0": {"Throw": {"Error": "Metrics.Flaky", "Cause": "first try"}},
                "1": {"Return": {"ok": true}}}}
        }),
    );
    let extra = [
        "--mocks".to_string(),
        mocks.display().to_string(),
        "--test-case".into(),
        "flaky".into(),
    ];
    let workers = [
        Worker::start(&table, &endpoint, &extra),
        Worker::start(&table, &endpoint, &extra),
    ];
    let urls: Vec<String> = workers.iter().map(|w| w.metrics.clone()).collect();
    let before = [figures(&urls, &main), figures(&urls, &slow)];
    let resource = "arn:aws:lambda:us-east-1:111111111111:function:flaky";
    let mut main_def = choosing_machine();
    main_def["States"]["P"] = json!({"Type": "Task", "Resource": resource,
        "Retry": [{"ErrorEquals": ["Metrics.Flaky"], "IntervalSeconds": 1}], "End": true});
    main_def["States"]["T"] = main_def["States"]["P"].clone();
    main_def["States"]["P"] = json!({"Type": "Pass", "Next": "T"});
    let main_file = write_temp(&format!("{main}.json"), &main_def);
    let slow_file = write_temp(&format!("{slow}.json"), &slow_machine());

    let mut arns = Vec::new();
    for (i, what) in ["ok", "ok", "fail"].iter().enumerate() {
        let out = start(
            &main_file,
            &table,
            &endpoint,
            &format!("e{i}"),
            &json!({"do": what}),
        );
        arns.push(
            ok_json(&out)["executionArn"]
                .as_str()
                .expect("arn")
                .to_string(),
        );
    }
    let out = start(&slow_file, &table, &endpoint, "slow", &json!({}));
    arns.push(
        ok_json(&out)["executionArn"]
            .as_str()
            .expect("arn")
            .to_string(),
    );
    let started = Instant::now();
    let statuses: Vec<String> = arns
        .iter()
        .map(|arn| loop {
            let status = describe(&table, &endpoint, arn)["status"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if status != "RUNNING" || started.elapsed() > Duration::from_secs(60) {
                break status;
            }
            std::thread::sleep(Duration::from_millis(200));
        })
        .collect();
    assert_eq!(statuses, ["SUCCEEDED", "SUCCEEDED", "FAILED", "TIMED_OUT"]);

    assert_moved(&urls, &main, before[0], [3.0, 2.0, 1.0, 0.0, 0.0, 3.0]);
    assert_moved(&urls, &slow, before[1], [1.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
    let texts: Vec<String> = urls.iter().map(|u| get(u)).collect();
    let sum =
        |name: &str, labels: &[&str]| -> f64 { texts.iter().map(|t| value(t, name, labels)).sum() };
    let by_resource = format!("resource=\"{resource}\"");
    assert_eq!(
        sum("stepfn_task_retries_total", &[&by_resource]),
        2.0,
        "one retry per succeeding execution"
    );
    assert_eq!(
        sum(
            "stepfn_task_duration_seconds_count",
            &[&by_resource, "outcome=\"failed\""]
        ),
        2.0
    );
    assert_eq!(
        sum(
            "stepfn_task_duration_seconds_count",
            &[&by_resource, "outcome=\"succeeded\""]
        ),
        2.0
    );
    assert!(
        sum(
            "stepfn_store_request_duration_seconds_count",
            &["operation=\"commit\""]
        ) >= 4.0,
        "DynamoDB commits are timed"
    );
    report("metrics: two workers' /metrics summed count each execution once (2 succeeded, 1 failed, 1 timed out) and the task's retry");
}
