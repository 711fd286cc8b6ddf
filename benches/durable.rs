//! Durable throughput against DynamoDB Local, measured in one run beside a raw single-client
//! PutItem loop from the same binary.
//!
//! Needs a running DynamoDB Local: `bash infra/dynamodb-local.sh install && export
//! STEPFN_TEST_DYNAMODB_ENDPOINT=$(bash infra/dynamodb-local.sh start)`, then
//! `cargo bench --bench durable`. Prints, per bench (pass-chain, map-fanout, a chain of 50
//! mocked tasks, a Map of 1,000 mocked tasks all at once and ten at a time): transitions/s,
//! DynamoDB requests, read and write units per transition and the cost per million
//! transitions, and the p50/p99 latency of one commit; and the time of
//! the last GetExecutionHistory page of a 100,000-event execution on both stores, read whole (as
//! before) and by event ids. `cargo bench --bench durable -- history` runs only the latter.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use stepfn::engine::history::HistoryEvent;
use stepfn::runtime::commands;
use stepfn::runtime::durable::DurableOptions;
use stepfn::store::dynamodb::DynamoStore;
use stepfn::store::AnyStore;
use stepfn::store::{
    ActivityRecord, ActivityTask, Commit, Created, ExecutionRecord, InboxMessage, MachineRecord,
    MapRunRecord, StopRequest, Store, StoreError,
};
use stepfn::tasks::mock::{MockInvoker, TestCase};
use stepfn::tasks::{NoIntegrations, TaskInvoker};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A store that times its commits.
#[derive(Clone)]
struct Timed {
    inner: AnyStore,
    commits: Arc<Mutex<Vec<Duration>>>,
}

impl Store for Timed {
    async fn put_machine(&self, m: &MachineRecord) -> Result<(), StoreError> {
        self.inner.put_machine(m).await
    }
    async fn get_machine(&self, arn: &str) -> Result<Option<MachineRecord>, StoreError> {
        self.inner.get_machine(arn).await
    }
    async fn list_machines(&self) -> Result<Vec<MachineRecord>, StoreError> {
        self.inner.list_machines().await
    }
    async fn delete_machine(&self, arn: &str) -> Result<bool, StoreError> {
        self.inner.delete_machine(arn).await
    }
    async fn list_executions(&self, machine_arn: &str) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.inner.list_executions(machine_arn).await
    }
    async fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError> {
        self.inner.request_stop(arn, request).await
    }
    async fn deliver(&self, arn: &str, message: &InboxMessage) -> Result<bool, StoreError> {
        self.inner.deliver(arn, message).await
    }
    async fn reopen(
        &self,
        arn: &str,
        expected_version: u64,
        redrive: &stepfn::store::Redrives,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner.reopen(arn, expected_version, redrive, now).await
    }
    async fn put_map_run(&self, r: &MapRunRecord) -> Result<(), StoreError> {
        self.inner.put_map_run(r).await
    }
    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRecord>, StoreError> {
        self.inner.get_map_run(arn).await
    }
    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>, StoreError> {
        self.inner.list_map_runs(execution_arn).await
    }
    async fn count_parked(&self, now: i64) -> Result<u64, StoreError> {
        self.inner.count_parked(now).await
    }
    async fn put_resource(
        &self,
        kind: &str,
        key: &str,
        body: &serde_json::Value,
        expect: stepfn::store::Expect,
    ) -> Result<Option<u64>, StoreError> {
        self.inner.put_resource(kind, key, body, expect).await
    }
    async fn get_resource(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<stepfn::store::Resource>, StoreError> {
        self.inner.get_resource(kind, key).await
    }
    async fn list_resources(&self, kind: &str) -> Result<Vec<stepfn::store::Resource>, StoreError> {
        self.inner.list_resources(kind).await
    }
    async fn delete_resource(
        &self,
        kind: &str,
        key: &str,
        expect: stepfn::store::Expect,
    ) -> Result<bool, StoreError> {
        self.inner.delete_resource(kind, key, expect).await
    }
    async fn put_activity(&self, a: &ActivityRecord) -> Result<(), StoreError> {
        self.inner.put_activity(a).await
    }
    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>, StoreError> {
        self.inner.get_activity(arn).await
    }
    async fn list_activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        self.inner.list_activities().await
    }
    async fn delete_activity(&self, arn: &str) -> Result<bool, StoreError> {
        self.inner.delete_activity(arn).await
    }
    async fn enqueue_activity_task(
        &self,
        activity_arn: &str,
        task: &ActivityTask,
    ) -> Result<(), StoreError> {
        self.inner.enqueue_activity_task(activity_arn, task).await
    }
    async fn take_activity_task(
        &self,
        activity_arn: &str,
    ) -> Result<Option<ActivityTask>, StoreError> {
        self.inner.take_activity_task(activity_arn).await
    }
    async fn create_execution(&self, r: &ExecutionRecord) -> Result<Created, StoreError> {
        self.inner.create_execution(r).await
    }
    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.inner.get_execution(arn).await
    }
    async fn commit(&self, c: Commit<'_>) -> Result<u64, StoreError> {
        let t = Instant::now();
        let r = self.inner.commit(c).await;
        if let Ok(mut v) = self.commits.lock() {
            v.push(t.elapsed());
        }
        r
    }
    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.inner.history(arn).await
    }
    async fn history_range(
        &self,
        arn: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        self.inner.history_range(arn, from, to).await
    }
    async fn acquire(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        self.inner.acquire(arn, owner, now, lease_ms).await
    }
    async fn renew(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        self.inner.renew(arn, owner, now, lease_ms).await
    }
    async fn release(&self, arn: &str, owner: &str) -> Result<(), StoreError> {
        self.inner.release(arn, owner).await
    }
    async fn due_executions(&self, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.inner.due_executions(now, limit).await
    }
}

