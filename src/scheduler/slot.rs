//! What a schedule does with its slots: which are due now (the catch-up policy over the slots a
//! down `serve` or a dead worker missed, and the flexible time window), the execution each slot
//! starts (named after the schedule and the slot, so that one slot can never start two
//! executions whoever fires it), and the input it gets (EventBridge Scheduler's context
//! attributes). Pure: times come in as ms since the epoch.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::Digest as _;

use super::expression::Schedule;

/// What a schedule does with slots it missed (its workers down over their time): stepfn's own,
/// beside EventBridge Scheduler's flexible time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// Fire no missed slot; only a slot still inside its flexible time window fires.
    #[default]
    None,
    /// Fire the latest missed slot only.
    Latest,
    /// Fire every missed slot, oldest first.
    All,
}

impl CatchUp {
    /// The policy named `name` (`none`, `latest`, `all`).
    pub fn parse(name: &str) -> Option<CatchUp> {
        match name {
            "none" => Some(CatchUp::None),
            "latest" => Some(CatchUp::Latest),
            "all" => Some(CatchUp::All),
            _ => None,
        }
    }
}

/// The slots to fire at `now`, given the last slot fired (`None`: none yet; the schedule's
/// slots then count from `since`, when it was created or enabled): those in `(last, now]`
/// inside `window_ms` of `now` (the flexible time window, 0 when OFF), and the missed ones the
/// catch-up policy takes; at most `limit`, oldest first.
pub fn due_slots(
    schedule: &Schedule,
    last: Option<i64>,
    since: i64,
    now: i64,
    window_ms: i64,
    policy: CatchUp,
    limit: usize,
) -> Vec<i64> {
    let from = last.unwrap_or(since);
    // A slot is on time while now is within its flexible window (a minute's grace when OFF:
    // a worker polls, it does not wake at the millisecond).
    let grace = window_ms.max(60_000);
    let mut on_time = Vec::new();
    let mut missed = Vec::new();
    // Without catch-up, slots before the grace are never wanted: start there.
    let mut at = match policy {
        CatchUp::None => from.max(now - grace - 1),
        _ => from,
    };
    // Missed slots may be many (a minute's rate over a week down): keep only what the policy
    // can use.
    while let Some(next) = schedule.next_after(at) {
        if next > now {
            break;
        }
        if now - next <= grace {
            on_time.push(next);
        } else {
            match policy {
                CatchUp::None => {}
                CatchUp::Latest => {
                    missed.clear();
                    missed.push(next);
                }
                CatchUp::All if missed.len() < limit => missed.push(next),
                CatchUp::All => {}
            }
        }
        at = next;
    }
    missed.extend(on_time);
    missed.truncate(limit);
    missed
}

/// The name of the execution slot `slot` of schedule `name` in `group` starts: the same for
/// every worker and every retry, so the store's unique names make each slot start once.
/// At most 80 characters of `[A-Za-z0-9-_]`, as StartExecution takes.
pub fn execution_name(group: &str, name: &str, slot: i64) -> String {
    let time = DateTime::<Utc>::from_timestamp_millis(slot)
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| slot.to_string());
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let plain = if group == "default" {
        format!("{}-{time}", clean(name))
    } else {
        format!("{}-{}-{time}", clean(group), clean(name))
    };
    if plain.len() <= 80 {
        return plain;
    }
    // Too long: a prefix of the name and a digest of the whole, still one per slot.
    let digest = sha2::Sha256::digest(format!("{group}/{name}").as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let keep = 80 - time.len() - hex.len() - 2;
    let head: String = clean(name).chars().take(keep).collect();
    format!("{head}-{hex}-{time}")
}

/// The slot's time as EventBridge Scheduler writes `<aws.scheduler.scheduled-time>`.
pub fn scheduled_time(slot: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(slot)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The input of the execution a slot starts: the target's `Input` with EventBridge
/// Scheduler's context attributes replaced (`<aws.scheduler.scheduled-time>`,
/// `<aws.scheduler.schedule-arn>`, `<aws.scheduler.execution-id>`,
/// `<aws.scheduler.attempt-number>`), or `{"scheduledTime": ...}` when it has none.
pub fn slot_input(
    input: Option<&str>,
    slot: i64,
    schedule_arn: &str,
    execution_id: &str,
    attempt: u32,
) -> String {
    match input {
        None => json!({"scheduledTime": scheduled_time(slot)}).to_string(),
        Some(text) => text
            .replace("<aws.scheduler.scheduled-time>", &scheduled_time(slot))
            .replace("<aws.scheduler.schedule-arn>", schedule_arn)
            .replace("<aws.scheduler.execution-id>", execution_id)
            .replace("<aws.scheduler.attempt-number>", &attempt.to_string()),
    }
}

/// What a schedule does with a slot while an execution it started still runs: stepfn's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlap {
    /// Start it anyway.
    #[default]
    Allow,
    /// Skip the slot.
    Skip,
    /// Keep one slot waiting; start it when the running execution ends.
    BufferOne,
}

/// What to do with a due slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start its execution now.
    Start,
    /// Drop it.
    Skip,
    /// Keep it until the running execution ends.
    Buffer,
}

