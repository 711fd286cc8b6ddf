//! A probe on an execution's first state, for TestState: the intermediate values of its
//! input and output processing (by the names of AWS's `inspectionData`), the error it failed
//! with, the retrier or catcher that took the error; and what the caller put in place of the
//! execution's context object and variables. An execution without a probe pays one branch
//! per recorded value.

use serde_json::{Map, Value};

use crate::asl::error::StatesError;
use crate::engine::execution::FrameId;
use crate::engine::step::Stepper;

/// What TestState sets up and learns about the first state of an execution.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// The context object the caller gave, used in place of the execution's.
    pub context: Option<Value>,
    /// The variables the first state starts with.
    pub variables: Map<String, Value>,
    /// How many retries the matching retrier has made already (`retrierRetryCount`): the
    /// state is not retried; a retrier with attempts left makes it RETRIABLE.
    pub retry_count: u32,
    /// The values of the state's processing, by `inspectionData` name (`afterInputPath`,
    /// `afterParameters`, `result`, `afterResultSelector`, `afterResultPath`, ...).
    pub data: Map<String, Value>,
    /// The error the state failed with, before Retry and Catch.
    pub error: Option<StatesError>,
    /// The retrier that matched the error: its index, and the backoff in seconds when it had
    /// attempts left.
    pub retry: Option<(usize, Option<u64>)>,
    /// The catcher that caught the error.
    pub catch_index: Option<usize>,
}

impl Probe {
    /// The backoff AWS reports for retry number `used + 1` of a retrier: `IntervalSeconds`
    /// times `BackoffRate` to the power `used`, capped at `MaxDelaySeconds`, no jitter.
    pub fn backoff_seconds(retrier: &crate::asl::model::Retrier, used: u32) -> u64 {
        let base = retrier.interval_seconds as f64 * retrier.backoff_rate.powi(used as i32);
        let capped = match retrier.max_delay_seconds {
            Some(max) => base.min(max as f64),
            None => base,
        };
        if capped.is_finite() {
            capped.max(0.0).min(u64::MAX as f64) as u64
        } else {
            retrier.max_delay_seconds.unwrap_or(u64::MAX)
        }
    }
}

impl Stepper<'_> {
    /// The probe, while frame `id` runs the execution's first state.
    pub(crate) fn probing(&mut self, id: FrameId) -> Option<&mut Probe> {
        if id != 0 || self.transitions > 1 {
            return None;
        }
        self.probe.as_deref_mut()
    }

    /// Records `key`'s value (computed only under a probe) for the first state.
    pub(crate) fn inspect(&mut self, id: FrameId, key: &str, value: impl FnOnce() -> Value) {
        if let Some(p) = self.probing(id) {
            p.data.insert(key.to_string(), value());
        }
    }
}
