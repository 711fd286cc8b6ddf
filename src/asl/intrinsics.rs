//! Intrinsic functions (`States.Format`, `States.Array`, ...): parser and evaluator.
