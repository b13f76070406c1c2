"""Every rule carries its metadata and documentation; configuration is validated."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path

import pytest

from rules import (
    FLAG_COLUMNS,
    RULES,
    RULES_BY_ID,
    WARNING_COLUMNS,
    CodeLists,
    Rule,
    RuleConfigError,
    RuleContext,
    evaluate_all,
    resolve_parameters,
)

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
CATALOGUE = {
    "DA-SH",
    "FA",
    "HH-DA",
    "HH-CRISIS",
    "MH-SD-DA",
    "MARAC-REPEAT",
    "BAIL-BREACH",
    "SERIAL",
    "LETTER-LATE",
    "LETTER-NOT-RECEIVED",
    "MH-LETTER-LATE",
}


def test_registry_is_the_catalogue() -> None:
    assert [r.id for r in RULES] == list(RULES_BY_ID)
    assert set(RULES_BY_ID) == CATALOGUE


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_metadata_and_docstring(rule: Rule) -> None:
    cls = type(rule)
    assert cls.id and cls.name and cls.severity and cls.recipients
    assert isinstance(cls.parameters, Mapping) and cls.parameters
    with pytest.raises(TypeError):
        cls.parameters["window_days"] = 1  # type: ignore[index]
    doc = inspect.getdoc(cls) or ""
    first = doc.splitlines()[0]
    assert first.strip() and not first.startswith("**")
    assert cls.message() == first.strip()
    for section in ("**Fires when**", "**Does not fire when**", "**Rationale**"):
        assert section in doc, f"{cls.id} docstring lacks {section}"
    assert cls.rationale
    module = Path(inspect.getfile(cls)).stem
    assert module == cls.id.lower().replace("-", "_")
    assert (FIXTURES / f"{cls.id}.toml").is_file()


def test_unknown_parameter_rejected_listing_allowed() -> None:
    with pytest.raises(RuleConfigError, match=r"window_dayz.*allowed: window_days, da_known_days"):
        resolve_parameters({"DA-SH": {"window_dayz": 30}})


def test_unknown_rule_rejected() -> None:
    with pytest.raises(RuleConfigError, match=r"NOPE.*known rules: DA-SH"):
        resolve_parameters({"NOPE": {}})


@pytest.mark.parametrize("value", [-1, 1.5, "90", True])
def test_bad_parameter_value_rejected(value: object) -> None:
    with pytest.raises(RuleConfigError, match="whole number"):
        resolve_parameters({"FA": {"window_days": value}})


def test_overrides_apply_to_one_rule_only() -> None:
    params = resolve_parameters({"FA": {"min_attendances": 3}})
    assert params["FA"]["min_attendances"] == 3
    assert params["FA"]["window_days"] == 365
    assert params["DA-SH"] == {"window_days": 90, "da_known_days": 730}


def test_code_lists_default_and_override() -> None:
    codes = CodeLists.default()
    assert "276853009" in codes.self_harm and "881081000000100" in codes.da_child
    assert len(codes.da) == 11
    custom = CodeLists.from_config({"da": ["123456"]})
    assert custom.da == frozenset({"123456"}) and custom.self_harm == codes.self_harm
    with pytest.raises(RuleConfigError, match="unknown code list"):
        CodeLists.from_config({"dv": ["1"]})
    with pytest.raises(RuleConfigError, match="digits only"):
        CodeLists.from_config({"da": ["abc"]})


def test_empty_inputs_give_empty_typed_outputs() -> None:
    results = evaluate_all(RuleContext.of(as_of="2026-12-31"), {})
    assert list(results.flags.columns) == list(FLAG_COLUMNS) and results.flags.empty
    assert list(results.warnings.columns) == list(WARNING_COLUMNS) and results.warnings.empty


def test_sorted_positions_is_a_stable_sort_with_blanks_last() -> None:
    import numpy as np
    import pandas as pd

    from rules.base import sorted_positions

    rng = np.random.default_rng(7)

    def pick(values: list[str | None]) -> list[str | None]:
        return [values[i] for i in rng.integers(0, len(values), 400)]

    frame = pd.DataFrame(
        {
            "a": pd.Series(pick(["b", "a", "ab", "B", None]), dtype="string"),
            "d": pd.to_datetime(pd.Series(pick(["2026-01-02", "2025-12-31", None]))),
            "c": pd.Series(pick(["x", "y", None]), dtype="string"),
        }
    )
    for columns in (["a"], ["a", "d"], ["d", "c", "a"], []):
        expected = frame.sort_values(columns, kind="stable").index if columns else frame.index
        assert list(sorted_positions(frame, columns)) == list(expected), columns
