#!/usr/bin/env bash
# Runs every test after installing what they need: the UI's unit tests (vitest), the
# browser end-to-end tests (Chromium + playwright-core, mocked IPC), every Rust test of the
# workspace (cargo test, the sync tests against a real radosgw started here), then the real-app end-to-end tests (the Tauri binary under Xvfb,
# driven by tauri-driver), then the packages (scripts/package.sh --debug, installed into a clean
# Debian 12 root made by debootstrap while the rest runs). Each runner ends with its own "N passed, N failed" line, and the
# run ends with one line per runner.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

summary=()
status=0
# The audit trail's signing key and witness heads go to the account's config folder in real
# use; the tests' libraries keep theirs in a folder of this run.
export CHAIRSIDE_CONFIG_DIR="${CHAIRSIDE_CONFIG_DIR:-$(mktemp -d /tmp/chairside-config.XXXXXX)}"
record() { # name exit-code line
    summary+=("$3")
    [ "$2" -eq 0 ] || status=1
}

# The clean root for the package test is fetched while everything else builds and runs.
pkgroot="$(mktemp -d /tmp/chairside-pkg.XXXXXX)/root"
prep_pid=""
if [ "$(id -u)" -eq 0 ]; then
    bash scripts/test-package.sh prepare "$pkgroot" >"$pkgroot.prepare.log" 2>&1 &
    prep_pid=$!
fi

echo "== UI unit tests (vitest)"
(cd ui && npx vitest run --reporter=default --reporter=json --outputFile=.vitest.json)
code=$?
line=$(cd ui && node -e 'const r=require("./.vitest.json"); console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' 2>/dev/null || echo "vitest: did not run")
echo "$line"
record vitest $code "$line"

echo "== UI type check (svelte-check)"
(cd ui && npx svelte-check --tsconfig ./tsconfig.json --output human --fail-on-warnings) 2>&1 | tail -3
code=${PIPESTATUS[0]}
record svelte-check $code "svelte-check: $([ "$code" -eq 0 ] && echo 'no errors or warnings' || echo 'FAILED')"

echo "== UI builds (app and browser-e2e)"
(cd ui && npx vite build --logLevel warn && npx vite build --mode e2e --outDir dist-e2e --logLevel warn) || { echo "ui build failed"; exit 1; }

echo "== Browser end-to-end tests (Chromium)"
log=$(mktemp)
(cd ui && node e2e/browser.mjs) 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
record browser $code "$(grep -E '^e2e \(browser\):' "$log" | tail -1 || echo 'e2e (browser): did not finish')"

echo "== S3 test server (radosgw, 127.0.0.1)"
s3dir=$(mktemp -d /tmp/chairside-s3.XXXXXX)
trap 'bash scripts/s3-server.sh stop "$s3dir" >/dev/null 2>&1 || true' EXIT
if bash scripts/s3-server.sh start "$s3dir" 17580 >/dev/null; then
    export CHAIRSIDE_TEST_S3_ENV="$s3dir/env"
    echo "radosgw up at $(grep S3_ENDPOINT "$s3dir/env" | cut -d= -f2)"
else
    echo "the S3 test server did not start (logs in $s3dir); the sync tests will fail"
fi

echo "== Rust tests (cargo test --workspace)"
# A test that cannot run where it must fails; one skipped knowingly (CHAIRSIDE_SKIP_MOUNT_TESTS
# on a machine without mount) writes its name here and is counted as skipped, not passed.
skipped_log=$(mktemp)
export CHAIRSIDE_SKIPPED_LOG="$skipped_log"
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
skipped=$(wc -l <"$skipped_log")
line=$(awk -v s="$skipped" '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "cargo tests: %d passed, %d failed, %d ignored, %d skipped", p - s, f, i, s }' "$log")
# A test binary that did not compile never prints a result: say so instead of "0 failed".
if grep -q '^error: could not compile' "$log"; then
    line="$line; BUILD FAILED: $(grep -oE 'could not compile `[^`]+` \([^)]*\)' "$log" | sort -u | paste -sd, -)"
    code=1
fi
record cargo $code "$line"
rm -f "$skipped_log"

echo "== Real-app end-to-end tests (Tauri under Xvfb, tauri-driver)"
# With the UI embedded as the package ships it (custom-protocol); the package below reuses this build.
if cargo build --quiet -p chairside-desktop -p chairside-cli --features chairside-desktop/custom-protocol; then
    # A private D-Bus session: the single-instance hand-over (the bridge test) goes over it.
    (cd ui && dbus-run-session -- node e2e/app.mjs) 2>&1 | tee "$log"
    code=${PIPESTATUS[0]}
    record app $code "$(grep -E '^e2e \(app\):' "$log" | tail -1 || echo 'e2e (app): did not finish')"
else
    record app 1 "e2e (app): the app did not build"
fi

echo "== Packages (.deb and .rpm, the .deb installed into a clean Debian 12 root)"
if [ -z "$prep_pid" ]; then
    # debootstrap and chroot need root: the run fails rather than pass without this test.
    record package 1 "package: 0 passed, 0 failed, 1 skipped (needs root: debootstrap and chroot)"
elif built=$(CHAIRSIDE_SKIP_SETUP=1 bash scripts/package.sh --debug) && wait "$prep_pid"; then
    bash scripts/test-package.sh check "$pkgroot" "$(grep '\.deb$' <<<"$built")" "$(grep '\.rpm$' <<<"$built")" 2>&1 | tee "$log"
    code=${PIPESTATUS[0]}
    record package $code "$(grep -E '^package:' "$log" | tail -1 || echo 'package: did not finish')"
else
    echo "the packages did not build, or the clean root could not be made: $(tail -5 "$pkgroot.prepare.log" 2>/dev/null)"
    record package 1 "package: the packages did not build (or no clean root)"
fi
rm -rf "$(dirname "$pkgroot")"
rm -f "$log"

echo "== Summary"
printf '%s\n' "${summary[@]}"
exit "$status"
