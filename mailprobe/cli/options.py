"""One declaration per command-line option (typer-free).

Each option is one ``Opt``: its destination name, every name it answers to (aliases from
``cli/names.py``), what kind of option it is, the Python type of its value, range, default,
metavar, help text and config key. Both routes read the same tables:

* ``cli/options_typer.py`` builds the typer commands from them (signature, names, ranges, help),
* ``parse_quick`` below is the typer-free parser of the quick paths (``cli/ehlo_run.py``): it
  converts and range-checks like typer, and returns None for anything it does not handle, so
  that typer parses the line and reports the error.

A new option is one more ``Opt`` in a table; ``tests/integration/test_option_names.py`` checks
that typer and the quick path accept the same names, values and ranges for every entry.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from mailprobe.cli import names

#: flag: ``--tls`` (False/True); pair: ``--starttls/--no-starttls`` (default, True, False);
#: count: ``-v``, ``-vv`` (0, 1, 2 ...); value: ``--port N``; multi: ``--to A --to B`` (a list);
#: argument: one positional value; arguments: any number of positional values (a list).
Kind = Literal["flag", "pair", "count", "value", "multi", "argument", "arguments"]

_POSITIONAL = ("argument", "arguments")


@dataclasses.dataclass(eq=False)  # not frozen, no __eq__: both would cost quick-path start-up
class Opt:
    """One option (or positional argument) of a command, as both parsers need it (read-only)."""

    #: The parameter name: keyword of the typer command, field of the command's args record.
    dest: str
    #: Option names, the documented one first (empty for a positional argument).
    names: tuple[str, ...] = ()
    kind: Kind = "value"
    #: Type of one value (``int``, ``float``, ``str``, ``Path``); ``bool``/``int`` for flags.
    py_type: type = str
    default: Any = None
    #: Range of a number; ``min_open``: the minimum itself is refused (``0 < x``).
    min: int | float | None = None
    max: int | float | None = None
    min_open: bool = False
    #: Unit of the number, for the range message ("seconds").
    unit: str = ""
    metavar: str | None = None
    help: str = ""
    #: For a pair: the names that set False (``--no-starttls``), one for each of ``names``.
    off_names: tuple[str, ...] = ()
    #: The config file key (``config.Settings`` field) that supplies the default, if any.
    config_key: str | None = None
    show_default: bool = True
    #: False: the quick path hands a command line with this option to typer.
    quick: bool = True
    #: The fixed set of values (shell completion, typer's completion, the help), or a function
    #: that returns them when they are read from package data (loaded only when needed).
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()

    def choice_values(self) -> tuple[str, ...]:
        """The values of ``choices`` (empty: any value)."""
        return self.choices() if callable(self.choices) else self.choices

    @property
    def positional(self) -> bool:
        return self.kind in _POSITIONAL

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every option string, the on and the off names of a pair included."""
        return (*self.names, *self.off_names)

    @property
    def has_range(self) -> bool:
        return self.min is not None or self.max is not None

    def in_range(self, value: float) -> bool:
        """Whether ``value`` is inside the declared range (NaN never is)."""
        if self.min is not None and not (value > self.min if self.min_open else value >= self.min):
            return False
        return self.max is None or value <= self.max

    def range_text(self) -> str:
        """``more than 0 and at most 3600 seconds``: the range in words."""
        parts = []
        if self.min is not None:
            parts.append(f"{'more than' if self.min_open else 'at least'} {_number(self.min)}")
        if self.max is not None:
            parts.append(f"at most {_number(self.max)}")
        return " and ".join(parts) + (f" {self.unit}" if self.unit else "")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def annotation(opt: Opt) -> Any:
    """The Python type of the parameter (what typer reads, and the args record's field type)."""
    if opt.kind == "flag":
        return bool
    if opt.kind == "count":
        return int
    if opt.kind == "pair":
        return bool if opt.default is not None else bool | None
    if opt.kind in ("multi", "arguments"):
        return types.GenericAlias(list, (opt.py_type,)) | None
    return opt.py_type if opt.default is not None else opt.py_type | None


def defaults(table: Iterable[Opt]) -> dict[str, Any]:
    """dest -> default of every entry (a fresh list for list defaults)."""
    return {o.dest: list(o.default) if isinstance(o.default, list) else o.default for o in table}


# -- the global options (before or after the subcommand name) ---------------------------------

