"""Shared reading of A&E attendances for the letter warnings (not a rule itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from rules.base import as_datetime, in_window, table

if TYPE_CHECKING:
    from rules.context import RuleContext

AE_COLUMNS = ("provider_code", "attendance_id", "arrival_at")


def run_end(context: RuleContext) -> pd.Timestamp:
    """The run happens at the end of the ``as_of`` day: midnight starting the next day."""
    return context.as_of + pd.Timedelta(days=1)


def letter_attendances(context: RuleContext, window_days: int) -> pd.DataFrame:
    """A&E attendances the letter warnings cover, one row each.

    Those with ``SELF_HARM`` evidence or any safeguarding concern, that departed (arrived,
    when departure is blank) in the last ``window_days`` days. Columns: ``provider_code,
    attendance_id, person_ref, local_id, left_at`` (departure or arrival), ``sent_at`` (blank
    when not sent by the end of ``as_of``).  Derived once per context and window (two
    warnings read it).
    """
    return context.memo(
        ("letter_attendances", window_days), lambda: _letter_attendances(context, window_days)
    )


def _letter_attendances(context: RuleContext, window_days: int) -> pd.DataFrame:
    t = table(context, "ae_attendances", AE_COLUMNS)
    t = t.loc[~t.duplicated(["provider_code", "attendance_id"], keep="first")]
    arrival = as_datetime(t["arrival_at"])
    departure = as_datetime(
        t["departure_at"] if "departure_at" in t else pd.Series(pd.NaT, index=t.index)
    )
    left_at = departure.fillna(arrival)
    # Dates first: the window holds a few percent of a year's attendances, and the text
    # work below need only be done for those.
    when = (
        ((arrival.dt.normalize() <= context.as_of) & in_window(left_at, context.as_of, window_days))
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    t, arrival, left_at = t.loc[when], arrival.loc[when], left_at.loc[when]
    provider = t["provider_code"].astype("string").str.strip()
    attendance = t["attendance_id"].astype("string").str.strip()
    sent = as_datetime(
        t["gp_letter_sent_at"] if "gp_letter_sent_at" in t else pd.Series(pd.NaT, index=t.index)
    )
    concerns = (
        t["safeguarding_concerns"].astype("string").str.strip().fillna("")
        if "safeguarding_concerns" in t
        else pd.Series("", index=t.index)
    )
    ev = context.evidence
    harm = ev.loc[(ev["kind"] == "SELF_HARM") & (ev["source"] == "ae"), ["org_code", "reference"]]
    harm_keys = pd.MultiIndex.from_frame(harm.drop_duplicates().astype(str))
    keys = pd.MultiIndex.from_arrays(
        [provider.fillna("").astype(str), attendance.fillna("").astype(str)]
    )
    covered = (concerns != "") | pd.Series(keys.isin(harm_keys), index=t.index)
    t, provider, attendance = t.loc[covered], provider.loc[covered], attendance.loc[covered]
    local = (
        t["local_patient_id"].astype("string").str.strip()
        if "local_patient_id" in t
        else pd.Series(pd.NA, index=t.index, dtype="string")
    )
    sent = sent.loc[covered]
    out = pd.DataFrame(
        {
            "provider_code": provider,
            "attendance_id": attendance,
            "person_ref": ("ae:" + provider + ":" + attendance)
            .map(context.record_person)
            .astype("string"),
            "local_id": local.fillna(attendance),
            "arrival_at": arrival.loc[covered],
            "left_at": left_at.loc[covered],
            "sent_at": sent.where(sent < run_end(context)),
        }
    )
    return out.reset_index(drop=True)


def whole_hours(delta: pd.Series) -> pd.Series:
    """Whole hours (floor) of a timedelta column."""
    return (delta.dt.total_seconds() // 3600).astype("Int64")
