//! The behaviour every [`Store`] backend must have; each backend's tests call [`run`].

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::asl::error::StatesError;
use crate::engine::execution::{Snapshot, Status};
use crate::engine::history::HistoryEvent;
use crate::store::test_info;
use crate::store::{
    ActivityRecord, ActivityTask, Commit, Created, ExecutionRecord, InboxKind, InboxMessage,
    MachineRecord, StopRequest, Store, StoreError,
};

pub(super) fn snapshot(last_event_id: u64, status: Status, output: Option<Value>) -> Snapshot {
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
        redrive_count: 0,
        redrive_time: None,
        redrive_memo: None,
    }
}

pub(super) fn event(id: u64, payload: &str) -> HistoryEvent {
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
        tags: BTreeMap::from([("team".to_string(), "core".to_string())]),
        definition_text: None,
        config: Default::default(),
        version: None,
        published: Default::default(),
    };
    store.put_machine(&machine).await.expect("put machine");
    assert_eq!(
        store.get_machine(&machine.arn).await.expect("get machine"),
        Some(machine.clone())
    );
    assert_eq!(store.get_machine("arn:nope").await.expect("get"), None);

    // A version is a record of its own; the machine's record lists it and holds the aliases.
    let mut version = machine.clone();
    version.arn = format!("{}:1", machine.arn);
    version.tags.clear();
    version.version = Some(crate::store::VersionOf {
        machine_arn: machine.arn.clone(),
        number: 1,
        description: Some("first".into()),
    });
    store.put_machine(&version).await.expect("put version");
    let mut published = machine.clone();
    published.published = crate::store::Published {
        last: 1,
        versions: vec![crate::store::VersionEntry {
            number: 1,
            created: 2,
            revision_id: Some("r1".into()),
        }],
        aliases: vec![crate::store::AliasRecord {
            name: "prod".into(),
            description: None,
            routing: vec![(version.arn.clone(), 100)],
            created: 3,
            updated: 4,
        }],
        kept_revisions: vec![format!("{}@created", machine.arn)],
    };
    store.put_machine(&published).await.expect("put published");
    assert_eq!(
        store.get_machine(&version.arn).await.expect("get version"),
        Some(version.clone())
    );
    assert_eq!(
        store.get_machine(&machine.arn).await.expect("get machine"),
        Some(published)
    );
    assert!(store
        .delete_machine(&version.arn)
        .await
        .expect("delete version"));
    store.put_machine(&machine).await.expect("put machine back");

    let info = test_info(&machine.name, &format!("e{unique}"), 1_000);
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
            consumed_inbox: 0,
            due_now: false,
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
            consumed_inbox: 0,
            due_now: false,
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
            consumed_inbox: 0,
            due_now: false,
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
            consumed_inbox: 0,
            due_now: false,
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
            consumed_inbox: 0,
            due_now: false,
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

    machines(store, &unique).await;
    executions_by_machine(store, &unique).await;
    stop_requests(store, &unique).await;
    reopening(store, &unique).await;
    inbox(store, &unique).await;
    activities(store, &unique).await;
    activity_tasks(store, &unique).await;
    crate::store::suite_history::history_ranges(store, &unique).await;
    crate::store::suite_map_runs::map_runs(store, &unique).await;
    crate::store::suite_map_runs::resources(store, &unique).await;
}

fn machine_record(unique: &str, name: &str, created: i64) -> MachineRecord {
    let name = format!("{name}{unique}");
    MachineRecord {
        arn: format!("arn:aws:states:us-east-1:111111111111:stateMachine:{name}"),
        name,
        definition: json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        kind: "STANDARD".into(),
        role_arn: "arn:aws:iam::111111111111:role/r".into(),
        created,
        tags: BTreeMap::new(),
        definition_text: None,
        config: Default::default(),
        version: None,
        published: Default::default(),
    }
}

/// The listed state machines among `ours`, by ARN.
async fn listed<S: Store>(store: &S, ours: &[&MachineRecord]) -> Vec<MachineRecord> {
    store
        .list_machines()
        .await
        .expect("list machines")
        .into_iter()
        .filter(|m| ours.iter().any(|o| o.arn == m.arn))
        .collect()
}

