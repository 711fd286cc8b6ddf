//! Filter expressions (`[?( ... )]`) as Jayway JsonPath compiles and evaluates them.
//!
//! `@` is the item being filtered, `$` the whole document. Comparisons follow Jayway: `==`
//! compares a string and a number by their text, `<` and friends compare two numbers or two
//! strings and are false otherwise, `!=` is true when a side is missing, a path alone tests
//! that the path exists. Step Functions adds that `@` matches objects only (an array of
//! scalars is never matched), and that a bare word is a string (`@.category==home`).

use std::borrow::Cow;
use std::cmp::Ordering;

use regex::Regex;
use serde_json::Value;

use super::eval;
use super::syntax::{self, Segment};

/// A compiled filter.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// A path alone: true when it finds something (`!@.x`: when it does not).
    Exists {
        path: Operand,
        present: bool,
    },
    Compare {
        left: Operand,
        op: Op,
        right: Operand,
    },
}

/// One side of a comparison.
#[derive(Debug, Clone)]
pub(super) enum Operand {
    /// `@...`: a path from the item.
    Current(Vec<Segment>),
    /// `$...`: a path from the document.
    Root(Vec<Segment>),
    /// A literal value.
    Literal(Value),
    /// `/pattern/flags`, anchored as Java's `matches()` is.
    Pattern(Regex),
}

