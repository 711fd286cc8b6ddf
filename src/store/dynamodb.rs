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
//! | execution | `EX#<arn>` | `META` | `version`, `last_event_id`, `status`, `lease_owner`, `lease_expires`, `due`, `gsi1pk`/`gsi1sk`, `gsi2pk`/`gsi2sk`, `info` (names, ARNs, start time), `rec` (info, input), `snap` (the snapshot), `stop_time`, `stop_req` (a [`StopRequest`]), `tail` (the latest events), `cid` |
//! | history events | `EX#<arn>` | `EV#<id, 20 digits>` | one [`HistoryEvent`] (`ev`), or a block of consecutive ones from this id (`evz`, a JSON array deflated, and `last`; older blocks `evs`, plain JSON) |
//! | activity | `ACT#<arn>` | `DEF` | the [`ActivityRecord`] (tags included) as JSON (`act`) |
//! | activity registry entry | `ACTLIST` | `<arn>` | `name`, `created` |
//! | queued activity task | `ACTQ#<activity arn>` | `Q#<enqueued, order-preserving>#<token>` | the [`ActivityTask`] as JSON (`task`) |
//! | queued token marker | `ACTQ#<activity arn>` | `T#<token>` | nothing: the token is queued |
//! | chunk | as its owner | `REC#…`, `SNAP#<version>#…`, `EVC#<id>#…`, `DEFC#…` | 350,000 bytes of a document too large for its item, deflated (behind a mark that JSON cannot start with; unmarked chunks are plain) |
//!
//! A JSON document (the execution's immutable part `rec`, its snapshot `snap`, an event `ev`, a
//! definition `def`) is stored inline as a string attribute when it fits; otherwise its bytes go
//! into chunk items under a key prefix that includes a fresh random nonce, and the owning item
//! names the prefix (`<name>_ref`) and the chunk count (`<name>_chunks`). Chunks are written
//! before the item that names them, and because no other writer can use the same keys, they are
//! written with plain unconditional batch writes; chunks that no item names are garbage (a
//! failed writer deletes its own; the older snapshot chunks go after a later commit).
//!
//! The META item carries `gsi1pk = DUE#<shard>` and `gsi1sk` (the due time, order-preserving)
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
//! token is already queued, and nothing changes. A task is stored inline, so one whose JSON is
//! larger than [`crate::store::ACTIVITY_TASK_MAX_BYTES`] (300 KiB; Step Functions allows 256
//! KiB of input) is refused with [`StoreError::Backend`] in both backends.
//! `take_activity_task` Queries the oldest `Q#` item (consistent, `Limit 1`), then deletes it,
//! on condition that it still exists, together with its marker in one transaction; a lost
//! race (another taker deleted it first) queries again. Deleting an activity leaves its queue.
//!
//! # Stop requests
//!
//! `request_stop` is one conditional UpdateItem of META (status RUNNING): it sets `stop_req`
//! unless set and makes the execution due at its time. Every commit's condition then includes
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
//! Chunks of consumed messages are left behind.
//!
//! # Commit
//!
//! History events are only ever written under the fence of the META condition (`version`,
//! `lease_owner`, `last_event_id`): a blind write of `EV#n` by a worker whose lease lapsed could
//! otherwise overwrite an event that the new lease holder has committed in the meantime. So:
//!
//! * small events (up to 32 of them and 16 KiB of JSON) go into META itself, in the map `tail`
//!   (`e<id>` to JSON), and the commit is one conditional `UpdateItem`. When the tail would grow
//!   past 16 KiB, the update is refused and returns the tail; its events, committed and so the
//!   same for whoever copies them, are batch-written to their `EV#` items, and a second update
//!   replaces the tail with the new events;
//! * more events go to event items, packed into blocks of up to 350,000 bytes (an event too
//!   large for a block has its own item, chunked): up to 3.1 MB of them in one
//!   `TransactWriteItems` with the conditional META update, atomic; beyond that the commit
//!   claims META with its nonce (conditional `UpdateItem`), writes the items in transactions
//!   that each check the claim and the version, then makes the META update that also requires
//!   its claim;
//! * a commit without events is one conditional `UpdateItem`.
//!
//! Readers walk the ids from 1 to `last_event_id`: an id in the tail comes from there, else
//! from the item at that id, a block moving the walk past its last event. Items the walk does
//! not land on, or that the tail shadows, are leftovers of failed commits: every write of an
//! event item that was not committed yet is fenced, so none lands after the commit of its id.
//!
//! Chunks of large snapshots and events are batch-written (25 items a request, several requests
//! at once) before any of these. A failed condition is [`StoreError::Conflict`] (or `NotFound`
//! when the execution does not exist).
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
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck,
    CreateGlobalSecondaryIndexAction, Delete, DeleteRequest, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, KeysAndAttributes,
    Projection, ProjectionType, Put, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TableDescription, TableStatus, TransactWriteItem, Update, WriteRequest,
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
/// chunked, since META is rewritten, and paid for, at every commit.
const REC_INLINE_MAX: usize = 32 * 1024;
/// Room in META for the inline snapshot, besides the other attributes.
const META_MAX: usize = 380_000;
/// The largest total of event JSON kept in META's `tail` before it is copied to event items.
/// A bigger tail means fewer copies (requests) but a bigger META, rewritten (and paid for) at
/// every commit.
const TAIL_MAX: usize = 16 * 1024;
/// The most events one commit adds to the tail (an expression has at most 4 KB).
const TAIL_EVENTS_MAX: usize = 32;
/// The largest inbox message (JSON) kept in META itself; larger ones go to chunks.
const INBOX_INLINE_MAX: usize = 512;
/// The room META keeps for a full inbox (inline messages or chunk references).
const INBOX_RESERVE: usize = INBOX_MAX_MESSAGES * (INBOX_INLINE_MAX + 64);
/// Items of one transaction (DynamoDB allows 100; one is META).
const TXN_MAX_PUTS: usize = 99;
/// Bytes of one transaction (DynamoDB allows 4 MB).
const TXN_MAX_BYTES: usize = 3_500_000;
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
    /// Executions whose committed snapshot this store saw in chunks: their next commit deletes
    /// the older snapshot chunks.
    chunked: Mutex<HashSet<String>>,
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
    E: std::error::Error + Send + Sync + 'static,
{
    backend_msg(context, DisplayErrorContext(err).to_string())
}

fn corrupt(what: impl Into<String>, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what: what.into(),
        reason: reason.into(),
    }
}

/// Whether a failed request may succeed when sent again.
fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        // Connection failures are `io`; hyper's incomplete message is an `other` marked
        // transient (its kind type is not re-exported: compared by name). Other `other`s, such as
        // credentials that cannot be loaded, are not worth a minute of retries.
        SdkError::DispatchFailure(failure) => {
            failure.is_io()
                || failure.is_timeout()
                || failure
                    .as_other()
                    .is_some_and(|kind| format!("{kind:?}") == "TransientError")
        }
        SdkError::ServiceError(service) => {
            matches!(
                err.code(),
                Some(
                    "ThrottlingException"
                        | "ProvisionedThroughputExceededException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                        | "TransactionInProgressException"
                        | "TransactionConflictException"
                )
            ) || service.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// Like [`is_transient`], and a transaction cancelled only because of a concurrent transaction
/// or throttling (not because of a condition) is tried again too.
fn is_transient_transaction(err: &SdkError<TransactWriteItemsError>) -> bool {
    if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error() {
        let codes: Vec<&str> = e
            .cancellation_reasons()
            .iter()
            .filter_map(|r| r.code())
            .filter(|c| *c != "None")
            .collect();
        return !codes.is_empty()
            && codes.iter().all(|c| {
                matches!(
                    *c,
                    "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            });
    }
    is_transient(err)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn ex_pk(arn: &str) -> String {
    format!("EX#{arn}")
}

fn sm_pk(arn: &str) -> String {
    format!("SM#{arn}")
}

fn act_pk(arn: &str) -> String {
    format!("ACT#{arn}")
}

/// The partition of an activity's task queue.
fn actq_pk(arn: &str) -> String {
    format!("ACTQ#{arn}")
}

/// The sort key of a queued task: oldest first, then by token.
fn actq_task_sk(task: &ActivityTask) -> String {
    format!("Q#{}#{}", time_sort_key(task.enqueued), task.token)
}

/// The sort key of the marker saying a task with `token` is queued.
fn actq_token_sk(token: &str) -> String {
    format!("T#{token}")
}

fn ev_sk(id: u64) -> String {
    format!("EV#{id:020}")
}

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The due index partition of an execution (FNV-1a of the ARN: stable across builds).
fn due_shard(arn: &str) -> u32 {
    let hash = arn.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % u64::from(DUE_SHARDS)) as u32
}

/// A time as a sort key: 20 digits of the time offset by 2^63, so string order is time
/// order for every `i64`.
fn time_sort_key(time: i64) -> String {
    format!("{:020}", (time as u64) ^ (1 << 63))
}

fn get_s<'a>(item: &'a Item, name: &str, what: &str) -> Result<Option<&'a str>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v)),
        Some(_) => Err(corrupt(what, format!("attribute {name} is not a string"))),
    }
}

fn get_n<T: std::str::FromStr>(
    item: &Item,
    name: &str,
    what: &str,
) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| corrupt(what, format!("attribute {name} is not a valid number: {v}"))),
        Some(_) => Err(corrupt(what, format!("attribute {name} is not a number"))),
    }
}

fn req_s<'a>(item: &'a Item, name: &str, what: &str) -> Result<&'a str, StoreError> {
    get_s(item, name, what)?.ok_or_else(|| corrupt(what, format!("attribute {name} is missing")))
}

fn req_n<T: std::str::FromStr>(item: &Item, name: &str, what: &str) -> Result<T, StoreError> {
    get_n(item, name, what)?.ok_or_else(|| corrupt(what, format!("attribute {name} is missing")))
}

fn parse_json<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| corrupt(what, format!("invalid JSON: {e}")))
}

