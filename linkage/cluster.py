"""Clustering links into persons: connected components with cannot-link guards.

Plain connected components (scipy) first, over every link.  Only the components that break
a guard are then rebuilt, Kruskal style: their links are taken strongest first and a link is
kept only if the two groups it joins may be merged — no two different valid NHS numbers
and no cannot-link pair (twins, contradicting direct evidence, a rejected review decision)
across them (a twin-like pair is a *soft* cannot-link: it yields when the two groups have
more direct links than such pairs).  So the weakest links, the ones a wrong chain runs
through, are the ones dropped, and a guard never over-cuts: what can stay together does.

The rebuild loops over links, but only over the links of guard-breaking components, which
are a tiny share of the data; everything else is vectorised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkage.blocking import distinct


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label per record (singletons included)."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(left.size, dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _conflicted(
    labels: np.ndarray,
    nhs_codes: np.ndarray,
    cannot_left: np.ndarray,
    cannot_right: np.ndarray,
) -> np.ndarray:
    """Labels of components holding two NHS numbers or both ends of a cannot-link pair."""
    has = nhs_codes >= 0
    # distinct (label, number) pairs, sorted: a label in two of them holds two numbers
    width = np.int64(int(nhs_codes.max(initial=-1)) + 1)
    pairs = distinct(labels[has].astype(np.int64) * width + nhs_codes[has])
    label_of = pairs // max(width, 1)
    nhs_bad = np.unique(label_of[1:][label_of[1:] == label_of[:-1]])
    same = labels[cannot_left] == labels[cannot_right]
    return np.union1d(nhs_bad, np.unique(labels[cannot_left[same]]))


def _rebuild(
    nodes: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    nhs_codes: np.ndarray,
    cannot_left: np.ndarray,
    cannot_right: np.ndarray,
    cannot_hard: np.ndarray,
) -> dict[int, int]:
    """Greedy constrained union of the given nodes; returns node -> root.

    Two groups never merge across two NHS numbers or a hard cannot-link.  Across soft
    cannot-links (twin-like pairs) they merge only when their direct links outnumber those
    pairs: one mistyped given name must not cut a record from four records that agree."""
    parent = {int(v): int(v) for v in nodes}
    members = {int(v): {int(v)} for v in nodes}
    numbers = {int(v): ({int(nhs_codes[v])} if nhs_codes[v] >= 0 else set()) for v in nodes}
    hard: dict[int, set[int]] = {int(v): set() for v in nodes}
    soft: dict[int, set[int]] = {int(v): set() for v in nodes}
    linked: dict[int, set[int]] = {int(v): set() for v in nodes}
    for a, b, is_hard in zip(
        cannot_left.tolist(), cannot_right.tolist(), cannot_hard.tolist(), strict=True
    ):
        (hard if is_hard else soft)[a].add(b)
        (hard if is_hard else soft)[b].add(a)
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        linked[a].add(b)
        linked[b].add(a)

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    def count(relation: dict[int, set[int]], group: set[int], other: set[int]) -> int:
        return sum(len(relation[x] & other) for x in group)

    for edge in np.argsort(-weight, kind="stable"):
        ra, rb = find(int(left[edge])), find(int(right[edge]))
        if ra == rb or len(numbers[ra] | numbers[rb]) > 1:
            continue
        group_a, group_b = members[ra], members[rb]
        if count(hard, group_a, group_b):
            continue
        against = count(soft, group_a, group_b)
        if against and count(linked, group_a, group_b) <= against:
            continue
        if len(group_a) < len(group_b):
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra] |= members.pop(rb)
        numbers[ra] |= numbers.pop(rb)
    return {v: find(v) for v in parent}


def guarded_clusters(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    *,
    nhs_codes: np.ndarray,
    cannot_left: np.ndarray,
    cannot_right: np.ndarray,
    cannot_hard: np.ndarray | None = None,
) -> np.ndarray:
    """Cluster label per record (0..k-1, numbered by each cluster's smallest record index).

    ``left, right, weight``: links (record indices; ``weight`` orders them, strongest first
    when a guard forces a choice).  ``nhs_codes``: valid NHS number code per record (-1 =
    none).  ``cannot_left/right``: record pairs that should not share a cluster; hard ones
    (``cannot_hard``, default all) never do, soft ones yield to a majority of direct links.
    """
    if cannot_hard is None:
        cannot_hard = np.ones(cannot_left.size, dtype=bool)
    labels = components(n, left, right)
    bad = _conflicted(labels, nhs_codes, cannot_left, cannot_right)
    if bad.size:
        in_bad = np.isin(labels, bad)
        nodes = np.flatnonzero(in_bad)
        edge_mask = in_bad[left] & in_bad[right]
        cannot_mask = in_bad[cannot_left] & in_bad[cannot_right]
        roots = _rebuild(
            nodes,
            left[edge_mask],
            right[edge_mask],
            weight[edge_mask],
            nhs_codes,
            cannot_left[cannot_mask],
            cannot_right[cannot_mask],
            cannot_hard[cannot_mask],
        )
        root_of = np.fromiter((roots[int(v)] for v in nodes), dtype=np.int64, count=nodes.size)
        # give rebuilt groups labels beyond the existing ones
        labels = labels.copy()
        labels[nodes] = labels.max() + 1 + root_of
    # renumber by smallest member index, so the ids do not depend on scipy's traversal:
    # numbering labels by first appearance in record order is exactly that
    return pd.factorize(labels)[0].astype(np.int64)
