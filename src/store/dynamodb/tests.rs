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

    // A stop request is one update; with META's tail full, the refused commit is still one
    // request (the tail is not copied out for a commit that cannot succeed).
    let arn = &arns[0];
    store.acquire(arn, "w", 2, 60_000).await.expect("acquire");
    store
        .commit(Commit {
            arn,
            expected_version: 0,
            owner: "w",
            events: &[event(1, &"t".repeat(TAIL_MAX - 400))],
            snapshot: &snapshot(1, Status::Running),
            due: Some(10),
            consumed_inbox: 0,
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
    assert_eq!(count(before), 1, "request stop: one update");
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
        })
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    assert_eq!(
        count(before),
        2,
        "a refused commit: the update, and one read telling an unread message from a stop"
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
    // Even rounds race small commits (into META's tail), odd rounds large ones (in
    // transactions).
    for round in 0..8 {
        let arn = execution(&store, &format!("race{round}"), Some(1)).await;
        store.acquire(&arn, "w", 2, 60_000).await.expect("acquire");
        let size = if round % 2 == 0 { 1 } else { 20_000 };
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
                            due: None,
                            consumed_inbox: 0,
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
        })
        .await
        .expect("commit");
    assert_eq!(v, 1);
    assert_eq!(store.request_count() - before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_beyond_one_transaction_keep_every_event() {
    let store = fresh_store().await;
    let arn = execution(&store, "large", Some(1)).await;
    store.acquire(&arn, "w", 2, 60_000).await.expect("acquire");
    // 250 events in blocks, one of them beyond the item limit, fourteen of 300 KB (more than
    // one transaction holds), and a chunked snapshot.
    let big = "e".repeat(500 * 1024);
    let large = "l".repeat(300 * 1024);
    let mut events: Vec<HistoryEvent> = (1..=250).map(|i| event(i, "x")).collect();
    events[100] = event(101, &big);
    for i in 237..=250 {
        events[i as usize - 1] = event(i, &large);
    }
    let mut snap = snapshot(250, Status::Running);
    snap.output = Some(json!({"big": "s".repeat(800 * 1024)}));
    let v = store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w",
            events: &events,
            snapshot: &snap,
            due: Some(10),
            consumed_inbox: 0,
        })
        .await
        .expect("commit");
    assert_eq!(v, 1);
    assert_eq!(store.history(&arn).await.expect("history"), events);
    let record = store
        .get_execution(&arn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(record.snapshot, Some(snap));

    // A stale writer's large commit changes nothing.
    let stale = store
        .commit(Commit {
            arn: &arn,
            expected_version: 0,
            owner: "w",
            events: &(251..=400).map(|i| event(i, "y")).collect::<Vec<_>>(),
            snapshot: &snapshot(400, Status::Running),
            due: None,
            consumed_inbox: 0,
        })
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(store.history(&arn).await.expect("history"), events);

    // The next commit (small snapshot) deletes the chunks of the previous snapshot.
    let v = store
        .commit(Commit {
            arn: &arn,
            expected_version: 1,
            owner: "w",
            events: &[event(251, "z")],
            snapshot: &snapshot(251, Status::Running),
            due: Some(10),
            consumed_inbox: 0,
        })
        .await
        .expect("commit");
    assert_eq!(v, 2);
    let left = store
        .query_range("test", &ex_pk(&arn), "SNAP#", "SNAP#~", true)
        .await
        .expect("query");
    assert!(left.is_empty(), "old snapshot chunks are deleted: {left:?}");
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
            // Too big for the tail: written to its own item in a transaction.
            events[1] = event(first + 1, &"b".repeat(20_000));
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
            })
            .await
            .expect("commit");
        assert_eq!(got, v + 1);
        if v % 10 == 9 {
            assert_eq!(store.history(&arn).await.expect("history"), all);
        }
    }
    let requests = store.request_count() - before - 4;
    assert!(
        (40..=60).contains(&requests),
        "40 commits took {requests} requests"
    );
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

/// The event items of `arn`'s history: (first id, last id, claim nonce).
async fn event_items_of(store: &DynamoStore, arn: &str) -> Vec<(u64, u64, Option<String>)> {
    let items = store
        .query_range("test", &ex_pk(arn), &ev_sk(0), &ev_sk(u64::MAX / 10), false)
        .await
        .expect("query");
    items
        .iter()
        .map(|item| {
            let first: u64 = item["sk"].as_s().expect("sk")[3..].parse().expect("id");
            let last = item
                .get("last")
                .map_or(first, |l| l.as_n().expect("n").parse().expect("last"));
            let cid = item.get("cid").map(|c| c.as_s().expect("s").clone());
            (first, last, cid)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_ranges_pass_over_leftovers_of_claims_that_never_committed() {
    let store = fresh_store().await;
    // A transaction's blocks, then a claimed commit's (over 3.1 MB).
    let (arn, all) = crate::store::suite_history::written(
        &store,
        &format!("left-{}", nonce()),
        &[(1, 100), (400, 5_000), (1_000, 5_000), (3, 100)],
    )
    .await;
    let items = event_items_of(&store, &arn).await;
    let claimed: Vec<_> = items.iter().filter(|(_, _, cid)| cid.is_some()).collect();
    assert!(
        claimed.len() > 2 && items.iter().any(|(_, _, cid)| cid.is_none()),
        "blocks of both kinds: {items:?}"
    );
    // A failed claim's block that starts inside a committed one, holding other events.
    let (first, last, _) = *claimed[1];
    let ghost_first = first + 3;
    let ghost: Vec<HistoryEvent> = (ghost_first..=last)
        .map(|id| {
            let mut e = all[id as usize - 1].clone();
            e.event_type = "Ghost".into();
            e
        })
        .collect();
    let mut item = key(&ex_pk(&arn), &ev_sk(ghost_first));
    item.insert("last".into(), n(last));
    item.insert(
        "evz".into(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
            super::chunks::compress(serde_json::to_string(&ghost).expect("json").as_bytes()),
        )),
    );
    item.insert("cid".into(), s("a-claim-that-never-committed"));
    store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .send()
        .await
        .expect("put the leftover");
    for (from, to) in [
        (ghost_first, ghost_first + 2),
        (ghost_first + 1, last + 5),
        (1, u64::MAX),
    ] {
        let to_clipped = to.min(all.len() as u64);
        crate::store::suite_history::assert_events(
            &store.history_range(&arn, from, to).await.expect("range"),
            &all[from as usize - 1..to_clipped as usize],
            &format!("events {from}..={to}"),
        );
    }
}
