"""Comparisons with levels, Splink style, computed over whole candidate-pair columns.

Each comparison is an ordered list of levels: a null level (gamma -1) first, the strongest
agreement next, a catch-all "else" last.  As in Splink, gamma counts up from the else level
(0) to the strongest (``len(levels) - 1``).  String similarities are computed once per
distinct *pair of values* with ``rapidfuzz.process.cpdist``, so repeated names cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass
class Prepared:
    """The standardised records as numpy columns, coded once and shared by every comparison."""

    std: pd.DataFrame
    _coded: dict[str, Coded] = field(default_factory=dict)
    _ints: dict[str, np.ndarray] = field(default_factory=dict)
    _variants: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.std)

    def coded(self, column: str) -> Coded:
        if column not in self._coded:
            codes, uniques = pd.factorize(self.std[column], use_na_sentinel=True)
            # int32: every comparison gathers these per pair, half the bytes of int64
            self._coded[column] = Coded(codes.astype(np.int32), np.asarray(uniques, dtype=object))
        return self._coded[column]

    def ints(self, column: str) -> np.ndarray:
        """An integer column with 0 for missing (years, months, days)."""
        if column not in self._ints:
            self._ints[column] = self.std[column].fillna(0).to_numpy(dtype=np.int32)
        return self._ints[column]

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

    def unknown_names(self, column: str) -> np.ndarray:
        """Per distinct value of ``column`` (by code): not a name the nickname lists know."""
        key = f"_unknown_{column}"
        if key not in self._ints:
            names = self.coded(column).uniques
            self._ints[key] = np.array([not is_known_name(str(v)) for v in names], dtype=bool)
        return self._ints[key]

    def days(self) -> np.ndarray:
        """Date of birth as days since 1970 (int32; 0 when missing, which the null level
        masks anyway)."""
        if "_days" not in self._ints:
            dob = self.std["date_of_birth"].to_numpy(dtype="datetime64[D]")
            days = np.where(np.isnat(dob), 0, dob.astype(np.int64))
            self._ints["_days"] = days.astype(np.int32)
        return self._ints["_days"]

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

    def characters(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Each distinct value of ``column`` (by code) as a row of character codes, padded
        with zeros to the longest value, and its length: ``(matrix, lengths)``."""
        key = f"_chars_{column}"
        if key not in self._ints:
            values = self.coded(column).uniques.astype(str)
            width = max((len(v) for v in values), default=0)
            self._ints[key] = (
                values.astype(f"U{max(width, 1)}").view(np.uint32).reshape(len(values), -1)
                if len(values)
                else np.zeros((0, 1), dtype=np.uint32)
            )
            self._ints[f"_lengths_{column}"] = np.char.str_len(values).astype(np.int32)
        return self._ints[key], self._ints[f"_lengths_{column}"]

    def family_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """First and last parts of family names coded over one vocabulary."""
        if "_family_first" not in self._ints:
            both = pd.concat([self.std["family_first"], self.std["family_last"]], ignore_index=True)
            codes = pd.factorize(both, use_na_sentinel=True)[0].astype(np.int64)
            n = len(self.std)
            self._ints["_family_first"] = codes[:n]
            self._ints["_family_last"] = codes[n:]
        return self._ints["_family_first"], self._ints["_family_last"]

    def joint_names(self) -> tuple[np.ndarray, np.ndarray]:
        """Given and family keys coded over one shared vocabulary (to detect swaps)."""
        if "_joint_given" not in self._ints:
            both = pd.concat([self.std["given_key"], self.std["family_key"]], ignore_index=True)
            codes, uniques = pd.factorize(both, use_na_sentinel=True)
            codes = codes.astype(np.int64)
            n = len(self.std)
            self._ints["_joint_given"] = codes[:n]
            self._ints["_joint_family"] = codes[n:]
            self._ints["_joint_uniques"] = np.asarray(uniques, dtype=object)
        return self._ints["_joint_given"], self._ints["_joint_family"]

    def joint_initials(self) -> np.ndarray:
        """First letter of each value of the ``joint_names`` vocabulary, as a code."""
        if "_joint_initials" not in self._ints:
            firsts = [str(v)[:1] for v in self.joint_uniques()]
            self._ints["_joint_initials"] = pd.factorize(pd.Series(firsts, dtype=object))[0]
        return self._ints["_joint_initials"]

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


