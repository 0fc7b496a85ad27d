"""Private Haraka instances on loopback, as pytest fixtures.

Haraka comes from npm, installed by scripts/install-test-mtas.sh into
``/opt/mailprobe-test/haraka`` (``$MAILPROBE_TEST_MTAS/haraka``; ``npm install --prefix``), and
runs on the machine's Node.js as ``haraka -c BASE`` (one process, no cluster, in the
foreground; its log goes to stdout).

Each instance has its own directory (``/tmp/mailprobe-haraka-<mode>-XXXX/``), written by the
fixture::

    BASE/config/smtp.ini             listen = ADDRESS:PORT
    BASE/config/me                   mx.own.test (banner and EHLO name)
    BASE/config/host_list            own.test (for rcpt_to.in_host_list)
    BASE/config/plugins              mailprobe_test, rcpt_to.in_host_list
    BASE/config/mailprobe_test.ini   mode, domain, known users, records file
    BASE/config/outbound.ini         disabled = true
    BASE/config/log.ini              level = info, timestamps
    BASE/plugins/mailprobe_test.js   tests/support/haraka_plugins/mailprobe_test.js
    BASE/process.out                 Haraka's log (stdout and stderr)
    BASE/records.jsonl               what the plugin recorded: connect, rcpt, data, queue

The modes (``tests.support.mta``) are made of Haraka's own ``rcpt_to.in_host_list`` (accepts
every local part of own.test: own-catchall as it is) and the ``mailprobe_test`` plugin, which
refuses unknown users at own.test first (closed), sets ``connection.relaying`` for every
client (open: Haraka then accepts any RCPT), or accepts every RCPT and refuses DATA when a
recipient is not at own.test (data-decides). Other domains get Haraka's default refusal,
``550 I cannot deliver mail for <x>``.

No message can leave the machine: the plugin answers the ``queue`` and ``queue_outbound`` hooks
with OK after recording the message (``queued_messages()``), so Haraka replies ``250 Message
Queued`` and drops it; outbound delivery is never reached, and is disabled (outbound.ini) too.

Fixtures: ``haraka_factory`` (session), ``haraka_closed`` (127.0.9.11), ``haraka_open``
(127.0.9.12), ``haraka_catchall`` (127.0.9.13, mode own-catchall), ``haraka_data_decides``
(127.0.9.14); all session-scoped, on a free port, domain own.test. All skip when Haraka or
Node.js is missing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
)

HARAKA_ROOT = TEST_MTAS_ROOT / "haraka"
HARAKA = HARAKA_ROOT / "node_modules" / "Haraka" / "bin" / "haraka"
PLUGIN = Path(__file__).parent / "haraka_plugins" / "mailprobe_test.js"

ADDRESSES = {
    "closed": "127.0.9.11",
    "open": "127.0.9.12",
    "own-catchall": "127.0.9.13",
    "data-decides": "127.0.9.14",
}

# Reply texts, for tests to match on.
RELAY_DENIED = "I cannot deliver mail for"  # Haraka's own, when no plugin accepted the RCPT
DATA_DENIED = "message refused at DATA"


def haraka_missing() -> str | None:
    """Why the Haraka fixtures cannot run here, or None when they can."""
    if not HARAKA.exists():
        return f"{HARAKA} is missing: run scripts/install-test-mtas.sh (setup-test-env.sh does)"
    if shutil.which("node") is None:
        return "node is missing: install Node.js (Debian packages nodejs npm)"
    return None


def haraka_available() -> bool:
    """True when Haraka and Node.js are installed."""
    return haraka_missing() is None


@dataclass
class HarakaInstance(MtaInstance):
    """One private Haraka process; see the module docstring."""

    @property
    def config_dir(self) -> Path:
        """The config directory."""
        return self.base / "config"

    @property
    def records_file(self) -> Path:
        """The JSON-lines file of the mailprobe_test plugin."""
        return self.base / "records.jsonl"

    def command(self) -> list[str]:
        node = shutil.which("node") or "node"
        return [node, str(HARAKA), "-c", str(self.base)]

    def environment(self) -> Mapping[str, str]:
        return {"NODE_ENV": "test", "NO_COLOR": "1"}

    def write_config(self) -> None:
        """Write the config directory (Haraka's defaults, then ours) and copy the plugin."""
        config = self.config_dir
        # Haraka's own defaults first (what ``haraka -i`` would copy), then ours on top
        shutil.copytree(HARAKA.parent.parent / "config", config)
        (self.base / "plugins").mkdir()
        (self.base / "queue").mkdir()
        shutil.copyfile(PLUGIN, self.base / "plugins" / PLUGIN.name)
        files = {
            "smtp.ini": f"[main]\nlisten={self.address}:{self.port}\n",
            "me": f"{self.hostname}\n",
            "host_list": f"{self.domain}\n",
            "host_list_regex": "",
            "plugins": "mailprobe_test\nrcpt_to.in_host_list\n",
            "mailprobe_test.ini": (
                f"mode={self.mode}\ndomain={self.domain}\n"
                f"known_users={','.join(self.known_users)}\nrecords={self.records_file}\n"
            ),
            "outbound.ini": "disabled=true\n",
            "log.ini": "[main]\nlevel=info\ntimestamps=true\nformat=default\n",
        }
        for name, text in files.items():
            (config / name).write_text(text)

    def log_text(self) -> str:
        """Haraka's log (its stdout and stderr)."""
        try:
            return self.process_output.read_text(errors="replace")
        except OSError:
            return ""

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        """What the plugin recorded (``event``: connect, rcpt, data, queue; None: all)."""
        try:
            lines = self.records_file.read_text().splitlines()
        except OSError:
            return []
        found = [json.loads(line) for line in lines if line.strip()]
        return [record for record in found if event is None or record["event"] == event]

    def queued_messages(self) -> list[QueuedMessage]:
        """Every message accepted after DATA (recorded, then dropped)."""
        return [
            QueuedMessage(
                id=str(record["id"]),
                sender=str(record["mail_from"]),
                recipients=tuple(record["rcpts"]),
                state="discarded",
            )
            for record in self.records("queue")
        ]


class HarakaFactory:
    """Creates, starts and finally stops private Haraka instances (see ``haraka_factory``)."""

    def __init__(self) -> None:
        self.instances: list[HarakaInstance] = []

    def __call__(
        self,
        mode: str,
        address: str | None = None,
        *,
        domain: str = OWN_DOMAIN,
        hostname: str = OWN_HOSTNAME,
        known_users: tuple[str, ...] = KNOWN_USERS,
        start: bool = True,
    ) -> HarakaInstance:
        """Create (and by default start) an instance in ``mode`` (one of ``MODES``)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        missing = haraka_missing()
        if missing is not None:
            pytest.skip(missing)
        address = address or ADDRESSES[mode]
        port, port_lock = claim_port(address)
        instance = HarakaInstance(
            mta="haraka",
            mode=mode,
            address=address,
            port=port,
            base=make_base(f"mailprobe-haraka-{mode}-"),
            domain=domain,
            hostname=hostname,
            known_users=known_users,
            port_lock=port_lock,
        )
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
def haraka_factory() -> Iterator[HarakaFactory]:
    """Factory ``haraka_factory(mode, address=None, *, domain="own.test",
    hostname="mx.own.test", known_users=("postmaster", "abuse"), start=True) ->
    HarakaInstance``. Session-scoped; skips when Haraka is missing."""
    factory = HarakaFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def haraka_closed(haraka_factory: HarakaFactory) -> HarakaInstance:
    """Haraka on 127.0.9.11, mode closed."""
    return haraka_factory("closed")


@pytest.fixture(scope="session")
def haraka_open(haraka_factory: HarakaFactory) -> HarakaInstance:
    """Haraka on 127.0.9.12, mode open (relaying for every client; drops what it accepts)."""
    return haraka_factory("open")


@pytest.fixture(scope="session")
def haraka_catchall(haraka_factory: HarakaFactory) -> HarakaInstance:
    """Haraka on 127.0.9.13, mode own-catchall (rcpt_to.in_host_list alone)."""
    return haraka_factory("own-catchall")


@pytest.fixture(scope="session")
def haraka_data_decides(haraka_factory: HarakaFactory) -> HarakaInstance:
    """Haraka on 127.0.9.14, mode data-decides (RCPT always 250, DATA refused when relaying)."""
    return haraka_factory("data-decides")
