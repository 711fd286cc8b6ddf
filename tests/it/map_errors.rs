//! A Distributed Map's error paths and its ResultWriter's `WriterConfig`, through `stepfn run`
//! on the memory store and on DynamoDB Local, against moto's S3: a missing bucket or key of an
//! `ItemReader` (the S3 error AWS names), a `ResultWriter` to a missing bucket
//! (`States.ResultWriterFailed`), results over 256 KiB without a ResultWriter
//! (`States.DataLimitExceeded`), an item over the 256 KiB of a batch, bad `ItemBatcher` and
//! `WriterConfig` values; and the same through `stepfn serve` with boto3
//! (tests/clients/distributed_errors.py).

use std::process::Command;

use regex::Regex;
use serde_json::{json, Value};

use crate::support::lambda_watch::{dynamodb_endpoint, report};
use crate::support::moto::moto_endpoint;
use crate::support::python::run_client;
use crate::support::serve::Server;

fn stepfn(moto: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepfn"));
    c.env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
    c
}

/// Where `stepfn run` keeps its executions.
#[derive(Clone)]
enum Store {
    Memory,
    Dynamodb { endpoint: String, table: String },
}

impl Store {
    fn both() -> [Store; 2] {
        let table = format!("maperr{}", std::process::id());
        [
            Store::Memory,
            Store::Dynamodb {
                endpoint: dynamodb_endpoint(),
                table,
            },
        ]
    }

    fn args(&self) -> Vec<String> {
        match self {
            Store::Memory => vec!["--store".into(), "memory".into()],
            Store::Dynamodb { endpoint, table } => vec![
                "--store".into(),
                "dynamodb".into(),
                "--table".into(),
                table.clone(),
                "--dynamodb-endpoint".into(),
                endpoint.clone(),
            ],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::Dynamodb { .. } => "dynamodb",
        }
    }

    /// Makes the table once (a no-op on memory).
    fn init(&self, moto: &str) {
        if let Store::Dynamodb { .. } = self {
            let out = stepfn(moto)
                .arg("init")
                .args(self.args())
                .output()
                .expect("stepfn init");
            assert!(
                out.status.success(),
                "init: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `stepfn run --format json` of `definition` on `input`: `{status, output, error, cause}`.
fn run(moto: &str, store: &Store, name: &str, definition: &Value, input: &Value) -> Value {
    let path = std::env::temp_dir().join(format!(
        "maperr-{}-{name}-{}.asl.json",
        std::process::id(),
        store.name()
    ));
    std::fs::write(&path, definition.to_string()).expect("write the definition");
    // An input over 128 KiB is too long for one argument.
    let input_path = path.with_extension("input.json");
    std::fs::write(&input_path, input.to_string()).expect("write the input");
    let out = stepfn(moto)
        .arg("run")
        .arg(&path)
        .args(["--name", name, "--format", "json", "--input-file"])
        .arg(&input_path)
        .args(store.args())
        .output()
        .expect("stepfn runs");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&input_path);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name} on {}: no JSON ({e}): {}\n{}",
            store.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A machine of one Distributed Map `Fan` whose children run `work`.
fn fan(work: Value, extra: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work",
            "States": {"Work": work}
        },
        "End": true
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut map, extra) {
        m.extend(e);
    }
    json!({"StartAt": "Fan", "States": {"Fan": map}})
}

fn pass() -> Value {
    json!({"Type": "Pass", "End": true})
}

/// Makes `bucket` on moto and puts `items.json` (three items) in it.
fn make_bucket(moto: &str, bucket: &str) {
    let def = json!({"StartAt": "B", "States": {
        "B": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:createBucket",
              "Parameters": {"Bucket": bucket}, "Next": "P"},
        "P": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
              "Parameters": {"Bucket": bucket, "Key": "items.json",
                             "Body": "[{\"n\": 1}, {\"n\": 2}, {\"n\": 3}]"}, "End": true}}});
    let got = run(moto, &Store::Memory, "mkbucket", &def, &json!({}));
    assert_eq!(got["status"], "SUCCEEDED", "{got}");
}

fn assert_failed(got: &Value, error: &str, cause: &Regex, what: &str) {
    assert_eq!(got["status"], "FAILED", "{what}: {got}");
    assert_eq!(got["error"], error, "{what}: {got}");
    let text = got["cause"].as_str().unwrap_or_default();
    assert!(cause.is_match(text), "{what}: cause {text:?} !~ {cause}");
}

/// The tail AWS's SDK for Java puts on an S3 error's message.
const S3_TAIL: &str =
    r" \(Service: S3, Status Code: 404, Request ID: [^,()]+(, Extended Request ID: [^()]+)?\)";

fn exact(text: &str) -> Regex {
    Regex::new(&format!("^{}$", regex::escape(text))).expect("regex")
}

