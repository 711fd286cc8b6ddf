//! Fail states: the error and cause they end their frame with.

use serde_json::Value;

use crate::asl::error::StatesError;
use crate::asl::jsonata::{self};
use crate::asl::model::{FailState, QueryLanguage};
use crate::engine::execution::FrameId;
use crate::engine::states::io::*;
use crate::engine::step::Stepper;

impl Stepper<'_> {
    /// The error and cause of a Fail state.
    pub(crate) fn fail_error(
        &mut self,
        id: FrameId,
        name: &str,
        f: &FailState,
    ) -> Result<StatesError, StatesError> {
        let env = self.env(id, name, true, false);
        let raw = self.take_input(id);
        if f.lang == QueryLanguage::JSONata {
            let states = env.states(&raw, None);
            let text = |field: &str, v: &Option<String>| -> Result<Option<String>, StatesError> {
                match v {
                    Some(s) if jsonata::is_expression(s) => {
                        let expr = jsonata::expression_text(s).unwrap_or_default();
                        let v = jsonata::eval(expr, &states, &env.vars, &env.moment)?
                            .unwrap_or(Value::Null);
                        jsonata::expect_type(expr, field, &v, "string")?;
                        Ok(Some(render_plain(&v)))
                    }
                    other => Ok(other.clone()),
                }
            };
            return Ok(StatesError {
                error: text("Error", &f.error)?.unwrap_or_default(),
                cause: text("Cause", &f.cause)?,
                location: None,
            });
        }
        self.inspect(id, "afterInputPath", || raw.clone());
        let scope = env.scope(&raw);
        let mut rng = self.rng();
        let error = match (&f.error, &f.error_path) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(d)) => Some(render_plain(&d.eval("ErrorPath", &scope, &mut rng)?)),
            (None, None) => None,
        };
        let cause = match (&f.cause, &f.cause_path) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(d)) => Some(render_plain(&d.eval("CausePath", &scope, &mut rng)?)),
            (None, None) => None,
        };
        Ok(StatesError {
            error: error.unwrap_or_default(),
            cause,
            location: None,
        })
    }
}
