"""Independent views of a server's TLS posture, to cross-check ``mailprobe tls`` against:
``nmap --script ssl-enum-ciphers`` and ``openssl s_client``.

nmap::

    result = nmap_ssl_enum_ciphers(address, port, "starttls")  # or "implicit"
    result.suites      # {"TLSv1.2": frozenset({"TLS_RSA_WITH_AES_128_CBC_SHA", ...}), ...}
    result.preference  # {"TLSv1.2": "client", ...}

ssl-enum-ciphers does STARTTLS only for a port it believes is SMTP: 25 and 587 by number, any
port whose service name is ``smtp`` (nselib/sslcert.lua); it has no script argument for it
(``tls.servername`` sets only SNI). On any other port a plain ``-p PORT`` scan names the service
``unknown``, the script's portrule says no and nothing is printed at all. What works there:

- ``--datadir DIR`` with ``DIR/nmap-services`` naming the port ``smtp`` (every other data file
  falls back to nmap's own): no extra traffic; what :func:`nmap_command` does (method
  ``"datadir"``, the default for a non-standard STARTTLS port);
- ``-sV`` (``--version-light`` is enough: Postfix is recognised by its banner): service detection
  names it smtp, at the cost of its probes (about 0.3-0.4 s on loopback); method ``"sV"``;
- not ``--servicedb FILE`` with ``-p``: it implies ``-F``, which nmap refuses next to ``-p``
  (``--servicedb FILE --top-ports 1`` does work, with a file that lists only that port).

Implicit TLS needs nothing: on 465 and the other usual TLS ports by number, and on any other port
because the portrule sends a ClientHello to an unknown service and sees a ServerHello.

nmap names the TLS 1.3 suites ``TLS_AKE_WITH_AES_128_GCM_SHA256``; they are returned under their
IANA names (``TLS_AES_128_GCM_SHA256``).

openssl::

    accepts(address, port, "starttls", "TLSv1.0")                    # any suite
    accepts(address, port, "starttls", "TLSv1.2", cipher="AES128-SHA")
    handshake(address, port, "starttls", ca_file=ca).verify_code     # 10: certificate expired
    openssl_enumerate(address, port, "starttls", "TLSv1.2")          # {OpenSSL names}

The client side always runs at OpenSSL security level 0, so TLS 1.0/1.1 and static-RSA suites
can be offered (at Debian's default level 2 OpenSSL 3 refuses TLS 1.0 itself: "legacy sigalg
disallowed or unsupported"). Versions the local OpenSSL cannot speak at all (SSLv2, and SSLv3
on Debian's build) raise :class:`NotTestable` instead of a misleading False.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import functools
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

VERSIONS: tuple[str, ...] = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
OPENSSL_VERSION_FLAGS: dict[str, str] = {
    "SSLv3": "-ssl3",
    "TLSv1.0": "-tls1",
    "TLSv1.1": "-tls1_1",
    "TLSv1.2": "-tls1_2",
    "TLSv1.3": "-tls1_3",
}
_OPENSSL_PROTOCOL_NAMES = {"TLSv1": "TLSv1.0", "SSLv3": "SSLv3"}
TLS13_SUITES: tuple[str, ...] = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
)
SMTP_PORTS = (25, 587)  # ssl-enum-ciphers does STARTTLS on these by number
EHLO_NAME = "crosscheck.mailprobe.test"


class NotTestable(RuntimeError):
    """The local tool cannot test this (e.g. SSLv3 with an OpenSSL built without it)."""


def openssl_path() -> str | None:
    """The ``openssl`` command, or None."""
    return shutil.which("openssl")


def nmap_path() -> str | None:
    """The ``nmap`` command, or None."""
    return shutil.which("nmap")


def _need(tool: str | None, name: str) -> str:
    if tool is None:
        raise NotTestable(f"{name} is not installed")
    return tool


# -- openssl -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handshake:
    """One ``openssl s_client`` run: ``ok`` when a handshake completed."""

    ok: bool
    protocol: str | None  # "TLSv1.0" ... "TLSv1.3"
    cipher: str | None  # OpenSSL name
    verify_code: int | None
    verify_message: str | None
    certificates: tuple[str, ...] = ()  # PEM, leaf first
    command: tuple[str, ...] = ()
    output: str = field(default="", repr=False)

    @property
    def leaf_not_after(self) -> datetime.datetime | None:
        """The leaf certificate's notAfter (UTC), when one was presented."""
        if not self.certificates:
            return None
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(self.certificates[0].encode())
        return cert.not_valid_after_utc


