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

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser<'s> {
    src: &'s str,
    pos: usize,
    depth: usize,
}

impl<'s> Parser<'s> {
    fn error(&self, reason: impl Into<String>) -> IntrinsicSyntaxError {
        IntrinsicSyntaxError {
            src: self.src.to_string(),
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// `States.Name(arg, ...)`, with `pos` at the `S`.
    fn call(&mut self) -> Result<Call, IntrinsicSyntaxError> {
        let Some(after) = self.rest().strip_prefix("States.") else {
            return Err(self.error("expected a call of a 'States.' function"));
        };
        let name_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let Some(func) = Func::from_short_name(name) else {
            return Err(self.error(format!("unknown intrinsic function 'States.{name}'")));
        };
        self.pos += "States.".len() + name_len;
        if self.peek() != Some('(') {
            return Err(self.error(format!("expected '(' after {}", func.name())));
        }
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(format!(
                "intrinsic functions are nested more than {MAX_NESTING} deep"
            )));
        }

        let mut args = Vec::new();
        let mut template = None;
        self.skip_whitespace();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                let (arg, raw) = self.arg()?;
                if func == Func::Format && args.is_empty() {
                    template = raw.map(parse_template);
                }
                args.push(arg);
                self.skip_whitespace();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        return Err(self.error(format!("expected ',' or ')' but found {c:?}")))
                    }
                    None => return Err(self.error("missing ')'")),
                }
            }
        }
        self.depth -= 1;
        Ok(Call {
            func,
            args,
            template,
        })
    }

    /// One argument; for a string literal also its raw text between the quotes.
    fn arg(&mut self) -> Result<(Arg, Option<&'s str>), IntrinsicSyntaxError> {
        match self.peek() {
            Some('\'') => {
                let (value, raw) = self.string()?;
                Ok((Arg::Literal(Value::String(value)), Some(raw)))
            }
            Some('$') => {
                let token = self.path_token();
                let path = Path::parse(token).map_err(|e| {
                    self.pos -= token.len();
                    self.error(e.to_string())
                })?;
                Ok((Arg::Path(path), None))
            }
            Some(c) if c == '-' || c.is_ascii_digit() => Ok((Arg::Literal(self.number()?), None)),
            Some(_) if self.rest().starts_with("States.") => Ok((Arg::Call(self.call()?), None)),
            Some(c) if c.is_ascii_alphabetic() => {
                let rest = self.rest();
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let value = match &rest[..len] {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    word => return Err(self.error(format!("unexpected {word:?}"))),
                };
                self.pos += len;
                Ok((Arg::Literal(value), None))
            }
            Some(c) => Err(self.error(format!("expected an argument but found {c:?}"))),
            None => Err(self.error("missing argument")),
        }
    }

    /// A single-quoted literal: its value and its raw text.
    fn string(&mut self) -> Result<(String, &'s str), IntrinsicSyntaxError> {
        let start = self.pos + 1;
        let body = &self.src[start..];
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos = start + i + 1;
                    return Ok((value, &body[..i]));
                }
                // Spec: reserved characters are escaped as \' \{ \} and \\; any other open
                // escape is an error.
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '{' | '}' | '\\'))) => value.push(e),
                    Some((_, e)) => {
                        self.pos = start + i;
                        return Err(self.error(format!(
                            "invalid escape '\\{e}' in a string literal (only \\' \\{{ \\}} \\\\ are allowed)"
                        )));
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(self.error("unterminated string literal"))
    }

    /// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Value, IntrinsicSyntaxError> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let digits_from = |mut i: usize| {
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut end = usize::from(bytes.first() == Some(&b'-'));
        let int_start = end;
        end = digits_from(end);
        let valid_int = end > int_start && (end - int_start == 1 || bytes[int_start] != b'0');
        let mut valid = valid_int;
        if bytes.get(end) == Some(&b'.') {
            let frac_start = end + 1;
            end = digits_from(frac_start);
            valid &= end > frac_start;
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            end += 1;
            if matches!(bytes.get(end), Some(b'+' | b'-')) {
                end += 1;
            }
            let exp_start = end;
            end = digits_from(exp_start);
            valid &= end > exp_start;
        }
        let text = &rest[..end];
        if !valid {
            return Err(self.error(format!("invalid number {text:?}")));
        }
        let mut value: Value = serde_json::from_str(text)
            .map_err(|_| self.error(format!("number {text} is out of range")))?;
        normalize_zero(&mut value);
        self.pos += end;
        Ok(value)
    }

    /// The text of a path argument: up to a `,`, `)` or whitespace outside brackets and quotes.
    fn path_token(&mut self) -> &'s str {
        let rest = self.rest();
        let mut brackets = 0usize;
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '[' => brackets += 1,
                ']' => brackets = brackets.saturating_sub(1),
                '\'' | '"' if brackets > 0 => quote = Some(c),
                ',' | ')' if brackets == 0 => {
                    end = i;
                    break;
                }
                c if c.is_whitespace() && brackets == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        self.pos += end;
        &rest[..end]
    }
}

/// Splits a Format template into text and `{}` holes. `\{`, `\}`, `\\` and `\'` stand for the
/// character itself; any other brace is an error, reported at evaluation as AWS does.
fn parse_template(raw: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&e @ ('{' | '}' | '\\' | '\'')) => {
                    text.push(e);
                    chars.next();
                }
                _ => text.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Hole);
            }
            '{' => return Err("matching '}' not found for '{'.".to_string()),
            '}' => return Err("matching '{' not found for '}'.".to_string()),
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Why a call failed, before it is worded as a cause.
enum Failure {
    /// An argument path matched nothing; holds the path as AWS reports it.
    Missing(String),
    /// Any other failure; holds the detail after `had the following error: `.
    Invalid(String),
}

impl Failure {
    fn missing(path: &Path) -> Failure {
        // Step Functions reports a `$$` argument rewritten against the context object.
        let src = path.as_str();
        let shown = match path.root() {
            Root::Context => src.strip_prefix('$').unwrap_or(src),
            Root::Input | Root::Variable => src,
        };
        Failure::Missing(shown.to_string())
    }
}

type Eval<'a> = Result<Cow<'a, Value>, Failure>;
type Two<'a> = (Cow<'a, Value>, Cow<'a, Value>);
type Three<'a> = (Cow<'a, Value>, Cow<'a, Value>, Cow<'a, Value>);

fn eval_arg<'a>(arg: &'a Arg, scope: &Scope<'a>, rng: &mut dyn RngCore) -> Eval<'a> {
    match arg {
        Arg::Literal(v) => Ok(Cow::Borrowed(v)),
        Arg::Path(p) if p.is_reference() => p
            .lookup(scope)
            .map(Cow::Borrowed)
            .ok_or_else(|| Failure::missing(p)),
        Arg::Path(p) => p
            .eval(scope)
            .map(Cow::Owned)
            .map_err(|_| Failure::missing(p)),
        Arg::Call(c) => c.eval(scope, rng).map(Cow::Owned),
    }
}

impl Call {
    fn uses_context(&self) -> bool {
        self.args.iter().any(|a| match a {
            Arg::Literal(_) => false,
            Arg::Path(p) => p.uses_context(),
            Arg::Call(c) => c.uses_context(),
        })
    }

