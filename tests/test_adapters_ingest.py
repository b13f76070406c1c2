"""Reading the standard layout: messy files, quarantine lines, reconciliation, file errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapters.config import load_config_section
from adapters.errors import InputFileError
from adapters.ingest import DUPLICATE_KEY, empty_table, format_report, load_extracts
from adapters.spec import TABLE_NAMES

GP_HEADER = "practice_code,patient_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode"

# (line, content, expected quarantine reason or None when loaded)
MESSY_GP = [
    (2, "M85001,P1,943 476 5919,Zoë,Harper,1990-04-12,F,cv11 4aa", None),
    (3, "M85001,,,Noah,Price,1985-01-01,M,", "missing required value: patient_id"),
    (4, 'M85001,P2,9.944904945E9,"Siân\nMai",Lloyd,1979-03-03,2,CV114AA', None),
    # line 5 is the second half of the quoted cell above
    (6, "M85001,P1,,Zoë,Harper,1990-04-12,F,", DUPLICATE_KEY),
    (7, "M85001,P3,,Ella,Ward,2020-02-31,F,", "invalid date: date_of_birth"),
    (8, "M85001,P4,,,Ward,2001-02-03,F,", "missing required value: given_name"),
    (9, "M85001,P5,9684179928,Ruby,Hale,2002-05-06,9,ZZ99 3VZ", None),
    (
        10,
        "M85001,P6,,Leo,Hale,2002-05-06,M,CV1 1AA,extra,cells",
        "malformed row: expected 8 fields, found 10",
    ),
    (11, "M85002,P1,,Ivy,Cole,1960-07-08,F,", None),  # same patient_id, other practice
    (12, "M85002,P7,,Ada,Cole", "malformed row: expected 8 fields, found 5"),  # truncated last line
]

INCIDENT_HEADER = "Force_Code , INCIDENT_ID,nominal_id,role,occurred_at,domestic,dash_risk,Notes"
MESSY_INCIDENTS = [
    (2, "WM,I1,N1,victim,2023-12-24T23:00,Y,high,x", None),
    (3, "WM,I1,N2,suspect,2023-12-24 23:00:00,Y,,y", None),
    (4, "WM,I1,N1,victim,2023-12-24T23:00,Y,HIGH,dup", DUPLICATE_KEY),
    (5, "WM,I2,N1,bystander,2023-12-25T01:00,Y,,", "invalid value: role"),
    (6, "WM,I3,N1,VICTIM,2023-12-25,Y,,", "invalid date-time: occurred_at"),
    (7, "WM,I4,N1,VICTIM,2023-12-26T10:00,,,", "missing required value: domestic"),
    (8, "WM,I5,N1,VICTIM,2023-12-26T10:00,N,severe,", None),  # optional enum: blanked
]


def _write(path: Path, header: str, rows: list[tuple[int, str, str | None]], encoding: str) -> None:
    text = "\r\n".join([header, *(r[1] for r in rows)])  # no newline after the last line
    path.write_bytes(text.encode(encoding))


@pytest.fixture
def messy_dir(tmp_path: Path) -> Path:
    _write(tmp_path / "gp_patients.csv", GP_HEADER, MESSY_GP, "cp1252")
    _write(tmp_path / "police_incidents.csv", INCIDENT_HEADER, MESSY_INCIDENTS, "utf-8-sig")
    return tmp_path


def test_messy_extract_every_row_accounted_for(messy_dir: Path) -> None:
    extracts = load_extracts(messy_dir)
    for file, rows in (("gp_patients.csv", MESSY_GP), ("police_incidents.csv", MESSY_INCIDENTS)):
        report = next(r for r in extracts.files if r.file == file)
        assert report.rows_read == len(rows)
        assert report.rows_loaded + report.rows_quarantined == len(rows)
        held = extracts.quarantine[extracts.quarantine["file"] == file]
        expected = [(line, reason) for line, _, reason in rows if reason]
        assert list(zip(held["line"].tolist(), held["reason"].tolist(), strict=True)) == expected
        table = extracts.tables[report.table]
        assert table["_line"].tolist() == [line for line, _, reason in rows if reason is None]

    gp = extracts.tables["gp_patients"]
    assert gp["given_name"].tolist() == ["Zoë", "Siân\nMai", "Ruby", "Ivy"]  # cp1252 decoded
    assert gp["nhs_number_status"].tolist() == ["valid", "valid", "valid", "missing"]
    assert gp["postcode"].tolist()[:2] == ["CV11 4AA", "CV11 4AA"]
    assert gp["sex"].tolist() == ["F", "F", "U", "F"]
    reports = {r.file: r for r in extracts.files}
    assert reports["gp_patients.csv"].encoding == "cp1252"
    assert reports["police_incidents.csv"].encoding == "utf-8"
    assert reports["police_incidents.csv"].unknown_columns == ("Notes",)
    assert dict(reports["police_incidents.csv"].fields_blanked) == {"dash_risk": 1}

    incidents = extracts.tables["police_incidents"]
    assert incidents["role"].tolist() == ["VICTIM", "SUSPECT", "VICTIM"]
    assert incidents["dash_risk"].tolist()[0] == "HIGH"
    assert incidents["domestic"].tolist() == [True, True, False]
    dup = extracts.quarantine[extracts.quarantine["reason"] == DUPLICATE_KEY]
    assert sorted(dup["record_id"].tolist()) == ["I1", "P1"]


def test_report_rows_rank_reasons(messy_dir: Path) -> None:
    rows = {r["file"]: r for r in format_report(load_extracts(messy_dir))}
    gp = rows["gp_patients.csv"]
    assert (gp["rows_read"], gp["rows_loaded"], gp["rows_quarantined"]) == (10, 4, 6)
    assert gp["top_reasons"] == (
        ("duplicate key", 1),
        ("invalid date: date_of_birth", 1),
        ("malformed row: expected 8 fields, found 10", 1),
    )
    assert rows["gp_events.csv"]["supplied"] is False


def test_missing_files_give_empty_tables_with_contract_columns(tmp_path: Path) -> None:
    extracts = load_extracts(tmp_path)
    assert set(extracts.tables) == set(TABLE_NAMES)
    for stem in TABLE_NAMES:
        table = extracts.tables[stem]
        assert table.empty
        assert list(table.columns) == list(empty_table(stem).columns)
    assert not any(r.supplied for r in extracts.files)
    assert extracts.quarantine.columns.tolist() == ["file", "line", "reason", "record_id"]


def test_missing_required_columns_is_a_file_error(tmp_path: Path) -> None:
    (tmp_path / "gp_patients.csv").write_text("practice_code,patient_id,given_name\nM1,P1,Ann\n")
    with pytest.raises(InputFileError) as err:
        load_extracts(tmp_path)
    assert "gp_patients.csv: missing required columns: date_of_birth, family_name" in str(err.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"practice_code,Practice_Code\n", "column names repeated"),
        (b"practice_code,patient_id\n\x81\x8d\n", "cannot decode byte 0x81"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "gp_events.csv").write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        load_extracts(tmp_path)


def test_column_mapping_file_name_and_date_format(tmp_path: Path) -> None:
    (tmp_path / "Nominals Export.CSV").write_text(
        "FORCE,Nominal Ref,Forename,Surname,DOB,Shoe size\n"
        "WM,N1,Ann,Smith,31/12/1980,5\n"
        "WM,N2,Bob,Smith,,9\n"
        "WM,N3,Cy,Smith,31/02/1980,7\n"
    )
    config = load_config_section(
        {
            "tables": {
                "police_nominals": {
                    "file": "nominals export.csv",
                    "date_format": "dmy",
                    "columns": {
                        "Force": "force_code",
                        "nominal ref": "nominal_id",
                        "FORENAME": "given_name",
                        "surname": "family_name",
                        "DOB": "date_of_birth",
                    },
                }
            }
        }
    )
    extracts = load_extracts(tmp_path, config)
    nominals = extracts.tables["police_nominals"]
    assert nominals["nominal_id"].tolist() == ["N1", "N2", "N3"]
    assert str(nominals["date_of_birth"][0].date()) == "1980-12-31"
    # An impossible optional date is blanked and counted, not quarantined.
    assert pd.isna(nominals["date_of_birth"][2])
    report = next(r for r in extracts.files if r.table == "police_nominals")
    assert report.unknown_columns == ("Shoe size",)
    assert dict(report.fields_blanked) == {"date_of_birth": 1}


def _scan_by_search(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``csvread._scan`` written plainly: a binary search per comma and per newline."""
    newlines = np.flatnonzero(buf == 10)
    quotes = np.flatnonzero(buf == 34)
    commas = np.flatnonzero(buf == 44)
    ends = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(buf)]))
    if starts[-1] == len(buf):
        starts, ends = starts[:-1], ends[:-1]
    lines = np.searchsorted(newlines, starts) + 1
    outside = commas[(np.searchsorted(quotes, commas) & 1) == 0]
    fields = np.bincount(np.searchsorted(ends, outside), minlength=len(starts))[: len(starts)] + 1
    length = ends - starts
    last = buf[np.maximum(ends - 1, 0)] if len(buf) else np.zeros(0, np.uint8)
    blank = (length == 0) | ((length == 1) & (last == 13))
    return lines, fields, blank


