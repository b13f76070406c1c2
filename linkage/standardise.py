"""Standardise contract-B person records into the columns blocking and comparisons use.

Every string transformation runs once per *unique* value and is mapped back, so the cost
scales with the number of distinct names, not records.  The dearest of them (``MEMOISED``)
also remember, from one night to the next, what they gave for each value (``ValueMemo``):
an extract changes by about 1% a night, so nearly every address and name was cleaned last
night already.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path

import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa
from nicknames import NickNamer

from adapters.errors import InputFileError
from linkage.address import ABBREVIATIONS

_ABBREVIATIONS = {short.lower(): long.lower() for short, long in ABBREVIATIONS.items()}

REQUIRED_COLUMNS: tuple[str, ...] = (
    "record_key",
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "address_1",
    "postcode",
)

_TITLES = re.compile(
    r"^(?:(?:mr|mrs|ms|miss|mx|dr|prof|professor|rev|revd|sir|dame|lord|lady|master)\b\.?\s*)+"
)
_NOT_LETTER = re.compile(r"[^a-z\s\-]")
_SEPARATORS = re.compile(r"[\s\-]+")


def _ascii_lower(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return decomposed.encode("ascii", "ignore").decode("ascii").lower()


#: a column as ``(codes, uniques)``: int codes (-1 = missing) numbered by first appearance,
#: exactly as ``pd.factorize`` numbers the column, and the distinct values (Python str)
ColumnCodes = tuple[np.ndarray, np.ndarray]


def _code(values: pd.Series) -> ColumnCodes:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # a plain object array: a pandas string array pays per element to hand one out
    return codes, np.asarray(uniques, dtype=object)


def _recode(codes: np.ndarray, mapped: Sequence[str | None] | np.ndarray) -> ColumnCodes:
    """Codes for the values ``mapped[codes]`` (``None`` and code -1 = missing), numbered by
    first appearance as ``pd.factorize`` of that column would number them: the engine
    then needs no string factorize of its own (the dearest step on pandas' strings), and
    every consumer sees exactly the codes it saw before."""
    m_codes, m_uniques = pd.factorize(np.array([*mapped, None], dtype=object))
    # ``codes`` are numbered by first appearance (as every ``ColumnCodes`` is): a mapped
    # value first appears where the smallest code mapping to it does, so the values are
    # numbered in the order of their smallest source code (no hashing of the records)
    used = np.zeros(len(m_codes), dtype=bool)
    used[codes] = True  # code -1 marks the trailing None: never a source
    source = np.flatnonzero(used & (m_codes >= 0))
    first = np.full(len(m_uniques), len(m_codes), dtype=np.int64)
    np.minimum.at(first, m_codes[source], source)
    order = np.argsort(first, kind="stable")
    order = order[first[order] < len(m_codes)]  # values no record has are left out
    renumber = np.full(len(m_uniques) + 1, -1, dtype=np.int64)  # the last slot: missing
    renumber[order] = np.arange(order.size)
    return renumber[m_codes[codes]], np.asarray(m_uniques, dtype=object)[order]


def _map_codes(source: ColumnCodes, func: Callable[[str], str | None]) -> ColumnCodes:
    """Apply ``func`` to each distinct value of ``source`` once."""
    codes, uniques = source
    return _recode(codes, [func(str(u)) for u in uniques])


#: the per-value functions whose results a night leaves for the next (``ValueMemo``): the
#: ones costing more than looking a value up (addresses above all: ~55k distinct at 100k
#: persons); each is a function of its one argument, this code and the libraries only
MEMOISED = ("clean_name", "canonical_given", "_clean_address", "_house_numbers", "address_key")
#: layout version of ``ValueMemo.to_bytes``; bump it when the layout or its meaning changes
MEMO_VERSION = 1


@cache
def memo_digest() -> str:
    """A digest of everything that decides a memoised function's result besides its
    argument: this module and ``linkage.address`` (the abbreviations), the name and
    phonetic libraries, Python (``str`` methods, ``re``) and its Unicode tables."""
    described = (
        f"v{MEMO_VERSION} python {sys.version} unicode {unicodedata.unidata_version} "
        f"nicknames {metadata.version('nicknames')} jellyfish {metadata.version('jellyfish')}"
    )
    digest = hashlib.sha256(described.encode())
    here = Path(__file__).parent
    for name in ("standardise", "address"):
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ValueMemo:
    """What each ``MEMOISED`` function gave for each distinct value one night saw:
    ``values[name] = (inputs, outputs)``, object arrays of ``str`` (an output may be
    ``None``), inputs distinct.  Reusing a result is exact: it was computed from the same
    value by the same code (``memo_digest``, checked when read)."""

    values: Mapping[str, tuple[np.ndarray, np.ndarray]]
    _lookups: dict[str, pd.Index] = field(default_factory=dict, compare=False, repr=False)

    def lookup(self, name: str) -> pd.Index:
        """``values[name]``'s inputs as an index, built once (checking the inputs distinct
        when read builds the hash table each night's look-ups then use)."""
        if name not in self._lookups:
            self._lookups[name] = pd.Index(self.values[name][0], dtype=object)
        return self._lookups[name]

    def to_bytes(self) -> bytes:
        names = [n for n in MEMOISED if n in self.values]
        table = pa.table(
            {
                "input": pa.array(
                    np.concatenate([self.values[n][0] for n in names] or [np.empty(0, object)]),
                    type=pa.string(),
                ),
                "output": pa.array(
                    np.concatenate([self.values[n][1] for n in names] or [np.empty(0, object)]),
                    type=pa.string(),
                ),
            }
        )
        meta = {
            "version": MEMO_VERSION,
            "digest": memo_digest(),
            "names": names,
            "counts": [len(self.values[n][0]) for n in names],
        }
        table = table.replace_schema_metadata({"dalink": json.dumps(meta)})
        sink = io.BytesIO()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        return sink.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> ValueMemo | None:
        """The memo, or ``None`` when it is of another version or code, or unreadable
        (then every value is computed afresh)."""
        try:
            table = pa.ipc.open_stream(pa.py_buffer(blob)).read_all()
            meta = json.loads((table.schema.metadata or {})[b"dalink"])
            if meta.get("version") != MEMO_VERSION or meta.get("digest") != memo_digest():
                return None
            names, counts = list(meta["names"]), [int(c) for c in meta["counts"]]
            if len(names) != len(counts) or sum(counts) != table.num_rows:
                return None
            inputs = table.column("input").to_numpy(zero_copy_only=False)
            outputs = table.column("output").to_numpy(zero_copy_only=False)
        except (pa.ArrowException, OSError, KeyError, TypeError, ValueError):
            return None
        if pd.isna(inputs).any():
            return None
        ends = np.cumsum(counts)
        starts = ends - np.asarray(counts, dtype=np.int64)
        values = {
            str(name): (inputs[start:end], outputs[start:end])
            for name, start, end in zip(names, starts, ends, strict=True)
        }
        memo = cls(values)
        if any(memo.lookup(name).has_duplicates for name in values):
            return None
        return memo


class _Mapper:
    """``_map_codes`` for one night: a ``MEMOISED`` function takes last night's result
    for each value it already had one for and runs on the others only; every result
    tonight is kept for the next night (``memo``)."""

    def __init__(self, last: ValueMemo | None) -> None:
        self.last_memo = last
        self.last = last.values if last is not None else {}
        self.tonight: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}

    def __call__(self, source: ColumnCodes, func: Callable[[str], str | None]) -> ColumnCodes:
        name = func.__name__
        if name not in MEMOISED:
            return _map_codes(source, func)
        codes, uniques = source
        mapped = np.empty(len(uniques), dtype=object)
        todo = np.arange(len(uniques))
        known = self.last.get(name)
        if known is not None and len(uniques) and self.last_memo is not None:
            outputs = known[1]
            at = self.last_memo.lookup(name).get_indexer(pd.Index(uniques, dtype=object))
            hit = at >= 0
            mapped[hit] = outputs[at[hit]]
            todo = np.flatnonzero(~hit)
        for position in todo:
            mapped[position] = func(str(uniques[position]))
        self.tonight.setdefault(name, []).append((uniques, mapped))
        return _recode(codes, mapped)

    def memo(self) -> ValueMemo:
        values = {}
        for name, parts in self.tonight.items():
            inputs = np.concatenate([i for i, _ in parts])
            outputs = np.concatenate([o for _, o in parts])
            first = ~pd.Index(inputs).duplicated()  # one function, one result per value
            values[name] = (inputs[first], outputs[first])
        return ValueMemo(values)


