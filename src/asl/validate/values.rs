//! Checks of single field values: JSONata surrounds and syntax, paths, intrinsic calls and
//! resource ARNs.

use super::*;

/// The states a state can transition to: `Next`, `Default`, its Choice rules' and catchers'
/// `Next`.
pub(super) fn transitions(state: &Map<String, Value>) -> Vec<&str> {
    let mut targets = Vec::new();
    for key in ["Next", "Default"] {
        if let Some(Value::String(next)) = state.get(key) {
            targets.push(next.as_str());
        }
    }
    for key in ["Choices", "Catch"] {
        if let Some(Value::Array(items)) = state.get(key) {
            for item in items {
                if let Some(Value::String(next)) = item.get("Next") {
                    targets.push(next.as_str());
                }
            }
        }
    }
    targets
}

/// True when `s` is written as a JSONata expression (`{% ... %}`).
pub(super) fn is_expression(s: &str) -> bool {
    s.starts_with("{%") && s.ends_with("%}")
}

/// Checks a string of a JSONata state. A string is a JSONata expression when it starts with
/// `{%` or ends with `%}`; anything else is a constant.
pub(super) fn check_jsonata(s: &str) -> Result<(), String> {
    let opens = s.starts_with("{%");
    let closes = s.ends_with("%}");
    if !opens && !closes {
        return Ok(());
    }
    // The surround as AWS takes it: `{%`, an expression, `%}`; AWS does not need the spaces
    // inside the delimiters that asl-validator asks for (`{%$x %}` and `{% $x%}` run on AWS).
    let surrounded = opens && closes && s.len() >= 4 && !s[2..s.len() - 2].trim().is_empty();
    if !surrounded {
        return Err(format!(
            "malformed JSONata expression {}: write it as \"{{% <expression> %}}\"",
            quote(s)
        ));
    }
    if s.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
        return Err(format!(
            "malformed JSONata expression {}: it must be on one line",
            quote(s)
        ));
    }
    let inner = &s[2..s.len() - 2];
    crate::asl::jsonata::syntax::check(inner).map_err(|e| {
        format!(
            "invalid JSONata expression {}: {} (at character {})",
            quote(s),
            e.message,
            e.position + 2
        )
    })
}

/// Checks a path field or a payload template's `.$` value.
pub(super) fn check_path(s: &str, rule: PathRule) -> Result<(), String> {
    let on_input = s == "$" || s.starts_with("$.") || s.starts_with("$[");
    if rule == PathRule::Result && (s.starts_with("$$") || !on_input) {
        return Err(format!(
            "invalid ResultPath {}: it must be a reference path starting with \"$\"",
            quote(s)
        ));
    }
    // A variable reference: `$name` and an optional path into its value.
    let path = match s.strip_prefix('$') {
        Some(rest) if rest.starts_with(|c: char| c.is_alphabetic() || c == '_') => {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            format!("${}", &rest[end..])
        }
        _ => s.to_string(),
    };
    let parsed = Path::parse(&path)
        .map_err(|e| format!("invalid path {}: {}", quote(s), condense(&e.reason)))?;
    match rule {
        PathRule::Any => Ok(()),
        PathRule::Result if !parsed.is_reference() => Err(format!(
            "invalid ResultPath {}: it must name one place (names and indexes only)",
            quote(s)
        )),
        PathRule::Result => Ok(()),
        PathRule::Reference => match parsed.reference_violation() {
            Some(why) => Err(format!(
                "invalid reference path {}: {why} in a reference path",
                quote(s)
            )),
            None => Ok(()),
        },
    }
}

/// Checks an intrinsic function call.
pub(super) fn check_intrinsic(s: &str) -> Result<(), String> {
    // Variables (`$name`) are valid arguments; the parser knows only `$` and `$$` paths, so
    // each is checked as the path `$` plus whatever follows the name.
    let masked = mask_variables(s);
    if let Err(e) = Intrinsic::parse(&masked) {
        return Err(format!(
            "invalid intrinsic function call {}: {}",
            quote(s),
            condense(&e.reason)
        ));
    }
    math_add_arguments(s)
}

