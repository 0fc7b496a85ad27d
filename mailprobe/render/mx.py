"""Terminal output of ``mailprobe mx``: nslookup-like records, then the findings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from mailprobe.render.console import Text
from mailprobe.render.findings import render_findings

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.checks.mx import Exchanger, ExchangerAddress, MxReport, ServerView

_PTR_TEXT = {
    "confirmed": "PTR {names} (forward-confirmed)",
    "mismatch": "PTR {names} (does not resolve back)",
    "missing": "no PTR",
    "unverified": "PTR not checked (lookup failed)",
}


def render_mx(console: Console, report: MxReport, verbose: int = 0, dnssec: bool = False) -> None:
    """Print one domain's report: per server the MX records and addresses, then findings."""
    title = report.domain_ascii
    if report.domain_unicode != report.domain_ascii:
        title = f"{report.domain_unicode} (A-label {report.domain_ascii})"
    console.print(Text(title, style="bold"))
    for view in report.servers:
        _render_view(console, report, view, dnssec)
    if report.differences:
        console.print()
        console.print(Text("Differences between servers:", style="bold yellow"))
        for line in report.differences:
            console.print(Text(f"  {line}"))
    console.print()
    render_findings(console, report.findings, verbose, indent=0)


def _render_view(console: Console, report: MxReport, view: ServerView, dnssec: bool) -> None:
    console.print()
    server, _sep, port = view.server.rpartition(":")
    if view.server.startswith("http"):
        server, port = view.server, ""
    console.print(Text(f"Server:   {view.server_name or '(no name)'}"))
    console.print(Text(f"Address:  {server.strip('[]')}" + (f"  port {port}" if port else "")))
    if dnssec:
        state = "authenticated (AD)" if view.authenticated else "not authenticated"
        console.print(Text(f"DNSSEC:   {state}"))
    console.print()
    domain = report.domain_ascii
    if view.failures:
        for failure in view.failures:
            console.print(Text(f"*** {failure.one_line()}", style="red"))
        if view.mx_status != "ok":
            return
    if view.mx_status == "nxdomain":
        console.print(Text(f"*** {domain}: no such domain (NXDOMAIN)", style="red"))
        return
    if view.null_mx:
        console.print(Text(f"{domain}   MX preference = 0, mail exchanger = .  (null MX: no mail)"))
        return
    if view.implicit_mx is not None:
        console.print(Text(f"{domain}   no MX records; implicit MX: the domain's own addresses"))
        _render_addresses(console, view.implicit_mx)
        return
    ttl = f"   TTL {view.mx_ttl}" if view.mx_ttl is not None else ""
    for ex in view.exchangers:
        console.print(
            Text(
                f"{domain}   MX preference = {ex.preference}, mail exchanger = "
                f"{_show_host(ex)}{ttl}"
            )
        )
    if view.exchangers:
        best = view.exchangers[0].preference
        top = [e for e in view.exchangers if e.preference == best]
        if len(top) > 1:
            console.print(Text(f"  ({len(top)} exchangers share preference {best}: load-balanced)"))
        if len({e.host for e in view.exchangers}) == 1:
            console.print(Text("  (one exchanger: no backup exchanger)"))
    console.print()
    for ex in view.exchangers:
        _render_addresses(console, ex)


def _show_host(ex: Exchanger) -> str:
    if ex.host_unicode != ex.host:
        return f"{ex.host_unicode} ({ex.host})"
    return ex.host


def _render_addresses(console: Console, ex: Exchanger) -> None:
    host = ex.host
    if ex.ip_literal:
        console.print(Text(f"{ex.host}   is an IP address literal, not a host name", "red"))
        return
    if ex.cname_chain:
        console.print(Text(f"{host}   canonical name = {' -> '.join(ex.cname_chain)}"))
    if not ex.addresses:
        console.print(
            Text(f"{ex.host}   no addresses (A {ex.ipv4_status}, AAAA {ex.ipv6_status})", "red")
        )
    for addr in ex.addresses:
        kind = "internet address" if addr.family == 4 else "IPv6 address"
        scope = "" if addr.scope == "public" else f" [{addr.scope}]"
        console.print(Text(f"{host}   {kind} = {addr.address}{scope}   {_ptr_text(addr)}"))
        if addr.connect is not None:
            _render_probe(console, addr)


def _ptr_text(addr: ExchangerAddress) -> str:
    return _PTR_TEXT[addr.ptr_status].format(names=", ".join(addr.ptr))


def _render_probe(console: Console, addr: ExchangerAddress) -> None:
    probe = addr.connect
    assert probe is not None
    latency = f" in {probe.latency_ms:g} ms" if probe.latency_ms is not None else ""
    if probe.status in ("banner", "rejected"):
        style = "green" if probe.status == "banner" else "yellow"
        line = Text(f"    port {probe.port}: connected{latency}, greeting: ", style=style)
        line.append(probe.banner)
        console.print(line)
    else:
        console.print(Text(f"    port {probe.port}: {probe.message or probe.status}", "yellow"))


def render_batch_separator(console: Console) -> None:
    """A rule between domains of a batch."""
    console.rule(style="dim")


@contextlib.contextmanager
def progress_display(total: int, console: Console) -> Iterator[Callable[[], None]]:
    """A progress bar on ``console`` (stderr); yields a function to call once per domain."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("mx", total=total)
        yield lambda: progress.advance(task)
