"""The SQL store: what must survive between nights (SQLAlchemy Core; SQLite or PostgreSQL).

Tables
------
* ``runs``              one row per run: as_of, status, input fingerprint, manifest (JSON).
* ``records``           every source record seen: its person_ref and household_ref (the
                        stable identities), a content hash, and the runs it was first/last in.
* ``person_events``     merges and splits of persons, per run.
* ``links``             review-band pairs: probability, weights and both records' fields
                        (shown to the reviewer only), and their review status.
* ``review_decisions``  append-only audit of accept / reject / undo (who, when, what, why).
* ``held_flags``        flags held behind pending links in the latest run.
* ``flags``             the active flags after the latest run (the lifecycle's "previous").
* ``flag_history``      append-only NEW / RESOLVED transitions.
* ``meta``              the pseudonymisation key (unless given by the environment).
* ``run_lock``          at most one run per store at a time.

A run reads what it needs at the start and writes everything in one transaction at the end
(``commit_run``), so a killed run leaves the store exactly as it was.

The records table is read whole at the start of every night (``identities``); reading 100k+
rows through the database driver costs about half a second, so each commit also leaves the
table's new content as an Arrow blob (night state ``identities``) in the same transaction.
The table stays the truth: the blob is used only when it is of this layout, was left by the
last committed run and holds as many rows as the table; otherwise the table is read.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.errors import NotFoundError, StoreError, StoreLockedError, UsageError
from adapters.ingest import object_addresses

DEFAULT_STORE_URL = "sqlite:///dalink.db"
KEY_ENV = "DALINK_PSEUDONYM_KEY"

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("input_fingerprint", sa.String(64)),
    sa.Column("manifest", sa.Text),
)

records = sa.Table(
    "records",
    metadata,
    sa.Column("record_key", sa.String(200), primary_key=True),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Column("org_code", sa.String(40), nullable=False),
    sa.Column("record_id", sa.String(120), nullable=False),
    sa.Column("person_ref", sa.String(40), nullable=False, index=True),
    sa.Column("household_ref", sa.String(40)),
    sa.Column("record_hash", sa.String(32)),
    sa.Column("first_seen_run", sa.String(40), nullable=False),
    # the run that last changed the row (person, household or content); every row is a
    # record of the latest run, absent records are deleted
    sa.Column("changed_run", sa.String(40), nullable=False),
)

person_events = sa.Table(
    "person_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("person_ref", sa.String(40), nullable=False),
    sa.Column("other_ref", sa.String(40)),
)

links = sa.Table(
    "links",
    metadata,
    sa.Column("pair_id", sa.String(16), primary_key=True),
    sa.Column("record_key_l", sa.String(200), nullable=False),
    sa.Column("record_key_r", sa.String(200), nullable=False),
    sa.Column("match_probability", sa.Float, nullable=False),
    sa.Column("match_weight", sa.Float, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("first_seen_run", sa.String(40), nullable=False),
    sa.Column("last_seen_run", sa.String(40), nullable=False),
    sa.UniqueConstraint("record_key_l", "record_key_r", name="uq_links_pair"),
)

review_decisions = sa.Table(
    "review_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pair_id", sa.String(16), nullable=False, index=True),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("reviewer", sa.String(100), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

held_flags = sa.Table(
    "held_flags",
    metadata,
    sa.Column("pair_id", sa.String(16), primary_key=True),
    sa.Column("rule", sa.String(24), primary_key=True),
    sa.Column("recipient_type", sa.String(10), primary_key=True),
    sa.Column("recipient_code", sa.String(40), primary_key=True),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
)

_FLAG_KEY = ("rule", "person_ref", "recipient_type", "recipient_code")

flags = sa.Table(
    "flags",
    metadata,
    sa.Column("rule", sa.String(24), primary_key=True),
    sa.Column("person_ref", sa.String(40), primary_key=True),
    sa.Column("recipient_type", sa.String(10), primary_key=True),
    sa.Column("recipient_code", sa.String(40), primary_key=True),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("local_id", sa.String(120)),
    sa.Column("nhs_number", sa.String(10)),
    sa.Column("summary", sa.Text),
    sa.Column("raised_on", sa.Date, nullable=False),
    sa.Column("last_run_id", sa.String(40), nullable=False),
)

flag_history = sa.Table(
    "flag_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(40), nullable=False, index=True),
    sa.Column("rule", sa.String(24), nullable=False),
    sa.Column("person_ref", sa.String(40), nullable=False),
    sa.Column("recipient_type", sa.String(10), nullable=False),
    sa.Column("recipient_code", sa.String(40), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# What the next night may reuse, one named blob per stage (for example "linkage", see
# linkage.incremental); every blob is replaced by each committed run, in its transaction.
night_state = sa.Table(
    "night_state",
    metadata,
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("state", sa.LargeBinary, nullable=False),
)

run_lock = sa.Table(
    "run_lock",
    metadata,
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
)

FLAG_COLUMNS = (*_FLAG_KEY, "severity", "local_id", "nhs_number", "summary", "raised_on")
#: what ``Store.identities`` returns, in this order
IDENTITY_COLUMNS = ("record_key", "person_ref", "household_ref", "record_hash", "first_seen_run")
#: the night state the store itself keeps: the records table as the last commit left it
IDENTITIES_STATE = "identities"
#: layout version of that blob; bump it when its layout or meaning changes
IDENTITIES_VERSION = 1
_REPEATING = ("household_ref", "first_seen_run")


def identities_to_bytes(frame: pd.DataFrame, *, run_id: str) -> bytes | None:
    """``frame`` (``IDENTITY_COLUMNS``) as an Arrow IPC stream, tagged with its layout
    version and the run that committed it; ``None`` when a value is not text (the table
    is then read the next night, as it would store such a value)."""
    try:
        table = pa.table(
            {
                c: pa.array(_objects(frame[c]), type=pa.string(), from_pandas=True)
                for c in IDENTITY_COLUMNS
            }
        )
    except (pa.ArrowException, TypeError, ValueError):
        return None
    meta = {"version": IDENTITIES_VERSION, "run_id": run_id}
    table = table.replace_schema_metadata({"dalink": json.dumps(meta)})
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue()


def identities_from_bytes(blob: bytes, *, run_id: str) -> pd.DataFrame | None:
    """The frame in ``blob`` as ``Store.identities`` reads it from the table (object
    columns, ``None`` for NULL), or ``None`` when the blob is unreadable, of another layout
    or not left by ``run_id``."""
    try:
        table = pa.ipc.open_stream(pa.py_buffer(blob)).read_all()
        meta = json.loads((table.schema.metadata or {})[b"dalink"])
        if meta.get("version") != IDENTITIES_VERSION or meta.get("run_id") != run_id:
            return None
        if tuple(table.column_names) != IDENTITY_COLUMNS:
            return None
        return pd.DataFrame(
            {
                # One object per distinct value where values repeat (a run id per night,
                # a household's ref per member): cheaper to make, and to hold all night.
                c: table.column(c).to_pandas(deduplicate_objects=True).to_numpy()
                if c in _REPEATING
                else table.column(c).to_numpy(zero_copy_only=False)
                for c in IDENTITY_COLUMNS
            },
            copy=False,
        )
    except (pa.ArrowException, OSError, KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RunState:
    """Everything a finished run hands the store, written in one transaction."""

    run_id: str
    as_of: date
    started_at: datetime
    input_fingerprint: str
    manifest: Mapping[str, Any]
    records: pd.DataFrame
    person_events: pd.DataFrame
    review_links: pd.DataFrame
    held: pd.DataFrame
    flags: pd.DataFrame
    flag_transitions: pd.DataFrame
    #: the records table as this run read it under its lock (``Store.identities``), so the
    #: commit need not read it again; ``None``: read it in the transaction
    records_before: pd.DataFrame | None = None
    #: named blobs for the next night to reuse (``Store.night_state``); all are replaced
    night_state: Mapping[str, bytes] = field(default_factory=dict)


def pair_id(record_key_l: str, record_key_r: str) -> str:
    """A short stable id for a record pair, for a reviewer to type (hash of the ordered keys)."""
    import hashlib

    low, high = sorted((record_key_l, record_key_r))
    return hashlib.sha256(f"{low}\x1f{high}".encode()).hexdigest()[:12]


def pair_ids(left: pd.Series, right: pd.Series) -> pd.Series:
    """`pair_id` over two aligned columns of record keys."""
    return pd.Series(
        [pair_id(a, b) for a, b in zip(left.astype(str), right.astype(str), strict=True)],
        index=left.index,
        dtype="string",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _sqlite_path(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


class Store:
    """The persistent state of dalink, behind SQLAlchemy."""

    def __init__(self, url: str = DEFAULT_STORE_URL) -> None:
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise UsageError(
                f"--store {url!r} is not a database URL; use e.g. sqlite:///dalink.db or "
                "postgresql+psycopg://user@host/db"
            ) from exc
        path = _sqlite_path(parsed)
        if path is not None and path.parent and not path.parent.exists():
            raise UsageError(f"store folder {path.parent} does not exist; create it first")
        self.url = parsed
        try:
            self.engine: Engine = sa.create_engine(parsed, future=True)
            metadata.create_all(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open the store at {parsed.render_as_string(hide_password=True)}: "
                f"{type(exc).__name__}"
            ) from exc
        if path is not None:
            # The store holds identifying fields of review pairs: owner-only, like the outputs.
            os.chmod(path, 0o600)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- the lock --------------------------------------------------------------------------
    @contextmanager
    def lock(self, run_id: str) -> Iterator[None]:
        """Hold the store's run lock; a lock left by a killed process on this host is taken over."""
        host, pid = socket.gethostname(), os.getpid()
        with self.engine.begin() as conn:
            held = conn.execute(sa.select(run_lock).where(run_lock.c.name == "run")).first()
            if held is not None:
                if held.host == host and not _pid_alive(held.pid):
                    conn.execute(sa.delete(run_lock).where(run_lock.c.name == "run"))
                else:
                    raise StoreLockedError(
                        f"another dalink run ({held.run_id}, pid {held.pid} on {held.host}, "
                        f"since {held.acquired_at:%Y-%m-%d %H:%M}) holds this store; wait for "
                        "it to finish"
                    )
            try:
                conn.execute(
                    sa.insert(run_lock).values(
                        name="run", run_id=run_id, host=host, pid=pid, acquired_at=_now()
                    )
                )
            except sa.exc.IntegrityError as exc:
                raise StoreLockedError(
                    "another dalink run took this store's lock just now; wait for it to finish"
                ) from exc
        try:
            yield
        finally:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.delete(run_lock).where(
                        (run_lock.c.name == "run") & (run_lock.c.run_id == run_id)
                    )
                )

    # -- reads at the start of a run -------------------------------------------------------
    def pseudonym_key(self) -> bytes:
        """The key for person_ref/household_ref hashes: the environment's, else the store's own."""
        from_env = os.environ.get(KEY_ENV)
        if from_env:
            return from_env.encode()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(meta.c.value).where(meta.c.name == "pseudonym_key")
            ).first()
            if row is not None:
                return bytes.fromhex(row.value)
            key = secrets.token_bytes(32)
            conn.execute(sa.insert(meta).values(name="pseudonym_key", value=key.hex()))
            return key

    def night_state(self, name: str) -> bytes | None:
        """The blob called ``name`` the last committed run left (``None``: none was left)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(night_state.c.state).where(night_state.c.name == name)
            ).first()
        return None if row is None else bytes(row.state)

    def _frame(self, query: sa.Select[Any]) -> pd.DataFrame:
        with self.engine.connect() as conn:
            result = conn.execute(query)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def identities(self) -> pd.DataFrame:
        """record_key → person_ref, household_ref, record_hash, first_seen_run of the last run
        (``IDENTITY_COLUMNS``; rows in no particular order)."""
        with self.engine.connect() as conn:
            cached = self._cached_identities(conn)
            if cached is not None:
                return cached
            result = conn.execute(sa.select(*(records.c[c] for c in IDENTITY_COLUMNS)))
            return pd.DataFrame(result.fetchall(), columns=list(IDENTITY_COLUMNS))

    def _cached_identities(self, conn: Connection) -> pd.DataFrame | None:
        """The records table as the blob the last commit left holds it, or ``None`` when
        there is no such blob or it cannot be shown to match the table."""
        blob = conn.execute(
            sa.select(night_state.c.run_id, night_state.c.state).where(
                night_state.c.name == IDENTITIES_STATE
            )
        ).first()
        if blob is None:
            return None
        last = conn.execute(
            sa.select(runs.c.run_id)
            .where(runs.c.status == "succeeded")
            .order_by(runs.c.finished_at.desc())
            .limit(1)
        ).scalar()
        if last != blob.run_id:
            return None
        frame = identities_from_bytes(bytes(blob.state), run_id=str(last))
        rows = conn.execute(sa.select(sa.func.count()).select_from(records)).scalar_one()
        return frame if frame is not None and len(frame) == rows else None

    def decisions(self) -> pd.DataFrame:
        """The reviewers' standing decisions: record_key_l, record_key_r, decision."""
        frame = self._frame(
            sa.select(links.c.record_key_l, links.c.record_key_r, links.c.status).where(
                links.c.status.in_(("accepted", "rejected"))
            )
        )
        return frame.rename(columns={"status": "decision"})

    def active_flags(self) -> pd.DataFrame:
        frame = self._frame(sa.select(*[flags.c[c] for c in FLAG_COLUMNS]))
        frame["raised_on"] = pd.to_datetime(frame["raised_on"])
        return frame

    def last_run(self, *, status: str = "succeeded") -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(runs)
                .where(runs.c.status == status)
                .order_by(runs.c.finished_at.desc())
                .limit(1)
            ).first()
        return None if row is None else dict(row._mapping)

    def has_run(self, run_id: str) -> bool:
        """Whether a run committed (used to heal outputs after a kill)."""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(runs.c.run_id).where(
                        (runs.c.run_id == run_id) & (runs.c.status == "succeeded")
                    )
                ).first()
                is not None
            )

    def run(self, run_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
        if row is None:
            raise NotFoundError(f"no run {run_id!r} in this store (see `dalink runs`)")
        return dict(row._mapping)

    def runs(self) -> pd.DataFrame:
        return self._frame(
            sa.select(runs.c.run_id, runs.c.as_of, runs.c.status, runs.c.finished_at).order_by(
                runs.c.started_at
            )
        )

    def records_frame(self) -> pd.DataFrame:
        return self._frame(
            sa.select(
                records.c.source,
                records.c.org_code,
                records.c.record_id,
                records.c.person_ref,
                records.c.household_ref,
            ).order_by(records.c.source, records.c.org_code, records.c.record_id)
        )

    # -- the one write at the end of a run -------------------------------------------------
    def commit_run(self, state: RunState) -> None:
        """Write a finished run's state in one transaction (all or nothing)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.insert(runs).values(
                        run_id=state.run_id,
                        as_of=state.as_of,
                        started_at=state.started_at,
                        finished_at=_now(),
                        status="succeeded",
                        input_fingerprint=state.input_fingerprint,
                        manifest=json.dumps(state.manifest, sort_keys=True, default=str),
                    )
                )
                table = self._write_records(conn, state)
                _insert(conn, person_events, state.person_events.assign(run_id=state.run_id))
                self._write_links(conn, state)
                conn.execute(sa.delete(held_flags))
                _insert(conn, held_flags, state.held.assign(run_id=state.run_id))
                self._write_flags(conn, state)
                _insert(conn, flag_history, state.flag_transitions.assign(run_id=state.run_id))
                # A blob a run did not leave must not outlive it: the next night would
                # otherwise reuse work from an older night than the one before it.
                conn.execute(sa.delete(night_state))
                blobs = dict(state.night_state)
                if IDENTITIES_STATE in blobs:
                    raise ValueError(f"night state {IDENTITIES_STATE!r} is the store's own")
                identities = identities_to_bytes(table, run_id=state.run_id)
                if identities is not None:
                    blobs[IDENTITIES_STATE] = identities
                for name, blob in sorted(blobs.items()):
                    conn.execute(
                        sa.insert(night_state).values(name=name, run_id=state.run_id, state=blob)
                    )
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"could not save run {state.run_id}: {type(exc).__name__}") from exc

    def _write_records(self, conn: Connection, state: RunState) -> pd.DataFrame:
        """Bring the records table to tonight's records, touching only the rows that changed
        (a night changes about 1% of them): gone records are deleted, new and changed ones
        (re)written, the rest left as they are.  Returns the table's new content
        (``IDENTITY_COLUMNS``)."""
        kept = ["record_key", "person_ref", "household_ref", "record_hash"]
        previous = state.records_before
        if previous is None:
            previous = pd.DataFrame(
                conn.execute(
                    sa.select(*(records.c[c] for c in kept), records.c.first_seen_run)
                ).fetchall(),
                columns=[*kept, "first_seen_run"],
            )
        frame = state.records
        frame = frame.reindex(columns=[*frame.columns, *(c for c in kept if c not in frame)])
        # Line tonight's records up with last night's by key (record_key is the primary key,
        # so unique on both sides) and compare column by column on plain arrays.
        at = _positions(previous["record_key"], frame["record_key"])
        known = np.flatnonzero(at >= 0)
        same = np.zeros(len(frame), dtype=bool)
        same[known] = True
        for column in ("person_ref", "household_ref", "record_hash"):
            was = _objects(previous[column])[at[known]]
            same[known] &= _equal_cells(_cells(frame[column])[known], was)
        still_here = np.zeros(len(previous), dtype=bool)
        still_here[at[known]] = True
        change = np.flatnonzero(~same)
        rewrite = frame.iloc[change].copy()
        last = at[change]
        first_seen = np.full(len(change), state.run_id, dtype=object)
        first_seen[last >= 0] = _objects(previous["first_seen_run"])[last[last >= 0]]
        rewrite["first_seen_run"] = first_seen
        stale = [
            *previous.loc[~still_here, "record_key"].tolist(),
            *rewrite.loc[last >= 0, "record_key"].tolist(),
        ]
        for start in range(0, len(stale), 5_000):
            conn.execute(
                sa.delete(records).where(records.c.record_key.in_(stale[start : start + 5_000]))
            )
        rewrite["changed_run"] = state.run_id
        _insert(conn, records, rewrite)
        untouched = still_here.copy()
        untouched[last[last >= 0]] = False
        return pd.DataFrame(
            {
                c: np.concatenate(
                    [
                        _objects(previous[c])[untouched],
                        _objects(rewrite[c]),
                    ]
                )
                for c in IDENTITY_COLUMNS
            },
            copy=False,
        )

    def _write_flags(self, conn: Connection, state: RunState) -> None:
        """Bring the flags table to tonight's active flags, rewriting only the rows that
        changed (most flags continue unchanged from night to night)."""
        values = [c.name for c in flags.columns if c.name != "last_run_id"]
        before = pd.DataFrame(
            conn.execute(sa.select(*(flags.c[c] for c in values))).fetchall(), columns=values
        )
        tonight = state.flags.reindex(columns=values)
        old_rows, new_rows = _row_codes(before, tonight, values)
        gone = before.loc[~np.isin(old_rows, new_rows), list(_FLAG_KEY)]
        if len(gone):
            match = (flags.c[c] == sa.bindparam(f"key_{c}") for c in _FLAG_KEY)
            conn.execute(
                sa.delete(flags).where(*match),
                [{f"key_{c}": v for c, v in row.items()} for row in sql_rows(gone, flags)],
            )
        conn.execute(sa.update(flags).values(last_run_id=state.run_id))
        fresh = tonight.loc[~np.isin(new_rows, old_rows)]
        _insert(conn, flags, fresh.assign(last_run_id=state.run_id))

    def _write_links(self, conn: Connection, state: RunState) -> None:
        """Upsert tonight's pending review links; decided links are never touched by a run."""
        frame = state.review_links
        existing = pd.DataFrame(
            conn.execute(sa.select(links.c.pair_id, links.c.status)).fetchall(),
            columns=["pair_id", "status"],
        )
        decided = set(existing.loc[existing["status"] != "pending", "pair_id"])
        known = set(existing["pair_id"])
        # Pending links the model no longer proposes are retired (nothing to review any more).
        stale = known - decided - set(frame["pair_id"]) if len(frame) else known - decided
        if stale:
            conn.execute(sa.delete(links).where(links.c.pair_id.in_(sorted(stale))))
        if not len(frame):
            return
        fresh = frame[~frame["pair_id"].isin(decided)]
        update = fresh[fresh["pair_id"].isin(known)]
        insert = fresh[~fresh["pair_id"].isin(known)]
        if len(update):
            changed = ("match_probability", "match_weight", "detail")
            conn.execute(
                sa.update(links)
                .where(links.c.pair_id == sa.bindparam("key_pair_id"))
                .values(
                    {
                        **{c: sa.bindparam(f"new_{c}") for c in changed},
                        "last_seen_run": state.run_id,
                    }
                ),
                [
                    {"key_pair_id": row["pair_id"], **{f"new_{c}": row[c] for c in changed}}
                    for row in update.to_dict("records")
                ],
            )
        _insert(
            conn,
            links,
            insert.assign(
                status="pending", first_seen_run=state.run_id, last_seen_run=state.run_id
            ),
        )

    # -- review ----------------------------------------------------------------------------
    def review_links(self, *, status: str | None = None) -> pd.DataFrame:
        query = sa.select(links)
        if status is not None:
            query = query.where(links.c.status == status)
        return self._frame(query)

    def held(self) -> pd.DataFrame:
        return self._frame(sa.select(held_flags))

    def resolve_pair_id(self, prefix: str) -> str:
        """The full pair id for a unique prefix (as git does for commits)."""
        prefix = prefix.strip().lower()
        if not prefix:
            raise NotFoundError("give a review item id (see `dalink review list`)")
        with self.engine.connect() as conn:
            found = (
                conn.execute(
                    sa.select(links.c.pair_id).where(links.c.pair_id.startswith(prefix)).limit(2)
                )
                .scalars()
                .all()
            )
        if not found:
            raise NotFoundError(f"no review item {prefix!r} (see `dalink review list`)")
        if len(found) > 1:
            raise NotFoundError(f"review item id {prefix!r} is ambiguous; give more characters")
        return str(found[0])

    def decide(self, pair: str, *, action: str, reviewer: str, reason: str) -> str:
        """Record accept / reject / undo for a link; returns the link's new status."""
        if action not in ("accept", "reject", "undo"):
            raise UsageError(f"unknown review action {action!r}")
        if action != "undo" and not reason.strip():
            raise UsageError("give a reason (--reason): decisions are audited")
        target = {"accept": "accepted", "reject": "rejected", "undo": "pending"}[action]
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(links.c.status).where(links.c.pair_id == pair)).first()
            if row is None:
                raise NotFoundError(f"no review item {pair!r} (see `dalink review list`)")
            if action == "undo" and row.status == "pending":
                raise UsageError(f"review item {pair} has no decision to undo")
            if action != "undo" and row.status != "pending":
                raise UsageError(
                    f"review item {pair} is already {row.status}; `dalink review undo {pair}` first"
                )
            conn.execute(sa.update(links).where(links.c.pair_id == pair).values(status=target))
            conn.execute(
                sa.insert(review_decisions).values(
                    pair_id=pair,
                    action=action,
                    reviewer=reviewer,
                    decided_at=_now(),
                    reason=reason.strip(),
                )
            )
        return target

    def history(self, *, pair: str | None = None) -> pd.DataFrame:
        query = sa.select(review_decisions).order_by(review_decisions.c.id)
        if pair is not None:
            query = query.where(review_decisions.c.pair_id == pair)
        return self._frame(query)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _objects(values: pd.Series) -> np.ndarray:
    """The column's cells as an object array, without a copy where it holds one already
    (``Series.to_numpy`` would test every cell of a pandas string column for a blank)."""
    return np.asarray(values.array, dtype=object)


