"""Benchmark: one `mailprobe ehlo` probe against `swaks --quit-after EHLO` on a loopback Postfix.

Starts the plain Postfix preset of tests/support/postfix.py (127.0.2.2, no TLS), then times,
alternately, N cold runs of each tool as a whole new process (connect, banner, EHLO, QUIT):

    mailprobe ehlo 127.0.2.2 --port P --no-starttls --timeout 10
    swaks --server 127.0.2.2:P --quit-after EHLO

and prints each tool's median wall time, the ratio mailprobe / swaks (target: at most 2.5), and
the in-process session time mailprobe reports (from its timings, i.e. without start-up).

Bytecode: an installed package has its .pyc files; a checkout run with PYTHONDONTWRITEBYTECODE
(as in CI) would compile every module on every run. The runs therefore use a private
PYTHONPYCACHEPREFIX (filled by one untimed warm-up run), like an installed mailprobe.

Usage (as root, Postfix and swaks installed):  python bench/ehlo_vs_swaks.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 2.5


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="mailprobe-bench-pyc-")


VENV = Path(tempfile.gettempdir()) / "mailprobe-bench-venv"


def mailprobe_command() -> list[str]:
    """mailprobe as the README installs it (``pip install .``, a regular, not editable,
    install) in a virtual environment of its own, so that neither an editable-install finder
    nor the start-up hooks (.pth files) of this interpreter's site-packages are timed; else
    the console script next to this interpreter."""
    python = VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True, timeout=600
            )
        else:  # the code of this checkout, dependencies already there
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-deps",
                    "--force-reinstall",
                    str(ROOT),
                ],
                check=True,
                timeout=600,
            )
        print(f"mailprobe installed with pip into {VENV}")
        return [str(VENV / "bin" / "mailprobe")]
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"no private install ({exc}); timing this interpreter's mailprobe")
    script = Path(sys.executable).with_name("mailprobe")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mailprobe"]


def timed(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT, env=ENV
    )
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="cold runs of each tool (default 9)")
    options = parser.parse_args()
    swaks = shutil.which("swaks")
    if swaks is None:
        raise SystemExit("swaks is missing: apt-get install swaks")

    from tests.support.postfix import running_instance

    with running_instance("plain") as postfix:
        server = f"{postfix.address}:{postfix.port}"
        probe = [
            *mailprobe_command(),
            "ehlo",
            postfix.address,
            "--port",
            str(postfix.port),
            "--no-starttls",
            "--timeout",
            "10",
        ]
        swaks_args = [swaks, "--server", server, "--quit-after", "EHLO"]
        # one untimed run each, so page cache and Postfix's own process start are warm for both
        timed(probe)
        timed(swaks_args)
        ours: list[float] = []
        theirs: list[float] = []
        session: list[float] = []
        for _ in range(options.runs):
            wall, result = timed([*probe, "--json"])
            if result.returncode not in (0, 1):
                raise SystemExit(f"mailprobe failed (rc {result.returncode}): {result.stderr}")
            ours.append(wall)
            document = json.loads(result.stdout)
            timings = document["results"]["probes"][0]["timings"]
            last = timings[-1]
            session.append(last["started_at"] + last["seconds"])
            wall, result = timed(swaks_args)
            if result.returncode != 0:
                raise SystemExit(f"swaks failed (rc {result.returncode}): {result.stderr}")
            theirs.append(wall)

    ours_median = statistics.median(ours)
    theirs_median = statistics.median(theirs)
    ratio = ours_median / theirs_median
    print(f"Postfix {server}, {options.runs} cold runs each (median wall time of a whole process)")
    print(f"  mailprobe ehlo --no-starttls : {ours_median * 1000:7.1f} ms")
    print(f"  swaks --quit-after EHLO      : {theirs_median * 1000:7.1f} ms")
    print(f"  ratio mailprobe / swaks      : {ratio:7.2f}  (target <= {TARGET_RATIO:g})")
    print(f"  mailprobe session only       : {statistics.median(session) * 1000:7.1f} ms")
    print("target met" if ratio <= TARGET_RATIO else "target MISSED")
    shutil.rmtree(ENV["PYTHONPYCACHEPREFIX"], ignore_errors=True)
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
