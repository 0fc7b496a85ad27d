"""Terminal output of ``mailprobe log``: a pflogsumm-like summary, and events as they come."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailprobe.ndr.reply import clean
from mailprobe.render.console import Text
from mailprobe.render.findings import print_hanging, render_findings

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.maillog.report import LogEvent, LogReport, Row

_STYLE = {
    "sent": "green",
    "received": "dim",
    "deferred": "yellow",
    "rejected": "yellow",
    "bounced": "bold red",
    "expired": "bold red",
}


def render_event(console: Console, event: LogEvent) -> None:
    """One event on one line (``--details``, ``--follow``)."""
    line = Text(f"{event.line:>8}  ", style="dim")
    line.append(f"{event.time}  ")
    line.append(f"{event.status:<8}", style=_STYLE.get(event.status, ""))
    who = event.recipient or ""
    where = event.host or event.address
    if event.status == "rejected":
        line.append(f" {clean(where or '?', 80)}")
        if who:
            line.append(f" -> {clean(who, 120)}")
    else:
        if who:
            line.append(f" {clean(who, 120)}")
        if where:
            line.append(f" via {clean(where, 80)}")
    code = event.status_code or event.reply_code
    if code:
        line.append(f"  {code}", style="bold")
        if event.meaning:
            line.append(f" {event.meaning}", style="dim")
    if event.reason:
        line.append(f"  {clean(event.reason, 300)}")
    print_hanging(console, line, 10)


def render_log(console: Console, report: LogReport, verbose: int = 0) -> None:
    """The summary: counts, codes, domains, hosts, clients, reasons, findings."""
    head = Text("Log: ", style="bold")
    head.append(report.source)
    head.append(
        f"  ({report.format or 'unknown format'}, {report.lines:,} lines"
        + (f", {report.first_time} .. {report.last_time}" if report.first_time else "")
        + ")",
        style="dim",
    )
    console.print(head)
    c = report.counts
    console.print(Text("Events", style="bold underline"))
    for label, value, style in (
        ("received", c.received, ""),
        ("delivered", c.sent, "green"),
        ("deferred", c.deferred, "yellow"),
        ("bounced", c.bounced, "red"),
        ("expired", c.expired, "red"),
        ("rejected", c.rejected, "yellow"),
        ("unknown lines", report.unknown_lines, "dim"),
    ):
        line = Text(f"  {value:>10,}  ", style=style if value else "")
        line.append(label)
        console.print(line)
    if report.long_lines:
        console.print(Text(f"  {report.long_lines:>10,}  long lines (truncated)", style="dim"))
    if report.codes:
        console.print(Text("Status codes", style="bold underline"))
        for row in report.codes:
            line = Text(f"  {row.count:>10,}  ")
            line.append(f"{row.code:<9}", style="bold")
            parts = [
                f"{n} {name}"
                for n, name in (
                    (row.deferred, "deferred"),
                    (row.bounced, "bounced"),
                    (row.expired, "expired"),
                    (row.rejected, "rejected"),
                )
                if n
            ]
            line.append(f" {row.title or 'not in the NDR table'}")
            line.append(f"  ({', '.join(parts)})", style="dim")
            print_hanging(console, line, 25)
            if verbose and row.summary:
                print_hanging(console, Text(f"{' ' * 25}{row.summary}", style="dim"), 25)
    _rows(console, "Recipient domains", report.domains, ("sent", "deferred", "bounced", "expired"))
    _rows(console, "Remote hosts", report.hosts, ("sent", "deferred", "bounced", "expired"))
    _rows(console, "Rejected clients", report.clients, ("rejected",))
    for status, title in (
        ("deferred", "Deferral reasons"),
        ("bounced", "Bounce reasons"),
        ("expired", "Expiry reasons"),
        ("rejected", "Reject reasons"),
    ):
        reasons = [r for r in report.reasons if r.status == status]
        if not reasons:
            continue
        console.print(Text(title, style="bold underline"))
        for reason in reasons:
            line = Text(f"  {reason.count:>10,}  ")
            if reason.code:
                line.append(f"{reason.code} ", style="bold")
            line.append(clean(reason.reason or "(no reason logged)", 300))
            print_hanging(console, line, 14)
    if report.details_omitted:
        console.print(Text(f"({report.details_omitted:,} more events not listed)", style="dim"))
    render_findings(console, report.findings, verbose, heading="Findings")


def _rows(console: Console, title: str, rows: Sequence[Row], columns: Sequence[str]) -> None:
    shown = [r for r in rows if any(getattr(r, c) for c in columns)]
    if not shown:
        return
    width = max(len(c) for c in columns)
    console.print(Text(title, style="bold underline"))
    console.print(Text("  " + "  ".join(f"{c:>{max(width, 8)}}" for c in columns), style="dim"))
    for row in shown:
        line = Text("  ")
        line.append("  ".join(f"{getattr(row, c):>{max(width, 8)},}" for c in columns))
        line.append(f"  {clean(row.name, 200)}")
        console.print(line, soft_wrap=True)
