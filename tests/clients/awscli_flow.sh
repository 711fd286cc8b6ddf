#!/usr/bin/env bash
# The main Step Functions flow through the AWS CLI against a running `stepfn serve`:
# create-state-machine, start-execution, describe-execution until SUCCEEDED,
# get-execution-history, list-executions, and modeled errors as the CLI reports them.
#
#   bash tests/clients/awscli_flow.sh --endpoint http://127.0.0.1:PORT   (or the URL alone)
#
# The CLI is infra/.venv/bin/aws (installed by infra/python-clients.sh when missing) unless
# AWS_CLI names another. It runs with dummy credentials, region us-east-1, no config files and
# no retries. Prints `awscli flow: N checks passed`; exits 1 at the first failed check.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly REGION=us-east-1
readonly ROLE_ARN=arn:aws:iam::111111111111:role/stepfn-cli
readonly TIMEOUT_SECONDS=30

usage() {
  echo "usage: $0 [--endpoint] URL" >&2
  exit 2
}
case "${1:-}" in
  --endpoint | --endpoint-url) ENDPOINT="${2:-}" ;;
  -*) usage ;;
  *) ENDPOINT="${1:-}" ;;
esac
[[ -n "$ENDPOINT" ]] || usage
readonly ENDPOINT

if [[ -n "${AWS_CLI:-}" ]]; then
  AWS="$AWS_CLI"
else
  AWS="$(bash "$ROOT/infra/python-clients.sh")/bin/aws"
