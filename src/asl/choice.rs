//! Choice rules: parsing and evaluation of the JSONPath form of a Choice state's `Choices`.
//!
//! A [`ChoiceRule`] is compiled once, when the definition is loaded: every `Variable` and
//! `...Path` operand becomes a [`Path`], literal timestamps are parsed and `StringMatches`
//! patterns are split at their wildcards, so evaluation only walks the state input.
//!
//! This module owns the comparison semantics of Step Functions: a value of the wrong type makes
//! a comparison false, a `Variable` or `...Path` operand that names nothing fails the execution
//! with `States.Runtime` (except under `IsPresent`), numbers compare by value (`1` equals
//! `1.0`), strings compare by UTF-16 code units as Java's `String.compareTo` does, and
//! timestamps are parsed as Java's `ISO_OFFSET_DATE_TIME` parses them.
//!
//! It leaves to others the Choice state itself (picking the first matching rule, `Default`,
//! `States.NoChoiceMatched`), `Assign` and `Output` (kept here unparsed), and JSONata: a rule's
//! `Condition` is kept as written in [`Condition::Jsonata`] for the engine to evaluate.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{Datelike, NaiveDate};
use serde_json::{Number, Value};

use crate::asl::diagnostic::{join, Diagnostic};
use crate::asl::error::StatesError;
use crate::asl::path::{Path, Root, Scope};

/// One top-level Choice rule: a condition and the state it leads to.
#[derive(Debug, Clone)]
pub struct ChoiceRule {
    condition: Condition,
    next: String,
    assign: Option<Value>,
    output: Option<Value>,
    uses_context: bool,
}

/// The condition of a Choice rule: a boolean expression, a data-test expression or, in
/// JSONata, a `Condition`.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `"And"`: true when every rule is true (evaluated left to right, stopping at the first
    /// false one).
    And(Vec<Condition>),
    /// `"Or"`: true when any rule is true (evaluated left to right, stopping at the first true
    /// one).
    Or(Vec<Condition>),
    /// `"Not"`: true when the rule is false.
    Not(Box<Condition>),
    /// A data-test expression: `Variable` and one comparison operator.
    Test(DataTest),
    /// A JSONata `Condition`, as written (a `{% ... %}` string, or a literal boolean).
    Jsonata(Value),
}

/// A data-test expression: the value `Variable` names, compared by one operator.
#[derive(Debug, Clone)]
pub struct DataTest {
    variable: Path,
    comparison: Comparison,
}

/// What a data-test expression checks, with its operand compiled.
#[derive(Debug, Clone)]
enum Comparison {
    /// `BooleanEquals(Path)`.
    Boolean(Operand<bool>),
    /// `Numeric*(Path)`.
    Numeric(CmpOp, Operand<Number>),
    /// `String*(Path)` except `StringMatches`.
    String(CmpOp, Operand<Box<str>>),
    /// `Timestamp*(Path)`.
    Timestamp(CmpOp, Operand<Timestamp>),
    /// `StringMatches`.
    Matches(Pattern),
    /// `IsNull`, `IsPresent`, `IsNumeric`, `IsString`, `IsBoolean`, `IsTimestamp`: the test
    /// and the expected answer.
    Is(TypeTest, bool),
}

/// The right-hand side of a comparison: a literal, or a path into the input (`...Path`).
#[derive(Debug, Clone)]
enum Operand<T> {
    Literal(T),
    Path(Path),
}

/// The relation a comparison operator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

impl CmpOp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Equals => ord == Ordering::Equal,
            CmpOp::LessThan => ord == Ordering::Less,
            CmpOp::GreaterThan => ord == Ordering::Greater,
            CmpOp::LessThanEquals => ord != Ordering::Greater,
            CmpOp::GreaterThanEquals => ord != Ordering::Less,
        }
    }
}

/// The type an `Is*` operator tests for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

/// The operand type of a comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OperandType {
    Boolean,
    Numeric,
    String,
    Timestamp,
}

/// A comparison operator, recognised by its field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Compare {
        ty: OperandType,
        op: CmpOp,
        path: bool,
    },
    Matches,
    Is(TypeTest),
}

impl Operator {
    /// Recognises `NumericLessThanEqualsPath`, `IsNull`, `StringMatches`, ...
    fn from_name(name: &str) -> Option<Operator> {
        let is = match name {
            "IsNull" => Some(TypeTest::Null),
            "IsPresent" => Some(TypeTest::Present),
            "IsNumeric" => Some(TypeTest::Numeric),
            "IsString" => Some(TypeTest::String),
            "IsBoolean" => Some(TypeTest::Boolean),
            "IsTimestamp" => Some(TypeTest::Timestamp),
            "StringMatches" => return Some(Operator::Matches),
            _ => None,
        };
        if let Some(test) = is {
            return Some(Operator::Is(test));
        }
        let (base, path) = match name.strip_suffix("Path") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let (ty, rel) = [
            ("Boolean", OperandType::Boolean),
            ("Numeric", OperandType::Numeric),
            ("String", OperandType::String),
            ("Timestamp", OperandType::Timestamp),
        ]
        .into_iter()
        .find_map(|(prefix, ty)| base.strip_prefix(prefix).map(|rel| (ty, rel)))?;
        let op = match rel {
            "Equals" => CmpOp::Equals,
            "LessThan" => CmpOp::LessThan,
            "GreaterThan" => CmpOp::GreaterThan,
            "LessThanEquals" => CmpOp::LessThanEquals,
            "GreaterThanEquals" => CmpOp::GreaterThanEquals,
            _ => return None,
        };
        if ty == OperandType::Boolean && op != CmpOp::Equals {
            return None;
        }
        Some(Operator::Compare { ty, op, path })
    }
}

