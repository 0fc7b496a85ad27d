"""TLS test servers on loopback (127.0.16.x): one private Postfix per TLS posture, and a peer
whose STARTTLS handshake always fails, as pytest fixtures.

Every case is a :class:`TlsServer` with ``address``, ``port``, ``mode`` ("starttls" or
"implicit"), ``ca_file`` (the test CA that issued its certificate) and ``expected``
(:class:`TlsFacts`: the accepted protocol versions and cipher suites as measured with
``openssl s_client`` and ``nmap --script ssl-enum-ciphers``; see docs/dev/testing.md).

=============  ============  =====  ========================================================
case           address       port   posture
=============  ============  =====  ========================================================
``weak``       127.0.16.1    25     TLS 1.0-1.3, OpenSSL security level 0 (this instance
                                    only), Postfix's "medium" cipher list: static-RSA key
                                    exchange (AES128-SHA, ...), CBC/SHA-1, CAMELLIA; RSA 2048
                                    certificate; the client's cipher order wins
``modern``     127.0.16.2    25     TLS 1.2 ECDHE AEAD suites + TLS 1.3, server order, ECDSA
                                    P-256 certificate
``tls13``      127.0.16.3    25     TLS 1.3 only, ECDSA P-256
``implicit``   127.0.16.4    465    implicit TLS (``smtpd_tls_wrappermode = yes``), otherwise
                                    as ``modern``
``expired``    127.0.16.5    25     as ``modern``, with a certificate that expired a day ago
``failing``    127.0.16.10   free   scripted peer: offers STARTTLS, answers 220, reads the
                                    ClientHello and answers garbage, then closes
=============  ============  =====  ========================================================

Postfix instances take a free port of the same address when the one above is claimed by
another test session (see tests/support/postfix.py): always read ``server.port``.

Fixtures (session-scoped): ``tls_lab`` (:class:`TlsLab`, every case started, in parallel) and
one per case, ``tls_weak``, ``tls_modern``, ``tls_tls13``, ``tls_implicit``, ``tls_expired``,
``tls_failing`` (only that server started). Outside pytest (benchmarks)::

    with running_tls_lab("weak") as lab:
        server = lab.server("weak")

or ``python -m tests.support.tls_servers [CASE ...]`` prints one line per case and runs until
SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.peers import POSTFIX_EHLO, PeerConnection, SmtpCommand, SmtpPeer, SmtpSession

if TYPE_CHECKING:  # runtime imports would load these plugins before pytest registers them
    from tests.support.certs import ServerCert, TestCA
    from tests.support.postfix import PostfixFactory, PostfixInstance

NET = "127.0.16"
CASES: tuple[str, ...] = ("weak", "modern", "tls13", "implicit", "expired", "failing")
POSTFIX_CASES: tuple[str, ...] = CASES[:-1]
ADDRESSES: dict[str, str] = {
    "weak": f"{NET}.1",
    "modern": f"{NET}.2",
    "tls13": f"{NET}.3",
    "implicit": f"{NET}.4",
    "expired": f"{NET}.5",
    "failing": f"{NET}.10",
}
PORTS: dict[str, int] = {"implicit": 465, "failing": 0}  # others 25; 0 = a free port
VERSIONS: tuple[str, ...] = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")

# -- the Postfix settings of each posture --------------------------------------------------------

_WEAK_MAIN_CF = {
    "smtpd_tls_protocols": ">=TLSv1",
    "smtpd_tls_mandatory_protocols": ">=TLSv1",
    "smtpd_tls_ciphers": "medium",
    "smtpd_tls_mandatory_ciphers": "medium",
    # Postfix's default "medium" list with the OpenSSL security level lowered to 0: Debian
    # builds OpenSSL with level 2, where TLS 1.0/1.1 (SHA-1 signatures) cannot be negotiated.
    # Only this instance's list says so; the rest of the machine is untouched.
    "tls_medium_cipherlist": "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:@SECLEVEL=0",
    # At level 0 that list would also re-enable anonymous (aNULL) suites; they are not what
    # this case is about, so they stay off.
    "smtpd_tls_exclude_ciphers": "aNULL",
    "tls_preempt_cipherlist": "no",
}
_MODERN_MAIN_CF = {
    "smtpd_tls_protocols": ">=TLSv1.2",
    "smtpd_tls_mandatory_protocols": ">=TLSv1.2",
    "smtpd_tls_ciphers": "high",
    "smtpd_tls_mandatory_ciphers": "high",
    "smtpd_tls_exclude_ciphers": (
        "aNULL, kRSA, kDHE, SHA1, SHA256, SHA384, CAMELLIA, ARIA, AESCCM8, PSK, SRP"
    ),
    "tls_preempt_cipherlist": "yes",
}
_TLS13_MAIN_CF = {
    **_MODERN_MAIN_CF,
    "smtpd_tls_protocols": ">=TLSv1.3",
    "smtpd_tls_mandatory_protocols": ">=TLSv1.3",
}
_IMPLICIT_MAIN_CF = {
    **_MODERN_MAIN_CF,
    # The instance has one smtpd service (master.cf line ADDRESS:PORT); wrapper mode in main.cf
    # applies to it exactly as "-o smtpd_tls_wrappermode=yes" on that line would, and survives
    # PostfixInstance.reload(), which rewrites master.cf.
    "smtpd_tls_wrappermode": "yes",
}
MAIN_CF: dict[str, dict[str, str]] = {
    "weak": _WEAK_MAIN_CF,
    "modern": _MODERN_MAIN_CF,
    "tls13": _TLS13_MAIN_CF,
    "implicit": _IMPLICIT_MAIN_CF,
    "expired": _MODERN_MAIN_CF,
}


# -- expected facts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """One cipher suite under both of its names."""

    openssl: str
    iana: str


def _suites(*pairs: tuple[str, str]) -> tuple[Suite, ...]:
    return tuple(Suite(openssl, iana) for openssl, iana in pairs)


@dataclass(frozen=True)
class TlsFacts:
    """What a case's server accepts, as measured (see the module docstring).

    ``versions``: accepted protocol versions ("TLSv1.0" ... "TLSv1.3"); every other version of
    :data:`VERSIONS` is refused. ``suites``: the accepted suites per accepted version.
    ``server_preference``: True when the server's cipher order wins (``tls_preempt_cipherlist``).
    """

    versions: tuple[str, ...]
    suites: Mapping[str, tuple[Suite, ...]] = field(default_factory=dict, hash=False)
    server_preference: bool | None = None
    key: str | None = None  # "RSA 2048", "ECDSA P-256"
    expired: bool = False
    handshake: bool = True  # False: no handshake ever completes

    @property
    def refused(self) -> tuple[str, ...]:
        """The versions of :data:`VERSIONS` the server does not accept."""
        return tuple(v for v in VERSIONS if v not in self.versions)

    def iana(self, version: str) -> frozenset[str]:
        """IANA names of the suites accepted with ``version`` (empty when it is refused)."""
        return frozenset(s.iana for s in self.suites.get(version, ()))

    def openssl_names(self, version: str) -> frozenset[str]:
        """OpenSSL names of the suites accepted with ``version``."""
        return frozenset(s.openssl for s in self.suites.get(version, ()))

    def by_version(self) -> dict[str, frozenset[str]]:
        """``{version: IANA names}`` for every accepted version (as the cross-check parses)."""
        return {version: self.iana(version) for version in self.versions}

    @property
    def tls12_suites(self) -> tuple[Suite, ...]:
        """The accepted TLS 1.2 suites."""
        return self.suites.get("TLSv1.2", ())


TLS13_SUITES = _suites(
    ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
    ("TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256"),
    ("TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
)
_WEAK_LEGACY = _suites(  # TLS 1.0 and 1.1: the SHA-1 CBC suites
    ("ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    ("DHE-RSA-AES256-SHA", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    ("DHE-RSA-CAMELLIA256-SHA", "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    ("AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA"),
    ("CAMELLIA256-SHA", "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    ("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    ("DHE-RSA-AES128-SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    ("DHE-RSA-CAMELLIA128-SHA", "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    ("AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"),
    ("CAMELLIA128-SHA", "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
)
_WEAK_TLS12 = (
    *_WEAK_LEGACY,
    *_suites(
        ("ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        ("DHE-RSA-AES256-GCM-SHA384", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
        ("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        ("DHE-RSA-CHACHA20-POLY1305", "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        ("DHE-RSA-AES256-CCM8", "TLS_DHE_RSA_WITH_AES_256_CCM_8"),
        ("DHE-RSA-AES256-CCM", "TLS_DHE_RSA_WITH_AES_256_CCM"),
        ("ECDHE-ARIA256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"),
        ("DHE-RSA-ARIA256-GCM-SHA384", "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"),
        ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        ("DHE-RSA-AES128-GCM-SHA256", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
        ("DHE-RSA-AES128-CCM8", "TLS_DHE_RSA_WITH_AES_128_CCM_8"),
        ("DHE-RSA-AES128-CCM", "TLS_DHE_RSA_WITH_AES_128_CCM"),
        ("ECDHE-ARIA128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"),
        ("DHE-RSA-ARIA128-GCM-SHA256", "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"),
        ("ECDHE-RSA-AES256-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
        ("DHE-RSA-AES256-SHA256", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
        ("ECDHE-RSA-CAMELLIA256-SHA384", "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"),
        ("DHE-RSA-CAMELLIA256-SHA256", "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
        ("ECDHE-RSA-AES128-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
        ("DHE-RSA-AES128-SHA256", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
        ("ECDHE-RSA-CAMELLIA128-SHA256", "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
        ("DHE-RSA-CAMELLIA128-SHA256", "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
        ("AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384"),
        ("AES256-CCM8", "TLS_RSA_WITH_AES_256_CCM_8"),
        ("AES256-CCM", "TLS_RSA_WITH_AES_256_CCM"),
        ("ARIA256-GCM-SHA384", "TLS_RSA_WITH_ARIA_256_GCM_SHA384"),
        ("AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
        ("AES128-CCM8", "TLS_RSA_WITH_AES_128_CCM_8"),
        ("AES128-CCM", "TLS_RSA_WITH_AES_128_CCM"),
        ("ARIA128-GCM-SHA256", "TLS_RSA_WITH_ARIA_128_GCM_SHA256"),
        ("AES256-SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA256"),
        ("CAMELLIA256-SHA256", "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
        ("AES128-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256"),
        ("CAMELLIA128-SHA256", "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    ),
)
_MODERN_TLS12 = _suites(
    ("ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("ECDHE-ECDSA-AES256-CCM", "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    ("ECDHE-ECDSA-AES128-CCM", "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"),
)
_MODERN = TlsFacts(
    versions=("TLSv1.2", "TLSv1.3"),
    suites={"TLSv1.2": _MODERN_TLS12, "TLSv1.3": TLS13_SUITES},
    server_preference=True,
    key="ECDSA P-256",
)
EXPECTED: dict[str, TlsFacts] = {
    "weak": TlsFacts(
        versions=("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
        suites={
            "TLSv1.0": _WEAK_LEGACY,
            "TLSv1.1": _WEAK_LEGACY,
            "TLSv1.2": _WEAK_TLS12,
            "TLSv1.3": TLS13_SUITES,
        },
        server_preference=False,
        key="RSA 2048",
    ),
    "modern": _MODERN,
    "tls13": TlsFacts(
        versions=("TLSv1.3",),
        suites={"TLSv1.3": TLS13_SUITES},
        server_preference=True,
        key="ECDSA P-256",
    ),
    "implicit": _MODERN,
    "expired": TlsFacts(
        versions=_MODERN.versions,
        suites=_MODERN.suites,
        server_preference=True,
        key="ECDSA P-256",
        expired=True,
    ),
    "failing": TlsFacts(versions=(), handshake=False),
}


# -- servers -------------------------------------------------------------------------------------


@dataclass
class TlsServer:
    """One case's running server (see the module docstring)."""

    case: str
    address: str
    port: int
    mode: str  # "starttls" | "implicit"
    ca_file: Path
    expected: TlsFacts
    hostname: str
    cert: ServerCert | None = None
    instance: PostfixInstance | None = None
    peer: FailingStarttlsPeer | None = None

    @property
    def starttls(self) -> bool:
        """True when TLS starts with STARTTLS, False for implicit TLS."""
        return self.mode == "starttls"

    def cli_args(self) -> list[str]:
        """``mailprobe tls`` arguments for this server: ADDRESS --port N --starttls|--tls
        --ca-file CA."""
        return [
            self.address,
            "--port",
            str(self.port),
            "--starttls" if self.starttls else "--tls",
            "--ca-file",
            str(self.ca_file),
        ]

    def stop(self) -> None:
        """Stop the server now (it is stopped at teardown anyway)."""
        if self.instance is not None:
            self.instance.stop()
        if self.peer is not None:
            self.peer.stop()


