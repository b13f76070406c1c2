"""Safeguarding evidence, the rule catalogue, routing and the flag lifecycle.

Pure functions of frames: nothing here reads files or databases, and nothing here imports
``adapters`` or ``linkage``.  Errors are ``ValueError`` subclasses (``RuleConfigError``) that
the pipeline turns into the library's ``ConfigError``.

Contract E — inputs (built by the pipeline)
-------------------------------------------
* ``tables``: the canonical tables of contract A (``adapters``), keyed by file stem.
* ``records``: contract B person records plus ``person_ref`` (and ``household_ref``).
* ``people``: one row per person: ``person_ref, date_of_birth, household_ref`` (NA when
  none), ``communal`` (bool), ``sensitive`` (bool).

Outputs
-------
* flags: ``rule, severity, person_ref, recipient_type`` (``gp`` / ``ae`` / ``mh`` /
  ``police`` / ``unrouted``), ``recipient_code``, ``local_id, nhs_number, summary,
  evidence_date``; only ever to recipients that hold the person.
* warnings: ``rule, recipient_type, recipient_code, person_ref, reference, local_id,
  due_by, sent_at, hours_late, holiday_period``.
"""

from rules.base import RAW_FLAG_COLUMNS, WARNING_COLUMNS, Rule, distinct_counts, warning_frame
from rules.codes import CodeLists
from rules.context import RuleContext
from rules.engine import (
    RuleResults,
    evaluate_all,
    evaluate_flags,
    evaluate_warnings,
    evidence_kinds,
)
from rules.errors import RoutingError, RuleConfigError, RulesError
from rules.evidence import EVIDENCE_COLUMNS, EVIDENCE_KINDS, derive_evidence, record_evidence
from rules.incremental import FlagNight, FlagState, evaluate_flags_reusing
from rules.lifecycle import LIFECYCLE_COLUMNS, apply_lifecycle, held_flags
from rules.registry import RULES, RULES_BY_ID, resolve_parameters
from rules.routing import FLAG_COLUMNS, HOLDING_COLUMNS, holdings, route, route_warnings

__all__ = [
    "EVIDENCE_COLUMNS",
    "EVIDENCE_KINDS",
    "FLAG_COLUMNS",
    "HOLDING_COLUMNS",
    "LIFECYCLE_COLUMNS",
    "RAW_FLAG_COLUMNS",
    "RULES",
    "RULES_BY_ID",
    "WARNING_COLUMNS",
    "CodeLists",
    "FlagNight",
    "FlagState",
    "RoutingError",
    "Rule",
    "RuleConfigError",
    "RuleContext",
    "RuleResults",
    "RulesError",
    "apply_lifecycle",
    "derive_evidence",
    "distinct_counts",
    "evaluate_all",
    "evaluate_flags",
    "evaluate_flags_reusing",
    "evaluate_warnings",
    "evidence_kinds",
    "held_flags",
    "holdings",
    "record_evidence",
    "resolve_parameters",
    "route",
    "route_warnings",
    "warning_frame",
]
