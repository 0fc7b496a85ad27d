"""Cold-start time of `mailprobe ndr 5.4.8` next to `python -c "import typer"`.

Runs each command as a fresh subprocess (default 15 times, after one warm-up run that fills
the OS file cache), prints the median wall time of each and their ratio. The target is a
ratio of at most 1.5. This script only prints figures; nothing asserts on time.

    python bench/ndr_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def median_wall_time(command: list[str], runs: int) -> float:
    """Median wall-clock seconds of ``runs`` fresh runs of ``command`` (after one warm-up)."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
    subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
    )
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    runs = parser.parse_args().runs
    script = shutil.which("mailprobe")
    ndr = (
        [script, "ndr", "5.4.8"] if script else [sys.executable, "-m", "mailprobe", "ndr", "5.4.8"]
    )
    baseline = [sys.executable, "-c", "import typer"]
    floor = [sys.executable, "-c", "import mailprobe.cli.app"]
    ndr_time = median_wall_time(ndr, runs)
    typer_time = median_wall_time(baseline, runs)
    floor_time = median_wall_time(floor, runs)
    print(f"runs per command:          {runs}")
    print(f"mailprobe ndr 5.4.8:       {ndr_time * 1000:7.1f} ms")
    print(f'python -c "import typer":  {typer_time * 1000:7.1f} ms')
    print(f"ratio:                     {ndr_time / typer_time:7.2f}  (target <= 1.5)")
    # For reading the ratio: what merely importing the CLI (every command module) costs.
    print(
        f"import mailprobe.cli.app:  {floor_time * 1000:7.1f} ms  "
        f"(ratio {floor_time / typer_time:.2f}; the floor for any command)"
    )


if __name__ == "__main__":
    main()
