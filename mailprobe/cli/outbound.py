"""`mailprobe outbound`: can this machine send mail to the Internet? The outbound checklist."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.cli.common import emit, global_options, run_async, settings
from mailprobe.cli.options import AUTH_MECHANISMS, OUTBOUND
from mailprobe.cli.options_typer import typer_command
from mailprobe.errors import UsageError
from mailprobe.text import has_control_chars

if TYPE_CHECKING:
    from mailprobe.checks.outbound import OutboundReport, OutboundRequest
    from mailprobe.config import Settings

#: The external domain tried when ``--to-domain`` is not given (this contacts the Internet).
DEFAULT_DOMAIN = "gmail.com"
DEFAULT_OTHER_PORTS = (587, 443)


def _outbound(
    to_domain: str | None,
    server: list[str] | None,
    system_server: str | None,
    port: int,
    other_ports: str | None,
    helo: str | None,
    smarthost: str | None,
    tls: bool,
    ca_file: Path | None,
    user: str | None,
    password_env: str | None,
    password_file: Path | None,
    password: str | None,
    auth_mech: str | None,
    sender: str | None,
    recipient: str | None,
    session_timeout: float | None,
) -> int:
    """Check, from this machine, what outgoing mail needs: the DNS server resolves an external
    domain's MX (and the system resolver agrees), TCP port 25 reaches its exchangers (when it
    does not but 587/443 do, port 25 is probably blocked by the network or provider), the HELO
    name is fully qualified and resolves, the outbound address's PTR is forward-confirmed, and
    with --smarthost a submission session (STARTTLS or implicit TLS, AUTH) accepts a test sender
    and recipient, without sending anything.

    The default --to-domain (gmail.com) and the system resolver are on the Internet.

    Exit code: 0 every step passed, 1 a problem found, 2 bad input, 3 a step could not complete
    (a DNS timeout, no exchanger reachable at all).
    """
    cfg = settings()
    from mailprobe.cli.ehlo_run import _address
    from mailprobe.cli.inputs import check_ca_file
    from mailprobe.cli.smtp_options import read_password, resolve_helo
    from mailprobe.dns import parse_server

    domain = _domain(to_domain)
    for spec in server or []:
        parse_server(spec)
    if system_server is not None:
        parse_server(system_server)
    ports = _ports(other_ports)
    helo_name = resolve_helo(helo, cfg)
    if smarthost is None:
        given = [
            name
            for name, value in (
                ("--tls", tls or None),
                ("--user", user),
                ("--ca-file", ca_file),
                ("--auth-mech", auth_mech),
            )
            if value is not None
        ]
        if given:
            raise UsageError(f"{given[0]} only applies with --smarthost HOST[:PORT]")
    if auth_mech is not None and auth_mech.upper() not in AUTH_MECHANISMS:
        raise UsageError(f"--auth-mech {auth_mech!r}: choose LOGIN, PLAIN or CRAM-MD5")
    if ca_file is not None:
        check_ca_file(ca_file)
    smart_host, smart_port = _smarthost(smarthost, tls) if smarthost is not None else ("", 0)
    if sender is not None:
        from_addr = _address(sender, "--from") or ""
    elif cfg.sender:
        from_addr = _address(cfg.sender, cfg.origin("sender")) or ""
    else:
        from_addr = f"postmaster@{helo_name.strip('[]')}" if not helo_name.startswith("[") else ""
        from_addr = from_addr or f"postmaster@{domain}"
    if recipient is not None:
        to_addr = _address(recipient, "--to") or ""
    elif cfg.recipient:
        to_addr = _address(cfg.recipient, cfg.origin("recipient")) or ""
    else:
        to_addr = f"postmaster@{domain}"
    if not from_addr or not to_addr:
        raise UsageError("--from and --to need an address")
    secret, password_source = read_password(user, password_env, password_file, password)

    from mailprobe.checks.outbound import OutboundRequest, SmarthostRequest

    request = OutboundRequest(
        to_domain=domain,
        helo=helo_name,
        port=port,
        other_ports=ports,
        timeout=cfg.timeout,
        session_timeout=session_timeout or cfg.session_timeout,
        smarthost=SmarthostRequest(
            host=smart_host,
            port=smart_port,
            implicit_tls=tls,
            sender=from_addr,
            recipient=to_addr,
            user=user,
            password=secret,
            auth_mechanism=auth_mech.upper() if auth_mech else None,
            ca_file=str(ca_file) if ca_file else None,
        )
        if smarthost is not None
        else None,
    )
    servers = list(server or [])
    inputs: dict[str, Any] = {
        "to_domain": domain,
        "servers": servers or ([cfg.dns_server] if cfg.dns_server else ["system"]),
        "system_server": system_server,
        "port": port,
        "other_ports": list(ports),
        "helo": helo_name,
        "smarthost": f"{smart_host}:{smart_port}" if smarthost is not None else None,
        "mode": ("implicit" if tls else "starttls") if smarthost is not None else None,
        "user": user,
        "password_source": password_source,
        "from": from_addr if smarthost is not None else None,
        "to": to_addr if smarthost is not None else None,
        "timeout": cfg.timeout,
    }
    report = _run(request, servers, system_server, cfg)
    from mailprobe.cli.runtime import redacted

    report = redacted(report)
    verbose = global_options().verbose

    def render(con: Any) -> None:
        from mailprobe.render.outbound import render_outbound

        render_outbound(con, report, verbose)

    return emit("outbound", inputs, report, report.exit_code, render, report.failures)


outbound = typer_command(_outbound, OUTBOUND)


def _domain(value: str | None) -> str:
    from mailprobe.dns import parse_domain

    if value is None:
        return DEFAULT_DOMAIN
    if has_control_chars(value):
        raise UsageError("--to-domain contains a control character: refused")
    if not value.strip():
        raise UsageError("--to-domain needs a domain name")
    try:
        return parse_domain(value)[0]
    except UsageError as exc:
        raise UsageError(f"--to-domain: {exc}") from None


def _ports(value: str | None) -> tuple[int, ...]:
    """``--other-ports 587,443``: distinct ports 1-65535 in order; ``none``: no other port."""
    if value is None:
        return DEFAULT_OTHER_PORTS
    if has_control_chars(value):
        raise UsageError("--other-ports contains a control character: refused")
    if value.strip().lower() == "none":
        return ()
    found: list[int] = []
    for part in value.split(","):
        text = part.strip()
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
            raise UsageError(
                f"--other-ports {value!r}: give ports 1-65535 separated by commas, or none"
            )
        if int(text) not in found:
            found.append(int(text))
    return tuple(found)


def _smarthost(value: str, implicit: bool) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[v6]:PORT`` or a bare IPv6 address; port 587 (465 with
    --tls) when none is given."""
    import ipaddress

    from mailprobe.cli.smtp_options import normalise_host
    from mailprobe.dns.names import port_number, split_host_port

    if has_control_chars(value) or any(ch.isspace() for ch in value.strip()):
        raise UsageError("--smarthost contains spaces or control characters")
    text = value.strip()
    if not text:
        raise UsageError("--smarthost needs a host name or an address")
    what = f"--smarthost {value!r}"
    host, port_text, bracketed = split_host_port(text, what)
    if bracketed:
        host = f"[{host}]"
    elif ":" in host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise UsageError(f"{what}: not a host, HOST:PORT or address") from None
    port = port_number(port_text, what) if port_text is not None else 465 if implicit else 587
    return normalise_host(host, "--smarthost"), port


def _run(
    request: OutboundRequest, servers: list[str], system_server: str | None, cfg: Settings
) -> OutboundReport:
    from mailprobe.checks.outbound import check_outbound
    from mailprobe.dns import Resolver, configured_server, parse_server, system_servers

    async def main() -> OutboundReport:
        resolver = Resolver.from_settings(cfg, servers)
        system: Resolver | None = None
        if system_server is not None:
            system = Resolver([parse_server(system_server)], timeout=cfg.timeout)
        elif (servers or configured_server(cfg) is not None) and list(
            resolver.servers
        ) != system_servers():
            system = Resolver(None, timeout=cfg.timeout)
        try:
            return await check_outbound(request, resolver, system)
        finally:
            await resolver.aclose()
            if system is not None:
                await system.aclose()

    result: OutboundReport = run_async(main())
    return result
