"""What one night's linkage leaves for the next: the trained model, a content hash per
record and the scored pairs near or above the review threshold.

A CCG extract changes by about 1% a night. Re-training the model and re-comparing tens of
millions of candidate pairs whose two records did not change gives, to within term-frequency
drift, the answer the last night gave. So, as Splink users do with a saved model
(``linker.misc.save_model_to_json``), the model is trained on the first night and then
reused, and only the candidate pairs that touch a new or changed record are compared again;
an unchanged pair takes its comparison levels from the cache.

Exactness: a pair's comparison levels depend on its two records only, so a cached pair's
levels are exactly what a comparison would give. Its weight is recomputed every night with
that night's term frequencies. A pair below the cache floor last night (``cache_margin``
bits under the review threshold) is assumed still below the review threshold; a pair's
term-frequency weight moves by a fraction of a bit when 1% of records change, so the
margin of several bits covers it. Candidate pairs that can matter to a guard (both records
in one possible cluster) are always compared afresh.

A warm night never lists the candidate pairs whole (tens of millions at scale): two records
are a candidate pair of a rule exactly when they share the rule's key, so the pairs touching
a changed record, the cached and decided pairs that are still candidates and the pairs
inside one possible cluster are found from each rule's key per record
(``linkage.blocking.RuleKeys``).

The model is retrained (a cold night) when there is no state, when the settings changed,
when more than ``retrain_changed_fraction`` of records are new or changed, or after
``retrain_after_nights`` nights of reuse.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from adapters.errors import ConfigError
from linkage.comparisons import COMPARISONS
from linkage.model import ModelParameters
from linkage.settings import LinkageSettings
from linkage.standardise import ValueMemo

#: state layout version; a state of another version is ignored (the night trains afresh).
#: 2: record hashes are built from per-value hashes (``record_hashes``)
STATE_VERSION = 2
_HASH_SEED = 0x345678
_HASH_MULTIPLIER = 1_000_003
_MISSING_HASH = 0x9E3779B97F4A7C15
#: settings that change how often the model is retrained, not what a pair scores
_REUSE_KNOBS = frozenset({"retrain_after_nights", "retrain_changed_fraction", "chunk_pairs"})


def settings_fingerprint(settings: LinkageSettings) -> str:
    """A digest of every setting that shapes a pair's score or band."""
    shaping = {f.name: repr(getattr(settings, f.name)) for f in fields(settings)}
    for name in _REUSE_KNOBS:
        shaping.pop(name, None)
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()


