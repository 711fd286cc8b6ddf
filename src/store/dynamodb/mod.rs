//! The DynamoDB backend of [`Store`]: one table, keys `pk`/`sk` (both strings), billed per
//! request, with two sparse global secondary indexes: `gsi1` for the executions that are due,
//! `gsi2` for the executions of each state machine.
//!
//! It owns the item layout, the commit protocol and the retries of transient failures; the
//! semantics (versions, leases, committed history) are those of [`crate::store::memory`], which
//! both backends prove by passing `store::suite`.
//!
//! # Items
//!
//! | item | `pk` | `sk` | holds |
//! | --- | --- | --- | --- |
//! | state machine | `SM#<arn>` | `DEF` | the [`MachineRecord`] (tags included) as JSON |
//! | state machine registry entry | `SMLIST` | `<arn>` | `name`, `created` |
//! | execution | `EX#<arn>` | `META` | `version` and `last_event_id` (as of the last write of META), `lv` (the version whose log item came with it), `status`, `lease_owner`, `lease_expires`, `due`, `gsi1pk`/`gsi1sk`, `gsi2pk`/`gsi2sk`, `info` (names, ARNs, start time), `rec` (info, input), `snap` (a snapshot given at the creation, until the first commit), `stop_time`, `stop_req` (a [`StopRequest`]), `inbox`, `redrive`, `cid` |
//! | log: one committed version | `EX#<arn>` | `L#<first event id>#<version>` (20 digits each) | `v`, `last` (its last event id), `body` (its events as a JSON array, then the snapshot after them, deflated; `elen` is where the snapshot starts; `body_ref`/`body_chunks` when in chunks), `owner`, `cid` |
//! | log: a marked slot | `EX#<arn>` | the slot of the next version | `mark`: `lease` (with `owner`: held for the lease holder) or `stop` (closed by a stop request) |
//! | activity | `ACT#<arn>` | `DEF` | the [`ActivityRecord`] (tags included) as JSON (`act`) |
//! | activity registry entry | `ACTLIST` | `<arn>` | `name`, `created` |
//! | queued activity task | `ACTQ#<activity arn>` | `Q#<enqueued, order-preserving>#<token>` | the [`ActivityTask`] as JSON (`task`) |
//! | token marker | `ACTQ#<activity arn>` | `T#<token>` | `taken` once the task was taken: the token is queued or was taken |
//! | chunk | as its owner | `REC#…`, `SNAP#<version>#…`, `BODY#<version>#…`, `DEFC#…` | 350,000 bytes of a document too large for its item, deflated (behind a mark that JSON cannot start with; unmarked chunks are plain) |
//!
//! A JSON document (the execution's immutable part `rec`, its snapshot `snap`, an event `ev`, a
//! definition `def`) is stored inline as a string attribute when it fits; otherwise its bytes go
//! into chunk items under a key prefix that includes a fresh random nonce, and the owning item
//! names the prefix (`<name>_ref`) and the chunk count (`<name>_chunks`). Chunks are written
//! before the item that names them, and because no other writer can use the same keys, they are
//! written with plain unconditional batch writes; chunks that no item names are garbage (a
//! failed writer deletes its own; the older snapshot chunks go after a later commit).
//!
//! The META item carries `gsi1pk = DUE#<shard>` (or its queue's partition, see `queues`) and `gsi1sk` (the due time, order-preserving)
//! only while the execution is RUNNING and has a due time, so `due_executions` is one Query per
//! shard with `gsi1sk <= now`, filtered on the projected `lease_expires`.
//!
//! # Listings
//!
//! State machines are listed from the registry partition `SMLIST` (one entry per machine,
//! written after its DEF item and deleted after it), not from an index, so a listing reads its
//! own writes: `list_machines` is a strongly consistent Query of the registry (one request per
//! 1 MB of entries) and a consistent BatchGetItem of the DEF items (one request per 100
//! machines; a chunked definition adds one Query). An entry whose DEF is gone (a delete that
//! failed half-way) is skipped. `put_machine` is two PutItems (the DEF, then the entry),
//! `delete_machine` two DeleteItems (the DEF, then the entry), both plus the chunk writes of
//! large definitions. Machines stored before the registry existed are not listed until they
//! are put again.
//!
//! Every META has `gsi2pk = SM#<state machine arn>` and `gsi2sk = <start time>#<name>` (the
//! time order-preserving, as `gsi1sk`) from its creation; the executions index `gsi2` projects
//! only `info`, `status`, `stop_time` and `stop_req`, which change at most a few times in an
//! execution's life, so commits do not write to it until the last. `list_executions` is one
//! Query of the index, newest first, per 1 MB of entries (some 2,000 executions), and gives
//! summaries (no input, snapshot or output); it is eventually consistent, as Step Functions'
//! ListExecutions is. `init` adds the index to an older table, but executions created before
//! it (without `gsi2pk`) are not listed.
//!
//! Activities are listed like state machines, from the registry partition `ACTLIST`.
//!
//! # Activity tasks
//!
//! `enqueue_activity_task` is one `TransactWriteItems`: the token marker `T#<token>`, on
//! condition that it does not exist, and the task item `Q#…`. A failed condition means the
//! token is queued or was taken, and nothing changes (a task is handed out once). A task is stored inline, so one whose JSON is
//! larger than [`crate::store::ACTIVITY_TASK_MAX_BYTES`] (300 KiB; Step Functions allows 256
//! KiB of input) is refused with [`StoreError::Backend`] in both backends.
//! `take_activity_task` Queries the oldest `Q#` item (consistent, `Limit 1`), then deletes it,
//! on condition that it still exists, and marks its marker `taken`, in one transaction; a lost
//! race (another taker deleted it first) queries again. Deleting an activity leaves its queue.
//!
//! # Stop requests
//!
//! `request_stop` is one conditional UpdateItem of META (status RUNNING): it sets `stop_req`
//! unless set and makes the execution due at its time; then it closes the log's next slot
//! (see Commit). Every commit that updates META then requires
//! `attribute_not_exists(stop_req) OR status <> RUNNING`, except a commit that ends the
//! execution as ABORTED, which applies the stop.
//!
//! # Inbox
//!
//! `deliver` is one conditional UpdateItem of META (status RUNNING, fewer than 100 entries):
//! it appends to the list `inbox` (`list_append`) and makes the execution due at the message
//! time. An entry is a map holding the message JSON (`m`) when at most 512 bytes, else the
//! prefix and count of its chunks (`m_ref`, `m_chunks`, under `INBOX#<nonce>#`, written
//! first), so a full inbox stays within the room META keeps for it. A commit that consumed N
//! messages adds `REMOVE inbox[0], …, inbox[N-1]` (indexes of the list before the update).
//! Chunks of consumed messages are left behind. A commit that goes on driving does not read
//! the inbox; the driver reads it when it waits, and a commit that parks requires it read.
//!
//! # Commit
//!
//! A commit pays for what it adds: each version is one new item of the log, written once, so
//! a commit costs the write units of its own events and snapshot (deflated), not those of
//! everything before it. The slot of version `v` is the key `L#<f>#<v>`, `f` one more than
//! the last event id of version `v - 1`: every writer that read version `v - 1` names the same
//! key, and a put into it is conditional on the slot being free (or marked for the writer,
//! below), so exactly one commit of each version lands and a stale writer's put meets the
//! item that took the slot. An item in a slot is committed; nothing else is ever written
//! there, so readers need no fencing of their own.
//!
//! * **Going on driving** (the lease holder that acquired the execution through this store,
//!   status RUNNING, due at once, no inbox message consumed: [`Commit::due_now`]): one
//!   conditional PutItem of the log item. META is not touched: its due time may stay earlier
//!   than the commit's, which changes nothing while the lease keeps other workers away.
//! * **Everything else** (the execution ends, parks with a later due time, consumes inbox
//!   messages, aborts, or the writer is not known to hold the lease here): one
//!   `TransactWriteItems` of the log item's conditional put and META's update under META's
//!   conditions (the lease, no pending stop request unless the commit aborts, the inbox
//!   holding only what the writer read).
//!
//! The lease fences the log through markers. `acquire` puts a `lease` marker naming the new
//! owner into the next slot (replacing another lease marker, never a committed version): a
//! writer whose lease lapsed, still driving on without reading META, finds its next slot held
//! for someone else and gets a conflict; the owner's own commit takes the marked slot.
//! `request_stop` puts a `stop` marker there after updating META, so the driver's next commit
//! fails, and only a commit that aborts takes a slot closed by a stop. When a commit takes
//! the slot first, the marker goes into the slot after it. A crash between the stop's update
//! and its marker only delays the stop to the driver's next commit that updates META.
//!
//! The head (version, last event id, snapshot) is the newest log item (a descending Query that
//! passes over markers), or META when its version is newer (a redrive reopens an execution
//! with META alone). A range of history events is a Query from the newest slot whose first
//! event id is at most the range's first, to the last slot starting within the range.
//!
//! A body too large for one item (350,000 bytes deflated) goes to chunk items, written
//! (batch, unconditional, under a fresh nonce) before the item that names them; a failed
//! commit deletes its own. A failed condition is [`StoreError::Conflict`] (or `NotFound` when
//! the execution does not exist).
//!
//! # Failures
//!
//! Throttling, 5xx answers, connection failures and timeouts are retried with exponential
//! backoff for a bounded time (60 s unless [`DynamoStore::with_retry_window`] says otherwise),
//! each retry logged with `tracing::warn!`. Retried writes are idempotent: every write is
//! conditional or writes unique keys, transactions carry a client token, and a commit whose
//! first attempt succeeded unseen recognizes its own nonce (`cid`) on the retry. Other errors
//! are [`StoreError::Backend`] naming the operation and key; unreadable items are
//! [`StoreError::Corrupt`].

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::Region;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction, Delete,
    DeleteRequest, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableDescription, TableStatus,
    TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::asl::error::StatesError;
