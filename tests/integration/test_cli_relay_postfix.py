"""`mailprobe relay-test` against real Postfix instances on loopback (127.0.3.1 closed, .2 open)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from mailprobe.cli.app import main

pytestmark = pytest.mark.postfix


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["relay-test", "--json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_closed_postfix_is_closed(postfix_closed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _run_json(
        capsys, postfix_closed.address, "--port", str(postfix_closed.port), "--relay-only"
    )
    report = doc["results"]["reports"][0]
    assert report["verdict"] == "closed", report["reason"]
    assert code == 0
    assert report["accepted_variants"] == []
    # Postfix 3.6 default: defer_unauth_destination -> 454 4.7.1 Relay access denied
    outcomes = {v["outcome"] for v in report["variants"]}
    assert outcomes <= {"rejected", "refused-temporarily"}
    assert report["server_name"] == postfix_closed.hostname
    assert report["own_domain"] == postfix_closed.domain
    codes = {f["code"] for f in report["findings"]}
    assert "relay.closed" in codes
    assert "relay.trusted-network" in codes


def test_closed_postfix_full_run_reports_spoofing(
    postfix_closed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Postfix accepts its own domain as sender from anyone: CLOSED, but a spoofing warning."""
    code, doc = _run_json(capsys, postfix_closed.address, "--port", str(postfix_closed.port))
    report = doc["results"]["reports"][0]
    assert report["verdict"] == "closed"
    codes = {f["code"] for f in report["findings"]}
    assert "relay.internal-spoofing" in codes
    # local_recipient_maps is empty in the fixture: any local part is accepted
    assert "relay.accepts-unknown-recipients" in codes
    assert report["enumeration"]["vrfy_known"]["code"] in (250, 252)
    assert code == 0  # CLOSED: the spoofing warning is advice and leaves exit 0


def test_open_postfix_is_open_and_nothing_is_queued(
    postfix_open: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before_log = postfix_open.maillog_text()
    before_accepted = postfix_open.accepted_count()
    code, doc = _run_json(capsys, postfix_open.address, "--port", str(postfix_open.port))
    report = doc["results"]["reports"][0]
    assert code == 1
    assert report["verdict"] == "open"
    assert "plain" in report["accepted_variants"]
    assert doc["results"]["verdict"] == "open"
    # The default run never sends DATA: no queue file, no cleanup line, nothing on hold.
    # Postfix opens a queue file in incoming/ at the first accepted RCPT and its cleanup
    # daemon removes it when the transaction is reset or the session ends: wait for that.
    deadline = time.monotonic() + 15
    while postfix_open.queue_files() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert postfix_open.queue_files() == []
    assert postfix_open.queued_messages() == []
    assert postfix_open.accepted_count() == before_accepted
    new_log = postfix_open.maillog_text()[len(before_log) :]
    assert "message-id=" not in new_log
    assert "postfix/cleanup" not in new_log
    assert "postfix/qmgr" not in new_log
    # (a refused made-up local recipient is logged as "NOQUEUE: reject ... from=<...>")
    assert not [line for line in new_log.splitlines() if "from=<" in line and "reject" not in line]


def test_closed_postfix_human_output(
    postfix_closed: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code = main(
        [
            "relay-test",
            postfix_closed.address,
            "--port",
            str(postfix_closed.port),
            "--relay-only",
            "--no-color",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Verdict: CLOSED" in out
    assert "percent-own" in out
    assert "Relay access denied" in out
