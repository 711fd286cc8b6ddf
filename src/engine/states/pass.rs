//! Pass and Succeed states.

use crate::asl::error::StatesError;
use crate::asl::model::{Common, PassState, PathField, QueryLanguage};
use crate::asl::template::Template;
use crate::engine::execution::{FrameId, FrameInput};
use crate::engine::states::io::*;
use crate::engine::step::{Outcome, Stepper};

impl Stepper<'_> {
    pub(crate) fn run_pass(
        &mut self,
        id: FrameId,
        name: &str,
        p: &PassState,
    ) -> Result<Outcome, StatesError> {
        if p.common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, false);
            let raw = self.take_input(id);
            let states = env.states(&raw, None);
            let assigned = self.assign_jsonata(p.common.assign.as_ref(), &states, &env)?;
            let output = Self::output_jsonata(p.common.output.as_ref(), &states, &env, raw)?;
            self.apply_vars(id, assigned);
            return Ok(Outcome::Next(output));
        }
        let needs_ctx = common_uses_context(&p.common)
            || p.parameters.as_ref().is_some_and(Template::uses_context);
        let env = self.env(id, name, needs_ctx, false);
        let raw = self.take_frame_input(id);
        if p.result.is_none()
            && p.parameters.is_none()
            && p.common.input_path == PathField::Default
            && p.result_path == PathField::Default
            && p.common.assign_template.is_none()
            && self.probe.is_none()
        {
            self.pass_through_len(id, &p.common, &raw);
            let raw = raw.into_value();
            return Ok(Outcome::Next(apply_path(&p.common.output_path, raw, &env)?));
        }
        let raw = raw.into_value();
        let result = match &p.result {
            Some(r) => {
                self.inspect(id, "result", || r.clone());
                r.clone()
            }
            None => {
                let owned;
                let effective = match &p.common.input_path {
                    PathField::Default => &raw,
                    f => {
                        owned = apply_path(f, raw.clone(), &env)?;
                        &owned
                    }
                };
                self.inspect(id, "afterInputPath", || effective.clone());
                let parameters = match &p.parameters {
                    Some(t) => {
                        let mut rng = self.rng();
                        t.eval(&env.scope(effective), &mut rng)?
                    }
                    None => effective.clone(),
                };
                self.inspect(id, "afterParameters", || parameters.clone());
                parameters
            }
        };
        self.inspect(id, "afterResultSelector", || result.clone());
        let assigned = self.assign_jsonpath(p.common.assign_template.as_ref(), &result, &env)?;
        let combined = apply_result_path(&p.result_path, raw, result)?;
        self.inspect(id, "afterResultPath", || combined.clone());
        let output = apply_path(&p.common.output_path, combined, &env)?;
        self.apply_vars(id, assigned);
        Ok(Outcome::Next(output))
    }

    pub(crate) fn run_succeed(
        &mut self,
        id: FrameId,
        name: &str,
        common: &Common,
    ) -> Result<Outcome, StatesError> {
        let jsonata = common.lang == QueryLanguage::JSONata;
        let env = self.env(id, name, jsonata || common_uses_context(common), false);
        let raw = self.take_frame_input(id);
        if !jsonata {
            self.pass_through_len(id, common, &raw);
        }
        let raw = raw.into_value();
        if jsonata {
            let states = env.states(&raw, None);
            return Ok(Outcome::Next(Self::output_jsonata(
                common.output.as_ref(),
                &states,
                &env,
                raw,
            )?));
        }
        let effective = apply_path(&common.input_path, raw, &env)?;
        self.inspect(id, "afterInputPath", || effective.clone());
        Ok(Outcome::Next(apply_path(
            &common.output_path,
            effective,
            &env,
        )?))
    }

    /// A JSONPath state whose output is its input (no InputPath, no OutputPath) keeps its
    /// input's known length for the payload check.
    fn pass_through_len(&mut self, id: FrameId, common: &Common, raw: &FrameInput) {
        if common.input_path == PathField::Default && common.output_path == PathField::Default {
            self.output_len = raw.known_len().map(|len| (id, len));
        }
    }
}
