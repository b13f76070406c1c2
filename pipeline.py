"""The nightly pipeline: the only module that imports adapters, linkage and rules.

ingest → person records → link → person refs → households → evidence and rules (confirmed
persons; again with pending review links counted, for the HELD flags) → lifecycle → write
(staged folder swapped into place) → store (one transaction).  A failure anywhere before
the swap changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import secrets
import signal
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from adapters import review as review_lib
from adapters.config import InputConfig, load_config_section
from adapters.errors import ConfigError, DalinkError, InputFileError, UsageError
from adapters.fhir import flag_bundles
from adapters.ingest import Extracts, frame_hashes, load_extracts, load_extracts_incremental
from adapters.ingestcache import IngestState
from adapters.records import person_records
from adapters.report import ReportRenderer, render_report
from adapters.store import RunState, Store, pair_ids
from adapters.writers import (
    REVIEW_QUEUE_COLUMNS,
    OutputBundle,
    check_out_dir,
    csv_text,
    discard_staged,
    publish,
    recover_out_dir,
    stage_outputs,
    write_private,
)
from linkage import (
    LinkageResult,
    LinkageSettings,
    LinkageState,
    assign_person_refs,
    link_records,
)
from linkage.address import ParsedAddresses
from linkage.comparisons import COMPARISONS
from linkage.households import (
    Households,
    build_households,
    lexsort_packed,
    newest_first,
    ref_map,
    refs_from_bytes,
    refs_to_bytes,
)
from rules import (
    CodeLists,
    FlagNight,
    FlagState,
    RuleConfigError,
    RuleContext,
    apply_lifecycle,
    distinct_counts,
    evaluate_flags,
    evaluate_flags_reusing,
    evaluate_warnings,
    evidence_kinds,
    held_flags,
    record_evidence,
    resolve_parameters,
    warning_frame,
)
from rules.incremental import EVIDENCE_HASHED

log = logging.getLogger("dalink")

Progress = Callable[[str, str, str], None]
# Test hook: SIGKILL this process at a named checkpoint, to prove a kill changes nothing.
KILL_AT_ENV = "DALINK_TEST_KILL_AT"


def _checkpoint(name: str) -> None:
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


CONFIG_SECTIONS = ("input", "linkage", "households", "rules", "codes")
RECORD_FIELDS_FOR_REVIEW = (
    "source",
    "org_code",
    "record_id",
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "address_1",
    "address_2",
    "town",
    "postcode",
)


@dataclass(frozen=True)
class RunConfig:
    """The run config TOML, validated section by section before any work starts."""

    input: InputConfig = field(default_factory=InputConfig)
    linkage: LinkageSettings = field(default_factory=LinkageSettings)
    max_household_persons: int = 10
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    codes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> RunConfig:
        if path is None:
            return cls()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        unknown = sorted(set(data) - set(CONFIG_SECTIONS))
        if unknown:
            raise ConfigError(
                f"{path}: unknown section(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(CONFIG_SECTIONS)}"
            )
        households = dict(data.get("households", {}))
        max_persons = households.pop("max_persons", 10)
        if households or not isinstance(max_persons, int) or max_persons < 2:
            raise ConfigError(f"{path}: [households] takes only max_persons (a whole number >= 2)")
        try:
            # Rule parameters and code lists fail here, not after an hour of linkage.
            resolve_parameters(data.get("rules", {}))
            CodeLists.from_config(data.get("codes", {}))
            return cls(
                input=load_config_section(data.get("input", {})),
                linkage=_linkage_settings(data.get("linkage", {})),
                max_household_persons=max_persons,
                rules=data.get("rules", {}),
                codes=data.get("codes", {}),
            )
        except (ValueError, TypeError) as exc:
            if isinstance(exc, DalinkError):
                raise
            raise ConfigError(f"{path}: {exc}") from exc


def _linkage_settings(section: Mapping[str, Any]) -> LinkageSettings:
    """[linkage] → LinkageSettings: scalar and list options by name (blocking rules stay
    code); LinkageSettings validates the values and says how to fix them."""
    allowed = {f.name for f in fields(LinkageSettings)} - {"blocking_rules"}
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(
            f"[linkage]: unknown option(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
    return LinkageSettings(**values)


@dataclass(frozen=True)
class RunOptions:
    input_dir: Path
    out_dir: Path
    as_of: date
    store_url: str
    config_path: Path | None = None
    write_db: str | None = None
    fhir: bool = False
    retrain: bool = False


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    out_dir: Path
    store_url: str
    manifest: Mapping[str, Any]


class _Stages:
    """Times each stage, reports progress, logs counts only (never identifying values)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, str]]:
        note: dict[str, str] = {"detail": ""}
        _checkpoint(name)
        if self.progress:
            self.progress(name, "start", "")
        started = time.perf_counter()
        yield note
        elapsed = time.perf_counter() - started
        self.seconds[name] = round(elapsed, 3)
        log.info("stage=%s seconds=%.2f %s", name, elapsed, note["detail"])
        if self.progress:
            self.progress(name, "end", f"{note['detail']} ({elapsed:.1f} s)".strip())


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _fingerprint(extracts: Extracts, as_of: date, config_path: Path | None) -> str:
    digest = hashlib.sha256(as_of.isoformat().encode())
    for report in sorted(extracts.files, key=lambda r: r.file):
        digest.update(f"{report.file}={report.sha256};".encode())
    if config_path is not None:
        digest.update(hashlib.sha256(config_path.read_bytes()).hexdigest().encode())
    return digest.hexdigest()


def _record_hash(records: pd.DataFrame) -> np.ndarray:
    """A 64-bit content hash per record (for telling changed records apart on later nights)."""
    return frame_hashes(records.drop(columns=["record_key"]))


