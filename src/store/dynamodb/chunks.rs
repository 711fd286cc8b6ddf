//! Documents too big for one item: deflated and split into chunk items, written, read back
//! and deleted.

use super::*;

/// Marks deflated bytes; JSON never starts with a NUL byte, so older uncompressed chunks read
/// as they are.
pub(super) const DEFLATED: &[u8] = b"\0z1";

/// `bytes` deflated, behind the [`DEFLATED`] mark.
pub(super) fn compress(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = DEFLATED.to_vec();
    let mut encoder = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    let _ = encoder.finish();
    out
}

/// The bytes of a stored document: inflated when marked [`DEFLATED`], as they are otherwise.
pub(super) fn decompress(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let Some(deflated) = bytes.strip_prefix(DEFLATED) else {
        return Ok(bytes);
    };
    let mut out = Vec::with_capacity(deflated.len() * 8);
    flate2::read::DeflateDecoder::new(deflated)
        .read_to_end(&mut out)
        .map_err(|e| format!("the deflated document does not inflate: {e}"))?;
    Ok(out)
}

/// A JSON document placed for storage: the attributes naming it in its item, and the chunk
/// items to write first.
pub(super) struct Placed {
    pub(super) attrs: Vec<(String, AttributeValue)>,
    pub(super) chunks: Vec<Item>,
}

/// Places `json` under attribute `name`: inline when at most `inline_max` bytes, otherwise in
/// chunks `pk`/`<prefix><index>`.
pub(super) fn place(
    name: &str,
    json: String,
    inline_max: usize,
    pk: &str,
    prefix: String,
) -> Placed {
    if json.len() <= inline_max {
        return Placed {
            attrs: vec![(name.to_string(), s(json))],
            chunks: Vec::new(),
        };
    }
    // Chunked documents are large and JSON: deflated, they cost a tenth of the write units.
    chunked(name, compress(json.as_bytes()), pk, prefix)
}

/// Places bytes (deflated already) under attribute `name`: inline as a binary attribute when
/// at most `inline_max` bytes, otherwise in chunks `pk`/`<prefix><index>`.
pub(super) fn place_bytes(
    name: &str,
    bytes: Vec<u8>,
    inline_max: usize,
    pk: &str,
    prefix: String,
) -> Placed {
    if bytes.len() <= inline_max {
        return Placed {
            attrs: vec![(name.to_string(), AttributeValue::B(Blob::new(bytes)))],
            chunks: Vec::new(),
        };
    }
    chunked(name, bytes, pk, prefix)
}

/// `bytes` in chunk items `pk`/`<prefix><index>`, named by `<name>_ref` and `<name>_chunks`.
fn chunked(name: &str, bytes: Vec<u8>, pk: &str, prefix: String) -> Placed {
    let chunks: Vec<Item> = bytes
        .chunks(INLINE_MAX)
        .enumerate()
        .map(|(i, bytes)| {
            let mut item = key(pk, &format!("{prefix}{i:05}"));
            item.insert("data".into(), AttributeValue::B(Blob::new(bytes)));
            item
        })
        .collect();
    Placed {
        attrs: vec![
            (format!("{name}_ref"), s(prefix)),
            (format!("{name}_chunks"), n(chunks.len())),
        ],
        chunks,
    }
}

impl DynamoStore {
    /// Writes chunk items.
    pub(super) async fn put_chunks(&self, what: &str, chunks: Vec<Item>) -> Result<(), StoreError> {
        if chunks.is_empty() {
            return Ok(());
        }
        let requests = chunks
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|e| backend_msg(what, e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(what, requests).await
    }

    /// Deletes items by key, best-effort: a failure is logged, not returned.
    pub(super) async fn delete_quietly(&self, what: &str, keys: Vec<Item>) {
        if keys.is_empty() {
            return;
        }
        let requests: Result<Vec<_>, _> = keys
            .into_iter()
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(k))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
            })
            .collect();
        let result = match requests {
            Ok(requests) => self.batch_write(what, requests).await,
            Err(e) => Err(backend_msg(what, e.to_string())),
        };
        if let Err(e) = result {
            tracing::warn!(table = %self.table(), error = %e, "dynamodb: {what} failed; garbage left");
        }
    }

    /// The keys of the chunk items among `chunks`.
    pub(super) fn keys_of(chunks: &[Item]) -> Vec<Item> {
        chunks
            .iter()
            .filter_map(|c| Some(key(c.get("pk")?.as_s().ok()?, c.get("sk")?.as_s().ok()?)))
            .collect()
    }
}

impl DynamoStore {
    /// The document under attribute `name` of `item`, inline or assembled from its chunks.
    pub(super) async fn read_doc(
        &self,
        item: &Item,
        pk: &str,
        name: &str,
        what: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some(inline) = get_s(item, name, what)? {
            return Ok(Some(inline.to_string()));
        }
        let Some(bytes) = self.read_chunked(item, pk, name, what).await? else {
            return Ok(None);
        };
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| corrupt(what, format!("{name} chunks are not UTF-8")))
    }

    /// The bytes under attribute `name` of `item` (a binary attribute, or chunks), inflated
    /// when deflated.
    pub(super) async fn read_bytes(
        &self,
        item: &Item,
        pk: &str,
        name: &str,
        what: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match item.get(name) {
            Some(AttributeValue::B(b)) => decompress(b.as_ref().to_vec())
                .map(Some)
                .map_err(|e| corrupt(what, format!("{name}: {e}"))),
            Some(_) => Err(corrupt(what, format!("attribute {name} is not binary"))),
            None => self.read_chunked(item, pk, name, what).await,
        }
    }

    /// The chunks named by `<name>_ref` and `<name>_chunks` of `item`, assembled and inflated.
    async fn read_chunked(
        &self,
        item: &Item,
        pk: &str,
        name: &str,
        what: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(prefix) = get_s(item, &format!("{name}_ref"), what)? else {
            return Ok(None);
        };
        let count: usize = req_n(item, &format!("{name}_chunks"), what)?;
        let last = format!("{prefix}{:05}", count.saturating_sub(1));
        let chunks = self
            .query_range(
                &format!("read {name} chunks of {what}"),
                pk,
                prefix,
                &last,
                false,
            )
            .await?;
        let mut bytes = Vec::new();
        let mut found = 0;
        for chunk in &chunks {
            let sk = req_s(chunk, "sk", what)?;
            if sk != format!("{prefix}{found:05}") {
                return Err(corrupt(
                    what,
                    format!("{name} chunk {found} of {count} is missing"),
                ));
            }
            match chunk.get("data") {
                Some(AttributeValue::B(b)) => bytes.extend_from_slice(b.as_ref()),
                _ => return Err(corrupt(what, format!("{name} chunk {sk} has no data"))),
            }
            found += 1;
        }
        if found != count {
            return Err(corrupt(
                what,
                format!("{name} has {found} of its {count} chunks"),
            ));
        }
        decompress(bytes)
            .map(Some)
            .map_err(|e| corrupt(what, format!("{name}: {e}")))
    }
}
