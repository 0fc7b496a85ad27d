"""`mailprobe check` end to end: a loopback DNS server, private Postfix instances, an HTTPS server.

The lab (127.0.4.x for DNS and SMTP, 127.0.5.x for HTTPS):

=============  ==============================  ===========================================
127.0.4.1      Postfix ``mx1.healthy.test``    STARTTLS with a test-CA certificate, closed
127.0.4.2      Postfix ``mx.openrelay.test``   STARTTLS, open relay (mynetworks 0.0.0.0/0)
127.0.4.3      Postfix ``mx.notls.test``       no STARTTLS
127.0.4.4      Postfix ``mx.unknown.test``     STARTTLS, a banner naming no MTA
127.0.4.9      nothing                         a dead exchanger
127.0.4.53     DNS (AD flag set)               the zones below
127.0.5.40     HTTPS                           MTA-STS policies
=============  ==============================  ===========================================

Domains: ``healthy.test`` (everything right), ``openrelay.test``, ``notls.test``,
``badsts.test`` (MTA-STS policy naming another MX), ``twospf.test`` (two SPF records),
``dead.test`` (second exchanger dead), ``unknown.test`` (a server of unknown kind). Loopback
exchangers trip mx's non-public findings; the tests pass ``--allow-private``, which turns exactly
those into information.

``start_lab()`` is plain code (no pytest) so ``bench/check_vs_separate.py`` can reuse it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailprobe.checks.policy import association
from mailprobe.cli.app import main
from tests.support.certs import TestCA
from tests.support.dnsserver import DnsServerHandle, start_dns_server
from tests.support.https import HttpsServer, start_https_server
from tests.support.postfix import PostfixFactory, PostfixInstance, postfix_available

REPO = Path(__file__).resolve().parents[2]
DOMAINS_ACCEPTED = (
    "healthy.test, openrelay.test, notls.test, badsts.test, twospf.test, dead.test, unknown.test, "
    "shared.test"
)


def _leaf_der(chain_pem: Path) -> bytes:
    first = chain_pem.read_text().split("-----END CERTIFICATE-----")[0]
    return ssl.PEM_cert_to_DER_cert(first + "-----END CERTIFICATE-----\n")


def _sts_policy(*mx: str) -> str:
    lines = ["version: STSv1", "mode: enforce", *(f"mx: {m}" for m in mx), "max_age: 604800"]
    return "\r\n".join(lines) + "\r\n"


def _zone(domain: str, mx: list[tuple[int, str]], *, spf: list[str], sts: bool = True) -> str:
    lines = [f"@ MX {pref} {host}." for pref, host in mx]
    lines += [f'@ TXT "{record}"' for record in spf]
    lines.append(f'_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"')
    lines.append(f'_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{domain}"')
    if sts:
        lines.append('_mta-sts TXT "v=STSv1; id=20260101T000000"')
    return "\n".join(lines) + "\n"


@dataclasses.dataclass
class Lab:
    """Everything the check tests talk to."""

    dns: DnsServerHandle
    https: HttpsServer
    ca_file: Path
    healthy: PostfixInstance
    open_relay: PostfixInstance
    no_tls: PostfixInstance
    unknown: PostfixInstance
    factory: PostfixFactory
    sts_urls: dict[str, str]

    def args(self, domain: str, port: int | None = None, *extra: str) -> list[str]:
        """Command-line arguments checking ``domain`` against the lab."""
        args = [
            "check",
            domain,
            "--server",
            self.dns.spec,
            "--smtp-port",
            str(port or self.healthy.port),
            "--allow-private",
            "--ca-file",
            str(self.ca_file),
            "--helo",
            "probe.mailprobe.test",
        ]
        if domain in self.sts_urls:
            args += ["--mta-sts-url", self.sts_urls[domain]]
        return [*args, *extra]

    def close(self) -> None:
        self.factory.close()
        self.https.stop()
        self.dns.stop()


def start_lab(directory: Path) -> Lab:
    """Start the DNS server, the Postfix instances and the HTTPS server of the module doc."""
    ca = TestCA(directory)
    healthy_cert = ca.issue("mx1.healthy.test", "127.0.4.1")
    relay_cert = ca.issue("mx.openrelay.test", "127.0.4.2")
    factory = PostfixFactory()
    spoof_guard = {
        # refuse outside senders claiming the lab's domains (relay's internal-spoofing check)
        "smtpd_sender_restrictions": "check_sender_access inline:{"
        + ", ".join(f"{d.strip()}=REJECT" for d in DOMAINS_ACCEPTED.split(","))
        + "}",
        "mydestination": f"{DOMAINS_ACCEPTED}, $myhostname, localhost",
    }
    try:
        healthy = factory(
            "check-healthy",
            "127.0.4.1",
            25,
            spoof_guard,
            domain="healthy.test",
            hostname="mx1.healthy.test",
            tls_cert=healthy_cert,
        )
        open_relay = factory(
            "check-openrelay",
            "127.0.4.2",
            healthy.port,
            # an open relay that knows its mailboxes: RCPT replies decide (see relay-test)
            {
                **spoof_guard,
                "mynetworks": "0.0.0.0/0",
                "local_recipient_maps": "inline:{postmaster=ok, abuse=ok}",
            },
            domain="openrelay.test",
            hostname="mx.openrelay.test",
            tls_cert=relay_cert,
        )
        no_tls = factory(
            "check-notls",
            "127.0.4.3",
            healthy.port,
            spoof_guard,
            domain="notls.test",
            hostname="mx.notls.test",
        )
        unknown_cert = ca.issue("mx.unknown.test", "127.0.4.4")
        unknown = factory(
            "check-unknown",
            "127.0.4.4",
            healthy.port,
            {**spoof_guard, "smtpd_banner": "$myhostname ESMTP ready"},
            domain="unknown.test",
            hostname="mx.unknown.test",
            tls_cert=unknown_cert,
        )
    except BaseException:
        factory.close()
        raise
    https = start_https_server(ca, "127.0.5.40")
    sts_urls = {
        "healthy.test": https.set("/healthy/mta-sts.txt", _sts_policy("mx1.healthy.test")),
        "openrelay.test": https.set("/openrelay/mta-sts.txt", _sts_policy("*.openrelay.test")),
        "notls.test": https.set("/notls/mta-sts.txt", _sts_policy("mx.notls.test")),
        "badsts.test": https.set("/badsts/mta-sts.txt", _sts_policy("mail.elsewhere.test")),
        "twospf.test": https.set("/twospf/mta-sts.txt", _sts_policy("mx1.healthy.test")),
        "unknown.test": https.set("/unknown/mta-sts.txt", _sts_policy("mx.unknown.test")),
        "dead.test": https.set(
            "/dead/mta-sts.txt", _sts_policy("mx1.healthy.test", "mx2.dead.test")
        ),
    }
    tlsa = association(_leaf_der(healthy_cert.cert_chain), 1, 1)
    healthy_zone = _zone(
        "healthy.test", [(10, "mx1.healthy.test")], spf=["v=spf1 ip4:127.0.4.0/24 -all"]
    )
    healthy_zone += f"mx1 A 127.0.4.1\n_25._tcp.mx1 TLSA 3 1 1 {tlsa}\n"
    zones = {
        "healthy.test": healthy_zone,
        "openrelay.test": _zone(
            "openrelay.test", [(10, "mx.openrelay.test")], spf=["v=spf1 mx -all"]
        )
        + "mx A 127.0.4.2\n",
        "notls.test": _zone("notls.test", [(10, "mx.notls.test")], spf=["v=spf1 mx -all"])
        + "mx A 127.0.4.3\n",
        "badsts.test": _zone(
            "badsts.test", [(10, "mx1.healthy.test")], spf=["v=spf1 ip4:127.0.4.1 -all"]
        ),
        "twospf.test": _zone(
            "twospf.test",
            [(10, "mx1.healthy.test")],
            spf=["v=spf1 ip4:127.0.4.1 -all", "v=spf1 mx ~all"],
        ),
        "dead.test": _zone(
            "dead.test",
            [(10, "mx1.healthy.test"), (20, "mx2.dead.test")],
            spf=["v=spf1 ip4:127.0.4.0/24 -all"],
        )
        + "mx2 A 127.0.4.9\n",
        "unknown.test": _zone("unknown.test", [(10, "mx.unknown.test")], spf=["v=spf1 mx -all"])
        + "mx A 127.0.4.4\n",
        # two exchangers on one address; an IP literal as MX; a dangling MX; a null MX
        "shared.test": _zone(
            "shared.test",
            [(10, "mx1.healthy.test"), (20, "backup.shared.test")],
            spf=["v=spf1 ip4:127.0.4.1 -all"],
        )
        + "backup A 127.0.4.1\n",
        "literal.test": _zone("literal.test", [(10, "127.0.4.1")], spf=["v=spf1 -all"]),
        "dangling.test": _zone(
            "dangling.test", [(10, "nowhere.dangling.test")], spf=["v=spf1 -all"]
        ),
        "nullmx.test": '@ MX 0 .\n_dmarc TXT "v=DMARC1; p=reject"\n',
        "4.0.127.in-addr.arpa": "1 PTR mx1.healthy.test.\n2 PTR mx.openrelay.test.\n"
        "3 PTR mx.notls.test.\n4 PTR mx.unknown.test.\n9 PTR mx2.dead.test.\n",
    }
    dns = start_dns_server(zones, address="127.0.4.53", authenticated=True)
    return Lab(dns, https, ca.ca_pem, healthy, open_relay, no_tls, unknown, factory, sts_urls)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    if not postfix_available():
        pytest.skip("/usr/sbin/postfix is missing: install the Debian package postfix")
    with tempfile.TemporaryDirectory(prefix="mailprobe-check-lab-") as directory:
        started = start_lab(Path(directory))
        try:
            yield started
        finally:
            started.close()


def run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def codes(step: dict[str, Any]) -> dict[str, str]:
    """finding code -> severity (the worst one when a code repeats)."""
    order = ["ok", "info", "warn", "fail"]
    found: dict[str, str] = {}
    for finding in step["findings"]:
        old = found.get(finding["code"])
        if old is None or order.index(finding["severity"]) > order.index(old):
            found[finding["code"]] = finding["severity"]
    return found


def steps_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in document["results"]["steps"]}


# --- the cases -------------------------------------------------------------------------------


def test_healthy_domain_exit_0(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, lab.args("healthy.test", None, "--rcpt", "alice@healthy.test"))
    assert code == 0, json.dumps(doc["results"]["summary"], indent=1)
    assert doc["command"] == "check" and doc["status"] == "healthy" and doc["errors"] == []
    steps = steps_of(doc)
    assert list(steps) == ["dns", "reachability", "smtp", "relay", "blocklist", "policy"]
    assert {name: s["status"] for name, s in steps.items()} == dict.fromkeys(steps, "ok")
    assert codes(steps["dns"])["mx.non-public-address"] == "info"  # --allow-private
    expected_smtp = {
        "tls.ok": "ok",
        "ehlo.verbs-match": "ok",
        "smtp.postmaster-accepted": "ok",
        "smtp.rcpt-accepted": "ok",
        "check.server-guess": "info",
    }
    assert codes(steps["smtp"]).items() >= expected_smtp.items()
    assert codes(steps["relay"])["relay.closed"] == "ok"
    policy = codes(steps["policy"])
    for expected in ("spf.valid", "spf.mx-permitted", "dmarc.policy-reject", "tlsrpt.valid"):
        assert policy[expected] == "ok"
    assert policy["mtasts.mx-covered"] == "ok"
    assert policy["dane.match"] == "ok"
    results = doc["results"]
    assert results["exchangers"] == [
        {"preference": 10, "host": "mx1.healthy.test", "addresses": ["127.0.4.1"]}
    ]
    smtp = results["smtp"][0]
    assert smtp["server"]["key"] == "postfix" and smtp["tls"]["name_matches"] is True
    assert smtp["postmaster"]["code"] == 250
    assert results["reachability"][0]["status"] == "banner"
    assert results["relay"][0]["verdict"] == "closed"
    assert results["summary"]["exit_code"] == 0 and results["summary"]["counts"]["fail"] == 0
    assert not any(line["text"].startswith("DATA") for line in smtp["transcript"])


def test_healthy_domain_terminal_report(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*lab.args("healthy.test", None, "--no-relay"), "--no-color"])
    captured = capsys.readouterr()
    assert code == 0
    out = captured.out
    for line in (
        "mailprobe check healthy.test",
        "1. DNS  OK",
        "2. Reachability  OK",
        "3. SMTP  OK",
        "4. Relay  SKIPPED (--no-relay)",
        "5. Blocklists  OK",
        "6. Policy records  OK",
        "7. Summary  HEALTHY",
        "exit code 0",
    ):
        assert line in out
    assert "Postfix" in out and "dane.match" in out
    assert captured.err == ""  # not a terminal: no progress display


def test_open_relay(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    before = len(lab.open_relay.queued_messages())
    code, doc = run_json(capsys, lab.args("openrelay.test", lab.open_relay.port))
    assert code == 1
    steps = steps_of(doc)
    assert steps["relay"]["status"] == "problem"
    assert codes(steps["relay"])["relay.open"] == "fail"
    assert doc["results"]["relay"][0]["verdict"] == "open"
    top = [f["code"] for f in doc["results"]["summary"]["top_fixes"]]
    assert top[0] == "relay.open"
    assert len(lab.open_relay.queued_messages()) == before  # no DATA, nothing queued


def test_no_starttls(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, lab.args("notls.test", lab.no_tls.port, "--no-relay"))
    assert code == 1
    steps = steps_of(doc)
    assert codes(steps["smtp"])["tls.not-offered"] == "warn"
    assert codes(steps["smtp"])["smtp.postmaster-accepted"] == "ok"
    assert doc["results"]["smtp"][0]["tls"] is None
    assert codes(steps["policy"])["dane.missing"] == "info"
    assert steps["relay"]["status"] == "skipped"


def test_mta_sts_policy_does_not_cover_mx(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, lab.args("badsts.test", None, "--no-relay"))
    assert code == 1
    policy = steps_of(doc)["policy"]
    assert codes(policy)["mtasts.mx-not-covered"] == "fail"
    assert doc["results"]["policy"]["mta_sts"]["uncovered"] == ["mx1.healthy.test"]
    assert steps_of(doc)["smtp"]["status"] == "ok"


def test_two_spf_records(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, lab.args("twospf.test", None, "--no-relay"))
    assert code == 1
    assert codes(steps_of(doc)["policy"])["spf.multiple"] == "fail"
    assert len(doc["results"]["policy"]["spf"]["records"]) == 2


def test_dead_exchanger_exit_3_rest_reported(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, lab.args("dead.test"))
    assert code == 3
    assert doc["status"] == "incomplete"
    assert [e["step"] for e in doc["errors"]] == ["reachability"]
    assert doc["errors"][0]["host"] == "127.0.4.9"
    steps = steps_of(doc)
    assert steps["reachability"]["status"] == "incomplete"
    assert codes(steps["reachability"])["smtp.connect-refused"] == "fail"
    # the live exchanger is still fully checked, the dead one's parts are skipped
    assert steps["smtp"]["status"] == "ok"
    assert [s["host"] for s in doc["results"]["smtp"]] == ["mx1.healthy.test"]
    assert any("mx2.dead.test" in part for part in steps["smtp"]["skipped_parts"])
    assert [r["target"] for r in doc["results"]["relay"]] == ["mx1.healthy.test"]
    assert codes(steps["policy"])["spf.valid"] == "ok"
    statuses = {r["address"]: r["status"] for r in doc["results"]["reachability"]}
    assert statuses == {"127.0.4.1": "banner", "127.0.4.9": "unreachable"}


def test_nxdomain_skips_dependent_steps(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, lab.args("nosuch.healthy.test"))
    assert code == 1
    steps = steps_of(doc)
    assert codes(steps["dns"])["mx.domain-nxdomain"] == "fail"
    for name in ("reachability", "smtp", "relay", "blocklist", "policy"):
        assert steps[name]["status"] == "skipped"
        assert steps[name]["reason"].startswith("DNS step:")


def test_batch_json_lines_worst_exit(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*lab.args("healthy.test", None, "--no-relay"), "twospf.test", "--json"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert len(lines) == 2
    docs = [json.loads(line) for line in lines]
    assert [d["inputs"]["domain"] for d in docs] == ["healthy.test", "twospf.test"]
    assert [d["exit_code"] for d in docs] == [0, 1]


def test_html_report_written(lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code = main([*lab.args("healthy.test", None, "--no-relay"), "--html", str(target)])
    capsys.readouterr()
    assert code == 0
    page = target.read_text()
    assert "healthy.test" in page and "Policy records" in page and "<script" not in page


def test_subprocess_json_no_progress(lab: Lab) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailprobe",
            *lab.args("healthy.test", None, "--no-relay"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["results"]["summary"]["status"] == "healthy"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", ""], "empty"),
        (["check", "a b"], "spaces"),
        (["check", "healthy.test", "--rcpt", "no-at-sign"], "--to"),
        (["check", "healthy.test", "--expect", "nosuchprofile"], "unknown verb profile"),
        (["check", "healthy.test", "--helo", "bad\nname"], "control"),
        (["check", "healthy.test", "--server", "not-an-ip"], "not an IP address"),
        (["check", "healthy.test", "--mta-sts-url", "ftp://x"], "--mta-sts-url"),
        (["check"], "at least one domain"),
        (["check", "healthy.test", "--html", "/nonexistent-dir/r.html"], "does not exist"),
    ],
)
def test_bad_input_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("mailprobe: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_missing_dkim_selector(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(
        capsys, lab.args("healthy.test", None, "--no-relay", "--dkim-selector", "sel1")
    )
    assert code == 1
    assert codes(steps_of(doc)["policy"])["dkim.missing"] == "fail"
    assert doc["results"]["policy"]["dkim"][0]["name"] == "sel1._domainkey.healthy.test"


def test_expect_profile_overrides_guess(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(
        capsys, lab.args("healthy.test", None, "--no-relay", "--expect", "exchange2010")
    )
    assert code == 1
    smtp = steps_of(doc)["smtp"]
    assert codes(smtp)["ehlo.missing-verbs"] == "warn"
    assert doc["results"]["smtp"][0]["server"]["source"] == "--expect"
    assert doc["results"]["smtp"][0]["comparison"]["profile"] == "exchange2010"


def test_batch_from_file(lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("# lab domains\nnotls.test\n\nbadsts.test  # MTA-STS\n")
    args = lab.args("healthy.test", lab.no_tls.port, "--no-relay")
    args.remove("healthy.test")
    code = main([*args, "-f", str(listing), "--json"])
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [d["inputs"]["domain"] for d in docs] == ["notls.test", "badsts.test"]


def test_batch_from_file_ends_with_a_summary(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("healthy.test\ntwospf.test\n")
    args = lab.args("healthy.test", None, "--no-relay", "--no-color")
    args.remove("healthy.test")
    code = main([*args, "-f", str(listing)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    start = lines.index("Summary: 2 domains: 1 healthy, 1 problem, 0 incomplete")
    summary = lines[start:]
    assert "  problem:    twospf.test" in summary
    heading = summary.index("Most frequent findings (domains):")
    rows = [line.split() for line in summary[heading + 1 :]]
    assert 1 <= len(rows) <= 10
    assert all(len(row) == 3 and row[2] in ("1", "2") for row in rows)
    assert any(row[1].startswith("spf.") and row[2] == "1" for row in rows)


def test_progress_display_on_a_terminal(lab: Lab) -> None:
    """With stderr on a pseudo-terminal the live display is drawn there; stdout keeps JSON."""
    import pty

    controller, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "140", "TERM": "xterm"}
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mailprobe",
                *lab.args("healthy.test", None, "--no-relay"),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert result.returncode == 0
    assert json.loads(result.stdout)["exit_code"] == 0
    assert b"Reachability" in drawn and b"healthy.test" in drawn


def test_untrusted_certificate_reported_and_session_goes_on(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    args = lab.args("healthy.test", None, "--no-relay")
    at = args.index("--ca-file")
    del args[at : at + 2]  # the system CAs do not trust the test CA
    code, doc = run_json(capsys, args)
    assert code == 1
    steps = steps_of(doc)
    smtp = codes(steps["smtp"])
    assert smtp["tls.certificate-untrusted"] == "fail"
    assert smtp["smtp.postmaster-accepted"] == "ok"  # tested anyway, over unverified TLS
    assert doc["results"]["smtp"][0]["tls"]["verified"] is False
    policy = codes(steps["policy"])
    assert policy["dane.match"] == "ok"  # DANE does not need a public CA
    assert policy["mtasts.fetch-failed"] == "fail"  # MTA-STS does


def test_unknown_server_gets_no_verb_complaints(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A banner that names no known MTA: the verbs are not judged, the guess says so."""
    code, doc = run_json(capsys, lab.args("unknown.test", lab.unknown.port, "--no-relay"))
    assert code == 0
    smtp = doc["results"]["smtp"][0]
    assert smtp["server"] is None and smtp["comparison"] is None
    found = codes(steps_of(doc)["smtp"])
    assert found["check.server-guess"] == "info"
    assert not any(code.startswith("ehlo.") for code in found)


