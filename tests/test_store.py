"""The SQL store: lock, review decisions and audit, and the one-transaction run commit."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from adapters.errors import NotFoundError, StoreLockedError, UsageError
from adapters.store import RunState, Store, pair_id


def _state(
    run_id: str, *, links: pd.DataFrame | None = None, flags: pd.DataFrame | None = None
) -> RunState:
    records = pd.DataFrame(
        {
            "record_key": ["gp:A1:1", "ae:R1:9"],
            "source": ["gp", "ae"],
            "org_code": ["A1", "R1"],
            "record_id": ["1", "9"],
            "person_ref": ["P1", "P1"],
            "household_ref": ["H1", None],
            "record_hash": ["x", "y"],
        }
    )
    empty_links = pd.DataFrame(
        columns=[
            "pair_id",
            "record_key_l",
            "record_key_r",
            "match_probability",
            "match_weight",
            "detail",
        ]
    )
    empty_flags = pd.DataFrame(
        columns=["rule", "person_ref", "recipient_type", "recipient_code", "severity", "raised_on"]
    )
    return RunState(
        run_id=run_id,
        as_of=date(2026, 11, 20),
        started_at=datetime(2026, 11, 20, 23, 0, tzinfo=UTC),
        input_fingerprint="f" * 64,
        manifest={"run_id": run_id},
        records=records,
        person_events=pd.DataFrame(columns=["kind", "person_ref", "other_ref"]),
        review_links=links if links is not None else empty_links,
        held=pd.DataFrame(
            columns=["pair_id", "rule", "recipient_type", "recipient_code", "severity"]
        ),
        flags=flags if flags is not None else empty_flags,
        flag_transitions=pd.DataFrame(
            columns=["rule", "person_ref", "recipient_type", "recipient_code", "status"]
        ),
    )


def _link(left: str, right: str, probability: float = 0.9) -> dict[str, object]:
    return {
        "pair_id": pair_id(left, right),
        "record_key_l": left,
        "record_key_r": right,
        "match_probability": probability,
        "match_weight": 3.2,
        "detail": "{}",
    }


def test_lock_is_exclusive_and_released(store_url: str) -> None:
    store = Store(store_url)
    with (
        store.lock("run-1"),
        pytest.raises(StoreLockedError, match="holds this store"),
        store.lock("run-2"),
    ):
        pass
    with store.lock("run-3"):
        pass


def test_pseudonym_key_is_kept(store_url: str) -> None:
    assert Store(store_url).pseudonym_key() == Store(store_url).pseudonym_key()


def test_commit_run_round_trip_and_first_seen(store_url: str) -> None:
    store = Store(store_url)
    flags = pd.DataFrame(
        [
            {
                "rule": "DA-SH",
                "person_ref": "P1",
                "recipient_type": "gp",
                "recipient_code": "A1",
                "severity": "HIGH",
                "local_id": "1",
                "nhs_number": None,
                "summary": "s",
                "raised_on": date(2026, 11, 20),
            }
        ]
    )
    store.commit_run(_state("run-1", flags=flags))
    store.commit_run(_state("run-2", flags=flags))
    ids = store.identities()
    assert set(ids["person_ref"]) == {"P1"}
    assert set(ids["first_seen_run"]) == {"run-1"}
    active = store.active_flags()
    assert active.loc[0, "raised_on"] == pd.Timestamp("2026-11-20")
    assert store.last_run()["run_id"] == "run-2"
    assert list(store.runs()["run_id"]) == ["run-1", "run-2"]


def test_flags_table_follows_tonight_rewriting_only_changed_rows(store_url: str) -> None:
    """Unchanged flags stay, changed ones are rewritten, gone ones deleted, new ones added;
    every active flag carries tonight's run id."""
    store = Store(store_url)

    def flag(person: str, severity: str = "HIGH", **extra: object) -> dict[str, object]:
        row: dict[str, object] = {
            "rule": "DA-SH",
            "person_ref": person,
            "recipient_type": "gp",
            "recipient_code": "A1",
            "severity": severity,
            "local_id": "1",
            "nhs_number": None,
            "summary": "s",
            "raised_on": date(2026, 11, 20),
        }
        row.update(extra)
        return row

    first = pd.DataFrame(
        [flag("P1"), flag("P2"), flag("P3"), flag("P5", recipient_code="", local_id=None)]
    )
    second = pd.DataFrame(
        [
            flag("P1"),
            flag("P2", severity="MEDIUM"),
            flag("P4", raised_on=date(2026, 11, 21)),
            flag("P5", recipient_code="", local_id=None),
            flag("P6", nhs_number="9434765919"),
        ]
    )
    store.commit_run(_state("run-1", flags=first))
    store.commit_run(_state("run-2", flags=second))
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        table = pd.DataFrame(
            conn.execute(sa.text("SELECT * FROM flags ORDER BY person_ref")).mappings().all()
        )
    engine.dispose()
    assert list(table["person_ref"]) == ["P1", "P2", "P4", "P5", "P6"]
    assert set(table["last_run_id"]) == {"run-2"}
    assert list(table["severity"]) == ["HIGH", "MEDIUM", "HIGH", "HIGH", "HIGH"]
    assert table["local_id"].isna().tolist() == [False, False, False, True, False]
    assert table.loc[4, "nhs_number"] == "9434765919"
    assert str(table.loc[2, "raised_on"])[:10] == "2026-11-21"


