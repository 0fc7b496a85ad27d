#!/usr/bin/env bash
# Installs everything the tests, lint and type checks need on a fresh Debian machine:
# the real servers the integration tests start on loopback (Postfix, Cyrus SASL tools, and
# Exim and Haraka in /opt/mailprobe-test by scripts/install-test-mtas.sh),
# rbldnsd (the DNSBL server of the blocklist tests),
# tools the benchmarks compare against (swaks, nmap, kdig), headless Chromium for the HTML
# report test, and mailprobe itself with its dev extras. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

DEBIAN_PACKAGES=(
    postfix            # real SMTP server for ehlo / relay-test / check tests
    sasl2-bin          # saslpasswd2 for the Postfix SASL fixture
    libsasl2-modules   # PLAIN / LOGIN / CRAM-MD5 mechanisms
    libsasl2-modules-db  # sasldb plugin for the Postfix SASL fixture
    swaks              # bench: ehlo vs swaks
    nmap               # bench: relay-test vs nmap smtp-open-relay
    knot-dnsutils      # kdig: bench of mx against one process per query
    knot               # knotd: fast authoritative DNS server for the mx batch bench
    dnsutils           # dig
    rbldnsd            # real DNSBL server for the blocklist tests and bench (tests/support/rbldnsd.py)
    chromium           # headless browser for the HTML report test
    openssl
    prometheus         # promtool: validates --format prometheus output (test_cli_monitoring.py)
    pflogsumm          # bench: mailprobe log vs pflogsumm (bench/log_vs_pflogsumm.py)
)
# Node.js and npm for Haraka (scripts/install-test-mtas.sh). Only when missing: a machine may
# already have another build of Node.js (e.g. NodeSource's, which conflicts with Debian's npm).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    DEBIAN_PACKAGES+=(nodejs npm)
fi

if command -v apt-get >/dev/null 2>&1; then
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${DEBIAN_PACKAGES[@]}" >/dev/null
else
    echo "setup-test-env: apt-get not found; install ${DEBIAN_PACKAGES[*]} yourself" >&2
fi

# The rbldnsd package enables a system-wide instance (socket unit on *:53, UDP); the tests start
# their own on loopback, so switch it off where systemd runs.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now rbldnsd.socket rbldnsd.service >/dev/null 2>&1 || true
fi

# Exim (unpacked from its Debian package, never installed: it conflicts with postfix) and
# Haraka (npm) in /opt/mailprobe-test, for tests/support/exim.py and haraka.py.
bash scripts/install-test-mtas.sh

# A stock Debian/Ubuntu system Python refuses pip outside a virtual environment (PEP 668) and
# may have no pip at all; on this throwaway test machine the packages go into it anyway.
# (pyenv, a venv or any other Python is used as it is.)
PIP_FLAGS=()
if python3 -c 'import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
    PIP_FLAGS+=(--break-system-packages)
    if ! python3 -m pip --version >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
    fi
fi
python3 -m pip install -q "${PIP_FLAGS[@]}" --upgrade pip >/dev/null
python3 -m pip install -q "${PIP_FLAGS[@]}" -e ".[dev]"