_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _cipher_args(version: str | None, cipher: str | None) -> list[str]:
    if version == "TLSv1.3":
        return ["-ciphersuites", cipher] if cipher else []
    if cipher is not None and cipher.startswith("TLS_") and version is None:
        return ["-tls1_3", "-ciphersuites", cipher]
    return ["-cipher", f"{cipher or 'ALL'}:@SECLEVEL=0"]


def handshake(
    address: str,
    port: int,
    mode: str = "starttls",
    version: str | None = None,
    cipher: str | None = None,
    *,
    ca_file: str | Path | None = None,
    timeout: float = 15.0,
) -> Handshake:
    """Run ``openssl s_client`` once (STARTTLS for SMTP or implicit TLS), offering only
    ``version`` (any when None) and only ``cipher`` (an OpenSSL name; a TLS 1.3 name with
    ``version="TLSv1.3"``; any suite when None), at security level 0; ``ca_file`` for the
    verification result. Raises :class:`NotTestable` when the local OpenSSL lacks the version."""
    openssl = _need(openssl_path(), "openssl")
    if mode not in ("starttls", "implicit"):
        raise ValueError(f"mode must be 'starttls' or 'implicit', not {mode!r}")
    if version is not None and version not in OPENSSL_VERSION_FLAGS:
        raise NotTestable(f"openssl s_client cannot offer {version}")
    command = [openssl, "s_client", "-connect", f"{address}:{port}", "-showcerts"]
    if mode == "starttls":
        command += ["-starttls", "smtp", "-name", EHLO_NAME]
    if version is not None:
        command.append(OPENSSL_VERSION_FLAGS[version])
    command += _cipher_args(version, cipher)
    if ca_file is not None:
        command += ["-CAfile", str(ca_file)]
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"openssl s_client timed out after {timeout}s: {command}") from exc
    output = result.stdout + result.stderr
    if "Unknown option" in output or "unknown option" in output:
        raise NotTestable(f"this openssl cannot offer {version}: {output.splitlines()[0]}")
    return _parse_s_client(output, result.returncode, version, tuple(command))


def _parse_s_client(
    output: str, returncode: int, version: str | None, command: tuple[str, ...]
) -> Handshake:
    new = re.search(r"^New, (\S+), Cipher is (\S+)", output, re.M)
    cipher = new.group(2) if new and new.group(2) != "(NONE)" else None
    protocol_line = re.search(r"^\s*Protocol\s*:\s*(\S+)", output, re.M)
    protocol: str | None = None
    if cipher is not None:
        if protocol_line:
            raw = protocol_line.group(1)
            protocol = _OPENSSL_PROTOCOL_NAMES.get(raw, raw)
        elif new and new.group(1) == "TLSv1.3":
            protocol = "TLSv1.3"  # s_client prints no session block for 1.3 before a ticket
        else:
            protocol = version
    ok = returncode == 0 and cipher is not None
    # s_client says "Verify return code: 0 (ok)" even when no certificate ever came
    verify = re.search(r"^Verify return code: (\d+) \((.*)\)", output, re.M) if ok else None
    return Handshake(
        ok=ok,
        protocol=protocol,
        cipher=cipher,
        verify_code=int(verify.group(1)) if verify else None,
        verify_message=verify.group(2) if verify else None,
        certificates=tuple(_PEM.findall(output)),
        command=command,
        output=output,
    )


