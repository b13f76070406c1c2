"""SQL write-back: tonight's flags and warnings into a warehouse table, for sources that pull.

One row per (recipient, rule, person, night) in ``dalink_flags`` and per (recipient, rule,
reference, night) in ``dalink_warnings``.  Rows are keyed by the night (``as_of``), not the
run, and written with an upsert: re-running a night replaces its rows instead of adding
copies.  SQLite and PostgreSQL use their native ``INSERT ... ON CONFLICT DO UPDATE``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.errors import StoreError, UsageError
from adapters.store import sql_rows

writeback_metadata = sa.MetaData()

dalink_flags = sa.Table(
    "dalink_flags",
    writeback_metadata,
    sa.Column("night", sa.Date, primary_key=True),
    sa.Column("recipient_type", sa.String(10), primary_key=True),
    sa.Column("recipient_code", sa.String(40), primary_key=True),
    sa.Column("rule", sa.String(24), primary_key=True),
    sa.Column("person_ref", sa.String(40), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("local_id", sa.String(120)),
    sa.Column("nhs_number", sa.String(10)),
    sa.Column("raised_on", sa.Date),
    sa.Column("summary", sa.Text),
    sa.Column("confidential", sa.String(1), nullable=False),
)

dalink_warnings = sa.Table(
    "dalink_warnings",
    writeback_metadata,
    sa.Column("night", sa.Date, primary_key=True),
    sa.Column("recipient_type", sa.String(10), primary_key=True),
    sa.Column("recipient_code", sa.String(40), primary_key=True),
    sa.Column("rule", sa.String(24), primary_key=True),
    sa.Column("reference", sa.String(120), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("local_id", sa.String(120)),
    sa.Column("due_by", sa.DateTime),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("hours_late", sa.Integer),
    sa.Column("holiday_period", sa.String(1)),
)


def _upsert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    if conn.dialect.name not in ("postgresql", "sqlite"):
        raise UsageError(f"--write-db supports SQLite and PostgreSQL, not {conn.dialect.name}")
    keys = [c.name for c in table.primary_key.columns]
    for start in range(0, len(rows), 10_000):
        statement = insert(table).values(rows[start : start + 10_000])
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys},
        )
        conn.execute(statement)


def write_back(
    url: str, *, run_id: str, night: date, flags: pd.DataFrame, warnings: pd.DataFrame
) -> None:
    """Upsert tonight's routed flags (with status) and warnings, in one transaction."""
    try:
        engine = sa.create_engine(url)
    except sa.exc.ArgumentError as exc:
        raise UsageError(f"--write-db {url!r} is not a database URL") from exc
    try:
        writeback_metadata.create_all(engine)
        with engine.begin() as conn:
            flag_rows = flags.assign(night=night, run_id=run_id, confidential="Y")
            warning_rows = warnings[warnings["recipient_type"] != "unrouted"].assign(
                night=night, run_id=run_id
            )
            if "holiday_period" in warning_rows:
                warning_rows = warning_rows.assign(
                    holiday_period=warning_rows["holiday_period"].map(
                        lambda v: v if isinstance(v, str) else ("Y" if v else "N")
                    )
                )
            _upsert(conn, dalink_flags, sql_rows(flag_rows, dalink_flags))
            _upsert(conn, dalink_warnings, sql_rows(warning_rows, dalink_warnings))
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"--write-db: could not write flags: {type(exc).__name__}") from exc
    finally:
        engine.dispose()
