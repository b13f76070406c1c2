"""Flag lifecycle (NEW / CONTINUING / RESOLVED) and HELD flags."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from rules import RulesError, apply_lifecycle, held_flags


def _rows(frame: pd.DataFrame) -> list[Any]:
    return list(frame.itertuples())


def _flags(rows: list[tuple[str, str, str, str | None]], **extra: Any) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "rule": r,
                "severity": "HIGH",
                "person_ref": p,
                "recipient_type": t,
                "recipient_code": c,
                "local_id": f"L-{p}",
                "nhs_number": None,
                "summary": f"{r} {p}",
                "evidence_date": pd.Timestamp("2026-12-01"),
            }
            for r, p, t, c in rows
        ]
    )
    for key, value in extra.items():
        frame[key] = value
    return frame


def _status(frame: pd.DataFrame) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    return {
        (
            r.rule,
            r.person_ref,
            r.recipient_type,
            "" if pd.isna(r.recipient_code) else r.recipient_code,
        ): (r.status, r.raised_on.strftime("%Y-%m-%d"))
        for r in _rows(frame)
    }


def test_new_continuing_resolved() -> None:
    previous = _flags(
        [
            ("DA-SH", "p1", "gp", "A81001"),
            ("FA", "p2", "gp", "A81001"),
            ("HH-DA", "p3", "unrouted", None),
            ("SERIAL", "p4", "police", "F01"),
        ],
        status=["NEW", "CONTINUING", "NEW", "RESOLVED"],
        raised_on=pd.to_datetime(["2026-12-01", "2026-11-01", "2026-12-20", "2026-10-01"]),
    )
    previous.loc[1, "local_id"] = "OLD-LOCAL"
    current = _flags(
        [
            ("DA-SH", "p1", "gp", "A81001"),
            ("HH-DA", "p3", "unrouted", None),
            ("DA-SH", "p1", "ae", "RAE01"),
            ("SERIAL", "p4", "police", "F01"),
        ]
    )
    out = apply_lifecycle(current, previous, as_of="2026-12-31")
    assert _status(out) == {
        ("DA-SH", "p1", "gp", "A81001"): ("CONTINUING", "2026-12-01"),
        ("HH-DA", "p3", "unrouted", ""): ("CONTINUING", "2026-12-20"),
        ("DA-SH", "p1", "ae", "RAE01"): ("NEW", "2026-12-31"),
        ("FA", "p2", "gp", "A81001"): ("RESOLVED", "2026-11-01"),
        # previously RESOLVED is not active: firing again is NEW
        ("SERIAL", "p4", "police", "F01"): ("NEW", "2026-12-31"),
    }
    resolved = out.loc[out["status"] == "RESOLVED"].iloc[0]
    assert resolved["local_id"] == "OLD-LOCAL"


def test_first_run_everything_new() -> None:
    current = _flags([("DA-SH", "p1", "gp", "A81001")])
    out = apply_lifecycle(
        current,
        current.iloc[0:0].assign(raised_on=pd.to_datetime(pd.Series([], dtype="object"))),
        as_of="2026-12-31",
    )
    assert list(out["status"]) == ["NEW"]


def test_held_when_only_provisional_link_explains_it() -> None:
    # p1 and p2 are confirmed persons; the review link would merge them into P12.
    confirmed = _flags([("DA-SH", "p1", "gp", "A81001"), ("FA", "p2", "gp", "A81002")])
    provisional = _flags(
        [
            ("DA-SH", "P12", "gp", "A81001"),  # p1 already has it → sent, not held
            ("DA-SH", "P12", "gp", "A81002"),  # new recipient only via the link → held
            ("FA", "P12", "gp", "A81002"),  # p2 already has it → not held
            ("MH-SD-DA", "P12", "gp", "A81001"),  # new rule only via the link → held
            ("SERIAL", "p5", "police", "F01"),  # unlinked person, same flag confirmed → not held
            ("HH-DA", "p6", "unrouted", None),  # not in confirmed → held
        ]
    )
    confirmed = pd.concat(
        [confirmed, _flags([("SERIAL", "p5", "police", "F01")])], ignore_index=True
    )
    mapping = pd.DataFrame({"person_ref": ["p1", "p2"], "provisional_ref": ["P12", "P12"]})
    held = held_flags(confirmed, provisional, mapping)
    assert {
        (
            r.rule,
            r.person_ref,
            r.recipient_type,
            "" if pd.isna(r.recipient_code) else r.recipient_code,
        )
        for r in _rows(held)
    } == {
        ("DA-SH", "P12", "gp", "A81002"),
        ("MH-SD-DA", "P12", "gp", "A81001"),
        ("HH-DA", "p6", "unrouted", ""),
    }
    assert set(held["status"]) == {"HELD"}


def test_held_from_record_level_maps() -> None:
    confirmed = _flags([("DA-SH", "p2", "gp", "A81001")])
    provisional = _flags([("DA-SH", "p1", "gp", "A81001"), ("FA", "p1", "gp", "A81001")])
    record_person = pd.DataFrame({"record_key": ["gp:A:1", "ae:R:9"], "person_ref": ["p1", "p2"]})
    merged = pd.DataFrame({"record_key": ["gp:A:1", "ae:R:9"], "person_ref": ["p1", "p1"]})
    held = held_flags(confirmed, provisional, merged, record_person=record_person)
    assert list(held["rule"]) == ["FA"]
    with pytest.raises(RulesError, match="record_person="):
        held_flags(confirmed, provisional, merged)
