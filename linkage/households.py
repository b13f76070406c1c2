"""Households: persons whose current address has the same address key (contract D).

A person's current address (RULES.md) is the address on their current GP registration (the
latest ``registered_on`` if several), else on their most recently dated record.  Older
addresses of a person are keyed (``Households.addresses``) but never put them in a household,
so a mover leaves the old household.  Sensitive persons (any GP record ``sensitive``) are in
no household and their records are left out of address clustering altogether, so their
address cannot link anyone.  Addresses are never logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.errors import ConfigError
from linkage.address import (
    ADDRESS_COLUMNS,
    DEFAULT_MATCH_SETTINGS,
    AddressInputError,
    AddressMatchSettings,
    ParsedAddresses,
    assign_address_keys,
    factorize_sorted,
    parse_addresses,
)

RECORD_COLUMNS: tuple[str, ...] = (
    "record_key",
    "person_ref",
    "source",
    "sensitive",
    "address_date",
    "gp_current",
    *ADDRESS_COLUMNS,
)
PEOPLE_COLUMNS: tuple[str, ...] = (
    "person_ref",
    "household_ref",
    "address_key",
    "communal",
    "no_fixed_abode",
    "sensitive",
)
_REF_HEX_CHARS = 16


CURRENT_COLUMNS = ["record_key", "address_key", "no_fixed_abode"]


@dataclass(frozen=True)
class Households:
    """``people``: one row per person (``PEOPLE_COLUMNS``), sorted by ``person_ref``.

    ``addresses``: ``record_key, address_key`` for every non-sensitive record with a usable
    address, sorted by ``record_key``.  ``current``: ``record_key, address_key,
    no_fixed_abode`` for every person's current record (address_key NA when unusable).
    ``parsed``: tonight's address parse, to spare tomorrow's (``None`` when nothing was
    parsed: every key was reused from ``known``).  ``person_rows``: for each input record
    (in input order), its person's row in ``people``, so callers need not match the refs
    again.
    """

    people: pd.DataFrame
    addresses: pd.DataFrame
    current: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["record_key", "address_key", "no_fixed_abode"]
        )
    )
    parsed: ParsedAddresses | None = None
    person_rows: np.ndarray | None = None


@dataclass(frozen=True)
class HouseholdScores:
    """Pairwise "same household" accuracy over persons (pairs counted, never enumerated)."""

    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    merged_flat_pairs: int


def household_refs(
    address_keys: pd.Series, *, key: bytes, known: pd.Series | None = None
) -> pd.Series:
    """``H`` + the first 16 hex digits of HMAC-SHA256(key, address_key); NA stays NA.

    ``known``: address_key → household_ref already computed with this ``key`` (last night's,
    or tonight's for the held-flag pass); only the keys it lacks are hashed."""
    codes, distinct = pd.factorize(address_keys, sort=False)
    refs = _distinct_refs(np.asarray(distinct, dtype=object), key=key, known=known)
    out = np.full(len(codes), None, dtype=object)
    hit = codes >= 0
    out[hit] = refs[codes[hit]]
    return pd.Series(out, index=address_keys.index, dtype="string")


def _distinct_refs(uniques: np.ndarray, *, key: bytes, known: pd.Series | None) -> np.ndarray:
    """``household_refs`` of distinct address keys (an object array of ``str``)."""
    refs = np.empty(len(uniques), dtype=object)
    todo = np.arange(len(uniques))
    if known is not None and len(known) and len(uniques):
        found = pd.Index(known.index).get_indexer(uniques)
        refs[found >= 0] = np.asarray(known.to_numpy(dtype=object))[found[found >= 0]]
        todo = np.flatnonzero(found < 0)
    # One HMAC per distinct address key (there is no vectorised HMAC): RFC 2104 on two
    # SHA-256 states keyed once and copied per key, the same bytes as hmac.new(key, text,
    # sha256) at half the cost of copying hmac's Python wrapper.
    inner, outer = _hmac_states(key)
    made = []
    for text in uniques[todo].tolist():
        step = inner.copy()
        step.update(str(text).encode("utf-8"))
        mac = outer.copy()
        mac.update(step.digest())
        made.append("H" + mac.hexdigest()[:_REF_HEX_CHARS])
    refs[todo] = made
    return refs


def _hmac_states(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's inner and outer hash states after the padded key (RFC 2104)."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    return inner, outer


#: an address key no address can have: its ref tells whether a saved map was made with
#: the same pseudonym key, without keeping the key or any digest of it beside the map
_PROBE_KEY = "\x00dalink household ref probe"


def ref_map(households: Households) -> pd.Series:
    """address_key → household_ref of every household (for ``known`` refs)."""
    people = households.people.loc[households.people["address_key"].notna()]
    people = people.drop_duplicates("address_key")
    return pd.Series(
        people["household_ref"].to_numpy(dtype=object),
        index=pd.Index(people["address_key"].to_numpy(dtype=object)),
    )


def refs_to_bytes(refs: pd.Series, *, key: bytes) -> bytes:
    """One night's address_key → household_ref map, for the next night (Parquet)."""
    probe = household_refs(pd.Series([_PROBE_KEY]), key=key).iloc[0]
    table = pa.table(
        {
            "address_key": pa.array(refs.index.to_numpy(dtype=object), pa.string()),
            "household_ref": pa.array(refs.to_numpy(dtype=object), pa.string()),
        }
    ).replace_schema_metadata({"probe": str(probe)})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def refs_from_bytes(blob: bytes, *, key: bytes) -> pd.Series | None:
    """The saved map, or ``None`` when unreadable or made with another pseudonym key."""
    try:
        table = pq.read_table(io.BytesIO(blob))
    except (pa.ArrowException, OSError):
        return None
    probe = household_refs(pd.Series([_PROBE_KEY]), key=key).iloc[0]
    metadata = table.schema.metadata or {}
    if metadata.get(b"probe", b"").decode() != probe or table.column_names != [
        "address_key",
        "household_ref",
    ]:
        return None
    return pd.Series(
        table.column("household_ref").to_numpy(zero_copy_only=False).astype(object),
        index=pd.Index(table.column("address_key").to_numpy(zero_copy_only=False).astype(object)),
    )


def _as_datetime(values: pd.Series) -> pd.Series:
    """``pd.to_datetime``, skipped for a column that already holds datetimes (its cache
    heuristic walks the first rows as Python Timestamps even then)."""
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values
    return pd.to_datetime(values)


def _as_of_end(as_of: dt.date | dt.datetime | pd.Timestamp | str) -> pd.Timestamp:
    try:
        day = pd.Timestamp(as_of).normalize()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"as_of {as_of!r} is not a date; give YYYY-MM-DD.") from exc
    return day + pd.Timedelta(days=1)


def _text_array(column: pd.Series) -> np.ndarray:
    """A text column as an object array (NA where missing), read in place for a ``string``
    column: factorizing it then skips the copy ``StringArray.factorize`` makes to mark NA."""
    if isinstance(column.dtype, pd.StringDtype):
        return np.asarray(column.array)
    return np.asarray(column.astype("string").array)


def _has_text(frame: pd.DataFrame, columns: tuple[str, ...], rows: np.ndarray) -> np.ndarray:
    """For the positions ``rows`` of ``frame``: whether any of ``columns`` holds more than
    blanks there.

    Each column is tested once per distinct value, and only on the rows no earlier column
    settled (most rows are settled by the first).
    """
    found = np.zeros(len(rows), dtype=bool)
    for column in columns:  # a loop over a few columns, not over records
        open_rows = np.flatnonzero(~found)
        if not open_rows.size:
            break
        codes, distinct = pd.factorize(_text_array(frame[column])[rows[open_rows]])
        filled = np.fromiter(
            (bool(value.strip()) for value in distinct.tolist()), dtype=bool, count=len(distinct)
        )
        found[open_rows] = np.append(filled, False)[codes]
    return found


def lexsort_packed(keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """``np.lexsort(keys)`` (stable, the last key primary) for integer or bool keys.

    When the keys' ranges multiply to less than 2**62 they are packed into one int64 and
    sorted by one stable argsort, which orders rows exactly as lexsort does at a fraction of
    its cost; otherwise lexsort itself.
    """
    if not len(keys[0]):
        return np.empty(0, dtype=np.intp)
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    span = 1
    for key in reversed(keys):  # a loop over a few keys, primary first
        low, high = int(key.min()), int(key.max())
        width = high - low + 1
        span *= width
        if span >= 2**62:
            return np.lexsort(keys)
        packed = packed * width + (key.astype(np.int64) - low)
    return np.argsort(packed, kind="stable")


def newest_first(dates: pd.Series) -> np.ndarray:
    """An integer per date that sorts the latest first (undated as 1970-01-01), counted in
    the dates' greatest common step (a day, a minute...): the same order as the raw ticks,
    in a range ``lexsort_packed`` can pack."""
    ticks = -dates.fillna(pd.Timestamp(0)).to_numpy().astype("int64")
    step = int(np.gcd.reduce(ticks)) if len(ticks) else 0
    if step > 1:
        ticks //= step
    return ticks


def _current_rows(
    person_code: np.ndarray,
    not_current: np.ndarray,
    undated: np.ndarray,
    neg_date: np.ndarray,
    record_key: np.ndarray,
) -> np.ndarray:
    """Ascending positions of each person's first row in the order ``not_current, undated,
    neg_date, record_key`` (ties: the earlier position); persons given as integer codes.

    An integer sort does the work; record keys are string-compared only between a
    person's rows that tie on all three other keys (rare), not sorted for every record.
    """
    if not len(person_code):
        return np.empty(0, dtype=np.intp)
    order = lexsort_packed((neg_date, undated, not_current, person_code))
    code, not_current = person_code[order], not_current[order]
    undated, neg_date = undated[order], neg_date[order]
    same_person = code[1:] == code[:-1]
    tied = same_person & (not_current[1:] == not_current[:-1])
    tied &= (undated[1:] == undated[:-1]) & (neg_date[1:] == neg_date[:-1])
    run_start = np.r_[True, ~tied]
    run = np.cumsum(run_start) - 1
    # A person's candidates: the run of rows tied with its first row in that order.
    best = np.r_[True, ~same_person][run_start][run]
    single = best & (np.bincount(run)[run] == 1)
    picked = [order[single]]
    several = best & ~single
    if several.any():
        ties = pd.DataFrame(
            {"code": code[several], "key": record_key[order[several]], "row": order[several]}
        )
        ties = ties.sort_values("key", kind="stable").drop_duplicates("code")
        picked.append(ties["row"].to_numpy())
    return np.sort(np.concatenate(picked))


def _no_person_ref() -> AddressInputError:
    return AddressInputError(
        "build_households: some records have no person_ref; run person linkage first."
    )


def build_households(
    records: pd.DataFrame,
    *,
    as_of: dt.date | dt.datetime | pd.Timestamp | str,
    key: bytes,
    max_persons: int = 10,
    settings: AddressMatchSettings = DEFAULT_MATCH_SETTINGS,
    known: Households | None = None,
    parse_cache: ParsedAddresses | None = None,
    known_refs: pd.Series | None = None,
) -> Households:
    """Group persons by the address key of their current address (contract D).

    ``records``: contract B plus ``person_ref``.  A household of more than ``max_persons``
    persons is ``communal`` (still reported; the household rules skip it).  No fixed abode
    (``ZZ99`` postcode, ``NFA`` text) or no usable current address → no household.

    ``known``: the households built tonight from the same records under another grouping
    into persons (the held-flag pass regroups them with pending links accepted).  A merged
    person's current record is the best of its parts' current records, so every current
    record is one ``known`` already keyed: its key is reused and nothing is parsed.  Should
    a current record be new to ``known``, all are parsed and keyed as usual.

    ``parse_cache``: last night's ``Households.parsed``; raw addresses it holds are not
    parsed again (the result is the same, see ``linkage.address.parse_addresses``).
    ``known_refs``: address_key → household_ref made with this ``key`` (last night's, see
    ``refs_from_bytes``): those keys are not hashed again (the refs are the same).
    """
    missing = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise AddressInputError(
            f"build_households needs columns {', '.join(missing)}: pass contract B person "
            "records with person_ref from linkage."
        )
    if not isinstance(key, bytes) or not key:
        raise ConfigError("build_households needs a non-empty bytes key for household_ref.")
    if isinstance(max_persons, bool) or not isinstance(max_persons, int) or max_persons < 1:
        raise ConfigError(f"max_persons must be a positive integer, got {max_persons!r}.")
    # Persons as codes, in person_ref order (the order of Households.people).  A string
    # column is factorized in place, where a missing ref is code -1 (no separate NA pass).
    person_ref = records["person_ref"]
    in_place = isinstance(person_ref.dtype, pd.StringDtype)
    if not in_place and person_ref.isna().any():
        raise _no_person_ref()
    code, refs = factorize_sorted(
        np.asarray(person_ref.array) if in_place else person_ref.astype(str).to_numpy(dtype=object)
    )
    if (code < 0).any():
        raise _no_person_ref()
    cutoff = _as_of_end(as_of)
    is_gp = records["source"].astype(str).to_numpy(dtype=object) == "gp"
    flagged = is_gp & records["sensitive"].fillna(False).to_numpy(dtype=bool)
    sensitive_person = np.zeros(len(refs), dtype=bool)
    sensitive_person[code[flagged]] = True
    sensitive = sensitive_person[code]

    # Current address first, from raw columns: among records that carry any address
    # information and are dated on or before as_of (undated ones last), the current GP
    # registration first, then the latest address_date, then the smallest record_key.
    # Only those addresses are parsed and keyed: old addresses never place anyone, and
    # parsing is most of the cost.  Records are addressed by position (``kept``), not
    # copied into a frame of the rows kept.
    kept = np.flatnonzero(~sensitive)
    has_info = _has_text(records, ("address_1", "address_2", "postcode", "uprn"), kept)
    date = _as_datetime(records["address_date"])
    undated = date.isna().to_numpy()[kept]
    eligible = np.flatnonzero(has_info & (undated | (date < cutoff).to_numpy()[kept]))
    candidates = kept[eligible]
    current_gp = records["gp_current"].fillna(False).to_numpy(dtype=bool)[candidates]
    record_key = records["record_key"].astype(str).to_numpy(dtype=object)
    picked = candidates[
        _current_rows(
            code[candidates],
            ~(current_gp & is_gp[candidates]),
            undated[eligible],
            newest_first(date)[candidates],
            record_key[candidates],
        )
    ]
    chosen = pd.DataFrame(
        {column: records[column].array.take(picked) for column in ADDRESS_COLUMNS},
        index=records.index[picked],
    )
    chosen_keys = record_key[picked]
    reuse = None
    if known is not None and len(known.current):
        reuse = known.current.set_index(known.current["record_key"].astype(str)).reindex(
            chosen_keys
        )
        if reuse["record_key"].isna().any():
            reuse = None
    parsed = None
    # Address keys as integer codes into ``key_text`` (-1: no key) from here on: strings
    # are factorized once, not again for every group-by and merge.
    if reuse is not None:
        key_code, distinct_text = pd.factorize(reuse["address_key"])
        no_fixed = reuse["no_fixed_abode"].to_numpy(dtype=bool)
    else:
        # Each distinct raw address is parsed and keyed once, weighted by its records.
        parse = parse_addresses(chosen, previous=parse_cache)
        weights = np.bincount(parse.codes, minlength=len(parse.standard))
        distinct_key = assign_address_keys(parse.standard, settings=settings, weights=weights)
        distinct_code, distinct_text = pd.factorize(distinct_key)
        key_code = distinct_code[parse.codes]
        no_fixed = parse.standard["no_fixed_abode"].to_numpy(dtype=bool)[parse.codes]
        parsed = parse.cache
    key_text = pd.array(np.asarray(distinct_text, dtype=object), dtype="string")
    address_key = key_text.take(key_code, allow_fill=True)
    current_records = pd.DataFrame(
        {"record_key": chosen_keys, "address_key": address_key, "no_fixed_abode": no_fixed}
    )
    keyed = key_code >= 0
    addresses = (
        pd.DataFrame(
            {
                "record_key": chosen_keys[keyed],
                "address_key": np.asarray(address_key[keyed], dtype=object),
            }
        )
        .sort_values("record_key", kind="stable")
        .reset_index(drop=True)
    )

    # Each chosen record is one person's: placed by person code, not merged by person_ref.
    chosen_person = code[picked]
    no_fixed_abode = np.zeros(len(refs), dtype=bool)
    no_fixed_abode[chosen_person] = no_fixed
    person_key = np.full(len(refs), -1, dtype=np.intp)
    person_key[chosen_person] = key_code
    person_key[sensitive_person] = -1
    housed = person_key >= 0
    # Persons per key, and 0 at the end for persons without one (code -1).
    sizes = np.append(np.bincount(person_key[housed], minlength=len(key_text)), 0)
    if known is not None:
        known_refs = ref_map(known)
    # key_text is distinct already: hashed (or looked up) as it is, not factorized again.
    household_ref = pd.array(
        _distinct_refs(np.asarray(key_text, dtype=object), key=key, known=known_refs),
        dtype="string",
    )
    people = pd.DataFrame(
        {
            "person_ref": pd.array(refs, dtype="string"),
            "household_ref": household_ref.take(person_key, allow_fill=True),
            "address_key": key_text.take(person_key, allow_fill=True),
            "communal": sizes[person_key] > max_persons,
            "no_fixed_abode": no_fixed_abode,
            "sensitive": sensitive_person,
        }
    )
    return Households(
        people=people,
        addresses=addresses,
        current=current_records,
        parsed=parsed,
        person_rows=code,
    )


def _pair_count(sizes: pd.Series | np.ndarray) -> int:
    n = np.asarray(sizes, dtype=np.int64)
    return int((n * (n - 1) // 2).sum())


def household_pairwise_scores(people: pd.DataFrame, truth: pd.DataFrame) -> HouseholdScores:
    """Precision / recall / F1 of "same household" over person pairs, plus merged flats.

    ``people``: ``person_ref, household_ref`` (``Households.people``).  ``truth``:
    ``person_ref, household`` (NA = in no household) and optionally ``flat`` (the true flat
    identifier, NA when none).  ``merged_flat_pairs`` counts pairs predicted in one household
    whose true households differ and whose true flats are both known and different.
    """
    for frame, columns, name in (
        (people, ("person_ref", "household_ref"), "people"),
        (truth, ("person_ref", "household"), "truth"),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise AddressInputError(f"household_pairwise_scores: {name} lacks {missing}.")
    truth_cols = ["person_ref", "household"] + (["flat"] if "flat" in truth.columns else [])
    both = people[["person_ref", "household_ref"]].merge(
        truth[truth_cols], on="person_ref", how="inner"
    )
    pred = both["household_ref"].astype("string")
    true = both["household"].astype("string")
    flat = (
        both["flat"].astype("string")
        if "flat" in both.columns
        else pd.Series(pd.NA, index=both.index, dtype="string")
    )
    frame = pd.DataFrame({"p": pred, "t": true, "f": flat})

    predicted_pairs = _pair_count(frame.groupby("p").size())
    true_pairs = _pair_count(frame.groupby("t").size())
    correct = _pair_count(frame.groupby(["p", "t"]).size())

    # Pairs in one predicted household with both flats known: minus same-truth, minus
    # same-flat, plus those counted twice (same truth and same flat).
    known = frame[frame["p"].notna() & frame["f"].notna()]
    all_known = _pair_count(known.groupby("p").size())
    same_truth = _pair_count(known.groupby(["p", "t"]).size())
    same_flat = _pair_count(known.groupby(["p", "f"]).size())
    same_both = _pair_count(known.groupby(["p", "t", "f"]).size())
    merged_flats = all_known - same_truth - same_flat + same_both

    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return HouseholdScores(
        precision=precision,
        recall=recall,
        f1=f1,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        correct_pairs=correct,
        merged_flat_pairs=merged_flats,
    )
