"""Every rule's fixture file of named cases (tests/fixtures/rules/<ID>.toml), one test.

Case format (TOML; file-level ``as_of``, ``people``, ``holdings`` are defaults for its cases):

* ``people``: inline tables ``{person="p1", dob="1990-01-01", household="h1",
  communal=false, sensitive=false}``;
* ``holdings``: strings ``"p1 gp A81001"`` (person, type, code[, local_id]);
* ``evidence``: inline tables with ``person, kind, date, source`` and optionally ``org, ref,
  role, incident, bail_breach, marac, basis`` (defaults below);
* tables (``ae_attendances``, ``mh_activity``, ``gp_correspondence``): contract-A rows; a
  ``person`` key names the linked person of the row's record;
* ``params``: overrides for this rule;
* ``expect``: rows compared as a multiset on the keys they give: ``person``, ``to``
  (``"gp:A81001"`` or ``"unrouted"``), ``severity``, ``reference``, ``hours_late``,
  ``holiday_period``, ``due_by``, ``sent_at``, ``local_id``; ``summary`` (exact, optional
  per case via ``summary``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rules import RULES_BY_ID, RuleContext, resolve_parameters, route, route_warnings

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
_ORG = {"gp": "A81001", "ae": "RAE01", "mh": "RMH01", "police": "F01"}
_TABLES = ("ae_attendances", "mh_activity", "gp_correspondence")
_RECORD_KEY = {
    "ae_attendances": ("ae", "provider_code", "attendance_id"),
    "mh_activity": ("mh", "provider_code", "local_patient_id"),
    "gp_correspondence": ("gp", "practice_code", "patient_id"),
}


def _cases() -> list[Any]:
    out = []
    for path in sorted(FIXTURES.glob("*.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        for case in doc["case"]:
            merged = {k: v for k, v in doc.items() if k not in ("case", "rule")}
            merged.update(case)
            out.append(pytest.param(doc["rule"], merged, id=f"{doc['rule']}: {case['name']}"))
    return out


def _evidence(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = []
    for i, row in enumerate(rows):
        source = row["source"]
        kind = row["kind"]
        basis = row.get("basis")
        if basis is None and source == "police" and kind.startswith("DA_"):
            basis = "marac" if "marac" in row else "incident"
        if basis is None and kind == "CRISIS":
            basis = {"police": "police_incident"}.get(source, "self_harm")
        ref = row.get("ref", f"e{i}")
        out.append(
            {
                "person_ref": row["person"],
                "kind": kind,
                "date": row.get("date", row.get("marac")),
                "source": source,
                "org_code": row.get("org", _ORG[source]),
                "record_key": f"{source}:{row.get('org', _ORG[source])}:{row['person']}",
                "reference": ref,
                "role": row.get("role"),
                "incident_id": row.get("incident", ref if source == "police" else None),
                "bail_breach": row.get("bail_breach", False),
                "marac_referred_on": row.get("marac"),
                "basis": basis,
            }
        )
    return pd.DataFrame(out)


def _context(case: dict[str, Any]) -> RuleContext:
    people = pd.DataFrame(
        [
            {
                "person_ref": p["person"],
                "date_of_birth": p.get("dob"),
                "household_ref": p.get("household"),
                "communal": p.get("communal", False),
                "sensitive": p.get("sensitive", False),
            }
            for p in case.get("people", [])
        ]
    )
    held = []
    for spec in case.get("holdings", []):
        person, rtype, code, *local = spec.split()
        held.append(
            {
                "person_ref": person,
                "recipient_type": rtype,
                "recipient_code": code,
                "local_id": local[0] if local else f"{rtype}-{person}",
                "nhs_number": None,
            }
        )
    tables, record_person = {}, {}
    for name in _TABLES:
        rows = [dict(r) for r in case.get(name, [])]
        if not rows:
            continue
        prefix, org, rid = _RECORD_KEY[name]
        for row in rows:
            person = row.pop("person", None)
            if person is not None:
                record_person[f"{prefix}:{row[org]}:{row[rid]}"] = person
        frame = pd.DataFrame(rows)
        for col in frame.columns:
            if col.endswith(("_at", "_date", "_on")):
                frame[col] = pd.to_datetime(frame[col])
        tables[name] = frame
    return RuleContext.of(
        as_of=case["as_of"],
        evidence=_evidence(case.get("evidence", [])),
        people=people,
        holdings=pd.DataFrame(held) if held else None,
        tables=tables,
        record_person=pd.Series(record_person, dtype="string"),
    )


def _project(frame: pd.DataFrame, keys: list[str]) -> list[tuple[str, ...]]:
    to = (frame["recipient_type"] + ":" + frame["recipient_code"].fillna("")).str.rstrip(":")
    columns = {"person": frame["person_ref"], "to": to}
    for key in keys:
        if key not in columns:
            values = frame[key]
            if pd.api.types.is_datetime64_any_dtype(values):
                values = values.dt.strftime("%Y-%m-%dT%H:%M")
            columns[key] = values.astype("string").fillna("")
    return sorted(tuple(str(columns[k].iloc[i]) for k in keys) for i in range(len(frame)))


@pytest.mark.parametrize(("rule_id", "case"), _cases())
def test_rule_fixture(rule_id: str, case: dict[str, Any]) -> None:
    rule = RULES_BY_ID[rule_id]
    params = resolve_parameters({rule_id: case.get("params", {})})[rule_id]
    context = _context(case)
    raw = rule.evaluate(context, params)
    if rule.kind == "warning":
        out = route_warnings(raw, context.holdings)
    else:
        out = route(raw, context.holdings)
    expected = case.get("expect", [])
    keys = list(expected[0]) if expected else ["person", "to"]
    want = sorted(tuple(str(row[k]) for k in keys) for row in expected)
    assert _project(out, keys) == want
    if "summary" in case:
        assert sorted(set(out["summary"])) == sorted(case["summary"])
