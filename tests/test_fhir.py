"""FHIR Flag bundles validate against the maintained FHIR models (fhir.resources, R4B)."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
from fhir.resources.R4B.bundle import Bundle

from adapters.fhir import NHS_NUMBER_SYSTEM, flag_bundles


def _flags() -> pd.DataFrame:
    base = {
        "severity": "HIGH",
        "raised_on": pd.Timestamp("2026-11-01"),
        "summary": "Self-harm presentation (A&E) with domestic abuse known",
    }
    return pd.DataFrame(
        [
            base
            | {
                "rule": "DA-SH",
                "person_ref": "P1",
                "recipient_type": "gp",
                "recipient_code": "M85001",
                "status": "NEW",
                "local_id": "7",
                "nhs_number": "9434765919",
            },
            base
            | {
                "rule": "FA",
                "person_ref": "P2",
                "recipient_type": "gp",
                "recipient_code": "M85001",
                "status": "RESOLVED",
                "local_id": "8",
                "nhs_number": "9434765870",
            },
            base
            | {
                "rule": "SERIAL",
                "person_ref": "P3",
                "recipient_type": "police",
                "recipient_code": "43",
                "status": "CONTINUING",
                "local_id": "N9",
                "nhs_number": None,
            },
            base
            | {
                "rule": "FA",
                "person_ref": "P4",
                "recipient_type": "unrouted",
                "recipient_code": "",
                "status": "NEW",
                "local_id": None,
                "nhs_number": None,
            },
        ]
    )


def test_bundles_validate_and_carry_the_flag_semantics() -> None:
    bundles = dict(flag_bundles(_flags(), as_of=date(2026, 11, 20), issuer="X24"))
    assert sorted(p.as_posix() for p in bundles) == [
        "gp/M85001/flags.fhir.json",
        "police/43/flags.fhir.json",
    ]
    gp = Bundle.model_validate(json.loads(bundles[next(p for p in bundles if p.parts[0] == "gp")]))
    flags = {e.resource.code.coding[0].code: e.resource for e in gp.entry}
    assert flags["DA-SH"].status == "active"
    assert flags["DA-SH"].subject.identifier.system == NHS_NUMBER_SYSTEM
    assert flags["DA-SH"].subject.identifier.value == "9434765919"
    assert any(c.system == "http://snomed.info/sct" for c in flags["DA-SH"].code.coding)
    assert str(flags["DA-SH"].period.start) == "2026-11-01"
    assert flags["FA"].status == "inactive"
    assert str(flags["FA"].period.end) == "2026-11-20"
    assert flags["FA"].meta.security[0].code == "R"
    assert flags["FA"].author.identifier.value == "X24"
    police = Bundle.model_validate(
        json.loads(bundles[next(p for p in bundles if p.parts[0] == "police")])
    )
    assert police.entry[0].resource.subject.identifier.value == "N9"


def test_bundles_are_deterministic() -> None:
    first = dict(flag_bundles(_flags(), as_of=date(2026, 11, 20)))
    second = dict(flag_bundles(_flags().iloc[::-1], as_of=date(2026, 11, 20)))
    assert first == second
