"""``assign_person_refs`` works on integer codes; it must give exactly what the plain
string-keyed pandas formulation (kept here as the reference) gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adapters.errors import ConfigError
from linkage.identity import (
    _new_refs,
    _previous,
    _previous_arrays,
    assign_person_refs,
    person_ref_for,
)


def reference_person_refs(
    clusters: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    key: bytes,
    as_of: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The string-keyed pandas formulation ``assign_person_refs`` had before it worked on
    integer codes, kept as the reference it must equal.

    ``clusters``: ``record_key, cluster_id``.  ``previous``: last night's ``record_key,
    person_ref`` and optionally ``first_seen``.  ``record_person``: ``record_key,
    person_ref, first_seen`` (``as_of`` for refs new tonight).  ``events``: ``event``
    (``merge`` / ``split``), ``person_ref`` (the ref now carried), ``other_ref`` (the ref
    retired or left), ``records``.
    """
    if not key:
        raise ConfigError("assign_person_refs needs a non-empty key (the person_ref secret)")
    for column in ("record_key", "cluster_id"):
        if column not in clusters.columns:
            raise ConfigError(f"clusters frame lacks {column!r}: pass LinkageResult.clusters")
    frame = clusters[["record_key", "cluster_id"]].copy()
    frame["record_key"] = frame["record_key"].astype("string")
    # groupby-min on a string column falls back to a Python loop per group; sorting once
    # and keeping each cluster's first key is the same answer in vectorised code
    cluster_min = (
        frame.sort_values("record_key", kind="stable")
        .drop_duplicates("cluster_id")
        .set_index("cluster_id")["record_key"]
        .sort_index()
        .rename("cluster_min")
    )

    prev = _previous(previous)
    joined = frame.merge(prev[["record_key", "person_ref"]], on="record_key", how="left")
    held = joined.dropna(subset=["person_ref"])
    counts = held.groupby(["cluster_id", "person_ref"]).size().rename("records").reset_index()
    counts["cluster_min"] = counts["cluster_id"].map(cluster_min)
    first_seen = prev.groupby("person_ref")["first_seen"].min()
    counts["first_seen"] = counts["person_ref"].map(first_seen)

    owners = counts.sort_values(
        ["person_ref", "records", "cluster_min"], ascending=[True, False, True]
    ).drop_duplicates("person_ref")
    owned = owners.sort_values(["cluster_id", "first_seen", "person_ref"], na_position="last")
    kept = owned.drop_duplicates("cluster_id")
    retired = owned[~owned.index.isin(kept.index)]
    ref_of = kept.set_index("cluster_id")["person_ref"]

    new_clusters = cluster_min[~cluster_min.index.isin(ref_of.index)]
    new_refs = _reference_new_refs(new_clusters, taken=set(prev["person_ref"]), key=key)
    ref_of = pd.concat([ref_of, new_refs])

    merges = pd.DataFrame(
        {
            "event": "merge",
            "person_ref": retired["cluster_id"].map(ref_of).to_numpy(),
            "other_ref": retired["person_ref"].to_numpy(),
            "records": retired["records"].to_numpy(),
        }
    )
    owner_cluster = owners.set_index("person_ref")["cluster_id"]
    moved = counts[counts["cluster_id"].to_numpy() != counts["person_ref"].map(owner_cluster)]
    splits = pd.DataFrame(
        {
            "event": "split",
            "person_ref": moved["cluster_id"].map(ref_of).to_numpy(),
            "other_ref": moved["person_ref"].to_numpy(),
            "records": moved["records"].to_numpy(),
        }
    )
    events = pd.concat([merges, splits], ignore_index=True).astype(
        {"event": "string", "person_ref": "string", "other_ref": "string", "records": "int64"}
    )
    events = events.sort_values(["event", "person_ref", "other_ref"], ignore_index=True)

    record_person = frame[["record_key"]].copy()
    record_person["person_ref"] = frame["cluster_id"].map(ref_of).astype("string")
    seen = record_person["person_ref"].map(first_seen)
    first = pd.to_datetime(seen)
    if as_of is not None:
        first = first.fillna(pd.Timestamp(as_of))
    record_person["first_seen"] = first
    return record_person, events


