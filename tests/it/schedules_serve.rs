//! Schedules end to end through real `stepfn serve` processes, made with the `aws scheduler`
//! CLI and fired by the clock `STEPFN_SCHEDULER_CLOCK` gives the process:
//!
//! * on the memory store, a clock twenty times as fast: a `rate(1 minute)` schedule fires each
//!   slot once (executions named `<schedule>-<UTC slot time>`, input `{"scheduledTime"}`); an
//!   `at(...)` schedule with `ActionAfterCompletion: DELETE` fires once and is gone; a DISABLED
//!   schedule fires nothing; `stepfn backfill --endpoint` starts one execution per slot, and
//!   none the second time, while the first ones still run;
//! * on DynamoDB Local, `serve` down over due times: the first `serve` (on the wall clock, for
//!   which nothing is due yet) is SIGKILLed, and the next one starts with a clock minutes past
//!   the slots it missed. Slots inside the flexible time window fire, those outside do not,
//!   and a group tagged `stepfn:catch-up=all` fires every one; a second outage does it again
//!   without firing any slot twice.
//!
//! Assertions are on what was started (names, inputs, counts); the clocks only place the slots.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::durable::{endpoint, new_table, stepfn, store_args};
use crate::support::lambda_watch::report;
use crate::support::python::venv;
use crate::support::serve::Server;

const ROLE: &str = "arn:aws:iam::111111111111:role/scheduler";
const CLOCK: &str = "STEPFN_SCHEDULER_CLOCK";
const MINUTE: i64 = 60_000;

fn real_now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An ISO 8601 time, ms since the epoch.
fn ms(iso: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso)
        .map(|t| t.timestamp_millis())
        .expect("a test time")
}

/// `2026-01-01T00:00:00Z` of a time, ms since the epoch.
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a test time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The execution a slot of schedule `name` (in `group`) starts: `<name>-<UTC time>`, the group
/// in front when it is not `default`.
fn slot_name(group: &str, name: &str, slot: i64) -> String {
    let time = chrono::DateTime::from_timestamp_millis(slot)
        .expect("a test time")
        .format("%Y%m%dT%H%M%SZ");
    if group == "default" {
        format!("{name}-{time}")
    } else {
        format!("{group}-{name}-{time}")
    }
}

/// A clock that reads `at` now and runs `speed` times as fast as the wall clock.
fn clock(at: i64, real: i64, speed: u32) -> String {
    json!({"at": iso(at), "real": real, "speed": speed}).to_string()
}

/// `stepfn serve` with the schedule clock `clock` (`None`: the wall clock) and `extra` args.
fn serve(clock: Option<&str>, extra: &[String]) -> Server {
    let mut command = stepfn();
    match clock {
        Some(c) => command.env(CLOCK, c),
        None => command.env_remove(CLOCK),
    };
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    Server::start(command, &extra)
}

/// Runs `aws scheduler <args>` against `endpoint`: the JSON answer, or the CLI's error text.
fn aws(venv: &Path, endpoint: &str, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(venv.join("bin/aws"))
        .args(["--endpoint-url", endpoint, "--region", "us-east-1"])
        .args(["--output", "json", "scheduler"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_PAGER", "")
        .output()
        .expect("the aws cli runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    if stdout.trim().is_empty() {
        return Ok(json!({}));
    }
    Ok(serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("aws scheduler {args:?}: not JSON ({e}): {stdout}")))
}

/// Runs each `aws scheduler` call at once (a CLI start takes most of a second); panics on the
/// first that fails.
fn aws_all(venv: &Path, endpoint: &str, calls: &[Vec<String>]) {
    std::thread::scope(|scope| {
        let running: Vec<_> = calls
            .iter()
            .map(|args| {
                scope.spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    aws(venv, endpoint, &args)
                        .unwrap_or_else(|e| panic!("aws scheduler {args:?} failed: {e}"))
                })
            })
            .collect();
        for call in running {
            call.join().expect("the cli call does not panic");
        }
    });
}

