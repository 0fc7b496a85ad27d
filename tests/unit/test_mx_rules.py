"""Pure rules of the mx check: address scopes, banner parsing and cleaning, comparison."""

from __future__ import annotations

import asyncio
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.checks.mx import (
    Exchanger,
    ExchangerAddress,
    ServerView,
    _compare,
    address_scope,
    clean_banner,
    parse_banner,
    probe_banner,
)


@pytest.mark.parametrize(
    ("address", "scope"),
    [
        ("8.8.8.8", "public"),
        ("2a00:1450::1", "public"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("fd00::1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared"),
        ("192.0.2.1", "documentation"),
        ("2001:db8::1", "documentation"),
        ("240.0.0.1", "reserved"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:8.8.8.8", "ipv4-mapped"),
    ],
)
def test_address_scope(address: str, scope: str) -> None:
    assert address_scope(address) == scope


def test_parse_banner() -> None:
    code, text, host = parse_banner(["220 mail.example.org ESMTP Postfix"])
    assert (code, host) == (220, "mail.example.org")
    assert text == "mail.example.org ESMTP Postfix"
    code, text, host = parse_banner(["220-MX.Example.ORG. hello", "220 more"])
    assert (code, host, text) == (220, "mx.example.org", "MX.Example.ORG. hello | more")
    assert parse_banner(["554 no service"])[0] == 554
    assert parse_banner(["garbage"]) == (None, "garbage", None)
    assert parse_banner([]) == (None, "", None)


@given(st.lists(st.text(max_size=300), max_size=5))
def test_parse_banner_any_text(lines: list[str]) -> None:
    _code, text, host = parse_banner(lines)
    assert len(text) <= 200 and text.isprintable()
    assert host is None or host.isprintable() or host == ""


@given(st.text(max_size=500))
def test_clean_banner(text: str) -> None:
    cleaned = clean_banner(text)
    assert cleaned.isprintable() and len(cleaned) <= 200 and "\n" not in cleaned


def _view(server: str, host: str, address: str, pref: int = 10) -> ServerView:
    exchanger = Exchanger(pref, host, host, addresses=(ExchangerAddress(address, 4, "public"),))
    return ServerView(server=server, server_name=None, mx_status="ok", exchangers=(exchanger,))


def test_compare_views() -> None:
    same = _compare([_view("a", "mx.example", "11.0.0.1"), _view("b", "mx.example", "11.0.0.1")])
    assert same == []
    addr = _compare([_view("a", "mx.example", "11.0.0.1"), _view("b", "mx.example", "10.0.0.1")])
    assert addr == ["mx.example is 11.0.0.1 at a but 10.0.0.1 at b"]
    hosts = _compare([_view("a", "mx1.example", "11.0.0.1"), _view("b", "mx2.example", "11.0.0.1")])
    assert hosts == [
        "mx1.example is an exchanger at a only",
        "mx2.example is an exchanger at b only",
    ]
    pref = _compare([_view("a", "mx.example", "1.1.1.1"), _view("b", "mx.example", "1.1.1.1", 20)])
    assert pref == ["mx.example has preference 10 at a but 20 at b"]


# --- probe_banner against real sockets on 127.0.1.x ------------------------------------------


async def _serve(handler, address: str):
    server = await asyncio.start_server(handler, address, 0)
    return server, server.sockets[0].getsockname()[1]


def test_probe_banner_multiline() -> None:
    async def greet(reader, writer):
        try:
            writer.write(b"220-smtp.example ESMTP\r\n220 ready\r\n")
            await writer.drain()
            await asyncio.wait_for(reader.readline(), 2)  # QUIT
        finally:
            writer.close()

    async def scenario():
        server, port = await _serve(greet, "127.0.1.40")
        async with server:
            return await probe_banner("127.0.1.40", port, 2)

    probe = asyncio.run(scenario())
    assert probe.status == "banner" and probe.banner_code == 220
    assert probe.banner_host == "smtp.example" and probe.banner == "smtp.example ESMTP | ready"


def test_probe_banner_rejected_and_closed() -> None:
    async def reject(reader, writer):
        writer.write(b"554 go away\r\n")
        await writer.drain()
        writer.close()

    async def hang_up(reader, writer):
        writer.close()

    async def scenario():
        s1, p1 = await _serve(reject, "127.0.1.41")
        s2, p2 = await _serve(hang_up, "127.0.1.41")
        async with s1, s2:
            return await probe_banner("127.0.1.41", p1, 2), await probe_banner("127.0.1.41", p2, 2)

    rejected, closed = asyncio.run(scenario())
    assert rejected.status == "rejected" and rejected.banner_code == 554
    assert closed.status == "no-banner" and "closed" in closed.message


def test_probe_banner_silent_and_refused() -> None:
    async def silent(reader, writer):
        try:
            await asyncio.wait_for(reader.read(), 5)  # until the client closes
        finally:
            writer.close()

    async def scenario():
        server, port = await _serve(silent, "127.0.1.42")
        with socket.socket() as sock:
            sock.bind(("127.0.1.42", 0))
            closed_port = sock.getsockname()[1]
        async with server:
            return (
                await probe_banner("127.0.1.42", port, 0.3),
                await probe_banner("127.0.1.42", closed_port, 1),
            )

    quiet, refused = asyncio.run(scenario())
    assert quiet.status == "no-banner" and "0.3 s" in quiet.message
    assert refused.status == "refused"


def test_banner_code_is_ascii_digits_only() -> None:
    """'²' is a digit to str.isdigit but not to int(): not a reply code, and no crash."""
    from mailprobe.checks.mx import parse_banner
    from mailprobe.text import is_digits

    assert parse_banner(["²²² hello"])[0] is None
    assert parse_banner(["220 mx.example ESMTP"])[0] == 220
    assert not is_digits("²") and not is_digits("٣") and not is_digits("") and is_digits("25")