impl Overlap {
    /// The policy named `name` (`allow`, `skip`, `buffer-one`).
    pub fn parse(name: &str) -> Option<Overlap> {
        match name {
            "allow" => Some(Overlap::Allow),
            "skip" => Some(Overlap::Skip),
            "buffer-one" => Some(Overlap::BufferOne),
            _ => None,
        }
    }

    /// The decision for a due slot when `running` executions of the schedule run and
    /// `buffered` slots wait.
    pub fn decide(self, running: usize, buffered: usize) -> Decision {
        match (self, running) {
            (Overlap::Allow, _) | (_, 0) => Decision::Start,
            (Overlap::Skip, _) => Decision::Skip,
            (Overlap::BufferOne, _) if buffered == 0 => Decision::Buffer,
            (Overlap::BufferOne, _) => Decision::Skip,
        }
    }
}

/// The input `{"scheduledTime": ...}` of a backfilled slot, as a JSON value.
pub fn backfill_input(slot: i64) -> Value {
    json!({"scheduledTime": scheduled_time(slot)})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s)
            .expect("a time")
            .timestamp_millis()
    }

    fn every_minute() -> Schedule {
        Schedule::new("cron(* * * * ? *)", None, None, None, 0).expect("valid")
    }

    #[test]
    fn due_slots_follow_the_catch_up_policy() {
        let s = every_minute();
        let last = Some(utc("2026-01-01T10:00:00Z"));
        let now = utc("2026-01-01T10:05:30Z");
        // 10:01 to 10:05 are due; 10:05 is on time (within a minute), the rest missed.
        let none = due_slots(&s, last, 0, now, 0, CatchUp::None, 100);
        assert_eq!(none, vec![utc("2026-01-01T10:05:00Z")]);
        let latest = due_slots(&s, last, 0, now, 0, CatchUp::Latest, 100);
        assert_eq!(
            latest,
            vec![utc("2026-01-01T10:04:00Z"), utc("2026-01-01T10:05:00Z")]
        );
        let all = due_slots(&s, last, 0, now, 0, CatchUp::All, 100);
        assert_eq!(all.len(), 5);
        assert_eq!(all[0], utc("2026-01-01T10:01:00Z"));
        // A 15-minute flexible window keeps every one on time.
        let flexible = due_slots(&s, last, 0, now, 15 * 60_000, CatchUp::None, 100);
        assert_eq!(flexible.len(), 5);
        // Nothing fired yet: counted from when the schedule began.
        let first = due_slots(
            &s,
            None,
            utc("2026-01-01T10:04:10Z"),
            now,
            0,
            CatchUp::All,
            100,
        );
        assert_eq!(first, vec![utc("2026-01-01T10:05:00Z")]);
        // Fired up to now: nothing is due.
        assert!(due_slots(&s, Some(now), 0, now, 0, CatchUp::All, 100).is_empty());
    }

    #[test]
    fn a_slot_s_execution_name_is_one_per_slot_and_valid() {
        let slot = utc("2026-03-08T07:00:00Z");
        assert_eq!(
            execution_name("default", "nightly", slot),
            "nightly-20260308T070000Z"
        );
        assert_eq!(
            execution_name("team.a", "nightly job", slot),
            "team-a-nightly-job-20260308T070000Z"
        );
        let long = "n".repeat(64);
        let a = execution_name("default", &long, slot);
        let b = execution_name("other", &long, slot);
        assert!(a.len() <= 80 && b.len() <= 80, "{a} {b}");
        assert_ne!(a, b, "groups keep names apart");
        assert_ne!(a, execution_name("default", &long, slot + 60_000));
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn inputs_carry_the_slot_as_eventbridge_scheduler_does() {
        let slot = utc("2026-03-08T07:00:00Z");
        assert_eq!(
            slot_input(None, slot, "arn:s", "e1", 1),
            r#"{"scheduledTime":"2026-03-08T07:00:00Z"}"#
        );
        assert_eq!(
            slot_input(
                Some(
                    r#"{"at": "<aws.scheduler.scheduled-time>", "by": "<aws.scheduler.schedule-arn>", "n": <aws.scheduler.attempt-number>}"#
                ),
                slot,
                "arn:aws:scheduler:us-east-1:111111111111:schedule/default/nightly",
                "e1",
                2
            ),
            r#"{"at": "2026-03-08T07:00:00Z", "by": "arn:aws:scheduler:us-east-1:111111111111:schedule/default/nightly", "n": 2}"#
        );
        assert_eq!(
            backfill_input(slot),
            json!({"scheduledTime": "2026-03-08T07:00:00Z"})
        );
    }

    #[test]
    fn overlap_policies_decide_a_slot_while_one_runs() {
        assert_eq!(Overlap::Allow.decide(3, 0), Decision::Start);
        assert_eq!(Overlap::Skip.decide(0, 0), Decision::Start);
        assert_eq!(Overlap::Skip.decide(1, 0), Decision::Skip);
        assert_eq!(Overlap::BufferOne.decide(1, 0), Decision::Buffer);
        assert_eq!(Overlap::BufferOne.decide(1, 1), Decision::Skip);
        assert_eq!(Overlap::parse("buffer-one"), Some(Overlap::BufferOne));
        assert_eq!(CatchUp::parse("latest"), Some(CatchUp::Latest));
        assert_eq!(CatchUp::parse("sometimes"), None);
    }
}
