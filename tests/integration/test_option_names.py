"""Shared option names: every command that takes a DNS server, an SMTP port or a recipient
accepts the same names (mailprobe/cli/names.py), and the typer-free quick path of ``ehlo``
accepts exactly the names typer declares for the options it handles."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def test_ehlo_mx_with_server_is_accepted() -> None:
    # `ehlo --mx DOMAIN --server X` once failed with "No such option"; now a DNS answer is
    # needed, so a bad address must be the error, not the option name.
    from mailprobe.cli.app import main

    code = main(["ehlo", "--mx", "example.test", "--server", "not an address"])
    assert code == 2


def test_a_bad_sender_from_the_environment_is_named_in_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # ehlo once blamed --from (never given) and relay-test ignored the value silently.
    from mailprobe.cli.app import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("MAILPROBE_SENDER", "not an address")
    for args in (["ehlo", "127.0.0.1", "--port", "9"], ["relay-test", "127.0.0.1", "--port", "9"]):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert "MAILPROBE_SENDER" in err and "--from" not in err, err


def test_settings_say_where_each_value_came_from(tmp_path: Path) -> None:
    from mailprobe.config import load_settings

    path = tmp_path / "config.toml"
    path.write_text('expect = "postfix"\nhelo = "probe.example.org"\n', encoding="utf-8")
    cfg = load_settings(path, {"MAILPROBE_HELO": "env.example.org"})
    assert cfg.origin("expect") == f"config key 'expect' in {path}"
    assert cfg.origin("helo") == "MAILPROBE_HELO"
    assert cfg.origin("timeout") == "built-in"
