"""What one night's ingest leaves for the next: every table's cleaned rows, keyed by a hash
of the raw cells they were cleaned from.

Real extracts are full refreshes in which about 1% of rows change from one night to the
next, yet cleaning and validating every cell again is most of the ingest's work. Cleaning is
a function of one row's raw cells (after preset reshaping and column mapping) and of the
table's configuration, nothing else; everything that looks across rows (duplicate keys,
line numbers, per-file counts) is recomputed every night from tonight's rows. So a row whose
raw cells hash as last night's row takes that row's cleaned values instead of being cleaned
again, and a file whose bytes are unchanged skips even the CSV parse.

Exactness: a table's cache is used only when its fingerprint matches tonight's — this
layout's version, the source of the parsing modules, pandas/numpy versions and the table's
whole input configuration — and the same standard columns are present. Row hashes are the
64-bit ``pandas.util.hash_pandas_object`` of the raw cells (as ``linkage.incremental``'s
record hashes): a new row is taken for an old one only if they collide, about
``changed rows x cached rows / 2**64`` per night (~1e-9 at CCG scale). A state that cannot
be read (corrupt, truncated, other version) is ignored and the night parses everything.

The blob is a zip of, per table, a JSON description and an Arrow IPC file (zstd) of the
cleaned rows: Arrow round-trips the ``string``, ``datetime64[ns]`` and ``bool`` columns
exactly and, unlike a pickle read back from a database, cannot execute code.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["CACHE_VERSION", "IngestState", "SourceFile", "TableCache", "code_digest"]

log = logging.getLogger(__name__)

#: Layout version of the blob; bump it when the blob's layout or its meaning changes.
CACHE_VERSION = 1
_ROW_HASH = "_row_hash"
# Modules whose code decides what a cleaned row holds: any edit to them invalidates caches.
_PARSING_MODULES = ("csvread", "hygiene", "ingest", "ingestcache", "presets", "spec")


@functools.cache
def code_digest() -> str:
    """A digest of everything besides config that decides a cleaned row: code and libraries."""
    versions = f"v{CACHE_VERSION} pandas {pd.__version__} numpy {np.__version__}"
    digest = hashlib.sha256(versions.encode())
    here = Path(__file__).parent
    for name in _PARSING_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class SourceFile:
    """What the per-file report needs to know about one file a table was read from."""

    name: str
    sha256: str
    encoding: str
    header: tuple[str, ...]
    malformed_lines: np.ndarray
    malformed_fields: np.ndarray
    # Files used only to look values up (preset extras) report their own row count.
    lookup: bool = False
    rows: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "encoding": self.encoding,
            "header": list(self.header),
            "malformed_lines": self.malformed_lines.tolist(),
            "malformed_fields": self.malformed_fields.tolist(),
            "lookup": self.lookup,
            "rows": self.rows,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceFile:
        return cls(
            name=str(data["name"]),
            sha256=str(data["sha256"]),
            encoding=str(data["encoding"]),
            header=tuple(str(h) for h in data["header"]),
            malformed_lines=np.asarray(data["malformed_lines"], dtype=np.int64),
            malformed_fields=np.asarray(data["malformed_fields"], dtype=np.int64),
            lookup=bool(data["lookup"]),
            rows=int(data["rows"]),
        )


class TableCache:
    """One table's cleaned rows (with ``_line``) and, per row, the hash of its raw cells.

    Built either from tonight's frames (serialised only when the night commits) or from last
    night's blob (decoded only when a row is wanted; carried forward byte for byte when the
    table's file was unchanged).
    """

    def __init__(
        self,
        *,
        fingerprint: str,
        columns: tuple[str, ...],
        files: tuple[SourceFile, ...],
        rows: pd.DataFrame | None = None,
        row_hash: np.ndarray | None = None,
        payload: bytes | None = None,
    ) -> None:
        if (rows is None or row_hash is None) and payload is None:
            raise ValueError("TableCache needs rows and hashes, or a payload")
        self.fingerprint = fingerprint
        self.columns = columns
        self.files = files
        self._rows = rows
        self._row_hash = row_hash
        self._payload = payload
        self._table: pa.Table | None = None  # the payload's Arrow table, once decoded

    def _decode(self) -> None:
        assert self._payload is not None
        with pa.ipc.open_file(pa.BufferReader(self._payload)) as reader:
            table = reader.read_all()
        self._table = table
        # Plain conversion shares one Python object per distinct string (as pandas' CSV
        # parser does); the "string" dtype's own conversion would make one per cell.
        frame = table.to_pandas(ignore_metadata=True, deduplicate_objects=True)
        for name, kind in zip(table.column_names, table.schema.types, strict=True):
            if pa.types.is_string(kind) or pa.types.is_large_string(kind):
                frame[name] = frame[name].astype("string")
        self._row_hash = frame.pop(_ROW_HASH).to_numpy(dtype=np.uint64)
        self._rows = frame

    def seal(self) -> TableCache:
        """Serialise now and let the frames go: the state then holds compressed bytes only
        while the rest of the night runs. Returns ``self``."""
        self.payload()
        self._rows = self._row_hash = self._table = None
        return self

    @property
    def rows(self) -> pd.DataFrame:
        if self._rows is None:
            self._decode()
        assert self._rows is not None
        return self._rows

    @property
    def row_hash(self) -> np.ndarray:
        if self._row_hash is None:
            self._decode()
        assert self._row_hash is not None
        return self._row_hash

    def meta(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "columns": list(self.columns),
            "files": [f.to_json() for f in self.files],
        }

    def payload(self) -> bytes:
        if self._payload is None:
            frame = self.rows.assign(**{_ROW_HASH: self.row_hash})
            self._payload = _write(pa.Table.from_pandas(frame, preserve_index=False))
        return self._payload

    def payload_reusing(
        self, take: np.ndarray, fresh: pd.DataFrame, *, lines: np.ndarray, row_hash: np.ndarray
    ) -> bytes | None:
        """The payload of the rows ``pool.take(take)`` (``pool``: this cache's rows, then
        ``fresh``) with ``_line`` set to ``lines``, and ``row_hash``: what ``payload()``
        gives for them, but taking the reused rows' columns from this cache's own Arrow
        table, so that only the fresh rows (about 1% a night) are converted from pandas.
        ``None`` when the fresh rows do not convert to this cache's schema."""
        if self._table is None:
            self._decode()
        base = self._table
        assert base is not None
        if base.schema.field("_line").type != pa.int64():
            return None
        new = pa.Table.from_pandas(
            fresh.assign(**{_ROW_HASH: np.zeros(len(fresh), dtype=np.uint64)}),
            preserve_index=False,
        )
        if not new.schema.equals(base.schema, check_metadata=False):
            return None
        try:
            pool = pa.concat_tables([base, new.replace_schema_metadata(base.schema.metadata)])
            table = pool.take(pa.array(take, type=pa.int64()))
            for name, values in (("_line", lines), (_ROW_HASH, row_hash)):
                field = base.schema.field(name)
                at = table.schema.get_field_index(name)
                table = table.set_column(at, field, pa.array(values, type=field.type))
        except (pa.ArrowException, ValueError, TypeError):
            return None
        return _write(table)

    @classmethod
    def from_parts(cls, meta: Mapping[str, Any], payload: bytes) -> TableCache:
        return cls(
            fingerprint=str(meta["fingerprint"]),
            columns=tuple(str(c) for c in meta["columns"]),
            files=tuple(SourceFile.from_json(f) for f in meta["files"]),
            payload=payload,
        )


