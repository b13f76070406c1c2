"""Night-to-night ingest reuse: whatever last night's state holds, tonight's extracts (tables,
quarantine, file reports, person records) are exactly those of a from-scratch parse."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import adapters.ingestcache as ingestcache
from adapters.config import InputConfig, load_config_section
from adapters.ingest import Extracts, IncrementalLoad, load_extracts, load_extracts_incremental
from adapters.ingestcache import IngestState, TableCache
from adapters.records import person_records
from tests.test_adapters_ingest import (
    GP_HEADER,
    INCIDENT_HEADER,
    MESSY_GP,
    MESSY_INCIDENTS,
)

AS_OF = date(2023, 12, 31)
FIXTURES = Path(__file__).parent / "fixtures" / "adapters"

GP_LINES = [content for _, content, _ in MESSY_GP]
INCIDENT_LINES = [content for _, content, _ in MESSY_INCIDENTS]
EVENTS_HEADER = "practice_code,patient_id,event_id,code,term,effective_date,entered_date"
EVENTS = [
    "M85001,P1,E1,704521005,Domestic abuse victim,2023-05-04,2023-05-05",
    "M85001,P2,E2,248062006,Self-harm,2023-06-01,",
    "M85001,P2,E3,248062006,Self-harm,2023-06-31,",  # impossible date: quarantined
]


def _write(folder: Path, files: dict[str, tuple[str, list[str]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for name, (header, lines) in files.items():
        (folder / name).write_bytes("\r\n".join([header, *lines]).encode("utf-8"))
    return folder


def _night1_files() -> dict[str, tuple[str, list[str]]]:
    return {
        "gp_patients.csv": (GP_HEADER, list(GP_LINES)),
        "police_incidents.csv": (INCIDENT_HEADER, list(INCIDENT_LINES)),
        "gp_events.csv": (EVENTS_HEADER, list(EVENTS)),
    }


def assert_same_extracts(got: Extracts, expected: Extracts) -> None:
    assert got.tables.keys() == expected.tables.keys()
    for stem, table in expected.tables.items():
        assert_frame_equal(got.tables[stem], table, check_exact=True, obj=stem)
    assert_frame_equal(got.quarantine, expected.quarantine, check_exact=True)
    assert got.files == expected.files
    assert_frame_equal(
        person_records(got.tables, AS_OF), person_records(expected.tables, AS_OF), check_exact=True
    )


def _state_after(folder: Path, config: InputConfig | None = None) -> IngestState:
    """Last night's state as tonight reads it back from the store (through bytes)."""
    night1 = load_extracts_incremental(folder, config, previous=None)
    assert_same_extracts(night1.extracts, load_extracts(folder, config))
    state = IngestState.from_bytes(night1.state.to_bytes())
    assert state is not None
    return state


def _night2(
    folder: Path, state: IngestState | None, config: InputConfig | None = None
) -> IncrementalLoad:
    """Tonight with reuse, checked against a from-scratch parse of the same folder."""
    night2 = load_extracts_incremental(folder, config, previous=state)
    assert_same_extracts(night2.extracts, load_extracts(folder, config))
    return night2


def test_unchanged_files_are_reused_whole(tmp_path: Path) -> None:
    folder = _write(tmp_path / "in", _night1_files())
    state = _state_after(folder)
    night2 = _night2(folder, state)
    assert night2.rows_cleaned == 0
    assert set(night2.unchanged_files) == {
        "gp_patients.csv",
        "police_incidents.csv",
        "gp_events.csv",
    }
    # A reused table's state is carried forward, so the third night reuses it again.
    third = IngestState.from_bytes(night2.state.to_bytes())
    assert _night2(folder, third).rows_cleaned == 0


def _edit(line: int, content: str) -> Callable[[list[str]], object]:
    def apply(lines: list[str]) -> None:
        lines[line] = content

    return apply