impl PartialEq for Operand {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Operand::Current(a), Operand::Current(b)) | (Operand::Root(a), Operand::Root(b)) => {
                a == b
            }
            (Operand::Literal(a), Operand::Literal(b)) => a == b,
            (Operand::Pattern(a), Operand::Pattern(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// The relational operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    StrictEq,
    StrictNe,
    Lt,
    Le,
    Gt,
    Ge,
    Matches,
    In,
    Nin,
    SubsetOf,
    AnyOf,
    NoneOf,
    Contains,
    All,
    Size,
    Empty,
    Exists,
}

impl Op {
    fn named(s: &str) -> Option<Op> {
        Some(match s {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "===" => Op::StrictEq,
            "!==" => Op::StrictNe,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "=~" => Op::Matches,
            "in" => Op::In,
            "nin" => Op::Nin,
            "subsetof" => Op::SubsetOf,
            "anyof" => Op::AnyOf,
            "noneof" => Op::NoneOf,
            "contains" => Op::Contains,
            "all" => Op::All,
            "size" => Op::Size,
            "empty" => Op::Empty,
            "exists" => Op::Exists,
            _ => return None,
        })
    }
}

/// Deepest nesting of a filter: parentheses, `!`, and filters inside a filter's paths, all
/// counted together. The parser recurses once per level, and a path may be as long as a
/// definition (1 MiB), so without a bound `$[?((((...@.a))))]` overflows the thread's stack.
pub(super) const MAX_FILTER_NESTING: usize = 100;

thread_local! {
    /// Levels of filter nesting the parser is inside on this thread (filters nest through the
    /// paths of their operands, which compile with a parser of their own).
    static NESTING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One level of filter nesting, given back on drop.
struct Level;

impl Level {
    fn enter(src: &str, pos: usize) -> Result<Level, String> {
        let depth = NESTING.with(|n| n.get()) + 1;
        if depth > MAX_FILTER_NESTING {
            return Err(format!(
                "Failed to parse filter: {src}, error on position: {pos}, \
                 nested more than {MAX_FILTER_NESTING} levels deep"
            ));
        }
        NESTING.with(|n| n.set(depth));
        Ok(Level)
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        NESTING.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Parses the inside of `[?( ... )]` (without the outer parentheses).
pub(super) fn parse(src: &str) -> Result<Expr, String> {
    let _level = Level::enter(src, 0)?;
    let mut p = Parser { src, pos: 0 };
    let expr = p.or()?;
    p.blanks();
    if p.pos < src.len() {
        return Err(format!(
            "Expected end of filter expression instead of: {}",
            &src[p.pos..]
        ));
    }
    Ok(expr)
}

struct Parser<'s> {
    src: &'s str,
    pos: usize,
}

impl<'s> Parser<'s> {
    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn blanks(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.blanks();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn fail(&self, what: &str) -> String {
        format!(
            "Failed to parse filter: {}, error on position: {}, {what}",
            self.src, self.pos
        )
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut ops = vec![self.and()?];
        while self.eat("||") {
            ops.push(self.and()?);
        }
        Ok(if ops.len() == 1 {
            ops.remove(0)
        } else {
            Expr::Or(ops)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut ops = vec![self.unary()?];
        while self.eat("&&") {
            ops.push(self.unary()?);
        }
        Ok(if ops.len() == 1 {
            ops.remove(0)
        } else {
            Expr::And(ops)
        })
    }

    fn unary(&mut self) -> Result<Expr, String> {
        let _level = Level::enter(self.src, self.pos)?;
        self.blanks();
        let rest = self.rest();
        if let Some(after) = rest.strip_prefix('!') {
            let after = after.trim_start();
            if !after.starts_with(['@', '$']) && !after.starts_with('=') {
                self.pos += 1;
                return Ok(Expr::Not(Box::new(self.unary()?)));
            }
        }
        if rest.starts_with('(') {
            self.pos += 1;
            let inner = self.or()?;
            if !self.eat(")") {
                return Err(self.fail("expected ')'"));
            }
            return Ok(inner);
        }
        self.relation()
    }

    fn relation(&mut self) -> Result<Expr, String> {
        self.blanks();
        let negated = self.rest().starts_with('!');
        if negated {
            self.pos += 1;
            self.blanks();
        }
        let left = self.operand()?;
        let save = self.pos;
        if let Some(op) = self.operator() {
            let right = self.operand()?;
            if negated {
                return Err(self.fail("'!' applies to a path only"));
            }
            return Ok(Expr::Compare { left, op, right });
        }
        self.pos = save;
        match left {
            Operand::Current(_) | Operand::Root(_) => Ok(Expr::Exists {
                path: left,
                present: !negated,
            }),
            _ => Err(self.fail("a literal alone is not a condition")),
        }
    }

    fn operator(&mut self) -> Option<Op> {
        self.blanks();
        let rest = self.rest();
        let symbolic = rest
            .find(|c: char| !matches!(c, '<' | '>' | '=' | '~' | '!'))
            .unwrap_or(rest.len());
        let token = if symbolic > 0 {
            &rest[..symbolic]
        } else {
            let end = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            &rest[..end]
        };
        let op = Op::named(token)?;
        self.pos += token.len();
        Some(op)
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.blanks();
        let rest = self.rest();
        let Some(first) = rest.chars().next() else {
            return Err(self.fail("expected a value"));
        };
        match first {
            '@' | '$' => {
                let len = path_len(rest);
                let text = &rest[..len];
                let segments = syntax::compile(&text[1..])
                    .map_err(|e| self.fail(&format!("invalid path {text}: {e}")))?;
                self.pos += len;
                Ok(if first == '@' {
                    Operand::Current(segments)
                } else {
                    Operand::Root(segments)
                })
            }
            '\'' | '"' => {
                let (s, len) =
                    syntax::unquote(rest, first).ok_or_else(|| self.fail("unclosed string"))?;
                self.pos += len;
                Ok(Operand::Literal(Value::String(s)))
            }
            '{' | '[' => {
                let (value, len) =
                    json_literal(rest).ok_or_else(|| self.fail("invalid JSON literal"))?;
                self.pos += len;
                Ok(Operand::Literal(value))
            }
            '/' => {
                let body = &rest[1..];
                let mut end = None;
                let mut escaped = false;
                for (i, c) in body.char_indices() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '/' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or_else(|| self.fail("pattern not closed"))?;
                let pattern = &body[..end];
                let flags_len = body[end + 1..]
                    .find(|c: char| !matches!(c, 'i' | 'm' | 's' | 'x' | 'u' | 'd'))
                    .unwrap_or(body.len() - end - 1);
                let flags: String = body[end + 1..end + 1 + flags_len]
                    .chars()
                    .filter(|c| matches!(c, 'i' | 'm' | 's' | 'x'))
                    .collect();
                let anchored = if flags.is_empty() {
                    format!("^(?:{pattern})$")
                } else {
                    format!("(?{flags})^(?:{pattern})$")
                };
                let regex = Regex::new(&anchored)
                    .map_err(|e| self.fail(&format!("invalid pattern /{pattern}/: {e}")))?;
                self.pos += 1 + end + 1 + flags_len;
                Ok(Operand::Pattern(regex))
            }
            _ => {
                let len = rest
                    .find(|c: char| {
                        c.is_whitespace()
                            || matches!(c, ')' | '&' | '|' | '<' | '>' | '=' | '!' | '~')
                    })
                    .unwrap_or(rest.len());
                let word = &rest[..len];
                if word.is_empty() {
                    return Err(self.fail("expected a value"));
                }
                self.pos += len;
                Ok(Operand::Literal(match word {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => match serde_json::from_str::<serde_json::Number>(word) {
                        Ok(n) => Value::Number(n),
                        Err(_) => Value::String(word.to_string()),
                    },
                }))
            }
        }
    }
}

/// A JSON array or object at the start of `s`, read as Jayway's JSON parser reads it:
/// single-quoted strings are strings. Returns the value and the bytes it took.
fn json_literal(s: &str) -> Option<(Value, usize)> {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(c) = s[i..].chars().next() {
        if c == '"' || c == '\'' {
            let (text, len) = syntax::unquote(&s[i..], c)?;
            out.push_str(&serde_json::to_string(&text).ok()?);
            i += len;
            continue;
        }
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth = depth.checked_sub(1)?,
            _ => {}
        }
        out.push(c);
        i += c.len_utf8();
        if depth == 0 && matches!(c, ']' | '}') {
            return serde_json::from_str(&out).ok().map(|v| (v, i));
        }
    }
    None
}

/// The length of the path at the start of `s`: brackets are skipped whole, a `()` after a
/// name belongs to the path; it ends at a space, an operator, `&`, `|` or an unmatched `)`.
fn path_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => {
                let mut depth = 0usize;
                let mut quote = None;
                let mut escaped = false;
                while i < bytes.len() {
                    let b = bytes[i];
                    if let Some(q) = quote {
                        if escaped {
                            escaped = false;
                        } else if b == b'\\' {
                            escaped = true;
                        } else if b == q {
                            quote = None;
                        }
                    } else if b == b'\'' || b == b'"' {
                        quote = Some(b);
                    } else if b == b'[' {
                        depth += 1;
                    } else if b == b']' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            b'(' if bytes.get(i + 1) == Some(&b')') => i += 2,
            b' ' | b'\t' | b'\n' | b'\r' | b')' | b'&' | b'|' | b'<' | b'>' | b'=' | b'!'
            | b'~' => break,
            _ => i += 1,
        }
    }
    i.min(s.len())
}

/// What an operand evaluated to.
enum Val<'v> {
    Missing,
    Json(Cow<'v, Value>),
    Pattern(&'v Regex),
}

impl Expr {
    /// Why this filter cannot stand in a reference path, as AWS documents it: lexical
    /// operators (`in`, `subsetof`, ...), regular expressions and comparisons with another
    /// value of the document are not supported there.
    pub(super) fn reference_violation(&self) -> Option<&'static str> {
        match self {
            Expr::Or(ops) | Expr::And(ops) => ops.iter().find_map(Expr::reference_violation),
            Expr::Not(e) => e.reference_violation(),
            Expr::Exists { path, .. } => operand_violation(path),
            Expr::Compare { left, op, right } => {
                if matches!(op, Op::Matches) {
                    return Some("filtering by regular expression is not supported");
                }
                if !matches!(
                    op,
                    Op::Eq
                        | Op::Ne
                        | Op::StrictEq
                        | Op::StrictNe
                        | Op::Lt
                        | Op::Le
                        | Op::Gt
                        | Op::Ge
                ) {
                    return Some("lexical operators such as subsetof are not supported");
                }
                let is_path = |o: &Operand| matches!(o, Operand::Current(_) | Operand::Root(_));
                if is_path(left) && is_path(right) {
                    return Some("filtering by referencing another value is not supported");
                }
                operand_violation(left).or_else(|| operand_violation(right))
            }
        }
    }

    /// True when `item` passes the filter; `root` is the document `$` names.
    pub(super) fn accepts(&self, item: &Value, root: &Value) -> bool {
        if !item.is_object() {
            return false;
        }
        self.test(item, root)
    }

    fn test(&self, item: &Value, root: &Value) -> bool {
        match self {
            Expr::Or(ops) => ops.iter().any(|e| e.test(item, root)),
            Expr::And(ops) => ops.iter().all(|e| e.test(item, root)),
            Expr::Not(e) => !e.test(item, root),
            Expr::Exists { path, present } => {
                matches!(value_of(path, item, root), Val::Json(_)) == *present
            }
            Expr::Compare { left, op, right } => {
                let l = value_of(left, item, root);
                let r = value_of(right, item, root);
                compare(&l, *op, &r)
            }
        }
    }
}

fn operand_violation(o: &Operand) -> Option<&'static str> {
    match o {
        Operand::Root(_) => Some("filtering by referencing another value is not supported"),
        Operand::Current(segs) if segs.iter().any(|s| matches!(s, Segment::Function(_))) => {
            Some("functions such as length() are not supported")
        }
        _ => None,
    }
}

fn value_of<'v>(operand: &'v Operand, item: &'v Value, root: &'v Value) -> Val<'v> {
    let (segments, doc) = match operand {
        Operand::Current(s) => (s, item),
        Operand::Root(s) => (s, root),
        Operand::Literal(v) => return Val::Json(Cow::Borrowed(v)),
        Operand::Pattern(r) => return Val::Pattern(r),
    };
    match eval::quiet(segments, doc, root) {
        Some(v) => Val::Json(v),
        None => Val::Missing,
    }
}

fn compare(l: &Val<'_>, op: Op, r: &Val<'_>) -> bool {
    match op {
        Op::Eq => equal(l, r),
        Op::Ne => !equal(l, r),
        Op::StrictEq => same_kind(l, r) && equal(l, r),
        Op::StrictNe => !(same_kind(l, r) && equal(l, r)),
        Op::Lt => order(l, r) == Some(Ordering::Less),
        Op::Le => matches!(order(l, r), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => order(l, r) == Some(Ordering::Greater),
        Op::Ge => matches!(order(l, r), Some(Ordering::Greater | Ordering::Equal)),
        Op::Matches => match (l, r) {
            (Val::Pattern(p), v) | (v, Val::Pattern(p)) => match v {
                Val::Json(v) => match &**v {
                    Value::Array(items) => items.iter().any(|i| p.is_match(&regex_input(i))),
                    other => p.is_match(&regex_input(other)),
                },
                _ => p.is_match(""),
            },
            _ => false,
        },
        Op::In => list(r).is_some_and(|items| items.iter().any(|i| equal(l, &json(i)))),
        Op::Nin => !list(r).is_some_and(|items| items.iter().any(|i| equal(l, &json(i)))),
        Op::SubsetOf => match (list(l), list(r)) {
            (Some(a), Some(b)) => a.iter().all(|x| b.iter().any(|y| values_equal(x, y))),
            _ => false,
        },
        Op::AnyOf => match (list(l), list(r)) {
            (Some(a), Some(b)) => a.iter().any(|x| b.iter().any(|y| values_equal(x, y))),
            _ => false,
        },
        Op::NoneOf => match (list(l), list(r)) {
            (Some(a), Some(b)) => !a.iter().any(|x| b.iter().any(|y| values_equal(x, y))),
            _ => false,
        },
        Op::Contains => match (l, r) {
            (Val::Json(a), Val::Json(b)) => match (&**a, &**b) {
                (Value::String(a), Value::String(b)) => a.contains(b.as_str()),
                (Value::Array(items), _) => items.iter().any(|i| equal(&json(i), r)),
                _ => false,
            },
            _ => false,
        },
        Op::All => match (list(l), list(r)) {
            (Some(a), Some(b)) => b.iter().all(|y| a.iter().any(|x| values_equal(x, y))),
            _ => false,
        },
        Op::Size => {
            let Val::Json(n) = r else { return false };
            let Some(n) = n.as_f64() else { return false };
            let size = match l {
                Val::Json(v) => match &**v {
                    Value::String(s) => s.chars().count(),
                    Value::Array(a) => a.len(),
                    Value::Object(o) => o.len(),
                    _ => return false,
                },
                _ => return false,
            };
            size as f64 == n.trunc()
        }
        Op::Empty => {
            let Val::Json(b) = r else { return false };
            let Some(want) = b.as_bool() else {
                return false;
            };
            match l {
                Val::Json(v) => match &**v {
                    Value::String(s) => s.is_empty() == want,
                    Value::Array(a) => a.is_empty() == want,
                    Value::Object(o) => o.is_empty() == want,
                    _ => false,
                },
                _ => false,
            }
        }
        Op::Exists => {
            let Val::Json(b) = r else { return false };
            b.as_bool() == Some(matches!(l, Val::Json(_)))
        }
    }
}

fn json<'v>(v: &'v Value) -> Val<'v> {
    Val::Json(Cow::Borrowed(v))
}

