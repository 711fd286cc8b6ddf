//! EventBridge event patterns, for the rules that start executions on events: a pattern is a
//! JSON object whose leaves are arrays of conditions, and an event matches when every field the
//! pattern names matches one of its conditions (an array in the event matches when any of its
//! elements does). Conditions, as EventBridge documents them: exact values (strings, numbers
//! compared as numbers, booleans, null), `prefix`, `suffix` (each also with
//! `equals-ignore-case`), `anything-but` (a value, a list, a prefix, a suffix, ignoring case or
//! a wildcard), `numeric` (up to two comparisons), `exists`, `equals-ignore-case`, `wildcard`,
//! `cidr`, and `$or` at any level. Pure: parsed once, matched many times.

use std::net::IpAddr;

use serde_json::{Map, Value};

/// A pattern that is not valid, with EventBridge's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Event pattern is not valid. Reason: {0}")]
pub struct PatternError(pub String);

/// A parsed event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Every field must match.
    fields: Vec<(String, Node)>,
    /// Any of these alternatives must match too (`$or`), when present.
    or: Vec<Pattern>,
}

#[derive(Debug, Clone)]
enum Node {
    /// A nested object of the event.
    Object(Pattern),
    /// The conditions on a value: one must match.
    Conditions(Vec<Condition>),
}

#[derive(Debug, Clone)]
enum Condition {
    Exact(Value),
    Prefix { text: String, ignore_case: bool },
    Suffix { text: String, ignore_case: bool },
    EqualsIgnoreCase(String),
    Wildcard(String),
    AnythingBut(Box<Condition>),
    AnythingButAny(Vec<Value>),
    Numeric(Vec<(String, f64)>),
    Exists(bool),
    Cidr { net: IpAddr, bits: u8 },
}

fn bad(reason: impl Into<String>) -> PatternError {
    PatternError(reason.into())
}

impl Pattern {
    /// Parses a pattern from its JSON text.
    ///
    /// # Errors
    /// EventBridge's `Event pattern is not valid. Reason: ...`.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| bad(format!("Filter is not valid JSON: {e}")))?;
        match value {
            Value::Object(o) => Pattern::from_object(&o),
            _ => bad_value("Filter is not an object"),
        }
    }

    fn from_object(o: &Map<String, Value>) -> Result<Pattern, PatternError> {
        let mut fields = Vec::new();
        let mut or = Vec::new();
        for (key, value) in o {
            if key == "$or" {
                let Value::Array(alternatives) = value else {
                    return bad_value("Value of $or must be an array");
                };
                if alternatives.len() < 2 {
                    return bad_value("Value of $or must have at least 2 elements");
                }
                for a in alternatives {
                    match a {
                        Value::Object(o) => or.push(Pattern::from_object(o)?),
                        _ => return bad_value("Elements of $or must be objects"),
                    }
                }
                continue;
            }
            let node = match value {
                Value::Object(o) => Node::Object(Pattern::from_object(o)?),
                Value::Array(conditions) => Node::Conditions(
                    conditions
                        .iter()
                        .map(|c| condition(key, c))
                        .collect::<Result<_, _>>()?,
                ),
                _ => {
                    return bad_value(format!(
                        "Match value must be String, number, true, false, or null at \"{key}\""
                    ))
                }
            };
            fields.push((key.clone(), node));
        }
        Ok(Pattern { fields, or })
    }

    /// True when `event` matches.
    pub fn matches(&self, event: &Value) -> bool {
        let object = event.as_object();
        let fields_match = self.fields.iter().all(|(key, node)| {
            let value = object.and_then(|o| o.get(key));
            match node {
                Node::Object(p) => match value {
                    Some(v @ Value::Object(_)) => p.matches(v),
                    Some(Value::Array(items)) => items.iter().any(|v| p.matches(v)),
                    // Only `exists: false` below can match a missing object.
                    _ => p.matches(&Value::Null),
                },
                Node::Conditions(conditions) => conditions.iter().any(|c| c.test(value)),
            }
        });
        fields_match && (self.or.is_empty() || self.or.iter().any(|p| p.matches(event)))
    }
}

fn bad_value<T>(reason: impl Into<String>) -> Result<T, PatternError> {
    Err(bad(reason))
}

fn text_of(key: &str, what: &str, v: &Value) -> Result<String, PatternError> {
    v.as_str().map(str::to_string).ok_or_else(|| {
        bad(format!(
            "{what} match pattern must be a string at \"{key}\""
        ))
    })
}

/// `{"equals-ignore-case": "x"}` or `"x"` inside a prefix or suffix.
fn maybe_ignore_case(key: &str, what: &str, v: &Value) -> Result<(String, bool), PatternError> {
    match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("equals-ignore-case") => {
            Ok((text_of(key, what, &o["equals-ignore-case"])?, true))
        }
        _ => Ok((text_of(key, what, v)?, false)),
    }
}

