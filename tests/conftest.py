"""Shared fixtures.  Store tests run on SQLite always, and on PostgreSQL when
``DALINK_TEST_DATABASE_URL`` is set (CI sets it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters import store as store_module
from adapters.writeback import writeback_metadata

PG_URL = os.environ.get("DALINK_TEST_DATABASE_URL")


def _clean(url: str) -> None:
    engine = sa.create_engine(url)
    store_module.metadata.drop_all(engine)
    writeback_metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL per test: SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if not PG_URL:
        pytest.skip("DALINK_TEST_DATABASE_URL not set: PostgreSQL store tests skipped")
    _clean(PG_URL)
    yield PG_URL
    _clean(PG_URL)
