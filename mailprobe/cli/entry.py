"""The console-script entry point: the one owner of errors and exit codes.

``main`` runs the quick path of ``mailprobe ndr`` (``cli/ndr_run.py``) without importing typer,
and everything else through the typer app in ``cli/app.py``. Whatever goes wrong ends here as
one line on stderr and an exit code; a traceback is printed only with ``-v``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mailprobe.cli.runtime import error_line, reset_globals
from mailprobe.errors import InputError, MailprobeError
from mailprobe.model import ExitCode


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return (and, as a console script, exit with) the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    reset_globals()
    try:
        result = _run(args)
    except MailprobeError as exc:
        if _verbosity(args) >= 1:
            import traceback

            traceback.print_exc()
        error_line(_worded(exc))
        return _exit(exc.exit_code, argv)
    except KeyboardInterrupt:
        error_line("interrupted")
        return _exit(130, argv)
    except Exception as exc:
        typer = sys.modules.get("typer")
        if typer is not None and isinstance(exc, typer.TyperException):
            # Usage errors of the command line; a bare `mailprobe` has already shown the help.
            if str(exc).strip():
                error_line(_usage_line(exc))
            return _exit(ExitCode.USAGE, argv)
        if typer is not None and isinstance(exc, typer.Abort):
            error_line("aborted")
            return _exit(ExitCode.INCOMPLETE, argv)
        # A bug: still one line, the traceback only with -v.
        if _verbosity(args) >= 1:
            import traceback

            traceback.print_exc()
        error_line(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)")
        return _exit(ExitCode.INCOMPLETE, argv)
    code = result if isinstance(result, int) else 0
    return _exit(code, argv)


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
    return command.main(args=args, prog_name="mailprobe", standalone_mode=False)


def _worded(exc: MailprobeError) -> str:
    """The error line; a library input error gets the name of the option it came from."""
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


def _exit(code: int, argv: Sequence[str] | None) -> int:
    # As a console script (argv None) exit the process; called from tests, return the code.
    if argv is None:
        sys.stdout.flush()
        raise SystemExit(int(code))
    return int(code)
