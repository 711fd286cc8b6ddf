//! The ItemReader formats of a Distributed Map through the real binary against moto's S3:
//! `ItemsPointer` (an array and an object's entries inside a JSON object), PARQUET, an S3
//! Inventory `manifest.json` with gzipped CSV data files, and Athena data manifests of
//! PARQUET and gzipped CSV files; each run with `stepfn run --store memory` and
//! `--store dynamodb` (DynamoDB Local), and through `stepfn serve` with boto3
//! (`tests/clients/sfn_run.py`). The error paths too: a JSONL line that is not JSON,
//! a missing key and a missing bucket, with the errors AWS names.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::support::lambda_watch::root;
use crate::support::lambda_watch::{dynamodb_endpoint, report, unique};
use crate::support::moto::moto_endpoint;
use crate::support::python::venv;
use crate::support::serve::Server;

/// One bucket of moto's S3, made for one test.
struct Bucket {
    moto: String,
    name: String,
}

impl Bucket {
    fn new(prefix: &str) -> Bucket {
        let bucket = Bucket {
            moto: moto_endpoint(),
            name: unique(prefix).to_lowercase(),
        };
        bucket.send(format!("{}/{}", bucket.moto, bucket.name), Vec::new());
        bucket
    }

    /// Puts `body` at `key` (moto takes unsigned requests).
    fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        self.send(format!("{}/{}/{key}", self.moto, self.name), body.into());
    }

    fn send(&self, url: String, body: Vec<u8>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let status = rt
            .block_on(async { reqwest::Client::new().put(&url).body(body).send().await })
            .unwrap_or_else(|e| panic!("PUT {url}: {e}"))
            .status();
        assert!(status.is_success(), "PUT {url}: {status}");
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }
}

/// A Distributed Map of EXPRESS Pass children over `reader`: its output is the items.
fn machine(reader: Value) -> Value {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "ItemReader": reader,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Echo",
            "States": {"Echo": {"Type": "Pass", "End": true}}
        },
        "End": true
    }}})
}

fn get_object(bucket: &Bucket, key: &str, config: Value) -> Value {
    machine(json!({
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": config,
        "Parameters": {"Bucket": bucket.name, "Key": key}
    }))
}

fn stepfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepfn"));
    c.env("AWS_ENDPOINT_URL_S3", moto_endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE");
    c
}

fn definition_file(definition: &Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}.asl.json", unique("readers")));
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(definition.to_string().as_bytes()))
        .expect("the definition is written");
    path
}

