"""`mailprobe ndr` stays light: no network libraries, and the ndr core imports no UI library."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("dns", "aiosmtplib", "httpx")


def _modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


def _top_level(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_ndr_command_imports_no_network_library() -> None:
    modules = _modules_after(
        "import contextlib, io\n"
        "from mailprobe.cli.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['ndr', '5.4.8']) == 0\n"
        "    assert main(['--json', 'ndr', '550 5.1.1 user unknown']) == 0\n"
    )
    assert not _top_level(modules) & set(HEAVY)


def test_ndr_core_imports_no_ui_library() -> None:
    modules = _modules_after(
        "import mailprobe.ndr.bounce, mailprobe.ndr.query, mailprobe.ndr.explain\n"
        "mailprobe.ndr.query.explain_arguments(['5.4.8'])\n"
    )
    assert not _top_level(modules) & {"rich", "typer", *HEAVY}
