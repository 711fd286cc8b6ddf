//! Delimited text objects (`InputType` CSV, and the data files of S3 Inventory and Athena
//! manifests): each row an object keyed by the headers, every value a string. Spec (the
//! developer guide's "How Step Functions parses input CSV files"): a row with fewer fields
//! than headers gets empty strings, extra fields are skipped; headers are at most 10 KiB.

use serde_json::{Map, Value};

use super::config::Headers;
use super::failed;
use crate::asl::error::StatesError;

/// The most bytes a header row may take: "Step Functions supports CSV headers of up to 10 KiB".
pub const MAX_HEADER_BYTES: u64 = 10 * 1024;

/// The rows of delimited `body` as objects by `headers`, at most `limit`.
///
/// # Errors
/// `States.ItemReaderFailed`: duplicate headers (AWS's cause), a header row over 10 KiB, text
/// the CSV reader cannot read.
pub fn csv_items(
    body: &[u8],
    headers: &Headers,
    delimiter: u8,
    limit: usize,
) -> Result<Vec<Value>, StatesError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body);
    let malformed = |e: csv::Error| failed(format!("the CSV object is malformed: {e}"));
    let headers: Vec<String> = match headers {
        Headers::Given(h) => h.clone(),
        Headers::FirstRow => {
            let mut first = csv::StringRecord::new();
            if reader.read_record(&mut first).map_err(malformed)? {
                if reader.position().byte() > MAX_HEADER_BYTES {
                    return Err(failed(format!(
                        "the CSV header row is over {MAX_HEADER_BYTES} bytes (10 KiB), the most Step Functions reads"
                    )));
                }
                first.iter().map(str::to_string).collect()
            } else {
                Vec::new()
            }
        }
    };
    let mut seen = std::collections::HashSet::new();
    if !headers.iter().all(|h| seen.insert(h.as_str())) {
        return Err(failed("CSV headers cannot contain duplicates."));
    }
    let mut items = Vec::new();
    for row in reader.records().take(limit) {
        let row = row.map_err(malformed)?;
        let mut item = Map::new();
        for (i, header) in headers.iter().enumerate() {
            item.insert(
                header.clone(),
                Value::String(row.get(i).unwrap_or("").to_string()),
            );
        }
        items.push(Value::Object(item));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_header_row_over_ten_kib_is_refused() {
        let long = format!("{}\n1\n", "h".repeat(10 * 1024 + 1));
        let e = csv_items(long.as_bytes(), &Headers::FirstRow, b',', usize::MAX).unwrap_err();
        assert_eq!(
            (e.error.as_str(), e.cause.as_deref()),
            (
                "States.ItemReaderFailed",
                Some("the CSV header row is over 10240 bytes (10 KiB), the most Step Functions reads")
            )
        );
        let fits = format!("{}\n1\n", "h".repeat(10 * 1024 - 1));
        assert_eq!(
            csv_items(fits.as_bytes(), &Headers::FirstRow, b',', usize::MAX)
                .expect("items")
                .len(),
            1
        );
    }

    #[test]
    fn rows_with_more_or_fewer_fields_than_headers() {
        assert_eq!(
            csv_items(b"a,b\n1,2,3\n4\n", &Headers::FirstRow, b',', usize::MAX).expect("items"),
            vec![json!({"a": "1", "b": "2"}), json!({"a": "4", "b": ""})]
        );
    }
}
