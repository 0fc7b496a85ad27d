"""check_batch: order of results, session timeout, shared cache (real DNS server on loopback)."""

from __future__ import annotations

import asyncio

from mailprobe.checks.mx import MxOptions, MxReport, check_batch
from mailprobe.dns import Resolver, parse_server

ZONE = """
a     MX 10 mx
b     MX 10 mx
mx    A 127.0.1.60
"""


def test_batch_shares_the_cache_and_reports_every_index(dns_server) -> None:
    server = dns_server({"batch.test": ZONE}, address="127.0.1.61")
    seen: list[tuple[int, MxReport]] = []

    async def scenario() -> None:
        async with Resolver([parse_server(server.spec)], timeout=2) as resolver:
            domains = ["a.batch.test", "b.batch.test", "a.batch.test"]
            await check_batch(domains, [resolver], MxOptions(timeout=2), 2, _append(seen))

    asyncio.run(scenario())
    assert sorted(i for i, _ in seen) == [0, 1, 2]
    assert {r.domain for _, r in seen} == {"a.batch.test", "b.batch.test"}
    asked = [q for q in server.queries if q[:2] == ("mx.batch.test", "A")]
    assert len(asked) == 1


def test_session_timeout_becomes_a_failure(silent_dns_server) -> None:
    silent = silent_dns_server(address="127.0.1.62")
    seen: list[tuple[int, MxReport]] = []

    async def scenario() -> None:
        async with Resolver([parse_server(silent.spec)], timeout=5) as resolver:
            options = MxOptions(timeout=5, session_timeout=0.2)
            await check_batch(["slow.test"], [resolver], options, 1, _append(seen))

    asyncio.run(scenario())
    ((_index, report),) = seen
    assert report.exit_code == 3
    assert "session timeout" in report.failures[0].message


def _append(seen: list[tuple[int, MxReport]]):
    return lambda index, report: seen.append((index, report))
