"""The one translation point from library exceptions to mailprobe errors."""

from __future__ import annotations

import socket

import aiosmtplib
import pytest

from mailprobe.errors import (
    DnsFailure,
    PeerUnreachable,
    ProtocolFailure,
    StepTimeout,
    translate,
)


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (ConnectionRefusedError(111, "Connection refused"), PeerUnreachable, "connection refused"),
        (TimeoutError(), StepTimeout, "timed out after 5 s"),
        (socket.gaierror(-2, "Name or service not known"), DnsFailure, "cannot resolve"),
        (aiosmtplib.SMTPReadTimeoutError("slow"), StepTimeout, "timed out"),
        (aiosmtplib.SMTPServerDisconnected("Unexpected EOF"), PeerUnreachable, "disconnected"),
        (aiosmtplib.SMTPResponseException(-1, "Malformed\x00line"), ProtocolFailure, "Malformed"),
    ],
)
def test_translate_keeps_step_host_and_reason(exc: BaseException, kind: type, text: str) -> None:
    error = translate(exc, "banner", "127.0.0.1", 25, 5.0)
    assert isinstance(error, kind)
    assert error.failure.step == "banner"
    assert text in str(error)
    assert "\x00" not in str(error)
    assert str(error).startswith("banner failed 127.0.0.1:25:")


def test_library_input_errors_name_fields_not_options() -> None:
    # The library speaks no CLI: it names the field; cli/entry.py names the option.
    import pytest

    from mailprobe.checks.relay import RelayOptions
    from mailprobe.cli.names import FIELD_OPTIONS
    from mailprobe.errors import InputError

    with pytest.raises(InputError) as caught:
        RelayOptions(sender="a b@c").validated()
    assert caught.value.field == "sender" and "--" not in str(caught.value)
    assert caught.value.worded(FIELD_OPTIONS).startswith("--from 'a b@c'")
    with pytest.raises(InputError) as caught:
        RelayOptions(send=True).validated()
    assert caught.value.worded(FIELD_OPTIONS) == "--send needs --to ADDRESS (a mailbox you read)"
