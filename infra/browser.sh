#!/usr/bin/env bash
# What the console's browser test (tests/it/console.rs -> tests/browser/console.mjs) needs:
# Debian's chromium (apt-get, when missing) and the pinned playwright-core from npm in
# tests/browser/node_modules (git ignores it). Idempotent. Prints, one a line, the variables the
# test reads:
#
#   STEPFN_TEST_CHROMIUM=/usr/bin/chromium
#   STEPFN_TEST_BROWSER_DIR=/path/to/tests/browser   (its node_modules holds playwright-core)
#
#   export $(bash infra/browser.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly DIR="$ROOT/tests/browser"

say() { echo "browser: $*" >&2; }
die() {
  say "$*"
  exit 1
}

command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20+ (Debian: apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm not found: install it (Debian: apt-get install npm)"

chromium="${STEPFN_TEST_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  command -v apt-get >/dev/null 2>&1 || die "$chromium missing and no apt-get: install Chromium and set STEPFN_TEST_CHROMIUM"
  say "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends chromium >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends chromium >&2
  fi
  [ -x "$chromium" ] || die "apt-get installed chromium but $chromium is not there"
fi

# npm ci is exact to package-lock.json; skipped when the pinned version is there already.
want="$(node -e 'console.log(require(process.argv[1]).dependencies["playwright-core"])' "$DIR/package.json")"
have="$(node -e 'try { console.log(require(process.argv[1]).version) } catch (_) { console.log("") }' \
  "$DIR/node_modules/playwright-core/package.json")"
if [ "$have" != "$want" ]; then
  say "npm ci (playwright-core $want) in tests/browser"
  (cd "$DIR" && npm ci --no-audit --no-fund >&2)
fi

echo "STEPFN_TEST_CHROMIUM=$chromium"
echo "STEPFN_TEST_BROWSER_DIR=$DIR"
