//! EventBridge's rules and events on `stepfn serve` (issue 17, event triggers): `PutRule`,
//! `DescribeRule`, `ListRules`, `DeleteRule`, `EnableRule`, `DisableRule`, `PutTargets`,
//! `ListTargetsByRule`, `ListRuleNamesByTarget`, `RemoveTargets`, `PutEvents`,
//! `TestEventPattern`, and
//! `DescribeEventBus`/`ListEventBuses` answering for the `default` bus. A rule is a store
//! resource ([`RULE_KIND`], key `<bus>/<name>`) holding its targets; an event put on a bus
//! starts, for every target of every enabled rule of that bus whose pattern it matches, one
//! execution of the target state machine, named after the event and the target so that a
//! delivery made twice starts it once.
//!
//! Independent of HTTP (the wire is in `http`): [`Service::events_call`] takes the operation's
//! name and request. Patterns are [`crate::scheduler::pattern`]'s; events and their delivery
//! are `event_delivery`'s, the targets' input shaping `event_input`'s. Left out: scheduled
//! rules are stored but do not fire, and a delivery that fails is logged, not retried.

use super::event_input::check_input;
use super::*;
use crate::scheduler::expression::Schedule;
use crate::scheduler::pattern::Pattern;
use crate::scheduler::record::{rule_key, RuleRecord, RuleTarget, RULE_KIND};
use crate::store::Expect;

/// The event bus of a request that names none.
pub(crate) const DEFAULT_BUS: &str = "default";

/// Targets a rule may have (EventBridge's quota).
const MAX_TARGETS: usize = 5;

/// Entries of one `PutEvents` or targets of one `PutTargets`.
pub(super) const MAX_ENTRIES: usize = 10;

/// Compare-and-swap attempts on a rule before `ConcurrentModificationException`.
const CAS_ATTEMPTS: usize = 8;

pub(super) fn validation(message: impl Into<String>) -> ApiError {
    err(Exception::ValidationException, message)
}

/// `Name` as EventBridge's validation messages name members: `name`.
fn member(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn optional<'a>(req: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must be a string",
            member(name)
        ))),
    }
}

fn required<'a>(req: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    optional(req, name)?.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            member(name)
        ))
    })
}

/// Checks a rule name or target id: `[\.\-_A-Za-z0-9]+`, at most 64 characters.
fn check_id(value: &str, at: &str) -> Result<(), ApiError> {
    let pattern = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
    if value.is_empty() || !pattern {
        return Err(validation(format!(
            "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        )));
    }
    if value.chars().count() > 64 {
        return Err(validation(format!(
            "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: Member must have length less than or equal to 64"
        )));
    }
    Ok(())
}

/// The bus a request names (`EventBusName`, a name or an event bus ARN), or `default`.
pub(super) fn bus_of(req: &Value) -> Result<String, ApiError> {
    let Some(given) = optional(req, "EventBusName")? else {
        return Ok(DEFAULT_BUS.to_string());
    };
    let name = match given.split_once(":event-bus/") {
        Some((prefix, name)) if prefix.starts_with("arn:") => name,
        _ => given,
    };
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/.-_".contains(c));
    if name.is_empty() || name.chars().count() > 256 || !valid {
        return Err(validation(format!(
            "1 validation error detected: Value '{given}' at 'eventBusName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:aws[\\w-]*:events:[a-z]+-[a-z]+-[\\w-]+:[0-9]{{12}}:event-bus\\/)?[/\\.\\-_A-Za-z0-9]+"
        )));
    }
    Ok(name.to_string())
}

fn rule_not_found(bus: &str, name: &str) -> ApiError {
    err(
        Exception::ResourceNotFoundException,
        format!("Rule {name} does not exist on EventBus {bus}."),
    )
}

fn busy(name: &str) -> ApiError {
    err(
        Exception::ConcurrentModificationException,
        format!("Rule {name} is being changed by another request; try again."),
    )
}

/// `Limit` and `NextToken` of a list: how many, and the name the page starts after.
fn list_page(req: &Value) -> Result<(usize, Option<String>), ApiError> {
    let limit = match req.get("Limit") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=100).contains(&n) => n as usize,
            Some(n) if n < 1 => return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            ))),
            _ => return Err(validation(format!(
                "1 validation error detected: Value '{v}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
            ))),
        },
    };
    let after = match optional(req, "NextToken")? {
        None => None,
        Some(token) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("after:").map(str::to_string))
                .ok_or_else(|| validation("The nextToken provided is invalid."))?,
        ),
    };
    Ok((limit, after))
}

