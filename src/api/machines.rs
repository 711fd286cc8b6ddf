//! State machine operations: create, describe, update, delete, list.

use super::versions::{publish_flag, version_description};
use super::*;
use crate::store::revision_key;

pub(super) fn machine_not_found(arn: &str) -> ApiError {
    err(
        Exception::StateMachineDoesNotExist,
        format!("State Machine Does Not Exist: '{arn}'"),
    )
}

impl Service {
    /// The state machine or version `arn` names.
    pub(super) async fn machine(&self, arn: &str) -> Result<MachineRecord, ApiError> {
        check_arn(arn, "stateMachine")?;
        self.store
            .get_machine(arn)
            .await?
            .ok_or_else(|| machine_not_found(arn))
    }

    pub(super) async fn create_state_machine(
        &self,
        req: &Value,
        place: &arn::Place,
    ) -> Result<Value, ApiError> {
        let name = field(req, "name")?;
        check_name(name)?;
        let text = field(req, "definition")?;
        let definition = parse_definition(text)?;
        let role = opt_field(req, "roleArn")?.map_or_else(|| place.default_role(), str::to_string);
        let kind = opt_field(req, "type")?.unwrap_or("STANDARD").to_string();
        if kind != "STANDARD" && kind != "EXPRESS" {
            return Err(err(Exception::ValidationException,
                format!("1 validation error detected: Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"),
            ));
        }
        check_express(&kind, &definition)?;
        let arn = place.state_machine(name);
        if let Some(existing) = self.store.get_machine(&arn).await? {
            if existing.definition == definition
                && existing.role_arn == role
                && existing.kind == kind
            {
                return Ok(
                    json!({"stateMachineArn": arn, "creationDate": epoch(existing.created)}),
                );
            }
            return Err(err(
                Exception::StateMachineAlreadyExists,
                format!("State Machine Already Exists: '{arn}'"),
            ));
        }
        let now = now_ms();
        let description = version_description(req)?;
        let mut record = MachineRecord {
            arn: arn.clone(),
            name: name.to_string(),
            definition,
            kind,
            role_arn: role,
            created: now,
            tags: tags_of(req)?.into_iter().collect(),
            definition_text: Some(text.to_string()),
            config: MachineConfig {
                revision_id: None,
                logging: opt_object(req, "loggingConfiguration")?,
                tracing: opt_object(req, "tracingConfiguration")?,
                encryption: opt_object(req, "encryptionConfiguration")?,
            },
            version: None,
            published: Default::default(),
        };
        let _publishing = self.publishing.lock().await;
        let mut out = json!({"stateMachineArn": arn, "creationDate": epoch(now)});
        if publish_flag(req)? {
            let version = self.publish(&mut record, description, now).await?;
            out["stateMachineVersionArn"] = json!(version.arn);
        } else {
            self.store.put_machine(&record).await?;
        }
        Ok(out)
    }

    pub(super) async fn describe_state_machine(&self, req: &Value) -> Result<Value, ApiError> {
        let m = self.machine(field(req, "stateMachineArn")?).await?;
        included_data(req, machine_json(&m))
    }

    pub(super) async fn update_state_machine(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "stateMachineArn")?;
        let _publishing = self.publishing.lock().await;
        let mut m = self.machine(arn).await?;
        if m.version.is_some() {
            return Err(machine_not_found(arn));
        }
        let logging = opt_object(req, "loggingConfiguration")?;
        let tracing = opt_object(req, "tracingConfiguration")?;
        let encryption = opt_object(req, "encryptionConfiguration")?;
        let publish = publish_flag(req)?;
        let description = version_description(req)?;
        let nothing = ["definition", "roleArn"]
            .iter()
            .all(|k| req.get(k).is_none_or(Value::is_null))
            && logging.is_none()
            && tracing.is_none()
            && encryption.is_none();
        if nothing {
            return Err(err(
                Exception::MissingRequiredParameter,
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
            ));
        }
        let before = m.clone();
        if let Some(def) = opt_field(req, "definition")? {
            m.definition = parse_definition(def)?;
            check_express(&m.kind, &m.definition)?;
            m.definition_text = Some(def.to_string());
        }
        if let Some(role) = opt_field(req, "roleArn")? {
            m.role_arn = role.to_string();
        }
        for (slot, value) in [
            (&mut m.config.logging, logging),
            (&mut m.config.tracing, tracing),
            (&mut m.config.encryption, encryption),
        ] {
            if value.is_some() {
                *slot = value;
            }
        }
        // As on AWS: an update that changes nothing makes no new revision (and publishing it
        // again answers the version already published of it).
        let changed = m.definition_text != before.definition_text
            || m.definition != before.definition
            || m.role_arn != before.role_arn
            || m.config != before.config;
        if changed {
            // The replaced revision stays readable for the executions still running it.
            let mut kept = before.clone();
            kept.arn = revision_key(&before.arn, before.config.revision_id.as_deref());
            kept.published = Default::default();
            self.store.put_machine(&kept).await?;
            m.published.kept_revisions.push(kept.arn);
            m.config.revision_id = Some(uuid::Uuid::new_v4().to_string());
        }
        let now = now_ms();
        let mut out = json!({"updateDate": epoch(now)});
        if let Some(revision) = &m.config.revision_id {
            out["revisionId"] = json!(revision);
        }
        if publish {
            let version = self.publish(&mut m, description, now).await?;
            out["stateMachineVersionArn"] = json!(version.arn);
        } else if changed {
            self.store.put_machine(&m).await?;
        }
        Ok(out)
    }

    pub(super) async fn delete_state_machine(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "stateMachineArn")?;
        check_arn(arn, "stateMachine")?;
        let _publishing = self.publishing.lock().await;
        // Its versions (and with the record, its aliases) go with it, as on AWS.
        if let Some(m) = self.store.get_machine(arn).await? {
            if m.version.is_none() {
                for v in &m.published.versions {
                    self.store
                        .delete_machine(&format!("{arn}:{}", v.number))
                        .await?;
                }
                for kept in &m.published.kept_revisions {
                    self.store.delete_machine(kept).await?;
                }
            }
        }
        self.store.delete_machine(arn).await?;
        Ok(json!({}))
    }

    pub(super) async fn list_state_machines(&self, req: &Value) -> Result<Value, ApiError> {
        // AWS lists state machines by name.
        let mut machines = self.store.list_machines().await?;
        // A Distributed Map's child machine (`<machine>/<label>`) is not listed.
        machines.retain(|m| m.is_machine() && !m.name.contains('/'));
        machines.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.arn.cmp(&b.arn)));
        let items: Vec<Value> = machines
            .iter()
            .map(|m| {
                json!({"stateMachineArn": m.arn, "name": m.name, "type": m.kind, "creationDate": epoch(m.created)})
            })
            .collect();
        with_page(Map::new(), "stateMachines", items, req)
    }
}
