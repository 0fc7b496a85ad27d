"""Ways to name the server: implicit TLS (--tls), --mx DOMAIN (preferred or --all exchangers,
resolved through a loopback DNS server), IPv6 literals. Servers on 127.0.2.x, DNS on 127.0.2.x."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.certs import ServerCert
from tests.support.peers import EXCHANGE2000_EHLO, SmtpPeer


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--json"])
    out, _err = capsys.readouterr()
    document: dict[str, Any] = json.loads(out)
    assert document["exit_code"] == code
    return code, document


class ImplicitTlsServer:
    """An SMTPS (465-style) server on 127.0.2.12: TLS from the first byte, then a short SMTP
    dialogue. Blocking sockets in one thread; every read and the whole life are bounded."""

    def __init__(self, cert: ServerCert, address: str = "127.0.2.12") -> None:
        self.context = cert.server_context()
        self.listener = socket.create_server((address, 0))
        self.listener.settimeout(0.2)
        self.address = address
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(10)
            with (
                contextlib.suppress(OSError),
                raw,
                self.context.wrap_socket(raw, server_side=True) as conn,
                conn.makefile("rb") as reader,
            ):
                self._session(conn, reader)

    @staticmethod
    def _session(conn: ssl.SSLSocket, reader: Any) -> None:
        conn.sendall(b"220 smtps.test.example ESMTP\r\n")
        for _ in range(20):
            line = reader.readline(4096)
            if not line:
                return
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                conn.sendall(b"250-smtps.test.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.2 not here\r\n")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def smtps_factory() -> Iterator[Callable[[ServerCert], ImplicitTlsServer]]:
    servers: list[ImplicitTlsServer] = []

    def make(cert: ServerCert) -> ImplicitTlsServer:
        server = ImplicitTlsServer(cert)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def test_implicit_tls(
    capsys: pytest.CaptureFixture[str], smtps_factory: Any, server_cert: ServerCert
) -> None:
    peer = smtps_factory(server_cert)
    args = ["ehlo", peer.address, "--port", str(peer.port), "--tls", "--timeout", "10"]
    code, doc = run_json(capsys, *args, "--ca-file", str(server_cert.ca))
    (probe,) = doc["results"]["probes"]
    assert probe["failure"] is None, probe["transcript"]
    assert probe["implicit_tls"] is True
    assert probe["tls"]["mode"] == "implicit"
    assert probe["tls"]["verified"] is True
    assert probe["advertised"]["keywords"] == ["PIPELINING", "SIZE"]
    assert "tls.not-offered" not in {f["code"] for f in probe["findings"]}
    assert code == 0, probe["findings"]


def test_implicit_tls_untrusted_then_insecure(
    capsys: pytest.CaptureFixture[str], smtps_factory: Any, self_signed_cert: ServerCert
) -> None:
    peer = smtps_factory(self_signed_cert)
    args = ["ehlo", peer.address, "--port", str(peer.port), "--tls", "--timeout", "10"]
    code, doc = run_json(capsys, *args)
    (probe,) = doc["results"]["probes"]
    assert code == 1
    assert probe["advertised"] is None
    assert {f["code"] for f in probe["findings"]} == {"tls.certificate-untrusted"}
    code, doc = run_json(capsys, *args, "--insecure")
    (probe,) = doc["results"]["probes"]
    assert probe["failure"] is None, probe["transcript"]
    assert code == 1
    assert probe["tls"]["verified"] is False
    assert probe["tls"]["verify_error"]
    assert probe["advertised"]["keywords"] == ["PIPELINING", "SIZE"]


def mx_zone(port: int) -> dict[str, str]:
    del port
    return {
        "ehlo.test": "\n".join(
            [
                "@            MX 10 mx1",
                "@            MX 20 mx2",
                "mx1          A 127.0.2.10",
                "mx2          A 127.0.2.11",
                "broken       MX 10 nowhere",
                "nullmx       MX 0 .",
            ]
        )
    }


@pytest.fixture
def mx_pair(peer_factory: Any) -> tuple[SmtpPeer, SmtpPeer]:
    first: SmtpPeer = peer_factory.smtp(address="127.0.2.10", hostname="mx1.ehlo.test")
    try:
        second: SmtpPeer = peer_factory.smtp(
            address="127.0.2.11",
            port=first.port,
            hostname="mx2.ehlo.test",
            ehlo=[e for e in EXCHANGE2000_EHLO if e != "OK"],
        )
    except OSError:
        pytest.skip("the port of the first peer is taken on 127.0.2.11")
    return first, second


def test_mx_preferred_exchanger(
    capsys: pytest.CaptureFixture[str],
    dns_server: Callable[..., Any],
    mx_pair: tuple[SmtpPeer, SmtpPeer],
) -> None:
    first, second = mx_pair
    server = dns_server(mx_zone(first.port), address="127.0.2.53")
    code, doc = run_json(
        capsys,
        "ehlo",
        "--mx",
        "ehlo.test",
        "--dns-server",
        server.spec,
        "--port",
        str(first.port),
        "--timeout",
        "5",
    )
    results = doc["results"]
    assert results["mx_domain"] == "ehlo.test"
    assert [e["host"] for e in results["exchangers"]] == ["mx1.ehlo.test"]
    (probe,) = results["probes"]
    assert probe["host"] == "mx1.ehlo.test"
    assert probe["address"] == "127.0.2.10"
    assert doc["inputs"]["mx"] == "ehlo.test"
    assert code in (0, 1)
    second.wait_idle()
    assert second.transcript.connections() == 0


def test_mx_all_exchangers(
    capsys: pytest.CaptureFixture[str],
    dns_server: Callable[..., Any],
    mx_pair: tuple[SmtpPeer, SmtpPeer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, _second = mx_pair
    server = dns_server(mx_zone(first.port), address="127.0.2.53")
    monkeypatch.setenv("MAILPROBE_DNS_SERVER", server.spec)
    code, doc = run_json(
        capsys, "ehlo", "--mx", "ehlo.test", "--all", "--port", str(first.port), "--timeout", "5"
    )
    probes = doc["results"]["probes"]
    assert [p["host"] for p in probes] == ["mx1.ehlo.test", "mx2.ehlo.test"]
    assert [p["address"] for p in probes] == ["127.0.2.10", "127.0.2.11"]
    assert "XEXCH50" in probes[1]["advertised"]["keywords"]
    assert all(p["failure"] is None for p in probes)
    assert code == 1  # no STARTTLS anywhere


@pytest.mark.parametrize(
    ("domain", "step", "text"),
    [
        ("missing.ehlo.test", "dns MX", "NXDOMAIN"),
        ("nullmx.ehlo.test", "dns MX", "null MX"),
        ("broken.ehlo.test", "dns", ""),
    ],
)
def test_mx_failures(
    capsys: pytest.CaptureFixture[str],
    dns_server: Callable[..., Any],
    domain: str,
    step: str,
    text: str,
) -> None:
    server = dns_server(mx_zone(25), address="127.0.2.53")
    code, doc = run_json(
        capsys, "ehlo", "--mx", domain, "--dns-server", server.spec, "--timeout", "3"
    )
    assert code == 3
    (error,) = doc["errors"]
    assert error["step"].lower().startswith(step.lower())
    assert text in error["message"] or text in error["text"]


def test_ipv6_literal_forms(capsys: pytest.CaptureFixture[str], peer_factory: Any) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        peer: SmtpPeer = peer_factory.smtp(address="::1")
    except OSError:
        pytest.skip("cannot listen on ::1")
    for form in ("::1", "[::1]"):
        code, doc = run_json(capsys, "ehlo", form, "--port", str(peer.port), "--timeout", "5")
        (probe,) = doc["results"]["probes"]
        assert probe["address"] == "::1"
        assert probe["failure"] is None
        assert doc["inputs"]["host"] == "::1"
        assert code == 1  # no STARTTLS


def test_mx_next_address_when_the_first_is_unreachable(
    capsys: pytest.CaptureFixture[str], dns_server: Callable[..., Any], peer_factory: Any
) -> None:
    peer: SmtpPeer = peer_factory.smtp(address="127.0.2.10", hostname="mx.two.test")
    zone = {"two.test": "@ MX 10 mx\nmx A 127.0.2.14\nmx A 127.0.2.10"}
    server = dns_server(zone, address="127.0.2.53")
    code, doc = run_json(
        capsys,
        "ehlo",
        "--mx",
        "two.test",
        "--dns-server",
        server.spec,
        "--port",
        str(peer.port),
        "--timeout",
        "5",
    )
    (exchanger,) = doc["results"]["exchangers"]
    assert sorted(exchanger["addresses"]) == ["127.0.2.10", "127.0.2.14"]
    (probe,) = doc["results"]["probes"]
    assert probe["failure"] is None
    assert probe["address"] == "127.0.2.10"
    assert code == 1  # no STARTTLS
