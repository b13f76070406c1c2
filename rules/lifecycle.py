"""Flag lifecycle between nights (NEW / CONTINUING / RESOLVED) and HELD flags.

A flag is identified by (rule, person_ref, recipient_type, recipient_code); an ``unrouted``
flag has a blank recipient_code and is matched on that blank.
"""

from __future__ import annotations

import pandas as pd

from rules.base import as_datetime
from rules.errors import RulesError
from rules.routing import FLAG_COLUMNS, KEY

LIFECYCLE_COLUMNS = (*FLAG_COLUMNS, "status", "raised_on")
_BLANK = "~blank~"  # never an ODS code or person_ref


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in KEY:
        out[col] = out[col].astype("string").fillna(_BLANK)
    return out


def _unkeyed(frame: pd.DataFrame) -> pd.DataFrame:
    for col in KEY:
        values = frame[col].astype("string")
        frame[col] = values.mask(values == _BLANK)
    return frame


def _columns(frame: pd.DataFrame) -> pd.DataFrame:
    for col in LIFECYCLE_COLUMNS:
        if col not in frame:
            frame[col] = pd.NA
    out = frame.loc[:, list(LIFECYCLE_COLUMNS)]
    for col in ("evidence_date", "raised_on"):
        out[col] = as_datetime(out[col])
    return out


def apply_lifecycle(
    current: pd.DataFrame, previous_active: pd.DataFrame, *, as_of: pd.Timestamp | str
) -> pd.DataFrame:
    """Status per flag: ``NEW`` (not active last run; raised_on = ``as_of``), ``CONTINUING``
    (raised_on kept from last run), ``RESOLVED`` (active last run, not now; the previous row,
    with its local id, summary and raised_on, so the recipient can remove it).

    ``current``: routed flags of this run. ``previous_active``: the last run's flags that were
    NEW or CONTINUING (rows with status RESOLVED, if passed, are ignored), with ``raised_on``.
    """
    day = pd.Timestamp(as_of).normalize()
    prev = previous_active
    if "status" in prev:
        prev = prev.loc[prev["status"] != "RESOLVED"]
    prev = _keyed(prev).drop_duplicates(KEY)
    cur = _keyed(current)
    raised = prev[[*KEY, "raised_on"]].rename(columns={"raised_on": "_prev_raised"})
    cur = cur.drop(columns=[c for c in ("status", "raised_on") if c in cur]).merge(
        raised, on=KEY, how="left", indicator=True
    )
    continuing = cur["_merge"] == "both"
    cur["status"] = pd.Series("NEW", index=cur.index).where(~continuing, "CONTINUING")
    cur["raised_on"] = pd.to_datetime(cur["_prev_raised"]).where(continuing, day)
    gone = prev.merge(cur[KEY], on=KEY, how="left", indicator=True)
    gone = gone.loc[gone["_merge"] == "left_only"].drop(columns="_merge").assign(status="RESOLVED")
    # Leave empty parts out of the concat: pandas is changing how empty frames set dtypes.
    parts = [_columns(cur.drop(columns=["_merge", "_prev_raised"])), _columns(gone)]
    out = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    out = _unkeyed(out)
    return out.sort_values([*KEY, "status"], kind="stable", na_position="last").reset_index(
        drop=True
    )


def _person_map(provisional_map: pd.DataFrame, record_person: pd.DataFrame | None) -> pd.Series:
    """Confirmed person_ref → provisional person_ref, from either accepted shape."""
    if "provisional_ref" in provisional_map:
        pairs = provisional_map[["person_ref", "provisional_ref"]]
    elif record_person is not None and "record_key" in provisional_map:
        pairs = record_person[["record_key", "person_ref"]].merge(
            provisional_map[["record_key", "person_ref"]].rename(
                columns={"person_ref": "provisional_ref"}
            ),
            on="record_key",
        )[["person_ref", "provisional_ref"]]
    else:
        raise RulesError(
            "held_flags needs provisional_map with columns person_ref, provisional_ref, or a "
            "record-level map (record_key, person_ref) together with record_person= (the "
            "confirmed record_key → person_ref)"
        )
    return pairs.drop_duplicates("person_ref").set_index("person_ref")["provisional_ref"]


def held_flags(
    confirmed: pd.DataFrame,
    provisional: pd.DataFrame,
    provisional_map: pd.DataFrame,
    *,
    record_person: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Flags that exist only if pending review links are accepted: status ``HELD``.

    ``confirmed``: routed flags with confirmed links only. ``provisional``: routed flags with
    review-band links counted as accepted. ``provisional_map``: ``person_ref`` (confirmed
    person) → ``provisional_ref`` (the provisional person containing it); or the record-level
    map ``record_key → person_ref`` (provisional) together with ``record_person``, the
    confirmed ``record_key → person_ref``. A confirmed person missing from the map is its own
    provisional person.

    A provisional flag (rule, provisional person, recipient_type, recipient_code) is held
    unless some confirmed person inside that provisional person has a flag with the same
    (rule, recipient_type, recipient_code). Severity and summary are not compared: an upgrade
    (e.g. FA MEDIUM → HIGH) that depends on a pending link is not held, the flag is already sent.
    """
    mapping = _person_map(provisional_map, record_person)
    explained = confirmed[KEY].copy()
    explained["person_ref"] = (
        explained["person_ref"].map(mapping).fillna(explained["person_ref"]).astype("string")
    )
    prov = _keyed(provisional)
    check = prov.merge(_keyed(explained).drop_duplicates(), on=KEY, how="left", indicator=True)
    held = check.loc[check["_merge"] == "left_only"].drop(columns="_merge")
    held = _unkeyed(held.assign(status="HELD"))
    cols = [c for c in (*FLAG_COLUMNS, "status") if c in held]
    return held.loc[:, cols].reset_index(drop=True)