GARBAGE = b"\x15\x00\xffnot a TLS server hello\r\n"


class FailingStarttlsPeer(SmtpPeer):
    """An SMTP peer that offers STARTTLS, answers ``220 2.0.0 Ready to start TLS``, reads what
    the client sends (its ClientHello), answers :data:`GARBAGE` and closes: every handshake
    fails. ``handshakes_refused`` counts them."""

    def __init__(self, *, address: str, port: int = 0, hostname: str = "mail.failing.test"):
        super().__init__(
            address=address,
            port=port,
            hostname=hostname,
            ehlo=(*POSTFIX_EHLO, "STARTTLS"),
            name="tls-failing",
        )
        self.handshakes_refused = 0

    async def _default(self, conn: PeerConnection, session: SmtpSession, cmd: SmtpCommand) -> None:
        if cmd.verb != "STARTTLS":
            await super()._default(conn, session, cmd)
            return
        await conn.send_lines([self.format(self.style.starttls, conn)])
        try:
            hello = await asyncio.wait_for(conn.reader.read(65536), conn.read_timeout)
        except (TimeoutError, OSError):
            hello = b""
        if hello:
            conn.record("recv", hello)
        await conn.send(GARBAGE)
        conn.record("event", b"tls-refused")
        with self._total_lock:
            self.handshakes_refused += 1
        await conn.close()


