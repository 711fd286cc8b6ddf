//! A Distributed Map's `ResultWriter`: the children's results shaped by its `WriterConfig`
//! (`Transformation` NONE, COMPACT or FLATTEN; `OutputType` JSON or JSONL) and either written
//! to S3 as AWS writes them (`manifest.json` and `SUCCEEDED_n.json` / `FAILED_n.json` /
//! `PENDING_n.json` under `<Prefix>/<Map Run id>/`, a file at most 5 GB) or, with a
//! `WriterConfig` and no `Bucket`, given as the state's result.
//!
//! What AWS's "ResultWriter (Map)" page says, and what is followed here:
//! * NONE (the default when exporting) gives each child as DescribeExecution shows it, in
//!   PascalCase, with `Input` and `Output` as strings; COMPACT (the default without a
//!   ResultWriter) gives the children's outputs; FLATTEN gives them with array outputs spliced
//!   in. A child that did not succeed is always given unchanged, as NONE gives it.
//! * Children that failed, timed out or were aborted go to `FAILED_n.json`; children still
//!   running when the Map Run ended to `PENDING_n.json`.
//! * A write that S3 refuses fails the Map Run with `States.ResultWriterFailed`.

use serde_json::{json, Map, Value};

use crate::asl::error::StatesError;
use crate::asl::timestamp::iso_time;
use crate::engine::execution::Status;
use crate::engine::task::TaskRequest;
use crate::runtime::clock::real_now;
use crate::runtime::redrive::not_redrivable;
use crate::store::ExecutionRecord;

use super::{child_result, MapRuns, RunRequest};

/// The error of a ResultWriter that could not write its files.
const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";

/// The largest result file AWS writes (5 GB, S3's largest single PUT); the results go on in
/// `<STATUS>_<n+1>.json`.
const FILE_LIMIT: usize = 5 * 1024 * 1024 * 1024;

/// How a ResultWriter shapes each child's result (`WriterConfig.Transformation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transformation {
    /// Each child as DescribeExecution shows it.
    None,
    /// Each child's output.
    Compact,
    /// Each child's output, an array output spliced in.
    Flatten,
}

/// How a ResultWriter's files hold the results (`WriterConfig.OutputType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputType {
    /// One JSON array.
    Json,
    /// One JSON value a line.
    Jsonl,
}

/// A ResultWriter's `WriterConfig`, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WriterConfig {
    transformation: Transformation,
    output_type: OutputType,
}

impl WriterConfig {
    /// Reads `config` (absent: AWS's defaults, NONE when `exporting` to S3, else COMPACT;
    /// JSON).
    fn from_json(config: Option<&Value>, exporting: bool) -> Result<WriterConfig, StatesError> {
        let field = |name: &str, allowed: &[&str]| -> Result<Option<usize>, StatesError> {
            match config.and_then(|c| c.get(name)) {
                None => Ok(None),
                Some(Value::String(s)) if allowed.contains(&s.as_str()) => {
                    Ok(allowed.iter().position(|a| a == s))
                }
                Some(other) => Err(StatesError::runtime(format!(
                    "The field '{name}' should have one of these values: [{}], not {other}",
                    allowed.join(", ")
                ))),
            }
        };
        if let Some(c) = config.filter(|c| !c.is_object()) {
            return Err(StatesError::runtime(format!(
                "The ResultWriter's WriterConfig must be an object, not {c}"
            )));
        }
        let transformation = match field("Transformation", &["NONE", "COMPACT", "FLATTEN"])? {
            Some(0) => Transformation::None,
            Some(1) => Transformation::Compact,
            Some(_) => Transformation::Flatten,
            None if exporting => Transformation::None,
            None => Transformation::Compact,
        };
        let output_type = match field("OutputType", &["JSON", "JSONL"])? {
            Some(1) => OutputType::Jsonl,
            _ => OutputType::Json,
        };
        Ok(WriterConfig {
            transformation,
            output_type,
        })
    }
}

