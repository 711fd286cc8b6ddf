//! Firing schedules and backfills on both stores, with the time given to each look.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::runtime::commands::machine_record;
use crate::scheduler::record::ScheduleTarget;
use crate::store::dynamodb::tests::fresh_store;
use crate::store::memory::MemoryStore;

fn ms(iso: &str) -> i64 {
    DateTime::parse_from_rfc3339(iso)
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .expect("a test time")
}

const MACHINE: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:nightly";

async fn with_machine<S: Store>(store: &S) {
    let definition =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    store
        .put_machine(&machine_record("nightly", definition, 0))
        .await
        .expect("machine");
}

fn schedule(name: &str, expression: &str, zone: Option<&str>, created: i64) -> ScheduleRecord {
    ScheduleRecord {
        name: name.into(),
        group: "default".into(),
        arn: format!("arn:aws:scheduler:us-east-1:111111111111:schedule/default/{name}"),
        expression: expression.into(),
        timezone: zone.map(str::to_string),
        start_date: None,
        end_date: None,
        state: "ENABLED".into(),
        window_minutes: None,
        action_after_completion: "NONE".into(),
        description: None,
        kms_key_arn: None,
        target: ScheduleTarget {
            arn: MACHINE.into(),
            role_arn: "arn:aws:iam::111111111111:role/r".into(),
            input: None,
            max_event_age_seconds: None,
            max_retry_attempts: None,
            dead_letter_arn: None,
        },
        created,
        modified: created,
        catch_up: "none".into(),
        overlap: "allow".into(),
        since: created,
        fired: None,
        buffered: None,
        last_execution: None,
    }
}

async fn put<S: Store>(store: &S, record: &ScheduleRecord) {
    let body = serde_json::to_value(record).expect("json");
    let key = schedule_key(&record.group, &record.name);
    store
        .put_resource(SCHEDULE_KIND, &key, &body, Expect::Absent)
        .await
        .expect("put")
        .expect("new");
}

/// The scheduled times (inputs) of the executions started, sorted.
async fn scheduled_times<S: Store>(store: &S) -> Vec<String> {
    let mut times: Vec<String> = store
        .list_executions(MACHINE)
        .await
        .expect("list")
        .iter()
        .map(|e| e.info.arn.clone())
        .map(|arn: String| arn.rsplit(':').next().unwrap_or_default().to_string())
        .collect();
    times.sort();
    times
}

async fn input_of<S: Store>(store: &S, arn: &str) -> Value {
    store
        .get_execution(arn)
        .await
        .expect("get")
        .expect("stored")
        .input
}

/// `rate(1 minute)`: three workers look at once, at each second of five minutes; every slot
/// starts one execution, with its time as input.
async fn rate_fires_each_slot_once_across_workers<S: Store>(store: &S) {
    with_machine(store).await;
    let created = ms("2026-01-01T00:00:00Z");
    put(
        store,
        &schedule("every-minute", "rate(1 minute)", None, created),
    )
    .await;
    let mut started = Vec::new();
    for second in (0..=300).step_by(7) {
        let now = created + second * 1000;
        let (a, b, c) = tokio::join!(
            fire_due(store, now),
            fire_due(store, now),
            fire_due(store, now)
        );
        for f in [a, b, c] {
            started.extend(f.expect("look").started);
        }
    }
    let unique: BTreeSet<_> = started.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        started.len(),
        "a slot started twice: {started:?}"
    );
    assert_eq!(
        scheduled_times(store).await,
        [
            "every-minute-20260101T000100Z",
            "every-minute-20260101T000200Z",
            "every-minute-20260101T000300Z",
            "every-minute-20260101T000400Z",
        ]
    );
    let first = arn::execution(MACHINE, "every-minute-20260101T000100Z");
    assert_eq!(
        input_of(store, &first).await,
        json!({"scheduledTime": "2026-01-01T00:01:00Z"})
    );
    // The fifth slot, at 00:05:00, comes at the next look after it.
    let f = fire_due(store, created + 301_000).await.expect("look");
    assert_eq!(f.started.len(), 1);
}

