"""The wheel and sdist (``python -m build``) carry what a packager and a user need: the package
data, the completion scripts (installed under share/), and complete metadata."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is needed to copy the tracked files")
    source = tmp_path_factory.mktemp("source")
    # Build from the tracked files only, so that the checkout's build/ is never touched.
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.split(b"\0")
    for name in filter(None, files):
        target = source / name.decode()
        if (ROOT / name.decode()).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name.decode(), target)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_wheel_installs_the_completion_scripts_and_data(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = "mailprobe-0.1.0.data/data/share/"
    assert {
        data + "bash-completion/completions/mailprobe.bash",
        data + "zsh/site-functions/_mailprobe",
        data + "fish/vendor_completions.d/mailprobe.fish",
    } <= names
    for table in (
        "ndr_rfc.json",
        "relay_variants.toml",
        "verb_profiles.toml",
        "server_guesses.toml",
        "reply_texts.toml",
    ):
        assert f"mailprobe/data/{table}" in names, table
    assert "mailprobe/py.typed" in names
    # every module of the source tree (a directory without __init__.py is left out silently)
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "mailprobe").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    for table in ("blocklists.toml", "exchange_queues.toml"):
        assert f"mailprobe/data/{table}" in names, table
    metadata = zipfile.ZipFile(wheel).read("mailprobe-0.1.0.dist-info/METADATA").decode()
    assert "Classifier: Environment :: Console" in metadata
    assert "Requires-Python: >=3.11" in metadata
    assert "License-Expression: MIT" in metadata


def test_sdist_carries_the_completions_docs_and_tests_data(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    for path in (
        "completions/mailprobe.bash",
        "completions/_mailprobe",
        "completions/mailprobe.fish",
        "README.md",
        "docs/findings.md",
    ):
        assert f"mailprobe-0.1.0/{path}" in names, path
