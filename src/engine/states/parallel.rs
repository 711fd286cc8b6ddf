//! Parallel states: one frame per branch, all on the same input.

use std::sync::Arc;

use serde_json::Value;

use crate::asl::error::StatesError;
use crate::asl::jsonata::{self};
use crate::asl::model::{ParallelState, PathField, QueryLanguage};
use crate::asl::template::Template;
use crate::engine::execution::{Children, FrameId, FrameInput, Phase};
use crate::engine::history::Details;
use crate::engine::states::io::*;
use crate::engine::step::{Command, Outcome, Stepper};

impl Stepper<'_> {
    pub(crate) fn run_parallel(
        &mut self,
        id: FrameId,
        name: &str,
        p: &ParallelState,
        time: i64,
    ) -> Result<Outcome, StatesError> {
        let branch_input = self.branch_input(id, name, p)?;
        // Branches that get the state's input unchanged keep the caller's text of it.
        let text = self.frame(id).and_then(|f| {
            let text = f.input_text.as_ref()?;
            (serde_json::from_str::<Value>(text).ok().as_ref() == Some(&*branch_input))
                .then(|| Arc::clone(text))
        });
        self.emit(Some(id), time, "ParallelStateStarted", || Details::None);
        let Some(frame) = self.frame(id) else {
            return Ok(Outcome::Blocked);
        };
        let base: Vec<(u32, u32)> = frame.body.to_vec();
        let current = frame.current as u32;
        let vars = Arc::clone(&frame.vars);
        let n = p.branches.len();
        // A redrive runs only the branches that did not succeed.
        let mut kept = self.take_kept(id);
        let mut results = vec![Value::Null; n];
        let mut finished = 0;
        let mut live = crate::engine::execution::FrameSet::default();
        // Each branch gets its own copy of the input; the last one to start takes the value.
        let last = (0..n)
            .rev()
            .find(|i| kept.get(*i).is_none_or(Option::is_none));
        let mut branch_input = Some(branch_input);
        for (i, branch) in p.branches.iter().enumerate() {
            if let Some(v) = kept.get_mut(i).and_then(Option::take) {
                results[i] = v;
                finished += 1;
                continue;
            }
            let input = if Some(i) == last {
                branch_input.take().unwrap_or_default()
            } else {
                branch_input.clone().unwrap_or_default()
            };
            let mut path = base.clone();
            path.push((current, i as u32));
            let child = self.new_frame(
                Some((id, i)),
                Arc::from(path),
                branch.start,
                input,
                None,
                Arc::clone(&vars),
            );
            if let Some(f) = self.frame_mut(child) {
                f.input_text = text.clone();
            }
            live.insert(child);
            self.out.commands.push(Command::Run(child));
        }
        if let Some(f) = self.frame_mut(id) {
            f.phase = Phase::Children;
            f.children = Some(Box::new(Children {
                results,
                live,
                items: Vec::new(),
                next: n,
                selector_input: None,
                max_concurrency: 0,
                finished,
                failed: 0,
                tolerated: 0.0,
                has_tolerance: false,
                child_body: None,
                failed_slots: Vec::new(),
                result_bytes: 0,
                defer_inputs: false,
                items_in_input: false,
                kept: Vec::new(),
                texts: Vec::new(),
            }));
        }
        if finished == n {
            self.complete_children(id, time);
        }
        Ok(Outcome::Blocked)
    }

    /// The input of each Parallel branch (Parameters or Arguments): the state's input itself,
    /// shared by the branches, when there are neither (nor an InputPath).
    pub(crate) fn branch_input(
        &mut self,
        id: FrameId,
        name: &str,
        p: &ParallelState,
    ) -> Result<FrameInput, StatesError> {
        let as_is = match p.common.lang {
            QueryLanguage::JSONata => p.arguments.is_none(),
            QueryLanguage::JSONPath => {
                p.parameters.is_none() && matches!(p.common.input_path, PathField::Default)
            }
        };
        if as_is {
            return Ok(self
                .frame_mut(id)
                .map(|f| f.input.share())
                .unwrap_or_default());
        }
        let Some(frame) = self.frames.get(id).and_then(Option::as_ref) else {
            return Ok(FrameInput::default());
        };
        if p.common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, true);
            let states = env.states(&frame.input, None);
            return match &p.arguments {
                Some(a) => jsonata::eval_template(a, "Arguments", &states, &env.vars, &env.moment),
                None => Ok(Value::clone(&frame.input)),
            }
            .map(FrameInput::from);
        }
        let needs_ctx = common_uses_context(&p.common)
            || p.parameters.as_ref().is_some_and(Template::uses_context);
        let env = self.env(id, name, needs_ctx, true);
        // Parameters read the effective input without taking it: no copy of the state's input
        // unless InputPath selects from it.
        let effective = effective_input(&frame.input, &p.common.input_path, &env)?;
        match &p.parameters {
            Some(t) => {
                let mut rng = self.rng();
                t.eval(&env.scope(&effective), &mut rng)
            }
            None => Ok(effective.into_owned()),
        }
        .map(FrameInput::from)
    }
}
