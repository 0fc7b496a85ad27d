"""DKIM key records (RFC 6376 §3.6.1, RFC 8463): ``SELECTOR._domainkey.DOMAIN``."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re

from mailprobe.checks.policy._lookup import QueryResolver, fqdn, lookup_txt
from mailprobe.checks.policy._text import shown, tag_list
from mailprobe.checks.policy.catalog import FAIL, WARN, finding
from mailprobe.checks.policy.der import rsa_modulus_bits
from mailprobe.model import Failure, Finding

KEY_TYPES = ("rsa", "ed25519")
#: RSA sizes: below the first, verifiers must refuse the key (RFC 8301); below the second, weak.
RSA_MINIMUM_BITS = 1024
RSA_RECOMMENDED_BITS = 2048
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class DkimKey:
    """A parsed DKIM key record.

    ``public_key`` is the p= value without white space; ``revoked`` is true when p= is
    empty; ``key_bits`` the RSA modulus size (None for ed25519 or when unreadable);
    ``flags`` the t= flags (``y`` testing, ``s`` strict).
    """

    text: str
    version: str | None = None
    key_type: str = "rsa"
    public_key: str | None = None
    revoked: bool = False
    key_bits: int | None = None
    hash_algorithms: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    key_error: str = ""

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_dkim_key(text: str) -> DkimKey:
    """Parse a DKIM key record (tag list); never raises."""
    pairs, errors = tag_list(text)
    tags: dict[str, str] = {}
    for name, value in pairs:
        if not _TAG_NAME.fullmatch(name):
            errors.append(f"bad tag name {shown(name, 20)}")
        elif name in tags:
            errors.append(f"tag {name}= appears twice (the record is invalid, RFC 6376 §3.2)")
        else:
            tags[name] = value
    version = tags.get("v")
    if version is not None:
        if pairs and pairs[0][0] != "v":
            errors.append("v= must be the first tag")
        if version != "DKIM1":
            errors.append(f"v={shown(version, 20, quote=False)} is not DKIM1")
    key_type = tags.get("k", "rsa")
    if key_type not in KEY_TYPES:
        errors.append(f"k={shown(key_type, 20, quote=False)} is not rsa or ed25519")
    public_key: str | None = None
    revoked = False
    key_bits: int | None = None
    key_error = ""
    if "p" not in tags:
        errors.append("the required p= tag is missing")
    else:
        public_key = "".join(tags["p"].split())
        revoked = public_key == ""
        if not revoked:
            key_bits, key_error = _key_details(public_key, key_type)
    return DkimKey(
        text=text,
        version=version,
        key_type=key_type,
        public_key=public_key,
        revoked=revoked,
        key_bits=key_bits,
        hash_algorithms=_colon_list(tags.get("h")),
        service_types=_colon_list(tags.get("s")),
        flags=_colon_list(tags.get("t")),
        errors=tuple(errors),
        key_error=key_error,
    )


def _colon_list(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(part.strip() for part in value.split(":") if part.strip())


def _key_details(public_key: str, key_type: str) -> tuple[int | None, str]:
    """(RSA size in bits, problem) for a base64 key."""
    if not _BASE64.fullmatch(public_key):
        return None, "p= is not base64"
    try:
        raw = base64.b64decode(public_key + "=" * (-len(public_key) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None, "p= is not valid base64"
    if key_type == "ed25519":
        if len(raw) != 32:
            return None, f"an ed25519 key is 32 bytes, this one is {len(raw)}"
        return None, ""
    if key_type != "rsa":
        return None, ""
    try:
        return rsa_modulus_bits(raw), ""
    except ValueError as exc:
        return None, f"p= is not an RSA public key ({exc})"


@dataclasses.dataclass(frozen=True)
class DkimReport:
    """The DKIM key record of one selector: every TXT record found there as published, the
    parsed key when there is exactly one, and the findings."""

    domain: str
    selector: str
    name: str
    records: tuple[str, ...] = ()
    key: DkimKey | None = None
    findings: tuple[Finding, ...] = ()
    failures: tuple[Failure, ...] = ()


async def check_dkim(domain: str, selector: str, resolver: QueryResolver) -> DkimReport:
    """Check the DKIM key published for ``selector`` at ``SELECTOR._domainkey.DOMAIN``."""
    domain = fqdn(domain)
    selector = selector.strip().strip(".").lower()
    name = f"{selector}._domainkey.{domain}"
    found = await lookup_txt(resolver, name, "dkim TXT")
    if found.failure is not None:
        return DkimReport(domain, selector, name, failures=(found.failure,))
    records = tuple(t for t in found.texts if t.strip())
    if not records:
        return DkimReport(
            domain,
            selector,
            name,
            findings=(
                finding("dkim.missing", f"no DKIM key at {name}", subject=selector, name=name),
            ),
        )
    findings: list[Finding] = []
    if len(records) > 1:
        findings.append(
            finding(
                "dkim.multiple",
                f"{name} has {len(records)} TXT records (the first is checked)",
                subject=selector,
                name=name,
            )
        )
    key = parse_dkim_key(records[0])
    findings.extend(_key_findings(name, selector, key))
    if not any(f.severity in (WARN, FAIL) for f in findings):
        size = f", {key.key_bits}-bit" if key.key_bits else ""
        findings.insert(
            0,
            finding("dkim.valid", f"DKIM key {name}: {key.key_type}{size}", subject=selector),
        )
    return DkimReport(domain, selector, name, records, key, tuple(findings))


def _key_findings(name: str, selector: str, key: DkimKey) -> list[Finding]:
    findings: list[Finding] = []
    type_errors = [e for e in key.errors if e.startswith("k=")]
    other_errors = [e for e in key.errors if not e.startswith("k=")]
    if other_errors:
        findings.append(
            finding(
                "dkim.syntax",
                f"DKIM key record {name} is invalid: " + "; ".join(other_errors[:3]),
                subject=selector,
            )
        )
    if type_errors:
        findings.append(finding("dkim.key-type", f"{name}: {type_errors[0]}", subject=selector))
    if key.revoked:
        findings.append(
            finding("dkim.revoked", f"DKIM key {name} is revoked (empty p=)", subject=selector)
        )
    elif key.key_error:
        findings.append(finding("dkim.bad-key", f"{name}: {key.key_error}", subject=selector))
    elif key.key_bits is not None and key.key_bits < RSA_RECOMMENDED_BITS:
        findings.append(
            finding(
                "dkim.weak-key",
                f"DKIM key {name} is RSA {key.key_bits} bits",
                subject=selector,
                severity=FAIL if key.key_bits < RSA_MINIMUM_BITS else WARN,
            )
        )
    if "y" in key.flags:
        findings.append(finding("dkim.testing", f"DKIM key {name} has t=y", subject=selector))
    return findings
