"""`mailprobe mx`: nslookup-style MX verification of one or many domains."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.cli.common import console, emit, global_options, run_async, settings
from mailprobe.cli.options import MX
from mailprobe.cli.options_typer import typer_command
from mailprobe.errors import UsageError
from mailprobe.model import worst_exit_code

if TYPE_CHECKING:
    from mailprobe.checks.mx import MxOptions, MxReport
    from mailprobe.dns import DnsServer

#: Show a progress bar (on a terminal) for batches larger than this.
_PROGRESS_MIN = 5


def _mx(
    domains: list[str] | None,
    file: Path | None,
    shard: str | None,
    server: list[str] | None,
    tcp: bool,
    doh: str | None,
    dnssec: bool,
    connect: bool,
    smtp_port: int,
    concurrency: int | None,
) -> int:
    """Show and verify the MX records of domains, like nslookup -q=mx, with diagnoses.

    Exit code: 0 healthy, 1 a problem was found, 2 bad input, 3 a lookup could not complete
    (for a batch: the worst of its domains). With --shard K/N only the domains of that shard
    are checked, always as a batch (JSON Lines).
    """
    cfg = settings()
    from mailprobe.checks.mx import MxOptions
    from mailprobe.cli.shard import parse_shard, select_shard
    from mailprobe.dns import configured_server, parse_doh_url, parse_domain, parse_server

    if shard is not None:
        parse_shard(shard)  # before any input is read
    names = _collect_domains(domains or [], file)
    for source, name in names:
        try:
            parse_domain(name)
        except UsageError as exc:
            raise UsageError(f"{source}{exc}") from None
    names = select_shard(names, shard)
    servers = [parse_server(s) for s in server or []]
    if doh:
        from mailprobe.cli.inputs import check_url_host

        servers.append(parse_doh_url(doh))
        check_url_host(doh, "--doh")  # a..b, a 64-character label, fe80::1%eth0: refused
    if not servers and (configured := configured_server(cfg)) is not None:
        servers.append(configured)
    options = MxOptions(
        connect=connect,
        smtp_port=smtp_port,
        timeout=cfg.timeout,
        session_timeout=max(cfg.session_timeout, cfg.timeout),
    )
    inputs_base: dict[str, Any] = {
        "servers": [s.label for s in servers] or ["system"],
        "tcp": tcp,
        "dnssec": dnssec,
        "connect": connect,
        "smtp_port": smtp_port if connect else None,
    }
    batch = [name for _source, name in names]
    limit = concurrency or cfg.concurrency
    if len(batch) == 1 and shard is None:
        report = _run(batch, servers, tcp, dnssec, options, limit, lambda _i, _r: None)[0]
        return _show(report, inputs_base, dnssec, json_lines=False)

    printer = _InOrderPrinter(len(batch), inputs_base, dnssec)
    show_progress = len(batch) > _PROGRESS_MIN and sys.stderr.isatty()
    if show_progress:
        from mailprobe.render.mx import progress_display

        with progress_display(len(batch), console(stderr=True)) as advance:
            reports = _run(batch, servers, tcp, dnssec, options, limit, lambda _i, _r: advance())
        for report in reports:
            printer.codes.append(_show(report, inputs_base, dnssec, json_lines=True))
    else:
        reports = _run(batch, servers, tcp, dnssec, options, limit, printer.add)
    if global_options().text:
        from mailprobe.render.batch import render_batch_summary

        render_batch_summary(console(), reports)
    return int(worst_exit_code(printer.codes))


mx = typer_command(_mx, MX)


class _InOrderPrinter:
    """Prints reports in input order as soon as every earlier one is done."""

    def __init__(self, total: int, inputs: dict[str, Any], dnssec: bool) -> None:
        self.pending: dict[int, MxReport] = {}
        self.next = 0
        self.total = total
        self.inputs = inputs
        self.dnssec = dnssec
        self.codes: list[int] = []

    def add(self, index: int, report: MxReport) -> None:
        self.pending[index] = report
        while self.next in self.pending:
            ready = self.pending.pop(self.next)
            self.codes.append(_show(ready, self.inputs, self.dnssec, json_lines=True))
            self.next += 1


def _show(report: MxReport, inputs_base: dict[str, Any], dnssec: bool, json_lines: bool) -> int:
    from mailprobe.render.mx import render_batch_separator, render_mx

    code = report.exit_code
    inputs = {"domain": report.domain, **inputs_base}
    verbose = global_options().verbose

    def render(con: Any) -> None:
        if json_lines:
            render_batch_separator(con)
        render_mx(con, report, verbose, dnssec)

    return emit("mx", inputs, report, code, render, report.failures, json_lines=json_lines)


def _run(
    domains: list[str],
    servers: list[DnsServer],
    tcp: bool,
    dnssec: bool,
    options: MxOptions,
    concurrency: int,
    on_result: Any,
) -> list[MxReport]:
    from mailprobe.checks.mx import check_batch
    from mailprobe.dns import Resolver

    cfg = settings()
    results: list[MxReport | None] = [None] * len(domains)

    def collect(index: int, report: MxReport) -> None:
        results[index] = report
        on_result(index, report)

    async def main() -> None:
        if servers:
            resolvers = [
                Resolver([s], timeout=cfg.timeout, tcp=tcp, dnssec=dnssec) for s in servers
            ]
        else:
            resolvers = [Resolver.from_settings(cfg, tcp=tcp, dnssec=dnssec)]
        try:
            await check_batch(domains, resolvers, options, concurrency, collect)
        finally:
            for resolver in resolvers:
                await resolver.aclose()

    run_async(main())
    return [r for r in results if r is not None]


def _collect_domains(
    arguments: list[str], file: Path | None, noun: str = "domain"
) -> list[tuple[str, str]]:
    """(where it came from, item) for every domain (or other ``noun``) given, in input order."""
    from mailprobe.files import read_stream_text, read_text

    names: list[tuple[str, str]] = []
    stdin_used = False
    for arg in arguments:
        if arg == "-":
            if not stdin_used:
                names.extend(_read_lines(read_stream_text(sys.stdin), "stdin"))
                stdin_used = True
        else:
            names.append(("", arg))
    if file is not None:
        if str(file) == "-":
            if not stdin_used:
                names.extend(_read_lines(read_stream_text(sys.stdin), "stdin"))
        else:
            # bounded, a file or a pipe with a writer (mailprobe/files.py)
            names.extend(_read_lines(read_text(file, "--file"), str(file)))
    if not names:
        raise UsageError(f"give at least one {noun}, or -f FILE (see 'mailprobe --help')")
    return names


def _read_lines(text: str, source: str) -> list[tuple[str, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if content:
            found.append((f"{source} line {number}: ", content))
    return found
