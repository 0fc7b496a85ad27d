"""Benchmark: `mailprobe mx -f domains.txt --json` over a generated zone, against one dig per query.

Generates a zone of N domains (default 1,000), each with two MX records, A and AAAA records for
the exchangers, and PTR records for every address, serves it from a DNS server on loopback
(Knot DNS when ``knotd`` is installed -- Debian package ``knot`` -- else the Python test server of
tests/support/dnsserver.py, which is itself the bottleneck), then:

1. times ``mailprobe mx -f domains.txt --json --server ADDR:PORT`` as a subprocess (the full
   check: MX, A, AAAA, PTR and the forward confirmation of every PTR), and reports domains/s;
2. times the same lookups done with one ``dig`` (or ``kdig``) process per query, for a bounded
   sample of domains, and extrapolates to N (said so in the output);
3. prints the ratio.

Usage::

    python bench/mx_batch.py [--domains 1000] [--server-kind auto|knot|python]
                             [--dig-sample 40] [--concurrency 64] [--repeat 3]

Prints figures; asserts nothing. Binds 127.0.1.100 (the mx/DNS loopback range).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.reversename

ROOT = Path(__file__).resolve().parent.parent
ADDRESS = "127.0.1.100"
ZONE = "bench.test"
V4_ZONE = "11.in-addr.arpa"
V6_ZONE = "1.0.0.0.0.0.a.2.ip6.arpa"  # 2a00:1::/32


def addresses_of(i: int) -> tuple[str, str, str]:
    """IPv4 of mx1, IPv6 of mx1, IPv4 of mx2 for domain number i."""
    high, low = divmod(i, 250)
    return f"11.{high}.{low}.1", f"2a00:1:0:{i:x}::1", f"11.{high}.{low}.2"


def generate(n: int, directory: Path) -> dict[str, Path]:
    """Write the forward and reverse zone files and domains.txt; return zone name -> file."""
    soa = "@ 3600 SOA ns.{o}. hostmaster.{o}. 1 3600 600 86400 300\n@ 3600 NS ns.{o}.\n"
    forward = ["$TTL 3600", soa.format(o=ZONE), f"ns A {ADDRESS}"]
    v4 = ["$TTL 3600", soa.format(o=V4_ZONE)]
    v6 = ["$TTL 3600", soa.format(o=V6_ZONE)]
    names = []
    for i in range(n):
        domain = f"d{i}.{ZONE}"
        names.append(domain)
        a1, aaaa1, a2 = addresses_of(i)
        forward += [
            f"d{i} MX 10 mx1.d{i}",
            f"d{i} MX 20 mx2.d{i}",
            f"mx1.d{i} A {a1}",
            f"mx1.d{i} AAAA {aaaa1}",
            f"mx2.d{i} A {a2}",
        ]
        for address, host in ((a1, "mx1"), (a2, "mx2")):
            v4.append(f"{dns.reversename.from_address(address)} PTR {host}.{domain}.")
        v6.append(f"{dns.reversename.from_address(aaaa1)} PTR mx1.{domain}.")
    files = {}
    for origin, lines in ((ZONE, forward), (V4_ZONE, v4), (V6_ZONE, v6)):
        path = directory / f"{origin}.zone"
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
        files[origin] = path
    (directory / "domains.txt").write_text("\n".join(names) + "\n", encoding="ascii")
    return files


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((ADDRESS, 0))
        return int(udp.getsockname()[1])


def wait_until_answering(port: int, limit: float = 15.0) -> None:
    query = dns.message.make_query(f"d0.{ZONE}", "MX")
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            reply = dns.query.udp(query, ADDRESS, port=port, timeout=0.5)
            if reply.answer:
                return
        time.sleep(0.1)
    raise RuntimeError(f"DNS server on {ADDRESS}:{port} did not answer within {limit} s")


@contextlib.contextmanager
def knot_server(files: dict[str, Path], directory: Path) -> Iterator[int]:
    port = free_port()
    zones = "\n".join(f"  - domain: {origin}\n    file: {path}" for origin, path in files.items())
    config = directory / "knot.conf"
    config.write_text(
        f"""server:
    listen: {ADDRESS}@{port}
    rundir: {directory}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: error
database:
    storage: {directory}
template:
  - id: default
    storage: {directory}
    semantic-checks: off
    zonefile-sync: -1
    journal-content: none
