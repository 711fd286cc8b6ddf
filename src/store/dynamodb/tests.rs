use super::table::{attribute_definitions, key_schema, INDEXES};
use super::*;

use serde_json::json;

const NO_ENDPOINT: &str = "STEPFN_TEST_DYNAMODB_ENDPOINT (with AWS_ACCESS_KEY_ID and \
    AWS_SECRET_ACCESS_KEY) is not set: the DynamoDB tests need DynamoDB Local. Run `bash \
    infra/test.sh`, or `bash infra/dynamodb-local.sh install && bash infra/dynamodb-local.sh \
    start` and then `eval \"$(bash infra/dynamodb-local.sh env)\"`";

/// The DynamoDB Local endpoint of the test run. The credentials must be set too: without
/// them the SDK would look for some beyond this machine.
fn endpoint() -> String {
    let credentials = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|v| std::env::var_os(v).is_some());
    match std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT") {
        Ok(endpoint) if credentials => endpoint,
        _ => panic!("{NO_ENDPOINT}"),
    }
}

/// A store on a new table of its own.
pub(crate) async fn fresh_store() -> DynamoStore {
    let table = format!("stepfn-test-{}", nonce());
    let store = DynamoStore::connect(&table, Some(&endpoint()))
        .await
        .expect("connect");
    store.init().await.expect("init");
    store
}

