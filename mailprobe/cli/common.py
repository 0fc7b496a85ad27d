"""What every subcommand shares: the typer option aliases of the global options (built from their
one declaration in ``mailprobe.cli.options``), and (re-exported from ``mailprobe.cli.runtime``)
global state, settings and output helpers.

Global options (``--json``, ``--timeout``, ``--config``, ``--no-color``, ``-v``,
``--format``) are accepted
both before and after the subcommand name: the root callback declares them, and every
subcommand declares the same options (``options.GLOBALS``, through ``typer_command``) and
passes them to ``apply_globals``. Both land in one ``GlobalOptions`` for the run; a value given
after the subcommand wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from mailprobe.cli import options
from mailprobe.cli.options_typer import parameter_info
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
    "ConfigOpt",
    "FormatOpt",
    "GlobalOptions",
    "JsonOpt",
    "NoColorOpt",
    "TimeoutOpt",
    "VerboseOpt",
    "apply_globals",
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


# The typer aliases of the global options declared in cli/options.py, for the root callback
# (every subcommand is built from its table by ``options_typer.typer_command``).

JsonOpt = Annotated[bool, parameter_info(options.JSON, annotated=True)]
TimeoutOpt = Annotated[float | None, parameter_info(options.TIMEOUT, annotated=True)]
ConfigOpt = Annotated[Path | None, parameter_info(options.CONFIG, annotated=True)]
NoColorOpt = Annotated[bool, parameter_info(options.NO_COLOR, annotated=True)]
VerboseOpt = Annotated[int, parameter_info(options.VERBOSE, annotated=True)]
FormatOpt = Annotated[str | None, parameter_info(options.FORMAT, annotated=True)]
