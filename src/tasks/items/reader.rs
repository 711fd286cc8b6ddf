//! A Distributed Map's `ItemReader`: the items of an S3 object (`arn:aws:states:::s3:getObject`
//! with `ReaderConfig.InputType` JSON, JSONL or CSV) or of an S3 listing
//! (`arn:aws:states:::s3:listObjectsV2`), read through the AWS client of `tasks::aws` and
//! parsed as Step Functions parses them. Failures are `States.ItemReaderFailed` with AWS's
//! causes, or the S3 error AWS names (`S3.NoSuchKeyException`).

//! The S3 side of an `ItemReader`: `s3:getObject` of the object (and of the data files a
//! manifest names) and `s3:listObjectsV2` of a prefix, through the AWS client of `tasks::aws`;
//! [`parse_items`] turns one object's bytes into items by `ReaderConfig.InputType`.

use serde_json::{Map, Value};

use super::config::{Headers, InputType, ManifestType, ReaderConfig};
use super::manifest::{athena_files, gunzipped, inventory, S3Object};
use super::{csv, failed, json, limit_of, parquet};
use crate::asl::error::StatesError;
use crate::asl::resource::Resource;
use crate::tasks::aws::client::{AwsClient, SharedClient};
use crate::tasks::aws::tasks::{sdk_answer, sdk_call, Context};

/// The items of one object's bytes, by `config.input_type` (JSON at `ItemsPointer`, JSONL,
/// CSV, PARQUET), at most `MaxItems`.
///
/// # Errors
/// `States.ItemReaderFailed`: bytes that are not what `InputType` says, duplicate CSV
/// headers, JSON that is neither an array nor an object; `InputType` MANIFEST, whose items
/// are in other objects ([`ItemReader::read`] follows them).
pub fn parse_items(body: &[u8], config: &ReaderConfig) -> Result<Vec<Value>, StatesError> {
    parse_limited(body.to_vec(), config, limit_of(config))
}

fn parse_limited(
    body: Vec<u8>,
    config: &ReaderConfig,
    limit: usize,
) -> Result<Vec<Value>, StatesError> {
    match config.input_type {
        InputType::Json => json::json_items(&body, config.items_pointer.as_deref(), limit),
        InputType::Jsonl => json::jsonl_items(&body, limit),
        InputType::Csv => csv::csv_items(&body, &config.headers, config.delimiter, limit),
        InputType::Parquet => parquet::parquet_items(body, limit),
        InputType::Manifest => Err(failed(
            "a MANIFEST object's items are in the data files it names, read from S3",
        )),
    }
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

    /// The S3 client (built on first use) and the context of a call made for the state
    /// `state` of `execution_arn`.
    async fn session(&self, execution_arn: &str, state: &str) -> (&AwsClient, Context) {
        let client = self
            .client
            .get_or_init(|| AwsClient::with_endpoint(self.endpoint.clone()))
            .await;
        let context = Context {
            execution_arn: execution_arn.to_string(),
            state_name: state.to_string(),
        };
        (client, context)
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
        let (client, context) = self.session(execution_arn, state).await;
        if resource.is("s3", "getObject") {
            let body = object_bytes(client, parameters, &context).await?;
            let limit = limit_of(config);
            return match config.manifest_type {
                None => parse_limited(body, config, limit),
                Some(ManifestType::S3Inventory) => {
                    let own = parameters
                        .get("Bucket")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let manifest = inventory(&body, own)?;
                    let rows = ReaderConfig {
                        input_type: InputType::Csv,
                        manifest_type: None,
                        headers: Headers::Given(manifest.schema),
                        delimiter: b',',
                        items_pointer: None,
                        max_items: config.max_items,
                    };
                    data_files(client, &manifest.files, &rows, limit, &context).await
                }
                Some(ManifestType::AthenaData) => {
                    let files = athena_files(&body)?;
                    let data = ReaderConfig {
                        manifest_type: None,
                        ..config.clone()
                    };
                    data_files(client, &files, &data, limit, &context).await
                }
            };
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
        let (client, context) = self.session(execution_arn, state).await;
        let params = serde_json::json!({"Bucket": bucket, "Key": key, "Body": body});
        sdk_call(client, "s3", "putObject", &params, None, &context).await?;
        Ok(())
    }
}

/// The bytes of the object `parameters` (`Bucket`, `Key`, `VersionId`, ...) name, as S3 sent
/// them (binary objects included).
async fn object_bytes(
    client: &AwsClient,
    parameters: &Value,
    context: &Context,
) -> Result<Vec<u8>, StatesError> {
    let answer = sdk_answer(client, "s3", "getObject", parameters, None, context).await?;
    Ok(answer.response.body)
}

/// The items of a manifest's data files, in the manifest's order, each gunzipped if it is
/// gzip and read by `config`, until `limit` items.
async fn data_files(
    client: &AwsClient,
    files: &[S3Object],
    config: &ReaderConfig,
    limit: usize,
    context: &Context,
) -> Result<Vec<Value>, StatesError> {
    let mut items = Vec::new();
    for file in files {
        if items.len() >= limit {
            break;
        }
        let params = serde_json::json!({"Bucket": file.bucket, "Key": file.key});
        let body = gunzipped(object_bytes(client, &params, context).await?, &file.key)?;
        items.extend(parse_limited(body, config, limit - items.len())?);
    }
    Ok(items)
}

/// Every object of a listing (all pages), each as Step Functions gives it:
/// `{Etag, Key, LastModified (epoch seconds), Size, StorageClass}`.
async fn list_objects(
    client: &AwsClient,
    parameters: &Value,
    config: &ReaderConfig,
    context: &Context,
) -> Result<Vec<Value>, StatesError> {
    let limit = limit_of(config);
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
    use crate::tasks::items::ITEM_READER_FAILED;
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
    fn json_jsonl_and_parquet_objects_by_input_type() {
        let json_config = config(json!({"InputType": "JSON"}), Some(2));
        assert_eq!(
            parse_items(b"[1, {\"a\": 2}, 3]", &json_config).expect("items"),
            vec![json!(1), json!({"a": 2})]
        );
        // A JSON object's entries are its items (AWS answered "Attempting to map over
        // non-iterable node." in 2023; since 2025 it iterates key-value pairs).
        assert_eq!(
            parse_items(b"{\"a\": 1}", &json_config).expect("items"),
            vec![json!({"Key": "a", "Value": 1})]
        );
        let pointed = config(
            json!({"InputType": "JSON", "ItemsPointer": "/page/rows"}),
            None,
        );
        assert_eq!(
            parse_items(b"{\"page\": {\"rows\": [\"x\", \"y\"]}}", &pointed).expect("items"),
            vec![json!("x"), json!("y")]
        );
        let lines = config(json!({"InputType": "JSONL"}), Some(1));
        assert_eq!(
            parse_items(b"{\"a\":1}\n{\"a\":2}\n", &lines).expect("items"),
            vec![json!({"a": 1})]
        );
        let parquet = config(json!({"InputType": "PARQUET"}), None);
        let file = crate::tasks::items::parquet::tests::parquet_file(
            &[(7, "owl", 1.5)],
            ::parquet::basic::Compression::SNAPPY,
        );
        assert_eq!(
            parse_items(&file, &parquet).expect("items"),
            vec![json!({"id": 7, "name": "owl", "score": 1.5})]
        );
        let e = ReaderConfig::from_json(&json!({}), Some(-1)).unwrap_err();
        assert_eq!(e.cause.as_deref(), Some("field MaxItems must be positive"));
        assert_eq!(config(json!({}), Some(0)).max_items, None);
    }
}
