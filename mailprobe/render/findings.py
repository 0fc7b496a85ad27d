"""The one way findings are shown in the terminal, by every command.

Each finding is the severity label, then ``code: summary`` with the fix on the next line. Long
lines wrap to the console width with a hanging indent, so the labels stay in their column and
no line carries trailing spaces. When piped the console is effectively unlimited in width
(``render/console.py``), so nothing wraps: one finding (and its fix) per line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich.console import Console

from mailprobe.model import Finding, Severity
from mailprobe.render.console import Text

SEVERITY_STYLE = {
    Severity.OK: "green",
    Severity.INFO: "cyan",
    Severity.WARN: "yellow",
    Severity.FAIL: "bold red",
}


def render_findings(
    console: Console,
    findings: Sequence[Finding],
    verbose: int = 0,
    *,
    indent: int = 2,
    heading: str | None = None,
) -> None:
    """Findings in the given order; the fix under warnings and failures (under all with -v)."""
    if not findings:
        return
    if heading:
        console.print(Text(heading, style="bold underline"))
    margin = " " * indent
    hang = margin + " " * (_LABEL_WIDTH + 1)
    width = max(20, console.width - len(hang))
    for finding in findings:
        head = finding.code
        if finding.subject and finding.subject.lower() not in finding.summary.lower():
            head += f" ({finding.subject})"  # which exchanger/address/record it is about
        lines = textwrap.wrap(f"{head}: {finding.summary}", width) or [head]
        first = Text(margin)
        first.append(
            f"{finding.severity.value.upper():<{_LABEL_WIDTH}}", SEVERITY_STYLE[finding.severity]
        )
        first.append(" ")
        code_end = min(len(head) + 1, len(lines[0]))
        first.append(lines[0][:code_end], style="bold")
        first.append(lines[0][code_end:])
        console.print(first, soft_wrap=True)
        for line in lines[1:]:
            console.print(Text(hang + line), soft_wrap=True)
        if finding.fix and (finding.severity in (Severity.WARN, Severity.FAIL) or verbose > 0):
            for line in textwrap.wrap(f"fix: {finding.fix}", width):
                console.print(Text(hang + line, style="dim"), soft_wrap=True)


_LABEL_WIDTH = 4


def print_hanging(console: Console, line: Text, hang: int) -> None:
    """Print ``line`` wrapped to the console width, continuation lines indented by ``hang``."""
    width = max(20, console.width)
    pieces = line.wrap(console, width, overflow="fold")
    if len(pieces) <= 1:
        console.print(line, soft_wrap=True)
        return
    for piece in pieces:
        piece.rstrip()
    first, rest = pieces[0], Text(" ").join(pieces[1:])
    console.print(first, soft_wrap=True)
    for piece in rest.wrap(console, max(10, width - hang), overflow="fold"):
        console.print(Text(" " * hang) + piece, soft_wrap=True)
