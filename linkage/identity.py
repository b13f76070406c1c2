"""Stable ``person_ref`` across nights.

* A new person's ref is ``P`` + the first 16 hex digits of HMAC-SHA256(key, smallest
  record_key in the cluster): pseudonymous, not reversible without the key, reproducible.
* A previous ref belongs to the cluster holding most of its records (ties: the cluster with
  the smaller smallest record_key).  A cluster keeps the oldest ref it owns (earliest
  ``first_seen``; without that, the lexicographically smallest); any other ref it owns is
  retired into it (``merge`` event).
* Records of a previous ref that landed in a cluster not owning it were split off
  (``split`` event naming the ref they left and the ref they now carry); a cluster owning no
  ref gets a new one.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

from adapters.errors import ConfigError

REF_HEX_DIGITS = 16

EVENT_COLUMNS = ("event", "person_ref", "other_ref", "records")


def person_ref_for(record_key: str, *, key: bytes, salt: int = 0) -> str:
    """The keyed hash ref for a record key (``salt`` > 0 only to resolve a collision)."""
    message = record_key if salt == 0 else f"{record_key}#{salt}"
    digest = hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()
    return "P" + digest[:REF_HEX_DIGITS].upper()


def assign_person_refs(
    clusters: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    key: bytes,
    as_of: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map every record to a person_ref; returns ``(record_person, events)``.

    ``clusters``: ``record_key, cluster_id``.  ``previous``: last night's ``record_key,
    person_ref`` and optionally ``first_seen``.  ``record_person``: ``record_key,
    person_ref, first_seen`` (``as_of`` for refs new tonight).  ``events``: ``event``
    (``merge`` / ``split``), ``person_ref`` (the ref now carried), ``other_ref`` (the ref
    retired or left), ``records``.

    Records, clusters and refs are handled as integer codes: record keys and refs are each
    put in string order once, and every grouping and tie-break after that sorts integers
    (pandas' groupby and sort of Python-stored strings cost about a second at 100k persons).
    """
    if not key:
        raise ConfigError("assign_person_refs needs a non-empty key (the person_ref secret)")
    for column in ("record_key", "cluster_id"):
        if column not in clusters.columns:
            raise ConfigError(f"clusters frame lacks {column!r}: pass LinkageResult.clusters")
    record_key = clusters["record_key"].astype("string")
    keys = record_key.to_numpy(dtype=object)
    cluster_ids, cluster = np.unique(clusters["cluster_id"].to_numpy(), return_inverse=True)
    cluster = cluster.reshape(-1).astype(np.int64)
    n_clusters = len(cluster_ids)

    # each cluster's smallest record key (missing keys sort last), and its rank among keys
    in_order = _distinct_in_order(keys)
    if in_order:  # the engine's clusters: each key is its own rank
        key_order = key_rank = np.arange(len(keys), dtype=np.int64)
    else:
        key_order, key_rank = _string_order(keys)
    firsts = np.full(n_clusters, len(keys), dtype=np.int64)
    np.minimum.at(firsts, cluster[key_order], np.arange(len(keys)))
    min_record = key_order[firsts]
    min_rank = key_rank[min_record]

    prev_keys, prev_refs, prev_seen = _previous_arrays(previous)
    # each previous row's ref as a code (numbered by first appearance: refs are put in
    # string order only where a tie needs it, below)
    prev_ref, ref_uniques = pd.factorize(prev_refs)
    refs = np.asarray(ref_uniques, dtype=object)
    first_seen = (
        pd.Series(prev_seen, name="first_seen")
        .groupby(prev_ref)
        .min()
        .reindex(np.arange(len(refs)))
    )

    # tonight's records joined to last night's refs by key (a key held twice counts twice)
    if len(prev_keys) and in_order:
        # tonight's keys are distinct: each of last night's looks up its row (-1: gone),
        # hashing last night's keys into tonight's, not both nights' keys into one table
        tonight_key = np.arange(len(keys), dtype=np.int64)
        last_key = pd.Index(keys, dtype=object).get_indexer(pd.Index(prev_keys, dtype=object))
    elif len(prev_keys):
        key_codes, _ = pd.factorize(np.concatenate([keys, prev_keys]), use_na_sentinel=True)
        tonight_key, last_key = key_codes[: len(keys)], key_codes[len(keys) :]
    else:  # the first night: nothing to join (and no 100k-key factorize)
        tonight_key, last_key = np.full(len(keys), -1, dtype=np.int64), prev_keys
    c_cluster, c_ref, c_records = _held_counts(tonight_key, cluster, last_key, prev_ref, len(refs))

    # a ref's owner: the cluster holding most of its records, then the smaller smallest key
    by_owner = np.lexsort((min_rank[c_cluster], -c_records, c_ref))
    first_row = _run_starts(c_ref[by_owner])
    owners = by_owner[first_row]
    owner_of_ref = np.full(len(refs), -1, dtype=np.int64)
    owner_of_ref[c_ref[owners]] = c_cluster[owners]
    # a cluster keeps the earliest seen ref it owns (never seen: last), then the smallest
    seen_days = first_seen.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    seen_key = np.where(first_seen.isna().to_numpy(), np.iinfo(np.int64).max, seen_days)
    owned = owners[_sorted_by(c_cluster[owners], seen_key[c_ref[owners]], then=refs[c_ref[owners]])]
    kept_row = _run_starts(c_cluster[owned])
    kept, retired = owned[kept_row], owned[~kept_row]
    ref_of = np.full(n_clusters, None, dtype=object)
    ref_of[c_cluster[kept]] = refs[c_ref[kept]]
    kept_ref = np.full(n_clusters, -1, dtype=np.int64)
    kept_ref[c_cluster[kept]] = c_ref[kept]

    new = np.flatnonzero(kept_ref < 0)
    new_refs = _new_refs(
        pd.Series(keys[min_record[new]], index=cluster_ids[new], dtype="string"),
        taken=set(refs),
        key=key,
    )
    ref_of[new] = new_refs.to_numpy(dtype=object)

    merges = pd.DataFrame(
        {
            "event": "merge",
            "person_ref": ref_of[c_cluster[retired]],
            "other_ref": refs[c_ref[retired]],
            "records": c_records[retired],
        }
    )
    moved = np.flatnonzero(c_cluster != owner_of_ref[c_ref])
    splits = pd.DataFrame(
        {
            "event": "split",
            "person_ref": ref_of[c_cluster[moved]],
            "other_ref": refs[c_ref[moved]],
            "records": c_records[moved],
        }
    )
    events = pd.concat([merges, splits], ignore_index=True).astype(
        {"event": "string", "person_ref": "string", "other_ref": "string", "records": "int64"}
    )
    events = events.sort_values(["event", "person_ref", "other_ref"], ignore_index=True)

    record_person = pd.DataFrame({"record_key": record_key}, index=clusters.index)
    record_person["person_ref"] = pd.array(ref_of[cluster], dtype="string")
    seen_values = first_seen.to_numpy()
    seen_of_cluster = np.full(n_clusters, np.datetime64("NaT"), dtype=seen_values.dtype)
    seen_of_cluster[kept_ref >= 0] = seen_values[kept_ref[kept_ref >= 0]]
    seen = pd.Series(seen_of_cluster[cluster], index=clusters.index)
    first = pd.to_datetime(seen)
    if as_of is not None:
        first = first.fillna(pd.Timestamp(as_of))
    record_person["first_seen"] = first
    return record_person, events


