"""Night-to-night reuse of the flag rules: a person's flags are evaluated again only when
something they rest on may have changed since last night.

A flag rule's output about a person reads only

* that person's evidence rows, people row and holdings (their own records);
* the same of the other members of their household (HH-DA, HH-CRISIS, communal size) and of
  the other persons in their police incidents (SERIAL counts victims): their *neighbours*;
* ``as_of``, only by comparing it with evidence dates a rule's window away (``windows``:
  a date leaves the window the day after ``as_of - window``) and with birthdays (``ages``:
  HH-DA's severity changes on the 18th birthday).  An event dated after ``as_of`` is not
  evidence yet; when it enters, the person's evidence changes.

So last night's routed flags about a person still hold tonight unless one of these
happened to the person or to a neighbour (tonight's or last night's: a person who moved out
changes the flags of the household they left):

* their inputs changed — a hash over their people row, their records' holding columns and
  their evidence rows differs from last night's; a new person has none, and a person gone
  since last night counts as changed;
* an evidence date crossed a window edge between last night's ``as_of`` and tonight's
  (with a day's margin either side), or a birthday in ``ages`` fell between them.

Those persons are evaluated again, on a context holding them and their neighbours; every
other person keeps last night's rows.  A full pass runs instead on the first night, after any
change to the rules' parameters, the code lists or this layout (``STATE_VERSION``), when
``as_of`` goes back, and when more than ``FULL_PASS_SHARE`` of persons would be evaluated
anyway.  Warnings are not reused: an unsent letter's ``hours_late`` moves every night.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from rules.codes import CodeLists
from rules.context import PEOPLE_COLUMNS, RuleContext, people_frame
from rules.engine import evaluate_flags
from rules.errors import RulesError
from rules.evidence import EVIDENCE_COLUMNS
from rules.registry import RULES, Parameters, resolve_parameters
from rules.routing import _FLAG_DTYPES, FLAG_COLUMNS, HOLDING_RECORD_COLUMNS, KEY

# Bumped when the layout or a flag rule's logic changes (2: HH-DA's tie-break), so the
# first night after an upgrade evaluates everyone instead of keeping the old rules' flags.
STATE_VERSION = 2
FULL_PASS_SHARE = 0.5
_MARGIN_DAYS = 1
EVIDENCE_HASHED = [c for c in EVIDENCE_COLUMNS if c != "person_ref"]
_RECORD_HASHED = ["record_key", *(c for c in HOLDING_RECORD_COLUMNS if c != "person_ref")]


@dataclass(frozen=True, eq=False)
class FlagState:
    """What one night leaves for the next: its ``as_of``, the fingerprint of the rules'
    parameters and code lists, each person's input hash and household, each person's police
    incidents, and the routed flags."""

    as_of: pd.Timestamp
    fingerprint: str
    persons: pd.DataFrame  # person_ref, input_hash (uint64), household_ref
    incidents: pd.DataFrame  # person_ref, incident
    flags: pd.DataFrame  # FLAG_COLUMNS

    def to_bytes(self) -> bytes:
        meta = {
            "version": STATE_VERSION,
            "as_of": self.as_of.isoformat(),
            "fingerprint": self.fingerprint,
        }
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        for name in ("persons", "incidents", "flags"):
            arrays[name] = np.frombuffer(_arrow_bytes(getattr(self, name)), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes | None) -> FlagState | None:
        """The state, or ``None`` when there is none or it is of another layout version."""
        if not blob:
            return None
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode())
            if meta.get("version") != STATE_VERSION:
                return None
            frames = {n: _arrow_frame(data[n].tobytes()) for n in ("persons", "incidents", "flags")}
        persons = frames["persons"]
        return cls(
            as_of=pd.Timestamp(meta["as_of"]),
            fingerprint=str(meta["fingerprint"]),
            persons=pd.DataFrame(
                {
                    "person_ref": persons["person_ref"].astype("string"),
                    "input_hash": persons["input_hash"].to_numpy(dtype=np.uint64),
                    "household_ref": persons["household_ref"].astype("string"),
                }
            ),
            incidents=frames["incidents"].astype("string"),
            flags=frames["flags"].astype(_FLAG_DTYPES),
        )


def _arrow_bytes(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _arrow_frame(blob: bytes) -> pd.DataFrame:
    with pa.ipc.open_stream(pa.py_buffer(blob)) as reader:
        return reader.read_all().to_pandas()


@dataclass(frozen=True, eq=False)
class FlagNight:
    """Tonight's routed ``flags``, the ``state`` to leave for tomorrow, and how they were
    found: ``evaluated`` persons out of ``persons`` (all of them on a full pass, and then
    ``reason`` says why)."""

    flags: pd.DataFrame
    state: FlagState
    persons: int
    evaluated: int
    reason: str


def fingerprint(params: Mapping[str, Any] | None, codes: CodeLists) -> str:
    """What tonight's flags depend on besides the data: parameters, code lists, layout."""
    resolved = resolve_parameters(params)
    text = json.dumps(
        {
            "version": STATE_VERSION,
            "params": {rule: dict(values) for rule, values in resolved.items()},
            "codes": {name: sorted(getattr(codes, name)) for name in sorted(vars(codes))},
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _windows(params: Parameters) -> list[int]:
    return sorted(
        {
            int(params[rule.id][name])
            for rule in RULES
            if rule.kind == "flag"
            for name in rule.windows
        }
    )


def _ages() -> list[int]:
    return sorted({age for rule in RULES if rule.kind == "flag" for age in rule.ages})


def _hash(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def _per_person(code: np.ndarray, values: np.ndarray, persons: int) -> np.ndarray:
    """Sum (mod 2**64) of ``values`` per person code; rows with code -1 are left out."""
    out = np.zeros(persons, dtype=np.uint64)
    keep = code >= 0
    np.add.at(out, code[keep], values[keep])
    return out


def _members(seed: np.ndarray, person: np.ndarray, group: np.ndarray, size: int) -> np.ndarray:
    """Persons sharing a group with any ``seed`` person (a mask over ``size`` persons)."""
    touched = np.zeros(int(group.max()) + 1 if group.size else 0, dtype=bool)
    touched[group[seed[person]]] = True
    out = np.zeros(size, dtype=bool)
    out[person[touched[group]]] = True
    return out


def evaluate_flags_reusing(
    *,
    records: pd.DataFrame,
    people: pd.DataFrame,
    record_evidence: pd.DataFrame,
    codes: CodeLists,
    as_of: pd.Timestamp | str,
    params: Mapping[str, Any] | None = None,
    previous: FlagState | None = None,
    record_hash: np.ndarray | None = None,
    evidence_hash: np.ndarray | None = None,
) -> FlagNight:
    """Tonight's routed flags, reusing last night's for persons nothing touched (see the
    module docstring).  ``records``: contract-B records with ``person_ref``; ``people``:
    contract E; ``record_evidence``: :func:`rules.evidence.record_evidence` for this
    ``as_of``; ``record_hash``: a 64-bit content hash per row of ``records`` covering at
    least :data:`rules.routing.HOLDING_RECORD_COLUMNS` other than ``person_ref`` (the
    pipeline's, kept for the store), derived here when not given; ``evidence_hash``: per row
    of ``record_evidence``, ``hash_pandas_object`` of :data:`EVIDENCE_HASHED` (derived here
    when not given)."""
    day = pd.Timestamp(as_of).normalize()
    resolved = resolve_parameters(params)
    print_ = fingerprint(resolved, codes)
    people = people_frame(people)
    refs = pd.Index(people["person_ref"])
    n = len(refs)
    # Every record's and evidence row's person, as a code into people.
    record_person = refs.get_indexer(records["person_ref"])
    at_record = pd.Index(records["record_key"]).get_indexer(record_evidence["record_key"])
    evidence_person = np.where(at_record >= 0, record_person[at_record], -1)
    if record_hash is None:
        record_hash = _hash(records[_RECORD_HASHED])
    elif len(record_hash) != len(records):
        raise RulesError("record_hash must hold one hash per row of records")
    if evidence_hash is None:
        evidence_hash = _hash(record_evidence[EVIDENCE_HASHED])
    elif len(evidence_hash) != len(record_evidence):
        raise RulesError("evidence_hash must hold one hash per row of record_evidence")
    input_hash = (
        _hash(people[list(PEOPLE_COLUMNS)])
        ^ (_per_person(record_person, record_hash, n) * np.uint64(0x9E3779B97F4A7C15))
        ^ (_per_person(evidence_person, evidence_hash, n) * np.uint64(0xC2B2AE3D27D4EB4F))
    )
    has_incident = (evidence_person >= 0) & record_evidence["incident_id"].notna().to_numpy()
    with_incident = record_evidence.loc[has_incident]
    incident_rows = pd.DataFrame(
        {
            "person": evidence_person[has_incident],
            "incident": (
                with_incident["org_code"].astype("string")
                + "\x1f"
                + with_incident["incident_id"].astype("string")
            ).to_numpy(),
        }
    ).drop_duplicates(ignore_index=True)
    incident_person = incident_rows["person"].to_numpy(dtype=np.int64)
    incidents = pd.DataFrame(
        {"person_ref": refs.take(incident_person), "incident": incident_rows["incident"]}
    )
    state_persons = pd.DataFrame(
        {"person_ref": refs, "input_hash": input_hash, "household_ref": people["household_ref"]}
    )

    reason = ""
    if previous is None:
        reason = "no state from a previous night"
    elif previous.fingerprint != print_:
        reason = "rule parameters or code lists changed"
    elif day < previous.as_of:
        reason = "as_of is before the previous night's"
    evaluate = np.ones(n, dtype=bool)
    if previous is not None and not reason:
        evaluate = _dirty(
            day=day,
            previous=previous,
            refs=refs,
            input_hash=input_hash,
            people=people,
            incidents=incidents,
            incident_person=incident_person,
            evidence_dates=record_evidence["date"],
            evidence_person=evidence_person,
            windows=_windows(resolved),
        )
        if evaluate.sum() > FULL_PASS_SHARE * n:
            reason = "most persons changed"
            evaluate[:] = True

    if evaluate.all():
        scope = evaluate
    else:
        # the evaluated persons' neighbours complete their context (their own rows are
        # evaluated too, then dropped: their context is not complete)
        scope = evaluate | _neighbours(evaluate, refs, people, incidents, incident_person)
    in_scope = scope[record_person] & (record_person >= 0)
    scoped_records = records.loc[in_scope] if not scope.all() else records
    scoped_evidence = (
        record_evidence.loc[np.isin(at_record, np.flatnonzero(in_scope))]
        if not scope.all()
        else record_evidence
    )
    context = RuleContext.build(
        tables={},
        records=scoped_records,
        people=people.loc[scope],
        codes=codes,
        as_of=day,
        record_evidence=scoped_evidence,
    )
    fresh = evaluate_flags(context, resolved)
    if reason:
        flags = fresh
    else:
        assert previous is not None
        evaluated_refs = refs[evaluate]
        kept = previous.flags.loc[
            ~previous.flags["person_ref"].isin(evaluated_refs)
            & previous.flags["person_ref"].isin(refs)
        ]
        fresh = fresh.loc[fresh["person_ref"].isin(evaluated_refs)]
        flags = (
            pd.concat([kept, fresh], ignore_index=True)
            .astype(_FLAG_DTYPES)
            .sort_values(KEY, kind="stable", na_position="last")
            .reset_index(drop=True)
        )
    state = FlagState(
        as_of=day,
        fingerprint=print_,
        persons=state_persons,
        incidents=incidents,
        flags=flags.loc[:, list(FLAG_COLUMNS)],
    )
    return FlagNight(
        flags=flags,
        state=state,
        persons=n,
        evaluated=int(evaluate.sum()),
        reason=reason,
    )


def _dirty(
    *,
    day: pd.Timestamp,
    previous: FlagState,
    refs: pd.Index,
    input_hash: np.ndarray,
    people: pd.DataFrame,
    incidents: pd.DataFrame,
    incident_person: np.ndarray,
    evidence_dates: pd.Series,
    evidence_person: np.ndarray,
    windows: list[int],
) -> np.ndarray:
    """Persons whose flags may differ from last night's (a mask over ``refs``).
    ``incident_person``: each row of ``incidents`` as a position in ``refs``."""
    n = len(refs)
    last = previous.persons
    # one person space for both nights: tonight's persons, then those gone since (both
    # nights' refs are unique, so one lookup places every person of either night)
    last_refs = pd.Index(last["person_ref"].to_numpy(dtype=object))
    at_last = last_refs.get_indexer(refs)
    known = at_last >= 0
    last_in_space = np.full(len(last), -1, dtype=np.int64)
    last_in_space[at_last[known]] = np.flatnonzero(known)
    gone = last_in_space < 0
    last_in_space[gone] = n + np.arange(int(gone.sum()))
    size = n + int(gone.sum())
    seed = np.zeros(size, dtype=bool)
    seed[n:] = True
    seed[:n][~known] = True
    seed[:n][known] = (
        last["input_hash"].to_numpy(dtype=np.uint64)[at_last[known]] != (input_hash[known])
    )
    # a window edge crossed: a date d leaves a window w the day after as_of - w
    before, after = previous.as_of, day
    dates = evidence_dates.to_numpy(dtype="datetime64[ns]")
    crossed = np.zeros(len(dates), dtype=bool)
    for window in windows if after != before else ():
        low = np.datetime64(before - pd.Timedelta(days=window + _MARGIN_DAYS), "ns")
        high = np.datetime64(after - pd.Timedelta(days=window - _MARGIN_DAYS), "ns")
        crossed |= (dates >= low) & (dates <= high)
    crossed &= evidence_person >= 0
    seed[evidence_person[crossed]] = True
    # a birthday that moves a severity
    born = people["date_of_birth"]
    for age in _ages() if after != before else ():
        birthday = born + pd.DateOffset(years=age)
        turned = (birthday >= before - pd.Timedelta(days=_MARGIN_DAYS)) & (
            birthday <= after + pd.Timedelta(days=_MARGIN_DAYS)
        )
        seed[:n] |= turned.fillna(False).to_numpy(dtype=bool)
    # neighbours on either night: households and police incidents
    at_previous = last_refs.get_indexer(pd.Index(previous.incidents["person_ref"].to_numpy(object)))
    person = np.concatenate(
        [
            np.arange(n),
            last_in_space,
            incident_person,
            np.where(at_previous >= 0, last_in_space[at_previous], -1),
        ]
    )
    group = _group_codes(
        [people["household_ref"], last["household_ref"]],
        [incidents["incident"], previous.incidents["incident"]],
    )
    grouped = group >= 0
    dirty = seed | _members(seed, person[grouped], group[grouped], size)
    return dirty[:n]


def _group_codes(households: list[pd.Series], incidents: list[pd.Series]) -> np.ndarray:
    """One group code per row of the households' then the incidents' columns, end to end:
    rows with the same household ref share one, rows with the same incident another, and
    a missing value has -1."""
    parts = []
    offset = 0
    for columns in (households, incidents):
        values = np.concatenate([c.to_numpy(dtype=object) for c in columns])  # NA -> -1
        codes, uniques = pd.factorize(values)
        parts.append(np.where(codes >= 0, codes + offset, -1))
        offset += len(uniques)
    return np.concatenate(parts)


def _neighbours(
    chosen: np.ndarray,
    refs: pd.Index,
    people: pd.DataFrame,
    incidents: pd.DataFrame,
    incident_person: np.ndarray,
) -> np.ndarray:
    """Tonight's housemates and co-nominals of the ``chosen`` persons (a mask over refs)."""
    n = len(refs)
    person = np.concatenate([np.arange(n), incident_person])
    group = _group_codes([people["household_ref"]], [incidents["incident"]])
    grouped = group >= 0
    return _members(chosen, person[grouped], group[grouped], n)
