"""`check -f` at MSP scale: 2,000 domains on 20 shared exchangers that enforce per-client limits.

The lab of tests/support/msp_lab.py (fixture ``msp_lab``): customer domains under eight
``*.test`` zones, half on shared exchanger names, half on names of their own that resolve to the
same 20 addresses (127.0.12.1-20), a fifth with a backup MX on another hoster; a few domains
with deliberate problems. Every exchanger address is a scripted Postfix-like SMTP server in a
child process that allows 4 connections at once and 60 new ones a minute per client, and
answers 421 beyond.

``mailprobe --json check -f`` runs once for the module, in process (the DNS and SMTP servers
are child processes, so they do not compete with it for the GIL); the tests read its JSON
Lines and the servers' counters. The last tests prove the lab's limits work (so the big run
cannot pass because nothing was enforced).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import smtplib
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.certs import TestCA
from tests.support.msp_lab import (
    EXCHANGERS,
    MAX_CONNECTIONS,
    MAX_RATE,
    PROBLEMS,
    TOO_MANY,
    Lab,
    LabServer,
    serve_dns,
)

pytestmark = pytest.mark.slow

ENVELOPE_KEYS = {
    "schema_version",
    "tool",
    "tool_version",
    "command",
    "inputs",
    "exit_code",
    "status",
    "errors",
    "results",
}
#: The most connections one exchanger may see in the whole run (issue 14).
MAX_TOTAL_CONNECTIONS = 60
#: Problems that are warnings or failures (exit 1); tlsrpt.missing is information (exit 0).
PROBLEMS_EXIT_1 = {
    "dmarc-missing",
    "spf-plus-all",
    "dmarc-p-none",
    "spf-two-records",
    "not-accepted",
}


class _Lines(io.TextIOBase):
    """A stdout that keeps each line and asks the lab for its counters at the first one."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.text: list[str] = []
        self.rcpt_at_first_line: int | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.rcpt_at_first_line is None and "\n" in text:
            self.rcpt_at_first_line = _rcpts(self.lab.stats())
        self.text.append(text)
        return len(text)


def _rcpts(stats: dict[str, Any]) -> int:
    return sum(s["commands"].get("RCPT", 0) for s in stats["addresses"].values())


@dataclasses.dataclass
class LabRun:
    lab: Lab
    exit_code: int
    docs: list[dict[str, Any]]
    stderr: str
    stats: dict[str, Any]
    rcpt_at_first_line: int | None
    seconds: float

    def by_domain(self) -> dict[str, dict[str, Any]]:
        return {d["inputs"]["domain"]: d for d in self.docs}


@pytest.fixture(scope="module")
def lab_run(msp_lab: Lab) -> LabRun:
    """One `check -f` of the whole lab (default --concurrency, --connections, --connect-rate)."""
    out = _Lines(msp_lab)
    err = io.StringIO()
    args = [
        "--json", "check", "-f", str(msp_lab.domains_file), "--server", msp_lab.dns_spec,
        "--allow-private", "--ca-file", str(msp_lab.ca_file), "--smtp-port", str(msp_lab.port),
    ]  # fmt: skip
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    seconds = time.monotonic() - started
    lines = "".join(out.text).splitlines()
    docs = [json.loads(line) for line in lines]
    stats = msp_lab.stats()
    print(
        f"msp lab: {len(docs)} domains in {seconds:.1f} s, exit {code}; RCPTs at the first line"
        f" {out.rcpt_at_first_line} of {_rcpts(stats)}; totals {stats['totals']}"
    )
    return LabRun(msp_lab, code, docs, err.getvalue(), stats, out.rcpt_at_first_line, seconds)


def _codes(doc: dict[str, Any]) -> set[str]:
    return {f["code"] for step in doc["results"]["steps"] for f in step["findings"]}


def test_every_domain_once_in_input_order(lab_run: LabRun) -> None:
    names = [d["inputs"]["domain"] for d in lab_run.docs]
    assert len(names) == len(lab_run.lab.domains) == 2000
    assert names == lab_run.lab.domains
    for doc in lab_run.docs:
        assert set(doc) == ENVELOPE_KEYS
        assert doc["command"] == "check"
        assert doc["tool"] == "mailprobe"
        assert doc["results"]["domain"] == doc["inputs"]["domain"]
        assert doc["errors"] == [], (doc["inputs"]["domain"], doc["errors"])
    assert lab_run.exit_code == 1  # the worst of the domains: the deliberate problems
    assert "error" not in lab_run.stderr, lab_run.stderr[-2000:]