/// One page of `items` (sorted by name): the items and the next token.
fn paged(
    items: Vec<(String, Value)>,
    limit: usize,
    after: Option<&str>,
) -> (Vec<Value>, Option<Value>) {
    let rest: Vec<(String, Value)> = items
        .into_iter()
        .filter(|(name, _)| after.is_none_or(|a| name.as_str() > a))
        .collect();
    let more = rest.len() > limit;
    let page: Vec<(String, Value)> = rest.into_iter().take(limit).collect();
    let token = match page.last() {
        Some((last, _)) if more => Some(Value::String(
            base64::engine::general_purpose::STANDARD.encode(format!("after:{last}")),
        )),
        _ => None,
    };
    (page.into_iter().map(|(_, v)| v).collect(), token)
}

fn rule_json(rule: &RuleRecord, account: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert("Name".into(), json!(rule.name));
    out.insert("Arn".into(), json!(rule.arn));
    if let Some(p) = &rule.event_pattern {
        out.insert("EventPattern".into(), json!(p));
    }
    if let Some(s) = &rule.schedule_expression {
        out.insert("ScheduleExpression".into(), json!(s));
    }
    out.insert("State".into(), json!(rule.state));
    if let Some(d) = &rule.description {
        out.insert("Description".into(), json!(d));
    }
    if let Some(r) = &rule.role_arn {
        out.insert("RoleArn".into(), json!(r));
    }
    out.insert("EventBusName".into(), json!(rule.bus));
    if let Some(account) = account {
        out.insert("CreatedBy".into(), json!(account));
    }
    Value::Object(out)
}

fn target_json(t: &RuleTarget) -> Value {
    let mut out = Map::new();
    out.insert("Id".into(), json!(t.id));
    out.insert("Arn".into(), json!(t.arn));
    if let Some(r) = &t.role_arn {
        out.insert("RoleArn".into(), json!(r));
    }
    if let Some(i) = &t.input {
        out.insert("Input".into(), json!(i));
    }
    if let Some(p) = &t.input_path {
        out.insert("InputPath".into(), json!(p));
    }
    if let Some(x) = &t.input_transformer {
        out.insert("InputTransformer".into(), x.clone());
    }
    Value::Object(out)
}

/// Checks one entry of `PutTargets` (`index` from 1): a state machine (or version, or alias)
/// ARN, and its input.
fn check_target(spec: &Value, index: usize) -> Result<RuleTarget, ApiError> {
    let Some(object) = spec.as_object() else {
        return Err(validation(format!(
            "1 validation error detected: Value at 'targets.{index}.member' failed to satisfy constraint: Member must be a structure"
        )));
    };
    let at = |m: &str| format!("targets.{index}.member.{m}");
    let id = optional(spec, "Id")?.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            at("id")
        ))
    })?;
    check_id(id, &at("id"))?;
    let arn = optional(spec, "Arn")?.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            at("arn")
        ))
    })?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && !parts[2].is_empty()
        && !parts[5].is_empty();
    if !well_formed {
        return Err(validation(format!(
            "Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
        )));
    }
    match StatesArn::parse(arn) {
        Some(a) if a.kind == "stateMachine" => {}
        _ => {
            return Err(validation(format!(
                "Parameter {arn} is not valid. Reason: stepfn delivers events only to Step Functions state machines (arn:aws:states:<region>:<account>:stateMachine:<name>)."
            )))
        }
    }
    let mut target = RuleTarget {
        id: id.to_string(),
        arn: arn.to_string(),
        role_arn: optional(spec, "RoleArn")?.map(str::to_string),
        input: None,
        input_path: None,
        input_transformer: None,
    };
    check_input(object, index, &mut target)?;
    Ok(target)
}

impl Service {
    /// Runs one EventBridge operation (`PutRule`, `PutEvents`, ...) on `request`.
    ///
    /// # Errors
    /// The API error, with the exception name EventBridge uses.
    pub async fn events_call(&self, operation: &str, request: Value) -> Result<Value, ApiError> {
        self.events_call_as(operation, request, http::Caller::default())
            .await
    }