def _unique_code_pairs(
    a: np.ndarray, b: np.ndarray, vocabulary: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = a.astype(np.int64)
    b = b.astype(np.int64)
    ok = (a >= 0) & (b >= 0)
    width = np.int64(vocabulary + 1)
    slot, combined = pd.factorize(np.where(ok, a * width + b, -1))
    combined = np.asarray(combined, dtype=np.int64)
    return combined // width, combined % width, slot


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


def _swapped_with_typo(
    p: Prepared, left: np.ndarray, right: np.ndarray, where: np.ndarray
) -> np.ndarray:
    """True (within ``where``) where each name is alike the other record's other name
    (Jaro-Winkler >= 0.85 both ways, one may be exact) and the initials cross-match:
    ``chloe ryan`` / ``ryna chloe``.  Clerks swap the fields and slip on a letter; a slip
    seldom hits the first letter, which keeps the string comparisons few."""
    g, f = p.joint_names()
    gl, gr, fl, fr = g[left], g[right], f[left], f[right]
    initial = p.joint_initials()
    at = np.flatnonzero(where & (gl >= 0) & (gr >= 0) & (fl >= 0) & (fr >= 0))
    at = at[(initial[gl[at]] == initial[fr[at]]) & (initial[fl[at]] == initial[gr[at]])]
    result = np.zeros(left.size, dtype=bool)
    if at.size == 0:
        return result
    uniques = p.joint_uniques()
    scorer = JaroWinkler.normalized_similarity
    cross_a = _code_pair_scores(uniques, gl[at], fr[at], scorer)
    cross_b = _code_pair_scores(uniques, fl[at], gr[at], scorer)
    result[at] = (cross_a >= 0.85) & (cross_b >= 0.85)
    return result


def _nickname_equivalent(coded: Coded, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """True where the two given names share a name or canonical form (nicknames lists)."""
    ua, ub, slot = _unique_value_pairs(coded, left, right)
    valid = np.flatnonzero(ua >= 0)
    result = np.zeros(ua.size, dtype=bool)
    if valid.size:
        names = pd.Series(coded.uniques, dtype=object)
        exploded = names.map(lambda v: sorted(name_equivalents(str(v)))).explode()
        eq_codes, _ = pd.factorize(exploded)
        name_codes = exploded.index.to_numpy(dtype=np.int64)
        width = np.int64(eq_codes.max() + 1)
        right_keys = np.unique(name_codes * width + eq_codes)
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
    initial = np.array([str(v)[:1] for v in names], dtype=object)
    unknown = p.unknown_names(column)
    variant_initial = np.array([str(t)[:1] for t in text], dtype=object)
    long_enough = np.array([len(str(t)) >= 4 for t in text], dtype=bool)
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


def compare_given_name(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    given = p.coded("given_key")
    jw = similarity(given, left, right, JaroWinkler.normalized_similarity)
    g, f = p.joint_names()
    swapped = (g[left] >= 0) & (g[left] == f[right]) & (f[left] == g[right])
    nickname = _nickname_equivalent(p.coded("given_first"), left, right)
    exact = _equal(given, left, right)
    # only the pairs no stronger level claims, with a name the lists do not know on one
    # side, need the (costlier) nickname-typo search
    first = p.coded("given_first").codes
    first_l, first_r = first[left], first[right]
    unknown = p.unknown_names("given_first")
    stronger = exact | nickname | swapped | (jw >= 0.85)
    swapped_typo = _swapped_with_typo(p, left, right, ~stronger)
    weaker = ~(stronger | swapped_typo) & (first_l >= 0) & (first_r >= 0)
    weaker[weaker] = unknown[first_l[weaker]] | unknown[first_r[weaker]]
    nickname_typo = np.zeros(left.size, dtype=bool)
    nickname_typo[weaker] = _typo_of_variant(p, "given_first", left[weaker], right[weaker])
    return _gamma(
        [exact, nickname, jw >= 0.92, swapped, swapped_typo, jw >= 0.85, nickname_typo, jw >= 0.7],
        ~_present(given, left, right),
    )


def compare_family_name(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    """Swapped names are counted once, by the given-name comparison: here such a pair is
    null (no further evidence), or a swap would weigh twice what agreeing names weigh."""
    family = p.coded("family_key")
    jw = similarity(family, left, right, JaroWinkler.normalized_similarity)
    g, f = p.joint_names()
    swapped = (g[left] >= 0) & (g[left] == f[right]) & (f[left] == g[right])
    first, last = p.family_parts()
    fl, ll, fr, lr = first[left], last[left], first[right], last[right]
    part = (fl >= 0) & (fr >= 0) & ((fl == fr) | (fl == lr) | (ll == fr) | (ll == lr))
    exact = _equal(family, left, right)
    swapped |= _swapped_with_typo(p, left, right, ~(exact | swapped | part | (jw >= 0.85)))
    return _gamma(
        [exact, part, jw >= 0.92, jw >= 0.85],
        ~_present(family, left, right) | swapped,
    )


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
    sex = p.coded("sex")
    return _gamma([_equal(sex, left, right)], ~_present(sex, left, right))


def _one_slip(p: Prepared, column: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """True where two different values of equal length differ in one character, or in two
    neighbouring characters swapped (``9846985`` / ``9836985``, ``9512945`` / ``9519245``)."""
    coded = p.coded(column)
    a, b = coded.codes[left], coded.codes[right]
    result = np.zeros(left.size, dtype=bool)
    matrix, lengths = p.characters(column)
    at = np.flatnonzero((a >= 0) & (b >= 0) & (a != b))
    at = at[lengths[a[at]] == lengths[b[at]]]
    if at.size == 0:
        return result
    ca, cb = matrix[a[at]], matrix[b[at]]
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
    has_l = (postcode.codes[left] >= 0) | (line.codes[left] >= 0)
    has_r = (postcode.codes[right] >= 0) | (line.codes[right] >= 0)
    numbers = p.coded("address_numbers")
    same_numbers = numbers.codes[left] == numbers.codes[right]
    # house/flat numbers must agree exactly, so only those pairs need the string similarity
    line_similar = similarity(line, left, right, fuzz.token_sort_ratio, where=same_numbers) >= 90
    # a space slipped into or out of a word (``mckinleycircuit``, ``s treet``) defeats the
    # token sort: compare those few lines again with their spaces removed
    retry = same_numbers & ~line_similar & _present(line, left, right)
    line_similar[retry] = (
        similarity(p.squashed("address_line"), left[retry], right[retry], fuzz.ratio) >= 90
    )
    same_postcode = _equal(postcode, left, right)
    return _gamma(
        [
            same_postcode & line_similar,
            same_postcode,
            line_similar & ~_present(postcode, left, right),
            line_similar,
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
