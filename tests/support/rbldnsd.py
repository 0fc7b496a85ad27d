"""A real DNSBL server on loopback: rbldnsd, serving blocklist zones built by the test.

rbldnsd (Debian package ``rbldnsd``, ``/usr/sbin/rbldnsd``; see ``man rbldnsd``) is the small
DNS daemon many blocklists run. Each zone is made of one or more *datasets* (data files of a
type: ``ip4set``, ``ip4trie``, ``ip4tset``, ``ip6trie``, ``ip6tset``, ``dnset``, ``generic``,
``combined``, ``acl``); a zone given several datasets answers with the records of every dataset
that lists the name, so one address can have several A codes (ZEN's SBL + XBL) and a zone can
hold IPv4 and IPv6 entries (an ``ip4set`` and an ``ip6trie`` for the same zone).

**UDP only**: rbldnsd has no TCP mode (a TCP connection to its port is refused; a record that
does not fit a 512-byte UDP answer is left out, the manual says, not truncated with TC). It
answers A and TXT (and SOA/NS when the data has them, ANY with both A and TXT); AAAA, MX, ... of
a listed name is NOERROR with no answer. It sends no OPT record back, even to an EDNS query.

What it answers (rbldnsd 1.0~20210120, Debian 12):

- a listed name: NOERROR, AA, one A record per (dataset, entry) listing it; TXT records from the
  entries' TXT templates (identical texts given once). Default TTL 35 minutes (``ttl=``).
- a name in a served zone that is not listed (or that is no address at all, ``x.zen...``):
  NXDOMAIN (AA), with the zone's SOA in the authority section (every zone started here gets
  one, see ``soa``); the zone apex is NOERROR with no answer (SOA in authority), its SOA query
  answers the SOA. The question's letter case is kept in the answer.
- an IPv4-mapped IPv6 address in nibble form (``::ffff:a.b.c.d``) is answered from the zone's
  IPv4 datasets as the IPv4 address ``a.b.c.d``, even when the zone has no IPv6 dataset: the
  RFC 5782 IPv6 test point ``::ffff:7f00:2`` is listed wherever 127.0.0.2 is.
- a name outside every zone it serves: REFUSED (no AA). That is what a blocklist client sees
  when it asks a server for a zone the server does not serve.
- ``version.bind`` CH TXT: ``rbldnsd`` and the version.

Data lines (``entry()`` writes them): ``KEY :A:TXT`` -- ``192.0.2.10 :127.0.0.2:Listed, see $``
(``$`` in a TXT is replaced by the listed address or name, ``$$`` is one ``$``); ``KEY :A:``
gives that A and no TXT; a line ``:A:TXT`` alone sets the default of the following lines. IPv4
keys: an address, a prefix (``192.0.2``), a range (``192.0.2.0-192.0.2.255``), a CIDR range;
``ip4set`` refuses ``0.0.0.0/0`` (use ``ip4trie`` for "every address"). IPv6 (``ip6trie``): an
address or CIDR range, compressed notation, ``::/0``; an IPv4-mapped address must be written in
hex (``::ffff:7f00:2``: ``::ffff:127.0.0.2`` is refused). ``dnset``: ``example.test`` (the name
only), ``*.example.test`` (subdomains only), ``.example.test`` (the name and its subdomains); a
dnset cannot list every name (``*`` or ``.*`` match nothing), but an ``acl`` dataset can:
``0.0.0.0/0 :127.255.255.254:`` answers that A to every query from any IPv4 client, for every
dataset of the zone (the zone also needs a non-acl dataset, e.g. an empty ``dnset``).

API (plain functions, usable outside pytest too)::

    handle = start_rbldnsd(
        {"zen.spamhaus.org": [Dataset("ip4set", [entry("192.0.2.10", "127.0.0.2", "SBL")]),
                              Dataset("ip6trie", [entry("2001:db8::25", "127.0.0.2")])],
         "dbl.spamhaus.org": [Dataset("dnset", [entry(".spammy.test", "127.0.1.2")])]},
        address="127.0.14.1",   # any 127.0.0.0/8 address, or "::1"
        port=0,                 # 0: a free UDP port (chosen here, retried if taken meanwhile)
        ttl=None,               # e.g. 60: rbldnsd -t (default TTL of the answers)
        soa=True,               # a $SOA line for every zone (NXDOMAIN then carries the SOA)
    )
    handle.address, handle.port, handle.spec   # "127.0.14.1:PORT", for mailprobe --server
    handle.zones                # the zone names it serves
    handle.query(name, "A")     # one UDP query with dnspython -> dns.message.Message
    handle.pid, handle.base, handle.log_text()
    handle.stop()               # idempotent; also a context manager

    dnsbl_name("192.0.2.10", "zen.spamhaus.org")  # "10.2.0.192.zen.spamhaus.org" (RFC 5782)

How a server is run: data files in ``/tmp/mailprobe-rbldnsd-NAME-XXXX/`` (``name=``; mode
0755, files 0644: rbldnsd started by root switches to the user ``rbldns`` that the package
creates, or ``nobody`` when that user is missing, and reads the files as that user; a non-root
user runs it as itself), ``rbldnsd -n -c 0 -b ADDR/PORT -p BASE/rbldnsd.pid ZONE:TYPE:FILE
...`` in the foreground (``-n``) without automatic reloads (``-c 0``), its output in
``BASE/rbldnsd.log``; without ``-q`` a data error aborts the start (the error carries the log).
The start waits (10 s at most) until a UDP query is answered; ``stop()`` sends SIGTERM, SIGKILL
after 5 s, and deletes the directory; handles still running at interpreter exit are stopped
too. After a SIGKILLed session, leftovers are found with
``cat /tmp/mailprobe-rbldnsd-*/rbldnsd.pid``.

The DNSBL lab (``start_dnsbl_lab()``, fixture ``dnsbl_lab``): servers named like the real lists,
on 127.0.14.x, so a blocklist client can be pointed at them with ``--server`` and no query leaves
loopback. ``DnsblLab`` documents what each one serves; its attributes hold every fact (listed
targets, codes, TXT texts, the refusal codes), so tests read them instead of repeating literals.
From a shell (prints the specs, runs until Ctrl-C or SECONDS)::

    python -m tests.support.rbldnsd [SECONDS]

pytest fixtures (registered by tests/conftest.py); both skip the test, with the reason, when
rbldnsd is not installed:

- ``rbldnsd_server``: a factory with the signature of ``start_rbldnsd``; every server it
  started is stopped at teardown.
- ``dnsbl_lab`` (session scope): the lab, stopped at the end of the session.

Loopback: 127.0.14.0/24 is the blocklist tests' (127.0.14.1-3 the lab's rbldnsd servers,
127.0.14.9 its silent server, 127.0.14.100 bench/blocklist.py; test_support_rbldnsd.py uses
.20-.21; other tests pick other 127.0.14.x addresses). Ports are always free ones, so several
sessions on one machine do not collide.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import dns.exception
import dns.message
import dns.query

from tests.support.dnsserver import SilentServerHandle, start_silent_server

__all__ = [
    "DATASET_KINDS",
    "Dataset",
    "DnsblLab",
    "Listing",
    "RbldnsdError",
    "RbldnsdHandle",
    "RbldnsdMissing",
    "dnsbl_name",
    "entry",
    "find_rbldnsd",
    "start_dnsbl_lab",
    "start_rbldnsd",
]

DATASET_KINDS = (
    "ip4set",
    "ip4tset",
    "ip4trie",
    "ip6trie",
    "ip6tset",
    "dnset",
    "generic",
    "combined",
    "acl",
)
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
_BIND_ATTEMPTS = 5
MISSING_REASON = (
    "rbldnsd is not installed (Debian package rbldnsd; scripts/setup-test-env.sh installs it)"
)
_SOA = "$SOA 0 ns.rbldnsd.test hostmaster.rbldnsd.test 1 3600 600 86400 60"


class RbldnsdMissing(RuntimeError):
    """The rbldnsd binary is not installed."""


class RbldnsdError(RuntimeError):
    """rbldnsd did not start (the message carries its output)."""


def find_rbldnsd() -> str | None:
    """The path of the rbldnsd binary (also in /usr/sbin when that is not on PATH), or None."""
    found = shutil.which("rbldnsd")
    if found:
        return found
    for candidate in ("/usr/sbin/rbldnsd", "/usr/local/sbin/rbldnsd"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _check_text(value: str, what: str) -> None:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"{what} must be one line: {value!r}")


def entry(key: str, code: str | None = "127.0.0.2", txt: str | None = None) -> str:
    """One data line: ``KEY :CODE:TXT``; ``txt=None`` gives no TXT record (``KEY :CODE:``),
    ``code=None`` the dataset's default A. ``txt`` is a template: ``$`` is replaced by the
    listed address or name, ``$$`` is a literal ``$`` (see ``literal()``)."""
    _check_text(key, "key")
    if not key or key.split() != [key]:
        raise ValueError(f"bad key {key!r}")
    if txt is not None:
        _check_text(txt, "txt")
    if code is None:
        return key if txt is None else f"{key} {txt}"
    return f"{key} :{code}:{'' if txt is None else txt}"


def literal(text: str) -> str:
    """``text`` as a TXT template that renders to exactly ``text`` (``$`` doubled)."""
    return text.replace("$", "$$")


@dataclass(frozen=True)
class Dataset:
    """One rbldnsd dataset: its type and its data lines (written to a file of its own).

    ``default`` is the ``:A:TXT`` line that sets the A value and TXT template of the entries
    that give none (without it rbldnsd answers 127.0.0.2 and no TXT)."""

    kind: str
    lines: Sequence[str] = ()
    default: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in DATASET_KINDS:
            raise ValueError(f"unknown rbldnsd dataset type {self.kind!r}")
        for line in self.lines:
            _check_text(line, "data line")
        if self.default is not None:
            _check_text(self.default, "default")
            if not self.default.startswith(":"):
                raise ValueError(f"a default line starts with ':' ({self.default!r})")

    def text(self, header: Iterable[str] = ()) -> str:
        """The data file."""
        lines = ["# written by tests/support/rbldnsd.py", *header]
        if self.default is not None:
            lines.append(self.default)
        lines.extend(self.lines)
        return "\n".join(lines) + "\n"


def dnsbl_name(target: str, zone: str) -> str:
    """The name a DNSBL client asks (RFC 5782): reversed IPv4 octets, reversed IPv6 nibbles, or
    a domain name, in front of ``zone``."""
    zone = zone.rstrip(".")
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        return f"{target.rstrip('.')}.{zone}"
    reverse = address.reverse_pointer  # "...in-addr.arpa" / "...ip6.arpa"
    return reverse.rsplit(".", 2)[0] + "." + zone


def _spec(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _free_udp_port(address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _user_args() -> list[str]:
    """rbldnsd refuses to run as root: name the user it becomes (the package's ``rbldns``)."""
    if os.geteuid() != 0:
        return []
    for user in ("rbldns", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["-u", user]
    raise RbldnsdError("running as root and neither user rbldns nor nobody exists")


class RbldnsdHandle:
    """One rbldnsd process serving ``zones``; see the module docstring."""

    def __init__(
        self,
        zones: Mapping[str, Sequence[Dataset]],
        address: str,
        port: int,
        *,
        ttl: int | None,
        soa: bool,
        name: str,
    ) -> None:
        binary = find_rbldnsd()
        if binary is None:
            raise RbldnsdMissing(MISSING_REASON)
        if not zones:
            raise ValueError("rbldnsd needs at least one zone")
        self.address = address
        self.port = 0
        self.spec = ""
        self.zones: tuple[str, ...] = tuple(zone.rstrip(".").lower() for zone in zones)
        self.name = name
        self.base = Path(tempfile.mkdtemp(prefix=f"mailprobe-rbldnsd-{name}-"))
        self.base.chmod(0o755)
        self.pid_file = self.base / "rbldnsd.pid"
        self.log_path = self.base / "rbldnsd.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = False
        self.command: list[str] = []
        try:
            specs = self._write(zones, soa)
            self._start(binary, specs, port, ttl)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)

    def _write(self, zones: Mapping[str, Sequence[Dataset]], soa: bool) -> list[str]:
        specs = []
        for number, (zone, datasets) in enumerate(zones.items()):
            zone_name = zone.rstrip(".").lower()
            _check_text(zone_name, "zone")
            if not zone_name or ":" in zone_name or zone_name.split() != [zone_name]:
                raise ValueError(f"bad zone name {zone!r}")
            if not datasets or all(d.kind == "acl" for d in datasets):
                raise ValueError(f"zone {zone_name} needs a dataset that is not an acl")
            soa_done = not soa
            for index, dataset in enumerate(datasets):
                header: list[str] = []
                if not soa_done and dataset.kind != "acl":
                    header.append(_SOA)
                    soa_done = True
                path = self.base / f"z{number:02d}-{index:02d}-{dataset.kind}-{zone_name}"
                path.write_text(dataset.text(header), encoding="utf-8")
                path.chmod(0o644)
                specs.append(f"{zone_name}:{dataset.kind}:{path}")
        return specs

    def _start(self, binary: str, specs: list[str], port: int, ttl: int | None) -> None:
        for attempt in range(_BIND_ATTEMPTS):
            chosen = port or _free_udp_port(self.address)
            command = [binary, "-n", "-c", "0", "-b", f"{self.address}/{chosen}"]
            command += ["-p", str(self.pid_file), *_user_args()]
            if ttl is not None:
                command += ["-t", str(ttl)]
            self.command = command + specs
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    self.command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a Ctrl-C in the terminal goes to pytest only
                )
            self.port = chosen
            self.spec = _spec(self.address, chosen)
            problem = self._wait_ready()
            if problem is None:
                return
            self._terminate()
            text = self.log_text()
            if not port and "unable to bind" in text and attempt + 1 < _BIND_ATTEMPTS:
                self.log_path.write_bytes(b"")  # taken meanwhile by someone else: next port
                continue
            raise RbldnsdError(
                f"rbldnsd on {self.spec} did not start ({problem}); command: "
                f"{' '.join(self.command)}\noutput:\n{self.log_tail()}"
            )

    def _wait_ready(self) -> str | None:
        """None once rbldnsd answers a UDP query, else what went wrong (bounded)."""
        assert self._process is not None
        probe = dns.message.make_query(self.zones[0], "SOA")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return f"it exited with status {self._process.returncode}"
            try:
                dns.query.udp(probe, self.address, port=self.port, timeout=0.2)
            except (dns.exception.DNSException, OSError):
                time.sleep(0.02)
                continue
            return None
        return f"no answer to a UDP query within {START_TIMEOUT:.0f} s"

    @property
    def pid(self) -> int | None:
        """The rbldnsd process id (None once stopped)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def query(
        self, name: str, rdtype: str = "A", timeout: float = 2.0, **make_query: Any
    ) -> dns.message.Message:
        """One UDP query to this server (dnspython); raises dns.exception.Timeout."""
        message = dns.message.make_query(name, rdtype, **make_query)
        return dns.query.udp(message, self.address, port=self.port, timeout=timeout)

    def log_text(self) -> str:
        """What rbldnsd printed (start-up, zone loads, errors; '' once stopped)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _terminate(self) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """Stop rbldnsd (SIGTERM, SIGKILL after 5 s) and delete its directory (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        self._terminate()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> RbldnsdHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RbldnsdHandle {self.name} {self.spec} {state} zones={list(self.zones)}>"


def start_rbldnsd(
    zones: Mapping[str, Sequence[Dataset]],
    address: str = "127.0.14.1",
    port: int = 0,
    *,
    ttl: int | None = None,
    soa: bool = True,
    name: str = "server",
) -> RbldnsdHandle:
    """Start rbldnsd serving ``zones`` ({zone: [Dataset, ...]}) on ``address``, UDP only, and
    wait until it answers; raises RbldnsdMissing when rbldnsd is not installed."""
    return RbldnsdHandle(zones, address, port, ttl=ttl, soa=soa, name=name)


# --- the DNSBL lab ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """A target listed on a zone of the lab: what a client must find.

    ``target`` is what a user types (an IPv4 or IPv6 address, compressed; or a domain name),
    ``codes`` the A records the zone answers (in that order), ``txt`` its TXT record (exact
    text) or None when the zone publishes none. ``wildcard``: domain lists only, the
    subdomains of ``target`` are listed too (with the same codes and TXT). ``written=False``:
    a fact rbldnsd derives, not a line of the data (an IPv4-mapped IPv6 address, answered from
    the IPv4 entries)."""

    zone: str
    target: str
    codes: tuple[str, ...]
    txt: str | None = None
    wildcard: bool = False
    what: str = ""
    written: bool = True

    @property
    def family(self) -> str:
        """``ipv4``, ``ipv6`` or ``domain``."""
        try:
            return f"ipv{ipaddress.ip_address(self.target).version}"
        except ValueError:
            return "domain"

    @property
    def query_name(self) -> str:
        """The DNS name asked for it (``dnsbl_name``)."""
        return dnsbl_name(self.target, self.zone)

    def data_line(self, index: int) -> str:
        """The data line for ``codes[index]`` (the TXT goes with the first code only)."""
        key = f".{self.target}" if self.wildcard else self.target
        return entry(key, self.codes[index], literal(self.txt) if index == 0 and self.txt else None)


ZEN = "zen.spamhaus.org"
SPAMCOP = "bl.spamcop.net"
BARRACUDA = "b.barracudacentral.org"
PSBL = "psbl.surriel.com"
DBL = "dbl.spamhaus.org"

_KIND_OF_FAMILY = {"ipv4": "ip4set", "ipv6": "ip6trie", "domain": "dnset"}


def datasets_for(listings: Iterable[Listing], zone: str) -> list[Dataset]:
    """The datasets that make ``zone`` answer exactly ``listings`` (the ones for that zone):
    per family one dataset for each code position (``ip4set``, ``ip6trie``, ``dnset``), so an
    entry with two codes answers two A records. A zone without listings gets no dataset (give
    it an empty one, e.g. ``[Dataset("ip4set")]``)."""
    mine = [listing for listing in listings if listing.zone == zone and listing.written]
    datasets = []
    for family, kind in _KIND_OF_FAMILY.items():
        of_family = [listing for listing in mine if listing.family == family]
        depth = max((len(listing.codes) for listing in of_family), default=0)
        for index in range(depth):
            lines = [item.data_line(index) for item in of_family if len(item.codes) > index]
            datasets.append(Dataset(kind, lines))
    return datasets


def _everything(code: str, domains: bool) -> list[Dataset]:
    """Datasets that answer ``code`` (no TXT) for every name a client asks in the zone."""
    if domains:  # a dnset cannot list every name; an acl on every client can
        acl = Dataset("acl", [entry("0.0.0.0/0", code), entry("::/0", code)])
        return [Dataset("dnset"), acl]
    return [
        Dataset("ip4trie", [entry("0.0.0.0/0", code)]),
        Dataset("ip6trie", [entry("::/0", code)]),
    ]


class DnsblLab:
    """rbldnsd servers named like the real blocklists, on 127.0.14.x (queries never leave).

    ``server`` (``spec``, 127.0.14.1) serves the listings below on ZEN, SpamCop, Barracuda,
    PSBL (IPv4 zones) and DBL (domains): every IPv4 zone lists its RFC 5782 test point
    127.0.0.2 (``test_points``) and not 127.0.0.1; the IPv6 test point ``::ffff:7f00:2``
    (::FFFF:127.0.0.2, ``ipv6_test_point``) is listed with the codes and TXT of 127.0.0.2 on
    every IPv4 zone (rbldnsd answers IPv4-mapped addresses from the IPv4 data; ``listed()``
    knows), ``::ffff:7f00:1`` is not; DBL lists ``dbltest.com``
    (and its subdomains) and RFC 5782's ``test``, not ``invalid``. ``clean_ipv4``,
    ``clean_ipv6`` and ``clean_domain`` are listed nowhere.

    ``refusing`` (``refusing_spec``, 127.0.14.2) is a public resolver Spamhaus refuses: ZEN
    answers 127.255.255.254 (``refused_code``, no TXT) for every IPv4 and IPv6 address, DBL for
    every name; SpamCop, Barracuda and PSBL are served but empty (their test point is not
    listed: NXDOMAIN, which is what a refused public mirror looks like).

    ``rate_limited`` (``rate_limited_spec``, 127.0.14.3): ZEN and DBL answer 127.255.255.255
    (``rate_limited_code``, no TXT) for everything; no other zone is served (REFUSED).

    ``silent`` (``silent_spec``, 127.0.14.9): reads every query (UDP and TCP), never answers.
    """

    ip_zones: ClassVar[tuple[str, ...]] = (ZEN, SPAMCOP, BARRACUDA, PSBL)
    domain_zones: ClassVar[tuple[str, ...]] = (DBL,)
    zones: ClassVar[tuple[str, ...]] = (*ip_zones, *domain_zones)

    test_point: ClassVar[str] = "127.0.0.2"
    not_listed_test_point: ClassVar[str] = "127.0.0.1"
    ipv6_not_listed_test_point: ClassVar[str] = "::ffff:7f00:1"
    domain_not_listed_test_point: ClassVar[str] = "invalid"
    clean_ipv4: ClassVar[str] = "192.0.2.99"
    clean_ipv6: ClassVar[str] = "2001:db8::99"
    clean_domain: ClassVar[str] = "clean-domain.test"
    refused_code: ClassVar[str] = "127.255.255.254"
    rate_limited_code: ClassVar[str] = "127.255.255.255"

    # Listings on `server` (each also in `listings`).
    zen_test_point: ClassVar[Listing] = Listing(
        ZEN, "127.0.0.2", ("127.0.0.2", "127.0.0.4"), "RFC 5782 test point 127.0.0.2", what="test"
    )
    sbl: ClassVar[Listing] = Listing(
        ZEN,
        "192.0.2.10",
        ("127.0.0.2",),
        "SBL listed: https://check.spamhaus.org/sbl/query/SBL123456",
        what="SBL",
    )
    pbl_only: ClassVar[Listing] = Listing(
        ZEN,
        "192.0.2.20",
        ("127.0.0.10", "127.0.0.11"),
        "PBL: https://check.spamhaus.org/",
        what="PBL only",
    )
    xbl: ClassVar[Listing] = Listing(ZEN, "192.0.2.30", ("127.0.0.4",), None, what="XBL, no TXT")
    css: ClassVar[Listing] = Listing(ZEN, "198.51.100.7", ("127.0.0.3",), None, what="CSS, no TXT")
    ipv6: ClassVar[Listing] = Listing(
        ZEN,
        "2001:db8::25",
        ("127.0.0.2",),
        "SBL listed: https://check.spamhaus.org/sbl/query/SBL654321",
        what="SBL, IPv6",
    )
    ipv6_test_point: ClassVar[Listing] = Listing(
        ZEN,
        "::ffff:7f00:2",
        zen_test_point.codes,
        zen_test_point.txt,
        what="test, IPv6 (IPv4-mapped: answered from the IPv4 test point)",
        written=False,
    )
    spamcop_test_point: ClassVar[Listing] = Listing(
        SPAMCOP,
        "127.0.0.2",
        ("127.0.0.2",),
        "Blocked - see https://www.spamcop.net/bl.shtml?127.0.0.2",
        what="test",
    )
    spamcop_only: ClassVar[Listing] = Listing(
        SPAMCOP,
        "192.0.2.40",
        ("127.0.0.2",),
        "Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.40",
        what="SpamCop only",
    )
    barracuda_test_point: ClassVar[Listing] = Listing(
        BARRACUDA, "127.0.0.2", ("127.0.0.2",), None, what="test, no TXT"
    )
    psbl_test_point: ClassVar[Listing] = Listing(
        PSBL, "127.0.0.2", ("127.0.0.2",), "Listed in PSBL, see http://psbl.org/", what="test"
    )
    psbl_only: ClassVar[Listing] = Listing(
        PSBL,
        "192.0.2.50",
        ("127.0.0.2",),
        "Listed in PSBL, see http://psbl.org/listing?ip=192.0.2.50",
        what="PSBL only",
    )
    dbl_test_point: ClassVar[Listing] = Listing(
        DBL,
        "dbltest.com",
        ("127.0.1.2",),
        "https://check.spamhaus.org/results/?query=dbltest.com",
        wildcard=True,
        what="test",
    )
    dbl_test_name: ClassVar[Listing] = Listing(
        DBL, "test", ("127.0.1.2",), None, what="RFC 5782 test name"
    )
    dbl_spammy: ClassVar[Listing] = Listing(
        DBL,
        "spammy-domain.test",
        ("127.0.1.2",),
        "DBL listed: https://check.spamhaus.org/results/?query=spammy-domain.test",
        wildcard=True,
        what="spam domain",
    )
    dbl_phish: ClassVar[Listing] = Listing(
        DBL, "phish-domain.test", ("127.0.1.4",), None, wildcard=True, what="phish domain"
    )

    listings: ClassVar[tuple[Listing, ...]] = (
        zen_test_point,
        sbl,
        pbl_only,
        xbl,
        css,
        ipv6,
        ipv6_test_point,
        spamcop_test_point,
        spamcop_only,
        barracuda_test_point,
        psbl_test_point,
        psbl_only,
        dbl_test_point,
        dbl_test_name,
        dbl_spammy,
        dbl_phish,
    )
    test_points: ClassVar[Mapping[str, Listing]] = {
        ZEN: zen_test_point,
        SPAMCOP: spamcop_test_point,
        BARRACUDA: barracuda_test_point,
        PSBL: psbl_test_point,
        DBL: dbl_test_point,
    }

    def __init__(
        self,
        server: RbldnsdHandle,
        refusing: RbldnsdHandle,
        rate_limited: RbldnsdHandle,
        silent: SilentServerHandle,
    ) -> None:
        self.server = server
        self.refusing = refusing
        self.rate_limited = rate_limited
        self.silent = silent

    @property
    def spec(self) -> str:
        return self.server.spec

    @property
    def refusing_spec(self) -> str:
        return self.refusing.spec

    @property
    def rate_limited_spec(self) -> str:
        return self.rate_limited.spec

    @property
    def silent_spec(self) -> str:
        return self.silent.spec

    @classmethod
    def listed(cls, target: str, zone: str | None = None) -> tuple[Listing, ...]:
        """The listings of ``target`` on ``server`` (on ``zone``, or on any zone), wildcard
        domain listings included (``a.b.spammy-domain.test``)."""
        found: list[Listing] = []
        wanted = _normal(target)
        mapped = _mapped(target)
        for listing in cls.listings:
            if zone is not None and listing.zone != zone.rstrip(".").lower():
                continue
            if not listing.written:  # derived: found through its IPv4 listing below
                continue
            key = _normal(listing.target)
            if wanted == key or (listing.wildcard and wanted.endswith("." + key)):
                found.append(listing)
            elif mapped == key:
                found.append(_as_mapped(listing, wanted))
        return tuple(found)

    @classmethod
    def codes(cls, target: str, zone: str) -> tuple[str, ...]:
        """The A records ``server`` answers for ``target`` on ``zone`` (() when not listed)."""
        return tuple(code for listing in cls.listed(target, zone) for code in listing.codes)

    @classmethod
    def zone_data(cls) -> dict[str, list[Dataset]]:
        """The zones of ``server``."""
        return {zone: datasets_for(cls.listings, zone) for zone in cls.zones}

    @classmethod
    def refusing_data(cls) -> dict[str, list[Dataset]]:
        """The zones of ``refusing``."""
        zones = {
            ZEN: _everything(cls.refused_code, domains=False),
            DBL: _everything(cls.refused_code, domains=True),
        }
        for zone in (SPAMCOP, BARRACUDA, PSBL):
            zones[zone] = [Dataset("ip4set")]
        return zones

    @classmethod
    def rate_limited_data(cls) -> dict[str, list[Dataset]]:
        """The zones of ``rate_limited``."""
        return {
            ZEN: _everything(cls.rate_limited_code, domains=False),
            DBL: _everything(cls.rate_limited_code, domains=True),
        }

    def stop(self) -> None:
        """Stop every server (idempotent)."""
        for handle in (self.server, self.refusing, self.rate_limited, self.silent):
            handle.stop()

    def __enter__(self) -> DnsblLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _normal(target: str) -> str:
    try:
        return ipaddress.ip_address(target).compressed
    except ValueError:
        return target.rstrip(".").lower()


def _mapped(target: str) -> str | None:
    """The IPv4 address of an IPv4-mapped IPv6 address (None for anything else)."""
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(target)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
    return None


def _as_mapped(listing: Listing, target: str) -> Listing:
    """``listing`` (of an IPv4 address) as rbldnsd answers it for its IPv4-mapped form."""
    for known in DnsblLab.listings:
        if not known.written and known.zone == listing.zone and _normal(known.target) == target:
            return known
    what = f"{listing.what} (IPv4-mapped)".strip()
    return dataclasses.replace(listing, target=target, what=what, written=False)


def start_dnsbl_lab(
    server: str = "127.0.14.1",
    refusing: str = "127.0.14.2",
    rate_limited: str = "127.0.14.3",
    silent: str = "127.0.14.9",
) -> DnsblLab:
    """Start the lab's four servers (free ports on the given addresses); see DnsblLab."""
    started: list[RbldnsdHandle | SilentServerHandle] = []
    try:
        main = start_rbldnsd(DnsblLab.zone_data(), server, name="dnsbl-lab")
        started.append(main)
        refuse = start_rbldnsd(DnsblLab.refusing_data(), refusing, name="dnsbl-refusing")
        started.append(refuse)
        limited = start_rbldnsd(DnsblLab.rate_limited_data(), rate_limited, name="dnsbl-limit")
        started.append(limited)
        quiet = start_silent_server(silent)
    except BaseException:
        for handle in started:
            handle.stop()
        raise
    return DnsblLab(main, refuse, limited, quiet)