/// Listing, replacing (tags included) and deleting state machines.
async fn machines<S: Store>(store: &S, unique: &str) {
    let mut b = machine_record(unique, "b", 5);
    let a = machine_record(unique, "a", 5);
    let mut c = machine_record(unique, "c", 3);
    c.tags.insert("k".into(), "v".into());
    // A definition beyond DynamoDB's item limit is listed whole too.
    c.definition["Comment"] = json!("d".repeat(400 * 1024));
    for m in [&b, &a, &c] {
        store.put_machine(m).await.expect("put machine");
    }
    let all = [a.clone(), b.clone(), c.clone()];
    let all: Vec<&MachineRecord> = all.iter().collect();
    assert_eq!(
        listed(store, &all).await,
        vec![c.clone(), a.clone(), b.clone()],
        "by creation time, then name"
    );

    // Tags are part of the record: a put replaces them.
    b.tags = BTreeMap::from([
        ("x".to_string(), "1".to_string()),
        ("y".to_string(), String::new()),
    ]);
    store.put_machine(&b).await.expect("put machine");
    assert_eq!(
        store.get_machine(&b.arn).await.expect("get"),
        Some(b.clone())
    );
    b.tags.clear();
    store.put_machine(&b).await.expect("put machine");
    assert_eq!(
        store.get_machine(&b.arn).await.expect("get"),
        Some(b.clone())
    );

    // Deleting: the executions stay readable.
    let info = test_info(&c.name, "e", 1_000);
    store
        .create_execution(&ExecutionRecord::new(info.clone(), json!({})))
        .await
        .expect("create");
    assert!(store.delete_machine(&c.arn).await.expect("delete"));
    assert!(!store.delete_machine(&c.arn).await.expect("delete again"));
    assert_eq!(store.get_machine(&c.arn).await.expect("get"), None);
    assert_eq!(listed(store, &all).await, vec![a.clone(), b.clone()]);
    assert!(store
        .get_execution(&info.arn)
        .await
        .expect("get execution")
        .is_some());
    assert_eq!(
        store
            .list_executions(&info.state_machine_arn)
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(!store.delete_machine("arn:nope").await.expect("delete"));
    for m in [&a, &b] {
        assert!(store.delete_machine(&m.arn).await.expect("delete"));
    }
    assert_eq!(listed(store, &all).await, Vec::new());
}

/// Executions listed per state machine, newest start first.
async fn executions_by_machine<S: Store>(store: &S, unique: &str) {
    let (x, y) = (format!("x{unique}"), format!("y{unique}"));
    let mut created = Vec::new();
    for (machine, name, start) in [
        (&x, "e1", 100),
        (&x, "e2", 300),
        (&y, "e3", 200),
        (&x, "e4", 200),
        (&x, "e5", 300),
    ] {
        let info = test_info(machine, name, start);
        let mut record = ExecutionRecord::new(info, json!({"big": "i".repeat(40 * 1024)}));
        record.due = None;
        store.create_execution(&record).await.expect("create");
        created.push(record);
    }
    let listed = store
        .list_executions(&created[0].info.state_machine_arn)
        .await
        .expect("list");
    let names: Vec<&str> = listed.iter().map(|r| r.info.name.as_str()).collect();
    assert_eq!(names, ["e5", "e2", "e4", "e1"]);
    let first = &listed[0];
    assert_eq!(first.info, created[4].info);
    assert_eq!(
        (first.status, first.snapshot.as_ref(), &first.input),
        (Status::Running, None, &Value::Null),
        "a listing holds summaries"
    );
    let other = store
        .list_executions(&created[2].info.state_machine_arn)
        .await
        .expect("list");
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].info, created[2].info);
    assert_eq!(
        store
            .list_executions("arn:aws:states:us-east-1:111111111111:stateMachine:none")
            .await
            .expect("list"),
        Vec::new()
    );
}

