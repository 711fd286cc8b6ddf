//! The bookkeeping of Parallel branches and Map iterations: a child frame's end is recorded
//! in its parent, and the last one completes the parent state (or a failure fails it).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::asl::error::{self, StatesError};
use crate::asl::model::State;
use crate::asl::payload::{json_len, PAYLOAD_LIMIT_BYTES};
use crate::engine::execution::{body_at, FrameId, Phase};
use crate::engine::history::Details;
use crate::engine::step::{to_json_string, Outcome, Stepper};

/// A Parallel branch or Map iteration that has ended.
pub(crate) struct ChildEnd {
    /// The child frame.
    pub(crate) frame: FrameId,
    /// Its slot in the parent's results.
    pub(crate) slot: usize,
    /// Its Map iteration index (`None` for a Parallel branch).
    pub(crate) map_index: Option<usize>,
    /// The last event it wrote.
    pub(crate) last_event: u64,
    /// The caller's text of its output, when it kept it.
    pub(crate) text: Option<Arc<str>>,
}

impl Stepper<'_> {
    pub(crate) fn child_done(
        &mut self,
        parent: FrameId,
        end: ChildEnd,
        result: Result<Value, StatesError>,
        time: i64,
    ) {
        let ChildEnd {
            frame: child,
            slot,
            map_index,
            last_event: child_last,
            text,
        } = end;
        let machine = Arc::clone(&self.machine);
        let Some(pf) = self.frame(parent) else { return };
        let body = body_at(&machine, &pf.body);
        let (name, state) = body.state(pf.current);
        let is_map = map_index.is_some();
        // AWS links what follows a child to the child's last event: a MapIterationSucceeded or
        // MapIterationFailed, the next MapIterationStarted, a MapStateFailed or
        // ParallelStateFailed; only a Map's MapStateSucceeded follows the last
        // MapIterationSucceeded.
        self.link_frame(parent, child_last);
        if is_map {
            let ev = if result.is_ok() {
                "MapIterationSucceeded"
            } else {
                "MapIterationFailed"
            };
            self.emit(Some(parent), time, ev, || Details::MapIteration {
                name: name.to_string(),
                index: slot,
            });
            let all_done = self
                .frame(parent)
                .and_then(|f| f.children.as_ref())
                .is_some_and(|ch| ch.finished + 1 >= ch.results.len());
            if !(result.is_ok() && all_done) {
                self.link_frame(parent, child_last);
            }
        }
        let Some(ch) = self.frame_mut(parent).and_then(|f| f.children.as_mut()) else {
            return;
        };
        ch.live.remove(&child);
        ch.finished += 1;
        match result {
            Ok(v) => {
                if is_map {
                    ch.result_bytes = add_result_bytes(ch.result_bytes, &v);
                }
                if let Some(r) = ch.results.get_mut(slot) {
                    *r = v;
                }
                if let Some(text) = text {
                    if ch.texts.len() < ch.results.len() {
                        ch.texts.resize(ch.results.len(), None);
                    }
                    ch.texts[slot] = Some(text);
                }
            }
            Err(err) => {
                ch.failed_slots.push(slot);
                let fail = if is_map {
                    ch.failed += 1;
                    if let Some(r) = ch.results.get_mut(slot) {
                        let mut o = Map::new();
                        o.insert("Error".into(), Value::String(err.error.clone()));
                        if let Some(c) = &err.cause {
                            o.insert("Cause".into(), Value::String(c.clone()));
                        }
                        let o = Value::Object(o);
                        ch.result_bytes = add_result_bytes(ch.result_bytes, &o);
                        *r = o;
                    }
                    if err.is_runtime() || (ch.failed as f64) > ch.tolerated {
                        Some(if ch.has_tolerance && !err.is_runtime() {
                            StatesError::new(
                                error::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                "The specified tolerated failure threshold was exceeded",
                            )
                        } else {
                            err
                        })
                    } else {
                        None
                    }
                } else {
                    Some(err)
                };
                if let Some(err) = fail {
                    self.fail_children(parent, err, time);
                    return;
                }
            }
        }
        // A Map's results are checked against the payload limit as they arrive, so a Map whose
        // results are too large fails as soon as they are, without holding the rest.
        if is_map && results_over_limit(ch.result_bytes) {
            let err = StatesError::new(
                error::DATA_LIMIT_EXCEEDED,
                format!("The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit."),
            );
            self.fail_children(parent, err, time);
            return;
        }
        let done = ch.finished >= ch.results.len();
        if done {
            self.complete_children(parent, time);
        } else if let State::Map(m) = state {
            if let Err(e) = self.start_iterations(parent, name, m, time) {
                let e = self.located(parent, name, e);
                if self.fail_state(parent, body, name, state, e, time) {
                    self.run_frame(parent, time);
                }
            }
        }
    }

    /// Fails the Parallel or Map state of frame `parent` with `err`: its children that still
    /// run are cancelled (and what the others achieved kept for a redrive).
    fn fail_children(&mut self, parent: FrameId, err: StatesError, time: i64) {
        let machine = Arc::clone(&self.machine);
        self.remember_children(parent);
        let Some(ch) = self.frame_mut(parent).and_then(|f| f.children.as_mut()) else {
            return;
        };
        let live = std::mem::take(&mut ch.live);
        for c in live {
            self.cancel(c);
        }
        let Some(f) = self.frame_mut(parent) else {
            return;
        };
        f.children = None;
        f.phase = Phase::Run;
        let body = body_at(&machine, &f.body);
        let (name, state) = body.state(f.current);
        if self.fail_state(parent, body, name, state, err, time) {
            self.run_frame(parent, time);
        }
    }

    pub(crate) fn complete_children(&mut self, id: FrameId, time: i64) {
        let machine = Arc::clone(&self.machine);
        let Some(frame) = self.frame_mut(id) else {
            return;
        };
        let Some(ch) = frame.children.take() else {
            return;
        };
        frame.phase = Phase::Run;
        let body_path = frame.body.clone();
        let current = frame.current;
        let body = body_at(&machine, &body_path);
        let (name, state) = body.state(current);
        // The result text: the children's output texts joined, as AWS joins them; only worth
        // keeping when a child kept the caller's text (else it is the compact JSON anyway).
        frame.input_text = (!ch.texts.is_empty()).then(|| {
            let parts: Vec<String> = ch
                .results
                .iter()
                .enumerate()
                .map(|(i, r)| match ch.texts.get(i).and_then(Option::as_ref) {
                    Some(t) => t.to_string(),
                    None => to_json_string(r),
                })
                .collect();
            Arc::from(format!("[{}]", parts.join(",")))
        });
        let results = Value::Array(ch.results);
        let (common, fields, ev) = match state {
            State::Parallel(p) => (&p.common, &p.result, "ParallelStateSucceeded"),
            State::Map(m) => (&m.common, &m.result, "MapStateSucceeded"),
            _ => return,
        };
        // The StateSucceeded event and the StateExited after it both follow the last event
        // before them.
        let previous = self.last_event_of(id);
        self.emit(Some(id), time, ev, || Details::None);
        self.link_frame(id, previous);
        let outcome = match self.state_output(id, name, common, fields, results) {
            Ok(v) => Outcome::Next(v),
            Err(e) => Outcome::Failed(e),
        };
        if self.handle_outcome(id, body, name, state, outcome, time) {
            self.run_frame(id, time);
        }
    }
}

/// `bytes` of a Map's results so far with `result` and the comma after it added (capped just
/// past the limit: only whether it is passed matters).
pub(crate) fn add_result_bytes(bytes: usize, result: &Value) -> usize {
    let limit = PAYLOAD_LIMIT_BYTES;
    bytes
        .saturating_add(json_len(result, limit) + 1)
        .min(limit + 2)
}

/// Whether results of `bytes` (as [`add_result_bytes`] counts them) make an array over the
/// payload limit: the brackets add two bytes and the last result has no comma after it.
pub(crate) fn results_over_limit(bytes: usize) -> bool {
    bytes + 1 > PAYLOAD_LIMIT_BYTES
}
