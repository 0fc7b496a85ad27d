"""Terminal output of ``mailprobe check``: one section per step, then the summary.

Also the live progress display (stderr, only on a terminal) shown while the steps run.
Peer text (banners, replies, TXT records) is always printed as plain ``Text``, never as markup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from rich.table import Table

from mailprobe.model import Severity
from mailprobe.render.console import Text
from mailprobe.render.findings import SEVERITY_STYLE, print_hanging, render_findings
from mailprobe.render.transcript import render_transcript

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.checks.check import CheckReport, SmtpCheck, StepResult
    from mailprobe.checks.policy import PolicyReport

STATUS_STYLE = {
    "ok": "bold green",
    "problem": "bold yellow",
    "incomplete": "bold red",
    "skipped": "dim",
}
STATUS_LABEL = {
    "ok": "OK",
    "problem": "PROBLEMS FOUND",
    "incomplete": "INCOMPLETE",
    "skipped": "SKIPPED",
}
SUMMARY_LABEL = {
    "healthy": "HEALTHY",
    "problem": "PROBLEMS FOUND",
    "incomplete": "INCOMPLETE (a part could not be checked)",
}


def render_check(
    console: Console, report: CheckReport, verbose: int = 0, *, separator: bool = False
) -> None:
    """Print one domain's checklist: the six sections and the summary."""
    if separator:
        console.rule(style="dim")
    title = Text(f"mailprobe check {report.domain_ascii}", style="bold")
    if report.domain_unicode != report.domain_ascii:
        title.append(f" ({report.domain_unicode})")
    console.print(title)
    console.print(
        Text(
            f"DNS server {', '.join(report.dns_servers)}; {len(report.exchangers)} exchanger(s); "
            f"{report.seconds:.1f} s",
            style="dim",
        )
    )
    for number, step in enumerate(report.steps, start=1):
        _heading(console, number, step)
        if step.status == "skipped":
            continue
        details = _DETAILS.get(step.name)
        if details is not None:
            details(console, report, verbose)
        for part in step.skipped_parts:
            console.print(Text(f"  {part}", style="dim"))
        render_findings(console, step.findings, verbose)
        for failure in step.failures:
            console.print(Text(f"  could not complete: {failure.one_line()}", style="red"))
    _summary(console, report, len(report.steps) + 1)


def _heading(console: Console, number: int, step: StepResult) -> None:
    console.print()
    line = Text(f"{number}. {step.title}", style="bold underline")
    line.append("  ")
    line.append(STATUS_LABEL[step.status], style=STATUS_STYLE[step.status])
    if step.reason:
        line.append(f" ({step.reason})", style="dim")
    console.print(line)


def _dns(console: Console, report: CheckReport, verbose: int) -> None:
    if report.dns is None or not report.dns.servers:
        return
    view = report.dns.servers[0]
    exchangers = list(view.exchangers) or ([view.implicit_mx] if view.implicit_mx else [])
    if view.null_mx:
        console.print(Text("  null MX: the domain accepts no mail"))
    for ex in exchangers:
        console.print(Text(f"  MX {ex.preference:>3} {ex.host}", style="bold"))
        for addr in ex.addresses:
            ptr = ", ".join(addr.ptr) or "no PTR"
            scope = "" if addr.scope == "public" else f" [{addr.scope}]"
            console.print(Text(f"        {addr.address}{scope}  PTR {ptr} ({addr.ptr_status})"))


def _reachability(console: Console, report: CheckReport, verbose: int) -> None:
    if not report.reachability:
        return
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for column in ("exchanger", "address", "status", "connect", "banner"):
        table.add_column(column, overflow="fold")
    for reach in report.reachability:
        status = Text(reach.status, style="green" if reach.status == "banner" else "red")
        connect = f"{reach.connect_ms:.0f} ms" if reach.connect_ms is not None else "-"
        banner = " ".join(reach.banner) if reach.banner else reach.message
        table.add_row(Text(reach.host), Text(reach.address), status, connect, Text(banner))
    console.print(table)


def _smtp(console: Console, report: CheckReport, verbose: int) -> None:
    for check in report.smtp:
        _smtp_one(console, check, verbose)


def _smtp_one(console: Console, check: SmtpCheck, verbose: int) -> None:
    console.print(Text(f"  {check.host} [{check.address}]:{check.port}", style="bold"))
    server = check.server.title if check.server else "unknown (no verb profile applied)"
    console.print(Text(f"    server:     {server}"))
    verbs = " ".join(check.advertised) or "(none)"
    print_hanging(console, Text(f"    EHLO:       {verbs}"), 16)
    if check.tls is not None:
        tls = check.tls
        trust = "trusted" if tls.verified else f"NOT trusted ({tls.verify_error})"
        name = "matches" if tls.name_matches else "does NOT match"
        text = (
            f"    STARTTLS:   {tls.version} {tls.cipher}; certificate {trust}, {name} "
            f"{tls.checked_name}; expires {tls.not_after}"
        )
        print_hanging(console, Text(text), 16)
    elif check.starttls_offered:
        console.print(Text("    STARTTLS:   offered, failed"))
    else:
        console.print(Text("    STARTTLS:   not offered"))
    for label, result in (
        ("MAIL", check.mail),
        ("postmaster", check.postmaster),
        ("recipient", check.recipient),
    ):
        if result is not None:
            text = f"    {label + ':':<12}{result.command} -> {result.code} {result.text}"
            print_hanging(console, Text(text), 16)
    if verbose > 0 and check.transcript:
        render_transcript(console, check.transcript, title=f"transcript {check.host}")


