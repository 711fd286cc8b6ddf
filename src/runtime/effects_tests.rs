//! A durable drive carries out a task only after the commit that records its scheduling, also
//! when other states are still ready to run (a Map's iterations, Parallel branches).

use std::future::Future as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use serde_json::json;

use crate::engine::task::TaskRequest;
use crate::engine::Status;
use crate::store::memory::MemoryStore;
use crate::store::Store;
use crate::tasks::{Invocation, TaskInvoker};

use super::durable::{
    drive_execution, start_execution, DriveOutcome, DurableOptions, MachineCache,
};

/// Answers at once, after checking that the store has committed as many TaskScheduled events
/// (LambdaFunctionScheduled) as there were invocations, this one included.
struct Checking {
    store: MemoryStore,
    invocations: AtomicUsize,
    early: Mutex<Vec<String>>,
}

impl TaskInvoker for Checking {
    fn invoke(&self, request: &TaskRequest) -> Invocation {
        let n = self.invocations.fetch_add(1, Ordering::SeqCst) + 1;
        // The memory store answers without waiting: one poll reads its committed history.
        let history = std::pin::pin!(self.store.history(&request.execution_arn));
        let scheduled = match history.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(events)) => events
                .iter()
                .filter(|e| e.event_type == "LambdaFunctionScheduled")
                .count(),
            _ => 0,
        };
        if scheduled < n {
            if let Ok(mut early) = self.early.lock() {
                early.push(format!(
                    "invocation {n} of {} with {scheduled} scheduling events committed",
                    request.state_name
                ));
            }
        }
        Invocation::Ready(Ok(json!({"ok": n})))
    }
}

#[tokio::test]
async fn tasks_run_only_after_their_scheduling_is_committed() {
    let store = MemoryStore::new();
    let machine = super::commands::machine_record(
        "effects",
        json!({"StartAt": "M", "States": {"M": {
            "Type": "Map", "MaxConcurrency": 2,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true}}},
            "End": true}}}),
        0,
    );
    store.put_machine(&machine).await.expect("put");
    let rec = start_execution(&store, &machine, "e", json!([1, 2, 3, 4, 5, 6]), 0)
        .await
        .expect("start");
    let invoker = Arc::new(Checking {
        store: store.clone(),
        invocations: AtomicUsize::new(0),
        early: Mutex::default(),
    });
    let options = DurableOptions {
        owner: "w".into(),
        lease_ms: 60_000,
        park_after_ms: None,
        virtual_clock: true,
        deadline_ms: None,
    };
    let out = drive_execution(
        &store,
        &rec.info.arn,
        Arc::clone(&invoker) as Arc<dyn TaskInvoker>,
        &MachineCache::default(),
        &options,
        None,
    )
    .await
    .expect("drive");
    assert_eq!(out, DriveOutcome::Finished(Status::Succeeded));
    assert_eq!(invoker.invocations.load(Ordering::SeqCst), 6);
    let early = invoker.early.lock().map(|e| e.clone()).unwrap_or_default();
    assert!(
        early.is_empty(),
        "tasks invoked before their commit: {early:?}"
    );
}