def start_implicit(instance: PostfixInstance, timeout: float = 30.0) -> None:
    """Start a wrapper-mode instance: ``PostfixInstance.start`` waits for a plain-text banner,
    which never comes here, so wait (bounded) for the 220 banner inside TLS instead."""
    check = instance.postfix("check")
    if check.returncode != 0:
        raise RuntimeError(f"postfix check failed for {instance.name}: {check.stderr}")
    started = instance.postfix("start")
    if started.returncode != 0:
        raise RuntimeError(f"postfix start failed for {instance.name}: {started.stderr}")
    instance.running = True
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while time.monotonic() < deadline:
        try:
            with (
                socket.create_connection((instance.address, instance.port), timeout=2.0) as raw,
                context.wrap_socket(raw) as tls,
            ):
                banner = tls.recv(4096).decode("ascii", "replace")
                with contextlib.suppress(OSError):
                    tls.sendall(b"QUIT\r\n")
        except OSError as exc:
            last_error = repr(exc)
        else:
            if banner.startswith("220"):
                return
            last_error = f"unexpected banner {banner!r}"
        time.sleep(0.1)
    instance.stop()
    raise RuntimeError(
        f"postfix {instance.name} gave no 220 banner in TLS on {instance.address}:"
        f"{instance.port} within {timeout:.0f}s ({last_error}); maillog tail:\n"
        f"{instance.maillog_tail()}"
    )


