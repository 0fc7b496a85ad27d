"""Hostile SMTP peers against `relay-test`, `check` and `mx --connect`.

The project standard: a silent tarpit, garbage bytes, a 100 kB line, a connection dropped in the
middle of a reply, a 421/554 greeting or a server that goes silent half-way must not hang or
crash the tool. Every run must end through its own timeouts (no test measures wall time), exit
with the documented code, name the failed step in one stderr line per failure, print no
traceback, and print a valid JSON envelope with ``--json``. pytest turns warnings into errors,
so a leaked socket (ResourceWarning) fails the test too.

Everything listens on 127.0.8.x: the peers on 127.0.8.10 (free ports), the DNS server on
127.0.8.53, whose zone ``hostile.test`` has one exchanger ``mx.hostile.test`` -> 127.0.8.10
(with a matching PTR). `ehlo` has the same tests in test_cli_ehlo_errors.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.dnsserver import DnsServerHandle
from tests.support.peers import (
    PeerConnection,
    PeerFactory,
    PeerServer,
    drop_mid_reply_handler,
    garbage_handler,
    tarpit_handler,
)

PEER_ADDRESS = "127.0.8.10"
DNS_ADDRESS = "127.0.8.53"
DOMAIN = "hostile.test"
MX_HOST = f"mx.{DOMAIN}"
HELO = "probe.mailprobe.test"
#: Commands a mid-battery peer answers on each connection before it goes silent: EHLO, then
#: MAIL/RCPT/RSET of the first variant and MAIL of the second (relay-test), or EHLO and
#: MAIL FROM:<> and nothing to RCPT TO:<postmaster> (check's SMTP step: 2 answers).
SILENT_AFTER_RELAY = 5
SILENT_AFTER_CHECK = 2


# -- peers --------------------------------------------------------------------------------------


def silent_after_handler(
    answered: int, per_connection: bool = True
) -> Callable[[PeerConnection], Any]:
    """A Postfix-like peer (RCPT refused with 554) that answers ``answered`` commands, then reads
    on without ever replying until the client leaves. ``per_connection``: every connection
    answers its first ``answered`` commands; else the count is across connections, and once it
    is used up the server is silent for good (new connections get no banner either)."""
    total = 0

    async def handler(conn: PeerConnection) -> None:
        nonlocal total
        if not per_connection and total >= answered:
            await conn.hold()
            return
        await conn.send_lines([f"220 {MX_HOST} ESMTP"])
        count = 0
        while (line := await conn.readline()) is not None:
            count += 1
            total += 1  # one event loop serves every connection of the peer: no lock needed
            if (count if per_connection else total) > answered:
                await conn.hold()
                return
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                await conn.send_lines([f"250-{MX_HOST}", "250-PIPELINING", "250 8BITMIME"])
            elif verb == "RCPT":
                await conn.send_lines(["554 5.7.1 Relay access denied"])
            elif verb == "QUIT":
                await conn.send_lines(["221 2.0.0 Bye"])
                return
            else:
                await conn.send_lines(["250 2.0.0 Ok"])

    return handler


def garbage_reply_handler(verb: str, kind: str) -> Callable[[PeerConnection], Any]:
    """A normal greeting, then garbage as the reply to ``verb``: ``long-line`` (100 kB without
    newline, then silence) or ``no-code`` (a text line without a reply code; the peer goes on)."""

    async def handler(conn: PeerConnection) -> None:
        await conn.send_lines([f"220 {MX_HOST} ESMTP"])
        while (line := await conn.readline()) is not None:
            word = line.split(" ", 1)[0].upper()
            if word == verb and kind == "long-line":
                await conn.send(b"250-" + b"A" * 100 * 1024)
                await conn.hold()
                return
            if word == verb:
                await conn.send_lines(["what do you mean?"])
            elif word == "EHLO":
                await conn.send_lines([f"250-{MX_HOST}", "250 PIPELINING"])
            elif word == "RCPT":
                await conn.send_lines(["554 5.7.1 Relay access denied"])
            elif word == "QUIT":
                await conn.send_lines(["221 2.0.0 Bye"])
                return
            else:
                await conn.send_lines(["250 2.0.0 Ok"])

    return handler


async def _refusing_554(conn: PeerConnection) -> None:
    await conn.send_lines([f"554 5.7.1 {MX_HOST} No SMTP service here"])
    while (line := await conn.readline()) is not None:
        if line.upper().startswith("QUIT"):
            await conn.send_lines(["221 2.0.0 Bye"])
            return
        await conn.send_lines(["503 5.5.1 Error: no SMTP service"])


async def _refusing_421(conn: PeerConnection) -> None:
    await conn.send_lines([f"421 4.3.2 {MX_HOST} Service not available, closing channel"])


HANDLERS: dict[str, Callable[[int], Callable[[PeerConnection], Any]]] = {
    "tarpit": lambda _n: tarpit_handler(),
    "binary": lambda _n: garbage_handler("binary"),
    "no-code": lambda _n: garbage_handler("no-code"),
    "long-line": lambda _n: garbage_handler("long-line"),
    "banner-421": lambda _n: _refusing_421,
    "banner-554": lambda _n: _refusing_554,
    "drop-mid-ehlo": lambda _n: drop_mid_reply_handler(MX_HOST),
    "silent-mid-battery": silent_after_handler,
    "silent-for-good": lambda n: silent_after_handler(n, per_connection=False),
}
#: Peers that never give a usable greeting: the step that fails is the banner.
BANNER_KINDS = ("tarpit", "binary", "no-code", "long-line", "banner-421", "banner-554")
KINDS = tuple(HANDLERS)


def start_peer(
    peer_factory: PeerFactory, kind: str, answered: int = SILENT_AFTER_RELAY
) -> PeerServer:
    return peer_factory.raw(HANDLERS[kind](answered), PEER_ADDRESS, name=f"hostile-{kind}")


# -- running the CLI ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "MAILPROBE_CONFIG",
        "MAILPROBE_HOST",
        "MAILPROBE_SENDER",
        "MAILPROBE_RECIPIENT",
        "MAILPROBE_EXPECT",
        "MAILPROBE_HELO",
        "MAILPROBE_TIMEOUT",
        "MAILPROBE_PORT",
        "MAILPROBE_DNS_SERVER",
        "MAILPROBE_SESSION_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def dns(dns_server: Callable[..., DnsServerHandle]) -> DnsServerHandle:
    zone = f"@ MX 10 {MX_HOST}.\nmx A {PEER_ADDRESS}\n"
    reverse = f"10 PTR {MX_HOST}.\n"
    return dns_server({DOMAIN: zone, "8.0.127.in-addr.arpa": reverse}, address=DNS_ADDRESS)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "internal error" not in err
    return code, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("mailprobe: error:")]


def relay_args(
    peer: PeerServer, dns: DnsServerHandle, *extra: str, session_timeout: str = "4"
) -> list[str]:
    return [
        "relay-test",
        peer.address,
        "--port",
        str(peer.port),
        "--domain",
        DOMAIN,
        "--dns-server",
        dns.spec,
        "--helo",
        HELO,
        "--timeout",
        "1",
        "--session-timeout",
        session_timeout,
        *extra,
    ]


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
        "1",
        *extra,
    ]


def mx_args(peer: PeerServer, dns: DnsServerHandle, *extra: str) -> list[str]:
    return [
        "mx",
        DOMAIN,
        "--server",
        dns.spec,
        "--connect",
        "--smtp-port",
        str(peer.port),
        "--timeout",
        "1",
        *extra,
    ]


# -- relay-test -----------------------------------------------------------------------------------

RELAY_STEP = dict.fromkeys(BANNER_KINDS, "banner") | {"drop-mid-ehlo": "EHLO"}
#: What the one error line says, beside the step.
REASON = {
    "tarpit": "no banner came within 1 s",
    "binary": "not SMTP",
    "no-code": "not SMTP",
    "long-line": "not SMTP",
    "banner-421": "421 4.3.2",
    "banner-554": "554 5.7.1",
    "drop-mid-ehlo": "closed the connection",
}
#: The one diagnosis of each hostile peer in every command (mailprobe/smtp/failures.py):
#: finding code, severity, exit code. Could not complete (3): the tarpit, a 421 greeting, a
#: connection dropped; the server answered and was judged (1): not SMTP, a refused greeting.
DIAGNOSIS = {
    "tarpit": ("smtp.no-banner", "fail", 3),
    "binary": ("smtp.not-smtp", "fail", 1),
    "no-code": ("smtp.not-smtp", "fail", 1),
    "long-line": ("smtp.not-smtp", "fail", 1),
    "banner-421": ("smtp.greeting-deferred", "warn", 3),
    "banner-554": ("smtp.greeting-refused", "fail", 1),
    "drop-mid-ehlo": ("smtp.dropped", "fail", 3),
}


def all_findings(document: Any) -> set[tuple[str, str]]:
    """(code, severity) of every finding anywhere in a JSON document."""
    found: set[tuple[str, str]] = set()
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("code"), str) and item.get("severity") in SEVERITIES:
                found.add((item["code"], item["severity"]))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


SEVERITIES = ("ok", "info", "warn", "fail")


def ehlo_args(peer: PeerServer, dns: DnsServerHandle, *extra: str) -> list[str]:
    del dns  # ehlo talks to the address directly
    return [
        "ehlo",
        peer.address,
        "--port",
        str(peer.port),
        "--helo",
        HELO,
        "--timeout",
        "1",
        *extra,
    ]


@pytest.mark.parametrize("kind", sorted(DIAGNOSIS))
def test_one_diagnosis_in_every_command(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    peer_factory: PeerFactory,
    dns: DnsServerHandle,
    kind: str,
) -> None:
    # The same peer gets the same finding (code and severity) and the same exit code from
    # ehlo, relay-test, mx --connect and check. mx --connect reads only the greeting, so a
    # peer that drops the connection after greeting has nothing wrong for it to see.
    monkeypatch.setenv("MAILPROBE_SESSION_TIMEOUT", "4")
    code_name, severity, exit_code = DIAGNOSIS[kind]
    commands = {"ehlo": ehlo_args, "relay-test": relay_args, "mx": mx_args, "check": check_args}
    if kind == "drop-mid-ehlo":
        del commands["mx"]
    for command, make_args in commands.items():
        peer = start_peer(peer_factory, kind)
        code, out, err = run(capsys, *make_args(peer, dns, "--json"))
        assert err == "", (command, err)
        document = json.loads(out)
        assert (code_name, severity) in all_findings(document), (command, out)
        assert code == exit_code, (command, out)
        # never the old guesses: a port that answered is not "unreachable"
        assert not {c for c, _s in all_findings(document)} & {"check.unreachable"}


@pytest.mark.parametrize("kind", sorted(RELAY_STEP))
def test_relay_unreachable_peer(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle, kind: str
) -> None:
    peer = start_peer(peer_factory, kind)
    step = RELAY_STEP[kind]

    expected = DIAGNOSIS[kind][2]
    code, out, err = run(capsys, *relay_args(peer, dns))
    assert code == expected, (out, err)
    (line,) = error_lines(err)
    assert line.startswith(f"mailprobe: error: {step} failed {peer.address}:{peer.port}: ")
    assert REASON[kind] in line
    assert len(line) < 400  # one readable line, not the 100 kB one
    said = "could not be reached" if expected == 3 else "did not let the battery start"
    assert said in " ".join(out.split())

    code, out, err = run(capsys, *relay_args(peer, dns, "--json"))
    assert code == expected
    assert err == ""
    document = json.loads(out)
    assert document["exit_code"] == expected
    assert document["status"] == ("incomplete" if expected == 3 else "problem")
    (error,) = document["errors"]
    assert error["step"] == step
    assert error["host"] == peer.address and error["port"] == peer.port
    (report,) = document["results"]["reports"]
    assert report["variants"] == []
    assert report["failures"][0]["step"] == step
    peer.wait_idle()
    assert not peer.transcript.saw_data()


def test_relay_peer_silent_mid_battery_every_session(
    capsys: pytest.CaptureFixture[str],
    peer_factory: PeerFactory,
    dns: DnsServerHandle,
    tmp_path: Path,
) -> None:
    # Every session answers EHLO and the first variant, then stops answering: the command in
    # flight times out (--timeout), its variant is retried on a new session, and the battery
    # learns to use one session per refusal, so it still finishes. The session timeout is
    # generous here so that only the per-step timeouts decide.
    peer = start_peer(peer_factory, "silent-mid-battery", answered=SILENT_AFTER_RELAY)
    transcript = tmp_path / "relay.txt"
    args = relay_args(peer, dns, "--json", "--transcript", str(transcript), session_timeout="30")
    code, out, err = run(capsys, *args)
    assert err == ""
    document = json.loads(out)
    (report,) = document["results"]["reports"]
    assert report["verdict"] == "closed", report["reason"]
    assert code == 0 and document["errors"] == []
    assert {v["outcome"] for v in report["variants"]} == {"rejected"}
    assert report["reconnects"] >= 1
    assert any(f["code"] == "relay.reconnects" for f in report["findings"])
    # the transcript says which step of the lost session timed out
    assert "session lost (RCPT failed: no reply within 1 s)" in transcript.read_text()
    peer.wait_idle()
    assert not peer.transcript.saw_data()


def test_relay_peer_silent_for_good_mid_battery(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle
) -> None:
    # The server answers a dozen commands, then nothing ever again (no banner on new sessions
    # either): the commands in flight time out, every worker fails to open a new session and
    # gives up. docs/relay-test.md: a battery that cannot finish is INCONCLUSIVE, exit 1, with
    # the reason (which names the failed step) printed.
    peer = start_peer(peer_factory, "silent-for-good", answered=12)
    code, out, err = run(capsys, *relay_args(peer, dns, "--json", session_timeout="30"))
    assert code == 1, (out, err)
    assert err == ""
    document = json.loads(out)
    assert document["status"] == "problem"
    result = document["results"]
    assert result["verdict"] == "inconclusive"
    assert (
        "could not open a new session: banner failed: connected, but no banner came within 1 s"
        in (result["reason"])
    )
    (report,) = result["reports"]
    outcomes = {v["outcome"] for v in report["variants"]}
    assert "rejected" in outcomes  # what was answered is kept
    undecided = [v for v in report["variants"] if v["outcome"] in ("error", "not-tested")]
    assert undecided
    for variant in undecided:
        assert " failed: " in variant["note"], variant  # names the step
    assert any(f["code"] == "relay.inconclusive" for f in report["findings"])

    peer = start_peer(peer_factory, "silent-for-good", answered=12)  # the first one is dead now
    code, out, err = run(capsys, *relay_args(peer, dns, session_timeout="30"))
    assert code == 1
    assert error_lines(err) == []
    assert "INCONCLUSIVE" in out
    assert "banner failed: connected, but no banner came within 1 s" in " ".join(out.split())


def test_relay_peer_silent_past_the_session_timeout(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle
) -> None:
    # The same server with a short --session-timeout: the battery is cut there.
    peer = start_peer(peer_factory, "silent-for-good", answered=12)
    code, out, err = run(capsys, *relay_args(peer, dns, "--json", session_timeout="2"))
    assert code == 1, (out, err)
    result = json.loads(out)["results"]
    assert result["verdict"] == "inconclusive"
    assert "did not finish within 2 s" in result["reason"]


def test_relay_overlong_ehlo_reply(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle
) -> None:
    peer = peer_factory.raw(garbage_reply_handler("EHLO", "long-line"), PEER_ADDRESS)
    code, out, err = run(capsys, *relay_args(peer, dns, "--json"))
    assert code == 1, (out, err)  # smtp.not-smtp: the server answered, not in SMTP
    (error,) = json.loads(out)["errors"]
    assert error["step"] == "EHLO"
    assert "overlong line" in error["message"] and "not SMTP" in error["message"]


def test_relay_rcpt_reply_without_a_code(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle
) -> None:
    # Every RCPT gets a line without a reply code: no variant can be judged, every session is
    # given up; INCONCLUSIVE (exit 1) with a reason naming RCPT.
    peer = peer_factory.raw(garbage_reply_handler("RCPT", "no-code"), PEER_ADDRESS)
    code, out, err = run(capsys, *relay_args(peer, dns, "--json", session_timeout="30"))
    assert code == 1, (out, err)
    result = json.loads(out)["results"]
    assert result["verdict"] == "inconclusive"
    assert "RCPT failed: the server's answer is not SMTP (" in result["reason"]
    (report,) = result["reports"]
    assert {v["outcome"] for v in report["variants"]} <= {"error", "not-tested"}
    peer.wait_idle()
    assert not peer.transcript.saw_data()


# -- check ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", BANNER_KINDS)
def test_check_unreachable_exchanger(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle, kind: str
) -> None:
    peer = start_peer(peer_factory, kind)
    expected = DIAGNOSIS[kind][2]

    code, out, err = run(capsys, *check_args(peer, dns))
    assert code == expected, (out, err)
    (line,) = error_lines(err)
    assert line.startswith(f"mailprobe: error: reachability failed {peer.address}:{peer.port}: ")
    assert REASON[kind] in line
    assert len(line) < 400

    code, out, err = run(capsys, *check_args(peer, dns, "--json"))
    assert code == expected
    assert err == ""
    document = json.loads(out)
    assert document["status"] == ("incomplete" if expected == 3 else "problem")
    (error,) = document["errors"]
    assert error["step"] == "reachability"
    assert error["host"] == peer.address and error["port"] == peer.port
    report = document["results"]
    steps = {step["name"]: step for step in report["steps"]}
    assert steps["reachability"]["status"] == ("incomplete" if expected == 3 else "problem")
    assert steps["smtp"]["status"] == "skipped"
    assert steps["relay"]["status"] == "skipped"
    (reach,) = report["reachability"]
    assert reach["status"] in ("unreachable", "rejected")
    assert any(f["code"] == DIAGNOSIS[kind][0] for f in steps["reachability"]["findings"])


@pytest.mark.parametrize("kind", ["drop-mid-ehlo", "silent-mid-battery"])
def test_check_session_cut_after_the_banner(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    peer_factory: PeerFactory,
    dns: DnsServerHandle,
    kind: str,
) -> None:
    monkeypatch.setenv("MAILPROBE_SESSION_TIMEOUT", "4")  # bounds the relay battery
    peer = start_peer(peer_factory, kind, answered=SILENT_AFTER_CHECK)
    # drop-mid-ehlo: the SMTP step and every relay session fail at EHLO; silent-mid-battery:
    # the SMTP step times out at RCPT TO:<postmaster>, the relay battery is cut by
    # session_timeout (INCONCLUSIVE, a finding, not a failure).
    steps_failed = ["smtp EHLO", "relay EHLO"] if kind == "drop-mid-ehlo" else ["smtp RCPT"]

    code, out, err = run(capsys, *check_args(peer, dns))
    assert code == 3, (out, err)
    lines = error_lines(err)
    assert [line.split(" failed ")[0] for line in lines] == [
        f"mailprobe: error: {step}" for step in steps_failed
    ], err
    assert all(f" failed {peer.address}:{peer.port}: " in line for line in lines)

    code, out, err = run(capsys, *check_args(peer, dns, "--json"))
    assert code == 3
    assert err == ""
    document = json.loads(out)
    assert document["status"] == "incomplete"
    assert [error["step"] for error in document["errors"]] == steps_failed
    for error in document["errors"]:
        assert error["message"] and error["port"] == peer.port
    report = document["results"]
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["reachability"]["status"] == "ok"
    assert steps["smtp"]["status"] == "incomplete"
    (relay,) = report["relay"]
    assert relay["verdict"] == "inconclusive"
    peer.wait_idle()
    assert not peer.transcript.saw_data()


def test_check_overlong_ehlo_reply(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    peer_factory: PeerFactory,
    dns: DnsServerHandle,
) -> None:
    monkeypatch.setenv("MAILPROBE_SESSION_TIMEOUT", "4")
    peer = peer_factory.raw(garbage_reply_handler("EHLO", "long-line"), PEER_ADDRESS)
    code, out, err = run(capsys, *check_args(peer, dns, "--json"))
    assert code == 1, (out, err)  # smtp.not-smtp, as in relay-test
    errors = json.loads(out)["errors"]
    assert [e["step"] for e in errors] == ["smtp EHLO", "relay EHLO"]
    assert all("not SMTP" in e["message"] for e in errors)


# -- mx --connect ---------------------------------------------------------------------------------

#: docs/mx.md: --connect reports per address the finding of its failure class, mx.unreachable
#: when nothing greets.
MX_STATUS = {
    "tarpit": ("no-banner", "smtp.no-banner"),
    "binary": ("no-banner", "smtp.not-smtp"),
    "no-code": ("no-banner", "smtp.not-smtp"),
    "long-line": ("no-banner", "smtp.not-smtp"),
    "banner-421": ("rejected", "smtp.greeting-deferred"),
    "banner-554": ("rejected", "smtp.greeting-refused"),
    "drop-mid-ehlo": ("banner", None),
    "silent-mid-battery": ("banner", None),
    "silent-for-good": ("banner", None),
}


@pytest.mark.parametrize("kind", KINDS)
def test_mx_connect(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle, kind: str
) -> None:
    peer = start_peer(peer_factory, kind)
    status, finding = MX_STATUS[kind]

    expected = DIAGNOSIS[kind][2] if finding is not None else 1
    code, out, err = run(capsys, *mx_args(peer, dns, "--json"))
    assert code == expected, (out, err)  # 1 at least: a loopback exchanger is a warning
    assert err == ""
    document = json.loads(out)
    assert (document["errors"] != []) == (expected == 3)
    (server,) = document["results"]["servers"]
    (exchanger,) = server["exchangers"]
    (address,) = exchanger["addresses"]
    probe = address["connect"]
    assert probe["status"] == status, probe
    assert len(probe["banner"]) <= 200
    assert probe["banner"].isprintable()
    codes = {f["code"] for f in document["results"]["findings"]}
    if finding is not None:
        assert finding in codes
        assert "mx.unreachable" in codes
    else:
        assert "mx.unreachable" not in codes

    code, out, err = run(capsys, *mx_args(peer, dns))
    assert code == expected
    assert len(error_lines(err)) == (1 if expected == 3 else 0)
    if finding is not None:
        assert finding in out


# -- a real process -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["relay-test", "check", "mx"])
def test_real_process_against_a_tarpit(
    peer_factory: PeerFactory, dns: DnsServerHandle, command: str
) -> None:
    # The console script as a separate interpreter in development mode, warnings as errors:
    # it must end on its own (the subprocess limit is only a safety net), print no traceback and
    # leak nothing (an unclosed socket would print a ResourceWarning at exit).
    peer = start_peer(peer_factory, "tarpit")
    args = {"relay-test": relay_args, "check": check_args, "mx": mx_args}[command](peer, dns)
    env = {**os.environ, "MAILPROBE_SESSION_TIMEOUT": "4", "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-m", "mailprobe", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 3, done  # a tarpit: could not complete, in every command
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    (line,) = error_lines(done.stderr)
    assert "no banner came within 1 s" in line


# -- a server with a per-client connection limit ---------------------------------------------------


class LimitedServer:
    """A closed, Postfix-like peer that allows ``limit`` connections at once per client and
    greets the next one with 421 (as Postfix's anvil or Exim's smtp_accept_max_per_host do)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self.most = 0
        self.refused = 0

    async def __call__(self, conn: PeerConnection) -> None:
        if self.active >= self.limit:
            self.refused += 1
            await conn.send_lines([f"421 4.7.0 {MX_HOST} Error: too many connections from you"])
            return
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            await conn.send_lines([f"220 {MX_HOST} ESMTP Postfix"])
            while (line := await conn.readline()) is not None:
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    await conn.send_lines([f"250-{MX_HOST}", "250-PIPELINING", "250 8BITMIME"])
                elif verb == "RCPT":
                    address = line.partition("<")[2].rpartition(">")[0].lower()
                    own = address.endswith(f"@{DOMAIN}") and not any(
                        ch in address[: -len(DOMAIN) - 1] for ch in '%!"@'
                    )
                    await conn.send_lines(
                        ["250 2.1.5 Ok"] if own else ["554 5.7.1 Relay access denied"]
                    )
                elif verb in ("VRFY", "EXPN"):
                    await conn.send_lines(["502 5.5.1 Command not implemented"])
                elif verb == "QUIT":
                    await conn.send_lines(["221 2.0.0 Bye"])
                    return
                else:
                    await conn.send_lines(["250 2.0.0 Ok"])
        finally:
            self.active -= 1


