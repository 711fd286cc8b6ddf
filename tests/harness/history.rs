//! Comparing an execution's history with the one AWS recorded, as
//! tests/conformance/histories/README.md says: the same event types in order, the same `id` and
//! `previousEventId`, every `*EventDetails` field equal, with the recording's wildcards and
//! LocalStack's masks, and Parallel branch events matched in any order where LocalStack
//! normalised them.

use serde_json::Value;

/// Strings that stand for generated values in every recording.
const WILDCARD_STRINGS: &[&str] = &["date", "timestamp", "snf_role_arn", "role-arn"];
/// Names LocalStack's snapshot transformers write in place of generated names (its
/// `RegexTransformer(function_name, "lambda_function_name")`): masks like `<uuid:1>`, also
/// inside a longer string (a function ARN).
const TRANSFORMER_MASKS: &[&str] = &["lambda_function_name", "lambda_function_1_name"];
/// LocalStack's mask of a Map Run ARN.
const MAP_RUN_ARN_MASK: &str = "map_run_arn";
/// Keys whose values are never compared.
const WILDCARD_KEYS: &[&str] = &["timestamp", "roleArn"];

/// A recorded history and how to compare with it.
pub(crate) struct Recorded {
    events: Vec<Value>,
    parallel_normalised: bool,
    extra_wildcards: Vec<String>,
    /// Recorded before AWS launched redrive (2023-11-15): context objects then had no
    /// `Execution.RedriveCount`, so ours is not compared.
    before_redrive: bool,
}

impl Recorded {
    /// Reads a history file's JSON.
    pub(crate) fn from_json(doc: &Value) -> Result<Recorded, String> {
        let mut events = doc["events"]
            .as_array()
            .ok_or("the history file has no `events` array")?
            .clone();
        let day = recorded_day(doc["recorded_date"].as_str().unwrap_or_default());
        if day.is_some_and(|day| day < MAP_EXIT_RELINKED) {
            relink_map_exits(&mut events);
        }
        Ok(Recorded {
            events,
            parallel_normalised: doc["parallel_normalised"].as_bool().unwrap_or(false),
            extra_wildcards: doc["extra_wildcards"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| w.as_str().map(str::to_string))
                .collect(),
            before_redrive: day.is_some_and(|day| day < (2023, 11, 15)),
        })
    }

    /// Compares `got` (events as GetExecutionHistory returns them) with the recording; the
    /// error names the first event that differs.
    pub(crate) fn compare(&self, got: &[Value]) -> Result<(), String> {
        let mut got = got.to_vec();
        if self.parallel_normalised {
            normalise_parallel(&mut got);
        }
        let want = &self.events;
        // The event types in order; a run of normalised branch events as a sorted multiset.
        let types = |events: &[Value]| -> Vec<String> {
            let mut out = Vec::new();
            let mut run: Vec<String> = Vec::new();
            for e in events {
                let t = e["type"].as_str().unwrap_or("?").to_string();
                if is_masked(e) {
                    run.push(t);
                    continue;
                }
                run.sort();
                out.append(&mut run);
                out.push(t);
            }
            run.sort();
            out.append(&mut run);
            out
        };
        if types(want) != types(&got) {
            return Err(format!(
                "event types differ:\n      got      {}\n      recorded {}",
                types(&got).join(" "),
                types(want).join(" ")
            ));
        }
        let mut i = 0;
        while i < want.len() {
            if is_masked(&want[i]) {
                // A run of normalised branch events: the same multiset, in any order.
                let end = (i..want.len())
                    .find(|&j| !is_masked(&want[j]))
                    .unwrap_or(want.len());
                let mut unused: Vec<&Value> = got[i..end].iter().collect();
                for w in &want[i..end] {
                    match unused.iter().position(|g| self.event_matches(w, g).is_ok()) {
                        Some(p) => {
                            unused.remove(p);
                        }
                        None => {
                            return Err(format!("no branch event matches recorded event {}", w))
                        }
                    }
                }
                i = end;
            } else {
                self.event_matches(&want[i], &got[i])
                    .map_err(|why| format!("event {} ({}): {why}", i + 1, want[i]["type"]))?;
                i += 1;
            }
        }
        Ok(())
    }

    fn event_matches(&self, want: &Value, got: &Value) -> Result<(), String> {
        for key in ["id", "previousEventId"] {
            if !same_number(&want[key], &got[key]) {
                return Err(format!("{key} {} where AWS has {}", got[key], want[key]));
            }
        }
        let (Some(w), Some(g)) = (want.as_object(), got.as_object()) else {
            return Err("not an object".into());
        };
        for (k, wv) in w.iter().filter(|(k, _)| k.ends_with("EventDetails")) {
            let Some(gv) = g.get(k) else {
                return Err(format!("no {k}; AWS has {wv}"));
            };
            if !self.matches(wv, gv) {
                return Err(format!("{k}\n      got      {gv}\n      recorded {wv}"));
            }
        }
        if let Some((k, gv)) = g
            .iter()
            .find(|(k, _)| k.ends_with("EventDetails") && !w.contains_key(*k))
        {
            return Err(format!("{k} {gv} where AWS has none"));
        }
        Ok(())
    }

