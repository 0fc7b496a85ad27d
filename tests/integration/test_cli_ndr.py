"""`mailprobe ndr` end to end: in-process through main() and through the installed script."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bounces"


@pytest.fixture(autouse=True)
def _plain_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent-mailprobe-test")
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, "--json", *args)
    assert err == ""
    return code, json.loads(out)


def feed_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_code_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "ndr", "5.4.8")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("5.4.8  ")
    assert lines[1].startswith("Permanent:")
    assert any(line.startswith("  Class   5") for line in lines)
    assert any(line.startswith("  Subject X.4") for line in lines)
    assert any(line.startswith("  Detail  X.4.8") for line in lines)
    assert "Possible causes:" in out and "Troubleshooting:" in out
    assert "Next: mailprobe mx DOMAIN" in out
    assert max(len(line) for line in lines) <= 80
    assert all(line == line.rstrip() for line in lines)


def test_seed_code_shows_exchange_label(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ndr", "5.7.1")
    assert code == 0
    assert "[RFC 3463] X.7.1" in out
    if (Path(__file__).parents[2] / "mailprobe" / "data" / "ndr_vendor.json").exists():
        assert "[Exchange 2000/2003] 5.7.1" in out
    assert "Next: mailprobe relay-test HOST" in out


def test_generic_and_reply_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ndr", "4.2.9", "550")
    assert code == 0
    assert "Generic explanation" in out
    assert "Temporary: the sending server keeps the message and retries." in out
    assert "[SMTP (RFC 5321)] 550" in out


def test_code_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "ndr", "4.2.2")
    assert code == 0
    assert doc["command"] == "ndr" and doc["status"] == "healthy" and doc["exit_code"] == 0
    assert doc["inputs"] == {"codes": ["4.2.2"]}
    results = doc["results"]
    assert results["mode"] == "codes" and results["bounce"] is None and results["entries"] == []
    (query,) = results["queries"]
    assert query["kind"] == "status-code" and query["status_code"] == "4.2.2"
    (item,) = query["explanations"]
    assert item["class_digit"] == 4 and item["subject"] == 2 and item["detail"] == 2
    assert item["generic"] is False and "retries" in item["summary"]
    assert item["meanings"][0]["label"] == "RFC 3463"
    assert set(item) >= {
        "code",
        "kind",
        "class_name",
        "class_meaning",
        "subject_name",
        "subject_meaning",
        "detail_meaning",
        "title",
        "causes",
        "fixes",
        "related",
        "next_commands",
    }


def test_reply_line_forms(capsys: pytest.CaptureFixture[str]) -> None:
    for line in (
        "550 5.1.1 <bob@example.com>: Recipient address rejected",
        "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##",
        "#<exchange.contoso.com #5.1.1 smtp;550 5.1.1 User unknown> #SMTP#",
    ):
        code, doc = run_json(capsys, "ndr", line)
        assert code == 0
        (query,) = doc["results"]["queries"]
        assert query["kind"] == "reply-line"
        assert (query["reply_code"], query["status_code"]) == ("550", "5.1.1")
    code, out, _ = run(capsys, "ndr", "550 5.1.1 <bob@example.com>: Recipient address rejected")
    assert out.startswith("Reply: 550 5.1.1")
    assert "Next: mailprobe check example.com" in out


def test_bounce_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(FIXTURES / "postfix_multi.eml")
    code, out, _ = run(capsys, "ndr", "--file", path)
    assert code == 0
    assert "Format:      rfc3464, postfix" in out
    assert "bob@example.com" in out and "carol@example.net" in out
    assert "5.2.2 552" in out
    code, doc = run_json(capsys, "ndr", "-f", path)
    bounce = doc["results"]["bounce"]
    assert doc["results"]["mode"] == "bounce" and doc["inputs"] == {"file": path}
    assert [r["recipient"] for r in bounce["recipients"]] == [
        "bob@example.com",
        "carol@example.net",
    ]
    first = bounce["recipients"][0]
    assert (
        first["action"] == "failed" and first["status"] == "5.1.1" and first["reply_code"] == "550"
    )
    assert first["found_in"] == "delivery-status" and first["remote_mta"] == "mx1.example.com"
    assert [e["code"] for e in bounce["explanations"]] == ["5.1.1", "550", "5.2.2", "552"]


def test_bounce_stdin_delayed_and_failed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, (FIXTURES / "dsn_delayed_failed.eml").read_bytes())
    code, doc = run_json(capsys, "ndr", "-")
    assert code == 0 and doc["inputs"] == {"file": "standard input"}
    actions = {r["recipient"]: r["action"] for r in doc["results"]["bounce"]["recipients"]}
    assert actions == {"erin@example.com": "failed", "frank@slow.example.net": "delayed"}


def test_bounce_without_code_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ndr", "--file", str(FIXTURES / "no_code.eml"))
    assert code == 1
    assert "No delivery status code found" in out
    code, doc = run_json(capsys, "ndr", "--file", str(FIXTURES / "no_code.eml"))
    assert code == 1 and doc["status"] == "problem"
    assert doc["results"]["bounce"]["recipients"] == []


def test_list_and_search(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ndr", "--list", "--class", "5", "--subject", "7")
    assert code == 0 and "X.7.1" in out and "X.1.1" not in out
    code, doc = run_json(capsys, "ndr", "--search", "Relay")
    assert code == 0 and doc["results"]["mode"] == "search"
    assert doc["inputs"] == {"search": "Relay"}
    assert any(row["code"] == "X.7.1" for row in doc["results"]["entries"])
    assert set(doc["results"]["entries"][0]) == {
        "code",
        "source",
        "label",
        "reference",
        "title",
        "meaning",
    }
    code, out, _ = run(capsys, "ndr", "--search", "xyzzy-nothing")
    assert code == 1 and "No matching entries." in out


@pytest.mark.parametrize(
    "args",
    [
        ["6.1.1"],
        ["5.x.1"],
        ["5.1"],
        ["5.1.1.1"],
        [""],
        ["5.01.1"],
        ["no code in this text"],
        [],
        ["5.1.1", "--list"],
        ["--class", "5"],
        ["--list", "--class", "7"],
        ["-", "5.1.1"],
        ["--file", "/nonexistent/bounce.eml"],
        ["--file", str(FIXTURES / "latin1_not_mail.txt")],
        ["--search", " "],
    ],
)
def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = run(capsys, "ndr", *args)
    assert code == 2
    assert out == ""
    assert err.startswith("mailprobe: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01binary" * 1000, "binary"),
        (b"x" * (5 * 1024 * 1024 + 1), "larger than 5 MB"),
        (b"", "empty"),
    ],
)
def test_bad_stdin_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: bytes, message: str
) -> None:
    feed_stdin(monkeypatch, data)
    code, out, err = run(capsys, "ndr", "-")
    assert code == 2 and out == "" and message in err


# --- through the installed console script ----------------------------------------------------

MAILPROBE = shutil.which("mailprobe")
needs_script = pytest.mark.skipif(MAILPROBE is None, reason="mailprobe script not installed")


def script(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    assert MAILPROBE is not None
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    return subprocess.run(
        [MAILPROBE, *args], input=data, capture_output=True, timeout=60, env=env, check=False
    )


@needs_script
def test_script_code_and_json() -> None:
    human = script("ndr", "5.4.8")
    assert human.returncode == 0 and human.stdout.startswith(b"5.4.8  ")
    machine = script("--json", "ndr", "550")
    doc = json.loads(machine.stdout)
    assert machine.returncode == 0 and doc["results"]["queries"][0]["reply_code"] == "550"


@needs_script
def test_script_stdin_bounce_and_errors() -> None:
    ok = script("ndr", "-", data=(FIXTURES / "gmail.eml").read_bytes())
    assert ok.returncode == 0 and b"nobody@example.com" in ok.stdout
    none = script("ndr", "-", data=(FIXTURES / "no_code.eml").read_bytes())
    assert none.returncode == 1
    bad = script("ndr", "6.1.1")
    assert bad.returncode == 2 and bad.stderr.startswith(b"mailprobe: error: ")
    assert b"Traceback" not in bad.stderr
    big = script("ndr", "-", data=os.urandom(10 * 1024 * 1024))
    assert big.returncode == 2 and b"larger than 5 MB" in big.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ndr", "5.4.8"],
        ["--json", "ndr", "550 5.1.1 <bob@example.com>: Recipient address rejected"],
        ["ndr", "4.2.9", "550", "--no-color"],
    ],
)
def test_fast_path_matches_typer_path(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    from mailprobe.cli.ndr_run import fast_path

    assert fast_path(args) is not None  # taken (and its output discarded)
    capsys.readouterr()
    fast = run(capsys, *args)
    slow = run(capsys, *args, "--timeout", "5")  # an option the fast path leaves to typer
    assert fast_path([*args, "--timeout", "5"]) is None
    capsys.readouterr()
    if "--json" in args:
        assert json.loads(fast[1])["results"] == json.loads(slow[1])["results"]
    else:
        assert fast == slow


@pytest.mark.parametrize(
    "args",
    [["ndr"], ["ndr", "--list"], ["ndr", "-h"], ["mx", "example.com"], ["ndr", "-v", "5.1.1"]],
)
def test_fast_path_declines(args: list[str]) -> None:
    from mailprobe.cli.ndr_run import fast_path

    assert fast_path(args) is None


def test_docs_examples_are_current(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The examples in docs/ndr.md are real output (lines shown before '...')."""
    import re
    import shlex

    root = Path(__file__).parents[2]
    monkeypatch.chdir(root)  # the examples use paths relative to the repository
    doc = (root / "docs" / "ndr.md").read_text(encoding="utf-8")
    examples = re.findall(r"```\n\$ mailprobe ([^\n]+)\n(.*?)```", doc, re.S)
    assert len(examples) >= 4
    for command, shown in examples:
        expected = [line for line in shown.rstrip("\n").splitlines() if line != "..."]
        _, out, _ = run(capsys, *shlex.split(command))
        assert out.splitlines()[: len(expected)] == expected, f"docs/ndr.md is stale: {command}"