JSON = Opt(
    "json_output",
    ("--json",),
    "flag",
    bool,
    False,
    help="Print one JSON document (schema in docs/json.md).",
)
TIMEOUT = Opt(
    "timeout",
    ("--timeout",),
    py_type=float,
    min=0,
    min_open=True,
    max=3600,
    unit="seconds",
    metavar="SECONDS",
    help="Time limit of each network step: DNS query, connect, SMTP reply (default 10).",
    config_key="timeout",
)
CONFIG = Opt(
    "config",
    ("--config",),
    py_type=Path,
    metavar="PATH",
    help="Config file (TOML) instead of the default.",
)
NO_COLOR = Opt("no_color", ("--no-color",), "flag", bool, False, help="Plain text without colours.")
VERBOSE = Opt(
    "verbose",
    ("-v", "--verbose"),
    "count",
    int,
    0,
    help="More detail; with an error, also its traceback.",
    show_default=False,
)
#: The values of ``--format`` (``runtime.FORMATS``; checked there, any case).
FORMATS = ("text", "json", "nagios", "prometheus")
FORMAT = Opt(
    "output_format",
    ("--format",),
    metavar="FORMAT",
    help="Output: text, json (= --json), nagios (plugin line and exit codes) or prometheus "
    "(text exposition); see docs/json.md.",
    choices=FORMATS,
)
#: In the order of ``runtime.apply_globals``; every subcommand takes them as its last options.
GLOBALS = (JSON, TIMEOUT, CONFIG, NO_COLOR, VERBOSE, FORMAT)


# -- options several commands share ------------------------------------------------------------

DOMAIN_FILE = Opt(
    "file",
    ("-f", "--file"),
    py_type=Path,
    metavar="FILE",
    help="Read domains from FILE ('-' for stdin), one per line; '#' starts a comment.",
)
SHARD = Opt(
    "shard",
    ("--shard",),
    metavar="K/N",
    help="Check only shard K of N of the domains (by a stable hash of each name), to spread "
    "a list over hosts; see docs/check.md.",
)
HELO = Opt(
    "helo",
    ("--helo",),
    metavar="NAME",
    help="Name sent with EHLO (default: config, else the host name when fully qualified).",
    config_key="helo",
)
PASSWORD_ENV = Opt(
    "password_env",
    ("--password-env",),
    metavar="VAR",
    help="Read the AUTH password from variable VAR.",
    quick=False,
)
PASSWORD_FILE = Opt(
    "password_file",
    ("--password-file",),
    py_type=Path,
    metavar="PATH",
    help="Read the AUTH password from a file.",
    quick=False,
)
PASSWORD = Opt(
    "password",
    ("--password",),
    metavar="VALUE",
    help="The password itself (visible to other users!).",
    quick=False,
)
#: The AUTH mechanisms ``--auth-mech`` accepts (checked by ehlo and relay-test, any case).
AUTH_MECHANISMS = ("LOGIN", "PLAIN", "CRAM-MD5")
AUTH_MECH = Opt(
    "auth_mech",
    ("--auth-mech",),
    metavar="MECH",
    help="LOGIN, PLAIN or CRAM-MD5 (default: best offered).",
    quick=False,
    choices=AUTH_MECHANISMS,
)


def profile_names() -> tuple[str, ...]:
    """The names of the built-in verb profiles (``--expect``), read from package data."""
    from mailprobe.checks.ehlo.profiles import load_profiles

    return tuple(load_profiles())


def smtp_port(dest: str, default: int | None, text: str, **more: Any) -> Opt:
    """``--port/-p/--smtp-port``: the same names and range in every command."""
    more.setdefault("metavar", "PORT")
    return Opt(
        dest, names.SMTP_PORT, py_type=int, default=default, min=1, max=65535, help=text, **more
    )


def session_timeout(text: str) -> Opt:
    """``--session-timeout SECONDS``: the same range in every command."""
    return Opt(
        "session_timeout",
        ("--session-timeout",),
        py_type=float,
        min=0,
        min_open=True,
        max=86400,
        unit="seconds",
        metavar="SECONDS",
        help=text,
        config_key="session_timeout",
    )


# -- mailprobe ehlo ----------------------------------------------------------------------------

