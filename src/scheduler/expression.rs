//! EventBridge Scheduler's schedule expressions, evaluated to slots: `at(...)` (one slot),
//! `rate(...)` (every interval from the schedule's start) and `cron(...)` (AWS's six fields:
//! minutes, hours, day of month, month, day of week, year), each in the schedule's
//! `ScheduleExpressionTimezone` (an IANA name, UTC by default) and within its `StartDate` and
//! `EndDate`. Pure: the caller gives every time (ms since the epoch); nothing reads a clock.
//!
//! Cron fields are matched by `croner` (Quartz style: day of week 1-7 is SUN-SAT; `L`, `W` and
//! `#`); time zones come from `chrono-tz`. Across a daylight saving change a slot in the hour
//! that does not exist runs at the first valid time after it, and one in the hour that happens
//! twice runs once.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// A schedule that is not valid, with the message AWS's ValidationException carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpressionError(pub String);

/// The unit of a `rate(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// `minute` / `minutes`.
    Minutes,
    /// `hour` / `hours`.
    Hours,
    /// `day` / `days`.
    Days,
}

impl RateUnit {
    fn ms(self) -> i64 {
        match self {
            RateUnit::Minutes => 60_000,
            RateUnit::Hours => 3_600_000,
            RateUnit::Days => 86_400_000,
        }
    }
}

/// A parsed schedule expression.
#[derive(Debug, Clone)]
pub enum Expression {
    /// `at(yyyy-mm-ddThh:mm:ss)`: one slot, a wall-clock time of the schedule's time zone.
    At(NaiveDateTime),
    /// `rate(value unit)`.
    Rate {
        /// How many units between two slots (1 or more).
        value: u32,
        /// The unit.
        unit: RateUnit,
    },
    /// `cron(minutes hours day-of-month month day-of-week year)`.
    Cron(Box<Cron>),
}

fn invalid(expression: &str) -> ExpressionError {
    ExpressionError(format!("Invalid Schedule Expression {expression}."))
}

impl Expression {
    /// Parses `text` as EventBridge Scheduler takes it.
    ///
    /// # Errors
    /// `Invalid Schedule Expression <text>.` for anything else.
    pub fn parse(text: &str) -> Result<Expression, ExpressionError> {
        let inner = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
        };
        if let Some(at) = inner("at(") {
            return NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
                .map(Expression::At)
                .map_err(|_| invalid(text));
        }
        if let Some(rate) = inner("rate(") {
            let mut parts = rate.split(' ');
            let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(invalid(text));
            };
            let value: u32 = value
                .parse()
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| invalid(text))?;
            let unit = match unit {
                "minute" | "minutes" => RateUnit::Minutes,
                "hour" | "hours" => RateUnit::Hours,
                "day" | "days" => RateUnit::Days,
                _ => return Err(invalid(text)),
            };
            return Ok(Expression::Rate { value, unit });
        }
        if let Some(cron) = inner("cron(") {
            return parse_cron(cron).ok_or_else(|| invalid(text));
        }
        Err(invalid(text))
    }
}

/// AWS's six cron fields, read by croner as seven (seconds first, always 0).
fn parse_cron(fields: &str) -> Option<Expression> {
    let parts: Vec<&str> = fields.split(' ').collect();
    let [_minutes, _hours, day_of_month, _month, day_of_week, year] = parts.as_slice() else {
        return None;
    };
    // Spec: "You can't specify the Day-of-month and Day-of-week fields in the same cron
    // expression. If you specify a value or a * in one of the fields, you must use a ? in the
    // other."
    if (*day_of_month == "?") == (*day_of_week == "?") {
        return None;
    }
    // AWS's years run from 1970 to 2199.
    if !year.split(',').all(|part| {
        part.split(['-', '/'])
            .all(|n| n == "*" || n.parse::<u32>().is_ok_and(|y| (1970..=2199).contains(&y)))
    }) {
        return None;
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .alternative_weekdays(true)
        .build();
    parser
        .parse(&format!("0 {fields}"))
        .ok()
        .map(|c| Expression::Cron(Box::new(c)))
}

/// A schedule's expression in its time zone and window.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: Expression,
    zone: Tz,
    /// `StartDate`, ms.
    start: Option<i64>,
    /// `EndDate`, ms.
    end: Option<i64>,
    /// Where a `rate(...)` counts from: `StartDate`, else when the schedule was created.
    anchor: i64,
}

