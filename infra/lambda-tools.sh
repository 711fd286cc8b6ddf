#!/usr/bin/env bash
# The serverless tooling, pinned, in a virtualenv at infra/.venv-lambda (git ignores it):
# cargo-lambda (it brings zig, so `cargo lambda build` links against the older glibc of
# provided.al2023) and cfn-lint (checks infra/template.yaml). Idempotent: when the venv already
# holds exactly these versions it returns at once. Prints the venv's bin directory on stdout;
# progress goes to stderr.
#
#   PATH="$(bash infra/lambda-tools.sh):$PATH"
#   cargo lambda build --release --bin stepfn-lambda
#   cfn-lint infra/template.yaml
#
# Environment: PYTHON picks the interpreter (default python3, 3.9 or newer).
set -euo pipefail

readonly CARGO_LAMBDA_VERSION=1.9.2
readonly CFN_LINT_VERSION=1.58.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="$ROOT/infra/.venv-lambda"
readonly STAMP="$VENV/.stepfn-lambda-tools"
readonly WANT="cargo-lambda==$CARGO_LAMBDA_VERSION cfn-lint==$CFN_LINT_VERSION"

say() { echo "lambda-tools: $*" >&2; }
die() {
  say "$*"
  exit 1
}

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 \
  || die "$python not found: install Python 3.9+ (Debian/Ubuntu: apt-get install python3 python3-venv)"

# Parallel tests may ask at once: one builds, the others wait and take the fast path.
mkdir -p "$ROOT/infra"
exec 9>"$ROOT/infra/.lambda-tools.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/cargo-lambda" && -x "$VENV/bin/cfn-lint" ]]; then
  echo "$VENV/bin"
  exit 0
fi

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
PATH="$VENV/bin:$PATH" cargo lambda --help >/dev/null 2>&1 || die "cargo lambda does not run from $VENV"
"$VENV/bin/cfn-lint" --version >/dev/null 2>&1 || die "cfn-lint does not run from $VENV"
echo "$WANT" >"$STAMP"
echo "$VENV/bin"
