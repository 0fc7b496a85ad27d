"""``mailprobe tls``: targets -> a first session through the SMTP engine -> the enumeration ->
findings, and what DANE and MTA-STS mean for a certificate change.

The first session (connect, banner, EHLO, STARTTLS) goes through ``SmtpSession`` like every
other command, so a server that is unreachable, silent, refuses STARTTLS or breaks its handshake
gets the same diagnosis here as in ``ehlo`` and ``check`` (and no enumeration is attempted).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailprobe.checks.tls_scan.grade import LEVELS
from mailprobe.checks.tls_scan.model import ServerTls, TlsScanReport
from mailprobe.checks.tls_scan.scan import Target, scan
from mailprobe.errors import ProbeError
from mailprobe.findings import make
from mailprobe.model import Failure, Finding
from mailprobe.outcome import exit_code
from mailprobe.smtp.failures import failure_finding, is_incomplete

if TYPE_CHECKING:
    from mailprobe.dns import Resolver

#: What a TLSA record means for a certificate change, by usage (RFC 7672).
_TLSA_MEANING = {
    "3": "a new key breaks delivery from DANE senders unless its TLSA record is published "
    "first (a renewal with the same key is safe)",
    "3-cert": "any new certificate, even with the same key, breaks delivery from DANE senders "
    "unless its TLSA record is published first",
    "2": "a certificate from another CA (or intermediate) breaks delivery unless the new "
    "issuer's TLSA record is published first; the name must stay in the certificate",
    "0": "usages 0 and 1 are not used for SMTP (RFC 7672): senders ignore this record",
}
#: The finding code per level of a graded item.
_CODES = {
    "insufficient": "tls.grade-insufficient",
    "phase-out": "tls.grade-phase-out",
}


async def check_tls(
    label: str,
    targets: Sequence[Target],
    *,
    helo: str,
    timeout: float,
    ca_file: str | None = None,
    resolver: Resolver | None = None,
    domain: str | None = None,
    connections: int = 5,
) -> TlsScanReport:
    """Scan ``targets`` (the addresses of one host, or every exchanger of ``domain``)."""
    started = time.monotonic()
    findings: list[Finding] = []
    failures: list[Failure] = []
    checked = await asyncio.gather(*(_first_session(t, helo, timeout, ca_file) for t in targets))
    ready = []
    trust: dict[tuple[str, int], tuple[bool, str | None]] = {}
    for target, (ok, found, failed, verified) in zip(targets, checked, strict=True):
        findings.extend(found)
        failures.extend(failed)
        if ok:
            ready.append(target)
            trust[(target.address, target.port)] = verified
    servers: list[ServerTls] = []
    if ready:
        scanned = await asyncio.to_thread(
            scan, ready, helo=helo, timeout=timeout, ca_file=ca_file, connections=connections
        )
        servers = [_with_trust(s, trust.get((s.address, s.port))) for s in scanned]
    for server in servers:
        findings.extend(server_findings(server))
        if not server.reachable:
            failures.append(
                Failure(
                    "TLS", server.error or "no handshake completed", server.address, server.port
                )
            )
    notes: tuple[str, ...] = ()
    if resolver is not None and servers:
        notes = await delivery_notes(servers, resolver, domain, timeout)
    findings.extend(make("tls.delivery-note", note, subject=label) for note in notes)
    findings.sort(key=lambda f: -f.severity.rank)
    return TlsScanReport(
        label,
        tuple(servers),
        notes,
        tuple(findings),
        tuple(failures),
        exit_code(findings, failures),
        round(time.monotonic() - started, 3),
    )


def subject_of(host: str, address: str, port: int) -> str:
    """How findings name a server: ``name address:port`` (the address alone when typed)."""
    from mailprobe.model import hostport

    where = hostport(address, port)
    return where if host == address else f"{host} {where}"


async def _first_session(
    target: Target, helo: str, timeout: float, ca_file: str | None
) -> tuple[bool, list[Finding], list[Failure], tuple[bool, str | None]]:
    """Connect, greet and STARTTLS once through the engine: may the enumeration start? Also
    whether the certificate is trusted, judged as every other command judges it (the system's
    CAs, or --ca-file)."""
    from mailprobe.smtp.session import CertificateRejected, SmtpSession

    subject = subject_of(target.host, target.address, target.port)

    def session(verify: bool) -> SmtpSession:
        return SmtpSession(
            target.host,
            target.port,
            address=target.address,
            helo_name=helo,
            timeout=timeout,
            implicit_tls=target.mode == "implicit",
            tls_verify=verify,
            ca_file=ca_file,
        )

    verified: tuple[bool, str | None] = (True, None)
    current = session(True)
    try:
        for attempt in (True, False):
            try:
                await current.open()
                if target.mode == "starttls":
                    await current.hello()
                    if not current.supports("STARTTLS"):
                        finding = make(
                            "tls.not-offered",
                            f"{subject} does not offer STARTTLS: nothing to grade (mail to it "
                            "travels unencrypted)",
                            subject=subject,
                        )
                        return False, [finding], [], verified
                    await current.starttls(verify=attempt)
                return True, [], [], verified
            except CertificateRejected as exc:
                # Not trusted: said so, and the rest is graded without verification.
                verified = (False, exc.verify_error)
                current.close()
                current = session(False)
        raise AssertionError("unreachable")  # pragma: no cover - the second attempt returns
    except ProbeError as exc:
        found = failure_finding(exc.failure, subject)
        failed = [exc.failure] if is_incomplete(exc.failure) else []
        return False, [found] if found is not None else [], failed, verified
    finally:
        await current.quit()
        current.close()


def _with_trust(server: ServerTls, verified: tuple[bool, str | None] | None) -> ServerTls:
    """The certificate's trust as the SMTP engine judged it (one diagnosis in every command)."""
    import dataclasses

    if verified is None or server.certificate is None:
        return server
    trusted, error = verified
    certificate = dataclasses.replace(server.certificate, trusted=trusted, trust_error=error)
    return dataclasses.replace(server, certificate=certificate)


