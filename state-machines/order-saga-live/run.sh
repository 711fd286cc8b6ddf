#!/usr/bin/env bash
# The live order saga against local peers: DynamoDB Local (started here unless one runs), a
# payment service (payments.py) and the nested shipping workflow. Runs one order that ships and
# one that cannot be delivered (refunded and cancelled) and prints both results and the orders.
#
#   bash state-machines/order-saga-live/run.sh
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

bash infra/dynamodb-local.sh install >&2
if endpoint="$(bash infra/dynamodb-local.sh endpoint 2>/dev/null)"; then
  stop_dynamodb=false
else
  endpoint="$(bash infra/dynamodb-local.sh start)"
  stop_dynamodb=true
fi
python3 -u "$here/payments.py" >"$here/.payments.port" &
payments_pid=$!
cleanup() {
  kill "$payments_pid" 2>/dev/null || true
  rm -f "$here/.payments.port"
  if [[ "$stop_dynamodb" == true ]]; then bash infra/dynamodb-local.sh stop; fi
}
trap cleanup EXIT
for _ in $(seq 50); do [[ -s "$here/.payments.port" ]] && break; sleep 0.1; done
port="$(head -n1 "$here/.payments.port")"

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_ENDPOINT_URL_DYNAMODB="$endpoint"
export AWS_DEFAULT_REGION="$AWS_REGION"
venv="$(bash infra/python-clients.sh)"
table="orders-$(date +%s)-$$"
"$venv/bin/aws" dynamodb create-table --endpoint-url "$endpoint" --table-name "$table" \
  --attribute-definitions AttributeName=id,AttributeType=S --key-schema AttributeName=id,KeyType=HASH \
  --billing-mode PAY_PER_REQUEST >/dev/null

run_order() {
  "$stepfn" run "$here/order-saga.asl.json" --format json \
    --machine "shipping=$here/shipping.asl.json" --connections "$here/connections.json" \
    --input "{\"table\": \"$table\", \"paymentsUrl\": \"http://127.0.0.1:$port\", \"orderId\": \"$1\", \"total\": 42, \"address\": \"$2\"}" || true
}
echo "{\"shipped\": $(run_order order-1 "1 Main St"), \"undeliverable\": $(run_order order-2 nowhere), \"orders\": $("$venv/bin/aws" dynamodb scan --endpoint-url "$endpoint" --table-name "$table" --output json)}"
