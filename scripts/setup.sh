#!/usr/bin/env bash
# Installs what building and testing Chairside needs on Debian 12 (run as root, or with sudo
# available). Safe to run again: it installs only what is missing.
set -euo pipefail

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
# libjpeg-turbo (thumbnails) is built from source by the turbojpeg crate: cmake + nasm.
have cc || need_pkgs+=(build-essential)
have cmake || need_pkgs+=(cmake)
have nasm || need_pkgs+=(nasm)
have pkg-config || need_pkgs+=(pkg-config)
have mount || need_pkgs+=(mount)

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
