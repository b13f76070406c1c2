"""Score a run's outputs against the generator's ground truth (``truth/expected.csv``).

Flags are compared per (rule, true person): a flag on a linked person counts for the true
person most of its records belong to.  Warnings are compared per (rule, recipient, record
id).  The truth is the generator's own oracle of RULES.md on true identities, written
independently of ``rules/``, so a score below 1 is linkage error or a reading of the spec
that differs; both are worth knowing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

WARNING_RULES = ("LETTER-LATE", "LETTER-NOT-RECEIVED", "MH-LETTER-LATE")


@dataclass(frozen=True)
class Scores:
    table: pd.DataFrame  # rule, expected, found, true_positives, precision, recall
    misrouted: int  # rows at a recipient that does not hold the person (must be 0)


def read_outputs(out_dir: Path, name: str) -> pd.DataFrame:
    """Every recipient's ``name`` file (flags.csv / warnings.csv), with recipient_type/code."""
    frames = []
    for path in sorted(out_dir.glob(f"*/**/{name}")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        parts = path.relative_to(out_dir).parts
        frame["recipient_type"] = parts[0]
        frame["recipient_code"] = parts[1] if len(parts) == 3 else ""
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["rule", "recipient_type", "recipient_code"])
    return pd.concat(frames, ignore_index=True)


def score_run(out_dir: Path, links: pd.DataFrame, truth_dir: Path) -> Scores:
    """``links``: source, org_code, record_id, person_ref (as `dalink links export` writes)."""
    truth_records = pd.read_csv(truth_dir / "records.csv", dtype=str)
    expected = pd.read_csv(truth_dir / "expected.csv", dtype=str, keep_default_na=False)
    keyed = links.assign(
        record_key=links["source"] + ":" + links["org_code"] + ":" + links["record_id"]
    ).merge(truth_records, on="record_key", how="left")
    majority = (
        keyed.groupby(["person_ref", "person_id"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["person_ref", "n", "person_id"], ascending=[True, False, True])
        .drop_duplicates("person_ref")
        .set_index("person_ref")["person_id"]
    )

    flags = read_outputs(out_dir, "flags.csv")
    flags = flags[flags["status"] != "RESOLVED"]
    found_flags = set(zip(flags["rule"], flags["person_ref"].map(majority), strict=True))
    warnings = read_outputs(out_dir, "warnings.csv")
    found_warnings = set(
        zip(warnings["rule"], warnings["recipient_code"], warnings["reference"], strict=True)
    )
    expected_warnings = expected[expected["kind"].isin(WARNING_RULES)]
    expected_flags = expected[~expected["kind"].isin(WARNING_RULES)]
    want_flags = set(zip(expected_flags["kind"], expected_flags["person_id"], strict=True))
    want_warnings = set(
        zip(
            expected_warnings["kind"],
            expected_warnings["recipient"],
            expected_warnings["ref"].str.rsplit(":", n=1).str[-1],
            strict=True,
        )
    )

    rows = []
    rules = sorted({k for k, *_ in want_flags | found_flags | want_warnings | found_warnings})
    for rule in rules:
        want = {x for x in want_flags | want_warnings if x[0] == rule}
        got = {x for x in found_flags | found_warnings if x[0] == rule}
        hits = len(want & got)
        rows.append(
            {
                "rule": rule,
                "expected": len(want),
                "found": len(got),
                "true_positives": hits,
                "precision": hits / len(got) if got else 1.0,
                "recall": hits / len(want) if want else 1.0,
            }
        )

    holders = set(zip(links["source"], links["org_code"], links["person_ref"], strict=True))
    routed = flags[flags["recipient_type"] != "unrouted"]
    misrouted = sum(
        (kind, code, ref) not in holders
        for kind, code, ref in zip(
            routed["recipient_type"], routed["recipient_code"], routed["person_ref"], strict=True
        )
    )
    return Scores(table=pd.DataFrame(rows), misrouted=misrouted)