fn to_json<T: Serialize>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| backend_msg(format!("serialize {what}"), e.to_string()))
}

/// The status as stored (its API spelling).
fn parse_status(value: &str, what: &str) -> Result<Status, StoreError> {
    serde_json::from_value(Value::String(value.to_string()))
        .map_err(|_| corrupt(what, format!("unknown status {value}")))
}

/// Approximate stored size of an item, as DynamoDB counts it (names plus values).
fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(v) => v.len(),
                    AttributeValue::B(v) => v.as_ref().len(),
                    _ => 22,
                }
        })
        .sum()
}

/// Marks deflated bytes; JSON never starts with a NUL byte, so older uncompressed chunks read
/// as they are.
const DEFLATED: &[u8] = b"\0z1";

/// `bytes` deflated, behind the [`DEFLATED`] mark.
fn compress(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = DEFLATED.to_vec();
    let mut encoder = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    let _ = encoder.finish();
    out
}

/// The bytes of a stored document: inflated when marked [`DEFLATED`], as they are otherwise.
fn decompress(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let Some(deflated) = bytes.strip_prefix(DEFLATED) else {
        return Ok(bytes);
    };
    let mut out = Vec::with_capacity(deflated.len() * 8);
    flate2::read::DeflateDecoder::new(deflated)
        .read_to_end(&mut out)
        .map_err(|e| format!("the deflated document does not inflate: {e}"))?;
    Ok(out)
}

/// A JSON document placed for storage: the attributes naming it in its item, and the chunk
/// items to write first.
struct Placed {
    attrs: Vec<(String, AttributeValue)>,
    chunks: Vec<Item>,
}

/// Places `json` under attribute `name`: inline when at most `inline_max` bytes, otherwise in
/// chunks `pk`/`<prefix><index>`.
fn place(name: &str, json: String, inline_max: usize, pk: &str, prefix: String) -> Placed {
    if json.len() <= inline_max {
        return Placed {
            attrs: vec![(name.to_string(), s(json))],
            chunks: Vec::new(),
        };
    }
    // Chunked documents are large and JSON: deflated, they cost a tenth of the write units.
    let bytes = compress(json.as_bytes());
    let chunks: Vec<Item> = bytes
        .chunks(INLINE_MAX)
        .enumerate()
        .map(|(i, bytes)| {
            let mut item = key(pk, &format!("{prefix}{i:05}"));
            item.insert("data".into(), AttributeValue::B(Blob::new(bytes)));
            item
        })
        .collect();
    Placed {
        attrs: vec![
            (format!("{name}_ref"), s(prefix)),
            (format!("{name}_chunks"), n(chunks.len())),
        ],
        chunks,
    }
}

/// The lease attributes of META.
fn decode_lease(item: &Item, what: &str) -> Result<Option<Lease>, StoreError> {
    match (
        get_s(item, "lease_owner", what)?,
        get_n::<i64>(item, "lease_expires", what)?,
    ) {
        (Some(owner), Some(expires)) => Ok(Some(Lease {
            owner: owner.to_string(),
            expires,
        })),
        (None, None) => Ok(None),
        _ => Err(corrupt(what, "lease_owner without lease_expires or back")),
    }
}

/// The stop request of META (`stop_req`, JSON).
fn decode_stop_request(item: &Item, what: &str) -> Result<Option<StopRequest>, StoreError> {
    match get_s(item, "stop_req", what)? {
        Some(json) => parse_json(json, what).map(Some),
        None => Ok(None),
    }
}

/// Whether META, as `item`, refuses `commit` for a pending stop request (only the commit
/// that ends the execution as ABORTED goes through).
fn stop_blocks(item: &Item, commit: &Commit<'_>, what: &str) -> Result<bool, StoreError> {
    Ok(commit.snapshot.status != Status::Aborted
        && item.contains_key("stop_req")
        && get_s(item, "status", what)? == Some(Status::Running.as_str()))
}

/// An execution summary from an entry of the executions index (see
/// [`Store::list_executions`]).
fn decode_summary(item: &Item, what: &str) -> Result<ExecutionRecord, StoreError> {
    let info: ExecutionInfo = parse_json(req_s(item, "info", what)?, what)?;
    Ok(ExecutionRecord {
        info,
        input: Value::Null,
        status: parse_status(req_s(item, "status", what)?, what)?,
        output: None,
        error: None,
        stop_time: get_n(item, "stop_time", what)?,
        version: 0,
        last_event_id: 0,
        snapshot: None,
        due: None,
        lease: None,
        stop_request: decode_stop_request(item, what)?,
        inbox: Vec::new(),
    })
}

/// The executions index keys of an execution: its state machine, then start time and name.
fn execution_index_keys(info: &ExecutionInfo) -> [(String, AttributeValue); 2] {
    [
        ("gsi2pk".to_string(), s(sm_pk(&info.state_machine_arn))),
        (
            "gsi2sk".to_string(),
            s(format!("{}#{}", time_sort_key(info.start_time), info.name)),
        ),
    ]
}

/// The immutable part of an execution, and the outcome fields of a record stored before any
/// commit (afterwards the snapshot holds them).
#[derive(Serialize)]
struct RecOut<'a> {
    info: &'a ExecutionInfo,
    input: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a StatesError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_time: Option<i64>,
}

#[derive(Deserialize)]
struct RecIn {
    info: ExecutionInfo,
    input: Value,
    #[serde(default)]
    output: Option<Value>,
    #[serde(default)]
    error: Option<StatesError>,
    #[serde(default)]
    stop_time: Option<i64>,
}

/// An update expression with its condition, names and values.
#[derive(Default, Clone)]
struct Expr {
    set: Vec<String>,
    remove: Vec<String>,
    condition: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// `SET name = value`, with a placeholder for both.
    fn set(&mut self, name: &str, value: AttributeValue) {
        let (pn, pv) = self.name_value(name, value);
        self.set.push(format!("{pn} = {pv}"));
    }

    /// `SET name = if_not_exists(name, value)`.
    fn set_if_missing(&mut self, name: &str, value: AttributeValue) {
        let (pn, pv) = self.name_value(name, value);
        self.set.push(format!("{pn} = if_not_exists({pn}, {pv})"));
    }

    /// `SET map.key = value`.
    fn set_in(&mut self, map: &str, key: &str, value: AttributeValue) {
        let (pm, pk) = (self.name(map), self.name(key));
        let pv = self.value(value);
        self.set.push(format!("{pm}.{pk} = {pv}"));
    }

    /// `SET name = name + value`.
    fn add(&mut self, name: &str, value: AttributeValue) {
        let (pn, pv) = self.name_value(name, value);
        self.set.push(format!("{pn} = {pn} + {pv}"));
    }

    fn remove(&mut self, name: &str) {
        let pn = self.name(name);
        self.remove.push(pn);
    }

    /// A condition `name <op> value`.
    fn check(&mut self, name: &str, op: &str, value: AttributeValue) {
        let (pn, pv) = self.name_value(name, value);
        self.condition.push(format!("{pn} {op} {pv}"));
    }

    /// A condition written out, with `#name` and `:value` placeholders registered by the caller.
    fn check_raw(&mut self, condition: impl Into<String>) {
        self.condition.push(condition.into());
    }