@pytest.mark.parametrize("read_before", [False, True], ids=["read-in-commit", "read-by-run"])
def test_records_table_follows_tonight_rewriting_only_changed_rows(
    store_url: str, read_before: bool
) -> None:
    """Also when the run hands over the records table it read under its lock (pipeline)."""
    store = Store(store_url)
    first = _state("run-1")
    store.commit_run(first)

    def night(run_id: str, records: pd.DataFrame) -> RunState:
        # the pipeline's frames hold text as pandas strings, blanks as pd.NA
        records = records.astype({"household_ref": "string", "person_ref": "string"})
        before = store.identities() if read_before else None
        return dataclasses.replace(_state(run_id), records=records, records_before=before)

    records = pd.concat(
        [
            first.records.iloc[[0]].assign(household_ref="H2"),  # moved house
            pd.DataFrame(  # new tonight; ae:R1:9 is gone
                [
                    {
                        "record_key": "mh:M1:4",
                        "source": "mh",
                        "org_code": "M1",
                        "record_id": "4",
                        "person_ref": "P2",
                        "household_ref": None,
                        "record_hash": "z",
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    store.commit_run(night("run-2", records))
    with store.engine.connect() as conn:
        table = pd.read_sql("SELECT * FROM records ORDER BY record_key", conn)
    assert list(table["record_key"]) == ["gp:A1:1", "mh:M1:4"]
    assert list(table["household_ref"]) == ["H2", None]
    assert list(table["first_seen_run"]) == ["run-1", "run-2"]
    assert list(table["changed_run"]) == ["run-2", "run-2"]
    # a night that changes nothing rewrites nothing
    store.commit_run(night("run-3", records))
    with store.engine.connect() as conn:
        again = pd.read_sql("SELECT * FROM records ORDER BY record_key", conn)
    pd.testing.assert_frame_equal(again, table)


def test_review_decisions_are_audited_and_survive_runs(store_url: str) -> None:
    store = Store(store_url)
    links = pd.DataFrame([_link("ae:R1:9", "police:F1:3"), _link("gp:A1:1", "mh:M1:4")])
    store.commit_run(_state("run-1", links=links))
    first = links.loc[0, "pair_id"]
    assert store.resolve_pair_id(first[:6]) == first
    assert (
        store.decide(first, action="accept", reviewer="lead", reason="same DOB and address")
        == "accepted"
    )
    with pytest.raises(UsageError, match="already accepted"):
        store.decide(first, action="reject", reviewer="lead", reason="x")
    with pytest.raises(UsageError, match="give a reason"):
        store.decide(links.loc[1, "pair_id"], action="reject", reviewer="lead", reason=" ")
    # A later run proposing the same pair again must not reset the decision.
    store.commit_run(_state("run-2", links=links))
    decisions = store.decisions()
    assert decisions.to_dict("records") == [
        {"record_key_l": "ae:R1:9", "record_key_r": "police:F1:3", "decision": "accepted"}
    ]
    assert store.decide(first, action="undo", reviewer="lead", reason="") == "pending"
    with pytest.raises(UsageError, match="no decision to undo"):
        store.decide(first, action="undo", reviewer="lead", reason="")
    history = store.history()
    assert list(history["action"]) == ["accept", "undo"]
    assert list(history["reviewer"]) == ["lead", "lead"]


def test_pending_links_no_longer_proposed_are_retired(store_url: str) -> None:
    store = Store(store_url)
    links = pd.DataFrame([_link("ae:R1:9", "police:F1:3"), _link("gp:A1:1", "mh:M1:4")])
    store.commit_run(_state("run-1", links=links))
    store.decide(
        links.loc[1, "pair_id"], action="reject", reviewer="lead", reason="different people"
    )
    store.commit_run(_state("run-2", links=links.iloc[0:0]))
    remaining = store.review_links()
    assert list(remaining["status"]) == ["rejected"]


@pytest.mark.parametrize("bad", ["", "zzzz"])
def test_unknown_review_ids(store_url: str, bad: str) -> None:
    with pytest.raises(NotFoundError):
        Store(store_url).resolve_pair_id(bad)


def test_bad_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a database URL"):
        Store("not a url")


@pytest.mark.parametrize("read_before", [False, True], ids=["read-in-commit", "read-by-run"])
def test_a_record_leaving_its_household_is_rewritten(store_url: str, read_before: bool) -> None:
    """A household_ref going blank (pd.NA, as the pipeline's string columns hold it) against
    last night's value: NA cannot be compared, so it must be told apart, not compared."""
    store = Store(store_url)
    first = _state("run-1")
    store.commit_run(first)
    records = first.records.astype({"household_ref": "string"})
    records.loc[0, "household_ref"] = pd.NA  # gp:A1:1 left H1 (moved, no fixed abode)
    before = store.identities() if read_before else None
    store.commit_run(dataclasses.replace(_state("run-2"), records=records, records_before=before))
    with store.engine.connect() as conn:
        table = pd.read_sql("SELECT * FROM records ORDER BY record_key", conn)
    assert list(table["record_key"]) == ["ae:R1:9", "gp:A1:1"]
    assert table["household_ref"].isna().all()
    assert list(table["changed_run"]) == ["run-1", "run-2"]
