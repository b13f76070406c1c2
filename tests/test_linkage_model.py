"""EM recovers m, u and λ; term-frequency adjustment; settings validation."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.errors import ConfigError
from linkage.model import ModelParameters, agreement_patterns, expectation_maximisation, weigh
from linkage.settings import BlockingRule, LinkageSettings

TRUE_M = {
    "nhs_number": np.array([0.05, 0.95]),
    "sex": np.array([0.03, 0.97]),
    "date_of_birth": np.array([0.04, 0.02, 0.04, 0.05, 0.85]),
}
TRUE_U = {
    "nhs_number": np.array([0.999, 0.001]),
    "sex": np.array([0.5, 0.5]),
    "date_of_birth": np.array([0.95, 0.03, 0.015, 0.004, 0.001]),
}


def _draw(probs: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {k: rng.choice(p.size, size=n, p=p).astype(np.int8) for k, p in probs.items()}


def test_em_recovers_m_and_lambda_with_u_fixed() -> None:
    rng = np.random.default_rng(0)
    matches, non = _draw(TRUE_M, 3000, rng), _draw(TRUE_U, 30000, rng)
    gammas = {k: np.concatenate([matches[k], non[k]]) for k in TRUE_M}
    names = tuple(TRUE_M)
    patterns, counts = agreement_patterns(gammas, names)
    assert counts.sum() == 33000
    start = {k: np.full(p.size, 1.0 / p.size) for k, p in TRUE_M.items()}
    m, prior, iterations, converged = expectation_maximisation(
        patterns,
        counts,
        TRUE_U,
        start,
        {k: i for i, k in enumerate(names)},
        estimate_m=True,
        total_pairs=float(counts.sum()),
        initial_prior=0.5,
        max_iterations=200,
        tolerance=1e-6,
        floor=1e-6,
    )
    assert converged and 1 < iterations < 200
    assert prior == pytest.approx(3000 / 33000, rel=0.05)
    for name in names:
        np.testing.assert_allclose(m[name], TRUE_M[name], atol=0.02)


def test_common_surname_weighs_less_than_rare_one() -> None:
    params = ModelParameters(
        names=("family_name",),
        m={"family_name": np.array([0.03, 0.02, 0.01, 0.04, 0.90])},
        u={"family_name": np.array([0.98, 0.005, 0.001, 1e-6, 0.01])},
        prior=1e-6,
        iterations=1,
        converged=True,
        u_sample_pairs=1000,
    )
    exact = np.array([4, 4, 2], dtype=np.int8)
    tf = np.array([0.05, 0.0005, 0.05])  # "smith", "quist", a fuzzy pair (no adjustment)
    bfs, _, _ = weigh({"family_name": exact}, params, tf={"family_name": tf})
    smith, quist, fuzzy = bfs["family_name"]
    assert smith < np.log2(0.90 / 0.01) < quist
    assert smith == pytest.approx(np.log2(0.90 / 0.05))
    assert fuzzy == pytest.approx(np.log2(0.01 / 0.001))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"auto_threshold": 1.5}, "strictly between 0 and 1"),
        ({"auto_threshold": 0.8, "review_threshold": 0.9}, "review band must lie below"),
        ({"blocking_rules": ()}, "at least one blocking rule"),
        ({"max_block_size": 1}, "max_block_size"),
        ({"comparisons": ("shoe_size",)}, "unknown or empty"),
        ({"tf_adjusted": ("sex",), "comparisons": ("given_name",)}, "tf_adjusted"),
        ({"u_sample_pairs": 10}, "u_sample_pairs"),
        ({"training_rules": ("nope",)}, "must name blocking rules"),
    ],
)
def test_bad_settings_fail_at_once_saying_how_to_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LinkageSettings(**kwargs)


@pytest.mark.parametrize(
    ("name", "columns", "message"),
    [
        ("", ("postcode",), "non-empty name"),
        ("r", (), "at least one column"),
        ("r", ("shoe",), "unknown column"),
    ],
)
def test_bad_blocking_rule(name: str, columns: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BlockingRule(name, columns)
