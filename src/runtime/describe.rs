//! What the API and the CLI show of a stored execution: DescribeExecution's response, and
//! `stepfn start`'s answer.

use serde_json::{json, Map, Value};

use crate::asl::timestamp::iso_time;
use crate::engine::Status;
use crate::store::ExecutionRecord;

fn epoch_seconds(ms: i64) -> Value {
    serde_json::Number::from_f64(ms as f64 / 1000.0)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// DescribeExecution's response for a record.
pub fn describe_json(record: &ExecutionRecord) -> Value {
    let mut out = Map::new();
    out.insert("executionArn".into(), json!(record.info.arn));
    out.insert(
        "stateMachineArn".into(),
        json!(record.info.state_machine_arn),
    );
    if let Some(v) = &record.info.origin.version_arn {
        out.insert("stateMachineVersionArn".into(), json!(v));
    }
    if let Some(a) = &record.info.origin.alias_arn {
        out.insert("stateMachineAliasArn".into(), json!(a));
    }
    if let Some(m) = &record.info.origin.map_run_arn {
        out.insert("mapRunArn".into(), json!(m));
    }
    out.insert("name".into(), json!(record.info.name));
    out.insert("status".into(), json!(record.status.as_str()));
    out.insert("startDate".into(), epoch_seconds(record.info.start_time));
    // A redriven execution runs again: what it ended with before is not shown.
    let running = record.status == Status::Running;
    if let Some(stop) = record.stop_time.filter(|_| !running) {
        out.insert("stopDate".into(), epoch_seconds(stop));
    }
    // The input as the caller sent it.
    let input = match &record.input_text {
        Some(text) => text.clone(),
        None => serde_json::to_string(&record.input).unwrap_or_default(),
    };
    out.insert("input".into(), json!(input));
    out.insert("inputDetails".into(), json!({"included": true}));
    if record.status == Status::Succeeded {
        let output = record.output.clone().unwrap_or(Value::Null);
        out.insert(
            "output".into(),
            json!(serde_json::to_string(&output).unwrap_or_default()),
        );
        out.insert("outputDetails".into(), json!({"included": true}));
    }
    if let Some(e) = record.error.as_ref().filter(|_| !running) {
        if !e.error.is_empty() {
            out.insert("error".into(), json!(e.error));
        }
        if let Some(c) = &e.cause {
            out.insert("cause".into(), json!(c));
        }
    }
    out.insert("redriveCount".into(), json!(record.redrive.count));
    if let Some(date) = record.redrive.date {
        out.insert("redriveDate".into(), epoch_seconds(date));
    }
    // As AWS reports it: an execution that failed, timed out or was aborted can be redriven
    // (within 14 days of its end, ...).
    match crate::runtime::redrive::not_redrivable(record, crate::runtime::clock::real_now()) {
        None => {
            out.insert("redriveStatus".into(), json!("REDRIVABLE"));
        }
        Some(reason) => {
            out.insert("redriveStatus".into(), json!("NOT_REDRIVABLE"));
            out.insert("redriveStatusReason".into(), json!(reason));
        }
    }
    Value::Object(out)
}

/// `stepfn start`'s output.
pub fn started_json(record: &ExecutionRecord) -> Value {
    json!({"executionArn": record.info.arn, "startDate": iso_time(record.info.start_time)})
}

#[cfg(test)]
mod redrive_tests {
    use super::*;
    use crate::engine::execution::ExecutionInfo;

    fn record(status: Status) -> ExecutionRecord {
        let info = ExecutionInfo {
            arn: "arn:aws:states:us-east-1:111111111111:execution:m:e".into(),
            name: "e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:m".into(),
            state_machine_name: "m".into(),
            role_arn: "arn:aws:iam::111111111111:role/r".into(),
            start_time: crate::runtime::clock::real_now(),
            origin: Default::default(),
        };
        let mut r = ExecutionRecord::new(info, json!({}));
        r.status = status;
        r
    }

    #[test]
    fn failed_timed_out_and_aborted_executions_are_redrivable_as_on_aws() {
        for status in [Status::Failed, Status::TimedOut, Status::Aborted] {
            let d = describe_json(&record(status));
            assert_eq!(d["redriveStatus"], "REDRIVABLE", "{status:?}");
            assert!(d.get("redriveStatusReason").is_none());
        }
        let d = describe_json(&record(Status::Succeeded));
        assert_eq!(d["redriveStatus"], "NOT_REDRIVABLE");
        assert_eq!(
            d["redriveStatusReason"],
            "Execution is SUCCEEDED and cannot be redriven"
        );
        let d = describe_json(&record(Status::Running));
        assert_eq!(
            d["redriveStatusReason"],
            "Execution is RUNNING and cannot be redriven"
        );
        // Fourteen days after it closed, an execution can no longer be redriven.
        let mut old = record(Status::Failed);
        old.stop_time = Some(old.info.start_time - 15 * 24 * 3600 * 1000);
        let d = describe_json(&old);
        assert_eq!(d["redriveStatus"], "NOT_REDRIVABLE");
        assert_eq!(
            d["redriveStatusReason"],
            "Execution redrivable period exceeded"
        );
        // A redriven execution shows its count and date, and while it runs no end.
        let mut again = record(Status::Running);
        again.stop_time = Some(5_000);
        again.redrive.count = 2;
        again.redrive.date = Some(7_000);
        let d = describe_json(&again);
        assert_eq!(d["redriveCount"], 2);
        assert_eq!(d["redriveDate"], 7.0);
        assert!(d.get("stopDate").is_none());
    }
}
