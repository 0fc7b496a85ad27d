"""Benchmark: `mailprobe --json check -f` over the MSP loopback lab, timed end to end.

Starts the lab of tests/support/msp_lab.py (N customer domains, default 2,000, on 20 shared
exchanger addresses 127.0.12.1-20, each allowing 4 connections at once and 60 new ones a minute
per client, 421 beyond), with Knot DNS (``knotd``, Debian package ``knot``) serving the zones on
127.0.12.53 so that DNS is not the bottleneck; without knotd, the dnspython test server in a
child process, and the output says so. Then runs, as a whole process::

    python -m mailprobe --json check -f DOMAINS --server DNS --allow-private --ca-file CA
        --smtp-port PORT [--concurrency N]

reading its JSON Lines as they come, and prints each figure next to its target (issue 14):

    domains/s                         >= 100
    connections per exchanger         <= 60 (most to one exchanger; the total is shown too)
    connections per exchanger in 60 s <= 60 (most in any sliding minute)
    421s sent by the exchangers       0
    peak RSS of the mailprobe process < 500 MB  (os.wait4 of that process alone)
    first JSON line                   <= 10% of the run

Usage::

    python bench/check_msp.py [--domains 2000] [--concurrency N] [--dns auto|knot|python]
                              [--keep DIR]

``--keep DIR`` leaves the lab's files, mailprobe's output (out.jsonl, stderr.txt) and the lab's
counters (stats.json) in DIR. Prints figures; exits 0 whatever they are (1 only when mailprobe
printed no line at all).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_RATE = 100.0
TARGET_CONNECTIONS = 60
TARGET_RSS_MB = 500.0
TARGET_FIRST_LINE = 0.10


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run_mailprobe(
    command: list[str], out: Path, err: Path
) -> tuple[float, float | None, int, int, resource.struct_rusage, list[str]]:
    """Run ``command``; (wall s, first line at s, lines, exit code, rusage, lines)."""
    lines: list[str] = []
    first: float | None = None
    env = {**os.environ, "NO_COLOR": "1"}
    started = time.perf_counter()
    with err.open("wb") as stderr, out.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, cwd=ROOT, env=env)
        assert proc.stdout is not None
        for raw in proc.stdout:
            if first is None:
                first = time.perf_counter() - started
            line = raw.decode("utf-8")
            lines.append(line)
            sink.write(line)
        # The rusage of this one process (not of every child this script ever waited for).
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    return wall, first, len(lines), proc.returncode, usage, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, help="passed to check (default: its own)")
    parser.add_argument("--dns", choices=["auto", "knot", "python"], default="auto")
    parser.add_argument("--keep", type=Path, help="keep the lab files and outputs here")
    args = parser.parse_args()

    from tests.support.msp_lab import start_lab

    kind = args.dns
    if kind == "auto":
        kind = "knot" if shutil.which("knotd") else "python"
        if kind == "python":
            print("knotd not found (Debian package knot): falling back to the dnspython test")
            print("server in a child process, which may be the bottleneck")
    with contextlib.ExitStack() as stack:
        if args.keep:
            directory = args.keep
            directory.mkdir(parents=True, exist_ok=True)
        else:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="msp-b-")))
        dns = "knot" if kind == "knot" else "process"
        lab = stack.enter_context(start_lab(directory, args.domains, dns=dns))
        command = [
            sys.executable, "-m", "mailprobe", "--json", "check", "-f", str(lab.domains_file),
            "--server", lab.dns_spec, "--allow-private", "--ca-file", str(lab.ca_file),
            "--smtp-port", str(lab.port),
        ]  # fmt: skip
        if args.concurrency:
            command += ["--concurrency", str(args.concurrency)]
        print(
            f"lab: {args.domains} domains, 20 exchanger addresses 127.0.12.1-20 port {lab.port} "
            f"(4 at once / 60 a minute per client, 421 beyond), DNS {kind} on {lab.dns_spec}"
        )
        print("run: " + " ".join(command[1:]).replace(str(directory), "LAB"))
        wall, first, count, code, usage, lines = run_mailprobe(
            command, directory / "out.jsonl", directory / "stderr.txt"
        )
        stats = lab.stats()
        lab_cpu = lab.smtp.cpu_seconds()
        (directory / "stats.json").write_text(json.dumps(stats, indent=1), "utf-8")

    statuses: Counter[str] = Counter()
    domains_seen = []
    for line in lines:
        with contextlib.suppress(ValueError, KeyError):
            doc = json.loads(line)
            statuses[doc["status"]] += 1
            domains_seen.append(doc["inputs"]["domain"])
    per = stats["addresses"]
    conns = [s["connections"] for s in per.values()]
    windows = [s["max_in_window"] for s in per.values()]
    refused = sum(s["refused_421"] for s in per.values())
    other = sum(s["other_421"] for s in per.values())
    messages = sum(s["messages"] for s in per.values())
    concurrent = max(s["max_concurrent"] for s in per.values())
    rss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    cpu = usage.ru_utime + usage.ru_stime
    rate = count / wall if wall else 0.0
    first_fraction = (first / wall) if first is not None and wall else 1.0

    print(f"mailprobe: exit {code}, {count} JSON lines, statuses {dict(statuses)}")
    print(f"  (load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    print()
    print(f"{'figure':<44} {'measured':>14}   {'target':<10} result")
    rows = [
        ("domains", f"{args.domains}", f"{count} lines", count == args.domains),
        ("wall seconds (process start to exit)", f"{wall:.1f}", "", None),
        ("CPU seconds of mailprobe", f"{cpu:.1f}", "", None),
        ("CPU seconds of the lab's SMTP server", f"{lab_cpu or 0:.1f}", "", None),
        ("domains/s", f"{rate:.1f}", f">= {TARGET_RATE:.0f}", rate >= TARGET_RATE),
        (
            "connections per exchanger: max",
            f"{max(conns)}",
            f"<= {TARGET_CONNECTIONS}",
            max(conns) <= TARGET_CONNECTIONS,
        ),
        ("connections: total over 20 exchangers", f"{sum(conns)}", "", None),
        (
            "connections per exchanger in any 60 s: max",
            f"{max(windows)}",
            f"<= {TARGET_CONNECTIONS}",
            max(windows) <= TARGET_CONNECTIONS,
        ),
        ("concurrent connections per exchanger: max", f"{concurrent}", "<= 4", concurrent <= 4),
        ("421s sent (connection limits)", f"{refused}", "0", refused == 0),
        ("421s sent (other: errors, timeouts)", f"{other}", "0", other == 0),
        ("messages received (DATA completed)", f"{messages}", "0", messages == 0),
        ("peak RSS of mailprobe, MB", f"{rss_mb:.0f}", f"< {TARGET_RSS_MB:.0f}", rss_mb < 500),
        (
            "first JSON line, s (fraction of the run)",
            f"{first:.2f} ({first_fraction:.1%})" if first is not None else "none",
            f"<= {TARGET_FIRST_LINE:.0%}",
            first_fraction <= TARGET_FIRST_LINE,
        ),
    ]
    for name, measured, target, ok in rows:
        print(f"{name:<44} {measured:>14}   {target:<10} {'' if ok is None else verdict(ok)}")
    in_order = domains_seen == lab.domains[: len(domains_seen)]
    print(f"output in input order: {in_order}")
    print(
        "connections by exchanger: "
        + " ".join(f"{a.split('.')[-1]}:{c}" for a, c in zip(per, conns, strict=True))
    )
    return 0 if count else 1


if __name__ == "__main__":
    raise SystemExit(main())
