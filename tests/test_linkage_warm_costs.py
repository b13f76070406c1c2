"""The cheaper ways a warm night computes blocking keys, report counts and coded columns
give exactly what the straightforward ways give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkage import blocking, cluster, comparisons
from linkage.blocking import key_codes, pairs_within_groups
from linkage.comparisons import COMPARISONS, Coded, Prepared
from linkage.engine import _in_key_order
from linkage.settings import DEFAULT_BLOCKING_RULES
from linkage.standardise import (
    REQUIRED_COLUMNS,
    _int32,
    _recode,
    standardise,
    standardise_coded,
)
from tests.test_linkage_synth import make_population


@pytest.fixture(scope="module")
def std() -> pd.DataFrame:
    people, _ = make_population(600, seed=5)
    return standardise(people.sort_values("record_key"))


def _key_codes_stepwise(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """``key_codes`` as it was: the combined code factorized after every column."""
    codes = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    for column in columns:
        col_codes = pd.factorize(frame[column], use_na_sentinel=True)[0]
        missing |= col_codes < 0
        codes = codes * (int(col_codes.max(initial=-1)) + 2) + col_codes + 1
        codes = pd.factorize(codes)[0].astype(np.int64)
    codes[missing] = -1
    return codes


@pytest.mark.parametrize("limit", [1 << 62, 1])  # 1: factorized after every column
def test_key_codes_match_factorizing_after_every_column(
    std: pd.DataFrame, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocking, "_COMBINED_LIMIT", limit)
    for rule in DEFAULT_BLOCKING_RULES:
        np.testing.assert_array_equal(
            key_codes(std, rule.columns), _key_codes_stepwise(std, rule.columns)
        )
    assert len(key_codes(std.iloc[:0], ("postcode", "date_of_birth"))) == 0


def _first_rule_counts_listed(codes: tuple[np.ndarray, ...]) -> list[int]:
    """Every pair of every rule listed, each counted for the first rule that has it."""
    n = codes[0].size
    first: dict[int, int] = {}
    for number, own in enumerate(codes):
        left, right, _ = pairs_within_groups(own)
        for pair in (left.astype(np.int64) * n + right).tolist():
            first.setdefault(pair, number)
    return np.bincount(list(first.values()), minlength=len(codes)).tolist()


@pytest.mark.parametrize("list_limit", [0, 4, 1_000_000])
def test_first_rule_counts_match_listing_every_pair(
    list_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocking, "_LIST_PAIRS_PER_RECORD", list_limit)
    rng = np.random.default_rng(list_limit)
    n = 400
    codes = tuple(
        np.where(rng.random(n) < 0.1, -1, rng.integers(0, groups, n)).astype(np.int64)
        for groups in (150, 20, 300, 60, 90)
    )
    got = blocking._first_rule_counts(codes, np.int64(n)).tolist()
    assert got == _first_rule_counts_listed(codes)
    assert all(count > 0 for count in got)


def _prepared_both_ways(std: pd.DataFrame, people: pd.DataFrame) -> list[Prepared]:
    _, coded = standardise_coded(people.sort_values("record_key"))
    return [
        Prepared(std),  # every column factorized from the frame
        Prepared(std, _coded={c: Coded(k.astype(np.int32), u) for c, (k, u) in coded.items()}),
    ]


def test_one_vocabulary_codes_match_factorizing_both_columns(std: pd.DataFrame) -> None:
    people, _ = make_population(600, seed=5)
    n = len(std)
    for prepared in _prepared_both_ways(std, people):
        for (a, b), got in (
            (("family_first", "family_last"), (*prepared.family_parts(), None)),
            (("given_key", "family_key"), (*prepared.joint_names(), prepared.joint_uniques())),
        ):
            both = pd.concat([std[a], std[b]], ignore_index=True)
            codes, uniques = pd.factorize(both, use_na_sentinel=True)
            np.testing.assert_array_equal(got[0], codes[:n])
            np.testing.assert_array_equal(got[1], codes[n:])
            if got[2] is not None:
                np.testing.assert_array_equal(got[2], np.asarray(uniques, dtype=object))
        assert (prepared.family_parts()[1] >= 0).all()


def test_dates_coded_as_pandas_codes_them(std: pd.DataFrame) -> None:
    codes, uniques = pd.factorize(std["date_of_birth"], use_na_sentinel=True)
    coded = Prepared(std).coded("date_of_birth")
    np.testing.assert_array_equal(coded.codes, codes)
    assert len(coded.uniques) == len(uniques) and (coded.codes < 0).any()


@pytest.mark.parametrize("form", ["string", "object", "missing-key", "no-postcode"])
def test_records_in_key_order_as_sort_values_sorts_them(form: str) -> None:
    people, _ = make_population(200, seed=8)
    people = people.assign(extra=1).sample(frac=1, random_state=3)
    people.index = np.arange(len(people))[::-1] * 2
    if form == "object":
        people["record_key"] = people["record_key"].astype(object)
    elif form == "missing-key":
        people["record_key"] = people["record_key"].astype("string")
        people.loc[people.index[[3, 10]], "record_key"] = pd.NA
    elif form == "no-postcode":
        people = people.drop(columns="postcode")
    want = people.sort_values("record_key", kind="stable")
    want = want[[c for c in want.columns if c in REQUIRED_COLUMNS]].reset_index(drop=True)
    pd.testing.assert_frame_equal(_in_key_order(people), want)
    assert _in_key_order(people.iloc[:0]).empty


def _conflicted_reference(
    labels: np.ndarray, nhs_codes: np.ndarray, cannot_left: np.ndarray, cannot_right: np.ndarray
) -> np.ndarray:
    """``cluster._conflicted`` as it was: pandas' drop_duplicates and value_counts."""
    has = nhs_codes >= 0
    per_label = pd.DataFrame({"label": labels[has], "nhs": nhs_codes[has]}).drop_duplicates()
    counts = per_label["label"].value_counts()
    nhs_bad = counts.index[counts.to_numpy() > 1].to_numpy(dtype=np.int64)
    same = labels[cannot_left] == labels[cannot_right]
    return np.union1d(nhs_bad, np.unique(labels[cannot_left[same]]))


