"""Show ``mailprobe ndr`` results on a terminal (or plainly when piped).

Explanations are wrapped with ``textwrap`` to the console width (hanging indents, no trailing
padding), so the output reads the same in a terminal, a pipe and a test; rich adds colour only.
"""

from __future__ import annotations

import textwrap

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mailprobe.ndr.model import BounceReport, CodeExplanation, NdrReport, Query, TableRow

_CLASS_STYLE = {2: "green", 3: "green", 4: "yellow", 5: "red"}
_MAX_WIDTH = 100


def render_ndr(console: Console, report: NdrReport) -> None:
    """Render whichever part of the report its mode filled."""
    if report.mode == "codes":
        for index, query in enumerate(report.queries):
            if index:
                console.print()
            render_query(console, query)
    elif report.mode == "bounce" and report.bounce is not None:
        render_bounce(console, report.bounce)
    else:
        render_rows(console, report.entries)


def render_query(console: Console, query: Query) -> None:
    """One argument: the line it came from (if any) and each code's explanation."""
    if query.kind == "reply-line":
        _para(console, "Reply: ", query.text, label_style="bold")
        console.print()
    for index, explanation in enumerate(query.explanations):
        if index:
            console.print()
        render_explanation(console, explanation)


def _width(console: Console) -> int:
    return max(40, min(console.width, _MAX_WIDTH))


def _para(
    console: Console,
    label: str,
    text: str,
    *,
    indent: int = 0,
    hang: int | None = None,
    label_style: str = "",
    style: str = "",
) -> None:
    """``label`` then ``text`` wrapped to the width, continuation lines under the text."""
    hang = len(label) if hang is None else hang
    lines = textwrap.wrap(
        text or "-",
        width=_width(console) - indent,
        initial_indent=" " * len(label),
        subsequent_indent=" " * hang,
        break_on_hyphens=False,
    ) or [" " * len(label)]
    pad = " " * indent
    first = Text.assemble(pad, (label, label_style), (lines[0][len(label) :], style))
    console.print(first, soft_wrap=True)
    for line in lines[1:]:
        console.print(Text(pad + line, style=style), soft_wrap=True)


def render_explanation(console: Console, item: CodeExplanation) -> None:
    """A full explanation: parts, each labelled meaning, causes, fixes, related, next."""
    style = _CLASS_STYLE.get(item.class_digit, "")
    console.print(
        Text.assemble((item.code, f"bold {style}"), "  ", (item.title, "bold")), soft_wrap=True
    )
    _para(console, "", _outcome(item), style=style)
    console.print()
    if item.kind == "status":
        subject_code, detail_code = f"X.{item.subject}", f"X.{item.subject}.{item.detail}"
    else:
        subject_code, detail_code = f"x{item.subject}x", item.code
    rows = [
        ("Class", str(item.class_digit), f"{item.class_name}. {item.class_meaning}"),
        ("Subject", subject_code, f"{item.subject_name}. {item.subject_meaning}"),
        ("Detail", detail_code, item.detail_meaning),
    ]
    code_width = max(len(code) for _, code, _ in rows)
    for name, code, text in rows:
        _para(console, f"{name:<8}{code:<{code_width}}  ", text, indent=2, label_style="bold")
    if item.generic:
        console.print()
        _para(
            console,
            "",
            "Generic explanation: no table entry for this exact code, so it is composed from "
            "its class and subject.",
            indent=2,
            style="italic",
        )
        _lists(console, item.causes, item.fixes)
    for meaning in item.meanings:
        console.print()
        _para(
            console,
            f"[{meaning.label}] ",
            f"{meaning.matched}  {meaning.title}",
            label_style="bold cyan",
            hang=2,
            style="bold",
        )
        _para(console, "", meaning.meaning, indent=2)
        if meaning.reference:
            _para(console, "Source: ", meaning.reference, indent=2, style="dim", label_style="dim")
        _lists(console, meaning.causes, meaning.fixes)
    console.print()
    if item.related:
        _para(console, "Related: ", ", ".join(item.related), label_style="bold")
    for command in item.next_commands:
        console.print(Text.assemble(("Next: ", "bold"), (command, "cyan")), soft_wrap=True)


def _outcome(item: CodeExplanation) -> str:
    summary = item.summary
    # The summary ends with "(outcome)"; the outcome goes on its own line under the title.
    if summary.endswith(")") and "(" in summary:
        outcome = summary[summary.rindex("(") + 1 : -1]
        return outcome[:1].upper() + outcome[1:] + "."
    return summary


def _lists(console: Console, causes: tuple[str, ...], fixes: tuple[str, ...]) -> None:
    if causes:
        console.print(Text("  Possible causes:", style="bold"))
        for cause in causes:
            _para(console, "- ", cause, indent=4)
    if fixes:
        console.print(Text("  Troubleshooting:", style="bold"))
        for number, fix in enumerate(fixes, 1):
            _para(console, f"{number}. ", fix, indent=4)


def render_bounce(console: Console, bounce: BounceReport) -> None:
    """A bounce: what it is, a table of recipients, then every code explained once."""
    _para(console, "Bounce:      ", bounce.source, label_style="bold")
    if bounce.subject:
        _para(console, "Subject:     ", bounce.subject, label_style="bold")
    _para(console, "Format:      ", ", ".join(bounce.formats), label_style="bold")
    if bounce.reporting_mta:
        _para(console, "Reported by: ", bounce.reporting_mta, label_style="bold")
    console.print()
    if not bounce.recipients:
        console.print(Text("No delivery status code found in this message.", style="bold yellow"))
    else:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
        table.add_column("Recipient", overflow="fold", ratio=3)
        table.add_column("Action", no_wrap=True)
        table.add_column("Codes", no_wrap=True)
        table.add_column("Server said", overflow="fold", ratio=4)
        for r in bounce.recipients:
            said = r.diagnostic or ""
            if r.remote_mta:
                said = f"{r.remote_mta}: {said}" if said else r.remote_mta
            table.add_row(r.recipient, r.action or "-", " ".join(r.codes), said or "-")
        console.print(table)
    for note in bounce.notes:
        _para(console, "Note: ", note, style="dim", label_style="dim")
    for explanation in bounce.explanations:
        console.print()
        console.print(Text("-" * min(_width(console), 80), style="dim"))
        render_explanation(console, explanation)


def render_rows(console: Console, rows: tuple[TableRow, ...]) -> None:
    """Table entries for ``--list`` and ``--search``."""
    if not rows:
        console.print(Text("No matching entries.", style="bold yellow"))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Code", no_wrap=True)
    table.add_column("Source", no_wrap=True)
    table.add_column("Title", overflow="fold")
    for row in rows:
        table.add_row(row.code, row.label, row.title)
    console.print(table)
    noun = "entry" if len(rows) == 1 else "entries"
    console.print(Text(f"{len(rows)} {noun}", style="dim"))