EHLO: tuple[Opt, ...] = (
    Opt(
        "host",
        kind="argument",
        metavar="HOST",
        help="Server to probe: host name, IPv4, IPv6 (::1 or [::1]); default: host in the config.",
        config_key="host",
    ),
    smtp_port("port", None, "TCP port (default 25; 465 with --tls).", config_key="port"),
    Opt(
        "tls",
        ("--tls",),
        "flag",
        bool,
        False,
        help="Implicit TLS from the first byte (SMTPS, 465).",
    ),
    Opt("mx", ("--mx",), metavar="DOMAIN", help="Probe the preferred mail exchanger of DOMAIN."),
    Opt(
        "all_exchangers",
        ("--all",),
        "flag",
        bool,
        False,
        help="With --mx: probe every exchanger, concurrently.",
    ),
    Opt(
        "dns_server",
        names.DNS_SERVER,
        metavar="ADDR[:PORT]",
        help="DNS server for --mx (default: config, else the system resolver).",
        config_key="dns_server",
    ),
    HELO,
    Opt(
        "expect",
        ("--expect",),
        metavar="PROFILE",
        help="Compare the verbs with a built-in profile (see --list-profiles).",
        config_key="expect",
        choices=profile_names,
    ),
    Opt(
        "expect_verbs",
        ("--expect-verbs",),
        metavar="A,B,C",
        help="Compare with exactly these verbs.",
    ),
    Opt(
        "list_profiles",
        ("--list-profiles",),
        "flag",
        bool,
        False,
        help="List the built-in verb profiles and exit.",
        quick=False,
    ),
    Opt(
        "starttls",
        ("--starttls",),
        "pair",
        bool,
        None,
        off_names=("--no-starttls",),
        help="Upgrade with STARTTLS (default: when advertised); --starttls requires it.",
    ),
    Opt(
        "insecure",
        ("--insecure",),
        "flag",
        bool,
        False,
        help="Go on past a certificate that fails verification (reported).",
    ),
    Opt(
        "ca_file",
        ("--ca-file",),
        py_type=Path,
        metavar="PEM",
        help="Trust these CA certificates, not the system's.",
    ),
    Opt(
        "tls_name",
        ("--tls-name",),
        metavar="NAME",
        help="Check the certificate against NAME (default: the host; useful with an address).",
    ),
    Opt("user", ("--user",), metavar="NAME", help="Log in with AUTH.", quick=False),
    PASSWORD_ENV,
    PASSWORD_FILE,
    PASSWORD,
    AUTH_MECH,
    Opt(
        "sender",
        ("--from",),
        metavar="ADDR",
        help="MAIL FROM address (default: sender in the config).",
        config_key="sender",
    ),
    Opt(
        "recipients",
        names.RECIPIENT,
        "multi",
        metavar="ADDR",
        help="RCPT TO address; repeat for more.",
        config_key="recipient",
    ),
    Opt(
        "data",
        ("--data",),
        "flag",
        bool,
        False,
        help="Send a short test message (without it: RSET, QUIT, nothing sent).",
    ),
    Opt("subject", ("--subject",), metavar="TEXT", help="Subject of the --data message."),
    Opt("body", ("--body",), metavar="TEXT", help="Body of the --data message."),
    Opt(
        "transcript",
        ("--transcript",),
        py_type=Path,
        metavar="FILE",
        help="Also write the transcript to FILE (text).",
    ),
    session_timeout("Time limit for a whole session (default 60)."),
)

# -- mailprobe relay-test ------------------------------------------------------------------------

RELAY_TEST: tuple[Opt, ...] = (
    Opt(
        "host",
        kind="argument",
        metavar="HOST",
        help="Server to test: host name, IPv4 or IPv6 address; default: host in the config.",
        config_key="host",
    ),
    smtp_port("port", None, "TCP port (default 25).", config_key="port"),
    Opt(
        "mx",
        ("--mx",),
        metavar="DOMAIN",
        help="Test every address of every exchanger of DOMAIN.",
    ),
    Opt(
        "dns_server",
        names.DNS_SERVER,
        metavar="ADDR[:PORT]",
        help="DNS server for --mx and PTR lookups (default: config, else the system resolver).",
        config_key="dns_server",
    ),
    Opt(
        "domain",
        ("--domain",),
        metavar="DOMAIN",
        help="The server's own domain (default: from its greeting, else its PTR name).",
    ),
    Opt(
        "external",
        ("--external",),
        metavar="DOMAIN",
        help="External test domain (default example.net, or the domain of --to).",
    ),
    Opt(
        "to",
        names.RECIPIENT,
        metavar="ADDR",
        help="External recipient for the variants (a mailbox you read, needed for --send).",
    ),
    Opt(
        "sender",
        ("--from",),
        metavar="LOCAL|ADDR",
        help="Test sender: a local part (at the external domain) or a whole address.",
        config_key="sender",
    ),
    HELO,
    Opt(
        "connections",
        ("--connections", "-c"),
        py_type=int,
        default=4,
        min=1,
        max=32,
        metavar="N",
        help="Sessions used at once (spreads the variants; servers slow down after errors).",
    ),
    Opt(
        "starttls",
        ("--starttls",),
        "flag",
        bool,
        False,
        help="Use STARTTLS (when offered) on the anonymous sessions too.",
    ),
    Opt(
        "send",
        ("--send",),
        "flag",
        bool,
        False,
        help="If a variant is accepted, send one real message through it to --to (DATA).",
    ),
    Opt(
        "relay_only",
        ("--relay-only",),
        "flag",
        bool,
        False,
        help="Only the relay battery: no spoofing, catch-all or VRFY/EXPN checks.",
    ),
    Opt("user", ("--user",), metavar="NAME", help="Also check relaying after AUTH as NAME."),
    PASSWORD_ENV,
    PASSWORD_FILE,
    PASSWORD,
    AUTH_MECH,
    Opt(
        "transcript",
        ("--transcript",),
        py_type=Path,
        metavar="FILE",
        help="Write every session's transcript to FILE.",
    ),
    session_timeout("Time limit for the whole battery of one server (default 60)."),
)

