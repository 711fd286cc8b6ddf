//! The Amazon States Language: definitions, validation, paths, payload templates, intrinsic
//! functions and Choice rules. Pure: no I/O, no clock, no async.

pub mod choice;
pub mod diagnostic;
pub mod error;
pub mod intrinsics;
pub mod jsonata;
pub mod model;
pub mod path;
pub mod template;
pub mod validate;
