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

mod compare;
mod parse;
#[cfg(test)]
mod tests;

use compare::*;
use parse::*;

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
