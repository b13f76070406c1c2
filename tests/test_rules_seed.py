"""The seed scenario at the rules level, from contract-A tables and contract-B records.

Story (as_of 2026-12-31; synthetic people W and M, one address, household h1):
* 2026-06-14 police incident INC1: W victim, M suspect; W referred to MARAC on 2026-06-20.
* 2026-10-01 incident INC2: W victim, M suspect, breaching his bail conditions (marked on
  M's row only). INC2 is after the MARAC referral, which MARAC-REPEAT needs under the spec's
  exact words ("an incident as victim dated after the latest MARAC referral").
* 2026-12-23 M self-discharges from an MH ward (RMH01); the same evening W attends A&E
  (RAE01) after an overdose (injury intent self-inflicted). Her letter to the GP is sent on
  2026-12-29 22:00, five days late (due 24 Dec 22:00); the practice receives it on
  2027-01-04, after as_of. M's MH discharge letter has not been issued.
* W is registered at A81001 (earlier at A81009, deregistered) and attended RAE02 in 2025;
  M is registered at A81002.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rules import CodeLists, RuleContext, apply_lifecycle, evaluate_all

AS_OF = "2026-12-31"


def _rows(frame: pd.DataFrame) -> list[Any]:
    return list(frame.itertuples())


def _tables() -> dict[str, pd.DataFrame]:
    ae = pd.DataFrame(
        [
            {
                "provider_code": "RAE01",
                "attendance_id": "A-100",
                "local_patient_id": "H-W",
                "arrival_at": "2026-12-23 19:40",
                "departure_at": "2026-12-23 22:00",
                "injury_intent": "276853009",
                "diagnoses": None,
                "chief_complaint": None,
                "safeguarding_concerns": None,
                "gp_letter_sent_at": "2026-12-29 22:00",
            },
            {
                "provider_code": "RAE02",
                "attendance_id": "A-050",
                "local_patient_id": "H-W2",
                "arrival_at": "2025-05-01 10:00",
                "departure_at": "2025-05-01 13:00",
                "injury_intent": None,
                "diagnoses": None,
                "chief_complaint": None,
                "safeguarding_concerns": None,
                "gp_letter_sent_at": "2025-05-01 18:00",
            },
        ]
    )
    mh = pd.DataFrame(
        [
            {
                "provider_code": "RMH01",
                "activity_id": "ADM-1",
                "local_patient_id": "L-M",
                "activity_type": "ADMISSION",
                "start_date": "2026-12-10",
                "codes": None,
                "discharge_method": None,
                "discharge_letter_issued_on": None,
            },
            {
                "provider_code": "RMH01",
                "activity_id": "DIS-1",
                "local_patient_id": "L-M",
                "activity_type": "DISCHARGE",
                "start_date": "2026-12-23",
                "codes": None,
                "discharge_method": "SELF",
                "discharge_letter_issued_on": None,
            },
        ]
    )
    police = pd.DataFrame(
        [
            {
                "force_code": "F01",
                "incident_id": "INC1",
                "nominal_id": "N-W",
                "role": "VICTIM",
                "occurred_at": "2026-06-14 22:10",
                "domestic": True,
                "marac_referred_on": "2026-06-20",
                "bail_conditions": False,
                "bail_breach": False,
            },
            {
                "force_code": "F01",
                "incident_id": "INC1",
                "nominal_id": "N-M",
                "role": "SUSPECT",
                "occurred_at": "2026-06-14 22:10",
                "domestic": True,
                "marac_referred_on": None,
                "bail_conditions": False,
                "bail_breach": False,
            },
            {
                "force_code": "F01",
                "incident_id": "INC2",
                "nominal_id": "N-W",
                "role": "VICTIM",
                "occurred_at": "2026-10-01 23:30",
                "domestic": True,
                "marac_referred_on": None,
                "bail_conditions": False,
                "bail_breach": False,
            },
            {
                "force_code": "F01",
                "incident_id": "INC2",
                "nominal_id": "N-M",
                "role": "SUSPECT",
                "occurred_at": "2026-10-01 23:30",
                "domestic": True,
                "marac_referred_on": None,
                "bail_conditions": True,
                "bail_breach": True,
            },
        ]
    )
    corr = pd.DataFrame(
        [
            {
                "practice_code": "A81001",
                "patient_id": "G-W1",
                "document_id": "D1",
                "sender_code": "RAE01",
                "sender_reference": "A-100",
                "document_date": "2026-12-29",
                "received_date": "2027-01-04",
            },
        ]
    )
    gp_events = pd.DataFrame(
        columns=["practice_code", "patient_id", "event_id", "code", "effective_date"]
    )
    tables = {
        "ae_attendances": ae,
        "mh_activity": mh,
        "police_incidents": police,
        "gp_correspondence": corr,
        "gp_events": gp_events,
    }
    for frame in tables.values():
        for col in frame.columns:
            if col.endswith(("_at", "_date", "_on")):
                frame[col] = pd.to_datetime(frame[col])
    return tables


def _records() -> pd.DataFrame:
    rows = [
        ("W", "gp", "A81001", "G-W1", "G-W1", "9990000018", "2019-03-01", True),
        ("W", "gp", "A81009", "G-W0", "G-W0", "9990000018", "2012-01-01", False),
        ("W", "ae", "RAE01", "A-100", "H-W", "9990000018", "2026-12-23", False),
        ("W", "ae", "RAE02", "A-050", "H-W2", None, "2025-05-01", False),
        ("W", "police", "F01", "N-W", "N-W", None, "2026-10-01", False),
        ("M", "gp", "A81002", "G-M1", "G-M1", "9990000026", "2018-07-01", True),
        ("M", "mh", "RMH01", "L-M", "L-M", "9990000026", "2026-12-23", False),
        ("M", "police", "F01", "N-M", "N-M", None, "2026-10-01", False),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "person_ref",
            "source",
            "org_code",
            "record_id",
            "local_id",
            "nhs_number",
            "address_date",
            "gp_current",
        ],
    )
    frame["record_key"] = frame["source"] + ":" + frame["org_code"] + ":" + frame["record_id"]
    frame["address_date"] = pd.to_datetime(frame["address_date"])
    return frame


def _context() -> RuleContext:
    people = pd.DataFrame(
        {
            "person_ref": ["W", "M"],
            "date_of_birth": pd.to_datetime(["1994-04-04", "1990-09-09"]),
            "household_ref": ["h1", "h1"],
            "communal": [False, False],
            "sensitive": [False, False],
        }
    )
    return RuleContext.build(
        tables=_tables(),
        records=_records(),
        people=people,
        codes=CodeLists.default(),
        as_of=AS_OF,
    )


def _keys(frame: pd.DataFrame, extra: str = "person_ref") -> set[tuple[str, ...]]:
    return {
        (r["rule"], r[extra], r["recipient_type"], r["recipient_code"]) for _, r in frame.iterrows()
    }


def test_seed_flags_reach_exactly_the_right_recipients() -> None:
    results = evaluate_all(_context(), {})
    assert _keys(results.flags) == {
        ("DA-SH", "W", "gp", "A81001"),
        ("DA-SH", "W", "ae", "RAE01"),
        ("DA-SH", "W", "ae", "RAE02"),
        ("HH-CRISIS", "W", "gp", "A81001"),
        ("HH-CRISIS", "M", "gp", "A81002"),
        ("HH-CRISIS", "M", "mh", "RMH01"),
        ("MH-SD-DA", "M", "gp", "A81002"),
        ("MH-SD-DA", "M", "mh", "RMH01"),
        ("MARAC-REPEAT", "W", "police", "F01"),
        ("BAIL-BREACH", "W", "police", "F01"),
        # victim and suspect share the household: they flag each other
        ("HH-DA", "W", "gp", "A81001"),
        ("HH-DA", "M", "gp", "A81002"),
    }
    severity = dict(zip(results.flags["rule"], results.flags["severity"], strict=False))
    assert severity.pop("HH-DA") == "MEDIUM"  # both adults
    assert set(severity.values()) == {"HIGH"}
    assert "A81009" not in set(results.flags["recipient_code"])
    local = {(r.rule, r.recipient_code): r.local_id for r in _rows(results.flags)}
    assert local[("DA-SH", "RAE01")] == "H-W" and local[("DA-SH", "RAE02")] == "H-W2"
    assert local[("MARAC-REPEAT", "F01")] == "N-W"
    summaries = dict(
        zip(
            results.flags["rule"] + results.flags["person_ref"],
            results.flags["summary"],
            strict=False,
        )
    )
    assert summaries["DA-SHW"] == (
        "Self-harm presentation (A&E) on 2026-12-23 with domestic abuse known (police, 2026-10-01)"
    )
    assert summaries["MARAC-REPEATW"] == (
        "Domestic incident as victim (police) on 2026-10-01 after MARAC referral on 2026-06-20"
    )
    for text in results.flags["summary"]:
        assert "overdose" not in text.lower() and "h1" not in text


def test_seed_letter_warnings() -> None:
    warnings = evaluate_all(_context(), {}).warnings
    got = {
        (
            r.rule,
            r.recipient_type,
            r.recipient_code,
            r.reference,
            r.local_id,
            r.hours_late,
            r.holiday_period,
        )
        for r in _rows(warnings)
    }
    assert got == {
        ("LETTER-LATE", "ae", "RAE01", "A-100", "H-W", 120, "Y"),
        # received 2027-01-04 is after as_of: not received; due 30 Dec 22:00
        ("LETTER-NOT-RECEIVED", "gp", "A81001", "A-100", "G-W1", 26, "Y"),
        # not issued; due by the end of 24 Dec
        ("MH-LETTER-LATE", "mh", "RMH01", "DIS-1", "L-M", 168, "Y"),
    }


def test_seed_rerun_for_an_earlier_night_and_lifecycle() -> None:
    early = RuleContext.build(
        tables=_tables(),
        records=_records(),
        people=pd.DataFrame({"person_ref": ["W", "M"], "household_ref": ["h1", "h1"]}),
        codes=CodeLists.default(),
        as_of="2026-12-22",
    )
    before = evaluate_all(early, {}).flags
    # before the crisis night: only the police/household history
    assert set(before["rule"]) == {"MARAC-REPEAT", "BAIL-BREACH", "HH-DA"}
    before = before.assign(status="NEW", raised_on=pd.Timestamp("2026-12-22"))
    now = apply_lifecycle(evaluate_all(_context(), {}).flags, before, as_of=AS_OF)
    status = {(r.rule, r.person_ref, r.recipient_code): (r.status, r.raised_on) for r in _rows(now)}
    assert status[("BAIL-BREACH", "W", "F01")] == ("CONTINUING", pd.Timestamp("2026-12-22"))
    assert status[("DA-SH", "W", "A81001")] == ("NEW", pd.Timestamp(AS_OF))
    assert not (now["status"] == "RESOLVED").any()
