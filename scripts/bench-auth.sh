#!/usr/bin/env bash
# Issue 15's figures: sign-in with argon2id (beside Debian's `argon2` command with the same
# parameters), what a permission check adds to a command, and `audit list` filtered by patient
# over a million events. Written to crates/bench/results/bench-auth.sh.json and the README.
#   scripts/bench-auth.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
EVENTS=${1:-1000000}
command -v argon2 >/dev/null || { apt-get install -y -qq argon2 >/dev/null 2>&1 || true; }
cargo build --release --quiet -p chairside-bench
BIN=target/release
WORK=$(mktemp -d /tmp/chairside-bench-auth.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export CHAIRSIDE_BENCH_FIGURES="$WORK/figures.jsonl"
export CHAIRSIDE_CONFIG_DIR="$WORK/config"

reference=""
if command -v argon2 >/dev/null; then
    # The reference: the argon2 command hashing with Chairside's parameters (-m is log2 KiB).
    runs=()
    for _ in 1 2 3 4 5; do
        s=$(date +%s%N)
        echo -n "dentist password" | argon2 somesaltsomesalt -id -t 6 -m 16 -p 1 >/dev/null
        e=$(date +%s%N)
        runs+=($(( (e - s) / 1000000 )))
    done
    reference=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p)
    echo "argon2 command (median of 5): $reference ms"
fi
$BIN/chairside-bench auth "$WORK/library" "$EVENTS" $reference
$BIN/chairside-bench results bench-auth.sh "$CHAIRSIDE_BENCH_FIGURES"
$BIN/chairside-bench readme