# -- mailprobe mx --------------------------------------------------------------------------------

MX: tuple[Opt, ...] = (
    Opt(
        "domains",
        kind="arguments",
        metavar="DOMAIN",
        help="Domains to check (Unicode names allowed); '-' reads them from stdin.",
        show_default=False,
    ),
    DOMAIN_FILE,
    SHARD,
    Opt(
        "server",
        names.DNS_SERVER,
        "multi",
        metavar="ADDR[:PORT]",
        help="DNS server to ask (IPv6 as [::1]:53). Repeat to compare servers' answers.",
        config_key="dns_server",
        show_default=False,
    ),
    Opt("tcp", ("--tcp",), "flag", bool, False, help="Ask over TCP instead of UDP."),
    Opt(
        "doh",
        ("--doh",),
        metavar="URL",
        help="Ask a DNS-over-HTTPS server (https://HOST/dns-query).",
    ),
    Opt(
        "dnssec",
        ("--dnssec",),
        "flag",
        bool,
        False,
        help="Request DNSSEC and report whether answers were authenticated.",
    ),
    Opt(
        "connect",
        ("--connect",),
        "flag",
        bool,
        False,
        help="Open port 25 of every exchanger address and read the greeting.",
    ),
    smtp_port("smtp_port", 25, "Port for --connect.", metavar="PORT"),
    Opt(
        "concurrency",
        ("--concurrency",),
        py_type=int,
        min=1,
        max=4096,
        metavar="N",
        help="Domains checked at once in a batch (default 64).",
        config_key="concurrency",
    ),
)

# -- mailprobe check -----------------------------------------------------------------------------

CHECK: tuple[Opt, ...] = (
    Opt(
        "domains",
        kind="arguments",
        metavar="DOMAIN",
        help="Domains to check (Unicode names allowed); '-' reads them from stdin.",
        show_default=False,
    ),
    DOMAIN_FILE,
    SHARD,
    Opt(
        "server",
        names.DNS_SERVER,
        "multi",
        metavar="ADDR[:PORT]",
        help="DNS server to ask (IPv6 as [::1]:53); repeat for fallbacks.",
        config_key="dns_server",
        show_default=False,
    ),
    smtp_port("smtp_port", 25, "SMTP port of the exchangers.", metavar="PORT"),
    HELO,
    Opt(
        "expect",
        ("--expect",),
        metavar="PROFILE",
        help="Verb profile of the exchangers (default: guessed from the banner).",
        config_key="expect",
        choices=profile_names,
    ),
    Opt(
        "rcpt",
        names.RECIPIENT,
        metavar="ADDR",
        help="A recipient in the domain that must be accepted at RCPT (never DATA).",
    ),
    Opt("no_relay", ("--no-relay",), "flag", bool, False, help="Skip the relay battery."),
    Opt(
        "tls_scan",
        ("--tls-scan",),
        "flag",
        bool,
        False,
        help="Also run the full TLS enumeration of 'mailprobe tls' on each exchanger.",
    ),
    Opt(
        "no_blocklist",
        ("--no-blocklist",),
        "flag",
        bool,
        False,
        help="Skip the blocklist step (lists: config key blocklist_zones, else the default set "
        "of 'mailprobe blocklist').",
    ),
    Opt(
        "connections",
        ("--connections",),
        py_type=int,
        default=4,
        min=1,
        max=32,
        metavar="N",
        help="Connections at once per exchanger address (SMTP step and relay battery).",
    ),
    Opt(
        "connect_rate",
        ("--connect-rate",),
        py_type=int,
        min=1,
        max=6000,
        metavar="N",
        help="New connections per minute per exchanger address across the whole run "
        "(default 30; config key connect_rate).",
        config_key="connect_rate",
    ),
    Opt(
        "concurrency",
        ("--concurrency",),
        py_type=int,
        min=1,
        max=1024,
        metavar="N",
        help="Domains checked at once in a batch (default 16); connections per exchanger "
        "address stay bounded by --connections across the whole run.",
    ),
    Opt(
        "mta_sts_url",
        ("--mta-sts-url",),
        metavar="URL",
        help="Fetch the MTA-STS policy from URL instead of https://mta-sts.DOMAIN/... (tests).",
    ),
    Opt(
        "ca_file",
        ("--ca-file",),
        py_type=Path,
        metavar="PEM",
        help="Trust this CA (PEM) for STARTTLS and the MTA-STS fetch instead of the system's.",
    ),
    Opt(
        "dkim_selector",
        ("--dkim-selector",),
        "multi",
        metavar="S",
        help="Check the DKIM key at S._domainkey.DOMAIN; repeatable.",
        show_default=False,
    ),
    Opt(
        "html",
        ("--html",),
        py_type=Path,
        metavar="FILE",
        help="Also write a self-contained HTML report to FILE.",
    ),
    Opt(
        "baseline",
        ("--baseline",),
        py_type=Path,
        metavar="PREVIOUS.jsonl",
        help="Compare each domain with an earlier 'check --json' output: report what changed; "
        "exit 1 when something got worse.",
    ),
    Opt(
        "dnssec",
        ("--dnssec",),
        "pair",
        bool,
        True,
        off_names=("--no-dnssec",),
        help="Ask for DNSSEC (DO bit): DANE mismatches count only with authenticated TLSA.",
    ),
    Opt(
        "allow_private",
        ("--allow-private",),
        "flag",
        bool,
        False,
        help="Accept exchangers on private/loopback addresses (lab or internal set-ups): "
        "those findings become information.",
    ),
)

