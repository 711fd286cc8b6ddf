//! A Distributed Map's `ItemReader`: the items of an S3 object (`arn:aws:states:::s3:getObject`
//! with `ReaderConfig.InputType` JSON, JSONL, CSV or PARQUET), of an S3 Inventory or Athena
//! data manifest (`InputType` MANIFEST, `ManifestType` ATHENA_DATA), or of an S3 listing
//! (`arn:aws:states:::s3:listObjectsV2`), read through the AWS client of `tasks::aws` and
//! parsed as Step Functions parses them. Failures are `States.ItemReaderFailed` with AWS's
//! causes, or the S3 error AWS names (`S3.NoSuchKeyException`, `S3.NoSuchBucketException`).
//!
//! [`config`] reads `ReaderConfig`; [`json`], [`csv`] and [`parquet`] turn one object's bytes
//! into items; [`manifest`] reads the two manifest forms; [`reader`] fetches from S3.

use crate::asl::error::StatesError;

pub mod config;
pub mod csv;
pub mod json;
pub mod manifest;
pub mod parquet;
pub mod reader;

pub use config::{Headers, InputType, ManifestType, ReaderConfig};
pub use reader::{parse_items, ItemReader};

/// The error of a reader that cannot give its items.
pub use crate::asl::error::ITEM_READER_FAILED;

/// `States.ItemReaderFailed` with `cause`.
pub(crate) fn failed(cause: impl Into<String>) -> StatesError {
    StatesError::new(ITEM_READER_FAILED, cause.into())
}

/// How many items `MaxItems` lets through (`usize::MAX`: all).
pub(crate) fn limit_of(config: &ReaderConfig) -> usize {
    config
        .max_items
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
}