    fn invalid(&self) -> Failure {
        Failure::Invalid(format!("Invalid arguments in {}", self.func.name()))
    }

    fn one<'a>(&'a self, scope: &Scope<'a>, rng: &mut dyn RngCore) -> Eval<'a> {
        match self.args.as_slice() {
            [a] => eval_arg(a, scope, rng),
            _ => Err(self.invalid()),
        }
    }

    fn two<'a>(&'a self, scope: &Scope<'a>, rng: &mut dyn RngCore) -> Result<Two<'a>, Failure> {
        match self.args.as_slice() {
            [a, b] => Ok((eval_arg(a, scope, rng)?, eval_arg(b, scope, rng)?)),
            _ => Err(self.invalid()),
        }
    }

    fn three<'a>(&'a self, scope: &Scope<'a>, rng: &mut dyn RngCore) -> Result<Three<'a>, Failure> {
        match self.args.as_slice() {
            [a, b, c] => Ok((
                eval_arg(a, scope, rng)?,
                eval_arg(b, scope, rng)?,
                eval_arg(c, scope, rng)?,
            )),
            _ => Err(self.invalid()),
        }
    }

    fn eval(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, Failure> {
        match self.func {
            Func::Format => self.format(scope, rng),
            Func::StringToJson => {
                let s = self.one(scope, rng)?;
                let s = s.as_str().ok_or_else(|| self.invalid())?;
                // Observed on AWS: an empty or blank string parses to null.
                if s.trim().is_empty() {
                    return Ok(Value::Null);
                }
                let mut v: Value = serde_json::from_str(s).map_err(|_| self.invalid())?;
                normalize_zero(&mut v);
                Ok(v)
            }
            Func::JsonToString => {
                let v = self.one(scope, rng)?;
                serde_json::to_string(&*v)
                    .map(Value::String)
                    .map_err(|_| self.invalid())
            }
            Func::Array => self
                .args
                .iter()
                .map(|a| eval_arg(a, scope, rng).map(Cow::into_owned))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Func::ArrayPartition => {
                let (array, size) = self.two(scope, rng)?;
                let array = array.as_array().ok_or_else(|| self.invalid())?;
                // Observed on AWS: a fractional chunk size is truncated (2.6 -> 2, 0.6 fails).
                let size = truncate(&size)
                    .filter(|&n| n > 0)
                    .ok_or_else(|| self.invalid())?;
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                Ok(Value::Array(
                    array
                        .chunks(size)
                        .map(|chunk| Value::Array(chunk.to_vec()))
                        .collect(),
                ))
            }
            Func::ArrayContains => {
                let (array, target) = self.two(scope, rng)?;
                let array = array.as_array().ok_or_else(|| self.invalid())?;
                Ok(Value::Bool(
                    array.iter().any(|item| contains_match(item, &target)),
                ))
            }
            Func::ArrayRange => self.array_range(scope, rng),
            Func::ArrayGetItem => {
                let (array, index) = self.two(scope, rng)?;
                // Observed on AWS: a fractional index is truncated.
                let index = truncate(&index).ok_or_else(|| self.invalid())?;
                let item = array
                    .as_array()
                    .and_then(|items| items.get(usize::try_from(index).ok()?))
                    .ok_or_else(|| self.invalid())?;
                Ok(item.clone())
            }
            Func::ArrayLength => {
                let array = self.one(scope, rng)?;
                let len = array.as_array().ok_or_else(|| self.invalid())?.len();
                Ok(Value::from(len))
            }
            Func::ArrayUnique => {
                let array = self.one(scope, rng)?;
                let array = array.as_array().ok_or_else(|| self.invalid())?;
                let mut seen = HashSet::with_capacity(array.len());
                Ok(Value::Array(
                    array
                        .iter()
                        .filter(|item| seen.insert(canonical_key(item)))
                        .cloned()
                        .collect(),
                ))
            }
            Func::Base64Encode => {
                let s = self.one(scope, rng)?;
                let s = self.limited_str(&s)?;
                Ok(Value::String(STANDARD.encode(s.as_bytes())))
            }
            Func::Base64Decode => {
                let s = self.one(scope, rng)?;
                let s = self.limited_str(&s)?;
                let bytes = lenient_base64_decode(s).ok_or_else(|| self.invalid())?;
                Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            }
            Func::Hash => self.hash(scope, rng),
            Func::JsonMerge => {
                let (a, b, deep) = self.three(scope, rng)?;
                // Spec: the third argument must be false; observed on AWS: anything but
                // true merges shallowly.
                if *deep == Value::Bool(true) {
                    return Err(self.invalid());
                }
                let (Value::Object(_), Value::Object(b)) = (&*a, &*b) else {
                    return Err(self.invalid());
                };
                let mut merged: Map<String, Value> = match a.into_owned() {
                    Value::Object(a) => a,
                    _ => Map::new(),
                };
                for (k, v) in b {
                    merged.insert(k.clone(), v.clone());
                }
                Ok(Value::Object(merged))
            }
            Func::MathRandom => self.math_random(scope, rng),
            Func::MathAdd => {
                let (a, b) = self.two(scope, rng)?;
                let a = int32_operand(&a).ok_or_else(|| self.invalid())?;
                let b = int32_operand(&b).ok_or_else(|| self.invalid())?;
                let sum = a + b;
                if i32::try_from(sum).is_err() {
                    return Err(self.invalid());
                }
                Ok(Value::from(sum))
            }
            Func::StringSplit => {
                let (s, delimiters) = self.two(scope, rng)?;
                let (Some(s), Some(delimiters)) = (s.as_str(), delimiters.as_str()) else {
                    return Err(self.invalid());
                };
                // Observed on AWS: every character of the delimiter splits, and empty tokens
                // are dropped (java.util.StringTokenizer).
                Ok(Value::Array(
                    s.split(|c| delimiters.contains(c))
                        .filter(|token| !token.is_empty())
                        .map(|token| Value::String(token.to_string()))
                        .collect(),
                ))
            }
            // Observed on AWS: arguments to States.UUID are ignored.
            Func::Uuid => {
                let mut bytes = [0u8; 16];
                rng.fill_bytes(&mut bytes);
                Ok(Value::String(
                    uuid::Builder::from_random_bytes(bytes)
                        .into_uuid()
                        .to_string(),
                ))
            }
        }
    }

    /// A string argument of at most 10000 characters (UTF-16 units, as Java counts them).
    fn limited_str<'v>(&self, v: &'v Value) -> Result<&'v str, Failure> {
        match v.as_str() {
            Some(s)
                if s.len() <= MAX_STRING_CHARS || s.encode_utf16().count() <= MAX_STRING_CHARS =>
            {
                Ok(s)
            }
            _ => Err(self.invalid()),
        }
    }

    fn format(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, Failure> {
        let Some((first, values)) = self.args.split_first() else {
            return Err(self.invalid());
        };
        let template_error = |msg: &str| {
            Failure::Invalid(format!("Invalid template in {}: {msg}", self.func.name()))
        };
        let template: Cow<'_, [Piece]> = match &self.template {
            Some(Ok(pieces)) => Cow::Borrowed(pieces),
            Some(Err(msg)) => return Err(template_error(msg)),
            None => {
                let v = eval_arg(first, scope, rng)?;
                let s = v.as_str().ok_or_else(|| self.invalid())?;
                Cow::Owned(parse_template(s).map_err(|msg| template_error(&msg))?)
            }
        };
        let holes = template.iter().filter(|p| **p == Piece::Hole).count();
        if holes != values.len() {
            return Err(Failure::Invalid(format!(
                "Invalid arguments in {}: number of arguments do not match the occurrences of {{}}",
                self.func.name()
            )));
        }
        let mut out = String::new();
        let mut values = values.iter();
        for piece in template.iter() {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Hole => {
                    if let Some(arg) = values.next() {
                        let v = eval_arg(arg, scope, rng)?;
                        render_format_value(&v, &mut out);
                    }
                }
            }
        }
        Ok(Value::String(out))
    }

    fn array_range(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, Failure> {
        let (start, end, step) = self.three(scope, rng)?;
        // Observed on AWS: fractional arguments are truncated, and a negative step counts down.
        let (Some(start), Some(end), Some(step)) =
            (truncate(&start), truncate(&end), truncate(&step))
        else {
            return Err(self.invalid());
        };
        let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
        let count = match step {
            0 => return Err(self.invalid()),
            s if s > 0 && end >= start => (end - start) / s + 1,
            s if s < 0 && end <= start => (start - end) / -s + 1,
            _ => 0,
        };
        if count > MAX_RANGE_ITEMS {
            return Err(self.invalid());
        }
        Ok(Value::Array(
            (0..count)
                .map(|k| Value::from(i64::try_from(start + k * step).unwrap_or_default()))
                .collect(),
        ))
    }

    fn hash(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, Failure> {
        let (data, algorithm) = self.two(scope, rng)?;
        // Observed on AWS: data that is not a string is hashed as its JSON text.
        let text: Cow<'_, str> = match &*data {
            Value::String(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        };
        if text.len() > MAX_STRING_CHARS && text.encode_utf16().count() > MAX_STRING_CHARS {
            return Err(self.invalid());
        }
        let bytes = text.as_bytes();
        let digest: Vec<u8> = match algorithm.as_str() {
            Some("MD5") => Md5::digest(bytes).to_vec(),
            Some("SHA-1") => Sha1::digest(bytes).to_vec(),
            Some("SHA-256") => Sha256::digest(bytes).to_vec(),
            Some("SHA-384") => Sha384::digest(bytes).to_vec(),
            Some("SHA-512") => Sha512::digest(bytes).to_vec(),
            _ => return Err(self.invalid()),
        };
        let mut hex = String::with_capacity(digest.len() * 2);
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        Ok(Value::String(hex))
    }

    fn math_random(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, Failure> {
        let (start, end, seed) = match self.args.as_slice() {
            [a, b] => (eval_arg(a, scope, rng)?, eval_arg(b, scope, rng)?, None),
            [a, b, c] => (
                eval_arg(a, scope, rng)?,
                eval_arg(b, scope, rng)?,
                Some(eval_arg(c, scope, rng)?),
            ),
            _ => return Err(self.invalid()),
        };
        // Observed on AWS: bounds are truncated (1.6 allows 1) and the interval is
        // [start, end); an empty interval fails.
        let int32 = |v: &Value| truncate(v).filter(|n| i32::try_from(*n).is_ok());
        let (Some(start), Some(end)) = (int32(&start), int32(&end)) else {
            return Err(self.invalid());
        };
        let bound = i32::try_from(end - start)
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| self.invalid())?;
        let offset = match seed {
            // A seeded call is reproducible: Java's java.util.Random, as Step Functions uses
            // (seed 42 over [-5, 5) gives -5 on AWS).
            Some(seed) => {
                let seed = truncate(&seed).ok_or_else(|| self.invalid())?;
                i64::from(JavaRandom::new(seed).next_int(bound))
            }
            None => rng.random_range(0..i64::from(bound)),
        };
        Ok(Value::from(start + offset))
    }
}

/// Renders a Format argument as Step Functions does: strings raw, scalars as JSON, and
/// containers the way Java prints maps and lists (`{Arg1=1, Arg2=[]}`).
fn render_format_value(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_format_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render_format_value(item, out);
            }
            out.push('}');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

/// An integer argument that truncates fractions; `None` for a non-number or a non-finite one.
fn truncate(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(i),
            // `as` saturates; u64 values above i64::MAX are out of every range we accept.
            None => n
                .as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64),
        },
        _ => None,
    }
}

