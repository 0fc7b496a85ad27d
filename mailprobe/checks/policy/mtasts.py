"""MTA-STS (RFC 8461): the ``_mta-sts`` record, the policy fetched over HTTPS, its mode and
max_age, and whether every exchanger is covered by its ``mx`` patterns.

The fetch follows what senders do (§3.3): HTTPS with certificate validation, no redirects,
a bounded time and size, ``text/plain`` expected. A timeout is a ``Failure`` (the policy
host may be fine and the path to it not); an answer that senders would reject (TLS error,
refused connection, HTTP error status, redirect, wrong type) is a finding.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import re
import ssl
from collections.abc import Iterable, Sequence

from mailprobe.checks.policy._lookup import QueryResolver, fqdn, lookup_txt
from mailprobe.checks.policy._text import is_hostname, shown
from mailprobe.checks.policy.catalog import FAIL, INFO, WARN, finding
from mailprobe.model import Failure, Finding

#: Largest policy body read (RFC 8461 §3.3 lets senders stop at 64 KiB).
MAX_POLICY_BYTES = 64 * 1024
#: Longest max_age the RFC allows (about one year).
MAX_AGE_LIMIT = 31557600
#: Below this, max_age earns a warning; below a week, a note.
MAX_AGE_SMALL = 86400
MAX_AGE_SHORT = 604800
MODES = ("enforce", "testing", "none")

_RECORD_VERSION = re.compile(r"v=STSv1[ \t]*;")
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
_POLICY_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,32}")


@dataclasses.dataclass(frozen=True)
class MtaStsRecord:
    """The ``_mta-sts`` TXT record: ``id`` when valid, ``errors`` otherwise."""

    text: str
    id: str | None = None
    extensions: tuple[tuple[str, str], ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


def is_mta_sts_candidate(text: str) -> bool:
    """True for TXT text meant as an MTA-STS record (``v=STSv1`` in any case)."""
    return text.strip().lower().startswith("v=stsv1")


def parse_mta_sts_record(text: str) -> MtaStsRecord:
    """Parse ``v=STSv1; id=...;`` (RFC 8461 §3.1); never raises."""
    errors: list[str] = []
    if not _RECORD_VERSION.match(text):
        errors.append("the record must start with 'v=STSv1;' (exactly, case matters)")
    parts = [p.strip(" \t") for p in text.split(";")]
    record_id: str | None = None
    extensions: list[tuple[str, str]] = []
    for part in parts[1:]:
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            errors.append(f"malformed field {shown(part, 40)} (expected name=value)")
        elif name == "id":
            if record_id is not None:
                errors.append("id= appears more than once")
            elif not _ID.fullmatch(value):
                errors.append(f"id={shown(value, 40, quote=False)} must be 1-32 letters/digits")
            else:
                record_id = value
        elif not _EXT_NAME.fullmatch(name) or not _EXT_VALUE.fullmatch(value):
            errors.append(f"malformed field {shown(part, 40)}")
        else:
            extensions.append((name, value))
    if record_id is None and not any(e.startswith("id=") for e in errors):
        errors.append("the required id= field is missing")
    return MtaStsRecord(text, record_id, tuple(extensions), tuple(errors))


@dataclasses.dataclass(frozen=True)
class MtaStsPolicy:
    """A parsed policy file (§3.2). ``errors`` make senders discard the policy;
    ``warnings`` are oddities they tolerate."""

    text: str
    version: str | None = None
    mode: str | None = None
    max_age: int | None = None
    mx: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_mta_sts_policy(text: str) -> MtaStsPolicy:
    """Parse the policy body (``key: value`` lines, LF or CRLF); never raises."""
    errors: list[str] = []
    warnings: list[str] = []
    values: dict[str, str] = {}
    mx: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(" \t"), value.strip(" \t")
        if not sep or not _POLICY_KEY.fullmatch(key):
            errors.append(f"line {number}: {shown(line, 60)} is not 'key: value'")
            continue
        if key == "mx":
            pattern = value.lower().rstrip(".")
            if not _valid_pattern(pattern):
                errors.append(f"line {number}: mx {shown(value, 60)} is not a host name pattern")
            else:
                mx.append(pattern)
        elif key in ("version", "mode", "max_age"):
            if key in values:
                warnings.append(f"line {number}: {key} appears again (the first one is used)")
            else:
                values[key] = value
    version = values.get("version")
    if version is None:
        errors.append("the version field is missing")
    elif version != "STSv1":
        errors.append(f"version {shown(version, 30)} is not STSv1")
    mode = values.get("mode")
    if mode is None:
        errors.append("the mode field is missing")
    elif mode not in MODES:
        errors.append(f"mode {shown(mode, 30)} is not enforce, testing or none")
        mode = None
    max_age: int | None = None
    raw_age = values.get("max_age")
    if raw_age is None:
        errors.append("the max_age field is missing")
    elif not raw_age.isascii() or not raw_age.isdigit() or len(raw_age) > 10:
        errors.append(f"max_age {shown(raw_age, 30)} is not a number of seconds")
    else:
        max_age = int(raw_age)
        if max_age > MAX_AGE_LIMIT:
            warnings.append(f"max_age {max_age} exceeds {MAX_AGE_LIMIT} (senders cap it)")
    if not mx and mode in ("enforce", "testing"):
        errors.append(f"no mx lines: in {mode} mode no exchanger is allowed")
    return MtaStsPolicy(text, version, mode, max_age, tuple(mx), tuple(errors), tuple(warnings))


def _valid_pattern(pattern: str) -> bool:
    name = pattern[2:] if pattern.startswith("*.") else pattern
    return "." in name and is_hostname(name) and "*" not in name


def mx_matches(pattern: str, host: str) -> bool:
    """True when an MTA-STS ``mx`` pattern covers ``host`` (§4.1): names compare without
    regard to case or a final dot; ``*.example.com`` matches exactly one extra left label."""
    pattern = pattern.strip().lower().rstrip(".")
    host = host.strip().lower().rstrip(".")
    if not pattern or not host:
        return False
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:] and label != "*"
    return host == pattern


def uncovered_exchangers(patterns: Sequence[str], exchangers: Iterable[str]) -> list[str]:
    """The exchangers no pattern matches, in the order given."""
    return [h for h in exchangers if not any(mx_matches(p, h) for p in patterns)]


# --- fetching ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PolicyFetch:
    """What the HTTPS fetch of the policy returned.

    ``address`` is the address connected to when the host name was resolved through the
    check's resolver (None when the system resolver did it). ``error`` describes a fetch
    senders would reject (finding); ``failure`` is set when the fetch could not complete
    (timeout). ``body`` is the decoded text when it was read.
    """

    url: str
    address: str | None = None
    status_code: int | None = None
    content_type: str | None = None
    location: str | None = None
    body: str | None = None
    size: int = 0
    error: str = ""
    error_code: str = ""
    failure: Failure | None = None
    _connect_failed: bool = dataclasses.field(default=False, repr=False, compare=False)


async def fetch_policy(
    url: str,
    *,
    verify: ssl.SSLContext | bool | str = True,
    timeout: float = 10.0,
    max_bytes: int = MAX_POLICY_BYTES,
    addresses: Sequence[str] = (),
) -> PolicyFetch:
    """GET the policy at ``url`` the way a sender does: no redirects, at most ``max_bytes``,
    ``timeout`` per phase (twice that for the whole fetch). Never raises for network
    problems or a bad URL.

    ``verify``: True (system CAs), False, an ``ssl.SSLContext``, or the path of a CA bundle.
    ``addresses``: connect to these (the next one only when a connection is refused or
    unreachable, at most ``MAX_ADDRESSES``) instead of resolving the URL's host with the
    system resolver; the TLS server name and the Host header stay the URL's host.
    """
    if isinstance(verify, str):
        verify = _context_from_file(verify)
    if not addresses:
        return await _fetch_once(url, None, verify, timeout, max_bytes)
    result: PolicyFetch | None = None
    for address in list(addresses)[:MAX_ADDRESSES]:
        result = await _fetch_once(url, address, verify, timeout, max_bytes)
        if not result._connect_failed:
            break
    assert result is not None
    return result


async def _fetch_once(
    url: str,
    address: str | None,
    verify: ssl.SSLContext | bool,
    timeout: float,
    max_bytes: int,
) -> PolicyFetch:
    import httpx

    from mailprobe.errors import PeerUnreachable, StepTimeout, translate

    host = _url_host(url)
    base = PolicyFetch(url, address=address)
    try:
        target = httpx.URL(url)
        headers = {"Accept": "text/plain"}
        extensions: dict[str, str] = {}
        if address is not None and target.host:
            headers["Host"] = target.netloc.decode("ascii")
            extensions["sni_hostname"] = target.host
            target = target.copy_with(host=address)
        async with (
            asyncio.timeout(timeout * 2),
            httpx.AsyncClient(
                verify=verify,
                follow_redirects=False,
                timeout=httpx.Timeout(timeout),
                trust_env=False,
            ) as client,
            client.stream("GET", target, headers=headers, extensions=extensions) as response,
        ):
            code = response.status_code
            got = dataclasses.replace(
                base,
                status_code=code,
                content_type=response.headers.get("content-type"),
                location=response.headers.get("location"),
            )
            if response.is_redirect or 300 <= code < 400:
                return dataclasses.replace(
                    got,
                    error=f"HTTP {code} redirect to {shown(got.location or '?', 100)}; "
                    "senders do not follow redirects",
                    error_code="mtasts.redirect",
                )
            if code != 200:
                return dataclasses.replace(
                    got, error=f"HTTP status {code} (200 required)", error_code=_FETCH_FAILED
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    return dataclasses.replace(
                        got,
                        size=size,
                        error=f"the policy is larger than {max_bytes} bytes",
                        error_code="mtasts.too-large",
                    )
                chunks.append(chunk)
            body = b"".join(chunks).decode("utf-8", "replace")
            return dataclasses.replace(got, body=body, size=size)
    except Exception as exc:  # every failure becomes a value
        problem = translate(exc, "mta-sts fetch", address or host, None, timeout)
        if isinstance(problem, StepTimeout):
            return dataclasses.replace(base, failure=problem.failure)
        tls = _tls_problem(exc)
        unreachable = isinstance(problem, PeerUnreachable) and not tls
        if tls:
            message = f"TLS failed: {tls}"
        elif unreachable:
            message = f"cannot connect: {problem.failure.message}"
        else:
            message = f"fetch failed: {problem.failure.message}"
        where = f" ({address})" if address else ""
        return dataclasses.replace(
            base,
            error=message + where,
            error_code=_FETCH_FAILED,
            _connect_failed=unreachable,
        )


_FETCH_FAILED = "mtasts.fetch-failed"
#: Addresses of the policy host tried in turn when connections are refused.
MAX_ADDRESSES = 3


def _url_host(url: str) -> str | None:
    import httpx

    try:
        return httpx.URL(url).host or None
    except Exception:  # a malformed URL is reported by the fetch itself
        return None


def _context_from_file(path: str) -> ssl.SSLContext | bool:
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError):
        return True  # an unreadable bundle: verify with the system CAs (and fail visibly)


def _tls_problem(exc: BaseException) -> str:
    """The TLS error inside an httpx exception chain, in words ("" when there is none)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"certificate not valid ({current.verify_message or current.reason})"
        if isinstance(current, ssl.SSLError):
            return str(current.reason or current)
        current = current.__cause__ or current.__context__
    return ""


