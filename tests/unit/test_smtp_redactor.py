"""The session core's safety nets used by ehlo: secret redaction and argument checks."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mailprobe.errors import UsageError
from mailprobe.model import Failure
from mailprobe.smtp.redact import REDACTED, Redactor, redact_tree
from mailprobe.smtp.session import Reply, TranscriptLine, check_argument
from mailprobe.text import clean_line, show_controls


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
    assume(secret.strip())  # white space alone is replaced by position only (see Redactor)
    redactor = Redactor([secret])
    assert secret not in redactor(before + secret + after)
    assert secret not in redactor.auth_reply(before + secret + after)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("secret", [" p w ", "p\u00a0w\u200bd", "p\tw d", "p\u00e4ssw\u00f6rd"])
def test_the_shown_forms_of_a_secret_are_replaced(secret: str) -> None:
    """As peer text is normalised, as error lines collapse spaces, as escapes show it."""
    redactor = Redactor()
    redactor.add_credentials("alice", secret)
    for shown in (
        secret,
        clean_line(secret),
        " ".join(secret.split()),
        show_controls(secret),
        ascii(secret)[1:-1],
        _b64(secret),
        _b64(secret).rstrip("="),
        _b64(f"\0alice\0{secret}"),
        _b64(f"\0alice\0{secret}").rstrip("="),
    ):
        result = redactor(f"x {shown} y")
        assert REDACTED in result and shown.strip() not in result, (shown, result)
        assert result.startswith("x") and result.endswith("y")
    # normalising a reply that echoed it leaves a form that is still recognised
    result = redactor(clean_line(f"535 you said: {secret}."))
    assert result.startswith("535 you said:") and result.endswith(f"{REDACTED}.")
    assert clean_line(secret) not in result


def test_a_short_secret_is_replaced_by_position_as_a_whole_token() -> None:
    redactor = Redactor()
    redactor.add_credentials("alice", "a")
    assert redactor("a mail about a thing") == "a mail about a thing"  # anywhere: never
    assert redactor.auth_reply("535 you said [a], a.") == f"535 you said [{REDACTED}], {REDACTED}."
    assert redactor.auth_reply("535 mail a") == f"535 mail {REDACTED}"  # not the a of "mail"
    assert redactor.auth_reply("334 YQ") == f"334 {REDACTED}"  # the base64 "YQ==" unpadded
    assert redactor("got YQ== and AGFsaWNlAGE") == f"got {REDACTED} and {REDACTED}"


def test_white_space_alone_is_not_searched_anywhere() -> None:
    redactor = Redactor(["   "])
    assert redactor("a   table   row") == "a   table   row"
    assert redactor.auth_reply("535 [   ]") == f"535 [{REDACTED}]"


def test_reply_is_redacted_before_it_is_normalised() -> None:
    redactor = Redactor([" p w "])
    reply = Reply.from_message(535, "5.7.8 you said < p w >\n5.7.8 and\t p w", redactor)
    # the reply keeps the server's exact text (the TAB too); only the secret is gone
    assert reply.lines == (f"5.7.8 you said <{REDACTED}>", f"5.7.8 and\t {REDACTED}")
    plain = Reply.from_message(535, "5.7.8 you said < p w >")
    assert plain.lines == ("5.7.8 you said < p w >",)  # without a redactor: as before


def test_reply_is_redacted_before_it_is_cut() -> None:
    """A secret across the cut of an overlong line is replaced before the line is cut."""
    from mailprobe.text import CUT_MARK, MAX_REPLY_LINE

    secret = "s3cr3t-Pa55word"
    redactor = Redactor([secret])
    raw = "x" * (MAX_REPLY_LINE - 10) + secret + "y" * 50
    reply = Reply.from_message(535, raw, redactor)
    (line,) = reply.lines
    assert len(line) == MAX_REPLY_LINE and line.endswith(CUT_MARK)
    assert secret[:5] not in line and REDACTED[:1] in line[MAX_REPLY_LINE - 12 :]


@dataclasses.dataclass(frozen=True)
class _Auth:
    mechanism: str
    reply: str
    note: str


@dataclasses.dataclass(frozen=True)
class _Run:
    transcript: tuple[TranscriptLine, ...]
    auth: _Auth
    notes: list[str]
    by_host: dict[str, str]


def test_redact_tree_walks_every_string_and_knows_auth_positions() -> None:
    redactor = Redactor()
    redactor.add_credentials("alice", "ab")
    secret_b64 = _b64("\0alice\0ab")
    run = _Run(
        transcript=(
            TranscriptLine(0.0, "server", "250 ab"),
            TranscriptLine(0.1, "client", f"AUTH PLAIN {REDACTED}"),
            TranscriptLine(0.2, "server", "535 no ab"),
            TranscriptLine(0.3, "client", "QUIT"),
            TranscriptLine(0.4, "server", "221 ab"),
        ),
        auth=_Auth("PLAIN", "535 ab", "ab"),
        notes=[f"blob {secret_b64}"],
        by_host={f"k{secret_b64}": "ab"},
    )
    clean = redact_tree(run, redactor)
    assert [line.text for line in clean.transcript] == [
        "250 ab",  # before the credentials: a short secret is not searched
        f"AUTH PLAIN {REDACTED}",
        f"535 no {REDACTED}",  # the reply to the credentials
        "QUIT",
        "221 ab",
    ]
    assert clean.auth == _Auth("PLAIN", f"535 {REDACTED}", "ab")  # the reply of an AUTH result
    assert clean.notes == [f"blob {REDACTED}"]
    assert clean.by_host == {f"k{REDACTED}": "ab"}
    assert run.notes == [f"blob {secret_b64}"]  # the original is untouched
    unchanged = _Run((), _Auth("PLAIN", "235 ok", ""), [], {})
    assert redact_tree(unchanged, redactor) is unchanged
    # a failure of the AUTH step quotes the AUTH reply; any other step's is not searched
    auth_failure = Failure("AUTH", "not SMTP: you said ab", "h", 25)
    mail_failure = Failure("MAIL", "550 ab", "h", 25)
    assert redact_tree(auth_failure, redactor).message == f"not SMTP: you said {REDACTED}"
    assert redact_tree(mail_failure, redactor) is mail_failure
    as_json = {"step": "AUTH", "text": "you said ab", "message": "ab"}
    assert redact_tree(as_json, redactor) == {
        "step": "AUTH",
        "text": f"you said {REDACTED}",
        "message": REDACTED,
    }


@pytest.mark.parametrize("bad", ["a\r\nb", "a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x7fb"])
def test_check_argument_refuses_control_characters(bad: str) -> None:
    with pytest.raises(UsageError):
        check_argument(bad, "test value")


def test_check_argument_accepts_normal_text() -> None:
    assert check_argument("user@example.org", "sender") == "user@example.org"
