"""Smoke tests for the test-support fixtures (Postfix instances, scripted peers, certificates).

They speak SMTP with plain sockets or aiosmtplib, never with mailprobe, so a failure here points
at the fixtures, not at the product.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import aiosmtplib
import pytest

from tests.support import postfix as postfix_support
from tests.support.certs import ServerCert, TestCA
from tests.support.peers import (
    AUTH_PASSWORD,
    AUTH_USER,
    DROP,
    EXCHANGE2000_BANNER,
    EXCHANGE2000_EHLO,
    LONG_LINE_SIZE,
    PeerServer,
    Reply,
    SmtpCommand,
    SmtpPeer,
)
from tests.support.postfix import PostfixFactory, PostfixInstance

TIMEOUT = 10.0


class LineClient:
    """A tiny blocking SMTP client over a socket (bounded reads), for fixture smoke tests."""

    def __init__(self, address: str, port: int, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection((address, port), timeout=timeout)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def read_line(self) -> str | None:
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                # the server closed first (after a 421) and our next command drew a RST
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def read_reply(self) -> list[str]:
        """All lines of one reply; a reply cut short returns the lines seen so far."""
        lines: list[str] = []
        while (line := self.read_line()) is not None:
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        return lines

    def command(self, line: str) -> list[str]:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.read_reply()

    def at_eof(self) -> bool:
        """True when the server has closed the connection (bounded by the socket timeout)."""
        if self.buffer:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def run(coro):  # type: ignore[no-untyped-def]
    """Run a client coroutine, then let the loop finish closing its (TLS) transports: a TLS
    close completes a few loop iterations later, and a loop closed before that leaves an
    unclosed socket (a ResourceWarning, an error under filterwarnings=error)."""

    async def bounded():  # type: ignore[no-untyped-def]
        try:
            return await asyncio.wait_for(coro, TIMEOUT * 2)
        finally:
            await asyncio.sleep(0.2)

    return asyncio.run(bounded())


# ---------------------------------------------------------------------------------------------
# certificates


def test_ca_certificates_verify_and_fail_as_intended(
    test_ca: TestCA,
    server_cert: ServerCert,
    wrong_name_cert: ServerCert,
    self_signed_cert: ServerCert,
    peer_factory,  # type: ignore[no-untyped-def]
) -> None:
    for cert in (server_cert, wrong_name_cert, self_signed_cert):
        assert cert.cert_chain.read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert "PRIVATE KEY" in cert.key.read_text()
    assert test_ca.ca_pem.exists()
    assert "127.0.2.1" in server_cert.names and "mail.tls.test" in server_cert.names
    good = peer_factory.smtp(tls_context=server_cert.server_context())

    async def handshake(peer: SmtpPeer, context: ssl.SSLContext) -> str:
        client = aiosmtplib.SMTP(
            hostname=peer.address, port=peer.port, start_tls=False, tls_context=context
        )
        await client.connect()
        try:
            await client.starttls()
            return str(client.get_transport_info("sslcontext") is not None)
        finally:
            client.close()

    assert run(handshake(good, test_ca.client_context())) == "True"


# ---------------------------------------------------------------------------------------------
# Postfix


def test_postfix_factory_skips_when_postfix_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postfix_support, "POSTFIX", Path("/nonexistent/postfix"))
    with pytest.raises(pytest.skip.Exception, match="install the Debian package postfix"):
        PostfixFactory()("missing", "127.0.2.99")


@pytest.mark.postfix
def test_postfix_plain_banner_and_ehlo(postfix_plain: PostfixInstance) -> None:
    with LineClient(postfix_plain.address, postfix_plain.port) as client:
        assert client.read_reply() == ["220 mail.plain.test ESMTP Postfix"]
        ehlo = client.command("EHLO client.test")
        assert ehlo[0] == "250-mail.plain.test"
        assert "250-PIPELINING" in ehlo
        assert not any("STARTTLS" in line for line in ehlo)
        assert client.command("QUIT")[0].startswith("221")
    assert postfix_plain.wait_for_log("connect from")


@pytest.mark.postfix
def test_postfix_tls_starttls_then_sasl(postfix_tls: PostfixInstance, test_ca: TestCA) -> None:
    assert postfix_tls.sasl_user and postfix_tls.sasl_password
    logged_before = len(postfix_tls.maillog_text())  # the instance is shared by the session

    async def session(mechanism: str) -> None:
        client = aiosmtplib.SMTP(
            hostname=postfix_tls.address,
            port=postfix_tls.port,
            start_tls=False,
            tls_context=test_ca.client_context(),
            timeout=TIMEOUT,
        )
        await client.connect()
        try:
            await client.ehlo()
            assert client.supports_extension("starttls")
            assert not client.supports_extension("auth")  # smtpd_tls_auth_only = yes
            await client.starttls()
            await client.ehlo()
            offered = {method.upper() for method in client.server_auth_methods}
            assert offered == {"PLAIN", "LOGIN", "CRAM-MD5"}
            login = getattr(client, f"auth_{mechanism}")
            response = await login(postfix_tls.sasl_user, postfix_tls.sasl_password)
            assert response.code == 235
        finally:
            await client.quit()

    for mechanism in ("plain", "login", "crammd5"):
        run(session(mechanism))
    assert postfix_tls.wait_for_log(" auth=1 ", count=3, since=logged_before)
    log = postfix_tls.maillog_text()[logged_before:]
    assert "Anonymous TLS connection established" in log or "TLS connection established" in log
    assert log.count(" auth=1 ") == 3  # one successful AUTH per mechanism, nothing else


@pytest.mark.postfix
def test_postfix_tls_rejects_a_wrong_password(
    postfix_tls: PostfixInstance, test_ca: TestCA
) -> None:
    async def session() -> int:
        client = aiosmtplib.SMTP(
            hostname=postfix_tls.address,
            port=postfix_tls.port,
            start_tls=True,
            tls_context=test_ca.client_context(),
            timeout=TIMEOUT,
        )
        await client.connect()
        try:
            await client.auth_plain(postfix_tls.sasl_user or "", "wrong password")
        except aiosmtplib.SMTPAuthenticationError as exc:
            return exc.code
        finally:
            client.close()
        return 235

    assert run(session()) == 535


@pytest.mark.postfix
def test_postfix_closed_denies_relay_and_accepts_local(postfix_closed: PostfixInstance) -> None:
    with LineClient(postfix_closed.address, postfix_closed.port) as client:
        assert client.read_reply()[0].startswith("220 mail.closed.test")
        client.command("EHLO client.test")
        assert client.command("MAIL FROM:<antispam@example.net>")[0].startswith("250")
        denied = client.command("RCPT TO:<relaytest@example.net>")[0]
        assert denied.startswith(("454 4.7.1", "554 5.7.1")) and "Relay access denied" in denied
        assert client.command("RCPT TO:<postmaster@closed.test>")[0].startswith("250")
        client.command("QUIT")


@pytest.mark.postfix
def test_postfix_open_relays_at_rcpt_and_queues_nothing(postfix_open: PostfixInstance) -> None:
    before = postfix_open.accepted_count()  # the instance is shared by the session
    queued_before = postfix_open.queued_messages()
    with LineClient(postfix_open.address, postfix_open.port) as client:
        assert client.read_reply()[0].startswith("220 mail.open.test")
        client.command("EHLO client.test")
        assert client.command("MAIL FROM:<antispam@example.net>")[0].startswith("250")
        assert client.command("RCPT TO:<relaytest@example.org>")[0].startswith("250")
        assert client.command("RSET")[0].startswith("250")
        client.command("QUIT")
    assert postfix_open.queued_messages() == queued_before
    assert postfix_open.accepted_count() == before


@pytest.mark.postfix
def test_postfix_factory_holds_accepted_mail(postfix_factory: PostfixFactory) -> None:
    instance = postfix_factory("hold-check", "127.0.3.9", extra_main_cf={"mynetworks": "0.0.0.0/0"})
    try:
        with LineClient(instance.address, instance.port) as client:
            client.read_reply()
            client.command("HELO client.test")
            client.command("MAIL FROM:<antispam@example.net>")
            assert client.command("RCPT TO:<relaytest@example.org>")[0].startswith("250")
            assert client.command("DATA")[0].startswith("354")
            assert client.command("Subject: test\r\n\r\nbody\r\n.")[0].startswith("250")
            client.command("QUIT")
        # the message must sit on hold: it can never be delivered
        for _ in range(100):
            queued = instance.queued_messages()
            if queued:
                break
            asyncio.run(asyncio.sleep(0.05))
        assert [message["queue_name"] for message in queued] == ["hold"]
        assert instance.accepted_count() == 1
        assert instance.queue_files()
    finally:
        instance.stop()


# ---------------------------------------------------------------------------------------------
# ehlo peers


def test_exchange2000_peer_verbs_replies_and_auth_login(exchange2000_peer: SmtpPeer) -> None:
    peer = exchange2000_peer
    with LineClient(peer.address, peer.port) as client:
        assert client.read_reply() == [EXCHANGE2000_BANNER]
        ehlo = client.command("EHLO client.test")
        assert ehlo[0] == "250-mail1.example.com Hello [127.0.0.1]"
        assert [line[4:] for line in ehlo[1:]] == list(EXCHANGE2000_EHLO)
        assert client.command("MAIL FROM:<x@y.example>") == ["250 2.1.0 x@y.example....Sender OK"]
        assert client.command("AUTH LOGIN") == ["334 VXNlcm5hbWU6"]
        assert client.command(base64.b64encode(AUTH_USER.encode()).decode()) == ["334 UGFzc3dvcmQ6"]
        assert client.command(base64.b64encode(AUTH_PASSWORD.encode()).decode())[0][:3] == "235"
        client.command("QUIT")
    assert peer.wait_idle()
    assert peer.auth_attempts[0].password == AUTH_PASSWORD and peer.auth_attempts[0].success
    assert base64.b64encode(AUTH_PASSWORD.encode()).decode() in peer.transcript.received()
    assert not peer.transcript.saw_data()


def test_windows_smtp_peer_lacks_exchange_verbs(windows_smtp_peer: SmtpPeer) -> None:
    with LineClient(windows_smtp_peer.address, windows_smtp_peer.port) as client:
        client.read_reply()
        verbs = " ".join(client.command("EHLO client.test"))
    assert "TURN" in verbs and "CHUNKING" in verbs
    assert "X-EXPS" not in verbs and "X-LINK2STATE" not in verbs and "XEXCH50" not in verbs


def test_exchange_modern_peer_starttls(exchange_modern_peer: SmtpPeer, test_ca: TestCA) -> None:
    async def session() -> tuple[bool, bool]:
        client = aiosmtplib.SMTP(
            hostname=exchange_modern_peer.address,
            port=exchange_modern_peer.port,
            start_tls=False,
            tls_context=test_ca.client_context(),
            timeout=TIMEOUT,
        )
        await client.connect()
        await client.ehlo()
        before = client.supports_extension("x-anonymoustls") and client.supports_extension("xrdst")
        await client.starttls()
        await client.ehlo()
        after = not client.supports_extension("starttls")
        await client.quit()
        return before, after

    assert run(session()) == (True, True)
    assert "tls" in exchange_modern_peer.transcript.events()


@pytest.mark.parametrize("mechanism", ["plain", "login", "crammd5"])
def test_auth_peer_mechanisms(auth_peer: SmtpPeer, mechanism: str) -> None:
    async def session(password: str) -> int:
        client = aiosmtplib.SMTP(
            hostname=auth_peer.address, port=auth_peer.port, start_tls=False, timeout=TIMEOUT
        )
        await client.connect()
        try:
            response = await getattr(client, f"auth_{mechanism}")(AUTH_USER, password)
            return response.code
        except aiosmtplib.SMTPAuthenticationError as exc:
            return exc.code
        finally:
            client.close()

    assert run(session(AUTH_PASSWORD)) == 235
    assert run(session("wrong")) == 535
    assert auth_peer.wait_idle()
    attempts = auth_peer.auth_attempts
    assert [(a.username, a.success) for a in attempts] == [(AUTH_USER, True), (AUTH_USER, False)]
    if mechanism != "crammd5":
        assert attempts[0].password == AUTH_PASSWORD


def test_starttls_peer_offers_auth_only_after_tls(starttls_peer: SmtpPeer, test_ca: TestCA) -> None:
    async def session() -> tuple[bool, bool, int]:
        client = aiosmtplib.SMTP(
            hostname=starttls_peer.address,
            port=starttls_peer.port,
            start_tls=False,
            tls_context=test_ca.client_context(),
            timeout=TIMEOUT,
        )
        await client.connect()
        await client.ehlo()
        before = client.supports_extension("auth")
        await client.starttls()
        await client.ehlo()
        after = client.supports_extension("auth")
        code = (await client.auth_plain(AUTH_USER, AUTH_PASSWORD)).code
        await client.quit()
        return before, after, code

    assert run(session()) == (False, True, 235)


@pytest.mark.parametrize("which", ["starttls_untrusted_peer", "starttls_wrong_name_peer"])
def test_bad_certificate_peers_fail_verification(
    which: str, request: pytest.FixtureRequest, test_ca: TestCA
) -> None:
    peer: SmtpPeer = request.getfixturevalue(which)

    async def session() -> None:
        client = aiosmtplib.SMTP(
            hostname=peer.address,
            port=peer.port,
            start_tls=False,
            tls_context=test_ca.client_context(),
            timeout=TIMEOUT,
        )
        await client.connect()
        try:
            await client.starttls()
        finally:
            client.close()

    with pytest.raises((aiosmtplib.SMTPException, ssl.SSLError, ConnectionError)):
        run(session())
    assert peer.wait_idle()
    assert any(event.startswith("tls-failed") for event in peer.transcript.events())


def test_multiline_banner_peer(multiline_banner_peer: SmtpPeer) -> None:
    with LineClient(multiline_banner_peer.address, multiline_banner_peer.port) as client:
        banner = client.read_reply()
    assert len(banner) == 3 and banner[0].startswith("220-") and banner[-1].startswith("220 ")


def test_ehlo_refusing_peer_accepts_helo(ehlo_refusing_peer: SmtpPeer) -> None:
    with LineClient(ehlo_refusing_peer.address, ehlo_refusing_peer.port) as client:
        client.read_reply()
        assert client.command("EHLO client.test")[0].startswith("500")
        assert client.command("HELO client.test") == ["250 mail.test.example"]


def test_helo_refusing_peer_refuses_both(helo_refusing_peer: SmtpPeer) -> None:
    with LineClient(helo_refusing_peer.address, helo_refusing_peer.port) as client:
        client.read_reply()
        assert client.command("EHLO client.test")[0].startswith("500")
        assert client.command("HELO client.test")[0].startswith("550")


def test_tarpit_peer_sends_no_banner(tarpit_peer: PeerServer) -> None:
    client = LineClient(tarpit_peer.address, tarpit_peer.port, timeout=0.5)
    with client, pytest.raises(TimeoutError):
        client.read_line()
    assert tarpit_peer.wait_idle()
    assert tarpit_peer.transcript.sent() == []
    assert tarpit_peer.connections == 1


def test_garbage_peers(garbage_peer: PeerServer, request: pytest.FixtureRequest) -> None:
    kind = request.node.callspec.params["garbage_peer"]
    with LineClient(garbage_peer.address, garbage_peer.port, timeout=2.0) as client:
        if kind == "long-line":
            received = b""
            while len(received) < LONG_LINE_SIZE:
                received += client.sock.recv(65536)
            assert b"\n" not in received
        elif kind == "binary":
            assert b"\x00" in client.sock.recv(4096)
        else:
            line = client.read_line()
            assert line is not None and not line[:3].isdigit()
            assert not client.command("EHLO client.test")[0][:3].isdigit()


def test_banner_421_peer_closes(banner_421_peer: SmtpPeer) -> None:
    with LineClient(banner_421_peer.address, banner_421_peer.port) as client:
        assert client.read_reply()[0].startswith("421 4.3.2")
        assert client.at_eof()


def test_banner_554_peer(banner_554_peer: SmtpPeer) -> None:
    with LineClient(banner_554_peer.address, banner_554_peer.port) as client:
        assert client.read_reply()[0].startswith("554 5.7.1")
        assert client.command("EHLO client.test")[0].startswith("503")
        assert client.command("QUIT")[0].startswith("221")


def test_drop_mid_ehlo_peer(drop_mid_ehlo_peer: PeerServer) -> None:
    with LineClient(drop_mid_ehlo_peer.address, drop_mid_ehlo_peer.port) as client:
        client.read_reply()
        reply = client.command("EHLO client.test")
        assert reply and all(line.startswith("250-") for line in reply)
        assert client.at_eof()


def test_slow_banner_peer(slow_banner_peer_factory: Callable[[float], SmtpPeer]) -> None:
    peer = slow_banner_peer_factory(1.0)
    with LineClient(peer.address, peer.port, timeout=0.1) as client:
        with pytest.raises(TimeoutError):
            client.read_line()
        client.sock.settimeout(TIMEOUT)
        assert client.read_reply()[0].startswith("220")


# ---------------------------------------------------------------------------------------------
# relay peers


def relay_attempt(peer: SmtpPeer, recipient: str, sender: str = "antispam@example.net") -> str:
    with LineClient(peer.address, peer.port) as client:
        client.read_reply()
        client.command("EHLO client.test")
        client.command(f"MAIL FROM:<{sender}>")
        reply = client.command(f"RCPT TO:<{recipient}>")[0]
        client.command("QUIT")
        return reply


def test_percent_hack_peer(percent_hack_peer: SmtpPeer) -> None:
    assert relay_attempt(percent_hack_peer, "relaytest%example.net@relay.test").startswith("250")
    assert relay_attempt(percent_hack_peer, "relaytest%example.net@[127.0.3.10]")[:3] == "250"
    assert relay_attempt(percent_hack_peer, "relaytest@example.net").startswith("554 5.7.1")
    assert relay_attempt(percent_hack_peer, '"relaytest@example.net"').startswith("554")


def test_exchange_relay_denied_peer(exchange_relay_denied_peer: SmtpPeer) -> None:
    peer = exchange_relay_denied_peer
    with LineClient(peer.address, peer.port) as client:
        client.read_reply()
        client.command("EHLO client.test")
        mail = client.command("MAIL FROM:<antispam@example.net>")
        assert mail == ["250 2.1.0 antispam@example.net....Sender OK"]
        rcpt = client.command("RCPT TO:<relaytest@example.net>")
        assert rcpt == ["550 5.7.1 Unable to relay for relaytest@example.net"]


def test_reject_at_data_peer(reject_at_data_peer: SmtpPeer) -> None:
    peer = reject_at_data_peer
    with LineClient(peer.address, peer.port) as client:
        client.read_reply()
        client.command("EHLO client.test")
        client.command("MAIL FROM:<antispam@example.net>")
        assert client.command("RCPT TO:<relaytest@example.net>")[0].startswith("250")
        assert client.command("DATA")[0].startswith("550")
    assert peer.wait_idle()
    assert peer.transcript.saw_data()
    assert peer.messages == []


def test_drop_after_rejections_peer(drop_after_rejections_peer: SmtpPeer) -> None:
    peer = drop_after_rejections_peer
    with LineClient(peer.address, peer.port) as client:
        client.read_reply()
        client.command("EHLO client.test")
        client.command("MAIL FROM:<antispam@example.net>")
        for n in range(3):
            assert client.command(f"RCPT TO:<relaytest{n}@example.net>")[0].startswith("554")
        assert client.command("RCPT TO:<relaytest@example.net>") == []
        assert client.at_eof()


def test_mid_battery_421_peer(mid_battery_421_peer: SmtpPeer) -> None:
    peer = mid_battery_421_peer
    with LineClient(peer.address, peer.port) as client:
        client.read_reply()
        replies = [client.command(c)[0][:3] for c in ("EHLO a", "RSET", "NOOP", "RSET", "NOOP")]
        assert replies == ["250"] * 5
        assert client.command("RSET")[0].startswith("421")
        assert client.at_eof()


def test_generic_peer_rules_count_and_record(
    smtp_peer_factory: Callable[..., SmtpPeer],
) -> None:
    def rcpt(cmd: SmtpCommand) -> str | Reply | None:
        if cmd.address == "drop@example.net":
            return Reply.of("421 4.3.0 going away", close=True)
        return f"550 5.1.1 <{cmd.address}> no (connection {cmd.connection})"

    peer = smtp_peer_factory(
        address="127.0.3.11",
        rules={"RCPT": rcpt, "VRFY": "252 2.0.0 maybe", "EXPN": lambda cmd: DROP},
    )
    assert relay_attempt(peer, "a@example.net") == "550 5.1.1 <a@example.net> no (connection 1)"
    assert relay_attempt(peer, "drop@example.net").startswith("421")
    with LineClient(peer.address, peer.port) as client:
        client.read_reply()
        assert client.command("VRFY root") == ["252 2.0.0 maybe"]
        assert client.command("EXPN staff") == []
    assert peer.wait_idle()
    assert peer.connections == 3 == peer.transcript.connections()
    assert "RCPT TO:<a@example.net>" in peer.transcript.received(connection=1)
    assert peer.transcript.commands(connection=1) == ["EHLO", "MAIL", "RCPT", "QUIT"]
    assert not peer.transcript.saw_data()


def test_aiosmtpd_peer_receives_a_message(aiosmtpd_peer) -> None:  # type: ignore[no-untyped-def]
    async def send() -> None:
        client = aiosmtplib.SMTP(
            hostname=aiosmtpd_peer.address, port=aiosmtpd_peer.port, start_tls=False
        )
        await client.connect()
        await client.sendmail("a@example.net", ["b@example.org"], "Subject: t\r\n\r\n.dot\r\n")
        await client.quit()

    run(send())
    assert aiosmtpd_peer.wait_idle()
    [envelope] = aiosmtpd_peer.messages
    assert envelope.rcpt_tos == ["b@example.org"]
    assert b"\r\n.dot" in envelope.content  # dot-unstuffed by aiosmtpd
    assert aiosmtpd_peer.connections == 1
    assert "DATA" in "".join(aiosmtpd_peer.transcript.received())


def test_aiosmtpd_peer_custom_ehlo_and_auth(peer_factory) -> None:  # type: ignore[no-untyped-def]
    peer = peer_factory.aiosmtpd(ehlo=["SIZE 1000", "AUTH LOGIN PLAIN"], auth_users={"u": "p"})

    async def login() -> tuple[list[str], int]:
        client = aiosmtplib.SMTP(hostname=peer.address, port=peer.port, start_tls=False)
        await client.connect()
        await client.ehlo()
        extensions = sorted(client.esmtp_extensions)
        code = (await client.auth_plain("u", "p")).code
        await client.quit()
        return extensions, code

    extensions, code = run(login())
    assert extensions == ["auth", "size"] and code == 235
    assert [(a.username, a.password, a.success) for a in peer.auth_attempts] == [("u", "p", True)]


def test_generic_peer_tracks_state_through_rule_replies(
    smtp_peer_factory: Callable[..., SmtpPeer],
) -> None:
    peer = smtp_peer_factory(
        rules={"MAIL": "250 2.1.0 Sender OK", "RCPT": "251 2.1.5 will forward"}
    )
    with LineClient(peer.address, peer.port) as client:
        client.read_reply()
        client.command("HELO client.test")
        client.command("MAIL FROM:<a@example.net>")
        assert client.command("RCPT TO:<b@example.org>") == ["251 2.1.5 will forward"]
        assert client.command("DATA")[0].startswith("354")
        assert client.command("Subject: x\r\n\r\nbody\r\n.")[0].startswith("250")
        client.command("QUIT")
    assert peer.wait_idle()
    assert peer.messages == [b"Subject: x\r\n\r\nbody\r\n"]
    assert peer.transcript.saw_data()
