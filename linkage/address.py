"""Address standardisation and address keys (the address half of household linkage).

``standardise_addresses`` parses the ``address_1, address_2, town, postcode, uprn`` columns of
person records into ``flat, house_number, house_name, street, town, postcode, uprn`` plus a
normalised ``address_text``; ``assign_address_keys`` clusters the parsed addresses and gives
every usable one a deterministic ``address_key`` (``UPRN:<uprn>`` or
``<postcode>|<flat>|<number>|<street or house name>``).

Parser choice
-------------
Hand-written regular expressions, applied column-at-a-time to the *distinct* address strings
only (records repeat addresses across sources, so the per-string work is done once per
distinct string), and each pass only to the strings it can change: three cheap searches
decide which lines have punctuation, untidy commas, a flat, floor, embedded postcode or
no-fixed-abode text at all, so a tidy line costs a few passes, not ~25.  Considered and not
used:

* ``uk_address_matcher`` (MoJ, Splink-based): installs here but pulls Splink 4 + DuckDB and
  is built to match messy addresses *against a canonical gazetteer* (OS AddressBase / NGD),
  which a CCG batch does not have; we need record-to-record clustering.  Its cleaning steps
  (postcode extraction, flat-to-front, numeric ranges, an abbreviation map) informed the
  rules below.
* ``usaddress``: a CRF trained on US address grammar, called once per string (a Python loop
  per record) and it does not know UK flats or postcodes.
* ``postal`` (libpostal): needs the native C library plus ~2 GB of model data; not
  installable in this environment.

So no new dependency: pandas string methods, numpy and rapidfuzz (``process.cpdist`` over
aligned candidate pairs) do everything.  Flat and house numbers are compared exactly; only
the street/house-name text is compared fuzzily, within a postcode (or across postcodes one
character apart, for the same flat and number).  Addresses are never logged.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rapidfuzz import fuzz, process

from adapters.errors import ConfigError, DalinkError

ADDRESS_COLUMNS: tuple[str, ...] = ("address_1", "address_2", "town", "postcode", "uprn")
STANDARD_COLUMNS: tuple[str, ...] = (
    "flat",
    "house_number",
    "house_name",
    "street",
    "town",
    "postcode",
    "uprn",
    "address_text",
    "no_fixed_abode",
    "usable",
    "has_address",
)

# Street-type and common address-word abbreviations, expanded token by token.  ``ST`` is
# handled separately (SAINT as a prefix, STREET otherwise).
ABBREVIATIONS: Mapping[str, str] = MappingProxyType(
    {
        "RD": "ROAD",
        "AVE": "AVENUE",
        "AV": "AVENUE",
        "AVN": "AVENUE",
        "CRES": "CRESCENT",
        "CRESC": "CRESCENT",
        "CRS": "CRESCENT",
        "CL": "CLOSE",
        "CLS": "CLOSE",
        "DR": "DRIVE",
        "DRV": "DRIVE",
        "LN": "LANE",
        "GDNS": "GARDENS",
        "GDN": "GARDENS",
        "GRDNS": "GARDENS",
        "PL": "PLACE",
        "SQ": "SQUARE",
        "CT": "COURT",
        "CRT": "COURT",
        "CTYD": "COURTYARD",
        "TER": "TERRACE",
        "TERR": "TERRACE",
        "TCE": "TERRACE",
        "GRN": "GREEN",
        "GRV": "GROVE",
        "GR": "GROVE",
        "PK": "PARK",
        "WY": "WAY",
        "WLK": "WALK",
        "PDE": "PARADE",
        "HTS": "HEIGHTS",
        "MT": "MOUNT",
        "HL": "HILL",
        "HWY": "HIGHWAY",
        "BLVD": "BOULEVARD",
        "CSWY": "CAUSEWAY",
        "VW": "VIEW",
        "EST": "ESTATE",
        "HSE": "HOUSE",
        "CTG": "COTTAGE",
        "COTT": "COTTAGE",
        "COTTS": "COTTAGES",
        "FM": "FARM",
        "BLDG": "BUILDING",
        "BLDGS": "BUILDINGS",
        "UPR": "UPPER",
        "LWR": "LOWER",
        "GT": "GREAT",
    }
)

# Words that make a lone comma part a street rather than a house name.
_STREET_TYPES: tuple[str, ...] = tuple(
    [
        "ROAD",
        "STREET",
        "AVENUE",
        "CRESCENT",
        "CLOSE",
        "DRIVE",
        "LANE",
        "GARDENS",
        "PLACE",
        "SQUARE",
        "COURT",
        "TERRACE",
        "GREEN",
        "GROVE",
        "PARK",
        "WAY",
        "WALK",
        "PARADE",
        "HEIGHTS",
        "MOUNT",
        "HILL",
        "HIGHWAY",
        "BOULEVARD",
        "CAUSEWAY",
        "VIEW",
        "ROW",
        "MEWS",
        "RISE",
        "END",
        "YARD",
        "WHARF",
        "CHASE",
        "GATE",
        "HOLLOW",
    ]
)

_FLOOR_CODES: Mapping[str, str] = MappingProxyType(
    {
        "BASEMENT": "BF",
        "LOWER GROUND": "LGF",
        "GROUND": "GF",
        "FIRST": "1F",
        "1ST": "1F",
        "SECOND": "2F",
        "2ND": "2F",
        "THIRD": "3F",
        "3RD": "3F",
        "TOP": "TF",
    }
)

_POSTCODE_FULL = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
_POSTCODE_IN_TEXT = r"\b([A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})\b"
_NFA_COMPACT = ("NFA", "NOFIXEDABODE", "NOFIXEDADDRESS")
_SUB_BUILDING = r"(?:FLAT|FLT|APARTMENT|APPARTMENT|APT|UNIT|ROOM|RM|STUDIO|MAISONETTE|SUITE)"
_FLAT_RE = rf"\b{_SUB_BUILDING}\s+(?:NO\s+|NUMBER\s+)?([0-9]+[A-Z]?|[A-Z][0-9]*)\b"
_FLOOR_RE = (
    r"\b(BASEMENT|LOWER GROUND|GROUND|FIRST|1ST|SECOND|2ND|THIRD|3RD|TOP)\s+FLOOR"
    rf"(?:\s+{_SUB_BUILDING})?\b"
)
_NUMBER_SPLIT = (
    r"^(?P<pre>.*?)(?:^|[\s,])(?P<num>[0-9]+[A-Z]?(?:-[0-9]+[A-Z]?)?)(?=[\s,]|$)(?P<post>.*)$"
)
_EXPANSIONS: Mapping[str, str] = MappingProxyType({**ABBREVIATIONS, "ST": "STREET"})
_EXPAND_RE = re.compile(
    r"(?P<lead>^|,|\b[0-9]+[A-Z]?(?:-[0-9]+[A-Z]?)?)\s*\bST\s+(?=[A-Z])"
    r"|\b(?P<word>" + "|".join(sorted(_EXPANSIONS, key=len, reverse=True)) + r")\b"
)
_STREET_TYPE_END = r"\b(?:" + "|".join(_STREET_TYPES) + r")$"
_NUMBER_SPLIT_RE = re.compile(_NUMBER_SPLIT)
_ODD_CHARACTER = re.compile(r"[^A-Z0-9, ]")
_COMMA_RUN = re.compile(r"\s*,[\s,]*")
_DOUBLE_SEPARATOR = re.compile(r"[ ,]{2}")
_NO_BEFORE_SPACE = re.compile(r"\bNO\s")
_POSTCODE_IN_TEXT_RE = re.compile(_POSTCODE_IN_TEXT)
_FLAT_RE_C = re.compile(_FLAT_RE)
_FLOOR_RE_C = re.compile(_FLOOR_RE)
# Every word _EXPAND_RE can change is a whole run of word characters (both alternatives are
# bounded by \b), so a string none of whose runs is in this set is left as it is.
_EXPANSION_WORDS = frozenset(_EXPANSIONS)
_WORD_RUNS = re.compile(r"\w+")
# Something every match of _FLAT_RE, _FLOOR_RE, _POSTCODE_IN_TEXT or a no-fixed-abode text
# contains (its compact form starts "NF" or "NOF"); a line without it needs none of them.
_MAYBE_COMPONENT = rf"\b{_SUB_BUILDING}\s|\sFLOOR|[0-9][A-Z]{{2}}\b|N[^A-Z0-9]*(?:O[^A-Z0-9]*)?F"


log = logging.getLogger(__name__)


class AddressInputError(DalinkError):
    """A frame handed to address standardisation or keying lacks required columns."""


@dataclass(frozen=True)
class AddressMatchSettings:
    """How parsed addresses are clustered into address keys.

    ``street_similarity``: minimum rapidfuzz ``ratio`` (0-100) between the street / house
    name texts of two addresses with the same postcode, flat and house number.
    ``postcode_typo_similarity``: the (stricter) minimum when the postcodes differ by one
    character.  ``postcode_typo_tolerance``: whether such one-character postcode typos are
    tolerated at all.
    """

    street_similarity: float = 85.0
    postcode_typo_similarity: float = 92.0
    postcode_typo_tolerance: bool = True

    def __post_init__(self) -> None:
        for name in ("street_similarity", "postcode_typo_similarity"):
            value = getattr(self, name)
            if not 0.0 < value <= 100.0:
                raise ConfigError(
                    f"AddressMatchSettings.{name} must be in (0, 100], got {value!r}; "
                    "use e.g. 85 for 85% similarity."
                )


DEFAULT_MATCH_SETTINGS = AddressMatchSettings()


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AddressInputError(
            f"{what} needs columns {', '.join(missing)} (contract B); "
            "pass the person-records frame from adapters.records.person_records."
        )


def _per_distinct(series: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``transform`` applied to the distinct upper-cased values only; '' where missing."""
    codes, uniques = pd.factorize(series, sort=False)
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype=object).str.upper()
    done = transform(distinct).to_numpy(dtype=object) if len(distinct) else np.empty(0, object)
    return np.append(done, "")[codes]


