"""``link_records``: contract C end to end — standardise, block, compare, train, score, band,
guard, cluster.  Each step is timed; nothing identifying is logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adapters.errors import ConfigError, NotFoundError
from linkage.blocking import block, key_codes
from linkage.cluster import guarded_clusters
from linkage.comparisons import COMPARISONS, Prepared, compare, gamma_for, gammas_for, level_table
from linkage.model import ModelParameters, TrainingSession, term_frequencies, train, weigh
from linkage.settings import COLUMN_COMPARISON, LinkageSettings
from linkage.standardise import standardise

log = logging.getLogger(__name__)

DECISIONS = ("accepted", "rejected")
#: weight given to a reviewer-accepted link when guards force a choice: it is kept first
ACCEPTED_WEIGHT = 1e9


@dataclass(frozen=True)
class LinkageResult:
    """Contract C.  ``blocking``: candidate pairs per rule; ``parameters``: m, u and weight
    per comparison level; ``model``: the trained parameters (prior λ, EM iterations);
    ``timings``: seconds per step."""

    pairs: pd.DataFrame
    clusters: pd.DataFrame
    provisional: pd.DataFrame
    review: pd.DataFrame
    comparisons: pd.DataFrame
    blocking: pd.DataFrame
    parameters: pd.DataFrame
    model: ModelParameters
    timings: pd.DataFrame


class _Timer:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.rows.append({"step": name, "seconds": seconds})
        log.info("linkage step %s: %.2f s", name, seconds)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["step", "seconds"])


def _decision_pairs(
    decisions: pd.DataFrame | None, index_of: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decided pairs as record indices (left < right) and their decision strings."""
    if decisions is None or len(decisions) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=object)
    missing = {"record_key_l", "record_key_r", "decision"} - set(decisions.columns)
    if missing:
        raise ConfigError(
            f"decisions frame lacks {sorted(missing)}: expected record_key_l, record_key_r, "
            "decision (accepted / rejected) from the review store"
        )
    bad = sorted(set(decisions["decision"].dropna().astype(str)) - set(DECISIONS))
    if bad:
        raise ConfigError(f"unknown review decision(s) {bad}: use 'accepted' or 'rejected'")
    a = decisions["record_key_l"].astype("string").map(index_of)
    b = decisions["record_key_r"].astype("string").map(index_of)
    known = a.notna() & b.notna() & (a != b)
    a_idx = a[known].to_numpy(dtype=np.int64)
    b_idx = b[known].to_numpy(dtype=np.int64)
    # the latest decision about a pair wins: keep the last row per pair
    frame = pd.DataFrame(
        {
            "l": np.minimum(a_idx, b_idx),
            "r": np.maximum(a_idx, b_idx),
            "decision": decisions.loc[known, "decision"].astype(str).to_numpy(),
        }
    ).drop_duplicates(["l", "r"], keep="last")
    return (
        frame["l"].to_numpy(dtype=np.int64),
        frame["r"].to_numpy(dtype=np.int64),
        frame["decision"].to_numpy(dtype=object),
    )


def _guards(gammas: dict[str, np.ndarray], settings: LinkageSettings) -> np.ndarray:
    """Guard reason per pair (None = no guard): pairs that must never share a cluster."""
    n = len(next(iter(gammas.values())))
    reason = np.full(n, None, dtype=object)
    nhs = gammas.get("nhs_number")
    nhs_agree = (
        nhs == gamma_for("nhs_number", "agree") if nhs is not None else np.zeros(n, dtype=bool)
    )
    given, family, dob = (
        gammas.get("given_name"),
        gammas.get("family_name"),
        gammas.get("date_of_birth"),
    )
    sex = gammas.get("sex")
    if settings.guard_contradictions and given is not None and dob is not None:
        contradiction = (
            (given == gamma_for("given_name", "else"))
            & (dob == gamma_for("date_of_birth", "else"))
            & ~nhs_agree
        )
        reason[contradiction] = "contradiction"
    if settings.guard_twins and given is not None and family is not None and dob is not None:
        different_given = given == gamma_for("given_name", "else")
        close_given = np.isin(
            given, gammas_for("given_name", "jaro-winkler >= 0.92", "jaro-winkler >= 0.85")
        )
        sex_differs = (sex == gamma_for("sex", "disagree")) if sex is not None else False
        same_family = np.isin(
            family,
            gammas_for("family_name", "exact", "a part of a double-barrelled name agrees"),
        )
        twins = (
            same_family
            & (dob == gamma_for("date_of_birth", "exact"))
            & (different_given | (close_given & sex_differs))
            & ~nhs_agree
        )
        reason[twins] = "twins"
    if nhs is not None and settings.guard_nhs_conflict:
        reason[nhs == gamma_for("nhs_number", "disagree")] = "nhs_conflict"
    return reason


