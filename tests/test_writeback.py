"""SQL write-back: one row per recipient, rule, person and night; re-runs upsert."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from adapters.writeback import write_back


def _flags(status: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "rule": "DA-SH",
                "person_ref": "P1",
                "recipient_type": "gp",
                "recipient_code": "M85001",
                "severity": "HIGH",
                "status": status,
                "local_id": "1",
                "nhs_number": "9434765919",
                "raised_on": pd.Timestamp("2026-11-20"),
                "summary": "Self-harm presentation (A&E)",
            }
        ]
    )


def _warnings() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "rule": "LETTER-LATE",
                "recipient_type": "ae",
                "recipient_code": "RKB",
                "person_ref": "P1",
                "reference": "A1",
                "local_id": "H1",
                "due_by": pd.Timestamp("2026-11-19 10:00"),
                "sent_at": pd.NaT,
                "hours_late": 37,
                "holiday_period": "N",
            }
        ]
    )


def test_rerun_of_a_night_upserts_instead_of_duplicating(store_url: str) -> None:
    night = date(2026, 11, 20)
    write_back(store_url, run_id="r1", night=night, flags=_flags("NEW"), warnings=_warnings())
    write_back(
        store_url, run_id="r2", night=night, flags=_flags("CONTINUING"), warnings=_warnings()
    )
    write_back(
        store_url,
        run_id="r3",
        night=date(2026, 11, 21),
        flags=_flags("CONTINUING"),
        warnings=_warnings(),
    )
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        flags = conn.execute(
            sa.text("SELECT night, run_id, status FROM dalink_flags ORDER BY night")
        ).all()
        warnings = conn.execute(sa.text("SELECT count(*) FROM dalink_warnings")).scalar_one()
    engine.dispose()
    assert [(str(n)[:10], r, s) for n, r, s in flags] == [
        ("2026-11-20", "r2", "CONTINUING"),
        ("2026-11-21", "r3", "CONTINUING"),
    ]
    assert warnings == 2
