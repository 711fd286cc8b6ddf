//! The Amazon States Language: definitions, validation, paths, intrinsic functions and Choice
//! rules. Pure: no I/O, no clock, no async.

pub mod choice;
pub mod diagnostic;
pub mod error;
pub mod intrinsics;
pub mod path;
pub mod validate;
