"""`mailprobe queue`: what waits in a mail queue, grouped by domain and reason, and why."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from mailprobe.cli.common import emit, global_options, settings
from mailprobe.cli.options import QUEUE
from mailprobe.cli.options_typer import typer_command
from mailprobe.errors import ProbeError
from mailprobe.model import Failure

#: The largest queue listing read (postqueue -j writes about 300 bytes per message).
MAX_LISTING = 256 * 1024 * 1024
#: Where postqueue is looked for when it is not on PATH.
_POSTQUEUE_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def _queue(
    file: str | None,
    postfix_config: Path | None,
    explain: str | None,
    old_after: float,
    list_messages: bool,
) -> int:
    """Explain a mail queue: Postfix postqueue -j JSON, Exim exim -bp or mailq output, read
    from FILE, stdin ('-') or, without FILE, by running postqueue -j.

    Messages are grouped by destination domain and deferral reason; each reason is explained
    through the NDR table and given the mailprobe command that checks it next. --explain NAME
    explains an Exchange 2000/2003 SMTP queue instead.

    Exit code: 0 empty queue, 1 messages deferred or held, 2 unusable input, 3 postqueue could
    not be run.
    """
    cfg = settings()
    from mailprobe.checks.queue import explain_exchange_queue, parse_queue, queue_report

    if explain is not None:
        result = explain_exchange_queue(explain)

        def render_explain(con: Any) -> None:
            from mailprobe.render.queue import render_exchange_queue

            render_exchange_queue(con, result)

        return emit("queue", {"explain": explain}, result, 0, render_explain)
    if file is None:
        text, source = _run_postqueue(postfix_config, cfg.timeout)
    else:
        text, source = _read(file)
    fmt, messages = parse_queue(text, source)
    report = queue_report(messages, source, fmt, old_after_hours=old_after)
    inputs: dict[str, Any] = {"source": source, "old_after_hours": old_after}
    verbose = global_options().verbose

    def render(con: Any) -> None:
        from mailprobe.render.queue import render_queue

        render_queue(con, report, list_messages or verbose > 0)

    return emit("queue", inputs, report, report.exit_code, render)


queue = typer_command(_queue, QUEUE)


def _read(file: str) -> tuple[str, str]:
    from mailprobe.files import FileError, read_bytes, read_stream, read_stream_text

    if file == "-":
        source = "standard input"
        binary = getattr(sys.stdin, "buffer", None)
        if binary is None:  # a text stream without bytes under it (tests)
            return _decode(
                read_stream_text(sys.stdin, source, MAX_LISTING).encode(), source, FileError
            ), source
        data = read_stream(binary, source, MAX_LISTING)
    else:
        source = file
        data = read_bytes(file, "", MAX_LISTING)
    return _decode(data, source, FileError), source


def _decode(data: bytes, source: str, error: type[Exception]) -> str:
    if b"\x00" in data:
        raise error(source, "binary data, not a mail queue listing")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # mailq prints addresses and reasons as they came


def _postqueue() -> str | None:
    found = shutil.which("postqueue")
    if found:
        return found
    for directory in _POSTQUEUE_DIRS:
        candidate = Path(directory) / "postqueue"
        if candidate.is_file():
            return str(candidate)
    return None


def _run_postqueue(config: Path | None, timeout: float) -> tuple[str, str]:
    """postqueue -j's output; a ProbeError (exit 3) when it cannot be run."""
    from mailprobe.files import FileError

    program = _postqueue()
    if program is None:
        raise ProbeError(
            Failure(
                "postqueue",
                "postqueue not found (is Postfix installed?); give a listing as FILE or '-'",
            )
        )
    command = [program, *(["-c", str(config)] if config is not None else []), "-j"]
    source = " ".join(["postqueue", *command[1:]])
    limit = max(timeout, 10.0)
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=limit, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise ProbeError(
            Failure("postqueue", f"{source} gave no answer in {limit:g} s", timeout=limit)
        ) from None
    except OSError as exc:
        raise ProbeError(Failure("postqueue", f"{source}: {exc.strerror or exc}")) from None
    if done.returncode != 0:
        words = done.stderr.decode("utf-8", "replace").strip().splitlines()
        said = next((w for w in reversed(words) if "fatal" in w), words[-1] if words else "")
        from mailprobe.text import clean_line

        raise ProbeError(
            Failure(
                "postqueue",
                f"{source} exited with {done.returncode}"
                + (f": {clean_line(said, 200)}" if said else ""),
            )
        )
    if len(done.stdout) > MAX_LISTING:
        raise ProbeError(Failure("postqueue", f"{source}: output larger than the limit"))
    return _decode(done.stdout, source, FileError), source
