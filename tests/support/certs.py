"""A test certificate authority (trustme) and server certificates, as pytest fixtures.

Everything is written to a session temp directory as PEM files, so both Python servers (ssl
contexts) and Postfix (file paths) can use the same certificates.

Fixtures (all session-scoped):
- ``test_ca`` -> :class:`TestCA`: the trusted test CA; ``test_ca.issue(*names)`` makes more
  certificates, ``test_ca.client_context()`` is an ``ssl.SSLContext`` that trusts only it.
- ``server_cert`` -> :class:`ServerCert` signed by the test CA for ``mail.test.example``,
  ``localhost``, ``mail.{tls,plain,closed,open}.test``, ``127.0.0.1`` and every address
  127.0.2.1-127.0.2.63 and 127.0.3.1-127.0.3.63.
- ``wrong_name_cert`` -> :class:`ServerCert` signed by the test CA, but only for
  ``wrong-name.test.example`` (trusted chain, name mismatch).
- ``self_signed_cert`` -> :class:`ServerCert`: a self-signed certificate for the same names as
  ``server_cert`` that no client trusts (its ``ca`` is the certificate itself).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

DEFAULT_NAMES: tuple[str, ...] = (
    "mail.test.example",
    "localhost",
    *(f"mail.{area}.test" for area in ("tls", "plain", "closed", "open")),
    "127.0.0.1",
    *(f"127.0.2.{i}" for i in range(1, 64)),
    *(f"127.0.3.{i}" for i in range(1, 64)),
)


@dataclass(frozen=True)
class ServerCert:
    """PEM files of one server certificate: chain (leaf first), private key, and issuing CA."""

    names: tuple[str, ...]
    cert_chain: Path
    key: Path
    ca: Path

    def server_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` for a server presenting this certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_chain), str(self.key))
        return context

    def client_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` for a client trusting this certificate's CA (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.ca))


@dataclass
class TestCA:
    """A trustme CA whose files live in ``directory``; ``ca_pem`` is the CA certificate."""

    directory: Path
    ca: trustme.CA = field(default_factory=trustme.CA)
    _count: int = 0

    __test__ = False  # not a test class, despite the name

    @property
    def ca_pem(self) -> Path:
        """Path of the CA certificate (PEM), written on first use."""
        path = self.directory / "ca.pem"
        if not path.exists():
            self.ca.cert_pem.write_to_path(str(path))
        return path

    def issue(self, *names: str, common_name: str | None = None) -> ServerCert:
        """Issue a server certificate for host names and/or IP addresses, written as PEM files."""
        self._count += 1
        leaf = self.ca.issue_cert(*names, common_name=common_name)
        stem = self.directory / f"server{self._count}"
        chain = stem.with_suffix(".chain.pem")
        key = stem.with_suffix(".key.pem")
        chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        key.chmod(0o600)
        return ServerCert(names=tuple(names), cert_chain=chain, key=key, ca=self.ca_pem)

    def client_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` for a client that trusts only this CA."""
        return ssl.create_default_context(cafile=str(self.ca_pem))


def make_self_signed(directory: Path, names: Iterable[str] = DEFAULT_NAMES) -> ServerCert:
    """Write a self-signed certificate (its own issuer, trusted by nobody) for ``names``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    names = tuple(names)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "self-signed.pem"
    key_path = directory / "self-signed.key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return ServerCert(names=names, cert_chain=cert_path, key=key_path, ca=cert_path)


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """The session's trusted test CA (trustme), with its files in a temp directory."""
    directory = tmp_path_factory.mktemp("certs")
    directory.chmod(0o755)  # readable by servers that drop privileges
    return TestCA(directory=directory)


@pytest.fixture(scope="session")
def server_cert(test_ca: TestCA) -> ServerCert:
    """A certificate from the test CA for mail.test.example, localhost and the 127.0.2/3.x range."""
    return test_ca.issue(*DEFAULT_NAMES)


@pytest.fixture(scope="session")
def wrong_name_cert(test_ca: TestCA) -> ServerCert:
    """A certificate from the trusted test CA, but for another name (wrong-name.test.example)."""
    return test_ca.issue("wrong-name.test.example")


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> ServerCert:
    """A self-signed certificate for the default names; no client trusts it."""
    directory = tmp_path_factory.mktemp("selfsigned")
    directory.chmod(0o755)
    return make_self_signed(directory)
