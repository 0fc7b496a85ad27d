"""Terminal output of ``mailprobe outbound``: one section per step, then the findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailprobe.render.console import Text
from mailprobe.render.findings import render_findings
from mailprobe.text import show_controls

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.checks.outbound import MxAnswer, OutboundReport

_VERDICTS = {
    "open": ("port 25 open", "green"),
    "blocked": ("port 25 probably BLOCKED", "bold red"),
    "no-greeting": ("connects, no greeting", "yellow"),
    "unreachable": ("nothing reachable", "bold red"),
    "not-tested": ("not tested", "dim"),
}


def _heading(console: Console, text: str) -> None:
    console.print(Text(text, style="bold underline"))


def _line(console: Console, label: str, value: str, style: str = "") -> None:
    line = Text(f"  {label:<12} ")
    line.append(show_controls(value), style=style)
    console.print(line, soft_wrap=True)


def _mx(answer: MxAnswer) -> str:
    if answer.exchangers:
        return ", ".join(answer.exchangers)
    return answer.status.upper() + (f" ({answer.message})" if answer.message else "")


def render_outbound(console: Console, report: OutboundReport, verbose: int = 0) -> None:
    """The four steps, one section each, then every finding."""
    dns = report.dns
    _heading(console, f"1. DNS: MX of {dns.domain}")
    _line(console, "configured", f"{', '.join(dns.configured.servers)}: {_mx(dns.configured)}")
    if dns.system is not None:
        agree = "agrees" if dns.agree else "DIFFERS"
        _line(console, "system", f"{', '.join(dns.system.servers)}: {_mx(dns.system)}")
        _line(console, "", agree, "green" if dns.agree else "bold red")
    else:
        _line(console, "system", "the configured resolver is the system resolver", "dim")

    step = report.port25
    label, style = _VERDICTS.get(step.verdict, (step.verdict, ""))
    _heading(console, f"2. Port {step.port} to the exchangers: {label}")
    if not step.exchangers:
        _line(console, "", "no exchanger to try", "dim")
    for probe in step.exchangers:
        where = f"{probe.host} ({probe.address})" if probe.address else probe.host
        if probe.status == "greeted":
            text = f"{where}: {probe.banner or ''}"
            if probe.seconds is not None:
                text += f"  [{probe.seconds * 1000:.0f} ms]"
            _line(console, f"pref {probe.preference}", text, "")
        else:
            _line(console, f"pref {probe.preference}", f"{where}: {probe.message}", "yellow")
        for other in probe.other_ports:
            state = "answers" if other.open else f"no ({other.message})"
            _line(console, "", f"port {other.port}: {state}", "green" if other.open else "dim")
    console.print(Text(f"  verdict      {label}", style=style))

    ident = report.identity
    _heading(console, "3. HELO name and PTR")
    helo = ident.helo
    if ident.helo_addresses:
        helo += f" -> {', '.join(ident.helo_addresses)}"
    elif not ident.helo_fqdn:
        helo += " (not fully qualified)"
    else:
        helo += " (does not resolve)"
    _line(console, "HELO", helo)
    if ident.source_address is None:
        _line(console, "source", "unknown (no route found)", "dim")
    else:
        source = ident.source_address + (" (private address)" if ident.source_private else "")
        _line(console, "source", source)
        if ident.ptr_names:
            confirmed = " (forward-confirmed)" if ident.ptr_confirmed else " (NOT confirmed)"
            _line(console, "PTR", ", ".join(ident.ptr_names) + confirmed)
        else:
            _line(console, "PTR", "none", "yellow")

    smart = report.smarthost
    if smart is not None:
        mode = "implicit TLS" if smart.mode == "implicit" else "STARTTLS"
        _heading(console, f"4. Smarthost {smart.host}:{smart.port} ({mode})")
        _line(console, "envelope", f"{smart.sender} -> {smart.recipient}")
        session = smart.session
        if session is not None:
            if session.banner:
                _line(console, "banner", f"{session.banner_code} {session.banner[0]}")
            if session.tls is not None:
                tls = session.tls
                _line(console, "TLS", f"{tls.version or '?'} {tls.cipher or ''}".strip())
            if session.auth is not None:
                auth = f"{session.auth.mechanism or '-'} as {session.auth.user}: "
                auth += "ok" if session.auth.succeeded else "failed"
                _line(console, "AUTH", auth, "" if session.auth.succeeded else "red")
            if session.mail is not None:
                _line(console, "MAIL FROM", f"{session.mail.code} {session.mail.text}")
            for rcpt in session.rcpt:
                _line(console, "RCPT TO", f"{rcpt.code} {rcpt.text}")
        _line(
            console,
            "result",
            "accepted (nothing sent)" if smart.accepted else "NOT accepted",
            "green" if smart.accepted else "bold red",
        )
        if verbose and session is not None:
            from mailprobe.render.transcript import render_transcript

            render_transcript(console, session.transcript, title="Smarthost transcript")
    console.print()
    render_findings(console, report.findings, verbose, heading="Findings")
