#!/usr/bin/env bash
# Installs Chairside's .deb into a clean Debian 12 root and runs what it installed there: the
# desktop app under Xvfb with an empty home, then the CLI on the library the app made.
#   scripts/test-package.sh prepare ROOT          debootstrap a minimal Debian 12 root (root only;
#                                                 about a minute; done once per ROOT)
#   scripts/test-package.sh check ROOT DEB RPM    the checks (ROOT is left as it was prepared)
# Closes with "package: N passed, N failed" and exits 1 when a check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

mirror() { awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian; }

if [ "${1:-}" = prepare ]; then
    root=${2:?usage: test-package.sh prepare ROOT}
    [ -e "$root/.chairside-root-ready" ] && exit 0
    rm -rf "$root"
    mkdir -p "$(dirname "$root")"
    debootstrap --variant=minbase bookworm "$root" "$(mirror)" >"$root.debootstrap.log" 2>&1 || {
        echo "test-package: debootstrap failed (see $root.debootstrap.log)" >&2
        exit 1
    }
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # Fetch (not install) what a desktop app on WebKitGTK will pull, while the test run is
    # busy compiling: the install below still resolves the package's own Depends.
    chroot "$root" apt-get install -y -qq --download-only --no-install-recommends \
        libwebkit2gtk-4.1-0 libgtk-3-0 xdg-utils libde265-0 libdav1d6 \
        libavformat59 libavcodec59 libswscale6 libavutil57 libpoppler-glib8 >"$root.download.log" 2>&1 || true
    touch "$root/.chairside-root-ready"
    exit 0
fi

