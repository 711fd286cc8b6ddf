//! Reading a task's parameters into SDK requests, with the located messages AWS gives for
//! a bad parameter.

use super::*;

/// Reads parameters into SDK types. A method's `Err` is a refusal of Step Functions; what
/// DynamoDB itself would refuse is kept in `invalid` (the first such) and reading goes on, so a
/// refusal later in the parameters still wins.
#[derive(Debug, Default)]
pub(super) struct Reader {
    pub(super) invalid: Option<String>,
}

pub(super) type Read<T> = Result<T, String>;

impl Reader {
    pub(super) fn call(
        &mut self,
        client: &Client,
        op: Operation,
        fields: &Map<String, Value>,
    ) -> Read<Call> {
        let allowed = op.fields();
        if let Some(name) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "The field \"{name}\" is not supported by Step Functions"
            ));
        }
        if let Some(name) = op.required().iter().find(|k| !fields.contains_key(**k)) {
            return Err(format!("The field '{name}' is required but was missing"));
        }
        let get = |name: &str| fields.get(name).map(|v| (v, child("", name)));
        let table = get("TableName")
            .map(|(v, at)| self.string(v, "TableName", &at))
            .transpose()?;
        let key = get("Key")
            .map(|(v, at)| self.attribute_map(v, "Key", &at))
            .transpose()?;
        let item = get("Item")
            .map(|(v, at)| self.attribute_map(v, "Item", &at))
            .transpose()?;
        let attributes_to_get = get("AttributesToGet")
            .map(|(v, at)| self.strings(v, "AttributesToGet", &at))
            .transpose()?;
        let consistent_read = get("ConsistentRead")
            .map(|(v, at)| self.boolean(v, "ConsistentRead", &at))
            .transpose()?;
        let names = get("ExpressionAttributeNames")
            .map(|(v, at)| self.string_map(v, "ExpressionAttributeNames", &at))
            .transpose()?;
        let values = get("ExpressionAttributeValues")
            .map(|(v, at)| self.attribute_map(v, "ExpressionAttributeValues", &at))
            .transpose()?;
        let expected = get("Expected")
            .map(|(v, at)| self.expected(v, &at))
            .transpose()?;
        let updates = get("AttributeUpdates")
            .map(|(v, at)| self.attribute_updates(v, &at))
            .transpose()?;
        let text = |name: &str| -> Read<Option<String>> {
            match get(name) {
                Some((v, at)) => Ok(Some(self.string(v, name, &at)?)),
                None => Ok(None),
            }
        };
        let projection = text("ProjectionExpression")?;
        let condition = text("ConditionExpression")?;
        let update = text("UpdateExpression")?;
        // Enumerations go to DynamoDB as written: it answers an unknown value with a
        // ValidationException, as it does on AWS.
        let conditional_operator =
            text("ConditionalOperator")?.map(|s| ConditionalOperator::from(s.as_str()));
        let consumed =
            text("ReturnConsumedCapacity")?.map(|s| ReturnConsumedCapacity::from(s.as_str()));
        let metrics = text("ReturnItemCollectionMetrics")?
            .map(|s| ReturnItemCollectionMetrics::from(s.as_str()));
        let return_values = text("ReturnValues")?.map(|s| ReturnValue::from(s.as_str()));
        let on_failure = text("ReturnValuesOnConditionCheckFailure")?
            .map(|s| ReturnValuesOnConditionCheckFailure::from(s.as_str()));

        Ok(match op {
            Operation::Get => Call::Get(
                client
                    .get_item()
                    .set_table_name(table)
                    .set_key(key)
                    .set_attributes_to_get(attributes_to_get)
                    .set_consistent_read(consistent_read)
                    .set_expression_attribute_names(names)
                    .set_projection_expression(projection)
                    .set_return_consumed_capacity(consumed),
            ),
            Operation::Put => Call::Put(
                client
                    .put_item()
                    .set_table_name(table)
                    .set_item(item)
                    .set_conditional_operator(conditional_operator)
                    .set_condition_expression(condition)
                    .set_expected(expected)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_consumed_capacity(consumed)
                    .set_return_item_collection_metrics(metrics)
                    .set_return_values(return_values)
                    .set_return_values_on_condition_check_failure(on_failure),
            ),
            Operation::Update => Call::Update(
                client
                    .update_item()
                    .set_table_name(table)
                    .set_key(key)
                    .set_attribute_updates(updates)
                    .set_conditional_operator(conditional_operator)
                    .set_condition_expression(condition)
                    .set_expected(expected)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_consumed_capacity(consumed)
                    .set_return_item_collection_metrics(metrics)
                    .set_return_values(return_values)
                    .set_return_values_on_condition_check_failure(on_failure)
                    .set_update_expression(update),
            ),
            Operation::Delete => Call::Delete(
                client
                    .delete_item()
                    .set_table_name(table)
                    .set_key(key)
                    .set_conditional_operator(conditional_operator)
                    .set_condition_expression(condition)
                    .set_expected(expected)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_consumed_capacity(consumed)
                    .set_return_item_collection_metrics(metrics)
                    .set_return_values(return_values)
                    .set_return_values_on_condition_check_failure(on_failure),
            ),
        })
    }

    pub(super) fn wrong_type(field: &str, expected: JsonType, at: &str) -> String {
        located(
            format!(
                "The value for the field '{field}' must be {}",
                expected.article()
            ),
            at,
        )
    }

    pub(super) fn unsupported(field: &str, at: &str) -> String {
        located(
            format!("The field \"{field}\" is not supported by Step Functions"),
            at,
        )
    }

    pub(super) fn string(&self, v: &Value, field: &str, at: &str) -> Read<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(Self::wrong_type(field, JsonType::String, at)),
        }
    }

    pub(super) fn boolean(&self, v: &Value, field: &str, at: &str) -> Read<bool> {
        match v {
            Value::Bool(b) => Ok(*b),
            _ => Err(Self::wrong_type(field, JsonType::Boolean, at)),
        }
    }

    pub(super) fn object<'v>(
        &self,
        v: &'v Value,
        field: &str,
        at: &str,
    ) -> Read<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Ok(m),
            _ => Err(Self::wrong_type(field, JsonType::Object, at)),
        }
    }

    pub(super) fn array<'v>(&self, v: &'v Value, field: &str, at: &str) -> Read<&'v [Value]> {
        match v {
            Value::Array(a) => Ok(a),
            _ => Err(Self::wrong_type(field, JsonType::Array, at)),
        }
    }

    /// A list of strings; an element is named by its list's field.
    pub(super) fn strings(&self, v: &Value, field: &str, at: &str) -> Read<Vec<String>> {
        let list = self.array(v, field, at)?;
        list.iter()
            .enumerate()
            .map(|(i, e)| self.string(e, field, &child(at, &i.to_string())))
            .collect()
    }

    pub(super) fn string_map(
        &self,
        v: &Value,
        field: &str,
        at: &str,
    ) -> Read<HashMap<String, String>> {
        let map = self.object(v, field, at)?;
        map.iter()
            .map(|(k, e)| Ok((k.clone(), self.string(e, k, &child(at, k))?)))
            .collect()
    }

    /// Base64 (standard alphabet, padded), as the DynamoDB JSON API writes binary.
    pub(super) fn blob(&self, v: &Value, field: &str, at: &str) -> Read<Blob> {
        let text = self.string(v, field, at)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Blob::new)
            .map_err(|_| {
                located(
                    format!("The value for the field '{field}' must be valid Base64"),
                    at,
                )
            })
    }

    /// A map of attribute names to attribute values (`Key`, `Item`, `M`, ...).
    pub(super) fn attribute_map(
        &mut self,
        v: &Value,
        field: &str,
        at: &str,
    ) -> Read<HashMap<String, AttributeValue>> {
        let map = self.object(v, field, at)?;
        let mut out = HashMap::with_capacity(map.len());
        for (name, value) in map {
            let av = self.attribute_value(value, name, &child(at, name))?;
            out.insert(name.clone(), av);
        }
        Ok(out)
    }

    pub(super) fn attribute_list(
        &mut self,
        v: &Value,
        field: &str,
        at: &str,
    ) -> Read<Vec<AttributeValue>> {
        let list = self.array(v, field, at)?;
        let mut out = Vec::with_capacity(list.len());
        for (i, e) in list.iter().enumerate() {
            out.push(self.attribute_value(e, field, &child(at, &i.to_string()))?);
        }
        Ok(out)
    }

    /// One attribute value: an object with exactly one of `S`, `N`, `B`, `BOOL`, `NULL`, `M`,
    /// `L`, `SS`, `NS`, `BS`.
    pub(super) fn attribute_value(
        &mut self,
        v: &Value,
        field: &str,
        at: &str,
    ) -> Read<AttributeValue> {
        let members = self.object(v, field, at)?;
        let mut found: Option<AttributeValue> = None;
        let mut several = false;
        for (ty, value) in members {
            let here = child(at, ty);
            let av = match ty.as_str() {
                "S" => AttributeValue::S(self.string(value, ty, &here)?),
                "N" => AttributeValue::N(self.string(value, ty, &here)?),
                "B" => AttributeValue::B(self.blob(value, ty, &here)?),
                "BOOL" => AttributeValue::Bool(self.boolean(value, ty, &here)?),
                "NULL" => AttributeValue::Null(self.boolean(value, ty, &here)?),
                "SS" => AttributeValue::Ss(self.strings(value, ty, &here)?),
                "NS" => AttributeValue::Ns(self.strings(value, ty, &here)?),
                "BS" => {
                    let list = self.array(value, ty, &here)?;
                    let mut blobs = Vec::with_capacity(list.len());
                    for (i, e) in list.iter().enumerate() {
                        blobs.push(self.blob(e, ty, &child(&here, &i.to_string()))?);
                    }
                    AttributeValue::Bs(blobs)
                }
                "M" => AttributeValue::M(self.attribute_map(value, ty, &here)?),
                "L" => AttributeValue::L(self.attribute_list(value, ty, &here)?),
                _ => return Err(Self::unsupported(ty, &here)),
            };
            several |= found.is_some();
            found = Some(av);
        }
        // DynamoDB's own words for these two (ValidationException).
        let problem = if several {
            Some("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
        } else if found.is_none() {
            Some("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
        } else {
            None
        };
        if let Some(problem) = problem {
            if self.invalid.is_none() {
                self.invalid = Some(located(problem.to_string(), at));
            }
        }
        Ok(found.unwrap_or(AttributeValue::Null(true)))
    }

    /// The legacy `Expected` map of conditions.
    pub(super) fn expected(
        &mut self,
        v: &Value,
        at: &str,
    ) -> Read<HashMap<String, ExpectedAttributeValue>> {
        let map = self.object(v, "Expected", at)?;
        let mut out = HashMap::with_capacity(map.len());
        for (name, entry) in map {
            let here = child(at, name);
            let members = self.object(entry, name, &here)?;
            let mut b = ExpectedAttributeValue::builder();
            for (field, value) in members {
                let there = child(&here, field);
                b = match field.as_str() {
                    "Value" => b.value(self.attribute_value(value, field, &there)?),
                    "Exists" => b.exists(self.boolean(value, field, &there)?),
                    "ComparisonOperator" => b.comparison_operator(ComparisonOperator::from(
                        self.string(value, field, &there)?.as_str(),
                    )),
                    "AttributeValueList" => {
                        b.set_attribute_value_list(Some(self.attribute_list(value, field, &there)?))
                    }
                    _ => return Err(Self::unsupported(field, &there)),
                };
            }
            out.insert(name.clone(), b.build());
        }
        Ok(out)
    }

    /// The legacy `AttributeUpdates` map of updateItem.
    pub(super) fn attribute_updates(
        &mut self,
        v: &Value,
        at: &str,
    ) -> Read<HashMap<String, AttributeValueUpdate>> {
        let map = self.object(v, "AttributeUpdates", at)?;
        let mut out = HashMap::with_capacity(map.len());
        for (name, entry) in map {
            let here = child(at, name);
            let members = self.object(entry, name, &here)?;
            let mut b = AttributeValueUpdate::builder();
            for (field, value) in members {
                let there = child(&here, field);
                b = match field.as_str() {
                    "Value" => b.value(self.attribute_value(value, field, &there)?),
                    "Action" => b.action(AttributeAction::from(
                        self.string(value, field, &there)?.as_str(),
                    )),
                    _ => return Err(Self::unsupported(field, &there)),
                };
            }
            out.insert(name.clone(), b.build());
        }
        Ok(out)
    }
}
