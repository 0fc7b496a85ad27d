"""`mailprobe mx` end to end: the real CLI against a real DNS server on 127.0.1.x."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator

import dns.reversename
import pytest

from mailprobe.cli.app import main
from tests.support.dnsserver import DnsServerHandle, start_dns_server

ZONE = """
healthy       MX 10 mx1.healthy
healthy       MX 20 mx2.healthy
mx1.healthy   A 11.0.0.1
mx1.healthy   AAAA 2a00:1::1
mx2.healthy   A 11.0.0.2
balanced      MX 10 a.balanced
balanced      MX 10 b.balanced
a.balanced    A 11.0.0.3
b.balanced    A 11.0.0.4
single        MX 10 mx1.healthy
nomx          A 11.0.0.5
nothing       TXT "no mail here"
null          MX 0 .
nullmixed     MX 0 .
nullmixed     MX 10 mx1.healthy
cname         MX 10 alias.cname
cname         MX 20 mx2.healthy
alias.cname   CNAME mx1.healthy
dangling      MX 10 gone.dangling
dangling      MX 20 mx2.healthy
nodata        MX 10 host.nodata
nodata        MX 20 mx2.healthy
host.nodata   TXT "exists, no address"
literal       MX 10 11.0.0.1.
literal       MX 20 mx2.healthy
private       MX 10 mx.private
mx.private    A 10.1.2.3
v6only        MX 10 mx.v6only
v6only        MX 20 mx2.healthy
mx.v6only     AAAA 2a00:1::6
mapped        MX 10 mx.mapped
mapped        MX 20 mx2.healthy
mx.mapped     A 11.0.0.9
mx.mapped     AAAA ::ffff:11.0.0.9
dup           MX 10 mx1.healthy
dup           MX 20 mx1.healthy
dup           MX 30 mx2.healthy
lowttl   60   MX 10 mx1.healthy
lowttl   60   MX 20 mx2.healthy
noptr         MX 10 mx.noptr
noptr         MX 20 mx2.healthy
mx.noptr      A 11.0.0.7
badptr        MX 10 mx.badptr
badptr        MX 20 mx2.healthy
mx.badptr     A 11.0.0.8
other.badptr  A 11.0.0.99
ptrfail       MX 10 mx.ptrfail
ptrfail       MX 20 mx2.healthy
mx.ptrfail    A 11.0.0.10
servfail      MX 10 mx1.healthy
split         MX 10 mail.split
split         MX 20 mx2.healthy
mail.split    A 11.0.0.20
xn--bcher-kva MX 10 mx1.healthy
xn--bcher-kva MX 20 mx2.healthy
connect       MX 10 smtp.connect
connect       MX 20 silent.connect
connect       MX 30 closed.connect
smtp.connect  A 127.0.1.20
silent.connect A 127.0.1.21
closed.connect A 127.0.1.22
long          MX 10 mail-exchanger-with-a-rather-long-name.in-a-deep.sub-domain-for-pipes
long          MX 20 mx2.healthy
mail-exchanger-with-a-rather-long-name.in-a-deep.sub-domain-for-pipes A 11.0.0.30
"""

INTERNAL_ZONE = ZONE.replace("mail.split    A 11.0.0.20", "mail.split    A 10.0.0.20")

PTRS = {
    "11.0.0.1": "mx1.healthy.mx.test",
    "2a00:1::1": "mx1.healthy.mx.test",
    "11.0.0.2": "mx2.healthy.mx.test",
    "11.0.0.3": "a.balanced.mx.test",
    "11.0.0.4": "b.balanced.mx.test",
    "11.0.0.5": "nomx.mx.test",
    "10.1.2.3": "mx.private.mx.test",
    "2a00:1::6": "mx.v6only.mx.test",
    "11.0.0.9": "mx.mapped.mx.test",
    "::ffff:11.0.0.9": "mx.mapped.mx.test",
    "11.0.0.8": "other.badptr.mx.test",
    "11.0.0.10": "mx.ptrfail.mx.test",
    "11.0.0.20": "mail.split.mx.test",
    "10.0.0.20": "mail.split.mx.test",
    "127.0.1.20": "smtp.connect.mx.test",
    "127.0.1.21": "silent.connect.mx.test",
    "127.0.1.22": "closed.connect.mx.test",
    "127.0.1.1": "ns1.mx.test",
    "11.0.0.30": "mail-exchanger-with-a-rather-long-name.in-a-deep.sub-domain-for-pipes.mx.test",
}


def _reverse_zones() -> dict[str, str]:
    v4 = []
    v6 = []
    for address, name in PTRS.items():
        owner = dns.reversename.from_address(address).to_text()
        (v6 if owner.endswith("ip6.arpa.") else v4).append(f"{owner} PTR {name}.")
    return {"in-addr.arpa": "\n".join(v4), "ip6.arpa": "\n".join(v6)}


def _zones(zone: str) -> dict[str, str]:
    return {"mx.test": zone, **_reverse_zones()}


_RCODES = {
    ("servfail.mx.test", "MX"): "SERVFAIL",
    (dns.reversename.from_address("11.0.0.10").to_text(), "PTR"): "SERVFAIL",
}


@pytest.fixture(scope="module")
def external() -> Iterator[DnsServerHandle]:
    with start_dns_server(_zones(ZONE), address="127.0.1.1", rcodes=_RCODES) as handle:
        yield handle


@pytest.fixture(scope="module")
def internal() -> Iterator[DnsServerHandle]:
    with start_dns_server(_zones(INTERNAL_ZONE), address="127.0.1.2") as handle:
        yield handle


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["mx", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], server: DnsServerHandle, *args: str):
    code, out, err = run(capsys, "--json", "--server", server.spec, "--timeout", "2", *args)
    return code, json.loads(out), err


def codes(document: dict) -> set[str]:
    return {f["code"] for f in document["results"]["findings"]}


# --- one case per check ----------------------------------------------------------------------


def test_healthy_two_mx(capsys, external) -> None:
    code, doc, _err = run_json(capsys, external, "healthy.mx.test")
    assert code == 0 and doc["exit_code"] == 0 and doc["status"] == "healthy"
    assert codes(doc) == {"mx.ok"}
    view = doc["results"]["servers"][0]
    assert view["server"] == external.spec and view["server_name"] == "ns1.mx.test"
    assert view["mx_ttl"] == 3600 and view["authoritative"] is True
    hosts = [(e["preference"], e["host"]) for e in view["exchangers"]]
    assert hosts == [(10, "mx1.healthy.mx.test"), (20, "mx2.healthy.mx.test")]
    mx1 = view["exchangers"][0]
    assert [a["address"] for a in mx1["addresses"]] == ["11.0.0.1", "2a00:1::1"]
    assert {a["ptr_status"] for a in mx1["addresses"]} == {"confirmed"}


def test_human_output_like_nslookup(capsys, external, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _err = run(capsys, "--server", external.spec, "healthy.mx.test")
    assert code == 0
    assert "Server:   ns1.mx.test" in out
    assert f"Address:  127.0.1.1  port {external.port}" in out
    assert "MX preference = 10, mail exchanger = mx1.healthy.mx.test   TTL 3600" in out
    assert "mx1.healthy.mx.test   internet address = 11.0.0.1" in out
    assert "mx1.healthy.mx.test   IPv6 address = 2a00:1::1" in out
    assert out.index("preference = 10") < out.index("preference = 20")


def test_equal_preferences_load_balanced(capsys, external, monkeypatch) -> None:
    code, doc, _ = run_json(capsys, external, "balanced.mx.test")
    assert code == 0
    assert "mx.load-balanced" in codes(doc)
    monkeypatch.setenv("COLUMNS", "200")
    _code, out, _ = run(capsys, "--server", external.spec, "balanced.mx.test")
    assert "load-balanced" in out


def test_single_mx_no_backup(capsys, external, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "--server", external.spec, "single.mx.test")
    assert code == 0
    assert "no backup exchanger" in out
    _code, doc, _ = run_json(capsys, external, "single.mx.test")
    assert "mx.single" in codes(doc)


def test_no_mx_implicit_fallback(capsys, external) -> None:
    code, doc, _ = run_json(capsys, external, "nomx.mx.test")
    assert code == 1
    assert "mx.none" in codes(doc)
    view = doc["results"]["servers"][0]
    assert view["mx_status"] == "nodata"
    assert [a["address"] for a in view["implicit_mx"]["addresses"]] == ["11.0.0.5"]
    summary = next(f for f in doc["results"]["findings"] if f["code"] == "mx.none")["summary"]
    assert "RFC 5321" in summary and "11.0.0.5" in summary


def test_no_mx_no_address(capsys, external) -> None:
    code, doc, _ = run_json(capsys, external, "nothing.mx.test")
    assert code == 1
    assert {"mx.none", "mx.no-route"} <= codes(doc)


def test_null_mx(capsys, external) -> None:
    code, doc, _ = run_json(capsys, external, "null.mx.test")
    assert code == 1
    assert codes(doc) == {"mx.null"}
    assert doc["results"]["servers"][0]["null_mx"] is True


def test_null_mx_mixed(capsys, external) -> None:
    code, doc, _ = run_json(capsys, external, "nullmixed.mx.test")
    assert code == 1
    assert "mx.null-mixed" in codes(doc)


@pytest.mark.parametrize(
    ("domain", "code"),
    [
        ("cname.mx.test", "mx.cname-target"),
        ("dangling.mx.test", "mx.target-nxdomain"),
        ("nodata.mx.test", "mx.target-nodata"),
        ("literal.mx.test", "mx.ip-literal"),
        ("private.mx.test", "mx.non-public-address"),
        ("v6only.mx.test", "mx.ipv6-only"),
        ("mapped.mx.test", "mx.ipv4-mapped"),
        ("dup.mx.test", "mx.duplicate-exchanger"),
        ("lowttl.mx.test", "mx.low-ttl"),
        ("noptr.mx.test", "mx.ptr-missing"),
        ("badptr.mx.test", "mx.ptr-mismatch"),
    ],
)
def test_each_problem_has_its_finding(capsys, external, domain, code) -> None:
    exit_code, doc, _ = run_json(capsys, external, domain)
    assert exit_code == 1
    assert code in codes(doc)
    finding = next(f for f in doc["results"]["findings"] if f["code"] == code)
    assert finding["severity"] in ("warn", "fail") and finding["summary"] and finding["fix"]


def test_private_only_domain_has_no_public_exchanger(capsys, external) -> None:
    _code, doc, _ = run_json(capsys, external, "private.mx.test")
    assert "mx.no-public-exchanger" in codes(doc)


def test_cname_target_still_resolved(capsys, external) -> None:
    _code, doc, _ = run_json(capsys, external, "cname.mx.test")
    alias = doc["results"]["servers"][0]["exchangers"][0]
    assert alias["cname_chain"] == ["mx1.healthy.mx.test"]
    assert [a["address"] for a in alias["addresses"]] == ["11.0.0.1", "2a00:1::1"]


def test_ptr_failure_only_affects_that_address(capsys, external) -> None:
    code, doc, _ = run_json(capsys, external, "ptrfail.mx.test")
    assert code == 1  # a finding, not "could not complete"
    assert doc["errors"] == []
    assert "mx.ptr-unverified" in codes(doc)
    exchangers = doc["results"]["servers"][0]["exchangers"]
    assert exchangers[0]["addresses"][0]["ptr_status"] == "unverified"
    assert exchangers[1]["addresses"][0]["ptr_status"] == "confirmed"


# --- lookups that fail -----------------------------------------------------------------------


def test_domain_nxdomain_is_a_finding(capsys, external) -> None:
    code, doc, err = run_json(capsys, external, "missing.mx.test")
    assert code == 1
    assert codes(doc) == {"mx.domain-nxdomain"}
    assert err == ""


def test_servfail_is_a_failure_naming_the_server(capsys, external) -> None:
    code, _out, err = run(capsys, "--server", external.spec, "servfail.mx.test")
    assert code == 3
    assert "SERVFAIL" in err and external.spec in err
    assert err.count("\n") == 1 and err.startswith("mailprobe: error: ")
    code, doc, _ = run_json(capsys, external, "servfail.mx.test")
    assert code == 3 and doc["status"] == "incomplete"
    assert "SERVFAIL" in doc["errors"][0]["text"]


def test_refused_is_a_failure(capsys, external) -> None:
    code, doc, _ = run_json(capsys, external, "example.org")
    assert code == 3
    assert "REFUSED" in doc["errors"][0]["message"]


def test_timeout_names_the_server(capsys, silent_dns_server) -> None:
    silent = silent_dns_server(address="127.0.1.9")
    code, _out, err = run(capsys, "--server", silent.spec, "--timeout", "0.3", "healthy.mx.test")
    assert code == 3
    assert silent.spec in err and "no answer within 0.3 s" in err


def test_closed_dns_port_is_a_failure(capsys) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.1.8", 0))
        port = sock.getsockname()[1]
    code, _out, err = run(capsys, "--server", f"127.0.1.8:{port}", "--timeout", "1", "a.test")
    assert code == 3
    assert f"127.0.1.8:{port}" in err


# --- several servers, transports -------------------------------------------------------------


def test_split_answers_are_flagged(capsys, external, internal) -> None:
    code, out, _ = run(
        capsys, "--json", "--server", external.spec, "--server", internal.spec, "split.mx.test"
    )
    doc = json.loads(out)
    assert code == 1
    assert "mx.servers-differ" in codes(doc)
    assert [v["server"] for v in doc["results"]["servers"]] == [external.spec, internal.spec]
    assert any("11.0.0.20" in d and "10.0.0.20" in d for d in doc["results"]["differences"])


def test_agreeing_servers_are_not_flagged(capsys, external, internal) -> None:
    code, out, _ = run(
        capsys, "--json", "--server", external.spec, "--server", internal.spec, "healthy.mx.test"
    )
    doc = json.loads(out)
    assert code == 0 and doc["results"]["differences"] == []


def test_tcp(capsys, external) -> None:
    before = len(external.queries)
    code, _doc, _ = run_json(capsys, external, "--tcp", "single.mx.test")
    assert code == 0
    assert {q[2] for q in external.queries[before:]} == {"tcp"}


def test_dnssec_reports_authenticated(capsys, dns_server) -> None:
    server = dns_server(_zones(ZONE), address="127.0.1.3", authenticated=True)
    code, doc, _ = run_json(capsys, server, "--dnssec", "single.mx.test")
    assert code == 0
    assert doc["inputs"]["dnssec"] is True
    assert doc["results"]["servers"][0]["authenticated"] is True
    plain = dns_server(_zones(ZONE), address="127.0.1.4")
    _code, doc, _ = run_json(capsys, plain, "--dnssec", "single.mx.test")
    assert doc["results"]["servers"][0]["authenticated"] is False


def test_ipv6_server_address(capsys, dns_server) -> None:
    server = dns_server(_zones(ZONE), address="::1")
    code, doc, _ = run_json(capsys, server, "single.mx.test")
    assert code == 0
    assert doc["results"]["servers"][0]["server"] == f"[::1]:{server.port}"


# --- IDN -------------------------------------------------------------------------------------


def test_idn_shown_both_ways(capsys, external, monkeypatch) -> None:
    code, doc, _ = run_json(capsys, external, "bücher.mx.test")
    assert code == 0
    assert doc["results"]["domain_ascii"] == "xn--bcher-kva.mx.test"
    assert doc["results"]["domain_unicode"] == "bücher.mx.test"
    monkeypatch.setenv("COLUMNS", "200")
    _code, out, _ = run(capsys, "--server", external.spec, "xn--bcher-kva.mx.test")
    assert "bücher.mx.test (A-label xn--bcher-kva.mx.test)" in out


# --- --connect -------------------------------------------------------------------------------


class _Greeter(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(5)
        self.request.sendall(b"220 smtp.connect.mx.test ESMTP test\x07 ready\r\n")
        with contextlib.suppress(OSError):
            self.request.recv(1024)


class _Silent(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(5)
        try:
            while self.request.recv(1024):
                pass
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def smtp_listeners() -> Iterator[int]:
    greeter = _Server(("127.0.1.20", 0), _Greeter)
    port = greeter.server_address[1]
    silent = _Server(("127.0.1.21", port), _Silent)
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,)) for s in (greeter, silent)]
    for thread in threads:
        thread.start()
    try:
        yield port
    finally:
        for server in (greeter, silent):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(5)


def test_connect_banner_silent_and_closed(capsys, external, smtp_listeners) -> None:
    port = str(smtp_listeners)
    code, doc, _ = run_json(
        capsys, external, "--timeout", "1.5", "--connect", "--smtp-port", port, "connect.mx.test"
    )
    # one exchanger greets, two cannot be reached: could not complete (as check says)
    assert code == 3
    exchangers = doc["results"]["servers"][0]["exchangers"]
    probes = {e["host"]: e["addresses"][0]["connect"] for e in exchangers}
    greeted = probes["smtp.connect.mx.test"]
    assert greeted["status"] == "banner" and greeted["banner_code"] == 220
    assert greeted["banner_host"] == "smtp.connect.mx.test" and greeted["host_matches"] is True
    assert greeted["latency_ms"] is not None
    assert "\x07" not in greeted["banner"]  # peer text cleaned
    assert probes["silent.connect.mx.test"]["status"] == "no-banner"
    assert probes["closed.connect.mx.test"]["status"] == "refused"
    assert {"smtp.no-banner", "smtp.connect-refused"} <= codes(doc)
    assert {e["step"] for e in doc["errors"]} == {"banner", "connect"}
    assert "mx.unreachable" not in codes(doc)


def test_connect_nothing_answers(capsys, external) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.1.22", 0))
        port = str(sock.getsockname()[1])
    code, doc, _ = run_json(capsys, external, "--connect", "--smtp-port", port, "connect.mx.test")
    assert code == 3
    assert "mx.unreachable" in codes(doc)


# --- batch -----------------------------------------------------------------------------------


def test_batch_json_lines_in_input_order(capsys, external, tmp_path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text(
        "# a comment\n\nhealthy.mx.test\nnull.mx.test   # trailing comment\n"
        "servfail.mx.test\nhealthy.mx.test\n",
        encoding="utf-8",
    )
    before = len(external.queries)
    code, out, _ = run(
        capsys, "--json", "--server", external.spec, "-f", str(listing), "single.mx.test"
    )
    lines = out.splitlines()
    documents = [json.loads(line) for line in lines]
    assert [d["inputs"]["domain"] for d in documents] == [
        "single.mx.test",
        "healthy.mx.test",
        "null.mx.test",
        "servfail.mx.test",
        "healthy.mx.test",
    ]
    assert [d["exit_code"] for d in documents] == [0, 0, 1, 3, 0]
    assert code == 3  # worst of the batch
    asked = [q for q in external.queries[before:] if q[:2] == ("healthy.mx.test", "MX")]
    assert len(asked) == 1  # cached within the run


def test_batch_from_stdin(capsys, external, monkeypatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("single.mx.test\nnull.mx.test\n"))
    code, out, _ = run(capsys, "--json", "--server", external.spec, "-")
    assert [json.loads(line)["inputs"]["domain"] for line in out.splitlines()] == [
        "single.mx.test",
        "null.mx.test",
    ]
    assert code == 1


def test_batch_concurrency_one(capsys, external) -> None:
    code, out, _ = run(
        capsys,
        "--json",
        "--concurrency",
        "1",
        "--server",
        external.spec,
        "null.mx.test",
        "single.mx.test",
    )
    assert code == 1 and len(out.splitlines()) == 2


def test_batch_human_output(capsys, external, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "--server", external.spec, "single.mx.test", "null.mx.test")
    assert code == 1
    assert out.index("single.mx.test") < out.index("null.mx.test")


def test_piped_output_is_never_wrapped(capsys, external, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # not a terminal: no wrapping whatever COLUMNS says
    code, out, _ = run(capsys, "--server", external.spec, "long.mx.test")
    assert code == 0
    host = "mail-exchanger-with-a-rather-long-name.in-a-deep.sub-domain-for-pipes.mx.test"
    lines = [line for line in out.splitlines() if "11.0.0.30" in line]
    assert lines == [f"{host}   internet address = 11.0.0.30   PTR {host} (forward-confirmed)"]
    assert (
        "mx2.healthy.mx.test   internet address = 11.0.0.2   PTR mx2.healthy.mx.test "
        "(forward-confirmed)" in out.splitlines()
    )
    assert all(line == line.rstrip() for line in out.splitlines())


def test_batch_ends_with_a_summary(capsys, external, tmp_path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text(
        "healthy.mx.test\nnull.mx.test\nservfail.mx.test\nnoptr.mx.test\nsingle.mx.test\n"
        "badptr.mx.test\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "--server", external.spec, "-f", str(listing))
    assert code == 3
    lines = out.splitlines()
    start = lines.index("Summary: 6 domains: 2 healthy, 3 problem, 1 incomplete")
    summary = lines[start:]
    assert "  problem:    null.mx.test noptr.mx.test badptr.mx.test" in summary
    assert "  incomplete: servfail.mx.test" in summary
    heading = summary.index("Most frequent findings (domains):")
    rows = [line.split() for line in summary[heading + 1 :]]
    assert 1 <= len(rows) <= 10
    assert all(len(row) == 3 and row[2].isdigit() for row in rows)
    counts = [int(row[2]) for row in rows]
    assert counts == sorted(counts, reverse=True)
    assert all(row[0] in ("FAIL", "WARN", "INFO") for row in rows)


def test_batch_json_has_no_summary(capsys, external) -> None:
    code, out, _ = run(
        capsys, "--json", "--server", external.spec, "null.mx.test", "single.mx.test"
    )
    assert code == 1
    assert [json.loads(line)["inputs"]["domain"] for line in out.splitlines()] == [
        "null.mx.test",
        "single.mx.test",
    ]


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [""],
        ["-bad-.com"],
        ["--", "-bad-.com"],
        ["a" * 300 + ".com"],
        ["a b"],
        ["--server", "999.1.1.1", "example.com"],
        ["--server", "not-an-ip", "example.com"],
        ["--server", "127.0.0.1:0", "example.com"],
        ["--server", "[127.0.0.1]:53", "example.com"],
        ["bad..example"],
        ["192.0.2.1"],
        [],
        ["--doh", "ftp://x", "example.com"],
    ],
)
def test_bad_input_one_line_exit_2(capsys, args) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("mailprobe: error: ") and err.count("\n") == 1


def test_bad_line_in_file_names_the_line(capsys, tmp_path) -> None:
    listing = tmp_path / "d.txt"
    listing.write_text("ok.example\nbad domain\n", encoding="utf-8")
    code, _out, err = run(capsys, "-f", str(listing))
    assert code == 2 and f"{listing} line 2" in err


def test_missing_file(capsys, tmp_path) -> None:
    code, _out, err = run(capsys, "-f", str(tmp_path / "nope.txt"))
    assert code == 2 and "cannot read" in err


# --- the installed command -------------------------------------------------------------------


def test_subprocess_console_script(external) -> None:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run(
        ["mailprobe", "mx", "--server", external.spec, "--json", "healthy.mx.test"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"]["domain"] == "healthy.mx.test"
    bad = subprocess.run(
        ["mailprobe", "mx", "a b"], capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_batch_progress_on_a_terminal(capsys, external, monkeypatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    domains = ["single.mx.test", "null.mx.test", "healthy.mx.test"] * 3
    code, out, _err = run(capsys, "--json", "--server", external.spec, *domains)
    assert code == 1
    assert [json.loads(line)["inputs"]["domain"] for line in out.splitlines()] == domains


def test_connect_human_output(capsys, external, smtp_listeners, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    port = str(smtp_listeners)
    code, out, _err = run(
        capsys,
        "--server",
        external.spec,
        "--timeout",
        "1.5",
        "--connect",
        "--smtp-port",
        port,
        "connect.mx.test",
    )
    assert code == 3
    assert f"port {port}: connected in" in out
    assert "greeting: smtp.connect.mx.test ESMTP test ready" in out
    assert f"port {port}: connection refused" in out
    assert "no banner came within 1.5 s" in out
