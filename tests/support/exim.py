"""Private Exim instances on loopback, as pytest fixtures.

The binary is Debian's ``exim4-daemon-light`` unpacked (``apt-get download`` + ``dpkg -x``,
never installed: it conflicts with postfix) by scripts/install-test-mtas.sh into
``/opt/mailprobe-test/exim`` (``$MAILPROBE_TEST_MTAS/exim``), with the library packages it
needs that are not installed (libidn12) beside it, found through ``LD_LIBRARY_PATH``. It is
built for the user ``Debian-exim``, which the script creates.

Each instance has its own directory (``/tmp/mailprobe-exim-<mode>-XXXX/``, mode 0755)::

    BASE/exim.conf     the configuration (``exim -C BASE/exim.conf``; root may use any -C file)
    BASE/spool/        spool_directory (owned by Debian-exim)
    BASE/log/mainlog   log_file_path = BASE/log/%slog (also rejectlog, paniclog)
    BASE/process.out   the daemon's stdout/stderr

It runs as ``exim -C BASE/exim.conf -bdf`` (daemon in the foreground, no queue runner),
listening on ``local_interfaces = ADDRESS`` and ``daemon_smtp_ports = PORT``.

No message can leave the machine: the configuration has no smtp transport and no router for
other domains; ``queue_only`` (and no queue runner) keeps every accepted message in the spool,
and the DATA ACL freezes it (``control = freeze/no_tell``), where :meth:`queued_messages` sees
it (``exim -bp``).

Fixtures: ``exim_factory`` (session), ``exim_closed`` (127.0.9.1), ``exim_open`` (127.0.9.2),
``exim_catchall`` (127.0.9.3, mode own-catchall), ``exim_data_decides`` (127.0.9.4); all
session-scoped, on a free port, domain own.test. All skip when the unpacked binary is missing.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.mta import (
    KNOWN_USERS,
    MODES,
    OWN_DOMAIN,
    OWN_HOSTNAME,
    TEST_MTAS_ROOT,
    MtaInstance,
    QueuedMessage,
    claim_port,
    make_base,
    run,
)

EXIM_ROOT = TEST_MTAS_ROOT / "exim"
EXIM = EXIM_ROOT / "usr" / "sbin" / "exim4"
EXIM_USER = "Debian-exim"

ADDRESSES = {
    "closed": "127.0.9.1",
    "open": "127.0.9.2",
    "own-catchall": "127.0.9.3",
    "data-decides": "127.0.9.4",
}

# Reply texts of the configuration, for tests to match on.
RELAY_DENIED = "relay not permitted"
DATA_DENIED = "relay not permitted: message refused at DATA"

# The RCPT ACL of each mode (after a logwrite of every RCPT, so a test can see that a RCPT
# arrived even when no message follows). closed and own-catchall share it: the router decides
# which local parts exist (``mailboxes``: KNOWN_USERS, or any for own-catchall), and an unknown
# one gets Exim's own "550 Unrouteable address".
_CLOSED_RCPT = f"""\
  deny    domains = +local_domains
          !verify = recipient
  accept  domains = +local_domains
  deny    message = {RELAY_DENIED}
"""
_RCPT_ACLS = {
    "closed": _CLOSED_RCPT,
    "open": "  accept\n",
    "own-catchall": _CLOSED_RCPT,
    "data-decides": """\
  warn    domains = ! +local_domains
          set acl_m_relay = yes
  accept
""",
}

_PREDATA_ACLS = {
    "data-decides": f"""\
  deny    condition = ${{if eq{{$acl_m_relay}}{{yes}}}}
          message = {DATA_DENIED}
  accept
""",
}

_CONFIG = """\
# Private Exim instance of mailprobe's tests (tests/support/exim.py), mode {mode}.
# Nothing can leave: no smtp transport, no router for other domains, no queue runner,
# queue_only, and every message accepted after DATA is frozen.
exim_path = {exim}
keep_environment = LD_LIBRARY_PATH
primary_hostname = {hostname}
qualify_domain = {domain}
domainlist local_domains = {domain}
spool_directory = {base}/spool
log_file_path = {base}/log/%slog
pid_file_path = {base}/exim.pid
local_interfaces = <; {address}
daemon_smtp_ports = {port}
smtp_banner = $smtp_active_hostname ESMTP Exim $version_number mailprobe-test {mode}
tls_advertise_hosts =
host_lookup =
rfc1413_hosts =
queue_only = true
log_selector = +smtp_connection +smtp_no_mail +received_recipients
acl_smtp_rcpt = acl_rcpt
acl_smtp_predata = acl_predata
acl_smtp_data = acl_data

