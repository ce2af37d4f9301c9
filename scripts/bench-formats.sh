#!/usr/bin/env bash
# Issue 13's figures for the new kinds of file, side by side with their reference tools in one
# run: a 50 MB binary STL (import time and thumbnails); 1 GB files (a binary STL and a
# multi-frame DICOM) imported through the CLI under /usr/bin/time beside `sha256sum`: peak RSS
# and throughput; a 12 MP HEIC's import CPU beside heif-convert + vipsthumbnail; a 1-minute
# 1080p video's poster, and a 2 GB video's peak RSS.
# Written to crates/bench/results/bench-formats.sh.json and the README.
#   scripts/bench-formats.sh            (needs ~8 GB free in /tmp)
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

# HEIC: a 12 MP iPhone photo (the shared corpus's; skipped without it) imported with its three
# thumbnails, CPU seconds (user + system, median of 5), beside libheif's own `heif-convert` to
# JPEG plus `vipsthumbnail` at the three sizes — each side as processes from a file on disk.
heic=../shared/corpus/heic_iphone13pro_gps.heic
if [ -f "$heic" ]; then
    command -v vipsthumbnail >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvips-tools >/dev/null
    cpu() { /usr/bin/time -f '%U %S' -o "$WORK/cpu" "$@" >/dev/null 2>&1; awk '{ print $1 + $2 }' "$WORK/cpu"; }
    median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    ours=$(for _ in 1 2 3 4 5; do
        lib=$WORK/lib-heic; rm -rf "$lib"
        p=$(CHAIRSIDE_DATA_DIR=$lib "$BIN/chairside" patient add --name Bench --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
        CHAIRSIDE_DATA_DIR=$lib cpu "$BIN/chairside" import --patient "$p" "$heic"
    done | median)
    theirs=$(for _ in 1 2 3 4 5; do
        rm -f "$WORK"/h*.jpg
        a=$(cpu heif-convert -q 90 "$heic" "$WORK/h.jpg")
        b=$(cpu vipsthumbnail "$WORK/h.jpg" -s 2048 -o "$WORK/h2048.jpg")
        c=$(cpu vipsthumbnail "$WORK/h.jpg" -s 1024 -o "$WORK/h1024.jpg")
        d=$(cpu vipsthumbnail "$WORK/h.jpg" -s 256 -o "$WORK/h256.jpg")
        python3 -c "print(round($a + $b + $c + $d, 2))"
    done | median)
    ratio=$(python3 -c "print(round($ours / $theirs, 2))")
    $bench record heic_import_cpu "Import of a 12 MP iPhone HEIC (4032×3024) with its three thumbnails through the CLI, CPU time, beside \`heif-convert\` to JPEG + \`vipsthumbnail\` at 2048, 1024 and 256 px" \
        "≤ 1.0× the reference" "**${ours} s** CPU = **${ratio}×** the reference's ${theirs} s (medians of 5)" \
        "seconds=$ours" "reference_seconds=$theirs" "ratio=$ratio"
fi

# Video: a 1-minute 1080p H.264 clip (FFmpeg's test pattern, 16 Mb/s, with sound) imported
# through the CLI — the wall time includes its three poster thumbnails —, then the same clip
# repeated to 2 GB (stream copy) for the peak memory of a large import.
ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=60" -f lavfi -i "sine=frequency=440:duration=60" \
    -c:v libx264 -preset veryfast -b:v 16M -maxrate 16M -bufsize 32M -pix_fmt yuv420p -c:a aac -b:a 96k "$WORK/clip-1min.mp4"
ffmpeg -v error -y -stream_loop 16 -i "$WORK/clip-1min.mp4" -c copy "$WORK/clip-2gb.mp4"
sync
read -r vs vrss < <(import_one video1 "$WORK/clip-1min.mp4")
$bench record video_import_1min "Import of a 1-minute 1080p H.264 video ($(( $(stat -c %s "$WORK/clip-1min.mp4") / 1000000 )) MB) through the CLI: copied, hashed, probed, its poster found and drawn at three sizes" \
    "poster thumbnails < 1.5 s after import starts" "**${vs} s** wall (process start to thumbnails written), peak RSS $((vrss / 1024)) MB" \
    "seconds=$vs" "rss_mb=$((vrss / 1024))"
bytes=$(stat -c %s "$WORK/clip-2gb.mp4")
read -r bs brss < <(import_one video2 "$WORK/clip-2gb.mp4")
$bench record video_import_2gb "Import of a $(python3 -c "print(round($bytes / 1e9, 2))") GB H.264 video (the clip above, 17 times over)" \
    "peak RSS < 150 MB" "peak RSS **$((brss / 1024)) MB**, ${bs} s" "rss_mb=$((brss / 1024))" "seconds=$bs"

$bench results bench-formats.sh "$CHAIRSIDE_BENCH_FIGURES"
$bench readme
