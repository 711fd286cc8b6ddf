#!/usr/bin/env bash
# The real AWS clients the API tests drive stepfn with: boto3 and the AWS CLI (v1), pinned, in a
# virtualenv at infra/.venv (git ignores it). Idempotent: when the venv already holds exactly
# these versions it returns at once. Prints the venv's path on stdout; progress goes to stderr.
#
#   venv="$(bash infra/python-clients.sh)"
#   "$venv/bin/python" tests/clients/boto3_session.py --endpoint http://127.0.0.1:PORT
#   AWS_CLI="$venv/bin/aws" bash tests/clients/awscli_flow.sh http://127.0.0.1:PORT
#
# Versions: boto3 pins botocore to its own minor line, so botocore is pinned to boto3's release.
# awscli 1.46 and later vendors its own botocore (awscli/botocore) and depends on no botocore
# package, so it cannot clash with boto3's; it is pinned to the release of the same period.
# Bump all three together, deliberately.
#
# Environment: PYTHON picks the interpreter (default python3, 3.10 or newer).
set -euo pipefail

readonly BOTO3_VERSION=1.44.5
readonly BOTOCORE_VERSION=1.44.5
readonly AWSCLI_VERSION=1.46.3

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="$ROOT/infra/.venv"
readonly STAMP="$VENV/.stepfn-clients"
readonly WANT="boto3==$BOTO3_VERSION botocore==$BOTOCORE_VERSION awscli==$AWSCLI_VERSION"

say() { echo "python-clients: $*" >&2; }
die() {
  say "$*"
  exit 1
}

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 \
  || die "$python not found: install Python 3.10+ (Debian/Ubuntu: apt-get install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "$("$python" --version 2>&1) found, boto3 $BOTO3_VERSION and awscli $AWSCLI_VERSION need Python 3.10+"

# Tests run in parallel and may all ask for the venv at once: build it under a lock, one at a
# time (the others then take the fast path).
mkdir -p "$ROOT/infra"
exec 9>"$ROOT/infra/.python-clients.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

# Fast path: the stamp records what was installed, and the interpreter still runs.
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/python" && -x "$VENV/bin/aws" ]] \
  && "$VENV/bin/python" -c 'import boto3' >/dev/null 2>&1; then
  echo "$VENV"
  exit 0
fi

# `python3 -m venv` without ensurepip (Debian's split python3-venv) fails half-way and leaves a
# venv with no pip; check first so the message says what to install.
"$python" -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || die "the Python venv module (with ensurepip) is missing (Debian/Ubuntu: apt-get install python3-venv)"

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  say "creating $VENV"
  rm -rf "$VENV"
  "$python" -m venv "$VENV" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
fi

say "installing $WANT"
# shellcheck disable=SC2086 # WANT is a list of requirement specifiers.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input $WANT >&2 \
  || die "pip install failed: $WANT"
"$VENV/bin/python" -c 'import boto3, botocore' >/dev/null \
  || die "boto3 does not import in $VENV"
"$VENV/bin/aws" --version >/dev/null 2>&1 || die "aws does not run in $VENV"
echo "$WANT" >"$STAMP"
echo "$VENV"
