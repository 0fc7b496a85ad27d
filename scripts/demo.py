"""Run every mailprobe command against a small loopback mail setup and print the real output.

Used to produce the examples in README.md and docs/examples.md. Starts (as root, with the test
helpers in tests/support/):

- a DNS server on 127.0.6.53 serving ``example.com`` (two exchangers on 127.0.6.1 and
  127.0.6.2, PTR records, SPF, DMARC, TLS-RPT) and ``example.net`` (public-looking exchanger
  addresses, shown by ``mx`` only — nothing ever connects to them);
- Postfix on 127.0.6.1 as ``mail.example.com`` with STARTTLS (certificate from a throw-away
  test CA) and default relay restrictions; Postfix on 127.0.6.2 as ``backup.example.com``
  configured as an open relay (``mynetworks = 0.0.0.0/0``, nothing is ever delivered).

Usage:  python scripts/demo.py [--markdown]      (prints each command and its output)
Only loopback addresses are contacted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DNS_ADDRESS = "127.0.6.53"
MAIL = ("mail.example.com", "127.0.6.1")
BACKUP = ("backup.example.com", "127.0.6.2")

EXAMPLE_COM = f"""
@ MX 10 mail
@ MX 20 backup
mail A {MAIL[1]}
backup A {BACKUP[1]}
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com"
_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.com"
"""
EXAMPLE_NET = """
@ MX 10 mx1
@ MX 10 mx2
mx1 A 93.184.215.14
mx1 AAAA 2606:2800:21f:cb07:6820:80da:af6b:8b2c
mx2 CNAME mail-gw
mail-gw A 93.184.215.15
other A 93.184.215.99
"""
REVERSE_LOOPBACK = f"1 PTR {MAIL[0]}.\n2 PTR {BACKUP[0]}.\n"
REVERSE_PUBLIC = "14 PTR mx1.example.net.\n15 PTR other.example.net.\n"
#: PTR of mx1's IPv6 address, relative to the zone 6.0.6.2.ip6.arpa (2606::/16).
REVERSE_V6 = "c.2.b.8.b.6.f.a.a.d.0.8.0.2.8.6.7.0.b.c.f.1.2.0.0.0.8.2 PTR mx1.example.net.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="wrap each run in ``` fences")
    markdown = parser.parse_args().markdown

    from tests.support.certs import TestCA
    from tests.support.dnsserver import start_dns_server
    from tests.support.postfix import PostfixFactory, postfix_available

    if not postfix_available():
        raise SystemExit("Postfix is not installed (Debian package postfix)")
    with tempfile.TemporaryDirectory(prefix="mailprobe-demo-") as directory:
        ca = TestCA(Path(directory))
        factory = PostfixFactory()
        dns = None
        try:
            mail = factory(
                "demo-mail", MAIL[1], 25, {}, domain="example.com", hostname=MAIL[0],
                tls_cert=ca.issue(MAIL[0], MAIL[1]),
            )  # fmt: skip
            factory(
                "demo-backup", BACKUP[1], mail.port, {"mynetworks": "0.0.0.0/0"},
                domain="example.com", hostname=BACKUP[0],
            )  # fmt: skip
            dns = start_dns_server(
                {
                    "example.com": EXAMPLE_COM,
                    "example.net": EXAMPLE_NET,
                    "6.0.127.in-addr.arpa": REVERSE_LOOPBACK,
                    "215.184.93.in-addr.arpa": REVERSE_PUBLIC,
                    "6.0.6.2.ip6.arpa": REVERSE_V6,
                },
                address=DNS_ADDRESS,
            )
            server = dns.spec
            port = str(mail.port)
            ca_file = str(ca.ca_pem)
            runs = [
                ["ndr", "5.4.8"],
                ["ndr", "550 5.7.1 Unable to relay"],
                ["mx", "example.net", "--server", server],
                ["mx", "example.com", "--server", server, "--connect", "--smtp-port", port],
                ["ehlo", MAIL[1], "--port", port, "--ca-file", ca_file],
                ["ehlo", MAIL[1], "--port", port, "--ca-file", ca_file, "--expect", "exchange2000",
                 "--from", "probe@example.org", "--to", "postmaster@example.com"],
                ["relay-test", MAIL[1], "--port", port],
                ["relay-test", BACKUP[1], "--port", port, "--relay-only"],
                ["check", "example.com", "--server", server, "--smtp-port", port,
                 "--ca-file", ca_file, "--allow-private"],
            ]  # fmt: skip
            env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
            for args in runs:
                shown = " ".join(_shown(a, ca_file) for a in args)
                done = subprocess.run(
                    [sys.executable, "-m", "mailprobe", *args],
                    capture_output=True, text=True, timeout=300, env=env, cwd=ROOT, check=False,
                )  # fmt: skip
                if markdown:
                    print("```")
                print(f"$ mailprobe {shown}")
                print(done.stdout.rstrip())
                if done.stderr.strip():
                    print(done.stderr.rstrip())
                print(f"$ echo $?\n{done.returncode}")
                if markdown:
                    print("```")
                print()
        finally:
            factory.close()
            if dns is not None:
                dns.stop()


def _shown(arg: str, ca_file: str) -> str:
    """The command line as shown: the temporary CA path becomes ``test-ca.pem``, and arguments
    with spaces are quoted. (The DNS server's port is random and shown as it is, in the
    command line and in the output alike.)"""
    if arg == ca_file:
        return "test-ca.pem"
    return arg if " " not in arg else f'"{arg}"'


if __name__ == "__main__":
    main()
