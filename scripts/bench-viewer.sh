#!/usr/bin/env bash
# Issue 14's figures: an adjusted 24 MP photo with 50 annotations rendered to a 2048 px JPEG,
# an edited document's thumbnails after the edit, and the full-depth grey view a live
# window/level drag starts from. Written to crates/bench/results/bench-viewer.sh.json and the
# README. The frames of the drag itself are painted in the webview: scripts/bench-app.sh
# measures them in the real app, on the same 16-bit 3000×2500 X-ray.
#   scripts/bench-viewer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
cargo build --release --quiet -p chairside-bench
BIN=target/release
WORK=$(mktemp -d /tmp/chairside-bench-viewer.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export CHAIRSIDE_BENCH_FIGURES="$WORK/figures.jsonl"
export CHAIRSIDE_CONFIG_DIR="$WORK/config"
$BIN/chairside-bench viewer "$WORK"
$BIN/chairside-bench results bench-viewer.sh "$CHAIRSIDE_BENCH_FIGURES"
$BIN/chairside-bench readme