@pytest.mark.parametrize("connections", ["2", "4"])
def test_check_stays_within_a_per_client_connection_limit(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    peer_factory: PeerFactory,
    dns: DnsServerHandle,
    connections: str,
) -> None:
    # A server that allows 2 connections per client once made check report "STARTTLS failed"
    # after a 421. With --connections 2 mailprobe never opens more than 2 at once; with 4 the
    # server's 421 "too many connections" is waited out and retried, never a verdict.
    monkeypatch.setenv("MAILPROBE_SESSION_TIMEOUT", "30")
    server = LimitedServer(limit=2)
    peer = peer_factory.raw(server, PEER_ADDRESS)
    args = check_args(peer, dns, "--json", "--connections", connections)
    args[args.index("--timeout") + 1] = "3"
    code, out, _err = run(capsys, *args)
    document = json.loads(out)
    found = {c for c, _s in all_findings(document)}
    assert not {c for c in found if c.startswith("tls.") and c != "tls.not-offered"}, found
    assert not found & {"smtp.greeting-deferred", "smtp.service-closing"}, found
    assert document["errors"] == [], document["errors"]
    (relay,) = document["results"]["relay"]
    assert relay["verdict"] == "closed", relay["reason"]
    assert server.most <= 2
    if connections == "2":
        assert server.refused == 0  # mailprobe kept to the limit by itself
    else:
        assert server.refused > 0  # the 421s happened, and were waited out
    assert code == 1  # loopback exchanger, no STARTTLS: warnings, not errors
    peer.wait_idle()


