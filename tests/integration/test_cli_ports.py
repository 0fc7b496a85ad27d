"""`mailprobe ports` against real listeners on 127.0.18.x (this test area's loopback /24).

Each listener is a real asyncio server in a background thread speaking one protocol's greeting
(POP3, IMAP, NNTP, an HTTP server that answers HEAD, silent LDAP, SMTP inside TLS), TLS-wrapped
ones with a certificate of the test CA (tests/support/certs.py); SMTP on 587 is an ``SmtpPeer``
(tests/support/peers.py) and a real Postfix (tests/support/postfix.py). They listen on the
well-known ports (the command judges by port number), so these tests need root, like the
Postfix fixtures; they skip when a port cannot be bound.

The "filtered" port is a socket whose accept queue is full: it listens with a backlog of 0,
accepts nothing, and a test client fills the queue; Linux then drops further SYNs, so a connect
times out exactly like one to a port behind a dropping firewall.

Addresses: 127.0.18.1 a mail host (many ports), .2 a host whose port 25 speaks POP3, .3 nothing
listens (refused everywhere), .4 the filtered port, .5 a host whose port 119 greets with
terminal controls.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from mailprobe.cli.app import main
from mailprobe.schema import build_schema, validate_document

LAB = "127.0.18.1"
WRONG = "127.0.18.2"
NOTHING = "127.0.18.3"
FILTERED = "127.0.18.4"
HOSTILE = "127.0.18.5"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Listeners:
    """asyncio servers on one background loop; every wait bounded, all closed at teardown."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[asyncio.Server] = []

    def add(
        self, address: str, port: int, handler: Handler, tls: ssl.SSLContext | None = None
    ) -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await asyncio.wait_for(handler(reader, writer), 10)
            except (TimeoutError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.transport.abort()

        start = asyncio.start_server(serve, address, port, ssl=tls, reuse_address=True)
        try:
            server = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EADDRINUSE, errno.EPERM):
                pytest.skip(f"cannot listen on {address}:{port}: {exc.strerror}")
            raise
        self.servers.append(server)

    def close(self) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
            for server in self.servers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 5)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def greets(text: str) -> Handler:
    """Send ``text`` (a greeting line), then answer every line with ``+OK``-free silence until
    the client closes (bounded by the listener's 10 s)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(text.encode("utf-8") + b"\r\n")
        await writer.drain()
        await reader.read(1024)

    return handler


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1024)


async def http_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Says nothing first; answers a request (HEAD or GET) with a status line and headers."""
    request = await reader.readline()
    while (await reader.readline()).strip():
        pass
    if request.startswith((b"HEAD ", b"GET ")):
        writer.write(b"HTTP/1.0 200 OK\r\nServer: ports-test\r\n\r\n")
        await writer.drain()