@pytest.mark.parametrize("seed", range(12))
def test_clusters_and_conflicts_as_pandas_found_them(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    links = int(rng.integers(0, n))
    left, right = rng.integers(0, n, links), rng.integers(0, n, links)
    nhs = np.where(rng.random(n) < 0.6, rng.integers(0, n // 2 + 1, n), -1)
    if seed == 0:
        nhs[:] = -1
    c_left, c_right = rng.integers(0, n, 10), rng.integers(0, n, 10)
    labels = cluster.components(n, left, right)
    np.testing.assert_array_equal(
        cluster._conflicted(labels, nhs, c_left, c_right),
        _conflicted_reference(labels, nhs, c_left, c_right),
    )
    got = cluster.guarded_clusters(
        n, left, right, rng.random(links), nhs_codes=nhs, cannot_left=c_left, cannot_right=c_right
    )
    # numbered by smallest member, as a groupby-min and a sorted factorize numbered them
    first_index = pd.Series(np.arange(n)).groupby(got).transform("min").to_numpy()
    np.testing.assert_array_equal(got, pd.factorize(first_index, sort=True)[0])


@pytest.mark.parametrize(
    "values",
    [["2001-03-04", None, "1999-12-31"], ["2001-03-04", "1999-12-31"], [], [None]],
    ids=["some-missing", "none-missing", "empty", "all-missing"],
)
def test_birth_fields_as_astype_int32_gives_them(values: list[str | None]) -> None:
    dob = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce")
    missing = dob.isna().to_numpy()
    for field in (dob.dt.year, dob.dt.month, dob.dt.day):
        want, got = field.astype("Int32"), _int32(field, missing)
        pd.testing.assert_series_equal(got, want)
        np.testing.assert_array_equal(got.array._data, want.array._data)


def _recode_by_factorizing(
    codes: np.ndarray, mapped: list[str | None]
) -> tuple[np.ndarray, np.ndarray]:
    """``standardise._recode`` as it was: the mapped column factorized record by record."""
    m_codes, m_uniques = pd.factorize(np.array([*mapped, None], dtype=object))
    first, order = pd.factorize(m_codes[codes])
    present = order >= 0
    renumber = np.where(present, np.cumsum(present) - 1, -1)
    return renumber[first], np.asarray(m_uniques, dtype=object)[order[present]]


@pytest.mark.parametrize("seed", range(40))
def test_recode_numbers_values_as_factorizing_the_records(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(0, 60)), int(rng.integers(1, 25))
    column = pd.Series(rng.integers(0, k, n).astype(str), dtype=object)
    column[rng.random(n) < 0.2] = None
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    mapped = [None if rng.random() < 0.2 else f"m{int(rng.integers(0, 6))}" for _ in uniques]
    got, want = _recode(codes, mapped), _recode_by_factorizing(codes, mapped)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    # a value no record has (a source code unused) is left out, as factorizing leaves it
    if n and codes.max(initial=-1) >= 1:
        fewer = np.where(codes == 0, -1, codes)
        got, want = _recode(fewer, mapped), _recode_by_factorizing(fewer, mapped)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("pairs", [30, 3000])
def test_levels_alike_whether_value_pairs_are_tabled_or_hashed(
    std: pd.DataFrame, pairs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm night compares few pairs, whose distinct value pairs are found by hashing
    rather than a table over every pair of values: every comparison's levels are the same."""
    rng = np.random.default_rng(pairs)
    a, b = rng.integers(0, len(std), pairs), rng.integers(0, len(std), pairs)
    # pairs within a household as well as random ones, so that names agree and nearly agree
    a = np.concatenate([a, np.arange(0, len(std) - 1, 2)])
    b = np.concatenate([b, np.arange(1, len(std), 2)])
    left, right = np.minimum(a, b), np.maximum(a, b)
    levels = []
    for slots in (1 << 40, 0):  # a table always, hashing always
        monkeypatch.setattr(comparisons, "_DENSE_SLOTS_PER_PAIR", slots)
        levels.append(comparisons.compare(Prepared(std), left, right, tuple(COMPARISONS)))
    for name in COMPARISONS:
        np.testing.assert_array_equal(levels[0][name], levels[1][name])
    assert len(set(levels[0]["given_name"].tolist())) > 3
