#!/usr/bin/env bash
# Orders in a CSV on S3, packed two to a child execution by a Distributed Map (ItemReader,
# ItemBatcher, STANDARD children, ResultWriter back to S3). With AWS_ENDPOINT_URL set it runs
# against that endpoint (any emulator); unset, it starts moto (infra/moto.sh) on 127.0.0.1 and
# stops it at the end. Prints the manifest the ResultWriter wrote and its SUCCEEDED results
# read back from S3.
#
#   bash state-machines/orders-batch/run.sh
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

bucket="orders-batch-$(date +%s)-$$"
"$stepfn" run "$here/setup.asl.json" --input "{\"bucket\": \"$bucket\"}" >/dev/null
manifest="$("$stepfn" run "$here/orders-batch.asl.json" --input "{\"bucket\": \"$bucket\"}")"
key="$(echo "$manifest" | sed -n 's/.*"SUCCEEDED":\[{"Key":"\([^"]*\)".*/\1/p')"
succeeded="$(echo '{"StartAt":"Get","States":{"Get":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:s3:getObject","Parameters":{"Bucket.$":"$.bucket","Key.$":"$.key"},"ResultSelector":{"files.$":"States.StringToJson($.Body)"},"OutputPath":"$.files","End":true}}}' \
  | "$stepfn" run /dev/stdin --name results --input "{\"bucket\": \"$bucket\", \"key\": \"$key\"}")"
echo "{\"manifest\": $manifest, \"succeeded\": $succeeded}"