use crate::engine::execution::{ExecutionInfo, Snapshot, Status};
use crate::engine::history::HistoryEvent;
use crate::store::{
    check_activity_task_size, inbox_message_too_large, ActivityRecord, ActivityTask, Commit,
    Created, ExecutionRecord, InboxMessage, Lease, MachineRecord, StopRequest, Store, StoreError,
    INBOX_MAX_MESSAGES,
};

type Item = HashMap<String, AttributeValue>;

/// The due index.
const DUE_INDEX: &str = "gsi1";
/// The executions index: executions by state machine, by start time.
const EXECUTIONS_INDEX: &str = "gsi2";
/// The partition of the state machine registry.
const MACHINES_PK: &str = "SMLIST";
/// The partition of the activity registry.
const ACTIVITIES_PK: &str = "ACTLIST";
/// Keys of one BatchGetItem (DynamoDB's limit).
const BATCH_GET_ITEMS: usize = 100;
/// Partitions of the due index, so its writes spread over several keys. Changing it strands the
/// entries of the shards that are no longer read.
const DUE_SHARDS: u32 = 4;
/// The largest document stored inline in an event or state machine item, and the size of a
/// chunk (DynamoDB's item limit is 400 KB, names included).
const INLINE_MAX: usize = 350_000;
/// The largest immutable part of an execution (info and input) kept in META; larger ones are
/// chunked, since META is paid for whole at every write (leases, the commits that change it).
const REC_INLINE_MAX: usize = 4 * 1024;
/// Room in META for a snapshot stored at the creation, besides the other attributes.
const META_MAX: usize = 380_000;
/// The largest inbox message (JSON) kept in META itself; larger ones go to chunks.
const INBOX_INLINE_MAX: usize = 512;
/// Items of one BatchWriteItem (DynamoDB's limit).
const BATCH_ITEMS: usize = 25;
/// Requests of one kind in flight at once for one operation.
const CONCURRENCY: usize = 4;
/// How long transient failures are retried by default.
const DEFAULT_RETRY_WINDOW: Duration = Duration::from_secs(60);
/// The first and the longest pause between retries.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A [`Store`] in one DynamoDB table; clones share the client and the request count.
#[derive(Clone)]
pub struct DynamoStore {
    inner: Arc<Inner>,
    retry_window: Duration,
}

