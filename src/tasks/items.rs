//! A Distributed Map's `ItemReader`: the items of an S3 object (`arn:aws:states:::s3:getObject`
//! with `ReaderConfig.InputType` JSON, JSONL or CSV) or of an S3 listing
//! (`arn:aws:states:::s3:listObjectsV2`), read through the AWS client of `tasks::aws` and
//! parsed as Step Functions parses them. Failures are `States.ItemReaderFailed` with AWS's
//! causes, or the S3 error AWS names (`S3.NoSuchKeyException`).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::asl::error::StatesError;
use crate::asl::resource::Resource;
use crate::tasks::aws::client::{AwsClient, SharedClient};
use crate::tasks::aws::tasks::{sdk_call, Context};

/// The error of a reader that cannot give its items.
pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";

fn failed(cause: impl Into<String>) -> StatesError {
    StatesError::new(ITEM_READER_FAILED, cause.into())
}

/// How an object's text holds its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// One JSON array (or an object whose array `ItemsPointer` names).
    Json,
    /// One JSON value per line.
    Jsonl,
    /// Comma-separated (or other delimiter) rows, each an object by the headers.
    Csv,
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
    /// `InputType`.
    pub input_type: InputType,
    /// `CSVHeaderLocation` and `CSVHeaders`.
    pub headers: Headers,
    /// `CSVDelimiter` as a byte (`,` by default).
    pub delimiter: u8,
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
        let input_type = match text("InputType") {
            None | Some("JSON") => InputType::Json,
            Some("JSONL") => InputType::Jsonl,
            Some("CSV") => InputType::Csv,
            Some(other) => return Err(failed(format!("InputType {other} is not supported"))),
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
            headers,
            delimiter,
            max_items,
        })
    }
}

/// The items of an object's text.
///
/// # Errors
/// `States.ItemReaderFailed`: text that is not what `InputType` says, duplicate CSV headers,
/// JSON that is not an array.
pub fn parse_items(body: &[u8], config: &ReaderConfig) -> Result<Vec<Value>, StatesError> {
    let limit = config
        .max_items
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    match config.input_type {
        InputType::Json => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| failed(format!("the object is not JSON: {e}")))?;
            match value {
                Value::Array(mut items) => {
                    items.truncate(limit);
                    Ok(items)
                }
                _ => Err(failed("Attempting to map over non-iterable node.")),
            }
        }
        InputType::Jsonl => {
            let text = String::from_utf8_lossy(body);
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .take(limit)
                .map(|(i, l)| {
                    serde_json::from_str(l).map_err(|e| {
                        failed(format!("line {} of the object is not JSON: {e}", i + 1))
                    })
                })
                .collect()
        }
        InputType::Csv => csv_items(body, config, limit),
    }
}

fn csv_items(body: &[u8], config: &ReaderConfig, limit: usize) -> Result<Vec<Value>, StatesError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(config.delimiter)
        .from_reader(body);
    let mut records = reader.records();
    let headers: Vec<String> = match &config.headers {
        Headers::Given(h) => h.clone(),
        Headers::FirstRow => match records.next() {
            Some(row) => row
                .map_err(|e| failed(format!("the CSV object is malformed: {e}")))?
                .iter()
                .map(str::to_string)
                .collect(),
            None => Vec::new(),
        },
    };
    let mut seen = std::collections::HashSet::new();
    if !headers.iter().all(|h| seen.insert(h.as_str())) {
        return Err(failed("CSV headers cannot contain duplicates."));
    }
    let mut items = Vec::new();
    for row in records.take(limit) {
        let row = row.map_err(|e| failed(format!("the CSV object is malformed: {e}")))?;
        let mut item = Map::new();
        for (i, header) in headers.iter().enumerate() {
            item.insert(
                header.clone(),
                Value::String(row.get(i).unwrap_or("").to_string()),
            );
        }
        items.push(Value::Object(item));
    }
    Ok(items)
}

