"""A minimal DER reader: just enough ASN.1 to find a certificate's SubjectPublicKeyInfo and an
RSA key's modulus size, without depending on the ``cryptography`` package.

Every function raises ``ValueError`` (and nothing else) on malformed input.
"""

from __future__ import annotations

import dataclasses

SEQUENCE = 0x30
INTEGER = 0x02
BIT_STRING = 0x03
OID = 0x06
CONTEXT_0 = 0xA0  # [0] EXPLICIT, constructed: the certificate version

#: 1.2.840.113549.1.1.1 (rsaEncryption), DER-encoded content octets.
RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")
#: 1.3.101.112 (id-Ed25519).
ED25519_OID = bytes.fromhex("2b6570")


@dataclasses.dataclass(frozen=True)
class Tlv:
    """One DER element: its tag, where its content lies, and where the whole element ends."""

    tag: int
    start: int  # first octet of the element (the tag)
    content: int  # first octet of the content
    end: int  # one past the last content octet

    def raw(self, data: bytes) -> bytes:
        return data[self.start : self.end]

    def value(self, data: bytes) -> bytes:
        return data[self.content : self.end]


def read_tlv(data: bytes, offset: int = 0, limit: int | None = None) -> Tlv:
    """The element starting at ``offset``; its end must not pass ``limit`` (default: the data)."""
    limit = len(data) if limit is None else limit
    if offset + 2 > limit:
        raise ValueError("truncated DER element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte DER tags are not supported")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise ValueError("unsupported DER length encoding")
        if pos + count > limit:
            raise ValueError("truncated DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > limit:
        raise ValueError("DER element runs past its container")
    return Tlv(tag, offset, pos, pos + length)


def children(data: bytes, parent: Tlv) -> list[Tlv]:
    """The elements inside a constructed element, in order."""
    if not parent.tag & 0x20:
        raise ValueError("not a constructed DER element")
    items: list[Tlv] = []
    pos = parent.content
    while pos < parent.end:
        item = read_tlv(data, pos, parent.end)
        items.append(item)
        pos = item.end
    return items


def _expect(item: Tlv, tag: int, what: str) -> Tlv:
    if item.tag != tag:
        raise ValueError(f"{what}: expected tag 0x{tag:02x}, found 0x{item.tag:02x}")
    return item


def spki_from_certificate(certificate: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of an X.509 certificate (what TLSA selector 1 hashes)."""
    data = bytes(certificate)
    cert = _expect(read_tlv(data), SEQUENCE, "certificate")
    if cert.end != len(data):
        raise ValueError("trailing data after the certificate")
    tbs = _expect(children(data, cert)[0], SEQUENCE, "tbsCertificate")
    fields = children(data, tbs)
    if fields and fields[0].tag == CONTEXT_0:
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6:
        raise ValueError("tbsCertificate has too few fields")
    _expect(fields[0], INTEGER, "serialNumber")
    spki = _expect(fields[5], SEQUENCE, "subjectPublicKeyInfo")
    return spki.raw(data)


def rsa_modulus_bits(key: bytes) -> int:
    """The size in bits of an RSA public key given as SubjectPublicKeyInfo or as a bare
    PKCS#1 RSAPublicKey (both are seen in DKIM ``p=`` tags)."""
    data = bytes(key)
    top = _expect(read_tlv(data), SEQUENCE, "public key")
    items = children(data, top)
    if items and items[0].tag == SEQUENCE:  # SubjectPublicKeyInfo
        algorithm = children(data, items[0])
        if not algorithm or algorithm[0].tag != OID:
            raise ValueError("public key algorithm missing")
        if algorithm[0].value(data) != RSA_ENCRYPTION_OID:
            raise ValueError("not an RSA public key")
        if len(items) < 2:
            raise ValueError("public key bits missing")
        bits = _expect(items[1], BIT_STRING, "subjectPublicKey").value(data)
        if not bits or bits[0] != 0:
            raise ValueError("bad BIT STRING padding")
        inner = bits[1:]
        rsa = _expect(read_tlv(inner), SEQUENCE, "RSAPublicKey")
        items = children(inner, rsa)
        data = inner
    if len(items) < 2:
        raise ValueError("RSAPublicKey needs a modulus and an exponent")
    modulus = _expect(items[0], INTEGER, "modulus").value(data).lstrip(b"\x00")
    if not modulus:
        raise ValueError("empty RSA modulus")
    return (len(modulus) - 1) * 8 + modulus[0].bit_length()