struct Inner {
    client: Client,
    table: String,
    requests: AtomicU64,
    /// Consumed capacity, when metered.
    meter: Option<Arc<crate::store::capacity::CapacityMeter>>,
    /// What this store knows of the executions it drives (see [`log::Known`]).
    known: Mutex<HashMap<String, Known>>,
    /// The due queues this process knows, and its fair scheduling state.
    queues: Mutex<queues::Queues>,
}

/// A message as an error source.
#[derive(Debug)]
struct Message(String);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

fn backend_msg(context: impl Into<String>, message: impl Into<String>) -> StoreError {
    StoreError::Backend {
        context: context.into(),
        source: Box::new(Message(message.into())),
    }
}

fn backend<E>(context: impl Into<String>, err: &SdkError<E>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    backend_msg(context, describe(err))
}

/// A sentence for an SDK error: the service's code and message, or what failed on the way
/// (each cause's text, no debug dump), with the fix when there is an obvious one.
fn describe<E>(err: &SdkError<E>) -> String
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = err {
        let e = service.err();
        let code = e.code().unwrap_or("ServiceError");
        let message = e.message().unwrap_or_default();
        return match code {
            "ResourceNotFoundException" => format!(
                "{code}: {message}: create the table first with `stepfn init` and the same \
                 --store dynamodb --table (and --dynamodb-endpoint)"
            ),
            _ => format!("{code}: {message}"),
        };
    }
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    if matches!(
        err,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        text.push_str(
            " (is DynamoDB reachable? check --dynamodb-endpoint or AWS_ENDPOINT_URL_DYNAMODB, \
             the region and the credentials)",
        );
    }
    text
}