async def smtps_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A minimal SMTP inside TLS: greeting, 250 to everything, 221 to QUIT."""
    writer.write(b"220 smtps.ports.test ESMTP\r\n")
    await writer.drain()
    while line := await reader.readline():
        if line.upper().startswith(b"QUIT"):
            writer.write(b"221 2.0.0 Bye\r\n")
            await writer.drain()
            return
        writer.write(b"250 ok\r\n")
        await writer.drain()


@pytest.fixture(scope="module")
def lab(server_cert: Any, smtp_peer_factory_module: Any) -> Iterator[Listeners]:
    tls = server_cert.server_context()
    listeners = Listeners()
    try:
        listeners.add(LAB, 110, greets("+OK POP3 server ready"))
        listeners.add(LAB, 143, greets("* OK [CAPABILITY IMAP4rev1] ready"))
        listeners.add(LAB, 993, greets("* OK [CAPABILITY IMAP4rev1] ready"), tls)
        listeners.add(LAB, 119, greets("200 news.ports.test NNTP service ready"))
        listeners.add(LAB, 80, http_server)
        listeners.add(LAB, 443, http_server, tls)
        listeners.add(LAB, 389, silent)
        listeners.add(LAB, 636, silent, tls)
        listeners.add(LAB, 465, smtps_server, tls)
        listeners.add(WRONG, 25, greets("+OK POP3 server ready"))
        listeners.add(HOSTILE, 119, greets("200 \x1b]0;owned\x07news \x1b[2Jready\u202e"))
        yield listeners
    finally:
        listeners.close()


@pytest.fixture(scope="module")
def smtp_peer_factory_module() -> Iterator[Any]:
    """SMTP on 127.0.18.1:587 without STARTTLS (an ``SmtpPeer``), for the whole module."""
    from tests.support.peers import PeerFactory

    factory = PeerFactory()
    try:
        factory.smtp(address=LAB, port=587, hostname="submit.ports.test")
    except OSError as exc:
        factory.close()
        pytest.skip(f"cannot listen on {LAB}:587: {exc}")
    yield factory
    factory.close()


@pytest.fixture
def filtered_port() -> Iterator[int]:
    """Port 3268 of 127.0.18.4: listening with a full accept queue, so SYNs are dropped."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    clients: list[socket.socket] = []
    try:
        try:
            server.bind((FILTERED, 3268))
        except OSError as exc:
            pytest.skip(f"cannot listen on {FILTERED}:3268: {exc.strerror}")
        server.listen(0)
        for _ in range(8):  # fill the queue: the connect that no longer completes ends it
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.settimeout(0.3)
            clients.append(client)
            try:
                client.connect((FILTERED, 3268))
            except OSError:
                break
        else:
            pytest.skip("the accept queue never filled: no way to drop SYNs here")
        yield 3268
    finally:
        for client in clients:
            client.close()
        server.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["--json", "ports", *args])
    captured = capsys.readouterr()
    assert captured.out, captured.err
    document = json.loads(captured.out)
    assert validate_document(document, build_schema()) == []
    assert document["exit_code"] == code
    return code, document