/// `s` with every variable reference outside string literals (`$name`) reduced to `$`.
pub(super) fn mask_variables(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        out.push(c);
        if in_string {
            if c == '\\' {
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                }
            } else if c == '\'' {
                in_string = false;
            }
        } else if c == '\'' {
            in_string = true;
        } else if c == '$' && chars.peek().is_some_and(|n| n.is_alphabetic() || *n == '_') {
            while chars
                .peek()
                .is_some_and(|n| n.is_alphanumeric() || *n == '_')
            {
                chars.next();
            }
        }
    }
    out
}

/// A parser's message as a clause of ours: its first line, lowercased.
pub(super) fn condense(reason: &str) -> String {
    lowercase_first(reason.lines().next().unwrap_or_default())
}

/// Step Functions rejects, when the definition is created, a `States.MathAdd` argument that is
/// a string, boolean or null literal (its arguments must be numbers, paths or calls).
pub(super) fn math_add_arguments(s: &str) -> Result<(), String> {
    const NAME: &str = "States.MathAdd(";
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            if c == '\\' {
                i += 1;
            } else if c == '\'' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if c == '\'' {
            in_string = true;
            i += 1;
            continue;
        }
        if chars[i..].starts_with(&NAME.chars().collect::<Vec<_>>()) {
            i += NAME.chars().count();
            for arg in top_level_arguments(&chars[i..]) {
                let arg = arg.trim();
                if arg.starts_with('\'') || matches!(arg, "true" | "false" | "null") {
                    return Err(format!(
                        "invalid intrinsic function call {}: the arguments of States.MathAdd must be numbers, paths or function calls, not {arg}",
                        quote(s)
                    ));
                }
            }
            continue;
        }
        i += 1;
    }
    Ok(())
}

/// The comma-separated arguments after a call's `(`, up to its `)`.
pub(super) fn top_level_arguments(chars: &[char]) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &c in chars {
        if in_string {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '\'' {
                in_string = false;
            }
            continue;
        }
        match c {
            '\'' => {
                in_string = true;
                current.push(c);
            }
            '(' | '[' => {
                depth += 1;
                current.push(c);
            }
            ')' | ']' if depth > 0 => {
                depth -= 1;
                current.push(c);
            }
            ')' => break,
            ',' if depth == 0 => args.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    args.push(current);
    args
}

/// Checks a resource ARN: `arn:partition:service:region:account:resource`, and for a Lambda
/// function `function:name` with an optional version or alias.
pub(super) fn check_arn(s: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err("not an ARN (arn:partition:service:region:account:resource)");
    };
    let word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if arn != "arn" || !word(partition) || !partition.starts_with("aws") {
        return Err("not an ARN (arn:partition:service:region:account:resource)");
    }
    if !word(service) || !(region.is_empty() || word(region)) {
        return Err("not an ARN (arn:partition:service:region:account:resource)");
    }
    if !account.chars().all(|c| c.is_ascii_digit()) {
        return Err("the account of an ARN must be digits");
    }
    if resource.is_empty()
        || resource.starts_with([':', '/'])
        || resource.ends_with([':', '/'])
        || resource.contains(char::is_whitespace)
    {
        return Err("the resource part of the ARN is malformed");
    }
    if service == "lambda" {
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let mut segments = resource.split(':');
        let ok = match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some("function"), Some(name), None, None) => name_ok(name),
            (Some("function"), Some(name), Some(qualifier), None) => {
                name_ok(name) && (qualifier == "$LATEST" || name_ok(qualifier))
            }
            _ => false,
        };
        if !ok {
            return Err(
                "not a Lambda function ARN (function:name with an optional version or alias)",
            );
        }
    }
    Ok(())
}