# --- the check -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MtaStsReport:
    """MTA-STS of a domain: the TXT record(s) as published, the fetch, the policy and which
    exchangers the policy's mx patterns do not cover."""

    domain: str
    name: str
    records: tuple[str, ...] = ()
    record: MtaStsRecord | None = None
    policy_url: str | None = None
    fetch: PolicyFetch | None = None
    policy: MtaStsPolicy | None = None
    exchangers: tuple[str, ...] = ()
    uncovered: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    failures: tuple[Failure, ...] = ()


async def check_mta_sts(
    domain: str,
    resolver: QueryResolver,
    exchangers: Sequence[str] | None = None,
    *,
    mta_sts_url: str | None = None,
    verify: ssl.SSLContext | bool | str = True,
    timeout: float = 10.0,
) -> MtaStsReport:
    """Check MTA-STS for ``domain``: record, policy fetch (``mta_sts_url`` overrides
    ``https://mta-sts.DOMAIN/.well-known/mta-sts.txt``; ``verify`` is passed to httpx, e.g.
    an SSLContext trusting a test CA), mode, max_age and coverage of ``exchangers`` (looked
    up when None)."""
    domain = fqdn(domain)
    name = f"_mta-sts.{domain}"
    found = await lookup_txt(resolver, name, "mta-sts TXT")
    if found.failure is not None:
        return MtaStsReport(domain, name, failures=(found.failure,))
    records = tuple(t for t in found.texts if is_mta_sts_candidate(t))
    if not records:
        return MtaStsReport(
            domain,
            name,
            findings=(finding("mtasts.missing", f"{name} has no MTA-STS record", domain=domain),),
        )
    if len(records) > 1:
        listed = "; ".join(shown(r, 60) for r in records)
        return MtaStsReport(
            domain,
            name,
            records=records,
            findings=(
                finding(
                    "mtasts.multiple",
                    f"{name} has {len(records)} MTA-STS records: {listed}",
                    domain=domain,
                ),
            ),
        )
    findings: list[Finding] = []
    failures: list[Failure] = []
    record = parse_mta_sts_record(records[0])
    if not record.valid:
        findings.append(
            finding(
                "mtasts.record-syntax",
                f"MTA-STS record at {name} is invalid: " + "; ".join(record.errors[:3]),
                domain=domain,
            )
        )
    url = mta_sts_url or f"https://mta-sts.{domain}/.well-known/mta-sts.txt"
    fetched, hosts = await asyncio.gather(
        _fetch_resolved(url, resolver, verify, timeout),
        _exchangers(domain, resolver, exchangers),
    )
    exchanger_names, mx_failure = hosts
    if mx_failure is not None:
        failures.append(mx_failure)

    def done(policy: MtaStsPolicy | None = None, uncovered: Sequence[str] = ()) -> MtaStsReport:
        return MtaStsReport(
            domain,
            name,
            records=records,
            record=record,
            policy_url=url,
            fetch=fetched,
            policy=policy,
            exchangers=tuple(exchanger_names),
            uncovered=tuple(uncovered),
            findings=tuple(findings),
            failures=tuple(failures),
        )

    if fetched.failure is not None:
        failures.append(fetched.failure)
        return done()
    if fetched.error:
        findings.append(
            finding(
                fetched.error_code or "mtasts.fetch-failed",
                f"MTA-STS policy {url}: {fetched.error}",
                domain=domain,
                subject=url,
            )
        )
        return done()
    media = (fetched.content_type or "").split(";", 1)[0].strip().lower()
    if media != "text/plain":
        findings.append(
            finding(
                "mtasts.content-type",
                f"MTA-STS policy {url} is served as {shown(fetched.content_type or 'no type')}, "
                "not text/plain",
                subject=url,
            )
        )
    policy = parse_mta_sts_policy(fetched.body or "")
    findings.extend(_policy_findings(domain, url, policy))
    uncovered: list[str] = []
    if policy.valid and policy.mode in ("enforce", "testing"):
        uncovered = uncovered_exchangers(policy.mx, exchanger_names)
        severity = FAIL if policy.mode == "enforce" else WARN
        for host in exchanger_names:
            if host in uncovered:
                findings.append(
                    finding(
                        "mtasts.mx-not-covered",
                        f"exchanger {host} is not matched by any mx line of the MTA-STS policy "
                        f"({', '.join(policy.mx)})",
                        subject=host,
                        severity=severity,
                    )
                )
            else:
                findings.append(
                    finding(
                        "mtasts.mx-covered",
                        f"exchanger {host} is covered by the MTA-STS policy",
                        subject=host,
                    )
                )
    if not any(f.severity is FAIL for f in findings):
        findings.insert(
            0, finding("mtasts.valid", f"MTA-STS of {domain}: mode {policy.mode}, id {record.id}")
        )
    return done(policy, uncovered)


