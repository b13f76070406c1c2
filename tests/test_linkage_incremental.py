"""A later night reuses the model and the cached pair levels: same answer, far fewer
comparisons."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pandas as pd
import pytest

from linkage import LinkageSettings, link_records
from linkage.incremental import (
    STATE_VERSION,
    LinkageState,
    plan_reuse,
    record_hashes,
    settings_fingerprint,
)
from linkage.standardise import standardise
from tests.test_linkage_synth import make_population


@pytest.fixture(scope="module")
def nights() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Night 1, and night 2 with ~1% of records changed, a few gone and a few new."""
    first, _ = make_population(1500, seed=5)
    rng = np.random.default_rng(9)
    second = first.copy()
    moved = rng.random(len(second)) < 0.006
    second.loc[moved, "postcode"] = "LS6 2AB"
    renamed = rng.random(len(second)) < 0.003
    second.loc[renamed, "family_name"] = second.loc[renamed, "family_name"] + "-Hill"
    gone = rng.random(len(second)) < 0.002
    new = first.sample(12, random_state=4).assign(
        record_key=[f"ae:RXX:NEW{i:03d}" for i in range(12)], source="ae"
    )
    second = pd.concat([second[~gone], new], ignore_index=True)
    return first, second


@pytest.fixture(scope="module")
def state(nights: tuple[pd.DataFrame, pd.DataFrame]) -> LinkageState:
    result = link_records(nights[0])
    assert result.state is not None
    return result.state


def test_state_round_trips_through_bytes(state: LinkageState) -> None:
    again = LinkageState.from_bytes(state.to_bytes())
    assert again is not None
    assert again.fingerprint == state.fingerprint
    assert list(again.keys) == list(state.keys)
    np.testing.assert_array_equal(again.hashes, state.hashes)
    np.testing.assert_array_equal(again.pair_left, state.pair_left)
    for name in state.model.names:
        np.testing.assert_array_equal(again.pair_gammas[name], state.pair_gammas[name])
        np.testing.assert_allclose(again.model.m[name], state.model.m[name])
        np.testing.assert_allclose(again.model.u[name], state.model.u[name])
    assert again.model.prior == state.model.prior


def test_warm_night_equals_comparing_every_pair_with_the_same_model(
    nights: tuple[pd.DataFrame, pd.DataFrame], state: LinkageState
) -> None:
    second = nights[1]
    warm = link_records(second, previous=state)
    assert warm.reuse.startswith("model reused"), warm.reuse
    # the reference: the same model, but nothing cached and every record "changed", so every
    # candidate pair is compared tonight
    nothing_cached = dataclasses.replace(
        state,
        hashes=state.hashes + np.uint64(1),
        pair_left=state.pair_left[:0],
        pair_right=state.pair_right[:0],
        pair_gammas={k: v[:0] for k, v in state.pair_gammas.items()},
    )
    everything = link_records(
        second,
        settings=LinkageSettings(retrain_changed_fraction=1.0),
        previous=nothing_cached,
    )
    assert everything.reuse.startswith("model reused")
    assert warm.compared_pairs < everything.compared_pairs / 5, (
        warm.compared_pairs,
        everything.compared_pairs,
    )
    pd.testing.assert_frame_equal(warm.pairs, everything.pairs)
    pd.testing.assert_frame_equal(warm.clusters, everything.clusters)
    pd.testing.assert_frame_equal(warm.provisional, everything.provisional)
    pd.testing.assert_frame_equal(warm.review, everything.review)


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        (LinkageSettings(review_threshold=0.7), "settings changed"),
        (LinkageSettings(retrain_after_nights=0), "reused for 0 nights"),
        (LinkageSettings(retrain_changed_fraction=0.0), "new or changed"),
    ],
)
def test_the_model_is_retrained_when_reuse_is_unsafe(
    nights: tuple[pd.DataFrame, pd.DataFrame],
    state: LinkageState,
    settings: LinkageSettings,
    reason: str,
) -> None:
    std = standardise(nights[1].sort_values("record_key"))
    keys = std["record_key"].to_numpy(dtype=object)
    if "settings" not in reason:
        state = dataclasses.replace(state, fingerprint=settings_fingerprint(settings))
    reuse, why = plan_reuse(state, settings, keys, record_hashes(std))
    assert reuse is None
    assert reason in why