/// A MathAdd operand: a number rounded half up as Java's `Math.round` does, within i32.
fn int32_operand(v: &Value) -> Option<i64> {
    let Value::Number(n) = v else { return None };
    let i = match n.as_i64() {
        Some(i) => i,
        None => {
            let f = n.as_f64().filter(|f| f.is_finite())?;
            let floor = f.floor();
            (if f - floor >= 0.5 { floor + 1.0 } else { floor }) as i64
        }
    };
    i32::try_from(i).ok().map(i64::from)
}

/// Equality for ArrayContains as observed on AWS: a string matches a scalar whose JSON text it
/// is (`"true"` matches `true`), and objects match only with their keys in the same order.
fn contains_match(item: &Value, target: &Value) -> bool {
    match (item, target) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::String(s), other) | (other, Value::String(s)) => match other {
            Value::Null => s == "null",
            Value::Bool(b) => s == if *b { "true" } else { "false" },
            Value::Number(n) => *s == n.to_string(),
            _ => false,
        },
        _ => ordered_eq(item, target),
    }
}

/// Structural equality where object key order matters.
fn ordered_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| ordered_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && ordered_eq(vx, vy))
        }
        _ => a == b,
    }
}

/// A text that is equal for equal JSON values (object keys sorted), for ArrayUnique.
fn canonical_key(v: &Value) -> String {
    fn write_canonical(v: &Value, out: &mut String) {
        match v {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_canonical(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}", Value::String(k.clone()));
                    out.push(':');
                    write_canonical(item, out);
                }
                out.push('}');
            }
            scalar => {
                let _ = write!(out, "{scalar}");
            }
        }
    }
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

/// Decodes Base64 leniently, as observed on AWS: characters outside the alphabet (spaces,
/// padding, `!`) are skipped and missing padding is accepted.
fn lenient_base64_decode(s: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let mut symbols: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    // A single leftover symbol carries no whole byte.
    if symbols.len() % 4 == 1 {
        symbols.pop();
    }
    LENIENT.decode(&symbols).ok()
}

/// Turns negative zero into `0`, as Java's JSON parser reads `-0`.
fn normalize_zero(v: &mut Value) {
    match v {
        Value::Number(n) if n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) => {
            *v = Value::from(0);
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_zero),
        Value::Object(map) => map.values_mut().for_each(normalize_zero),
        _ => {}
    }
}

