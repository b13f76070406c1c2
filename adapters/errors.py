"""The library's one exception hierarchy.

`DalinkError` is the base every package raises (``linkage`` imports it from here; ``rules``
imports nothing and raises ``ValueError`` subclasses that the pipeline wraps). The CLI turns
``UsageError`` subclasses into exit code 2 and any other ``DalinkError`` into exit code 1.
Messages name the file, row/column and what to do, and never carry a person's details.
"""

from __future__ import annotations


class DalinkError(Exception):
    """Base class for every error dalink raises on purpose."""


class UsageError(DalinkError):
    """Bad input, configuration or invocation: the user can fix it (exit code 2)."""


class InputFileError(UsageError):
    """A whole input file is unusable (missing required columns, unreadable, wrong encoding)."""


class ConfigError(UsageError):
    """The run configuration is invalid (unknown key, bad value, unknown preset)."""


class StoreLockedError(UsageError):
    """Another run holds the store's lock."""


class StoreError(DalinkError):
    """The SQL store could not be read or written."""


class NotFoundError(UsageError):
    """A run, review item or record named on the command line does not exist."""
