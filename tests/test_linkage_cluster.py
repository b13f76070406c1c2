"""Clustering guards: conflicting NHS numbers, cannot-link pairs, weakest links cut first."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.cluster import guarded_clusters

NONE = np.empty(0, dtype=np.int64)


def clusters(
    n: int,
    links: list[tuple[int, int, float]],
    *,
    nhs: list[int] | None = None,
    cannot: list[tuple[int, int]] = (),  # type: ignore[assignment]
) -> list[int]:
    arr = np.array(links, dtype=float).reshape(-1, 3)
    cl = np.array(cannot, dtype=np.int64).reshape(-1, 2)
    return guarded_clusters(
        n,
        arr[:, 0].astype(np.int64),
        arr[:, 1].astype(np.int64),
        arr[:, 2],
        nhs_codes=np.array(nhs if nhs is not None else [-1] * n, dtype=np.int64),
        cannot_left=cl[:, 0],
        cannot_right=cl[:, 1],
    ).tolist()


@pytest.mark.parametrize(
    ("case", "n", "links", "nhs", "cannot", "expected"),
    [
        ("plain components", 4, [(0, 1, 5), (2, 3, 5)], None, [], [0, 0, 1, 1]),
        ("chain", 3, [(0, 1, 5), (1, 2, 5)], None, [], [0, 0, 0]),
        # 0 and 2 carry different NHS numbers: the weaker of the two links to 1 is cut
        ("nhs conflict", 3, [(0, 1, 20), (1, 2, 8)], [7, -1, 9], [], [0, 0, 1]),
        ("nhs conflict other way", 3, [(0, 1, 8), (1, 2, 20)], [7, -1, 9], [], [0, 1, 1]),
        # the direct wrong link is the weakest: dropping it suffices, nothing else is cut
        (
            "nhs conflict keeps the rest",
            4,
            [(0, 1, 20), (1, 2, 3), (2, 3, 20), (0, 3, 2)],
            [7, -1, 9, -1],
            [],
            [0, 0, 1, 1],
        ),
        ("twins never merged", 3, [(0, 2, 9), (1, 2, 9)], None, [(0, 1)], [0, 1, 0]),
        ("same NHS is fine", 2, [(0, 1, 1)], [4, 4], [], [0, 0]),
        ("untouched component", 5, [(0, 1, 1), (3, 4, 1)], [1, 2, -1, -1, -1], [], [0, 1, 2, 3, 3]),
    ],
)
def test_guards(
    case: str,
    n: int,
    links: list[tuple[int, int, float]],
    nhs: list[int] | None,
    cannot: list[tuple[int, int]],
    expected: list[int],
) -> None:
    assert clusters(n, links, nhs=nhs, cannot=cannot) == expected, case


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        # record 4 agrees directly with 1, 2, 3; only 0 (a typo) looks like its twin: it joins
        ([(0, 1, 50), (1, 2, 50), (2, 3, 50), (1, 4, 20), (2, 4, 20), (3, 4, 20)], [0] * 5),
        # one link against one twin-like pair: kept apart
        ([(0, 1, 50), (1, 2, 50), (2, 3, 50), (1, 4, 20)], [0, 0, 0, 0, 1]),
    ],
)
def test_soft_cannot_link_yields_to_majority(
    links: list[tuple[int, int, float]], expected: list[int]
) -> None:
    arr = np.array(links, dtype=float)
    got = guarded_clusters(
        5,
        arr[:, 0].astype(np.int64),
        arr[:, 1].astype(np.int64),
        arr[:, 2],
        nhs_codes=np.full(5, -1),
        cannot_left=np.array([0]),
        cannot_right=np.array([4]),
        cannot_hard=np.array([False]),
    )
    assert got.tolist() == expected


def test_no_links_gives_singletons() -> None:
    assert guarded_clusters(
        3, NONE, NONE, np.empty(0), nhs_codes=np.full(3, -1), cannot_left=NONE, cannot_right=NONE
    ).tolist() == [0, 1, 2]