def by_port(document: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {r["port"]: r for r in document["results"]["results"]}


def codes(document: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in document["results"]["findings"]}


def test_mail_host_every_protocol_identified(
    lab: Listeners, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run(capsys, LAB, "--profile", "exchange", "--timeout", "3", "--greeting-wait", "1")
    ports = by_port(doc)
    assert ports[110]["service"] == "pop3" and ports[110]["state"] == "open"
    assert ports[110]["greeting"] == "+OK POP3 server ready"
    assert ports[110]["latency_ms"] is not None
    assert ports[143]["service"] == "imap"
    assert ports[993]["service"] == "imap"
    assert ports[993]["tls"]["version"].startswith("TLS")
    assert "trustme" in ports[993]["tls"]["subject"] or ports[993]["tls"]["subject"]
    assert ports[119]["service"] == "nntp"
    assert ports[80]["service"] == "http" and ports[80]["greeting"] == "HTTP/1.0 200 OK"
    assert ports[443]["service"] == "http" and ports[443]["tls"] is not None
    assert ports[389]["service"] == "silent"
    assert ports[389]["detail"] == "silent (LDAP/Global Catalog expected)"
    assert ports[636]["service"] == "silent" and ports[636]["tls"] is not None
    assert ports[465]["service"] == "smtp"
    assert ports[465]["greeting"] == "220 smtps.ports.test ESMTP"
    assert ports[465]["tls"]["version"].startswith("TLS")
    assert ports[587]["service"] == "smtp" and ports[587]["starttls"] is False
    for closed in (25, 995, 53, 3268):
        assert ports[closed]["state"] == "closed", closed
    found = codes(doc)
    assert found["ports.pop3-plain"] == "warn"  # 110 open, 995 closed
    assert found["ports.imap-plain"] == "info"  # 143 open, but 993 too
    assert found["ports.submission-no-starttls"] == "warn"
    assert found["ports.smtp-closed"] == "info"  # no --expect-mx
    assert "ports.unexpected-service" not in found
    assert code == 1


def test_text_output(lab: Listeners, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ports", LAB, "--profile", "mail", "--timeout", "3", "--greeting-wait", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "+OK POP3 server ready" in out
    assert "certificate:" in out
    assert "ports.pop3-plain" in out


def test_unexpected_service_on_port_25(lab: Listeners, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run(capsys, WRONG, "--ports", "25", "--timeout", "2")
    result = by_port(doc)[25]
    assert result["state"] == "open" and result["service"] == "pop3"
    assert result["greeting"] == "+OK POP3 server ready"
    assert codes(doc)["ports.unexpected-service"] == "warn"
    assert code == 1


def test_port_25_closed_on_an_mx_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run(capsys, NOTHING, "--ports", "25,587", "--expect-mx", "--timeout", "2")
    assert by_port(doc)[25]["state"] == "closed"
    assert codes(doc)["ports.smtp-closed"] == "fail"
    assert code == 1


def test_filtered_port_alone_is_incomplete(
    filtered_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run(capsys, FILTERED, "--ports", str(filtered_port), "--timeout", "0.5")
    assert by_port(doc)[filtered_port]["state"] == "filtered"
    assert doc["errors"] and "nothing answered" in doc["errors"][0]["message"]
    assert code == 3


def test_filtered_beside_a_refusing_port(
    filtered_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run(capsys, FILTERED, "--ports", f"{filtered_port},110", "--timeout", "0.5")
    assert by_port(doc)[110]["state"] == "closed"
    assert codes(doc)["ports.filtered"] == "info"
    assert codes(doc)["ports.none-open"] == "warn"  # nothing open: the host answers, no service
    assert code == 1


def test_silent_port_with_a_tiny_greeting_wait(
    lab: Listeners, capsys: pytest.CaptureFixture[str]
) -> None:
    # The timeout path of the greeting read: LDAP on 389 never speaks first.
    code, doc = run(capsys, LAB, "--ports", "389", "--greeting-wait", "0.05")
    assert by_port(doc)[389]["service"] == "silent"
    assert code == 0


def test_peer_text_is_shown_not_obeyed(lab: Listeners, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ports", HOSTILE, "--ports", "119", "--timeout", "2"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;owned\\x07news" in out
    assert code == 0
    code, doc = run(capsys, HOSTILE, "--ports", "119", "--timeout", "2")
    assert by_port(doc)[119]["greeting"].startswith("200 \x1b]0;owned")  # JSON keeps it exact


def test_real_postfix_speaks_smtp_with_starttls(
    postfix_tls: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run(capsys, postfix_tls.address, "--ports", str(postfix_tls.port))
    result = by_port(doc)[postfix_tls.port]
    assert result["service"] == "smtp" and result["greeting"].startswith("220 ")
    assert result["starttls"] is True
    assert code == 0


def test_real_postfix_without_tls(postfix_plain: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run(capsys, postfix_plain.address, "--ports", str(postfix_plain.port))
    result = by_port(doc)[postfix_plain.port]
    assert result["service"] == "smtp" and result["starttls"] is False
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ports", "0"], "outside 1-65535"),
        (["--ports", "70000"], "outside 1-65535"),
        (["--ports", "a"], "not a port number"),
        (["--ports", ""], "empty"),
        (["--ports", "25,,26"], "empty item"),
        (["--ports", "1-2000"], "more than 1024"),
        (["--ports", "1-600,1000-1600"], "more than 1024"),
        (["--ports", "30-20"], "backwards"),
        (["--ports", "25", "--profile", "mail"], "not both"),
        (["--profile", "nope"], "--profile"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["ports", NOTHING, *args])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


def test_bad_host_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ports", "a..b", "--ports", "25"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_smtp_on_another_port_is_read_by_the_engine(
    smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = smtp_peer_factory(address=LAB, hostname="odd.ports.test")
    code, doc = run(capsys, LAB, "--ports", str(peer.port), "--timeout", "3")
    result = by_port(doc)[peer.port]
    assert result["usual"] == "" and result["service"] == "smtp"
    assert result["greeting"] == "220 odd.ports.test ESMTP"
    assert result["starttls"] is False  # EHLO came from the SMTP engine's second connection
    peer.wait_idle()
    assert peer.connections == 2 and "EHLO" in peer.transcript.commands()
    assert code == 0
