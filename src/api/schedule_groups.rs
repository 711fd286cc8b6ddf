//! EventBridge Scheduler's schedule groups and their tags: CreateScheduleGroup,
//! GetScheduleGroup, DeleteScheduleGroup (with its schedules), ListScheduleGroups, and
//! TagResource, UntagResource, ListTagsForResource (which the service takes for groups only).
//!
//! The `default` group always exists: it is stored only once it has tags. A group's tags
//! `stepfn:catch-up` and `stepfn:overlap` set stepfn's own policies of its schedules (checked
//! here, copied into each schedule, so the sweep reads one document): tagging sets them on the
//! group's schedules, untagging puts them back to the defaults (`none`, `allow`).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::scheduler_input::{
    check_catch_up, check_overlap, check_resource_name, constraint, invalid, key_page, missing,
    name_member, opt_str, req_str,
};
use super::schedules::{corrupt, CAS_ATTEMPTS, DEFAULT_GROUP};
use super::*;
use crate::scheduler::record::GROUP_KIND;
use crate::store::Expect;

/// The group tag that sets its schedules' catch-up policy.
pub const CATCH_UP_TAG: &str = "stepfn:catch-up";
/// The group tag that sets its schedules' overlap policy.
pub const OVERLAP_TAG: &str = "stepfn:overlap";

/// A schedule group, as stored (kind [`GROUP_KIND`], key its name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupRecord {
    name: String,
    arn: String,
    /// ms since the epoch; `None` for the default group, which nobody created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    modified: Option<i64>,
    /// Key and value, in the order they were first set.
    #[serde(default)]
    tags: Vec<(String, String)>,
}

impl GroupRecord {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        let mut out = json!({"Arn": self.arn, "Name": self.name, "State": "ACTIVE"});
        if let Some(created) = self.created {
            out["CreationDate"] = epoch(created);
        }
        if let Some(modified) = self.modified {
            out["LastModificationDate"] = epoch(modified);
        }
        out
    }
}

/// `arn:aws:scheduler:<region>:<account>:schedule-group/<name>`.
pub(super) fn group_arn(place: &arn::Place, name: &str) -> String {
    format!(
        "arn:aws:scheduler:{}:{}:schedule-group/{name}",
        place.region, place.account
    )
}

fn group_not_found(name: &str) -> ApiError {
    err(
        Exception::ResourceNotFoundException,
        format!("Schedule group {name} does not exist."),
    )
}

fn read_group(resource: &crate::store::Resource) -> Result<GroupRecord, ApiError> {
    serde_json::from_value(resource.body.clone()).map_err(|e| corrupt(GROUP_KIND, &resource.key, e))
}

/// Group `name` as stored with its version; the default group unstored is `None`, any other
/// missing group ResourceNotFoundException.
async fn load_versioned(
    service: &Service,
    name: &str,
) -> Result<Option<(GroupRecord, u64)>, ApiError> {
    match service.store.get_resource(GROUP_KIND, name).await? {
        Some(resource) => Ok(Some((read_group(&resource)?, resource.version))),
        None if name == DEFAULT_GROUP => Ok(None),
        None => Err(group_not_found(name)),
    }
}

/// Group `name` as stored (`None`: the default group, with no tags); ResourceNotFoundException
/// when another group does not exist.
pub(super) async fn load_group(
    service: &Service,
    name: &str,
) -> Result<Option<GroupRecord>, ApiError> {
    Ok(load_versioned(service, name).await?.map(|(group, _)| group))
}

/// The catch-up and overlap policies the group's tags set, if they do.
pub(super) fn group_policies(group: Option<&GroupRecord>) -> (Option<String>, Option<String>) {
    match group {
        Some(g) => (
            g.tag(CATCH_UP_TAG).map(str::to_string),
            g.tag(OVERLAP_TAG).map(str::to_string),
        ),
        None => (None, None),
    }
}