begin acl

acl_rcpt:
  warn    logwrite = RCPT <$local_part@$domain> from <$sender_address>
{rcpt_acl}
acl_predata:
{predata_acl}
acl_data:
  warn    control = freeze/no_tell
  accept

begin routers

mailboxes:
  driver = accept
  domains = +local_domains
{local_parts}  transport = nowhere

begin transports

nowhere:
  driver = appendfile
  file = /dev/null
  user = {user}
"""


def exim_library_path() -> str:
    """LD_LIBRARY_PATH for the unpacked binary (the library dirs of the unpacked packages)."""
    dirs = [
        str(path)
        for parent in (EXIM_ROOT / "usr" / "lib", EXIM_ROOT / "lib")
        if parent.is_dir()
        for path in sorted(parent.glob("*-linux-gnu"))
    ]
    return ":".join(dirs)


def exim_missing() -> str | None:
    """Why the Exim fixtures cannot run here, or None when they can."""
    if not EXIM.exists():
        return f"{EXIM} is missing: run scripts/install-test-mtas.sh (setup-test-env.sh does)"
    try:
        pwd.getpwnam(EXIM_USER)
    except KeyError:
        return f"the user {EXIM_USER} is missing: run scripts/install-test-mtas.sh"
    if os.geteuid() != 0:
        return "the Exim fixtures need root (exim -C with a private configuration)"
    return None


def exim_available() -> bool:
    """True when the unpacked Exim can be run by these fixtures."""
    return exim_missing() is None


@dataclass
class EximInstance(MtaInstance):
    """One private Exim daemon; see the module docstring."""

    @property
    def config(self) -> Path:
        """The configuration file (``-C``)."""
        return self.base / "exim.conf"

    @property
    def spool(self) -> Path:
        """spool_directory."""
        return self.base / "spool"

    @property
    def mainlog(self) -> Path:
        """The main log."""
        return self.base / "log" / "mainlog"

    def environment(self) -> Mapping[str, str]:
        return {"LD_LIBRARY_PATH": exim_library_path()}

    def command(self) -> list[str]:
        return [str(EXIM), "-C", str(self.config), "-bdf"]

    def exim(self, *args: str, timeout: float = 30.0) -> str:
        """Run ``exim -C CONFIG ARGS...`` and return its stdout (raises on failure)."""
        result = run([str(EXIM), "-C", str(self.config), *args], self.environment(), timeout)
        if result.returncode != 0:
            raise RuntimeError(f"exim {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def write_config(self) -> None:
        """Write exim.conf for the instance's mode."""
        local_parts = ""
        if self.mode != "own-catchall":
            local_parts = f"  local_parts = {' : '.join(self.known_users)}\n"
        text = _CONFIG.format(
            mode=self.mode,
            exim=EXIM,
            hostname=self.hostname,
            domain=self.domain,
            base=self.base,
            address=self.address,
            port=self.port,
            rcpt_acl=_RCPT_ACLS[self.mode],
            predata_acl=_PREDATA_ACLS.get(self.mode, "  accept\n"),
            local_parts=local_parts,
            user=EXIM_USER,
        )
        self.config.write_text(text)

    def log_text(self) -> str:
        """The main log ('' before anything was logged)."""
        try:
            return self.mainlog.read_text(errors="replace")
        except OSError:
            return ""

    def queue_count(self) -> int:
        """``exim -bpc``: how many messages are in the spool."""
        return int(self.exim("-bpc").strip() or 0)

    def queued_messages(self) -> list[QueuedMessage]:
        """Every message in the spool, from ``exim -bp``."""
        return parse_queue_listing(self.exim("-bp"))

    def deliveries(self) -> list[str]:
        """Main log lines of delivery attempts (``=>``, ``->``, ``>>``, ``*>``, ``**``,
        ``==``): none may ever appear."""
        pattern = re.compile(r"^\S+ \S+ \S+ (=>|->|>>|\*>|\*\*|==) ", re.M)
        return [m.group(0) for m in pattern.finditer(self.log_text())]


