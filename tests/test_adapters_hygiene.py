"""Table-style cases for the column cleaners."""

from __future__ import annotations

import pandas as pd
import pytest

from adapters import hygiene as h


@pytest.mark.parametrize(
    ("raw", "number", "status"),
    [
        ("943 476 5919", "9434765919", "valid"),
        ("9434765919", "9434765919", "valid"),
        ("943-476-5919", "9434765919", "valid"),
        ("9.434765919E9", "9434765919", "valid"),
        ("9.434765919e+09", "9434765919", "valid"),
        ("9.43476592E9", None, "invalid"),  # Excel rounded it: check digit fails
        ("9434765918", None, "invalid"),  # wrong check digit
        ("943476591", None, "invalid"),  # nine digits
        ("0000000000", None, "invalid"),  # placeholder passes the arithmetic only
        ("", None, "missing"),
        ("   ", None, "missing"),
    ],
)
def test_nhs_number(raw: str, number: str | None, status: str) -> None:
    values, statuses = h.clean_nhs_number(pd.Series([raw]))
    assert (None if pd.isna(values[0]) else values[0]) == number
    assert statuses[0] == status


def test_generated_nhs_numbers_are_valid_and_distinct() -> None:
    numbers = h.make_nhs_numbers(500, seed=3)
    assert len(set(numbers)) == 500
    assert h.nhs_check_digit_ok(pd.Series(numbers)).all()
    assert h.nhs_check_digit("943476591") == 9


@pytest.mark.parametrize(
    ("raw", "postcode", "valid", "pseudo"),
    [
        ("cv11 4aa", "CV11 4AA", True, False),
        ("CV114AA", "CV11 4AA", True, False),
        (" cv1 1aa ", "CV1 1AA", True, False),
        ("ec1a1bb", "EC1A 1BB", True, False),
        ("ZZ99 3VZ", "ZZ99 3VZ", True, True),
        ("junk", "JUNK", False, False),
        ("12345", "12 345", False, False),
        ("", None, False, False),
    ],
)
def test_postcode(raw: str, postcode: str | None, valid: bool, pseudo: bool) -> None:
    values, ok = h.clean_postcode(pd.Series([raw]))
    assert (None if pd.isna(values[0]) else values[0]) == postcode
    assert bool(ok[0]) is valid
    assert bool(h.is_pseudo_postcode(values)[0]) is pseudo


@pytest.mark.parametrize(
    ("raw", "date_format", "expected", "invalid"),
    [
        ("2020-02-29", "iso", "2020-02-29", False),
        ("2020-02-30", "iso", None, True),
        ("01/02/2020", "iso", None, True),  # iso sources must send ISO
        ("01/02/2020", "dmy", "2020-02-01", False),
        ("31/02/2020", "dmy", None, True),  # impossible, not rolled over
        ("2020-03-01", "dmy", "2020-03-01", False),  # ISO cannot be misread
        ("", "dmy", None, False),
        ("soon", "iso", None, True),
    ],
)
def test_dates(raw: str, date_format: h.DateFormat, expected: str | None, invalid: bool) -> None:
    cleaned = h.parse_dates(pd.Series([raw]), date_format=date_format)
    value = cleaned.values[0]
    assert (None if pd.isna(value) else str(value.date())) == expected
    assert bool(cleaned.invalid[0]) is invalid


@pytest.mark.parametrize(
    ("raw", "date_format", "expected"),
    [
        ("2023-12-24T23:10", "iso", "2023-12-24 23:10:00"),
        ("2023-12-24 23:10:05", "iso", "2023-12-24 23:10:05"),
        ("24/12/2023 23:10", "dmy", "2023-12-24 23:10:00"),
        ("24/12/2023 23:10", "iso", None),
        ("2023-12-24", "iso", None),  # a date-time column needs the time
        ("2023-12-24T25:10", "iso", None),
    ],
)
def test_datetimes(raw: str, date_format: h.DateFormat, expected: str | None) -> None:
    value = h.parse_datetimes(pd.Series([raw]), date_format=date_format).values[0]
    assert (None if pd.isna(value) else str(value)) == expected


@pytest.mark.parametrize(
    ("raw", "sex", "invalid"),
    [
        ("M", "M", False),
        ("f", "F", False),
        ("1", "M", False),
        ("2", "F", False),
        ("9", "U", False),
        ("0", "U", False),
        ("Male", "M", False),
        ("FEMALE", "F", False),
        ("", None, False),
        ("Q", None, True),
    ],
)
def test_sex(raw: str, sex: str | None, invalid: bool) -> None:
    cleaned = h.clean_sex(pd.Series([raw]))
    assert (None if pd.isna(cleaned.values[0]) else cleaned.values[0]) == sex
    assert bool(cleaned.invalid[0]) is invalid


@pytest.mark.parametrize(
    ("raw", "value", "invalid"),
    [
        ("Y", True, False),
        ("n", False, False),
        ("yes", True, False),
        ("", False, False),
        ("?", False, True),
    ],
)
def test_yn(raw: str, value: bool, invalid: bool) -> None:
    cleaned = h.clean_yn(pd.Series([raw]))
    assert bool(cleaned.values[0]) is value
    assert bool(cleaned.invalid[0]) is invalid


@pytest.mark.parametrize(
    ("raw", "codes"),
    [(" 123 | |456|", "123|456"), ("||", None), ("276853009", "276853009"), ("", None)],
)
def test_codes(raw: str, codes: str | None) -> None:
    value = h.clean_codes(pd.Series([raw])).values[0]
    assert (None if pd.isna(value) else value) == codes


def test_enum_reads_spaces_as_underscores() -> None:
    cleaned = h.clean_enum(
        pd.Series(["child present", "victim", "bystander"]), ("VICTIM", "CHILD_PRESENT")
    )
    assert cleaned.values.tolist()[:2] == ["CHILD_PRESENT", "VICTIM"]
    assert cleaned.invalid.tolist() == [False, False, True]