def _held_counts(
    tonight_key: np.ndarray,
    cluster: np.ndarray,
    last_key: np.ndarray,
    ref: np.ndarray,
    n_refs: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (cluster, ref) held by some record on both nights (sorted by cluster, then ref),
    how many records: tonight's records (key code, cluster) joined to last night's (key
    code, ref) on the key.  Tonight's keys are unique (the engine's clusters), so its key
    codes are its row numbers and the join is a lookup; otherwise an inner merge."""
    n = tonight_key.size
    if n == 0 or last_key.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    if np.array_equal(tonight_key, np.arange(n)):
        matched = (last_key >= 0) & (last_key < n)
        held_cluster = cluster[last_key[matched]].astype(np.int64)
        held_ref = ref[matched].astype(np.int64)
    else:
        tonight = pd.DataFrame({"key": tonight_key, "cluster": cluster})
        last = pd.DataFrame({"key": last_key, "ref": ref})
        held = tonight.merge(last[last["key"] >= 0], on="key", how="inner")
        held_cluster = held["cluster"].to_numpy(dtype=np.int64)
        held_ref = held["ref"].to_numpy(dtype=np.int64)
    pairs, records = np.unique(held_cluster * max(n_refs, 1) + held_ref, return_counts=True)
    width = max(n_refs, 1)
    return pairs // width, pairs % width, records.astype(np.int64)


def _sorted_by(first: np.ndarray, second: np.ndarray, *, then: np.ndarray) -> np.ndarray:
    """The order sorting rows by ``first``, ``second`` and then the (distinct) strings
    ``then``: the strings are compared only for rows tying on both integers (a cluster
    owning two refs first seen alike), not put in order all (a Python sort of 100k refs)."""
    order = np.lexsort((second, first))
    a, b = first[order], second[order]
    same = (a[1:] == a[:-1]) & (b[1:] == b[:-1])
    tied = np.zeros(order.size, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    if not tied.any():
        return order
    at = np.flatnonzero(tied)
    texts = then[order[at]]
    rank = np.zeros(order.size, dtype=np.int64)
    rank[at[sorted(range(at.size), key=texts.__getitem__)]] = np.arange(at.size)
    return order[np.lexsort((rank, b, a))]


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts (the first row of each group, once sorted)."""
    starts = np.ones(values.size, dtype=bool)
    starts[1:] = values[1:] != values[:-1]
    return starts


