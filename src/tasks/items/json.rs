//! JSON and JSON Lines objects: the items of a JSON array, or of a JSON object's entries
//! (`{"Key": ..., "Value": ...}` each, as Step Functions gives them), at the root or at
//! `ReaderConfig.ItemsPointer`; and one item a line of a JSONL object.

use serde_json::{Map, Value};

use super::failed;
use crate::asl::error::StatesError;

/// AWS's cause for items that are neither an array nor an object.
pub const NOT_ITERABLE: &str = "Attempting to map over non-iterable node.";

/// The items of a JSON object's bytes, at `pointer` (the root when `None`), at most `limit`.
///
/// # Errors
/// `States.ItemReaderFailed`: bytes that are not JSON, a pointer that names nothing, a value
/// there that is neither an array nor an object.
pub fn json_items(
    body: &[u8],
    pointer: Option<&str>,
    limit: usize,
) -> Result<Vec<Value>, StatesError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| failed(format!("the object is not JSON: {e}")))?;
    let value = match pointer {
        None => value,
        Some(p) => match value.pointer(p) {
            Some(v) => v.clone(),
            None => {
                return Err(failed(format!(
                    "the ItemsPointer {p} names no value in the JSON object"
                )))
            }
        },
    };
    match value {
        Value::Array(mut items) => {
            items.truncate(limit);
            Ok(items)
        }
        // A JSON object's entries are the items, each `{"Key": ..., "Value": ...}`.
        Value::Object(entries) => Ok(entries
            .into_iter()
            .take(limit)
            .map(|(key, value)| {
                let mut item = Map::new();
                item.insert("Key".into(), Value::String(key));
                item.insert("Value".into(), value);
                Value::Object(item)
            })
            .collect()),
        _ => Err(failed(NOT_ITERABLE)),
    }
}

/// The items of a JSON Lines object: one JSON value a line, blank lines skipped, at most
/// `limit`.
///
/// # Errors
/// `States.ItemReaderFailed` naming the first line that is not JSON.
pub fn jsonl_items(body: &[u8], limit: usize) -> Result<Vec<Value>, StatesError> {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(limit)
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| failed(format!("line {} of the object is not JSON: {e}", i + 1)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cause(e: StatesError) -> (String, String) {
        (e.error, e.cause.unwrap_or_default())
    }

    #[test]
    fn items_pointer_picks_the_array_inside_an_object() {
        let body = br#"{"meta": {"n": 2}, "data": {"items": [{"id": 1}, {"id": 2}, {"id": 3}]}}"#;
        assert_eq!(
            json_items(body, Some("/data/items"), 2).expect("items"),
            vec![json!({"id": 1}), json!({"id": 2})]
        );
        assert_eq!(
            cause(json_items(body, Some("/data/none"), usize::MAX).unwrap_err()),
            (
                "States.ItemReaderFailed".into(),
                "the ItemsPointer /data/none names no value in the JSON object".into()
            )
        );
        assert_eq!(
            cause(json_items(body, Some("/meta/n"), usize::MAX).unwrap_err()),
            (
                "States.ItemReaderFailed".into(),
                "Attempting to map over non-iterable node.".into()
            )
        );
    }

    #[test]
    fn an_object_gives_its_entries_as_key_and_value() {
        let body = br#"{"config": {"a": {"x": 1}, "b": [2]}}"#;
        assert_eq!(
            json_items(body, Some("/config"), usize::MAX).expect("items"),
            vec![
                json!({"Key": "a", "Value": {"x": 1}}),
                json!({"Key": "b", "Value": [2]})
            ]
        );
        assert_eq!(
            json_items(br#"{"z": 1, "a": 2}"#, None, 1).expect("items"),
            vec![json!({"Key": "z", "Value": 1})]
        );
    }

    #[test]
    fn malformed_json_and_jsonl_name_the_place() {
        assert_eq!(
            cause(json_items(b"[1,", None, usize::MAX).unwrap_err()),
            (
                "States.ItemReaderFailed".into(),
                "the object is not JSON: EOF while parsing a value at line 1 column 3".into()
            )
        );
        assert_eq!(
            cause(json_items(b"\"text\"", None, usize::MAX).unwrap_err()).1,
            "Attempting to map over non-iterable node."
        );
        assert_eq!(
            jsonl_items(b"{\"a\":1}\n\n[2]\n\"three\"\n", usize::MAX).expect("items"),
            vec![json!({"a": 1}), json!([2]), json!("three")]
        );
        assert_eq!(
            cause(jsonl_items(b"{\"a\":1}\nnot json\n", usize::MAX).unwrap_err()),
            (
                "States.ItemReaderFailed".into(),
                "line 2 of the object is not JSON: expected ident at line 1 column 2".into()
            )
        );
    }
}