# (case, file changed, change to its data lines, rows of that file that cannot be reused)
CHANGES: list[tuple[str, str, Callable[[list[str]], object], int]] = [
    (
        "row edited",
        "gp_patients.csv",
        _edit(0, "M85001,P1,943 476 5919,Zoë,Harper-Smith,1990-04-12,F,cv11 4aa"),
        1,
    ),
    (
        "row added at the top, every line number shifts",
        "gp_patients.csv",
        lambda lines: lines.insert(0, "M85003,P9,,Mia,Quist,1999-09-09,F,CV1 1AA"),
        1,
    ),
    ("row removed", "gp_patients.csv", lambda lines: lines.pop(2), 0),
    ("rows reordered", "gp_patients.csv", lambda lines: lines.reverse(), 0),
    (
        "row becomes invalid (quarantined)",
        "gp_patients.csv",
        _edit(8, "M85002,P1,,Ivy,Cole,1960-02-30,F,"),
        1,
    ),
    (
        "row becomes malformed",
        "gp_patients.csv",
        _edit(8, "M85002,P1,,Ivy,Cole,1960-07-08,F,,surplus"),
        0,
    ),
    (
        "unchanged row becomes a duplicate of a new earlier row",
        "police_incidents.csv",
        lambda lines: lines.insert(0, "WM,I5,N1,VICTIM,2023-12-26T10:00,N,,"),
        1,  # the old I5/N1 row is reused as cleaned, yet is now the duplicate
    ),
    (
        "quarantined row fixed",
        "gp_events.csv",
        _edit(2, "M85001,P2,E3,248062006,Self-harm,2023-06-30,"),
        1,
    ),
    ("all rows removed", "police_incidents.csv", lambda lines: lines.clear(), 0),
]


@pytest.mark.parametrize(("change", "file", "apply", "fresh"), CHANGES, ids=[c[0] for c in CHANGES])
def test_changed_rows_equal_a_full_parse(
    tmp_path: Path, change: str, file: str, apply: Callable[[list[str]], object], fresh: int
) -> None:
    files = _night1_files()
    folder = _write(tmp_path / "in", files)
    state = _state_after(folder)
    _, lines = files[file]
    apply(lines)
    _write(folder, files)
    night2 = _night2(folder, state)
    assert file not in night2.unchanged_files
    assert set(night2.unchanged_files) == set(files) - {file}
    # Only the changed file's new rows are cleaned again; the rest come from the state.
    table = next(r.table for r in night2.extracts.files if r.file == file)
    assert night2.cleaned == {stem: fresh if stem == table else 0 for stem in night2.cleaned}
    report = next(r for r in night2.extracts.files if r.file == file)
    malformed = len(night2.state.tables[table].files[0].malformed_lines)
    assert night2.reused[table] == report.rows_read - malformed - fresh
    # The state tonight leaves (its reused rows taken from last night's Arrow columns) is
    # the one a from-scratch night leaves, and the third night reuses all of it.
    assert_same_state(night2.state, load_extracts_incremental(folder, None, previous=None).state)
    third = _night2(folder, IngestState.from_bytes(night2.state.to_bytes()))
    assert third.rows_cleaned == 0


def assert_same_state(got: IngestState, expected: IngestState) -> None:
    """Two states hold the same tables, rows and row hashes once read back from bytes."""
    got_back, expected_back = (IngestState.from_bytes(s.to_bytes()) for s in (got, expected))
    assert got_back is not None and expected_back is not None
    assert got_back.tables.keys() == expected_back.tables.keys()
    for stem, cache in expected_back.tables.items():
        mine = got_back.tables[stem]
        assert mine.meta() == cache.meta()
        assert_frame_equal(mine.rows, cache.rows, check_exact=True, obj=stem)
        assert (mine.row_hash == cache.row_hash).all()
        assert mine.row_hash.dtype == cache.row_hash.dtype


def test_a_changed_table_leaves_its_state_from_last_nights_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reuse path really builds the next night's payload from the cached columns."""
    files = _night1_files()
    folder = _write(tmp_path / "in", files)
    state = _state_after(folder)
    files["gp_patients.csv"][1][0] = "M85001,P1,943 476 5919,Zoë,Harper-Smith,1990-04-12,F,cv11 4aa"
    _write(folder, files)
    built: list[bool] = []
    reusing = TableCache.payload_reusing

    def spy(self: TableCache, *args: object, **kwargs: object) -> bytes | None:
        payload = reusing(self, *args, **kwargs)  # type: ignore[arg-type]
        built.append(payload is not None)
        return payload

    monkeypatch.setattr(TableCache, "payload_reusing", spy)
    night2 = _night2(folder, state)
    assert built == [True]
    assert_same_state(night2.state, load_extracts_incremental(folder, None, previous=None).state)


