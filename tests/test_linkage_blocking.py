"""Blocking: vectorised pair generation, union of rules, the block-size cap and its report."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from linkage.blocking import block, pair_completeness, pairs_within_groups
from linkage.settings import BlockingRule


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
