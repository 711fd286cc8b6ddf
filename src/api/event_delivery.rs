//! Events put on a bus (`PutEvents`) and their delivery: each entry checked and built into the
//! event EventBridge delivers (`version`, `id`, `detail-type`, `source`, `account`, `time`,
//! `region`, `resources`, `detail`); every target of every enabled rule of its bus whose
//! pattern it matches starts one execution of its state machine, with the event (or the
//! target's input) as input. Delivery happens within the request; the execution is named by
//! the event and the target, so a delivery made again starts nothing new.

use sha2::Digest as _;

use super::event_input::target_input;
use super::events::{bus_of, validation, MAX_ENTRIES};
use super::*;
use crate::scheduler::pattern::Pattern;
use crate::scheduler::record::{RuleRecord, RuleTarget};

/// The largest `PutEvents` request, summed over its entries, in bytes.
const MAX_EVENTS_BYTES: usize = 256 * 1024;

/// The execution a delivery of event `event_id` to `target` of `rule` starts: named by the
/// target, the event and a digest of rule and target (two rules with a target `1` each start
/// two), within Step Functions' 80 characters of `[A-Za-z0-9-_]`.
pub(super) fn delivery_name(event_id: &str, rule: &RuleRecord, target: &RuleTarget) -> String {
    let digest = sha2::Sha256::digest(format!("{}\n{}\n{}", rule.bus, rule.name, target.id));
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let label: String = target
        .id
        .chars()
        .take(24)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let event: String = event_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    format!("{label}-{event}-{hash}")
}

/// `time` of an event: ISO 8601 to the second, UTC.
fn event_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// What one `PutEvents` entry is, or the failed entry AWS answers for it.
fn check_entry(entry: &Value, now: i64) -> Result<(String, Value), Value> {
    let failed = |code: &str, message: String| json!({"ErrorCode": code, "ErrorMessage": message});
    let text = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let required = |name: &str| {
        text(name).ok_or_else(|| {
            failed(
                "InvalidArgument",
                format!("Parameter {name} is not valid. Reason: {name} is a required argument."),
            )
        })
    };
    let source = required("Source")?;
    let detail_type = required("DetailType")?;
    let detail = required("Detail")?;
    let detail = match serde_json::from_str::<Value>(detail) {
        Ok(d @ Value::Object(_)) => d,
        _ => return Err(failed("MalformedDetail", "Detail is malformed.".into())),
    };
    let time = match entry.get("Time") {
        Some(Value::Number(n)) => n.as_f64().map_or(now, |s| (s * 1000.0) as i64),
        Some(Value::String(s)) => {
            chrono::DateTime::parse_from_rfc3339(s).map_or(now, |t| t.timestamp_millis())
        }
        _ => now,
    };
    let resources: Vec<Value> = entry
        .get("Resources")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter(|v| v.is_string()).cloned().collect())
        .unwrap_or_default();
    let bus = bus_of(entry).map_err(|e| failed("InvalidArgument", e.message))?;
    let event = json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": source,
        "account": "",
        "time": event_time(time),
        "region": "",
        "resources": resources,
        "detail": detail,
    });
    Ok((bus, event))
}

impl Service {
    pub(super) async fn put_events(
        &self,
        req: &Value,
        place: &arn::Place,
    ) -> Result<Value, ApiError> {
        let entries = match req.get("Entries") {
            Some(Value::Array(e)) => e,
            _ => {
                return Err(validation(
                    "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
                ))
            }
        };
        if entries.is_empty() || entries.len() > MAX_ENTRIES {
            let bound = if entries.is_empty() {
                "have length greater than or equal to 1"
            } else {
                "have length less than or equal to 10"
            };
            return Err(validation(format!(
                "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must {bound}"
            )));
        }
        let size: usize = entries.iter().map(|e| e.to_string().len()).sum();
        if size > MAX_EVENTS_BYTES {
            return Err(validation(
                "Total size of the entries in the request is over the limit.",
            ));
        }
        let now = now_ms();
        let mut answers = Vec::with_capacity(entries.len());
        let mut events = Vec::new();
        for entry in entries {
            match check_entry(entry, now) {
                Ok((bus, mut event)) => {
                    event["account"] = json!(place.account);
                    event["region"] = json!(place.region);
                    answers.push(json!({"EventId": event["id"]}));
                    events.push((bus, event));
                }
                Err(failed) => answers.push(failed),
            }
        }
        let failed = answers
            .iter()
            .filter(|a| a.get("ErrorCode").is_some())
            .count();
        if !events.is_empty() {
            self.deliver(&events).await?;
        }
        Ok(json!({"FailedEntryCount": failed, "Entries": answers}))
    }

    /// Starts, for every event, the executions of the targets of the enabled rules of its bus
    /// whose pattern it matches.
    async fn deliver(&self, events: &[(String, Value)]) -> Result<(), ApiError> {
        let mut buses: Vec<&str> = events.iter().map(|(b, _)| b.as_str()).collect();
        buses.sort_unstable();
        buses.dedup();
        let mut rules = Vec::new();
        for bus in buses {
            for rule in self.rules_of(bus).await? {
                if rule.state == "DISABLED" || rule.targets.is_empty() {
                    continue;
                }
                let Some(text) = &rule.event_pattern else {
                    continue;
                };
                match Pattern::parse(text) {
                    Ok(pattern) => rules.push((rule, pattern)),
                    Err(e) => tracing::warn!(rule = %rule.arn, "stored pattern not valid: {e}"),
                }
            }
        }
        for (bus, event) in events {
            let id = event["id"].as_str().unwrap_or_default();
            for (rule, pattern) in &rules {
                if &rule.bus != bus || !pattern.matches(event) {
                    continue;
                }
                for target in &rule.targets {
                    self.deliver_one(id, event, rule, target).await;
                }
            }
        }
        Ok(())
    }

    /// Starts the execution of `target` for `event`; a delivery made before is no new one.
    pub(super) async fn deliver_one(
        &self,
        id: &str,
        event: &Value,
        rule: &RuleRecord,
        target: &RuleTarget,
    ) {
        let input = match target_input(target, rule, event) {
            Ok(input) => input,
            Err(e) => {
                tracing::warn!(rule = %rule.arn, target = %target.id, "no input for the target: {e}");
                return;
            }
        };
        let name = delivery_name(id, rule, target);
        let start = json!({"stateMachineArn": target.arn, "name": name, "input": input});
        match self.start_execution(&start).await {
            Ok(_) => {}
            Err(e) if e.kind == Exception::ExecutionAlreadyExists => {}
            Err(e) => {
                tracing::warn!(rule = %rule.arn, target = %target.id, event = %id, "delivery failed: {e}")
            }
        }
    }
}
