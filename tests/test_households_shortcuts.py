"""The households stage's shortcuts give what the plain computations they replace give.

Each case compares a fast path (packed sort keys, forms grouped as runs of the sorted
forms, address columns factorized once, strings joined per row) with the straightforward
computation on the same input, including the inputs that send it down its fallback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from linkage.address import (
    ParsedAddresses,
    _decoded,
    _exact_groups,
    _join,
    _tuple_ids,
    assign_address_keys,
    parse_addresses,
    standardise_addresses,
)
from linkage.households import build_households, lexsort_packed, newest_first

RNG_SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", RNG_SEEDS)
@pytest.mark.parametrize("date_span", [10, 10**15, 2**62])
def test_lexsort_packed_equals_lexsort(seed: int, date_span: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2_000
    keys = (
        rng.integers(-date_span, date_span, n, dtype=np.int64),  # wide: lexsort fallback
        rng.random(n) < 0.3,
        rng.random(n) < 0.5,
        rng.integers(0, 50, n),  # few persons: many ties, so stability shows
    )
    assert np.array_equal(lexsort_packed(keys), np.lexsort(keys))
    assert lexsort_packed((np.empty(0, dtype=np.int64),)).size == 0


@pytest.mark.parametrize(
    "stamps",
    [
        ["2024-01-01", "2023-05-06", None, "2024-01-01", "1931-02-03"],
        ["2024-01-01 07:29", "2024-01-01 08:03", None, "2023-12-31 23:59:59", "2024-01-01"],
        ["2024-01-01 07:29:00.000000001", "2024-01-01", None],
        [None, None],
    ],
)
def test_newest_first_orders_as_the_raw_ticks_do(stamps: list[str | None]) -> None:
    dates = pd.to_datetime(pd.Series(stamps, dtype=object), format="ISO8601")
    raw = -dates.fillna(pd.Timestamp(0)).to_numpy().astype("int64")
    ticks = newest_first(dates)
    assert np.array_equal(np.argsort(ticks, kind="stable"), np.argsort(raw, kind="stable"))
    assert np.array_equal(ticks[:, None] == ticks[None, :], raw[:, None] == raw[None, :])


def _partition(ids: np.ndarray) -> np.ndarray:
    return pd.factorize(ids)[0]


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_tuple_ids_equal_a_factorize_per_column(seed: int) -> None:
    rng = np.random.default_rng(seed)
    columns = [rng.integers(0, m, 5_000) for m in (3_000, 2**20, 2**31, 7, 2**40)]
    expected = np.zeros(5_000, dtype=np.int64)
    for column in columns:
        expected = pd.factorize(expected * (int(column.max()) + 1) + column)[0]
    assert np.array_equal(_tuple_ids(*columns), expected)


@pytest.mark.parametrize("pipe", [False, True])
def test_exact_groups_equal_joining_and_factorizing(pipe: bool) -> None:
    rng = np.random.default_rng(3)
    parts = [
        np.array(["CV11 4AA", "CV11 4AB", "B1 1AA", ""], dtype=object),
        np.array(["", "1", "2A", "GF"], dtype=object),
        np.array(["", "14", "14A", "3-5"], dtype=object),
        np.array(["", "OAK ROAD", "OAK RAOD", "ROSE COTTAGE"], dtype=object),
    ]
    rows = [part[rng.integers(0, 4, 400)] for part in parts]
    if pipe:  # a part holding "|" (never from the parser): the joined fallback
        rows[1] = np.where(rng.random(400) < 0.2, "1|", rows[1]).astype(object)
    forms = pd.Series(["|".join(r) for r in zip(*rows, strict=True)]).drop_duplicates()
    order = np.argsort(forms.to_numpy().astype(str), kind="stable")
    first = forms.index.to_numpy()[order]
    postcode, flat, number = (part[first] for part in rows[:3])
    expected = pd.factorize(postcode + "|" + flat + "|" + number)[0]
    assert np.array_equal(_partition(_exact_groups(postcode, flat, number)), _partition(expected))


def test_join_skips_empty_parts() -> None:
    parts = [
        np.array(["FLAT 1", "", "", "FLAT 2"], dtype=object),
        np.array(["", "", "ROSE COTTAGE", "X"], dtype=object),
        np.array(["14", "", "", ""], dtype=object),
    ]
    assert _join(*parts).tolist() == ["FLAT 1 14", "", "ROSE COTTAGE", "FLAT 2 X"]
    assert _join(np.empty(0, dtype=object)).size == 0


ADDRESSES = [
    ("14 Oak Road", None, "Nuneaton", "CV11 4AA", None),
    ("14 oak rd", "", "NUNEATON", "cv114aa", None),
    ("Flat 2, 14 Oak Road", None, "Nuneaton", "CV11 4AA", "100071234567"),
    ("Rose Cottage", "Mill Lane", None, "CV11 4AB", None),
    (None, None, None, None, None),
    ("14 Oak Raod", None, "Nuneaton", "CV11 4AA", None),
    ("No fixed abode", None, None, "ZZ99 3VZ", None),
    ("14 Oak Road", None, "Nuneaton", "CV11 4AA", None),
]
COLUMNS = ["address_1", "address_2", "town", "postcode", "uprn"]


@pytest.mark.parametrize("dtype", ["string", object])
def test_parse_with_a_previous_parse_equals_parsing_afresh(dtype: str | type) -> None:
    frame = pd.DataFrame(ADDRESSES, columns=COLUMNS).astype(dtype)
    half = parse_addresses(frame.iloc[[0, 3, 4, 6]])
    assert half.cache is not None
    warm = parse_addresses(frame, previous=half.cache)
    cold = parse_addresses(frame)
    assert warm.reused == 4  # rows 0, 3, 4 (no text at all: missing alike) and 6
    assert np.array_equal(warm.codes, cold.codes)
    pd.testing.assert_frame_equal(warm.standard, cold.standard)
    assert warm.cache is not None and cold.cache is not None
    pd.testing.assert_frame_equal(warm.cache.raw, cold.cache.raw)
    # Both dtypes parse alike.
    other = parse_addresses(pd.DataFrame(ADDRESSES, columns=COLUMNS).astype("string"))
    pd.testing.assert_frame_equal(cold.standard, other.standard)


def test_address_keys_of_object_and_string_columns_agree() -> None:
    frame = pd.DataFrame(ADDRESSES, columns=COLUMNS).astype("string")
    standard = standardise_addresses(frame)
    as_object = standard.astype({c: object for c in ("flat", "house_number", "street")})
    pd.testing.assert_series_equal(assign_address_keys(standard), assign_address_keys(as_object))


def _records(person_dtype: str | type) -> pd.DataFrame:
    rows = [
        ("gp:A:1", "P2", "gp", "2024-01-01", True, "14 Oak Road", "CV11 4AA"),
        ("ae:B:1", "P2", "ae", "2024-03-01 07:29", False, "1 Elm Road", "CV11 4AB"),
        ("ae:B:2", "P1", "ae", "2024-03-01 07:29", False, "14 Oak Rd", "CV11 4AA"),
        ("ae:B:3", "P1", "ae", "2024-03-01 07:29", False, "2 Elm Road", "CV11 4AB"),
        ("mh:C:1", "P3", "mh", None, False, "14 oak road", "CV11 4AA"),
        ("police:D:1", "P3", "police", "2024-02-01 23:59", False, "", ""),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "record_key",
            "person_ref",
            "source",
            "address_date",
            "gp_current",
            "address_1",
            "postcode",
        ],
    )
    frame["address_date"] = pd.to_datetime(frame["address_date"], format="ISO8601")
    for column in ("address_2", "town", "uprn"):
        frame[column] = pd.NA
    frame["sensitive"] = False
    text = ["record_key", "source", "address_1", "address_2", "town", "postcode", "uprn"]
    frame[text] = frame[text].astype("string")
    frame["person_ref"] = frame["person_ref"].astype(person_dtype)
    return frame


def test_households_of_string_and_object_person_refs_agree() -> None:
    string = build_households(_records("string"), as_of="2024-06-30", key=b"k")
    plain = build_households(_records(object), as_of="2024-06-30", key=b"k")
    pd.testing.assert_frame_equal(string.people, plain.people)
    pd.testing.assert_frame_equal(string.current, plain.current)
    # Ties on the latest timestamp go to the smallest record key ("ae:B:2" for P1).
    assert sorted(string.current["record_key"]) == ["ae:B:2", "gp:A:1", "mh:C:1"]
    assert string.people["household_ref"].nunique() == 1


@pytest.mark.parametrize("person_dtype", ["string", object])
def test_a_missing_person_ref_is_refused(person_dtype: str | type) -> None:
    records = _records(person_dtype)
    records.loc[2, "person_ref"] = None
    with pytest.raises(Exception, match="no person_ref"):
        build_households(records, as_of="2024-06-30", key=b"k")


def test_a_parse_read_back_equals_the_parse() -> None:
    frame = pd.DataFrame(ADDRESSES, columns=COLUMNS).astype(object)
    frame["uprn"] = None  # a raw column with no text at all is stored as nulls
    cache = parse_addresses(frame).cache
    assert cache is not None
    back = ParsedAddresses.from_bytes(cache.to_bytes())
    assert back is not None
    pd.testing.assert_frame_equal(back.raw, cache.raw)
    pd.testing.assert_frame_equal(back.standard, cache.standard)
    assert all(value is None for value in back.raw["uprn"])


def test_decoded_reads_each_row_group_with_its_own_dictionary() -> None:
    chunks = [
        pa.array(["B", None, "A", "B"]).dictionary_encode(),
        pa.array([None, None]).cast(pa.string()).dictionary_encode(),
        pa.array(["C", "B"]).dictionary_encode(),
    ]
    column = pa.chunked_array(chunks)
    assert _decoded(column, None).tolist() == ["B", None, "A", "B", None, None, "C", "B"]
