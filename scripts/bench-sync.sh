#!/usr/bin/env bash
# The sync figures of the README, against a local radosgw started (and stopped) here:
#   - uploading 200 × 4 MB photos, Chairside beside `rclone copy` of the same files;
#   - a photo imported on workstation A visible on B (p95), B running the app's loop;
#   - bootstrap of a DOCS-document library (default 10,000; issue 16 measures 100,000) on a
#     new workstation (records + thumbnails);
#   - requests while two workstations are idle and up to date (radosgw's own log).
# The figures go to crates/bench/results/bench-sync.sh.json and the README's table.
#   scripts/bench-sync.sh [DOCS]
set -euo pipefail
cd "$(dirname "$0")/.."
# The commit measured, taken as the run starts: edits made while it runs do not relabel it.
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
DOCS=${1:-10000}
bash scripts/setup.sh >/dev/null
cargo build --release --quiet -p chairside-bench
BIN=target/release
WORK=$(mktemp -d /tmp/chairside-bench-sync.XXXXXX)
S3="$WORK/s3"
trap 'bash scripts/s3-server.sh stop "$S3" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
# Six uploads of 800 MB and a 100,000-document library stay in the bucket (in memory).
S3_MEMSTORE_BYTES=$((12 << 30)) bash scripts/s3-server.sh start "$S3" 17680 >/dev/null
# shellcheck disable=SC1091
. "$S3/env"
export CHAIRSIDE_BENCH_FIGURES="$WORK/figures.jsonl"
echo "radosgw at $S3_ENDPOINT"

echo "== upload: 200 × 4 MB photos"
$BIN/chairside-bench photos "$WORK/photos" 200 4
du -sh "$WORK/photos" | awk '{print "files: " $1}'
cat >"$WORK/rclone.conf" <<CONF
[bench]
type = s3
provider = Ceph
endpoint = $S3_ENDPOINT
access_key_id = $S3_ACCESS_KEY
secret_access_key = $S3_SECRET_KEY
region = $S3_REGION
force_path_style = true
CONF
export RCLONE_CONFIG="$WORK/rclone.conf"
remote=bench
start=$(date +%s.%N)
# rclone 1.60 fails on a plain-http endpoint when AWS_CA_BUNDLE is set.
env -u AWS_CA_BUNDLE rclone copy "$WORK/photos" "$remote:$S3_BUCKET/rclone-bench-$(date +%s)"
end=$(date +%s.%N)
rclone=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')
echo "rclone copy (defaults: 4 transfers): $rclone s"
$BIN/chairside-bench sync-upload "$S3/env" "$WORK/photos" "$rclone"

echo "== visibility A → B"
$BIN/chairside-bench sync-visibility "$S3/env" 20

echo "== bootstrap of $DOCS documents, then idle requests"
$BIN/chairside-bench sync-bootstrap "$S3/env" "$DOCS" "$S3/rgw.log"

$BIN/chairside-bench results bench-sync.sh "$CHAIRSIDE_BENCH_FIGURES"
$BIN/chairside-bench readme