def _series(coded: ColumnCodes, index: pd.Index) -> pd.Series:
    codes, uniques = coded
    values = np.concatenate([uniques, np.array([None], dtype=object)])[codes]  # -1: None
    return pd.Series(values, index=index, dtype="string")


def clean_name(value: str) -> str | None:
    """Lower-case ASCII letters, titles removed, separators collapsed to one space."""
    text = _ascii_lower(value).replace("'", "").replace("`", "")
    text = _NOT_LETTER.sub(" ", text).strip()
    text = _TITLES.sub("", text).strip()
    text = _SEPARATORS.sub(" ", text).strip()
    return text or None


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


def name_equivalents(name: str) -> frozenset[str]:
    """The name plus every canonical form of it (``bob`` → {bob, robert, ...})."""
    return frozenset({name, *_nicknamer().canonicals_of(name)})


def name_variants(name: str) -> frozenset[str]:
    """The name, its canonical forms and every nickname of those (``will`` → william, bill,
    willy, ...): what a clerk may have written for the same person."""
    namer = _nicknamer()
    canonicals = {name, *namer.canonicals_of(name)}
    return frozenset(canonicals.union(*(namer.nicknames_of(c) for c in canonicals)))


def is_known_name(name: str) -> bool:
    """Whether the nickname lists know the name (as a nickname or a canonical form)."""
    namer = _nicknamer()
    return bool(namer.canonicals_of(name) or namer.nicknames_of(name))


