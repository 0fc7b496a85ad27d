"""``mailprobe findings``: the findings catalogue in the terminal (a list, or one code)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from mailprobe.findings import AREAS, CatalogueEntry
from mailprobe.render.console import Text
from mailprobe.render.findings import SEVERITY_STYLE, print_hanging

_CODE_WIDTH = 32


def render_catalogue(console: Console, entries: Sequence[CatalogueEntry]) -> None:
    """One line per code (code, severities, title), grouped by area."""
    area = None
    for entry in entries:
        if entry.area != area:
            if area is not None:
                console.print()
            area = entry.area
            console.print(Text(f"{area}: {AREAS.get(area, '')}", style="bold"))
        line = Text("  ")
        line.append(entry.code.ljust(_CODE_WIDTH - 1) + " ")
        # the usual severity; "+" when a documented rule gives others
        label = entry.severity.value + ("+" if entry.also else "")
        line.append(label.ljust(6), SEVERITY_STYLE[entry.severity])
        line.append(entry.title + (" (advisory)" if entry.advisory else ""))
        print_hanging(console, line, 2 + _CODE_WIDTH + 6)
    console.print()
    console.print(Text("+: other severities by a rule. Details: mailprobe findings CODE"))


def render_entry(console: Console, entry: CatalogueEntry) -> None:
    """Everything the catalogue says about one code."""
    line = Text(entry.code, style="bold")
    line.append(f"  {entry.title}")
    print_hanging(console, line, 2)
    rows = [("Severity", " or ".join(s.value for s in entry.severities))]
    if entry.rule:
        rows.append(("Rule", entry.rule))
    if entry.advisory:
        rows.append(("Exit code", "advisory: shown, but does not change the exit code"))
    rows.append(("Area", AREAS.get(entry.area, entry.area)))
    if entry.fix:
        rows.append(("Fix", entry.fix))
    rows.append(("Docs", entry.docs))
    for label, value in rows:
        row = Text(f"  {label:<10} ")
        row.append(value, SEVERITY_STYLE[entry.severity] if label == "Severity" else "")
        print_hanging(console, row, 13)
