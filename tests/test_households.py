"""Households (contract D): current address, movers, communal, NFA, UPRN, sensitive persons."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from adapters.errors import ConfigError, DalinkError
from linkage.households import (
    PEOPLE_COLUMNS,
    build_households,
    household_pairwise_scores,
    household_refs,
)

KEY = b"test-household-key"
AS_OF = "2024-06-30"


def _records(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Contract B + person_ref; each row gives at least record_key and person_ref."""
    defaults: dict[str, Any] = {
        "source": "police",
        "sensitive": False,
        "address_date": "2024-01-01",
        "gp_current": False,
        "address_1": "",
        "address_2": "",
        "town": "",
        "postcode": "",
        "uprn": "",
    }
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    for column in ("record_key", "person_ref", "source", *list(defaults)[4:]):
        frame[column] = frame[column].astype("string").replace("", pd.NA)
    frame["address_date"] = pd.to_datetime(frame["address_date"], format="ISO8601")
    return frame


def _person(rec: str, person: str, address_1: str, postcode: str, **extra: Any) -> dict[str, Any]:
    return {
        "record_key": rec,
        "person_ref": person,
        "address_1": address_1,
        "postcode": postcode,
        **extra,
    }


def _people(frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    return build_households(frame, as_of=AS_OF, key=KEY, **options).people.set_index("person_ref")


def _same(people: pd.DataFrame, a: str, b: str) -> bool:
    ha, hb = people.loc[a, "household_ref"], people.loc[b, "household_ref"]
    return bool(pd.notna(ha) and pd.notna(hb) and ha == hb)


def test_child_at_police_address_joins_gp_household() -> None:
    # The review finding: the child's GP address and the police-attended address are one.
    frame = _records(
        [
            _person("gp:P1:1", "child", "14 Oak Rd", "cv11 4aa", source="gp", gp_current=True),
            _person("police:F1:9", "mother", "14, Oak Road", "CV114AA"),
            _person("police:F1:8", "partner", "14 OAK ROAD.", "CV11 4AA"),
        ]
    )
    people = _people(frame)
    assert list(people.reset_index().columns) == list(PEOPLE_COLUMNS)
    assert _same(people, "child", "mother") and _same(people, "child", "partner")
    assert people["household_ref"].str.match(r"^H[0-9a-f]{16}$").all()


MOVER_CASES = [
    # (records of the mover, expected: shares a household with the old or new address)
    (
        "gp current registration beats a later police address",
        [
            _person(
                "gp:P1:1",
                "m",
                "5 New St",
                "CV2 2BB",
                source="gp",
                gp_current=True,
                address_date="2020-01-01",
            ),
            _person("police:F:1", "m", "14 Oak Road", "CV11 4AA", address_date="2024-05-01"),
        ],
        "new",
    ),
    (
        "latest GP registration when several are current",
        [
            _person(
                "gp:P1:1",
                "m",
                "14 Oak Road",
                "CV11 4AA",
                source="gp",
                gp_current=True,
                address_date="2019-01-01",
            ),
            _person(
                "gp:P2:1",
                "m",
                "5 New St",
                "CV2 2BB",
                source="gp",
                gp_current=True,
                address_date="2023-01-01",
            ),
        ],
        "new",
    ),
    (
        "no current GP: most recent dated record",
        [
            _person(
                "gp:P1:1", "m", "14 Oak Road", "CV11 4AA", source="gp", address_date="2019-01-01"
            ),
            _person(
                "ae:R1:7", "m", "5 New Street", "CV2 2BB", source="ae", address_date="2024-03-01"
            ),
        ],
        "new",
    ),
    (
        "records dated after as_of are ignored",
        [
            _person(
                "ae:R1:7", "m", "14 Oak Road", "CV11 4AA", source="ae", address_date="2024-03-01"
            ),
            _person("police:F:2", "m", "5 New Street", "CV2 2BB", address_date="2024-07-02"),
        ],
        "old",
    ),
    (
        "a record dated on as_of counts",
        [
            _person(
                "ae:R1:7", "m", "14 Oak Road", "CV11 4AA", source="ae", address_date="2024-03-01"
            ),
            _person("police:F:2", "m", "5 New Street", "CV2 2BB", address_date="2024-06-30 23:10"),
        ],
        "new",
    ),
    (
        "same date: the smallest record_key, whatever the row order",
        [
            _person(
                "police:F:2",
                "m",
                "5 New Street",
                "CV2 2BB",
                source="police",
                address_date="2024-03-01",
            ),
            _person(
                "ae:R1:7", "m", "14 Oak Road", "CV11 4AA", source="ae", address_date="2024-03-01"
            ),
        ],
        "old",
    ),
    (
        "undated records come after dated ones",
        [
            _person("ae:R1:7", "m", "5 New Street", "CV2 2BB", source="ae", address_date=None),
            _person(
                "police:F:2",
                "m",
                "14 Oak Road",
                "CV11 4AA",
                source="police",
                address_date="2019-01-01",
            ),
        ],
        "old",
    ),
    (
        "all undated: the smallest record_key",
        [
            _person("police:F:2", "m", "14 Oak Road", "CV11 4AA", address_date=None),
            _person("ae:R1:7", "m", "5 New Street", "CV2 2BB", source="ae", address_date=None),
        ],
        "new",
    ),
]


@pytest.mark.parametrize(
    ("records", "expected"), [c[1:] for c in MOVER_CASES], ids=[c[0] for c in MOVER_CASES]
)
def test_movers(records: list[dict[str, Any]], expected: str) -> None:
    frame = _records(
        [
            *records,
            _person("gp:P1:50", "old", "14 Oak Road", "CV11 4AA", source="gp", gp_current=True),
            _person("gp:P1:51", "new", "5 New Street", "CV2 2BB", source="gp", gp_current=True),
        ]
    )
    people = _people(frame)
    assert _same(people, "m", expected)
    assert not _same(people, "m", "new" if expected == "old" else "old")


def _block(n: int, *, sensitive: int = 0) -> pd.DataFrame:
    rows = [_person(f"police:F:{i}", f"p{i:02d}", "1 Hostel Road", "CV1 9ZZ") for i in range(n)]
    rows += [
        _person(f"gp:P:{i}", f"s{i}", "1 Hostel Road", "CV1 9ZZ", source="gp", sensitive=True)
        for i in range(sensitive)
    ]
    return _records(rows)


@pytest.mark.parametrize(
    ("persons", "sensitive", "max_persons", "communal"),
    [(11, 0, 10, True), (10, 0, 10, False), (10, 3, 10, False), (4, 0, 3, True), (1, 0, 10, False)],
)
def test_communal(persons: int, sensitive: int, max_persons: int, communal: bool) -> None:
    people = _people(_block(persons, sensitive=sensitive), max_persons=max_persons)
    placed = people[~people["sensitive"]]
    assert placed["household_ref"].notna().all()
    assert placed["household_ref"].nunique() == 1
    assert placed["communal"].eq(communal).all()
    assert not people.loc[people["sensitive"], "communal"].any()


@pytest.mark.parametrize(
    ("address_1", "postcode", "nfa"),
    [
        ("NFA", "", True),
        ("No fixed abode", "CV1 1AA", True),
        ("N.F.A.", "", True),
        ("1 Anywhere Road", "ZZ99 3VZ", True),
        ("", "", False),
        ("Oak Road", "CV1 1AA", False),
    ],
)
def test_no_fixed_abode_or_unknown_is_in_no_household(
    address_1: str, postcode: str, nfa: bool
) -> None:
    frame = _records(
        [
            _person("police:F:1", "a", address_1, postcode),
            _person("police:F:2", "b", address_1, postcode),
        ]
    )
    people = _people(frame)
    assert people["household_ref"].isna().all()
    assert people["address_key"].isna().all()
    assert people["no_fixed_abode"].eq(nfa).all()


def test_uprn_precedence() -> None:
    frame = _records(
        [
            _person("gp:P:1", "a", "14 Oak Road", "CV11 4AA", source="gp", uprn="100012345"),
            _person("gp:P:2", "b", "Flat 9 Old Mill", "CV11 4AA", source="gp", uprn="100012345"),
            _person("gp:P:3", "c", "14 Oak Road", "CV11 4AA", source="gp", uprn="100099999"),
            _person("police:F:4", "d", "2 Elm Road", "CV3 1AA", uprn="200"),
            _person("police:F:5", "e", "2 Elm Rd", "CV3 1AA"),
        ]
    )
    hh = build_households(frame, as_of=AS_OF, key=KEY)
    people = hh.people.set_index("person_ref")
    assert _same(people, "a", "b")
    assert not _same(people, "a", "c")
    assert _same(people, "d", "e")
    assert people.loc["a", "address_key"] == "UPRN:100012345"
    assert people.loc["e", "address_key"] == "UPRN:200"


def test_sensitive_person_is_excluded_and_links_nobody() -> None:
    frame = _records(
        [
            # The sensitive person's GP address and an old police address.
            _person(
                "gp:P:1",
                "victim",
                "Flat 3, 7 Quiet Lane",
                "CV5 5QQ",
                source="gp",
                gp_current=True,
                sensitive=True,
            ),
            _person("police:F:1", "victim", "14 Oak Road", "CV11 4AA"),
            # Each of these shares one of the victim's addresses with no one else.
            _person("police:F:2", "suspect", "14 Oak Rd", "CV11 4AA"),
            _person("ae:R:3", "other", "Flat 3, 7 Quiet Ln", "CV5 5QQ", source="ae"),
        ]
    )
    hh = build_households(frame, as_of=AS_OF, key=KEY)
    people = hh.people.set_index("person_ref")
    assert bool(people.loc["victim", "sensitive"])
    assert pd.isna(people.loc["victim", "household_ref"])
    assert pd.isna(people.loc["victim", "address_key"])
    assert not people.loc[["suspect", "other"], "sensitive"].any()
    assert people.loc[["suspect", "other"], "household_ref"].notna().all()
    assert not _same(people, "suspect", "victim") and not _same(people, "other", "victim")
    assert not hh.addresses["record_key"].isin(["gp:P:1", "police:F:1"]).any()
    assert set(hh.addresses["record_key"]) == {"police:F:2", "ae:R:3"}


def _night(extra: bool) -> pd.DataFrame:
    rows = [
        _person("gp:P:1", "a", "14 Oak Rd", "CV11 4AA", source="gp", gp_current=True),
        _person("police:F:1", "b", "14 Oak Road", "CV11 4AA"),
        _person("ae:R:1", "c", "Rose Cottage", "CV7 9ZZ", source="ae"),
    ]
    if extra:
        rows.append(_person("mh:M:1", "d", "Flat 1, 2 Elm Grove", "CV1 1AA", source="mh"))
    return _records(rows)


def test_household_ref_stable_across_nights_and_deterministic() -> None:
    first = build_households(_night(False), as_of=AS_OF, key=KEY).people.set_index("person_ref")
    second = build_households(_night(True), as_of="2024-07-01", key=KEY).people
    second = second.set_index("person_ref")
    assert first["household_ref"].equals(second.loc[first.index, "household_ref"])
    shuffled = _night(True).sample(frac=1.0, random_state=3)
    again = build_households(shuffled, as_of="2024-07-01", key=KEY)
    pd.testing.assert_frame_equal(again.people.set_index("person_ref"), second)
    other_key = build_households(_night(False), as_of=AS_OF, key=b"another").people
    assert not set(other_key["household_ref"]) & set(first["household_ref"])


def test_household_of_one_gets_a_ref() -> None:
    people = _people(_records([_person("ae:R:1", "solo", "3 Lone Walk", "CV9 9AA")]))
    assert str(people.loc["solo", "household_ref"]).startswith("H")
    assert not people.loc["solo", "communal"]


def test_known_household_refs_are_reused_and_the_rest_hashed() -> None:
    keys = pd.Series(["CV1 1AA||1|A ROAD", None, "CV1 1AA||2|A ROAD", "B", "B"], dtype="string")
    fresh = household_refs(keys, key=KEY)
    # a planted wrong ref shows the known map is read, not recomputed
    known = pd.Series(["Hplanted"], index=pd.Index(["CV1 1AA||2|A ROAD"], dtype=object))
    reused = household_refs(keys, key=KEY, known=known)
    assert reused.iloc[2] == "Hplanted"
    expected = fresh.copy()
    expected.iloc[2] = "Hplanted"
    pd.testing.assert_series_equal(reused, expected)
    assert pd.isna(reused.iloc[1])


def test_household_ref_map_survives_a_night_only_under_the_same_key() -> None:
    from linkage.households import refs_from_bytes, refs_to_bytes

    keys = pd.Series(["CV1 1AA||1|A ROAD", "CV2 2BB||7|B STREET"], dtype="string")
    refs = pd.Series(
        household_refs(keys, key=KEY).to_numpy(dtype=object),
        index=pd.Index(keys.to_numpy(dtype=object)),
    )
    blob = refs_to_bytes(refs, key=KEY)
    back = refs_from_bytes(blob, key=KEY)
    assert back is not None
    pd.testing.assert_series_equal(back, refs)
    assert refs_from_bytes(blob, key=b"another store's key") is None
    assert refs_from_bytes(b"not parquet", key=KEY) is None


def test_household_refs_keeps_na() -> None:
    refs = household_refs(pd.Series(["CV1 1AA||1|A ROAD", None], dtype="string"), key=KEY)
    assert refs.iloc[0].startswith("H") and pd.isna(refs.iloc[1])


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"key": b""}, ConfigError),
        ({"key": "text"}, ConfigError),
        ({"max_persons": 0}, ConfigError),
        ({"as_of": "not a date"}, ConfigError),
    ],
)
def test_bad_options_fail_fast(options: dict[str, Any], error: type[Exception]) -> None:
    kwargs: dict[str, Any] = {"as_of": AS_OF, "key": KEY, **options}
    with pytest.raises(error):
        build_households(_night(False), **kwargs)


