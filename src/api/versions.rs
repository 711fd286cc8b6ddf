//! Versions and aliases: PublishStateMachineVersion (and `publish` on create and update),
//! ListStateMachineVersions, DeleteStateMachineVersion; CreateStateMachineAlias,
//! DescribeStateMachineAlias, UpdateStateMachineAlias, DeleteStateMachineAlias,
//! ListStateMachineAliases; and what a start through `NAME:3` or `NAME:prod` runs.
//!
//! A version is an immutable copy of the machine's record under `<machine arn>:<n>`; the
//! machine's own record counts the numbers, lists the versions that exist and holds the
//! aliases (see [`crate::store::Published`]).

use super::machines::machine_not_found;
use super::*;
use crate::store::{AliasRecord, VersionEntry, VersionOf};

/// At most this many versions per state machine, as on AWS.
const MAX_VERSIONS: usize = 1000;
/// At most this many aliases per state machine, as on AWS.
const MAX_ALIASES: usize = 100;

pub(super) use crate::runtime::arn::Qualifier;

/// Splits a state machine ARN into the machine's ARN and its qualifier, if any; AWS's
/// InvalidArn when it is not a state machine ARN.
pub(super) fn split_qualified(arn: &str) -> Result<(&str, Option<Qualifier<'_>>), ApiError> {
    check_arn(arn, "stateMachine")?;
    crate::runtime::arn::split_machine(arn)
        .ok_or_else(|| err(Exception::InvalidArn, format!("Invalid Arn: '{arn}'")))
}

/// `publish`, false when absent.
pub(super) fn publish_flag(req: &Value) -> Result<bool, ApiError> {
    match req.get("publish") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(err(
            Exception::ValidationException,
            "1 validation error detected: Value at 'publish' failed to satisfy constraint: Member must be a boolean",
        )),
    }
}

/// A description of at most 256 characters in field `name`.
fn description_field(req: &Value, name: &str) -> Result<Option<String>, ApiError> {
    let Some(text) = opt_field(req, name)? else {
        return Ok(None);
    };
    if text.chars().count() > 256 {
        return Err(err(
            Exception::ValidationException,
            format!("1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must have length less than or equal to 256"),
        ));
    }
    Ok(Some(text.to_string()))
}

/// `versionDescription` of a create or update request, which needs `publish`.
pub(super) fn version_description(req: &Value) -> Result<Option<String>, ApiError> {
    let description = description_field(req, "versionDescription")?;
    if description.is_some() && !publish_flag(req)? {
        return Err(err(
            Exception::ValidationException,
            "Version description can only be set when publish is true",
        ));
    }
    Ok(description)
}

/// An alias name: 1 to 80 characters of letters, digits, `_`, `-` and `.`, not all digits.
fn check_alias_name(name: &str) -> Result<(), ApiError> {
    let invalid = |constraint: &str| {
        err(
            Exception::ValidationException,
            format!("1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: {constraint}"),
        )
    };
    if name.is_empty() {
        return Err(invalid(
            "Member must have length greater than or equal to 1",
        ));
    }
    if name.chars().count() > 80 {
        return Err(invalid("Member must have length less than or equal to 80"));
    }
    let allowed = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !allowed || name.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid(
            r"Member must satisfy regular expression pattern: ^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$",
        ));
    }
    Ok(())
}