def issue_cert(
    test_ca: TestCA,
    stem: str,
    names: Sequence[str],
    *,
    rsa: bool = False,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> ServerCert:
    """A certificate from the test CA with a key type (ECDSA P-256, or RSA 2048 with ``rsa``)
    and validity of our choice, written as ``<test_ca.directory>/<stem>.{chain,key}.pem``."""
    import trustme

    from tests.support.certs import ServerCert

    key_type = trustme.KeyType.RSA if rsa else trustme.KeyType.ECDSA
    leaf = test_ca.ca.issue_cert(
        *names, not_before=not_before, not_after=not_after, key_type=key_type
    )
    chain = test_ca.directory / f"{stem}.chain.pem"
    key = test_ca.directory / f"{stem}.key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return ServerCert(names=tuple(names), cert_chain=chain, key=key, ca=test_ca.ca_pem)


class TlsLab:
    """Starts the cases on demand (each once, in parallel when asked for several) and stops
    them all in :meth:`close`."""

    def __init__(self, test_ca: TestCA, factory: PostfixFactory | None = None) -> None:
        from tests.support.postfix import PostfixFactory

        self.test_ca = test_ca
        self.factory = factory or PostfixFactory()
        self.servers: dict[str, TlsServer] = {}
        self._lock = threading.Lock()

    def __getitem__(self, case: str) -> TlsServer:
        return self.server(case)

    @property
    def weak(self) -> TlsServer:
        """The ``weak`` case."""
        return self.server("weak")

    @property
    def modern(self) -> TlsServer:
        """The ``modern`` case."""
        return self.server("modern")

    @property
    def tls13(self) -> TlsServer:
        """The ``tls13`` case."""
        return self.server("tls13")

    @property
    def implicit(self) -> TlsServer:
        """The ``implicit`` case."""
        return self.server("implicit")

    @property
    def expired(self) -> TlsServer:
        """The ``expired`` case."""
        return self.server("expired")

    @property
    def failing(self) -> TlsServer:
        """The ``failing`` case."""
        return self.server("failing")

    def server(self, case: str) -> TlsServer:
        """The running server of ``case`` (started now if it is not yet)."""
        return self.start(case)[0]

    def start(self, *cases: str) -> list[TlsServer]:
        """Start the given cases (all when none is named) that are not running yet; Postfix
        instances start in parallel (about 1-3 s for all instead of each)."""
        wanted = list(cases or CASES)
        unknown = [case for case in wanted if case not in CASES]
        if unknown:
            raise ValueError(f"unknown TLS lab case(s) {unknown}; known: {', '.join(CASES)}")
        with self._lock:
            missing = [case for case in dict.fromkeys(wanted) if case not in self.servers]
            if any(case in POSTFIX_CASES for case in missing):
                from tests.support.postfix import POSTFIX, postfix_available

                if not postfix_available():
                    pytest.skip(f"{POSTFIX} is missing: install the Debian package postfix")
            certs = {case: self._cert(case) for case in missing if case in POSTFIX_CASES}
            with concurrent.futures.ThreadPoolExecutor(max(1, len(missing))) as pool:
                futures = {
                    case: pool.submit(self._start, case, certs.get(case)) for case in missing
                }
                for case, future in futures.items():
                    self.servers[case] = future.result()
            return [self.servers[case] for case in wanted]

    def _cert(self, case: str) -> ServerCert:
        address = ADDRESSES[case]
        names = (f"mail.tls-{case}.test", address, "localhost")
        if case == "expired":
            now = datetime.datetime.now(datetime.UTC)
            return issue_cert(
                self.test_ca,
                f"tls-lab-{case}",
                names,
                not_before=now - datetime.timedelta(days=90),
                not_after=now - datetime.timedelta(days=1),
            )
        return issue_cert(self.test_ca, f"tls-lab-{case}", names, rsa=case == "weak")

    def _start(self, case: str, cert: ServerCert | None) -> TlsServer:
        address = ADDRESSES[case]
        port = PORTS.get(case, 25)
        mode = "implicit" if case == "implicit" else "starttls"
        expected = EXPECTED[case]
        ca_file = self.test_ca.ca_pem
        if case == "failing":
            peer = FailingStarttlsPeer(address=address, port=port)
            peer.start()
            return TlsServer(
                case, address, peer.port, mode, ca_file, expected, peer.hostname, peer=peer
            )
        instance = self.factory(
            f"tls-{case}", address, port, MAIN_CF[case], tls_cert=cert, start=mode == "starttls"
        )
        if mode == "implicit":
            start_implicit(instance)
        return TlsServer(
            case,
            address,
            instance.port,
            mode,
            ca_file,
            expected,
            instance.hostname,
            cert=cert,
            instance=instance,
        )

    def close(self) -> None:
        """Stop every server (Postfix instances in parallel) and delete their files."""
        with self._lock:
            for server in self.servers.values():
                if server.peer is not None:
                    server.peer.stop()
            self.factory.close()
            self.servers.clear()


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_lab_builder(test_ca: TestCA) -> Iterator[TlsLab]:
    """The session's :class:`TlsLab`, nothing started yet (``tls_lab_builder.server(case)``)."""
    lab = TlsLab(test_ca)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="session")
