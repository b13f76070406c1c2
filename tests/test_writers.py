"""Writers: formula injection, owner-only files, atomic swap, recovery after a kill."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
import pytest

from adapters.errors import UsageError
from adapters.writers import (
    FLAG_FILE_COLUMNS,
    WARNING_FILE_COLUMNS,
    OutputBundle,
    check_out_dir,
    csv_text,
    neutralise,
    publish,
    recover_out_dir,
    stage_outputs,
)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+44 7700", "'+44 7700"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Self-harm (A&E)", "Self-harm (A&E)"),
        ("2026-11-20", "2026-11-20"),
    ],
)
def test_neutralise(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


def _flag(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "rule": "DA-SH",
        "severity": "HIGH",
        "status": "NEW",
        "local_id": "=1+1",
        "nhs_number": "9434765919",
        "person_ref": "P1",
        "raised_on": pd.Timestamp("2026-11-20"),
        "summary": "Self-harm presentation (A&E)",
        "confidential": "Y",
        "recipient_type": "gp",
        "recipient_code": "M85001",
    }
    row.update(overrides)
    return row


def _bundle(flags: list[dict[str, object]]) -> OutputBundle:
    return OutputBundle(
        manifest={"run_id": "r1"},
        quarantine=pd.DataFrame(columns=["file", "line", "reason", "record_id"]),
        review_queue=pd.DataFrame(
            columns=[
                "item",
                "match_probability",
                "match_weight",
                "source_l",
                "org_l",
                "record_id_l",
                "source_r",
                "org_r",
                "record_id_r",
                "held_flags",
            ]
        ),
        flags=pd.DataFrame(flags, columns=[*FLAG_FILE_COLUMNS, "recipient_type", "recipient_code"]),
        warnings=pd.DataFrame(columns=[*WARNING_FILE_COLUMNS, "recipient_type", "recipient_code"]),
    )


def test_csv_is_sorted_and_neutralised() -> None:
    frame = pd.DataFrame([_flag(person_ref="P2"), _flag(person_ref="P1")])
    text = csv_text(frame, FLAG_FILE_COLUMNS)
    lines = text.splitlines()
    assert lines[0] == ",".join(FLAG_FILE_COLUMNS)
    assert "'=1+1" in lines[1] and ",P1," in lines[1] and ",P2," in lines[2]
    assert ",2026-11-20," in lines[1]


def test_missing_values_are_blank_cells() -> None:
    frame = pd.DataFrame(
        {
            "rule": ["LETTER-LATE"] * 3,
            "reference": ["A1", "A2", "A3"],
            "local_id": [pd.NA, None, "H1"],
            "due_by": pd.to_datetime(["2026-11-19 10:00", "2026-11-19 11:00", None]),
            "sent_at": pd.to_datetime([None, "2026-11-20 09:30", None]),
            "hours_late": [37.0, float("nan"), 2.0],
            "holiday_period": [True, False, "N"],
        }
    )
    lines = csv_text(frame, WARNING_FILE_COLUMNS).splitlines()
    assert lines[1:] == [
        "LETTER-LATE,A1,,2026-11-19T10:00:00,,37,Y",
        "LETTER-LATE,A2,,2026-11-19T11:00:00,2026-11-20T09:30:00,,N",
        "LETTER-LATE,A3,H1,,,2,N",
    ]


def test_stage_and_publish_writes_owner_only_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundle = _bundle([_flag(), _flag(recipient_type="unrouted", recipient_code="")])
    publish(stage_outputs(out, bundle, run_id="r1"), out, run_id="r1")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "gp/M85001/flags.csv",
        "manifest.json",
        "quarantine.csv",
        "review_queue.csv",
        "unrouted/flags.csv",
    ]
    for path in out.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is readable by others ({oct(mode)})"


def test_publish_replaces_previous_output_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(stage_outputs(out, _bundle([_flag()]), run_id="r1"), out, run_id="r1")
    publish(stage_outputs(out, _bundle([]), run_id="r2"), out, run_id="r2")
    assert not (out / "gp").exists()
    assert (out / "unrouted" / "flags.csv").read_text().count("\n") == 1
    assert not list(tmp_path.glob(".out.*"))


def test_recovery_rolls_a_committed_run_forward_and_drops_an_uncommitted_one(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    publish(stage_outputs(out, _bundle([_flag()]), run_id="r1"), out, run_id="r1")
    stage_outputs(out, _bundle([]), run_id="r2")  # killed before its commit
    recover_out_dir(out, committed=lambda run: run == "r1")
    assert (out / "gp" / "M85001" / "flags.csv").exists()
    assert not list(tmp_path.glob(".out.*"))

    stage_outputs(out, _bundle([]), run_id="r3")  # killed after its commit
    recover_out_dir(out, committed=lambda run: run in ("r1", "r3"))
    assert not (out / "gp").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_recovery_between_the_two_renames(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(stage_outputs(out, _bundle([_flag()]), run_id="r1"), out, run_id="r1")
    stage_outputs(out, _bundle([]), run_id="r2")
    out.rename(tmp_path / ".out.old-r2")  # killed between the renames of a committed run
    recover_out_dir(out, committed=lambda run: True)
    assert (out / "unrouted" / "flags.csv").exists() and not (out / "gp").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_refuses_to_replace_a_folder_that_is_not_dalink_output(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"holds no dalink manifest\.json"):
        check_out_dir(tmp_path)


def test_recipient_code_cannot_escape_the_output_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be a folder name"):
        stage_outputs(tmp_path / "out", _bundle([_flag(recipient_code="../x")]), run_id="r1")
