//! Evaluation of compiled paths as Jayway JsonPath evaluates them, with its errors.
//!
//! A path is *definite* when every segment names one node (a name, an index, a union of
//! names that ends the path, a script index); it yields its one match or fails with
//! Jayway's message. Any other path yields the list of its matches. Errors are raised only
//! while everything before the failing segment is definite, as Jayway does: in
//! `$.items[*].id` a missing `id` is skipped, in `$.a.b` a missing `a` is "Missing property
//! in path $['a']".

use std::borrow::Cow;
use std::fmt::Write;

use serde_json::{Map, Value};

use super::syntax::{Function, Segment};
use crate::asl::java::java_text;

/// The Java class Jayway's Jackson provider would report for `v`.
fn java_class(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => "java.lang.Integer",
            Some(_) => "java.lang.Long",
            None if n.is_u64() => "java.math.BigInteger",
            None => "java.lang.Double",
        },
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.LinkedHashMap",
    }
}

/// One segment as Jayway prints it in messages.
fn fragment(seg: &Segment, out: &mut String) {
    match seg {
        Segment::Names(names) => {
            out.push('[');
            for (i, n) in names.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\'');
                out.push_str(n);
                out.push('\'');
            }
            out.push(']');
        }
        Segment::Indexes(idx) => {
            out.push('[');
            for (i, n) in idx.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{n}");
            }
            out.push(']');
        }
        Segment::Slice { from, to } => {
            out.push('[');
            if let Some(f) = from {
                let _ = write!(out, "{f}");
            }
            out.push(':');
            if let Some(t) = to {
                let _ = write!(out, "{t}");
            }
            out.push(']');
        }
        Segment::Wildcard => out.push_str("[*]"),
        Segment::Scan => out.push_str(".."),
        Segment::Filter(_) => out.push_str("[?]"),
        Segment::FromEnd(n) => {
            let _ = match n.cmp(&0) {
                std::cmp::Ordering::Less => write!(out, "[(@.length{n})]"),
                std::cmp::Ordering::Equal => write!(out, "[(@.length)]"),
                std::cmp::Ordering::Greater => write!(out, "[(@.length+{n})]"),
            };
        }
        Segment::Function(f) => {
            let _ = write!(out, ".{}()", f.name());
        }
    }
}

/// `$` and the given segments, in Jayway's bracket notation.
pub(super) fn render(segs: &[Segment]) -> String {
    let mut out = String::from("$");
    for s in segs {
        fragment(s, &mut out);
    }
    out
}

/// Jayway's `isPathDefinite`.
pub(super) fn definite(segs: &[Segment]) -> bool {
    segs.iter()
        .enumerate()
        .all(|(i, s)| token_definite(s, i + 1 == segs.len()))
}

fn token_definite(seg: &Segment, leaf: bool) -> bool {
    match seg {
        Segment::Names(n) => n.len() == 1 || leaf,
        Segment::Indexes(i) => i.len() == 1,
        Segment::FromEnd(_) | Segment::Function(_) => true,
        Segment::Slice { .. } | Segment::Wildcard | Segment::Scan | Segment::Filter(_) => false,
    }
}

/// Every match of `segs` (which hold no function) in `doc`; `root` is what `$` names in
/// filters. With `quiet`, nothing fails: what is missing is skipped.
pub(super) fn matches<'v>(
    segs: &[Segment],
    doc: &'v Value,
    root: &'v Value,
    quiet: bool,
) -> Result<Vec<Cow<'v, Value>>, String> {
    let mut walk = Walk {
        segs,
        root,
        quiet,
        out: Vec::new(),
    };
    walk.go(0, doc, true)?;
    Ok(walk.out)
}

/// The value of `segs` in `doc` as a filter operand sees it: a definite path's match, an
/// indefinite path's list; `None` when a definite path finds nothing.
pub(super) fn quiet<'v>(
    segs: &[Segment],
    doc: &'v Value,
    root: &'v Value,
) -> Option<Cow<'v, Value>> {
    evaluate(segs, doc, root, true).ok()
}

