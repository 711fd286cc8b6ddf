//! Tags of state machines and activities: TagResource, UntagResource, ListTagsForResource.

use std::collections::BTreeMap;

use super::*;

/// A taggable resource, read for a tag operation.
enum Tagged {
    Machine(Box<MachineRecord>),
    Activity(ActivityRecord),
}

impl Tagged {
    fn tags(&mut self) -> &mut BTreeMap<String, String> {
        match self {
            Tagged::Machine(m) => &mut m.tags,
            Tagged::Activity(a) => &mut a.tags,
        }
    }
}

impl Service {
    /// The state machine or activity `resourceArn` names; ResourceNotFound if there is none.
    async fn tagged(&self, req: &Value) -> Result<Tagged, ApiError> {
        let arn = field(req, "resourceArn")?;
        let missing = || {
            err(
                Exception::ResourceNotFound,
                format!("Resource not found: '{arn}'"),
            )
        };
        if StatesArn::parse(arn).is_some_and(|a| a.kind == "activity") {
            let activity = self.store.get_activity(arn).await?.ok_or_else(missing)?;
            return Ok(Tagged::Activity(activity));
        }
        let machine = self.machine(arn).await.map_err(not_found_resource)?;
        Ok(Tagged::Machine(Box::new(machine)))
    }

    async fn store_tagged(&self, resource: &Tagged) -> Result<(), ApiError> {
        match resource {
            Tagged::Machine(m) => self.store.put_machine(m).await?,
            Tagged::Activity(a) => self.store.put_activity(a).await?,
        }
        Ok(())
    }

    pub(super) async fn tag_resource(&self, req: &Value) -> Result<Value, ApiError> {
        let mut resource = self.tagged(req).await?;
        for (k, v) in tags_of(req)? {
            resource.tags().insert(k, v);
        }
        self.store_tagged(&resource).await?;
        Ok(json!({}))
    }

    pub(super) async fn untag_resource(&self, req: &Value) -> Result<Value, ApiError> {
        let mut resource = self.tagged(req).await?;
        for k in req
            .get("tagKeys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = k.as_str() {
                resource.tags().remove(k);
            }
        }
        self.store_tagged(&resource).await?;
        Ok(json!({}))
    }

    pub(super) async fn list_tags(&self, req: &Value) -> Result<Value, ApiError> {
        let mut resource = self.tagged(req).await?;
        let tags: Vec<Value> = resource
            .tags()
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        Ok(json!({"tags": tags}))
    }
}