def server_findings(server: ServerTls) -> list[Finding]:
    """One finding per area and level that is not good or sufficient; one that says the
    posture passes; one per part that could not be tested."""
    subject = subject_of(server.host, server.address, server.port)
    found: list[Finding] = []
    if not server.reachable:
        return found
    groups: dict[tuple[str, str], list[str]] = {}
    fixes: dict[str, str] = {}
    for item in server.items:
        if item.level in _CODES:
            groups.setdefault((item.level, item.area), []).append(item.subject)
            fixes[item.area] = item.fix
    for (level, area), subjects in sorted(groups.items(), key=lambda g: -LEVELS.index(g[0][0])):
        shown = ", ".join(subjects[:12]) + (
            f" and {len(subjects) - 12} more" if len(subjects) > 12 else ""
        )
        found.append(
            make(
                _CODES[level],
                f"{subject}: {level} {area.replace('-', ' ')}: {shown}",
                subject=subject,
                fix=fixes[area],
            )
        )
    if not groups:
        accepted = [p.version for p in server.protocols if p.accepted]
        found.append(
            make(
                "tls.grade-ok",
                f"{subject}: {server.verdict} by the NCSC-NL guidelines ({', '.join(accepted)})",
                subject=subject,
            )
        )
    for part in server.untested:
        found.append(make("tls.not-tested", f"{subject}: {part}", subject=subject))
    return found


async def delivery_notes(
    servers: Sequence[ServerTls], resolver: Resolver, domain: str | None, timeout: float
) -> tuple[str, ...]:
    """What a certificate change would do to delivery: DANE TLSA records of each exchanger
    (which records match the certificate now, and what a new key or certificate needs), and an
    MTA-STS policy in enforce mode."""
    notes: list[str] = []
    hosts = sorted({(s.host, s.port) for s in servers if s.certificate is not None})
    answers = await asyncio.gather(
        *(resolver.query(f"_{port}._tcp.{host}", "TLSA") for host, port in hosts)
    )
    for (host, port), answer in zip(hosts, answers, strict=True):
        if not answer.ok:
            continue
        certificate = next(s.certificate for s in servers if s.host == host and s.certificate)
        for record in answer.records:
            parts = record.split()
            if len(parts) < 4:
                continue
            usage, selector, mtype, data = parts[0], parts[1], parts[2], "".join(parts[3:]).lower()
            now = {
                ("1", "1"): certificate.spki_sha256,
                ("0", "1"): certificate.cert_sha256,
            }.get((selector, mtype))
            matches = (
                "matches the certificate now"
                if now == data
                else "does not match the certificate now"
                if now
                else "not compared"
            )
            what = _TLSA_MEANING.get(usage, _TLSA_MEANING["0"])
            if usage == "3" and selector != "1":
                what = _TLSA_MEANING["3-cert"]
            notes.append(
                f"TLSA {usage} {selector} {mtype} at _{port}._tcp.{host} ({matches}): {what}"
            )
    if domain is not None:
        from mailprobe.checks.policy import check_mta_sts

        report = await check_mta_sts(domain, resolver, [h for h, _p in hosts], timeout=timeout)
        policy = report.policy
        if policy is not None and policy.mode == "enforce":
            notes.append(
                f"MTA-STS policy of {domain} is in enforce mode: senders that use it refuse to "
                "deliver unless each exchanger's certificate is valid, trusted by public CAs and "
                "names the exchanger — an expired, self-signed or misnamed certificate stops mail"
            )
    return tuple(notes)
