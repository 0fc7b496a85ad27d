"""Terminal output of ``mailprobe blocklist``: per address and name, every list's answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailprobe.render.console import Text
from mailprobe.render.findings import print_hanging, render_findings

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.checks.blocklist import Blocklist, BlocklistReport, CheckedItem, Listing

#: How each listing status is shown, and its style.
_STATUS: dict[str, tuple[str, str]] = {
    "listed": ("LISTED", "bold red"),
    "not-listed": ("not listed", "green"),
    "untrusted": ("unknown", "yellow"),
    "refused": ("refused", "yellow"),
    "error": ("no answer", "yellow"),
    "skipped": ("not asked", "dim"),
}
_WIDTH = 11


def render_blocklist(console: Console, report: BlocklistReport, verbose: int = 0) -> None:
    """One target: each address (and name) with one line per list, then the findings."""
    head = Text("Blocklists: ", style="bold")
    head.append(report.target)
    if report.target_kind == "mx":
        head.append(" (every exchanger address, and the domain)", style="dim")
    console.print(head)
    for item in report.items:
        line = Text("  ")
        line.append(item.item, style="bold")
        if item.source:
            line.append(f"  {item.source}", style="dim")
        console.print(line)
        shown = [x for x in item.listings if x.status != "skipped" or verbose]
        name_width = max((len(x.name) for x in shown), default=0)
        for listing in shown:
            _listing(console, listing, name_width, verbose)
    if not report.items and not report.failures:
        console.print(Text("  nothing to look up", style="dim"))
    render_findings(
        console,
        [f for f in report.findings if f.code != "blocklist.not-listed" or verbose],
        verbose,
        heading="Findings",
    )


def _listing(console: Console, listing: Listing, name_width: int, verbose: int) -> None:
    label, style = _STATUS[listing.status]
    line = Text("    ")
    line.append(f"{label:<{_WIDTH}}", style=style)
    line.append(f" {listing.name:<{name_width}}")
    if listing.status == "listed":
        line.append(
            "  "
            + "; ".join(f"{c} {m}" for c, m in zip(listing.codes, listing.meanings, strict=True))
        )
    elif listing.message and (listing.status != "skipped" or verbose):
        line.append(f"  {listing.message}", style="dim")
    print_hanging(console, line, 4 + _WIDTH + 1 + name_width + 2)
    if listing.status == "listed":
        hang = " " * (4 + _WIDTH + 1)
        if listing.reason:
            print_hanging(console, Text(f"{hang}reason: {listing.reason}"), len(hang) + 8)
        if listing.lookup_url:
            print_hanging(
                console, Text(f"{hang}lookup: {listing.lookup_url}", style="dim"), len(hang) + 8
            )


def render_batch_line(console: Console, report: BlocklistReport) -> None:
    """One line per target in a batch: listed where, or clean, or why unknown."""
    listed = [f"{x.name} ({', '.join(x.codes)})" for item in report.items for x in item.listed]
    line = Text(f"{report.target:<20} ")
    if listed:
        line.append("LISTED ", style="bold red")
        line.append("; ".join(listed))
    elif report.failures:
        line.append("not checked ", style="yellow")
        line.append(report.failures[0].message)
    else:
        unknown = sorted(
            {
                x.name
                for item in report.items
                for x in item.listings
                if x.status in ("untrusted", "refused", "error")
            }
        )
        line.append("not listed", style="green")
        if unknown:
            line.append(f" (unknown on {', '.join(unknown)})", style="yellow")
    print_hanging(console, line, 21)


def render_item_line(console: Console, item: CheckedItem) -> None:
    """One address or name in one line: where it is listed, or clean, or unknown where."""
    line = Text(f"  {item.item}")
    if item.source:
        line.append(f" ({item.source})", style="dim")
    line.append(": ")
    listed = [f"{x.name} ({', '.join(x.codes)})" for x in item.listed]
    unknown = [x.name for x in item.listings if x.status in ("untrusted", "refused", "error")]
    clean = [x.name for x in item.listings if x.status == "not-listed"]
    if listed:
        line.append("LISTED on " + "; ".join(listed), style="bold red")
    elif clean:
        line.append(f"not listed on {len(clean)} lists", style="green")
    if unknown:
        line.append(
            ("; " if listed or clean else "") + f"unknown on {', '.join(unknown)}", style="yellow"
        )
    if not (listed or clean or unknown):
        line.append("no list of this kind asked", style="dim")
    print_hanging(console, line, 4)


def render_lists(console: Console, lists: Sequence[Blocklist]) -> None:
    """``blocklist --list``: the lists mailprobe knows, with their codes."""
    for blocklist in lists:
        line = Text(f"{blocklist.zone}", style="bold")
        line.append(f"  {blocklist.name}, {blocklist.kind} list")
        if blocklist.default:
            line.append("  (default)", style="green")
        if blocklist.kind == "ip":
            line.append("  IPv4 and IPv6" if blocklist.ipv6 else "  IPv4 only", style="dim")
        console.print(line)
        for known in blocklist.codes:
            text = f"    {known.code:<13} {known.list_class:<10} {known.meaning}"
            print_hanging(console, Text(text), 29)
        if blocklist.removal:
            print_hanging(console, Text(f"    removal: {blocklist.removal}", style="dim"), 13)
