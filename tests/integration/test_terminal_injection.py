"""Peer text never reaches the terminal or the HTML report raw, and is never read as markup.

A scripted SMTP peer (127.0.7.10) whose banner and replies, and a DNS server (127.0.7.53) whose
TXT records (SPF, DMARC, MTA-STS, TLS-RPT, DKIM) and PTR name, carry an OSC 52 clipboard write
(``ESC ] 52 ; c ; ... BEL``), a screen clear (``ESC [ 2 J``), a CR overwrite, a bidi override
(U+202E) and rich markup (``[bold]x[/bold]``, ``[link=...]``). The commands run in-process (the
output is captured, not a terminal, so rich emits no style sequences of its own: any ESC in the
output would come from a peer). JSON keeps the exact text, escaped by the JSON encoder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.dnsserver import DnsServerHandle
from tests.support.peers import PeerConnection, PeerFactory, PeerServer

PEER_ADDRESS = "127.0.7.10"
DNS_ADDRESS = "127.0.7.53"
DOMAIN = "inject.test"
MX_HOST = f"mx.{DOMAIN}"
HELO = "probe.mailprobe.test"
SELECTOR = "sel"

OSC52 = "\x1b]52;c;ZXZpbA==\x07"
CLEAR = "\x1b[2J"
MARKUP = "[bold]x[/bold] [link=http://evil.test/]click[/link]"
#: The hostile text every peer string carries.
EVIL = f"{OSC52} {CLEAR} over\rwrite \u202eright-to-left {MARKUP}"
#: Never in terminal, stderr or HTML output: ESC, BEL, CR, other C0/C1 controls, bidi controls.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

SPF = f"v=spf1 {EVIL} -all"
DMARC = f"v=DMARC1; p=reject; {EVIL}"
STS = f"v=STSv1; id={EVIL}"
TLSRPT = f"v=TLSRPTv1; rua=mailto:{EVIL}"
DKIM = f"v=DKIM1; k=rsa; p={EVIL}"
RECORDS = (SPF, DMARC, STS, TLSRPT, DKIM)


def zone_text(text: str) -> str:
    """``text`` as a quoted zone-file string: bytes outside printable ASCII as ``\\DDD``."""
    return "".join(
        f"\\{byte:03d}" if byte < 32 or byte > 126 or chr(byte) in '"\\' else chr(byte)
        for byte in text.encode()
    )


async def hostile_smtp(conn: PeerConnection) -> None:
    """Every line it sends carries ``EVIL``; refuses recipients, so nothing is ever relayed."""
    await conn.send_lines([f"220 {MX_HOST} ESMTP {EVIL}"])
    while (line := await conn.readline()) is not None:
        verb = line.split(" ", 1)[0].upper()
        if verb == "EHLO":
            await conn.send_lines([f"250-{MX_HOST} {EVIL}", "250-PIPELINING", "250 8BITMIME"])
        elif verb == "MAIL" or verb in ("RSET", "NOOP", "HELO"):
            await conn.send_lines([f"250 2.0.0 {EVIL}"])
        elif verb == "QUIT":
            await conn.send_lines([f"221 2.0.0 {EVIL}"])
            return
        else:
            await conn.send_lines([f"554 5.7.1 {EVIL}"])


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MAILPROBE_CONFIG", "MAILPROBE_DNS_SERVER", "MAILPROBE_TIMEOUT", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def dns(dns_server: Callable[..., DnsServerHandle]) -> DnsServerHandle:
    zone = "\n".join(
        [
            f"@ MX 10 {MX_HOST}.",
            f"mx A {PEER_ADDRESS}",
            f'@ TXT "{zone_text(SPF)}"',
            f'_dmarc TXT "{zone_text(DMARC)}"',
            f'_mta-sts TXT "{zone_text(STS)}"',
            f'_smtp._tls TXT "{zone_text(TLSRPT)}"',
            f'{SELECTOR}._domainkey TXT "{zone_text(DKIM)}"',
        ]
    )
    # a PTR name with an ESC and a bidi override in its first label
    reverse = f"10 PTR {zone_text('mx' + CLEAR + chr(0x202E))}.{DOMAIN}.\n"
    return dns_server({DOMAIN: zone + "\n", "7.0.127.in-addr.arpa": reverse}, address=DNS_ADDRESS)


@pytest.fixture
def peer(peer_factory: PeerFactory) -> PeerServer:
    return peer_factory.raw(hostile_smtp, PEER_ADDRESS, name="inject")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err
    return code, out, err


def assert_no_raw_controls(text: str) -> None:
    found = sorted({f"U+{ord(ch):04X}" for ch in FORBIDDEN.findall(text)})
    assert not found, f"raw control characters in the output: {found}"


def check_args(peer: PeerServer, dns: DnsServerHandle, *extra: str) -> list[str]:
    return [
        "check",
        DOMAIN,
        "--server",
        dns.spec,
        "--smtp-port",
        str(peer.port),
        "--allow-private",
        "--helo",
        HELO,
        "--timeout",
        "2",
        "--dkim-selector",
        SELECTOR,
        *extra,
    ]


def strings_in(document: Any) -> list[str]:
    if isinstance(document, str):
        return [document]
    if isinstance(document, dict):
        return [s for value in document.values() for s in strings_in(value)]
    if isinstance(document, list):
        return [s for value in document for s in strings_in(value)]
    return []


def test_mx_connect_shows_scope_and_no_raw_peer_text(
    capsys: pytest.CaptureFixture[str], peer: PeerServer, dns: DnsServerHandle
) -> None:
    code, out, err = run(
        capsys,
        "mx",
        DOMAIN,
        "--server",
        dns.spec,
        "--connect",
        "--smtp-port",
        str(peer.port),
        "--timeout",
        "2",
    )
    assert code in (0, 1)
    assert_no_raw_controls(out + err)
    assert f"internet address = {PEER_ADDRESS} [loopback]" in out  # mailprobe's own label
    assert "greeting: " in out and MARKUP in out  # the banner's markup, printed literally


def test_check_text_and_html_show_controls_visibly(
    capsys: pytest.CaptureFixture[str], peer: PeerServer, dns: DnsServerHandle, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    code, out, err = run(capsys, *check_args(peer, dns, "-v", "--html", str(report)))
    assert code in (1, 3)
    assert_no_raw_controls(out + err)
    visible = "\\x1b]52;c;ZXZpbA==\\x07 \\x1b[2J over\\rwrite \\u202eright-to-left"
    for label in ("SPF", "DMARC", "MTA-STS", "TLS-RPT", "DKIM"):
        line = next(line for line in out.splitlines() if line.strip().startswith(label))
        assert visible in line and MARKUP in line, line
    assert f"{PEER_ADDRESS} [loopback]" in out
    assert "S: 220 " in out and MARKUP in out  # the transcript (-v) keeps the markup literal

    html = report.read_text(encoding="utf-8")
    assert_no_raw_controls(html.replace("\n", ""))
    assert visible in html
    assert "[bold]x[/bold]" in html and "<script" not in html


def test_check_json_keeps_the_exact_text(
    capsys: pytest.CaptureFixture[str], peer: PeerServer, dns: DnsServerHandle
) -> None:
    code, out, err = run(capsys, *check_args(peer, dns, "--json"))
    assert code in (1, 3)
    assert_no_raw_controls(out.replace("\n", "") + err)  # escaped by the encoder: \u001b, \u202e
    strings = strings_in(json.loads(out))
    for record in RECORDS:
        assert record in strings, record


def test_ehlo_and_relay_test_print_no_raw_peer_text(
    capsys: pytest.CaptureFixture[str], peer: PeerServer, dns: DnsServerHandle, tmp_path: Path
) -> None:
    transcript = tmp_path / "ehlo.txt"
    common = ["--helo", HELO, "--timeout", "2"]
    code, out, err = run(
        capsys,
        "ehlo",
        PEER_ADDRESS,
        "--port",
        str(peer.port),
        "--transcript",
        str(transcript),
        *common,
    )
    assert code != 0
    assert_no_raw_controls(out + err + transcript.read_text(encoding="utf-8").replace("\n", ""))
    assert "banner" in out and MARKUP in out

    code, out, err = run(
        capsys,
        "relay-test",
        PEER_ADDRESS,
        "--port",
        str(peer.port),
        "--domain",
        DOMAIN,
        "--dns-server",
        dns.spec,
        "-vv",
        *common,
    )
    assert_no_raw_controls(out + err)
    assert "Verdict:" in out and MARKUP in out


def test_ndr_bounce_shows_controls_visibly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bounce = tmp_path / "bounce.txt"
    bounce.write_text(
        f"Subject: Undelivered Mail {CLEAR}\n\n"
        f"<bob@example.com>: host mx1.example.com[192.0.2.25] said: 550 5.1.1\n"
        f"    <bob@example.com>: User unknown {OSC52} \u202eevil {MARKUP}\n"
        f"    (in reply to RCPT TO command)\n",
        encoding="utf-8",
    )
    for extra in ((), ("--no-color",)):
        code, out, err = run(capsys, "ndr", "--file", str(bounce), *extra)
        assert code == 0
        assert_no_raw_controls(out + err)
        assert MARKUP in out
