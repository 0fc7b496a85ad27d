"""The typer-free half of the CLI plumbing: global options, settings, output, errors.

``mailprobe.cli.common`` re-exports all of this together with the typer option aliases; this
module exists so that the quick path of ``mailprobe ndr`` runs without importing typer at all.

It is also the redaction boundary: everything a run writes goes through the run's redactor
(``mailprobe.smtp.redact.run_redactor``, holding the AUTH credentials read by
``smtp_options.read_password``): the consoles (``console``), JSON (``print_json``, the whole
document tree), error and warning lines, ``-v`` tracebacks (``print_traceback``) and the files
(``write_output_file``). Commands that can hold secrets pass their result tree through
``redacted`` before they render or write it, so no secret reaches a renderer that could wrap,
escape or reshape it beyond what the final text pass recognises.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mailprobe.config import Settings, load_settings
from mailprobe.errors import UsageError
from mailprobe.model import ExitCode, Failure, envelope
from mailprobe.text import json_safe, show_controls

if TYPE_CHECKING:
    from typing import IO, TextIO

    from rich.console import Console

    from mailprobe.smtp.redact import Redactor

T = TypeVar("T")


@dataclasses.dataclass
class GlobalOptions:
    """Options that apply to every command, and the settings they resolve to."""

    json: bool = False
    #: ``--format``: text, json (also ``--json``), nagios or prometheus.
    format: str = "text"
    timeout: float | None = None
    config: Path | None = None
    no_color: bool = False
    verbose: int = 0
    resolved: Settings | None = None
    #: What ``emit`` handed to a monitoring format, printed by ``finish_run``.
    monitored: list[Any] = dataclasses.field(default_factory=list)
    #: When the run started (``time.monotonic``), for the monitoring formats' run time.
    started: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def text(self) -> bool:
        """Whether the output is for people (``--format text``, the default)."""
        return self.format == "text"


#: The values of ``--format``.
FORMATS = ("text", "json", "nagios", "prometheus")

_state = GlobalOptions()


def reset_globals() -> GlobalOptions:
    """Start a run with default global options and no secrets yet (``main`` calls this once
    per run)."""
    global _state
    _state = GlobalOptions()
    redact = sys.modules.get(_REDACT)
    if redact is not None:
        redact.reset_run_redactor()
    return _state


def global_options() -> GlobalOptions:
    """The global options of the running command."""
    return _state


def settings() -> Settings:
    """Config file + environment + built-ins, with ``--timeout`` applied; loaded once a run."""
    opts = _state
    if opts.resolved is None:
        loaded = load_settings(opts.config)
        if opts.timeout is not None:
            loaded = dataclasses.replace(loaded, timeout=opts.timeout)
        opts.resolved = loaded
    return opts.resolved


def apply_globals(
    json_output: bool = False,
    timeout: float | None = None,
    config: Path | None = None,
    no_color: bool = False,
    verbose: int = 0,
    output_format: str | None = None,
) -> GlobalOptions:
    """Merge global options given at this level into the run's ``GlobalOptions``.

    ``--json`` is ``--format json``; with another ``--format`` it is a usage error.
    """
    opts = _state
    if output_format is not None:
        wanted = output_format.strip().lower()
        if wanted not in FORMATS:
            raise UsageError(f"--format {output_format!r}: expected one of {', '.join(FORMATS)}")
        if opts.format not in ("text", wanted) or (opts.json and wanted != "json"):
            raise UsageError(f"--format {wanted} conflicts with --json or another --format")
        opts.format = wanted
    if json_output:
        if opts.format not in ("text", "json"):
            raise UsageError(f"--json conflicts with --format {opts.format}")
        opts.format = "json"
    opts.json = opts.format == "json"
    if timeout is not None:
        opts.timeout = timeout
    if config is not None:
        opts.config = config
    opts.no_color = opts.no_color or no_color
    opts.verbose = max(opts.verbose, verbose)
    opts.resolved = None
    return opts


def console(stderr: bool = False) -> Console:
    """A rich console honouring ``--no-color`` (imported lazily: rich is for output only)."""
    from mailprobe.render.console import make_console

    con = make_console(no_color=global_options().no_color, stderr=stderr)
    con.file = cast("TextIO", _RedactingStream(con.file))
    return con


class _RedactingStream:
    """A console's output stream, every write passed through the run's redactor.

    rich writes what one ``print`` rendered in one ``write``; the terminal properties
    (``isatty``, ``fileno``, ``encoding``) are the target's, so rich behaves as it would on it.
    """

    def __init__(self, target: IO[str]) -> None:
        self._target = target
        self.encoding = getattr(target, "encoding", None)

    def write(self, text: str) -> int:
        self._target.write(_scrub(text))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        isatty = getattr(self._target, "isatty", None)
        return bool(isatty()) if callable(isatty) else False

    def fileno(self) -> int:
        return self._target.fileno()


def redacted(value: T) -> T:
    """``value`` (a result tree, a document) with the run's secrets redacted in every string,
    by position in AUTH exchanges (``mailprobe.smtp.redact.redact_tree``); the value itself when
    there is nothing to redact."""
    redactor = _run_redactor()
    if redactor is None:
        return value
    from mailprobe.smtp.redact import redact_tree

    return redact_tree(value, redactor)


def print_json(document: Mapping[str, Any], *, lines: bool = False) -> None:
    """Write a JSON document to stdout; ``lines`` gives one compact line (JSON Lines).

    The document is redacted as a tree (every key and string) before it is serialised: the
    escapes JSON writes could hide a secret from a pass over the finished text, and such a pass
    could break the JSON (a password "null" or "25").
    """
    document = redacted(document)
    if lines:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(document, ensure_ascii=False, indent=2)
    sys.stdout.write(json_safe(text) + "\n")  # no raw bidi/C1 character; same decoded text
    sys.stdout.flush()


def emit(
    command: str,
    inputs: Mapping[str, Any],
    results: Any,
    exit_code: ExitCode | int,
    render: Callable[[Console], None],
    failures: Iterable[Failure] = (),
    *,
    json_lines: bool = False,
) -> int:
    """Show a result: JSON envelope with ``--json``, a monitoring format (``--format nagios``
    or ``prometheus``: collected here, printed once by ``finish_run``), else call ``render``
    on a console.

    Failures are also written to stderr as one line each in human mode. Returns the exit code.
    Everything passes the run's redactor (see the module doc); a command that can hold secrets
    gives ``redacted(results)`` here and to the objects ``render`` draws from.
    """
    settings()  # a bad config file or MAILPROBE_* variable is an error for every command
    failures = list(failures)
    opts = global_options()
    if opts.json:
        print_json(envelope(command, inputs, results, exit_code, failures), lines=json_lines)
    elif not opts.text:
        from mailprobe.render.monitoring import summarize

        opts.monitored.append(summarize(command, inputs, results, int(exit_code), failures))
    else:
        render(console())
        for failure in failures:
            error_line(failure.one_line())
    return int(exit_code)


def finish_run(exit_code: int, command: str = "") -> int:
    """The end of a run: with a monitoring format, print what ``emit`` collected (one Nagios
    line or one Prometheus exposition for the whole run) and return that format's exit code
    (Nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; Prometheus: the run's own). Other
    formats printed as they went: ``exit_code`` is returned as it is."""
    opts = global_options()
    if opts.text or opts.json:
        return exit_code
    from mailprobe.render import monitoring

    seconds = time.monotonic() - opts.started
    items = list(opts.monitored)
    opts.monitored.clear()
    if opts.format == "nagios":
        if not items and exit_code not in (0, 1):
            line, code = monitoring.nagios_error(f"{command or 'mailprobe'}: run incomplete")
        else:
            line, code = monitoring.nagios(items, seconds, command)
        _write_out(line + "\n")
        return code
    _write_out(monitoring.prometheus(items, seconds, command))
    return exit_code


def monitoring_error(message: str, exit_code: int) -> int:
    """A run that ended with an error (bad input, a usage error): with ``--format nagios`` one
    UNKNOWN line on stdout and exit 3; otherwise ``exit_code`` unchanged (the error line on
    stderr is the caller's)."""
    if global_options().format != "nagios":
        return exit_code
    from mailprobe.render.monitoring import nagios_error

    line, code = nagios_error(message)
    _write_out(line + "\n")
    return code


def _write_out(text: str) -> None:
    sys.stdout.write(_scrub(text))
    sys.stdout.flush()


def error_line(message: str) -> None:
    """One error line on stderr, prefixed with the program name."""
    text = show_controls(" ".join(_scrub(message).split()))
    sys.stderr.write(_scrub(f"mailprobe: error: {text}") + "\n")
    sys.stderr.flush()


def warn_line(message: str) -> None:
    """One warning line on stderr."""
    text = show_controls(" ".join(_scrub(message).split()))
    sys.stderr.write(_scrub(f"mailprobe: warning: {text}") + "\n")
    sys.stderr.flush()


#: The module that holds the run's secrets. It is imported by whatever registers one
#: (``read_password``, an SMTP session), so a run that never imported it has none, and commands
#: without SMTP (``ndr``'s quick path) do not pay for importing it.
_REDACT = "mailprobe.smtp.redact"


def _run_redactor() -> Redactor | None:
    redact = sys.modules.get(_REDACT)
    return None if redact is None else cast("Redactor", redact.run_redactor())


def _scrub(text: str) -> str:
    """``text`` through the run's redactor."""
    redactor = _run_redactor()
    return text if redactor is None else redactor(text)


def print_traceback() -> None:
    """The traceback of the exception being handled on stderr (``-v``), redacted."""
    import traceback

    sys.stderr.write(_scrub(traceback.format_exc()))
    sys.stderr.flush()


def write_output_file(path: Path, text: str) -> None:
    """Write ``text`` (redacted once more) to a file created for its owner only (0600).

    An existing regular file of ours is truncated and set to 0600 too (a report may hold
    what a password-protected session showed); a device or pipe (``/dev/stdout``) is only
    written to. ``OSError`` is the caller's to word.
    """
    import stat

    data = _scrub(text).encode("utf-8")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
            os.fchmod(fd, 0o600)
        handle.write(data)


def require(condition: bool, message: str) -> None:
    """Raise a usage error (exit 2) unless ``condition`` holds."""
    if not condition:
        raise UsageError(message)


def run_async(coro: Any) -> Any:
    """Run a check coroutine to completion on a fresh event loop; Ctrl-C always stops it with
    ``KeyboardInterrupt`` (exit 130, see ``cli/aio.py``)."""
    from mailprobe.cli.aio import run

    return run(coro)
