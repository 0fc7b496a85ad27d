"""SPF lookup counting (nested includes, loops, voids) and check_host() evaluation, against an
in-memory resolver that answers like mailprobe.dns.Resolver (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.TXT import TXT
from hypothesis import given, settings
from hypothesis import strategies as st

from mailprobe.checks.policy import SpfReport, check_spf, evaluate_spf
from mailprobe.dns import DnsAnswer, DnsStatus

Zone = Mapping[str, Mapping[str, Sequence[str | bytes | tuple[bytes, ...]]]]


class FakeResolver:
    """Answers from a dict {name: {TYPE: [records]}}; TXT values are text (one string),
    bytes, or a tuple of byte strings (several character-strings). ``statuses`` forces a
    status for (name, TYPE)."""

    def __init__(
        self, zone: Zone, statuses: Mapping[tuple[str, str], DnsStatus] | None = None
    ) -> None:
        self.zone = {k.lower().rstrip("."): v for k, v in zone.items()}
        self.statuses = dict(statuses or {})
        self.queries: list[tuple[str, str]] = []

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        name = name.lower().rstrip(".")
        self.queries.append((name, rdtype))
        status = self.statuses.get((name, rdtype))
        if status is not None:
            return DnsAnswer(name, rdtype, status, server="fake", message="forced")
        node = self.zone.get(name)
        if node is None:
            return DnsAnswer(name, rdtype, DnsStatus.NXDOMAIN, server="fake")
        values = node.get(rdtype)
        if not values:
            return DnsAnswer(name, rdtype, DnsStatus.NODATA, server="fake")
        rdata = tuple(_rdata(rdtype, v) for v in values)
        return DnsAnswer(
            name,
            rdtype,
            DnsStatus.OK,
            records=tuple(r.to_text() for r in rdata),
            server="fake",
            _rdata=rdata,
        )


def _rdata(rdtype: str, value: str | bytes | tuple[bytes, ...]) -> object:
    if rdtype == "TXT":
        if isinstance(value, tuple):
            strings = value
        else:  # long text becomes several 255-byte character-strings, as in a zone
            data = value.encode() if isinstance(value, str) else value
            strings = tuple(data[i : i + 255] for i in range(0, len(data), 255)) or (b"",)
        return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings)
    assert isinstance(value, str)
    return dns.rdata.from_text("IN", rdtype, value)


def spf(zone: Zone, domain: str = "example.test", addresses: Sequence[str] = ()) -> SpfReport:
    return asyncio.run(check_spf(domain, FakeResolver(zone), addresses))


def codes(report: SpfReport) -> set[str]:
    return {f.code for f in report.findings}


# --- record discovery ----------------------------------------------------------------------


def test_single_valid_record() -> None:
    report = spf({"example.test": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all", "other=1"]}})
    assert report.record == "v=spf1 ip4:192.0.2.0/24 -all"
    assert report.lookup_count == 0
    assert report.all_qualifier == "-"
    assert {"spf.valid", "spf.fail-all", "spf.lookup-count"} <= codes(report)
    assert report.failures == ()


def test_missing_record() -> None:
    report = spf({"example.test": {"TXT": ["google-site-verification=abc"]}})
    assert codes(report) == {"spf.missing"}
    assert report.records == ()


def test_nxdomain_is_missing_not_failure() -> None:
    report = spf({})
    assert codes(report) == {"spf.missing"}
    assert report.failures == ()


def test_timeout_is_a_failure_never_missing() -> None:
    resolver = FakeResolver({}, {("example.test", "TXT"): DnsStatus.TIMEOUT})
    report = asyncio.run(check_spf("example.test", resolver, ()))
    assert report.findings == ()
    assert len(report.failures) == 1
    assert report.failures[0].step == "spf TXT"


def test_servfail_is_a_failure_never_missing() -> None:
    resolver = FakeResolver({}, {("example.test", "TXT"): DnsStatus.SERVFAIL})
    report = asyncio.run(check_spf("example.test", resolver, ()))
    assert report.findings == () and len(report.failures) == 1


def test_two_records_are_reported_raw() -> None:
    report = spf({"example.test": {"TXT": ["v=spf1 mx -all", "v=spf1 a ~all"]}})
    assert codes(report) == {"spf.multiple"}
    assert report.records == ("v=spf1 mx -all", "v=spf1 a ~all")


def test_strings_are_joined_without_separator_and_bad_utf8_never_crashes() -> None:
    zone = {"example.test": {"TXT": [(b"v=spf1 ip4:192.0.2.1 ", b"ip4:192.0.2.2 -all")]}}
    report = spf(zone)
    assert report.record == "v=spf1 ip4:192.0.2.1 ip4:192.0.2.2 -all"
    report = spf({"example.test": {"TXT": [b"v=spf1 a:\xff\xfe.example.test -all"]}})
    assert report.record is not None and "\ufffd" in report.record
    assert "spf.syntax" in codes(report)


def test_syntax_error_keeps_the_raw_record() -> None:
    report = spf({"example.test": {"TXT": ["v=spf1 ip4:192.0.2.300 -all"]}})
    assert report.record == "v=spf1 ip4:192.0.2.300 -all"
    assert "spf.syntax" in codes(report)
    assert "spf.valid" not in codes(report)


# --- lookup counting ---------------------------------------------------------------------


def _chain_zone(includes: int) -> dict[str, dict[str, list[str]]]:
    """example.test includes i1 ... iN, each of which has one more lookup-free record."""
    terms = " ".join(f"include:i{n}.example.test" for n in range(1, includes + 1))
    zone: dict[str, dict[str, list[str]]] = {"example.test": {"TXT": [f"v=spf1 {terms} -all"]}}
    for n in range(1, includes + 1):
        zone[f"i{n}.example.test"] = {"TXT": [f"v=spf1 ip4:192.0.2.{n} -all"]}
    return zone


def test_ten_lookups_are_allowed() -> None:
    report = spf(_chain_zone(10))
    assert report.lookup_count == 10
    assert "spf.too-many-lookups" not in codes(report)
    assert "spf.lookup-count" in codes(report)


def test_eleven_lookups_are_too_many() -> None:
    report = spf(_chain_zone(11))
    assert report.lookup_count == 11
    assert "spf.too-many-lookups" in codes(report)


def test_nested_includes_are_counted() -> None:
    zone = {
        "example.test": {"TXT": ["v=spf1 mx include:a.example.test -all"]},
        "mx.example.test": {"A": ["192.0.2.25"]},
        "a.example.test": {"TXT": ["v=spf1 include:b.example.test include:c.example.test ~all"]},
        "b.example.test": {"TXT": ["v=spf1 a:mx.example.test exists:x.example.test -all"]},
        "c.example.test": {"TXT": ["v=spf1 redirect=b.example.test"]},
        "x.example.test": {"A": ["127.0.0.2"]},
    }
    zone["example.test"]["MX"] = ["10 mx.example.test."]
    report = spf(zone)
    # mx + include:a + (include:b + include:c) + (a + exists) + (redirect + (a + exists))
    assert report.lookup_count == 9
    assert report.lookup_count_complete
    top = report.includes[0]
    assert top.domain == "a.example.test" and top.lookup_count == 2
    assert [n.domain for n in top.includes] == ["b.example.test", "c.example.test"]
    assert top.includes[1].includes[0].term == "redirect=b.example.test"


def test_mx_counts_once_whatever_the_number_of_exchangers() -> None:
    zone = {
        "example.test": {
            "TXT": ["v=spf1 mx -all"],
            "MX": [f"{n} mx{n}.example.test." for n in range(1, 6)],
        },
    }
    report = spf(zone)
    assert report.lookup_count == 1
    assert report.void_lookup_count == 0


def test_mx_with_more_than_ten_hosts_is_permerror() -> None:
    zone = {
        "example.test": {
            "TXT": ["v=spf1 mx -all"],
            "MX": [f"{n} mx{n}.example.test." for n in range(1, 12)],
        },
    }
    for n in range(1, 12):
        zone[f"mx{n}.example.test"] = {"A": [f"192.0.2.{n}"]}
    report = spf(zone, addresses=["192.0.2.11"])
    assert "spf.mx-too-many" in codes(report)
    assert report.evaluations[0].result == "permerror"


def test_include_loop_is_found_and_bounded() -> None:
    zone = {
        "example.test": {"TXT": ["v=spf1 include:a.example.test -all"]},
        "a.example.test": {"TXT": ["v=spf1 include:b.example.test -all"]},
        "b.example.test": {"TXT": ["v=spf1 include:example.test -all"]},
    }
    resolver = FakeResolver(zone)
    report = asyncio.run(check_spf("example.test", resolver, ["192.0.2.1"]))
    assert {"spf.loop", "spf.too-many-lookups"} <= codes(report)
    loop = next(f for f in report.findings if f.code == "spf.loop")
    assert "example.test -> a.example.test -> b.example.test -> example.test" in loop.summary
    assert report.evaluations[0].result == "permerror"
    assert len(resolver.queries) < 40


def test_self_redirect_loop() -> None:
    report = spf({"example.test": {"TXT": ["v=spf1 redirect=example.test"]}}, addresses=["::1"])
    assert "spf.loop" in codes(report)
    assert report.evaluations[0].result == "permerror"


def test_wide_fan_out_stays_bounded() -> None:
    """Every record includes the next two: the analysis stops following, says so."""
    zone: dict[str, dict[str, list[str]]] = {}
    for n in range(60):
        zone[f"n{n}.example.test"] = {
            "TXT": [f"v=spf1 include:n{n + 1}.example.test include:n{n + 2}.example.test -all"]
        }
    zone["example.test"] = {"TXT": ["v=spf1 include:n0.example.test -all"]}
    resolver = FakeResolver(zone)
    report = asyncio.run(check_spf("example.test", resolver, ["192.0.2.1"]))
    assert not report.lookup_count_complete
    assert report.lookup_count > 10
    assert "spf.too-many-lookups" in codes(report)
    summary = next(f.summary for f in report.findings if f.code == "spf.too-many-lookups")
    assert "at least" in summary
    assert len(resolver.queries) < 150


def test_void_lookups_are_counted() -> None:
    zone = {
        "example.test": {
            "TXT": ["v=spf1 a mx a:gone.example.test exists:none.example.test ip4:192.0.2.1 -all"]
        }
    }
    report = spf(zone)
    # the domain has no A/AAAA and no MX; gone does not exist; none has no A: 4 voids
    assert report.void_lookup_count == 4
    assert "spf.too-many-void-lookups" in codes(report)


def test_two_void_lookups_are_allowed() -> None:
    report = spf({"example.test": {"TXT": ["v=spf1 a mx -all"]}})
    assert report.void_lookup_count == 2
    assert "spf.too-many-void-lookups" not in codes(report)


def test_include_without_record_is_reported() -> None:
    zone = {"example.test": {"TXT": ["v=spf1 include:nospf.example.test -all"]}}
    zone["nospf.example.test"] = {"TXT": ["not spf"]}
    report = spf(zone, addresses=["192.0.2.1"])
    assert "spf.include-missing" in codes(report)
    assert report.includes[0].status == "missing"
    assert report.evaluations[0].result == "permerror"


def test_broken_include_is_reported_with_its_raw_record() -> None:
    zone = {
        "example.test": {"TXT": ["v=spf1 include:bad.example.test -all"]},
        "bad.example.test": {"TXT": ["v=spf1 ip4:999.1.1.1 -all"]},
    }
    report = spf(zone)
    assert "spf.include-invalid" in codes(report)
    assert report.includes[0].status == "syntax"
    assert report.includes[0].record == "v=spf1 ip4:999.1.1.1 -all"


def test_include_lookup_timeout_is_failure_and_count_incomplete() -> None:
    zone = {"example.test": {"TXT": ["v=spf1 include:slow.example.test -all"]}}
    resolver = FakeResolver(zone, {("slow.example.test", "TXT"): DnsStatus.TIMEOUT})
    report = asyncio.run(check_spf("example.test", resolver, ["192.0.2.1"]))
    assert not report.lookup_count_complete
    assert "spf.include-missing" not in codes(report)
    assert report.failures and report.evaluations[0].result == "temperror"


def test_macro_include_counts_but_is_not_followed() -> None:
    report = spf({"example.test": {"TXT": ["v=spf1 include:%{ir}.%{v}.example.test -all"]}})
    assert report.lookup_count == 1
    assert report.includes[0].status == "macro"


def test_redirect_ignored_when_all_present() -> None:
    report = spf({"example.test": {"TXT": ["v=spf1 -all redirect=other.example.test"]}})
    assert report.lookup_count == 0
    assert "spf.redirect-ignored" in codes(report)


# --- the final all ----------------------------------------------------------------------


def test_all_qualifiers() -> None:
    expected = {
        "-": "spf.fail-all",
        "~": "spf.softfail-all",
        "?": "spf.neutral-all",
        "+": "spf.pass-all",
        "": "spf.pass-all",
    }
    for qualifier, code in expected.items():
        report = spf({"example.test": {"TXT": [f"v=spf1 mx {qualifier}all"]}})
        assert code in codes(report), qualifier
    assert "spf.no-all" in codes(spf({"example.test": {"TXT": ["v=spf1 mx"]}}))


def test_all_from_redirect_target() -> None:
    zone = {
        "example.test": {"TXT": ["v=spf1 redirect=_spf.example.test"]},
        "_spf.example.test": {"TXT": ["v=spf1 ip4:192.0.2.0/24 ~all"]},
    }
    report = spf(zone)
    assert report.all_qualifier == "~"
    assert report.all_domain == "_spf.example.test"
    assert "spf.no-all" not in codes(report)


def test_style_findings() -> None:
    long_record = "v=spf1 " + " ".join(f"ip4:192.0.2.{n}" for n in range(40)) + " -all"
    report = spf({"example.test": {"TXT": [long_record]}})
    assert "spf.long-record" in codes(report)
    report = spf({"example.test": {"TXT": ["v=spf1 ptr -all mx foo=bar"]}})
    assert {"spf.ptr-used", "spf.terms-after-all", "spf.unknown-modifier"} <= codes(report)


# --- evaluation ---------------------------------------------------------------------------

_EVAL_ZONE = {
    "example.test": {
        "TXT": ["v=spf1 mx a:web.example.test/28 include:_spf.example.test ip6:2001:db8::/64 ~all"],
        "MX": ["10 mx1.example.test.", "20 mx2.example.test."],
    },
    "mx1.example.test": {"A": ["192.0.2.25"], "AAAA": ["2001:db8:1::25"]},
    "mx2.example.test": {"A": ["192.0.2.26"]},
    "web.example.test": {"A": ["198.51.100.1"]},
    "_spf.example.test": {"TXT": ["v=spf1 ip4:203.0.113.0/24 -all"]},
}


def evaluate(address: str, zone: Zone = _EVAL_ZONE) -> tuple[str, str]:
    evaluation, _ = asyncio.run(evaluate_spf(address, "example.test", FakeResolver(zone)))
    return evaluation.result, evaluation.matched_term


def test_evaluation_results() -> None:
    assert evaluate("192.0.2.25") == ("pass", "mx")
    assert evaluate("192.0.2.26") == ("pass", "mx")
    assert evaluate("2001:db8:1::25") == ("pass", "mx")
    assert evaluate("198.51.100.14") == ("pass", "a:web.example.test/28")
    assert evaluate("198.51.100.16") == ("softfail", "~all")
    assert evaluate("203.0.113.9") == ("pass", "include:_spf.example.test")
    assert evaluate("2001:db8::7") == ("pass", "ip6:2001:db8::/64")
    assert evaluate("::ffff:203.0.113.9") == ("pass", "include:_spf.example.test")
    assert evaluate("192.0.2.99") == ("softfail", "~all")


def test_evaluation_default_neutral_and_none() -> None:
    zone = {"example.test": {"TXT": ["v=spf1 ip4:192.0.2.1"]}}
    assert evaluate("192.0.2.2", zone) == ("neutral", "")
    assert evaluate("192.0.2.2", {}) == ("none", "")


def test_evaluation_stops_at_the_lookup_limit() -> None:
    zone = _chain_zone(11)
    assert evaluate("192.0.2.10", zone)[0] == "pass"  # matched at the 10th include
    assert evaluate("192.0.2.11", zone)[0] == "permerror"


def test_evaluation_void_limit() -> None:
    record = "v=spf1 a:v1.example.test a:v2.example.test a:v3.example.test -all"
    zone = {"example.test": {"TXT": [record]}}
    evaluation, _ = asyncio.run(evaluate_spf("192.0.2.1", "example.test", FakeResolver(zone)))
    assert evaluation.result == "permerror"
    assert "void" in evaluation.reason


def test_evaluation_exists_and_ptr() -> None:
    zone = {
        "example.test": {"TXT": ["v=spf1 exists:%{ir}.allow.example.test ptr:example.test -all"]},
        "1.2.0.192.allow.example.test": {"A": ["127.0.0.2"]},
        "2.2.0.192.in-addr.arpa": {"PTR": ["host.example.test."]},
        "host.example.test": {"A": ["192.0.2.2"]},
    }
    assert evaluate("192.0.2.1", zone) == ("pass", "exists:%{ir}.allow.example.test")
    assert evaluate("192.0.2.2", zone) == ("pass", "ptr:example.test")
    assert evaluate("192.0.2.3", zone) == ("fail", "-all")


def test_redirect_to_nothing_is_permerror() -> None:
    zone = {"example.test": {"TXT": ["v=spf1 redirect=none.example.test"]}}
    assert evaluate("192.0.2.1", zone)[0] == "permerror"


def test_evaluation_temperror_on_timeout() -> None:
    resolver = FakeResolver(_EVAL_ZONE, {("mx1.example.test", "A"): DnsStatus.TIMEOUT})
    evaluation, failures = asyncio.run(evaluate_spf("192.0.2.200", "example.test", resolver))
    assert evaluation.result == "temperror"
    assert failures and failures[0].step.startswith("spf")


def test_exchanger_findings() -> None:
    report = spf(_EVAL_ZONE, addresses=["192.0.2.25", "192.0.2.99", "192.0.2.25"])
    assert [e.address for e in report.evaluations] == ["192.0.2.25", "192.0.2.99"]
    permitted = [f for f in report.findings if f.code == "spf.mx-permitted"]
    refused = [f for f in report.findings if f.code == "spf.mx-not-permitted"]
    assert [f.subject for f in permitted] == ["192.0.2.25"]
    assert [f.subject for f in refused] == ["192.0.2.99"]


def test_macro_target_that_is_no_dns_name_does_not_match() -> None:
    zone = {"example.test": {"TXT": ["v=spf1 a:%{s}.example.test exists:%{l}.x.example.test -all"]}}
    resolver = FakeResolver(zone)
    evaluation, failures = asyncio.run(evaluate_spf("192.0.2.1", "example.test", resolver))
    assert evaluation.result == "fail" and failures == []
    assert ("postmaster@example.test.example.test", "A") not in resolver.queries


def test_analysis_of_many_a_terms_is_bounded() -> None:
    zone: dict[str, dict[str, list[str]]] = {}
    names = [f"i{n}.example.test" for n in range(30)]
    top = " ".join(f"include:{n}" for n in names)
    zone["example.test"] = {"TXT": [f"v=spf1 {top} -all"]}
    for name in names:
        terms = " ".join(f"a:h{k}.{name}" for k in range(20))
        zone[name] = {"TXT": [f"v=spf1 {terms} -all"]}
    resolver = FakeResolver(zone)
    report = asyncio.run(check_spf("example.test", resolver, ()))
    assert report.lookup_count == 30 + 30 * 20
    assert not report.void_lookup_count_complete
    assert len(resolver.queries) < 200


_NAMES = st.sampled_from(["example.test", "a.example.test", "b.example.test", "gone.test"])
_TERMS = st.sampled_from(
    [
        "include:a.example.test",
        "include:b.example.test",
        "redirect=a.example.test",
        "redirect=example.test",
        "a",
        "a:b.example.test/24",
        "mx",
        "mx:a.example.test",
        "ptr",
        "exists:%{i}.example.test",
        "include:%{d}",
        "ip4:192.0.2.0/24",
        "ip6:::1",
        "-all",
        "~all",
        "?all",
        "exp=%{d}",
        "bad:term",
        "ip4:300.1.1.1",
    ]
)
_RECORD = st.lists(_TERMS, max_size=8).map(lambda terms: " ".join(["v=spf1", *terms]))
_STATUS = st.sampled_from([None, DnsStatus.TIMEOUT, DnsStatus.SERVFAIL])


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(_NAMES, st.lists(_RECORD, min_size=0, max_size=2), max_size=4),
    st.dictionaries(_NAMES, _STATUS, max_size=2),
    st.sampled_from(["192.0.2.7", "::1", "198.51.100.1"]),
)
def test_check_spf_never_raises_and_terminates(
    records: dict[str, list[str]], statuses: dict[str, DnsStatus | None], address: str
) -> None:
    zone: dict[str, dict[str, list[str]]] = {}
    for name, texts in records.items():
        zone[name] = {"TXT": texts, "A": ["192.0.2.7"], "MX": ["10 a.example.test."]}
    forced = {(name, "TXT"): status for name, status in statuses.items() if status is not None}
    resolver = FakeResolver(zone, forced)
    report = asyncio.run(check_spf("example.test", resolver, [address]))
    assert len(resolver.queries) < 400
    if ("example.test", "TXT") in forced:
        assert report.findings == () and report.failures
    for evaluation in report.evaluations:
        assert evaluation.result in (
            "pass",
            "fail",
            "softfail",
            "neutral",
            "none",
            "permerror",
            "temperror",
        )


def test_near_miss_record_is_hinted() -> None:
    report = spf({"example.test": {"TXT": ["v=spf1-all"]}})
    assert codes(report) == {"spf.missing"}
    assert "looks close" in report.findings[0].summary


def test_check_policies_looks_up_exchangers_and_gathers_everything() -> None:
    from mailprobe.checks.policy import check_policies

    zone = {
        "example.test": {"TXT": ["v=spf1 mx -all"], "MX": ["10 mx1.example.test."]},
        "mx1.example.test": {"A": ["192.0.2.25"], "AAAA": ["2001:db8::25"]},
        "_dmarc.example.test": {"TXT": ["v=DMARC1; p=reject"]},
    }
    report = asyncio.run(check_policies("Example.TEST.", FakeResolver(zone), dkim_selectors=["s"]))
    assert report.domain == "example.test"
    assert report.exchangers == ("mx1.example.test",)
    assert report.exchanger_addresses == ("192.0.2.25", "2001:db8::25")
    assert [e.result for e in report.spf.evaluations] == ["pass", "pass"]
    found = {f.code for f in report.all_findings()}
    assert {"mtasts.missing", "tlsrpt.missing", "dane.missing", "dkim.missing"} <= found
    assert report.all_failures() == ()


def test_check_policies_reports_a_failed_mx_lookup() -> None:
    from mailprobe.checks.policy import check_policies

    resolver = FakeResolver({}, {("example.test", "MX"): DnsStatus.TIMEOUT})
    report = asyncio.run(check_policies("example.test", resolver))
    assert report.exchangers == () and report.dane == ()
    assert [f.step for f in report.all_failures()] == ["policy MX"]


def test_names_that_cannot_exist_are_not_queried_and_not_failures() -> None:
    from mailprobe.checks.policy import check_dmarc

    long_domain = ".".join(["a" * 61] * 4)  # 247 characters: _dmarc. makes it too long
    resolver = FakeResolver({})
    report = asyncio.run(check_dmarc(long_domain, resolver))
    assert {f.code for f in report.findings} >= {"dmarc.missing"}
    assert report.failures == () and resolver.queries == []
