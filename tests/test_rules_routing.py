"""Need-to-know routing: holdings from person records, and route()."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from rules import holdings, route
from rules.base import flag_frame
from rules.routing import HOLDING_RECORD_COLUMNS


def _rows(frame: pd.DataFrame) -> list[Any]:
    return list(frame.itertuples())


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Person records from rows in holdings' column order."""
    frame = pd.DataFrame(rows, columns=list(HOLDING_RECORD_COLUMNS))
    frame["address_date"] = pd.to_datetime(frame["address_date"])
    return frame


def _records() -> pd.DataFrame:
    rows = [
        # person, source, org, record_id, local_id, nhs, address_date, gp_current
        ("p1", "gp", "A81001", "G1", "G1", "9990000018", "2020-01-01", True),
        ("p1", "gp", "A81009", "G0", "G0", "9990000018", "2015-01-01", False),
        ("p1", "gp", "V81999", "GX", "GX", None, "2021-01-01", True),
        ("p1", "ae", "RAE01", "A1", "H-OLD", None, "2025-01-01", False),
        ("p1", "ae", "RAE01", "A2", "H-NEW", None, "2026-01-01", False),
        ("p1", "ae", "RAE02", "A3", "A3", None, "2026-02-01", False),
        ("p1", "police", "F01", "N1", "N1", None, "2026-03-01", False),
        ("p2", "ae", "RAE01", "A4", "H4", "9990000026", "2026-01-01", False),
        ("p3", "gp", "A81001", "G3", "G3", None, "2020-01-01", True),
        ("p3", "gp", "A81002", "G4", "G4", None, "2022-01-01", True),
    ]
    frame = _frame(rows)
    frame["record_key"] = frame["source"] + ":" + frame["org_code"] + ":" + frame["record_id"]
    return frame


def _keys(frame: pd.DataFrame) -> set[tuple[str, str, str]]:
    return {
        (r.person_ref, r.recipient_type, "" if pd.isna(r.recipient_code) else r.recipient_code)
        for r in _rows(frame)
    }


def test_holdings_need_to_know() -> None:
    held = holdings(_records())
    assert _keys(held) == {
        ("p1", "gp", "A81001"),
        ("p1", "ae", "RAE01"),
        ("p1", "ae", "RAE02"),
        ("p1", "police", "F01"),
        ("p2", "ae", "RAE01"),
        ("p3", "gp", "A81001"),
        ("p3", "gp", "A81002"),
    }
    by = held.set_index(["person_ref", "recipient_type", "recipient_code"])
    assert by.loc[("p1", "ae", "RAE01"), "local_id"] == "H-NEW"  # most recent record's id
    assert by.loc[("p1", "ae", "RAE02"), "local_id"] == "A3"
    assert by.loc[("p1", "gp", "A81001"), "nhs_number"] == "9990000018"
    assert by.loc[("p1", "ae", "RAE01"), "nhs_number"] == "9990000018"  # the person's number
    assert pd.isna(by.loc[("p1", "police", "F01"), "nhs_number"])


def test_holdings_ties_are_broken_the_same_way_every_night() -> None:
    held = holdings(
        _frame(
            [
                # most frequent number wins (p1); a tie goes to the smaller number (p2)
                ("p1", "ae", "R1", "A9", "L9", "9990000034", "2026-01-01", False),
                ("p1", "ae", "R1", "A8", "L8", "9990000034", None, False),
                ("p1", "gp", "G1", "P1", "P1", "9990000018", "2026-01-01", True),
                ("p2", "ae", "R1", "B2", "M2", "9990000026", "2026-01-01", False),
                ("p2", "ae", "R1", "B1", "M1", "9990000018", "2026-01-01", False),
                # unknown last_seen loses to a known one; same date: the smaller record id
                ("p3", "mh", "M1", "C1", "C1", None, None, False),
                ("p3", "mh", "M1", "C2", "C2", None, "2025-01-01", False),
                ("p3", "police", "F1", "N2", "N2", None, "2025-01-01", False),
                ("p3", "police", "F1", "N1", "N1", None, "2025-01-01", False),
            ]
        )
    )
    by = held.set_index(["person_ref", "recipient_type", "recipient_code"])
    assert by.loc[("p1", "gp", "G1"), "nhs_number"] == "9990000034"
    assert by.loc[("p1", "ae", "R1"), "local_id"] == "L9"  # dated record before undated
    assert by.loc[("p2", "ae", "R1"), "nhs_number"] == "9990000018"
    assert by.loc[("p2", "ae", "R1"), "local_id"] == "M1"
    assert by.loc[("p3", "mh", "M1"), "local_id"] == "C2"
    assert by.loc[("p3", "police", "F1"), "local_id"] == "N1"
    assert list(held["person_ref"]) == sorted(held["person_ref"])  # holder order


