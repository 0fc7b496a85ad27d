"""`mailprobe ports`: which mail-related TCP ports of a host answer, and what speaks there."""

from __future__ import annotations

from typing import Any

from mailprobe.cli.common import emit, run_async, settings
from mailprobe.cli.options import PORTS
from mailprobe.cli.options_typer import typer_command
from mailprobe.errors import UsageError

#: Longest wait for a silent port unless --greeting-wait says otherwise.
_GREETING_WAIT = 3.0


def _ports(
    host: str | None,
    ports: str | None,
    profile: str | None,
    expect_mx: bool,
    greeting_wait: float | None,
    helo: str | None,
    concurrency: int | None,
) -> int:
    """Connect to the mail-related TCP ports of HOST at once and identify what answers.

    Each port is open (with its connect latency), closed (refused) or filtered (no answer in
    time); an open port's service is named from its first words (SMTP through the SMTP engine,
    POP3, IMAP, NNTP, HTTP; LDAP ports are silent by design) and TLS-wrapped ports by a TLS
    handshake. Ports: --profile mail|exchange|all (default all) or --ports LIST.

    Exit code: 0 nothing wrong, 1 a finding (plain POP3/IMAP without TLS, 25 closed with
    --expect-mx, submission without STARTTLS, an unexpected service, ...), 2 bad input, 3 the
    host could not be resolved or no port answered at all.
    """
    cfg = settings()
    from mailprobe.checks.ports import PROFILES, PortsOptions, parse_ports, probe_host
    from mailprobe.cli.smtp_options import resolve_helo, resolve_target

    if ports is not None and profile is not None:
        raise UsageError("give either --ports LIST or --profile NAME, not both")
    if profile is not None and profile.lower() not in PROFILES:
        raise UsageError(f"--profile must be one of {', '.join(sorted(PROFILES))}")
    target, _ = resolve_target(host, None, cfg, "ports")
    port_list = parse_ports(ports) if ports is not None else None
    chosen = None if port_list is not None else (profile or "all").lower()
    if port_list is None:
        port_list = PROFILES[chosen or "all"]
    wait = greeting_wait if greeting_wait is not None else min(_GREETING_WAIT, cfg.timeout)
    opts = PortsOptions(
        timeout=cfg.timeout,
        greeting_wait=wait,
        concurrency=concurrency or 32,
        helo=resolve_helo(helo, cfg),
        expect_mx=expect_mx,
    )
    report = run_async(probe_host(target, port_list, opts, chosen))
    inputs: dict[str, Any] = {
        "host": target,
        "profile": chosen,
        "ports": list(port_list),
        "expect_mx": expect_mx,
        "timeout": cfg.timeout,
        "greeting_wait": wait,
    }

    def render(con: Any) -> None:
        from mailprobe.cli.common import global_options
        from mailprobe.render.ports import render_ports

        render_ports(con, report, global_options().verbose)

    return emit("ports", inputs, report, report.exit_code, render, report.failures)


ports = typer_command(_ports, PORTS)
