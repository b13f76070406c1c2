"""Vectorised cleaning of single columns: NHS numbers, postcodes, dates, sex, Y/N, code lists.

Every cleaner takes a whole ``pandas.Series`` of raw text and returns a :class:`Cleaned`
pair: the parsed values and an ``invalid`` mask marking cells that held something the cleaner
could not read (blank cells are never invalid — blank means unknown). The ingest decides what
an invalid cell costs: quarantine for a required column, a blanked field for an optional one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "DATE_FORMATS",
    "POSTCODE_PATTERN",
    "Cleaned",
    "DateFormat",
    "clean_codes",
    "clean_enum",
    "clean_nhs_number",
    "clean_postcode",
    "clean_sex",
    "clean_text",
    "clean_yn",
    "is_pseudo_postcode",
    "make_nhs_numbers",
    "nhs_check_digit",
    "nhs_check_digit_ok",
    "parse_dates",
    "parse_datetimes",
]

DateFormat = Literal["iso", "dmy"]
DATE_FORMATS: tuple[DateFormat, ...] = ("iso", "dmy")

#: UK postcode *format* (outward code, space, inward code). Deliberately not the stricter
#: letter-position rules: ``ZZ99`` pseudo-postcodes must stay format-valid.
POSTCODE_PATTERN = r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}|GIR 0AA)$"

_NHS_WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)  # 10..2 over the first nine digits


@dataclass(frozen=True, slots=True)
class Cleaned:
    """A cleaned column and the mask of non-blank cells that could not be read."""

    values: pd.Series
    invalid: pd.Series


def _text(raw: pd.Series) -> pd.Series:
    """Raw cells as stripped ``string`` dtype with NA for blanks."""
    s = raw.astype("string").str.strip()
    return s.mask(s == "")


def _no_invalid(s: pd.Series) -> pd.Series:
    return pd.Series(False, index=s.index, dtype=bool)


def clean_text(raw: pd.Series) -> Cleaned:
    """Free text or an identifier: stripped, NA when empty; never invalid."""
    s = _text(raw)
    return Cleaned(s, _no_invalid(s))


# --- NHS number -------------------------------------------------------------------------


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit for nine digits, or None when no valid number can end them."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("nhs_check_digit needs exactly nine digits")
    total = int(np.dot(np.frombuffer(first_nine.encode(), np.uint8) - 48, _NHS_WEIGHTS))
    check = 11 - total % 11
    if check == 10:
        return None
    return 0 if check == 11 else check


def _check_digits_ok(digits10: pd.Series) -> np.ndarray:
    """Modulus-11 test over a Series of 10-digit strings (all already ``\\d{10}``)."""
    if digits10.empty:
        return np.zeros(0, dtype=bool)
    raw = digits10.to_numpy(dtype="U10").astype("S10")
    d = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(-1, 10).astype(np.int64) - 48
    check = 11 - (d[:, :9] @ _NHS_WEIGHTS) % 11
    check = np.where(check == 11, 0, check)
    # All-same-digit numbers (0000000000, 9999999999...) pass the arithmetic but are
    # placeholders typed into systems; treating them as identity would merge strangers.
    placeholder = (d == d[:, :1]).all(axis=1)
    return (check != 10) & (check == d[:, 9]) & ~placeholder


def nhs_check_digit_ok(values: pd.Series) -> pd.Series:
    """True where a cell is ten digits passing the modulus-11 check (no cleaning applied)."""
    s = values.astype("string")
    shaped = s.str.fullmatch(r"\d{10}").fillna(False).astype(bool)
    ok = pd.Series(False, index=s.index, dtype=bool)
    ok[shaped] = _check_digits_ok(s[shaped])
    return ok


def make_nhs_numbers(n: int, *, seed: int = 0) -> list[str]:
    """``n`` distinct valid synthetic NHS numbers (9xx range, as NHS test numbers use)."""
    rng = np.random.default_rng(seed)
    found: list[str] = []
    seen: set[str] = set()
    while len(found) < n:
        # About 1 in 11 draws has no valid check digit; draw extra and filter in bulk.
        body = rng.integers(900_000_000, 999_999_999, size=max(16, (n - len(found)) * 2))
        digits = (body[:, None] // 10 ** np.arange(8, -1, -1)) % 10
        check = 11 - (digits @ _NHS_WEIGHTS) % 11
        check = np.where(check == 11, 0, check)
        good = check != 10
        numbers = body[good] * 10 + check[good]
        for number in map(str, numbers.tolist()):
            if number not in seen and len(found) < n:
                seen.add(number)
                found.append(number)
    return found


def clean_nhs_number(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``(nhs_number, nhs_number_status)``: valid digits or NA; ``valid``/``invalid``/``missing``.

    Accepts spaces and hyphens (``943 476 5919``) and recovers Excel's scientific notation
    (``9.434765919E9``); a number Excel has rounded fails the check digit and is ``invalid``.
    """
    s = _text(raw)
    missing = s.isna()
    sci = s.str.fullmatch(r"\d(?:\.\d+)?[eE]\+?\d{1,2}").fillna(False).astype(bool)
    if sci.any():
        as_float = pd.to_numeric(s[sci], errors="coerce")
        # float64 holds 10-digit integers exactly; anything fractional was not an NHS number.
        whole = as_float.notna() & (as_float == np.floor(as_float)) & (as_float < 1e10)
        s.loc[sci] = as_float.where(whole).map(lambda v: f"{v:.0f}", na_action="ignore")
    s = s.str.replace(r"[\s\-]", "", regex=True)
    ok = nhs_check_digit_ok(s.fillna(""))
    status = pd.Series(
        np.where(missing, "missing", np.where(ok, "valid", "invalid")), index=s.index
    ).astype("string")
    return s.where(ok).astype("string"), status


