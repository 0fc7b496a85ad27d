"""`mailprobe outbound` against real parts on 127.0.19.x: the loopback DNS server of
tests/support/dnsserver.py, real Postfix instances (exchangers on 25, a smarthost with STARTTLS
and Cyrus SASL on the submission port), plain TCP listeners on 587/443 for the "port 25
blocked" diagnosis, and a tarpit. Every DNS question goes to the test servers (``--server``
and ``--system-server``); nothing outside 127.0.0.0/8 is contacted.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from mailprobe.schema import validate_document
from tests.support.certs import TestCA
from tests.support.dnsserver import DnsServerHandle
from tests.support.peers import PeerFactory, tarpit_handler
from tests.support.postfix import PostfixFactory, PostfixInstance

DNS_ADDRESS = "127.0.19.53"
OTHER_DNS_ADDRESS = "127.0.19.54"
MX_ADDRESS = "127.0.19.1"
DEAD_ADDRESS = "127.0.19.2"
BLOCKED_ADDRESSES = ("127.0.19.11", "127.0.19.12")
TARPIT_ADDRESS = "127.0.19.21"
SMARTHOST_ADDRESS = "127.0.19.5"
SMTPS_ADDRESS = "127.0.19.6"
SMART_USER = "relayuser"
SMART_PASSWORD = "Sm4rt-h0st&relay-pw"

ZONE = f"""
@           MX 10 mx1
@           MX 20 mx2
mx1         A  {MX_ADDRESS}
mx2         A  {DEAD_ADDRESS}
helo        A  127.0.0.1
smarthost   A  {SMARTHOST_ADDRESS}
smtps       A  {SMTPS_ADDRESS}
"""
BLOCKED_ZONE = f"""
@           MX 10 mx1
@           MX 20 mx2
mx1         A  {BLOCKED_ADDRESSES[0]}
mx2         A  {BLOCKED_ADDRESSES[1]}
"""
TARPIT_ZONE = f"""
@           MX 10 mx1
mx1         A  {TARPIT_ADDRESS}
"""
REVERSE = """
1           PTR helo.outbound.test.
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def dns(dns_server: Any) -> DnsServerHandle:
    handle: DnsServerHandle = dns_server(
        {
            "outbound.test": ZONE,
            "blocked.test": BLOCKED_ZONE,
            "tarpit.test": TARPIT_ZONE,
            "dangling.test": "@ MX 10 nowhere\n",
            "0.0.127.in-addr.arpa": REVERSE,
        },
        address=DNS_ADDRESS,
    )
    return handle


@pytest.fixture(scope="module")
def exchanger(postfix_factory: PostfixFactory) -> PostfixInstance:
    """A plain Postfix exchanger for outbound.test (mx1)."""
    return postfix_factory("outbound_mx", MX_ADDRESS, 25, domain="outbound.test")


@pytest.fixture(scope="module")
def smarthost(postfix_factory: PostfixFactory, test_ca: TestCA) -> PostfixInstance:
    """A submission relay: STARTTLS with a test-CA certificate, AUTH only after TLS."""
    cert = test_ca.issue("smarthost.outbound.test", SMARTHOST_ADDRESS)
    return postfix_factory(
        "outbound_smarthost",
        SMARTHOST_ADDRESS,
        587,
        domain="smarthost.test",
        hostname="smarthost.outbound.test",
        tls_cert=cert,
        sasl_users={SMART_USER: SMART_PASSWORD},
    )


@pytest.fixture(scope="module")
def smtps_smarthost(postfix_factory: PostfixFactory, test_ca: TestCA) -> PostfixInstance:
    """A relay with implicit TLS (wrapper mode, 465) and AUTH."""
    from tests.support.tls_servers import start_implicit

    cert = test_ca.issue("smtps.outbound.test", SMTPS_ADDRESS)
    instance = postfix_factory(
        "outbound_smtps",
        SMTPS_ADDRESS,
        465,
        {"smtpd_tls_wrappermode": "yes"},
        domain="smtps.test",
        hostname="smtps.outbound.test",
        tls_cert=cert,
        sasl_users={SMART_USER: SMART_PASSWORD},
        start=False,
    )
    start_implicit(instance)
    return instance


def run(
    capsys: pytest.CaptureFixture[str], dns: DnsServerHandle, *args: str
) -> tuple[int, dict[str, Any], str]:
    argv = ["outbound", "--server", dns.spec, "--system-server", dns.spec, "--timeout", "5"]
    code = main([*argv, *args, "--json"])
    out, err = capsys.readouterr()
    document: dict[str, Any] = json.loads(out)
    assert validate_document(document) == []
    assert document["exit_code"] == code
    return code, document, out + err


