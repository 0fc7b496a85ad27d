"""`mailprobe log` on logs written by real servers, hand-written Exchange samples, bad input.

The Postfix log is made by a private Postfix instance of this test (127.0.21.1): a relay attempt
rejected at RCPT (554 5.7.1), a message deferred to an unreachable loopback destination
(127.0.21.2 port 1: connection refused, 4.4.1), one bounced by a scripted peer (550 5.1.1) and one
delivered to it (127.0.21.10). The Exim log comes from the suite's real Exim (exim_closed)
refusing a relay RCPT. Exchange and IIS samples are hand-written (tests/fixtures/logs/README.md).
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from mailprobe.schema import validate_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
ROOT = Path(__file__).resolve().parents[2]
MAILPROBE = [sys.executable, "-m", "mailprobe"]


def run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, ["--json", "log", *args])
    doc = json.loads(out)
    assert doc["command"] == "log" and doc["exit_code"] == code, err
    assert validate_document(doc) == []
    return code, doc


def codes(doc: dict[str, Any]) -> dict[str, int]:
    return {row["code"]: row["count"] for row in doc["results"]["codes"]}


def findings(doc: dict[str, Any]) -> set[str]:
    return {f["code"] for f in doc["results"]["findings"]}


# -- a real Postfix ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postfix_log(postfix_factory: Any, peer_factory_module: Any) -> Path:
    peer = peer_factory_module
    transports = (
        f"remote.test=smtp:[127.0.21.2]:1, bad.test=smtp:[{peer.address}]:{peer.port}, "
        f"good.test=smtp:[{peer.address}]:{peer.port}"
    )
    instance = postfix_factory(
        "log",
        "127.0.21.1",
        extra_main_cf={
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "relay_domains": "remote.test, bad.test, good.test",
            "transport_maps": "inline:{" + transports + "}",
            "smtpd_end_of_data_restrictions": "",
            "smtp_tls_security_level": "none",
        },
        start=False,
    )
    # The fixture's master.cf has no smtp client (nothing is ever delivered); this instance
    # gets one for the loopback destinations of transport_maps only (every other domain is
    # refused at RCPT, and the default transports stay discard:).
    master_cf = instance.config_dir / "master.cf"
    master_cf.write_text(
        master_cf.read_text() + "smtp      unix  -       -       n       -       -       smtp\n"
    )
    instance.start()
    with smtplib.SMTP(instance.address, instance.port, timeout=20) as client:
        client.ehlo("client.test")
        client.mail("<>")
        code, _ = client.rcpt("victim@elsewhere.example")
        assert code == 554
        for rcpt in ("bob@remote.test", "carol@bad.test", "dave@good.test"):
            assert client.rcpt(rcpt)[0] == 250
        assert client.data(b"Subject: log test\r\n\r\nhello\r\n")[0] == 250
    for text in ("status=deferred", "status=bounced", "status=sent"):
        assert instance.wait_for_log(text, timeout=30), instance.maillog_tail()
    peer.wait_idle()
    return Path(instance.maillog)


@pytest.fixture(scope="module")
def peer_factory_module() -> Any:
    from tests.support.peers import PeerFactory

    def rcpt(cmd: Any) -> str | None:
        if "@bad.test" in (cmd.address or ""):
            return f"550 5.1.1 <{cmd.address}>: Recipient address rejected: User unknown"
        return None

    factory = PeerFactory()
    try:
        yield factory.smtp(address="127.0.21.10", rules={"RCPT": rcpt})
    finally:
        factory.close()


@pytest.mark.postfix
def test_a_real_postfix_maillog(postfix_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, [str(postfix_log), "--details"])
    results = doc["results"]
    assert code == 1 and results["format"] == "postfix"
    counts = results["counts"]
    assert counts["rejected"] >= 1 and counts["deferred"] >= 1
    assert counts["bounced"] >= 1 and counts["sent"] >= 1 and counts["received"] >= 1
    assert {"5.7.1", "4.4.1", "5.1.1"} <= set(codes(doc))
    assert {"log.rejected", "log.deferred", "log.bounced"} <= findings(doc)
    rejected = [e for e in results["details"] if e["status"] == "rejected"]
    assert rejected[0]["recipient"] == "victim@elsewhere.example"
    assert rejected[0]["reply_code"] == "554" and "Relay access denied" in rejected[0]["reason"]
    deferred = [e for e in results["details"] if e["status"] == "deferred"]
    assert deferred[0]["recipient"] == "bob@remote.test" and deferred[0]["host"] == "127.0.21.2"
    assert "Connection refused" in deferred[0]["reason"]
    bounced = [e for e in results["details"] if e["status"] == "bounced"]
    assert bounced[0]["reply_code"] == "550" and bounced[0]["status_code"] == "5.1.1"
    assert {r["name"] for r in results["domains"]} >= {"remote.test", "bad.test", "good.test"}

    code, out, _ = run(capsys, ["log", str(postfix_log)])
    assert code == 1
    assert "Relay access denied" in out and "Bad destination mailbox address" in out
    assert "Connection refused" in out


@pytest.mark.postfix
def test_postfix_log_from_stdin(postfix_log: Path) -> None:
    with postfix_log.open("rb") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "mailprobe", "--json", "log", "-"],
            stdin=stdin,
            capture_output=True,
            timeout=60,
            cwd=ROOT,
        )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["results"]["counts"]["deferred"] >= 1


# -- a real Exim -------------------------------------------------------------------------------


@pytest.mark.exim
def test_a_real_exim_mainlog(exim_closed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with smtplib.SMTP(exim_closed.address, exim_closed.port, timeout=20) as client:
        client.ehlo("client.test")
        client.mail("sender@client.test")
        assert client.rcpt("victim@elsewhere.example")[0] == 550
    deadline = time.monotonic() + 10
    while "rejected RCPT <victim@elsewhere.example>" not in exim_closed.log_text():
        assert time.monotonic() < deadline, exim_closed.log_text()
        time.sleep(0.05)
    code, doc = run_json(capsys, [str(exim_closed.mainlog), "--details"])
    assert code == 1 and doc["results"]["format"] == "exim"
    rejected = [e for e in doc["results"]["details"] if e["status"] == "rejected"]
    assert any(
        e["recipient"] == "victim@elsewhere.example" and "relay not permitted" in e["reason"]
        for e in rejected
    )
    assert any(e["address"] == "127.0.0.1" for e in rejected)


# -- hand-written Exchange and IIS samples -----------------------------------------------------


def test_exchange_send_log(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, [str(FIXTURES / "exchange-send.log"), "--details"])
    results = doc["results"]
    assert code == 1 and results["format"] == "exchange"
    assert results["counts"] | {} == {
        "received": 0,
        "sent": 1,
        "deferred": 1,
        "bounced": 1,
        "expired": 0,
        "rejected": 0,
    }
    (bounce,) = [e for e in results["details"] if e["status"] == "bounced"]
    assert bounce["recipient"] == "nobody@bad.example" and bounce["address"] == "203.0.113.7"
    assert bounce["reason"].endswith("User unknown, sorry")  # a quoted field with commas
    assert bounce["meaning"] == "Bad destination mailbox address"
    (defer,) = [e for e in results["details"] if e["status"] == "deferred"]
    assert defer["recipient"] == "dave@grey.example" and defer["status_code"] == "4.7.1"
    assert results["unknown_lines"] == 0


def test_exchange_receive_log(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, [str(FIXTURES / "exchange-receive.log")])
    results = doc["results"]
    assert code == 1 and results["counts"]["rejected"] == 2
    assert {r["name"] for r in results["clients"]} == {"203.0.113.66", "198.51.100.77"}
    assert set(codes(doc)) == {"5.7.54", "5.7.1"}


def test_iis_w3c_log(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, [str(FIXTURES / "iis-smtp.log"), "--details"])
    results = doc["results"]
    assert code == 1 and results["format"] == "w3c"
    counts = results["counts"]
    assert (counts["rejected"], counts["deferred"], counts["bounced"]) == (1, 1, 1)
    (reject,) = [e for e in results["details"] if e["status"] == "rejected"]
    assert reject["recipient"] == "victim@elsewhere.example" and reject["reply_code"] == "550"
    assert set(codes(doc)) == {"550", "4.2.2", "5.7.1"}
    (defer,) = [e for e in results["details"] if e["status"] == "deferred"]
    assert defer["recipient"] == "dave@grey.example" and defer["address"] == "192.0.2.80"


def test_a_clean_log_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "maillog"
    log.write_text(
        "Dec  3 08:50:21 mail postfix/smtp[124]: 4ABC125: to=<ok@good.test>, relay=mx.good.test"
        "[192.0.2.2]:25, delay=0.1, delays=0/0/0.1/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n"
    )
    code, doc = run_json(capsys, [str(log)])
    assert code == 0 and findings(doc) == {"log.no-failures"}


# -- --follow ----------------------------------------------------------------------------------

DEFERRED = (
    "Dec  3 08:50:19 mail postfix/smtp[124]: 4ABC123: to=<bob@remote.test>, relay=none, "
    "delay=0.1, delays=0/0/0.1/0, dsn=4.4.1, status=deferred (connect to 127.0.21.2[127.0.21.2]"
    ":1: Connection refused)\n"
)


def test_follow_reads_what_is_appended(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(DEFERRED)
    process = subprocess.Popen(
        [*MAILPROBE, "--json", "log", str(log), "--follow", "--follow-seconds", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        time.sleep(1.0)
        with log.open("a") as handle:
            handle.write(DEFERRED)
        time.sleep(0.5)
        log.write_text(DEFERRED)  # truncated and rewritten (rotated): read from its start
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1, err
    results = json.loads(out)["results"]
    assert results["followed"] is True and results["counts"]["deferred"] == 3


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["binary", "directory", "missing", "device"])
def test_unusable_input_is_one_line_exit_2(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "maillog"
    if kind == "binary":
        path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" + os.urandom(4096))
    elif kind == "directory":
        path.mkdir()
    elif kind == "device":
        path = Path("/dev/zero")
    code, out, err = run(capsys, ["log", str(path)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("mailprobe: error: ")


def test_a_1_mb_line_is_truncated_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "maillog"
    log.write_text(DEFERRED + "x" * (1024 * 1024) + "\n" + DEFERRED + "y" * (1024 * 1024))
    code, doc = run_json(capsys, [str(log)])
    results = doc["results"]
    assert code == 1 and results["long_lines"] == 2 and results["lines"] == 4
    assert results["counts"]["deferred"] == 2 and results["unknown_lines"] == 2
    assert "log.long-lines" in findings(doc)


def test_unknown_text_is_counted_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "notes.txt"
    log.write_text("hello\nworld\n")
    code, doc = run_json(capsys, [str(log)])
    assert code == 0 and doc["results"]["format"] is None
    assert doc["results"]["unknown_lines"] == 2 and "log.unknown-format" in findings(doc)


def test_follow_ends_on_ctrl_c_with_the_summary(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(DEFERRED)
    process = subprocess.Popen(
        [*MAILPROBE, "--json", "log", str(log), "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        # a shell's background jobs ignore SIGINT; the child must see Ctrl-C as a terminal would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 1, err
    assert "Traceback" not in err.decode()
    assert json.loads(out)["results"]["counts"]["deferred"] == 1
