//! JSON values as the Java side of Step Functions prints them: strings raw, scalars as JSON,
//! maps and lists as Java's `toString` writes them (`{Arg1=1, Arg2=[1, 2]}`). States.Format
//! renders its arguments this way, and Jayway's path messages their context.

use std::fmt::Write;

use serde_json::Value;

/// Appends `v` to `out` as Java prints the parsed value.
pub(crate) fn java_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_text(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_text(item, out);
            }
            out.push('}');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}
