"""The TLS enumeration of mail servers: sslyze scans, one cipher-order probe, the grading.

sslyze (the TLS scanner of the field; its nassl bundles a legacy OpenSSL, so SSL 2.0/3.0, export
and RC4 suites can be tested at all) does the enumeration over SMTP STARTTLS or implicit TLS:
every protocol version's accepted suites with the key exchange of each, the groups, compression,
renegotiation, Extended Master Secret and the certificate chain. Whether the server enforces
its own suite order (good and sufficient suites chosen over phase-out ones) is one more
handshake through mailprobe's own SMTP engine, offering the accepted phase-out suites first.

sslyze is imported here only, so that no other command pays for it at start-up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import hashlib
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from mailprobe.checks.tls_scan.grade import (
    FIXES,
    LEVELS,
    VERSIONS,
    Level,
    cipher_level,
    curve_level,
    dh_level,
    key_level,
    protocol_level,
    signature_level,
    worst,
)
from mailprobe.checks.tls_scan.model import (
    GradedItem,
    ServerTls,
    TlsCertificateInfo,
    TlsCipher,
    TlsProtocol,
    Verdict,
)
from mailprobe.text import show_controls

if TYPE_CHECKING:
    from cryptography import x509

Mode = Literal["starttls", "implicit"]

#: sslyze's scan command per protocol version.
_VERSION_COMMANDS = {
    "SSLv2": "ssl_2_0_cipher_suites",
    "SSLv3": "ssl_3_0_cipher_suites",
    "TLSv1.0": "tls_1_0_cipher_suites",
    "TLSv1.1": "tls_1_1_cipher_suites",
    "TLSv1.2": "tls_1_2_cipher_suites",
    "TLSv1.3": "tls_1_3_cipher_suites",
}
_OTHER_COMMANDS = (
    "elliptic_curves",
    "tls_compression",
    "session_renegotiation",
    "tls_extended_master_secret",
    "certificate_info",
)


@dataclasses.dataclass(frozen=True)
class Target:
    """One server address to scan, and the name it is known by (SNI, certificate name)."""

    host: str
    address: str
    port: int
    mode: Mode


def scan(
    targets: Sequence[Target],
    *,
    helo: str,
    timeout: float,
    ca_file: str | None = None,
    connections: int = 5,
) -> list[ServerTls]:
    """Scan every target (concurrently; at most ``connections`` at once per server) and grade
    it. Blocking: sslyze runs its own threads. Never raises for network trouble: a target that
    completes no handshake is ``reachable=False`` with the reason."""
    from sslyze.connection_helpers.opportunistic_tls_helpers import (
        ProtocolWithOpportunisticTlsEnum,
    )
    from sslyze.plugins.certificate_info.implementation import CertificateInfoExtraArgument
    from sslyze.plugins.scan_commands import ScanCommand
    from sslyze.scanner.models import ScanCommandsExtraArguments, ServerScanRequest
    from sslyze.scanner.scanner import Scanner
    from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

    commands = {ScanCommand(c) for c in (*_VERSION_COMMANDS.values(), *_OTHER_COMMANDS)}
    extra = ScanCommandsExtraArguments()
    if ca_file is not None:
        from pathlib import Path

        extra = ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(ca_file))
        )
    requests = {}
    for target in targets:
        config = ServerNetworkConfiguration(
            tls_server_name_indication=target.host,
            tls_opportunistic_encryption=(
                ProtocolWithOpportunisticTlsEnum.SMTP if target.mode == "starttls" else None
            ),
            smtp_ehlo_hostname=helo if target.mode == "starttls" else None,
            network_timeout=max(1, round(timeout)),
            network_max_retries=1,
        )
        request = ServerScanRequest(
            server_location=ServerNetworkLocation(
                hostname=target.host, port=target.port, ip_address=target.address
            ),
            network_configuration=config,
            scan_commands=commands,
            scan_commands_extra_arguments=extra,
        )
        requests[request.uuid] = (target, request)
    scanner = Scanner(
        per_server_concurrent_connections_limit=connections,
        concurrent_server_scans_limit=max(1, len(targets)),
    )
    results: dict[Any, ServerTls] = {}
    with warnings.catch_warnings():
        # sslyze's trust stores hold certificates newer cryptography warns about: its noise,
        # not a finding (the certificate's trust is judged by mailprobe's own session).
        warnings.simplefilter("ignore")
        scanner.queue_scans([request for _target, request in requests.values()])
        for result in scanner.get_results():
            target, _request = requests[result.uuid]
            results[result.uuid] = _server(target, result, helo, timeout)
    return [results[uuid] for uuid in requests if uuid in results]


def _server(target: Target, result: Any, helo: str, timeout: float) -> ServerTls:
    from sslyze.scanner.models import ServerScanStatusEnum
    from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum

    base = ServerTls(target.host, target.address, target.port, target.mode, reachable=False)
    if result.scan_status != ServerScanStatusEnum.COMPLETED or result.scan_result is None:
        trace = result.connectivity_error_trace
        why = str(trace).strip().splitlines()[-1] if trace is not None else "no TLS handshake"
        return dataclasses.replace(base, error=show_controls(_short(why)))
    attempts = result.scan_result

    def attempt(name: str) -> tuple[Any, str]:
        found = getattr(attempts, name)
        if found.status == ScanCommandAttemptStatusEnum.COMPLETED:
            return found.result, ""
        reason = found.error_reason.value if found.error_reason is not None else found.status
        return None, f"not tested ({reason})"

    protocols: list[TlsProtocol] = []
    untested: list[str] = []
    dh_bits: set[int] = set()
    for version in VERSIONS:
        found, why = attempt(_VERSION_COMMANDS[version])
        if found is None:
            protocols.append(TlsProtocol(version, None, protocol_level(version), note=why))
            untested.append(f"{version}: {why}")
            continue
        ciphers = []
        for accepted in found.accepted_cipher_suites:
            suite = accepted.cipher_suite
            key = accepted.ephemeral_key
            exchange = _key_exchange(key)
            if key is not None and getattr(key, "type_name", "") == "DH":
                dh_bits.add(int(key.size))
            ciphers.append(
                TlsCipher(suite.name, suite.openssl_name, cipher_level(suite.name), exchange)
            )
        protocols.append(
            TlsProtocol(version, bool(ciphers), protocol_level(version), tuple(ciphers))
        )
    curves, _why = attempt("elliptic_curves")
    groups = tuple(c.name for c in (curves.supported_curves or ())) if curves else ()
    compression, _why = attempt("tls_compression")
    renegotiation, _why = attempt("session_renegotiation")
    ems, _why = attempt("tls_extended_master_secret")
    certificate, cert_why = attempt("certificate_info")
    server = dataclasses.replace(
        base,
        reachable=any(p.accepted for p in protocols),
        protocols=tuple(protocols),
        groups=groups,
        dh_bits=tuple(sorted(dh_bits)),
        compression=compression.supports_compression if compression else None,
        secure_renegotiation=renegotiation.supports_secure_renegotiation if renegotiation else None,
        client_renegotiation=(
            renegotiation.is_vulnerable_to_client_renegotiation_dos if renegotiation else None
        ),
        extended_master_secret=ems.supports_ems_extension if ems else None,
        certificate=_certificate(certificate, target.host) if certificate else None,
        untested=tuple(untested + ([f"certificate: {cert_why}"] if cert_why else [])),
    )
    if not server.reachable:
        return dataclasses.replace(server, error="the server accepted no protocol version")
    order = _cipher_order(server, helo, timeout)
    server = dataclasses.replace(server, server_cipher_order=order)
    items = grade(server)
    return dataclasses.replace(server, items=tuple(items), verdict=verdict(items))


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _key_exchange(key: Any) -> str | None:
    if key is None:
        return None
    kind = getattr(key, "type_name", "")
    curve = getattr(key, "curve_name", None)
    if curve:
        return f"ECDH {curve} {key.size} bits"
    return f"{kind} {key.size} bits"


def _certificate(result: Any, host: str) -> TlsCertificateInfo | None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    from cryptography.x509.oid import NameOID

    from mailprobe.smtp.tls import name_matches_certificate, whole_days

    if not result.certificate_deployments:
        return None
    deployment = result.certificate_deployments[0]
    chain: list[x509.Certificate] = deployment.received_certificate_chain
    if not chain:
        return None
    leaf = chain[0]
    key = leaf.public_key()
    key_type, bits, curve = "other", None, None
    if isinstance(key, rsa.RSAPublicKey):
        key_type, bits = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, bits, curve = "EC", key.key_size, key.curve.name
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type = "Ed25519"
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type = "Ed448"
    hash_algorithm = leaf.signature_hash_algorithm
    signature = hash_algorithm.name if hash_algorithm is not None else key_type.lower()
    names = _dns_names(leaf)
    common = [str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    validations = deployment.path_validation_results
    trusted: bool | None = None
    trust_error: str | None = None
    if validations:
        trusted = any(v.was_validation_successful for v in validations)
        if not trusted:
            errors = (v.validation_error for v in validations if v.validation_error)
            trust_error = next(errors, None)
    now = _dt.datetime.now(_dt.UTC)
    not_after = leaf.not_valid_after_utc
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        import ipaddress

        ipaddress.ip_address(host)
        matches: bool | None = None
    except ValueError:
        matches = name_matches_certificate(host, names, common)
    return TlsCertificateInfo(
        subject=show_controls(leaf.subject.rfc4514_string()),
        issuer=show_controls(leaf.issuer.rfc4514_string()),
        names=tuple(show_controls(n) for n in names),
        key_type=key_type,
        key_bits=bits,
        key_curve=curve,
        signature_hash=signature,
        not_before=leaf.not_valid_before_utc.isoformat(),
        not_after=not_after.isoformat(),
        days_left=whole_days((not_after - now).total_seconds()),
        chain_length=len(chain),
        trusted=trusted,
        trust_error=show_controls(trust_error) if trust_error else None,
        name_matches=matches,
        ocsp_stapled=deployment.ocsp_response is not None,
        spki_sha256=hashlib.sha256(spki).hexdigest(),
        cert_sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
    )


def _dns_names(cert: x509.Certificate) -> list[str]:
    from cryptography import x509 as cx509

    try:
        extension = cert.extensions.get_extension_for_class(cx509.SubjectAlternativeName)
    except cx509.ExtensionNotFound:
        return []
    names = [str(n) for n in extension.value.get_values_for_type(cx509.DNSName)]
    names += [str(a) for a in extension.value.get_values_for_type(cx509.IPAddress)]
    return names


def _cipher_order(server: ServerTls, helo: str, timeout: float) -> bool | None:
    """Does the server pick a good or sufficient TLS 1.2 suite when the client offers its
    phase-out suites first? None when not applicable (no TLS 1.2, or not both kinds)."""
    tls12 = next((p for p in server.protocols if p.version == "TLSv1.2" and p.accepted), None)
    if tls12 is None:
        return None
    weak = [c.openssl_name for c in tls12.ciphers if c.level in ("phase-out",)]
    strong = [c.openssl_name for c in tls12.ciphers if c.level in ("good", "sufficient")]
    if not weak or not strong:
        return None
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.set_ciphers(":".join(weak + strong))
    except ssl.SSLError:
        return None  # the local OpenSSL cannot offer these: not tested
    chosen = asyncio.run(_negotiate(server, context, helo, timeout))
    if chosen is None:
        return None
    return chosen not in weak


async def _negotiate(server: ServerTls, context: Any, helo: str, timeout: float) -> str | None:
    """One handshake through the SMTP engine with ``context``; the suite's OpenSSL name."""
    from mailprobe.errors import ProbeError
    from mailprobe.smtp.session import SmtpSession

    session = SmtpSession(
        server.host,
        server.port,
        address=server.address,
        helo_name=helo,
        timeout=timeout,
        implicit_tls=server.mode == "implicit",
        tls_verify=False,
        tls_context=context,
    )
    try:
        await session.open()
        if server.mode == "starttls":
            await session.hello()
            await session.starttls(verify=False)
        return session.tls.cipher if session.tls is not None else None
    except ProbeError:
        return None
    finally:
        await session.quit()
        session.close()


