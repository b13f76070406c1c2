"""The frozen input every rule evaluates: ``as_of``, evidence, people, holdings and tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import pandas as pd

from rules.base import as_datetime
from rules.codes import CodeLists
from rules.evidence import (
    as_bool,
    derive_evidence,
    evidence_frame,
    link_evidence,
    person_lookup,
)
from rules.routing import HOLDING_COLUMNS, holdings

PEOPLE_COLUMNS = ("person_ref", "date_of_birth", "household_ref", "communal", "sensitive")


def people_frame(people: pd.DataFrame | None = None) -> pd.DataFrame:
    """``people`` with every column typed (missing flags False, missing text NA)."""
    frame = pd.DataFrame(people if people is not None else [])
    out = pd.DataFrame(index=frame.index)
    for col in ("person_ref", "household_ref"):
        out[col] = (
            frame[col].astype("string")
            if col in frame
            else pd.Series(pd.NA, index=frame.index, dtype="string")
        )
    dob = frame["date_of_birth"] if "date_of_birth" in frame else pd.Series(pd.NaT, index=out.index)
    out["date_of_birth"] = as_datetime(dob)
    for col in ("communal", "sensitive"):
        out[col] = as_bool(frame[col]) if col in frame else False
    return out.loc[:, list(PEOPLE_COLUMNS)].reset_index(drop=True)


def holdings_frame(rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """``holdings`` with every column present (for hand-built holdings in tests)."""
    frame = pd.DataFrame(rows if rows is not None else [])
    out = pd.DataFrame(index=frame.index)
    for col in HOLDING_COLUMNS:
        if col == "last_seen":
            values = frame[col] if col in frame else pd.Series(pd.NaT, index=frame.index)
            out[col] = as_datetime(values)
        else:
            out[col] = (
                frame[col].astype("string")
                if col in frame
                else pd.Series(pd.NA, index=frame.index, dtype="string")
            )
    return out.reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class RuleContext:
    """Everything a rule may read; rules never change it.

    ``record_person`` maps contract-B ``record_key`` → ``person_ref`` (warnings use it to find
    the person an attendance, activity or GP letter belongs to).

    Holdings are either given (``known_holdings``) or derived from ``records`` when first
    read.  A person's holdings depend on their own records only, so :meth:`holdings_for` a
    few persons (the flagged ones, when routing) derives just theirs.
    """

    as_of: pd.Timestamp
    evidence: pd.DataFrame
    people: pd.DataFrame
    known_holdings: pd.DataFrame | None = None
    tables: Mapping[str, pd.DataFrame] = field(default_factory=lambda: MappingProxyType({}))
    record_person: pd.Series = field(default_factory=lambda: pd.Series(dtype="string"))
    records: pd.DataFrame | None = None
    # What several rules derive alike from this context, derived once (see ``memo``).
    _memo: dict[object, pd.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def memo(self, key: object, derive: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """``derive()``, computed once per context and ``key``; a copy each time, so no
        rule can change what another reads."""
        if key not in self._memo:
            self._memo[key] = derive()
        return self._memo[key].copy()

    def __post_init__(self) -> None:
        object.__setattr__(self, "as_of", pd.Timestamp(self.as_of).normalize())
        if self.known_holdings is None and self.records is None:
            object.__setattr__(self, "known_holdings", holdings_frame())

    @cached_property
    def holdings(self) -> pd.DataFrame:
        """Who holds each person (:func:`rules.routing.holdings`)."""
        if self.known_holdings is not None:
            return self.known_holdings
        assert self.records is not None  # __post_init__ gives one or the other
        return holdings(self.records)

    def holdings_for(self, persons: pd.Series | pd.Index) -> pd.DataFrame:
        """The holdings of ``persons`` only: the same rows :attr:`holdings` has for them."""
        if self.records is None or "holdings" in self.__dict__ or self.known_holdings is not None:
            known = self.holdings
            return known.loc[known["person_ref"].isin(persons)].reset_index(drop=True)
        return holdings(self.records.loc[self.records["person_ref"].isin(persons)])

    @classmethod
    def build(
        cls,
        *,
        tables: Mapping[str, pd.DataFrame],
        records: pd.DataFrame,
        people: pd.DataFrame,
        codes: CodeLists,
        as_of: pd.Timestamp | str,
        record_evidence: pd.DataFrame | None = None,
    ) -> RuleContext:
        """The pipeline's entry point: contract-A tables, contract-B records with
        ``person_ref``, and the people frame of contract E.  ``record_evidence``: the
        tables' evidence from :func:`rules.evidence.record_evidence` for this ``as_of`` and
        these code lists, when the caller already derived it (it is derived here if not)."""
        lookup = person_lookup(records)
        evidence = (
            derive_evidence(tables, lookup, codes=codes, as_of=as_of)
            if record_evidence is None
            else link_evidence(record_evidence, lookup)
        )
        return cls(
            as_of=pd.Timestamp(as_of),
            evidence=evidence,
            people=people_frame(people),
            tables=MappingProxyType(dict(tables)),
            record_person=lookup,
            records=records,
        )

    @classmethod
    def of(
        cls,
        *,
        as_of: pd.Timestamp | str,
        evidence: pd.DataFrame | None = None,
        people: pd.DataFrame | None = None,
        holdings: pd.DataFrame | None = None,
        tables: Mapping[str, pd.DataFrame] | None = None,
        record_person: pd.Series | None = None,
    ) -> RuleContext:
        """A context from partial, hand-made frames (missing columns filled blank)."""
        return cls(
            as_of=pd.Timestamp(as_of),
            evidence=evidence_frame(evidence),
            people=people_frame(people),
            known_holdings=holdings_frame(holdings),
            tables=MappingProxyType(dict(tables or {})),
            record_person=(
                person_lookup(record_person)
                if record_person is not None
                else pd.Series(dtype="string")
            ),
        )