def _previous_refs(records_before: pd.DataFrame) -> pd.DataFrame:
    """Last night's ``record_key, person_ref`` with ``first_seen``: the night each record was
    first held (the as_of date a run id starts with), so that a merge keeps the ref seen
    first (``assign_person_refs``), as a person's older ref should outlive a newer one."""
    code, runs = pd.factorize(records_before["first_seen_run"].to_numpy(dtype=object))
    nights = pd.to_datetime(
        pd.Series(runs, dtype="string").str.slice(0, 8), format="%Y%m%d", errors="coerce"
    ).to_numpy(dtype="datetime64[ns]")
    first_seen = np.append(nights, np.datetime64("NaT", "ns"))[code]  # -1: none known
    return pd.DataFrame(
        {
            "record_key": records_before["record_key"],
            "person_ref": records_before["person_ref"],
            "first_seen": first_seen,
        }
    )


def _hash_text(hashes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Record hashes as the store keeps them (decimal text); Arrow's cast is twice as fast
    as numpy's ``astype(str)`` at two million records."""
    text = pa.array(hashes, type=pa.uint64()).cast(pa.string())
    return pd.arrays.StringArray(text.to_numpy(zero_copy_only=False))


def _people(
    records: pd.DataFrame,
    households: pd.DataFrame,
    code: np.ndarray,
    refs: pd.Index,
    at: np.ndarray,
) -> pd.DataFrame:
    """One row per person: a date of birth (GP's first, else the most recent record's).

    ``code, refs``: ``pd.factorize(records["person_ref"])`` (persons in order of first
    appearance); ``at``: each of those persons' row in ``households``.
    """
    # A person's date of birth is on their first dated row in the order: GP first, then
    # latest address_date (undated last), then record order.
    dated = np.flatnonzero(records["date_of_birth"].notna().to_numpy())
    not_gp = np.asarray(records["source"].array, dtype=object)[dated] != "gp"
    dates = records["address_date"]
    if not pd.api.types.is_datetime64_dtype(dates.dtype):  # to_datetime walks rows even then
        dates = pd.to_datetime(dates)
    # One integer sort with persons as its first key (stable); undated rows last.
    undated = dates.isna().to_numpy()[dated]
    order = dated[lexsort_packed((newest_first(dates)[dated], undated, not_gp, code[dated]))]
    first = (
        np.flatnonzero(np.r_[True, code[order][1:] != code[order][:-1]]) if len(order) else order
    )
    dob_row = np.full(len(refs), -1, dtype=np.intp)
    dob_row[code[order][first]] = order[first]
    people = pd.DataFrame(
        {
            "person_ref": refs,
            "date_of_birth": records["date_of_birth"].array.take(dob_row, allow_fill=True),
        }
    )
    people["household_ref"] = households["household_ref"].array.take(at, allow_fill=True)
    for column in ("communal", "sensitive"):
        people[column] = np.append(households[column].to_numpy(dtype=bool), False)[at]
    return people


@dataclass(frozen=True)
class _Evaluated:
    linked: pd.DataFrame
    people: pd.DataFrame
    flags: pd.DataFrame
    warnings: pd.DataFrame


def _with_households(
    records: pd.DataFrame,
    record_person: pd.DataFrame,
    *,
    as_of: date,
    key: bytes,
    config: RunConfig,
    known: Households | None = None,
    parse_cache: ParsedAddresses | None = None,
    known_refs: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, Households]:
    """Records with their person and household, one row per person, and the households.
    ``known``: tonight's households under the confirmed persons (their address keys are
    reused, see ``build_households``).  ``parse_cache``: last night's address parse;
    ``known_refs``: last night's household refs by address key."""
    # Each record's person by key (record_person has one row per record_key): a lookup,
    # where a merge would hash the keys and gather every column again.
    at = pd.Index(record_person["record_key"]).get_indexer(records["record_key"])
    linked = records.assign(
        **{
            column: record_person[column].array.take(at, allow_fill=True)
            for column in record_person.columns
            if column != "record_key"
        }
    )
    # assign copied the frame: its index is reset in place (reset_index would copy again).
    linked.index = pd.RangeIndex(len(linked))
    households = build_households(
        linked,
        as_of=as_of,
        key=key,
        max_persons=config.max_household_persons,
        known=known,
        parse_cache=parse_cache,
        known_refs=known_refs,
    )
    # Each record's household is its person's, placed by the person's row in people (what
    # a merge on person_ref gives, without hashing every record's ref again).
    rows = households.person_rows
    assert rows is not None  # build_households always sets it
    linked["household_ref"] = households.people["household_ref"].array.take(rows)
    # Persons in order of first appearance, as pd.factorize(linked["person_ref"]) gives.
    code, at = pd.factorize(rows)
    refs = pd.Index(households.people["person_ref"].array.take(at))
    return linked, _people(linked, households.people, code, refs, at), households


def _evaluate(
    extracts: Extracts,
    linked: pd.DataFrame,
    people: pd.DataFrame,
    *,
    as_of: date,
    config: RunConfig,
    evidence: pd.DataFrame | None = None,
    warnings: bool = True,
) -> _Evaluated:
    """The rules for one assignment of records to persons and households.  ``evidence``:
    the night's record-level evidence (``_record_evidence``), when already derived; only
    the rows of ``linked``'s records are used.  ``warnings=False``: the flag rules only."""
    if evidence is not None and len(evidence) and len(linked) < len(evidence):
        evidence = evidence.loc[evidence["record_key"].isin(linked["record_key"])]
    try:
        context = RuleContext.build(
            tables=extracts.tables,
            records=linked,
            people=people,
            codes=CodeLists.from_config(config.codes),
            as_of=pd.Timestamp(as_of),
            record_evidence=evidence,
        )
        flags = evaluate_flags(context, config.rules)
        found = evaluate_warnings(context, config.rules) if warnings else warning_frame()
    except RuleConfigError as exc:
        raise ConfigError(f"[rules] / [codes]: {exc}") from exc
    return _evaluated(linked, people, flags, found)


def _evaluated(
    linked: pd.DataFrame, people: pd.DataFrame, flags: pd.DataFrame, warnings: pd.DataFrame
) -> _Evaluated:
    # Unrouted rows have no recipient code: a blank, never NA (NA keys vanish in groupby).
    return _Evaluated(
        linked=linked,
        people=people,
        flags=flags.assign(recipient_code=flags["recipient_code"].fillna("")),
        warnings=warnings.assign(recipient_code=warnings["recipient_code"].fillna("")),
    )


def _night_rules(
    extracts: Extracts,
    linked: pd.DataFrame,
    people: pd.DataFrame,
    *,
    as_of: date,
    config: RunConfig,
    evidence: pd.DataFrame,
    previous: FlagState | None,
    record_hash: np.ndarray,
) -> tuple[_Evaluated, FlagNight]:
    """The night's rules: flags reusing last night's where nothing they rest on changed
    (``rules.incremental``), warnings in full."""
    try:
        codes = CodeLists.from_config(config.codes)
        flag_night = evaluate_flags_reusing(
            records=linked,
            people=people,
            record_evidence=evidence,
            codes=codes,
            as_of=pd.Timestamp(as_of),
            params=config.rules,
            previous=previous,
            record_hash=record_hash,
            evidence_hash=frame_hashes(evidence[EVIDENCE_HASHED]),
        )
        kinds = evidence_kinds("warning")
        if kinds is not None:
            evidence = evidence.loc[evidence["kind"].isin(kinds)]
        context = RuleContext.build(
            tables=extracts.tables,
            records=linked,
            people=people,
            codes=codes,
            as_of=pd.Timestamp(as_of),
            record_evidence=evidence,
        )
        found = evaluate_warnings(context, config.rules)
    except RuleConfigError as exc:
        raise ConfigError(f"[rules] / [codes]: {exc}") from exc
    return _evaluated(linked, people, flag_night.flags, found), flag_night


def _record_evidence(extracts: Extracts, *, as_of: date, config: RunConfig) -> pd.DataFrame:
    """The tables' evidence per record: one derivation serves both passes of the rules."""
    try:
        return record_evidence(
            extracts.tables, codes=CodeLists.from_config(config.codes), as_of=pd.Timestamp(as_of)
        )
    except RuleConfigError as exc:
        raise ConfigError(f"[codes]: {exc}") from exc


def _review_detail(review: pd.DataFrame, records: pd.DataFrame, result: LinkageResult) -> pd.Series:
    """The JSON a reviewer is shown for each pending link (small: the review band only)."""
    fields_shown = [c for c in RECORD_FIELDS_FOR_REVIEW if c in records.columns]
    wanted = records["record_key"].isin(pd.concat([review["record_key_l"], review["record_key_r"]]))
    shown = records.loc[wanted].set_index("record_key")[fields_shown]
    shown["date_of_birth"] = shown["date_of_birth"].dt.strftime("%Y-%m-%d")
    by_key: dict[str, dict[str, Any]] = {
        str(k): {str(f): (None if pd.isna(v) else str(v)) for f, v in row.items()}
        for k, row in shown.astype(object).to_dict("index").items()
    }
    details = []
    for row in review.itertuples(index=False):
        comparisons = []
        for name in result.model.names:
            level = int(getattr(row, f"gamma_{name}"))
            comparisons.append(
                {
                    "name": name,
                    "level": level,
                    "label": COMPARISONS[name].label(level),
                    "weight": round(float(getattr(row, f"bf_{name}")), 3),
                }
            )
        pair = {"l": by_key[str(row.record_key_l)], "r": by_key[str(row.record_key_r)]}
        details.append(
            json.dumps(
                {
                    "records": pair,
                    "comparisons": comparisons,
                    "prior_weight": round(float(result.model.prior_weight), 3),
                },
                sort_keys=True,
            )
        )
    return pd.Series(details, index=review.index, dtype="string")


def _held(
    confirmed: pd.DataFrame,
    provisional: pd.DataFrame,
    merged: pd.DataFrame,
    record_person: pd.DataFrame,
    review: pd.DataFrame,
) -> pd.DataFrame:
    """Held flags, attached to every pending link inside the provisional person they rest on."""
    held = held_flags(confirmed, provisional, merged)
    if not len(held) or not len(review):
        return pd.DataFrame(
            columns=["pair_id", "rule", "recipient_type", "recipient_code", "severity"]
        )
    pair_person = review[["pair_id", "record_key_l"]].merge(
        record_person.rename(columns={"record_key": "record_key_l"}), on="record_key_l"
    )
    pair_person["person_ref"] = (
        pair_person["person_ref"]
        .map(merged.set_index("person_ref")["provisional_ref"])
        .fillna(pair_person["person_ref"])
    )
    out = held.merge(pair_person[["pair_id", "person_ref"]], on="person_ref")
    return (
        out[["pair_id", "rule", "recipient_type", "recipient_code", "severity"]]
        .drop_duplicates(["pair_id", "rule", "recipient_type", "recipient_code"])
        .reset_index(drop=True)
    )


def _merged_persons(result: LinkageResult, record_person: pd.DataFrame) -> pd.DataFrame:
    """Confirmed persons that pending links would merge: ``person_ref`` →
    ``provisional_ref``, the smallest confirmed ref in their provisional cluster (only
    clusters of two or more confirmed persons; everyone else is their own)."""
    prov_keys = result.provisional["record_key"].to_numpy(dtype=object)
    keys = record_person["record_key"].to_numpy(dtype=object)
    at = (
        np.arange(len(keys))
        if len(keys) == len(prov_keys) and np.array_equal(keys, prov_keys)
        else pd.Index(keys).get_indexer(pd.Index(prov_keys))
    )
    person, persons = pd.factorize(record_person["person_ref"])
    label = result.provisional["cluster_id"].to_numpy(dtype=np.int64)
    pairs, _ = distinct_counts(label * (len(persons) + 1) + person[at])
    pair_label, pair_person = np.divmod(pairs, len(persons) + 1)
    starts = np.r_[True, pair_label[1:] != pair_label[:-1]]
    group = np.cumsum(starts) - 1
    size = np.bincount(group)
    many = size[group] > 1
    merged = pd.DataFrame(
        {
            "person_ref": pd.array(np.asarray(persons)[pair_person[many]], dtype="string"),
            "cluster": group[many],
        }
    )
    smallest = merged.sort_values("person_ref", kind="stable").drop_duplicates("cluster")
    merged["provisional_ref"] = merged["cluster"].map(smallest.set_index("cluster")["person_ref"])
    return merged[["person_ref", "provisional_ref"]].reset_index(drop=True)


def _provisional_world(
    review: pd.DataFrame,
    merged: pd.DataFrame,
    records: pd.DataFrame,
    linked: pd.DataFrame,
    people: pd.DataFrame,
    households: Households,
    evidence: pd.DataFrame,
    *,
    as_of: date,
    key: bytes,
    config: RunConfig,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records and people of the world with pending links accepted, for the persons the
    held-flag pass must evaluate: those holding a pending link, their housemates and their
    police co-nominals (a rule about a person reads no one else; see ``rules.incremental``).

    Only merged persons' households can differ from tonight's. A merged person lives at
    one of its parts' current addresses, so its housemates are among its parts' housemates:
    the households are rebuilt for the parts and their housemates only (with tonight's
    address keys); everyone else's records and people rows are tonight's as they are (a
    pending link the clustering would not merge leaves both its persons as they are).
    """
    # Persons as codes: tonight's people rows are in order of first appearance in linked,
    # as pd.factorize(person_rows) numbers them (integers: no string hashing over millions).
    assert households.person_rows is not None
    person = pd.factorize(households.person_rows)[0]
    refs = people["person_ref"].array
    is_part = people["person_ref"].isin(merged["person_ref"]).to_numpy(dtype=bool)
    part_codes = np.flatnonzero(is_part)
    code_of_part = dict(zip(refs.take(part_codes), part_codes.tolist(), strict=True))
    provisional_of = merged.set_index("person_ref")["provisional_ref"]
    # each person's code in the world with pending links accepted (a provisional ref is
    # the smallest of its parts' refs, so every person there is one of tonight's)
    after = np.arange(len(people))
    after[part_codes] = [code_of_part[provisional_of[r]] for r in refs.take(part_codes)]
    homes = people["household_ref"].array.take(part_codes)
    # (isin never matches a missing household: the homes' missing refs are dropped)
    rebuilt = is_part | people["household_ref"].isin(pd.Series(homes).dropna()).to_numpy(dtype=bool)
    redo = rebuilt[person]
    person_after = after[person]
    redo_rows = np.flatnonzero(redo)
    if not redo_rows.size:  # no pending link would merge anyone: tonight's world as it is
        linked_r, people_r = linked.iloc[:0], people.iloc[:0]
    else:
        linked_r, people_r, _ = _with_households(
            records.iloc[redo_rows],
            pd.DataFrame(
                {
                    "record_key": linked["record_key"].array.take(redo_rows),
                    "person_ref": refs.take(person_after[redo_rows]),
                }
            ),
            as_of=as_of,
            key=key,
            config=config,
            known=households,
        )
    # the persons to evaluate: those holding a pending link, their housemates (tonight's
    # rows for persons not rebuilt, the rebuilt rows for the rest), their co-nominals
    keys = linked["record_key"]
    pending = pd.concat([review["record_key_l"], review["record_key_r"]]).drop_duplicates()
    holding = np.zeros(len(people), dtype=bool)
    holding[person_after[keys.isin(pending).to_numpy(dtype=bool)]] = True
    rebuilt_home = people_r.set_index("person_ref")["household_ref"]
    held_refs = refs.take(np.flatnonzero(holding & rebuilt))
    homes_p = pd.Series(
        np.concatenate(
            [
                rebuilt_home.reindex(pd.Index(held_refs)).to_numpy(dtype=object),
                np.asarray(
                    people["household_ref"].array.take(np.flatnonzero(holding & ~rebuilt)),
                    dtype=object,
                ),
            ]
        ),
        dtype=object,
    ).dropna()
    scope = holding.copy()
    scope |= people["household_ref"].isin(homes_p).to_numpy(dtype=bool) & ~rebuilt
    mates_r = rebuilt_home.index[rebuilt_home.isin(homes_p).to_numpy(dtype=bool)]
    scope[_codes_of(mates_r, refs, rebuilt)] = True
    own = holding[person_after]
    police = evidence.loc[evidence["incident_id"].notna()]
    incidents = police.loc[
        police["record_key"].isin(keys.array.take(np.flatnonzero(own))),
        ["org_code", "incident_id"],
    ].drop_duplicates()
    in_incidents = police.merge(incidents, on=["org_code", "incident_id"])["record_key"]
    scope[person_after[keys.isin(in_incidents).to_numpy(dtype=bool)]] = True
    # in record order, as a pass over everyone would hold them
    in_scope_r = scope[person_after[redo_rows]]
    outside = np.flatnonzero(~redo & scope[person])
    scoped = pd.concat([linked_r.loc[in_scope_r], linked.iloc[outside]], ignore_index=True)
    position = np.concatenate([redo_rows[in_scope_r], outside])
    scoped = scoped.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
    first_seen = pd.unique(scoped["person_ref"])
    persons = pd.concat(
        [
            people_r.loc[people_r["person_ref"].isin(pd.Index(first_seen))],
            people.iloc[np.flatnonzero(scope & ~rebuilt)],
        ],
        ignore_index=True,
    )
    persons = persons.set_index("person_ref", drop=False).loc[pd.Index(first_seen)]
    persons = persons.reset_index(drop=True)
    return scoped, persons


def _codes_of(
    wanted: pd.Index, refs: pd.api.extensions.ExtensionArray, among: np.ndarray
) -> list[int]:
    """The codes (positions in ``refs``) of the ``wanted`` refs, all of them among the
    ``among`` mask (a small set: only that set is hashed)."""
    candidates = np.flatnonzero(among)
    at = pd.Index(refs.take(candidates)).get_indexer(wanted)
    return candidates[at[at >= 0]].tolist()


def _review_queue_file(review: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    if not len(review):
        return pd.DataFrame(columns=list(REVIEW_QUEUE_COLUMNS))
    labels = review_lib.held_labels(held)
    left = review["record_key_l"].str.split(":", n=2, expand=True)
    right = review["record_key_r"].str.split(":", n=2, expand=True)
    return pd.DataFrame(
        {
            "item": review["pair_id"],
            "match_probability": review["match_probability"].round(4),
            "match_weight": review["match_weight"].round(2),
            "source_l": left[0],
            "org_l": left[1],
            "record_id_l": left[2],
            "source_r": right[0],
            "org_r": right[1],
            "record_id_r": right[2],
            "held_flags": review["pair_id"].map(labels).fillna(""),
        }
    )


def _counts(frame: pd.DataFrame, *columns: str) -> dict[str, int]:
    if not len(frame):
        return {}
    grouped = frame.groupby(list(columns)).size()
    return {
        "/".join(map(str, k)) if isinstance(k, tuple) else str(k): int(v)
        for k, v in grouped.items()
    }


def run_night(options: RunOptions, *, progress: Progress | None = None) -> RunSummary:
    """Run one night end to end. Raises DalinkError subclasses; changes nothing on failure."""
    started_at = datetime.now(UTC)
    run_id = f"{options.as_of:%Y%m%d}-{started_at:%H%M%S}-{secrets.token_hex(3)}"
    input_dir, out_dir = options.input_dir, options.out_dir
    if not input_dir.is_dir():
        raise UsageError(f"--input {input_dir} is not a folder")
    config = RunConfig.load(options.config_path)
    check_out_dir(out_dir)
    stages = _Stages(progress)
    store = Store(options.store_url)
    reports: ReportRenderer | None = None
    try:
        with store.lock(run_id):
            reports = ReportRenderer()  # starts its process now, to be ready by the end
            recover_out_dir(out_dir, committed=store.has_run)
            key = store.pseudonym_key()
            with stages.stage("ingest") as note:
                ingest = load_extracts_incremental(
                    input_dir,
                    config.input,
                    previous=IngestState.from_bytes(store.night_state("ingest")),
                )
                extracts = ingest.extracts
                records = person_records(extracts.tables, options.as_of)
                loaded = sum(r.rows_loaded for r in extracts.files)
                note["detail"] = (
                    f"{loaded} rows loaded, {len(extracts.quarantine)} quarantined; "
                    f"{ingest.rows_cleaned} rows cleaned, {ingest.rows_reused} reused"
                )
            if not len(records):
                raise InputFileError(f"{input_dir}: no person records in any extract")
            with stages.stage("link") as note:
                last_state = None if options.retrain else store.night_state("linkage")
                result = link_records(
                    records,
                    settings=config.linkage,
                    decisions=store.decisions(),
                    previous=LinkageState.from_bytes(last_state) if last_state else None,
                )
                records_before = store.identities()
                record_person, person_events = assign_person_refs(
                    result.clusters,
                    _previous_refs(records_before),
                    key=key,
                    as_of=pd.Timestamp(options.as_of),
                )
                note["detail"] = (
                    f"{record_person['person_ref'].nunique()} persons, "
                    f"{len(result.review)} links to review"
                )
            with stages.stage("households") as note:
                # Last night's address parse: only raw addresses new since are parsed.
                last_parse = store.night_state("addresses")
                last_refs = store.night_state("household_refs")
                linked, people, households = _with_households(
                    records,
                    record_person,
                    as_of=options.as_of,
                    key=key,
                    config=config,
                    parse_cache=ParsedAddresses.from_bytes(last_parse) if last_parse else None,
                    known_refs=refs_from_bytes(last_refs, key=key) if last_refs else None,
                )
                note["detail"] = f"{people['household_ref'].nunique()} households"
            with stages.stage("rules") as note:
                evidence = _record_evidence(extracts, as_of=options.as_of, config=config)
                record_hash = _record_hash(records)  # records and linked share their row order
                night, flag_night = _night_rules(
                    extracts,
                    linked,
                    people,
                    as_of=options.as_of,
                    config=config,
                    evidence=evidence,
                    previous=FlagState.from_bytes(store.night_state("rules")),
                    record_hash=record_hash,
                )
                review = result.review.assign(
                    pair_id=pair_ids(result.review["record_key_l"], result.review["record_key_r"])
                )
                held = pd.DataFrame(
                    columns=["pair_id", "rule", "recipient_type", "recipient_code", "severity"]
                )
                if len(review):
                    merged = _merged_persons(result, record_person)
                    linked_p, people_p = _provisional_world(
                        review,
                        merged,
                        records,
                        linked,
                        people,
                        households,
                        evidence,
                        as_of=options.as_of,
                        key=key,
                        config=config,
                    )
                    provisional = _evaluate(
                        extracts,
                        linked_p,
                        people_p,
                        as_of=options.as_of,
                        config=config,
                        evidence=evidence,
                        warnings=False,  # held flags compare flags only
                    )
                    held = _held(night.flags, provisional.flags, merged, record_person, review)
                log.info(
                    "rules: flags of %d of %d persons evaluated%s",
                    flag_night.evaluated,
                    flag_night.persons,
                    f" ({flag_night.reason})" if flag_night.reason else "",
                )
                note["detail"] = (
                    f"{len(night.flags)} flags, {len(night.warnings)} warnings; flags of "
                    f"{flag_night.evaluated} of {flag_night.persons} persons evaluated"
                    + (f" ({flag_night.reason})" if flag_night.reason else "")
                )
            with stages.stage("write") as note:
                lifecycle = apply_lifecycle(
                    night.flags, store.active_flags(), as_of=pd.Timestamp(options.as_of)
                )
                manifest = _manifest(
                    run_id=run_id,
                    options=options,
                    started_at=started_at,
                    extracts=extracts,
                    records=records,
                    result=result,
                    people=night.people,
                    lifecycle=lifecycle,
                    warnings=night.warnings,
                    held=held,
                    stages=stages,
                )
                manifest["report"] = _report_stats(
                    as_of=options.as_of,
                    result=result,
                    settings=config.linkage,
                    linked=night.linked,
                    flags=lifecycle,
                    warnings=night.warnings,
                    person_rows=households.person_rows,
                )
                manifest["stage_seconds"] = dict(stages.seconds)
                fingerprint = _fingerprint(extracts, options.as_of, options.config_path)
                previous_run = store.last_run()
                if previous_run and previous_run["input_fingerprint"] == fingerprint:
                    manifest["replay_of"] = previous_run["run_id"]
                last_manifest = json.loads(previous_run["manifest"]) if previous_run else None
                reports.start(manifest, last_manifest)  # drawn while the rest is written
                bundle = OutputBundle(
                    manifest=manifest,
                    quarantine=extracts.quarantine,
                    review_queue=_review_queue_file(review, held),
                    flags=lifecycle.assign(confidential="Y"),
                    warnings=night.warnings,
                )
                staged = stage_outputs(
                    out_dir,
                    bundle,
                    run_id=run_id,
                    extra_files=flag_bundles(lifecycle, as_of=options.as_of)
                    if options.fhir
                    else (),
                )
                review_links = review.assign(detail=_review_detail(review, records, result))
                night_state: dict[str, bytes] = {"ingest": ingest.state.to_bytes()}
                if result.state is not None:
                    night_state["linkage"] = result.state.to_bytes()
                if households.parsed is not None:
                    night_state["addresses"] = households.parsed.to_bytes()
                night_state["household_refs"] = refs_to_bytes(ref_map(households), key=key)
                night_state["rules"] = flag_night.state.to_bytes()
                state = RunState(
                    run_id=run_id,
                    as_of=options.as_of,
                    started_at=started_at,
                    input_fingerprint=fingerprint,
                    manifest=manifest,
                    records=night.linked[
                        [
                            "record_key",
                            "source",
                            "org_code",
                            "record_id",
                            "person_ref",
                            "household_ref",
                        ]
                    ].assign(record_hash=_hash_text(record_hash)),
                    person_events=person_events.rename(columns={"event": "kind"}),
                    review_links=review_links,
                    held=held,
                    flags=lifecycle[lifecycle["status"] != "RESOLVED"],
                    flag_transitions=lifecycle[lifecycle["status"] != "CONTINUING"],
                    night_state=night_state,
                    records_before=records_before,
                )
                write_private(staged / "report.html", reports.result())
                # Staged → store committed → swapped in. A failed commit publishes nothing; a
                # kill after the commit is rolled forward by recover_out_dir on the next start.
                _checkpoint("staged")
                try:
                    store.commit_run(state)
                except BaseException:
                    discard_staged(staged)
                    raise
                _checkpoint("committed")
                publish(staged, out_dir, run_id=run_id)
                if options.write_db:
                    from adapters.writeback import write_back

                    write_back(
                        options.write_db,
                        run_id=run_id,
                        night=options.as_of,
                        flags=lifecycle,
                        warnings=night.warnings,
                    )
                note["detail"] = f"outputs in {out_dir}"
    finally:
        if reports is not None:
            reports.close()
        store.dispose()
    manifest["stage_seconds"] = dict(stages.seconds)
    return RunSummary(
        run_id=run_id, out_dir=out_dir, store_url=options.store_url, manifest=manifest
    )


def _manifest(
    *,
    run_id: str,
    options: RunOptions,
    started_at: datetime,
    extracts: Extracts,
    records: pd.DataFrame,
    result: LinkageResult,
    people: pd.DataFrame,
    lifecycle: pd.DataFrame,
    warnings: pd.DataFrame,
    held: pd.DataFrame,
    stages: _Stages,
) -> dict[str, Any]:
    households = people.dropna(subset=["household_ref"])
    bands = result.pairs["band"].value_counts() if len(result.pairs) else pd.Series(dtype=int)
    decisions = (
        result.pairs["decision"].value_counts() if len(result.pairs) else pd.Series(dtype=int)
    )
    return {
        "run_id": run_id,
        "as_of": options.as_of.isoformat(),
        "started_at": started_at.isoformat(timespec="seconds"),
        "input_files": [
            {
                "file": r.file,
                "table": r.table,
                "supplied": r.supplied,
                "sha256": r.sha256,
                "rows_read": r.rows_read,
                "rows_loaded": r.rows_loaded,
                "rows_quarantined": r.rows_quarantined,
                "unknown_columns": list(r.unknown_columns),
            }
            for r in sorted(extracts.files, key=lambda r: r.table)
        ],
        "rows_read": sum(r.rows_read for r in extracts.files),
        "rows_loaded": sum(r.rows_loaded for r in extracts.files),
        "rows_quarantined": sum(r.rows_quarantined for r in extracts.files),
        "person_records": len(records),
        "persons": len(people),
        "households": int(households["household_ref"].nunique()),
        "communal_households": int(
            households.loc[households["communal"], "household_ref"].nunique()
        ),
        "linkage_model": result.reuse,
        "pairs_compared": result.compared_pairs,
        "links": {
            "auto": int(bands.get("auto", 0)),
            "review": int(bands.get("review", 0)),
            "review_pending": len(result.review),
            "accepted": int(decisions.get("accepted", 0)),
            "rejected": int(decisions.get("rejected", 0)),
        },
        "flags": _counts(lifecycle, "rule", "status"),
        "flags_held": _counts(held, "rule"),
        "warnings": _counts(warnings, "rule", "holiday_period"),
        "peak_rss_mb": _peak_rss_mb(),
    }


_AGE_BANDS = (0, 18, 30, 45, 65, 200)
_AGE_LABELS = ("0-17", "18-29", "30-44", "45-64", "65+")


def _report_stats(
    *,
    as_of: date,
    result: LinkageResult,
    settings: LinkageSettings,
    linked: pd.DataFrame,
    flags: pd.DataFrame,
    warnings: pd.DataFrame,
    person_rows: np.ndarray | None = None,
) -> dict[str, Any]:
    """Aggregates for the run report: counts and rates only, never a record's values.
    ``person_rows``: any integer code per row of ``linked`` that groups its rows as
    ``person_ref`` does (the households' ``person_rows``), sparing a string factorize."""
    weights = result.pairs["match_weight"].to_numpy(dtype=float)
    stats: dict[str, Any] = {
        "auto_weight": round(
            float(np.log2(settings.auto_threshold / (1 - settings.auto_threshold))), 3
        ),
        "review_weight": round(
            float(np.log2(settings.review_threshold / (1 - settings.review_threshold))), 3
        ),
    }
    if len(weights):
        edges = np.arange(np.floor(weights.min()), np.ceil(weights.max()) + 2, 2.0)
        counts, edges = np.histogram(weights, bins=edges)
        stats["match_weight_histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
    # records per person on integer codes (a string group-by sorts every ref first)
    person, persons = pd.factorize(linked["person_ref"] if person_rows is None else person_rows)
    sizes = np.bincount(np.minimum(np.bincount(person[person >= 0], minlength=len(persons)), 10))
    stats["cluster_sizes"] = {
        ("10+" if size == 10 else str(size)): int(n) for size, n in enumerate(sizes) if n
    }
    stats["flags_by_recipient_type"] = {
        str(k): int(v) for k, v in flags["recipient_type"].value_counts().sort_index().items()
    }
    # Link rate: hospital, MH and police records that linked to a person with a GP record.
    is_gp = (linked["source"] == "gp").to_numpy(dtype=bool)
    has_gp = np.zeros(len(persons) + 1, dtype=bool)
    has_gp[person[is_gp]] = True  # code -1 (no person) lands on the spare last slot
    has_gp[-1] = False
    others = linked[~is_gp]
    age = (pd.Timestamp(as_of) - others["date_of_birth"]).dt.days // 365.25
    band = pd.cut(age, bins=_AGE_BANDS, labels=_AGE_LABELS, right=False)
    frame = pd.DataFrame(
        {
            "age_band": band.astype("string").fillna("unknown"),
            "sex": others["sex"].astype("string").fillna("U"),
            "linked": has_gp[person[~is_gp]],
        }
    )
    grouped = frame.groupby(["age_band", "sex"])["linked"].agg(records="size", linked="sum")
    rates: list[dict[str, Any]] = grouped.reset_index().to_dict("records")  # type: ignore[assignment]
    stats["link_rate_by_age_sex"] = [
        {
            "age_band": str(r["age_band"]),
            "sex": str(r["sex"]),
            "records": int(r["records"]),
            "linked": int(r["linked"]),
            "rate": round(int(r["linked"]) / int(r["records"]), 4),
        }
        for r in rates
    ]
    if len(warnings):
        by = warnings.assign(holiday=warnings["holiday_period"].astype(str).isin(["Y", "True"]))
        table = by.groupby(["recipient_type", "recipient_code", "rule"])["holiday"].agg(
            holiday="sum", total="size"
        )
        rows: list[dict[str, Any]] = table.reset_index().to_dict("records")  # type: ignore[assignment]
        stats["warnings_by_provider"] = [
            {
                "recipient": f"{r['recipient_type']} {r['recipient_code']}",
                "rule": str(r["rule"]),
                "holiday": int(r["holiday"]),
                "other": int(r["total"]) - int(r["holiday"]),
            }
            for r in rows
        ]
    return stats


def _warning_line(counts: Mapping[str, int]) -> str:
    """{"LETTER-LATE/N": 4, "LETTER-LATE/Y": 1} → "LETTER-LATE 5 (1 in holiday period)"."""
    totals: dict[str, list[int]] = {}
    for key, count in counts.items():
        rule, _, holiday = key.rpartition("/")
        pair = totals.setdefault(rule, [0, 0])
        pair[0] += count
        pair[1] += count if holiday in ("Y", "True") else 0
    return ", ".join(
        f"{rule} {total}" + (f" ({holiday} in holiday period)" if holiday else "")
        for rule, (total, holiday) in sorted(totals.items())
    )


def format_summary(summary: RunSummary) -> str:
    m = summary.manifest
    lines = [
        f"dalink run {summary.run_id} for the night of {m['as_of']}",
        f"  rows     {m['rows_read']} read, {m['rows_loaded']} loaded, "
        f"{m['rows_quarantined']} quarantined (see quarantine.csv)",
        f"  persons  {m['persons']} from {m['person_records']} records; "
        f"{m['households']} households ({m['communal_households']} communal)",
        f"  links    {m['links']['auto']} automatic, {m['links']['review_pending']} to review "
        "(dalink review list)",
        f"  model    {m.get('linkage_model', 'trained tonight')}; "
        f"{m.get('pairs_compared', 0)} record pairs compared",
        "  flags    " + (", ".join(f"{k} {v}" for k, v in sorted(m["flags"].items())) or "none"),
        "  held     "
        + (", ".join(f"{k} {v}" for k, v in sorted(m["flags_held"].items())) or "none"),
        "  warnings " + (_warning_line(m["warnings"]) or "none"),
        "  time     "
        + ", ".join(f"{k} {v:.1f} s" for k, v in m.get("stage_seconds", {}).items())
        + f"; peak memory {m['peak_rss_mb']:.0f} MB",
        f"  outputs  {summary.out_dir} (report.html: the night at a glance)",
        f"  review   dalink review list --store {summary.store_url}",
    ]
    if m.get("replay_of"):
        lines.append(
            f"  note     same inputs as run {m['replay_of']}: this night was already processed"
        )
    return "\n".join(lines)


# -- the other commands' library calls ---------------------------------------------------


def sample_input() -> tuple[Path, date]:
    """The bundled sample extracts and the night they were generated for."""
    from sample_data import STANDARD_DIR

    dataset = json.loads((STANDARD_DIR / "dataset.json").read_text(encoding="utf-8"))
    return STANDARD_DIR, date.fromisoformat(dataset["as_of"])


def run_demo(out_dir: Path | None, *, progress: Progress | None = None) -> RunSummary:
    """`dalink run` on the bundled sample, into a temporary folder (store included)."""
    input_dir, as_of = sample_input()
    base = Path(tempfile.mkdtemp(prefix="dalink-demo-"))
    target = out_dir if out_dir is not None else base / "out"
    return run_night(
        RunOptions(
            input_dir=input_dir,
            out_dir=target,
            as_of=as_of,
            store_url=f"sqlite:///{base / 'dalink.db'}",
        ),
        progress=progress,
    )


def validate_input(input_dir: Path, config_path: Path | None) -> dict[str, Any]:
    if not input_dir.is_dir():
        raise UsageError(f"--input {input_dir} is not a folder")
    config = RunConfig.load(config_path)
    extracts = load_extracts(input_dir, config.input)
    files = [
        {
            "file": r.file,
            "table": r.table,
            "supplied": "yes" if r.supplied else "no",
            "rows_read": r.rows_read,
            "loaded": r.rows_loaded,
            "quarantined": r.rows_quarantined,
            "unknown_columns": ", ".join(r.unknown_columns),
        }
        for r in sorted(extracts.files, key=lambda r: r.table)
    ]
    reasons = (
        extracts.quarantine.groupby(["file", "reason"]).size().rename("rows").reset_index()
        if len(extracts.quarantine)
        else pd.DataFrame(columns=["file", "reason", "rows"])
    )
    return {
        "files": files,
        "quarantine_reasons": reasons.to_dict("records"),
        "rows_read": sum(r.rows_read for r in extracts.files),
        "rows_loaded": sum(r.rows_loaded for r in extracts.files),
        "rows_quarantined": sum(r.rows_quarantined for r in extracts.files),
    }


def generate_data(*, persons: int, seed: int, out_dir: Path, as_of: date) -> str:
    from sample_data.generate import generate

    started = time.perf_counter()
    summary = generate(persons, seed=seed, out_dir=out_dir, as_of=as_of)
    rows = sum(summary.row_counts.values())
    return (
        f"{persons:,} persons (seed {seed}, night of {as_of}): {rows:,} rows in "
        f"{len(summary.row_counts)} extracts, ground truth in {out_dir / 'truth'} "
        f"({time.perf_counter() - started:.1f} s)"
    )


def export_links(store_url: str, out_file: Path) -> int:
    with _store(store_url) as store:
        frame = store.records_frame()
    if not len(frame):
        raise UsageError("the store holds no linked records yet: run `dalink run` first")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    write_private(
        out_file,
        csv_text(frame, ("source", "org_code", "record_id", "person_ref", "household_ref")),
    )
    return len(frame)


def write_report(store_url: str, run_id: str | None, out_file: Path) -> Path:
    """Render a stored run's report (default: the latest) with the night before for change."""
    with _store(store_url) as store:
        run = store.run(run_id) if run_id else store.last_run()
        if run is None:
            raise UsageError("the store holds no finished run yet: run `dalink run` first")
        runs = store.runs()
        earlier = runs[(runs["status"] == "succeeded") & (runs["finished_at"] < run["finished_at"])]
        previous = (
            json.loads(store.run(str(earlier.iloc[-1]["run_id"]))["manifest"])
            if len(earlier)
            else None
        )
    write_private(out_file, render_report(json.loads(run["manifest"]), previous))
    return out_file


def list_runs(store_url: str) -> pd.DataFrame:
    with _store(store_url) as store:
        return store.runs()


@contextmanager
def _store(store_url: str) -> Iterator[Store]:
    store = Store(store_url)
    try:
        yield store
    finally:
        store.dispose()


def review_queue(
    store_url: str,
    *,
    status: str,
    rule: str | None = None,
    org: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    with _store(store_url) as store:
        return review_lib.review_queue(store, status=status, rule=rule, org=org, limit=limit)


def review_detail(store_url: str, item: str) -> review_lib.ReviewDetail:
    with _store(store_url) as store:
        return review_lib.review_detail(store, item)


def review_history(store_url: str, item: str | None) -> pd.DataFrame:
    with _store(store_url) as store:
        pair = store.resolve_pair_id(item) if item else None
        return store.history(pair=pair)


def decide(store_url: str, item: str, *, action: str, reviewer: str, reason: str) -> str:
    with _store(store_url) as store:
        return store.decide(
            store.resolve_pair_id(item), action=action, reviewer=reviewer, reason=reason
        )


def detail_as_dict(detail: review_lib.ReviewDetail) -> dict[str, Any]:
    return {
        "item": detail.item,
        "status": detail.status,
        "match_probability": detail.match_probability,
        "match_weight": detail.match_weight,
        "prior_weight": detail.prior_weight,
        "records": {"l": detail.record_l, "r": detail.record_r},
        "comparisons": detail.comparisons,
        "held_flags": detail.held.to_dict("records"),
        "history": detail.history.to_dict("records"),
    }


def _folded(value: str) -> str:
    return "".join(ch for ch in value.casefold() if ch.isalnum())


def format_detail(detail: review_lib.ReviewDetail) -> str:
    """The two records side by side, then the waterfall of evidence, then the held flags."""
    fields = list(dict.fromkeys([*detail.record_l, *detail.record_r]))
    width = max([len(f) for f in fields] + [10])
    lines = [
        f"Review item {detail.item} ({detail.status}): match probability "
        f"{detail.match_probability:.4f}, weight {detail.match_weight:+.2f}",
        "",
        f"{'field':<{width}}   {'record A':<28}  record B",
    ]
    for f in fields:
        a, b = detail.record_l.get(f) or "", detail.record_r.get(f) or ""
        # Case and punctuation are not disagreement: mark only what a reader must compare.
        same = _folded(a) == _folded(b)
        lines.append(f"{f:<{width}} {' ' if same else '≠'} {a:<28}  {b}")
    lines += ["", "Evidence (log2 weight; + pushes towards a match, - away):"]
    lines.append(f"  {'prior':<14} {'':<28} {detail.prior_weight:+7.2f}")
    for c in detail.comparisons:
        bar = ("+" if c["weight"] > 0 else "-") * min(20, int(abs(c["weight"]) + 0.5))
        lines.append(f"  {c['name']:<14} {c['label']:<28} {c['weight']:+7.2f}  {bar}")
    lines.append(f"  {'total':<14} {'':<28} {detail.match_weight:+7.2f}")
    lines.append("")
    if len(detail.held):
        lines.append("Held behind this link (released as NEW if accepted, dropped if rejected):")
        for row in detail.held.sort_values(["severity", "rule"]).itertuples(index=False):
            lines.append(f"  {row.rule} {row.severity} → {row.recipient_type} {row.recipient_code}")
    else:
        lines.append("No flags are held behind this link.")
    return "\n".join(lines)
