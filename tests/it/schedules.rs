//! Schedules firing in `stepfn worker` processes on DynamoDB Local, under a clock shared by
//! `STEPFN_SCHEDULER_CLOCK` (twenty times as fast: a minute's slot every three seconds), and
//! `stepfn backfill` through the store.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use stepfn::runtime::commands::machine_record;
use stepfn::scheduler::record::{schedule_key, ScheduleRecord, SCHEDULE_KIND};
use stepfn::store::dynamodb::DynamoStore;
use stepfn::store::{Expect, Store};

use crate::durable::{endpoint, new_table, ok_json, report, stepfn, store_args};

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:ticker";

fn ms(iso: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso)
        .map(|t| t.timestamp_millis())
        .expect("a test time")
}

fn real_now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn store_with_machine(table: &str, endpoint: &str) -> DynamoStore {
    let store = DynamoStore::connect(table, Some(endpoint))
        .await
        .expect("connect");
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    store
        .put_machine(&machine_record("ticker", definition, 0))
        .await
        .expect("machine");
    store
}

async fn put_schedule(store: &DynamoStore, name: &str, expression: &str, created: i64) {
    let record: ScheduleRecord = serde_json::from_value(json!({
        "name": name, "group": "default",
        "arn": format!("arn:aws:scheduler:us-east-1:111111111111:schedule/default/{name}"),
        "expression": expression, "state": "ENABLED", "actionAfterCompletion": "NONE",
        "target": {"arn": MACHINE, "roleArn": "arn:aws:iam::111111111111:role/r"},
        "created": created, "modified": created, "since": created
    }))
    .expect("record");
    store
        .put_resource(
            SCHEDULE_KIND,
            &schedule_key("default", name),
            &serde_json::to_value(&record).expect("json"),
            Expect::Absent,
        )
        .await
        .expect("put")
        .expect("new");
}

/// The names of the machine's executions, sorted, and whether all succeeded.
async fn executions(store: &DynamoStore) -> (Vec<String>, bool) {
    let listed = store.list_executions(MACHINE).await.expect("list");
    let mut names: Vec<String> = listed.iter().map(|e| e.info.name.clone()).collect();
    names.sort();
    let done = listed
        .iter()
        .all(|e| e.status == stepfn::engine::Status::Succeeded);
    (names, done)
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_schedule_fires_each_slot_once_across_three_workers_and_a_sigkill() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let store = store_with_machine(&table, &endpoint).await;
    let created = ms("2026-01-01T00:00:00Z");
    put_schedule(&store, "tick", "rate(1 minute)", created).await;
    // Twenty times as fast, from a second from now: slot k (00:0k:00) is due 1 + 3k s on.
    let origin = real_now() + 1_000;
    let clock = json!({"at": "2026-01-01T00:00:00Z", "real": origin, "speed": 20}).to_string();
    let mut workers: Vec<Worker> = (0..3)
        .map(|i| {
            let mut args = vec!["worker".to_string()];
            args.extend(store_args(&table, &endpoint));
            args.extend(["--lease-seconds".into(), "2".into()]);
            args.extend(["--worker-name".into(), format!("w{i}")]);
            Worker(
                stepfn()
                    .args(&args)
                    .env("STEPFN_SCHEDULER_CLOCK", &clock)
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("worker starts"),
            )
        })
        .collect();
    let at = |virtual_seconds: i64| origin + virtual_seconds * 1000 / 20;
    let sleep_until =
        |t: i64| tokio::time::sleep(Duration::from_millis((t - real_now()).max(0) as u64));
    // SIGKILL one worker at the due time of the second slot.
    sleep_until(at(120)).await;
    let killed = workers.remove(0);
    drop(killed);
    // Past the fifth slot (00:05:00), before the sixth.
    sleep_until(at(330)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (names, done) = loop {
        let (names, done) = executions(&store).await;
        if done || Instant::now() > deadline {
            break (names, done);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(workers);
    let want: Vec<String> = (1..=5)
        .map(|m| format!("tick-20260101T000{m}00Z"))
        .collect();
    let fired: Vec<&String> = names.iter().filter(|n| *n <= &want[4]).collect();
    assert_eq!(
        fired,
        want.iter().collect::<Vec<_>>(),
        "each slot once: {names:?}"
    );
    assert!(
        done,
        "every slot's execution was driven to its end: {names:?}"
    );
    let first = store
        .get_execution(&format!(
            "arn:aws:states:us-east-1:111111111111:execution:ticker:{}",
            want[1]
        ))
        .await
        .expect("get")
        .expect("the slot after the SIGKILL fired");
    assert_eq!(
        first.input,
        json!({"scheduledTime": "2026-01-01T00:02:00Z"})
    );
    report(&format!(
        "schedules: rate(1 minute) over 3 workers (one SIGKILLed at a due time): {} slots, each once",
        want.len()
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_through_the_store_starts_each_slot_once() {
    let endpoint = endpoint();
    let table = new_table(&endpoint);
    let store = store_with_machine(&table, &endpoint).await;
    put_schedule(
        &store,
        "hourly",
        "cron(0 * * * ? *)",
        ms("2026-06-01T00:00:00Z"),
    )
    .await;
    let backfill = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "backfill",
            "hourly",
            "--from",
            "2026-05-01T00:00:00Z",
            "--to",
            "2026-05-05T03:00:00Z",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(store_args(&table, &endpoint));
        args.extend(extra.iter().map(|s| s.to_string()));
        stepfn().args(&args).output().expect("stepfn runs")
    };
    // A worker drives the executions, so that at most 10 run at once lets the backfill on.
    let mut args = vec!["worker".to_string()];
    args.extend(store_args(&table, &endpoint));
    let worker = Worker(
        stepfn()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("worker starts"),
    );
    let first = ok_json(&backfill(&["--max-concurrency", "10"]));
    drop(worker);
    assert_eq!(first, json!({"slots": 100, "started": 100, "existing": 0}));
    let again = ok_json(&backfill(&[]));
    assert_eq!(again, json!({"slots": 100, "started": 0, "existing": 100}));
    let (names, _) = executions(&store).await;
    assert_eq!(names.len(), 100);
    assert_eq!(names[0], "hourly-20260501T000000Z");
    assert_eq!(names[99], "hourly-20260505T030000Z");
    let one = store
        .get_execution(&format!(
            "arn:aws:states:us-east-1:111111111111:execution:ticker:{}",
            names[27]
        ))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(one.input, json!({"scheduledTime": "2026-05-02T03:00:00Z"}));
    // Bad input: a clear error, a non-zero exit, nothing started.
    let mut args: Vec<String> = [
        "backfill",
        "hourly",
        "--from",
        "yesterday",
        "--to",
        "2026-05-05T03:00:00Z",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(store_args(&table, &endpoint));
    let bad = stepfn().args(&args).output().expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--from yesterday: not an ISO 8601 time"),
        "{stderr}"
    );
    let mut args: Vec<String> = [
        "backfill",
        "nope",
        "--from",
        "2026-05-01T00:00:00Z",
        "--to",
        "2026-05-02T00:00:00Z",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(store_args(&table, &endpoint));
    let missing = stepfn().args(&args).output().expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("Schedule nope does not exist."), "{stderr}");
    assert_eq!(
        executions(&store).await.0.len(),
        100,
        "nothing more started"
    );
}