fn list<'a>(v: &'a Val<'_>) -> Option<&'a Vec<Value>> {
    match v {
        Val::Json(v) => v.as_array(),
        _ => None,
    }
}

fn regex_input(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn same_kind(l: &Val<'_>, r: &Val<'_>) -> bool {
    match (l, r) {
        (Val::Json(a), Val::Json(b)) => {
            std::mem::discriminant(&**a) == std::mem::discriminant(&**b)
        }
        _ => false,
    }
}

fn equal(l: &Val<'_>, r: &Val<'_>) -> bool {
    match (l, r) {
        (Val::Json(a), Val::Json(b)) => values_equal(a, b),
        _ => false,
    }
}

/// Jayway's equality: numbers by value, a string and a number by their text, objects and
/// arrays deeply.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y) == Some(Ordering::Equal),
        (Value::String(s), Value::Number(n)) => *s == n.to_string(),
        (Value::Number(n), Value::String(s)) => s
            .parse::<f64>()
            .ok()
            .zip(n.as_f64())
            .is_some_and(|(x, y)| x == y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn order(l: &Val<'_>, r: &Val<'_>) -> Option<Ordering> {
    let (Val::Json(a), Val::Json(b)) = (l, r) else {
        return None;
    };
    match (&**a, &**b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn num_cmp(x: &serde_json::Number, y: &serde_json::Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return Some(a.cmp(&b));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}