/// Reads the items of an `ItemReader` from S3 through the AWS client (built on first use from
/// the standard settings, `AWS_ENDPOINT_URL_S3` included).
#[derive(Clone, Default)]
pub struct ItemReader {
    client: SharedClient,
    endpoint: Option<String>,
}

impl ItemReader {
    /// A reader whose client is built on first use.
    pub fn new() -> Self {
        ItemReader::default()
    }

    /// A reader that sends every request to `endpoint` (an emulator), whatever the
    /// environment says.
    pub fn with_endpoint(endpoint: &str) -> Self {
        ItemReader {
            client: SharedClient::default(),
            endpoint: Some(endpoint.to_string()),
        }
    }

    /// The items `resource` (`s3:getObject` or `s3:listObjectsV2`) gives for the reader's
    /// effective `parameters` (`Bucket`, `Key` / `Prefix`, ...), for the state `state` of
    /// `execution_arn`.
    ///
    /// # Errors
    /// The S3 error as Step Functions names it (`S3.NoSuchKeyException`), or
    /// `States.ItemReaderFailed`.
    pub async fn read(
        &self,
        resource: &Resource,
        parameters: &Value,
        config: &ReaderConfig,
        execution_arn: &str,
        state: &str,
    ) -> Result<Vec<Value>, StatesError> {
        let client = Arc::clone(&self.client);
        let client = client
            .get_or_init(|| AwsClient::with_endpoint(self.endpoint.clone()))
            .await;
        let context = Context {
            execution_arn: execution_arn.to_string(),
            state_name: state.to_string(),
        };
        if resource.is("s3", "getObject") {
            let answer = sdk_call(client, "s3", "getObject", parameters, None, &context).await?;
            let body = answer.get("Body").and_then(Value::as_str).unwrap_or("");
            return parse_items(body.as_bytes(), config);
        }
        if resource.is("s3", "listObjectsV2") {
            return list_objects(client, parameters, config, &context).await;
        }
        Err(failed(format!(
            "the ItemReader resource {} is not s3:getObject or s3:listObjectsV2",
            resource.as_str()
        )))
    }
}

impl ItemReader {
    /// Writes `body` to `s3://bucket/key` (a `ResultWriter`'s files), for the state `state`
    /// of `execution_arn`.
    ///
    /// # Errors
    /// The S3 error as Step Functions names it.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: String,
        execution_arn: &str,
        state: &str,
    ) -> Result<(), StatesError> {
        let client = Arc::clone(&self.client);
        let client = client
            .get_or_init(|| AwsClient::with_endpoint(self.endpoint.clone()))
            .await;
        let context = Context {
            execution_arn: execution_arn.to_string(),
            state_name: state.to_string(),
        };
        let params = serde_json::json!({"Bucket": bucket, "Key": key, "Body": body});
        sdk_call(client, "s3", "putObject", &params, None, &context).await?;
        Ok(())
    }
}