def _text(values: pd.Series) -> pa.Array:
    return pa.array(_objects(values), type=pa.string(), from_pandas=True)


def _positions(keys: pd.Series, wanted: pd.Series) -> np.ndarray:
    """For each of ``wanted``, its position in ``keys`` (unique), -1 where absent.  Arrow's
    hash lookup on the text is about twice as fast as pandas' on Python strings."""
    try:
        found = pc.index_in(_text(wanted), value_set=_text(keys))
    except (pa.ArrowException, TypeError, ValueError):  # not all text: pandas decides
        return pd.Index(keys).get_indexer(wanted)
    return found.fill_null(-1).to_numpy().astype(np.intp)


def _cells(values: pd.Series) -> np.ndarray:
    """The column's cells as objects, None for a blank (blanks then compare equal)."""
    cells = _objects(values)
    dtype = values.dtype
    addresses = None
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "python" and dtype.na_value is pd.NA:
        # Such an array holds every blank as the one pd.NA object: found by address, not
        # by testing each cell.
        addresses = object_addresses(cells)
    blank = addresses == id(pd.NA) if addresses is not None else pd.isna(cells)
    if blank.any():
        cells = cells.copy()
        cells[blank] = None
    return cells


def _equal_cells(now: np.ndarray, was: np.ndarray) -> np.ndarray:
    """Per cell, whether ``now`` and ``was`` (objects) hold the same value: two values
    compared, a blank equal to a blank only."""
    try:
        equal = np.asarray(now == was, dtype=bool)
    except TypeError:  # a comparison had no truth value (pd.NA): compare values apart
        blank_now, blank_was = pd.isna(now), pd.isna(was)
        equal = blank_now & blank_was
        filled = ~(blank_now | blank_was)
        equal[filled] = now[filled] == was[filled]
        return equal
    # None == None already; other blanks (nan, NaT) only ever differ
    differ = np.flatnonzero(~equal)
    equal[differ] = pd.isna(now[differ]) & pd.isna(was[differ])
    return equal


