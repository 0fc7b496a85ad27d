"""`mailprobe blocklist` (and check's Blocklists step) against a real rbldnsd on loopback.

The DNSBL lab of tests/support/rbldnsd.py (fixture ``dnsbl_lab``) serves zones named like the
real lists on 127.0.14.1 (``spec``); 127.0.14.2 is "a public resolver Spamhaus refuses"
(127.255.255.254, the other lists empty so their test points are not listed), 127.0.14.3 a rate
limited one (127.255.255.255), 127.0.14.9 a server that never answers. Expected facts are read
from the lab (``DnsblLab``), not repeated here. Host names and MX records come from a dnspython
server (tests/support/dnsserver.py) on 127.0.14.53, the lists from rbldnsd with ``--zone
NAME@SERVER``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from mailprobe.schema import build_schema, validate_document
from tests.support.dnsserver import start_dns_server
from tests.support.rbldnsd import DnsblLab

ZEN, SPAMCOP, DBL = "zen.spamhaus.org", "bl.spamcop.net", "dbl.spamhaus.org"


def run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, ["--json", "blocklist", *args])
    doc = json.loads(out)
    assert doc["command"] == "blocklist" and doc["exit_code"] == code, err
    return code, doc


def listing(doc: dict[str, Any], item: str, zone: str) -> dict[str, Any]:
    (found,) = [i for i in doc["results"]["items"] if i["item"] == item]
    (answer,) = [x for x in found["listings"] if x["zone"] == zone]
    return answer


def codes(doc: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in doc["results"]["findings"]}


def test_sbl_listing_with_its_reason(
    dnsbl_lab: DnsblLab, capsys: pytest.CaptureFixture[str]
) -> None:
    sbl = dnsbl_lab.sbl
    code, doc = run_json(capsys, [sbl.target, "--server", dnsbl_lab.spec])
    assert code == 1
    zen = listing(doc, sbl.target, ZEN)
    assert zen["status"] == "listed" and tuple(zen["codes"]) == sbl.codes
    assert zen["list_class"] == "block" and zen["meanings"][0].startswith("SBL")
    assert sbl.txt and zen["reason"] == sbl.txt
    assert zen["lookup_url"].endswith(sbl.target)
    for zone in ("bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com"):
        assert listing(doc, sbl.target, zone)["status"] == "not-listed"
    assert listing(doc, sbl.target, DBL)["status"] == "skipped"  # an address on a domain list
    assert codes(doc)["blocklist.listed"] == "fail"
    assert validate_document(doc, build_schema()) == []
    assert {z["zone"]: z["status"] for z in doc["results"]["zones"]} == dict.fromkeys(
        dnsbl_lab.zones, "ok"
    )


def test_pbl_only_is_a_policy_listing(
    dnsbl_lab: DnsblLab, capsys: pytest.CaptureFixture[str]
) -> None:
    pbl = dnsbl_lab.pbl_only
    code, doc = run_json(capsys, [pbl.target, "--server", dnsbl_lab.spec])
    zen = listing(doc, pbl.target, ZEN)
    assert zen["status"] == "listed" and zen["list_class"] == "policy"
    assert tuple(zen["codes"]) == pbl.codes and all("PBL" in m for m in zen["meanings"])
    found = codes(doc)
    assert found["blocklist.policy-listed"] == "warn" and "blocklist.listed" not in found
    assert code == 1


def test_spamcop_only_and_a_clean_address(
    dnsbl_lab: DnsblLab, capsys: pytest.CaptureFixture[str]
) -> None:
    only = dnsbl_lab.spamcop_only
    code, doc = run_json(capsys, [only.target, "--server", dnsbl_lab.spec])
    assert code == 1
    assert listing(doc, only.target, SPAMCOP)["status"] == "listed"
    assert listing(doc, only.target, SPAMCOP)["reason"] == only.txt
    assert listing(doc, only.target, ZEN)["status"] == "not-listed"
    code, doc = run_json(capsys, [dnsbl_lab.clean_ipv4, "--server", dnsbl_lab.spec])
    assert code == 0
    statuses = {x["status"] for x in doc["results"]["items"][0]["listings"]}
    assert statuses == {"not-listed", "skipped"}
    assert codes(doc) == {"blocklist.not-listed": "ok"}


def test_listed_ipv6_address_in_nibble_form(
    dnsbl_lab: DnsblLab, capsys: pytest.CaptureFixture[str]
) -> None:
    six = dnsbl_lab.ipv6
    code, doc = run_json(capsys, [six.target, "--server", dnsbl_lab.spec])
    assert code == 1
    zen = listing(doc, six.target, ZEN)
    assert zen["status"] == "listed" and zen["query"] == six.query_name
    assert zen["reason"] == six.txt
    for zone in ("bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com"):
        assert listing(doc, six.target, zone)["status"] == "skipped"  # IPv4-only lists


def test_public_resolver_refusal_is_never_listed(
    dnsbl_lab: DnsblLab, capsys: pytest.CaptureFixture[str]
) -> None:
    """Spamhaus's 127.255.255.254 is an error that says what to do, and the lists that answer
    NXDOMAIN for their own test point cannot say "not listed"."""
    code, doc = run_json(capsys, [dnsbl_lab.sbl.target, "--server", dnsbl_lab.refusing_spec])
    zen = listing(doc, dnsbl_lab.sbl.target, ZEN)
    assert zen["status"] == "refused" and dnsbl_lab.refused_code in zen["message"]
    assert "public" in zen["message"]
    spamcop = listing(doc, dnsbl_lab.sbl.target, SPAMCOP)
    assert spamcop["status"] == "untrusted"
    found = codes(doc)
    assert found["blocklist.query-refused"] == "warn" and found["blocklist.untrusted"] == "warn"
    assert "blocklist.listed" not in found and "blocklist.not-listed" not in found
    assert code == 1
    zones = {z["zone"]: z["status"] for z in doc["results"]["zones"]}
    assert zones[ZEN] == "refused" and zones[SPAMCOP] == "test-point-missing"
    # the text says what to do
    code, out, _err = run(
        capsys,
        ["--no-color", "blocklist", dnsbl_lab.sbl.target, "--server", dnsbl_lab.refusing_spec],
    )
    assert "your own resolver" in out and "LISTED" not in out


def test_rate_limit_and_no_list_answering_is_exit_3(
    dnsbl_lab: DnsblLab, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [dnsbl_lab.clean_ipv4, "--server", dnsbl_lab.rate_limited_spec, "--zone", ZEN]
    code, doc = run_json(capsys, args)
    assert code == 3  # the only list asked refused: nothing is known
    zen = listing(doc, dnsbl_lab.clean_ipv4, ZEN)
    assert zen["status"] == "refused" and "too many" in zen["message"]
    assert doc["errors"] and "no list answered" in doc["errors"][0]["text"]


def test_a_list_that_never_answers_is_named(
    dnsbl_lab: DnsblLab, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        dnsbl_lab.sbl.target, "--server", dnsbl_lab.spec, "--timeout", "0.5",
        "--zone", ZEN, "--add-zone", f"dead.example.test@{dnsbl_lab.silent_spec}",
    ]  # fmt: skip
    code, doc = run_json(capsys, args)
    dead = listing(doc, dnsbl_lab.sbl.target, "dead.example.test")
    assert dead["status"] == "error" and "no answer" in dead["message"]
    assert codes(doc)["blocklist.unanswered"] == "info"
    assert listing(doc, dnsbl_lab.sbl.target, ZEN)["status"] == "listed"
    assert code == 1  # the listing decides; the silent list is said, not hidden


@pytest.fixture
def names(dnsbl_lab: DnsblLab) -> Any:
    """A DNS server for host names and MX records: mx.spammy points at the SBL address."""
    zones = {
        dnsbl_lab.dbl_spammy.target: f"@ A {dnsbl_lab.pbl_only.target}\n"
        f"@ MX 10 mx.{dnsbl_lab.dbl_spammy.target}.\nmx A {dnsbl_lab.sbl.target}\n"
        f"mx AAAA {dnsbl_lab.ipv6.target}\n",
        dnsbl_lab.clean_domain: f"@ MX 10 mx.{dnsbl_lab.clean_domain}.\n"
        f"mx A {dnsbl_lab.clean_ipv4}\n",
    }
    with start_dns_server(zones, address="127.0.14.53") as handle:
        yield handle


def _lists_at(lab: DnsblLab) -> list[str]:
    return [w for zone in lab.zones for w in ("--zone", f"{zone}@{lab.spec}")]


def test_host_and_mx_targets(
    dnsbl_lab: DnsblLab, names: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    spammy = dnsbl_lab.dbl_spammy.target
    code, doc = run_json(capsys, ["--mx", spammy, "--server", names.spec, *_lists_at(dnsbl_lab)])
    assert code == 1 and doc["results"]["target_kind"] == "mx"
    items = {i["item"]: i for i in doc["results"]["items"]}
    assert set(items) == {dnsbl_lab.sbl.target, dnsbl_lab.ipv6.target, spammy}
    assert items[dnsbl_lab.sbl.target]["source"] == f"mx.{spammy} (MX 10)"
    assert listing(doc, spammy, DBL)["status"] == "listed"  # the domain on the domain list
    assert tuple(listing(doc, spammy, DBL)["codes"]) == dnsbl_lab.dbl_spammy.codes
    assert listing(doc, dnsbl_lab.ipv6.target, ZEN)["status"] == "listed"
    # a host name: its own address, and the name on DBL
    code, doc = run_json(capsys, [spammy, "--server", names.spec, *_lists_at(dnsbl_lab)])
    assert {i["item"] for i in doc["results"]["items"]} == {dnsbl_lab.pbl_only.target, spammy}
    assert code == 1
    code, doc = run_json(
        capsys, ["--mx", dnsbl_lab.clean_domain, "--server", names.spec, *_lists_at(dnsbl_lab)]
    )
    assert code == 0, codes(doc)


def test_batch_in_order_json_lines_and_text(
    dnsbl_lab: DnsblLab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    targets = [dnsbl_lab.sbl.target, dnsbl_lab.clean_ipv4, dnsbl_lab.psbl_only.target]
    listing_file = tmp_path / "targets.txt"
    listing_file.write_text("# outbound addresses\n" + "\n".join(targets) + "\n")
    code, out, _err = run(
        capsys, ["--json", "blocklist", "-f", str(listing_file), "--server", dnsbl_lab.spec]
    )
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["inputs"]["target"] for d in docs] == targets
    assert [d["exit_code"] for d in docs] == [1, 0, 1] and code == 1
    code, out, _err = run(
        capsys, ["--no-color", "blocklist", "-f", str(listing_file), "--server", dnsbl_lab.spec]
    )
    lines = out.splitlines()
    assert lines[0].startswith(dnsbl_lab.sbl.target) and "LISTED Spamhaus ZEN" in lines[0]
    assert lines[1].startswith(dnsbl_lab.clean_ipv4) and "not listed" in lines[1]
    assert "Passive Spam Block List" in lines[2]
    assert "Summary: 3 targets: 1 healthy, 2 problem" in out


@pytest.mark.parametrize(
    "args",
    [
        ["not-an-ip.."],
        ["192.0.2.1", "--zone", ""],
        ["192.0.2.1\r\nQUIT"],
        ["--mx", "a..b"],
        ["192.0.2.1", "--zone", "zen.spamhaus.org@"],
        ["192.0.2.1", "--zone", "bad zone"],
        [],
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["blocklist", *args, "--server", "127.0.0.1:1"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("mailprobe: error: "), err


def test_check_has_a_blocklists_step(
    dnsbl_lab: DnsblLab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """check asks the domain on DBL (exchanger addresses only when public: this one is on
    loopback, where nothing listens, and is never asked) with the lists of the config key."""
    monkeypatch.setenv(
        "MAILPROBE_BLOCKLIST_ZONES", ",".join(f"{z}@{dnsbl_lab.spec}" for z in dnsbl_lab.zones)
    )
    spammy = dnsbl_lab.dbl_spammy.target
    zones = {spammy: f"@ MX 10 mx.{spammy}.\nmx A 127.0.14.60\n"}
    with start_dns_server(zones, address="127.0.14.54") as dns:
        args = [
            "check", spammy, "--server", dns.spec, "--no-relay", "--allow-private",
            "--timeout", "1", "--smtp-port", "1",
        ]  # fmt: skip
        code, out, _err = run(capsys, ["--json", *args])
        _code, text, _err = run(capsys, ["--no-color", *args])
        _code, skipped, _err = run(capsys, ["--json", *args, "--no-blocklist"])
    doc = json.loads(out)
    assert code == 3  # the exchanger is unreachable: the rest is still reported
    steps = {s["name"]: s for s in doc["results"]["steps"]}
    step = steps["blocklist"]
    assert step["status"] == "problem"
    assert {f["code"] for f in step["findings"]} >= {"blocklist.listed"}
    (item,) = doc["results"]["blocklist"]  # the domain: 127.0.14.60 is never asked
    assert item["item"] == spammy
    dbl = next(x for x in item["listings"] if x["zone"] == DBL)
    assert dbl["status"] == "listed"
    assert "Blocklists  PROBLEMS FOUND" in text and "LISTED on Spamhaus DBL" in text
    steps = {s["name"]: s for s in json.loads(skipped)["results"]["steps"]}
    assert steps["blocklist"]["status"] == "skipped"
    assert steps["blocklist"]["reason"] == "--no-blocklist"


def test_a_lists_reason_never_reaches_the_terminal_raw(capsys: pytest.CaptureFixture[str]) -> None:
    """The TXT reason is the list's text, like a peer's: controls are shown, not obeyed."""
    zone = "evil-bl.test"
    text = '5.2.0.192 A 127.0.0.2\n5.2.0.192 TXT "listed \\027[2J\\027]0;pwned\\007 <b>x</b>"\n'
    with start_dns_server({zone: text}, address="127.0.14.55") as dns:
        args = ["192.0.2.5", "--zone", f"{zone}@{dns.spec}", "--no-self-test"]
        code, out, _err = run(capsys, ["--no-color", "blocklist", *args])
        json_code, doc = run_json(capsys, args)
    assert code == json_code == 1
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out and "<b>x</b>" in out  # visible, and no markup was interpreted
    reason = listing(doc, "192.0.2.5", zone)["reason"]
    assert "\x1b" not in reason and reason.startswith("listed \\x1b[2J")
