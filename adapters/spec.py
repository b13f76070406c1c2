"""The standard layout of every extract, declared as data (../shared/spec/EXTRACTS.md).

One generic parser (``adapters.ingest``) reads any table from these declarations: a column's
kind says how to clean it, ``required`` says whether a blank or unusable value quarantines the
row, and ``key`` names the columns whose repeats are quarantined as ``duplicate key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "TABLES",
    "TABLE_NAMES",
    "Column",
    "Kind",
    "Source",
    "TableSpec",
    "table_spec",
]


class Kind(StrEnum):
    """How a column is cleaned (see ``adapters.hygiene``)."""

    TEXT = "text"
    ID = "id"
    DATE = "date"
    DATETIME = "datetime"
    YN = "yn"
    SEX = "sex"
    NHS_NUMBER = "nhs_number"
    POSTCODE = "postcode"
    CODES = "codes"
    ENUM = "enum"


class Source(StrEnum):
    """The kind of agency a table comes from; also the prefix of a person ``record_key``."""

    GP = "gp"
    AE = "ae"
    MH = "mh"
    POLICE = "police"


@dataclass(frozen=True, slots=True)
class Column:
    """One standard column: its name, how it is cleaned and whether the row needs it."""

    name: str
    kind: Kind
    required: bool = False
    # Upper-case values an ENUM column may take; anything else is invalid.
    allowed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.kind is Kind.ENUM) != bool(self.allowed):
            raise ValueError(f"column {self.name}: allowed values go with kind ENUM only")


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One standard file: its columns, its key and the column that names a row in quarantine."""

    stem: str
    source: Source
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # The source's own id for a row, shown in quarantine (never a name or date of birth).
    record_id: str

    def __post_init__(self) -> None:
        names = self.column_names
        if len(set(names)) != len(names):
            raise ValueError(f"{self.stem}: duplicate column names")
        missing = [c for c in (*self.key, self.record_id) if c not in names]
        if missing:
            raise ValueError(f"{self.stem}: key/record_id columns not declared: {missing}")

    @property
    def file_name(self) -> str:
        return f"{self.stem}.csv"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.stem} has no column {name!r}")


def _c(name: str, kind: Kind = Kind.TEXT, *, required: bool = False) -> Column:
    return Column(name, kind, required)


def _enum(name: str, allowed: tuple[str, ...], *, required: bool = False) -> Column:
    return Column(name, Kind.ENUM, required, allowed)


def _person(*, dob_required: bool) -> tuple[Column, ...]:
    """The identifying columns every person-bearing table shares."""
    return (
        _c("given_name", required=True),
        _c("family_name", required=True),
        _c("date_of_birth", Kind.DATE, required=dob_required),
        _c("sex", Kind.SEX),
        _c("address_1"),
        _c("address_2"),
        _c("town"),
        _c("postcode", Kind.POSTCODE),
    )


_ID = Kind.ID

