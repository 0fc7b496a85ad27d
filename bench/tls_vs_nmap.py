"""Benchmark: `mailprobe tls` (the full enumeration) against `nmap --script ssl-enum-ciphers`.

Starts the weak case of the TLS lab (tests/support/tls_servers.py: a private Postfix on
127.0.16.1:25 with TLS 1.0-1.3, static-RSA, CBC and CAMELLIA suites at OpenSSL security level 0,
an RSA 2048 certificate from a fresh test CA), then times, alternately, N runs of each tool as a
whole process:

    python -m mailprobe --json tls 127.0.16.1 --port 25 --ca-file CA
    nmap -Pn -n -p25 --script ssl-enum-ciphers 127.0.16.1

and prints the median wall times, the ratio, and whether both saw the same accepted protocol
versions and cipher suites (IANA names; the differences are listed), with the suites the lab
recorded (measured with openssl s_client and nmap) as a third opinion. Target: mailprobe no
slower than nmap (ratio <= 1), with the same versions and suites.

When the weak case cannot have port 25 (another test session holds it), the instance takes a free
port and nmap is run with a services file naming that port smtp (--datadir), as
tests/support/tls_crosscheck.py explains; `--case` benchmarks another case of the lab.

If `mailprobe tls` does not exist (yet), the script says so, runs the nmap half, prints its
figures and exits 2.

Usage (as root, Postfix and nmap installed):  python bench/tls_vs_nmap.py [--runs 3] [--case weak]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.tls_crosscheck import (  # noqa: E402 (after the path set-up)
    NmapScan,
    nmap_path,
    nmap_ssl_enum_ciphers,
)
from tests.support.tls_servers import (  # noqa: E402
    CASES,
    TlsServer,
    running_tls_lab,
)

TARGET_RATIO = 1.0
Suites = dict[str, frozenset[str]]


def mailprobe_tls_available() -> tuple[bool, str]:
    """Whether ``python -m mailprobe tls`` exists, and why not."""
    result = subprocess.run(
        [sys.executable, "-m", "mailprobe", "tls", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    if result.returncode == 0 and "Usage: mailprobe tls" in result.stdout:
        return True, ""
    lines = (result.stderr or result.stdout).strip().splitlines() or [""]
    return False, lines[-1]


def mailprobe_command(server: TlsServer) -> list[str]:
    """The command line timed for mailprobe."""
    return [sys.executable, "-m", "mailprobe", "--json", "tls", *server.cli_args()]


def _servers(doc: Any) -> list[dict[str, Any]]:
    """``servers`` of the JSON document: under ``results`` (or wherever it first appears)."""
    if isinstance(doc, dict):
        results = doc.get("results")
        if isinstance(results, dict) and isinstance(results.get("servers"), list):
            return list(results["servers"])
        for value in doc.values():
            if found := _servers(value):
                return found
    if isinstance(doc, list):
        for value in doc:
            if found := _servers(value):
                return found
    return []


def run_mailprobe(server: TlsServer) -> tuple[float, Suites, list[str], float | None]:
    """One CLI run as a process: (wall seconds, {accepted version: IANA names}, versions not
    tested, the run's own seconds)."""
    command = mailprobe_command(server)
    started = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT
    )
    wall = time.perf_counter() - started
    try:
        doc = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"mailprobe gave no JSON (rc {result.returncode}): {result.stderr.strip()}"
        ) from None
    servers = _servers(doc)
    if not servers:
        raise SystemExit(f"no servers[] in mailprobe's JSON: {result.stdout[:500]}")
    suites: Suites = {}
    untested: list[str] = []
    for protocol in servers[0].get("protocols") or []:
        version = str(protocol.get("version"))
        if protocol.get("accepted") is None:
            untested.append(version)
        elif protocol.get("accepted"):
            suites[version] = frozenset(
                str(cipher["name"]) for cipher in protocol.get("ciphers") or []
            )
    own = doc.get("results", {}).get("seconds") if isinstance(doc, dict) else None
    return wall, suites, untested, float(own) if isinstance(own, int | float) else None


def differences(left: Suites, right: Suites, left_name: str, right_name: str) -> list[str]:
    """Human-readable differences between two {version: suites} views ([] when the same)."""
    lines: list[str] = []
    for version in sorted(set(left) | set(right)):
        if version not in right:
            lines.append(f"{version}: accepted by {left_name} only")
        elif version not in left:
            lines.append(f"{version}: accepted by {right_name} only")
        else:
            for name in sorted(left[version] - right[version]):
                lines.append(f"{version}: {name} only in {left_name}")
            for name in sorted(right[version] - left[version]):
                lines.append(f"{version}: {name} only in {right_name}")
    return lines


