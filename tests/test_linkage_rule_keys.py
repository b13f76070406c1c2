"""A warm night finds the candidate pairs it needs from the rules' keys (``RuleKeys``)
instead of listing them all with ``block``: both must agree on every pair, rule and
report number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkage import blocking
from linkage.blocking import block, rule_keys
from linkage.settings import DEFAULT_BLOCKING_RULES
from linkage.standardise import standardise
from tests.test_linkage_synth import make_population


@pytest.fixture(scope="module")
def std() -> pd.DataFrame:
    people, _ = make_population(600, seed=11)
    return standardise(people.sort_values("record_key"))


# 3 skips the big postcode and date keys; 1000 skips nothing.  A rule's new pairs are
# counted by listing its pairs or from the pairs it shares with earlier rules, and the pairs
# within labels found from every pair in a label's group or from each rule's keys: all ways
@pytest.mark.parametrize("group_limit", [0, 1_000_000])
@pytest.mark.parametrize("list_limit", [0, 1_000_000])
@pytest.mark.parametrize("max_block_size", [3, 6, 1000])
def test_rule_keys_agree_with_block(
    std: pd.DataFrame,
    max_block_size: int,
    list_limit: int,
    group_limit: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(blocking, "_LIST_PAIRS_PER_RECORD", list_limit)
    monkeypatch.setattr(blocking, "_GROUP_PAIRS_PER_RECORD", group_limit)
    candidates = block(std, DEFAULT_BLOCKING_RULES, max_block_size=max_block_size)
    keys = rule_keys(std, DEFAULT_BLOCKING_RULES, max_block_size=max_block_size)
    pd.testing.assert_frame_equal(keys.report, candidates.report)
    np.testing.assert_array_equal(
        keys.first_rule(candidates.left, candidates.right), candidates.rule
    )

    n = len(std)
    pair_codes = candidates.left.astype(np.int64) * n + candidates.right
    rng = np.random.default_rng(max_block_size)
    a, b = rng.integers(0, n, 5000), rng.integers(0, n, 5000)
    left, right = np.minimum(a, b)[a != b], np.maximum(a, b)[a != b]
    is_candidate = np.isin(left.astype(np.int64) * n + right, pair_codes)
    np.testing.assert_array_equal(keys.first_rule(left, right) >= 0, is_candidate)

    changed = rng.random(n) < 0.05
    touching = keys.pairs_sharing(np.zeros(n, dtype=np.int64), touching=changed)
    want = pair_codes[changed[candidates.left] | changed[candidates.right]]
    np.testing.assert_array_equal(touching, want)

    labels = rng.integers(0, n // 4, n)
    labels[rng.random(n) < 0.2] = -1
    sharing = keys.pairs_sharing(labels)
    same = (labels[candidates.left] == labels[candidates.right]) & (labels[candidates.left] >= 0)
    np.testing.assert_array_equal(sharing, pair_codes[same])
    if max_block_size == 3:
        assert candidates.report["keys_skipped"].sum() > 0
    assert touching.size > 0 and sharing.size > 0


@pytest.mark.parametrize(
    "values",
    [
        np.empty(0, dtype=np.int64),
        np.array([7], dtype=np.int64),
        np.array([3, 1, 3, 3, -2, 1], dtype=np.int64),
        np.array([5, 5, 5], dtype=np.int32),
        np.random.default_rng(1).integers(0, 50, 1000).astype(np.int32),
        np.random.default_rng(2).integers(-(2**62), 2**62, 5000),
    ],
    ids=["empty", "one", "repeats", "all-same", "int32", "wide"],
)
def test_distinct_is_numpys_unique(values: np.ndarray) -> None:
    got = blocking.distinct(values)
    want = np.unique(values)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
