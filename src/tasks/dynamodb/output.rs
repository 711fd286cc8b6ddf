//! SDK responses as the JSON a Task state gets: attribute values, consumed capacity and item
//! collection metrics.

use super::*;

/// An attribute value in the DynamoDB JSON API's shape; binary as Base64.
pub(super) fn attribute_json(av: &AttributeValue) -> Value {
    let b64 =
        |b: &Blob| Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
    let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
    let (ty, value) = match av {
        AttributeValue::S(s) => ("S", Value::String(s.clone())),
        AttributeValue::N(n) => ("N", Value::String(n.clone())),
        AttributeValue::B(b) => ("B", b64(b)),
        AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
        AttributeValue::Null(b) => ("NULL", Value::Bool(*b)),
        AttributeValue::Ss(v) => ("SS", strings(v)),
        AttributeValue::Ns(v) => ("NS", strings(v)),
        AttributeValue::Bs(v) => ("BS", Value::Array(v.iter().map(b64).collect())),
        AttributeValue::M(m) => ("M", attribute_map_json(m)),
        AttributeValue::L(l) => ("L", Value::Array(l.iter().map(attribute_json).collect())),
        // A type newer than this SDK: DynamoDB has sent nothing this code could read.
        _ => return Value::Object(Map::new()),
    };
    let mut m = Map::new();
    m.insert(ty.to_string(), value);
    Value::Object(m)
}

/// An attribute map with its names sorted (DynamoDB's order is lost in the SDK's `HashMap`).
pub(super) fn attribute_map_json(map: &HashMap<String, AttributeValue>) -> Value {
    let sorted: BTreeMap<&String, &AttributeValue> = map.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect(),
    )
}

pub(super) fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

pub(super) fn capacity_json(c: &Capacity) -> Value {
    let mut m = Map::new();
    put(
        &mut m,
        "ReadCapacityUnits",
        c.read_capacity_units().map(number),
    );
    put(
        &mut m,
        "WriteCapacityUnits",
        c.write_capacity_units().map(number),
    );
    put(&mut m, "CapacityUnits", c.capacity_units().map(number));
    Value::Object(m)
}

pub(super) fn capacity_map_json(map: &HashMap<String, Capacity>) -> Value {
    let sorted: BTreeMap<&String, &Capacity> = map.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, c)| (k.clone(), capacity_json(c)))
            .collect(),
    )
}

pub(super) fn consumed_capacity_json(c: &ConsumedCapacity) -> Value {
    let mut m = Map::new();
    put(
        &mut m,
        "TableName",
        c.table_name().map(|s| Value::String(s.to_string())),
    );
    put(&mut m, "CapacityUnits", c.capacity_units().map(number));
    put(
        &mut m,
        "ReadCapacityUnits",
        c.read_capacity_units().map(number),
    );
    put(
        &mut m,
        "WriteCapacityUnits",
        c.write_capacity_units().map(number),
    );
    put(&mut m, "Table", c.table().map(capacity_json));
    put(
        &mut m,
        "LocalSecondaryIndexes",
        c.local_secondary_indexes().map(capacity_map_json),
    );
    put(
        &mut m,
        "GlobalSecondaryIndexes",
        c.global_secondary_indexes().map(capacity_map_json),
    );
    Value::Object(m)
}

pub(super) fn item_collection_metrics_json(metrics: &ItemCollectionMetrics) -> Value {
    let mut m = Map::new();
    put(
        &mut m,
        "ItemCollectionKey",
        metrics.item_collection_key().map(attribute_map_json),
    );
    m.insert(
        "SizeEstimateRangeGB".into(),
        Value::Array(
            metrics
                .size_estimate_range_gb()
                .iter()
                .copied()
                .map(number)
                .collect(),
        ),
    );
    Value::Object(m)
}
