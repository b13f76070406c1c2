"""The safeguarding lead's review queue: uncertain links and the flags held behind them.

A run stores each pending review-band link with a JSON ``detail``:
``{"records": {"l": {field: value}, "r": {...}}, "comparisons": [{"name", "level", "label",
"weight"}], "prior_weight": float}``.  Identifying fields appear only in ``review show``,
to the reviewer; the queue lists sources, organisations and probabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from adapters.store import Store

STATUSES = ("pending", "accepted", "rejected")
_SEVERITY_RANK = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
QUEUE_COLUMNS = (
    "item",
    "status",
    "match_probability",
    "sources",
    "orgs",
    "held_flags",
)


def held_labels(held: pd.DataFrame) -> pd.Series:
    """Per pair_id, the flags held behind it as "RULE:SEVERITY→recipient; ..." (sorted)."""
    label = held["rule"] + ":" + held["severity"] + "→" + held["recipient_type"]
    return label.groupby(held["pair_id"]).agg(lambda s: "; ".join(sorted(set(s))))


def _split_key(key: str) -> tuple[str, str, str]:
    source, org, record_id = key.split(":", 2)
    return source, org, record_id


def review_queue(
    store: Store,
    *,
    status: str = "pending",
    rule: str | None = None,
    org: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The queue, most consequential first: held HIGH flags, then more held flags, then
    the links nearest to certain."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    links = store.review_links(status=status)
    held = store.held()
    if len(held):
        held = held.assign(
            rank=held["severity"].map(_SEVERITY_RANK).fillna(9),
            flag=held["rule"] + held["severity"] + held["recipient_type"],
        )
        per_pair = held.groupby("pair_id").agg(
            best_rank=("rank", "min"),
            held_count=("flag", "nunique"),
            rules=("rule", lambda s: set(s)),
        )
        per_pair["held_flags"] = held_labels(held)
    else:
        per_pair = pd.DataFrame(columns=["held_flags", "best_rank", "held_count", "rules"])
        per_pair.index.name = "pair_id"
    queue = links.merge(per_pair, left_on="pair_id", right_index=True, how="left")
    queue["held_flags"] = queue["held_flags"].fillna("")
    queue["best_rank"] = pd.to_numeric(queue["best_rank"]).fillna(9)
    queue["held_count"] = pd.to_numeric(queue["held_count"]).fillna(0)
    queue["match_probability"] = queue["match_probability"].round(4)
    left = queue["record_key_l"].map(_split_key)
    right = queue["record_key_r"].map(_split_key)
    queue["sources"] = [f"{a[0]}+{b[0]}" for a, b in zip(left, right, strict=True)]
    queue["orgs"] = [f"{a[1]}+{b[1]}" for a, b in zip(left, right, strict=True)]
    if rule is not None:
        queue = queue[queue["rules"].map(lambda r: isinstance(r, set) and rule in r)]
    if org is not None:
        queue = queue[[org in o.split("+") for o in queue["orgs"]]]
    queue = queue.sort_values(
        ["best_rank", "held_count", "match_probability", "pair_id"],
        ascending=[True, False, False, True],
    )
    if limit is not None:
        queue = queue.head(limit)
    return (
        queue.rename(columns={"pair_id": "item"}).loc[:, list(QUEUE_COLUMNS)].reset_index(drop=True)
    )


@dataclass(frozen=True)
class ReviewDetail:
    """One link as a reviewer sees it."""

    item: str
    status: str
    match_probability: float
    match_weight: float
    record_l: dict[str, Any]
    record_r: dict[str, Any]
    comparisons: list[dict[str, Any]]
    prior_weight: float
    held: pd.DataFrame
    history: pd.DataFrame


def review_detail(store: Store, item: str) -> ReviewDetail:
    pair = store.resolve_pair_id(item)
    links = store.review_links()
    row = links[links["pair_id"] == pair].iloc[0]
    detail = json.loads(row["detail"])
    held = store.held()
    return ReviewDetail(
        item=pair,
        status=str(row["status"]),
        match_probability=float(row["match_probability"]),
        match_weight=float(row["match_weight"]),
        record_l=dict(detail.get("records", {}).get("l", {})),
        record_r=dict(detail.get("records", {}).get("r", {})),
        comparisons=list(detail.get("comparisons", [])),
        prior_weight=float(detail.get("prior_weight", 0.0)),
        held=held[held["pair_id"] == pair].drop(columns=["pair_id", "run_id"], errors="ignore"),
        history=store.history(pair=pair),
    )
