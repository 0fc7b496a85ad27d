"""DNS blocklists (DNSBL, RHSBL): is an address or a domain listed, and what does the listing say?

The lists are data (``mailprobe/data/blocklists.toml``): zone, kind (addresses or domains),
whether it is asked by default and for IPv6, its RFC 5782 test point, where to look a listing up
and how removal works, and each answer code with its meaning and class (a reputation *block*, a
*policy* listing such as Spamhaus PBL, a *collateral* listing of the whole network).

How a list is asked (RFC 5782): the IPv4 octets reversed, or the 32 nibbles of an IPv6 address
reversed, or a domain name, in front of the zone; an A answer in 127.0.0.0/8 means listed (its
value says why), NXDOMAIN means not listed, a TXT record on the same name gives the reason.

Decisions are made on the *value*, never on "it resolved":

* the provider's error codes (Spamhaus 127.255.255.252/.254/.255: a mistyped zone, a public
  resolver, a rate limit) are errors that say what to do, never a listing;
* an answer outside 127.0.0.0/8 means the zone is broken or taken over (an expired list domain
  parked behind a wildcard answers everything), never a listing;
* each zone is self-tested once per run: it must list its test point (127.0.0.2, or e.g.
  ``dbltest.com``) and must not list 127.0.0.1 (``invalid`` for domain lists). A zone that does
  not answer its test point (Spamhaus gives public resolvers NXDOMAIN for everything) cannot say
  "not listed": those answers are reported as *untrusted*; a zone that lists everything is
  reported as such and its answers are not used;
* no answer (timeout, SERVFAIL, REFUSED) is "not checked", never "not listed".

``check_targets`` is the engine of ``mailprobe blocklist``; ``check_addresses`` the part
``mailprobe check`` uses for exchanger addresses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from mailprobe.errors import ProbeError, UsageError
from mailprobe.findings import make
from mailprobe.model import ExitCode, Failure, Finding
from mailprobe.outcome import exit_code as outcome_exit_code
from mailprobe.text import show_controls

if TYPE_CHECKING:
    from mailprobe.dns import DnsServer, Resolver
    from mailprobe.dns.answer import DnsAnswer

ListKind = Literal["ip", "domain"]
ListClass = Literal["block", "policy", "collateral"]
ListingStatus = Literal["listed", "not-listed", "untrusted", "refused", "error", "skipped"]
ZoneStatus = Literal[
    "ok", "test-point-missing", "lists-everything", "refused", "unanswered", "not-tested"
]

#: The longest TXT reason kept (a list's reason is a sentence and a URL).
REASON_MAX = 300
#: Lookups in flight at once in one run (the resolver's socket budget bounds it too).
CONCURRENCY = 256
#: The classes from worst to mildest.
_CLASS_ORDER: tuple[ListClass, ...] = ("block", "policy", "collateral")
#: Answers that are errors whatever the list (Spamhaus uses this range for them).
_ERROR_NET = ipaddress.ip_network("127.255.255.0/24")
_LOOPBACK_NET = ipaddress.ip_network("127.0.0.0/8")


@dataclasses.dataclass(frozen=True)
class ListCode:
    """One answer a list documents: the code (127.x.y.z), what it means, its class."""

    code: str
    meaning: str
    list_class: ListClass


@dataclasses.dataclass(frozen=True)
class ErrorCode:
    """An answer that is an error of the list's provider, never a listing."""

    code: str
    meaning: str


@dataclasses.dataclass(frozen=True)
class Blocklist:
    """One list as ``blocklists.toml`` describes it (``known`` False: a zone the user named
    that mailprobe has no data for; asked as an address list, any 127/8 answer is a listing)."""

    zone: str
    name: str
    kind: ListKind
    default: bool
    ipv6: bool
    test: str
    lookup: str
    removal: str
    codes: tuple[ListCode, ...]
    errors: tuple[ErrorCode, ...]
    known: bool = True
    #: The DNS server of this list alone (``--zone NAME@SERVER``); None: the run's resolver.
    server: str | None = None

    def meaning(self, code: str) -> tuple[str, ListClass] | None:
        for known in self.codes:
            if known.code == code:
                return known.meaning, known.list_class
        return None

    def error(self, code: str) -> str | None:
        for known in self.errors:
            if known.code == code:
                return known.meaning
        if ipaddress.ip_address(code) in _ERROR_NET:
            return "an error code of the list (127.255.255.x), not a listing"
        return None

    def lookup_url(self, target: str) -> str:
        return self.lookup.replace("{target}", target)


