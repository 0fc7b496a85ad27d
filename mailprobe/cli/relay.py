"""`mailprobe relay-test`: the open-relay battery against a server or every exchanger of a domain.

See docs/relay-test.md for the variants, the verdict rules and the caveats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.cli.common import emit, global_options, run_async, settings
from mailprobe.cli.inputs import check_output_file
from mailprobe.cli.options import RELAY_TEST
from mailprobe.cli.options_typer import typer_command
from mailprobe.cli.runtime import redacted, write_output_file
from mailprobe.cli.smtp_options import read_password, resolve_helo, resolve_target
from mailprobe.errors import UsageError
from mailprobe.text import has_control_chars

if TYPE_CHECKING:
    from mailprobe.checks.relay import RelayOptions, RelayRun
    from mailprobe.config import Settings
    from mailprobe.dns import Resolver


def _relay_test(
    host: str | None,
    port: int | None,
    mx: str | None,
    dns_server: str | None,
    domain: str | None,
    external: str | None,
    to: str | None,
    sender: str | None,
    helo: str | None,
    connections: int,
    starttls: bool,
    send: bool,
    relay_only: bool,
    user: str | None,
    password_env: str | None,
    password_file: Path | None,
    password: str | None,
    auth_mech: str | None,
    transcript: Path | None,
    session_timeout: float | None,
) -> int:
    """Test whether a server relays mail for anonymous clients (a battery of address tricks).

    Verdict: OPEN RELAY (exit 1) when a recipient in another domain is accepted (or a message,
    with --send); CLOSED (exit 0) when every variant is refused; INCONCLUSIVE (exit 1) when the
    battery could not complete or the server accepts every recipient at RCPT (confirm with
    --send). Exit 3 if the server cannot be reached. Nothing is sent (no DATA) without --send.
    """
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
    if auth_mech is not None and auth_mech.upper() not in AUTH_MECHANISMS:
        raise UsageError(f"--auth-mech {auth_mech!r}: choose LOGIN, PLAIN or CRAM-MD5")
    if to is not None and external is not None:
        raise UsageError("give either --to ADDR or --external DOMAIN, not both")
    check_output_file(transcript, "--transcript")
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
    run = redacted(run)  # before anything is rendered or written
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


relay_test = typer_command(_relay_test, RELAY_TEST)


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
        write_output_file(path, transcripts_text(redacted(run)))  # mode 0600, redacted
    except OSError as exc:
        raise UsageError(f"--transcript {path}: cannot write ({exc.strerror or exc})") from None