fn aborted(last_event_id: u64, request: &StopRequest) -> Snapshot {
    Snapshot {
        error: Some(StatesError {
            error: request.error.clone().unwrap_or_default(),
            cause: request.cause.clone(),
            location: None,
        }),
        stop_time: Some(request.time),
        ..snapshot(last_event_id, Status::Aborted, None)
    }
}

/// Stop requests: pending ones refuse every commit but the aborting one.
/// A closed execution reopened for a redrive: only at the version read, only once; RUNNING,
/// due, its redrives listed (the executions index shows them too).
async fn reopening<S: Store>(store: &S, unique: &str) {
    let info = test_info(&format!("r{unique}"), "e", 1_000);
    let arn = info.arn.clone();
    let machine_arn = info.state_machine_arn.clone();
    store
        .create_execution(&ExecutionRecord::new(info, json!({})))
        .await
        .expect("create");
    let redrive = crate::store::Redrives {
        count: 1,
        date: Some(9_000),
        tokens: vec![("t".into(), 9_000)],
    };
    assert!(
        !store
            .reopen(&arn, 0, &redrive, 9_000)
            .await
            .expect("reopen"),
        "a running execution is not reopened"
    );
    store
        .acquire(&arn, "w1", 2_000, 10_000)
        .await
        .expect("acquire");
    let mut failed = snapshot(2, Status::Failed, None);
    failed.stop_time = Some(3_000);
    let events: Vec<HistoryEvent> = (1..=2).map(|i| event(i, "x")).collect();
    store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w1",
            events: &events,
            snapshot: &failed,
            due: None,
            consumed_inbox: 0,
            due_now: false,
        })
        .await
        .expect("commit");
    assert!(!store.reopen(&arn, 0, &redrive, 9_000).await.expect("stale"));
    assert!(store
        .reopen(&arn, 1, &redrive, 9_000)
        .await
        .expect("reopen"));
    assert!(!store.reopen(&arn, 2, &redrive, 9_000).await.expect("twice"));
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(record.status, Status::Running);
    assert_eq!(record.version, 2);
    assert_eq!(record.redrive, redrive);
    assert!(record.lease.is_none());
    let listed = store.list_executions(&machine_arn).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, Status::Running);
    assert_eq!(listed[0].redrive.count, 1);
    assert_eq!(listed[0].stop_time, None);
    // The next driver takes it like any due execution.
    assert!(store
        .acquire(&arn, "w2", 9_000, 10_000)
        .await
        .expect("acquire")
        .is_some());
}