def _write(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


@dataclass(frozen=True)
class IngestState:
    """Per table stem, the cache a night's ingest leaves (tables that cannot be cached are
    simply absent: the next night parses them in full)."""

    tables: Mapping[str, TableCache]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        # Stored, not deflated: the Arrow payloads are zstd-compressed already.
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("version.json", json.dumps({"version": CACHE_VERSION}))
            for stem, cache in self.tables.items():
                archive.writestr(f"{stem}.json", json.dumps(cache.meta()))
                archive.writestr(f"{stem}.arrow", cache.payload())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> IngestState | None:
        """The state in ``data``, or None when absent or unreadable (the night parses all)."""
        if not data:
            return None
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                version = json.loads(archive.read("version.json"))["version"]
                if version != CACHE_VERSION:
                    log.info(
                        "ingest state: version %s, expected %s; parsing all", version, CACHE_VERSION
                    )
                    return None
                stems = sorted(
                    n[: -len(".json")]
                    for n in archive.namelist()
                    if n.endswith(".json") and n != "version.json"
                )
                tables = {
                    stem: TableCache.from_parts(
                        json.loads(archive.read(f"{stem}.json")), archive.read(f"{stem}.arrow")
                    )
                    for stem in stems
                }
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
            log.warning("ingest state unreadable (%s); parsing every extract", type(exc).__name__)
            return None
        return cls(tables)
