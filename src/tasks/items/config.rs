//! `ReaderConfig` as the runtime reads it: the input type, the manifest type, the CSV headers
//! and delimiter, `ItemsPointer` and `MaxItems`. A definition's literal values are checked at
//! validation (`asl::validate`); what reaches here evaluated (JSONata, `MaxItemsPath`) is
//! checked again, and a value AWS refuses fails the Map state with `States.ItemReaderFailed`.

use serde_json::Value;

use super::failed;
use crate::asl::error::StatesError;

/// How an object's bytes hold their items (`ReaderConfig.InputType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// One JSON array, or an object whose entries are the items (also at `ItemsPointer`).
    Json,
    /// One JSON value per line.
    Jsonl,
    /// Comma-separated (or other delimiter) rows, each an object by the headers.
    Csv,
    /// An Apache Parquet file, each row an object by its column names.
    Parquet,
    /// An S3 Inventory `manifest.json` naming gzipped CSV data files.
    Manifest,
}

/// Which manifest the object is (`ReaderConfig.ManifestType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestType {
    /// An S3 Inventory report's `manifest.json` (the default of `InputType` MANIFEST).
    S3Inventory,
    /// An Athena `UNLOAD` data manifest: one S3 URI a line, each a data file of `InputType`.
    AthenaData,
}

/// Where a CSV object's headers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Headers {
    /// The object's first row.
    FirstRow,
    /// `CSVHeaders` of the reader's configuration.
    Given(Vec<String>),
}

/// `ReaderConfig`, for an object's items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderConfig {
    /// `InputType` (of the data files, for an Athena data manifest).
    pub input_type: InputType,
    /// `ManifestType`: `Some` when the object is a manifest of other objects.
    pub manifest_type: Option<ManifestType>,
    /// `CSVHeaderLocation` and `CSVHeaders`.
    pub headers: Headers,
    /// `CSVDelimiter` as a byte (`,` by default).
    pub delimiter: u8,
    /// `ItemsPointer`: the JSON Pointer of the items inside a JSON object (`None`: the root).
    pub items_pointer: Option<String>,
    /// `MaxItems` (`None`: all; AWS caps it at 100,000,000).
    pub max_items: Option<u64>,
}

impl ReaderConfig {
    /// Reads `ReaderConfig` as a definition gives it, with `MaxItems` already evaluated (from
    /// `MaxItems`, `MaxItemsPath` or JSONata).
    ///
    /// # Errors
    /// `States.ItemReaderFailed` for a value AWS refuses at run time.
    pub fn from_json(config: &Value, max_items: Option<i64>) -> Result<ReaderConfig, StatesError> {
        let text = |name: &str| config.get(name).and_then(Value::as_str);
        let mut input_type = match text("InputType") {
            None | Some("JSON") => InputType::Json,
            Some("JSONL") => InputType::Jsonl,
            Some("CSV") => InputType::Csv,
            Some("PARQUET") => InputType::Parquet,
            Some("MANIFEST") => InputType::Manifest,
            Some(other) => return Err(failed(format!("InputType {other} is not supported"))),
        };
        let manifest_type = match (text("ManifestType"), input_type) {
            (None, InputType::Manifest) | (Some("S3_INVENTORY"), InputType::Manifest) => {
                Some(ManifestType::S3Inventory)
            }
            // An inventory's data files are CSV: `InputType` CSV says the same thing.
            (Some("S3_INVENTORY"), InputType::Csv) => {
                input_type = InputType::Manifest;
                Some(ManifestType::S3Inventory)
            }
            (Some("S3_INVENTORY"), other) => {
                return Err(failed(format!(
                    "ManifestType S3_INVENTORY takes InputType MANIFEST or CSV, not {}",
                    name_of(other)
                )))
            }
            (Some("ATHENA_DATA"), InputType::Csv | InputType::Jsonl | InputType::Parquet) => {
                Some(ManifestType::AthenaData)
            }
            (Some("ATHENA_DATA"), other) => {
                return Err(failed(format!(
                    "ManifestType ATHENA_DATA takes InputType CSV, JSONL or PARQUET, not {}",
                    name_of(other)
                )))
            }
            (Some(other), _) => {
                return Err(failed(format!("ManifestType {other} is not supported")))
            }
            (None, _) => None,
        };
        let items_pointer = match config.get("ItemsPointer") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if input_type != InputType::Json || manifest_type.is_some() => {
                return Err(failed(format!(
                    "ItemsPointer {p} applies to InputType JSON only, not {}",
                    name_of(input_type)
                )))
            }
            Some(Value::String(p)) if p.is_empty() || p.starts_with('/') => Some(p.clone()),
            Some(other) => {
                return Err(failed(format!(
                    "ItemsPointer must be a JSON Pointer (empty or starting with '/'), not {other}"
                )))
            }
        };
        let headers = match text("CSVHeaderLocation") {
            Some("GIVEN") => {
                let given: Vec<String> = config
                    .get("CSVHeaders")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                Headers::Given(given)
            }
            _ => Headers::FirstRow,
        };
        let delimiter = match text("CSVDelimiter") {
            None | Some("COMMA") => b',',
            Some("PIPE") => b'|',
            Some("SEMICOLON") => b';',
            Some("SPACE") => b' ',
            Some("TAB") => b'\t',
            Some(other) => return Err(failed(format!("CSVDelimiter {other} is not supported"))),
        };
        let max_items = match max_items {
            None | Some(0) => None,
            Some(n) if n < 0 => return Err(failed("field MaxItems must be positive")),
            Some(n) => Some(n.unsigned_abs().min(100_000_000)),
        };
        Ok(ReaderConfig {
            input_type,
            manifest_type,
            headers,
            delimiter,
            items_pointer,
            max_items,
        })
    }
}

