"""The NCSC-NL (2025-05) grading of mailprobe tls: pure functions over names and numbers."""

from __future__ import annotations

import pytest

from mailprobe.checks.tls_scan.grade import (
    FIXES,
    cipher_level,
    curve_level,
    dh_level,
    key_level,
    protocol_level,
    signature_level,
    worst,
)
from mailprobe.checks.tls_scan.model import ServerTls, TlsCipher, TlsProtocol
from mailprobe.checks.tls_scan.scan import grade, verdict


@pytest.mark.parametrize(
    ("version", "level"),
    [
        ("TLSv1.3", "good"),
        ("TLSv1.2", "sufficient"),
        ("TLSv1.1", "insufficient"),
        ("TLSv1.0", "insufficient"),
        ("SSLv3", "insufficient"),
        ("SSLv2", "insufficient"),
    ],
)
def test_protocols(version: str, level: str) -> None:
    assert protocol_level(version) == level


@pytest.mark.parametrize(
    ("suite", "level"),
    [
        ("TLS_AES_256_GCM_SHA384", "good"),
        ("TLS_CHACHA20_POLY1305_SHA256", "good"),
        ("TLS_AES_128_GCM_SHA256", "sufficient"),
        ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "sufficient"),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "sufficient"),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "phase-out"),
        ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "phase-out"),
        ("TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", "phase-out"),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "insufficient"),  # SHA-1 MAC
        ("TLS_RSA_WITH_AES_128_CBC_SHA", "insufficient"),  # no forward secrecy
        ("TLS_RSA_WITH_AES_256_GCM_SHA384", "insufficient"),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "insufficient"),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "insufficient"),
        ("TLS_AES_128_CCM_8_SHA256", "insufficient"),
        ("TLS_DH_anon_WITH_AES_128_GCM_SHA256", "insufficient"),
    ],
)
def test_cipher_suites(suite: str, level: str) -> None:
    assert cipher_level(suite) == level


def test_the_phase_out_list_has_the_guidelines_35_suites() -> None:
    from mailprobe.checks.tls_scan import grade as module

    assert len(module._PHASE_OUT_SUITES) == 35
    assert len(module._SUFFICIENT_SUITES) == 10


@pytest.mark.parametrize(
    ("curve", "level"),
    [
        ("X25519", "sufficient"),
        ("prime256v1", "sufficient"),
        ("secp384r1", "sufficient"),
        ("secp224r1", "phase-out"),
        ("secp192r1", "insufficient"),
        ("X25519MLKEM768", "good"),
    ],
)
def test_groups(curve: str, level: str) -> None:
    assert curve_level(curve) == level


def test_dh_keys_and_signatures() -> None:
    assert dh_level(1024) == dh_level(2048) == "insufficient"
    assert dh_level(3072) == dh_level(4096) == "phase-out"
    assert key_level("RSA", 4096) == key_level("RSA", 3072) == "sufficient"
    assert key_level("RSA", 2048) == "phase-out" and key_level("RSA", 1024) == "insufficient"
    assert key_level("EC", 256, "secp256r1") == "sufficient"
    assert key_level("EC", 224, "secp224r1") == "phase-out"
    assert key_level("Ed25519", None) == "sufficient"
    assert signature_level("sha256") == signature_level("SHA-384") == "sufficient"
    assert signature_level("sha224") == "phase-out"
    assert signature_level("sha1") == signature_level("md5") == signature_level(None)
    assert signature_level("sha1") == "insufficient"
    assert worst(["good", "phase-out", "sufficient"]) == "phase-out"
    assert worst([]) == "good"


def _server(**fields: object) -> ServerTls:
    base = ServerTls("mx.test", "127.0.0.1", 25, "starttls", reachable=True)
    return ServerTls(**{**base.__dict__, **fields})  # type: ignore[arg-type]


def test_grading_a_server_worst_first_with_fixes() -> None:
    weak = TlsCipher("TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", "insufficient")
    strong = TlsCipher(
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "sufficient"
    )
    server = _server(
        protocols=(
            TlsProtocol("TLSv1.0", True, "insufficient", (weak,)),
            TlsProtocol("TLSv1.2", True, "sufficient", (strong,)),
            TlsProtocol("TLSv1.3", False, "good"),
        ),
        compression=False,
        secure_renegotiation=False,
        extended_master_secret=True,
        server_cipher_order=False,
    )
    items = grade(server)
    assert items[0].level == "insufficient" and items[-1].level in ("sufficient", "good")
    areas = {(i.area, i.level) for i in items}
    assert ("protocol", "insufficient") in areas and ("renegotiation", "insufficient") in areas
    assert ("order", "insufficient") in areas and ("cipher", "insufficient") in areas
    assert all(i.fix == FIXES[i.area] for i in items if i.level != "good")
    assert verdict(items) == "insufficient"
    assert verdict([]) == "untestable"
    modern = _server(
        protocols=(
            TlsProtocol(
                "TLSv1.3",
                True,
                "good",
                (TlsCipher("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", "good"),),
            ),
        ),
        secure_renegotiation=True,
    )
    assert verdict(grade(modern)) == "good"


@pytest.mark.parametrize(
    ("version", "cipher", "code"),
    [
        ("TLSv1.2", "AES128-SHA", "tls.grade-insufficient"),
        ("TLSv1.2", "ECDHE-RSA-AES128-SHA256", "tls.grade-phase-out"),
        ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "tls.ok"),
        ("TLSv1.3", "TLS_AES_256_GCM_SHA384", "tls.ok"),
    ],
)
def test_ehlo_and_check_grade_the_negotiated_session(version: str, cipher: str, code: str) -> None:
    """The summary line ehlo and check give for the one session they negotiated, by the same
    rules as the full enumeration."""
    from mailprobe.checks.ehlo.tls import tls_findings, tls_report
    from tests.unit.test_ehlo_tls import NOW, info

    found = tls_findings(tls_report(info(version=version, cipher=cipher), "starttls", now=NOW))
    codes = {f.code for f in found}
    assert code in codes
    if code == "tls.ok":
        (ok,) = found
        assert "by the NCSC-NL guidelines" in ok.summary and cipher in ok.summary


def test_openssl_names_are_derived_as_openssl_names_them() -> None:
    """The session grade (OpenSSL names) comes from the same IANA tables: every graded suite the
    local OpenSSL implements has the name OpenSSL itself gives it."""
    import shutil
    import subprocess

    from mailprobe.checks.tls_scan import grade as module

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    listing = subprocess.run(
        [openssl, "ciphers", "-stdname", "ALL:@SECLEVEL=0"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    pairs = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "-":
            pairs[parts[0]] = parts[2]
    graded = module._GOOD_SUITES | module._SUFFICIENT_SUITES | module._PHASE_OUT_SUITES
    known = graded & set(pairs)
    assert len(known) >= 30  # the test compares something
    for iana in known:
        assert module.openssl_name(iana) == pairs[iana], iana
        assert module.openssl_cipher_level(pairs[iana]) == cipher_level(iana), iana