/// Every object of a listing (all pages), each as Step Functions gives it:
/// `{Etag, Key, LastModified (epoch seconds), Size, StorageClass}`.
async fn list_objects(
    client: &AwsClient,
    parameters: &Value,
    config: &ReaderConfig,
    context: &Context,
) -> Result<Vec<Value>, StatesError> {
    let limit = config
        .max_items
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut items = Vec::new();
    let mut params = parameters.clone();
    loop {
        let page = sdk_call(client, "s3", "listObjectsV2", &params, None, context).await?;
        for object in page
            .get("Contents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if items.len() >= limit {
                return Ok(items);
            }
            let mut item = Map::new();
            let field = |name: &str| object.get(name).cloned().unwrap_or(Value::Null);
            item.insert("Etag".into(), field("ETag"));
            item.insert("Key".into(), field("Key"));
            let modified = object
                .get("LastModified")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map_or(Value::Null, |t| Value::from(t.timestamp()));
            item.insert("LastModified".into(), modified);
            item.insert("Size".into(), field("Size"));
            item.insert("StorageClass".into(), field("StorageClass"));
            items.push(Value::Object(item));
        }
        let next = page
            .get("NextContinuationToken")
            .and_then(Value::as_str)
            .filter(|_| page.get("IsTruncated") == Some(&Value::Bool(true)));
        match (next, params.as_object_mut()) {
            (Some(token), Some(p)) => {
                p.insert("ContinuationToken".into(), Value::String(token.to_string()));
            }
            _ => return Ok(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(c: Value, max: Option<i64>) -> ReaderConfig {
        ReaderConfig::from_json(&c, max).expect("config")
    }

    #[test]
    fn csv_rows_become_objects_by_their_headers() {
        let first = config(
            json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
            None,
        );
        let body = b"Col1,Col2,Col3\nValue1,Value2,Value3\nValue4,Value5,Value6\n,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n";
        assert_eq!(
            parse_items(body, &first).expect("items"),
            json!([
                {"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"},
                {"Col1": "Value4", "Col2": "Value5", "Col3": "Value6"},
                {"Col1": "", "Col2": "", "Col3": ""},
                {"Col1": "true", "Col2": "1", "Col3": "'HelloWorld'"},
                {"Col1": "Null", "Col2": "None", "Col3": ""},
                {"Col1": "   ", "Col2": "", "Col3": ""}
            ])
            .as_array()
            .cloned()
            .expect("array")
        );
        // Extra fields are dropped; an empty header is a key like any other.
        let body = b"H1,\nValue4,Value5,Value6\n,,,\n";
        assert_eq!(
            parse_items(body, &first).expect("items"),
            vec![
                json!({"H1": "Value4", "": "Value5"}),
                json!({"H1": "", "": ""})
            ]
        );
        let given = config(
            json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1"]}),
            None,
        );
        assert_eq!(
            parse_items(b"a,b\nc,d\n", &given).expect("items"),
            vec![json!({"H1": "a"}), json!({"H1": "c"})]
        );
        let duplicate = config(
            json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H", "H"]}),
            None,
        );
        let e = parse_items(b"a,b\n", &duplicate).unwrap_err();
        assert_eq!(
            (e.error.as_str(), e.cause.as_deref()),
            (
                ITEM_READER_FAILED,
                Some("CSV headers cannot contain duplicates.")
            )
        );
        let piped = config(json!({"InputType": "CSV", "CSVDelimiter": "PIPE"}), Some(2));
        assert_eq!(
            parse_items(b"a|b\n1|\"x|y\"\n2|z\n3|w\n", &piped).expect("items"),
            vec![json!({"a": "1", "b": "x|y"}), json!({"a": "2", "b": "z"})]
        );
    }

    #[test]
    fn json_and_jsonl_objects() {
        let json_config = config(json!({"InputType": "JSON"}), Some(2));
        assert_eq!(
            parse_items(b"[1, {\"a\": 2}, 3]", &json_config).expect("items"),
            vec![json!(1), json!({"a": 2})]
        );
        let e = parse_items(b"{\"a\": 1}", &json_config).unwrap_err();
        assert_eq!(
            e.cause.as_deref(),
            Some("Attempting to map over non-iterable node.")
        );
        assert!(parse_items(b"[1,", &json_config).is_err());
        let lines = config(json!({"InputType": "JSONL"}), None);
        assert_eq!(
            parse_items(b"{\"a\":1}\n\n[2]\n\"three\"\n", &lines).expect("items"),
            vec![json!({"a": 1}), json!([2]), json!("three")]
        );
        let e = parse_items(b"{\"a\":1}\nnot json\n", &lines).unwrap_err();
        assert!(
            e.cause
                .as_deref()
                .is_some_and(|c| c.starts_with("line 2 of the object is not JSON")),
            "{e:?}"
        );
        let e = ReaderConfig::from_json(&json!({}), Some(-1)).unwrap_err();
        assert_eq!(e.cause.as_deref(), Some("field MaxItems must be positive"));
        assert_eq!(config(json!({}), Some(0)).max_items, None);
    }
}
