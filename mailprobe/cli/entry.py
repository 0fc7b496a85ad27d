"""The console-script entry point: the one owner of errors and exit codes.

``main`` runs the quick path of ``mailprobe ndr`` (``cli/ndr_run.py``) without importing typer,
and everything else through the typer app in ``cli/app.py``. Whatever goes wrong ends here as
one line on stderr and an exit code; a traceback is printed only with ``-v``. Two exits are
not errors of the run: Ctrl-C exits 130 ("interrupted"), and output to a pipe that was closed
(``mailprobe mx ... | head -1``) exits 141 (128 + SIGPIPE, what a shell reports for a command
killed by a closed pipe) without a word: the reader has what it wanted.

This module imports nothing of mailprobe at module level, so that a Ctrl-C while the rest is
being imported is already an "interrupted" exit rather than a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mailprobe.errors import MailprobeError

#: Ctrl-C (128 + SIGINT).
INTERRUPTED = 130
#: Output to a closed pipe (128 + SIGPIPE).
OUTPUT_CLOSED = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return (and, as a console script, exit with) the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    streams = sys.stdout, sys.stderr
    try:
        code = _outcome(args)
    except KeyboardInterrupt:
        _say("interrupted")
        code = INTERRUPTED
    except BaseException as exc:
        if not _closed_output(exc):
            raise
        code = _output_closed(streams)
    return _exit(code, argv)


def _outcome(args: list[str]) -> int:
    """Run the command line; the exit code of the run or of its error (one line on stderr)."""
    from mailprobe.cli.runtime import (
        error_line,
        finish_run,
        global_options,
        monitoring_error,
        print_traceback,
        reset_globals,
    )
    from mailprobe.errors import MailprobeError
    from mailprobe.model import ExitCode

    reset_globals()
    try:
        result = _run(args)
    except MailprobeError as exc:
        if _verbosity(args) >= 1:
            print_traceback()  # redacted, like every output
        error_line(_worded(exc))
        return _monitoring_error(args, _worded(exc), int(exc.exit_code), monitoring_error)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if _closed_output(exc):
            raise
        typer = sys.modules.get("typer")
        if typer is not None and isinstance(exc, typer.TyperException):
            # Usage errors of the command line. A bare `mailprobe` (or a command without its
            # arguments): the help itself, as click shows it, not an error line.
            if type(exc).__name__ == "NoArgsIsHelpError":
                sys.stderr.write(f"{exc.format_message()}\n")
            elif str(exc).strip():
                error_line(_usage_line(exc))
                return _monitoring_error(
                    args, _usage_line(exc), int(ExitCode.USAGE), monitoring_error
                )
            return int(ExitCode.USAGE)
        if typer is not None and isinstance(exc, typer.Abort):
            error_line("aborted")
            return int(ExitCode.INCOMPLETE)
        # A bug: still one line, the traceback only with -v.
        if _verbosity(args) >= 1:
            print_traceback()  # redacted, like every output
        error_line(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)")
        return int(ExitCode.INCOMPLETE)
    code = result if isinstance(result, int) else 0
    if _asks_help(args) or global_options().text:
        return code
    return finish_run(code, _command_name(args))


def _monitoring_error(
    args: Sequence[str], message: str, code: int, monitoring_error: Callable[[str, int], int]
) -> int:
    """An error of the run in the form ``--format nagios`` wants (an UNKNOWN line, exit 3),
    also when the command line failed before the global options were applied."""
    from mailprobe.cli.runtime import global_options

    opts = global_options()
    if opts.text and _format_requested(args) == "nagios":
        opts.format = "nagios"
    return monitoring_error(message, code)


def _format_requested(args: Sequence[str]) -> str:
    """The value of the last ``--format`` on the command line ('' when none)."""
    found = ""
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--format" and index + 1 < len(args):
            found = args[index + 1].strip().lower()
        elif arg.startswith("--format="):
            found = arg.partition("=")[2].strip().lower()
    return found


def _asks_help(args: Sequence[str]) -> bool:
    """``--help``/``-h``/``--version``: typer's own output, no monitoring summary after it."""
    for arg in args:
        if arg == "--":
            return False
        if arg in ("--help", "-h", "--version"):
            return True
    return False


def _command_name(args: Sequence[str]) -> str:
    """The subcommand of the command line ('' when none is seen)."""
    from mailprobe.cli.options import COMMANDS

    return next((arg for arg in args if arg in COMMANDS), "")