fn condition(key: &str, c: &Value) -> Result<Condition, PatternError> {
    let Value::Object(o) = c else {
        return match c {
            Value::Array(_) => bad_value(format!(
                "Match value must be String, number, true, false, or null at \"{key}\""
            )),
            other => Ok(Condition::Exact(other.clone())),
        };
    };
    if o.len() != 1 {
        return bad_value(format!(
            "Only one key allowed in match expression at \"{key}\""
        ));
    }
    let (op, arg) = o.iter().next().expect("one key");
    Ok(match op.as_str() {
        "prefix" => {
            let (text, ignore_case) = maybe_ignore_case(key, "prefix", arg)?;
            Condition::Prefix { text, ignore_case }
        }
        "suffix" => {
            let (text, ignore_case) = maybe_ignore_case(key, "suffix", arg)?;
            Condition::Suffix { text, ignore_case }
        }
        "equals-ignore-case" => {
            Condition::EqualsIgnoreCase(text_of(key, "equals-ignore-case", arg)?)
        }
        "wildcard" => Condition::Wildcard(text_of(key, "wildcard", arg)?),
        "exists" => match arg {
            Value::Bool(b) => Condition::Exists(*b),
            _ => {
                return bad_value(format!(
                    "exists match pattern must be either true or false at \"{key}\""
                ))
            }
        },
        "anything-but" => match arg {
            Value::Array(values) => {
                if values.iter().any(|v| v.is_object() || v.is_array()) {
                    return bad_value(format!(
                        "Inside anything but list, start|null|boolean is not supported at \"{key}\""
                    ));
                }
                Condition::AnythingButAny(values.clone())
            }
            Value::Object(inner) => {
                let nested = condition(key, &Value::Object(inner.clone()))?;
                match nested {
                    Condition::Prefix { .. }
                    | Condition::Suffix { .. }
                    | Condition::EqualsIgnoreCase(_)
                    | Condition::Wildcard(_) => Condition::AnythingBut(Box::new(nested)),
                    _ => {
                        return bad_value(format!("Unsupported anything-but pattern at \"{key}\""))
                    }
                }
            }
            other => Condition::AnythingButAny(vec![other.clone()]),
        },
        "numeric" => {
            let Value::Array(parts) = arg else {
                return bad_value(format!("Value of numeric must be an array at \"{key}\""));
            };
            if parts.is_empty() || parts.len() % 2 != 0 || parts.len() > 4 {
                return bad_value(format!("Invalid numeric match pattern at \"{key}\""));
            }
            let mut tests = Vec::new();
            for pair in parts.chunks(2) {
                let (Some(op), Some(n)) = (pair[0].as_str(), pair[1].as_f64()) else {
                    return bad_value(format!("Invalid numeric match pattern at \"{key}\""));
                };
                if !matches!(op, "=" | "<" | "<=" | ">" | ">=") {
                    return bad_value(format!("Unrecognized numeric range operator: {op}"));
                }
                tests.push((op.to_string(), n));
            }
            Condition::Numeric(tests)
        }
        "cidr" => {
            let text = text_of(key, "cidr", arg)?;
            let (net, bits) = text
                .split_once('/')
                .and_then(|(ip, bits)| Some((ip.parse::<IpAddr>().ok()?, bits.parse::<u8>().ok()?)))
                .filter(|(ip, bits)| *bits <= if ip.is_ipv4() { 32 } else { 128 })
                .ok_or_else(|| bad(format!("Nonstandard IP address: {text}")))?;
            Condition::Cidr { net, bits }
        }
        other => return bad_value(format!("Unrecognized match type {other}")),
    })
}

impl Condition {
    /// Whether the event's value (`None`: the field is absent) satisfies this condition.
    fn test(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (Condition::Exists(want), v) => *want == v.is_some(),
            (_, None) => false,
            (c, Some(Value::Array(items))) => items.iter().any(|v| c.test_one(v)),
            (c, Some(v)) => c.test_one(v),
        }
    }

    fn test_one(&self, v: &Value) -> bool {
        match self {
            Condition::Exact(want) => same(want, v),
            Condition::Prefix { text, ignore_case } => v.as_str().is_some_and(|s| {
                if *ignore_case {
                    s.to_lowercase().starts_with(&text.to_lowercase())
                } else {
                    s.starts_with(text.as_str())
                }
            }),
            Condition::Suffix { text, ignore_case } => v.as_str().is_some_and(|s| {
                if *ignore_case {
                    s.to_lowercase().ends_with(&text.to_lowercase())
                } else {
                    s.ends_with(text.as_str())
                }
            }),
            Condition::EqualsIgnoreCase(text) => v
                .as_str()
                .is_some_and(|s| s.to_lowercase() == text.to_lowercase()),
            Condition::Wildcard(glob) => v.as_str().is_some_and(|s| wildcard(glob, s)),
            Condition::AnythingBut(inner) => !inner.test_one(v),
            Condition::AnythingButAny(values) => !values.iter().any(|w| same(w, v)),
            Condition::Numeric(tests) => v.as_f64().is_some_and(|n| {
                tests.iter().all(|(op, x)| match op.as_str() {
                    "=" => n == *x,
                    "<" => n < *x,
                    "<=" => n <= *x,
                    ">" => n > *x,
                    _ => n >= *x,
                })
            }),
            Condition::Exists(_) => true,
            Condition::Cidr { net, bits } => v
                .as_str()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_some_and(|ip| in_network(ip, *net, *bits)),
        }
    }
}

