"""The [input] config section: defaults, overrides and every validation message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.config import InputConfig, load_config_section
from adapters.errors import ConfigError


def test_defaults_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        '[input]\ndate_format = "dmy"\n'
        '[input.tables.gp_patients]\npreset = "emis"\nencoding = "cp1252"\n'
        '[input.tables.gp_patients.preset_options]\npractice_code = "M85001"\n'
        '[input.tables.ae_attendances.columns]\n" PAS_Forename " = "given_name"\n'
    )
    config = InputConfig.from_toml(path)
    assert config.date_format_for("gp_events") == "dmy"
    assert config.encoding_for("gp_patients") == "cp1252"
    assert config.encoding_for("gp_events") == "auto"
    assert config.table("gp_patients").preset_options["practice_code"] == "M85001"
    assert dict(config.table("ae_attendances").columns) == {"pas_forename": "given_name"}
    assert InputConfig.from_toml(tmp_path / "run.toml") == config
    assert InputConfig() == load_config_section({})


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"colour": "blue"}, r"\[input\]: unknown key\(s\) colour; allowed: date_format"),
        ({"date_format": "mdy"}, "date_format = 'mdy'; allowed: iso, dmy"),
        ({"encoding": "latin-1"}, "allowed: auto, utf-8, cp1252"),
        ({"tables": {"gp_patient": {}}}, "unknown table\\(s\\) gp_patient; tables: gp_patients"),
        ({"tables": {"gp_events": {"fiel": "x.csv"}}}, "unknown key\\(s\\) fiel"),
        ({"tables": {"gp_events": {"preset": "tpp"}}}, "known presets: emis, ecds, mhsds"),
        ({"tables": {"gp_events": {"preset": "ecds"}}}, "presets for gp_events: emis"),
        ({"tables": {"gp_events": {"preset": "emis"}}}, "needs preset_options: practice_code"),
        (
            {"tables": {"gp_events": {"preset": "emis", "preset_options": {"x": "1"}}}},
            "unknown key\\(s\\) x; allowed: practice_code, coding_file",
        ),
        ({"tables": {"gp_events": {"preset_options": {"x": "1"}}}}, "without a preset"),
        (
            {"tables": {"gp_events": {"columns": {"Code": "snomed"}}}},
            "unknown standard column\\(s\\) snomed; standard columns of gp_events: practice_code",
        ),
        (
            {"tables": {"gp_events": {"columns": {"a": "code", "b": "code"}}}},
            "several source columns to code",
        ),
        ({"tables": {"gp_events": {"file": "../x.csv"}}}, "file name inside the input folder"),
    ],
)
def test_invalid_config(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config_section(section)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[input\n")
    with pytest.raises(ConfigError, match=r"run\.toml: not valid TOML"):
        InputConfig.from_toml(path)
