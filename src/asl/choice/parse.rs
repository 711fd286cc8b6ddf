//! Parsing Choice rules from a definition, with a diagnostic for each bad field.

use super::*;

/// Parses one rule, top-level or nested, pushing every problem onto `diags`.
pub(super) fn parse_condition(
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
pub(super) fn record<'m>(
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
pub(super) fn parse_list(
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
pub(super) fn parse_jsonata(
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
pub(super) fn parse_path(
    value: &Value,
    at: &str,
    key: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Path> {
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
pub(super) fn parse_comparison(
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
