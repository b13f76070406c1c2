"""Crises of two members of one household close together.

**Fires when** the person and another member of their household each have a ``CRISIS`` event
(self-harm, mental-health self-discharge, or a domestic police incident in a role other than
witness/other) dated in the last ``window_days`` (90) days, and the two dates are at most
``within_days`` (14) days apart.

**Does not fire when** either crisis is dated ``window_days + 1`` days or more before
``as_of`` (or after it); the dates are ``within_days + 1`` or more days apart; the only pairing
is one police incident seen from both sides (the same incident is not two crises); either
person is in no household, sensitive, or in a communal household (linkage's ``communal`` mark
or more than ``communal_size``, 10, non-sensitive persons).

**Rationale**: the review found a self-harm attendance and a partner's self-discharge on the
same day at one address were never connected.

Summary: the person's own latest paired crisis (kind, source, date) and only the date of the
household member's crisis.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd

from rules.base import (
    Rule,
    fmt_date,
    hits_frame,
    household_members,
    kind_in_window,
    raw_flags,
    source_label,
)

if TYPE_CHECKING:
    from rules.context import RuleContext

_CRISIS_LABEL = {
    "self_harm": "self-harm",
    "self_discharge": "self-discharge from mental-health care",
    "police_incident": "domestic incident",
}


class Rule_HH_CRISIS(Rule):
    __doc__ = __doc__
    id = "HH-CRISIS"
    name = "Linked crises in one household"
    severity = "HIGH"
    recipients = ("GP", "MH")
    parameters = MappingProxyType({"window_days": 90, "within_days": 14, "communal_size": 10})
    windows = ("window_days",)
    gaps = ("within_days",)

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        members = household_members(context, params["communal_size"])
        crises = kind_in_window(context, ("CRISIS",), params["window_days"])[
            ["person_ref", "date", "source", "basis", "org_code", "incident_id"]
        ].merge(members, on="person_ref")
        pairs = crises.merge(crises, on="household_ref", suffixes=("", "_other"))
        same_incident = (
            pairs["incident_id"].notna()
            & (pairs["incident_id"] == pairs["incident_id_other"]).fillna(False)
            & (pairs["org_code"] == pairs["org_code_other"]).fillna(False)
        ).astype(bool)
        close = (pairs["date"] - pairs["date_other"]).abs() <= pd.Timedelta(
            days=params["within_days"]
        )
        pairs = pairs.loc[
            (pairs["person_ref"] != pairs["person_ref_other"]) & close & ~same_incident
        ]
        hits = pairs.sort_values(
            ["person_ref", "date", "date_other", "source", "basis"],
            ascending=[True, False, False, True, True],
            kind="stable",
        ).drop_duplicates("person_ref")
        summary = (
            "Crisis ("
            + hits["basis"].map(_CRISIS_LABEL).fillna("crisis").astype("string")
            + ", "
            + source_label(hits["source"])
            + ") on "
            + fmt_date(hits["date"])
            + "; a household member had a crisis on "
            + fmt_date(hits["date_other"])
        )
        return raw_flags(
            self.id,
            hits_frame(hits["person_ref"], "HIGH", summary, hits["date"]),
            [("gp", None), ("mh", None)],
        )