def test_unchanged_records_hash_the_same_and_changed_ones_differ(
    nights: tuple[pd.DataFrame, pd.DataFrame], state: LinkageState
) -> None:
    std = standardise(nights[1].sort_values("record_key"))
    keys = std["record_key"].to_numpy(dtype=object)
    reuse, _ = plan_reuse(state, LinkageSettings(), keys, record_hashes(std))
    assert reuse is not None
    first = nights[0].set_index("record_key")
    second = nights[1].set_index("record_key")
    common = first.index.intersection(second.index)
    a, b = first.loc[common], second.loc[common]
    differs = ~((a == b).fillna(False) | (a.isna() & b.isna())).all(axis=1)
    expected = pd.Series(True, index=pd.Index(keys))
    expected.loc[common] = differs.to_numpy()
    np.testing.assert_array_equal(reuse.changed, expected.to_numpy())


def _nothing_cached(state: LinkageState) -> LinkageState:
    """The same model, but every record "changed" and no pair cached: a warm night that
    compares every candidate pair, the reference for one that reuses."""
    return dataclasses.replace(
        state,
        hashes=state.hashes + np.uint64(1),
        pair_left=state.pair_left[:0],
        pair_right=state.pair_right[:0],
        pair_gammas={k: v[:0] for k, v in state.pair_gammas.items()},
    )


def test_warm_night_with_decisions_equals_comparing_every_pair(
    nights: tuple[pd.DataFrame, pd.DataFrame], state: LinkageState
) -> None:
    """Decided pairs (some no candidate at all, some of a changed record, some gone) are
    scored on a warm night exactly as when every pair is compared."""
    second = nights[1]
    first_run = link_records(nights[0])
    pairs = first_run.pairs
    keys = sorted(second["record_key"])
    decisions = pd.concat(
        [
            pairs.head(3).assign(decision="rejected"),
            pairs.tail(2).assign(decision="accepted"),
            # no rule pairs these: the decision alone makes them scored
            pd.DataFrame(
                {"record_key_l": keys[:2], "record_key_r": keys[-2:], "decision": "accepted"}
            ),
            pd.DataFrame(
                {"record_key_l": ["gone:1"], "record_key_r": keys[:1], "decision": "rejected"}
            ),
        ],
        ignore_index=True,
    )[["record_key_l", "record_key_r", "decision"]]
    warm = link_records(second, previous=state, decisions=decisions)
    everything = link_records(
        second,
        settings=LinkageSettings(retrain_changed_fraction=1.0),
        previous=_nothing_cached(state),
        decisions=decisions,
    )
    assert warm.reuse.startswith("model reused") and everything.reuse.startswith("model reused")
    assert (warm.pairs["decision"] == "accepted").sum() >= 3
    assert (warm.pairs["blocking_rule"] == "decision").any()
    pd.testing.assert_frame_equal(warm.pairs, everything.pairs)
    pd.testing.assert_frame_equal(warm.clusters, everything.clusters)
    pd.testing.assert_frame_equal(warm.provisional, everything.provisional)
    pd.testing.assert_frame_equal(warm.review, everything.review)
    pd.testing.assert_frame_equal(warm.blocking, everything.blocking)


def test_warm_blocking_report_equals_the_cold_one(
    nights: tuple[pd.DataFrame, pd.DataFrame], state: LinkageState
) -> None:
    """A warm night never lists the candidate pairs, yet reports the same numbers."""
    warm = link_records(nights[1], previous=state)
    cold = link_records(nights[1])
    assert cold.reuse.startswith("trained tonight")
    pd.testing.assert_frame_equal(warm.blocking, cold.blocking)


def test_a_state_of_another_version_forces_a_cold_night(
    nights: tuple[pd.DataFrame, pd.DataFrame], state: LinkageState
) -> None:
    """Record hashes changed how they are computed in version 2: a version 1 blob (hashes
    that can never match) is ignored, and the night trains afresh."""
    with np.load(io.BytesIO(state.to_bytes())) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    assert meta["version"] == STATE_VERSION
    meta["version"] = STATE_VERSION - 1
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    assert LinkageState.from_bytes(buffer.getvalue()) is None
    cold = link_records(nights[1], previous=LinkageState.from_bytes(buffer.getvalue()))
    assert cold.reuse.startswith("trained tonight")
