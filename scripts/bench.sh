#!/usr/bin/env bash
# The performance figures of the README, measured side by side in one run. Each figure is
# recorded; at the end they are written to crates/bench/results/bench.sh.json and the README's
# table is rendered from them (commit both).
#   scripts/bench.sh [PHOTO_24MP.jpg]
# PHOTO defaults to the 24 MP Nikon D5300 JPEG of the shared corpus. Needs libvips-tools
# (vipsthumbnail, the reference, and vips to cut 12 MP test photos from PHOTO).
set -euo pipefail
cd "$(dirname "$0")/.."
# The commit measured, taken as the run starts: edits made while it runs do not relabel it.
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
PHOTO=${1:-../shared/corpus/jpg_nikon_d5300_24mp.jpg}
[ -f "$PHOTO" ] || { echo "bench: $PHOTO not found: pass a 24 MP camera JPEG" >&2; exit 1; }
bash scripts/setup.sh
command -v vipsthumbnail >/dev/null && [ -x /usr/bin/time ] || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvips-tools time >/dev/null
}
cargo build --release --quiet -p chairside-cli -p chairside-bench
BIN=target/release
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RUNS=10
export CHAIRSIDE_BENCH_FIGURES="$WORK/figures.jsonl"
record() { $BIN/chairside-bench record "$@"; }

echo "== thumbnails: 256 + 1024 + 2048 of $(basename "$PHOTO") ($(vipsheader "$PHOTO" | cut -d, -f1 | cut -d: -f2)), $RUNS runs each"
cpu() { /usr/bin/time -f "%U %S" bash -c "$1" 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'; }
ours=$(cpu "for i in \$(seq $RUNS); do $BIN/chairside-bench thumbs '$PHOTO' '$WORK' 2>/dev/null; done")
vips=$(cpu "for i in \$(seq $RUNS); do for s in 256 1024 2048; do vipsthumbnail '$PHOTO' --size \$s -o '$WORK/v\$s.jpg'; done; done")
rss=$(/usr/bin/time -f "%M" $BIN/chairside-bench thumbs "$PHOTO" "$WORK" 2>&1 >/dev/null | tail -1)
size=$(vipsheader "$PHOTO" | sed -n 's/.* \([0-9]*\)x\([0-9]*\) .*/\1×\2/p')
vips_version=$(vips --version | sed -n 's/^vips-\([0-9.]*\).*/\1/p')
record thumbnails_cpu \
    "CPU for 256 + 1024 + 2048 thumbnails of $(basename "$PHOTO") ($size), vs \`vipsthumbnail\` $vips_version making the same sizes as three calls, $RUNS runs" \
    "≤ 0.25×" \
    "$(awk -v o="$ours" -v v="$vips" -v r="$RUNS" 'BEGIN { printf "%.3f s vs %.3f s per photo: **%.2f×**", o/r, v/r, o/v }')" \
    "seconds=$(awk -v o="$ours" -v r="$RUNS" 'BEGIN { print o/r }')" "vips_seconds=$(awk -v v="$vips" -v r="$RUNS" 'BEGIN { print v/r }')"
record thumbnails_rss "peak RSS making those thumbnails" "< 80 MB" \
    "$(awk -v m="$rss" 'BEGIN { printf "**%.0f MB**", m/1024 }')" "megabytes=$(awk -v m="$rss" 'BEGIN { print m/1024 }')"

echo "== SHA-256"
openssl=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null | tail -1 | awk '{printf "%.2f", $2/1e6}' || true)
$BIN/chairside-bench sha 1024 $openssl

echo "== list"
$BIN/chairside-bench list 100000 5000 2>/dev/null

echo "== import: 50 x 12 MP JPEGs (cut from $(basename "$PHOTO")), hash + store + EXIF + 3 thumbnails + DB"
mkdir -p "$WORK/in"
for i in $(seq 0 49); do
    vips crop "$PHOTO" "$WORK/in/p$i.jpg[Q=92]" $(( (i * 37) % 2000 )) $(( (i * 53) % 1000 )) 4000 3000
done
P=$($BIN/chairside --data-dir "$WORK/lib" --json patient add --name Bench | sed -n 's/.*"id": "\([^"]*\)".*/\1/p')
start=$(date +%s.%N)
$BIN/chairside --data-dir "$WORK/lib" import --patient "$P" "$WORK/in" 2>/dev/null
end=$(date +%s.%N)
record import "import end to end (hash, store, EXIF, 3 thumbnails, DB) of 50 × 12 MP JPEGs, \`chairside import\` of a folder" \
    "≥ 8 photos/s" \
    "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "**%.1f photos/s** (%.2f s)", 50/(e-s), e-s }')" \
    "photos_per_second=$(awk -v s="$start" -v e="$end" 'BEGIN { print 50/(e-s) }')"

echo "== inbox: the same 12 MP JPEGs written into a watched inbox, one at a time, then 200 at once"
$BIN/chairside-bench inbox "$WORK/in" 50 2>/dev/null

$BIN/chairside-bench results bench.sh "$CHAIRSIDE_BENCH_FIGURES"
$BIN/chairside-bench readme
