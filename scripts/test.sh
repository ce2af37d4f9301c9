#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the build needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --no-fail-fast 2>&1 | tee target-test.log
status=${PIPESTATUS[0]}
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed\n", p, f }' target-test.log
rm -f target-test.log
exit "$status"
