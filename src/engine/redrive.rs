//! A redrive (RedriveExecution): a closed execution runs again from one top-level state.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::engine::execution::{FrameId, RedriveMemo, Status};
use crate::engine::history::Details;
use crate::engine::step::Stepper;

impl Stepper<'_> {
    /// The outputs a redrive keeps for the children of the state frame `id` runs (the
    /// top-level state that failed), taken once.
    pub(crate) fn take_kept(&mut self, id: FrameId) -> Vec<Option<Value>> {
        let current = match self.frame(id) {
            Some(f) if f.parent.is_none() => f.current,
            _ => return Vec::new(),
        };
        match self.redrive_memo.take() {
            Some(memo) if memo.state == current => memo.results,
            other => {
                self.redrive_memo = other;
                Vec::new()
            }
        }
    }

    /// Keeps, for a redrive, what the children of top-level frame `id` achieved when one of
    /// them failed the state: the outputs of those that succeeded.
    pub(crate) fn remember_children(&mut self, id: FrameId) {
        let Some(frame) = self.frame(id).filter(|f| f.parent.is_none()) else {
            return;
        };
        let Some(ch) = frame.children.as_ref() else {
            return;
        };
        let live: Vec<usize> = ch
            .live
            .iter()
            .filter_map(|c| self.frame(*c).and_then(|f| f.parent).map(|(_, slot)| slot))
            .collect();
        let started = if ch.items.is_empty() && ch.child_body.is_none() {
            ch.results.len()
        } else {
            ch.next
        };
        let results = ch
            .results
            .iter()
            .enumerate()
            .map(|(slot, r)| {
                let done =
                    slot < started && !ch.failed_slots.contains(&slot) && !live.contains(&slot);
                done.then(|| r.clone())
            })
            .collect();
        self.redrive_memo = Some(RedriveMemo {
            state: frame.current,
            results,
        });
    }

    /// Reopens the closed execution: `ExecutionRedriven`, then its top-level state `state`
    /// ready to run on `input` with the variables `vars`; what it ended with is gone.
    pub(crate) fn redrive(
        &mut self,
        state: usize,
        input: Value,
        vars: Map<String, Value>,
        time: i64,
    ) {
        if self.status == Status::Running {
            return;
        }
        self.redrive_count += 1;
        self.redrive_time = Some(time);
        self.status = Status::Running;
        self.output = None;
        self.output_text = None;
        self.error = None;
        self.stop_time = None;
        for f in self.frames.iter_mut() {
            *f = None;
        }
        if self.redrive_memo.as_ref().is_some_and(|m| m.state != state) {
            self.redrive_memo = None;
        }
        let redrive_count = self.redrive_count;
        self.emit(None, time, "ExecutionRedriven", || {
            Details::ExecutionRedriven { redrive_count }
        });
        let redriven = self.last_event_id;
        let id = self.new_frame(
            None,
            Arc::from(Vec::new()),
            state,
            input,
            None,
            Arc::new(vars),
        );
        self.link_frame(id, redriven);
    }
}
