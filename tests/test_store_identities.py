"""``Store.identities`` from the blob the last commit left: the same frame as reading the
records table, and the table whenever the blob cannot be shown to match it."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import sqlalchemy as sa

from adapters import store as store_module
from adapters.store import IDENTITIES_STATE, IDENTITY_COLUMNS, RunState, Store, night_state
from tests.test_store import _state


def _table(store: Store) -> pd.DataFrame:
    """The records table read through SQL, as ``identities`` read it before the blob."""
    with store.engine.connect() as conn:
        result = conn.execute(sa.select(*(store_module.records.c[c] for c in IDENTITY_COLUMNS)))
        frame = pd.DataFrame(result.fetchall(), columns=list(IDENTITY_COLUMNS))
    return frame.sort_values("record_key", ignore_index=True)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("record_key", ignore_index=True)


def _record(key: str, person: str, household: str | None, content: str) -> dict[str, object]:
    source, org, ident = key.split(":")
    return {
        "record_key": key,
        "source": source,
        "org_code": org,
        "record_id": ident,
        "person_ref": person,
        "household_ref": household,
        "record_hash": content,
    }


def _nights(store: Store, *, read_before: bool) -> None:
    """Three nights: records moving house, leaving one, changing, going and arriving."""
    nights = [
        [
            _record("gp:A1:1", "P1", "H1", "a"),
            _record("ae:R1:9", "P1", None, "b"),
            _record("gp:A1:2", "P2", "H1", "c"),
        ],
        [
            _record("gp:A1:1", "P1", "H2", "a"),  # moved
            _record("gp:A1:2", "P2", None, "c2"),  # left the household, changed
            _record("mh:M1:4", "P3", None, "d"),  # new; ae:R1:9 gone
        ],
        [
            _record("gp:A1:1", "P1", "H2", "a"),
            _record("gp:A1:2", "P1", None, "c2"),  # merged into P1
            _record("mh:M1:4", "P3", "H2", "d"),
            _record("ae:R1:9", "P1", None, "b"),  # back again
        ],
    ]
    for number, rows in enumerate(nights, start=1):
        # the pipeline's frames hold text as pandas strings, blanks as pd.NA
        records = pd.DataFrame(rows).astype({"household_ref": "string", "person_ref": "string"})
        before = store.identities() if read_before else None
        state = dataclasses.replace(_state(f"run-{number}"), records=records, records_before=before)
        store.commit_run(state)
        pd.testing.assert_frame_equal(_sorted(store.identities()), _table(store))


@pytest.mark.parametrize("read_before", [False, True], ids=["read-in-commit", "read-by-run"])
def test_identities_from_the_blob_equal_the_table(store_url: str, read_before: bool) -> None:
    store = Store(store_url)
    _nights(store, read_before=read_before)
    with store.engine.connect() as conn:
        left = conn.execute(
            sa.select(night_state.c.run_id).where(night_state.c.name == IDENTITIES_STATE)
        ).scalar()
    assert left == "run-3"


def test_the_blob_is_what_identities_reads(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(store_url)
    _nights(store, read_before=True)
    read: list[str] = []
    decode = store_module.identities_from_bytes

    def spy(blob: bytes, *, run_id: str) -> pd.DataFrame | None:
        frame = decode(blob, run_id=run_id)
        read.append("blob" if frame is not None else "unusable")
        return frame

    monkeypatch.setattr(store_module, "identities_from_bytes", spy)
    store.identities()
    assert read == ["blob"]


def _damage_blob(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(night_state)
            .where(night_state.c.name == IDENTITIES_STATE)
            .values(state=b"not arrow")
        )


def _blob_of_another_run(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(night_state)
            .where(night_state.c.name == IDENTITIES_STATE)
            .values(run_id="run-2")
        )


def _row_deleted_by_hand(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.delete(store_module.records).where(store_module.records.c.record_key == "ae:R1:9")
        )


def _no_blob(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.delete(night_state).where(night_state.c.name == IDENTITIES_STATE))


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(_damage_blob, id="damaged"),
        pytest.param(_blob_of_another_run, id="another-run"),
        pytest.param(_row_deleted_by_hand, id="table-changed"),
        pytest.param(_no_blob, id="absent"),
    ],
)
def test_identities_fall_back_to_the_table(store_url: str, spoil) -> None:
    store = Store(store_url)
    _nights(store, read_before=True)
    spoil(store)
    pd.testing.assert_frame_equal(_sorted(store.identities()), _table(store))


def test_a_blob_of_another_layout_is_not_read(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(store_url)
    _nights(store, read_before=False)
    monkeypatch.setattr(store_module, "IDENTITIES_VERSION", store_module.IDENTITIES_VERSION + 1)
    assert store_module.identities_from_bytes(b"", run_id="run-3") is None
    pd.testing.assert_frame_equal(_sorted(store.identities()), _table(store))


def test_a_run_cannot_leave_a_blob_under_the_stores_own_name(store_url: str) -> None:
    store = Store(store_url)
    state: RunState = dataclasses.replace(_state("run-1"), night_state={IDENTITIES_STATE: b"x"})
    with pytest.raises(ValueError, match="the store's own"):
        store.commit_run(state)
    assert store.last_run() is None
