"""``--format nagios|prometheus`` (mailprobe/render/monitoring.py, runtime.emit/finish_run) and
``--shard K/N`` (mailprobe/cli/shard.py), in process, against the loopback DNS server of
test_cli_mx.py. Prometheus output is checked by a small parser of the text exposition format and,
when installed (Debian package ``prometheus``), by ``promtool check metrics``. No network."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from mailprobe.cli import options, runtime
from mailprobe.cli.app import main
from mailprobe.cli.shard import parse_shard, select_shard, shard_of
from mailprobe.errors import UsageError
from mailprobe.render.monitoring import escape_label, nagios_line
from tests.integration.test_cli_mx import _RCODES, ZONE, _zones
from tests.support.dnsserver import DnsServerHandle, start_dns_server

NAGIOS = re.compile(
    r"^MAILPROBE (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]*?)(?: \| ([^|\n]*))?\n$", re.DOTALL
)
PERF = re.compile(r"^'?[^'=]+'?=-?[0-9.]+(?:s|%|B|KB|MB|TB|c)?(?:;[^;]*){0,4}$")
STATUS = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServerHandle]:
    with start_dns_server(_zones(ZONE), address="127.0.1.61", rcodes=_RCODES) as handle:
        yield handle


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _mx(capsys: pytest.CaptureFixture[str], server: DnsServerHandle, *args: str):
    return _run(capsys, "mx", "--server", server.spec, "--timeout", "2", *args)


def _nagios(out: str, code: int) -> tuple[str, str, dict[str, str]]:
    """(status, text, perfdata label -> value) of a plugin line; checks the exit code."""
    match = NAGIOS.match(out)
    assert match, out
    status, text, perf = match.groups()
    assert code == STATUS[status], (code, out)
    values = {}
    for item in (perf or "").split():
        assert PERF.match(item), item
        label, _, value = item.partition("=")
        values[label] = value.split(";")[0]
    return status, text, values


# -- nagios ---------------------------------------------------------------------------------------


def test_nagios_ok_for_quick_commands(capsys) -> None:
    for args in (["ndr", "5.1.1"], ["findings", "smtp.no-banner"]):
        code, out, _ = _run(capsys, "--format", "nagios", *args)
        status, text, perf = _nagios(out, code)
        assert status == "OK" and args[0] in text
        assert perf["findings_fail"] == "0" and perf["findings_warn"] == "0"
        assert perf["seconds"].endswith("s")


def test_nagios_bad_input_is_unknown(capsys) -> None:
    code, out, err = _run(capsys, "ndr", "--class", "9", "--list", "--format", "nagios")
    status, _text, _ = _nagios(out, code)
    assert status == "UNKNOWN" and code == 3 and "error" in err
    code, out, _ = _run(capsys, "--format", "nagios", "mx")  # no domain: a usage error
    assert _nagios(out, code)[0] == "UNKNOWN"


@pytest.mark.parametrize(
    ("domain", "status"),
    [
        ("healthy.mx.test", "OK"),
        ("cname.mx.test", "WARNING"),
        ("missing.mx.test", "CRITICAL"),
        ("servfail.mx.test", "UNKNOWN"),
    ],
)
def test_nagios_mx_statuses(capsys, dns_server, domain, status) -> None:
    code, out, _ = _mx(capsys, dns_server, "--format", "nagios", domain)
    got, text, perf = _nagios(out, code)
    assert got == status, out
    assert domain in text
    if status == "WARNING":
        assert int(perf["findings_warn"]) >= 1 and perf["findings_fail"] == "0"
    if status == "CRITICAL":
        assert int(perf["findings_fail"]) >= 1


def test_nagios_batch_is_one_line_with_the_worst_status(capsys, dns_server, tmp_path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("healthy.mx.test\ncname.mx.test\nmissing.mx.test\n")
    code, out, _ = _mx(capsys, dns_server, "--format", "nagios", "-f", str(listing))
    status, text, perf = _nagios(out, code)
    assert status == "CRITICAL" and out.count("\n") == 1
    assert perf["targets"] == "3" and perf["ok"] == "1" and perf["critical"] == "1"
    assert "3 targets" in text
    listing.write_text("healthy.mx.test\nservfail.mx.test\nmissing.mx.test\n")
    code, out, _ = _mx(capsys, dns_server, "--format", "nagios", "-f", str(listing))
    assert _nagios(out, code)[0] == "UNKNOWN"


def test_nagios_line_keeps_the_pipe_out_of_the_text() -> None:
    line = nagios_line(1, "a | b\nc", ["x=1"])
    assert line == "MAILPROBE WARNING - a / b c | x=1"


# -- prometheus -----------------------------------------------------------------------------------

SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*",?)*)\} (\S+)$'
)
LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_exposition(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A strict reader of the parts of the text format mailprobe writes; fails on anything
    else (TYPE after samples, a sample without TYPE, duplicate series, bad escapes)."""
    assert text.endswith("\n")
    metrics: dict[str, list[tuple[dict[str, str], float]]] = {}
    typed: set[str] = set()
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind == "gauge" and name not in typed and name not in metrics
            typed.add(name)
            continue
        match = SAMPLE.match(line)
        assert match, line
        name, labels_text, value = match.groups()
        assert name in typed, name
        labels = {
            k: v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
            for k, v in LABEL.findall(labels_text)
        }
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, line
        seen.add(key)
        metrics.setdefault(name, []).append((labels, float(value)))
    return metrics


