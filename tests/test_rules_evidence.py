"""Evidence derivation from contract-A tables."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rules import EVIDENCE_COLUMNS, CodeLists, derive_evidence


def _rows(frame: pd.DataFrame) -> list[Any]:
    return list(frame.itertuples())


def _dt(frame: pd.DataFrame) -> pd.DataFrame:
    for col in frame.columns:
        if col.endswith(("_at", "_date", "_on")):
            frame[col] = pd.to_datetime(frame[col])
    return frame


def _tables() -> dict[str, pd.DataFrame]:
    return {
        "gp_events": _dt(
            pd.DataFrame(
                [
                    {
                        "practice_code": "A1",
                        "patient_id": "g1",
                        "event_id": "e1",
                        "code": "412732008",
                        "effective_date": "2026-05-01",
                    },
                    {
                        "practice_code": "A1",
                        "patient_id": "g1",
                        "event_id": "e2",
                        "code": "881081000000100",
                        "effective_date": "2026-05-02",
                    },
                    {
                        "practice_code": "A1",
                        "patient_id": "g1",
                        "event_id": "e3",
                        "code": "248062006",
                        "effective_date": "2027-01-02",
                    },  # after as_of
                ]
            )
        ),
        "ae_attendances": _dt(
            pd.DataFrame(
                [
                    {
                        "provider_code": "R1",
                        "attendance_id": "a1",
                        "arrival_at": "2026-12-01 10:00",
                        "injury_intent": None,
                        "chief_complaint": None,
                        "diagnoses": "123|287183002",
                        "safeguarding_concerns": "999|720428004",
                    },
                    {
                        "provider_code": "R1",
                        "attendance_id": "a1",
                        "arrival_at": "2026-12-05 10:00",
                        "injury_intent": "276853009",
                        "chief_complaint": None,
                        "diagnoses": None,
                        "safeguarding_concerns": None,
                    },  # duplicate key: first kept
                    {
                        "provider_code": "R1",
                        "attendance_id": "a2",
                        "arrival_at": "2026-12-31 23:59",
                        "injury_intent": None,
                        "chief_complaint": None,
                        "diagnoses": None,
                        "safeguarding_concerns": None,
                    },
                    {
                        "provider_code": "R1",
                        "attendance_id": "zz",
                        "arrival_at": "2026-12-02 10:00",
                        "injury_intent": "276853009",
                        "chief_complaint": None,
                        "diagnoses": None,
                        "safeguarding_concerns": None,
                    },  # not linked to anyone
                ]
            )
        ),
        "mh_activity": _dt(
            pd.DataFrame(
                [
                    {
                        "provider_code": "M1",
                        "activity_id": "m1",
                        "local_patient_id": "l1",
                        "activity_type": "DISCHARGE",
                        "start_date": "2026-12-23",
                        "codes": "",
                        "discharge_method": "SELF",
                    },
                    {
                        "provider_code": "M1",
                        "activity_id": "m2",
                        "local_patient_id": "l1",
                        "activity_type": "CONTACT",
                        "start_date": "2026-12-20",
                        "codes": "130968006",
                        "discharge_method": None,
                    },
                ]
            )
        ),
        "police_incidents": _dt(
            pd.DataFrame(
                [
                    {
                        "force_code": "F1",
                        "incident_id": "i1",
                        "nominal_id": "n1",
                        "role": "VICTIM",
                        "occurred_at": "2026-10-01 23:00",
                        "domestic": True,
                        "marac_referred_on": "2026-10-05",
                        "bail_breach": False,
                    },
                    {
                        "force_code": "F1",
                        "incident_id": "i1",
                        "nominal_id": "n2",
                        "role": "SUSPECT",
                        "occurred_at": "2026-10-01 23:00",
                        "domestic": True,
                        "marac_referred_on": None,
                        "bail_breach": True,
                    },
                    {
                        "force_code": "F1",
                        "incident_id": "i1",
                        "nominal_id": "n3",
                        "role": "WITNESS",
                        "occurred_at": "2026-10-01 23:00",
                        "domestic": True,
                        "marac_referred_on": None,
                        "bail_breach": False,
                    },
                    {
                        "force_code": "F1",
                        "incident_id": "i2",
                        "nominal_id": "n1",
                        "role": "VICTIM",
                        "occurred_at": "2026-11-01 10:00",
                        "domestic": False,
                        "marac_referred_on": None,
                        "bail_breach": False,
                    },
                ]
            )
        ),
    }


RECORD_PERSON = {
    "gp:A1:g1": "p1",
    "ae:R1:a1": "p1",
    "ae:R1:a2": "p1",
    "mh:M1:l1": "p2",
    "police:F1:n1": "p1",
    "police:F1:n2": "p2",
    "police:F1:n3": "p3",
}


def _kinds() -> tuple[pd.DataFrame, set[tuple[str, str, str, str]]]:
    ev = derive_evidence(_tables(), RECORD_PERSON, codes=CodeLists.default(), as_of="2026-12-31")
    return ev, {(r.person_ref, r.kind, r.source, r.date.strftime("%Y-%m-%d")) for r in _rows(ev)}


def test_evidence_kinds_per_source() -> None:
    ev, got = _kinds()
    assert list(ev.columns) == list(EVIDENCE_COLUMNS)
    assert got == {
        ("p1", "DA_VICTIM", "gp", "2026-05-01"),
        ("p1", "DA_CHILD", "gp", "2026-05-02"),
        ("p1", "AE_ATTENDANCE", "ae", "2026-12-01"),
        ("p1", "DA_VICTIM", "ae", "2026-12-01"),
        ("p1", "SELF_HARM", "ae", "2026-12-01"),
        ("p1", "CRISIS", "ae", "2026-12-01"),
        ("p1", "AE_ATTENDANCE", "ae", "2026-12-31"),
        ("p2", "MH_SELF_DISCHARGE", "mh", "2026-12-23"),
        ("p2", "CRISIS", "mh", "2026-12-23"),
        ("p2", "SELF_HARM", "mh", "2026-12-20"),
        ("p2", "CRISIS", "mh", "2026-12-20"),
        ("p1", "DA_VICTIM", "police", "2026-10-01"),
        ("p1", "CRISIS", "police", "2026-10-01"),
        ("p1", "DA_VICTIM", "police", "2026-10-05"),  # MARAC referral
        ("p2", "DA_SUSPECT", "police", "2026-10-01"),
        ("p2", "CRISIS", "police", "2026-10-01"),
    }


def test_police_details_carried() -> None:
    ev, _ = _kinds()
    victim = ev.loc[(ev["kind"] == "DA_VICTIM") & (ev["source"] == "police")]
    marac = victim.loc[victim["basis"] == "marac"].iloc[0]
    assert marac["marac_referred_on"] == pd.Timestamp("2026-10-05")
    incident = victim.loc[victim["basis"] == "incident"].iloc[0]
    assert incident["incident_id"] == "i1" and incident["role"] == "VICTIM"
    assert bool(incident["bail_breach"])  # marked on the suspect's row, true for the incident
    assert incident["record_key"] == "police:F1:n1" and incident["org_code"] == "F1"


def test_as_of_cuts_events() -> None:
    ev = derive_evidence(_tables(), RECORD_PERSON, codes=CodeLists.default(), as_of="2026-12-30")
    assert ev["date"].max() <= pd.Timestamp("2026-12-30")
    assert "a2" not in set(ev["reference"])


def test_code_list_override() -> None:
    codes = CodeLists.from_config({"da": ["999"]})
    ev = derive_evidence(_tables(), RECORD_PERSON, codes=codes, as_of="2026-12-31")
    da = ev.loc[(ev["kind"] == "DA_VICTIM") & (ev["source"] != "police")]
    assert set(da["source"]) == {"ae"}  # 999 is in the A&E concerns; the GP code no longer is
