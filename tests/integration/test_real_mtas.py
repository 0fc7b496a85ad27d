"""Smoke tests of the Exim and Haraka instances (tests/support/exim.py, haraka.py): each MTA in
each relay configuration answers RCPT and DATA as configured, through mailprobe's own SMTP engine
(``SmtpSession``), and nothing addressed to another domain is ever kept or delivered.

Own domain own.test, known mailbox postmaster@own.test; addresses 127.0.9.x, free ports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from mailprobe.smtp.session import Reply, SmtpSession
from tests.support.exim import EximInstance
from tests.support.mta import MODES, MtaInstance, QueuedMessage

MTAS = ("exim", "haraka")
_FIXTURE_SUFFIX = {
    "closed": "closed",
    "open": "open",
    "own-catchall": "catchall",
    "data-decides": "data_decides",
}
SENDER = "probe@sender.example"
EXTERNAL = "victim@relay-target.example"
UNKNOWN_LOCAL = "no-such-user-7f3a"
MESSAGE = (
    b"From: <probe@sender.example>\r\n"
    b"To: <postmaster@own.test>\r\n"
    b"Subject: mailprobe smoke test of a test MTA\r\n"
    b"\r\n"
    b"Nothing here is ever delivered.\r\n"
)

# What each configuration answers at RCPT: known mailbox, unknown local part, other domain.
EXPECTED_RCPT = {
    "closed": (250, 550, 550),
    "open": (250, 250, 250),
    "own-catchall": (250, 250, 550),
    "data-decides": (250, 250, 250),
}

CASES = [
    pytest.param((mta, mode), marks=getattr(pytest.mark, mta), id=f"{mta}-{mode}")
    for mta in MTAS
    for mode in MODES
]


@pytest.fixture
def mta(request: pytest.FixtureRequest) -> MtaInstance:
    """The instance of ``request.param`` = (mta, mode), e.g. ``exim_catchall``."""
    name, mode = request.param
    instance: MtaInstance = request.getfixturevalue(f"{name}_{_FIXTURE_SUFFIX[mode]}")
    return instance


@dataclass
class Outcome:
    banner: Reply
    ehlo: Reply
    mail: Reply
    rcpts: list[Reply]
    data: Reply | None


async def _session(
    instance: MtaInstance, recipients: Sequence[str], message: bytes | None = None
) -> Outcome:
    """One SMTP transaction; DATA only when ``message`` is given and a RCPT was accepted."""
    async with SmtpSession(
        instance.address, instance.port, helo_name="probe.sender.example", timeout=10.0
    ) as session:
        banner = await session.open()
        ehlo = await session.hello()
        mail = await session.mail(SENDER)
        rcpts = [await session.rcpt(recipient) for recipient in recipients]
        data = None
        if message is not None and any(reply.code == 250 for reply in rcpts):
            data = await session.data(message)
        await session.quit()
    return Outcome(banner, ehlo, mail, rcpts, data)


def transaction(
    instance: MtaInstance, recipients: Sequence[str], message: bytes | None = None
) -> Outcome:
    return asyncio.run(asyncio.wait_for(_session(instance, recipients, message), 30.0))


def new_messages(instance: MtaInstance, before: list[QueuedMessage]) -> list[QueuedMessage]:
    seen = {message.id for message in before}
    return [message for message in instance.queued_messages() if message.id not in seen]


def assert_nothing_left(instance: MtaInstance) -> None:
    """Nothing for another domain kept, nothing delivered anywhere."""
    assert instance.external_recipients_queued() == []
    if isinstance(instance, EximInstance):
        assert instance.deliveries() == []
    assert instance.running, f"{instance.name} died:\n{instance.output_tail()}"


@pytest.mark.parametrize("mta", CASES, indirect=True)
def test_rcpt_decisions(mta: MtaInstance) -> None:
    before = mta.queued_messages()
    unknown = f"{UNKNOWN_LOCAL}@{mta.domain}"
    outcome = transaction(mta, [mta.known_mailbox, unknown, EXTERNAL])

    assert outcome.banner.code == 220
    assert outcome.banner.text.startswith(mta.hostname), outcome.banner
    assert outcome.ehlo.code == 250
    assert outcome.mail.code == 250
    codes = tuple(reply.code for reply in outcome.rcpts)
    assert codes == EXPECTED_RCPT[mta.mode], [reply.text for reply in outcome.rcpts]
    # no DATA was sent: nothing kept, nothing delivered, not even by the open relay
    assert new_messages(mta, before) == []
    assert_nothing_left(mta)
    assert mta.wait_for_log(EXTERNAL)  # the RCPT reached the server's log


@pytest.mark.parametrize("mta", CASES, indirect=True)
def test_data(mta: MtaInstance) -> None:
    before = mta.queued_messages()
    if mta.mode == "data-decides":
        relayed = transaction(mta, [mta.known_mailbox, EXTERNAL], MESSAGE)
        assert [reply.code for reply in relayed.rcpts] == [250, 250]
        assert relayed.data is not None
        assert relayed.data.category == "rejected", relayed.data
        assert "refused at DATA" in relayed.data.text
        assert new_messages(mta, before) == []
    # A message for the own domain alone is accepted and stays visible (kept, never delivered):
    # this is what the assertions "nothing queued" above and elsewhere rely on.
    local = transaction(mta, [mta.known_mailbox], MESSAGE)
    assert local.data is not None
    assert local.data.code == 250, local.data
    kept = new_messages(mta, before)
    assert [message.recipients for message in kept] == [(mta.known_mailbox,)]
    assert kept[0].sender == SENDER
    assert kept[0].state == ("frozen" if mta.mta == "exim" else "discarded")
    assert_nothing_left(mta)


@pytest.mark.exim
def test_exim_queue_and_log(exim_open: EximInstance) -> None:
    """The open Exim relays at RCPT, and what it would relay never reaches its spool without
    DATA: the spool count (``exim -bpc``) and the main log say so."""
    count = exim_open.queue_count()
    since = len(exim_open.log_text())
    outcome = transaction(exim_open, [EXTERNAL])
    assert [reply.code for reply in outcome.rcpts] == [250]
    assert exim_open.queue_count() == count
    assert exim_open.wait_for_log(f"RCPT <{EXTERNAL}>", since=since)
    assert exim_open.wait_for_log("closed by QUIT", since=since)
    new_log = exim_open.log_text()[since:]
    assert " <= " not in new_log  # no message received
    assert exim_open.deliveries() == []
