"""Blocking: vectorised pair generation, union of rules, the block-size cap and its report."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from linkage.blocking import block, pair_completeness, pairs_within_groups
from linkage.settings import DEFAULT_BLOCKING_RULES, BlockingRule
from linkage.standardise import standardise


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pairs_within_groups_matches_brute_force(seed: int) -> None:
    codes = np.random.default_rng(seed).integers(-1, 6, size=40)
    left, right, skipped = pairs_within_groups(codes)
    got = set(zip(left.tolist(), right.tolist(), strict=True))
    want = {
        (i, j)
        for i, j in itertools.combinations(range(codes.size), 2)
        if codes[i] >= 0 and codes[i] == codes[j]
    }
    assert got == want and len(got) == left.size and skipped.size == 0
    assert (left < right).all()


def test_cap_skips_big_blocks_and_reports_them() -> None:
    codes = np.array([0] * 5 + [1] * 2 + [2])
    left, right, skipped = pairs_within_groups(codes, max_group=4)
    assert set(zip(left.tolist(), right.tolist(), strict=True)) == {(5, 6)}
    assert skipped.tolist() == [5]


def test_union_dedupes_and_reports_per_rule() -> None:
    std = pd.DataFrame(
        {
            "postcode": ["A", "A", "A", "B", None],
            "family_key": ["x", "x", "y", "y", "y"],
        }
    )
    rules = (BlockingRule("pc", ("postcode",)), BlockingRule("fam", ("family_key",)))
    pairs = block(std, rules, max_block_size=10)
    assert set(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True)) == {
        (0, 1),
        (0, 2),
        (1, 2),
        (2, 3),
        (2, 4),
        (3, 4),
    }
    report = pairs.report.set_index("rule")
    assert report.loc["pc", "candidate_pairs"] == 3
    assert report.loc["fam", "candidate_pairs"] == 4  # (0,1) again, plus (2,3) (2,4) (3,4)
    assert report.loc["fam", "new_pairs"] == 3
    truth = pd.Series([1, 1, 2, 2, 3])
    completeness = pair_completeness(std, pairs, rules, truth, max_block_size=10)
    union = completeness.set_index("rule").loc["(union)"]
    assert union["pair_completeness"] == 1.0


def _record(key: str, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "record_key": key,
        "nhs_number": None,
        "given_name": "Quentin",
        "family_name": "Zarkov",
        "date_of_birth": pd.Timestamp("1988-02-16"),
        "sex": "M",
        "address_1": "20 Green Street",
        "postcode": "CV5 6UT",
    }
    return {**base, **fields}


NO_DOB_NO_POSTCODE = {"date_of_birth": pd.NaT, "postcode": None}

# (police nominal's fields, found as a candidate of the GP record above?)
NOMINAL_CASES = [
    ({**NO_DOB_NO_POSTCODE, "address_1": "20 GREEN ST"}, True),
    ({**NO_DOB_NO_POSTCODE, "address_1": "Flat 2, 20 Green Street"}, True),
    ({**NO_DOB_NO_POSTCODE, "given_name": "Qentin"}, True),  # typo: given name not used
    ({**NO_DOB_NO_POSTCODE, "family_name": "Zarkoff"}, True),  # same soundex
    ({**NO_DOB_NO_POSTCODE, "address_1": "22 Green Street"}, False),  # another house
    ({**NO_DOB_NO_POSTCODE, "family_name": "Ibbotson"}, False),  # another family
    ({**NO_DOB_NO_POSTCODE, "address_1": "Flat 2"}, False),  # no street: too weak
]


@pytest.mark.parametrize(("nominal", "found"), NOMINAL_CASES)
def test_records_without_dob_or_postcode_still_get_candidates(
    nominal: dict[str, object], found: bool
) -> None:
    frame = pd.DataFrame([_record("gp:1"), _record("police:1", **nominal)])
    candidates = block(standardise(frame), DEFAULT_BLOCKING_RULES, max_block_size=1000)
    assert (candidates.left.size == 1) is found
    if found:
        report = candidates.report.set_index("rule")
        assert report.loc["family_soundex+address_key", "new_pairs"] == 1


def test_candidate_pairs_are_int32_and_sorted() -> None:
    frame = pd.DataFrame([_record(f"gp:{i}") for i in range(5)])
    candidates = block(standardise(frame), DEFAULT_BLOCKING_RULES, max_block_size=1000)
    assert candidates.left.dtype == np.int32 and candidates.right.dtype == np.int32
    assert candidates.rule.dtype == np.int8
    codes = candidates.left.astype(np.int64) * 5 + candidates.right
    assert (np.diff(codes) > 0).all() and candidates.left.size == 10


# (the second record's fields, against the GP record above with its postcode mistyped and
# another NHS number, so neither the postcode nor the NHS-number rule can find the pair;
# which rule finds it first, or None)
OTHER_POSTCODE = {"postcode": "CV6 5UT", "nhs_number": "9990000002"}
CHANGED_NAME_CASES = [
    # names swapped between the fields: only the swap rule sees the same two names
    ({**OTHER_POSTCODE, "given_name": "Zarkov", "family_name": "Quentin"}, "names_soundex+dob"),
    # swapped with a slip of the space in one name (``leo n`` for Leon), and a typo
    ({**OTHER_POSTCODE, "given_name": "Zarkov", "family_name": "Quen tin"}, "names_soundex+dob"),
    ({**OTHER_POSTCODE, "given_name": "Zarkof", "family_name": "Quentin"}, "names_soundex+dob"),
    # both names changed (a new surname and a nickname): the date of birth at the address
    ({**OTHER_POSTCODE, "given_name": "Quin", "family_name": "Ibbotson"}, "dob+address_key"),
    # swapped, at another address: still the swap rule
    (
        {**OTHER_POSTCODE, "given_name": "Zarkov", "family_name": "Quentin", "address_1": "1 Elm"},
        "names_soundex+dob",
    ),
    # both names changed at another house: nothing left to block on
    (
        {**OTHER_POSTCODE, "given_name": "Quin", "family_name": "Ibbotson", "address_1": "1 Elm"},
        None,
    ),
    # swapped but born on another day: too little left
    (
        {
            **OTHER_POSTCODE,
            "given_name": "Zarkov",
            "family_name": "Quentin",
            "date_of_birth": pd.Timestamp("1977-01-01"),
            "address_1": "1 Elm",
        },
        None,
    ),
]


@pytest.mark.parametrize(("other", "rule"), CHANGED_NAME_CASES)
def test_swapped_or_changed_names_still_get_candidates(
    other: dict[str, object], rule: str | None
) -> None:
    frame = pd.DataFrame([_record("gp:1", nhs_number="9990000001"), _record("ae:1", **other)])
    candidates = block(standardise(frame), DEFAULT_BLOCKING_RULES, max_block_size=1000)
    assert candidates.left.size == (0 if rule is None else 1)
    if rule is not None:
        names = [r.name for r in DEFAULT_BLOCKING_RULES]
        assert names[int(candidates.rule[0])] == rule


def test_names_soundex_is_the_same_either_way_round() -> None:
    frame = pd.DataFrame(
        [
            _record("a"),
            _record("b", given_name="Zarkov", family_name="Quentin"),
            _record("c", given_name=None),
        ]
    )
    key = standardise(frame)["names_soundex"]
    assert key[0] == key[1] == "Q535 Z621" and pd.isna(key[2])
