"""`mailprobe ndr` recognises frequent reply texts beside the codes, on reply lines and bounces."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from mailprobe.schema import validate_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bounces"
GREYLISTED = "451 4.7.1 Greylisted: please try again in 5 minutes"


@pytest.fixture(autouse=True)
def _plain_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent-mailprobe-test")
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out = run(capsys, "--json", *args)
    document = json.loads(out)
    assert validate_document(document) == []
    return code, document


def test_greylisting_line_is_explained_by_its_text_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "ndr", GREYLISTED)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Reply: {GREYLISTED}"
    text_at = lines.index("What the text says: Greylisting")
    codes_at = next(i for i, line in enumerate(lines) if line.startswith("What the codes say"))
    x71_at = next(i for i, line in enumerate(lines) if line.startswith("4.7.1  "))
    assert text_at < codes_at < x71_at
    told = " ".join(line.strip() for line in lines[text_at:codes_at])
    assert "nothing to fix, the sending server retries by itself" in told
    assert 'Recognised: "Greylisted"' in told
    # The code's generic meaning is still there, after the text's, and labelled as generic.
    assert "generic meaning" in " ".join(lines[codes_at : codes_at + 2])
    assert lines[x71_at] == "4.7.1  Delivery not authorized, message refused"
    assert any(line.startswith("451  ") for line in lines[x71_at:])
    assert max(len(line) for line in lines) <= 80


def test_greylisting_line_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "ndr", GREYLISTED)
    assert code == 0
    (query,) = doc["results"]["queries"]
    assert [e["code"] for e in query["explanations"]] == ["4.7.1", "451"]
    (match,) = query["text_matches"]
    assert match["key"] == "greylisting" and match["matched"] == "Greylisted"
    assert set(match) == {"key", "title", "matched", "meaning", "who", "actions"}
    assert "nothing to fix" in match["who"] and match["actions"]


def test_no_recognised_text_leaves_output_as_it_was(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = run(capsys, "ndr", "550 5.1.1 <bob@example.com>: Recipient address rejected")
    assert "What the text says" not in out and "What the codes say" not in out
    _, doc = run_json(capsys, "ndr", "5.7.1", "451")
    assert all(q["text_matches"] == [] for q in doc["results"]["queries"])


def test_bounce_texts(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(FIXTURES / "postfix_greylisted.eml")
    code, out = run(capsys, "ndr", "--file", path)
    assert code == 0
    lines = out.splitlines()
    grey = lines.index("What the text says: Greylisting")
    assert lines[grey + 1] == "  For: ivan@example.com"
    full = lines.index("What the text says: Mailbox full")
    assert lines[full + 1] == "  For: olga@example.net"
    codes_at = next(i for i, line in enumerate(lines) if line.startswith("What the codes say"))
    first_code = next(i for i, line in enumerate(lines) if line.startswith("4.2.0  "))
    assert grey < full < codes_at < first_code
    code, doc = run_json(capsys, "ndr", "--file", path)
    keys = {
        r["recipient"]: [m["key"] for m in r["text_matches"]]
        for r in doc["results"]["bounce"]["recipients"]
    }
    assert keys == {"ivan@example.com": ["greylisting"], "olga@example.net": ["mailbox-full"]}


def test_bounce_names_every_recipient_of_a_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = "".join(
        f"<user{n}@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1 "
        f"<user{n}@example.com>: Recipient address rejected: User unknown\n\n"
        for n in range(7)
    )
    data = ("The mail system\n\n" + blocks).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out = run(capsys, "ndr", "-")
    assert code == 0
    assert out.count("What the text says: No such recipient") == 1
    assert "  For: user0@example.com, user1@example.com, user2@example.com," in out
    assert "user4@example.com and 2 more" in out


def test_fast_path_and_typer_path_agree(capsys: pytest.CaptureFixture[str]) -> None:
    fast = run(capsys, "ndr", GREYLISTED)
    slow = run(capsys, "ndr", GREYLISTED, "--timeout", "5")
    assert fast == slow


def test_code_lookups_do_not_load_the_text_table() -> None:
    probe = (
        "import contextlib, io, sys\n"
        "from mailprobe.cli.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['ndr', '5.4.8']) == 0\n"
        "print('mailprobe.ndr.texts' in sys.modules, 'tomllib' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_colour_output_is_the_same_text() -> None:
    import re

    from rich.console import Console

    from mailprobe.ndr.bounce import parse_bounce
    from mailprobe.ndr.model import NdrReport
    from mailprobe.ndr.query import explain_arguments
    from mailprobe.render.ndr import render_ndr, write_plain

    data = (FIXTURES / "postfix_greylisted.eml").read_bytes()
    for report in (
        NdrReport(mode="codes", queries=explain_arguments([GREYLISTED])),
        NdrReport(mode="bounce", bounce=parse_bounce(data, "bounce.eml")),
    ):
        plain = io.StringIO()
        write_plain(plain, report, 80)
        console = Console(
            file=io.StringIO(), width=80, force_terminal=True, color_system="standard"
        )
        with console.capture() as capture:
            render_ndr(console, report)
        coloured = capture.get()
        assert "\x1b[" in coloured
        assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain.getvalue()