/// Java's `java.util.Random` (a 48-bit linear congruential generator), for seeded MathRandom.
struct JavaRandom(u64);

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom((seed as u64 ^ Self::MULTIPLIER) & Self::MASK)
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.0 = self.0.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB) & Self::MASK;
        (self.0 >> (48 - bits)) as i32
    }

    /// `nextInt(bound)` for `bound > 0`.
    fn next_int(&mut self, bound: i32) -> i32 {
        let m = bound - 1;
        let mut r = self.next(31);
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use serde_json::json;

    fn context(input: &Value) -> Value {
        json!({
            "Execution": {
                "Id": "arn:aws:states:us-east-1:111111111111:execution:my-machine:exec-1",
                "Input": input,
                "Name": "exec-1",
                "StartTime": "2024-01-01T00:00:00.000Z"
            },
            "StateMachine": {
                "Id": "arn:aws:states:us-east-1:111111111111:stateMachine:my-machine",
                "Name": "my-machine"
            },
            "State": {"Name": "State_0", "EnteredTime": "2024-01-01T00:00:00.000Z", "RetryCount": 0}
        })
    }

    fn eval_with(src: &str, input: Value, seed: u64) -> Result<Value, StatesError> {
        let ctx = context(&input);
        let call = Intrinsic::parse(src).expect("valid intrinsic");
        call.eval(&Scope::new(&input, &ctx), &mut StdRng::seed_from_u64(seed))
    }

    fn eval(src: &str, input: Value) -> Result<Value, StatesError> {
        eval_with(src, input, 7)
    }

    fn ok(src: &str, input: Value) -> Value {
        eval(src, input).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    /// The cause of a failing call, asserting its error name.
    fn fails(src: &str, input: Value) -> String {
        let err = eval(src, input).expect_err(src);
        assert_eq!(err.error, "States.Runtime", "{src}");
        err.cause.unwrap_or_default()
    }

    fn invalid(src: &str, input: Value, function: &str) {
        let cause = fails(src, input);
        assert_eq!(
            cause,
            format!(
                "The function '{src}' had the following error: Invalid arguments in {function}"
            )
        );
    }

    fn syntax_error(src: &str) -> String {
        Intrinsic::parse(src).expect_err(src).reason
    }

    // --- conformance cases --------------------------------------------------------------

    /// Compares JSON values as the conformance README says: numbers by value.
    fn json_eq(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
            }
            _ => a == b,
        }
    }

    /// Builds a payload template: `"key.$"` fields are intrinsic calls or paths.
    fn apply_parameters(
        template: &Value,
        scope: &Scope<'_>,
        rng: &mut dyn RngCore,
    ) -> Result<Value, StatesError> {
        let Value::Object(fields) = template else {
            return Ok(template.clone());
        };
        let mut out = Map::new();
        for (key, value) in fields {
            match (key.strip_suffix(".$"), value) {
                (Some(name), Value::String(src)) if is_intrinsic(src) => {
                    let call =
                        Intrinsic::parse(src).map_err(|e| StatesError::runtime(e.to_string()))?;
                    out.insert(name.to_string(), call.eval(scope, rng)?);
                }
                (Some(name), Value::String(src)) => {
                    let path = Path::parse(src).map_err(|e| StatesError::runtime(e.to_string()))?;
                    let v = path
                        .eval(scope)
                        .map_err(|e| StatesError::runtime(e.to_string()))?;
                    out.insert(name.to_string(), v);
                }
                _ => {
                    out.insert(key.clone(), apply_parameters(value, scope, rng)?);
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// Runs a machine made of one Pass state with `Parameters`: InputPath, Parameters,
    /// ResultPath, OutputPath.
    fn run_pass(state: &Value, input: &Value) -> Result<Value, StatesError> {
        let ctx = context(input);
        let path = |field: &str| state.get(field).and_then(Value::as_str).map(Path::parse);
        let effective = match path("InputPath") {
            Some(p) => p
                .expect("valid InputPath")
                .eval(&Scope::new(input, &ctx))
                .map_err(|e| StatesError::runtime(e.to_string()))?,
            None => input.clone(),
        };
        let mut rng = StdRng::seed_from_u64(42);
        let result = apply_parameters(
            &state["Parameters"],
            &Scope::new(&effective, &ctx),
            &mut rng,
        )?;
        let output = match path("ResultPath") {
            Some(p) => p
                .expect("valid ResultPath")
                .set(input.clone(), result)
                .map_err(StatesError::runtime)?,
            None => result,
        };
        match path("OutputPath") {
            Some(p) => p
                .expect("valid OutputPath")
                .eval(&Scope::new(&output, &ctx))
                .map_err(|e| StatesError::runtime(e.to_string())),
            None => Ok(output),
        }
    }

    /// Checks one case; `Ok(false)` when it is not a single Pass state with Parameters.
    fn check_case(case: &Value) -> Result<bool, String> {
        let states = case["definition"]["States"]
            .as_object()
            .ok_or("no States")?;
        let [(_, state)] = states.iter().collect::<Vec<_>>()[..] else {
            return Ok(false);
        };
        if state["Type"] != "Pass" || !state["Parameters"].is_object() {
            return Ok(false);
        }
        let expect = &case["expect"];
        match (expect["status"].as_str(), run_pass(state, &case["input"])) {
            (Some("SUCCEEDED"), Ok(mut actual)) => {
                let mut expected = expect["output"].clone();
                for pointer in case["ignore_paths"].as_array().into_iter().flatten() {
                    let pointer = pointer.as_str().ok_or("ignore path is not a string")?;
                    let slot = actual
                        .pointer_mut(pointer)
                        .ok_or(format!("output lacks ignored path {pointer}"))?;
                    *slot = Value::Null;
                    if let Some(slot) = expected.pointer_mut(pointer) {
                        *slot = Value::Null;
                    }
                }
                if json_eq(&actual, &expected) {
                    Ok(true)
                } else {
                    Err(format!("output {actual} != expected {expected}"))
                }
            }
            (Some("FAILED"), Err(err)) => {
                if expect["error"].as_str() != Some(err.error.as_str()) {
                    return Err(format!(
                        "error {} != expected {}",
                        err.error, expect["error"]
                    ));
                }
                match expect.get("cause") {
                    Some(cause) if cause.as_str() != err.cause.as_deref() => {
                        Err(format!("cause {:?} != expected {cause}", err.cause))
                    }
                    _ => Ok(true),
                }
            }
            (status, result) => Err(format!("expected {status:?}, got {result:?}")),
        }
    }

    #[test]
    fn conformance_cases_of_intrinsic_functions_pass() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/cases");
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .expect("cases directory")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("intrinsic-functions-") && n.ends_with(".json"))
            .collect();
        names.sort();
        let (mut checked, mut failures) = (0, Vec::new());
        for name in &names {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("readable case");
            let case: Value = serde_json::from_str(&text).expect("case is JSON");
            match check_case(&case) {
                Ok(true) => checked += 1,
                Ok(false) => {}
                Err(why) => failures.push(format!("{name}: {why}")),
            }
        }
        eprintln!(
            "intrinsic conformance: {checked} of {} cases checked and passed",
            names.len()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(
            checked,
            names.len(),
            "every intrinsic case is a single Pass state"
        );
        assert!(checked >= 86);
    }

    // --- parsing ------------------------------------------------------------------------

    #[test]
    fn is_intrinsic_needs_states_prefix_name_and_paren() {
        assert!(is_intrinsic("States.Format('x')"));
        assert!(is_intrinsic("States.Foo()"));
        assert!(!is_intrinsic("States.Format"));
        assert!(!is_intrinsic("States.(1)"));
        assert!(!is_intrinsic("States.Format ('x')"));
        assert!(!is_intrinsic("$.States.Format('x')"));
        assert!(!is_intrinsic(" States.Array()"));
    }

    #[test]
    fn unknown_function_is_a_syntax_error() {
        let err = Intrinsic::parse("States.Compare($.a, $.b)").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid intrinsic function call \"States.Compare($.a, $.b)\" at offset 0: \
             unknown intrinsic function 'States.Compare'"
        );
    }

    #[test]
    fn malformed_calls_are_syntax_errors() {
        assert_eq!(syntax_error("States.Array("), "missing argument");
        assert_eq!(syntax_error("States.Array($.a"), "missing ')'");
        assert_eq!(
            syntax_error("States.Array($.a, )"),
            "expected an argument but found ')'"
        );
        assert_eq!(
            syntax_error("States.UUID(,)"),
            "expected an argument but found ','"
        );
        assert_eq!(
            syntax_error("States.Array($.a) trailing"),
            "unexpected text after the closing ')'"
        );
        assert_eq!(
            syntax_error("States.Array('abc"),
            "unterminated string literal"
        );
        assert_eq!(syntax_error("States.Array(1.)"), "invalid number \"1.\"");
        assert_eq!(
            syntax_error("States.Array(.5)"),
            "expected an argument but found '.'"
        );
        assert_eq!(syntax_error("States.Array(01)"), "invalid number \"01\"");
        assert_eq!(
            syntax_error("States.Array(1e999)"),
            "number 1e999 is out of range"
        );
        assert_eq!(
            syntax_error("States.Array([1,2])"),
            "expected an argument but found '['"
        );
        assert_eq!(syntax_error("States.Array(True)"), "unexpected \"True\"");
        assert_eq!(
            syntax_error("States.Array(1 2)"),
            "expected ',' or ')' but found '2'"
        );
        assert!(syntax_error("States.Array($.a[)").starts_with("invalid JSONPath"));
    }

    #[test]
    fn open_escape_in_string_literal_is_a_syntax_error() {
        let err = Intrinsic::parse(r"States.Base64Decode('YWJj\nZA==')").unwrap_err();
        assert_eq!(err.offset, 25);
        assert!(
            err.reason.starts_with("invalid escape '\\n'"),
            "{}",
            err.reason
        );
    }

    #[test]
    fn nesting_deeper_than_ten_is_rejected() {
        let nested =
            |depth: usize| format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
        assert_eq!(ok(&nested(10), json!({})), json!([[[[[[[[[[1]]]]]]]]]]));
        assert_eq!(
            syntax_error(&nested(11)),
            "intrinsic functions are nested more than 10 deep"
        );
        // Deep garbage must not overflow the stack.
        assert!(Intrinsic::parse(&nested(100_000)).is_err());
    }

    #[test]
    fn whitespace_between_arguments_is_allowed() {
        assert_eq!(
            ok("States.Array( $.a ,\t$.b\n)", json!({"a": 1, "b": 2})),
            json!([1, 2])
        );
        assert_eq!(
            ok("States.UUID( )", json!({})).as_str().map(str::len),
            Some(36)
        );
    }

    #[test]
    fn literals_of_every_kind_are_arguments() {
        assert_eq!(
            ok(
                "States.Array(42, -1.5, 2e3, true, false, null, 'hello', -0)",
                json!({})
            ),
            json!([42, -1.5, 2000.0, true, false, null, "hello", 0])
        );
    }

    #[test]
    fn string_literal_escapes_decode() {
        assert_eq!(
            ok(
                r#"States.Array('it\'s', 'a\\b', '\{\}', '{"k": 1}')"#,
                json!({})
            ),
            json!(["it's", "a\\b", "{}", "{\"k\": 1}"])
        );
    }

    #[test]
    fn paths_of_every_kind_are_arguments() {
        let input =
            json!({"a": {"b c": [1, 2]}, "users": [{"s": 0, "y": "x,y"}, {"s": 1, "y": "z"}]});
        assert_eq!(
            ok(
                "States.Array($, $.a['b c'][1], $.users[?(@.s == 0)].y, $.users[*].s, $$.Execution.Name)",
                input.clone()
            ),
            json!([input, 2, ["x,y"], [0, 1], "exec-1"])
        );
    }

    #[test]
    fn uses_context_finds_context_paths_in_nested_calls() {
        let parse = |s| Intrinsic::parse(s).expect("valid");
        assert!(!parse("States.Format('{}', $.a)").uses_context());
        assert!(parse("States.Array(1, States.Format('{}', $$.Execution.Id))").uses_context());
    }

    #[test]
    fn parse_keeps_the_call_as_written() {
        let src = "States.MathAdd( $.a ,1 )";
        let call = Intrinsic::parse(src).expect("valid");
        assert_eq!(call.as_str(), src);
        assert_eq!(call.to_string(), src);
    }

    // --- failures -----------------------------------------------------------------------

    #[test]
    fn missing_path_argument_fails_with_aws_cause() {
        assert_eq!(
            fails("States.Format('{}', $.nope)", json!({"other": 1})),
            "The function 'States.Format('{}', $.nope)' had the following error: \
             The JsonPath argument for the field '$.nope' could not be found in the input \
             '{\"other\":1}'"
        );
        // The whole call is named, even when a nested call took the argument.
        assert_eq!(
            fails(
                "States.Array(States.Format('{}', $.items[5]))",
                json!({"items": [1]})
            ),
            "The function 'States.Array(States.Format('{}', $.items[5]))' had the following \
             error: The JsonPath argument for the field '$.items[5]' could not be found in the \
             input '{\"items\":[1]}'"
        );
    }

    #[test]
    fn missing_context_path_is_reported_against_the_context_object() {
        assert_eq!(
            fails("States.Format('{}', $$.Nope.Deep)", json!({"other": 1})),
            "The function 'States.Format('{}', $$.Nope.Deep)' had the following error: \
             The JsonPath argument for the field '$.Nope.Deep' could not be found in the \
             input '{\"other\":1}'"
        );
    }

    #[test]
    fn wildcard_matching_nothing_is_an_empty_array() {
        assert_eq!(
            ok(
                "States.ArrayLength($.items[*].nope)",
                json!({"items": [1, 2]})
            ),
            json!(0)
        );
    }

    #[test]
    fn explicit_null_argument_is_present() {
        assert_eq!(
            ok("States.Format('{}', $.n)", json!({"n": null})),
            json!("null")
        );
    }

    #[test]
    fn wrong_argument_counts_fail_at_evaluation() {
        invalid("States.StringToJson()", json!({}), "States.StringToJson");
        invalid(
            "States.JsonToString($.a, $.a)",
            json!({"a": 1}),
            "States.JsonToString",
        );
        invalid(
            "States.ArrayContains($.a)",
            json!({"a": []}),
            "States.ArrayContains",
        );
        invalid("States.MathAdd(1)", json!({}), "States.MathAdd");
        invalid("States.MathAdd(1, 2, 3)", json!({}), "States.MathAdd");
        invalid("States.ArrayRange(1, 5)", json!({}), "States.ArrayRange");
        invalid("States.Hash('a')", json!({}), "States.Hash");
        invalid(
            "States.Base64Encode('a', 'b')",
            json!({}),
            "States.Base64Encode",
        );
        invalid(
            "States.JsonMerge($.a, $.a)",
            json!({"a": {}}),
            "States.JsonMerge",
        );
        invalid("States.MathRandom(1)", json!({}), "States.MathRandom");
        invalid(
            "States.MathRandom(1, 10, 5, 99)",
            json!({}),
            "States.MathRandom",
        );
        invalid("States.Format()", json!({}), "States.Format");
    }

    // --- States.Format ------------------------------------------------------------------

    #[test]
    fn format_renders_values_like_aws() {
        let input = json!({"s": "x", "n": 1.1, "i": -1, "b": false, "z": null,
                           "o": {"Arg1": 1, "Arg2": []}, "a": [1, "two", {"k": null}]});
        assert_eq!(
            ok(
                "States.Format('{}|{}|{}|{}|{}|{}|{}', $.s, $.n, $.i, $.b, $.z, $.o, $.a)",
                input
            ),
            json!("x|1.1|-1|false|null|{Arg1=1, Arg2=[]}|[1, two, {k=null}]")
        );
    }

    #[test]
    fn format_escaped_braces_and_quotes_are_literal() {
        assert_eq!(
            ok(
                r#"States.Format('Name: \'{}\', set: \{{}\}, slash: \\', $.a, $.b)"#,
                json!({"a": "Ann", "b": 3})
            ),
            json!(r"Name: 'Ann', set: {3}, slash: \")
        );
    }

    #[test]
    fn format_template_may_come_from_a_path() {
        assert_eq!(
            ok(
                "States.Format($.t, $.name)",
                json!({"t": "Hello, {}.", "name": "Arnav"})
            ),
            json!("Hello, Arnav.")
        );
        invalid("States.Format($.t, 1)", json!({"t": 123}), "States.Format");
    }

    #[test]
    fn format_argument_count_must_match_placeholders() {
        for src in [
            "States.Format('{} {}', 'x')",
            "States.Format('{}', 'x', 'y')",
        ] {
            assert_eq!(
                fails(src, json!({})),
                format!(
                    "The function '{src}' had the following error: Invalid arguments in \
                     States.Format: number of arguments do not match the occurrences of {{}}"
                )
            );
        }
        assert_eq!(
            ok("States.Format('no placeholders')", json!({})),
            json!("no placeholders")
        );
    }

    #[test]
    fn format_unmatched_braces_fail_at_evaluation() {
        for (src, what) in [
            (
                "States.Format('Hello {', 'x')",
                "matching '}' not found for '{'.",
            ),
            (
                "States.Format('Hello {{}}', 'x')",
                "matching '}' not found for '{'.",
            ),
            ("States.Format('}')", "matching '{' not found for '}'."),
        ] {
            assert_eq!(
                fails(src, json!({})),
                format!(
                    "The function '{src}' had the following error: Invalid template in \
                     States.Format: {what}"
                )
            );
        }
    }

    #[test]
    fn format_handles_multibyte_text() {
        assert_eq!(
            ok("States.Format('héllo {} 🚀', $.a)", json!({"a": "wörld"})),
            json!("héllo wörld 🚀")
        );
    }

    // --- JSON ---------------------------------------------------------------------------

    #[test]
    fn string_to_json_parses_and_blank_is_null() {
        assert_eq!(
            ok("States.StringToJson($.s)", json!({"s": " {\"a\":1} "})),
            json!({"a": 1})
        );
        assert_eq!(
            ok("States.StringToJson($.s)", json!({"s": ""})),
            Value::Null
        );
        assert_eq!(
            ok("States.StringToJson($.s)", json!({"s": "  "})),
            Value::Null
        );
        assert_eq!(ok("States.StringToJson($.s)", json!({"s": "-0"})), json!(0));
        assert_eq!(
            ok("States.StringToJson($.s)", json!({"s": "[1.5]"})),
            json!([1.5])
        );
        invalid(
            "States.StringToJson($.s)",
            json!({"s": "{bad json}"}),
            "States.StringToJson",
        );
        invalid(
            "States.StringToJson($.s)",
            json!({"s": "undefined"}),
            "States.StringToJson",
        );
        invalid(
            "States.StringToJson($.s)",
            json!({"s": {"a": 1}}),
            "States.StringToJson",
        );
    }

    #[test]
    fn json_to_string_is_compact_and_keeps_key_order() {
        assert_eq!(
            ok(
                "States.JsonToString($.o)",
                json!({"o": {"z": [true, null], "a": "x"}})
            ),
            json!("{\"z\":[true,null],\"a\":\"x\"}")
        );
        assert_eq!(ok("States.JsonToString('x')", json!({})), json!("\"x\""));
    }

    #[test]
    fn json_merge_is_shallow_and_right_wins() {
        let input =
            json!({"a": {"a": {"a1": 1}, "b": 2, "d": 3}, "b": {"a": {"a3": 1}, "c": 3, "d": 4}});
        assert_eq!(
            ok("States.JsonMerge($.a, $.b, false)", input),
            json!({"a": {"a3": 1}, "b": 2, "d": 4, "c": 3})
        );
    }

    #[test]
    fn json_merge_rejects_deep_mode_and_non_objects() {
        let input = json!({"o": {}, "n": null, "l": []});
        invalid(
            "States.JsonMerge($.o, $.o, true)",
            input.clone(),
            "States.JsonMerge",
        );
        invalid(
            "States.JsonMerge($.n, $.o, false)",
            input.clone(),
            "States.JsonMerge",
        );
        invalid(
            "States.JsonMerge($.o, $.l, false)",
            input.clone(),
            "States.JsonMerge",
        );
        // Observed on AWS: a deep flag that is not `true` merges shallowly.
        assert_eq!(ok("States.JsonMerge($.o, $.o, 'false')", input), json!({}));
    }

    // --- arrays -------------------------------------------------------------------------

    #[test]
    fn array_partition_chunks_and_truncates_size() {
        let input = json!({"a": [1, 2, 3, 4, 5]});
        assert_eq!(
            ok("States.ArrayPartition($.a, 2)", input.clone()),
            json!([[1, 2], [3, 4], [5]])
        );
        assert_eq!(
            ok("States.ArrayPartition($.a, 2.6)", input.clone()),
            json!([[1, 2], [3, 4], [5]])
        );
        assert_eq!(
            ok("States.ArrayPartition($.a, 2147483647)", input.clone()),
            json!([[1, 2, 3, 4, 5]])
        );
        for size in ["0", "-1", "0.6", "-0.4", "'2'", "null"] {
            invalid(
                &format!("States.ArrayPartition($.a, {size})"),
                input.clone(),
                "States.ArrayPartition",
            );
        }
        invalid(
            "States.ArrayPartition('x', 2)",
            json!({}),
            "States.ArrayPartition",
        );
    }

    #[test]
    fn array_range_is_inclusive_and_may_count_down() {
        assert_eq!(
            ok("States.ArrayRange(1, 9, 2)", json!({})),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            ok("States.ArrayRange(0, 10, 3)", json!({})),
            json!([0, 3, 6, 9])
        );
        assert_eq!(
            ok("States.ArrayRange(5, 1, -2)", json!({})),
            json!([5, 3, 1])
        );
        assert_eq!(ok("States.ArrayRange(3, 3, -1)", json!({})), json!([3]));
        assert_eq!(ok("States.ArrayRange(5, 1, 1)", json!({})), json!([]));
        // Observed on AWS: fractions are truncated.
        assert_eq!(
            ok("States.ArrayRange(5.4, -0.6, -2.4)", json!({})),
            json!([5, 3, 1])
        );
        assert_eq!(ok("States.ArrayRange(1.6, 1.4, 1)", json!({})), json!([1]));
    }

    #[test]
    fn array_range_limits_size_and_step() {
        let thousand = ok("States.ArrayRange(1, 1000, 1)", json!({}));
        assert_eq!(thousand.as_array().map(Vec::len), Some(1000));
        invalid(
            "States.ArrayRange(1, 1001, 1)",
            json!({}),
            "States.ArrayRange",
        );
        invalid(
            "States.ArrayRange(1001, 1, -1)",
            json!({}),
            "States.ArrayRange",
        );
        invalid(
            "States.ArrayRange(1, 10, 0)",
            json!({}),
            "States.ArrayRange",
        );
        invalid(
            "States.ArrayRange(1, 10, 0.49)",
            json!({}),
            "States.ArrayRange",
        );
        invalid(
            "States.ArrayRange('a', 5, 1)",
            json!({}),
            "States.ArrayRange",
        );
        invalid(
            "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
            json!({}),
            "States.ArrayRange",
        );
    }

    #[test]
    fn array_get_item_checks_bounds_and_truncates_index() {
        let input = json!({"a": [10, {"k": 1}, 30]});
        assert_eq!(
            ok("States.ArrayGetItem($.a, 1)", input.clone()),
            json!({"k": 1})
        );
        assert_eq!(
            ok("States.ArrayGetItem($.a, 1.2)", input.clone()),
            json!({"k": 1})
        );
        for index in ["3", "-1", "'1'", "99999999999999999999"] {
            invalid(
                &format!("States.ArrayGetItem($.a, {index})"),
                input.clone(),
                "States.ArrayGetItem",
            );
        }
        invalid(
            "States.ArrayGetItem('x', 0)",
            json!({}),
            "States.ArrayGetItem",
        );
    }

    #[test]
    fn array_contains_matches_like_aws() {
        let input = json!({"a": [null, "", 0, [0, 1, false], {"a": 1, "b": 2}, "true", "9007199254740991"]});
        let contains = |target: &str| {
            ok(
                &format!("States.ArrayContains($.a, {target})"),
                input.clone(),
            )
        };
        assert_eq!(contains("States.Array(0, 1, false)"), json!(true));
        assert_eq!(contains("null"), json!(true));
        assert_eq!(contains("false"), json!(false));
        assert_eq!(
            contains("States.StringToJson('{\"a\":1,\"b\":2}')"),
            json!(true)
        );
        // Observed on AWS: key order matters, and strings match scalars of the same text.
        assert_eq!(
            contains("States.StringToJson('{\"b\":2,\"a\":1}')"),
            json!(false)
        );
        assert_eq!(contains("true"), json!(true));
        assert_eq!(contains("9007199254740991"), json!(true));
        assert_eq!(contains("1"), json!(false));
        invalid(
            "States.ArrayContains('x', 'x')",
            json!({}),
            "States.ArrayContains",
        );
    }

    #[test]
    fn array_unique_keeps_first_of_equal_values() {
        let input = json!({"a": [1, "1", 1, "01", {"a": 1, "b": 2}, {"b": 2, "a": 1}, [1, 2], [2, 1], [1, 2], null, null, 1.5]});
        assert_eq!(
            ok("States.ArrayUnique($.a)", input),
            json!([1, "1", "01", {"a": 1, "b": 2}, [1, 2], [2, 1], null, 1.5])
        );
        invalid(
            "States.ArrayUnique($.o)",
            json!({"o": {}}),
            "States.ArrayUnique",
        );
    }

    #[test]
    fn array_length_counts_top_level_items() {
        assert_eq!(
            ok("States.ArrayLength(States.Array())", json!({})),
            json!(0)
        );
        assert_eq!(
            ok("States.ArrayLength($.a)", json!({"a": [[1], [2]]})),
            json!(2)
        );
        invalid("States.ArrayLength('x')", json!({}), "States.ArrayLength");
    }

    // --- encoding and hashing -----------------------------------------------------------

    #[test]
    fn base64_round_trips_utf8() {
        assert_eq!(
            ok("States.Base64Encode('🚀✓')", json!({})),
            json!("8J+agOKckw==")
        );
        assert_eq!(
            ok("States.Base64Decode('8J+agOKckw==')", json!({})),
            json!("🚀✓")
        );
        assert_eq!(ok("States.Base64Encode('')", json!({})), json!(""));
        assert_eq!(
            ok("States.Base64Decode('YWJjAGRlZg==')", json!({})),
            json!("abc\u{0}def")
        );
    }

    #[test]
    fn base64_decode_is_lenient_like_aws() {
        assert_eq!(
            ok("States.Base64Decode(' YWJjZA== ')", json!({})),
            json!("abcd")
        );
        assert_eq!(
            ok("States.Base64Decode('YWJjZA')", json!({})),
            json!("abcd")
        );
        assert_eq!(ok("States.Base64Decode('YWJjZ')", json!({})), json!("abc"));
        // Bytes that are not UTF-8 become replacement characters rather than failing.
        assert_eq!(
            ok("States.Base64Decode('/w==')", json!({})),
            json!("\u{fffd}")
        );
    }

    #[test]
    fn base64_and_hash_inputs_are_limited_to_10000_characters() {
        let at_limit = json!({"s": "é".repeat(10_000)});
        let over = json!({"s": "a".repeat(10_001)});
        assert!(eval("States.Base64Encode($.s)", at_limit.clone()).is_ok());
        assert!(eval("States.Hash($.s, 'MD5')", at_limit).is_ok());
        invalid(
            "States.Base64Encode($.s)",
            over.clone(),
            "States.Base64Encode",
        );
        invalid(
            "States.Base64Decode($.s)",
            over.clone(),
            "States.Base64Decode",
        );
        invalid("States.Hash($.s, 'MD5')", over, "States.Hash");
        invalid("States.Base64Encode(123)", json!({}), "States.Base64Encode");
        invalid(
            "States.Base64Decode($.o)",
            json!({"o": {}}),
            "States.Base64Decode",
        );
    }

    #[test]
    fn hash_supports_the_five_algorithms() {
        for (algorithm, digest) in [
            ("MD5", "5d41402abc4b2a76b9719d911017c592"),
            ("SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
            ("SHA-256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
            ("SHA-384", "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f"),
            ("SHA-512", "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"),
        ] {
            assert_eq!(ok(&format!("States.Hash('hello', '{algorithm}')"), json!({})), json!(digest));
        }
        for algorithm in ["'sha-256'", "'SHA256'", "'MD-5'", "''", "123"] {
            invalid(
                &format!("States.Hash('hello', {algorithm})"),
                json!({}),
                "States.Hash",
            );
        }
    }

    #[test]
    fn hash_of_a_non_string_hashes_its_json_text() {
        assert_eq!(
            ok("States.Hash(123, 'MD5')", json!({})),
            ok("States.Hash('123', 'MD5')", json!({}))
        );
    }

    // --- math ---------------------------------------------------------------------------

    #[test]
    fn math_add_rounds_half_up_like_java() {
        for (a, b, sum) in [
            (-9.0, 3.0, -6),
            (1.49, 1.5, 3),
            (1.5, 1.51, 4),
            (-1.49, -1.5, -2),
            (-1.5, -1.51, -3),
            (1.49, -1.49, 0),
            (-0.5, 0.5, 1),
            (-2.5, 0.0, -2),
            (-3.5, 0.0, -3),
            (2.5, 0.0, 3),
            (0.49999999999999994, 0.0, 0),
        ] {
            assert_eq!(
                ok("States.MathAdd($.a, $.b)", json!({"a": a, "b": b})),
                json!(sum),
                "{a} + {b}"
            );
        }
        assert_eq!(ok("States.MathAdd($.v, -1)", json!({"v": 111})), json!(110));
    }

    #[test]
    fn math_add_stays_within_int32() {
        assert_eq!(
            ok("States.MathAdd(2147483646, 1)", json!({})),
            json!(2147483647)
        );
        assert_eq!(
            ok("States.MathAdd(-2147483647, -1)", json!({})),
            json!(-2147483648_i64)
        );
        for args in [
            "2147483647, 1",
            "-2147483648, -1",
            "3000000000, 1",
            "1e300, 1",
            "18446744073709551615, 0",
        ] {
            invalid(
                &format!("States.MathAdd({args})"),
                json!({}),
                "States.MathAdd",
            );
        }
    }

    #[test]
    fn math_add_rejects_non_numbers() {
        for args in ["'a', 1", "1, '2'", "null, 1", "true, 1", "$.arr, 1"] {
            invalid(
                &format!("States.MathAdd({args})"),
                json!({"arr": [1]}),
                "States.MathAdd",
            );
        }
    }

    #[test]
    fn math_random_is_in_start_inclusive_end_exclusive() {
        for seed in 0..200 {
            let v = eval_with("States.MathRandom(1, 4)", json!({}), seed).expect("valid");
            let v = v.as_i64().expect("an integer");
            assert!((1..4).contains(&v), "{v}");
        }
        // Observed on AWS: bounds are truncated, so 1.6 allows 1 and 1.4..1.6 is empty.
        let v = ok("States.MathRandom(1.6, 2.4)", json!({}));
        assert_eq!(v, json!(1));
        invalid(
            "States.MathRandom(1.4, 1.6)",
            json!({}),
            "States.MathRandom",
        );
        invalid("States.MathRandom(10, 5)", json!({}), "States.MathRandom");
        invalid("States.MathRandom('a', 10)", json!({}), "States.MathRandom");
        invalid(
            "States.MathRandom(1, 10, null)",
            json!({}),
            "States.MathRandom",
        );
        invalid(
            "States.MathRandom(-3000000000, 3000000000)",
            json!({}),
            "States.MathRandom",
        );
    }

    #[test]
    fn math_random_comes_only_from_the_rng() {
        let a = eval_with("States.MathRandom(0, 1000000)", json!({}), 1);
        let b = eval_with("States.MathRandom(0, 1000000)", json!({}), 1);
        assert_eq!(a, b);
    }

    #[test]
    fn math_random_with_seed_follows_java_random() {
        // Observed on AWS: seed 42 over [-5, 5) gives -5 (java.util.Random(42).nextInt(10) = 0).
        assert_eq!(ok("States.MathRandom(-5, 5, 42)", json!({})), json!(-5));
        let first = eval_with("States.MathRandom(1, 1000, 7)", json!({}), 1);
        let second = eval_with("States.MathRandom(1, 1000, 7)", json!({}), 2);
        assert_eq!(first, second);
        // A power-of-two bound takes Java's shortcut.
        let v = ok("States.MathRandom(0, 1024, 3)", json!({}));
        assert!(v.as_i64().is_some_and(|v| (0..1024).contains(&v)));
    }

    // --- strings ------------------------------------------------------------------------

    #[test]
    fn string_split_splits_on_each_delimiter_char_and_drops_empty_tokens() {
        let split = |s: &str, d: &str| ok("States.StringSplit($.s, $.d)", json!({"s": s, "d": d}));
        assert_eq!(split("a,b,c", ","), json!(["a", "b", "c"]));
        assert_eq!(split("1+2,3.4", ".+,"), json!(["1", "2", "3", "4"]));
        assert_eq!(split(",a,,b,", ","), json!(["a", "b"]));
        assert_eq!(split("", ","), json!([]));
        assert_eq!(split("abc", ""), json!(["abc"]));
        assert_eq!(split("é—ü—ö", "—"), json!(["é", "ü", "ö"]));
        invalid(
            "States.StringSplit($.n, ',')",
            json!({"n": 123}),
            "States.StringSplit",
        );
        invalid(
            "States.StringSplit('a,b', $.d)",
            json!({"d": [","]}),
            "States.StringSplit",
        );
    }

    #[test]
    fn uuid_is_a_v4_uuid_from_the_rng_and_ignores_arguments() {
        let a = eval_with("States.UUID()", json!({}), 5).expect("valid");
        let b = eval_with("States.UUID('ignored', $.nope)", json!({}), 5).expect("valid");
        assert_eq!(a, b);
        let s = a.as_str().expect("a string");
        let parsed = uuid::Uuid::parse_str(s).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(s, s.to_lowercase());
    }

    // --- composition --------------------------------------------------------------------

    #[test]
    fn nested_calls_evaluate_inside_out() {
        assert_eq!(
            ok(
                "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), \
                 States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
                json!({})
            ),
            json!("machine")
        );
        assert_eq!(
            ok(
                "States.Hash(States.Format('{}:{}', $.a, $.b), 'SHA-256')",
                json!({"a": "x", "b": "y"})
            ),
            json!("1274e286686b54fe765ec40735665b4bf789cee2a5b22124c5e0491a88e15271")
        );
    }

    #[test]
    fn fail_state_paths_can_be_format_calls() {
        let input = json!({"Error": "error string", "Cause": "cause string"});
        assert_eq!(
            ok("States.Format('{}', $.Error)", input.clone()),
            json!("error string")
        );
        assert_eq!(
            ok(
                "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)",
                input
            ),
            json!("This is a custom error message for error string, caused by cause string.")
        );
    }

    #[test]
    fn json_merge_accepts_a_nested_string_to_json_with_quotes() {
        let input = json!({"input_field": {"constant_input_field": "constant_value"}});
        assert_eq!(
            ok(
                r#"States.JsonMerge(States.StringToJson('{"constant_in_literal": "false"}'), $$.Execution.Input.input_field, false)"#,
                input
            ),
            json!({"constant_in_literal": "false", "constant_input_field": "constant_value"})
        );
    }
}
