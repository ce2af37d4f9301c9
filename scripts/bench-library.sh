#!/usr/bin/env bash
# Fifteen years of images (issue 16's figures): a library of DOCS documents (default
# 1,000,000) across PATIENTS patients (default 50,000), each document a real, distinct small
# original on disk, then open, search, a 5,000-photo patient's listing, the database's size,
# backup (first, unchanged, after 200 new photos) and verify beside `sha256sum` on both cores;
# then a restore of RESTORE_DOCS (10,000) documents of RESTORE_MB (1) MB beside `cp -r`.
# Results: crates/bench/results/bench-library.sh.json and the README's table.
#   scripts/bench-library.sh [DOCS] [PATIENTS]      (needs ~6 GB free per million documents)
set -euo pipefail
cd "$(dirname "$0")/.."
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
DOCS=${1:-1000000}
PATIENTS=${2:-50000}
bash scripts/setup.sh
cargo build --release --quiet -p chairside-bench -p chairside-cli
BIN=target/release
WORK=$(mktemp -d "${CHAIRSIDE_BENCH_TMP:-/tmp}/chairside-scale.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export CHAIRSIDE_BENCH_FIGURES="$WORK/figures.jsonl"
export CHAIRSIDE_CONFIG_DIR="$WORK/config"

echo "== a library of $DOCS documents across $PATIENTS patients"
out=$($BIN/chairside-bench scale "$DOCS" "$PATIENTS" "$WORK/lib" "$WORK/backup")
echo "$out"
ours_s=$(echo "$out" | sed -n 's/.*verify_seconds=\([0-9.]*\).*/\1/p')
# The part sha256sum does too: re-hashing the originals (the rest is the database check, the
# thumbnails and the sweep for stray files, which sha256sum does not do).
orig_s=$(echo "$out" | sed -n 's/.*verify_originals_seconds=\([0-9.]*\).*/\1/p')
db_s=$(echo "$out" | sed -n 's/.*verify_database_seconds=\([0-9.]*\).*/\1/p')
thumbs_s=$(echo "$out" | sed -n 's/.*verify_thumbnails_seconds=\([0-9.]*\).*/\1/p')
sweep_s=$(echo "$out" | sed -n 's/.*verify_sweep_seconds=\([0-9.]*\).*/\1/p')
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
    "$(awk -v o="$orig_s" -v r="$ref_s" -v t="$ours_s" -v d="$db_s" -v th="$thumbs_s" -v sw="$sweep_s" 'BEGIN { printf "originals %.1f s vs %.1f s: **%.0f%%** of its speed; the whole verify %.1f s (database check %.1f s, thumbnails %.1f s, stray-file sweep %.1f s)", o, r, 100*r/o, t, d, th, sw }')" \
    "seconds=$ours_s" "originals_seconds=$orig_s" "database_seconds=$db_s" "thumbnails_seconds=$thumbs_s" "sweep_seconds=$sweep_s" "sha256sum_seconds=$ref_s"

RDOCS=${RESTORE_DOCS:-10000}
RMB=${RESTORE_MB:-1}
echo "== restore of $RDOCS documents of $RMB MB, beside a plain copy of the same backup's originals"
rm -rf "$WORK/lib" "$WORK/backup"
out=$($BIN/chairside-bench restore-figure "$RDOCS" "$RMB" "$WORK/restore")
echo "$out"
# The restore is timed again here from cold caches, as the copy beside it is.
rm -rf "$WORK/restore/restored"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
start=$(date +%s.%N)
$BIN/chairside --json restore --from "$WORK/restore/backup" --into "$WORK/restore/restored" >/dev/null
end=$(date +%s.%N)
r_s=$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')
r_bytes=$(echo "$out" | sed -n 's/.*restore_bytes=\([0-9]*\).*/\1/p')
rm -rf "$WORK/restore/restored"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
start=$(date +%s.%N)
cp -r "$WORK/restore/backup/blobs" "$WORK/restore/plain-copy" && sync
end=$(date +%s.%N)
cp_s=$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')
$BIN/chairside-bench record scale_restore \
    "\`restore\` of $RDOCS documents ($(awk -v b="$r_bytes" 'BEGIN { printf "%.1f GB", b/1e9 }'), every hash checked) vs \`cp -r\` + \`sync\` of the same originals" \
    "bounded by disk speed" \
    "$(awk -v o="$r_s" -v c="$cp_s" -v b="$r_bytes" 'BEGIN { printf "**%.1f s** (%.0f MB/s) vs %.1f s for the plain copy", o, b/1e6/o, c }')" \
    "seconds=$r_s" "cp_seconds=$cp_s"

$BIN/chairside-bench results bench-library.sh "$CHAIRSIDE_BENCH_FIGURES"
$BIN/chairside-bench readme
