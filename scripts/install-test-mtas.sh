#!/usr/bin/env bash
# Installs the MTAs other than Postfix that the integration tests start on loopback
# (tests/support/exim.py, tests/support/haraka.py), into a private directory:
#
#   $MAILPROBE_TEST_MTAS/exim/    Exim from Debian's exim4-daemon-light, unpacked with
#                                 `apt-get download` + `dpkg -x` (never installed: the package
#                                 conflicts with postfix), plus any library package it needs
#                                 that is not installed (libidn12 on Debian 12)
#   $MAILPROBE_TEST_MTAS/haraka/  Haraka from npm (`npm install --prefix`)
#
# MAILPROBE_TEST_MTAS defaults to /opt/mailprobe-test. Needs root (or sudo), apt lists
# (`apt-get update`, done by setup-test-env.sh) and Node.js with npm. Safe to run twice: each
# part is skipped when its stamp file says it is there. Called by scripts/setup-test-env.sh.
set -euo pipefail

ROOT="${MAILPROBE_TEST_MTAS:-/opt/mailprobe-test}"
HARAKA_VERSION="3.3.4"          # needs Node.js >= 20 (the machine's NodeSource build is 20)
HARAKA_VERSION_NODE18="3.1.1"   # the last release for Node.js 18 (Debian 12's nodejs); untried

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

log() { echo "install-test-mtas: $*" >&2; }

installed() {  # installed PACKAGE: true when dpkg has it installed
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# The library packages a .deb depends on (first alternative, names only).
lib_depends() {
    dpkg-deb -f "$1" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' \
        -e 's/[[:space:]]//g' | grep '^lib' || true
}

# extract_with_libs DIR PACKAGE: unpack PACKAGE into DIR, then (recursively) every library
# package it depends on that is not installed on this machine.
extract_with_libs() {
    local dir="$1" package="$2" deb dep
    if [ -e "$dir/.extracted-$package" ]; then
        return
    fi
    (cd "$DOWNLOADS" && apt-get download -q "$package" >/dev/null 2>&1) || {
        log "apt-get download $package failed; running apt-get update once"
        $SUDO apt-get update -qq
        (cd "$DOWNLOADS" && apt-get download -q "$package" >/dev/null)
    }
    deb=$(find "$DOWNLOADS" -maxdepth 1 -name "${package}_*.deb" | head -n 1)
    $SUDO dpkg -x "$deb" "$dir"
    $SUDO touch "$dir/.extracted-$package"
    for dep in $(lib_depends "$deb"); do
        if ! installed "$dep"; then
            log "$package needs $dep, which is not installed: unpacking it beside it"
            extract_with_libs "$dir" "$dep"
        fi
    done
}

install_exim() {
    local dir="$ROOT/exim" exim libpath missing version
    exim="$dir/usr/sbin/exim4"
    # The binary is built for the user Debian-exim (EXIM_USER=ref:Debian-exim) and refuses to
    # start without it; exim4-base's postinst would create it, so do what it does.
    if ! getent passwd Debian-exim >/dev/null; then
        $SUDO useradd --system --user-group --home-dir /var/spool/exim4 --no-create-home \
            --shell /usr/sbin/nologin Debian-exim
    fi
    if [ -e "$dir/.mailprobe-installed" ] && [ -x "$exim" ]; then
        log "Exim already in $dir"
        return
    fi
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
        log "apt-get/dpkg not found: skipping Exim (its tests will be skipped)"
        return
    fi
    $SUDO rm -rf "$dir"
    $SUDO mkdir -p "$dir"
    DOWNLOADS=$(mktemp -d)
    chmod 0755 "$DOWNLOADS"
    # apt-get download runs as _apt where it can: let it write here (no sandbox warning)
    $SUDO chown _apt "$DOWNLOADS" 2>/dev/null || true
    extract_with_libs "$dir" exim4-daemon-light
    rm -rf "$DOWNLOADS"
    # Not a set-uid program here: the tests run it as root, and a set-uid Exim outside
    # /usr/sbin with its own libraries would be a needless risk.
    $SUDO chmod u-s "$exim"
    libpath=$( (find "$dir/usr/lib" "$dir/lib" -maxdepth 1 -type d -name '*-linux-gnu' \
        2>/dev/null || true) | tr '\n' ':')
    missing=$(LD_LIBRARY_PATH="$libpath" ldd "$exim" | grep 'not found' || true)
    if [ -n "$missing" ]; then
        log "the unpacked Exim still misses libraries:"
        echo "$missing" >&2
        exit 1
    fi
    version=$(LD_LIBRARY_PATH="$libpath" "$exim" -C /dev/null -bV 2>&1) || {
        log "the unpacked Exim does not run:"
        echo "$version" >&2
        exit 1
    }
    log "$(echo "$version" | grep -m 1 '^Exim version') in $dir"
    $SUDO touch "$dir/.mailprobe-installed"
}

install_haraka() {
    local dir="$ROOT/haraka" major
    if [ -e "$dir/.mailprobe-installed" ] && [ -x "$dir/node_modules/.bin/haraka" ]; then
        log "Haraka already in $dir"
        return
    fi
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        log "node/npm not found: skipping Haraka (its tests will be skipped)"
        return
    fi
    major=$(node -p 'process.versions.node.split(".")[0]')
    $SUDO mkdir -p "$dir"
    # --ignore-scripts: the only install script is the optional native modern-syslog (unused)
    if [ "$major" -ge 20 ]; then
        $SUDO npm install --prefix "$dir" --no-audit --no-fund --ignore-scripts \
            --loglevel=error "Haraka@$HARAKA_VERSION" >/dev/null
    elif ! $SUDO npm install --prefix "$dir" --no-audit --no-fund --ignore-scripts \
            --loglevel=error "Haraka@$HARAKA_VERSION_NODE18" >/dev/null; then
        log "Haraka $HARAKA_VERSION_NODE18 did not install on Node.js $major: its tests will be skipped"
        return
    fi
    log "$("$dir/node_modules/.bin/haraka" --version 2>&1 | sed 's/\x1b\[[0-9;]*m//g')"
    $SUDO touch "$dir/.mailprobe-installed"
}

install_exim
install_haraka