/// A whole path: the single match of a definite path, the list of an indefinite one, a tail
/// function applied to either.
pub(super) fn evaluate<'v>(
    segs: &[Segment],
    doc: &'v Value,
    root: &'v Value,
    quiet: bool,
) -> Result<Cow<'v, Value>, String> {
    if let Some((Segment::Function(f), prefix)) = segs.split_last() {
        let input = evaluate(prefix, doc, root, quiet)?;
        return apply(*f, &input, segs).map(Cow::Owned);
    }
    // An indefinite path never fails (as Step Functions has it, unlike plain Jayway, which
    // fails `$.missing[*]`): what is missing on the way gives an empty list.
    let definite = definite(segs);
    let mut found = matches(segs, doc, root, quiet || !definite)?;
    if definite {
        if found.is_empty() {
            return Err(format!("No results for path: {}", render(segs)));
        }
        Ok(found.swap_remove(0))
    } else {
        Ok(Cow::Owned(Value::Array(
            found.into_iter().map(Cow::into_owned).collect(),
        )))
    }
}

fn apply(f: Function, input: &Value, segs: &[Segment]) -> Result<Value, String> {
    let numbers = || -> Result<Vec<f64>, String> {
        let items = match input {
            Value::Array(items) => items.iter().filter_map(Value::as_f64).collect::<Vec<_>>(),
            Value::Number(n) => n.as_f64().into_iter().collect(),
            _ => Vec::new(),
        };
        if items.is_empty() {
            return Err(
                "Aggregation function attempted to calculate value using empty array".into(),
            );
        }
        Ok(items)
    };
    let number = |x: f64| {
        serde_json::Number::from_f64(x)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    };
    Ok(match f {
        Function::Length => Value::from(match input {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            Value::String(s) => s.chars().count(),
            other => {
                return Err(format!(
                    "length operation cannot be applied to {}",
                    java_class(other)
                ))
            }
        }),
        Function::Sum => number(numbers()?.iter().sum()),
        Function::Avg => {
            let n = numbers()?;
            number(n.iter().sum::<f64>() / n.len() as f64)
        }
        Function::Min => number(numbers()?.into_iter().fold(f64::INFINITY, f64::min)),
        Function::Max => number(numbers()?.into_iter().fold(f64::NEG_INFINITY, f64::max)),
        Function::Stddev => {
            let n = numbers()?;
            let len = n.len() as f64;
            let mean = n.iter().sum::<f64>() / len;
            number((n.iter().map(|x| x * x).sum::<f64>() / len - mean * mean).sqrt())
        }
        Function::Keys => match input {
            Value::Object(o) => Value::Array(o.keys().cloned().map(Value::String).collect()),
            _ => {
                return Err(format!(
                    "Invalid path {}: keys() needs an object",
                    render(segs)
                ))
            }
        },
        Function::First | Function::Last => {
            let Value::Array(items) = input else {
                return Err(format!(
                    "Invalid path {}: {}() needs an array",
                    render(segs),
                    f.name()
                ));
            };
            let item = if f == Function::First {
                items.first()
            } else {
                items.last()
            };
            item.cloned().ok_or_else(|| {
                format!(
                    "Invalid path {}: {}() of an empty array",
                    render(segs),
                    f.name()
                )
            })?
        }
    })
}

struct Walk<'v, 'p> {
    segs: &'p [Segment],
    root: &'v Value,
    quiet: bool,
    out: Vec<Cow<'v, Value>>,
}

fn index(items: &[Value], i: i64) -> Option<&Value> {
    let idx = if i < 0 { items.len() as i64 + i } else { i };
    usize::try_from(idx).ok().and_then(|k| items.get(k))
}