def _row_codes(
    before: pd.DataFrame, tonight: pd.DataFrame, columns: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """A code per row of each frame, equal exactly when the rows would be stored alike
    (``columns`` as text, dates as YYYY-MM-DD, a blank only like a blank)."""
    key = np.zeros(len(before) + len(tonight), dtype=np.int64)
    for column in columns:
        both = pd.concat([_as_stored(before[column]), _as_stored(tonight[column])])
        codes, distinct = pd.factorize(both, use_na_sentinel=False)
        key = pd.factorize(key * (len(distinct) + 1) + codes)[0]
    return key[: len(before)], key[len(before) :]


def _as_stored(values: pd.Series) -> pd.Series:
    if values.name == "raised_on":
        values = pd.to_datetime(values).dt.strftime("%Y-%m-%d")
    return values.astype("string")


def sql_rows(frame: pd.DataFrame, table: sa.Table) -> list[dict[str, Any]]:
    """The frame's rows as dicts of the columns the table has, with None for missing values."""
    columns = [c.name for c in table.columns if c.name in frame.columns]
    present = frame.loc[:, columns]
    clean = present.astype(object).mask(present.isna(), None)
    # Column by column, then zipped: to_dict("records") boxes every cell on its own.
    cells = [_native(clean[c].tolist()) for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*cells, strict=True)]


def _native(values: list[Any]) -> list[Any]:
    """NumPy scalars (left by an object column) as Python values, as to_dict gives them."""
    if any(isinstance(v, np.generic) for v in values):
        return [v.item() if isinstance(v, np.generic) else v for v in values]
    return values


def _insert(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Bulk insert (executemany in chunks)."""
    if frame is None or not len(frame):
        return
    rows = sql_rows(frame, table)
    for start in range(0, len(rows), 50_000):
        conn.execute(sa.insert(table), rows[start : start + 50_000])
