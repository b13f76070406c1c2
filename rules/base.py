"""What every rule shares: metadata attributes, windows, DA_KNOWN, households, flag frames."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Literal

import holidays
import numpy as np
import pandas as pd

from rules.errors import RulesError

if TYPE_CHECKING:
    from rules.context import RuleContext

RAW_FLAG_COLUMNS = (
    "rule",
    "severity",
    "person_ref",
    "recipient_type",
    "recipient_code",
    "summary",
    "evidence_date",
)
WARNING_COLUMNS = (
    "rule",
    "recipient_type",
    "recipient_code",
    "person_ref",
    "reference",
    "local_id",
    "due_by",
    "sent_at",
    "hours_late",
    "holiday_period",
)
RECIPIENT_TYPES = ("gp", "ae", "mh", "police")
SOURCE_LABEL = {"gp": "GP", "ae": "A&E", "mh": "mental health", "police": "police"}

_SECTION = re.compile(r"\*\*Rationale\*\*:?\s*(.+?)(?:\n\s*\n|\Z)", re.S)


class Rule:
    """Base of every rule and warning; subclasses set the class attributes below.

    ``recipients`` names recipient types: ``GP`` (every current practice), ``AE``/``MH``/
    ``POLICE`` (every such organisation holding the person), or a phrase describing the specific
    organisations the rule names in its output. ``rationale`` is read from the docstring.
    """

    id: ClassVar[str]
    name: ClassVar[str]
    kind: ClassVar[Literal["flag", "warning"]] = "flag"
    severity: ClassVar[str]
    recipients: ClassVar[tuple[str, ...]]
    parameters: ClassVar[Mapping[str, int]]
    rationale: ClassVar[str] = ""
    # How a flag rule reads as_of (rules.incremental relies on it to reuse last night's
    # flags): ``windows`` names the day parameters that are windows ending on as_of,
    # ``gaps`` those that compare two evidence dates with each other, ``ages`` the ages in
    # years whose birthday changes the output.  Every ``*_days`` parameter of a flag rule
    # is a window or a gap (a test checks it).
    windows: ClassVar[tuple[str, ...]] = ()
    # The evidence kinds a rule reads (None: any); lets a caller link only those rows.
    evidence_kinds: ClassVar[tuple[str, ...] | None] = None
    gaps: ClassVar[tuple[str, ...]] = ()
    ages: ClassVar[tuple[int, ...]] = ()

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        match = _SECTION.search(cls.__doc__ or "")
        if match:
            cls.rationale = " ".join(match.group(1).split())

    @classmethod
    def message(cls) -> str:
        """The docstring's first line: what a recipient sees."""
        return (cls.__doc__ or "").strip().splitlines()[0].strip() if cls.__doc__ else ""

    def evaluate(self, context: RuleContext, params: Mapping[str, int]) -> pd.DataFrame:
        """Raw flags (:data:`RAW_FLAG_COLUMNS`) or warnings (:data:`WARNING_COLUMNS`)."""
        raise NotImplementedError


def ordered_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes that sort as the strings do (blank last), and the distinct strings in
    order.  Sorting the distinct strings once with Python's str-only timsort is several times
    faster than pandas' object argsort over every row."""
    codes, uniques = pd.factorize(values)
    distinct = np.asarray(uniques, dtype=object)
    order = np.array(sorted(range(len(distinct)), key=distinct.__getitem__), dtype=np.intp)
    rank = np.empty(len(distinct) + 1, dtype=np.intp)
    rank[order] = np.arange(len(distinct))
    rank[-1] = len(distinct)  # a blank (code -1) after every string
    return rank[codes], distinct[order]