async def _fetch_resolved(
    url: str, resolver: QueryResolver, verify: ssl.SSLContext | bool | str, timeout: float
) -> PolicyFetch:
    """Fetch ``url``, its host name resolved through ``resolver`` (the DNS server the whole
    check uses), not the system resolver."""
    host = _url_host(url)
    if host is None or _is_address(host):
        return await fetch_policy(url, verify=verify, timeout=timeout)
    answers = await asyncio.gather(resolver.query(host, "A"), resolver.query(host, "AAAA"))
    addresses = [str(r.address) for answer in answers for r in answer.rdata()]
    if not addresses:
        failed = [a for a in answers if a.status.failed]
        if failed:
            return PolicyFetch(url, failure=failed[0].failure(f"mta-sts {failed[0].rdtype}"))
        return PolicyFetch(
            url, error=f"{host} has no address (no A or AAAA records)", error_code=_FETCH_FAILED
        )
    return await fetch_policy(url, verify=verify, timeout=timeout, addresses=addresses)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def _exchangers(
    domain: str, resolver: QueryResolver, given: Sequence[str] | None
) -> tuple[list[str], Failure | None]:
    if given is not None:
        return [fqdn(h) for h in given], None
    answer = await resolver.query(domain, "MX")
    if answer.status.failed:
        return [], answer.failure("mta-sts MX")
    hosts = sorted({fqdn(str(r.exchange)) for r in answer.rdata()} - {""})
    return hosts, None


def _policy_findings(domain: str, url: str, policy: MtaStsPolicy) -> list[Finding]:
    findings: list[Finding] = []
    if not policy.valid:
        findings.append(
            finding(
                "mtasts.policy-syntax",
                f"MTA-STS policy {url} is invalid: " + "; ".join(policy.errors[:3]),
                subject=url,
            )
        )
    if policy.mode == "enforce":
        findings.append(finding("mtasts.mode-enforce", f"MTA-STS of {domain} is in enforce mode"))
    elif policy.mode == "testing":
        findings.append(finding("mtasts.mode-testing", f"MTA-STS of {domain} is in testing mode"))
    elif policy.mode == "none":
        findings.append(finding("mtasts.mode-none", f"MTA-STS of {domain} is in mode none"))
    if policy.max_age is not None and policy.max_age < MAX_AGE_SHORT:
        findings.append(
            finding(
                "mtasts.max-age-small",
                f"MTA-STS max_age of {domain} is {policy.max_age} s "
                f"({policy.max_age / 86400:.3g} days)",
                severity=WARN if policy.max_age < MAX_AGE_SMALL else INFO,
            )
        )
    return findings
