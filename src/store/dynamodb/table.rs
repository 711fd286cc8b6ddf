//! The table and its indexes: created, checked and upgraded by `init`.

use super::*;

impl DynamoStore {
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
    pub(super) async fn add_index(
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

    pub(super) async fn describe(&self) -> Result<Option<TableDescription>, StoreError> {
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
}

/// A global secondary index of the table.
pub(super) struct IndexSpec {
    /// Its name.
    pub(super) name: &'static str,
    /// What it is for, in the log.
    pub(super) purpose: &'static str,
    /// The partition key attribute.
    pub(super) hash: &'static str,
    /// The sort key attribute.
    pub(super) range: &'static str,
    /// The attributes it copies besides the keys.
    pub(super) projected: &'static [&'static str],
}

/// The indexes `init` makes. Only attributes that rarely change are projected into the
/// executions index, so a commit (which changes `version`, the lease, the due time) does not
/// write to it until the execution ends.
pub(super) const INDEXES: [IndexSpec; 2] = [
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
        projected: &["info", "status", "stop_time", "stop_req", "redrive"],
    },
];

impl IndexSpec {
    fn projection(&self) -> Projection {
        Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(self.projected.iter().map(|a| a.to_string()).collect()))
            .build()
    }

    pub(super) fn index(&self, what: &str) -> Result<GlobalSecondaryIndex, StoreError> {
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
pub(super) fn attribute_definitions<'a>(
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

pub(super) fn key_schema(
    hash: &str,
    range: &str,
    what: &str,
) -> Result<Vec<KeySchemaElement>, StoreError> {
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