/// Where a child's result goes: its file's status.
fn file_status(status: Status) -> &'static str {
    match status {
        Status::Succeeded => "SUCCEEDED",
        Status::Running => "PENDING",
        Status::Failed | Status::TimedOut | Status::Aborted => "FAILED",
    }
}

impl MapRuns {
    /// Carries out a ResultWriter: with a `Bucket`, writes the children's results to S3 and
    /// answers `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`; without one (a
    /// `WriterConfig` alone), answers the results shaped as it asks.
    pub(super) async fn write_results(
        &self,
        run: &RunRequest,
        writer: &Value,
        ends: &[Option<ExecutionRecord>],
        request: &TaskRequest,
    ) -> Result<Value, StatesError> {
        let params = writer.get("Parameters");
        let bucket = match params.and_then(|p| p.get("Bucket")) {
            None | Some(Value::Null) => None,
            Some(Value::String(b)) if !b.is_empty() => Some(b.as_str()),
            Some(other) => {
                return Err(StatesError::runtime(format!(
                    "The ResultWriter's Bucket must be a non-empty string, not {other}"
                )))
            }
        };
        let config = WriterConfig::from_json(writer.get("WriterConfig"), bucket.is_some())?;
        let now = real_now();
        let Some(bucket) = bucket else {
            if writer.get("WriterConfig").is_none() {
                return Err(StatesError::runtime(
                    "The ResultWriter must name a Bucket in its Parameters, or have a WriterConfig",
                ));
            }
            return Ok(state_result(ends, config.transformation, now));
        };
        let prefix = match params.and_then(|p| p.get("Prefix")) {
            None | Some(Value::Null) => "",
            Some(Value::String(p)) => p.as_str(),
            Some(other) => {
                return Err(StatesError::runtime(format!(
                    "The ResultWriter's Prefix must be a string, not {other}"
                )))
            }
        };
        let id = run.map_run_arn.rsplit(':').next().unwrap_or_default();
        let dir = if prefix.is_empty() {
            id.to_string()
        } else {
            format!("{}/{id}", prefix.trim_end_matches('/'))
        };
        let mut files = Map::new();
        // AWS's manifest lists the statuses in this order.
        for status in ["FAILED", "PENDING", "SUCCEEDED"] {
            let records = ends
                .iter()
                .flatten()
                .filter(|r| file_status(r.status) == status);
            let entries = file_entries(records, config.transformation, now);
            let mut listed = Vec::new();
            for (n, body) in file_bodies(&entries, config.output_type, FILE_LIMIT)
                .into_iter()
                .enumerate()
            {
                let key = format!("{dir}/{status}_{n}.json");
                let size = body.len();
                self.put(bucket, &key, body, request).await?;
                listed.push(json!({"Key": key, "Size": size}));
            }
            files.insert(status.into(), Value::Array(listed));
        }
        let manifest = json!({
            "DestinationBucket": bucket,
            "MapRunArn": run.map_run_arn,
            "ResultFiles": Value::Object(files),
        });
        let key = format!("{dir}/manifest.json");
        self.put(bucket, &key, manifest.to_string(), request)
            .await?;
        Ok(json!({
            "MapRunArn": run.map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": key},
        }))
    }

    /// Puts one file; S3's refusal is the ResultWriter's failure, naming S3's error.
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: String,
        request: &TaskRequest,
    ) -> Result<(), StatesError> {
        self.reader
            .put_object(
                bucket,
                key,
                body,
                &request.execution_arn,
                &request.state_name,
            )
            .await
            .map_err(|e| {
                StatesError::new(
                    RESULT_WRITER_FAILED,
                    format!(
                        "The ResultWriter could not write s3://{bucket}/{key}: {}: {}",
                        e.error,
                        e.cause.unwrap_or_default()
                    ),
                )
            })
    }
}

