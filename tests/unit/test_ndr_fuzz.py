"""Hypothesis: every ndr parser eats arbitrary text or bytes and raises nothing but UsageError."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailprobe.errors import UsageError
from mailprobe.ndr.bounce import parse_bounce
from mailprobe.ndr.codes import StatusCode, check_code, find_status_codes, parse_status_code
from mailprobe.ndr.explain import explain
from mailprobe.ndr.model import CodeExplanation
from mailprobe.ndr.query import explain_arguments
from mailprobe.ndr.reply import parse_reply

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bounces"
_SAMPLES = [p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.is_file()]
_FRAGMENTS = [
    "550 5.1.1 ",
    "550-5.1.1 ",
    "#5.7.1 smtp;530 ",
    "<bob@example.com>: ",
    "host mx.example.com[192.0.2.1] said: ",
    "Remote Server returned '",
    "Final-Recipient: rfc822; a@b.example\n",
    "Status: ",
    "Diagnostic-Code: smtp; ",
    'Content-Type: multipart/report; boundary="b"\n',
    "--b\n",
    "Content-Type: message/delivery-status\n\n",
    "Content-Transfer-Encoding: base64\n",
    "=?utf-8?b?w7w=?=",
    "\n",
    "\n\n",
    " ",
    "5.",
    "0",
    "999",
    ":",
    ";",
    "@",
]
_code_text = st.text(alphabet="0123456789.x- 5", max_size=12)
_bounce_text = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=20)), max_size=40
).map("".join)

_FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.one_of(st.text(max_size=30), _code_text))
def test_check_code_and_explain(text: str) -> None:
    try:
        code = check_code(text)
    except UsageError:
        return
    assert isinstance(code, StatusCode | str)
    assert isinstance(explain(text), CodeExplanation)


@_FUZZ
@given(st.text(max_size=300))
def test_parse_reply_never_raises(text: str) -> None:
    found = parse_reply(text)
    for code in found.status_codes:
        assert parse_status_code(str(code)) == code
    for code in find_status_codes(text):
        assert code.klass in (2, 4, 5)
    assert "\n" not in found.text


@_FUZZ
@given(st.lists(st.one_of(st.text(max_size=40), _code_text), max_size=5))
def test_explain_arguments_only_usage_errors(arguments: list[str]) -> None:
    try:
        queries = explain_arguments(arguments)
    except UsageError:
        return
    assert queries and all(q.explanations for q in queries)


@_FUZZ
@given(st.binary(max_size=2000))
def test_parse_bounce_binary(data: bytes) -> None:
    with contextlib.suppress(UsageError):
        parse_bounce(data, "fuzz")


@_FUZZ
@given(_bounce_text)
def test_parse_bounce_text(text: str) -> None:
    try:
        report = parse_bounce(text.encode("utf-8", "surrogatepass"), "fuzz")
    except UsageError:
        return
    known = {e.code for e in report.explanations}
    for recipient in report.recipients:
        assert recipient.codes and set(recipient.codes) <= known


@_FUZZ
@given(st.sampled_from(_SAMPLES), st.integers(0, 5000), st.binary(max_size=50))
def test_parse_bounce_mutated_fixtures(sample: bytes, position: int, insert: bytes) -> None:
    data = sample[:position] + insert + sample[position + len(insert) :]
    with contextlib.suppress(UsageError):
        parse_bounce(data, "fuzz")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(st.text(max_size=40), _code_text, st.sampled_from(_FRAGMENTS)), max_size=4),
    st.booleans(),
)
def test_whole_command_only_explains_or_refuses(arguments: list[str], as_json: bool) -> None:
    import contextlib
    import io

    from mailprobe.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    argv = ["--json"] if as_json else []
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        # Without "--" (when possible) the fast path runs, with it typer parses.
        separator = ["--"] if any(a.startswith("-") for a in arguments) else []
        code = main([*argv, "ndr", *separator, *arguments])
    assert code in (0, 2), err.getvalue()
    assert "internal error" not in err.getvalue()
    if code == 2:
        assert err.getvalue().startswith("mailprobe: error: ")
