"""Fellegi–Sunter model: u from random record pairs, m and the prior by EM, no labels.

* u: the share of *random* record pairs at each level (never of the blocked candidates,
  which over-represent whatever the blocking rules agree on — LINKAGE-NOTES).
* m: EM with u held fixed (as Splink does), one training session per training rule over the
  candidate pairs that rule selects, leaving out the comparisons the rule agrees on by
  construction; a comparison's m is the mean over the sessions that estimated it.  EM runs
  on the distinct agreement patterns with their counts, so an iteration costs microseconds.
* λ (the probability that two random records match): EM over all candidate pairs with m and
  u fixed, every pair outside the candidate set taken as a non-match, so
  λ = Σ posterior / (n·(n−1)/2).
* Term-frequency adjustment (Splink's formula): at the exact level of a name comparison the
  level's u is replaced by the frequency of the value itself, so "smith" = "smith" weighs
  less than "quist" = "quist": ``bf = log2(m_exact / tf(value))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkage.comparisons import COMPARISONS, Prepared, compare


@dataclass(frozen=True)
class ModelParameters:
    """Trained m and u per comparison level (index = gamma), the prior λ, and EM's history."""

    names: tuple[str, ...]
    m: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    prior: float
    iterations: int
    converged: bool
    u_sample_pairs: int

    @property
    def prior_weight(self) -> float:
        """log2 prior odds of a match for two random records."""
        return float(np.log2(self.prior / (1.0 - self.prior)))

    def level_weights(self, name: str) -> np.ndarray:
        """log2(m/u) per gamma (index = gamma), before term-frequency adjustment."""
        return np.log2(self.m[name] / self.u[name])

    def table(self) -> pd.DataFrame:
        """One row per comparison level: ``comparison, gamma, label, m, u, weight``."""
        rows = []
        for name in self.names:
            comparison = COMPARISONS[name]
            for gamma in range(comparison.n_levels - 1, -1, -1):
                rows.append(
                    {
                        "comparison": name,
                        "gamma": gamma,
                        "label": comparison.label(gamma),
                        "m": float(self.m[name][gamma]),
                        "u": float(self.u[name][gamma]),
                        "weight": float(self.level_weights(name)[gamma]),
                    }
                )
        return pd.DataFrame(rows)


def _smooth(counts: np.ndarray, floor: float) -> np.ndarray:
    total = counts.sum()
    probs = counts / total if total > 0 else np.full(counts.size, 1.0 / counts.size)
    probs = np.maximum(probs, floor)
    return probs / probs.sum()


