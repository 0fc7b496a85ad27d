"""The root typer app, its global options, and ``main``: the one owner of errors and exit codes.

Only ``mailprobe.cli`` imports typer. Subcommand modules import nothing heavy at module level:
dnspython, aiosmtplib and httpx are imported inside the commands that need them, so
``mailprobe ndr`` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from mailprobe import __version__
from mailprobe.cli import check as check_cmd
from mailprobe.cli import ehlo as ehlo_cmd
from mailprobe.cli import mx as mx_cmd
from mailprobe.cli import ndr as ndr_cmd
from mailprobe.cli import relay as relay_cmd
from mailprobe.cli.common import (
    ConfigOpt,
    JsonOpt,
    NoColorOpt,
    TimeoutOpt,
    VerboseOpt,
    apply_globals,
    error_line,
    reset_globals,
)
from mailprobe.errors import MailprobeError
from mailprobe.model import ExitCode

app = typer.Typer(
    name="mailprobe",
    help=(
        "Diagnose mail flow: MX records, SMTP sessions, open relays, delivery status codes.\n\n"
        "Exit codes: 0 healthy, 1 a problem was found, 2 usage or bad input, "
        "3 could not complete (unreachable, timeout)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mailprobe {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = None,
    config: ConfigOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Global options; they may also be given after the subcommand name."""
    apply_globals(json_output, timeout, config, no_color, verbose)


app.command("ndr")(ndr_cmd.ndr)
app.command("mx")(mx_cmd.mx)
app.command("ehlo")(ehlo_cmd.ehlo)
app.command("relay-test")(relay_cmd.relay_test)
app.command("check")(check_cmd.check)


def _usage_line(exc: typer.TyperException) -> str:
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    ctx = getattr(exc, "ctx", None)
    where = getattr(ctx, "command_path", None) or "mailprobe"
    return f"{message} (see '{where} --help')"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return (and, as a console script, exit with) the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    reset_globals()
    try:
        # Simple `mailprobe ndr CODE` runs skip typer's per-parameter set-up (start-up time).
        result = ndr_cmd.fast_path(args)
        if result is None:
            command = typer.main.get_command(app)
            result = command.main(args=args, prog_name="mailprobe", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors of the command line
        error_line(_usage_line(exc))
        return _exit(ExitCode.USAGE, argv)
    except typer.Abort:
        error_line("aborted")
        return _exit(ExitCode.INCOMPLETE, argv)
    except MailprobeError as exc:
        if _verbosity(args) >= 1:
            import traceback

            traceback.print_exc()
        error_line(str(exc))
        return _exit(exc.exit_code, argv)
    except KeyboardInterrupt:
        error_line("interrupted")
        return _exit(130, argv)
    except Exception as exc:  # a bug: still one line, the traceback only with -v
        if _verbosity(args) >= 1:
            import traceback

            traceback.print_exc()
        error_line(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)")
        return _exit(ExitCode.INCOMPLETE, argv)
    code = result if isinstance(result, int) else 0
    return _exit(code, argv)


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
