"""Presets: real national/vendor layouts turned into the standard layout before parsing.

A preset only renames and reshapes raw text; the generic parser then cleans, validates and
quarantines exactly as for a standard file, so a bad date in an EMIS file is quarantined
with the same reason as in ``gp_patients.csv``. Column names are matched case-insensitively.
A standard column the run config already mapped (``[input.tables.<t>.columns]``) wins over
the preset's own source for it — that is how names and addresses reach ``ecds`` and
``mhsds``, whose national layouts do not carry them.

``emis`` (GP)
    ``gp_patients`` from ``Admin_Patient.csv``: ``PatientGuid`` → patient_id,
    ``HouseNameFlatNumber``/``NumberAndStreet`` → address_1/address_2, ``Postcode`` (stored
    without a space) → postcode, ``DateOfRegistration``/``DateOfDeactivation`` →
    registered_on/deregistered_on, ``SpineSensitive`` → sensitive. EMIS carries no ODS code,
    so option ``practice_code`` is required. ``gp_events`` from ``CareRecord_Observation.csv``
    joined on ``CodeId`` to option ``coding_file`` (default ``Coding_ClinicalCode.csv``) for
    ``SnomedCTConceptId`` → code and ``Term`` → term; an unknown ``CodeId`` leaves code blank
    and the row is quarantined (``missing required value: code``).

``ecds`` (A&E)
    ``ArrivalDate`` + ``ArrivalTime`` → arrival_at (a blank time reads as midnight, so the
    attendance keeps its date), likewise departure; ``EC_Diagnosis_01..NN`` joined with ``|``
    in column-number order; ``IdentifierNumber`` (or ``EC_Ident``) → attendance_id;
    ``PersonStatedGenderCode`` → sex.

``mhsds`` (mental health)
    ``mh_patients`` from ``MHS001MPI.csv`` (``OrgIDProv`` → provider_code, ``Gender`` → sex)
    plus option ``gp_file`` (default ``MHS002GP.csv``, optional): the current registration
    (blank ``EndDateGMPRegistration``, last listed wins) gives gp_practice_code.
    ``mh_activity`` from ``MHS101Referral.csv``, one ``REFERRAL`` per row
    (activity_id ``REF-<UniqServReqID>``, start = ``ReferralRequestReceivedDate``, end =
    ``ServDischDate``, ``DischLetterIssDate`` → discharge_letter_issued_on), plus option
    ``spell_file`` (default ``MHS501HospProvSpell.csv``, optional): each spell gives an
    ``ADMISSION`` (``ADM-<HospProvSpellID>``, start = ``StartDateHospProvSpell``, end =
    ``DischDateHospProvSpell``) and, once discharged, a ``DISCHARGE`` (``DIS-<id>``, start =
    the discharge date) whose discharge_method comes from ``MethOfDischMHHospProvSpell``
    (NHS Data Dictionary discharge method: 1 → CLINICAL, 2 → SELF, 3 → OTHER, 4/5 → DEATH;
    8/9/blank → unknown) and whose discharge_letter_issued_on is the referral's
    ``DischLetterIssDate`` (joined on ``UniqServReqID``). Because a spell yields up to two
    rows, the spell file's row counts in its file report are counts of derived rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import pandas as pd

from adapters.spec import TABLES

__all__ = ["PRESETS", "AuxLoader", "Preset", "PresetTable"]

#: Reads a further file of the same extract by name, as raw text with lower-cased column
#: names plus ``_file``/``_line``; None when it is absent and not required. ``lookup=True``
#: marks files used only to look values up (they contribute no rows of their own).
AuxLoader = Callable[[str, bool, bool], pd.DataFrame | None]
Transform = Callable[[pd.DataFrame, Mapping[str, str], AuxLoader], pd.DataFrame]

_META = ("_file", "_line")
_STANDARD = frozenset(c for spec in TABLES.values() for c in spec.column_names)


@dataclass(frozen=True, slots=True)
class PresetTable:
    """How one standard table is made from a real layout."""

    default_file: str
    # Lower-case source columns of the main file the preset reads (so they are not unknown).
    consumes: tuple[str, ...]
    transform: Transform
    options: tuple[str, ...] = ()
    required_options: tuple[str, ...] = ()
    # Source columns matched by pattern rather than listed (ECDS diagnoses 01..NN).
    consumes_pattern: str | None = None

    def consumed(self, column: str) -> bool:
        pattern = self.consumes_pattern
        return column in self.consumes or bool(pattern and re.fullmatch(pattern, column))


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    tables: Mapping[str, PresetTable]


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    """A raw column, or blanks when the file lacks it (the parser then reports what is missing)."""
    if name in frame.columns:
        return frame[name].astype(str)
    return pd.Series("", index=frame.index, dtype=object)


def _take(frame: pd.DataFrame, renames: Mapping[str, str]) -> pd.DataFrame:
    """Standard columns already present (config mapping) plus preset renames of the rest."""
    out = {c: frame[c] for c in frame.columns if c in _STANDARD or c in _META}
    for source, target in renames.items():
        if target not in out and source in frame.columns:
            out[target] = frame[source]
    return pd.DataFrame(out, index=frame.index)


def _datetime(date: pd.Series, time: pd.Series) -> pd.Series:
    date, time = date.astype(str).str.strip(), time.astype(str).str.strip()
    time = time.where(time != "", "00:00")
    return (date + " " + time).where(date != "", "")


# --- EMIS ---------------------------------------------------------------------------------

_EMIS_PATIENT = MappingProxyType(
    {
        "patientguid": "patient_id",
        "nhsnumber": "nhs_number",
        "givenname": "given_name",
        "surname": "family_name",
        "dateofbirth": "date_of_birth",
        "sex": "sex",
        "housenameflatnumber": "address_1",
        "numberandstreet": "address_2",
        "town": "town",
        "postcode": "postcode",
        "dateofregistration": "registered_on",
        "dateofdeactivation": "deregistered_on",
        "spinesensitive": "sensitive",
    }
)


def _emis_patients(
    frame: pd.DataFrame, options: Mapping[str, str], load: AuxLoader
) -> pd.DataFrame:
    out = _take(frame, _EMIS_PATIENT)
    if "practice_code" not in out.columns:
        out["practice_code"] = options["practice_code"]
    return out


_EMIS_OBSERVATION = MappingProxyType(
    {
        "observationguid": "event_id",
        "patientguid": "patient_id",
        "effectivedate": "effective_date",
        "entereddate": "entered_date",
    }
)


def _emis_events(frame: pd.DataFrame, options: Mapping[str, str], load: AuxLoader) -> pd.DataFrame:
    out = _take(frame, _EMIS_OBSERVATION)
    if "practice_code" not in out.columns:
        out["practice_code"] = options["practice_code"]
    coding = load(options.get("coding_file", "Coding_ClinicalCode.csv"), True, True)
    assert coding is not None  # required=True
    lookup = pd.DataFrame({"code": _col(coding, "snomedctconceptid"), "term": _col(coding, "term")})
    lookup.index = _col(coding, "codeid").str.strip()
    lookup = lookup[~lookup.index.duplicated(keep="first")]
    code_id = _col(frame, "codeid").str.strip()
    for column in ("code", "term"):
        if column not in out.columns:
            out[column] = code_id.map(lookup[column]).fillna("")
    return out


# --- ECDS ---------------------------------------------------------------------------------

_ECDS = MappingProxyType(
    {
        "organisationcodeofprovider": "provider_code",
        "identifiernumber": "attendance_id",
        "ec_ident": "attendance_id",
        "localpatientidentifier": "local_patient_id",
        "nhsnumber": "nhs_number",
        "patientbirthdate": "date_of_birth",
        "personstatedgendercode": "sex",
        "postcodeofusualaddress": "postcode",
        "ec_chief_complaint_snomed_ct": "chief_complaint",
        "ec_injury_intent_snomed_ct": "injury_intent",
        "safeguardingconcern_snomedct": "safeguarding_concerns",
        "discharge_destination_snomed_ct": "discharge_destination",
        "gp_practice_code": "gp_practice_code",
    }
)
_ECDS_DIAGNOSIS = r"ec_diagnosis_(\d+)"


def _ecds(frame: pd.DataFrame, options: Mapping[str, str], load: AuxLoader) -> pd.DataFrame:
    out = _take(frame, _ECDS)
    for target, date, time in (
        ("arrival_at", "arrivaldate", "arrivaltime"),
        ("departure_at", "departuredate", "departuretime"),
    ):
        if target not in out.columns and date in frame.columns:
            out[target] = _datetime(frame[date], _col(frame, time))
    numbered = sorted(
        (int(m.group(1)), c) for c in frame.columns if (m := re.fullmatch(_ECDS_DIAGNOSIS, c))
    )
    if "diagnoses" not in out.columns and numbered:
        # One vector concatenation per diagnosis column; the parser drops empty entries.
        joined = frame[numbered[0][1]].astype(str)
        for _, column in numbered[1:]:
            joined = joined + "|" + frame[column].astype(str)
        out["diagnoses"] = joined
    return out


# --- MHSDS --------------------------------------------------------------------------------

_MHS_PATIENT = MappingProxyType(
    {
        "orgidprov": "provider_code",
        "localpatientid": "local_patient_id",
        "nhsnumber": "nhs_number",
        "personbirthdate": "date_of_birth",
        "postcode": "postcode",
        "gender": "sex",
    }
)


def _mhs_patients(frame: pd.DataFrame, options: Mapping[str, str], load: AuxLoader) -> pd.DataFrame:
    out = _take(frame, _MHS_PATIENT)
    if "provider_code" not in out.columns and "provider_code" in options:
        out["provider_code"] = options["provider_code"]
    gp = load(options.get("gp_file", "MHS002GP.csv"), False, True)
    if gp is not None and "gp_practice_code" not in out.columns:
        current = gp[_col(gp, "enddategmpregistration").str.strip() == ""]
        by_patient = pd.Series(
            _col(current, "gmpcodereg").to_numpy(),
            index=_col(current, "localpatientid").str.strip().to_numpy(),
        )
        by_patient = by_patient[~by_patient.index.duplicated(keep="last")]
        patient = _col(frame, "localpatientid").str.strip()
        out["gp_practice_code"] = patient.map(by_patient).fillna("")
    return out


_DISCHARGE_METHOD = MappingProxyType(
    {"1": "CLINICAL", "2": "SELF", "3": "OTHER", "4": "DEATH", "5": "DEATH"}
)


def _mhs_activity(frame: pd.DataFrame, options: Mapping[str, str], load: AuxLoader) -> pd.DataFrame:
    provider = _col(frame, "orgidprov")
    if "provider_code" in frame.columns:
        provider = frame["provider_code"]
    elif "orgidprov" not in frame.columns and "provider_code" in options:
        provider = pd.Series(options["provider_code"], index=frame.index)
    service_request = _col(frame, "uniqservreqid").str.strip()
    referrals = pd.DataFrame(
        {
            "provider_code": provider,
            "activity_id": "REF-" + service_request,
            "local_patient_id": _col(frame, "localpatientid"),
            "activity_type": "REFERRAL",
            "start_date": _col(frame, "referralrequestreceiveddate"),
            "end_date": _col(frame, "servdischdate"),
            "discharge_letter_issued_on": _col(frame, "dischletterissdate"),
            "_file": frame["_file"],
            "_line": frame["_line"],
        }
    )
    spells = load(options.get("spell_file", "MHS501HospProvSpell.csv"), False, False)
    if spells is None or spells.empty:
        return referrals
    spell_id = _col(spells, "hospprovspellid")
    if "hospprovspellid" not in spells.columns:
        spell_id = _col(spells, "hospprovspellnum")
    spell_id = spell_id.str.strip()
    ref = referrals.assign(_sr=service_request.to_numpy()).drop_duplicates("_sr").set_index("_sr")
    spell_sr = _col(spells, "uniqservreqid").str.strip()
    patient = _col(spells, "localpatientid")
    patient = patient.where(patient.str.strip() != "", spell_sr.map(ref["local_patient_id"]))
    spell_provider = _col(spells, "orgidprov")
    spell_provider = spell_provider.where(
        spell_provider.str.strip() != "", spell_sr.map(ref["provider_code"])
    )
    discharged_on = _col(spells, "dischdatehospprovspell")
    common = {
        "provider_code": spell_provider.fillna(""),
        "local_patient_id": patient.fillna(""),
        "_file": spells["_file"],
        "_line": spells["_line"],
    }
    admissions = pd.DataFrame(
        {
            **common,
            "activity_id": "ADM-" + spell_id,
            "activity_type": "ADMISSION",
            "start_date": _col(spells, "startdatehospprovspell"),
            "end_date": discharged_on,
        }
    )
    method = _col(spells, "methofdischmhhospprovspell").str.strip().map(_DISCHARGE_METHOD)
    discharges = pd.DataFrame(
        {
            **common,
            "activity_id": "DIS-" + spell_id,
            "activity_type": "DISCHARGE",
            "start_date": discharged_on,
            "discharge_method": method.fillna(""),
            "discharge_letter_issued_on": spell_sr.map(ref["discharge_letter_issued_on"]).fillna(
                ""
            ),
        }
    )[discharged_on.str.strip() != ""]
    return pd.concat([referrals, admissions, discharges], ignore_index=True).fillna("")


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        "emis": Preset(
            "emis",
            MappingProxyType(
                {
                    "gp_patients": PresetTable(
                        "Admin_Patient.csv",
                        consumes=tuple(_EMIS_PATIENT),
                        transform=_emis_patients,
                        options=("practice_code",),
                        required_options=("practice_code",),
                    ),
                    "gp_events": PresetTable(
                        "CareRecord_Observation.csv",
                        consumes=(*_EMIS_OBSERVATION, "codeid"),
                        transform=_emis_events,
                        options=("practice_code", "coding_file"),
                        required_options=("practice_code",),
                    ),
                }
            ),
        ),
        "ecds": Preset(
            "ecds",
            MappingProxyType(
                {
                    "ae_attendances": PresetTable(
                        "ECDS.csv",
                        consumes=(
                            *_ECDS,
                            "arrivaldate",
                            "arrivaltime",
                            "departuredate",
                            "departuretime",
                        ),
                        consumes_pattern=_ECDS_DIAGNOSIS,
                        transform=_ecds,
                    )
                }
            ),
        ),
        "mhsds": Preset(
            "mhsds",
            MappingProxyType(
                {
                    "mh_patients": PresetTable(
                        "MHS001MPI.csv",
                        consumes=tuple(_MHS_PATIENT),
                        transform=_mhs_patients,
                        options=("gp_file", "provider_code"),
                    ),
                    "mh_activity": PresetTable(
                        "MHS101Referral.csv",
                        consumes=(
                            "orgidprov",
                            "uniqservreqid",
                            "localpatientid",
                            "referralrequestreceiveddate",
                            "servdischdate",
                            "dischletterissdate",
                        ),
                        transform=_mhs_activity,
                        options=("spell_file", "provider_code"),
                    ),
                }
            ),
        ),
    }
)
