"""Repeat domestic incident after a MARAC referral.

**Fires when** the person is ``VICTIM`` in a ``domestic=Y`` incident dated strictly after
(a later day than) their latest MARAC referral (``marac_referred_on`` ≤ ``as_of``) and at most
``after_marac_days`` (365) days after it, and that incident is dated in the last
``window_days`` (365) days.

**Does not fire when** no MARAC referral is dated on or before ``as_of``; the only incidents
are on or before the latest referral's day (an incident on the referral day is the one that
led to it); the repeat incident is ``after_marac_days + 1`` or more days after the referral,
or ``window_days + 1`` or more days before ``as_of``; the person was suspect, witness or a
child present rather than victim.

**Rationale**: the review found repeat incidents after MARAC were not treated as escalation;
MARAC guidance asks for a repeat incident within 12 months to be referred back.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd

from rules.base import Rule, fmt_date, hits_frame, in_window, latest, raw_flags

if TYPE_CHECKING:
    from rules.context import RuleContext


class Rule_MARAC_REPEAT(Rule):
    __doc__ = __doc__
    id = "MARAC-REPEAT"
    name = "Repeat incident after MARAC"
    severity = "HIGH"
    recipients = ("POLICE",)
    parameters = MappingProxyType({"window_days": 365, "after_marac_days": 365})
    windows = ("window_days",)
    gaps = ("after_marac_days",)

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        ev = context.evidence
        victim = ev["kind"] == "DA_VICTIM"
        marac = ev.loc[victim & (ev["basis"] == "marac") & (ev["date"] <= context.as_of)]
        referral = latest(marac, "person_ref")[["person_ref", "date"]].rename(
            columns={"date": "referred_on"}
        )
        incidents = ev.loc[
            victim
            & (ev["basis"] == "incident")
            & in_window(ev["date"], context.as_of, params["window_days"])
        ].merge(referral, on="person_ref")
        gap = incidents["date"] - incidents["referred_on"]
        repeats = incidents.loc[
            (gap > pd.Timedelta(0)) & (gap <= pd.Timedelta(days=params["after_marac_days"]))
        ]
        hits = latest(repeats, "person_ref")
        summary = (
            "Domestic incident as victim (police) on "
            + fmt_date(hits["date"])
            + " after MARAC referral on "
            + fmt_date(hits["referred_on"])
        )
        return raw_flags(
            self.id,
            hits_frame(hits["person_ref"], "HIGH", summary, hits["date"]),
            [("police", None)],
        )