/// Equal as EventBridge compares: numbers by value, everything else exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// `*` matches any run of characters (`\*` a star itself).
fn wildcard(glob: &str, s: &str) -> bool {
    let mut parts: Vec<String> = vec![String::new()];
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if let Some(last) = parts.last_mut() {
                        last.push(n);
                    }
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
    if parts.len() == 1 {
        return s == parts[0];
    }
    let (first, rest) = parts.split_first().expect("two parts or more");
    let Some(mut tail) = s.strip_prefix(first.as_str()) else {
        return false;
    };
    let (last, middle) = rest.split_last().expect("one part after the first");
    for part in middle {
        match tail.find(part.as_str()) {
            Some(i) => tail = &tail[i + part.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last.as_str())
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "source": "com.shop.orders",
            "detail-type": "Order Placed",
            "detail": {
                "id": "order-42",
                "total": 120.5,
                "items": 3,
                "state": "created",
                "tags": ["gift", "express"],
                "file": "photos/cat.PNG",
                "ip": "10.0.3.7",
                "coupon": null
            }
        })
    }

    fn check(pattern: Value) -> bool {
        Pattern::parse(&pattern.to_string())
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .matches(&event())
    }

    #[test]
    fn exact_values_prefixes_suffixes_and_arrays() {
        assert!(check(json!({"source": ["com.shop.orders"]})));
        assert!(!check(json!({"source": ["com.shop.payments"]})));
        assert!(check(json!({"detail": {"total": [120.50], "items": [3]}})));
        assert!(
            check(json!({"detail": {"tags": ["express"]}})),
            "any element of an array"
        );
        assert!(check(json!({"source": [{"prefix": "com.shop."}]})));
        assert!(check(
            json!({"detail": {"file": [{"suffix": {"equals-ignore-case": ".png"}}]}})
        ));
        assert!(!check(json!({"detail": {"file": [{"suffix": ".png"}]}})));
        assert!(check(
            json!({"detail-type": [{"equals-ignore-case": "order placed"}]})
        ));
        assert!(check(json!({"detail": {"coupon": [null]}})));
        assert!(!check(json!({"detail": {"missing": ["x"]}})));
    }

    #[test]
    fn anything_but_numeric_exists_wildcard_cidr_and_or() {
        assert!(check(
            json!({"detail": {"state": [{"anything-but": ["cancelled", "failed"]}]}})
        ));
        assert!(!check(
            json!({"detail": {"state": [{"anything-but": "created"}]}})
        ));
        assert!(check(
            json!({"detail": {"id": [{"anything-but": {"prefix": "refund-"}}]}})
        ));
        assert!(check(
            json!({"detail": {"total": [{"numeric": [">", 100, "<=", 200]}]}})
        ));
        assert!(!check(
            json!({"detail": {"total": [{"numeric": ["<", 100]}]}})
        ));
        assert!(check(
            json!({"detail": {"id": [{"exists": true}], "gone": [{"exists": false}]}})
        ));
        assert!(!check(json!({"detail": {"id": [{"exists": false}]}})));
        assert!(check(
            json!({"detail": {"file": [{"wildcard": "photos/*.PNG"}]}})
        ));
        assert!(!check(
            json!({"detail": {"file": [{"wildcard": "videos/*"}]}})
        ));
        assert!(check(json!({"detail": {"ip": [{"cidr": "10.0.0.0/16"}]}})));
        assert!(!check(json!({"detail": {"ip": [{"cidr": "10.1.0.0/16"}]}})));
        assert!(check(json!({"$or": [
            {"source": ["nope"]},
            {"detail": {"items": [{"numeric": [">=", 3]}]}}
        ]})));
        assert!(!check(
            json!({"$or": [{"source": ["nope"]}, {"detail-type": ["nope"]}]})
        ));
    }

    #[test]
    fn bad_patterns_are_refused_with_eventbridge_s_reason() {
        for (pattern, reason) in [
            ("[1]", "Filter is not an object"),
            (
                r#"{"source": "x"}"#,
                "Match value must be String, number, true, false, or null at \"source\"",
            ),
            (
                r#"{"a": [{"numeric": ["!", 1]}]}"#,
                "Unrecognized numeric range operator: !",
            ),
            (
                r#"{"a": [{"exists": "yes"}]}"#,
                "exists match pattern must be either true or false at \"a\"",
            ),
            (
                r#"{"a": [{"sometimes": 1}]}"#,
                "Unrecognized match type sometimes",
            ),
            (
                r#"{"a": [{"cidr": "10.0.0.0/40"}]}"#,
                "Nonstandard IP address: 10.0.0.0/40",
            ),
            (
                r#"{"$or": [{"a": [1]}]}"#,
                "Value of $or must have at least 2 elements",
            ),
        ] {
            let e = Pattern::parse(pattern).expect_err(pattern);
            assert_eq!(
                e.to_string(),
                format!("Event pattern is not valid. Reason: {reason}")
            );
        }
    }
}