/// The `InputType` value that names `input_type`.
pub(crate) fn name_of(input_type: InputType) -> &'static str {
    match input_type {
        InputType::Json => "JSON",
        InputType::Jsonl => "JSONL",
        InputType::Csv => "CSV",
        InputType::Parquet => "PARQUET",
        InputType::Manifest => "MANIFEST",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cause(config: Value) -> String {
        let e = ReaderConfig::from_json(&config, None).unwrap_err();
        assert_eq!(e.error, super::super::ITEM_READER_FAILED);
        e.cause.unwrap_or_default()
    }

    #[test]
    fn manifest_types_pick_what_the_object_is() {
        let inventory =
            ReaderConfig::from_json(&json!({"InputType": "MANIFEST"}), None).expect("config");
        assert_eq!(
            (inventory.input_type, inventory.manifest_type),
            (InputType::Manifest, Some(ManifestType::S3Inventory))
        );
        let inventory = ReaderConfig::from_json(
            &json!({"InputType": "CSV", "ManifestType": "S3_INVENTORY"}),
            None,
        )
        .expect("config");
        assert_eq!(
            (inventory.input_type, inventory.manifest_type),
            (InputType::Manifest, Some(ManifestType::S3Inventory))
        );
        for input in ["CSV", "JSONL", "PARQUET"] {
            let athena = ReaderConfig::from_json(
                &json!({"InputType": input, "ManifestType": "ATHENA_DATA"}),
                None,
            )
            .expect("config");
            assert_eq!(athena.manifest_type, Some(ManifestType::AthenaData));
            assert_eq!(name_of(athena.input_type), input);
        }
        assert_eq!(
            cause(json!({"InputType": "MANIFEST", "ManifestType": "ATHENA_DATA"})),
            "ManifestType ATHENA_DATA takes InputType CSV, JSONL or PARQUET, not MANIFEST"
        );
        assert_eq!(
            cause(json!({"InputType": "JSON", "ManifestType": "S3_INVENTORY"})),
            "ManifestType S3_INVENTORY takes InputType MANIFEST or CSV, not JSON"
        );
        assert_eq!(
            cause(json!({"InputType": "CSV", "ManifestType": "ORC"})),
            "ManifestType ORC is not supported"
        );
        assert_eq!(
            cause(json!({"InputType": "XML"})),
            "InputType XML is not supported"
        );
    }

    #[test]
    fn items_pointer_is_a_json_pointer_of_json_input() {
        let c = ReaderConfig::from_json(
            &json!({"InputType": "JSON", "ItemsPointer": "/data/items"}),
            None,
        )
        .expect("config");
        assert_eq!(c.items_pointer.as_deref(), Some("/data/items"));
        assert_eq!(
            cause(json!({"InputType": "JSONL", "ItemsPointer": "/a"})),
            "ItemsPointer /a applies to InputType JSON only, not JSONL"
        );
        assert_eq!(
            cause(json!({"InputType": "JSON", "ItemsPointer": "data"})),
            "ItemsPointer must be a JSON Pointer (empty or starting with '/'), not \"data\""
        );
    }
}