# -- mailprobe ndr -------------------------------------------------------------------------------

NDR: tuple[Opt, ...] = (
    Opt(
        "codes",
        kind="arguments",
        metavar="CODE|LINE|-",
        help="Status codes (5.1.1), reply codes (550), a reply line, or - to read a bounce "
        "from standard input.",
        show_default=False,
    ),
    Opt(
        "file",
        ("--file", "-f"),
        py_type=Path,
        metavar="PATH",
        help="Read a bounce message (.eml or text); - is stdin.",
    ),
    Opt("list_codes", ("--list",), "flag", bool, False, help="List the bundled code table."),
    Opt(
        "klass",
        ("--class",),
        py_type=int,
        min=2,
        max=5,
        metavar="2|3|4|5",
        help="With --list/--search: only this class.",
        choices=("2", "3", "4", "5"),
    ),
    Opt(
        "subject",
        ("--subject",),
        py_type=int,
        min=0,
        max=999,
        metavar="N",
        help="With --list/--search: only this subject.",
    ),
    Opt(
        "search",
        ("--search",),
        metavar="TEXT",
        help="Find entries whose code, title, meaning or causes contain TEXT.",
    ),
)

# -- mailprobe blocklist -------------------------------------------------------------------------

BLOCKLIST: tuple[Opt, ...] = (
    Opt(
        "targets",
        kind="arguments",
        metavar="TARGET",
        help="IPv4 or IPv6 addresses, or host names (their addresses, and the name on domain "
        "lists); '-' reads them from stdin.",
        show_default=False,
    ),
    Opt(
        "file",
        ("-f", "--file"),
        py_type=Path,
        metavar="FILE",
        help="Read targets from FILE ('-' for stdin), one per line; '#' starts a comment.",
    ),
    Opt(
        "mx",
        ("--mx",),
        "multi",
        metavar="DOMAIN",
        help="Every exchanger address of DOMAIN, and DOMAIN on domain lists; repeatable.",
        show_default=False,
    ),
    Opt(
        "zone",
        ("--zone",),
        "multi",
        metavar="NAME[@ADDR[:PORT]]",
        help="Ask this list instead of the default set (repeatable); @ADDR: ask that DNS "
        "server for it (a local mirror). Config key blocklist_zones.",
        config_key="blocklist_zones",
        show_default=False,
    ),
    Opt(
        "add_zone",
        ("--add-zone",),
        "multi",
        metavar="NAME[@ADDR[:PORT]]",
        help="Ask this list as well as the default (or --zone) set; repeatable.",
        show_default=False,
    ),
    Opt(
        "server",
        names.DNS_SERVER,
        "multi",
        metavar="ADDR[:PORT]",
        help="DNS server to ask (your own resolver: lists refuse public ones); repeat for "
        "fallbacks.",
        config_key="dns_server",
        show_default=False,
    ),
    Opt(
        "self_test",
        ("--self-test",),
        "pair",
        bool,
        True,
        off_names=("--no-self-test",),
        help="Ask each list for its test point first: a list that does not answer it cannot "
        "say 'not listed'.",
    ),
    Opt(
        "concurrency",
        ("--concurrency",),
        py_type=int,
        min=1,
        max=4096,
        metavar="N",
        help="Lookups in flight at once (default 256).",
    ),
    Opt(
        "list_lists",
        ("--list",),
        "flag",
        bool,
        False,
        help="Show the lists mailprobe knows, their answer codes and removal, and exit.",
    ),
)

