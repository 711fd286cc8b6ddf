//! The behaviour every [`Store`] backend must have; each backend's tests call [`run`].

use serde_json::{json, Map, Value};

use crate::engine::history::HistoryEvent;
use crate::engine::state::{ExecutionInfo, Snapshot, Status};
use crate::store::{Commit, Created, ExecutionRecord, MachineRecord, Store, StoreError};

fn snapshot(last_event_id: u64, status: Status, output: Option<Value>) -> Snapshot {
    Snapshot {
        frame_count: 1,
        frames: Vec::new(),
        status,
        output,
        error: None,
        stop_time: None,
        last_event_id,
        transitions: last_event_id,
        waits: 0,
    }
}

fn event(id: u64, payload: &str) -> HistoryEvent {
    let mut details = Map::new();
    details.insert(
        "passStateEnteredEventDetails".into(),
        json!({"name": "P", "input": payload}),
    );
    HistoryEvent {
        id,
        previous_event_id: id - 1,
        timestamp: 1_700_000_000_000 + id as i64,
        event_type: "PassStateEntered".into(),
        details,
    }
}

/// Runs the suite on a store (which may hold data of other runs: ARNs are unique).
pub(crate) async fn run<S: Store>(store: &S) {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let machine = MachineRecord {
        arn: format!("arn:aws:states:us-east-1:111111111111:stateMachine:m{unique}"),
        name: format!("m{unique}"),
        definition: json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        kind: "STANDARD".into(),
        role_arn: "arn:aws:iam::111111111111:role/r".into(),
        created: 1,
    };
    store.put_machine(&machine).await.expect("put machine");
    assert_eq!(
        store.get_machine(&machine.arn).await.expect("get machine"),
        Some(machine.clone())
    );
    assert_eq!(store.get_machine("arn:nope").await.expect("get"), None);

    let info = ExecutionInfo::local(&machine.name, &format!("e{unique}"), 1_000);
    let arn = info.arn.clone();
    let record = ExecutionRecord::new(info, json!({"in": 1}));
    assert_eq!(
        store.create_execution(&record).await.expect("create"),
        Created::New
    );
    match store.create_execution(&record).await.expect("create again") {
        Created::Existing(existing) => assert_eq!(existing.input, json!({"in": 1})),
        Created::New => panic!("an execution was created twice"),
    }
    let due = store.due_executions(2_000, 100).await.expect("due");
    assert!(due.contains(&arn), "a new execution is due at once");

    // Leases: one owner at a time, until it lapses.
    let got = store
        .acquire(&arn, "w1", 2_000, 10_000)
        .await
        .expect("acquire");
    assert_eq!(got.map(|r| r.version), Some(0));
    assert_eq!(
        store
            .acquire(&arn, "w2", 2_001, 10_000)
            .await
            .expect("acquire"),
        None
    );
    let due = store.due_executions(2_001, 100).await.expect("due");
    assert!(!due.contains(&arn), "a leased execution is not offered");

    // Commits: conditional on version and lease.
    let events: Vec<HistoryEvent> = (1..=3).map(|i| event(i, "x")).collect();
    let snap = snapshot(3, Status::Running, None);
    let ok = store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w1",
            events: &events,
            snapshot: &snap,
            due: Some(5_000),
        })
        .await
        .expect("commit");
    assert_eq!(ok, 1);
    let stale = store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w1",
            events: &[event(4, "y")],
            snapshot: &snapshot(4, Status::Running, None),
            due: None,
        })
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    let not_owner = store
        .commit(Commit {
            arn: &arn,
            expected_version: 1,
            owner: "w2",
            events: &[event(4, "y")],
            snapshot: &snapshot(4, Status::Running, None),
            due: None,
        })
        .await;
    assert!(
        matches!(not_owner, Err(StoreError::Conflict { .. })),
        "{not_owner:?}"
    );
    let history = store.history(&arn).await.expect("history");
    assert_eq!(
        history, events,
        "failed commits leave the history as it was"
    );
    let rec = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (rec.version, rec.last_event_id, rec.due),
        (1, 3, Some(5_000))
    );
    assert_eq!(rec.snapshot, Some(snap));

    // A lapsed lease passes to another worker; the old owner can no longer commit.
    assert!(store.renew(&arn, "w1", 3_000, 1_000).await.expect("renew"));
    let taken = store
        .acquire(&arn, "w2", 4_001, 10_000)
        .await
        .expect("acquire");
    assert_eq!(taken.map(|r| r.version), Some(1));
    assert!(!store.renew(&arn, "w1", 4_002, 1_000).await.expect("renew"));
    let lost = store
        .commit(Commit {
            arn: &arn,
            expected_version: 1,
            owner: "w1",
            events: &[event(4, "y")],
            snapshot: &snapshot(4, Status::Running, None),
            due: None,
        })
        .await;
    assert!(matches!(lost, Err(StoreError::Conflict { .. })), "{lost:?}");

    // Large payloads are stored whole: a snapshot and events beyond DynamoDB's 400 KB item.
    let big = "z".repeat(250 * 1024);
    let big_snap = snapshot(5, Status::Succeeded, Some(json!({"a": big, "b": big})));
    let big_events = vec![event(4, &big), event(5, &big)];
    let v = store
        .commit(Commit {
            arn: &arn,
            expected_version: 1,
            owner: "w2",
            events: &big_events,
            snapshot: &big_snap,
            due: Some(1),
        })
        .await
        .expect("big commit");
    assert_eq!(v, 2);
    let rec = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(rec.status, Status::Succeeded);
    assert_eq!(rec.due, None, "a finished execution is never due");
    assert_eq!(rec.snapshot, Some(big_snap));
    assert_eq!(rec.output, Some(json!({"a": big, "b": big})));
    let history = store.history(&arn).await.expect("history");
    assert_eq!(history.len(), 5);
    assert_eq!(history[3], big_events[0]);
    assert_eq!(
        store
            .acquire(&arn, "w3", 9_999_999, 10)
            .await
            .expect("acquire"),
        None,
        "a finished execution cannot be leased"
    );
    store.release(&arn, "w2").await.expect("release");
}
