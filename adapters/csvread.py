"""Read one CSV file as text, keeping every row's physical line number.

pandas' C parser does the splitting; a vectorised byte scan alongside it finds where each
record starts (so ``line`` is right even when a quoted cell holds a newline) and how many
fields each record has (pandas silently pads short rows, so a truncated last line would
otherwise pass as a row with blank cells). The two are cross-checked: a file whose quoting
the scan reads differently from the parser (a stray ``"`` inside an unquoted cell) is re-read
with the stdlib ``csv`` module instead, which is exact but slower.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from adapters.errors import InputFileError

__all__ = ["ENCODINGS", "Encoding", "RawFile", "read_bytes", "read_raw"]

log = logging.getLogger(__name__)

Encoding = Literal["auto", "utf-8", "cp1252"]
ENCODINGS: tuple[Encoding, ...] = ("auto", "utf-8", "cp1252")

_NL, _CR, _QUOTE, _COMMA = 10, 13, 34, 44


@dataclass(frozen=True, slots=True)
class RawFile:
    """One file read as text.

    ``rows`` has one column per header name (lower-cased, stripped) holding the raw cell
    text, plus ``_file`` and ``_line``; ``malformed`` holds the physical line and field count
    of each record whose field count differs from the header's (they are not in ``rows``).
    """

    path: Path
    sha256: str
    encoding: str
    header: tuple[str, ...]
    rows: pd.DataFrame
    malformed_lines: np.ndarray
    malformed_fields: np.ndarray

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def rows_read(self) -> int:
        return len(self.rows) + len(self.malformed_lines)


def _decode_check(data: bytes, name: str, encoding: Encoding) -> str:
    """The Python codec for ``data``: UTF-8 (BOM optional) when it decodes, else cp1252."""
    candidates = {"auto": ("utf-8-sig", "cp1252"), "utf-8": ("utf-8-sig",), "cp1252": ("cp1252",)}
    error: UnicodeDecodeError | None = None
    for codec in candidates[encoding]:
        try:
            # Strict decode of the whole file: a wrong guess must fail here, not garble names.
            data.decode(codec)
        except UnicodeDecodeError as exc:
            error = exc if error is None else error
            continue
        return codec
    assert error is not None
    line = data.count(b"\n", 0, error.start) + 1
    raise InputFileError(
        f"{name}: line {line}: cannot decode byte 0x{data[error.start]:02x} as "
        f"{' or '.join(candidates[encoding])}; re-export as UTF-8 or set `encoding` for "
        "this table in [input.tables.<table>]"
    )


def _unquoted(positions: np.ndarray, quotes: np.ndarray) -> np.ndarray:
    """Per sorted position, whether an even number of ``quotes`` precede it.

    The same as ``np.searchsorted(quotes, positions) & 1 == 0``, but marking each quoted
    span's first and last position and summing is cheaper for millions of commas.
    """
    n = len(positions)
    opened = np.bincount(np.searchsorted(positions, quotes[0::2]), minlength=n + 1)
    closed = np.bincount(np.searchsorted(positions, quotes[1::2]), minlength=n + 1)
    return np.cumsum((opened - closed)[:n]) == 0


def _scan(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record: physical start line, field count, and whether it is blank.

    A newline or comma is structural when an even number of quote characters precede it
    (RFC 4180: a doubled ``""`` inside a quoted cell keeps the parity).
    """
    newlines = np.flatnonzero(buf == _NL)
    quotes = np.flatnonzero(buf == _QUOTE)
    commas = np.flatnonzero(buf == _COMMA)
    ends = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(buf)]))
    if starts[-1] == len(buf):  # the file ends with a newline: no record after it
        starts, ends = starts[:-1], ends[:-1]
    lines = np.searchsorted(newlines, starts) + 1
    outside = commas[_unquoted(commas, quotes)]
    # Structural commas up to each record's end, less those up to the previous one's.
    fields = np.diff(np.searchsorted(outside, ends, side="right"), prepend=0) + 1
    length = ends - starts
    last = buf[np.maximum(ends - 1, 0)] if len(buf) else np.zeros(0, np.uint8)
    blank = (length == 0) | ((length == 1) & (last == _CR))
    return lines, fields, blank


def _parse_fast(data: bytes, codec: str, n_fields: int) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(data),
        header=None,
        names=range(n_fields),
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,
        index_col=False,
        engine="c",
        encoding=codec,
    )


def _plain_rfc4180(buf: np.ndarray) -> bool:
    """No NUL byte, no carriage return but before a newline, and every quote either opens a
    cell (at its start), closes one (before a comma or line end) or doubles another."""
    # 0xEF may start a second byte-order mark, which pandas would strip.
    if not len(buf) or buf[0] == 0xEF or np.any(buf == 0):
        return False
    returns = np.flatnonzero(buf == _CR)
    if len(returns) and (returns[-1] + 1 == len(buf) or np.any(buf[returns + 1] != _NL)):
        return False
    quotes = np.flatnonzero(buf == _QUOTE)
    if len(quotes) % 2:
        return False
    opens, closes = quotes[0::2], quotes[1::2]
    doubled = closes[:-1] + 1 == opens[1:]  # a "" inside a quoted cell
    before = buf[np.maximum(opens - 1, 0)]
    opens_cell = (opens == 0) | (before == _COMMA) | (before == _NL)
    after = buf[np.minimum(closes + 1, len(buf) - 1)]
    closes_cell = (closes + 1 == len(buf)) | (after == _COMMA) | (after == _NL) | (after == _CR)
    return bool(
        np.all(opens_cell | np.concatenate(([False], doubled)))
        and np.all(closes_cell | np.concatenate((doubled, [False])))
    )