def tls_lab(tls_lab_builder: TlsLab) -> TlsLab:
    """Every case running: ``tls_lab.weak``, ``tls_lab["modern"]``, ``tls_lab.servers``."""
    tls_lab_builder.start()
    return tls_lab_builder


@pytest.fixture(scope="session")
def tls_weak(tls_lab_builder: TlsLab) -> TlsServer:
    """TLS 1.0-1.3, static-RSA and CBC suites, security level 0, RSA 2048 (127.0.16.1)."""
    return tls_lab_builder.server("weak")


@pytest.fixture(scope="session")
def tls_modern(tls_lab_builder: TlsLab) -> TlsServer:
    """TLS 1.2 ECDHE AEAD + TLS 1.3, server order, ECDSA P-256 (127.0.16.2)."""
    return tls_lab_builder.server("modern")


@pytest.fixture(scope="session")
def tls_tls13(tls_lab_builder: TlsLab) -> TlsServer:
    """TLS 1.3 only (127.0.16.3)."""
    return tls_lab_builder.server("tls13")


@pytest.fixture(scope="session")
def tls_implicit(tls_lab_builder: TlsLab) -> TlsServer:
    """Implicit TLS (wrapper mode), otherwise modern (127.0.16.4, port 465 or a free one)."""
    return tls_lab_builder.server("implicit")


