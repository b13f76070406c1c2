"""The ``[input]`` section of the run config: date format, encoding, presets, column mappings.

.. code-block:: toml

    [input]
    date_format = "iso"          # or "dmy" (DD/MM/YYYY; ISO still read)
    encoding = "auto"            # or "utf-8", "cp1252"

    [input.tables.gp_patients]
    preset = "emis"
    file = "Admin_Patient.csv"
    [input.tables.gp_patients.preset_options]
    practice_code = "M85001"

    [input.tables.ae_attendances.columns]
    PAS_Forename = "given_name"  # source column -> standard column

Everything is checked when the config is loaded, so a typo fails before any file is read.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from adapters.csvread import ENCODINGS, Encoding
from adapters.errors import ConfigError
from adapters.hygiene import DATE_FORMATS, DateFormat
from adapters.presets import PRESETS
from adapters.spec import TABLE_NAMES, TABLES

__all__ = ["InputConfig", "TableConfig", "load_config_section"]


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TableConfig:
    """Per-table overrides; None means "use the [input] default"."""

    file: str | None = None
    date_format: DateFormat | None = None
    encoding: Encoding | None = None
    preset: str | None = None
    # Source column (lower-cased) -> standard column.
    columns: Mapping[str, str] = field(default_factory=_empty)
    preset_options: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class InputConfig:
    """How to read the input folder. ``InputConfig()`` reads the standard layout."""

    date_format: DateFormat = "iso"
    encoding: Encoding = "auto"
    tables: Mapping[str, TableConfig] = field(default_factory=_empty)

    def table(self, stem: str) -> TableConfig:
        return self.tables.get(stem, TableConfig())

    def date_format_for(self, stem: str) -> DateFormat:
        return self.table(stem).date_format or self.date_format

    def encoding_for(self, stem: str) -> Encoding:
        return self.table(stem).encoding or self.encoding

    @classmethod
    def from_toml(cls, path: Path) -> InputConfig:
        """Read the ``[input]`` section of a TOML run config (absent section = defaults)."""
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        section = data.get("input", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [input] must be a table")
        try:
            return load_config_section(section)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


def _check_keys(where: str, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )


def _choice(where: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{where} = {value!r}; allowed: {', '.join(allowed)}")
    return cast(str, value)


def _strings(where: str, value: Any) -> Mapping[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{where} must be a table of strings")
    return value


def _table(stem: str, data: Any) -> TableConfig:
    where = f"[input.tables.{stem}]"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table")
    _check_keys(
        where, data, ("file", "date_format", "encoding", "preset", "columns", "preset_options")
    )
    file = data.get("file")
    if file is not None and (not isinstance(file, str) or not file or "/" in file):
        raise ConfigError(f"{where} file must be a file name inside the input folder")
    date_format = data.get("date_format")
    if date_format is not None:
        _choice(f"{where} date_format", date_format, DATE_FORMATS)
    encoding = data.get("encoding")
    if encoding is not None:
        _choice(f"{where} encoding", encoding, ENCODINGS)

    preset = data.get("preset")
    options = dict(_strings(f"{where} preset_options", data.get("preset_options", {})))
    if preset is not None:
        serving = tuple(n for n, p in PRESETS.items() if stem in p.tables)
        if preset not in PRESETS:
            raise ConfigError(f"{where} preset = {preset!r}; known presets: {', '.join(PRESETS)}")
        if preset not in serving:
            raise ConfigError(
                f"{where} preset {preset!r} has no layout for {stem}; "
                f"presets for {stem}: {', '.join(serving) or 'none'}"
            )
        layout = PRESETS[preset].tables[stem]
        _check_keys(f"{where} preset_options", options, layout.options)
        missing = [o for o in layout.required_options if o not in options]
        if missing:
            raise ConfigError(
                f"{where} preset {preset!r} needs preset_options: {', '.join(missing)}"
            )
    elif options:
        raise ConfigError(f"{where} preset_options given without a preset")

    standard = TABLES[stem].column_names
    columns = {
        k.strip().lower(): v
        for k, v in _strings(f"{where} columns", data.get("columns", {})).items()
    }
    bad = sorted(v for v in columns.values() if v not in standard)
    if bad:
        raise ConfigError(
            f"[input.tables.{stem}.columns] maps to unknown standard column(s) "
            f"{', '.join(bad)}; standard columns of {stem}: {', '.join(standard)}"
        )
    targets = list(columns.values())
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        raise ConfigError(
            f"[input.tables.{stem}.columns] maps several source columns to "
            f"{', '.join(repeated)}; map exactly one"
        )
    return TableConfig(
        file=file,
        date_format=cast("DateFormat | None", date_format),
        encoding=cast("Encoding | None", encoding),
        preset=preset,
        columns=MappingProxyType(columns),
        preset_options=MappingProxyType(options),
    )


def load_config_section(data: Mapping[str, Any]) -> InputConfig:
    """Validate the ``input`` table of a parsed TOML config into an :class:`InputConfig`."""
    _check_keys("[input]", data, ("date_format", "encoding", "tables"))
    date_format = _choice("[input] date_format", data.get("date_format", "iso"), DATE_FORMATS)
    encoding = _choice("[input] encoding", data.get("encoding", "auto"), ENCODINGS)
    tables = data.get("tables", {})
    if not isinstance(tables, dict):
        raise ConfigError("[input.tables] must be a table")
    unknown = sorted(set(tables) - set(TABLE_NAMES))
    if unknown:
        raise ConfigError(
            f"[input.tables] unknown table(s) {', '.join(unknown)}; "
            f"tables: {', '.join(TABLE_NAMES)}"
        )
    return InputConfig(
        date_format=cast(DateFormat, date_format),
        encoding=cast(Encoding, encoding),
        tables=MappingProxyType({stem: _table(stem, t) for stem, t in tables.items()}),
    )
