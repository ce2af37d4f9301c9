#!/usr/bin/env bash
# Issue 13's figures for the new kinds of file, side by side with `sha256sum` in one run:
# a 50 MB binary STL (import time and thumbnails), and 1 GB files (a binary STL and a
# multi-frame DICOM) imported through the CLI under /usr/bin/time: peak RSS and throughput.
# Written to crates/bench/results/bench-formats.sh.json and the README.
#   scripts/bench-formats.sh            (needs ~3.5 GB free in /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
cargo build --release --quiet -p chairside-bench -p chairside-cli
BIN=$PWD/target/release
WORK=$(mktemp -d /tmp/chairside-bench-formats.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export CHAIRSIDE_BENCH_FIGURES="$WORK/figures.jsonl"
export CHAIRSIDE_CONFIG_DIR="$WORK/config"
bench=$BIN/chairside-bench

$bench make-stl "$WORK/scan-50mb.stl" 1000000
$bench make-stl "$WORK/scan-1gb.stl" 21000000
$bench make-dicom "$WORK/volume-1gb.dcm" 1024
# The generated 2 GB written back to disk first, so no import pays for their writeback.
sync
$bench stl-thumbnail "$WORK/scan-50mb.stl"

# One import through the CLI (a fresh library each time): wall seconds and peak RSS in kB.
import_one() {
    local lib=$WORK/lib-$1 file=$2
    rm -rf "$lib"
    local patient
    patient=$(CHAIRSIDE_DATA_DIR=$lib "$BIN/chairside" patient add --name Bench --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    CHAIRSIDE_DATA_DIR=$lib /usr/bin/time -f '%e %M' -o "$WORK/time" "$BIN/chairside" import --patient "$patient" "$file" --json >"$WORK/out.json"
    grep -q '"imported"' "$WORK/out.json" || { cat "$WORK/out.json" >&2; exit 1; }
    cat "$WORK/time"
    rm -rf "$lib"
}

sha_seconds() {
    /usr/bin/time -f '%e' -o "$WORK/time" sha256sum "$1" >/dev/null
    cat "$WORK/time"
}

read -r s50 rss50 < <(import_one stl50 "$WORK/scan-50mb.stl")
$bench record mesh_import_50mb "Import of a 50 MB binary STL (1,000,000 triangles) through the CLI, thumbnails included" \
    "thumbnail < 2 s" "**${s50} s** wall, peak RSS $((rss50 / 1024)) MB" "seconds=$s50" "rss_mb=$((rss50 / 1024))"

for kind in stl dcm; do
    case $kind in
        stl) file=$WORK/scan-1gb.stl; what="a 1.05 GB binary STL (21 M triangles: copied and hashed, read twice, drawn)" ;;
        dcm) file=$WORK/volume-1gb.dcm; what="a 1 GB multi-frame DICOM (4,096 frames of 512×512: copied and hashed, its structure walked from disk)" ;;
    esac
    bytes=$(stat -c %s "$file")
    sha256sum "$file" >/dev/null # both from the page cache
    sha=$(sha_seconds "$file")
    read -r secs rss < <(import_one "$kind" "$file")
    ratio=$(python3 -c "print(round(100 * $sha / $secs))")
    mbs=$(python3 -c "print(round($bytes / 1e6 / $secs))")
    shambs=$(python3 -c "print(round($bytes / 1e6 / $sha))")
    $bench record "import_1gb_$kind" "Import of $what, beside \`sha256sum\` of the same file" \
        "peak RSS < 150 MB; ≥ 70% of sha256sum" \
        "peak RSS **$((rss / 1024)) MB**; **${mbs} MB/s** (${secs} s) = **${ratio}%** of sha256sum's ${shambs} MB/s (${sha} s)" \
        "rss_mb=$((rss / 1024))" "seconds=$secs" "sha256sum_seconds=$sha" "percent=$ratio"
done

$bench results bench-formats.sh "$CHAIRSIDE_BENCH_FIGURES"
$bench readme