def _reference_new_refs(cluster_min: pd.Series, *, taken: set[str], key: bytes) -> pd.Series:
    """Hash refs for new clusters; a ref already in use is re-hashed with a salt."""
    refs = pd.Series(
        [person_ref_for(str(k), key=key) for k in cluster_min.to_numpy()],
        index=cluster_min.index,
        dtype="string",
    )
    salt = 0
    while True:
        clash = refs.isin(taken) | refs.duplicated(keep="first")
        if not clash.any():
            return refs
        salt += 1
        rehashed = [
            person_ref_for(str(k), key=key, salt=salt) for k in cluster_min[clash].to_numpy()
        ]
        refs[clash] = pd.Series(rehashed, index=refs.index[clash], dtype="string")


def _case(seed: int) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, object]]:
    """Random clusters and previous refs over a small key space, so that merges, splits,
    new persons, missing refs, ties and collisions in record counts all occur."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    keys = [f"k{int(x)}" for x in rng.choice(100, n, replace=False)]
    clusters = pd.DataFrame({"record_key": keys, "cluster_id": rng.integers(0, max(n // 2, 1), n)})
    if seed % 3 == 0:
        clusters = clusters.sample(frac=1, random_state=seed)  # not in key order
    m = int(rng.integers(0, 40))
    previous: pd.DataFrame | None = pd.DataFrame(
        {
            "record_key": [f"k{int(x)}" for x in rng.choice(100, m, replace=False)],
            "person_ref": [f"P{int(x)}" for x in rng.integers(0, 12, m)],
        }
    )
    assert previous is not None
    if seed % 2:
        dates = np.array(["2020-01-01", "2021-05-01", None, "2019-01-01"], dtype=object)[
            rng.integers(0, 4, m)
        ]
        previous["first_seen"] = pd.to_datetime(dates)
    if seed % 5 == 0 and m:
        previous.loc[previous.index[0], "person_ref"] = None
    if seed % 7 == 0:
        previous = None
    options: dict[str, object] = {"key": b"secret"}
    if seed % 4 == 0:
        options["as_of"] = pd.Timestamp("2024-01-01")
    return clusters, previous, options


@pytest.mark.parametrize("seed", range(80))
def test_codes_equal_the_string_keyed_reference(seed: int) -> None:
    clusters, previous, options = _case(seed)
    got = assign_person_refs(clusters, previous, **options)  # type: ignore[arg-type]
    want = reference_person_refs(clusters, previous, **options)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    pd.testing.assert_frame_equal(got[1], want[1], check_exact=True)


def test_cases_cover_merges_splits_and_new_persons() -> None:
    """The random cases are worth something only if they produce every kind of event."""
    kinds: set[str] = set()
    new_persons = 0
    for seed in range(80):
        clusters, previous, options = _case(seed)
        people, events = assign_person_refs(clusters, previous, **options)  # type: ignore[arg-type]
        kinds |= set(events["event"])
        old = set() if previous is None else set(previous["person_ref"].dropna())
        new_persons += int((~people["person_ref"].isin(old)).sum())
    assert kinds == {"merge", "split"}
    assert new_persons > 0


def test_a_colliding_new_ref_is_salted_like_the_reference() -> None:
    clusters = pd.DataFrame({"record_key": ["a", "b", "c"], "cluster_id": [0, 1, 2]})
    taken = set(_new_refs(pd.Series(["a"], dtype="string"), taken=set(), key=b"s"))
    previous = pd.DataFrame({"record_key": ["z"], "person_ref": [next(iter(taken))]})
    got = assign_person_refs(clusters, previous, key=b"s")
    want = reference_person_refs(clusters, previous, key=b"s")
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    assert next(iter(taken)) not in set(got[0]["person_ref"])


def test_empty_key_is_still_rejected() -> None:
    with pytest.raises(ConfigError):
        assign_person_refs(pd.DataFrame({"record_key": ["a"], "cluster_id": [0]}), None, key=b"")


@pytest.mark.parametrize("seed", range(0, 80, 3))
def test_keys_held_twice_count_twice_like_the_reference(seed: int) -> None:
    """The join of tonight's records to last night's refs: a lookup when tonight's keys are
    unique (the engine's clusters), a merge otherwise; a key held twice counts twice."""
    clusters, previous, options = _case(seed)
    if previous is None or not len(previous) or not len(clusters):
        pytest.skip("nothing to join")
    twice = pd.concat([previous, previous.iloc[:2]], ignore_index=True)
    for tonight in (clusters, pd.concat([clusters, clusters.iloc[:1]], ignore_index=True)):
        got = assign_person_refs(tonight, twice, **options)  # type: ignore[arg-type]
        want = reference_person_refs(tonight, twice, **options)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
        pd.testing.assert_frame_equal(got[1], want[1], check_exact=True)


@pytest.mark.parametrize("seed", range(1, 80, 4))
@pytest.mark.parametrize("form", ["store", "string-dtype", "labelled-index", "text-dates"])
def test_previous_refs_read_alike_in_every_form(seed: int, form: str) -> None:
    """Last night's refs as the store reads them (object columns of str and None) skip the
    conversion to pandas strings; any other form takes it: the same answer either way."""
    clusters, previous, options = _case(seed)
    if previous is None or not len(previous):
        pytest.skip("no previous refs")
    if form == "string-dtype":
        previous = previous.astype({"record_key": "string", "person_ref": "string"})
    elif form == "labelled-index":
        previous = previous.set_axis(np.arange(len(previous))[::-1] * 3)
    elif form == "text-dates":
        dates = np.array(["2020-01-01", "2021-05-01", None], dtype=object)
        previous = previous.assign(first_seen=dates[np.arange(len(previous)) % 3])
    keys, refs, seen = _previous_arrays(previous)
    prev = _previous(previous)
    np.testing.assert_array_equal(keys, prev["record_key"].to_numpy(dtype=object))
    np.testing.assert_array_equal(refs, prev["person_ref"].to_numpy(dtype=object))
    np.testing.assert_array_equal(seen, prev["first_seen"].to_numpy())
    got = assign_person_refs(clusters, previous, **options)  # type: ignore[arg-type]
    want = reference_person_refs(clusters, previous, **options)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    pd.testing.assert_frame_equal(got[1], want[1], check_exact=True)


def test_a_cluster_owning_refs_seen_alike_keeps_the_smallest() -> None:
    """Refs first seen on the same day (or never) are told apart by their text: only those
    ties are put in string order."""
    clusters = pd.DataFrame({"record_key": list("abcdef"), "cluster_id": [0, 0, 0, 1, 1, 2]})
    previous = pd.DataFrame(
        {
            "record_key": list("abcdef"),
            "person_ref": ["P9", "P10", "P2", "P7", "P3", "P5"],
            "first_seen": pd.to_datetime(["2020-01-01"] * 3 + [None] * 3),
        }
    )
    people, events = assign_person_refs(clusters, previous, key=b"s")
    assert people["person_ref"].tolist() == ["P10"] * 3 + ["P3"] * 2 + ["P5"]
    want = reference_person_refs(clusters, previous, key=b"s")
    pd.testing.assert_frame_equal(people, want[0], check_exact=True)
    pd.testing.assert_frame_equal(events, want[1], check_exact=True)


@pytest.mark.parametrize("seed", range(0, 80, 2))
def test_clusters_in_key_order_join_by_lookup_like_the_reference(seed: int) -> None:
    """The engine hands over its clusters with distinct keys in order: last night's keys
    are then looked up among tonight's (a key held twice last night still counts twice)."""
    clusters, previous, options = _case(seed)
    clusters = clusters.sort_values("record_key").reset_index(drop=True)
    assert clusters["record_key"].is_unique and clusters["record_key"].is_monotonic_increasing
    if previous is not None and len(previous) > 2 and seed % 4 == 0:
        previous = pd.concat([previous, previous.iloc[:2]], ignore_index=True)
    got = assign_person_refs(clusters, previous, **options)  # type: ignore[arg-type]
    want = reference_person_refs(clusters, previous, **options)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    pd.testing.assert_frame_equal(got[1], want[1], check_exact=True)