fn event(id: u64, payload: &str) -> HistoryEvent {
    let mut details = serde_json::Map::new();
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

fn snapshot(last_event_id: u64, status: Status) -> Snapshot {
    Snapshot {
        frame_count: 1,
        frames: Vec::new(),
        status,
        output: None,
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

/// A new execution, due at `due`, created in `store`.
async fn execution(store: &DynamoStore, name: &str, due: Option<i64>) -> String {
    let info = crate::store::test_info("m", &format!("{name}-{}", nonce()), 1_000);
    let mut record = ExecutionRecord::new(info, json!({"n": name}));
    record.due = due;
    let arn = record.info.arn.clone();
    assert_eq!(
        store.create_execution(&record).await.expect("create"),
        Created::New
    );
    arn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_store_takes_due_work_by_priority() {
    crate::store::suite_queue::priority_order(&fresh_store().await).await;
}

#[tokio::test]
async fn dynamo_store_shares_due_work_fairly() {
    crate::store::suite_queue::fair_shares(&fresh_store().await).await;
}

#[tokio::test]
async fn dynamo_store_counts_parked_executions() {
    crate::store::suite_queue::parked_count(&fresh_store().await).await;
}

#[tokio::test]
async fn dynamo_store_passes_the_store_suite() {
    let store = fresh_store().await;
    crate::store::suite::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_is_idempotent() {
    let store = fresh_store().await;
    store.init().await.expect("second init");
    let other = DynamoStore::connect(store.table(), Some(&endpoint()))
        .await
        .expect("connect");
    other.init().await.expect("init from another store");
    execution(&other, "after-init", Some(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_adds_the_indexes_an_older_table_lacks() {
    let table = format!("stepfn-test-{}", nonce());
    let store = DynamoStore::connect(&table, Some(&endpoint()))
        .await
        .expect("connect");
    // The table as the first `init` made it: the due index only.
    let what = "create an old table";
    let due = &INDEXES[0];
    store
        .client()
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            attribute_definitions([due].into_iter(), what).expect("definitions"),
        ))
        .set_key_schema(Some(key_schema("pk", "sk", what).expect("keys")))
        .global_secondary_indexes(due.index(what).expect("index"))
        .send()
        .await
        .expect("create table");
    store.init().await.expect("init");
    let description = store.describe().await.expect("describe").expect("exists");
    let mut names: Vec<&str> = description
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    names.sort();
    assert_eq!(names, [DUE_INDEX, EXECUTIONS_INDEX]);
    let arn = execution(&store, "listed", Some(1)).await;
    let listed = store
        .list_executions("arn:aws:states:us-east-1:111111111111:stateMachine:m")
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|r| &r.info.arn).collect::<Vec<_>>(),
        [&arn]
    );
    store.init().await.expect("init again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_and_stop_requests_take_few_requests() {
    let store = fresh_store().await;
    let count = |before: u64| store.request_count() - before;
    let machine = MachineRecord {
        arn: "arn:aws:states:us-east-1:111111111111:stateMachine:m".into(),
        name: "m".into(),
        definition: json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        kind: "STANDARD".into(),
        role_arn: "arn:aws:iam::111111111111:role/r".into(),
        created: 1,
        tags: Default::default(),
        definition_text: None,
        config: Default::default(),
        version: None,
        published: Default::default(),
    };
    let before = store.request_count();
    store.put_machine(&machine).await.expect("put");
    assert_eq!(
        count(before),
        2,
        "put: the definition and the registry entry"
    );
    let before = store.request_count();
    assert_eq!(
        store.list_machines().await.expect("list"),
        vec![machine.clone()]
    );
    assert_eq!(
        count(before),
        2,
        "list: the registry, then one batch of definitions"
    );

    let arns = [
        execution(&store, "a", Some(1)).await,
        execution(&store, "b", Some(1)).await,
    ];
    let before = store.request_count();
    assert_eq!(
        store
            .list_executions(&machine.arn)
            .await
            .expect("list")
            .len(),
        2
    );
    assert_eq!(count(before), 1, "list executions: one query of the index");

    // A stop request is one update, then the log head read and the next slot closed; a
    // refused commit is one transaction, then one read of the execution (META and the log
    // head at once) telling an unread message from a stop.
    let arn = &arns[0];
    store.acquire(arn, "w", 2, 60_000).await.expect("acquire");
    store
        .commit(Commit {
            arn,
            expected_version: 0,
            owner: "w",
            events: &[event(1, &"t".repeat(10_000))],
            snapshot: &snapshot(1, Status::Running),
            due: Some(10),
            consumed_inbox: 0,
            due_now: false,
        })
        .await
        .expect("commit");
    let request = StopRequest {
        error: Some("E".into()),
        cause: None,
        time: 5,
    };
    let before = store.request_count();
    assert!(store.request_stop(arn, &request).await.expect("stop"));
    assert_eq!(count(before), 3, "request stop: update, log head, marker");
    let before = store.request_count();
    let refused = store
        .commit(Commit {
            arn,
            expected_version: 1,
            owner: "w",
            events: &[event(2, &"u".repeat(1_000))],
            snapshot: &snapshot(2, Status::Running),
            due: Some(10),
            consumed_inbox: 0,
            due_now: false,
        })
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    assert_eq!(
        count(before),
        3,
        "a refused commit: the transaction, then META and the log head"
    );

    let before = store.request_count();
    assert!(store.delete_machine(&machine.arn).await.expect("delete"));
    assert_eq!(
        count(before),
        2,
        "delete: the definition and the registry entry"
    );
    assert_eq!(store.list_machines().await.expect("list"), Vec::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_beyond_one_batch_are_all_listed() {
    let store = fresh_store().await;
    let mut tasks = JoinSet::new();
    for i in 0..230 {
        let store = store.clone();
        tasks.spawn(async move {
            let name = format!("m{i:03}");
            let machine = MachineRecord {
                arn: format!("arn:aws:states:us-east-1:111111111111:stateMachine:{name}"),
                name,
                definition: json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
                kind: "STANDARD".into(),
                role_arn: "arn:aws:iam::111111111111:role/r".into(),
                created: 1_000 - i,
                tags: Default::default(),
                definition_text: None,
                config: Default::default(),
                version: None,
                published: Default::default(),
            };
            store.put_machine(&machine).await.expect("put");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    let before = store.request_count();
    let listed = store.list_machines().await.expect("list");
    assert_eq!(
        store.request_count() - before,
        4,
        "one query, three batches"
    );
    let names: Vec<String> = listed.into_iter().map(|m| m.name).collect();
    let expected: Vec<String> = (0..230).rev().map(|i| format!("m{i:03}")).collect();
    assert_eq!(names, expected, "by creation time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_at_one_version_let_exactly_one_win() {
    let store = fresh_store().await;
    // Rounds race small and large commits, that update META (in transactions) or go on
    // driving (the log item alone).
    for round in 0..8 {
        let arn = execution(&store, &format!("race{round}"), Some(1)).await;
        store.acquire(&arn, "w", 2, 60_000).await.expect("acquire");
        let size = if round % 4 < 2 { 1 } else { 20_000 };
        let driving = round % 2 == 1;
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|letter| {
                let (store, arn) = (store.clone(), arn.clone());
                let payload = letter.repeat(size);
                tokio::spawn(async move {
                    let events: Vec<HistoryEvent> = (1..=3).map(|i| event(i, &payload)).collect();
                    let snap = snapshot(3, Status::Running);
                    let result = store
                        .commit(Commit {
                            arn: &arn,
                            expected_version: 0,
                            owner: "w",
                            events: &events,
                            snapshot: &snap,
                            due: driving.then_some(2),
                            consumed_inbox: 0,
                            due_now: driving,
                        })
                        .await;
                    (result, events)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.expect("task") {
                (Ok(v), events) => winners.push((v, events)),
                (Err(StoreError::Conflict { .. }), _) => {}
                (Err(e), _) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one commit wins");
        assert_eq!(winners[0].0, 1);
        let history = store.history(&arn).await.expect("history");
        assert_eq!(history, winners[0].1, "the history is the winner's");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_executions_offers_only_due_unleased_executions() {
    let store = fresh_store().await;
    let due = execution(&store, "due", Some(100)).await;
    let later = execution(&store, "later", Some(5_000)).await;
    let never = execution(&store, "never", None).await;
    let leased = execution(&store, "leased", Some(100)).await;
    store
        .acquire(&leased, "w", 900, 10_000)
        .await
        .expect("acquire");
    let lapsed = execution(&store, "lapsed", Some(200)).await;
    store.acquire(&lapsed, "w", 100, 10).await.expect("acquire");
    let released = execution(&store, "released", Some(300)).await;
    store
        .acquire(&released, "w", 900, 10_000)
        .await
        .expect("acquire");
    store.release(&released, "w").await.expect("release");
    let finished = execution(&store, "finished", Some(100)).await;
    store
        .acquire(&finished, "w", 900, 10_000)
        .await
        .expect("acquire");
    store
        .commit(Commit {
            arn: &finished,
            expected_version: 0,
            owner: "w",
            events: &[event(1, "x")],
            snapshot: &snapshot(1, Status::Succeeded),
            due: Some(100),
            consumed_inbox: 0,
            due_now: false,
        })
        .await
        .expect("commit");
    store.release(&finished, "w").await.expect("release");

    let offered = store.due_executions(1_000, 100).await.expect("due");
    assert_eq!(offered, vec![due.clone(), lapsed.clone(), released.clone()]);
    assert_eq!(
        store.due_executions(1_000, 2).await.expect("due"),
        vec![due, lapsed]
    );
    let offered = store.due_executions(20_000, 100).await.expect("due");
    assert!(offered.contains(&later) && offered.contains(&leased));
    assert!(!offered.contains(&never) && !offered.contains(&finished));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_commit_is_one_request() {
    let store = fresh_store().await;
    let arn = execution(&store, "small", Some(1)).await;
    store.acquire(&arn, "w", 2, 60_000).await.expect("acquire");
    let before = store.request_count();
    let events: Vec<HistoryEvent> = (1..=4).map(|i| event(i, "x")).collect();
    let v = store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w",
            events: &events,
            snapshot: &snapshot(4, Status::Running),
            due: Some(10),
            consumed_inbox: 0,
            due_now: false,
        })
        .await
        .expect("commit");
    assert_eq!(v, 1);
    assert_eq!(store.request_count() - before, 1);
}

/// `bytes` of text that deflate does not shrink much (hex of random bytes).
fn noise(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 32);
    while out.len() < bytes {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(bytes);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_beyond_one_item_keep_every_event() {
    let store = fresh_store().await;
    let arn = execution(&store, "large", Some(1)).await;
    store.acquire(&arn, "w", 2, 60_000).await.expect("acquire");
    // 250 events, one of 500 KB, fourteen of 300 KB, and a snapshot of 800 KB: the body
    // goes to chunks.
    let mut events: Vec<HistoryEvent> = (1..=250).map(|i| event(i, "x")).collect();
    events[100] = event(101, &noise(500 * 1024));
    for i in 237..=250 {
        events[i as usize - 1] = event(i, &noise(300 * 1024));
    }
    let mut snap = snapshot(250, Status::Running);
    snap.output = Some(json!({"big": noise(800 * 1024)}));
    let v = store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w",
            events: &events,
            snapshot: &snap,
            due: Some(10),
            consumed_inbox: 0,
            due_now: true,
        })
        .await
        .expect("commit");
    assert_eq!(v, 1);
    let chunks = store
        .query_range("test", &ex_pk(&arn), "BODY#", "BODY#~", true)
        .await
        .expect("query");
    assert!(chunks.len() > 10, "the body is in chunks: {}", chunks.len());
    assert_eq!(store.history(&arn).await.expect("history"), events);
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(record.snapshot, Some(snap.clone()));

    // A stale writer's large commit changes nothing, and leaves no chunks.
    let stale = store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w",
            events: &(251..=400)
                .map(|i| event(i, &noise(10_000)))
                .collect::<Vec<_>>(),
            snapshot: &snapshot(400, Status::Running),
            due: None,
            consumed_inbox: 0,
            due_now: false,
        })
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(store.history(&arn).await.expect("history"), events);
    let after = store
        .query_range("test", &ex_pk(&arn), "BODY#", "BODY#~", true)
        .await
        .expect("query");
    assert_eq!(
        after.len(),
        chunks.len(),
        "a refused commit writes no chunks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driving_commit_is_one_put_of_one_write_unit_and_markers_fence_it() {
    let store =
        DynamoStore::connect_metered(&format!("stepfn-test-{}", nonce()), Some(&endpoint()))
            .await
            .expect("connect");
    store.init().await.expect("init");
    let arn = execution(&store, "drive", Some(1)).await;
    store.acquire(&arn, "w1", 2, 1_000).await.expect("acquire");
    let step = |version: u64, owner: &'static str, first: u64, status: Status| {
        let events: Vec<HistoryEvent> = (first..first + 5)
            .map(|i| event(i, "{\"order\":42}"))
            .collect();
        (version, owner, events, snapshot(first + 4, status))
    };
    let commit =
        |(version, owner, events, snap): &(u64, &'static str, Vec<HistoryEvent>, Snapshot),
         driving: bool| {
            let store = store.clone();
            let arn = arn.clone();
            let (version, owner, events, snap) = (*version, *owner, events.clone(), snap.clone());
            async move {
                store
                    .commit(Commit {
                        arn: &arn,
                        expected_version: version,
                        owner,
                        events: &events,
                        snapshot: &snap,
                        due: Some(3),
                        consumed_inbox: 0,
                        due_now: driving,
                    })
                    .await
            }
        };
    // Five events of a task step and its snapshot: one PutItem, one write unit.
    let first = step(0, "w1", 1, Status::Running);
    let (requests, (_, writes)) = (store.request_count(), store.capacity().expect("metered"));
    assert_eq!(commit(&first, true).await.expect("commit"), 1);
    assert_eq!(store.request_count() - requests, 1, "one request");
    let (_, after) = store.capacity().expect("metered");
    assert!(after - writes <= 1.0, "{} write units", after - writes);

    // The lease lapses and w2 takes over: its marker holds the next slot, so w1 (which goes
    // on driving without reading META) cannot commit there.
    let taken = store
        .acquire(&arn, "w2", 5_000, 60_000)
        .await
        .expect("acquire");
    assert_eq!(taken.map(|r| r.version), Some(1));
    let lost = commit(&step(1, "w1", 6, Status::Running), true).await;
    assert!(matches!(lost, Err(StoreError::Conflict { .. })), "{lost:?}");
    let second = step(1, "w2", 6, Status::Running);
    assert_eq!(commit(&second, true).await.expect("w2 commits"), 2);
    let history = store.history(&arn).await.expect("history");
    assert_eq!(history.len(), 10);
    assert!(history
        .iter()
        .zip(first.2.iter().chain(second.2.iter()))
        .all(|(a, b)| a == b));

    // A stop request closes the next slot: the driver's next commit fails, and only the commit
    // that aborts takes the slot.
    let request = StopRequest {
        error: Some("E".into()),
        cause: None,
        time: 6_000,
    };
    assert!(store.request_stop(&arn, &request).await.expect("stop"));
    let refused = commit(&step(2, "w2", 11, Status::Running), true).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    let aborted = step(2, "w2", 11, Status::Aborted);
    assert_eq!(commit(&aborted, false).await.expect("abort"), 3);
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (record.status, record.version, record.last_event_id),
        (Status::Aborted, 3, 15)
    );
    assert_eq!(store.history(&arn).await.expect("history").len(), 15);
    assert_eq!(
        store.history_range(&arn, 11, 15).await.expect("range"),
        aborted.2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_commits_keep_the_whole_history() {
    let store = fresh_store().await;
    let arn = execution(&store, "many", Some(1)).await;
    store.acquire(&arn, "w", 2, 60_000).await.expect("acquire");
    let payload = "p".repeat(300);
    let mut all = Vec::new();
    let before = store.request_count();
    for v in 0..40u64 {
        let first = all.len() as u64 + 1;
        let mut events: Vec<HistoryEvent> =
            (first..first + 3).map(|i| event(i, &payload)).collect();
        if v == 20 {
            events[1] = event(first + 1, &noise(20_000));
        }
        all.extend(events.iter().cloned());
        let got = store
            .commit(Commit {
                arn: &arn,
                expected_version: v,
                owner: "w",
                events: &events,
                snapshot: &snapshot(all.len() as u64, Status::Running),
                due: Some(10),
                consumed_inbox: 0,
                due_now: v % 2 == 0,
            })
            .await
            .expect("commit");
        assert_eq!(got, v + 1);
        if v % 10 == 9 {
            assert_eq!(store.history(&arn).await.expect("history"), all);
        }
    }
    // Four whole-history reads of two requests each (the start slot, then the range).
    let requests = store.request_count() - before - 8;
    assert_eq!(requests, 40, "40 commits took {requests} requests");
    assert_eq!(store.history(&arn).await.expect("history"), all);
}

/// A TCP proxy to `target` that can go down (dropping every connection, open or new) and
/// come back.
struct Proxy {
    port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    open: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        use std::sync::atomic::AtomicBool;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let (up2, open2) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let pipes = [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ];
                if let Ok(mut list) = open2.lock() {
                    list.extend([client, server]);
                }
                for pipe in pipes {
                    if let (Ok(mut from), Ok(mut to)) = pipe {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = to.shutdown(std::net::Shutdown::Both);
                        });
                    }
                }
            }
        });
        Proxy { port, up, open }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for stream in self.open.lock().expect("lock").drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_ride_out_an_endpoint_outage() {
    let direct = fresh_store().await;
    let target = endpoint();
    let target = target.trim_start_matches("http://").trim_end_matches('/');
    let proxy = Proxy::start(target.to_string());
    let store = DynamoStore::connect(
        direct.table(),
        Some(&format!("http://127.0.0.1:{}", proxy.port)),
    )
    .await
    .expect("connect");
    let arn = execution(&store, "outage", Some(1)).await;
    store.acquire(&arn, "w", 2, 60_000).await.expect("acquire");
    let mut all = Vec::new();
    for v in 0..6u64 {
        if v % 2 == 1 {
            proxy.down();
        }
        let first = all.len() as u64 + 1;
        let events: Vec<HistoryEvent> = (first..first + 2).map(|i| event(i, "x")).collect();
        all.extend(events.iter().cloned());
        let last = all.len() as u64;
        let commit = {
            let (store, arn) = (store.clone(), arn.clone());
            tokio::spawn(async move {
                store
                    .commit(Commit {
                        arn: &arn,
                        expected_version: v,
                        owner: "w",
                        events: &events,
                        snapshot: &snapshot(last, Status::Running),
                        due: Some(10),
                        consumed_inbox: 0,
                        due_now: false,
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.up();
        assert_eq!(commit.await.expect("task").expect("commit"), v + 1);
    }
    // Create, acquire and six commits are eight requests; the outages cost retries.
    assert!(
        store.request_count() > 11,
        "{} requests",
        store.request_count()
    );
    assert_eq!(direct.history(&arn).await.expect("history"), all);
    let record = direct
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!((record.version, record.last_event_id), (6, 12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_after_the_retry_window() {
    endpoint();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let store = DynamoStore::connect("stepfn-nowhere", Some(&format!("http://127.0.0.1:{port}")))
        .await
        .expect("connect")
        .with_retry_window(Duration::from_millis(500));
    let started = Instant::now();
    let err = store.get_execution("arn:x").await.expect_err("no endpoint");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(store.request_count() > 1, "transient failures are retried");
    assert!(
        err.to_string().starts_with("get execution arn:x: "),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_ranges_pass_over_markers() {
    let store = fresh_store().await;
    let (arn, all) = crate::store::suite_history::written(
        &store,
        &format!("marked-{}", nonce()),
        &[(1, 100), (400, 5_000), (3, 100), (1_000, 500)],
    )
    .await;
    // A lease marker, then a stop marker in its place, hold the slot after the last version.
    store.release(&arn, "w").await.expect("release");
    store
        .acquire(&arn, "w2", 10_000_000, 60_000)
        .await
        .expect("acquire")
        .expect("free");
    let stop = StopRequest {
        error: None,
        cause: None,
        time: 10_000_001,
    };
    assert!(store.request_stop(&arn, &stop).await.expect("stop"));
    let markers = store
        .query_range("test", &ex_pk(&arn), "L#", "L#~", false)
        .await
        .expect("query")
        .into_iter()
        .filter(|i| i.contains_key("mark"))
        .count();
    assert_eq!(markers, 1, "one slot is marked");
    let n = all.len() as u64;
    for (from, to) in [
        (1, 1),
        (2, 401),
        (400, 405),
        (404, n),
        (n, n + 10),
        (1, u64::MAX),
    ] {
        let to_clipped = to.min(n);
        crate::store::suite_history::assert_events(
            &store.history_range(&arn, from, to).await.expect("range"),
            &all[from as usize - 1..to_clipped as usize],
            &format!("events {from}..={to}"),
        );
    }
    assert!(store
        .history_range(&arn, n + 1, n + 5)
        .await
        .expect("past")
        .is_empty());
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!((record.version, record.last_event_id), (4, n));
}
