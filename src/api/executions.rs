//! Execution operations: start (and start sync), describe, list, stop, history.

use super::*;

/// What an express execution runs with: its machine, identity and invokers.
type ExpressRun = (
    Arc<crate::asl::model::StateMachine>,
    ExecutionInfo,
    Arc<dyn TaskInvoker>,
);

use crate::runtime::logs::LogConfig;

/// Writes the execution log of a finished express execution, if its machine logs.
fn log_express(logs: Option<&LogConfig>, done: &driver::Finished) {
    if let (Some(logs), Some(history)) = (logs, &done.history) {
        crate::runtime::logs::write(logs, &done.execution.info.arn, 0, history);
    }
}

impl Service {
    pub(super) async fn start_execution(&self, req: &Value) -> Result<Value, ApiError> {
        let (arn, case) = split_test_case(field(req, "stateMachineArn")?);
        let (machine, alias) = self.start_target(arn).await?;
        let name = execution_name(req)?;
        let input = parse_input(req)?;
        if machine.kind == "EXPRESS" {
            // As on AWS: an express execution runs on its own, under an `express:` ARN that
            // DescribeExecution and GetExecutionHistory do not take.
            let (loaded, info, invoker) = self.prepare_express(&machine, &name, case)?;
            let answer = json!({"executionArn": info.arn, "startDate": epoch(info.start_time)});
            let logs = LogConfig::from_json(machine.config.logging.as_ref());
            self.spawn_engine(async move {
                let options = RunOptions {
                    virtual_clock: false,
                    record_history: logs.is_some(),
                };
                let done = driver::run(loaded, info, input, invoker, options).await;
                log_express(logs.as_ref(), &done);
            });
            return Ok(answer);
        }
        if let Some(case) = case {
            self.invokers.route(
                &arn::execution(machine.machine_arn(), &name),
                &machine.name,
                case,
                &machine.definition,
            )?;
        }
        let trace_header = opt_field(req, "traceHeader")?;
        let record = new_execution(
            &machine,
            alias.as_deref(),
            &name,
            input,
            now_ms(),
            trace_header,
        );
        let record = create_execution_of(&self.store, record)
            .await
            .map(|(record, _)| record)
            .map_err(|e| match e {
                StartError::AlreadyExists(a) => err(
                    Exception::ExecutionAlreadyExists,
                    format!("Execution Already Exists: '{a}'"),
                ),
                StartError::NoMachine(a) => err(
                    Exception::StateMachineDoesNotExist,
                    format!("State Machine Does Not Exist: '{a}'"),
                ),
                StartError::Store(e) => e.into(),
            })?;
        Ok(json!({"executionArn": record.info.arn, "startDate": epoch(record.info.start_time)}))
    }

