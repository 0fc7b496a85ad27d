"""`mailprobe mx` against misbehaving DNS and DoH servers on loopback: whatever a server does,
the run ends in time with one-line errors, exit code 3 and (with --json) a JSON document.

The file-descriptor cases run the CLI in a child process with a low RLIMIT_NOFILE, so the
test's own DNS server (in this process) is not limited with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from mailprobe.cli.app import main

ZONE = """
chain      CNAME c1
c1         CNAME c2
c2         CNAME c3
c3         CNAME c4
c4         CNAME c5
c5         CNAME c6
c6         MX 10 mx
mx         A 11.0.0.1
loop       MX 10 a.loop
a.loop     CNAME b.loop
b.loop     CNAME a.loop
plain      MX 10 mx
"""


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str, float]:
    started = time.monotonic()
    code = main(["mx", "--json", *args])
    seconds = time.monotonic() - started
    out, err = capsys.readouterr()
    return code, json.loads(out), err, seconds


def codes(document: dict) -> set[str]:
    return {f["code"] for f in document["results"]["findings"]}


def error_texts(document: dict) -> list[str]:
    return [e["text"] for e in document["errors"]]


# --- 6. DoH: one deadline per query, a response cap ---------------------------------------


@pytest.fixture
def web(https_server):
    return https_server(address="127.0.1.120", tls=False)


def test_doh_dripping_server_ends_at_the_timeout(capsys, web, dns_server) -> None:
    dns = dns_server({"limits.test": ZONE}, address="127.0.1.121")
    url = web.set(
        "/drip", b"", content_type="application/dns-message", drip=0.5, answer=dns.answer_wire
    )
    code, doc, _err, seconds = run_json(capsys, "--doh", url, "--timeout", "1", "plain.limits.test")
    assert code == 3 and doc["exit_code"] == 3
    assert seconds < 4  # before: 60 s (the session timeout) at one byte a second
    assert error_texts(doc) == [f"dns MX failed {url}: plain.limits.test MX: no answer within 1 s"]
    assert "mx.none" not in codes(doc)


def test_doh_endless_body_is_an_error_naming_the_cap(capsys, web) -> None:
    url = web.set("/endless", b"", content_type="application/dns-message", endless=True)
    code, doc, _err, seconds = run_json(capsys, "--doh", url, "--timeout", "5", "plain.limits.test")
    assert code == 3 and seconds < 5
    (text,) = error_texts(doc)
    assert "larger than the 64 kB response cap (65535 bytes)" in text
    time.sleep(0.2)
    assert web.sent["/endless"] < 16 * 1024 * 1024


# --- 8. a slow CNAME chain: the lookup's deadline, and no DNS verdict from a timeout ------


def test_slow_cname_chain_is_incomplete_not_no_mx(capsys, dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.122", delay=0.4, chase_cnames=False)
    code, doc, err, seconds = run_json(
        capsys, "--server", server.spec, "--timeout", "1", "chain.limits.test"
    )
    assert code == 3 and doc["status"] != "healthy"
    assert seconds < 3  # before: several seconds per lookup, then "no MX records"
    assert not {"mx.none", "mx.no-route"} & codes(doc)
    (text,) = error_texts(doc)
    assert "chain.limits.test MX: no answer within 1 s, the time limit of the lookup" in text
    assert "\n" not in err.strip()


# --- 9. truncation over TCP, extended RCODEs, CNAME loops ---------------------------------


def test_tc_over_tcp_is_incomplete(capsys, dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.123", tcp_truncated=True)
    code, doc, err, _s = run_json(
        capsys, "--server", server.spec, "--tcp", "--timeout", "2", "plain.limits.test"
    )
    assert code == 3
    assert not {"mx.none", "mx.no-route"} & codes(doc)
    (text,) = error_texts(doc)
    assert "truncated answer (TC flag) over TCP" in text
    # without --json: the same failure as one line on stderr
    code = main(["mx", "--server", server.spec, "--tcp", "--timeout", "2", "plain.limits.test"])
    _out, err = capsys.readouterr()
    assert code == 3
    assert err.strip().splitlines() == [f"mailprobe: error: {text}"]


def test_badvers_is_incomplete(capsys, dns_server) -> None:
    server = dns_server(
        {"limits.test": ZONE},
        address="127.0.1.124",
        rcodes={("plain.limits.test", "MX"): "BADVERS"},
    )
    code, doc, _err, _s = run_json(
        capsys, "--server", server.spec, "--timeout", "2", "plain.limits.test"
    )
    assert code == 3
    assert error_texts(doc) == [
        f"dns MX failed {server.spec}: plain.limits.test MX: answer code BADVERS"
    ]
    assert "mx.none" not in codes(doc)


def test_cname_loop_is_named_as_a_loop(capsys, dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.125")
    code, doc, _err, _s = run_json(
        capsys, "--server", server.spec, "--timeout", "2", "loop.limits.test"
    )
    assert code == 3
    loop = "CNAME loop: a.loop.limits.test -> b.loop.limits.test -> a.loop.limits.test"
    assert error_texts(doc) and all(loop in text for text in error_texts(doc))
    # before: "exists but has no A or AAAA records" and "point the MX at" the alias itself
    assert not {"mx.target-nodata", "mx.cname-target"} & codes(doc)
    (exchanger,) = doc["results"]["servers"][0]["exchangers"]
    assert exchanger["host"] == "a.loop.limits.test" and exchanger["cname_chain"] == []


# --- 7. file descriptors: 300 MX over TCP, and a batch at --concurrency 4096 --------------

_LIMITED = (
    "import resource, sys\n"
    "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))\n"
    "from mailprobe.cli.entry import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def run_limited(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _LIMITED, "mx", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_300_mx_over_tcp_with_128_descriptors(dns_server) -> None:
    lines = [f"big MX {n} mx{n}.big" for n in range(300)]
    lines += [f"mx{n}.big A 11.1.{n // 250}.{n % 250 + 1}" for n in range(300)]
    server = dns_server({"fd.test": "\n".join(lines)}, address="127.0.1.126")
    done = run_limited("--server", server.spec, "--tcp", "--timeout", "10", "big.fd.test")
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    document = json.loads(done.stdout)
    assert document["errors"] == []  # before: "too many open files" for most exchangers
    assert len(document["results"]["servers"][0]["exchangers"]) == 300
    assert done.returncode == 1  # problems found (no PTR), but every lookup completed


def test_batch_at_concurrency_4096_with_128_descriptors(dns_server, tmp_path) -> None:
    lines = []
    for n in range(500):
        lines += [f"d{n} MX 10 mx.d{n}", f"mx.d{n} A 11.2.{n // 250}.{n % 250 + 1}"]
    server = dns_server({"fd.test": "\n".join(lines)}, address="127.0.1.127")
    names = tmp_path / "domains.txt"
    names.write_text("".join(f"d{n}.fd.test\n" for n in range(500)), encoding="utf-8")
    done = run_limited(
        "--server", server.spec, "--tcp", "--concurrency", "4096", "--timeout", "10",
        "-f", str(names),
    )  # fmt: skip
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    documents = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(documents) == 500
    assert [e for d in documents for e in d["errors"]] == []
    assert done.returncode == 1