/// `stepfn run --format json` of `definition` on `store` ("memory" or "dynamodb"): the
/// printed `{status, output, error, cause}`.
fn run(definition: &Value, store: &str) -> Value {
    let path = definition_file(definition);
    let mut args = vec![
        "run".to_string(),
        path.display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    if store == "dynamodb" {
        let table = unique("readers");
        let endpoint = dynamodb_endpoint();
        let store_args = [
            "--store".to_string(),
            "dynamodb".into(),
            "--table".into(),
            table,
            "--dynamodb-endpoint".into(),
            endpoint,
        ];
        let init = stepfn()
            .arg("init")
            .args(&store_args)
            .output()
            .expect("stepfn init runs");
        assert!(
            init.status.success(),
            "stepfn init: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        args.extend(store_args);
    }
    let out = stepfn().args(&args).output().expect("stepfn runs");
    let _ = std::fs::remove_file(&path);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stepfn run printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `definition` run through a `stepfn serve` by boto3 (`tests/clients/sfn_run.py`): what
/// `stepfn run --format json` prints.
fn run_through_serve(definition: &Value) -> Value {
    let server = Server::start(stepfn(), &[]);
    let path = definition_file(definition);
    let out = Command::new(venv().join("bin/python"))
        .arg(root().join("tests/clients/sfn_run.py"))
        .args(["--serve", &server.endpoint])
        .arg("--definition")
        .arg(&path)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("python runs");
    let _ = std::fs::remove_file(&path);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "sfn_run.py printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `definition` run on `place`: `stepfn run` on the memory or DynamoDB store, or `serve`.
fn run_on(definition: &Value, place: &str) -> Value {
    match place {
        "serve" => run_through_serve(definition),
        store => run(definition, store),
    }
}

/// Runs `definition` on both stores and through `serve` with boto3, and checks each gave
/// `items`.
fn assert_items(definition: &Value, items: Value) {
    for store in ["memory", "dynamodb", "serve"] {
        let printed = run_on(definition, store);
        assert_eq!(printed["status"], "SUCCEEDED", "{store}: {printed}");
        assert_eq!(printed["output"], items, "{store}");
    }
}

/// Runs `definition` on both stores and through `serve` with boto3, and checks each failed
/// with `error` and `cause`.
fn assert_fails(definition: &Value, error: &str, cause: &dyn Fn(&str) -> bool) {
    for store in ["memory", "dynamodb", "serve"] {
        let printed = run_on(definition, store);
        assert_eq!(printed["status"], "FAILED", "{store}: {printed}");
        assert_eq!(printed["error"], error, "{store}: {printed}");
        let text = printed["cause"].as_str().unwrap_or_default();
        assert!(cause(text), "{store}: unexpected cause {text}");
    }
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A Parquet file of `(id, name)` rows, Snappy pages, written by the parquet crate.
fn parquet_file(rows: &[(i64, &str)]) -> Vec<u8> {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    let schema = Arc::new(
        parse_message_type("message row { REQUIRED INT64 id; REQUIRED BYTE_ARRAY name (UTF8); }")
            .expect("schema"),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, schema, props).expect("writer");
    let mut group = writer.next_row_group().expect("row group");
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let names: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.1)).collect();
    let mut column = group.next_column().expect("id").expect("a column");
    column
        .typed::<Int64Type>()
        .write_batch(&ids, None, None)
        .expect("ids");
    column.close().expect("close");
    let mut column = group.next_column().expect("name").expect("a column");
    column
        .typed::<ByteArrayType>()
        .write_batch(&names, None, None)
        .expect("names");
    column.close().expect("close");
    group.close().expect("group");
    writer.close().expect("file");
    out
}

#[test]
fn items_pointer_reads_an_array_or_an_objects_entries_inside_json() {
    let bucket = Bucket::new("pointer");
    bucket.put(
        "orders.json",
        json!({"meta": {"count": 3},
               "data": {"orders": [{"id": 1}, {"id": 2}, {"id": 3}],
                        "regions": {"eu": {"rate": 0.2}, "us": {"rate": 0.1}}}})
        .to_string(),
    );
    assert_items(
        &get_object(
            &bucket,
            "orders.json",
            json!({"InputType": "JSON", "ItemsPointer": "/data/orders", "MaxItems": 2}),
        ),
        json!([{"id": 1}, {"id": 2}]),
    );
    assert_items(
        &get_object(
            &bucket,
            "orders.json",
            json!({"InputType": "JSON", "ItemsPointer": "/data/regions"}),
        ),
        json!([{"Key": "eu", "Value": {"rate": 0.2}}, {"Key": "us", "Value": {"rate": 0.1}}]),
    );
    assert_fails(
        &get_object(
            &bucket,
            "orders.json",
            json!({"InputType": "JSON", "ItemsPointer": "/meta/count"}),
        ),
        "States.ItemReaderFailed",
        &|c| c == "Attempting to map over non-iterable node.",
    );
    report("item reader: ItemsPointer (array, object entries) on memory and DynamoDB");
}

#[test]
fn parquet_rows_are_the_items() {
    let bucket = Bucket::new("parquet");
    bucket.put(
        "rows.parquet",
        parquet_file(&[(1, "ant"), (2, "bee"), (3, "cat")]),
    );
    assert_items(
        &get_object(&bucket, "rows.parquet", json!({"InputType": "PARQUET"})),
        json!([{"id": 1, "name": "ant"}, {"id": 2, "name": "bee"}, {"id": 3, "name": "cat"}]),
    );
    bucket.put("not.parquet", "id,name\n1,ant\n");
    assert_fails(
        &get_object(&bucket, "not.parquet", json!({"InputType": "PARQUET"})),
        "States.ItemReaderFailed",
        &|c| c.starts_with("the object is not a readable Parquet file: "),
    );
    report("item reader: PARQUET rows on memory and DynamoDB");
}

#[test]
fn an_s3_inventory_manifest_gives_the_rows_of_its_gzipped_csv_files() {
    let bucket = Bucket::new("inventory");
    let data = "photos/daily/data";
    bucket.put(
        &format!("{data}/1.csv.gz"),
        gzip("\"photos\",\"a.jpg\",\"120\",\"2026-01-01T00:00:00.000Z\"\n\"photos\",\"b.jpg\",\"80\",\"2026-01-02T00:00:00.000Z\"\n"),
    );
    bucket.put(
        &format!("{data}/2.csv.gz"),
        gzip("\"photos\",\"c.jpg\",\"5\",\"2026-01-03T00:00:00.000Z\"\n"),
    );
    let manifest = json!({
        "sourceBucket": "photos",
        "destinationBucket": format!("arn:aws:s3:::{}", bucket.name),
        "version": "2016-11-30",
        "creationTimestamp": "1767225600000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [
            {"key": format!("{data}/1.csv.gz"), "size": 100, "MD5checksum": "00"},
            {"key": format!("{data}/2.csv.gz"), "size": 60, "MD5checksum": "00"}
        ]
    });
    bucket.put(
        "photos/daily/2026-01-04T00-00Z/manifest.json",
        manifest.to_string(),
    );
    let row = |key: &str, size: &str, day: &str| {
        json!({"Bucket": "photos", "Key": key, "Size": size,
               "LastModifiedDate": format!("2026-01-0{day}T00:00:00.000Z")})
    };
    assert_items(
        &get_object(
            &bucket,
            "photos/daily/2026-01-04T00-00Z/manifest.json",
            json!({"InputType": "MANIFEST"}),
        ),
        json!([
            row("a.jpg", "120", "1"),
            row("b.jpg", "80", "2"),
            row("c.jpg", "5", "3")
        ]),
    );
    // MaxItems stops before the second data file.
    assert_items(
        &get_object(
            &bucket,
            "photos/daily/2026-01-04T00-00Z/manifest.json",
            json!({"InputType": "MANIFEST", "ManifestType": "S3_INVENTORY", "MaxItems": 1}),
        ),
        json!([row("a.jpg", "120", "1")]),
    );
    report("item reader: S3 Inventory manifest (gzipped CSV) on memory and DynamoDB");
}

#[test]
fn an_athena_data_manifest_reads_each_listed_file() {
    let bucket = Bucket::new("athena");
    bucket.put("unload/1.parquet", parquet_file(&[(1, "ant"), (2, "bee")]));
    bucket.put("unload/2.parquet", parquet_file(&[(3, "cat")]));
    bucket.put(
        "unload/manifest.csv",
        format!(
            "{}\n{}\n",
            bucket.uri("unload/1.parquet"),
            bucket.uri("unload/2.parquet")
        ),
    );
    assert_items(
        &get_object(
            &bucket,
            "unload/manifest.csv",
            json!({"InputType": "PARQUET", "ManifestType": "ATHENA_DATA"}),
        ),
        json!([{"id": 1, "name": "ant"}, {"id": 2, "name": "bee"}, {"id": 3, "name": "cat"}]),
    );
    bucket.put("text/1.gz", gzip("id|name\n1|ant\n"));
    bucket.put("text/2.gz", gzip("id|name\n2|bee\n"));
    bucket.put(
        "text/manifest.csv",
        format!("{}\n{}\n", bucket.uri("text/1.gz"), bucket.uri("text/2.gz")),
    );
    assert_items(
        &get_object(
            &bucket,
            "text/manifest.csv",
            json!({"InputType": "CSV", "ManifestType": "ATHENA_DATA",
                   "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": "PIPE"}),
        ),
        json!([{"id": "1", "name": "ant"}, {"id": "2", "name": "bee"}]),
    );
    bucket.put(
        "gone/manifest.csv",
        format!("{}\n", bucket.uri("gone/missing.parquet")),
    );
    assert_fails(
        &get_object(
            &bucket,
            "gone/manifest.csv",
            json!({"InputType": "PARQUET", "ManifestType": "ATHENA_DATA"}),
        ),
        "S3.NoSuchKeyException",
        &|c| c.starts_with("The specified key does not exist."),
    );
    report("item reader: Athena data manifests (PARQUET, gzipped CSV) on memory and DynamoDB");
}

#[test]
fn malformed_objects_and_missing_keys_and_buckets_fail_with_aws_errors() {
    let bucket = Bucket::new("broken");
    bucket.put("lines.jsonl", "{\"a\": 1}\n{\"a\": \n");
    assert_fails(
        &get_object(&bucket, "lines.jsonl", json!({"InputType": "JSONL"})),
        "States.ItemReaderFailed",
        &|c| c.starts_with("line 2 of the object is not JSON: "),
    );
    assert_fails(
        &get_object(&bucket, "nope.json", json!({"InputType": "JSON"})),
        "S3.NoSuchKeyException",
        &|c| c.starts_with("The specified key does not exist. (Service: S3, Status Code: 404"),
    );
    let missing = Bucket {
        moto: moto_endpoint(),
        name: unique("absent").to_lowercase(),
    };
    assert_fails(
        &get_object(&missing, "any.json", json!({"InputType": "JSON"})),
        "S3.NoSuchBucketException",
        &|c| c.starts_with("The specified bucket does not exist (Service: S3, Status Code: 404"),
    );
    report("item reader: malformed JSONL, missing key and bucket on memory and DynamoDB");
}
