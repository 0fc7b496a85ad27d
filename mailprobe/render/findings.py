"""The one way findings are shown in the terminal, by every command.

Each finding is a row of a two-column grid: the severity label, then ``code: summary`` with the
fix on the next line. The grid keeps a hanging indent when a long line wraps (80 columns when
piped), so the labels stay in their column.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from mailprobe.model import Finding, Severity

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
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=4)
    grid.add_column(overflow="fold")
    for finding in findings:
        body = Text(f"{finding.code}: ", style="bold")
        body.append(finding.summary)
        if finding.fix and (finding.severity in (Severity.WARN, Severity.FAIL) or verbose > 0):
            body.append(f"\nfix: {finding.fix}", style="dim")
        label = Text(finding.severity.value.upper(), style=SEVERITY_STYLE[finding.severity])
        grid.add_row(label, body)
    console.print(Padding(grid, (0, 0, 0, indent)))
