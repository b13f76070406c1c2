"""The synthetic generator: determinism, the standard layout, truth coverage, planted scenarios."""

from __future__ import annotations

import dataclasses
import filecmp
import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from adapters.spec import TABLES
from sample_data import STANDARD_DIR
from sample_data.generate import (
    FILES,
    RULE_KINDS,
    WARNING_KINDS,
    Corruption,
    generate,
    nhs_number_valid,
)

AS_OF = date(2026, 11, 20)
PERSONS = 2000

_RECORD_KEYS = {
    "gp_patients": ("gp", "practice_code", "patient_id"),
    "ae_attendances": ("ae", "provider_code", "attendance_id"),
    "mh_patients": ("mh", "provider_code", "local_patient_id"),
    "police_nominals": ("police", "force_code", "nominal_id"),
}
# (file, event date column, how a planted future row is named in scenarios.csv)
_EVENT_DATES = (
    ("ae_attendances", "arrival_at", "ae:{provider_code}:{attendance_id}"),
    ("gp_events", "effective_date", "gp_events:{practice_code}:{event_id}"),
    ("mh_activity", "start_date", "mh_activity:{provider_code}:{activity_id}"),
    ("police_incidents", "occurred_at", "police_incidents:{force_code}:{incident_id}"),
    ("gp_patients", "registered_on", "gp:{practice_code}:{patient_id}"),
)


