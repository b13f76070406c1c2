"""Load the input folder into canonical tables (contract A) plus quarantine and file reports.

Each standard table comes from its file in the standard layout, from a preset, or from a
column mapping (``adapters.config``); all three go through one generic parser driven by
``adapters.spec``. Nothing is dropped: a row is loaded, or quarantined with a reason and its
physical line (header = line 1), and every file's counts reconcile.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from adapters.config import InputConfig
from adapters.csvread import RawFile, read_bytes, read_raw
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
from adapters.ingestcache import IngestState, SourceFile, TableCache, code_digest
from adapters.presets import PRESETS
from adapters.spec import TABLE_NAMES, TABLES, Column, Kind, TableSpec

__all__ = [
    "DUPLICATE_KEY",
    "QUARANTINE_COLUMNS",
    "Extracts",
    "FileReport",
    "IncrementalLoad",
    "ParsedTable",
    "empty_table",
    "load_extracts",
    "load_extracts_incremental",
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


_REASON = "_reason"
_BLANKED = "_blanked_"  # prefix of per-column "optional cell was unreadable" masks


def _clean_rows(frame: pd.DataFrame, spec: TableSpec, date_format: DateFormat) -> pd.DataFrame:
    """Everything ``parse_table`` learns from each row on its own: cleaned values, the row's
    first problem (``_reason``), its unreadable optional cells (``_blanked_<column>``) and
    ``_line``. Nothing here looks at another row, so a row's result can be reused on a later
    night when its raw cells are the same (``adapters.ingestcache``).
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
            blanked[f"{_BLANKED}{col.name}"] = cleaned.invalid.astype(bool)
    out[_REASON] = reason
    out.update(blanked)
    out["_line"] = frame["_line"].astype("int64")
    return pd.DataFrame(out, index=index)


def _split_rows(rows: pd.DataFrame, files: pd.Series, spec: TableSpec) -> ParsedTable:
    """The cross-row half of parsing: duplicate keys, then loaded rows vs quarantine."""
    blanked = [c for c in rows.columns if c.startswith(_BLANKED)]
    columns = [c for c in rows.columns if c != _REASON and c not in blanked]
    file_names = pd.Series(files.astype("string").array, index=rows.index)
    reason = rows[_REASON].copy()

    usable = reason.isna()
    dupes = _duplicated(rows.loc[usable, list(spec.key)])
    reason[dupes[dupes].index] = DUPLICATE_KEY
    usable = reason.isna()

    quarantine = pd.DataFrame(
        {
            "file": file_names[~usable],
            "line": rows.loc[~usable, "_line"],
            "reason": reason[~usable],
            "record_id": rows.loc[~usable, spec.record_id].astype("string"),
        }
    ).reset_index(drop=True)
    by_file: dict[str, dict[str, int]] = {}
    for column in blanked:
        counts = file_names[rows[column] & usable].value_counts()
        for file, count in counts.items():
            by_file.setdefault(str(file), {})[column.removeprefix(_BLANKED)] = int(count)
    if usable.all():  # every row loads (a normal night): share the columns, copy no cell
        loaded = pd.DataFrame({c: rows[c] for c in columns}, copy=False)
    else:
        loaded = rows.loc[usable, columns]
    loaded.insert(len(columns) - 1, "_file", file_names[usable])  # _file, then _line
    loaded.index = pd.RangeIndex(len(loaded))
    return ParsedTable(loaded, quarantine, by_file)


def _duplicated(keys: pd.DataFrame) -> pd.Series:
    """``keys.duplicated(keep="first")``, decided in full only among the rows whose keys
    hash like another row's: rows with equal keys hash alike, so every row of a repeated
    key is among them, in order, and the others repeat nothing."""
    if not all(isinstance(keys[c].dtype, pd.StringDtype) for c in keys.columns):
        return keys.duplicated(keep="first")
    alike = pd.Series(frame_hashes(keys)).duplicated(keep=False).to_numpy()
    repeated = np.zeros(len(keys), dtype=bool)
    if alike.any():
        repeated[alike] = keys.loc[alike].duplicated(keep="first").to_numpy()
    return pd.Series(repeated, index=keys.index)


