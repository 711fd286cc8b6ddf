//! [`Diagnostic`]: one problem in a definition, located by a JSON Pointer.

use std::fmt;

/// One problem found in a definition: where it is (an RFC 6901 JSON Pointer into the
/// definition, `""` for the whole document) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// JSON Pointer of the offending value, e.g. `/States/Pay/Next`.
    pub pointer: String,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// The same as AWS words it, where stepfn knows AWS's wording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<String>,
    /// AWS's diagnostic code (`SCHEMA_VALIDATION_FAILED` unless set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Where AWS locates it when that is not `pointer` (a payload template's key is located
    /// at its template object).
    #[serde(skip)]
    pub aws_at: Option<String>,
}

/// AWS's code for a transition to a state that does not exist, or a state nothing reaches.
pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
/// AWS's code for a definition that is not JSON.
pub const INVALID_JSON_DESCRIPTION: &str = "INVALID_JSON_DESCRIPTION";
/// AWS's code for a workflow that cannot end (it has no location).
pub const MISSING_END_STATE: &str = "MISSING_END_STATE";

impl Diagnostic {
    /// A diagnostic at `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            pointer: pointer.into(),
            message: message.into(),
            aws: None,
            code: None,
            aws_at: None,
        }
    }

    /// The diagnostic with AWS's code for it.
    pub fn coded(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// AWS's code: `SCHEMA_VALIDATION_FAILED` unless another applies.
    pub fn aws_code(&self) -> &'static str {
        self.code.unwrap_or("SCHEMA_VALIDATION_FAILED")
    }

    /// The diagnostic with AWS's wording of it.
    pub fn worded_by_aws(mut self, aws: impl Into<String>) -> Self {
        self.aws = Some(aws.into());
        self
    }

    /// The diagnostic located where AWS locates it, when that differs from its pointer.
    pub fn located_by_aws(mut self, at: impl Into<String>) -> Self {
        self.aws_at = Some(at.into());
        self
    }

    /// What is wrong, as AWS says it when known (else as stepfn says it).
    pub fn aws_message(&self) -> &str {
        self.aws.as_deref().unwrap_or(&self.message)
    }

    /// The location as AWS gives it: the pointer, `/` for the whole document; none for a
    /// workflow without a terminal state.
    pub fn location(&self) -> Option<&str> {
        if let Some(at) = &self.aws_at {
            return Some(at);
        }
        match (self.code, self.pointer.is_empty()) {
            (Some(MISSING_END_STATE), _) => None,
            (_, true) => Some("/"),
            _ => Some(&self.pointer),
        }
    }

    /// As the Step Functions API reports it: `<CODE>: <message> at <location>` (`at null`
    /// without a location, as AWS writes it).
    pub fn aws_text(&self) -> String {
        if self.code == Some(INVALID_JSON_DESCRIPTION) {
            // Jackson's message already ends with its location.
            return format!("{}: {}", self.aws_code(), self.aws_message());
        }
        format!(
            "{}: {} at {}",
            self.aws_code(),
            self.aws_message(),
            self.location().unwrap_or("null")
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "/: {}", self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

/// Escapes one reference token of a JSON Pointer (`~` as `~0`, `/` as `~1`).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Appends `token` to `pointer`.
pub fn join(pointer: &str, token: impl fmt::Display) -> String {
    format!("{pointer}/{}", escape_token(&token.to_string()))
}
