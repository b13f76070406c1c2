"""Bail breach in a domestic abuse case where this person is the victim.

**Fires when** the person is ``VICTIM`` in a ``domestic=Y`` incident dated in the last
``window_days`` (365) days that includes a breach of bail conditions (``bail_breach=Y`` on any
row of that incident: forces often mark it on the suspect's row only).

**Does not fire when** the incident is dated ``window_days + 1`` days or more before
``as_of`` (or after it); the incident is not domestic; the person is the suspect, a witness or
a child present.

**Rationale**: the review found bail breaches were not treated as escalation of risk to the
victim.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd

from rules.base import Rule, fmt_date, hits_frame, in_window, latest, raw_flags

if TYPE_CHECKING:
    from rules.context import RuleContext


class Rule_BAIL_BREACH(Rule):
    __doc__ = __doc__
    id = "BAIL-BREACH"
    name = "Bail breach in a DA case"
    severity = "HIGH"
    recipients = ("POLICE",)
    parameters = MappingProxyType({"window_days": 365})
    windows = ("window_days",)

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        ev = context.evidence
        breaches = ev.loc[
            (ev["kind"] == "DA_VICTIM")
            & (ev["basis"] == "incident")
            & ev["bail_breach"]
            & in_window(ev["date"], context.as_of, params["window_days"])
        ]
        hits = latest(breaches, "person_ref")
        summary = "Bail breach in a domestic incident as victim (police) on " + fmt_date(
            hits["date"]
        )
        return raw_flags(
            self.id,
            hits_frame(hits["person_ref"], "HIGH", summary, hits["date"]),
            [("police", None)],
        )
