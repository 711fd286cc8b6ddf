//! Timestamps as Step Functions writes and reads them: ms since the epoch to
//! `2024-01-01T00:00:00.000Z`, and ISO-8601 extended offset date-times back.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats ms since the epoch as Step Functions does (`2024-01-01T00:00:00.000Z`).
pub fn iso_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The time `seconds` after `ms` (both as Step Functions counts them), saturating instead of
/// overflowing: validation caps every fixed wait and timeout at 99,999,999 seconds, but a value
/// read from the input (`SecondsPath`, `TimeoutSecondsPath`, a JSONata expression) is not checked
/// there, and no value may wrap a deadline into the past.
pub fn after_seconds(ms: i64, seconds: u64) -> i64 {
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
    ms.saturating_add(seconds.saturating_mul(1000))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_seconds_saturates_instead_of_wrapping() {
        assert_eq!(after_seconds(1_000, 2), 3_000);
        assert_eq!(after_seconds(1_000, i64::MAX as u64), i64::MAX);
        assert_eq!(after_seconds(1_000, u64::MAX), i64::MAX);
        assert_eq!(after_seconds(i64::MAX - 10, 1), i64::MAX);
    }
}
