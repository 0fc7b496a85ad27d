"""Grading of a mail server's TLS posture by the NCSC-NL TLS guidelines (2025-05), as the
strictest public mail tests (internet.nl 1.11 and later) apply them.

Levels, best first: good, sufficient, phase out, insufficient. Pure functions over names and
numbers; ``FIXES`` says, per area, how to fix an item that is not good (Postfix main.cf and
Windows/Exchange settings). The facts come from the guidelines' tables (see docs/tls.md).
"""

from __future__ import annotations

from typing import Literal

Level = Literal["good", "sufficient", "phase-out", "insufficient"]
#: Best first; ``worst`` picks the last one present.
LEVELS: tuple[Level, ...] = ("good", "sufficient", "phase-out", "insufficient")

#: Protocol versions as mailprobe names them.
VERSIONS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")

_PROTOCOLS: dict[str, Level] = {
    "TLSv1.3": "good",
    "TLSv1.2": "sufficient",
    "TLSv1.1": "insufficient",
    "TLSv1.0": "insufficient",
    "SSLv3": "insufficient",
    "SSLv2": "insufficient",
}

_GOOD_SUITES = frozenset({"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"})
_SUFFICIENT_SUITES = frozenset(
    {
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_CCM_SHA256",
        *(
            f"TLS_ECDHE_ECDSA_WITH_{bulk}"
            for bulk in (
                "CHACHA20_POLY1305_SHA256",
                "AES_256_GCM_SHA384",
                "AES_256_CCM",
                "AES_128_GCM_SHA256",
                "AES_128_CCM",
            )
        ),
        *(
            f"TLS_ECDHE_RSA_WITH_{bulk}"
            for bulk in ("CHACHA20_POLY1305_SHA256", "AES_256_GCM_SHA384", "AES_128_GCM_SHA256")
        ),
    }
)
_PHASE_OUT_SUITES = frozenset(
    {
        *(
            f"TLS_{kex}_WITH_{bulk}"
            for kex in ("ECDHE_ECDSA", "ECDHE_RSA")
            for bulk in (
                "CAMELLIA_256_GCM_SHA384",
                "CAMELLIA_256_CBC_SHA384",
                "CAMELLIA_128_GCM_SHA256",
                "CAMELLIA_128_CBC_SHA256",
                "ARIA_256_GCM_SHA384",
                "ARIA_256_CBC_SHA384",
                "ARIA_128_GCM_SHA256",
                "ARIA_128_CBC_SHA256",
                "AES_256_CBC_SHA384",
                "AES_128_CBC_SHA256",
            )
        ),
        *(
            f"TLS_DHE_RSA_WITH_{bulk}"
            for bulk in (
                "CHACHA20_POLY1305_SHA256",
                "CAMELLIA_256_GCM_SHA384",
                "CAMELLIA_256_CBC_SHA256",
                "CAMELLIA_128_GCM_SHA256",
                "CAMELLIA_128_CBC_SHA256",
                "ARIA_256_GCM_SHA384",
                "ARIA_256_CBC_SHA384",
                "ARIA_128_GCM_SHA256",
                "ARIA_128_CBC_SHA256",
                "AES_256_GCM_SHA384",
                "AES_256_CCM",
                "AES_256_CBC_SHA256",
                "AES_128_GCM_SHA256",
                "AES_128_CCM",
                "AES_128_CBC_SHA256",
            )
        ),
    }
)

_SUFFICIENT_CURVES = frozenset(
    {
        "secp521r1",
        "secp384r1",
        "secp256r1",
        "x25519",
        "x448",
        "brainpoolp512r1",
        "brainpoolp384r1",
        "brainpoolp256r1",
    }
)
_GOOD_GROUPS = frozenset({"x25519mlkem768", "secp256r1mlkem768", "secp384r1mlkem1024"})
_CURVE_ALIASES = {"prime256v1": "secp256r1", "p-256": "secp256r1", "p-384": "secp384r1"}