@pytest.fixture(scope="session")
def tls_expired(tls_lab_builder: TlsLab) -> TlsServer:
    """Modern settings, certificate expired yesterday (127.0.16.5)."""
    return tls_lab_builder.server("expired")


@pytest.fixture(scope="session")
def tls_failing(tls_lab_builder: TlsLab) -> TlsServer:
    """Offers STARTTLS, answers 220, then garbage: the handshake always fails (127.0.16.10)."""
    return tls_lab_builder.server("failing")


# -- outside pytest ------------------------------------------------------------------------------


@contextlib.contextmanager
def running_tls_lab(*cases: str) -> Iterator[TlsLab]:
    """The lab outside pytest (benchmarks, manual runs), with a fresh test CA; ``cases`` are
    started at once (all when none is named), others on first use."""
    from tests.support.certs import TestCA

    ca_dir = Path(tempfile.mkdtemp(prefix="mailprobe-tls-lab-ca-"))
    ca_dir.chmod(0o755)
    lab = TlsLab(TestCA(directory=ca_dir))
    try:
        lab.start(*cases)
        yield lab
    finally:
        lab.close()
        shutil.rmtree(ca_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.support.tls_servers [CASE ...]``: start the cases (default all), print
    ``CASE ADDRESS PORT MODE CA_FILE`` per case, run until SIGTERM/SIGINT."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if any(arg not in CASES for arg in args):
        print(f"usage: python -m tests.support.tls_servers [{'|'.join(CASES)} ...]")
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with running_tls_lab(*args) as lab:
        for server in lab.servers.values():
            print(server.case, server.address, server.port, server.mode, server.ca_file, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
