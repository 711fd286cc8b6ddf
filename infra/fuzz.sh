#!/usr/bin/env bash
# The fuzz targets of fuzz/ (cargo-fuzz, libFuzzer): `definition` (definition text → validate
# and load), `expression` (JSONPath / intrinsic / JSONata + input → evaluate) and `api` (request
# bodies → the API's dispatch on a memory store). A panic, a stack overflow or a hang is a
# finding; its reproducer is left in fuzz/artifacts/<target>/.
#
#   bash infra/fuzz.sh ci                      # each target for 60 s (what .ci/run does)
#   bash infra/fuzz.sh run <target> <seconds>  # one target, longer; the corpus grows in fuzz/corpus
#   bash infra/fuzz.sh build                   # build only
#   bash infra/fuzz.sh repro <target> <file>   # run one input (a reproducer) once
#
# Needs a nightly toolchain (`rustup toolchain install nightly`) or, failing that, uses the
# pinned stable one with RUSTC_BOOTSTRAP=1; installs cargo-fuzz (pinned) into ~/.cargo if missing.
# The targets are built with the dev profile (debug assertions, overflow checks) and without a
# sanitizer: safe Rust needs no AddressSanitizer to show a panic, and the unoptimised build
# of stepfn's dependencies (the AWS SDK among them) is the cheaper one (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
TARGETS=(definition expression api)
CI_SECONDS=60
# libFuzzer's limits: one input may take 10 s (a hang past that is a finding) and 2 GiB; the
# dictionary (fuzz/fuzz.dict) gives mutations the tokens of the languages.
LIBFUZZER_FLAGS=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict=fuzz.dict)

die() { echo "infra/fuzz.sh: $*" >&2; exit 1; }

command -v cargo >/dev/null 2>&1 ||
  die "cargo is missing: install Rust with rustup (https://rustup.rs)"

# cargo-fuzz passes nightly-only flags to rustc: a nightly toolchain, or the stable one told to
# accept them.
if cargo +nightly --version >/dev/null 2>&1; then
  cargo_cmd=(cargo +nightly)
else
  echo "infra/fuzz.sh: no nightly toolchain (\`rustup toolchain install nightly\` adds one);" \
    "using $(cargo --version) with RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
  cargo_cmd=(cargo)
fi

installed="$(cargo fuzz --version 2>/dev/null || true)"
if [[ "$installed" != *"$CARGO_FUZZ_VERSION"* ]]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION (found: ${installed:-none})" >&2
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" ||
    die "could not install cargo-fuzz $CARGO_FUZZ_VERSION: run \`cargo install cargo-fuzz --locked --version $CARGO_FUZZ_VERSION\` (needs crates.io)"
fi

fuzz() { (cd fuzz && "${cargo_cmd[@]}" fuzz "$@"); }

build() {
  echo "== building the fuzz targets (dev profile, no sanitizer)" >&2
  local started=$SECONDS
  fuzz build --dev --sanitizer none
  echo "built in $((SECONDS - started)) s" >&2
}

seed() {
  command -v python3 >/dev/null 2>&1 || die "python3 is missing: the seed corpus is written by fuzz/seed.py"
  python3 fuzz/seed.py >&2
}

# Runs $1 for $2 seconds on its corpus (libFuzzer's output in fuzz/target/$1.log); prints one
# summary line; fails on a finding.
run_target() {
  local target=$1 seconds=$2
  local log="fuzz/target/$target.log"
  mkdir -p fuzz/target
  echo "== fuzzing $target for $seconds s" >&2
  local status=0
  # Each input is written here before it runs (see keep_last_input in the targets): a stack
  # overflow leaves libFuzzer no stack to save its input, so this is the reproducer then.
  local last="$PWD/fuzz/target/$target.last-input"
  STEPFN_FUZZ_LAST_INPUT="$last" fuzz run "$target" --dev --sanitizer none "corpus/$target" -- \
    -max_total_time="$seconds" "${LIBFUZZER_FLAGS[@]}" >"$log" 2>&1 || status=$?
  local execs rate
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  if [[ $status -ne 0 ]]; then
    tail -60 "$log" >&2
    mkdir -p "fuzz/artifacts/$target"
    [[ -f "$last" ]] && cp "$last" "fuzz/artifacts/$target/last-input-$(date +%s)"
    die "$target: a finding (exit $status); its input is in fuzz/artifacts/$target/ (replay: bash infra/fuzz.sh repro $target <file>)"
  fi
  echo "fuzz $target: ${execs:-?} executions in $seconds s (${rate:-?}/s), no finding"
}

case "${1:-}" in
  ci)
    build
    seed
    for target in "${TARGETS[@]}"; do run_target "$target" "$CI_SECONDS"; done
    ;;
  run)
    [[ $# -eq 3 ]] || die "usage: bash infra/fuzz.sh run <target> <seconds>"
    [[ " ${TARGETS[*]} " == *" $2 "* ]] || die "unknown target $2 (one of: ${TARGETS[*]})"
    build
    [[ -d "fuzz/corpus/$2" ]] || seed
    run_target "$2" "$3"
    ;;
  build)
    build
    ;;
  repro)
    [[ $# -eq 3 ]] || die "usage: bash infra/fuzz.sh repro <target> <file>"
    fuzz run "$2" --dev --sanitizer none "$(realpath "$3")" -- "${LIBFUZZER_FLAGS[@]}"
    ;;
  *)
    die "usage: bash infra/fuzz.sh ci | run <target> <seconds> | build | repro <target> <file>"
    ;;
esac