def _promtool(text: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        return
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    # promtool exits 3 for lint warnings only (e.g. naming conventions); 1 for invalid input
    assert done.returncode in (0, 3), done.stdout + done.stderr
    assert "error" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr


def test_prometheus_batch_has_a_series_per_domain(capsys, dns_server, tmp_path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("healthy.mx.test\ncname.mx.test\nmissing.mx.test\nservfail.mx.test\n")
    code, out, _ = _mx(capsys, dns_server, "--format", "prometheus", "-f", str(listing))
    assert code == 3  # prometheus keeps mailprobe's exit codes
    metrics = parse_exposition(out)
    _promtool(out)
    status = {labels["target"]: value for labels, value in metrics["mailprobe_status"]}
    assert status == {
        "healthy.mx.test": 0,
        "cname.mx.test": 1,
        "missing.mx.test": 2,
        "servfail.mx.test": 3,
    }
    findings = {
        (labels["target"], labels["severity"]): value
        for labels, value in metrics["mailprobe_findings"]
    }
    assert findings[("cname.mx.test", "warn")] >= 1
    assert findings[("missing.mx.test", "fail")] >= 1
    assert metrics["mailprobe_targets"][0][1] == 4
    assert "# TYPE mailprobe_status gauge" in out and "# HELP mailprobe_status " in out


def test_prometheus_quick_command(capsys) -> None:
    code, out, _ = _run(capsys, "ndr", "5.1.1", "--format", "prometheus")
    assert code == 0
    metrics = parse_exposition(out)
    _promtool(out)
    assert metrics["mailprobe_status"] == [({"command": "ndr", "target": "ndr"}, 0.0)]


def test_prometheus_label_escaping() -> None:
    assert escape_label('a"b\\c') == 'a\\"b\\\\c'
    escaped = escape_label("x\ny")
    assert "\n" not in escaped
    value = escape_label(chr(27) + "q" + chr(10) + chr(92))
    line = 'm{l="' + value + '"} 1'
    assert SAMPLE.match(line), line


# -- --format and --json --------------------------------------------------------------------------


def test_format_values(capsys) -> None:
    assert options.FORMATS == runtime.FORMATS
    code, out, _ = _run(capsys, "--format", "json", "ndr", "5.1.1")
    assert code == 0 and json.loads(out)["command"] == "ndr"
    code, out, _ = _run(capsys, "ndr", "5.1.1", "--format", "TEXT")
    assert code == 0 and "5.1.1" in out
    code, _out, err = _run(capsys, "--format", "xml", "ndr", "5.1.1")
    assert code == 2 and "--format" in err
    code, _out, err = _run(capsys, "--json", "ndr", "5.1.1", "--format", "prometheus")
    assert code == 2 and "conflicts" in err
    code, out, _ = _run(capsys, "--json", "--format", "json", "ndr", "5.1.1")
    assert code == 0 and json.loads(out)


def test_ehlo_quick_path_reads_format() -> None:
    parsed = options.parse_quick(
        ["--format", "nagios", "ehlo", "mx.example", "--format=nagios"], "ehlo", options.EHLO
    )
    assert parsed is not None and parsed[1]["output_format"] == "nagios"


# -- --shard --------------------------------------------------------------------------------------

NAMES = [f"d{i}.example" for i in range(200)] + ["Bücher.example", "UPPER.example."]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_partition_the_input(count) -> None:
    pairs = [("", name) for name in NAMES]
    shards = [select_shard(pairs, f"{k}/{count}") for k in range(1, count + 1)]
    union = [name for shard in shards for _src, name in shard]
    assert sorted(union) == sorted(NAMES)  # every domain once: disjoint, nothing lost
    assert len(set(union)) == len(union)
    shuffled = pairs[:]
    random.Random(4).shuffle(shuffled)
    for k, shard in enumerate(shards, start=1):
        again = select_shard(shuffled, f"{k}/{count}")
        assert {n for _s, n in again} == {n for _s, n in shard}  # order does not matter
        assert [n for _s, n in shard] == [n for n in NAMES if (("", n) in shard)]  # input order


def test_shard_by_name_not_spelling() -> None:
    assert shard_of("UPPER.example.", 5) == shard_of("upper.example", 5)
    assert shard_of("bücher.example", 5) == shard_of("xn--bcher-kva.example", 5)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "3", "-1/2", "1/2/3", "١/٢", ""])
