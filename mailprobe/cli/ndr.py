"""`mailprobe ndr`: placeholder until its module lands."""

from __future__ import annotations

import typer

from mailprobe.cli.common import (
    ConfigOpt,
    JsonOpt,
    NoColorOpt,
    TimeoutOpt,
    VerboseOpt,
    apply_globals,
    emit,
)


def ndr(
    code: str = typer.Argument(..., help="Code to explain."),
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = None,
    config: ConfigOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
) -> int:
    """Explain a delivery status code."""
    apply_globals(json_output, timeout, config, no_color, verbose)
    return emit("ndr", {"code": code}, {"code": code}, 0, lambda c: c.print(code))