def canonical_given(name: str) -> str:
    """One canonical given name for blocking: of the name and its canonical forms, the one
    with the most nicknames (``bob`` → ``robert``, ``peggy`` → ``margaret``)."""
    namer = _nicknamer()
    for _ in range(3):  # follow the chain a little (jack → john → johnathan)
        options = sorted({name, *namer.canonicals_of(name)})
        best = max(options, key=lambda o: (len(namer.nicknames_of(o)), -options.index(o)))
        if best == name:
            break
        name = best
    return name


def _soundex(value: str) -> str | None:
    return jellyfish.soundex(value) if value else None


def _postcode_parts(postcode: ColumnCodes) -> tuple[ColumnCodes, ColumnCodes, ColumnCodes]:
    """Area, district and sector of upper-cased postcodes (parsed once per distinct one)."""
    codes, uniques = postcode
    pc = pd.Series(uniques, dtype="string")
    parts = pc.str.extract(r"^([A-Z]{1,2})(\d[A-Z\d]?)\s+(\d)[A-Z]{2}$")
    area = parts[0].astype("string")
    district = (parts[0] + parts[1]).astype("string")
    sector = (district + " " + parts[2]).astype("string")

    def back(values: pd.Series) -> ColumnCodes:
        mapped = [None if value is pd.NA else str(value) for value in values.astype(object)]
        return _recode(codes, mapped)

    return back(area), back(district), back(sector)


def standardise(records: pd.DataFrame) -> pd.DataFrame:
    """Return the standardised frame (one row per record, same order, 0..n-1 index).

    Columns: ``record_key, nhs_number, given_key, given_first, given_canonical,
    given_soundex, family_key, family_first, family_last, family_soundex, names_soundex,
    date_of_birth, birth_year, birth_month, birth_day, sex, postcode, postcode_area,
    postcode_district, postcode_sector, address_line, address_numbers, address_key``.
    """
    return standardise_coded(records)[0]


def standardise_coded(records: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, ColumnCodes]]:
    """``standardise``, plus every string column of it (but ``record_key``) as codes, exactly
    as ``pd.factorize`` codes that column: each value is built from the codes of the value
    it derives from, so no 100k-row string column is factorized twice."""
    std, coded, _ = standardise_memo(records, None)
    return std, coded