    fn name(&mut self, name: &str) -> String {
        let placeholder = format!("#{name}");
        self.names.insert(placeholder.clone(), name.to_string());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn name_value(&mut self, name: &str, value: AttributeValue) -> (String, String) {
        (self.name(name), self.value(value))
    }

    fn update_expression(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    fn condition_expression(&self) -> Option<String> {
        (!self.condition.is_empty()).then(|| self.condition.join(" AND "))
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// What a failed conditional write on META found there.
enum Failed {
    /// The execution does not exist.
    Missing,
    /// The item as it was.
    Found(Item),
    /// DynamoDB did not say.
    Unknown,
}

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
                chunked: Mutex::new(HashSet::new()),
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
        let what = format!("put item {pk}/{sk}");
        self.call(&what, || {
            self.client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(item.clone()))
                .send()
        })
        .await
        .map_err(|e| backend(&what, &e))?;
        Ok(())
    }

    /// Creates the table and its indexes if missing, adds the indexes an existing table lacks
    /// (a table made by an older `init`: one index at a time, as DynamoDB requires), and waits
    /// until all are ACTIVE; idempotent (`stepfn init`).
    ///
    /// Items written before an index existed are not in it: executions created before the
    /// executions index are missing from [`Store::list_executions`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when a request fails, the table has other keys than `pk`/`sk`,
    /// or it and its indexes are not ACTIVE within five minutes.
    pub async fn init(&self) -> Result<(), StoreError> {
        let table = self.table().to_string();
        let what = format!("init table {table}");
        if self.describe().await?.is_none() {
            let keys = key_schema("pk", "sk", &what)?;
            let definitions = attribute_definitions(INDEXES.iter(), &what)?;
            let indexes = INDEXES
                .iter()
                .map(|spec| spec.index(&what))
                .collect::<Result<Vec<_>, _>>()?;
            let created = self
                .call(&what, || {
                    self.client()
                        .create_table()
                        .table_name(&table)
                        .billing_mode(BillingMode::PayPerRequest)
                        .set_attribute_definitions(Some(definitions.clone()))
                        .set_key_schema(Some(keys.clone()))
                        .set_global_secondary_indexes(Some(indexes.clone()))
                        .send()
                })
                .await;
            match created {
                Ok(_) => tracing::info!(table, "created DynamoDB table"),
                // Someone else is creating it: wait for it below.
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(CreateTableError::ResourceInUseException(_))
                    ) => {}
                Err(e) => return Err(backend(&what, &e)),
            }
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(description) = self.describe().await? {
                let keys: Vec<(&str, Option<&KeyType>)> = description
                    .key_schema()
                    .iter()
                    .map(|k| (k.attribute_name(), Some(k.key_type())))
                    .collect();
                if keys != [("pk", Some(&KeyType::Hash)), ("sk", Some(&KeyType::Range))] {
                    return Err(backend_msg(
                        &what,
                        "the table exists with other keys than pk (hash) and sk (range)",
                    ));
                }
                let present = description.global_secondary_indexes();
                let table_active = description.table_status() == Some(&TableStatus::Active);
                let indexes_active = present
                    .iter()
                    .all(|i| i.index_status() == Some(&IndexStatus::Active));
                let missing = INDEXES
                    .iter()
                    .find(|spec| !present.iter().any(|i| i.index_name() == Some(spec.name)));
                match missing {
                    None if table_active && indexes_active => return Ok(()),
                    Some(spec) if table_active && indexes_active => {
                        let having = INDEXES.iter().filter(|other| {
                            other.name == spec.name
                                || present.iter().any(|i| i.index_name() == Some(other.name))
                        });
                        self.add_index(spec, attribute_definitions(having, &what)?)
                            .await?;
                    }
                    _ => {}
                }
            }
            if Instant::now() > deadline {
                return Err(backend_msg(
                    &what,
                    "the table and its indexes are not ACTIVE after 5 minutes",
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Adds an index to the existing table (UpdateTable); another `init` adding it at the same
    /// time is no failure.
    async fn add_index(
        &self,
        spec: &IndexSpec,
        definitions: Vec<AttributeDefinition>,
    ) -> Result<(), StoreError> {
        let table = self.table();
        let what = format!("add index {} to table {table}", spec.name);
        let update = GlobalSecondaryIndexUpdate::builder()
            .create(spec.create_action(&what)?)
            .build();
        let result = self
            .call(&what, || {
                self.client()
                    .update_table()
                    .table_name(table)
                    .set_attribute_definitions(Some(definitions.clone()))
                    .global_secondary_index_updates(update.clone())
                    .send()
            })
            .await;
        match result {
            Ok(_) => {
                tracing::info!(table, index = spec.name, "added {}", spec.purpose);
                Ok(())
            }
            // Another `init` got there first (the index exists or is being created).
            Err(e)
                if matches!(
                    e.code(),
                    Some("ResourceInUseException" | "LimitExceededException")
                ) || e.message().is_some_and(|m| m.contains("already exists")) =>
            {
                Ok(())
            }
            Err(e) => Err(backend(&what, &e)),
        }
    }

    async fn describe(&self) -> Result<Option<TableDescription>, StoreError> {
        let what = format!("describe table {}", self.table());
        match self
            .call(&what, || {
                self.client()
                    .describe_table()
                    .table_name(self.table())
                    .send()
            })
            .await
        {
            Ok(out) => Ok(out.table),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DescribeTableError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(backend(&what, &e)),
        }
    }

    fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Sends a request (built afresh by `attempt` each time), retrying transient failures.
    async fn call<T, E, F, Fut>(&self, what: &str, attempt: F) -> Result<T, SdkError<E>>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
    {
        self.call_retrying(what, is_transient::<E>, attempt).await
    }

    async fn call_retrying<T, E, F, Fut>(
        &self,
        what: &str,
        transient: fn(&SdkError<E>) -> bool,
        mut attempt: F,
    ) -> Result<T, SdkError<E>>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
    {
        let start = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 1u32;
        loop {
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            match attempt().await {
                Err(e) if transient(&e) && start.elapsed() + backoff < self.retry_window => {
                    let pause = jitter(backoff);
                    tracing::warn!(
                        table = %self.table(),
                        attempt = attempts,
                        retry_in_ms = pause.as_millis() as u64,
                        error = %DisplayErrorContext(&e),
                        "dynamodb: {what} failed; retrying"
                    );
                    tokio::time::sleep(pause).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    attempts += 1;
                }
                Err(e) => {
                    if transient(&e) {
                        tracing::warn!(
                            table = %self.table(),
                            attempts,
                            error = %DisplayErrorContext(&e),
                            "dynamodb: {what} failed; giving up after {:.1} s",
                            start.elapsed().as_secs_f64()
                        );
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    /// Writes (or deletes) items in batches of 25, several batches at once, retrying the
    /// unprocessed ones.
    async fn batch_write(&self, what: &str, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut batches = requests
            .chunks(BATCH_ITEMS)
            .map(<[WriteRequest]>::to_vec)
            .collect::<Vec<_>>()
            .into_iter();
        let mut running = JoinSet::new();
        let spawn = |running: &mut JoinSet<_>, batch: Vec<WriteRequest>| {
            let store = self.clone();
            let what = what.to_string();
            running.spawn(
                async move { store.write_batch(&what, batch).await }
                    .instrument(tracing::Span::current()),
            );
        };
        for batch in batches.by_ref().take(CONCURRENCY) {
            spawn(&mut running, batch);
        }
        while let Some(done) = running.join_next().await {
            done.map_err(|e| backend_msg(what, format!("batch write task failed: {e}")))??;
            if let Some(batch) = batches.next() {
                spawn(&mut running, batch);
            }
        }
        Ok(())
    }

    async fn write_batch(
        &self,
        what: &str,
        mut batch: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        let start = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let out = self
                .call(what, || {
                    self.client()
                        .batch_write_item()
                        .request_items(self.table(), batch.clone())
                        .send()
                })
                .await
                .map_err(|e| backend(what, &e))?;
            let left = out
                .unprocessed_items
                .and_then(|mut m| m.remove(self.table()))
                .unwrap_or_default();
            if left.is_empty() {
                return Ok(());
            }
            if start.elapsed() + backoff >= self.retry_window {
                return Err(backend_msg(
                    what,
                    format!("{} items still unprocessed after retrying", left.len()),
                ));
            }
            tracing::warn!(
                table = %self.table(),
                unprocessed = left.len(),
                "dynamodb: {what}: unprocessed items; retrying"
            );
            tokio::time::sleep(jitter(backoff)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            batch = left;
        }
    }

    /// Writes chunk items.
    async fn put_chunks(&self, what: &str, chunks: Vec<Item>) -> Result<(), StoreError> {
        if chunks.is_empty() {
            return Ok(());
        }
        let requests = chunks
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|e| backend_msg(what, e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(what, requests).await
    }

    /// Deletes items by key, best-effort: a failure is logged, not returned.
    async fn delete_quietly(&self, what: &str, keys: Vec<Item>) {
        if keys.is_empty() {
            return;
        }
        let requests: Result<Vec<_>, _> = keys
            .into_iter()
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(k))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
            })
            .collect();
        let result = match requests {
            Ok(requests) => self.batch_write(what, requests).await,
            Err(e) => Err(backend_msg(what, e.to_string())),
        };
        if let Err(e) = result {
            tracing::warn!(table = %self.table(), error = %e, "dynamodb: {what} failed; garbage left");
        }
    }

    /// The keys of the chunk items among `chunks`.
    fn keys_of(chunks: &[Item]) -> Vec<Item> {
        chunks
            .iter()
            .filter_map(|c| Some(key(c.get("pk")?.as_s().ok()?, c.get("sk")?.as_s().ok()?)))
            .collect()
    }

    /// The items of partition `pk` whose sort keys lie between `from` and `to` (inclusive), all
    /// pages, strongly consistent.
    async fn query_range(
        &self,
        what: &str,
        pk: &str,
        from: &str,
        to: &str,
        keys_only: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .call(what, || {
                    let mut q = self
                        .client()
                        .query()
                        .table_name(self.table())
                        .consistent_read(true)
                        .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_names("#sk", "sk")
                        .expression_attribute_values(":pk", s(pk))
                        .expression_attribute_values(":from", s(from))
                        .expression_attribute_values(":to", s(to))
                        .set_exclusive_start_key(start.clone());
                    if keys_only {
                        q = q.projection_expression("#pk, #sk");
                    }
                    q.send()
                })
                .await
                .map_err(|e| backend(what, &e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The keys of every item of partition `pk`, all pages, strongly consistent.
    async fn query_partition(&self, what: &str, pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .call(what, || {
                    self.client()
                        .query()
                        .table_name(self.table())
                        .consistent_read(true)
                        .key_condition_expression("#pk = :pk")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_names("#sk", "sk")
                        .expression_attribute_values(":pk", s(pk))
                        .projection_expression("#pk, #sk")
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await
                .map_err(|e| backend(what, &e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The items at `keys` that exist (in no particular order), strongly consistent: 100 keys
    /// a request, the keys DynamoDB leaves unprocessed (throttling, 16 MB answers) sent again.
    async fn batch_get(&self, what: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        for batch in keys.chunks(BATCH_GET_ITEMS) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(batch.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(|e| backend_msg(what, e.to_string()))?;
            let start = Instant::now();
            let mut backoff = FIRST_BACKOFF;
            loop {
                let out = self
                    .call(what, || {
                        self.client()
                            .batch_get_item()
                            .request_items(self.table(), pending.clone())
                            .send()
                    })
                    .await
                    .map_err(|e| backend(what, &e))?;
                if let Some(found) = out.responses.and_then(|mut r| r.remove(self.table())) {
                    items.extend(found);
                }
                let left = out
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(self.table()))
                    .filter(|left| !left.keys().is_empty());
                let Some(left) = left else { break };
                if start.elapsed() + backoff >= self.retry_window {
                    return Err(backend_msg(
                        what,
                        format!(
                            "{} keys still unprocessed after retrying",
                            left.keys().len()
                        ),
                    ));
                }
                tracing::warn!(
                    table = %self.table(),
                    unprocessed = left.keys().len(),
                    "dynamodb: {what}: unprocessed keys; retrying"
                );
                tokio::time::sleep(jitter(backoff)).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                pending = left;
            }
        }
        Ok(items)
    }

    /// The document under attribute `name` of `item`, inline or assembled from its chunks.
    async fn read_doc(
        &self,
        item: &Item,
        pk: &str,
        name: &str,
        what: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some(inline) = get_s(item, name, what)? {
            return Ok(Some(inline.to_string()));
        }
        let Some(prefix) = get_s(item, &format!("{name}_ref"), what)? else {
            return Ok(None);
        };
        let count: usize = req_n(item, &format!("{name}_chunks"), what)?;
        let last = format!("{prefix}{:05}", count.saturating_sub(1));
        let chunks = self
            .query_range(
                &format!("read {name} chunks of {what}"),
                pk,
                prefix,
                &last,
                false,
            )
            .await?;
        let mut bytes = Vec::new();
        let mut found = 0;
        for chunk in &chunks {
            let sk = req_s(chunk, "sk", what)?;
            if sk != format!("{prefix}{found:05}") {
                return Err(corrupt(
                    what,
                    format!("{name} chunk {found} of {count} is missing"),
                ));
            }
            match chunk.get("data") {
                Some(AttributeValue::B(b)) => bytes.extend_from_slice(b.as_ref()),
                _ => return Err(corrupt(what, format!("{name} chunk {sk} has no data"))),
            }
            found += 1;
        }
        if found != count {
            return Err(corrupt(
                what,
                format!("{name} has {found} of its {count} chunks"),
            ));
        }
        let bytes = decompress(bytes).map_err(|e| corrupt(what, format!("{name}: {e}")))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| corrupt(what, format!("{name} chunks are not UTF-8")))
    }

    /// An execution record from its META item.
    async fn decode_meta(&self, arn: &str, item: &Item) -> Result<ExecutionRecord, StoreError> {
        let what = format!("execution {arn}");
        let what = what.as_str();
        let pk = ex_pk(arn);
        let version = req_n(item, "version", what)?;
        let last_event_id = req_n(item, "last_event_id", what)?;
        let status = parse_status(req_s(item, "status", what)?, what)?;
        let lease = decode_lease(item, what)?;
        let stop_request = decode_stop_request(item, what)?;
        let due = get_n(item, "due", what)?;
        let mut inbox = Vec::new();
        match item.get("inbox") {
            None => {}
            Some(AttributeValue::L(entries)) => {
                for entry in entries {
                    let AttributeValue::M(entry) = entry else {
                        return Err(corrupt(what, "an inbox entry is not a map"));
                    };
                    let json = self
                        .read_doc(entry, &pk, "m", what)
                        .await?
                        .ok_or_else(|| corrupt(what, "an inbox entry has no message"))?;
                    inbox.push(parse_json(&json, what)?);
                }
            }
            Some(_) => return Err(corrupt(what, "attribute inbox is not a list")),
        }
        let rec_json = self
            .read_doc(item, &pk, "rec", what)
            .await?
            .ok_or_else(|| corrupt(what, "attribute rec is missing"))?;
        let rec: RecIn = parse_json(&rec_json, what)?;
        let snapshot: Option<Snapshot> = match self.read_doc(item, &pk, "snap", what).await? {
            Some(json) => Some(parse_json(&json, what)?),
            None => None,
        };
        if item.contains_key("snap_ref") && status == Status::Running {
            self.mark_chunked(arn, true);
        }
        let (output, error, stop_time) = match &snapshot {
            Some(snap) => (snap.output.clone(), snap.error.clone(), snap.stop_time),
            None => (rec.output, rec.error, rec.stop_time),
        };
        Ok(ExecutionRecord {
            info: rec.info,
            input: rec.input,
            status,
            output,
            error,
            stop_time,
            version,
            last_event_id,
            snapshot,
            due,
            lease,
            stop_request,
            inbox,
        })
    }

    fn mark_chunked(&self, arn: &str, chunked: bool) -> bool {
        let mut set = self.inner.chunked.lock().unwrap_or_else(|e| e.into_inner());
        if chunked {
            !set.insert(arn.to_string())
        } else {
            set.remove(arn)
        }
    }

    /// SETs (or REMOVEs) the snapshot attributes of META.
    fn place_snapshot(
        &self,
        expr: &mut Expr,
        arn: &str,
        version: u64,
        snapshot: &Snapshot,
        room: usize,
        nonce: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let json = to_json(snapshot, &format!("snapshot of {arn}"))?;
        let placed = place(
            "snap",
            json,
            room,
            &ex_pk(arn),
            format!("SNAP#{version:020}#{nonce}#"),
        );
        let inline = placed.chunks.is_empty();
        for (name, value) in placed.attrs {
            expr.set(&name, value);
        }
        if inline {
            expr.remove("snap_ref");
            expr.remove("snap_chunks");
        } else {
            expr.remove("snap");
        }
        Ok(placed.chunks)
    }

    /// Reads what a failed conditional write on META found, when DynamoDB did not return it.
    async fn meta_after_failure(
        &self,
        arn: &str,
        failed: Failed,
    ) -> Result<Option<Item>, StoreError> {
        match failed {
            Failed::Missing => Ok(None),
            Failed::Found(item) => Ok(Some(item)),
            Failed::Unknown => {
                let what = format!("get execution {arn}");
                let out = self
                    .call(&what, || {
                        self.client()
                            .get_item()
                            .table_name(self.table())
                            .set_key(Some(key(&ex_pk(arn), "META")))
                            .consistent_read(true)
                            .send()
                    })
                    .await
                    .map_err(|e| backend(&what, &e))?;
                Ok(out.item)
            }
        }
    }

    /// Turns a failed commit condition into the error (or, when this very commit had already
    /// succeeded on an attempt whose answer was lost, into the new version).
    async fn commit_failed(
        &self,
        commit: &Commit<'_>,
        cid: &str,
        failed: Failed,
    ) -> Result<u64, StoreError> {
        let Some(old) = self.meta_after_failure(commit.arn, failed).await? else {
            return Err(StoreError::NotFound(commit.arn.to_string()));
        };
        let what = format!("execution {}", commit.arn);
        if get_s(&old, "cid", &what)? == Some(cid) {
            return Ok(commit.expected_version + 1);
        }
        let version: u64 = req_n(&old, "version", &what)?;
        let owner = get_s(&old, "lease_owner", &what)?;
        let committed: u64 = req_n(&old, "last_event_id", &what)?;
        if version == commit.expected_version && owner == Some(commit.owner) {
            if let Some(first) = commit.events.first() {
                if first.id != committed.saturating_add(1) {
                    return Err(corrupt(
                        commit.arn,
                        format!("events must follow event {committed}, got {}", first.id),
                    ));
                }
            }
        }
        Err(StoreError::Conflict {
            arn: commit.arn.to_string(),
            expected: commit.expected_version,
        })
    }

    /// One conditional UpdateItem on META; `Ok(Err(failed))` when the condition failed.
    async fn update_meta(
        &self,
        what: &str,
        arn: &str,
        expr: &Expr,
        return_values: Option<ReturnValue>,
    ) -> Result<Result<Option<Item>, Failed>, StoreError> {
        let result = self
            .call(what, || {
                self.client()
                    .update_item()
                    .table_name(self.table())
                    .set_key(Some(key(&ex_pk(arn), "META")))
                    .set_update_expression(expr.update_expression())
                    .set_condition_expression(expr.condition_expression())
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .set_return_values(return_values.clone())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
            })
            .await;
        match result {
            Ok(out) => Ok(Ok(out.attributes)),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(Err(match c.item() {
                        Some(item) if !item.is_empty() => Failed::Found(item.clone()),
                        _ => Failed::Missing,
                    }))
                }
                _ => Err(backend(what, &e)),
            },
        }
    }

    /// Puts items in one transaction with `first` (a META update or check); `Ok(Err(failed))`
    /// when `first`'s condition failed.
    async fn transact(
        &self,
        what: &str,
        first: TransactWriteItem,
        puts: Vec<Item>,
        token: &str,
    ) -> Result<Result<(), Failed>, StoreError> {
        let mut items = vec![first];
        for item in puts {
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .build()
                .map_err(|e| backend_msg(what, e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let result = self
            .call_retrying(what, is_transient_transaction, || {
                self.client()
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(token)
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    let reasons = c.cancellation_reasons();
                    match reasons.first() {
                        Some(r) if r.code() == Some("ConditionalCheckFailed") => {
                            Ok(Err(match r.item() {
                                Some(item) if !item.is_empty() => Failed::Found(item.clone()),
                                // Without the old item we cannot tell a missing execution.
                                _ => Failed::Unknown,
                            }))
                        }
                        _ => Err(backend(what, &e)),
                    }
                }
                _ => Err(backend(what, &e)),
            },
        }
    }

    /// Commits small events into META's tail: one conditional UpdateItem. When the tail is full,
    /// its events (committed, so any writer copies the same content) are first written to
    /// their own items, and the tail starts again with this commit's events.
    async fn commit_in_tail(
        &self,
        commit: &Commit<'_>,
        cid: &str,
        base: Expr,
        tail: Vec<(u64, String)>,
        size: usize,
    ) -> Result<u64, StoreError> {
        let arn = commit.arn;
        let version = commit.expected_version + 1;
        let what = format!("commit version {version} of {arn}");
        let limit = TAIL_MAX - size;
        let mut append = base.clone();
        for (id, json) in &tail {
            append.set_in("tail", &format!("e{id}"), s(json));
        }
        append.add("tail_bytes", n(size));
        append.check("tail_bytes", "<=", n(limit));
        let old = match self.update_meta(&what, arn, &append, None).await? {
            Ok(_) => return Ok(version),
            Err(Failed::Found(old)) => old,
            Err(failed) => return self.commit_failed(commit, cid, failed).await,
        };
        let meta = format!("execution {arn}");
        let current = get_n::<u64>(&old, "version", &meta)? == Some(commit.expected_version)
            && get_s(&old, "lease_owner", &meta)? == Some(commit.owner)
            && commit.events.first().map(|e| e.id.saturating_sub(1))
                == get_n::<u64>(&old, "last_event_id", &meta)?
            && get_s(&old, "cid", &meta)? != Some(cid)
            && !stop_blocks(&old, commit, &meta)?;
        let full = get_n::<usize>(&old, "tail_bytes", &meta)?.is_none_or(|b| b > limit);
        if !(current && full) {
            return self.commit_failed(commit, cid, Failed::Found(old)).await;
        }
        let flushed = tail_events(&old, &meta)?
            .into_iter()
            .map(|(id, json)| {
                let mut item = key(&ex_pk(arn), &ev_sk(id));
                item.insert("ev".into(), s(json));
                item
            })
            .collect();
        self.put_chunks(&format!("{what}: copy the tail"), flushed)
            .await?;
        let mut replace = base;
        replace.set(
            "tail",
            AttributeValue::M(
                tail.into_iter()
                    .map(|(id, json)| (format!("e{id}"), s(json)))
                    .collect(),
            ),
        );
        replace.set("tail_bytes", n(size));
        match self.update_meta(&what, arn, &replace, None).await? {
            Ok(_) => Ok(version),
            Err(failed) => self.commit_failed(commit, cid, failed).await,
        }
    }

    /// Commits whose events fit in no single transaction: claim, fenced event writes, update.
    async fn commit_claimed(
        &self,
        commit: &Commit<'_>,
        cid: &str,
        mut expr: Expr,
        events: Vec<Item>,
    ) -> Result<u64, StoreError> {
        let arn = commit.arn;
        let what = format!("commit version {} of {arn}", commit.expected_version + 1);
        let mut claim = Expr::default();
        commit_condition(&mut claim, commit);
        claim.set("claim", s(cid));
        if let Err(failed) = self.update_meta(&what, arn, &claim, None).await? {
            return self.commit_failed(commit, cid, failed).await;
        }

        let check = ConditionCheck::builder()
            .table_name(self.table())
            .set_key(Some(key(&ex_pk(arn), "META")))
            .condition_expression("#version = :version AND #claim = :claim")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_values(":version", n(commit.expected_version))
            .expression_attribute_values(":claim", s(cid))
            .build()
            .map_err(|e| backend_msg(&what, e.to_string()))?;
        let mut groups: Vec<Vec<Item>> = Vec::new();
        let mut bytes = 0;
        for item in events {
            let size = item_size(&item);
            match groups.last_mut() {
                Some(g) if g.len() < TXN_MAX_PUTS && bytes + size <= TXN_MAX_BYTES => {
                    bytes += size;
                    g.push(item);
                }
                _ => {
                    bytes = size;
                    groups.push(vec![item]);
                }
            }
        }
        let mut groups = groups.into_iter().enumerate();
        let mut running = JoinSet::new();
        let spawn = |running: &mut JoinSet<_>, (i, group): (usize, Vec<Item>)| {
            let store = self.clone();
            let what = format!("{what}: events, part {}", i + 1);
            let first = TransactWriteItem::builder()
                .condition_check(check.clone())
                .build();
            let token = format!("{}{i:04}", &cid[..cid.len().min(28)]);
            running.spawn(
                async move { store.transact(&what, first, group, &token).await }
                    .instrument(tracing::Span::current()),
            );
        };
        for group in groups.by_ref().take(CONCURRENCY) {
            spawn(&mut running, group);
        }
        while let Some(done) = running.join_next().await {
            let done =
                done.map_err(|e| backend_msg(&what, format!("event write task failed: {e}")))??;
            if done.is_err() {
                running.abort_all();
                return Err(StoreError::Conflict {
                    arn: arn.to_string(),
                    expected: commit.expected_version,
                });
            }
            if let Some(group) = groups.next() {
                spawn(&mut running, group);
            }
        }

        expr.remove("claim");
        expr.check("claim", "=", s(cid));
        match self.update_meta(&what, arn, &expr, None).await? {
            Ok(_) => Ok(commit.expected_version + 1),
            Err(failed) => self.commit_failed(commit, cid, failed).await,
        }
    }

    /// Deletes the snapshot chunks of versions before `version`.
    async fn delete_old_snapshots(&self, arn: &str, version: u64) {
        let what = format!("delete old snapshot chunks of {arn}");
        let to = format!("SNAP#{:020}#~", version.saturating_sub(1));
        match self
            .query_range(&what, &ex_pk(arn), "SNAP#", &to, true)
            .await
        {
            Ok(keys) => self.delete_quietly(&what, keys).await,
            Err(e) => tracing::warn!(table = %self.table(), error = %e, "dynamodb: {what} failed"),
        }
    }
}

fn jitter(pause: Duration) -> Duration {
    pause.mul_f64(rand::random_range(0.5..1.0))
}

/// A global secondary index of the table.
struct IndexSpec {
    /// Its name.
    name: &'static str,
    /// What it is for, in the log.
    purpose: &'static str,
    /// The partition key attribute.
    hash: &'static str,
    /// The sort key attribute.
    range: &'static str,
    /// The attributes it copies besides the keys.
    projected: &'static [&'static str],
}

/// The indexes `init` makes. Only attributes that rarely change are projected into the
/// executions index, so a commit (which changes `version`, the lease, the due time) does not
/// write to it until the execution ends.
const INDEXES: [IndexSpec; 2] = [
    IndexSpec {
        name: DUE_INDEX,
        purpose: "the due index",
        hash: "gsi1pk",
        range: "gsi1sk",
        projected: &["due", "lease_expires"],
    },
    IndexSpec {
        name: EXECUTIONS_INDEX,
        purpose: "the executions index",
        hash: "gsi2pk",
        range: "gsi2sk",
        projected: &["info", "status", "stop_time", "stop_req"],
    },
];

impl IndexSpec {
    fn projection(&self) -> Projection {
        Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(self.projected.iter().map(|a| a.to_string()).collect()))
            .build()
    }

    fn index(&self, what: &str) -> Result<GlobalSecondaryIndex, StoreError> {
        GlobalSecondaryIndex::builder()
            .index_name(self.name)
            .set_key_schema(Some(key_schema(self.hash, self.range, what)?))
            .projection(self.projection())
            .build()
            .map_err(|e| backend_msg(what, e.to_string()))
    }

    fn create_action(&self, what: &str) -> Result<CreateGlobalSecondaryIndexAction, StoreError> {
        CreateGlobalSecondaryIndexAction::builder()
            .index_name(self.name)
            .set_key_schema(Some(key_schema(self.hash, self.range, what)?))
            .projection(self.projection())
            .build()
            .map_err(|e| backend_msg(what, e.to_string()))
    }
}

/// The definitions of the table keys and of the keys of `indexes` (DynamoDB refuses
/// definitions no key uses).
fn attribute_definitions<'a>(
    indexes: impl Iterator<Item = &'a IndexSpec>,
    what: &str,
) -> Result<Vec<AttributeDefinition>, StoreError> {
    let mut names = vec!["pk", "sk"];
    for spec in indexes {
        names.extend([spec.hash, spec.range]);
    }
    names
        .into_iter()
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| backend_msg(what, e.to_string()))
        })
        .collect()
}

fn key_schema(hash: &str, range: &str, what: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    let element = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| backend_msg(what, e.to_string()))
    };
    Ok(vec![
        element(hash, KeyType::Hash)?,
        element(range, KeyType::Range)?,
    ])
}

/// The condition of every write of a commit on META: the version read, the lease, the events
/// following the committed ones, and no pending stop request unless the commit applies it.
fn commit_condition(expr: &mut Expr, commit: &Commit<'_>) {
    expr.check("version", "=", n(commit.expected_version));
    expr.check("lease_owner", "=", s(commit.owner));
    if let Some(first) = commit.events.first() {
        expr.check("last_event_id", "=", n(first.id.saturating_sub(1)));
    }
    // A pending stop request lets only the commit that applies it through.
    if commit.snapshot.status != Status::Aborted {
        let (stop, status) = (expr.name("stop_req"), expr.name("status"));
        let running = expr.value(s(Status::Running.as_str()));
        expr.check_raw(format!(
            "(attribute_not_exists({stop}) OR {status} <> {running})"
        ));
    }
}

/// SETs the due attributes and index keys of META, or REMOVEs them when not due.
fn place_due(expr: &mut Expr, arn: &str, status: Status, due: Option<i64>) {
    match due.filter(|_| status == Status::Running) {
        Some(due) => {
            expr.set("due", n(due));
            expr.set("gsi1pk", s(format!("DUE#{}", due_shard(arn))));
            expr.set("gsi1sk", s(time_sort_key(due)));
        }
        None => {
            expr.remove("due");
            expr.remove("gsi1pk");
            expr.remove("gsi1sk");
        }
    }
}

/// The items of a commit's events (as JSON, in order): consecutive events packed into blocks
/// of up to 350,000 bytes (`EV#<first id>` with `evs`, a JSON array, and `last`, its last id),
/// an event too large for a block alone in its item with its chunks (returned to be written
/// first).
fn event_items(arn: &str, events: Vec<(u64, String)>, nonce: &str) -> (Vec<Item>, Vec<Item>) {
    let pk = ex_pk(arn);
    let mut items = Vec::new();
    let mut chunks = Vec::new();
    let mut block: Vec<(u64, String)> = Vec::new();
    let mut block_size = 0;
    let flush = |block: &mut Vec<(u64, String)>, items: &mut Vec<Item>| {
        let (Some((first, _)), Some((last, _))) = (block.first(), block.last()) else {
            return;
        };
        let mut item = key(&pk, &ev_sk(*first));
        item.insert("last".into(), n(*last));
        let jsons: Vec<String> = block.drain(..).map(|(_, json)| json).collect();
        let block = format!("[{}]", jsons.join(","));
        item.insert(
            "evz".into(),
            AttributeValue::B(Blob::new(compress(block.as_bytes()))),
        );
        items.push(item);
    };
    for (id, json) in events {
        if json.len() + 2 > INLINE_MAX {
            flush(&mut block, &mut items);
            block_size = 0;
            let placed = place(
                "ev",
                json,
                INLINE_MAX,
                &pk,
                format!("EVC#{id:020}#{nonce}#"),
            );
            let mut item = key(&pk, &ev_sk(id));
            item.extend(placed.attrs);
            items.push(item);
            chunks.extend(placed.chunks);
            continue;
        }
        if block_size + json.len() + 2 > INLINE_MAX {
            flush(&mut block, &mut items);
            block_size = 0;
        }
        block_size += json.len() + 1;
        block.push((id, json));
    }
    flush(&mut block, &mut items);
    (items, chunks)
}

/// The events in META's tail, by id.
fn tail_events(meta: &Item, what: &str) -> Result<HashMap<u64, String>, StoreError> {
    let tail = match meta.get("tail") {
        None => return Ok(HashMap::new()),
        Some(AttributeValue::M(tail)) => tail,
        Some(_) => return Err(corrupt(what, "attribute tail is not a map")),
    };
    tail.iter()
        .map(|(k, v)| {
            let id = k
                .strip_prefix('e')
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| corrupt(what, format!("tail entry {k} names no event")))?;
            match v {
                AttributeValue::S(json) => Ok((id, json.clone())),
                _ => Err(corrupt(what, format!("tail entry {k} is not a string"))),
            }
        })
        .collect()
}

impl Store for DynamoStore {
    async fn put_machine(&self, machine: &MachineRecord) -> Result<(), StoreError> {
        let pk = sm_pk(&machine.arn);
        let what = format!("put state machine {}", machine.arn);
        let json = to_json(machine, &what)?;
        let prefix = format!("DEFC#{}#", nonce());
        let placed = place("def", json, INLINE_MAX, &pk, prefix.clone());
        self.put_chunks(&what, placed.chunks).await?;
        let mut item = key(&pk, "DEF");
        item.extend(placed.attrs);
        let out = self
            .call(&what, || {
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item.clone()))
                    .return_values(ReturnValue::AllOld)
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?;
        // The chunks of a replaced definition (not ours: a retried put finds its own item).
        if let Some(old) = out.attributes {
            if let (Some(old_prefix), Some(count)) = (
                get_s(&old, "def_ref", &what).ok().flatten(),
                get_n::<usize>(&old, "def_chunks", &what).ok().flatten(),
            ) {
                let keys = (0..count.min(100_000))
                    .filter(|_| old_prefix != prefix)
                    .map(|i| key(&pk, &format!("{old_prefix}{i:05}")))
                    .collect();
                self.delete_quietly(&format!("delete old chunks of {what}"), keys)
                    .await;
            }
        }
        // Listed after it is stored: a failure in between leaves a machine that is stored but
        // not listed, until the put is retried.
        let mut entry = key(MACHINES_PK, &machine.arn);
        entry.insert("name".into(), s(&machine.name));
        entry.insert("created".into(), n(machine.created));
        self.call(&what, || {
            self.client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(entry.clone()))
                .send()
        })
        .await
        .map_err(|e| backend(&what, &e))?;
        Ok(())
    }

    async fn get_machine(&self, arn: &str) -> Result<Option<MachineRecord>, StoreError> {
        let pk = sm_pk(arn);
        let what = format!("get state machine {arn}");
        let out = self
            .call(&what, || {
                self.client()
                    .get_item()
                    .table_name(self.table())
                    .set_key(Some(key(&pk, "DEF")))
                    .consistent_read(true)
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let what = format!("state machine {arn}");
        let json = self
            .read_doc(&item, &pk, "def", &what)
            .await?
            .ok_or_else(|| corrupt(&what, "attribute def is missing"))?;
        parse_json(&json, &what).map(Some)
    }

    async fn list_machines(&self) -> Result<Vec<MachineRecord>, StoreError> {
        let what = "list state machines";
        let keys = self
            .query_partition(what, MACHINES_PK)
            .await?
            .iter()
            .map(|entry| Ok(key(&sm_pk(req_s(entry, "sk", what)?), "DEF")))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut machines = Vec::with_capacity(keys.len());
        // An entry whose DEF is gone (a delete that failed half-way) is skipped.
        for item in self.batch_get(what, keys).await? {
            let pk = req_s(&item, "pk", what)?;
            let item_what = format!("state machine {}", pk.trim_start_matches("SM#"));
            let json = self
                .read_doc(&item, pk, "def", &item_what)
                .await?
                .ok_or_else(|| corrupt(&item_what, "attribute def is missing"))?;
            machines.push(parse_json::<MachineRecord>(&json, &item_what)?);
        }
        machines.sort_by(|a, b| (a.created, &a.name, &a.arn).cmp(&(b.created, &b.name, &b.arn)));
        Ok(machines)
    }

    async fn delete_machine(&self, arn: &str) -> Result<bool, StoreError> {
        let pk = sm_pk(arn);
        let what = format!("delete state machine {arn}");
        // The definition first, then the registry entry: a failure in between leaves an entry
        // that `list_machines` skips, and a retry removes it.
        let old = self
            .call(&what, || {
                self.client()
                    .delete_item()
                    .table_name(self.table())
                    .set_key(Some(key(&pk, "DEF")))
                    .return_values(ReturnValue::AllOld)
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?
            .attributes
            .filter(|item| !item.is_empty());
        self.call(&what, || {
            self.client()
                .delete_item()
                .table_name(self.table())
                .set_key(Some(key(MACHINES_PK, arn)))
                .send()
        })
        .await
        .map_err(|e| backend(&what, &e))?;
        let Some(old) = old else {
            return Ok(false);
        };
        if let (Some(prefix), Some(count)) = (
            get_s(&old, "def_ref", &what).ok().flatten(),
            get_n::<usize>(&old, "def_chunks", &what).ok().flatten(),
        ) {
            let keys = (0..count.min(100_000))
                .map(|i| key(&pk, &format!("{prefix}{i:05}")))
                .collect();
            self.delete_quietly(&format!("delete chunks of {what}"), keys)
                .await;
        }
        Ok(true)
    }

    async fn put_activity(&self, activity: &ActivityRecord) -> Result<(), StoreError> {
        let what = format!("put activity {}", activity.arn);
        let mut item = key(&act_pk(&activity.arn), "DEF");
        item.insert("act".into(), s(to_json(activity, &what)?));
        self.call(&what, || {
            self.client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(item.clone()))
                .send()
        })
        .await
        .map_err(|e| backend(&what, &e))?;
        // Listed after it is stored, as state machines are.
        let mut entry = key(ACTIVITIES_PK, &activity.arn);
        entry.insert("name".into(), s(&activity.name));
        entry.insert("created".into(), n(activity.created));
        self.call(&what, || {
            self.client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(entry.clone()))
                .send()
        })
        .await
        .map_err(|e| backend(&what, &e))?;
        Ok(())
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>, StoreError> {
        let what = format!("get activity {arn}");
        let out = self
            .call(&what, || {
                self.client()
                    .get_item()
                    .table_name(self.table())
                    .set_key(Some(key(&act_pk(arn), "DEF")))
                    .consistent_read(true)
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let what = format!("activity {arn}");
        parse_json(req_s(&item, "act", &what)?, &what).map(Some)
    }

    async fn list_activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        let what = "list activities";
        let keys = self
            .query_partition(what, ACTIVITIES_PK)
            .await?
            .iter()
            .map(|entry| Ok(key(&act_pk(req_s(entry, "sk", what)?), "DEF")))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // An entry whose DEF is gone (a delete that failed half-way) is skipped.
        let mut found = self
            .batch_get(what, keys)
            .await?
            .iter()
            .map(|item| {
                let pk = req_s(item, "pk", what)?;
                let item_what = format!("activity {}", pk.trim_start_matches("ACT#"));
                parse_json::<ActivityRecord>(req_s(item, "act", &item_what)?, &item_what)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        found.sort_by(|a, b| (a.created, &a.name, &a.arn).cmp(&(b.created, &b.name, &b.arn)));
        Ok(found)
    }

    async fn delete_activity(&self, arn: &str) -> Result<bool, StoreError> {
        let what = format!("delete activity {arn}");
        let old = self
            .call(&what, || {
                self.client()
                    .delete_item()
                    .table_name(self.table())
                    .set_key(Some(key(&act_pk(arn), "DEF")))
                    .return_values(ReturnValue::AllOld)
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?
            .attributes
            .filter(|item| !item.is_empty());
        self.call(&what, || {
            self.client()
                .delete_item()
                .table_name(self.table())
                .set_key(Some(key(ACTIVITIES_PK, arn)))
                .send()
        })
        .await
        .map_err(|e| backend(&what, &e))?;
        Ok(old.is_some())
    }

    async fn enqueue_activity_task(
        &self,
        activity_arn: &str,
        task: &ActivityTask,
    ) -> Result<(), StoreError> {
        check_activity_task_size(activity_arn, task)?;
        let what = format!("enqueue activity task {} of {activity_arn}", task.token);
        let pk = actq_pk(activity_arn);
        let marker = Put::builder()
            .table_name(self.table())
            .set_item(Some(key(&pk, &actq_token_sk(&task.token))))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .build()
            .map_err(|e| backend_msg(&what, e.to_string()))?;
        let mut item = key(&pk, &actq_task_sk(task));
        item.insert("task".into(), s(to_json(task, &what)?));
        let queued = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .build()
            .map_err(|e| backend_msg(&what, e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().put(marker).build(),
            TransactWriteItem::builder().put(queued).build(),
        ];
        let token = nonce();
        let result = self
            .call_retrying(&what, is_transient_transaction, || {
                self.client()
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(&token)
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                // The marker exists: a task with this token is queued already.
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons().first().and_then(|r| r.code())
                        == Some("ConditionalCheckFailed") =>
                {
                    Ok(())
                }
                _ => Err(backend(&what, &e)),
            },
        }
    }

    async fn take_activity_task(
        &self,
        activity_arn: &str,
    ) -> Result<Option<ActivityTask>, StoreError> {
        let what = format!("take activity task of {activity_arn}");
        let pk = actq_pk(activity_arn);
        loop {
            let out = self
                .call(&what, || {
                    self.client()
                        .query()
                        .table_name(self.table())
                        .consistent_read(true)
                        .key_condition_expression("#pk = :pk AND begins_with(#sk, :q)")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_names("#sk", "sk")
                        .expression_attribute_values(":pk", s(&pk))
                        .expression_attribute_values(":q", s("Q#"))
                        .limit(1)
                        .send()
                })
                .await
                .map_err(|e| backend(&what, &e))?;
            let Some(item) = out.items.unwrap_or_default().into_iter().next() else {
                return Ok(None);
            };
            let sk = req_s(&item, "sk", &what)?.to_string();
            let item_what = format!("activity task {sk} of {activity_arn}");
            let task: ActivityTask = parse_json(req_s(&item, "task", &item_what)?, &item_what)?;
            let queued = Delete::builder()
                .table_name(self.table())
                .set_key(Some(key(&pk, &sk)))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", "pk")
                .build()
                .map_err(|e| backend_msg(&what, e.to_string()))?;
            let marker = Delete::builder()
                .table_name(self.table())
                .set_key(Some(key(&pk, &actq_token_sk(&task.token))))
                .build()
                .map_err(|e| backend_msg(&what, e.to_string()))?;
            let items = vec![
                TransactWriteItem::builder().delete(queued).build(),
                TransactWriteItem::builder().delete(marker).build(),
            ];
            // One token for the retries of this attempt: a retry of a deletion that succeeded
            // unseen succeeds again instead of looking like a lost race.
            let token = nonce();
            let result = self
                .call_retrying(&what, is_transient_transaction, || {
                    self.client()
                        .transact_write_items()
                        .set_transact_items(Some(items.clone()))
                        .client_request_token(&token)
                        .send()
                })
                .await;
            match result {
                Ok(_) => return Ok(Some(task)),
                Err(e) => match e.as_service_error() {
                    // Another taker deleted it first: look again.
                    Some(TransactWriteItemsError::TransactionCanceledException(c))
                        if c.cancellation_reasons().first().and_then(|r| r.code())
                            == Some("ConditionalCheckFailed") => {}
                    _ => return Err(backend(&what, &e)),
                },
            }
        }
    }

    async fn list_executions(&self, machine_arn: &str) -> Result<Vec<ExecutionRecord>, StoreError> {
        let what = format!("list executions of {machine_arn}");
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .call(&what, || {
                    self.client()
                        .query()
                        .table_name(self.table())
                        .index_name(EXECUTIONS_INDEX)
                        .key_condition_expression("#gpk = :machine")
                        .expression_attribute_names("#gpk", "gsi2pk")
                        .expression_attribute_values(":machine", s(sm_pk(machine_arn)))
                        .scan_index_forward(false)
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await
                .map_err(|e| backend(&what, &e))?;
            for item in out.items.unwrap_or_default() {
                let pk = req_s(&item, "pk", &what)?;
                found.push(decode_summary(
                    &item,
                    &format!("execution {}", pk.trim_start_matches("EX#")),
                )?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(found),
            }
        }
    }

    async fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError> {
        let what = format!("request stop of {arn}");
        let mut expr = Expr::default();
        expr.set_if_missing("stop_req", s(to_json(request, &what)?));
        place_due(&mut expr, arn, Status::Running, Some(request.time));
        expr.check("status", "=", s(Status::Running.as_str()));
        match self.update_meta(&what, arn, &expr, None).await? {
            Ok(_) => Ok(true),
            Err(Failed::Missing) => Err(StoreError::NotFound(arn.to_string())),
            Err(_) => Ok(false),
        }
    }

    async fn deliver(&self, arn: &str, message: &InboxMessage) -> Result<bool, StoreError> {
        let what = format!("deliver a message to {arn}");
        if inbox_message_too_large(message) {
            return Ok(false);
        }
        let json = to_json(message, &what)?;
        let prefix = format!("INBOX#{}#", nonce());
        let placed = place("m", json, INBOX_INLINE_MAX, &ex_pk(arn), prefix);
        let chunk_keys = Self::keys_of(&placed.chunks);
        self.put_chunks(&what, placed.chunks).await?;
        let entry = AttributeValue::M(placed.attrs.into_iter().collect());
        let mut expr = Expr::default();
        let (inbox, appended) = expr.name_value("inbox", AttributeValue::L(vec![entry]));
        let empty = expr.value(AttributeValue::L(Vec::new()));
        expr.set.push(format!(
            "{inbox} = list_append(if_not_exists({inbox}, {empty}), {appended})"
        ));
        place_due(&mut expr, arn, Status::Running, Some(message.time));
        expr.check("status", "=", s(Status::Running.as_str()));
        let max = expr.value(n(INBOX_MAX_MESSAGES));
        expr.check_raw(format!(
            "(attribute_not_exists({inbox}) OR size({inbox}) < {max})"
        ));
        let result = match self.update_meta(&what, arn, &expr, None).await? {
            Ok(_) => return Ok(true),
            Err(Failed::Missing) => Err(StoreError::NotFound(arn.to_string())),
            Err(_) => Ok(false),
        };
        self.delete_quietly(&format!("delete unused chunks of {what}"), chunk_keys)
            .await;
        result
    }

    async fn create_execution(&self, record: &ExecutionRecord) -> Result<Created, StoreError> {
        let arn = record.info.arn.as_str();
        let pk = ex_pk(arn);
        let what = format!("create execution {arn}");
        let cid = nonce();
        let rec = to_json(
            &RecOut {
                info: &record.info,
                input: &record.input,
                output: record.output.as_ref(),
                error: record.error.as_ref(),
                stop_time: record.stop_time,
            },
            &what,
        )?;
        let rec = place("rec", rec, REC_INLINE_MAX, &pk, format!("REC#{cid}#"));
        let mut item = key(&pk, "META");
        item.extend(rec.attrs);
        item.insert("version".into(), n(record.version));
        item.insert("last_event_id".into(), n(record.last_event_id));
        item.insert("status".into(), s(record.status.as_str()));
        item.insert("cid".into(), s(&cid));
        item.insert("tail".into(), AttributeValue::M(HashMap::new()));
        item.insert("tail_bytes".into(), n(0));
        item.insert("info".into(), s(to_json(&record.info, &what)?));
        item.extend(execution_index_keys(&record.info));
        if let Some(time) = record.stop_time {
            item.insert("stop_time".into(), n(time));
        }
        if let Some(request) = &record.stop_request {
            item.insert("stop_req".into(), s(to_json(request, &what)?));
        }
        if let Some(lease) = &record.lease {
            item.insert("lease_owner".into(), s(&lease.owner));
            item.insert("lease_expires".into(), n(lease.expires));
        }
        if let Some(due) = record.due.filter(|_| record.status == Status::Running) {
            item.insert("due".into(), n(due));
            item.insert("gsi1pk".into(), s(format!("DUE#{}", due_shard(arn))));
            item.insert("gsi1sk".into(), s(time_sort_key(due)));
        }
        let mut chunks = rec.chunks;
        if let Some(snapshot) = &record.snapshot {
            let room = META_MAX.saturating_sub(item_size(&item));
            let json = to_json(snapshot, &what)?;
            let placed = place(
                "snap",
                json,
                room,
                &pk,
                format!("SNAP#{:020}#{cid}#", record.version),
            );
            item.extend(placed.attrs);
            chunks.extend(placed.chunks);
        }
        let chunk_keys = Self::keys_of(&chunks);
        self.put_chunks(&what, chunks).await?;
        let result = self
            .call(&what, || {
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", "pk")
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
            })
            .await;
        let old = match result {
            Ok(_) => return Ok(Created::New),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => {
                    c.item().filter(|i| !i.is_empty()).cloned()
                }
                _ => return Err(backend(&what, &e)),
            },
        };
        let old = match old {
            Some(old) => old,
            None => match self.meta_after_failure(arn, Failed::Unknown).await? {
                Some(old) => old,
                // Deleted in between: nothing in this store deletes executions.
                None => return Err(backend_msg(&what, "the execution vanished")),
            },
        };
        // An earlier attempt of this very call succeeded unseen.
        if get_s(&old, "cid", &what)? == Some(cid.as_str()) {
            return Ok(Created::New);
        }
        self.delete_quietly(&format!("delete unused chunks of {what}"), chunk_keys)
            .await;
        Ok(Created::Existing(Box::new(
            self.decode_meta(arn, &old).await?,
        )))
    }

    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let what = format!("get execution {arn}");
        let out = self
            .call(&what, || {
                self.client()
                    .get_item()
                    .table_name(self.table())
                    .set_key(Some(key(&ex_pk(arn), "META")))
                    .consistent_read(true)
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?;
        match out.item {
            Some(item) => Ok(Some(self.decode_meta(arn, &item).await?)),
            None => Ok(None),
        }
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<u64, StoreError> {
        let arn = commit.arn;
        let version = commit.expected_version + 1;
        let what = format!("commit version {version} of {arn}");
        let cid = nonce();
        let snap = commit.snapshot;

        let mut expr = Expr::default();
        commit_condition(&mut expr, &commit);
        expr.set("version", n(version));
        expr.set("last_event_id", n(snap.last_event_id));
        expr.set("status", s(snap.status.as_str()));
        expr.set("cid", s(&cid));
        match snap.stop_time {
            Some(time) => expr.set("stop_time", n(time)),
            None => expr.remove("stop_time"),
        }
        place_due(&mut expr, arn, snap.status, commit.due);
        // The consumed messages are the first ones: the version condition guarantees the
        // inbox starts with what the writer read (delivery only appends), and the indexes of
        // one REMOVE refer to the list before the update.
        if commit.consumed_inbox > 0 {
            let inbox = expr.name("inbox");
            for i in 0..commit.consumed_inbox {
                expr.remove.push(format!("{inbox}[{i}]"));
            }
        }

        let mut tail = Vec::new();
        for event in commit.events {
            tail.push((event.id, to_json(event, &what)?));
        }
        let tail_size: usize = tail.iter().map(|(_, json)| json.len()).sum();
        let (events, mut chunks) = if tail.len() > TAIL_EVENTS_MAX || tail_size > TAIL_MAX {
            event_items(arn, std::mem::take(&mut tail), &cid)
        } else {
            (Vec::new(), Vec::new())
        };
        let events_size: usize = events.iter().map(item_size).sum();
        // META keeps `rec` (at most REC_INLINE_MAX inline) besides the snapshot.
        // and the inbox (at most INBOX_RESERVE).
        let room = META_MAX - REC_INLINE_MAX - TAIL_MAX - INBOX_RESERVE - 2_000;
        chunks.extend(self.place_snapshot(&mut expr, arn, version, snap, room, &cid)?);
        let snapshot_chunked = chunks.iter().any(|c| {
            c.get("sk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.starts_with("SNAP#"))
        });
        let chunk_keys = Self::keys_of(&chunks);
        self.put_chunks(&what, chunks).await?;

        let result = if !tail.is_empty() {
            expr.remove("claim");
            self.commit_in_tail(&commit, &cid, expr, tail, tail_size)
                .await
        } else if events.is_empty() {
            expr.remove("claim");
            match self.update_meta(&what, arn, &expr, None).await? {
                Ok(_) => Ok(version),
                Err(failed) => self.commit_failed(&commit, &cid, failed).await,
            }
        } else if events.len() <= TXN_MAX_PUTS && events_size + META_MAX <= TXN_MAX_BYTES {
            expr.remove("claim");
            let update = Update::builder()
                .table_name(self.table())
                .set_key(Some(key(&ex_pk(arn), "META")))
                .set_update_expression(expr.update_expression())
                .set_condition_expression(expr.condition_expression())
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(|e| backend_msg(&what, e.to_string()))?;
            let first = TransactWriteItem::builder().update(update).build();
            match self.transact(&what, first, events, &cid).await? {
                Ok(()) => Ok(version),
                Err(failed) => self.commit_failed(&commit, &cid, failed).await,
            }
        } else {
            self.commit_claimed(&commit, &cid, expr, events).await
        };

        match &result {
            Ok(_) => {
                // Only a snapshot in chunks leaves chunks behind when replaced (failed attempts
                // delete their own), and only a running execution is committed again.
                let had_chunks =
                    self.mark_chunked(arn, snapshot_chunked && snap.status == Status::Running);
                if had_chunks {
                    self.delete_old_snapshots(arn, version).await;
                }
            }
            Err(_) => {
                self.delete_quietly(&format!("delete unused chunks of {what}"), chunk_keys)
                    .await;
            }
        }
        result
    }

    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let pk = ex_pk(arn);
        let what = format!("history of {arn}");
        let out = self
            .call(&what, || {
                self.client()
                    .get_item()
                    .table_name(self.table())
                    .set_key(Some(key(&pk, "META")))
                    .consistent_read(true)
                    .projection_expression("#last, #tail")
                    .expression_attribute_names("#last", "last_event_id")
                    .expression_attribute_names("#tail", "tail")
                    .send()
            })
            .await
            .map_err(|e| backend(&what, &e))?;
        let Some(meta) = out.item else {
            return Err(StoreError::NotFound(arn.to_string()));
        };
        let last: u64 = req_n(&meta, "last_event_id", &what)?;
        // The tail holds the latest committed events; an event item of the same id may be the
        // leftover of a failed commit, so the tail wins.
        let mut tail = tail_events(&meta, &what)?;
        let lo = (1..=last).find(|id| !tail.contains_key(id));
        let hi = (1..=last).rev().find(|id| !tail.contains_key(id));
        let mut items: HashMap<u64, Item> = HashMap::new();
        if let (Some(lo), Some(hi)) = (lo, hi) {
            for item in self
                .query_range(&what, &pk, &ev_sk(lo), &ev_sk(hi), false)
                .await?
            {
                let sk = req_s(&item, "sk", &what)?;
                let id = sk
                    .strip_prefix("EV#")
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| corrupt(&what, format!("item {sk} is no history event")))?;
                items.insert(id, item);
            }
        }
        // Walk the ids: the tail first, then the item at the id (one event, or a block that
        // moves the walk past its last event). Items the walk steps over are leftovers.
        let mut events: Vec<HistoryEvent> = Vec::new();
        let mut id = 1;
        while id <= last {
            let event_what = format!("history event {id} of {arn}");
            if let Some(json) = tail.remove(&id) {
                events.push(parse_json(&json, &event_what)?);
            } else if let Some(item) = items.get(&id) {
                let block = match (item.get("evz"), get_s(item, "evs", &event_what)?) {
                    (Some(AttributeValue::B(z)), _) => Some(
                        decompress(z.as_ref().to_vec())
                            .ok()
                            .and_then(|b| String::from_utf8(b).ok())
                            .ok_or_else(|| {
                                corrupt(&event_what, "attribute evz does not inflate")
                            })?,
                    ),
                    (Some(_), _) => {
                        return Err(corrupt(&event_what, "attribute evz is not binary"))
                    }
                    (None, block) => block.map(str::to_string),
                };
                if let Some(block) = block {
                    let block_last: u64 = req_n(item, "last", &event_what)?;
                    let block: Vec<HistoryEvent> = parse_json(&block, &event_what)?;
                    if block_last < id
                        || block_last > last
                        || block.len() as u64 != block_last - id + 1
                    {
                        return Err(corrupt(&event_what, "the block does not hold its events"));
                    }
                    events.extend(block);
                } else {
                    let json = self
                        .read_doc(item, &pk, "ev", &event_what)
                        .await?
                        .ok_or_else(|| corrupt(&event_what, "attribute ev is missing"))?;
                    events.push(parse_json(&json, &event_what)?);
                }
            } else {
                return Err(corrupt(&event_what, "the event is missing"));
            }
            for (expected, event) in (id..).zip(&events[id as usize - 1..]) {
                if event.id != expected {
                    return Err(corrupt(
                        format!("history event {expected} of {arn}"),
                        format!("holds event {}", event.id),
                    ));
                }
            }
            id = events.len() as u64 + 1;
        }
        Ok(events)
    }

    async fn acquire(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        let what = format!("acquire execution {arn} for {owner}");
        let mut expr = Expr::default();
        expr.set("lease_owner", s(owner));
        expr.set("lease_expires", n(now.saturating_add(lease_ms)));
        expr.check("status", "=", s(Status::Running.as_str()));
        let (o, v) = (expr.name("lease_owner"), expr.value(s(owner)));
        let (e, t) = (expr.name("lease_expires"), expr.value(n(now)));
        expr.check_raw(format!(
            "(attribute_not_exists({o}) OR {o} = {v} OR {e} < {t})"
        ));
        match self
            .update_meta(&what, arn, &expr, Some(ReturnValue::AllNew))
            .await?
        {
            Ok(Some(item)) => Ok(Some(self.decode_meta(arn, &item).await?)),
            Ok(None) => Err(corrupt(arn, "acquire returned no item")),
            Err(Failed::Missing) => Err(StoreError::NotFound(arn.to_string())),
            Err(_) => Ok(None),
        }
    }

    async fn renew(
        &self,
        arn: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let what = format!("renew lease of {arn} for {owner}");
        let mut expr = Expr::default();
        expr.set("lease_expires", n(now.saturating_add(lease_ms)));
        expr.check("lease_owner", "=", s(owner));
        match self.update_meta(&what, arn, &expr, None).await? {
            Ok(_) => Ok(true),
            Err(Failed::Missing) => Err(StoreError::NotFound(arn.to_string())),
            Err(_) => Ok(false),
        }
    }

    async fn release(&self, arn: &str, owner: &str) -> Result<(), StoreError> {
        let what = format!("release lease of {arn} for {owner}");
        let mut expr = Expr::default();
        expr.remove("lease_owner");
        expr.remove("lease_expires");
        expr.check("lease_owner", "=", s(owner));
        // Not held (or no such execution): nothing to do.
        let _ = self.update_meta(&what, arn, &expr, None).await?;
        Ok(())
    }

    async fn due_executions(&self, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut shards = JoinSet::new();
        for shard in 0..DUE_SHARDS {
            let store = self.clone();
            shards.spawn(
                async move { store.due_in_shard(shard, now, limit).await }
                    .instrument(tracing::Span::current()),
            );
        }
        let mut due = Vec::new();
        while let Some(done) = shards.join_next().await {
            let found = done
                .map_err(|e| backend_msg("query due executions", format!("task failed: {e}")))??;
            due.extend(found);
        }
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, arn)| arn).collect())
    }
}

impl DynamoStore {
    /// Up to `limit` executions of one due shard, due by `now` with no live lease, as
    /// (due, ARN) in due order.
    async fn due_in_shard(
        &self,
        shard: u32,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let what = format!("query due executions (shard {shard})");
        let page = i32::try_from(limit.clamp(25, 1_000)).unwrap_or(1_000);
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .call(&what, || {
                    self.client()
                        .query()
                        .table_name(self.table())
                        .index_name(DUE_INDEX)
                        .key_condition_expression("#gpk = :shard AND #gsk <= :now")
                        .filter_expression("attribute_not_exists(#exp) OR #exp < :ms")
                        .expression_attribute_names("#gpk", "gsi1pk")
                        .expression_attribute_names("#gsk", "gsi1sk")
                        .expression_attribute_names("#exp", "lease_expires")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_names("#due", "due")
                        .expression_attribute_values(":shard", s(format!("DUE#{shard}")))
                        .expression_attribute_values(":now", s(time_sort_key(now)))
                        .expression_attribute_values(":ms", n(now))
                        .projection_expression("#pk, #due")
                        .limit(page)
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await
                .map_err(|e| backend(&what, &e))?;
            for item in out.items.unwrap_or_default() {
                let pk = req_s(&item, "pk", &what)?;
                let arn = pk
                    .strip_prefix("EX#")
                    .ok_or_else(|| corrupt(&what, format!("index entry {pk} is no execution")))?;
                let due: i64 = req_n(&item, "due", &what)?;
                found.push((due, arn.to_string()));
                if found.len() == limit {
                    return Ok(found);
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(found),
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
    async fn fresh_store() -> DynamoStore {
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
        assert_eq!(count(before), 1, "a refused commit: one update");

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
                        let events: Vec<HistoryEvent> =
                            (1..=3).map(|i| event(i, &payload)).collect();
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
        let store =
            DynamoStore::connect("stepfn-nowhere", Some(&format!("http://127.0.0.1:{port}")))
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
}
