"""The rule catalogue: one explicit list, and validation of ``[rules.<ID>]`` overrides."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from rules.bail_breach import Rule_BAIL_BREACH
from rules.base import Rule
from rules.da_sh import Rule_DA_SH
from rules.errors import RuleConfigError
from rules.fa import Rule_FA
from rules.hh_crisis import Rule_HH_CRISIS
from rules.hh_da import Rule_HH_DA
from rules.letter_late import Rule_LETTER_LATE
from rules.letter_not_received import Rule_LETTER_NOT_RECEIVED
from rules.marac_repeat import Rule_MARAC_REPEAT
from rules.mh_letter_late import Rule_MH_LETTER_LATE
from rules.mh_sd_da import Rule_MH_SD_DA
from rules.serial import Rule_SERIAL

RULES: tuple[Rule, ...] = (
    Rule_DA_SH(),
    Rule_FA(),
    Rule_HH_DA(),
    Rule_HH_CRISIS(),
    Rule_MH_SD_DA(),
    Rule_MARAC_REPEAT(),
    Rule_BAIL_BREACH(),
    Rule_SERIAL(),
    Rule_LETTER_LATE(),
    Rule_LETTER_NOT_RECEIVED(),
    Rule_MH_LETTER_LATE(),
)

RULES_BY_ID: Mapping[str, Rule] = MappingProxyType({rule.id: rule for rule in RULES})

Parameters = Mapping[str, Mapping[str, int]]


def resolve_parameters(config: Mapping[str, Any] | None = None) -> Parameters:
    """Every rule's parameters: defaults overridden by the run config's ``[rules]`` table.

    ``config`` maps rule id → {parameter: value}. Unknown rule ids, unknown parameters and
    values that are not whole numbers ≥ 0 are rejected with a message naming what is allowed.
    """
    config = config or {}
    unknown = sorted(set(config) - set(RULES_BY_ID))
    if unknown:
        raise RuleConfigError(
            f"[rules] names unknown rule(s) {', '.join(unknown)}; "
            f"known rules: {', '.join(RULES_BY_ID)}"
        )
    resolved: dict[str, Mapping[str, int]] = {}
    for rule in RULES:
        overrides = config.get(rule.id, {})
        if not isinstance(overrides, Mapping):
            raise RuleConfigError(f"[rules.{rule.id}] must be a table of parameter = value")
        bad_keys = sorted(set(overrides) - set(rule.parameters))
        if bad_keys:
            raise RuleConfigError(
                f"[rules.{rule.id}] has unknown parameter(s) {', '.join(bad_keys)}; "
                f"allowed: {', '.join(rule.parameters)}"
            )
        for key, value in overrides.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RuleConfigError(
                    f"[rules.{rule.id}] {key} must be a whole number ≥ 0, got {value!r}"
                )
        resolved[rule.id] = MappingProxyType({**rule.parameters, **overrides})
    return MappingProxyType(resolved)
