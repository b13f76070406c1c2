"""Errors raised by the rules package (``ValueError`` subclasses; the pipeline wraps them)."""

from __future__ import annotations


class RulesError(ValueError):
    """Base class for every error the rules package raises on purpose."""


class RuleConfigError(RulesError):
    """The ``[rules]`` run configuration or a code list is invalid (unknown id, key or value)."""


class RoutingError(RulesError):
    """A flag would reach a recipient that does not hold the person (a need-to-know breach)."""
