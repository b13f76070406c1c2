"""Address standardisation and address keys: tables of cases (synthetic addresses only)."""

from __future__ import annotations

import pandas as pd
import pytest

from adapters.errors import ConfigError, DalinkError
from linkage.address import (
    AddressMatchSettings,
    address_keys,
    assign_address_keys,
    factorize_sorted,
    normalise_postcodes,
    standardise_addresses,
)


def _frame(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["address_1", "address_2", "town", "postcode", "uprn"], dtype="string"
    ).replace("", pd.NA)


# (address_1, address_2, postcode) -> (flat, house_number, house_name, street, postcode)
PARSE_CASES = [
    ("14 Oak Rd", "", "cv11 4aa", ("", "14", "", "OAK ROAD", "CV11 4AA")),
    ("14, Oak Road", "", "CV114AA", ("", "14", "", "OAK ROAD", "CV11 4AA")),
    ("14 OAK ROAD", "", " cv11  4AA ", ("", "14", "", "OAK ROAD", "CV11 4AA")),
    ("14A Oak Road", "", "CV11 4AA", ("", "14A", "", "OAK ROAD", "CV11 4AA")),
    ("14a oak road", "", "CV11 4AA", ("", "14A", "", "OAK ROAD", "CV11 4AA")),
    ("Flat 1, 14 Oak Road", "", "CV11 4AA", ("1", "14", "", "OAK ROAD", "CV11 4AA")),
    ("Flat 2A 14 Oak Road", "", "CV11 4AA", ("2A", "14", "", "OAK ROAD", "CV11 4AA")),
    ("2/14 Oak Road", "", "CV11 4AA", ("2", "14", "", "OAK ROAD", "CV11 4AA")),
    ("Apartment 3", "5 Elm Gr", "CV1 1AA", ("3", "5", "", "ELM GROVE", "CV1 1AA")),
    ("Unit 1", "7 Mill Ln", "CV1 1AB", ("1", "7", "", "MILL LANE", "CV1 1AB")),
    ("Room 12, 40 Park Ave", "", "CV1 1AC", ("12", "40", "", "PARK AVENUE", "CV1 1AC")),
    ("14-16 Market Pl", "", "CV1 1AD", ("", "14-16", "", "MARKET PLACE", "CV1 1AD")),
    ("14 - 16 Market Place", "", "CV1 1AD", ("", "14-16", "", "MARKET PLACE", "CV1 1AD")),
    ("3 High St", "Bedworth", "CV12 8AA", ("", "3", "", "HIGH STREET", "CV12 8AA")),
    ("14 St Johns Rd", "", "CV11 4AB", ("", "14", "", "SAINT JOHNS ROAD", "CV11 4AB")),
    ("14 St. John's Road", "", "CV11 4AB", ("", "14", "", "SAINT JOHNS ROAD", "CV11 4AB")),
    (
        "St Annes Ct",
        "2 Church St",
        "CV2 2AA",
        ("", "2", "SAINT ANNES COURT", "CHURCH STREET", "CV2 2AA"),
    ),
    ("Rose Cottage", "Mill Ln", "CV7 9ZZ", ("", "", "ROSE COTTAGE", "MILL LANE", "CV7 9ZZ")),
    ("Rose Cottage", "", "CV7 9ZZ", ("", "", "ROSE COTTAGE", "", "CV7 9ZZ")),
    ("Rose Cottage, 3 Mill Lane", "", "CV7 9ZY", ("", "3", "ROSE COTTAGE", "MILL LANE", "CV7 9ZY")),
    ("Ground Floor Flat", "22 Elm Grove", "CV1 1AA", ("GF", "22", "", "ELM GROVE", "CV1 1AA")),
    ("22 Acacia Cres", "", "CV3 3AA", ("", "22", "", "ACACIA CRESCENT", "CV3 3AA")),
    ("8 Linden Cl", "", "CV3 3AB", ("", "8", "", "LINDEN CLOSE", "CV3 3AB")),
    ("9 Beech Dr", "", "CV3 3AD", ("", "9", "", "BEECH DRIVE", "CV3 3AD")),
    ("1 Holly Gdns", "", "CV3 3AE", ("", "1", "", "HOLLY GARDENS", "CV3 3AE")),
    ("2 Ash Sq", "", "CV3 3AF", ("", "2", "", "ASH SQUARE", "CV3 3AF")),
    ("3 Yew Ter", "", "CV3 3AG", ("", "3", "", "YEW TERRACE", "CV3 3AG")),
    ("4 Elm Grn", "", "CV3 3AH", ("", "4", "", "ELM GREEN", "CV3 3AH")),
    ("5 Fir Pk", "", "CV3 3AJ", ("", "5", "", "FIR PARK", "CV3 3AJ")),
    ("6 Oak Wy", "", "CV3 3AL", ("", "6", "", "OAK WAY", "CV3 3AL")),
    ("No 7 Birch Grv", "", "CV3 3AN", ("", "7", "", "BIRCH GROVE", "CV3 3AN")),
    ("12 Oak Road CV11 4AA", "", "", ("", "12", "", "OAK ROAD", "CV11 4AA")),
    # Lines that need only some of the passes (each pass runs only where it can change
    # something): untidy commas and spaces alone, several components cut from one line.
    ("14  Oak  Rd ,", " , ", "CV11 4AA", ("", "14", "", "OAK ROAD", "CV11 4AA")),
    (" , 14 Oak Road", "", "CV11 4AA", ("", "14", "", "OAK ROAD", "CV11 4AA")),
    ("14\tOak\u00a0Road", "", "CV11 4AA", ("", "14", "", "OAK ROAD", "CV11 4AA")),
    ("Flat 3, 12 Oak Road CV11 4AA", "", "", ("3", "12", "", "OAK ROAD", "CV11 4AA")),
    ("First Floor Flat, 22 Elm Grove", "", "CV1 1AA", ("1F", "22", "", "ELM GROVE", "CV1 1AA")),
    ("Top floor", "3 Mill Lane", "CV1 1AB", ("TF", "3", "", "MILL LANE", "CV1 1AB")),
    ("Maisonette 2", "14 Oak Road", "CV1 1AA", ("2", "14", "", "OAK ROAD", "CV1 1AA")),
    ("Apt B, Rose Court", "Mill Lane", "CV1 1AB", ("B", "", "ROSE COURT", "MILL LANE", "CV1 1AB")),
    ("No. 7 St Marys Ct", "", "CV3 3AN", ("", "7", "", "SAINT MARYS COURT", "CV3 3AN")),
]


