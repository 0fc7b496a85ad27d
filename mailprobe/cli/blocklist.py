"""`mailprobe blocklist`: are these addresses, hosts or a domain's exchangers on DNS blocklists?"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mailprobe.cli.common import console, emit, global_options, run_async, settings
from mailprobe.cli.options import BLOCKLIST
from mailprobe.cli.options_typer import typer_command
from mailprobe.errors import UsageError
from mailprobe.model import worst_exit_code

if TYPE_CHECKING:
    from mailprobe.checks.blocklist import Blocklist, BlocklistReport

TargetKind = Literal["address", "host", "mx"]
#: Targets worked on at once (their lookups share the run's --concurrency budget).
_TARGETS_AT_ONCE = 256


def _blocklist(
    targets: list[str] | None,
    file: Path | None,
    mx: list[str] | None,
    zone: list[str] | None,
    add_zone: list[str] | None,
    server: list[str] | None,
    self_test: bool,
    concurrency: int | None,
    list_lists: bool,
) -> int:
    """Look addresses, host names and a domain's exchangers up on DNS blocklists (DNSBL).

    Each list's answer is decoded (what the listing means, the list's reason, how removal
    works); error answers (a public resolver refused, a rate limit) and lists that fail their
    self-test are said as such, never read as "listed" or "not listed".

    Exit code: 0 nothing listed, 1 listed on a blocklist (or a list refused the query), 2 bad
    input, 3 no list could be asked. Several targets print one JSON object per line.
    """
    cfg = settings()
    from mailprobe.checks.blocklist import known_lists, select_lists
    from mailprobe.dns import parse_domain, parse_server

    if list_lists:
        return _show_lists(known_lists())
    items: list[tuple[str, TargetKind]] = []
    if targets or file is not None:
        from mailprobe.cli.mx import _collect_domains

        for source, text in _collect_domains(targets or [], file, "target"):
            items.append((_target(text, source), _kind(text)))
    for domain in mx or []:
        try:
            items.append((parse_domain(domain)[0], "mx"))
        except UsageError as exc:
            raise UsageError(f"--mx: {exc}") from None
    if not items:
        raise UsageError(
            "give at least one address or host name, -f FILE or --mx DOMAIN "
            "(see 'mailprobe blocklist --help')"
        )
    for spec in server or []:
        parse_server(spec)
    if not zone and cfg.blocklist_zones:
        try:
            select_lists(cfg.blocklist_zones)
        except UsageError as exc:
            raise cfg.error("blocklist_zones", str(exc)) from None
    lists = select_lists(list(zone or cfg.blocklist_zones), add_zone or [])
    inputs_base: dict[str, Any] = {
        "servers": list(server or ([cfg.dns_server] if cfg.dns_server else ["system"])),
        "zones": [b.zone if b.server is None else f"{b.zone}@{b.server}" for b in lists],
        "self_test": self_test,
    }
    json_lines = len(items) > 1
    codes: list[int] = []
    reports: list[BlocklistReport] = []

    def show(report: BlocklistReport) -> None:
        codes.append(_show(report, inputs_base, json_lines))
        if json_lines and global_options().text:
            reports.append(report)

    _run(items, lists, list(server or []), self_test, concurrency or 256, show)
    if json_lines and global_options().text:
        from mailprobe.render.batch import render_batch_summary

        render_batch_summary(console(), reports, noun="targets")
    return int(worst_exit_code(codes))


blocklist = typer_command(_blocklist, BLOCKLIST)


def _kind(text: str) -> TargetKind:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return "host"
    return "address"


def _target(text: str, source: str) -> str:
    """An address (as Python writes it) or a host name (A-labels); else a usage error."""
    from mailprobe.dns import parse_domain
    from mailprobe.smtp.session import check_argument

    check_argument(text, "target")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        return parse_domain(text)[0]
    except UsageError as exc:
        raise UsageError(
            f"{source}{exc} (expected an IPv4 or IPv6 address or a host name)"
        ) from None


def _show(report: BlocklistReport, inputs_base: dict[str, Any], json_lines: bool) -> int:
    from mailprobe.render.blocklist import render_batch_line, render_blocklist

    inputs = {"target": report.target, "target_kind": report.target_kind, **inputs_base}
    verbose = global_options().verbose

    def render(con: Any) -> None:
        if json_lines and not verbose:
            render_batch_line(con, report)
        else:
            render_blocklist(con, report, verbose)

    return emit(
        "blocklist",
        inputs,
        report,
        report.exit_code,
        render,
        report.failures,
        json_lines=json_lines,
    )


def _show_lists(lists: tuple[Blocklist, ...]) -> int:
    if global_options().json:
        from mailprobe.cli.runtime import print_json
        from mailprobe.model import envelope

        print_json(envelope("blocklist", {"list": True}, {"lists": lists}, 0))
        return 0
    from mailprobe.render.blocklist import render_lists

    render_lists(console(), lists)
    return 0


def _run(
    items: list[tuple[str, TargetKind]],
    lists: tuple[Blocklist, ...],
    servers: list[str],
    self_test: bool,
    concurrency: int,
    show: Any,
) -> None:
    """Check every target with one session (lists self-tested once), shown in input order."""
    import asyncio
    import collections
    import itertools

    from mailprobe.checks.blocklist import Session, check_targets
    from mailprobe.dns import Resolver

    cfg = settings()

    async def main() -> None:
        resolver = Resolver.from_settings(cfg, servers)
        session = Session(lists, resolver, self_test=self_test, concurrency=concurrency)
        pending: collections.deque[asyncio.Task[BlocklistReport]] = collections.deque()
        queue = iter(items)
        try:
            for target, kind in itertools.islice(queue, _TARGETS_AT_ONCE):
                pending.append(asyncio.ensure_future(check_targets(target, kind, session)))
            while pending:  # in input order; a window of targets in flight behind the first
                report = await pending.popleft()
                for target, kind in itertools.islice(queue, 1):
                    pending.append(asyncio.ensure_future(check_targets(target, kind, session)))
                show(report)
        finally:
            for task in pending:
                task.cancel()
            await session.aclose()
            await resolver.aclose()

    run_async(main())
