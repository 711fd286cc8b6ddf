//! Timestamps as Step Functions writes and reads them: ms since the epoch to
//! `2024-01-01T00:00:00.000Z`, and ISO-8601 extended offset date-times back.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats ms since the epoch as Step Functions does (`2024-01-01T00:00:00.000Z`).
pub fn iso_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO-8601 extended offset date-time (`2016-03-14T01:59:00Z`) to ms.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if s.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}
