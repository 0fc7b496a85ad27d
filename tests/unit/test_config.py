"""Config precedence (environment > file > built-in) and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailprobe.config import Settings, default_config_path, load_settings
from mailprobe.errors import ConfigError


def test_builtin_defaults_without_file(tmp_path: Path) -> None:
    settings = load_settings(environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert settings == Settings()


def test_default_path_follows_xdg(tmp_path: Path) -> None:
    assert default_config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == (
        tmp_path / "mailprobe" / "config.toml"
    )


def test_file_then_environment_precedence(tmp_path: Path) -> None:
    path = tmp_path / "mailprobe" / "config.toml"
    path.parent.mkdir()
    path.write_text('helo = "probe.example.org"\ntimeout = 4\nhost = "mx.example.org"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path), "MAILPROBE_TIMEOUT": "2.5"}
    settings = load_settings(environ=env)
    assert settings.helo == "probe.example.org"
    assert settings.host == "mx.example.org"
    assert settings.timeout == 2.5
    assert settings.config_file == str(path)


def test_explicit_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("colour = 1\n", "colour", "unknown key"),
        ('timeout = "soon"\n', "timeout", "expected float"),
        ("port = 70000\n", "port", "out of range"),
        ('helo = "a\\nb"\n', "helo", "printable"),
        ("[dns]\nserver = 1\n", "dns", "unknown key"),
    ],
)
def test_bad_file_names_file_and_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)
    assert f"'{key}'" in str(info.value)
    assert message in str(info.value)


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("timeout = = 3\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(path, environ={})


def test_bad_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="MAILPROBE_PORT"):
        load_settings(environ={"MAILPROBE_PORT": "twenty-five", "XDG_CONFIG_HOME": "/nonexistent"})
