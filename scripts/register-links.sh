#!/usr/bin/env bash
# Registers Chairside for this user as the handler of chairside:// links (and puts it in the
# desktop's application menu), so practice-management software can open a patient with
#   xdg-open 'chairside://open?external_id=C-1001&name=Ada%20Lovelace&birth_date=1990-12-10'
# Uses the release build (scripts/run.sh makes it). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
app="$(pwd)/target/release/chairside-desktop"
[ -x "$app" ] || { echo "register-links: $app is missing: build it first with scripts/run.sh" >&2; exit 1; }
dir="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
# Quoted only when it must be: xdg-open's own reader of Exec lines does not unquote.
exec_path="$app"
case "$app" in *" "*) exec_path="\"$app\"" ;; esac
mkdir -p "$dir"
cat > "$dir/chairside.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Chairside
Comment=Clinical photos and X-rays, kept safe on this workstation
Exec=$exec_path %u
Icon=$(pwd)/icons/128x128.png
Terminal=false
Categories=Graphics;MedicalSoftware;
MimeType=x-scheme-handler/chairside;
DESKTOP
if command -v update-desktop-database >/dev/null; then update-desktop-database "$dir" || true; fi
if command -v xdg-mime >/dev/null; then
    xdg-mime default chairside.desktop x-scheme-handler/chairside
    echo "register-links: chairside:// now opens $(xdg-mime query default x-scheme-handler/chairside) ($app)"
else
    echo "register-links: wrote $dir/chairside.desktop; install xdg-utils (apt install xdg-utils) and run this again to make it the chairside:// handler" >&2
fi
