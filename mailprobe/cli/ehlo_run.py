"""The work behind `mailprobe ehlo`, without typer: argument checks, the probe, output.

The options are declared once, in ``options.EHLO``. ``cli/ehlo.py`` builds the typer command
from that table; ``fast_path`` parses the common forms (host, port, TLS, verb profile, envelope
and output options; no AUTH, no ``--help``) from the same table before typer is imported,
because typer 0.29 builds a pydantic adapter for every parameter on every run, which costs more
start-up time than a whole loopback SMTP session. Both routes end in ``run_ehlo_command``, so
they produce the same output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.cli import options
from mailprobe.cli.inputs import check_ca_file, check_output_file, check_text_options
from mailprobe.cli.runtime import (
    apply_globals,
    emit,
    global_options,
    redacted,
    run_async,
    settings,
    warn_line,
    write_output_file,
)
from mailprobe.cli.smtp_options import normalise_host, read_password, resolve_helo, resolve_target
from mailprobe.errors import UsageError
from mailprobe.outcome import exit_code
from mailprobe.text import has_control_chars

if TYPE_CHECKING:
    from rich.console import Console

    from mailprobe.checks.ehlo import EhloRequest, EhloResults, VerbProfile
    from mailprobe.config import Settings


@dataclasses.dataclass
class EhloArgs:
    """The options of ``mailprobe ehlo`` as given (None: not given), one field per entry of
    ``options.EHLO`` (names, defaults, ranges and help are declared there, once); both routes
    build it with ``EhloArgs(**values)``."""

    host: str | None
    port: int | None
    tls: bool
    mx: str | None
    all_exchangers: bool
    dns_server: str | None
    helo: str | None
    expect: str | None
    expect_verbs: str | None
    list_profiles: bool
    starttls: bool | None
    insecure: bool
    ca_file: Path | None
    tls_name: str | None
    user: str | None
    password_env: str | None
    password_file: Path | None
    password: str | None = dataclasses.field(repr=False)
    auth_mech: str | None
    sender: str | None
    recipients: list[str] | None
    data: bool
    subject: str | None
    body: str | None
    transcript: Path | None
    session_timeout: float | None


def run_ehlo_command(a: EhloArgs) -> int:
    """Validate the options, run the probe(s), show the result; returns the exit code."""
    cfg = settings()
    from mailprobe.checks import ehlo as checks

    if a.list_profiles:
        return _list_profiles()

    target, use_mx = _target(a.host, a.mx, a.all_exchangers, cfg)
    if a.dns_server is not None:
        if not use_mx:
            raise UsageError("--server only applies with --mx DOMAIN")
        from mailprobe.dns import parse_server

        parse_server(a.dns_server)  # a UsageError names the problem
    port = a.port or (465 if a.tls else cfg.port)
    helo_name = resolve_helo(a.helo, cfg)
    profile = _profile(a.expect, a.expect_verbs, cfg)
    if a.auth_mech is not None and a.auth_mech.upper() not in checks.SUPPORTED_AUTH:
        raise UsageError(f"--auth-mech {a.auth_mech!r}: choose LOGIN, PLAIN or CRAM-MD5")
    if a.ca_file is not None:
        check_ca_file(a.ca_file)  # a readable file that holds a certificate
    if (a.insecure or a.ca_file) and a.starttls is False and not a.tls:
        warn_line("--insecure/--ca-file have no effect with --no-starttls")
    from_addr = (
        _address(a.sender, "--from")
        if a.sender is not None
        else _address(cfg.sender, cfg.origin("sender"))
    )
    to_addrs = (
        tuple(_recipient(r) for r in a.recipients)
        if a.recipients
        else tuple(
            _address(r, cfg.origin("recipient")) or "" for r in [cfg.recipient] if cfg.recipient
        )
    )
    if a.data and not to_addrs:
        raise UsageError("--data needs at least one --to address")
    if a.subject is not None and has_control_chars(a.subject):
        raise UsageError("--subject contains a control character (CR, LF, ...): refused")
    if a.body is not None and has_control_chars(a.body.replace("\n", "").replace("\t", "")):
        raise UsageError("--body contains a control character: refused")
    check_output_file(a.transcript, "--transcript")
    secret, password_source = read_password(a.user, a.password_env, a.password_file, a.password)

    defaults = checks.EhloRequest(host="")
    request = checks.EhloRequest(
        host=target if not use_mx else "",
        port=port,
        helo_name=helo_name,
        implicit_tls=a.tls,
        starttls=a.starttls,
        insecure=a.insecure,
        ca_file=str(a.ca_file) if a.ca_file else None,
        tls_name=_tls_name(a.tls_name),
        profile=profile,
        user=a.user,
        password=secret,
        auth_mechanism=a.auth_mech.upper() if a.auth_mech else None,
        sender=from_addr,
        recipients=to_addrs,
        send_data=a.data,
        subject=a.subject if a.subject is not None else defaults.subject,
        body=a.body if a.body is not None else defaults.body,
        timeout=cfg.timeout,
        session_timeout=a.session_timeout or cfg.session_timeout,
    )
    inputs: dict[str, Any] = {
        "host": None if use_mx else target,
        "mx": target if use_mx else None,
        "all": a.all_exchangers,
        "dns_server": a.dns_server,
        "port": port,
        "tls": a.tls,
        "helo": helo_name,
        "expect": profile.name if profile else None,
        "expect_verbs": list(profile.required) if profile and profile.name == "custom" else None,
        "starttls": a.starttls,
        "insecure": a.insecure,
        "ca_file": request.ca_file,
        "tls_name": request.tls_name,
        "user": a.user,
        "password_source": password_source,
        "auth_mech": request.auth_mechanism,
        "from": from_addr,
        "to": list(to_addrs),
        "data": a.data,
        "timeout": request.timeout,
        "session_timeout": request.session_timeout,
    }
    servers = (a.dns_server,) if a.dns_server else ()
    results: EhloResults = run_async(
        _run(request, target if use_mx else None, a.all_exchangers, cfg, servers)
    )
    results = redacted(results)  # before anything is rendered or written
    if a.transcript is not None:
        _write_transcript(a.transcript, results)
    code = exit_code(results.findings, results.failures)
    level = global_options().verbose

    def render(console: Console) -> None:
        # rich is imported only when there is text to show (not for --json)
        from mailprobe.render.ehlo import render_ehlo

        render_ehlo(console, results, verbose=level)

    return emit("ehlo", inputs, results, code, render, results.failures)


async def _run(
    request: EhloRequest,
    mx_domain: str | None,
    all_exchangers: bool,
    cfg: Settings,
    servers: tuple[str, ...] = (),
) -> EhloResults:
    from mailprobe.checks.ehlo import run_ehlo

    if mx_domain is None:
        return await run_ehlo(request)
    from mailprobe.dns import Resolver

    async with Resolver.from_settings(cfg, servers) as resolver:
        return await run_ehlo(
            request,
            mx_domain=mx_domain,
            all_exchangers=all_exchangers,
            resolver=resolver,
            concurrency=cfg.concurrency,
        )


def _list_profiles() -> int:
    from mailprobe.checks.ehlo import load_profiles
    from mailprobe.render.ehlo import render_profiles

    profiles = list(load_profiles().values())
    return emit(
        "ehlo",
        {"list_profiles": True},
        {"profiles": profiles},
        0,
        lambda con: render_profiles(con, profiles),
    )


def _tls_name(value: str | None) -> str | None:
    """``--tls-name``: the host name the certificate must carry (when probing by address)."""
    if value is None:
        return None
    if has_control_chars(value) or not value.strip() or " " in value.strip():
        raise UsageError("--tls-name must be a host name")
    return normalise_host(value.strip(), "--tls-name")


def _target(
    host: str | None, mx: str | None, all_exchangers: bool, cfg: Settings
) -> tuple[str, bool]:
    """The host (or MX domain) to probe, validated; True when it is an MX domain."""
    if all_exchangers and mx is None:
        raise UsageError("--all only applies with --mx DOMAIN")
    return resolve_target(host, mx, cfg, "ehlo")


def _profile(expect: str | None, expect_verbs: str | None, cfg: Settings) -> VerbProfile | None:
    from mailprobe.checks.ehlo import configured_profile, get_profile, profile_from_verbs

    if expect is not None and expect_verbs is not None:
        raise UsageError("give either --expect PROFILE or --expect-verbs, not both")
    if expect_verbs is not None:
        return profile_from_verbs(expect_verbs)
    if expect:
        return get_profile(expect)
    return configured_profile(cfg)


def _address(value: str | None, option: str) -> str | None:
    """An envelope address without its angle brackets; control characters refused."""
    if value is None:
        return None
    if has_control_chars(value):
        raise UsageError(f"{option} contains a control character (CR, LF, ...): refused")
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if any(ch in text for ch in "<>") or any(ch.isspace() for ch in text):
        raise UsageError(f"{option} {value!r}: not an address (no spaces or angle brackets)")
    if option == "--to" and not text:
        raise UsageError("--to needs an address")
    return text


def _recipient(value: str) -> str:
    address = _address(value, "--to")
    assert address is not None
    return address


def _write_transcript(path: Path, results: EhloResults) -> None:
    from mailprobe.render.transcript import transcript_text

    parts = [
        transcript_text(probe.transcript, probe.timings, title=f"mailprobe ehlo {probe.subject}")
        for probe in redacted(results).probes
    ]
    try:
        write_output_file(path, "\n".join(parts))  # mode 0600, redacted
    except OSError as exc:
        raise UsageError(f"--transcript {path}: cannot write ({exc.strerror or exc})") from None


# -- the typer-free route -------------------------------------------------------------------------


def fast_path(args: Sequence[str]) -> int | None:
    """Run ``mailprobe [globals] ehlo [options] HOST`` without typer, or return None.

    The command line is parsed by ``options.parse_quick`` from the same table as the typer
    command (``options.EHLO``): the options marked ``quick`` and the global options. Anything
    else (AUTH options, ``--help``, a value that looks like an option, a number out of range)
    returns None and typer parses the line, so every error message still comes from one place.
    """
    parsed = _parse(args)
    if parsed is None:
        return None
    ehlo_args, globals_ = parsed
    apply_globals(**globals_)
    return run_ehlo_command(ehlo_args)


def _parse(args: Sequence[str]) -> tuple[EhloArgs, dict[str, Any]] | None:
    parsed = options.parse_quick(args, "ehlo", options.EHLO)
    if parsed is None:
        return None
    values, globals_ = parsed
    check_text_options(options.EHLO, values)
    return EhloArgs(**values), globals_
