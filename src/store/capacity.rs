//! Capacity accounting for the DynamoDB store: every request asks DynamoDB for the capacity it
//! consumed (`ReturnConsumedCapacity: TOTAL`) and the units are summed as read or write units,
//! which is what on-demand tables are billed for. Used by the benchmarks' cost figures; the
//! store does not meter unless asked (`DynamoStore::connect_metered`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::Value;

/// Consumed read and write units, summed over requests.
#[derive(Debug, Default)]
pub struct CapacityMeter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
}

impl CapacityMeter {
    /// Read units consumed so far.
    pub fn read_units(&self) -> f64 {
        self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Write units consumed so far.
    pub fn write_units(&self) -> f64 {
        self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Read,
    Write,
}

impl Storable for Kind {
    type Storer = StoreReplace<Self>;
}

/// The operations that report consumed capacity, by `X-Amz-Target`.
fn kind_of(target: &str) -> Option<Kind> {
    match target.strip_prefix("DynamoDB_20120810.")? {
        "GetItem" | "BatchGetItem" | "Query" | "Scan" | "TransactGetItems" => Some(Kind::Read),
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems" => {
            Some(Kind::Write)
        }
        _ => None,
    }
}

/// The interceptor that asks for and sums consumed capacity.
#[derive(Debug)]
pub(crate) struct CapacityInterceptor(pub(crate) Arc<CapacityMeter>);

impl Intercept for CapacityInterceptor {
    fn name(&self) -> &'static str {
        "stepfn-capacity-meter"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let Some(kind) = request.headers().get("x-amz-target").and_then(kind_of) else {
            return Ok(());
        };
        let Some(mut body) = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return Ok(());
        };
        let Some(object) = body.as_object_mut() else {
            return Ok(());
        };
        object.insert("ReturnConsumedCapacity".into(), Value::from("TOTAL"));
        let bytes = serde_json::to_vec(&body)?;
        request
            .headers_mut()
            .insert("content-length", bytes.len().to_string());
        *request.body_mut() = SdkBody::from(bytes);
        cfg.interceptor_state().store_put(kind);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(kind) = cfg.load::<Kind>().copied() else {
            return Ok(());
        };
        let Some(body) = context
            .response()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return Ok(());
        };
        let units: f64 = match body.get("ConsumedCapacity") {
            Some(Value::Array(items)) => items.iter().filter_map(capacity_units).sum(),
            Some(one) => capacity_units(one).unwrap_or(0.0),
            None => 0.0,
        };
        let milli = (units * 1000.0).round() as u64;
        match kind {
            Kind::Read => self.0.read_milli.fetch_add(milli, Ordering::Relaxed),
            Kind::Write => self.0.write_milli.fetch_add(milli, Ordering::Relaxed),
        };
        Ok(())
    }
}

fn capacity_units(v: &Value) -> Option<f64> {
    v.get("CapacityUnits").and_then(Value::as_f64)
}
