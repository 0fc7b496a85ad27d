"""`mailprobe ehlo`: the scripted telnet session (banner, EHLO verbs against an expected set,
STARTTLS, AUTH, MAIL, RCPT, optional DATA) with a transcript. See docs/ehlo.md."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mailprobe.cli.common import (
    ConfigOpt,
    JsonOpt,
    NoColorOpt,
    TimeoutOpt,
    VerboseOpt,
    apply_globals,
    emit,
    global_options,
    run_async,
    settings,
    warn_line,
)
from mailprobe.errors import UsageError
from mailprobe.model import exit_code_for
from mailprobe.text import has_control_chars

if TYPE_CHECKING:
    from mailprobe.checks.ehlo import EhloRequest, EhloResults, VerbProfile
    from mailprobe.config import Settings


def ehlo(
    host: str | None = typer.Argument(
        None,
        metavar="[HOST]",
        help="Server to probe: host name, IPv4, IPv6 (::1 or [::1]); default: host in the config.",
    ),
    port: int | None = typer.Option(
        None, "--port", "-p", min=1, max=65535, help="TCP port (default 25; 465 with --tls)."
    ),
    tls: bool = typer.Option(False, "--tls", help="Implicit TLS from the first byte (SMTPS, 465)."),
    mx: str | None = typer.Option(
        None, "--mx", metavar="DOMAIN", help="Probe the preferred mail exchanger of DOMAIN."
    ),
    all_exchangers: bool = typer.Option(
        False, "--all", help="With --mx: probe every exchanger, concurrently."
    ),
    dns_server: str | None = typer.Option(
        None,
        "--dns-server",
        metavar="ADDR[:PORT]",
        help="DNS server for --mx (default: dns_server in the config, else the system's).",
    ),
    helo: str | None = typer.Option(
        None, "--helo", metavar="NAME", help="Name sent with EHLO (default: config, local FQDN)."
    ),
    expect: str | None = typer.Option(
        None, "--expect", metavar="PROFILE", help="Compare the verbs with a built-in profile."
    ),
    expect_verbs: str | None = typer.Option(
        None, "--expect-verbs", metavar="A,B,C", help="Compare with exactly these verbs."
    ),
    list_profiles: bool = typer.Option(
        False, "--list-profiles", help="List the built-in verb profiles and exit."
    ),
    starttls: bool | None = typer.Option(
        None,
        "--starttls/--no-starttls",
        help="Upgrade with STARTTLS (default: when advertised); --starttls requires it.",
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Go on past a certificate that fails verification (reported)."
    ),
    ca_file: Path | None = typer.Option(
        None,
        "--ca-file",
        metavar="PEM",
        help="Trust these CA certificates, not the system's.",
    ),
    user: str | None = typer.Option(None, "--user", metavar="NAME", help="Log in with AUTH."),
    password_env: str | None = typer.Option(
        None, "--password-env", metavar="VAR", help="Read the AUTH password from variable VAR."
    ),
    password_file: Path | None = typer.Option(
        None, "--password-file", metavar="PATH", help="Read the AUTH password from a file."
    ),
    password: str | None = typer.Option(
        None, "--password", metavar="VALUE", help="The password itself (visible to other users!)."
    ),
    auth_mech: str | None = typer.Option(
        None,
        "--auth-mech",
        metavar="MECH",
        help="LOGIN, PLAIN or CRAM-MD5 (default: best offered).",
    ),
    sender: str | None = typer.Option(
        None, "--from", metavar="ADDR", help="MAIL FROM address (default: sender in the config)."
    ),
    recipients: list[str] | None = typer.Option(
        None, "--to", metavar="ADDR", help="RCPT TO address; repeat for more."
    ),
    data: bool = typer.Option(
        False, "--data", help="Send a short test message (without it: RSET, QUIT, nothing sent)."
    ),
    subject: str | None = typer.Option(None, "--subject", help="Subject of the --data message."),
    body: str | None = typer.Option(None, "--body", help="Body of the --data message."),
    transcript: Path | None = typer.Option(
        None, "--transcript", metavar="FILE", help="Also write the transcript to FILE (text)."
    ),
    session_timeout: float | None = typer.Option(
        None,
        "--session-timeout",
        metavar="SECONDS",
        help="Time limit for a whole session (default 60).",
    ),
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = None,
    config: ConfigOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
) -> int:
    """Talk SMTP to a server like the telnet test: banner, EHLO verbs against an expected set,
    STARTTLS, AUTH, MAIL/RCPT, optional DATA, with a timed transcript."""
    apply_globals(json_output, timeout, config, no_color, verbose)
    cfg = settings()
    from mailprobe.checks import ehlo as checks

    if list_profiles:
        return _list_profiles()

    target, use_mx = _target(host, mx, all_exchangers, cfg)
    if dns_server is not None:
        if not use_mx:
            raise UsageError("--dns-server only applies with --mx DOMAIN")
        from mailprobe.dns import parse_server

        parse_server(dns_server)  # a UsageError names the problem
    port = port or (465 if tls else cfg.port)
    helo_name = _helo_name(helo, cfg)
    profile = _profile(expect, expect_verbs, cfg)
    if session_timeout is not None and not 0 < session_timeout <= 86400:
        raise UsageError("--session-timeout must be more than 0 and at most 86400 seconds")
    if auth_mech is not None and auth_mech.upper() not in checks.SUPPORTED_AUTH:
        raise UsageError(f"--auth-mech {auth_mech!r}: choose LOGIN, PLAIN or CRAM-MD5")
    if ca_file is not None and not ca_file.is_file():
        raise UsageError(f"--ca-file {ca_file}: no such file")
    if (insecure or ca_file) and starttls is False and not tls:
        warn_line("--insecure/--ca-file have no effect with --no-starttls")
    from_addr = _address(sender if sender is not None else cfg.sender, "--from")
    to_addrs = tuple(
        _recipient(a) for a in (recipients or ([cfg.recipient] if cfg.recipient else []))
    )
    if data and not to_addrs:
        raise UsageError("--data needs at least one --to address")
    if subject is not None and has_control_chars(subject):
        raise UsageError("--subject contains a control character (CR, LF, ...): refused")
    if body is not None and has_control_chars(body.replace("\n", "").replace("\t", "")):
        raise UsageError("--body contains a control character: refused")
    secret, password_source = _password(user, password_env, password_file, password)

    defaults = checks.EhloRequest(host="")
    request = checks.EhloRequest(
        host=target if not use_mx else "",
        port=port,
        helo_name=helo_name,
        implicit_tls=tls,
        starttls=starttls,
        insecure=insecure,
        ca_file=str(ca_file) if ca_file else None,
        profile=profile,
        user=user,
        password=secret,
        auth_mechanism=auth_mech.upper() if auth_mech else None,
        sender=from_addr,
        recipients=to_addrs,
        send_data=data,
        subject=subject if subject is not None else defaults.subject,
        body=body if body is not None else defaults.body,
        timeout=cfg.timeout,
        session_timeout=session_timeout or cfg.session_timeout,
    )
    inputs: dict[str, Any] = {
        "host": None if use_mx else target,
        "mx": target if use_mx else None,
        "all": all_exchangers,
        "dns_server": dns_server,
        "port": port,
        "tls": tls,
        "helo": helo_name,
        "expect": profile.name if profile else None,
        "expect_verbs": list(profile.required) if profile and profile.name == "custom" else None,
        "starttls": starttls,
        "insecure": insecure,
        "ca_file": request.ca_file,
        "user": user,
        "password_source": password_source,
        "auth_mech": request.auth_mechanism,
        "from": from_addr,
        "to": list(to_addrs),
        "data": data,
        "timeout": request.timeout,
        "session_timeout": request.session_timeout,
    }
    servers = (dns_server,) if dns_server else ()
    results: EhloResults = run_async(
        _run(request, target if use_mx else None, all_exchangers, cfg, servers)
    )
    if transcript is not None:
        _write_transcript(transcript, results)
    code = exit_code_for(results.findings, results.failures)
    from mailprobe.render.ehlo import render_ehlo

    level = global_options().verbose
    return emit(
        "ehlo",
        inputs,
        results,
        code,
        lambda con: render_ehlo(con, results, verbose=level),
        results.failures,
    )


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


def _target(
    host: str | None, mx: str | None, all_exchangers: bool, cfg: Settings
) -> tuple[str, bool]:
    """The host (or MX domain) to probe, validated; True when it is an MX domain."""
    if host is not None and mx is not None:
        raise UsageError("give either HOST or --mx DOMAIN, not both")
    if all_exchangers and mx is None:
        raise UsageError("--all only applies with --mx DOMAIN")
    if mx is not None:
        from mailprobe.dns import parse_domain

        if not mx.strip():
            raise UsageError("--mx needs a domain name")
        return parse_domain(mx.strip())[0], True
    if host is None:
        host = cfg.host
        if host is None:
            raise UsageError(
                "no server to probe: give one (mailprobe ehlo HOST), use --mx DOMAIN, "
                "or set host in the config file"
            )
    if not host.strip():
        raise UsageError("the host is empty: give a host name or an address")
    if has_control_chars(host) or any(ch.isspace() for ch in host.strip()):
        raise UsageError("the host contains spaces or control characters")
    return _normalise_host(host.strip()), False


def _normalise_host(host: str) -> str:
    """``[::1]`` and ``::1`` both become ``::1``; names lose a trailing dot and go to A-labels."""
    import ipaddress

    if host.startswith("[") != host.endswith("]"):
        raise UsageError(f"{host!r}: unbalanced brackets (write [::1] or ::1)")
    try:
        return str(ipaddress.ip_address(host[1:-1] if host.startswith("[") else host))
    except ValueError:
        pass
    if host.startswith("[") or ":" in host:
        raise UsageError(f"{host!r} is not a valid address (use --port for the port)")
    name = host.rstrip(".")
    if not name:
        raise UsageError("the host is empty: give a host name or an address")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise UsageError(f"{host!r} is not a valid host name") from None
    return name


def _helo_name(helo: str | None, cfg: Settings) -> str:
    from mailprobe.checks.ehlo import default_helo_name, is_helo_name

    if helo is None:
        return default_helo_name(cfg.helo)
    if has_control_chars(helo):
        raise UsageError("--helo contains a control character (CR, LF, ...): refused")
    if not is_helo_name(helo):
        raise UsageError("--helo must be a host name or an address literal like [192.0.2.1]")
    return helo


def _profile(expect: str | None, expect_verbs: str | None, cfg: Settings) -> VerbProfile | None:
    from mailprobe.checks.ehlo import get_profile, profile_from_verbs

    if expect is not None and expect_verbs is not None:
        raise UsageError("give either --expect PROFILE or --expect-verbs, not both")
    if expect_verbs is not None:
        return profile_from_verbs(expect_verbs)
    name = expect or cfg.expect
    return get_profile(name) if name else None


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


def _password(
    user: str | None,
    password_env: str | None,
    password_file: Path | None,
    password: str | None,
) -> tuple[str | None, str | None]:
    """The AUTH password and where it came from (never the password in any message)."""
    given = [s for s in (password_env, password_file, password) if s is not None]
    if user is None:
        if given:
            raise UsageError("a password option needs --user NAME")
        return None, None
    if has_control_chars(user) or not user:
        raise UsageError("--user must be a non-empty name without control characters")
    if len(given) > 1:
        raise UsageError("give one of --password-env, --password-file, --password")
    if password_env is not None:
        value = os.environ.get(password_env)
        if not value:
            raise UsageError(f"--password-env {password_env}: the variable is not set or empty")
        return value, f"env:{password_env}"
    if password_file is not None:
        try:
            text = password_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise UsageError(f"--password-file {password_file}: cannot read ({reason})") from None
        value = text.splitlines()[0] if text.splitlines() else ""
        if not value:
            raise UsageError(f"--password-file {password_file}: the file is empty")
        return value, "file"
    if password is not None:
        warn_line(
            "--password puts the password on the command line, where other users and the shell "
            "history can see it; prefer --password-env or --password-file"
        )
        if not password:
            raise UsageError("--password is empty")
        return password, "command line"
    if not sys.stdin.isatty():
        raise UsageError(
            "--user needs a password: --password-env VAR or --password-file PATH "
            "(no terminal to prompt on)"
        )
    value = typer.prompt(f"Password for {user}", hide_input=True, err=True)
    if not value:
        raise UsageError("empty password")
    return str(value), "prompt"


def _write_transcript(path: Path, results: EhloResults) -> None:
    from mailprobe.render.transcript import transcript_text

    parts = [
        transcript_text(probe.transcript, probe.timings, title=f"mailprobe ehlo {probe.subject}")
        for probe in results.probes
    ]
    try:
        path.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--transcript {path}: cannot write ({exc.strerror or exc})") from None
