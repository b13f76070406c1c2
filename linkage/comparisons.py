"""Comparisons with levels, Splink style, computed over whole candidate-pair columns.

Each comparison is an ordered list of levels: a null level (gamma -1) first, the strongest
agreement next, a catch-all "else" last.  As in Splink, gamma counts up from the else level
(0) to the strongest (``len(levels) - 1``).  String similarities are computed once per
distinct *pair of values* with ``rapidfuzz.process.cpdist``, so repeated names cost nothing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, TypeVar

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler

from linkage.standardise import is_known_name, name_equivalents, name_variants

Levels = np.ndarray  # int8 gamma per pair, -1 = null


@dataclass(frozen=True)
class Coded:
    """A string column as int codes (-1 = missing) and its distinct values."""

    codes: np.ndarray
    uniques: np.ndarray


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(
    method: Callable[Concatenate[Prepared, _P], _R],
) -> Callable[Concatenate[Prepared, _P], _R]:
    """Build a cache entry under the object's lock: u is estimated on a second thread while
    the candidates are compared, and both fill the same caches."""

    @functools.wraps(method)
    def wrapper(self: Prepared, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass
class Prepared:
    """The standardised records as numpy columns, coded once and shared by every comparison
    (safe to share between threads)."""

    std: pd.DataFrame
    _coded: dict[str, Coded] = field(default_factory=dict)
    _ints: dict[str, np.ndarray] = field(default_factory=dict)
    _variants: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _equivalents: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.std)

    @_locked
    def coded(self, column: str) -> Coded:
        if column not in self._coded:
            codes, uniques = pd.factorize(self.std[column], use_na_sentinel=True)
            # dates stay datetime64 (boxing 30k distinct dates as Timestamps costs more than
            # the factorize; only their number is read); strings become a plain object array
            values = (
                uniques.to_numpy()
                if isinstance(uniques, pd.DatetimeIndex)
                else np.asarray(uniques, dtype=object)
            )
            # int32: every comparison gathers these per pair, half the bytes of int64
            self._coded[column] = Coded(codes.astype(np.int32), values)
        return self._coded[column]

    @_locked
    def ints(self, column: str) -> np.ndarray:
        """An integer column with 0 for missing (years, months, days)."""
        if column not in self._ints:
            self._ints[column] = self.std[column].fillna(0).to_numpy(dtype=np.int32)
        return self._ints[column]

    @_locked
    def variants(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """For each distinct value of ``column`` (by code), its name variants other than
        itself (``name_variants``): ``(owner code, variant string)``, by owner code."""
        if column not in self._variants:
            names = pd.Series(self.coded(column).uniques, dtype=object)
            exploded = names.map(lambda v: sorted(name_variants(str(v)) - {str(v)})).explode()
            exploded = exploded.dropna()
            owner = exploded.index.to_numpy(dtype=np.int64)
            text = exploded.to_numpy(dtype=object)
            self._variants[column] = (owner, text)
        return self._variants[column]

    @_locked
    def equivalents(self, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each distinct value of ``column`` (by code), the name and its canonical
        forms (``name_equivalents``) as codes over one vocabulary: ``(owner code,
        equivalent code, owner code * width + equivalent code, sorted distinct)``, by owner
        code (``width``: the largest equivalent code + 1).  Built once a night: a night
        compares its pairs in more than one call."""
        if column not in self._equivalents:
            names = pd.Series(self.coded(column).uniques, dtype=object)
            exploded = names.map(lambda v: sorted(name_equivalents(str(v)))).explode()
            eq_codes, _ = pd.factorize(exploded)
            name_codes = exploded.index.to_numpy(dtype=np.int64)
            width = np.int64(eq_codes.max() + 1)
            right_keys = np.unique(name_codes * width + eq_codes)
            self._equivalents[column] = (name_codes, eq_codes, right_keys)
        return self._equivalents[column]

    @_locked
    def initials(self, column: str) -> np.ndarray:
        """The first character of each distinct value of ``column`` (by code)."""
        key = f"_first_character_{column}"
        if key not in self._ints:
            self._ints[key] = np.array(
                [str(v)[:1] for v in self.coded(column).uniques], dtype=object
            )
        return self._ints[key]

    @_locked
    def variant_facts(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``variants(column)``'s variants: its first character, and whether it
        has four letters or more."""
        key = f"_variant_facts_{column}"
        if key not in self._variants:
            _, text = self.variants(column)
            self._variants[key] = (
                np.array([str(t)[:1] for t in text], dtype=object),
                np.array([len(str(t)) >= 4 for t in text], dtype=bool),
            )
        return self._variants[key]

    @_locked
    def unknown_names(self, column: str) -> np.ndarray:
        """Per distinct value of ``column`` (by code): not a name the nickname lists know."""
        key = f"_unknown_{column}"
        if key not in self._ints:
            names = self.coded(column).uniques
            self._ints[key] = np.array([not is_known_name(str(v)) for v in names], dtype=bool)
        return self._ints[key]

    @_locked
    def days(self) -> np.ndarray:
        """Date of birth as days since 1970 (int32; 0 when missing, which the null level
        masks anyway)."""
        if "_days" not in self._ints:
            dob = self.std["date_of_birth"].to_numpy(dtype="datetime64[D]")
            days = np.where(np.isnat(dob), 0, dob.astype(np.int64))
            self._ints["_days"] = days.astype(np.int32)
        return self._ints["_days"]

    @_locked
    def squashed(self, column: str) -> Coded:
        """``column`` with its spaces removed, coded (``2 mckinleycircuit`` and ``2 mckinley
        circuit`` share a code)."""
        key = f"_squashed_{column}"
        if key not in self._coded:
            coded = self.coded(column)
            squashed = pd.Series(coded.uniques, dtype=object).str.replace(" ", "", regex=False)
            to_squashed, uniques = pd.factorize(squashed)
            codes = np.where(coded.codes >= 0, to_squashed[np.maximum(coded.codes, 0)], -1)
            self._coded[key] = Coded(codes.astype(np.int32), np.asarray(uniques, dtype=object))
        return self._coded[key]

    @_locked
    def combined(self, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Records coded by their combination of ``columns`` (-1 where the first is
        missing), and one representative record per combination: ``(codes, records)``.
        A comparison that depends only on these columns can be computed once per distinct
        pair of combinations, on their representatives."""
        key = "_combined_" + "|".join(columns)
        if key not in self._ints:
            combo = np.zeros(len(self), dtype=np.int64)
            for column in columns:
                coded = self.coded(column)
                combo = combo * (len(coded.uniques) + 1) + coded.codes + 1
                combo = pd.factorize(combo)[0].astype(np.int64)
            combo[self.coded(columns[0]).codes < 0] = -1
            codes, _ = pd.factorize(combo, use_na_sentinel=True)
            codes = np.where(combo < 0, -1, codes).astype(np.int32)
            present = np.flatnonzero(codes >= 0)
            records = np.zeros(int(codes.max(initial=-1)) + 1, dtype=np.int64)
            # reversed, so that the first record of each combination is the one kept
            records[codes[present[::-1]]] = present[::-1]
            self._ints[key] = codes
            self._ints[f"{key}_records"] = records
        return self._ints[key], self._ints[f"{key}_records"]

    @_locked
    def slip_keys(self, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Three hashes per record (-1 = missing) of which two values one slip apart share at
        least one: with ``h`` half the length, of the length with the first ``h`` characters,
        with the rest, and with all but the two around the middle.  A changed character
        leaves one half alone; swapped neighbours leave a half alone, or straddle the middle
        and leave all the rest alone.  (Hashes may collide: a shared hash only nominates a
        pair for the exact test.)"""
        key = f"_slip_{column}"
        if f"{key}0" not in self._ints:
            matrix, lengths = self.characters(column)
            half = lengths.astype(np.int64) // 2
            position = np.arange(matrix.shape[1])
            hashes = [lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) for _ in range(3)]
            for j in position:
                weight = np.uint64((j + 1) * 0x100000001B3 + 0x5BD1E995)
                term = (matrix[:, j].astype(np.uint64) + np.uint64(j + 1)) * weight
                zero = np.uint64(0)
                hashes[0] += np.where(j < half, term, zero)
                hashes[1] += np.where(j >= half, term, zero)
                hashes[2] += np.where((j < half - 1) | (j > half), term, zero)
            codes = self.coded(column).codes
            for number, values in enumerate(hashes):
                coded_hash = np.append(pd.factorize(values)[0], -1).astype(np.int32)
                self._ints[f"{key}{number}"] = coded_hash[codes]
        return self._ints[f"{key}0"], self._ints[f"{key}1"], self._ints[f"{key}2"]

    @_locked
    def cross_initials(self) -> tuple[np.ndarray, np.ndarray]:
        """Per record, the initials of (given, family) and of (family, given) as one code
        each; records whose names are swapped share them crosswise.  A record missing either
        name gets -1 on one side and -2 on the other, so it never matches."""
        if "_initials_gf" not in self._ints:
            g, f = self.joint_names()
            initial = self.joint_initials().astype(np.int64)
            gi = np.where(g >= 0, initial[np.maximum(g, 0)], -1)
            fi = np.where(f >= 0, initial[np.maximum(f, 0)], -1)
            width = int(initial.max(initial=0)) + 1
            missing = (gi < 0) | (fi < 0)
            self._ints["_initials_gf"] = np.where(missing, -1, gi * width + fi)
            self._ints["_initials_fg"] = np.where(missing, -2, fi * width + gi)
        return self._ints["_initials_gf"], self._ints["_initials_fg"]

    @_locked
    def characters(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Each distinct value of ``column`` (by code) as a row of character codes, padded
        with zeros to the longest value, and its length: ``(matrix, lengths)``."""
        key = f"_chars_{column}"
        if key not in self._ints:
            values = self.coded(column).uniques.astype(str)
            lengths = np.char.str_len(values)
            width = int(lengths.max(initial=0))
            self._ints[key] = (
                values.astype(f"U{max(width, 1)}").view(np.uint32).reshape(len(values), -1)
                if len(values)
                else np.zeros((0, 1), dtype=np.uint32)
            )
            self._ints[f"_lengths_{column}"] = lengths.astype(np.int32)
        return self._ints[key], self._ints[f"_lengths_{column}"]

    @_locked
    def family_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """First and last parts of family names coded over one vocabulary."""
        if "_family_first" not in self._ints:
            first, last, _ = self._one_vocabulary("family_first", "family_last")
            self._ints["_family_first"] = first
            self._ints["_family_last"] = last
        return self._ints["_family_first"], self._ints["_family_last"]

    def _one_vocabulary(self, a: str, b: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Columns ``a`` and ``b`` coded over one vocabulary, exactly as factorizing the
        two columns one after the other codes them: ``(a codes, b codes, uniques)``, int64.
        Built from the columns' own codes (``a``'s distinct values in order, then ``b``'s
        not in ``a``), so no 200k-row string column is factorized."""
        coded_a, coded_b = self.coded(a), self.coded(b)
        joint, uniques = pd.factorize(
            np.concatenate([coded_a.uniques, coded_b.uniques]).astype(object)
        )
        # a's values are distinct and come first: value k of a is joint code k
        b_joint = np.append(joint[len(coded_a.uniques) :], -1)  # code -1 takes the -1
        return (
            coded_a.codes.astype(np.int64),
            b_joint[coded_b.codes].astype(np.int64),
            np.asarray(uniques, dtype=object),
        )

    @_locked
    def joint_names(self) -> tuple[np.ndarray, np.ndarray]:
        """Given and family keys coded over one shared vocabulary (to detect swaps)."""
        if "_joint_given" not in self._ints:
            given, family, uniques = self._one_vocabulary("given_key", "family_key")
            self._ints["_joint_given"] = given.astype(np.int32)
            self._ints["_joint_family"] = family.astype(np.int32)
            self._ints["_joint_uniques"] = uniques
        return self._ints["_joint_given"], self._ints["_joint_family"]

    @_locked
    def joint_initials(self) -> np.ndarray:
        """First letter of each value of the ``joint_names`` vocabulary, as a code."""
        if "_joint_initials" not in self._ints:
            firsts = [str(v)[:1] for v in self.joint_uniques()]
            self._ints["_joint_initials"] = pd.factorize(pd.Series(firsts, dtype=object))[0]
        return self._ints["_joint_initials"]

    @_locked
    def joint_uniques(self) -> np.ndarray:
        """The shared vocabulary of ``joint_names`` (by code)."""
        self.joint_names()
        return self._ints["_joint_uniques"]


def _present(coded: Coded, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return (coded.codes[left] >= 0) & (coded.codes[right] >= 0)


def _equal(coded: Coded, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a = coded.codes[left]
    return (a >= 0) & (a == coded.codes[right])


def _unique_value_pairs(
    coded: Coded, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (left value, right value) code pairs, both present, and each pair's slot."""
    return _unique_code_pairs(coded.codes[left], coded.codes[right], len(coded.uniques))


#: up to this many possible value pairs, distinct pairs are found with a dense table (a
#: scatter, a scan and a gather) rather than a hash table: three times faster
_DENSE_PAIRS = 1 << 24
#: ... and only while the table has at most this many slots per pair: scanning a table of
#: 9M slots (3,000 names squared) for a warm night's 50k pairs, or 100, costs ten to a
#: hundred times what hashing them does
_DENSE_SLOTS_PER_PAIR = 16


def _unique_code_pairs(
    a: np.ndarray, b: np.ndarray, vocabulary: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct ``(a, b)`` code pairs and each pair's slot among them; a pair with a
    missing side (-1) gets a slot whose codes are ``(-1, -1)``."""
    a = a.astype(np.int64)
    b = b.astype(np.int64)
    ok = (a >= 0) & (b >= 0)
    width = np.int64(vocabulary + 1)
    if width * width <= min(_DENSE_PAIRS, _DENSE_SLOTS_PER_PAIR * a.size):
        missing = width * width
        key = np.where(ok, a * width + b, missing)
        seen = np.zeros(int(missing) + 1, dtype=bool)
        seen[key] = True
        combined = np.flatnonzero(seen)
        lookup = np.empty(int(missing) + 1, dtype=np.int32)
        lookup[combined] = np.arange(combined.size)
        ua, ub = combined // width, combined % width
        ua[combined == missing] = -1
        ub[combined == missing] = -1
        return ua, ub, lookup[key]
    slot, uniques = pd.factorize(np.where(ok, a * width + b, -1))
    combined = np.asarray(uniques, dtype=np.int64)
    ua, ub = combined // width, combined % width
    ub[combined < 0] = -1
    return ua, ub, slot


def _code_pair_scores(
    uniques: np.ndarray, a: np.ndarray, b: np.ndarray, scorer: Callable[..., float]
) -> np.ndarray:
    """Scorer value per pair of value codes ``a``, ``b`` (NaN where either is -1), one
    cpdist per distinct pair of values."""
    ua, ub, slot = _unique_code_pairs(a, b, len(uniques))
    scores = np.full(ua.size, np.nan, dtype=np.float64)
    valid = ua >= 0
    if valid.any():
        scores[valid] = process.cpdist(
            uniques[ua[valid]].tolist(),
            uniques[ub[valid]].tolist(),
            scorer=scorer,
            workers=-1,
        )
    return scores[slot]


def similarity(
    coded: Coded,
    left: np.ndarray,
    right: np.ndarray,
    scorer: Callable[..., float],
    *,
    where: np.ndarray | None = None,
) -> np.ndarray:
    """Scorer value per pair (NaN when either side is missing, or outside ``where``), one
    cpdist per distinct pair of values."""
    if where is not None:
        out = np.full(left.size, np.nan)
        out[where] = similarity(coded, left[where], right[where], scorer)
        return out
    return _code_pair_scores(coded.uniques, coded.codes[left], coded.codes[right], scorer)


def _swaps(p: Prepared, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(swapped, swapped with a typo)`` per pair: each name equals the other record's
    other name; or is alike it (Jaro-Winkler >= 0.85 both ways, one may be exact) with
    the initials cross-matching (``chloe ryan`` / ``ryna chloe``).  Clerks swap the fields
    and slip on a letter; a slip seldom hits the first letter, and checking the initials
    first keeps the work to the few pairs whose initials cross-match."""
    gf, fg = p.cross_initials()
    at = np.flatnonzero(gf[left] == fg[right])
    at = at[gf[right[at]] == fg[left[at]]]
    swapped = np.zeros(left.size, dtype=bool)
    typo = np.zeros(left.size, dtype=bool)
    if at.size == 0:
        return swapped, typo
    g, f = p.joint_names()
    gl, gr, fl, fr = g[left[at]], g[right[at]], f[left[at]], f[right[at]]
    exact = (gl == fr) & (fl == gr)
    swapped[at] = exact
    uniques = p.joint_uniques()
    scorer = JaroWinkler.normalized_similarity
    cross_a = _code_pair_scores(uniques, gl, fr, scorer)
    cross_b = _code_pair_scores(uniques, fl, gr, scorer)
    typo[at] = ~exact & (cross_a >= 0.85) & (cross_b >= 0.85)
    return swapped, typo


def _crossed(p: Prepared, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """One name (not both: that is a swap) equals the other record's other name: the
    fields swapped and one of them then changed (``raquel lodge`` / ``garnett raquel``)."""
    g, f = p.joint_names()
    gl, fr = g[left], f[right]
    one = (gl >= 0) & (gl == fr)
    fl, gr = f[left], g[right]
    other = (fl >= 0) & (fl == gr)
    return one ^ other


def _nickname_equivalent(
    p: Prepared, column: str, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """True where the two given names share a name or canonical form (nicknames lists)."""
    ua, ub, slot = _unique_value_pairs(p.coded(column), left, right)
    valid = np.flatnonzero(ua >= 0)
    result = np.zeros(ua.size, dtype=bool)
    if valid.size:
        name_codes, eq_codes, right_keys = p.equivalents(column)
        width = np.int64(eq_codes.max() + 1)
        # expand each distinct pair by the equivalents of its left name, look up the right
        starts = np.searchsorted(name_codes, ua[valid], side="left")
        stops = np.searchsorted(name_codes, ua[valid], side="right")
        counts = stops - starts
        pair_pos = np.repeat(np.arange(valid.size), counts)
        offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = np.repeat(starts, counts) + offset
        probe = ub[valid][pair_pos] * width + eq_codes[rows]
        hit = np.isin(probe, right_keys)
        result[valid] = np.bincount(pair_pos[hit], minlength=valid.size) > 0
    return result[slot]


def _typo_of_variant(p: Prepared, column: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """True where one name is one typo (an edit or a swap of neighbours) from a variant
    (nickname or canonical form) of the other: ``wiyl`` for William, via ``will``.

    The typo'd side must be a name the nickname lists do not know: ``jon`` for John or
    ``mark`` for Martin are other names, not slips.  Only variants of four letters or more
    count (one typo from ``al`` or ``ed`` is half the names in the book), and only those
    with the same first letter are scored: typos seldom hit the first letter, and it keeps
    the string comparisons few."""
    coded = p.coded(column)
    ua, ub, slot = _unique_value_pairs(coded, left, right)
    result = np.zeros(ua.size, dtype=bool)
    owner, text = p.variants(column)
    if owner.size == 0 or not (ua >= 0).any():
        return result[slot]
    names = coded.uniques
    initial = p.initials(column)
    unknown = p.unknown_names(column)
    variant_initial, long_enough = p.variant_facts(column)
    for this, other in ((ua, ub), (ub, ua)):
        valid = np.flatnonzero(this >= 0)
        valid = valid[unknown[this[valid]]]
        # expand each distinct pair by the variants of its ``other`` name
        starts = np.searchsorted(owner, other[valid], side="left")
        counts = np.searchsorted(owner, other[valid], side="right") - starts
        pair_pos = np.repeat(valid, counts)
        rows = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
        same_initial = (variant_initial[rows] == initial[this[pair_pos]]) & long_enough[rows]
        pair_pos, rows = pair_pos[same_initial], rows[same_initial]
        if pair_pos.size == 0:
            continue
        scores = process.cpdist(
            names[this[pair_pos]].tolist(),
            text[rows].tolist(),
            scorer=OSA.distance,
            workers=-1,
        )
        result[pair_pos[scores <= 1]] = True
    return result[slot]


def _gamma(conditions: list[np.ndarray], null: np.ndarray) -> Levels:
    """Splink order: the first true condition wins; strongest gets the highest gamma."""
    top = len(conditions)
    choices = list(range(top, 0, -1))
    gamma = np.select(conditions, choices, default=0).astype(np.int8)
    gamma[null] = -1
    return gamma


def _per_value_pair(
    p: Prepared,
    columns: tuple[str, ...],
    left: np.ndarray,
    right: np.ndarray,
    compute: Callable[[Prepared, np.ndarray, np.ndarray], Levels],
) -> Levels:
    """``compute`` (which must depend only on ``columns``) once per distinct pair of value
    combinations, on representative records; -1 where the first column is missing.  Names
    repeat: 2M candidate pairs hold about 150,000 distinct pairs of given names."""
    combo, records = p.combined(columns)
    ua, ub, slot = _unique_code_pairs(combo[left], combo[right], records.size)
    valid = np.flatnonzero(ua >= 0)
    levels = np.full(ua.size, -1, dtype=np.int8)
    if valid.size:
        levels[valid] = compute(p, records[ua[valid]], records[ub[valid]])
    return levels[slot]


def _given_name_levels(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    """The given-name levels that depend on the given names alone (not the swaps)."""
    given = p.coded("given_key")
    jw = similarity(given, left, right, JaroWinkler.normalized_similarity)
    nickname = _nickname_equivalent(p, "given_first", left, right)
    exact = _equal(given, left, right)
    # only the pairs no stronger level claims, with a name the lists do not know on one
    # side, need the (costlier) nickname-typo search
    first = p.coded("given_first").codes
    first_l, first_r = first[left], first[right]
    unknown = p.unknown_names("given_first")
    weaker = ~(exact | nickname | (jw >= 0.85)) & (first_l >= 0) & (first_r >= 0)
    weaker[weaker] = unknown[first_l[weaker]] | unknown[first_r[weaker]]
    nickname_typo = np.zeros(left.size, dtype=bool)
    nickname_typo[weaker] = _typo_of_variant(p, "given_first", left[weaker], right[weaker])
    slip = np.zeros(left.size, dtype=bool)
    slip[weaker] = _slip_of_known_name(p, "given_first", left[weaker], right[weaker])
    never = np.zeros(left.size, dtype=bool)
    return _gamma(
        [
            exact,
            nickname,
            jw >= 0.92,
            never,
            never,
            jw >= 0.85,
            nickname_typo,
            slip,
            never,
            jw >= 0.7,
        ],
        ~_present(given, left, right),
    )


def _slip_of_known_name(
    p: Prepared, column: str, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """True where one name is a name the nickname lists know and the other is not, and is
    one slip from it (a character changed, added or dropped, or two neighbours swapped)
    with the same first letter: ``amy`` / ``aiy``, ``ian`` / ``ien``, ``leo`` / ``lo``.

    In a short name one slip drops Jaro-Winkler below 0.85, where it looks as unlike as
    two names do; but a slip seldom makes another real name, while twins' names are both
    real names.  So two known names (Tom, Tim) or two unknown ones (the lists miss many
    names: Mia, Mya) are not a slip, and neither is a changed first letter (Ava, Eva)."""
    coded = p.coded(column)
    ua, ub, slot = _unique_value_pairs(coded, left, right)
    result = np.zeros(ua.size, dtype=bool)
    valid = np.flatnonzero(ua >= 0)
    if valid.size == 0:
        return result[slot]
    unknown = p.unknown_names(column)
    valid = valid[unknown[ua[valid]] != unknown[ub[valid]]]
    names = coded.uniques
    initial = p.initials(column)
    valid = valid[initial[ua[valid]] == initial[ub[valid]]]
    if valid.size:
        distance = process.cpdist(
            names[ua[valid]].tolist(), names[ub[valid]].tolist(), scorer=OSA.distance, workers=-1
        )
        result[valid] = distance <= 1
    return result[slot]


def compare_given_name(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    gamma = _per_value_pair(p, ("given_key", "given_first"), left, right, _given_name_levels)
    # the swaps depend on both names of each record: per pair, and the stronger level wins
    swapped, swapped_typo = _swaps(p, left, right)
    for mask, label in (
        (swapped, "swapped with family name"),
        (swapped_typo, "swapped with family name, with a typo"),
        (_crossed(p, left, right), "the other record's family name"),
    ):
        level = gamma_for("given_name", label)
        gamma[mask] = np.maximum(gamma[mask], level)
    return gamma


def _family_name_levels(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    family = p.coded("family_key")
    jw = similarity(family, left, right, JaroWinkler.normalized_similarity)
    first, last = p.family_parts()
    fl, ll, fr, lr = first[left], last[left], first[right], last[right]
    part = (fl >= 0) & (fr >= 0) & ((fl == fr) | (fl == lr) | (ll == fr) | (ll == lr))
    return _gamma(
        [_equal(family, left, right), part, jw >= 0.92, jw >= 0.85],
        ~_present(family, left, right),
    )


def compare_family_name(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    """Swapped names are counted once, by the given-name comparison: here such a pair is
    null (no further evidence), or a swap would weigh twice what agreeing names weigh; so
    is a pair whose one crossed name the given-name comparison counted."""
    gamma = _per_value_pair(
        p, ("family_key", "family_first", "family_last"), left, right, _family_name_levels
    )
    swapped, swapped_typo = _swaps(p, left, right)
    unlike = gamma == gamma_for("family_name", "else")
    gamma[swapped | ((swapped_typo | _crossed(p, left, right)) & unlike)] = -1
    return gamma


def compare_date_of_birth(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    year, month, day = p.ints("birth_year"), p.ints("birth_month"), p.ints("birth_day")
    yl, yr, ml, mr, dl, dr = (
        year[left],
        year[right],
        month[left],
        month[right],
        day[left],
        day[right],
    )
    null = (yl == 0) | (yr == 0)
    same_y, same_m, same_d = yl == yr, ml == mr, dl == dr
    exact = same_y & same_m & same_d
    # a transposed day and month often comes with a mistyped year: one clerical slip each
    transposed = (np.abs(yl - yr) <= 1) & (dl == mr) & (ml == dr) & (dl != ml)
    two_of_three = (same_y.astype(np.int8) + same_m + same_d) >= 2
    days = p.days()
    within_year = np.abs(days[left] - days[right]) <= 365
    return _gamma([exact, transposed, two_of_three, within_year], null)


def compare_sex(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    codes = p.coded("sex").codes
    a, b = codes[left], codes[right]
    return _gamma([a == b], (a < 0) | (b < 0))


def _one_slip(p: Prepared, column: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """True where two different values of equal length differ in one character, or in two
    neighbouring characters swapped (``9846985`` / ``9836985``, ``9512945`` / ``9519245``)."""
    first_half, second_half, outer = p.slip_keys(column)
    near = (
        ((first_half[left] == first_half[right]) & (first_half[left] >= 0))
        | (second_half[left] == second_half[right]) & (second_half[left] >= 0)
        | (outer[left] == outer[right]) & (outer[left] >= 0)
    )
    codes = p.coded(column).codes
    at = np.flatnonzero(near)
    a, b = codes[left[at]], codes[right[at]]
    at, a, b = at[a != b], a[a != b], b[a != b]
    result = np.zeros(left.size, dtype=bool)
    if at.size == 0:
        return result
    matrix, _ = p.characters(column)
    ca, cb = matrix[a], matrix[b]
    differs = ca != cb
    count = differs.sum(axis=1)
    first = np.argmax(differs, axis=1)
    rows = np.arange(at.size)
    second = np.minimum(first + 1, matrix.shape[1] - 1)
    swapped = (
        (count == 2)
        & differs[rows, second]
        & (ca[rows, first] == cb[rows, second])
        & (ca[rows, second] == cb[rows, first])
    )
    result[at] = (count == 1) | swapped
    return result


def compare_nhs_number(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    """Two valid NHS numbers can never be one slip apart (the modulus-11 check digit
    catches every single changed digit and swapped neighbours, and ingest blanks invalid
    numbers), so the "one slip" level only fires for identifiers without a check digit."""
    nhs = p.coded("nhs_number")
    return _gamma(
        [_equal(nhs, left, right), _one_slip(p, "nhs_number", left, right)],
        ~_present(nhs, left, right),
    )


def compare_address(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    """One comparison for all address evidence: postcode and first line are correlated, so
    counting them separately would count "same address" twice (LINKAGE-NOTES).

    The same first line means more when one side has no postcode (police nominals often
    lack one: probably the same address) than when the postcodes differ (the same house
    number and street name in another town), so the two are separate levels."""
    postcode, line = p.coded("postcode"), p.coded("address_line")
    # each column gathered once per pair
    pc_l, pc_r = postcode.codes[left], postcode.codes[right]
    line_l, line_r = line.codes[left], line.codes[right]
    both_postcodes = (pc_l >= 0) & (pc_r >= 0)
    both_lines = (line_l >= 0) & (line_r >= 0)
    has_l = (pc_l >= 0) | (line_l >= 0)
    has_r = (pc_r >= 0) | (line_r >= 0)
    numbers = p.coded("address_numbers")
    same_numbers = numbers.codes[left] == numbers.codes[right]
    # house/flat numbers must agree exactly, so only those pairs need the string similarity
    line_similar = np.zeros(left.size, dtype=bool)
    scored = same_numbers & both_lines
    line_similar[scored] = (
        _code_pair_scores(line.uniques, line_l[scored], line_r[scored], fuzz.token_sort_ratio) >= 90
    )
    # a space slipped into or out of a word (``mckinleycircuit``, ``s treet``) defeats the
    # token sort: compare those few lines again with their spaces removed
    retry = scored & ~line_similar
    line_similar[retry] = (
        similarity(p.squashed("address_line"), left[retry], right[retry], fuzz.ratio) >= 90
    )
    same_postcode = both_postcodes & (pc_l == pc_r)
    # a postcode one keying slip from the other (``CV11 4AB``/``CV11 4BA``, ``CV12``/``CV21``)
    # says more than a shared sector; only pairs no stronger level takes need the test
    slipped = np.zeros(left.size, dtype=bool)
    open_pairs = both_postcodes & ~same_postcode & ~line_similar
    slipped[open_pairs] = _one_slip(p, "postcode", left[open_pairs], right[open_pairs])
    return _gamma(
        [
            same_postcode & line_similar,
            same_postcode,
            line_similar & ~both_postcodes,
            line_similar,
            slipped,
            _equal(p.coded("postcode_sector"), left, right),
            _equal(p.coded("postcode_district"), left, right),
        ],
        ~(has_l & has_r),
    )


@dataclass(frozen=True)
class Comparison:
    """A named comparison: its levels strongest first (else last), and how to compute them."""

    name: str
    levels: tuple[str, ...]
    compute: Callable[[Prepared, np.ndarray, np.ndarray], Levels]
    tf_column: str | None = None

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    def label(self, gamma: int) -> str:
        """The level label for a gamma value (-1 = null)."""
        if gamma < 0:
            return "null"
        return self.levels[self.n_levels - 1 - gamma]

    @property
    def exact_gamma(self) -> int:
        return self.n_levels - 1


COMPARISONS: dict[str, Comparison] = {
    c.name: c
    for c in (
        Comparison(
            "nhs_number",
            ("agree", "one digit changed or two neighbours swapped", "disagree"),
            compare_nhs_number,
        ),
        Comparison(
            "given_name",
            (
                "exact",
                "nickname equivalent",
                "jaro-winkler >= 0.92",
                "swapped with family name",
                "swapped with family name, with a typo",
                "jaro-winkler >= 0.85",
                "a nickname of it, with a typo",
                "a known name with a slip",
                "the other record's family name",
                "jaro-winkler >= 0.7",
                "else",
            ),
            compare_given_name,
            tf_column="given_key",
        ),
        Comparison(
            "family_name",
            (
                "exact",
                "a part of a double-barrelled name agrees",
                "jaro-winkler >= 0.92",
                "jaro-winkler >= 0.85",
                "else",
            ),
            compare_family_name,
            tf_column="family_key",
        ),
        Comparison(
            "date_of_birth",
            (
                "exact",
                "day and month transposed, year within one",
                "two of year, month, day agree",
                "within a year",
                "else",
            ),
            compare_date_of_birth,
        ),
        Comparison("sex", ("agree", "disagree"), compare_sex),
        Comparison(
            "address",
            (
                "same postcode and first line",
                "same postcode",
                "same first line, a postcode missing",
                "same first line, different postcodes",
                "postcodes one character changed or two neighbours swapped",
                "same postcode sector",
                "same postcode district",
                "else",
            ),
            compare_address,
        ),
    )
}


def gamma_for(name: str, label: str) -> int:
    """The gamma value of a comparison's level, by its label."""
    comparison = COMPARISONS[name]
    return comparison.n_levels - 1 - comparison.levels.index(label)


def gammas_for(name: str, *labels: str) -> tuple[int, ...]:
    return tuple(gamma_for(name, label) for label in labels)


def compare(
    prepared: Prepared, left: np.ndarray, right: np.ndarray, names: tuple[str, ...]
) -> dict[str, Levels]:
    """Gamma arrays for the named comparisons over the record-index pairs."""
    return {name: COMPARISONS[name].compute(prepared, left, right) for name in names}


def level_table(names: tuple[str, ...]) -> pd.DataFrame:
    """``comparison, gamma, label`` for every level (null included), waterfall order."""
    rows = []
    for name in names:
        comparison = COMPARISONS[name]
        rows.append({"comparison": name, "gamma": -1, "label": "null"})
        for gamma in range(comparison.n_levels - 1, -1, -1):
            rows.append({"comparison": name, "gamma": gamma, "label": comparison.label(gamma)})
    return pd.DataFrame(rows)
