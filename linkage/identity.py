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
    new_refs = _new_refs(new_clusters, taken=set(prev["person_ref"]), key=key)
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


def _previous(previous: pd.DataFrame | None) -> pd.DataFrame:
    if previous is None or len(previous) == 0:
        return pd.DataFrame(
            {
                "record_key": pd.Series(dtype="string"),
                "person_ref": pd.Series(dtype="string"),
                "first_seen": pd.Series(dtype="datetime64[ns]"),
            }
        )
    for column in ("record_key", "person_ref"):
        if column not in previous.columns:
            raise ConfigError(
                f"previous person refs lack {column!r}: pass last night's record_person frame"
            )
    prev = previous[["record_key", "person_ref"]].astype("string").dropna()
    if "first_seen" in previous.columns:
        prev["first_seen"] = pd.to_datetime(previous.loc[prev.index, "first_seen"])
    else:
        prev["first_seen"] = pd.NaT
    return prev


def _new_refs(cluster_min: pd.Series, *, taken: set[str], key: bytes) -> pd.Series:
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
