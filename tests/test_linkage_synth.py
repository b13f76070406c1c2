"""A small synthetic population for the linkage tests (and the benchmark's fallback).

Households share a family name and an address; some have twins.  Each person has a GP
record and maybe A&E, mental-health and police records, with realistic noise: typos,
nicknames, transposed day/month, missing DOB / NHS number (police never has one), moves.
Entirely made-up data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GIVEN = [
    "robert",
    "william",
    "elizabeth",
    "margaret",
    "john",
    "jonathan",
    "james",
    "michael",
    "michaela",
    "david",
    "sarah",
    "katherine",
    "thomas",
    "daniel",
    "matthew",
    "christopher",
    "anthony",
    "joseph",
    "charles",
    "richard",
    "jennifer",
    "patricia",
    "susan",
    "jessica",
    "emily",
    "olivia",
    "amelia",
    "isabella",
    "sophie",
    "grace",
    "chloe",
    "lucy",
    "hannah",
    "alexander",
    "benjamin",
    "samuel",
    "joshua",
    "oliver",
    "harry",
    "jack",
    "george",
    "noah",
    "leo",
    "oscar",
    "archie",
    "zebedee",
    "ottoline",
    "peregrine",
    "tamsin",
    "ffion",
    "bryony",
]
NICK = {
    "robert": "bob",
    "william": "bill",
    "elizabeth": "liz",
    "margaret": "peggy",
    "jonathan": "jon",
    "james": "jim",
    "michael": "mike",
    "katherine": "kate",
    "thomas": "tom",
    "daniel": "dan",
    "christopher": "chris",
    "anthony": "tony",
    "joseph": "joe",
    "richard": "dick",
    "alexander": "alex",
    "benjamin": "ben",
    "samuel": "sam",
}
FAMILY_COMMON = [
    "smith",
    "jones",
    "taylor",
    "brown",
    "williams",
    "wilson",
    "johnson",
    "davies",
    "patel",
    "wright",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ven",
    "tor",
    "bel",
    "sha",
    "quin",
    "dro",
    "fel",
    "mor",
    "tis",
    "gan",
    "hul",
    "pri",
    "zo",
    "wex",
]
STREETS = [
    "high",
    "station",
    "church",
    "park",
    "victoria",
    "green",
    "manor",
    "mill",
    "school",
    "kings",
]


def _typo(values: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    out = values.copy()
    hit = np.flatnonzero(rng.random(values.size) < rate)
    for i in hit:  # test-data noise only
        s = str(out[i])
        if len(s) > 3:
            j = int(rng.integers(1, len(s) - 2))
            out[i] = s[:j] + s[j + 1] + s[j] + s[j + 2 :]
    return out


def make_population(
    n_households: int, *, seed: int = 0, twin_rate: float = 0.03
) -> tuple[pd.DataFrame, pd.Series]:
    """Contract-B records and the true person id of each (aligned)."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4], size=n_households, p=[0.35, 0.3, 0.2, 0.15])
    hh = np.repeat(np.arange(n_households), sizes)
    n = hh.size
    rare = np.array(
        ["".join(rng.choice(SYLLABLES, size=3)) for _ in range(max(n_households // 2, 5))]
    )
    pool = np.concatenate([np.array(FAMILY_COMMON), rare])
    weights = np.concatenate([np.full(len(FAMILY_COMMON), 8.0), np.ones(rare.size)])
    hh_family = rng.choice(pool, size=n_households, p=weights / weights.sum())
    hh_postcode = np.array(
        [
            f"{a}{b}{d} {e}{f}{g}"
            for a, b, d, e, f, g in zip(
                rng.choice(list("ABCDEFGHKLMNPRSTW"), n_households),
                rng.choice(list("ABCDEFGHKLMNPRSTW"), n_households),
                rng.integers(1, 30, n_households),
                rng.integers(0, 10, n_households),
                rng.choice(list("ABDEFGHJLNPQRSTUWXYZ"), n_households),
                rng.choice(list("ABDEFGHJLNPQRSTUWXYZ"), n_households),
                strict=True,
            )
        ]
    )
    hh_address = np.array(
        [
            f"{k} {s} road"
            for k, s in zip(
                rng.integers(1, 200, n_households), rng.choice(STREETS, n_households), strict=True
            )
        ]
    )
    family = hh_family[hh]
    given = rng.choice(np.array(GIVEN), size=n)
    dob = np.datetime64("1940-01-01", "ns") + rng.integers(0, 80 * 365, n).astype("timedelta64[D]")
    # twins: the second member of some households shares the first one's DOB
    first_of_hh = np.r_[0, np.cumsum(sizes)[:-1]]
    twin_hh = np.flatnonzero((sizes >= 2) & (rng.random(n_households) < twin_rate))
    dob[first_of_hh[twin_hh] + 1] = dob[first_of_hh[twin_hh]]
    clash = given[first_of_hh[twin_hh] + 1] == given[first_of_hh[twin_hh]]
    given[first_of_hh[twin_hh][clash] + 1] = "ottoline"
    sex = rng.choice(np.array(["M", "F"]), size=n)
    nhs = np.array([f"{9_000_000_000 + i * 7:010d}" for i in range(n)])

    reps = 1 + rng.poisson(0.7, size=n)
    person = np.repeat(np.arange(n), reps)
    m = person.size
    source = rng.choice(np.array(["gp", "ae", "mh", "police"]), size=m, p=[0.4, 0.35, 0.1, 0.15])
    source[np.r_[0, np.cumsum(reps)[:-1]]] = "gp"
    r_given = given[person].astype(object)
    r_family = family[person].astype(object)
    nick_ok = np.array([g in NICK for g in r_given])
    use_nick = nick_ok & (rng.random(m) < np.where(source == "police", 0.5, 0.1))
    r_given[use_nick] = [NICK[g] for g in r_given[use_nick]]
    r_given = _typo(r_given, rng, 0.04)
    r_family = _typo(r_family, rng, 0.03)
    r_dob = pd.Series(dob[person])
    transposed = (rng.random(m) < 0.02) & (r_dob.dt.day <= 12).to_numpy()
    r_dob[transposed] = pd.to_datetime(
        {
            "year": r_dob[transposed].dt.year,
            "month": r_dob[transposed].dt.day,
            "day": r_dob[transposed].dt.month,
        }
    )
    r_dob = r_dob.mask((source == "police") & (rng.random(m) < 0.4))
    r_nhs = pd.Series(nhs[person], dtype="string")
    r_nhs[(source == "police") | ((source != "gp") & (rng.random(m) < 0.3))] = pd.NA
    moved = rng.random(m) < 0.1
    other = rng.integers(0, n_households, m)
    r_hh = np.where(moved, other, hh[person])
    records = pd.DataFrame(
        {
            "record_key": [f"{s}:X{i % 7}:{i}" for i, s in enumerate(source)],
            "source": source,
            "nhs_number": r_nhs,
            "given_name": pd.Series(r_given, dtype="string").str.title(),
            "family_name": pd.Series(r_family, dtype="string").str.upper(),
            "date_of_birth": r_dob,
            "sex": pd.Series(sex[person], dtype="string").mask(rng.random(m) < 0.05),
            "address_1": pd.Series(hh_address[r_hh], dtype="string"),
            "postcode": pd.Series(hh_postcode[r_hh], dtype="string"),
        }
    )
    # police nominals often come without a postcode (drawn last: the rest stays as it was)
    no_postcode = (source == "police") & (rng.random(m) < 0.3)
    records["postcode"] = records["postcode"].mask(no_postcode)
    return records, pd.Series(person, name="person_id")


def pairwise_scores(
    clusters: pd.DataFrame, records: pd.DataFrame, person: pd.Series
) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering against the truth."""
    truth = pd.Series(person.to_numpy(), index=records["record_key"].to_numpy())
    frame = clusters.assign(person=clusters["record_key"].map(truth))

    def pairs(groups: pd.Series) -> int:
        sizes = groups.value_counts().to_numpy()
        return int((sizes * (sizes - 1) // 2).sum())

    predicted = pairs(frame["cluster_id"])
    true = pairs(frame["person"])
    both = pairs(frame["cluster_id"].astype(str) + "/" + frame["person"].astype(str))
    precision = both / predicted if predicted else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def test_population_is_reproducible() -> None:
    a, pa = make_population(50, seed=3)
    b, pb = make_population(50, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert (pa == pb).all()
    assert a["record_key"].is_unique
