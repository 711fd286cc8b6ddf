//! Intrinsic functions (`States.Format`, `States.Array`, ...): parser and evaluator.
//!
//! An intrinsic call is the string value of a `"key.$"` field, such as
//! `States.Format('Hello {}', $.name)`. It is parsed once, when the definition is loaded, into an
//! [`Intrinsic`]; evaluating it walks the parsed call with no re-parsing. Paths inside a call are
//! compiled by [`crate::asl::path`], which also owns the `$$` context object; placing the result
//! into the payload is left to the template code that called us.
//!
//! Failures follow what Step Functions does rather than what its guide suggests. Wrong argument
//! counts, types and ranges fail with `States.Runtime` (not `States.IntrinsicFailure`) and the
//! cause `The function '<call as written>' had the following error: Invalid arguments in
//! States.<Name>`; an argument path that matches nothing fails the same way with `The JsonPath
//! argument for the field '<path>' could not be found in the input '<input>'`. The engine puts
//! its `An error occurred while executing the state ...` prefix in front.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::{self, Write as _};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use md5::Md5;
use rand::{Rng as _, RngCore};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::asl::error::{self, StatesError};
use crate::asl::path::{Path, Root, Scope};

mod eval;
mod parser;
#[cfg(test)]
mod tests;

use eval::*;
use parser::*;

/// The error name of every failing call. Observed on AWS: argument errors and missing argument
/// paths both fail the execution with `States.Runtime`.
const FAILURE_ERROR: &str = error::RUNTIME;
/// Spec: "You can nest up to 10 intrinsic functions within a field."
const MAX_NESTING: usize = 10;
/// Spec: the input of Base64Encode, Base64Decode and Hash is at most 10000 characters.
const MAX_STRING_CHARS: usize = 10_000;
/// Spec: "The new array can contain up to 1000 elements."
const MAX_RANGE_ITEMS: i128 = 1000;

/// The 18 functions Step Functions defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    const ALL: [Func; 18] = [
        Func::Format,
        Func::StringToJson,
        Func::JsonToString,
        Func::Array,
        Func::ArrayPartition,
        Func::ArrayContains,
        Func::ArrayRange,
        Func::ArrayGetItem,
        Func::ArrayLength,
        Func::ArrayUnique,
        Func::Base64Encode,
        Func::Base64Decode,
        Func::Hash,
        Func::JsonMerge,
        Func::MathRandom,
        Func::MathAdd,
        Func::StringSplit,
        Func::Uuid,
    ];

    /// The full name, `States.Format`.
    fn name(self) -> &'static str {
        match self {
            Func::Format => "States.Format",
            Func::StringToJson => "States.StringToJson",
            Func::JsonToString => "States.JsonToString",
            Func::Array => "States.Array",
            Func::ArrayPartition => "States.ArrayPartition",
            Func::ArrayContains => "States.ArrayContains",
            Func::ArrayRange => "States.ArrayRange",
            Func::ArrayGetItem => "States.ArrayGetItem",
            Func::ArrayLength => "States.ArrayLength",
            Func::ArrayUnique => "States.ArrayUnique",
            Func::Base64Encode => "States.Base64Encode",
            Func::Base64Decode => "States.Base64Decode",
            Func::Hash => "States.Hash",
            Func::JsonMerge => "States.JsonMerge",
            Func::MathRandom => "States.MathRandom",
            Func::MathAdd => "States.MathAdd",
            Func::StringSplit => "States.StringSplit",
            Func::Uuid => "States.UUID",
        }
    }

    /// Looks up the part after `States.`.
    fn from_short_name(short: &str) -> Option<Func> {
        Func::ALL
            .into_iter()
            .find(|f| f.name().strip_prefix("States.") == Some(short))
    }
}

/// One argument of a call.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A string, number, `true`, `false` or `null` literal.
    Literal(Value),
    /// A JSONPath on `$` or `$$`.
    Path(Path),
    /// A nested call.
    Call(Call),
}

/// One piece of a `States.Format` template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Hole,
}

/// A parsed call with its arguments.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    func: Func,
    args: Vec<Arg>,
    /// For `States.Format` with a literal template: the template, split once at parse time. An
    /// invalid template is a runtime failure on AWS, so its message is kept for `eval`.
    template: Option<Result<Vec<Piece>, String>>,
}

/// A parsed intrinsic call such as `States.Format('x {}', $.a)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    src: Box<str>,
    call: Call,
}

/// An intrinsic call that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid intrinsic function call {src:?} at offset {offset}: {reason}")]
pub struct IntrinsicSyntaxError {
    /// The call as written.
    pub src: String,
    /// The byte offset in `src` where parsing stopped.
    pub offset: usize,
    /// What is wrong there.
    pub reason: String,
}

/// True if `s` looks like an intrinsic call (starts with `States.` and a name followed by `(`).
pub fn is_intrinsic(s: &str) -> bool {
    s.strip_prefix("States.").is_some_and(|rest| {
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        name_len > 0 && rest[name_len..].starts_with('(')
    })
}

impl Intrinsic {
    /// Parses the string value of a `"key.$"` field that starts with `States.`.
    ///
    /// Arguments are string literals in single quotes (escapes `\'`, `\{`, `\}`, `\\`), JSON
    /// numbers, `true`, `false`, `null`, paths on `$` or `$$`, and nested calls. Argument counts
    /// and types are checked by [`Intrinsic::eval`], as Step Functions does.
    ///
    /// # Errors
    /// [`IntrinsicSyntaxError`] for an unknown function, malformed syntax, an invalid path, or
    /// calls nested more than 10 deep.
    pub fn parse(src: &str) -> Result<Intrinsic, IntrinsicSyntaxError> {
        let mut parser = Parser {
            src,
            pos: 0,
            depth: 0,
        };
        let call = parser.call()?;
        parser.skip_whitespace();
        if parser.pos != src.len() {
            return Err(parser.error("unexpected text after the closing ')'"));
        }
        Ok(Intrinsic {
            src: src.into(),
            call,
        })
    }

    /// The call as written.
    pub fn as_str(&self) -> &str {
        &self.src
    }

    /// True when some argument path reads the context object `$$`.
    pub fn uses_context(&self) -> bool {
        self.call.uses_context()
    }

    /// True when `f` holds for every argument path.
    pub fn all_paths(&self, f: &dyn Fn(&Path) -> bool) -> bool {
        self.call.all_paths(f)
    }

    /// Evaluates the call. Randomness (MathRandom, UUID) comes only from `rng` so the engine stays
    /// deterministic.
    ///
    /// # Errors
    /// `States.Runtime` with AWS's cause when an argument path matches nothing or an argument has
    /// the wrong count, type or range.
    pub fn eval(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, StatesError> {
        self.call.eval(scope, rng).map_err(|failure| {
            let detail = match failure {
                Failure::Missing(path) => format!(
                    "The JsonPath argument for the field '{}' could not be found in the input '{}'",
                    path,
                    serde_json::to_string(scope.input).unwrap_or_default()
                ),
                Failure::Invalid(detail) => detail,
            };
            StatesError::new(
                FAILURE_ERROR,
                format!(
                    "The function '{}' had the following error: {}",
                    self.src, detail
                ),
            )
        })
    }
}

impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}
