"""Newcomer friction: --help at 80 columns, value completion, config errors naming the key."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailprobe.checks.ehlo.profiles import load_profiles
from mailprobe.cli import options
from mailprobe.cli.entry import main
from mailprobe.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("", "ndr", "mx", "ehlo", "relay-test", "check", "findings")


def _help(command: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    args = [sys.executable, "-m", "mailprobe", *([command] if command else []), "--help"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_type_labels_and_fits_80_columns(command: str) -> None:
    text = _help(command)
    assert not re.search(r"<(bool|int|float|str|list|path|int range|float range)[^>]*>", text)
    assert "[[" not in text
    assert "...]..." not in text
    assert all(len(line) <= 80 for line in text.splitlines()), text


def test_ehlo_help_is_short_with_a_wide_description_column() -> None:
    text = _help("ehlo")
    assert len(text.splitlines()) <= 70
    line = next(line for line in text.splitlines() if line.lstrip().startswith("--tls "))
    assert "Implicit TLS from the first byte" in line


def test_ndr_help_says_timeout_has_no_effect() -> None:
    text = " ".join(_help("ndr").split())
    timeout = text[text.index("--timeout SECONDS") :]
    timeout = timeout[: timeout.index("--config")]
    assert "no effect" in timeout
    assert "network step" not in timeout


def test_ndr_examples_are_one_per_line() -> None:
    lines = [line.strip() for line in _help("ndr").splitlines()]
    assert "mailprobe ndr --file bounce.eml" in lines
    assert "mailprobe ndr --list --class 5 --subject 7" in lines


# -- completion -----------------------------------------------------------------------------


def test_choices_are_declared_in_the_tables() -> None:
    by_name = {(c, n): o for c, t in options.COMMANDS.items() for o in t for n in o.names}
    profiles = tuple(load_profiles())
    assert by_name["ehlo", "--expect"].choice_values() == profiles
    assert by_name["check", "--expect"].choice_values() == profiles
    assert by_name["ehlo", "--auth-mech"].choice_values() == ("LOGIN", "PLAIN", "CRAM-MD5")
    assert by_name["relay-test", "--auth-mech"].choice_values() == ("LOGIN", "PLAIN", "CRAM-MD5")
    assert by_name["ndr", "--class"].choice_values() == ("2", "3", "4", "5")


def _bash_complete(*words: str) -> list[str]:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    script = ROOT / "completions" / "mailprobe.bash"
    line = " ".join(f"'{w}'" for w in words)
    program = (
        f"source '{script}'; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
        "_mailprobe; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    done = subprocess.run([bash, "-c", program], capture_output=True, text=True, check=True)
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completes_expect_profiles(tmp_path: Path) -> None:
    assert _bash_complete("mailprobe", "ehlo", "--expect", "") == list(load_profiles())
    assert _bash_complete("mailprobe", "check", "--expect", "exchange201") == [
        p for p in load_profiles() if p.startswith("exchange201")
    ]


def test_bash_completes_fixed_values_not_file_names() -> None:
    assert _bash_complete("mailprobe", "ehlo", "--auth-mech", "") == ["LOGIN", "PLAIN", "CRAM-MD5"]
    assert _bash_complete("mailprobe", "ndr", "--class", "") == ["2", "3", "4", "5"]
    assert _bash_complete("mailprobe", "ehlo", "--helo", "") == []  # no file names
    assert "--expect" in _bash_complete("mailprobe", "ehlo", "--exp")


def test_zsh_and_fish_scripts_offer_the_values() -> None:
    zsh = (ROOT / "completions" / "_mailprobe").read_text(encoding="utf-8")
    fish = (ROOT / "completions" / "mailprobe.fish").read_text(encoding="utf-8")
    profiles = " ".join(load_profiles())
    assert "'--expect[" in zsh and f":value:({profiles})'" in zsh
    assert ":value:(LOGIN PLAIN CRAM-MD5)'" in zsh
    assert f"-l expect -r -a '{profiles}'" in fish
    assert "-l class -r -a '2 3 4 5'" in fish


def test_completion_scripts_ship_in_the_wheel() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for name in ("mailprobe.bash", "_mailprobe", "mailprobe.fish"):
        assert f'"completions/{name}"' in text


# -- config errors --------------------------------------------------------------------------


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_bad_dns_server_in_config_names_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, 'dns_server = "not-an-ip"\n')
    assert main(["mx", "example.org", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"config {path}: key 'dns_server'" in err
    assert "not an IP address" in err


def test_bad_dns_server_in_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILPROBE_DNS_SERVER", "1.2.3")
    monkeypatch.setenv("MAILPROBE_CONFIG", "")
    assert main(["mx", "example.org"]) == 2
    assert "environment variable MAILPROBE_DNS_SERVER: key 'dns_server'" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("command", [["ehlo", "127.0.0.1"], ["check", "example.org"]])
def test_unknown_expect_profile_in_config_names_file_and_key(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, 'expect = "exchange2099"\n')
    assert main([*command, "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"config {path}: key 'expect'" in err
    assert "unknown verb profile 'exchange2099'" in err


def test_settings_error_names_where_the_value_came_from(tmp_path: Path) -> None:
    path = _config(tmp_path, 'expect = "x"\n')
    cfg = load_settings(path, environ={"MAILPROBE_DNS_SERVER": "y"})
    assert str(cfg.error("expect", "bad")) == f"config {path}: key 'expect': bad"
    assert str(cfg.error("dns_server", "bad")) == (
        "config environment variable MAILPROBE_DNS_SERVER: key 'dns_server': bad"
    )


def test_config_doc_lists_the_commands_of_every_key() -> None:
    doc = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|$", doc, re.MULTILINE))
    for command, table in options.COMMANDS.items():
        for opt in table:
            if opt.config_key is not None:
                assert command in rows[opt.config_key], (opt.config_key, command)
    assert set(rows) == set(Settings.__dataclass_fields__) - {
        "config_file",
        "origins",
    }
