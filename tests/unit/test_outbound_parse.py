"""The typer-free parsers of `mailprobe outbound`: --smarthost, --other-ports, --to-domain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.checks.outbound import outbound_address
from mailprobe.cli.outbound import DEFAULT_DOMAIN, _domain, _ports, _smarthost
from mailprobe.errors import UsageError


@pytest.mark.parametrize(
    ("text", "implicit", "expected"),
    [
        ("relay.example", False, ("relay.example", 587)),
        ("relay.example", True, ("relay.example", 465)),
        ("relay.example:2525", False, ("relay.example", 2525)),
        ("Relay.Example.:25", True, ("Relay.Example", 25)),
        ("192.0.2.1:587", False, ("192.0.2.1", 587)),
        ("[2001:db8::1]:465", True, ("2001:db8::1", 465)),
        ("2001:db8::1", False, ("2001:db8::1", 587)),
        ("[::1]", False, ("::1", 587)),
    ],
)
def test_smarthost_forms(text: str, implicit: bool, expected: tuple[str, int]) -> None:
    assert _smarthost(text, implicit) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "a b",
        "relay:0",
        "relay:65536",
        "relay:x",
        "relay:",
        "[::1",
        "[::1]x",
        "a..b",
        "r\n",
    ],
)
def test_bad_smarthost_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        _smarthost(text, False)


def test_other_ports() -> None:
    assert _ports(None) == (587, 443)
    assert _ports("none") == ()
    assert _ports(" 465 , 587,465") == (465, 587)
    for bad in ("", "0", "70000", "a", "1,,2", "٣", "1\n"):
        with pytest.raises(UsageError):
            _ports(bad)


def test_to_domain() -> None:
    assert _domain(None) == DEFAULT_DOMAIN
    assert _domain("Bücher.example") == "xn--bcher-kva.example"
    for bad in ("", " ", "a\x00b", "a..b"):
        with pytest.raises(UsageError):
            _domain(bad)


@given(st.text(max_size=40))
def test_smarthost_parser_never_crashes(text: str) -> None:
    try:
        host, port = _smarthost(text, False)
    except UsageError:
        return
    assert host and 1 <= port <= 65535


def test_outbound_address_sends_nothing_and_finds_loopback() -> None:
    assert outbound_address("127.0.19.1") == "127.0.0.1"
