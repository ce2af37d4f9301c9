#!/usr/bin/env bash
# The hostile corpus's figures (issue 11's hardening): every generated hostile file through
# the real import, alone in its test binary so its peak memory is its own — the test that runs
# in every `scripts/test.sh` (debug build, as CI runs it), here with its summary recorded to
# crates/bench/results/bench-hostile.sh.json and the README's hardening table.
#   scripts/bench-hostile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
cargo build --release --quiet -p chairside-bench
WORK=$(mktemp -d /tmp/chairside-bench-hostile.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export CHAIRSIDE_BENCH_FIGURES="$WORK/figures.jsonl"
cargo test -q -p chairside-tests --test hostile -- --nocapture --test-threads 1 2>&1 | tee "$WORK/out"
line=$(grep -E '^[0-9]+ hostile files: ' "$WORK/out" | tail -1)
[ -n "$line" ] || { echo "bench-hostile: the test printed no summary" >&2; exit 1; }
# "N hostile files: I imported (harmless after all), R refused; slowest 2.9s (name), largest peak rise 257 MB (name)"
IFS=$'\t' read -r files imported refused slowest slowest_name peak peak_name < <(python3 - "$line" <<'PY'
import re, sys
m = re.match(r'(\d+) hostile files: (\d+) imported .*?, (\d+) refused; slowest ([0-9.]+)(ms|s|µs) \((.*?)\), largest peak rise (\d+) MB \((.*?)\)', sys.argv[1])
if not m:
    sys.exit("bench-hostile: cannot read " + sys.argv[1])
files, imported, refused, t, unit, name, peak, heavy = m.groups()
seconds = float(t) / {'s': 1, 'ms': 1e3, 'µs': 1e6}[unit]
print('\t'.join(map(str, (files, imported, refused, round(seconds, 2), name, peak, heavy))))
PY
)
target/release/chairside-bench record hostile_corpus \
    "the generated hostile corpus through the real import (\`tests/hostile.rs\`, in every test run; debug build), each file alone" \
    "each ≤ 10 s and ≤ 1,088 MB peak rise, never a crash" \
    "$files files: **$refused refused** with their codes, $imported harmless and imported; slowest **${slowest} s** ($slowest_name), largest peak rise **$peak MB** ($peak_name)" \
    "files=$files" "refused=$refused" "imported=$imported" "slowest_s=$slowest" "peak_mb=$peak" >/dev/null
target/release/chairside-bench results bench-hostile.sh "$CHAIRSIDE_BENCH_FIGURES"
target/release/chairside-bench readme