fi
readonly AWS
readonly PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || { echo "awscli flow: $PY not found" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A clean AWS environment: dummy credentials, no profile or config file, one attempt per call.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SFN
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_DEFAULT_REGION="$REGION" AWS_REGION="$REGION"
export AWS_CONFIG_FILE="$tmp/config" AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials"
export AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
# StartSyncExecution's model prefixes the host with "sync-"; 127.0.0.1 must stay as it is.
export AWS_DISABLE_HOST_PREFIX_INJECTION=true

checks=0
fail() {
  echo "awscli flow: FAILED after $checks checks: $*" >&2
  exit 1
}
# check DESCRIPTION COMMAND...: the command must succeed.
check() {
  local what="$1"
  shift
  "$@" || fail "$what"
  checks=$((checks + 1))
}
equal() { [[ "$1" == "$2" ]] || { echo "  got:      $1" >&2; echo "  expected: $2" >&2; return 1; }; }
# matches TEXT REGEX: TEXT matches the extended regular expression REGEX.
matches() { [[ "$1" =~ $2 ]]; }

# sfn NAME ARGS...: `aws stepfunctions ARGS...`, its JSON in $tmp/NAME.json; must succeed.
sfn() {
  local name="$1"
  shift
  "$AWS" --endpoint-url "$ENDPOINT" --output json stepfunctions "$@" \
    >"$tmp/$name.json" 2>"$tmp/$name.err" \
    || fail "aws stepfunctions $1 exited $?: $(cat "$tmp/$name.err")"
  checks=$((checks + 1))
}

# q NAME EXPR: the Python expression EXPR over the JSON of call NAME (as `d`); strings print bare.
q() {
  "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))
' "$tmp/$1.json" "$2"
}

# modeled_error CODE OPERATION ARGS...: the call must fail the way the CLI reports a modeled
# service error: exit 255, nothing on stdout, and "An error occurred (CODE) when calling the
# OPERATION operation (reached max retries: 0): <message>" on stderr (the retry note is there
# when retries are configured). A __type the CLI could not map would show another code (the
# whole namespaced string, or "Unknown").
modeled_error() {
  local code="$1" operation="$2"
  shift 2
  local rc=0
  "$AWS" --endpoint-url "$ENDPOINT" --output json stepfunctions "$@" \
    >"$tmp/error.out" 2>"$tmp/error.err" || rc=$?
  local pattern="^An error occurred \\($code\\) when calling the $operation operation( \\(reached max retries: [0-9]+\\))?: .+"
  check "$operation: exit code $rc, expected 255 ($(cat "$tmp/error.err"))" equal "$rc" 255
  check "$operation: stdout not empty" equal "$(cat "$tmp/error.out")" ""
  local stderr
  stderr="$(tr -d '\r' <"$tmp/error.err" | sed '/^$/d')"
  check "$operation: stderr is not the modeled $code error: $stderr" \
    matches "$stderr" "$pattern"
}

suffix="$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
machine="cli-$suffix"
run="run-$suffix"

cat >"$tmp/definition.json" <<'EOF'
{
  "Comment": "AWS CLI flow",
  "StartAt": "Greet",
  "States": {
    "Greet": {
      "Type": "Pass",
      "Parameters": {"greeting.$": "States.Format('Hello, {}!', $.name)"},
      "Next": "Nap"
    },
    "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
    "Done": {"Type": "Pass", "End": true}
  }
}
EOF

# --- create-state-machine ------------------------------------------------------------------
sfn create create-state-machine --name "$machine" --role-arn "$ROLE_ARN" \
  --definition "file://$tmp/definition.json"
machine_arn="$(q create 'd["stateMachineArn"]')"
account="$(cut -d: -f5 <<<"$machine_arn")"
check "state machine ARN $machine_arn" \
  equal "$machine_arn" "arn:aws:states:$REGION:$account:stateMachine:$machine"
check "creationDate" test -n "$(q create 'd["creationDate"]')"

sfn describe-machine describe-state-machine --state-machine-arn "$machine_arn"
check "describe-state-machine definition" \
  equal "$(q describe-machine 'd["definition"]')" "$(cat "$tmp/definition.json")"
check "describe-state-machine type" equal "$(q describe-machine 'd["type"]')" STANDARD

# --- start-execution, describe-execution until SUCCEEDED -----------------------------------
sfn start start-execution --state-machine-arn "$machine_arn" --name "$run" \
  --input '{"name": "Linus"}'
run_arn="$(q start 'd["executionArn"]')"
check "execution ARN $run_arn" \
  equal "$run_arn" "arn:aws:states:$REGION:$account:execution:$machine:$run"

deadline=$((SECONDS + TIMEOUT_SECONDS))
while :; do
  sfn describe describe-execution --execution-arn "$run_arn"
  status="$(q describe 'd["status"]')"
  [[ "$status" == SUCCEEDED ]] && break
  check "describe-execution status $status ($(q describe 'd.get("error")'): $(q describe 'd.get("cause")'))" \
    equal "$status" RUNNING
  ((SECONDS < deadline)) || fail "execution still $status after ${TIMEOUT_SECONDS}s"
  sleep 0.2
done
check "describe-execution output" \
  equal "$(q describe 'json.loads(d["output"])')" '{"greeting": "Hello, Linus!"}'
check "describe-execution name" equal "$(q describe 'd["name"]')" "$run"
check "describe-execution stopDate" test -n "$(q describe 'd.get("stopDate", "")')"

# --- get-execution-history -----------------------------------------------------------------
sfn history get-execution-history --execution-arn "$run_arn"
check "history event types" equal "$(q history '[e["type"] for e in d["events"]]')" \
  '["ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]'
check "history ids" equal "$(q history '[e["id"] for e in d["events"]]')" '[1, 2, 3, 4, 5, 6, 7, 8]'
check "ExecutionSucceeded output" \
  equal "$(q history 'json.loads(d["events"][-1]["executionSucceededEventDetails"]["output"])')" \
  '{"greeting": "Hello, Linus!"}'
# --page-size makes the CLI ask for 2 events a call and follow nextToken to the end.
sfn history-paged get-execution-history --execution-arn "$run_arn" --page-size 2
check "history fetched 2 at a time" \
  equal "$(q history-paged '[e["id"] for e in d["events"]]')" '[1, 2, 3, 4, 5, 6, 7, 8]'
sfn history-reverse get-execution-history --execution-arn "$run_arn" --reverse-order --max-items 1
check "reverse-order history starts at the end" \
  equal "$(q history-reverse '[e["type"] for e in d["events"]]')" '["ExecutionSucceeded"]'

# --- list-executions -----------------------------------------------------------------------
sfn listed list-executions --state-machine-arn "$machine_arn" --status-filter SUCCEEDED
check "list-executions SUCCEEDED" \
  equal "$(q listed '[(e["executionArn"], e["status"]) for e in d["executions"]]')" \
  "[[\"$run_arn\", \"SUCCEEDED\"]]"
sfn listed-running list-executions --state-machine-arn "$machine_arn" --status-filter RUNNING
check "list-executions RUNNING is empty" equal "$(q listed-running 'd["executions"]')" '[]'

# --- modeled errors ------------------------------------------------------------------------
modeled_error ExecutionDoesNotExist DescribeExecution \
  describe-execution --execution-arn "arn:aws:states:$REGION:$account:execution:$machine:missing-$suffix"
modeled_error StateMachineDoesNotExist DescribeStateMachine \
  describe-state-machine --state-machine-arn "arn:aws:states:$REGION:$account:stateMachine:missing-$suffix"
modeled_error InvalidArn DescribeExecution describe-execution --execution-arn not-an-arn
modeled_error ExecutionAlreadyExists StartExecution \
  start-execution --state-machine-arn "$machine_arn" --name "$run" --input '{"name": "Ken"}'
modeled_error StateMachineAlreadyExists CreateStateMachine \
  create-state-machine --name "$machine" --role-arn "$ROLE_ARN" \
  --definition '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}'

# --- versions and aliases ------------------------------------------------------------------
sfn publish publish-state-machine-version --state-machine-arn "$machine_arn" --description first
check "publish-state-machine-version" equal "$(q publish 'd["stateMachineVersionArn"]')" "$machine_arn:1"
sfn update update-state-machine --state-machine-arn "$machine_arn" --publish \
  --version-description second --definition '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}'
check "update-state-machine --publish" equal "$(q update 'd["stateMachineVersionArn"]')" "$machine_arn:2"
sfn versions list-state-machine-versions --state-machine-arn "$machine_arn"
check "list-state-machine-versions" \
  equal "$(q versions '[v["stateMachineVersionArn"] for v in d["stateMachineVersions"]]')" \
  "[\"$machine_arn:2\", \"$machine_arn:1\"]"
sfn alias create-state-machine-alias --name live \
  --routing-configuration "stateMachineVersionArn=$machine_arn:1,weight=100"
check "create-state-machine-alias" equal "$(q alias 'd["stateMachineAliasArn"]')" "$machine_arn:live"
sfn alias-update update-state-machine-alias --state-machine-alias-arn "$machine_arn:live" \
  --routing-configuration "stateMachineVersionArn=$machine_arn:1,weight=20" \
  "stateMachineVersionArn=$machine_arn:2,weight=80"
sfn alias-describe describe-state-machine-alias --state-machine-alias-arn "$machine_arn:live"
check "describe-state-machine-alias" \
  equal "$(q alias-describe '[r["weight"] for r in d["routingConfiguration"]]')" '[20, 80]'
sfn aliases list-state-machine-aliases --state-machine-arn "$machine_arn"
check "list-state-machine-aliases" \
  equal "$(q aliases '[a["stateMachineAliasArn"] for a in d["stateMachineAliases"]]')" "[\"$machine_arn:live\"]"
sfn start-alias start-execution --state-machine-arn "$machine_arn:live"
sfn describe-alias-run describe-execution --execution-arn "$(q start-alias 'd["executionArn"]')"
check "describe-execution names the alias" \
  equal "$(q describe-alias-run 'd["stateMachineAliasArn"]')" "$machine_arn:live"
modeled_error ConflictException DeleteStateMachineVersion \
  delete-state-machine-version --state-machine-version-arn "$machine_arn:1"
modeled_error ResourceNotFound DescribeStateMachineAlias \
  describe-state-machine-alias --state-machine-alias-arn "$machine_arn:missing"
modeled_error ValidationException CreateStateMachineAlias create-state-machine-alias --name bad \
  --routing-configuration "stateMachineVersionArn=$machine_arn:1,weight=70" \
  "stateMachineVersionArn=$machine_arn:2,weight=29"
sfn alias-delete delete-state-machine-alias --state-machine-alias-arn "$machine_arn:live"
sfn version-delete delete-state-machine-version --state-machine-version-arn "$machine_arn:1"
sfn versions-after list-state-machine-versions --state-machine-arn "$machine_arn"
check "delete-state-machine-version" \
  equal "$(q versions-after '[v["stateMachineVersionArn"] for v in d["stateMachineVersions"]]')" \
  "[\"$machine_arn:2\"]"

# --- test-state ----------------------------------------------------------------------------
sfn test test-state --definition "file://$tmp/definition.json" --state-name Greet \
  --input '{"name": "Ada"}' --inspection-level DEBUG
check "test-state status" equal "$(q test 'd["status"]')" SUCCEEDED
check "test-state nextState" equal "$(q test 'd["nextState"]')" Nap
check "test-state output" equal "$(q test 'json.loads(d["output"])')" '{"greeting": "Hello, Ada!"}'
modeled_error ValidationException TestState test-state \
  --definition '{"Type": "Pass", "End": true}' --mock '{"result": "{}"}'

# --- redrive-execution ---------------------------------------------------------------------
cat >"$tmp/redrive.json" <<'JSON'
{"StartAt": "Work", "States": {"Work": {"Type": "Parallel", "End": true, "Branches": [
  {"StartAt": "Gate", "States": {
    "Gate": {"Type": "Choice", "Default": "Fine", "Choices": [
      {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0, "Next": "Broken"}]},
    "Broken": {"Type": "Fail", "Error": "Bug.Found"},
    "Fine": {"Type": "Pass", "Result": "fixed", "End": true}}}]}}}
JSON
sfn create-redrive create-state-machine --name "$machine-redrive" --role-arn "$ROLE_ARN" \
  --definition "file://$tmp/redrive.json"
redrive_machine="$(q create-redrive 'd["stateMachineArn"]')"
sfn start-redrive start-execution --state-machine-arn "$redrive_machine"
redrive_run="$(q start-redrive 'd["executionArn"]')"
# wait_for ARN STATUS: describe-execution until the execution has STATUS.
wait_for() {
  local arn="$1" want="$2" deadline=$((SECONDS + TIMEOUT_SECONDS)) status
  while :; do
    sfn wait-describe describe-execution --execution-arn "$arn"
    status="$(q wait-describe 'd["status"]')"
    [[ "$status" == "$want" ]] && return 0
    ((SECONDS < deadline)) || fail "execution $arn is $status, expected $want"
    sleep 0.2
  done
}
wait_for "$redrive_run" FAILED
sfn redriven redrive-execution --execution-arn "$redrive_run"
check "redrive-execution redriveDate" test -n "$(q redriven 'd["redriveDate"]')"
wait_for "$redrive_run" SUCCEEDED
check "redriven output" equal "$(q wait-describe 'd["output"]')" '["fixed"]'
check "redriveCount" equal "$(q wait-describe 'd["redriveCount"]')" 1
modeled_error ExecutionNotRedrivable RedriveExecution redrive-execution --execution-arn "$redrive_run"

# --- delete-state-machine ------------------------------------------------------------------
sfn delete delete-state-machine --state-machine-arn "$machine_arn"

echo "awscli flow: $checks checks passed"
