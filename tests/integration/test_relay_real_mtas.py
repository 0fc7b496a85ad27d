"""relay-test against real third-party MTAs (Exim from its Debian package, Haraka from npm) in
the configurations administrators run, started on loopback by tests/support/exim.py and
haraka.py: the verdict must hold on each, and the default run must send nothing.

=============  ===============================================  ===============  ============
mode           RCPT: known / made-up local / other domain; DATA  default run      with --send
=============  ===============================================  ===============  ============
closed         250 / 550 / 550                                   CLOSED           (no send)
own-catchall   250 / 250 / 550: own-domain forms prove nothing   CLOSED           (no send)
open           250 / 250 / 250, message accepted                 INCONCLUSIVE     OPEN
data-decides   250 / 250 / 250, refused at DATA                  INCONCLUSIVE     CLOSED
=============  ===============================================  ===============  ============

A server that accepts every recipient at RCPT cannot be judged from RCPT replies (an open relay
and an anti-harvesting front end answer alike): INCONCLUSIVE, exit 1, until --send tries it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mailprobe.checks.relay import routing_domain
from mailprobe.cli.app import main
from tests.integration.test_real_mtas import CASES, mta  # noqa: F401  (the fixture)
from tests.support.mta import MtaInstance

EXPECTED = {
    "closed": ("closed", None),
    "own-catchall": ("closed", None),
    "open": ("inconclusive", "open"),
    "data-decides": ("inconclusive", "closed"),
}
READER = "inbox@mailprobe-reader.example"


def _relay(capsys: pytest.CaptureFixture[str], instance: MtaInstance, *extra: str) -> Any:
    args = [
        "relay-test",
        instance.address,
        "--port",
        str(instance.port),
        "--helo",
        "probe.mailprobe.test",
        "--timeout",
        "5",
        "--json",
        *extra,
    ]
    code = main(args)
    out, err = capsys.readouterr()
    assert err == "", err
    document = json.loads(out)
    (report,) = document["results"]["reports"]
    return code, report


@pytest.mark.parametrize("mta", CASES, indirect=True)
def test_relay_verdict_on_a_real_mta(
    mta: MtaInstance,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    mode = mta.mode
    default, with_send = EXPECTED[mode]
    queued_before = mta.queued_messages()  # the smoke tests share the instance
    code, report = _relay(capsys, mta)
    assert report["verdict"] == default, report["reason"]
    assert report["own_domain"] == "own.test"
    assert code == (0 if default == "closed" else 1)
    evidence = {v["name"]: v["evidence"] for v in report["variants"]}
    if mode == "own-catchall":
        # the own domain takes any local part: the own-domain forms are unconfirmed
        assert evidence["percent-own"] == "unconfirmed-local"
        assert "own-domain forms unconfirmed" in report["reason"]
    if default == "inconclusive":
        assert "accepts every recipient at RCPT" in report["reason"]
    # the default run never sends a message
    assert report["sends"] == []
    assert mta.queued_messages() == queued_before
    assert mta.external_recipients_queued() == []

    if with_send is None:
        return
    code, report = _relay(capsys, mta, "--send", "--to", READER)
    assert report["verdict"] == with_send, report["reason"]
    decided = report["deciding_variants"]
    assert decided, report
    # never decided by a message to the server's own domain (a local delivery)
    local = {"own.test", "mx.own.test", report["address_literal"]}
    assert all(routing_domain(s["rcpt_to"]) not in local for s in report["sends"])
    if with_send == "open":
        assert report["sent"]["outcome"] == "accepted"
        assert code == 1
    else:
        assert {s["outcome"] for s in report["sends"]} == {"rejected-at-data"}
        assert code == 0


@pytest.mark.parametrize("mta", [c for c in CASES if c.values[0][1] == "closed"], indirect=True)
def test_vrfy_of_a_real_mta_claims_no_enumeration_it_cannot_show(
    mta: MtaInstance,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _code, report = _relay(capsys, mta)
    enumeration = report["enumeration"]
    known, unknown = enumeration["vrfy_known"], enumeration["vrfy_unknown"]
    differs = known["code"] in (250, 251) and unknown["code"] in (550, 551, 553)
    assert enumeration["vrfy_reveals_users"] is differs
    codes = {f["code"] for f in report["findings"]}
    assert ("relay.vrfy-enumeration" in codes) is differs
