"""Linkage settings: validated when built, so a bad value fails at once with a fix-it message."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.errors import ConfigError

#: Columns of the standardised frame (see ``linkage.standardise``) a blocking rule may use.
BLOCKING_COLUMNS: frozenset[str] = frozenset(
    {
        "nhs_number",
        "date_of_birth",
        "birth_year",
        "given_key",
        "given_canonical",
        "given_soundex",
        "family_key",
        "family_soundex",
        "names_soundex",
        "postcode",
        "postcode_sector",
        "postcode_district",
        "address_key",
        "sex",
    }
)

#: Which comparison a blocking column pre-judges: a training session on a rule leaves these
#: comparisons out, as Splink does.
COLUMN_COMPARISON: dict[str, str] = {
    "nhs_number": "nhs_number",
    "date_of_birth": "date_of_birth",
    "birth_year": "date_of_birth",
    "given_key": "given_name",
    "given_canonical": "given_name",
    "given_soundex": "given_name",
    "family_key": "family_name",
    "family_soundex": "family_name",
    # both names, either way round: it pre-judges the given-name comparison, which is where
    # a swap is counted (the family-name comparison is null for a swapped pair)
    "names_soundex": "given_name",
    "postcode": "address",
    "postcode_sector": "address",
    "postcode_district": "address",
    "address_key": "address",
    "sex": "sex",
}

#: The comparisons the engine knows, in waterfall order (see ``linkage.comparisons``).
COMPARISON_NAMES: tuple[str, ...] = (
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "address",
)


@dataclass(frozen=True)
class BlockingRule:
    """Records that agree on every one of ``columns`` (none missing) become candidate pairs."""

    name: str
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("BlockingRule needs a non-empty name (used in the blocking report)")
        if not self.columns:
            raise ConfigError(f"blocking rule {self.name!r}: give at least one column")
        unknown = sorted(set(self.columns) - BLOCKING_COLUMNS)
        if unknown:
            raise ConfigError(
                f"blocking rule {self.name!r}: unknown column(s) {unknown}; "
                f"choose from {sorted(BLOCKING_COLUMNS)}"
            )


DEFAULT_BLOCKING_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("nhs_number", ("nhs_number",)),
    BlockingRule("postcode", ("postcode",)),
    # full DOB, not birth year: soundex + year made 3M pairs at 100k persons for 0.002
    # more pair completeness than the other rules give together
    BlockingRule("family_soundex+dob", ("family_soundex", "date_of_birth")),
    BlockingRule("given_canonical+dob", ("given_canonical", "date_of_birth")),
    BlockingRule(
        "family_soundex+given_soundex+birth_year",
        ("family_soundex", "given_soundex", "birth_year"),
    ),
    # Police nominals often lack a date of birth and carry a nickname: block on the name and
    # where they live instead.
    BlockingRule(
        "family_key+given_canonical+district",
        ("family_key", "given_canonical", "postcode_district"),
    ),
    # ... and a nominal may lack the postcode too: the same surname (by sound) at the same
    # house number and street, whatever the given name (typos, nicknames, initials).  In a
    # household that is its members, a handful of pairs per address.
    BlockingRule("family_soundex+address_key", ("family_soundex", "address_key")),
    # Clerks swap the given and family name fields; the comparison scores a swap, but no
    # rule above brings a swapped pair together unless the postcode or NHS number agree.
    # Keyed on both names' soundex either way round, so it adds only the swapped pairs.
    BlockingRule("names_soundex+dob", ("names_soundex", "date_of_birth")),
    # Both names can be changed at once (a swap with a typo, a new surname and a nickname)
    # while the postcode is mistyped or missing: the same date of birth at the same house
    # number and street finds them.  Two people share both only as twins (the twin guard
    # keeps them apart), so the rule adds a handful of pairs.
    BlockingRule("dob+address_key", ("date_of_birth", "address_key")),
)


@dataclass(frozen=True)
class LinkageSettings:
    """Everything that shapes a linkage run; all options keyword-only with immutable defaults.

    ``auto_threshold`` / ``review_threshold`` are match-probability cut-offs for the three
    bands (auto-link, review, non-link); the defaults were tuned on generated data (see the
    benchmark).  ``u_sample_pairs`` random record pairs estimate u; EM over the candidate
    pairs estimates m and the prior.  ``max_block_size`` skips blocking keys shared by more
    records than this (reported), so one huge block cannot swamp a run.  ``chunk_pairs``
    candidate pairs are compared and scored at a time: the working memory of those steps
    grows with it, the results do not depend on it.  A later night reuses the last night's
    model and cached pair levels (``linkage.incremental``) until ``retrain_after_nights``
    nights have reused it or more than ``retrain_changed_fraction`` of records changed;
    pairs within ``cache_margin`` bits below the review threshold are cached too.
    """

    auto_threshold: float = 0.99
    review_threshold: float = 0.80
    blocking_rules: tuple[BlockingRule, ...] = DEFAULT_BLOCKING_RULES
    max_block_size: int = 1000
    training_rules: tuple[str, ...] = (
        "nhs_number",
        "family_soundex+dob",
        "given_canonical+dob",
        "family_soundex+given_soundex+birth_year",
        "family_key+given_canonical+district",
    )
    comparisons: tuple[str, ...] = COMPARISON_NAMES
    tf_adjusted: tuple[str, ...] = ("given_name", "family_name")
    u_sample_pairs: int = 2_000_000
    chunk_pairs: int = 2_000_000
    em_max_iterations: int = 100
    em_tolerance: float = 1e-5
    probability_floor: float = 1e-6
    seed: int = 42
    deterministic_nhs_dob: bool = True
    guard_nhs_conflict: bool = True
    guard_twins: bool = True
    guard_contradictions: bool = True
    retrain_after_nights: int = 7
    retrain_changed_fraction: float = 0.05
    cache_margin: float = 6.0

    def __post_init__(self) -> None:
        if not 0.0 < self.review_threshold < 1.0 or not 0.0 < self.auto_threshold < 1.0:
            raise ConfigError(
                "auto_threshold and review_threshold are match probabilities: give values "
                "strictly between 0 and 1 (e.g. auto_threshold=0.99, review_threshold=0.8)"
            )
        if self.review_threshold > self.auto_threshold:
            raise ConfigError(
                f"review_threshold ({self.review_threshold}) is above auto_threshold "
                f"({self.auto_threshold}): the review band must lie below the auto-link band"
            )
        if not self.blocking_rules:
            raise ConfigError("give at least one blocking rule (see DEFAULT_BLOCKING_RULES)")
        names = tuple(rule.name for rule in self.blocking_rules)
        if len(set(names)) != len(names):
            raise ConfigError(f"blocking rule names must be unique; got {list(names)}")
        unknown_training = sorted(set(self.training_rules) - set(names))
        if unknown_training or not self.training_rules:
            raise ConfigError(
                f"training_rules {unknown_training or '(empty)'} must name blocking rules "
                f"{list(names)}: EM trains on the candidate pairs a blocking rule selects"
            )
        if self.max_block_size < 2:
            raise ConfigError(f"max_block_size must be at least 2; got {self.max_block_size}")
        unknown = sorted(set(self.comparisons) - set(COMPARISON_NAMES))
        if unknown or not self.comparisons:
            raise ConfigError(
                f"comparisons: unknown or empty {unknown}; choose from {list(COMPARISON_NAMES)}"
            )
        bad_tf = sorted(set(self.tf_adjusted) - set(self.comparisons))
        if bad_tf:
            raise ConfigError(
                f"tf_adjusted names {bad_tf} that are not in comparisons {list(self.comparisons)}"
            )
        if self.u_sample_pairs < 1000:
            raise ConfigError(
                f"u_sample_pairs={self.u_sample_pairs} is too few to estimate u: use >= 1000 "
                "(1-5 million is usual)"
            )
        if self.chunk_pairs < 1:
            raise ConfigError(
                f"chunk_pairs={self.chunk_pairs}: give a positive number of candidate pairs "
                "to compare at a time (1-5 million is usual)"
            )
        if self.em_max_iterations < 1:
            raise ConfigError("em_max_iterations must be at least 1")
        if not 0.0 < self.em_tolerance < 0.1:
            raise ConfigError("em_tolerance must be a small positive number, e.g. 1e-5")
        if self.retrain_after_nights < 0:
            raise ConfigError(
                "retrain_after_nights must be 0 (train every night) or more; default 7"
            )
        if not 0.0 <= self.retrain_changed_fraction <= 1.0:
            raise ConfigError(
                "retrain_changed_fraction is a share of records, between 0 and 1; default 0.05"
            )
        if self.cache_margin < 0:
            raise ConfigError("cache_margin is a number of bits below the review threshold, >= 0")
        if not 0.0 < self.probability_floor < 0.01:
            raise ConfigError("probability_floor must be small and positive, e.g. 1e-6")
