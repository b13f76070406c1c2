"""Mental-health discharge letter issued late (or not issued).

**Fires when** an MH ``DISCHARGE`` activity (any ``discharge_method`` but ``DEATH``,
including blank) is dated (``start_date``, the discharge date) in the last ``window_days``
(90) days, and ``discharge_letter_issued_on`` is more than ``due_days`` (1) day after the
discharge date, or is blank (or after ``as_of``: not yet issued) and the end of the due day
(discharge date + ``due_days``) has passed by the end of ``as_of``.

**Does not fire when** the letter was issued on the discharge day or the day after; it is not
issued and ``as_of`` is the discharge day or the day after; the discharge was by death; the
discharge is dated ``window_days + 1`` days or more before ``as_of``.

**Rationale**: the review found the GP was not told of a self-discharge from a mental-health
ward in time to act on it.

``due_by`` is midnight at the end of the due day (discharge + ``due_days`` + 1 day, 00:00).
Issue dates carry no time, so a letter issued on a day counts as issued at the end of it:
``hours_late`` = whole hours from ``due_by`` to the end of the issue day (or of ``as_of``),
a multiple of 24. ``sent_at`` shows the issue date. ``holiday_period`` is judged on the due
day. Recipient: the MH provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd

from rules.base import Rule, as_datetime, holiday_period, in_window, table, warning_frame
from rules.letters import run_end, whole_hours

if TYPE_CHECKING:
    from rules.context import RuleContext

_ACTIVITY = ("provider_code", "activity_id", "local_patient_id", "activity_type", "start_date")


class Rule_MH_LETTER_LATE(Rule):
    __doc__ = __doc__
    id = "MH-LETTER-LATE"
    name = "MH discharge letter late"
    kind = "warning"
    severity = "warning"
    recipients = ("MH provider of the discharge",)
    parameters = MappingProxyType({"window_days": 90, "due_days": 1})
    evidence_kinds = ()

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        t = table(context, "mh_activity", _ACTIVITY)
        provider = t["provider_code"].astype("string").str.strip()
        patient = t["local_patient_id"].astype("string").str.strip()
        discharged = as_datetime(t["start_date"]).dt.normalize()
        method = t.get("discharge_method", pd.Series(pd.NA, index=t.index)).astype("string")
        issued = as_datetime(
            t.get("discharge_letter_issued_on", pd.Series(pd.NaT, index=t.index))
        ).dt.normalize()
        issued = issued.where(issued <= context.as_of)
        due = discharged + pd.Timedelta(days=params["due_days"] + 1)
        issued_end = issued + pd.Timedelta(days=1)
        late = (issued.notna() & (issued_end > due)) | (issued.isna() & (run_end(context) > due))
        keep = (
            (
                (t["activity_type"].astype("string").str.strip().str.upper() == "DISCHARGE")
                & (method.str.strip().str.upper() != "DEATH").fillna(True)
                & in_window(discharged, context.as_of, params["window_days"])
                & late
            )
            .fillna(False)
            .astype(bool)
        )
        return warning_frame(
            pd.DataFrame(
                {
                    "rule": self.id,
                    "recipient_type": "mh",
                    "recipient_code": provider[keep],
                    "person_ref": ("mh:" + provider + ":" + patient)[keep].map(
                        context.record_person
                    ),
                    "reference": t["activity_id"].astype("string").str.strip()[keep],
                    "local_id": patient[keep],
                    "due_by": due[keep],
                    "sent_at": issued[keep],
                    "hours_late": whole_hours(
                        issued_end.fillna(run_end(context))[keep] - due[keep]
                    ),
                    "holiday_period": holiday_period(due[keep] - pd.Timedelta(days=1)),
                }
            )
        )