def test_bad_shard_is_a_usage_error(text, capsys) -> None:
    with pytest.raises(UsageError):
        parse_shard(text)
    for command in ("mx", "check"):
        code, _out, err = _run(capsys, command, "--shard", text, "a.example")
        assert code == 2 and "--shard" in err, (command, text, err)


def test_mx_shards_concatenate_to_the_whole_batch(capsys, dns_server, tmp_path) -> None:
    domains = ["healthy.mx.test", "cname.mx.test", "balanced.mx.test", "single.mx.test"]
    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join(domains) + "\n")
    seen = []
    for k in (1, 2, 3):
        code, out, _ = _mx(capsys, dns_server, "--json", "--shard", f"{k}/3", "-f", str(listing))
        assert code in (0, 1)
        lines = [json.loads(line) for line in out.splitlines()]  # JSON Lines, even of one
        seen.extend(doc["inputs"]["domain"] for doc in lines)
    assert sorted(seen) == sorted(domains)


def test_per_check_and_certificate_gauges() -> None:
    """A checklist-shaped result: a gauge per step, and days left of a TLS report found below
    an exchanger (named by the nearest host/address above it)."""
    import dataclasses

    from mailprobe.model import Finding, Severity
    from mailprobe.render.monitoring import prometheus, summarize

    @dataclasses.dataclass(frozen=True)
    class Tls:
        days_left: int | None

    @dataclasses.dataclass(frozen=True)
    class Smtp:
        host: str
        address: str
        tls: Tls

    @dataclasses.dataclass(frozen=True)
    class Step:
        name: str
        status: str
        findings: tuple[Finding, ...] = ()
        failures: tuple[object, ...] = ()

    @dataclasses.dataclass(frozen=True)
    class Report:
        domain: str
        steps: tuple[Step, ...]
        smtp: tuple[Smtp, ...]
        seconds: float

        @property
        def findings(self) -> tuple[Finding, ...]:
            return tuple(f for s in self.steps for f in s.findings)

    warn = Finding(Severity.WARN, "mx.low-ttl", "low")
    report = Report(
        "a.example",
        (Step("dns", "problem", (warn,)), Step("smtp", "ok"), Step("relay", "skipped")),
        (Smtp("mx.a.example", "192.0.2.1", Tls(12)), Smtp("mx2.a.example", "", Tls(None))),
        1.5,
    )
    item = summarize("check", {"domain": "a.example"}, report, 1)
    assert item.status == 1
    assert [(c.name, c.status) for c in item.checks] == [("dns", 1), ("smtp", 0), ("relay", 3)]
    text = prometheus([item], 2.0)
    metrics = parse_exposition(text)
    _promtool(text)
    days = metrics["mailprobe_certificate_days_left"]
    assert days == [
        (
            {
                "command": "check",
                "target": "a.example",
                "host": "mx.a.example",
                "address": "192.0.2.1",
            },
            12.0,
        )
    ]
    assert metrics["mailprobe_probe_seconds"][0][1] == 1.5
    checks = {labels["check"]: v for labels, v in metrics["mailprobe_check_status"]}
    assert checks == {"dns": 1, "smtp": 0, "relay": 3}