    /// [`Service::events_call`] for `caller`: rules and events are made in its region.
    pub async fn events_call_as(
        &self,
        operation: &str,
        req: Value,
        caller: http::Caller,
    ) -> Result<Value, ApiError> {
        if !req.is_object() {
            return Err(not_an_object());
        }
        let place = self.place(&caller);
        match operation {
            "PutRule" => self.put_rule(&req, &place).await,
            "DescribeRule" => self.describe_rule(&req).await,
            "ListRules" => self.list_rules(&req).await,
            "DeleteRule" => self.delete_rule(&req).await,
            "EnableRule" => self.set_rule_state(&req, "ENABLED").await,
            "DisableRule" => self.set_rule_state(&req, "DISABLED").await,
            "PutTargets" => self.put_targets(&req).await,
            "ListTargetsByRule" => self.list_targets(&req).await,
            "ListRuleNamesByTarget" => self.list_rule_names_by_target(&req).await,
            "RemoveTargets" => self.remove_targets(&req).await,
            "PutEvents" => self.put_events(&req, &place).await,
            "TestEventPattern" => test_event_pattern(&req),
            "DescribeEventBus" => describe_event_bus(&req, &place),
            "ListEventBuses" => {
                Ok(json!({"EventBuses": [describe_event_bus(&json!({}), &place)?]}))
            }
            _ => Err(unknown(operation)),
        }
    }

    /// Rule `name` of `bus` and its version.
    pub(super) async fn load_rule(
        &self,
        bus: &str,
        name: &str,
    ) -> Result<(RuleRecord, u64), ApiError> {
        let found = self
            .store
            .get_resource(RULE_KIND, &rule_key(bus, name))
            .await?
            .ok_or_else(|| rule_not_found(bus, name))?;
        let rule = serde_json::from_value(found.body).map_err(|e| {
            err(
                Exception::InternalFailure,
                format!("the stored rule {bus}/{name} cannot be read: {e}"),
            )
        })?;
        Ok((rule, found.version))
    }

    /// Applies `change` to rule `name` of `bus` with a compare-and-swap, again on a lost race.
    async fn update_rule<T>(
        &self,
        bus: &str,
        name: &str,
        change: impl Fn(&mut RuleRecord) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        for _ in 0..CAS_ATTEMPTS {
            let (mut rule, version) = self.load_rule(bus, name).await?;
            let answer = change(&mut rule)?;
            let body = serde_json::to_value(&rule).expect("a rule always serializes");
            let key = rule_key(bus, name);
            let written = self
                .store
                .put_resource(RULE_KIND, &key, &body, Expect::Version(version))
                .await?;
            if written.is_some() {
                return Ok(answer);
            }
        }
        Err(busy(name))
    }

