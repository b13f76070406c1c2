"""Nightly operations through the CLI: the run lock, SQL write-back, FHIR and the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fhir.resources.R4B.bundle import Bundle

from adapters.store import Store, run_lock
from cli import main
from sample_data import STANDARD_DIR

AS_OF = "2026-11-20"


def _run(tmp_path: Path, *extra: str) -> object:
    return CliRunner().invoke(
        main,
        [
            "run",
            "--input",
            str(STANDARD_DIR),
            "--out",
            str(tmp_path / "out"),
            "--as-of",
            AS_OF,
            "--store",
            f"sqlite:///{tmp_path / 'store.db'}",
            "-q",
            *extra,
        ],
    )


def test_a_second_run_on_a_locked_store_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    with store.engine.begin() as conn:  # a live run elsewhere holds the lock
        conn.execute(
            sa.insert(run_lock).values(
                name="run",
                run_id="other",
                host="another-host",
                pid=1,
                acquired_at=datetime.now(UTC),
            )
        )
    result = _run(tmp_path)
    assert result.exit_code == 2
    assert "holds this store" in result.output
    assert not (tmp_path / "out").exists()


def test_write_db_upserts_per_night(tmp_path: Path, store_url: str) -> None:
    for _ in range(2):
        result = _run(tmp_path, "--write-db", store_url)
        assert result.exit_code == 0, result.output
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT run_id) FROM dalink_flags")
        ).one()
        statuses = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT status FROM dalink_flags"))}
    engine.dispose()
    flags_written = sum(
        len(p.read_text().splitlines()) - 1 for p in (tmp_path / "out").glob("*/**/flags.csv")
    )
    assert rows[0] == flags_written, "a re-run of the night replaced its rows, no duplicates"
    assert rows[1] == 1 and statuses == {"CONTINUING"}


def test_fhir_bundles_beside_each_recipients_flags(tmp_path: Path) -> None:
    assert _run(tmp_path, "--fhir").exit_code == 0
    bundles = sorted((tmp_path / "out").glob("*/*/flags.fhir.json"))
    csvs = sorted((tmp_path / "out").glob("*/*/flags.csv"))
    assert bundles and len(bundles) == len(csvs)
    for path in bundles:
        bundle = Bundle.model_validate(json.loads(path.read_text()))
        assert len(bundle.entry) == len(path.with_name("flags.csv").read_text().splitlines()) - 1


def test_report_command_writes_the_latest_run(tmp_path: Path) -> None:
    assert _run(tmp_path).exit_code == 0
    assert _run(tmp_path).exit_code == 0
    result = CliRunner().invoke(
        main,
        [
            "report",
            "--store",
            f"sqlite:///{tmp_path / 'store.db'}",
            "--out",
            str(tmp_path / "r.html"),
        ],
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "<img" in page and "change since the previous night" in page
    gp = (STANDARD_DIR / "gp_patients.csv").read_text().splitlines()[1].split(",")
    assert gp[2] not in page and gp[4] not in page  # no NHS number, no family name
    missing = CliRunner().invoke(
        main, ["report", "--run", "nope", "--store", f"sqlite:///{tmp_path / 'store.db'}"]
    )
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output


def _manifest_of_a_night(tmp_path: Path) -> dict[str, object]:
    assert _run(tmp_path).exit_code == 0
    manifest: dict[str, object] = json.loads((tmp_path / "out" / "manifest.json").read_text())
    return manifest


def test_the_report_process_draws_the_page_the_run_would(tmp_path: Path) -> None:
    """The report is drawn in a process of its own while the night writes its other
    outputs; its page is the one rendering in the run gives."""
    from adapters.report import ReportRenderer, render_report

    manifest = _manifest_of_a_night(tmp_path)
    renderer = ReportRenderer()
    renderer.start(manifest, None)
    page = renderer.result()
    assert page == render_report(manifest, None)
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page


def test_a_failed_report_process_falls_back_to_rendering_in_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from adapters.report import ReportRenderer, render_report

    manifest = _manifest_of_a_night(tmp_path)
    renderer = ReportRenderer()
    assert renderer._process is not None
    renderer._process.kill()  # dies before it is handed the night
    renderer._process.wait()
    renderer.start(manifest, None)
    with caplog.at_level("WARNING", logger="dalink"):
        page = renderer.result()
    assert page == render_report(manifest, None)
    assert "rendering process failed" in caplog.text
    renderer.close()


def test_closing_an_unused_report_process_stops_it() -> None:
    from adapters.report import ReportRenderer

    renderer = ReportRenderer()
    process = renderer._process
    assert process is not None
    renderer.close()
    assert process.poll() is not None
