//! AWS service tasks against moto on loopback: `aws-sdk:*` on one service of each protocol,
//! the optimized SQS, SNS and EventBridge integrations, `.waitForTaskToken` on SQS answered by
//! a consumer, AWS's error names (missing bucket, key, queue and topic; access denied), each
//! call checked on the receiving side with boto3 (tests/clients/aws_services.py); and the
//! order-notify example, one command; a Distributed Map reading and writing S3 with the
//! Map Run API through serve (tests/clients/distributed_map.py).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::lambda_watch::{free_port, report, root};
use crate::support::moto::moto_endpoint;
use crate::support::python::run_client;
use crate::support::serve::Server;

fn stepfn_against(moto: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepfn"));
    c.env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
    c
}

/// A second moto that checks IAM (its first two calls, making a user and its key, go
/// unchecked): for access denied.
struct IamMoto {
    child: Child,
    endpoint: String,
}

impl IamMoto {
    fn start() -> IamMoto {
        let server = root().join("infra/.moto-venv/bin/moto_server");
        assert!(
            server.exists(),
            "{} is missing: run `bash infra/moto.sh install`",
            server.display()
        );
        let port = free_port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto with IAM checks did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        IamMoto { child, endpoint }
    }
}

impl Drop for IamMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn aws_services_through_run_and_serve_against_moto() {
    let moto = moto_endpoint();
    let iam_moto = IamMoto::start();
    let server = Server::start(stepfn_against(&moto), &[]);
    report(&run_client(
        "aws_services.py",
        &moto,
        &server.endpoint,
        &["--moto-iam", &iam_moto.endpoint],
    ));
}

#[test]
fn distributed_map_reads_and_writes_s3_on_moto_and_serves_the_map_run_api() {
    let moto = moto_endpoint();
    let server = Server::start(stepfn_against(&moto), &[]);
    report(&run_client(
        "distributed_map.py",
        &moto,
        &server.endpoint,
        &[],
    ));
}

/// Runs `state-machines/<name>/run.sh` against moto; what it printed, one JSON object.
fn run_example(name: &str) -> Value {
    let moto = moto_endpoint();
    let out = Command::new("bash")
        .arg(root().join(format!("state-machines/{name}/run.sh")))
        .env("STEPFN", env!("CARGO_BIN_EXE_stepfn"))
        .env("AWS_ENDPOINT_URL", &moto)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("one JSON object")
}

