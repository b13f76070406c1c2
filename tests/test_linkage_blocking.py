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
