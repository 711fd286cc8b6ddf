//! Response shapes and request bodies shared by the operation groups: machines and history
//! events as JSON, definitions and inputs parsed with AWS's messages.

use super::*;

pub(super) fn not_found_resource(e: ApiError) -> ApiError {
    if e.kind == Exception::StateMachineDoesNotExist {
        err(
            Exception::ResourceNotFound,
            e.message
                .replace("State Machine Does Not Exist", "Resource not found"),
        )
    } else {
        e
    }
}

pub(super) fn machine_json(m: &MachineRecord) -> Value {
    let c = &m.config;
    let mut out = json!({
        "stateMachineArn": m.arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": m
            .definition_text
            .clone()
            .unwrap_or_else(|| serde_json::to_string(&m.definition).unwrap_or_default()),
        "roleArn": m.role_arn,
        "type": m.kind,
        "creationDate": epoch(m.created),
        "loggingConfiguration": c.logging.clone().unwrap_or_else(
            || json!({"level": "OFF", "includeExecutionData": false})
        ),
        "tracingConfiguration": c.tracing.clone().unwrap_or_else(|| json!({"enabled": false})),
        "encryptionConfiguration": c.encryption.clone().unwrap_or_else(
            || json!({"type": "AWS_OWNED_KEY"})
        ),
    });
    if let Some(revision) = &c.revision_id {
        out["revisionId"] = json!(revision);
    }
    if let Some(d) = m.version.as_ref().and_then(|v| v.description.as_ref()) {
        out["description"] = json!(d);
    }
    let references = crate::asl::variables::variable_references(&m.definition);
    if !references.is_empty() {
        out["variableReferences"] = Value::Object(references);
    }
    out
}

/// What a describe request asks for (`includedData`): everything, or (`METADATA_ONLY`) no
/// definition and no variable references.
pub(super) fn included_data(req: &Value, mut out: Value) -> Result<Value, ApiError> {
    match opt_field(req, "includedData")? {
        None | Some("ALL_DATA") => Ok(out),
        Some("METADATA_ONLY") => {
            if let Value::Object(o) = &mut out {
                o.remove("definition");
                o.remove("variableReferences");
            }
            Ok(out)
        }
        Some(other) => Err(err(
            Exception::ValidationException,
            format!(
                "1 validation error detected: Value '{other}' at 'includedData' failed to satisfy constraint: Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]"
            ),
        )),
    }
}

pub(super) fn event_json(e: &HistoryEvent, include_data: bool) -> Value {
    let mut v = e.to_api_json();
    if !include_data {
        if let Value::Object(o) = &mut v {
            for (_, details) in o.iter_mut() {
                if let Value::Object(d) = details {
                    for key in ["input", "output", "parameters"] {
                        d.remove(key);
                    }
                }
            }
        }
    }
    v
}

/// Diagnostics as the API words them: `SCHEMA_VALIDATION_FAILED: <message> at <location>`,
/// joined by `, `.
pub(super) fn diagnostics_text(d: &[crate::asl::diagnostic::Diagnostic]) -> String {
    let mut texts: Vec<String> = Vec::new();
    for text in d.iter().map(|d| d.aws_text()) {
        if !texts.contains(&text) {
            texts.push(text);
        }
    }
    texts.join(", ")
}

/// A definition an EXPRESS machine can run, or AWS's InvalidDefinition naming what it cannot.
pub(super) fn check_express(kind: &str, definition: &Value) -> Result<(), ApiError> {
    if kind != "EXPRESS" {
        return Ok(());
    }
    let violations = crate::asl::validate::express_violations(definition);
    if violations.is_empty() {
        return Ok(());
    }
    Err(err(
        Exception::InvalidDefinition,
        format!(
            "Invalid State Machine Definition: '{}'",
            crate::asl::validate::express_violations_text(&violations)
        ),
    ))
}

/// AWS's model constraint on a request's `definition` (1,048,576 characters), worded as AWS
/// words it for a sensitive member (the value is not repeated).
pub(super) fn check_definition_size(text: &str) -> Result<(), ApiError> {
    use crate::asl::validate::{definition_too_large, MAX_DEFINITION_CHARS};
    match definition_too_large(text) {
        None => Ok(()),
        Some(_) => Err(err(
            Exception::ValidationException,
            format!("1 validation error detected: Value at 'definition' failed to satisfy constraint: Member must have length less than or equal to {MAX_DEFINITION_CHARS}"),
        )),
    }
}

pub(super) fn parse_definition(text: &str) -> Result<Value, ApiError> {
    check_definition_size(text)?;
    let value = validate_text(text).map_err(|d| {
        err(
            Exception::InvalidDefinition,
            format!(
                "Invalid State Machine Definition: '{}'",
                diagnostics_text(&d)
            ),
        )
    })?;
    load(&value).map_err(|d| {
        err(
            Exception::InvalidDefinition,
            format!(
                "Invalid State Machine Definition: '{}'",
                diagnostics_text(&d)
            ),
        )
    })?;
    Ok(value)
}

/// The execution input of a start request: its value and the text as sent.
pub(super) fn parse_input(req: &Value) -> Result<crate::runtime::driver::Input, ApiError> {
    match opt_field(req, "input")? {
        None => Ok(json!({}).into()),
        Some(text) => {
            if text.len() > crate::asl::payload::PAYLOAD_LIMIT_BYTES {
                return Err(err(Exception::ValidationException,
                    "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144",
                ));
            }
            let value = serde_json::from_str(text).map_err(|e| {
                err(
                    Exception::InvalidExecutionInput,
                    format!(
                        "Invalid State Machine Execution Input: '{}'",
                        crate::asl::validate::jackson_message(text, &e)
                    ),
                )
            })?;
            Ok(crate::runtime::driver::Input {
                value,
                text: Some(Arc::from(text)),
            })
        }
    }
}

pub(super) fn validate_definition(req: &Value) -> Result<Value, ApiError> {
    let text = req.get("definition").and_then(Value::as_str).unwrap_or("");
    check_definition_size(text)?;
    if text.trim().is_empty() {
        return Ok(
            json!({"result": "FAIL", "truncated": false, "diagnostics": [{
                "severity": "ERROR",
                "code": "SCHEMA_VALIDATION_FAILED",
                "message": "Definition must be a valid JSON object",
            }]}),
        );
    }
    let express = req.get("type").and_then(Value::as_str) == Some("EXPRESS");
    let mut checked = None;
    let mut diagnostics: Vec<Value> = match validate_text(text) {
        Ok(v) => match load(&v) {
            Ok(_) => {
                checked = Some(v);
                Vec::new()
            }
            Err(d) => d,
        },
        Err(d) => d,
    }
    .iter()
    .map(|d| {
        let mut entry = json!({
            "severity": "ERROR",
            "code": d.aws_code(),
            "message": d.aws_message(),
        });
        if let Some(location) = d.location() {
            entry["location"] = json!(location);
        }
        entry
    })
    .collect();
    // One entry per AWS message and location (AWS names all missing fields at once).
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| seen.insert((d["message"].to_string(), d["location"].to_string())));
    if let Some(definition) = checked.filter(|_| express) {
        for (message, location) in crate::asl::validate::express_violations(&definition) {
            diagnostics.push(json!({
                "severity": "ERROR",
                "code": "SCHEMA_VALIDATION_FAILED",
                "message": message,
                "location": location,
            }));
        }
    }
    let result = if diagnostics.is_empty() { "OK" } else { "FAIL" };
    Ok(json!({"result": result, "diagnostics": diagnostics, "truncated": false}))
}