def _raw(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    return flag_frame(
        pd.DataFrame(
            [
                {
                    "rule": "DA-SH",
                    "severity": "HIGH",
                    "person_ref": p,
                    "recipient_type": t,
                    "recipient_code": c,
                    "summary": "s",
                    "evidence_date": "2026-12-01",
                }
                for p, t, c in rows
            ]
        )
    )


def test_gp_goes_to_every_current_practice_only() -> None:
    out = route(_raw([("p3", "gp", None), ("p1", "gp", None)]), holdings(_records()))
    assert _keys(out) == {("p3", "gp", "A81001"), ("p3", "gp", "A81002"), ("p1", "gp", "A81001")}
    assert "A81009" not in set(out["recipient_code"])  # deregistered practice
    assert not set(out["recipient_code"]) & {"V81997", "V81998", "V81999"}


def test_no_practice_is_unrouted_once() -> None:
    out = route(_raw([("p2", "gp", None), ("p2", "ae", None)]), holdings(_records()))
    assert _keys(out) == {("p2", "unrouted", ""), ("p2", "ae", "RAE01")}
    unrouted = out.loc[out["recipient_type"] == "unrouted"].iloc[0]
    assert pd.isna(unrouted["local_id"]) and unrouted["nhs_number"] == "9990000026"


def test_named_recipient_that_does_not_hold_the_person_gets_nothing() -> None:
    out = route(
        _raw([("p2", "ae", "RAE02"), ("p2", "police", None), ("p9", "ae", None)]),
        holdings(_records()),
    )
    assert out.empty


def test_v8199x_never_a_practice_even_if_in_holdings() -> None:
    held = holdings(_records())
    bogus = pd.DataFrame(
        [{"person_ref": "p2", "recipient_type": "gp", "recipient_code": "V81999", "local_id": "x"}]
    )
    out = route(_raw([("p2", "gp", None)]), pd.concat([held, bogus], ignore_index=True))
    assert _keys(out) == {("p2", "unrouted", "")}


def test_every_routed_row_is_held() -> None:
    held = holdings(_records())
    out = route(
        _raw(
            [(p, t, None) for p in ("p1", "p2", "p3", "p9") for t in ("gp", "ae", "mh", "police")]
        ),
        held,
    )
    routed = out.loc[out["recipient_type"] != "unrouted"]
    assert _keys(routed) <= _keys(held)
    assert set(out.loc[out["recipient_type"] == "unrouted", "person_ref"]) == {"p2", "p9"}


def test_the_need_to_know_check_refuses_a_row_for_a_non_holder() -> None:
    from rules.errors import RoutingError
    from rules.routing import _check_held

    held = holdings(_records())
    rows = held[["person_ref", "recipient_type", "recipient_code"]].copy()
    _check_held(rows, held)  # every holder may receive
    for person, rtype, code in [
        ("p2", "gp", "A81001"),
        ("p1", "ae", "RAE09"),
        ("p9", "ae", "RAE01"),
    ]:
        stray = pd.concat([rows, pd.DataFrame([[person, rtype, code]], columns=rows.columns)])
        with pytest.raises(RoutingError):
            _check_held(stray, held)


@pytest.mark.parametrize("size", [0, 1, 7, 1000])
def test_distinct_counts_is_np_unique_with_counts(size: int) -> None:
    from rules.base import distinct_counts

    values = np.random.default_rng(size).integers(-5, 40, size)
    got = distinct_counts(values)
    want = np.unique(values, return_counts=True)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