def _run(args: list[str]) -> object:
    from mailprobe.cli.ndr_run import fast_path

    # Simple `mailprobe ndr CODE` runs skip typer entirely (start-up time).
    result = fast_path(args)
    if result is not None:
        return result
    if "ehlo" in args:  # the common `mailprobe ehlo HOST ...` forms also skip typer
        from mailprobe.cli.ehlo_run import fast_path as ehlo_fast_path

        result = ehlo_fast_path(args)
        if result is not None:
            return result
    import typer

    from mailprobe.cli.app import app

    command = typer.main.get_command(app)
    result = command.main(args=args, prog_name="mailprobe", standalone_mode=False)
    if result == INTERRUPTED:  # typer's answer to Ctrl-C (no command returns 130 itself)
        raise KeyboardInterrupt
    return result


def _worded(exc: MailprobeError) -> str:
    """The error line; a library input error gets the name of the option it came from."""
    from mailprobe.errors import InputError

    if isinstance(exc, InputError):
        from mailprobe.cli.names import FIELD_OPTIONS

        return exc.worded(FIELD_OPTIONS)
    return str(exc)


def _usage_line(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    ctx = getattr(exc, "ctx", None)
    where = getattr(ctx, "command_path", None) or "mailprobe"
    option = getattr(exc, "option_name", None)
    if isinstance(option, str) and option.startswith("-") and not option.startswith("--"):
        # `mailprobe mx -bad-.com`: a name that starts with '-' reads as options.
        return f"{message}; to pass an argument that starts with '-', put '--' before it"
    return f"{message} (see '{where} --help')"


def _verbosity(args: Sequence[str]) -> int:
    """Count -v flags (the click context is gone by the time an error reaches ``main``)."""
    count = 0
    for arg in args:
        if arg == "--":
            break
        if arg == "--verbose":
            count += 1
        elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) == {"v"}:
            count += len(arg) - 1
    return count


def _say(message: str) -> None:
    """An error line for an exit that may come before ``runtime`` is imported."""
    try:
        sys.stderr.write(f"mailprobe: error: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _closed_output(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised while handling, a write to a closed pipe (EPIPE).

    typer answers an ``OSError`` EPIPE from a command with ``sys.exit(1)`` (made inside its
    handler, so the ``SystemExit`` carries the error as its context); anything else reaches
    ``main`` as the ``BrokenPipeError`` itself.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BrokenPipeError):
            return _reader_gone()
        if not isinstance(current, SystemExit):
            return False
        seen.add(id(current))
        current = current.__context__
    return False


def _reader_gone() -> bool:
    """Whether standard output or error is a pipe that nobody reads any more; False when both
    are fine, so that an EPIPE of a network peer that escaped the checks is not mistaken for
    it (it is an internal error). True when it cannot be told (no file descriptor, no poll),
    and when standard output already points at /dev/null (what rich does on a closed pipe:
    typer's help output)."""
    import os
    import select

    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    try:
        fds = [sys.stdout.fileno(), sys.stderr.fileno()]
        if os.path.samestat(os.fstat(fds[0]), os.stat(os.devnull)):
            return True
        for fd in fds:
            poller.register(fd, select.POLLOUT)
    except (AttributeError, OSError, ValueError):
        return True
    return any(mask & (select.POLLERR | select.POLLHUP) for _fd, mask in poller.poll(0))


def _output_closed(streams: tuple[TextIO, TextIO]) -> int:
    """Quietly give up on a closed standard output (no traceback, no message at exit)."""
    import os

    sys.stdout, sys.stderr = streams  # typer wraps them in its own handler; undo that
    try:
        # What the Python docs advise (signal module, "Note on SIGPIPE"): point standard
        # output at /dev/null, so that the flush at interpreter exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # not a real file descriptor (a test's captured output): nothing to flush there
    return OUTPUT_CLOSED


def _exit(code: int, argv: Sequence[str] | None) -> int:
    # As a console script (argv None) exit the process; called from tests, return the code.
    if argv is None:
        try:
            sys.stdout.flush()
        except BrokenPipeError:  # closed after the last write: the same quiet exit
            code = _output_closed((sys.stdout, sys.stderr))
        raise SystemExit(int(code))
    return int(code)