fn read(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("benches/machines")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run_bench(
    store: &Timed,
    dynamo: &DynamoStore,
    name: &str,
    definition: Value,
    input: Value,
    executions: usize,
    invoker: Arc<dyn TaskInvoker>,
) {
    let machine = commands::machine_record(name, definition, 0);
    store.put_machine(&machine).await.expect("put machine");
    let options = DurableOptions {
        owner: "bench".into(),
        lease_ms: 600_000,
        park_after_ms: None,
        deadline_ms: None,
        virtual_clock: true,
    };
    if let Ok(mut c) = store.commits.lock() {
        c.clear();
    }
    let requests_before = dynamo.request_count();
    let (reads_before, writes_before) = dynamo.capacity().unwrap_or_default();
    let started = Instant::now();
    let mut transitions = 0u64;
    for i in 0..executions {
        let rec = stepfn::runtime::durable::start_execution(
            store,
            &machine,
            &format!("{name}-{}-{i}", uuid::Uuid::new_v4().simple()),
            input.clone(),
            chrono::Utc::now().timestamp_millis(),
        )
        .await
        .expect("start");
        let cache = stepfn::runtime::durable::MachineCache::default();
        let out = stepfn::runtime::durable::drive_execution(
            store,
            &rec.info.arn,
            Arc::clone(&invoker),
            &cache,
            &options,
            None,
        )
        .await
        .expect("drive");
        assert_eq!(
            out,
            stepfn::runtime::durable::DriveOutcome::Finished(stepfn::engine::Status::Succeeded),
            "{name}"
        );
        let done = store
            .get_execution(&rec.info.arn)
            .await
            .expect("get")
            .expect("exists");
        transitions += done.snapshot.map(|s| s.transitions).unwrap_or_default();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = dynamo.request_count() - requests_before;
    let (reads, writes) = dynamo.capacity().unwrap_or_default();
    let t = transitions.max(1) as f64;
    let (rcu, wcu) = ((reads - reads_before) / t, (writes - writes_before) / t);
    let mut commits = store.commits.lock().map(|c| c.clone()).unwrap_or_default();
    commits.sort();
    println!(
        "{name:<22} {:>9.0} transitions/s  {:>6.3} requests/transition  {} commits, p50 {:.2} ms, p99 {:.2} ms  ({transitions} transitions, {executions} executions, {elapsed:.2} s)",
        transitions as f64 / elapsed,
        requests as f64 / transitions.max(1) as f64,
        commits.len(),
        percentile(&commits, 0.5).as_secs_f64() * 1000.0,
        percentile(&commits, 0.99).as_secs_f64() * 1000.0,
    );
    // The cost of one million transitions on Lambda + DynamoDB on-demand, us-east-1 list
    // prices: $0.625 per million write units, $0.125 per million read units, $0.20 per million
    // Lambda requests, $0.0000166667 per GB-second. Two invocations per execution on Lambda
    // (StartExecution, then the self-invoked drive) at 256 MB; the billed duration per
    // transition is the time measured here, or 10 ms per DynamoDB request (AWS's latency
    // rather than DynamoDB Local's), whichever is longer.
    let dynamodb = wcu * 0.625 + rcu * 0.125;
    let invocations = 2.0 * executions as f64 / t;
    let seconds = (elapsed / t).max(requests as f64 / t * 0.010);
    let lambda = invocations * 0.20 + seconds * 0.25 * 0.000_016_666_7 * 1e6;
    println!(
        "{:<22} {rcu:.4} read units, {wcu:.4} write units per transition; per million transitions: DynamoDB ${dynamodb:.3} + Lambda ${lambda:.3} = ${:.3}",
        "",
        dynamodb + lambda,
    );
}

/// Events of the long execution whose history pages are timed.
const HISTORY_EVENTS: u64 = 100_000;
/// GetExecutionHistory's largest page.
const HISTORY_PAGE: u64 = 1_000;

/// A finished execution of [`HISTORY_EVENTS`] events on `store`, committed as a durable driver
/// commits them (up to 4,096 events a checkpoint; here 1,000).
async fn long_history(store: &AnyStore) -> String {
    let name = format!("long-{}", uuid::Uuid::new_v4().simple());
    let info = stepfn::engine::ExecutionInfo {
        arn: format!("arn:aws:states:us-east-1:111111111111:execution:long:{name}"),
        name,
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:long".into(),
        state_machine_name: "long".into(),
        role_arn: "arn:aws:iam::111111111111:role/r".into(),
        start_time: 1,
        origin: Default::default(),
    };
    let arn = info.arn.clone();
    let created = store
        .create_execution(&ExecutionRecord::new(info, json!({})))
        .await
        .expect("create");
    assert_eq!(created, Created::New);
    store
        .acquire(&arn, "bench", 1, 3_600_000)
        .await
        .expect("acquire")
        .expect("free");
    let mut id = 1;
    let mut version = 0;
    while id <= HISTORY_EVENTS {
        let last = (id + 999).min(HISTORY_EVENTS);
        let events: Vec<HistoryEvent> = (id..=last)
            .map(|i| {
                let mut details = serde_json::Map::new();
                details.insert(
                    "passStateEnteredEventDetails".into(),
                    json!({"name": format!("P{i}"), "input": format!("{{\"i\":{i}}}")}),
                );
                HistoryEvent {
                    id: i,
                    previous_event_id: i - 1,
                    timestamp: 1_700_000_000_000 + i as i64,
                    event_type: "PassStateEntered".into(),
                    details,
                }
            })
            .collect();
        let status = if last == HISTORY_EVENTS {
            stepfn::engine::Status::Succeeded
        } else {
            stepfn::engine::Status::Running
        };
        let snapshot = stepfn::engine::execution::Snapshot {
            frame_count: 1,
            frames: Vec::new(),
            status,
            output: (last == HISTORY_EVENTS).then(|| json!({})),
            error: None,
            stop_time: (last == HISTORY_EVENTS).then_some(2),
            last_event_id: last,
            transitions: last,
            waits: 0,
            redrive_count: 0,
            redrive_time: None,
            redrive_memo: None,
        };
        store
            .commit(Commit {
                arn: &arn,
                expected_version: version,
                owner: "bench",
                events: &events,
                snapshot: &snapshot,
                due: None,
                consumed_inbox: 0,
                due_now: false,
            })
            .await
            .expect("commit");
        version += 1;
        id = last + 1;
    }
    arn
}

/// The time of the last page of a [`HISTORY_EVENTS`]-event history, read as GetExecutionHistory
/// read it before (the whole history, then the page) and by event ids (`history_range`).
async fn history_pages(store: &AnyStore, label: &str) {
    let arn = long_history(store).await;
    let from = HISTORY_EVENTS - HISTORY_PAGE + 1;
    let started = Instant::now();
    let all = store.history(&arn).await.expect("history");
    let whole_page = all[from as usize - 1..].to_vec();
    let whole = started.elapsed();
    drop(all);
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let page = store
            .history_range(&arn, from, HISTORY_EVENTS)
            .await
            .expect("range");
        times.push(started.elapsed());
        assert_eq!(page, whole_page, "the same page");
    }
    times.sort();
    let ranged = percentile(&times, 0.5);
    println!(
        "history last page ({label}) {HISTORY_PAGE} of {HISTORY_EVENTS} events: whole history {:.1} ms, by event ids {:.2} ms ({:.0}x)",
        whole.as_secs_f64() * 1000.0,
        ranged.as_secs_f64() * 1000.0,
        whole.as_secs_f64() / ranged.as_secs_f64().max(1e-9),
    );
}

fn main() {
    // `cargo bench` passes --bench; any other argument picks the benches whose name it
    // contains ("history": the history pages only).
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let picked = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let endpoint = std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STEPFN_TEST_DYNAMODB_ENDPOINT is not set: start DynamoDB Local with \
             `bash infra/dynamodb-local.sh install && bash infra/dynamodb-local.sh start` and \
             export the endpoint it prints"
        )
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let table = format!("bench{}", std::process::id());
        let dynamo = DynamoStore::connect_metered(&table, Some(&endpoint))
            .await
            .expect("connect");
        dynamo.init().await.expect("create table");
        if picked("history") {
            let memory = AnyStore::Memory(stepfn::store::memory::MemoryStore::new());
            history_pages(&memory, "memory").await;
            history_pages(&AnyStore::Dynamo(dynamo.clone()), "DynamoDB Local").await;
        }
        if !picked("throughput") {
            return;
        }
        // The raw baseline: single-client PutItem of a small item.
        let n = 2_000;
        let mut lat = Vec::with_capacity(n);
        let t = Instant::now();
        for i in 0..n {
            let s = Instant::now();
            dynamo.raw_put("RAW", &format!("{i:08}")).await.expect("put");
            lat.push(s.elapsed());
        }
        let secs = t.elapsed().as_secs_f64();
        lat.sort();
        println!(
            "raw PutItem (1 client)  {:>9.0} items/s       p50 {:.2} ms, p99 {:.2} ms",
            n as f64 / secs,
            percentile(&lat, 0.5).as_secs_f64() * 1000.0,
            percentile(&lat, 0.99).as_secs_f64() * 1000.0,
        );
        let store = Timed {
            inner: AnyStore::Dynamo(dynamo.clone()),
            commits: Arc::default(),
        };
        let none: Arc<dyn TaskInvoker> = Arc::new(NoIntegrations);
        run_bench(&store, &dynamo, "pass-chain", read("pass-chain.asl.json"), read("pass-chain.input.json"), 20, Arc::clone(&none)).await;
        // map-fanout's 10,000 items make 80,000 history events, past AWS's 25,000: its first
        // 2,000 items.
        let mut fanout_input = read("map-fanout.input.json");
        if let Some(items) = fanout_input.get_mut("items").and_then(Value::as_array_mut) {
            items.truncate(2_000);
        }
        run_bench(&store, &dynamo, "map-fanout-2000", read("map-fanout.asl.json"), fanout_input, 1, Arc::clone(&none)).await;
        // One commit per step: a chain of 50 mocked tasks (each task is committed before it
        // is invoked, and its result after).
        let mut states = serde_json::Map::new();
        for i in 0..50 {
            let mut s = json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "ResultPath": "$.last"});
            if let Some(o) = s.as_object_mut() {
                if i == 49 {
                    o.insert("End".into(), json!(true));
                } else {
                    o.insert("Next".into(), json!(format!("T{}", i + 1)));
                }
            }
            states.insert(format!("T{i}"), s);
        }
        let mut responses = serde_json::Map::new();
        for i in 0..50 {
            responses.insert(format!("T{i}"), json!({"0": {"Return": {"ok": i}}}));
        }
        let case = TestCase::from_state_responses(&Value::Object(responses)).expect("mocks");
        let mocks: Arc<dyn TaskInvoker> = Arc::new(MockInvoker::new(case, Arc::new(NoIntegrations)));
        run_bench(&store, &dynamo, "task-chain", json!({"StartAt": "T0", "States": states}), json!({}), 5, Arc::clone(&mocks)).await;
        // A Map of 1,000 tasks: every iteration a mocked Task, all at once (MaxConcurrency 0)
        // and ten at a time.
        let items: Vec<Value> = (0..1_000).map(|i| json!({"order": i, "sku": format!("SKU-{i:04}")})).collect();
        for (name, concurrency) in [("task-map", 0), ("task-map-c10", 10)] {
            let map = json!({"StartAt": "M", "States": {"M": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": concurrency,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "T0", "States": {
                    "T0": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true}}},
                "ResultPath": "$.results", "End": true}}});
            run_bench(&store, &dynamo, name, map, json!({"items": items}), 1, Arc::clone(&mocks)).await;
        }
    });
}