SCAN_CASES = [
    b"",
    b"\n",
    b"a",
    b"a,b\r\n",
    b'a,"b\nc",d\n1,2',
    b'"""",,\n\r\n,\n',
    b'"unterminated,\n,,\n',
    b",,,",
    b'x\n"\n"',
    b"\n\n,\n",
]


def test_scan_counts_records_lines_and_fields_as_a_search_per_comma_would() -> None:
    from adapters.csvread import _scan

    alphabet = np.frombuffer(b'ab,,"\n\r', dtype=np.uint8)
    rng = np.random.default_rng(7)
    random = [bytes(rng.choice(alphabet, rng.integers(0, 60))) for _ in range(2000)]
    for case in [*SCAN_CASES, *random]:
        buf = np.frombuffer(case, dtype=np.uint8)
        for got, expected in zip(_scan(buf), _scan_by_search(buf), strict=True):
            np.testing.assert_array_equal(got, expected, err_msg=repr(case))
            assert got.dtype == expected.dtype, repr(case)


def _random_csv(rng: np.random.Generator) -> bytes:
    """Records of quoted, empty, non-ASCII and troublesome cells, mostly of one width."""
    plain = ["", "a", " b", '""""', '"x,y"', '"p\nq"', '"r\r\ns"', "é", "\t", '"é"']
    odd = ["\x00", "\ufeff", "c\rd", 'a"b', '"a"b', " ", "NA", "nan", "#x", "1.0"]
    width = int(rng.integers(1, 5))
    records = []
    for _ in range(int(rng.integers(1, 9))):
        cells = plain if rng.random() < 0.8 else plain + odd
        fields = width if rng.random() < 0.8 else int(rng.integers(1, 6))
        records.append(",".join(rng.choice(cells, fields)))
    newline = "\r\n" if rng.random() < 0.5 else "\n"
    text = newline.join(records) + (newline if rng.random() < 0.5 else "")
    if rng.random() < 0.2:
        text = newline + text.replace(newline, newline * 2, 1)
    return text.encode()


