//! Which definition an execution runs and how one starts: the cache of loaded definitions
//! (by version, and by the revision an execution started with), what a start through a
//! state machine, version or alias ARN runs, and storing a new execution.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::asl::model::StateMachine;
use crate::engine::execution::{ExecutionInfo, Origin, QueueKey, Status};
use crate::runtime::arn;
use crate::runtime::durable::DriveError;
use crate::store::{Created, ExecutionRecord, MachineRecord, Store, StoreError};

/// Why an execution could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The name is taken by an execution with another input.
    #[error("Execution Already Exists: '{0}'")]
    AlreadyExists(String),
    /// The state machine is not stored.
    #[error("State Machine Does Not Exist: '{0}'")]
    NoMachine(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loaded state machines by ARN, shared by a worker's drives; each with the revision it was
/// loaded at, so an execution started after an update loads the new definition and one
/// started before it the revision it started with (kept by UpdateStateMachine).
#[derive(Default, Clone)]
pub struct MachineCache {
    inner: Arc<Mutex<HashMap<String, CachedMachine>>>,
}

/// A loaded definition and the revision it is.
type CachedMachine = (
    Option<String>,
    Arc<StateMachine>,
    Option<crate::runtime::logs::LogConfig>,
);

impl MachineCache {
    /// What the state machine (or version) `arn` loaded last logs of its executions.
    pub(crate) fn logs_of(&self, arn: &str) -> Option<crate::runtime::logs::LogConfig> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(arn)
            .and_then(|(_, _, logs)| logs.clone())
    }

    /// The definition `info`'s execution runs: its version's, or its state machine's at the
    /// revision it started with (the current one if the machine changed since).
    pub(crate) async fn get<S: Store>(
        &self,
        store: &S,
        info: &ExecutionInfo,
    ) -> Result<Arc<StateMachine>, DriveError> {
        let arn = info.definition_arn();
        if let Some((revision, m, _)) = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(arn)
        {
            if info.origin.version_arn.is_some() || *revision == info.origin.revision {
                return Ok(Arc::clone(m));
            }
        }
        let mut record = store
            .get_machine(arn)
            .await?
            .ok_or_else(|| DriveError::BadMachine {
                arn: arn.to_string(),
                reason: "not stored".into(),
            })?;
        if info.origin.version_arn.is_none() && record.config.revision_id != info.origin.revision {
            // Updated since this execution started: it runs the revision it started with.
            let kept = crate::store::revision_key(arn, info.origin.revision.as_deref());
            if let Some(old) = store.get_machine(&kept).await? {
                let machine = StateMachine::from_value(&old.definition).map_err(|d| {
                    DriveError::BadMachine {
                        arn: kept.clone(),
                        reason: d
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "),
                    }
                })?;
                return Ok(Arc::new(machine));
            }
            record.config.revision_id.clone_from(&info.origin.revision);
        }
        let machine =
            StateMachine::from_value(&record.definition).map_err(|d| DriveError::BadMachine {
                arn: arn.to_string(),
                reason: d
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        let machine = Arc::new(machine);
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).insert(
            arn.to_string(),
            (
                record.config.revision_id.clone(),
                Arc::clone(&machine),
                crate::runtime::logs::LogConfig::from_json(record.config.logging.as_ref()),
            ),
        );
        Ok(machine)
    }
}

/// Stores a new execution of `machine` named `name`, due at once. Starting the same name
/// with the same input again returns the existing execution, as Step Functions does.
///
/// # Errors
/// [`StartError::AlreadyExists`] when the name is taken with another input.
pub async fn start_execution<S: Store>(
    store: &S,
    machine: &MachineRecord,
    name: &str,
    input: impl Into<crate::runtime::driver::Input>,
    now: i64,
) -> Result<ExecutionRecord, StartError> {
    start_execution_of(store, machine, None, name, input.into(), now).await
}

/// What a start through a state machine, version or alias ARN runs.
#[derive(Debug, Clone)]
pub struct StartTarget {
    /// The state machine's or the version's record.
    pub machine: MachineRecord,
    /// The alias ARN, when started through an alias.
    pub alias: Option<String>,
}

/// The record a start through `arn` runs: the state machine's, a version's, or for an alias
/// one of its versions, picked by weight; `None` when there is no such machine, version or
/// alias.
///
/// # Errors
/// The store's.
pub async fn start_target<S: Store>(
    store: &S,
    arn: &str,
) -> Result<Option<StartTarget>, StoreError> {
    let Some((machine_arn, Some(arn::Qualifier::Alias(name)))) = arn::split_machine(arn) else {
        return Ok(store.get_machine(arn).await?.map(|machine| StartTarget {
            machine,
            alias: None,
        }));
    };
    let Some(m) = store.get_machine(machine_arn).await? else {
        return Ok(None);
    };
    let Some(alias) = m.published.aliases.iter().find(|a| a.name == name) else {
        return Ok(None);
    };
    let roll = (uuid::Uuid::new_v4().as_u128() % 100) as u32;
    let version = route(&alias.routing, roll);
    Ok(store
        .get_machine(version)
        .await?
        .map(|machine| StartTarget {
            machine,
            alias: Some(arn.to_string()),
        }))
}

/// Picks one of `routes` (version ARNs with weights summing to 100) by `roll` in 0..100.
fn route(routes: &[(String, u32)], roll: u32) -> &str {
    let mut total = 0;
    for (arn, weight) in routes {
        total += weight;
        if roll < total {
            return arn;
        }
    }
    routes.last().map_or("", |(arn, _)| arn)
}

/// [`start_execution`] of `machine`, which may be a version, started through `alias` (the
/// alias ARN) if any.
///
/// # Errors
/// As [`start_execution`].
pub async fn start_execution_of<S: Store>(
    store: &S,
    machine: &MachineRecord,
    alias: Option<&str>,
    name: &str,
    input: crate::runtime::driver::Input,
    now: i64,
) -> Result<ExecutionRecord, StartError> {
    let record = new_execution(machine, alias, name, input, now, None);
    Ok(create_execution_of(store, record).await?.0)
}

/// The record of a new execution `name` of `machine` (started through `alias`, if any), not
/// stored yet.
pub fn new_execution(
    machine: &MachineRecord,
    alias: Option<&str>,
    name: &str,
    input: crate::runtime::driver::Input,
    now: i64,
    trace_header: Option<&str>,
) -> ExecutionRecord {
    let machine_arn = machine.machine_arn();
    let info = ExecutionInfo {
        arn: arn::execution(machine_arn, name),
        name: name.to_string(),
        state_machine_arn: machine_arn.to_string(),
        state_machine_name: machine.name.clone(),
        role_arn: machine.role_arn.clone(),
        start_time: now,
        origin: Origin {
            version_arn: machine.version.is_some().then(|| machine.arn.clone()),
            alias_arn: alias.map(str::to_string),
            revision: machine.config.revision_id.clone(),
            map_run_arn: None,
            queue: queue_of(machine, trace_header),
        },
    };
    let mut record = ExecutionRecord::new(info, input.value);
    record.input_text = input.text.map(|t| t.to_string());
    record
}

/// The tag of a state machine that sets its executions' priority (an integer, higher first).
pub const PRIORITY_TAG: &str = "stepfn:priority";
/// The tag that sets its executions' fairness key.
pub const TENANT_TAG: &str = "stepfn:tenant";
/// The tag that sets the fairness key's weight (a positive integer).
pub const WEIGHT_TAG: &str = "stepfn:weight";

/// The queue key of a new execution of `machine`: its tags `stepfn:priority`,
/// `stepfn:tenant` and `stepfn:weight`, each overridden by the same key in the start
/// request's X-Ray `traceHeader` (`Root=...;stepfn:priority=5;stepfn:tenant=acme`), which an
/// unmodified AWS client can send. `None` when neither says anything.
pub fn queue_of(machine: &MachineRecord, trace_header: Option<&str>) -> Option<QueueKey> {
    let from_header = |key: &str| {
        trace_header?.split(';').find_map(|part| {
            let (k, v) = part.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let pick = |key: &str| from_header(key).or_else(|| machine.tags.get(key).cloned());
    let (priority, tenant, weight) = (pick(PRIORITY_TAG), pick(TENANT_TAG), pick(WEIGHT_TAG));
    if priority.is_none() && tenant.is_none() && weight.is_none() {
        return None;
    }
    Some(QueueKey {
        priority: priority.and_then(|p| p.parse().ok()).unwrap_or(0),
        tenant: tenant.unwrap_or_default(),
        weight: weight
            .and_then(|w| w.parse().ok())
            .filter(|w| *w > 0)
            .unwrap_or(1),
    })
}

/// Stores `record` as a new execution, as [`start_execution_of`] does; the record stored
/// and whether this call created it (false: it was there, running with the same input).
///
/// # Errors
/// As [`start_execution_of`].
pub async fn create_execution_of<S: Store>(
    store: &S,
    record: ExecutionRecord,
) -> Result<(ExecutionRecord, bool), StartError> {
    match store.create_execution(&record).await? {
        Created::New => Ok((record, true)),
        // Spec: the same name and input is idempotent while the execution runs; a closed
        // execution or another input is ExecutionAlreadyExists.
        Created::Existing(existing)
            if existing.input == record.input && existing.status == Status::Running =>
        {
            Ok((*existing, false))
        }
        Created::Existing(existing) => Err(StartError::AlreadyExists(existing.info.arn)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::durable::{drive_execution, DriveOutcome, DurableOptions};
    use crate::store::memory::MemoryStore;
    use crate::tasks::NoIntegrations;
    use serde_json::json;

    #[test]
    fn queue_keys_come_from_tags_and_the_trace_header() {
        let mut m = crate::runtime::commands::machine_record("m", json!({}), 0);
        assert_eq!(queue_of(&m, None), None);
        assert_eq!(
            queue_of(&m, Some("Root=1-5759e988-bd862e3fe1be46a994272793")),
            None
        );
        m.tags.insert(TENANT_TAG.into(), "acme".into());
        m.tags.insert(PRIORITY_TAG.into(), "3".into());
        let tagged = QueueKey {
            priority: 3,
            tenant: "acme".into(),
            weight: 1,
        };
        assert_eq!(queue_of(&m, None), Some(tagged));
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;stepfn:priority=9;stepfn:weight=4";
        let overridden = QueueKey {
            priority: 9,
            tenant: "acme".into(),
            weight: 4,
        };
        assert_eq!(queue_of(&m, Some(header)), Some(overridden));
        // Values that are not numbers fall back to the defaults.
        let bad = queue_of(&m, Some("stepfn:priority=high;stepfn:weight=0"));
        assert_eq!(bad.map(|q| (q.priority, q.weight)), Some((0, 1)));
    }

    #[test]
    fn alias_routes_pick_by_weight() {
        let routes = vec![("a".to_string(), 30), ("b".to_string(), 70)];
        assert_eq!(route(&routes, 0), "a");
        assert_eq!(route(&routes, 29), "a");
        assert_eq!(route(&routes, 30), "b");
        assert_eq!(route(&routes, 99), "b");
        let single = vec![("only".to_string(), 100)];
        assert_eq!(route(&single, 57), "only");
    }

    #[tokio::test]
    async fn an_execution_runs_the_revision_it_started_with() {
        let store = MemoryStore::new();
        let pass = |result: &str| json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": true}}});
        let mut m = MachineRecord {
            arn: "arn:aws:states:us-east-1:111111111111:stateMachine:m".into(),
            name: "m".into(),
            definition: pass("old"),
            kind: "STANDARD".into(),
            role_arn: "arn:aws:iam::111111111111:role/r".into(),
            created: 0,
            tags: Default::default(),
            definition_text: None,
            config: Default::default(),
            version: None,
            published: Default::default(),
        };
        store.put_machine(&m).await.expect("put");
        let before = start_execution(&store, &m, "before", json!({}), 0)
            .await
            .expect("start");
        // An update as UpdateStateMachine makes it: the old revision kept, a new one current.
        let mut kept = m.clone();
        kept.arn = crate::store::revision_key(&m.arn, None);
        store.put_machine(&kept).await.expect("keep");
        m.definition = pass("new");
        m.config.revision_id = Some("r2".into());
        store.put_machine(&m).await.expect("update");
        let after = start_execution(&store, &m, "after", json!({}), 0)
            .await
            .expect("start");
        let cache = MachineCache::default();
        let options = DurableOptions {
            owner: "w".into(),
            lease_ms: 60_000,
            park_after_ms: None,
            virtual_clock: true,
            deadline_ms: None,
        };
        for (arn, want) in [(&after.info.arn, "new"), (&before.info.arn, "old")] {
            let out = drive_execution(
                &store,
                arn,
                Arc::new(NoIntegrations),
                &cache,
                &options,
                None,
            )
            .await
            .expect("drive");
            assert_eq!(out, DriveOutcome::Finished(Status::Succeeded));
            let stored = store
                .get_execution(arn)
                .await
                .expect("get")
                .expect("exists");
            assert_eq!(stored.output, Some(json!(want)), "{arn}");
        }
    }
}