# -- replies out of step (relay-test) -------------------------------------------------------------


def out_of_step_handler(kind: str) -> Callable[[PeerConnection], Any]:
    """A server that refuses every recipient but whose replies drift out of step: a second
    greeting (``double-greeting``), two replies to MAIL in one segment (``extra-reply``), or a
    second reply to MAIL sent a moment later (``late-reply``). A client that pairs replies
    with commands blindly reads a 250 as the answer to RCPT: a false OPEN RELAY."""

    async def handler(conn: PeerConnection) -> None:
        greeting = f"220 {MX_HOST} ESMTP\r\n"
        await conn.send(greeting + (greeting if kind == "double-greeting" else ""))
        while (line := await conn.readline()) is not None:
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                await conn.send_lines([f"250-{MX_HOST}", "250 8BITMIME"])
            elif verb == "MAIL" and kind == "extra-reply":
                await conn.send("250 2.1.0 Ok\r\n250 2.1.0 Ok\r\n")
            elif verb == "MAIL" and kind == "late-reply":
                await conn.send_lines(["250 2.1.0 Ok"])
                await asyncio.sleep(0.05)
                await conn.send_lines(["250 2.1.0 Ok"])
            elif verb == "RCPT":
                if kind == "late-reply":
                    await asyncio.sleep(0.1)
                await conn.send_lines(["554 5.7.1 Relay access denied"])
            elif verb == "QUIT":
                await conn.send_lines(["221 2.0.0 Bye"])
                return
            else:
                await conn.send_lines(["250 2.0.0 Ok"])

    return handler