def _counts(values: pd.Series) -> dict[str, int]:
    """``values.value_counts()`` of a column of few distinct names (a table's ``_file``),
    counted per shared object first: such a column holds one object per name."""
    cells = np.ascontiguousarray(np.asarray(values.array, dtype=object))
    addresses = object_addresses(cells)
    codes, distinct = pd.factorize(addresses if addresses is not None else cells)
    if len(distinct) > 64:  # names held as many objects: pandas counts them by value
        return {str(k): int(v) for k, v in values.value_counts().items()}
    holder = np.empty(len(distinct), dtype=np.intp)
    holder[codes] = np.arange(len(codes), dtype=np.intp)
    counts: dict[str, int] = {}
    for name, count in zip(cells[holder], np.bincount(codes, minlength=len(distinct)), strict=True):
        if not pd.isna(name):
            counts[str(name)] = counts.get(str(name), 0) + int(count)
    return counts


def parse_table(
    frame: pd.DataFrame, spec: TableSpec, *, date_format: DateFormat = "iso"
) -> ParsedTable:
    """Clean standard-named raw text into contract-A columns; split off unusable rows.

    ``frame`` holds raw text per standard column (absent optional columns read as blank)
    plus ``_file`` and ``_line``. A row's reason is its first problem in column order; rows
    still usable then lose to an earlier row with the same key (``duplicate key``).
    """
    rows = _clean_rows(frame, spec, date_format)
    return _split_rows(rows, frame["_file"].reset_index(drop=True), spec)


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


def _malformed(source: SourceFile) -> pd.DataFrame:
    width = len(source.header)
    return pd.DataFrame(
        {
            "file": pd.Series(
                source.name, index=range(len(source.malformed_lines)), dtype="string"
            ),
            "line": source.malformed_lines,
            "reason": pd.Series(
                [
                    f"malformed row: expected {width} fields, found {n}"
                    for n in source.malformed_fields
                ],
                dtype="string",
            ),
            "record_id": pd.Series(pd.NA, index=range(len(source.malformed_lines)), dtype="string"),
        }
    )


def _source(raw: RawFile, lookup: bool) -> SourceFile:
    return SourceFile(
        name=raw.name,
        sha256=raw.sha256,
        encoding=raw.encoding,
        header=raw.header,
        malformed_lines=raw.malformed_lines,
        malformed_fields=raw.malformed_fields,
        lookup=lookup,
        rows=len(raw.rows),
    )


@dataclass
class _TableLoad:
    """The files one table is built from (main file, preset extras) while it loads."""

    input_dir: Path
    stem: str
    config: InputConfig
    raws: list[tuple[RawFile, bool]] = field(default_factory=list)  # (file, lookup only)

    def read(self, path: Path, data: bytes | None = None) -> RawFile:
        return read_raw(path, encoding=self.config.encoding_for(self.stem), data=data)

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


def _unknown(
    header: tuple[str, ...], stem: str, mapping: Mapping[str, str], preset: str | None
) -> tuple[str, ...]:
    """Header columns neither standard, mapped nor read by the preset (reported, ignored)."""
    layout = PRESETS[preset].tables[stem] if preset else None
    names = [h.strip().lower() for h in header]
    present = {*names, "_file", "_line"}
    known = set(TABLES[stem].column_names) | {source for source in mapping if source in present}
    return tuple(
        original
        for original, name in zip(header, names, strict=True)
        if name not in known and not (layout and layout.consumed(name))
    )


@dataclass(frozen=True, slots=True)
class _Loaded:
    """One table as loaded, with what it leaves for the next night and how much it reused."""

    table: pd.DataFrame
    quarantine: pd.DataFrame
    reports: list[FileReport]
    cache: TableCache | None = None
    rows_reused: int = 0
    rows_cleaned: int = 0
    file_unchanged: bool = False


