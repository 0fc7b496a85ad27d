"""Benchmark: one `mailprobe check` against the separate `mx`, `ehlo` and `relay-test` runs it
replaces, on a healthy loopback domain with two exchangers.

Starts (with the tests' helpers, tests/support/) a loopback DNS server on 127.0.4.60 serving
``bench-check.test`` (two MX, PTR records, SPF, DMARC, TLS-RPT), and two private Postfix
instances on 127.0.4.61 and 127.0.4.62 with STARTTLS (test-CA certificates) and default relay
restrictions (so the relay battery meets Postfix's error sleep, as in real life). Then times, as
whole processes and alternately, N rounds of:

    check:     mailprobe check bench-check.test --server DNS --smtp-port P --allow-private
                   --ca-file CA --json
    separate:  mailprobe mx bench-check.test --server DNS --json
               mailprobe ehlo 127.0.4.61 --port P --ca-file CA --json     (and .62)
               mailprobe relay-test 127.0.4.61 --port P --domain bench-check.test --json  (.62)

and prints the medians, the ratio check / separate (target <= 0.6) and each run's exit codes.
``check`` does more than the separate runs (policy records, postmaster RCPT); the ratio comes
from running the steps concurrently and reusing one resolver and one connection per exchanger.

Usage (as root, Postfix installed):  python bench/check_vs_separate.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DOMAIN = "bench-check.test"
DNS_ADDRESS = "127.0.4.60"
EXCHANGERS = {"mx1": "127.0.4.61", "mx2": "127.0.4.62"}
TARGET_RATIO = 0.6
#: Refuse outside senders claiming the domain (the relay battery's internal-spoofing check).
SENDER_GUARD = f"check_sender_access inline:{{{DOMAIN}=REJECT}}"


def run(args: list[str]) -> tuple[float, int]:
    """One CLI run as a process: (wall seconds, exit code)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mailprobe", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    wall = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"mailprobe {' '.join(args)} -> {result.returncode}: {result.stderr}")
    return wall, result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds of each (default 5)")
    runs = parser.parse_args().runs

    from tests.support.certs import TestCA
    from tests.support.dnsserver import start_dns_server
    from tests.support.postfix import PostfixFactory, postfix_available

    if not postfix_available():
        raise SystemExit("Postfix is not installed (Debian package postfix)")
    with tempfile.TemporaryDirectory(prefix="mailprobe-bench-check-") as directory:
        ca = TestCA(Path(directory))
        factory = PostfixFactory()
        dns = None
        try:
            instances = []
            port = 25
            for name, address in EXCHANGERS.items():
                host = f"{name}.{DOMAIN}"
                instance = factory(
                    f"bench-{name}",
                    address,
                    port,
                    {"smtpd_sender_restrictions": SENDER_GUARD},
                    domain=DOMAIN,
                    hostname=host,
                    tls_cert=ca.issue(host, address),
                )
                port = instance.port
                instances.append(instance)
            if len({i.port for i in instances}) != 1:
                raise SystemExit("the two Postfix instances ended up on different ports")
            zone = "\n".join(
                [
                    *(f"@ MX {10 * (i + 1)} {n}" for i, n in enumerate(EXCHANGERS)),
                    *(f"{n} A {a}" for n, a in EXCHANGERS.items()),
                    '@ TXT "v=spf1 mx -all"',
                    f'_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{DOMAIN}"',
                    f'_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{DOMAIN}"',
                ]
            )
            reverse = "".join(
                f"{a.rsplit('.', 1)[1]} PTR {n}.{DOMAIN}.\n" for n, a in EXCHANGERS.items()
            )
            dns = start_dns_server(
                {DOMAIN: zone + "\n", "4.0.127.in-addr.arpa": reverse}, address=DNS_ADDRESS
            )
            ca_file = str(ca.ca_pem)
            check_args = [
                "check", DOMAIN, "--server", dns.spec, "--smtp-port", str(port),
                "--allow-private", "--ca-file", ca_file, "--json",
            ]  # fmt: skip
            separate_args = [["mx", DOMAIN, "--server", dns.spec, "--json"]]
            for address in EXCHANGERS.values():
                separate_args.append(
                    ["ehlo", address, "--port", str(port), "--ca-file", ca_file, "--json"]
                )
            for address in EXCHANGERS.values():
                separate_args.append(
                    ["relay-test", address, "--port", str(port), "--domain", DOMAIN, "--json"]
                )
            print(f"DNS {dns.spec}; Postfix {instances[0].postconf('mail_version')} on "
                  f"{', '.join(EXCHANGERS.values())} port {port}; {runs} rounds")  # fmt: skip
            run(check_args)  # warm-up: imports compiled, Postfix processes started
            for args in separate_args:
                run(args)
            check_times: list[float] = []
            separate_times: list[float] = []
            check_codes: set[int] = set()
            separate_codes: set[tuple[int, ...]] = set()
            for _ in range(runs):
                wall, code = run(check_args)
                check_times.append(wall)
                check_codes.add(code)
                parts = [run(args) for args in separate_args]
                separate_times.append(sum(w for w, _ in parts))
                separate_codes.add(tuple(c for _, c in parts))
        finally:
            factory.close()
            if dns is not None:
                dns.stop()
    check_median = statistics.median(check_times)
    separate_median = statistics.median(separate_times)
    ratio = check_median / separate_median
    print()
    print(f"mailprobe check:        median {check_median:.3f} s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in check_times)}; exit {sorted(check_codes)})")  # fmt: skip
    shown = ", ".join(f"{t:.2f}" for t in separate_times)
    print(f"separate mx+ehlo+relay: median {separate_median:.3f} s  (runs: {shown}; "
          f"exit {sorted(separate_codes)})")  # fmt: skip
    print("  = mx, ehlo x2, relay-test x2 (5 processes per round)")
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"ratio check/separate:   {ratio:.3f} (target <= {TARGET_RATIO}: {verdict})")


if __name__ == "__main__":
    main()
