#!/usr/bin/env bash
# Installs what is missing, builds (release) and starts the Chairside desktop app.
#   scripts/run.sh              the app (data folder: CHAIRSIDE_DATA_DIR, else the OS default)
#   scripts/run.sh cli ARGS...  the `chairside` command line instead
# With no display (a server, a CI machine) the app is started in a private Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ "${1:-}" = "cli" ]; then
    shift
    cargo build --release --quiet -p chairside-cli
    exec target/release/chairside "${@:---help}"
fi

(cd ui && npm run --silent build -- --logLevel warn)
cargo build --release --quiet -p chairside-desktop --features custom-protocol
app=target/release/chairside-desktop

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    display=":$((90 + $$ % 9))"
    echo "run: no display; starting the app in Xvfb on $display (screenshots: DISPLAY=$display import -window root shot.png)" >&2
    Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp &
    xvfb=$!
    trap 'kill $xvfb 2>/dev/null' EXIT
    for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
    DISPLAY="$display" "$app" "$@"
else
    exec "$app" "$@"
fi
