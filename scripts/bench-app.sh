#!/usr/bin/env bash
# The desktop app's figures, from the real app under Xvfb driven by tauri-driver: cold start,
# opening a patient of 5,000 photos to the first row of thumbnails painted, the DOM while
# scrolling all of them, the app's idle memory, and live window/level on a 16-bit 3000×2500
# X-ray.
# The figures go to crates/bench/results/bench-app.sh.json and the README's table.
#   scripts/bench-app.sh [LIBRARY_DIR]
# LIBRARY_DIR (default /tmp/chairside-bench-5000) is made once by `chairside-bench gallery
# 5000` (5,000 distinct 640×480 JPEGs imported through the real pipeline) and reused after.
set -euo pipefail
cd "$(dirname "$0")/.."
# The commit measured, taken as the run starts: edits made while it runs do not relabel it.
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
LIB=${1:-/tmp/chairside-bench-5000}
bash scripts/setup.sh
(cd ui && npm run --silent build -- --logLevel warn)
cargo build --release --quiet -p chairside-desktop -p chairside-cli -p chairside-bench --features chairside-desktop/custom-protocol
if [ ! -f "$LIB/library.sqlite3" ]; then
    rm -rf "$LIB"
    target/release/chairside-bench gallery 5000 "$LIB" >/dev/null
fi
target/release/chairside-bench xray-patient "$LIB"
FIGURES=$(mktemp)
trap 'rm -f "$FIGURES"' EXIT
CHAIRSIDE_BENCH_FIGURES=$FIGURES CHAIRSIDE_APP_BIN=target/release/chairside-desktop CHAIRSIDE_CLI_BIN=target/release/chairside \
    node ui/e2e/app.mjs --bench "$LIB"
target/release/chairside-bench results bench-app.sh "$FIGURES"
target/release/chairside-bench readme