    pub(super) async fn start_sync_execution(&self, req: &Value) -> Result<Value, ApiError> {
        let (arn, case) = split_test_case(field(req, "stateMachineArn")?);
        let (m, _) = self.start_target(arn).await?;
        if m.kind != "EXPRESS" {
            return Err(err(
                Exception::StateMachineTypeNotSupported,
                "This operation is not supported by this type of state machine",
            ));
        }
        let name = execution_name(req)?;
        let input = parse_input(req)?;
        let (machine, info, invoker) = self.prepare_express(&m, &name, case)?;
        let input_text = input
            .text
            .as_deref()
            .map(str::to_string)
            .unwrap_or_else(|| input.value.to_string());
        let logs = LogConfig::from_json(m.config.logging.as_ref());
        let options = RunOptions {
            virtual_clock: false,
            record_history: logs.is_some(),
        };
        let run = self.spawn_engine(driver::run(machine, info, input, invoker, options));
        let done = run.await.map_err(|e| {
            err(
                Exception::InternalFailure,
                format!("the express execution did not finish: {e}"),
            )
        })?;
        log_express(logs.as_ref(), &done);
        let exec = done.execution;
        let mut out = Map::new();
        out.insert("executionArn".into(), json!(exec.info.arn));
        out.insert("stateMachineArn".into(), json!(m.machine_arn()));
        out.insert("name".into(), json!(name));
        out.insert("startDate".into(), epoch(exec.info.start_time));
        out.insert(
            "stopDate".into(),
            epoch(exec.stop_time.unwrap_or_else(now_ms)),
        );
        out.insert("status".into(), json!(exec.status.as_str()));
        out.insert("input".into(), json!(input_text));
        out.insert("inputDetails".into(), json!({"included": true}));
        if exec.status == Status::Succeeded {
            out.insert(
                "output".into(),
                json!(exec.output.clone().unwrap_or(Value::Null).to_string()),
            );
            out.insert("outputDetails".into(), json!({"included": true}));
        }
        if let Some(e) = &exec.error {
            if !e.error.is_empty() {
                out.insert("error".into(), json!(e.error));
            }
            if let Some(c) = &e.cause {
                out.insert("cause".into(), json!(c));
            }
        }
        out.insert(
            "billingDetails".into(),
            json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}),
        );
        Ok(Value::Object(out))
    }

    /// What an express execution of `m` named `name` runs with: the loaded machine, its
    /// `express:` identity and the invokers (test case `case` routed to it).
    fn prepare_express(
        &self,
        m: &crate::store::MachineRecord,
        name: &str,
        case: Option<&str>,
    ) -> Result<ExpressRun, ApiError> {
        let machine = load(&m.definition)
            .map_err(|d| err(Exception::InvalidDefinition, diagnostics_text(&d)))?;
        let id = uuid::Uuid::new_v4().to_string();
        let info = ExecutionInfo {
            arn: arn::express_execution(m.machine_arn(), name, &id),
            name: name.to_string(),
            state_machine_arn: m.machine_arn().to_string(),
            state_machine_name: m.name.clone(),
            role_arn: m.role_arn.clone(),
            start_time: now_ms(),
            origin: Default::default(),
        };
        if let Some(case) = case {
            self.invokers
                .route(&info.arn, &m.name, case, &m.definition)?;
        }
        Ok((machine, info, self.invoker()))
    }

    pub(super) async fn execution(
        &self,
        arn: &str,
    ) -> Result<crate::store::ExecutionRecord, ApiError> {
        check_arn(arn, "execution")?;
        self.store.get_execution(arn).await?.ok_or_else(|| {
            err(
                Exception::ExecutionDoesNotExist,
                format!("Execution Does Not Exist: '{arn}'"),
            )
        })
    }

    pub(super) async fn describe_execution(&self, req: &Value) -> Result<Value, ApiError> {
        let record = self.execution(field(req, "executionArn")?).await?;
        Ok(describe_json(&record))
    }

    pub(super) async fn describe_machine_for_execution(
        &self,
        req: &Value,
    ) -> Result<Value, ApiError> {
        let record = self.execution(field(req, "executionArn")?).await?;
        let m = self.machine(record.info.definition_arn()).await?;
        let mut out = machine_json(&m);
        if let Value::Object(o) = &mut out {
            o.insert(
                "stateMachineArn".into(),
                json!(record.info.state_machine_arn),
            );
            o.remove("description");
            o.insert("updateDate".into(), epoch(m.created));
            o.remove("status");
            o.remove("type");
            o.remove("creationDate");
        }
        included_data(req, out)
    }

    pub(super) async fn list_executions(&self, req: &Value) -> Result<Value, ApiError> {
        let mut records = match (
            opt_field(req, "stateMachineArn")?,
            opt_field(req, "mapRunArn")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(err(
                    Exception::ValidationException,
                    "Only one of stateMachineArn or mapRunArn may be given",
                ))
            }
            (None, Some(map_run)) => self.map_run_executions(map_run).await?,
            (None, None) => {
                return Err(err(
                    Exception::ValidationException,
                    "Must provide a StateMachine ARN or MapRun ARN",
                ))
            }
            (Some(machine), None) => {
                let (m, records) = self.executions_of(machine).await?;
                if m.kind == "EXPRESS" {
                    return Err(err(
                        Exception::StateMachineTypeNotSupported,
                        "This operation is not supported by this type of state machine",
                    ));
                }
                records
            }
        };
        let filter = opt_field(req, "statusFilter")?;
        let redriven = match opt_field(req, "redriveFilter")? {
            None => None,
            Some("REDRIVEN") => Some(true),
            Some("NOT_REDRIVEN") => Some(false),
            Some(other) => {
                return Err(err(
                    Exception::ValidationException,
                    format!("1 validation error detected: Value '{other}' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]"),
                ))
            }
        };
        // AWS lists the most recent execution first.
        records.sort_by(|a, b| {
            b.info
                .start_time
                .cmp(&a.info.start_time)
                .then_with(|| b.info.arn.cmp(&a.info.arn))
        });
        let items: Vec<Value> = records
            .iter()
            .filter(|r| filter.is_none_or(|f| r.status.as_str() == f))
            .filter(|r| redriven.is_none_or(|want| (r.redrive.count > 0) == want))
            .map(|r| {
                let mut o = Map::new();
                o.insert("executionArn".into(), json!(r.info.arn));
                o.insert("stateMachineArn".into(), json!(r.info.state_machine_arn));
                if let Some(v) = &r.info.origin.version_arn {
                    o.insert("stateMachineVersionArn".into(), json!(v));
                }
                if let Some(a) = &r.info.origin.alias_arn {
                    o.insert("stateMachineAliasArn".into(), json!(a));
                }
                o.insert("name".into(), json!(r.info.name));
                o.insert("status".into(), json!(r.status.as_str()));
                o.insert("startDate".into(), epoch(r.info.start_time));
                if let Some(s) = r.stop_time.filter(|_| r.status != Status::Running) {
                    o.insert("stopDate".into(), epoch(s));
                }
                o.insert("redriveCount".into(), json!(r.redrive.count));
                if let Some(d) = r.redrive.date {
                    o.insert("redriveDate".into(), epoch(d));
                }
                Value::Object(o)
            })
            .collect();
        with_page(Map::new(), "executions", items, req)
    }

    pub(super) async fn redrive_execution(&self, req: &Value) -> Result<Value, ApiError> {
        use crate::runtime::redrive::{request_redrive, RedriveError};
        let arn = field(req, "executionArn")?;
        check_arn(arn, "execution")?;
        let token = opt_field(req, "clientToken")?;
        if let Some(t) = token {
            let constraint = if t.is_empty() {
                Some("Member must have length greater than or equal to 1")
            } else if t.chars().count() > 64 {
                Some("Member must have length less than or equal to 64")
            } else if !t.chars().all(|c| ('!'..='~').contains(&c)) {
                Some("Member must satisfy regular expression pattern: [!-~]+")
            } else {
                None
            };
            if let Some(c) = constraint {
                return Err(err(
                    Exception::ValidationException,
                    format!("1 validation error detected: Value '{t}' at 'clientToken' failed to satisfy constraint: {c}"),
                ));
            }
        }
        let date = request_redrive(&self.store, arn, token, now_ms())
            .await
            .map_err(|e| match e {
                RedriveError::NoExecution(a) => err(
                    Exception::ExecutionDoesNotExist,
                    format!("Execution Does Not Exist: '{a}'"),
                ),
                RedriveError::NotRedrivable(reason) => {
                    err(Exception::ExecutionNotRedrivable, reason)
                }
                RedriveError::Store(e) => e.into(),
            })?;
        Ok(json!({"redriveDate": epoch(date)}))
    }

    pub(super) async fn stop_execution(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "executionArn")?;
        let record = self.execution(arn).await?;
        let now = now_ms();
        if record.status == Status::Running {
            let request = StopRequest {
                error: opt_field(req, "error")?.map(str::to_string),
                cause: opt_field(req, "cause")?.map(str::to_string),
                time: now,
            };
            self.store.request_stop(arn, &request).await?;
            self.stop_sync_children(&record, &request).await?;
            self.abort_map_runs(&record, &request).await?;
        }
        Ok(json!({"stopDate": epoch(record.stop_time.unwrap_or(now))}))
    }

    /// Stops the children that `.sync` tasks of a stopped execution wait for, as Step Functions
    /// does.
    pub(super) async fn stop_sync_children(
        &self,
        record: &crate::store::ExecutionRecord,
        request: &StopRequest,
    ) -> Result<(), ApiError> {
        use crate::asl::resource::Pattern;
        use crate::runtime::nested::{child_arn, nested_pattern};
        let Some(snapshot) = &record.snapshot else {
            return Ok(());
        };
        for task in snapshot.tasks_in_flight() {
            if !matches!(
                nested_pattern(&task.resource),
                Some(Pattern::Sync | Pattern::Sync2)
            ) {
                continue;
            }
            let Some(child) = child_arn(task) else {
                continue;
            };
            if let Some(c) = self.store.get_execution(&child).await? {
                if c.status == Status::Running {
                    self.store.request_stop(&child, request).await?;
                }
            }
        }
        Ok(())
    }

    pub(super) async fn get_execution_history(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "executionArn")?;
        let record = self.execution(arn).await?;
        let include_data = req
            .get("includeExecutionData")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let reverse = req.get("reverseOrder").and_then(Value::as_bool) == Some(true);
        let max = max_results(req)? as u64;
        let last = record.last_event_id;
        // The token names the next event of the page after this one; only the page's events
        // are read, so a page of a long history costs what the page holds.
        let next = match page_token(req, 3096)? {
            None => None,
            Some(token) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.strip_prefix("event:").and_then(|n| n.parse().ok()))
                    .filter(|id: &u64| (1..=last).contains(id))
                    .ok_or_else(|| invalid_token(token))?,
            ),
        };
        let (from, to, after) = if reverse {
            let to = next.unwrap_or(last);
            let from = to.saturating_sub(max - 1).max(1);
            (from, to, (from > 1).then(|| from - 1))
        } else {
            let from = next.unwrap_or(1);
            let to = from.saturating_add(max - 1).min(last);
            (from, to, (to < last).then(|| to + 1))
        };
        let mut events = self.store.history_range(arn, from, to).await?;
        if reverse {
            events.reverse();
        }
        let mut out = Map::new();
        out.insert(
            "events".into(),
            events.iter().map(|e| event_json(e, include_data)).collect(),
        );
        if let Some(id) = after {
            out.insert(
                "nextToken".into(),
                Value::String(
                    base64::engine::general_purpose::STANDARD.encode(format!("event:{id}")),
                ),
            );
        }
        Ok(Value::Object(out))
    }

    /// The events of execution `arn` after event `after` (0: all of them), as the JSON text of
    /// an array of GetExecutionHistory's events with their data, in one read: for the console,
    /// which would otherwise page through a long history (a 10,000-item Map's 40,000 events)
    /// 1,000 events a request, every page reading the whole history. Written straight from the
    /// stored events, with no JSON tree in between.
    ///
    /// # Errors
    ///
    /// As GetExecutionHistory's: `InvalidArn`, `ExecutionDoesNotExist`, a store failure.
    pub async fn history_after(&self, arn: &str, after: u64) -> Result<String, ApiError> {
        self.execution(arn).await?;
        let history = self
            .store
            .history_range(arn, after.saturating_add(1), u64::MAX)
            .await?;
        let events: Vec<ApiEvent<'_>> = history
            .iter()
            .map(|e| ApiEvent {
                timestamp: e.timestamp as f64 / 1000.0,
                event_type: &e.event_type,
                id: e.id,
                previous_event_id: e.previous_event_id,
                details: &e.details,
            })
            .collect();
        Ok(serde_json::to_string(&events).expect("history events always serialize"))
    }
}

/// A stored event as GetExecutionHistory shows it (as `HistoryEvent::to_api_json` makes it),
/// borrowed for writing.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiEvent<'a> {
    timestamp: f64,
    #[serde(rename = "type")]
    event_type: &'a str,
    id: u64,
    previous_event_id: u64,
    #[serde(flatten)]
    details: &'a Map<String, Value>,
}
