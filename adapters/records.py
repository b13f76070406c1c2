"""Person records (contract B) and the ``record_key`` that event tables share with them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd
from pandas.api.types import pandas_dtype

from adapters.ingest import empty_table

__all__ = [
    "PERSON_COLUMNS",
    "UNREGISTERED_PRACTICE_CODES",
    "add_record_key",
    "person_records",
    "record_key",
]

#: ``gp_practice_code`` values meaning unregistered / not applicable / not known.
UNREGISTERED_PRACTICE_CODES = ("V81997", "V81998", "V81999")

PERSON_COLUMNS = (
    "record_key",
    "source",
    "org_code",
    "record_id",
    "local_id",
    "nhs_number",
    "nhs_number_status",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "address_1",
    "address_2",
    "town",
    "postcode",
    "postcode_valid",
    "uprn",
    "sensitive",
    "address_date",
    "gp_current",
    "gp_practice_code",
)

# table -> (source, org column, person id column) for person tables and event tables alike.
_KEYS: Mapping[str, tuple[str, str, str]] = {
    "gp_patients": ("gp", "practice_code", "patient_id"),
    "gp_events": ("gp", "practice_code", "patient_id"),
    "gp_correspondence": ("gp", "practice_code", "patient_id"),
    "ae_attendances": ("ae", "provider_code", "attendance_id"),
    "mh_patients": ("mh", "provider_code", "local_patient_id"),
    "mh_activity": ("mh", "provider_code", "local_patient_id"),
    "police_nominals": ("police", "force_code", "nominal_id"),
    "police_incidents": ("police", "force_code", "nominal_id"),
}


_DTYPES: Mapping[str, str] = {
    "sensitive": "bool",
    "gp_current": "bool",
    "postcode_valid": "bool",
    "address_date": "datetime64[ns]",
    "date_of_birth": "datetime64[ns]",
}  # the rest of PERSON_COLUMNS are "string"


def record_key(table: str, frame: pd.DataFrame) -> pd.Series:
    """``"<source>:<org_code>:<record_id>"`` of the person each row of ``table`` belongs to."""
    try:
        source, org, ident = _KEYS[table]
    except KeyError:
        raise KeyError(f"no record key for table {table!r}; known: {', '.join(_KEYS)}") from None
    # Joined on the cells themselves: three pandas string additions would each check every
    # cell for a blank and build a string array; a blank (pd.NA) still makes a blank key.
    org_cells = np.asarray(frame[org].astype("string").array, dtype=object)
    id_cells = np.asarray(frame[ident].astype("string").array, dtype=object)
    key = np.add(np.add(np.add(f"{source}:", org_cells), ":"), id_cells)
    return pd.Series(pd.array(key, dtype="string"), index=frame.index)


def add_record_key(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with a ``record_key`` column (see :func:`record_key`)."""
    return frame.assign(record_key=record_key(table, frame))


def _table(tables: Mapping[str, pd.DataFrame], stem: str) -> pd.DataFrame:
    frame = tables.get(stem)
    return empty_table(stem) if frame is None else frame


def _rows(frame: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
    """``frame.loc[keep]``, without copying every cell when every row is kept."""
    return frame if keep.all() else frame.loc[keep]


def _latest(events: pd.DataFrame, table: str, when: str, as_of_end: pd.Timestamp) -> pd.Series:
    """Per person record key, the latest ``when`` before the end of ``as_of``."""
    known = events.loc[events[when] < as_of_end]
    return known[when].groupby(record_key(table, known).to_numpy()).max()


def _person_frame(
    frame: pd.DataFrame, table: str, *, local_id: pd.Series, address_date: pd.Series
) -> pd.DataFrame:
    source, org, ident = _KEYS[table]
    n = len(frame)
    na_text = pd.Series(pd.NA, index=frame.index, dtype="string")
    out = pd.DataFrame(
        {
            "record_key": record_key(table, frame),
            "source": pd.Series(source, index=frame.index, dtype="string"),
            "org_code": frame[org],
            "record_id": frame[ident],
            "local_id": local_id.astype("string"),
        },
        index=frame.index,
    )
    for column in PERSON_COLUMNS[5:16]:
        out[column] = frame[column] if column in frame.columns else na_text
    out["uprn"] = frame["uprn"] if "uprn" in frame.columns else na_text
    out["sensitive"] = frame["sensitive"] if "sensitive" in frame.columns else False
    out["address_date"] = address_date.astype("datetime64[ns]")
    out["gp_current"] = False
    practice = frame["gp_practice_code"] if "gp_practice_code" in frame.columns else na_text
    out["gp_practice_code"] = practice.mask(practice.isin(UNREGISTERED_PRACTICE_CODES))
    assert len(out) == n
    return out


def person_records(tables: Mapping[str, pd.DataFrame], as_of: date) -> pd.DataFrame:
    """One row per person-bearing record that existed on ``as_of`` (contract B)."""
    day = pd.Timestamp(as_of)
    end = day + pd.Timedelta(days=1)  # anything during as_of itself has happened by then

    gp = _table(tables, "gp_patients")
    gp = _rows(gp, gp["registered_on"].isna() | (gp["registered_on"] < end))
    gp_rows = _person_frame(
        gp, "gp_patients", local_id=gp["patient_id"], address_date=gp["registered_on"]
    )
    gp_rows["gp_current"] = (
        gp["deregistered_on"].isna() | (gp["deregistered_on"] > day)
    ).to_numpy()

    ae = _table(tables, "ae_attendances")
    ae = _rows(ae, ae["arrival_at"] < end)
    ae_rows = _person_frame(
        ae,
        "ae_attendances",
        local_id=ae["local_patient_id"].fillna(ae["attendance_id"]),
        address_date=ae["arrival_at"],
    )

    mh = _table(tables, "mh_patients")
    mh_latest = _latest(_table(tables, "mh_activity"), "mh_activity", "start_date", end)
    mh_keys = record_key("mh_patients", mh)
    mh_rows = _person_frame(
        mh,
        "mh_patients",
        local_id=mh["local_patient_id"],
        address_date=pd.Series(mh_keys.map(mh_latest).to_numpy(), index=mh.index),
    )

    police = _table(tables, "police_nominals")
    incidents = _table(tables, "police_incidents")
    police_latest = _latest(incidents, "police_incidents", "occurred_at", end)
    police_keys = record_key("police_nominals", police)
    police_rows = _person_frame(
        police,
        "police_nominals",
        local_id=police["nominal_id"],
        address_date=pd.Series(police_keys.map(police_latest).to_numpy(), index=police.index),
    )

    frames = [gp_rows, ae_rows, mh_rows, police_rows]
    out = pd.concat([f for f in frames if len(f)] or [gp_rows], ignore_index=True)
    for column in PERSON_COLUMNS:
        dtype = pandas_dtype(_DTYPES.get(column, "string"))
        # Casting a column to the dtype it has would only copy it.
        if out[column].dtype != dtype:
            out[column] = out[column].astype(dtype)
    if tuple(out.columns) == PERSON_COLUMNS:  # as built: selecting would copy every cell
        return out
    return out.loc[:, list(PERSON_COLUMNS)]
