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
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

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
    lines, fields, blank = _scan(np.frombuffer(body, dtype=np.uint8))
    frame = _parse_fast(body, codec, int(fields.max()) if len(fields) else 1)
    if len(frame) != len(lines):
        log.warning("%s: quoting outside RFC 4180; re-reading with the exact parser", name)
        frame, lines, fields, blank = _parse_exact(body.decode(codec))
    # A line of spaces only is as empty as a blank line.
    blank = blank | ((fields == 1) & (frame[0].str.strip() == "").to_numpy())
    keep = np.flatnonzero(~blank)
    if len(keep) == 0:
        raise InputFileError(f"{name}: the file is empty; expected a header row")
    head, data_idx = keep[0], keep[1:]
    width = int(fields[head])
    header = tuple(str(v) for v in frame.iloc[head, :width])
    names = [h.strip().lower() for h in header]
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise InputFileError(
            f"{name}: line {lines[head]}: column names repeated (case-insensitive): "
            f"{', '.join(dupes)}; keep one of each"
        )
    good = data_idx[fields[data_idx] == width]
    bad = data_idx[fields[data_idx] != width]
    rows = frame.iloc[good, :width]
    rows.columns = pd.Index(names)
    # The take above copied the cells already; reset_index would copy them again.
    rows = rows.set_axis(pd.RangeIndex(len(rows)), axis=0, copy=False)
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
