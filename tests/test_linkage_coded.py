"""Standardising hands its string columns over as codes; they must be exactly the codes
``pd.factorize`` gives each column (the engine no longer factorizes them itself)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.incremental import record_hashes
from linkage.standardise import standardise, standardise_coded
from tests.test_linkage_synth import make_population


def _records() -> pd.DataFrame:
    people, _ = make_population(400, seed=3)
    odd = people.head(6).copy()
    odd["record_key"] = [f"odd:{i}" for i in range(6)]
    # missing, empty, title-only, unparsable and lower-case values
    odd["given_name"] = [None, "", "Mrs", "Zoë", "bob", "MARY-JANE"]
    odd["postcode"] = [None, "", "bad", "ls6 2ab", "LS6 2AB", " CV11 4AA "]
    odd["sex"] = [None, "u", "m", "F", "", "X"]
    odd["address_1"] = [None, "", "Flat 3", "12 High St.", "Ashdene", "!!"]
    return pd.concat([people, odd], ignore_index=True)


def test_codes_are_factorize_codes_of_the_standardised_columns() -> None:
    std, coded = standardise_coded(_records())
    pd.testing.assert_frame_equal(std, standardise(_records()))
    string_columns = [c for c in std.columns if std[c].dtype == "string" and c != "record_key"]
    assert sorted(coded) == sorted(string_columns)
    for column, (codes, uniques) in coded.items():
        want_codes, want_uniques = pd.factorize(std[column], use_na_sentinel=True)
        np.testing.assert_array_equal(codes, want_codes, err_msg=column)
        assert list(uniques) == list(np.asarray(want_uniques, dtype=object)), column


def test_record_hashes_are_the_same_with_or_without_the_codes() -> None:
    std, coded = standardise_coded(_records())
    np.testing.assert_array_equal(record_hashes(std, coded), record_hashes(std))


def test_record_hashes_see_every_field_and_not_the_key() -> None:
    std, _ = standardise_coded(_records())
    base = record_hashes(std)
    # records alike in every field share a hash, and only those
    distinct_rows = len(std.drop(columns="record_key").drop_duplicates())
    assert len(set(base.tolist())) == distinct_rows
    rekeyed = std.assign(record_key=std["record_key"] + "x")
    np.testing.assert_array_equal(record_hashes(rekeyed), base)
    for column in std.columns.drop("record_key"):
        changed = std.copy()
        row = changed.index[0]
        value = changed.at[row, column]
        changed.at[row, column] = changed.at[changed.index[1], column]
        if changed.at[row, column] is pd.NA and value is pd.NA:
            continue
        if changed.at[row, column] == value:
            continue
        hashes = record_hashes(changed)
        assert hashes[0] != base[0], column
        np.testing.assert_array_equal(hashes[1:], base[1:])
