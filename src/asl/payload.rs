//! The payload size limit: 256 KiB of JSON text per input, output or result, as Step Functions
//! enforces it.

use serde_json::Value;

/// The largest state input, output or task result, in bytes of JSON text.
pub const PAYLOAD_LIMIT_BYTES: usize = 256 * 1024;

/// Length of `v` serialized as compact JSON, counting at most up to `limit + 1`.
pub fn json_len(v: &Value, limit: usize) -> usize {
    fn walk(v: &Value, acc: &mut usize, limit: usize) {
        if *acc > limit {
            return;
        }
        match v {
            Value::Null => *acc += 4,
            Value::Bool(b) => *acc += if *b { 4 } else { 5 },
            Value::Number(n) => {
                *acc += match n.as_i64() {
                    Some(i) => {
                        i.unsigned_abs().checked_ilog10().unwrap_or(0) as usize
                            + 1
                            + usize::from(i < 0)
                    }
                    // A finite f64 prints in at most 24 characters.
                    None => 24,
                }
            }
            Value::String(s) => *acc += s.len() + 2,
            Value::Array(items) => {
                *acc += 1 + items.len().max(1);
                for i in items {
                    walk(i, acc, limit);
                }
            }
            Value::Object(map) => {
                *acc += 1 + map.len().max(1);
                for (k, i) in map {
                    *acc += k.len() + 3;
                    walk(i, acc, limit);
                }
            }
        }
    }
    let mut acc = 0;
    walk(v, &mut acc, limit);
    acc
}
