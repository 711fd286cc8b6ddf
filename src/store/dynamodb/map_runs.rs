//! Map Runs on DynamoDB: each one an item `MR#<arn>`/`DEF` holding its record, and an entry
//! `MRX#<execution arn>`/`<arn>` listing it under its parent execution (written after the
//! record, so a listed Map Run is always readable).

use super::*;
use crate::store::MapRunRecord;

fn mr_pk(arn: &str) -> String {
    format!("MR#{arn}")
}

fn mrx_pk(execution_arn: &str) -> String {
    format!("MRX#{execution_arn}")
}

impl DynamoStore {
    pub(super) async fn put_map_run_items(&self, run: &MapRunRecord) -> Result<(), StoreError> {
        let what = format!("put map run {}", run.arn);
        let mut item = key(&mr_pk(&run.arn), "DEF");
        item.insert("mr".into(), s(to_json(run, &what)?));
        self.put_plain(&what, item).await?;
        self.put_plain(&what, key(&mrx_pk(&run.execution_arn), &run.arn))
            .await
    }

    pub(super) async fn get_map_run_item(
        &self,
        arn: &str,
    ) -> Result<Option<MapRunRecord>, StoreError> {
        let what = format!("get map run {arn}");
        let Some(item) = self.get_consistent(&what, &mr_pk(arn), "DEF").await? else {
            return Ok(None);
        };
        let what = format!("map run {arn}");
        parse_json(req_s(&item, "mr", &what)?, &what).map(Some)
    }

    pub(super) async fn list_map_run_items(
        &self,
        execution_arn: &str,
    ) -> Result<Vec<MapRunRecord>, StoreError> {
        let what = format!("list map runs of {execution_arn}");
        let keys = self
            .query_partition(&what, &mrx_pk(execution_arn))
            .await?
            .iter()
            .map(|entry| Ok(key(&mr_pk(req_s(entry, "sk", &what)?), "DEF")))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut found = self
            .batch_get(&what, keys)
            .await?
            .iter()
            .map(|item| {
                let pk = req_s(item, "pk", &what)?;
                let item_what = format!("map run {}", pk.trim_start_matches("MR#"));
                parse_json::<MapRunRecord>(req_s(item, "mr", &item_what)?, &item_what)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        found.sort_by(|a, b| (a.start, &a.arn).cmp(&(b.start, &b.arn)));
        Ok(found)
    }
}
