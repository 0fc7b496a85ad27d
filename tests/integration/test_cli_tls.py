"""`mailprobe tls` against real servers on loopback (tests/support/tls_servers.py, 127.0.16.x).

Private Postfix instances per posture — weak (TLS 1.0/1.1, RSA key exchange, CBC-SHA1 suites,
RSA 2048), modern (TLS 1.2 ECDHE AEAD + 1.3, server order, ECDSA P-256), TLS 1.3 only, implicit
TLS, an expired certificate — and a scripted peer whose STARTTLS handshake always fails. Each is
graded as the NCSC-NL guidelines say; what mailprobe reports as accepted is compared with what
the lab measured and with `nmap --script ssl-enum-ciphers` on the same server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mailprobe.cli.app import main
from mailprobe.schema import build_schema, validate_document
from tests.support.tls_crosscheck import nmap_path, nmap_ssl_enum_ciphers
from tests.support.tls_servers import TlsServer

pytestmark = pytest.mark.postfix


def run_tls(capsys: pytest.CaptureFixture[str], server: TlsServer, *more: str) -> tuple[int, Any]:
    code = main(["--json", "tls", *server.cli_args(), *more])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    doc = json.loads(out)
    assert doc["command"] == "tls" and doc["exit_code"] == code
    assert validate_document(doc, build_schema()) == []
    return code, doc


def accepted(doc: dict[str, Any]) -> dict[str, frozenset[str]]:
    (server,) = doc["results"]["servers"]
    return {
        p["version"]: frozenset(c["name"] for c in p["ciphers"])
        for p in server["protocols"]
        if p["accepted"]
    }


def codes(doc: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in doc["results"]["findings"]}


def areas(doc: dict[str, Any], level: str) -> set[str]:
    (server,) = doc["results"]["servers"]
    return {i["area"] for i in server["items"] if i["level"] == level}


def test_weak_server_is_insufficient(
    tls_weak: TlsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_tls(capsys, tls_weak)
    assert code == 1
    assert accepted(doc) == tls_weak.expected.by_version()
    (server,) = doc["results"]["servers"]
    assert server["verdict"] == "insufficient"
    refused = {p["version"] for p in server["protocols"] if p["accepted"] is False}
    assert refused == set(tls_weak.expected.refused)
    assert {"protocol", "cipher", "order"} <= areas(doc, "insufficient")
    assert server["server_cipher_order"] is False  # the client's order wins
    assert "certificate-key" in areas(doc, "phase-out")  # RSA 2048
    tls10 = next(p for p in server["protocols"] if p["version"] == "TLSv1.0")
    names = {c["name"]: c["level"] for c in tls10["ciphers"]}
    assert names["TLS_RSA_WITH_AES_128_CBC_SHA"] == "insufficient"  # AES128-SHA, no PFS
    assert codes(doc)["tls.grade-insufficient"] == "fail"
    fixes = " ".join(f["fix"] for f in doc["results"]["findings"])
    assert "smtpd_tls_protocols" in fixes and "tls_preempt_cipherlist" in fixes


def test_modern_server_passes(tls_modern: TlsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_tls(capsys, tls_modern)
    assert accepted(doc) == tls_modern.expected.by_version()
    (server,) = doc["results"]["servers"]
    assert server["verdict"] in ("good", "sufficient")
    assert areas(doc, "insufficient") == set()
    assert server["server_cipher_order"] is not False
    assert server["certificate"]["key_type"] == "EC" and server["certificate"]["trusted"] is True
    assert codes(doc)["tls.grade-ok"] == "ok" and code == 0


def test_tls13_only(tls_tls13: TlsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_tls(capsys, tls_tls13)
    assert set(accepted(doc)) == {"TLSv1.3"} == set(tls_tls13.expected.versions)
    (server,) = doc["results"]["servers"]
    assert server["server_cipher_order"] is None  # no TLS 1.2: not applicable
    assert code == 0


def test_implicit_tls(tls_implicit: TlsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_tls(capsys, tls_implicit)
    assert doc["inputs"]["mode"] == "implicit"
    assert accepted(doc) == tls_implicit.expected.by_version()
    assert code == 0


def test_expired_certificate(tls_expired: TlsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_tls(capsys, tls_expired)
    (server,) = doc["results"]["servers"]
    assert server["certificate"]["days_left"] < 0
    assert "certificate-expiry" in areas(doc, "insufficient")
    assert code == 1


def test_a_failing_handshake_gets_the_diagnosis_of_every_command(
    tls_failing: TlsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_tls(capsys, tls_failing)
    assert doc["results"]["servers"] == []  # no enumeration of a broken server
    assert codes(doc).get("tls.handshake-failed") == "fail"
    assert code == 1  # as in ehlo and check: the server answered, badly


def test_unreachable_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--json", "tls", "127.0.16.99", "--port", "1", "--timeout", "2"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 3 and doc["errors"]


def test_text_report(tls_weak: TlsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--no-color", "tls", *tls_weak.cli_args()])
    out = capsys.readouterr().out
    assert code == 1
    assert "INSUFFICIENT" in out and "TLSv1.0  accepted" in out
    assert "suite order:" in out and "FAIL tls.grade-insufficient" in out


@pytest.mark.skipif(nmap_path() is None, reason="nmap is not installed (Debian package nmap)")
def test_same_versions_and_suites_as_nmap(
    tls_weak: TlsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _code, doc = run_tls(capsys, tls_weak)
    nmap = nmap_ssl_enum_ciphers(tls_weak.address, tls_weak.port, tls_weak.mode)
    assert nmap.ran
    assert accepted(doc) == nmap.suites


@pytest.mark.parametrize(
    "args",
    [["127.0.0.1", "--port", "0"], ["a..b"], ["--all"], ["127.0.0.1\r\nQUIT"], ["x", "--mx", "y"]],
)
def test_bad_input_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tls", *args])
    _out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1, err


def test_check_tls_scan_runs_the_same_engine(
    tls_weak: TlsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.dnsserver import start_dns_server

    zone = f"@ MX 10 mx.tlsscan.test.\nmx A {tls_weak.address}\n"
    with start_dns_server({"tlsscan.test": zone}, address="127.0.16.53") as dns:
        args = [
            "--json", "check", "tlsscan.test", "--server", dns.spec, "--smtp-port",
            str(tls_weak.port), "--allow-private", "--no-relay", "--no-blocklist",
            "--ca-file", str(tls_weak.ca_file), "--tls-scan",
        ]  # fmt: skip
        code = main(args)
        doc = json.loads(capsys.readouterr().out)
    (scanned,) = doc["results"]["tls_scan"]
    assert scanned["verdict"] == "insufficient"
    protocols = {p["version"] for p in scanned["protocols"] if p["accepted"]}
    assert protocols == set(tls_weak.expected.versions)
    smtp = next(s for s in doc["results"]["steps"] if s["name"] == "smtp")
    assert "tls.grade-insufficient" in {f["code"] for f in smtp["findings"]}
    assert code == 1