def test_results_stream_before_the_run_ends(lab_run: LabRun) -> None:
    """The first line is written while most envelopes are still to be asked (no wall time)."""
    total = _rcpts(lab_run.stats)
    assert lab_run.rcpt_at_first_line is not None
    # a run that printed only at the end would be at about ``total``
    assert lab_run.rcpt_at_first_line < total / 2, (lab_run.rcpt_at_first_line, total)


def test_each_domain_gets_its_own_envelope(lab_run: LabRun) -> None:
    docs = lab_run.by_domain()
    for domain in lab_run.lab.plan.domains:
        results = docs[domain.name]["results"]
        hosts = [host for _pref, host in domain.mx]
        assert [e["host"] for e in results["exchangers"]] == hosts
        assert [s["host"] for s in results["smtp"]] == hosts
        for smtp, index in zip(results["smtp"], domain.mx_addresses, strict=True):
            assert smtp["address"] == EXCHANGERS[index]
            assert smtp["failure"] is None, (domain.name, smtp["failure"])
            assert smtp["mail"]["command"] == "MAIL FROM:<>"
            assert smtp["mail"]["code"] == 250
            assert smtp["postmaster"]["command"] == f"RCPT TO:<postmaster@{domain.name}>"
            expected = 554 if domain.problem == "not-accepted" else 250
            assert smtp["postmaster"]["code"] == expected, (domain.name, smtp["postmaster"])
            # the certificate covers the shared names and *.mail.hosterNN.test
            assert smtp["tls"]["verified"] is True, (domain.name, smtp["tls"])
            assert smtp["tls"]["name_matches"] is True, (domain.name, smtp["tls"])


def test_no_421_and_connections_bounded_per_exchanger(lab_run: LabRun) -> None:
    per = lab_run.stats["addresses"]
    assert sorted(per) == sorted(EXCHANGERS)
    report = {
        a: (s["connections"], s["max_in_window"], s["max_concurrent"]) for a, s in per.items()
    }
    for address, s in per.items():
        assert s["connections"] > 0, address
        assert s["refused_421"] == 0, (address, s)
        assert s["other_421"] == 0, (address, s)
        assert s["max_concurrent"] <= MAX_CONNECTIONS, (address, report)
        assert s["max_in_window"] <= MAX_RATE, (address, report)
        assert s["connections"] <= MAX_TOTAL_CONNECTIONS, (address, report)
    for doc in lab_run.docs:
        assert "smtp.throttled" not in _codes(doc), doc["inputs"]["domain"]


def test_nothing_is_sent(lab_run: LabRun) -> None:
    for address, s in lab_run.stats["addresses"].items():
        assert s["messages"] == 0, address
        assert s["commands"].get("DATA", 0) == 0, (address, s["commands"])
        assert s["commands"].get("BDAT", 0) == 0, (address, s["commands"])


def test_deliberate_problems_found_exactly_where_they_are(lab_run: LabRun) -> None:
    plan = lab_run.lab.plan
    found: dict[str, set[str]] = {code: set() for code in PROBLEMS.values()}
    for doc in lab_run.docs:
        for code in _codes(doc) & set(found):
            found[code].add(doc["inputs"]["domain"])
    for kind, code in PROBLEMS.items():
        expected = plan.expected(code)
        assert len(expected) >= 5, kind
        assert found[code] == expected, (code, sorted(found[code] ^ expected))
    docs = lab_run.by_domain()
    exit_codes: Counter[int] = Counter()
    for domain in plan.domains:
        code = docs[domain.name]["exit_code"]
        exit_codes[code] += 1
        wanted = 1 if domain.problem in PROBLEMS_EXIT_1 else 0
        assert code == wanted, (domain.name, domain.problem, code, docs[domain.name]["status"])
    assert set(exit_codes) == {0, 1}