@pytest.mark.parametrize("kind", ["double-greeting", "extra-reply", "late-reply"])
def test_replies_out_of_step_never_make_an_open_relay(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle, kind: str
) -> None:
    verdicts = set()
    for _run in range(3):  # the same server gets the same verdict every run
        peer = peer_factory.raw(out_of_step_handler(kind), PEER_ADDRESS)
        code, out, err = run(capsys, *relay_args(peer, dns, "--json", "--relay-only"))
        assert err == ""
        (report,) = json.loads(out)["results"]["reports"]
        verdicts.add(report["verdict"])
        assert report["verdict"] != "open", report["reason"]
        assert report["accepted_variants"] == []
        assert report["desynced_sessions"] >= 1
        # the first session already out of step (double greeting): nothing was run
        assert report["variants"] == [] or any(
            v["evidence"] in ("desync", "not-tested") for v in report["variants"]
        )
        assert ("smtp.out-of-step", "warn") in all_findings(report)
        assert code == 1 or report["verdict"] == "closed"
        peer.wait_idle()
        assert not peer.transcript.saw_data()
    assert len(verdicts) == 1, verdicts


def test_ehlo_reports_a_second_greeting_as_out_of_step(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle
) -> None:
    peer = peer_factory.raw(out_of_step_handler("double-greeting"), PEER_ADDRESS)
    code, out, _err = run(capsys, *ehlo_args(peer, dns, "--json"))
    assert ("smtp.out-of-step", "warn") in all_findings(json.loads(out))
    assert code == 1