def accepts(
    address: str,
    port: int,
    mode: str,
    version: str,
    cipher: str | None = None,
    *,
    timeout: float = 15.0,
) -> bool:
    """True when the server completes a handshake with ``version`` (and ``cipher``, an OpenSSL
    name, or a TLS 1.3 suite name, when given). :class:`NotTestable` when the local OpenSSL
    cannot offer ``version``."""
    result = handshake(address, port, mode, version, cipher, timeout=timeout)
    return result.ok and (result.protocol in (None, version))


@functools.cache
def openssl_names() -> dict[str, str]:
    """``{OpenSSL name: IANA name}`` for every suite of the local OpenSSL (TLS 1.3 included)."""
    openssl = _need(openssl_path(), "openssl")
    result = subprocess.run(
        [openssl, "ciphers", "-stdname", "-v", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    names: dict[str, str] = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "-" and parts[0] != "(NONE)":
            names[parts[2]] = parts[0]
    for suite in TLS13_SUITES:
        names.setdefault(suite, suite)
    return names


def iana_name(openssl_name: str) -> str:
    """The IANA name of an OpenSSL suite name (KeyError when the local OpenSSL lacks it)."""
    return openssl_names()[openssl_name]


@functools.cache
def openssl_candidates(version: str) -> tuple[str, ...]:
    """Every suite the local OpenSSL can offer with ``version`` (OpenSSL names), without the PSK
    and SRP suites an anonymous client cannot complete."""
    if version == "TLSv1.3":
        return TLS13_SUITES
    if version not in OPENSSL_VERSION_FLAGS:
        raise NotTestable(f"openssl cannot offer {version}")
    openssl = _need(openssl_path(), "openssl")
    result = subprocess.run(
        [
            openssl,
            "ciphers",
            "-s",
            OPENSSL_VERSION_FLAGS[version],
            "ALL:COMPLEMENTOFALL:!PSK:!SRP:@SECLEVEL=0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise NotTestable(f"openssl has no suites for {version}: {result.stderr.strip()}")
    return tuple(name for name in result.stdout.strip().split(":") if not name.startswith("TLS_"))


def openssl_enumerate(
    address: str,
    port: int,
    mode: str,
    version: str,
    candidates: Iterable[str] | None = None,
    *,
    workers: int = 16,
    timeout: float = 15.0,
) -> frozenset[str]:
    """The suites (OpenSSL names) the server accepts with ``version``: one s_client run per
    candidate (every suite of the local OpenSSL by default), ``workers`` at a time, after one
    run offering them all (a refused version costs one run)."""
    names = tuple(candidates) if candidates is not None else openssl_candidates(version)
    if not accepts(address, port, mode, version, timeout=timeout):
        return frozenset()  # the version itself is refused: no suite can be
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        verdicts = pool.map(
            lambda name: accepts(address, port, mode, version, name, timeout=timeout), names
        )
        return frozenset(name for name, ok in zip(names, verdicts, strict=True) if ok)


# -- nmap ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NmapScan:
    """One ``nmap --script ssl-enum-ciphers`` run, parsed."""

    suites: dict[str, frozenset[str]]  # version -> IANA names of the accepted suites
    preference: dict[str, str]  # version -> "client" | "server" | "indeterminate"
    command: tuple[str, ...]
    seconds: float
    output: str = field(repr=False)
    ran: bool = True  # False: the script printed nothing (its portrule said no)

    @property
    def versions(self) -> frozenset[str]:
        """The accepted protocol versions."""
        return frozenset(self.suites)


_VERSION_LINE = re.compile(r"^\|\s{3}(SSLv2|SSLv3|TLSv1\.[0-3]):\s*$")
_SECTION_LINE = re.compile(r"^\|\s{5}(\S[^:]*):\s*(.*?)\s*$")
_ITEM_LINE = re.compile(r"^\|_?\s{7}(\S+)")


def iana_from_nmap(name: str) -> str:
    """nmap's suite name as IANA's (nmap says ``TLS_AKE_WITH_...`` for the TLS 1.3 suites)."""
    return "TLS_" + name[len("TLS_AKE_WITH_") :] if name.startswith("TLS_AKE_WITH_") else name


def parse_ssl_enum_ciphers(output: str) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """``({version: IANA suite names}, {version: cipher preference})`` from nmap's normal output
    of ssl-enum-ciphers (one host, one port)."""
    suites: dict[str, set[str]] = {}
    preference: dict[str, str] = {}
    version: str | None = None
    section: str | None = None
    in_script = False
    for line in output.splitlines():
        if line.startswith("| ssl-enum-ciphers:"):
            in_script = True
            continue
        if not in_script:
            continue
        if not line.startswith("|"):
            break
        if match := _VERSION_LINE.match(line):
            version, section = match.group(1), None
            suites.setdefault(version, set())
            continue
        if version is None:
            continue
        if match := _SECTION_LINE.match(line):
            section = match.group(1)
            if section == "cipher preference":
                preference[version] = match.group(2)
            continue
        if section == "ciphers" and (match := _ITEM_LINE.match(line)):
            suites[version].add(iana_from_nmap(match.group(1)))
        if line.startswith("|_"):
            break
    return {v: frozenset(names) for v, names in suites.items() if names}, preference


def nmap_command(
    address: str,
    port: int,
    mode: str = "starttls",
    *,
    method: str = "auto",
    datadir: Path | None = None,
    nmap: str = "nmap",
) -> list[str]:
    """The nmap command line for ``ssl-enum-ciphers`` on one port. ``method``: ``"auto"``
    (``"port"`` for implicit TLS and for STARTTLS on 25/587, else ``"datadir"``), ``"port"``
    (plain ``-p``), ``"datadir"`` (``--datadir DIR``, DIR/nmap-services naming the port smtp;
    ``datadir`` must be given and is written here), ``"sV"`` (``-sV --version-light``)."""
    if method == "auto":
        method = "port" if mode == "implicit" or port in SMTP_PORTS else "datadir"
    command = [nmap, "-Pn", "-n", f"-p{port}"]
    if method == "datadir":
        if datadir is None:
            raise ValueError("method 'datadir' needs a directory")
        service = "smtp" if mode == "starttls" else "smtps"
        (datadir / "nmap-services").write_text(
            f"{service}\t{port}/tcp\t0.5\t# mailprobe cross-check\n"
        )
        command += ["--datadir", str(datadir)]
    elif method == "sV":
        command += ["-sV", "--version-light"]
    elif method != "port":
        raise ValueError(f"unknown method {method!r}")
    return [*command, "--script", "ssl-enum-ciphers", address]


def nmap_ssl_enum_ciphers(
    address: str,
    port: int,
    mode: str = "starttls",
    *,
    method: str = "auto",
    timeout: float = 300.0,
) -> NmapScan:
    """Run ``nmap --script ssl-enum-ciphers`` against one port (see :func:`nmap_command` for
    ``method``) and parse it. ``ran`` is False when the script printed nothing."""
    nmap = _need(nmap_path(), "nmap")
    with tempfile.TemporaryDirectory(prefix="mailprobe-nmap-") as tmp:
        command = nmap_command(address, port, mode, method=method, datadir=Path(tmp), nmap=nmap)
        started = time.perf_counter()
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"nmap timed out after {timeout}s: {command}") from exc
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"nmap failed (rc {result.returncode}): {result.stderr.strip()}")
    suites, preference = parse_ssl_enum_ciphers(result.stdout)
    return NmapScan(
        suites=suites,
        preference=preference,
        command=tuple(command),
        seconds=seconds,
        output=result.stdout,
        ran="ssl-enum-ciphers:" in result.stdout,
    )
