//! Apache Parquet objects (`InputType` PARQUET, and the data files of an Athena data
//! manifest): each row an object keyed by its column names, read with the `parquet` crate's
//! record API (no arrow). Numbers and booleans stay JSON numbers and booleans; dates,
//! timestamps and decimals become strings, binary values base64, nested groups objects.

use serde_json::Value;

use super::failed;
use crate::asl::error::StatesError;

/// The rows of a Parquet file's bytes, at most `limit`.
///
/// # Errors
/// `States.ItemReaderFailed`: bytes that are not a Parquet file, a page the reader cannot
/// decode (a compression codec left out of this build: Snappy, gzip and uncompressed pages
/// are read).
pub fn parquet_items(body: Vec<u8>, limit: usize) -> Result<Vec<Value>, StatesError> {
    use parquet::file::reader::FileReader;
    use parquet::file::serialized_reader::SerializedFileReader;

    let not_parquet = |e: parquet::errors::ParquetError| {
        failed(format!("the object is not a readable Parquet file: {e}"))
    };
    let reader = SerializedFileReader::new(bytes::Bytes::from(body)).map_err(not_parquet)?;
    let rows = reader.get_row_iter(None).map_err(not_parquet)?;
    let mut items = Vec::new();
    for row in rows.take(limit) {
        items.push(row.map_err(not_parquet)?.to_json_value());
    }
    Ok(items)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use serde_json::json;

    use super::*;

    /// A Parquet file of `(id, name, score)` rows written by the parquet crate's writer.
    pub(crate) fn parquet_file(rows: &[(i64, &str, f64)], compression: Compression) -> Vec<u8> {
        let schema = Arc::new(
            parse_message_type(
                "message item { REQUIRED INT64 id; REQUIRED BYTE_ARRAY name (UTF8); REQUIRED DOUBLE score; }",
            )
            .expect("schema"),
        );
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(compression)
                .build(),
        );
        let mut out = Vec::new();
        let mut writer = SerializedFileWriter::new(&mut out, schema, props).expect("writer");
        let mut group = writer.next_row_group().expect("row group");
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let names: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.1)).collect();
        let scores: Vec<f64> = rows.iter().map(|r| r.2).collect();
        let mut column = group.next_column().expect("id").expect("a column");
        column
            .typed::<Int64Type>()
            .write_batch(&ids, None, None)
            .expect("ids");
        column.close().expect("close");
        let mut column = group.next_column().expect("name").expect("a column");
        column
            .typed::<ByteArrayType>()
            .write_batch(&names, None, None)
            .expect("names");
        column.close().expect("close");
        let mut column = group.next_column().expect("score").expect("a column");
        column
            .typed::<DoubleType>()
            .write_batch(&scores, None, None)
            .expect("scores");
        column.close().expect("close");
        group.close().expect("group");
        writer.close().expect("file");
        out
    }

    #[test]
    fn parquet_rows_become_objects_by_column() {
        for compression in [
            Compression::UNCOMPRESSED,
            Compression::SNAPPY,
            Compression::GZIP(Default::default()),
        ] {
            let file = parquet_file(
                &[(1, "ant", 0.5), (2, "bee", 1.0), (3, "cat", 2.5)],
                compression,
            );
            assert_eq!(
                parquet_items(file, 2).expect("items"),
                vec![
                    json!({"id": 1, "name": "ant", "score": 0.5}),
                    json!({"id": 2, "name": "bee", "score": 1.0})
                ],
                "{compression:?}"
            );
        }
    }

    #[test]
    fn bytes_that_are_not_parquet_fail_the_reader() {
        let e = parquet_items(b"id,name\n1,ant\n".to_vec(), usize::MAX).unwrap_err();
        assert_eq!(e.error, "States.ItemReaderFailed");
        assert!(
            e.cause
                .as_deref()
                .is_some_and(|c| c.starts_with("the object is not a readable Parquet file: ")),
            "{e:?}"
        );
    }
}
