"""`mailprobe tls`: a mail server's TLS posture, enumerated and graded (NCSC-NL guidelines)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.cli.common import emit, global_options, run_async, settings
from mailprobe.cli.options import TLS
from mailprobe.cli.options_typer import typer_command
from mailprobe.errors import UsageError

if TYPE_CHECKING:
    from mailprobe.checks.tls_scan.model import TlsScanReport
    from mailprobe.checks.tls_scan.scan import Target


def _tls(
    host: str | None,
    port: int | None,
    implicit: bool,
    mx: str | None,
    all_exchangers: bool,
    server: list[str] | None,
    helo: str | None,
    ca_file: Path | None,
    connections: int,
) -> int:
    """Enumerate and grade a mail server's TLS: protocol versions, cipher suites and the
    server's order, key exchange groups, compression, renegotiation, Extended Master Secret and
    the certificate, each graded good / sufficient / phase out / insufficient by the NCSC-NL TLS
    guidelines (as the public mail tests use them), with the fix of each item.

    Exit code: 0 nothing insufficient (phase-out items are shown, not counted), 1 something is
    insufficient (or STARTTLS is missing or broken), 2 bad input, 3 no server could be reached.
    """
    cfg = settings()
    from mailprobe.cli.inputs import check_ca_file
    from mailprobe.cli.smtp_options import resolve_helo, resolve_target
    from mailprobe.dns import parse_server

    if all_exchangers and mx is None:
        raise UsageError("--all only applies with --mx DOMAIN")
    target, use_mx = resolve_target(host, mx, cfg, "tls")
    for spec in server or []:
        parse_server(spec)
    if ca_file is not None:
        check_ca_file(ca_file)
    helo_text = resolve_helo(helo, cfg)
    the_port = port if port is not None else 465 if implicit else 25
    inputs: dict[str, Any] = {
        "host": None if use_mx else target,
        "mx": target if use_mx else None,
        "all": all_exchangers,
        "port": the_port,
        "mode": "implicit" if implicit else "starttls",
        "helo": helo_text,
        "servers": list(server or ([cfg.dns_server] if cfg.dns_server else ["system"])),
    }
    report = _run(
        target,
        use_mx,
        all_exchangers,
        the_port,
        "implicit" if implicit else "starttls",
        list(server or []),
        helo_text,
        str(ca_file) if ca_file else None,
        connections,
    )
    from mailprobe.render.tls_scan import render_tls

    verbose = global_options().verbose

    def render(con: Any) -> None:
        render_tls(con, report, verbose)

    return emit("tls", inputs, report, report.exit_code, render, report.failures)


tls = typer_command(_tls, TLS)


def _run(
    target: str,
    use_mx: bool,
    all_exchangers: bool,
    port: int,
    mode: str,
    servers: list[str],
    helo: str,
    ca_file: str | None,
    connections: int,
) -> TlsScanReport:
    from mailprobe.checks.tls_scan.report import check_tls
    from mailprobe.dns import Resolver, addresses, resolve_exchangers
    from mailprobe.errors import ProbeError
    from mailprobe.model import ExitCode, Failure

    cfg = settings()

    async def main() -> TlsScanReport:
        from mailprobe.checks.tls_scan.model import TlsScanReport
        from mailprobe.checks.tls_scan.scan import Target

        resolver = Resolver.from_settings(cfg, servers)
        try:
            targets: list[Target] = []
            try:
                if use_mx:
                    exchangers = await resolve_exchangers(target, resolver)
                    if not all_exchangers:
                        exchangers = exchangers[:1]
                    names = [h for _p, h in exchangers]
                else:
                    names = [target]
                seen: set[str] = set()
                for name in names:
                    found = await _addresses(name, resolver, addresses)
                    for address in found:
                        if address not in seen:
                            seen.add(address)
                            targets.append(Target(name, address, port, mode))  # type: ignore[arg-type]
            except ProbeError as exc:
                return TlsScanReport(target, (), (), (), (exc.failure,), ExitCode.INCOMPLETE, 0.0)
            if not targets:
                failure = Failure("DNS", f"{target}: no address to scan")
                return TlsScanReport(target, (), (), (), (failure,), ExitCode.INCOMPLETE, 0.0)
            return await check_tls(
                target,
                targets,
                helo=helo,
                timeout=cfg.timeout,
                ca_file=ca_file,
                resolver=resolver,
                domain=target if use_mx else None,
                connections=connections,
            )
        finally:
            await resolver.aclose()

    result: TlsScanReport = run_async(main())
    return result


async def _addresses(name: str, resolver: Any, lookup: Any) -> list[str]:
    import ipaddress

    try:
        return [str(ipaddress.ip_address(name))]
    except ValueError:
        found: list[str] = await lookup(name, resolver)
        return found