def test_fresh_rows_of_another_schema_leave_a_payload_built_afresh(tmp_path: Path) -> None:
    folder = _write(tmp_path / "in", _night1_files())
    patients = _state_after(folder).tables["gp_patients"]
    rows = patients.rows
    take = np.arange(len(rows))
    lines = rows["_line"].to_numpy()
    odd = rows.head(1).assign(sex=rows["sex"].head(1).astype("category"))
    assert patients.payload_reusing(take, odd, lines=lines, row_hash=patients.row_hash) is None
    same = patients.payload_reusing(take, rows.head(0), lines=lines, row_hash=patients.row_hash)
    assert same is not None
    again = TableCache.from_parts(patients.meta(), same)
    assert_frame_equal(again.rows, rows, check_exact=True)


PRESET_CONFIGS = {
    "emis": {
        "gp_patients": {"preset": "emis", "preset_options": {"practice_code": "M85001"}},
        "gp_events": {"preset": "emis", "preset_options": {"practice_code": "M85001"}},
    },
    "ecds": {
        "ae_attendances": {
            "preset": "ecds",
            "columns": {"PAS_Forename": "given_name", "PAS_Surname": "family_name"},
        }
    },
    "mhsds": {
        "mh_patients": {
            "preset": "mhsds",
            "columns": {"forename": "given_name", "surname": "family_name"},
        },
        "mh_activity": {"preset": "mhsds"},
    },
}


@pytest.mark.parametrize("preset", list(PRESET_CONFIGS))
def test_preset_tables_reuse_every_row_of_an_unchanged_extract(tmp_path: Path, preset: str) -> None:
    folder = tmp_path / preset
    shutil.copytree(FIXTURES / preset, folder)
    config = load_config_section({"tables": PRESET_CONFIGS[preset]})
    night2 = _night2(folder, _state_after(folder, config), config)
    for stem in PRESET_CONFIGS[preset]:
        assert night2.cleaned[stem] == 0
        assert night2.reused[stem] == len(night2.state.tables[stem].rows) > 0
    # Preset tables may read further files: they are reused row by row, never whole.
    assert night2.unchanged_files == ()


def test_a_preset_lookup_file_change_reaches_rows_whose_own_file_did_not_change(
    tmp_path: Path,
) -> None:
    """EMIS events take code and term from the coding file: a changed term must show even
    though CareRecord_Observation.csv is byte-identical (reuse keys on the cells after the
    preset has joined them in)."""
    folder = tmp_path / "emis"
    shutil.copytree(FIXTURES / "emis", folder)
    options = {"preset": "emis", "preset_options": {"practice_code": "M85001"}}
    config = load_config_section({"tables": {"gp_patients": options, "gp_events": options}})
    state = _state_after(folder, config)
    assert _night2(folder, state, config).rows_reused > 0

    coding = folder / "Coding_ClinicalCode.csv"
    coding.write_text(coding.read_text().replace("Self-harm", "Self harm"))
    night2 = _night2(folder, state, config)
    assert night2.extracts.tables["gp_events"]["term"].tolist()[1] == "Self harm"
    assert night2.cleaned["gp_events"] == 1  # the event whose joined-in term changed
    assert night2.rows_cleaned == 1


@pytest.mark.parametrize(
    "tonight",
    [
        {"date_format": "dmy"},
        {"tables": {"gp_patients": {"columns": {"postcode": "town"}}}},
        {"tables": {"gp_patients": {"encoding": "cp1252"}}},
    ],
    ids=["date format", "column mapping", "encoding"],
)
def test_a_changed_input_config_parses_in_full(tmp_path: Path, tonight: dict[str, object]) -> None:
    folder = _write(tmp_path / "in", _night1_files())
    state = _state_after(folder)
    config = load_config_section(tonight)
    night2 = _night2(folder, state, config)
    changed = {"gp_patients"} if "tables" in tonight else set(night2.state.tables)
    for stem, reused in night2.reused.items():
        if stem in changed:
            assert reused == 0
            assert night2.cleaned[stem] == len(night2.state.tables[stem].rows)
        else:
            assert night2.cleaned[stem] == 0
    assert ("gp_patients.csv" in night2.unchanged_files) == ("gp_patients" not in changed)


