"""Terminal output of ``mailprobe relay-test``: the variant table, the extra checks, the verdict.

Peer text (reply lines) is printed as plain ``Text``, never as rich markup. The transcript file
of ``--transcript`` is built here too, with ``render/transcript.py``'s line format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from mailprobe.render.console import Text
from mailprobe.render.findings import print_hanging, render_findings

if TYPE_CHECKING:
    from mailprobe.checks.relay import RelayReport, RelayRun, VariantResult
    from mailprobe.smtp.session import Reply

_VERDICT_STYLE = {"open": "bold red", "closed": "bold green", "inconclusive": "bold yellow"}
_OUTCOME_STYLE = {
    "accepted": "bold red",
    "rejected": "green",
    "refused-temporarily": "green",
    "auth-required": "green",
    "deferred": "yellow",
    "mail-deferred": "yellow",
    "mail-refused": "dim",
    "error": "yellow",
    "not-tested": "dim",
}
#: How an outcome reads in the table's verdict column.
OUTCOME_TEXT = {
    "accepted": "ACCEPTED",
    "rejected": "rejected",
    "refused-temporarily": "refused (4xx)",
    "auth-required": "auth required",
    "deferred": "deferred",
    "mail-deferred": "MAIL deferred",
    "mail-refused": "MAIL refused",
    "error": "error",
    "not-tested": "not tested",
}
#: Evidence that reads differently from the bare RCPT outcome (``verdict.judge``).
_EVIDENCE_TEXT = {
    "unconfirmed-local": ("accepted, unconfirmed", "yellow"),
    "accepted-rerouted": ("ACCEPTED (rerouted)", "bold red"),
    "relayed": ("RELAYED (--send)", "bold red"),
    "refused-at-data": ("refused at DATA", "green"),
    "desync": ("out of step", "yellow"),
}


def _verdict_cell(result: VariantResult) -> Text:
    """The variant's verdict column: its evidence where that says more than the outcome."""
    if result.evidence in _EVIDENCE_TEXT:
        text, style = _EVIDENCE_TEXT[result.evidence]
        return Text(text, style=style)
    return Text(OUTCOME_TEXT[result.outcome], style=_OUTCOME_STYLE[result.outcome])


_PROBE_MEANING = {
    "local-postmaster": "control",
    "local-unknown": "catch-all check",
    "internal-spoof": "spoofing check",
}


def render_relay(console: Console, run: RelayRun, *, verbose: int = 0) -> None:
    """Print a run: each server's report, then (for several servers) the overall verdict."""
    if run.mx_domain:
        console.print(Text(f"Exchangers of {run.mx_domain}", style="bold"))
    for index, report in enumerate(run.reports):
        if index:
            console.rule(style="dim")
        render_report(console, report, verbose=verbose)
    if len(run.reports) != 1:
        console.print()
        line = Text("Overall: ", style="bold")
        line.append(run.verdict_label, style=_VERDICT_STYLE[run.verdict])
        line.append(f" ({run.reason})")
        console.print(line)


def render_report(console: Console, report: RelayReport, *, verbose: int = 0) -> None:
    """One server: what the battery was built from, the tables, the verdict, the findings."""
    where = f"{report.target}"
    if report.address and report.address != report.target:
        where += f" [{report.address}]"
    console.print(Text(f"relay-test {where} port {report.port}", style="bold"))
    if report.server_name or report.own_domain:
        details = Text("  server name: ", style="dim")
        details.append(report.server_name or "(none in greeting)")
        details.append("   own domain: ", style="dim")
        details.append(report.own_domain or "(unknown)")
        details.append(f" ({report.own_domain_source})", style="dim")
        details.append("   external: ", style="dim")
        details.append(report.external_domain)
        console.print(details)
    if report.variants:
        console.print()
        _print_variants(console, report.variants, "Relay battery (anonymous)")
        console.print(
            Text(
                "ACCEPTED: the server took the recipient and would relay; refused (4xx): a "
                "temporary refusal to relay; MAIL refused: the variant was not tested",
                style="dim",
            )
        )
    if report.probes:
        console.print()
        _print_variants(console, report.probes, "Extra checks (not part of the verdict)")
    _render_extras(console, report)
    console.print()
    line = Text("Verdict: ", style="bold")
    line.append(report.verdict_label, style=_VERDICT_STYLE[report.verdict])
    line.append(f" ({report.reason})")
    console.print(line)
    if report.deciding_variants:
        shown = list(report.deciding_variants[:8])
        more = len(report.deciding_variants) - len(shown)
        decided = Text("  decided by: " + ", ".join(shown) + (f" (+{more} more)" if more else ""))
        console.print(decided)
    counts = Text(
        f"  {_count(report.connections_opened, 'session')}, "
        f"{report.reconnects} ended early by the server, "
        f"{report.seconds:.2f} s",
        style="dim",
    )
    console.print(counts)
    console.print()
    render_findings(console, report.findings, verbose, indent=0)
    if verbose >= 2:
        from mailprobe.render.transcript import render_transcript

        for conn in report.transcripts:
            console.print()
            items = ", ".join(conn.items) if conn.items else "(no variants)"
            render_transcript(console, conn.lines, title=f"{conn.label}: {items}")


