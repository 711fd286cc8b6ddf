#!/usr/bin/env bash
# The order notification workflow against AWS services: S3 (aws-sdk:s3:putObject), SNS
# (sns:publish) and EventBridge (events:putEvents). With AWS_ENDPOINT_URL set it runs against
# that endpoint (any emulator); unset, it starts moto (infra/moto.sh) on 127.0.0.1 and stops
# it at the end. (Against AWS itself, run the two definitions with `stepfn run` and your
# credentials.) Prints the workflow's result and the receipt read back from S3.
#
#   bash state-machines/order-notify/run.sh
#
# STEPFN names the stepfn binary (default: target/release/stepfn, built when missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

stepfn="${STEPFN:-$root/target/release/stepfn}"
if [[ ! -x "$stepfn" ]]; then
  cargo build --release --locked --bin stepfn >&2
fi
if [[ -z "${AWS_ENDPOINT_URL:-}" ]]; then
  exec bash infra/moto.sh run -- env STEPFN="$stepfn" bash "$here/run.sh"
fi
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"

suffix="$(date +%s)-$$"
ready="$("$stepfn" run "$here/setup.asl.json" \
  --input "{\"bucket\": \"orders-$suffix\", \"topic\": \"customers-$suffix\"}")"
bucket="orders-$suffix"
topic_arn="$(echo "$ready" | sed -n 's/.*"topicArn":"\([^"]*\)".*/\1/p')"
result="$("$stepfn" run "$here/order-notify.asl.json" \
  --input "{\"bucket\": \"$bucket\", \"topicArn\": \"$topic_arn\", \"order\": {\"id\": \"o-1\", \"items\": [\"book\", \"pen\"]}}")"
receipt="$(echo '{"StartAt":"Get","States":{"Get":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:s3:getObject","Parameters":{"Bucket.$":"$.bucket","Key":"receipts/o-1.json"},"OutputPath":"$.Body","End":true}}}' \
  | "$stepfn" run /dev/stdin --name receipt --input "{\"bucket\": \"$bucket\"}")"
echo "{\"result\": $result, \"receipt\": $receipt}"
