//! The variables each state reads, as DescribeStateMachine reports them in
//! `variableReferences`: for every JSONPath state (at any depth) the `$name` variables its
//! path fields (`InputPath`, `ItemsPath`, `SecondsPath`, a Choice rule's `Variable`, ...) and
//! its payload templates' `.$` values (paths and intrinsic function arguments) read, in the
//! order they first appear. Constant strings (`"bucket": "$b"`, no `.$`), `$`, `$$` and
//! JSONata states are not references, as AWS's recordings show.

use serde_json::{Map, Value};

/// State name → the variables it reads; states that read none are left out.
pub fn variable_references(definition: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let jsonata = definition.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata");
    machine(definition, jsonata, &mut out);
    out
}

/// The fields of a state that hold nested machines, not references of the state itself.
const NESTED: [&str; 3] = ["Branches", "ItemProcessor", "Iterator"];

fn machine(m: &Value, jsonata: bool, out: &mut Map<String, Value>) {
    let Some(Value::Object(states)) = m.get("States") else {
        return;
    };
    for (name, state) in states {
        let Value::Object(fields) = state else {
            continue;
        };
        let language = fields.get("QueryLanguage").and_then(Value::as_str);
        let state_jsonata = language.map_or(jsonata, |l| l == "JSONata");
        if !state_jsonata {
            let mut names = Vec::new();
            for (key, value) in fields {
                if !NESTED.contains(&key.as_str()) && key != "Result" {
                    collect(key, value, &mut names);
                }
            }
            if !names.is_empty() {
                out.insert(
                    name.clone(),
                    Value::Array(names.into_iter().map(Value::String).collect()),
                );
            }
        }
        for key in NESTED {
            match fields.get(key) {
                Some(Value::Array(branches)) => {
                    for b in branches {
                        machine(b, state_jsonata, out);
                    }
                }
                Some(nested @ Value::Object(_)) => machine(nested, state_jsonata, out),
                _ => {}
            }
        }
    }
}

/// The references of the value under `key`.
fn collect(key: &str, value: &Value, names: &mut Vec<String>) {
    match value {
        Value::String(s) if key.ends_with(".$") || key.ends_with("Path") || key == "Variable" => {
            references_in(s, names);
        }
        Value::Object(map) => {
            for (k, v) in map {
                collect(k, v, names);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(key, item, names);
            }
        }
        _ => {}
    }
}

/// The variable names `$name` in a path or an intrinsic call, outside string literals.
fn references_in(s: &str, names: &mut Vec<String>) {
    let mut chars = s.char_indices().peekable();
    let mut in_string = false;
    while let Some((i, c)) = chars.next() {
        if in_string {
            if c == '\\' {
                chars.next();
            } else if c == '\'' {
                in_string = false;
            }
            continue;
        }
        if c == '\'' {
            in_string = true;
        } else if c == '$'
            && chars
                .peek()
                .is_some_and(|(_, n)| n.is_alphabetic() || *n == '_')
        {
            let start = i + 1;
            let mut end = s.len();
            while let Some((j, n)) = chars.peek() {
                if n.is_alphanumeric() || *n == '_' {
                    chars.next();
                } else {
                    end = *j;
                    break;
                }
            }
            let name = &s[start..end];
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every definition AWS's recordings describe, with the `variableReferences` AWS returned.
    #[test]
    fn references_match_aws_recordings() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/aws-recordings/variable-references.json"
        );
        let text = std::fs::read_to_string(path).expect("tests/aws-recordings");
        let recorded: Value = serde_json::from_str(&text).expect("JSON");
        let cases = recorded["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 20);
        for case in cases {
            let mut ours = variable_references(&case["definition"]);
            // The recordings hold each list sorted.
            for list in ours.values_mut() {
                if let Value::Array(items) = list {
                    items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                }
            }
            let ours = if ours.is_empty() {
                Value::Null
            } else {
                Value::Object(ours)
            };
            assert_eq!(ours, case["variableReferences"], "{}", case["name"]);
        }
    }
}