zone:
{zones}
""",
        encoding="ascii",
    )
    proc = subprocess.Popen(["knotd", "-c", str(config)], stderr=subprocess.PIPE)
    try:
        wait_until_answering(port)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def python_server(files: dict[str, Path]) -> Iterator[int]:
    sys.path.insert(0, str(ROOT))
    from tests.support.dnsserver import start_dns_server

    zones = {origin: path.read_text(encoding="ascii") for origin, path in files.items()}
    with start_dns_server(zones, address=ADDRESS) as handle:
        wait_until_answering(handle.port)
        yield handle.port


def run_mailprobe(listing: Path, port: int, concurrency: int, out: Path) -> tuple[float, dict]:
    command = [
        "mailprobe", "mx", "-f", str(listing), "--json",
        "--server", f"{ADDRESS}:{port}", "--concurrency", str(concurrency), "--timeout", "5",
    ]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with out.open("w", encoding="utf-8") as sink:
        done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, env=env, timeout=600)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    statuses: dict[str, int] = {}
    lines = out.read_text(encoding="utf-8").splitlines()
    for line in lines:
        status = json.loads(line)["status"]
        statuses[status] = statuses.get(status, 0) + 1
    info = {"exit": done.returncode, "lines": len(lines), "statuses": statuses, "cpu": cpu}
    return elapsed, info


def dig_queries(i: int) -> list[tuple[str, str]]:
    """The queries the full check makes for domain i (answers the cache would repeat excluded)."""
    domain = f"d{i}.{ZONE}"
    a1, aaaa1, a2 = addresses_of(i)
    return [
        (domain, "MX"),
        (f"mx1.{domain}", "A"),
        (f"mx1.{domain}", "AAAA"),
        (f"mx2.{domain}", "A"),
        (f"mx2.{domain}", "AAAA"),
        (dns.reversename.from_address(a1).to_text(), "PTR"),
        (dns.reversename.from_address(aaaa1).to_text(), "PTR"),
        (dns.reversename.from_address(a2).to_text(), "PTR"),
    ]


def run_dig(tool: str, port: int, sample: list[int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    for i in sample:
        for name, kind in dig_queries(i):
            subprocess.run(
                [tool, f"@{ADDRESS}", "-p", str(port), "+short", "+tries=1", "+time=2", name, kind],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=30,
                check=False,
            )
            count += 1
    return time.perf_counter() - started, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--server-kind", choices=["auto", "knot", "python"], default="auto")
    parser.add_argument("--dig-sample", type=int, default=40, help="domains asked with dig")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="mailprobe runs (median shown)")
    args = parser.parse_args()

    kind = args.server_kind
    if kind == "auto":
        kind = "knot" if shutil.which("knotd") else "python"
    dig = shutil.which("dig") or shutil.which("kdig")
    with tempfile.TemporaryDirectory(prefix="mx-bench-") as tmp:
        directory = Path(tmp)
        files = generate(args.domains, directory)
        server = knot_server(files, directory) if kind == "knot" else python_server(files)
        with server as port:
            print(f"zone: {args.domains} domains (2 MX, 3 addresses, 3 PTR each) on "
                  f"{ADDRESS}:{port}, server: {kind}")  # fmt: skip
            times = []
            cpus = []
            for _run in range(max(1, args.repeat)):
                elapsed, info = run_mailprobe(
                    directory / "domains.txt", port, args.concurrency, directory / "out.jsonl"
                )
                times.append(elapsed)
                cpus.append(info["cpu"])
                print(
                    f"  mailprobe run: {elapsed:.2f} s wall, {info['cpu']:.2f} s CPU, exit "
                    f"{info['exit']}, {info['lines']} JSON lines, statuses {info['statuses']}"
                )
            best = statistics.median(times)
            rate = args.domains / best
            print(
                f"mailprobe mx -f (full check, concurrency {args.concurrency}): median {best:.2f} s"
                f" = {rate:.0f} domains/s (process start-up included); best {min(times):.2f} s ="
                f" {args.domains / min(times):.0f} domains/s; CPU used by mailprobe: median "
                f"{statistics.median(cpus):.2f} s = {args.domains / statistics.median(cpus):.0f}"
                " domains per CPU-second"
            )
            print(f"  (load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
            if dig is None:
                print("dig/kdig not installed: no comparison")
                return 0
            sample = list(range(min(args.dig_sample, args.domains)))
            dig_time, count = run_dig(dig, port, sample)
            per_domain = dig_time / len(sample)
            extrapolated = per_domain * args.domains
            print(
                f"{Path(dig).name}, one process per query: {count} queries for {len(sample)} "
                f"domains in {dig_time:.2f} s = {len(sample) / dig_time:.1f} domains/s; "
                f"extrapolated to {args.domains} domains: {extrapolated:.1f} s"
            )
            print(f"ratio: mailprobe is {extrapolated / best:.1f}x faster than one dig per query")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
