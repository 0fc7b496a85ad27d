"""Result types of ``mailprobe tls`` (the shapes of its ``--json`` output)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from mailprobe.checks.tls_scan.grade import Level
from mailprobe.model import ExitCode, Failure, Finding

Verdict = Literal["good", "sufficient", "phase-out", "insufficient", "untestable"]


@dataclasses.dataclass(frozen=True)
class TlsCipher:
    """One cipher suite the server accepted: IANA and OpenSSL names, its level, and the
    key exchange seen with it (e.g. "ECDH X25519 253 bits", "DH 2048 bits")."""

    name: str
    openssl_name: str
    level: Level
    key_exchange: str | None = None


@dataclasses.dataclass(frozen=True)
class TlsProtocol:
    """One protocol version: ``accepted`` True/False, or None when it could not be tested
    (``note`` says why); the suites accepted with it."""

    version: str
    accepted: bool | None
    level: Level
    ciphers: tuple[TlsCipher, ...] = ()
    note: str = ""


@dataclasses.dataclass(frozen=True)
class TlsCertificateInfo:
    """The leaf certificate the server presented, and how its chain validated."""

    subject: str
    issuer: str
    names: tuple[str, ...]
    key_type: str
    key_bits: int | None
    key_curve: str | None
    signature_hash: str | None
    not_before: str
    not_after: str
    days_left: int
    chain_length: int
    #: Whether the chain validated against the trust store (the system's, or --ca-file).
    trusted: bool | None
    trust_error: str | None
    #: Whether the checked name is in the certificate (None: no name to check, e.g. an address).
    name_matches: bool | None
    ocsp_stapled: bool | None
    #: SHA-256 of the leaf's SubjectPublicKeyInfo and of the whole certificate (DANE 3 1 1 / 3 0 1).
    spki_sha256: str
    cert_sha256: str


@dataclasses.dataclass(frozen=True)
class GradedItem:
    """One graded part of the posture: ``area`` (protocol, cipher, order, group, dh,
    compression, renegotiation, ems, certificate-key, certificate-signature,
    certificate-expiry), what it is, its level, and the fix when it is not good."""

    area: str
    subject: str
    level: Level
    detail: str = ""
    fix: str = ""


@dataclasses.dataclass(frozen=True)
class ServerTls:
    """The full enumeration of one server address."""

    host: str
    address: str
    port: int
    mode: Literal["starttls", "implicit"]
    #: False: no TLS handshake completed (``error`` says why); nothing else is filled in.
    reachable: bool
    error: str = ""
    protocols: tuple[TlsProtocol, ...] = ()
    groups: tuple[str, ...] = ()
    dh_bits: tuple[int, ...] = ()
    compression: bool | None = None
    secure_renegotiation: bool | None = None
    client_renegotiation: bool | None = None
    extended_master_secret: bool | None = None
    #: True: the server enforces its own order (good and sufficient suites before phase-out
    #: ones); False: it follows the client's; None: not applicable or not tested.
    server_cipher_order: bool | None = None
    certificate: TlsCertificateInfo | None = None
    items: tuple[GradedItem, ...] = ()
    verdict: Verdict = "untestable"
    #: Things that could not be tested, in words (e.g. "SSLv2: ...").
    untested: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class TlsScanReport:
    """``mailprobe tls``: one host (or ``--mx DOMAIN``: every exchanger address)."""

    target: str
    servers: tuple[ServerTls, ...]
    #: What DANE (TLSA records) and MTA-STS (enforce) mean for certificate changes.
    delivery_notes: tuple[str, ...]
    findings: tuple[Finding, ...]
    failures: tuple[Failure, ...]
    exit_code: ExitCode
    seconds: float