# -- mailprobe ports -----------------------------------------------------------------------------

#: The port sets of ``ports --profile`` (``checks/ports.py`` PROFILES holds their ports).
PORT_PROFILES = ("all", "exchange", "mail")
PORTS: tuple[Opt, ...] = (
    Opt(
        "host",
        kind="argument",
        metavar="HOST",
        help="Host name or address to probe (default: config key host).",
        config_key="host",
        show_default=False,
    ),
    Opt(
        "ports",
        ("--ports",),
        metavar="LIST",
        help="Ports to probe instead of a profile: 25,587,1000-1010 (at most 1024).",
    ),
    Opt(
        "profile",
        ("--profile",),
        metavar="PROFILE",
        help="mail (25 465 587 110 995 143 993), exchange (the Exchange port table plus 587 "
        "and 465) or all (default).",
        choices=PORT_PROFILES,
    ),
    Opt(
        "expect_mx",
        ("--expect-mx",),
        "flag",
        bool,
        False,
        help="The host is a domain's exchanger: port 25 not answering is a failure.",
    ),
    Opt(
        "greeting_wait",
        ("--greeting-wait",),
        py_type=float,
        min=0,
        min_open=True,
        max=600,
        unit="seconds",
        metavar="SECONDS",
        help="How long an open port may stay silent before it is called silent (default 3, "
        "or --timeout when shorter).",
    ),
    HELO,
    Opt(
        "concurrency",
        ("--concurrency",),
        py_type=int,
        min=1,
        max=1024,
        metavar="N",
        help="Ports probed at once (default 32).",
    ),
)

# -- mailprobe tls -------------------------------------------------------------------------------

TLS: tuple[Opt, ...] = (
    Opt(
        "host",
        kind="argument",
        metavar="HOST",
        help="Server name or address (default: config key host).",
        show_default=False,
    ),
    smtp_port("port", None, "Port (default 25 with STARTTLS, 465 with --tls)."),
    Opt(
        "implicit",
        ("--tls",),
        "pair",
        bool,
        False,
        off_names=("--starttls",),
        help="Implicit TLS (port 465) instead of STARTTLS (the default).",
    ),
    Opt(
        "mx",
        ("--mx",),
        metavar="DOMAIN",
        help="Scan the best exchanger of DOMAIN (every one with --all), each address once, and "
        "say what its DANE and MTA-STS records mean for a certificate change.",
    ),
    Opt(
        "all_exchangers",
        ("--all",),
        "flag",
        bool,
        False,
        help="With --mx: scan every exchanger, concurrently.",
    ),
    Opt(
        "server",
        names.DNS_SERVER,
        "multi",
        metavar="ADDR[:PORT]",
        help="DNS server for --mx, the host's addresses and TLSA records.",
        config_key="dns_server",
        show_default=False,
    ),
    HELO,
    Opt(
        "ca_file",
        ("--ca-file",),
        py_type=Path,
        metavar="PEM",
        help="Also trust these CA certificates when validating the chain.",
    ),
    Opt(
        "connections",
        ("--connections",),
        py_type=int,
        default=5,
        min=1,
        max=32,
        metavar="N",
        help="Connections at once per server during the enumeration.",
    ),
)

# -- mailprobe queue -----------------------------------------------------------------------------

