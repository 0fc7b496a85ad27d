"""The per-address connection rate of a run (``ConnectionLimits.per_minute``) on loopback.

A scripted SMTP peer refuses (421 "too many connections, try again later") a connection beyond
``ALLOWED`` new ones in any ``WINDOW`` seconds, like a provider's per-client rate limit. The
window is shortened from a minute to ``WINDOW`` seconds (a ``ConnectionLimits`` subclass) so
the test runs in seconds; the rule is the same. A batch of domains sharing the peer, relay
battery included, must then never provoke a 421; without the rate it does, and the check
reports that as throttling (``check.throttled`` or ``smtp.greeting-deferred``), never as an
unreachable exchanger or a TLS failure.
"""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path

import pytest

from mailprobe.checks.check import CheckOptions, CheckReport
from mailprobe.cli.app import main
from mailprobe.cli.check import _run
from mailprobe.smtp.session import ConnectionLimits
from tests.support.dnsserver import start_dns_server
from tests.support.peers import PeerConnection, PeerFactory, SmtpPeer

ADDRESS = "127.0.6.21"
DOMAINS = [f"r{i}.test" for i in range(4)]
WINDOW = 2.0
ALLOWED = 4


class _RateGuard:
    """Refuses with 421 a connection beyond ``ALLOWED`` in any ``WINDOW`` seconds."""

    def __init__(self, peer: SmtpPeer) -> None:
        self.inner = peer.handler
        self.lock = threading.Lock()
        self.starts: collections.deque[float] = collections.deque()
        self.accepted: list[float] = []
        self.refused = 0
        peer.handler = self

    async def __call__(self, conn: PeerConnection) -> None:
        now = time.monotonic()
        with self.lock:
            while self.starts and now - self.starts[0] >= WINDOW:
                self.starts.popleft()
            over = len(self.starts) >= ALLOWED
            if over:
                self.refused += 1
            else:
                self.starts.append(now)
                self.accepted.append(now)
        if over:
            await conn.reply(421, "4.7.0 Too many connections, try again later")
            await conn.close()
            return
        await self.inner(conn)

    def busiest_window(self) -> int:
        """The most connections accepted in any ``WINDOW`` seconds."""
        times = sorted(self.accepted)
        return max(
            (sum(1 for t in times[i:] if t - start < WINDOW) for i, start in enumerate(times)),
            default=0,
        )


class _ShortWindow(ConnectionLimits):
    WINDOW = WINDOW


def _zones() -> dict[str, str]:
    zones = {"rate-provider.test": f"mx A {ADDRESS}\n"}
    for domain in DOMAINS:
        zones[domain] = '@ MX 10 mx.rate-provider.test.\n@ TXT "v=spf1 -all"\n'
    return zones


def _batch(
    peer_factory: PeerFactory, limits: ConnectionLimits
) -> tuple[_RateGuard, list[CheckReport]]:
    peer = SmtpPeer(address=ADDRESS, hostname="mx.rate-provider.test", name="rated")
    guard = _RateGuard(peer)
    peer.start()
    peer_factory.peers.append(peer)
    with start_dns_server(_zones(), address="127.0.6.53") as dns:
        options = CheckOptions(
            smtp_port=peer.port,
            helo="probe.mailprobe.test",
            allow_private=True,
            timeout=5.0,
            limits=limits,
        )
        reports = _run(DOMAINS, [dns.spec], options, dnssec=False, concurrency=4)
    return guard, reports


def test_rate_keeps_a_batch_under_the_servers_limit(peer_factory: PeerFactory) -> None:
    limits = _ShortWindow(per_address=4, per_minute=ALLOWED)
    guard, reports = _batch(peer_factory, limits)
    assert [r.domain for r in reports] == DOMAINS
    assert guard.refused == 0, "a 421 was provoked"
    assert guard.busiest_window() <= ALLOWED
    # the run needed more connections than one window allows: the rate did the pacing
    assert len(guard.accepted) > ALLOWED
    assert sum(limits.paced.values()) > 0
    assert not limits.throttled
    for report in reports:
        assert report.relay and report.relay[0].verdict != "open"
        assert not report.failures


def test_without_the_rate_a_421_is_throttling_not_unreachable(peer_factory: PeerFactory) -> None:
    limits = ConnectionLimits(per_address=4, per_minute=None)
    guard, reports = _batch(peer_factory, limits)
    assert guard.refused > 0  # the server's limit is real: the test above is not vacuous
    assert sum(limits.throttled.values()) > 0  # ... and mailprobe saw it as throttling
    codes = {f.code for r in reports for f in r.findings}
    assert "smtp.throttled" in codes or "smtp.greeting-deferred" in codes
    for report in reports:
        for finding in report.findings:
            assert finding.code not in (
                "tls.handshake-failed",
                "tls.starttls-refused",
                "smtp.connect-refused",
                "smtp.no-banner",
                "smtp.dropped",
            ), finding
        for item in report.reachability:
            assert item.status != "unreachable", item


@pytest.mark.parametrize(
    ("starts", "now", "expected"),
    [((), 0.0, 0.0), ((0.0, 0.5, 1.0, 1.5), 1.6, 0.5), ((0.0, 0.5, 1.0, 1.5), 2.05, 0.05)],
)
def test_rate_delay(starts: tuple[float, ...], now: float, expected: float) -> None:
    limits = _ShortWindow(per_minute=ALLOWED)
    for at in starts:
        limits._starts.setdefault(("a", 25), collections.deque()).append(at)
    assert limits.rate_delay("a", 25, now) == pytest.approx(expected)


class _FirstRefused:
    """Answers the first connection with 421 "try again later", then serves normally."""

    def __init__(self, peer: SmtpPeer) -> None:
        self.inner = peer.handler
        self.seen = 0
        peer.handler = self

    async def __call__(self, conn: PeerConnection) -> None:
        self.seen += 1
        if self.seen == 1:
            await conn.reply(421, "4.7.0 Too many connections, try again later")
            await conn.close()
            return
        await self.inner(conn)


def test_batch_summary_names_the_throttling_address(
    peer_factory: PeerFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    peer = SmtpPeer(address=ADDRESS, hostname="mx.rate-provider.test", name="first-421")
    _FirstRefused(peer)
    peer.start()
    peer_factory.peers.append(peer)
    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join(DOMAINS) + "\n")
    with start_dns_server(_zones(), address="127.0.6.53") as dns:
        code = main(
            [
                "--no-color",
                "check",
                "-f",
                str(listing),
                "--server",
                dns.spec,
                "--smtp-port",
                str(peer.port),
                "--allow-private",
                "--no-dnssec",
                "--no-relay",
                "--helo",
                "probe.mailprobe.test",
            ]
        )
    out = capsys.readouterr().out
    assert code != 3  # waited out: nothing incomplete
    summary = out[out.index("Summary:") :]
    assert "throttled:  1 exchanger addresses answered 421 (try later) 1 times" in summary
    assert f"{ADDRESS}:{peer.port} (1)" in summary
    # each domain's report says so (they share the one reachability probe of the address)
    assert out.count("INFO smtp.throttled") == len(DOMAINS)
    assert "smtp.connect" not in out and "smtp.greeting-deferred" not in out
