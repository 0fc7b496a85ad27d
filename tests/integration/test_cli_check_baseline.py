"""`check --baseline PREVIOUS`: a run compared with an earlier run's JSON, end to end on loopback.

The lab (127.0.13.x): a DNS server (127.0.13.53) and two scripted SMTP peers with STARTTLS and a
test-CA certificate, ``mx1.base.test`` (127.0.13.1) and ``mx2.base.test`` (127.0.13.2). They
refuse mail from outside claiming a lab domain, accept ``postmaster`` and ``abuse`` of the lab
domains, refuse other local parts, and refuse every other recipient as relaying ("closed"), or
accept it (``Lab.relay = "open"``). Domains ``a.base.test`` (MX mx1 and mx2), ``b``, ``c``,
``gone`` and ``new`` (MX mx1), each with SPF, DMARC p=reject and TLS-RPT: every domain is
healthy (exit 0) until a test changes its zone with ``Lab.zone(...)``.

Each test runs ``check --json`` once, changes the zone (or the peer), runs again with
``--baseline`` and checks that the changes name exactly what changed.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from mailprobe.schema import validate_document
from tests.support.certs import TestCA
from tests.support.dnsserver import DnsServerHandle, start_dns_server
from tests.support.peers import SmtpCommand, SmtpPeer, is_plain_local

NET = "127.0.13"
DOMAINS = ("a.base.test", "b.base.test", "c.base.test", "gone.base.test", "new.base.test")
SPF = f"v=spf1 ip4:{NET}.0/24 -all"


@dataclasses.dataclass
class Lab:
    dns: DnsServerHandle
    peers: list[SmtpPeer]
    ca_file: Path
    relay: str = "closed"

    def zone(
        self,
        domain: str,
        *,
        mx: tuple[tuple[int, str], ...] = ((10, "mx1"),),
        dmarc: str = "reject",
        spf: str = SPF,
    ) -> None:
        lines = [f"@ MX {preference} {host}.base.test." for preference, host in mx]
        lines.append(f'@ TXT "{spf}"')
        lines.append(f'_dmarc TXT "v=DMARC1; p={dmarc}; rua=mailto:dmarc@{domain}"')
        lines.append(f'_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{domain}"')
        self.dns.set_zone(domain, "\n".join(lines) + "\n")

    def reset(self) -> None:
        self.relay = "closed"
        self.zone("a.base.test", mx=((10, "mx1"), (20, "mx2")))
        for domain in DOMAINS[1:]:
            self.zone(domain)

    def args(self, *extra: str) -> list[str]:
        return [
            "check",
            *extra,
            "--server",
            self.dns.spec,
            "--smtp-port",
            str(self.peers[0].port),
            "--allow-private",
            "--no-dnssec",
            "--ca-file",
            str(self.ca_file),
            "--helo",
            "probe.mailprobe.test",
        ]

    def rule(self, cmd: SmtpCommand) -> str | None:
        """Closed (or open, with ``relay = "open"``) to relaying; no outside lab senders."""
        address = cmd.address or ""
        if cmd.verb == "MAIL":
            outside = address.rpartition("@")[2].lower() in DOMAINS
            return "553 5.7.1 Sender address rejected: not from outside" if outside else None
        if cmd.verb != "RCPT" or cmd.session.sender is None:
            return None
        if is_plain_local(address, DOMAINS):
            known = address.rpartition("@")[0].lower() in ("postmaster", "abuse")
            return None if known else "550 5.1.1 Recipient address rejected: User unknown"
        return None if self.relay == "open" else "554 5.7.1 Relay access denied"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with tempfile.TemporaryDirectory(prefix="mailprobe-baseline-") as directory:
        ca = TestCA(Path(directory))
        lab = Lab(dns=None, peers=[], ca_file=ca.ca_pem)  # type: ignore[arg-type]
        try:
            for number in (1, 2):
                cert = ca.issue(f"mx{number}.base.test", f"{NET}.{number}")
                peer = SmtpPeer(
                    address=f"{NET}.{number}",
                    port=lab.peers[0].port if lab.peers else 0,
                    hostname=f"mx{number}.base.test",
                    tls_context=cert.server_context(),
                    rules=lab.rule,
                    name=f"mx{number}",
                )
                peer.start()
                lab.peers.append(peer)
            zones = {
                "base.test": f"mx1 A {NET}.1\nmx2 A {NET}.2\n",
                "13.0.127.in-addr.arpa": "1 PTR mx1.base.test.\n2 PTR mx2.base.test.\n",
            }
            lab.dns = start_dns_server(zones, address=f"{NET}.53")
            lab.reset()
            yield lab
        finally:
            if lab.dns is not None:
                lab.dns.stop()
            for peer in lab.peers:
                peer.stop()


@pytest.fixture
def fresh(lab: Lab) -> Lab:
    lab.reset()
    return lab


def run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def save(path: Path, out: str) -> Path:
    path.write_text(out)
    return path


def documents(out: str) -> dict[str, dict[str, Any]]:
    """Domain -> document of JSON Lines output."""
    docs = [json.loads(line) for line in out.splitlines()]
    return {doc["results"]["domain"]: doc for doc in docs}


def outline(changes: list[dict[str, Any]]) -> set[tuple[str, str, str, bool]]:
    return {(c["area"], c["kind"], c["subject"], c["regression"]) for c in changes}


def findings(doc: dict[str, Any], step: str) -> list[str]:
    (found,) = [s for s in doc["results"]["steps"] if s["name"] == step]
    return [f["code"] for f in found["findings"]]


# -- one domain --------------------------------------------------------------------------------


def test_regressions_exit_1_and_name_exactly_what_changed(
    fresh: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _err = run(capsys, fresh.args("a.base.test", "--json"))
    assert code == 0, out
    previous = save(tmp_path / "previous.json", out)  # one domain: an indented document
    assert out.startswith("{\n")

    fresh.zone("a.base.test", mx=((10, "mx1"),), dmarc="none", spf=f"v=spf1 ip4:{NET}.1 -all")
    fresh.relay = "open"
    code, out, _err = run(capsys, fresh.args("a.base.test", "--json", "--baseline", str(previous)))
    assert code == 1
    doc = json.loads(out)
    assert validate_document(doc) == []
    assert doc["inputs"]["baseline"] == str(previous)
    relay_subject = f"mx1.base.test [{NET}.1]"
    assert outline(doc["results"]["changes"]) == {
        ("exit-code", "changed", "", True),
        ("mx", "removed", "mx2.base.test", True),
        ("spf", "changed", "", False),
        ("dmarc", "changed", "", False),
        ("dmarc-policy", "changed", "", True),
        ("relay", "changed", relay_subject, True),
        ("finding", "added", f"relay.open ({NET}.1)", True),
        ("finding", "added", "dmarc.policy-none", True),
    }
    by_area = {c["area"]: c for c in doc["results"]["changes"]}
    assert (by_area["dmarc-policy"]["before"], by_area["dmarc-policy"]["after"]) == (
        "reject",
        "none",
    )
    assert by_area["mx"]["before"] == "20 mx2.base.test" and by_area["mx"]["after"] is None
    assert (by_area["relay"]["before"], by_area["relay"]["after"]) == ("closed", "open")
    assert findings(doc, "baseline") == ["check.regressed"]
    assert doc["results"]["summary"]["counts"]["warn"] >= 2

    # the same in the terminal: a "Changes since baseline" section before the summary
    code, out, _err = run(capsys, [*fresh.args("a.base.test", "--baseline", str(previous))])
    assert code == 1
    assert "7. Changes since baseline  PROBLEMS FOUND" in out
    assert "REGRESSION  DMARC policy p=reject -> p=none" in out
    assert "REGRESSION  MX 20 mx2.base.test removed" in out
    assert "change      SPF record changed: " in out
    assert out.index("7. Changes since baseline") < out.index("8. Summary")
    assert "Not checked this run" not in out

    # and for monitoring: the regressions in the Nagios performance data
    code, out, _err = run(
        capsys, ["--format", "nagios", *fresh.args("a.base.test", "--baseline", str(previous))]
    )
    assert code == 2 and out.startswith("MAILPROBE CRITICAL - ")  # the open relay is a fail
    assert " regressions=6 " in out


def test_only_improvements_exit_0(
    fresh: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fresh.zone("b.base.test", dmarc="none", spf=f"v=spf1 ip4:{NET}.1 ~all")
    code, out, _err = run(capsys, fresh.args("b.base.test", "--json", "--no-relay"))
    assert code == 1
    previous = save(tmp_path / "previous.json", out)

    fresh.zone("b.base.test", mx=((10, "mx1"), (20, "mx2")))  # DMARC p=reject, -all, a backup MX
    code, out, _err = run(
        capsys, fresh.args("b.base.test", "--json", "--no-relay", "--baseline", str(previous))
    )
    assert code == 0, out
    doc = json.loads(out)
    changes = doc["results"]["changes"]
    assert not any(c["regression"] for c in changes)
    assert {(c["area"], c["kind"]) for c in changes} >= {
        ("exit-code", "changed"),
        ("mx", "added"),
        ("spf", "changed"),
        ("dmarc", "changed"),
        ("dmarc-policy", "changed"),
        ("finding", "removed"),
    }
    resolved = {c["subject"] for c in changes if c["area"] == "finding"}
    assert "dmarc.policy-none" in resolved
    assert all(c["kind"] == "removed" for c in changes if c["area"] == "finding")
    (step,) = [s for s in doc["results"]["steps"] if s["name"] == "baseline"]
    assert step["status"] == "ok" and step["findings"] == []


def test_nothing_changed_no_section_and_same_exit(
    fresh: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _err = run(capsys, fresh.args("c.base.test", "--json", "--no-relay"))
    previous = save(tmp_path / "previous.json", out)
    code, out, _err = run(
        capsys, fresh.args("c.base.test", "--json", "--no-relay", "--baseline", str(previous))
    )
    doc = json.loads(out)
    assert code == 0 and doc["results"]["changes"] == []
    assert [s["name"] for s in doc["results"]["steps"]] == [
        "dns",
        "reachability",
        "smtp",
        "relay",
        "blocklist",
        "policy",
    ]


# -- a batch --------------------------------------------------------------------------------------


def test_batch_summary_lists_exactly_the_changed_domains(
    fresh: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    before = tmp_path / "before.txt"
    before.write_text("a.base.test\nb.base.test\nc.base.test\ngone.base.test\n")
    # the nightly recipe: shards run anywhere, their JSON Lines joined with cat
    shards = []
    for shard in ("1/2", "2/2"):
        _code, out, _err = run(
            capsys, fresh.args("-f", str(before), "--json", "--no-relay", "--shard", shard)
        )
        shards.append(out)
    previous = save(tmp_path / "previous.jsonl", "".join(shards))
    assert len(previous.read_text().splitlines()) == 4

    fresh.zone("b.base.test", spf=f"v=spf1 ip4:{NET}.1 -all")  # a change, not a regression
    fresh.zone("c.base.test", dmarc="none")  # a regression
    after = tmp_path / "after.txt"
    after.write_text("a.base.test\nb.base.test\nc.base.test\nnew.base.test\n")
    page = tmp_path / "report.html"
    base_args = fresh.args("-f", str(after), "--no-relay", "--baseline", str(previous))
    code, out, err = run(capsys, [*base_args, "--no-color", "--html", str(page)])
    assert code == 1, err
    lines = out.splitlines()
    start = lines.index("Changes since baseline: 3 of 4 domains changed, 1 with regressions")
    listed = lines[start + 1 : -1]
    assert {line.split()[0] for line in listed} == {"b.base.test", "c.base.test", "new.base.test"}
    assert "  b.base.test    change      SPF record changed: " in "\n".join(listed)
    regressions = [line for line in listed if "REGRESSION" in line]
    assert {line.split()[0] for line in regressions} == {"c.base.test"}
    assert any("DMARC policy p=reject -> p=none" in line for line in regressions)
    assert "new domain: not in the baseline" in "\n".join(listed)
    assert lines[-1] == "Not checked this run (in the baseline only): gone.base.test"
    html = page.read_text()
    assert "Changes since baseline" in html and "DMARC policy p=reject -&gt; p=none" in html

    code, out, _err = run(capsys, [*base_args, "--json"])
    docs = documents(out)
    assert code == 1 and list(docs) == [
        "a.base.test",
        "b.base.test",
        "c.base.test",
        "new.base.test",
    ]
    assert [d["exit_code"] for d in docs.values()] == [0, 0, 1, 0]
    assert docs["a.base.test"]["results"]["changes"] == []
    assert outline(docs["b.base.test"]["results"]["changes"]) == {("spf", "changed", "", False)}
    assert outline(docs["c.base.test"]["results"]["changes"]) == {
        ("exit-code", "changed", "", True),
        ("dmarc", "changed", "", False),
        ("dmarc-policy", "changed", "", True),
        ("finding", "added", "dmarc.policy-none", True),
    }
    assert outline(docs["new.base.test"]["results"]["changes"]) == {("domain", "added", "", False)}
    for doc in docs.values():
        assert validate_document(doc) == []

    # that output is the next night's baseline: its own diff is not compared again
    tonight = save(tmp_path / "tonight.jsonl", out)
    code, out, _err = run(
        capsys, fresh.args("-f", str(after), "--no-relay", "--json", "--baseline", str(tonight))
    )
    docs = documents(out)
    assert code == 1  # c.base.test still has p=none (its own finding), but nothing changed
    assert all(d["results"]["changes"] == [] for d in docs.values())
    assert "check.regressed" not in out


def test_shard_lists_only_its_own_unchecked_domains(
    fresh: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from mailprobe.cli.shard import shard_of

    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join(DOMAINS[:4]) + "\n")
    _code, out, _err = run(capsys, fresh.args("-f", str(listing), "--json", "--no-relay"))
    previous = save(tmp_path / "previous.jsonl", out)
    listing.write_text("a.base.test\n")  # the others are "gone" from this shard's list
    code, out, _err = run(
        capsys,
        fresh.args(
            "-f",
            str(listing),
            "--no-relay",
            "--no-color",
            "--shard",
            "1/1",
            "--baseline",
            str(previous),
        ),
    )
    assert code == 0
    assert out.splitlines()[-1] == (
        "Not checked this run (in the baseline only): b.base.test c.base.test gone.base.test"
    )
    wanted = shard_of("b.base.test", 2)
    listing.write_text("\n".join(DOMAINS[:4]) + "\n")
    code, out, _err = run(
        capsys,
        fresh.args(
            "-f",
            str(listing),
            "--no-relay",
            "--no-color",
            "--shard",
            f"{wanted}/2",
            "--baseline",
            str(previous),
        ),
    )
    assert "Not checked this run" not in out  # every domain of this shard was checked
    assert "Changes since baseline: 0 of " in out


# -- bad baselines -----------------------------------------------------------------------------


def test_bad_baselines_exit_2_before_the_run(
    fresh: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, text_output, _err = run(capsys, fresh.args("a.base.test", "--no-relay"))
    mx_args = ["mx", "a.base.test", "--server", fresh.dns.spec, "--json"]
    code, mx_output, _err = run(capsys, mx_args)
    assert json.loads(mx_output)["command"] == "mx"
    cases = {
        "text.out": (text_output, "line 1: not JSON"),
        "mx.json": (mx_output, "line 1: output of 'mailprobe mx', not of 'mailprobe check'"),
        "future.jsonl": (
            json.dumps({"schema_version": 9, "tool": "mailprobe", "command": "check"}) + "\n",
            "line 1: schema_version 9 is not supported",
        ),
        "directory": (None, "cannot read (is a directory)"),
        "missing.jsonl": (None, "cannot read (no such file)"),
    }
    queries = len(fresh.dns.queries)
    connections = [peer.connections for peer in fresh.peers]
    for name, (content, problem) in cases.items():
        path = tmp_path / name
        if name == "directory":
            path.mkdir()
        elif content is not None:
            path.write_text(content)
        code, out, err = run(capsys, fresh.args("a.base.test", "--baseline", str(path)))
        assert code == 2, (name, err)
        assert out == ""
        assert err.startswith(f"mailprobe: error: --baseline {path}: "), err
        assert problem in err, err
        assert len(err.strip().splitlines()) == 1
    assert len(fresh.dns.queries) == queries, "the run started before the baseline was read"
    assert [peer.connections for peer in fresh.peers] == connections