def _distinct_in_order(values: np.ndarray) -> bool:
    """Whether ``values`` are strings, none missing, each greater than the one before."""
    if pd.isna(values).any():
        return False
    return values.size < 2 or bool(np.all(values[1:] > values[:-1]))


def _string_order(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stable string-sort order of ``values`` (missing last), as pandas' stable
    ``sort_values`` gives it, and each value's dense rank in it (equal strings share one).
    Python's sort of str, and no sort at all when the values are already in order (the
    engine hands over its clusters in record-key order)."""
    missing = pd.isna(values)
    present = np.flatnonzero(~missing)
    texts = values[present]
    if texts.size > 1 and bool(np.all(texts[1:] >= texts[:-1])):
        order = present
    else:
        order = present[np.array(sorted(range(texts.size), key=texts.__getitem__), dtype=np.int64)]
    order = np.concatenate([order, np.flatnonzero(missing)]).astype(np.int64)
    ordered = values[order]
    step = np.ones(order.size, dtype=np.int64)
    if order.size:
        step[0] = 0
        n_present = present.size
        step[1:n_present] = ordered[1:n_present] != ordered[: n_present - 1]
        # the missing values rank after every string, all alike
        step[n_present + 1 :] = 0
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.cumsum(step)
    return order, rank


def _previous_arrays(previous: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_previous``'s columns as arrays: record keys and refs (object, ``str``) and first
    seen (datetime64).  Columns of plain ``str`` and missing values (as the store reads
    them) are used as they are, with the rows missing either dropped; anything else goes
    through ``_previous``'s conversion to pandas strings (200k values cost more to convert
    and check than the rest of the assignment)."""
    if previous is not None and len(previous) and isinstance(previous.index, pd.RangeIndex):
        _check_columns(previous)
        keys = previous["record_key"].to_numpy()
        refs = previous["person_ref"].to_numpy()
        if (
            keys.dtype == object
            and refs.dtype == object
            and pd.api.types.infer_dtype(keys, skipna=True) in ("string", "empty")
            and pd.api.types.infer_dtype(refs, skipna=True) in ("string", "empty")
        ):
            present = ~(pd.isna(keys) | pd.isna(refs))
            if "first_seen" in previous.columns:
                seen = pd.to_datetime(previous["first_seen"][present]).to_numpy()
            else:
                seen = np.full(int(present.sum()), np.datetime64("NaT", "ns"))
            return keys[present], refs[present], seen
    prev = _previous(previous)
    return (
        prev["record_key"].to_numpy(dtype=object),
        prev["person_ref"].to_numpy(dtype=object),
        prev["first_seen"].to_numpy(),
    )


def _previous(previous: pd.DataFrame | None) -> pd.DataFrame:
    if previous is None or len(previous) == 0:
        return pd.DataFrame(
            {
                "record_key": pd.Series(dtype="string"),
                "person_ref": pd.Series(dtype="string"),
                "first_seen": pd.Series(dtype="datetime64[ns]"),
            }
        )
    _check_columns(previous)
    prev = previous[["record_key", "person_ref"]].astype("string").dropna()
    if "first_seen" in previous.columns:
        prev["first_seen"] = pd.to_datetime(previous.loc[prev.index, "first_seen"])
    else:
        prev["first_seen"] = pd.NaT
    return prev


def _check_columns(previous: pd.DataFrame) -> None:
    for column in ("record_key", "person_ref"):
        if column not in previous.columns:
            raise ConfigError(
                f"previous person refs lack {column!r}: pass last night's record_person frame"
            )


def _new_refs(cluster_min: pd.Series, *, taken: set[str], key: bytes) -> pd.Series:
    """Hash refs for new clusters; a ref already in use (taken, or given to an earlier
    cluster here) is re-hashed with a salt."""
    smallest = [str(k) for k in cluster_min.to_numpy()]
    refs = [person_ref_for(k, key=key) for k in smallest]
    salt = 0
    while True:
        given: set[str] = set()
        clash = []
        for position, ref in enumerate(refs):
            if ref in taken or ref in given:
                clash.append(position)
            given.add(ref)
        if not clash:
            return pd.Series(refs, index=cluster_min.index, dtype="string")
        salt += 1
        for position in clash:
            refs[position] = person_ref_for(smallest[position], key=key, salt=salt)