def random_pairs(n: int, n_pairs: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` random record-index pairs with ``left != right`` (all pairs if fewer)."""
    total = n * (n - 1) // 2
    if total <= n_pairs:
        left, right = np.triu_indices(n, k=1)
        return left.astype(np.int64), right.astype(np.int64)
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=n_pairs, dtype=np.int64)
    right = rng.integers(0, n - 1, size=n_pairs, dtype=np.int64)
    right = np.where(right >= left, right + 1, right)
    return left, right


def estimate_u(
    prepared: Prepared,
    names: tuple[str, ...],
    *,
    n_pairs: int,
    seed: int,
    floor: float,
) -> tuple[dict[str, np.ndarray], int]:
    """u per level from random record pairs; returns ``(u, pairs sampled)``."""
    left, right = random_pairs(len(prepared), n_pairs, seed=seed)
    gammas = compare(prepared, left, right, names)
    u = {}
    for name in names:
        g = gammas[name]
        counts = np.bincount(g[g >= 0], minlength=COMPARISONS[name].n_levels).astype(float)
        # a level never seen among random pairs gets half a pair: rare, not impossible
        u[name] = _smooth(counts + 0.5, floor / 100)
    return u, int(left.size)


@dataclass(frozen=True)
class PatternSpace:
    """Every gamma vector of ``names`` as one small integer (mixed radix, null = 0).

    Six comparisons have about 25,000 possible patterns, so the candidate pairs of a whole
    run reduce to a dense count per pattern: EM over those counts is exact and tiny, and
    the per-pair gammas can be counted chunk by chunk."""

    names: tuple[str, ...]

    @property
    def bases(self) -> tuple[int, ...]:
        return tuple(COMPARISONS[name].n_levels + 1 for name in self.names)

    @property
    def size(self) -> int:
        return int(np.prod(self.bases, dtype=np.int64))

    def encode(self, gammas: dict[str, np.ndarray]) -> np.ndarray:
        """Pattern code per pair (int32)."""
        code = np.zeros(len(gammas[self.names[0]]), dtype=np.int32)
        for name, base in zip(self.names, self.bases, strict=True):
            code *= base
            code += gammas[name]
            code += 1
        return code

    def count(self, codes: np.ndarray) -> np.ndarray:
        """How many of the pattern ``codes`` fall in each pattern (dense float64)."""
        return np.bincount(codes, minlength=self.size).astype(np.float64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Gamma vectors (rows; columns in ``names`` order) of pattern codes."""
        patterns = np.empty((codes.size, len(self.names)), dtype=np.int64)
        rest = codes.astype(np.int64)
        for column in range(len(self.names) - 1, -1, -1):
            base = self.bases[column]
            patterns[:, column] = rest % base - 1
            rest = rest // base
        return patterns

    def observed(
        self, counts: np.ndarray, columns: tuple[str, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The distinct patterns with a count, restricted to ``columns`` (the counts of
        patterns that differ only outside them summed): ``(patterns, counts)``."""
        seen = np.flatnonzero(counts)
        full = self.decode(seen)
        keep = [self.names.index(name) for name in columns]
        rows, inverse = np.unique(full[:, keep], axis=0, return_inverse=True)
        summed = np.bincount(inverse.ravel(), weights=counts[seen], minlength=rows.shape[0])
        return rows, summed


def agreement_patterns(
    gammas: dict[str, np.ndarray], names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct gamma vectors (rows, columns in ``names`` order) and how often each occurs."""
    space = PatternSpace(names)
    return space.observed(space.count(space.encode(gammas)), names)


def _initial_m(n_levels: int) -> np.ndarray:
    raw = np.array([*(0.1 * 0.5**i for i in range(n_levels - 2, -1, -1)), 1.0])
    return raw / raw.sum()


def _log_likelihood(
    patterns: np.ndarray, probs: dict[str, np.ndarray], columns: dict[str, int]
) -> np.ndarray:
    total = np.zeros(patterns.shape[0])
    for name, column in columns.items():
        g = patterns[:, column]
        logp = np.log(probs[name])
        total += np.where(g >= 0, logp[np.maximum(g, 0)], 0.0)
    return total


@dataclass(frozen=True)
class TrainingSession:
    """EM over the candidate pairs one blocking rule selects, Splink style: the comparisons
    the rule agrees on by construction are left out (``excluded``), since among those pairs
    their agreement says nothing about matching.  ``counts``: those pairs' pattern counts
    (see ``PatternSpace``)."""

    name: str
    counts: np.ndarray
    excluded: frozenset[str]


def expectation_maximisation(
    patterns: np.ndarray,
    counts: np.ndarray,
    u: dict[str, np.ndarray],
    m: dict[str, np.ndarray],
    columns: dict[str, int],
    *,
    estimate_m: bool,
    total_pairs: float,
    initial_prior: float,
    max_iterations: int,
    tolerance: float,
    floor: float,
) -> tuple[dict[str, np.ndarray], float, int, bool]:
    """EM with u fixed over the comparisons in ``columns`` (name -> pattern column).

    Estimates λ = Σ posterior / ``total_pairs`` and, if ``estimate_m``, m.  The M-step adds
    one pseudo-pair distributed like u, so a level never seen among matches gets a weight
    near zero instead of a floor-driven extreme.  Returns ``(m, prior, iterations,
    converged)``.
    """
    m = dict(m)
    prior = initial_prior
    log_u = _log_likelihood(patterns, u, columns)
    converged = False
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        log_m = _log_likelihood(patterns, m, columns)
        log_odds = np.log(prior) - np.log1p(-prior) + log_m - log_u
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        weighted = posterior * counts
        change = 0.0
        if estimate_m:
            for name, column in columns.items():
                g = patterns[:, column]
                ok = g >= 0
                sums = np.bincount(g[ok], weights=weighted[ok], minlength=u[name].size)
                new = _smooth(sums + u[name], floor)
                change = max(change, float(np.max(np.abs(new - m[name]))))
                m[name] = new
        new_prior = float(np.clip(weighted.sum() / total_pairs, 1e-15, 1 - 1e-9))
        change = max(change, abs(new_prior - prior) / prior * 0.1)
        prior = new_prior
        if change < tolerance:
            converged = True
            break
    return m, prior, iterations, converged


def term_frequencies(prepared: Prepared, column: str) -> np.ndarray:
    """Share of records (with a value) carrying each record's value; NaN when missing."""
    coded = prepared.coded(column)
    present = coded.codes >= 0
    counts = np.bincount(coded.codes[present], minlength=len(coded.uniques)).astype(float)
    tf = np.full(len(coded.codes), np.nan)
    tf[present] = counts[coded.codes[present]] / max(int(present.sum()), 1)
    return tf


def weigh(
    gammas: dict[str, np.ndarray],
    params: ModelParameters,
    *,
    tf: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-comparison log2 weights (null = 0; TF-adjusted exact levels), total match weight
    (prior included) and match probability."""
    tf = tf or {}
    bfs: dict[str, np.ndarray] = {}
    total = np.full(len(gammas[params.names[0]]), params.prior_weight)
    for name in params.names:
        g = gammas[name]
        # one lookup per pair: slot 0 is the null level (weight 0), slot gamma + 1 the rest
        table = np.concatenate([[0.0], params.level_weights(name)])
        bf = table[g.astype(np.intp) + 1]
        if name in tf:
            exact = np.flatnonzero(g == COMPARISONS[name].exact_gamma)
            floor = params.u[name][COMPARISONS[name].exact_gamma] / 100
            pair_tf = np.maximum(tf[name][exact], floor)
            m_exact = params.m[name][COMPARISONS[name].exact_gamma]
            known = ~np.isnan(pair_tf)
            bf[exact[known]] = np.log2(m_exact / pair_tf[known])
        bfs[name] = bf
        total += bf
    probability = 1.0 / (1.0 + np.exp2(-np.clip(total, -1000, 1000)))
    return bfs, total, probability


def train(
    prepared: Prepared,
    space: PatternSpace,
    candidate_counts: np.ndarray,
    sessions: tuple[TrainingSession, ...],
    *,
    u_sample_pairs: int,
    seed: int,
    max_iterations: int,
    tolerance: float,
    floor: float,
    u_estimate: tuple[dict[str, np.ndarray], int] | None = None,
) -> ModelParameters:
    """u from random pairs; m by EM, one session per training rule, each comparison's m the
    average over the sessions that estimated it; then λ by EM over all candidates with m and
    u fixed (non-candidate pairs count as non-matches).  ``candidate_counts``: the pattern
    counts of every candidate pair.  ``u_estimate``: ``estimate_u``'s answer when the caller
    has it already (it may run beside the comparison of the candidates)."""
    names = space.names
    u, sampled = u_estimate or estimate_u(
        prepared, names, n_pairs=u_sample_pairs, seed=seed, floor=floor
    )
    n = len(prepared)
    total_pairs = max(n * (n - 1) // 2, 1)
    initial = {name: _initial_m(COMPARISONS[name].n_levels) for name in names}
    if candidate_counts.sum() == 0:
        return ModelParameters(names, initial, u, 1.0 / total_pairs, 0, False, sampled)
    estimates: dict[str, list[np.ndarray]] = {name: [] for name in names}
    iterations = 0
    converged = True
    for session in sessions:
        if session.counts.sum() == 0:
            continue
        active = tuple(name for name in names if name not in session.excluded)
        if not active:
            continue
        patterns, counts = space.observed(session.counts, active)
        m, _, used, done = expectation_maximisation(
            patterns,
            counts,
            u,
            initial,
            {name: i for i, name in enumerate(active)},
            estimate_m=True,
            total_pairs=float(counts.sum()),
            initial_prior=0.5,
            max_iterations=max_iterations,
            tolerance=tolerance,
            floor=floor,
        )
        iterations += used
        converged &= done
        for name in active:
            estimates[name].append(m[name])
    m_final = {
        name: np.mean(estimates[name], axis=0) if estimates[name] else initial[name]
        for name in names
    }
    patterns, counts = space.observed(candidate_counts, names)
    _, prior, used, done = expectation_maximisation(
        patterns,
        counts,
        u,
        m_final,
        {name: i for i, name in enumerate(names)},
        estimate_m=False,
        total_pairs=float(total_pairs),
        initial_prior=min(max(n / total_pairs, 1e-12), 0.25),
        max_iterations=max_iterations,
        tolerance=tolerance,
        floor=floor,
    )
    return ModelParameters(names, m_final, u, prior, iterations + used, converged and done, sampled)