/// The state's result of a ResultWriter without a Bucket: every child in item order, shaped
/// by `transformation`.
fn state_result(
    ends: &[Option<ExecutionRecord>],
    transformation: Transformation,
    now: i64,
) -> Value {
    let mut out = Vec::with_capacity(ends.len());
    for end in ends {
        let Some(record) = end else {
            out.push(Value::Null);
            continue;
        };
        match transformation {
            Transformation::None => out.push(result_entry(record, now)),
            // COMPACT is what a Distributed Map without a ResultWriter gives.
            Transformation::Compact => out.push(child_result(record.clone())),
            Transformation::Flatten if record.status == Status::Succeeded => {
                flatten_into(&mut out, record.output.clone().unwrap_or(Value::Null));
            }
            // Spec: "If a child workflow execution fails, Step Functions returns its
            // execution result unchanged", as NONE gives it.
            Transformation::Flatten => out.push(result_entry(record, now)),
        }
    }
    Value::Array(out)
}

/// The entries of one result file: succeeded children shaped by `transformation`, the others
/// as NONE gives them.
fn file_entries<'a>(
    records: impl Iterator<Item = &'a ExecutionRecord>,
    transformation: Transformation,
    now: i64,
) -> Vec<Value> {
    let mut out = Vec::new();
    for record in records {
        let output = || record.output.clone().unwrap_or(Value::Null);
        match transformation {
            Transformation::Compact if record.status == Status::Succeeded => out.push(output()),
            Transformation::Flatten if record.status == Status::Succeeded => {
                flatten_into(&mut out, output());
            }
            _ => out.push(result_entry(record, now)),
        }
    }
    out
}

/// Pushes `output`, an array's elements one by one.
fn flatten_into(out: &mut Vec<Value>, output: Value) {
    match output {
        Value::Array(items) => out.extend(items),
        other => out.push(other),
    }
}

/// The bodies of a status's files: `entries` as a JSON array or JSON lines, a new file
/// whenever one would pass `limit` bytes. No entries, no file.
fn file_bodies(entries: &[Value], output_type: OutputType, limit: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut current = String::new();
    let close = |current: &mut String, bodies: &mut Vec<String>| {
        if output_type == OutputType::Json {
            current.push(']');
        }
        bodies.push(std::mem::take(current));
    };
    for entry in entries {
        let text = entry.to_string();
        // JSON: `[` or `,` before and `]` after; JSONL: the line's end.
        let added = text.len() + 1;
        let closing = usize::from(output_type == OutputType::Json);
        if !current.is_empty() && current.len() + added + closing > limit {
            close(&mut current, &mut bodies);
        }
        match output_type {
            OutputType::Json => {
                current.push(if current.is_empty() { '[' } else { ',' });
                current.push_str(&text);
            }
            OutputType::Jsonl => {
                current.push_str(&text);
                current.push('\n');
            }
        }
    }
    if !current.is_empty() {
        close(&mut current, &mut bodies);
    }
    bodies
}

