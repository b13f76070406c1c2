"""A&E discharge letter to the GP sent late (or not sent) for a safeguarding attendance.

**Fires when** an A&E attendance with ``SELF_HARM`` evidence or any safeguarding concern
departed (arrived, when ``departure_at`` is blank) in the last ``window_days`` (90) days, and
``gp_letter_sent_at`` is more than ``due_hours`` (24) hours after that time (same wall-clock
time next day), or is blank (or after ``as_of``: not yet sent) and that due time is before the
end of the ``as_of`` day.

**Does not fire when** the letter was sent at or before the due time; it is not sent but the
due time is after the end of ``as_of``; the departure is dated ``window_days + 1`` days or
more before ``as_of``; the attendance has neither self-harm nor a safeguarding concern.

**Rationale**: the review found A&E letters about a DA victim reached the GP late, over
Christmas, when staffing was thin.

``hours_late`` is whole hours (floor) from the due time to ``sent_at``, or to the end of the
``as_of`` day when not sent; a letter a few minutes late has ``hours_late`` 0 but is late.
``holiday_period`` is ``Y`` when the due time's date is 24 Dec–2 Jan or an England bank holiday.
Recipient: the A&E provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd

from rules.base import Rule, holiday_period, warning_frame
from rules.letters import letter_attendances, run_end, whole_hours

if TYPE_CHECKING:
    from rules.context import RuleContext


class Rule_LETTER_LATE(Rule):
    __doc__ = __doc__
    id = "LETTER-LATE"
    name = "A&E letter to GP late"
    kind = "warning"
    severity = "warning"
    recipients = ("A&E provider of the attendance",)
    parameters = MappingProxyType({"window_days": 90, "due_hours": 24})
    evidence_kinds = ("SELF_HARM",)

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        att = letter_attendances(context, params["window_days"])
        due = att["left_at"] + pd.Timedelta(hours=params["due_hours"])
        sent = att["sent_at"]
        late = (sent.notna() & (sent > due)) | (sent.isna() & (due < run_end(context)))
        att, due = att.loc[late], due.loc[late]
        return warning_frame(
            pd.DataFrame(
                {
                    "rule": self.id,
                    "recipient_type": "ae",
                    "recipient_code": att["provider_code"],
                    "person_ref": att["person_ref"],
                    "reference": att["attendance_id"],
                    "local_id": att["local_id"],
                    "due_by": due,
                    "sent_at": att["sent_at"],
                    "hours_late": whole_hours(att["sent_at"].fillna(run_end(context)) - due),
                    "holiday_period": holiday_period(due),
                }
            )
        )