def worst(levels: list[Level] | tuple[Level, ...]) -> Level:
    """The worst of ``levels`` ("good" for none)."""
    return max(levels, key=LEVELS.index, default="good")


def protocol_level(version: str) -> Level:
    return _PROTOCOLS.get(version, "insufficient")


def cipher_level(iana_name: str) -> Level:
    """The level of a cipher suite by its IANA name (everything not listed: insufficient, e.g.
    every *_CBC_SHA suite, TLS_RSA_WITH_* without forward secrecy, 3DES, RC4, NULL, anon)."""
    if iana_name in _GOOD_SUITES:
        return "good"
    if iana_name in _SUFFICIENT_SUITES:
        return "sufficient"
    if iana_name in _PHASE_OUT_SUITES:
        return "phase-out"
    return "insufficient"


#: The graded suites by level.
_SUITE_TABLES: tuple[tuple[Level, frozenset[str]], ...] = (
    ("good", _GOOD_SUITES),
    ("sufficient", _SUFFICIENT_SUITES),
    ("phase-out", _PHASE_OUT_SUITES),
)
#: OpenSSL's names of the key exchanges of the graded suites.
_OPENSSL_KEX = {"ECDHE_ECDSA": "ECDHE-ECDSA", "ECDHE_RSA": "ECDHE-RSA", "DHE_RSA": "DHE-RSA"}


def openssl_name(iana_name: str) -> str:
    """OpenSSL's name of a suite named the IANA way (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``
    -> ``ECDHE-RSA-AES128-GCM-SHA256``), by OpenSSL's naming rules for the ECDHE and DHE suites
    graded here; TLS 1.3 suites keep their name."""
    kex, _with, bulk = iana_name.removeprefix("TLS_").partition("_WITH_")
    if not _with:
        return iana_name  # TLS 1.3: TLS_AES_256_GCM_SHA384
    if bulk == "CHACHA20_POLY1305_SHA256":
        cipher = "CHACHA20-POLY1305"
    else:
        algorithm, bits, mode, *mac = bulk.split("_")
        cipher = f"{algorithm}{bits}" + ("" if mode == "CBC" else f"-{mode}")
        cipher += "".join(f"-{m}" for m in mac)
    prefix = _OPENSSL_KEX.get(kex, kex)
    if kex == "ECDHE_RSA" and cipher.startswith("ARIA"):
        prefix = "ECDHE"  # OpenSSL's one irregular name: ECDHE-ARIA128-GCM-SHA256
    return f"{prefix}-{cipher}"


#: The graded suites by their OpenSSL names (what a TLS library reports for a session),
#: derived from the IANA tables above.
_OPENSSL_LEVELS: dict[str, Level] = {
    openssl_name(name): level for level, names in _SUITE_TABLES for name in names
}


def openssl_cipher_level(name: str) -> Level:
    """``cipher_level`` for a suite named the OpenSSL way (``ECDHE-RSA-AES128-GCM-SHA256``)."""
    return _OPENSSL_LEVELS.get(name, "insufficient")


def session_level(version: str | None, cipher: str | None) -> Level | None:
    """The level of one negotiated session (protocol and suite, OpenSSL names); None when
    either is unknown."""
    if not version or not cipher:
        return None
    name = "TLSv1.0" if version == "TLSv1" else version
    return worst([protocol_level(name), openssl_cipher_level(cipher)])


def curve_level(name: str) -> Level:
    key = name.lower()
    key = _CURVE_ALIASES.get(key, key)
    if key in _GOOD_GROUPS:
        return "good"
    if key in _SUFFICIENT_CURVES:
        return "sufficient"
    if key == "secp224r1":
        return "phase-out"
    return "insufficient"


def dh_level(bits: int) -> Level:
    """Finite-field DH: RFC 7919 groups of 3072 bits and more are phase out, anything smaller
    insufficient. (The guidelines also want the exact RFC 7919 prime; mailprobe grades by size
    and says so.)"""
    return "phase-out" if bits >= 3072 else "insufficient"


