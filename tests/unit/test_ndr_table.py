"""The bundled code tables: every entry well formed, the promised codes present."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from typing import Any

import pytest

from mailprobe.ndr.codes import parse_status_code
from mailprobe.ndr.explain import explain
from mailprobe.ndr.table import (
    ALLOWED_SOURCES,
    CodeTable,
    Entry,
    TableError,
    code_kind,
    load_table,
    parse_table,
    validate_entry,
)

RFC3463_CODES = [
    "X.0.0",
    *(f"X.1.{d}" for d in range(9)),
    *(f"X.2.{d}" for d in range(5)),
    *(f"X.3.{d}" for d in range(6)),
    *(f"X.4.{d}" for d in range(8)),
    *(f"X.5.{d}" for d in range(6)),
    *(f"X.6.{d}" for d in range(6)),
    *(f"X.7.{d}" for d in range(8)),
]
IANA_CODES = [
    "X.1.9",
    "X.1.10",
    "X.3.6",
    "X.5.6",
    *(f"X.6.{d}" for d in range(6, 11)),
    *(f"X.7.{d}" for d in range(8, 31)),
]
REPLY_CODES = [
    "211",
    "214",
    "220",
    "221",
    "235",
    "250",
    "251",
    "252",
    "334",
    "354",
    "421",
    "432",
    "450",
    "451",
    "452",
    "454",
    "455",
    "500",
    "501",
    "502",
    "503",
    "504",
    "521",
    "530",
    "534",
    "535",
    "538",
    "550",
    "551",
    "552",
    "553",
    "554",
    "555",
    "556",
]
SEED_CODES = [
    "4.3.1",
    "4.3.2",
    "4.4.1",
    "4.4.2",
    "4.4.6",
    "4.4.7",
    "5.0.0",
    "5.1.0",
    "5.1.1",
    "5.1.3",
    "5.1.4",
    "5.1.6",
    "5.1.7",
    "5.2.1",
    "5.2.2",
    "5.2.3",
    "5.3.3",
    "5.3.5",
    "5.4.0",
    "5.4.4",
    "5.4.6",
    "5.4.8",
    "5.5.0",
    "5.5.2",
    "5.5.3",
    "5.7.1",
]


def _document(name: str) -> Any:
    resource = files("mailprobe.data").joinpath(name)
    if not resource.is_file():
        pytest.skip(f"{name} is not there yet")
    return json.loads(resource.read_text(encoding="utf-8"))


def _rfc_entries() -> list[Entry]:
    return parse_table(_document("ndr_rfc.json"), "ndr_rfc.json")


@pytest.mark.parametrize("name", ["ndr_rfc.json", "ndr_vendor.json"])
def test_every_entry_is_well_formed(name: str) -> None:
    entries = parse_table(_document(name), name)  # raises TableError on any schema problem
    assert entries
    for entry in entries:
        kind = code_kind(entry.code)
        assert kind is not None, entry.code
        if kind == "exact":
            status = parse_status_code(entry.code)
            assert status is not None and status.klass in (2, 4, 5)
        if kind == "range":
            low, high = entry.code.split("-")
            assert low.rsplit(".", 1)[0] == high.rsplit(".", 1)[0], entry.code
        assert entry.source in ALLOWED_SOURCES
        assert entry.title.strip() and entry.meaning.strip() and entry.reference.strip()
        assert entry.causes and all(c.strip() for c in entry.causes)
        assert entry.fixes and all(f.strip() for f in entry.fixes)
        for related in entry.related:
            assert code_kind(related) is not None, (entry.code, related)
        for command in entry.next_commands:
            assert command.startswith("mailprobe "), command
    pairs = Counter((e.code, e.source, e.title) for e in entries)
    assert not [p for p, n in pairs.items() if n > 1], "duplicate entries"


def test_rfc_table_covers_rfc3463_iana_and_reply_codes() -> None:
    by_code = {e.code: e for e in _rfc_entries()}
    for code in RFC3463_CODES:
        assert by_code[code].source == "rfc3463", code
    for code in IANA_CODES:
        assert by_code[code].source == "iana", code
    for code in REPLY_CODES:
        assert code in by_code, code
    assert by_code["521"].source == by_code["556"].source == "rfc7504"
    assert by_code["550"].source == "rfc5321"
    assert len(by_code) == len(RFC3463_CODES) + len(IANA_CODES) + len(REPLY_CODES)


def test_class_independent_entries_come_from_standards() -> None:
    for entry in _rfc_entries():
        if entry.code.startswith("X."):
            assert entry.source in ("rfc3463", "iana")


def test_load_table_merges_both_files() -> None:
    table = load_table()
    sources = {e.source for e in table.entries}
    assert {"rfc3463", "iana", "rfc5321"} <= sources
    assert load_table() is table  # read once


@pytest.mark.parametrize("code", SEED_CODES)
def test_seed_codes_have_an_exchange_meaning(code: str) -> None:
    _document("ndr_vendor.json")
    explanation = explain(code)
    exchange = [m for m in explanation.meanings if m.source in ("exchange2000", "exchange2003")]
    assert exchange, f"{code} has no Exchange 2000/2003 meaning"
    assert exchange[0].causes and exchange[0].fixes
    assert exchange[0].label == "Exchange 2000/2003"
    assert not explanation.generic


def test_seed_code_5_4_8_names_the_recipient_policy_cause() -> None:
    _document("ndr_vendor.json")
    meanings = [m for m in explain("5.4.8").meanings if m.source.startswith("exchange200")]
    text = " ".join(meanings[0].causes + meanings[0].fixes).lower()
    assert "recipient polic" in text and "fqdn" in text


GOOD = {
    "code": "5.1.1",
    "source": "rfc3463",
    "reference": "RFC 3463",
    "title": "t",
    "meaning": "m",
    "causes": ["c"],
    "fixes": ["f"],
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"code": "6.1.1"}, "is not C.S.D"),
        ({"code": "5.01.1"}, "is not C.S.D"),
        ({"code": "5.7.600-5.6.700"}, "is not C.S.D"),
        ({"code": "5.7.700-5.7.600"}, "is not C.S.D"),
        ({"source": "vendor-x"}, "source"),
        ({"causes": []}, "'causes' must not be empty"),
        ({"fixes": [""]}, "'fixes' must be a list"),
        ({"title": " "}, "'title'"),
        ({"related": ["5.x.1"]}, "related code"),
        ({"extra": 1}, "unknown field"),
    ],
)
def test_validate_entry_rejects(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(TableError, match=problem):
        validate_entry({**GOOD, **change}, "test entry 0")


def test_validate_entry_accepts_all_code_forms() -> None:
    for code in ("5.1.1", "X.1.1", "550", "5.7.500-5.7.699"):
        assert validate_entry({**GOOD, "code": code}, "t").code == code


def test_parse_table_rejects_wrong_shape() -> None:
    with pytest.raises(TableError, match="entries"):
        parse_table([], "x.json")


def test_range_and_class_independent_lookup_order() -> None:
    table = CodeTable(
        [
            validate_entry({**GOOD, "code": "X.7.555", "title": "standard"}, "a"),
            validate_entry(
                {**GOOD, "code": "5.7.500-5.7.699", "source": "exchange-online", "title": "r"},
                "b",
            ),
            validate_entry({**GOOD, "code": "5.7.555", "source": "outlook-com", "title": "e"}, "c"),
        ]
    )
    status = parse_status_code("5.7.555")
    assert status is not None
    assert [e.title for e in table.matches(status)] == ["e", "r", "standard"]
    other = parse_status_code("4.7.555")
    assert other is not None
    assert [e.title for e in table.matches(other)] == ["standard"]


def test_runtime_loader_reports_damaged_files() -> None:
    from mailprobe.ndr.table import _quick_entries

    assert _quick_entries({"entries": [GOOD]}, "x.json")[0].code == "5.1.1"
    for document in ({"entries": [{"code": "5.1.1"}]}, {"entries": None}, []):
        with pytest.raises(TableError, match=r"x\.json: malformed entry"):
            _quick_entries(document, "x.json")


def test_runtime_loader_matches_validated_entries() -> None:
    from mailprobe.ndr.table import _quick_entries

    for name in ("ndr_rfc.json", "ndr_vendor.json"):
        document = _document(name)
        assert _quick_entries(document, name) == parse_table(document, name)
