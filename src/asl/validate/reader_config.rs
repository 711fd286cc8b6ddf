//! The values of a Distributed Map's `ReaderConfig` that the JSON Schema cannot relate:
//! `ItemsPointer` only for JSON objects, the input types each `ManifestType` reads. The
//! schema owns each field's own values (`InputType`, `CSVDelimiter`, ...), worded as AWS words
//! enum violations.

use super::checker::Checker;
use super::*;

impl Checker<'_> {
    /// The combinations of `ReaderConfig` values a Distributed Map cannot read: `ItemsPointer`
    /// (a JSON Pointer) of anything but a JSON object, an Athena data manifest of other than
    /// CSV, JSONL or PARQUET files, an S3 Inventory manifest read as other than MANIFEST or CSV.
    /// JSONata expressions are left to run time.
    pub(super) fn reader_config(&mut self, config: &Map<String, Value>, at: &str) {
        let literal = |name: &str| {
            config
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.trim_start().starts_with("{%"))
        };
        let input_type = literal("InputType");
        let manifest_type = literal("ManifestType");
        if let Some(pointer) = literal("ItemsPointer") {
            let pointer_at = join(at, "ItemsPointer");
            if !pointer.is_empty() && !pointer.starts_with('/') {
                self.report(
                    pointer_at.clone(),
                    format!(
                        "{} is not a JSON Pointer: it must be empty or start with '/'",
                        quote(pointer)
                    ),
                );
            }
            if input_type.is_some_and(|t| t != "JSON") || manifest_type.is_some() {
                self.report(
                    pointer_at,
                    "\"ItemsPointer\" applies to \"InputType\": \"JSON\" only (an object's items)",
                );
            }
        }
        let allowed: &[&str] = match manifest_type {
            Some("ATHENA_DATA") => &["CSV", "JSONL", "PARQUET"],
            Some("S3_INVENTORY") => &["MANIFEST", "CSV"],
            _ => return,
        };
        if !input_type.is_some_and(|t| allowed.contains(&t)) {
            self.report(
                join(at, "InputType"),
                format!(
                    "\"ManifestType\": {} takes \"InputType\" {}",
                    quote(manifest_type.unwrap_or_default()),
                    allowed.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(definition: Value) -> Vec<String> {
        validate(&definition)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn aws_texts(definition: Value) -> Vec<String> {
        validate(&definition)
            .iter()
            .map(Diagnostic::aws_text)
            .collect()
    }
    fn with_reader_config(config: Value) -> Value {
        json!({"StartAt": "Map", "States": {"Map": {
            "Type": "Map", "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": config, "Parameters": {"Bucket": "b", "Key": "k"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
        }}})
    }

    #[test]
    fn reader_configs_of_every_input_type_are_accepted() {
        for config in [
            json!({"InputType": "JSON", "ItemsPointer": "/data/items"}),
            json!({"InputType": "JSONL", "MaxItems": 10}),
            json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a"],
                   "CSVDelimiter": "TAB"}),
            json!({"InputType": "PARQUET"}),
            json!({"InputType": "MANIFEST"}),
            json!({"InputType": "MANIFEST", "ManifestType": "S3_INVENTORY"}),
            json!({"InputType": "CSV", "ManifestType": "ATHENA_DATA", "CSVHeaderLocation": "FIRST_ROW"}),
            json!({"InputType": "JSONL", "ManifestType": "ATHENA_DATA"}),
            json!({"InputType": "PARQUET", "ManifestType": "ATHENA_DATA", "MaxItems": 5}),
        ] {
            assert_eq!(
                errors_of(with_reader_config(config.clone())),
                Vec::<String>::new(),
                "{config}"
            );
        }
    }

    #[test]
    fn bad_reader_config_values_are_refused_with_the_place() {
        assert_eq!(
            aws_texts(with_reader_config(json!({"InputType": "XML"}))),
            [
                "SCHEMA_VALIDATION_FAILED: The field 'InputType' should have one of these values: \
              [CSV, JSON, JSONL, PARQUET, MANIFEST] at /States/Map/ItemReader/ReaderConfig/InputType"
            ]
        );
        assert_eq!(
            aws_texts(with_reader_config(
                json!({"InputType": "CSV", "CSVDelimiter": "COLON"})
            )),
            [
                "SCHEMA_VALIDATION_FAILED: The field 'CSVDelimiter' should have one of these values: \
              [COMMA, PIPE, SEMICOLON, SPACE, TAB] at /States/Map/ItemReader/ReaderConfig/CSVDelimiter"
            ]
        );
        assert_eq!(
            aws_texts(with_reader_config(
                json!({"InputType": "CSV", "ManifestType": "ORC"})
            )),
            [
                "SCHEMA_VALIDATION_FAILED: The field 'ManifestType' should have one of these values: \
              [ATHENA_DATA, S3_INVENTORY] at /States/Map/ItemReader/ReaderConfig/ManifestType"
            ]
        );
        assert_eq!(
            errors_of(with_reader_config(
                json!({"InputType": "JSONL", "ItemsPointer": "items"})
            )),
            [
                "/States/Map/ItemReader/ReaderConfig/ItemsPointer: \"items\" is not a JSON Pointer: it must be empty or start with '/'",
                "/States/Map/ItemReader/ReaderConfig/ItemsPointer: \"ItemsPointer\" applies to \"InputType\": \"JSON\" only (an object's items)"
            ]
        );
        assert_eq!(
            errors_of(with_reader_config(
                json!({"InputType": "MANIFEST", "ManifestType": "ATHENA_DATA"})
            )),
            ["/States/Map/ItemReader/ReaderConfig/InputType: \"ManifestType\": \"ATHENA_DATA\" takes \"InputType\" CSV, JSONL, PARQUET"]
        );
        assert_eq!(
            errors_of(with_reader_config(
                json!({"InputType": "JSON", "ManifestType": "S3_INVENTORY"})
            )),
            ["/States/Map/ItemReader/ReaderConfig/InputType: \"ManifestType\": \"S3_INVENTORY\" takes \"InputType\" MANIFEST, CSV"]
        );
    }
}
