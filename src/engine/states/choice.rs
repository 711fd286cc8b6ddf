//! Choice states: the first rule that matches picks the next state.

use serde_json::Value;

use crate::asl::error::{self, StatesError};
use crate::asl::jsonata::{self};
use crate::asl::model::{ChoiceState, PathField, QueryLanguage};
use crate::engine::execution::{FrameId, FrameInput};
use crate::engine::states::io::*;
use crate::engine::step::{Outcome, Stepper};

fn no_choice(name: &str) -> StatesError {
    StatesError::new(
        error::NO_CHOICE_MATCHED,
        format!("No Matches! for state '{name}'"),
    )
}

impl Stepper<'_> {
    /// Runs a Choice state; the outcome carries the target state index as a number.
    pub(crate) fn run_choice(
        &mut self,
        id: FrameId,
        name: &str,
        c: &ChoiceState,
    ) -> Result<Outcome, StatesError> {
        let jsonata = c.common.lang == QueryLanguage::JSONata;
        let env = self.env(id, name, jsonata || c.uses_context, false);
        let raw = self.take_frame_input(id);
        // The output is the input itself without InputPath and OutputPath: its length stays.
        let kept_len = raw.known_len().filter(|_| {
            c.common.input_path == PathField::Default && c.common.output_path == PathField::Default
        });
        let raw = raw.into_value();
        if jsonata {
            let states = env.states(&raw, None);
            let mut chosen = None;
            for (i, rule) in c.choices.iter().enumerate() {
                let condition = rule.jsonata_condition().cloned().unwrap_or(Value::Null);
                let value = match &condition {
                    Value::String(s) if jsonata::is_expression(s) => {
                        let expr = jsonata::expression_text(s).unwrap_or_default();
                        let v = jsonata::eval(expr, &states, &env.vars, &env.moment)?
                            .unwrap_or(Value::Null);
                        jsonata::expect_type(expr, "Condition", &v, "boolean")?;
                        v
                    }
                    other => other.clone(),
                };
                if value == Value::Bool(true) {
                    chosen = Some(i);
                    break;
                }
            }
            let (target, output, assign) = match chosen {
                Some(i) => (
                    c.targets[i],
                    c.choices[i].output().or(c.common.output.as_ref()),
                    c.choices[i].assign(),
                ),
                None => match c.default_target {
                    Some(t) => (t, c.common.output.as_ref(), c.common.assign.as_ref()),
                    None => return Err(no_choice(name)),
                },
            };
            let assigned = self.assign_jsonata(assign, &states, &env)?;
            let output = Self::output_jsonata(output, &states, &env, raw)?;
            self.frame_input(id, output);
            self.apply_vars(id, assigned);
            return Ok(Outcome::Next(Value::from(target as u64)));
        }
        let input = apply_path(&c.common.input_path, raw, &env)?;
        self.inspect(id, "afterInputPath", || input.clone());
        let scope = env.scope(&input);
        let mut chosen = None;
        for (i, rule) in c.choices.iter().enumerate() {
            if rule.matches(&scope)? {
                chosen = Some(i);
                break;
            }
        }
        let (target, assign) = match chosen {
            Some(i) => (c.targets[i], c.rule_assigns.get(i).and_then(Option::as_ref)),
            None => match c.default_target {
                Some(t) => (t, c.common.assign_template.as_ref()),
                None => return Err(no_choice(name)),
            },
        };
        let assigned = self.assign_jsonpath(assign, &input, &env)?;
        // A Choice state's output is its effective input, through OutputPath.
        let output = apply_path(&c.common.output_path, input, &env)?;
        match kept_len {
            Some(len) => self.frame_input(id, FrameInput::sized(output, len)),
            None => self.frame_input(id, output),
        }
        self.apply_vars(id, assigned);
        Ok(Outcome::Next(Value::from(target as u64)))
    }
}
