"""The names and addresses around the battery: what the server calls itself, what the user gives.

``server_name_from_greeting`` reads the host name from the 220 banner or the EHLO reply,
``parent_domain`` makes the own domain of it and ``address_literal`` writes ``[192.0.2.1]`` or
``[IPv6:2001:db8::1]``. ``is_inside_address`` tells whether the target is a loopback or private
address (the test then probably ran from inside the server's trusted networks).
``check_domain`` and ``check_address`` refuse malformed domains and addresses given by the user
with ``UsageError`` (exit 2), before any connection.
"""

from __future__ import annotations

import ipaddress
import re

from mailprobe.errors import InputError
from mailprobe.smtp.session import Reply
from mailprobe.text import has_control_chars

_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})+\.?$"
)


def server_name_from_greeting(banner: Reply | None, ehlo: Reply | None) -> str | None:
    """The host name a server gives in its 220 banner, else in its EHLO/HELO reply."""
    for reply in (banner, ehlo):
        if reply is None or not reply.lines:
            continue
        words = reply.lines[0].split()
        if words and _HOST_NAME.match(words[0]) and not _is_ip(words[0]):
            return words[0].rstrip(".").lower()
    return None


def parent_domain(host_name: str) -> str:
    """``mx1.example.org`` -> ``example.org``; a name of two labels is its own domain."""
    labels = host_name.rstrip(".").lower().split(".")
    return ".".join(labels[1:]) if len(labels) >= 3 else ".".join(labels)


def address_literal(address: str) -> str:
    """The SMTP address literal of an IP address: ``[192.0.2.1]``, ``[IPv6:2001:db8::1]``."""
    ip = ipaddress.ip_address(address.strip("[]"))
    return f"[IPv6:{ip}]" if ip.version == 6 else f"[{ip}]"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


#: Networks from which a tester is probably inside the server's trusted networks: loopback,
#: RFC 1918, shared address space (RFC 6598), link-local, IPv6 unique-local and link-local.
INSIDE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def is_inside_address(address: str | None) -> bool:
    """Loopback, private or link-local: the tester is probably inside the trusted networks."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in INSIDE_NETWORKS)


def check_domain(value: str, field: str) -> str:
    """A domain name given by the user: no control characters, a plausible host name.

    ``field`` names the input (``domain``, ``external``); errors are ``InputError``s."""
    if has_control_chars(value):
        raise InputError(field, "contains a control character (CR, LF, ...): refused")
    if not _HOST_NAME.match(value) and not _is_single_label(value):
        raise InputError(field, f"{value!r} is not a domain name")
    return value.rstrip(".")


def _is_single_label(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})", value))


def check_address(value: str, field: str) -> str:
    """An envelope address given by the user: printable, one ``@``, no spaces or brackets."""
    if has_control_chars(value):
        raise InputError(field, "contains a control character (CR, LF, ...): refused")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(ch in value for ch in " <>"):
        raise InputError(field, f"{value!r} is not an address like user@example.org")
    try:
        check_domain(domain, field)
    except InputError:
        raise InputError(field, f"{value!r}: {domain!r} is not a domain name") from None
    return value