def _blocklist(console: Console, report: CheckReport, verbose: int) -> None:
    from mailprobe.render.blocklist import render_item_line

    for item in report.blocklist:
        render_item_line(console, item)


def _relay(console: Console, report: CheckReport, verbose: int) -> None:
    for relay in report.relay:
        style = {"open": "bold red", "closed": "green"}.get(relay.verdict, "yellow")
        line = Text(f"  {relay.target} [{relay.address}]: ")
        line.append(relay.verdict_label, style=style)
        line.append(f" - {relay.reason}")
        print_hanging(console, line, 4)


def _policy(console: Console, report: CheckReport, verbose: int) -> None:
    policy = report.policy
    if policy is None:
        return
    for label, text in policy_lines(policy):
        console.print(Text(f"  {label:<9} {text}"))


def policy_lines(policy: PolicyReport) -> list[tuple[str, str]]:
    """One line per policy record: label and what was published (shared with the HTML)."""
    lines: list[tuple[str, str]] = []
    spf = policy.spf
    lines.append(("SPF", " | ".join(spf.records) if spf.records else "(no v=spf1 record)"))
    dmarc = policy.dmarc
    lines.append(("DMARC", " | ".join(dmarc.records) if dmarc.records else "(no record)"))
    sts = policy.mta_sts
    text = " | ".join(sts.records) if sts.records else "(no record)"
    if sts.policy is not None:
        text += f"; policy mode {sts.policy.mode}, max_age {sts.policy.max_age}"
        text += f", mx {', '.join(sts.policy.mx)}"
    lines.append(("MTA-STS", text))
    rpt = policy.tls_rpt
    lines.append(("TLS-RPT", " | ".join(rpt.records) if rpt.records else "(no record)"))
    for dane in policy.dane:
        shown = ", ".join(r.text[:40] for r in dane.records) or "(no TLSA records)"
        lines.append(("DANE", f"{dane.name}: {shown}"))
    for dkim in policy.dkim:
        lines.append(("DKIM", f"{dkim.name}: " + (" | ".join(dkim.records) or "(no record)")))
    return lines


def _baseline(console: Console, report: CheckReport, verbose: int) -> None:
    """``check --baseline``: one line per change, regressions marked."""
    for change in report.changes:
        line = Text("  ")
        if change.regression:
            line.append("REGRESSION", style="bold yellow")
        else:
            line.append("change    ", style="dim")
        line.append(f"  {change.summary}")
        print_hanging(console, line, 14)


_DETAILS: dict[str, Callable[[Console, CheckReport, int], None]] = {
    "dns": _dns,
    "reachability": _reachability,
    "smtp": _smtp,
    "relay": _relay,
    "blocklist": _blocklist,
    "policy": _policy,
    "baseline": _baseline,
}


def _summary(console: Console, report: CheckReport, number: int) -> None:
    summary = report.summary
    console.print()
    line = Text(f"{number}. Summary", style="bold underline")
    line.append("  ")
    style = {"healthy": "bold green", "problem": "bold yellow"}.get(summary.status, "bold red")
    line.append(SUMMARY_LABEL.get(summary.status, summary.status.upper()), style=style)
    console.print(line)
    counts = summary.counts
    text = Text("  ")
    for severity in Severity:
        text.append(f"{counts.get(severity.value, 0)} {severity.value}", SEVERITY_STYLE[severity])
        text.append("  ")
    if summary.failures:
        text.append(f"{summary.failures} could not complete", style="red")
    console.print(text)
    if summary.top_fixes:
        console.print(Text("  Most important fixes:", style="bold"))
        for index, finding in enumerate(summary.top_fixes, start=1):
            head = Text(f"  {index}. ")
            head.append(f"[{finding.severity.value}] ", SEVERITY_STYLE[finding.severity])
            head.append(f"{finding.summary}")
            print_hanging(console, head, 5)
            print_hanging(console, Text(f"     {finding.fix}", style="dim"), 5)
    console.print(Text(f"  exit code {summary.exit_code}", style="dim"))


# --- live progress ---------------------------------------------------------------------------

_STATE_MARK = {
    "waiting": ("·", "dim"),
    "running": ("…", "cyan"),
    "done": ("✓", "green"),
    "skipped": ("-", "dim"),
}


@contextlib.contextmanager
def progress_display(
    console: Console, domains: Sequence[str]
) -> Iterator[Callable[[int, str, str], None]]:
    """A live table of steps per domain on ``console`` (stderr); yields
    ``update(domain_index, step, state)``. Removed from the screen when done."""
    from rich.live import Live

    from mailprobe.checks.check import STEPS

    states: list[dict[str, str]] = [dict.fromkeys(STEPS, "waiting") for _ in domains]

    def table() -> Table:
        grid = Table(box=None, padding=(0, 1), show_header=True)
        grid.add_column("domain")
        for title in STEPS.values():
            grid.add_column(title)
        for domain, state in zip(domains, states, strict=True):
            cells: list[Text] = [Text(domain)]
            for step in STEPS:
                mark, style = _STATE_MARK.get(state[step], ("?", ""))
                # the mark alone when the terminal is narrow: seven columns of words do not fit
                shown = f"{mark} {state[step]}" if console.width >= 120 else mark
                cells.append(Text(shown, style=style))
            grid.add_row(*cells)
        return grid

    import sys

    # Reports are written while the display runs (a batch streams them): when stdout is not
    # the terminal (a pipe, a file) they go straight there, not through the display.
    with Live(
        table(),
        console=console,
        transient=True,
        refresh_per_second=8,
        redirect_stdout=sys.stdout.isatty(),
        redirect_stderr=False,
    ) as live:

        def update(index: int, step: str, state: str) -> None:
            states[index][step] = state
            live.update(table())

        yield update