def slow_handler(delay: float) -> Callable[[PeerConnection], Any]:
    """A closed server that waits ``delay`` seconds before every reply (a tarpit)."""

    async def handler(conn: PeerConnection) -> None:
        await conn.send_lines([f"220 {MX_HOST} ESMTP"])
        while (line := await conn.readline()) is not None:
            await asyncio.sleep(delay)
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                await conn.send_lines([f"250-{MX_HOST}", "250 8BITMIME"])
            elif verb == "RCPT":
                await conn.send_lines(["554 5.7.1 Relay access denied"])
            elif verb == "QUIT":
                await conn.send_lines(["221 2.0.0 Bye"])
                return
            else:
                await conn.send_lines(["250 2.0.0 Ok"])

    return handler


def test_a_server_slow_on_every_reply_is_judged_and_said_to_be_slow(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle
) -> None:
    peer = peer_factory.raw(slow_handler(1.0), PEER_ADDRESS)
    args = relay_args(peer, dns, "--json", "--relay-only", "--connections", "8")
    args[args.index("--timeout") + 1] = "3"
    args[args.index("--session-timeout") + 1] = "60"
    code, out, _err = run(capsys, *args)
    (report,) = json.loads(out)["results"]["reports"]
    assert report["verdict"] == "closed", report["reason"]
    assert ("relay.slow-server", "info") in all_findings(report)
    assert code == 0


