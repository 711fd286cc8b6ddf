//! The Amazon States Language: the typed model of a definition, its validation and loading,
//! and everything that evaluates inside a state (JSONPath, payload templates, intrinsic
//! functions, JSONata, Choice rules). Pure and synchronous; imports nothing else of the crate.

pub mod choice;
pub mod diagnostic;
pub mod error;
pub mod intrinsics;
mod java;
pub mod jsonata;
pub mod load;
pub mod model;
pub mod nesting;
pub mod path;
pub mod payload;
pub mod resource;
pub mod services;
pub mod template;
pub mod timestamp;
pub mod validate;
pub mod variables;
