"""Writers: everything a run sends out, per ../shared/spec/OUTPUTS.md.

The whole output folder is built in a sibling temporary folder and swapped into place only
when complete, so a practice's import job never sees a half-written flag file.  Files are
owner-readable only; text cells are neutralised against spreadsheet formula injection; rows
are sorted so the same inputs give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adapters.errors import UsageError
from adapters.ingest import QUARANTINE_COLUMNS

FLAG_FILE_COLUMNS = (
    "rule",
    "severity",
    "status",
    "local_id",
    "nhs_number",
    "person_ref",
    "raised_on",
    "summary",
    "confidential",
)
WARNING_FILE_COLUMNS = (
    "rule",
    "reference",
    "local_id",
    "due_by",
    "sent_at",
    "hours_late",
    "holiday_period",
)
REVIEW_QUEUE_COLUMNS = (
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
)
RECIPIENT_FOLDERS = ("gp", "ae", "mh", "police")

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FILE_MODE = 0o600
_DIR_MODE = 0o700


@dataclass(frozen=True)
class OutputBundle:
    """What a run writes.  ``flags`` and ``warnings`` carry recipient_type/recipient_code."""

    manifest: Mapping[str, Any]
    quarantine: pd.DataFrame
    review_queue: pd.DataFrame
    flags: pd.DataFrame
    warnings: pd.DataFrame


def neutralise(value: str) -> str:
    """Stop a spreadsheet reading a cell as a formula (OWASP: prefix with a single quote)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and pd.isna(value):
        return ""
    if isinstance(value, pd.Timestamp):
        if value == value.normalize():
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return neutralise(str(value))


def _cells(column: pd.Series) -> list[str]:
    """``_cell`` of every value of a column.  A typed column (text, dates, flags) repeats
    few values, so each distinct value is formatted once; an object column, whose values
    could be equal across types (``True == 1``), cell by cell."""
    if column.dtype == object or not len(column):
        return [_cell(v) for v in column.tolist()]
    codes, uniques = pd.factorize(column)
    texts = np.array([_cell(v) for v in uniques.tolist()] + [""], dtype=object)  # -1: NA
    return texts[codes].tolist()


def csv_text(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """The CSV text of ``frame[columns]``: sorted rows, neutralised cells, LF line ends."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"cannot write CSV: missing columns {missing}")
    rows = list(zip(*(_cells(frame[column]) for column in columns), strict=True))
    rows.sort()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _recipient_files(
    frame: pd.DataFrame, columns: Sequence[str], name: str
) -> Iterable[tuple[Path, str]]:
    if not len(frame):
        return
    keyed = frame.assign(recipient_code=frame["recipient_code"].fillna(""))
    for (kind, code), group in keyed.groupby(["recipient_type", "recipient_code"], sort=True):
        if kind == "unrouted":
            yield Path("unrouted") / name, csv_text(group, columns)
        else:
            if kind not in RECIPIENT_FOLDERS:
                raise ValueError(f"unknown recipient type {kind!r}")
            yield Path(str(kind)) / _safe_code(str(code)) / name, csv_text(group, columns)


def _safe_code(code: str) -> str:
    """An ODS/force code as a folder name: nothing that could climb out of the output folder."""
    if not code or code in (".", "..") or any(ch in code for ch in "/\\\x00"):
        raise ValueError(f"recipient code {code!r} cannot be a folder name")
    return code


def check_out_dir(out_dir: Path) -> None:
    """Refuse to replace a folder that is not a previous dalink output (or empty)."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise UsageError(f"--out {out_dir} exists and is not a folder")
        if any(out_dir.iterdir()) and not (out_dir / "manifest.json").exists():
            raise UsageError(
                f"--out {out_dir} is not empty and holds no dalink manifest.json; "
                "choose an empty or new folder (dalink replaces its output folder as a whole)"
            )
    elif not out_dir.parent.exists():
        raise UsageError(f"the parent folder of --out {out_dir} does not exist")


def recover_out_dir(out_dir: Path, *, committed: Callable[[str], bool]) -> None:
    """Finish or undo what a killed run left, so the outputs match the store again.

    A run stages ``.OUT.tmp-<run_id>``, commits the store, then swaps the staged folder in
    (``OUT`` moved aside to ``.OUT.old-<run_id>`` for a moment). A staged folder of a run whose
    commit landed is rolled forward; one whose commit did not land is dropped; a moved-aside
    folder comes back only if nothing replaced it.
    """
    parent = out_dir.parent
    if not parent.exists():
        return
    for staged in sorted(parent.glob(f".{out_dir.name}.tmp-*")):
        run_id = staged.name.rsplit(".tmp-", 1)[1]
        if committed(run_id):
            publish(staged, out_dir, run_id=run_id)
        else:
            shutil.rmtree(staged, ignore_errors=True)
    for old in sorted(parent.glob(f".{out_dir.name}.old-*")):
        if out_dir.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, out_dir)


def discard_staged(staged: Path) -> None:
    shutil.rmtree(staged, ignore_errors=True)


def stage_outputs(
    out_dir: Path,
    bundle: OutputBundle,
    *,
    run_id: str,
    extra_files: Iterable[tuple[Path, str]] = (),
) -> Path:
    """Write every output file (and ``extra_files``, e.g. FHIR bundles) into a temporary
    sibling of ``out_dir``; return its path."""
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{run_id}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(mode=_DIR_MODE)
    files: list[tuple[Path, str]] = [
        (Path("quarantine.csv"), csv_text(bundle.quarantine, QUARANTINE_COLUMNS)),
        (Path("review_queue.csv"), csv_text(bundle.review_queue, REVIEW_QUEUE_COLUMNS)),
    ]
    files += _recipient_files(bundle.flags, FLAG_FILE_COLUMNS, "flags.csv")
    files += _recipient_files(
        bundle.warnings[bundle.warnings["recipient_type"] != "unrouted"],
        WARNING_FILE_COLUMNS,
        "warnings.csv",
    )
    if not (bundle.flags["recipient_type"] == "unrouted").any():
        files.append(
            (Path("unrouted") / "flags.csv", csv_text(bundle.flags.iloc[0:0], FLAG_FILE_COLUMNS))
        )
    files += extra_files
    for relative, text in files:
        write_private(tmp / relative, text)
    manifest = json.dumps(bundle.manifest, indent=2, sort_keys=True, default=str) + "\n"
    write_private(tmp / "manifest.json", manifest)
    # mkdir(parents=True) gives parents the umask's mode: tighten every folder explicitly.
    for folder in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
        folder.chmod(_DIR_MODE)
    return tmp


def publish(staged: Path, out_dir: Path, *, run_id: str) -> None:
    """Swap the staged folder into place: two renames, then the old folder goes
    (`recover_out_dir` finishes the job if a kill falls between them)."""
    old = out_dir.parent / f".{out_dir.name}.old-{run_id}"
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(staged, out_dir)
    shutil.rmtree(old, ignore_errors=True)
