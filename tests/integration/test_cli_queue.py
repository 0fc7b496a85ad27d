"""`mailprobe queue` against a real Postfix queue made by the test, and the listings in
tests/fixtures/queue/ (hand-written; see its README.md).

A private Postfix instance (tests/support/postfix.py) on 127.0.23.1 sends everything through
``relayhost = [127.0.23.2]:9``, where nothing listens: a message submitted with
``sendmail -C CONFIG_DIR`` is deferred with "Connection refused". A second message is put on
hold (``postsuper -h``). The command reads the queue by running ``postqueue -c DIR -j`` itself
(``--postfix-config``), and from a file and stdin holding that same output.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from mailprobe.schema import build_schema, validate_document
from tests.support.postfix import PostfixFactory, PostfixInstance

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "queue"
ADDRESS, UNREACHABLE = "127.0.23.1", "127.0.23.2"


def run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, ["--json", "queue", *args])
    doc = json.loads(out)
    assert doc["command"] == "queue" and doc["exit_code"] == code, err
    assert validate_document(doc, build_schema()) == []
    return code, doc


def _postqueue(instance: PostfixInstance) -> str:
    done = subprocess.run(
        ["postqueue", "-c", str(instance.config_dir), "-j"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def _submit(instance: PostfixInstance, recipient: str) -> None:
    message = f"From: alice@{instance.domain}\nTo: {recipient}\nSubject: queue test\n\nhello\n"
    subprocess.run(
        [
            "/usr/sbin/sendmail",
            "-C",
            str(instance.config_dir),
            "-f",
            f"alice@{instance.domain}",
            recipient,
        ],
        input=message,
        text=True,
        capture_output=True,
        timeout=30,
        check=True,
    )


@pytest.fixture(scope="module")
def deferring_postfix(postfix_factory: PostfixFactory) -> Iterator[PostfixInstance]:
    """A Postfix whose queue holds one message deferred (connection refused) and one held."""
    instance = postfix_factory(
        "queue",
        ADDRESS,
        25,
        {
            "default_transport": "smtp",
            "relay_transport": "smtp",
            "relayhost": f"[{UNREACHABLE}]:9",
            "smtp_connect_timeout": "2s",
        },
        domain="queue.test",
        start=False,
    )
    with (instance.config_dir / "master.cf").open("a") as master:
        master.write("smtp      unix  -       -       n       -       -       smtp\n")
    instance.start()
    _submit(instance, "bob@far.example")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listing = _postqueue(instance)
        if "delay_reason" in listing:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"no deferred message in the queue: {listing!r}")
    _submit(instance, "carol@held.example")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ids = [
            json.loads(line)["queue_id"]
            for line in _postqueue(instance).splitlines()
            if "held.example" in line
        ]
        if ids:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the second message never reached the queue")
    subprocess.run(
        ["postsuper", "-c", str(instance.config_dir), "-h", ids[0]],
        capture_output=True,
        timeout=30,
        check=True,
    )
    yield instance
    instance.stop()


def _check_real_queue(doc: dict[str, Any]) -> None:
    results = doc["results"]
    assert results["format"] == "postfix-json" and results["messages"] == 2
    assert results["held_messages"] == 1
    groups = {g["domain"]: g for g in results["groups"]}
    far = groups["far.example"]
    assert far["reason_class"] == "refused"
    assert far["reason"] == f"connect to {UNREACHABLE}[{UNREACHABLE}]:9: Connection refused"
    assert far["status_code"] == "4.4.1" and far["host"] == UNREACHABLE
    assert far["next_commands"] == [
        f"mailprobe ports {UNREACHABLE}",
        "mailprobe outbound --to-domain far.example",
    ]
    assert groups["held.example"]["reason_class"] == "held"
    codes = {f["code"] for f in results["findings"]}
    assert {"queue.deferred", "queue.held"} <= codes


def test_runs_postqueue_itself(
    deferring_postfix: PostfixInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_json(capsys, ["--postfix-config", str(deferring_postfix.config_dir)])
    assert code == 1
    assert doc["inputs"]["source"] == f"postqueue -c {deferring_postfix.config_dir} -j"
    _check_real_queue(doc)


def test_reads_postqueue_output_from_a_file_and_stdin(
    deferring_postfix: PostfixInstance,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing = _postqueue(deferring_postfix)
    saved = tmp_path / "queue.json"
    saved.write_text(listing)
    code, doc = run_json(capsys, [str(saved)])
    assert code == 1
    _check_real_queue(doc)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(listing.encode())))
    code, doc = run_json(capsys, ["-"])
    assert code == 1 and doc["inputs"]["source"] == "standard input"
    _check_real_queue(doc)


def test_terminal_summary(
    deferring_postfix: PostfixInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        [
            "--no-color",
            "queue",
            "--postfix-config",
            str(deferring_postfix.config_dir),
            "--messages",
        ],
    )
    assert code == 1 and err == ""
    assert "2 messages, 2 recipients" in out
    assert "far.example" in out and "connection refused" in out
    assert f"next: mailprobe ports {UNREACHABLE}" in out
    assert "4.4.1" in out and "queue.held" in out
    assert "bob@far.example" in out  # --messages lists each message


def test_empty_real_queue(
    postfix_factory: PostfixFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = postfix_factory("queue-empty", "127.0.23.3", 25)
    code, doc = run_json(capsys, ["--postfix-config", str(instance.config_dir)])
    assert code == 0 and doc["results"]["messages"] == 0
    assert [f["code"] for f in doc["results"]["findings"]] == ["queue.empty"]


def test_postqueue_that_cannot_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, ["queue", "--postfix-config", str(tmp_path / "none")])
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and err.startswith("mailprobe: error: postqueue failed")


@pytest.mark.parametrize(
    ("name", "fmt", "messages"),
    [
        ("exim-bp.txt", "exim", 4),
        ("postfix-mailq.txt", "postfix-mailq", 4),
        ("sendmail-mailq.txt", "sendmail-mailq", 2),
        ("postqueue-j.jsonl", "postfix-json", 7),
    ],
)
def test_hand_written_listings(
    capsys: pytest.CaptureFixture[str], name: str, fmt: str, messages: int
) -> None:
    code, doc = run_json(capsys, [str(FIXTURES / name)])
    assert code == 1
    assert doc["results"]["format"] == fmt and doc["results"]["messages"] == messages


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"this is not a queue\n", "not a mail queue listing"),
        (b'{"queue_name": "deferred", \n', "line 1: not JSON"),
        (b"\x00\x01\x02\xff binary", "binary data"),
    ],
)
def test_unusable_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, problem: str
) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(content)
    code, out, err = run(capsys, ["queue", str(bad)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and problem in err


def test_directory_and_device_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for path in (str(tmp_path), "/dev/zero"):
        code, out, err = run(capsys, ["queue", path])
        assert code == 2 and out == "" and err.count("\n") == 1


def test_explain_exchange_queue(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, ["--no-color", "queue", "--explain", "Messages awaiting directory lookup"]
    )
    assert code == 0 and "global catalog" in out and "categorizer" in out
    code, doc = run_json(capsys, ["--explain", "Final destination currently unreachable"])
    assert code == 0 and doc["results"]["queue"]["key"] == "final-destination-unreachable"
    code, out, err = run(capsys, ["queue", "--explain", "Outbox"])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert '"Pre-submission"' in err and '"Messages waiting to be routed"' in err


def test_reads_the_real_mailq_text(
    deferring_postfix: PostfixInstance, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = subprocess.run(
        ["postqueue", "-c", str(deferring_postfix.config_dir), "-p"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    saved = tmp_path / "mailq.txt"
    saved.write_text(listing)
    code, doc = run_json(capsys, [str(saved)])
    assert code == 1
    results = doc["results"]
    assert results["format"] == "postfix-mailq" and results["messages"] == 2
    assert results["held_messages"] == 1
    groups = {g["domain"]: g for g in results["groups"]}
    assert groups["far.example"]["reason_class"] == "refused"
    assert groups["far.example"]["next_commands"][0] == f"mailprobe ports {UNREACHABLE}"


def test_control_characters_in_a_listing_are_shown_not_obeyed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hostile = {
        "queue_name": "deferred",
        "queue_id": "ABC\x1b[2J",
        "arrival_time": 1,
        "sender": "a@example.com\r\nX",
        "recipients": [
            {
                "address": "b@example.org",
                "delay_reason": "said: 450 \x1b]0;owned\x07 Connection refused",
            }
        ],
    }
    listing = tmp_path / "hostile.json"
    listing.write_text(json.dumps(hostile))
    code, out, err = run(capsys, ["queue", str(listing), "--messages"])
    assert code == 1 and err == ""
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert "Connection refused" in out
