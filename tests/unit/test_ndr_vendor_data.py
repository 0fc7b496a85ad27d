"""Schema checks for the bundled vendor NDR table, mailprobe/data/ndr_vendor.json.

Self-contained on purpose: it reads the JSON directly, so it keeps guarding the data file
whatever shape the loader in mailprobe.ndr takes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib.resources import files
from typing import Any

import pytest

ALLOWED_SOURCES = {
    "exchange2000",
    "exchange2003",
    "exchange-server",
    "exchange-online",
    "outlook-com",
    "generic-smtp",
}
REQUIRED_FIELDS = {"code", "source", "reference", "title", "meaning", "causes", "fixes"}
OPTIONAL_FIELDS = {"related", "next_commands"}
ALLOWED_COMMANDS = {
    "mailprobe mx DOMAIN",
    "mailprobe ehlo HOST",
    "mailprobe relay-test HOST",
    "mailprobe check DOMAIN",
    "mailprobe ndr CODE",
}

# RFC 3463: class "." subject "." detail, subject and detail 1-3 digits without leading zeros.
EXACT_CODE = re.compile(r"^([245])\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$")

# Every code of Table 2 in the Exchange 2000 Server SMTP transport guide.
EXCHANGE2000_SEED_CODES = {
    "4.3.1", "4.3.2", "4.4.1", "4.4.2", "4.4.6", "4.4.7", "5.0.0", "5.1.0", "5.1.1",
    "5.1.3", "5.1.4", "5.1.6", "5.1.7", "5.2.1", "5.2.2", "5.2.3", "5.3.3", "5.3.5",
    "5.4.0", "5.4.4", "5.4.6", "5.4.8", "5.5.0", "5.5.2", "5.5.3", "5.7.1",
}  # fmt: skip

# Exchange Online codes the table promises to explain (exact codes or ranges as stored).
EXCHANGE_ONLINE_CODES = {
    "4.3.2", "4.4.7", "4.4.8", "4.4.316", "4.4.317", "4.5.3", "4.7.5", "4.7.26",
    "4.7.321", "4.7.322", "4.7.323", "4.7.324", "4.7.325", "4.7.500-4.7.699",
    "4.7.850-4.7.899", "5.0.350", "5.1.0", "5.1.1", "5.1.8", "5.1.10", "5.1.20",
    "5.1.90", "5.2.2", "5.2.121", "5.2.122", "5.3.190", "5.4.1", "5.4.8", "5.4.14",
    "5.4.300", "5.5.0", "5.6.0", "5.6.11", "5.7.1", "5.7.5", "5.7.12", "5.7.13",
    "5.7.23", "5.7.25", "5.7.57", "5.7.64", "5.7.124", "5.7.133", "5.7.134", "5.7.135",
    "5.7.136", "5.7.193", "5.7.321", "5.7.322", "5.7.323", "5.7.324", "5.7.325",
    "5.7.367", *(f"5.7.{n}" for n in range(501, 514)), "5.7.606-5.7.649", "5.7.703",
    "5.7.705", "5.7.708", "5.7.750", "5.7.800",
}  # fmt: skip


def _load_entries() -> list[dict[str, Any]]:
    text = files("mailprobe.data").joinpath("ndr_vendor.json").read_text(encoding="utf-8")
    document = json.loads(text)
    assert isinstance(document, dict), "top level must be an object"
    assert set(document) == {"entries"}, "top level holds only 'entries'"
    entries = document["entries"]
    assert isinstance(entries, list)
    return entries


ENTRIES = _load_entries()


def _entry_id(entry: dict[str, Any]) -> str:
    return f"{entry.get('source')}:{entry.get('code')}:{entry.get('title', '')[:30]}"


def _parse_exact(code: str) -> tuple[int, int, int] | None:
    match = EXACT_CODE.match(code)
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3])


def _is_valid_code(code: str) -> bool:
    """True for an exact code, or a range "low-high" of one class and subject with low < high."""
    if "-" not in code:
        return _parse_exact(code) is not None
    low_text, _, high_text = code.partition("-")
    low, high = _parse_exact(low_text), _parse_exact(high_text)
    if low is None or high is None:
        return False
    return low[:2] == high[:2] and low[2] < high[2]


def _codes_for(source: str) -> set[str]:
    return {entry["code"] for entry in ENTRIES if entry["source"] == source}


def test_table_is_not_empty() -> None:
    assert len(ENTRIES) >= 100


@pytest.mark.parametrize("entry", ENTRIES, ids=_entry_id)
def test_entry_has_exactly_the_schema_fields(entry: dict[str, Any]) -> None:
    keys = set(entry)
    assert keys >= REQUIRED_FIELDS, f"missing {REQUIRED_FIELDS - keys}"
    unknown = keys - REQUIRED_FIELDS - OPTIONAL_FIELDS
    assert not unknown, f"unknown fields {unknown}"


@pytest.mark.parametrize("entry", ENTRIES, ids=_entry_id)
def test_entry_code_and_source_are_valid(entry: dict[str, Any]) -> None:
    assert _is_valid_code(entry["code"]), entry["code"]
    assert entry["source"] in ALLOWED_SOURCES


@pytest.mark.parametrize("entry", ENTRIES, ids=_entry_id)
def test_entry_text_fields_are_non_empty(entry: dict[str, Any]) -> None:
    for field in ("reference", "title", "meaning"):
        value = entry[field]
        assert isinstance(value, str)
        assert value.strip() == value
        assert value, f"{field} is empty"
    for field in ("causes", "fixes"):
        items = entry[field]
        assert isinstance(items, list)
        assert items, f"{field} is empty"
        assert all(isinstance(item, str) and item.strip() for item in items), field
        assert len(set(items)) == len(items), f"{field} repeats an item"


@pytest.mark.parametrize("entry", ENTRIES, ids=_entry_id)
def test_entry_optional_fields_are_well_formed(entry: dict[str, Any]) -> None:
    related = entry.get("related", [])
    assert isinstance(related, list)
    assert all(isinstance(code, str) and _parse_exact(code) for code in related), related
    assert entry["code"] not in related, "an entry should not list itself as related"
    assert len(set(related)) == len(related)

    commands = entry.get("next_commands", [])
    assert isinstance(commands, list)
    assert set(commands) <= ALLOWED_COMMANDS, set(commands) - ALLOWED_COMMANDS
    assert len(set(commands)) == len(commands)


def test_no_duplicate_code_source_title() -> None:
    # One code may carry several meanings from one source (e.g. Exchange Online 5.7.1),
    # so the key is (code, source, title), not (code, source).
    counts = Counter((entry["code"], entry["source"], entry["title"]) for entry in ENTRIES)
    duplicates = [key for key, count in counts.items() if count > 1]
    assert not duplicates


def test_same_code_and_source_differ_in_title_and_meaning() -> None:
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in ENTRIES:
        by_key.setdefault((entry["code"], entry["source"]), []).append(entry)
    for key, group in by_key.items():
        if len(group) > 1:
            assert len({entry["meaning"] for entry in group}) == len(group), key


def test_every_exchange2000_seed_code_is_present() -> None:
    missing = EXCHANGE2000_SEED_CODES - _codes_for("exchange2000")
    assert not missing


def test_promised_exchange_online_codes_are_present() -> None:
    missing = EXCHANGE_ONLINE_CODES - _codes_for("exchange-online")
    assert not missing


def test_clashing_meanings_of_5_4_8_are_kept_apart_by_source() -> None:
    titles = {
        entry["source"]: entry["title"].lower() for entry in ENTRIES if entry["code"] == "5.4.8"
    }
    assert "recipient policy" in titles["exchange2000"]
    assert "mta-sts" in titles["exchange-online"]


def test_exchange_online_5_4_1_and_5_7_1_keep_each_meaning() -> None:
    def titles(code: str) -> set[str]:
        return {
            entry["title"]
            for entry in ENTRIES
            if entry["code"] == code and entry["source"] == "exchange-online"
        }

    assert len(titles("5.4.1")) >= 2
    assert {"Delivery not authorized", "Unable to relay", "Client was not authenticated"} <= (
        titles("5.7.1")
    )


@pytest.mark.parametrize(
    ("code", "command"),
    [
        ("5.4.0", "mailprobe mx DOMAIN"),
        ("5.7.1", "mailprobe relay-test HOST"),
        ("5.5.0", "mailprobe ehlo HOST"),
        ("4.4.1", "mailprobe ehlo HOST"),
        ("4.4.1", "mailprobe mx DOMAIN"),
        ("4.4.2", "mailprobe ehlo HOST"),
        ("4.4.2", "mailprobe mx DOMAIN"),
        ("4.4.7", "mailprobe check DOMAIN"),
    ],
)
def test_exchange2000_suggested_next_commands(code: str, command: str) -> None:
    suggested = {
        suggestion
        for entry in ENTRIES
        if entry["code"] == code and entry["source"] == "exchange2000"
        for suggestion in entry.get("next_commands", [])
    }
    assert command in suggested


def test_exchange2000_notes_survive() -> None:
    by_code = {entry["code"]: entry for entry in ENTRIES if entry["source"] == "exchange2000"}
    assert "15" in by_code["4.4.6"]["meaning"]
    assert "5,000" in by_code["5.5.3"]["meaning"]
    assert "SP1" in by_code["5.0.0"]["meaning"]