/// The `routingConfiguration` of an alias request, checked as AWS checks it; with the ARN of
/// the state machine its versions belong to.
fn routing_of(req: &Value) -> Result<(Vec<(String, u32)>, String), ApiError> {
    let invalid = |message: String| err(Exception::ValidationException, message);
    let items = match req.get("routingConfiguration") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => {
            return Err(invalid("1 validation error detected: Value null at 'routingConfiguration' failed to satisfy constraint: Member must not be null".into()))
        }
        Some(_) => {
            return Err(invalid("1 validation error detected: Value at 'routingConfiguration' failed to satisfy constraint: Member must be a list".into()))
        }
    };
    let mut routes = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let arn = field(item, "stateMachineVersionArn")?.to_string();
        let weight = match item.get("weight").and_then(Value::as_i64) {
            Some(w) if (0..=100).contains(&w) => w as u32,
            Some(w) => {
                let bound = if w < 0 {
                    "greater than or equal to 0"
                } else {
                    "less than or equal to 100"
                };
                return Err(invalid(format!(
                    "1 validation error detected: Value '{w}' at 'routingConfiguration.{}.member.weight' failed to satisfy constraint: Member must have value {bound}",
                    i + 1
                )));
            }
            None => {
                return Err(invalid(format!(
                    "1 validation error detected: Value null at 'routingConfiguration.{}.member.weight' failed to satisfy constraint: Member must not be null",
                    i + 1
                )))
            }
        };
        routes.push((arn, weight));
    }
    if routes.is_empty() || routes.len() > 2 {
        let listed: Vec<String> = routes
            .iter()
            .map(|(a, w)| {
                format!("RoutingConfigurationListItem(stateMachineVersionArn={a}, weight={w})")
            })
            .collect();
        let bound = if routes.is_empty() {
            "greater than or equal to 1"
        } else {
            "less than or equal to 2"
        };
        return Err(invalid(format!(
            "1 validation error detected: Value '[{}]' at 'routingConfiguration' failed to satisfy constraint: Member must have length {bound}",
            listed.join(", ")
        )));
    }
    let arns: Vec<&str> = routes.iter().map(|(a, _)| a.as_str()).collect();
    let received = arns.join(", ");
    let mut machines = Vec::new();
    for arn in &arns {
        match split_qualified(arn) {
            Ok((machine, Some(Qualifier::Version(_)))) => machines.push(machine.to_string()),
            _ => {
                return Err(invalid(format!(
                    "Routing configuration must contain state machine version ARNs. Received: [{received}]"
                )))
            }
        }
    }
    if arns.len() == 2 && arns[0] == arns[1] {
        return Err(invalid(format!(
            "Routing configuration must contain distinct state machine version ARNs. Received: [{received}]"
        )));
    }
    if machines.iter().any(|m| m != &machines[0]) {
        return Err(invalid(format!(
            "Routing configuration must contain state machine version ARNs of the same state machine. Received: [{received}]"
        )));
    }
    if routes.iter().map(|(_, w)| w).sum::<u32>() != 100 {
        let weights: Vec<String> = routes.iter().map(|(_, w)| w.to_string()).collect();
        return Err(invalid(format!(
            "Sum of routing configuration weights must equal 100. Received: [{}]",
            weights.join(", ")
        )));
    }
    Ok((routes, machines.swap_remove(0)))
}

fn no_such_resource() -> ApiError {
    err(
        Exception::ResourceNotFound,
        "Request references a resource that does not exist.",
    )
}

fn alias_json(machine_arn: &str, a: &AliasRecord) -> Value {
    let mut out = json!({
        "stateMachineAliasArn": format!("{machine_arn}:{}", a.name),
        "name": a.name,
        "routingConfiguration": a.routing.iter().map(|(arn, weight)| {
            json!({"stateMachineVersionArn": arn, "weight": weight})
        }).collect::<Vec<_>>(),
        "creationDate": epoch(a.created),
        "updateDate": epoch(a.updated),
    });
    if let Some(d) = &a.description {
        out["description"] = json!(d);
    }
    out
}

impl Service {
    /// Publishes `m`'s current revision as a version (or answers the version already
    /// published of it), and stores `m`. The caller holds `publishing`.
    pub(super) async fn publish(
        &self,
        m: &mut MachineRecord,
        description: Option<String>,
        now: i64,
    ) -> Result<MachineRecord, ApiError> {
        let revision = m.config.revision_id.clone();
        if let Some(existing) = m
            .published
            .versions
            .iter()
            .find(|v| v.revision_id == revision)
        {
            let arn = format!("{}:{}", m.arn, existing.number);
            self.store.put_machine(m).await?;
            return self
                .store
                .get_machine(&arn)
                .await?
                .ok_or_else(|| machine_not_found(&arn));
        }
        if m.published.versions.len() >= MAX_VERSIONS {
            return Err(err(
                Exception::ServiceQuotaExceededException,
                format!(
                    "The maximum number of versions ({MAX_VERSIONS}) for state machine '{}' has been reached",
                    m.arn
                ),
            ));
        }
        let number = m.published.last + 1;
        let mut version = m.clone();
        version.arn = format!("{}:{number}", m.arn);
        version.created = now;
        version.tags.clear();
        version.published = Default::default();
        version.version = Some(VersionOf {
            machine_arn: m.arn.clone(),
            number,
            description,
        });
        // The version first: until the machine's record counts it, it is not listed and the
        // next publish takes its number again.
        self.store.put_machine(&version).await?;
        m.published.last = number;
        m.published.versions.push(VersionEntry {
            number,
            created: now,
            revision_id: revision,
        });
        self.store.put_machine(m).await?;
        Ok(version)
    }

    /// The state machine (not a version) `arn` names.
    async fn unqualified_machine(&self, arn: &str) -> Result<MachineRecord, ApiError> {
        let m = self.machine(arn).await?;
        if m.version.is_some() {
            return Err(machine_not_found(arn));
        }
        Ok(m)
    }

