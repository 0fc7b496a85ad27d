"""Terminal output of ``mailprobe ehlo``: banner, verbs, comparison, TLS, AUTH, envelope,
findings and the transcript. Every peer-controlled string is printed as plain ``Text``."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from mailprobe.checks.ehlo import (
    Advertised,
    CommandResult,
    EhloReport,
    EhloResults,
    Extension,
    TlsReport,
    VerbProfile,
    name_not_judged,
)
from mailprobe.render.console import Text
from mailprobe.render.findings import render_findings
from mailprobe.render.transcript import render_timings, render_transcript, timings_summary
from mailprobe.text import is_digits

OUTCOME_STYLE = {
    "accepted": "green",
    "intermediate": "cyan",
    "deferred": "yellow",
    "rejected": "red",
    "invalid": "red",
}


def _label(name: str) -> Text:
    return Text(f"{name:<13}", style="bold")


def _line(console: Console, name: str, *parts: Text | str) -> None:
    text = Text()
    for part in parts:
        text.append_text(part if isinstance(part, Text) else Text(part))
    grid = Table.grid()
    grid.add_column(width=13, no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(_label(name), text)
    console.print(grid)


def extension_note(ext: Extension) -> str:
    """What an extension line means in a few words (SIZE in MB, AUTH mechanisms, legacy)."""
    notes: list[str] = []
    if ext.keyword == "SIZE":
        if ext.params and is_digits(ext.params[0]) and int(ext.params[0]) > 0:
            size = int(ext.params[0])
            notes.append(f"largest message {size / (1024 * 1024):.2f} MB ({size} bytes)")
        else:
            notes.append("no fixed size limit announced")
    elif ext.keyword == "AUTH":
        notes.append("mechanisms: " + (", ".join(p.upper() for p in ext.params) or "none"))
    elif ext.keyword == "STARTTLS":
        notes.append("encryption offered")
    if ext.legacy:
        notes.append("legacy '=' form")
    return "; ".join(notes)


def _extensions_table(advertised: Advertised, highlight: Iterable[str] = ()) -> Table:
    marked = set(highlight)
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column("verb", no_wrap=True)
    table.add_column("params")
    table.add_column("note", style="dim")
    for ext in advertised.extensions:
        style = "bold green" if ext.keyword in marked else ""
        params = ("=" if ext.legacy else "") + " ".join(ext.params)
        table.add_row(
            Text("  " + ext.keyword, style=style), Text(params), Text(extension_note(ext))
        )
    return table


def _tls_block(console: Console, tls: TlsReport) -> None:
    mode = "implicit TLS" if tls.mode == "implicit" else "STARTTLS"
    _line(console, "TLS", f"{mode}: {tls.version or '?'}, {tls.cipher or '?'}")
    _line(console, "  subject", tls.subject or "-")
    _line(console, "  names", ", ".join(tls.sans) or "-")
    _line(console, "  issuer", tls.issuer or "-")
    if tls.not_after:
        left = f" ({tls.days_left} days left)" if tls.days_left is not None else ""
        style = "red" if tls.days_left is not None and tls.days_left < 14 else ""
        _line(console, "  expires", Text(f"{tls.not_after}{left}", style=style))
    if tls.verified:
        trust = Text("trusted", style="green")
    else:
        trust = Text(f"NOT trusted: {tls.verify_error or 'verification off'}", style="red")
    _line(console, "  chain", trust)
    if name_not_judged(tls):
        # Probed by address: the names above are reported, not judged (tls.name-not-checked).
        _line(console, "  name", Text(f"not checked (probed by address {tls.checked_name})"))
    elif tls.name_matches is not None:
        match = (
            Text(f"matches {tls.checked_name}", style="green")
            if tls.name_matches
            else Text(f"does NOT match {tls.checked_name}", style="red")
        )
        _line(console, "  name", match)


def _reply_line(console: Console, name: str, result: CommandResult) -> None:
    text = Text(f"{result.command}  ")
    text.append(f"{result.code} {result.text}", style="")
    text.append(f"  [{result.outcome}]", style=OUTCOME_STYLE.get(result.outcome, ""))
    if result.explanation:
        text.append(f"  {result.explanation}", style="dim")
    _line(console, name, text)


def render_report(console: Console, report: EhloReport, *, verbose: int = 0) -> None:
    """One probed server."""
    console.print(Text(f"ehlo {report.subject}", style="bold reverse"))
    if report.banner:
        _line(console, "banner", f"{report.banner_code} " + report.banner[0])
        for extra in report.banner[1:]:
            _line(console, "", f"{report.banner_code} {extra}")
    if report.greeting_command:
        greeting = report.advertised.greeting if report.advertised else ""
        note = "  (EHLO refused: HELO fallback)" if report.greeting_command == "HELO" else ""
        _line(
            console,
            report.greeting_command,
            f"{report.helo_name} -> 250 {greeting}",
            Text(note, style="yellow"),
        )
    if report.advertised and report.advertised.extensions:
        console.print(_extensions_table(report.advertised))
    if report.advertised_after_tls is not None:
        _line(console, "after TLS", "EHLO again:")
        console.print(_extensions_table(report.advertised_after_tls, report.verbs_only_after_tls))
        if report.verbs_only_after_tls:
            _line(console, "", "only after TLS: " + ", ".join(report.verbs_only_after_tls))
    if report.comparison is not None:
        c = report.comparison
        if c.complete and not c.unexpected:
            status = Text("all expected verbs present", style="green")
        else:
            status = Text(
                f"missing: {', '.join(c.missing) or '-'}; unexpected: "
                f"{', '.join(c.unexpected) or '-'}",
                style="yellow" if c.missing else "",
            )
        _line(console, "expected", f"{c.profile} ({c.profile_title}): ", status)
    if report.tls is not None:
        _tls_block(console, report.tls)
    if report.auth is not None:
        a = report.auth
        if a.reply is not None:
            _reply_line(console, "AUTH", a.reply)
        else:
            offered = ", ".join(a.offered) or "none"
            _line(console, "AUTH", f"not attempted (offered: {offered})")
    if report.mail is not None:
        _reply_line(console, "MAIL", report.mail)
    for rcpt in report.rcpt:
        _reply_line(console, "RCPT", rcpt)
    if report.data is not None:
        _reply_line(console, "DATA", report.data)
        if report.message_id:
            _line(console, "", f"Message-ID {report.message_id}")
    elif report.mail is not None:
        _line(console, "DATA", Text("not sent (no --data): ended with RSET and QUIT", style="dim"))
    if report.failure is not None:
        _line(console, "stopped", Text(report.failure.one_line(), style="bold red"))
    render_findings(console, report.findings, verbose, heading="Findings")
    render_transcript(console, report.transcript, title="Transcript")
    if report.timings:
        if verbose:
            render_timings(console, report.timings)
        else:
            console.print(Text(f"timings: {timings_summary(report.timings)}", style="dim"))


def render_ehlo(console: Console, results: EhloResults, *, verbose: int = 0) -> None:
    """Everything ``mailprobe ehlo`` found, one block per server."""
    if results.mx_domain is not None:
        ex = ", ".join(f"{e.host} ({e.preference})" for e in results.exchangers) or "none"
        _line(console, "MX", f"{results.mx_domain}: {ex}")
        if results.failure is not None:
            _line(console, "stopped", Text(results.failure.one_line(), style="bold red"))
    for index, report in enumerate(results.probes):
        if index:
            console.print()
        render_report(console, report, verbose=verbose)


def render_profiles(console: Console, profiles: Iterable[VerbProfile]) -> None:
    """``--list-profiles``: name, title and expected verbs of each built-in profile."""
    for profile in profiles:
        console.print(Text(profile.name, style="bold"), Text(profile.title))
        verbs = ", ".join(profile.required) or "(none required)"
        console.print(Text(f"    expects: {verbs}"), overflow="fold")
        if profile.optional:
            console.print(Text(f"    may add: {', '.join(profile.optional)}", style="dim"))
