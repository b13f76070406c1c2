"""Evidence: one row per (source record event, evidence kind), pooled per linked person.

Kinds and sources follow RULES.md ("Evidence"). Readings chosen where the spec is silent:

* every evidence ``date`` is the date part (midnight) of the source's own date;
* events dated after ``as_of`` are dropped, and so is a MARAC referral dated after it;
* a ``marac_referred_on`` date gives a ``DA_VICTIM`` row (``basis="marac"``) dated on the
  referral, whatever the row's role or ``domestic`` value (a MARAC referral is a DA referral);
* police rows give DA evidence only when ``domestic`` is true; ``CRISIS`` from police needs a
  role other than WITNESS/OTHER (a blank role is not a crisis);
* records whose ``record_key`` is not in ``record_person`` (not linked to a person) are dropped;
* A&E attendances repeating an earlier (provider, attendance_id) are dropped (first kept);
* ``bail_breach`` is a property of the incident: true on every row of an incident (force +
  incident_id) when any of its rows says ``Y`` (forces often mark it on the suspect's row only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rules.base import as_datetime, sorted_positions
from rules.codes import CodeLists
from rules.errors import RulesError

EVIDENCE_KINDS = (
    "DA_VICTIM",
    "DA_SUSPECT",
    "DA_CHILD",
    "SELF_HARM",
    "AE_ATTENDANCE",
    "MH_SELF_DISCHARGE",
    "CRISIS",
)

EVIDENCE_COLUMNS = (
    "person_ref",
    "kind",
    "date",
    "source",
    "org_code",
    "record_key",
    "reference",
    "role",
    "incident_id",
    "bail_breach",
    "marac_referred_on",
    "basis",
)

_TEXT = ("person_ref", "kind", "source", "org_code", "record_key", "reference", "role")
_TEXT_MORE = ("incident_id", "basis")

RecordPerson = pd.Series | pd.DataFrame | Mapping[str, str]


def evidence_frame(rows: pd.DataFrame | list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """An evidence frame with every column and its dtype (missing columns filled blank)."""
    frame = pd.DataFrame(rows if rows is not None else [])
    out = pd.DataFrame(index=frame.index)
    for col in (*_TEXT, *_TEXT_MORE):
        out[col] = (
            frame[col].astype("string")
            if col in frame
            else pd.Series(pd.NA, index=frame.index, dtype="string")
        )
    for col in ("date", "marac_referred_on"):
        values = frame[col] if col in frame else pd.Series(pd.NaT, index=frame.index)
        out[col] = pd.to_datetime(values).dt.normalize().astype("datetime64[ns]")
    out["bail_breach"] = as_bool(frame["bail_breach"]) if "bail_breach" in frame else False
    return out.loc[:, list(EVIDENCE_COLUMNS)].reset_index(drop=True)


def as_bool(values: pd.Series) -> pd.Series:
    """Y/N, true/false or bool column → bool (blank = False)."""
    if values.dtype == bool:
        return values
    # a handful of distinct spellings over many rows: read each once
    code, distinct = pd.factorize(values)
    text = pd.Series(distinct, dtype="string").str.strip().str.upper()
    yes = text.isin(["Y", "YES", "TRUE", "1"]).fillna(False).to_numpy(dtype=bool)
    return pd.Series(np.append(yes, False)[code], index=values.index, dtype=bool)


def person_lookup(record_person: RecordPerson) -> pd.Series:
    """``record_key → person_ref`` as a Series, from a Series, mapping or records frame."""
    if isinstance(record_person, pd.DataFrame):
        missing = {"record_key", "person_ref"} - set(record_person.columns)
        if missing:
            raise RulesError(f"record_person frame lacks column(s) {', '.join(sorted(missing))}")
        # On plain object arrays: a string-dtype index makes duplicated/dropna several
        # times slower (seconds at two million records).
        keys = pd.Index(record_person["record_key"].astype(str).to_numpy(dtype=object))
        refs = record_person["person_ref"].astype("string")
        linked = refs.notna().to_numpy(dtype=bool)
        if keys.is_unique and linked.all():
            # the usual case, kept whole: the index keeps the hash table is_unique built, so
            # every later lookup by record key (evidence, letters) reuses it
            return pd.Series(refs.array, index=keys, dtype="string")
        keep = ~keys.duplicated(keep="first") & linked
        return pd.Series(refs.array[keep], index=keys[keep], dtype="string")
    if isinstance(record_person, pd.Series):
        series = record_person
        if (
            isinstance(series.dtype, pd.StringDtype)
            and series.index.dtype == object
            and series.index.inferred_type == "string"
            and series.index.is_unique
            and not series.isna().any()
        ):
            return series  # already a lookup (a context's own): shared, with its hash table
    else:
        series = pd.Series(dict(record_person), dtype="object")
    series = series.astype("string")
    series.index = pd.Index(series.index.astype(str))
    return series[~series.index.duplicated(keep="first")].dropna()


def _require(tables: Mapping[str, pd.DataFrame], name: str, cols: tuple[str, ...]) -> pd.DataFrame:
    table = tables.get(name)
    if table is None:
        return pd.DataFrame(columns=list(cols))
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise RulesError(f"table {name!r} lacks column(s) {', '.join(missing)} (contract A)")
    return table.reset_index(drop=True)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip()


def _dates(values: pd.Series) -> pd.Series:
    return as_datetime(values)


def code_hits(values: pd.Series, codes: frozenset[str]) -> pd.Series:
    """Whether any code of a ``|``-separated cell is in ``codes`` (vectorised)."""
    if values.empty:
        return pd.Series(False, index=values.index, dtype=bool)
    # A code column repeats a few thousand distinct cells over many rows: split each
    # distinct cell once and spread the answer back by its factor code.
    cell, distinct = pd.factorize(_text(values), use_na_sentinel=True)
    parts = pd.Series(distinct, dtype="string").str.split("|").explode().str.strip()
    per_distinct = parts.isin(codes).groupby(level=0).any().to_numpy(dtype=bool)
    hit = np.append(per_distinct, False)[cell]  # code -1 (blank cell) takes the False
    return pd.Series(hit, index=values.index, dtype=bool)


def _rows(base: pd.DataFrame, mask: pd.Series, kind: str, basis: str | pd.Series) -> pd.DataFrame:
    part = base.loc[mask.to_numpy()].copy()
    part["kind"] = kind
    part["basis"] = basis[mask.to_numpy()] if isinstance(basis, pd.Series) else basis
    return part


def _gp(tables: Mapping[str, pd.DataFrame], codes: CodeLists, as_of: pd.Timestamp) -> list:
    t = _require(
        tables, "gp_events", ("practice_code", "patient_id", "event_id", "code", "effective_date")
    )
    # Events first narrowed to those any list codes: a few in a hundred give evidence, and
    # only those need their text and dates read.
    listed = code_hits(t["code"], codes.da | codes.da_child | codes.self_harm).to_numpy()
    t = t.loc[listed]
    base = pd.DataFrame(
        {
            "source": "gp",
            "org_code": _text(t["practice_code"]),
            "record_key": "gp:" + _text(t["practice_code"]) + ":" + _text(t["patient_id"]),
            "reference": _text(t["event_id"]),
            "date": _dates(t["effective_date"]).dt.normalize(),
        }
    )
    keep = (base["date"] <= as_of).to_numpy()
    base, code = base.loc[keep], t.loc[keep, "code"]
    self_harm = code_hits(code, codes.self_harm)
    return [
        _rows(base, code_hits(code, codes.da), "DA_VICTIM", "gp_code"),
        _rows(base, code_hits(code, codes.da_child), "DA_CHILD", "gp_code"),
        _rows(base, self_harm, "SELF_HARM", "gp_code"),
        _rows(base, self_harm, "CRISIS", "self_harm"),
    ]


def _ae(tables: Mapping[str, pd.DataFrame], codes: CodeLists, as_of: pd.Timestamp) -> list:
    t = _require(tables, "ae_attendances", ("provider_code", "attendance_id", "arrival_at"))
    t = t.loc[~t.duplicated(["provider_code", "attendance_id"], keep="first")]
    base = pd.DataFrame(
        {
            "source": "ae",
            "org_code": _text(t["provider_code"]),
            "record_key": "ae:" + _text(t["provider_code"]) + ":" + _text(t["attendance_id"]),
            "reference": _text(t["attendance_id"]),
            "date": _dates(t["arrival_at"]).dt.normalize(),
        }
    )
    keep = (base["date"] <= as_of).to_numpy()
    base, t = base.loc[keep], t.loc[keep]
    self_harm = ae_self_harm(t, codes)
    da = code_hits(_column(t, "safeguarding_concerns"), codes.da)
    return [
        _rows(base, pd.Series(True, index=base.index), "AE_ATTENDANCE", "attendance"),
        _rows(base, da, "DA_VICTIM", "safeguarding_concern"),
        _rows(base, self_harm, "SELF_HARM", "self_harm_presentation"),
        _rows(base, self_harm, "CRISIS", "self_harm"),
    ]


def _column(t: pd.DataFrame, name: str) -> pd.Series:
    if name in t.columns:
        return t[name]
    return pd.Series(pd.NA, index=t.index, dtype="string")


def ae_self_harm(t: pd.DataFrame, codes: CodeLists) -> pd.Series:
    """A&E attendances that are self-harm: injury intent, chief complaint or a diagnosis."""
    return (
        code_hits(_column(t, "injury_intent"), codes.self_harm_intent)
        | code_hits(_column(t, "chief_complaint"), codes.self_harm)
        | code_hits(_column(t, "diagnoses"), codes.self_harm)
    )


def _mh(tables: Mapping[str, pd.DataFrame], codes: CodeLists, as_of: pd.Timestamp) -> list:
    t = _require(
        tables,
        "mh_activity",
        ("provider_code", "activity_id", "local_patient_id", "activity_type", "start_date"),
    )
    base = pd.DataFrame(
        {
            "source": "mh",
            "org_code": _text(t["provider_code"]),
            "record_key": "mh:" + _text(t["provider_code"]) + ":" + _text(t["local_patient_id"]),
            "reference": _text(t["activity_id"]),
            "date": _dates(t["start_date"]).dt.normalize(),
        }
    )
    keep = (base["date"] <= as_of).to_numpy()
    base, t = base.loc[keep], t.loc[keep]
    self_harm = code_hits(_column(t, "codes"), codes.self_harm)
    self_discharge = (_text(t["activity_type"]).str.upper() == "DISCHARGE") & (
        _text(_column(t, "discharge_method")).str.upper() == "SELF"
    )
    self_discharge = self_discharge.fillna(False).astype(bool)
    crisis_basis = pd.Series("self_harm", index=base.index).where(self_harm, "self_discharge")
    return [
        _rows(base, self_harm, "SELF_HARM", "mh_code"),
        _rows(base, self_discharge, "MH_SELF_DISCHARGE", "self_discharge"),
        _rows(base, self_harm | self_discharge, "CRISIS", crisis_basis),
    ]


def _police(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> list:
    t = _require(
        tables,
        "police_incidents",
        ("force_code", "incident_id", "nominal_id", "role", "occurred_at", "domestic"),
    )
    base = pd.DataFrame(
        {
            "source": "police",
            "org_code": _text(t["force_code"]),
            "record_key": "police:" + _text(t["force_code"]) + ":" + _text(t["nominal_id"]),
            "reference": _text(t["incident_id"]),
            "incident_id": _text(t["incident_id"]),
            "role": _text(t["role"]).str.upper(),
            "date": _dates(t["occurred_at"]).dt.normalize(),
            "bail_breach": as_bool(_column(t, "bail_breach"))
            .groupby([_text(t["force_code"]), _text(t["incident_id"])], dropna=False)
            .transform("any")
            .astype(bool),
            "marac_referred_on": _dates(_column(t, "marac_referred_on")).dt.normalize(),
        }
    )
    in_time = (base["date"] <= as_of).to_numpy()
    domestic = as_bool(t["domestic"]).to_numpy() & in_time
    role = base["role"].fillna("")
    marac = base["marac_referred_on"].notna() & (base["marac_referred_on"] <= as_of)
    marac_rows = _rows(base, marac, "DA_VICTIM", "marac")
    marac_rows["date"] = marac_rows["marac_referred_on"]
    crisis = domestic & (role != "").to_numpy() & ~role.isin(["WITNESS", "OTHER"]).to_numpy()
    return [
        _rows(base, pd.Series(domestic & (role == "VICTIM").to_numpy()), "DA_VICTIM", "incident"),
        _rows(base, pd.Series(domestic & (role == "SUSPECT").to_numpy()), "DA_SUSPECT", "incident"),
        _rows(
            base, pd.Series(domestic & (role == "CHILD_PRESENT").to_numpy()), "DA_CHILD", "incident"
        ),
        _rows(base, pd.Series(crisis), "CRISIS", "police_incident"),
        marac_rows,
    ]


def derive_evidence(
    tables: Mapping[str, pd.DataFrame],
    record_person: RecordPerson,
    *,
    codes: CodeLists,
    as_of: pd.Timestamp | str,
) -> pd.DataFrame:
    """Derive every evidence row from the canonical tables (contract A) for linked persons.

    ``record_person`` maps contract-B ``record_key`` → ``person_ref`` (a Series, a mapping, or a
    frame with those two columns). Returns :data:`EVIDENCE_COLUMNS`, sorted.
    """
    return link_evidence(record_evidence(tables, codes=codes, as_of=as_of), record_person)


def record_evidence(
    tables: Mapping[str, pd.DataFrame], *, codes: CodeLists, as_of: pd.Timestamp | str
) -> pd.DataFrame:
    """Every evidence row per source record, before any record is linked to a person.

    It depends on the tables and ``as_of`` only, so a night derives it once and links it to
    as many assignments of records to persons as it needs (:func:`link_evidence`).
    """
    day = pd.Timestamp(as_of).normalize()
    parts = [
        *_gp(tables, codes, day),
        *_ae(tables, codes, day),
        *_mh(tables, codes, day),
        *_police(tables, day),
    ]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return evidence_frame()
    pooled = pd.concat(parts, ignore_index=True)
    # every column present (a night with no police rows has no incident_id column)
    return pooled.reindex(
        columns=[*pooled.columns, *(c for c in EVIDENCE_COLUMNS if c not in pooled)]
    )


def link_evidence(pooled: pd.DataFrame, record_person: RecordPerson) -> pd.DataFrame:
    """Record-level evidence (:func:`record_evidence`) pooled per linked person, sorted;
    rows of records ``record_person`` does not map are dropped."""
    if not len(pooled):
        return evidence_frame()
    pooled = pooled.assign(person_ref=pooled["record_key"].map(person_lookup(record_person)))
    pooled = pooled.loc[pooled["person_ref"].notna()]
    out = evidence_frame(pooled)
    out = out.drop_duplicates(["record_key", "reference", "kind", "basis", "date"])
    order = sorted_positions(
        out, ["person_ref", "date", "kind", "source", "org_code", "reference", "basis"]
    )
    return out.iloc[order].reset_index(drop=True)
