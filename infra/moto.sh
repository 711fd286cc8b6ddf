#!/usr/bin/env bash
# moto's server for the AWS service tests: S3, SQS, SNS, EventBridge, EC2, Lambda, IAM and the
# rest on one port of 127.0.0.1. Installs moto[server] (pinned) into its own virtualenv at
# infra/.moto-venv (git ignores it; apart from infra/.venv so its boto3/botocore pins stay).
#
#   bash infra/moto.sh install          # idempotent
#   bash infra/moto.sh start            # prints the endpoint, e.g. http://127.0.0.1:40123
#   bash infra/moto.sh endpoint         # the running server's endpoint (exit 1 if none)
#   bash infra/moto.sh stop             # stops the server `start` started; idempotent
#   bash infra/moto.sh run -- CMD ARGS  # start, run CMD with AWS_ENDPOINT_URL set, stop
#
# Environment: PYTHON picks the interpreter (default python3, 3.10 or newer).
set -euo pipefail

# Pinned; bump deliberately.
readonly MOTO_VERSION=5.2.5

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="$ROOT/infra/.moto-venv"
readonly STAMP="$VENV/.stepfn-moto"
readonly STATE="$ROOT/infra/.moto"
readonly PID_FILE="$STATE/moto.pid"
readonly PORT_FILE="$STATE/moto.port"
readonly LOG_FILE="$STATE/moto.log"
readonly START_TIMEOUT=60

say() { echo "moto: $*" >&2; }
die() {
  say "$*"
  exit 1
}

cmd_install() {
  local python="${PYTHON:-python3}"
  command -v "$python" >/dev/null 2>&1 \
    || die "$python not found: install Python 3.10+ (Debian/Ubuntu: apt-get install python3 python3-venv)"
  "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "$("$python" --version 2>&1) found, moto $MOTO_VERSION needs Python 3.10+"
  mkdir -p "$ROOT/infra"
  exec 9>"$ROOT/infra/.moto.lock"
  if command -v flock >/dev/null 2>&1; then
    flock 9
  fi
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$MOTO_VERSION" && -x "$VENV/bin/moto_server" ]]; then
    return 0
  fi
  "$python" -c 'import venv, ensurepip' >/dev/null 2>&1 \
    || die "the Python venv module (with ensurepip) is missing (Debian/Ubuntu: apt-get install python3-venv)"
  if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating ${VENV#"$ROOT"/}"
    "$python" -m venv "$VENV" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
  fi
  say "installing moto[server]==$MOTO_VERSION"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "moto[server]==$MOTO_VERSION" >&2 || die "pip install moto[server]==$MOTO_VERSION failed"
  [[ -x "$VENV/bin/moto_server" ]] || die "moto[server] installed no moto_server in ${VENV#"$ROOT"/}"
  echo "$MOTO_VERSION" >"$STAMP"
}

# The recorded pid, if that process is alive and is our moto_server.
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "moto_server" || return 1
  echo "$pid"
}

free_port() {
  "$VENV/bin/python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

answers() { curl -sf --max-time 2 "http://127.0.0.1:$1/moto-api/data.json" >/dev/null 2>&1; }

cmd_endpoint() {
  our_pid >/dev/null || die "no moto server runs (bash infra/moto.sh start)"
  echo "http://127.0.0.1:$(cat "$PORT_FILE")"
}

cmd_start() {
  command -v curl >/dev/null 2>&1 || die "curl not found (Debian/Ubuntu: apt-get install curl)"
  cmd_install
  if our_pid >/dev/null && answers "$(cat "$PORT_FILE")"; then
    cmd_endpoint
    return 0
  fi
  mkdir -p "$STATE"
  local port pid waited=0
  port="$(free_port)"
  # 9>&-: the server must not inherit the install lock, or it would hold it while it runs.
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$LOG_FILE" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$port" >"$PORT_FILE"
  until answers "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG_FILE" >&2 || true
      die "moto_server exited before answering (log: ${LOG_FILE#"$ROOT"/})"
    fi
    if ((waited >= START_TIMEOUT * 10)); then
      tail -n 20 "$LOG_FILE" >&2 || true
      kill "$pid" 2>/dev/null || true
      die "moto_server did not answer on port $port within ${START_TIMEOUT}s"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  say "moto $MOTO_VERSION on 127.0.0.1:$port (pid $pid)"
  echo "http://127.0.0.1:$port"
}

cmd_stop() {
  local pid _
  if pid="$(our_pid)"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped pid $pid"
  else
    say "no moto server of ours runs"
  fi
  rm -f "$PID_FILE" "$PORT_FILE"
}

cmd_run() {
  [[ "${1:-}" == "--" ]] && shift
  (($# > 0)) || die "usage: bash infra/moto.sh run -- CMD ARGS..."
  local endpoint status=0 started=false
  # A server that already runs is used and left running; one started here is stopped at the
  # end, also when the command fails or this script is interrupted.
  if ! our_pid >/dev/null || ! answers "$(cat "$PORT_FILE")"; then
    started=true
    trap 'cmd_stop' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
  fi
  endpoint="$(cmd_start)"
  export AWS_ENDPOINT_URL="$endpoint"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  "$@" || status=$?
  if [[ "$started" == false ]]; then
    say "left the server that was already running"
  fi
  return "$status"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  endpoint) cmd_endpoint ;;
  stop) cmd_stop ;;
  run)
    shift
    cmd_run "$@"
    ;;
  *) die "usage: bash infra/moto.sh install|start|endpoint|stop|run -- CMD..." ;;
esac
