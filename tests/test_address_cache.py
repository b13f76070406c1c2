"""The address-parse cache: last night's parses reused must be exactly tonight's parses."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage import address
from linkage.address import (
    ADDRESS_COLUMNS,
    ParsedAddresses,
    parse_addresses,
    standardise_addresses,
)
from linkage.households import build_households

KEY = b"test-household-key"

NIGHT_1 = [
    ("14 High St", "Foleshill", "Coventry", "cv6 5aa", None),
    ("Flat 2, 14 High St", None, "Coventry", "CV6 5AA", None),
    ("flat 2 14 high street", "", "coventry", "CV65AA", None),
    ("Rose Cottage", "Mill Lane", "Bedworth", "CV12 9LZ", "100070390546"),
    ("2/14 Oak Rd", None, "Gt Barr", "B43 6AA", None),
    ("NFA", None, None, "ZZ99 3VZ", None),
    (None, None, None, None, None),
    ("Ground Floor Flat, 3 St Johns Road", "", "St Albans", "AL1 3AA", "0100070390547"),
    ("7 Quinton Close", "Quinton", "Birmingham", "B17 6PT", None),
    ("7 Quinton Close", "Quinton", "Birmingham", "B17 6PT", None),
]


def _frame(rows: list[tuple[str | None, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(ADDRESS_COLUMNS))
    return frame.astype("string")


def _night_2() -> pd.DataFrame:
    """Night 1 reordered, one address moved, one line changed, a missing part now blank,
    a UPRN added, and addresses never seen."""
    rows = list(reversed(NIGHT_1))
    rows[0] = ("9 Benchmark Road", None, "Coventry", "CV6 5AA", None)  # moved
    rows[1] = ("7 Quinton Cl", "Quinton", "Birmingham", "B17 6PT", None)  # line changed
    rows[3] = ("NFA", "", None, "ZZ99 3VZ", None)  # None became ""
    rows[4] = ("Rose Cottage", "Mill Lane", "Bedworth", "CV12 9LZ", "100070390599")
    rows += [("Apartment 12, The Old Mill", "Mill St", "Warwick", "CV34 4AB", None)] * 2
    return _frame(rows)


def _round_trip(parsed: ParsedAddresses | None) -> ParsedAddresses:
    assert parsed is not None
    restored = ParsedAddresses.from_bytes(parsed.to_bytes())
    assert restored is not None
    return restored


def test_reused_parses_equal_parsing_afresh() -> None:
    cache = _round_trip(parse_addresses(_frame(NIGHT_1)).cache)
    night_2 = _night_2()
    warm = parse_addresses(night_2, previous=cache)
    # Both paths ran: some addresses came from the cache and some were parsed.
    assert 0 < warm.reused < len(warm.standard)
    pd.testing.assert_frame_equal(
        standardise_addresses(night_2, previous=cache), standardise_addresses(night_2)
    )
    # The cache carried on is tonight's distinct addresses, as a cold parse leaves it.
    cold = parse_addresses(night_2)
    assert warm.cache is not None and cold.cache is not None
    pd.testing.assert_frame_equal(warm.cache.raw, cold.cache.raw)
    pd.testing.assert_frame_equal(warm.cache.standard, cold.cache.standard)
    np.testing.assert_array_equal(warm.codes, cold.codes)


def test_everything_reused_when_nothing_changed() -> None:
    frame = _frame(NIGHT_1)
    cache = _round_trip(parse_addresses(frame).cache)
    warm = parse_addresses(frame.iloc[::-1], previous=cache)
    assert warm.reused == len(warm.standard)
    pd.testing.assert_frame_equal(
        standardise_addresses(frame.iloc[::-1], previous=cache),
        standardise_addresses(frame.iloc[::-1]),
    )


def test_standardise_addresses_is_a_per_row_function() -> None:
    """What the cache rests on: a row's parse does not depend on the other rows."""
    frame = _night_2()
    whole = standardise_addresses(frame)
    for i in range(len(frame)):
        pd.testing.assert_frame_equal(standardise_addresses(frame.iloc[[i]]), whole.iloc[[i]])


def test_a_cache_from_another_parser_or_layout_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blob = _round_trip(parse_addresses(_frame(NIGHT_1)).cache).to_bytes()
    assert ParsedAddresses.from_bytes(blob) is not None
    monkeypatch.setattr(address, "PARSE_CACHE_VERSION", address.PARSE_CACHE_VERSION + 1)
    assert ParsedAddresses.from_bytes(blob) is None
    monkeypatch.undo()
    stamp = address._parser_stamp()
    monkeypatch.setattr(address, "_parser_stamp", lambda: {**stamp, "parser": "edited"})
    assert ParsedAddresses.from_bytes(blob) is None


