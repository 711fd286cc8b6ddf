#!/usr/bin/env bash
# The whole test suite, as README.md gives it and .ci/run calls it: formatting, lints, then
# every test (unit tests, CLI tests, the conformance cases and validation files).
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "missing $1: $2" >&2; exit 1; }
}
need cargo "install Rust with rustup (https://rustup.rs); rust-toolchain.toml picks the version"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked
