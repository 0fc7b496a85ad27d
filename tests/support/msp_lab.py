"""The MSP-scale loopback lab: thousands of domains hosted on 20 shared exchanger addresses.

A managed-service provider checks all its customers' domains every night, and most of them are
hosted by a few platforms. This lab makes that on loopback, for ``mailprobe check -f``
(tests/integration/test_check_msp_lab.py, bench/check_msp.py):

* **Exchangers**: 20 addresses, 127.0.12.1 ... 127.0.12.20, two per hoster (``hoster01.test``
  ... ``hoster10.test``; 127.0.12.1 is ``mx1.hoster01.test``, .2 ``mx2.hoster01.test``, .3
  ``mx1.hoster02.test``, ...). All of them are served by one scripted SMTP server (asyncio,
  SMTP written out by hand) **in a child process** (``python -m tests.support.msp_lab serve
  CONFIG``), so that it never competes for the GIL with an in-process CLI. Like a hoster's
  Postfix with anvil limits, per exchanger address and per client address it allows at most 4
  connections at once (``smtpd_client_connection_count_limit``) and 60 new connections in any
  sliding 60 s (``smtpd_client_connection_rate_limit``; refused attempts count too, as anvil
  counts them); beyond that it answers ``421 4.7.0 Too many connections, try again later`` and
  closes.
* **SMTP** (Postfix-like): banner ``220 mx1.hoster01.test ESMTP Postfix``; EHLO (PIPELINING,
  SIZE, VRFY, ETRN, STARTTLS, ENHANCEDSTATUSCODES, 8BITMIME, DSN: Postfix's default set, so the
  verb profile guessed from the banner matches), HELO required before MAIL; STARTTLS with a
  certificate of the test CA per hoster for ``mx1``/``mx2.hosterNN.test`` and
  ``*.mail.hosterNN.test``; MAIL (any sender); RCPT: ``postmaster``, any address at a lab domain
  the hoster accepts, or at the server's own names: ``250 2.1.5 Ok``; any other domain, and any
  sender-specified routing (``%``, ``!``, a quoted or second ``@`` in the local part; a source
  route is stripped first) as Postfix's ``reject_unauth_destination``: ``554 5.7.1 <x>: Relay
  access denied``; RSET, NOOP, VRFY (252), ETRN (458), DATA (``554 5.5.1 Error: no valid
  recipients`` without an accepted recipient, else 354, and after the dot ``250`` -- the message
  is counted, never kept), QUIT 221, anything else 502. Postfix's session limits too: 20 error
  replies (``smtpd_hard_error_limit``) or 100 junk commands (RSET, NOOP, VRFY, ETRN:
  ``smtpd_junk_command_limit``) end the session with ``421 4.7.0 ... Error: too many errors``;
  300 s without a command with ``421 4.4.2 ... Error: timeout exceeded``.
* **Counters**, per exchanger address: connections, 421s (connection limits apart from the
  others), peak concurrent connections per client (the refused attempt included: a peak above
  4 means a 421 was sent for it), most connections per client in any 60 s window, messages
  received (DATA completed), TLS handshakes, commands by verb, RCPTs accepted and refused.
  ``LabServer.stats()`` asks the child for them over its standard input (one JSON line back);
  the child also writes them to ``stats.json`` when it stops.
* **DNS** (``zone_texts``): customer domains under eight TLD-like zones (``shop.test``,
  ``law.test``, ...): ``alder0000.shop.test``, ``birch0001.law.test``, ... Domain *i* lives on
  address 127.0.12.(i mod 20 + 1). Half of them (by blocks of 20) use the address's shared name
  (``MX 10 mx1.hoster01.test``), the other half a name of their own under the hoster, as
  Microsoft 365 does (``MX 0 alder0020-shop-test.mail.hoster01.test``, an A record to the same
  shared address). Every fifth domain also has a backup ``MX 20`` on another hoster's shared
  name. Each domain has SPF (``v=spf1 include:_spf.hosterNN.test -all``), DMARC (``p=reject``
  with a ``rua`` in the domain) and TLS-RPT; each hoster ``mx1``/``mx2`` A records and ``_spf``;
  the reverse zone ``12.0.127.in-addr.arpa`` a PTR per exchanger address (its shared name,
  forward-confirmed). No MTA-STS record, so nothing is fetched over HTTPS.
* **Deliberate problems** on a few domains (``LabDomain.problem``; every 50th domain from
  number 125 on, the kinds in turn), each with the finding code it must produce (``PROBLEMS``):
  no DMARC record (``dmarc.missing``), SPF ``+all`` (``spf.pass-all``), DMARC ``p=none``
  (``dmarc.policy-none``), two SPF records (``spf.multiple``), no TLS-RPT record
  (``tlsrpt.missing``), and a domain the hoster no longer accepts although its MX still points
  there (RCPT postmaster refused as relaying: ``smtp.domain-not-accepted``).

API::

    lab = start_lab(directory, domains=2000, dns="process")   # "process" (dnspython server in a
                                                              # child), "thread", "knot", "none"
    lab.dns_spec        # "127.0.12.53:PORT" for --server
    lab.port            # SMTP port of every exchanger (25 when free, else a free port)
    lab.ca_file         # the test CA (--ca-file)
    lab.domains_file    # one domain a line, in plan order
    lab.plan            # LabPlan: .domains (LabDomain: name, index, mx, problem, ...),
                        # .expected(code) -> the domains that must get that finding
    lab.stats()         # {"addresses": {ADDRESS: counters}, "totals": {...}}
    lab.stop()          # idempotent; also a context manager

    LabServer(config).start() / .stats() / .stop()   # the SMTP child alone (see test_limits)
    zone_texts(plan) -> {origin: text}                # dnspython server input
    write_zone_files(plan, directory) -> {origin: Path}; knot_config(files, directory, address,
    port) -> Path; write_domains_file(plan, path)

The pytest fixture ``msp_lab`` (module scope) starts a 2,000-domain lab with the dnspython
server in a child process, and stops it after the module.

From a shell (prints what to pass to mailprobe, runs until Ctrl-C)::

    python -m tests.support.msp_lab up [--domains N] [--dns process|knot]

Loopback: 127.0.12.0/24 is this lab's (127.0.12.53 the DNS server); every port but 25 is
chosen by the kernel, and 25 is given up for a free port when it is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import functools
import json
import os
import queue
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DNS_ADDRESS",
    "EXCHANGERS",
    "MAX_CONNECTIONS",
    "MAX_RATE",
    "PROBLEMS",
    "TOO_MANY",
    "Lab",
    "LabDomain",
    "LabPlan",
    "LabServer",
    "knot_config",
    "make_plan",
    "start_lab",
    "write_domains_file",
    "write_zone_files",
    "zone_texts",
]

ROOT = Path(__file__).resolve().parents[2]

NET = "127.0.12"
EXCHANGER_COUNT = 20
EXCHANGERS: tuple[str, ...] = tuple(f"{NET}.{n}" for n in range(1, EXCHANGER_COUNT + 1))
DNS_ADDRESS = f"{NET}.53"
REVERSE_ZONE = "12.0.127.in-addr.arpa"
HOSTERS = EXCHANGER_COUNT // 2
SECTORS = ("shop", "law", "clinic", "build", "farm", "school", "media", "travel")
WORDS = (
    "alder", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris",
    "juniper", "kestrel", "linden", "maple", "north", "orchid", "pine", "quartz", "river",
    "summit", "tidal", "umber", "valley", "willow", "yarrow", "zephyr",
)  # fmt: skip

#: Per exchanger address and client address: connections at once, new ones per window.
MAX_CONNECTIONS = 4
MAX_RATE = 60
WINDOW = 60.0
TOO_MANY = "421 4.7.0 Too many connections, try again later"
#: Postfix's smtpd_hard_error_limit, smtpd_junk_command_limit, smtpd_timeout.
HARD_ERROR_LIMIT = 20
JUNK_LIMIT = 100
IDLE_TIMEOUT = 300.0

#: Deliberate problems: kind -> the finding code mailprobe must report for it.
PROBLEMS: dict[str, str] = {
    "dmarc-missing": "dmarc.missing",
    "spf-plus-all": "spf.pass-all",
    "dmarc-p-none": "dmarc.policy-none",
    "spf-two-records": "spf.multiple",
    "tlsrpt-missing": "tlsrpt.missing",
    "not-accepted": "smtp.domain-not-accepted",
}

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_CONTROL_TIMEOUT = 15.0
_LINE_LIMIT = 4096


# --- the plan: domains, exchangers, problems --------------------------------------------------


def shared_name(address_index: int) -> str:
    """The shared exchanger name of address number ``address_index`` (0-based)."""
    return f"mx{address_index % 2 + 1}.{hoster_of(address_index)}"


def hoster_of(address_index: int) -> str:
    return f"hoster{address_index // 2 + 1:02d}.test"


@dataclasses.dataclass(frozen=True)
class LabDomain:
    """One customer domain of the lab."""

    index: int
    name: str
    #: (preference, exchanger name), best first.
    mx: tuple[tuple[int, str], ...]
    #: Address index (0-based) of each MX, in the order of ``mx``.
    mx_addresses: tuple[int, ...]
    #: The primary MX is a name of its own (``...mail.hosterNN.test``), not the shared name.
    own_mx_name: bool
    problem: str | None

    @property
    def address(self) -> str:
        """The address of the primary exchanger."""
        return EXCHANGERS[self.mx_addresses[0]]


@dataclasses.dataclass(frozen=True)
class LabPlan:
    domains: tuple[LabDomain, ...]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.domains]

    def expected(self, code: str) -> set[str]:
        """The domains whose deliberate problem must produce finding ``code``."""
        return {d.name for d in self.domains if d.problem and PROBLEMS[d.problem] == code}

    def accepted(self) -> list[str]:
        """The domains the hosters accept mail for (all but the ``not-accepted`` ones)."""
        return [d.name for d in self.domains if d.problem != "not-accepted"]


def domain_name(index: int) -> str:
    return f"{WORDS[index % len(WORDS)]}{index:04d}.{SECTORS[(index // 7) % len(SECTORS)]}.test"


def problem_of(index: int) -> str | None:
    """Every 50th domain from number 125 on has a problem, the kinds in turn. The first
    domains on each address stay clean: they are the ones whose relay battery is shared."""
    if index < 100 or index % 50 != 25:
        return None
    kinds = list(PROBLEMS)
    return kinds[(index // 50 - 2) % len(kinds)]


def make_plan(count: int = 2000) -> LabPlan:
    domains = []
    for i in range(count):
        name = domain_name(i)
        a = i % EXCHANGER_COUNT
        own = (i // EXCHANGER_COUNT) % 2 == 1
        primary = f"{name.replace('.', '-')}.mail.{hoster_of(a)}" if own else shared_name(a)
        mx = [(0 if own else 10, primary)]
        addresses = [a]
        if i % 5 == 4:
            backup = (a + 7) % EXCHANGER_COUNT  # always another hoster
            mx.append((20, shared_name(backup)))
            addresses.append(backup)
        domains.append(LabDomain(i, name, tuple(mx), tuple(addresses), own, problem_of(i)))
    return LabPlan(tuple(domains))


def zone_texts(plan: LabPlan) -> dict[str, str]:
    """Zone text per origin (relative names, no SOA: tests/support/dnsserver.py adds one)."""
    zones: dict[str, list[str]] = collections.defaultdict(list)
    for a in range(EXCHANGER_COUNT):
        zones[hoster_of(a)].append(f"{shared_name(a).split('.')[0]} A {EXCHANGERS[a]}")
        zones[REVERSE_ZONE].append(f"{a + 1} PTR {shared_name(a)}.")
    for h in range(HOSTERS):
        zone = hoster_of(h * 2)
        zones[zone].append(f'_spf TXT "v=spf1 ip4:{NET}.0/24 -all"')
        zones[zone].append(f'@ TXT "v=spf1 include:_spf.{zone} -all"')
    for d in plan.domains:
        label, _, zone = d.name.partition(".")
        records = zones[zone]
        for preference, host in d.mx:
            records.append(f"{label} MX {preference} {host}.")
        if d.own_mx_name:
            host = d.mx[0][1]
            hoster = hoster_of(d.mx_addresses[0])
            zones[hoster].append(f"{host.removesuffix('.' + hoster)} A {d.address}")
        spf_include = f"include:_spf.{hoster_of(d.mx_addresses[0])}"
        spf = f"v=spf1 {spf_include} {'+all' if d.problem == 'spf-plus-all' else '-all'}"
        records.append(f'{label} TXT "{spf}"')
        if d.problem == "spf-two-records":
            records.append(f'{label} TXT "v=spf1 ip4:{NET}.0/24 -all"')
        if d.problem != "dmarc-missing":
            policy = "none" if d.problem == "dmarc-p-none" else "reject"
            dmarc = f"v=DMARC1; p={policy}; rua=mailto:dmarc-reports@{d.name}"
            records.append(f'_dmarc.{label} TXT "{dmarc}"')
        if d.problem != "tlsrpt-missing":
            records.append(f'_smtp._tls.{label} TXT "v=TLSRPTv1; rua=mailto:tls-reports@{d.name}"')
    return {origin: "\n".join(lines) + "\n" for origin, lines in zones.items()}


def write_zone_files(plan: LabPlan, directory: Path) -> dict[str, Path]:
    """Complete zone files (``$TTL``, SOA, NS) for knotd or the dnspython server."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for origin, text in zone_texts(plan).items():
        head = (
            f"$ORIGIN {origin}.\n$TTL 3600\n"
            f"@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n@ NS ns.{origin}.\n"
        )
        path = directory / f"{origin}.zone"
        path.write_text(head + text, encoding="ascii")
        files[origin] = path
    return files


def write_domains_file(plan: LabPlan, path: Path) -> Path:
    path.write_text("# MSP lab customer domains\n" + "\n".join(plan.names) + "\n", "ascii")
    return path


def knot_config(files: dict[str, Path], directory: Path, address: str, port: int) -> Path:
    """A knotd configuration serving ``files`` on ``address@port`` (as bench/mx_batch.py)."""
    zones = "\n".join(f"  - domain: {origin}\n    file: {path}" for origin, path in files.items())
    config = directory / "knot.conf"
    config.write_text(
        f"""server:
    listen: {address}@{port}
    rundir: {directory}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: error
database:
    storage: {directory}
template:
  - id: default
    storage: {directory}
    semantic-checks: off
    zonefile-sync: -1
    journal-content: none
zone:
{zones}
""",
        encoding="ascii",
    )
    return config


# --- the SMTP server (child process) ---------------------------------------------------------


class _Exchanger:
    """One exchanger address: its limits and counters."""

    def __init__(self, address: str, hostname: str, context: ssl.SSLContext, cfg: Any) -> None:
        self.address = address
        self.hostname = hostname
        self.context = context
        self.max_connections = int(cfg["max_connections"])
        self.max_rate = int(cfg["max_rate"])
        self.window = float(cfg["window"])
        self.reset()

    def reset(self) -> None:
        self.connections = 0
        self.refused_concurrency = 0
        self.refused_rate = 0
        self.other_421 = 0
        self.messages = 0
        self.tls = 0
        self.tls_failed = 0
        self.rcpt_accepted = 0
        self.rcpt_refused = 0
        self.commands: collections.Counter[str] = collections.Counter()
        self.active: collections.Counter[str] = collections.Counter()
        self.peak: dict[str, int] = {}
        self.recent: dict[str, collections.deque[float]] = {}
        self.starts: dict[str, list[float]] = collections.defaultdict(list)

    def admit(self, client: str, now: float) -> str | None:
        """Count a new connection; the reason to refuse it (None: accepted)."""
        self.connections += 1
        self.starts[client].append(now)
        self.active[client] += 1
        self.peak[client] = max(self.peak.get(client, 0), self.active[client])
        recent = self.recent.setdefault(client, collections.deque())
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        recent.append(now)  # anvil counts every attempt, refused ones too
        if self.active[client] > self.max_connections:
            self.refused_concurrency += 1
            return "concurrency"
        if len(recent) > self.max_rate:
            self.refused_rate += 1
            return "rate"
        return None

    def release(self, client: str) -> None:
        self.active[client] -= 1

    def stats(self, started: float) -> dict[str, Any]:
        window = {c: _max_in_window(s, self.window) for c, s in self.starts.items()}
        starts = sorted(t for s in self.starts.values() for t in s)
        return {
            "hostname": self.hostname,
            "connections": self.connections,
            "refused_421": self.refused_concurrency + self.refused_rate,
            "refused_concurrency": self.refused_concurrency,
            "refused_rate": self.refused_rate,
            "other_421": self.other_421,
            "max_concurrent": max(self.peak.values(), default=0),
            "max_concurrent_by_client": dict(self.peak),
            "max_in_window": max(window.values(), default=0),
            "max_in_window_by_client": window,
            "open_now": sum(self.active.values()),
            "messages": self.messages,
            "tls": self.tls,
            "tls_failed": self.tls_failed,
            "rcpt_accepted": self.rcpt_accepted,
            "rcpt_refused": self.rcpt_refused,
            "commands": dict(self.commands),
            "first_connection_s": round(starts[0] - started, 3) if starts else None,
            "last_connection_s": round(starts[-1] - started, 3) if starts else None,
        }