def test_new_code_or_layout_version_parses_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _write(tmp_path / "in", _night1_files())
    blob = load_extracts_incremental(folder, None, previous=None).state.to_bytes()
    monkeypatch.setattr(ingestcache, "CACHE_VERSION", ingestcache.CACHE_VERSION + 1)
    assert IngestState.from_bytes(blob) is None

    monkeypatch.undo()
    state = IngestState.from_bytes(blob)
    ingestcache.code_digest.cache_clear()
    monkeypatch.setattr(ingestcache, "_PARSING_MODULES", ("spec",))  # as if the code changed
    try:
        night2 = _night2(folder, state)
    finally:
        monkeypatch.undo()
        ingestcache.code_digest.cache_clear()
    assert night2.rows_reused == 0
    assert night2.unchanged_files == ()


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[: len(blob) // 2],
        lambda blob: blob[:200] + bytes(200) + blob[400:],
        lambda blob: b"not a zip at all",
        lambda blob: b"",
    ],
    ids=["truncated", "overwritten", "garbage", "empty"],
)
def test_a_damaged_or_absent_state_parses_in_full(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    folder = _write(tmp_path / "in", _night1_files())
    blob = load_extracts_incremental(folder, None, previous=None).state.to_bytes()
    state = IngestState.from_bytes(damage(blob))
    assert state is None
    assert _night2(folder, state).rows_reused == 0


def test_cached_rows_of_another_shape_are_not_used(tmp_path: Path) -> None:
    folder = _write(tmp_path / "in", _night1_files())
    state = _state_after(folder)
    patients = state.tables["gp_patients"]
    reshaped = TableCache(
        fingerprint=patients.fingerprint,
        columns=patients.columns,
        files=patients.files,
        rows=patients.rows.assign(sex=patients.rows["sex"].astype(object)),
        row_hash=patients.row_hash,
    )
    night2 = _night2(folder, IngestState({**state.tables, "gp_patients": reshaped}))
    assert "gp_patients.csv" not in night2.unchanged_files
    assert night2.reused["gp_patients"] == 0
    assert night2.cleaned["gp_patients"] == len(patients.rows)


def test_non_text_cells_are_never_hashed(tmp_path: Path) -> None:
    """A frame whose cells are not all text is not cached (nan and "nan" would hash alike)."""
    from adapters.ingest import _row_hashes

    text = pd.DataFrame({"a": ["x", "nan"], "b": ["1", "2"]})
    assert _row_hashes(text, ("a", "b")) is not None
    assert _row_hashes(text.assign(a=["x", float("nan")]), ("a", "b")) is None


def _hash_frame(rows: int) -> pd.DataFrame:
    """Text columns from nearly unique (hashed cell by cell) to repeating (hashed once per
    distinct value), with empty and non-ASCII cells."""
    ids = [f"P{i}" for i in range(rows)]
    return pd.DataFrame(
        {
            "id": ids,
            "name": [("Zoë", "Siân", "", "Noah")[i % 4] for i in range(rows)],
            "date": [f"2020-01-{i % 28 + 1:02d}" for i in range(rows)],
            "mostly_unique": [ids[i] if i % 50 else "" for i in range(rows)],
        }
    )


@pytest.mark.parametrize("rows", [0, 1, 7, 5000])
def test_row_hashes_are_the_frame_hashes_of_the_raw_cells(rows: int) -> None:
    """Hashing column by column by the cheaper route gives ``hash_pandas_object``'s values,
    so states written by either still match."""
    from adapters.ingest import _row_hashes

    frame = _hash_frame(rows)
    for columns in (("id", "name", "date", "mostly_unique"), ("name",), ("date", "id")):
        expected = pd.util.hash_pandas_object(frame.loc[:, list(columns)], index=False)
        got = _row_hashes(frame, columns)
        assert got is not None
        assert got.dtype == np.uint64
        np.testing.assert_array_equal(got, expected.to_numpy(dtype=np.uint64))


def test_a_large_table_with_one_percent_changed_equals_a_full_parse(tmp_path: Path) -> None:
    """Thousands of rows (both hashing routes), one in a hundred edited, added or removed:
    tonight's extracts and state are a from-scratch night's."""
    header = "practice_code,patient_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode"
    names = ("Zoë", "Ivy", "Leo", "Ada", "Mia")

    def line(i: int, family: str = "Hale") -> str:
        day = f"19{50 + i % 50}-0{i % 9 + 1}-{i % 28 + 1:02d}"
        return f"M8500{i % 3},P{i},,{names[i % 5]},{family},{day},{'FM'[i % 2]},CV1 {i % 9}AA"

    lines = [line(i) for i in range(4000)]
    folder = _write(tmp_path / "in", {"gp_patients.csv": (header, lines)})
    state = _state_after(folder)
    for i in range(0, 4000, 100):
        lines[i] = line(i, family="Cole")
    lines[5] = "M85001,P1,,Ivy,Cole,1960-02-30,F,"  # invalid date, and a duplicate key
    del lines[10:20]
    lines.append(line(9999))
    _write(folder, {"gp_patients.csv": (header, lines)})
    night2 = _night2(folder, state)
    assert night2.cleaned["gp_patients"] == 40 + 1 + 1
    assert night2.reused["gp_patients"] == len(lines) - 42
    assert_same_state(night2.state, load_extracts_incremental(folder, None, previous=None).state)


def test_frame_hashes_equal_hash_pandas_object() -> None:
    """The records' content hash (stored, compared night to night) is pandas' own."""
    from adapters.ingest import frame_hashes

    rng = np.random.default_rng(3)
    n = 5_000
    unique = pd.array([f"id{i}" if i % 13 else None for i in range(n)], dtype="string")
    frame = pd.DataFrame(
        {
            "unique": unique,
            "few": pd.array(rng.choice(["a", "b", None], n), dtype="string"),
            "all_missing": pd.array([None] * n, dtype="string"),
            "objects": np.array(rng.choice(["x", "y"], n), dtype=object),
            "when": pd.to_datetime(rng.integers(0, 9000, n), unit="D"),
            "flag": rng.random(n) < 0.5,
            "number": rng.integers(0, 5, n),
        }
    )
    want = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    np.testing.assert_array_equal(frame_hashes(frame), want)
    np.testing.assert_array_equal(frame_hashes(frame.iloc[:0]), want[:0])


def test_text_hashes_by_shared_objects_equal_pandas() -> None:
    """Cells sharing one object (as read from a file), equal values held as separate objects,
    missing values of either kind and a lone cell: each cell gets pandas' own hash."""
    from adapters.ingest import _text_hashes

    rng = np.random.default_rng(5)
    n = 6_000
    shared = np.array(["Zoë", "Siân", "", "Noah", None, pd.NA], dtype=object)[rng.integers(0, 6, n)]
    # equal strings, distinct objects: addresses repeat little, values a lot
    copies = np.array(["".join(["CV1 ", str(i % 40)]) for i in range(n)], dtype=object)
    ids = np.array([f"P{i}" if i % 9 else None for i in range(n)], dtype=object)
    mixed = np.where(rng.random(n) < 0.5, shared, copies)
    strided = np.concatenate([shared, copies])[::2]  # not contiguous
    for values in (shared, copies, ids, mixed, strided, shared[:1], shared[:0]):
        want = pd.util.hash_array(values, categorize=True)
        np.testing.assert_array_equal(_text_hashes(values), want)


@pytest.mark.parametrize(
    "keys",
    [
        pd.DataFrame({"a": pd.array(["x", "x", "y", "x", None, None], dtype="string")}),
        pd.DataFrame(
            {
                "org": pd.array(["A", "A", "B", "A", "A", "B"], dtype="string"),
                "id": pd.array(["1", "2", "1", "1", None, "1"], dtype="string"),
            }
        ),
        pd.DataFrame({"org": ["A", "A", "B"], "id": [1, 1, 1]}),  # not text: pandas alone
        pd.DataFrame({"a": pd.array([], dtype="string")}),
    ],
    ids=["one-column", "two-columns", "not-text", "empty"],
)
def test_duplicated_keys_are_pandas(keys: pd.DataFrame) -> None:
    from adapters.ingest import _duplicated

    for frame in (keys, keys.iloc[::-1], keys.set_axis(range(10, 10 + len(keys)))):
        pd.testing.assert_series_equal(_duplicated(frame), frame.duplicated(keep="first"))


def test_file_counts_are_value_counts() -> None:
    from adapters.ingest import _counts

    shared = pd.Series(["a.csv"] * 3 + ["b.csv"] * 2 + [None], dtype="string")
    copies = pd.Series(["".join(["c", ".csv"]) for _ in range(100)], dtype="string")
    for values in (shared, copies, pd.concat([shared, copies]), shared.iloc[:0]):
        expected = {str(k): int(v) for k, v in values.value_counts().items()}
        assert _counts(values) == expected


def test_text_hashes_without_addresses_hash_by_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where NumPy gives no object addresses, columns are hashed (and counted) by value."""
    from adapters import ingest

    monkeypatch.setattr(ingest, "object_addresses", lambda cells: None)
    values = np.array(["a", "b", None, "a"] * 500, dtype=object)
    np.testing.assert_array_equal(
        ingest._text_hashes(values), pd.util.hash_array(values, categorize=True)
    )
    files = pd.Series(["a.csv", "b.csv", "a.csv"], dtype="string")
    assert ingest._counts(files) == {"a.csv": 2, "b.csv": 1}
