"""Load the input folder into canonical tables (contract A) plus quarantine and file reports.

Each standard table comes from its file in the standard layout, from a preset, or from a
column mapping (``adapters.config``); all three go through one generic parser driven by
``adapters.spec``. Nothing is dropped: a row is loaded, or quarantined with a reason and its
physical line (header = line 1), and every file's counts reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from adapters.config import InputConfig
from adapters.csvread import RawFile, read_raw
from adapters.errors import InputFileError
from adapters.hygiene import (
    Cleaned,
    DateFormat,
    clean_codes,
    clean_enum,
    clean_nhs_number,
    clean_postcode,
    clean_sex,
    clean_text,
    clean_yn,
    parse_dates,
    parse_datetimes,
)
from adapters.presets import PRESETS
from adapters.spec import TABLE_NAMES, TABLES, Column, Kind, TableSpec

__all__ = [
    "DUPLICATE_KEY",
    "QUARANTINE_COLUMNS",
    "Extracts",
    "FileReport",
    "ParsedTable",
    "empty_table",
    "load_extracts",
    "parse_table",
]

log = logging.getLogger(__name__)

QUARANTINE_COLUMNS = ("file", "line", "reason", "record_id")
DUPLICATE_KEY = "duplicate key"

_INVALID = {
    Kind.DATE: "invalid date",
    Kind.DATETIME: "invalid date-time",
    Kind.YN: "invalid Y/N value",
    Kind.SEX: "invalid sex code",
    Kind.ENUM: "invalid value",
}


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FileReport:
    """What happened to one input file. ``rows_read == rows_loaded + rows_quarantined``.

    ``rows_read`` counts data rows including malformed ones (for a preset that derives two
    rows from one, e.g. MHSDS spells, it counts derived rows). ``fields_blanked`` counts,
    per column, optional cells that held something unreadable and were loaded as unknown.
    """

    file: str
    table: str
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    unknown_columns: tuple[str, ...]
    supplied: bool
    encoding: str | None = None
    preset: str | None = None
    fields_blanked: Mapping[str, int] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Extracts:
    """Contract A: canonical tables, the quarantine and one report per file."""

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    files: tuple[FileReport, ...]


@dataclass(frozen=True, slots=True)
class ParsedTable:
    loaded: pd.DataFrame
    quarantine: pd.DataFrame
    # Per source file, per column: optional cells blanked because they were unreadable.
    blanked: Mapping[str, Mapping[str, int]]


def _clean(col: Column, raw: pd.Series, date_format: DateFormat) -> Cleaned:
    match col.kind:
        case Kind.TEXT | Kind.ID:
            return clean_text(raw)
        case Kind.DATE:
            return parse_dates(raw, date_format=date_format)
        case Kind.DATETIME:
            return parse_datetimes(raw, date_format=date_format)
        case Kind.YN:
            return clean_yn(raw)
        case Kind.SEX:
            return clean_sex(raw)
        case Kind.CODES:
            return clean_codes(raw)
        case Kind.ENUM:
            return clean_enum(raw, col.allowed)
    raise AssertionError(f"no cleaner for {col.kind}")  # NHS number/postcode handled apart


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": pd.Series(dtype="string"),
            "line": pd.Series(dtype="int64"),
            "reason": pd.Series(dtype="string"),
            "record_id": pd.Series(dtype="string"),
        }
    )


def parse_table(
    frame: pd.DataFrame, spec: TableSpec, *, date_format: DateFormat = "iso"
) -> ParsedTable:
    """Clean standard-named raw text into contract-A columns; split off unusable rows.

    ``frame`` holds raw text per standard column (absent optional columns read as blank)
    plus ``_file`` and ``_line``. A row's reason is its first problem in column order; rows
    still usable then lose to an earlier row with the same key (``duplicate key``).
    """
    frame = frame.reset_index(drop=True)
    index = frame.index
    blank_text = pd.Series("", index=index, dtype=object)
    out: dict[str, pd.Series] = {}
    reason = pd.Series(pd.NA, index=index, dtype="string")
    blanked: dict[str, pd.Series] = {}
    for col in spec.columns:
        raw = frame[col.name] if col.name in frame.columns else blank_text
        if col.kind is Kind.NHS_NUMBER:
            out[col.name], out[f"{col.name}_status"] = clean_nhs_number(raw)
            continue
        if col.kind is Kind.POSTCODE:
            out[col.name], out["postcode_valid"] = clean_postcode(raw)
            continue
        cleaned = _clean(col, raw, date_format)
        out[col.name] = cleaned.values
        if col.required:
            # Text and ids are NA exactly when blank; other kinds need the raw cell.
            text_like = col.kind in (Kind.TEXT, Kind.ID)
            blank = cleaned.values.isna() if text_like else clean_text(raw).values.isna()
            reason = reason.mask(reason.isna() & blank, f"missing required value: {col.name}")
            problem = f"{_INVALID.get(col.kind, 'invalid value')}: {col.name}"
            reason = reason.mask(reason.isna() & cleaned.invalid, problem)
        elif col.kind in _INVALID:
            blanked[col.name] = cleaned.invalid
    table = pd.DataFrame(out, index=index)
    table["_file"] = frame["_file"].astype("string")
    table["_line"] = frame["_line"].astype("int64")

    usable = reason.isna()
    dupes = table.loc[usable].duplicated(subset=list(spec.key), keep="first")
    reason[dupes[dupes].index] = DUPLICATE_KEY
    usable = reason.isna()

    quarantined = table.loc[~usable]
    quarantine = pd.DataFrame(
        {
            "file": quarantined["_file"],
            "line": quarantined["_line"],
            "reason": reason[~usable],
            "record_id": quarantined[spec.record_id].astype("string"),
        }
    ).reset_index(drop=True)
    by_file: dict[str, dict[str, int]] = {}
    for name, mask in blanked.items():
        counts = table.loc[mask & usable, "_file"].value_counts()
        for file, count in counts.items():
            by_file.setdefault(str(file), {})[name] = int(count)
    return ParsedTable(table.loc[usable].reset_index(drop=True), quarantine, by_file)


def empty_table(stem: str) -> pd.DataFrame:
    """The canonical frame for a table with no rows (columns and dtypes as when loaded)."""
    spec = TABLES[stem]
    frame = pd.DataFrame(
        {c: pd.Series(dtype=object) for c in (*spec.column_names, "_file", "_line")}
    )
    return parse_table(frame, spec).loaded


# --- finding and reading files -----------------------------------------------------------


def _find(input_dir: Path, name: str) -> Path | None:
    """``name`` in ``input_dir``, matched case-insensitively (exports vary in case)."""
    exact = input_dir / name
    if exact.is_file():
        return exact
    lowered = name.lower()
    matches = sorted(p for p in input_dir.iterdir() if p.is_file() and p.name.lower() == lowered)
    return matches[0] if matches else None


def _malformed(raw: RawFile, width: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": pd.Series(raw.name, index=range(len(raw.malformed_lines)), dtype="string"),
            "line": raw.malformed_lines,
            "reason": pd.Series(
                [
                    f"malformed row: expected {width} fields, found {n}"
                    for n in raw.malformed_fields
                ],
                dtype="string",
            ),
            "record_id": pd.Series(pd.NA, index=range(len(raw.malformed_lines)), dtype="string"),
        }
    )


@dataclass
class _TableLoad:
    """The files one table is built from (main file, preset extras) while it loads."""

    input_dir: Path
    stem: str
    config: InputConfig
    raws: list[tuple[RawFile, bool]] = field(default_factory=list)  # (file, lookup only)

    def read(self, path: Path) -> RawFile:
        raw = read_raw(path, encoding=self.config.encoding_for(self.stem))
        return raw

    def load_aux(self, name: str, required: bool, lookup: bool) -> pd.DataFrame | None:
        path = _find(self.input_dir, name)
        if path is None:
            if required:
                raise InputFileError(
                    f"{name}: file not found in {self.input_dir}; the "
                    f"{self.config.table(self.stem).preset} preset for {self.stem} needs it "
                    "(set its name in preset_options)"
                )
            return None
        raw = self.read(path)
        self.raws.append((raw, lookup))
        return raw.rows


def _unknown(raw: RawFile, stem: str, known: set[str], preset: str | None) -> tuple[str, ...]:
    layout = PRESETS[preset].tables[stem] if preset else None
    names = [h.strip().lower() for h in raw.header]
    return tuple(
        original
        for original, name in zip(raw.header, names, strict=True)
        if name not in known and not (layout and layout.consumed(name))
    )


def _load_table(
    input_dir: Path, stem: str, config: InputConfig
) -> tuple[pd.DataFrame, pd.DataFrame, list[FileReport]]:
    spec = TABLES[stem]
    table_config = config.table(stem)
    preset = table_config.preset
    layout = PRESETS[preset].tables[stem] if preset else None
    name = table_config.file or (layout.default_file if layout else spec.file_name)
    path = _find(input_dir, name)
    if path is None:
        log.info("%s: not supplied (%s absent)", stem, name)
        report = FileReport(name, stem, "", 0, 0, 0, (), supplied=False, preset=preset)
        return empty_table(stem), _empty_quarantine(), [report]

    load = _TableLoad(input_dir, stem, config)
    main = load.read(path)
    load.raws.insert(0, (main, False))
    mapping = dict(table_config.columns)
    frame = main.rows.rename(columns=mapping)
    mapped_from = {source for source in mapping if source in main.rows.columns}
    known = set(spec.column_names) | mapped_from
    unknown = _unknown(main, stem, known, preset)
    if layout is not None:
        frame = layout.transform(frame, table_config.preset_options, load.load_aux)

    missing = sorted(c for c in spec.required_names if c not in frame.columns)
    if missing:
        how = f" (after the {preset} preset and column mapping)" if preset else ""
        raise InputFileError(
            f"{main.name}: missing required columns: {', '.join(missing)}{how}; add them or "
            f"map source columns in [input.tables.{stem}.columns]"
        )
    if unknown:
        log.info("%s: %d unknown column(s) ignored: %s", main.name, len(unknown), unknown)

    parsed = parse_table(frame, spec, date_format=config.date_format_for(stem))
    quarantine = [parsed.quarantine]
    reports = []
    loaded_by_file = parsed.loaded["_file"].value_counts()
    quarantined_by_file = parsed.quarantine["file"].value_counts()
    presented_by_file = frame["_file"].value_counts()
    for raw, lookup in load.raws:
        width = len(raw.header)
        malformed = _malformed(raw, width)
        quarantine.append(malformed)
        if lookup:
            loaded, presented, bad = len(raw.rows), len(raw.rows), len(malformed)
        else:
            loaded = int(loaded_by_file.get(raw.name, 0))
            presented = int(presented_by_file.get(raw.name, 0))
            bad = int(quarantined_by_file.get(raw.name, 0)) + len(malformed)
        rows_read = presented + len(malformed)
        # Nothing lost: a failure here is a bug in this module, never in the input.
        assert rows_read == loaded + bad, f"{raw.name}: counts do not reconcile"
        reports.append(
            FileReport(
                file=raw.name,
                table=stem,
                sha256=raw.sha256,
                rows_read=rows_read,
                rows_loaded=loaded,
                rows_quarantined=bad,
                unknown_columns=unknown if raw is main else (),
                supplied=True,
                encoding=raw.encoding,
                preset=preset,
                fields_blanked=MappingProxyType(dict(parsed.blanked.get(raw.name, {}))),
            )
        )
    return parsed.loaded, pd.concat(quarantine, ignore_index=True), reports


def load_extracts(input_dir: Path, config: InputConfig | None = None) -> Extracts:
    """Read every standard table from ``input_dir`` (absent files give empty tables).

    Raises :class:`InputFileError` for a file that cannot be used at all (unreadable,
    undecodable, missing required columns) and ``NotADirectoryError``-style
    :class:`InputFileError` when ``input_dir`` is not a folder.
    """
    config = config or InputConfig()
    if not input_dir.is_dir():
        raise InputFileError(f"{input_dir}: input folder not found")
    tables: dict[str, pd.DataFrame] = {}
    quarantine: list[pd.DataFrame] = []
    reports: list[FileReport] = []
    for stem in TABLE_NAMES:
        table, quarantined, file_reports = _load_table(input_dir, stem, config)
        tables[stem] = table
        quarantine.append(quarantined)
        reports.extend(file_reports)
        loaded = sum(r.rows_loaded for r in file_reports)
        held = sum(r.rows_quarantined for r in file_reports)
        log.info("%s: %d rows loaded, %d quarantined", stem, loaded, held)
    all_quarantine = pd.concat(quarantine, ignore_index=True).astype(
        {"file": "string", "line": "int64", "reason": "string", "record_id": "string"}
    )
    all_quarantine = all_quarantine.sort_values(["file", "line"], kind="stable").reset_index(
        drop=True
    )
    return Extracts(tables=tables, quarantine=all_quarantine, files=tuple(reports))


def validate(input_dir: Path, config: InputConfig | None = None) -> Extracts:
    """Read the folder exactly as a run would (for ``dalink validate``)."""
    return load_extracts(input_dir, config)


def format_report(extracts: Extracts, *, top: int = 3) -> list[dict[str, object]]:
    """One plain row per file: counts and the ``top`` most common quarantine reasons."""
    counts = extracts.quarantine.groupby(["file", "reason"]).size().reset_index(name="n")
    by_file: dict[str, list[tuple[str, int]]] = {}
    # One step per distinct (file, reason), not per quarantined row.
    for file, reason, count in counts.itertuples(index=False):
        by_file.setdefault(str(file), []).append((str(reason), int(count)))
    rows: list[dict[str, object]] = []
    for report in extracts.files:
        ranked = sorted(by_file.get(report.file, []), key=lambda rc: (-rc[1], rc[0]))
        rows.append(
            {
                "file": report.file,
                "table": report.table,
                "supplied": report.supplied,
                "rows_read": report.rows_read,
                "rows_loaded": report.rows_loaded,
                "rows_quarantined": report.rows_quarantined,
                "fields_blanked": sum(report.fields_blanked.values()),
                "unknown_columns": ", ".join(report.unknown_columns),
                "top_reasons": tuple(ranked[:top]),
            }
        )
    return rows
