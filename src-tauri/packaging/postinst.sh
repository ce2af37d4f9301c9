#!/bin/sh
# Registers the chairside:// handler the desktop entry declares (practice-management software
# opens a patient with xdg-open 'chairside://open?external_id=…').
set -e
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q /usr/share/applications || true
fi
