"""`mailprobe ports` without the network: the port list parser, greeting classes, the rules."""

from __future__ import annotations

import asyncio
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.checks import ports
from mailprobe.checks.ports import PortResult, PortsOptions, judge, parse_ports
from mailprobe.errors import UsageError


def test_profiles() -> None:
    assert ports.PROFILES["mail"] == (25, 465, 587, 110, 995, 143, 993)
    table7 = {25, 53, 691, 389, 636, 379, 390, 3268, 3269, 143, 993, 110, 995, 119, 563, 80, 443}
    assert set(ports.PROFILES["exchange"]) == table7 | {587, 465}
    assert set(ports.PROFILES["all"]) == set(ports.KNOWN_PORTS)
    wrapped = {p.port for p in ports.KNOWN_PORTS.values() if p.tls}
    assert wrapped == {465, 993, 995, 636, 3269, 563, 443}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25", (25,)),
        ("587,25", (25, 587)),
        ("25, 25 ,26", (25, 26)),
        ("1000-1003,25", (25, 1000, 1001, 1002, 1003)),
        ("65535", (65535,)),
        ("1-1024", tuple(range(1, 1025))),
    ],
)
def test_parse_ports(text: str, expected: tuple[int, ...]) -> None:
    assert parse_ports(text) == expected


@pytest.mark.parametrize(
    "text", ["", " ", "0", "70000", "a", "25,", ",25", "25,,26", "1-1025", "30-20", "-5", "٣"]
)
def test_parse_ports_refuses(text: str) -> None:
    with pytest.raises(UsageError):
        parse_ports(text)


@given(st.text(max_size=30))
def test_parse_ports_only_returns_valid_ports_or_refuses(text: str) -> None:
    try:
        found = parse_ports(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert found and len(found) <= ports.MAX_PORTS
    assert all(1 <= port <= 65535 for port in found)
    assert list(found) == sorted(set(found))


@pytest.mark.parametrize(
    ("line", "service"),
    [
        ("+OK POP3 ready", "pop3"),
        ("-ERR go away", "pop3"),
        ("* OK IMAP4rev1", "imap"),
        ("* PREAUTH hi", "imap"),
        ("200 news", "nntp"),
        ("201 news, no posting", "nntp"),
        ("2000 nope", "unknown"),
        ("HTTP/1.1 400 Bad Request", "http"),
        ("220 mail ESMTP", "smtp"),
        ("SSH-2.0-OpenSSH_9.2", "unknown"),
    ],
)
def test_classify(line: str, service: str) -> None:
    assert ports._classify(line) == service


def _open(port: int, service: str, **more: object) -> PortResult:
    return PortResult(port, ports.KNOWN_PORTS[port].name, "open", 1.0, service, **more)  # type: ignore[arg-type]


def _closed(port: int) -> PortResult:
    return PortResult(port, ports.KNOWN_PORTS[port].name, "closed", None, "")


def _codes(results: list[PortResult], **opts: object) -> dict[str, str]:
    found = judge("h", results, PortsOptions(**opts))  # type: ignore[arg-type]
    return {f.code: f.severity.value for f in found}


def test_rules() -> None:
    assert _codes([_open(110, "pop3"), _closed(995)]) == {"ports.pop3-plain": "warn"}
    assert _codes([_open(110, "pop3"), _open(995, "pop3")]) == {"ports.pop3-plain": "info"}
    assert _codes([_open(110, "pop3")]) == {"ports.pop3-plain": "info"}  # 995 not probed
    assert _codes([_closed(25), _open(587, "smtp", starttls=True)]) == {"ports.smtp-closed": "info"}
    assert _codes([_closed(25), _open(587, "smtp")], expect_mx=True) == {
        "ports.smtp-closed": "fail"
    }
    assert _codes([_open(587, "smtp", starttls=False)]) == {"ports.submission-no-starttls": "warn"}
    assert _codes([_open(25, "pop3")]) == {"ports.unexpected-service": "warn"}
    assert _codes([_open(389, "smtp")]) == {"ports.unexpected-service": "warn"}
    assert _codes([_open(389, "silent")]) == {}
    assert _codes([_open(119, "silent")]) == {"ports.no-greeting": "warn"}
    assert _codes([_open(993, "unknown", message="TLS handshake failed: x")]) == {
        "ports.tls-failed": "warn"
    }
    filtered = PortResult(389, "LDAP", "filtered", None, "")
    assert _codes([filtered, _open(80, "http")]) == {"ports.filtered": "info"}
    assert _codes([filtered, _closed(80)]) == {"ports.filtered": "info", "ports.none-open": "warn"}


def test_unresolvable_host_is_incomplete(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_address(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_address)
    report = asyncio.run(ports.probe_host("mail.example.invalid", (25,), PortsOptions()))
    assert report.address is None and not report.results
    assert report.failures and "cannot resolve" in report.failures[0].message
    assert int(report.exit_code) == 3
