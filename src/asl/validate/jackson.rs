//! A definition that is not JSON, reported as AWS reports it: Step Functions parses
//! definitions with Jackson, so its `INVALID_JSON_DESCRIPTION` diagnostics carry Jackson's
//! messages and its `[Source: (String)"..."; line: L, column: C]` locations (the column is
//! one past the last character read, as Jackson counts).

use crate::asl::diagnostic::{Diagnostic, INVALID_JSON_DESCRIPTION};

/// Jackson keeps this many characters of the source in a location.
const SOURCE_CHARS: usize = 500;

const VALUE_EXPECTED: &str =
    "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";

/// The diagnostic for `text`, which `serde_json` refused with `err`.
pub(super) fn diagnostic(text: &str, err: &serde_json::Error) -> Diagnostic {
    let (message, line, column) = describe(text, err);
    let location = format!("[Source: {}; line: {line}, column: {column}]", source(text));
    Diagnostic::new("", format!("invalid JSON: {err}"))
        .coded(INVALID_JSON_DESCRIPTION)
        .worded_by_aws(format!("{message}\n at {location}"))
        .located_by_aws(location)
}

/// The diagnostic for `text`, nested past Jackson's limit: its first array or
/// object too deep opens at `line`, `column`.
pub(super) fn too_deep(text: &str, line: usize, column: usize) -> Diagnostic {
    let message = crate::asl::nesting::too_deep_message();
    let location = format!(
        "[Source: {}; line: {line}, column: {}]",
        source(text),
        column + 1
    );
    Diagnostic::new("", format!("invalid JSON: {message}"))
        .coded(INVALID_JSON_DESCRIPTION)
        .worded_by_aws(format!("{message}\n at {location}"))
        .located_by_aws(location)
}

/// Jackson's message alone for `text`, which `serde_json` refused with `err` (as AWS words a
/// bad execution input: `Unrecognized token 'not': was expecting (...)`).
pub fn message(text: &str, err: &serde_json::Error) -> String {
    describe(text, err).0
}

/// `(String)"<text>"`, cut as Jackson cuts it.
fn source(text: &str) -> String {
    let total = text.chars().count();
    if total <= SOURCE_CHARS {
        return format!("(String)\"{text}\"");
    }
    let kept: String = text.chars().take(SOURCE_CHARS).collect();
    format!(
        "(String)\"{kept}\"[truncated {} chars]",
        total - SOURCE_CHARS
    )
}

/// Jackson's message, line and column for the error `serde_json` found.
fn describe(text: &str, err: &serde_json::Error) -> (String, usize, usize) {
    let line = err.line().max(1);
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    // serde_json's column is the offending character's, 1-based (0 before any).
    let col = err.column().max(1);
    let offending = line_text.chars().nth(col - 1);
    let what = err.to_string();
    if err.is_eof() {
        return match open_container(text) {
            Some((kind, l, c)) => (
                format!(
                    "Unexpected end-of-input: expected close marker for {kind} (start marker at [Source: {}; line: {l}, column: {c}])",
                    source(text)
                ),
                line,
                col + 1,
            ),
            None => (
                "No content to map due to end-of-input".to_string(),
                line,
                col + 1,
            ),
        };
    }
    if what.starts_with("recursion limit exceeded") {
        return (
            "Document nesting depth exceeds the maximum allowed".to_string(),
            line,
            col + 1,
        );
    }
    let Some(c) = offending else {
        return (what, line, col);
    };
    if c.is_alphanumeric() || c == '_' {
        // serde_json stops inside a word (at the `o` of `not`); Jackson reads it whole.
        let chars: Vec<char> = line_text.chars().collect();
        let word = |c: &char| c.is_alphanumeric() || *c == '_';
        let mut start = col - 1;
        while start > 0 && word(&chars[start - 1]) {
            start -= 1;
        }
        let token: String = chars[start..].iter().take_while(|c| word(c)).collect();
        if !token.chars().all(|c| c.is_ascii_digit()) {
            let end = start + token.chars().count();
            return (
                format!("Unrecognized token '{token}': was expecting {VALUE_EXPECTED}"),
                line,
                end + 1,
            );
        }
    }
    let expecting = if what.starts_with("key must be a string")
        || what.starts_with("trailing comma") && c == '}'
    {
        "was expecting double-quote to start field name".to_string()
    } else if what.starts_with("expected `,` or `}`") {
        "was expecting comma to separate Object entries".to_string()
    } else if what.starts_with("expected `,` or `]`") {
        "was expecting comma to separate Array entries".to_string()
    } else if what.starts_with("expected `:`") {
        "was expecting a colon to separate field name and value".to_string()
    } else {
        format!("expected a valid value {VALUE_EXPECTED}")
    };
    (
        format!(
            "Unexpected character ('{c}' (code {})): {expecting}",
            u32::from(c)
        ),
        line,
        col + 1,
    )
}

/// The innermost object or array `text` leaves open: its kind and where it starts.
fn open_container(text: &str) -> Option<(&'static str, usize, usize)> {
    let mut stack = Vec::new();
    crate::asl::nesting::for_each_bracket(text, |c, line, column| match c {
        '{' => stack.push(("OBJECT", line, column)),
        '[' => stack.push(("ARRAY", line, column)),
        _ => {
            stack.pop();
        }
    });
    stack.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(text: &str) -> (String, String) {
        let err = serde_json::from_str::<serde_json::Value>(text).expect_err("invalid JSON");
        let d = diagnostic(text, &err);
        (
            d.aws_message().to_string(),
            d.location().unwrap_or_default().to_string(),
        )
    }

    #[test]
    fn a_bare_word_is_an_unrecognized_token_as_aws_recorded_it() {
        assert_eq!(
            aws("not a definition"),
            (
                "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: (String)\"not a definition\"; line: 1, column: 4]".to_string(),
                "[Source: (String)\"not a definition\"; line: 1, column: 4]".to_string()
            )
        );
    }

    #[test]
    fn unexpected_characters_say_what_was_expected() {
        assert!(aws("{\"a\":1,}").0.starts_with(
            "Unexpected character ('}' (code 125)): was expecting double-quote to start field name\n at [Source: (String)\"{\"a\":1,}\"; line: 1, column: 9]"
        ));
        assert!(aws("{\"a\" 1}")
            .0
            .starts_with("Unexpected character ('1' (code 49)): was expecting a colon"));
        assert!(aws("[1 2]").0.starts_with(
            "Unexpected character ('2' (code 50)): was expecting comma to separate Array entries"
        ));
        assert!(aws("{\"a\":1 \"b\":2}").0.starts_with(
            "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries"
        ));
    }

    #[test]
    fn an_unclosed_object_names_where_it_starts() {
        assert!(aws("{\"StartAt\": \"A\"").0.starts_with(
            "Unexpected end-of-input: expected close marker for OBJECT (start marker at [Source: (String)\"{\"StartAt\": \"A\"\"; line: 1, column: 1])"
        ));
    }
}
