#!/usr/bin/env bash
# Fuzzes media's parsers with cargo fuzz (libFuzzer, nightly): the DICOM path, the raster
# decoders behind the sniffer, the PDF check and EXIF. Each target runs FUZZ_SECONDS (default
# 600, the issue's 10 minutes) from seeds: the fixtures and the generated hostile corpus.
# A crash is copied to crates/fuzz/regressions/<target>/, which tests/fuzz_replay.rs replays
# in every test run (commit it with the fix). Not part of scripts/test.sh: too long for CI.
# Each target's figure goes to crates/bench/results/bench-fuzz.sh.json (and the README).
#   scripts/bench-fuzz.sh [TARGET…]      e.g. FUZZ_SECONDS=60 scripts/bench-fuzz.sh dicom pdf
set -uo pipefail
cd "$(dirname "$0")/.."
# The commit measured, taken as the run starts: edits made while it runs do not relabel it.
CHAIRSIDE_BENCH_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
export CHAIRSIDE_BENCH_COMMIT
bash scripts/setup.sh >/dev/null || exit 1
seconds=${FUZZ_SECONDS:-600}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(dicom image pdf exif mesh video)

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "bench-fuzz: a nightly toolchain is needed (rustup toolchain install nightly)" >&2
    exit 1
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz || exit 1
cargo +nightly fuzz build -O --fuzz-dir crates/fuzz || exit 1
cargo build --release --quiet -p chairside-bench || exit 1
figures=$(mktemp)

seeds=$(mktemp -d /tmp/chairside-fuzz-seeds.XXXXXX)
trap 'rm -rf "$seeds" "$figures"' EXIT
CHAIRSIDE_HOSTILE_OUT="$seeds" cargo test -q -p chairside-tests --test hostile -- --ignored write_corpus >/dev/null || exit 1
cp tests/fixtures/* "$seeds"/ 2>/dev/null
rm -f "$seeds"/*.py "$seeds"/*.tsv

summary=()
status=0
for t in "${targets[@]}"; do
    corpus=crates/fuzz/corpus/$t
    mkdir -p "$corpus" crates/fuzz/artifacts/"$t"
    cp -n "$seeds"/* "$corpus"/
    log=$(mktemp)
    echo "== fuzzing $t for ${seconds}s"
    # -rss_limit_mb: a crash is also an input that takes more than the import budget allows.
    cargo +nightly fuzz run -O --fuzz-dir crates/fuzz "$t" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=1200 -timeout=10 -max_len=4194304 \
        -artifact_prefix=crates/fuzz/artifacts/"$t"/ >"$log" 2>&1
    code=$?
    runs=$(grep -Eo '#[0-9]+' "$log" | tail -1 | tr -d '#')
    crashes=$(find crates/fuzz/artifacts/"$t" -type f | wc -l)
    if [ "$code" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        status=1
        mkdir -p crates/fuzz/regressions/"$t"
        find crates/fuzz/artifacts/"$t" -type f -exec cp {} crates/fuzz/regressions/"$t"/ \;
        grep -E 'ERROR|panicked|SUMMARY' "$log" | head -5
    fi
    summary+=("fuzz $t: ${seconds}s, ${runs:-0} runs, $crashes crash(es)")
    # libFuzzer stops at the first crash: then the run was shorter than asked.
    measured="${seconds} s: **${runs:-0}** runs, **$crashes** crashes"
    [ "$crashes" -eq 0 ] || measured="stopped by a crash after **${runs:-0}** runs (kept in crates/fuzz/regressions/$t/)"
    CHAIRSIDE_BENCH_FIGURES=$figures target/release/chairside-bench record "fuzz_$t" \
        "\`cargo fuzz\` of the $t target (release, libFuzzer), seeds = fixtures + hostile corpus" \
        "10 min, 0 crashes" "$measured" \
        "seconds=$seconds" "runs=${runs:-0}" "crashes=$crashes" >/dev/null
    rm -f "$log"
done
# The targets not run this time keep their last figures, labelled with the commit they ran at.
previous=crates/bench/results/bench-fuzz.sh.json
if [ -f "$previous" ]; then
    python3 - "$previous" "$figures" <<'PY'
import json, sys
previous, figures = sys.argv[1], sys.argv[2]
old = json.load(open(previous))
ran = {json.loads(l)["id"] for l in open(figures) if l.strip()}
with open(figures, "a") as out:
    for f in old["figures"]:
        if f["id"] not in ran:
            if "(run at " not in f["measured"]:
                f["measured"] += f" (run at {old['commit']})"
            out.write(json.dumps(f) + "\n")
PY
fi
echo "== Summary"
printf '%s\n' "${summary[@]}"
target/release/chairside-bench results bench-fuzz.sh "$figures" && target/release/chairside-bench readme
exit "$status"