_QUEUE_HEADER = re.compile(
    r"^\s*\d+[smhdw]\s+\S+\s+(?P<id>[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4})\s+"
    r"<(?P<sender>[^>]*)>(?P<frozen>\s+\*\*\* frozen \*\*\*)?"
)


def parse_queue_listing(text: str) -> list[QueuedMessage]:
    """Parse ``exim -bp`` output (header line per message, then indented recipients; ``D``
    before a recipient marks it delivered)."""
    messages: list[QueuedMessage] = []
    current: dict[str, object] | None = None
    recipients: list[str] = []

    def flush() -> None:
        if current is not None:
            messages.append(
                QueuedMessage(
                    id=str(current["id"]),
                    sender=str(current["sender"]),
                    recipients=tuple(recipients),
                    state=str(current["state"]),
                )
            )

    for line in text.splitlines():
        header = _QUEUE_HEADER.match(line)
        if header:
            flush()
            current = {
                "id": header["id"],
                "sender": header["sender"],
                "state": "frozen" if header["frozen"] else "queued",
            }
            recipients = []
        elif line.strip() and current is not None:
            recipients.append(line.strip().removeprefix("D ").strip())
    flush()
    return messages


class EximFactory:
    """Creates, starts and finally stops private Exim instances (see ``exim_factory``)."""

    def __init__(self) -> None:
        self.instances: list[EximInstance] = []

    def __call__(
        self,
        mode: str,
        address: str | None = None,
        *,
        domain: str = OWN_DOMAIN,
        hostname: str = OWN_HOSTNAME,
        known_users: tuple[str, ...] = KNOWN_USERS,
        start: bool = True,
    ) -> EximInstance:
        """Create (and by default start) an instance in ``mode`` (one of ``MODES``)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        missing = exim_missing()
        if missing is not None:
            pytest.skip(missing)
        address = address or ADDRESSES[mode]
        port, port_lock = claim_port(address)
        base = make_base(f"mailprobe-exim-{mode}-")
        instance = EximInstance(
            mta="exim",
            mode=mode,
            address=address,
            port=port,
            base=base,
            domain=domain,
            hostname=hostname,
            known_users=known_users,
            port_lock=port_lock,
        )
        user = pwd.getpwnam(EXIM_USER)
        for directory in (instance.spool, instance.mainlog.parent):
            directory.mkdir()
            os.chown(directory, user.pw_uid, user.pw_gid)
        instance.write_config()
        self.instances.append(instance)
        if start:
            instance.start()
        return instance

    def close(self) -> None:
        """Stop every instance, delete its files, release its port."""
        for instance in self.instances:
            instance.stop()
            shutil.rmtree(instance.base, ignore_errors=True)
            if instance.port_lock is not None:
                instance.port_lock.close()
        self.instances.clear()


@pytest.fixture(scope="session")
def exim_factory() -> Iterator[EximFactory]:
    """Factory ``exim_factory(mode, address=None, *, domain="own.test",
    hostname="mx.own.test", known_users=("postmaster", "abuse"), start=True) ->
    EximInstance``. Session-scoped; skips when the unpacked Exim is missing."""
    factory = EximFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def exim_closed(exim_factory: EximFactory) -> EximInstance:
    """Exim on 127.0.9.1, mode closed."""
    return exim_factory("closed")


@pytest.fixture(scope="session")
def exim_open(exim_factory: EximFactory) -> EximInstance:
    """Exim on 127.0.9.2, mode open (relays for anyone, freezes everything)."""
    return exim_factory("open")


@pytest.fixture(scope="session")
def exim_catchall(exim_factory: EximFactory) -> EximInstance:
    """Exim on 127.0.9.3, mode own-catchall."""
    return exim_factory("own-catchall")


@pytest.fixture(scope="session")
def exim_data_decides(exim_factory: EximFactory) -> EximInstance:
    """Exim on 127.0.9.4, mode data-decides (RCPT always 250, DATA refused when relaying)."""
    return exim_factory("data-decides")
