//! Map Run operations: DescribeMapRun, ListMapRuns, UpdateMapRun, and the Map Run side of
//! ListExecutions (`mapRunArn`). A Map Run is written by the runtime as its children run
//! ([`crate::runtime::map_run`]); UpdateMapRun changes the settings it re-reads each second.

use super::*;
use crate::store::MapRunRecord;

/// What a Map Run with `maxConcurrency` 0 runs at once: as many as AWS allows.
const UNLIMITED_CONCURRENCY: u64 = 10_000;

/// How a Map Run's items or child executions stand.
#[derive(Clone, Copy)]
struct Counts {
    total: u64,
    succeeded: u64,
    /// Failed, timed out or aborted.
    ended_badly: u64,
    timed_out: u64,
    aborted: u64,
    running: u64,
}

impl Counts {
    /// The counts AWS reports: `failed` apart from `timedOut` and `aborted`.
    fn to_json(self) -> Value {
        let pending = self
            .total
            .saturating_sub(self.succeeded + self.ended_badly + self.running);
        json!({
            "pending": pending,
            "running": self.running,
            "succeeded": self.succeeded,
            "failed": self.ended_badly.saturating_sub(self.timed_out + self.aborted),
            "timedOut": self.timed_out,
            "aborted": self.aborted,
            "total": self.total,
            "resultsWritten": self.succeeded + self.ended_badly,
            "failuresNotRedrivable": 0,
            "pendingRedrive": 0,
        })
    }
}

/// DescribeMapRun's answer for `run`.
fn describe_map_run_json(run: &MapRunRecord) -> Value {
    let mut out = Map::new();
    out.insert("mapRunArn".into(), json!(run.arn));
    out.insert("executionArn".into(), json!(run.execution_arn));
    out.insert("status".into(), json!(run.status));
    out.insert("startDate".into(), epoch(run.start));
    if let Some(stop) = run.stop.filter(|_| run.status != "RUNNING") {
        out.insert("stopDate".into(), epoch(stop));
    }
    let max = match run.max_concurrency {
        UNLIMITED_CONCURRENCY => 0,
        n => n,
    };
    out.insert("maxConcurrency".into(), json!(max));
    out.insert(
        "toleratedFailurePercentage".into(),
        json!(run.tolerated_failure_percentage),
    );
    out.insert(
        "toleratedFailureCount".into(),
        json!(run.tolerated_failure_count),
    );
    let executions = Counts {
        total: run.total,
        succeeded: run.succeeded,
        ended_badly: run.failed,
        timed_out: run.timed_out,
        aborted: run.aborted,
        running: run.running,
    };
    // Records written before items were counted: one item per child execution.
    let items = if run.items_total == 0 {
        executions
    } else {
        Counts {
            total: run.items_total,
            succeeded: run.items_succeeded,
            ended_badly: run.items_failed,
            timed_out: run.items_timed_out,
            aborted: run.items_aborted,
            running: run.items_running,
        }
    };
    out.insert("itemCounts".into(), items.to_json());
    out.insert("executionCounts".into(), executions.to_json());
    out.insert("redriveCount".into(), json!(0));
    Value::Object(out)
}

/// A number field of UpdateMapRun, checked against AWS's range for it.
fn bounded(req: &Value, name: &str, max: Option<f64>) -> Result<Option<f64>, ApiError> {
    let invalid = |constraint: &str| {
        err(
            Exception::ValidationException,
            format!("1 validation error detected: Value at '{name}' failed to satisfy constraint: {constraint}"),
        )
    };
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let n = v
                .as_f64()
                .ok_or_else(|| invalid("Member must be a number"))?;
            if n < 0.0 {
                return Err(invalid("Member must have value greater than or equal to 0"));
            }
            if let Some(m) = max.filter(|m| n > *m) {
                return Err(invalid(&format!(
                    "Member must have value less than or equal to {m}"
                )));
            }
            Ok(Some(n))
        }
    }
}

impl Service {
    async fn map_run(&self, arn: &str) -> Result<MapRunRecord, ApiError> {
        check_arn(arn, "mapRun")?;
        self.store.get_map_run(arn).await?.ok_or_else(|| {
            err(
                Exception::ResourceNotFound,
                format!("Resource not found: '{arn}'"),
            )
        })
    }

    pub(super) async fn describe_map_run(&self, req: &Value) -> Result<Value, ApiError> {
        let run = self.map_run(field(req, "mapRunArn")?).await?;
        Ok(describe_map_run_json(&run))
    }

    pub(super) async fn list_map_runs(&self, req: &Value) -> Result<Value, ApiError> {
        let execution = self.execution(field(req, "executionArn")?).await?;
        let runs = self.store.list_map_runs(&execution.info.arn).await?;
        let items: Vec<Value> = runs
            .iter()
            .map(|r| {
                let mut o = Map::new();
                o.insert("executionArn".into(), json!(r.execution_arn));
                o.insert("mapRunArn".into(), json!(r.arn));
                o.insert("stateMachineArn".into(), json!(r.state_machine_arn));
                o.insert("startDate".into(), epoch(r.start));
                if let Some(stop) = r.stop.filter(|_| r.status != "RUNNING") {
                    o.insert("stopDate".into(), epoch(stop));
                }
                Value::Object(o)
            })
            .collect();
        with_page(Map::new(), "mapRuns", items, req)
    }