def _read(directory: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(directory / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "a"
    generate(PERSONS, seed=7, out_dir=out, as_of=AS_OF)
    return out


def _all_files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def test_same_seed_gives_identical_files(sample: Path, tmp_path: Path) -> None:
    again = tmp_path / "b"
    generate(PERSONS, seed=7, out_dir=again, as_of=AS_OF)
    files = _all_files(sample)
    assert files == _all_files(again)
    _, mismatch, errors = filecmp.cmpfiles(sample, again, files, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_another_seed_gives_other_people(sample: Path, tmp_path: Path) -> None:
    other = tmp_path / "c"
    generate(PERSONS, seed=8, out_dir=other, as_of=AS_OF)
    a = _read(sample, "gp_patients.csv")["nhs_number"]
    b = _read(other, "gp_patients.csv")["nhs_number"]
    assert len(set(a) & set(b) - {""}) < 5


def test_committed_sample_is_what_the_generator_makes(sample: Path) -> None:
    meta = json.loads((STANDARD_DIR / "dataset.json").read_text())
    assert (meta["seed"], meta["persons"], meta["as_of"]) == (7, PERSONS, AS_OF.isoformat())
    files = _all_files(sample)
    assert files == _all_files(STANDARD_DIR)
    _, mismatch, errors = filecmp.cmpfiles(sample, STANDARD_DIR, files, shallow=False)
    assert (mismatch, errors) == ([], []), "regenerate sample_data/standard"


@pytest.mark.parametrize("stem", sorted(FILES))
def test_every_standard_column_present_and_keys_unique(sample: Path, stem: str) -> None:
    frame = _read(sample, f"{stem}.csv")
    spec = TABLES[stem]
    assert list(frame.columns) == list(FILES[stem])
    assert set(frame.columns) == set(spec.column_names)
    assert not frame.duplicated(list(spec.key)).any()
    for col in spec.required_names:
        assert (frame[col] != "").all(), f"{stem}.{col} has blanks"


def test_nhs_numbers_are_valid_unless_deliberately_corrupted(sample: Path) -> None:
    gp = _read(sample, "gp_patients.csv")["nhs_number"]
    ten = gp[gp.str.fullmatch(r"\d{10}")]
    assert len(ten) > 0.9 * len(gp)
    assert nhs_number_valid(ten).mean() > 0.99
    assert all(value.startswith("9") for value in ten)
    ae = _read(sample, "ae_attendances.csv")["nhs_number"]
    assert 0.1 < (ae == "").mean() < 0.3
    assert ae.str.contains("E9").any() and ae.str.contains(" ").any()


def test_without_corruption_every_record_is_clean(tmp_path: Path) -> None:
    zero: dict[str, Any] = {
        f.name: 0.0 for f in dataclasses.fields(Corruption) if f.type == "float"
    }
    clean = dataclasses.replace(Corruption(), **zero)
    generate(300, seed=1, out_dir=tmp_path, as_of=AS_OF, corruption=clean)
    gp = _read(tmp_path, "gp_patients.csv")
    assert nhs_number_valid(gp["nhs_number"]).all()
    assert gp["postcode"].str.fullmatch(r"[A-Z]{1,2}\d{1,2} \d[A-Z]{2}").all()


def test_nhs_check_digit_known_example() -> None:
    values = pd.Series(["9434765919", "9434765918", "943 476 5919", ""])
    assert nhs_number_valid(values).tolist() == [True, False, False, False]


def test_truth_covers_every_person_bearing_record(sample: Path) -> None:
    keys: set[str] = set()
    for stem, (source, org, rid) in _RECORD_KEYS.items():
        frame = _read(sample, f"{stem}.csv")
        keys |= set(source + ":" + frame[org] + ":" + frame[rid])
    records = _read(sample, "truth/records.csv")
    persons = _read(sample, "truth/persons.csv")
    assert set(records["record_key"]) == keys
    assert records["record_key"].is_unique
    assert set(records["person_id"]) <= set(persons["person_id"])
    by_person = persons.set_index("person_id")["household_id"]
    assert (records["household_id"] == by_person.reindex(records["person_id"]).to_numpy()).all()


def test_households_and_special_addresses(sample: Path) -> None:
    persons = _read(sample, "truth/persons.csv")
    housed = persons[persons["household_id"] != ""]
    sizes = housed.groupby("household_id").size()
    assert (sizes >= 1).all()
    communal = housed[housed["communal"] == "Y"].groupby("household_id").size()
    assert len(communal) >= 1 and (communal >= 12).all() and (communal <= 40).all()
    assert (sizes.drop(communal.index) <= 10).all()
    nfa = persons[persons["household_id"] == ""]
    assert len(nfa) >= 2
    assert (persons["sensitive"] == "Y").sum() >= 2
    postcodes = pd.concat(
        [_read(sample, f"{stem}.csv")["postcode"] for stem in _RECORD_KEYS]
    ).str.upper()
    assert postcodes.str.replace(" ", "").eq("ZZ993VZ").any()
    gp = _read(sample, "gp_patients.csv")
    assert gp["address_1"].str.startswith("Flat ").any()
    assert gp["address_1"].str.fullmatch(r"\d+A .*").any()


def test_twins_share_birthday_and_address_not_given_name(sample: Path) -> None:
    scen = _read(sample, "truth/scenarios.csv")
    persons = _read(sample, "truth/persons.csv").set_index("person_id")
    twins = persons.loc[scen["person_id"][scen["kind"] == "TWINS"]]
    groups = twins.groupby(["household_id", "date_of_birth"]).size()
    assert len(groups) >= 2 and (groups == 2).all()


def test_every_rule_and_warning_is_planted_and_expected(sample: Path) -> None:
    scen = _read(sample, "truth/scenarios.csv")
    expected = _read(sample, "truth/expected.csv")
    for kind in (*RULE_KINDS, *WARNING_KINDS):
        planted = set(scen["person_id"][scen["kind"] == kind])
        fired = set(expected["person_id"][expected["kind"] == kind])
        assert len(planted) >= 2, kind
        assert planted <= fired, f"{kind}: planted but not expected {sorted(planted - fired)}"


def test_seed_scenario(sample: Path) -> None:
    scen = _read(sample, "truth/scenarios.csv")
    seed = scen[scen["kind"] == "SEED"]
    assert len(seed) == 2 and seed["household_id"].nunique() == 1
    sex = _read(sample, "truth/persons.csv").set_index("person_id")["sex"]
    her, him = sorted(seed["person_id"], key=lambda p: sex[p])  # F before M
    assert (sex[her], sex[him]) == ("F", "M")
    expected = _read(sample, "truth/expected.csv")
    fired = set(zip(expected["kind"], expected["person_id"], strict=True))
    for kind in ("DA-SH", "HH-CRISIS", "MARAC-REPEAT", "BAIL-BREACH", "LETTER-LATE", "HH-DA"):
        assert (kind, her) in fired, kind
    for kind in ("MH-SD-DA", "HH-CRISIS", "HH-DA"):
        assert (kind, him) in fired, kind


def test_no_future_dates_except_planted_ones(sample: Path) -> None:
    scen = _read(sample, "truth/scenarios.csv")
    planted = set(scen["ref"][scen["kind"] == "FUTURE_DATED"])
    found: set[str] = set()
    total = 0
    for stem, column, ref in _EVENT_DATES:
        frame = _read(sample, f"{stem}.csv")
        total += len(frame)
        day = frame[column].str[:10]
        future = frame[(day != "") & (day > AS_OF.isoformat())]
        found |= {ref.format_map(row) for row in future.to_dict("records")}
    assert found == planted
    assert 0 < len(found) <= 0.01 * total


def test_messy_rows(tmp_path: Path) -> None:
    generate(300, seed=3, out_dir=tmp_path, as_of=AS_OF, messy=True)
    ae = _read(tmp_path, "ae_attendances.csv")
    assert (ae["attendance_id"] == "").any()
    keyed = ae[ae["attendance_id"] != ""]
    assert keyed.duplicated(["provider_code", "attendance_id"]).any()
    records = _read(tmp_path, "truth/records.csv")
    assert records["record_key"].is_unique


def test_dataset_json(sample: Path) -> None:
    meta = json.loads((sample / "dataset.json").read_text())
    assert meta["seed"] == 7 and meta["persons"] == PERSONS and meta["as_of"] == "2026-11-20"
    for stem in FILES:
        assert meta["row_counts"][stem] == len(_read(sample, f"{stem}.csv"))


def test_bad_options_fail_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 200"):
        generate(50, seed=1, out_dir=tmp_path, as_of=AS_OF)
    with pytest.raises(ValueError, match="nickname"):
        Corruption(nickname=1.5)
    assert not any(tmp_path.iterdir())