def test_no_records_no_people() -> None:
    households = build_households(_night(False).iloc[:0], as_of=AS_OF, key=KEY)
    assert list(households.people.columns) == list(PEOPLE_COLUMNS)
    assert households.people.empty and households.addresses.empty


def test_missing_columns_fail_fast() -> None:
    with pytest.raises(DalinkError, match="person_ref"):
        build_households(_night(False).drop(columns="person_ref"), as_of=AS_OF, key=KEY)


def test_pairwise_scores() -> None:
    people = pd.DataFrame(
        {
            "person_ref": ["a", "b", "c", "d", "e", "f"],
            "household_ref": ["H1", "H1", "H1", "H2", "H2", pd.NA],
        }
    )
    truth = pd.DataFrame(
        {
            "person_ref": ["a", "b", "c", "d", "e", "f"],
            "household": ["T1", "T1", "T2", "T3", "T3", "T3"],
            "flat": ["1", "1", "2", pd.NA, pd.NA, pd.NA],
        }
    )
    scores = household_pairwise_scores(people, truth)
    # predicted pairs: ab ac bc de = 4; true: ab de df ef = 4; correct: ab de = 2.
    assert (scores.predicted_pairs, scores.true_pairs, scores.correct_pairs) == (4, 4, 2)
    assert scores.precision == pytest.approx(0.5) and scores.recall == pytest.approx(0.5)
    assert scores.f1 == pytest.approx(0.5)
    assert scores.merged_flat_pairs == 2  # ac, bc