/// `create-schedule` arguments: schedule `name` of `expression` starting `machine`, and `extra`.
fn create(name: &str, expression: &str, machine: &str, extra: &[&str]) -> Vec<String> {
    let target = json!({"Arn": machine, "RoleArn": ROLE}).to_string();
    let mut args: Vec<String> = [
        "create-schedule",
        "--name",
        name,
        "--schedule-expression",
        expression,
        "--target",
        &target,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !extra.contains(&"--flexible-time-window") {
        args.extend(["--flexible-time-window".into(), "Mode=OFF".into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// A Pass state machine `name` on `server`; its ARN.
fn machine(server: &Server, name: &str) -> String {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    create_machine(server, name, &def)
}

/// A state machine `name` on `server` whose executions wait an hour; its ARN.
fn waiting_machine(server: &Server, name: &str) -> String {
    let def =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    create_machine(server, name, &def)
}

fn create_machine(server: &Server, name: &str, definition: &Value) -> String {
    let created = server.api(
        "CreateStateMachine",
        json!({"name": name, "definition": definition.to_string(),
            "roleArn": "arn:aws:iam::111111111111:role/r"}),
    );
    created["stateMachineArn"]
        .as_str()
        .unwrap_or_else(|| panic!("CreateStateMachine {name}: {created}"))
        .to_string()
}

/// The executions of `machine`: name to status, every page.
fn executions(server: &Server, machine: &str) -> std::collections::BTreeMap<String, String> {
    let mut all = std::collections::BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({"stateMachineArn": machine, "maxResults": 1000});
        if let Some(t) = &token {
            request["nextToken"] = json!(t);
        }
        let page = server.api("ListExecutions", request);
        let listed = page["executions"]
            .as_array()
            .unwrap_or_else(|| panic!("ListExecutions: {page}"));
        for e in listed {
            all.insert(
                e["name"].as_str().unwrap_or_default().to_string(),
                e["status"].as_str().unwrap_or_default().to_string(),
            );
        }
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return all,
        }
    }
}

/// Polls until every execution in `names` exists and succeeded (or `limit` passes); then the
/// executions of `machine`, name to status.
fn wait_for(
    server: &Server,
    machine: &str,
    names: &[String],
    limit: Duration,
) -> std::collections::BTreeMap<String, String> {
    let deadline = Instant::now() + limit;
    loop {
        let found = executions(server, machine);
        let done = names
            .iter()
            .all(|n| found.get(n).is_some_and(|s| s == "SUCCEEDED"));
        if done || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The input of execution `name` of `machine`, as JSON.
fn input_of(server: &Server, machine: &str, name: &str) -> Value {
    let arn = format!(
        "{}:{name}",
        machine.replacen(":stateMachine:", ":execution:", 1)
    );
    let described = server.api("DescribeExecution", json!({"executionArn": arn}));
    let text = described["input"]
        .as_str()
        .unwrap_or_else(|| panic!("DescribeExecution {arn}: {described}"));
    serde_json::from_str(text).expect("the input is JSON")
}

/// `stepfn backfill <args> --endpoint <serve>`.
fn backfill(endpoint: &str, args: &[&str]) -> std::process::Output {
    stepfn()
        .arg("backfill")
        .args(args)
        .args(["--endpoint", endpoint])
        .output()
        .expect("stepfn backfill runs")
}

fn backfill_ok(endpoint: &str, args: &[&str]) -> Value {
    let out = backfill(endpoint, args);
    assert!(
        out.status.success(),
        "stepfn backfill {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("backfill prints JSON")
}

#[test]
fn rate_at_disabled_and_backfill_through_serve_on_the_memory_store() {
    let venv = venv();
    let v = venv.as_path();
    // The schedule clock reads `at` at wall-clock time `real` and runs twenty times as fast (a
    // minute every 3 s). `real` leaves time to set up; `at` is past any creation time, so
    // every slot from the StartDate counts.
    let real = real_now() + 9_000;
    let at = (real / MINUTE + 2) * MINUTE;
    let start = at + MINUTE;
    let server = serve(Some(&clock(at, real, 20)), &[]);
    let endpoint = server.endpoint.as_str();
    let ticker = machine(&server, "ticker");
    // The backfilled executions wait an hour: the second backfill runs while they do.
    let backfilled = waiting_machine(&server, "backfilled");
    let once_at = start + 90_000;
    let once_expression = format!("at({})", &iso(once_at)[..19]);
    let start_date = iso(start);
    aws_all(
        v,
        endpoint,
        &[
            create(
                "tick",
                "rate(1 minute)",
                &ticker,
                &["--start-date", &start_date],
            ),
            create(
                "once",
                &once_expression,
                &ticker,
                &["--action-after-completion", "DELETE"],
            ),
            create(
                "off",
                "rate(1 minute)",
                &ticker,
                &["--start-date", &start_date, "--state", "DISABLED"],
            ),
            create("hourly", "cron(0 * * * ? *)", &backfilled, &[]),
        ],
    );
    let set_up = real_now();
    assert!(
        set_up < real + 3_000,
        "setting up took until {} ms after the clock's start, past the first slot: the machine \
         is too loaded for this test's clock",
        set_up - real
    );

    // Backfill, while the clock runs: 100 hourly slots, each started once.
    let range = [
        "hourly",
        "--from",
        "2026-05-01T00:00:00Z",
        "--to",
        "2026-05-05T03:00:00Z",
    ];
    assert_eq!(
        backfill_ok(endpoint, &range),
        json!({"slots": 100, "started": 100, "existing": 0})
    );
    let want: Vec<String> = (0..100)
        .map(|h| {
            slot_name(
                "default",
                "hourly",
                ms("2026-05-01T00:00:00Z") + h * 60 * MINUTE,
            )
        })
        .collect();
    let found = executions(&server, &backfilled);
    let in_range: Vec<&String> = found
        .keys()
        .filter(|n| n.starts_with("hourly-202605"))
        .collect();
    assert_eq!(in_range, want.iter().collect::<Vec<_>>());
    assert!(
        want.iter().all(|n| found[n] == "RUNNING"),
        "every backfilled execution waits: {found:?}"
    );
    assert_eq!(
        input_of(&server, &backfilled, &want[27]),
        json!({"scheduledTime": "2026-05-02T03:00:00Z"})
    );
    assert_eq!(
        input_of(&server, &backfilled, &want[99]),
        json!({"scheduledTime": "2026-05-05T03:00:00Z"})
    );
    assert_eq!(
        backfill_ok(endpoint, &range),
        json!({"slots": 100, "started": 0, "existing": 100})
    );
    let missing = backfill(
        endpoint,
        &[
            "nope",
            "--from",
            "2026-05-01T00:00:00Z",
            "--to",
            "2026-05-02T00:00:00Z",
        ],
    );
    assert!(!missing.status.success(), "a missing schedule fails");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("Schedule nope does not exist."), "{stderr}");
    let after = executions(&server, &backfilled);
    assert_eq!(
        after
            .keys()
            .filter(|n| n.starts_with("hourly-202605"))
            .count(),
        100,
        "nothing more started: {after:?}"
    );

    // The clock past four slots of `tick` and the `at` of `once`.
    let until = real + (start + 3 * MINUTE + 30_000 - at) / 20;
    std::thread::sleep(Duration::from_millis((until - real_now()).max(0) as u64));
    let ticks: Vec<String> = (0..4)
        .map(|k| slot_name("default", "tick", start + k * MINUTE))
        .collect();
    let once = slot_name("default", "once", once_at);
    let mut expected = ticks.clone();
    expected.push(once.clone());
    let found = wait_for(&server, &ticker, &expected, Duration::from_secs(20));
    // Later slots of `tick` fire as the clock goes on; up to the fourth, exactly these.
    let last = &ticks[3];
    let fired: Vec<&String> = found
        .keys()
        .filter(|n| !n.starts_with("tick-") || *n <= last)
        .collect();
    assert_eq!(
        fired,
        [&once, &ticks[0], &ticks[1], &ticks[2], &ticks[3]],
        "each slot once, the DISABLED schedule none: {found:?}"
    );
    assert!(
        expected.iter().all(|n| found[n] == "SUCCEEDED"),
        "{found:?}"
    );
    for (k, name) in ticks.iter().enumerate() {
        assert_eq!(
            input_of(&server, &ticker, name),
            json!({"scheduledTime": iso(start + k as i64 * MINUTE)})
        );
    }
    assert_eq!(
        input_of(&server, &ticker, &once),
        json!({"scheduledTime": iso(once_at)})
    );
    let gone = aws(v, endpoint, &["get-schedule", "--name", "once"])
        .expect_err("the at(...) schedule deleted itself after its slot");
    assert_eq!(
        gone,
        "An error occurred (ResourceNotFoundException) when calling the GetSchedule operation: \
         Schedule once does not exist."
    );
    let off = aws(v, endpoint, &["get-schedule", "--name", "off"]).expect("off is kept");
    assert_eq!(off["State"], "DISABLED");
    report(&format!(
        "schedules on serve: rate(1 minute) fired {} slots once each, at(...) fired and deleted \
         itself, DISABLED fired none, backfill started 100, then none while they ran",
        ticks.len()
    ));
}

#[test]
fn missed_slots_fire_on_restart_by_window_and_catch_up_on_dynamodb_local() {
    let dynamodb = endpoint();
    let table = new_table(&dynamodb);
    let store = store_args(&table, &dynamodb);
    let venv = venv();
    let v = venv.as_path();
    // The first serve runs on the wall clock: the first slot, at least two minutes on, is not
    // due while it lives.
    let first = serve(None, &store);
    let ticker = machine(&first, "ticker");
    let start = (real_now() / MINUTE + 3) * MINUTE;
    let start_date = iso(start);
    aws(
        v,
        &first.endpoint,
        &[
            "create-schedule-group",
            "--name",
            "catchup",
            "--tags",
            "Key=stepfn:catch-up,Value=all",
        ],
    )
    .expect("create-schedule-group");
    aws_all(
        v,
        &first.endpoint,
        &[
            create(
                "flex",
                "rate(1 minute)",
                &ticker,
                &[
                    "--start-date",
                    &start_date,
                    "--flexible-time-window",
                    "Mode=FLEXIBLE,MaximumWindowInMinutes=5",
                ],
            ),
            create(
                "strict",
                "rate(1 minute)",
                &ticker,
                &["--start-date", &start_date],
            ),
            create(
                "all",
                "rate(1 minute)",
                &ticker,
                &["--start-date", &start_date, "--group-name", "catchup"],
            ),
        ],
    );
    assert!(executions(&first, &ticker).is_empty(), "nothing is due yet");
    drop(first); // SIGKILL

    // Down until 10 s after the eighth slot (start + 7 min): the next serve's clock starts there.
    let second = serve(
        Some(&clock(start + 7 * MINUTE + 10_000, real_now(), 1)),
        &store,
    );
    let slots = |group: &str, name: &str, minutes: std::ops::RangeInclusive<i64>| {
        minutes
            .map(|k| slot_name(group, name, start + k * MINUTE))
            .collect::<Vec<String>>()
    };
    // Within the 5-minute window: start + 3..7 (the older three are over 5 minutes late); OFF
    // (a minute's grace): the latest only; catch-up all: every one.
    let mut expected: Vec<String> = [
        slots("default", "flex", 3..=7),
        slots("default", "strict", 7..=7),
        slots("catchup", "all", 0..=7),
    ]
    .concat();
    expected.sort();
    let found = wait_for(&second, &ticker, &expected, Duration::from_secs(30));
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>(),
        "the missed slots of the first outage, each once: {found:?}"
    );
    assert!(found.values().all(|s| s == "SUCCEEDED"), "{found:?}");
    assert_eq!(
        input_of(&second, &ticker, &slot_name("catchup", "all", start)),
        json!({"scheduledTime": iso(start)})
    );
    assert_eq!(
        input_of(
            &second,
            &ticker,
            &slot_name("default", "flex", start + 3 * MINUTE)
        ),
        json!({"scheduledTime": iso(start + 3 * MINUTE)})
    );
    drop(second); // SIGKILL

    // A second outage, to 5 s after start + 9 min: start + 8 is 65 s late (inside the window,
    // outside OFF's minute), start + 9 on time; nothing fired before fires again.
    let third = serve(
        Some(&clock(start + 9 * MINUTE + 5_000, real_now(), 1)),
        &store,
    );
    expected.extend(
        [
            slots("default", "flex", 8..=9),
            slots("default", "strict", 9..=9),
            slots("catchup", "all", 8..=9),
        ]
        .concat(),
    );
    expected.sort();
    // `default/strict` is the last schedule a look reads: once its slot is there, the look
    // that could have fired anything twice is over.
    let found = wait_for(&third, &ticker, &expected, Duration::from_secs(30));
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>(),
        "the missed slots of the second outage, nothing twice: {found:?}"
    );
    assert!(found.values().all(|s| s == "SUCCEEDED"), "{found:?}");
    report(&format!(
        "schedules on serve (DynamoDB Local): two SIGKILLed outages, {} missed slots fired once \
         each by flexible window (5 min), OFF and catch-up=all",
        expected.len()
    ));
}
