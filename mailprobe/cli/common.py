"""What every subcommand shares: the typer option aliases of the global options, and (re-exported
from ``mailprobe.cli.runtime``) global state, settings and output helpers.

Global options (``--json``, ``--timeout``, ``--config``, ``--no-color``, ``-v``) are accepted
both before and after the subcommand name: the root callback declares them, and every
subcommand declares the same options through the ``*Opt`` aliases below and passes them to
``apply_globals``. Both land in one ``GlobalOptions`` for the run; a value given after the
subcommand wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailprobe.cli.runtime import (
    GlobalOptions,
    apply_globals,
    console,
    emit,
    error_line,
    global_options,
    print_json,
    require,
    reset_globals,
    run_async,
    settings,
    warn_line,
)

__all__ = [
    "AuthMechOpt",
    "ConfigOpt",
    "DomainFileOpt",
    "GlobalOptions",
    "HeloOpt",
    "JsonOpt",
    "NoColorOpt",
    "PasswordEnvOpt",
    "PasswordFileOpt",
    "PasswordOpt",
    "TimeoutOpt",
    "VerboseOpt",
    "apply_globals",
    "check_timeout",
    "console",
    "emit",
    "error_line",
    "global_options",
    "print_json",
    "require",
    "reset_globals",
    "run_async",
    "settings",
    "warn_line",
]


def check_timeout(value: float | None) -> float | None:
    """Validate a ``--timeout`` value (seconds per network step)."""
    if value is None:
        return None
    if not 0 < value <= 3600:
        raise typer.BadParameter(
            "must be more than 0 and at most 3600 seconds", param_hint="'--timeout'"
        )
    return value


JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (schema in docs/json.md).")
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        callback=check_timeout,
        help="Time limit per network step (default 10).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", metavar="PATH", help="Config file (TOML) instead of the default."),
]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="Plain text without colours.")]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "-v", "--verbose", count=True, help="More detail; with an error, also its traceback."
    ),
]


# -- options several commands share (one declaration, one help text) ---------------------------

DomainFileOpt = Annotated[
    str | None,
    typer.Option(
        "-f",
        "--file",
        metavar="FILE",
        help="Read domains from FILE ('-' for stdin), one per line; '#' starts a comment.",
    ),
]
PasswordEnvOpt = Annotated[
    str | None,
    typer.Option("--password-env", metavar="VAR", help="Read the AUTH password from variable VAR."),
]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option("--password-file", metavar="PATH", help="Read the AUTH password from a file."),
]
PasswordOpt = Annotated[
    str | None,
    typer.Option(
        "--password", metavar="VALUE", help="The password itself (visible to other users!)."
    ),
]
AuthMechOpt = Annotated[
    str | None,
    typer.Option(
        "--auth-mech", metavar="MECH", help="LOGIN, PLAIN or CRAM-MD5 (default: best offered)."
    ),
]
HeloOpt = Annotated[
    str | None,
    typer.Option(
        "--helo", metavar="NAME", help="Name sent with EHLO (default: config, local FQDN)."
    ),
]
