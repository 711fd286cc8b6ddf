#!/usr/bin/env bash
# The whole test suite, as README.md gives it and .ci/run calls it: formatting, lints, then
# every test (unit tests, CLI tests, the conformance cases and validation files), the tests that
# need DynamoDB against a real DynamoDB Local that infra/dynamodb-local.sh installs and runs.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "missing $1: $2" >&2; exit 1; }
}
need cargo "install Rust with rustup (https://rustup.rs); rust-toolchain.toml picks the version"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== layer rules"
bash infra/layers.sh
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# Build the tests before DynamoDB Local starts, so it does not idle through compilation.
echo "== cargo test --no-run"
cargo test --locked --no-run

echo "== DynamoDB Local"
bash infra/dynamodb-local.sh install
trap 'echo "== stopping DynamoDB Local"; bash infra/dynamodb-local.sh stop' EXIT
endpoint="$(bash infra/dynamodb-local.sh start)"
echo "DynamoDB Local at $endpoint"
export STEPFN_TEST_DYNAMODB_ENDPOINT="$endpoint"
# Dummy credentials and region for the AWS SDK; DynamoDB Local accepts any. The tests point
# their clients at STEPFN_TEST_DYNAMODB_ENDPOINT themselves (no global AWS_ENDPOINT_URL_*).
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE

echo "== Python clients (boto3, AWS CLI) for the serve tests"
venv="$(bash infra/python-clients.sh)"
echo "== AWS service models (models/aws) against the pinned botocore"
"$venv/bin/python" infra/service-models.py --check models/aws

echo "== moto (S3, SQS, SNS, EventBridge, EC2, Lambda, IAM) for the AWS service tests"
bash infra/moto.sh install
trap 'echo "== stopping DynamoDB Local and moto"; bash infra/dynamodb-local.sh stop; bash infra/moto.sh stop' EXIT
STEPFN_TEST_MOTO_ENDPOINT="$(bash infra/moto.sh start)"
export STEPFN_TEST_MOTO_ENDPOINT
echo "moto at $STEPFN_TEST_MOTO_ENDPOINT"

echo "== Chromium and playwright-core for the console's browser test"
browser_env="$(bash infra/browser.sh)"
while IFS= read -r assignment; do export "${assignment?}"; done <<<"$browser_env"
echo "chromium at $STEPFN_TEST_CHROMIUM, playwright-core in $STEPFN_TEST_BROWSER_DIR/node_modules"

echo "== serverless tools (cargo-lambda, cfn-lint) and the SAM template"
lambda_bin="$(bash infra/lambda-tools.sh)"
"$lambda_bin/cfn-lint" infra/template.yaml

echo "== cargo test"
cargo test --locked

echo "== fuzzing: each fuzz/ target for 60 s (cargo-fuzz, dev profile, no sanitizer)"
bash infra/fuzz.sh ci
