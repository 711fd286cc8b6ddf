//! What several test modules share: a `stepfn serve` process, and the Lambda emulator with
//! the test suite's function.

pub(crate) mod lambda_watch;
pub(crate) mod moto;
pub(crate) mod python;
pub(crate) mod serve;
