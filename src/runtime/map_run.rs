//! Distributed Map runs: what the engine asks on
//! [`MAP_RUN_RESOURCE`](crate::engine::task::MAP_RUN_RESOURCE). `{"Read": ...}` reads an
//! `ItemReader`'s items from S3 ([`ItemReader`]); `{"Run": ...}` runs one child execution
//! per input and answers the results array in item order, or, with a `ResultWriter`, writes
//! the results to S3 as AWS does and answers where.
//!
//! Children of a `STANDARD` Map Run are stored executions with their own history, of a child
//! state machine `<machine>/<label>` stored beside the parent's; each is named by a digest of
//! the Map Run ARN and its index, so a Map Run asked again after a takeover finds the children
//! it started. `EXPRESS` children run in memory, as express executions do. At most
//! `MaxConcurrency` run at once; a failure beyond the tolerated count or percentage fails the
//! Map Run with `States.ExceedToleratedFailureThreshold`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::asl::error::{self, StatesError};
use crate::asl::load::load;
use crate::asl::model::StateMachine;
use crate::asl::resource::Resource;
use crate::engine::execution::{ExecutionInfo, Origin, Status};
use crate::engine::task::TaskRequest;
use crate::runtime::arn;
use crate::runtime::clock::real_now;
use crate::runtime::driver::{self, RunOptions};
use crate::runtime::durable::MachineCache;
use crate::runtime::nested::{child_name, drive_to_end, store_error};
use crate::store::{AnyStore, Created, ExecutionRecord, MachineRecord, MapRunRecord, Store};
use crate::tasks::items::{ItemReader, ReaderConfig};
use crate::tasks::{Invocation, TaskInvoker};

mod result_writer;

/// Map Runs over a store.
pub struct MapRuns {
    store: AnyStore,
    /// What runs the children's tasks: the whole stack, mocks included.
    invoker: Weak<dyn TaskInvoker>,
    machines: MachineCache,
    reader: ItemReader,
    virtual_clock: bool,
}

/// How one child execution ended.
struct ChildEnd {
    index: usize,
    record: ExecutionRecord,
}

/// How a child ended, sent by its runner; after a failure, with the means to let the runner
/// go on.
type Ended = (Result<ChildEnd, StatesError>, Option<oneshot::Sender<()>>);

/// The children of a running Map Run, shared by its runners.
struct Pool {
    /// The inputs not started yet, with their indexes.
    queue: Mutex<std::iter::Enumerate<std::vec::IntoIter<Value>>>,
    /// See [`RunRequest::batch_sizes`].
    batch_sizes: Vec<u64>,
    /// Children at once, at most.
    limit: AtomicUsize,
    /// Runners running.
    alive: AtomicUsize,
    /// Items of the children started so far.
    items_started: AtomicU64,
    machine: Arc<StateMachine>,
    record: Arc<MachineRecord>,
    map_run_arn: Arc<str>,
    express: bool,
}

impl Pool {
    /// How many items input `index` carries.
    fn items_of(&self, index: usize) -> u64 {
        self.batch_sizes.get(index).copied().unwrap_or(1)
    }
}

/// A Map Run's request, read.
struct RunRequest {
    map_run_arn: String,
    machine_arn: String,
    definition: Value,
    express: bool,
    inputs: Vec<Value>,
    max_concurrency: usize,
    tolerated_count: Option<f64>,
    tolerated_pct: Option<f64>,
    writer: Option<Value>,
    /// With an `ItemBatcher`, the items of each input (a batch `{"Items": [...]}`); empty
    /// when every input is one item.
    batch_sizes: Vec<u64>,
}

impl RunRequest {
    fn items_total(&self) -> u64 {
        if self.batch_sizes.is_empty() {
            self.inputs.len() as u64
        } else {
            self.batch_sizes.iter().sum()
        }
    }