def test_relay_closed_for_every_domain_battery_once_per_address(lab_run: LabRun) -> None:
    owners: Counter[str] = Counter()
    docs = lab_run.by_domain()
    for domain in lab_run.lab.plan.domains:
        relay = docs[domain.name]["results"]["relay"]
        assert [r["verdict"] for r in relay] == ["closed"] * len(domain.mx), domain.name
        for report in relay:
            if not any(f["code"] == "check.shared-exchanger" for f in report["findings"]):
                owners[report["address"]] += 1
    # the battery of each address ran for one domain; every other domain reused it
    assert owners == Counter(dict.fromkeys(EXCHANGERS, 1))


def test_baseline_diff_names_exactly_the_changed_domains(lab_run: LabRun, tmp_path: Path) -> None:
    """The nightly recipe: tonight's run against the same lab with a few domains changed in
    DNS, compared with last night's output (``--baseline``). Only those domains have changes;
    regressions give exit 1; no other domain of the 2,000 reports any change."""
    baseline = tmp_path / "last-night.jsonl"
    baseline.write_text("".join(json.dumps(doc) + "\n" for doc in lab_run.docs), "utf-8")
    plan = lab_run.lab.plan
    clean = [d for d in plan.domains if d.problem is None and d.index >= 100]
    weakened = {d.name for d in clean[:4]}  # DMARC p=reject -> p=none: a regression
    fixed = {d.name for d in plan.domains if d.problem == "dmarc-missing"}  # DMARC added
    no_backup = {d.name for d in clean[4:40] if len(d.mx) == 2}  # the backup MX removed
    changed_domains = []
    for d in plan.domains:
        if d.name in weakened:
            d = dataclasses.replace(d, problem="dmarc-p-none")
        elif d.name in fixed:
            d = dataclasses.replace(d, problem=None)
        elif d.name in no_backup:
            d = dataclasses.replace(d, mx=d.mx[:1], mx_addresses=d.mx_addresses[:1])
        changed_domains.append(d)
    assert weakened and fixed and no_backup
    tonight = dataclasses.replace(plan, domains=tuple(changed_domains))
    spec, stop = serve_dns(tonight, tmp_path / "tonight", "127.0.12.54")
    out, err = io.StringIO(), io.StringIO()
    args = [
        "--json", "check", "-f", str(lab_run.lab.domains_file), "--server", spec,
        "--allow-private", "--ca-file", str(lab_run.lab.ca_file),
        "--smtp-port", str(lab_run.lab.port), "--baseline", str(baseline),
    ]  # fmt: skip
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        stop()
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(docs) == len(plan.domains), err.getvalue()
    changes = {d["inputs"]["domain"]: d["results"]["changes"] for d in docs}
    assert {name for name, found in changes.items() if found} == weakened | fixed | no_backup
    for name in weakened:
        assert {(c["area"], c["regression"]) for c in changes[name]} >= {("dmarc-policy", True)}
    for name in fixed:
        assert all(not c["regression"] for c in changes[name]), changes[name]
        assert "dmarc" in {c["area"] for c in changes[name]}
    for name in no_backup:
        assert ("mx", "removed", True) in {
            (c["area"], c["kind"], c["regression"]) for c in changes[name]
        }, changes[name]
    assert code == 1
    # the lab's limits held over both runs
    for address, s in lab_run.lab.stats()["addresses"].items():
        assert s["refused_421"] == 0, (address, s)
        assert s["max_in_window"] <= MAX_RATE, (address, s)


# --- the lab's own limits (so that the run above cannot pass because nothing was enforced) ----

LIMITS_ADDRESS = "127.0.12.30"
LIMITS_DOMAIN = "lab-one.test"


@pytest.fixture
def lab_server(test_ca: TestCA, tmp_path: Path) -> Any:
    cert = test_ca.issue(f"mx.{LIMITS_DOMAIN}", LIMITS_ADDRESS)
    server = LabServer(
        {
            "addresses": {
                LIMITS_ADDRESS: {
                    "hostname": f"mx.{LIMITS_DOMAIN}",
                    "cert": str(cert.cert_chain),
                    "key": str(cert.key),
                }
            },
            "port": 0,
            "accepted_domains": [LIMITS_DOMAIN],
            "local_names": [f"mx.{LIMITS_DOMAIN}"],
        },
        tmp_path,
    ).start()
    try:
        yield server
    finally:
        server.stop()


