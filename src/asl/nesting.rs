//! How deeply a definition may nest, and room on the stack for walking it.
//!
//! Step Functions reads definitions with Jackson, which refuses JSON nested more than 1,000
//! arrays and objects deep; `serde_json` alone would stop at 128 (32 nested Parallel states).
//! Here a definition's text is measured first (a scan, no recursion), refused past Jackson's
//! limit with Jackson's words, and otherwise parsed without `serde_json`'s limit; everything
//! that then recurses over a deep definition (parsing, schema validation, loading) runs on a
//! stack sized from its depth.

use serde::de::DeserializeOwned;

/// Jackson's `StreamReadConstraints` default: the deepest nesting of arrays and objects a
/// definition may have.
pub const MAX_JSON_NESTING: usize = 1000;

/// Stack for the threads that handle definitions and data (the async runtime's workers):
/// cloning, comparing, writing or dropping a value 1,000 levels deep recurses 1,000 times, up
/// to ~2 KiB a level in debug builds. Reserved, not used: it costs address space only.
pub const THREAD_STACK_BYTES: usize = 16 * 1024 * 1024;

/// Nesting under which the thread's own stack is always enough.
const SHALLOW: usize = 48;

/// Stack one level of nesting may take across everything that walks a definition
/// recursively (parsing, the JSON Schema validator, the semantic checks, loading), in debug
/// builds the most; generous, as the stack is reserved, not used.
const STACK_PER_LEVEL_BYTES: usize = 48 * 1024;

/// Stack kept for everything that does not grow with the nesting.
const STACK_BASE_BYTES: usize = 2 * 1024 * 1024;

/// Calls `f(bracket, line, column)` for each `[`, `]`, `{` and `}` of `text` outside strings,
/// with its line and column (1-based, counted in characters).
pub(crate) fn for_each_bracket(text: &str, mut f: impl FnMut(char, usize, usize)) {
    let (mut in_string, mut escaped) = (false, false);
    let (mut line, mut column) = (1usize, 0usize);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
            column = 0;
            continue;
        }
        column += 1;
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | ']' | '{' | '}' => f(c, line, column),
            _ => {}
        }
    }
}

/// The deepest nesting of arrays and objects in `text` (strings skipped), and where the
/// first array or object deeper than [`MAX_JSON_NESTING`] opens (line and column, 1-based),
/// if one does. Text that is not JSON is measured as far as it goes.
pub fn measure(text: &str) -> (usize, Option<(usize, usize)>) {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut beyond = None;
    for_each_bracket(text, |c, line, column| {
        if c == '[' || c == '{' {
            depth += 1;
            deepest = deepest.max(depth);
            if depth > MAX_JSON_NESTING && beyond.is_none() {
                beyond = Some((line, column));
            }
        } else {
            depth = depth.saturating_sub(1);
        }
    });
    (deepest, beyond)
}

/// The deepest nesting of arrays and objects in `value` (a scalar: 0), found without
/// recursion.
pub fn depth_of(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {
                deepest = deepest.max(depth);
                continue;
            }
        }
        deepest = deepest.max(depth + 1);
    }
    deepest
}

/// Jackson's message for text nested past [`MAX_JSON_NESTING`] (Jackson stops reading at the
/// first level too deep, so it names that one).
pub fn too_deep_message() -> String {
    let depth = MAX_JSON_NESTING + 1;
    format!(
        "Document nesting depth ({depth}) exceeds the maximum allowed ({MAX_JSON_NESTING}, from `StreamReadConstraints.getMaxNestingDepth()`)"
    )
}

/// Runs `f`, which walks something nested `depth` deep recursively, with the stack that
/// takes: on the thread's own stack when shallow, on a new segment otherwise.
pub fn with_stack_for<R>(depth: usize, f: impl FnOnce() -> R) -> R {
    if depth <= SHALLOW {
        return f();
    }
    let needed = STACK_BASE_BYTES + depth.saturating_mul(STACK_PER_LEVEL_BYTES);
    stacker::grow(needed, f)
}

/// Parses `text` as `serde_json` does, but as deep as [`MAX_JSON_NESTING`] (for stored
/// definitions and records holding one, which were checked when they came in).
///
/// # Errors
/// The text is not JSON of type `T`, or is nested deeper than [`MAX_JSON_NESTING`].
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    // Almost every document is shallow: parsed as serde_json parses it, with no extra pass.
    match serde_json::from_str(text) {
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {}
        parsed => return parsed,
    }
    let (depth, beyond) = measure(text);
    if beyond.is_some() {
        return Err(serde::de::Error::custom(too_deep_message()));
    }
    with_stack_for(depth, || {
        let mut de = serde_json::Deserializer::from_str(text);
        de.disable_recursion_limit();
        let value = T::deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_nesting_outside_strings() {
        assert_eq!(measure(r#"{"a": [1, {"b": "[[[{"}]}"#).0, 3);
        assert_eq!(measure(r#""\"[""#).0, 0);
        let deep = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
        assert_eq!(measure(&deep), (1001, Some((1, 1001))));
        assert_eq!(depth_of(&serde_json::json!({"a": [1, {"b": "[[[{"}]})), 3);
        assert_eq!(depth_of(&serde_json::json!(1)), 0);
        assert_eq!(depth_of(&serde_json::json!([])), 1);
    }

    #[test]
    fn parses_as_deep_as_jackson_and_no_deeper() {
        let ok = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
        let value: serde_json::Value = from_str(&ok).expect("1,000 levels parse");
        drop(value);
        let deep = format!("{}1{}", "[".repeat(1001), "]".repeat(1001));
        let err = from_str::<serde_json::Value>(&deep).expect_err("1,001 levels do not");
        assert!(
            err.to_string().starts_with("Document nesting depth (1001)"),
            "{err}"
        );
    }

    /// `levels` Parallel states, each the only state of its parent's one branch, around a Pass.
    fn nested_parallels(levels: usize) -> String {
        let mut inner =
            r#"{"StartAt": "P0", "States": {"P0": {"Type": "Pass", "End": true}}}"#.to_string();
        for i in 1..=levels {
            inner = format!(
                r#"{{"StartAt": "P{i}", "States": {{"P{i}": {{"Type": "Parallel", "Branches": [{inner}], "End": true}}}}}}"#
            );
        }
        inner
    }

    /// `levels` inline Map states, each the only state of its parent's processor, around a Pass.
    fn nested_maps(levels: usize) -> String {
        let mut inner =
            r#"{"StartAt": "M0", "States": {"M0": {"Type": "Pass", "End": true}}}"#.to_string();
        for i in 1..=levels {
            inner = format!(
                r#"{{"StartAt": "M{i}", "States": {{"M{i}": {{"Type": "Map", "ItemsPath": "$.items", "ItemSelector": {{"items.$": "$.items"}}, "ItemProcessor": {inner}, "End": true}}}}}}"#
            );
        }
        inner
    }

    #[test]
    fn definitions_nest_as_deep_as_jackson_reads() {
        // 4 levels of JSON per Parallel: 249 Parallels are 997 deep.
        for text in [nested_parallels(249), nested_maps(200)] {
            let value = crate::asl::validate::validate_text(&text).expect("valid");
            crate::asl::load::load(&value).expect("loads");
        }
        let errors: Vec<String> = crate::asl::validate::validate_text(&nested_parallels(250))
            .expect_err("too deep")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "/: invalid JSON: Document nesting depth (1001) exceeds the maximum allowed (1000"
            ),
            "{errors:?}"
        );
    }
}