/// `cron(0 9 * * ? *)` in New York across the change to daylight time (2026-03-08): 09:00
/// local is 14:00 UTC before it and 13:00 UTC after.
async fn cron_in_a_time_zone_follows_daylight_saving<S: Store>(store: &S) {
    with_machine(store).await;
    let created = ms("2026-03-06T12:00:00Z");
    let mut s = schedule(
        "nine",
        "cron(0 9 * * ? *)",
        Some("America/New_York"),
        created,
    );
    s.target.input = Some(
        r#"{"at": "<aws.scheduler.scheduled-time>", "by": "<aws.scheduler.schedule-arn>"}"#.into(),
    );
    // A flexible window of an hour: a look each hour finds each slot on time.
    s.window_minutes = Some(60);
    put(store, &s).await;
    let mut now = created;
    while now < ms("2026-03-10T12:00:00Z") {
        now += 3_600_000;
        fire_due(store, now).await.expect("look");
    }
    assert_eq!(
        scheduled_times(store).await,
        [
            "nine-20260306T140000Z",
            "nine-20260307T140000Z",
            "nine-20260308T130000Z",
            "nine-20260309T130000Z",
        ]
    );
    let arn = arn::execution(MACHINE, "nine-20260308T130000Z");
    assert_eq!(
        input_of(store, &arn).await,
        json!({"at": "2026-03-08T13:00:00Z", "by": s.arn})
    );
}

/// `at(...)` with `ActionAfterCompletion: DELETE`: one execution, then the schedule is gone.
async fn at_fires_once_and_deletes_itself<S: Store>(store: &S) {
    with_machine(store).await;
    let created = ms("2026-05-01T09:00:00Z");
    let mut s = schedule(
        "once",
        "at(2026-05-01T12:00:00)",
        Some("Europe/Paris"),
        created,
    );
    s.action_after_completion = "DELETE".into();
    put(store, &s).await;
    let key = schedule_key("default", "once");
    let before = fire_due(store, ms("2026-05-01T09:59:59Z"))
        .await
        .expect("look");
    assert!(before.started.is_empty() && before.deleted.is_empty());
    assert!(store
        .get_resource(SCHEDULE_KIND, &key)
        .await
        .expect("get")
        .is_some());
    // 12:00 in Paris (summer time) is 10:00 UTC.
    let (a, b) = tokio::join!(
        fire_due(store, ms("2026-05-01T10:00:01Z")),
        fire_due(store, ms("2026-05-01T10:00:01Z"))
    );
    let (a, b) = (a.expect("look"), b.expect("look"));
    assert_eq!(a.started.len() + b.started.len(), 1, "{a:?} {b:?}");
    let later = fire_due(store, ms("2026-05-01T10:00:30Z"))
        .await
        .expect("look");
    assert!(later.started.is_empty());
    assert!(
        store
            .get_resource(SCHEDULE_KIND, &key)
            .await
            .expect("get")
            .is_none(),
        "deleted after its only slot"
    );
    assert_eq!(scheduled_times(store).await, ["once-20260501T100000Z"]);
}

/// A backfill of 100 slots starts 100 executions with their times; again, none.
async fn backfill_starts_each_missed_slot_once<S: Store>(store: &S) {
    with_machine(store).await;
    let created = ms("2026-02-01T00:00:00Z");
    put(
        store,
        &schedule("hourly", "cron(0 * * * ? *)", None, created),
    )
    .await;
    let (from, to) = (ms("2026-01-01T00:00:00Z"), ms("2026-01-05T03:00:00Z"));
    let first = backfill(store, "default", "hourly", from, to, 0, || created)
        .await
        .expect("backfill");
    assert_eq!(
        (first.slots, first.started.len(), first.existing),
        (100, 100, 0)
    );
    let times = scheduled_times(store).await;
    assert_eq!(times.len(), 100);
    assert_eq!(times[0], "hourly-20260101T000000Z");
    assert_eq!(times[99], "hourly-20260105T030000Z");
    let arn = arn::execution(MACHINE, "hourly-20260102T050000Z");
    assert_eq!(
        input_of(store, &arn).await,
        json!({"scheduledTime": "2026-01-02T05:00:00Z"})
    );
    let again = backfill(store, "default", "hourly", from, to, 0, || created)
        .await
        .expect("backfill");
    assert_eq!(
        (again.slots, again.started.len(), again.existing),
        (100, 0, 100)
    );
    assert_eq!(scheduled_times(store).await.len(), 100);
    let missing = backfill(store, "default", "nope", from, to, 0, || created).await;
    assert!(
        matches!(missing, Err(BackfillError::NoSchedule(_))),
        "{missing:?}"
    );
    let backwards = backfill(store, "default", "hourly", to, from, 0, || created).await;
    assert!(
        matches!(backwards, Err(BackfillError::Invalid(_))),
        "{backwards:?}"
    );
}

