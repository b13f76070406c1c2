"""Self-harm with known domestic abuse.

**Fires when** the person has ``SELF_HARM`` evidence (A&E, mental health or GP) dated in the
last ``window_days`` (90) days, and ``DA_KNOWN``: ``DA_VICTIM`` or ``DA_SUSPECT`` evidence
dated in the last ``da_known_days`` (730) days. The two may come in either order.

**Does not fire when** the latest self-harm is dated ``window_days + 1`` days or more before
``as_of`` (or after it), or the only DA evidence is ``DA_CHILD`` or is older than
``da_known_days``.

**Rationale**: the review found A&E saw self-harm while the GP held no DA flag; self-harm in
a person living with domestic abuse is a recognised homicide and suicide risk marker.

Summary: the latest self-harm (source, date) and the latest DA evidence (source, date).
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
    source_label,
)

if TYPE_CHECKING:
    from rules.context import RuleContext


class Rule_DA_SH(Rule):
    __doc__ = __doc__
    id = "DA-SH"
    name = "Self-harm with known domestic abuse"
    severity = "HIGH"
    recipients = ("GP", "AE", "MH")
    parameters = MappingProxyType({"window_days": 90, "da_known_days": 730})
    windows = ("window_days", "da_known_days")

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        harm = latest(kind_in_window(context, ("SELF_HARM",), params["window_days"]), "person_ref")
        hits = harm.merge(da_known(context, params["da_known_days"]), on="person_ref")
        summary = (
            "Self-harm presentation ("
            + source_label(hits["source"])
            + ") on "
            + fmt_date(hits["date"])
            + " with "
            + da_phrase(hits)
        )
        return raw_flags(
            self.id,
            hits_frame(hits["person_ref"], "HIGH", summary, hits["date"]),
            [("gp", None), ("ae", None), ("mh", None)],
        )
