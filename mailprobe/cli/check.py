"""`mailprobe check`: the whole inbound mail-flow checklist of one or more domains."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.cli.common import console, emit, global_options, run_async, settings
from mailprobe.cli.inputs import check_output_file
from mailprobe.cli.options import CHECK
from mailprobe.cli.options_typer import typer_command
from mailprobe.cli.runtime import redacted, write_output_file
from mailprobe.errors import UsageError
from mailprobe.model import ExitCode, Finding, Severity, hostport, worst_exit_code

if TYPE_CHECKING:
    from mailprobe.checks.check import Change, CheckOptions, CheckReport

#: Domains checked at once in a batch by default (each opens several SMTP connections; the
#: run-wide connection limits keep each exchanger address bounded whatever this is).
_BATCH_CONCURRENCY = 16
#: How far past the next domain due for output a batch may start domains (times the
#: concurrency): bounds the finished-but-not-yet-due results held in memory.
_WINDOW = 4


def _check(
    domains: list[str] | None,
    file: Path | None,
    shard: str | None,
    server: list[str] | None,
    smtp_port: int,
    helo: str | None,
    expect: str | None,
    rcpt: str | None,
    no_relay: bool,
    tls_scan: bool,
    no_blocklist: bool,
    connections: int,
    connect_rate: int | None,
    concurrency: int | None,
    mta_sts_url: str | None,
    ca_file: Path | None,
    dkim_selector: list[str] | None,
    html: Path | None,
    baseline: Path | None,
    dnssec: bool,
    allow_private: bool,
) -> int:
    """Run the inbound mail-flow checklist: DNS, reachability, SMTP, relay, policy records.

    Exit code: 0 healthy, 1 a problem was found, 2 bad input, 3 a part could not complete
    (e.g. an exchanger is unreachable; everything else is still reported). A batch exits with
    the worst code of its domains; with --json it prints one JSON object per line.
    """
    cfg = settings()
    from mailprobe.checks.check import CheckOptions
    from mailprobe.checks.ehlo import configured_profile, get_profile
    from mailprobe.cli.inputs import check_ca_file, check_url_host
    from mailprobe.cli.mx import _collect_domains
    from mailprobe.cli.shard import parse_shard, select_shard
    from mailprobe.cli.smtp_options import resolve_helo
    from mailprobe.dns import parse_domain, parse_server
    from mailprobe.smtp.session import check_argument

    if not domains and file is None:
        raise UsageError("give at least one domain, or -f FILE (see 'mailprobe check --help')")
    if shard is not None:
        parse_shard(shard)  # before any input is read
    names = _collect_domains(domains or [], file)
    for source, name in names:
        try:
            parse_domain(name)
        except UsageError as exc:
            raise UsageError(f"{source}{exc}") from None
    names = select_shard(names, shard)  # --shard K/N: a batch (JSON Lines) even of one
    for spec in server or []:
        parse_server(spec)
    helo_text = resolve_helo(helo, cfg)
    profile = expect or cfg.expect
    if expect:
        get_profile(expect)
    else:
        configured_profile(cfg)
    if rcpt is not None:
        check_argument(rcpt, "--to")
        local, at, where = rcpt.rpartition("@")
        if not at or not local or not where or " " in rcpt:
            raise UsageError(f"--to {rcpt!r} is not an address (user@domain)")
    if ca_file is not None:
        check_ca_file(ca_file)  # a readable file that holds a certificate
    if mta_sts_url is not None and not mta_sts_url.lower().startswith(("https://", "http://")):
        raise UsageError(f"--mta-sts-url {mta_sts_url!r}: expected an https:// URL")
    if mta_sts_url is not None:
        check_url_host(mta_sts_url, "--mta-sts-url")
    check_output_file(html, "--html")  # said before the run, not as a late second error
    if cfg.blocklist_zones and not no_blocklist:
        from mailprobe.checks.blocklist import select_lists

        try:
            select_lists(cfg.blocklist_zones)
        except UsageError as exc:
            raise cfg.error("blocklist_zones", str(exc)) from None
    previous = None
    if baseline is not None:  # read, checked and indexed before the run (bad file: exit 2)
        from mailprobe.checks.check.baseline import load_baseline

        previous = load_baseline(baseline)
    selectors = tuple(dkim_selector or ())
    for selector in selectors:
        check_argument(selector, "--dkim-selector")
        if not selector or any(ch.isspace() or ch == "/" for ch in selector):
            raise UsageError(f"--dkim-selector {selector!r} is not a DNS label")
    options = CheckOptions(
        smtp_port=smtp_port,
        helo=helo_text,
        expect=profile,
        expect_origin="--expect" if expect else cfg.origin("expect"),
        rcpt=rcpt,
        sender="",
        relay=not no_relay,
        blocklist=not no_blocklist,
        blocklist_zones=tuple(cfg.blocklist_zones),
        tls_scan=tls_scan,
        connections=connections,
        connect_rate=connect_rate or cfg.connect_rate,
        mta_sts_url=mta_sts_url,
        ca_file=str(ca_file) if ca_file else None,
        dkim_selectors=selectors,
        allow_private=allow_private,
        timeout=cfg.timeout,
        session_timeout=cfg.session_timeout,
    )
    inputs_base: dict[str, Any] = {
        "servers": list(server or ([cfg.dns_server] if cfg.dns_server else ["system"])),
        "smtp_port": smtp_port,
        "helo": helo_text,
        "expect": profile,
        "rcpt": rcpt,
        "relay": not no_relay,
        "blocklist": not no_blocklist,
        "tls_scan": tls_scan,
        "connections": connections,
        "connect_rate": connect_rate or cfg.connect_rate,
        "mta_sts_url": mta_sts_url,
        "dkim_selectors": list(selectors),
        "allow_private": allow_private,
        "dnssec": dnssec,
        "baseline": str(baseline) if baseline is not None else None,
    }
    options = dataclasses.replace(options, limits=options.new_limits())  # run-wide, read below
    batch = [name for _source, name in names]
    json_lines = len(batch) > 1 or shard is not None
    kept: list[CheckReport] = []  # only for --html, which needs every report
    tally: list[_Tally] = []  # what the batch summary needs: small, one per domain
    codes: list[int] = []
    checked: list[str] = []  # --baseline: the domains of this run, for "not checked this run"

    def done(report: CheckReport) -> None:
        # Called in input order as soon as each domain is due: written now, not gathered.
        if previous is not None:
            report = previous.apply(report)  # the changes, and check.regressed when worse
            checked.append(report.domain_ascii)
        report = redacted(report)
        if html is not None:
            kept.append(report)
        if json_lines:
            tally.append(_Tally.of(report))
        codes.append(_show(report, inputs_base, json_lines))

    for report in _run(  # a replaced _run (tests) may return its reports instead
        batch,
        list(server or []),
        options,
        dnssec,
        concurrency=concurrency or _BATCH_CONCURRENCY,
        on_report=done,
    ):
        done(report)
    if html is not None:
        _write_html(html, kept)
    if json_lines and global_options().text:
        from mailprobe.render.batch import render_batch_summary

        assert options.limits is not None
        throttled = {
            hostport(address, port): count
            for (address, port), count in options.limits.throttled.items()
        }
        render_batch_summary(console(), tally, throttled)
    if previous is not None and global_options().text:
        from mailprobe.render.batch import render_baseline_summary

        unchecked = previous.unchecked(checked, shard)
        render_baseline_summary(console(), tally if json_lines else [], unchecked)
    return int(worst_exit_code(codes))


check = typer_command(_check, CHECK)


@dataclasses.dataclass(frozen=True)
class _Tally:
    """One domain as the batch summary sees it (``render.batch.DomainResult``)."""

    domain: str
    exit_code: ExitCode
    findings: tuple[Finding, ...]
    changes: tuple[Change, ...] = ()

    @classmethod
    def of(cls, report: CheckReport) -> _Tally:
        return cls(
            report.domain,
            report.exit_code,
            tuple(f for f in report.findings if f.severity != Severity.OK),
            report.changes,
        )


def _show(report: CheckReport, inputs_base: dict[str, Any], json_lines: bool) -> int:
    from mailprobe.render.check import render_check

    inputs = {"domain": report.domain, **inputs_base}
    verbose = global_options().verbose

    def render(con: Any) -> None:
        render_check(con, report, verbose, separator=json_lines)

    return emit(
        "check", inputs, report, report.exit_code, render, report.failures, json_lines=json_lines
    )


def _write_html(path: Path, reports: list[CheckReport]) -> None:
    from mailprobe.render.html import render_html

    try:
        write_output_file(path, render_html(redacted(reports)))  # mode 0600, redacted
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _run(
    domains: list[str],
    servers: list[str],
    options: CheckOptions,
    dnssec: bool = True,
    *,
    concurrency: int = _BATCH_CONCURRENCY,
    on_report: Callable[[CheckReport], None] | None = None,
) -> list[CheckReport]:
    """Check ``domains``, ``concurrency`` at once, sharing one ``ConnectionLimits`` and one
    exchanger cache across the run. With ``on_report``, each report is handed over in input
    order as soon as it is due (only finished-but-not-yet-due reports are held) and the list
    returned is empty; without it, every report is returned, in input order."""
    import asyncio
    import contextlib

    from mailprobe.checks.check import ExchangerCache, run_check
    from mailprobe.dns import Resolver

    cfg = settings()
    collected: list[CheckReport] = []
    deliver = on_report if on_report is not None else collected.append
    if options.limits is None:
        options = dataclasses.replace(options, limits=options.new_limits())
    if options.cache is None:
        options = dataclasses.replace(options, cache=ExchangerCache())
    cache = options.cache
    display: contextlib.AbstractContextManager[Any] = contextlib.nullcontext(None)
    if sys.stderr.isatty():
        from mailprobe.render.check import progress_display

        display = progress_display(console(stderr=True), domains)

    async def main(update: Any) -> None:
        resolver = Resolver.from_settings(cfg, servers, dnssec=dnssec)
        limit = asyncio.Semaphore(concurrency)
        window = asyncio.Condition()
        finished: dict[int, CheckReport] = {}
        due = 0

        async def one(index: int, domain: str) -> None:
            nonlocal due

            def progress(step: str, state: str) -> None:
                if update is not None:
                    update(index, step, state)

            try:
                report = await run_check(domain, resolver, options, progress)
            finally:
                limit.release()
            finished[index] = report
            async with window:
                while due in finished:
                    deliver(finished.pop(due))
                    due += 1
                window.notify_all()

        tasks: set[asyncio.Task[None]] = set()
        try:
            for index, domain in enumerate(domains):

                def room(i: int = index) -> bool:
                    return i - due < concurrency * _WINDOW

                async with window:
                    await window.wait_for(room)
                await limit.acquire()
                task = asyncio.ensure_future(one(index, domain))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                # A failed domain (a bug, never network trouble) stops the batch.
                for other in [t for t in tasks if t.done()]:
                    other.result()
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await resolver.aclose()
            if cache is not None:
                await cache.aclose()

    with display as update:
        run_async(main(update))
    return collected
