"""Blocking: candidate record pairs from several rules, unioned, each a vectorised self-join.

A rule's pairs are generated group by group in numpy (no Python loop over records): sort
the records by the rule's key, and for each record emit the records after it in its group.
Keys shared by more than ``max_block_size`` records are skipped and reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkage.settings import BlockingRule


@dataclass(frozen=True)
class CandidatePairs:
    """Record-index pairs (``left < right``, sorted) and the number of the first rule that
    found each (int8)."""

    left: np.ndarray
    right: np.ndarray
    rule: np.ndarray
    report: pd.DataFrame


ColumnCodes = Callable[[str], np.ndarray]
#: ``rule_keys`` lists a rule's pairs to count its new ones while it has at most this many
#: per record; past that it counts them from the pairs it shares with earlier rules
_LIST_PAIRS_PER_RECORD = 4
#: ``RuleKeys.pairs_sharing`` lists every pair within the labels' groups while they hold at
#: most this many per record; past that it groups each rule's keys
_GROUP_PAIRS_PER_RECORD = 4
#: ``key_codes`` combines columns' codes by multiplying out while they stay below this
_COMBINED_LIMIT = 1 << 62


def _factorized(frame: pd.DataFrame) -> ColumnCodes:
    return lambda column: pd.factorize(frame[column], use_na_sentinel=True)[0]


def key_codes(
    frame: pd.DataFrame, columns: tuple[str, ...], *, column_codes: ColumnCodes | None = None
) -> np.ndarray:
    """One int64 code per row for the combination of ``columns``; -1 when any is missing.
    ``column_codes``: a column's values as codes (-1 = missing), when the caller has them
    already (factorizing string columns is most of the cost)."""
    codes_of = column_codes or _factorized(frame)
    codes = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    bound = 1  # every combined code so far is below this
    for column in columns:
        col_codes = codes_of(column)
        missing |= col_codes < 0
        base = int(col_codes.max(initial=-1)) + 2
        if bound * base >= _COMBINED_LIMIT:
            # keep the combined code small so that several columns never overflow int64
            codes = pd.factorize(codes)[0].astype(np.int64)
            bound = int(codes.max(initial=0)) + 1
        codes = codes * base + col_codes + 1
        bound *= base
    # numbered by first appearance, as factorizing after every column numbers them (the
    # numbering of the distinct combinations does not depend on the codes in between)
    codes = pd.factorize(codes)[0].astype(np.int64)
    codes[missing] = -1
    return codes


def _index_dtype(size: int) -> type[np.signedinteger]:
    """int32 when it can hold every index: pair arrays are the engine's biggest (50M at 1M
    persons), so halving them matters."""
    return np.int32 if size < np.iinfo(np.int32).max else np.int64


def distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of a 1-d integer array (sorted distinct values), by sort and mask:
    numpy 2.4's ``np.unique`` hashes integers first, about ten times slower on the pair
    codes the engine handles (1M codes: 0.85 s against 0.07 s)."""
    ordered = np.sort(values)
    if ordered.size < 2:
        return ordered
    first = np.empty(ordered.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def pairs_within_groups(
    codes: np.ndarray, *, max_group: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All index pairs ``(i, j)``, ``i < j``, of rows sharing a code (code -1 = no group).

    Returns ``(left, right, skipped_sizes)``, sorted by ``(left, right)``; groups larger
    than ``max_group`` are skipped and their sizes returned so the caller can report them.
    ``left``/``right`` are int32 (int64 only for more than 2**31 rows or pairs).
    """
    dtype = _index_dtype(codes.size)
    idx = np.flatnonzero(codes >= 0)
    if idx.size < 2:
        empty = np.empty(0, dtype=dtype)
        return empty, empty, np.empty(0, dtype=np.int64)
    order = idx[np.argsort(codes[idx], kind="stable")].astype(dtype)
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, sorted_codes.size])
    skipped = sizes[sizes > max_group] if max_group is not None else sizes[:0]
    keep_group = sizes >= 2
    if max_group is not None:
        keep_group &= sizes <= max_group
    group_of = np.repeat(np.arange(sizes.size), sizes)
    rank = np.arange(sorted_codes.size) - starts[group_of]
    partners = np.where(keep_group[group_of], sizes[group_of] - 1 - rank, 0)
    total = int(partners.sum())
    if total == 0:
        empty = np.empty(0, dtype=dtype)
        return empty, empty, skipped
    pair_dtype = _index_dtype(max(total, sorted_codes.size))
    # emit the pairs record by record (not group by group), so that they come out sorted by
    # (left, right): within a group the sorted positions follow record order (stable sort),
    # and a record's partners are the positions after it.  ``block`` then merges sorted runs
    # instead of sorting every pair code from scratch.
    position_of = np.empty(codes.size, dtype=np.int64)
    position_of[order] = np.arange(order.size)
    positions = position_of[idx]  # each record's sorted position, in record order
    counts = partners[positions]
    first_out = np.cumsum(counts) - counts
    # pair k of the record at sorted position p has partner p + 1 + (k - first pair of it)
    shift = (positions + 1 - first_out).astype(pair_dtype)
    right_pos = np.arange(total, dtype=pair_dtype)
    right_pos += np.repeat(shift, counts)
    left = np.repeat(idx.astype(dtype), counts)
    right = order[right_pos]
    return left, right, skipped


def block(
    std: pd.DataFrame,
    rules: tuple[BlockingRule, ...],
    *,
    max_block_size: int,
    column_codes: ColumnCodes | None = None,
) -> CandidatePairs:
    """Union the candidate pairs of every rule; the report has one row per rule.

    Pairs come out sorted by ``(left, right)``; indices are int32 and the rule number int8,
    so 50M candidate pairs take under 0.5 GB."""
    n = len(std)
    width = np.int64(max(n, 1))
    n_rules = np.int64(max(len(rules), 1))
    tagged: list[np.ndarray] = []
    rows = []
    for number, rule in enumerate(rules):
        codes = key_codes(std, rule.columns, column_codes=column_codes)
        left, right, skipped = pairs_within_groups(codes, max_group=max_block_size)
        # one int64 per pair: the pair code with the rule number in its lowest "digit", so
        # an in-place sort puts each pair's earliest rule first (no argsort, no copies);
        # the rule's pairs come sorted, so these codes are one sorted run
        pair_code = left.astype(np.int64)
        del left
        pair_code *= width
        pair_code += right
        del right
        pair_code *= n_rules
        pair_code += number
        tagged.append(pair_code)
        rows.append(
            {
                "rule": rule.name,
                "candidate_pairs": int(pair_code.size),
                "keys_skipped": int(skipped.size),
                "records_in_skipped_keys": int(skipped.sum()),
            }
        )
    all_tagged = np.concatenate(tagged) if tagged else np.empty(0, np.int64)
    tagged.clear()
    # each rule's pair codes are sorted already: a stable sort (timsort) merges the runs
    all_tagged.sort(kind="stable")
    rule_of = (all_tagged % n_rules).astype(np.int8)
    all_tagged //= n_rules  # in place: now the pair codes, sorted
    first = np.ones(all_tagged.size, dtype=bool)
    np.not_equal(all_tagged[1:], all_tagged[:-1], out=first[1:])
    unique_codes = all_tagged[first]
    first_rule = rule_of[first]
    del all_tagged, rule_of, first
    report = pd.DataFrame(rows)
    report["new_pairs"] = np.bincount(first_rule, minlength=len(rules)).astype(np.int64)
    dtype = _index_dtype(n)
    return CandidatePairs(
        left=(unique_codes // width).astype(dtype),
        right=(unique_codes % width).astype(dtype),
        rule=first_rule,
        report=report,
    )


def pair_completeness(
    std: pd.DataFrame,
    candidates: CandidatePairs,
    rules: tuple[BlockingRule, ...],
    person_id: pd.Series,
    *,
    max_block_size: int,
) -> pd.DataFrame:
    """Share of true pairs (same ``person_id``, aligned with ``std``) each rule finds.

    Adds ``true_pairs_found`` and ``pair_completeness`` per rule, and a final ``(union)``
    row for the candidate pairs as a whole.  For evaluation only: the engine never sees truth.
    """
    n = len(std)
    truth_codes = pd.factorize(person_id.reset_index(drop=True), use_na_sentinel=True)[0]
    t_left, t_right, _ = pairs_within_groups(truth_codes.astype(np.int64))
    true_codes = np.sort(t_left.astype(np.int64) * n + t_right)
    found_per_rule = []
    for rule in rules:
        codes = key_codes(std, rule.columns)
        sizes = np.bincount(codes[codes >= 0], minlength=1)
        in_block = (codes[t_left] >= 0) & (sizes[np.maximum(codes[t_left], 0)] <= max_block_size)
        same = (codes[t_left] == codes[t_right]) & in_block
        found_per_rule.append(int(same.sum()))
    cand_codes = candidates.left.astype(np.int64) * n + candidates.right
    union_found = int(np.isin(true_codes, cand_codes).sum())
    report = candidates.report.copy()
    report["true_pairs_found"] = found_per_rule
    total = max(true_codes.size, 1)
    report["pair_completeness"] = report["true_pairs_found"] / total
    union = pd.DataFrame(
        [
            {
                "rule": "(union)",
                "candidate_pairs": int(candidates.left.size),
                "keys_skipped": int(report["keys_skipped"].sum()),
                "records_in_skipped_keys": int(report["records_in_skipped_keys"].sum()),
                "new_pairs": int(candidates.left.size),
                "true_pairs_found": union_found,
                "pair_completeness": union_found / total,
            }
        ]
    )
    return pd.concat([report, union], ignore_index=True)


@dataclass(frozen=True)
class RuleKeys:
    """Each rule's key per record, for a night that compares only some candidate pairs:
    ``codes[r][i]`` is record ``i``'s key code under rule ``r``, or -1 when it has none or
    its key is shared by more than ``max_block_size`` records (skipped).  Two records are
    a candidate pair of rule ``r`` exactly when they share a code >= 0, so the candidate
    pairs a warm night needs (those touching a changed record, or inside one possible
    cluster) can be found without listing the tens of millions of others.  ``report``:
    ``block``'s report, the same numbers."""

    codes: tuple[np.ndarray, ...]
    report: pd.DataFrame

    def first_rule(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """The number of the first rule pairing ``left[k]`` with ``right[k]`` (int8), -1
        when no rule does: ``block``'s ``rule`` for a candidate pair."""
        rule = np.full(left.size, -1, dtype=np.int8)
        # rule by rule, asking only about the pairs no earlier rule had (most are found by
        # the first two: the same NHS number or postcode)
        todo = np.arange(left.size)
        for number, codes in enumerate(self.codes):
            if todo.size == 0:
                break
            key = codes[left]
            found = (key >= 0) & (key == codes[right])
            rule[todo[found]] = number
            todo, left, right = todo[~found], left[~found], right[~found]
        return rule

    def pairs_sharing(
        self, labels: np.ndarray, *, touching: np.ndarray | None = None
    ) -> np.ndarray:
        """Sorted distinct pair codes (``left * n + right``) of the candidate pairs whose two
        records share a label >= 0 (-1 = no label); with ``touching`` (a mask), only those
        with at least one record in it."""
        n = labels.size
        width = np.int64(max(n, 1))
        if touching is None:
            within = self._pairs_within_labels(labels)
            if within is not None:
                return within
        found: list[np.ndarray] = []
        for codes in self.codes:
            usable = (codes >= 0) & (labels >= 0)
            if touching is not None:
                # only the keys a touched record holds matter
                touched_key = np.zeros(int(codes.max(initial=-1)) + 2, dtype=bool)
                touched_key[codes[touching & usable]] = True
                usable &= touched_key[codes]  # code -1 reads the last slot: never set
            at = np.flatnonzero(usable)
            if at.size < 2:
                continue
            combined = codes[at].astype(np.int64) * (int(labels.max()) + 1) + labels[at]
            if touching is not None:
                found.append(_pairs_touching(at, pd.factorize(combined)[0], touching, width))
                continue
            group = np.full(n, -1, dtype=np.int64)
            group[at] = pd.factorize(combined)[0]
            left, right, _ = pairs_within_groups(group)
            found.append(left.astype(np.int64) * width + right)
        if not found:
            return np.empty(0, dtype=np.int64)
        return distinct(np.concatenate(found))

    def _pairs_within_labels(self, labels: np.ndarray) -> np.ndarray | None:
        """``pairs_sharing(labels)`` when the labels are small groups (a night's possible
        clusters: a few records each): every pair within a group, kept when some rule
        pairs it; one grouping instead of one per rule.  ``None`` when the groups hold too
        many pairs for that to pay (then each rule's keys are grouped)."""
        n = labels.size
        sizes = np.bincount(labels[labels >= 0], minlength=1).astype(np.int64)
        if int((sizes * (sizes - 1) // 2).sum()) > _GROUP_PAIRS_PER_RECORD * n:
            return None
        left, right, _ = pairs_within_groups(labels)
        paired = self.first_rule(left, right) >= 0
        # pairs_within_groups gives distinct pairs sorted by (left, right): sorted codes
        return left[paired].astype(np.int64) * np.int64(max(n, 1)) + right[paired]


def _pairs_touching(
    records: np.ndarray, group: np.ndarray, touching: np.ndarray, width: np.int64
) -> np.ndarray:
    """Pair codes (``low * width + high``, unsorted, a pair of two touched records twice)
    of the records sharing a ``group`` (one per record of ``records``) with at least one
    record in ``touching``: each touched record paired with the rest of its group, not
    every pair of a touched group listed and most dropped (a changed record's postcode
    holds dozens of records that did not change)."""
    order = np.argsort(group, kind="stable")
    members, grouped = records[order], group[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    sizes = np.diff(np.r_[starts, grouped.size])
    group_at = np.repeat(np.arange(starts.size), sizes)
    touched = np.flatnonzero(touching[members])
    size, start = sizes[group_at[touched]], starts[group_at[touched]]
    total = int(size.sum())
    left = np.repeat(members[touched], size)
    right = members[np.repeat(start - (np.cumsum(size) - size), size) + np.arange(total)]
    other = left != right
    left, right = left[other], right[other]
    return np.minimum(left, right).astype(np.int64) * width + np.maximum(left, right)


def rule_keys(
    std: pd.DataFrame,
    rules: tuple[BlockingRule, ...],
    *,
    max_block_size: int,
    column_codes: ColumnCodes | None = None,
) -> RuleKeys:
    """``RuleKeys`` for ``std``: what ``block`` computes, short of listing the pairs."""
    n = len(std)
    width = np.int64(max(n, 1))
    usable: list[np.ndarray] = []
    rows = []
    for rule in rules:
        codes = key_codes(std, rule.columns, column_codes=column_codes)
        present = codes >= 0
        per_key = np.bincount(codes[present], minlength=1)
        kept = codes.copy()
        kept[present] = np.where(per_key[codes[present]] > max_block_size, -1, codes[present])
        usable.append(kept)
        sizes = per_key[per_key > 0]
        small = sizes[sizes <= max_block_size].astype(np.int64)
        skipped = sizes[sizes > max_block_size]
        rows.append(
            {
                "rule": rule.name,
                "candidate_pairs": int((small * (small - 1) // 2).sum()),
                "keys_skipped": int(skipped.size),
                "records_in_skipped_keys": int(skipped.sum()),
            }
        )
    report = pd.DataFrame(rows)
    report["new_pairs"] = _first_rule_counts(tuple(usable), width)
    return RuleKeys(codes=tuple(usable), report=report)


def _first_rule_counts(codes: tuple[np.ndarray, ...], width: np.int64) -> np.ndarray:
    """Per rule, its candidate pairs that no earlier rule found (``block``'s ``new_pairs``).

    A rule with few pairs lists them and asks the earlier rules' keys about each; a rule
    with many (a postcode holds dozens of people) is counted instead: its own pairs less
    those it shares with an earlier rule, which share both keys and are listed by
    grouping on the two keys together."""
    counts = np.zeros(len(codes), dtype=np.int64)
    per_code = [np.bincount(own[own >= 0], minlength=1).astype(np.int64) for own in codes]
    totals = [int((sizes * (sizes - 1) // 2).sum()) for sizes in per_code]
    for number, own in enumerate(codes):
        present = own >= 0
        sizes, total = per_code[number], totals[number]
        if number == 0 or total == 0:
            counts[number] = total
        elif total <= _LIST_PAIRS_PER_RECORD * own.size:
            # the earlier rules with the most pairs find the most: asked first
            asked = sorted(range(number), key=lambda rule: -totals[rule])
            counts[number] = _unfound_pairs(own, sizes, [codes[rule] for rule in asked])
        else:
            shared: list[np.ndarray] = []
            for earlier in codes[:number]:
                at = np.flatnonzero(present & (earlier >= 0))
                if at.size < 2:
                    continue
                combined = own[at].astype(np.int64) * (int(earlier.max()) + 1) + earlier[at]
                both = pd.factorize(combined)[0]
                if number == 1:  # one earlier rule: the shared pairs need only counting
                    both_sizes = np.bincount(both).astype(np.int64)
                    total -= int((both_sizes * (both_sizes - 1) // 2).sum())
                    continue
                group = np.full(own.size, -1, dtype=np.int64)
                group[at] = both
                left, right, _ = pairs_within_groups(group)
                shared.append(left.astype(np.int64) * width + right)
            counts[number] = total - (distinct(np.concatenate(shared)).size if shared else 0)
    return counts


def _unfound_pairs(own: np.ndarray, sizes: np.ndarray, earlier: list[np.ndarray]) -> int:
    """How many pairs sharing an ``own`` code (>= 0) share no code (>= 0) of any ``earlier``
    rule; ``sizes``: ``own``'s records per code.  Only counted, so the pairs are listed in
    any order: by positions in an unstable sort of the records by code (a third of a stable
    sort's time), each rule's codes put in that order once, so that a pair's two gathers
    read neighbouring memory.  A pair found by a rule is not asked about by the next ones
    (so the caller asks first the rules likeliest to find one)."""
    records = np.flatnonzero(own >= 0)
    order = records[np.argsort(own[records])]
    sorted_codes = own[order]
    group_size = sizes[sorted_codes]
    first_of_group = np.cumsum(sizes) - sizes
    rank = np.arange(order.size) - first_of_group[sorted_codes]
    partners = group_size - 1 - rank  # the positions after each one in its group
    total = int(partners.sum())
    if total == 0:
        return 0
    dtype = _index_dtype(max(total, order.size))
    first_out = np.cumsum(partners) - partners
    left = np.repeat(np.arange(order.size, dtype=dtype), partners)
    right = np.arange(total, dtype=dtype)
    right += np.repeat((np.arange(order.size) + 1 - first_out).astype(dtype), partners)
    for rule_codes in earlier:
        if left.size == 0:
            break
        in_order = rule_codes[order]
        key = in_order[left]
        unfound = (key < 0) | (key != in_order[right])
        left, right = left[unfound], right[unfound]
    return int(left.size)