async fn stop_requests<S: Store>(store: &S, unique: &str) {
    let info = test_info(&format!("s{unique}"), "e", 1_000);
    let arn = info.arn.clone();
    let machine_arn = info.state_machine_arn.clone();
    store
        .create_execution(&ExecutionRecord::new(info, json!({})))
        .await
        .expect("create");
    store
        .acquire(&arn, "w1", 2_000, 10_000)
        .await
        .expect("acquire");
    let events: Vec<HistoryEvent> = (1..=2).map(|i| event(i, "x")).collect();
    store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w1",
            events: &events,
            snapshot: &snapshot(2, Status::Running, None),
            due: Some(50_000),
            consumed_inbox: 0,
            due_now: false,
        })
        .await
        .expect("commit");

    let request = StopRequest {
        error: Some("User.Stop".into()),
        cause: Some("enough".into()),
        time: 7_000,
    };
    assert!(store.request_stop(&arn, &request).await.expect("stop"));
    let later = StopRequest {
        error: None,
        cause: None,
        time: 8_000,
    };
    assert!(store.request_stop(&arn, &later).await.expect("stop again"));
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        record.stop_request.as_ref(),
        Some(&request),
        "the first wins"
    );
    assert_eq!(record.status, Status::Running);
    assert!(
        record.due.is_some_and(|d| d <= 8_000),
        "due at once: {:?}",
        record.due
    );
    let due = store.due_executions(12_001, 1_000).await.expect("due");
    assert!(due.contains(&arn), "due once the lease lapses");

    // The driving worker's commits are refused, whatever they do but abort.
    for status in [Status::Running, Status::Succeeded, Status::Failed] {
        let refused = store
            .commit(Commit {
                arn: &arn,
                expected_version: 1,
                owner: "w1",
                events: &[event(3, "y")],
                snapshot: &snapshot(3, status, None),
                due: None,
                consumed_inbox: 0,
                due_now: false,
            })
            .await;
        assert!(
            matches!(refused, Err(StoreError::Conflict { .. })),
            "{status:?}: {refused:?}"
        );
    }
    // Large commits too.
    let big = "z".repeat(200 * 1024);
    let refused = store
        .commit(Commit {
            arn: &arn,
            expected_version: 1,
            owner: "w1",
            events: &[event(3, &big), event(4, &big)],
            snapshot: &snapshot(4, Status::Running, None),
            due: None,
            consumed_inbox: 0,
            due_now: false,
        })
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    assert_eq!(store.history(&arn).await.expect("history"), events);

    // The next driver gets the execution, stop request included, and aborts it.
    let got = store
        .acquire(&arn, "w2", 12_001, 10_000)
        .await
        .expect("acquire")
        .expect("a pending stop request does not keep drivers out");
    assert_eq!(got.stop_request.as_ref(), Some(&request));
    let snap = aborted(3, &request);
    let v = store
        .commit(Commit {
            arn: &arn,
            expected_version: 1,
            owner: "w2",
            events: &[event(3, "aborted")],
            snapshot: &snap,
            due: Some(1),
            consumed_inbox: 0,
            due_now: false,
        })
        .await
        .expect("the aborting commit");
    assert_eq!(v, 2);
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (record.status, record.due, record.stop_time),
        (Status::Aborted, None, Some(7_000))
    );
    assert_eq!(record.error, snap.error);
    assert_eq!(store.history(&arn).await.expect("history").len(), 3);
    assert!(!store.request_stop(&arn, &later).await.expect("stop ended"));
    let listed = store.list_executions(&machine_arn).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].status,
            listed[0].stop_time,
            listed[0].stop_request.as_ref()
        ),
        (Status::Aborted, Some(7_000), Some(&request))
    );

    // A never-driven execution can be stopped, and leased to apply it.
    let info = test_info(&format!("s{unique}"), "fresh", 1_000);
    let fresh = info.arn.clone();
    store
        .create_execution(&ExecutionRecord::new(info, json!({})))
        .await
        .expect("create");
    assert!(store.request_stop(&fresh, &request).await.expect("stop"));
    let got = store
        .acquire(&fresh, "w1", 9_000, 10_000)
        .await
        .expect("acquire")
        .expect("leased");
    assert_eq!(
        (got.version, got.stop_request.as_ref()),
        (0, Some(&request))
    );
    store
        .commit(Commit {
            arn: &fresh,
            expected_version: 0,
            owner: "w1",
            events: &[event(1, "started"), event(2, "aborted")],
            snapshot: &aborted(2, &request),
            due: None,
            consumed_inbox: 0,
            due_now: false,
        })
        .await
        .expect("the aborting commit");
    assert!(!store.request_stop(&fresh, &request).await.expect("stop"));

    let missing = store.request_stop("arn:nope", &request).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

fn message(wait: u64, kind: InboxKind, time: i64) -> InboxMessage {
    InboxMessage {
        frame: 0,
        wait,
        kind,
        time,
    }
}

