"""The TLS test servers (tests/support/tls_servers.py) and the cross-check helpers
(tests/support/tls_crosscheck.py), tested against each other: nmap's ssl-enum-ciphers and
openssl s_client must both see each case's expected facts. Never runs mailprobe, so a failure
here points at the fixtures or the helpers, not at the product.
"""

from __future__ import annotations

import contextlib
import datetime
import shutil
from collections.abc import Iterator

import pytest

from tests.support import tls_crosscheck as crosscheck
from tests.support.postfix import PostfixFactory
from tests.support.tls_servers import (
    CASES,
    EXPECTED,
    MAIN_CF,
    TLS13_SUITES,
    TlsLab,
    TlsServer,
)

pytestmark = pytest.mark.postfix

needs_nmap = pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap is not installed")
needs_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is not installed"
)
TESTED_VERSIONS = ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")

# The end of a real run against the modern case (nmap 7.93), which ends the "| xxx:" lines with
# a space.
NMAP_SAMPLE = """\
PORT   STATE SERVICE
25/tcp open  smtp
| ssl-enum-ciphers:
|   TLSv1.2:
|     ciphers:
|       TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (ecdh_x25519) - A
|       TLS_ECDHE_ECDSA_WITH_AES_128_CCM (ecdh_x25519) - A
|     compressors:
|       NULL
|     cipher preference: server
|   TLSv1.3:
|     ciphers:
|       TLS_AKE_WITH_AES_256_GCM_SHA384 (ecdh_x25519) - A
|     cipher preference: server
|_  least strength: A

Nmap done: 1 IP address (1 host up) scanned in 0.48 seconds
""".replace(":\n", ": \n")


def test_parse_ssl_enum_ciphers_sample() -> None:
    suites, preference = crosscheck.parse_ssl_enum_ciphers(NMAP_SAMPLE)
    assert suites == {
        "TLSv1.2": {
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        },
        "TLSv1.3": {"TLS_AES_256_GCM_SHA384"},  # nmap's TLS_AKE_WITH_ name, as IANA's
    }
    assert preference == {"TLSv1.2": "server", "TLSv1.3": "server"}
    assert crosscheck.parse_ssl_enum_ciphers("PORT STATE\n25/tcp open smtp\n") == ({}, {})


def test_expected_facts_are_consistent() -> None:
    """The recorded names agree with the local OpenSSL's own name table."""
    for case, facts in EXPECTED.items():
        assert set(facts.suites) == set(facts.versions), case
        for version, suites in facts.suites.items():
            assert len({s.iana for s in suites}) == len(suites), (case, version)
    if shutil.which("openssl") is not None:
        table = crosscheck.openssl_names()
        for facts in EXPECTED.values():
            for suites in facts.suites.values():
                for suite in suites:
                    assert table.get(suite.openssl) == suite.iana
    assert EXPECTED["weak"].openssl_names("TLSv1.0") >= {"AES128-SHA", "AES256-SHA"}
    assert {s.iana for s in TLS13_SUITES} == EXPECTED["tls13"].iana("TLSv1.3")


def test_lab_api(tls_lab: TlsLab) -> None:
    assert set(tls_lab.servers) == set(CASES)
    for case in CASES:
        server = tls_lab[case]
        assert server.address.startswith("127.0.16.")
        assert server.port > 0
        assert server.ca_file.is_file()
        assert server.expected is EXPECTED[case]
        assert server.mode == ("implicit" if case == "implicit" else "starttls")
    assert tls_lab.implicit.cli_args()[3] == "--tls"
    assert tls_lab.weak.cli_args() == [
        tls_lab.weak.address,
        "--port",
        str(tls_lab.weak.port),
        "--starttls",
        "--ca-file",
        str(tls_lab.weak.ca_file),
    ]
    assert tls_lab.weak.instance is not None
    assert tls_lab.weak.instance.postconf("tls_preempt_cipherlist") == "no"
    assert "@SECLEVEL=0" in tls_lab.weak.instance.postconf("tls_medium_cipherlist")
    assert tls_lab.modern.instance is not None
    assert tls_lab.modern.instance.postconf("tls_preempt_cipherlist") == "yes"
    assert tls_lab.implicit.instance is not None
    assert tls_lab.implicit.instance.postconf("smtpd_tls_wrappermode") == "yes"


