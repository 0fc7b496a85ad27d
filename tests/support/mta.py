"""What the private Exim and Haraka instances (``exim.py``, ``haraka.py``) have in common.

Each instance is one server process started by a fixture, with its own directory tree
(``tempfile.mkdtemp``), listening on one loopback address (127.0.9.x) and a port claimed free
at start-up, in one of four relay configurations (``MODES``), for the domain ``own.test``
(host name ``mx.own.test``):

``closed``
    accepts RCPT for the users it knows at own.test (``KNOWN_USERS``), refuses unknown users
    and every other domain.
``open``
    accepts every RCPT, other domains included (an open relay), but delivers nothing.
``own-catchall``
    accepts every local part at own.test (a front end that does not know the mailboxes),
    refuses other domains.
``data-decides``
    accepts every RCPT, own and external, and refuses DATA when a recipient is not at own.test.

Nothing can leave the machine: each MTA is configured without any way to deliver (see the
module of each MTA), and what it accepted stays visible to ``queued_messages()``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

MODES = ("closed", "open", "own-catchall", "data-decides")
OWN_DOMAIN = "own.test"
OWN_HOSTNAME = "mx.own.test"
KNOWN_USERS = ("postmaster", "abuse")

#: Where scripts/install-test-mtas.sh puts the MTAs (``MAILPROBE_TEST_MTAS`` overrides).
TEST_MTAS_ROOT = Path(os.environ.get("MAILPROBE_TEST_MTAS", "/opt/mailprobe-test"))
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_PORT_LOCK_DIR = Path("/tmp/mailprobe-mta-ports")


@dataclass(frozen=True)
class QueuedMessage:
    """A message an instance accepted after DATA (and kept, frozen or recorded, not sent)."""

    id: str
    sender: str
    recipients: tuple[str, ...]
    state: str  # "frozen" (Exim), "queued" (Exim, not frozen), "discarded" (Haraka)


def is_own(address: str, domain: str = OWN_DOMAIN) -> bool:
    """Whether ``address`` is at ``domain`` (case-insensitive)."""
    return address.rpartition("@")[2].strip().lower() == domain.lower()


def claim_port(address: str) -> tuple[int, IO[str]]:
    """A free port on ``address``, claimed for this process with an exclusive flock on a lock
    file in /tmp/mailprobe-mta-ports/ (held until the returned file is closed), so concurrent
    test sessions on one machine never start two instances on one port."""
    _PORT_LOCK_DIR.mkdir(exist_ok=True)
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
            port: int = probe.getsockname()[1]
        lock = (_PORT_LOCK_DIR / f"{address}-{port}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                lock.close()
                continue
        return port, lock
    raise RuntimeError(f"no free port on {address} for a test MTA")


def read_banner(address: str, port: int, timeout: float = 2.0) -> str:
    """The first reply line of ``address:port`` (then QUIT); raises OSError if none."""
    with socket.create_connection((address, port), timeout=timeout) as sock:
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        with contextlib.suppress(OSError):
            sock.sendall(b"QUIT\r\n")
        return data.decode("ascii", "replace").strip()


def make_base(prefix: str) -> Path:
    """A fresh instance directory, mode 0755 (the MTA's own user must traverse it)."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    return base


@dataclass
class MtaInstance:
    """One private MTA process; subclasses say how to write its configuration and run it."""

    mta: str
    mode: str
    address: str
    port: int
    base: Path
    domain: str = OWN_DOMAIN
    hostname: str = OWN_HOSTNAME
    known_users: tuple[str, ...] = KNOWN_USERS
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    port_lock: IO[str] | None = field(default=None, repr=False)
    banner: str = ""

    # -- to be provided by each MTA ----------------------------------------------------------

    def command(self) -> list[str]:
        """The command line of the server process (running in the foreground)."""
        raise NotImplementedError

    def environment(self) -> Mapping[str, str]:
        """Extra environment variables of the server process."""
        return {}

    def log_text(self) -> str:
        """Everything the instance logged so far ('' before anything was)."""
        raise NotImplementedError

    def queued_messages(self) -> list[QueuedMessage]:
        """Every message the instance accepted after DATA (kept or recorded, never sent)."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """``<mta>-<mode>``, e.g. ``exim-closed``."""
        return f"{self.mta}-{self.mode}"

    @property
    def process_output(self) -> Path:
        """Where the server process's stdout and stderr go."""
        return self.base / "process.out"

    @property
    def known_mailbox(self) -> str:
        """``postmaster@own.test``: a recipient every configuration accepts."""
        return f"{self.known_users[0]}@{self.domain}"

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the log."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_log(self, text: str, since: int = 0, timeout: float = 10.0) -> bool:
        """Wait (bounded) until ``text`` is in the log after character offset ``since``."""
        deadline = time.monotonic() + timeout
        while True:
            if text in self.log_text()[since:]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def external_recipients_queued(self) -> list[str]:
        """Recipients outside the own domain of every accepted message (should stay [])."""
        return [
            rcpt
            for message in self.queued_messages()
            for rcpt in message.recipients
            if not is_own(rcpt, self.domain)
        ]

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and wait (bounded) for its 220 banner."""
        output = self.process_output.open("ab")
        try:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.base,
                env={**os.environ, **self.environment()},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends it and its children
            )
        finally:
            output.close()
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                last_error = f"the process exited with status {self.process.returncode}"
                break
            try:
                banner = read_banner(self.address, self.port)
            except OSError as exc:
                last_error = repr(exc)
            else:
                if banner.startswith("220"):
                    self.banner = banner
                    return
                last_error = f"unexpected banner {banner!r}"
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{self.name} gave no 220 banner on {self.address}:{self.port} within "
            f"{timeout:.0f}s ({last_error}); output:\n{self.output_tail()}\n"
            f"log tail:\n{self.log_tail()}"
        )

    def output_tail(self, lines: int = 30) -> str:
        """The last lines the process wrote to stdout/stderr."""
        try:
            text = self.process_output.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the instance's process group, SIGKILL if it outlives ``timeout``; then
        SIGKILL to what is left of the group (children serving SMTP connections)."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # the group that start() made
            if not _exited(process.pid, timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                _exited(process.pid, 5.0)
            # The leader is a zombie until waited for, so its pid (the group id) cannot have
            # been reused: the group holds only processes of this instance.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5.0)


def _exited(pid: int, timeout: float) -> bool:
    """Wait (bounded) until child ``pid`` has exited, without reaping it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        if status is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def run(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run a helper command (bounded), output captured."""
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
