"""DANE TLSA parsing and certificate matching with real certificates (trustme), the minimal
DER reader, and DKIM key records with real keys (cryptography, a test-only dependency)."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.checks.policy import (
    DkimKey,
    TlsaRecord,
    association,
    match_tlsa,
    parse_dkim_key,
    parse_tlsa,
)
from mailprobe.checks.policy.der import rsa_modulus_bits, spki_from_certificate


@pytest.fixture(scope="module")
def chain() -> list[bytes]:
    """A real chain: leaf, intermediate (DER), from a trustme CA with an intermediate."""
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("mx1.example.test")
    pems = [blob.bytes() for blob in leaf.cert_chain_pems]
    certificates = [x509.load_pem_x509_certificate(p) for p in pems]
    return [c.public_bytes(serialization.Encoding.DER) for c in certificates]


@pytest.fixture(scope="module")
def other_leaf() -> bytes:
    cert = trustme.CA().issue_cert("mx1.example.test")
    pem = cert.cert_chain_pems[0].bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def _spki(der: bytes) -> bytes:
    return (
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def test_spki_extraction_matches_cryptography(chain: list[bytes]) -> None:
    for der in chain:
        assert spki_from_certificate(der) == _spki(der)


@pytest.mark.parametrize("bad", [b"", b"\x30", b"\x30\x03\x02\x01\x01", b"\x04\x00", b"junk" * 10])
def test_spki_extraction_rejects_garbage(bad: bytes) -> None:
    with pytest.raises(ValueError):
        spki_from_certificate(bad)


def test_association_data(chain: list[bytes]) -> None:
    leaf = chain[0]
    spki = _spki(leaf)
    assert association(leaf, 0, 0) == leaf.hex()
    assert association(leaf, 0, 1) == hashlib.sha256(leaf).hexdigest()
    assert association(leaf, 1, 1) == hashlib.sha256(spki).hexdigest()
    assert association(leaf, 1, 2) == hashlib.sha512(spki).hexdigest()
    assert association(leaf, 1, 0) == spki.hex()


def test_parse_tlsa() -> None:
    digest = "AB" * 32
    record = parse_tlsa(f"3 1 1 {digest[:40]} {digest[40:]}")
    assert (record.usage, record.selector, record.matching_type) == (3, 1, 1)
    assert record.data == digest.lower() and record.usable
    assert record.description == "DANE-EE SPKI SHA2-256"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("3 1 1 abcd", "must be 32 bytes"),
        ("3 1 2 " + "ab" * 32, "must be 64 bytes"),
        ("1 1 1 " + "ab" * 32, "not used for SMTP"),
        ("0 0 1 " + "ab" * 32, "not used for SMTP"),
        ("4 1 1 " + "ab" * 32, "unknown usage"),
        ("3 2 1 " + "ab" * 32, "unknown selector"),
        ("3 1 3 " + "ab" * 32, "unknown matching type"),
        ("3 1 1 xyz", "not hexadecimal"),
        ("3 1", "unreadable"),
        ("a b c d", "unreadable"),
    ],
)
def test_unusable_tlsa(text: str, fragment: str) -> None:
    record = parse_tlsa(text)
    assert not record.usable and fragment in record.problem


def _record(usage: int, selector: int, mtype: int, der: bytes) -> TlsaRecord:
    return parse_tlsa(f"{usage} {selector} {mtype} {association(der, selector, mtype)}")


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_dane_ee_matches_the_leaf(chain: list[bytes], selector: int, mtype: int) -> None:
    result = match_tlsa([_record(3, selector, mtype, chain[0])], chain)
    assert result.matched, result.detail


@pytest.mark.parametrize("selector", [0, 1])
def test_dane_ta_matches_an_issuer(chain: list[bytes], selector: int) -> None:
    result = match_tlsa([_record(2, selector, 1, chain[1])], chain)
    assert result.matched
    assert result.detail.startswith("DANE-TA")
    # DANE-TA is not compared with the leaf itself
    assert not match_tlsa([_record(2, selector, 1, chain[0])], chain).matched


def test_dane_mismatch(chain: list[bytes], other_leaf: bytes) -> None:
    records = [_record(3, 1, 1, other_leaf), _record(2, 0, 1, other_leaf)]
    result = match_tlsa(records, chain)
    assert not result.matched and result.usable_records == 2
    assert "no TLSA record matches" in result.detail
    lone = match_tlsa([_record(2, 1, 1, chain[1])], chain[:1])
    assert not lone.matched and "DANE-TA" in lone.detail


def test_dane_one_matching_record_is_enough(chain: list[bytes], other_leaf: bytes) -> None:
    records = [_record(3, 1, 1, other_leaf), _record(3, 1, 1, chain[0])]
    result = match_tlsa(records, chain)
    assert result.matched and len(result.matched_records) == 1


def test_dane_pkix_records_are_ignored(chain: list[bytes]) -> None:
    result = match_tlsa([_record(1, 1, 1, chain[0])], chain)
    assert not result.matched and result.usable_records == 0


def test_dane_with_garbage_certificate(chain: list[bytes]) -> None:
    result = match_tlsa([_record(3, 1, 1, chain[0])], [b"not a certificate"])
    assert not result.matched and "could not be read" in result.detail
    assert not match_tlsa([_record(3, 1, 1, chain[0])], []).matched


@given(st.text(max_size=200))
def test_tlsa_parser_never_raises(text: str) -> None:
    assert isinstance(parse_tlsa(text), TlsaRecord)


@given(st.binary(max_size=300))
def test_der_reader_only_raises_value_error(data: bytes) -> None:
    for function in (spki_from_certificate, rsa_modulus_bits):
        with contextlib.suppress(ValueError):
            function(data)


@given(st.binary(max_size=300))
def test_match_never_raises_on_garbage_chain(data: bytes) -> None:
    record = parse_tlsa("3 1 1 " + "00" * 32)
    assert not match_tlsa([record], [data, data]).matched


# --- DKIM -----------------------------------------------------------------------------------


def _rsa_p(bits: int, *, pkcs1: bool = False) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    if pkcs1:
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    else:
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return base64.b64encode(der).decode()


@pytest.mark.parametrize("bits", [1024, 2048])
def test_dkim_rsa_key_size(bits: int) -> None:
    key = parse_dkim_key(f"v=DKIM1; k=rsa; p={_rsa_p(bits)}")
    assert key.valid and not key.key_error
    assert key.key_bits == bits and not key.revoked


def test_dkim_pkcs1_key_and_whitespace_in_p() -> None:
    p = _rsa_p(2048, pkcs1=True)
    key = parse_dkim_key(f"p={p[:100]} {p[100:200]}\t{p[200:]}")
    assert key.key_bits == 2048 and key.version is None and key.key_type == "rsa"


def test_dkim_ed25519() -> None:
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    key = parse_dkim_key(f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}")
    assert key.valid and not key.key_error and key.key_type == "ed25519"
    short = parse_dkim_key("v=DKIM1; k=ed25519; p=" + base64.b64encode(raw[:20]).decode())
    assert "32 bytes" in short.key_error


def test_dkim_revoked_and_flags() -> None:
    key = parse_dkim_key("v=DKIM1; k=rsa; t=y:s; h=sha256; s=email; p=")
    assert key.revoked and key.valid
    assert key.flags == ("y", "s") and key.hash_algorithms == ("sha256",)
    assert key.service_types == ("email",)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("k=rsa; v=DKIM1; p=", "v= must be the first tag"),
        ("v=DKIM2; p=", "is not DKIM1"),
        ("v=DKIM1; k=dsa; p=", "is not rsa or ed25519"),
        ("v=DKIM1; k=rsa", "p= tag is missing"),
        ("v=DKIM1; p=; p=", "appears twice"),
        ("v=DKIM1; p=abc; junk", "malformed tag"),
    ],
)
def test_dkim_errors(text: str, fragment: str) -> None:
    key = parse_dkim_key(text)
    assert not key.valid
    assert any(fragment in e for e in key.errors), key.errors


@pytest.mark.parametrize("p", ["!!!notbase64", "QUJD", "MIIB"])
def test_dkim_bad_keys(p: str) -> None:
    key = parse_dkim_key(f"v=DKIM1; p={p}")
    assert key.key_error and key.key_bits is None


@given(st.text(max_size=300))
def test_dkim_parser_never_raises(text: str) -> None:
    assert isinstance(parse_dkim_key(text), DkimKey)
