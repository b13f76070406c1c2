"""Need-to-know routing: who holds each person, and which rows each recipient may receive.

A recipient only ever receives rows about people it already holds a record of (OUTPUTS.md):
a practice its currently registered patients, a provider people with a record there, a force
its nominals. :func:`route` ends with an inner join to :func:`holdings` and checks it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rules.base import (
    RAW_FLAG_COLUMNS,
    WARNING_COLUMNS,
    as_datetime,
    distinct_counts,
    ordered_codes,
)
from rules.errors import RoutingError, RulesError

HOLDING_COLUMNS = (
    "person_ref",
    "recipient_type",
    "recipient_code",
    "local_id",
    "nhs_number",
    "last_seen",
)
FLAG_COLUMNS = (
    "rule",
    "severity",
    "person_ref",
    "recipient_type",
    "recipient_code",
    "local_id",
    "nhs_number",
    "summary",
    "evidence_date",
)
_FLAG_DTYPES = {c: ("datetime64[ns]" if c == "evidence_date" else "string") for c in FLAG_COLUMNS}
KEY = ["rule", "person_ref", "recipient_type", "recipient_code"]
HOLDER = ["person_ref", "recipient_type", "recipient_code"]
NOT_PRACTICES = frozenset({"V81997", "V81998", "V81999"})
UNROUTED = "unrouted"

HOLDING_RECORD_COLUMNS = (
    "person_ref",
    "source",
    "org_code",
    "record_id",
    "local_id",
    "nhs_number",
    "address_date",
    "gp_current",
)


def _bool(values: pd.Series) -> pd.Series:
    if values.dtype == bool:
        return values
    return values.astype("string").str.upper().isin(["Y", "TRUE", "1"]).fillna(False).astype(bool)


def holdings(records: pd.DataFrame) -> pd.DataFrame:
    """Who holds each person: one row per (person_ref, recipient_type, recipient_code).

    From contract-B records with ``person_ref``: GP only ``gp_current`` rows (never
    V81997/8/9), local id ``patient_id``; A&E ``local_id`` (local patient id, else attendance
    id); MH ``local_patient_id``; police ``nominal_id``. Several records of one person at one
    organisation: the most recent record's id (``address_date``, then the smallest record id).
    ``nhs_number`` is the person's verified number (most frequent over all their records),
    blank for police. ``last_seen`` is the most recent ``address_date`` there.
    """
    missing = [c for c in HOLDING_RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise RulesError(f"records lack column(s) {', '.join(missing)} (contract B + person_ref)")
    r = records.loc[records["person_ref"].notna(), list(HOLDING_RECORD_COLUMNS)]
    text = {c: r[c].astype("string") for c in ("person_ref", "source", "org_code", "record_id")}
    person, persons = ordered_codes(text["person_ref"])
    verified = _verified_numbers(person, len(persons), r["nhs_number"].astype("string"))

    source, org = text["source"], text["org_code"]
    is_gp = (source == "gp").fillna(False).to_numpy(dtype=bool)
    held = (is_gp & _bool(r["gp_current"]).to_numpy()) | source.isin(
        ["ae", "mh", "police"]
    ).to_numpy(dtype=bool)
    rows = np.flatnonzero(held & ~(is_gp & org.isin(NOT_PRACTICES).to_numpy(dtype=bool)))
    record_id = text["record_id"].iloc[rows]
    local = record_id.where(
        source.iloc[rows] != "ae", r["local_id"].astype("string").iloc[rows].fillna(record_id)
    )
    seen = as_datetime(r["address_date"]).to_numpy()[rows]
    # One row per holder: the latest last_seen (unknown last), then the smallest record id;
    # holders in (person_ref, recipient_type, recipient_code) order, blanks last.
    holder = (person[rows], ordered_codes(source.iloc[rows])[0], ordered_codes(org.iloc[rows])[0])
    unseen = np.isnat(seen)
    newest_first = np.where(unseen, 0, -seen.view(np.int64))
    order = np.lexsort((ordered_codes(record_id)[0], newest_first, unseen, *reversed(holder)))
    starts = np.ones(len(order), dtype=bool)
    if len(order):
        starts[1:] = np.any([key[order][1:] != key[order][:-1] for key in holder], axis=0)
    pick = order[starts]
    out = pd.DataFrame(
        {
            "person_ref": text["person_ref"].array[rows[pick]],
            "recipient_type": source.array[rows[pick]],
            "recipient_code": org.array[rows[pick]],
            "local_id": local.array[pick],
            "nhs_number": verified.array[person[rows[pick]]],
            "last_seen": seen[pick],
        }
    )
    out.loc[out["recipient_type"] == "police", "nhs_number"] = pd.NA
    return out.loc[:, list(HOLDING_COLUMNS)].reset_index(drop=True)


def _verified_numbers(person: np.ndarray, persons: int, nhs_number: pd.Series) -> pd.Series:
    """Per person code: the most frequent NHS number over all their records (ties to the
    smallest number; NA when they have none)."""
    number, numbers = ordered_codes(nhs_number)
    has = number < len(numbers)
    width = len(numbers) + 1
    pairs, counts = distinct_counts(person[has].astype(np.int64) * width + number[has])
    pair_person, pair_number = np.divmod(pairs, width)
    best = np.lexsort((pair_number, -counts, pair_person))
    if len(best):
        best = best[np.r_[True, pair_person[best][1:] != pair_person[best][:-1]]]
    verified = np.full(persons, None, dtype=object)
    verified[pair_person[best]] = numbers[pair_number[best]]
    return pd.Series(verified, dtype="string")


def _check_held(rows: pd.DataFrame, held: pd.DataFrame) -> None:
    routed = rows.loc[rows["recipient_type"] != UNROUTED, HOLDER]
    # Holder keys as integers over one shared factorisation of each column (a three-column
    # string merge costs several times more, and this check runs on every routing).
    n_routed = len(routed)
    key = np.zeros(n_routed + len(held), dtype=np.int64)
    for column in HOLDER:
        codes, uniques = pd.factorize(pd.concat([routed[column], held[column]]))
        key = key * (len(uniques) + 1) + (codes + 1)
    if not np.isin(key[:n_routed], key[n_routed:]).all():
        raise RoutingError("a row was routed to a recipient that does not hold the person")


def route(raw_flags: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """Expand raw rule output into one row per recipient that holds the person.

    ``recipient_code`` NA means every organisation of that type holding the person; a code
    means that organisation only, and only if it holds the person. A ``gp`` flag for a person
    with no current practice becomes one ``unrouted`` row (for the safeguarding lead, with the
    person's NHS number where known and no local id). Returns :data:`FLAG_COLUMNS`.
    """
    raw = raw_flags.loc[:, list(RAW_FLAG_COLUMNS)]
    targets = held.loc[
        ~((held["recipient_type"] == "gp") & held["recipient_code"].isin(NOT_PRACTICES)),
        [*HOLDER, "local_id", "nhs_number"],
    ]
    # Only the flagged persons' holders can join (every join key includes person_ref);
    # narrowing first keeps the string joins small and the row order the same.
    held = held.loc[held["person_ref"].isin(raw["person_ref"])]
    targets = targets.loc[targets["person_ref"].isin(raw["person_ref"])]
    wild = raw.loc[raw["recipient_code"].isna()].drop(columns="recipient_code")
    named = raw.loc[raw["recipient_code"].notna()]
    routed = pd.concat(
        [
            wild.merge(targets, on=["person_ref", "recipient_type"], how="inner"),
            named.merge(targets, on=HOLDER, how="inner"),
        ],
        ignore_index=True,
    )
    wanted_gp = raw.loc[
        raw["recipient_type"] == "gp",
        ["rule", "severity", "person_ref", "summary", "evidence_date"],
    ]
    got_gp = routed.loc[routed["recipient_type"] == "gp", ["rule", "person_ref"]]
    lost = wanted_gp.merge(
        got_gp.drop_duplicates(), on=["rule", "person_ref"], how="left", indicator=True
    )
    lost = lost.loc[lost["_merge"] == "left_only"].drop(columns="_merge")
    person_nhs = (
        held.loc[held["nhs_number"].notna()]
        .drop_duplicates("person_ref")
        .set_index("person_ref")["nhs_number"]
    )
    blank = pd.Series(pd.NA, index=lost.index, dtype="string")
    unrouted = lost.assign(
        recipient_type=UNROUTED,
        recipient_code=blank,
        local_id=blank,
        nhs_number=lost["person_ref"].map(person_nhs).astype("string"),
    )
    parts = [p.loc[:, list(FLAG_COLUMNS)].astype(_FLAG_DTYPES) for p in (routed, unrouted)]
    out = pd.concat([p for p in parts if not p.empty] or parts[:1], ignore_index=True)
    for col in FLAG_COLUMNS:
        if col != "evidence_date":
            out[col] = out[col].astype("string")
    out["evidence_date"] = as_datetime(out["evidence_date"])
    out = out.sort_values([*KEY, "severity"], kind="stable", na_position="last")
    out = out.drop_duplicates(KEY, keep="first").reset_index(drop=True)
    _check_held(out, targets)
    return out


def route_warnings(raw_warnings: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """Keep warnings whose recipient holds the person; fill a blank ``local_id`` from holdings."""
    raw = raw_warnings.loc[:, list(WARNING_COLUMNS)]
    targets = held.loc[
        ~((held["recipient_type"] == "gp") & held["recipient_code"].isin(NOT_PRACTICES)),
        [*HOLDER, "local_id"],
    ].rename(columns={"local_id": "_held_local"})
    targets = targets.loc[targets["person_ref"].isin(raw["person_ref"])]  # as in route()
    out = raw.merge(targets, on=HOLDER, how="inner")
    out["local_id"] = out["local_id"].fillna(out["_held_local"]).astype("string")
    out = out.loc[:, list(WARNING_COLUMNS)]
    out = out.sort_values(
        ["rule", "recipient_type", "recipient_code", "reference", "person_ref"], kind="stable"
    ).reset_index(drop=True)
    _check_held(out, targets)
    return out