impl ChoiceRule {
    /// Parses a top-level rule (an element of `Choices`, which must have `Next`); `pointer` is
    /// its JSON Pointer (e.g. "/States/C/Choices/0"). Reports every problem, each located by
    /// JSON Pointer.
    ///
    /// A rule may also carry `Comment`, `Assign` and `Output`; the last two are kept as written
    /// ([`ChoiceRule::assign`], [`ChoiceRule::output`]).
    ///
    /// # Errors
    /// Every problem found: an unknown field or operator, an operand of the wrong type, a
    /// missing `Variable` or `Next`, two conditions in one rule, `Next` in a nested rule, a
    /// `Variable` or `...Path` operand that is not a valid path.
    pub fn parse(rule: &Value, pointer: &str) -> Result<ChoiceRule, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let condition = parse_condition(rule, pointer, true, &mut diags);
        let mut next = None;
        if let Value::Object(map) = rule {
            match map.get("Next") {
                Some(Value::String(s)) => next = Some(s.clone()),
                Some(_) => diags.push(Diagnostic::new(
                    join(pointer, "Next"),
                    "\"Next\" must be a string",
                )),
                None => diags.push(Diagnostic::new(pointer, "a choice rule must have \"Next\"")),
            }
        }
        match (condition, next) {
            (Some(condition), Some(next)) if diags.is_empty() => {
                let (assign, output) = match rule {
                    Value::Object(map) => (map.get("Assign").cloned(), map.get("Output").cloned()),
                    _ => (None, None),
                };
                Ok(ChoiceRule {
                    uses_context: condition.uses_context(),
                    condition,
                    next,
                    assign,
                    output,
                })
            }
            _ => Err(diags),
        }
    }

    /// Parses a Choice state's whole `Choices` array; `pointer` is the array's JSON Pointer
    /// (e.g. "/States/C/Choices").
    ///
    /// # Errors
    /// Every problem in every rule, or one problem if `Choices` is not a non-empty array.
    pub fn parse_all(choices: &Value, pointer: &str) -> Result<Vec<ChoiceRule>, Vec<Diagnostic>> {
        let rules = match choices {
            Value::Array(rules) if !rules.is_empty() => rules,
            _ => {
                return Err(vec![Diagnostic::new(
                    pointer,
                    "\"Choices\" must be a non-empty array of choice rules",
                )])
            }
        };
        let mut parsed = Vec::with_capacity(rules.len());
        let mut diags = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            match ChoiceRule::parse(rule, &join(pointer, i)) {
                Ok(rule) => parsed.push(rule),
                Err(mut d) => diags.append(&mut d),
            }
        }
        if diags.is_empty() {
            Ok(parsed)
        } else {
            Err(diags)
        }
    }

    /// The name of the state this rule leads to when it matches.
    pub fn next(&self) -> &str {
        &self.next
    }

    /// True when any path in the rule reads `$$`.
    pub fn uses_context(&self) -> bool {
        self.uses_context
    }

    /// The rule's condition.
    pub fn condition(&self) -> &Condition {
        &self.condition
    }

    /// The JSONata `Condition` as written, if this is a JSONata rule.
    pub fn jsonata_condition(&self) -> Option<&Value> {
        match &self.condition {
            Condition::Jsonata(expr) => Some(expr),
            _ => None,
        }
    }

    /// The rule's `Assign` field as written, applied by the engine when the rule matches.
    pub fn assign(&self) -> Option<&Value> {
        self.assign.as_ref()
    }

    /// The rule's `Output` field (JSONata) as written, applied by the engine when the rule
    /// matches.
    pub fn output(&self) -> Option<&Value> {
        self.output.as_ref()
    }

    /// Evaluates the condition against the state input (scope.input) and context object.
    ///
    /// # Errors
    /// `States.Runtime` when a `Variable` (other than under `IsPresent`) or a `...Path` operand
    /// names nothing in the input, or when the rule is a JSONata `Condition` other than a literal
    /// boolean (the engine evaluates those).
    pub fn matches(&self, scope: &Scope<'_>) -> Result<bool, StatesError> {
        self.condition.matches(scope)
    }
}

