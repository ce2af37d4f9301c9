#!/bin/sh
# The desktop entry is gone: forget its chairside:// registration. Libraries are never touched.
set -e
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q /usr/share/applications || true
fi
