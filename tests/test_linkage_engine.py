"""link_records end to end: contract C columns, quality on synthetic data, households and
twins kept apart, review decisions, the explain waterfall."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adapters.errors import ConfigError, NotFoundError
from linkage import LinkageResult, LinkageSettings, explain, link_records
from linkage.comparisons import gamma_for
from tests.test_linkage_synth import make_population, pairwise_scores

SETTINGS = LinkageSettings(u_sample_pairs=300_000)


def _household() -> pd.DataFrame:
    """One address: a mother, her son, and twin girls; each with a GP and an A&E record (the
    A&E ones without NHS number).  Mother and son also have a police nominal with neither
    date of birth nor postcode, the son's under a mistyped nickname (Perry → Pery), the
    address line abbreviated."""
    base = {"family_name": "Quistorp", "address_1": "7 Elm Close", "postcode": "ZZ9 9ZZ"}
    people = [
        ("mum", "Ottoline", "1970-02-03", "F", "9990000001"),
        ("son", "Peregrine", "1995-08-09", "M", "9990000002"),
        ("twin1", "Tamsin", "2004-05-06", "F", "9990000003"),
        ("twin2", "Bryony", "2004-05-06", "F", "9990000004"),
    ]
    rows = []
    for label, given, dob, sex, nhs in people:
        for source, number in (("gp", nhs), ("ae", None)):
            rows.append(
                {
                    **base,
                    "record_key": f"{source}:HH:{label}",
                    "source": source,
                    "nhs_number": number,
                    "given_name": given,
                    "date_of_birth": pd.Timestamp(dob),
                    "sex": sex,
                }
            )
    for label, given, sex in (("mum", "OTTOLINE", "F"), ("son", "Pery", "M")):
        rows.append(
            {
                **base,
                "record_key": f"police:HH:{label}",
                "source": "police",
                "nhs_number": None,
                "given_name": given,
                "date_of_birth": pd.NaT,
                "sex": sex,
                "address_1": "7 ELM CL",
                "postcode": None,
            }
        )
    frame = pd.DataFrame(rows)
    frame["nhs_number"] = frame["nhs_number"].astype("string")
    return frame


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    records, person = make_population(600, seed=11)
    household = _household()
    hh_person = household["record_key"].str.split(":").str[-1]
    return (
        pd.concat([records, household], ignore_index=True),
        pd.concat([person.astype(str), hh_person], ignore_index=True),
    )


@pytest.fixture(scope="module")
def result(data: tuple[pd.DataFrame, pd.Series]) -> LinkageResult:
    return link_records(data[0], settings=SETTINGS)


def cluster_of(frame: pd.DataFrame) -> dict[str, int]:
    return dict(zip(frame["record_key"], frame["cluster_id"], strict=True))


def test_contract_c_columns(result: LinkageResult, data: tuple[pd.DataFrame, pd.Series]) -> None:
    names = list(SETTINGS.comparisons)
    for frame in (result.pairs, result.review):
        assert {
            "record_key_l",
            "record_key_r",
            "match_weight",
            "match_probability",
            "band",
            "decision",
        } <= set(frame.columns)
        assert {f"gamma_{n}" for n in names} | {f"bf_{n}" for n in names} <= set(frame.columns)
        assert (frame["record_key_l"] < frame["record_key_r"]).all()
    assert set(result.pairs["band"].unique()) <= {"auto", "review", "non"}
    assert set(result.clusters["record_key"]) == set(data[0]["record_key"])
    assert set(result.provisional["record_key"]) == set(data[0]["record_key"])
    assert result.comparisons["comparison"].unique().tolist() == names
    assert {"rule", "candidate_pairs", "new_pairs", "keys_skipped"} <= set(result.blocking.columns)
    assert {"comparison", "gamma", "label", "m", "u", "weight"} <= set(result.parameters.columns)
    assert result.model.iterations > 0 and 0 < result.model.prior < 1
    assert result.timings["step"].tolist()[:2] == ["standardise", "block"]


def test_quality_on_synthetic_population(
    result: LinkageResult, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    precision, recall, f1 = pairwise_scores(result.clusters, data[0], data[1])
    assert precision > 0.99 and recall > 0.95 and f1 > 0.97


def test_household_members_and_twins_are_kept_apart(result: LinkageResult) -> None:
    for frame in (result.clusters, result.provisional):
        c = cluster_of(frame)
        people = ["mum", "son", "twin1", "twin2"]
        ids = {p: {c[f"gp:HH:{p}"], c[f"ae:HH:{p}"]} for p in people}
        for p in ("mum", "son"):  # no DOB, no postcode: found by name and first line
            ids[p].add(c[f"police:HH:{p}"])
        for person in people:  # each person's two records link ...
            assert len(ids[person]) == 1, person
        assert len(set().union(*ids.values())) == 4  # ... and nobody merges with anybody


def test_twin_pair_carries_guard(result: LinkageResult) -> None:
    pairs = result.pairs.set_index(["record_key_l", "record_key_r"])
    key = ("ae:HH:twin1", "gp:HH:twin2")
    if key in pairs.index:
        assert pairs.loc[key, "guard"] == "twins"


def test_different_nhs_numbers_never_share_a_cluster(
    result: LinkageResult, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    merged = data[0][["record_key", "nhs_number"]].merge(result.clusters, on="record_key")
    per_cluster = merged.dropna(subset=["nhs_number"]).groupby("cluster_id")["nhs_number"]
    assert per_cluster.nunique().max() == 1


def test_review_pairs_join_different_confirmed_clusters(result: LinkageResult) -> None:
    c = cluster_of(result.clusters)
    assert (result.review["band"] == "review").all()
    assert all(
        c[a] != c[b]
        for a, b in zip(result.review["record_key_l"], result.review["record_key_r"], strict=True)
    )


def test_decisions_override_the_model(
    result: LinkageResult, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    auto = result.pairs[(result.pairs["band"] == "auto") & result.pairs["guard"].isna()]
    # a pair whose two records are linked only to each other
    sizes = result.clusters["cluster_id"].value_counts()
    c = cluster_of(result.clusters)
    two = auto[[sizes[c[a]] == 2 for a in auto["record_key_l"]]].iloc[0]
    no_nhs = set(data[0].loc[data[0]["nhs_number"].isna(), "record_key"])
    loners = [k for k, v in c.items() if sizes[v] == 1 and k in no_nhs][:2]
    decisions = pd.DataFrame(
        {
            "record_key_l": [two["record_key_l"], min(loners)],
            "record_key_r": [two["record_key_r"], max(loners)],
            "decision": ["rejected", "accepted"],
        }
    )
    again = link_records(data[0], settings=SETTINGS, decisions=decisions)
    c2 = cluster_of(again.clusters)
    assert c2[two["record_key_l"]] != c2[two["record_key_r"]]
    assert c2[loners[0]] == c2[loners[1]]
    decided = again.pairs.dropna(subset=["decision"])
    assert sorted(decided["decision"].tolist()) == ["accepted", "rejected"]


def test_bad_decisions_frame_is_rejected(data: tuple[pd.DataFrame, pd.Series]) -> None:
    bad = pd.DataFrame({"record_key_l": ["a"], "record_key_r": ["b"], "decision": ["maybe"]})
    with pytest.raises(ConfigError, match="accepted"):
        link_records(data[0].head(20), settings=SETTINGS, decisions=bad)


def test_explain_waterfall_adds_up(result: LinkageResult) -> None:
    row = result.pairs.iloc[0]
    steps = explain(result, row["record_key_r"], row["record_key_l"])
    assert steps["comparison"].tolist() == ["prior", *SETTINGS.comparisons]
    assert steps["cumulative"].iloc[-1] == pytest.approx(row["match_weight"])
    with pytest.raises(NotFoundError):
        explain(result, "nope:1", "nope:2")


def test_common_family_name_weighs_less(
    result: LinkageResult, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    family = dict(zip(data[0]["record_key"], data[0]["family_name"].str.upper(), strict=True))
    exact = result.pairs[result.pairs["gamma_family_name"] == gamma_for("family_name", "exact")]
    name = exact["record_key_l"].map(family)
    smith = exact.loc[name == "SMITH", "bf_family_name"]
    rare = exact.loc[name == "QUISTORP", "bf_family_name"]
    assert len(smith) and len(rare)
    # exact-level weight is log2(m / tf): the gap is the log ratio of the two frequencies
    counts = data[0]["family_name"].str.upper().value_counts()
    gap = np.log2(counts["SMITH"] / counts["QUISTORP"])
    assert gap > 1.5
    assert rare.min() - smith.max() == pytest.approx(gap)


def test_em_estimates_the_prior(
    result: LinkageResult, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    n = len(data[0])
    sizes = data[1].value_counts()
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    estimated = result.model.prior * n * (n - 1) / 2
    assert estimated == pytest.approx(true_pairs, rel=0.25)
    assert result.model.converged
    m = result.parameters.set_index(["comparison", "label"])["m"]
    assert m["nhs_number", "agree"] > 0.9 and m["date_of_birth", "exact"] > 0.8


@pytest.mark.parametrize("chunk_pairs", [13, 997, 3000])
def test_chunked_scoring_gives_the_same_answer(
    result: LinkageResult, data: tuple[pd.DataFrame, pd.Series], chunk_pairs: int
) -> None:
    """Compare and score run a chunk of pairs at a time; the chunk size must not matter."""
    n_pairs = int(result.blocking["new_pairs"].sum())
    assert chunk_pairs < n_pairs  # several chunks, the last one partial
    settings = LinkageSettings(u_sample_pairs=300_000, chunk_pairs=chunk_pairs)
    again = link_records(data[0], settings=settings)
    pd.testing.assert_frame_equal(again.pairs, result.pairs)
    pd.testing.assert_frame_equal(again.clusters, result.clusters)
    pd.testing.assert_frame_equal(again.provisional, result.provisional)
    pd.testing.assert_frame_equal(again.review, result.review)
    pd.testing.assert_frame_equal(again.parameters, result.parameters)


def test_bad_chunk_size_fails_at_once() -> None:
    with pytest.raises(ConfigError, match="chunk_pairs"):
        LinkageSettings(chunk_pairs=0)


GUARD_CASES = [
    # (nhs level, given level, family level, dob level, guard_nhs_conflict, expected guard)
    ("disagree", "else", "exact", "exact", True, "nhs_conflict"),
    (
        "one digit changed or two neighbours swapped",
        "exact",
        "exact",
        "exact",
        True,
        "nhs_conflict",
    ),
    ("agree", "else", "exact", "exact", True, None),
    (None, "else", "exact", "exact", True, "twins"),
    ("disagree", "else", "exact", "exact", False, "twins"),
    # an identifier one slip away (no check digit) outweighs twin-like or contradicting fields
    ("one digit changed or two neighbours swapped", "else", "exact", "exact", False, None),
    ("one digit changed or two neighbours swapped", "else", "exact", "else", False, None),
    ("disagree", "else", "exact", "else", False, "contradiction"),
    (None, "jaro-winkler >= 0.7", "else", "else", True, "contradiction"),
]


@pytest.mark.parametrize(("nhs", "given", "family", "dob", "nhs_guard", "expected"), GUARD_CASES)
def test_guards_table(
    nhs: str | None, given: str, family: str, dob: str, nhs_guard: bool, expected: str | None
) -> None:
    from linkage.engine import GUARDS, _guards

    def level(name: str, label: str | None) -> np.ndarray:
        return np.array([-1 if label is None else gamma_for(name, label)], dtype=np.int8)

    gammas = {
        "nhs_number": level("nhs_number", nhs),
        "given_name": level("given_name", given),
        "family_name": level("family_name", family),
        "date_of_birth": level("date_of_birth", dob),
        "sex": level("sex", None),
    }
    code = _guards(gammas, LinkageSettings(guard_nhs_conflict=nhs_guard))
    assert GUARDS[int(code[0])] == expected


# Two records with the same family name, date of birth and address and no NHS number on
# one side: is the given-name pair two people's names (twins) or one name, corrupted?
# (given name A, given name B, sex A, sex B, expected guard)
TWIN_NAME_CASES = [
    # two different names: twins, whatever the sexes
    ("Jack", "Emily", "M", "F", "twins"),
    ("Tamsin", "Bryony", "F", "F", "twins"),
    ("Tom", "Tim", "M", "M", "twins"),  # one letter apart, but both real names
    ("Mia", "Mya", "F", "F", "twins"),  # neither in the nickname lists: not called a slip
    ("Ava", "Eva", "F", "F", "twins"),  # another first letter
    ("Jaden", "Maddison", None, None, "twins"),
    # Febrl4's guarded misses look like this: a given name replaced by another name (and
    # the identifier by another): nothing tells it from boy-and-girl twins, so it stays apart
    ("Daniella", "Lachlan", None, None, "twins"),
    # one name, corrupted: not twins
    ("Amy", "Aiy", "F", "F", None),  # a slip the lists do not know
    ("Ian", "Ien", None, None, None),
    ("Jed", "Jwd", None, None, None),
    ("Jessica", "Jesdicai", None, None, None),  # typos in a longer name
    ("Robert", "Bob", "M", "M", None),  # a nickname
    ("William", "Wiyl", "M", "M", None),  # a nickname with a typo
    ("Christopher", "Chris", None, None, None),  # shortened
    (None, "Emily", None, "F", None),  # missing
    # ...unless the recorded sexes differ: then the near-names are a brother and sister
    ("Amy", "Aiy", "F", "M", "twins"),
    ("Karen", "Karin", "F", "M", "twins"),
]


@pytest.mark.parametrize(("given_a", "given_b", "sex_a", "sex_b", "expected"), TWIN_NAME_CASES)
def test_twin_guard_needs_two_different_names(
    given_a: str | None, given_b: str | None, sex_a: str | None, sex_b: str | None, expected: str
) -> None:
    from linkage.comparisons import Prepared, compare
    from linkage.engine import GUARDS, _guards
    from linkage.standardise import standardise

    base = {
        "nhs_number": None,
        "family_name": "Quistorp",
        "date_of_birth": pd.Timestamp("2004-05-06"),
        "address_1": "7 Elm Close",
        "postcode": "ZZ9 9ZZ",
    }
    frame = pd.DataFrame(
        [
            {**base, "record_key": "gp:1", "given_name": given_a, "sex": sex_a},
            {**base, "record_key": "ae:1", "given_name": given_b, "sex": sex_b},
        ]
    )
    frame.loc[0, "nhs_number"] = "9990000003"
    settings = LinkageSettings()
    gammas = compare(
        Prepared(standardise(frame)), np.array([0]), np.array([1]), settings.comparisons
    )
    assert GUARDS[int(_guards(gammas, settings)[0])] == expected
