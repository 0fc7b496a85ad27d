"""Defaults a user sets once: config file, ``MAILPROBE_*`` environment variables, built-ins.

Precedence, one rule for every setting: command line > environment > config file > built-in.
The command line part is applied by the CLI (an option given explicitly wins); this module
merges the other three.

The file is TOML with flat keys, at ``$XDG_CONFIG_HOME/mailprobe/config.toml`` (or
``~/.config/mailprobe/config.toml``), or the path given with ``--config`` / ``MAILPROBE_CONFIG``::

    dns_server = "192.0.2.53"        # ADDR or ADDR:PORT, [v6]:PORT
    helo = "probe.example.org"
    timeout = 10                     # seconds per network step
    session_timeout = 60             # seconds for a whole SMTP session / check
    host = "mail.example.org"        # default target of ehlo and relay-test
    port = 25
    expect = "exchange2010"          # verb profile for ehlo
    sender = "probe@example.org"     # test MAIL FROM
    recipient = "postmaster@example.org"
    concurrency = 64
    connect_rate = 30                # check: new connections per minute per exchanger address
    blocklist_zones = ["zen.spamhaus.org", "bl.spamcop.net"]   # blocklist, check: the lists
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mailprobe.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved defaults for every command (before per-command options are applied)."""

    dns_server: str | None = None
    helo: str | None = None
    timeout: float = 10.0
    session_timeout: float = 60.0
    host: str | None = None
    port: int = 25
    expect: str | None = None
    sender: str | None = None
    recipient: str | None = None
    concurrency: int = 64
    connect_rate: int = 30
    blocklist_zones: tuple[str, ...] = ()
    #: Where the file layer came from (None when no file was read); not a setting.
    config_file: str | None = None
    #: (key, where its value came from) for every value not built in; not a setting.
    origins: tuple[tuple[str, str], ...] = ()

    def origin(self, key: str) -> str:
        """Where the value of ``key`` came from, in words ("built-in" when not set)."""
        return dict(self.origins).get(key, "built-in")

    def error(self, key: str, problem: str) -> ConfigError:
        """A ``ConfigError`` for a bad value of ``key``, naming the file or the variable it
        came from, like the errors of ``load_settings`` (for values checked where they are
        used: ``dns_server``, ``expect``)."""
        origin = self.origin(key)
        if origin.startswith("MAILPROBE_"):
            source = f"environment variable {origin}"
        else:
            source = self.config_file or origin
        return ConfigError(source, key, problem)


_KINDS: dict[str, type] = {
    "dns_server": str,
    "helo": str,
    "timeout": float,
    "session_timeout": float,
    "host": str,
    "port": int,
    "expect": str,
    "sender": str,
    "recipient": str,
    "concurrency": int,
    "connect_rate": int,
    "blocklist_zones": list,
}
_LIMITS: dict[str, tuple[float, float]] = {
    "timeout": (0.01, 3600.0),
    "session_timeout": (0.01, 86400.0),
    "port": (1, 65535),
    "concurrency": (1, 4096),
    "connect_rate": (1, 6000),
}


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the config file is looked for when ``--config`` is not given."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mailprobe" / "config.toml"


def _coerce(source: str, key: str, value: Any) -> Any:
    kind = _KINDS[key]
    if kind is list:  # a TOML array of strings, or (environment) a comma-separated string
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ConfigError(source, key, f"expected a list of strings, got {value!r}")
        names = tuple(i.strip() for i in items if i.strip())
        if not names or any(not n.isprintable() for n in names):
            raise ConfigError(source, key, "expected non-empty, printable names")
        return names
    try:
        if kind is str:
            if not isinstance(value, str):
                raise TypeError
            text = value.strip()
            if not text or any(not ch.isprintable() for ch in text):
                raise ValueError("must be a non-empty single line of printable text")
            result: Any = text
        elif kind is int:
            if isinstance(value, bool | float):
                raise TypeError
            result = int(value)
        else:
            if isinstance(value, bool):
                raise TypeError
            result = float(value)
    except TypeError:
        raise ConfigError(source, key, f"expected {kind.__name__}, got {value!r}") from None
    except ValueError as exc:
        detail = str(exc) if kind is str else f"expected {kind.__name__}, got {value!r}"
        raise ConfigError(source, key, detail) from None
    if key in _LIMITS:
        low, high = _LIMITS[key]
        if not low <= result <= high:
            raise ConfigError(source, key, f"{result} is out of range {low:g}..{high:g}")
    return result


def _read_file(path: Path) -> dict[str, Any]:
    import tomllib

    from mailprobe.files import FileError, read_text

    source = str(path)
    try:
        text = read_text(path)  # bounded, regular files (or pipes) only: see mailprobe/files.py
    except FileError as exc:
        raise ConfigError(source, None, exc.problem) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, None, f"invalid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise ConfigError(source, None, "invalid TOML (nested too deeply)") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _KINDS:
            known = ", ".join(sorted(_KINDS))
            raise ConfigError(source, key, f"unknown key (known keys: {known})")
        values[key] = _coerce(source, key, value)
    return values


def _read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in _KINDS:
        name = f"MAILPROBE_{key.upper()}"
        if name in environ and environ[name] != "":
            values[key] = _coerce(f"environment variable {name}", key, environ[name])
    return values


def load_settings(
    config_path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge built-ins, the config file and the environment into ``Settings``.

    An explicitly named file (``--config`` or ``MAILPROBE_CONFIG``) must exist; the default
    location is optional.
    """
    env = os.environ if environ is None else environ
    explicit = config_path
    if explicit is None and env.get("MAILPROBE_CONFIG"):
        explicit = Path(env["MAILPROBE_CONFIG"])
    path = explicit if explicit is not None else default_config_path(env)
    file_values: dict[str, Any] = {}
    config_file: str | None = None
    if explicit is not None or os.path.isfile(path):
        if explicit is not None and not os.path.exists(path):
            raise ConfigError(str(path), None, "file does not exist")
        file_values = _read_file(path)
        config_file = str(path)
    env_values = _read_env(env)
    merged = {**file_values, **env_values}
    origins = {key: f"config key '{key}' in {config_file}" for key in file_values}
    origins.update({key: f"MAILPROBE_{key.upper()}" for key in env_values})
    return Settings(**merged, config_file=config_file, origins=tuple(sorted(origins.items())))
