"""The session core's safety nets used by ehlo: secret redaction and argument checks."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.errors import UsageError
from mailprobe.smtp.redact import REDACTED, Redactor
from mailprobe.smtp.session import check_argument


def test_every_form_of_the_secret_is_replaced() -> None:
    redactor = Redactor(["s3cret-pw"])
    encoded = base64.b64encode(b"s3cret-pw").decode()
    text = f"a s3cret-pw b {encoded} c {encoded.rstrip('=')} d"
    cleaned = redactor(text)
    assert "s3cret" not in cleaned
    assert encoded.rstrip("=") not in cleaned
    assert cleaned.count(REDACTED) == 3


_NO_STAR = st.characters(blacklist_characters="*", blacklist_categories=("Cs",))


@given(
    st.text(_NO_STAR, min_size=3, max_size=40),
    st.text(_NO_STAR, max_size=80),
    st.text(_NO_STAR, max_size=80),
)
def test_redactor_never_lets_the_secret_through(secret: str, before: str, after: str) -> None:
    redactor = Redactor([secret])
    assert secret not in redactor(before + secret + after)


@pytest.mark.parametrize("bad", ["a\r\nb", "a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x7fb"])
def test_check_argument_refuses_control_characters(bad: str) -> None:
    with pytest.raises(UsageError):
        check_argument(bad, "test value")


def test_check_argument_accepts_normal_text() -> None:
    assert check_argument("user@example.org", "sender") == "user@example.org"