@pytest.mark.parametrize(("address_1", "address_2", "postcode", "expected"), PARSE_CASES)
def test_parse_components(
    address_1: str, address_2: str, postcode: str, expected: tuple[str, ...]
) -> None:
    std = standardise_addresses(_frame([(address_1, address_2, "", postcode, "")]))
    row = std.iloc[0]
    columns = ("flat", "house_number", "house_name", "street", "postcode")
    got = tuple("" if pd.isna(row[c]) else str(row[c]) for c in columns)
    assert got == expected
    assert bool(std.loc[0, "usable"])


# Pairs of (address_1, postcode, uprn): same address key or not.
SAME_CASES = [
    (("14 Oak Rd", "CV11 4AA", ""), ("14, Oak Road", "cv114aa", ""), True),
    (("14 Oak Road", "CV11 4AA", ""), ("14A Oak Road", "CV11 4AA", ""), False),
    (("Flat 1, 14 Oak Road", "CV11 4AA", ""), ("Flat 2, 14 Oak Road", "CV11 4AA", ""), False),
    (("Flat 2, 14 Oak Road", "CV11 4AA", ""), ("2/14 Oak Road", "CV11 4AA", ""), True),
    (("Flat 2, 14 Oak Road", "CV11 4AA", ""), ("14 Oak Road", "CV11 4AA", ""), False),
    (("14 Oak Road", "CV11 4AA", ""), ("14 Oak Raod", "CV11 4AA", ""), True),
    (("14 Oak Road", "CV11 4AA", ""), ("14 Elm Road", "CV11 4AA", ""), False),
    (("14 Oak Road", "CV11 4AA", ""), ("15 Oak Road", "CV11 4AA", ""), False),
    (("14 Oak Road", "CV11 4AA", ""), ("14 Oak Road", "CV11 4AB", ""), True),
    (("14 Oak Road", "CV11 4AA", ""), ("14 Oak Road", "CV11 5BB", ""), False),
    (("14 High St", "CV11 4AA", ""), ("14 High Street", "CV12 4AA", ""), False),
    (("14 Oak Road", "CV11 4AA", ""), ("14 Oak Road", "CV11 4BA", ""), True),
    (("14 Oak Road", "CV11 4AA", ""), ("14 Oak Road", "CV11 4BB", ""), False),
    (("Flat 1, 14 Oak Road", "CV11 4AA", ""), ("Flat 2, 14 Oak Road", "CV11 4AB", ""), False),
    (("14 St Johns Rd", "CV11 4AA", ""), ("14 Saint John's Road", "CV11 4AA", ""), True),
    (("14-16 Market Pl", "CV1 1AD", ""), ("14 Market Place", "CV1 1AD", ""), False),
    (("Rose Cottage", "CV7 9ZZ", ""), ("ROSE COTTAGE.", "CV7 9ZZ", ""), True),
    (("Rose Cottage", "CV7 9ZZ", ""), ("Ivy Cottage", "CV7 9ZZ", ""), False),
    # Named houses get no postcode-typo tolerance: too often two different houses.
    (("Rose Cottage", "CV7 9ZZ", ""), ("Rose Cottage", "CV7 9ZY", ""), False),
    (("14 Oak Road", "CV11 4AA", "100012345"), ("Flat 9 Other St", "CV1 1AA", "100012345"), True),
    (("14 Oak Road", "CV11 4AA", "100012345"), ("14 Oak Road", "CV11 4AA", "100099999"), False),
    (("14 Oak Road", "CV11 4AA", "100012345"), ("14 Oak Rd", "CV11 4AA", ""), True),
]


