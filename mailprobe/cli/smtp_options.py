"""Options shared by the SMTP commands (ehlo, relay-test, check): HELO name and AUTH password.

Typer-free, so the quick path of ``ehlo`` can use it too. The password never appears in an
error message: messages name where it was to come from, never its value.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mailprobe.cli.runtime import warn_line
from mailprobe.config import Settings
from mailprobe.errors import UsageError
from mailprobe.text import has_control_chars


def resolve_helo(helo: str | None, cfg: Settings) -> str:
    """``--helo`` checked (no control characters, a host name or address literal), else the
    configured name, else the host name when fully qualified, else a reserved name."""
    from mailprobe.checks.ehlo import default_helo_name, is_helo_name

    if helo is None:
        if cfg.helo is not None and (not is_helo_name(cfg.helo) or _helo_problem(cfg.helo)):
            raise UsageError(
                f"{cfg.origin('helo')}: {cfg.helo!r} is not a host name or an address literal "
                "like [192.0.2.1]"
            )
        return default_helo_name(cfg.helo)
    if has_control_chars(helo):
        raise UsageError("--helo contains a control character (CR, LF, ...): refused")
    if not is_helo_name(helo):
        raise UsageError("--helo must be a host name or an address literal like [192.0.2.1]")
    problem = _helo_problem(helo)
    if problem:
        raise UsageError(f"--helo {helo!r} {problem}")
    return helo


def _helo_problem(name: str) -> str | None:
    """An empty or overlong label of a HELO host name (an address literal has none)."""
    from mailprobe.cli.inputs import host_name_problem

    return None if name.startswith("[") else host_name_problem(name)


def read_password(
    user: str | None,
    password_env: str | None,
    password_file: Path | None,
    password: str | None,
) -> tuple[str | None, str | None]:
    """The AUTH password and where it came from: ``--password-env VAR``, ``--password-file``,
    ``--password`` (with a warning), or a hidden prompt when a terminal is attached.

    The password (with the AUTH PLAIN blobs of ``user``) is registered here, once, with the
    run's redactor: from now on no output of the run shows it (``mailprobe.cli.runtime``)."""
    secret, source = _password_source(user, password_env, password_file, password)
    if secret is not None:
        try:
            secret.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"the password ({source}) is not valid UTF-8 text") from None
        from mailprobe.smtp.redact import run_redactor

        run_redactor().add_credentials(user, secret)
    return secret, source


def _password_source(
    user: str | None,
    password_env: str | None,
    password_file: Path | None,
    password: str | None,
) -> tuple[str | None, str | None]:
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
        from mailprobe.files import read_text

        lines = read_text(password_file, "--password-file").splitlines()  # bounded, files only
        if not lines or not lines[0]:
            raise UsageError(f"--password-file {password_file}: the file is empty")
        return lines[0], "file"
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
    import getpass

    value = getpass.getpass(f"Password for {user}: ", stream=sys.stderr)
    if not value:
        raise UsageError("empty password")
    return value, "prompt"


def resolve_target(
    host: str | None, mx: str | None, cfg: Settings, command: str
) -> tuple[str, bool]:
    """The server (or ``--mx`` domain) an SMTP command talks to, validated; True when it is an
    MX domain. Without either, the ``host`` of the config file; without that, a usage error
    that says how to give a target."""
    if host is not None and mx is not None:
        raise UsageError("give either HOST or --mx DOMAIN, not both")
    if mx is not None:
        from mailprobe.dns import parse_domain

        if has_control_chars(mx) or not mx.strip():
            raise UsageError("--mx needs a domain name")
        return parse_domain(mx.strip())[0], True
    what = "host"
    if host is None:
        host = cfg.host
        if host is None:
            raise UsageError(
                f"no server to {'test' if command == 'relay-test' else 'probe'}: give one "
                f"(mailprobe {command} HOST), use --mx DOMAIN, or set host in the config file"
            )
        what = cfg.origin("host")
    if not host.strip():
        raise UsageError("the host is empty: give a host name or an address")
    if has_control_chars(host) or any(ch.isspace() for ch in host.strip()):
        raise UsageError("the host contains spaces or control characters")
    return normalise_host(host.strip(), what), False


def normalise_host(host: str, what: str = "host") -> str:
    """``[::1]`` and ``::1`` both become ``::1``; names lose a trailing dot and go to A-labels.
    ``what`` names the value in errors (``host``, ``--tls-name``, a config key)."""
    import ipaddress

    from mailprobe.cli.inputs import check_host_name, named

    if host.startswith("[") != host.endswith("]"):
        raise UsageError(f"{host!r}: unbalanced brackets (write [::1] or ::1)")
    try:
        address = ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
    except ValueError:
        pass
    else:
        if getattr(address, "scope_id", None) is not None:
            raise UsageError(
                f"{named(what, host)}: scoped IPv6 addresses (%zone, link-local) are not "
                "supported; give a global or unique-local address"
            )
        return str(address)
    if host.startswith("[") or ":" in host:
        raise UsageError(f"{host!r} is not a valid address (use --port for the port)")
    name = host.rstrip(".")
    if not name:
        raise UsageError("the host is empty: give a host name or an address")
    if not name.isascii():  # an IDN: A-label as the DNS wants it (IDNA 2008, like mx)
        from mailprobe.dns import parse_domain

        name = parse_domain(name)[0]
    return check_host_name(name, what)  # a..b or a 64-character label: refused before connecting
