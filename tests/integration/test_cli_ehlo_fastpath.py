"""The typer-free route of `mailprobe ehlo` (cli/ehlo_run.fast_path) gives the same result as the
typer command, and hands every form it does not handle back to typer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from mailprobe.cli.app import app
from mailprobe.cli.ehlo_run import _parse
from mailprobe.cli.entry import main
from mailprobe.cli.runtime import reset_globals
from tests.support.peers import SmtpPeer


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


def stable(document: dict[str, Any]) -> dict[str, Any]:
    """The document without times and ports (they differ between two runs)."""
    for probe in document["results"]["probes"]:
        probe["transcript"] = [(line["side"], line["text"]) for line in probe["transcript"]]
        probe["timings"] = [t["step"] for t in probe["timings"]]
    return document


def via_typer(args: list[str]) -> int:
    reset_globals()
    command = typer.main.get_command(app)
    result = command.main(args=args, prog_name="mailprobe", standalone_mode=False)
    return int(result)


@pytest.mark.parametrize(
    "extra",
    [
        ["--json"],
        ["--expect", "exchange2000", "--json", "--from", "a@b.test", "--to", "c@d.test"],
        ["--expect-verbs=TURN,SIZE", "--no-starttls", "--json", "-v"],
    ],
)
def test_same_result_both_routes(
    capsys: pytest.CaptureFixture[str], exchange2000_peer: SmtpPeer, extra: list[str]
) -> None:
    args = ["ehlo", exchange2000_peer.address, "-p", str(exchange2000_peer.port), *extra]
    assert _parse(args) is not None
    fast_code = main(args)
    fast_out, _ = capsys.readouterr()
    typer_code = via_typer(args)
    typer_out, _ = capsys.readouterr()
    assert fast_code == typer_code
    assert stable(json.loads(fast_out)) == stable(json.loads(typer_out))


@pytest.mark.parametrize(
    "args",
    [
        ["ehlo", "--help"],
        ["ehlo", "h", "--user", "u"],
        ["ehlo", "h", "--port", "0"],
        ["ehlo", "h", "--port", "x"],
        ["ehlo", "h", "--timeout", "0"],
        ["ehlo", "h", "--list-profiles"],
        ["ehlo", "h", "--from"],
        ["ehlo", "h", "i"],
        ["--port", "25", "ehlo", "h"],
        ["mx", "ehlo"],
        ["ehlo", "h", "--unknown"],
    ],
)
def test_other_forms_go_to_typer(args: list[str]) -> None:
    assert _parse(args) is None


def test_parse_forms() -> None:
    parsed = _parse(
        ["--json", "ehlo", "--to", "a@b", "h", "--to=c@d", "-p", "26", "--timeout=3", "-vv"]
    )
    assert parsed is not None
    ehlo_args, globals_ = parsed
    assert ehlo_args.host == "h" and ehlo_args.port == 26
    assert ehlo_args.recipients == ["a@b", "c@d"]
    assert globals_ == {
        "json_output": True,
        "timeout": 3.0,
        "config": None,
        "no_color": False,
        "verbose": 2,
        "output_format": None,
    }


def test_fast_route_does_not_import_typer(exchange2000_peer: SmtpPeer, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from mailprobe.cli.entry import main\n"
        f"rc = main(['ehlo', '{exchange2000_peer.address}', '-p', '{exchange2000_peer.port}',"
        " '--json', '--timeout', '10'])\n"
        "print('typer' in sys.modules, 'pydantic' in sys.modules, rc, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPROBE_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.stderr.strip() == "False False 1", result.stderr
    assert json.loads(result.stdout)["command"] == "ehlo"