# -- verdicts seen wrong on real runs -------------------------------------------------------------


def test_exchangers_sharing_an_address_are_probed_once(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_json(capsys, lab.args("shared.test", None, "--no-relay"))
    results = doc["results"]
    assert [r["address"] for r in results["reachability"]] == ["127.0.4.1"]
    assert len(results["smtp"]) == 1
    subjects = {f["subject"] for f in steps_of(doc)["smtp"]["findings"]}
    assert any("mx1.healthy.test, backup.shared.test" in s for s in subjects), subjects
    assert code in (0, 1)


def test_ip_literal_mx_asks_no_tlsa_and_completes(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(lab.dns.queries)
    code, doc = run_json(capsys, lab.args("literal.test", None, "--no-relay"))
    asked = lab.dns.queries[before:]
    assert not [q for q in asked if q[1] == "TLSA"], asked
    assert code != 3, doc["errors"]
    assert "mx.ip-literal" in codes(steps_of(doc)["dns"])


def test_nothing_to_reach_is_skipped_not_ok(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, lab.args("dangling.test", None, "--no-relay"))
    reach = steps_of(doc)["reachability"]
    assert reach["status"] == "skipped"
    assert "no exchanger has an address" in reach["reason"]
    assert code == 1  # the dangling MX is a DNS finding


def test_null_mx_is_advised_spf_minus_all(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    _code, doc = run_json(capsys, lab.args("nullmx.test", None, "--no-relay"))
    (missing,) = [f for f in steps_of(doc)["policy"]["findings"] if f["code"] == "spf.missing"]
    assert "'v=spf1 -all'" in missing["fix"] and "mx -all" not in missing["fix"]
