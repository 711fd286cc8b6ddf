//! The store suite's Map Run checks (see [`crate::store::suite`]).

use crate::store::{Expect, MapRunRecord, Store};
use serde_json::json;

fn map_run(unique: &str, parent: &str, id: u32, start: i64) -> MapRunRecord {
    MapRunRecord {
        arn: format!("arn:aws:states:us-east-1:111111111111:mapRun:m{unique}/l:{id}"),
        execution_arn: parent.to_string(),
        state_machine_arn: format!(
            "arn:aws:states:us-east-1:111111111111:stateMachine:m{unique}/l"
        ),
        status: "RUNNING".into(),
        start,
        stop: None,
        max_concurrency: 10,
        tolerated_failure_count: 0,
        tolerated_failure_percentage: 0.0,
        execution_type: "STANDARD".into(),
        total: 3,
        succeeded: 0,
        failed: 0,
        running: 3,
        items_total: 6,
        items_succeeded: 0,
        items_failed: 0,
        items_running: 6,
        timed_out: 0,
        aborted: 0,
        items_timed_out: 0,
        items_aborted: 0,
    }
}

/// Storing, replacing, reading and listing Map Runs by their parent execution.
pub(crate) async fn map_runs<S: Store>(store: &S, unique: &str) {
    let parent = format!("arn:aws:states:us-east-1:111111111111:execution:m{unique}:p");
    let other = format!("{parent}-other");
    let second = map_run(unique, &parent, 2, 20);
    let first = map_run(unique, &parent, 1, 10);
    let elsewhere = map_run(unique, &other, 3, 5);
    for r in [&second, &first, &elsewhere] {
        store.put_map_run(r).await.expect("put map run");
    }
    assert_eq!(
        store.get_map_run(&first.arn).await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(store.get_map_run("arn:nope").await.expect("get"), None);
    let mut done = first.clone();
    done.status = "SUCCEEDED".into();
    done.stop = Some(30);
    done.succeeded = 3;
    done.running = 0;
    store.put_map_run(&done).await.expect("replace");
    let listed = store.list_map_runs(&parent).await.expect("list");
    assert_eq!(listed, [done, second], "oldest first, only the parent's");
    assert!(store
        .list_map_runs("arn:none")
        .await
        .expect("list")
        .is_empty());
}

/// Resources: conditional create, compare-and-swap, update, listing by key, deletes.
pub(crate) async fn resources<S: Store>(store: &S, unique: &str) {
    let kind = format!("test{unique}");
    let put = |key: &'static str, body: serde_json::Value, expect: Expect| {
        let kind = kind.clone();
        async move {
            store
                .put_resource(&kind, key, &body, expect)
                .await
                .expect("put")
        }
    };
    assert_eq!(put("b", json!({"n": 1}), Expect::Absent).await, Some(1));
    assert_eq!(
        put("b", json!({"n": 2}), Expect::Absent).await,
        None,
        "exists"
    );
    assert_eq!(
        put("a", json!({"n": 0}), Expect::Present).await,
        None,
        "absent"
    );
    assert_eq!(put("a", json!({"n": 0}), Expect::Any).await, Some(1));
    assert_eq!(
        put("b", json!({"n": 3}), Expect::Version(2)).await,
        None,
        "stale"
    );
    assert_eq!(put("b", json!({"n": 3}), Expect::Version(1)).await, Some(2));
    assert_eq!(put("b", json!({"n": 4}), Expect::Present).await, Some(3));
    let b = store
        .get_resource(&kind, "b")
        .await
        .expect("get")
        .expect("b");
    assert_eq!(
        (b.key.as_str(), b.body.clone(), b.version),
        ("b", json!({"n": 4}), 3)
    );
    assert_eq!(store.get_resource(&kind, "c").await.expect("get"), None);
    let listed = store.list_resources(&kind).await.expect("list");
    let keys: Vec<_> = listed.iter().map(|r| (r.key.as_str(), r.version)).collect();
    assert_eq!(keys, [("a", 1), ("b", 3)], "by key");
    assert!(store
        .list_resources(&format!("none{unique}"))
        .await
        .expect("list")
        .is_empty());
    let big = json!({"x": "y".repeat(crate::store::RESOURCE_MAX_BYTES)});
    assert!(store
        .put_resource(&kind, "big", &big, Expect::Any)
        .await
        .is_err());
    assert!(!store
        .delete_resource(&kind, "b", Expect::Version(2))
        .await
        .expect("delete"));
    assert!(store
        .delete_resource(&kind, "b", Expect::Version(3))
        .await
        .expect("delete"));
    assert!(!store
        .delete_resource(&kind, "b", Expect::Any)
        .await
        .expect("delete"));
    assert!(store
        .delete_resource(&kind, "a", Expect::Any)
        .await
        .expect("delete"));
    assert!(store.list_resources(&kind).await.expect("list").is_empty());
}
