"""Last night's standardised values, by raw value (``ValueMemo``): a night that takes them
standardises exactly as one that computes every value afresh."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from linkage import LinkageState, link_records
from linkage import standardise as standardise_module
from linkage.standardise import MEMOISED, ValueMemo, standardise_coded, standardise_memo
from tests.test_linkage_synth import make_population


@pytest.fixture(scope="module")
def nights() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Night 1, and night 2 with moved, renamed, gone and new records."""
    first, _ = make_population(800, seed=11)
    rng = np.random.default_rng(3)
    second = first.copy()
    moved = rng.random(len(second)) < 0.02
    second.loc[moved, "address_1"] = [f"{n} Memo Road" for n in range(int(moved.sum()))]
    renamed = rng.random(len(second)) < 0.01
    second.loc[renamed, "family_name"] = "Mc" + second.loc[renamed, "family_name"]
    second.loc[renamed, "given_name"] = "Dr " + second.loc[renamed, "given_name"]
    gone = rng.random(len(second)) < 0.01
    new = first.sample(9, random_state=2).assign(
        record_key=[f"ae:RXX:MEMO{i:03d}" for i in range(9)], address_1="Flat 2, 9 New St"
    )
    second = pd.concat([second[~gone], new], ignore_index=True)
    return first, second


def _assert_same(a: tuple[pd.DataFrame, dict], b: tuple[pd.DataFrame, dict]) -> None:
    pd.testing.assert_frame_equal(a[0], b[0])
    assert a[1].keys() == b[1].keys()
    for column, (codes, uniques) in a[1].items():
        np.testing.assert_array_equal(codes, b[1][column][0], err_msg=column)
        assert list(uniques) == list(b[1][column][1]), column


def test_a_night_with_last_nights_memo_standardises_as_a_cold_one(
    nights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first, second = nights
    _, _, memo = standardise_memo(first, None)
    again = ValueMemo.from_bytes(memo.to_bytes())
    assert again is not None
    std, coded, _ = standardise_memo(second, again)
    _assert_same((std, coded), standardise_coded(second))


def test_only_values_new_since_last_night_are_computed(
    nights: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = nights
    _, _, memo = standardise_memo(first, None)
    seen: list[str] = []
    clean_address = standardise_module._clean_address

    def counting(value: str) -> str | None:
        seen.append(value)
        return clean_address(value)

    counting.__name__ = "_clean_address"
    monkeypatch.setattr(standardise_module, "_clean_address", counting)
    standardise_memo(second, memo)
    new_values = set(second["address_1"].dropna()) - set(first["address_1"].dropna())
    assert new_values and set(seen) == new_values


def test_the_memo_keeps_one_result_per_distinct_value(
    nights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, _, memo = standardise_memo(nights[0], None)
    assert set(memo.values) == set(MEMOISED)
    for inputs, outputs in memo.values.values():
        assert not pd.Index(inputs).has_duplicates
        assert len(inputs) == len(outputs)
    # clean_name serves both name columns: each name once
    names = set(nights[0]["given_name"].dropna()) | set(nights[0]["family_name"].dropna())
    assert set(memo.values["clean_name"][0]) == names


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda blob: blob[: len(blob) // 2], id="truncated"),
        pytest.param(lambda blob: b"not arrow at all", id="garbage"),
        pytest.param(lambda blob: b"", id="empty"),
    ],
)
def test_a_damaged_memo_is_ignored(nights: tuple[pd.DataFrame, pd.DataFrame], damage) -> None:
    _, _, memo = standardise_memo(nights[0], None)
    assert ValueMemo.from_bytes(damage(memo.to_bytes())) is None


def test_a_memo_from_other_code_is_ignored(
    nights: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, memo = standardise_memo(nights[0], None)
    blob = memo.to_bytes()
    monkeypatch.setattr(standardise_module, "memo_digest", lambda: "another version")
    assert ValueMemo.from_bytes(blob) is None


def test_a_memo_with_wrong_results_would_show(nights: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The memo is really read: a (hypothetically) wrong one changes the answer, so the
    equality tests above are not vacuous."""
    first, second = nights
    _, _, memo = standardise_memo(first, None)
    inputs = memo.values["_clean_address"][0]
    wrong = ValueMemo({**memo.values, "_clean_address": (inputs, np.full(len(inputs), "x"))})
    std, _, _ = standardise_memo(second, wrong)
    assert not std["address_line"].equals(standardise_coded(second)[0]["address_line"])


def test_the_state_carries_the_memo_and_loads_without_one(
    nights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    state = link_records(nights[0]).state
    assert state is not None and state.memo is not None
    again = LinkageState.from_bytes(state.to_bytes())
    assert again is not None and again.memo is not None
    for name, (inputs, outputs) in state.memo.values.items():
        assert list(again.memo.values[name][0]) == list(inputs)
        assert list(again.memo.values[name][1]) == list(outputs)
    bare = LinkageState.from_bytes(dataclasses.replace(state, memo=None).to_bytes())
    assert bare is not None and bare.memo is None


def test_a_warm_night_with_the_memo_links_as_one_without(
    nights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first, second = nights
    state = link_records(first).state
    assert state is not None
    with_memo = link_records(second, previous=LinkageState.from_bytes(state.to_bytes()))
    without = link_records(second, previous=dataclasses.replace(state, memo=None))
    assert with_memo.reuse == without.reuse
    pd.testing.assert_frame_equal(with_memo.pairs, without.pairs)
    pd.testing.assert_frame_equal(with_memo.clusters, without.clusters)
    pd.testing.assert_frame_equal(with_memo.provisional, without.provisional)
    pd.testing.assert_frame_equal(with_memo.review, without.review)
    assert with_memo.state is not None and without.state is not None
    np.testing.assert_array_equal(with_memo.state.hashes, without.state.hashes)