def describe(suites: Suites) -> str:
    """``TLSv1.0 (10), TLSv1.2 (44)``."""
    return ", ".join(f"{v} ({len(suites[v])})" for v in sorted(suites)) or "nothing"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool (default 3)")
    parser.add_argument(
        "--case",
        default="weak",
        choices=[case for case in CASES if case != "failing"],
        help="which TLS lab server (default weak)",
    )
    args = parser.parse_args()
    if nmap_path() is None:
        raise SystemExit("nmap is missing: apt-get install nmap")
    from tests.support.postfix import postfix_available

    if not postfix_available():
        raise SystemExit("Postfix is missing: apt-get install postfix")
    have_mailprobe, why = mailprobe_tls_available()
    if not have_mailprobe:
        print(f"`mailprobe tls` is not available ({why}): this benchmark needs that command.")
        print("Running the nmap half only.\n")

    with running_tls_lab(args.case) as lab:
        server = lab.server(args.case)
        assert server.instance is not None
        print(
            f"{args.case}: Postfix {server.instance.postconf('mail_version')} on "
            f"{server.address}:{server.port} ({server.mode}), CA {server.ca_file}"
        )
        for parameter in ("smtpd_tls_protocols", "tls_medium_cipherlist", "tls_preempt_cipherlist"):
            print(f"  {parameter} = {server.instance.postconf(parameter)}")
        expected = server.expected.by_version()
        mp_walls: list[float] = []
        mp_own: list[float] = []
        nm_walls: list[float] = []
        mp_views: list[Suites] = []
        nm_views: list[Suites] = []
        untested: list[str] = []
        scan: NmapScan | None = None
        for index in range(args.runs):
            line = f"  run {index + 1}:"
            if have_mailprobe:
                wall, suites, untested, own = run_mailprobe(server)
                mp_walls.append(wall)
                if own is not None:
                    mp_own.append(own)
                mp_views.append(suites)
                line += f" mailprobe {wall:6.3f} s ({describe(suites)})  "
            scan = nmap_ssl_enum_ciphers(server.address, server.port, server.mode)
            nm_walls.append(scan.seconds)
            nm_views.append(scan.suites)
            line += f" nmap {scan.seconds:6.3f} s ({describe(scan.suites)})"
            print(line)
    assert scan is not None

    print()
    print("mailprobe: python " + " ".join(mailprobe_command(server)[1:]))
    print("nmap:      " + " ".join(scan.command))
    nm = statistics.median(nm_walls)
    nm_view = nm_views[-1]
    print(f"nmap ssl-enum-ciphers: median {nm:.3f} s per run; accepted {describe(nm_view)}")
    if any(view != nm_view for view in nm_views):
        print("  (nmap's result changed between runs)")
    nm_vs_lab = differences(nm_view, expected, "nmap", "the lab's record")
    print("  same as the lab's record" if not nm_vs_lab else "  vs the lab's record:")
    for diff in nm_vs_lab:
        print(f"    {diff}")
    if not have_mailprobe:
        print(f"\nmailprobe tls: NOT RUN ({why}); the benchmark needs `mailprobe tls`.")
        return 2

    mp = statistics.median(mp_walls)
    ratio = mp / nm if nm else float("inf")
    mp_view = mp_views[-1]
    own_timer = f", its own timer {statistics.median(mp_own):.3f} s" if mp_own else ""
    print(f"mailprobe tls:         median {mp:.3f} s per run (process){own_timer}")
    print(f"  accepted {describe(mp_view)}; not tested: {', '.join(untested) or 'none'}")
    if any(view != mp_view for view in mp_views):
        print("  (mailprobe's result changed between runs)")
    diffs = differences(mp_view, nm_view, "mailprobe", "nmap")
    print("versions and suites: " + ("the same" if not diffs else "DIFFERENT"))
    for diff in diffs:
        print(f"  {diff}")
    for diff in differences(mp_view, expected, "mailprobe", "the lab's record"):
        print(f"  vs the lab's record: {diff}")
    print(f"ratio mailprobe/nmap: {ratio:.3f} (target <= {TARGET_RATIO})")
    met = ratio <= TARGET_RATIO and not diffs
    print("target met" if met else "TARGET NOT MET")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
