"""Night-to-night reuse of the flag rules (rules.incremental) gives exactly what a full pass
gives: over several nights of random changes and as_of steps, and in its parts."""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pipeline
from rules import RULES, CodeLists, RuleContext, evaluate_flags, evaluate_warnings
from rules.engine import evidence_kinds
from rules.incremental import FlagState, evaluate_flags_reusing, fingerprint
from rules.registry import resolve_parameters
from sample_data import STANDARD_DIR

AS_OF = date(2026, 11, 20)
EVALUATED = re.compile(r"rules: flags of (\d+) of (\d+) persons evaluated(?: \((.+)\))?")


def _files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name not in ("manifest.json", "report.html")
    }


def _night(input_dir: Path, out: Path, store: Path, as_of: date) -> None:
    pipeline.run_night(
        pipeline.RunOptions(
            input_dir=input_dir, out_dir=out, as_of=as_of, store_url=f"sqlite:///{store}"
        )
    )


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _change(input_dir: Path, rng: np.random.Generator, as_of: date, night: int) -> None:
    """A night's worth of the changes real extracts bring: moves, new names, new A&E
    attendances and police incidents dated today, records and events gone, events moved."""
    gp = _read(input_dir / "gp_patients.csv")
    moving = rng.choice(len(gp), size=max(1, len(gp) // 40), replace=False)
    # some move into another patient's home, some to a new address
    homes = rng.choice(len(gp), size=len(moving))
    for column in ("address_1", "address_2", "town", "postcode"):
        gp.loc[moving, column] = gp[column].to_numpy()[homes]
    gp.loc[moving[::3], "address_1"] = [f"{n} Incremental Road" for n in range(len(moving[::3]))]
    renamed = rng.choice(len(gp), size=3, replace=False)
    gp.loc[renamed, "family_name"] = gp.loc[renamed, "family_name"] + "-Smith"
    gp.drop(index=rng.choice(len(gp), size=2, replace=False)).to_csv(
        input_dir / "gp_patients.csv", index=False
    )

    ae = _read(input_dir / "ae_attendances.csv")
    new = ae.iloc[rng.choice(len(ae), size=max(2, len(ae) // 30), replace=False)].copy()
    new["attendance_id"] = [f"N{night}X{i:05d}" for i in range(len(new))]
    new["arrival_at"] = f"{as_of.isoformat()} 09:00"
    new["departure_at"] = f"{as_of.isoformat()} 13:00"
    new["gp_letter_sent_at"] = ""
    pd.concat([ae.drop(index=rng.choice(len(ae), size=2, replace=False)), new]).to_csv(
        input_dir / "ae_attendances.csv", index=False
    )

    police = _read(input_dir / "police_incidents.csv")
    copied = police[police["incident_id"].isin(rng.choice(police["incident_id"].unique(), 4))]
    copied = copied.assign(
        incident_id=copied["incident_id"] + f"R{night}",
        occurred_at=f"{as_of.isoformat()}T22:00:00",
    )
    gone = rng.choice(police["incident_id"].unique(), 2)
    pd.concat([police[~police["incident_id"].isin(gone)], copied]).to_csv(
        input_dir / "police_incidents.csv", index=False
    )

    events = _read(input_dir / "gp_events.csv")
    shifted = rng.choice(len(events), size=5, replace=False)
    events.loc[shifted, "effective_date"] = (as_of - timedelta(days=1)).isoformat()
    events.to_csv(input_dir / "gp_events.csv", index=False)


@pytest.mark.parametrize("seed", [1, 2])
def test_reusing_last_nights_flags_equals_a_full_pass_night_after_night(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, seed: int
) -> None:
    """Each night runs twice from the same store: once reusing the rules state the last night
    left, once with it removed (a full pass). Outputs must be byte-identical, night after
    night, across moves, new and removed records, and as_of steps that move every window."""
    caplog.set_level(logging.INFO, logger="dalink")
    rng = np.random.default_rng(seed)
    input_dir = tmp_path / "input"
    shutil.copytree(STANDARD_DIR, input_dir, ignore=shutil.ignore_patterns("truth"))
    store = tmp_path / "store.db"
    as_of = AS_OF
    _night(input_dir, tmp_path / "night0", store, as_of)
    partial = 0
    for night, step in enumerate((1, 1, 6, 30, 200), start=1):
        as_of += timedelta(days=step)
        _change(input_dir, rng, as_of, night)
        before = tmp_path / f"store-before-{night}.db"
        shutil.copy(store, before)
        caplog.clear()
        _night(input_dir, tmp_path / f"reusing{night}", store, as_of)
        evaluated, persons, reason = EVALUATED.search(caplog.text).groups()  # type: ignore[union-attr]
        if reason is None:
            partial += 1
            assert int(evaluated) < int(persons)
        with sqlite3.connect(before) as conn:
            assert conn.execute("DELETE FROM night_state WHERE name = 'rules'").rowcount == 1
        caplog.clear()
        _night(input_dir, tmp_path / f"afresh{night}", before, as_of)
        assert "no state from a previous night" in caplog.text
        reusing, afresh = _files(tmp_path / f"reusing{night}"), _files(tmp_path / f"afresh{night}")
        assert reusing == afresh, f"night {night}"
    assert partial >= 3  # the reuse path itself was exercised, not only full passes


@pytest.fixture(scope="module")
def night_inputs() -> dict[str, object]:
    """The bundled sample's tables, records, people and evidence after linkage."""
    from adapters.ingest import load_extracts
    from adapters.records import person_records
    from linkage import link_records

    extracts = load_extracts(STANDARD_DIR)
    records = person_records(extracts.tables, AS_OF)
    result = link_records(records)
    record_person = result.clusters.rename(columns={"cluster_id": "person_ref"})
    record_person["person_ref"] = "P" + record_person["person_ref"].astype(str)
    linked, people, _ = pipeline._with_households(
        records,
        record_person,
        as_of=AS_OF,
        key=b"k" * 32,
        config=pipeline.RunConfig.load(None),
    )
    codes = CodeLists.default()
    evidence = pipeline.record_evidence(extracts.tables, codes=codes, as_of=pd.Timestamp(AS_OF))
    return {
        "tables": extracts.tables,
        "records": linked,
        "people": people,
        "evidence": evidence,
        "codes": codes,
    }


def _context(inputs: dict[str, object], **changes: object) -> RuleContext:
    args = {
        "tables": inputs["tables"],
        "records": inputs["records"],
        "people": inputs["people"],
        "codes": inputs["codes"],
        "as_of": pd.Timestamp(AS_OF),
        "record_evidence": inputs["evidence"],
    }
    args.update(changes)
    return RuleContext.build(**args)  # type: ignore[arg-type]


def test_flag_rules_read_no_tables(night_inputs: dict[str, object]) -> None:
    """The reuse evaluates flags on a context without the tables: flag rules must not
    read them (evidence, people and holdings carry everything they need)."""
    full = evaluate_flags(_context(night_inputs))
    assert len(full) > 0
    pd.testing.assert_frame_equal(full, evaluate_flags(_context(night_inputs, tables={})))


def test_warnings_read_only_the_evidence_kinds_they_declare(
    night_inputs: dict[str, object],
) -> None:
    kinds = evidence_kinds("warning")
    assert kinds is not None
    evidence = night_inputs["evidence"]
    assert isinstance(evidence, pd.DataFrame)
    full = evaluate_warnings(_context(night_inputs))
    assert len(full) > 0
    narrow = _context(night_inputs, record_evidence=evidence[evidence["kind"].isin(kinds)])
    pd.testing.assert_frame_equal(full, evaluate_warnings(narrow))


def test_every_day_parameter_of_a_flag_rule_is_a_window_or_a_gap() -> None:
    """The reuse re-evaluates a person when a date crosses a window's edge; a day
    parameter it did not know of would let a stale flag through."""
    for rule in RULES:
        days = {name for name in rule.parameters if name.endswith("_days")}
        if rule.kind == "flag":
            assert days == set(rule.windows) | set(rule.gaps), rule.id
            assert not set(rule.windows) & set(rule.gaps), rule.id
        assert set(rule.windows) | set(rule.gaps) <= set(rule.parameters), rule.id


def _reusing(inputs: dict[str, object], **kw: object):  # type: ignore[no-untyped-def]
    return evaluate_flags_reusing(
        records=inputs["records"],  # type: ignore[arg-type]
        people=inputs["people"],  # type: ignore[arg-type]
        record_evidence=inputs["evidence"],  # type: ignore[arg-type]
        codes=inputs["codes"],  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_the_same_night_again_reuses_everyone_and_the_state_round_trips(
    night_inputs: dict[str, object],
) -> None:
    first = _reusing(night_inputs, as_of=AS_OF)
    assert first.reason == "no state from a previous night"
    state = FlagState.from_bytes(first.state.to_bytes())
    assert state is not None
    pd.testing.assert_frame_equal(state.flags, first.state.flags)
    pd.testing.assert_frame_equal(state.persons, first.state.persons)
    again = _reusing(night_inputs, as_of=AS_OF, previous=state)
    assert again.reason == "" and again.evaluated == 0
    pd.testing.assert_frame_equal(again.flags, first.flags)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"params": {"FA": {"min_attendances": 3}}}, "rule parameters or code lists changed"),
        ({"as_of": AS_OF - timedelta(days=1)}, "as_of is before the previous night's"),
    ],
)
def test_a_full_pass_when_the_rules_or_time_went_back(
    night_inputs: dict[str, object], change: dict[str, object], reason: str
) -> None:
    first = _reusing(night_inputs, as_of=AS_OF)
    args: dict[str, object] = {"as_of": AS_OF, "previous": first.state, **change}
    night = _reusing(night_inputs, **args)
    assert night.reason == reason
    assert night.evaluated == night.persons
    full = _reusing(night_inputs, **{k: v for k, v in args.items() if k != "previous"})
    pd.testing.assert_frame_equal(night.flags, full.flags)


def test_the_fingerprint_follows_parameters_and_code_lists() -> None:
    codes = CodeLists.default()
    base = fingerprint(resolve_parameters(None), codes)
    assert base == fingerprint(None, codes)
    assert base != fingerprint({"SERIAL": {"min_victims": 3}}, codes)
    fewer = CodeLists.from_config({"da": sorted(codes.da)[1:]})
    assert base != fingerprint(None, fewer)


def test_a_damaged_or_foreign_state_is_ignored() -> None:
    assert FlagState.from_bytes(None) is None
    assert FlagState.from_bytes(b"") is None