class _Client:
    """A line client on one connection to the lab server."""

    def __init__(self, server: LabServer) -> None:
        self.sock = socket.create_connection((LIMITS_ADDRESS, server.port), timeout=10)
        self.stream = self.sock.makefile("rb")

    def read(self) -> str:
        try:
            return str(self.stream.readline().decode().rstrip("\r\n"))
        except ConnectionResetError:  # a reset after the server's last line and close
            return ""

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def close(self) -> None:
        self.stream.close()
        self.sock.close()

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stats(server: LabServer) -> dict[str, Any]:
    stats: dict[str, Any] = server.stats()["addresses"][LIMITS_ADDRESS]
    return stats


def test_lab_refuses_a_fifth_concurrent_connection(lab_server: LabServer) -> None:
    opened = [_Client(lab_server) for _ in range(MAX_CONNECTIONS)]
    try:
        for client in opened:
            assert client.read() == f"220 mx.{LIMITS_DOMAIN} ESMTP Postfix"
        with _Client(lab_server) as fifth:
            assert fifth.read() == TOO_MANY
            assert fifth.read() == ""  # closed
        # one of the four leaves (QUIT): a new connection is welcome again
        first = opened.pop(0)
        first.send("QUIT")
        assert first.read().startswith("221 ")
        first.close()
        with _Client(lab_server) as again:
            assert again.read().startswith("220 ")
    finally:
        for client in opened:
            client.close()
    stats = _stats(lab_server)
    assert stats["refused_concurrency"] == 1
    assert stats["refused_421"] == 1
    assert stats["max_concurrent"] == MAX_CONNECTIONS + 1


def test_lab_refuses_the_61st_connection_in_a_minute(lab_server: LabServer) -> None:
    for number in range(1, MAX_RATE + 2):
        with _Client(lab_server) as client:
            line = client.read()
            if number <= MAX_RATE:
                assert line.startswith("220 "), (number, line)
                client.send("QUIT")
                assert client.read().startswith("221 ")
            else:
                assert line == TOO_MANY, (number, line)
    stats = _stats(lab_server)
    assert stats["refused_rate"] == 1
    assert stats["max_in_window"] == MAX_RATE + 1
    assert stats["max_concurrent"] == 1


def test_lab_speaks_smtp_and_counts_messages(lab_server: LabServer, test_ca: TestCA) -> None:
    with smtplib.SMTP(LIMITS_ADDRESS, lab_server.port, timeout=10) as client:
        code, _text = client.ehlo("probe.test")
        assert code == 250
        for keyword in ("pipelining", "size", "starttls", "8bitmime", "enhancedstatuscodes"):
            assert client.has_extn(keyword), keyword
        client.starttls(context=test_ca.client_context())
        client.ehlo("probe.test")
        assert not client.has_extn("starttls")
        assert client.mail("sender@example.net")[0] == 250
        assert client.rcpt("relaytest@example.net") == (
            554,
            b"5.7.1 <relaytest@example.net>: Relay access denied",
        )
        assert client.rcpt(f"relaytest%example.net@{LIMITS_DOMAIN}")[0] == 554
        assert client.rcpt(f"@{LIMITS_DOMAIN}:relaytest@example.net")[0] == 554
        assert client.docmd("DATA") == (554, b"5.5.1 Error: no valid recipients")
        assert client.rset()[0] == 250
        assert client.verify(f"postmaster@{LIMITS_DOMAIN}")[0] == 252
        assert client.docmd("XYZZY")[0] == 502
        assert client.noop()[0] == 250
        assert _stats(lab_server)["messages"] == 0
        refused = client.sendmail(
            "a@example.net", [f"anyone@{LIMITS_DOMAIN}"], b"Subject: x\r\n\r\nx"
        )
        assert refused == {}
    stats = _stats(lab_server)
    assert stats["messages"] == 1
    assert stats["tls"] == 1
    assert stats["refused_421"] == stats["other_421"] == 0
