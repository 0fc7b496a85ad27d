"""What a TLS handshake showed: the certificate decoded, summarised and checked by name.

``tls_info_from_cert`` turns a certificate in the dict shape of ``SSLSocket.getpeercert()``
(``decode_der_certificate`` makes one from DER when the handshake was not verified) into a
``TlsInfo``; ``name_matches_certificate`` checks a host name or address against it (RFC 6125).
No network I/O here: ``SmtpSession`` (``mailprobe.smtp.session``) runs the handshake.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterable

from mailprobe.text import clean_line


@dataclasses.dataclass(frozen=True)
class TlsInfo:
    """What a TLS handshake produced, and what we think of the certificate."""

    version: str | None
    cipher: str | None
    subject: str | None
    issuer: str | None
    sans: tuple[str, ...]
    not_before: str | None
    not_after: str | None
    verified: bool
    verify_error: str | None
    checked_name: str | None
    name_matches: bool | None


def decode_der_certificate(der: bytes) -> dict[str, object] | None:
    """Decode a DER certificate into the dict shape of ``SSLSocket.getpeercert()``.

    Uses the standard library's certificate decoder (via a temporary PEM file); returns None
    when that is unavailable or the certificate cannot be read.
    """
    import os
    import tempfile

    decoder = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decoder is None:
        return None
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(ssl.DER_cert_to_PEM_cert(der))
        decoded = decoder(path)
    except (OSError, ValueError, ssl.SSLError):
        return None
    finally:
        os.unlink(path)
    return decoded if isinstance(decoded, dict) else None


def _rdn_text(rdns: object) -> str | None:
    if not isinstance(rdns, tuple | list):
        return None
    parts: list[str] = []
    for rdn in rdns:
        for pair in rdn:
            if isinstance(pair, tuple | list) and len(pair) == 2:
                parts.append(f"{pair[0]}={pair[1]}")
    return clean_line(", ".join(parts)) if parts else None


def tls_info_from_cert(
    cert: dict[str, object],
    *,
    version: str | None,
    cipher: str | None,
    verified: bool,
    checked_name: str | None,
    verify_error: str | None = None,
) -> TlsInfo:
    """Summarise a decoded certificate (``getpeercert()`` shape) and check the name."""
    sans_raw = cert.get("subjectAltName", ())
    sans: list[str] = []
    if isinstance(sans_raw, tuple | list):
        for entry in sans_raw:
            if (
                isinstance(entry, tuple | list)
                and len(entry) == 2
                and entry[0]
                in (
                    "DNS",
                    "IP Address",
                )
            ):
                sans.append(clean_line(str(entry[1]), 255))
    subject = _rdn_text(cert.get("subject"))
    common_names = [
        str(pair[1])
        for rdn in (cert.get("subject") or ())  # type: ignore[attr-defined]
        for pair in rdn
        if isinstance(pair, tuple | list) and len(pair) == 2 and pair[0] == "commonName"
    ]
    matches = name_matches_certificate(checked_name, sans, common_names) if checked_name else None
    not_before = cert.get("notBefore")
    not_after = cert.get("notAfter")
    return TlsInfo(
        version=version,
        cipher=cipher,
        subject=subject,
        issuer=_rdn_text(cert.get("issuer")),
        sans=tuple(sans),
        not_before=str(not_before) if not_before else None,
        not_after=str(not_after) if not_after else None,
        verified=verified,
        verify_error=verify_error if not verified else None,
        checked_name=checked_name,
        name_matches=matches,
    )


def name_matches_certificate(
    name: str, sans: Iterable[str], common_names: Iterable[str] = ()
) -> bool:
    """RFC 6125 style match: SANs first (wildcard only as the whole left-most label); the
    common name is used only when the certificate has no DNS/IP SANs."""
    import ipaddress

    wanted = name.rstrip(".").lower()
    try:
        wanted_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
            wanted.strip("[]")
        )
    except ValueError:
        wanted_ip = None
    candidates = [s.lower().rstrip(".") for s in sans] or [c.lower() for c in common_names]
    for pattern in candidates:
        if wanted_ip is not None:
            try:
                if ipaddress.ip_address(pattern) == wanted_ip:
                    return True
            except ValueError:
                continue
            continue
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted:
            head, _, rest = wanted.partition(".")
            if head and rest == pattern[2:] and "." in rest:
                return True
    return False


def whole_days(seconds: float) -> int:
    """Days in ``seconds`` (until or since a certificate's expiry), counted toward zero: a
    certificate that expired 30 hours ago expired "1 day ago" (-1), one with 30 hours left has
    0 days left."""
    return int(seconds / 86400)
