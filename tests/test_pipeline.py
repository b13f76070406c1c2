"""The whole night, end to end, on the bundled sample: the README's command, reruns,
resolution, need-to-know, exit codes, crash safety and logs free of identifying data."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import pipeline
from cli import main
from sample_data import STANDARD_DIR
from sample_data.evaluate import read_outputs

AS_OF = "2026-11-20"


def _run(args: list[str]) -> object:
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _night(input_dir: Path, out: Path, store: Path, *extra: str) -> object:
    return _run(
        [
            "run",
            "--input",
            str(input_dir),
            "--out",
            str(out),
            "--as-of",
            AS_OF,
            "--store",
            f"sqlite:///{store}",
            "-q",
            *extra,
        ]
    )


def _files(out: Path) -> dict[str, bytes]:
    """Every output file but the two that name their run and carry its timings."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name not in ("manifest.json", "report.html")
    }


def _flags(out: Path) -> pd.DataFrame:
    return read_outputs(out, "flags.csv")


def _copy_input(tmp_path: Path) -> Path:
    target = tmp_path / "input"
    shutil.copytree(STANDARD_DIR, target, ignore=shutil.ignore_patterns("truth"))
    return target


def test_readme_demo_command(tmp_path: Path) -> None:
    """The README's main command is `dalink demo`."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert ".venv/bin/dalink demo" in readme
    result = _run(["demo", "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    assert f"outputs  {tmp_path / 'out'}" in result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows_read"] == manifest["rows_loaded"] + manifest["rows_quarantined"]
    for path in (tmp_path / "out").rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_second_run_continues_and_is_byte_identical_for_the_same_store(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    assert _night(STANDARD_DIR, tmp_path / "night1", store).exit_code == 0
    first = _flags(tmp_path / "night1")
    assert set(first["status"]) == {"NEW"}
    snapshot = tmp_path / "store-after-night1.db"
    shutil.copy(store, snapshot)

    assert _night(STANDARD_DIR, tmp_path / "night2", store).exit_code == 0
    second = _flags(tmp_path / "night2")
    assert set(second["status"]) == {"CONTINUING"}
    key = ["recipient_type", "recipient_code", "rule", "person_ref"]
    assert sorted(map(tuple, first[key].values)) == sorted(map(tuple, second[key].values))
    manifest = json.loads((tmp_path / "night2" / "manifest.json").read_text())
    assert manifest["replay_of"], "a re-run of a processed night is reported"

    # Same inputs + same store state → byte-identical outputs (manifest aside: run id, times).
    shutil.copy(snapshot, store)
    assert _night(STANDARD_DIR, tmp_path / "night2-again", store).exit_code == 0
    assert _files(tmp_path / "night2") == _files(tmp_path / "night2-again")


def test_removing_evidence_resolves_flags(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    input_dir = _copy_input(tmp_path)
    assert _night(input_dir, tmp_path / "night1", store).exit_code == 0
    before = _flags(tmp_path / "night1")
    incidents = input_dir / "police_incidents.csv"
    incidents.write_text(incidents.read_text().splitlines()[0] + "\n")
    assert _night(input_dir, tmp_path / "night2", store).exit_code == 0
    after = _flags(tmp_path / "night2")
    for rule in ("BAIL-BREACH", "MARAC-REPEAT", "SERIAL"):
        assert (before["rule"] == rule).any()
        assert set(after.loc[after["rule"] == rule, "status"]) == {"RESOLVED"}, rule


def test_need_to_know_every_row_is_about_someone_the_recipient_holds(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    assert _night(STANDARD_DIR, tmp_path / "out", store).exit_code == 0
    flags = _flags(tmp_path / "out")
    flags = flags[flags["recipient_type"] != "unrouted"]
    with sqlite3.connect(store) as conn:
        records = pd.read_sql("SELECT source, org_code, record_id, person_ref FROM records", conn)
    gp = pd.read_csv(STANDARD_DIR / "gp_patients.csv", dtype=str, keep_default_na=False)
    registered = set(
        zip(
            gp.loc[gp["deregistered_on"] == "", "practice_code"],
            gp.loc[gp["deregistered_on"] == "", "patient_id"],
            strict=True,
        )
    )
    held = set(zip(records["source"], records["org_code"], records["person_ref"], strict=True))
    for row in flags.itertuples(index=False):
        assert (row.recipient_type, row.recipient_code, row.person_ref) in held, row
        if row.recipient_type == "gp":
            assert (row.recipient_code, row.local_id) in registered, row
    assert not any(code in {"V81997", "V81998", "V81999"} for code in flags["recipient_code"])


def test_seed_scenario_reaches_the_right_recipients_and_no_others(tmp_path: Path) -> None:
    """The review's household: her overdose and his self-discharge on one day, his DA
    history against her with a bail breach and MARAC, her A&E letter to the GP late."""
    store = tmp_path / "store.db"
    assert _night(STANDARD_DIR, tmp_path / "out", store).exit_code == 0
    truth = pd.read_csv(STANDARD_DIR / "truth" / "scenarios.csv", dtype=str)
    her, him = sorted(truth.loc[truth["kind"] == "SEED", "person_id"])[::-1][:2]
    records = pd.read_csv(STANDARD_DIR / "truth" / "records.csv", dtype=str)
    with sqlite3.connect(store) as conn:
        refs = pd.read_sql("SELECT record_key, person_ref FROM records", conn)
    truth_refs = records.merge(refs, on="record_key")
    ref_of = {
        person: set(truth_refs.loc[truth_refs["person_id"] == person, "person_ref"])
        for person in (her, him)
    }
    assert all(len(r) == 1 for r in ref_of.values()), "each seed person is one linked person"
    flags = _flags(tmp_path / "out")

    def rules_for(person: str) -> dict[str, set[str]]:
        mine = flags[flags["person_ref"].isin(ref_of[person])]
        return {rule: set(group["recipient_type"]) for rule, group in mine.groupby("rule")}

    hers, his = rules_for(her), rules_for(him)
    assert {"DA-SH", "HH-CRISIS", "MARAC-REPEAT", "BAIL-BREACH"} <= set(hers)
    assert hers["DA-SH"] == {"gp", "ae"}
    assert hers["MARAC-REPEAT"] == hers["BAIL-BREACH"] == {"police"}
    assert {"MH-SD-DA", "HH-CRISIS"} <= set(his)
    assert his["MH-SD-DA"] == {"gp", "mh"}
    # Police flags for the victim only; nothing about him goes to A&E.
    assert "MARAC-REPEAT" not in his and "BAIL-BREACH" not in his
    assert "ae" not in set().union(*his.values())


def test_a_night_with_nothing_to_review(tmp_path: Path) -> None:
    config = tmp_path / "no-review.toml"
    config.write_text("[linkage]\nauto_threshold = 0.99\nreview_threshold = 0.99\n")
    result = _night(STANDARD_DIR, tmp_path / "out", tmp_path / "store.db", "--config", str(config))
    assert result.exit_code == 0, result.output
    queue = (tmp_path / "out" / "review_queue.csv").read_text().splitlines()
    assert queue == [queue[0]] and queue[0].startswith("item,match_probability,match_weight")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--input", "/nonexistent", "--out", "OUT"], "is not a folder"),
        (["run", "--input", "IN", "--out", "OUT", "--as-of", "20/11/2026"], "use YYYY-MM-DD"),
        (["run", "--input", "IN", "--out", "OUT", "--config", "CFG"], "unknown section(s) nights"),
        (["validate", "--input", "BAD"], "missing required columns"),
    ],
)
def test_usage_and_input_errors_exit_2_and_write_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "cfg.toml").write_text("[nights]\nx = 1\n")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "gp_patients.csv").write_text("practice_code,patient_id\nA1,1\n")
    replaced = [
        {
            "IN": str(STANDARD_DIR),
            "OUT": str(tmp_path / "out"),
            "CFG": str(tmp_path / "cfg.toml"),
            "BAD": str(bad),
        }.get(a, a)
        for a in args
    ]
    result = CliRunner().invoke(main, replaced)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_missing_required_columns_fail_the_run_naming_file_and_columns(tmp_path: Path) -> None:
    input_dir = _copy_input(tmp_path)
    (input_dir / "mh_patients.csv").write_text("provider_code,local_patient_id\nRYG,1\n")
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--input",
            str(input_dir),
            "--out",
            str(tmp_path / "out"),
            "--store",
            f"sqlite:///{tmp_path / 's.db'}",
            "-q",
        ],
    )
    assert result.exit_code == 2
    assert "mh_patients.csv" in result.output and "date_of_birth" in result.output
    assert not (tmp_path / "out").exists()


def _store_dump(store: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(store) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def _without_lock(dump: dict[str, list[tuple[object, ...]]]) -> dict[str, list[tuple[object, ...]]]:
    return {table: rows for table, rows in dump.items() if table != "run_lock"}


@pytest.mark.parametrize(
    "point", ["ingest", "link", "households", "rules", "write", "staged", "committed"]
)
def test_a_run_killed_anywhere_changes_nothing_and_the_next_run_recovers(
    tmp_path: Path, point: str
) -> None:
    store, out = tmp_path / "store.db", tmp_path / "out"
    input_dir = _copy_input(tmp_path)
    assert _night(input_dir, out, store).exit_code == 0
    before_files, before_store = _files(out), _store_dump(store)
    # Tonight's extract differs (police file emptied), so a finished run changes things.
    incidents = input_dir / "police_incidents.csv"
    incidents.write_text(incidents.read_text().splitlines()[0] + "\n")
    # What an uninterrupted run from the same state writes:
    shutil.copy(store, tmp_path / "twin.db")
    shutil.copytree(out, tmp_path / "twin")
    assert _night(input_dir, tmp_path / "twin", tmp_path / "twin.db").exit_code == 0
    uninterrupted = _files(tmp_path / "twin")

    command = [
        sys.executable,
        "-c",
        "import cli; cli.main()",
        "run",
        "--input",
        str(input_dir),
        "--out",
        str(out),
        "--as-of",
        AS_OF,
        "--store",
        f"sqlite:///{store}",
        "-q",
    ]
    killed = subprocess.run(
        command, env={**os.environ, pipeline.KILL_AT_ENV: point}, capture_output=True, check=False
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    assert _files(out) == before_files, "recipients never see a killed run's outputs"
    if point != "committed":
        assert _without_lock(_store_dump(store)) == _without_lock(before_store)

    finished = subprocess.run(command, capture_output=True, check=False)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]
    assert not list(tmp_path.glob(".out.*")), "no staged or moved-aside folders left"
    if point != "committed":
        assert _files(out) == uninterrupted
    else:
        # The killed run had committed: it was rolled forward, and tonight's second run
        # continues from it (its RESOLVED flags were already sent and are gone now).
        assert not (_flags(out)["rule"] == "BAIL-BREACH").any()


def test_logs_carry_no_identifying_data(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pipeline.run_night(
        pipeline.RunOptions(
            input_dir=STANDARD_DIR,
            out_dir=tmp_path / "out",
            as_of=date.fromisoformat(AS_OF),
            store_url=f"sqlite:///{tmp_path / 's.db'}",
        )
    )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "stage=" in text
    gp = pd.read_csv(STANDARD_DIR / "gp_patients.csv", dtype=str, keep_default_na=False)
    planted = pd.concat([gp["nhs_number"], gp["family_name"], gp["postcode"], gp["date_of_birth"]])
    planted = {v for v in planted if len(v) >= 5}
    leaked = {v for v in planted if v in text}
    assert not leaked, f"{len(leaked)} identifying values appear in the logs"


def _ingest_counts(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    """(rows cleaned, rows reused) from the last ingest stage line of the run log."""
    line = [r.getMessage() for r in caplog.records if "stage=ingest" in r.getMessage()][-1]
    cleaned, reused = re.search(r"(\d+) rows cleaned, (\d+) reused", line).groups()  # type: ignore[union-attr]
    return int(cleaned), int(reused)


def test_night_two_reusing_last_nights_ingest_equals_parsing_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Night 2 with the ingest state night 1 left gives the same outputs as night 2 from the
    same store with that state removed (every extract parsed afresh)."""
    caplog.set_level(logging.INFO)
    input_dir = _copy_input(tmp_path)
    store = tmp_path / "store.db"
    gp_file = input_dir / "gp_patients.csv"
    gp = pd.read_csv(gp_file, dtype=str, keep_default_na=False)
    gp.loc[8, "date_of_birth"] = "1990-02-30"  # quarantined on both nights
    gp.to_csv(gp_file, index=False)

    def night(out: str) -> Mapping[str, Any]:
        return pipeline.run_night(
            pipeline.RunOptions(
                input_dir=input_dir,
                out_dir=tmp_path / out,
                as_of=date.fromisoformat(AS_OF),
                store_url=f"sqlite:///{store}",
            )
        ).manifest

    night("night1")
    assert _ingest_counts(caplog)[1] == 0
    snapshot = tmp_path / "store-after-night1.db"
    shutil.copy(store, snapshot)

    # A full refresh with a few rows changed: a new patient first (every line number below
    # shifts), a move, a new name, a new attendance, a police incident gone.
    gp.loc[3, "address_1"] = "7 Benchmark Road"
    gp.loc[5, "family_name"] = f"{gp.loc[5, 'family_name']}-Smith"
    newcomer = gp.iloc[[0]].assign(patient_id="NEW0001", family_name="Quist")
    pd.concat([newcomer, gp]).to_csv(gp_file, index=False)
    ae = pd.read_csv(input_dir / "ae_attendances.csv", dtype=str, keep_default_na=False)
    extra = ae.iloc[[0]].assign(attendance_id="NEW0001")
    pd.concat([extra, ae]).to_csv(input_dir / "ae_attendances.csv", index=False)
    incidents = (input_dir / "police_incidents.csv").read_text().splitlines(keepends=True)
    (input_dir / "police_incidents.csv").write_text("".join(incidents[:2] + incidents[3:]))

    reusing = night("night2-reusing")
    cleaned, reused = _ingest_counts(caplog)
    assert reused > 0
    assert 0 < cleaned < 10

    shutil.copy(snapshot, store)
    with sqlite3.connect(store) as conn:
        assert conn.execute("DELETE FROM night_state WHERE name = 'ingest'").rowcount == 1
    afresh = night("night2-afresh")
    assert _ingest_counts(caplog)[1] == 0

    assert _files(tmp_path / "night2-reusing") == _files(tmp_path / "night2-afresh")
    for key in ("input_files", "rows_read", "rows_loaded", "rows_quarantined", "flags"):
        assert reusing[key] == afresh[key], key


