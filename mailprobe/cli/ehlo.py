"""`mailprobe ehlo`: the scripted telnet session (banner, EHLO verbs against an expected set,
STARTTLS, AUTH, MAIL, RCPT, optional DATA) with a transcript. See docs/ehlo.md."""

from __future__ import annotations

from pathlib import Path

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
)


def ehlo(
    host: str | None = typer.Argument(
        None,
        metavar="[HOST]",
        help="Server to probe: host name, IPv4, IPv6 (::1 or [::1]); default: host in the config.",
    ),
    port: int | None = typer.Option(
        None, *names.SMTP_PORT, min=1, max=65535, help="TCP port (default 25; 465 with --tls)."
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
        *names.DNS_SERVER,
        metavar="ADDR[:PORT]",
        help="DNS server for --mx (default: config, else the system resolver).",
    ),
    helo: HeloOpt = None,
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
    tls_name: str | None = typer.Option(
        None,
        "--tls-name",
        metavar="NAME",
        help="Check the certificate against NAME (default: the host; useful with an address).",
    ),
    user: str | None = typer.Option(None, "--user", metavar="NAME", help="Log in with AUTH."),
    password_env: PasswordEnvOpt = None,
    password_file: PasswordFileOpt = None,
    password: PasswordOpt = None,
    auth_mech: AuthMechOpt = None,
    sender: str | None = typer.Option(
        None, "--from", metavar="ADDR", help="MAIL FROM address (default: sender in the config)."
    ),
    recipients: list[str] | None = typer.Option(
        None, *names.RECIPIENT, metavar="ADDR", help="RCPT TO address; repeat for more."
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
    from mailprobe.cli.ehlo_run import EhloArgs, run_ehlo_command

    return run_ehlo_command(
        EhloArgs(
            host=host,
            port=port,
            tls=tls,
            mx=mx,
            all_exchangers=all_exchangers,
            dns_server=dns_server,
            helo=helo,
            expect=expect,
            expect_verbs=expect_verbs,
            list_profiles=list_profiles,
            starttls=starttls,
            insecure=insecure,
            ca_file=ca_file,
            tls_name=tls_name,
            user=user,
            password_env=password_env,
            password_file=password_file,
            password=password,
            auth_mech=auth_mech,
            sender=sender,
            recipients=recipients,
            data=data,
            subject=subject,
            body=body,
            transcript=transcript,
            session_timeout=session_timeout,
        )
    )