impl Schedule {
    /// The schedule of `expression` in `zone` (`None`: UTC), between `start` and `end`,
    /// created at `created` (ms since the epoch).
    ///
    /// # Errors
    /// AWS's messages for a bad expression, time zone, or an `EndDate` before the `StartDate`.
    pub fn new(
        expression: &str,
        zone: Option<&str>,
        start: Option<i64>,
        end: Option<i64>,
        created: i64,
    ) -> Result<Schedule, ExpressionError> {
        let expression = Expression::parse(expression)?;
        let zone = match zone {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                ExpressionError(format!("Invalid ScheduleExpressionTimezone {name}."))
            })?,
        };
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                return Err(ExpressionError(
                    "The EndDate must be after the StartDate.".into(),
                ));
            }
        }
        Ok(Schedule {
            expression,
            zone,
            start,
            end,
            anchor: start.unwrap_or(created),
        })
    }

    /// The expression.
    pub fn expression(&self) -> &Expression {
        &self.expression
    }

    /// The first slot strictly after `after` (ms), inside the schedule's window; `None` when
    /// none is left.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        // A slot before StartDate does not count: look from just before it.
        let after = match self.start {
            Some(s) if after < s => s - 1,
            _ => after,
        };
        let next = match &self.expression {
            Expression::At(local) => {
                let at = first_valid(self.zone, *local)?;
                (at > after).then_some(at)
            }
            Expression::Rate { value, unit } => {
                let every = i64::from(*value).checked_mul(unit.ms())?;
                // Slots are anchor + k * every; with no StartDate the first one is an interval
                // after the schedule was created, with one it is the StartDate itself.
                let first = if self.start.is_some() {
                    self.anchor
                } else {
                    self.anchor.checked_add(every)?
                };
                if after < first {
                    Some(first)
                } else {
                    let k = (after - first) / every + 1;
                    first.checked_add(k.checked_mul(every)?)
                }
            }
            Expression::Cron(cron) => {
                let from = DateTime::<Utc>::from_timestamp_millis(after)?.with_timezone(&self.zone);
                cron.find_next_occurrence(&from, false)
                    .ok()
                    .map(|t| t.timestamp_millis())
            }
        }?;
        match self.end {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// The slots in `(from, to]`, at most `limit` of them.
    pub fn slots(&self, from: i64, to: i64, limit: usize) -> Vec<i64> {
        let mut out = Vec::new();
        let mut at = from;
        while out.len() < limit {
            match self.next_after(at) {
                Some(next) if next <= to => {
                    out.push(next);
                    at = next;
                }
                _ => break,
            }
        }
        out
    }
}

