"""Suspect in domestic abuse against several different victims.

**Fires when** the person is ``SUSPECT`` in ``domestic=Y`` incidents dated in the last
``window_days`` (1825) days whose ``VICTIM`` rows (same force + incident id) are at least
``min_victims`` (2) distinct linked persons other than the suspect, in one incident or
several, at one force or several.

**Does not fire when** every victim is the same linked person (records of one victim at two
forces, once linked, count once); the incidents are dated ``window_days + 1`` days or more
before ``as_of`` (or after it); the victim rows did not link to any person.

**Rationale**: the review found a perpetrator's history with previous partners was not
visible when assessing the risk to a new partner (serial perpetrators).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd

from rules.base import Rule, fmt_date, hits_frame, kind_in_window, raw_flags

if TYPE_CHECKING:
    from rules.context import RuleContext


class Rule_SERIAL(Rule):
    __doc__ = __doc__
    id = "SERIAL"
    name = "Serial DA suspect"
    severity = "HIGH"
    recipients = ("POLICE",)
    parameters = MappingProxyType({"window_days": 1825, "min_victims": 2})
    windows = ("window_days",)

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        suspect = kind_in_window(context, ("DA_SUSPECT",), params["window_days"])
        ev = context.evidence
        victims = ev.loc[
            (ev["kind"] == "DA_VICTIM") & (ev["basis"] == "incident"),
            ["person_ref", "org_code", "incident_id"],
        ]
        pairs = suspect[["person_ref", "org_code", "incident_id", "date"]].merge(
            victims.rename(columns={"person_ref": "victim_ref"}), on=["org_code", "incident_id"]
        )
        pairs = pairs.loc[pairs["victim_ref"] != pairs["person_ref"]]
        per = pairs.groupby("person_ref").agg(
            victims=("victim_ref", "nunique"), first=("date", "min"), last=("date", "max")
        )
        hits = per.loc[per["victims"] >= params["min_victims"]].reset_index()
        summary = (
            "Suspect in domestic incidents (police) against "
            + hits["victims"].astype("string")
            + " different victims between "
            + fmt_date(hits["first"])
            + " and "
            + fmt_date(hits["last"])
        )
        return raw_flags(
            self.id,
            hits_frame(hits["person_ref"], "HIGH", summary, hits["last"]),
            [("police", None)],
        )
