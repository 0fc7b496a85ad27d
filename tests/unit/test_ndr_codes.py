"""Code syntax: what is a status code or reply code, and what the error says when it is not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.errors import UsageError
from mailprobe.ndr.codes import (
    StatusCode,
    check_code,
    find_status_codes,
    is_reply_code,
    looks_like_code,
    parse_status_code,
)


@pytest.mark.parametrize("text", ["2.0.0", "4.4.7", "5.1.1", "5.7.999", "5.1.10", "4.4.316"])
def test_valid_status_codes(text: str) -> None:
    code = parse_status_code(text)
    assert code is not None and str(code) == text


@pytest.mark.parametrize(
    "text",
    ["6.1.1", "3.1.1", "5.x.1", "5.1", "5.1.1.1", "", "5.01.1", "5.1.01", "5.1.1000", " 5.1.1"],
)
def test_invalid_status_codes(text: str) -> None:
    assert parse_status_code(text) is None


def test_x_form() -> None:
    assert StatusCode(5, 4, 8).x_form == "X.4.8"


@pytest.mark.parametrize(
    ("text", "ok"), [("550", True), ("250", True), ("421", True), ("600", False), ("560", False)]
)
def test_reply_codes(text: str, ok: bool) -> None:
    assert is_reply_code(text) is ok


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("6.1.1", "class must be 2"),
        ("5.x.1", "subject must be a number"),
        ("5.1", "three parts"),
        ("5.1.1.1", "got 4"),
        ("", "empty code"),
        ("5.01.1", "leading zeros"),
        ("5.1.1234", "at most three digits"),
        ("999", "reply code starts with"),
        ("abc", "expected CLASS.SUBJECT.DETAIL"),
    ],
)
def test_check_code_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_code(text)


def test_check_code_results() -> None:
    assert check_code("5.4.8") == StatusCode(5, 4, 8)
    assert check_code("550") == "550"


def test_looks_like_code() -> None:
    assert looks_like_code("5.x.1") and looks_like_code("550") and looks_like_code("5.1.")
    assert not looks_like_code("550 5.1.1 user unknown") and not looks_like_code("")


def test_find_status_codes_in_text() -> None:
    text = "550 5.1.1 <a@example.com>: rejected; see 5.7.1. Host 192.0.2.1 v1.2.3 code 5.1.1"
    assert [str(c) for c in find_status_codes(text)] == ["5.1.1", "5.7.1"]
    assert find_status_codes("#5.4.8 ok") == [StatusCode(5, 4, 8)]
    assert find_status_codes("version 5.1.1.4 and 10.4.4.1") == []


@given(st.sampled_from([2, 4, 5]), st.integers(0, 999), st.integers(0, 999))
def test_every_well_formed_code_round_trips(klass: int, subject: int, detail: int) -> None:
    text = f"{klass}.{subject}.{detail}"
    assert parse_status_code(text) == StatusCode(klass, subject, detail)
    assert find_status_codes(f"said: {text} (x)") == [StatusCode(klass, subject, detail)]
