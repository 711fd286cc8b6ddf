//! The store suite's Map Run checks (see [`crate::store::suite`]).

use crate::store::{MapRunRecord, Store};

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
