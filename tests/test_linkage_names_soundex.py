"""The sorted pair of both names' soundex codes, built on codes, is exactly the string
formulation it replaced (kept here as the reference), values and codes alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkage.standardise import _soundex, standardise_coded
from tests.test_linkage_synth import make_population


def _reference(given_key: pd.Series, family_key: pd.Series) -> pd.Series:
    """The string-keyed formulation: both names' soundex, the smaller first."""
    given = given_key.map(lambda v: _soundex(v) if isinstance(v, str) else None, na_action=None)
    family = family_key.map(lambda v: _soundex(v) if isinstance(v, str) else None)
    given, family = given.astype("string"), family.astype("string")
    low = given.where(given <= family, family)
    high = family.where(given <= family, given)
    return (low + " " + high).astype("string")


def _records() -> list[pd.DataFrame]:
    people, _ = make_population(300, seed=21)
    edge = people.head(6).copy()
    edge["given_name"] = ["Ann", None, "Mr", "Zoe", "Ann", "Bo"]  # "Mr" cleans to nothing
    edge["family_name"] = ["Zed", "Lee", "Stone", None, "Ann", "Bo"]
    blank = people.head(3).assign(given_name=None, family_name=None)
    return [people, edge, blank, people.iloc[:0]]


@pytest.mark.parametrize("records", _records(), ids=["population", "edges", "blank", "empty"])
def test_names_soundex_equals_the_string_reference(records: pd.DataFrame) -> None:
    std, coded = standardise_coded(records)
    want = _reference(std["given_key"], std["family_key"])
    pd.testing.assert_series_equal(std["names_soundex"], want, check_names=False)
    codes, uniques = coded["names_soundex"]
    ref_codes, ref_uniques = pd.factorize(want, use_na_sentinel=True)
    np.testing.assert_array_equal(codes, ref_codes)
    assert list(uniques) == list(ref_uniques)