# -- nmap ----------------------------------------------------------------------------------------


@needs_nmap
@pytest.mark.parametrize("case", CASES)
def test_nmap_sees_the_expected_suites(tls_lab: TlsLab, case: str) -> None:
    server = tls_lab[case]
    scan = crosscheck.nmap_ssl_enum_ciphers(server.address, server.port, server.mode)
    facts = server.expected
    assert scan.suites == facts.by_version(), scan.output
    if facts.handshake:
        assert scan.ran
        want = "server" if facts.server_preference else "client"
        assert set(scan.preference.values()) == {want}, scan.output
    else:
        assert not scan.ran, scan.output  # no version completes: the script prints nothing


@pytest.fixture(scope="module")
def modern_on_other_port(tls_lab: TlsLab) -> Iterator[TlsServer]:
    """The modern posture once more, STARTTLS on 2525 (or a free port): not 25/587."""
    modern = tls_lab.modern
    factory = PostfixFactory()
    try:
        instance = factory(
            "tls-modern-2525", modern.address, 2525, MAIN_CF["modern"], tls_cert=modern.cert
        )
        assert instance.port not in crosscheck.SMTP_PORTS
        yield TlsServer(
            "modern",
            modern.address,
            instance.port,
            "starttls",
            modern.ca_file,
            modern.expected,
            instance.hostname,
            cert=modern.cert,
            instance=instance,
        )
    finally:
        factory.close()


@needs_nmap
def test_nmap_starttls_on_a_non_standard_port(modern_on_other_port: TlsServer) -> None:
    server = modern_on_other_port
    plain = crosscheck.nmap_ssl_enum_ciphers(server.address, server.port, method="port")
    assert not plain.ran and plain.suites == {}  # the portrule says no: no STARTTLS, no output
    for method in ("datadir", "sV"):
        scan = crosscheck.nmap_ssl_enum_ciphers(server.address, server.port, method=method)
        assert scan.suites == server.expected.by_version(), (method, scan.output)
    assert "--datadir" in crosscheck.nmap_ssl_enum_ciphers(server.address, server.port).command


@needs_nmap
def test_nmap_implicit_tls_on_a_non_standard_port(tls_implicit: TlsServer) -> None:
    # 465 by number, and any other port because the portrule probes with a ClientHello
    scan = crosscheck.nmap_ssl_enum_ciphers(
        tls_implicit.address, tls_implicit.port, "implicit", method="port"
    )
    assert scan.suites == tls_implicit.expected.by_version()


# -- openssl -------------------------------------------------------------------------------------


def _accepts(server: TlsServer, version: str, cipher: str | None = None) -> bool:
    return crosscheck.accepts(server.address, server.port, server.mode, version, cipher)


