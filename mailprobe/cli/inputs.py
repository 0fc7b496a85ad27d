"""Checks of values from the command line, config file and environment that several commands
share (typer-free): host names, the text of options, ``--ca-file``.

Each raises ``UsageError`` (exit 2) with one line that names where the value came from, before
any network step; reading files is ``mailprobe.files`` (one rule for every file).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.errors import UsageError

if TYPE_CHECKING:
    from mailprobe.cli.options import Opt


def host_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a DNS host name, or None: an empty label (``a..b``), a
    label longer than 63 characters, more than 253 characters (a trailing dot is allowed;
    characters are not judged here, a name with odd ones still fails to resolve cleanly)."""
    text = name[:-1] if name.endswith(".") else name
    if not text:
        return "is empty"
    labels = text.split(".")
    if any(not label for label in labels):
        return "has an empty label"
    longest = max(labels, key=len)
    if len(longest) > 63:
        return f"has a label of {len(longest)} characters (at most 63 allowed)"
    if len(text) > 253:
        return "is longer than 253 characters"
    return None


def check_host_name(name: str, what: str) -> str:
    """``name`` unchanged when it is usable as a host name, else a UsageError naming ``what``
    (``--tls-name``, ``host``, ``config key 'host' in PATH``)."""
    problem = host_name_problem(name)
    if problem is not None:
        raise UsageError(f"{named(what, name)} {problem}")
    return name


def check_url_host(url: str, what: str) -> None:
    """The host of a URL option (``--doh``, ``--mta-sts-url``): a usable host name, or an IP
    address without a zone (scoped IPv6 addresses are not supported anywhere)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return  # the URL check of the option reports it
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        check_host_name(host, f"{what} host")
        return
    if getattr(address, "scope_id", None) is not None:
        raise UsageError(f"{what} {url!r}: scoped IPv6 addresses (%zone) are not supported")


def named(what: str, value: str) -> str:
    """``--tls-name 'a..b'``, ``config key 'host' in PATH: 'a..b'``: a value and its origin."""
    return f"{what}{': ' if ' ' in what else ' '}{_shown(value)}"


def check_ca_file(path: Path, what: str = "--ca-file") -> None:
    """A CA file must be a readable file (``mailprobe.files`` rule) holding at least one PEM
    certificate; checked before the first connection, so that the error is one usage line."""
    import os
    import ssl
    import stat

    from mailprobe.files import FileError, read_bytes

    with contextlib.suppress(OSError, ValueError):  # (read_bytes reports a missing file)
        if stat.S_ISFIFO(os.stat(path).st_mode):  # reading it here would empty it
            raise FileError(
                f"{what} {path}",
                "not a regular file (a pipe: it is read again for each connection)",
            )
    read_bytes(path, what)  # exists, a regular file, at most 5 MB
    try:
        context = ssl.create_default_context(cafile=str(path))
    except ssl.SSLError:
        certificates = 0
    except (OSError, ValueError) as exc:
        raise FileError(f"{what} {path}", f"cannot read ({exc})") from None
    else:
        certificates = context.cert_store_stats().get("x509", 0)
    if certificates == 0:
        raise FileError(
            f"{what} {path}", "holds no certificate (expected PEM '-----BEGIN CERTIFICATE-----')"
        )


def check_text_options(table: Iterable[Opt], values: Mapping[str, Any]) -> None:
    """Text options (not paths) must be valid UTF-8: a command line in another encoding reaches
    Python as lone surrogates, which no protocol can send (``--user $'\\xff'``)."""
    for opt in table:
        if opt.positional or opt.py_type is not str or opt.kind not in ("value", "multi"):
            continue
        given = values.get(opt.dest)
        for value in given if isinstance(given, list) else [given]:
            if isinstance(value, str) and not is_utf8(value):
                raise UsageError(
                    f"{opt.names[0]} is not valid UTF-8 text (the command line holds bytes "
                    "in another encoding)"
                )


def is_utf8(text: str) -> bool:
    """False for text holding lone surrogates (undecodable bytes of argv or environ)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(text: str, limit: int = 60) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(shown)


def check_output_file(path: Path | None, what: str) -> None:
    """A file mailprobe will write after the run (``--html``, ``--transcript``): refused before
    any network step when it cannot be one (a directory, a missing directory)."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"{what} {path}: is a directory; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{what} {path}: directory {path.parent} does not exist")
