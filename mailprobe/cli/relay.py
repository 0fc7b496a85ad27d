"""`mailprobe relay-test`: the open-relay battery against a server or every exchanger of a domain.

See docs/relay-test.md for the variants, the verdict rules and the caveats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mailprobe.cli import names
from mailprobe.cli.common import (
    AuthMechOpt,
    ConfigOpt,
    HeloOpt,
    JsonOpt,
    NoColorOpt,
    PasswordEnvOpt,
    PasswordFileOpt,
    PasswordOpt,
    TimeoutOpt,
    VerboseOpt,
    apply_globals,
    emit,
    global_options,
    run_async,
    settings,
)
from mailprobe.cli.smtp_options import read_password, resolve_helo, resolve_target
from mailprobe.errors import UsageError
from mailprobe.text import has_control_chars

if TYPE_CHECKING:
    from mailprobe.checks.relay import RelayOptions, RelayRun
    from mailprobe.config import Settings
    from mailprobe.dns import Resolver


def relay_test(
    host: str | None = typer.Argument(
        None,
        metavar="[HOST]",
        help="Server to test: host name, IPv4 or IPv6 address; default: host in the config.",
    ),
    port: int | None = typer.Option(
        None, *names.SMTP_PORT, min=1, max=65535, help="TCP port (default 25)."
    ),
    mx: str | None = typer.Option(
        None, "--mx", metavar="DOMAIN", help="Test every address of every exchanger of DOMAIN."
    ),
    dns_server: str | None = typer.Option(
        None,
        *names.DNS_SERVER,
        metavar="ADDR[:PORT]",
        help="DNS server for --mx and PTR lookups (default: config, else the system resolver).",
    ),
    domain: str | None = typer.Option(
        None,
        "--domain",
        metavar="DOMAIN",
        help="The server's own domain (default: from its greeting, else its PTR name).",
    ),
    external: str | None = typer.Option(
        None,
        "--external",
        metavar="DOMAIN",
        help="External test domain (default example.net, or the domain of --to).",
    ),
    to: str | None = typer.Option(
        None,
        *names.RECIPIENT,
        metavar="ADDR",
        help="External recipient for the variants (a mailbox you read, needed for --send).",
    ),
    sender: str | None = typer.Option(
        None,
        "--from",
        metavar="LOCAL|ADDR",
        help="Test sender: a local part (at the external domain) or a whole address.",
    ),
    helo: HeloOpt = None,
    connections: int = typer.Option(
        4,
        "--connections",
        "-c",
        min=1,
        max=32,
        metavar="N",
        help="Sessions used at once (spreads the variants; servers slow down after errors).",
    ),
    starttls: bool = typer.Option(
        False, "--starttls", help="Use STARTTLS (when offered) on the anonymous sessions too."
    ),
    send: bool = typer.Option(
        False,
        "--send",
        help="If a variant is accepted, send one real message through it to --to (DATA).",
    ),
    relay_only: bool = typer.Option(
        False,
        "--relay-only",
        help="Only the relay battery: no spoofing, catch-all or VRFY/EXPN checks.",
    ),
    user: str | None = typer.Option(
        None, "--user", metavar="NAME", help="Also check relaying after AUTH as NAME."
    ),
    password_env: PasswordEnvOpt = None,
    password_file: PasswordFileOpt = None,
    password: PasswordOpt = None,
    auth_mech: AuthMechOpt = None,
    transcript: Path | None = typer.Option(
        None, "--transcript", metavar="FILE", help="Write every session's transcript to FILE."
    ),
    session_timeout: float | None = typer.Option(
        None,
        "--session-timeout",
        metavar="SECONDS",
        help="Time limit for the whole battery of one server (default 60).",
    ),
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = None,
    config: ConfigOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
) -> int:
    """Test whether a server relays mail for anonymous clients (a battery of address tricks).

    Verdict: OPEN RELAY (exit 1) if any variant is accepted, CLOSED (exit 0) if all are refused,
    INCONCLUSIVE (exit 1) if the battery could not complete; exit 3 if the server cannot be
    reached. Nothing is sent (no DATA) unless --send is given.
    """
    apply_globals(json_output, timeout, config, no_color, verbose)
    cfg = settings()
    from mailprobe.checks.relay import AUTH_MECHANISMS, RelayOptions

    target, use_mx = resolve_target(host, mx, cfg, "relay-test")
    servers = (dns_server,) if dns_server is not None else ()
    if dns_server is not None:
        from mailprobe.dns import parse_server

        parse_server(dns_server)  # a UsageError names the problem
    for value, option in ((domain, "--domain"), (external, "--external"), (to, "--to")):
        if value is not None and has_control_chars(value):
            raise UsageError(f"{option} contains a control character (CR, LF, ...): refused")
    if sender is not None and has_control_chars(sender):
        raise UsageError("--from contains a control character (CR, LF, ...): refused")
    if session_timeout is not None and not 0 < session_timeout <= 86400:
        raise UsageError("--session-timeout must be more than 0 and at most 86400 seconds")
    if auth_mech is not None and auth_mech.upper() not in AUTH_MECHANISMS:
        raise UsageError(f"--auth-mech {auth_mech!r}: choose LOGIN, PLAIN or CRAM-MD5")
    if to is not None and external is not None:
        raise UsageError("give either --to ADDR or --external DOMAIN, not both")
    secret, password_source = read_password(user, password_env, password_file, password)
    helo_name = resolve_helo(helo, cfg)
    options = RelayOptions(
        port=port or cfg.port,
        domain=domain if domain is not None else (target if use_mx else None),
        domain_source="option" if domain is not None else "--mx",
        external=external,
        to=to,
        sender=sender if sender is not None else _config_sender(cfg),
        helo=helo_name,
        connections=connections,
        timeout=cfg.timeout,
        session_timeout=session_timeout or cfg.session_timeout,
        starttls=starttls,
        send=send,
        user=user,
        password=secret,
        auth_mechanism=auth_mech.upper() if auth_mech else None,
        probes=not relay_only,
    ).validated()
    inputs: dict[str, Any] = {
        "host": None if use_mx else target,
        "mx": target if use_mx else None,
        "dns_server": dns_server,
        "port": options.port,
        "domain": options.domain,
        "external": options.external,
        "to": options.to,
        "from": options.sender,
        "helo": helo_name,
        "connections": connections,
        "starttls": starttls,
        "send": send,
        "relay_only": relay_only,
        "user": user,
        "password_source": password_source,
        "auth_mech": options.auth_mechanism,
        "timeout": options.timeout,
        "session_timeout": options.session_timeout,
    }
    run: RelayRun = run_async(_run(target, use_mx, options, cfg, servers))
    if transcript is not None:
        _write_transcript(transcript, run)
    code = run.exit_code()
    from mailprobe.render.relay import render_relay

    level = global_options().verbose
    failures = [f for report in run.reports for f in report.failures] + list(run.failures)
    return emit(
        "relay-test",
        inputs,
        run,
        code,
        lambda con: render_relay(con, run, verbose=level),
        failures,
    )


async def _run(
    target: str, use_mx: bool, options: RelayOptions, cfg: Settings, servers: tuple[str, ...] = ()
) -> RelayRun:
    from mailprobe.checks.relay import check_relay, check_relay_mx, combine_reports
    from mailprobe.dns import Resolver

    async with Resolver.from_settings(cfg, servers) as resolver:
        options = dataclasses.replace(options, ptr_lookup=_ptr_lookup(resolver))
        if use_mx:
            return await check_relay_mx(target, options, resolver)
        report = await check_relay(target, options)
        return combine_reports(None, (report,))


def _ptr_lookup(resolver: Resolver) -> Callable[[str], Awaitable[str | None]]:
    """The PTR name of an address (the own-domain fallback), None when there is none."""

    async def lookup(address: str) -> str | None:
        from mailprobe.dns import reverse_name

        answer = await resolver.query(reverse_name(address), "PTR")
        if not answer.ok or not answer.records:
            return None
        return str(answer.records[0]).rstrip(".")

    return lookup


def _config_sender(cfg: Settings) -> str | None:
    """The configured sender, refused like --from would be, naming where it came from."""
    value = cfg.sender
    if value is None:
        return None
    if "@" not in value or any(ch in value for ch in " <>") or has_control_chars(value):
        raise UsageError(f"{cfg.origin('sender')}: {value!r} is not an address (user@domain)")
    return value


def _write_transcript(path: Path, run: RelayRun) -> None:
    from mailprobe.render.relay import transcripts_text

    try:
        path.write_text(transcripts_text(run), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--transcript {path}: cannot write ({exc.strerror or exc})") from None