/// Catch-up after a worker was down for ten minutes: `none` fires no missed slot, `latest`
/// the last, `all` every one; `skip` starts no slot while the last execution runs; a disabled
/// schedule fires nothing.
async fn catch_up_and_overlap_policies<S: Store>(store: &S) {
    with_machine(store).await;
    let created = ms("2026-04-01T00:00:00Z");
    for (name, catch_up) in [
        ("cu-none", "none"),
        ("cu-latest", "latest"),
        ("cu-all", "all"),
    ] {
        let mut s = schedule(name, "rate(1 minute)", None, created);
        s.catch_up = catch_up.into();
        put(store, &s).await;
    }
    let mut skip = schedule("ov-skip", "rate(1 minute)", None, created);
    skip.overlap = "skip".into();
    put(store, &skip).await;
    let mut off = schedule("off", "rate(1 minute)", None, created);
    off.state = "DISABLED".into();
    put(store, &off).await;
    // Down from the start; back at 00:10:30, two minutes past the grace of a minute.
    let back = fire_due(store, ms("2026-04-01T00:10:30Z"))
        .await
        .expect("look");
    let names: BTreeSet<String> = back
        .started
        .iter()
        .map(|a| a.rsplit(':').next().unwrap_or_default().to_string())
        .collect();
    let of = |prefix: &str| names.iter().filter(|n| n.starts_with(prefix)).count();
    assert_eq!(
        of("cu-none-"),
        1,
        "only the on-time slot (00:10): {names:?}"
    );
    assert_eq!(
        of("cu-latest-"),
        2,
        "the latest missed and the on-time one: {names:?}"
    );
    assert!(names.contains("cu-latest-20260401T000900Z"), "{names:?}");
    assert_eq!(of("cu-all-"), 10, "every slot: {names:?}");
    assert_eq!(of("off-"), 0);
    assert_eq!(of("ov-skip-"), 1);
    // Its execution (a Wait of an hour) still runs at 00:11: the slot is skipped.
    let next = fire_due(store, ms("2026-04-01T00:11:01Z"))
        .await
        .expect("look");
    assert_eq!(next.skipped, 1, "{next:?}");
    assert!(!next.started.iter().any(|a| a.contains(":ov-skip-")));
}

/// A schedule clock ahead of the wall clock (`STEPFN_SCHEDULER_CLOCK` in tests) decides which
/// slots are due; the executions they start are due to their drivers by the wall clock.
async fn a_clock_ahead_starts_executions_due_now<S: Store>(store: &S) {
    with_machine(store).await;
    let created = real_now();
    put(store, &schedule("ahead", "rate(1 minute)", None, created)).await;
    let fired = fire_due(store, created + 90_000).await.expect("look");
    assert_eq!(fired.started.len(), 1, "{fired:?}");
    let record = store
        .get_execution(&fired.started[0])
        .await
        .expect("get")
        .expect("stored");
    let now = real_now();
    assert!(
        record.info.start_time <= now,
        "started at {} by the schedule clock, not by the wall clock {now}",
        record.info.start_time
    );
    let due = store.due_executions(now, 10).await.expect("due");
    assert!(due.contains(&fired.started[0]), "{due:?}");
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::MemoryStore::new()).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::fresh_store().await).await;
                }
            )*
        }
    };
}

on_both_stores!(
    rate_fires_each_slot_once_across_workers,
    cron_in_a_time_zone_follows_daylight_saving,
    at_fires_once_and_deletes_itself,
    backfill_starts_each_missed_slot_once,
    catch_up_and_overlap_policies,
    a_clock_ahead_starts_executions_due_now,
);
