"""Standardisation of names, nicknames, dates and postcodes."""

from __future__ import annotations

import pandas as pd
import pytest

from adapters.errors import InputFileError
from linkage.standardise import address_key, canonical_given, clean_name, standardise


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Mr. John  ", "john"),
        ("DR Mary-Jane", "mary jane"),
        ("O'Brien", "obrien"),
        ("Smith-Jones", "smith jones"),
        ("Zoë", "zoe"),
        ("Mrs", None),
        ("!!", None),
    ],
)
def test_clean_name(raw: str, clean: str | None) -> None:
    assert clean_name(raw) == clean


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("bob", "robert"), ("robert", "robert"), ("peggy", "margaret"), ("zebedee", "zebedee")],
)
def test_canonical_given(name: str, canonical: str) -> None:
    assert canonical_given(name) == canonical


def test_standardise_columns() -> None:
    records = pd.DataFrame(
        {
            "record_key": ["b", "a"],
            "nhs_number": ["9434765919", None],
            "given_name": ["Bob", None],
            "family_name": ["Smith-Jones", "quist"],
            "date_of_birth": pd.Series([pd.Timestamp("1980-03-07"), pd.NaT]),
            "sex": ["M", "U"],
            "address_1": ["12 High St.", None],
            "postcode": ["CV11 4AA", "bad"],
        }
    )
    std = standardise(records)
    row = std.iloc[0]
    assert (row["given_key"], row["given_canonical"], row["given_soundex"]) == (
        "bob",
        "robert",
        "B100",
    )
    assert (row["family_key"], row["family_first"], row["family_last"]) == (
        "smithjones",
        "smith",
        "jones",
    )
    assert (row["birth_year"], row["birth_month"], row["birth_day"]) == (1980, 3, 7)
    assert (row["postcode_area"], row["postcode_district"], row["postcode_sector"]) == (
        "CV",
        "CV11",
        "CV11 4",
    )
    assert row["address_line"] == "12 high street" and row["address_numbers"] == "12"
    other = std.iloc[1]
    assert pd.isna(other["sex"]) and pd.isna(other["postcode_district"])
    assert pd.isna(other["given_key"]) and pd.isna(other["birth_year"])


def test_missing_columns_and_duplicate_keys_fail_clearly() -> None:
    with pytest.raises(InputFileError, match="contract B"):
        standardise(pd.DataFrame({"record_key": ["a"]}))
    frame = pd.DataFrame(
        {
            c: ["x", "x"]
            for c in (
                "record_key",
                "nhs_number",
                "given_name",
                "family_name",
                "date_of_birth",
                "sex",
                "address_1",
                "postcode",
            )
        }
    )
    with pytest.raises(InputFileError, match="unique"):
        standardise(frame)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("20 green street", "20 green"),
        ("flat 1 37 elm lane", "37 elm"),
        ("12a high street", "12a high"),
        ("ashdene", "ashdene"),  # a house name is the key
        ("flat 3", None),  # a number but no street: too weak to block on
    ],
)
def test_address_key(line: str, key: str | None) -> None:
    assert address_key(line) == key


def test_address_columns_treat_abbreviations_alike() -> None:
    records = pd.DataFrame(
        {
            "record_key": ["a", "b"],
            "nhs_number": [None, None],
            "given_name": ["Ann", "Ann"],
            "family_name": ["Quist", "Quist"],
            "date_of_birth": pd.Series([pd.NaT, pd.NaT]),
            "sex": ["F", "F"],
            "address_1": ["Flat 2, 20 Green Street", "FLAT 2, 20 GREEN ST"],
            "postcode": [" cv5 6ut ", ""],
        }
    )
    std = standardise(records)
    assert std["address_key"].tolist() == ["20 green", "20 green"]
    assert std["address_numbers"].tolist() == ["2 20", "2 20"]
    assert std["postcode"].iloc[0] == "CV5 6UT" and pd.isna(std["postcode"].iloc[1])
    assert std["postcode_district"].iloc[0] == "CV5" and pd.isna(std["postcode_sector"].iloc[1])
