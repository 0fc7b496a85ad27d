"""Hypothesis over the command lines of every command: exit 0-3, never an internal error.

Each example is a command line built from the command's option table (``cli/options.py``):
some options with values drawn from pools of good and hostile values (empty labels, 64-character
labels, lone surrogates, scoped IPv6, devices, named pipes, missing files), run in-process.

Nothing outside 127.0.0.0/8 is ever contacted: the pools only hold targets that fail before
the network (bad names), loopback addresses on port 1 (nothing listens) and ``.invalid`` names
asked of a DNS server at 127.0.0.1:1; every run also ends with ``--timeout 0.5`` and, for the
SMTP commands, ``-p 1``. A guard around each run refuses (and records) any connection, datagram
or name lookup that is not for 127.0.0.0/8, and the test fails if there was one.
"""

from __future__ import annotations

import contextlib
import errno
import io
import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailprobe.cli import options
from mailprobe.cli.app import main
from mailprobe.cli.options import Opt

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
LONG_LABEL = "a" * 64 + ".invalid"

# -- the guard ------------------------------------------------------------------------------------


def _loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        return ipaddress.ip_address(str(host)) in LOOPBACK
    except ValueError:
        return False


@contextlib.contextmanager
def loopback_only() -> Iterator[list[object]]:
    """Refuse every connect, sendto and getaddrinfo that is not for 127.0.0.0/8."""
    attempts: list[object] = []
    real_getaddrinfo = socket.getaddrinfo
    real = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex", "sendto")}

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return
        host = address[0] if isinstance(address, tuple) else address
        if not _loopback(host):
            attempts.append(address)
            raise OSError(errno.ENETUNREACH, "blocked by the test (not 127.0.0.0/8)")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host):
            attempts.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "blocked by the test (not 127.0.0.0/8)")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return real["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return real["connect_ex"](self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        check(self, args[-1])
        return real["sendto"](self, data, *args)

    patched = {"connect": connect, "connect_ex": connect_ex, "sendto": sendto}
    setattr(socket, "getaddrinfo", getaddrinfo)  # noqa: B010 - patched for the run only
    for name, method in patched.items():
        setattr(socket.socket, name, method)
    try:
        yield attempts
    finally:
        setattr(socket, "getaddrinfo", real_getaddrinfo)  # noqa: B010
        for name, method in real.items():
            setattr(socket.socket, name, method)


# -- value pools ----------------------------------------------------------------------------------

#: Hosts to connect to: loopback, or names refused before any lookup (a valid name would be
#: looked up with the system resolver, which is not loopback-only).
HOSTS = [
    "127.0.0.1",
    "[127.0.0.1]",
    "127.0.0.2",
    "a..b",
    LONG_LABEL,
    "",
    " ",
    "a b",
    ".",
    "..",
    "\udcff",
    "x\udce9.invalid",
    "fe80::1%lo",
    "[fe80::1%lo]",
    "[127.0.0.1",
    "127.0.0.1:25",
    "a\r\nb",
    "a" * 300,
]
#: Domains: only ever asked of the DNS server at 127.0.0.1:1.
DOMAINS = [
    "x.invalid",
    "x.invalid.",
    "bücher.invalid",
    "xn--bcher-kva.invalid",
    "xn--zz.invalid",
    "a..b",
    LONG_LABEL,
    "",
    ".",
    "-a.invalid",
    "127.0.0.1",
    "\udcff.invalid",
    "a b",
    "a" * 300,
    "x.invalid\u3002y",
]
DNS_SERVERS = [
    "127.0.0.1:1",
    "127.0.0.2:1",
    "fe80::1%lo",
    "[fe80::1%lo]:53",
    "[127.0.0.1]:1",
    "127.0.0.1:0",
    "127.0.0.1:99999",
    "not-an-address",
    "",
    "\udcff",
]
URLS = ["https://127.0.0.1:1/dns-query", "http://127.0.0.1:1/q", "ftp://x", "", "https://"]
URLS += ["https://a..b/dns-query", f"https://{LONG_LABEL}/q", "https://[fe80::1%25lo]/q"]
ADDRESSES = [
    "a@x.invalid",
    "<a@x.invalid>",
    "postmaster",
    "",
    "a b@x.invalid",
    "\udcff@x.invalid",
    "a@a..b",
    "a\r\n@x.invalid",
    "@",
    "a@",
]
TEXT = ["x", "", " ", "\udcff", "a\r\nb", "é", "PLAIN", "LOGIN", "postfix", "nope", "a,b", ",,"]
NUMBERS = ["1", "0", "-1", "x", "0.25", "1e9", "nan", "inf", "٣", "65536", "4"]
NDR_CODES = ["5.1.1", "550", "4.2.2", "6.1.1", "550 5.1.1 <a@x.invalid>: unknown", "x", "-"]
FINDING_CODES = ["smtp", "smtp.no-banner", "relay", "nope", "", "\udcff"]

#: Which pool each option (by its destination name) draws from; see ``values``.
POOLS: dict[str, list[str]] = {
    "host": HOSTS,
    "tls_name": [*HOSTS, "x.invalid"],
    "helo": [*HOSTS, "probe.invalid", "[127.0.0.1]"],
    "mx": DOMAINS,
    "domains": [*DOMAINS, "-"],
    "domain": DOMAINS,
    "external": DOMAINS,
    "to_domain": DOMAINS,
    "smarthost": HOSTS,
    "system_server": DNS_SERVERS,
    "server": DNS_SERVERS,
    "dns_server": DNS_SERVERS,
    "doh": URLS,
    "mta_sts_url": URLS,
    "sender": ADDRESSES,
    "to": ADDRESSES,
    "recipients": ADDRESSES,
    "rcpt": ADDRESSES,
    "password_env": ["HOME", "MAILPROBE_FUZZ_UNSET", "", "\udcff"],
    "codes": NDR_CODES,
    "code": FINDING_CODES,
    "dkim_selector": ["s1", "", "a b", "a/b", "\udcff", "x" * 70],
    "expect": ["postfix", "exchange2010", "nope", ""],
}
#: Good values, drawn half of the time so that runs also get past the checks of the input.
GOOD: dict[str, list[str]] = {
    "host": ["127.0.0.1", "[127.0.0.1]", "127.0.0.2"],
    "tls_name": ["x.invalid"],
    "helo": ["probe.invalid", "[127.0.0.1]"],
    "mx": ["x.invalid", "bücher.invalid"],
    "domains": ["x.invalid", "bücher.invalid", "x.invalid."],
    "domain": ["x.invalid"],
    "external": ["x.invalid"],
    "to_domain": ["x.invalid"],
    "smarthost": ["127.0.0.1:1", "127.0.0.1"],
    "system_server": ["127.0.0.1:1"],
    "server": ["127.0.0.1:1", "127.0.0.2:1"],
    "dns_server": ["127.0.0.1:1"],
    "doh": ["https://127.0.0.1:1/dns-query"],
    "mta_sts_url": ["https://127.0.0.1:1/.well-known/mta-sts.txt"],
    "sender": ["a@x.invalid"],
    "to": ["a@x.invalid"],
    "recipients": ["a@x.invalid", "<b@x.invalid>"],
    "rcpt": ["a@x.invalid"],
    "codes": ["5.1.1", "550"],
    "code": ["smtp", "smtp.no-banner"],
    "dkim_selector": ["s1"],
    "expect": ["postfix"],
}
GOOD_NUMBERS = ["1", "4", "0.25"]
GOOD_INPUT_FILES = ["list.txt", "good.toml", "-"]
GOOD_OUTPUT_FILES = ["out.txt"]
GOOD_TEXT = ["x", "PLAIN"]

#: Paths read (configs, lists, passwords, CA files) and written (transcripts, reports).
INPUT_FILES = ["missing", "directory", "/dev/zero", "/dev/null", "fifo", "empty.pem", "list.txt"]
INPUT_FILES += ["deep.toml", "bad-helo.toml", "good.toml", "latin1.txt", "-", "", "d\udce9"]
OUTPUT_FILES = ["out.txt", "directory", "no/such/dir/out.txt", "/dev/null", ""]
OUTPUTS = {"transcript", "html"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fuzz")
    (base / "directory").mkdir()
    (base / "empty.pem").write_text("no certificate\n")
    (base / "list.txt").write_text("x.invalid\n# comment\na..b\n")
    (base / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    (base / "bad-helo.toml").write_text('helo = "a b"\n')
    (base / "good.toml").write_text('timeout = 0.5\nport = 1\ndns_server = "127.0.0.1:1"\n')
    (base / "latin1.txt").write_bytes(b"caf\xe9\n")
    if hasattr(os, "mkfifo"):
        os.mkfifo(base / "fifo")
    return base


def values(opt: Opt, base: Path) -> st.SearchStrategy[str]:
    """Values for one option or positional argument: a good one half of the time."""
    if opt.py_type is Path or opt.dest == "file":  # ``file``: the domain list of mx/check
        output = opt.dest in OUTPUTS
        good, every = (
            (GOOD_OUTPUT_FILES, OUTPUT_FILES) if output else (GOOD_INPUT_FILES, INPUT_FILES)
        )
        return _either(good, every).map(lambda n: _path(base, n))
    if opt.py_type in (int, float):
        return _either(GOOD_NUMBERS, NUMBERS)
    return _either(GOOD.get(opt.dest, GOOD_TEXT), POOLS.get(opt.dest, TEXT))


def _either(good: list[str], every: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(good), st.sampled_from(every))


def _path(base: Path, name: str) -> str:
    return name if name in ("-", "") or name.startswith("/dev/") else str(base / name)


def option_words(opt: Opt, base: Path) -> st.SearchStrategy[list[str]]:
    if opt.kind in ("flag", "count"):
        return st.sampled_from(opt.names).map(lambda name: [name])
    if opt.kind == "pair":
        return st.sampled_from(opt.all_names).map(lambda name: [name])
    return st.tuples(st.sampled_from(opt.names), values(opt, base)).map(list)


#: Appended to every command line (a value given last wins): loopback-only, quick failures.
SAFETY = {
    "ndr": ["--timeout", "0.5"],
    "findings": ["--timeout", "0.5"],
    "mx": ["--server", "127.0.0.1:1", "--timeout", "0.5"],
    "check": ["--server", "127.0.0.1:1", "--timeout", "0.5"],
    "blocklist": ["--server", "127.0.0.1:1", "--timeout", "0.5"],
    "tls": ["-p", "1", "--server", "127.0.0.1:1", "--timeout", "0.5"],
    "log": ["--follow-seconds", "0.2"],  # no network; a drawn --follow ends after 0.2 s
    "ports": ["--ports", "1", "--timeout", "0.5"],
    "queue": ["--postfix-config", "/nonexistent/mailprobe-fuzz", "--timeout", "0.5"],
    "outbound": [
        "-p", "1", "--other-ports", "1", "--server", "127.0.0.1:1",
        "--system-server", "127.0.0.1:1", "--timeout", "0.5", "--session-timeout", "5",
    ],
    "ehlo": ["-p", "1", "--timeout", "0.5", "--session-timeout", "5"],
    "relay-test": [
        "-p", "1", "--server", "127.0.0.1:1", "--timeout", "0.5", "--session-timeout", "5",
    ],
}  # fmt: skip


def command_lines(command: str, base: Path) -> st.SearchStrategy[list[str]]:
    table = options.COMMANDS[command]
    named = [o for o in (*table, *options.GLOBALS) if not o.positional and o.dest != "timeout"]
    positional = [o for o in table if o.positional]

    @st.composite
    def build(draw: st.DrawFn) -> list[str]:
        words = [command]
        for opt in positional:
            count = draw(st.integers(0, 2 if opt.kind == "arguments" else 1))
            words += [draw(values(opt, base)) for _ in range(count)]
        for opt in draw(st.lists(st.sampled_from(named), max_size=5)):
            words += draw(option_words(opt, base))
        words += SAFETY[command]
        if command == "ehlo" and "--mx" in words:
            words += ["--server", "127.0.0.1:1"]  # --mx asks this server, never the system's
        return words

    return build()


@contextlib.contextmanager
def captured_streams() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin = io.TextIOWrapper(io.BytesIO(b"x.invalid\n550 5.1.1 unknown user\n"))
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("command", sorted(options.COMMANDS))
def test_every_command_line_ends_in_a_known_exit(command: str, files: Path) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(argv=command_lines(command, files))
    def run(argv: list[str]) -> None:
        with loopback_only() as attempts, captured_streams() as (out, err):
            code = main(argv)
        stderr, stdout = err.getvalue(), out.getvalue()
        assert attempts == [], f"{argv}: contacted {attempts}"
        assert code in (0, 1, 2, 3), (argv, code, stderr)
        assert "internal error" not in stderr, (argv, stderr)
        if not any(word in ("-v", "--verbose") for word in argv):
            assert "Traceback" not in stderr + stdout, (argv, stderr)
        if code == 2:
            assert stderr.count("mailprobe: error: ") == 1, (argv, stderr)

    run()