def sorted_positions(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Row positions of ``frame.sort_values(columns, kind="stable")`` (ascending, blanks
    last), computed on integer codes: string and date columns only."""
    keys = []
    for column in columns:
        values = frame[column]
        if pd.api.types.is_datetime64_dtype(values.dtype):
            stamp = values.to_numpy(dtype="datetime64[ns]")
            keys.append(np.where(np.isnat(stamp), np.iinfo(np.int64).max, stamp.view(np.int64)))
        else:
            keys.append(ordered_codes(values)[0])
    return np.lexsort(keys[::-1]) if keys else np.arange(len(frame))


def distinct_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of a 1-d integer array and how often each occurs, as
    ``np.unique(values, return_counts=True)`` gives, by sort and mask: numpy 2.4's
    ``np.unique`` hashes integers first, ten times slower on a million codes.  (The same
    idea as ``linkage.blocking.distinct``; rules do not import linkage.)"""
    ordered = np.sort(values)
    if not ordered.size:
        return ordered, np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.diff(np.r_[starts, ordered.size])


def as_datetime(values: pd.Series) -> pd.Series:
    """``values`` as ``datetime64[ns]``.  A column already of a datetime dtype is only
    cast: ``pd.to_datetime`` would box a tenth of its values to decide whether to cache."""
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    return pd.to_datetime(values).astype("datetime64[ns]")


def in_window(dates: pd.Series, as_of: pd.Timestamp, days: int) -> pd.Series:
    """Date part in ``[as_of - days, as_of]``, both ends inclusive."""
    day = dates.dt.normalize()
    return (day >= as_of - pd.Timedelta(days=days)) & (day <= as_of)


def fmt_date(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d").astype("string")


def source_label(values: pd.Series) -> pd.Series:
    return values.map(SOURCE_LABEL).fillna(values).astype("string")


def latest(frame: pd.DataFrame, by: str | list[str], date: str = "date") -> pd.DataFrame:
    """The latest row per ``by`` (ties broken by the remaining columns' order, stably)."""
    keys = [by] if isinstance(by, str) else by
    ordered = frame.sort_values(
        [*keys, date], ascending=[True] * len(keys) + [False], kind="stable"
    )
    return ordered.drop_duplicates(keys, keep="first")


def kind_in_window(context: RuleContext, kinds: tuple[str, ...], days: int) -> pd.DataFrame:
    ev = context.evidence
    return ev.loc[ev["kind"].isin(kinds) & in_window(ev["date"], context.as_of, days)]


def da_known(context: RuleContext, days: int) -> pd.DataFrame:
    """Persons with ``DA_KNOWN``: ``person_ref, da_date, da_source`` of the latest DA evidence."""
    ev = latest(kind_in_window(context, ("DA_VICTIM", "DA_SUSPECT"), days), "person_ref")
    return pd.DataFrame(
        {
            "person_ref": ev["person_ref"],
            "da_date": ev["date"],
            "da_source": ev["source"],
        }
    ).reset_index(drop=True)


def da_phrase(known: pd.DataFrame) -> pd.Series:
    """``domestic abuse known (police, 2026-06-14)`` per row of :func:`da_known`."""
    return (
        "domestic abuse known ("
        + source_label(known["da_source"])
        + ", "
        + fmt_date(known["da_date"])
        + ")"
    )


def household_members(context: RuleContext, communal_size: int) -> pd.DataFrame:
    """``person_ref, household_ref`` of persons household rules may use.

    Leaves out sensitive persons (never placed in a household), persons without a household
    (NFA/unknown), and communal households: flagged ``communal`` by linkage, or with more than
    ``communal_size`` non-sensitive persons.
    """
    p = context.people
    members = p.loc[
        p["household_ref"].notna() & ~p["sensitive"], ["person_ref", "household_ref", "communal"]
    ]
    # Per household on integer codes (a string groupby-transform costs ten times more).
    home, homes = pd.factorize(members["household_ref"])
    person, persons = pd.factorize(members["person_ref"])
    distinct, _ = distinct_counts(home.astype(np.int64) * (len(persons) + 1) + person)
    size = np.bincount(distinct // (len(persons) + 1), minlength=len(homes))
    communal = (
        np.bincount(home, weights=members["communal"].to_numpy(dtype=float), minlength=len(homes))
        > 0
    )
    keep = ~communal[home] & (size[home] <= communal_size)
    return members.loc[keep, ["person_ref", "household_ref"]].drop_duplicates("person_ref")


def raw_flags(
    rule_id: str,
    hits: pd.DataFrame,
    recipients: list[tuple[str, pd.Series | pd.DataFrame | None]],
) -> pd.DataFrame:
    """One raw flag row per hit and recipient spec.

    ``hits`` has ``person_ref, severity, summary, evidence_date``. Each recipient is
    ``(type, codes)``: ``codes`` ``None`` means every organisation of that type holding the
    person (``recipient_code`` NA); otherwise a Series aligned to ``hits`` (or a frame
    ``person_ref, recipient_code`` for several codes per person).
    """
    parts = []
    for rtype, codes in recipients:
        part = hits.copy()
        part["recipient_type"] = rtype
        if codes is None:
            part["recipient_code"] = pd.Series(pd.NA, index=part.index, dtype="string")
        elif isinstance(codes, pd.DataFrame):
            part = part.merge(codes, on="person_ref", how="inner")
        else:
            part["recipient_code"] = codes
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return flag_frame(out.assign(rule=rule_id) if not out.empty else None)


def flag_frame(rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """A raw-flag frame with every column typed."""
    frame = rows if rows is not None else pd.DataFrame(columns=list(RAW_FLAG_COLUMNS))
    out = pd.DataFrame(index=frame.index)
    for col in RAW_FLAG_COLUMNS:
        if col == "evidence_date":
            out[col] = as_datetime(frame[col])
        else:
            out[col] = frame[col].astype("string")
    return out.reset_index(drop=True)


def warning_frame(rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """A warning frame with every column typed (``hours_late`` Int64, times datetime64)."""
    frame = rows if rows is not None else pd.DataFrame(columns=list(WARNING_COLUMNS))
    out = pd.DataFrame(index=frame.index)
    for col in WARNING_COLUMNS:
        if col in ("due_by", "sent_at"):
            out[col] = as_datetime(frame[col])
        elif col == "hours_late":
            out[col] = pd.to_numeric(frame[col]).astype("Int64")
        else:
            out[col] = frame[col].astype("string")
    return out.reset_index(drop=True)


def hits_frame(
    person_ref: pd.Series, severity: pd.Series | str, summary: pd.Series, evidence_date: pd.Series
) -> pd.DataFrame:
    """The per-person hits a rule passes to :func:`raw_flags`."""
    return pd.DataFrame(
        {
            "person_ref": person_ref.to_numpy(),
            "severity": severity.to_numpy() if isinstance(severity, pd.Series) else severity,
            "summary": summary.to_numpy(),
            "evidence_date": evidence_date.to_numpy(),
        }
    )


def holiday_period(times: pd.Series) -> pd.Series:
    """``Y`` when the date of ``times`` is 24 Dec–2 Jan inclusive or an England bank holiday."""
    day = times.dt.normalize()
    years = sorted({int(y) for y in day.dt.year.dropna().unique()})
    bank = holidays.country_holidays("GB", subdiv="ENG", years=years) if years else {}
    bank_days = pd.to_datetime(list(bank.keys())) if years else pd.DatetimeIndex([])
    month, dom = day.dt.month, day.dt.day
    christmas = ((month == 12) & (dom >= 24)) | ((month == 1) & (dom <= 2))
    flagged = (christmas | day.isin(bank_days)).fillna(False).astype(bool)
    return flagged.map({True: "Y", False: "N"}).astype("string")


def table(context: RuleContext, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """A canonical table from the context (empty with ``columns`` when not supplied)."""
    frame = context.tables.get(name)
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RulesError(f"table {name!r} lacks column(s) {', '.join(missing)} (contract A)")
    return frame.reset_index(drop=True)