def _satisfies(
    std: pd.DataFrame, columns: tuple[str, ...], left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Which pairs agree on every one of ``columns`` (none missing)."""
    codes = key_codes(std, columns)
    return (codes[left] >= 0) & (codes[left] == codes[right])


def link_records(
    records: pd.DataFrame,
    *,
    settings: LinkageSettings | None = None,
    decisions: pd.DataFrame | None = None,
) -> LinkageResult:
    """Link contract-B person records into persons (contract C)."""
    settings = settings or LinkageSettings()
    if not isinstance(settings, LinkageSettings):
        raise ConfigError("settings must be a linkage.LinkageSettings")
    names = settings.comparisons
    timer = _Timer()

    with timer.step("standardise"):
        ordered = records.sort_values("record_key", kind="stable") if len(records) else records
        std = standardise(ordered)
        prepared = Prepared(std)
        keys = std["record_key"].to_numpy(dtype=object)
        index_of = pd.Series(np.arange(len(std)), index=std["record_key"])

    with timer.step("block"):
        candidates = block(std, settings.blocking_rules, max_block_size=settings.max_block_size)
        d_left, d_right, d_decision = _decision_pairs(decisions, index_of)
        n = len(std)
        codes = candidates.left * max(n, 1) + candidates.right
        # decided pairs the rules did not find are scored too (codes are sorted: search)
        decided = np.unique(d_left * max(n, 1) + d_right)
        at = np.minimum(np.searchsorted(codes, decided), max(codes.size - 1, 0))
        extra_codes = (
            decided[(codes.size == 0) | (codes[at] != decided)] if decided.size else decided
        )
        left = np.concatenate([candidates.left, extra_codes // max(n, 1)])
        right = np.concatenate([candidates.right, extra_codes % max(n, 1)])
        rule_names = np.array(
            [r.name for r in settings.blocking_rules] + ["decision"], dtype=object
        )
        rule = np.concatenate([candidates.rule, np.full(extra_codes.size, -1, dtype=np.int16)])

    with timer.step("compare"):
        gammas = compare(prepared, left, right, names)

    with timer.step("train"):
        sessions = tuple(
            TrainingSession(
                name=r.name,
                mask=_satisfies(std, r.columns, left, right),
                excluded=frozenset(COLUMN_COMPARISON[c] for c in r.columns),
            )
            for r in settings.blocking_rules
            if r.name in settings.training_rules
        )
        model = train(
            prepared,
            gammas,
            names,
            sessions,
            u_sample_pairs=settings.u_sample_pairs,
            seed=settings.seed,
            max_iterations=settings.em_max_iterations,
            tolerance=settings.em_tolerance,
            floor=settings.probability_floor,
        )

    with timer.step("score"):
        tf = {
            name: term_frequencies(prepared, COMPARISONS[name].tf_column or "")[left]
            for name in settings.tf_adjusted
        }
        bfs, weight, probability = weigh(gammas, model, tf=tf)
        band = np.where(
            probability >= settings.auto_threshold,
            "auto",
            np.where(probability >= settings.review_threshold, "review", "non"),
        ).astype(object)
        if settings.deterministic_nhs_dob and {"nhs_number", "date_of_birth"} <= set(names):
            deterministic = (gammas["nhs_number"] == gamma_for("nhs_number", "agree")) & (
                gammas["date_of_birth"] == gamma_for("date_of_birth", "exact")
            )
            band[deterministic] = "auto"
        pair_codes = left * max(n, 1) + right
        decision = np.full(left.size, None, dtype=object)
        if d_left.size:
            pos = pd.Series(np.arange(left.size), index=pair_codes)
            at = pos.reindex(d_left * max(n, 1) + d_right).to_numpy()
            decision[at.astype(np.int64)] = d_decision
        guard = _guards(gammas, settings)
        # a reviewer who accepted a pair has seen the twin-like or contradicting evidence and
        # overrules that heuristic; two different NHS numbers stay a hard stop
        guard[(decision == "accepted") & (guard != "nhs_conflict")] = None

    with timer.step("cluster"):
        nhs_codes = prepared.coded("nhs_number").codes
        if not settings.guard_nhs_conflict:
            nhs_codes = np.full(n, -1, dtype=np.int64)
        unguarded = pd.isna(guard)
        rejected = decision == "rejected"
        accepted = decision == "accepted"
        confirmed = unguarded & ~rejected & ((band == "auto") | accepted)
        pending = unguarded & ~rejected & ~accepted & (band == "review")
        cannot = ~unguarded | rejected
        # twin-like and contradicting pairs are heuristics (soft); a rejection is not
        hard = rejected | (guard == "nhs_conflict")
        link_weight = np.where(accepted, ACCEPTED_WEIGHT, weight)

        def cluster(mask: np.ndarray) -> np.ndarray:
            return guarded_clusters(
                n,
                left[mask],
                right[mask],
                link_weight[mask],
                nhs_codes=nhs_codes,
                cannot_left=left[cannot],
                cannot_right=right[cannot],
                cannot_hard=hard[cannot],
            )

        confirmed_labels = cluster(confirmed)
        provisional_labels = cluster(confirmed | pending)

    with timer.step("output"):
        keep = (band != "non") | pd.notna(decision)
        pairs = pd.DataFrame(
            {
                "record_key_l": pd.array(keys[left[keep]], dtype="string"),
                "record_key_r": pd.array(keys[right[keep]], dtype="string"),
                "match_weight": weight[keep],
                "match_probability": probability[keep],
                "band": pd.array(band[keep], dtype="string"),
                "decision": pd.array(decision[keep], dtype="string"),
                "guard": pd.array(guard[keep], dtype="string"),
                "blocking_rule": pd.array(rule_names[rule[keep]], dtype="string"),
            }
        )
        for name in names:
            pairs[f"gamma_{name}"] = gammas[name][keep]
        for name in names:
            pairs[f"bf_{name}"] = bfs[name][keep]
        pairs = pairs.sort_values(["record_key_l", "record_key_r"], ignore_index=True)
        clusters = pd.DataFrame(
            {"record_key": pd.array(keys, dtype="string"), "cluster_id": confirmed_labels}
        )
        provisional = pd.DataFrame(
            {"record_key": pd.array(keys, dtype="string"), "cluster_id": provisional_labels}
        )
        in_review = pending & (confirmed_labels[left] != confirmed_labels[right])
        review_keys = pd.DataFrame(
            {
                "record_key_l": pd.array(keys[left[in_review]], dtype="string"),
                "record_key_r": pd.array(keys[right[in_review]], dtype="string"),
            }
        )
        review = pairs.merge(review_keys, on=["record_key_l", "record_key_r"], how="inner")

    return LinkageResult(
        pairs=pairs,
        clusters=clusters,
        provisional=provisional,
        review=review,
        comparisons=level_table(names),
        blocking=candidates.report,
        parameters=model.table(),
        model=model,
        timings=timer.frame(),
    )


def explain(result: LinkageResult, record_key_l: str, record_key_r: str) -> pd.DataFrame:
    """The waterfall for one scored pair: ``comparison, label, weight, cumulative``, starting
    from the prior and ending with the total match weight."""
    low, high = sorted((record_key_l, record_key_r))
    pairs = result.pairs
    hit = pairs[(pairs["record_key_l"] == low) & (pairs["record_key_r"] == high)]
    if hit.empty:
        raise NotFoundError(
            "that record pair was not scored in this run (only auto, review and decided pairs "
            "are kept); check the record keys"
        )
    row = hit.iloc[0]
    rows = [
        {
            "comparison": "prior",
            "label": "two random records match",
            "weight": result.model.prior_weight,
        }
    ]
    for name in result.model.names:
        gamma = int(row[f"gamma_{name}"])
        rows.append(
            {
                "comparison": name,
                "label": COMPARISONS[name].label(gamma),
                "weight": float(row[f"bf_{name}"]),
            }
        )
    frame = pd.DataFrame(rows)
    frame["cumulative"] = frame["weight"].cumsum()
    return frame
