"""``pairs_within_groups`` emits each rule's pairs already sorted, so that ``block`` merges
sorted runs; the pairs themselves are the brute-force set."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from linkage.blocking import pairs_within_groups


@pytest.mark.parametrize("seed", range(6))
def test_pairs_come_sorted_and_are_every_pair_in_a_small_enough_group(seed: int) -> None:
    rng = np.random.default_rng(seed)
    codes = rng.integers(-1, 8, size=60)
    left, right, skipped = pairs_within_groups(codes, max_group=9)
    pair_codes = left.astype(np.int64) * codes.size + right
    assert (np.diff(pair_codes) > 0).all()
    sizes = np.bincount(codes[codes >= 0])
    want = [
        (i, j)
        for i, j in itertools.combinations(range(codes.size), 2)
        if codes[i] >= 0 and codes[i] == codes[j] and sizes[codes[i]] <= 9
    ]
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == want
    assert sorted(skipped.tolist()) == sorted(sizes[sizes > 9].tolist())
