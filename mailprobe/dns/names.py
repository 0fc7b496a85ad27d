"""Names and servers as users type them: DNS server specs, DoH URLs, domain names (IDNA).

Pure parsing without network access: ``parse_server`` (``ADDR``, ``ADDR:PORT``, ``[v6]:PORT``),
``parse_doh_url``, ``system_servers`` (the nameservers of resolv.conf), ``parse_domain`` (IDNA
2008 A-label and Unicode forms; ``UsageError`` with one line when bad), ``to_unicode`` for names
read from DNS, and ``reverse_name`` for PTR lookups.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING

from mailprobe.dns.answer import _DEFAULT_PORT, DnsServer
from mailprobe.errors import UsageError
from mailprobe.text import is_digits

if TYPE_CHECKING:
    from mailprobe.config import Settings


def configured_server(cfg: Settings) -> DnsServer | None:
    """The ``dns_server`` of the settings, parsed (None when not set); a bad value is a
    ``ConfigError`` naming the config file (or the variable) and the key."""
    if not cfg.dns_server:
        return None
    try:
        return parse_server(cfg.dns_server)
    except UsageError as exc:
        raise cfg.error("dns_server", str(exc)) from None


def split_host_port(text: str, what: str) -> tuple[str, str | None, bool]:
    """Split ``HOST``, ``HOST:PORT``, ``[v6]:PORT`` or a bare IPv6 address: (host without
    brackets, the port text or None, whether the host was in brackets). ``what`` names the
    value in errors (``DNS server '...'``, ``--smarthost '...'``)."""
    raw = text.strip()
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise UsageError(f"{what}: missing ']' after the IPv6 address")
        host, rest = raw[1:end], raw[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UsageError(f"{what}: expected ':PORT' after ']'")
        return host, rest[1:] if rest else None, True
    if raw.count(":") == 1:
        host, port_text = raw.split(":")
        return host, port_text, False
    return raw, None, False


def port_number(port_text: str, what: str) -> int:
    """A port typed by a user: 1-65535 in ASCII digits, else a usage error naming ``what``."""
    if not is_digits(port_text) or not 1 <= int(port_text) <= 65535:
        raise UsageError(f"{what}: port must be a number from 1 to 65535")
    return int(port_text)


def parse_server(text: str, default_port: int = _DEFAULT_PORT) -> DnsServer:
    """Parse ``ADDR``, ``ADDR:PORT``, ``[v6]:PORT`` or a bare IPv6 address; UsageError if bad."""
    if not text.strip():
        raise UsageError("DNS server is empty: give an IP address, ADDR:PORT or [v6]:PORT")
    what = f"DNS server {text!r}"
    host, port_text, bracketed = split_host_port(text, what)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(
            f"DNS server {text!r} is not an IP address (give ADDR, ADDR:PORT or [v6]:PORT)"
        ) from None
    if bracketed and address.version != 6:
        raise UsageError(f"DNS server {text!r}: brackets are for IPv6 addresses only")
    if getattr(address, "scope_id", None) is not None:
        raise UsageError(
            f"DNS server {text!r}: scoped IPv6 addresses (%zone, link-local) are not supported; "
            "give a global or unique-local address"
        )
    port = default_port if port_text is None else port_number(port_text, what)
    return DnsServer(str(address), port)


def parse_doh_url(text: str) -> DnsServer:
    """Validate a DNS-over-HTTPS URL (``https://host/dns-query``; ``http://`` for tests)."""
    from urllib.parse import urlsplit

    raw = text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise UsageError(f"DoH URL {text!r}: not a valid URL") from None
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname or " " in raw:
        raise UsageError(f"DoH URL {text!r}: expected https://HOST/PATH")
    default = 443 if parts.scheme.lower() == "https" else 80
    return DnsServer(address=parts.hostname, port=port or default, url=raw)


def system_servers(path: str = "/etc/resolv.conf") -> list[DnsServer]:
    """The nameservers of resolv.conf (127.0.0.1 when there are none or it cannot be read)."""
    servers: list[DnsServer] = []
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            address = parts[1].split("%", 1)[0]  # drop an IPv6 zone index
            try:
                servers.append(DnsServer(str(ipaddress.ip_address(address))))
            except ValueError:
                continue
    return servers or [DnsServer("127.0.0.1")]


_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def parse_domain(text: str) -> tuple[str, str]:
    """Validate a domain name typed by a user; return (A-label form, Unicode form).

    Unicode names are converted with IDNA 2008 (UTS 46 mapping) when the ``idna`` package is
    installed, else with Python's IDNA 2003 codec. Raises ``UsageError`` with one line.
    """
    raw = text.strip()
    if not raw:
        raise UsageError("domain name is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in raw):
        raise UsageError(f"domain name {text!r} contains spaces or control characters")
    if raw.endswith(".") and raw != ".":
        raw = raw[:-1]
    if raw == "." or raw.startswith(".") or raw.endswith(".") or ".." in raw:
        raise UsageError(f"domain name {text!r} has an empty label")
    try:
        ipaddress.ip_address(raw.strip("[]"))
    except ValueError:
        pass
    else:
        raise UsageError(f"{text!r} is an IP address, not a domain name")
    ascii_name = raw.lower() if raw.isascii() else _to_ascii(raw, text)
    labels = ascii_name.split(".")
    for label in labels:
        if len(label) > 63:
            raise UsageError(
                f"domain name {_short(text)!r}: label of {len(label)} characters "
                "(at most 63 allowed)"
            )
        if not set(label) <= _LABEL_CHARS:
            bad = next(ch for ch in label if ch not in _LABEL_CHARS)
            raise UsageError(f"domain name {_short(text)!r}: character {bad!r} is not allowed")
        if label.startswith("-") or label.endswith("-"):
            raise UsageError(
                f"domain name {_short(text)!r}: label {label!r} starts or ends with a hyphen"
            )
    if len(ascii_name) > 253:
        raise UsageError(f"domain name {_short(text)!r} is longer than 253 characters")
    return ascii_name, _to_unicode(ascii_name, text)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _to_ascii(name: str, original: str) -> str:
    try:
        import idna
    except ImportError:  # pragma: no cover - idna comes with httpx
        try:
            return name.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise UsageError(f"domain name {_short(original)!r}: {exc}") from None
    try:
        return idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise UsageError(f"domain name {_short(original)!r} is not a valid IDN: {exc}") from None


def _to_unicode(ascii_name: str, original: str) -> str:
    if "xn--" not in ascii_name:
        return ascii_name
    try:
        import idna
    except ImportError:  # pragma: no cover
        try:
            return ascii_name.encode("ascii").decode("idna")
        except UnicodeError as exc:
            raise UsageError(f"domain name {_short(original)!r}: bad A-label ({exc})") from None
    try:
        return str(idna.decode(ascii_name))
    except idna.IDNAError as exc:
        raise UsageError(f"domain name {_short(original)!r}: bad A-label ({exc})") from None


def to_unicode(ascii_name: str) -> str:
    """The Unicode form of a host name from DNS (unchanged when it is not a valid A-label)."""
    if "xn--" not in ascii_name:
        return ascii_name
    try:
        return _to_unicode(ascii_name, ascii_name)
    except UsageError:
        return ascii_name


def reverse_name(address: str) -> str:
    """The in-addr.arpa / ip6.arpa name of an address (no trailing dot)."""
    return ipaddress.ip_address(address).reverse_pointer