def test_relay_test_against_a_per_client_connection_limit(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle
) -> None:
    # relay-test opens 4 connections; the server allows 2 and greets the rest with 421:
    # waited out and retried, never a verdict of its own.
    server = LimitedServer(limit=2)
    peer = peer_factory.raw(server, PEER_ADDRESS)
    args = relay_args(peer, dns, "--json", session_timeout="30")
    args[args.index("--timeout") + 1] = "3"
    code, out, _err = run(capsys, *args)
    (report,) = json.loads(out)["results"]["reports"]
    assert report["verdict"] == "closed", report["reason"]
    assert server.most <= 2 and server.refused > 0
    assert not {c for c, _s in all_findings(report)} & {"smtp.greeting-deferred"}
    assert code == 0


def short_code_handler(reply: str) -> Callable[[PeerConnection], Any]:
    """A peer that answers every RCPT with ``reply`` (a reply without a three-digit code)."""

    async def handler(conn: PeerConnection) -> None:
        await conn.send_lines([f"220 {MX_HOST} ESMTP"])
        while (line := await conn.readline()) is not None:
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                await conn.send_lines([f"250-{MX_HOST}", "250 8BITMIME"])
            elif verb == "RCPT":
                await conn.send_lines([reply])
            elif verb == "QUIT":
                await conn.send_lines(["221 2.0.0 Bye"])
                return
            else:
                await conn.send_lines(["250 2.0.0 Ok"])

    return handler


