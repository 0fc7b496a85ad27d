"""Benchmark: `mailprobe relay-test` against `nmap --script smtp-open-relay` on a closed Postfix.

Starts a private Postfix instance (tests/support/postfix.py) on 127.0.3.20:25 with default relay
restrictions and default error handling (smtpd_soft_error_limit 10, smtpd_error_sleep_time 1s),
then times, alternately, N runs of each tool as a whole process:

    python -m mailprobe relay-test 127.0.3.20 --port 25 --json     (the full battery)
    nmap -Pn -p25 --script smtp-open-relay 127.0.3.20

and prints the median wall times, the ratio, and both verdicts. Target: mailprobe at most one
tenth of nmap's time, with the right verdict (CLOSED / "doesn't seem to be an open relay").

Usage (as root, Postfix and nmap installed):  python bench/relay_vs_nmap.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADDRESS = "127.0.3.20"
PORT = 25  # nmap's smtp-open-relay only runs on 25/465/587 without service detection
TARGET_RATIO = 0.10


def run_mailprobe() -> tuple[float, str, float, dict[str, object]]:
    """One CLI run as a process: (wall seconds, verdict, battery seconds, report)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mailprobe", "relay-test", ADDRESS, "--port", str(PORT), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    wall = time.perf_counter() - started
    try:
        doc = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"mailprobe gave no JSON (rc {result.returncode}): {result.stderr}"
        ) from None
    report = doc["results"]["reports"][0]
    return wall, str(report["verdict"]), float(report["seconds"]), report


def run_nmap(nmap: str) -> tuple[float, str, str]:
    """One nmap run: (wall seconds, verdict, script output line)."""
    started = time.perf_counter()
    result = subprocess.run(
        [nmap, "-Pn", "-n", f"-p{PORT}", "--script", "smtp-open-relay", ADDRESS],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    wall = time.perf_counter() - started
    out = result.stdout
    line = next((ln.strip("|_ ") for ln in out.splitlines() if "smtp-open-relay" in ln), "")
    if "is an open relay" in out:
        verdict = "open"
    elif "doesn't seem to be an open relay" in out:
        verdict = "closed"
    else:
        verdict = "unknown"
        if not line:
            tail = out.strip().splitlines() or result.stderr.strip().splitlines() or [""]
            line = tail[-1]
    return wall, verdict, line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool (default 5)")
    args = parser.parse_args()
    nmap = shutil.which("nmap")
    if nmap is None:
        raise SystemExit("nmap is missing: apt-get install nmap")

    from tests.support.postfix import PostfixFactory, postfix_available

    if not postfix_available():
        raise SystemExit("Postfix is missing: apt-get install postfix")
    factory = PostfixFactory()
    try:
        instance = factory("bench-closed", ADDRESS, PORT)
        if instance.port != PORT:
            raise SystemExit(f"{ADDRESS}:{PORT} is taken; nmap's script needs port 25")
        version = instance.postconf("mail_version")
        print(f"Postfix {version} on {ADDRESS}:{PORT} ({instance.domain})")
        print(
            "  smtpd_soft_error_limit =",
            instance.postconf("smtpd_soft_error_limit"),
            " smtpd_error_sleep_time =",
            instance.postconf("smtpd_error_sleep_time"),
            " smtpd_relay_restrictions =",
            instance.postconf("smtpd_relay_restrictions"),
        )
        mailprobe_walls: list[float] = []
        battery_secs: list[float] = []
        nmap_walls: list[float] = []
        mailprobe_verdicts: set[str] = set()
        nmap_verdicts: set[str] = set()
        variants = 0
        nmap_line = ""
        for index in range(args.runs):
            wall, verdict, battery, report = run_mailprobe()
            mailprobe_walls.append(wall)
            battery_secs.append(battery)
            mailprobe_verdicts.add(verdict)
            variants = len(report["variants"]) + len(report["probes"])  # type: ignore[arg-type]
            n_wall, n_verdict, nmap_line = run_nmap(nmap)
            nmap_walls.append(n_wall)
            nmap_verdicts.add(n_verdict)
            print(
                f"  run {index + 1}: mailprobe {wall:6.3f} s ({verdict}, battery {battery:.3f} s,"
                f" {report['connections_opened']} sessions)   nmap {n_wall:6.3f} s ({n_verdict})"
            )
    finally:
        factory.close()

    mp = statistics.median(mailprobe_walls)
    nm = statistics.median(nmap_walls)
    ratio = mp / nm if nm else float("inf")
    print()
    battery = statistics.median(battery_secs)
    mp_verdicts = ", ".join(sorted(mailprobe_verdicts))
    pad = " " * 22
    print(f"mailprobe relay-test: median {mp:.3f} s per run (process), battery {battery:.3f} s")
    print(f"{pad}{variants} variants and probes + VRFY/EXPN; verdict {mp_verdicts}")
    nm_verdicts = ", ".join(sorted(nmap_verdicts))
    print(f"nmap smtp-open-relay: median {nm:.3f} s per run, 16 tests; verdict {nm_verdicts}")
    print(f"{pad}({nmap_line})")
    print(f"ratio mailprobe/nmap: {ratio:.3f} (target <= {TARGET_RATIO})")
    right = mailprobe_verdicts == {"closed"} and nmap_verdicts == {"closed"}
    met = ratio <= TARGET_RATIO and right
    print("target met" if met else "TARGET NOT MET")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