def test_an_unreadable_cache_is_ignored() -> None:
    assert ParsedAddresses.from_bytes(b"not a parquet file") is None


def test_a_stale_entry_is_used_only_for_its_exact_raw_address() -> None:
    """A cache entry deliberately wrong for its raw address shows which rows were reused:
    only rows with all five raw values equal (missing and blank told apart)."""
    cache = _round_trip(parse_addresses(_frame(NIGHT_1)).cache)
    poisoned = cache.standard.copy()
    poisoned["street"] = pd.array(["POISON"] * len(poisoned), dtype="string")
    cache = ParsedAddresses(raw=cache.raw, standard=poisoned)
    night_2 = _night_2()
    warm = standardise_addresses(night_2, previous=cache)
    seen = night_2.astype(object).where(night_2.notna(), None)
    known = {tuple(row) for row in cache.raw.itertuples(index=False)}
    reused = np.array([tuple(row) in known for row in seen.itertuples(index=False)])
    assert reused.any() and not reused.all()
    assert (warm.loc[reused, "street"] == "POISON").all()
    assert not (warm.loc[~reused, "street"] == "POISON").any()


def test_addresses_that_are_not_text_are_parsed_but_not_cached() -> None:
    frame = _frame(NIGHT_1).astype({"uprn": object})
    frame.loc[0, "uprn"] = 100070390546  # a number, not its text
    parse = parse_addresses(frame)
    assert parse.cache is None
    cache = _round_trip(parse_addresses(_frame(NIGHT_1)).cache)
    pd.testing.assert_frame_equal(
        standardise_addresses(frame, previous=cache), standardise_addresses(frame)
    )


def _records(rows: list[tuple[str | None, ...]]) -> pd.DataFrame:
    frame = _frame(rows)
    frame.insert(0, "record_key", pd.array([f"gp:A:{i:03d}" for i in range(len(rows))]))
    frame.insert(1, "person_ref", pd.array([f"P{i // 2:03d}" for i in range(len(rows))]))
    frame["source"] = pd.array(["gp"] * len(rows), dtype="string")
    frame["sensitive"] = False
    frame["address_date"] = pd.Timestamp("2024-01-01")
    frame["gp_current"] = np.arange(len(rows)) % 2 == 0
    return frame


def test_households_with_the_cache_equal_households_without() -> None:
    night_1 = build_households(_records(NIGHT_1), as_of="2024-06-30", key=KEY)
    cache = _round_trip(night_1.parsed)
    records = _records(list(_night_2()[list(ADDRESS_COLUMNS)].itertuples(index=False)))
    warm = build_households(records, as_of="2024-06-30", key=KEY, parse_cache=cache)
    cold = build_households(records, as_of="2024-06-30", key=KEY)
    for part in ("people", "addresses", "current"):
        pd.testing.assert_frame_equal(getattr(warm, part), getattr(cold, part))


def test_pipeline_night_2_with_the_cache_equals_night_2_without(tmp_path: Path) -> None:
    from adapters.store import Store
    from sample_data import STANDARD_DIR
    from tests.test_pipeline import _files, _night

    input_dir = tmp_path / "input"
    shutil.copytree(STANDARD_DIR, input_dir, ignore=shutil.ignore_patterns("truth"))
    store = tmp_path / "store.db"
    assert _night(input_dir, tmp_path / "night1", store).exit_code == 0  # type: ignore[attr-defined]
    assert Store(f"sqlite:///{store}").night_state("addresses") is not None
    assert Store(f"sqlite:///{store}").night_state("household_refs") is not None
    gp = pd.read_csv(input_dir / "gp_patients.csv", dtype=str, keep_default_na=False)
    gp.loc[gp.index[:5], "address_1"] = [f"{n} Cache Test Road" for n in range(5)]
    gp.to_csv(input_dir / "gp_patients.csv", index=False)
    snapshot = tmp_path / "after-night-1.db"
    shutil.copy(store, snapshot)

    assert _night(input_dir, tmp_path / "warm", store).exit_code == 0  # type: ignore[attr-defined]
    shutil.copy(snapshot, store)
    with sqlite3.connect(store) as conn:
        conn.execute("DELETE FROM night_state WHERE name IN ('addresses', 'household_refs')")
    assert _night(input_dir, tmp_path / "cold", store).exit_code == 0  # type: ignore[attr-defined]
    assert _files(tmp_path / "warm") == _files(tmp_path / "cold")
