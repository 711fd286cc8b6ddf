//! History events with Step Functions' event types, ids and previous-event ids.
//!
//! An event's details are kept as the JSON object GetExecutionHistory shows under the
//! event's details key (`stateEnteredEventDetails`, `taskScheduledEventDetails`, ...).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// 1-based, contiguous within an execution.
    pub id: u64,
    /// The event this one follows from (0 for the first).
    pub previous_event_id: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The Step Functions event type, e.g. `PassStateEntered`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The details object, keyed as in the Step Functions API.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl HistoryEvent {
    /// The event as GetExecutionHistory returns it (timestamp in epoch seconds).
    pub fn to_api_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert(
            "timestamp".into(),
            serde_json::Number::from_f64(self.timestamp as f64 / 1000.0)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        );
        obj.insert("type".into(), Value::String(self.event_type.clone()));
        obj.insert("id".into(), Value::from(self.id));
        obj.insert(
            "previousEventId".into(),
            Value::from(self.previous_event_id),
        );
        for (k, v) in &self.details {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }
}

/// The details key Step Functions uses for an event type.
pub fn details_key(event_type: &str) -> String {
    let stem = if let Some(kind) = event_type.strip_suffix("StateEntered") {
        let _ = kind;
        "stateEntered".to_string()
    } else if event_type.ends_with("StateExited") {
        "stateExited".to_string()
    } else {
        let mut s = event_type.to_string();
        if let Some(first) = s.get_mut(0..1) {
            first.make_ascii_lowercase();
        }
        s
    };
    format!("{stem}EventDetails")
}
