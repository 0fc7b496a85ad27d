"""`mailprobe ndr`: explain delivery status codes, reply lines and whole bounce messages.

Exit codes: 0 the input was explained (whatever the code says), 1 a bounce without any code
or a ``--search`` without matches, 2 bad input. Nothing here touches the network, and nothing
heavy is imported: the code table is read lazily from package data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailprobe.cli.common import (
    ConfigOpt,
    JsonOpt,
    NoColorOpt,
    TimeoutOpt,
    VerboseOpt,
    apply_globals,
)
from mailprobe.cli.ndr_run import run_ndr


def ndr(
    codes: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="CODE|LINE|-",
            help="Status codes (5.1.1), reply codes (550), a reply line, or - to read a bounce "
            "from standard input.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", metavar="PATH", help="Read a bounce message (.eml or text); - is stdin."
        ),
    ] = None,
    list_codes: Annotated[
        bool, typer.Option("--list", help="List the bundled code table.")
    ] = False,
    klass: Annotated[
        int | None,
        typer.Option(
            "--class",
            metavar="2|3|4|5",
            help="With --list/--search: only this class.",
            min=2,
            max=5,
        ),
    ] = None,
    subject: Annotated[
        int | None,
        typer.Option(
            "--subject",
            metavar="N",
            help="With --list/--search: only this subject.",
            min=0,
            max=999,
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            metavar="TEXT",
            help="Find entries whose code, title, meaning or causes contain TEXT.",
        ),
    ] = None,
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = None,
    config: ConfigOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
) -> int:
    """Explain delivery status codes, SMTP replies and bounce messages (NDRs).

    Examples: ndr 5.4.8 | ndr 550 4.4.7 | ndr "550 5.1.1 User unknown"
    | ndr --file bounce.eml | ndr - < bounce.eml | ndr --search relay
    | ndr --list --class 5 --subject 7

    Exit codes: 0 explained, 1 no code in the bounce (or no --search match),
    2 bad input.
    """
    apply_globals(json_output, timeout, config, no_color, verbose)
    return run_ndr(list(codes or []), file, list_codes, klass, subject, search)