def test_regrouping_with_known_keys_equals_a_full_build() -> None:
    """The held-flag pass regroups persons (pending links accepted) and reuses tonight's
    address keys instead of parsing again: the households must be the ones a full build
    gives, movers included (a merged person's current record is the best of its parts')."""
    records = _records(
        [
            _person("gp:A:1", "P1", "14 Oak Road", "LS6 1AA", source="gp", gp_current=True),
            _person("ae:R:1", "P2", "3 Elm Close", "LS7 2BB", address_date="2024-06-01"),
            _person("gp:A:2", "P3", "14, Oak Rd", "LS6 1AA", source="gp", gp_current=True),
            _person("police:F:1", "P4", "Flat 2, 14 Oak Road", "LS6 1AA"),
            _person("mh:M:1", "P5", "No fixed abode", "ZZ99 3VZ"),
            _person("ae:R:2", "P6", "3 Elm Cl", "LS7 2BB", address_date="2023-01-01"),
        ]
    )
    night = build_households(records, as_of="2024-12-01", key=KEY)
    # accept two pending links: P2 is P1 (P1's current GP registration wins), P5 is P6
    regrouped = records.assign(person_ref=records["person_ref"].replace({"P2": "P1", "P5": "P6"}))
    full = build_households(regrouped, as_of="2024-12-01", key=KEY)
    reused = build_households(regrouped, as_of="2024-12-01", key=KEY, known=night)
    pd.testing.assert_frame_equal(reused.people, full.people)
    people = full.people.set_index("person_ref")
    assert _same(people, "P1", "P3")
    assert not _same(people, "P1", "P4")


@pytest.mark.parametrize("key_length", [1, 32, 64, 65, 200])
def test_household_refs_are_hmac_sha256_of_the_address_key(key_length: int) -> None:
    import hashlib
    import hmac

    key = bytes(range(256))[:key_length]
    keys = pd.Series(["CV1 1AA||1|A ROAD", "ZZ||flat 2|14|OAK ROAD", "é"], dtype="string")
    expected = [
        "H" + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:16] for text in keys
    ]
    assert list(household_refs(keys, key=key)) == expected
