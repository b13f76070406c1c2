"""Mental-health self-discharge with known domestic abuse.

**Fires when** the person has ``MH_SELF_DISCHARGE`` evidence (an MH ``DISCHARGE`` with
``discharge_method=SELF``) dated in the last ``window_days`` (90) days, and ``DA_KNOWN`` (DA
victim or suspect evidence in the last ``da_known_days``, 730, days), in either order.

**Does not fire when** the self-discharge is dated ``window_days + 1`` days or more before
``as_of`` (or after it); the discharge was clinical, other or by death; there is no DA victim
or suspect evidence in ``da_known_days``.

**Rationale**: the review found a perpetrator's self-discharge against advice was not shared
with the agencies managing the domestic abuse risk.

Recipients: the GP and the MH provider(s) where a self-discharge in the window happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd

from rules.base import (
    Rule,
    da_known,
    da_phrase,
    fmt_date,
    hits_frame,
    kind_in_window,
    latest,
    raw_flags,
)

if TYPE_CHECKING:
    from rules.context import RuleContext


class Rule_MH_SD_DA(Rule):
    __doc__ = __doc__
    id = "MH-SD-DA"
    name = "Mental-health self-discharge with known DA"
    severity = "HIGH"
    recipients = ("GP", "MH provider of the self-discharge")
    parameters = MappingProxyType({"window_days": 90, "da_known_days": 730})
    windows = ("window_days", "da_known_days")

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        discharges = kind_in_window(context, ("MH_SELF_DISCHARGE",), params["window_days"])
        hits = latest(discharges, "person_ref").merge(
            da_known(context, params["da_known_days"]), on="person_ref"
        )
        summary = (
            "Self-discharge from mental-health care on "
            + fmt_date(hits["date"])
            + " with "
            + da_phrase(hits)
        )
        providers = (
            discharges.loc[
                discharges["person_ref"].isin(hits["person_ref"]), ["person_ref", "org_code"]
            ]
            .drop_duplicates()
            .rename(columns={"org_code": "recipient_code"})
        )
        return raw_flags(
            self.id,
            hits_frame(hits["person_ref"], "HIGH", summary, hits["date"]),
            [("gp", None), ("mh", providers)],
        )
