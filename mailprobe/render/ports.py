"""Terminal output of ``mailprobe ports``: one line per port, then the findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailprobe.render.console import Text
from mailprobe.render.findings import print_hanging, render_findings
from mailprobe.text import show_controls

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.checks.ports import PortResult, PortsReport

_STATE_STYLE = {"open": "green", "closed": "dim", "filtered": "yellow", "error": "yellow"}
_SERVICE = {
    "smtp": "SMTP",
    "pop3": "POP3",
    "imap": "IMAP",
    "nntp": "NNTP",
    "http": "HTTP",
    "silent": "silent",
    "unknown": "unknown",
    "closed-at-once": "closed",
}


def render_ports(console: Console, report: PortsReport, verbose: int = 0) -> None:
    """The host, each port's state, latency and service, then the findings."""
    head = Text("ports ", style="bold")
    head.append(report.host, style="bold")
    if report.address is not None and report.address != report.host:
        head.append(f" [{report.address}]")
    what = f"profile {report.profile}" if report.profile else "ports given"
    head.append(f"  {len(report.ports)} ports ({what}), {report.seconds:.2f} s", style="dim")
    console.print(head)
    usual_width = max((len(r.usual) for r in report.results), default=0)
    for result in report.results:
        _port_line(console, result, usual_width, verbose)
    counts = {
        state: sum(1 for r in report.results if r.state == state)
        for state in ("open", "closed", "filtered", "error")
    }
    if report.results:
        console.print(
            Text(
                "  " + ", ".join(f"{n} {state}" for state, n in counts.items() if n),
                style="dim",
            )
        )
    render_findings(console, report.findings, verbose, heading="Findings")


def _port_line(console: Console, result: PortResult, usual_width: int, verbose: int) -> None:
    line = Text(f"  {result.port:>5}  ")
    line.append(f"{result.usual:<{usual_width}}  ")
    line.append(f"{result.state:<8}", style=_STATE_STYLE[result.state])
    latency = f"{result.latency_ms:.1f} ms" if result.latency_ms is not None else ""
    line.append(f" {latency:>9}  ")
    hang = len(line.plain)
    if result.state == "open":
        label = _SERVICE.get(result.service, result.service)
        silent = result.service == "silent" and result.detail.startswith("silent")
        line.append(result.detail if silent else label, style="bold")
        if result.tls is not None:
            line.append(f" in {result.tls.version or 'TLS'}")
        if result.greeting:
            line.append("  " + show_controls(result.greeting))
        if result.detail and not silent:
            line.append(f"  ({result.detail})", style="dim")
        if result.message:
            line.append(f"  {show_controls(result.message)}", style="yellow")
    elif result.message and (verbose or result.state == "error"):
        line.append(result.message, style="dim")
    print_hanging(console, line, hang)
    if result.tls is not None and result.tls.subject:
        cert = Text(" " * hang + "certificate: " + show_controls(result.tls.subject), style="dim")
        if verbose and result.tls.issuer:
            cert.append(f"; issuer {show_controls(result.tls.issuer)}")
        if verbose and result.tls.not_after:
            cert.append(f"; expires {result.tls.not_after}")
        print_hanging(console, cert, hang + 2)
