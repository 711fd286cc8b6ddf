//! Tags of state machines: TagResource, UntagResource, ListTagsForResource.

use super::*;

impl Service {
    pub(super) async fn tag_resource(&self, req: &Value) -> Result<Value, ApiError> {
        let mut m = self
            .machine(field(req, "resourceArn")?)
            .await
            .map_err(not_found_resource)?;
        for (k, v) in tags_of(req)? {
            m.tags.insert(k, v);
        }
        self.store.put_machine(&m).await?;
        Ok(json!({}))
    }

    pub(super) async fn untag_resource(&self, req: &Value) -> Result<Value, ApiError> {
        let mut m = self
            .machine(field(req, "resourceArn")?)
            .await
            .map_err(not_found_resource)?;
        for k in req
            .get("tagKeys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = k.as_str() {
                m.tags.remove(k);
            }
        }
        self.store.put_machine(&m).await?;
        Ok(json!({}))
    }

    pub(super) async fn list_tags(&self, req: &Value) -> Result<Value, ApiError> {
        let m = self
            .machine(field(req, "resourceArn")?)
            .await
            .map_err(not_found_resource)?;
        let tags: Vec<Value> = m
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        Ok(json!({"tags": tags}))
    }
}