[ "${1:-}" = check ] || { echo "usage: test-package.sh prepare ROOT | check ROOT DEB RPM" >&2; exit 2; }
base=${2:?ROOT}
deb=${3:?DEB}
rpm=${4:?RPM}
[ -e "$base/.chairside-root-ready" ] || { echo "test-package: $base is not prepared (run: test-package.sh prepare $base)" >&2; exit 1; }

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "  ✓ $1"; }
bad() { failed=$((failed + 1)); echo "  ✗ $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/      /' | tail -20; }
check() { local what=$1; shift; local out; if out=$("$@" 2>&1); then ok "$what"; else bad "$what" "$out"; fi; }

# A copy of the prepared root per run, so a failed run leaves nothing for the next one.
root=$(mktemp -d /tmp/chairside-pkg-root.XXXXXX)
display=":$((70 + $$ % 9))"
cleanup() {
    [ -n "${app_pid:-}" ] && kill "$app_pid" 2>/dev/null
    [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null
    for m in dev/pts dev sys proc; do
        mountpoint -q "$root/$m" && { umount "$root/$m" 2>/dev/null || umount -l "$root/$m"; }
    done
    # Never remove through a mount that is still there (it would reach the host's /dev).
    if grep -q " $root/" /proc/mounts; then echo "test-package: $root is still mounted; left as it is" >&2; else rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
cp -a "$base/." "$root/"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/clinician "$@"; }

echo "== package: ${deb##*/} into a clean Debian 12 root"
fields=$(dpkg-deb -f "$deb" Package Version Depends)
check "the .deb declares WebKitGTK 4.1, GTK 3 and xdg-utils among its Depends" \
    bash -c 'grep -q "libwebkit2gtk-4.1-0" <<<"$1" && grep -q "libgtk-3-0" <<<"$1" && grep -q "xdg-utils" <<<"$1" || { echo "$1"; exit 1; }' _ "$fields"
cp "$deb" "$root/tmp/chairside.deb"
check "apt installs it with its dependencies" in_root apt-get install -y -q --no-install-recommends /tmp/chairside.deb
check "it puts the app, the CLI and the desktop entry in place" in_root bash -c '
    test -x /usr/bin/chairside-desktop && test -x /usr/bin/chairside &&
    f=$(grep -l "x-scheme-handler/chairside" /usr/share/applications/*.desktop) && grep -q "^Exec=chairside-desktop %u" $f &&
    ls /usr/share/icons/hicolor/*/apps/chairside-desktop.png >/dev/null'
# A library the binaries link but the Depends forget shows here by name, not as a crash below.
check "every shared library the app and the CLI link is installed" in_root bash -c '
    missing=$(ldd /usr/bin/chairside-desktop /usr/bin/chairside | grep "not found" | sort -u)
    [ -z "$missing" ] || { echo "missing: $missing"; exit 1; }'
check "the desktop entry is the chairside:// handler" in_root bash -c '
    mkdir -p /home/clinician && h=$(xdg-mime query default x-scheme-handler/chairside) && echo "handler: $h" &&
    grep -q "x-scheme-handler/chairside" "/usr/share/applications/$h"'

# The installed app, with an empty home, on a display of this test's own.
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
# No socket is shared: X clients on Linux reach Xvfb's abstract socket, which a chroot does not hide.
in_root mkdir -p /home/clinician /tmp/xdg-runtime
chmod 700 "$root/tmp/xdg-runtime"
log="$root/tmp/app.log"
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/home/clinician USER=clinician DISPLAY="$display" \
    XDG_RUNTIME_DIR=/tmp/xdg-runtime CHAIRSIDE_USER=dr.package /usr/bin/chairside-desktop >"$log" 2>&1 &
app_pid=$!
ready=""
for _ in $(seq 1200); do
    grep -q "the window is ready" "$log" && { ready=yes; break; }
    kill -0 "$app_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -n "$ready" ]; then ok "the installed app starts with an empty home and its window is ready ($(grep -o '[0-9]* ms after start' "$log"))"; else bad "the installed app starts with an empty home and its window is ready" "$(cat "$log")"; fi
if [ -n "${PACKAGE_SCREENSHOT:-}" ] && command -v import >/dev/null; then sleep 2; DISPLAY=$display import -window root "$PACKAGE_SCREENSHOT"; fi
check "a window named Chairside is on the display" bash -c "xwininfo -root -tree -display $display | grep -q '\"Chairside\"'"
lib=$(ls -d "$root"/home/clinician/.local/share/*/library.sqlite3 2>/dev/null | head -1)
check "it made its library in the home's data folder" test -n "$lib"
kill -TERM "$app_pid" 2>/dev/null
for _ in $(seq 300); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
check "it closes on SIGTERM" bash -c "! kill -0 $app_pid 2>/dev/null"
app_pid=""

# The installed CLI, on the library the app made (its default folder).
cp "$repo/tests/fixtures/orient_1.jpg" "$root/tmp/photo.jpg"
check "the installed CLI adds a patient and imports a photo into that library" in_root bash -c '
    export CHAIRSIDE_USER=dr.package
    p=$(chairside --json patient add --name "Ada Package" | sed -n "s/.*\"id\": *\"\([^\"]*\)\".*/\1/p" | head -1) && test -n "$p" &&
    chairside --json import --patient "$p" /tmp/photo.jpg | grep -q "\"imported\"" &&
    chairside --json verify | grep -q "\"ok\": *true" && chairside audit verify'
check "chairside health answers (not red) on the fresh library" in_root chairside health
check "removing the package leaves the library in place" bash -c "
    chroot '$root' /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get remove -y -q chairside >/dev/null && test -s '$lib' &&
    ! test -e '$root/usr/bin/chairside-desktop'"

echo "== package: ${rpm##*/} (inspected; an RPM system is not installed here)"
check "the .rpm holds the app, the CLI and the desktop entry, and requires WebKitGTK 4.1" bash -c "
    rpm -qpl '$rpm' 2>/dev/null | grep -qx /usr/bin/chairside && rpm -qpl '$rpm' 2>/dev/null | grep -qx /usr/bin/chairside-desktop &&
    rpm -qpl '$rpm' 2>/dev/null | grep -q '^/usr/share/applications/.*\.desktop$' && rpm -qpR '$rpm' 2>/dev/null | grep -q 'libwebkit2gtk-4.1'"

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
