#!/usr/bin/env bash
# Installs what building, running and testing Chairside needs on Debian 12 (run as root, or
# with sudo available). Safe to run again: it installs only what is missing.
#   - Debian packages: the C toolchain (libjpeg-turbo is built from source: cmake + nasm),
#     ClamAV's daemon (the virus-scanning tests run a real one), debootstrap, rpm and x11-utils
#     (the package test: a clean Debian root, the .rpm inspected, the installed app's window),
#     WebKitGTK 4.1 and friends for the Tauri window, Xvfb, WebKitWebDriver and Chromium for
#     the end-to-end tests; openssl (the S3 test server's TLS certificates), poppler-utils
#     (exported PDFs read back by pdfinfo and pdftoppm), gnome-keyring and libsecret-tools (a
#     real Secret Service for the keychain test, in a private D-Bus session); libde265 and dav1d
#     (the HEVC and AV1 decoders the embedded libheif links against; cmake builds libheif
#     itself) and libheif-examples (`heif-convert`, the HEIC benchmark's reference); poppler-glib
#     (a PDF's pages drawn for its thumbnails and the viewer); FFmpeg's
#     libraries (video: probe, poster, proxy; bindgen reads their headers through libclang),
#     `ffmpeg` (the video benchmark's reference) and GStreamer's libav and good plugins (the
#     WebKitGTK window plays video through them);
#   - the UI's npm packages (ui/node_modules, from ui/package-lock.json);
#   - tauri-driver, into .tools/bin.
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

pkgs=(build-essential cmake nasm pkg-config mount file
    libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
    xvfb xauth dbus webkit2gtk-driver chromium
    radosgw ceph-mon ceph-osd ceph-common python3 python3-jsonschema rclone dcmtk dicom3tools
    clamav-daemon debootstrap rpm x11-utils openssl poppler-utils gnome-keyring libsecret-tools
    libde265-dev libdav1d-dev libheif-examples libpoppler-glib-dev
    libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libclang-dev ffmpeg
    gstreamer1.0-libav gstreamer1.0-plugins-good)
need_pkgs=()
for p in "${pkgs[@]}"; do installed "$p" || need_pkgs+=("$p"); done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "setup: installing ${need_pkgs[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! have cargo; then
    echo "setup: Rust (cargo) is missing. Install a current toolchain with rustup (https://rustup.rs), then run this again." >&2
    exit 1
fi
if ! have node || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    echo "setup: Node.js 20.19 or newer is needed for the UI build (found: $(node --version 2>/dev/null || echo none)). Install it (e.g. from nodejs.org or NodeSource), then run this again." >&2
    exit 1
fi

# npm packages, when missing or older than the lockfile.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    echo "setup: installing the UI's npm packages" >&2
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi

# tauri-driver (WebDriver for the real app); pinned to 2.x, crates.io also serves 3.0 alphas.
if [ ! -x .tools/bin/tauri-driver ]; then
    echo "setup: installing tauri-driver" >&2
    cargo install --quiet --locked --root .tools tauri-driver --version '^2'
fi