    async fn put_rule(&self, req: &Value, place: &arn::Place) -> Result<Value, ApiError> {
        let name = required(req, "Name")?;
        check_id(name, "name")?;
        let bus = bus_of(req)?;
        let pattern = optional(req, "EventPattern")?;
        let schedule = optional(req, "ScheduleExpression")?;
        if pattern.is_none() && schedule.is_none() {
            return Err(validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ));
        }
        if let Some(p) = pattern {
            Pattern::parse(p)
                .map_err(|e| err(Exception::InvalidEventPatternException, e.to_string()))?;
        }
        if let Some(s) = schedule {
            if bus != DEFAULT_BUS {
                return Err(validation(
                    "ScheduleExpression is supported only on the default event bus.",
                ));
            }
            let kind_ok = s.starts_with("rate(") || s.starts_with("cron(");
            if !kind_ok || Schedule::new(s, None, None, None, now_ms()).is_err() {
                return Err(validation("Parameter ScheduleExpression is not valid."));
            }
        }
        let state = optional(req, "State")?.unwrap_or("ENABLED");
        const STATES: [&str; 3] = [
            "ENABLED",
            "DISABLED",
            "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        ];
        if !STATES.contains(&state) {
            return Err(validation(format!(
                "1 validation error detected: Value '{state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]"
            )));
        }
        let mut tags = std::collections::BTreeMap::new();
        for t in req
            .get("Tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            tags.insert(
                required(t, "Key")?.to_string(),
                optional(t, "Value")?.unwrap_or_default().to_string(),
            );
        }
        let arn = if bus == DEFAULT_BUS {
            format!(
                "arn:aws:events:{}:{}:rule/{name}",
                place.region, place.account
            )
        } else {
            format!(
                "arn:aws:events:{}:{}:rule/{bus}/{name}",
                place.region, place.account
            )
        };
        let key = rule_key(&bus, name);
        for _ in 0..CAS_ATTEMPTS {
            let existing = self.store.get_resource(RULE_KIND, &key).await?;
            let old: Option<RuleRecord> = existing
                .as_ref()
                .and_then(|r| serde_json::from_value(r.body.clone()).ok());
            // AWS: an update replaces the rule with what this request says; its targets stay.
            let rule = RuleRecord {
                name: name.to_string(),
                bus: bus.clone(),
                arn: old.as_ref().map_or_else(|| arn.clone(), |o| o.arn.clone()),
                event_pattern: pattern.map(str::to_string),
                schedule_expression: schedule.map(str::to_string),
                state: state.to_string(),
                description: optional(req, "Description")?.map(str::to_string),
                role_arn: optional(req, "RoleArn")?.map(str::to_string),
                targets: old.as_ref().map(|o| o.targets.clone()).unwrap_or_default(),
                tags: match &old {
                    Some(o) => o.tags.clone(),
                    None => tags.clone(),
                },
                created: old.as_ref().map_or_else(now_ms, |o| o.created),
            };
            let expect = existing
                .as_ref()
                .map_or(Expect::Absent, |r| Expect::Version(r.version));
            let body = serde_json::to_value(&rule).expect("a rule always serializes");
            if self
                .store
                .put_resource(RULE_KIND, &key, &body, expect)
                .await?
                .is_some()
            {
                return Ok(json!({"RuleArn": rule.arn}));
            }
        }
        Err(busy(name))
    }

    async fn describe_rule(&self, req: &Value) -> Result<Value, ApiError> {
        let name = required(req, "Name")?;
        let bus = bus_of(req)?;
        let (rule, _) = self.load_rule(&bus, name).await?;
        Ok(rule_json(&rule, Some(&self.account)))
    }

    /// The rules of `bus`, by name.
    pub(super) async fn rules_of(&self, bus: &str) -> Result<Vec<RuleRecord>, ApiError> {
        let prefix = format!("{bus}/");
        let mut rules: Vec<RuleRecord> = self
            .store
            .list_resources(RULE_KIND)
            .await?
            .into_iter()
            .filter(|r| r.key.starts_with(&prefix))
            .filter_map(|r| match serde_json::from_value(r.body) {
                Ok(rule) => Some(rule),
                Err(e) => {
                    tracing::warn!(key = %r.key, "a stored rule cannot be read: {e}");
                    None
                }
            })
            .collect();
        rules.sort_by(|a: &RuleRecord, b| a.name.cmp(&b.name));
        Ok(rules)
    }

    async fn list_rules(&self, req: &Value) -> Result<Value, ApiError> {
        let bus = bus_of(req)?;
        let prefix = optional(req, "NamePrefix")?.unwrap_or_default();
        let (limit, after) = list_page(req)?;
        let items = self
            .rules_of(&bus)
            .await?
            .into_iter()
            .filter(|r| r.name.starts_with(prefix))
            .map(|r| (r.name.clone(), rule_json(&r, None)))
            .collect();
        let (rules, token) = paged(items, limit, after.as_deref());
        let mut out = Map::new();
        out.insert("Rules".into(), Value::Array(rules));
        if let Some(t) = token {
            out.insert("NextToken".into(), t);
        }
        Ok(Value::Object(out))
    }

    async fn delete_rule(&self, req: &Value) -> Result<Value, ApiError> {
        let name = required(req, "Name")?;
        let bus = bus_of(req)?;
        let force = req.get("Force").and_then(Value::as_bool).unwrap_or(false);
        for _ in 0..CAS_ATTEMPTS {
            let (rule, version) = match self.load_rule(&bus, name).await {
                Ok(found) => found,
                // As AWS: deleting a rule that is not there succeeds.
                Err(e) if e.kind == Exception::ResourceNotFoundException => return Ok(json!({})),
                Err(e) => return Err(e),
            };
            if !rule.targets.is_empty() && !force {
                return Err(validation("Rule can't be deleted since it has targets."));
            }
            let key = rule_key(&bus, name);
            if self
                .store
                .delete_resource(RULE_KIND, &key, Expect::Version(version))
                .await?
            {
                return Ok(json!({}));
            }
        }
        Err(busy(name))
    }

    async fn set_rule_state(&self, req: &Value, state: &str) -> Result<Value, ApiError> {
        let name = required(req, "Name")?;
        let bus = bus_of(req)?;
        self.update_rule(&bus, name, |rule| {
            rule.state = state.to_string();
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    async fn put_targets(&self, req: &Value) -> Result<Value, ApiError> {
        let name = required(req, "Rule")?;
        check_id(name, "rule")?;
        let bus = bus_of(req)?;
        let specs = match req.get("Targets") {
            Some(Value::Array(t)) => t,
            None | Some(Value::Null) => {
                return Err(validation(
                    "1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null",
                ))
            }
            Some(_) => return Err(validation(
                "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must be a list",
            )),
        };
        if specs.is_empty() || specs.len() > MAX_ENTRIES {
            let bound = if specs.is_empty() {
                "have length greater than or equal to 1"
            } else {
                "have length less than or equal to 10"
            };
            return Err(validation(format!(
                "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must {bound}"
            )));
        }
        let targets = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| check_target(spec, i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        self.update_rule(&bus, name, |rule| {
            let mut merged = rule.targets.clone();
            for t in &targets {
                match merged.iter_mut().find(|m| m.id == t.id) {
                    Some(m) => *m = t.clone(),
                    None => merged.push(t.clone()),
                }
            }
            if merged.len() > MAX_TARGETS {
                return Err(err(
                    Exception::LimitExceededException,
                    "The requested resource exceeds the maximum number allowed.",
                ));
            }
            rule.targets = merged;
            Ok(())
        })
        .await?;
        Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
    }

    async fn list_rule_names_by_target(&self, req: &Value) -> Result<Value, ApiError> {
        let target = required(req, "TargetArn")?;
        let bus = bus_of(req)?;
        let (limit, after) = list_page(req)?;
        let items = self
            .rules_of(&bus)
            .await?
            .into_iter()
            .filter(|r| r.targets.iter().any(|t| t.arn == target))
            .map(|r| (r.name.clone(), json!(r.name)))
            .collect();
        let (names, token) = paged(items, limit, after.as_deref());
        let mut out = Map::new();
        out.insert("RuleNames".into(), Value::Array(names));
        if let Some(t) = token {
            out.insert("NextToken".into(), t);
        }
        Ok(Value::Object(out))
    }

    async fn list_targets(&self, req: &Value) -> Result<Value, ApiError> {
        let name = required(req, "Rule")?;
        let bus = bus_of(req)?;
        let (limit, after) = list_page(req)?;
        let (rule, _) = self.load_rule(&bus, name).await?;
        let mut items: Vec<(String, Value)> = rule
            .targets
            .iter()
            .map(|t| (t.id.clone(), target_json(t)))
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (targets, token) = paged(items, limit, after.as_deref());
        let mut out = Map::new();
        out.insert("Targets".into(), Value::Array(targets));
        if let Some(t) = token {
            out.insert("NextToken".into(), t);
        }
        Ok(Value::Object(out))
    }

    async fn remove_targets(&self, req: &Value) -> Result<Value, ApiError> {
        let name = required(req, "Rule")?;
        let bus = bus_of(req)?;
        let ids: Vec<String> = match req.get("Ids") {
            Some(Value::Array(ids)) if !ids.is_empty() => ids
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        validation("1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must be a list of strings")
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(validation(
                    "1 validation error detected: Value null at 'ids' failed to satisfy constraint: Member must not be null",
                ))
            }
        };
        let failed = self
            .update_rule(&bus, name, |rule| {
                let mut failed = Vec::new();
                for id in &ids {
                    match rule.targets.iter().position(|t| &t.id == id) {
                        Some(i) => {
                            rule.targets.remove(i);
                        }
                        None => failed.push(json!({
                            "TargetId": id,
                            "ErrorCode": "ResourceNotFoundException",
                            "ErrorMessage": format!("Rule '{name}' does not have a target with the Id '{id}'."),
                        })),
                    }
                }
                Ok(failed)
            })
            .await?;
        Ok(json!({"FailedEntryCount": failed.len(), "FailedEntries": failed}))
    }
}

fn test_event_pattern(req: &Value) -> Result<Value, ApiError> {
    let pattern = required(req, "EventPattern")?;
    let event = required(req, "Event")?;
    let pattern = Pattern::parse(pattern)
        .map_err(|e| err(Exception::InvalidEventPatternException, e.to_string()))?;
    let event: Value = match serde_json::from_str(event) {
        Ok(e @ Value::Object(_)) => e,
        _ => return Err(validation("Parameter Event is not valid.")),
    };
    Ok(json!({"Result": pattern.matches(&event)}))
}

fn describe_event_bus(req: &Value, place: &arn::Place) -> Result<Value, ApiError> {
    let name = match optional(req, "Name")? {
        Some(n) => bus_of(&json!({"EventBusName": n}))?,
        None => DEFAULT_BUS.to_string(),
    };
    Ok(json!({
        "Name": name,
        "Arn": format!("arn:aws:events:{}:{}:event-bus/{name}", place.region, place.account),
    }))
}