@pytest.mark.parametrize("reply", ["2", "25 ok", "334 VXNlcm5hbWU6"])
def test_rcpt_replies_that_are_not_smtp_codes_are_never_accepted(
    capsys: pytest.CaptureFixture[str],
    peer_factory: PeerFactory,
    dns: DnsServerHandle,
    reply: str,
) -> None:
    peer = peer_factory.raw(short_code_handler(reply), PEER_ADDRESS)
    code, out, _err = run(capsys, *relay_args(peer, dns, "--json", "--relay-only"))
    (report,) = json.loads(out)["results"]["reports"]
    assert report["verdict"] == "inconclusive", report["reason"]
    assert report["accepted_variants"] == []
    assert code == 1


async def _auth_wants_more(conn: PeerConnection) -> None:
    """AUTH LOGIN that answers 334 even to the password; records what came next."""
    await conn.send_lines([f"220 {MX_HOST} ESMTP"])
    while (line := await conn.readline()) is not None:
        verb = line.split(" ", 1)[0].upper()
        if verb == "EHLO":
            await conn.send_lines([f"250-{MX_HOST}", "250 AUTH LOGIN"])
        elif verb == "AUTH":
            for _step in range(3):  # username?, password?, and more
                await conn.send_lines(["334 UGFzc3dvcmQ6"])
                line = await conn.readline()
                if line is None or line == "*":
                    break
            await conn.send_lines(["501 5.7.0 Authentication cancelled"])
        elif verb == "QUIT":
            await conn.send_lines(["221 2.0.0 Bye"])
            return
        else:
            await conn.send_lines(["250 2.0.0 Ok"])


