"""Benchmark: `mailprobe blocklist -f addrs.txt` on a loopback rbldnsd, against one dig per query.

Generates N IPv4 addresses (default 1,000, from 198.18.0.0/15, the range RFC 2544 sets aside
for benchmarks) of which a share (default 10%) is listed on one to three of five lists --
zen.spamhaus.org (SBL, CSS, XBL, PBL codes, some entries with two codes), bl.spamcop.net,
b.barracudacentral.org, psbl.surriel.com, dnsbl-1.uceprotect.net -- with a TXT reason; every
zone also lists its RFC 5782 test point 127.0.0.2 (mailprobe's self-test asks it) and not
127.0.0.1. The zones are served by rbldnsd on 127.0.14.100 (tests/support/rbldnsd.py; Debian
package ``rbldnsd``), so no query leaves loopback. Then:

1. times ``python -m mailprobe --json blocklist -f addrs.txt --server ADDR:PORT --zone Z1 ...
   --zone Z5`` as a whole process (start-up included), ``--repeat`` times, and reports lookups/s
   for the median run, a lookup being one address on one list (N x 5 of them; the 5 self-test
   queries and the TXT queries of listed addresses are extra work not counted), against the
   target of issue 15: >= 2,000 lookups/s -> PASS or FAIL;
2. checks that the addresses, lists and codes mailprobe reports as listed (JSON Lines, one object
   per address) equal the generated truth, and that nothing is reported as an error;
3. runs one ``dig +short +time=2 +tries=1 @ADDR -p PORT NAME A`` process per lookup, one after
   the other: all N x 5 by default (about 2 minutes for 5,000 on a 2-core machine), or only the
   lookups of the first K addresses with ``--dig-sample K`` (the time is then extrapolated to
   N x 5 lookups, and the output says so); dig's answers are checked against the truth too;
4. prints lookups/s of both and the ratio.

Usage::

    python bench/blocklist.py [--addresses 1000] [--listed 0.10] [--repeat 3]
                              [--dig-sample 0] [--concurrency N] [--seed 15] [--keep DIR]

Exit status: 0 PASS (fast enough and right), 1 FAIL (too slow, or answers differ from the
truth), 2 when something needed is missing: rbldnsd, or the ``mailprobe blocklist`` command
(then the generation and the dig part still run and print their figures).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.rbldnsd import (  # noqa: E402
    Dataset,
    RbldnsdHandle,
    dnsbl_name,
    entry,
    find_rbldnsd,
    start_rbldnsd,
)

ADDRESS = "127.0.14.100"
TARGET_RATE = 2000.0  # lookups/s, issue 15
ZONES = (
    "zen.spamhaus.org",
    "bl.spamcop.net",
    "b.barracudacentral.org",
    "psbl.surriel.com",
    "dnsbl-1.uceprotect.net",
)
ZEN_CODES = (
    ("127.0.0.2",),  # SBL
    ("127.0.0.3",),  # CSS
    ("127.0.0.4",),  # XBL
    ("127.0.0.10", "127.0.0.11"),  # PBL, both flavours
    ("127.0.0.2", "127.0.0.4"),  # SBL and XBL
)
TEST_POINT = "127.0.0.2"

#: address -> {zone: codes}; only listed addresses appear
Truth = dict[str, dict[str, tuple[str, ...]]]


@dataclass
class Plan:
    addresses: list[str]
    truth: Truth

    @property
    def lookups(self) -> int:
        return len(self.addresses) * len(ZONES)


def generate(count: int, share: float, seed: int) -> Plan:
    """``count`` distinct addresses in 198.18.0.0/15, ``share`` of them listed (seeded)."""
    if count > 2**17:
        raise SystemExit("at most 131072 addresses (198.18.0.0/15)")
    rng = random.Random(seed)
    numbers = rng.sample(range(2**17), count)
    addresses = [f"198.{18 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}" for n in numbers]
    truth: Truth = {}
    for address in rng.sample(addresses, round(count * share)):
        zones = rng.sample(ZONES, rng.randint(1, 3))
        truth[address] = {
            zone: rng.choice(ZEN_CODES) if zone == ZONES[0] else ("127.0.0.2",)
            for zone in sorted(zones, key=ZONES.index)
        }
    return Plan(addresses, truth)


def zone_data(plan: Plan) -> dict[str, list[Dataset]]:
    """One ip4set per zone and code position (two codes: two datasets), test point included."""
    zones: dict[str, list[Dataset]] = {}
    for zone in ZONES:
        first = [entry(TEST_POINT, "127.0.0.2", f"{zone} test point $")]
        second: list[str] = []
        for address, listed in plan.truth.items():
            codes = listed.get(zone)
            if codes:
                first.append(entry(address, codes[0], f"Listed on {zone}: see lookup?ip=$"))
                second += [entry(address, code) for code in codes[1:]]
        zones[zone] = [Dataset("ip4set", first)] + ([Dataset("ip4set", second)] if second else [])
    return zones


def blocklist_available() -> tuple[bool, str]:
    """Whether this mailprobe has the `blocklist` command (and why not)."""
    done = subprocess.run(
        [sys.executable, "-m", "mailprobe", "blocklist", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    if done.returncode == 0:
        return True, ""
    said = (done.stderr or done.stdout).strip().splitlines()
    return False, said[-1] if said else f"exit status {done.returncode}"


def run_mailprobe(
    listing: Path, spec: str, concurrency: int | None, out: Path
) -> tuple[float, dict[str, Any]]:
    command = [sys.executable, "-m", "mailprobe", "--json", "blocklist", "-f", str(listing),
               "--server", spec, "--timeout", "5"]  # fmt: skip
    for zone in ZONES:
        command += ["--zone", zone]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    env = {**os.environ, "NO_COLOR": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with out.open("w", encoding="utf-8") as sink:
        done = subprocess.run(
            command, stdout=sink, stderr=subprocess.PIPE, env=env, cwd=ROOT, timeout=600
        )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stderr = done.stderr.decode("utf-8", "replace").strip()
    return elapsed, {"exit": done.returncode, "cpu": cpu, "stderr": stderr}


def reported(out: Path) -> tuple[Truth, dict[str, int], int]:
    """What mailprobe said: listed address -> {zone: codes}, listing statuses, JSON lines."""
    found: Truth = {}
    statuses: dict[str, int] = {}
    lines = out.read_text(encoding="utf-8").splitlines()
    for line in lines:
        document = json.loads(line)
        results = document.get("results") or {}
        for item in results.get("items", []):
            address = str(item.get("item") or results.get("target"))
            for listing in item.get("listings", []):
                status = listing.get("status", "?")
                statuses[status] = statuses.get(status, 0) + 1
                if status == "listed":
                    codes = tuple(listing.get("codes", ()))
                    found.setdefault(address, {})[listing["zone"]] = codes
    return found, statuses, len(lines)


def differences(expected: Truth, got: Truth, limit: int = 5) -> tuple[int, list[str]]:
    """How many (address, zone) pairs differ, and a few of them in words."""
    count = 0
    examples: list[str] = []
    for address in sorted(set(expected) | set(got)):
        want, have = expected.get(address, {}), got.get(address, {})
        for zone in sorted(set(want) | set(have)):
            if sorted(want.get(zone, ())) != sorted(have.get(zone, ())):
                count += 1
                if len(examples) < limit:
                    examples.append(
                        f"{address} on {zone}: expected {list(want.get(zone, ())) or 'not listed'}"
                        f", mailprobe said {list(have.get(zone, ())) or 'not listed'}"
                    )
    return count, examples


def run_dig(
    dig: str, server: RbldnsdHandle, addresses: list[str], truth: Truth
) -> tuple[float, int, int]:
    """One dig process per lookup, sequentially; returns seconds, lookups, wrong answers."""
    wrong = 0
    count = 0
    started = time.perf_counter()
    for address in addresses:
        for zone in ZONES:
            done = subprocess.run(
                [dig, "+short", "+time=2", "+tries=1", f"@{server.address}", "-p",
                 str(server.port), dnsbl_name(address, zone), "A"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            count += 1
            if sorted(done.stdout.split()) != sorted(truth.get(address, {}).get(zone, ())):
                wrong += 1
    return time.perf_counter() - started, count, wrong


def describe(plan: Plan) -> str:
    per_zone: Mapping[str, int] = {
        zone: sum(1 for listed in plan.truth.values() if zone in listed) for zone in ZONES
    }
    zones = ", ".join(f"{zone} {n}" for zone, n in per_zone.items())
    return (
        f"{len(plan.addresses)} addresses, {len(plan.truth)} listed somewhere ({zones}); "
        f"{plan.lookups} lookups (address x list)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=1000)
    parser.add_argument("--listed", type=float, default=0.10, help="share of listed addresses")
    parser.add_argument("--repeat", type=int, default=3, help="mailprobe runs (median counts)")
    parser.add_argument(
        "--dig-sample", type=int, default=0, help="addresses asked with dig (0: all of them)"
    )
    parser.add_argument("--concurrency", type=int, default=None, help="mailprobe --concurrency")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--keep", type=Path, default=None, help="also copy the files here")
    args = parser.parse_args()

    if find_rbldnsd() is None:
        print("rbldnsd is not installed (apt-get install rbldnsd): nothing to measure")
        return 2
    dig = shutil.which("dig")
    available, why = blocklist_available()
    plan = generate(args.addresses, args.listed, args.seed)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    verdict = 0
    with tempfile.TemporaryDirectory(prefix="blocklist-bench-") as tmp:
        directory = Path(tmp)
        listing = directory / "addrs.txt"
        listing.write_text("\n".join(plan.addresses) + "\n", encoding="ascii")
        (directory / "truth.json").write_text(json.dumps(plan.truth, indent=1), encoding="ascii")
        with start_rbldnsd(zone_data(plan), ADDRESS, name="bench-blocklist") as server:
            print(f"data: {describe(plan)}; rbldnsd on {server.spec}")
            rate = 0.0
            if not available:
                print(
                    "mailprobe: NOT MEASURED -- this bench needs the `mailprobe blocklist` "
                    f"command (issue 15), which this mailprobe lacks: {why}"
                )
                verdict = 2
            else:
                times, cpus = [], []
                out = directory / "out.jsonl"
                for _ in range(max(1, args.repeat)):
                    elapsed, info = run_mailprobe(listing, server.spec, args.concurrency, out)
                    times.append(elapsed)
                    cpus.append(info["cpu"])
                    found, statuses, lines = reported(out)
                    print(
                        f"  mailprobe run: {elapsed:.2f} s wall, {info['cpu']:.2f} s CPU, exit "
                        f"{info['exit']}, {lines} JSON lines, listings {statuses}"
                    )
                    if info["exit"] not in (0, 1):
                        print(f"  mailprobe stderr: {info['stderr'][-2000:]}")
                best = statistics.median(times)
                rate = plan.lookups / best
                passed = rate >= TARGET_RATE
                print(
                    f"mailprobe blocklist -f ({len(ZONES)} zones): median {best:.2f} s = "
                    f"{rate:.0f} lookups/s (process start-up included); best {min(times):.2f} s"
                    f" = {plan.lookups / min(times):.0f} lookups/s; CPU median "
                    f"{statistics.median(cpus):.2f} s"
                )
                print(
                    f"target >= {TARGET_RATE:.0f} lookups/s: {'PASS' if passed else 'FAIL'}"
                )  # fmt: skip
                wrong, examples = differences(plan.truth, found)
                right = lines == len(plan.addresses) and wrong == 0 and not statuses.get("error")
                print(
                    f"answers (last run): {len(found)} addresses reported listed, "
                    f"{len(plan.truth)} in the truth; {wrong} (address, list) pairs differ; "
                    f"{statuses.get('error', 0)} errors; {lines} of {len(plan.addresses)} "
                    f"addresses reported: {'RIGHT' if right else 'WRONG'}"
                )
                for example in examples:
                    print(f"  {example}")
                if not (passed and right):
                    verdict = 1
                if args.keep:
                    shutil.copy(out, args.keep / "out.jsonl")
            print(f"  (load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
            if dig is None:
                print("dig not installed (dnsutils): no comparison")
            else:
                sample = plan.addresses
                if 0 < args.dig_sample < len(plan.addresses):
                    sample = plan.addresses[: args.dig_sample]
                seconds, count, wrong_dig = run_dig(dig, server, sample, plan.truth)
                dig_rate = count / seconds
                whole = plan.lookups / dig_rate
                scope = (
                    "all lookups"
                    if count == plan.lookups
                    else f"a sample: the first {len(sample)} addresses; extrapolated to "
                    f"{plan.lookups} lookups: {whole:.1f} s"
                )
                print(
                    f"dig, one process per query: {count} lookups in {seconds:.2f} s = "
                    f"{dig_rate:.0f} lookups/s ({scope}); {wrong_dig} answers differ from "
                    "the truth"
                )
                if rate:
                    ratio = rate / dig_rate
                    print(f"ratio: mailprobe is {ratio:.1f}x faster than one dig per query")
                if wrong_dig and verdict == 0:
                    verdict = 1
        if args.keep:
            for name in ("addrs.txt", "truth.json"):
                shutil.copy(directory / name, args.keep / name)
    return verdict


if __name__ == "__main__":
    raise SystemExit(main())
