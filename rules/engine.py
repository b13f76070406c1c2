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
    resolved = resolve_parameters(params)
    flags: list[pd.DataFrame] = []
    warnings: list[pd.DataFrame] = []
    for rule in RULES:
        out = rule.evaluate(context, resolved[rule.id])
        (warnings if rule.kind == "warning" else flags).append(out)
    raw_flags = pd.concat(flags, ignore_index=True) if flags else flag_frame()
    raw_warnings = pd.concat(warnings, ignore_index=True) if warnings else warning_frame()
    return RuleResults(
        flags=route(flag_frame(raw_flags), context.holdings),
        warnings=route_warnings(warning_frame(raw_warnings), context.holdings),
        evidence=context.evidence,
    )
