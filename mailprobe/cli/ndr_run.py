"""The work behind `mailprobe ndr`, without typer: argument checks, lookup, output.

``mailprobe.cli.entry`` runs the simple forms (``mailprobe [--json] [--no-color] ndr ARG...``)
through ``fast_path`` before typer is even imported, because typer's start-up costs more than
everything ndr does; every other form goes through the typer command in ``cli/ndr.py``, which
calls ``run_ndr`` too, so both routes produce the same output.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.cli.runtime import apply_globals, emit, global_options, require, settings
from mailprobe.model import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.ndr.model import NdrReport


def fast_path(args: Sequence[str]) -> int | None:
    """Run the simple forms of ``mailprobe ndr`` without typer's parameter machinery.

    typer 0.29 builds a pydantic ``TypeAdapter`` for every parameter on every run, which costs
    more start-up time (about 35 ms of imports) than everything ndr does. The forms handled
    here are ``[--json] [--no-color] ndr [--json] [--no-color] ARG...`` where no ARG starts
    with ``-`` (except a lone ``-``); for anything else (options, ``--help``) it returns None
    and the caller lets typer parse the command line as usual.
    """
    flags: set[str] = set()
    positional: list[str] = []
    seen_command = False
    for arg in args:
        if arg in ("--json", "--no-color"):
            flags.add(arg)
        elif not seen_command:
            if arg != "ndr":
                return None
            seen_command = True
        elif arg.startswith("-") and arg != "-":
            return None
        else:
            positional.append(arg)
    if not seen_command or not positional:
        return None
    apply_globals(json_output="--json" in flags, no_color="--no-color" in flags)
    return run_ndr(positional)


def run_ndr(
    arguments: list[str],
    file: Path | None = None,
    list_codes: bool = False,
    klass: int | None = None,
    subject: int | None = None,
    search: str | None = None,
) -> int:
    """Check the combination of inputs, do the work, show the result; return the exit code."""
    from mailprobe.ndr.model import NdrReport

    settings()  # ndr needs no setting, but a broken config file is reported like everywhere

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
            stdin: Any = getattr(sys.stdin, "buffer", sys.stdin)
            data = read_stream(stdin)
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


def _emit(inputs: dict[str, Any], report: NdrReport, code: ExitCode) -> int:
    options = global_options()
    if options.text and _plain_output(options.no_color):
        # Same layout as the rich renderer, written directly: no colour is wanted, and
        # skipping rich keeps `mailprobe ndr` quick to start.
        from mailprobe.render.ndr import write_plain

        write_plain(sys.stdout, report, _plain_width())
        return int(code)

    def render(console: Console) -> None:
        from mailprobe.render.ndr import render_ndr

        render_ndr(console, report)

    return emit("ndr", inputs, report, code, render)


def _plain_output(no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return True
    isatty = getattr(sys.stdout, "isatty", None)
    return not (callable(isatty) and isatty())


def _plain_width() -> int:
    # As rich does: COLUMNS when set, else 80 (the plain writer is used when not on a terminal).
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 80