def _invalid_row(invalid: list[int]) -> Callable[[pacsv.InvalidRow], str]:
    def skip(row: pacsv.InvalidRow) -> str:
        invalid.append(row.actual_columns)
        return "skip"

    return skip


def _parse_arrow(
    body: bytes, buf: np.ndarray, fields: np.ndarray, blank: np.ndarray
) -> tuple[tuple[str, ...], pd.DataFrame] | None:
    """The header's cells and the records with as many fields, parsed by Arrow (about twice
    as fast as pandas); None unless the file is plain RFC 4180 UTF-8 and Arrow finds exactly
    the records and field counts the scan found. Then the pandas path decides, as always.

    Arrow and pandas' C parser read plain RFC 4180 alike; they differ on stray quotes,
    lone carriage returns and one-field lines (a line of spaces counts as blank), which
    therefore never come here.
    """
    keep = np.flatnonzero(~blank)
    if not len(keep) or np.any(fields[keep] == 1) or not _plain_rfc4180(buf):
        return None
    width = int(fields[keep[0]])
    data = keep[1:]
    good, bad = data[fields[data] == width], data[fields[data] != width]
    names = [str(i) for i in range(width)]
    invalid: list[int] = []
    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True,
                ignore_empty_lines=True,
                invalid_row_handler=_invalid_row(invalid),
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        return None
    # Every record the scan found, in order: the header, then the right-width rows, and
    # the others (malformed) skipped with the field counts the scan counted.
    if table.num_rows != 1 + len(good) or invalid != fields[bad].tolist():
        return None
    header = tuple(str(v) for v in table.slice(0, 1).to_pylist()[0].values())
    # One Python object per distinct string, as pandas' parser does.
    rows = table.slice(1).to_pandas(deduplicate_objects=True)
    return header, rows


def _parse_exact(text: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """The stdlib reader: exact about quoting, at the cost of a Python step per record."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[list[str]] = []
    ends: list[int] = []
    for record in reader:
        records.append(record)
        ends.append(reader.line_num)
    end_lines = np.asarray(ends, dtype=np.int64)
    lines = np.concatenate(([1], end_lines[:-1] + 1)) if len(ends) else end_lines
    fields = np.asarray([len(r) for r in records], dtype=np.int64)
    blank = fields == 0
    width = int(fields.max()) if len(fields) else 1
    frame = pd.DataFrame.from_records(records, columns=range(width)).fillna("")
    return frame, lines, np.maximum(fields, 1), blank


def read_bytes(path: Path) -> bytes:
    """The file's bytes; :class:`InputFileError` naming the file when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path.name}: cannot read file: {exc.strerror}") from exc


def read_raw(path: Path, *, encoding: Encoding = "auto", data: bytes | None = None) -> RawFile:
    """Read ``path`` as text; raise :class:`InputFileError` when it cannot be read at all.

    ``data``: the file's bytes when the caller has read them already (to hash them first).
    """
    name = path.name
    if data is None:
        data = read_bytes(path)
    sha256 = hashlib.sha256(data).hexdigest()
    codec = _decode_check(data, name, encoding)
    # The BOM is not part of the first header name; the scan must not count it either.
    body = data[3:] if codec == "utf-8-sig" and data.startswith(b"\xef\xbb\xbf") else data
    buf = np.frombuffer(body, dtype=np.uint8)
    lines, fields, blank = _scan(buf)
    fast = _parse_arrow(body, buf, fields, blank) if codec == "utf-8-sig" else None
    if fast is not None:
        header, rows = fast
        keep = np.flatnonzero(~blank)
    else:
        frame = _parse_fast(body, codec, int(fields.max()) if len(fields) else 1)
        if len(frame) != len(lines):
            log.warning("%s: quoting outside RFC 4180; re-reading with the exact parser", name)
            frame, lines, fields, blank = _parse_exact(body.decode(codec))
        # A line of spaces only is as empty as a blank line.
        blank = blank | ((fields == 1) & (frame[0].str.strip() == "").to_numpy())
        keep = np.flatnonzero(~blank)
        if len(keep) == 0:
            raise InputFileError(f"{name}: the file is empty; expected a header row")
        header = tuple(str(v) for v in frame.iloc[keep[0], : fields[keep[0]]])
    head, data_idx = keep[0], keep[1:]
    width = len(header)
    names = [h.strip().lower() for h in header]
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise InputFileError(
            f"{name}: line {lines[head]}: column names repeated (case-insensitive): "
            f"{', '.join(dupes)}; keep one of each"
        )
    good = data_idx[fields[data_idx] == width]
    bad = data_idx[fields[data_idx] != width]
    if fast is None:
        rows = frame.iloc[good, :width]
    rows.columns = pd.Index(names)
    # Both paths made new cells already; reset_index would copy them again.
    rows.index = pd.RangeIndex(len(rows))
    rows["_file"] = name
    rows["_line"] = lines[good].astype(np.int64)
    return RawFile(
        path=path,
        sha256=sha256,
        encoding="cp1252" if codec == "cp1252" else "utf-8",
        header=header,
        rows=rows,
        malformed_lines=lines[bad].astype(np.int64),
        malformed_fields=fields[bad].astype(np.int64),
    )