@functools.lru_cache(maxsize=1)
def known_lists() -> tuple[Blocklist, ...]:
    """Every list of ``blocklists.toml``, in file order."""
    import tomllib
    from importlib import resources

    data = tomllib.loads(
        resources.files("mailprobe").joinpath("data/blocklists.toml").read_text("utf-8")
    )
    families: dict[str, dict[str, str]] = data.get("errors", {})
    lists = []
    for entry in data["list"]:
        codes = tuple(
            ListCode(value, str(spec["meaning"]), spec["class"])
            for value, spec in entry.get("codes", {}).items()
        )
        errors = tuple(
            ErrorCode(value, meaning)
            for value, meaning in families.get(entry.get("family", ""), {}).items()
        )
        lists.append(
            Blocklist(
                zone=entry["zone"],
                name=entry["name"],
                kind=entry["kind"],
                default=bool(entry.get("default", False)),
                ipv6=bool(entry.get("ipv6", False)),
                test=entry["test"],
                lookup=entry.get("lookup", ""),
                removal=entry.get("removal", ""),
                codes=codes,
                errors=errors,
            )
        )
    return tuple(lists)


def parse_zone(spec: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME@ADDR[:PORT]`` (a DNS server for this list alone): (zone, server)."""
    from mailprobe.dns import parse_domain, parse_server

    zone, at, server = spec.partition("@")
    if not zone.strip():
        raise UsageError(f"--zone {spec!r}: the zone name is empty")
    try:
        ascii_zone, _unicode = parse_domain(zone)
    except UsageError as exc:
        raise UsageError(f"--zone {spec!r}: {exc}") from None
    if at:
        if not server:
            raise UsageError(f"--zone {spec!r}: no DNS server after '@'")
        parse_server(server)
        return ascii_zone, server
    return ascii_zone, None


def select_lists(zones: Sequence[str] = (), add: Sequence[str] = ()) -> tuple[Blocklist, ...]:
    """The lists of a run: ``zones`` (``--zone``) instead of the default set when given, plus
    ``add`` (``--add-zone``); unknown zones are asked as address lists."""
    by_zone = {b.zone: b for b in known_lists()}
    chosen: dict[str, Blocklist] = {}
    if not zones:
        chosen.update((b.zone, b) for b in known_lists() if b.default)
    for spec in (*zones, *add):
        zone, server = parse_zone(spec)
        base = by_zone.get(zone) or _unknown(zone)
        chosen[zone] = dataclasses.replace(base, server=server)
    return tuple(chosen.values())


def _unknown(zone: str) -> Blocklist:
    return Blocklist(
        zone=zone,
        name=zone,
        kind="ip",
        default=False,
        ipv6=True,
        test="127.0.0.2",
        lookup="",
        removal="",
        codes=(),
        errors=(),
        known=False,
    )


def query_name(target: str, zone: str) -> str:
    """The name to ask ``zone`` about ``target`` (an address or a domain name), RFC 5782."""
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        return f"{target.rstrip('.').lower()}.{zone}"
    pointer = address.reverse_pointer  # 1.2.0.192.in-addr.arpa / nibbles.ip6.arpa
    return f"{pointer.rsplit('.', 2)[0]}.{zone}"


# -- results ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ZoneHealth:
    """What the self-test of one list said: can its answers be used?

    ``status``: ok; test-point-missing (its test point is not listed: "not listed" answers mean
    nothing); lists-everything (127.0.0.1 or ``invalid`` listed, or an answer outside 127/8:
    nothing it says is used); refused (an error code: ``message`` says why and what to do);
    unanswered (no answer from the DNS server); not-tested (``--no-self-test``).
    """

    zone: str
    name: str
    kind: ListKind
    server: str
    status: ZoneStatus
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Listing:
    """The answer of one list about one address or name.

    ``status``: listed; not-listed; untrusted (NXDOMAIN from a list that failed its self-test);
    refused (an error code instead of an answer); error (no answer, or an unusable one);
    skipped (the list has no data of this kind, e.g. IPv6 on an IPv4-only list).
    ``codes`` are the A answers; ``meanings`` one per code; ``list_class`` the worst class of
    the codes (block, policy, collateral); ``reason`` the list's TXT record, if it has one.
    """

    zone: str
    name: str
    query: str
    status: ListingStatus
    codes: tuple[str, ...] = ()
    meanings: tuple[str, ...] = ()
    list_class: ListClass | None = None
    reason: str = ""
    lookup_url: str = ""
    removal: str = ""
    message: str = ""


@dataclasses.dataclass(frozen=True)
class CheckedItem:
    """One address (``kind`` ipv4/ipv6) or domain name (``kind`` domain) and every list's
    answer about it; ``source`` says where it came from (e.g. the exchanger it belongs to)."""

    item: str
    kind: Literal["ipv4", "ipv6", "domain"]
    source: str
    listings: tuple[Listing, ...]

    @property
    def listed(self) -> tuple[Listing, ...]:
        return tuple(x for x in self.listings if x.status == "listed")


@dataclasses.dataclass(frozen=True)
class BlocklistReport:
    """Everything ``mailprobe blocklist`` found for one target (an address, a host name and its
    addresses, or ``--mx DOMAIN``: every exchanger address and the domain)."""

    target: str
    target_kind: Literal["address", "host", "mx"]
    items: tuple[CheckedItem, ...]
    zones: tuple[ZoneHealth, ...]
    findings: tuple[Finding, ...]
    failures: tuple[Failure, ...]
    exit_code: ExitCode
    seconds: float

    @property
    def domain(self) -> str:
        """The target, under the name batch summaries use."""
        return self.target


# -- the engine ---------------------------------------------------------------------------------


class Session:
    """One run's lists, resolvers and zone self-tests (shared by every target of the run)."""

    def __init__(
        self,
        lists: Sequence[Blocklist],
        resolver: Resolver,
        *,
        self_test: bool = True,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.lists = tuple(lists)
        self.resolver = resolver
        self.self_test = self_test
        self._own: dict[str, Resolver] = {}
        self._limit = asyncio.Semaphore(max(1, concurrency))
        self._health: dict[str, asyncio.Task[ZoneHealth]] = {}

    def _resolver(self, blocklist: Blocklist) -> Resolver:
        if blocklist.server is None:
            return self.resolver
        if blocklist.server not in self._own:
            from mailprobe.dns import Resolver, parse_server

            server: DnsServer = parse_server(blocklist.server)
            self._own[blocklist.server] = Resolver(
                [server], timeout=self.resolver.timeout, lifetime=self.resolver.timeout
            )
        return self._own[blocklist.server]

    def server_label(self, blocklist: Blocklist) -> str:
        if blocklist.server is not None:
            return blocklist.server
        return ", ".join(s.label for s in self.resolver.servers)

    async def ask(self, blocklist: Blocklist, name: str, rdtype: str) -> DnsAnswer:
        async with self._limit:
            return await self._resolver(blocklist).query(name, rdtype)

    async def aclose(self) -> None:
        for resolver in self._own.values():
            await resolver.aclose()

    def health(self, blocklist: Blocklist) -> asyncio.Task[ZoneHealth]:
        """The self-test of ``blocklist`` (run once per run, shared)."""
        if blocklist.zone not in self._health:
            self._health[blocklist.zone] = asyncio.ensure_future(self._test(blocklist))
        return self._health[blocklist.zone]

    async def _test(self, blocklist: Blocklist) -> ZoneHealth:
        server = self.server_label(blocklist)

        def health(status: ZoneStatus, message: str = "") -> ZoneHealth:
            return ZoneHealth(
                blocklist.zone, blocklist.name, blocklist.kind, server, status, message
            )

        if not self.self_test:
            return health("not-tested")
        negative = "127.0.0.1" if blocklist.kind == "ip" else "invalid"
        positive_answer, negative_answer = await asyncio.gather(
            self.ask(blocklist, query_name(blocklist.test, blocklist.zone), "A"),
            self.ask(blocklist, query_name(negative, blocklist.zone), "A"),
        )
        for answer in (positive_answer, negative_answer):
            refused = _refusal(blocklist, answer)
            if refused:
                return health("refused", refused)
            if answer.ok and _outside(answer):
                return health(
                    "lists-everything",
                    f"it answers {', '.join(answer.records)}, outside 127.0.0.0/8: the zone is "
                    "broken or its domain was taken over (e.g. expired and parked)",
                )
        if negative_answer.ok:
            return health(
                "lists-everything",
                f"it lists {negative}, which no list may list (RFC 5782): it answers for "
                "everything",
            )
        if positive_answer.status.failed:
            return health("unanswered", _no_answer(positive_answer))
        if not positive_answer.ok:
            return health(
                "test-point-missing",
                f"its test point {blocklist.test} is not listed: a 'not listed' from it means "
                "nothing (lists such as Spamhaus answer public resolvers this way, or the list "
                "no longer exists)",
            )
        return health("ok")

    async def listing(self, blocklist: Blocklist, item: str, kind: str) -> Listing:
        """What ``blocklist`` says about ``item`` (after its self-test)."""
        query = query_name(item, blocklist.zone)
        base = Listing(blocklist.zone, blocklist.name, query, "skipped")
        if (blocklist.kind == "domain") != (kind == "domain"):
            return dataclasses.replace(base, message="not a list of this kind")
        if kind == "ipv6" and not blocklist.ipv6:
            return dataclasses.replace(base, message="the list has no IPv6 data")
        task = self.health(blocklist)
        health = task.result() if task.done() else await task  # once per run, then known
        answer = await self.ask(blocklist, query, "A")
        if health.status in ("refused", "lists-everything", "unanswered"):
            status: ListingStatus = "refused" if health.status == "refused" else "error"
            return dataclasses.replace(base, status=status, message=health.message)
        refused = _refusal(blocklist, answer)
        if refused:
            return dataclasses.replace(base, status="refused", message=refused)
        if answer.status.failed:
            return dataclasses.replace(base, status="error", message=_no_answer(answer))
        if not answer.ok:
            if health.status == "test-point-missing":
                return dataclasses.replace(base, status="untrusted", message=health.message)
            return dataclasses.replace(base, status="not-listed")
        if _outside(answer):
            return dataclasses.replace(
                base,
                status="error",
                message=f"answer {', '.join(answer.records)} is outside 127.0.0.0/8: the zone "
                "is broken or taken over; not read as a listing",
            )
        codes = tuple(sorted(answer.records, key=ipaddress.ip_address))
        meanings: list[str] = []
        classes: list[ListClass] = []
        for code in codes:
            known = blocklist.meaning(code)
            if known is None:
                meanings.append(
                    f"code {code}, not documented by the list"
                    if blocklist.known
                    else f"listed (code {code})"
                )
                classes.append("block")
            else:
                meanings.append(known[0])
                classes.append(known[1])
        reason = await self._reason(blocklist, query)
        return Listing(
            blocklist.zone,
            blocklist.name,
            query,
            "listed",
            codes,
            tuple(meanings),
            min(classes, key=_CLASS_ORDER.index),
            reason,
            blocklist.lookup_url(item),
            blocklist.removal,
        )

    async def _reason(self, blocklist: Blocklist, query: str) -> str:
        from mailprobe.dns import txt_strings

        answer = await self.ask(blocklist, query, "TXT")
        if not answer.ok:
            return ""
        text = " ".join(txt_strings(answer))
        text = show_controls(text)  # the list's text, like any peer's: no terminal controls
        return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"

    async def check_item(self, item: str, source: str = "") -> CheckedItem:
        """Every list's answer about one address or domain name."""
        kind = _item_kind(item)
        listings = await asyncio.gather(*(self.listing(b, item, kind) for b in self.lists))
        return CheckedItem(item, kind, source, tuple(listings))

    async def zones(self) -> tuple[ZoneHealth, ...]:
        tasks = [self.health(b) for b in self.lists]
        if all(t.done() for t in tasks):
            return tuple(t.result() for t in tasks)
        return tuple(await asyncio.gather(*tasks))


def _item_kind(item: str) -> Literal["ipv4", "ipv6", "domain"]:
    try:
        address = ipaddress.ip_address(item)
    except ValueError:
        return "domain"
    return "ipv4" if address.version == 4 else "ipv6"


def _outside(answer: DnsAnswer) -> bool:
    for record in answer.records:
        try:
            if ipaddress.ip_address(record) not in _LOOPBACK_NET:
                return True
        except ValueError:
            return True
    return False


def _refusal(blocklist: Blocklist, answer: DnsAnswer) -> str:
    """Why an answer is an error code instead of a listing ("" when it is not)."""
    if not answer.ok:
        return ""
    for record in answer.records:
        try:
            meaning = blocklist.error(record)
        except ValueError:
            continue
        if meaning:
            return f"{record}: {meaning}"
    return ""


def _no_answer(answer: DnsAnswer) -> str:
    text = answer.message or answer.status.value
    server = f" from {answer.server}" if answer.server else ""
    return f"no answer{server} ({show_controls(text)})"


# -- targets and findings -----------------------------------------------------------------------


async def check_targets(
    target: str,
    target_kind: Literal["address", "host", "mx"],
    session: Session,
) -> BlocklistReport:
    """Check one target: an address; a host name (its addresses, and the name on domain
    lists); or a domain's exchangers (``mx``: every exchanger address, and the domain on domain
    lists). DNS trouble finding the addresses is a failure (exit 3)."""
    from mailprobe.dns import addresses, resolve_exchangers

    started = time.monotonic()
    items: list[tuple[str, str]] = []  # (item, source)
    failures: list[Failure] = []
    findings: list[Finding] = []
    try:
        if target_kind == "address":
            items.append((target, ""))
        elif target_kind == "host":
            found = await addresses(target, session.resolver)
            if not found:
                findings.append(
                    make("blocklist.no-address", f"{target} has no address", subject=target)
                )
            items.extend((a, target) for a in found)
            items.append((target, ""))
        else:
            exchangers = await resolve_exchangers(target, session.resolver)
            hosts = await asyncio.gather(*(addresses(h, session.resolver) for _p, h in exchangers))
            for (preference, host), found in zip(exchangers, hosts, strict=True):
                items.extend((a, f"{host} (MX {preference})") for a in found)
            if not any(hosts):
                findings.append(
                    make(
                        "blocklist.no-address",
                        f"no exchanger of {target} has an address",
                        subject=target,
                    )
                )
            items.append((target, ""))
    except ProbeError as exc:
        failures.append(exc.failure)
    unique = list(dict.fromkeys(items))
    checked = await asyncio.gather(*(session.check_item(i, s) for i, s in unique))
    zones = await session.zones()
    findings.extend(item_findings(checked))
    findings.extend(zone_findings(zones, checked))
    asked = [x for c in checked for x in c.listings if x.status != "skipped"]
    if asked and all(x.status in ("error", "refused") for x in asked):
        failures.append(
            Failure("blocklist", f"no list answered ({asked[0].name}: {asked[0].message})")
        )
    findings.sort(key=lambda f: -f.severity.rank)
    return BlocklistReport(
        target,
        target_kind,
        tuple(checked),
        zones,
        tuple(findings),
        tuple(failures),
        outcome_exit_code(findings, failures),
        round(time.monotonic() - started, 3),
    )


def item_findings(items: Sequence[CheckedItem]) -> list[Finding]:
    """One finding per listing (by its class), and one "not listed" per clean item."""
    found: list[Finding] = []
    for item in items:
        for x in item.listed:
            where = f"{item.item} ({item.source})" if item.source else item.item
            what = "; ".join(f"{c} {m}" for c, m in zip(x.codes, x.meanings, strict=True))
            summary = f"{where} is listed on {x.name} ({x.zone}): {what}"
            if x.reason:
                summary += f" — {x.reason}"
            fix_parts = [x.removal] if x.removal else []
            if x.lookup_url:
                fix_parts.append(f"details and removal: {x.lookup_url}")
            code = {
                "block": "blocklist.listed",
                "policy": "blocklist.policy-listed",
                "collateral": "blocklist.collateral",
            }[x.list_class or "block"]
            extra = "; ".join(fix_parts)
            fix = None
            if extra:
                from mailprobe.findings import lookup

                fix = f"{lookup(code).fix} {extra[:1].upper()}{extra[1:]}."
            found.append(make(code, summary, subject=item.item, fix=fix))
        answered = [x for x in item.listings if x.status in ("listed", "not-listed")]
        if answered and not item.listed:
            names = ", ".join(x.name for x in answered)
            found.append(
                make(
                    "blocklist.not-listed",
                    f"{item.item} is not listed on {names}",
                    subject=item.item,
                )
            )
    return found


def zone_findings(zones: Sequence[ZoneHealth], items: Sequence[CheckedItem]) -> list[Finding]:
    """Findings about lists whose answers could not be used (once per list)."""
    asked = {x.zone for item in items for x in item.listings if x.status != "skipped"}
    code = {
        "refused": "blocklist.query-refused",
        "test-point-missing": "blocklist.untrusted",
        "lists-everything": "blocklist.lists-everything",
        "unanswered": "blocklist.unanswered",
    }
    found = []
    for zone in zones:
        if zone.status in code and zone.zone in asked:
            found.append(
                make(
                    code[zone.status],
                    f"{zone.name} ({zone.zone}) via {zone.server}: {zone.message}",
                    subject=zone.zone,
                )
            )
    # a list whose self-test passed but which did not answer one item
    said = {z.zone for z in zones if z.status in code}
    unanswered = {
        x.zone: x
        for item in items
        for x in item.listings
        if x.status in ("error", "refused") and x.zone not in said
    }
    for x in unanswered.values():
        found.append(
            make(
                "blocklist.query-refused" if x.status == "refused" else "blocklist.unanswered",
                f"{x.name} ({x.zone}): {x.message}",
                subject=x.zone,
            )
        )
    return found
