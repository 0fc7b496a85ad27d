"""Benchmark: `mailprobe log` against pflogsumm on the same generated Postfix maillog.

Generates a Postfix maillog of N lines (default 1,000,000) in the shapes a busy relay writes:
smtpd connect/disconnect, NOQUEUE rejects (554 5.7.1 relay, 450 4.7.1 helo, 550 5.1.1 unknown
user), cleanup message-id, qmgr from=/removed, smtp deliveries sent / deferred (4.4.1
connection refused, 4.7.0 greylisting) / bounced (5.1.1), and a few lines of other programs.
Recipient domains, hosts and clients are drawn from bounded pools (so the counts are known),
with a seed. Then it runs, one after the other, each as its own process:

* ``python -m mailprobe --json log FILE`` (checks its counts against what was generated),
* ``pflogsumm FILE`` (Debian package ``pflogsumm``),

measures each one's wall time and peak resident memory (``ru_maxrss`` of the child, from
``os.wait4``), and prints lines/s and MB for both. The memory check ("flat") runs mailprobe on a
file a tenth as long too and compares the two peaks.

Usage::

    python bench/log_vs_pflogsumm.py [--lines 1000000] [--seed 17] [--keep DIR]

Exit status: 0 PASS (faster than pflogsumm, memory flat within 20%), 1 FAIL, 2 pflogsumm missing
(mailprobe's figures are still printed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = [f"d{i}.example" for i in range(200)]
HOSTS = [f"mx{i}.d{i}.example" for i in range(200)]


def generate(path: Path, lines: int, seed: int) -> Counter[str]:
    """Write the log; returns how many of each status it holds."""
    rng = random.Random(seed)
    truth: Counter[str] = Counter()
    written = 0
    second = 0
    with path.open("w") as out:
        while written < lines:
            second += 1
            stamp = f"Dec  3 {second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            qid = f"{rng.getrandbits(40):010X}"
            client = f"203.0.113.{rng.randrange(1, 255)}"
            pick = rng.random()
            block = [f"{stamp} mail postfix/smtpd[1000]: connect from unknown[{client}]"]
            if pick < 0.15:
                code = rng.choice(
                    [
                        ("554 5.7.1", "<x@relay.example>: Relay access denied"),
                        ("450 4.7.1", "<bad>: Helo command rejected: Host not found"),
                        ("550 5.1.1", "<u@local.example>: Recipient address rejected: unknown"),
                    ]
                )
                block.append(
                    f"{stamp} mail postfix/smtpd[1000]: NOQUEUE: reject: RCPT from "
                    f"unknown[{client}]: {code[0]} {code[1]}; from=<s@spam.example> "
                    f"to=<x@relay.example> proto=ESMTP helo=<bad>"
                )
                truth["rejected"] += 1
            else:
                domain = rng.choice(DOMAINS)
                host = HOSTS[DOMAINS.index(domain)]
                block += [
                    f"{stamp} mail postfix/smtpd[1000]: {qid}: client=unknown[{client}]",
                    f"{stamp} mail postfix/cleanup[1001]: {qid}: message-id=<{qid}@m.example>",
                    f"{stamp} mail postfix/qmgr[1002]: {qid}: from=<a@src.example>, size=2048, "
                    "nrcpt=1 (queue active)",
                ]
                truth["received"] += 1
                what = rng.random()
                head = (
                    f"{stamp} mail postfix/smtp[1003]: {qid}: to=<u{rng.randrange(50)}@{domain}>, "
                )
                if what < 0.80:
                    block.append(
                        f"{head}relay={host}[192.0.2.{DOMAINS.index(domain) % 250}]:25, "
                        "delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
                        f"queued as {qid[:6]})"
                    )
                    truth["sent"] += 1
                elif what < 0.90:
                    block.append(
                        f"{head}relay=none, delay=30, delays=0.1/0/30/0, dsn=4.4.1, status=deferred"
                        f" (connect to {host}[192.0.2.9]:25: Connection refused)"
                    )
                    truth["deferred"] += 1
                elif what < 0.95:
                    block.append(
                        f"{head}relay={host}[192.0.2.8]:25, delay=1, delays=0.1/0/0.5/0.4, "
                        f"dsn=4.7.0, status=deferred (host {host}[192.0.2.8] said: 450 4.7.0 "
                        "Greylisted, try again later (in reply to RCPT TO command))"
                    )
                    truth["deferred"] += 1
                else:
                    block.append(
                        f"{head}relay={host}[192.0.2.7]:25, delay=1, delays=0.1/0/0.5/0.4, "
                        f"dsn=5.1.1, status=bounced (host {host}[192.0.2.7] said: 550 5.1.1 "
                        "User unknown (in reply to RCPT TO command))"
                    )
                    truth["bounced"] += 1
                block.append(f"{stamp} mail postfix/qmgr[1002]: {qid}: removed")
            block.append(f"{stamp} mail postfix/smtpd[1000]: disconnect from unknown[{client}]")
            if rng.random() < 0.01:
                block.append(f"{stamp} mail dovecot[77]: imap-login: Login: user=<u>")
            take = block[: lines - written]
            if len(take) < len(block):  # the cut block's events are not in the file
                truth = _recount(take, truth, block)
            out.write("\n".join(take) + "\n")
            written += len(take)
    return truth


def _recount(take: list[str], truth: Counter[str], block: list[str]) -> Counter[str]:
    """The truth without the events of the lines of ``block`` left out at the end."""
    for line in block[len(take) :]:
        for status in ("sent", "deferred", "bounced"):
            if f"status={status}" in line:
                truth[status] -= 1
        if "reject: RCPT" in line:
            truth["rejected"] -= 1
        if "nrcpt=" in line:
            truth["received"] -= 1
    return truth


def measure(command: list[str], output: Path | None = None) -> tuple[float, float, int, bytes]:
    """(seconds, peak RSS in MB, exit status, stdout) of one child process."""
    started = time.perf_counter()
    with open(output or os.devnull, "wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    data = output.read_bytes() if output else b""
    return seconds, usage.ru_maxrss / 1024, process.returncode, data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", type=Path, help="write the logs here and keep them")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="mailprobe-log-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _run(work, args.lines, args.seed)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, lines: int, seed: int) -> int:
    log = work / "maillog"
    small = work / "maillog.small"
    started = time.perf_counter()
    truth = generate(log, lines, seed)
    generate(small, max(1, lines // 10), seed)
    size = log.stat().st_size / 1e6
    print(f"generated {lines:,} lines ({size:.0f} MB) in {time.perf_counter() - started:.1f} s")
    print("truth: " + ", ".join(f"{k} {v:,}" for k, v in sorted(truth.items())))
    mp = [sys.executable, "-m", "mailprobe", "--json", "log"]
    seconds, rss, code, out = measure([*mp, str(log)], work / "mailprobe.json")
    counts = json.loads(out)["results"]["counts"]
    right = all(counts[k] == v for k, v in truth.items())
    print(
        f"mailprobe log: {seconds:6.2f} s  {lines / seconds:>10,.0f} lines/s  peak RSS "
        f"{rss:6.1f} MB  exit {code}  counts {'match' if right else 'DIFFER: ' + str(counts)}"
    )
    _, small_rss, _, _ = measure([*mp, str(small)], work / "small.json")
    flat = rss <= small_rss * 1.2
    print(
        f"memory: {small_rss:.1f} MB for {max(1, lines // 10):,} lines, {rss:.1f} MB for "
        f"{lines:,} lines -> {'flat' if flat else 'GROWS'}"
    )
    pflogsumm = shutil.which("pflogsumm")
    if pflogsumm is None:
        print("pflogsumm: missing (Debian package pflogsumm)")
        return 2
    pf_seconds, pf_rss, pf_code, _ = measure([pflogsumm, str(log)])
    print(
        f"pflogsumm:     {pf_seconds:6.2f} s  {lines / pf_seconds:>10,.0f} lines/s  peak RSS "
        f"{pf_rss:6.1f} MB  exit {pf_code}"
    )
    faster = seconds < pf_seconds
    print(
        f"mailprobe is {pf_seconds / seconds:.2f}x pflogsumm's speed; "
        f"{'PASS' if faster and flat and right else 'FAIL'}"
    )
    return 0 if faster and flat and right else 1


if __name__ == "__main__":
    sys.exit(main())
