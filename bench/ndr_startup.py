"""Cold-start time of `mailprobe ndr 5.4.8` next to `python -c "import typer"`.

Each command runs as a fresh subprocess, the commands taking turns (round-robin) so that a
busy machine slows them alike; one warm-up round fills the OS file cache first. Prints the
median wall time of each (default 15 runs), the ratio (target: at most 1.5), and, to read the
ratio, the time of merely importing the CLI (every command module), the floor for any command.
Nothing here asserts on time.

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


def _run(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
    )
    return time.perf_counter() - start


def median_wall_times(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median wall-clock seconds of ``runs`` fresh runs of each command, taking turns."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
    for command in commands.values():
        _run(command, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(_run(command, env))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    runs = parser.parse_args().runs
    script = shutil.which("mailprobe")
    ndr = [script] if script else [sys.executable, "-m", "mailprobe"]
    medians = median_wall_times(
        {
            "ndr": [*ndr, "ndr", "5.4.8"],
            "typer": [sys.executable, "-c", "import typer"],
            "floor": [sys.executable, "-c", "import mailprobe.cli.app"],
        },
        runs,
    )
    ndr_time, typer_time, floor_time = medians["ndr"], medians["typer"], medians["floor"]
    print(f"runs per command:          {runs}")
    print(f"mailprobe ndr 5.4.8:       {ndr_time * 1000:7.1f} ms")
    print(f'python -c "import typer":  {typer_time * 1000:7.1f} ms')
    print(f"ratio:                     {ndr_time / typer_time:7.2f}  (target <= 1.5)")
    print(
        f"import mailprobe.cli.app:  {floor_time * 1000:7.1f} ms  "
        f"(ratio {floor_time / typer_time:.2f}; the floor for any command)"
    )


if __name__ == "__main__":
    main()
