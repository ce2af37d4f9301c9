#!/usr/bin/env bash
# Builds Chairside's Linux packages with Tauri's bundler: a .deb and an .rpm, each holding the
# desktop app (/usr/bin/chairside-desktop), the `chairside` CLI (/usr/bin/chairside), the
# icons, and a desktop entry that registers the chairside:// link handler.
#   scripts/package.sh           release build  → target/release/bundle/{deb,rpm}/
#   scripts/package.sh --debug   a debug build  → target/debug/bundle/{deb,rpm}/ (what the
#                                test run installs: it reuses the test build instead of
#                                compiling everything again in release)
# The paths of the two packages are printed last, one a line. Windows (MSI, NSIS) and macOS
# (app, dmg) are configured in src-tauri/tauri.{windows,macos}.conf.json and built the same
# way on those systems; they are not built or tested here.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${CHAIRSIDE_SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh

profile=release
tauri_flags=()
cargo_flags=(--release)
if [ "${1:-}" = "--debug" ]; then
    profile=debug
    tauri_flags=(--debug)
    cargo_flags=()
fi

(cd ui && npm run --silent build -- --logLevel warn)
# The CLI goes in beside the app: the bundler copies it from this profile's target folder.
# Built together with the app and with the app's features, as scripts/test.sh builds them:
# the CLI alone would unify its dependencies' features differently and compile them again.
cargo build "${cargo_flags[@]}" --quiet -p chairside-desktop -p chairside-cli --features chairside-desktop/custom-protocol
cli="../target/$profile/chairside"
config=$(printf '{"bundle":{"linux":{"deb":{"files":{"/usr/bin/chairside":"%s"}},"rpm":{"files":{"/usr/bin/chairside":"%s"}}}}}' "$cli" "$cli")
# tauri build compiles the app with its custom-protocol feature (the UI embedded) and bundles.
ui/node_modules/.bin/tauri build "${tauri_flags[@]}" --ci --bundles deb,rpm --config "$config" >&2

ls -1 "$(pwd)"/target/"$profile"/bundle/deb/*.deb "$(pwd)"/target/"$profile"/bundle/rpm/*.rpm