fn corrupt(what: impl Into<String>, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what: what.into(),
        reason: reason.into(),
    }
}

mod calls;
mod chunks;
mod commit;
mod expr;
mod layout;
mod log;
mod map_runs;
mod queues;
mod resources;
mod store;
mod table;
#[cfg(test)]
pub(crate) mod tests;

use calls::*;
use chunks::*;
use commit::*;
use expr::*;
use layout::*;
use log::*;

impl DynamoStore {
    /// Connects using the standard AWS settings (region, credentials,
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`); `endpoint` overrides the endpoint (the
    /// CLI's `--dynamodb-endpoint`).
    ///
    /// With an endpoint override and no region configured, the region is `us-east-1` (DynamoDB
    /// Local ignores it). Nothing is sent yet; [`DynamoStore::init`] creates the table.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] for an invalid table name, or no region for AWS itself.
    pub async fn connect(table: &str, endpoint: Option<&str>) -> Result<DynamoStore, StoreError> {
        Self::connect_with(table, endpoint, None).await
    }

    /// Like [`DynamoStore::connect`], and every request reports the capacity it consumed into
    /// [`DynamoStore::capacity`] (for cost figures).
    ///
    /// # Errors
    ///
    /// As [`DynamoStore::connect`].
    pub async fn connect_metered(
        table: &str,
        endpoint: Option<&str>,
    ) -> Result<DynamoStore, StoreError> {
        let meter = Arc::new(crate::store::capacity::CapacityMeter::default());
        Self::connect_with(table, endpoint, Some(meter)).await
    }

    async fn connect_with(
        table: &str,
        endpoint: Option<&str>,
        meter: Option<Arc<crate::store::capacity::CapacityMeter>>,
    ) -> Result<DynamoStore, StoreError> {
        let valid = (3..=255).contains(&table.len())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(backend_msg(
                format!("connect to table {table:?}"),
                "a table name has 3 to 255 characters among a-z, A-Z, 0-9, '_', '-' and '.'",
            ));
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_dynamodb::config::Builder::from(&shared)
            // Retries are ours: bounded in time, logged, and counted per request.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            );
        if shared.region().is_none() {
            let overridden = endpoint.is_some()
                || ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
                    .iter()
                    .any(|v| std::env::var_os(v).is_some());
            if !overridden {
                return Err(backend_msg(
                    format!("connect to table {table}"),
                    "no AWS region configured: set AWS_REGION or a profile's region",
                ));
            }
            config = config.region(Region::new("us-east-1"));
        }
        if let Some(meter) = &meter {
            config = config.interceptor(crate::store::capacity::CapacityInterceptor(Arc::clone(
                meter,
            )));
        }
        Ok(DynamoStore {
            inner: Arc::new(Inner {
                client: Client::from_conf(config.build()),
                table: table.to_string(),
                requests: AtomicU64::new(0),
                known: Mutex::default(),
                queues: Mutex::default(),
                meter,
            }),
            retry_window: DEFAULT_RETRY_WINDOW,
        })
    }

    /// The same store, retrying transient failures for `window` before giving up (60 s by
    /// default).
    pub fn with_retry_window(mut self, window: Duration) -> Self {
        self.retry_window = window;
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// Consumed read and write units so far, when connected with
    /// [`DynamoStore::connect_metered`].
    pub fn capacity(&self) -> Option<(f64, f64)> {
        self.inner
            .meter
            .as_ref()
            .map(|m| (m.read_units(), m.write_units()))
    }

    /// DynamoDB requests made so far by this store (all clones), retries included.
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Raw single-item PutItem of a small item (for the benchmark's raw baseline in the same
    /// run).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the request fails after retries.
    pub async fn raw_put(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        let mut item = key(pk, sk);
        item.insert("v".into(), n(1));
        self.put_plain(&format!("put item {pk}/{sk}"), item).await
    }

    /// Puts `item` as it is, replacing any item of its key.
    pub(super) async fn put_plain(&self, what: &str, item: Item) -> Result<(), StoreError> {
        self.call(what, || {
            self.client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(item.clone()))
                .send()
        })
        .await
        .map_err(|e| backend(what, &e))?;
        Ok(())
    }

    /// The item of key `pk`/`sk`, read consistently; `None` when there is none.
    pub(super) async fn get_consistent(
        &self,
        what: &str,
        pk: &str,
        sk: &str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .call(what, || {
                self.client()
                    .get_item()
                    .table_name(self.table())
                    .set_key(Some(key(pk, sk)))
                    .consistent_read(true)
                    .send()
            })
            .await
            .map_err(|e| backend(what, &e))?;
        Ok(out.item)
    }
}