    pub(super) async fn update_map_run(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "mapRunArn")?;
        let max = bounded(req, "maxConcurrency", None)?;
        let pct = bounded(req, "toleratedFailurePercentage", Some(100.0))?;
        let count = bounded(req, "toleratedFailureCount", None)?;
        let mut run = self.map_run(arn).await?;
        if max.is_none() && pct.is_none() && count.is_none() {
            return Err(err(
                Exception::ValidationException,
                "Must provide at least one of maxConcurrency, toleratedFailurePercentage or toleratedFailureCount",
            ));
        }
        if let Some(m) = max {
            run.max_concurrency = match m as u64 {
                0 => UNLIMITED_CONCURRENCY,
                n => n,
            };
        }
        if let Some(p) = pct {
            run.tolerated_failure_percentage = p;
        }
        if let Some(c) = count {
            run.tolerated_failure_count = c as i64;
        }
        self.store.put_map_run(&run).await?;
        Ok(json!({}))
    }

    /// StopExecution's part in the Map Runs of `record`: each running one is marked ABORTED
    /// (its runner stops starting children when it reads that) and its running children are
    /// stopped with the same error and cause.
    pub(super) async fn abort_map_runs(
        &self,
        record: &crate::store::ExecutionRecord,
        request: &StopRequest,
    ) -> Result<(), ApiError> {
        for mut run in self.store.list_map_runs(&record.info.arn).await? {
            if run.status != "RUNNING" {
                continue;
            }
            run.status = "ABORTED".into();
            run.stop = Some(request.time);
            self.store.put_map_run(&run).await?;
            for child in self.map_run_executions(&run.arn).await? {
                if child.status == Status::Running {
                    self.store.request_stop(&child.info.arn, request).await?;
                }
            }
        }
        Ok(())
    }

    /// ListExecutions with `mapRunArn`: the Map Run's child executions, newest first.
    pub(super) async fn map_run_executions(
        &self,
        arn: &str,
    ) -> Result<Vec<crate::store::ExecutionRecord>, ApiError> {
        let run = self.map_run(arn).await?;
        let mut records = self.store.list_executions(&run.state_machine_arn).await?;
        records.retain(|r| r.info.origin.map_run_arn.as_deref() == Some(arn));
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> MapRunRecord {
        MapRunRecord {
            arn: "arn:aws:states:us-east-1:123456789012:mapRun:m/l:1".into(),
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m/l".into(),
            status: "RUNNING".into(),
            start: 1_000,
            stop: None,
            max_concurrency: UNLIMITED_CONCURRENCY,
            tolerated_failure_count: 0,
            tolerated_failure_percentage: 0.0,
            execution_type: "STANDARD".into(),
            total: 4,
            succeeded: 1,
            failed: 1,
            running: 1,
            items_total: 8,
            items_succeeded: 2,
            items_failed: 2,
            items_running: 2,
            timed_out: 0,
            aborted: 0,
            items_timed_out: 0,
            items_aborted: 0,
        }
    }

    #[test]
    fn a_running_map_run_reports_its_counts_and_no_stop_date() {
        let d = describe_map_run_json(&record());
        assert_eq!(d["maxConcurrency"], 0, "10,000 is AWS's 0");
        assert_eq!(d["executionCounts"]["pending"], 1);
        assert_eq!(d["executionCounts"]["total"], 4);
        assert_eq!(d["itemCounts"]["total"], 8);
        assert_eq!(d["itemCounts"]["pending"], 2);
        assert_eq!(d["itemCounts"]["resultsWritten"], 4);
        assert!(d.get("stopDate").is_none());
    }

    #[test]
    fn timed_out_and_aborted_children_are_counted_apart_from_failed_ones() {
        let mut r = record();
        r.running = 0;
        r.failed = 3;
        r.timed_out = 1;
        r.aborted = 1;
        r.items_running = 0;
        r.items_failed = 6;
        r.items_timed_out = 2;
        r.items_aborted = 3;
        let d = describe_map_run_json(&r);
        let e = &d["executionCounts"];
        assert_eq!(
            (
                e["failed"].clone(),
                e["timedOut"].clone(),
                e["aborted"].clone()
            ),
            (json!(1), json!(1), json!(1))
        );
        assert_eq!(
            (e["pending"].clone(), e["resultsWritten"].clone()),
            (json!(0), json!(4))
        );
        let i = &d["itemCounts"];
        assert_eq!(
            (
                i["failed"].clone(),
                i["timedOut"].clone(),
                i["aborted"].clone()
            ),
            (json!(1), json!(2), json!(3))
        );
        assert_eq!(i["total"], 8);
    }

    #[test]
    fn update_map_run_checks_its_ranges() {
        let e = bounded(
            &json!({"toleratedFailurePercentage": 101}),
            "toleratedFailurePercentage",
            Some(100.0),
        )
        .expect_err("over 100");
        assert_eq!(e.kind, Exception::ValidationException);
        assert!(
            e.message.contains("toleratedFailurePercentage"),
            "{}",
            e.message
        );
        let e =
            bounded(&json!({"maxConcurrency": -1}), "maxConcurrency", None).expect_err("negative");
        assert!(
            e.message.contains("greater than or equal to 0"),
            "{}",
            e.message
        );
        assert_eq!(
            bounded(&json!({"maxConcurrency": 5}), "maxConcurrency", None).ok(),
            Some(Some(5.0))
        );
    }
}