_SPECS = (
    TableSpec(
        "gp_patients",
        Source.GP,
        (
            _c("practice_code", _ID, required=True),
            _c("patient_id", _ID, required=True),
            _c("nhs_number", Kind.NHS_NUMBER),
            *_person(dob_required=True),
            _c("uprn", _ID),
            _c("registered_on", Kind.DATE),
            _c("deregistered_on", Kind.DATE),
            _c("sensitive", Kind.YN),
        ),
        key=("practice_code", "patient_id"),
        record_id="patient_id",
    ),
    TableSpec(
        "gp_events",
        Source.GP,
        (
            _c("practice_code", _ID, required=True),
            _c("patient_id", _ID, required=True),
            _c("event_id", _ID, required=True),
            _c("code", _ID, required=True),
            _c("term"),
            _c("effective_date", Kind.DATE, required=True),
            _c("entered_date", Kind.DATE),
        ),
        key=("practice_code", "event_id"),
        record_id="event_id",
    ),
    TableSpec(
        "gp_correspondence",
        Source.GP,
        (
            _c("practice_code", _ID, required=True),
            _c("patient_id", _ID, required=True),
            _c("document_id", _ID, required=True),
            _c("sender_code", _ID),
            _c("sender_reference", _ID),
            _c("document_date", Kind.DATE),
            _c("received_date", Kind.DATE),
        ),
        key=("practice_code", "document_id"),
        record_id="document_id",
    ),
    TableSpec(
        "ae_attendances",
        Source.AE,
        (
            _c("provider_code", _ID, required=True),
            _c("attendance_id", _ID, required=True),
            _c("local_patient_id", _ID),
            _c("nhs_number", Kind.NHS_NUMBER),
            *_person(dob_required=True),
            _c("gp_practice_code", _ID),
            _c("arrival_at", Kind.DATETIME, required=True),
            _c("departure_at", Kind.DATETIME),
            _c("chief_complaint", Kind.CODES),
            _c("injury_intent", Kind.CODES),
            _c("diagnoses", Kind.CODES),
            _c("safeguarding_concerns", Kind.CODES),
            _c("discharge_destination", Kind.CODES),
            _c("gp_letter_sent_at", Kind.DATETIME),
        ),
        key=("provider_code", "attendance_id"),
        record_id="attendance_id",
    ),
    TableSpec(
        "mh_patients",
        Source.MH,
        (
            _c("provider_code", _ID, required=True),
            _c("local_patient_id", _ID, required=True),
            _c("nhs_number", Kind.NHS_NUMBER),
            *_person(dob_required=True),
            _c("gp_practice_code", _ID),
        ),
        key=("provider_code", "local_patient_id"),
        record_id="local_patient_id",
    ),
    TableSpec(
        "mh_activity",
        Source.MH,
        (
            _c("provider_code", _ID, required=True),
            _c("activity_id", _ID, required=True),
            _c("local_patient_id", _ID, required=True),
            _enum(
                "activity_type",
                ("REFERRAL", "CONTACT", "ADMISSION", "DISCHARGE"),
                required=True,
            ),
            _c("start_date", Kind.DATE, required=True),
            _c("end_date", Kind.DATE),
            _c("codes", Kind.CODES),
            _enum("discharge_method", ("SELF", "CLINICAL", "DEATH", "OTHER")),
            _c("discharge_letter_issued_on", Kind.DATE),
        ),
        key=("provider_code", "activity_id"),
        record_id="activity_id",
    ),
    TableSpec(
        "police_nominals",
        Source.POLICE,
        (
            _c("force_code", _ID, required=True),
            _c("nominal_id", _ID, required=True),
            *_person(dob_required=False),
        ),
        key=("force_code", "nominal_id"),
        record_id="nominal_id",
    ),
    TableSpec(
        "police_incidents",
        Source.POLICE,
        (
            _c("force_code", _ID, required=True),
            _c("incident_id", _ID, required=True),
            _c("nominal_id", _ID, required=True),
            _enum(
                "role",
                ("VICTIM", "SUSPECT", "CHILD_PRESENT", "WITNESS", "OTHER"),
                required=True,
            ),
            _c("occurred_at", Kind.DATETIME, required=True),
            _c("domestic", Kind.YN, required=True),
            _enum("dash_risk", ("STANDARD", "MEDIUM", "HIGH")),
            _c("marac_referred_on", Kind.DATE),
            _c("bail_conditions", Kind.YN),
            _c("bail_breach", Kind.YN),
            _c("outcome"),
        ),
        key=("force_code", "incident_id", "nominal_id"),
        record_id="incident_id",
    ),
)

#: Every standard table by stem, in the contract's order.
TABLES: Mapping[str, TableSpec] = MappingProxyType({s.stem: s for s in _SPECS})
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def table_spec(stem: str) -> TableSpec:
    """The spec of one standard table; a clear error naming the allowed stems otherwise."""
    try:
        return TABLES[stem]
    except KeyError:
        raise KeyError(
            f"unknown table {stem!r}; expected one of {', '.join(TABLE_NAMES)}"
        ) from None