def standardise_memo(
    records: pd.DataFrame, memo: ValueMemo | None
) -> tuple[pd.DataFrame, dict[str, ColumnCodes], ValueMemo]:
    """``standardise_coded``, taking the ``MEMOISED`` functions' results from ``memo``
    (last night's) where it has them; also returns tonight's memo for the next night."""
    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        raise InputFileError(
            f"person records are missing column(s) {missing}: build them with "
            "adapters.records.person_records (contract B)"
        )
    if records["record_key"].duplicated().any():
        raise InputFileError(
            "person records have duplicate record_key values: record_key must be unique "
            "(contract B); check the adapter that built them"
        )
    # a frame already indexed 0..n-1 (the engine's) is read as it is, not copied
    plain = isinstance(records.index, pd.RangeIndex) and records.index.equals(
        pd.RangeIndex(len(records))
    )
    rec = records if plain else records.reset_index(drop=True)
    map_codes = _Mapper(memo)
    coded: dict[str, ColumnCodes] = {}
    coded["nhs_number"] = _code(rec["nhs_number"].astype("string"))

    given = map_codes(_code(rec["given_name"].astype("string")), clean_name)
    family = map_codes(_code(rec["family_name"].astype("string")), clean_name)
    coded["given_key"] = map_codes(given, _squash)
    coded["given_first"] = map_codes(given, _first_word)
    coded["given_canonical"] = map_codes(coded["given_first"], canonical_given)
    coded["given_soundex"] = map_codes(coded["given_first"], _soundex)
    coded["family_key"] = map_codes(family, _squash)
    coded["family_first"] = map_codes(family, _first_word)
    coded["family_last"] = map_codes(family, _last_word)
    coded["family_soundex"] = map_codes(coded["family_first"], _soundex)
    coded["sex"] = map_codes(_code(rec["sex"].astype("string")), _sex)
    coded["postcode"] = map_codes(_code(rec["postcode"].astype("string")), _clean_postcode)
    area, district, sector = _postcode_parts(coded["postcode"])
    coded["postcode_area"], coded["postcode_district"], coded["postcode_sector"] = (
        area,
        district,
        sector,
    )
    line = map_codes(_code(rec["address_1"].astype("string")), _clean_address)
    coded["address_line"] = line
    coded["address_numbers"] = map_codes(line, _house_numbers)
    coded["address_key"] = map_codes(line, address_key)

    index = rec.index
    out = pd.DataFrame({"record_key": rec["record_key"].astype("string")})
    out["nhs_number"] = rec["nhs_number"].astype("string")
    for column in (
        "given_key",
        "given_first",
        "given_canonical",
        "given_soundex",
        "family_key",
        "family_first",
        "family_last",
        "family_soundex",
    ):
        out[column] = _series(coded[column], index)
    # both names' soundex in sorted order (a swapped pair shares it)
    coded["names_soundex"] = _names_soundex(
        map_codes(coded["given_key"], _soundex), map_codes(coded["family_key"], _soundex)
    )
    out["names_soundex"] = _series(coded["names_soundex"], index)

    dob = pd.to_datetime(rec["date_of_birth"], errors="coerce")
    out["date_of_birth"] = dob
    missing_dob = dob.isna().to_numpy()
    out["birth_year"] = _int32(dob.dt.year, missing_dob)
    out["birth_month"] = _int32(dob.dt.month, missing_dob)
    out["birth_day"] = _int32(dob.dt.day, missing_dob)
    for column in (
        "sex",
        "postcode",
        "postcode_area",
        "postcode_district",
        "postcode_sector",
        "address_line",
        "address_numbers",
        "address_key",
    ):
        out[column] = _series(coded[column], index)
    return out, coded, map_codes.memo()


def _int32(field: pd.Series, missing: np.ndarray) -> pd.Series:
    """A date field (float, NaN where the date is missing) as ``Int32``: what
    ``field.astype("Int32")`` gives (masked slots hold 1, as there), a third of its time."""
    data = np.where(missing, 1, field.to_numpy(dtype=np.float64, na_value=np.nan))
    return pd.Series(
        pd.arrays.IntegerArray(data.astype(np.int32), missing.copy()), index=field.index
    )


