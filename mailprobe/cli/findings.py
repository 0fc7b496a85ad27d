"""`mailprobe findings [CODE]`: the findings catalogue, every code once (docs/findings.md).

Exit codes: 0 listed or explained, 2 an unknown code or area. Nothing here touches the network.
"""

from __future__ import annotations

from mailprobe.cli.common import emit
from mailprobe.cli.options import FINDINGS
from mailprobe.cli.options_typer import typer_command
from mailprobe.errors import UsageError


def _findings(code: str | None) -> int:
    """List every finding code mailprobe reports (severity, title), or explain one: its
    severity rule, fix and docs anchor."""
    from mailprobe.findings import AREAS, CATALOGUE, by_area
    from mailprobe.render.catalogue import render_catalogue, render_entry

    if code is not None and code.strip().lower() in CATALOGUE:
        entry = CATALOGUE[code.strip().lower()]
        return emit(
            "findings",
            {"code": entry.code},
            {"findings": [_jsonable(entry)]},
            0,
            lambda con: render_entry(con, entry),
        )
    entries = [e for _area, group in by_area() for e in group]
    if code is not None:
        area = code.strip().lower().rstrip(".")
        if area not in AREAS:
            close = [c for c in CATALOGUE if area and area in c][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UsageError(
                f"unknown finding code or area {code!r}{hint}; 'mailprobe findings' lists them"
            )
        entries = [e for e in entries if e.area == area]
    return emit(
        "findings",
        {"code": code},
        {"findings": [_jsonable(e) for e in entries]},
        0,
        lambda con: render_catalogue(con, entries),
    )


findings = typer_command(_findings, FINDINGS, network=False)


def _jsonable(entry: object) -> dict[str, object]:
    from mailprobe.findings import CatalogueEntry

    assert isinstance(entry, CatalogueEntry)
    return {
        "code": entry.code,
        "severity": entry.severity.value,
        "severities": [s.value for s in entry.severities],
        "rule": entry.rule,
        "title": entry.title,
        "fix": entry.fix,
        "advisory": entry.advisory,
        "area": entry.area,
        "docs": entry.docs,
    }
