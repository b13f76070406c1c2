"""Full-night benchmark: generate CCG-scale extracts, run two nights, report each stage.

Night 1 runs on fresh extracts with an empty store. Night 2 runs the next day on the same
extracts with about 1% of records changed (moves, name changes, new A&E attendances),
against the store night 1 left. Each night runs in its own process so its peak memory
(VmHWM) is its own. Prints a markdown table; ``--json`` also writes the figures.

    python benchmarks/run_benchmark.py --persons 100000 --persons 1000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = date(2026, 11, 20)
NIGHT = """
import json, sys, resource
from datetime import date
from pathlib import Path
import pipeline
summary = pipeline.run_night(pipeline.RunOptions(
    input_dir=Path(sys.argv[1]), out_dir=Path(sys.argv[2]), as_of=date.fromisoformat(sys.argv[3]),
    store_url=sys.argv[4]))
status = Path("/proc/self/status").read_text()
hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
print(json.dumps({"stage_seconds": summary.manifest["stage_seconds"], "peak_mb": hwm / 1024,
                  "persons": summary.manifest["persons"],
                  "records": summary.manifest["person_records"]}))
"""


def change_one_percent(input_dir: Path, *, seed: int) -> int:
    """Change ~1% of person records in place: moves, surname changes, new attendances."""
    rng = np.random.default_rng(seed)
    gp = pd.read_csv(input_dir / "gp_patients.csv", dtype=str, keep_default_na=False)
    pick = rng.random(len(gp)) < 0.005
    gp.loc[pick, "address_1"] = [f"{n} Benchmark Road" for n in rng.integers(1, 200, pick.sum())]
    gp.loc[pick, "uprn"] = ""
    rename = (~pick) & (rng.random(len(gp)) < 0.002)
    gp.loc[rename, "family_name"] = gp.loc[rename, "family_name"] + "-Smith"
    gp.to_csv(input_dir / "gp_patients.csv", index=False)
    ae = pd.read_csv(input_dir / "ae_attendances.csv", dtype=str, keep_default_na=False)
    new = ae.sample(frac=0.003, random_state=seed).copy()
    new["attendance_id"] = [f"BENCH{i:08d}" for i in range(len(new))]
    arrival = (AS_OF + timedelta(days=1)).isoformat()
    new["arrival_at"] = arrival + "T10:00"
    new["departure_at"] = arrival + "T14:00"
    new["gp_letter_sent_at"] = ""
    pd.concat([ae, new]).to_csv(input_dir / "ae_attendances.csv", index=False)
    return int(pick.sum() + rename.sum() + len(new))


def household_scores(base: Path) -> dict[str, float]:
    """Pairwise "same household" precision/recall/F1 over persons, against the truth, and
    the count of person pairs in different flats that were put in one household."""
    import sqlite3

    from linkage.address import standardise_addresses
    from linkage.households import household_pairwise_scores

    with sqlite3.connect(base / "store.db") as conn:
        links = pd.read_sql(
            "SELECT source || ':' || org_code || ':' || record_id AS record_key, person_ref, "
            "household_ref FROM records",
            conn,
        )
    truth = base / "input" / "truth"
    records = pd.read_csv(truth / "records.csv", dtype=str)
    persons = pd.read_csv(truth / "persons.csv", dtype=str, keep_default_na=False)
    keyed = links.merge(records, on="record_key")
    majority = (
        keyed.groupby(["person_ref", "person_id"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["person_ref", "n"], ascending=[True, False])
        .drop_duplicates("person_ref")
    )
    true_households = majority.merge(persons[["person_id", "household_id"]], on="person_id")
    gp = pd.read_csv(base / "input" / "gp_patients.csv", dtype=str, keep_default_na=False)
    gp["record_key"] = "gp:" + gp["practice_code"] + ":" + gp["patient_id"]
    gp["flat"] = standardise_addresses(gp)["flat"].to_numpy()
    flats = gp.merge(records, on="record_key")[["person_id", "flat"]].drop_duplicates("person_id")
    truth_frame = true_households.merge(flats, on="person_id", how="left").rename(
        columns={"household_id": "household"}
    )
    truth_frame["household"] = truth_frame["household"].replace("", pd.NA)
    people = links.drop_duplicates("person_ref")[["person_ref", "household_ref"]]
    scores = household_pairwise_scores(people, truth_frame)
    return {
        "precision": round(scores.precision, 4),
        "recall": round(scores.recall, 4),
        "f1": round(scores.f1, 4),
        "merged_flat_pairs": int(scores.merged_flat_pairs),
    }


def night(input_dir: Path, out_dir: Path, as_of: date, store_url: str) -> dict[str, object]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", NIGHT, str(input_dir), str(out_dir), as_of.isoformat(), store_url],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"night failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, action="append", help="repeatable")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, help="working folder (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    sizes = args.persons or [100_000]
    work = args.work or Path(tempfile.mkdtemp(prefix="dalink-bench-"))
    from sample_data.generate import generate

    rows = []
    for persons in sizes:
        base = work / f"p{persons}"
        shutil.rmtree(base, ignore_errors=True)
        started = time.perf_counter()
        generate(persons, seed=args.seed, out_dir=base / "input", as_of=AS_OF)
        generated = round(time.perf_counter() - started, 1)
        store = f"sqlite:///{base / 'store.db'}"
        first = night(base / "input", base / "out1", AS_OF, store)
        households = household_scores(base)
        changed = change_one_percent(base / "input", seed=args.seed)
        second = night(base / "input", base / "out2", AS_OF + timedelta(days=1), store)
        rows.append(
            {
                "persons": persons,
                "generate_s": generated,
                "changed_records": changed,
                "households": households,
                "night1": first,
                "night2": second,
            }
        )
        shutil.rmtree(base, ignore_errors=True)

    stages = ("ingest", "link", "households", "rules", "write")
    print(
        "| persons | records | night | "
        + " | ".join(f"{s} s" for s in stages)
        + " | wall s | peak MB |"
    )
    print("|---|---|---|" + "---|" * (len(stages) + 2))
    for row in rows:
        for label in ("night1", "night2"):
            n = row[label]
            seconds = n["stage_seconds"]
            print(
                f"| {row['persons']:,} | {n['records']:,} | {label[-1]} | "
                + " | ".join(f"{seconds.get(s, 0):.1f}" for s in stages)
                + f" | {n['wall_s']:.1f} | {n['peak_mb']:,.0f} |"
            )
    print()
    print("| persons | household precision | recall | F1 | pairs in different flats merged |")
    print("|---|---|---|---|---|")
    for row in rows:
        h = row["households"]
        print(
            f"| {row['persons']:,} | {h['precision']:.4f} | {h['recall']:.4f} | {h['f1']:.4f} "
            f"| {h['merged_flat_pairs']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