def _max_in_window(starts: Sequence[float], window: float) -> int:
    """Most connections started within any ``window`` seconds (sliding)."""
    best = 0
    first = 0
    for last, at in enumerate(starts):
        while at - starts[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


_PATH = re.compile(r"^(?:FROM|TO):\s*<([^<>]*)>(?:\s.*)?$", re.IGNORECASE)
_EHLO_KEYWORDS = (
    "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES",
    "8BITMIME", "DSN",
)  # fmt: skip
_JUNK = frozenset({"RSET", "NOOP", "VRFY", "ETRN"})


class _Closing(Exception):
    """End the session (after the reply that says why was sent)."""


class _Session:
    """One SMTP connection on an exchanger."""

    def __init__(
        self,
        lab: _SmtpLab,
        ex: _Exchanger,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.lab = lab
        self.ex = ex
        self.reader = reader
        self.writer = writer
        self.helo: str | None = None
        self.sender: str | None = None
        self.recipients = 0
        self.tls = False
        self.errors = 0
        self.junk = 0

    def reply(self, line: str) -> None:
        self.writer.write(line.encode() + b"\r\n")
        if line[:1] in ("4", "5"):
            self.errors += 1

    async def readline(self) -> bytes:
        try:
            async with asyncio.timeout(self.lab.idle_timeout):
                return await self.reader.readline()
        except TimeoutError:
            self.ex.other_421 += 1
            self.reply(f"421 4.4.2 {self.ex.hostname} Error: timeout exceeded")
            raise _Closing from None
        except ValueError:  # longer than the stream's limit
            self.reply("500 5.5.2 Error: line too long")
            raise _Closing from None

    async def run(self) -> None:
        self.reply(f"220 {self.ex.hostname} ESMTP Postfix")
        while True:
            line = await self.readline()
            if not line.endswith(b"\n"):
                return  # end of stream (or a last line without end)
            text = line.rstrip(b"\r\n").decode("utf-8", "replace")
            verb, _, argument = text.partition(" ")
            verb = verb.upper()
            self.ex.commands[verb if verb.isalpha() and len(verb) <= 10 else "?"] += 1
            if verb in _JUNK:
                self.junk += 1
            if verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            handler = getattr(self, f"_{verb.lower()}", None) if verb.isalpha() else None
            if handler is None:
                self.reply("502 5.5.2 Error: command not recognized")
            else:
                await handler(argument.strip())
            if self.errors >= HARD_ERROR_LIMIT or self.junk > JUNK_LIMIT:
                self.ex.other_421 += 1
                self.reply(f"421 4.7.0 {self.ex.hostname} Error: too many errors")
                return
            await self.writer.drain()

    def _reset(self) -> None:
        self.sender = None
        self.recipients = 0

    async def _ehlo(self, argument: str) -> None:
        if not argument:
            self.reply("501 5.5.4 Syntax: EHLO hostname")
            return
        self.helo = argument
        self._reset()
        keywords = [k for k in _EHLO_KEYWORDS if not (self.tls and k == "STARTTLS")]
        lines = [self.ex.hostname, *keywords]
        for line in lines[:-1]:
            self.reply(f"250-{line}")
        self.reply(f"250 {lines[-1]}")

    async def _helo(self, argument: str) -> None:
        if not argument:
            self.reply("501 5.5.4 Syntax: HELO hostname")
            return
        self.helo = argument
        self._reset()
        self.reply(f"250 {self.ex.hostname}")

    async def _starttls(self, argument: str) -> None:
        if self.tls:
            self.reply("554 5.5.1 Error: TLS already active")
            return
        if argument:
            self.reply("501 5.5.4 Syntax: STARTTLS")
            return
        self.reply("220 2.0.0 Ready to start TLS")
        await self.writer.drain()
        try:
            async with asyncio.timeout(self.lab.idle_timeout):
                await self.writer.start_tls(self.ex.context)
        except (OSError, ssl.SSLError, TimeoutError):
            self.ex.tls_failed += 1
            raise _Closing from None
        self.ex.tls += 1
        self.tls = True
        self.helo = None
        self._reset()

    async def _mail(self, argument: str) -> None:
        if self.helo is None:
            self.reply("503 5.5.1 Error: send HELO/EHLO first")
            return
        if self.sender is not None:
            self.reply("503 5.5.1 Error: nested MAIL command")
            return
        match = _PATH.match(argument)
        if match is None or not argument.upper().startswith("FROM:"):
            self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        self.sender = match.group(1)
        self.reply("250 2.1.0 Ok")

    async def _rcpt(self, argument: str) -> None:
        if self.sender is None:
            self.reply("503 5.5.1 Error: need MAIL command")
            return
        match = _PATH.match(argument)
        if match is None or not argument.upper().startswith("TO:"):
            self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        address = match.group(1)
        if self.lab.accepts(address, self.ex):
            self.recipients += 1
            self.ex.rcpt_accepted += 1
            self.reply("250 2.1.5 Ok")
        else:
            self.ex.rcpt_refused += 1
            self.reply(f"554 5.7.1 <{address}>: Relay access denied")

    async def _data(self, argument: str) -> None:
        if self.sender is None:
            self.reply("503 5.5.1 Error: need RCPT command")
            return
        if not self.recipients:
            self.reply("554 5.5.1 Error: no valid recipients")
            return
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        await self.writer.drain()
        while True:
            line = await self.readline()
            if not line.endswith(b"\n"):
                raise _Closing
            if line.rstrip(b"\r\n") == b".":
                break
        self.ex.messages += 1
        self.reply(f"250 2.0.0 Ok: queued as {self.ex.messages:05X}LAB")
        self._reset()

    async def _rset(self, argument: str) -> None:
        self._reset()
        self.reply("250 2.0.0 Ok")

    async def _noop(self, argument: str) -> None:
        self.reply("250 2.0.0 Ok")

    async def _vrfy(self, argument: str) -> None:
        if not argument:
            self.reply("501 5.5.4 Syntax: VRFY address")
            return
        self.reply(f"252 2.0.0 {argument}")

    async def _etrn(self, argument: str) -> None:
        self.reply("458 4.3.0 Unable to queue messages")


class _SmtpLab:
    """Every exchanger of one server process."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.idle_timeout = float(cfg.get("idle_timeout", IDLE_TIMEOUT))
        self.accepted = frozenset(d.lower() for d in cfg["accepted_domains"])
        self.local = frozenset(n.lower() for n in cfg["local_names"])
        self.started = time.monotonic()
        self.exchangers: dict[str, _Exchanger] = {}
        for address, spec in cfg["addresses"].items():
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(spec["cert"], spec["key"])
            self.exchangers[address] = _Exchanger(address, spec["hostname"], context, cfg)

    def accepts(self, address: str, ex: _Exchanger) -> bool:
        """Postfix's reject_unauth_destination for an anonymous client."""
        if address.startswith("@"):  # a source route: Postfix strips it
            address = address.partition(":")[2]
        if address.lower() == "postmaster":
            return True
        local, at, domain = address.rpartition("@")
        if not at or any(c in local for c in '%!@"'):
            return False  # unqualified with routing, or sender-specified routing
        domain = domain.rstrip(".").lower()
        if domain.startswith("["):
            return domain == f"[{ex.address}]"
        return domain in self.accepted or domain in self.local

    async def handle(
        self, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        ex = self.exchangers[address]
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else "?"
        refused = ex.admit(client, time.monotonic())
        try:
            if refused is not None:
                writer.write(TOO_MANY.encode() + b"\r\n")
                await writer.drain()
                return
            await _Session(self, ex, reader, writer).run()
        except (_Closing, ConnectionError, ssl.SSLError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the server stops
        finally:
            ex.release(client)  # before yielding: the client may connect again at once
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 5)

    def stats(self) -> dict[str, Any]:
        per = {a: ex.stats(self.started) for a, ex in self.exchangers.items()}
        keys = ("connections", "refused_421", "other_421", "messages", "tls")
        totals: dict[str, Any] = {k: sum(s[k] for s in per.values()) for k in keys}
        totals["max_connections"] = max((s["connections"] for s in per.values()), default=0)
        totals["max_concurrent"] = max((s["max_concurrent"] for s in per.values()), default=0)
        totals["max_in_window"] = max((s["max_in_window"] for s in per.values()), default=0)
        return {"addresses": per, "totals": totals}

    def reset(self) -> None:
        for ex in self.exchangers.values():
            ex.reset()


def _bind_all(addresses: Sequence[str], port: int) -> tuple[dict[str, socket.socket], int]:
    """A listening socket per address, all on one port: ``port`` if it is free on every
    address, else a free one."""
    wanted = port
    for _attempt in range(30):
        socks: dict[str, socket.socket] = {}
        chosen = wanted
        try:
            for address in addresses:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks[address] = sock
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((address, chosen))
                chosen = sock.getsockname()[1]
                sock.listen(512)
                sock.setblocking(False)
            return socks, chosen
        except OSError:
            for sock in socks.values():
                sock.close()
            wanted = 0
    raise OSError(f"no port free on every one of {len(addresses)} addresses")


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _serve(cfg: Any) -> None:
    loop = asyncio.get_running_loop()
    lab = _SmtpLab(cfg)
    socks, port = _bind_all(list(lab.exchangers), int(cfg["port"]))
    servers = [
        await asyncio.start_server(
            functools.partial(lab.handle, address), sock=sock, limit=_LINE_LIMIT
        )
        for address, sock in socks.items()
    ]
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    control = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(control), sys.stdin)
    _emit({"ready": True, "port": port, "pid": os.getpid()})

    async def commands() -> None:
        while True:
            line = (await control.readline()).strip()
            if not line or line == b"stop":
                return
            if line == b"stats":
                _emit(lab.stats())
            elif line == b"reset":
                lab.reset()
                _emit({"reset": True})
            else:
                _emit({"error": f"unknown command {line!r}"})

    reading = asyncio.ensure_future(commands())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([reading, stopping], return_when=asyncio.FIRST_COMPLETED)
    for task in (reading, stopping):
        task.cancel()
    for server in servers:
        server.close()
    if cfg.get("stats_file"):
        Path(cfg["stats_file"]).write_text(json.dumps(lab.stats(), indent=1), "utf-8")
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=_STOP_TIMEOUT)


# --- parent side: the SMTP child, the DNS server, the whole lab --------------------------------


class _Child:
    """A child process speaking JSON lines on stdout (``ready`` first), commands on stdin."""

    def __init__(self, args: list[str], log: Path, name: str) -> None:
        self.name = name
        self.log = log
        self._lock = threading.Lock()
        self._lines: queue.Queue[str | None] = queue.Queue()
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=ROOT,
                text=True,
                start_new_session=True,
            )
        self._reader = threading.Thread(target=self._read, name=f"{name}-stdout", daemon=True)
        self._reader.start()
        self.ready = self._next(_START_TIMEOUT)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name}: no answer within {timeout} s") from None
        if line is None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited ({self.proc.poll()}): {tail}")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, command: str) -> dict[str, Any]:
        with self._lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
            return self._next(_CONTROL_TIMEOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.write("stop\n")
                self.proc.stdin.close()
            try:
                self.proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(_STOP_TIMEOUT)
        self._reader.join(_STOP_TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LabServer:
    """The scripted SMTP server of the exchangers, in a child process.

    ``config``: ``addresses`` ({address: {hostname, cert, key}}), ``port`` (0: a free one),
    ``accepted_domains``, ``local_names``, and optionally ``max_connections``, ``max_rate``,
    ``window``, ``idle_timeout``, ``stats_file``.
    """

    def __init__(self, config: dict[str, Any], directory: Path) -> None:
        self.config = {
            "max_connections": MAX_CONNECTIONS,
            "max_rate": MAX_RATE,
            "window": WINDOW,
            "stats_file": str(directory / "stats.json"),
            **config,
        }
        for address in self.config["addresses"]:
            if not address.startswith("127."):
                raise ValueError(f"loopback addresses only: {address}")
        self.directory = directory
        self.port = 0
        self._child: _Child | None = None

    def start(self) -> LabServer:
        path = self.directory / "smtp-lab.json"
        path.write_text(json.dumps(self.config), "utf-8")
        self._child = _Child(
            ["-m", "tests.support.msp_lab", "serve", str(path)],
            self.directory / "smtp-lab.log",
            "msp-lab smtp",
        )
        self.port = int(self._child.ready["port"])
        return self

    def stats(self) -> dict[str, Any]:
        assert self._child is not None, "not started"
        return self._child.ask("stats")

    def reset(self) -> None:
        assert self._child is not None, "not started"
        self._child.ask("reset")

    def cpu_seconds(self) -> float | None:
        """CPU time the server process used so far (Linux /proc; None elsewhere)."""
        if self._child is None:
            return None
        return _cpu_seconds(self._child.proc.pid)

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None

    def __enter__(self) -> LabServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclasses.dataclass
class Lab:
    directory: Path
    plan: LabPlan
    smtp: LabServer
    ca_file: Path
    domains_file: Path
    dns_kind: str
    dns_spec: str
    _stops: list[Any] = dataclasses.field(default_factory=list)

    @property
    def port(self) -> int:
        return self.smtp.port

    @property
    def domains(self) -> list[str]:
        return self.plan.names

    def stats(self) -> dict[str, Any]:
        return self.smtp.stats()

    def stop(self) -> None:
        while self._stops:
            with contextlib.suppress(Exception):
                self._stops.pop()()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((address, 0))
        return int(udp.getsockname()[1])


def _wait_for_dns(address: str, port: int, name: str, limit: float = _START_TIMEOUT) -> None:
    import dns.message
    import dns.query

    query = dns.message.make_query(name, "MX")
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if dns.query.udp(query, address, port=port, timeout=0.5).answer:
                return
        time.sleep(0.1)
    raise RuntimeError(f"DNS server on {address}:{port} did not answer within {limit} s")


def _start_knot(
    files: dict[str, Path], directory: Path, address: str, probe: str
) -> tuple[str, Any]:
    port = _free_port(address)
    directory.mkdir(parents=True, exist_ok=True)
    config = knot_config(files, directory, address, port)
    with (directory / "knotd.log").open("ab") as err:
        proc = subprocess.Popen(
            ["knotd", "-c", str(config)], stderr=err, stdout=err, start_new_session=True
        )

    def stop() -> None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(_STOP_TIMEOUT)

    try:
        _wait_for_dns(address, port, probe)
    except BaseException:
        stop()
        raise
    return f"{address}:{port}", stop


def start_lab(
    directory: Path,
    domains: int = 2000,
    *,
    dns: str = "process",
    smtp_port: int = 25,
    dns_address: str = DNS_ADDRESS,
) -> Lab:
    """Generate and start the lab in ``directory`` (see the module docstring)."""
    from tests.support.certs import TestCA

    directory.mkdir(parents=True, exist_ok=True)
    plan = make_plan(domains)
    domains_file = write_domains_file(plan, directory / "domains.txt")
    files = write_zone_files(plan, directory / "zones")
    certs = directory / "certs"
    certs.mkdir(exist_ok=True)
    ca = TestCA(directory=certs)
    addresses: dict[str, dict[str, str]] = {}
    for h in range(HOSTERS):
        hoster = hoster_of(h * 2)
        cert = ca.issue(f"mx1.{hoster}", f"mx2.{hoster}", f"*.mail.{hoster}")
        for a in (h * 2, h * 2 + 1):
            addresses[EXCHANGERS[a]] = {
                "hostname": shared_name(a),
                "cert": str(cert.cert_chain),
                "key": str(cert.key),
            }
    local = [shared_name(a) for a in range(EXCHANGER_COUNT)]
    local += [hoster_of(a) for a in range(EXCHANGER_COUNT)]
    smtp = LabServer(
        {
            "addresses": addresses,
            "port": smtp_port,
            "accepted_domains": plan.accepted(),
            "local_names": sorted(set(local)),
        },
        directory,
    )
    smtp.start()
    lab = Lab(directory, plan, smtp, ca.ca_pem, domains_file, dns, "", [smtp.stop])
    probe = plan.domains[0].name if plan.domains else hoster_of(0)
    try:
        if dns == "knot":
            lab.dns_spec, stop = _start_knot(files, directory / "knot", dns_address, probe)
            lab._stops.append(stop)
        elif dns == "process":
            child = _Child(
                ["-m", "tests.support.msp_lab", "dns", str(directory / "zones"), dns_address],
                directory / "dns.log",
                "msp-lab dns",
            )
            lab._stops.append(child.stop)
            lab.dns_spec = str(child.ready["spec"])
        elif dns == "thread":
            from tests.support.dnsserver import start_dns_server

            handle = start_dns_server(zone_texts(plan), address=dns_address)
            lab._stops.append(handle.stop)
            lab.dns_spec = handle.spec
        elif dns != "none":
            raise ValueError(f"unknown DNS kind {dns!r}")
    except BaseException:
        lab.stop()
        raise
    return lab


def serve_dns(plan: LabPlan, directory: Path, address: str) -> tuple[str, Any]:
    """Serve ``plan``'s zones from a dnspython server in a child process on ``address``
    (e.g. a changed plan next to the lab's own DNS, for ``check --baseline``): (spec, stop)."""
    zones = directory / "zones"
    write_zone_files(plan, zones)
    child = _Child(
        ["-m", "tests.support.msp_lab", "dns", str(zones), address],
        directory / "dns.log",
        "msp-lab dns",
    )
    return str(child.ready["spec"]), child.stop


def _serve_dns(zones_dir: Path, address: str) -> None:
    """The dnspython test server for the zone files of ``zones_dir``, until stdin closes."""
    from tests.support.dnsserver import start_dns_server

    zones = {p.name.removesuffix(".zone"): p.read_text("ascii") for p in zones_dir.glob("*.zone")}
    with start_dns_server(zones, address=address) as handle:
        _emit({"ready": True, "spec": handle.spec, "pid": os.getpid()})
        for line in sys.stdin:
            if line.strip() == "stop":
                break


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.msp_lab")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the SMTP server of a config (child process)")
    serve.add_argument("config", type=Path)
    dns_cmd = sub.add_parser("dns", help="serve zone files with the dnspython test server")
    dns_cmd.add_argument("zones", type=Path)
    dns_cmd.add_argument("address", nargs="?", default=DNS_ADDRESS)
    up = sub.add_parser("up", help="start a whole lab and wait for Ctrl-C")
    up.add_argument("--domains", type=int, default=2000)
    up.add_argument("--dns", choices=["process", "knot"], default="process")
    up.add_argument("--directory", type=Path)
    args = parser.parse_args(argv)
    if args.command == "serve":
        asyncio.run(_serve(json.loads(args.config.read_text("utf-8"))))
    elif args.command == "dns":
        _serve_dns(args.zones, args.address)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the lab on the way out
        with contextlib.ExitStack() as stack:
            directory = args.directory or Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="msp-lab-"))
            )
            lab = stack.enter_context(start_lab(directory, args.domains, dns=args.dns))
            print(
                f"mailprobe --json check -f {lab.domains_file} --server {lab.dns_spec} "
                f"--smtp-port {lab.port} --ca-file {lab.ca_file} --allow-private"
            )
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
            print(json.dumps(lab.stats()["totals"]))
    return 0


# --- pytest fixture ---------------------------------------------------------------------------

if __name__ != "__main__":  # the child processes need no pytest
    import pytest

    @pytest.fixture(scope="module")
    def msp_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
        """A 2,000-domain MSP lab (dnspython DNS in a child process), for one test module."""
        lab = start_lab(tmp_path_factory.mktemp("msp-lab"), 2000, dns="process")
        try:
            yield lab
        finally:
            lab.stop()


if __name__ == "__main__":
    raise SystemExit(main())
