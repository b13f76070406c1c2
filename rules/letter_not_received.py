"""A&E letter about a safeguarding attendance not received by the GP practice.

**Fires when** an attendance that ``LETTER-LATE`` covers (self-harm or a safeguarding
concern, departed in the last ``window_days``, 90, days) departed (arrived, when departure is
blank) at least ``wait_days`` (7) days before the end of ``as_of`` (exactly 7 days counts),
and a practice where the
person is currently registered has no matching correspondence received on or before
``as_of``. Matching: a ``gp_correspondence`` row of that practice for any of the person's
patient records there, with ``sender_reference`` equal to the attendance id (and
``sender_code`` blank or the attendance's provider, so another trust's reference cannot
match), or with ``sender_reference`` blank, ``sender_code`` equal to the provider and
``document_date`` within ``match_days`` (2) days of the departure date.

**Does not fire when** the matching letter has a ``received_date`` on or before ``as_of``;
fewer than ``wait_days`` days have passed; the person has no current practice (no warning,
nobody to send it to); the departure is dated ``window_days + 1`` or more days before
``as_of``.

**Rationale**: the review found letters to the GP about a DA victim went astray or were filed
late, so the practice never knew of the attendance.

``due_by`` is departure + ``wait_days``; ``hours_late`` whole hours from then to the end of
``as_of``; ``holiday_period`` is judged on ``due_by``. Recipient: each current practice.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rules.base import Rule, as_datetime, holiday_period, table, warning_frame
from rules.letters import letter_attendances, run_end, whole_hours

if TYPE_CHECKING:
    from rules.context import RuleContext

_CORRESPONDENCE = ("practice_code", "patient_id", "document_id")


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip()


def _of_patients(patient_id: pd.Series, context: RuleContext, persons: pd.Series) -> np.ndarray:
    """Rows whose patient id is one of ``persons``' GP patient ids (a superset of the rows
    that can match: the practice is checked later).  Letters are read for the few
    attendances due, not for every letter a practice received."""
    people = context.record_person
    keys = people.index[people.isin(persons).to_numpy()]
    ids = {key.split(":", 2)[2].strip() for key in keys if key.startswith("gp:")}
    code, distinct = pd.factorize(patient_id)
    wanted = _text(pd.Series(distinct, dtype="object")).isin(ids).to_numpy(dtype=bool)
    return np.append(wanted, False)[code]  # code -1 (blank id) takes the False


class Rule_LETTER_NOT_RECEIVED(Rule):
    __doc__ = __doc__
    id = "LETTER-NOT-RECEIVED"
    name = "A&E letter not received by GP"
    kind = "warning"
    severity = "warning"
    recipients = ("GP",)
    parameters = MappingProxyType({"window_days": 90, "wait_days": 7, "match_days": 2})
    evidence_kinds = ("SELF_HARM",)

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        att = letter_attendances(context, params["window_days"])
        att["due_by"] = att["left_at"] + pd.Timedelta(days=params["wait_days"])
        att = att.loc[att["due_by"] <= run_end(context)]
        held = context.holdings_for(att["person_ref"])
        practices = held.loc[held["recipient_type"] == "gp", ["person_ref", "recipient_code"]]
        candidates = att.merge(practices, on="person_ref")

        c = table(context, "gp_correspondence", _CORRESPONDENCE)
        c = c.loc[_of_patients(c["patient_id"], context, candidates["person_ref"])]
        practice = _text(c["practice_code"])
        letters = pd.DataFrame(
            {
                "person_ref": ("gp:" + practice + ":" + _text(c["patient_id"]))
                .map(context.record_person)
                .astype("string"),
                "recipient_code": practice,
                "sender_code": _text(c.get("sender_code", pd.Series(pd.NA, index=c.index))),
                "sender_reference": _text(
                    c.get("sender_reference", pd.Series(pd.NA, index=c.index))
                ),
                "document_date": as_datetime(
                    c.get("document_date", pd.Series(pd.NaT, index=c.index))
                ),
                "received_date": as_datetime(
                    c.get("received_date", pd.Series(pd.NaT, index=c.index))
                ),
            }
        )
        letters = letters.loc[
            letters["person_ref"].notna()
            & (letters["received_date"].dt.normalize() <= context.as_of).fillna(False)
        ]
        pairs = candidates.merge(letters, on=["person_ref", "recipient_code"])
        by_reference = (pairs["sender_reference"] == pairs["attendance_id"]).fillna(False) & (
            pairs["sender_code"].isna()
            | (pairs["sender_code"] == pairs["provider_code"]).fillna(False)
        )
        days_apart = (pairs["document_date"] - pairs["left_at"].dt.normalize()).abs()
        by_date = (
            pairs["sender_reference"].isna()
            & (pairs["sender_code"] == pairs["provider_code"]).fillna(False)
            & (days_apart <= pd.Timedelta(days=params["match_days"])).fillna(False)
        )
        key = ["provider_code", "attendance_id", "recipient_code"]
        matched = pairs.loc[(by_reference | by_date).astype(bool), key].drop_duplicates()
        flagged = candidates.merge(matched, on=key, how="left", indicator=True)
        missing = flagged.loc[flagged["_merge"] == "left_only"]
        return warning_frame(
            pd.DataFrame(
                {
                    "rule": self.id,
                    "recipient_type": "gp",
                    "recipient_code": missing["recipient_code"],
                    "person_ref": missing["person_ref"],
                    "reference": missing["attendance_id"],
                    "local_id": pd.Series(pd.NA, index=missing.index, dtype="string"),
                    "due_by": missing["due_by"],
                    "sent_at": missing["sent_at"],
                    "hours_late": whole_hours(run_end(context) - missing["due_by"]),
                    "holiday_period": holiday_period(missing["due_by"]),
                }
            )
        )