def codes(document: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in document["results"]["findings"]}


def test_exchangers_greet_and_identity_is_confirmed(
    capsys: pytest.CaptureFixture[str], dns: DnsServerHandle, exchanger: PostfixInstance
) -> None:
    before = exchanger.accepted_count()
    code, doc, _ = run(
        capsys,
        dns,
        "--to-domain",
        "outbound.test",
        "--port",
        str(exchanger.port),
        "--helo",
        "helo.outbound.test",
    )
    results = doc["results"]
    found = codes(doc)
    assert code == 0, found
    assert found["outbound.mx-resolved"] == "ok"
    assert found["outbound.resolvers-agree"] == "ok"
    assert found["outbound.port25-open"] == "ok"
    assert found["outbound.helo-ok"] == "ok"
    assert found["outbound.ptr-confirmed"] == "ok"
    assert found["outbound.source-private"] == "info"  # 127.0.0.1
    assert results["dns"]["configured"]["exchangers"] == [
        "10 mx1.outbound.test",
        "20 mx2.outbound.test",
    ]
    assert results["dns"]["agree"] is True
    port25 = results["port25"]
    assert port25["verdict"] == "open"
    first, second = port25["exchangers"]
    assert first["status"] == "greeted" and first["address"] == MX_ADDRESS
    assert first["banner"].startswith("220 ")
    assert second["status"] == "failed" and second["failure_kind"] == "connect-refused"
    identity = results["identity"]
    assert identity["source_address"] == "127.0.0.1"
    assert identity["ptr_names"] == ["helo.outbound.test"]
    assert identity["ptr_confirmed"] is True and identity["ptr_matches_helo"] is True
    assert results["smarthost"] is None
    assert exchanger.accepted_count() == before and exchanger.queued_messages() == []


