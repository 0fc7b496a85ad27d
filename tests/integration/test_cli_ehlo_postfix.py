"""`mailprobe ehlo` against real Postfix instances on loopback (tests/support/postfix.py):
STARTTLS with the test CA, Cyrus SASL after TLS, MAIL/RCPT/DATA, and one run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.postfix import PostfixInstance

pytestmark = pytest.mark.postfix


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--json"])
    out, _err = capsys.readouterr()
    document: dict[str, Any] = json.loads(out)
    return code, document


def target(instance: PostfixInstance) -> list[str]:
    return ["ehlo", instance.address, "--port", str(instance.port), "--timeout", "10"]


def codes(probe: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in probe["findings"]}


def test_postfix_starttls_auth_and_envelope(
    capsys: pytest.CaptureFixture[str],
    postfix_tls: PostfixInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert postfix_tls.tls_cert is not None and postfix_tls.sasl_password is not None
    monkeypatch.setenv("PROBE_PW", postfix_tls.sasl_password)
    before = postfix_tls.accepted_count()
    code, doc = run_json(
        capsys,
        *target(postfix_tls),
        "--expect",
        "postfix",
        "--ca-file",
        str(postfix_tls.tls_cert.ca),
        "--user",
        str(postfix_tls.sasl_user),
        "--password-env",
        "PROBE_PW",
        "--from",
        f"probe@{postfix_tls.domain}",
        "--to",
        f"someone@{postfix_tls.domain}",
    )
    (probe,) = doc["results"]["probes"]
    assert doc["errors"] == []
    assert probe["banner"][0].startswith(postfix_tls.hostname)
    assert "STARTTLS" in probe["advertised"]["keywords"]
    tls = probe["tls"]
    assert tls["verified"] is True and tls["name_matches"] is True
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert "AUTH" in probe["verbs_only_after_tls"]
    assert probe["auth"]["succeeded"] is True
    assert probe["auth"]["over_tls"] is True
    assert probe["mail"]["outcome"] == "accepted"
    assert probe["rcpt"][0]["outcome"] == "accepted"
    assert probe["comparison"]["missing"] == []
    assert code == 0, probe["findings"]
    # no --data: nothing was queued
    assert postfix_tls.queued_messages() == []
    assert postfix_tls.accepted_count() == before


def test_postfix_data_is_queued(
    capsys: pytest.CaptureFixture[str], postfix_tls: PostfixInstance
) -> None:
    assert postfix_tls.tls_cert is not None
    code, doc = run_json(
        capsys,
        *target(postfix_tls),
        "--ca-file",
        str(postfix_tls.tls_cert.ca),
        "--from",
        f"probe@{postfix_tls.domain}",
        "--to",
        f"postmaster@{postfix_tls.domain}",
        "--data",
        "--subject",
        "mailprobe queue test",
    )
    (probe,) = doc["results"]["probes"]
    assert probe["data"]["outcome"] == "accepted"
    assert "queued as" in probe["data"]["text"]
    assert probe["message_sent"] is True
    assert code == 0, probe["findings"]
    queued = postfix_tls.queued_messages()
    assert any(m.get("queue_name") == "hold" for m in queued)


def test_postfix_relay_denied_is_classified(
    capsys: pytest.CaptureFixture[str], postfix_plain: PostfixInstance
) -> None:
    code, doc = run_json(
        capsys,
        *target(postfix_plain),
        "--from",
        "probe@elsewhere.test",
        "--to",
        "victim@another.test",
    )
    (probe,) = doc["results"]["probes"]
    rcpt = probe["rcpt"][0]
    assert rcpt["code"] in (454, 554)
    assert rcpt["outcome"] in ("deferred", "rejected")
    assert rcpt["enhanced_code"] == f"{rcpt['code'] // 100}.7.1"
    assert code == 1


def test_postfix_plain_without_tls(
    capsys: pytest.CaptureFixture[str], postfix_plain: PostfixInstance
) -> None:
    code, doc = run_json(capsys, *target(postfix_plain))
    (probe,) = doc["results"]["probes"]
    assert codes(probe)["tls.not-offered"] == "warn"
    assert probe["advertised"]["size_limit"] == 10240000
    assert code == 1
    code, doc = run_json(capsys, *target(postfix_plain), "--expect", "postfix")
    (probe,) = doc["results"]["probes"]
    assert codes(probe)["tls.not-offered"] == "info"
    assert code == 0, probe["findings"]


def test_subprocess_run(postfix_plain: PostfixInstance, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPROBE_")}
    env.update({"XDG_CONFIG_HOME": str(tmp_path), "COLUMNS": "200", "NO_COLOR": "1"})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailprobe",
            "ehlo",
            postfix_plain.address,
            "--port",
            str(postfix_plain.port),
            "--expect",
            "postfix",
            "--timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ESMTP Postfix" in result.stdout
    assert " C: EHLO " in result.stdout
    assert " S: 250-PIPELINING" in result.stdout
    assert "ehlo.verbs-match" in result.stdout
    assert result.stderr == ""
