"""SNOMED CT code lists used to derive evidence, kept as data in ``codes.toml``."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

from rules.errors import RuleConfigError

_LIST_NAMES = ("da", "self_harm", "self_harm_intent", "da_child")


def _code_set(name: str, value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise RuleConfigError(
            f"code list {name!r} must be a list of SNOMED CT codes (strings of digits), "
            f"got {type(value).__name__}"
        )
    codes = frozenset(str(v).strip() for v in value)
    bad = sorted(c for c in codes if not c.isdigit())
    if bad:
        raise RuleConfigError(
            f"code list {name!r} holds {len(bad)} value(s) that are not SNOMED CT concept ids "
            f"(digits only), e.g. {bad[0]!r}: fix the list in the run config"
        )
    return codes


@dataclass(frozen=True)
class CodeLists:
    """The code lists evidence derivation reads (each a frozen set of SNOMED CT ids)."""

    da: frozenset[str]
    self_harm: frozenset[str]
    self_harm_intent: frozenset[str]
    da_child: frozenset[str]

    @classmethod
    def default(cls) -> CodeLists:
        """The lists shipped in ``rules/codes.toml``."""
        text = resources.files("rules").joinpath("codes.toml").read_text(encoding="utf-8")
        return cls.from_config(tomllib.loads(text), base=None)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, base: CodeLists | None = None) -> CodeLists:
        """Build from a mapping of list name → codes; a name given replaces the base's list.

        ``base`` defaults to the shipped lists; unknown names are rejected.
        """
        unknown = sorted(set(config) - set(_LIST_NAMES))
        if unknown:
            raise RuleConfigError(
                f"unknown code list(s) {', '.join(unknown)}; allowed: {', '.join(_LIST_NAMES)}"
            )
        if base is None and set(config) != set(_LIST_NAMES):
            base = cls.default()
        values = {f.name: getattr(base, f.name) for f in fields(cls)} if base is not None else {}
        values.update({name: _code_set(name, value) for name, value in config.items()})
        return cls(**values)