/// The instant of a wall-clock time of `zone`: the earlier of two in an hour that happens
/// twice, the first valid time after it in an hour that does not exist.
fn first_valid(zone: Tz, local: NaiveDateTime) -> Option<i64> {
    let mut t = local;
    // A gap lasts at most a few hours; step a minute at a time across it.
    for _ in 0..(4 * 60) {
        if let Some(dt) = zone.from_local_datetime(&t).earliest() {
            return Some(dt.timestamp_millis());
        }
        t += chrono::Duration::minutes(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ms of a UTC time `YYYY-MM-DDTHH:MM:SSZ`.
    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s)
            .expect("a time")
            .timestamp_millis()
    }

    fn iso(ms: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .expect("a time")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    fn slots(s: &Schedule, from: &str, to: &str) -> Vec<String> {
        s.slots(utc(from), utc(to), 100)
            .into_iter()
            .map(iso)
            .collect()
    }

    #[test]
    fn bad_expressions_are_refused_with_aws_message() {
        for bad in [
            "rate(0 minutes)",
            "rate(5 weeks)",
            "rate(5)",
            "rate(-1 hours)",
            "cron(0 12 * * * *)",
            "cron(0 12 ? * ? *)",
            "cron(0 12 * *)",
            "cron(0 25 * * ? *)",
            "cron(0 12 * * ? 1900)",
            "at(2026-13-01T00:00:00)",
            "at(2026-01-01 00:00:00)",
            "every 5 minutes",
        ] {
            let e = Expression::parse(bad).expect_err(bad);
            assert_eq!(e.0, format!("Invalid Schedule Expression {bad}."));
        }
        let e = Schedule::new("rate(1 minute)", Some("Mars/Olympus"), None, None, 0)
            .expect_err("no such zone");
        assert_eq!(e.0, "Invalid ScheduleExpressionTimezone Mars/Olympus.");
    }

    #[test]
    fn a_rate_runs_every_interval_from_creation_or_from_its_start_date() {
        let created = utc("2026-03-01T10:00:30Z");
        let s = Schedule::new("rate(1 minute)", None, None, None, created).expect("valid");
        assert_eq!(
            slots(&s, "2026-03-01T10:00:00Z", "2026-03-01T10:03:00Z"),
            ["2026-03-01T10:01:30Z", "2026-03-01T10:02:30Z"]
        );
        let start = utc("2026-03-02T00:00:00Z");
        let s = Schedule::new("rate(12 hours)", None, Some(start), None, created).expect("valid");
        assert_eq!(
            slots(&s, "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z"),
            [
                "2026-03-02T00:00:00Z",
                "2026-03-02T12:00:00Z",
                "2026-03-03T00:00:00Z"
            ]
        );
        // Slots are a function of time, not of when they are asked for.
        assert_eq!(
            s.next_after(utc("2026-03-02T05:00:00Z")),
            Some(utc("2026-03-02T12:00:00Z"))
        );
    }

    #[test]
    fn cron_fields_are_aws_s_six_with_sunday_as_one() {
        // 10:15 on Mondays to Fridays (2-6), UTC.
        let s = Schedule::new("cron(15 10 ? * 2-6 *)", None, None, None, 0).expect("valid");
        assert_eq!(
            slots(&s, "2026-03-06T00:00:00Z", "2026-03-10T00:00:00Z"),
            [
                "2026-03-06T10:15:00Z", // Friday
                "2026-03-09T10:15:00Z"  // Monday
            ]
        );
        // The last day of the month, and years.
        let s = Schedule::new("cron(0 0 L * ? 2027)", None, None, None, 0).expect("valid");
        assert_eq!(
            slots(&s, "2026-01-01T00:00:00Z", "2027-03-01T00:00:00Z"),
            ["2027-01-31T00:00:00Z", "2027-02-28T00:00:00Z"]
        );
        // The second Tuesday (3#2) of each month.
        let s = Schedule::new("cron(30 9 ? * 3#2 *)", None, None, None, 0).expect("valid");
        assert_eq!(
            slots(&s, "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"),
            ["2026-04-14T09:30:00Z", "2026-05-12T09:30:00Z"]
        );
    }

    #[test]
    fn cron_in_a_time_zone_keeps_its_wall_clock_across_daylight_saving() {
        // 08:00 in New York: 13:00 UTC before 2026-03-08, 12:00 UTC after.
        let s = Schedule::new("cron(0 8 * * ? *)", Some("America/New_York"), None, None, 0)
            .expect("valid");
        assert_eq!(
            slots(&s, "2026-03-06T00:00:00Z", "2026-03-10T00:00:00Z"),
            [
                "2026-03-06T13:00:00Z",
                "2026-03-07T13:00:00Z",
                "2026-03-08T12:00:00Z",
                "2026-03-09T12:00:00Z"
            ]
        );
        // 02:30 does not exist on 2026-03-08 in New York: that day's slot is at 03:00 EDT.
        let s = Schedule::new(
            "cron(30 2 * * ? *)",
            Some("America/New_York"),
            None,
            None,
            0,
        )
        .expect("valid");
        let got = slots(&s, "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z");
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], "2026-03-07T07:30:00Z");
        assert_eq!(
            got[1], "2026-03-08T07:00:00Z",
            "03:00 EDT, the first valid time"
        );
        assert_eq!(got[2], "2026-03-09T06:30:00Z");
        // 01:30 happens twice on 2026-11-01 in New York: once.
        let s = Schedule::new(
            "cron(30 1 * * ? *)",
            Some("America/New_York"),
            None,
            None,
            0,
        )
        .expect("valid");
        assert_eq!(
            slots(&s, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
            ["2026-11-01T05:30:00Z"]
        );
    }

    #[test]
    fn at_is_one_slot_in_its_zone_and_windows_bound_every_kind() {
        let s = Schedule::new(
            "at(2026-07-01T09:00:00)",
            Some("Europe/Paris"),
            None,
            None,
            0,
        )
        .expect("valid");
        assert_eq!(
            slots(&s, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ["2026-07-01T07:00:00Z"]
        );
        assert_eq!(s.next_after(utc("2026-07-01T07:00:00Z")), None);
        let s = Schedule::new(
            "cron(0 * * * ? *)",
            None,
            Some(utc("2026-05-01T10:30:00Z")),
            Some(utc("2026-05-01T13:00:00Z")),
            0,
        )
        .expect("valid");
        assert_eq!(
            slots(&s, "2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"),
            [
                "2026-05-01T11:00:00Z",
                "2026-05-01T12:00:00Z",
                "2026-05-01T13:00:00Z"
            ]
        );
        let e = Schedule::new("rate(1 hour)", None, Some(10), Some(5), 0).expect_err("end first");
        assert_eq!(e.0, "The EndDate must be after the StartDate.");
    }
}