#[test]
fn the_order_notify_example_runs_unchanged_against_moto() {
    let printed = run_example("order-notify");
    let result = &printed["result"];
    assert_eq!(result["orderId"], "o-1", "{printed}");
    assert!(
        result["receipt"]
            .as_str()
            .is_some_and(|e| e.starts_with('"')),
        "{printed}"
    );
    assert!(
        result["notification"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{printed}"
    );
    assert!(
        result["event"].as_str().is_some_and(|e| !e.is_empty()),
        "{printed}"
    );
    let receipt: Value =
        serde_json::from_str(printed["receipt"].as_str().expect("the receipt's text"))
            .expect("JSON");
    assert_eq!(
        receipt,
        serde_json::json!({"id": "o-1", "items": ["book", "pen"]})
    );
    report("order-notify: S3 receipt, SNS message and EventBridge event against moto");
}

#[test]
fn an_item_reader_reads_objects_and_listings_from_s3() {
    use stepfn::asl::resource::Resource;
    use stepfn::tasks::items::{ItemReader, ReaderConfig};
    let moto = moto_endpoint();
    let bucket = format!("items-{}", std::process::id());
    let put = |key: &str, body: &str| {
        let def = serde_json::json!({"StartAt": "P", "States": {"P": {"Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket": bucket, "Key": key, "Body": body}, "End": true}}});
        let path =
            std::env::temp_dir().join(format!("items-{}-{key}.asl.json", std::process::id()));
        std::fs::write(&path, def.to_string()).expect("write");
        let out = stepfn_against(&moto)
            .args(["run", &path.display().to_string()])
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let made = stepfn_against(&moto)
        .args(["run", "/dev/stdin", "--name", "mkbucket"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            let def = serde_json::json!({"StartAt": "B", "States": {"B": {"Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:createBucket",
                "Parameters": {"Bucket": bucket}, "End": true}}});
            c.stdin
                .take()
                .expect("stdin")
                .write_all(def.to_string().as_bytes())?;
            c.wait()
        })
        .expect("stepfn runs");
    assert!(made.success());
    put("orders.csv", "id,total\n1,10\n2,20\n3,30\n");
    put("lines.jsonl", "{\"a\":1}\n{\"a\":2}\n");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let reader = ItemReader::with_endpoint(&moto);
    let get = Resource::parse("arn:aws:states:::s3:getObject");
    let csv = ReaderConfig::from_json(
        &serde_json::json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
        Some(2),
    )
    .expect("config");
    let items = rt
        .block_on(reader.read(
            &get,
            &serde_json::json!({"Bucket": bucket, "Key": "orders.csv"}),
            &csv,
            "arn:x",
            "Map",
        ))
        .expect("items");
    assert_eq!(
        items,
        vec![
            serde_json::json!({"id": "1", "total": "10"}),
            serde_json::json!({"id": "2", "total": "20"})
        ]
    );
    let jsonl =
        ReaderConfig::from_json(&serde_json::json!({"InputType": "JSONL"}), None).expect("config");
    let items = rt
        .block_on(reader.read(
            &get,
            &serde_json::json!({"Bucket": bucket, "Key": "lines.jsonl"}),
            &jsonl,
            "arn:x",
            "Map",
        ))
        .expect("items");
    assert_eq!(
        items,
        vec![serde_json::json!({"a": 1}), serde_json::json!({"a": 2})]
    );
    let missing = rt
        .block_on(reader.read(
            &get,
            &serde_json::json!({"Bucket": bucket, "Key": "nope"}),
            &jsonl,
            "arn:x",
            "Map",
        ))
        .unwrap_err();
    assert_eq!(missing.error, "S3.NoSuchKeyException");
    let list = Resource::parse("arn:aws:states:::s3:listObjectsV2");
    let all = ReaderConfig::from_json(&serde_json::json!({}), None).expect("config");
    let objects = rt
        .block_on(reader.read(
            &list,
            &serde_json::json!({"Bucket": bucket}),
            &all,
            "arn:x",
            "Map",
        ))
        .expect("listing");
    let keys: Vec<&str> = objects.iter().filter_map(|o| o["Key"].as_str()).collect();
    assert_eq!(keys, vec!["lines.jsonl", "orders.csv"]);
    assert_eq!(objects[1]["Size"], 24);
    assert!(
        objects[1]["LastModified"].is_i64() && objects[1]["Etag"].is_string(),
        "{}",
        objects[1]
    );
    report("item reader: CSV, JSONL and a listing from moto's S3");
}

#[test]
fn the_orders_batch_example_runs_unchanged_against_moto() {
    let printed = run_example("orders-batch");
    let manifest = &printed["manifest"];
    assert!(
        manifest["MapRunArn"]
            .as_str()
            .is_some_and(|a| a.contains(":mapRun:orders-batch/boxes:")),
        "{printed}"
    );
    assert_eq!(manifest["ResultFiles"]["FAILED"], serde_json::json!([]));
    let mut boxes: Vec<Value> = printed["succeeded"]
        .as_array()
        .expect("the SUCCEEDED file")
        .iter()
        .map(|e| serde_json::from_str(e["Output"].as_str().expect("Output")).expect("JSON"))
        .collect();
    boxes.sort_by_key(|b| b["orders"][0].as_str().map(str::to_string));
    assert_eq!(
        boxes,
        [
            serde_json::json!({"shipFrom": "warehouse-1", "orders": ["o-1", "o-2"], "count": 2}),
            serde_json::json!({"shipFrom": "warehouse-1", "orders": ["o-3", "o-4"], "count": 2}),
            serde_json::json!({"shipFrom": "warehouse-1", "orders": ["o-5"], "count": 1}),
        ]
    );
    report("orders-batch: a CSV on S3 batched into child executions, results written back to S3");
}