def _print_variants(console: Console, results: Sequence[VariantResult], title: str) -> None:
    """The table when the terminal is wide enough for whole addresses, else two lines per
    variant, wrapped with a hanging indent. Addresses and the deciding reply are never cut:
    they wrap, and an address is split only when it is wider than the terminal."""
    widths = [
        max((len(_name(r)) for r in results), default=0),
        max((len(r.mail_from) + 2 for r in results), default=0),
        max((len(r.rcpt_to) + 2 for r in results), default=0),
        3,
        5,
        max((len(_verdict_cell(r).plain) for r in results), default=0),
    ]
    if sum(widths) + 2 * len(widths) + 30 <= console.width:
        console.print(_variant_table(results, title))
        return
    console.print(Text(title, style="bold"))
    name_width = widths[0] + 2
    # Continuations under the addresses, unless that leaves too little room for them.
    room = max(40, widths[1], widths[2])
    hang = name_width + 2 if console.width - name_width - 2 >= room else 4
    for result in results:
        decisive = result.rcpt_reply or result.mail_reply
        first = Text(f"  {_name(result):<{name_width}}")
        first.append(f"<{result.mail_from}> -> <{result.rcpt_to}>")
        print_hanging(console, first, hang)
        second = Text(" " * (name_width + 2))
        second.append(_verdict_cell(result))
        second.append(f"  {_reply_text(decisive)}" if decisive else f"  {result.note}")
        print_hanging(console, second, hang)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _name(result: VariantResult) -> str:
    if result.name in _PROBE_MEANING:
        return f"{result.name} ({_PROBE_MEANING[result.name]})"
    return result.name


def _variant_table(results: Sequence[VariantResult], title: str) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("Variant", overflow="fold", min_width=8)
    # Whole addresses (the caller checked they fit); the reply text wraps instead.
    table.add_column("MAIL FROM", no_wrap=True)
    table.add_column("RCPT TO", no_wrap=True)
    table.add_column("Code", justify="right", no_wrap=True)
    table.add_column("Enh.", no_wrap=True)
    table.add_column("Reply text", overflow="fold", min_width=10)
    table.add_column("Verdict", no_wrap=True)
    for result in results:
        decisive = result.rcpt_reply or result.mail_reply
        name = _name(result)
        text = _without_enhanced(decisive) if decisive else result.note
        table.add_row(
            Text(name),
            Text(f"<{result.mail_from}>"),
            Text(f"<{result.rcpt_to}>"),
            Text(str(decisive.code) if decisive else "-"),
            Text((decisive.enhanced_code or "") if decisive else ""),
            Text(text),
            _verdict_cell(result),
        )
    return table


def _without_enhanced(reply: Reply) -> str:
    # The enhanced code has its own column.
    text = reply.text
    if reply.enhanced_code and text.startswith(reply.enhanced_code):
        text = text[len(reply.enhanced_code) :].lstrip()
    return text


def _reply_text(reply: Reply | None) -> str:
    return f"{reply.code} {reply.text}" if reply else "-"


def _render_extras(console: Console, report: RelayReport) -> None:
    enumeration = report.enumeration
    auth = report.authenticated
    sent = report.sent
    if enumeration is None and auth is None and sent is None:
        return
    console.print()
    if enumeration is not None:
        console.print(Text("VRFY postmaster:   ") + Text(_reply_text(enumeration.vrfy_known)))
        console.print(Text("VRFY made-up user: ") + Text(_reply_text(enumeration.vrfy_unknown)))
        console.print(Text("EXPN postmaster:   ") + Text(_reply_text(enumeration.expn)))
    if auth is not None:
        line = Text(f"Authenticated as {auth.user}")
        line.append(f" ({auth.mechanism or 'no mechanism'}{', TLS' if auth.tls else ''}): ")
        line.append(f"<{auth.mail_from}> -> <{auth.rcpt_to}> ")
        decisive = auth.rcpt_reply or auth.mail_reply or auth.auth_reply
        line.append(_reply_text(decisive))
        line.append(f"  [{auth.outcome}]", style="bold")
        console.print(line)
    if sent is not None:
        line = Text(f"--send via {sent.variant}: ")
        decisive = sent.data_reply or sent.rcpt_reply or sent.mail_reply
        line.append(_reply_text(decisive) if decisive else sent.note)
        line.append(f"  [{sent.outcome}]", style="bold")
        console.print(line)


def transcripts_text(run: RelayRun) -> str:
    """Every session's transcript, labelled by server, session and the variants it carried."""
    from mailprobe.render.transcript import transcript_text

    parts: list[str] = []
    for report in run.reports:
        for conn in report.transcripts:
            address = conn.address or report.target
            items = ", ".join(conn.items) if conn.items else "(no variants)"
            title = (
                f"mailprobe relay-test {report.target} [{address}]:{conn.port} "
                f"{conn.label}: {items}"
            )
            parts.append(transcript_text(conn.lines, title=title))
    return "\n".join(parts) if parts else "# no session was opened\n"