def _sex(value: str) -> str | None:
    upper = value.upper()
    return upper if upper in ("M", "F") else None


def _names_soundex(given: ColumnCodes, family: ColumnCodes) -> ColumnCodes:
    """The soundex codes of both names (``given``, ``family``: each record's soundex of its
    squashed name), in sorted order, so that a record whose given and family names were
    swapped (``stephenson danny``) gets the same key as the right one; missing when either
    name is.  The whole (squashed) names are coded, as the comparison's swap levels compare
    them, so ``leo n`` / ``leon`` still agree.  Coded as ``pd.factorize`` codes the
    column ``low + " " + high``: a soundex has no space, so each distinct (low, high) is
    one distinct key, and the pairs are numbered by first appearance as the keys are."""
    (g_codes, g_uniques), (f_codes, f_uniques) = given, family
    vocabulary = np.array(sorted({*g_uniques, *f_uniques}), dtype=object)
    position = pd.Index(vocabulary)
    # code -1 (missing) takes the appended -1, then is masked below
    g_rank = np.append(position.get_indexer(pd.Index(g_uniques, dtype=object)), -1)[g_codes]
    f_rank = np.append(position.get_indexer(pd.Index(f_uniques, dtype=object)), -1)[f_codes]
    low, high = np.minimum(g_rank, f_rank), np.maximum(g_rank, f_rank)
    pair = np.where((g_codes >= 0) & (f_codes >= 0), low * max(len(vocabulary), 1) + high, -1)
    codes, pairs = pd.factorize(pair)
    present = pairs >= 0  # the missing pair (-1) is a value to factorize: drop it
    renumber = np.where(present, np.cumsum(present) - 1, -1)
    pairs = pairs[present]
    width = max(len(vocabulary), 1)
    keys = [f"{vocabulary[p // width]} {vocabulary[p % width]}" for p in pairs]
    return renumber[codes], np.array(keys, dtype=object)


def _squash(value: str) -> str:
    return value.replace(" ", "")


def _first_word(value: str) -> str:
    return value.split(" ")[0]


def _last_word(value: str) -> str:
    return value.split(" ")[-1]


def _clean_postcode(value: str) -> str | None:
    return value.upper().strip() or None


_NUMBER = re.compile(r"\d+[a-z]?")
_NOT_ADDRESS = re.compile(r"[^a-z0-9\s]")


def _house_numbers(line: str) -> str | None:
    return " ".join(_NUMBER.findall(line)) or None


#: words that introduce a flat or unit number rather than a street
_UNIT_WORDS = frozenset({"flat", "apartment", "apt", "unit", "room", "floor", "suite"})


def address_key(line: str) -> str | None:
    """A short key for "the same first line": the house number and the first street word
    after it (``flat 1 37 elm lane`` → ``37 elm``), or a numberless line whole (a house
    name, ``ashdene``).  None for a line with a number but no street (``flat 3``): too
    weak to block on.  Used to block records that lack a date of birth or postcode."""
    tokens = line.split()
    numbered = [i for i, token in enumerate(tokens) if _NUMBER.fullmatch(token)]
    if not numbered:
        words = [t for t in tokens if t not in _UNIT_WORDS]
        return " ".join(words) or None
    last = numbered[-1]
    street = [t for t in tokens[last + 1 :] if t.isalpha() and t not in _UNIT_WORDS]
    return f"{tokens[last]} {street[0]}" if street else None


def _clean_address(value: str) -> str | None:
    """Lower case, punctuation dropped, street-type abbreviations expanded (``rd`` → road,
    a trailing ``st`` → street) with the household engineer's table in ``linkage.address``."""
    tokens = _NOT_ADDRESS.sub(" ", _ascii_lower(value)).split()
    if tokens and tokens[-1] == "st":
        tokens[-1] = "street"
    text = " ".join(_ABBREVIATIONS.get(token, token) for token in tokens)
    return text or None