# --- Postcode ---------------------------------------------------------------------------


def clean_postcode(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``(postcode, postcode_valid)``: upper case, one space before the 3-character inward code."""
    s = _text(raw).str.upper().str.replace(r"\s+", "", regex=True)
    s = s.mask(s == "")
    plausible = s.str.len().between(5, 7).fillna(False).astype(bool)
    spaced = s.str[:-3] + " " + s.str[-3:]
    s = spaced.where(plausible, s)
    valid = s.str.fullmatch(POSTCODE_PATTERN).fillna(False).astype(bool)
    return s, valid


def is_pseudo_postcode(postcode: pd.Series) -> pd.Series:
    """True for ``ZZ99`` pseudo-postcodes (no fixed abode, overseas, not known).

    They are format-valid but shared by unrelated people, so they say nothing about a
    household; callers building households should exclude them.
    """
    return postcode.astype("string").str.startswith("ZZ99").fillna(False).astype(bool)


# --- Dates ------------------------------------------------------------------------------


def _parse_with(s: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Try each ``strptime`` format on the cells the earlier ones could not read."""
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    todo = s.notna()
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce")
        out[todo] = parsed.astype("datetime64[ns]")
        todo = todo & out.isna()
    return out


def _date_formats(date_format: DateFormat) -> tuple[str, ...]:
    if date_format not in DATE_FORMATS:
        raise ValueError(f"date_format must be one of {DATE_FORMATS}, not {date_format!r}")
    # ISO cannot be misread as DD/MM/YYYY, so a "dmy" source may still send ISO safely.
    return ("%Y-%m-%d",) if date_format == "iso" else ("%d/%m/%Y", "%Y-%m-%d")


def parse_dates(raw: pd.Series, *, date_format: DateFormat = "iso") -> Cleaned:
    """Dates at midnight. ``iso``: ``YYYY-MM-DD``; ``dmy``: ``DD/MM/YYYY`` (ISO also read).

    Impossible dates (``31/02/2020``) are invalid, not rolled over.
    """
    s = _text(raw)
    values = _parse_with(s, _date_formats(date_format))
    return Cleaned(values, s.notna() & values.isna())


def parse_datetimes(raw: pd.Series, *, date_format: DateFormat = "iso") -> Cleaned:
    """Date-times ``YYYY-MM-DDTHH:MM[:SS]`` or with a space; ``DD/MM/YYYY HH:MM[:SS]`` for dmy."""
    s = _text(raw).str.replace("T", " ", n=1, regex=False)
    formats = [f"{d} %H:%M:%S" for d in _date_formats(date_format)]
    formats += [f"{d} %H:%M" for d in _date_formats(date_format)]
    values = _parse_with(s, tuple(formats))
    return Cleaned(values, s.notna() & values.isna())


# --- Codes and small vocabularies --------------------------------------------------------

_SEX: Mapping[str, str] = {
    "M": "M",
    "MALE": "M",
    "1": "M",
    "F": "F",
    "FEMALE": "F",
    "2": "F",
    "U": "U",
    "UNKNOWN": "U",
    "NOT KNOWN": "U",
    "NOT SPECIFIED": "U",
    "INDETERMINATE": "U",
    "I": "U",
    "X": "U",
    "0": "U",
    "9": "U",
}

_YN: Mapping[str, bool] = {
    "Y": True,
    "YES": True,
    "TRUE": True,
    "1": True,
    "N": False,
    "NO": False,
    "FALSE": False,
    "0": False,
}


def _lookup(raw: pd.Series, table: Mapping[str, object]) -> tuple[pd.Series, pd.Series]:
    s = _text(raw).str.upper().str.replace(r"\s+", " ", regex=True)
    mapped = s.map(table, na_action="ignore")
    return mapped, s.notna() & mapped.isna()


def clean_sex(raw: pd.Series) -> Cleaned:
    """``M``/``F``/``U`` from letters, words or NHS Data Dictionary codes (1, 2, 0/9)."""
    mapped, invalid = _lookup(raw, _SEX)
    return Cleaned(mapped.astype("string"), invalid)


def clean_yn(raw: pd.Series) -> Cleaned:
    """Y/N as bool; blank (and unreadable, flagged invalid) are False."""
    mapped, invalid = _lookup(raw, _YN)
    return Cleaned(mapped.eq(True).astype(bool), invalid)


def clean_enum(raw: pd.Series, allowed: tuple[str, ...]) -> Cleaned:
    """Upper-case value from ``allowed`` (spaces and hyphens read as ``_``), else NA + invalid."""
    s = _text(raw).str.upper().str.replace(r"[\s\-]+", "_", regex=True)
    ok = s.isin(allowed)
    return Cleaned(s.where(ok).astype("string"), s.notna() & ~ok)


def clean_codes(raw: pd.Series) -> Cleaned:
    """A ``|``-separated code list with spaces removed and empty entries dropped."""
    s = _text(raw).str.replace(r"\s+", "", regex=True)
    s = s.str.replace(r"\|{2,}", "|", regex=True).str.strip("|")
    s = s.mask(s == "")
    return Cleaned(s, _no_invalid(s))