/// The request's `Tags`, checked (stepfn's policy tags included).
fn tags_member(req: &Value) -> Result<Vec<(String, String)>, ApiError> {
    let tags = match req.get("Tags") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(tags)) => tags,
        Some(other) => return Err(constraint(other, "tags", "Member must be a list")),
    };
    if tags.len() > 200 {
        return Err(constraint(
            &json!(tags),
            "tags",
            "Member must have length less than or equal to 200",
        ));
    }
    let mut out = Vec::new();
    for tag in tags {
        let key = req_str(tag, "Key", "Tags.member.Key", 1, 128)?;
        let value = req_str(tag, "Value", "Tags.member.Value", 1, 256)?;
        match key {
            CATCH_UP_TAG => {
                check_catch_up(value, &format!("tag {CATCH_UP_TAG} value"))?;
            }
            OVERLAP_TAG => {
                check_overlap(value, &format!("tag {OVERLAP_TAG} value"))?;
            }
            _ => {}
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// The group a `ResourceArn` names (the model's `TagResourceArn` pattern).
fn tagged_group(req: &Value) -> Result<&str, ApiError> {
    static PATTERN: OnceLock<regex::Regex> = OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        regex::Regex::new(
            r"^arn:aws[a-z-]*:scheduler:[a-z0-9\-]+:\d{12}:schedule-group/([0-9a-zA-Z\-_.]+)$",
        )
        .expect("the TagResourceArn pattern compiles")
    });
    let arn = req_str(req, "ResourceArn", "ResourceArn", 1, 1011)?;
    pattern
        .captures(arn)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
        .ok_or_else(|| {
            constraint(
                &json!(arn),
                "resourceArn",
                r"Member must satisfy regular expression pattern: arn:aws[a-z-]*:scheduler:[a-z0-9\-]+:\d{12}:schedule-group\/[0-9a-zA-Z-_.]+",
            )
        })
}

impl Service {
    pub(super) async fn create_schedule_group(
        &self,
        req: &Value,
        place: &arn::Place,
    ) -> Result<Value, ApiError> {
        let name = name_member(req, "Name")?;
        let tags = tags_member(req)?;
        opt_str(req, "ClientToken", "ClientToken", 1, 64)?;
        let exists = || {
            err(
                Exception::ConflictException,
                format!("Schedule group {name} already exists."),
            )
        };
        if name == DEFAULT_GROUP {
            return Err(exists());
        }
        let now = now_ms();
        let group = GroupRecord {
            name: name.to_string(),
            arn: group_arn(place, name),
            created: Some(now),
            modified: Some(now),
            tags,
        };
        let body = serde_json::to_value(&group).expect("a group record serializes");
        match self
            .store
            .put_resource(GROUP_KIND, name, &body, Expect::Absent)
            .await?
        {
            Some(_) => Ok(json!({"ScheduleGroupArn": group.arn})),
            None => Err(exists()),
        }
    }

    pub(super) async fn get_schedule_group(
        &self,
        req: &Value,
        place: &arn::Place,
    ) -> Result<Value, ApiError> {
        let name = name_member(req, "Name")?;
        Ok(match load_group(self, name).await? {
            Some(group) => group.json(),
            None => default_group(place).json(),
        })
    }

    pub(super) async fn delete_schedule_group(&self, req: &Value) -> Result<Value, ApiError> {
        let name = name_member(req, "Name")?;
        opt_str(req, "ClientToken", "ClientToken", 1, 64)?;
        if name == DEFAULT_GROUP {
            return Err(invalid("The default schedule group cannot be deleted."));
        }
        load_group(self, name).await?;
        self.delete_group_schedules(name).await?;
        if self
            .store
            .delete_resource(GROUP_KIND, name, Expect::Present)
            .await?
        {
            Ok(json!({}))
        } else {
            Err(group_not_found(name))
        }
    }