@pytest.mark.filterwarnings("ignore::pandas.errors.ParserWarning")
def test_arrow_reads_plain_csv_exactly_as_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever file the Arrow parser takes, the raw rows, header, line numbers and malformed
    records are those of the pandas path (which a file Arrow declines still takes)."""
    import adapters.csvread as csvread

    rng = np.random.default_rng(11)
    fast_ones = 0
    for case in range(1500):
        path = tmp_path / f"f{case}.csv"
        path.write_bytes(_random_csv(rng))
        with monkeypatch.context() as patch:
            patch.setattr(csvread, "_parse_arrow", lambda *args: None)
            try:
                expected = csvread.read_raw(path)
            except (InputFileError, pd.errors.ParserError):
                continue  # pandas cannot read it; Arrow (if it takes it) may
        fast_ones += csvread._parse_arrow(*_arrow_inputs(path)) is not None
        got = csvread.read_raw(path)
        assert got.header == expected.header, path.read_bytes()
        pd.testing.assert_frame_equal(got.rows, expected.rows, check_exact=True)
        np.testing.assert_array_equal(got.malformed_lines, expected.malformed_lines)
        np.testing.assert_array_equal(got.malformed_fields, expected.malformed_fields)
    assert fast_ones > 300  # the Arrow path really ran


def _arrow_inputs(path: Path) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    from adapters.csvread import _scan

    body = path.read_bytes()
    buf = np.frombuffer(body, dtype=np.uint8)
    _, fields, blank = _scan(buf)
    return body, buf, fields, blank
