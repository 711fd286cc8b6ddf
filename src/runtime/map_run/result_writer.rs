//! A Distributed Map's `ResultWriter`: the children's results written to S3 as AWS writes
//! them, `manifest.json` and `SUCCEEDED_n.json` / `FAILED_n.json` / `PENDING_n.json` under
//! `<Prefix>/<Map Run id>/`.

use serde_json::{json, Map, Value};

use crate::asl::error::StatesError;
use crate::engine::execution::Status;
use crate::engine::task::TaskRequest;
use crate::store::ExecutionRecord;

use super::{MapRuns, RunRequest};

impl MapRuns {
    /// Writes the children's results to S3 as a `ResultWriter` asks: `manifest.json` and
    /// `SUCCEEDED_0.json` / `FAILED_0.json` / `PENDING_0.json` under
    /// `<Prefix>/<Map Run id>/`; answers `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`.
    pub(super) async fn write_results(
        &self,
        run: &RunRequest,
        writer: &Value,
        ends: &[Option<ExecutionRecord>],
        request: &TaskRequest,
    ) -> Result<Value, StatesError> {
        let params = writer.get("Parameters").cloned().unwrap_or(json!({}));
        let Some(bucket) = params.get("Bucket").and_then(Value::as_str) else {
            return Err(StatesError::runtime(
                "The ResultWriter's Parameters must name a Bucket",
            ));
        };
        let prefix = params.get("Prefix").and_then(Value::as_str).unwrap_or("");
        let id = run.map_run_arn.rsplit(':').next().unwrap_or_default();
        let dir = if prefix.is_empty() {
            id.to_string()
        } else {
            format!("{}/{id}", prefix.trim_end_matches('/'))
        };
        let mut files = Map::new();
        for (status, kind) in [
            (Some(Status::Succeeded), "SUCCEEDED"),
            (None, "FAILED"),
            (Some(Status::Running), "PENDING"),
        ] {
            let entries: Vec<Value> = ends
                .iter()
                .flatten()
                .filter(|r| match status {
                    Some(s) => r.status == s,
                    None => !matches!(r.status, Status::Succeeded | Status::Running),
                })
                .map(result_entry)
                .collect();
            let mut listed = Vec::new();
            if !entries.is_empty() {
                let key = format!("{dir}/{kind}_0.json");
                let body = Value::Array(entries).to_string();
                let size = body.len();
                self.reader
                    .put_object(
                        bucket,
                        &key,
                        body,
                        &request.execution_arn,
                        &request.state_name,
                    )
                    .await?;
                listed.push(json!({"Key": key, "Size": size}));
            }
            files.insert(kind.into(), Value::Array(listed));
        }
        let manifest = json!({
            "DestinationBucket": bucket,
            "MapRunArn": run.map_run_arn,
            "ResultFiles": Value::Object(files),
        });
        let key = format!("{dir}/manifest.json");
        self.reader
            .put_object(
                bucket,
                &key,
                manifest.to_string(),
                &request.execution_arn,
                &request.state_name,
            )
            .await?;
        Ok(json!({
            "MapRunArn": run.map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": key},
        }))
    }
}

/// A child as a ResultWriter file lists it (DescribeExecution's fields, PascalCase).
fn result_entry(record: &ExecutionRecord) -> Value {
    let date = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let mut o = Map::new();
    o.insert("ExecutionArn".into(), json!(record.info.arn));
    o.insert("Input".into(), json!(record.input.to_string()));
    o.insert("InputDetails".into(), json!({"Included": true}));
    o.insert("Name".into(), json!(record.info.name));
    if let Some(out) = &record.output {
        o.insert("Output".into(), json!(out.to_string()));
        o.insert("OutputDetails".into(), json!({"Included": true}));
    }
    if let Some(e) = &record.error {
        o.insert("Error".into(), json!(e.error));
        if let Some(c) = &e.cause {
            o.insert("Cause".into(), json!(c));
        }
    }
    o.insert("StartDate".into(), json!(date(record.info.start_time)));
    o.insert(
        "StateMachineArn".into(),
        json!(record.info.state_machine_arn),
    );
    o.insert("Status".into(), json!(record.status.as_str()));
    if let Some(stop) = record.stop_time {
        o.insert("StopDate".into(), json!(date(stop)));
    }
    Value::Object(o)
}
