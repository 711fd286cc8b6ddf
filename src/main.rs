//! The `stepfn` command line.
fn main() {}
