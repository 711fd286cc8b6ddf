//! Distributed Map states: the Map Run. The engine evaluates what AWS evaluates in the parent
//! (the items or the `ItemReader`'s parameters, `ItemSelector`, `ItemBatcher`, the limits and
//! the `ResultWriter`'s parameters) and asks the driver, through the task seam, for two things
//! on the resource [`MAP_RUN_RESOURCE`]: `{"Read": ...}` the reader's items, then
//! `{"Run": ...}` the child executions, one per input, whose answer is the results array (or
//! the `ResultWriter`'s details). The history is AWS's: MapStateStarted, MapRunStarted, then
//! MapRunSucceeded (MapStateSucceeded, MapStateExited) or MapRunFailed (MapStateFailed).

use std::sync::Arc;

use rand::RngCore as _;
use serde_json::{json, Map, Value};

use crate::asl::error::{self, StatesError};
use crate::asl::jsonata;
use crate::asl::model::{MapState, PathField, QueryLanguage, State};
use crate::asl::payload::json_len;
use crate::asl::resource::Resource;
use crate::asl::template::Template;
use crate::engine::execution::{body_at, FrameId, Phase};
use crate::engine::history::Details;
use crate::engine::states::io::*;
use crate::engine::states::map::tolerance_from;
use crate::engine::step::{Command, Outcome, Stepper};
use crate::engine::task::{TaskRequest, DEFAULT_MAX_CONCURRENCY, MAP_RUN_RESOURCE};

/// The largest input of one child execution (256 KiB), as for any execution.
const CHILD_INPUT_LIMIT: usize = 256 * 1024;

