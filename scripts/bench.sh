#!/usr/bin/env bash
# The performance figures of the README, measured side by side in one run.
#   scripts/bench.sh [PHOTO_24MP.jpg]
# PHOTO defaults to the 24 MP Nikon D5300 JPEG of the shared corpus. Needs libvips-tools
# (vipsthumbnail, the reference, and vips to cut 12 MP test photos from PHOTO).
set -euo pipefail
cd "$(dirname "$0")/.."
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

echo "== thumbnails: 256 + 1024 + 2048 of $(basename "$PHOTO") ($(vipsheader "$PHOTO" | cut -d, -f1 | cut -d: -f2)), $RUNS runs each"
cpu() { /usr/bin/time -f "%U %S" bash -c "$1" 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'; }
ours=$(cpu "for i in \$(seq $RUNS); do $BIN/chairside-bench thumbs '$PHOTO' '$WORK' 2>/dev/null; done")
vips=$(cpu "for i in \$(seq $RUNS); do for s in 256 1024 2048; do vipsthumbnail '$PHOTO' --size \$s -o '$WORK/v\$s.jpg'; done; done")
rss=$(/usr/bin/time -f "%M" $BIN/chairside-bench thumbs "$PHOTO" "$WORK" 2>&1 >/dev/null | tail -1)
awk -v o="$ours" -v v="$vips" -v r="$RUNS" -v m="$rss" 'BEGIN {
    printf "chairside: %.3f s CPU per photo; vipsthumbnail x3: %.3f s CPU; ratio %.2fx (target <= 0.25x)\n", o/r, v/r, o/v
    printf "chairside peak RSS: %.1f MB (target < 80 MB)\n", m/1024 }'

echo "== SHA-256"
$BIN/chairside-bench sha 1024
command -v openssl >/dev/null && openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null | tail -1 | awk '{printf "openssl sha256 (16 KiB blocks), for reference: %.2f GB/s\n", $2/1e6}'

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
awk -v s="$start" -v e="$end" 'BEGIN { printf "50 photos in %.2f s = %.1f photos/s (target >= 8)\n", e-s, 50/(e-s) }'

echo "== inbox: the same 12 MP JPEGs written into a watched inbox, one at a time, then 200 at once"
$BIN/chairside-bench inbox "$WORK/in" 50 2>/dev/null
