"""A member of this person's household has known domestic abuse.

**Fires when** another person in the same household has ``DA_KNOWN`` (``DA_VICTIM`` or
``DA_SUSPECT`` evidence in the last ``da_known_days``, 730, days). A victim and a suspect who
share a household flag each other. Severity is HIGH when the person is under 18 on ``as_of``
(their 18th birthday is after ``as_of``), else MEDIUM; an unknown date of birth gives MEDIUM.

**Does not fire when** the only DA evidence in the household is the person's own; the person
or the DA-known member is in no household (no fixed abode / unknown address) or is sensitive
(a sensitive person is never placed in a household); the household is communal (marked
communal by linkage, or more than ``communal_size``, 10, non-sensitive persons).

**Rationale**: the review found nobody connected people at one address: children and adults
living with a victim or a perpetrator were invisible to their GP.

Summary: the latest DA evidence of the household member (kind of source, date), never who
they are or where they live. When two members' latest DA evidence falls on the same day, the
summary names the first source in the order A&E, GP, mental health, police (the same text
whichever member's pseudonymous ref sorts first).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd

from rules.base import (
    Rule,
    da_known,
    fmt_date,
    hits_frame,
    household_members,
    latest,
    raw_flags,
    source_label,
)

if TYPE_CHECKING:
    from rules.context import RuleContext


class Rule_HH_DA(Rule):
    __doc__ = __doc__
    id = "HH-DA"
    name = "Household member of a DA household"
    severity = "HIGH if under 18 on as_of, else MEDIUM"
    recipients = ("GP",)
    parameters = MappingProxyType({"da_known_days": 730, "communal_size": 10})
    windows = ("da_known_days",)
    ages = (18,)

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        members = household_members(context, params["communal_size"])
        known = da_known(context, params["da_known_days"]).merge(members, on="person_ref")
        pairs = members.merge(known.rename(columns={"person_ref": "other_ref"}), on="household_ref")
        pairs = pairs.loc[pairs["person_ref"] != pairs["other_ref"]]
        # a tie of dates between members goes to the first source (A&E, GP, MH, police),
        # not to whichever member's pseudonymous ref sorts first
        pairs = pairs.sort_values("da_source", kind="stable")
        hits = latest(pairs, "person_ref", date="da_date").merge(
            context.people[["person_ref", "date_of_birth"]].drop_duplicates("person_ref"),
            on="person_ref",
            how="left",
        )
        adult_on = hits["date_of_birth"] + pd.DateOffset(years=self.ages[0])
        child = (adult_on > context.as_of).fillna(False).astype(bool)
        summary = (
            "A member of this person's household has domestic abuse known ("
            + source_label(hits["da_source"])
            + ", "
            + fmt_date(hits["da_date"])
            + ")"
        )
        severity = pd.Series("MEDIUM", index=hits.index).where(~child, "HIGH")
        return raw_flags(
            self.id,
            hits_frame(hits["person_ref"], severity, summary, hits["da_date"]),
            [("gp", None)],
        )