#[test]
fn s3_errors_of_reader_and_writer_through_run_on_memory_and_dynamodb() {
    let moto = moto_endpoint();
    let bucket = format!("maperr-{}", std::process::id());
    make_bucket(&moto, &bucket);
    let missing = format!("{bucket}-missing");
    let reader = |b: &str, key: &str| {
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"}, "Parameters": {"Bucket": b, "Key": key}}})
    };
    for store in Store::both() {
        store.init(&moto);
        let what = format!("missing bucket on {}", store.name());
        let got = run(
            &moto,
            &store,
            "nobucket",
            &fan(pass(), reader(&missing, "items.json")),
            &json!({}),
        );
        let cause =
            Regex::new(&format!("^The specified bucket does not exist{S3_TAIL}$")).expect("regex");
        assert_failed(&got, "S3.NoSuchBucketException", &cause, &what);

        let what = format!("missing key on {}", store.name());
        let got = run(
            &moto,
            &store,
            "nokey",
            &fan(pass(), reader(&bucket, "nothing.json")),
            &json!({}),
        );
        let cause =
            Regex::new(&format!("^The specified key does not exist.{S3_TAIL}$")).expect("regex");
        assert_failed(&got, "S3.NoSuchKeyException", &cause, &what);

        let what = format!("ResultWriter to a missing bucket on {}", store.name());
        let mut extra = reader(&bucket, "items.json");
        extra["ResultWriter"] = json!({"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": missing, "Prefix": "out"}});
        let got = run(
            &moto,
            &store,
            "nowriterbucket",
            &fan(pass(), extra),
            &json!({}),
        );
        let cause = Regex::new(&format!(
            "^The ResultWriter could not write s3://{missing}/out/[0-9a-f-]{{36}}/SUCCEEDED_0.json: \
             S3.NoSuchBucketException: The specified bucket does not exist{S3_TAIL}$"
        ))
        .expect("regex");
        assert_failed(&got, "States.ResultWriterFailed", &cause, &what);
    }
    report("map errors: missing bucket, key and ResultWriter bucket on memory and DynamoDB");
}

#[test]
fn limits_and_bad_values_through_run_on_memory_and_dynamodb() {
    let moto = moto_endpoint();
    // Four children of about 70 KB each: a results array over 256 KiB.
    let big = json!({"Type": "Pass", "Result": "x".repeat(70_000), "End": true});
    let too_big = exact(
        "The state/task 'Fan' returned a result with a size exceeding the maximum number of bytes service limit.",
    );
    let over_batch =
        exact("An item of the batch is over the 256 KiB limit of a child execution's input");
    let bad_batch = exact(
        "An error occurred while executing the state 'Fan' (entered at the event id #2). \
         The MaxItemsPerBatch field refers to value \"many\" which is not a valid positive integer",
    );
    for store in Store::both() {
        store.init(&moto);
        let name = store.name();
        let got = run(
            &moto,
            &store,
            "bigresults",
            &fan(big.clone(), json!({})),
            &json!([1, 2, 3, 4]),
        );
        assert_failed(
            &got,
            "States.DataLimitExceeded",
            &too_big,
            &format!("results over 256 KiB on {name}"),
        );

        // A WriterConfig alone gives its results as the state's output: the same limit.
        let alone = json!({"ResultWriter": {"WriterConfig": {"Transformation": "COMPACT"}}});
        let got = run(
            &moto,
            &store,
            "bigalone",
            &fan(big.clone(), alone),
            &json!([1, 2, 3, 4]),
        );
        assert_failed(
            &got,
            "States.DataLimitExceeded",
            &too_big,
            &format!("WriterConfig results on {name}"),
        );

        // One item of 205 KB and a BatchInput of 60 KB: over a child's 256 KiB input.
        let batched = json!({"ItemBatcher": {"MaxItemsPerBatch": 2,
            "BatchInput": {"pad": "y".repeat(60_000)}}});
        let got = run(
            &moto,
            &store,
            "bigitem",
            &fan(pass(), batched),
            &json!(["z".repeat(205_000)]),
        );
        assert_failed(
            &got,
            "States.DataLimitExceeded",
            &over_batch,
            &format!("an item over a batch on {name}"),
        );

        let bad =
            json!({"ItemsPath": "$.items", "ItemBatcher": {"MaxItemsPerBatchPath": "$.size"}});
        let got = run(
            &moto,
            &store,
            "badbatch",
            &fan(pass(), bad),
            &json!({"items": [1], "size": "many"}),
        );
        assert_failed(
            &got,
            "States.Runtime",
            &bad_batch,
            &format!("a bad MaxItemsPerBatchPath on {name}"),
        );
    }
    report("map errors: results, batch item and ItemBatcher limits on memory and DynamoDB");
}

#[test]
fn a_writer_config_alone_shapes_the_state_output() {
    let moto = moto_endpoint();
    let array_out = json!({"Type": "Pass", "Parameters": {"pair.$": "States.Array($, $)"},
        "OutputPath": "$.pair", "End": true});
    let with = |t: &str| json!({"ResultWriter": {"WriterConfig": {"Transformation": t, "OutputType": "JSON"}}});
    let store = Store::Memory;
    let got = run(
        &moto,
        &store,
        "compact",
        &fan(array_out.clone(), with("COMPACT")),
        &json!([1, 2]),
    );
    assert_eq!(got["status"], "SUCCEEDED", "{got}");
    assert_eq!(got["output"], json!([[1, 1], [2, 2]]));
    let got = run(
        &moto,
        &store,
        "flatten",
        &fan(array_out.clone(), with("FLATTEN")),
        &json!([1, 2]),
    );
    assert_eq!(got["output"], json!([1, 1, 2, 2]), "{got}");
    let got = run(
        &moto,
        &store,
        "none",
        &fan(array_out, with("NONE")),
        &json!([1, 2]),
    );
    let entries = got["output"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{got}");
    assert_eq!(entries[1]["Input"], "2");
    assert_eq!(entries[1]["Output"], "[2,2]");
    assert_eq!(entries[1]["Status"], "SUCCEEDED");
    let date = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").expect("regex");
    assert!(
        date.is_match(entries[1]["StartDate"].as_str().unwrap_or_default()),
        "{got}"
    );
    assert!(
        date.is_match(entries[1]["StopDate"].as_str().unwrap_or_default()),
        "{got}"
    );
}

#[test]
fn error_paths_and_writer_files_through_serve_with_boto3() {
    let moto = moto_endpoint();
    let server = Server::start(stepfn(&moto), &[]);
    report(&run_client(
        "distributed_errors.py",
        &moto,
        &server.endpoint,
        &[],
    ));
}
