"""Config precedence (environment > file > built-in) and clear errors for bad files."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize(
    "text",
    ["x = " + "[" * 20000 + "]" * 20000 + "\n", "x = " + "{a = " * 5000 + "1" + "}" * 5000],
)
def test_deeply_nested_toml_is_invalid_toml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="invalid TOML") as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_device_is_refused_without_reading_it() -> None:
    with pytest.raises(ConfigError, match="config /dev/zero: not a regular file"):
        load_settings(Path("/dev/zero"), environ={})
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings(environ={"MAILPROBE_CONFIG": "/dev/zero"})


def test_oversized_and_non_utf8_files(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 600_000)  # 6 MB of comments
    with pytest.raises(ConfigError, match="larger than 5 MB"):
        load_settings(big, environ={})
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'helo = "caf\xe9.example"\n')
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_settings(latin1, environ={})


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_without_writer_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="named pipe with nothing writing to it"):
        load_settings(fifo, environ={})


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbfhelo = "probe.example.org"\n')
    assert load_settings(path, environ={}).helo == "probe.example.org"