/// The inbox: delivery appends and makes due without a version change; a commit removes
/// exactly the messages it consumed.
async fn inbox<S: Store>(store: &S, unique: &str) {
    let info = test_info(&format!("s{unique}"), "inbox", 1_000);
    let arn = info.arn.clone();
    store
        .create_execution(&ExecutionRecord::new(info, json!({})))
        .await
        .expect("create");
    store
        .acquire(&arn, "w1", 2_000, 10_000)
        .await
        .expect("acquire")
        .expect("leased");
    store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w1",
            events: &[event(1, "x")],
            snapshot: &snapshot(1, Status::Running, None),
            due: None,
            consumed_inbox: 0,
            due_now: false,
        })
        .await
        .expect("commit");

    let success = message(
        1,
        InboxKind::Success {
            output: json!({"big": "y".repeat(2_000)}),
        },
        3_000,
    );
    let heartbeat = message(1, InboxKind::Heartbeat, 3_500);
    assert!(store.deliver(&arn, &success).await.expect("deliver"));
    assert!(store.deliver(&arn, &heartbeat).await.expect("deliver"));
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(record.inbox, vec![success.clone(), heartbeat.clone()]);
    assert_eq!(
        (record.version, record.due),
        (1, Some(3_500)),
        "due at once"
    );
    assert!(
        !store
            .due_executions(4_000, 1_000)
            .await
            .expect("due")
            .contains(&arn),
        "still leased"
    );
    store.release(&arn, "w1").await.expect("release");
    assert!(store
        .due_executions(4_000, 1_000)
        .await
        .expect("due")
        .contains(&arn));

    // The writer read both; a third arrives before its commit, which consumed one.
    let read = store
        .acquire(&arn, "w1", 4_000, 10_000)
        .await
        .expect("acquire")
        .expect("leased");
    assert_eq!(read.inbox, vec![success.clone(), heartbeat.clone()]);
    let failure = message(
        2,
        InboxKind::Failure {
            error: Some("E".into()),
            cause: None,
        },
        4_500,
    );
    assert!(store.deliver(&arn, &failure).await.expect("deliver"));
    store
        .commit(Commit {
            arn: &arn,
            expected_version: read.version,
            owner: "w1",
            events: &[event(2, "y")],
            snapshot: &snapshot(2, Status::Running, None),
            due: None,
            consumed_inbox: 1,
            due_now: false,
        })
        .await
        .expect("commit consuming one");
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(record.inbox, vec![heartbeat.clone(), failure.clone()]);
    assert_eq!(record.version, 2);
    assert_eq!(
        record.due,
        Some(3_500),
        "messages the commit did not consume keep the execution due (at the first), though the commit parks it"
    );

    // A commit that consumed both it read keeps the one delivered after the read.
    let late = message(3, InboxKind::Heartbeat, 5_000);
    assert!(store.deliver(&arn, &late).await.expect("deliver"));
    store
        .commit(Commit {
            arn: &arn,
            expected_version: 2,
            owner: "w1",
            events: &[],
            snapshot: &snapshot(2, Status::Running, None),
            due: None,
            consumed_inbox: 2,
            due_now: false,
        })
        .await
        .expect("commit consuming two");
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(record.inbox, vec![late.clone()]);
    assert_eq!(record.due, Some(5_000), "due at the unread message");

    // Full inbox, too large a message.
    let too_large = message(
        4,
        InboxKind::Success {
            output: json!("z".repeat(crate::store::INBOX_MAX_BYTES)),
        },
        6_000,
    );
    assert!(!store.deliver(&arn, &too_large).await.expect("deliver"));
    for _ in 1..crate::store::INBOX_MAX_MESSAGES {
        assert!(store.deliver(&arn, &late).await.expect("deliver"));
    }
    assert!(!store.deliver(&arn, &late).await.expect("full"));
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(record.inbox.len(), crate::store::INBOX_MAX_MESSAGES);

    // Finished executions take no messages; missing ones are NotFound.
    store
        .commit(Commit {
            arn: &arn,
            expected_version: 3,
            owner: "w1",
            events: &[event(3, "done")],
            snapshot: &snapshot(3, Status::Succeeded, Some(json!(1))),
            due: None,
            consumed_inbox: crate::store::INBOX_MAX_MESSAGES,
            due_now: false,
        })
        .await
        .expect("final commit");
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert!(record.inbox.is_empty());
    assert!(!store.deliver(&arn, &late).await.expect("deliver"));
    let missing = store.deliver("arn:nope", &late).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

