"""Run the whole catalogue: registry → raw flags and warnings → need-to-know routing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rules.base import flag_frame, warning_frame
from rules.context import RuleContext
from rules.registry import RULES, resolve_parameters
from rules.routing import route, route_warnings


@dataclass(frozen=True, eq=False)
class RuleResults:
    """Routed ``flags`` (routing.FLAG_COLUMNS), routed ``warnings`` (base.WARNING_COLUMNS) and
    the ``evidence`` they were computed from."""

    flags: pd.DataFrame
    warnings: pd.DataFrame
    evidence: pd.DataFrame


def evaluate_all(context: RuleContext, params: Mapping[str, Any] | None = None) -> RuleResults:
    """Evaluate every registered rule and route the output to recipients holding the person.

    ``params`` is the run config's ``[rules]`` table (rule id → overrides) or the result of
    :func:`rules.registry.resolve_parameters`; it is validated either way.
    """
    return RuleResults(
        flags=evaluate_flags(context, params),
        warnings=evaluate_warnings(context, params),
        evidence=context.evidence,
    )


def _raw(context: RuleContext, params: Mapping[str, Any] | None, kind: str) -> list[pd.DataFrame]:
    resolved = resolve_parameters(params)
    return [rule.evaluate(context, resolved[rule.id]) for rule in RULES if rule.kind == kind]


def evaluate_flags(context: RuleContext, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The flag rules' output, routed (:data:`rules.routing.FLAG_COLUMNS`)."""
    parts = _raw(context, params, "flag")
    raw = flag_frame(pd.concat(parts, ignore_index=True) if parts else None)
    return route(raw, context.holdings_for(raw["person_ref"]))


def evaluate_warnings(
    context: RuleContext, params: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The warnings' output, routed (:data:`rules.base.WARNING_COLUMNS`)."""
    parts = _raw(context, params, "warning")
    raw = warning_frame(pd.concat(parts, ignore_index=True) if parts else None)
    return route_warnings(raw, context.holdings_for(raw["person_ref"]))


def evidence_kinds(kind: str) -> frozenset[str] | None:
    """The evidence kinds the rules of ``kind`` (flag / warning) read; None when any."""
    declared = [rule.evidence_kinds for rule in RULES if rule.kind == kind]
    if any(kinds is None for kinds in declared):
        return None
    return frozenset(k for kinds in declared if kinds is not None for k in kinds)