def test_an_auth_exchange_left_on_334_is_cancelled_with_a_star(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    peer_factory: PeerFactory,
    dns: DnsServerHandle,
) -> None:
    peer = peer_factory.raw(_auth_wants_more, PEER_ADDRESS)
    monkeypatch.setenv("PROBE_PW", "s3cret-pass")
    args = ehlo_args(peer, dns, "--json", "--user", "probe", "--password-env", "PROBE_PW")
    code, out, _err = run(capsys, *args)
    assert code in (1, 3)
    (probe,) = json.loads(out)["results"]["probes"]
    sent = [line["text"] for line in probe["transcript"] if line["side"] == "client"]
    auth = sent.index("AUTH LOGIN")
    assert sent[auth + 2 : auth + 4] == ["********", "*"], sent  # user, password, then '*'
    assert probe["auth"]["reply"]["code"] == 501
    assert "s3cret-pass" not in out


async def _many_lines(conn: PeerConnection) -> None:
    """A greeting, then 10,000 short lines as the EHLO reply."""
    await conn.send_lines([f"220 {MX_HOST} ESMTP"])
    if await conn.readline() is not None:
        await conn.send("".join(f"250-LINE{n}\r\n" for n in range(10_000)))
        await conn.hold()


def test_ten_thousand_short_lines_are_too_many_lines_not_one_long_line(
    capsys: pytest.CaptureFixture[str], peer_factory: PeerFactory, dns: DnsServerHandle
) -> None:
    peer = peer_factory.raw(_many_lines, PEER_ADDRESS)
    code, out, _err = run(capsys, *ehlo_args(peer, dns, "--json"))
    document = json.loads(out)
    (error,) = document["errors"]
    assert error["step"] == "EHLO"
    assert "lines in one reply" in error["message"] and "overlong line" not in error["message"]
    assert ("smtp.not-smtp", "fail") in all_findings(document)
    assert code == 1