@pytest.mark.parametrize(("a", "b", "same"), SAME_CASES)
def test_address_key_pairs(a: tuple[str, str, str], b: tuple[str, str, str], same: bool) -> None:
    frame = _frame([(a[0], "", "", a[1], a[2]), (b[0], "", "", b[1], b[2])])
    keys = address_keys(frame)["address_key"]
    assert keys.notna().all()
    assert (keys[0] == keys[1]) is same


NFA_CASES = [
    ("NFA", "", "", True),
    ("n.f.a.", "", "", True),
    ("No Fixed Abode", "", "CV1 1AA", True),
    ("no fixed abode,", "", "", True),
    ("1 Somewhere Road", "", "ZZ99 3VZ", True),
    ("1 Somewhere Road", "", "zz993cz", True),
    ("", "", "", False),
    ("Oak Road", "", "CV1 1AA", False),
]


@pytest.mark.parametrize(("address_1", "town", "postcode", "nfa"), NFA_CASES)
def test_no_fixed_abode_and_unusable(address_1: str, town: str, postcode: str, nfa: bool) -> None:
    out = address_keys(_frame([(address_1, "", town, postcode, "")]))
    assert bool(out.loc[0, "no_fixed_abode"]) is nfa
    assert not bool(out.loc[0, "usable"])
    assert pd.isna(out.loc[0, "address_key"])


def test_canonical_key_is_most_frequent_form_then_lexicographic() -> None:
    rows = [("14 Oak Raod", "", "", "CV11 4AA", "")] + [("14 Oak Rd", "", "", "CV11 4AA", "")] * 2
    keys = address_keys(_frame(rows))["address_key"]
    assert set(keys) == {"CV11 4AA||14|OAK ROAD"}
    tie = address_keys(_frame(rows[:2]))["address_key"]
    assert set(tie) == {"CV11 4AA||14|OAK RAOD"}


def test_keys_independent_of_row_order() -> None:
    rows = [(a[0], "", "", a[1], a[2]) for a, _, _ in SAME_CASES] + [
        (b[0], "", "", b[1], b[2]) for _, b, _ in SAME_CASES
    ]
    frame = _frame(rows)
    forward = address_keys(frame)["address_key"]
    backward = address_keys(frame.iloc[::-1])["address_key"]
    pd.testing.assert_series_equal(forward, backward.loc[forward.index])


def test_number_only_joins_a_lone_street_but_never_bridges_two() -> None:
    lone = address_keys(
        _frame([("14", "", "", "CV11 4AA", ""), ("14 Oak Road", "", "", "CV11 4AA", "")])
    )["address_key"]
    assert lone[0] == lone[1]
    two = address_keys(
        _frame(
            [
                ("14", "", "", "CV11 4AA", ""),
                ("14 Oak Road", "", "", "CV11 4AA", ""),
                ("14 Elm Road", "", "", "CV11 4AA", ""),
            ]
        )
    )["address_key"]
    assert two.nunique() == 3


def test_postcode_typo_tolerance_can_be_switched_off() -> None:
    frame = _frame(
        [("14 Oak Road", "", "", "CV11 4AA", ""), ("14 Oak Road", "", "", "CV11 4AB", "")]
    )
    keys = address_keys(frame, settings=AddressMatchSettings(postcode_typo_tolerance=False))
    assert keys["address_key"].nunique() == 2


def test_normalise_postcodes() -> None:
    got = normalise_postcodes(pd.Series(["cv114aa", " CV1  1AA", "sw1a2aa", None, "X1"]))
    assert got.tolist() == ["CV11 4AA", "CV1 1AA", "SW1A 2AA", "", "X1"]


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["b", "a", "b", "c"],
        ["Zeta", "alpha", "Émile", "émile", "10", "9", "10"],
        ["x", None, "a", None],
    ],
)
def test_factorize_sorted_matches_pandas(values: list[str | None]) -> None:
    series = pd.Series(values, dtype=object)
    codes, uniques = factorize_sorted(series)
    expected_codes, expected_uniques = pd.factorize(series, sort=True)
    assert codes.tolist() == expected_codes.tolist()
    assert list(uniques) == list(expected_uniques)


def test_bad_settings_and_missing_columns_fail_fast() -> None:
    with pytest.raises(ConfigError, match="street_similarity"):
        AddressMatchSettings(street_similarity=0)
    with pytest.raises(DalinkError, match="postcode"):
        standardise_addresses(pd.DataFrame({"address_1": ["1 A Road"]}))
    with pytest.raises(DalinkError, match="usable"):
        assign_address_keys(pd.DataFrame({"flat": []}))
