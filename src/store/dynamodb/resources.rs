//! Resources on DynamoDB: every resource of a kind is an item of partition `RES#<kind>` with
//! its key as sort key, holding `body` (JSON), `rv` (its version) and `wid` (the nonce of the
//! write that made it, so a write whose answer was lost and retried is known as done).

use super::*;
use crate::store::{check_resource_size, Expect, Resource};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;

fn res_pk(kind: &str) -> String {
    format!("RES#{kind}")
}

fn decode(item: &Item, what: &str) -> Result<Resource, StoreError> {
    let key = req_s(item, "sk", what)?.to_string();
    let body = parse_json(req_s(item, "body", what)?, what)?;
    let version = get_n::<u64>(item, "rv", what)?.unwrap_or(0);
    Ok(Resource { key, body, version })
}

/// The condition expression of `expect` (`None`: unconditional) on attribute `rv`.
fn condition(expect: Expect) -> Option<&'static str> {
    match expect {
        Expect::Absent => Some("attribute_not_exists(#pk)"),
        Expect::Version(_) => Some("#rv = :expected"),
        Expect::Present => Some("attribute_exists(#pk)"),
        Expect::Any => None,
    }
}

impl DynamoStore {
    pub(super) async fn put_resource_item(
        &self,
        kind: &str,
        key: &str,
        body: &Value,
        expect: Expect,
    ) -> Result<Option<u64>, StoreError> {
        check_resource_size(kind, key, body)?;
        let what = format!("put {kind} {key}");
        let text = to_json(body, &what)?;
        let wid = nonce();
        let result = self
            .call(&what, || {
                let mut update = self
                    .client()
                    .update_item()
                    .table_name(self.table())
                    .set_key(Some(layout::key(&res_pk(kind), key)))
                    .update_expression("SET #body = :body, #wid = :wid ADD #rv :one")
                    .expression_attribute_names("#body", "body")
                    .expression_attribute_names("#wid", "wid")
                    .expression_attribute_names("#rv", "rv")
                    .expression_attribute_values(":body", s(&text))
                    .expression_attribute_values(":wid", s(&wid))
                    .expression_attribute_values(":one", n(1))
                    .return_values(ReturnValue::UpdatedNew);
                if let Some(cond) = condition(expect) {
                    update = update.condition_expression(cond);
                    if cond.contains("#pk") {
                        update = update.expression_attribute_names("#pk", "pk");
                    }
                }
                if let Expect::Version(v) = expect {
                    update = update.expression_attribute_values(":expected", n(v));
                }
                update.send()
            })
            .await;
        match result {
            Ok(out) => {
                let attrs = out.attributes.unwrap_or_default();
                Ok(Some(get_n::<u64>(&attrs, "rv", &what)?.unwrap_or(1)))
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                    // A retried attempt of this very write may have found its own success.
                    let now = self.get_consistent(&what, &res_pk(kind), key).await?;
                    match now {
                        Some(item) if get_s(&item, "wid", &what)? == Some(wid.as_str()) => {
                            Ok(get_n::<u64>(&item, "rv", &what)?)
                        }
                        _ => Ok(None),
                    }
                }
                _ => Err(backend(&what, &e)),
            },
        }
    }

    pub(super) async fn get_resource_item(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<Resource>, StoreError> {
        let what = format!("get {kind} {key}");
        match self.get_consistent(&what, &res_pk(kind), key).await? {
            Some(item) => decode(&item, &what).map(Some),
            None => Ok(None),
        }
    }

    pub(super) async fn list_resource_items(
        &self,
        kind: &str,
    ) -> Result<Vec<Resource>, StoreError> {
        let what = format!("list {kind}");
        self.query_range(&what, &res_pk(kind), "\u{1}", "\u{10FFFF}", false)
            .await?
            .iter()
            .map(|item| decode(item, &what))
            .collect()
    }

    pub(super) async fn delete_resource_item(
        &self,
        kind: &str,
        key: &str,
        expect: Expect,
    ) -> Result<bool, StoreError> {
        if expect == Expect::Absent {
            return Ok(false);
        }
        let what = format!("delete {kind} {key}");
        let expect = if expect == Expect::Any {
            Expect::Present
        } else {
            expect
        };
        let result = self
            .call(&what, || {
                let mut delete = self
                    .client()
                    .delete_item()
                    .table_name(self.table())
                    .set_key(Some(layout::key(&res_pk(kind), key)));
                if let Some(cond) = condition(expect) {
                    delete = delete.condition_expression(cond);
                    if cond.contains("#pk") {
                        delete = delete.expression_attribute_names("#pk", "pk");
                    } else {
                        delete = delete.expression_attribute_names("#rv", "rv");
                    }
                }
                if let Expect::Version(v) = expect {
                    delete = delete.expression_attribute_values(":expected", n(v));
                }
                delete.send()
            })
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(backend(&what, &e)),
            },
        }
    }
}