QUEUE: tuple[Opt, ...] = (
    Opt(
        "file",
        kind="argument",
        metavar="FILE|-",
        help="A queue listing: postqueue -j JSON, exim -bp or mailq output ('-' reads stdin). "
        "Without it, runs postqueue -j.",
        show_default=False,
    ),
    Opt(
        "postfix_config",
        ("--postfix-config",),
        py_type=Path,
        metavar="DIR",
        help="Postfix config directory for postqueue -j (postqueue -c DIR).",
    ),
    Opt(
        "explain",
        ("--explain",),
        metavar="QUEUE",
        help="Explain an Exchange SMTP queue by name (e.g. 'Messages awaiting directory "
        "lookup') and exit.",
    ),
    Opt(
        "old_after",
        ("--old-after",),
        py_type=float,
        default=24.0,
        min=0,
        max=8760,
        min_open=True,
        unit="hours",
        metavar="HOURS",
        help="Report messages at least this old.",
    ),
    Opt(
        "list_messages",
        ("--messages",),
        "flag",
        bool,
        False,
        help="Also list every message (the JSON output always has them).",
    ),
)

# -- mailprobe outbound --------------------------------------------------------------------------

OUTBOUND: tuple[Opt, ...] = (
    Opt(
        "to_domain",
        ("--to-domain",),
        metavar="DOMAIN",
        help="External domain whose MX and exchangers are tried (default gmail.com: this "
        "contacts the Internet).",
    ),
    Opt(
        "server",
        names.DNS_SERVER,
        "multi",
        metavar="ADDR[:PORT]",
        help="DNS server this host's mail uses (default: config, else the system resolver); "
        "its answers are compared with the system resolver's. Repeat for fallbacks.",
        config_key="dns_server",
        show_default=False,
    ),
    Opt(
        "system_server",
        ("--system-server",),
        metavar="ADDR[:PORT]",
        help="Compare with this server instead of the system resolver (/etc/resolv.conf).",
    ),
    smtp_port("port", 25, "Port tried on the exchangers."),
    Opt(
        "other_ports",
        ("--other-ports",),
        metavar="LIST",
        help="Ports tried when no exchanger answers on --port, to tell a blocked port 25 "
        "(default 587,443; 'none' for none).",
    ),
    HELO,
    Opt(
        "smarthost",
        ("--smarthost",),
        metavar="HOST[:PORT]",
        help="Also open a submission session with this relay (587 STARTTLS; 465 with --tls) "
        "up to RCPT TO; nothing is sent.",
    ),
    Opt(
        "tls",
        ("--tls",),
        "flag",
        bool,
        False,
        help="Smarthost with implicit TLS (SMTPS, 465) instead of STARTTLS.",
    ),
    Opt(
        "ca_file",
        ("--ca-file",),
        py_type=Path,
        metavar="PEM",
        help="Trust these CA certificates for the smarthost, not the system's.",
    ),
    Opt("user", ("--user",), metavar="NAME", help="Log in to the smarthost with AUTH."),
    PASSWORD_ENV,
    PASSWORD_FILE,
    PASSWORD,
    AUTH_MECH,
    Opt(
        "sender",
        ("--from",),
        metavar="ADDR",
        help="Test sender at the smarthost (default: config, else postmaster@HELO-NAME).",
        config_key="sender",
    ),
    Opt(
        "recipient",
        names.RECIPIENT,
        metavar="ADDR",
        help="Test recipient at the smarthost (default: config, else postmaster@--to-domain).",
        config_key="recipient",
    ),
    session_timeout("Time limit of the smarthost session (default 60)."),
)

# -- mailprobe log -------------------------------------------------------------------------------

LOG: tuple[Opt, ...] = (
    Opt(
        "file",
        kind="argument",
        py_type=Path,
        metavar="FILE|-",
        help="The log: Postfix or Exim main log, Exchange SMTP protocol log (CSV) or IIS SMTP "
        "log (W3C); '-' reads standard input. The format is read from the content.",
        show_default=False,
    ),
    Opt(
        "details",
        ("--details",),
        "flag",
        bool,
        False,
        help="Also list each failure (every event with -v), explained.",
    ),
    Opt(
        "follow",
        ("--follow",),
        "flag",
        bool,
        False,
        help="Keep reading as the file grows (like tail -f), showing failures as they come; "
        "Ctrl-C ends it with the summary.",
    ),
    Opt(
        "follow_seconds",
        ("--follow-seconds",),
        py_type=float,
        min=0,
        min_open=True,
        max=31_536_000,
        unit="seconds",
        metavar="SECONDS",
        help="With --follow: stop after SECONDS (default: until Ctrl-C).",
    ),
    Opt(
        "top",
        ("--top",),
        py_type=int,
        default=10,
        min=1,
        max=1000,
        metavar="N",
        help="Rows of each table of the summary.",
    ),
)

# -- mailprobe findings --------------------------------------------------------------------------

FINDINGS: tuple[Opt, ...] = (
    Opt(
        "code",
        kind="argument",
        metavar="CODE",
        help="One finding code (smtp.no-banner), or an area (smtp, tls, relay, spf ...).",
        show_default=False,
    ),
)