fn activity_record(unique: &str, name: &str, created: i64) -> ActivityRecord {
    let name = format!("{name}{unique}");
    ActivityRecord {
        arn: format!("arn:aws:states:us-east-1:111111111111:activity:{name}"),
        name,
        created,
        tags: BTreeMap::new(),
    }
}

/// Storing, listing, replacing (tags included) and deleting activities.
async fn activities<S: Store>(store: &S, unique: &str) {
    let mut b = activity_record(unique, "b", 5);
    let a = activity_record(unique, "a", 5);
    let c = activity_record(unique, "c", 3);
    for x in [&b, &a, &c] {
        store.put_activity(x).await.expect("put activity");
    }
    let listed = |all: Vec<ActivityRecord>| -> Vec<ActivityRecord> {
        all.into_iter()
            .filter(|x| x.name.ends_with(unique))
            .collect()
    };
    assert_eq!(
        listed(store.list_activities().await.expect("list")),
        vec![c.clone(), a.clone(), b.clone()]
    );
    b.tags.insert("k".into(), "v".into());
    store.put_activity(&b).await.expect("replace activity");
    assert_eq!(
        store.get_activity(&b.arn).await.expect("get"),
        Some(b.clone())
    );
    assert_eq!(store.get_activity("arn:nope").await.expect("get"), None);
    assert!(store.delete_activity(&a.arn).await.expect("delete"));
    assert!(!store.delete_activity(&a.arn).await.expect("delete again"));
    assert_eq!(store.get_activity(&a.arn).await.expect("get"), None);
    assert_eq!(
        listed(store.list_activities().await.expect("list")),
        vec![c.clone(), b.clone()]
    );
}

/// Activity task queues: idempotent on the token, oldest first, each task taken once.
async fn activity_tasks<S: Store>(store: &S, unique: &str) {
    let arn = format!("arn:aws:states:us-east-1:111111111111:activity:q{unique}");
    let task = |token: &str, enqueued: i64| ActivityTask {
        token: format!("{token}{unique}"),
        input: json!({"token": token}),
        enqueued,
    };
    assert_eq!(store.take_activity_task(&arn).await.expect("take"), None);
    let (t1, t2, t3) = (task("t1", 20), task("t2", 10), task("t3", 30));
    for t in [&t1, &t2, &t3, &t1] {
        store.enqueue_activity_task(&arn, t).await.expect("enqueue");
    }
    // Enqueued again by a worker that took over, at a later time: still queued once.
    let mut again = t2.clone();
    again.enqueued = 40;
    store
        .enqueue_activity_task(&arn, &again)
        .await
        .expect("enqueue again");
    let other = format!("{arn}-other");
    assert_eq!(store.take_activity_task(&other).await.expect("take"), None);
    for expected in [&t2, &t1, &t3] {
        assert_eq!(
            store.take_activity_task(&arn).await.expect("take").as_ref(),
            Some(expected)
        );
    }
    assert_eq!(store.take_activity_task(&arn).await.expect("take"), None);
    // A taken token is not queued again: an execution that invokes its task again (woken by
    // a heartbeat, or taken over by another worker) must not hand it out twice, as Step
    // Functions delivers an activity task once.
    store
        .enqueue_activity_task(&arn, &t1)
        .await
        .expect("enqueue");
    assert_eq!(store.take_activity_task(&arn).await.expect("take"), None);

    // Two concurrent takers of one task: exactly one gets it.
    for round in 0..5 {
        let t = task(&format!("race{round}-"), 50 + round);
        store
            .enqueue_activity_task(&arn, &t)
            .await
            .expect("enqueue");
        let (x, y) = tokio::join!(
            store.take_activity_task(&arn),
            store.take_activity_task(&arn)
        );
        let got: Vec<ActivityTask> = [x.expect("take"), y.expect("take")]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(got, vec![t], "round {round}");
    }

    // Too large a task is refused.
    let mut large = task("large", 60);
    large.input = json!("x".repeat(crate::store::ACTIVITY_TASK_MAX_BYTES));
    assert!(store.enqueue_activity_task(&arn, &large).await.is_err());
    assert_eq!(store.take_activity_task(&arn).await.expect("take"), None);
}
