"""The root CLI: global options anywhere, exit codes, one-line errors, completions."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailprobe import __version__
from mailprobe.cli.app import main
from mailprobe.cli.completion import render_all

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mailprobe"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mailprobe {__version__}"


def test_python_dash_m_runs_the_same_app() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mailprobe", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"mailprobe {__version__}"


@pytest.mark.parametrize(
    "argv",
    [["--json", "ndr", "5.4.8"], ["ndr", "5.4.8", "--json"], ["ndr", "--json", "5.4.8"]],
)
def test_json_option_before_or_after_the_subcommand(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "ndr"
    assert doc["schema_version"] == 1
    assert doc["exit_code"] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["ndr", "5.4.8", "--bogus-option"],
        ["--timeout", "0", "ndr", "5.4.8"],
        ["ndr", "5.4.8", "--timeout", "-3"],
        ["ndr", "5.4.8", "--timeout", "soon"],
        ["no-such-command"],
    ],
)
def test_usage_errors_are_one_line_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("mailprobe: error: ")
    assert "Traceback" not in err


def test_bad_config_file_names_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("timeout = 5\nhelo_name = 'x'\n")
    assert main(["--config", str(config), "ndr", "5.4.8"]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "'helo_name'" in err and err.count("\n") == 1
    # The same option is accepted after the subcommand too.
    assert main(["ndr", "5.4.8", "--config", str(config)]) == 2


def test_environment_config_error_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILPROBE_TIMEOUT", "-1")
    assert main(["ndr", "5.4.8"]) == 2
    assert "MAILPROBE_TIMEOUT" in capsys.readouterr().err


def test_console_script_errors_have_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "MAILPROBE_CONFIG": str(tmp_path / "absent.toml")}
    done = subprocess.run(
        ["mailprobe", "ndr", "5.4.8"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "absent.toml" in done.stderr


def test_checked_in_completions_are_current() -> None:
    for name, text in render_all().items():
        checked_in = (ROOT / "completions" / name).read_text(encoding="utf-8")
        assert checked_in == text, (
            f"completions/{name} is stale: run python -m mailprobe.cli.completion completions"
        )


def test_bash_completion_script_is_valid_bash() -> None:
    done = subprocess.run(
        ["bash", "-n", str(ROOT / "completions" / "mailprobe.bash")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_install_completion_still_works(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    done = subprocess.run(
        ["mailprobe", "--install-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "mailprobe" in (tmp_path / ".bashrc").read_text()


def _imports(path: Path) -> set[str]:
    """Top-level package names imported at run time (``if TYPE_CHECKING`` blocks excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_cli_imports_typer_and_only_render_imports_rich() -> None:
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        imported = _imports(path)
        if "typer" in imported or "click" in imported:
            assert relative.startswith("cli/"), f"{relative} imports typer/click"
        if "rich" in imported:
            assert relative.startswith("render/"), f"{relative} imports rich"


def test_bare_command_shows_help_without_an_empty_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 2
    captured = capsys.readouterr()
    assert "Usage: mailprobe" in captured.out + captured.err
    assert "mailprobe: error:" not in captured.err
