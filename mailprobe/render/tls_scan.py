"""Terminal output of ``mailprobe tls``: per server, the versions and suites with their grade,
the other items, the certificate, then the findings (worst first, each with its fix)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailprobe.render.console import Text
from mailprobe.render.findings import print_hanging, render_findings

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.checks.tls_scan.model import ServerTls, TlsScanReport

#: How each level is shown.
LEVEL_STYLE = {
    "good": "green",
    "sufficient": "green",
    "phase-out": "yellow",
    "insufficient": "bold red",
    "untestable": "yellow",
}


def render_tls(console: Console, report: TlsScanReport, verbose: int = 0) -> None:
    console.print(Text(f"mailprobe tls {report.target}", style="bold"))
    for server in report.servers:
        _server(console, server, verbose)
    if report.delivery_notes:
        console.print(Text("Certificate changes and delivery", style="bold underline"))
        for note in report.delivery_notes:
            print_hanging(console, Text(f"  {note}"), 4)
    render_findings(
        console,
        [f for f in report.findings if f.code != "tls.delivery-note"],
        verbose,
        heading="Findings",
    )
    console.print(Text(f"  {report.seconds:.1f} s, exit code {report.exit_code}", style="dim"))


def _server(console: Console, server: ServerTls, verbose: int) -> None:
    head = Text(f"{server.host} [{server.address}]:{server.port} ({server.mode})  ", style="bold")
    head.append(server.verdict.upper(), style=LEVEL_STYLE.get(server.verdict, ""))
    console.print(head)
    if not server.reachable:
        console.print(Text(f"  {server.error}", style="yellow"))
        return
    for protocol in server.protocols:
        line = Text(f"  {protocol.version:<8} ")
        if protocol.accepted is None:
            line.append("not tested", style="yellow")
            line.append(f"  {protocol.note}", style="dim")
        elif protocol.accepted:
            line.append("accepted", style=LEVEL_STYLE[protocol.level])
            line.append(f"  ({protocol.level})", style="dim")
        else:
            line.append("refused", style="dim")
        console.print(line)
        for cipher in protocol.ciphers:
            row = Text(f"    {cipher.name:<46} ")
            row.append(f"{cipher.level:<12}", style=LEVEL_STYLE[cipher.level])
            if cipher.key_exchange and verbose:
                row.append(f" {cipher.key_exchange}", style="dim")
            console.print(row, soft_wrap=True)
    order = {True: "server's own", False: "the client's (phase-out suites win)", None: "n/a"}
    facts = [
        ("groups", ", ".join(server.groups) or "-"),
        ("DH sizes", ", ".join(str(b) for b in server.dh_bits) or "-"),
        ("suite order", order[server.server_cipher_order]),
        ("compression", _yes_no(server.compression)),
        ("secure renegotiation", _yes_no(server.secure_renegotiation)),
        ("client renegotiation", _yes_no(server.client_renegotiation)),
        ("extended master secret", _yes_no(server.extended_master_secret)),
    ]
    cert = server.certificate
    if cert is not None:
        trust = {True: "trusted", False: f"NOT trusted ({cert.trust_error})", None: "not checked"}
        facts += [
            ("certificate", f"{cert.subject}; names {', '.join(cert.names) or '-'}"),
            ("  key", f"{cert.key_type} {cert.key_bits or ''} {cert.key_curve or ''}".strip()),
            ("  signature", cert.signature_hash or "-"),
            ("  expires", f"{cert.not_after[:10]} ({cert.days_left} days)"),
            ("  chain", f"{cert.chain_length} certificates, {trust[cert.trusted]}"),
            ("  OCSP stapling", _yes_no(cert.ocsp_stapled)),
        ]
    for label, value in facts:
        print_hanging(console, Text(f"  {label + ':':<24} {value}"), 27)


def _yes_no(value: bool | None) -> str:
    return "not tested" if value is None else "yes" if value else "no"
