#!/usr/bin/env bash
# Installs the mailprobe command from this checkout for the current user, on a stock Debian or
# Ubuntu system Python (PEP 668: no pip install into the system) as well as under pyenv or any
# other Python >= 3.11: with pipx when it is there (or can be installed with apt-get), else in a
# virtual environment of its own. The command ends up in ~/.local/bin/mailprobe.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$HOME/.local/bin"
mkdir -p "$BIN"

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi

if ! command -v pipx >/dev/null 2>&1 && ! python3 -m venv --help >/dev/null 2>&1 \
        && command -v apt-get >/dev/null 2>&1; then
    # A stock Debian/Ubuntu Python has neither pip nor venv: pipx brings what it needs.
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pipx >/dev/null
fi

if command -v pipx >/dev/null 2>&1; then
    PIPX_BIN_DIR="$BIN" pipx install --force . >/dev/null
else
    VENV="${XDG_DATA_HOME:-$HOME/.local/share}/mailprobe/venv"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q .
    ln -sf "$VENV/bin/mailprobe" "$BIN/mailprobe"
fi
echo "installed: $BIN/mailprobe (add $BIN to PATH if it is not there)" >&2