def _main(argv: Sequence[str]) -> int:
    seconds = float(argv[0]) if argv else None
    with start_dnsbl_lab() as lab:
        print(f"server (listings)           {lab.spec}")
        print(f"refusing (127.255.255.254)  {lab.refusing_spec}")
        print(f"rate_limited (.255)         {lab.rate_limited_spec}")
        print(f"silent                      {lab.silent_spec}")
        for listing in lab.listings:
            print(f"  {listing.zone:24} {listing.target:20} {','.join(listing.codes):24}"
                  f" {listing.txt or '-'}")  # fmt: skip
        sys.stdout.flush()
        stop = False

        def finish(*_: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, finish)
        signal.signal(signal.SIGINT, finish)
        deadline = None if seconds is None else time.monotonic() + seconds
        while not stop and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
    return 0


# --- pytest fixtures -------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - usable without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def rbldnsd_server() -> Iterator[Callable[..., RbldnsdHandle]]:
        """A factory like ``start_rbldnsd``; every server is stopped at teardown. Skips the
        test when rbldnsd is not installed."""
        if find_rbldnsd() is None:
            pytest.skip(MISSING_REASON)
        started: list[RbldnsdHandle] = []

        def factory(zones: Mapping[str, Sequence[Dataset]], *args: Any, **kw: Any) -> RbldnsdHandle:
            handle = start_rbldnsd(zones, *args, **kw)
            started.append(handle)
            return handle

        yield factory
        for handle in started:
            handle.stop()

    @pytest.fixture(scope="session")
    def dnsbl_lab() -> Iterator[DnsblLab]:
        """The DNSBL lab (see DnsblLab), for the whole session. Skips when rbldnsd is missing."""
        if find_rbldnsd() is None:
            pytest.skip(MISSING_REASON)
        lab = start_dnsbl_lab()
        try:
            yield lab
        finally:
            lab.stop()


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