def key_level(key_type: str, bits: int | None, curve: str | None = None) -> Level:
    """The certificate's public key: RSA >= 3072 sufficient, 2048-3071 phase out, smaller
    insufficient; EC keys by curve; Ed25519/Ed448 sufficient."""
    kind = key_type.upper()
    if kind == "RSA":
        if bits is None:
            return "insufficient"
        return "sufficient" if bits >= 3072 else "phase-out" if bits >= 2048 else "insufficient"
    if kind in ("EC", "ECDSA"):
        level = curve_level(curve or "")
        return "sufficient" if level == "good" else level
    if kind in ("ED25519", "ED448"):
        return "sufficient"
    return "insufficient"


def signature_level(hash_name: str | None) -> Level:
    """The certificate signature's hash: SHA-2 256/384/512 and EdDSA sufficient, SHA-224
    phase out, SHA-1 and MD5 insufficient."""
    name = (hash_name or "").lower().replace("-", "")
    if name in ("sha256", "sha384", "sha512", "ed25519", "ed448"):
        return "sufficient"
    if name == "sha224":
        return "phase-out"
    return "insufficient"


#: How to fix an item that is not good, by area.
FIXES: dict[str, str] = {
    "protocol": "Accept TLS 1.2 and 1.3 only. Postfix: smtpd_tls_protocols = >=TLSv1.2 and "
    "smtpd_tls_mandatory_protocols = >=TLSv1.2 (before 3.6: !SSLv2, !SSLv3, !TLSv1, "
    "!TLSv1.1). Exchange/Windows: SCHANNEL\\Protocols\\{SSL 3.0, TLS 1.0, TLS 1.1}\\Server "
    "Enabled=0, DisabledByDefault=1, then reboot.",
    "cipher": "Offer only ECDHE suites with AES-GCM or ChaCha20 (and TLS 1.3). Postfix: "
    "smtpd_tls_exclude_ciphers = aNULL, kRSA, kDHE, SHA1, SHA256, SHA384, CAMELLIA, ARIA, "
    "AESCCM8, PSK, SRP. Exchange/Windows: Disable-TlsCipherSuite for TLS_RSA_*, TLS_DHE_* and "
    "*_CBC_* suites.",
    "order": "Make the server choose the suite by its own order. Postfix: tls_preempt_cipherlist "
    "= yes. Exchange/Windows: the order is the suite list's (Enable-TlsCipherSuite -Position).",
    "group": "Offer X25519, secp256r1 and secp384r1 (or the hybrid post-quantum groups). Postfix: "
    "tls_eecdh_auto_curves. Exchange/Windows: Disable-TlsEccCurve / Enable-TlsEccCurve.",
    "dh": "Drop DHE suites (Postfix: kDHE in smtpd_tls_exclude_ciphers), or use an RFC 7919 "
    "ffdhe3072 or larger group (smtpd_tls_dh1024_param_file). Exchange/Windows: disable "
    "TLS_DHE_* suites.",
    "compression": "Turn TLS compression off (CRIME). Postfix: tls_ssl_options = NO_COMPRESSION "
    "(OpenSSL 1.1.0 and later have it off).",
    "renegotiation": "Support secure renegotiation (RFC 5746): update the TLS library; "
    "Windows: SCHANNEL AllowInsecureRenegoClients=0 and AllowInsecureRenegoServers=0.",
    "ems": "Support the Extended Master Secret extension (RFC 7627): update OpenSSL or Windows.",
    "certificate-key": "Reissue the certificate with an RSA key of 3072 bits or more, or an "
    "ECDSA P-256/P-384 key (Postfix: smtpd_tls_chain_files can hold both).",
    "certificate-signature": "Reissue the certificate (and chain) signed with SHA-256 or better.",
    "certificate-expiry": "Renew the certificate now; senders that authenticate (MTA-STS "
    "enforce, DANE-TA) refuse to deliver to an expired one.",
}