    pub(super) async fn list_schedule_groups(
        &self,
        req: &Value,
        place: &arn::Place,
    ) -> Result<Value, ApiError> {
        let prefix = opt_str(req, "NamePrefix", "NamePrefix", 1, 64)?;
        if let Some(prefix) = prefix {
            check_resource_name(prefix, "NamePrefix")?;
        }
        let mut groups: Vec<GroupRecord> = Vec::new();
        for resource in self.store.list_resources(GROUP_KIND).await? {
            groups.push(read_group(&resource)?);
        }
        if !groups.iter().any(|g| g.name == DEFAULT_GROUP) {
            groups.push(default_group(place));
        }
        // The default group first, then by name (the page token is the key, so "" sorts it
        // first).
        let mut items: Vec<(String, Value)> = groups
            .iter()
            .filter(|g| prefix.is_none_or(|p| g.name.starts_with(p)))
            .map(|g| {
                let key = if g.name == DEFAULT_GROUP {
                    String::new()
                } else {
                    format!("~{}", g.name)
                };
                (key, g.json())
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (page, token) = key_page(req, items)?;
        let mut out = json!({"ScheduleGroups": page});
        if let Some(token) = token {
            out["NextToken"] = json!(token);
        }
        Ok(out)
    }

    /// Changes the tags of the group `ResourceArn` names with `change` (CAS on its version; the
    /// default group is stored at its first tag), then carries stepfn's policy tags to its
    /// schedules.
    async fn retag_group(
        &self,
        req: &Value,
        place: &arn::Place,
        change: impl Fn(&mut Vec<(String, String)>),
    ) -> Result<Value, ApiError> {
        let name = tagged_group(req)?;
        for _ in 0..CAS_ATTEMPTS {
            let (mut group, expect) = match load_versioned(self, name).await? {
                Some((group, version)) => (group, Expect::Version(version)),
                None => (default_group(place), Expect::Absent),
            };
            let before = group_policies(Some(&group));
            change(&mut group.tags);
            let after = group_policies(Some(&group));
            let body = serde_json::to_value(&group).expect("a group record serializes");
            if self
                .store
                .put_resource(GROUP_KIND, name, &body, expect)
                .await?
                .is_some()
            {
                let changes = (
                    policy_change(before.0, after.0, "none"),
                    policy_change(before.1, after.1, "allow"),
                );
                self.apply_group_policies(name, changes).await?;
                return Ok(json!({}));
            }
        }
        Err(err(
            Exception::ConflictException,
            format!("Schedule group {name} changed while it was being tagged; try again."),
        ))
    }

    pub(super) async fn tag_schedule_group(
        &self,
        req: &Value,
        place: &arn::Place,
    ) -> Result<Value, ApiError> {
        tagged_group(req)?;
        if req.get("Tags").is_none_or(Value::is_null) {
            return Err(missing("Tags"));
        }
        let tags = tags_member(req)?;
        self.retag_group(req, place, |current| {
            for (key, value) in &tags {
                match current.iter_mut().find(|(k, _)| k == key) {
                    Some(existing) => existing.1 = value.clone(),
                    None => current.push((key.clone(), value.clone())),
                }
            }
        })
        .await
    }

    pub(super) async fn untag_schedule_group(
        &self,
        req: &Value,
        place: &arn::Place,
    ) -> Result<Value, ApiError> {
        tagged_group(req)?;
        let keys: Vec<String> = match req.get("TagKeys") {
            None | Some(Value::Null) => return Err(missing("TagKeys")),
            Some(Value::String(key)) => vec![key.clone()],
            Some(Value::Array(keys)) => keys
                .iter()
                .map(|k| {
                    k.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| constraint(k, "tagKeys.member", "Member must be a string"))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(constraint(other, "tagKeys", "Member must be a list")),
        };
        self.retag_group(req, place, |current| {
            current.retain(|(k, _)| !keys.contains(k))
        })
        .await
    }

    pub(super) async fn list_schedule_group_tags(&self, req: &Value) -> Result<Value, ApiError> {
        let name = tagged_group(req)?;
        let tags = match load_group(self, name).await? {
            Some(group) => group.tags,
            None => Vec::new(),
        };
        let tags: Vec<Value> = tags
            .into_iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        Ok(json!({ "Tags": tags }))
    }
}

/// What a schedule's policy becomes when its group's tag goes from `before` to `after`: the new
/// value, the default when the tag was removed, `None` when it stays as it is.
fn policy_change(before: Option<String>, after: Option<String>, default: &str) -> Option<String> {
    match (before, after) {
        (before, Some(after)) if before.as_ref() != Some(&after) => Some(after),
        (Some(_), None) => Some(default.to_string()),
        _ => None,
    }
}

/// The default group as it is before anyone tags it.
fn default_group(place: &arn::Place) -> GroupRecord {
    GroupRecord {
        name: DEFAULT_GROUP.to_string(),
        arn: group_arn(place, DEFAULT_GROUP),
        created: None,
        modified: None,
        tags: Vec::new(),
    }
}
