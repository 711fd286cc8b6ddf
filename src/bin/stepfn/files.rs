//! The files a command names: definitions, inputs, mock configs, read and checked.

use std::path::Path;

use serde_json::Value;

use stepfn::api::auth::Credentials;
use stepfn::asl::validate::validate_text;
use stepfn::runtime::commands::CommandError;

use crate::args::{InputArgs, MockArgs};

pub(crate) fn read_json(path: &Path, what: &str) -> Result<Value, CommandError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CommandError::Invalid(format!("cannot read {what} {}: {e}", path.display()))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| CommandError::Invalid(format!("{what} {} is not JSON: {e}", path.display())))
}

pub(crate) fn read_definition(path: &Path) -> Result<Value, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    validate_text(&text).map_err(|diags| {
        let mut msg = format!("{}: invalid definition", path.display());
        for d in diags {
            msg.push_str(&format!("\n  {d}"));
        }
        CommandError::Invalid(msg)
    })
}

/// The execution input, and its text as the user wrote it (history shows that text).
pub(crate) fn read_input(args: &InputArgs) -> Result<(Value, Option<String>), CommandError> {
    let text = match (&args.input, &args.input_file) {
        (Some(s), _) => s.clone(),
        (None, Some(p)) => std::fs::read_to_string(p).map_err(|e| {
            CommandError::Invalid(format!("cannot read input file {}: {e}", p.display()))
        })?,
        (None, None) => return Ok((Value::Object(Default::default()), None)),
    };
    let what = match &args.input_file {
        Some(p) if args.input.is_none() => format!("input file {}", p.display()),
        _ => "--input".to_string(),
    };
    let value = serde_json::from_str(&text)
        .map_err(|e| CommandError::Invalid(format!("{what} is not JSON: {e}")))?;
    Ok((value, Some(text.trim().to_string())))
}

pub(crate) fn read_mocks(args: &MockArgs) -> Result<Option<(Value, String)>, CommandError> {
    match (&args.mocks, &args.test_case) {
        (Some(p), Some(case)) => Ok(Some((read_json(p, "mock config")?, case.clone()))),
        _ => Ok(None),
    }
}

/// The state machines of `--machine NAME=DEFINITION.json`, read and validated.
pub(crate) fn read_machines(specs: &[String]) -> Result<Vec<(String, Value)>, CommandError> {
    specs
        .iter()
        .map(|spec| {
            let (name, path) = spec.split_once('=').ok_or_else(|| {
                CommandError::Invalid(format!("--machine {spec}: expected NAME=DEFINITION.json"))
            })?;
            Ok((name.to_string(), read_definition(Path::new(path))?))
        })
        .collect()
}

pub(crate) fn machine_name_of(definition: &Path, name: &Option<String>) -> String {
    name.clone().unwrap_or_else(|| {
        let stem = definition
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "state-machine".into());
        stem.strip_suffix(".asl")
            .map(str::to_string)
            .unwrap_or(stem)
    })
}

/// The credentials `serve --auth FILE` and `--auth-key KEY:SECRET` name; None if neither is
/// given (signatures are not checked).
pub(crate) fn serve_credentials(
    file: Option<&Path>,
    pairs: &[String],
) -> Result<Option<Credentials>, CommandError> {
    if file.is_none() && pairs.is_empty() {
        return Ok(None);
    }
    let mut credentials = Credentials::new();
    if let Some(file) = file {
        credentials
            .add_file(file)
            .map_err(|e| CommandError::Invalid(format!("--auth: {e}")))?;
    }
    for pair in pairs {
        credentials.add_pair(pair).map_err(CommandError::Invalid)?;
    }
    Ok(Some(credentials))
}
