//! The table layout: partition and sort keys, attribute codecs, and how records are laid
//! out in items.

use super::*;
use crate::store::Redrives;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn ex_pk(arn: &str) -> String {
    format!("EX#{arn}")
}

pub(super) fn sm_pk(arn: &str) -> String {
    format!("SM#{arn}")
}

pub(super) fn act_pk(arn: &str) -> String {
    format!("ACT#{arn}")
}

/// The partition of an activity's task queue.
pub(super) fn actq_pk(arn: &str) -> String {
    format!("ACTQ#{arn}")
}

/// The sort key of a queued task: oldest first, then by token.
pub(super) fn actq_task_sk(task: &ActivityTask) -> String {
    format!("Q#{}#{}", time_sort_key(task.enqueued), task.token)
}

/// The sort key of the marker saying a task with `token` is queued.
pub(super) fn actq_token_sk(token: &str) -> String {
    format!("T#{token}")
}

pub(super) fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

pub(super) fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The due index partition of an execution (FNV-1a of the ARN: stable across builds).
pub(super) fn due_shard(arn: &str) -> u32 {
    let hash = arn.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % u64::from(DUE_SHARDS)) as u32
}

/// A time as a sort key: 20 digits of the time offset by 2^63, so string order is time
/// order for every `i64`.
pub(super) fn time_sort_key(time: i64) -> String {
    format!("{:020}", (time as u64) ^ (1 << 63))
}

pub(super) fn get_s<'a>(
    item: &'a Item,
    name: &str,
    what: &str,
) -> Result<Option<&'a str>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v)),
        Some(_) => Err(corrupt(what, format!("attribute {name} is not a string"))),
    }
}

pub(super) fn get_n<T: std::str::FromStr>(
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

pub(super) fn req_s<'a>(item: &'a Item, name: &str, what: &str) -> Result<&'a str, StoreError> {
    get_s(item, name, what)?.ok_or_else(|| corrupt(what, format!("attribute {name} is missing")))
}

pub(super) fn req_n<T: std::str::FromStr>(
    item: &Item,
    name: &str,
    what: &str,
) -> Result<T, StoreError> {
    get_n(item, name, what)?.ok_or_else(|| corrupt(what, format!("attribute {name} is missing")))
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    json: &str,
    what: &str,
) -> Result<T, StoreError> {
    crate::asl::nesting::from_str(json).map_err(|e| corrupt(what, format!("invalid JSON: {e}")))
}

pub(super) fn to_json<T: Serialize>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| backend_msg(format!("serialize {what}"), e.to_string()))
}

/// The status as stored (its API spelling).
pub(super) fn parse_status(value: &str, what: &str) -> Result<Status, StoreError> {
    serde_json::from_value(Value::String(value.to_string()))
        .map_err(|_| corrupt(what, format!("unknown status {value}")))
}

/// Approximate stored size of an item, as DynamoDB counts it (names plus values).
pub(super) fn item_size(item: &Item) -> usize {
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

/// The lease attributes of META.
pub(super) fn decode_lease(item: &Item, what: &str) -> Result<Option<Lease>, StoreError> {
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

/// The redrives of META (`redrive`, JSON; none before the first).
pub(super) fn decode_redrive(item: &Item, what: &str) -> Result<Redrives, StoreError> {
    match get_s(item, "redrive", what)? {
        Some(json) => parse_json(json, what),
        None => Ok(Redrives::default()),
    }
}

/// The stop request of META (`stop_req`, JSON).
pub(super) fn decode_stop_request(
    item: &Item,
    what: &str,
) -> Result<Option<StopRequest>, StoreError> {
    match get_s(item, "stop_req", what)? {
        Some(json) => parse_json(json, what).map(Some),
        None => Ok(None),
    }
}

/// An execution summary from an entry of the executions index (see
/// [`Store::list_executions`]).
pub(super) fn decode_summary(item: &Item, what: &str) -> Result<ExecutionRecord, StoreError> {
    let info: ExecutionInfo = parse_json(req_s(item, "info", what)?, what)?;
    Ok(ExecutionRecord {
        info,
        input: Value::Null,
        input_text: None,
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
        redrive: decode_redrive(item, what)?,
    })
}

/// The executions index keys of an execution: its state machine, then start time and name.
pub(super) fn execution_index_keys(info: &ExecutionInfo) -> [(String, AttributeValue); 2] {
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
pub(super) struct RecOut<'a> {
    pub(super) info: &'a ExecutionInfo,
    pub(super) input: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) input_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) output: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<&'a StatesError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) stop_time: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct RecIn {
    pub(super) info: ExecutionInfo,
    pub(super) input: Value,
    #[serde(default)]
    pub(super) input_text: Option<String>,
    #[serde(default)]
    pub(super) output: Option<Value>,
    #[serde(default)]
    pub(super) error: Option<StatesError>,
    #[serde(default)]
    pub(super) stop_time: Option<i64>,
}