def grade(server: ServerTls) -> list[GradedItem]:
    """Every graded item of one server, worst first."""
    items: list[GradedItem] = []

    def add(area: str, subject: str, level: Level, detail: str = "") -> None:
        fix = FIXES.get(area, "") if level != "good" else ""
        items.append(GradedItem(area, subject, level, detail, fix))

    for protocol in server.protocols:
        if protocol.accepted:
            add("protocol", protocol.version, protocol.level, "accepted")
        for cipher in protocol.ciphers:
            add("cipher", f"{protocol.version} {cipher.name}", cipher.level, cipher.openssl_name)
    if server.server_cipher_order is False:
        add(
            "order",
            "cipher order",
            "insufficient",
            "the server follows the client's order: it chose a phase-out suite over a "
            "sufficient one",
        )
    for group in server.groups:
        add("group", group, curve_level(group))
    for bits in server.dh_bits:
        add("dh", f"DH {bits} bits", dh_level(bits), "group size only; prime not compared")
    if server.compression:
        add("compression", "TLS compression", "insufficient", "supported")
    if server.secure_renegotiation is False:
        add("renegotiation", "secure renegotiation", "insufficient", "not supported")
    tls12 = any(p.version == "TLSv1.2" and p.accepted for p in server.protocols)
    if tls12 and server.extended_master_secret is False:
        add("ems", "Extended Master Secret", "insufficient", "not supported with TLS 1.2")
    cert = server.certificate
    if cert is not None:
        size = f" {cert.key_bits} bits" if cert.key_bits else ""
        curve = f" {cert.key_curve}" if cert.key_curve else ""
        add(
            "certificate-key",
            f"{cert.key_type}{size}{curve}",
            key_level(cert.key_type, cert.key_bits, cert.key_curve),
        )
        add(
            "certificate-signature",
            f"signature {cert.signature_hash}",
            signature_level(cert.signature_hash),
        )
        if cert.days_left < 0:
            add(
                "certificate-expiry",
                f"expired {cert.not_after[:10]}",
                "insufficient",
                f"{-cert.days_left} days ago",
            )
    items.sort(key=lambda item: -LEVELS.index(item.level))
    return items


def verdict(items: Sequence[GradedItem]) -> Verdict:
    """The overall level: the worst item's."""
    return worst([item.level for item in items]) if items else "untestable"