def _fingerprint(stem: str, config: InputConfig) -> str:
    """A digest of everything but the raw cells that decides how this table's rows clean."""
    table = config.table(stem)
    described = {
        "code": code_digest(),
        "stem": stem,
        "file": table.file,
        "preset": table.preset,
        "date_format": config.date_format_for(stem),
        "encoding": config.encoding_for(stem),
        "columns": sorted(table.columns.items()),
        "preset_options": sorted(table.preset_options.items()),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


_HASH_SAMPLE = 2048
_MISSING_HASH = np.iinfo(np.uint64).max  # what pandas gives a missing value


def _hash_values(values: np.ndarray, *, text_only: bool = False) -> np.ndarray:
    """``pd.util.hash_array(values)`` of a column of ``str`` and missing values (none when
    ``text_only``), by the cheaper route: a column of nearly unique values (ids, date-times)
    is hashed cell by cell (about twice as fast), one of repeating values once per distinct
    value (what ``categorize=True`` does).  The choice, made on a spread sample, is speed
    only."""
    sample = values[:: max(1, len(values) // _HASH_SAMPLE)]
    if len(pd.unique(sample)) <= 0.9 * len(sample):
        return pd.util.hash_array(values, categorize=True)
    missing = np.zeros(len(values), dtype=bool) if text_only else pd.isna(values)
    if not missing.any():
        return pd.util.hash_array(values, categorize=False)
    hashed = np.full(len(values), _MISSING_HASH, dtype=np.uint64)
    hashed[~missing] = pd.util.hash_array(values[~missing], categorize=False)
    return hashed


def object_addresses(cells: np.ndarray) -> np.ndarray | None:
    """Each cell's object address (CPython's ``id``) of an object array, read from its
    buffer without touching the objects (valid while ``cells`` lives); ``None`` where
    NumPy gives no such buffer."""
    try:
        return np.frombuffer(np.ascontiguousarray(cells, dtype=object), dtype=np.uintp)
    except (TypeError, ValueError, BufferError):
        return None


def _distinct_share(keys: np.ndarray) -> float:
    """About what share of ``keys`` (unsigned integers) are distinct, counted among those
    falling in one sixteenth of the key space: a subset of keys, not of cells, so a key's
    repeats are all in it or all out (a spread sample of cells would see few repeats)."""
    mixed = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
    picked = keys[(mixed >> np.uint64(60)) == 0]
    if len(picked) < 64:  # few keys fell in: too few keys (or cells) to tell by subset
        picked = keys[:: max(1, len(keys) // _HASH_SAMPLE)]
    return len(pd.unique(picked)) / max(1, len(picked))


def _text_hashes(values: np.ndarray, *, text_only: bool = False) -> np.ndarray:
    """``pd.util.hash_array(values)`` of an object column of ``str`` and missing values
    (none when ``text_only``).

    A column read from a file or an Arrow table holds one Python object per distinct
    string, so its cells repeat as objects: where they repeat enough, cells are told apart
    by the object's address (an integer, far cheaper to factorize than text) and each
    object is hashed once.  A cell and the object it holds are one value, so every cell
    gets exactly its own hash (tests check); the route is speed only.
    """
    values = np.ascontiguousarray(values, dtype=object)
    addresses = object_addresses(values)
    if addresses is None or _distinct_share(addresses) > 0.5:  # would cost more than it saves
        return _hash_values(values, text_only=text_only)
    codes, distinct = pd.factorize(addresses)
    holder = np.empty(len(distinct), dtype=np.intp)
    holder[codes] = np.arange(len(codes), dtype=np.intp)  # a cell holding each object
    return _hash_values(values[holder], text_only=text_only)[codes]


def frame_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Per row, exactly ``pd.util.hash_pandas_object(frame, index=False)``, faster: text
    columns go through ``_text_hashes`` (four times faster for a column of few shared
    values, two for one of ids), other columns through pandas as they are."""
    arrays: list[np.ndarray] = []
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "python":
            arrays.append(_text_hashes(np.asarray(series.array)))
        else:
            arrays.append(pd.util.hash_pandas_object(series, index=False).to_numpy(np.uint64))
    return _combine_hashes(arrays, len(frame))


def _combine_hashes(arrays: list[np.ndarray], rows: int) -> np.ndarray:
    """How pandas combines a frame's column hashes (as CPython combines a tuple's)."""
    combined = np.full(rows, 0x345678, dtype=np.uint64)
    mult = np.uint64(1000003)
    for position, hashed in enumerate(arrays):
        remaining = len(arrays) - position
        combined ^= hashed
        combined *= mult
        mult += np.uint64(82520 + 2 * remaining)
    combined += np.uint64(97531)
    return combined


def _row_hashes(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray | None:
    """Per row, ``pd.util.hash_pandas_object(frame[columns], index=False)``: a hash of the
    raw cells parsing reads; None when a cell is not text (the hash would read ``nan`` and
    ``"nan"`` alike, so such a table is never reused)."""
    arrays = []
    for column in columns:
        values = frame[column].to_numpy(dtype=object)
        if pd.api.types.infer_dtype(values, skipna=False) not in ("string", "empty"):
            return None
        arrays.append(_text_hashes(values, text_only=True))
    return _combine_hashes(arrays, len(frame))


@functools.lru_cache(maxsize=64)
def _clean_dtypes(stem: str, columns: tuple[str, ...], date_format: DateFormat) -> pd.Series:
    """The columns and dtypes ``_clean_rows`` gives this table (cleaning no rows)."""
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in (*columns, "_line")})
    return _clean_rows(empty, TABLES[stem], date_format).dtypes


def _cached_rows(cache: TableCache, stem: str, date_format: DateFormat) -> pd.DataFrame:
    """Last night's cleaned rows, or ``ValueError`` when they are not shaped as tonight's
    code shapes them (then the table is parsed afresh)."""
    rows = cache.rows
    if not rows.dtypes.equals(_clean_dtypes(stem, cache.columns, date_format)):
        raise ValueError("cached rows have other columns or dtypes")
    return rows


def _reuse_rows(
    frame: pd.DataFrame,
    hashes: np.ndarray,
    cache: TableCache,
    spec: TableSpec,
    date_format: DateFormat,
) -> tuple[pd.DataFrame, int, bytes | None]:
    """``_clean_rows(frame)``, taking each row whose raw cells hash as a cached row's from the
    cache and cleaning only the others. Returns the rows, how many were reused and, when it
    can be built from the cache's own (Arrow) columns, the rows' payload for the next night
    (``TableCache.payload_reusing``)."""
    cached = _cached_rows(cache, spec.stem, date_format)
    # Identical raw rows clean identically, so any one of repeated cached hashes will do.
    first = np.flatnonzero(~pd.Series(cache.row_hash).duplicated().to_numpy())
    found = pd.Index(cache.row_hash[first]).get_indexer(pd.Index(hashes))
    hit = found >= 0
    fresh = _clean_rows(frame.loc[~hit], spec, date_format)
    take = np.empty(len(frame), dtype=np.int64)
    take[hit] = first[found[hit]]
    take[~hit] = len(cached) + np.arange(len(fresh))
    pool = pd.concat([cached, fresh], ignore_index=True) if len(fresh) else cached
    rows = pool.take(take)
    rows.index = pd.RangeIndex(len(rows))  # reset_index would copy every cell again
    lines = frame["_line"].to_numpy(dtype=np.int64)
    rows["_line"] = lines
    payload = cache.payload_reusing(take, fresh, lines=lines, row_hash=hashes)
    return rows, int(hit.sum()), payload


def _reports(
    stem: str,
    preset: str | None,
    parsed: ParsedTable,
    presented_by_file: Mapping[str, int],
    sources: list[SourceFile],
    unknown: tuple[str, ...],
) -> tuple[pd.DataFrame, list[FileReport]]:
    """The table's whole quarantine (parse problems + malformed rows) and one report per file."""
    quarantine = [parsed.quarantine]
    reports = []
    loaded_by_file = _counts(parsed.loaded["_file"])
    quarantined_by_file = _counts(parsed.quarantine["file"])
    for position, source in enumerate(sources):
        malformed = _malformed(source)
        quarantine.append(malformed)
        if source.lookup:
            loaded, presented, bad = source.rows, source.rows, len(malformed)
        else:
            loaded = int(loaded_by_file.get(source.name, 0))
            presented = int(presented_by_file.get(source.name, 0))
            bad = int(quarantined_by_file.get(source.name, 0)) + len(malformed)
        rows_read = presented + len(malformed)
        # Nothing lost: a failure here is a bug in this module, never in the input.
        assert rows_read == loaded + bad, f"{source.name}: counts do not reconcile"
        reports.append(
            FileReport(
                file=source.name,
                table=stem,
                sha256=source.sha256,
                rows_read=rows_read,
                rows_loaded=loaded,
                rows_quarantined=bad,
                unknown_columns=unknown if position == 0 else (),
                supplied=True,
                encoding=source.encoding,
                preset=preset,
                fields_blanked=MappingProxyType(dict(parsed.blanked.get(source.name, {}))),
            )
        )
    return pd.concat(quarantine, ignore_index=True), reports


def _log_unknown(name: str, unknown: tuple[str, ...]) -> None:
    if unknown:
        log.info("%s: %d unknown column(s) ignored: %s", name, len(unknown), unknown)


def _unchanged_file(
    stem: str,
    cache: TableCache,
    spec: TableSpec,
    mapping: Mapping[str, str],
    date_format: DateFormat,
) -> _Loaded:
    """A standard-layout file byte for byte as last night, with the same configuration: its
    rows are last night's rows, so only the cross-row half of parsing runs again."""
    (source,) = cache.files
    rows = _cached_rows(cache, stem, date_format)
    unknown = _unknown(source.header, stem, mapping, None)
    _log_unknown(source.name, unknown)
    parsed = _split_rows(rows, pd.Series(source.name, index=rows.index), spec)
    quarantine, reports = _reports(stem, None, parsed, {source.name: len(rows)}, [source], unknown)
    return _Loaded(parsed.loaded, quarantine, reports, cache.seal(), len(rows), file_unchanged=True)


def _load_table(
    input_dir: Path, stem: str, config: InputConfig, previous: IngestState | None, *, keep: bool
) -> _Loaded:
    """Load one table; with ``keep``, also build what it leaves for the next night, reusing
    ``previous`` wherever that is provably the same as parsing afresh."""
    spec = TABLES[stem]
    table_config = config.table(stem)
    preset = table_config.preset
    layout = PRESETS[preset].tables[stem] if preset else None
    name = table_config.file or (layout.default_file if layout else spec.file_name)
    path = _find(input_dir, name)
    if path is None:
        log.info("%s: not supplied (%s absent)", stem, name)
        report = FileReport(name, stem, "", 0, 0, 0, (), supplied=False, preset=preset)
        return _Loaded(empty_table(stem), _empty_quarantine(), [report])

    date_format = config.date_format_for(stem)
    mapping = dict(table_config.columns)
    fingerprint = _fingerprint(stem, config) if keep else ""
    cache = previous.tables.get(stem) if previous is not None and keep else None
    if cache is not None and cache.fingerprint != fingerprint:
        log.info("%s: input configuration or code changed since last night; parsing all", stem)
        cache = None

    data = None
    # A preset may read further files, so only a lone standard file is reused whole.
    if cache is not None and layout is None and [f.name for f in cache.files] == [path.name]:
        data = read_bytes(path)
        if hashlib.sha256(data).hexdigest() == cache.files[0].sha256:
            try:
                return _unchanged_file(stem, cache, spec, mapping, date_format)
            except (ValueError, KeyError, pa.ArrowException) as exc:
                log.warning("%s: cached rows unusable (%s); parsing all", stem, exc)
                cache = None

    load = _TableLoad(input_dir, stem, config)
    main = load.read(path, data)
    load.raws.insert(0, (main, False))
    # rename copies the whole frame even with nothing to rename; reset_index below copies
    frame = main.rows.rename(columns=mapping) if mapping else main.rows
    unknown = _unknown(main.header, stem, mapping, preset)
    if layout is not None:
        frame = layout.transform(frame, table_config.preset_options, load.load_aux)

    missing = sorted(c for c in spec.required_names if c not in frame.columns)
    if missing:
        how = f" (after the {preset} preset and column mapping)" if preset else ""
        raise InputFileError(
            f"{main.name}: missing required columns: {', '.join(missing)}{how}; add them or "
            f"map source columns in [input.tables.{stem}.columns]"
        )
    _log_unknown(main.name, unknown)

    if not frame.index.equals(pd.RangeIndex(len(frame))):  # reset_index copies every cell
        frame = frame.reset_index(drop=True)
    columns = tuple(c for c in spec.column_names if c in frame.columns)
    hashes = _row_hashes(frame, columns) if keep else None
    rows, reused, payload = None, 0, None
    if hashes is not None and cache is not None and cache.columns == columns:
        try:
            rows, reused, payload = _reuse_rows(frame, hashes, cache, spec, date_format)
        except (ValueError, KeyError, pa.ArrowException) as exc:
            log.warning("%s: cached rows unusable (%s); parsing all", stem, exc)
            rows, payload = None, None
    if rows is None:
        rows = _clean_rows(frame, spec, date_format)
    parsed = _split_rows(rows, frame["_file"], spec)
    sources = [_source(raw, lookup) for raw, lookup in load.raws]
    presented = _counts(frame["_file"])
    quarantine, reports = _reports(stem, preset, parsed, presented, sources, unknown)
    kept = None
    if hashes is not None:
        kept = TableCache(
            fingerprint=fingerprint,
            columns=columns,
            files=tuple(sources),
            rows=rows,
            row_hash=hashes,
            payload=payload,
        ).seal()
    return _Loaded(parsed.loaded, quarantine, reports, kept, reused, len(frame) - reused)


@dataclass(frozen=True)
class IncrementalLoad:
    """A night's extracts, the state they leave for the next night, and per table how many
    rows were cleaned tonight and how many were taken from last night's state."""

    extracts: Extracts
    state: IngestState
    cleaned: Mapping[str, int]
    reused: Mapping[str, int]
    unchanged_files: tuple[str, ...]

    @property
    def rows_cleaned(self) -> int:
        return sum(self.cleaned.values())

    @property
    def rows_reused(self) -> int:
        return sum(self.reused.values())


def _load(
    input_dir: Path, config: InputConfig | None, previous: IngestState | None, *, keep: bool
) -> tuple[Extracts, list[_Loaded]]:
    config = config or InputConfig()
    if not input_dir.is_dir():
        raise InputFileError(f"{input_dir}: input folder not found")
    tables: dict[str, pd.DataFrame] = {}
    quarantine: list[pd.DataFrame] = []
    reports: list[FileReport] = []
    loads: list[_Loaded] = []
    for stem in TABLE_NAMES:
        loaded = _load_table(input_dir, stem, config, previous, keep=keep)
        tables[stem] = loaded.table
        quarantine.append(loaded.quarantine)
        reports.extend(loaded.reports)
        loads.append(loaded)
        rows = sum(r.rows_loaded for r in loaded.reports)
        held = sum(r.rows_quarantined for r in loaded.reports)
        log.info("%s: %d rows loaded, %d quarantined", stem, rows, held)
    all_quarantine = pd.concat(quarantine, ignore_index=True).astype(
        {"file": "string", "line": "int64", "reason": "string", "record_id": "string"}
    )
    all_quarantine = all_quarantine.sort_values(["file", "line"], kind="stable").reset_index(
        drop=True
    )
    return Extracts(tables=tables, quarantine=all_quarantine, files=tuple(reports)), loads


def load_extracts(input_dir: Path, config: InputConfig | None = None) -> Extracts:
    """Read every standard table from ``input_dir`` (absent files give empty tables).

    Raises :class:`InputFileError` for a file that cannot be used at all (unreadable,
    undecodable, missing required columns) and ``NotADirectoryError``-style
    :class:`InputFileError` when ``input_dir`` is not a folder.
    """
    extracts, _ = _load(input_dir, config, None, keep=False)
    return extracts


def load_extracts_incremental(
    input_dir: Path, config: InputConfig | None, *, previous: IngestState | None
) -> IncrementalLoad:
    """:func:`load_extracts`, reusing what ``previous`` (last night's state) already parsed.

    The extracts are exactly what :func:`load_extracts` returns; rows and files unchanged
    since last night are just not cleaned again (see ``adapters.ingestcache``).
    """
    extracts, loads = _load(input_dir, config, previous, keep=True)
    by_stem = dict(zip(TABLE_NAMES, loads, strict=True))
    return IncrementalLoad(
        extracts=extracts,
        state=IngestState({s: t.cache for s, t in by_stem.items() if t.cache is not None}),
        cleaned={stem: loaded.rows_cleaned for stem, loaded in by_stem.items()},
        reused={stem: loaded.rows_reused for stem, loaded in by_stem.items()},
        unchanged_files=tuple(t.reports[0].file for t in loads if t.file_unchanged),
    )


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