impl<'v> Walk<'v, '_> {
    fn go(&mut self, i: usize, node: &'v Value, upstream: bool) -> Result<(), String> {
        let Some(seg) = self.segs.get(i) else {
            self.out.push(Cow::Borrowed(node));
            return Ok(());
        };
        let leaf = i + 1 == self.segs.len();
        let loud = upstream && !self.quiet;
        let next_up = upstream && token_definite(seg, leaf);
        match seg {
            Segment::Names(names) => {
                let Value::Object(map) = node else {
                    if loud {
                        let mut frag = String::new();
                        fragment(seg, &mut frag);
                        return Err(format!(
                            "Expected to find an object with property {frag} in path {} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonProvider'.",
                            render(&self.segs[..i]),
                            java_class(node)
                        ));
                    }
                    return Ok(());
                };
                if names.len() == 1 {
                    match super::field(map, &names[0]) {
                        Some(v) => self.go(i + 1, v, next_up),
                        None if !leaf && loud => Err(format!(
                            "Missing property in path {}",
                            render(&self.segs[..=i])
                        )),
                        None => Ok(()),
                    }
                } else if leaf {
                    let mut merged = Map::new();
                    for n in names {
                        if let Some(v) = super::field(map, n) {
                            merged.insert(n.to_string(), v.clone());
                        }
                    }
                    self.out.push(Cow::Owned(Value::Object(merged)));
                    Ok(())
                } else {
                    for n in names {
                        if let Some(v) = super::field(map, n) {
                            self.go(i + 1, v, false)?;
                        }
                    }
                    Ok(())
                }
            }
            Segment::Indexes(_) | Segment::FromEnd(_) | Segment::Slice { .. } => {
                let Value::Array(items) = node else {
                    if loud {
                        if node.is_null() {
                            return Err(format!("The path {} is null", render(&self.segs[..i])));
                        }
                        let mut text = String::new();
                        java_text(node, &mut text);
                        return Err(format!(
                            "Filter: {} can only be applied to arrays. Current context is: {text}",
                            render(&self.segs[i..]).trim_start_matches('$')
                        ));
                    }
                    return Ok(());
                };
                match seg {
                    Segment::Indexes(idx) => {
                        for &k in idx {
                            if let Some(v) = index(items, k) {
                                self.go(i + 1, v, next_up)?;
                            }
                        }
                    }
                    Segment::FromEnd(off) => {
                        if let Some(v) = index(items, items.len() as i64 + off)
                            .filter(|_| items.len() as i64 + off >= 0)
                        {
                            self.go(i + 1, v, next_up)?;
                        }
                    }
                    Segment::Slice { from, to } => {
                        let len = items.len() as i64;
                        let (start, end) = match (from, to) {
                            (Some(f), None) => ((if *f < 0 { len + f } else { *f }).max(0), len),
                            (None, Some(t)) => (0, (if *t < 0 { len + t } else { *t }).min(len)),
                            (Some(f), Some(t)) => (*f, (*t).min(len)),
                            (None, None) => (0, len),
                        };
                        let mut k = start;
                        while k < end {
                            if let Some(v) = index(items, k) {
                                self.go(i + 1, v, false)?;
                            }
                            k += 1;
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
            Segment::Wildcard => {
                match node {
                    Value::Object(map) => {
                        for v in map.values() {
                            self.go(i + 1, v, false)?;
                        }
                    }
                    Value::Array(items) => {
                        for v in items {
                            self.go(i + 1, v, false)?;
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
            Segment::Filter(expr) => match node {
                Value::Object(_) => {
                    if expr.accepts(node, self.root) {
                        self.go(i + 1, node, false)?;
                    }
                    Ok(())
                }
                Value::Array(items) => {
                    for v in items {
                        if expr.accepts(v, self.root) {
                            self.go(i + 1, v, false)?;
                        }
                    }
                    Ok(())
                }
                _ if loud => {
                    let mut text = String::new();
                    java_text(node, &mut text);
                    Err(format!(
                        "Filter: {} can not be applied to primitives. Current context is: {text}",
                        render(&self.segs[i..]).trim_start_matches('$')
                    ))
                }
                _ => Ok(()),
            },
            Segment::Scan => match self.segs.get(i + 1) {
                Some(_) => self.scan(i + 1, node),
                None => Ok(()),
            },
            Segment::Function(_) => Ok(()),
        }
    }

    /// `..` before segment `i`: every object and array at any depth that segment `i` can
    /// apply to, outermost first.
    fn scan(&mut self, i: usize, node: &'v Value) -> Result<(), String> {
        let target = &self.segs[i];
        let leaf = i + 1 == self.segs.len();
        match node {
            Value::Object(map) => {
                if self.scan_matches(target, leaf, node) {
                    self.go(i, node, false)?;
                }
                for v in map.values() {
                    self.scan(i, v)?;
                }
            }
            Value::Array(items) => {
                if self.scan_matches(target, leaf, node) {
                    if leaf {
                        self.go(i, node, false)?;
                    } else {
                        // Jayway applies what follows the target to every element.
                        for v in items {
                            self.go(i + 1, v, false)?;
                        }
                    }
                }
                for v in items {
                    self.scan(i, v)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn scan_matches(&self, target: &Segment, leaf: bool, node: &Value) -> bool {
        match target {
            Segment::Names(names) => match node {
                Value::Object(map) => {
                    (names.len() > 1 && !leaf) || names.iter().all(|n| map.contains_key(&**n))
                }
                _ => false,
            },
            Segment::Indexes(_) | Segment::Slice { .. } | Segment::FromEnd(_) => node.is_array(),
            Segment::Wildcard => true,
            Segment::Filter(expr) => expr.accepts(node, self.root),
            Segment::Scan | Segment::Function(_) => false,
        }
    }
}
