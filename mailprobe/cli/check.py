"""`mailprobe check`: the whole inbound mail-flow checklist of one or more domains."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.cli.common import console, emit, global_options, run_async, settings
from mailprobe.cli.options import CHECK
from mailprobe.cli.options_typer import typer_command
from mailprobe.cli.runtime import redacted, write_output_file
from mailprobe.errors import UsageError
from mailprobe.model import worst_exit_code

if TYPE_CHECKING:
    from mailprobe.checks.check import CheckOptions, CheckReport

#: Domains checked at once in a batch (each opens several SMTP connections).
_BATCH_CONCURRENCY = 4


def _check(
    domains: list[str] | None,
    file: Path | None,
    server: list[str] | None,
    smtp_port: int,
    helo: str | None,
    expect: str | None,
    rcpt: str | None,
    no_relay: bool,
    connections: int,
    mta_sts_url: str | None,
    ca_file: Path | None,
    dkim_selector: list[str] | None,
    html: Path | None,
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
    from mailprobe.cli.smtp_options import resolve_helo
    from mailprobe.dns import parse_domain, parse_server
    from mailprobe.smtp.session import check_argument

    if not domains and file is None:
        raise UsageError("give at least one domain, or -f FILE (see 'mailprobe check --help')")
    names = _collect_domains(domains or [], file)
    for source, name in names:
        try:
            parse_domain(name)
        except UsageError as exc:
            raise UsageError(f"{source}{exc}") from None
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
    if html is not None and not html.parent.is_dir():
        raise UsageError(f"--html {html}: directory {html.parent} does not exist")
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
        connections=connections,
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
        "connections": connections,
        "mta_sts_url": mta_sts_url,
        "dkim_selectors": list(selectors),
        "allow_private": allow_private,
        "dnssec": dnssec,
    }
    batch = [name for _source, name in names]
    reports = redacted(_run(batch, list(server or []), options, dnssec))
    if html is not None:
        _write_html(html, reports)
    json_lines = len(reports) > 1
    codes = [_show(report, inputs_base, json_lines) for report in reports]
    if json_lines and not global_options().json:
        from mailprobe.render.batch import render_batch_summary

        render_batch_summary(console(), reports)
    return int(worst_exit_code(codes))


check = typer_command(_check, CHECK)


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
    domains: list[str], servers: list[str], options: CheckOptions, dnssec: bool = True
) -> list[CheckReport]:
    import asyncio
    import contextlib

    from mailprobe.checks.check import run_check
    from mailprobe.dns import Resolver

    cfg = settings()
    results: list[CheckReport | None] = [None] * len(domains)
    display: contextlib.AbstractContextManager[Any] = contextlib.nullcontext(None)
    if sys.stderr.isatty():
        from mailprobe.render.check import progress_display

        display = progress_display(console(stderr=True), domains)

    async def main(update: Any) -> None:
        resolver = Resolver.from_settings(cfg, servers, dnssec=dnssec)
        limit = asyncio.Semaphore(_BATCH_CONCURRENCY)

        async def one(index: int, domain: str) -> None:
            def progress(step: str, state: str) -> None:
                if update is not None:
                    update(index, step, state)

            async with limit:
                results[index] = await run_check(domain, resolver, options, progress)

        try:
            await asyncio.gather(*(one(i, d) for i, d in enumerate(domains)))
        finally:
            await resolver.aclose()

    with display as update:
        run_async(main(update))
    return [r for r in results if r is not None]
