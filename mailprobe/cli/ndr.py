"""`mailprobe ndr`: explain delivery status codes, reply lines and whole bounce messages.

Exit codes: 0 the input was explained (whatever the code says), 1 a bounce without any code
or a ``--search`` without matches, 2 bad input. Nothing here touches the network, and nothing
heavy is imported: the code table is read lazily from package data.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mailprobe.cli.common import (
    ConfigOpt,
    JsonOpt,
    NoColorOpt,
    TimeoutOpt,
    VerboseOpt,
    apply_globals,
    emit,
    require,
)
from mailprobe.model import ExitCode

_EPILOG = (
    "Examples: mailprobe ndr 5.4.8 | mailprobe ndr 550 | "
    "mailprobe ndr '550 5.1.1 <bob@example.com>: Recipient address rejected' | "
    "mailprobe ndr --file bounce.eml | mailprobe ndr - < bounce.eml | "
    "mailprobe ndr --list --class 5 --subject 7 | mailprobe ndr --search relay"
)


def ndr(
    codes: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[CODE|LINE|-]...",
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
    """Explain delivery status codes, SMTP replies and bounce messages (NDRs)."""
    apply_globals(json_output, timeout, config, no_color, verbose)
    from mailprobe.ndr.model import NdrReport

    arguments = list(codes or [])
    stdin_requested = arguments == ["-"] or str(file) == "-"
    modes = [bool(arguments), file is not None, list_codes, search is not None]
    require(
        any(modes),
        "nothing to explain: give a code (5.1.1), a reply code (550), a reply line, "
        "--file PATH, - for standard input, --list or --search TEXT",
    )
    require(sum(modes) == 1, "give only one of: codes or a reply line, --file/-, --list, --search")
    require(
        (klass is None and subject is None) or list_codes or search is not None,
        "--class and --subject only apply to --list and --search",
    )
    require("-" not in arguments or arguments == ["-"], "'-' (standard input) must be used alone")
    inputs: dict[str, Any] = {}

    if list_codes or search is not None:
        from mailprobe.ndr.explain import list_entries, search_entries

        if search is not None:
            require(bool(search.strip()), "--search needs some text")
            rows = search_entries(search.strip(), klass, subject)
            inputs["search"] = search
        else:
            rows = list_entries(klass, subject)
            inputs["list"] = True
        if klass is not None:
            inputs["class"] = klass
        if subject is not None:
            inputs["subject"] = subject
        mode = "search" if search is not None else "list"
        report = NdrReport(mode=mode, entries=rows)
        code = ExitCode.PROBLEM if (search is not None and not rows) else ExitCode.HEALTHY
        return _emit(inputs, report, code)

    if file is not None or stdin_requested:
        from mailprobe.ndr.bounce import parse_bounce, read_file, read_stream

        if stdin_requested:
            source = "standard input"
            data = read_stream(sys.stdin.buffer)
        else:
            assert file is not None
            source = str(file)
            data = read_file(file)
        inputs["file"] = source
        bounce = parse_bounce(data, source)
        report = NdrReport(mode="bounce", bounce=bounce)
        code = ExitCode.HEALTHY if bounce.recipients else ExitCode.PROBLEM
        return _emit(inputs, report, code)

    from mailprobe.ndr.query import explain_arguments

    inputs["codes"] = arguments
    report = NdrReport(mode="codes", queries=explain_arguments(arguments))
    return _emit(inputs, report, ExitCode.HEALTHY)


def _emit(inputs: dict[str, Any], report: Any, code: ExitCode) -> int:
    def render(console: Any) -> None:
        from mailprobe.render.ndr import render_ndr

        render_ndr(console, report)

    return emit("ndr", inputs, report, code, render)
