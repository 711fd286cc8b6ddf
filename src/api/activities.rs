//! Activity operations: create, describe, list, delete, and GetActivityTask.

use super::*;

impl Service {
    pub(super) async fn activity(&self, arn: &str) -> Result<ActivityRecord, ApiError> {
        check_arn(arn, "activity")?;
        self.store.get_activity(arn).await?.ok_or_else(|| {
            err(
                Exception::ActivityDoesNotExist,
                format!("Activity Does Not Exist: '{arn}'"),
            )
        })
    }

    pub(super) async fn create_activity(
        &self,
        req: &Value,
        place: &arn::Place,
    ) -> Result<Value, ApiError> {
        let name = field(req, "name")?;
        check_name(name)?;
        let arn = place.activity(name);
        if let Some(existing) = self.store.get_activity(&arn).await? {
            return Ok(json!({"activityArn": arn, "creationDate": epoch(existing.created)}));
        }
        let now = now_ms();
        let record = ActivityRecord {
            arn: arn.clone(),
            name: name.to_string(),
            created: now,
            tags: tags_of(req)?.into_iter().collect(),
        };
        self.store.put_activity(&record).await?;
        Ok(json!({"activityArn": arn, "creationDate": epoch(now)}))
    }

    pub(super) async fn describe_activity(&self, req: &Value) -> Result<Value, ApiError> {
        let a = self.activity(field(req, "activityArn")?).await?;
        Ok(json!({"activityArn": a.arn, "name": a.name, "creationDate": epoch(a.created)}))
    }

    pub(super) async fn list_activities(&self, req: &Value) -> Result<Value, ApiError> {
        let items: Vec<Value> = self
            .store
            .list_activities()
            .await?
            .iter()
            .map(
                |a| json!({"activityArn": a.arn, "name": a.name, "creationDate": epoch(a.created)}),
            )
            .collect();
        with_page(Map::new(), "activities", items, req)
    }

    pub(super) async fn delete_activity(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "activityArn")?;
        check_arn(arn, "activity")?;
        self.store.delete_activity(arn).await?;
        Ok(json!({}))
    }

    /// GetActivityTask: a long poll of up to 60 s, as on AWS; `{}` when nothing came.
    pub(super) async fn get_activity_task(&self, req: &Value) -> Result<Value, ApiError> {
        let arn = field(req, "activityArn")?;
        let worker_name = opt_field(req, "workerName")?.map(str::to_string);
        self.activity(arn).await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(task) = self.store.take_activity_task(arn).await? {
                crate::runtime::telemetry::activity_taken(
                    &task.token,
                    arn,
                    task.enqueued,
                    now_ms(),
                );
                // The execution records ActivityStarted with the worker's name.
                if let Some((execution, frame, wait)) =
                    crate::engine::task::parse_task_token(&task.token)
                {
                    let message = InboxMessage {
                        frame,
                        wait,
                        kind: InboxKind::Started {
                            worker_name: worker_name.clone(),
                        },
                        time: now_ms(),
                    };
                    self.store.deliver(&execution, &message).await?;
                }
                return Ok(json!({
                    "taskToken": task.token,
                    "input": serde_json::to_string(&task.input).unwrap_or_default(),
                }));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(json!({}));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