def _on_rows(
    text: pd.Series, rows: np.ndarray, transform: Callable[[pd.Series], pd.Series]
) -> pd.Series:
    """``text`` with ``transform`` applied to the rows where the mask ``rows`` is set.

    Each pass below runs only on the rows it can change (a pass is the per-string cost
    here), so on the usual tidy address most passes never run at all.
    """
    if not rows.any():
        return text
    out = text.to_numpy(dtype=object, copy=True)
    out[rows] = transform(pd.Series(out[rows], dtype=object)).to_numpy(dtype=object)
    return pd.Series(out, index=text.index, dtype=object)


def _groups(text: pd.Series, pattern: re.Pattern[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Where ``pattern`` is found in each string, and each group's text ('' where there is
    no match or the group took no part).

    ``Series.str.extract`` without the DataFrame it builds per call, which costs several
    times the regular expression itself.
    """
    search = pattern.search
    found = [search(value) for value in text.to_numpy(dtype=object)]
    matched = np.fromiter((m is not None for m in found), dtype=bool, count=len(found))
    groups = []
    for group in range(1, pattern.groups + 1):
        values = np.full(len(found), "", dtype=object)
        if matched.any():
            values[matched] = [m.group(group) or "" for m in found if m is not None]
        groups.append(values)
    return matched, groups


def _has(text: pd.Series, pattern: str) -> np.ndarray:
    return text.str.contains(pattern, regex=True).to_numpy(dtype=bool)


def _squash(series: pd.Series) -> pd.Series:
    return series.str.replace(r"\s+", " ", regex=True).str.strip()


def _join(*parts: np.ndarray) -> np.ndarray:
    """Element-wise the non-empty ``parts`` joined by single spaces (object arrays of str).

    One ``str.join`` per row into one list of str (no per-row containers survive the call:
    rows of containers that live until the end would each count toward, and trigger, a full
    garbage collection of the night).
    """
    joined = np.empty(len(parts[0]), dtype=object)
    rows = zip(*(part.tolist() for part in parts), strict=True)
    joined[:] = [" ".join(filter(None, row)) for row in rows]
    return joined


def _string_array(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """An object array of str as a ``string`` array, NA where empty."""
    values = values.copy()
    values[values == ""] = None
    return pd.array(values, dtype="string")


def _postcode_form(upper: pd.Series) -> pd.Series:
    compact = upper.str.replace(r"[^A-Z0-9]", "", regex=True)
    return compact.str.replace(_POSTCODE_FULL, r"\1 \2", regex=True)


def _uprn_form(upper: pd.Series) -> pd.Series:
    def clean(uprn: pd.Series) -> pd.Series:
        digits = uprn.str.strip().str.replace(r"\.0+$", "", regex=True)
        return digits.str.replace(r"[^0-9]", "", regex=True).str.lstrip("0")

    # Plain digits without a leading zero (nearly all UPRNs) are already in form.
    return _on_rows(upper, _has(upper, r"[^0-9]|^0"), clean)


def _town_form(upper: pd.Series) -> pd.Series:
    return _squash(_expand_abbreviations(upper.str.replace(r"[^A-Z0-9 ]+", " ", regex=True)))


def normalise_postcodes(postcode: pd.Series) -> pd.Series:
    """Upper case, one space before the inward code; '' when empty.  Invalid ones compacted."""
    return pd.Series(_per_distinct(postcode, _postcode_form), index=postcode.index, dtype=object)


def _expansion(match: re.Match[str]) -> str:
    word = match.group("word")
    return match.group("lead") + " SAINT " if word is None else _EXPANSIONS[word]


def _expand_abbreviations(text: pd.Series) -> pd.Series:
    # ST is SAINT at the start of a part (after a comma, a house number or the start) when a
    # word follows ("14 ST JOHNS ROAD"); everywhere else it is STREET ("HIGH ST").  One pass:
    # the SAINT alternative is tried first at each position, and the word alternatives only
    # ever match whole words, which the SAINT alternative never starts inside.
    # Only strings holding one of the words are passed to the (slow) alternation.
    words = _EXPANSION_WORDS.isdisjoint
    runs = _WORD_RUNS.findall
    holds = np.fromiter(
        (not words(runs(value)) for value in text.to_numpy(dtype=object)),
        dtype=bool,
        count=len(text),
    )
    return _on_rows(text, holds, lambda t: t.str.replace(_EXPAND_RE, _expansion, regex=True))


def _commas(text: pd.Series) -> pd.Series:
    """Single spaces, one bare comma between parts, none at either end (strings only).

    One function per string rather than four pandas passes: ``" ".join(v.split())`` is
    ``_squash`` (``str.split`` and ``\\s`` know the same whitespace).
    """
    sub = _COMMA_RUN.sub
    tidied = [sub(",", " ".join(v.split())).strip(", ") for v in text.to_numpy(dtype=object)]
    return pd.Series(tidied, index=text.index, dtype=object)


def _clean_lines(lines: pd.Series) -> pd.Series:
    """Cheap first pass over upper-cased lines: punctuation, spacing, ``2/14``, ranges.

    Its output is deduplicated again before the costly parse, so case, comma and spacing
    variants of one address are parsed once.  The output is tidy (``_commas`` leaves it
    as it is): single spaces, no space or second comma beside a comma, none at either end.
    """

    def punctuation(text: pd.Series) -> pd.Series:
        text = text.str.replace(r"['’`]", "", regex=True).str.replace("&", " AND ", regex=False)
        # "2/14 OAK ROAD": flat 2 of number 14 (when it opens the address).
        text = text.str.replace(
            r"^[\s,]*([0-9]+[A-Z]?)\s*/\s*([0-9]+[A-Z]?)\b", r"FLAT \1, \2", regex=True
        )
        text = text.str.replace(r"([0-9])\s*-\s*([0-9])", r"\1-\2", regex=True)
        return text.str.replace(r"[^A-Z0-9,\-]+|-(?![0-9])|(?<![0-9])-", " ", regex=True)

    def tidy(text: pd.Series) -> pd.Series:
        return _commas(text.str.replace(r"\bNO\s+(?=[0-9])", "", regex=True))

    # Lines of letters, digits, commas and single spaces only: punctuation() leaves them be.
    # (The tests below are the regular expressions r"[^A-Z0-9, ]| {2}" and
    # r"^[ ,]|[ ,]$|[ ,]{2}|\bNO\s", split so that plain string tests do most of the work.)
    odd = _ODD_CHARACTER.search
    values = lines.to_numpy(dtype=object)
    text = _on_rows(
        lines,
        np.fromiter(
            (odd(v) is not None or "  " in v for v in values), dtype=bool, count=len(values)
        ),
        punctuation,
    )
    # From here the only whitespace is a plain space, so a line with no "NO " and no space
    # or comma at an end or beside another is already tidy.
    double, no_number = _DOUBLE_SEPARATOR.search, _NO_BEFORE_SPACE.search
    values = text.to_numpy(dtype=object)
    untidy = (
        v.startswith((" ", ","))
        or v.endswith((" ", ",", " \n", ",\n"))
        or double(v) is not None
        or ("NO" in v and no_number(v) is not None)
        for v in values
    )
    return _on_rows(text, np.fromiter(untidy, dtype=bool, count=len(values)), tidy)


def _cut_components(text: pd.Series) -> pd.DataFrame:
    """No-fixed-abode test; embedded postcode, flat and floor cut out of tidy lines."""
    compact = text.str.replace(r"[^A-Z0-9]", "", regex=True)
    nfa = compact.isin(_NFA_COMPACT) | compact.str.contains("NOFIXEDABODE", regex=False)

    has_postcode, (found,) = _groups(text, _POSTCODE_IN_TEXT_RE)
    embedded = np.full(len(text), "", dtype=object)
    if has_postcode.any():
        embedded[has_postcode] = _postcode_form(
            pd.Series(found[has_postcode], dtype=object)
        ).to_numpy(dtype=object)
    text = _on_rows(text, has_postcode, lambda t: t.str.replace(_POSTCODE_IN_TEXT, " ", regex=True))

    has_flat, (flat,) = _groups(text, _FLAT_RE_C)
    text = _on_rows(text, has_flat, lambda t: t.str.replace(_FLAT_RE, " , ", regex=True, n=1))
    has_floor, (floor,) = _groups(text, _FLOOR_RE_C)
    floor_code = np.array([_FLOOR_CODES.get(f, "") for f in floor], dtype=object)
    flat = np.where(flat != "", flat, floor_code)
    text = _on_rows(text, has_floor, lambda t: t.str.replace(_FLOOR_RE, " , ", regex=True, n=1))
    # Tidy again where something was cut out.
    text = _on_rows(text, has_postcode | has_flat | has_floor, _commas)
    return pd.DataFrame(
        {
            "text": text.to_numpy(dtype=object),
            "flat": flat,
            "embedded_postcode": embedded,
            "no_fixed_abode": nfa.to_numpy(dtype=bool),
        }
    )


def _parse_lines(text: pd.Series) -> pd.DataFrame:
    """Parse distinct tidy ``_clean_lines`` strings into components."""
    n = len(text)
    lines = text.to_numpy(dtype=object, copy=True)
    flat = np.full(n, "", dtype=object)
    embedded = np.full(n, "", dtype=object)
    nfa = np.zeros(n, dtype=bool)
    maybe = _has(text, _MAYBE_COMPONENT)
    if maybe.any():
        cut = _cut_components(pd.Series(lines[maybe], dtype=object))
        lines[maybe] = cut["text"].to_numpy()
        flat[maybe] = cut["flat"].to_numpy()
        embedded[maybe] = cut["embedded_postcode"].to_numpy()
        nfa[maybe] = cut["no_fixed_abode"].to_numpy()
    text = pd.Series(lines, dtype=object)

    # Tidy again where SAINT was put in.
    expanded = _expand_abbreviations(text)
    text = _on_rows(expanded, (expanded != text).to_numpy(), _commas)

    has_number, (pre, number_arr, post) = _groups(text, _NUMBER_SPLIT_RE)
    house_name = np.full(len(text), "", dtype=object)
    street = np.full(len(text), "", dtype=object)
    if has_number.any():
        house_name[has_number] = [p.strip(", ") for p in pre[has_number]]
        # The street: what follows the number, up to the next comma.
        street[has_number] = [p.strip(", ").split(",", 1)[0].strip() for p in post[has_number]]
    if not has_number.all():
        # Without a house number: "NAME, STREET", "NAME" or a lone "STREET" (the first two
        # comma parts).
        parts = [line.split(",", 2) for line in text.to_numpy(dtype=object)[~has_number]]
        first = np.array([p[0].strip() for p in parts], dtype=object)
        second = np.array([p[1].strip() if len(p) > 1 else "" for p in parts], dtype=object)
        lone = second == ""
        lone[lone] = _has(pd.Series(first[lone], dtype=object), _STREET_TYPE_END)
        house_name[~has_number] = np.where(lone, "", first)
        street[~has_number] = np.where(lone, first, second)

    named = house_name != ""
    house_name[named] = _squash(
        pd.Series(house_name[named], dtype=object).str.replace(",", " ", regex=False)
    ).to_numpy(dtype=object)
    flat_text = np.where(flat == "", "", "FLAT " + flat)
    line_text = _join(flat_text, house_name, number_arr, street)
    return pd.DataFrame(
        {
            "flat": flat,
            "house_number": number_arr,
            "house_name": house_name,
            "street": street,
            "line_text": line_text,
            "embedded_postcode": embedded,
            "no_fixed_abode": nfa,
        }
    )


def _standardise_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``standardise_addresses`` of every row of ``frame`` (the parse itself, no cache).

    Each output row is a function of that row's five address values alone (every pass is
    per string), which is what lets ``parse_addresses`` parse a raw address once and reuse
    the result for every record and night that carries it.
    """
    # Parse each distinct (address_1, address_2) once: real extracts repeat addresses.
    code_1, lines_1 = pd.factorize(frame["address_1"], sort=False)
    code_2, lines_2 = pd.factorize(frame["address_2"], sort=False)
    pair = (code_1.astype(np.int64) + 1) * (len(lines_2) + 1) + (code_2 + 1)
    pair_code, pair_uniques = pd.factorize(pair, sort=False)
    text_1 = np.append(np.asarray(lines_1, dtype=object), "")
    text_2 = np.append(np.asarray(lines_2, dtype=object), "")
    first = text_1[pair_uniques // (len(lines_2) + 1) - 1]
    second = text_2[pair_uniques % (len(lines_2) + 1) - 1]
    # A blank line adds no comma: _clean_lines strips a comma at either end anyway, and
    # without one a line that is otherwise tidy needs no tidying pass.
    joined = pd.Series(
        np.where(first == "", second, np.where(second == "", first, first + "," + second)),
        dtype=object,
    )
    clean_code, cleaned = pd.factorize(_clean_lines(joined.str.upper()), sort=False)
    parsed = _parse_lines(pd.Series(np.asarray(cleaned, dtype=object), dtype=object))
    take = clean_code[pair_code]
    part = {c: parsed[c].to_numpy()[take] for c in parsed.columns}

    postcode = _per_distinct(frame["postcode"], _postcode_form)
    postcode = np.where(postcode == "", part["embedded_postcode"], postcode)
    town = _per_distinct(frame["town"], _town_form)
    uprn = _per_distinct(frame["uprn"], _uprn_form)

    has_line = pair_uniques[pair_code] != 0  # 0 = both lines missing
    nfa = part["no_fixed_abode"] | (pd.Series(postcode, dtype=object).str.startswith("ZZ99"))
    nfa = np.asarray(nfa, dtype=bool)
    has_point = (part["flat"] != "") | (part["house_number"] != "") | (part["house_name"] != "")
    usable = ~nfa & ((uprn != "") | ((postcode != "") & has_point))

    text_columns = {
        "flat": part["flat"],
        "house_number": part["house_number"],
        "house_name": part["house_name"],
        "street": part["street"],
        "town": town,
        "postcode": postcode,
        "uprn": uprn,
        "address_text": _join(part["line_text"], town, postcode),
    }
    result = pd.DataFrame(
        {name: _string_array(values) for name, values in text_columns.items()}, index=frame.index
    )
    result["no_fixed_abode"] = nfa
    result["usable"] = usable
    result["has_address"] = has_line | (postcode != "") | (uprn != "")
    return result


#: Layout version of the ``addresses`` night-state blob (``ParsedAddresses.to_bytes``).  Bump
#: it when the blob's columns change or when a parse result would change for a reason the
#: parser stamp below cannot see.
PARSE_CACHE_VERSION = 1
_STAMP_KEY = b"dalink.addresses"
_STRING_STANDARD = STANDARD_COLUMNS[:8]  # flat ... address_text: ``string``; the rest bool


def _parser_stamp() -> dict[str, str | int]:
    """What a cached parse was made with: blob version, parser source, pandas and Python.

    The source digest covers this whole module, so any edit to the parser invalidates the
    cache even if its author forgets ``PARSE_CACHE_VERSION`` (an edit elsewhere in the
    module costs one night of parsing afresh, nothing more).
    """
    try:
        source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    except OSError:  # no readable source (a frozen install): the version alone decides
        source = ""
    return {
        "version": PARSE_CACHE_VERSION,
        "parser": source,
        "pandas": pd.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


@dataclass(frozen=True)
class ParsedAddresses:
    """Distinct raw addresses and their standardised form: one night's parse, for the next.

    ``raw``: ``ADDRESS_COLUMNS`` as object arrays (``str``; ``None`` when missing), one row
    per distinct raw address.  ``standard``: ``STANDARD_COLUMNS`` of each row of ``raw``,
    exactly as ``standardise_addresses`` gives them (a parse depends on the five raw values
    alone, so a raw address seen last night needs no parsing tonight).
    """

    raw: pd.DataFrame
    standard: pd.DataFrame

    def to_bytes(self) -> bytes:
        """A Parquet file (dictionary-encoded, zstd): towns, postcodes and streets repeat."""
        frame = pd.concat(
            [self.raw.add_prefix("raw_").reset_index(drop=True), self.standard], axis=1
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        metadata = {**(table.schema.metadata or {}), _STAMP_KEY: json.dumps(_parser_stamp())}
        sink = io.BytesIO()
        pq.write_table(table.replace_schema_metadata(metadata), sink, compression="zstd")
        return sink.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> ParsedAddresses | None:
        """The cached parse, or ``None`` when it was made by another parser or layout (or is
        unreadable): the night then parses every address afresh, as on a first night.

        Text columns are read as Parquet dictionaries and each distinct string is made a
        Python string once (towns, postcodes and streets repeat), not once per row.
        """
        raw_columns = [f"raw_{c}" for c in ADDRESS_COLUMNS]
        try:
            table = pq.read_table(
                io.BytesIO(blob), read_dictionary=[*raw_columns, *_STRING_STANDARD]
            )
        except (pa.ArrowException, OSError):
            log.warning("address parse cache unreadable; parsing all addresses afresh")
            return None
        stamp = (table.schema.metadata or {}).get(_STAMP_KEY)
        if stamp is None or json.loads(stamp) != _parser_stamp():
            return None
        if table.column_names != [*raw_columns, *STANDARD_COLUMNS]:
            return None
        types = [table.schema.field(name).type for name in table.column_names]
        raw_types, text_types = types[: len(raw_columns)], types[len(raw_columns) : -3]
        if not (
            all(_is_text(t) or pa.types.is_null(t) for t in raw_types)
            and all(_is_text(t) for t in text_types)
            and all(pa.types.is_boolean(t) for t in types[-3:])
        ):
            return None
        raw = pd.DataFrame({c: _decoded(table.column(f"raw_{c}"), None) for c in ADDRESS_COLUMNS})
        standard = pd.DataFrame(
            {
                **{
                    c: pd.array(_decoded(table.column(c), pd.NA), dtype="string")
                    for c in _STRING_STANDARD
                },
                **{
                    c: table.column(c).to_numpy().astype(bool)
                    for c in STANDARD_COLUMNS[len(_STRING_STANDARD) :]
                },
            }
        )
        return cls(raw=raw, standard=standard)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_dictionary(kind) and pa.types.is_string(kind.value_type)


def _decoded(column: pa.ChunkedArray, missing: object) -> np.ndarray:
    """A dictionary-encoded (or all-null) text column as an object array of ``str``,
    ``missing`` where null: one Python string per distinct value."""
    values = np.full(len(column), missing, dtype=object)
    start = 0
    for chunk in column.chunks:  # a loop over row groups, not rows
        end = start + len(chunk)
        if pa.types.is_dictionary(chunk.type) and len(chunk.dictionary):
            words = chunk.dictionary.to_numpy(zero_copy_only=False)
            at = chunk.indices.fill_null(0).to_numpy(zero_copy_only=False)
            present = chunk.is_valid().to_numpy(zero_copy_only=False)
            values[start:end][present] = words[at[present]]
        start = end
    return values


@dataclass(frozen=True)
class AddressParse:
    """``standard``: one standardised row per distinct raw address of the frame parsed;
    ``codes``: each frame row's position in ``standard``; ``cache``: the parse for the next
    night (``None`` when the address columns do not all hold text, which a cache keyed on
    text could not hold faithfully); ``reused``: distinct addresses taken from the cache."""

    codes: np.ndarray
    standard: pd.DataFrame
    cache: ParsedAddresses | None
    reused: int


def _text_values(column: pd.Series) -> np.ndarray | None:
    """``column`` as an object array of ``str`` with ``None`` for missing, or ``None`` when it
    holds anything but text (a number's parse cannot be cached under its text form)."""
    if isinstance(column.dtype, pd.StringDtype):
        values = column.to_numpy(dtype=object)
        values[column.isna().to_numpy()] = None
        return values
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in (
        "string",
        "empty",
    ):
        values = column.to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None
        return values
    return None


def _raw_values(column: pd.Series) -> np.ndarray:
    """A column's values as an array, a ``string`` column's read in place (NA where
    missing): ``to_numpy`` would look for NA first."""
    if isinstance(column.dtype, pd.StringDtype):
        return np.asarray(column.array)
    return column.to_numpy()


def _positions_in(
    previous: pd.DataFrame, tonight: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Each tonight row's row number in ``previous`` (same five raw values), else -1.

    ``tonight``: per column of ``ADDRESS_COLUMNS``, each row's code into that column's
    distinct ``str`` values (-1: missing) and those values, so each distinct value is
    hashed once rather than once per row.
    """
    known = len(previous)
    columns = []
    for column, (codes, values) in zip(ADDRESS_COLUMNS, tonight, strict=True):
        both = pd.factorize(np.concatenate([previous[column].to_numpy(dtype=object), values]))
        code = both[0] + 1  # 0: missing, on both sides
        columns.append(np.concatenate([code[:known], np.append(code[known:], 0)[codes]]))
    ids = _tuple_ids(*columns)
    owner = np.full(int(ids.max()) + 1, -1, dtype=np.intp)
    owner[ids[:known]] = np.arange(known)
    return owner[ids[known:]]


def _take_columns(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The rows at positions ``rows`` of ``frame``'s address columns (no other column is
    copied)."""
    return pd.DataFrame(
        {column: frame[column].array.take(rows) for column in ADDRESS_COLUMNS},
        index=frame.index[rows],
    )


def parse_addresses(
    frame: pd.DataFrame, *, previous: ParsedAddresses | None = None
) -> AddressParse:
    """Standardise each distinct raw address of ``frame`` once, reusing ``previous``.

    Records repeat addresses (a family, several sources), and a night repeats last night's,
    so only raw addresses neither earlier in ``frame`` nor in ``previous`` are parsed; the
    rest are taken as they are (exactly what a parse gives: see ``ParsedAddresses``).
    """
    _require_columns(frame, ADDRESS_COLUMNS, "standardise_addresses")
    # Each column factorized once: its codes number the rows' distinct addresses, and give
    # the distinct addresses' values and where they are missing.
    factorized = [pd.factorize(_raw_values(frame[c])) for c in ADDRESS_COLUMNS]
    codes = (
        _tuple_ids(*(code + 1 for code, _ in factorized)).astype(np.intp)
        if len(frame)
        else np.empty(0, dtype=np.intp)
    )
    first = np.unique(codes, return_index=True)[1]  # codes count up in first-appearance order
    distinct = _take_columns(frame, first)
    texts: dict[str, np.ndarray | None] = {}
    for column, (code, _) in zip(ADDRESS_COLUMNS, factorized, strict=True):
        if isinstance(frame[column].dtype, pd.StringDtype):
            values = np.asarray(frame[column].array)[first]
            values[code[first] < 0] = None
            texts[column] = values
        else:
            texts[column] = _text_values(distinct[column])
    cacheable = all(values is not None for values in texts.values())
    known = np.full(len(distinct), -1, dtype=np.intp)
    if previous is not None and cacheable and len(distinct) and len(previous.raw):
        known = _positions_in(
            previous.raw,
            [(code[first], np.asarray(values, dtype=object)) for code, values in factorized],
        )
    reused = np.flatnonzero(known >= 0)
    if not reused.size:
        standard = _standardise_rows(distinct).reset_index(drop=True)
    else:
        fresh = np.flatnonzero(known < 0)
        parts = [previous.standard.take(known[reused])]  # type: ignore[union-attr]
        if fresh.size:
            parts.append(_standardise_rows(distinct.iloc[fresh]))
        combined = pd.concat(parts, ignore_index=True)
        position = np.empty(len(distinct), dtype=np.intp)
        position[np.concatenate([reused, fresh])] = np.arange(len(distinct))
        standard = combined.take(position).reset_index(drop=True)
    if previous is not None:
        log.info(
            "addresses: %d distinct, %d parsed, %d reused from the last parse",
            len(distinct),
            len(distinct) - reused.size,
            reused.size,
        )
    cache = ParsedAddresses(raw=pd.DataFrame(texts), standard=standard) if cacheable else None
    return AddressParse(codes=codes, standard=standard, cache=cache, reused=int(reused.size))


def standardise_addresses(
    frame: pd.DataFrame, *, previous: ParsedAddresses | None = None
) -> pd.DataFrame:
    """Parse address columns into components, aligned with ``frame``'s index.

    Returns ``flat, house_number, house_name, street, town, postcode, uprn, address_text``
    (``string`` dtype, NA when empty), ``no_fixed_abode`` (postcode ``ZZ99...`` or text
    ``NFA`` / ``No fixed abode``) and ``usable`` (enough to key on: a UPRN, or a postcode
    with a flat, house number or house name; never for no-fixed-abode) and ``has_address``
    (any address information at all).  ``previous``: an earlier parse whose addresses need
    no parsing again (``parse_addresses``).
    """
    parse = parse_addresses(frame, previous=previous)
    result = parse.standard.take(parse.codes)
    result.index = frame.index
    return result


def factorize_sorted(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True)`` for strings: codes and the sorted distinct values.

    The same result, but the distinct strings are ordered by a numpy fixed-width string
    sort (C), or by Python's ``sorted`` (a str-only timsort) when that could differ or cost
    too much memory; either is several times faster than the object-array argsort pandas
    uses.
    """
    codes, uniques = pd.factorize(values)
    distinct = np.asarray(uniques, dtype=object)
    order = _string_order(distinct)
    rank = np.empty(len(distinct), dtype=np.intp)
    rank[order] = np.arange(len(distinct))
    return np.where(codes >= 0, rank[codes], -1), distinct[order]


_FIXED_WIDTH_SORT_MAX = 64


def _string_order(distinct: np.ndarray) -> np.ndarray:
    """Positions of the strings ``distinct`` in Python's ``sorted`` order (they are distinct,
    so any sort is stable).

    numpy's ``U`` strings compare code point by code point as ``str`` does, padded with
    NULs, so the orders agree unless a string holds a NUL; the width is capped because each
    string takes the longest one's room.
    """
    # All str, none longer than the cap, no NUL: tested on whole columns in C (the type
    # test first, so that len and join see only str).
    fits = (
        len(distinct) > 0
        and pd.api.types.infer_dtype(distinct, skipna=False) == "string"
        and max(map(len, distinct.tolist())) <= _FIXED_WIDTH_SORT_MAX
        and "\0" not in "".join(distinct.tolist())
    )
    if fits:
        return np.argsort(distinct.astype(str), kind="stable").astype(np.intp)
    return np.array(sorted(range(len(distinct)), key=distinct.__getitem__), dtype=np.intp)


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label (smallest member index) of nodes ``0..n-1``, vectorised."""
    labels = np.arange(n)
    while True:
        a = labels[left]
        b = labels[right]
        if np.array_equal(a, b):
            return labels
        low = np.minimum(a, b)
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped


def _pairs_within(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs ``i < j`` sharing a group id (``-1`` = no group), each pair once.

    Indices sorted by group (ascending within one): each index pairs with the ones after it
    in its group, enumerated with repeat/arange instead of a self-merge.
    """
    idx = np.flatnonzero(groups >= 0)
    order = np.argsort(groups[idx], kind="stable")
    member, group = idx[order], groups[idx][order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], len(group)]
    group_end = np.repeat(ends, ends - starts)
    later = group_end - np.arange(len(group)) - 1  # members after each one in its group
    left_at = np.repeat(np.arange(len(group)), later)
    first_pair = np.cumsum(later) - later
    right_at = left_at + 1 + np.arange(len(left_at)) - np.repeat(first_pair, later)
    return member[left_at], member[right_at]


def _tuple_ids(*columns: np.ndarray) -> np.ndarray:
    """One id per distinct row of equal-length non-negative integer columns, numbered in
    order of first appearance.

    Columns are packed into one int64 while their ranges fit, and renumbered only when
    the next would overflow it: one factorize for a few columns, not one per column.
    """
    ids = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for column in columns:
        values = column.astype(np.int64)
        width = int(values.max()) + 1
        if span * width >= 2**62:
            ids = pd.factorize(ids)[0].astype(np.int64)
            span = int(ids.max()) + 1
        ids = ids * width + values
        span *= width
    return pd.factorize(ids)[0].astype(np.int64)


def _postcode_typo_pairs(
    postcode: np.ndarray, flat: np.ndarray, number: np.ndarray, eligible: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Numbered forms with the same flat and number whose inward codes differ in one character.

    Named houses without a number are left out: "ROSE COTTAGE" in two neighbouring units is
    too often two houses.
    """
    # Plain string operations per form (not pandas passes: this runs every night).
    # Only the eligible forms are compacted: the pairs never involve the others.
    idx = np.flatnonzero(eligible)
    compact = np.full(len(postcode), "", dtype=object)
    compact[idx] = [p.replace(" ", "") for p in postcode[idx].tolist()]
    length = np.fromiter((len(c) for c in compact[idx].tolist()), dtype=np.int64, count=idx.size)
    idx = idx[(length >= 5) & (length <= 7)]
    if idx.size == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    sub = compact[idx]
    # Only the inward code (the last three characters): a neighbouring unit of the same
    # district.  An outward-code difference can be another town with the same street name
    # ("HIGH STREET" in CV11 and CV12), which must not merge.  Forms pair up when they share
    # district, flat, number and two of the three inward characters (integer ids, no keys
    # built as strings).
    same = _tuple_ids(
        pd.factorize(np.array([c[:-3] for c in sub], dtype=object))[0],
        pd.factorize(flat[idx])[0],
        pd.factorize(number[idx])[0],
    )
    inward = np.array([c[-3:] for c in sub], dtype="U3").view(np.uint32).reshape(-1, 3)
    lefts, rights = [], []
    for pos in range(3):  # a loop over three postcode positions, not over records
        others = [k for k in range(3) if k != pos]
        pos_left, pos_right = _pairs_within(_tuple_ids(same, *inward[:, others].T))
        lefts.append(pos_left)
        rights.append(pos_right)
    a, b = idx[np.concatenate(lefts)], idx[np.concatenate(rights)]
    differ = compact[a] != compact[b]
    a, b = a[differ], b[differ]
    return np.minimum(a, b), np.maximum(a, b)


def assign_address_keys(
    standardised: pd.DataFrame,
    *,
    settings: AddressMatchSettings = DEFAULT_MATCH_SETTINGS,
    weights: np.ndarray | None = None,
) -> pd.Series:
    """One ``address_key`` per row of ``standardise_addresses`` output (NA when not usable).

    UPRN wins: equal UPRNs share ``UPRN:<uprn>``, different UPRNs never share a key, and a
    record without a UPRN takes the UPRN of its text cluster when that cluster holds exactly
    one.  Otherwise addresses with the same postcode, flat and house number (compared
    exactly) whose street / house-name texts are similar form one cluster, as do those whose
    postcodes differ by one character of the inward code; the cluster's key
    is its most frequent form ``<postcode>|<flat>|<number>|<street or house name>`` (ties:
    lexicographically smallest), so it is deterministic and stable while the address is.

    ``weights``: how many records each row stands for (default: one each).  Keying each
    distinct standardised address once with its record count gives every record the key
    keying all the records row by row gives, since only the counts decide among forms.
    """
    _require_columns(
        standardised,
        ("flat", "house_number", "house_name", "street", "postcode", "uprn", "usable"),
        "assign_address_keys",
    )
    usable = standardised["usable"].to_numpy(dtype=bool)
    result = pd.Series(pd.NA, index=standardised.index, dtype="string")
    if not usable.any():
        return result
    # Object arrays of str ('' where missing) of the usable rows: element-wise numpy from
    # here on, not pandas Series operations.
    text = {
        column: _blank_missing(standardised[column], usable)
        for column in ("flat", "house_number", "house_name", "street", "postcode", "uprn")
    }
    flat, number, name = text["flat"], text["house_number"], text["house_name"]
    postcode = text["postcode"]
    label = np.where((number != "") | (name == ""), text["street"], name)
    has_text = (postcode != "") & ((flat != "") | (number != "") | (name != ""))
    form_text = np.where(has_text, _joined(postcode, flat, number, label), "")

    form_id, forms = factorize_sorted(form_text)
    n_forms = len(forms)
    if weights is None:
        counts = np.bincount(form_id, minlength=n_forms)
    else:
        row_weights = np.asarray(weights, dtype=np.int64)[usable]
        counts = np.bincount(form_id, weights=row_weights, minlength=n_forms).astype(np.int64)
    first_row = np.unique(form_id, return_index=True)[1]
    f_postcode = postcode[first_row]
    f_flat = flat[first_row]
    f_number = number[first_row]
    f_label = label[first_row]
    real = np.asarray(forms, dtype=object) != ""
    has_label = real & (f_label != "")

    exact_group = _exact_groups(f_postcode, f_flat, f_number)
    left, right = _pairs_within(np.where(has_label, exact_group, -1))
    threshold = np.full(left.size, settings.street_similarity)
    if settings.postcode_typo_tolerance:
        numbered = has_label & (f_number != "")
        tl, tr = _postcode_typo_pairs(f_postcode, f_flat, f_number, numbered)
        left = np.concatenate([left, tl])
        right = np.concatenate([right, tr])
        threshold = np.concatenate([threshold, np.full(tl.size, settings.postcode_typo_similarity)])
    labels_arr = f_label
    if left.size:
        score = process.cpdist(labels_arr[left], labels_arr[right], scorer=fuzz.ratio, workers=1)
        keep = score >= threshold
        left, right = left[keep], right[keep]
    comp = _components(n_forms, left, right)

    # A form with a number but no street text ("14, CV11 4AA") joins its postcode+number
    # group only when every labelled form there is one cluster (else it would bridge two).
    unlabelled = real & ~has_label
    if unlabelled.any():
        lab = pd.DataFrame({"g": exact_group[has_label], "c": comp[has_label]})
        per_group = lab.groupby("g")["c"].agg(["nunique", "first"])
        single = per_group.loc[per_group["nunique"] == 1, "first"]
        target = pd.Series(exact_group[unlabelled]).map(single)
        join = target.notna().to_numpy()
        idx = np.flatnonzero(unlabelled)[join]
        comp[idx] = target.to_numpy()[join].astype(np.intp)

    # Canonical form: most records, then lexicographically smallest (forms are sorted).
    order = np.lexsort((np.arange(n_forms), -counts, comp))
    comp_sorted = comp[order]
    leaders = order[np.r_[True, comp_sorted[1:] != comp_sorted[:-1]]]
    canonical = np.empty(n_forms, dtype=object)
    canonical[comp[leaders]] = np.asarray(forms, dtype=object)[leaders]
    text_key = np.where(has_text, canonical[comp[form_id]], "")

    # UPRN precedence: a row's own UPRN, else its form's sole UPRN, else its cluster's.
    uprn_text = text["uprn"]
    has_uprn = uprn_text != ""
    uprn_code = np.full(len(uprn_text), -1, dtype=np.int64)
    uprn_code[has_uprn], uprn_values = pd.factorize(uprn_text[has_uprn])
    uprn_values = np.asarray(uprn_values, dtype=object)
    key = np.where(has_uprn, "UPRN:" + uprn_text, "")
    for level in (np.where(has_text, form_id, -1), np.where(has_text, comp[form_id], -1)):
        with_level = level >= 0
        sole = _sole_values(level[has_uprn & with_level], uprn_code[has_uprn & with_level], n_forms)
        found = np.where(with_level, sole[np.where(with_level, level, 0)], -1)
        fill = (key == "") & (found >= 0)
        key[fill] = "UPRN:" + uprn_values[found[fill]]
    key = np.where(key != "", key, text_key)
    key[key == ""] = pd.NA

    result[usable] = key
    return result


def _joined(*parts: np.ndarray) -> np.ndarray:
    """Element-wise ``parts`` joined by "|" (object arrays of str), one string built per
    row rather than one per ``+``."""
    joined = np.empty(len(parts[0]), dtype=object)
    joined[:] = ["|".join(row) for row in zip(*(part.tolist() for part in parts), strict=True)]
    return joined


def _exact_groups(postcode: np.ndarray, flat: np.ndarray, number: np.ndarray) -> np.ndarray:
    """A group id per form (forms in sorted order) shared by the forms with the same
    postcode, flat and number.

    A form's text opens with ``postcode|flat|number|``, so in sorted order those forms are
    neighbours when no part holds a "|" (never, from the parser): a group starts wherever
    a part changes.  Otherwise the three parts are joined and factorized.
    """
    if any("|" in "".join(part.tolist()) for part in (postcode, flat, number)):
        return pd.factorize(_joined(postcode, flat, number))[0]
    starts = np.zeros(len(postcode), dtype=bool)
    starts[0] = True
    for part in (postcode, flat, number):
        starts[1:] |= part[1:] != part[:-1]
    return np.cumsum(starts) - 1


def _blank_missing(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``column[rows]`` as an object array with '' where missing (``rows``: a mask)."""
    values = np.array(column.array[rows], dtype=object)
    values[pd.isna(values)] = ""
    return values


def _sole_values(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group id ``0..n_groups-1``: its value when all its members have the same one,
    else -1 (several values, or no members).  ``values``: non-negative integer codes."""
    sole = np.full(n_groups, -1, dtype=np.int64)
    if not len(groups):
        return sole
    base = int(values.max()) + 1
    pairs = np.unique(groups.astype(np.int64) * base + values)
    group, value = pairs // base, pairs % base
    one = np.bincount(group, minlength=n_groups)[group] == 1
    sole[group[one]] = value[one]
    return sole


def address_keys(
    frame: pd.DataFrame, *, settings: AddressMatchSettings = DEFAULT_MATCH_SETTINGS
) -> pd.DataFrame:
    """``standardise_addresses(frame)`` plus its ``address_key`` column."""
    standardised = standardise_addresses(frame)
    standardised["address_key"] = assign_address_keys(standardised, settings=settings)
    return standardised
