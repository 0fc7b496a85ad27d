"""The typer-free half of the CLI plumbing: global options, settings, output, errors.

``mailprobe.cli.common`` re-exports all of this together with the typer option aliases; this
module exists so that the quick path of ``mailprobe ndr`` runs without importing typer at all.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.config import Settings, load_settings
from mailprobe.errors import UsageError
from mailprobe.model import ExitCode, Failure, envelope

if TYPE_CHECKING:
    from rich.console import Console


@dataclasses.dataclass
class GlobalOptions:
    """Options that apply to every command, and the settings they resolve to."""

    json: bool = False
    timeout: float | None = None
    config: Path | None = None
    no_color: bool = False
    verbose: int = 0
    resolved: Settings | None = None


_state = GlobalOptions()


def reset_globals() -> GlobalOptions:
    """Start a run with default global options (``main`` calls this once per run)."""
    global _state
    _state = GlobalOptions()
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
) -> GlobalOptions:
    """Merge global options given at this level into the run's ``GlobalOptions``."""
    opts = _state
    opts.json = opts.json or json_output
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

    return make_console(no_color=global_options().no_color, stderr=stderr)


def print_json(document: Mapping[str, Any], *, lines: bool = False) -> None:
    """Write a JSON document to stdout; ``lines`` gives one compact line (JSON Lines)."""
    if lines:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(document, ensure_ascii=False, indent=2)
    sys.stdout.write(text + "\n")
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
    """Show a result: JSON envelope with ``--json``, else call ``render`` on a console.

    Failures are also written to stderr as one line each in human mode. Returns the exit code.
    """
    settings()  # a bad config file or MAILPROBE_* variable is an error for every command
    failures = list(failures)
    if global_options().json:
        print_json(envelope(command, inputs, results, exit_code, failures), lines=json_lines)
    else:
        render(console())
        for failure in failures:
            error_line(failure.one_line())
    return int(exit_code)


def error_line(message: str) -> None:
    """One error line on stderr, prefixed with the program name."""
    text = " ".join(message.split())
    sys.stderr.write(f"mailprobe: error: {text}\n")
    sys.stderr.flush()


def warn_line(message: str) -> None:
    """One warning line on stderr."""
    sys.stderr.write(f"mailprobe: warning: {' '.join(message.split())}\n")
    sys.stderr.flush()


def require(condition: bool, message: str) -> None:
    """Raise a usage error (exit 2) unless ``condition`` holds."""
    if not condition:
        raise UsageError(message)


def run_async(coro: Any) -> Any:
    """Run a check coroutine to completion on a fresh event loop."""
    import asyncio

    return asyncio.run(coro)
