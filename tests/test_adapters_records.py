"""Person records (contract B) built from loaded tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from adapters.ingest import load_extracts
from adapters.records import PERSON_COLUMNS, add_record_key, person_records

AS_OF = date(2024, 1, 1)

FILES = {
    "gp_patients.csv": (
        "practice_code,patient_id,given_name,family_name,date_of_birth,registered_on,"
        "deregistered_on,sensitive,uprn\n"
        "M85001,P1,Olivia,Harper,1990-04-12,2015-06-01,,Y,100070\n"
        "M85001,P2,Jack,Harper,1988-11-30,2015-06-01,2023-03-01,,\n"
        "M85001,P3,Amelia,Price,2000-01-01,2024-01-02,,,\n"  # registers after as_of
        "M85001,P4,Isla,Price,2000-01-01,2024-01-01,2024-01-01,,\n"  # deregistered on as_of
    ),
    "ae_attendances.csv": (
        "provider_code,attendance_id,local_patient_id,given_name,family_name,date_of_birth,"
        "arrival_at,gp_practice_code\n"
        "RKB,A1,H1,Olivia,Harper,1990-04-12,2023-12-24T23:10,M85001\n"
        "RKB,A2,,Liam,Osborne,1975-02-01,2024-01-01T23:59,V81998\n"
        "RKB,A3,,Liam,Osborne,1975-02-01,2024-01-02T00:00,\n"  # arrives after as_of
    ),
    "mh_patients.csv": (
        "provider_code,local_patient_id,given_name,family_name,date_of_birth,gp_practice_code\n"
        "RYG,M1,Jack,Harper,1988-11-30,V81999\n"
        "RYG,M2,Sophie,Turner,2001-07-19,M85001\n"
    ),
    "mh_activity.csv": (
        "provider_code,activity_id,local_patient_id,activity_type,start_date\n"
        "RYG,X1,M1,REFERRAL,2023-11-01\n"
        "RYG,X2,M1,ADMISSION,2023-12-20\n"
        "RYG,X3,M1,CONTACT,2024-02-01\n"  # after as_of: not an address date
    ),
    "police_nominals.csv": "force_code,nominal_id,given_name,family_name\nWM,N1,Jack,Harper\n",
    "police_incidents.csv": (
        "force_code,incident_id,nominal_id,role,occurred_at,domestic\n"
        "WM,I1,N1,SUSPECT,2023-10-01T22:00,Y\n"
        "WM,I2,N1,SUSPECT,2023-12-24T23:00,Y\n"
    ),
}


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    tmp_path = tmp_path_factory.mktemp("people")
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    records = person_records(load_extracts(tmp_path).tables, AS_OF)
    return records.set_index("record_key", drop=False)


def test_columns_and_keys(people: pd.DataFrame) -> None:
    assert tuple(people.columns) == PERSON_COLUMNS
    assert people.index.is_unique
    assert sorted(people.index) == [
        "ae:RKB:A1",
        "ae:RKB:A2",
        "gp:M85001:P1",
        "gp:M85001:P2",
        "gp:M85001:P4",
        "mh:RYG:M1",
        "mh:RYG:M2",
        "police:WM:N1",
    ]


@pytest.mark.parametrize(
    ("key", "column", "expected"),
    [
        ("gp:M85001:P1", "gp_current", True),
        ("gp:M85001:P2", "gp_current", False),
        ("gp:M85001:P4", "gp_current", False),
        ("ae:RKB:A1", "gp_current", False),
        ("gp:M85001:P1", "sensitive", True),
        ("gp:M85001:P2", "sensitive", False),
        ("gp:M85001:P1", "uprn", "100070"),
        ("gp:M85001:P1", "local_id", "P1"),
        ("ae:RKB:A1", "local_id", "H1"),
        ("ae:RKB:A2", "local_id", "A2"),  # no hospital number: attendance id
        ("mh:RYG:M1", "local_id", "M1"),
        ("ae:RKB:A1", "gp_practice_code", "M85001"),
        ("ae:RKB:A2", "gp_practice_code", None),  # V81998 dropped
        ("mh:RYG:M1", "gp_practice_code", None),  # V81999 dropped
        ("mh:RYG:M2", "gp_practice_code", "M85001"),
        ("gp:M85001:P1", "gp_practice_code", None),
        ("gp:M85001:P1", "address_date", "2015-06-01 00:00:00"),
        ("ae:RKB:A1", "address_date", "2023-12-24 23:10:00"),
        ("mh:RYG:M1", "address_date", "2023-12-20 00:00:00"),
        ("mh:RYG:M2", "address_date", None),
        ("police:WM:N1", "address_date", "2023-12-24 23:00:00"),
        ("police:WM:N1", "source", "police"),
        ("mh:RYG:M2", "org_code", "RYG"),
    ],
)
def test_person_values(people: pd.DataFrame, key: str, column: str, expected: object) -> None:
    value = people.at[key, column]
    if isinstance(value, pd.Timestamp):
        value = str(value)
    assert (None if value is pd.NaT or value is pd.NA else value) == expected


def test_empty_tables_give_empty_frame_with_columns() -> None:
    records = person_records({}, AS_OF)
    assert records.empty
    assert tuple(records.columns) == PERSON_COLUMNS


def test_event_tables_get_the_person_key(tmp_path: Path) -> None:
    (tmp_path / "police_incidents.csv").write_text(FILES["police_incidents.csv"])
    incidents = load_extracts(tmp_path).tables["police_incidents"]
    assert add_record_key("police_incidents", incidents)["record_key"].tolist() == [
        "police:WM:N1",
        "police:WM:N1",
    ]
