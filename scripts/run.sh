#!/usr/bin/env bash
# Builds (if needed) and runs Chairside. Until the desktop window lands, Chairside is its
# command line: arguments are passed to `chairside` (no arguments: its help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet -p chairside-cli
exec target/release/chairside "${@:---help}"
