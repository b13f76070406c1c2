"""``link_records``: contract C end to end — standardise, block, compare, train, score, band,
guard, cluster.  Each step is timed; nothing identifying is logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adapters.errors import ConfigError, NotFoundError
from linkage.blocking import CandidatePairs, RuleKeys, block, distinct, key_codes, rule_keys
from linkage.cluster import components, guarded_clusters
from linkage.comparisons import (
    COMPARISONS,
    Coded,
    Prepared,
    compare,
    gamma_for,
    gammas_for,
    level_table,
)
from linkage.incremental import (
    LinkageState,
    Reuse,
    cached_pairs,
    plan_reuse,
    record_hashes,
    settings_fingerprint,
)
from linkage.model import (
    ModelParameters,
    PatternSpace,
    TrainingSession,
    estimate_u,
    term_frequencies,
    train,
    weigh,
)
from linkage.settings import COLUMN_COMPARISON, LinkageSettings
from linkage.standardise import REQUIRED_COLUMNS, standardise_memo

log = logging.getLogger(__name__)

DECISIONS = ("accepted", "rejected")
# Per-pair labels are int8 codes until the small output frame is built (an object column
# costs 8 bytes a pair plus the strings); index = code, None = no value.
BANDS = ("non", "review", "auto")
BAND_CODE = {label: code for code, label in enumerate(BANDS)}
DECISION_LABELS = (None, *DECISIONS)
DECISION_CODE = {label: code for code, label in enumerate(DECISION_LABELS) if label}
GUARDS = (None, "contradiction", "twins", "nhs_conflict")
GUARD_CODE = {label: code for code, label in enumerate(GUARDS) if label}
#: weight given to a reviewer-accepted link when guards force a choice: it is kept first
ACCEPTED_WEIGHT = 1e9


@dataclass(frozen=True)
class LinkageResult:
    """Contract C.  ``blocking``: candidate pairs per rule; ``parameters``: m, u and weight
    per comparison level; ``model``: the trained parameters (prior λ, EM iterations);
    ``timings``: seconds per step.  ``state``: what the next night may reuse; ``reuse``: how
    this night got its model; ``compared_pairs``: candidate pairs compared tonight."""

    pairs: pd.DataFrame
    clusters: pd.DataFrame
    provisional: pd.DataFrame
    review: pd.DataFrame
    comparisons: pd.DataFrame
    blocking: pd.DataFrame
    parameters: pd.DataFrame
    model: ModelParameters
    timings: pd.DataFrame
    state: LinkageState | None = None
    reuse: str = "trained tonight"
    compared_pairs: int = 0


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
    """Decided pairs as record indices (left < right) and their decision codes."""
    if decisions is None or len(decisions) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.int8)
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
            "decision": decisions.loc[known, "decision"].map(DECISION_CODE).fillna(0),
        }
    ).drop_duplicates(["l", "r"], keep="last")
    return (
        frame["l"].to_numpy(dtype=np.int64),
        frame["r"].to_numpy(dtype=np.int64),
        frame["decision"].to_numpy(dtype=np.int8),
    )


def _guards(gammas: dict[str, np.ndarray], settings: LinkageSettings) -> np.ndarray:
    """Guard code per pair (see ``GUARDS``; 0 = none): pairs that must never share a cluster."""
    n = len(next(iter(gammas.values())))
    reason = np.zeros(n, dtype=np.int8)
    nhs = gammas.get("nhs_number")
    # the same number, or (for identifiers without a check digit) one slip from it, is
    # direct evidence that outweighs twin-like or contradicting fields
    nhs_agree = (
        np.isin(
            nhs, gammas_for("nhs_number", "agree", "one digit changed or two neighbours swapped")
        )
        if nhs is not None
        else np.zeros(n, dtype=bool)
    )
    given, family, dob = (
        gammas.get("given_name"),
        gammas.get("family_name"),
        gammas.get("date_of_birth"),
    )
    sex = gammas.get("sex")
    if settings.guard_contradictions and given is not None and dob is not None:
        contradiction = (
            np.isin(given, gammas_for("given_name", "else", "jaro-winkler >= 0.7"))
            & (dob == gamma_for("date_of_birth", "else"))
            & ~nhs_agree
        )
        reason[contradiction] = GUARD_CODE["contradiction"]
    if settings.guard_twins and given is not None and family is not None and dob is not None:
        # a name only loosely alike is as different as twins' names are (Jack, Emily); a
        # close name (Jack, Jake) counts as a twin's only when the recorded sexes differ, and
        # a corrupted form of one name (a typo, a nickname, a known name with a slip) never.
        # Known gap: same-sex twins with close names and no NHS numbers are not kept apart.
        different_given = np.isin(given, gammas_for("given_name", "else", "jaro-winkler >= 0.7"))
        close_given = np.isin(
            given,
            gammas_for(
                "given_name",
                "jaro-winkler >= 0.92",
                "jaro-winkler >= 0.85",
                "a nickname of it, with a typo",
                "a known name with a slip",
            ),
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
        reason[twins] = GUARD_CODE["twins"]
    if nhs is not None and settings.guard_nhs_conflict:
        # two different numbers, however alike (a slip can only be seen between numbers
        # without a check digit, where this guard is off)
        different = gammas_for(
            "nhs_number", "disagree", "one digit changed or two neighbours swapped"
        )
        reason[np.isin(nhs, different)] = GUARD_CODE["nhs_conflict"]
    return reason


def _chunks(total: int, size: int) -> Iterator[slice]:
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


def _pairs_to_score(
    candidates: CandidatePairs, d_left: np.ndarray, d_right: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs plus decided pairs the rules did not find (rule -1), sorted by
    ``(left, right)`` so that pair order is record-key order."""
    if d_left.size == 0:
        return candidates.left, candidates.right, candidates.rule
    width = np.int64(max(n, 1))
    codes = candidates.left.astype(np.int64) * width + candidates.right
    decided = distinct(d_left * width + d_right)
    extra = decided[~np.isin(decided, codes)]
    if extra.size == 0:
        return candidates.left, candidates.right, candidates.rule
    all_codes = np.concatenate([codes, extra])
    order = np.argsort(all_codes, kind="stable")
    dtype = candidates.left.dtype
    rule = np.concatenate([candidates.rule, np.full(extra.size, -1, dtype=np.int8)])
    return (
        (all_codes[order] // width).astype(dtype),
        (all_codes[order] % width).astype(dtype),
        rule[order],
    )


def _decided_positions(
    left: np.ndarray, right: np.ndarray, d_left: np.ndarray, d_right: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Where each decided pair sits among the (sorted) pairs, and the order that puts the
    decisions in that order."""
    width = np.int64(max(n, 1))
    pair_codes = left.astype(np.int64) * width + right
    d_order = np.argsort(d_left * width + d_right)
    return np.searchsorted(pair_codes, (d_left * width + d_right)[d_order]), d_order


@dataclass(frozen=True)
class _WarmPairs:
    """The pairs a warm night scores, in pair order, with their rule numbers and levels;
    the decided pairs' positions among them (by pair) and their decisions in that order;
    and how many pairs were compared tonight."""

    left: np.ndarray
    right: np.ndarray
    rule: np.ndarray
    gammas: dict[str, np.ndarray]
    decided_at: np.ndarray
    decided_code: np.ndarray
    compared: int


def _warm_pairs(
    prepared: Prepared,
    keys_by_rule: RuleKeys,
    d_left: np.ndarray,
    d_right: np.ndarray,
    d_code: np.ndarray,
    *,
    reuse: Reuse,
    state: LinkageState,
    tf_records: dict[str, np.ndarray],
    settings: LinkageSettings,
) -> _WarmPairs:
    """The pairs a warm night must score, their levels, and how many were compared: every
    candidate pair touching a new or changed record and every decided pair (compared now),
    every cached pair that is still a candidate or decided (levels from the cache), and
    every other candidate pair whose two records could end up in one cluster (compared
    now, for the guards).  Everything else scored below the cache floor last night with
    the same records and model, and is left out.

    The candidate pairs are never listed whole: each set above is found from the rules'
    keys (``RuleKeys``), so a night with 1% changed records touches about 1% of them."""
    names = settings.comparisons
    n = len(prepared)
    width = np.int64(max(n, 1))
    changed = reuse.changed
    d_codes = d_left * width + d_right
    d_order = np.argsort(d_codes, kind="stable")
    d_codes, d_code = d_codes[d_order], d_code[d_order]
    touching = keys_by_rule.pairs_sharing(np.zeros(n, dtype=np.int64), touching=changed)
    cached_codes, cached_rows = cached_pairs(state, reuse.tonight, n)
    scored = keys_by_rule.first_rule(cached_codes // width, cached_codes % width) >= 0
    scored |= np.isin(cached_codes, d_codes)
    cached_codes, cached_rows = cached_codes[scored], cached_rows[scored]
    at = distinct(np.concatenate([touching, d_codes, cached_codes]))
    left, right = at // width, at % width
    cached_at = np.searchsorted(at, cached_codes)
    from_cache = np.zeros(at.size, dtype=bool)
    from_cache[cached_at] = ~(changed[left[cached_at]] | changed[right[cached_at]])
    gammas = {name: np.empty(at.size, dtype=np.int8) for name in names}
    use_rows = cached_rows[from_cache[cached_at]]
    for name in names:
        gammas[name][from_cache] = state.pair_gammas[name][use_rows]
    fresh = np.flatnonzero(~from_cache)
    for part in _chunks(fresh.size, settings.chunk_pairs):
        chunk = compare(prepared, left[fresh[part]], right[fresh[part]], names)
        for name in names:
            gammas[name][fresh[part]] = chunk[name]
    # which clusters are possible tonight: the links among these pairs, as the score step
    # will find them
    tf = {name: values[left] for name, values in tf_records.items()}
    _, _, probability = weigh(gammas, reuse.model, tf=tf)
    band = _band(probability, gammas, settings)
    decision = np.zeros(at.size, dtype=np.int8)
    decision[np.searchsorted(at, d_codes)] = d_code
    linkable = (_guards(gammas, settings) == 0) & (decision != DECISION_CODE["rejected"])
    linkable &= (band != BAND_CODE["non"]) | (decision == DECISION_CODE["accepted"])
    possible = components(n, left[linkable], right[linkable])
    together = keys_by_rule.pairs_sharing(possible)
    extra = together[~np.isin(together, at, assume_unique=True)]
    extra_gammas = compare(prepared, extra // width, extra % width, names)
    every = np.concatenate([at, extra])
    order = np.argsort(every, kind="stable")
    every = every[order]
    merged = {name: np.concatenate([gammas[name], extra_gammas[name]])[order] for name in names}
    dtype = np.int32 if n < np.iinfo(np.int32).max else np.int64
    every_left, every_right = (every // width).astype(dtype), (every % width).astype(dtype)
    return _WarmPairs(
        left=every_left,
        right=every_right,
        rule=keys_by_rule.first_rule(every_left, every_right),
        gammas=merged,
        decided_at=np.searchsorted(every, d_codes),
        decided_code=d_code,
        compared=int(fresh.size + extra.size),
    )


def _in_key_order(records: pd.DataFrame) -> pd.DataFrame:
    """The columns standardising reads, rows sorted by ``record_key`` (stable, missing
    last) as ``records.sort_values("record_key", kind="stable")`` sorts them, indexed
    0..n-1 (standardising drops the index): only those columns are gathered (a person
    record carries twice as many), each once, and standardising need not copy them."""
    if not len(records) or "record_key" not in records.columns:
        return records.sort_values("record_key", kind="stable") if len(records) else records
    record_key = records["record_key"]
    if record_key.isna().any():  # pandas' sort puts them last
        order = record_key.reset_index(drop=True).sort_values(kind="stable").index.to_numpy()
    else:
        order = np.argsort(record_key.to_numpy(dtype=object), kind="stable")
    columns = [c for c in records.columns if c in REQUIRED_COLUMNS]
    return pd.DataFrame({column: records[column].array.take(order) for column in columns})


def _band(
    probability: np.ndarray, gammas: dict[str, np.ndarray], settings: LinkageSettings
) -> np.ndarray:
    """Band code per pair (see ``BANDS``)."""
    band = np.where(
        probability >= settings.auto_threshold,
        BAND_CODE["auto"],
        np.where(probability >= settings.review_threshold, BAND_CODE["review"], BAND_CODE["non"]),
    ).astype(np.int8)
    if settings.deterministic_nhs_dob and {"nhs_number", "date_of_birth"} <= set(gammas):
        deterministic = (gammas["nhs_number"] == gamma_for("nhs_number", "agree")) & (
            gammas["date_of_birth"] == gamma_for("date_of_birth", "exact")
        )
        band[deterministic] = BAND_CODE["auto"]
    return band


def link_records(
    records: pd.DataFrame,
    *,
    settings: LinkageSettings | None = None,
    decisions: pd.DataFrame | None = None,
    previous: LinkageState | None = None,
) -> LinkageResult:
    """Link contract-B person records into persons (contract C).

    Candidate pairs are compared and scored ``settings.chunk_pairs`` at a time, so memory
    stays bounded: per pair the run keeps only its record indices (int32), rule (int8),
    gammas (int8) and guard (int8); full detail (weights, bands, keys) is built only for the
    pairs worth keeping (auto, review, decided), and EM runs on agreement-pattern counts.
    """
    settings = settings or LinkageSettings()
    if not isinstance(settings, LinkageSettings):
        raise ConfigError("settings must be a linkage.LinkageSettings")
    names = settings.comparisons
    timer = _Timer()

    with timer.step("standardise"):
        ordered = _in_key_order(records)
        # last night's standardised values, by raw value, spare most of the string work
        std, coded, memo = standardise_memo(ordered, previous.memo if previous else None)
        # the string columns come coded from standardising: no comparison or blocking rule
        # factorizes a 100k-row string column again
        prepared = Prepared(
            std,
            _coded={
                column: Coded(codes.astype(np.int32), uniques)
                for column, (codes, uniques) in coded.items()
            },
        )
        keys = std["record_key"].to_numpy(dtype=object)
        index_of = pd.Series(np.arange(len(std)), index=std["record_key"])
        hashes = record_hashes(std, coded)
        reuse, reuse_reason = plan_reuse(previous, settings, keys, hashes)
        log.info("linkage: %s", reuse_reason if reuse is not None else f"training ({reuse_reason})")

    with timer.step("block"):
        n = len(std)

        def column_codes(column: str) -> np.ndarray:
            return prepared.coded(column).codes

        d_left, d_right, d_code = _decision_pairs(decisions, index_of)
        if reuse is not None:
            # a warm night never lists the candidate pairs whole (see _warm_pairs)
            keys_by_rule = rule_keys(
                std,
                settings.blocking_rules,
                max_block_size=settings.max_block_size,
                column_codes=column_codes,
            )
            blocking_report = keys_by_rule.report
        else:
            candidates = block(
                std,
                settings.blocking_rules,
                max_block_size=settings.max_block_size,
                column_codes=column_codes,
            )
            blocking_report = candidates.report
            left, right, rule = _pairs_to_score(candidates, d_left, d_right, n)
            d_pos, d_order = _decided_positions(left, right, d_left, d_right, n)
            d_code = d_code[d_order]
        rule_names = np.array(
            [r.name for r in settings.blocking_rules] + ["decision"], dtype=object
        )
        tf_records = {
            name: term_frequencies(prepared, COMPARISONS[name].tf_column or "")
            for name in settings.tf_adjusted
        }

    if reuse is not None and previous is not None:
        with timer.step("compare"):
            warm = _warm_pairs(
                prepared,
                keys_by_rule,
                d_left,
                d_right,
                d_code,
                reuse=reuse,
                state=previous,
                tf_records=tf_records,
                settings=settings,
            )
            left, right, rule, gammas = warm.left, warm.right, warm.rule, warm.gammas
            d_pos, d_code, compared = warm.decided_at, warm.decided_code, warm.compared
        model = reuse.model
        nights_reused = reuse.nights_reused
    else:
        # u needs only the records: estimate it on a second thread while the candidates are
        # compared (numpy, pandas and rapidfuzz release the GIL for most of the work)
        u_pool = ThreadPoolExecutor(max_workers=1)
        u_future = u_pool.submit(
            estimate_u,
            prepared,
            names,
            n_pairs=settings.u_sample_pairs,
            seed=settings.seed,
            floor=settings.probability_floor,
        )
        with timer.step("compare"):
            space = PatternSpace(names)
            gammas = {name: np.empty(left.size, dtype=np.int8) for name in names}
            training = [r for r in settings.blocking_rules if r.name in settings.training_rules]
            rule_codes = [key_codes(std, r.columns, column_codes=column_codes) for r in training]
            candidate_counts = np.zeros(space.size)
            session_counts = [np.zeros(space.size) for _ in training]
            for part in _chunks(left.size, settings.chunk_pairs):
                part_left, part_right = left[part], right[part]
                chunk = compare(prepared, part_left, part_right, names)
                for name in names:
                    gammas[name][part] = chunk[name]
                pattern = space.encode(chunk)
                candidate_counts += space.count(pattern)
                # EM's training sessions: the pairs each training rule selects, as counts
                for codes, counts in zip(rule_codes, session_counts, strict=True):
                    a = codes[part_left]
                    counts += space.count(pattern[(a >= 0) & (a == codes[part_right])])
            compared = int(left.size)

        with timer.step("train"):
            u_estimate = u_future.result()
            u_pool.shutdown()
            sessions = tuple(
                TrainingSession(
                    name=r.name,
                    counts=counts,
                    excluded=frozenset(COLUMN_COMPARISON[c] for c in r.columns),
                )
                for r, counts in zip(training, session_counts, strict=True)
            )
            model = train(
                prepared,
                space,
                candidate_counts,
                sessions,
                u_sample_pairs=settings.u_sample_pairs,
                seed=settings.seed,
                max_iterations=settings.em_max_iterations,
                tolerance=settings.em_tolerance,
                floor=settings.probability_floor,
                u_estimate=u_estimate,
            )
        nights_reused = 0

    with timer.step("score"):
        review_weight = float(
            np.log2(settings.review_threshold / (1.0 - settings.review_threshold))
        )
        cache_floor = review_weight - settings.cache_margin
        guard_all = np.empty(left.size, dtype=np.int8)
        kept_parts = [d_pos.astype(np.int64)]
        cache_parts = [d_pos.astype(np.int64)]
        for part in _chunks(left.size, settings.chunk_pairs):
            chunk = {name: gammas[name][part] for name in names}
            tf = {name: values[left[part]] for name, values in tf_records.items()}
            _, total, probability = weigh(chunk, model, tf=tf)
            band = _band(probability, chunk, settings)
            kept_parts.append(np.flatnonzero(band != BAND_CODE["non"]) + part.start)
            cache_parts.append(
                np.flatnonzero((band != BAND_CODE["non"]) | (total >= cache_floor)) + part.start
            )
            guard_all[part] = _guards(chunk, settings)
        cache_at = distinct(np.concatenate(cache_parts))
        cache_parts.clear()
        state = LinkageState(
            model=model,
            fingerprint=settings_fingerprint(settings),
            keys=keys,
            hashes=hashes,
            pair_left=left[cache_at].astype(np.int32),
            pair_right=right[cache_at].astype(np.int32),
            pair_gammas={name: gammas[name][cache_at] for name in names},
            nights_reused=nights_reused,
            memo=memo,
        )
        del cache_at
        # the kept pairs: auto and review bands, and every decided pair, in pair order
        kept = distinct(np.concatenate(kept_parts))
        kept_parts.clear()
        k_left, k_right = left[kept].astype(np.int64), right[kept].astype(np.int64)
        k_gammas = {name: gammas[name][kept] for name in names}
        bfs, weight, probability = weigh(
            k_gammas, model, tf={k: v[k_left] for k, v in tf_records.items()}
        )
        band = _band(probability, k_gammas, settings)
        decision = np.zeros(kept.size, dtype=np.int8)
        decision[np.searchsorted(kept, d_pos)] = d_code
        accepted = decision == DECISION_CODE["accepted"]
        rejected = decision == DECISION_CODE["rejected"]
        # a reviewer who accepted a pair has seen the twin-like or contradicting evidence and
        # overrules that heuristic; two different NHS numbers stay a hard stop
        overruled = accepted & (guard_all[kept] != GUARD_CODE["nhs_conflict"])
        guard_all[kept[overruled]] = 0
        guard = guard_all[kept]

    with timer.step("cluster"):
        nhs_codes = prepared.coded("nhs_number").codes
        if not settings.guard_nhs_conflict:
            nhs_codes = np.full(n, -1, dtype=np.int64)
        unguarded = guard == 0
        confirmed = unguarded & ~rejected & ((band == BAND_CODE["auto"]) | accepted)
        pending = unguarded & ~rejected & ~accepted & (band == BAND_CODE["review"])
        # a guarded pair can only matter when both its records can end up in one cluster,
        # i.e. in one component of every possible link: drop the rest (most guarded pairs
        # are different people in one postcode, tens of millions at scale) before clustering
        possible = components(n, k_left[confirmed | pending], k_right[confirmed | pending])
        cannot_parts = [kept[rejected]]
        for part in _chunks(left.size, settings.chunk_pairs):
            at = np.flatnonzero(guard_all[part]) + part.start
            cannot_parts.append(at[possible[left[at]] == possible[right[at]]])
        cannot = distinct(np.concatenate(cannot_parts))
        cannot_parts.clear()
        cannot_rejected = np.zeros(cannot.size, dtype=bool)
        cannot_rejected[np.searchsorted(cannot, kept[rejected])] = True
        # twin-like and contradicting pairs are heuristics (soft); a rejection is not
        hard = cannot_rejected | (guard_all[cannot] == GUARD_CODE["nhs_conflict"])
        c_left, c_right = left[cannot].astype(np.int64), right[cannot].astype(np.int64)
        link_weight = np.where(accepted, ACCEPTED_WEIGHT, weight)

        def cluster(mask: np.ndarray) -> np.ndarray:
            return guarded_clusters(
                n,
                k_left[mask],
                k_right[mask],
                link_weight[mask],
                nhs_codes=nhs_codes,
                cannot_left=c_left,
                cannot_right=c_right,
                cannot_hard=hard,
            )

        confirmed_labels = cluster(confirmed)
        provisional_labels = cluster(confirmed | pending)

    with timer.step("output"):
        pairs = pd.DataFrame(
            {
                "record_key_l": pd.array(keys[k_left], dtype="string"),
                "record_key_r": pd.array(keys[k_right], dtype="string"),
                "match_weight": weight,
                "match_probability": probability,
                "band": pd.array(np.array(BANDS, dtype=object)[band], dtype="string"),
                "decision": pd.array(
                    np.array(DECISION_LABELS, dtype=object)[decision], dtype="string"
                ),
                "guard": pd.array(np.array(GUARDS, dtype=object)[guard], dtype="string"),
                "blocking_rule": pd.array(rule_names[rule[kept]], dtype="string"),
            }
        )
        for name in names:
            pairs[f"gamma_{name}"] = k_gammas[name]
        for name in names:
            pairs[f"bf_{name}"] = bfs[name]
        # pairs are in (left, right) index order, and records are sorted by key: the frame
        # is already sorted by (record_key_l, record_key_r)
        # the keys checked as strings once; each frame gets its own copy of the array
        record_keys = pd.array(keys, dtype="string")
        clusters = pd.DataFrame({"record_key": record_keys, "cluster_id": confirmed_labels})
        provisional = pd.DataFrame(
            {"record_key": record_keys.copy(), "cluster_id": provisional_labels}
        )
        in_review = pending & (confirmed_labels[k_left] != confirmed_labels[k_right])
        review = pairs[in_review].reset_index(drop=True)

    return LinkageResult(
        pairs=pairs,
        clusters=clusters,
        provisional=provisional,
        review=review,
        comparisons=level_table(names),
        blocking=blocking_report,
        parameters=model.table(),
        model=model,
        timings=timer.frame(),
        state=state,
        reuse=reuse_reason if reuse is not None else f"trained tonight ({reuse_reason})",
        compared_pairs=compared,
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
