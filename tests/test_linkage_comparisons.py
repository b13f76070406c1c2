"""Each comparison's levels, as tables of cases (left record, right record, expected label)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from linkage.comparisons import COMPARISONS, Prepared, compare, gamma_for, level_table
from linkage.standardise import standardise

BASE: dict[str, Any] = {
    "nhs_number": None,
    "given_name": "Robert",
    "family_name": "Quist",
    "date_of_birth": "1980-03-07",
    "sex": "M",
    "address_1": "12 High Street",
    "postcode": "CV11 4AA",
}


def level_of(name: str, left: dict[str, Any], right: dict[str, Any]) -> str:
    rows = [{**BASE, **left, "record_key": "a"}, {**BASE, **right, "record_key": "b"}]
    frame = pd.DataFrame(rows)
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"])
    prepared = Prepared(standardise(frame))
    gamma = compare(prepared, np.array([0]), np.array([1]), (name,))[name]
    return COMPARISONS[name].label(int(gamma[0]))


NICKNAME_TYPO = "a nickname of it, with a typo"
TRANSPOSED = "day and month transposed, year within one"
TWO = "two of year, month, day agree"
SAME_LINE_NO_POSTCODE = "same first line, a postcode missing"
SWAPPED_TYPO = "swapped with family name, with a typo"
CROSSED = "the other record's family name"
SLIP = "a known name with a slip"
NHS_SLIP = "one digit changed or two neighbours swapped"
SAME_LINE_OTHER_PC = "same first line, different postcodes"
PC_SLIP = "postcodes one character changed or two neighbours swapped"

CASES = [
    # given name
    ("given_name", {}, {}, "exact"),
    ("given_name", {"given_name": "Mr Robert"}, {"given_name": "robert"}, "exact"),
    ("given_name", {"given_name": "Bob"}, {"given_name": "Robert"}, "nickname equivalent"),
    ("given_name", {"given_name": "Peggy"}, {"given_name": "Margaret"}, "nickname equivalent"),
    ("given_name", {"given_name": "Zebedee"}, {"given_name": "Zebedie"}, "jaro-winkler >= 0.92"),
    (
        "given_name",
        {"given_name": "Quist", "family_name": "Robert"},
        {},
        "swapped with family name",
    ),
    # swapped, and a slip in one name or both (never in the first letter)
    ("given_name", {"given_name": "Quist", "family_name": "Robetr"}, {}, SWAPPED_TYPO),
    ("given_name", {"given_name": "Quisst", "family_name": "Robret"}, {}, SWAPPED_TYPO),
    ("given_name", {"given_name": "Quist", "family_name": "Bobert"}, {}, CROSSED),
    ("given_name", {"given_name": "Quist", "family_name": "Rupert"}, {}, CROSSED),
    # one name crossed over, the other changed: counted once, under the given name
    ("given_name", {"given_name": "Garnett", "family_name": "Robert"}, {}, CROSSED),
    ("family_name", {"given_name": "Garnett", "family_name": "Robert"}, {}, "null"),
    ("given_name", {"given_name": "Quist", "family_name": "Garnett"}, {}, CROSSED),
    ("family_name", {"given_name": "Quist", "family_name": "Garnett"}, {}, "null"),
    ("given_name", {"given_name": "Garnett", "family_name": "Quist"}, {}, "else"),
    ("family_name", {"given_name": "Garnett", "family_name": "Quist"}, {}, "exact"),
    ("given_name", {"given_name": "Karen"}, {"given_name": "Karin"}, "jaro-winkler >= 0.85"),
    # a mangled police nominal (and names only loosely alike)
    ("given_name", {"given_name": "William"}, {"given_name": "Wiyl"}, NICKNAME_TYPO),
    ("given_name", {"given_name": "Margaret"}, {"given_name": "Pegyg"}, NICKNAME_TYPO),
    # "mark" is one edit from "mart" (a Martin nickname) but a real name, not a slip
    ("given_name", {"given_name": "Martin"}, {"given_name": "Mark"}, "jaro-winkler >= 0.7"),
    # a known name and a one-slip form of it the lists do not know: a corrupted name
    ("given_name", {"given_name": "Amy"}, {"given_name": "Aiy"}, SLIP),
    ("given_name", {"given_name": "Ian"}, {"given_name": "Ien"}, SLIP),
    ("given_name", {"given_name": "Leo"}, {"given_name": "Lo"}, SLIP),
    ("given_name", {"given_name": "Jed"}, {"given_name": "Jwd"}, SLIP),
    # ...but two real names one slip apart are two names (Tom, Tim), and so are two names the
    # lists do not know (Mia, Mya); a changed first letter is no slip (Ava, Eva)
    ("given_name", {"given_name": "Tom"}, {"given_name": "Tim"}, "jaro-winkler >= 0.7"),
    ("given_name", {"given_name": "Mia"}, {"given_name": "Mya"}, "jaro-winkler >= 0.7"),
    ("given_name", {"given_name": "Ava"}, {"given_name": "Eva"}, "jaro-winkler >= 0.7"),
    ("given_name", {"given_name": "Amy"}, {"given_name": "Aimee"}, "else"),
    ("given_name", {"given_name": "Wyatt"}, {"given_name": "William"}, "else"),
    ("given_name", {"given_name": "Karen"}, {"given_name": "Kieran"}, "jaro-winkler >= 0.7"),
    ("given_name", {"given_name": "Zebedee"}, {"given_name": "Robert"}, "else"),
    ("given_name", {"given_name": None}, {}, "null"),
    # family name
    ("family_name", {"family_name": "O'Brien"}, {"family_name": "OBRIEN"}, "exact"),
    ("family_name", {"family_name": "Smith-Jones"}, {"family_name": "Smith Jones"}, "exact"),
    # a swap is counted once, under the given name
    ("family_name", {"family_name": "Robert", "given_name": "Quist"}, {}, "null"),
    ("family_name", {"family_name": "Robetr", "given_name": "Quist"}, {}, "null"),
    (
        "family_name",
        {"family_name": "Smith-Jones"},
        {"family_name": "Jones"},
        "a part of a double-barrelled name agrees",
    ),
    ("family_name", {"family_name": "Quist"}, {"family_name": "Quisst"}, "jaro-winkler >= 0.92"),
    ("family_name", {"family_name": "Quist"}, {"family_name": "Zebedee"}, "else"),
    ("family_name", {"family_name": ""}, {}, "null"),
    # date of birth
    ("date_of_birth", {}, {}, "exact"),
    ("date_of_birth", {}, {"date_of_birth": "1980-07-03"}, TRANSPOSED),
    # two slips at once: day and month swapped and the year one out
    ("date_of_birth", {}, {"date_of_birth": "1981-07-03"}, TRANSPOSED),
    ("date_of_birth", {}, {"date_of_birth": "1979-07-03"}, TRANSPOSED),
    ("date_of_birth", {}, {"date_of_birth": "1982-07-03"}, "else"),
    ("date_of_birth", {"date_of_birth": "1980-03-03"}, {"date_of_birth": "1981-03-03"}, TWO),
    ("date_of_birth", {}, {"date_of_birth": "1980-03-17"}, TWO),
    ("date_of_birth", {}, {"date_of_birth": "1981-03-07"}, TWO),
    ("date_of_birth", {}, {"date_of_birth": "1980-11-20"}, "within a year"),
    ("date_of_birth", {}, {"date_of_birth": "1990-11-20"}, "else"),
    ("date_of_birth", {"date_of_birth": None}, {}, "null"),
    # sex
    ("sex", {}, {}, "agree"),
    ("sex", {}, {"sex": "F"}, "disagree"),
    ("sex", {"sex": "U"}, {}, "null"),
    # NHS number
    ("nhs_number", {"nhs_number": "9434765919"}, {"nhs_number": "9434765919"}, "agree"),
    ("nhs_number", {"nhs_number": "9434765919"}, {"nhs_number": "9434765870"}, "disagree"),
    # identifiers without a check digit (Febrl's soc_sec_id): one slip apart
    ("nhs_number", {"nhs_number": "9846985"}, {"nhs_number": "9836985"}, NHS_SLIP),
    ("nhs_number", {"nhs_number": "9512945"}, {"nhs_number": "9519245"}, NHS_SLIP),
    ("nhs_number", {"nhs_number": "2345085"}, {"nhs_number": "2345058"}, NHS_SLIP),
    ("nhs_number", {"nhs_number": "2345085"}, {"nhs_number": "2345508"}, "disagree"),
    ("nhs_number", {"nhs_number": "2345085"}, {"nhs_number": "2345096"}, "disagree"),
    ("nhs_number", {"nhs_number": "2345085"}, {"nhs_number": "234508"}, "disagree"),
    ("nhs_number", {"nhs_number": "9434765919"}, {}, "null"),
    # address: one comparison for postcode and first line
    ("address", {}, {"address_1": "12, High St."}, "same postcode and first line"),
    ("address", {}, {"address_1": "Flat 3, 12 High Street"}, "same postcode"),
    ("address", {}, {"postcode": "B1 1AA"}, "same first line, different postcodes"),
    # a space slipped into or out of a word
    ("address", {}, {"address_1": "12 Highstreet"}, "same postcode and first line"),
    ("address", {}, {"address_1": "12 High S treet"}, "same postcode and first line"),
    ("address", {}, {"address_1": "12 Highstreet", "postcode": "B1 1AA"}, SAME_LINE_OTHER_PC),
    ("address", {}, {"address_1": "14 Highstreet", "postcode": "B1 1AA"}, "else"),
    # no postcode on one side: the first line alone, abbreviations and flats as above
    ("address", {}, {"postcode": None}, "same first line, a postcode missing"),
    ("address", {}, {"address_1": "12 HIGH ST", "postcode": ""}, SAME_LINE_NO_POSTCODE),
    ("address", {"postcode": None}, {"postcode": None}, SAME_LINE_NO_POSTCODE),
    ("address", {}, {"address_1": "14 High Street", "postcode": None}, "else"),
    ("address", {}, {"address_1": "Flat 3, 12 High Street", "postcode": None}, "else"),
    # a postcode one keying slip away (a changed character, or neighbours swapped), within
    # the sector or across it; with the same first line the line level says more
    ("address", {}, {"address_1": "1 Low Road", "postcode": "CV11 4AB"}, PC_SLIP),
    ("address", {}, {"address_1": "1 Low Road", "postcode": "CV11 A4A"}, PC_SLIP),
    ("address", {}, {"address_1": "1 Low Road", "postcode": "cv12 4aa"}, PC_SLIP),
    ("address", {}, {"address_1": "1 Low Road", "postcode": "CV1 14AA"}, PC_SLIP),
    ("address", {}, {"postcode": "CV11 4AB"}, SAME_LINE_OTHER_PC),
    ("address", {}, {"address_1": "1 Low Road", "postcode": "CV11 4BB"}, "same postcode sector"),
    (
        "address",
        {},
        {"address_1": "1 Low Road", "postcode": "CV11 9ZZ"},
        "same postcode district",
    ),
    ("address", {}, {"address_1": "1 Low Road", "postcode": "B1 1AA"}, "else"),
    ("address", {"address_1": None, "postcode": None}, {}, "null"),
]


@pytest.mark.parametrize(("name", "left", "right", "expected"), CASES)
def test_comparison_levels(
    name: str, left: dict[str, Any], right: dict[str, Any], expected: str
) -> None:
    assert level_of(name, left, right) == expected
    assert level_of(name, right, left) == expected  # symmetric


def test_level_table_lists_null_first_and_else_last() -> None:
    table = level_table(("given_name",))
    assert table["label"].iloc[0] == "null"
    assert table["label"].iloc[-1] == "else"
    assert table["gamma"].tolist() == [-1, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert gamma_for("given_name", "exact") == 10


def _prepared_nhs(values: list[str | None]) -> Prepared:
    rows = [
        {**BASE, "nhs_number": value, "record_key": f"r{i:05d}"} for i, value in enumerate(values)
    ]
    frame = pd.DataFrame(rows)
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"])
    return Prepared(standardise(frame))


def test_one_slip_is_found_wherever_it_falls() -> None:
    """The hashes that nominate pairs for the exact test must never miss a slip: every
    changed digit and every swap of neighbours, at every position, of many lengths."""
    rng = np.random.default_rng(7)
    values: list[str | None] = []
    expected: list[bool] = []
    for length in range(2, 13):
        for position in range(length):
            digits = list(rng.choice(list("0123456789"), size=length))
            original = "".join(digits)
            changed = digits.copy()
            changed[position] = str((int(changed[position]) + 1 + rng.integers(9)) % 10)
            values += [original, "".join(changed)]
            expected.append(True)
            if position + 1 < length and digits[position] != digits[position + 1]:
                swapped = digits.copy()
                swapped[position], swapped[position + 1] = swapped[position + 1], swapped[position]
                values += [original, "".join(swapped)]
                expected.append(True)
            # two changes apart is not one slip
            far = changed.copy()
            other = (position + 2) % length
            if other != position:
                far[other] = str((int(far[other]) + 1) % 10)
                values += [original, "".join(far)]
                expected.append(False)
    prepared = _prepared_nhs(values)
    left = np.arange(0, len(values), 2)
    labels = [
        COMPARISONS["nhs_number"].label(int(g))
        for g in compare(prepared, left, left + 1, ("nhs_number",))["nhs_number"]
    ]
    slip = [label == "one digit changed or two neighbours swapped" for label in labels]
    assert slip == expected


@pytest.mark.parametrize("dense", [True, False])
def test_distinct_value_pairs_dense_and_hashed_agree(
    dense: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linkage import comparisons

    if not dense:
        monkeypatch.setattr(comparisons, "_DENSE_PAIRS", 0)
    a = np.array([0, 1, 0, -1, 2, 0, 1, 2, -1])
    b = np.array([1, 1, 1, 0, -1, 1, 2, 2, -1])
    ua, ub, slot = comparisons._unique_code_pairs(a, b, 3)
    pairs = list(zip(ua[slot].tolist(), ub[slot].tolist(), strict=True))
    missing = (-1, -1)
    assert pairs == [(0, 1), (1, 1), (0, 1), missing, missing, (0, 1), (1, 2), (2, 2), missing]
    assert len(set(zip(ua.tolist(), ub.tolist(), strict=True))) == ua.size
