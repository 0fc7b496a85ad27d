"""Terminal output of ``mailprobe queue``: totals, groups by domain and reason, next commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailprobe.checks.queue import age_text
from mailprobe.render.console import Text
from mailprobe.render.findings import print_hanging, render_findings

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.checks.queue import ExchangeQueueReport, QueueReport, ReasonGroup

#: Groups shown in the terminal without --messages/-v (the largest first).
MAX_GROUPS_SHOWN = 30
_FORMATS = {
    "postfix-json": "Postfix postqueue -j",
    "exim": "Exim exim -bp",
    "postfix-mailq": "Postfix mailq",
    "sendmail-mailq": "sendmail mailq",
    "empty": "empty listing",
}
_CLASS_LABELS = {
    "dns": "DNS failure",
    "refused": "connection refused",
    "timeout": "timed out",
    "unreachable": "network unreachable",
    "lost-connection": "lost connection",
    "tls": "TLS failure",
    "policy": "refused by policy",
    "mailbox": "mailbox unavailable",
    "remote-temporary": "temporary error from the destination",
    "remote-permanent": "permanent error from the destination",
    "local": "local problem",
    "other": "other",
    "no-reason": "waiting for a retry (no reason listed)",
    "held": "on hold / frozen",
    "in-flight": "being delivered",
}


def render_queue(console: Console, report: QueueReport, list_messages: bool = False) -> None:
    """Totals, then each group with its explanation and next commands, then the findings."""
    head = Text("Queue: ", style="bold")
    head.append(report.source)
    head.append(f"  ({_FORMATS.get(report.format, report.format)})", style="dim")
    console.print(head)
    if not report.messages:
        console.print(Text("  empty: no message waits", style="green"))
    else:
        queues = ", ".join(f"{c.queue_name} {c.messages}" for c in report.by_queue)
        line = Text(f"  {report.messages} messages, {report.recipients} recipients")
        if report.size_bytes:
            line.append(f", {_size(report.size_bytes)}")
        line.append(f"  [{queues}]", style="dim")
        console.print(line)
        if report.oldest_age_seconds is not None:
            console.print(
                Text(f"  oldest: {report.oldest_queue_id}, {age_text(report.oldest_age_seconds)}")
            )
        console.print(Text("By domain and reason", style="bold underline"))
        shown = report.groups if list_messages else report.groups[:MAX_GROUPS_SHOWN]
        for group in shown:
            _group(console, group)
        if len(shown) < len(report.groups):
            more = len(report.groups) - len(shown)
            console.print(
                Text(f"  ... {more} more groups (all with --messages, -v or --json)", style="dim")
            )
    if list_messages and report.entries:
        console.print(Text("Messages", style="bold underline"))
        for message in report.entries:
            line = Text(f"  {message.queue_id:<14} {message.queue_name:<9} ")
            line.append(f"{age_text(message.age_seconds):>7}  ")
            line.append(message.sender or "<>")
            console.print(line, soft_wrap=True)
            for recipient in message.recipients:
                row = Text(f"      -> {recipient.address}")
                if recipient.reason:
                    row.append(f"  ({recipient.reason})", style="dim")
                print_hanging(console, row, 9)
    render_findings(console, report.findings, 0, heading="Findings")


def _group(console: Console, group: ReasonGroup) -> None:
    line = Text("  ")
    line.append(group.domain, style="bold")
    line.append(
        f"  {group.recipients} rcpt / {group.messages} msg"
        f"  oldest {age_text(group.oldest_age_seconds)}  "
    )
    line.append(_CLASS_LABELS.get(group.reason_class, group.reason_class), style="yellow")
    print_hanging(console, line, 4)
    if group.reason:
        print_hanging(console, Text(f"    reason: {group.reason}"), 12)
    code = group.status_code or group.reply_code
    if code and group.status_meaning:
        how = "" if group.status_code_given or not group.status_code else " (inferred)"
        print_hanging(console, Text(f"    {code}{how}: {group.status_meaning}", style="dim"), 6)
    for title in group.text_matches:
        print_hanging(console, Text(f"    recognised: {title}", style="dim"), 6)
    print_hanging(console, Text(f"    {group.explanation}"), 4)
    for command in group.next_commands:
        line = Text("    next: ", style="cyan")
        line.append(command)
        console.print(line, soft_wrap=True)


def _size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def render_exchange_queue(console: Console, report: ExchangeQueueReport) -> None:
    """One Exchange SMTP queue: what it holds, why mail piles up there, what to do."""
    queue = report.queue
    console.print(Text(f"Exchange SMTP queue: {queue.name}", style="bold"))
    if queue.aliases:
        print_hanging(console, Text(f"  also shown as: {'; '.join(queue.aliases)}", style="dim"), 4)
    print_hanging(console, Text(f"  Holds:    {queue.holds}"), 12)
    print_hanging(console, Text(f"  Piles up: {queue.piles_up}"), 12)
    if queue.steps:
        console.print(Text("  What to do:"))
        for number, step in enumerate(queue.steps, 1):
            print_hanging(console, Text(f"    {number}. {step}"), 7)
    for command in queue.next_commands:
        line = Text("  next: ", style="cyan")
        line.append(command)
        console.print(line, soft_wrap=True)
    console.print(
        Text(
            "  Source: Exchange 2000 Server SMTP transport guide, Table 3 (SMTP queues).",
            style="dim",
        )
    )