@needs_openssl
def test_openssl_weak(tls_weak: TlsServer) -> None:
    for version in TESTED_VERSIONS:
        assert _accepts(tls_weak, version), version
    assert _accepts(tls_weak, "TLSv1.0", "AES128-SHA")
    assert _accepts(tls_weak, "TLSv1.1", "AES128-SHA")
    assert _accepts(tls_weak, "TLSv1.2", "AES128-SHA")
    assert not _accepts(tls_weak, "TLSv1.2", "ADH-AES128-SHA")  # anonymous suites stay off
    assert not _accepts(tls_weak, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")  # RSA key only
    result = crosscheck.handshake(
        tls_weak.address, tls_weak.port, version="TLSv1.0", cipher="AES128-SHA"
    )
    assert (result.protocol, result.cipher) == ("TLSv1.0", "AES128-SHA")


@needs_openssl
def test_openssl_modern(tls_modern: TlsServer) -> None:
    assert not _accepts(tls_modern, "TLSv1.0")
    assert not _accepts(tls_modern, "TLSv1.1")
    assert _accepts(tls_modern, "TLSv1.2")
    assert _accepts(tls_modern, "TLSv1.3")
    assert not _accepts(tls_modern, "TLSv1.2", "AES128-SHA")
    assert not _accepts(tls_modern, "TLSv1.2", "ECDHE-ECDSA-AES128-SHA256")  # CBC excluded
    assert _accepts(tls_modern, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert not _accepts(tls_modern, "TLSv1.3", "TLS_AES_128_CCM_SHA256")  # not enabled


@needs_openssl
def test_openssl_tls13_only(tls_tls13: TlsServer) -> None:
    assert not _accepts(tls_tls13, "TLSv1.2")
    assert not _accepts(tls_tls13, "TLSv1.1")
    assert _accepts(tls_tls13, "TLSv1.3")
    assert _accepts(tls_tls13, "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")


@needs_openssl
def test_openssl_implicit(tls_implicit: TlsServer) -> None:
    assert _accepts(tls_implicit, "TLSv1.3")
    assert _accepts(tls_implicit, "TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305")
    # STARTTLS against a wrapper-mode port: each side waits for the other to speak first
    with pytest.raises(TimeoutError):
        crosscheck.handshake(tls_implicit.address, tls_implicit.port, "starttls", timeout=2)


@needs_openssl
def test_openssl_expired(tls_expired: TlsServer) -> None:
    result = crosscheck.handshake(
        tls_expired.address, tls_expired.port, ca_file=tls_expired.ca_file
    )
    assert result.ok and result.protocol == "TLSv1.3"
    assert result.verify_code == 10, result.verify_message  # X509_V_ERR_CERT_HAS_EXPIRED
    not_after = result.leaf_not_after
    assert not_after is not None and not_after < datetime.datetime.now(datetime.UTC)


@needs_openssl
def test_openssl_verifies_the_good_certificates(tls_lab: TlsLab) -> None:
    for case in ("weak", "modern", "tls13", "implicit"):
        server = tls_lab[case]
        result = crosscheck.handshake(
            server.address, server.port, server.mode, ca_file=server.ca_file
        )
        assert result.ok and result.verify_code == 0, (case, result.verify_message)


@needs_openssl
def test_openssl_failing_peer(tls_failing: TlsServer) -> None:
    peer = tls_failing.peer
    assert peer is not None
    before = peer.handshakes_refused
    for version in (None, "TLSv1.2", "TLSv1.3"):
        result = crosscheck.handshake(tls_failing.address, tls_failing.port, version=version)
        assert not result.ok and result.cipher is None and result.certificates == ()
        assert result.verify_code is None
    peer.wait_idle()
    assert peer.handshakes_refused == before + 3
    assert "STARTTLS" in peer.transcript.commands()
    # the ClientHello reached the peer (a TLS handshake record) before the garbage went back
    assert b"\x16\x03" in peer.transcript.received_bytes()


@needs_openssl
def test_openssl_cannot_test_sslv3_or_sslv2(tls_weak: TlsServer) -> None:
    with pytest.raises(crosscheck.NotTestable):
        crosscheck.accepts(tls_weak.address, tls_weak.port, "starttls", "SSLv2")
    # Debian's OpenSSL 3 is built without SSLv3 (s_client has no -ssl3): NotTestable there
    with contextlib.suppress(crosscheck.NotTestable):
        assert not _accepts(tls_weak, "SSLv3")


@needs_openssl
@pytest.mark.parametrize("case", [c for c in CASES if c != "failing"])
def test_openssl_enumeration_matches(tls_lab: TlsLab, case: str) -> None:
    """Every suite of the local OpenSSL, one s_client per suite and version: the accepted set is
    the recorded one (OpenSSL names), and nothing outside it."""
    server = tls_lab[case]
    for version in TESTED_VERSIONS:
        accepted = crosscheck.openssl_enumerate(server.address, server.port, server.mode, version)
        assert accepted == server.expected.openssl_names(version), (case, version)
