//! The store suite's checks of the order workers take due executions in (see
//! [`crate::store::suite`]); each runs on a store of its own, as it sees every due execution.

use serde_json::Value;

use crate::engine::execution::QueueKey;
use crate::store::{Created, ExecutionRecord, Scheduling, Store};

async fn queued<S: Store>(store: &S, name: &str, due: i64, queue: Option<QueueKey>) {
    let mut info = crate::store::test_info("q", name, due);
    info.origin.queue = queue;
    let record = ExecutionRecord::new(info, Value::Null);
    assert_eq!(
        store.create_execution(&record).await.expect("create"),
        Created::New
    );
}

fn key(priority: i32, tenant: &str, weight: u32) -> Option<QueueKey> {
    Some(QueueKey {
        priority,
        tenant: tenant.into(),
        weight,
    })
}

fn names(arns: Vec<String>) -> Vec<String> {
    arns.iter()
        .map(|a| a.rsplit(':').next().unwrap_or_default().to_string())
        .collect()
}

/// Priority: higher first, FIFO within a priority; FIFO ignores priorities.
pub(crate) async fn priority_order<S: Store>(store: &S) {
    queued(store, "low-old", 1, key(0, "", 1)).await;
    queued(store, "plain", 2, None).await;
    queued(store, "high-new", 5, key(7, "", 1)).await;
    queued(store, "high-old", 3, key(7, "", 1)).await;
    queued(store, "later", 100, key(9, "", 1)).await;
    let fifo = store
        .due_queue(10, 10, Scheduling::Fifo)
        .await
        .expect("due");
    assert_eq!(names(fifo), ["low-old", "plain", "high-old", "high-new"]);
    let prio = store
        .due_queue(10, 3, Scheduling::Priority)
        .await
        .expect("due");
    assert_eq!(names(prio), ["high-old", "high-new", "low-old"]);
}

/// Fair: shares by weight across keys, so a flood does not starve another key.
pub(crate) async fn fair_shares<S: Store>(store: &S) {
    for i in 0..50 {
        queued(store, &format!("a{i:02}"), i, key(0, "a", 1)).await;
    }
    for i in 0..5 {
        queued(store, &format!("b{i}"), 1_000 + i, key(0, "b", 1)).await;
    }
    for i in 0..10 {
        queued(store, &format!("c{i}"), 2_000 + i, key(0, "c", 2)).await;
    }
    let fifo = names(
        store
            .due_queue(5_000, 8, Scheduling::Fifo)
            .await
            .expect("due"),
    );
    assert!(fifo.iter().all(|n| n.starts_with('a')), "{fifo:?}");
    // Taken a few at a time, as a worker with free slots does.
    let mut order = Vec::new();
    for _ in 0..4 {
        let taken = store
            .due_queue(5_000, 4, Scheduling::Fair)
            .await
            .expect("due");
        for arn in &taken {
            // Taken: a worker holds its lease.
            store
                .acquire(arn, "w", 5_000, 60_000)
                .await
                .expect("acquire");
        }
        order.extend(names(taken));
    }
    let count = |p: char| order.iter().filter(|n| n.starts_with(p)).count();
    // Sixteen taken: c (weight 2) gets twice the share of a and of b.
    assert_eq!((count('a'), count('b'), count('c')), (4, 4, 8), "{order:?}");
    assert!(order.contains(&"b0".to_string()) && order.contains(&"b3".to_string()));
    let first_b = order.iter().position(|n| n == "b0");
    assert!(
        first_b.is_some_and(|p| p < 4),
        "b starts at once: {order:?}"
    );
}

/// Parked: running, due later than now, held by no worker.
pub(crate) async fn parked_count<S: Store>(store: &S) {
    queued(store, "now", 10, None).await;
    queued(store, "later", 1_000, None).await;
    queued(store, "queued-later", 2_000, key(3, "t", 1)).await;
    assert_eq!(store.count_parked(100).await.expect("count"), 2);
    let later = crate::store::test_info("q", "later", 1_000).arn;
    store
        .acquire(&later, "w", 100, 60_000)
        .await
        .expect("acquire");
    assert_eq!(
        store.count_parked(100).await.expect("count"),
        1,
        "held by a worker"
    );
    assert_eq!(
        store.count_parked(5_000).await.expect("count"),
        0,
        "all due by then"
    );
}
