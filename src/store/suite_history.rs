//! The store suite's checks of history ranges (see [`crate::store::suite`]): every range of a
//! history written in commits of every shape (a driving commit alone or one that updates the
//! execution too, a few events or thousands, inline or in chunks) reads as the same slice of
//! the whole history.

use serde_json::json;

use crate::engine::execution::{Snapshot, Status};
use crate::engine::history::HistoryEvent;
use crate::store::{test_info, Commit, Created, ExecutionRecord, Store, StoreError};

fn event(id: u64, payload_bytes: usize) -> HistoryEvent {
    // Payloads differ by event (a block read at the wrong place would show) and do not
    // compress (DynamoDB's blocks are deflated; their size decides how a commit is written).
    let mut x = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let noise: String = (0..payload_bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'!' + (x % 90) as u8)
        })
        .collect();
    super::suite::event(id, &format!("{id}:{noise}"))
}

fn snapshot(last_event_id: u64) -> Snapshot {
    super::suite::snapshot(last_event_id, Status::Running, None)
}

/// An execution whose history was committed in `commits`, each (events, payload bytes of each
/// event), in order; returns its ARN and the whole history.
pub(crate) async fn written<S: Store>(
    store: &S,
    name: &str,
    commits: &[(u64, usize)],
) -> (String, Vec<HistoryEvent>) {
    let info = test_info("m", name, 1_000);
    let arn = info.arn.clone();
    let record = ExecutionRecord::new(info, json!({}));
    assert_eq!(
        store.create_execution(&record).await.expect("create"),
        Created::New
    );
    store
        .acquire(&arn, "w", 1_000, 600_000)
        .await
        .expect("acquire")
        .expect("free");
    let mut all: Vec<HistoryEvent> = Vec::new();
    for (version, (count, bytes)) in commits.iter().enumerate() {
        let first = all.len() as u64 + 1;
        let events: Vec<HistoryEvent> =
            (first..first + count).map(|id| event(id, *bytes)).collect();
        let last = first + count - 1;
        store
            .commit(Commit {
                arn: &arn,
                expected_version: version as u64,
                owner: "w",
                events: &events,
                snapshot: &snapshot(last),
                // Every other commit goes on driving.
                due: (version % 2 == 1).then_some(1_000),
                consumed_inbox: 0,
                due_now: version % 2 == 1,
            })
            .await
            .expect("commit");
        all.extend(events);
    }
    (arn, all)
}

/// Asserts that `got` is `want`, showing only ids and types when not (the payloads are long).
#[track_caller]
pub(crate) fn assert_events(got: &[HistoryEvent], want: &[HistoryEvent], what: &str) {
    if got != want {
        let brief = |events: &[HistoryEvent]| -> Vec<(u64, String)> {
            events
                .iter()
                .map(|e| (e.id, e.event_type.clone()))
                .collect()
        };
        let differ: Vec<u64> = got
            .iter()
            .zip(want)
            .filter(|(g, w)| g != w)
            .map(|(g, _)| g.id)
            .collect();
        panic!(
            "{what}: got {:?}, want {:?}; events that differ: {differ:?}",
            brief(got),
            brief(want)
        );
    }
}

/// The checks: ranges forward and backward, in the tail, in blocks and across them.
pub(crate) async fn history_ranges<S: Store>(store: &S, unique: &str) {
    // Small commits (META's tail, copied out when it fills), one transaction of blocks
    // (~2 MB: blocks of ~70 events), a claimed commit (~5 MB), small commits again.
    let mut commits = vec![(1, 200); 60];
    commits.push((400, 5_000));
    commits.extend(vec![(2, 300); 30]);
    commits.push((1_000, 5_000));
    commits.extend(vec![(1, 100); 45]);
    let (arn, all) = written(store, &format!("h{unique}"), &commits).await;
    let last = all.len() as u64;
    assert_events(
        &store.history(&arn).await.expect("history"),
        &all,
        "history",
    );
    let range = |from: u64, to: u64| {
        let store = &store;
        let arn = arn.clone();
        async move { store.history_range(&arn, from, to).await.expect("range") }
    };
    let slice = |from: u64, to: u64| -> Vec<HistoryEvent> {
        let to = to.min(last);
        if from > to {
            return Vec::new();
        }
        all[from as usize - 1..to as usize].to_vec()
    };
    assert_events(&range(1, u64::MAX).await, &all, "the whole history");
    assert_events(&range(0, 5).await, &slice(1, 5), "ids start at 1");
    assert_events(
        &range(last - 3, last + 50).await,
        &slice(last - 3, last),
        "clipped",
    );
    assert_events(&range(10, 9).await, &[], "an empty range");
    assert_events(&range(last + 1, last + 10).await, &[], "past the end");
    // Ids in and around the large commits: block starts, middles and ends.
    for (from, to) in [
        (55, 70),
        (61, 61),
        (62, 200),
        (130, 131),
        (200, 470),
        (459, 462),
        (461, 520),
        (500, 1300),
        (900, 901),
        (1159, 1161),
        (1200, 1600),
        (1500, last),
        (last, last),
    ] {
        assert_events(
            &range(from, to).await,
            &slice(from, to),
            &format!("events {from}..={to}"),
        );
    }
    // Paging forward and backward by 97 events gives the history.
    let mut forward = Vec::new();
    let mut from = 1;
    while from <= last {
        let page = range(from, from + 96).await;
        assert_events(&page, &slice(from, from + 96), &format!("page from {from}"));
        from += 97;
        forward.extend(page);
    }
    assert_events(&forward, &all, "forward pages");
    let mut backward = Vec::new();
    let mut to = last;
    loop {
        let from = to.saturating_sub(96).max(1);
        let mut page = range(from, to).await;
        page.reverse();
        backward.extend(page);
        if from == 1 {
            break;
        }
        to = from - 1;
    }
    backward.reverse();
    assert_events(&backward, &all, "backward pages");
    let missing = store
        .history_range(&format!("{arn}-none"), 1, 10)
        .await
        .expect_err("no such execution");
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing:?}");
}
