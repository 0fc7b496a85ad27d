"""Policy checks against the real loopback DNS server (tests/support/dnsserver.py) and the
loopback HTTPS server (tests/support/https.py). Addresses: 127.0.5.x only."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailprobe.checks.policy import (
    PolicyReport,
    association,
    check_dane,
    check_dkim,
    check_dmarc,
    check_mta_sts,
    check_policies,
    check_spf,
    check_tlsrpt,
)
from mailprobe.dns import Resolver, parse_server
from mailprobe.model import Severity, to_jsonable
from tests.support.certs import TestCA
from tests.support.dnsserver import DnsServerHandle
from tests.support.https import HttpsServer

T = TypeVar("T")
DNS_ADDRESS = "127.0.5.53"
POLICY_PATH = "/.well-known/mta-sts.txt"
POLICY = "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 1209600\n"


def run(server: Any, check: Callable[[Resolver], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        options.setdefault("timeout", 2.0)
        async with Resolver([parse_server(server.spec)], **options) as resolver:
            return await check(resolver)

    return asyncio.run(main())


def codes(report: Any) -> set[str]:
    return {f.code for f in report.findings}


def _txt(value: str) -> str:
    """A TXT rdata in zone syntax, split into 200-character strings."""
    parts = [value[i : i + 200] for i in range(0, len(value), 200)] or [""]
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


def _dkim_p() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def mx_chain(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """The DER chain an exchanger mx1.example.test would present (leaf first)."""
    ca = TestCA(directory=tmp_path_factory.mktemp("dane"))
    cert = ca.issue("mx1.example.test")
    text = cert.cert_chain.read_text()
    blocks = [b + "-----END CERTIFICATE-----\n" for b in text.split("-----END CERTIFICATE-----")]
    return [ssl.PEM_cert_to_DER_cert(b) for b in blocks if "BEGIN CERTIFICATE" in b]


def healthy_zone(tlsa: str, dkim_p: str, spf: str = "v=spf1 mx -all") -> str:
    return f"""