    /// The request the engine made, taken apart (its inputs moved, not copied).
    fn from_json(run: Value) -> Result<RunRequest, StatesError> {
        let Value::Object(mut run) = run else {
            return Err(StatesError::runtime("the Map Run request is not an object"));
        };
        let text = |run: &Map<String, Value>, k: &str| {
            run.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let inputs = match run.remove("Inputs") {
            Some(Value::Array(a)) => a,
            _ => return Err(StatesError::runtime("the Map Run has no inputs")),
        };
        let batch_sizes = if run.get("Batched").and_then(Value::as_bool) == Some(true) {
            inputs
                .iter()
                .map(|input| {
                    input
                        .get("Items")
                        .and_then(Value::as_array)
                        .map_or(1, |a| a.len() as u64)
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(RunRequest {
            map_run_arn: text(&run, "MapRunArn"),
            machine_arn: text(&run, "StateMachineArn"),
            express: text(&run, "ExecutionType") == "EXPRESS",
            definition: run.remove("Definition").unwrap_or(Value::Null),
            inputs,
            max_concurrency: run
                .get("MaxConcurrency")
                .and_then(Value::as_u64)
                .map_or(1, |n| n.max(1) as usize),
            tolerated_count: run.get("ToleratedFailureCount").and_then(Value::as_f64),
            tolerated_pct: run
                .get("ToleratedFailurePercentage")
                .and_then(Value::as_f64),
            writer: run.remove("ResultWriter"),
            batch_sizes,
        })
    }
}

/// A Map Run's record as it runs: its settings (UpdateMapRun may change them) re-read at most
/// once a second, and the children's counts written with them.
struct Progress {
    record: MapRunRecord,
    count_set: bool,
    pct_set: bool,
    max_concurrency: usize,
    succeeded: u64,
    failed: u64,
    items_succeeded: u64,
    items_failed: u64,
    items_running: u64,
    timed_out: u64,
    aborted: u64,
    items_timed_out: u64,
    items_aborted: u64,
    checked: std::time::Instant,
}

impl Progress {
    /// The Map Run's record: stored now, or the one stored when it was first asked for.
    async fn begin(
        store: &AnyStore,
        run: &RunRequest,
        request: &TaskRequest,
    ) -> Result<Progress, StatesError> {
        let record = match store
            .get_map_run(&run.map_run_arn)
            .await
            .map_err(store_error)?
        {
            Some(r) => r,
            None => {
                let r = MapRunRecord {
                    arn: run.map_run_arn.clone(),
                    execution_arn: request.execution_arn.to_string(),
                    state_machine_arn: run.machine_arn.clone(),
                    status: "RUNNING".into(),
                    start: real_now(),
                    stop: None,
                    max_concurrency: run.max_concurrency as u64,
                    tolerated_failure_count: run.tolerated_count.unwrap_or(0.0) as i64,
                    tolerated_failure_percentage: run.tolerated_pct.unwrap_or(0.0),
                    execution_type: if run.express { "EXPRESS" } else { "STANDARD" }.into(),
                    total: run.inputs.len() as u64,
                    succeeded: 0,
                    failed: 0,
                    running: 0,
                    items_total: run.items_total(),
                    items_succeeded: 0,
                    items_failed: 0,
                    items_running: 0,
                    timed_out: 0,
                    aborted: 0,
                    items_timed_out: 0,
                    items_aborted: 0,
                };
                store.put_map_run(&r).await.map_err(store_error)?;
                r
            }
        };
        Ok(Progress {
            max_concurrency: (record.max_concurrency as usize).max(1),
            count_set: run.tolerated_count.is_some(),
            pct_set: run.tolerated_pct.is_some(),
            record,
            succeeded: 0,
            failed: 0,
            items_succeeded: 0,
            items_failed: 0,
            items_running: 0,
            timed_out: 0,
            aborted: 0,
            items_timed_out: 0,
            items_aborted: 0,
            checked: std::time::Instant::now(),
        })
    }

    /// The failures tolerated out of `total` children.
    fn tolerated(&self, total: usize) -> f64 {
        let count = self.record.tolerated_failure_count as f64;
        let pct = self.record.tolerated_failure_percentage / 100.0 * total as f64;
        match (self.count_set, self.pct_set) {
            (false, false) => 0.0,
            (true, false) => count,
            (false, true) => pct,
            (true, true) => count.min(pct),
        }
    }

    /// Once a second: takes in UpdateMapRun's settings and writes the counts.
    async fn refresh(&mut self, store: &AnyStore, running: usize) -> Result<(), StatesError> {
        if self.checked.elapsed() < std::time::Duration::from_secs(1) {
            return Ok(());
        }
        self.checked = std::time::Instant::now();
        if let Some(stored) = store
            .get_map_run(&self.record.arn)
            .await
            .map_err(store_error)?
        {
            self.count_set |= stored.tolerated_failure_count != self.record.tolerated_failure_count;
            self.pct_set |=
                stored.tolerated_failure_percentage != self.record.tolerated_failure_percentage;
            self.max_concurrency = (stored.max_concurrency as usize).max(1);
            let aborted = stored.status == "ABORTED";
            self.record = stored;
            if aborted {
                // StopExecution of the parent: no child more; the parent is being stopped.
                return Err(StatesError::runtime("the Map Run was aborted"));
            }
        }
        self.write(store, running).await
    }

    async fn write(&mut self, store: &AnyStore, running: usize) -> Result<(), StatesError> {
        self.record.succeeded = self.succeeded;
        self.record.failed = self.failed;
        self.record.running = running as u64;
        self.record.items_succeeded = self.items_succeeded;
        self.record.items_failed = self.items_failed;
        self.record.timed_out = self.timed_out;
        self.record.aborted = self.aborted;
        self.record.items_timed_out = self.items_timed_out;
        self.record.items_aborted = self.items_aborted;
        self.record.items_running = if running == 0 { 0 } else { self.items_running };
        store.put_map_run(&self.record).await.map_err(store_error)
    }

    /// The Map Run ended with `status`.
    async fn finish(
        &mut self,
        store: &AnyStore,
        status: &str,
        running: usize,
    ) -> Result<(), StatesError> {
        if let Some(stored) = store
            .get_map_run(&self.record.arn)
            .await
            .map_err(store_error)?
        {
            self.record = stored;
        }
        if self.record.status == "ABORTED" {
            return Ok(());
        }
        self.record.status = status.to_string();
        self.record.stop = Some(real_now());
        self.write(store, running).await
    }
}

fn threshold_exceeded() -> StatesError {
    StatesError::new(
        error::EXCEED_TOLERATED_FAILURE_THRESHOLD,
        "The specified tolerated failure threshold was exceeded",
    )
}

impl MapRuns {
    /// Map Runs whose children are stored in `store` and run their tasks through `invoker`.
    pub fn new(store: AnyStore, invoker: Weak<dyn TaskInvoker>, virtual_clock: bool) -> Self {
        MapRuns {
            store,
            invoker,
            machines: MachineCache::default(),
            reader: ItemReader::new(),
            virtual_clock,
        }
    }

    /// Answers a Map Run request of the engine.
    pub fn invoke(self: &Arc<Self>, request: &TaskRequest) -> Invocation {
        let me = Arc::clone(self);
        let mut request = request.clone();
        let asked = std::mem::take(&mut request.input);
        Invocation::Pending(Box::pin(async move {
            if let Some(read) = asked.get("Read") {
                return me.read(read, &request).await;
            }
            let Value::Object(mut asked) = asked else {
                return Err(StatesError::runtime("a Map Run request asks for nothing"));
            };
            match asked.remove("Run") {
                Some(run) => me.run(RunRequest::from_json(run)?, &request).await,
                None => Err(StatesError::runtime("a Map Run request asks for nothing")),
            }
        }))
    }

    async fn read(&self, read: &Value, request: &TaskRequest) -> Result<Value, StatesError> {
        let resource = Resource::parse(read["Resource"].as_str().unwrap_or_default());
        let config_json = read.get("ReaderConfig").cloned().unwrap_or(json!({}));
        let max_items = config_json.get("MaxItems").and_then(Value::as_i64);
        let config = ReaderConfig::from_json(&config_json, max_items)?;
        let params = read.get("Parameters").cloned().unwrap_or(json!({}));
        let items = self
            .reader
            .read(
                &resource,
                &params,
                &config,
                &request.execution_arn,
                &request.state_name,
            )
            .await?;
        Ok(Value::Array(items))
    }

    async fn run(
        self: &Arc<Self>,
        mut run: RunRequest,
        request: &TaskRequest,
    ) -> Result<Value, StatesError> {
        let machine = load(&run.definition).map_err(|d| {
            StatesError::runtime(format!(
                "The Map's item processor is not a valid state machine: {}",
                d.first().map(|d| d.to_string()).unwrap_or_default()
            ))
        })?;
        let machine_name = run
            .machine_arn
            .rsplit_once(":stateMachine:")
            .map_or(run.machine_arn.as_str(), |(_, n)| n)
            .to_string();
        let record = MachineRecord {
            arn: run.machine_arn.clone(),
            name: machine_name,
            definition: run.definition.clone(),
            kind: if run.express { "EXPRESS" } else { "STANDARD" }.into(),
            role_arn: arn::default_role(),
            created: real_now(),
            tags: Default::default(),
            definition_text: None,
            config: Default::default(),
            version: None,
            published: Default::default(),
        };
        if !run.express
            && self
                .store
                .get_machine(&record.arn)
                .await
                .map_err(store_error)?
                .is_none()
        {
            self.store.put_machine(&record).await.map_err(store_error)?;
        }
        let record = Arc::new(record);
        let total = run.inputs.len();
        let mut progress = Progress::begin(&self.store, &run, request).await?;
        let pool = Arc::new(Pool {
            queue: Mutex::new(std::mem::take(&mut run.inputs).into_iter().enumerate()),
            batch_sizes: std::mem::take(&mut run.batch_sizes),
            limit: AtomicUsize::new(progress.max_concurrency),
            alive: AtomicUsize::new(0),
            items_started: AtomicU64::new(0),
            machine,
            record,
            map_run_arn: Arc::from(run.map_run_arn.as_str()),
            express: run.express,
        });
        // Bounded: runners wait while the ends they sent are taken in (no backlog of records).
        let (ended_tx, mut ended) = mpsc::channel(256);
        let mut runners: JoinSet<()> = JoinSet::new();
        // A ResultWriter lists each child; without one only its result is kept.
        let keep_records = run.writer.is_some();
        let mut ends: Vec<Option<ExecutionRecord>> = Vec::new();
        let mut results: Vec<Value> = Vec::new();
        if keep_records {
            ends.resize(total, None);
        } else {
            results.resize(total, Value::Null);
        }
        let mut done = 0usize;
        let mut items_done = 0u64;
        while done < total {
            let running = pool.items_started.load(Ordering::Relaxed) - items_done;
            progress.items_running = running;
            progress
                .refresh(&self.store, pool.alive.load(Ordering::Relaxed))
                .await?;
            pool.limit
                .store(progress.max_concurrency, Ordering::Relaxed);
            // As many runners as the Map Run may have children at once (UpdateMapRun may
            // raise it), no more than there are children left.
            let wanted = progress.max_concurrency.min(total - done);
            while pool.alive.load(Ordering::Relaxed) < wanted {
                pool.alive.fetch_add(1, Ordering::Relaxed);
                let me = Arc::clone(self);
                let pool = Arc::clone(&pool);
                let ended_tx = ended_tx.clone();
                runners.spawn(async move { me.runner(&pool, &ended_tx).await });
            }
            let (end, ack) = match tokio::time::timeout(Duration::from_secs(1), ended.recv()).await
            {
                Ok(Some((end, ack))) => (end?, ack),
                // Nothing ended within a second: refresh the settings and counts.
                Ok(None) | Err(_) => {
                    while let Some(joined) = runners.try_join_next() {
                        if let Err(e) = joined {
                            return Err(StatesError::runtime(format!(
                                "a child execution panicked: {e}"
                            )));
                        }
                    }
                    continue;
                }
            };
            done += 1;
            let items = pool.items_of(end.index);
            items_done += items;
            if end.record.status == Status::Succeeded {
                progress.succeeded += 1;
                progress.items_succeeded += items;
            } else {
                progress.failed += 1;
                progress.items_failed += items;
                match end.record.status {
                    Status::TimedOut => {
                        progress.timed_out += 1;
                        progress.items_timed_out += items;
                    }
                    Status::Aborted => {
                        progress.aborted += 1;
                        progress.items_aborted += items;
                    }
                    _ => {}
                }
                if end.record.status == Status::Aborted {
                    // A child aborted by the parent's StopExecution: the Map Run is aborted
                    // too, and no child starts after it.
                    if let Some(t) = progress.checked.checked_sub(Duration::from_secs(1)) {
                        progress.checked = t;
                    }
                    progress
                        .refresh(&self.store, pool.alive.load(Ordering::Relaxed))
                        .await?;
                }
                if progress.failed as f64 > progress.tolerated(total) {
                    runners.abort_all();
                    progress.items_running = 0;
                    progress.finish(&self.store, "FAILED", 0).await?;
                    return Err(threshold_exceeded());
                }
            }
            // The runner that sent a failure waits for this before it starts another child.
            if let Some(ack) = ack {
                let _ = ack.send(());
            }
            if keep_records {
                ends[end.index] = Some(end.record);
            } else {
                results[end.index] = child_result(end.record);
            }
        }
        progress.items_running = 0;
        let result = match &run.writer {
            Some(writer) => self.write_results(&run, writer, &ends, request).await,
            None => Ok(Value::Array(results)),
        };
        // A ResultWriter that could not write fails the Map Run.
        let status = if result.is_ok() {
            "SUCCEEDED"
        } else {
            "FAILED"
        };
        progress.finish(&self.store, status, 0).await?;
        result
    }

    /// Runs children one after another, as long as the Map Run has any to start and no more
    /// runners than its concurrency allows; sends how each ended.
    async fn runner(&self, pool: &Pool, ended: &mpsc::Sender<Ended>) {
        loop {
            // Fewer children at once (UpdateMapRun): this runner stops.
            let alive = pool.alive.load(Ordering::Relaxed);
            if alive > pool.limit.load(Ordering::Relaxed)
                && pool
                    .alive
                    .compare_exchange(alive, alive - 1, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            let next = pool.queue.lock().ok().and_then(|mut q| q.next());
            let Some((index, input)) = next else {
                pool.alive.fetch_sub(1, Ordering::Relaxed);
                return;
            };
            pool.items_started
                .fetch_add(pool.items_of(index), Ordering::Relaxed);
            let end = self
                .child(
                    &pool.machine,
                    &pool.record,
                    &pool.map_run_arn,
                    index,
                    input,
                    pool.express,
                )
                .await;
            // After a failure the Map Run may end (tolerance, an aborted parent): the runner
            // waits for the count before it starts another child.
            let failed = !matches!(&end, Ok(e) if e.record.status == Status::Succeeded);
            let (ack, acked) = if failed {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            } else {
                (None, None)
            };
            if ended.send((end, ack)).await.is_err() {
                return;
            }
            if let Some(acked) = acked {
                if acked.await.is_err() {
                    return;
                }
            }
        }
    }

    /// Runs (or finds) child `index` of the Map Run to its end.
    async fn child(
        &self,
        machine: &Arc<StateMachine>,
        record: &MachineRecord,
        map_run_arn: &str,
        index: usize,
        input: Value,
        express: bool,
    ) -> Result<ChildEnd, StatesError> {
        let name = child_name(&format!("{map_run_arn}#{index}"));
        let now = real_now();
        let mut info = ExecutionInfo {
            arn: arn::execution(&record.arn, &name),
            name: name.clone(),
            state_machine_arn: record.arn.clone(),
            state_machine_name: record.name.clone(),
            role_arn: record.role_arn.clone(),
            start_time: now,
            origin: Origin {
                map_run_arn: Some(map_run_arn.to_string()),
                ..Origin::default()
            },
        };
        if express {
            info.arn = arn::express_execution(&record.arn, &name, &name);
            let Some(invoker) = self.invoker.upgrade() else {
                return Err(StatesError::runtime("the integrations were shut down"));
            };
            let options = RunOptions {
                virtual_clock: self.virtual_clock,
                record_history: false,
            };
            let done = driver::run(Arc::clone(machine), info, input, invoker, options).await;
            let exec = done.execution;
            let mut end = ExecutionRecord::new(exec.info, exec.input);
            end.status = exec.status;
            end.output = exec.output;
            end.error = exec.error;
            end.stop_time = exec.stop_time;
            return Ok(ChildEnd { index, record: end });
        }
        let arn = info.arn.clone();
        let started = ExecutionRecord::new(info, input);
        match self
            .store
            .create_execution(&started)
            .await
            .map_err(store_error)?
        {
            Created::New | Created::Existing(_) => {}
        }
        let end = drive_to_end(
            &self.store,
            &arn,
            &self.invoker,
            &self.machines,
            self.virtual_clock,
        )
        .await?;
        Ok(ChildEnd { index, record: end })
    }
}

/// A child's place in the results array: its output, or `{Error, Cause}` when it failed.
fn child_result(record: ExecutionRecord) -> Value {
    if record.status == Status::Succeeded {
        return record.output.unwrap_or(Value::Null);
    }
    let mut o = Map::new();
    if let Some(e) = record.error {
        o.insert("Error".into(), Value::String(e.error));
        if let Some(c) = e.cause {
            o.insert("Cause".into(), Value::String(c));
        }
    }
    Value::Object(o)
}
