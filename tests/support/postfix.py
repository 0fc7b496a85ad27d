"""Private Postfix instances on loopback, as pytest fixtures.

Each instance has its own directory tree (made with ``tempfile.mkdtemp``, mode 0755 so that the
unprivileged ``postfix`` user can traverse it)::

    BASE/etc/main.cf, master.cf   the instance's configuration (``postfix -c BASE/etc``)
    BASE/queue/                   queue_directory
    BASE/data/                    data_directory (owned by postfix)
    BASE/maillog                  maillog_file (postlogd service, no syslog needed)
    BASE/tls/, BASE/etc/sasl/     certificate/key copies; Cyrus SASL smtpd.conf + sasldb2

Postfix refuses an ``inet_interfaces`` address that is not configured on an interface, and the
127.0.2.x/127.0.3.x addresses are only routed (127.0.0.0/8 on ``lo``), not configured. So
``inet_interfaces = all`` and the master.cf ``smtp`` service listens on ``ADDRESS:PORT`` only;
``proxy_interfaces = ADDRESS`` makes Postfix treat ``[ADDRESS]`` as one of its own addresses.

No message can leave the machine: every transport (default, relay, local, virtual) is
``discard:``, and mail accepted over SMTP is put on the hold queue (``smtpd_end_of_data_restrictions
= check_client_access static:HOLD``), where :meth:`PostfixInstance.queued_messages` sees it.

The config dirs are listed in ``alternate_config_directories`` of the default
``/etc/postfix/main.cf`` (created minimal if missing) under a file lock, and removed at teardown.
When the requested port is already taken (another test session on the same machine holds its
lock file in /tmp/mailprobe-postfix-ports/, or anything listens there), the instance listens on
a free port of the same address instead: always use ``instance.port``.

Fixtures: ``postfix_factory`` (session), ``postfix_closed``, ``postfix_open``, ``postfix_tls``,
``postfix_plain`` (session). All skip when /usr/sbin/postfix is missing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # a runtime import would import the certs plugin before pytest registers it
    from tests.support.certs import ServerCert

POSTFIX = Path("/usr/sbin/postfix")
DEFAULT_MAIN_CF = Path("/etc/postfix/main.cf")
_LOCK_FILE = Path("/tmp/mailprobe-postfix-main-cf.lock")
_PORT_LOCK_DIR = Path("/tmp/mailprobe-postfix-ports")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

# mynetworks of the closed instance: a TEST-NET-2 host no test ever connects from. Tests connect
# from 127.0.0.1 (the kernel's source address for any 127.x destination), so a mynetworks that
# contained 127.0.0.0/8 (Postfix's default mynetworks_style=host/subnet result) would let every
# test relay. An explicit unrelated /32 keeps the client outside, with nothing else changed.
CLOSED_MYNETWORKS = "198.51.100.1/32"

SASL_USER = "alice"
SASL_PASSWORD = "Tr0ub4dor&3-s3cret"  # distinctive, so redaction tests can grep for it

_MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix_available() -> bool:
    """True when the Postfix binaries are installed."""
    return POSTFIX.exists()


def _port_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def _claim_port(address: str, port: int) -> tuple[int, IO[str]]:
    """Claim ``address:port`` (or, if taken, a free port) for this process.

    A port is claimed by holding an exclusive flock on a per-address:port lock file for the
    instance's lifetime, so concurrent test sessions never configure two instances on one port
    (the loser's master would fail to bind while the winner answered its banner probe).
    """
    _PORT_LOCK_DIR.mkdir(exist_ok=True)
    candidates = [port] + [_free_port(address) for _ in range(20)]
    for candidate in candidates:
        lock = (_PORT_LOCK_DIR / f"{address}-{candidate}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        if _port_free(address, candidate):
            return candidate, lock
        lock.close()  # closing releases the flock
    raise RuntimeError(f"no free port on {address} for a Postfix instance")


@contextlib.contextmanager
def _default_main_cf_lock() -> Iterator[None]:
    with _LOCK_FILE.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _edit_alternate_dirs(edit: Callable[[list[str]], list[str]]) -> None:
    """Rewrite alternate_config_directories of the default main.cf (created if missing)."""
    with _default_main_cf_lock():
        DEFAULT_MAIN_CF.parent.mkdir(parents=True, exist_ok=True)
        if not DEFAULT_MAIN_CF.exists():
            DEFAULT_MAIN_CF.write_text(
                "# Minimal default Postfix configuration, created by mailprobe's test fixtures\n"
                "# (tests/support/postfix.py) so that private instances may be started.\n"
                "compatibility_level = 3.6\n"
            )
        text = DEFAULT_MAIN_CF.read_text()
        pattern = re.compile(r"^alternate_config_directories\s*=(.*(?:\n[ \t]+.*)*)", re.M)
        match = pattern.search(text)
        current = match.group(1).replace(",", " ").split() if match else []
        wanted = edit(current)
        line = "alternate_config_directories = " + " ".join(wanted) if wanted else ""
        if match:
            text = text[: match.start()] + line + text[match.end() :]
        elif line:
            text = text.rstrip("\n") + "\n" + line + "\n"
        DEFAULT_MAIN_CF.write_text(text.rstrip("\n") + "\n")


def _run(args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class PostfixInstance:
    """One private Postfix instance; see the module docstring for the layout."""

    name: str
    address: str
    port: int
    base: Path
    domain: str
    hostname: str
    main_cf: dict[str, str]
    tls_cert: ServerCert | None = None
    sasl_users: dict[str, str] = field(default_factory=dict)
    running: bool = False
    port_lock: IO[str] | None = field(default=None, repr=False)

    @property
    def config_dir(self) -> Path:
        """The instance's config directory (``postfix -c`` argument)."""
        return self.base / "etc"

    @property
    def queue_dir(self) -> Path:
        """The instance's queue_directory."""
        return self.base / "queue"

    @property
    def data_dir(self) -> Path:
        """The instance's data_directory."""
        return self.base / "data"

    @property
    def maillog(self) -> Path:
        """The instance's maillog_file."""
        return self.base / "maillog"

    @property
    def sasl_user(self) -> str | None:
        """The first SASL user name (``alice`` on postfix_tls), or None without SASL."""
        return next(iter(self.sasl_users), None)

    @property
    def sasl_password(self) -> str | None:
        """The first SASL user's password, or None without SASL."""
        user = self.sasl_user
        return None if user is None else self.sasl_users[user]

    def write_config(self) -> None:
        """Write main.cf and master.cf into the config dir."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{key} = {value}" for key, value in self.main_cf.items()]
        (self.config_dir / "main.cf").write_text("\n".join(lines) + "\n")
        listen = f"{self.address}:{self.port}"
        (self.config_dir / "master.cf").write_text(_MASTER_CF.format(listen=listen))

    def postfix(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``postfix -c CONFIG_DIR ARGS...``."""
        return _run([str(POSTFIX), "-c", str(self.config_dir), *args], timeout=timeout)

    def postconf(self, parameter: str) -> str:
        """The effective value of a main.cf parameter (``postconf -c DIR -h``)."""
        result = _run(["postconf", "-c", str(self.config_dir), "-h", parameter])
        return result.stdout.strip()

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the instance and wait (bounded) for its 220 banner."""
        check = self.postfix("check")
        if check.returncode != 0:
            raise RuntimeError(f"postfix check failed for {self.name}: {self._diagnostics(check)}")
        started = self.postfix("start")
        if started.returncode != 0:
            raise RuntimeError(
                f"postfix start failed for {self.name}: {self._diagnostics(started)}"
            )
        self.running = True
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            try:
                banner = self._read_banner()
            except OSError as exc:
                last_error = repr(exc)
            else:
                if banner.startswith("220"):
                    return
                last_error = f"unexpected banner {banner!r}"
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"postfix {self.name} gave no 220 banner on {self.address}:{self.port} within "
            f"{timeout:.0f}s ({last_error}); maillog tail:\n{self.maillog_tail()}"
        )

    def _read_banner(self) -> str:
        with socket.create_connection((self.address, self.port), timeout=2.0) as sock:
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            with contextlib.suppress(OSError):
                sock.sendall(b"QUIT\r\n")
            return data.decode("ascii", "replace")

    def _diagnostics(self, result: subprocess.CompletedProcess[str]) -> str:
        return f"rc={result.returncode} {result.stdout}{result.stderr}\n{self.maillog_tail()}"

    def master_pid(self) -> int | None:
        """The master daemon's process id from its pid file, if any."""
        pid_file = self.queue_dir / "pid" / "master.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the instance (``postfix stop``), killing the master if it outlives that."""
        if not self.running:
            return
        pid = self.master_pid()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.postfix("stop", timeout=STOP_TIMEOUT)
        if pid is not None and _alive(pid):
            # The master's children exit when it does; kill only the process we started.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.running = False

    def reload(self) -> None:
        """Rewrite the configuration and ``postfix reload`` (after changing ``main_cf``)."""
        self.write_config()
        result = self.postfix("reload")
        if result.returncode != 0:
            raise RuntimeError(f"postfix reload failed: {self._diagnostics(result)}")

    def maillog_text(self) -> str:
        """The whole maillog ('' before anything was logged)."""
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(
        self, text: str, count: int = 1, since: int = 0, timeout: float = 10.0
    ) -> bool:
        """Wait (bounded) until ``text`` occurs ``count`` times in the maillog after character
        offset ``since`` (e.g. ``len(maillog_text())`` taken earlier); postlogd writes
        asynchronously, so a line may land shortly after the client is done."""
        deadline = time.monotonic() + timeout
        while True:
            if self.maillog_text()[since:].count(text) >= count:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def maillog_tail(self, lines: int = 20) -> str:
        """The last lines of the maillog."""
        return "\n".join(self.maillog_text().splitlines()[-lines:])

    def queued_messages(self) -> list[dict[str, object]]:
        """Every message in the queue (all queues incl. hold), as ``postqueue -j`` JSON objects."""
        result = _run(["postqueue", "-c", str(self.config_dir), "-j"], timeout=30.0)
        if result.returncode != 0:
            raise RuntimeError(f"postqueue -j failed: {result.stderr}")
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    def queue_files(self) -> list[Path]:
        """Queue files on disk (maildrop, incoming, active, deferred, hold, corrupt)."""
        found: list[Path] = []
        for queue in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt"):
            directory = self.queue_dir / queue
            if directory.is_dir():
                found.extend(path for path in directory.rglob("*") if path.is_file())
        return found

    def accepted_count(self) -> int:
        """How many messages the instance ever accepted (queue ids logged by cleanup)."""
        return len(
            re.findall(r"postfix/cleanup\[\d+\]: [0-9A-F]+: message-id=", self.maillog_text())
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _safe_name(name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-") or "postfix"


def _base_main_cf(instance_base: Path, address: str, domain: str, hostname: str) -> dict[str, str]:
    # discard, not error: smtpd rejects a RCPT whose transport is error:, which would hide the
    # relay decision; discard never delivers and is accepted at RCPT like a real transport.
    discard = "discard:delivery disabled in mailprobe test instance"
    return {
        "compatibility_level": "3.6",
        "queue_directory": str(instance_base / "queue"),
        "data_directory": str(instance_base / "data"),
        "inet_interfaces": "all",
        "inet_protocols": "ipv4",
        "proxy_interfaces": address,
        "maillog_file": str(instance_base / "maillog"),
        "maillog_file_prefixes": str(instance_base),
        "myhostname": hostname,
        "mydomain": domain,
        "myorigin": "$mydomain",
        "mydestination": "$mydomain, $myhostname, localhost",
        "mynetworks": CLOSED_MYNETWORKS,
        # any local part at mydestination is accepted (postmaster@, abuse@, anything@)
        "local_recipient_maps": "",
        "alias_maps": "",
        "alias_database": "",
        "default_transport": discard,
        "relay_transport": discard,
        "local_transport": discard,
        "virtual_transport": discard,
        # anything accepted over SMTP stays on hold, visible to queued_messages(), never sent
        "smtpd_end_of_data_restrictions": "check_client_access static:HOLD",
        "smtputf8_enable": "no",
        "biff": "no",
    }


class PostfixFactory:
    """Creates, starts and finally stops private Postfix instances (see ``postfix_factory``)."""

    def __init__(self) -> None:
        self.instances: list[PostfixInstance] = []

    def __call__(
        self,
        name: str,
        address: str,
        port: int = 25,
        extra_main_cf: Mapping[str, str] | None = None,
        *,
        domain: str | None = None,
        hostname: str | None = None,
        tls_cert: ServerCert | None = None,
        sasl_users: Mapping[str, str] | None = None,
        start: bool = True,
    ) -> PostfixInstance:
        """Create (and by default start) an instance; see ``postfix_factory``."""
        if not postfix_available():
            pytest.skip(f"{POSTFIX} is missing: install the Debian package postfix")
        safe = _safe_name(name)
        domain = domain or f"{safe}.test"
        hostname = hostname or f"mail.{domain}"
        port, port_lock = _claim_port(address, port)
        base = Path(tempfile.mkdtemp(prefix=f"mailprobe-postfix-{safe}-"))
        base.chmod(0o755)
        main_cf = _base_main_cf(base, address, domain, hostname)
        instance = PostfixInstance(
            name=name,
            address=address,
            port=port,
            base=base,
            domain=domain,
            hostname=hostname,
            main_cf=main_cf,
            tls_cert=tls_cert,
            sasl_users=dict(sasl_users or {}),
            port_lock=port_lock,
        )
        (base / "queue").mkdir()
        data = base / "data"
        data.mkdir()
        postfix_user = pwd.getpwnam("postfix")
        os.chown(data, postfix_user.pw_uid, postfix_user.pw_gid)
        if tls_cert is not None:
            main_cf.update(_tls_settings(base, tls_cert))
        if instance.sasl_users:
            main_cf.update(_sasl_settings(base, domain, instance.sasl_users, postfix_user))
        main_cf.update(extra_main_cf or {})
        instance.write_config()
        _edit_alternate_dirs(lambda dirs: [*dirs, str(instance.config_dir)])
        self.instances.append(instance)
        if start:
            instance.start()
        return instance

    def close(self) -> None:
        """Stop every instance, unlist its config dir, delete its files."""
        with concurrent.futures.ThreadPoolExecutor() as pool:  # each stop waits ~1 s
            list(pool.map(PostfixInstance.stop, self.instances))
        config_dirs = {str(instance.config_dir) for instance in self.instances}
        if config_dirs:
            _edit_alternate_dirs(lambda dirs: [d for d in dirs if d not in config_dirs])
        for instance in self.instances:
            shutil.rmtree(instance.base, ignore_errors=True)
            if instance.port_lock is not None:
                instance.port_lock.close()  # releases the port claim
        self.instances.clear()


def _tls_settings(base: Path, cert: ServerCert) -> dict[str, str]:
    tls_dir = base / "tls"
    tls_dir.mkdir()
    chain = tls_dir / "chain.pem"
    key = tls_dir / "key.pem"
    shutil.copyfile(cert.cert_chain, chain)
    shutil.copyfile(cert.key, key)
    chain.chmod(0o644)
    key.chmod(0o600)  # smtpd reads it as root before dropping privileges
    return {
        "smtpd_tls_cert_file": str(chain),
        "smtpd_tls_key_file": str(key),
        "smtpd_tls_security_level": "may",
        "smtpd_tls_loglevel": "1",
    }


def _sasl_settings(
    base: Path, domain: str, users: Mapping[str, str], postfix_user: pwd.struct_passwd
) -> dict[str, str]:
    sasl_dir = base / "etc" / "sasl"
    sasl_dir.mkdir(parents=True)
    sasl_dir.chmod(0o755)
    sasldb = sasl_dir / "sasldb2"
    # Debian's Postfix ignores cyrus_sasl_config_path and reads $config_directory/sasl/APP.conf
    # (APP = smtpd_sasl_path); upstream reads APP.conf from cyrus_sasl_config_path: same dir.
    (sasl_dir / "smtpd.conf").write_text(
        "pwcheck_method: auxprop\n"
        "auxprop_plugin: sasldb\n"
        "mech_list: PLAIN LOGIN CRAM-MD5\n"
        f"sasldb_path: {sasldb}\n"
    )
    saslpasswd2 = shutil.which("saslpasswd2")
    if saslpasswd2 is None:
        pytest.skip("saslpasswd2 is missing: install the Debian package sasl2-bin")
    for user, password in users.items():
        result = subprocess.run(
            [saslpasswd2, "-f", str(sasldb), "-c", "-p", "-u", domain, user],
            input=password,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"saslpasswd2 failed: {result.stderr}")
    # smtpd looks the secrets up as the postfix user
    os.chown(sasldb, 0, postfix_user.pw_gid)
    sasldb.chmod(0o640)
    return {
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_sasl_type": "cyrus",
        "smtpd_sasl_path": "smtpd",
        "cyrus_sasl_config_path": str(sasl_dir),
        "smtpd_sasl_local_domain": domain,
        "smtpd_sasl_security_options": "noanonymous",
        "smtpd_tls_auth_only": "yes",
    }


@pytest.fixture(scope="session")
def postfix_factory() -> Iterator[PostfixFactory]:
    """Factory ``postfix_factory(name, address, port=25, extra_main_cf=None, *, domain=None,
    hostname=None, tls_cert=None, sasl_users=None, start=True) -> PostfixInstance``.

    Session-scoped: instances live until the end of the session (stop one early with
    ``instance.stop()``). Skips when Postfix is not installed.
    """
    factory = PostfixFactory()
    try:
        yield factory
    finally:
        factory.close()


# The ready-made instances, shared by the fixtures and by running_instance() (benchmarks).
PRESETS: dict[str, dict[str, Any]] = {
    "closed": {"name": "closed", "address": "127.0.3.1"},
    # An open relay that knows its mailboxes (a made-up local part is refused): RCPT replies
    # decide. One that accepts any local part too is INCONCLUSIVE without --send.
    "open": {
        "name": "open",
        "address": "127.0.3.2",
        "extra_main_cf": {
            "mynetworks": "0.0.0.0/0",
            "local_recipient_maps": "inline:{postmaster=ok, abuse=ok}",
        },
    },
    "tls": {"name": "tls", "address": "127.0.2.1", "sasl_users": {SASL_USER: SASL_PASSWORD}},
    "plain": {"name": "plain", "address": "127.0.2.2"},
}


@pytest.fixture(scope="session")
def postfix_closed(postfix_factory: PostfixFactory) -> PostfixInstance:
    """Closed relay on 127.0.3.1: default relay restrictions, domain ``closed.test``."""
    return postfix_factory(**PRESETS["closed"])


@pytest.fixture(scope="session")
def postfix_open(postfix_factory: PostfixFactory) -> PostfixInstance:
    """Open relay on 127.0.3.2 (``mynetworks = 0.0.0.0/0``), domain ``open.test``; holds mail."""
    return postfix_factory(**PRESETS["open"])


@pytest.fixture(scope="session")
def postfix_tls(postfix_factory: PostfixFactory, server_cert: ServerCert) -> PostfixInstance:
    """STARTTLS (test-CA certificate) and Cyrus SASL after TLS on 127.0.2.1, domain ``tls.test``."""
    return postfix_factory(**PRESETS["tls"], tls_cert=server_cert)


@pytest.fixture(scope="session")
def postfix_plain(postfix_factory: PostfixFactory) -> PostfixInstance:
    """Plain Postfix (no TLS, no SASL) on 127.0.2.2, domain ``plain.test``."""
    return postfix_factory(**PRESETS["plain"])


@contextlib.contextmanager
def running_instance(preset: str, port: int = 25) -> Iterator[PostfixInstance]:
    """One of the ready-made instances outside pytest (benchmarks, manual runs)::

        with running_instance("closed") as closed:
            subprocess.run(["swaks", "--server", f"{closed.address}:{closed.port}", ...])

    The "tls" preset gets a certificate from a fresh test CA (``instance.tls_cert.ca``).
    """
    from tests.support.certs import DEFAULT_NAMES, TestCA

    factory = PostfixFactory()
    ca_dir = Path(tempfile.mkdtemp(prefix="mailprobe-ca-"))
    try:
        kwargs = dict(PRESETS[preset], port=port)
        if preset == "tls":
            ca_dir.chmod(0o755)
            kwargs["tls_cert"] = TestCA(directory=ca_dir).issue(*DEFAULT_NAMES)
        yield factory(**kwargs)
    finally:
        factory.close()
        shutil.rmtree(ca_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.support.postfix PRESET [SECONDS]``: run a ready-made instance, print
    ``ADDRESS PORT CONFIG_DIR MAILLOG`` on one line, stop after SECONDS (default: until
    SIGTERM/SIGINT)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in PRESETS:
        print(f"usage: python -m tests.support.postfix {{{','.join(PRESETS)}}} [SECONDS]")
        return 2
    seconds = float(args[1]) if len(args) > 1 else None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with running_instance(args[0]) as instance:
        print(instance.address, instance.port, instance.config_dir, instance.maillog, flush=True)
        stop.wait(seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