def record_hashes(
    std: pd.DataFrame, coded: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
) -> np.ndarray:
    """A 64-bit content hash per standardised record (everything but its key): two nights
    give the same hash exactly when every field linkage reads is the same.

    A string column's distinct values are hashed once and gathered by code (hashing 100k
    pandas strings per column costs far more), a date or integer column is mixed as
    integers; ``coded``: string columns as ``(codes, uniques)`` when the caller has them
    already (``standardise_coded``)."""
    coded = coded or {}
    total = np.full(len(std), _HASH_SEED, dtype=np.uint64)
    for number, column in enumerate(c for c in std.columns if c != "record_key"):
        values = std[column]
        if column not in coded and (
            pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_integer_dtype(values)
        ):
            missing = values.isna().to_numpy()
            if pd.api.types.is_datetime64_any_dtype(values):
                integers = values.to_numpy(dtype="datetime64[ns]").view(np.int64)
            else:
                integers = values.to_numpy(dtype=np.int64, na_value=0)
            value_hash = _mix(integers.astype(np.uint64))
            value_hash[missing] = np.uint64(_MISSING_HASH)
        else:
            if column in coded:
                codes, uniques = coded[column]
            else:
                codes, distinct = pd.factorize(values, use_na_sentinel=True)
                uniques = np.asarray(distinct, dtype=object)
            per_value = pd.util.hash_array(np.asarray(uniques, dtype=object))
            value_hash = np.append(per_value, np.uint64(_MISSING_HASH)).astype(np.uint64)[codes]
        total ^= value_hash  # a missing value (code -1) took the trailing constant
        total *= np.uint64(_HASH_MULTIPLIER)
        total += np.uint64(number + 1)
    return total


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads integers (days, years) over all 64 bits."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class LinkageState:
    """``keys`` / ``hashes``: every record of the night, in key order, and its content hash.
    ``pair_left`` / ``pair_right`` index ``keys``; ``pair_gammas`` holds, per comparison, the
    level of each cached pair. ``trained_run``: the night whose model this is (``None`` =
    this night's); ``nights_reused``: nights scored with it since.  ``memo``: the night's
    standardised values by raw value (``linkage.standardise.ValueMemo``; ``None`` when
    absent or unusable, then the next night standardises every value afresh)."""

    model: ModelParameters
    fingerprint: str
    keys: np.ndarray
    hashes: np.ndarray
    pair_left: np.ndarray
    pair_right: np.ndarray
    pair_gammas: dict[str, np.ndarray]
    nights_reused: int = 0
    memo: ValueMemo | None = None

    def to_bytes(self) -> bytes:
        meta = {
            "version": STATE_VERSION,
            "fingerprint": self.fingerprint,
            "nights_reused": self.nights_reused,
            "model": _model_json(self.model),
        }
        arrays: dict[str, np.ndarray] = {
            "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            "keys": np.frombuffer("\n".join(map(str, self.keys)).encode(), dtype=np.uint8),
            "hashes": self.hashes,
            "pair_left": self.pair_left.astype(np.int32),
            "pair_right": self.pair_right.astype(np.int32),
        }
        for name, g in self.pair_gammas.items():
            arrays[f"gamma_{name}"] = g.astype(np.int8)
        if self.memo is not None:
            # versioned on its own: a state without it (or with a stale one) still loads
            arrays["memo"] = np.frombuffer(self.memo.to_bytes(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LinkageState | None:
        """The state, or ``None`` when it is of another layout version."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode())
            if meta.get("version") != STATE_VERSION:
                return None
            text = data["keys"].tobytes().decode()
            model = _model_from_json(meta["model"])
            return cls(
                model=model,
                fingerprint=str(meta["fingerprint"]),
                keys=np.array(text.split("\n") if text else [], dtype=object),
                hashes=data["hashes"],
                pair_left=data["pair_left"],
                pair_right=data["pair_right"],
                pair_gammas={name: data[f"gamma_{name}"] for name in model.names},
                nights_reused=int(meta["nights_reused"]),
                memo=ValueMemo.from_bytes(data["memo"].tobytes()) if "memo" in data else None,
            )


def _model_json(model: ModelParameters) -> dict[str, object]:
    return {
        "names": list(model.names),
        "m": {k: v.tolist() for k, v in model.m.items()},
        "u": {k: v.tolist() for k, v in model.u.items()},
        "prior": model.prior,
        "iterations": model.iterations,
        "converged": model.converged,
        "u_sample_pairs": model.u_sample_pairs,
    }


def _model_from_json(data: dict[str, object]) -> ModelParameters:
    try:
        m = data["m"]
        u = data["u"]
        assert isinstance(m, dict) and isinstance(u, dict)
        return ModelParameters(
            names=tuple(str(n) for n in data["names"]),  # type: ignore[attr-defined]
            m={str(k): np.asarray(v, dtype=float) for k, v in m.items()},
            u={str(k): np.asarray(v, dtype=float) for k, v in u.items()},
            prior=float(data["prior"]),  # type: ignore[arg-type]
            iterations=int(data["iterations"]),  # type: ignore[call-overload]
            converged=bool(data["converged"]),
            u_sample_pairs=int(data["u_sample_pairs"]),  # type: ignore[call-overload]
        )
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise ConfigError(f"the stored linkage model is unreadable ({exc}); retrain") from exc


@dataclass(frozen=True)
class Reuse:
    """What a warm night takes from the last: the model, and per record (in key order)
    whether it is new or changed; the cached pair levels come from ``cached_pairs``.
    ``tonight``: for each of last night's records (in its key order), its index tonight
    (-1 = gone)."""

    model: ModelParameters
    changed: np.ndarray
    nights_reused: int
    tonight: np.ndarray

    @property
    def changed_count(self) -> int:
        return int(self.changed.sum())


def plan_reuse(
    state: LinkageState | None,
    settings: LinkageSettings,
    keys: np.ndarray,
    hashes: np.ndarray,
) -> tuple[Reuse | None, str]:
    """Whether tonight may reuse ``state``; returns ``(reuse or None, reason)``."""
    if state is None:
        return None, "no earlier linkage state"
    if state.fingerprint != settings_fingerprint(settings):
        return None, "linkage settings changed"
    if tuple(state.model.names) != tuple(settings.comparisons):
        return None, "comparisons changed"
    if any(len(state.model.m[n]) != COMPARISONS[n].n_levels for n in state.model.names):
        return None, "comparison levels changed (a new dalink version)"
    if state.nights_reused + 1 > settings.retrain_after_nights:
        return None, f"model reused for {state.nights_reused} nights"
    position = pd.Index(state.keys).get_indexer(pd.Index(keys))
    known = position >= 0
    same = np.zeros(len(keys), dtype=bool)
    same[known] = state.hashes[position[known]] == hashes[known]
    changed = ~same
    fraction = float(changed.mean()) if len(keys) else 1.0
    if fraction > settings.retrain_changed_fraction:
        return None, f"{fraction:.1%} of records new or changed"
    # keys are unique on both nights, so the reverse mapping needs no second hash join
    tonight = np.full(len(state.keys), -1, dtype=np.int64)
    tonight[position[known]] = np.flatnonzero(known)
    reuse = Reuse(
        model=state.model,
        changed=changed,
        nights_reused=state.nights_reused + 1,
        tonight=tonight,
    )
    return reuse, (
        f"model reused ({state.nights_reused + 1} nights); {int(changed.sum())} records new "
        "or changed"
    )


def cached_pairs(state: LinkageState, tonight: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Last night's cached pairs whose two records are still here, as tonight's pair codes
    (``left * n + right``, sorted) and their rows in ``state.pair_gammas``.  ``tonight``:
    ``Reuse.tonight``, each of last night's records' index tonight (-1 = gone)."""
    now = tonight.astype(np.int64)
    left, right = now[state.pair_left], now[state.pair_right]
    rows = np.flatnonzero((left >= 0) & (right >= 0))
    width = np.int64(max(n, 1))
    codes = np.minimum(left[rows], right[rows]) * width + np.maximum(left[rows], right[rows])
    order = np.argsort(codes, kind="stable")
    return codes[order], rows[order]