    pub(super) async fn publish_version(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "stateMachineArn")?;
        let description = description_field(req, "description")?;
        let _publishing = self.publishing.lock().await;
        let mut m = self.unqualified_machine(arn).await?;
        if let Some(expected) = opt_field(req, "revisionId")? {
            let current = m.config.revision_id.as_deref();
            if current != Some(expected) {
                return Err(err(
                    Exception::ConflictException,
                    format!(
                        "Failed to publish the State Machine version for revision {expected}. The current State Machine revision is {}.",
                        current.unwrap_or("null")
                    ),
                ));
            }
        }
        let version = self.publish(&mut m, description, now_ms()).await?;
        Ok(json!({"stateMachineVersionArn": version.arn, "creationDate": epoch(version.created)}))
    }

    pub(super) async fn list_versions(&self, req: &Value) -> Result<Value, ApiError> {
        let m = self
            .unqualified_machine(field(req, "stateMachineArn")?)
            .await?;
        // Newest first, as AWS lists them.
        let items: Vec<Value> = m
            .published
            .versions
            .iter()
            .rev()
            .map(|v| {
                json!({
                    "stateMachineVersionArn": format!("{}:{}", m.arn, v.number),
                    "creationDate": epoch(v.created),
                })
            })
            .collect();
        with_page(Map::new(), "stateMachineVersions", items, req)
    }

    pub(super) async fn delete_version(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "stateMachineVersionArn")?;
        let (machine_arn, qualifier) = split_qualified(arn)?;
        let Some(Qualifier::Version(number)) = qualifier else {
            return Err(err(
                Exception::ValidationException,
                format!("Invalid version ARN: '{arn}'"),
            ));
        };
        let _publishing = self.publishing.lock().await;
        let Some(mut m) = self.store.get_machine(machine_arn).await? else {
            return Ok(json!({}));
        };
        let users: Vec<&str> = m
            .published
            .aliases
            .iter()
            .filter(|a| a.routing.iter().any(|(v, _)| v == arn))
            .map(|a| a.name.as_str())
            .collect();
        if !users.is_empty() {
            return Err(err(
                Exception::ConflictException,
                format!(
                    "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                    users.join(", ")
                ),
            ));
        }
        let before = m.published.versions.len();
        m.published.versions.retain(|v| v.number != number);
        if m.published.versions.len() != before {
            // Unlisted first: a failure in between leaves a version no one can reach, which a
            // retry deletes.
            self.store.put_machine(&m).await?;
        }
        self.store.delete_machine(arn).await?;
        Ok(json!({}))
    }

    pub(super) async fn create_alias(&self, req: &Value) -> Result<Value, ApiError> {
        let name = field(req, "name")?;
        check_alias_name(name)?;
        let description = description_field(req, "description")?;
        let (routing, machine_arn) = routing_of(req)?;
        let _publishing = self.publishing.lock().await;
        let mut m = self.unqualified_machine(&machine_arn).await?;
        for (version, _) in &routing {
            if self.store.get_machine(version).await?.is_none() {
                return Err(no_such_resource());
            }
        }
        let alias_arn = format!("{}:{name}", m.arn);
        if let Some(existing) = m.published.aliases.iter().find(|a| a.name == name) {
            if existing.routing == routing && existing.description == description {
                return Ok(
                    json!({"stateMachineAliasArn": alias_arn, "creationDate": epoch(existing.created)}),
                );
            }
            return Err(err(
                Exception::ConflictException,
                "Failed to create alias because an alias with the same name and a different routing configuration already exists.",
            ));
        }
        if m.published.aliases.len() >= MAX_ALIASES {
            return Err(err(
                Exception::ServiceQuotaExceededException,
                format!(
                    "The maximum number of aliases ({MAX_ALIASES}) for state machine '{}' has been reached",
                    m.arn
                ),
            ));
        }
        let now = now_ms();
        m.published.aliases.push(AliasRecord {
            name: name.to_string(),
            description,
            routing,
            created: now,
            updated: now,
        });
        self.store.put_machine(&m).await?;
        Ok(json!({"stateMachineAliasArn": alias_arn, "creationDate": epoch(now)}))
    }

    /// The machine an alias ARN belongs to and the alias's place in it.
    async fn alias(&self, arn: &str) -> Result<(MachineRecord, usize), ApiError> {
        let (machine_arn, qualifier) = split_qualified(arn)?;
        let Some(Qualifier::Alias(name)) = qualifier else {
            return Err(no_such_resource());
        };
        let m = self
            .store
            .get_machine(machine_arn)
            .await?
            .ok_or_else(no_such_resource)?;
        let at = m
            .published
            .aliases
            .iter()
            .position(|a| a.name == name)
            .ok_or_else(no_such_resource)?;
        Ok((m, at))
    }

    pub(super) async fn describe_alias(&self, req: &Value) -> Result<Value, ApiError> {
        let (m, at) = self.alias(field(req, "stateMachineAliasArn")?).await?;
        Ok(alias_json(&m.arn, &m.published.aliases[at]))
    }

    pub(super) async fn update_alias(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "stateMachineAliasArn")?;
        let description = description_field(req, "description")?;
        let routing = match req.get("routingConfiguration") {
            None | Some(Value::Null) => None,
            Some(_) => Some(routing_of(req)?),
        };
        if description.is_none() && routing.is_none() {
            return Err(err(
                Exception::MissingRequiredParameter,
                "Either the description or the RoutingConfiguration must be specified",
            ));
        }
        let _publishing = self.publishing.lock().await;
        let (mut m, at) = self.alias(arn).await?;
        if let Some((routes, machine_arn)) = &routing {
            if machine_arn != &m.arn {
                return Err(err(
                    Exception::ValidationException,
                    format!("Routing configuration must contain state machine version ARNs of the state machine of alias '{arn}'"),
                ));
            }
            for (version, _) in routes {
                if self.store.get_machine(version).await?.is_none() {
                    return Err(no_such_resource());
                }
            }
        }
        let now = now_ms();
        let alias = &mut m.published.aliases[at];
        if let Some(d) = description {
            alias.description = Some(d);
        }
        if let Some((routes, _)) = routing {
            alias.routing = routes;
        }
        alias.updated = now;
        self.store.put_machine(&m).await?;
        Ok(json!({"updateDate": epoch(now)}))
    }

    pub(super) async fn delete_alias(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "stateMachineAliasArn")?;
        let _publishing = self.publishing.lock().await;
        match self.alias(arn).await {
            Ok((mut m, at)) => {
                m.published.aliases.remove(at);
                self.store.put_machine(&m).await?;
                Ok(json!({}))
            }
            Err(e) if e.kind == Exception::ResourceNotFound => Ok(json!({})),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn list_aliases(&self, req: &Value) -> Result<Value, ApiError> {
        let m = self
            .unqualified_machine(field(req, "stateMachineArn")?)
            .await?;
        let items: Vec<Value> = m
            .published
            .aliases
            .iter()
            .map(|a| {
                json!({
                    "stateMachineAliasArn": format!("{}:{}", m.arn, a.name),
                    "creationDate": epoch(a.created),
                })
            })
            .collect();
        with_page(Map::new(), "stateMachineAliases", items, req).map_err(|mut e| {
            if e.kind == Exception::InvalidToken {
                // AWS words this one without the token.
                e.message = "Invalid Token: 'Invalid token'".into();
            }
            e
        })
    }

    /// What a start through `arn` runs: the state machine or version record, and the alias
    /// ARN when `arn` is an alias (which picked the version by its weights).
    pub(super) async fn start_target(
        &self,
        arn: &str,
    ) -> Result<(MachineRecord, Option<String>), ApiError> {
        split_qualified(arn)?;
        match crate::runtime::durable::start_target(&self.store, arn).await? {
            Some(target) => Ok((target.machine, target.alias)),
            None => Err(machine_not_found(arn)),
        }
    }

    /// The executions ListExecutions lists for `arn`: a state machine's, or those started
    /// through one of its versions or aliases.
    pub(super) async fn executions_of(
        &self,
        arn: &str,
    ) -> Result<(MachineRecord, Vec<crate::store::ExecutionRecord>), ApiError> {
        let (machine_arn, qualifier) = split_qualified(arn)?;
        let m = match qualifier {
            None => self.machine(arn).await?,
            Some(Qualifier::Version(_)) => self.machine(arn).await?,
            Some(Qualifier::Alias(_)) => {
                self.alias(arn).await.map_err(|_| machine_not_found(arn))?.0
            }
        };
        let mut records = self.store.list_executions(machine_arn).await?;
        match qualifier {
            None => {}
            Some(Qualifier::Version(_)) => {
                records.retain(|r| r.info.origin.version_arn.as_deref() == Some(arn));
            }
            Some(Qualifier::Alias(_)) => {
                records.retain(|r| r.info.origin.alias_arn.as_deref() == Some(arn));
            }
        }
        Ok((m, records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_arns_must_be_state_machine_arns() {
        assert_eq!(
            split_qualified("arn:aws:states:us-east-1:1:activity:a")
                .expect_err("not a machine")
                .kind,
            Exception::InvalidArn
        );
    }

    #[test]
    fn alias_names_follow_aws_pattern() {
        for good in ["prod", "a.b-c_d", "v2", "1a"] {
            check_alias_name(good).expect(good);
        }
        for bad in [
            "123",
            "",
            "INVALID ALIAS",
            "!INVALID",
            "ALIAS@",
            &"A".repeat(81),
        ] {
            let e = check_alias_name(bad).expect_err(bad);
            assert_eq!(e.kind, Exception::ValidationException, "{bad}");
        }
    }
}