@               MX    10 mx1.example.test.
mx1             A     127.0.5.25
@               TXT   {_txt(spf)}
@               TXT   "google-site-verification=abc"
_dmarc          TXT   "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
_mta-sts        TXT   "v=STSv1; id=20240101"
_smtp._tls      TXT   "v=TLSRPTv1; rua=mailto:tls@example.test"
_25._tcp.mx1    TLSA  {tlsa}
sel1._domainkey TXT   {_txt("v=DKIM1; k=rsa; p=" + dkim_p)}
"""


@pytest.fixture
def healthy(
    dns_server: Callable[..., DnsServerHandle],
    https_server: Callable[..., HttpsServer],
    mx_chain: list[bytes],
) -> tuple[DnsServerHandle, HttpsServer]:
    tlsa = f"3 1 1 {association(mx_chain[0], 1, 1)}"
    zone = healthy_zone(tlsa, _dkim_p())
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS, authenticated=True)
    web = https_server("127.0.5.1", names=("mta-sts.example.test",))
    web.set(POLICY_PATH, POLICY)
    return dns, web


def test_healthy_domain(
    healthy: tuple[DnsServerHandle, HttpsServer], mx_chain: list[bytes]
) -> None:
    dns, web = healthy
    report: PolicyReport = run(
        dns,
        lambda r: check_policies(
            "example.test",
            r,
            certificates={"mx1.example.test": mx_chain},
            dkim_selectors=["sel1"],
            mta_sts_url=web.url(POLICY_PATH),
            verify=web.client_context(),
            timeout=5,
        ),
        dnssec=True,
    )
    problems = [f for f in report.all_findings() if f.severity in (Severity.WARN, Severity.FAIL)]
    assert problems == []
    assert report.all_failures() == ()
    assert report.exchangers == ("mx1.example.test",)
    assert report.exchanger_addresses == ("127.0.5.25",)
    found = {f.code for f in report.all_findings()}
    assert {
        "spf.valid",
        "spf.fail-all",
        "spf.mx-permitted",
        "dmarc.valid",
        "dmarc.policy-reject",
        "mtasts.valid",
        "mtasts.mx-covered",
        "tlsrpt.valid",
        "dane.match",
        "dkim.valid",
    } <= found
    assert report.spf.record == "v=spf1 mx -all"
    assert report.mta_sts.policy is not None and report.mta_sts.policy.mode == "enforce"
    assert report.dane[0].authenticated
    assert report.dkim[0].key is not None and report.dkim[0].key.key_bits == 2048
    assert web.requests and web.requests[0][1] == POLICY_PATH
    document = json.loads(json.dumps(to_jsonable(report)))
    assert document["spf"]["record"] == "v=spf1 mx -all"
    assert document["spf"]["evaluations"][0]["result"] == "pass"
    assert document["mta_sts"]["policy"]["mx"] == ["mx1.example.test"]
    assert document["dane"][0]["match"]["matched"] is True


def test_two_spf_records(dns_server: Callable[..., DnsServerHandle]) -> None:
    zone = '@ TXT "v=spf1 mx -all"\n@ TXT "v=spf1 include:_spf.example.net ~all"\n'
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS)
    report = run(dns, lambda r: check_spf("example.test", r))
    assert codes(report) == {"spf.multiple"}
    assert set(report.records) == {"v=spf1 mx -all", "v=spf1 include:_spf.example.net ~all"}


def test_spf_with_eleven_lookups(dns_server: Callable[..., DnsServerHandle]) -> None:
    includes = " ".join(f"include:s{n}.example.test" for n in range(1, 6))
    lines = [f"@ TXT {_txt('v=spf1 mx a ' + includes + ' -all')}", "@ MX 10 mx1", "@ A 127.0.5.25"]
    lines.append("mx1 A 127.0.5.25")
    for n in range(1, 6):
        lines.append(f's{n} TXT "v=spf1 ip4:192.0.2.{n} a:s{n}.example.test -all"')
        lines.append(f"s{n} A 192.0.2.{n}")
    dns = dns_server({"example.test": "\n".join(lines)}, address=DNS_ADDRESS)
    report = run(dns, lambda r: check_spf("example.test", r, ["127.0.5.25", "192.0.2.5"]))
    # mx + a + 5 includes + 5 nested a = 12 > 10
    assert report.lookup_count == 12
    assert "spf.too-many-lookups" in codes(report)
    verdicts = {e.address: e.result for e in report.evaluations}
    assert verdicts["127.0.5.25"] == "pass"  # matched by mx before the limit
    assert verdicts["192.0.2.5"] == "permerror"  # needs the 11th lookup
    assert report.failures == ()


def test_spf_long_record_in_several_strings_and_bad_bytes(
    dns_server: Callable[..., DnsServerHandle],
) -> None:
    terms = " ".join(f"ip4:192.0.2.{n}" for n in range(60))
    zone = f'@ TXT {_txt("v=spf1 " + terms + " -all")}\nbad TXT "v=spf1 a:\\255\\254.x.test -all"\n'
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS)
    report = run(dns, lambda r: check_spf("example.test", r, ["192.0.2.59"]))
    assert report.record == "v=spf1 " + terms + " -all"
    assert report.evaluations[0].result == "pass"
    assert "spf.long-record" in codes(report)
    report = run(dns, lambda r: check_spf("bad.example.test", r))
    assert report.record is not None and "\ufffd" in report.record
    assert "spf.syntax" in codes(report)


def test_dns_timeout_is_never_reported_as_missing(
    silent_dns_server: Callable[..., Any],
) -> None:
    silent = silent_dns_server(address="127.0.5.54")

    async def all_checks(r: Resolver) -> list[Any]:
        return list(
            await asyncio.gather(
                check_spf("example.test", r),
                check_dmarc("example.test", r),
                check_tlsrpt("example.test", r),
                check_mta_sts("example.test", r, ["mx1.example.test"]),
                check_dkim("example.test", "sel1", r),
                check_dane("mx1.example.test", r),
            )
        )

    reports = run(silent, all_checks, timeout=0.3)
    for report in reports:
        assert report.findings == (), report
        assert len(report.failures) == 1
        assert "no answer" in report.failures[0].message


def test_servfail_is_a_failure(dns_server: Callable[..., DnsServerHandle]) -> None:
    dns = dns_server(
        {"example.test": '@ TXT "v=spf1 -all"'},
        address=DNS_ADDRESS,
        rcodes={("_dmarc.example.test", "TXT"): "SERVFAIL"},
    )
    report = run(dns, lambda r: check_dmarc("example.test", r))
    assert report.findings == () and report.failures
    assert "SERVFAIL" in report.failures[0].message


def test_dmarc_policy_none(dns_server: Callable[..., DnsServerHandle]) -> None:
    zone = '_dmarc TXT "v=DMARC1; p=none; rua=mailto:dmarc@reports.example.net"\n'
    reports = '_report._dmarc TXT "v=DMARC1"\n'
    dns = dns_server(
        {"example.test": zone, "reports.example.net": "example.test." + reports},
        address=DNS_ADDRESS,
    )
    report = run(dns, lambda r: check_dmarc("example.test", r))
    policy = next(f for f in report.findings if f.code == "dmarc.policy-none")
    assert policy.severity is Severity.WARN and "p=quarantine" in policy.fix
    assert report.parsed is not None
    assert report.parsed.aggregate_report_uris == ("mailto:dmarc@reports.example.net",)
    assert report.unauthorized_report_domains == ()
    assert "dmarc.report-not-authorized" not in codes(report)


def test_dmarc_reports_to_the_parent_domain_need_no_authorization(
    dns_server: Callable[..., DnsServerHandle],
) -> None:
    zone = '_dmarc.sub TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"\n'
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS)
    report = run(dns, lambda r: check_dmarc("sub.example.test", r))
    assert "dmarc.report-not-authorized" not in codes(report)
    assert "dmarc.valid" in codes(report)


def test_dmarc_missing_and_broken(dns_server: Callable[..., DnsServerHandle]) -> None:
    zone = '_dmarc.broken TXT "v=DMARC1; p=maybe; rua=mailto:a@elsewhere.example"\n'
    dns = dns_server({"example.test": zone, "elsewhere.example": ""}, address=DNS_ADDRESS)
    report = run(dns, lambda r: check_dmarc("example.test", r))
    assert codes(report) == {"dmarc.missing"}
    report = run(dns, lambda r: check_dmarc("broken.example.test", r))
    assert report.record == "v=DMARC1; p=maybe; rua=mailto:a@elsewhere.example"  # kept raw
    assert {"dmarc.syntax", "dmarc.report-not-authorized"} <= codes(report)


def _mta_sts_zone(mx: str = "mx1.example.test.") -> str:
    return f'@ MX 10 {mx}\n_mta-sts TXT "v=STSv1; id=1"\n'


def _mta_sts(dns: DnsServerHandle, web: HttpsServer, **options: Any) -> Any:
    options.setdefault("mta_sts_url", web.url(POLICY_PATH))
    options.setdefault("verify", web.client_context())
    options.setdefault("timeout", 2.0)
    return run(dns, lambda r: check_mta_sts("example.test", r, **options))


def test_mta_sts_policy_not_covering_the_mx(
    dns_server: Callable[..., DnsServerHandle], https_server: Callable[..., HttpsServer]
) -> None:
    dns = dns_server({"example.test": _mta_sts_zone("mail.example.test.")}, address=DNS_ADDRESS)
    web = https_server("127.0.5.2")
    web.set(POLICY_PATH, POLICY)
    report = _mta_sts(dns, web)
    assert report.exchangers == ("mail.example.test",)
    assert report.uncovered == ("mail.example.test",)
    finding = next(f for f in report.findings if f.code == "mtasts.mx-not-covered")
    assert finding.severity is Severity.FAIL and finding.subject == "mail.example.test"
    assert "mx: mail.example.test" in finding.fix


def test_mta_sts_testing_mode_small_max_age_and_wildcard(
    dns_server: Callable[..., DnsServerHandle], https_server: Callable[..., HttpsServer]
) -> None:
    dns = dns_server({"example.test": _mta_sts_zone()}, address=DNS_ADDRESS)
    web = https_server("127.0.5.3")
    web.set(POLICY_PATH, "version: STSv1\nmode: testing\nmx: *.example.test\nmax_age: 3600\n")
    report = _mta_sts(dns, web)
    assert {"mtasts.mode-testing", "mtasts.max-age-small", "mtasts.mx-covered"} <= codes(report)


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ({"body": "not here", "status": 404}, "mtasts.fetch-failed"),
        ({"body": "", "status": 301, "headers": {"Location": "https://x/"}}, "mtasts.redirect"),
        ({"body": POLICY, "content_type": "text/html"}, "mtasts.content-type"),
        ({"body": "x" * 70_000}, "mtasts.too-large"),
        ({"body": "<html>policy</html>"}, "mtasts.policy-syntax"),
    ],
)
def test_mta_sts_fetch_problems(
    dns_server: Callable[..., DnsServerHandle],
    https_server: Callable[..., HttpsServer],
    setup: dict[str, Any],
    code: str,
) -> None:
    dns = dns_server({"example.test": _mta_sts_zone()}, address=DNS_ADDRESS)
    web = https_server("127.0.5.4")
    web.set(POLICY_PATH, **setup)
    report = _mta_sts(dns, web)
    assert code in codes(report)
    assert any(f.severity is Severity.FAIL for f in report.findings)
    assert report.failures == ()


def test_mta_sts_untrusted_certificate_and_refused_connection(
    dns_server: Callable[..., DnsServerHandle], https_server: Callable[..., HttpsServer]
) -> None:
    dns = dns_server({"example.test": _mta_sts_zone()}, address=DNS_ADDRESS)
    web = https_server("127.0.5.5")
    web.set(POLICY_PATH, POLICY)
    report = _mta_sts(dns, web, verify=ssl.create_default_context())
    failed = next(f for f in report.findings if f.code == "mtasts.fetch-failed")
    assert "certificate" in failed.summary
    web.stop()
    report = _mta_sts(dns, web)
    assert "mtasts.fetch-failed" in codes(report) and report.failures == ()


def test_mta_sts_fetch_timeout_is_a_failure(
    dns_server: Callable[..., DnsServerHandle], https_server: Callable[..., HttpsServer]
) -> None:
    dns = dns_server({"example.test": _mta_sts_zone()}, address=DNS_ADDRESS)
    web = https_server("127.0.5.6")
    web.set(POLICY_PATH, POLICY, delay=5)
    report = _mta_sts(dns, web, timeout=0.3)
    assert report.failures and report.failures[0].step == "mta-sts fetch"
    assert "mtasts.fetch-failed" not in codes(report)


def test_mta_sts_record_problems(dns_server: Callable[..., DnsServerHandle]) -> None:
    zone = (
        '_mta-sts TXT "v=STSv1; id=1"\n_mta-sts TXT "v=STSv1; id=2"\n'
        '_mta-sts.bad TXT "v=STSv1; id=not-valid!"\n'
    )
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS)
    report = run(dns, lambda r: check_mta_sts("example.test", r, ["mx1.example.test"]))
    assert codes(report) == {"mtasts.multiple"}
    report = run(dns, lambda r: check_mta_sts("none.example.test", r, ["mx1.example.test"]))
    assert codes(report) == {"mtasts.missing"}


def test_tlsrpt_missing_and_invalid(dns_server: Callable[..., DnsServerHandle]) -> None:
    zone = '_smtp._tls.bad TXT "v=TLSRPTv1; rua=ftp://x.example"\n'
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS)
    report = run(dns, lambda r: check_tlsrpt("example.test", r))
    assert codes(report) == {"tlsrpt.missing"}
    assert report.findings[0].severity is Severity.INFO
    report = run(dns, lambda r: check_tlsrpt("bad.example.test", r))
    assert "tlsrpt.syntax" in codes(report) and report.records == (
        "v=TLSRPTv1; rua=ftp://x.example",
    )


@pytest.mark.parametrize("authenticated", [True, False])
def test_tlsa_match_and_mismatch(
    dns_server: Callable[..., DnsServerHandle], mx_chain: list[bytes], authenticated: bool
) -> None:
    good = association(mx_chain[0], 1, 1)
    zone = (
        f"_25._tcp.mx1 TLSA 3 1 1 {good}\n"
        f"_25._tcp.mx2 TLSA 3 1 1 {'00' * 32}\n"
        f"_25._tcp.mx2 TLSA 1 1 1 {good}\n"
    )
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS, authenticated=authenticated)
    options = {"dnssec": True}
    report = run(dns, lambda r: check_dane("mx1.example.test", r, mx_chain), **options)
    assert "dane.match" in codes(report)
    assert report.authenticated is authenticated
    assert ("dane.not-authenticated" in codes(report)) is not authenticated
    report = run(dns, lambda r: check_dane("mx2.example.test", r, mx_chain), **options)
    mismatch = next(f for f in report.findings if f.code == "dane.mismatch")
    assert mismatch.severity is (Severity.FAIL if authenticated else Severity.INFO)
    assert "dane.unusable-record" in codes(report)  # the PKIX-EE record
    report = run(dns, lambda r: check_dane("mx3.example.test", r, mx_chain), **options)
    assert codes(report) == {"dane.missing"}


def test_dkim_revoked_and_missing(dns_server: Callable[..., DnsServerHandle]) -> None:
    zone = 'old._domainkey TXT "v=DKIM1; k=rsa; p="\n'
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS)
    report = run(dns, lambda r: check_dkim("example.test", "old", r))
    assert report.name == "old._domainkey.example.test"
    assert codes(report) == {"dkim.revoked"}
    assert report.key is not None and report.key.revoked
    report = run(dns, lambda r: check_dkim("example.test", "nosuch", r))
    assert codes(report) == {"dkim.missing"}


def test_mta_sts_host_is_resolved_through_the_check_resolver(
    dns_server: Callable[..., DnsServerHandle], https_server: Callable[..., HttpsServer]
) -> None:
    web = https_server("127.0.5.10", names=("mta-sts.example.test",))
    web.set(POLICY_PATH, POLICY)
    # two addresses: nothing listens on the first one (refused), the second one serves
    zone = _mta_sts_zone() + "mta-sts A 127.0.5.9\nmta-sts A 127.0.5.10\n"
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS)
    url = f"https://mta-sts.example.test:{web.port}{POLICY_PATH}"
    report = _mta_sts(dns, web, mta_sts_url=url)
    assert "mtasts.valid" in codes(report), report.findings
    assert report.fetch is not None and report.fetch.address == "127.0.5.10"
    assert web.requests[-1][2] == f"mta-sts.example.test:{web.port}"


def test_mta_sts_host_problems(
    dns_server: Callable[..., DnsServerHandle], https_server: Callable[..., HttpsServer]
) -> None:
    web = https_server("127.0.5.11")  # certificate without mta-sts.example.test
    web.set(POLICY_PATH, POLICY)
    zone = _mta_sts_zone() + "mta-sts A 127.0.5.11\n"
    dns = dns_server({"example.test": zone}, address=DNS_ADDRESS)
    report = _mta_sts(dns, web, mta_sts_url=f"https://mta-sts.example.test:{web.port}/x")
    failed = next(f for f in report.findings if f.code == "mtasts.fetch-failed")
    assert "TLS failed" in failed.summary and "certificate" in failed.summary
    dns.set_zone("example.test", _mta_sts_zone())
    report = _mta_sts(dns, web, mta_sts_url=f"https://mta-sts.example.test:{web.port}/x")
    failed = next(f for f in report.findings if f.code == "mtasts.fetch-failed")
    assert "no address" in failed.summary
