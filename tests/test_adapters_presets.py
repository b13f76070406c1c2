"""Each preset on a small file in its real layout (tests/fixtures/adapters/<preset>/)."""

from __future__ import annotations

from pathlib import Path

from adapters.config import load_config_section
from adapters.ingest import load_extracts

FIXTURES = Path(__file__).parent / "fixtures" / "adapters"


def test_emis() -> None:
    options = {"preset": "emis", "preset_options": {"practice_code": "M85001"}}
    config = load_config_section({"tables": {"gp_patients": options, "gp_events": options}})
    extracts = load_extracts(FIXTURES / "emis", config)

    patients = extracts.tables["gp_patients"]
    assert patients["patient_id"].tolist() == ["{A1B2-0001}", "{A1B2-0002}"]
    assert patients["practice_code"].unique().tolist() == ["M85001"]
    assert patients["postcode"].tolist() == ["CV11 4AA", "CV11 4AA"]
    assert patients["address_1"].tolist()[0] == "Flat 2"
    assert patients["address_2"].tolist()[0] == "14 Mill Lane"
    assert str(patients["deregistered_on"][1].date()) == "2023-03-01"
    assert patients["sensitive"].tolist() == [False, False]

    events = extracts.tables["gp_events"]
    assert events[["event_id", "code", "term"]].values.tolist() == [
        ["{OBS-1}", "704521005", "Domestic abuse victim"],
        ["{OBS-2}", "248062006", "Self-harm"],
    ]
    held = extracts.quarantine[["file", "line", "reason", "record_id"]].values.tolist()
    assert held == [
        ["Admin_Patient.csv", 4, "missing required value: date_of_birth", "{A1B2-0003}"],
        ["CareRecord_Observation.csv", 4, "missing required value: code", "{OBS-3}"],
    ]
    reports = {r.file: r for r in extracts.files}
    assert reports["Admin_Patient.csv"].unknown_columns == ("OrganisationGuid",)
    assert reports["Coding_ClinicalCode.csv"].rows_loaded == 2
    for report in reports.values():
        assert report.rows_read == report.rows_loaded + report.rows_quarantined


def test_ecds_with_pas_names_mapped() -> None:
    config = load_config_section(
        {
            "tables": {
                "ae_attendances": {
                    "preset": "ecds",
                    "columns": {"PAS_Forename": "given_name", "PAS_Surname": "family_name"},
                }
            }
        }
    )
    extracts = load_extracts(FIXTURES / "ecds", config)
    ae = extracts.tables["ae_attendances"]
    assert ae["attendance_id"].tolist() == ["ATT-1", "ATT-2"]
    assert ae["given_name"].tolist() == ["Olivia", "Liam"]
    assert [str(t) for t in ae["arrival_at"]] == ["2023-12-24 23:10:00", "2023-12-26 00:00:00"]
    assert str(ae["departure_at"][0]) == "2023-12-25 02:30:00"
    assert ae["diagnoses"].tolist()[0] == "125605004|282100009"
    assert ae["injury_intent"].tolist()[0] == "276853009"
    assert ae["sex"].tolist() == ["F", "M"]
    assert ae["postcode"].tolist() == ["CV11 4AA", "CV12 6AB"]
    assert extracts.quarantine.empty
    report = next(r for r in extracts.files if r.file == "ECDS.csv")
    assert report.unknown_columns == ()


def test_mhsds() -> None:
    names = {"forename": "given_name", "surname": "family_name"}
    config = load_config_section(
        {
            "tables": {
                "mh_patients": {"preset": "mhsds", "columns": names},
                "mh_activity": {"preset": "mhsds"},
            }
        }
    )
    extracts = load_extracts(FIXTURES / "mhsds", config)
    patients = extracts.tables["mh_patients"]
    assert patients[
        ["provider_code", "local_patient_id", "gp_practice_code", "sex"]
    ].values.tolist() == [
        ["RYG", "MH-1", "M85001", "M"],
        ["RYG", "MH-2", "V81999", "F"],
    ]
    activity = extracts.tables["mh_activity"]
    rows = activity[["activity_id", "local_patient_id", "activity_type", "discharge_method"]]
    assert rows.fillna("-").values.tolist() == [
        ["REF-SR-1", "MH-1", "REFERRAL", "-"],
        ["REF-SR-2", "MH-2", "REFERRAL", "-"],
        ["ADM-HPS-1", "MH-1", "ADMISSION", "-"],
        ["ADM-HPS-2", "MH-2", "ADMISSION", "-"],
        ["DIS-HPS-1", "MH-1", "DISCHARGE", "SELF"],
    ]
    discharge = activity.iloc[4]
    assert str(discharge["start_date"].date()) == "2023-12-24"
    assert str(discharge["discharge_letter_issued_on"].date()) == "2024-01-20"
    assert extracts.quarantine.empty
    reports = {r.file: r for r in extracts.files}
    assert reports["MHS501HospProvSpell.csv"].rows_loaded == 3  # derived rows
    assert reports["MHS002GP.csv"].rows_read == 3
