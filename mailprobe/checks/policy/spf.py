"""SPF (RFC 7208): the record, its DNS lookup budget, its ``all``, and whether the domain's
exchangers may send as it.

Two passes over the DNS, both bounded:

* an *analysis* that follows every include and redirect (not stopping at a match, as a
  receiver would for an unlisted sender) to count the DNS-querying terms against the limit
  of 10 and the void lookups against the limit of 2, and to find broken includes and loops;
* an *evaluation* per exchanger address, a real ``check_host()`` (§4) that stops at the
  first matching mechanism and enforces both limits as a receiver does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections.abc import Awaitable, Iterable, Sequence
from typing import TYPE_CHECKING

from mailprobe.checks.policy._lookup import QueryResolver, fqdn, is_failed, is_void, lookup_txt
from mailprobe.checks.policy._text import is_hostname, shown
from mailprobe.checks.policy.catalog import FAIL, INFO, finding
from mailprobe.checks.policy.spf_syntax import (
    LOOKUP_LIMIT,
    QUALIFIERS,
    VOID_LOOKUP_LIMIT,
    MacroContext,
    SpfRecord,
    SpfTerm,
    expand_macros,
    is_spf_record,
    parse_spf,
)
from mailprobe.model import Failure, Finding

if TYPE_CHECKING:
    from mailprobe.dns import DnsAnswer

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The analysis fetches at most this many included records, so a hostile chain stays cheap.
MAX_FOLLOWED_RECORDS = 40
#: At most this many a/mx/exists targets are queried to count void lookups.
MAX_PROBES = 50
#: Include/redirect nesting the analysis follows before it stops (the limit of 10 lookups
#: already makes deeper chains invalid).
MAX_DEPTH = 12
#: Recommended ceiling for the record size so the answer fits a UDP reply (§3.4).
LONG_RECORD_BYTES = 450
#: Limit of address lookups per mx mechanism (and of PTR names per ptr mechanism), §4.6.4.
PER_MECHANISM_LIMIT = 10


@dataclasses.dataclass(frozen=True)
class SpfInclude:
    """One include or redirect followed by the analysis, with what it found there.

    ``status``: ``ok``, ``missing`` (no SPF record), ``multiple``, ``syntax``, ``loop``,
    ``macro`` (target depends on the message: not followed), ``failed`` (lookup did not
    complete), ``not-followed`` (past the analysis bounds).
    """

    term: str
    domain: str
    status: str
    record: str | None = None
    lookup_count: int = 0
    includes: tuple[SpfInclude, ...] = ()
    errors: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class SpfEvaluation:
    """The SPF verdict for one address, as a receiver's ``check_host()`` would give it.

    ``result``: pass, fail, softfail, neutral, none, permerror, temperror, or
    ``not-evaluated`` when a term this tool does not evaluate was reached first.
    """

    address: str
    result: str
    matched_term: str = ""
    matched_domain: str = ""
    reason: str = ""
    lookup_count: int = 0
    void_lookup_count: int = 0

    @property
    def permitted(self) -> bool:
        return self.result == "pass"


@dataclasses.dataclass(frozen=True)
class SpfReport:
    """Everything found about a domain's SPF.

    ``records`` holds every TXT string that starts with ``v=spf1`` exactly as published,
    even when broken; ``record``/``parsed`` are set only when there is exactly one.
    ``lookup_count`` is the number of DNS-querying terms counted through every include and
    redirect (``lookup_count_complete`` is false when some could not be followed);
    ``void_lookup_count`` counts the terms whose target has no records (a/mx/exists targets
    queried at most ``MAX_PROBES`` times); ``all_qualifier`` is the qualifier of the final
    ``all`` (``-``, ``~``, ``?``, ``+``), also when it comes from a redirect target, else None.
    """

    domain: str
    records: tuple[str, ...] = ()
    record: str | None = None
    parsed: SpfRecord | None = None
    lookup_count: int = 0
    lookup_limit: int = LOOKUP_LIMIT
    lookup_count_complete: bool = True
    void_lookup_count: int = 0
    void_lookup_limit: int = VOID_LOOKUP_LIMIT
    void_lookup_count_complete: bool = True
    includes: tuple[SpfInclude, ...] = ()
    all_qualifier: str | None = None
    all_domain: str | None = None
    evaluations: tuple[SpfEvaluation, ...] = ()
    findings: tuple[Finding, ...] = ()
    failures: tuple[Failure, ...] = ()


# --- the check -------------------------------------------------------------------------------


#: The advice for a domain with a null MX: it has no exchangers, so "mx" would list nothing.
_NULL_MX_SPF = (
    "The domain takes no mail (null MX); if it sends none either, publish 'v=spf1 -all' at "
    "{domain} so that receivers refuse mail forged in its name; otherwise list its real "
    "senders with ip4:/ip6:/include: and end with -all."
)


async def check_spf(
    domain: str,
    resolver: QueryResolver,
    exchanger_addresses: Iterable[str | IpAddress] = (),
    *,
    null_mx: bool = False,
) -> SpfReport:
    """Check the SPF record of ``domain`` and whether each exchanger address may send as it.

    A lookup that cannot complete (timeout, SERVFAIL) is returned as a ``Failure``; it never
    turns into "no SPF record". ``null_mx``: the domain declares it takes no mail (RFC 7505),
    so the advice for a missing record is the record of a domain that sends none either.
    """
    domain = fqdn(domain)
    top = await lookup_txt(resolver, domain, "spf TXT")
    if top.failure is not None:
        return SpfReport(domain, failures=(top.failure,))
    records = tuple(t for t in top.texts if is_spf_record(t))
    if not records:
        others = [t for t in top.texts if t.strip().lower().startswith("v=spf1")]
        hint = f" (a TXT record looks close: {shown(others[0], 60)})" if others else ""
        return SpfReport(
            domain,
            findings=(
                finding(
                    "spf.missing",
                    f"{domain} publishes no SPF record{hint}",
                    domain=domain,
                    fix=_NULL_MX_SPF if null_mx else None,
                ),
            ),
        )
    if len(records) > 1:
        listed = "; ".join(shown(r, 60) for r in records)
        return SpfReport(
            domain,
            records=records,
            findings=(
                finding(
                    "spf.multiple",
                    f"{domain} publishes {len(records)} SPF records: {listed}",
                    domain=domain,
                ),
            ),
        )
    record = records[0]
    parsed = parse_spf(record)
    findings: list[Finding] = []
    if not parsed.valid:
        errors = parsed.all_errors
        findings.append(
            finding(
                "spf.syntax",
                f"SPF record of {domain} has {len(errors)} syntax error(s): "
                + "; ".join(errors[:3])
                + (" …" if len(errors) > 3 else ""),
                domain=domain,
            )
        )
    analysis = _Analysis(resolver)
    addresses = _unique_addresses(exchanger_addresses) if parsed.valid else []
    # the analysis and the evaluations share the resolver's cache: run them together
    includes, evaluated = await asyncio.gather(
        analysis.walk(domain, parsed, (domain,), 0),
        asyncio.gather(*(evaluate_spf(address, domain, resolver) for address in addresses)),
    )
    findings.extend(sorted(analysis.findings, key=lambda f: (f.code, f.subject, f.summary)))
    findings.extend(_lookup_findings(domain, analysis))
    all_qualifier, all_domain = _final_all(domain, parsed, includes)
    findings.extend(_all_findings(domain, parsed, all_qualifier, all_domain))
    findings.extend(_style_findings(domain, record, parsed))

    failures = sorted(analysis.failures, key=lambda f: (f.step, f.message))
    evaluations = tuple(e for e, _ in evaluated)
    for _, eval_failures in evaluated:
        failures.extend(f for f in eval_failures if f not in failures)
    findings.extend(_evaluation_findings(domain, evaluations))
    if not any(f.severity is FAIL for f in findings):
        findings.insert(0, finding("spf.valid", f"SPF record of {domain}: {shown(record)}"))
    return SpfReport(
        domain,
        records=records,
        record=record,
        parsed=parsed,
        lookup_count=analysis.lookups,
        lookup_count_complete=analysis.complete,
        void_lookup_count=analysis.voids,
        void_lookup_count_complete=analysis.voids_complete and analysis.complete,
        includes=includes,
        all_qualifier=all_qualifier,
        all_domain=all_domain,
        evaluations=evaluations,
        findings=tuple(findings),
        failures=tuple(failures),
    )


def _unique_addresses(values: Iterable[str | IpAddress]) -> list[IpAddress]:
    seen: list[IpAddress] = []
    for value in values:
        try:
            address = ipaddress.ip_address(str(value).strip("[]"))
        except ValueError:
            continue
        if address not in seen:
            seen.append(address)
    return seen


# --- analysis: count lookups through every include ----------------------------------------


class _Analysis:
    """Follows includes and redirects (bounded, loop-safe), counting lookups and voids."""

    def __init__(self, resolver: QueryResolver) -> None:
        self.resolver = resolver
        self.lookups = 0
        self.voids = 0
        self.complete = True
        self.followed = 0
        self.probes = 0
        self.voids_complete = True
        self.findings: list[Finding] = []
        self.failures: list[Failure] = []
        self.loop_found = False

    def _fail(self, failure: Failure | None) -> None:
        if failure is not None and failure not in self.failures:
            self.failures.append(failure)

    async def walk(
        self, domain: str, record: SpfRecord, path: tuple[str, ...], depth: int
    ) -> tuple[SpfInclude, ...]:
        # the terms of one record are looked at concurrently, so the time taken grows with
        # the nesting depth, not with the number of includes (each lookup has its timeout)
        jobs: list[Awaitable[SpfInclude | None]] = []
        for term in record.terms:
            if not term.counts_lookup:
                continue
            if term.name == "redirect" and record.all_term is not None:
                continue  # never followed by receivers (§6.1), so it costs nothing
            self.lookups += 1
            if term.name in ("include", "redirect"):
                jobs.append(self._follow(domain, term, path, depth))
            elif term.name in ("a", "mx", "exists") and not term.has_macro:
                jobs.append(self._probe(domain, term))
        results = await asyncio.gather(*jobs)
        return tuple(r for r in results if r is not None)

    async def _follow(
        self, domain: str, term: SpfTerm, path: tuple[str, ...], depth: int
    ) -> SpfInclude:
        if term.has_macro:
            return SpfInclude(term.text, term.value, "macro")
        target = fqdn(term.value)
        if target in path:
            if not self.loop_found:
                self.loop_found = True
                chain = " -> ".join((*path, target))
                self.findings.append(
                    finding("spf.loop", f"SPF include loop: {chain}", subject=target)
                )
            self.complete = False
            return SpfInclude(term.text, target, "loop")
        if self.followed >= MAX_FOLLOWED_RECORDS or depth >= MAX_DEPTH:
            self.complete = False
            return SpfInclude(term.text, target, "not-followed")
        self.followed += 1
        found = await lookup_txt(self.resolver, target, f"spf TXT ({term.name})")
        if found.failure is not None:
            self._fail(found.failure)
            self.complete = False
            return SpfInclude(term.text, target, "failed", errors=(found.failure.message,))
        if found.status in ("nxdomain", "nodata"):
            self.voids += 1
        records = [t for t in found.texts if is_spf_record(t)]
        if not records:
            self.findings.append(
                finding(
                    "spf.include-missing",
                    f"{term.text} in the SPF record of {domain}: {target} has no SPF record "
                    f"({'no such name' if found.status == 'nxdomain' else 'no v=spf1 TXT'})",
                    subject=target,
                )
            )
            return SpfInclude(term.text, target, "missing")
        if len(records) > 1:
            self.findings.append(
                finding(
                    "spf.include-invalid",
                    f"{term.text}: {target} publishes {len(records)} SPF records",
                    subject=target,
                )
            )
            return SpfInclude(term.text, target, "multiple", records[0])
        parsed = parse_spf(records[0])
        if not parsed.valid:
            errors = parsed.all_errors
            self.findings.append(
                finding(
                    "spf.include-invalid",
                    f"{term.text}: the SPF record of {target} has syntax errors: "
                    + "; ".join(errors[:2]),
                    subject=target,
                )
            )
        children = await self.walk(target, parsed, (*path, target), depth + 1)
        return SpfInclude(
            term.text,
            target,
            "ok" if parsed.valid else "syntax",
            records[0],
            len([t for t in parsed.lookup_terms if not _ignored_redirect(parsed, t)]),
            children,
            parsed.all_errors,
        )

    async def _probe(self, domain: str, term: SpfTerm) -> None:
        """Query the target of a/mx/exists once to find void lookups (names without
        records); an ``a`` counts as void only when it has neither A nor AAAA records."""
        if self.probes >= MAX_PROBES:
            self.voids_complete = False
            return
        self.probes += 1
        target = fqdn(term.value) if term.value else domain
        if term.name == "mx":
            answer = await self.resolver.query(target, "MX")
            if is_failed(answer):
                self._fail(answer.failure("spf MX"))
                return
            if is_void(answer):
                self.voids += 1
                return
            names = [r for r in answer.records if not r.endswith(" .")]
            if len(names) > PER_MECHANISM_LIMIT:
                self.findings.append(
                    finding(
                        "spf.mx-too-many",
                        f"{term.text}: {target} has {len(names)} MX records (limit "
                        f"{PER_MECHANISM_LIMIT}): receivers return permerror",
                        subject=target,
                    )
                )
            return
        kinds = ("A",) if term.name == "exists" else ("A", "AAAA")
        answers = await asyncio.gather(*(self.resolver.query(target, k) for k in kinds))
        if any(a.ok for a in answers):
            return
        failed = [a for a in answers if is_failed(a)]
        if failed:
            self._fail(failed[0].failure(f"spf {failed[0].rdtype}"))
            return
        self.voids += 1


def _ignored_redirect(record: SpfRecord, term: SpfTerm) -> bool:
    return term.name == "redirect" and record.all_term is not None


def _lookup_findings(domain: str, analysis: _Analysis) -> list[Finding]:
    findings: list[Finding] = []
    count = analysis.lookups
    at_least = "" if analysis.complete else "at least "
    if analysis.loop_found:
        findings.append(
            finding(
                "spf.too-many-lookups",
                f"SPF of {domain} loops through its includes: for senders not matched first "
                f"it runs past the limit of {LOOKUP_LIMIT} DNS lookups, and receivers return "
                "permerror",
                domain=domain,
            )
        )
    elif count > LOOKUP_LIMIT:
        findings.append(
            finding(
                "spf.too-many-lookups",
                f"SPF of {domain} needs {at_least}{count} DNS lookups (limit {LOOKUP_LIMIT}, "
                "includes counted): receivers return permerror",
                domain=domain,
            )
        )
    else:
        near = count >= LOOKUP_LIMIT - 1
        findings.append(
            finding(
                "spf.lookup-count",
                f"SPF of {domain} needs {at_least}{count} of {LOOKUP_LIMIT} DNS lookups"
                + (" (close to the limit)" if near else ""),
                severity=INFO if near or not analysis.complete else None,
                fix="Keep room under the limit of 10: prefer ip4/ip6 to a/mx and avoid "
                "stacking includes."
                if near
                else "",
            )
        )
    if analysis.voids > VOID_LOOKUP_LIMIT:
        findings.append(
            finding(
                "spf.too-many-void-lookups",
                f"SPF of {domain} has {analysis.voids} terms pointing at names without "
                f"records (limit {VOID_LOOKUP_LIMIT}): receivers return permerror",
            )
        )
    return findings


def _final_all(
    domain: str, record: SpfRecord, includes: Sequence[SpfInclude]
) -> tuple[str | None, str | None]:
    """The qualifier of the ``all`` that ends evaluation, following redirects."""
    term = record.all_term
    if term is not None:
        return term.qualifier, domain
    redirect = record.modifier("redirect")
    if redirect is None:
        return None, None
    node = next((n for n in includes if n.term == redirect.text), None)
    if node is None or node.record is None:
        return None, None
    return _final_all(node.domain, parse_spf(node.record), node.includes)


def _all_findings(
    domain: str, record: SpfRecord, qualifier: str | None, where: str | None
) -> list[Finding]:
    via = f" (from the redirect to {where})" if where and where != domain else ""
    if qualifier is None:
        if record.modifier("redirect") is not None:
            return []  # the redirect target's problem, reported as include-missing etc.
        return [
            finding(
                "spf.no-all",
                f"SPF record of {domain} has no 'all' and no redirect: unlisted senders get "
                "neutral",
                domain=domain,
            )
        ]
    codes = {"-": "spf.fail-all", "~": "spf.softfail-all", "?": "spf.neutral-all"}
    code = codes.get(qualifier, "spf.pass-all")
    word = QUALIFIERS[qualifier]
    return [
        finding(
            code,
            f"SPF of {domain} ends in {qualifier}all{via}: unlisted senders get {word}",
            domain=domain,
        )
    ]


def _style_findings(domain: str, record: str, parsed: SpfRecord) -> list[Finding]:
    findings: list[Finding] = []
    all_term = parsed.all_term
    if all_term is not None and parsed.modifier("redirect") is not None:
        findings.append(
            finding("spf.redirect-ignored", f"SPF of {domain} has both 'all' and 'redirect='")
        )
    if all_term is not None:
        index = parsed.terms.index(all_term)
        after = [t.text for t in parsed.terms[index + 1 :] if t.kind == "mechanism"]
        if after:
            findings.append(
                finding(
                    "spf.terms-after-all",
                    f"SPF of {domain}: {', '.join(after[:5])} after 'all' never apply",
                )
            )
    if any(t.name == "ptr" and t.kind == "mechanism" for t in parsed.terms):
        findings.append(finding("spf.ptr-used", f"SPF of {domain} uses the ptr mechanism"))
    unknown = [t.text for t in parsed.terms if t.kind == "modifier" and t.name not in _KNOWN_MOD]
    if unknown:
        findings.append(
            finding(
                "spf.unknown-modifier",
                f"SPF of {domain} has unknown modifier(s): {', '.join(unknown[:5])}",
            )
        )
    size = len(record.encode("utf-8"))
    if size > LONG_RECORD_BYTES:
        findings.append(finding("spf.long-record", f"SPF record of {domain} is {size} bytes long"))
    return findings


_KNOWN_MOD = frozenset({"redirect", "exp"})


def _evaluation_findings(domain: str, evaluations: Sequence[SpfEvaluation]) -> list[Finding]:
    findings: list[Finding] = []
    for ev in evaluations:
        where = f" by {ev.matched_term}" if ev.matched_term else ""
        if ev.result == "pass":
            findings.append(
                finding(
                    "spf.mx-permitted",
                    f"exchanger address {ev.address} may send as {domain} (pass{where})",
                    subject=ev.address,
                )
            )
        elif ev.result in ("fail", "softfail", "neutral", "none"):
            findings.append(
                finding(
                    "spf.mx-not-permitted",
                    f"exchanger address {ev.address} is not permitted by the SPF of {domain} "
                    f"({ev.result}{where})",
                    subject=ev.address,
                    domain=domain,
                )
            )
        else:
            findings.append(
                finding(
                    "spf.mx-not-evaluated",
                    f"SPF result for exchanger address {ev.address}: {ev.result}"
                    + (f" ({ev.reason})" if ev.reason else ""),
                    subject=ev.address,
                )
            )
    return findings


# --- evaluation: check_host() for one address ----------------------------------------------


class _Stop(Exception):
    """Ends an evaluation with a final result (permerror, temperror, not-evaluated)."""

    def __init__(self, result: str, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class _Verdict:
    result: str
    term: str = ""
    domain: str = ""
    reason: str = ""


class _Evaluator:
    def __init__(self, resolver: QueryResolver, ip: IpAddress, sender: str, helo: str) -> None:
        self.resolver = resolver
        self.ip = ip
        self.sender = sender
        self.helo = helo
        self.lookups = 0
        self.voids = 0
        self.failures: list[Failure] = []

    def _count_lookup(self, term: SpfTerm) -> None:
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            raise _Stop("permerror", f"more than {LOOKUP_LIMIT} DNS lookups (at {term.text})")

    def _void(self, term: SpfTerm) -> None:
        self.voids += 1
        if self.voids > VOID_LOOKUP_LIMIT:
            raise _Stop(
                "permerror", f"more than {VOID_LOOKUP_LIMIT} void DNS lookups (at {term.text})"
            )

    def _temperror(self, answer: DnsAnswer, step: str) -> _Stop:
        failure = answer.failure(step)
        if failure not in self.failures:
            self.failures.append(failure)
        return _Stop("temperror", failure.message)

    async def check_host(self, domain: str, depth: int) -> _Verdict:
        if depth > MAX_DEPTH:
            raise _Stop("permerror", "include/redirect nesting too deep")
        if not is_hostname(domain) or "." not in domain:
            return _Verdict("none", reason=f"{shown(domain, 60)} is not a valid domain name")
        found = await lookup_txt(self.resolver, domain, "spf TXT")
        if found.failure is not None:
            if found.failure not in self.failures:
                self.failures.append(found.failure)
            raise _Stop("temperror", found.failure.message)
        records = [t for t in found.texts if is_spf_record(t)]
        if not records:
            return _Verdict("none", domain=domain, reason=f"{domain} has no SPF record")
        if len(records) > 1:
            raise _Stop("permerror", f"{domain} publishes {len(records)} SPF records")
        record = parse_spf(records[0])
        if not record.valid:
            raise _Stop("permerror", f"SPF record of {domain} has syntax errors")
        context = MacroContext(self.sender, domain, self.ip, self.helo)
        for term in record.terms:
            if term.kind != "mechanism":
                continue
            if await self._matches(term, domain, context, depth):
                return _Verdict(QUALIFIERS[term.qualifier], term.text, domain)
        redirect = record.modifier("redirect")
        if redirect is not None and record.all_term is None:
            self._count_lookup(redirect)
            target = fqdn(expand_macros(redirect.value, context))
            verdict = await self.check_host(target, depth + 1)
            if verdict.result == "none":
                raise _Stop("permerror", f"redirect target {target} has no SPF record")
            return verdict
        return _Verdict("neutral", domain=domain, reason="no mechanism matched (default)")

    def _target(self, term: SpfTerm, domain: str, context: MacroContext) -> str:
        return fqdn(expand_macros(term.value, context)) if term.value else domain

    async def _matches(self, term: SpfTerm, domain: str, context: MacroContext, depth: int) -> bool:
        name = term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            return self._in_network(term)
        if name == "include":
            self._count_lookup(term)
            target = self._target(term, domain, context)
            verdict = await self.check_host(target, depth + 1)
            if verdict.result == "pass":
                return True
            if verdict.result in ("fail", "softfail", "neutral"):
                return False
            if verdict.result == "none":
                raise _Stop("permerror", f"included domain {target} has no SPF record")
            raise _Stop(verdict.result, verdict.reason)
        self._count_lookup(term)
        target = self._target(term, domain, context)
        if not is_hostname(target):
            return False  # a macro expanded to something no DNS name can be: no match
        if name == "a":
            return await self._address_match(term, target, count_void=True)
        if name == "mx":
            return await self._mx_match(term, target)
        if name == "exists":
            answer = await self.resolver.query(target, "A")
            if is_failed(answer):
                raise self._temperror(answer, "spf A (exists)")
            if is_void(answer):
                self._void(term)
                return False
            return True
        if name == "ptr":
            return await self._ptr_match(term, target)
        raise _Stop("permerror", f"unknown mechanism {term.text}")

    def _client(self) -> IpAddress:
        ip = self.ip
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        return ip

    def _in_network(self, term: SpfTerm) -> bool:
        ip = self._client()
        want = 4 if term.name == "ip4" else 6
        if ip.version != want:
            return False
        prefix = term.cidr4 if want == 4 else term.cidr6
        length = (32 if want == 4 else 128) if prefix is None else prefix
        network = ipaddress.ip_network(f"{term.value}/{length}", strict=False)
        return ip in network

    def _matches_address(self, term: SpfTerm, address: str) -> bool:
        ip = self._client()
        try:
            candidate = ipaddress.ip_address(address)
        except ValueError:
            return False
        if candidate.version != ip.version:
            return False
        prefix = term.cidr4 if ip.version == 4 else term.cidr6
        length = (32 if ip.version == 4 else 128) if prefix is None else prefix
        return ip in ipaddress.ip_network(f"{candidate}/{length}", strict=False)

    async def _addresses(self, target: str) -> tuple[DnsAnswer, list[str]]:
        kind = "A" if self._client().version == 4 else "AAAA"
        answer = await self.resolver.query(target, kind)
        return answer, [r.address for r in answer.rdata()] if answer.ok else []

    async def _address_match(self, term: SpfTerm, target: str, *, count_void: bool) -> bool:
        answer, found = await self._addresses(target)
        if is_failed(answer):
            raise self._temperror(answer, f"spf {answer.rdtype} ({term.name})")
        if not found:
            if count_void:
                self._void(term)
            return False
        return any(self._matches_address(term, a) for a in found)

    async def _mx_match(self, term: SpfTerm, target: str) -> bool:
        answer = await self.resolver.query(target, "MX")
        if is_failed(answer):
            raise self._temperror(answer, "spf MX")
        if is_void(answer):
            self._void(term)
            return False
        hosts = [fqdn(str(r.exchange)) for r in answer.rdata()]
        hosts = [h for h in hosts if h]  # a null MX (".") has no host
        if len(hosts) > PER_MECHANISM_LIMIT:
            raise _Stop("permerror", f"{term.text}: more than {PER_MECHANISM_LIMIT} MX hosts")
        for host in hosts:
            if await self._address_match(term, host, count_void=False):
                return True
        return False

    async def _ptr_match(self, term: SpfTerm, target: str) -> bool:
        from mailprobe.dns import reverse_name

        ip = self._client()
        answer = await self.resolver.query(reverse_name(str(ip)), "PTR")
        if is_void(answer):
            self._void(term)
            return False
        if not answer.ok:
            return False  # §5.5: a DNS error on the PTR lookup means no match
        names = [fqdn(str(r.target)) for r in answer.rdata()][:PER_MECHANISM_LIMIT]
        for name in names:
            if name != target and not name.endswith("." + target):
                continue
            found_answer, found = await self._addresses(name)
            del found_answer  # §5.5: errors on these lookups just skip the name
            if any(ipaddress.ip_address(a) == ip for a in found):
                return True
        return False


async def evaluate_spf(
    address: str | IpAddress,
    domain: str,
    resolver: QueryResolver,
    *,
    sender: str | None = None,
    helo: str | None = None,
) -> tuple[SpfEvaluation, list[Failure]]:
    """Run ``check_host()`` (RFC 7208 §4) for ``address`` sending as ``domain``.

    ``sender`` defaults to ``postmaster@domain`` and ``helo`` to ``domain`` (they only matter
    for macros). Returns the evaluation and the lookups that could not complete (which make
    the result temperror).
    """
    ip = ipaddress.ip_address(str(address).strip("[]"))
    domain = fqdn(domain)
    evaluator = _Evaluator(resolver, ip, sender or f"postmaster@{domain}", helo or domain)
    try:
        verdict = await evaluator.check_host(domain, 0)
    except _Stop as stop:
        verdict = _Verdict(stop.result, reason=stop.reason)
    evaluation = SpfEvaluation(
        address=str(ip),
        result=verdict.result,
        matched_term=verdict.term,
        matched_domain=verdict.domain if verdict.term else "",
        reason=verdict.reason,
        lookup_count=evaluator.lookups,
        void_lookup_count=evaluator.voids,
    )
    return evaluation, evaluator.failures
