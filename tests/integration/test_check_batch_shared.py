"""`check -f` at provider scale: many domains sharing two exchanger addresses (loopback).

30 domains, half with MX mx1.provider.test (127.0.6.1), half mx2.provider.test (127.0.6.2),
both scripted SMTP peers that answer 421 to a fifth concurrent connection. The batch must
report every domain in input order (JSON Lines, streamed), probe each shared address a bounded
number of times (not once per domain), never trip the peers' connection limit, and still ask
RCPT TO:<postmaster@DOMAIN> for every domain.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.certs import TestCA
from tests.support.dnsserver import start_dns_server
from tests.support.peers import PeerConnection, PeerFactory, SmtpPeer

DOMAINS = [f"d{i:02d}.test" for i in range(30)]
ADDRESSES = ("127.0.6.1", "127.0.6.2")
PEER_LIMIT = 4


class _Guard:
    """Counts connections to a peer and refuses (421) a connection above ``PEER_LIMIT``."""

    def __init__(self, peer: SmtpPeer) -> None:
        self.inner = peer.handler
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.connections = 0
        self.refused = 0
        peer.handler = self

    async def __call__(self, conn: PeerConnection) -> None:
        with self.lock:
            self.active += 1
            self.connections += 1
            self.peak = max(self.peak, self.active)
            over = self.active > PEER_LIMIT
            if over:
                self.refused += 1
        try:
            if over:
                await conn.reply(421, "4.7.0 too many connections from your host")
                await conn.close()
                return
            await self.inner(conn)
        finally:
            with self.lock:
                self.active -= 1


def _zones() -> dict[str, str]:
    zones = {"provider.test": f"mx1 A {ADDRESSES[0]}\nmx2 A {ADDRESSES[1]}\n"}
    for index, domain in enumerate(DOMAINS):
        mx = "mx1" if index % 2 == 0 else "mx2"
        zones[domain] = f'@ MX 10 {mx}.provider.test.\n@ TXT "v=spf1 -all"\n'
    return zones


@pytest.mark.parametrize("relay", [False, True], ids=["no-relay", "relay"])
def test_batch_shares_exchangers_streams_in_order(
    peer_factory: PeerFactory,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    relay: bool,
) -> None:
    first = SmtpPeer(address=ADDRESSES[0], hostname="mx1.provider.test", name="mx1")
    first.start()
    peer_factory.peers.append(first)
    second = SmtpPeer(
        address=ADDRESSES[1], port=first.port, hostname="mx2.provider.test", name="mx2"
    )
    guards = [_Guard(first), _Guard(second)]
    second.start()
    peer_factory.peers.append(second)
    dns = start_dns_server(_zones(), address="127.0.6.53")
    try:
        listing = tmp_path / "domains.txt"
        listing.write_text("\n".join(DOMAINS) + "\n")
        args: list[Any] = [
            "check",
            "-f",
            str(listing),
            "--server",
            dns.spec,
            "--smtp-port",
            str(first.port),
            "--allow-private",
            "--no-dnssec",
            "--helo",
            "probe.mailprobe.test",
            "--concurrency",
            "12",
            "--json",
        ]
        if not relay:
            args.append("--no-relay")
        main(args)
    finally:
        dns.stop()
    lines = capsys.readouterr().out.splitlines()
    docs = [json.loads(line) for line in lines]
    assert [d["inputs"]["domain"] for d in docs] == DOMAINS
    for index, doc in enumerate(docs):
        host = "mx1.provider.test" if index % 2 == 0 else "mx2.provider.test"
        smtp = doc["results"]["smtp"]
        assert [c["host"] for c in smtp] == [host]
        # the domain's own envelope: postmaster of this domain, not of the first one's
        assert smtp[0]["postmaster"]["command"] == f"RCPT TO:<postmaster@{DOMAINS[index]}>"
        # findings name the exchanger as this domain knows it
        for step in doc["results"]["steps"]:
            for finding in step["findings"]:
                if finding["subject"] and "provider.test" in finding["subject"]:
                    assert host in finding["subject"], finding
        if relay:
            (battery,) = doc["results"]["relay"]
            assert battery["target"] == host
    for guard in guards:
        assert guard.refused == 0, "a 421 was provoked"
        assert guard.peak <= PEER_LIMIT
    if relay:
        notes = [
            f
            for d in docs
            for s in d["results"]["steps"]
            for f in s["findings"]
            if f["code"] == "check.shared-exchanger"
        ]
        assert len(notes) == len(DOMAINS) - 2  # every domain but the two that ran it
    else:
        # one connection for reachability + transport + pooled envelopes per address; a few
        # more if the pool renews it, never one per domain
        for guard in guards:
            assert guard.connections <= 3, guard.connections


@pytest.mark.parametrize("covered", [True, False], ids=["wildcard-cert", "other-name-cert"])
def test_per_customer_exchanger_names_share_one_probe(
    peer_factory: PeerFactory,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    test_ca: TestCA,
    covered: bool,
) -> None:
    """Every domain has its own exchanger name on one shared address (as Microsoft 365 gives
    each customer ``<domain>.mail.protection.outlook.com``). When the trusted certificate
    covers every name (a wildcard), the address is probed once and each domain's report still
    checks the certificate against its own exchanger name; when it covers none of them, each
    name is checked on its own (a mismatch is reported for every domain, never borrowed)."""
    address = "127.0.6.31"
    names = [f"{d.replace('.', '-')}.mail.provider.test" for d in DOMAINS[:12]]
    cert = test_ca.issue("*.mail.provider.test" if covered else "other.provider.test")
    peer = SmtpPeer(
        address=address,
        hostname="edge.provider.test",
        name="edge",
        tls_context=cert.server_context(),
    )
    guard = _Guard(peer)
    peer.start()
    peer_factory.peers.append(peer)
    zones = {"mail.provider.test": "".join(f"{n.split('.')[0]} A {address}\n" for n in names)}
    for domain, name in zip(DOMAINS[:12], names, strict=True):
        zones[domain] = f'@ MX 10 {name}.\n@ TXT "v=spf1 -all"\n'
    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join(DOMAINS[:12]) + "\n")
    with start_dns_server(zones, address="127.0.6.53") as dns:
        main(
            [
                "--json",
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
                "--ca-file",
                str(cert.ca),
                "--helo",
                "probe.mailprobe.test",
            ]
        )
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["inputs"]["domain"] for d in docs] == DOMAINS[:12]
    for doc, name in zip(docs, names, strict=True):
        (smtp,) = doc["results"]["smtp"]
        assert smtp["host"] == name, smtp
        assert smtp["tls"]["checked_name"] == name
        assert smtp["tls"]["name_matches"] is covered
        codes = {f["code"] for s in doc["results"]["steps"] for f in s["findings"]}
        assert ("tls.name-mismatch" in codes) is not covered, codes
    if covered:
        # reachability, transport and the envelopes on one pooled connection: not one a domain
        assert guard.connections <= 3, guard.connections
        assert guard.refused == 0
    else:
        # one TLS check per name; the churn of short sessions may meet the peer before it has
        # counted the last close (a 421 then, waited out: every report above is complete)
        assert guard.connections >= len(names)
