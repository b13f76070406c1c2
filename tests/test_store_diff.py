"""The commit's cheap comparisons decide exactly what the plain ones would."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adapters.store import _cells, _equal_cells, _positions, _row_codes

_NOW = ["a", None, "b", None, "c", "d"]
_WAS = ["a", None, "x", "y", None, float("nan")]
_SAME = [True, True, False, False, False, False]


@pytest.mark.parametrize(
    "now",
    [
        pd.Series(pd.array(_NOW, dtype="string")),
        pd.Series(_NOW, dtype=object),
        pd.Series([np.nan if v is None else v for v in _NOW], dtype=object),
        pd.Series([pd.NA if v is None else v for v in _NOW], dtype=object),
    ],
    ids=["string", "object-None", "object-nan", "object-NA"],
)
@pytest.mark.parametrize("nan_was", [False, True], ids=["was-None", "was-nan"])
def test_equal_cells_is_equal_values_or_both_blank(now: pd.Series, nan_was: bool) -> None:
    was = np.array([float("nan") if v is None and nan_was else v for v in _WAS], dtype=object)
    assert _equal_cells(_cells(now), was).tolist() == _SAME
    # the raw cells (pd.NA in them) take the careful route to the same answer
    assert _equal_cells(np.asarray(now.array, dtype=object), was).tolist() == _SAME


def test_cells_leave_the_column_untouched() -> None:
    column = pd.Series(pd.array(["a", None], dtype="string"))
    assert _cells(column).tolist() == ["a", None]
    assert column.isna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("keys", "wanted"),
    [
        (["k1", "k2", "k3"], ["k3", "k9", "k1"]),
        ([], ["k1"]),
        (["k1"], []),
        ([1, 2], [2, 3]),  # not text: pandas decides
    ],
)
def test_positions_are_pandas_get_indexer(keys: list[object], wanted: list[object]) -> None:
    left = pd.Series(keys, dtype=object)
    right = (
        pd.Series(pd.array(wanted, dtype="string"))
        if wanted and isinstance(wanted[0], str)
        else pd.Series(wanted, dtype=object)
    )
    expected = pd.Index(left).get_indexer(right)
    np.testing.assert_array_equal(_positions(left, right), expected)


def test_row_codes_match_rows_stored_alike() -> None:
    columns = ["rule", "summary", "raised_on"]
    before = pd.DataFrame(
        {
            "rule": ["R1", "R1", "R2", "R3"],
            "summary": ["s", None, "s", "a\x1fb"],
            "raised_on": ["2026-11-20", "2026-11-20", "2026-11-19", "2026-11-20"],
        }
    )
    tonight = pd.DataFrame(
        {
            "rule": pd.array(["R1", "R1", "R2", "R3"], dtype="string"),
            "summary": ["s", None, "t", "a"],
            "raised_on": pd.to_datetime(
                [
                    pd.Timestamp("2026-11-20 10:00"),
                    pd.Timestamp("2026-11-20"),
                    pd.Timestamp("2026-11-19"),
                    None,
                ]
            ),
        }
    )
    old, new = _row_codes(before, tonight, columns)
    assert np.isin(old, new).tolist() == [True, True, False, False]
    assert np.isin(new, old).tolist() == [True, True, False, False]