#: The commands built from a table (``options_typer.typer_command``), by command name.
COMMANDS: dict[str, tuple[Opt, ...]] = {
    "ndr": NDR,
    "mx": MX,
    "ehlo": EHLO,
    "relay-test": RELAY_TEST,
    "check": CHECK,
    "blocklist": BLOCKLIST,
    "tls": TLS,
    "ports": PORTS,
    "outbound": OUTBOUND,
    "queue": QUEUE,
    "log": LOG,
    "findings": FINDINGS,
}
#: The commands with a typer-free quick path that parses by their table (``parse_quick``).
QUICK: tuple[str, ...] = ("ehlo",)


# -- the typer-free parser of the quick paths ---------------------------------------------------


def parse_quick(
    args: Sequence[str], command: str, table: Sequence[Opt], globals_: Sequence[Opt] = GLOBALS
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Parse ``mailprobe [globals] COMMAND [options and arguments]`` by the tables, or None.

    Returns (dest -> value for every entry of ``table``, the same for ``globals_``), defaults
    filled in. Understood: the global options anywhere, the command's options (those with
    ``quick``) after the command name, as ``--opt value``, ``--opt=value`` or ``-o value``,
    counted ``-vv``, and the positional arguments. Anything else returns None, so that typer
    parses the line and reports the error: an unknown or non-quick option, ``--help``, ``--``,
    a value that starts with ``-``, a value typer would refuse or might read differently
    (numbers: ASCII only), a number out of range, too many arguments.
    """
    before = _by_name(globals_)
    after = {**before, **_by_name(o for o in table if o.quick and not o.positional)}
    global_dests = {o.dest for o in globals_}
    values = defaults(table)
    global_values = defaults(globals_)
    positional: list[str] = []
    seen_command = False
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        known = after if seen_command else before
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        hit = known.get(name)
        if hit is None and _is_cluster(arg, known):
            hit, name = known[arg[:2]], arg[:2]
        if hit is None:
            if arg.startswith("-") and arg != "-":
                return None
            if seen_command:
                positional.append(arg)
            elif arg == command:
                seen_command = True
            else:
                return None
            continue
        opt, on = hit
        store = global_values if opt.dest in global_dests else values
        if opt.kind in ("flag", "pair", "count"):
            if eq:
                return None
            if opt.kind == "count":
                store[opt.dest] += len(arg) - 1 if not arg.startswith("--") else 1
            else:
                store[opt.dest] = on
            continue
        if eq:
            text = inline
        elif index < len(args) and not args[index].startswith("-"):
            text = args[index]
            index += 1
        else:
            return None
        value = _convert(opt, text)
        if value is None:
            return None
        if opt.kind == "multi":
            store[opt.dest] = [*(store[opt.dest] or ()), value]
        else:
            store[opt.dest] = value
    if not seen_command or not _place(positional, table, values):
        return None
    return values, global_values


def _by_name(table: Iterable[Opt]) -> dict[str, tuple[Opt, bool]]:
    """Option string -> (entry, the value a flag name sets)."""
    found: dict[str, tuple[Opt, bool]] = {}
    for opt in table:
        found.update(dict.fromkeys(opt.names, (opt, True)))
        found.update(dict.fromkeys(opt.off_names, (opt, False)))
    return found


def _is_cluster(arg: str, known: Mapping[str, tuple[Opt, bool]]) -> bool:
    """``-vv``: a short counted option repeated."""
    head = arg[:2]
    return (
        len(arg) > 2
        and not arg.startswith("--")
        and head in known
        and known[head][0].kind == "count"
        and arg[1:] == arg[1] * (len(arg) - 1)
    )


def _convert(opt: Opt, text: str) -> Any:
    """The value as typer would give it, or None where typer may disagree or must complain."""
    if opt.py_type in (int, float):
        if not text.isascii():  # int() reads other scripts' digits; typer does not
            return None
        try:
            number = opt.py_type(text)
        except ValueError:
            return None
        return number if opt.in_range(number) else None
    return opt.py_type(text)


def _place(positional: list[str], table: Sequence[Opt], values: dict[str, Any]) -> bool:
    """Assign the positional arguments in order; False when they do not fit the table."""
    for opt in (o for o in table if o.positional):
        taken = positional if opt.kind == "arguments" else positional[:1]
        del positional[: len(taken)]
        if taken:
            converted = [_convert(opt, text) for text in taken]
            if None in converted:
                return False
            values[opt.dest] = converted if opt.kind == "arguments" else converted[0]
    return not positional