impl Condition {
    /// Evaluates the condition against the state input (scope.input) and context object.
    ///
    /// # Errors
    /// As [`ChoiceRule::matches`].
    pub fn matches(&self, scope: &Scope<'_>) -> Result<bool, StatesError> {
        match self {
            Condition::And(rules) => {
                for rule in rules {
                    if !rule.matches(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(rules) => {
                for rule in rules {
                    if rule.matches(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(rule) => Ok(!rule.matches(scope)?),
            Condition::Test(test) => test.matches(scope),
            Condition::Jsonata(Value::Bool(b)) => Ok(*b),
            Condition::Jsonata(_) => Err(StatesError::runtime(
                "a JSONata Condition must be evaluated by the JSONata engine",
            )),
        }
    }

    /// True when any path in the condition reads `$$`.
    pub fn uses_context(&self) -> bool {
        match self {
            Condition::And(rules) | Condition::Or(rules) => rules.iter().any(Self::uses_context),
            Condition::Not(rule) => rule.uses_context(),
            Condition::Test(test) => test.uses_context(),
            Condition::Jsonata(_) => false,
        }
    }
}

impl DataTest {
    /// The path of the value under test.
    pub fn variable(&self) -> &Path {
        &self.variable
    }

    /// True when `Variable` or the `...Path` operand reads `$$`.
    pub fn uses_context(&self) -> bool {
        let operand = match &self.comparison {
            Comparison::Boolean(Operand::Path(p))
            | Comparison::Numeric(_, Operand::Path(p))
            | Comparison::String(_, Operand::Path(p))
            | Comparison::Timestamp(_, Operand::Path(p)) => Some(p),
            _ => None,
        };
        self.variable.root() == Root::Context || operand.is_some_and(|p| p.root() == Root::Context)
    }

    /// Evaluates the test against the state input and context object.
    ///
    /// # Errors
    /// As [`ChoiceRule::matches`].
    pub fn matches(&self, scope: &Scope<'_>) -> Result<bool, StatesError> {
        let Some(value) = resolve(&self.variable, scope) else {
            return match self.comparison {
                Comparison::Is(TypeTest::Present, expected) => Ok(!expected),
                _ => Err(invalid_path(&self.variable)),
            };
        };
        let value: &Value = &value;
        Ok(match &self.comparison {
            Comparison::Is(test, expected) => {
                let is = match test {
                    TypeTest::Present => true,
                    TypeTest::Null => value.is_null(),
                    TypeTest::Numeric => value.is_number(),
                    TypeTest::String => value.is_string(),
                    TypeTest::Boolean => value.is_boolean(),
                    TypeTest::Timestamp => value.as_str().and_then(Timestamp::parse).is_some(),
                };
                is == *expected
            }
            Comparison::Boolean(operand) => {
                let held;
                let expected = match operand {
                    Operand::Literal(b) => Some(*b),
                    Operand::Path(p) => {
                        held = resolve_operand(p, scope)?;
                        held.as_bool()
                    }
                };
                matches!((value.as_bool(), expected), (Some(a), Some(b)) if a == b)
            }
            Comparison::Numeric(op, operand) => {
                let held;
                let rhs = match operand {
                    Operand::Literal(n) => Some(n),
                    Operand::Path(p) => {
                        held = resolve_operand(p, scope)?;
                        match &*held {
                            Value::Number(n) => Some(n),
                            _ => None,
                        }
                    }
                };
                match (value, rhs) {
                    (Value::Number(lhs), Some(rhs)) => {
                        compare_numbers(lhs, rhs).is_some_and(|ord| op.holds(ord))
                    }
                    _ => false,
                }
            }
            Comparison::String(op, operand) => {
                let held;
                let rhs = match operand {
                    Operand::Literal(s) => Some(&**s),
                    Operand::Path(p) => {
                        held = resolve_operand(p, scope)?;
                        held.as_str()
                    }
                };
                match (value, rhs) {
                    (Value::String(lhs), Some(rhs)) => match op {
                        CmpOp::Equals => lhs == rhs,
                        _ => op.holds(compare_utf16(lhs, rhs)),
                    },
                    _ => false,
                }
            }
            Comparison::Timestamp(op, operand) => {
                let rhs = match operand {
                    Operand::Literal(t) => Some(*t),
                    Operand::Path(p) => resolve_operand(p, scope)?
                        .as_str()
                        .and_then(Timestamp::parse),
                };
                match (value.as_str().and_then(Timestamp::parse), rhs) {
                    (Some(lhs), Some(rhs)) => op.holds(lhs.cmp(&rhs)),
                    _ => false,
                }
            }
            Comparison::Matches(pattern) => value.as_str().is_some_and(|s| pattern.matches(s)),
        })
    }
}

/// The value `path` names, borrowed from the scope when the path is a reference path.
fn resolve<'v>(path: &Path, scope: &Scope<'v>) -> Option<Cow<'v, Value>> {
    if path.is_reference() {
        path.lookup(scope).map(Cow::Borrowed)
    } else {
        path.eval(scope).ok().map(Cow::Owned)
    }
}

/// The value a `...Path` operand names; naming nothing fails the execution.
fn resolve_operand<'v>(path: &Path, scope: &Scope<'v>) -> Result<Cow<'v, Value>, StatesError> {
    resolve(path, scope).ok_or_else(|| invalid_path(path))
}

/// The `States.Runtime` error of a condition path that names nothing. The engine prefixes the
/// cause with the state name and event id, as it does for every state failure.
fn invalid_path(path: &Path) -> StatesError {
    StatesError::runtime(format!(
        "Invalid path '{path}': The choice state's condition path references an invalid value."
    ))
}

/// Compares two JSON numbers by value: integers exactly, anything involving a fraction as
/// `f64`.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    // One is a u64 above i64::MAX and the other a negative i64.
    if a.is_u64() && b.is_i64() {
        return Some(Ordering::Greater);
    }
    if a.is_i64() && b.is_u64() {
        return Some(Ordering::Less);
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Orders strings as Java's `String.compareTo` does: by UTF-16 code units.
fn compare_utf16(a: &str, b: &str) -> Ordering {
    // UTF-8 byte order equals code point order, which differs from UTF-16 order only between
    // a supplementary character and one in U+E000..=U+FFFF; ASCII never needs the slow path.
    if a.is_ascii() || b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A `StringMatches` pattern, split at its unescaped `*` wildcards.
///
/// Spec: "The wildcard character is escaped by using the standard \\ (Ex: "\\*"). No characters
/// other than "*" have any special meaning during matching."
#[derive(Debug, Clone)]
struct Pattern {
    /// The literal text between wildcards; one more than the number of wildcards.
    parts: Vec<String>,
}

impl Pattern {
    fn compile(src: &str) -> Pattern {
        let mut parts = vec![String::new()];
        let mut chars = src.chars();
        while let Some(c) = chars.next() {
            match c {
                // A backslash takes the next character literally; a trailing one is literal.
                '\\' => {
                    let literal = chars.next().unwrap_or('\\');
                    if let Some(last) = parts.last_mut() {
                        last.push(literal);
                    }
                }
                '*' => parts.push(String::new()),
                c => {
                    if let Some(last) = parts.last_mut() {
                        last.push(c);
                    }
                }
            }
        }
        Pattern { parts }
    }

    fn matches(&self, s: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(split) => split,
            None => return s.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        if s.len() < first.len() + last.len() || !s.starts_with(first.as_str()) {
            return false;
        }
        if !s.ends_with(last.as_str()) {
            return false;
        }
        // Leftmost matching of each middle part is optimal when `*` is the only wildcard.
        let mut hay = &s[first.len()..s.len() - last.len()];
        for part in middle {
            match hay.find(part.as_str()) {
                Some(at) => hay = &hay[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// An instant parsed from a timestamp string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    secs: i64,
    nanos: u32,
}

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

impl Timestamp {
    /// Parses a timestamp as Java's `DateTimeFormatter.ISO_OFFSET_DATE_TIME` does, which is
    /// what Step Functions uses ("The TimestampPath parameter does not reference a valid
    /// ISO-8601 extended offset date-time format string"): `yyyy-MM-ddTHH:mm[:ss[.f]]` then
    /// `Z` or `+HH[:mm[:ss]]`, where `T` and `Z` may be lowercase, seconds are optional, the
    /// fraction has up to nine digits, and the date and time must exist (strict resolution:
    /// no February 30, no hour 24, no leap second).
    fn parse(s: &str) -> Option<Timestamp> {
        let mut c = Cursor {
            b: s.as_bytes(),
            i: 0,
        };
        let year = c.digits(4)?;
        c.byte(b'-')?;
        let month = c.digits(2)?;
        c.byte(b'-')?;
        let day = c.digits(2)?;
        c.byte_ignore_case(b'T')?;
        let hour = c.digits(2)?;
        c.byte(b':')?;
        let minute = c.digits(2)?;
        let (mut second, mut nanos) = (0, 0);
        if c.byte(b':').is_some() {
            second = c.digits(2)?;
            if c.byte(b'.').is_some() {
                nanos = c.fraction();
            }
        }
        let offset = c.offset()?;
        if c.i != c.b.len() || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
        let days = i64::from(date.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE;
        let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Some(Timestamp {
            secs: local - offset,
            nanos,
        })
    }
}

/// A byte cursor for [`Timestamp::parse`].
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + n)?;
        let mut value = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(d - b'0');
        }
        self.i += n;
        Some(value)
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&want)).then(|| self.i += 1)
    }

    fn byte_ignore_case(&mut self, want: u8) -> Option<()> {
        let got = self.b.get(self.i)?;
        got.eq_ignore_ascii_case(&want).then(|| self.i += 1)
    }

    /// Zero to nine digits after the decimal point, as nanoseconds (Java accepts a bare `.`).
    fn fraction(&mut self) -> u32 {
        let mut nanos = 0;
        let mut scale = 100_000_000;
        while scale > 0 {
            match self.b.get(self.i) {
                Some(d) if d.is_ascii_digit() => {
                    nanos += u32::from(d - b'0') * scale;
                    scale /= 10;
                    self.i += 1;
                }
                _ => break,
            }
        }
        nanos
    }

    /// `Z`, or `+HH`, `+HH:mm`, `+HH:mm:ss` (or `-`), at most 18 hours; in seconds east of
    /// UTC.
    fn offset(&mut self) -> Option<i64> {
        if self.byte_ignore_case(b'Z').is_some() {
            return Some(0);
        }
        let sign = match self.b.get(self.i)? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.i += 1;
        let hours = self.digits(2)?;
        let mut minutes = 0;
        let mut seconds = 0;
        if let Some(m) = self.colon_pair() {
            minutes = m;
            if let Some(s) = self.colon_pair() {
                seconds = s;
            }
        }
        let total = hours * 3600 + minutes * 60 + seconds;
        if hours > 23 || total > 18 * 3600 {
            return None;
        }
        Some(sign * i64::from(total))
    }

    /// `:` and two digits up to 59, consumed only if all are there.
    fn colon_pair(&mut self) -> Option<u32> {
        let start = self.i;
        let pair = self
            .byte(b':')
            .and_then(|()| self.digits(2))
            .filter(|v| *v <= 59);
        if pair.is_none() {
            self.i = start;
        }
        pair
    }
}

/// Parses one rule, top-level or nested, pushing every problem onto `diags`.
fn parse_condition(
    rule: &Value,
    pointer: &str,
    top: bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<Condition> {
    let Value::Object(map) = rule else {
        diags.push(Diagnostic::new(pointer, "a choice rule must be an object"));
        return None;
    };
    let before = diags.len();
    let mut variable: Option<(Option<Path>, String)> = None;
    let mut found: Option<(&str, &Value)> = None;
    for (key, value) in map {
        let at = join(pointer, key);
        match key.as_str() {
            "Comment" => {
                if !value.is_string() {
                    diags.push(Diagnostic::new(at, "\"Comment\" must be a string"));
                }
            }
            "Next" | "Assign" | "Output" => {
                if !top {
                    diags.push(Diagnostic::new(
                        at,
                        format!("\"{key}\" is only allowed in a top-level choice rule"),
                    ));
                }
            }
            "Variable" => {
                let path = parse_path(value, &at, "Variable", diags);
                variable = Some((path, at));
            }
            "And" | "Or" | "Not" | "Condition" => found = record(found, key, value, &at, diags),
            _ if Operator::from_name(key).is_some() => {
                found = record(found, key, value, &at, diags)
            }
            _ => diags.push(Diagnostic::new(
                at,
                format!("unknown field \"{key}\" in a choice rule"),
            )),
        }
    }
    let Some((key, value)) = found else {
        diags.push(Diagnostic::new(
            pointer,
            "a choice rule needs a comparison operator, \"And\", \"Or\", \"Not\" or \"Condition\"",
        ));
        return None;
    };
    let at = join(pointer, key);
    let condition = match key {
        "And" | "Or" | "Not" | "Condition" => {
            if let Some((_, variable_at)) = &variable {
                diags.push(Diagnostic::new(
                    variable_at.as_str(),
                    format!("\"Variable\" is not allowed with \"{key}\""),
                ));
            }
            match key {
                "And" | "Or" => parse_list(key, value, &at, diags).map(|rules| {
                    if key == "And" {
                        Condition::And(rules)
                    } else {
                        Condition::Or(rules)
                    }
                }),
                "Not" => parse_condition(value, &at, false, diags)
                    .map(|rule| Condition::Not(Box::new(rule))),
                _ => parse_jsonata(value, &at, top, diags),
            }
        }
        _ => {
            let operator = Operator::from_name(key)?;
            let comparison = parse_comparison(operator, key, value, &at, diags);
            match variable {
                Some((path, _)) => path.zip(comparison).map(|(variable, comparison)| {
                    Condition::Test(DataTest {
                        variable,
                        comparison,
                    })
                }),
                None => {
                    diags.push(Diagnostic::new(
                        pointer,
                        format!("\"{key}\" needs \"Variable\""),
                    ));
                    None
                }
            }
        }
    };
    condition.filter(|_| diags.len() == before)
}

/// Notes the condition field `key`, or reports it as a second condition.
fn record<'m>(
    found: Option<(&'m str, &'m Value)>,
    key: &'m str,
    value: &'m Value,
    at: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<(&'m str, &'m Value)> {
    match found {
        None => Some((key, value)),
        Some((first, _)) => {
            diags.push(Diagnostic::new(
                at,
                format!(
                    "a choice rule has one condition, but \"{first}\" and \"{key}\" are both here"
                ),
            ));
            found
        }
    }
}

/// Parses the rules of `And` or `Or`.
fn parse_list(
    key: &str,
    value: &Value,
    at: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<Condition>> {
    let rules = match value {
        Value::Array(rules) if !rules.is_empty() => rules,
        _ => {
            diags.push(Diagnostic::new(
                at,
                format!("\"{key}\" must be a non-empty array of choice rules"),
            ));
            return None;
        }
    };
    let parsed: Vec<Option<Condition>> = rules
        .iter()
        .enumerate()
        .map(|(i, rule)| parse_condition(rule, &join(at, i), false, diags))
        .collect();
    parsed.into_iter().collect()
}

/// Keeps a JSONata `Condition` for the engine.
fn parse_jsonata(
    value: &Value,
    at: &str,
    top: bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<Condition> {
    if !top {
        diags.push(Diagnostic::new(
            at,
            "\"Condition\" is only allowed in a top-level choice rule",
        ));
        return None;
    }
    match value {
        Value::String(_) | Value::Bool(_) => Some(Condition::Jsonata(value.clone())),
        _ => {
            diags.push(Diagnostic::new(
                at,
                "\"Condition\" must be a JSONata expression string or a boolean",
            ));
            None
        }
    }
}

/// Compiles a path field (`Variable` or a `...Path` operand).
fn parse_path(value: &Value, at: &str, key: &str, diags: &mut Vec<Diagnostic>) -> Option<Path> {
    let Value::String(src) = value else {
        diags.push(Diagnostic::new(
            at,
            format!("\"{key}\" must be a string holding a path"),
        ));
        return None;
    };
    match Path::parse(src) {
        Ok(path) => Some(path),
        Err(e) => {
            diags.push(Diagnostic::new(
                at,
                format!("\"{key}\" is not a valid path: {e}"),
            ));
            None
        }
    }
}

/// Compiles the operand of a comparison operator.
fn parse_comparison(
    operator: Operator,
    key: &str,
    value: &Value,
    at: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Comparison> {
    let mut wrong_type = |expected: &str| {
        diags.push(Diagnostic::new(at, format!("\"{key}\" must be {expected}")));
        None
    };
    match operator {
        Operator::Is(test) => match value {
            Value::Bool(b) => Some(Comparison::Is(test, *b)),
            _ => wrong_type("a boolean"),
        },
        Operator::Matches => match value {
            Value::String(s) => Some(Comparison::Matches(Pattern::compile(s))),
            _ => wrong_type("a string"),
        },
        Operator::Compare { ty, op, path: true } => {
            let path = parse_path(value, at, key, diags)?;
            Some(match ty {
                OperandType::Boolean => Comparison::Boolean(Operand::Path(path)),
                OperandType::Numeric => Comparison::Numeric(op, Operand::Path(path)),
                OperandType::String => Comparison::String(op, Operand::Path(path)),
                OperandType::Timestamp => Comparison::Timestamp(op, Operand::Path(path)),
            })
        }
        Operator::Compare {
            ty,
            op,
            path: false,
        } => match (ty, value) {
            (OperandType::Boolean, Value::Bool(b)) => {
                Some(Comparison::Boolean(Operand::Literal(*b)))
            }
            (OperandType::Boolean, _) => wrong_type("a boolean"),
            (OperandType::Numeric, Value::Number(n)) => {
                Some(Comparison::Numeric(op, Operand::Literal(n.clone())))
            }
            (OperandType::Numeric, _) => wrong_type("a number"),
            (OperandType::String, Value::String(s)) => {
                Some(Comparison::String(op, Operand::Literal(s.as_str().into())))
            }
            (OperandType::String, _) => wrong_type("a string"),
            (OperandType::Timestamp, Value::String(s)) => match Timestamp::parse(s) {
                Some(t) => Some(Comparison::Timestamp(op, Operand::Literal(t))),
                None => wrong_type(&format!(
                    "an ISO-8601 timestamp such as \"2016-03-14T01:59:00Z\", not {s:?}"
                )),
            },
            (OperandType::Timestamp, _) => wrong_type("a timestamp string"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> ChoiceRule {
        ChoiceRule::parse(&v, "/States/C/Choices/0").expect("valid rule")
    }

    fn errors(v: Value) -> Vec<String> {
        ChoiceRule::parse(&v, "/States/C/Choices/0")
            .expect_err("invalid rule")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn eval(r: &ChoiceRule, input: Value) -> Result<bool, StatesError> {
        let ctx = json!({"Execution": {"Name": "run-1"}});
        r.matches(&Scope::new(&input, &ctx))
    }

    fn test(op: &str, operand: Value, variable: Value) -> bool {
        let mut r = serde_json::Map::new();
        r.insert("Variable".into(), json!("$.v"));
        r.insert(op.into(), operand);
        r.insert("Next".into(), json!("X"));
        eval(&rule(Value::Object(r)), json!({ "v": variable })).expect("no runtime error")
    }

    fn ts(s: &str) -> Option<Timestamp> {
        Timestamp::parse(s)
    }

    #[test]
    fn string_matches_honours_escaped_star() {
        // JSON "log-\\*.txt" is the pattern log-\*.txt: a literal star.
        assert!(test(
            "StringMatches",
            json!("log-\\*.txt"),
            json!("log-*.txt")
        ));
        assert!(!test(
            "StringMatches",
            json!("log-\\*.txt"),
            json!("log-1.txt")
        ));
    }

    #[test]
    fn string_matches_honours_escaped_backslash() {
        assert!(test("StringMatches", json!("a\\\\*"), json!("a\\bc")));
        assert!(!test("StringMatches", json!("a\\\\*"), json!("abc")));
    }

    #[test]
    fn string_matches_wildcards_match_any_run_of_characters() {
        assert!(test("StringMatches", json!("*.log"), json!("app.log")));
        assert!(test("StringMatches", json!("*.log"), json!(".log")));
        assert!(test("StringMatches", json!("a*b*c"), json!("a-b-b-c")));
        assert!(test("StringMatches", json!("*"), json!("")));
        assert!(!test("StringMatches", json!("ab*ba"), json!("aba")));
        assert!(test("StringMatches", json!("ab*ba"), json!("abba")));
        assert!(test("StringMatches", json!("é*ü"), json!("éxü")));
        assert!(!test("StringMatches", json!("log"), json!("logs")));
        assert!(!test("StringMatches", json!("*"), json!(1)));
    }

    #[test]
    fn missing_variable_fails_the_execution_with_runtime_error() {
        let r = rule(json!({"Variable": "$.type", "StringEquals": "Private", "Next": "X"}));
        let err = eval(&r, json!({"value": 1})).expect_err("missing variable");
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause.as_deref(),
            Some("Invalid path '$.type': The choice state's condition path references an invalid value.")
        );
        let is_null = rule(json!({"Variable": "$.type", "IsNull": true, "Next": "X"}));
        assert!(eval(&is_null, json!({})).expect_err("missing").is_runtime());
    }

    #[test]
    fn is_present_is_false_for_a_missing_variable() {
        let present = rule(json!({"Variable": "$.a.b", "IsPresent": true, "Next": "X"}));
        assert_eq!(eval(&present, json!({"a": 1})), Ok(false));
        assert_eq!(eval(&present, json!({"a": {"b": null}})), Ok(true));
        let absent = rule(json!({"Not": {"Variable": "$.a", "IsPresent": true}, "Next": "X"}));
        assert_eq!(eval(&absent, json!({})), Ok(true));
        let r = rule(json!({"Variable": "$.a", "IsPresent": false, "Next": "X"}));
        assert_eq!(eval(&r, json!({})), Ok(true));
    }

    #[test]
    fn missing_path_operand_fails_the_execution_with_runtime_error() {
        let r = rule(json!({"Variable": "$.left", "NumericLessThanPath": "$.right", "Next": "X"}));
        let err = eval(&r, json!({"left": 8})).expect_err("missing operand");
        assert_eq!(
            err.to_string(),
            "States.Runtime: Invalid path '$.right': The choice state's condition path references an invalid value."
        );
        // Even when the variable has the wrong type.
        assert!(eval(&r, json!({"left": "8"})).is_err());
        assert_eq!(eval(&r, json!({"left": 8, "right": "9"})), Ok(false));
        assert_eq!(eval(&r, json!({"left": 8, "right": 9})), Ok(true));
    }

    #[test]
    fn numeric_comparison_is_by_value_across_ints_and_floats() {
        assert!(test("NumericEquals", json!(1), json!(1.0)));
        assert!(test("NumericEquals", json!(1.0), json!(1)));
        assert!(test("NumericEquals", json!(2.22), json!(2.22)));
        assert!(test("NumericLessThan", json!(1.5), json!(1)));
        assert!(test("NumericGreaterThanEquals", json!(-3), json!(-3.0)));
        assert!(!test(
            "NumericEquals",
            json!(9_007_199_254_740_993_i64),
            json!(9_007_199_254_740_992_i64)
        ));
        assert!(test("NumericGreaterThan", json!(-1), json!(u64::MAX)));
        assert!(test(
            "NumericLessThanEquals",
            json!(u64::MAX),
            json!(i64::MIN)
        ));
    }

    #[test]
    fn type_mismatches_are_false_not_errors() {
        assert!(!test("NumericEquals", json!(0), json!("0")));
        assert!(!test("NumericEquals", json!(1), json!(true)));
        assert!(!test("StringEquals", json!("1"), json!(1)));
        assert!(!test("BooleanEquals", json!(false), json!(0)));
        assert!(!test("BooleanEquals", json!(true), json!(null)));
        assert!(!test(
            "TimestampEquals",
            json!("2012-10-09T19:00:55Z"),
            json!(0)
        ));
        assert!(!test(
            "TimestampLessThan",
            json!("2012-10-09T19:00:55Z"),
            json!("yesterday")
        ));
        assert!(!test("StringLessThan", json!("b"), json!(["a"])));
    }

    #[test]
    fn string_order_follows_utf16_code_units() {
        assert!(test("StringLessThan", json!("AB"), json!("A")));
        assert!(test("StringLessThan", json!("a"), json!("B")));
        assert!(!test("StringLessThan", json!("B"), json!("a")));
        assert!(!test("StringGreaterThan", json!("A "), json!("A")));
        assert!(test("StringGreaterThanEquals", json!(""), json!("")));
        // U+FF61 > U+1F600 in UTF-16 (0xFF61 > 0xD83D), though not by code point.
        assert!(test(
            "StringGreaterThan",
            json!("\u{1F600}"),
            json!("\u{FF61}")
        ));
        assert_eq!(compare_utf16("\u{FF61}", "\u{1F600}"), Ordering::Greater);
        assert_eq!(compare_utf16("abc", "abd"), Ordering::Less);
    }

    #[test]
    fn timestamps_compare_as_instants_across_offsets_and_fractions() {
        assert!(test(
            "TimestampEquals",
            json!("2012-10-09T18:00:55Z"),
            json!("2012-10-09T19:00:55+01:00")
        ));
        assert!(test(
            "TimestampGreaterThan",
            json!("2012-10-09T19:00:55Z"),
            json!("2012-10-09T19:00:55.5Z")
        ));
        assert!(test(
            "TimestampLessThan",
            json!("2012-10-09T19:00:55.000000001Z"),
            json!("2012-10-09T19:00:55Z")
        ));
        assert!(test(
            "TimestampEquals",
            json!("2012-10-09T19:00:55.5Z"),
            json!("2012-10-09T19:00:55.500Z")
        ));
        assert!(test(
            "TimestampLessThanEquals",
            json!("2012-10-10T00:00:00Z"),
            json!("2012-10-09T23:59:59-00:00")
        ));
        assert!(!test(
            "TimestampEquals",
            json!("2012-10-09T19:00:55Z"),
            json!("2012-10-09T19:00:55")
        ));
    }

    #[test]
    fn timestamps_parse_as_java_iso_offset_date_time() {
        assert_eq!(
            ts("1970-01-01T00:00:00Z"),
            Some(Timestamp { secs: 0, nanos: 0 })
        );
        assert_eq!(
            ts("1970-01-01T01:00:00+01:00"),
            Some(Timestamp { secs: 0, nanos: 0 })
        );
        assert_eq!(
            ts("2016-03-05T21:29:29.243167252Z"),
            Some(Timestamp {
                secs: 1_457_213_369,
                nanos: 243_167_252
            })
        );
        assert_eq!(ts("2016-03-14t01:59:00z"), ts("2016-03-14T01:59:00Z"));
        assert_eq!(ts("2016-03-14T01:59Z"), ts("2016-03-14T01:59:00Z"));
        assert_eq!(ts("2016-03-14T02:59:00+01"), ts("2016-03-14T01:59:00Z"));
        assert_eq!(
            ts("2016-03-14T02:59:30+01:00:30"),
            ts("2016-03-14T01:59:00Z")
        );
        assert!(ts("2024-02-29T00:00:00Z").is_some());
        assert!(ts("2023-02-29T00:00:00Z").is_none());
        assert!(ts("2016-12-05T25:29:29Z").is_none());
        assert!(ts("2016-12-05T24:00:00Z").is_none());
        assert!(ts("2016-12-31T23:59:60Z").is_none());
        assert!(ts("2016-12-05 21:29:29Z").is_none());
        assert!(ts("2016-12-05T21:29:29").is_none());
        assert!(ts("2016-12-05T21:29:29.1234567890Z").is_none());
        assert!(ts("2016-12-05T21:29:29+19:00").is_none());
        assert!(ts("2016-12-05T21:29:29+0100").is_none());
        assert!(ts("2016-12-05T21:29:29+01:").is_none());
        assert!(ts("2016-12-05").is_none());
        assert!(ts("16-12-05T21:29:29Z").is_none());
        assert!(ts("2016-1-05T21:29:29Z").is_none());
        assert!(ts("2016-12-05T21:29:29Zjunk").is_none());
        assert!(ts("２016-12-05T21:29:29Z").is_none());
    }

    #[test]
    fn is_operators_test_the_json_type() {
        assert!(test("IsNumeric", json!(true), json!(0.0)));
        assert!(test("IsNumeric", json!(false), json!("1")));
        assert!(test("IsString", json!(true), json!("")));
        assert!(test("IsBoolean", json!(true), json!(false)));
        assert!(test("IsNull", json!(true), json!(null)));
        assert!(test("IsNull", json!(false), json!([])));
        assert!(test(
            "IsTimestamp",
            json!(true),
            json!("2012-10-09T19:00:55+01:00")
        ));
        assert!(test(
            "IsTimestamp",
            json!(false),
            json!("2012-10-09T19:00:55")
        ));
        assert!(test("IsTimestamp", json!(false), json!(1_349_809_255)));
    }

    #[test]
    fn boolean_operators_nest_to_any_depth() {
        let r = rule(json!({
            "Or": [
                {"Variable": "$.n", "NumericEquals": 0},
                {"And": [
                    {"Variable": "$.n", "NumericGreaterThanEquals": 20},
                    {"Not": {"Not": {"Variable": "$.n", "NumericLessThan": 30}}}
                ]}
            ],
            "Next": "X"
        }));
        assert_eq!(eval(&r, json!({"n": 0})), Ok(true));
        assert_eq!(eval(&r, json!({"n": 22})), Ok(true));
        assert_eq!(eval(&r, json!({"n": 30})), Ok(false));
        assert_eq!(eval(&r, json!({"n": 5})), Ok(false));
    }

    #[test]
    fn and_stops_at_the_first_false_rule() {
        let r = rule(json!({
            "And": [{"Variable": "$.a", "IsPresent": true}, {"Variable": "$.a", "BooleanEquals": true}],
            "Next": "X"
        }));
        assert_eq!(eval(&r, json!({})), Ok(false));
        assert_eq!(eval(&r, json!({"a": true})), Ok(true));
    }

    #[test]
    fn path_operands_compare_against_the_input() {
        let r = rule(json!({"Variable": "$.a", "StringEqualsPath": "$.b", "Next": "X"}));
        assert_eq!(eval(&r, json!({"a": "x", "b": "x"})), Ok(true));
        let r = rule(json!({"Variable": "$.a", "BooleanEqualsPath": "$.b", "Next": "X"}));
        assert_eq!(eval(&r, json!({"a": true, "b": true})), Ok(true));
        assert_eq!(eval(&r, json!({"a": true, "b": "true"})), Ok(false));
        let r = rule(json!({"Variable": "$.a", "TimestampLessThanPath": "$.b", "Next": "X"}));
        assert_eq!(
            eval(
                &r,
                json!({"a": "2012-10-09T19:00:55Z", "b": "2012-10-09T19:00:56Z"})
            ),
            Ok(true)
        );
        let r = rule(
            json!({"Variable": "$$.Execution.Name", "StringEqualsPath": "$.name", "Next": "X"}),
        );
        assert_eq!(eval(&r, json!({"name": "run-1"})), Ok(true));
    }

    #[test]
    fn uses_context_is_true_when_any_path_reads_the_context_object() {
        let r = rule(json!({"Variable": "$.a", "IsPresent": true, "Next": "X"}));
        assert!(!r.uses_context());
        let r = rule(
            json!({"Not": {"Variable": "$.a", "StringEqualsPath": "$$.Execution.Name"}, "Next": "X"}),
        );
        assert!(r.uses_context());
        let r =
            rule(json!({"And": [{"Variable": "$$.State.Name", "IsString": true}], "Next": "X"}));
        assert!(r.uses_context());
    }

    #[test]
    fn jsonata_condition_is_kept_for_the_engine() {
        let r = rule(
            json!({"Condition": "{% $states.input.ok %}", "Next": "X", "Assign": {"a": 1}, "Output": "out"}),
        );
        assert_eq!(
            r.jsonata_condition(),
            Some(&json!("{% $states.input.ok %}"))
        );
        assert_eq!(r.assign(), Some(&json!({"a": 1})));
        assert_eq!(r.output(), Some(&json!("out")));
        assert!(eval(&r, json!({}))
            .expect_err("engine evaluates JSONata")
            .is_runtime());
        let constant = rule(json!({"Condition": true, "Next": "X"}));
        assert_eq!(eval(&constant, json!({})), Ok(true));
    }

    #[test]
    fn every_problem_is_reported_with_its_pointer() {
        assert_eq!(
            errors(json!({"Variable": "$.a", "NumericEqual": 1, "Next": "X"})),
            [
                "/States/C/Choices/0/NumericEqual: unknown field \"NumericEqual\" in a choice rule",
                "/States/C/Choices/0: a choice rule needs a comparison operator, \"And\", \"Or\", \"Not\" or \"Condition\"",
            ]
        );
        assert_eq!(
            errors(json!({"Variable": "$.a", "NumericEquals": "1", "StringEquals": "1", "Next": "X"})),
            [
                "/States/C/Choices/0/StringEquals: a choice rule has one condition, but \"NumericEquals\" and \"StringEquals\" are both here",
                "/States/C/Choices/0/NumericEquals: \"NumericEquals\" must be a number",
            ]
        );
        assert_eq!(
            errors(json!({"StringEquals": "x"})),
            [
                "/States/C/Choices/0: \"StringEquals\" needs \"Variable\"",
                "/States/C/Choices/0: a choice rule must have \"Next\"",
            ]
        );
        assert_eq!(
            errors(json!({"And": [{"Variable": "$.a", "IsNull": true, "Next": "Y"}, {"Variable": "a.b", "IsNull": "yes"}], "Next": "X"})),
            [
                "/States/C/Choices/0/And/0/Next: \"Next\" is only allowed in a top-level choice rule",
                "/States/C/Choices/0/And/1/Variable: \"Variable\" is not a valid path: invalid JSONPath \"a.b\": a path must start with '$'",
                "/States/C/Choices/0/And/1/IsNull: \"IsNull\" must be a boolean",
            ]
        );
        assert_eq!(
            errors(json!({"Variable": "$.a", "Not": {"Variable": "$.t", "TimestampEqualsPath": 3}, "Next": 1})),
            [
                "/States/C/Choices/0/Variable: \"Variable\" is not allowed with \"Not\"",
                "/States/C/Choices/0/Not/TimestampEqualsPath: \"TimestampEqualsPath\" must be a string holding a path",
                "/States/C/Choices/0/Next: \"Next\" must be a string",
            ]
        );
        assert_eq!(
            errors(json!({"Variable": "$.t", "TimestampEquals": "2016-03-14 01:59:00Z", "Next": "X"})),
            ["/States/C/Choices/0/TimestampEquals: \"TimestampEquals\" must be an ISO-8601 timestamp such as \"2016-03-14T01:59:00Z\", not \"2016-03-14 01:59:00Z\""]
        );
        assert_eq!(
            errors(json!({"Or": [], "Next": "X"})),
            ["/States/C/Choices/0/Or: \"Or\" must be a non-empty array of choice rules"]
        );
        assert_eq!(
            errors(json!({"Not": {"Condition": "{% true %}"}, "Next": "X"})),
            ["/States/C/Choices/0/Not/Condition: \"Condition\" is only allowed in a top-level choice rule"]
        );
        assert_eq!(
            errors(json!("rule")),
            ["/States/C/Choices/0: a choice rule must be an object"]
        );
        assert_eq!(
            ChoiceRule::parse_all(&json!([]), "/States/C/Choices")
                .expect_err("empty")
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["/States/C/Choices: \"Choices\" must be a non-empty array of choice rules"]
        );
    }

    /// The result of a tiny walk through a case's machine.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Succeeded(Value),
        Failed(Option<String>, Option<String>),
    }

    /// Runs a machine of Choice, Pass (with or without `Result`), Succeed and Fail states;
    /// `None` when it uses anything else.
    fn walk(definition: &Value, input: Value) -> Option<Outcome> {
        let states = definition.get("States")?;
        let mut name = definition.get("StartAt")?.as_str()?.to_string();
        let mut input = input;
        let context = json!({});
        for _ in 0..100 {
            let state = states.get(&name)?;
            let next = match state.get("Type")?.as_str()? {
                "Choice" => {
                    let pointer = format!("/States/{name}/Choices");
                    let rules = ChoiceRule::parse_all(state.get("Choices")?, &pointer)
                        .unwrap_or_else(|d| panic!("{pointer}: {d:?}"));
                    let mut chosen = None;
                    for rule in &rules {
                        match rule.matches(&Scope::new(&input, &context)) {
                            Ok(true) => {
                                chosen = Some(rule.next().to_string());
                                break;
                            }
                            Ok(false) => {}
                            Err(e) => return Some(Outcome::Failed(Some(e.error), e.cause)),
                        }
                    }
                    match chosen.or_else(|| state.get("Default")?.as_str().map(String::from)) {
                        Some(next) => next,
                        None => {
                            return Some(Outcome::Failed(
                                Some(crate::asl::error::NO_CHOICE_MATCHED.into()),
                                None,
                            ))
                        }
                    }
                }
                "Pass" => {
                    if let Some(result) = state.get("Result") {
                        input = result.clone();
                    }
                    if state.get("End") == Some(&json!(true)) {
                        return Some(Outcome::Succeeded(input));
                    }
                    state.get("Next")?.as_str()?.to_string()
                }
                "Succeed" => return Some(Outcome::Succeeded(input)),
                "Fail" => {
                    let field = |k: &str| state.get(k).and_then(Value::as_str).map(String::from);
                    return Some(Outcome::Failed(field("Error"), field("Cause")));
                }
                _ => return None,
            };
            name = next;
        }
        None
    }

    fn is_jsonata(definition: &Value) -> bool {
        let jsonata = |v: &Value| v.get("QueryLanguage") == Some(&json!("JSONata"));
        let states = definition.get("States").and_then(Value::as_object);
        jsonata(definition)
            || states.is_some_and(|states| {
                states.values().any(|s| {
                    jsonata(s)
                        || s.get("Choices")
                            .and_then(Value::as_array)
                            .is_some_and(|rules| rules.iter().any(|r| r.get("Condition").is_some()))
                })
            })
    }

    fn cases() -> Vec<(String, Value)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/cases");
        let mut cases: Vec<(String, Value)> = std::fs::read_dir(dir)
            .expect("cases directory")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| {
                let name = p
                    .file_name()
                    .expect("file name")
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&p).expect("readable case");
                (name, serde_json::from_str(&text).expect("case is JSON"))
            })
            .collect();
        cases.sort_by(|a, b| a.0.cmp(&b.0));
        cases
    }

    #[test]
    fn recorded_choice_cases_take_the_recorded_branch() {
        let (mut checked, mut passed, mut skipped) = (0, 0, 0);
        let mut failures = Vec::new();
        for (name, case) in cases().iter().filter(|(n, _)| n.starts_with("choice-")) {
            let definition = &case["definition"];
            if is_jsonata(definition) {
                skipped += 1;
                continue;
            }
            let Some(outcome) = walk(definition, case["input"].clone()) else {
                failures.push(format!("{name}: the test walker cannot run this machine"));
                continue;
            };
            checked += 1;
            let expect = &case["expect"];
            let ok = match (&outcome, expect["status"].as_str()) {
                (Outcome::Succeeded(output), Some("SUCCEEDED")) => *output == expect["output"],
                (Outcome::Failed(error, cause), Some("FAILED")) => {
                    error.as_deref() == expect["error"].as_str()
                        && expect
                            .get("cause")
                            .is_none_or(|c| cause.as_deref() == c.as_str())
                }
                _ => false,
            };
            if ok {
                passed += 1;
            } else {
                failures.push(format!("{name}: got {outcome:?}, expected {expect}"));
            }
        }
        println!("choice cases: {checked} checked, {passed} passed, {skipped} skipped (JSONata)");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(checked > 300, "only {checked} choice cases checked");
    }

    #[test]
    fn every_choice_rule_in_the_recorded_cases_parses() {
        fn visit(states: &Value, at: &str, count: &mut usize) {
            let Some(states) = states.as_object() else {
                return;
            };
            for (name, state) in states {
                let at = join(&join(at, "States"), name);
                if let Some(choices) = state.get("Choices") {
                    let rules = ChoiceRule::parse_all(choices, &join(&at, "Choices"))
                        .unwrap_or_else(|d| panic!("{d:?}"));
                    *count += rules.len();
                }
                for (i, b) in state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    visit(&b["States"], &join(&join(&at, "Branches"), i), count);
                }
                for key in ["Iterator", "ItemProcessor"] {
                    if let Some(p) = state.get(key) {
                        visit(&p["States"], &join(&at, key), count);
                    }
                }
            }
        }
        let mut count = 0;
        for (_, case) in cases() {
            visit(&case["definition"]["States"], "", &mut count);
        }
        assert!(count > 330, "only {count} rules parsed");
    }
}
