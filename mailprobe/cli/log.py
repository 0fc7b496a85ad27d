"""`mailprobe log FILE|-`: read a mail-server log and explain every failure in it."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from mailprobe.cli.common import console, emit, global_options
from mailprobe.cli.options import LOG
from mailprobe.cli.options_typer import typer_command
from mailprobe.errors import UsageError

#: Events ``--json --details`` keeps (the rest are counted in ``details_omitted``).
DETAILS_JSON_LIMIT = 10_000
#: Events ``--details`` shows only with -v.
_QUIET = ("sent", "received")


def _log(
    file: Path | None,
    details: bool,
    follow: bool,
    follow_seconds: float | None,
    top: int,
) -> int:
    """Summarise a mail-server log and explain its failures with the NDR table.

    Reads Postfix and Exim main logs, Exchange 2007+ SMTP protocol logs (CSV) and IIS /
    Exchange 2000-2003 SMTP logs (W3C), detected from the content, as a stream (any size,
    bounded memory). The summary counts events by status, enhanced status code (with its
    meaning), recipient domain, remote host and rejected client, and lists the top reasons.

    Exit code: 0 no failure in the log, 1 bounces, deferrals, expiries or rejections found,
    2 unusable input (missing, a directory, a binary file).
    """
    from mailprobe.maillog.parse import Event, Parser
    from mailprobe.maillog.reader import LineReader
    from mailprobe.maillog.report import Summary

    if file is None:
        raise UsageError("give a log file, or - for standard input (see 'mailprobe log --help')")
    name = str(file)
    stdin = sys.stdin.buffer if name == "-" and hasattr(sys.stdin, "buffer") else None
    if name == "-" and stdin is None:
        raise UsageError("standard input: cannot read it as bytes")
    reader = LineReader(name, stdin)
    opts = global_options()
    live = opts.text and (details or follow)
    everything = opts.verbose > 0
    summary = Summary(DETAILS_JSON_LIMIT if details and not opts.text else 0)
    parser = Parser()
    started = time.monotonic()
    # --follow-seconds bounds --follow (scripts, tests); alone it has no effect, like tail -s.
    deadline = None if follow_seconds is None else started + follow_seconds

    def stop() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    show = None
    if live:
        from mailprobe.render.log import render_event

        con = console()

        def show_event(event: Event, line: int) -> None:
            render_event(con, summary.detail(event, line))

        show = show_event
    keep = details and not opts.text
    number = 0
    unknown = 0
    add = summary.add
    try:
        for batch in reader.batches(follow=follow, stop=stop):
            parse = parser.parse  # the format's own parser once it is known
            for line in batch:
                number += 1
                result = parse(line)
                if result is None:
                    continue
                if not isinstance(result, Event):
                    unknown += 1
                    continue
                add(result)
                if (show or keep) and (everything or result.status not in _QUIET):
                    if show is not None:
                        show(result, number)
                    else:
                        summary.detail(result, number)
    except KeyboardInterrupt:
        if not follow:
            raise
    summary.lines = reader.lines
    summary.unknown = unknown
    summary.long = reader.long_lines
    label = "standard input" if name == "-" else name
    report = summary.report(
        label, parser.format, top, followed=follow, seconds=time.monotonic() - started
    )
    inputs = {"file": label, "details": details, "follow": follow, "top": top}

    def render(con: Any) -> None:
        from mailprobe.render.log import render_log

        render_log(con, report, opts.verbose)

    return emit("log", inputs, report, report.exit_code, render)


log = typer_command(_log, LOG, network=False)
