"""Exits that are not errors of the run (issue item 12): a closed output pipe and Ctrl-C.

Both need a real process (a pipe whose reader is gone, a real SIGINT), so these run
``python -m mailprobe`` with strict timeouts; every target is on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailprobe.cli.app import main

OUTPUT_CLOSED = 141
INTERRUPTED = 130


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("MAILPROBE_")}
    values.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), COLUMNS="100", PYTHONWARNINGS="")
    return values


# --- a closed output pipe (`mailprobe ... | head -1`) -----------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["ndr", "--list"],  # the typer-free route, plain writer
        ["--json", "ndr", "--list"],  # JSON writer
        ["findings"],  # typer route, rich console
        ["--help"],  # typer's own help output
        ["mx", "a.invalid", "b.invalid", "c.invalid", "--server", "127.0.0.1:1"],  # printed
        # from inside the asyncio run, as each domain of a batch finishes
        ["ehlo", "127.0.0.1", "-p", "1"],  # the typer-free route of ehlo, exit 3 otherwise
    ],
)
def test_closed_output_pipe_is_a_quiet_exit_141(argv: list[str], env: dict[str, str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written: every write is EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mailprobe", *argv, *_timeout(argv)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
            env=env,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == OUTPUT_CLOSED, done.stderr
    assert done.stderr == b""  # no traceback, no "Exception ignored ..." at interpreter exit


def test_head_reads_the_first_line_and_the_rest_is_quiet(env: dict[str, str]) -> None:
    done = subprocess.run(
        f"{sys.executable} -m mailprobe ndr --list | head -1; echo status=${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Code")
    # 0 when the whole list fit in the pipe before head exited, else the quiet 141
    assert lines[1] in ("status=0", f"status={OUTPUT_CLOSED}")
    assert done.stderr == ""


def test_an_epipe_that_is_not_the_output_is_still_an_internal_error(env: dict[str, str]) -> None:
    # A peer's EPIPE that escaped the network checks must not pass for a closed output pipe.
    script = (
        "import sys\n"
        "import mailprobe.cli.ndr_run as ndr_run\n"
        "def broken(_args):\n"
        "    raise BrokenPipeError(32, 'Broken pipe')\n"
        "ndr_run.fast_path = broken\n"
        "from mailprobe.cli.entry import main\n"
        "sys.argv = ['mailprobe', 'ndr', '5.1.1']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.startswith("mailprobe: error: internal error: BrokenPipeError")


def _timeout(argv: list[str]) -> list[str]:
    return ["--timeout", "0.5"] if argv[0] in ("mx", "ehlo") else []


# --- Ctrl-C: 130, one line, no traceback ------------------------------------------------------


@pytest.fixture
def silent_tcp() -> Iterator[socket.socket]:
    """A TCP listener on 127.0.0.1 that accepts and then says nothing (a stuck server)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)
        yield server


@pytest.fixture
def silent_udp() -> Iterator[socket.socket]:
    """A UDP "DNS server" on 127.0.0.1 that reads queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(30)
        yield server


def _interrupt_when(process: subprocess.Popen[bytes], wait: object) -> tuple[int, bytes]:
    """Wait until the process is inside its network step (``wait`` returns), then Ctrl-C it."""
    try:
        wait()  # type: ignore[operator]
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, err


@pytest.mark.parametrize(
    "argv",
    [
        ["ehlo", "127.0.0.1"],  # the typer-free route
        ["ehlo", "127.0.0.1", "--user", "u", "--password-env", "HOME"],  # typer route, run_async
        ["relay-test", "127.0.0.1", "--server", "127.0.0.1:1"],
    ],
)
def test_ctrl_c_during_an_smtp_session(
    argv: list[str], env: dict[str, str], silent_tcp: socket.socket
) -> None:
    port = str(silent_tcp.getsockname()[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "mailprobe", *argv, "-p", port, "--timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    accepted: list[socket.socket] = []
    code, err = _interrupt_when(process, lambda: accepted.append(silent_tcp.accept()[0]))
    for connection in accepted:
        connection.close()
    assert code == INTERRUPTED
    assert err == b"mailprobe: error: interrupted\n"


@pytest.mark.parametrize(
    "argv",
    [["mx", "x.invalid"], ["mx", "x.invalid", "y.invalid"], ["check", "x.invalid"]],
)
def test_ctrl_c_during_dns_lookups(
    argv: list[str], env: dict[str, str], silent_udp: socket.socket
) -> None:
    server = f"127.0.0.1:{silent_udp.getsockname()[1]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "mailprobe", *argv, "--server", server, "--timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    code, err = _interrupt_when(process, lambda: silent_udp.recvfrom(4096))
    assert code == INTERRUPTED
    assert err == b"mailprobe: error: interrupted\n"


def test_keyboard_interrupt_in_process_is_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailprobe.cli.ndr_run as ndr_run

    def interrupted(_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ndr_run, "fast_path", interrupted)
    assert main(["ndr", "5.1.1"]) == INTERRUPTED
    assert capsys.readouterr().err == "mailprobe: error: interrupted\n"