/// A child as NONE gives it: DescribeExecution's fields in PascalCase, in AWS's (alphabetical)
/// order, `Input` and `Output` as strings, dates in ISO 8601 with milliseconds.
fn result_entry(record: &ExecutionRecord, now: i64) -> Value {
    let mut o = Map::new();
    let ended = record.status != Status::Running;
    if let Some(e) = record.error.as_ref().filter(|_| ended) {
        if let Some(c) = &e.cause {
            o.insert("Cause".into(), json!(c));
        }
        if !e.error.is_empty() {
            o.insert("Error".into(), json!(e.error));
        }
    }
    o.insert("ExecutionArn".into(), json!(record.info.arn));
    let input = match &record.input_text {
        Some(text) => text.clone(),
        None => record.input.to_string(),
    };
    o.insert("Input".into(), json!(input));
    o.insert("InputDetails".into(), json!({"Included": true}));
    o.insert("Name".into(), json!(record.info.name));
    if record.status == Status::Succeeded {
        let output = record.output.as_ref().unwrap_or(&Value::Null);
        o.insert("Output".into(), json!(output.to_string()));
        o.insert("OutputDetails".into(), json!({"Included": true}));
    }
    o.insert("RedriveCount".into(), json!(record.redrive.count));
    match not_redrivable(record, now) {
        None => {
            o.insert("RedriveStatus".into(), json!("REDRIVABLE"));
        }
        Some(reason) => {
            o.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
            o.insert("RedriveStatusReason".into(), json!(reason));
        }
    }
    o.insert("StartDate".into(), json!(iso_time(record.info.start_time)));
    o.insert(
        "StateMachineArn".into(),
        json!(record.info.state_machine_arn),
    );
    o.insert("Status".into(), json!(record.status.as_str()));
    if let Some(stop) = record.stop_time.filter(|_| ended) {
        o.insert("StopDate".into(), json!(iso_time(stop)));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::error::StatesError;
    use crate::engine::execution::ExecutionInfo;

    const START: i64 = 1_738_633_790_099; // 2025-02-04T01:49:50.099Z

    fn child(n: usize, status: Status, output: Option<Value>) -> ExecutionRecord {
        let info = ExecutionInfo {
            arn: format!("arn:aws:states:us-east-1:111111111111:execution:m/l:c{n}"),
            name: format!("c{n}"),
            state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:m/l".into(),
            state_machine_name: "m/l".into(),
            role_arn: "arn:aws:iam::111111111111:role/r".into(),
            start_time: START,
            origin: Default::default(),
        };
        let mut r = ExecutionRecord::new(info, json!({"n": n}));
        r.status = status;
        r.output = output;
        if status != Status::Succeeded && status != Status::Running {
            r.error = Some(StatesError::new("Boom", "it broke"));
        }
        if status != Status::Running {
            r.stop_time = Some(START + 64);
        }
        r
    }

    fn ends() -> Vec<Option<ExecutionRecord>> {
        vec![
            Some(child(
                0,
                Status::Succeeded,
                Some(json!([{"a": 1}, {"a": 2}])),
            )),
            Some(child(1, Status::Failed, None)),
            Some(child(2, Status::Succeeded, Some(json!({"b": 3})))),
        ]
    }

    #[test]
    fn none_gives_each_child_as_describe_execution_shows_it_in_aws_key_order() {
        let entry = result_entry(&child(0, Status::Succeeded, Some(json!([1]))), START + 1000);
        assert_eq!(
            entry.to_string(),
            concat!(
                r#"{"ExecutionArn":"arn:aws:states:us-east-1:111111111111:execution:m/l:c0","#,
                r#""Input":"{\"n\":0}","InputDetails":{"Included":true},"Name":"c0","#,
                r#""Output":"[1]","OutputDetails":{"Included":true},"RedriveCount":0,"#,
                r#""RedriveStatus":"NOT_REDRIVABLE","#,
                r#""RedriveStatusReason":"Execution is SUCCEEDED and cannot be redriven","#,
                r#""StartDate":"2025-02-04T01:49:50.099Z","#,
                r#""StateMachineArn":"arn:aws:states:us-east-1:111111111111:stateMachine:m/l","#,
                r#""Status":"SUCCEEDED","StopDate":"2025-02-04T01:49:50.163Z"}"#
            )
        );
        let failed = result_entry(&child(1, Status::Failed, None), START + 1000);
        let keys: Vec<&str> = failed
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "Cause",
                "Error",
                "ExecutionArn",
                "Input",
                "InputDetails",
                "Name",
                "RedriveCount",
                "RedriveStatus",
                "StartDate",
                "StateMachineArn",
                "Status",
                "StopDate"
            ]
        );
        assert_eq!(failed["RedriveStatus"], "REDRIVABLE");
    }

    #[test]
    fn compact_gives_outputs_and_the_error_of_a_failed_child() {
        let out = state_result(&ends(), Transformation::Compact, START);
        assert_eq!(
            out,
            json!([[{"a": 1}, {"a": 2}], {"Error": "Boom", "Cause": "it broke"}, {"b": 3}])
        );
    }

    #[test]
    fn flatten_splices_array_outputs_and_keeps_a_failed_child_unchanged() {
        let out = state_result(&ends(), Transformation::Flatten, START);
        let out = out.as_array().cloned().unwrap_or_default();
        assert_eq!(out.len(), 4, "{out:?}");
        assert_eq!(out[0], json!({"a": 1}));
        assert_eq!(out[1], json!({"a": 2}));
        assert_eq!(out[2]["Status"], "FAILED");
        assert_eq!(out[2]["Error"], "Boom");
        assert_eq!(out[3], json!({"b": 3}));
    }

    #[test]
    fn files_of_succeeded_children_follow_the_transformation_and_others_stay_whole() {
        let all = ends();
        let ok = all
            .iter()
            .flatten()
            .filter(|r| r.status == Status::Succeeded);
        assert_eq!(
            file_entries(ok.clone(), Transformation::Compact, START),
            [json!([{"a": 1}, {"a": 2}]), json!({"b": 3})]
        );
        assert_eq!(
            file_entries(ok, Transformation::Flatten, START),
            [json!({"a": 1}), json!({"a": 2}), json!({"b": 3})]
        );
        let failed = all.iter().flatten().filter(|r| r.status == Status::Failed);
        let entries = file_entries(failed, Transformation::Flatten, START);
        assert_eq!(entries[0]["Name"], "c1");
        assert_eq!(entries[0]["Cause"], "it broke");
    }

    #[test]
    fn timed_out_and_aborted_children_are_listed_as_failed_running_ones_as_pending() {
        assert_eq!(file_status(Status::TimedOut), "FAILED");
        assert_eq!(file_status(Status::Aborted), "FAILED");
        assert_eq!(file_status(Status::Failed), "FAILED");
        assert_eq!(file_status(Status::Running), "PENDING");
        assert_eq!(file_status(Status::Succeeded), "SUCCEEDED");
    }

    #[test]
    fn json_and_json_lines_bodies() {
        let entries = [json!({"a": 1}), json!([2])];
        assert_eq!(
            file_bodies(&entries, OutputType::Json, FILE_LIMIT),
            [r#"[{"a":1},[2]]"#]
        );
        assert_eq!(
            file_bodies(&entries, OutputType::Jsonl, FILE_LIMIT),
            ["{\"a\":1}\n[2]\n"]
        );
        assert!(file_bodies(&[], OutputType::Json, FILE_LIMIT).is_empty());
    }

    #[test]
    fn a_file_that_would_pass_the_limit_goes_on_in_the_next() {
        let entries: Vec<Value> = (0..5).map(|n| json!(n * 1111)).collect();
        // "[0,1111" is 7 bytes, ",2222]" 6 more: 13 > 12.
        let bodies = file_bodies(&entries, OutputType::Json, 12);
        assert_eq!(bodies, ["[0,1111]", "[2222,3333]", "[4444]"]);
        assert!(bodies.iter().all(|b| b.len() <= 12));
        let lines = file_bodies(&entries, OutputType::Jsonl, 10);
        assert_eq!(lines, ["0\n1111\n", "2222\n3333\n", "4444\n"]);
    }

    #[test]
    fn writer_config_defaults_and_refusals() {
        let none = WriterConfig::from_json(None, true).expect("config");
        assert_eq!(none.transformation, Transformation::None);
        assert_eq!(none.output_type, OutputType::Json);
        let compact = WriterConfig::from_json(Some(&json!({})), false).expect("config");
        assert_eq!(compact.transformation, Transformation::Compact);
        let c = json!({"Transformation": "FLATTEN", "OutputType": "JSONL"});
        let flat = WriterConfig::from_json(Some(&c), true).expect("config");
        assert_eq!(flat.transformation, Transformation::Flatten);
        assert_eq!(flat.output_type, OutputType::Jsonl);
        let err = WriterConfig::from_json(Some(&json!({"OutputType": "CSV"})), true)
            .expect_err("CSV is refused");
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause.as_deref(),
            Some("The field 'OutputType' should have one of these values: [JSON, JSONL], not \"CSV\"")
        );
    }
}
