//! The two manifests an `ItemReader` reads: an S3 Inventory report's `manifest.json`
//! (`InputType` MANIFEST: `fileFormat` CSV, `fileSchema` naming the columns, `files` the
//! gzipped CSV data files in `destinationBucket`), each data row an item keyed by the schema's
//! fields; and an Athena `UNLOAD` data manifest (`ManifestType` ATHENA_DATA: one `s3://` URI a
//! line), each listed data file read as `InputType` says. Only the parsing lives here; the
//! reader fetches the files.

use std::io::Read;

use serde_json::Value;

use super::failed;
use crate::asl::error::StatesError;

/// One S3 object a manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
}

/// An S3 Inventory manifest, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The columns of every data file (`fileSchema`), in order.
    pub schema: Vec<String>,
    /// The data files (`files[].key` in `destinationBucket`).
    pub files: Vec<S3Object>,
}

/// Reads an S3 Inventory `manifest.json`; data files without a `destinationBucket` are taken
/// from `own_bucket`, the manifest's bucket.
///
/// # Errors
/// `States.ItemReaderFailed`: text that is not a manifest, a `fileFormat` other than CSV (ORC
/// and Parquet inventories are not read by Step Functions), no `fileSchema`.
pub fn inventory(body: &[u8], own_bucket: &str) -> Result<Inventory, StatesError> {
    let manifest: Value = serde_json::from_slice(body)
        .map_err(|e| failed(format!("the S3 Inventory manifest is not JSON: {e}")))?;
    let format = manifest.get("fileFormat").and_then(Value::as_str);
    if format != Some("CSV") {
        return Err(failed(format!(
            "the S3 Inventory manifest's fileFormat is {}: only CSV inventories can be read",
            format.map_or_else(|| "missing".to_string(), str::to_string)
        )));
    }
    let schema: Vec<String> = manifest
        .get("fileSchema")
        .and_then(Value::as_str)
        .ok_or_else(|| failed("the S3 Inventory manifest has no fileSchema"))?
        .split(',')
        .map(|f| f.trim().to_string())
        .collect();
    let bucket = manifest
        .get("destinationBucket")
        .and_then(Value::as_str)
        .map(|arn| arn.strip_prefix("arn:aws:s3:::").unwrap_or(arn).to_string())
        .unwrap_or_else(|| own_bucket.to_string());
    let entries = manifest
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| failed("the S3 Inventory manifest has no files list"))?;
    let mut files = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let key = entry.get("key").and_then(Value::as_str).ok_or_else(|| {
            failed(format!(
                "files[{i}] of the S3 Inventory manifest has no key"
            ))
        })?;
        files.push(S3Object {
            bucket: bucket.clone(),
            key: key.to_string(),
        });
    }
    Ok(Inventory { schema, files })
}

/// The data files an Athena data manifest lists, one `s3://bucket/key` a line (blank lines
/// skipped).
///
/// # Errors
/// `States.ItemReaderFailed` naming the first line that is not an S3 URI.
pub fn athena_files(body: &[u8]) -> Result<Vec<S3Object>, StatesError> {
    let text = String::from_utf8_lossy(body);
    let mut files = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parsed = line
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty());
        match parsed {
            Some((bucket, key)) => files.push(S3Object {
                bucket: bucket.to_string(),
                key: key.to_string(),
            }),
            None => {
                return Err(failed(format!(
                "line {} of the Athena data manifest is not an S3 URI (s3://bucket/key): {line}",
                i + 1
            )))
            }
        }
    }
    Ok(files)
}

/// `body`, gunzipped when it is gzip (S3 Inventory data files, Athena's compressed text).
///
/// # Errors
/// `States.ItemReaderFailed` for a gzip stream that does not decompress.
pub fn gunzipped(body: Vec<u8>, key: &str) -> Result<Vec<u8>, StatesError> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(body);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| failed(format!("the gzip object {key} does not decompress: {e}")))?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;
    use serde_json::json;

    /// `text` gzipped.
    pub(crate) fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text).expect("gzip");
        encoder.finish().expect("gzip")
    }

    #[test]
    fn an_inventory_manifest_names_its_schema_and_files() {
        let manifest = json!({
            "sourceBucket": "photos",
            "destinationBucket": "arn:aws:s3:::inventories",
            "version": "2016-11-30",
            "creationTimestamp": "1514944800000",
            "fileFormat": "CSV",
            "fileSchema": "Bucket, Key, Size, LastModifiedDate",
            "files": [
                {"key": "photos/daily/data/a.csv.gz", "size": 2147, "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"},
                {"key": "photos/daily/data/b.csv.gz", "size": 2147, "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"}
            ]
        });
        let read = inventory(manifest.to_string().as_bytes(), "own").expect("manifest");
        assert_eq!(read.schema, ["Bucket", "Key", "Size", "LastModifiedDate"]);
        assert_eq!(
            read.files,
            [
                S3Object {
                    bucket: "inventories".into(),
                    key: "photos/daily/data/a.csv.gz".into()
                },
                S3Object {
                    bucket: "inventories".into(),
                    key: "photos/daily/data/b.csv.gz".into()
                }
            ]
        );
        let orc = json!({"fileFormat": "ORC", "fileSchema": "x", "files": []});
        let e = inventory(orc.to_string().as_bytes(), "own").unwrap_err();
        assert_eq!(
            (e.error.as_str(), e.cause.as_deref()),
            (
                "States.ItemReaderFailed",
                Some("the S3 Inventory manifest's fileFormat is ORC: only CSV inventories can be read")
            )
        );
        let e = inventory(
            b"{\"fileFormat\": \"CSV\", \"fileSchema\": \"Key\", \"files\": [{}]}",
            "own",
        )
        .unwrap_err();
        assert_eq!(
            e.cause.as_deref(),
            Some("files[0] of the S3 Inventory manifest has no key")
        );
    }

    #[test]
    fn an_athena_manifest_lists_s3_uris() {
        let body = b"s3://results/unload/1.parquet\n\ns3://other/a/b/2.parquet\n";
        assert_eq!(
            athena_files(body).expect("files"),
            [
                S3Object {
                    bucket: "results".into(),
                    key: "unload/1.parquet".into()
                },
                S3Object {
                    bucket: "other".into(),
                    key: "a/b/2.parquet".into()
                }
            ]
        );
        let e = athena_files(b"s3://results/1.csv\nhttps://x/y\n").unwrap_err();
        assert_eq!(
            e.cause.as_deref(),
            Some("line 2 of the Athena data manifest is not an S3 URI (s3://bucket/key): https://x/y")
        );
    }

    #[test]
    fn gzip_data_is_gunzipped_and_plain_data_kept() {
        assert_eq!(gunzipped(gzip(b"a,b\n"), "k").expect("plain"), b"a,b\n");
        assert_eq!(gunzipped(b"a,b\n".to_vec(), "k").expect("plain"), b"a,b\n");
        let e = gunzipped(vec![0x1f, 0x8b, 0, 1, 2], "d.csv.gz").unwrap_err();
        assert!(
            e.cause
                .as_deref()
                .is_some_and(|c| c.starts_with("the gzip object d.csv.gz does not decompress: ")),
            "{e:?}"
        );
    }
}