impl Stepper<'_> {
    /// Starts a Distributed Map: MapStateStarted, the limits, MapRunStarted, then the read or
    /// the run.
    pub(crate) fn run_distributed_map(
        &mut self,
        id: FrameId,
        name: &str,
        m: &MapState,
        time: i64,
    ) -> Result<Outcome, StatesError> {
        let (items, selector_input) = self.map_items(id, name, m)?;
        let n = items.len();
        self.emit(Some(id), time, "MapStateStarted", || Details::MapStarted {
            length: n,
        });
        // AWS checks the limits after MapStateStarted and fails the execution there, with no
        // MapStateFailed.
        let limits = match self
            .map_limits(id, name, m)
            .and_then(|l| tolerance_from(l.count, l.pct, n).map(|_| l))
        {
            Ok(l) => l,
            Err(e) => {
                let e = self.located(id, name, e);
                self.end_frame(id, Err(e), time);
                return Ok(Outcome::Blocked);
            }
        };
        let map_run_arn = self.new_map_run_arn(m);
        let arn = map_run_arn.clone();
        self.emit(Some(id), time, "MapRunStarted", || Details::MapRunStarted {
            map_run_arn: arn,
        });
        let writer = match self.result_writer(id, name, m) {
            Ok(w) => w,
            Err(e) => {
                let e = self.located(id, name, e);
                self.map_run_failed_event(id, &e, time);
                return Ok(Outcome::Failed(e));
            }
        };
        let mut run = Map::new();
        run.insert("MapRunArn".into(), Value::String(map_run_arn.clone()));
        let (machine_arn, _) = map_run_arn
            .rsplit_once(':')
            .unwrap_or((map_run_arn.as_str(), ""));
        run.insert(
            "StateMachineArn".into(),
            Value::String(machine_arn.replacen(":mapRun:", ":stateMachine:", 1)),
        );
        run.insert(
            "Definition".into(),
            m.child_definition
                .as_deref()
                .cloned()
                .unwrap_or(Value::Null),
        );
        run.insert("ExecutionType".into(), Value::from(m.execution_type()));
        let max = match limits.max_concurrency {
            0 => DEFAULT_MAX_CONCURRENCY,
            n => n,
        };
        run.insert("MaxConcurrency".into(), Value::from(max));
        if let Some(c) = limits.count {
            run.insert("ToleratedFailureCount".into(), Value::from(c));
        }
        if let Some(p) = limits.pct {
            run.insert("ToleratedFailurePercentage".into(), Value::from(p));
        }
        if let Some(w) = writer {
            run.insert("ResultWriter".into(), w);
        }
        if let Some(l) = &m.label {
            run.insert("Label".into(), Value::String(l.clone()));
        }
        if m.item_batcher.is_some() {
            run.insert("Batched".into(), Value::Bool(true));
        }
        if m.item_reader.is_some() {
            let read = match self.reader_request(id, name, m) {
                Ok(r) => r,
                Err(e) => {
                    let e = self.located(id, name, e);
                    self.map_run_failed_event(id, &e, time);
                    return Ok(Outcome::Failed(e));
                }
            };
            let input = json!({"Read": read, "Run": Value::Object(run)});
            self.invoke_map_run(id, name, input);
            return Ok(Outcome::Blocked);
        }
        match self.child_inputs(id, name, m, items, selector_input) {
            Ok(inputs) => {
                run.insert("Inputs".into(), Value::Array(inputs));
                self.invoke_map_run(id, name, json!({"Run": Value::Object(run)}));
                Ok(Outcome::Blocked)
            }
            Err(e) => {
                let e = self.located(id, name, e);
                self.map_run_failed_event(id, &e, time);
                Ok(Outcome::Failed(e))
            }
        }
    }

    /// The Map Run's ARN: `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>`
    /// (a generated label when the state has none), drawn from the execution's randomness so a
    /// replay names the same Map Run.
    fn new_map_run_arn(&self, m: &MapState) -> String {
        let mut rng = self.rng();
        let mut uuid = || {
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string()
        };
        let label = m.label.clone().unwrap_or_else(&mut uuid);
        let id = uuid();
        let account = self
            .info
            .state_machine_arn
            .split(':')
            .nth(4)
            .filter(|a| !a.is_empty())
            .unwrap_or("111111111111");
        format!(
            "arn:aws:states:{}:{account}:mapRun:{}/{label}:{id}",
            self.info.region(),
            self.info.state_machine_name
        )
    }

    /// Asks the driver for a Map Run request (`{"Read": ...}` or `{"Run": ...}`).
    fn invoke_map_run(&mut self, id: FrameId, name: &str, input: Value) {
        let wait = self.begin_wait(id);
        let attempt = self.frame(id).map(|f| f.retry_count).unwrap_or_default();
        let request = TaskRequest {
            execution_arn: Arc::clone(&self.arn),
            state_name: Arc::from(name),
            resource: Resource::parse(MAP_RUN_RESOURCE),
            input,
            attempt,
            timeout_seconds: None,
            heartbeat_seconds: None,
            frame: id,
            timeout_at: None,
            heartbeat_at: None,
            token: None,
            submitted: false,
        };
        // Kept in memory too: the answer is read by what was asked.
        if let Some(f) = self.frame_mut(id) {
            f.phase = Phase::Task { attempt };
            f.task = Some(Arc::new(request.clone()));
        }
        self.out.commands.push(Command::Invoke {
            frame: id,
            wait,
            request: Box::new(request),
        });
    }

    /// The Map Run failed: MapRunFailed; the state fails after it.
    fn map_run_failed_event(&mut self, id: FrameId, err: &StatesError, time: i64) {
        let e2 = err.clone();
        self.emit(Some(id), time, "MapRunFailed", || Details::TaskError {
            resource: None,
            error: e2,
        });
    }

    /// The Map Run failed while the driver answered: MapRunFailed, then the state fails
    /// (MapStateFailed, retry, catch).
    fn map_run_failed(&mut self, id: FrameId, err: StatesError, time: i64) {
        self.map_run_failed_event(id, &err, time);
        let machine = Arc::clone(&self.machine);
        let Some(frame) = self.frame(id) else {
            return;
        };
        let body = body_at(&machine, &frame.body);
        let (name, state) = body.state(frame.current);
        if let Some(f) = self.frame_mut(id) {
            f.phase = Phase::Run;
            f.task = None;
        }
        if self.fail_state(id, body, name, state, err, time) {
            self.run_frame(id, time);
        }
    }

    /// What a Map Run request answered.
    pub(crate) fn map_run_done(
        &mut self,
        id: FrameId,
        result: Result<Value, StatesError>,
        time: i64,
    ) {
        let machine = Arc::clone(&self.machine);
        let Some(frame) = self.frame_mut(id) else {
            return;
        };
        if !matches!(frame.phase, Phase::Task { .. }) {
            return;
        }
        let Some(request) = frame.task.take() else {
            return;
        };
        frame.phase = Phase::Run;
        let Some(frame) = self.frame(id) else { return };
        let body = body_at(&machine, &frame.body);
        let (name, state) = body.state(frame.current);
        let State::Map(m) = state else { return };
        let value = match result {
            Ok(v) => v,
            Err(e) => {
                self.map_run_failed(id, e, time);
                return;
            }
        };
        let TaskRequest { input, .. } = Arc::unwrap_or_clone(request);
        let Value::Object(mut asked) = input else {
            return;
        };
        if asked.contains_key("Read") {
            let Some(Value::Object(mut run)) = asked.remove("Run") else {
                return;
            };
            let items = match value {
                Value::Array(items) => items,
                other => {
                    let e = StatesError::new(
                        error::ITEM_READER_FAILED,
                        format!("The item reader did not give an array: {other}"),
                    );
                    self.map_run_failed(id, e, time);
                    return;
                }
            };
            let selector_input = match self.map_items(id, name, m) {
                Ok((_, s)) => s,
                Err(e) => {
                    let e = self.located(id, name, e);
                    self.map_run_failed(id, e, time);
                    return;
                }
            };
            match self.child_inputs(id, name, m, items, selector_input) {
                Ok(inputs) => {
                    run.insert("Inputs".into(), Value::Array(inputs));
                    self.invoke_map_run(id, name, json!({"Run": Value::Object(run)}));
                }
                Err(e) => {
                    let e = self.located(id, name, e);
                    self.map_run_failed(id, e, time);
                }
            }
            return;
        }
        // MapRunSucceeded follows MapRunStarted, MapStateSucceeded follows it, and
        // MapStateExited follows MapRunStarted (as AWS links them since late 2024; before, it
        // followed MapRunSucceeded).
        let started = self.last_event_of(id);
        self.emit(Some(id), time, "MapRunSucceeded", || Details::None);
        self.emit(Some(id), time, "MapStateSucceeded", || Details::None);
        self.link_frame(id, started);
        if let Some(f) = self.frame_mut(id) {
            f.input_text = None;
        }
        let outcome = match self.state_output(id, name, &m.common, &m.result, value) {
            Ok(v) => Outcome::Next(v),
            Err(e) => Outcome::Failed(e),
        };
        if self.handle_outcome(id, body, name, state, outcome, time) {
            self.run_frame(id, time);
        }
    }

    /// The reader's request: `{Resource, Parameters, ReaderConfig}`, evaluated on the
    /// state's input (`MaxItemsPath` read into `ReaderConfig.MaxItems`).
    fn reader_request(&self, id: FrameId, name: &str, m: &MapState) -> Result<Value, StatesError> {
        let Some(reader) = m.item_reader.as_ref().and_then(Value::as_object) else {
            return Err(StatesError::runtime("ItemReader must be an object"));
        };
        let resource = reader
            .get("Resource")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut config = reader
            .get("ReaderConfig")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let params = if m.common.lang == QueryLanguage::JSONata {
            let params = match reader.get("Arguments") {
                Some(a) => self.jsonata_field(id, name, a, "Arguments")?,
                None => json!({}),
            };
            config = self.jsonata_field(id, name, &config, "ReaderConfig")?;
            params
        } else {
            let params = match reader.get("Parameters") {
                Some(p) => self.jsonpath_template(id, name, m, p, "ItemReader.Parameters")?,
                None => json!({}),
            };
            if let Some(path) = config.get("MaxItemsPath").and_then(Value::as_str) {
                let v = self.jsonpath_value(id, name, m, path)?;
                let n = integer_like(&v).filter(|n| *n >= 0).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The MaxItemsPath field refers to value \"{}\" which is not a valid integer: {path}",
                        render_plain(&v)
                    ))
                })?;
                if let Value::Object(c) = &mut config {
                    c.remove("MaxItemsPath");
                    c.insert("MaxItems".into(), Value::from(n));
                }
            }
            params
        };
        Ok(json!({"Resource": resource, "Parameters": params, "ReaderConfig": config}))
    }

    /// The `ResultWriter`'s request `{Resource, Parameters, WriterConfig}`, evaluated on the
    /// state's input; `None` without a ResultWriter.
    fn result_writer(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
    ) -> Result<Option<Value>, StatesError> {
        let Some(writer) = m.result_writer.as_ref().and_then(Value::as_object) else {
            return Ok(None);
        };
        let mut out = Map::new();
        if let Some(r) = writer.get("Resource") {
            out.insert("Resource".into(), r.clone());
        }
        let params = if m.common.lang == QueryLanguage::JSONata {
            match writer.get("Arguments") {
                Some(a) => Some(self.jsonata_field(id, name, a, "Arguments")?),
                None => None,
            }
        } else {
            match writer.get("Parameters") {
                Some(p) => {
                    Some(self.jsonpath_template(id, name, m, p, "ResultWriter.Parameters")?)
                }
                None => None,
            }
        };
        if let Some(p) = params {
            out.insert("Parameters".into(), p);
        }
        if let Some(c) = writer.get("WriterConfig") {
            out.insert("WriterConfig".into(), c.clone());
        }
        Ok(Some(Value::Object(out)))
    }

    /// Each child execution's input: the ItemSelector applied to every item, then the items
    /// batched when the state has an `ItemBatcher`.
    fn child_inputs(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        items: Vec<Value>,
        selector_input: Option<Value>,
    ) -> Result<Vec<Value>, StatesError> {
        let Some(frame) = self.frame(id) else {
            return Ok(Vec::new());
        };
        let selector_input = selector_input.as_ref().unwrap_or(&frame.input);
        let selected = self.iteration_inputs(id, name, m, items, selector_input)?;
        let Some(batcher) = m.item_batcher.as_ref().and_then(Value::as_object) else {
            for (index, input) in selected.iter().enumerate() {
                if json_len(input, CHILD_INPUT_LIMIT) > CHILD_INPUT_LIMIT {
                    return Err(StatesError::new(
                        error::DATA_LIMIT_EXCEEDED,
                        format!("The input of the child execution of item {index} is over the 256 KiB limit"),
                    ));
                }
            }
            return Ok(selected);
        };
        let batch = self.batch_limits(id, name, m, batcher)?;
        let mut inputs = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut bytes = 0usize;
        let base = batch
            .batch_input
            .as_ref()
            .map_or(0, |b| json_len(b, usize::MAX) + 15)
            + 12;
        let close = |items: Vec<Value>, inputs: &mut Vec<Value>| {
            let mut o = Map::new();
            o.insert("Items".into(), Value::Array(items));
            if let Some(b) = &batch.batch_input {
                o.insert("BatchInput".into(), b.clone());
            }
            inputs.push(Value::Object(o));
        };
        for item in selected {
            let size = json_len(&item, usize::MAX) + 1;
            if base + size > CHILD_INPUT_LIMIT {
                return Err(StatesError::new(
                    error::DATA_LIMIT_EXCEEDED,
                    "An item of the batch is over the 256 KiB limit of a child execution's input",
                ));
            }
            let full = !current.is_empty()
                && (batch.max_items.is_some_and(|n| current.len() >= n)
                    || base + bytes + size > batch.max_bytes);
            if full {
                close(std::mem::take(&mut current), &mut inputs);
                bytes = 0;
            }
            bytes += size;
            current.push(item);
        }
        if !current.is_empty() {
            close(current, &mut inputs);
        }
        Ok(inputs)
    }

    /// The `ItemBatcher`'s limits and `BatchInput`, evaluated on the state's input.
    fn batch_limits(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        batcher: &Map<String, Value>,
    ) -> Result<BatchLimits, StatesError> {
        let jsonata = m.common.lang == QueryLanguage::JSONata;
        let number = |field: &str| -> Result<Option<u64>, StatesError> {
            let value = match (batcher.get(field), batcher.get(&format!("{field}Path"))) {
                (Some(v), _) if jsonata => self.jsonata_field(id, name, v, field)?,
                (Some(v), _) => v.clone(),
                (None, Some(Value::String(p))) if !jsonata => {
                    self.jsonpath_value(id, name, m, p)?
                }
                _ => return Ok(None),
            };
            match integer_like(&value) {
                Some(n) if n > 0 => Ok(Some(n as u64)),
                _ => Err(StatesError::runtime(format!(
                    "The {field} field refers to value \"{}\" which is not a valid positive integer",
                    render_plain(&value)
                ))),
            }
        };
        let max_items = number("MaxItemsPerBatch")?.map(|n| n as usize);
        let max_bytes = number("MaxInputBytesPerBatch")?
            .map_or(CHILD_INPUT_LIMIT, |n| (n as usize).min(CHILD_INPUT_LIMIT));
        let batch_input = match batcher.get("BatchInput") {
            Some(b) if jsonata => Some(self.jsonata_field(id, name, b, "BatchInput")?),
            Some(b) => Some(self.jsonpath_template(id, name, m, b, "ItemBatcher.BatchInput")?),
            None => None,
        };
        Ok(BatchLimits {
            max_items,
            max_bytes,
            batch_input,
        })
    }

    /// A JSONata field of the Map state, evaluated on its input.
    fn jsonata_field(
        &self,
        id: FrameId,
        name: &str,
        v: &Value,
        field: &str,
    ) -> Result<Value, StatesError> {
        let env = self.env(id, name, true, true);
        let input = self.frame(id).map_or(&Value::Null, |f| &*f.input);
        let states = env.states(input, None);
        jsonata::eval_template(v, field, &states, &env.vars, &env.moment)
    }

    /// A JSONPath payload template of the Map state (`Parameters`, `BatchInput`), evaluated
    /// on its effective input.
    fn jsonpath_template(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        v: &Value,
        field: &str,
    ) -> Result<Value, StatesError> {
        let tpl = Template::compile(v)
            .map_err(|e| StatesError::runtime(format!("The {field} field is invalid: {e}")))?;
        let env = self.env(id, name, true, true);
        let effective = self.effective_input(id, m, &env)?;
        let mut rng = self.rng();
        tpl.eval(&env.scope(&effective), &mut rng)
    }

    /// The value at a reference path of the Map state's effective input.
    fn jsonpath_value(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        path: &str,
    ) -> Result<Value, StatesError> {
        let p = crate::asl::path::Path::parse(path)
            .map_err(|e| StatesError::runtime(format!("The path {path} is invalid: {e}")))?;
        let env = self.env(id, name, true, true);
        let effective = self.effective_input(id, m, &env)?;
        Ok(p.lookup(&env.scope(&effective))
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// The state's input after `InputPath`.
    fn effective_input(&self, id: FrameId, m: &MapState, env: &Env) -> Result<Value, StatesError> {
        let input = self
            .frame(id)
            .map(|f| Value::clone(&f.input))
            .unwrap_or(Value::Null);
        match &m.common.input_path {
            PathField::Default => Ok(input),
            f => apply_path(f, input, env),
        }
    }
}

/// An `ItemBatcher`, evaluated.
struct BatchLimits {
    max_items: Option<usize>,
    max_bytes: usize,
    batch_input: Option<Value>,
}
