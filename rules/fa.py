"""Frequent attender at A&E.

**Fires when** the person has at least ``min_attendances`` (5) distinct A&E attendances
(distinct provider + attendance id, across every provider, after linkage) arriving in the last
``window_days`` (365) days. Severity is HIGH when the person also has ``DA_KNOWN`` (DA victim
or suspect evidence in the last ``da_known_days``, 730, days), else MEDIUM.

**Does not fire when** fewer attendances arrived in the window: an attendance arriving
``window_days + 1`` days before ``as_of``, or after ``as_of``, does not count; a repeated
attendance row counts once.

**Rationale**: the review found repeated A&E attendances at different hospitals were never
added up; frequent attendance is a known marker of hidden domestic abuse.

Recipients: the GP, and each A&E provider with an attendance in the window (not every provider
that ever saw the person).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd

from rules.base import Rule, da_known, da_phrase, fmt_date, hits_frame, kind_in_window, raw_flags

if TYPE_CHECKING:
    from rules.context import RuleContext


class Rule_FA(Rule):
    __doc__ = __doc__
    id = "FA"
    name = "Frequent attender"
    severity = "HIGH if DA_KNOWN, else MEDIUM"
    recipients = ("GP", "AE providers attended in the window")
    parameters = MappingProxyType({"window_days": 365, "min_attendances": 5, "da_known_days": 730})
    windows = ("window_days", "da_known_days")

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        visits = kind_in_window(context, ("AE_ATTENDANCE",), params["window_days"])
        visits = visits.drop_duplicates(["person_ref", "org_code", "reference"])
        per_person = visits.groupby("person_ref").agg(
            count=("reference", "size"), first=("date", "min"), last=("date", "max")
        )
        per_person = per_person.loc[per_person["count"] >= params["min_attendances"]]
        hits = per_person.reset_index().merge(
            da_known(context, params["da_known_days"]), on="person_ref", how="left"
        )
        known = hits["da_date"].notna()
        summary = (
            hits["count"].astype("string")
            + " A&E attendances between "
            + fmt_date(hits["first"])
            + " and "
            + fmt_date(hits["last"])
        )
        summary = summary.where(~known, summary + " with " + da_phrase(hits))
        severity = pd.Series("MEDIUM", index=hits.index).where(~known, "HIGH")
        providers = (
            visits.loc[visits["person_ref"].isin(hits["person_ref"]), ["person_ref", "org_code"]]
            .drop_duplicates()
            .rename(columns={"org_code": "recipient_code"})
        )
        return raw_flags(
            self.id,
            hits_frame(hits["person_ref"], severity, summary, hits["last"]),
            [("gp", None), ("ae", providers)],
        )
