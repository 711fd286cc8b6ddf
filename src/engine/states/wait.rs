//! Wait states (Seconds, Timestamp, SecondsPath, TimestampPath) and the timers that end
//! them and retry delays.

use std::sync::Arc;

use serde_json::Value;

use crate::asl::error::{self, StatesError};
use crate::asl::model::{QueryLanguage, State, WaitState};
use crate::asl::timestamp::{after_seconds, parse_timestamp};
use crate::engine::execution::{body_at, FrameId, Phase};
use crate::engine::states::io::*;
use crate::engine::step::{Command, Outcome, Stepper};

impl Stepper<'_> {
    pub(crate) fn run_wait(
        &mut self,
        id: FrameId,
        name: &str,
        w: &WaitState,
        time: i64,
    ) -> Result<Outcome, StatesError> {
        let (due, output) = self.wait_until(id, name, w, time)?;
        if due <= time {
            return Ok(Outcome::Next(output));
        }
        let wait = self.begin_wait(id);
        if let Some(f) = self.frame_mut(id) {
            f.input = output.into();
            f.phase = Phase::Timer { retry: false, due };
        }
        self.out.commands.push(Command::Timer {
            frame: id,
            wait,
            due,
        });
        Ok(Outcome::Blocked)
    }

    /// Works out a Wait state's due time and output. Returns (due, output).
    pub(crate) fn wait_until(
        &mut self,
        id: FrameId,
        name: &str,
        w: &WaitState,
        time: i64,
    ) -> Result<(i64, Value), StatesError> {
        if w.common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, false);
            let raw = self.take_input(id);
            let states = env.states(&raw, None);
            let due = if let Some(secs) = &w.seconds {
                let v = eval_field(secs, "Seconds", &states, &env)?;
                let Some(s) = v.as_i64().filter(|s| *s >= 0) else {
                    return Err(StatesError::new(
                        error::QUERY_EVALUATION_ERROR,
                        format!(
                            "The Seconds field must be a non-negative integer, but was: {}",
                            render_plain(&v)
                        ),
                    )
                    .at("Seconds"));
                };
                after_seconds(time, s.unsigned_abs())
            } else if let Some(ts) = &w.timestamp {
                let v = eval_field(&Value::String(ts.clone()), "Timestamp", &states, &env)?;
                let text = render_plain(&v);
                parse_timestamp(&text).ok_or_else(|| {
                    StatesError::new(
                        error::QUERY_EVALUATION_ERROR,
                        format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"),
                    )
                    .at("Timestamp")
                })?
            } else {
                time
            };
            let assigned = self.assign_jsonata(w.common.assign.as_ref(), &states, &env)?;
            let output = Self::output_jsonata(w.common.output.as_ref(), &states, &env, raw)?;
            self.apply_vars(id, assigned);
            return Ok((due, output));
        }
        let env = self.env(id, name, common_uses_context(&w.common), false);
        let raw = self.take_input(id);
        let effective = apply_path(&w.common.input_path, raw, &env)?;
        let scope = env.scope(&effective);
        let due = if let Some(secs) = &w.seconds {
            after_seconds(time, secs.as_u64().unwrap_or(0))
        } else if let Some(ts) = &w.timestamp {
            parse_timestamp(ts).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {ts}"
                ))
            })?
        } else if let Some(p) = &w.seconds_path {
            let v = p.lookup(&scope).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The SecondsPath parameter does not reference an input value: {p}"
                ))
            })?;
            let Some(secs) = v.as_i64() else {
                return Err(StatesError::runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {p} == {}",
                    render_plain(v)
                )));
            };
            if secs < 0 {
                return Err(StatesError::runtime(format!(
                    "The SecondsPath parameter references a negative value: {p} == {secs}"
                )));
            }
            after_seconds(time, secs.unsigned_abs())
        } else if let Some(p) = &w.timestamp_path {
            let v = p.lookup(&scope).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The TimestampPath parameter does not reference an input value: {p}"
                ))
            })?;
            let bad = || {
                StatesError::runtime(format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                    render_plain(v)
                ))
            };
            parse_timestamp(v.as_str().ok_or_else(bad)?).ok_or_else(bad)?
        } else {
            time
        };
        let assigned = self.assign_jsonpath(w.common.assign_template.as_ref(), &effective, &env)?;
        let output = apply_path(&w.common.output_path, effective, &env)?;
        self.apply_vars(id, assigned);
        Ok((due, output))
    }

    pub(crate) fn timer(&mut self, id: FrameId, time: i64) {
        let machine = Arc::clone(&self.machine);
        let Some(frame) = self.frame(id) else { return };
        let Phase::Timer { retry, .. } = frame.phase else {
            return;
        };
        if retry {
            if let Some(f) = self.frame_mut(id) {
                f.phase = Phase::Run;
                f.pending_error = None;
            }
            self.run_frame(id, time);
            return;
        }
        let body = body_at(&machine, &frame.body);
        let (name, state) = body.state(frame.current);
        let State::Wait(_) = state else { return };
        let outcome = Outcome::Next(self.take_input(id));
        if let Some(f) = self.frame_mut(id) {
            f.phase = Phase::Run;
        }
        if self.handle_outcome(id, body, name, state, outcome, time) {
            self.run_frame(id, time);
        }
    }
}
