"""Shared option names: every command that takes a DNS server, an SMTP port or a recipient
accepts the same names (mailprobe/cli/names.py), and the typer-free quick path of ``ehlo``
accepts exactly the names typer declares for the options it handles."""

from __future__ import annotations

import typer

from mailprobe.cli import ehlo_run, names
from mailprobe.cli.app import app


def _options(command: str) -> dict[str, set[str]]:
    """Parameter name -> every option string typer accepts for it."""
    group = typer.main.get_command(app)
    cmd = group.commands[command]  # type: ignore[attr-defined]
    return {p.name: set(p.opts) | set(p.secondary_opts) for p in cmd.params if p.opts}


def _declares(command: str, wanted: tuple[str, ...]) -> bool:
    return any(set(wanted) <= opts for opts in _options(command).values())


def test_dns_server_names_in_every_command_that_asks_dns() -> None:
    for command in ("mx", "check", "ehlo", "relay-test"):
        assert _declares(command, names.DNS_SERVER), command


def test_smtp_port_names_in_every_smtp_command() -> None:
    for command in ("mx", "check", "ehlo", "relay-test"):
        assert _declares(command, names.SMTP_PORT), command


def test_recipient_names_in_every_command_that_sends_rcpt() -> None:
    for command in ("check", "ehlo", "relay-test"):
        assert _declares(command, names.RECIPIENT), command


def test_quick_path_accepts_exactly_the_typer_names_of_its_options() -> None:
    typer_opts = _options("ehlo")
    by_dest: dict[str, set[str]] = {}
    for name, dest in {**ehlo_run._VALUES, **ehlo_run._FLAGS}.items():
        by_dest.setdefault(dest, set()).add(name)
    for dest, quick_names in by_dest.items():
        declared = typer_opts[dest]
        assert quick_names == declared, (dest, quick_names, declared)


def test_ehlo_mx_with_server_is_accepted(capsys: object) -> None:
    # `ehlo --mx DOMAIN --server X` once failed with "No such option"; now a DNS answer is
    # needed, so a bad address must be the error, not the option name.
    from mailprobe.cli.app import main

    code = main(["ehlo", "--mx", "example.test", "--server", "not an address"])
    assert code == 2
