"""Stable person_ref across nights: new persons, joins, merges and splits."""

from __future__ import annotations

import pandas as pd
import pytest

from adapters.errors import ConfigError
from linkage.identity import assign_person_refs, person_ref_for

KEY = b"test-secret"


def run(mapping: dict[str, int], previous: pd.DataFrame | None = None, **kw):  # type: ignore[no-untyped-def]
    clusters = pd.DataFrame({"record_key": list(mapping), "cluster_id": list(mapping.values())})
    return assign_person_refs(clusters, previous, key=KEY, **kw)


def refs(frame: pd.DataFrame) -> dict[str, str]:
    return dict(zip(frame["record_key"], frame["person_ref"], strict=True))


def test_new_ref_is_keyed_hash_of_smallest_record_key() -> None:
    people, events = run({"gp:1": 0, "ae:9": 0, "police:3": 1})
    got = refs(people)
    assert got["gp:1"] == got["ae:9"] == person_ref_for("ae:9", key=KEY)
    assert got["police:3"].startswith("P") and len(got["police:3"]) == 17
    assert person_ref_for("ae:9", key=b"other") != got["ae:9"]
    assert events.empty


def test_stable_across_nights_when_new_records_arrive() -> None:
    night1, _ = run({"gp:1": 0, "ae:2": 0, "gp:5": 1})
    night2, events = run({"aa:0": 0, "gp:1": 0, "ae:2": 0, "gp:5": 1, "mh:7": 2}, night1)
    one, two = refs(night1), refs(night2)
    # a new record with a smaller key joins person 1: the ref does not change
    assert two["aa:0"] == two["gp:1"] == one["gp:1"]
    assert two["gp:5"] == one["gp:5"]
    assert two["mh:7"] not in set(one.values())
    assert events.empty


def test_merge_keeps_the_older_ref() -> None:
    previous = pd.DataFrame(
        {
            "record_key": ["a", "b"],
            "person_ref": ["PZZZ", "PAAA"],
            "first_seen": pd.to_datetime(["2020-01-01", "2023-01-01"]),
        }
    )
    people, events = run({"a": 0, "b": 0}, previous)
    assert set(refs(people).values()) == {"PZZZ"}  # first seen earlier, though larger
    assert events.to_dict("records") == [
        {"event": "merge", "person_ref": "PZZZ", "other_ref": "PAAA", "records": 1}
    ]


def test_merge_without_first_seen_keeps_smallest_ref() -> None:
    previous = pd.DataFrame({"record_key": ["a", "b"], "person_ref": ["PZZZ", "PAAA"]})
    people, events = run({"a": 0, "b": 0}, previous)
    assert set(refs(people).values()) == {"PAAA"}
    assert events["event"].tolist() == ["merge"]


def test_split_largest_part_keeps_ref_others_get_new() -> None:
    previous = pd.DataFrame({"record_key": ["a", "b", "c"], "person_ref": ["PX"] * 3})
    people, events = run({"a": 0, "b": 1, "c": 1}, previous)
    got = refs(people)
    assert got["b"] == got["c"] == "PX"
    assert got["a"] not in {"PX"}
    assert events.to_dict("records") == [
        {"event": "split", "person_ref": got["a"], "other_ref": "PX", "records": 1}
    ]


def test_split_part_hash_colliding_with_old_ref_is_rehashed() -> None:
    old = person_ref_for("a", key=KEY)
    previous = pd.DataFrame({"record_key": ["a", "b", "c"], "person_ref": [old] * 3})
    people, _ = run({"a": 0, "b": 1, "c": 1}, previous)
    got = refs(people)
    assert got["b"] == old and got["a"] != old


def test_first_seen_is_carried_and_set_for_new() -> None:
    people, _ = run({"a": 0}, None, as_of=pd.Timestamp("2024-06-30"))
    assert people["first_seen"].tolist() == [pd.Timestamp("2024-06-30")]


def test_empty_key_is_rejected() -> None:
    with pytest.raises(ConfigError, match="non-empty key"):
        assign_person_refs(pd.DataFrame({"record_key": [], "cluster_id": []}), None, key=b"")