def test_last_nights_refs_carry_the_night_each_record_was_first_seen() -> None:
    before = pd.DataFrame(
        {
            "record_key": ["gp:A1:1", "gp:A1:2", "ae:R1:3"],
            "person_ref": ["P-old", "P-new", "P-new"],
            "first_seen_run": ["20260101-070000-abc123", "20260105-070000-def456", None],
        }
    )
    previous = pipeline._previous_refs(before)
    assert previous["first_seen"].tolist()[:2] == [
        pd.Timestamp("2026-01-01"),
        pd.Timestamp("2026-01-05"),
    ]
    assert pd.isna(previous["first_seen"].iloc[2])


def test_a_merge_keeps_the_ref_first_seen_not_the_smallest(tmp_path: Path) -> None:
    """Two persons that tonight's linkage joins keep the ref seen on the earlier night,
    even when the other sorts first (refs are keyed hashes: their order means nothing)."""
    from linkage import assign_person_refs

    before = pd.DataFrame(
        {
            "record_key": ["gp:A1:1", "ae:R1:2"],
            "person_ref": ["zz-first-seen-on-night-1", "aa-first-seen-on-night-5"],
            "first_seen_run": ["20260101-070000-abc123", "20260105-070000-def456"],
        }
    )
    clusters = pd.DataFrame({"record_key": ["ae:R1:2", "gp:A1:1"], "cluster_id": [0, 0]})
    record_person, events = assign_person_refs(
        clusters, pipeline._previous_refs(before), key=b"k", as_of=pd.Timestamp("2026-01-06")
    )
    assert set(record_person["person_ref"]) == {"zz-first-seen-on-night-1"}
    assert events["event"].tolist() == ["merge"]


def test_the_night_hands_linkage_the_night_each_record_was_first_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[pd.DataFrame] = []
    real = pipeline.assign_person_refs

    def spy(clusters: pd.DataFrame, previous: pd.DataFrame, **kwargs: Any) -> Any:
        seen.append(previous)
        return real(clusters, previous, **kwargs)

    monkeypatch.setattr(pipeline, "assign_person_refs", spy)
    store = tmp_path / "store.db"
    assert _night(STANDARD_DIR, tmp_path / "night1", store).exit_code == 0
    assert _night(STANDARD_DIR, tmp_path / "night2", store).exit_code == 0
    second = seen[-1]
    assert len(second) and second["first_seen"].notna().all()
    assert set(second["first_seen"]) == {pd.Timestamp(AS_OF)}
