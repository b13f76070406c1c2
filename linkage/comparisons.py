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
from rapidfuzz.distance import JaroWinkler

from linkage.standardise import name_equivalents

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

    def __len__(self) -> int:
        return len(self.std)

    def coded(self, column: str) -> Coded:
        if column not in self._coded:
            codes, uniques = pd.factorize(self.std[column], use_na_sentinel=True)
            self._coded[column] = Coded(codes.astype(np.int64), np.asarray(uniques, dtype=object))
        return self._coded[column]

    def ints(self, column: str) -> np.ndarray:
        """An integer column with 0 for missing (years, months, days)."""
        if column not in self._ints:
            self._ints[column] = self.std[column].fillna(0).to_numpy(dtype=np.int64)
        return self._ints[column]

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
            codes = pd.factorize(both, use_na_sentinel=True)[0].astype(np.int64)
            n = len(self.std)
            self._ints["_joint_given"] = codes[:n]
            self._ints["_joint_family"] = codes[n:]
        return self._ints["_joint_given"], self._ints["_joint_family"]


def _present(coded: Coded, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return (coded.codes[left] >= 0) & (coded.codes[right] >= 0)


def _equal(coded: Coded, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a = coded.codes[left]
    return (a >= 0) & (a == coded.codes[right])


def _unique_value_pairs(
    coded: Coded, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (left value, right value) code pairs, both present, and each pair's slot."""
    a = coded.codes[left]
    b = coded.codes[right]
    ok = (a >= 0) & (b >= 0)
    width = np.int64(len(coded.uniques) + 1)
    slot, combined = pd.factorize(np.where(ok, a * width + b, -1))
    combined = np.asarray(combined, dtype=np.int64)
    return combined // width, combined % width, slot


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
    ua, ub, slot = _unique_value_pairs(coded, left, right)
    scores = np.full(ua.size, np.nan, dtype=np.float64)
    valid = ua >= 0
    if valid.any():
        scores[valid] = process.cpdist(
            coded.uniques[ua[valid]].tolist(),
            coded.uniques[ub[valid]].tolist(),
            scorer=scorer,
            workers=-1,
        )
    return scores[slot]


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
    return _gamma(
        [_equal(given, left, right), nickname, jw >= 0.92, swapped, jw >= 0.85],
        ~_present(given, left, right),
    )


def compare_family_name(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    family = p.coded("family_key")
    jw = similarity(family, left, right, JaroWinkler.normalized_similarity)
    g, f = p.joint_names()
    swapped = (g[left] >= 0) & (g[left] == f[right]) & (f[left] == g[right])
    first, last = p.family_parts()
    fl, ll, fr, lr = first[left], last[left], first[right], last[right]
    part = (fl >= 0) & (fr >= 0) & ((fl == fr) | (fl == lr) | (ll == fr) | (ll == lr))
    return _gamma(
        [_equal(family, left, right), swapped, part, jw >= 0.92, jw >= 0.85],
        ~_present(family, left, right),
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
    transposed = same_y & (dl == mr) & (ml == dr) & (dl != ml)
    two_of_three = (same_y.astype(np.int8) + same_m + same_d) >= 2
    days = p.std["date_of_birth"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    within_year = np.abs(days[left] - days[right]) <= 365
    return _gamma([exact, transposed, two_of_three, within_year], null)


def compare_sex(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    sex = p.coded("sex")
    return _gamma([_equal(sex, left, right)], ~_present(sex, left, right))


def compare_nhs_number(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    nhs = p.coded("nhs_number")
    return _gamma([_equal(nhs, left, right)], ~_present(nhs, left, right))


def compare_address(p: Prepared, left: np.ndarray, right: np.ndarray) -> Levels:
    """One comparison for all address evidence: postcode and first line are correlated, so
    counting them separately would count "same address" twice (LINKAGE-NOTES)."""
    postcode, line = p.coded("postcode"), p.coded("address_line")
    has_l = (postcode.codes[left] >= 0) | (line.codes[left] >= 0)
    has_r = (postcode.codes[right] >= 0) | (line.codes[right] >= 0)
    numbers = p.coded("address_numbers")
    same_numbers = numbers.codes[left] == numbers.codes[right]
    # house/flat numbers must agree exactly, so only those pairs need the string similarity
    line_similar = similarity(line, left, right, fuzz.token_sort_ratio, where=same_numbers) >= 90
    same_postcode = _equal(postcode, left, right)
    return _gamma(
        [
            same_postcode & line_similar,
            same_postcode,
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
        Comparison("nhs_number", ("agree", "disagree"), compare_nhs_number),
        Comparison(
            "given_name",
            (
                "exact",
                "nickname equivalent",
                "jaro-winkler >= 0.92",
                "swapped with family name",
                "jaro-winkler >= 0.85",
                "else",
            ),
            compare_given_name,
            tf_column="given_key",
        ),
        Comparison(
            "family_name",
            (
                "exact",
                "swapped with given name",
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
                "day and month transposed",
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
                "same first line",
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