    /// JSON equality with the wildcards; a recorded object or array stands for the JSON text
    /// AWS returned, so a string of ours is parsed before it is compared with one.
    fn matches(&self, want: &Value, got: &Value) -> bool {
        match (want, got) {
            (Value::String(w), _) if self.is_wildcard(w) => true,
            // LocalStack's mask of a Map Run ARN, which is generated.
            (Value::String(w), Value::String(g)) if w == MAP_RUN_ARN_MASK => {
                g.starts_with("arn:aws:states:") && g.contains(":mapRun:")
            }
            (Value::String(w), Value::String(g)) => masked_eq(w, g),
            (
                Value::Object(_) | Value::Array(_) | Value::Number(_) | Value::Bool(_),
                Value::String(g),
            ) => serde_json::from_str::<Value>(g).is_ok_and(|parsed| self.matches(want, &parsed)),
            (Value::Number(_), Value::Number(_)) => same_number(want, got),
            (Value::Array(w), Value::Array(g)) => {
                w.len() == g.len() && w.iter().zip(g).all(|(a, b)| self.matches(a, b))
            }
            (Value::Object(w), Value::Object(g)) => {
                let redrive_only =
                    |k: &String| self.before_redrive && k == "RedriveCount" && !w.contains_key(k);
                g.keys().filter(|k| !redrive_only(k)).count() == w.len()
                    && w.iter().all(|(k, wv)| {
                        WILDCARD_KEYS.contains(&k.as_str())
                            || g.get(k).is_some_and(|gv| self.matches(wv, gv))
                    })
            }
            _ => want == got,
        }
    }

    fn is_wildcard(&self, s: &str) -> bool {
        WILDCARD_STRINGS.contains(&s) || self.extra_wildcards.iter().any(|w| w == s)
    }
}

/// The day AWS was first recorded linking a Distributed Map's MapStateExited to its
/// MapRunStarted (2024-11-15; recordings of 2024-06-19 and before link it to MapRunSucceeded).
const MAP_EXIT_RELINKED: (u32, u32, u32) = (2024, 11, 15);

/// An older recording as AWS links it now: a MapStateExited that follows a MapRunSucceeded
/// follows the event that MapRunSucceeded follows (its MapRunStarted).
fn relink_map_exits(events: &mut [Value]) {
    let succeeded: Vec<(Value, Value)> = events
        .iter()
        .filter(|e| e["type"] == "MapRunSucceeded")
        .map(|e| (e["id"].clone(), e["previousEventId"].clone()))
        .collect();
    for e in events.iter_mut().filter(|e| e["type"] == "MapStateExited") {
        if let Some((_, before)) = succeeded.iter().find(|(id, _)| *id == e["previousEventId"]) {
            e["previousEventId"] = before.clone();
        }
    }
}

/// (year, month, day) of LocalStack's `recorded_date`, `dd-mm-yyyy, hh:mm:ss`.
fn recorded_day(date: &str) -> Option<(u32, u32, u32)> {
    let day = date.split(',').next()?;
    let mut parts = day.trim().split('-').map(|p| p.parse::<u32>().ok());
    let (d, m, y) = (parts.next()??, parts.next()??, parts.next()??);
    Some((y, m, d))
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

/// A branch event LocalStack's normaliser masked (`id` `[0]`).
fn is_masked(event: &Value) -> bool {
    event["id"].is_array()
}

/// LocalStack's `SfnNoneRecursiveParallelTransformer`, step for step, including what it does
/// by editing the list it walks: between a `ParallelStateStarted` and the next Parallel end
/// event the events are masked (`id` `[0]`, `previousEventId` 0) and, at that end event, put
/// back sorted over `[start, i)`, which drops events when an earlier end shortened the run.
fn normalise_parallel(events: &mut Vec<Value>) {
    const ENDS: &[&str] = &[
        "ParallelStateSucceeded",
        "ParallelStateAborted",
        "ParallelStateExited",
        "ParallelStateFailed",
    ];
    let mut start = 0;
    let mut sublist: Vec<Value> = Vec::new();
    let mut in_sublist = false;
    let mut i = 0;
    while i < events.len() {
        let kind = events[i]["type"].as_str().unwrap_or_default().to_string();
        if ENDS.contains(&kind.as_str()) {
            let end = i.max(start);
            events.splice(start..end, sublist.iter().cloned());
            in_sublist = false;
        } else if kind == "ParallelStateStarted" {
            in_sublist = true;
            sublist.clear();
            start = i + 1;
        } else if in_sublist {
            events[i]["id"] = Value::Array(vec![Value::from(0)]);
            events[i]["previousEventId"] = Value::from(0);
            sublist.push(events[i].clone());
        }
        i += 1;
    }
}

/// `want` with LocalStack's masks (`<uuid:1>`, `<region>`, `<ExecArnPart_0idx>`, ...) each
/// matching any text, equal to `got`.
fn masked_eq(want: &str, got: &str) -> bool {
    let parts = literal_parts(want);
    if parts.len() == 1 {
        return want == got;
    }
    let (first, last) = (&parts[0], &parts[parts.len() - 1]);
    if !got.starts_with(first.as_str()) || got.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &got[first.len()..];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle.as_str()) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last.as_str())
}

/// The literal text between the masks of `s`.
fn literal_parts(s: &str) -> Vec<String> {
    let mut marked = s.to_string();
    for mask in TRANSFORMER_MASKS {
        // Some recordings already bracket it (`<lambda_function_name>`).
        let bracketed = format!("<{mask}>");
        marked = marked.replace(&bracketed, mask).replace(mask, &bracketed);
    }
    let mut parts = vec![String::new()];
    let mut rest = marked.as_str();
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>');
        let is_mask = close.is_some_and(|c| {
            let name = &after[..c];
            !name.is_empty()
                && name
                    .chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | ':' | '-'))
        });
        let last = parts.len() - 1;
        match (is_mask, close) {
            (true, Some(c)) => {
                parts[last].push_str(&rest[..open]);
                parts.push(String::new());
                rest = &after[c + 1..];
            }
            _ => {
                parts[last].push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    let last = parts.len() - 1;
    parts[last].push_str(rest);
    parts
}