def test_text_output_has_one_section_per_step(
    capsys: pytest.CaptureFixture[str], dns: DnsServerHandle, exchanger: PostfixInstance
) -> None:
    code = main(
        [
            "outbound",
            "--server",
            dns.spec,
            "--system-server",
            dns.spec,
            "--to-domain",
            "outbound.test",
            "--port",
            str(exchanger.port),
            "--helo",
            "helo.outbound.test",
            "--no-color",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for heading in ("1. DNS: MX of outbound.test", "2. Port", "3. HELO name and PTR"):
        assert heading in out
    assert "port 25 open" in out and "forward-confirmed" in out


def test_helo_name_that_does_not_resolve(
    capsys: pytest.CaptureFixture[str], dns: DnsServerHandle, exchanger: PostfixInstance
) -> None:
    code, doc, _ = run(
        capsys,
        dns,
        "--to-domain",
        "outbound.test",
        "--port",
        str(exchanger.port),
        "--helo",
        "nowhere.outbound.test",
    )
    found = codes(doc)
    assert code == 1
    assert found["outbound.helo-no-address"] == "warn"
    assert found["outbound.ptr-helo-differs"] == "info"
    assert doc["results"]["identity"]["helo_addresses"] == []


def test_single_label_helo_is_not_fully_qualified(
    capsys: pytest.CaptureFixture[str], dns: DnsServerHandle, exchanger: PostfixInstance
) -> None:
    code, doc, _ = run(
        capsys, dns, "--to-domain", "outbound.test", "--port", str(exchanger.port), "--helo", "box"
    )
    assert code == 1
    assert codes(doc)["outbound.helo-not-fqdn"] == "warn"


def _listen(address: str, preferred: int) -> socket.socket:
    """A TCP listener on ``preferred`` (587, 443), else on a free port."""
    for port in (preferred, 0):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            sock.close()
            continue
        sock.listen(8)
        return sock
    raise RuntimeError(f"cannot listen on {address}")


@pytest.fixture
def submission_only() -> Iterator[list[int]]:
    """Both blocked.test exchangers listen on 587 (or a free port) but not on 25."""
    with contextlib.ExitStack() as stack:
        ports = []
        for address in BLOCKED_ADDRESSES:
            sock = stack.enter_context(_listen(address, 587))
            ports.append(sock.getsockname()[1])
        yield ports


def test_port_25_blocked_when_exchangers_answer_on_submission(
    capsys: pytest.CaptureFixture[str], dns: DnsServerHandle, submission_only: list[int]
) -> None:
    other = ",".join(str(p) for p in sorted(set(submission_only)))
    code, doc, _ = run(
        capsys,
        dns,
        "--to-domain",
        "blocked.test",
        "--port",
        "25",
        "--other-ports",
        other,
        "--helo",
        "helo.outbound.test",
    )
    found = codes(doc)
    assert code == 1, doc
    assert found["outbound.port25-blocked"] == "fail"
    assert "probably blocked" in next(
        f["summary"] for f in doc["results"]["findings"] if f["code"] == "outbound.port25-blocked"
    )
    port25 = doc["results"]["port25"]
    assert port25["verdict"] == "blocked"
    for probe in port25["exchangers"]:
        assert probe["failure_kind"] == "connect-refused"
        assert any(o["open"] for o in probe["other_ports"])
    assert doc["results"]["failures"] == []


def test_nothing_answers_is_incomplete(
    capsys: pytest.CaptureFixture[str], dns: DnsServerHandle
) -> None:
    code, doc, _ = run(
        capsys,
        dns,
        "--to-domain",
        "blocked.test",
        "--port",
        "25",
        "--other-ports",
        "none",
        "--helo",
        "helo.outbound.test",
    )
    found = codes(doc)
    assert code == 3
    assert found["outbound.port25-unreachable"] == "fail"
    assert found["smtp.connect-refused"] == "fail"
    assert doc["results"]["port25"]["verdict"] == "unreachable"


def test_silent_exchanger_is_a_tarpit_not_unreachable(
    capsys: pytest.CaptureFixture[str], dns: DnsServerHandle, peer_factory: PeerFactory
) -> None:
    peer = peer_factory.raw(tarpit_handler(hold=10), address=TARPIT_ADDRESS)
    code, doc, _text = run(
        capsys,
        dns,
        "--to-domain",
        "tarpit.test",
        "--port",
        str(peer.port),
        "--timeout",
        "1",
        "--helo",
        "helo.outbound.test",
    )
    found = codes(doc)
    assert code == 3
    assert found["smtp.no-banner"] == "fail"
    assert found["outbound.port25-no-greeting"] == "fail"
    assert "outbound.port25-unreachable" not in found
    assert "outbound.port25-blocked" not in found
    (probe,) = doc["results"]["port25"]["exchangers"]
    assert probe["failure_kind"] == "no-banner"
    assert "tarpit" in probe["message"]
    assert "unreachable" not in probe["message"]


def test_exchanger_without_an_address(
    capsys: pytest.CaptureFixture[str], dns: DnsServerHandle
) -> None:
    code, doc, _ = run(capsys, dns, "--to-domain", "dangling.test", "--helo", "helo.outbound.test")
    found = codes(doc)
    assert code == 3
    assert found["smtp.no-address"] == "fail"
    assert found["outbound.port25-unreachable"] == "fail"
    assert found["outbound.source-unknown"] == "info"
    assert doc["results"]["port25"]["exchangers"][0]["status"] == "no-address"


def test_resolvers_that_disagree(
    capsys: pytest.CaptureFixture[str],
    dns: DnsServerHandle,
    dns_server: Any,
    exchanger: PostfixInstance,
) -> None:
    other = dns_server({"outbound.test": "@ MX 5 other.example.\n"}, address=OTHER_DNS_ADDRESS)
    code = main(
        [
            "outbound",
            "--server",
            dns.spec,
            "--system-server",
            other.spec,
            "--to-domain",
            "outbound.test",
            "--port",
            str(exchanger.port),
            "--helo",
            "helo.outbound.test",
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert codes(doc)["outbound.resolvers-differ"] == "warn"
    assert doc["results"]["dns"]["system"]["exchangers"] == ["5 other.example"]
    assert doc["results"]["dns"]["agree"] is False


def test_dns_timeout_is_incomplete(
    capsys: pytest.CaptureFixture[str], silent_dns_server: Any
) -> None:
    silent = silent_dns_server(address="127.0.19.55")
    code = main(
        [
            "outbound",
            "--server",
            silent.spec,
            "--system-server",
            silent.spec,
            "--to-domain",
            "outbound.test",
            "--helo",
            "helo.outbound.test",
            "--timeout",
            "0.5",
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 3
    found = codes(doc)
    assert found["outbound.mx-failed"] == "fail"
    assert doc["results"]["port25"]["verdict"] == "not-tested"
    assert doc["errors"]


def smarthost_args(instance: PostfixInstance) -> list[str]:
    assert instance.tls_cert is not None
    return [
        "--smarthost",
        f"smarthost.outbound.test:{instance.port}",
        "--ca-file",
        str(instance.tls_cert.ca),
        "--user",
        SMART_USER,
        "--password-env",
        "OUTBOUND_TEST_PW",
        "--from",
        f"{SMART_USER}@smarthost.test",
        "--to",
        "someone@outbound.test",
    ]


def test_smarthost_accepts_envelope_after_starttls_and_auth(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    dns: DnsServerHandle,
    exchanger: PostfixInstance,
    smarthost: PostfixInstance,
) -> None:
    monkeypatch.setenv("OUTBOUND_TEST_PW", SMART_PASSWORD)
    before = smarthost.accepted_count()
    code, doc, text = run(
        capsys,
        dns,
        "--to-domain",
        "outbound.test",
        "--port",
        str(exchanger.port),
        "--helo",
        "helo.outbound.test",
        *smarthost_args(smarthost),
    )
    found = codes(doc)
    assert code == 0, found
    assert found["outbound.smarthost-accepted"] == "ok"
    assert found["auth.ok"] == "ok"
    smart = doc["results"]["smarthost"]
    assert smart["accepted"] is True and smart["mode"] == "starttls"
    assert smart["address"] == SMARTHOST_ADDRESS
    session = smart["session"]
    assert session["tls"] is not None and session["auth"]["succeeded"] is True
    assert session["mail"]["code"] == 250 and session["rcpt"][0]["code"] == 250
    assert session["data"] is None and session["message_sent"] is False
    assert doc["inputs"]["password_source"] == "env:OUTBOUND_TEST_PW"
    assert SMART_PASSWORD not in text
    assert smarthost.accepted_count() == before and smarthost.queued_messages() == []


def test_smarthost_with_a_wrong_password(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    dns: DnsServerHandle,
    exchanger: PostfixInstance,
    smarthost: PostfixInstance,
) -> None:
    monkeypatch.setenv("OUTBOUND_TEST_PW", "not-the-password-at-all")
    code, doc, text = run(
        capsys,
        dns,
        "--to-domain",
        "outbound.test",
        "--port",
        str(exchanger.port),
        "--helo",
        "helo.outbound.test",
        *smarthost_args(smarthost),
    )
    found = codes(doc)
    assert code == 1, found
    assert found["outbound.smarthost-refused"] == "fail"
    assert found["auth.failed"] == "fail"
    assert doc["results"]["smarthost"]["accepted"] is False
    assert "not-the-password-at-all" not in text
    assert smarthost.queued_messages() == []


def test_smarthost_with_implicit_tls(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    dns: DnsServerHandle,
    exchanger: PostfixInstance,
    smtps_smarthost: PostfixInstance,
) -> None:
    monkeypatch.setenv("OUTBOUND_TEST_PW", SMART_PASSWORD)
    args = smarthost_args(smtps_smarthost)
    args[1] = f"smtps.outbound.test:{smtps_smarthost.port}"
    code, doc, text = run(
        capsys,
        dns,
        "--to-domain",
        "outbound.test",
        "--port",
        str(exchanger.port),
        "--helo",
        "helo.outbound.test",
        "--tls",
        *args,
    )
    found = codes(doc)
    assert code == 0, found
    smart = doc["results"]["smarthost"]
    assert smart["mode"] == "implicit" and smart["accepted"] is True
    assert smart["session"]["implicit_tls"] is True
    assert SMART_PASSWORD not in text
    assert smtps_smarthost.queued_messages() == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--to-domain", ""], "--to-domain needs a domain name"),
        (["--to-domain", "a\nb.test"], "control character"),
        (["--to-domain", "a..b"], "empty label"),
        (["--smarthost", "relay.test:99999"], "port must be a number from 1 to 65535"),
        (["--smarthost", "relay.test:x"], "port must be a number from 1 to 65535"),
        (["--smarthost", ""], "--smarthost needs a host"),
        (["--smarthost", "relay\r\n.test"], "control characters"),
        (["--other-ports", "0,70000"], "--other-ports"),
        (["--port", "0"], "--port"),
        (["--port", "70000"], "--port"),
        (["--tls"], "--tls only applies with --smarthost"),
        (["--user", "bob"], "--user only applies with --smarthost"),
        (["--helo", "a b"], "--helo"),
        (["--server", "not a server"], "DNS server"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    safety = ["--server", "127.0.0.1:1", "--system-server", "127.0.0.1:1", "--timeout", "0.5"]
    code = main(["outbound", *safety, *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("mailprobe: error: "), err
    assert err.count("\n") == 1, err
    assert expected in err
