#!/usr/bin/env bash
# Fifteen years of images (issue 16's figures): a library of DOCS documents (default
# 1,000,000) across PATIENTS patients (default 50,000), each document a real, distinct small
# original on disk, then open, search, a 5,000-photo patient's listing, the database's size,
# backup (first, unchanged, after 200 new photos) and verify beside `sha256sum` on both cores.
# Results: crates/bench/results/bench-library.sh.json and the README's table.
#   scripts/bench-library.sh [DOCS] [PATIENTS]      (needs ~6 GB free per million documents)
set -euo pipefail
cd "$(dirname "$0")/.."
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
DOCS=${1:-1000000}
PATIENTS=${2:-50000}
bash scripts/setup.sh
cargo build --release --quiet -p chairside-bench
BIN=target/release
WORK=$(mktemp -d "${CHAIRSIDE_BENCH_TMP:-/tmp}/chairside-scale.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export CHAIRSIDE_BENCH_FIGURES="$WORK/figures.jsonl"
export CHAIRSIDE_CONFIG_DIR="$WORK/config"

echo "== a library of $DOCS documents across $PATIENTS patients"
out=$($BIN/chairside-bench scale "$DOCS" "$PATIENTS" "$WORK/lib" "$WORK/backup")
echo "$out"
ours_s=$(echo "$out" | sed -n 's/.*verify_seconds=\([0-9.]*\).*/\1/p')
bytes=$(echo "$out" | sed -n 's/.*verify_bytes=\([0-9]*\).*/\1/p')
files=$(echo "$out" | sed -n 's/.*verify_files=\([0-9]*\).*/\1/p')

echo "== sha256sum of the same files on both cores (after the same warm cache)"
start=$(date +%s.%N)
find "$WORK/lib/blobs" -type f -print0 | xargs -0 -P "$(nproc)" -n 2000 sha256sum >/dev/null
end=$(date +%s.%N)
ref_s=$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')
$BIN/chairside-bench record scale_verify \
    "\`verify\` of $files originals ($(awk -v b="$bytes" 'BEGIN { printf "%.2f GB", b/1e9 }')) vs \`sha256sum\` of the same files with xargs -P $(nproc)" \
    "≥ 80% of sha256sum" \
    "$(awk -v o="$ours_s" -v r="$ref_s" 'BEGIN { printf "%.1f s vs %.1f s: **%.0f%%** of its speed", o, r, 100*r/o }')" \
    "seconds=$ours_s" "sha256sum_seconds=$ref_s"

$BIN/chairside-bench results bench-library.sh "$CHAIRSIDE_BENCH_FIGURES"
$BIN/chairside-bench readme
