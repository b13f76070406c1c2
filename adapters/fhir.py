"""FHIR R4 Bundles of ``Flag`` resources, one per recipient, beside its flags.csv.

* ``status``: ``active`` for NEW and CONTINUING, ``inactive`` for RESOLVED.
* ``category``: HL7 flag-category ``safety``; ``code``: the dalink rule as a coding in dalink's
  own code system, plus SNOMED CT where a concept fits the rule (self-harm for DA-SH).
* ``subject``: the patient by NHS number identifier (the recipient's local id where there is
  no NHS number, e.g. police nominals).
* ``period.start`` = raised_on (``period.end`` = the night a flag was resolved);
  ``author`` = the issuing organisation (ODS code from the run config).
* ``meta.security`` = restricted (v3 Confidentiality ``R``): keep out of patient online access.

The JSON is deterministic (ids are hashes of the flag key; no wall-clock timestamps) so
reruns are byte-identical.  Tests validate every bundle with ``fhir.resources`` (its R4B
models: ``Flag`` and ``Bundle`` are unchanged between R4 and R4B).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
RULE_SYSTEM = "https://dalink.invalid/fhir/CodeSystem/safeguarding-rule"
LOCAL_ID_SYSTEM = "https://dalink.invalid/fhir/Id/local"
SNOMED = "http://snomed.info/sct"
# Only where a SNOMED CT concept says what the rule says; the rule coding carries the rest.
RULE_SNOMED = {"DA-SH": ("248062006", "Self-injurious behaviour")}
DEFAULT_ISSUER = "X24"


def _uuid(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _flag(row: Any, *, as_of: date, issuer: str) -> dict[str, Any]:
    codings = [{"system": RULE_SYSTEM, "code": row.rule, "display": row.rule_name}]
    if row.rule in RULE_SNOMED:
        code, display = RULE_SNOMED[row.rule]
        codings.append({"system": SNOMED, "code": code, "display": display})
    if isinstance(row.nhs_number, str) and row.nhs_number:
        identifier = {"system": NHS_NUMBER_SYSTEM, "value": row.nhs_number}
    else:
        identifier = {
            "system": f"{LOCAL_ID_SYSTEM}/{row.recipient_type}/{row.recipient_code}",
            "value": str(row.local_id),
        }
    period: dict[str, str] = {"start": pd.Timestamp(row.raised_on).date().isoformat()}
    if row.status == "RESOLVED":
        period["end"] = as_of.isoformat()
    return {
        "resourceType": "Flag",
        "id": _uuid(row.rule, row.person_ref, row.recipient_type, row.recipient_code),
        "meta": {
            "security": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                    "code": "R",
                    "display": "restricted",
                }
            ]
        },
        "status": "inactive" if row.status == "RESOLVED" else "active",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                        "code": "safety",
                        "display": "Safety",
                    }
                ]
            }
        ],
        "code": {"coding": codings, "text": f"{row.severity}: {row.summary}"},
        "subject": {"identifier": identifier},
        "period": period,
        "author": {"identifier": {"system": ODS_SYSTEM, "value": issuer}},
    }


def flag_bundles(
    flags: pd.DataFrame, *, as_of: date, issuer: str = DEFAULT_ISSUER
) -> Iterator[tuple[Path, str]]:
    """(relative path, JSON text) of one Bundle per recipient; unrouted flags get none."""
    routed = flags[flags["recipient_type"] != "unrouted"]
    if "rule_name" not in routed.columns:
        routed = routed.assign(rule_name=routed["rule"])
    for (kind, code), group in routed.groupby(["recipient_type", "recipient_code"], sort=True):
        ordered = group.sort_values(["rule", "person_ref"])
        bundle = {
            "resourceType": "Bundle",
            "id": _uuid("bundle", str(kind), str(code), as_of.isoformat()),
            "type": "collection",
            "entry": [
                {
                    "fullUrl": f"urn:uuid:{flag['id']}",
                    "resource": flag,
                }
                for flag in (
                    _flag(row, as_of=as_of, issuer=issuer)
                    for row in ordered.itertuples(index=False)
                )
            ],
        }
        text = json.dumps(bundle, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        yield Path(str(kind)) / str(code) / "flags.fhir.json", text
