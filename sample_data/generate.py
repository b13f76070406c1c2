"""Synthetic GP, A&E, mental-health and police extracts with ground truth.

``generate(persons, seed=..., out_dir=..., as_of=...)`` writes the eight standard-layout files
(../shared/spec/EXTRACTS.md) and, under ``truth/``:

* ``records.csv`` — ``record_key, person_id, household_id`` for every person-bearing record;
* ``persons.csv`` — ``person_id, household_id, communal, sensitive, date_of_birth, sex``;
* ``scenarios.csv`` — what was planted on purpose (``kind, person_id, household_id, ref,
  note``): one row per rule/warning scenario, plus twins, maiden names, fled victims,
  duplicate hospital numbers, future-dated rows, ...;
* ``expected.csv`` — ``kind, person_id, ref``: every rule and warning of RULES.md that holds
  on the true identities (perfect linkage) for ``as_of``, planted or not.  This is the
  reference for a precision/recall test of the whole pipeline.

Everything is vectorised (numpy/pandas): loops run over scenario kinds, sources and columns,
never over persons or records.  One seed gives byte-identical output.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from sample_data import _names as W

GENERATOR_VERSION = "1.0"

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]

FILES: Mapping[str, tuple[str, ...]] = {
    "gp_patients": (
        "practice_code",
        "patient_id",
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "address_1",
        "address_2",
        "town",
        "postcode",
        "uprn",
        "registered_on",
        "deregistered_on",
        "sensitive",
    ),
    "gp_events": (
        "practice_code",
        "patient_id",
        "event_id",
        "code",
        "term",
        "effective_date",
        "entered_date",
    ),
    "gp_correspondence": (
        "practice_code",
        "patient_id",
        "document_id",
        "sender_code",
        "sender_reference",
        "document_date",
        "received_date",
    ),
    "ae_attendances": (
        "provider_code",
        "attendance_id",
        "local_patient_id",
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "address_1",
        "address_2",
        "town",
        "postcode",
        "gp_practice_code",
        "arrival_at",
        "departure_at",
        "chief_complaint",
        "injury_intent",
        "diagnoses",
        "safeguarding_concerns",
        "discharge_destination",
        "gp_letter_sent_at",
    ),
    "mh_patients": (
        "provider_code",
        "local_patient_id",
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "address_1",
        "address_2",
        "town",
        "postcode",
        "gp_practice_code",
    ),
    "mh_activity": (
        "provider_code",
        "activity_id",
        "local_patient_id",
        "activity_type",
        "start_date",
        "end_date",
        "codes",
        "discharge_method",
        "discharge_letter_issued_on",
    ),
    "police_nominals": (
        "force_code",
        "nominal_id",
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "address_1",
        "address_2",
        "town",
        "postcode",
    ),
    "police_incidents": (
        "force_code",
        "incident_id",
        "nominal_id",
        "role",
        "occurred_at",
        "domestic",
        "dash_risk",
        "marac_referred_on",
        "bail_conditions",
        "bail_breach",
        "outcome",
    ),
}

AE_PROVIDERS: tuple[str, ...] = ("RLT", "RKB", "RRK")
_AE_LOCAL_PREFIX: tuple[str, ...] = ("G", "K", "B")
# A&E provider nearest each town (index into AE_PROVIDERS).
_TOWN_PROVIDER: Mapping[str, int] = {
    "Nuneaton": 0,
    "Bedworth": 0,
    "Hinckley": 0,
    "Leicester": 0,
    "Coventry": 1,
    "Rugby": 1,
    "Warwick": 1,
    "Birmingham": 2,
}
MH_PROVIDER = "RYG"
POLICE_FORCE = "43"
NFA_POSTCODE = "ZZ99 3VZ"
UNREGISTERED_PRACTICE = "V81999"

# Source bits for "this source was never told about the move".
_AE, _MH, _POLICE = 1, 2, 4

_DA_SET = frozenset(c for c, _ in W.DA_CODES)
_SH_SET = frozenset(c for c, _ in W.SELF_HARM_CODES) | {
    "287185009",
    "287186005",
}
_DA_CHILD = W.DA_CHILD_CODE[0]

RULE_KINDS: tuple[str, ...] = (
    "DA-SH",
    "FA",
    "HH-DA",
    "HH-CRISIS",
    "MH-SD-DA",
    "MARAC-REPEAT",
    "BAIL-BREACH",
    "SERIAL",
)
WARNING_KINDS: tuple[str, ...] = ("LETTER-LATE", "LETTER-NOT-RECEIVED", "MH-LETTER-LATE")


@dataclass(frozen=True)
class Corruption:
    """Per-record error rates.  Each rate is scaled per source by ``source_scale``."""

    name_typo: float = 0.025
    nickname: float = 0.05
    swapped_names: float = 0.005
    maiden_name_kept: float = 0.5  # of people with a maiden name: one source still has it
    dob_transposed: float = 0.006
    dob_year_off: float = 0.006
    police_dob_missing: float = 0.12
    police_suspect_dob_missing: float = 0.35
    police_suspect_dob_year_off: float = 0.12
    gp_nhs_missing: float = 0.01
    ae_nhs_missing: float = 0.20
    mh_nhs_missing: float = 0.10
    nhs_spaced: float = 0.04
    nhs_excel: float = 0.01
    nhs_bad_check: float = 0.003
    postcode_format: float = 0.12
    postcode_missing: float = 0.02
    address_abbreviated: float = 0.15
    address_part_missing: float = 0.05
    case_variation: float = 0.04
    police_upper_case: float = 0.35
    stale_address: float = 0.5  # movers: one non-GP source keeps the old address
    future_dated: float = 0.003  # rows dated after as_of (must be ignored)
    source_scale: Mapping[str, float] = field(
        default_factory=lambda: {"gp": 0.3, "ae": 1.0, "mh": 0.7, "police": 1.5}
    )

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, float) and not 0.0 <= value <= 1.0:
                raise ValueError(f"Corruption.{name} must be within 0..1, got {value}")
        unknown = set(self.source_scale) - {"gp", "ae", "mh", "police"}
        if unknown:
            raise ValueError(f"Corruption.source_scale: unknown sources {sorted(unknown)}")


@dataclass(frozen=True)
class GenerationSummary:
    out_dir: Path
    seed: int
    persons: int
    as_of: date
    row_counts: Mapping[str, int]
    scenario_counts: Mapping[str, int]
    expected_counts: Mapping[str, int]


def generate(
    persons: int,
    *,
    seed: int,
    out_dir: Path,
    as_of: date,
    corruption: Corruption | None = None,
    messy: bool = False,
) -> GenerationSummary:
    """Write a synthetic population's extracts and its ground truth into ``out_dir``."""
    if persons < 200:
        raise ValueError(f"persons must be at least 200 (got {persons}): scenarios need room")
    world = _World(persons, seed=seed, as_of=as_of, corruption=corruption or Corruption())
    world.build()
    return world.write(Path(out_dir), messy=messy)


# --------------------------------------------------------------------------------------
# helpers


def _nhs_check_digit(base9: IntArray) -> IntArray:
    """Modulus-11 check digit for 9-digit bases (10 means the base is unusable)."""
    total = np.zeros(len(base9), dtype=np.int64)
    rest = base9.copy()
    for weight in range(2, 11):  # last digit has weight 2, first has weight 10
        total += (rest % 10) * weight
        rest //= 10
    check = 11 - total % 11
    return np.where(check == 11, 0, check)


def nhs_number_valid(values: pd.Series) -> pd.Series:
    """True where the value is ten digits with a correct modulus-11 check digit."""
    s = values.fillna("").astype(str)
    ok = s.str.fullmatch(r"\d{10}")
    nums = pd.to_numeric(s.where(ok, "0"), errors="coerce").fillna(0).astype(np.int64)
    digits = np.asarray(nums.to_numpy(), dtype=np.int64)
    check = _nhs_check_digit(digits // 10)
    return ok & (check == digits % 10)


def _fmt_date(arr: DateArray) -> npt.NDArray[np.str_]:
    out = np.datetime_as_string(arr.astype("datetime64[D]"), unit="D")
    return np.where(np.isnat(arr), "", out)


def _fmt_datetime(arr: DateArray, *, sep: str = " ", seconds: bool = False) -> npt.NDArray:
    if seconds:
        out = np.datetime_as_string(arr.astype("datetime64[s]"), unit="s")
    else:
        out = np.datetime_as_string(arr.astype("datetime64[m]"), unit="m")
    out = np.char.replace(out, "T", sep) if sep != "T" else out
    return np.where(np.isnat(arr), "", out)


def _ids(prefix: str, numbers: IntArray, width: int) -> npt.NDArray[np.object_]:
    return (prefix + pd.Series(numbers).astype(str).str.zfill(width)).to_numpy(dtype=object)


def _weighted(rng: np.random.Generator, weights: npt.ArrayLike, size: int) -> IntArray:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=size, p=w / w.sum()).astype(np.int64)


def _typos(values: npt.NDArray[np.object_], rng: np.random.Generator) -> npt.NDArray:
    """One random edit (substitute/delete/insert/transpose) per value, never the first letter."""
    n = len(values)
    if n == 0:
        return values
    width = 40
    arr = np.asarray(values, dtype=f"U{width}")
    codes = np.zeros((n, width + 1), dtype=np.uint32)
    codes[:, :width] = arr.view(np.uint32).reshape(n, width)
    length = np.char.str_len(arr)
    ok = length >= 3
    pos = 1 + (rng.random(n) * np.maximum(length - 2, 1)).astype(np.int64)
    op = rng.integers(0, 4, n)
    letter = rng.integers(ord("a"), ord("z") + 1, n).astype(np.uint32)
    cols = np.broadcast_to(np.arange(width + 1), (n, width + 1))
    p = pos[:, None]
    src = cols.copy()
    src = np.where((op == 1)[:, None] & (cols >= p), cols + 1, src)  # delete
    src = np.where((op == 2)[:, None] & (cols > p), cols - 1, src)  # insert
    swap = (op == 3)[:, None]
    src = np.where(swap & (cols == p), cols - 1, src)  # transpose pos-1 and pos
    src = np.where(swap & (cols == p - 1), cols + 1, src)
    src = np.clip(src, 0, width)
    edited = np.take_along_axis(codes, src, axis=1)
    sub = (op == 0) | (op == 2)
    edited[sub, pos[sub]] = letter[sub]
    edited[:, width - 1 :] = 0
    edited = np.where(ok[:, None], edited, codes)
    out = np.ascontiguousarray(edited[:, :width]).view(f"U{width}").reshape(n)
    return out.astype(object)


# --------------------------------------------------------------------------------------
# the world


class _World:
    """Builds one synthetic population and its source records (mutable while building)."""

    def __init__(self, n: int, *, seed: int, as_of: date, corruption: Corruption) -> None:
        self.n = n
        self.seed = seed
        self.as_of_date = as_of
        self.as_of = np.datetime64(as_of, "D")
        self.c = corruption
        self.rng = np.random.default_rng(seed)
        self.ae: list[pd.DataFrame] = []
        self.mh: list[pd.DataFrame] = []
        self.pol: list[pd.DataFrame] = []
        self.gpe: list[pd.DataFrame] = []
        self.scen: list[pd.DataFrame] = []
        self._incident_seq = 0
        self._mh_spell_seq = 0
        gn = W.GIVEN_NAMES
        self.given_names = np.array([g[0] for g in gn], dtype=object)
        self.given_sex = np.array([g[1] for g in gn])
        self.given_w = np.array([g[2] for g in gn], dtype=float)
        self.nick_count = np.array([len(g[3]) for g in gn], dtype=np.int64)
        self.nick_offset = np.concatenate([[0], np.cumsum(self.nick_count)[:-1]])
        self.nick_flat = np.array([x for g in gn for x in g[3]], dtype=object)
        self.surnames = np.array([s for s, _ in W.SURNAMES], dtype=object)
        self.surname_w = np.array([w for _, w in W.SURNAMES], dtype=float)

    # ---------------------------------------------------------------- small utilities
    def days_ago(self, lo: int, hi: int, size: int) -> DateArray:
        """Dates between ``hi`` and ``lo`` days before as_of (inclusive)."""
        return self.as_of - self.rng.integers(lo, hi + 1, size).astype("timedelta64[D]")

    def at_time(self, days: DateArray, *, evening: bool = False) -> DateArray:
        hours = np.arange(24)
        w = np.where((hours >= 8) & (hours <= 23), 3.0, 1.0)
        if evening:
            w = np.where((hours >= 18) | (hours <= 2), 5.0, 1.0)
        h = _weighted(self.rng, w, len(days))
        m = self.rng.integers(0, 60, len(days))
        return days.astype("datetime64[m]") + (h * 60 + m).astype("timedelta64[m]")

    def scenario(
        self, kind: str, pidx: npt.ArrayLike, *, ref: npt.ArrayLike | str = "", note: str = ""
    ) -> None:
        p = np.asarray(pidx, dtype=np.int64)
        self.scen.append(pd.DataFrame({"kind": kind, "pidx": p, "ref": ref, "note": note}))

    def sample_given(self, sex: npt.NDArray[np.str_]) -> IntArray:
        out = np.empty(len(sex), dtype=np.int64)
        for s in ("M", "F"):
            mask = sex == s
            idx = np.flatnonzero(self.given_sex == s)
            out[mask] = idx[_weighted(self.rng, self.given_w[idx], int(mask.sum()))]
        return out

    def sample_surname(self, size: int) -> npt.NDArray[np.object_]:
        return self.surnames[_weighted(self.rng, self.surname_w, size)]

    # ---------------------------------------------------------------- build
    def build(self) -> None:
        self._build_population()
        self._build_gp_registrations()
        self._plant_da_couples()
        self._plant_frequent_attenders()
        self._plant_self_harm_and_crises()
        self._plant_mh()
        self._background_ae()
        self._background_police()
        self._background_gp_events()
        self._plant_future_dated()
        self._finalise_events()

    # ---------------------------------------------------------------- addresses
    def _build_addresses(self, n_needed: int, n_communal: int) -> None:
        rng = self.rng
        n_build = int(n_needed / 1.1) + 60
        n_streets = max(12, n_build // 30 + 2)
        lengths = rng.integers(8, 69, n_streets)
        while lengths.sum() < n_build:
            lengths = np.concatenate([lengths, rng.integers(8, 69, 10)])
            n_streets = len(lengths)
        n_districts = min(len(W.DISTRICTS), max(5, -(-n_streets // 25)))
        street_district = (np.arange(n_streets) * n_districts) // n_streets

        prefixes = np.array(W.STREET_PREFIXES, dtype=object)
        stems = np.array(W.STREET_STEMS, dtype=object)
        types = np.array([t for t, _ in W.STREET_TYPES], dtype=object)
        abbrs = np.array([a for _, a in W.STREET_TYPES], dtype=object)
        pw = np.array([40.0, 1, 1, 1, 1, 1])
        tw = np.array(W.STREET_TYPE_WEIGHTS, dtype=float)
        combo_w = pw[:, None, None] * np.ones(len(stems))[None, :, None] * tw[None, None, :]
        combo_w = combo_w.ravel() / combo_w.sum()
        combo = np.empty(n_streets, dtype=np.int64)
        for d in range(n_districts):  # street names are unique within a district
            mask = street_district == d
            combo[mask] = rng.choice(len(combo_w), int(mask.sum()), replace=False, p=combo_w)
        pi, rest = np.divmod(combo, len(stems) * len(types))
        si, ti = np.divmod(rest, len(types))
        street = prefixes[pi] + stems[si] + " " + types[ti]
        street_abbr = prefixes[pi] + stems[si] + " " + abbrs[ti]
        street_sector = rng.integers(1, 10, n_streets)
        dist_names = np.array([d[0] for d in W.DISTRICTS], dtype=object)
        dist_towns = np.array([d[1] for d in W.DISTRICTS], dtype=object)
        loc_count = np.array([len(d[2]) for d in W.DISTRICTS])
        loc_offset = np.concatenate([[0], np.cumsum(loc_count)[:-1]])
        loc_flat = np.array([x for d in W.DISTRICTS for x in d[2]], dtype=object)
        pick_loc = (rng.random(n_streets) * loc_count[street_district]).astype(np.int64)
        street_loc = loc_flat[loc_offset[street_district] + pick_loc]

        # buildings
        b_street = np.repeat(np.arange(n_streets), lengths)
        nb = len(b_street)
        street_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        b_pos = np.arange(nb) - street_start[b_street]
        kind = np.zeros(nb, dtype=np.int64)  # 0 house, 1 flats, 2 named house
        r = rng.random(nb)
        kind[r < 0.06] = 1
        kind[(r >= 0.06) & (r < 0.11)] = 2
        lettered = (rng.random(nb) < 0.03) & (b_pos > 0) & (kind == 0)
        not_lettered = (~lettered).astype(np.int64)
        csum = np.cumsum(not_lettered)
        number = csum - (csum[street_start] - not_lettered[street_start])[b_street]
        letter = np.where(lettered, "A", "")
        unit = b_pos // 14
        letters = np.array(list(W.INWARD_LETTERS))
        unit_key = b_street * 1000 + unit
        uniq_units, unit_inv = np.unique(unit_key, return_inverse=True)
        l1 = letters[rng.integers(0, len(letters), len(uniq_units))]
        l2 = letters[rng.integers(0, len(letters), len(uniq_units))]
        b_postcode = (
            dist_names[street_district[b_street]]
            + " "
            + street_sector[b_street].astype(str)
            + l1[unit_inv]
            + l2[unit_inv]
        )
        flats = np.where(kind == 1, rng.integers(2, 7, nb), 1)

        # addresses (one per flat)
        a_b = np.repeat(np.arange(nb), flats)
        na = len(a_b)
        b_first = np.concatenate([[0], np.cumsum(flats)[:-1]])
        flat_no = np.where(kind[a_b] == 1, np.arange(na) - b_first[a_b] + 1, 0)
        a_street = b_street[a_b]
        a_kind = kind[a_b]
        num_txt = number[a_b].astype(str).astype(object) + letter[a_b]
        line = num_txt + " " + street[a_street]
        line_abbr = num_txt + " " + street_abbr[a_street]
        house_names = np.array(W.HOUSE_NAMES, dtype=object)
        hname = house_names[(number[a_b] + a_street) % len(house_names)]
        flat_txt = "Flat " + flat_no.astype(str).astype(object)
        addr1 = np.where(a_kind == 1, flat_txt + ", " + line, np.where(a_kind == 2, hname, line))
        addr1_abbr = np.where(
            a_kind == 1, flat_txt + ", " + line_abbr, np.where(a_kind == 2, hname, line_abbr)
        )
        addr2 = np.where(a_kind == 2, street[a_street], street_loc[a_street])
        addr2_abbr = np.where(a_kind == 2, street_abbr[a_street], street_loc[a_street])
        # the split form some systems use: "Flat 2" / "14 Oak Road"
        split1 = np.where(a_kind == 1, flat_txt, addr1)
        split2 = np.where(a_kind == 1, line, addr2)

        # communal establishments: named buildings past the end of random streets
        cs = rng.integers(0, n_streets, n_communal)
        c_num = lengths[cs] + 1 + np.arange(n_communal)
        c_kind = np.where(rng.random(n_communal) < 0.6, 3, 4)  # 3 care home, 4 hostel
        care = np.array(W.CARE_HOME_NAMES, dtype=object)
        host = np.array(W.HOSTEL_NAMES, dtype=object)
        c_name = np.where(
            c_kind == 3,
            care[np.arange(n_communal) % len(care)],
            host[np.arange(n_communal) % len(host)],
        )
        c_line = c_num.astype(str).astype(object) + " " + street[cs]
        c_line_abbr = c_num.astype(str).astype(object) + " " + street_abbr[cs]
        c_pc = b_postcode[street_start[cs]]

        def cat(a: npt.ArrayLike, b: npt.ArrayLike, nfa: object) -> npt.NDArray:
            return np.concatenate(
                [
                    np.asarray(a, dtype=object),
                    np.asarray(b, dtype=object),
                    np.array([nfa], dtype=object),
                ]
            )

        self.A = pd.DataFrame(
            {
                "kind": cat(a_kind, c_kind, 5),  # 5 = no fixed abode
                "street": cat(a_street, cs, -1).astype(np.int64),
                "district": cat(street_district[a_street], street_district[cs], -1).astype(
                    np.int64
                ),
                "a1": cat(addr1, c_name, "No fixed abode"),
                "a1_abbr": cat(addr1_abbr, c_name, "NFA"),
                "a2": cat(addr2, c_line, ""),
                "a2_abbr": cat(addr2_abbr, c_line_abbr, ""),
                "s1": cat(split1, c_name, "No fixed abode"),
                "s2": cat(split2, c_line, ""),
                "town": cat(
                    dist_towns[street_district[a_street]], dist_towns[street_district[cs]], ""
                ),
                "postcode": cat(b_postcode[a_b], c_pc, NFA_POSTCODE),
            }
        )
        self.A["kind"] = self.A["kind"].astype(np.int64)
        n_all = len(self.A)
        self.A["uprn"] = (100070000000 + rng.permutation(n_all) * 37 + 11).astype(str)
        self.A.loc[self.A["kind"] == 5, "uprn"] = ""
        self.nfa_addr = n_all - 1
        self.n_regular_addr = na
        self.n_streets = n_streets
        self.addr_provider = (
            self.A["town"].map(_TOWN_PROVIDER).fillna(0).astype(np.int64).to_numpy()
        )

    # ---------------------------------------------------------------- population
    def _build_population(self) -> None:
        rng, n = self.rng, self.n
        n_nfa = max(2, round(0.003 * n))
        n_comm_target = max(12, round(0.006 * n))
        comm_sizes: list[int] = []
        sizes_c = rng.integers(12, 41, n_comm_target // 12 + 2)
        csum_c = np.cumsum(sizes_c)
        k = int(np.searchsorted(csum_c, n_comm_target)) + 1
        comm_sizes = [int(x) for x in sizes_c[:k]]
        n_comm = int(sum(comm_sizes))
        n_house = n - n_nfa - n_comm

        # household types: 0 single, 1 couple, 2 couple+children, 3 lone parent,
        # 4 sharers, 5 couple + adult child
        h_est = int(n_house / 2.2) + 50
        htype = _weighted(rng, [0.29, 0.27, 0.22, 0.08, 0.07, 0.07], h_est)
        n_adults = np.select(
            [htype == 0, htype == 3, htype == 4, htype == 5],
            [1, 1, rng.integers(2, 5, h_est), rng.integers(3, 5, h_est)],
            2,
        )
        n_kids = np.select(
            [htype == 2, htype == 3],
            [
                _weighted(rng, [0.4, 0.4, 0.15, 0.05], h_est) + 1,
                _weighted(rng, [0.5, 0.35, 0.15], h_est) + 1,
            ],
            0,
        )
        size = n_adults + n_kids
        csum = np.cumsum(size)
        n_h = int(np.searchsorted(csum, n_house)) + 1
        htype, n_adults, n_kids, size = htype[:n_h], n_adults[:n_h], n_kids[:n_h], size[:n_h]
        excess = int(csum[n_h - 1] - n_house)
        size[-1] -= excess
        n_kids[-1] = max(0, size[-1] - n_adults[-1])
        n_adults[-1] = size[-1] - n_kids[-1]

        self._build_addresses(int(n_h * 1.3) + 40, len(comm_sizes))
        n_reg_addr = self.n_regular_addr
        addr_perm = rng.permutation(n_reg_addr)
        h_addr = addr_perm[:n_h]
        self.free_addr = addr_perm[n_h:]  # for previous addresses and refuges
        self._free_ptr = 0
        comm_addr = np.arange(n_reg_addr, n_reg_addr + len(comm_sizes))

        # persons in ordinary households
        hh = np.repeat(np.arange(n_h), size)
        starts = np.concatenate([[0], np.cumsum(size)[:-1]])
        pos = np.arange(len(hh)) - starts[hh]
        t = htype[hh]
        adult = pos < n_adults[hh]
        role = np.full(len(hh), 3)  # 0 head, 1 partner, 2 child, 3 other adult, 4 adult child
        role[pos == 0] = 0
        role[(pos == 1) & np.isin(t, [1, 2, 5])] = 1
        role[(pos >= 2) & (t == 5)] = 4
        role[~adult] = 2
        np_h = len(hh)

        head_age = np.select(
            [htype == 0, htype == 1, htype == 2, htype == 3, htype == 4, htype == 5],
            [
                rng.integers(18, 93, n_h),
                rng.integers(20, 91, n_h),
                rng.integers(22, 51, n_h),
                rng.integers(18, 51, n_h),
                rng.integers(18, 41, n_h),
                rng.integers(42, 76, n_h),
            ],
        )
        age = np.where(role == 0, head_age[hh], 0)
        partner_age = np.clip(head_age[hh] + np.round(rng.normal(0, 4, np_h)).astype(int), 18, 99)
        age = np.where(role == 1, partner_age, age)
        # partners differ by a few years: keep every parent 18+ at the birth
        youngest_parent = np.clip(head_age - 26, 0, 17)[hh]
        age = np.where(role == 2, (rng.random(np_h) * (youngest_parent + 1)).astype(int), age)
        age = np.where(
            role == 4,
            18 + (rng.random(np_h) * np.clip(head_age[hh] - 36, 1, 17)).astype(int),
            age,
        )
        age = np.where(role == 3, rng.integers(18, 46, np_h), age)

        head_sex = np.where(
            htype == 3,
            np.where(rng.random(n_h) < 0.85, "F", "M"),
            np.where(rng.random(n_h) < 0.5, "M", "F"),
        )
        opp = np.where(head_sex[hh] == "M", "F", "M")
        rand_sex = np.where(rng.random(np_h) < 0.5, "M", "F")
        sex = np.where(
            role == 0,
            head_sex[hh],
            np.where(role == 1, np.where(rng.random(np_h) < 0.96, opp, head_sex[hh]), rand_sex),
        )

        h_surname = self.sample_surname(n_h)
        own = self.sample_surname(np_h)
        married = (role == 1) & (sex != head_sex[hh]) & (rng.random(np_h) < 0.6)
        family = np.where(np.isin(role, [0, 2, 4]), h_surname[hh], own)
        family = np.where(married, h_surname[hh], family)
        # the woman of a married couple carries the maiden name
        maiden = np.where(married & (sex == "F"), own, "")
        head_maiden = np.zeros(np_h, dtype=bool)
        head_is_wife = married & (sex == "M")  # head is the woman: her maiden name
        head_rows = starts[hh[head_is_wife]]
        head_maiden[head_rows] = True
        maiden = np.where(head_maiden, self.sample_surname(np_h), maiden)
        kid_other = (role == 2) & (rng.random(np_h) < 0.12)
        family = np.where(kid_other, own, family)

        # communal residents
        c_hh = np.repeat(np.arange(len(comm_sizes)), comm_sizes)
        c_kind = self.A["kind"].to_numpy()[comm_addr][c_hh]
        c_age = np.where(c_kind == 3, rng.integers(72, 101, n_comm), rng.integers(18, 66, n_comm))
        c_sex = np.where(rng.random(n_comm) < np.where(c_kind == 3, 0.65, 0.25), "F", "M")

        nfa_age = rng.integers(18, 70, n_nfa)
        nfa_sex = np.where(rng.random(n_nfa) < 0.25, "F", "M")

        all_age = np.concatenate([age, c_age, nfa_age])
        all_sex = np.concatenate([sex, c_sex, nfa_sex]).astype("<U1")
        n_all = len(all_age)
        dob = (
            self.as_of
            - (all_age * 365.25).astype("timedelta64[D]")
            - rng.integers(1, 365, n_all).astype("timedelta64[D]")
        )
        household = np.concatenate([hh, n_h + c_hh, np.full(n_nfa, -1)])
        hh_kind = np.concatenate([np.zeros(np_h, int), np.ones(n_comm, int), np.full(n_nfa, 2)])
        role_all = np.concatenate([role, np.full(n_comm + n_nfa, 3)])
        family_all = np.concatenate([family, self.sample_surname(n_comm + n_nfa)])
        maiden_all = np.concatenate([maiden, np.full(n_comm + n_nfa, "", dtype=object)])
        given = self.sample_given(all_sex)

        # twins: in families with 2+ children the second child shares the first's birthday
        first_kid = (role == 2) & (pos == n_adults[hh])
        second_kid = (role == 2) & (pos == n_adults[hh] + 1)
        twin_h = np.flatnonzero(n_kids >= 2)
        n_twins = min(len(twin_h), max(2, round(0.02 * len(twin_h))))
        twin_h = rng.choice(twin_h, n_twins, replace=False) if n_twins else twin_h[:0]
        fk = np.flatnonzero(first_kid)[np.isin(hh[first_kid], twin_h)]
        sk = np.flatnonzero(second_kid)[np.isin(hh[second_kid], twin_h)]
        dob[sk] = dob[fk]
        family_all[sk] = family_all[fk]
        same = given[sk] == given[fk]
        given[sk[same]] = (given[sk[same]] + 2) % len(self.given_names)
        all_sex_fixed = self.given_sex[given[sk]]
        all_sex[sk] = all_sex_fixed

        nhs = self._nhs_numbers(n_all)
        cur_addr = np.concatenate([h_addr[hh], comm_addr[c_hh], np.full(n_nfa, self.nfa_addr)])
        maiden_src = np.where(
            (maiden_all != "") & (rng.random(n_all) < self.c.maiden_name_kept),
            rng.choice([_AE, _MH, _POLICE], n_all),
            0,
        )
        self.P = pd.DataFrame(
            {
                "household": household,
                "hh_kind": hh_kind,
                "role": role_all,
                "sex": all_sex,
                "given": given,
                "family": family_all,
                "maiden": maiden_all,
                "maiden_src": maiden_src,
                "dob": dob,
                "nhs": nhs,
                "cur_addr": cur_addr,
                "prev_addr": np.full(n_all, -1),
                "move_date": np.full(n_all, np.datetime64("NaT"), dtype="datetime64[D]"),
                "stale": np.zeros(n_all, dtype=np.int64),
                "sensitive": np.zeros(n_all, dtype=bool),
            }
        )
        self.P["person_id"] = _ids("P", np.arange(1, n_all + 1), 7)
        self.n_households = n_h + len(comm_sizes)
        self.h_kind = np.concatenate([np.zeros(n_h, int), np.ones(len(comm_sizes), int)])
        self.h_addr = np.concatenate([h_addr, comm_addr])

        self.scenario("TWINS", np.concatenate([fk, sk]))
        self.scenario("MAIDEN_NAME_KEPT", np.flatnonzero(maiden_src > 0))
        self.scenario("COMMUNAL", np.flatnonzero(hh_kind == 1))
        self.scenario("NO_FIXED_ABODE", np.flatnonzero(hh_kind == 2))

        # movers: whole households that came from another address in the last 5 years
        movable = np.flatnonzero(self.h_kind == 0)
        movers = rng.choice(movable, int(0.12 * len(movable)), replace=False)
        m_date = self.days_ago(30, 1800, len(movers))
        m_prev = self.take_free(len(movers))
        h_prev = np.full(self.n_households, -1)
        h_move = np.full(self.n_households, np.datetime64("NaT"), dtype="datetime64[D]")
        h_prev[movers] = m_prev
        h_move[movers] = m_date
        hp = self.P["household"].to_numpy()
        in_h = hp >= 0
        prev = np.full(n_all, -1)
        move = np.full(n_all, np.datetime64("NaT"), dtype="datetime64[D]")
        prev[in_h] = h_prev[hp[in_h]]
        move[in_h] = h_move[hp[in_h]]
        self.P["prev_addr"] = prev
        self.P["move_date"] = move
        self.scenario("MOVER", np.flatnonzero(prev >= 0))

    def take_free(self, k: int) -> IntArray:
        out = self.free_addr[self._free_ptr : self._free_ptr + k]
        if len(out) < k:
            raise RuntimeError("address pool exhausted")  # sized with room to spare
        self._free_ptr += k
        return out.astype(np.int64)

    def _nhs_numbers(self, k: int) -> npt.NDArray[np.object_]:
        # 9xx xxx xxxx: the range the spine never issues to real patients in England
        base = self.rng.integers(900_000_000, 1_000_000_000, int(k * 1.25) + 100)
        base = np.asarray(pd.unique(base), dtype=np.int64)
        check = _nhs_check_digit(base)
        base, check = base[check != 10], check[check != 10]
        if len(base) < k:
            raise RuntimeError("not enough NHS numbers drawn")
        return (base[:k] * 10 + check[:k]).astype(str).astype(object)

    # ---------------------------------------------------------------- GP registrations
    def _build_gp_registrations(self) -> None:
        rng, P = self.rng, self.P
        n = len(P)
        self.n_practices = max(3, round(self.n / 9000))
        self.practices = np.array(
            [f"M85{k:03d}" for k in range(1, 3 * self.n_practices + 1, 3)], dtype=object
        )
        street = self.A["street"].to_numpy()
        cur = P["cur_addr"].to_numpy()
        st = street[cur]
        practice = np.where(
            st >= 0, (st * self.n_practices) // self.n_streets, rng.integers(0, self.n_practices, n)
        )
        # households mostly register together; some people chose another practice
        other = rng.random(n) < 0.08
        practice = np.where(other, rng.integers(0, self.n_practices, n), practice)
        hk = P["hh_kind"].to_numpy()
        akind = self.A["kind"].to_numpy()[cur]
        p_reg = np.select([hk == 2, akind == 4], [0.4, 0.7], 0.975)
        registered = rng.random(n) < p_reg
        dob = P["dob"].to_numpy().astype("datetime64[D]")
        reg_on = np.maximum(dob, self.days_ago(0, 365 * 25, n))
        move = P["move_date"].to_numpy().astype("datetime64[D]")
        moved = ~np.isnat(move)
        reg_on = np.where(moved & registered, np.maximum(move + 7, dob), reg_on)
        # movers kept only GP-registered people: a stale non-GP source needs a GP address to win
        changed = moved & registered & (rng.random(n) < 0.5)
        old_practice = np.where(
            changed,
            (practice + 1 + rng.integers(0, self.n_practices - 1, n)) % self.n_practices,
            -1,
        )
        stale = moved & registered & (rng.random(n) < self.c.stale_address)
        P["stale"] = np.where(stale, rng.choice([_AE, _MH, _POLICE], n), 0)
        P["practice"] = np.where(registered, practice, -1)
        P["reg_on"] = np.where(registered, reg_on, np.datetime64("NaT"))
        P["old_practice"] = old_practice
        P["old_reg_on"] = np.maximum(
            dob, move - rng.integers(200, 4000, n).astype("timedelta64[D]")
        )
        self.scenario("GP_PRACTICE_CHANGE", np.flatnonzero(changed))
        self.scenario("STALE_ADDRESS_SOURCE", np.flatnonzero(stale))

    def practice_at(self, pidx: IntArray, when: DateArray) -> tuple[IntArray, BoolArray]:
        """Practice index the person was registered with on ``when`` (-1 none), and old-row flag."""
        P = self.P
        cur = P["practice"].to_numpy()[pidx]
        reg = P["reg_on"].to_numpy()[pidx]
        old = P["old_practice"].to_numpy()[pidx]
        is_old = (old >= 0) & (when < reg)
        pr = np.where(is_old, old, np.where(when >= reg, cur, -1))
        pr = np.where(np.isnat(reg) & ~is_old, -1, pr)
        return pr, is_old

    def addr_at(self, pidx: IntArray, when: DateArray, bit: int) -> IntArray:
        P = self.P
        prev = P["prev_addr"].to_numpy()[pidx]
        move = P["move_date"].to_numpy()[pidx]
        cur = P["cur_addr"].to_numpy()[pidx]
        before = (prev >= 0) & (when.astype("datetime64[D]") < move)
        stale = (prev >= 0) & ((P["stale"].to_numpy()[pidx] & bit) != 0)
        return np.where(before | stale, prev, cur)

    # ---------------------------------------------------------------- record factories
    def add_ae(
        self,
        pidx: IntArray,
        arrival: DateArray,
        *,
        complaint: npt.ArrayLike | None = None,
        intent: npt.ArrayLike = "",
        diagnoses: npt.ArrayLike | None = None,
        safeguarding: npt.ArrayLike = "",
        letter: npt.ArrayLike = "auto",
        receipt: npt.ArrayLike = "auto",
        provider: IntArray | None = None,
        tag: str = "",
    ) -> pd.DataFrame:
        rng = self.rng
        k = len(pidx)
        if provider is None:
            home = self.addr_provider[self.P["cur_addr"].to_numpy()[pidx]]
            away = rng.integers(0, len(AE_PROVIDERS), k)
            provider = np.where(rng.random(k) < 0.82, home, away)
        if complaint is None:
            complaint = np.array(W.AE_COMPLAINTS, dtype=object)[
                rng.integers(0, len(W.AE_COMPLAINTS), k)
            ]
        if diagnoses is None:
            dx = np.array(W.AE_DIAGNOSES, dtype=object)
            d1 = dx[rng.integers(0, len(dx), k)]
            d2 = dx[rng.integers(0, len(dx), k)]
            diagnoses = np.where((rng.random(k) < 0.3) & (d1 != d2), d1 + "|" + d2, d1)
        stay = np.clip(rng.lognormal(np.log(200), 0.6, k), 25, 60 * 20).astype(np.int64)
        departure = arrival + stay.astype("timedelta64[m]")
        departure = np.where(rng.random(k) < 0.01, np.datetime64("NaT"), departure)
        dest = np.array(W.AE_DISCHARGES, dtype=object)[_weighted(rng, [0.75, 0.18, 0.05, 0.02], k)]
        frame = pd.DataFrame(
            {
                "pidx": pidx,
                "provider": provider,
                "arrival": arrival.astype("datetime64[m]"),
                "departure": departure.astype("datetime64[m]"),
                "complaint": complaint,
                "intent": intent,
                "diagnoses": diagnoses,
                "safeguarding": safeguarding,
                "destination": dest,
                "letter": letter,
                "receipt": receipt,
                "tag": tag,
            }
        )
        frame["seq"] = sum(len(f) for f in self.ae) + np.arange(k)
        self.ae.append(frame)
        return frame

    def add_incident(
        self,
        occurred: DateArray,
        victims: IntArray,
        suspects: IntArray,
        *,
        domestic: bool = True,
        dash: npt.ArrayLike = "",
        marac: DateArray | None = None,
        bail_conditions: npt.ArrayLike = "N",
        bail_breach: npt.ArrayLike = "N",
        outcome: npt.ArrayLike | None = None,
        children: list[tuple[IntArray, IntArray]] | None = None,
        tag: str = "",
    ) -> IntArray:
        """One incident per element; victims/suspects may be -1 (absent).  Returns incident nos."""
        rng = self.rng
        k = len(occurred)
        inc = self._incident_seq + np.arange(k)
        self._incident_seq += k
        if outcome is None:
            pool = W.POLICE_OUTCOMES_DA if domestic else W.POLICE_OUTCOMES_OTHER
            outcome = np.array(pool, dtype=object)[rng.integers(0, len(pool), k)]
        nat = np.full(k, np.datetime64("NaT"), dtype="datetime64[D]")
        base = {
            "incident": inc,
            "occurred": occurred.astype("datetime64[m]"),
            "domestic": "Y" if domestic else "N",
            "dash": dash,
            "bail_conditions": bail_conditions,
            "bail_breach": bail_breach,
            "outcome": outcome,
            "tag": tag,
        }
        frames = [
            pd.DataFrame(
                {
                    **base,
                    "pidx": victims,
                    "role": "VICTIM",
                    "marac": nat if marac is None else marac,
                }
            ),
            pd.DataFrame({**base, "pidx": suspects, "role": "SUSPECT", "marac": nat}),
        ]
        for sel, kid in children or []:
            frames.append(
                pd.DataFrame(
                    {key: (np.asarray(v)[sel] if np.ndim(v) else v) for key, v in base.items()}
                ).assign(pidx=kid, role="CHILD_PRESENT", marac=nat[: len(sel)])
            )
        out = pd.concat(frames, ignore_index=True)
        self.pol.append(out[out["pidx"] >= 0])
        return inc

    def add_gp_event(
        self,
        pidx: IntArray,
        when: DateArray,
        code: npt.ArrayLike,
        term: npt.ArrayLike,
        tag: str = "",
    ) -> None:
        self.gpe.append(
            pd.DataFrame(
                {
                    "pidx": pidx,
                    "date": when.astype("datetime64[D]"),
                    "code": code,
                    "term": term,
                    "tag": tag,
                }
            )
        )

    def add_mh_spell(
        self,
        pidx: IntArray,
        discharge: DateArray,
        *,
        method: npt.ArrayLike,
        letter: npt.ArrayLike = "auto",
        codes: npt.ArrayLike | None = None,
        tag: str = "",
    ) -> None:
        """Referral, a few contacts, an admission and its discharge for each person."""
        rng = self.rng
        k = len(pidx)
        los = rng.integers(3, 40, k).astype("timedelta64[D]")
        admit = discharge - los
        referral = admit - rng.integers(5, 200, k).astype("timedelta64[D]")
        if codes is None:
            mh = np.array(W.MH_CODES, dtype=object)
            codes = mh[rng.integers(0, len(mh), k)]
        codes = np.asarray(codes, dtype=object) if np.ndim(codes) else np.full(k, codes, object)
        spell = self._mh_spell_seq + np.arange(k)
        self._mh_spell_seq += k
        nat = np.full(k, np.datetime64("NaT"), dtype="datetime64[D]")
        rows = [
            pd.DataFrame(
                {
                    "pidx": pidx,
                    "type": "REFERRAL",
                    "start": referral,
                    "end": nat,
                    "codes": codes,
                    "method": "",
                    "letter": "",
                    "tag": tag,
                    "spell": spell,
                }
            ),
            pd.DataFrame(
                {
                    "pidx": pidx,
                    "type": "ADMISSION",
                    "start": admit,
                    "end": discharge,
                    "codes": codes,
                    "method": "",
                    "letter": "",
                    "tag": tag,
                    "spell": spell,
                }
            ),
            pd.DataFrame(
                {
                    "pidx": pidx,
                    "type": "DISCHARGE",
                    "start": discharge,
                    "end": discharge,
                    "codes": "",
                    "method": method,
                    "letter": letter,
                    "tag": tag,
                    "spell": spell,
                }
            ),
        ]
        n_contacts = rng.integers(0, 4, k)
        ci = np.repeat(np.arange(k), n_contacts)
        if len(ci):
            cdate = referral[ci] + rng.integers(1, 60, len(ci)).astype("timedelta64[D]")
            cdate = np.minimum(cdate, admit[ci])
            rows.append(
                pd.DataFrame(
                    {
                        "pidx": pidx[ci],
                        "type": "CONTACT",
                        "start": cdate,
                        "end": cdate,
                        "codes": codes[ci],
                        "method": "",
                        "letter": "",
                        "tag": tag,
                        "spell": spell[ci],
                    }
                )
            )
        self.mh.append(pd.concat(rows, ignore_index=True))

    def add_mh_contacts(
        self, pidx: IntArray, when: DateArray, codes: npt.ArrayLike, tag: str = ""
    ) -> None:
        k = len(pidx)
        nat = np.full(k, np.datetime64("NaT"), dtype="datetime64[D]")
        ref = pd.DataFrame(
            {
                "pidx": pidx,
                "type": "REFERRAL",
                "start": when,
                "end": nat,
                "codes": codes,
                "method": "",
                "letter": "",
                "tag": tag,
                "spell": -1,
            }
        )
        con = ref.assign(
            type="CONTACT", start=when + self.rng.integers(3, 40, k).astype("timedelta64[D]")
        )
        con["end"] = con["start"]
        self.mh.append(pd.concat([ref, con], ignore_index=True))

    # ---------------------------------------------------------------- DA couples
    def _plant_da_couples(self) -> None:
        rng, P = self.rng, self.P
        role = P["role"].to_numpy()
        hh = P["household"].to_numpy()
        sex = P["sex"].to_numpy()
        heads = np.flatnonzero(role == 0)
        partners = np.flatnonzero(role == 1)
        head_of = np.full(self.n_households, -1)
        head_of[hh[heads]] = heads
        cand_partner = partners[sex[partners] != sex[head_of[hh[partners]]]]
        cand_head = head_of[hh[cand_partner]]
        n_couples = min(len(cand_partner), max(24, round(0.012 * self.n)))
        pick = rng.choice(len(cand_partner), n_couples, replace=False)
        a, b = cand_head[pick], cand_partner[pick]
        # victim: the woman in 85% of couples
        a_female = sex[a] == "F"
        victim_is_a = np.where(rng.random(n_couples) < 0.85, a_female, ~a_female)
        vic = np.where(victim_is_a, a, b)
        sus = np.where(victim_is_a, b, a)
        # the seed couple: a two-person household, preferably
        size = np.bincount(hh[hh >= 0], minlength=self.n_households)
        age_v = (self.as_of - P["dob"].to_numpy().astype("datetime64[D]")).astype(int) // 365
        two = np.flatnonzero(
            (size[hh[vic]] == 2)
            & (age_v[vic] >= 25)
            & (age_v[vic] <= 55)
            & (age_v[sus] >= 25)
            & (sex[vic] == "F")
            & (age_v[sus] <= 55)
        )
        first = int(two[0]) if len(two) else 0
        order = np.concatenate([[first], np.delete(np.arange(n_couples), first)])
        vic, sus = vic[order], sus[order]
        C = n_couples

        # features on disjoint slices (wrapping round when there are too few couples)
        rates = {
            "MARAC-REPEAT": 0.12,
            "BAIL-BREACH": 0.10,
            "DA-SH": 0.10,
            "MH-SD-DA": 0.08,
            "FLED": 0.06,
            "SERIAL": 0.08,
            "FA-DA": 0.05,
        }
        feat: dict[str, IntArray] = {}
        ptr = 1
        for name, rate in rates.items():
            cnt = max(3, round(rate * C))
            feat[name] = (ptr + np.arange(cnt)) % (C - 1) + 1
            ptr += cnt

        # status of each couple: days since the latest incident
        status = _weighted(rng, [0.35, 0.25, 0.15, 0.25], C)
        lo = np.array([1, 91, 366, 731])[status]
        hi = np.array([88, 365, 730, 1700])[status]
        recent = np.concatenate(
            [
                feat["MARAC-REPEAT"],
                feat["BAIL-BREACH"],
                feat["DA-SH"],
                feat["MH-SD-DA"],
                feat["FA-DA"],
            ]
        )
        lo[recent], hi[recent] = 10, 250
        last_ago = lo + (rng.random(C) * (hi - lo)).astype(np.int64)
        n_inc = rng.integers(2, 6, C)
        n_inc[feat["MARAC-REPEAT"]] = np.maximum(n_inc[feat["MARAC-REPEAT"]], 2)

        # seed scenario timing (see _seed_day)
        seed_day = self._seed_day()
        last_ago[0] = int((self.as_of - (seed_day - 45)).astype(int))
        n_inc[0] = 2

        ci = np.repeat(np.arange(C), n_inc)
        kth = np.arange(len(ci)) - np.concatenate([[0], np.cumsum(n_inc)[:-1]])[ci]
        gaps = rng.integers(25, 240, len(ci))
        gaps[kth == 0] = 0
        marac_c = np.zeros(C, dtype=bool)
        marac_c[feat["MARAC-REPEAT"]] = True
        gaps[(kth == 1) & marac_c[ci]] = rng.integers(
            30, 180, int(((kth == 1) & marac_c[ci]).sum())
        )
        gaps[(kth == 1) & (ci == 0)] = 145
        ago = last_ago[ci] + pd.Series(gaps).groupby(ci).cumsum().to_numpy()
        keep = (ago <= 1820) | (kth == 0)
        ci, kth, ago = ci[keep], kth[keep], ago[keep]
        day = self.as_of - ago.astype("timedelta64[D]")
        occurred = self.at_time(day, evening=True)
        m = len(ci)

        dash = np.array(["STANDARD", "MEDIUM", "HIGH"], dtype=object)[
            _weighted(rng, [0.5, 0.35, 0.15], m)
        ]
        is_marac_inc = (kth == 1) & marac_c[ci]
        dash[is_marac_inc | ((ci == 0) & (kth == 1))] = "HIGH"
        # no fresh MARAC on the repeat incident itself: it must follow the referral
        dash[(kth == 0) & (marac_c[ci] | (ci == 0))] = "MEDIUM"
        marac_referred = (dash == "HIGH") & ((rng.random(m) < 0.8) | is_marac_inc | (ci == 0))
        marac = np.where(
            marac_referred,
            day + rng.integers(2, 10, m).astype("timedelta64[D]"),
            np.datetime64("NaT"),
        ).astype("datetime64[D]")
        marac[(ci == 0) & (kth == 1)] = day[(ci == 0) & (kth == 1)] + 5
        outcome = np.array(W.POLICE_OUTCOMES_DA, dtype=object)[
            rng.integers(0, len(W.POLICE_OUTCOMES_DA), m)
        ]
        bail_c = np.zeros(C, dtype=bool)
        bail_c[feat["BAIL-BREACH"]] = True
        bail_c[0] = True
        outcome[(kth == 1) & bail_c[ci]] = "Charged"
        # after a charge the next incident happens with bail conditions in force
        # rows run newest-first within a couple: row i+1 is the incident before row i
        charged_prev = np.zeros(m, dtype=bool)
        charged_prev[:-1] = (ci[1:] == ci[:-1]) & (outcome[1:] == "Charged")
        bail_cond = charged_prev & (rng.random(m) < 0.6)
        breach = bail_cond & (rng.random(m) < 0.4)
        forced = (kth == 0) & bail_c[ci]
        bail_cond |= forced
        breach |= forced

        kids_of = self._children_by_household()
        child_sel, child_p = kids_of(P["household"].to_numpy()[vic[ci]], occurred)
        present = rng.random(len(child_sel)) < 0.6
        self.add_incident(
            occurred,
            vic[ci],
            sus[ci],
            dash=dash,
            marac=marac,
            bail_conditions=np.where(bail_cond, "Y", "N"),
            bail_breach=np.where(breach, "Y", "N"),
            outcome=outcome,
            children=[(child_sel[present], child_p[present])],
            tag="DA",
        )
        # a neighbour sometimes witnesses: an extra row on the same incident
        da_rows = self.pol[-1]
        victim_rows = da_rows[da_rows["role"] == "VICTIM"]
        wit = victim_rows[rng.random(len(victim_rows)) < 0.08]
        neighbours = rng.integers(0, len(P), len(wit))
        wit = wit.assign(pidx=neighbours, role="WITNESS")
        wit.loc[:, "marac"] = wit["marac"].where(wit["marac"].isna())
        self.pol.append(wit)

        self.scenario("DA_COUPLE_VICTIM", vic)
        self.scenario("DA_COUPLE_SUSPECT", sus)
        mr = feat["MARAC-REPEAT"]
        self.scenario("MARAC-REPEAT", vic[np.concatenate([[0], mr])])
        self.scenario("BAIL-BREACH", vic[np.concatenate([[0], feat["BAIL-BREACH"]])])

        # GP knows about some of it
        gp_da = (rng.random(m) < 0.25) & (ci != 0)
        da_codes = np.array(W.DA_CODES, dtype=object)
        pick_c = rng.integers(0, len(da_codes), int(gp_da.sum()))
        self.add_gp_event(
            vic[ci[gp_da]],
            day[gp_da] + rng.integers(3, 40, int(gp_da.sum())),
            da_codes[pick_c, 0],
            da_codes[pick_c, 1],
            tag="DA",
        )
        first_inc = kth == n_inc[ci] - 1
        kid_gp = np.isin(child_sel, np.flatnonzero(first_inc & (rng.random(m) < 0.5)))
        self.add_gp_event(
            child_p[kid_gp],
            occurred[child_sel[kid_gp]].astype("datetime64[D]") + 14,
            _DA_CHILD,
            W.DA_CHILD_CODE[1],
            tag="DA-CHILD",
        )
        # injuries from assaults at A&E, some with a DA safeguarding concern
        inj = (rng.random(m) < 0.3) & (ci != 0)
        k = int(inj.sum())
        inj_complaint = np.array(W.AE_INJURY_COMPLAINTS, dtype=object)[
            rng.integers(0, len(W.AE_INJURY_COMPLAINTS), k)
        ]
        sg = np.where(rng.random(k) < 0.5, da_codes[rng.integers(0, len(da_codes), k), 0], "")
        self.add_ae(
            vic[ci[inj]],
            occurred[inj] + rng.integers(20, 300, k).astype("timedelta64[m]"),
            complaint=inj_complaint,
            intent=W.INTENT_ASSAULT,
            safeguarding=sg,
            tag="DA-INJURY",
        )

        # HH-DA: victim and suspect flag each other (and their children) while DA is known
        known = (last_ago <= 700) & ~np.isin(np.arange(C), feat["FLED"])
        _, kids = kids_of(
            P["household"].to_numpy()[vic[known]], np.full(int(known.sum()), self.as_of)
        )
        self.scenario("HH-DA", np.concatenate([vic[known], sus[known], kids]))
        self._seed_scenario(vic[0], sus[0], seed_day)
        self._da_self_harm(vic[feat["DA-SH"]])
        self._da_self_discharge(vic, sus, feat["MH-SD-DA"])
        self._fled(vic[feat["FLED"]], feat["FLED"], ci, day)
        self._serial(sus[feat["SERIAL"]], vic[feat["SERIAL"]], ci, day, feat["SERIAL"])
        self._da_frequent(vic[feat["FA-DA"]])
        # negatives: DA victims whose self-harm is too old for DA-SH
        old = vic[1:][status[1:] == 3]
        neg = old[: max(3, len(old) // 10)]
        if len(neg):
            self.add_ae(
                neg,
                self.at_time(self.days_ago(120, 400, len(neg))),
                complaint=W.OVERDOSE_COMPLAINT,
                intent=W.INTENT_SELF,
                diagnoses=W.OVERDOSE_DIAGNOSIS,
                tag="DA-SH-OLD",
            )
            self.scenario("NEGATIVE_DA-SH_OLD_SELF_HARM", neg)
        self.da_victims, self.da_suspects = vic, sus

    def _children_by_household(
        self,
    ) -> Callable[[IntArray, DateArray], tuple[IntArray, IntArray]]:
        """A function giving (row, child) pairs for the children of households at a date."""
        P = self.P
        kids = np.flatnonzero(P["role"].to_numpy() == 2)
        kid_h = P["household"].to_numpy()[kids]
        order = np.argsort(kid_h, kind="stable")
        kids, kid_h = kids[order], kid_h[order]
        dob = P["dob"].to_numpy()

        def expand(households: IntArray, when: DateArray) -> tuple[IntArray, IntArray]:
            lo = np.searchsorted(kid_h, households, "left")
            hi = np.searchsorted(kid_h, households, "right")
            cnt = hi - lo
            sel = np.repeat(np.arange(len(households)), cnt)
            off = np.arange(len(sel)) - np.concatenate([[0], np.cumsum(cnt)[:-1]])[sel]
            child = kids[lo[sel] + off]
            born = dob[child] < when[sel].astype("datetime64[D]")
            return sel[born], child[born]

        return expand

    def _seed_day(self) -> np.datetime64:
        """Day of the seed scenario's overdose and self-discharge.

        23 December of the year before ``as_of``'s Christmas when that is within 90 days of
        ``as_of`` (the letter then falls over Christmas), else 20 days before ``as_of``."""
        year = self.as_of_date.year if self.as_of_date.month == 12 else self.as_of_date.year - 1
        xmas = np.datetime64(date(year, 12, 23), "D")
        gap = int((self.as_of - xmas).astype(int))
        return xmas if 8 <= gap <= 85 else self.as_of - 20

    def _seed_scenario(self, her: int, him: int, d: np.datetime64) -> None:
        # both registered at one practice for years, no move, no stale source
        P = self.P
        both = np.array([her, him])
        prac = P.loc[both, "practice"].to_numpy()
        P.loc[both, "practice"] = int(prac.max()) if prac.max() >= 0 else 0
        P.loc[both, "reg_on"] = self.as_of - 1500
        P.loc[both, "old_practice"] = -1
        P.loc[both, "prev_addr"] = -1
        P.loc[both, "move_date"] = np.datetime64("NaT")
        P.loc[both, "stale"] = 0
        h = np.array([her])
        arrival = np.array([d.astype("datetime64[m]") + 19 * 60 + 40])
        f = self.add_ae(
            h,
            arrival,
            complaint=W.OVERDOSE_COMPLAINT,
            intent=W.INTENT_SELF,
            diagnoses=f"{W.OVERDOSE_DIAGNOSIS}|242824002",
            letter="seed",
            receipt="auto",
            tag="SEED",
        )
        f["departure"] = arrival + 6 * 60 + 30
        self.add_mh_spell(
            np.array([him]),
            np.array([d]),
            method="SELF",
            letter="blank",
            codes="35489007",
            tag="SEED",
        )
        spell = self.mh[-1]
        spell.loc[spell["type"] == "ADMISSION", "start"] = d - 9
        spell.loc[spell["type"] == "REFERRAL", "start"] = d - 40
        spell.loc[spell["type"] == "CONTACT", "start"] = d - 20
        spell.loc[spell["type"] == "CONTACT", "end"] = d - 20
        self.scenario("SEED", [her, him], note="overdose + partner self-discharge same day")
        for kind in ("DA-SH", "LETTER-LATE", "HH-CRISIS"):
            self.scenario(kind, [her], note="seed")
        self.scenario("MH-SD-DA", [him], note="seed")
        self.scenario("HH-CRISIS", [him], note="seed")
        self.scenario("MH-LETTER-LATE", [him], note="seed")

    def _da_self_harm(self, vic: IntArray) -> None:
        rng = self.rng
        k = len(vic)
        when = self.at_time(self.days_ago(3, 85, k))
        complaint = np.where(rng.random(k) < 0.5, W.OVERDOSE_COMPLAINT, "125605004")
        diag = np.where(complaint == W.OVERDOSE_COMPLAINT, W.OVERDOSE_DIAGNOSIS, "271982007")
        sg = np.where(rng.random(k) < 0.5, "720428004", "")
        letter = np.array(["late", "blank", "ontime", "ontime"], dtype=object)[np.arange(k) % 4]
        receipt = np.array(["missing", "auto", "blank", "auto"], dtype=object)[np.arange(k) % 4]
        self.add_ae(
            vic,
            when,
            complaint=complaint,
            intent=W.INTENT_SELF,
            diagnoses=diag,
            safeguarding=sg,
            letter=letter,
            receipt=receipt,
            tag="DA-SH",
        )
        self.scenario("DA-SH", vic)

    def _da_self_discharge(self, vic: IntArray, sus: IntArray, idx: IntArray) -> None:
        rng = self.rng
        who = np.where(rng.random(len(idx)) < 0.6, sus[idx], vic[idx])
        d = self.days_ago(2, 85, len(who))
        letter = np.array(["ontime", "late", "blank"], dtype=object)[np.arange(len(who)) % 3]
        self.add_mh_spell(who, d, method="SELF", letter=letter, tag="MH-SD-DA")
        self.scenario("MH-SD-DA", who)

    def _fled(self, vic: IntArray, idx: IntArray, ci: IntArray, day: DateArray) -> None:
        """Victims who fled (with their children) to a new address that only the GP knows."""
        P = self.P
        last = pd.Series(day).groupby(ci).max()
        fled_on = last.reindex(idx).to_numpy().astype("datetime64[D]") + 10
        fled_on = np.minimum(fled_on, self.as_of - 5)
        kids_of = self._children_by_household()
        sel, kid = kids_of(P["household"].to_numpy()[vic], fled_on)
        movers = np.concatenate([vic, kid])
        when = np.concatenate([fled_on, fled_on[sel]])
        new_addr = self.take_free(len(vic))
        new_h = self.n_households + np.arange(len(vic))
        self.n_households += len(vic)
        self.h_kind = np.concatenate([self.h_kind, np.zeros(len(vic), int)])
        self.h_addr = np.concatenate([self.h_addr, new_addr])
        target_addr = np.concatenate([new_addr, new_addr[sel]])
        target_h = np.concatenate([new_h, new_h[sel]])
        P.loc[movers, "prev_addr"] = P.loc[movers, "cur_addr"].to_numpy()
        P.loc[movers, "move_date"] = when
        P.loc[movers, "cur_addr"] = target_addr
        P.loc[movers, "household"] = target_h
        P.loc[movers, "sensitive"] = True
        P.loc[movers, "stale"] = _AE | _POLICE | _MH
        registered = P.loc[movers, "practice"].to_numpy() >= 0
        reg = movers[registered]
        P.loc[reg, "reg_on"] = when[registered] + 3
        P.loc[reg, "old_practice"] = -1
        # a sensitive record was a new registration somewhere else: old practice deregistered
        old_p = P.loc[reg, "practice"].to_numpy()
        P.loc[reg, "old_practice"] = old_p
        new_reg = P.loc[reg, "reg_on"].to_numpy().astype("datetime64[D]")
        P.loc[reg, "old_reg_on"] = np.maximum(
            new_reg - self.rng.integers(400, 4000, len(reg)).astype("timedelta64[D]"),
            P.loc[reg, "dob"].to_numpy().astype("datetime64[D]"),
        )
        P.loc[reg, "practice"] = (old_p + 1) % self.n_practices
        self.scenario("FLED_SENSITIVE", movers)

    def _serial(
        self, sus: IntArray, cur_vic: IntArray, ci: IntArray, day: DateArray, idx: IntArray
    ) -> None:
        """Each serial suspect also abused an ex-partner who now lives elsewhere."""
        rng, P = self.rng, self.P
        k = len(sus)
        sus_sex = P["sex"].to_numpy()[sus]
        single = np.flatnonzero(
            (P["role"].to_numpy() == 0)
            & (P["hh_kind"].to_numpy() == 0)
            & (P["sensitive"].to_numpy() == 0)
        )
        single = single[~np.isin(single, np.concatenate([sus, cur_vic]))]
        ex = np.empty(k, dtype=np.int64)
        for s in ("M", "F"):  # loop over two sexes, not persons
            mask = sus_sex == s
            pool = single[P["sex"].to_numpy()[single] != s]
            ex[mask] = rng.choice(pool, int(mask.sum()), replace=False)
        first = pd.Series(day).groupby(ci).min().reindex(idx).to_numpy().astype("datetime64[D]")
        n_ex = rng.integers(1, 4, k)
        ei = np.repeat(np.arange(k), n_ex)
        ex_day = np.minimum(first[ei] - 60, self.as_of - 400) - rng.integers(
            0, 700, len(ei)
        ).astype("timedelta64[D]")
        ex_day = np.maximum(ex_day, self.as_of - 1800)
        # he lived with the ex then: his address at the time is hers
        P.loc[sus, "prev_addr"] = P["cur_addr"].to_numpy()[ex]
        P.loc[sus, "move_date"] = np.minimum(first - 20, self.as_of - 30)
        self.add_incident(
            self.at_time(ex_day, evening=True), ex[ei], sus[ei], dash="STANDARD", tag="SERIAL-EX"
        )
        self.scenario("SERIAL", sus, note="ex-partner victim elsewhere")
        self.scenario("SERIAL_EX_PARTNER", ex)

    def _da_frequent(self, vic: IntArray) -> None:
        rng = self.rng
        per = rng.integers(5, 8, len(vic))
        pi = np.repeat(vic, per)
        when = self.at_time(self.days_ago(1, 350, len(pi)))
        prov = np.where(rng.random(len(pi)) < 0.5, 0, 1)
        comp = np.array(W.AE_INJURY_COMPLAINTS, dtype=object)[
            rng.integers(0, len(W.AE_INJURY_COMPLAINTS), len(pi))
        ]
        sg = np.where(rng.random(len(pi)) < 0.3, "412732008", "")
        self.add_ae(
            pi,
            when,
            complaint=comp,
            intent=W.INTENT_ASSAULT,
            safeguarding=sg,
            provider=prov,
            tag="FA-DA",
        )
        self.scenario("FA", vic, note="with known DA")

    # ---------------------------------------------------------------- other scenarios
    def _pick(
        self, k: int, *, min_age: int = 0, exclude: IntArray | None = None, household: bool = False
    ) -> IntArray:
        P = self.P
        age_ok = P["dob"].to_numpy() < self.as_of - int(min_age * 365.25)
        ok = age_ok & ~P["sensitive"].to_numpy()
        if household:
            ok &= P["hh_kind"].to_numpy() == 0
        if exclude is not None:
            ok[exclude] = False
        pool = np.flatnonzero(ok)
        return self.rng.choice(pool, min(k, len(pool)), replace=False)

    def _da_people(self) -> IntArray:
        return np.unique(np.concatenate([f["pidx"].to_numpy() for f in self.pol]))

    def _plant_frequent_attenders(self) -> None:
        rng = self.rng
        k = max(3, round(0.003 * self.n))
        fa = self._pick(k, min_age=1, exclude=self._da_people())
        per = rng.integers(5, 9, k)
        pi = np.repeat(fa, per)
        when = self.at_time(self.days_ago(0, 360, len(pi)))
        prov = rng.integers(0, 2, len(pi))
        self.add_ae(pi, when, provider=prov, tag="FA")
        self.scenario("FA", fa)
        # near misses: four in the year, one just outside it
        near = self._pick(
            max(2, k // 2), min_age=1, exclude=np.concatenate([self._da_people(), fa])
        )
        pi = np.repeat(near, 4)
        self.add_ae(pi, self.at_time(self.days_ago(5, 360, len(pi))), tag="FA-NEAR")
        self.add_ae(near, self.at_time(self.days_ago(370, 420, len(near))), tag="FA-NEAR")
        self.scenario("NEGATIVE_FA_FOUR_IN_YEAR", near)
        self.fa_people = np.concatenate([fa, near])

    def _plant_self_harm_and_crises(self) -> None:
        rng, P = self.rng, self.P
        da = self._da_people()
        # background self-harm at A&E, a quarter of it recent
        k = max(4, round(0.004 * self.n))
        sh = self._pick(k, min_age=12, exclude=da)
        recent = np.arange(k) < max(4, k // 4)
        when = np.where(recent, self.days_ago(3, 85, k), self.days_ago(91, 1800, k))
        letter = np.where(
            recent,
            np.array(["late", "ontime", "blank", "ontime"], dtype=object)[np.arange(k) % 4],
            "auto",
        )
        receipt = np.where(
            recent,
            np.array(["auto", "missing", "auto", "noref"], dtype=object)[np.arange(k) % 4],
            "auto",
        )
        comp = np.where(rng.random(k) < 0.6, W.OVERDOSE_COMPLAINT, "125605004")
        diag = np.where(comp == W.OVERDOSE_COMPLAINT, "242824002", "248062006")
        intent = np.where(rng.random(k) < 0.85, W.INTENT_SELF, "")
        self.add_ae(
            sh,
            self.at_time(when),
            complaint=comp,
            intent=intent,
            diagnoses=diag,
            letter=letter,
            receipt=receipt,
            tag="SELF-HARM",
        )
        self.scenario("SELF_HARM_NO_DA", sh)
        # GP hears about some of it later
        later = rng.random(k) < 0.5
        shc = np.array(W.SELF_HARM_CODES, dtype=object)
        c = rng.integers(0, len(shc), int(later.sum()))
        self.add_gp_event(sh[later], when[later] + 10, shc[c, 0], shc[c, 1], tag="SELF-HARM")

        # HH-CRISIS without DA: two people at one address in crisis within 14 days
        hh = P["household"].to_numpy()
        eligible = (
            (P["hh_kind"].to_numpy() == 0)
            & ~P["sensitive"].to_numpy()
            & ~np.isin(np.arange(len(P)), np.concatenate([da, sh]))
            & (P["dob"].to_numpy() < self.as_of - 13 * 365)
        )
        el = np.flatnonzero(eligible)
        el_h = hh[el]
        firsts = pd.Series(el).groupby(el_h).agg(["first", "last", "count"])
        firsts = firsts[firsts["count"] >= 2]
        n_pairs = min(len(firsts), 2 * max(3, round(0.0015 * self.n)))
        rows = firsts.iloc[rng.choice(len(firsts), n_pairs, replace=False)]
        p1 = rows["first"].to_numpy()
        p2 = rows["last"].to_numpy()
        half = n_pairs // 2
        t1 = self.days_ago(25, 85, n_pairs)
        gap = np.where(
            np.arange(n_pairs) < half, rng.integers(0, 15, n_pairs), rng.integers(20, 40, n_pairs)
        )
        t2 = np.minimum(t1 + gap, self.as_of)
        gap = (t2 - t1).astype(int)
        self.add_ae(
            p1,
            self.at_time(t1),
            complaint=W.OVERDOSE_COMPLAINT,
            intent=W.INTENT_SELF,
            diagnoses=W.OVERDOSE_DIAGNOSIS,
            tag="HH-CRISIS",
        )
        pos = np.arange(n_pairs) < half
        mh_second = pos & (np.arange(n_pairs) % 2 == 1)
        ae_second = ~mh_second
        self.add_ae(
            p2[ae_second],
            self.at_time(t2[ae_second]),
            complaint="125605004",
            intent=W.INTENT_SELF,
            diagnoses="271982007",
            tag="HH-CRISIS",
        )
        self.add_mh_spell(p2[mh_second], t2[mh_second], method="SELF", tag="HH-CRISIS")
        self.scenario("HH-CRISIS", np.concatenate([p1[pos], p2[pos]]))
        self.scenario("NEGATIVE_HH-CRISIS_TOO_FAR_APART", np.concatenate([p1[~pos], p2[~pos]]))
        self.crisis_people = np.concatenate([p1, p2, sh])

    def _plant_mh(self) -> None:
        rng = self.rng
        exclude = np.concatenate([self._da_people(), self.crisis_people])
        # background MH caseload: referrals and contacts, some admissions
        k = round(0.03 * self.n)
        pts = self._pick(k, min_age=12, exclude=exclude)
        k = len(pts)
        sh = rng.random(k) < 0.12
        shc = np.array([c for c, _ in W.SELF_HARM_CODES], dtype=object)
        mh = np.array(W.MH_CODES, dtype=object)
        codes = np.where(
            sh,
            mh[rng.integers(0, len(mh), k)] + "|" + shc[rng.integers(0, len(shc), k)],
            mh[rng.integers(0, len(mh), k)],
        )
        when = self.days_ago(100, 1800, k)
        adm = rng.random(k) < 0.25
        self.add_mh_contacts(pts[~adm], when[~adm], codes[~adm], tag="MH")
        method = np.array(["CLINICAL", "SELF", "OTHER", "DEATH"], dtype=object)[
            _weighted(rng, [0.84, 0.08, 0.06, 0.02], int(adm.sum()))
        ]
        self.add_mh_spell(pts[adm], when[adm] + 120, method=method, codes=codes[adm], tag="MH")
        # recent discharges, some with late or missing letters (MH-LETTER-LATE)
        r = max(4, round(0.002 * self.n))
        rec = self._pick(r, min_age=16, exclude=np.concatenate([exclude, pts]))
        letter = np.array(["late", "blank", "ontime", "ontime", "late"], dtype=object)[
            np.arange(r) % 5
        ]
        self.add_mh_spell(
            rec, self.days_ago(3, 85, r), method="CLINICAL", letter=letter, tag="MH-RECENT"
        )
        self.scenario("MH-LETTER-LATE", rec[(letter == "late") | (letter == "blank")])
        self.scenario("NEGATIVE_MH_LETTER_ON_TIME", rec[letter == "ontime"])

    def _background_ae(self) -> None:
        rng = self.rng
        n = len(self.P)
        lam = np.minimum(rng.gamma(0.6, 1.5, n), 4.0)  # attendances per 5 years
        cnt = rng.poisson(lam)
        cnt[self.P["sensitive"].to_numpy()] = 0
        cnt[self.fa_people] = 0
        pi = np.repeat(np.arange(n), cnt)
        when = self.days_ago(0, 1825, len(pi))
        born = when > self.P["dob"].to_numpy()[pi]
        pi, when = pi[born], when[born]
        self.add_ae(pi, self.at_time(when), tag="BACKGROUND")

    def _background_police(self) -> None:
        rng = self.rng
        k = round(0.02 * self.n)
        who = self._pick(k, min_age=14)
        role = np.array(["VICTIM", "SUSPECT", "WITNESS"], dtype=object)[
            _weighted(rng, [0.5, 0.3, 0.2], len(who))
        ]
        when = self.at_time(self.days_ago(0, 1800, len(who)))
        self.add_incident(when, who, np.full(len(who), -1), domestic=False, tag="NON-DA")
        self.pol[-1] = self.pol[-1].assign(role=role)

    def _background_gp_events(self) -> None:
        rng = self.rng
        P = self.P
        n = len(P)
        cnt = rng.poisson(1.6, n)
        pi = np.repeat(np.arange(n), cnt)
        when = self.days_ago(0, 1825 * 2, len(pi))
        ok = when > P["dob"].to_numpy()[pi]
        pi, when = pi[ok], when[ok]
        codes = np.array(W.GP_BACKGROUND_CODES, dtype=object)
        c = rng.integers(0, len(codes), len(pi))
        self.add_gp_event(pi, when, codes[c, 0], codes[c, 1], tag="BACKGROUND")

    def _plant_future_dated(self) -> None:
        """A few rows dated after as_of: a run for as_of must ignore them."""
        rng = self.rng
        rate = self.c.future_dated
        for frames, col in (
            (self.ae, "arrival"),
            (self.gpe, "date"),
            (self.pol, "occurred"),
            (self.mh, "start"),
        ):
            last = frames[-1]
            bg = np.flatnonzero(
                (last["tag"] == "BACKGROUND").to_numpy()
                | (last["tag"] == "NON-DA").to_numpy()
                | (last["tag"] == "MH").to_numpy()
            )
            k = max(1, round(rate * len(last)))
            hit = rng.choice(bg, min(k, len(bg)), replace=False)
            shift = rng.integers(1, 60, len(hit)).astype("timedelta64[D]")
            values = last[col].to_numpy().copy()
            values[hit] = (
                (self.as_of + shift).astype("datetime64[m]")
                + rng.integers(0, 1440, len(hit)).astype("timedelta64[m]")
            ).astype(values.dtype)
            last[col] = values
            if col == "start":
                last.loc[last.index[hit], "end"] = last[col].to_numpy()[hit]
            tags = last["tag"].to_numpy().copy()
            tags[hit] = "FUTURE"
            last["tag"] = tags

    def _finalise_events(self) -> None:
        self.AE = pd.concat(self.ae, ignore_index=True)
        self.MH = pd.concat(self.mh, ignore_index=True)
        self.POL = pd.concat(self.pol, ignore_index=True)
        self.GPE = pd.concat(self.gpe, ignore_index=True)

    # ---------------------------------------------------------------- rendering
    def rate(self, name: str, source: str) -> float:
        value = getattr(self.c, name)
        return float(min(1.0, value * self.c.source_scale.get(source, 1.0)))

    def coin(self, p: float, k: int) -> BoolArray:
        return self.rng.random(k) < p

    def identity(
        self, pidx: IntArray, addr: IntArray, source: str, *, suspect: BoolArray | None = None
    ) -> dict[str, npt.NDArray]:
        """Names, DOB, sex, NHS number and address as one source recorded them (with errors)."""
        rng, P = self.rng, self.P
        k = len(pidx)
        bit = {"gp": 0, "ae": _AE, "mh": _MH, "police": _POLICE}[source]
        gi = P["given"].to_numpy()[pidx]
        given = self.given_names[gi].copy()
        nick = (self.nick_count[gi] > 0) & self.coin(self.rate("nickname", source), k)
        pick = (rng.random(k) * self.nick_count[gi]).astype(np.int64)
        given[nick] = self.nick_flat[self.nick_offset[gi[nick]] + pick[nick]]
        family = P["family"].to_numpy()[pidx].copy()
        if bit:
            keep_maiden = P["maiden_src"].to_numpy()[pidx] == bit
            family[keep_maiden] = P["maiden"].to_numpy()[pidx][keep_maiden]
        for arr in (given, family):
            hit = np.flatnonzero(self.coin(self.rate("name_typo", source), k))
            arr[hit] = _typos(arr[hit], rng)
            again = hit[rng.random(len(hit)) < 0.2]
            arr[again] = _typos(arr[again], rng)
        swap = self.coin(self.rate("swapped_names", source), k)
        given[swap], family[swap] = family[swap], given[swap].copy()

        dob = P["dob"].to_numpy()[pidx].copy()
        parts = pd.DatetimeIndex(dob)
        y, m, d = parts.year.to_numpy(), parts.month.to_numpy(), parts.day.to_numpy()
        transpose = self.coin(self.rate("dob_transposed", source), k) & (d <= 12) & (d != m)
        year_off = self.coin(self.rate("dob_year_off", source), k)
        if suspect is not None:
            year_off |= suspect & self.coin(self.c.police_suspect_dob_year_off, k)
        y2 = np.where(year_off, y + np.where(rng.random(k) < 0.5, -1, 1), y)
        m2 = np.where(transpose, d, m)
        d2 = np.where(transpose, m, d)
        d2 = np.where((m2 == 2) & (d2 == 29), 28, d2)
        dob = pd.to_datetime(pd.DataFrame({"year": y2, "month": m2, "day": d2})).to_numpy()
        dob = dob.astype("datetime64[D]")
        if source == "police":
            missing = self.coin(self.c.police_dob_missing, k)
            if suspect is not None:
                missing |= suspect & self.coin(self.c.police_suspect_dob_missing, k)
            dob[missing] = np.datetime64("NaT")

        sex = P["sex"].to_numpy()[pidx].astype(object)
        if source == "mh":
            sex = np.where(sex == "M", "1", "2").astype(object)
        unknown = self.coin(0.01, k)
        sex[unknown] = np.where(rng.random(int(unknown.sum())) < 0.5, "U", "")

        out: dict[str, npt.NDArray] = {
            "given_name": given,
            "family_name": family,
            "date_of_birth": _fmt_date(dob),
            "sex": sex,
        }
        if source != "police":
            out["nhs_number"] = self.render_nhs(P["nhs"].to_numpy()[pidx], source)
        out.update(self.render_address(addr, source))
        upper = self.coin(
            self.c.police_upper_case if source == "police" else self.rate("case_variation", source),
            k,
        )
        lower = self.coin(self.rate("case_variation", source) / 4, k) & ~upper
        for col in ("given_name", "family_name", "address_1", "address_2", "town"):
            v = pd.Series(out[col], dtype=object)
            v[upper] = v[upper].str.upper()
            v[lower] = v[lower].str.lower()
            out[col] = v.to_numpy()
        return out

    def render_nhs(self, nhs: npt.NDArray[np.object_], source: str) -> npt.NDArray:
        k = len(nhs)
        s = pd.Series(nhs, dtype=object).copy()
        bad = self.coin(self.rate("nhs_bad_check", source), k)
        last = s[bad].str[-1].astype(int)
        wrong = (last + 1 + self.rng.integers(0, 9, int(bad.sum()))) % 10
        s[bad] = s[bad].str[:9] + wrong.astype(str)
        spaced = self.coin(self.rate("nhs_spaced", source), k)
        s[spaced] = s[spaced].str[:3] + " " + s[spaced].str[3:6] + " " + s[spaced].str[6:]
        excel = self.coin(self.rate("nhs_excel", source), k) & ~spaced
        mant = s[excel].str[1:].str.rstrip("0")
        s[excel] = (s[excel].str[0] + "." + mant + "E9").str.replace(".E9", "E9", regex=False)
        missing_rate = {
            "gp": self.c.gp_nhs_missing,
            "ae": self.c.ae_nhs_missing,
            "mh": self.c.mh_nhs_missing,
        }[source]
        s[self.coin(missing_rate, k)] = ""
        return s.to_numpy()

    def render_address(self, addr: IntArray, source: str) -> dict[str, npt.NDArray]:
        rng, A = self.rng, self.A
        k = len(addr)
        abbr = self.coin(self.rate("address_abbreviated", source), k)
        split = (A["kind"].to_numpy()[addr] == 1) & self.coin(0.25, k)
        a1 = np.where(abbr, A["a1_abbr"].to_numpy()[addr], A["a1"].to_numpy()[addr])
        a2 = np.where(abbr, A["a2_abbr"].to_numpy()[addr], A["a2"].to_numpy()[addr])
        a1 = np.where(split, A["s1"].to_numpy()[addr], a1)
        a2 = np.where(split, A["s2"].to_numpy()[addr], a2)
        nfa = A["kind"].to_numpy()[addr] == 5
        nfa_txt = np.array(W.NFA_TEXTS, dtype=object)
        a1 = np.where(nfa, nfa_txt[rng.integers(0, len(nfa_txt), k)], a1)
        town = A["town"].to_numpy()[addr].copy()
        drop = self.coin(self.rate("address_part_missing", source), k)
        which = rng.random(k) < 0.5
        a2 = np.where(drop & which, "", a2)
        town = np.where(drop & ~which, "", town)
        pc = pd.Series(A["postcode"].to_numpy()[addr], dtype=object)
        fmt = self.coin(self.rate("postcode_format", source), k)
        style = rng.integers(0, 3, k)
        pc[fmt & (style == 0)] = pc[fmt & (style == 0)].str.lower()
        pc[fmt & (style == 1)] = pc[fmt & (style == 1)].str.replace(" ", "", regex=False)
        pc[fmt & (style == 2)] = (
            pc[fmt & (style == 2)].str.lower().str.replace(" ", "", regex=False)
        )
        pc[self.coin(self.rate("postcode_missing", source), k) & ~nfa] = ""
        return {"address_1": a1, "address_2": a2, "town": town, "postcode": pc.to_numpy()}

    # ---------------------------------------------------------------- per-source tables
    def _gp_tables(self) -> None:
        rng, P = self.rng, self.P
        n = len(P)
        reg = np.flatnonzero(P["practice"].to_numpy() >= 0)
        old = np.flatnonzero(P["old_practice"].to_numpy() >= 0)
        fut = reg[self.coin(self.c.future_dated, len(reg))]
        reg_on = P["reg_on"].to_numpy().astype("datetime64[D]")
        pidx = np.concatenate([reg, old, fut])
        kind = np.concatenate(
            [np.zeros(len(reg), int), np.ones(len(old), int), np.full(len(fut), 2)]
        )
        practice = np.concatenate(
            [
                P["practice"].to_numpy()[reg],
                P["old_practice"].to_numpy()[old],
                (P["practice"].to_numpy()[fut] + 1) % self.n_practices,
            ]
        )
        registered_on = np.concatenate(
            [
                reg_on[reg],
                P["old_reg_on"].to_numpy()[old],
                self.as_of + rng.integers(1, 30, len(fut)).astype("timedelta64[D]"),
            ]
        ).astype("datetime64[D]")
        dereg = np.full(len(pidx), np.datetime64("NaT"), dtype="datetime64[D]")
        dereg[kind == 1] = reg_on[old] - rng.integers(0, 5, len(old))
        prev = P["prev_addr"].to_numpy()[pidx]
        addr = np.where((kind == 1) & (prev >= 0), prev, P["cur_addr"].to_numpy()[pidx])
        patient_no = rng.permutation(len(pidx)) + 200_000 + rng.integers(0, 50_000)
        g = pd.DataFrame(
            {
                "pidx": pidx,
                "kind": kind,
                "practice": practice,
                "patient_id": patient_no.astype(str),
                "addr": addr,
                "registered_on": registered_on,
                "deregistered_on": dereg,
            }
        )
        g["practice_code"] = self.practices[practice]
        g["sensitive"] = np.where((kind == 0) & P["sensitive"].to_numpy()[pidx], "Y", "N")
        self.scenario(
            "FUTURE_DATED",
            pidx[kind == 2],
            ref=("gp:" + g["practice_code"] + ":" + g["patient_id"])[kind == 2],
            note="registration starts after as_of",
        )
        ident = self.identity(pidx, addr, "gp")
        uprn = self.A["uprn"].to_numpy()[addr]
        uprn = np.where((practice % 3 != 0) & (rng.random(len(pidx)) < 0.9), uprn, "")
        rows = pd.DataFrame(
            {
                "practice_code": g["practice_code"],
                "patient_id": g["patient_id"],
                **ident,
                "uprn": uprn,
                "registered_on": _fmt_date(registered_on),
                "deregistered_on": _fmt_date(dereg),
                "sensitive": g["sensitive"],
            }
        )
        order = np.lexsort((patient_no, practice))
        self.gp_rows = g.iloc[order].reset_index(drop=True)
        self.out["gp_patients"] = rows.iloc[order].reset_index(drop=True)

        # row of each person for a date: the old practice before the move, else current
        cur_row = np.full(n, -1)
        old_row = np.full(n, -1)
        gr = self.gp_rows
        cur_row[gr["pidx"][gr["kind"] == 0].to_numpy()] = np.flatnonzero(gr["kind"] == 0)
        old_row[gr["pidx"][gr["kind"] == 1].to_numpy()] = np.flatnonzero(gr["kind"] == 1)
        self.cur_row, self.old_row = cur_row, old_row

        ev = self.GPE
        when = ev["date"].to_numpy()
        use_old = (old_row[ev["pidx"]] >= 0) & (when < reg_on[ev["pidx"]])
        row = np.where(use_old, old_row[ev["pidx"]], cur_row[ev["pidx"]])
        keep = row >= 0
        ev, row, when = ev[keep].reset_index(drop=True), row[keep], when[keep]
        entered = when + rng.integers(0, 6, len(ev)).astype("timedelta64[D]")
        entered = np.where(self.coin(0.05, len(ev)), np.datetime64("NaT"), entered)
        entered = np.minimum(entered, np.maximum(self.as_of, when))
        order = np.lexsort((when, row))
        ev = ev.iloc[order].reset_index(drop=True)
        row, when, entered = row[order], when[order], entered[order]
        ev["event_id"] = _ids("E", np.arange(1, len(ev) + 1) * 3 + 7, 9)
        ev["practice_code"] = self.gp_rows["practice_code"].to_numpy()[row]
        ev["patient_id"] = self.gp_rows["patient_id"].to_numpy()[row]
        self.GPE = ev
        fut_ev = ev["tag"] == "FUTURE"
        self.scenario(
            "FUTURE_DATED",
            ev["pidx"][fut_ev],
            ref="gp_events:" + ev["practice_code"][fut_ev] + ":" + ev["event_id"][fut_ev],
            note="event after as_of",
        )
        self.out["gp_events"] = pd.DataFrame(
            {
                "practice_code": ev["practice_code"],
                "patient_id": ev["patient_id"],
                "event_id": ev["event_id"],
                "code": ev["code"],
                "term": ev["term"],
                "effective_date": _fmt_date(when),
                "entered_date": _fmt_date(entered),
            }
        )

    def _letters(self, ae: pd.DataFrame) -> DateArray:
        rng = self.rng
        k = len(ae)
        dep = ae["departure"].to_numpy()
        base = np.where(np.isnat(dep), ae["arrival"].to_numpy(), dep)
        md = pd.DatetimeIndex(base)
        holiday = ((md.month == 12) & (md.day >= 23)) | ((md.month == 1) & (md.day <= 2))
        mode = ae["letter"].to_numpy().copy()
        r = rng.random(k)
        auto = mode == "auto"
        late_p = np.where(holiday, 0.35, 0.05)
        mode[auto] = np.where(
            r[auto] < late_p[auto],
            "late",
            np.where(r[auto] < late_p[auto] + 0.04, "blank", "ontime"),
        )
        ontime = base + rng.integers(20, 20 * 60, k).astype("timedelta64[m]")
        late = base + rng.integers(2 * 1440, 9 * 1440, k).astype("timedelta64[m]")
        seed = base + np.timedelta64(6 * 1440 + 180, "m")
        sent = np.select(
            [mode == "ontime", mode == "late", mode == "seed"],
            [ontime, late, seed],
            np.datetime64("NaT"),
        )
        return sent.astype("datetime64[m]")

    def _ae_tables(self) -> None:
        rng, P = self.rng, self.P
        ae = self.AE
        ae = ae.iloc[
            np.lexsort((ae["seq"].to_numpy(), ae["arrival"].to_numpy(), ae["provider"].to_numpy()))
        ].reset_index(drop=True)
        k = len(ae)
        prov = ae["provider"].to_numpy()
        pidx = ae["pidx"].to_numpy()
        start = np.array([1_000_000, 4_500_000, 7_000_000])[prov]
        rank = ae.groupby("provider").cumcount().to_numpy()
        ae["attendance_id"] = _ids("", start + rank * 2 + 1, 8)
        ae["provider_code"] = np.array(AE_PROVIDERS, dtype=object)[prov]
        # hospital numbers: one per person per provider, a second for a few people
        pair = prov.astype(np.int64) * len(P) + pidx
        codes, uniq = pd.factorize(pair, sort=True)
        local_no = rng.permutation(len(uniq)) + 100_000
        second = rng.random(len(uniq)) < 0.02
        visit = ae.groupby(codes).cumcount().to_numpy()
        dup = second[codes] & (visit % 2 == 1)
        local = local_no[codes] + np.where(dup, 800_000, 0)
        prefix = np.array(_AE_LOCAL_PREFIX, dtype=object)[prov]
        ae["local_patient_id"] = prefix + pd.Series(local).astype(str).to_numpy()
        self.scenario("DUPLICATE_HOSPITAL_NUMBER", np.unique(pidx[dup]))
        ae["sent"] = self._letters(ae)
        arrival = ae["arrival"].to_numpy()
        addr = self.addr_at(pidx, arrival, _AE)
        ident = self.identity(pidx, addr, "ae")
        pr, is_old = self.practice_at(pidx, arrival.astype("datetime64[D]"))
        gp_code = np.where(pr >= 0, self.practices[np.maximum(pr, 0)], UNREGISTERED_PRACTICE)
        gp_code = np.where(self.coin(0.03, k), "", gp_code)
        self.AE = ae
        fut = ae["tag"] == "FUTURE"
        self.scenario(
            "FUTURE_DATED",
            pidx[fut],
            ref="ae:" + ae["provider_code"][fut] + ":" + ae["attendance_id"][fut],
            note="arrival after as_of",
        )
        self.out["ae_attendances"] = pd.DataFrame(
            {
                "provider_code": ae["provider_code"],
                "attendance_id": ae["attendance_id"],
                "local_patient_id": ae["local_patient_id"],
                **ident,
                "gp_practice_code": gp_code,
                "arrival_at": _fmt_datetime(arrival),
                "departure_at": _fmt_datetime(ae["departure"].to_numpy()),
                "chief_complaint": ae["complaint"],
                "injury_intent": ae["intent"],
                "diagnoses": ae["diagnoses"],
                "safeguarding_concerns": ae["safeguarding"],
                "discharge_destination": ae["destination"],
                "gp_letter_sent_at": _fmt_datetime(ae["sent"].to_numpy()),
            }
        )
        # the letters as the GP practices received them
        sent = ae["sent"].to_numpy()
        has = ~np.isnat(sent)
        sent_day = sent.astype("datetime64[D]")
        pr, is_old = self.practice_at(pidx, sent_day)
        row = np.where(is_old, self.old_row[pidx], self.cur_row[pidx])
        mode = ae["receipt"].to_numpy().copy()
        r = rng.random(k)
        auto = mode == "auto"
        mode[auto] = np.select(
            [r[auto] < 0.05, r[auto] < 0.07, r[auto] < 0.15], ["missing", "blank", "noref"], "ok"
        )
        # planted warnings: forced letter/receipt modes on recent concern attendances
        age = (
            self.as_of
            - np.where(
                np.isnat(ae["departure"].to_numpy()), arrival, ae["departure"].to_numpy()
            ).astype("datetime64[D]")
        ).astype(np.int64)
        forced_letter = ae["letter"].to_numpy()
        forced_receipt = ae["receipt"].to_numpy()
        ref = ("ae:" + ae["provider_code"] + ":" + ae["attendance_id"]).to_numpy()
        ll = np.isin(forced_letter, ["late", "blank", "seed"]) & (age >= 0) & (age <= 90)
        self.scenario("LETTER-LATE", pidx[ll], ref=ref[ll])
        registered_now = self.cur_row[pidx] >= 0
        lnr = (
            (np.isin(forced_receipt, ["missing", "blank"]) | (forced_letter == "blank"))
            & (age >= 7)
            & (age <= 90)
            & registered_now
        )
        self.scenario("LETTER-NOT-RECEIVED", pidx[lnr], ref=ref[lnr])
        keep = has & (row >= 0) & (pr >= 0) & (mode != "missing")
        dep = ae["departure"].to_numpy()
        dep_day = np.where(np.isnat(dep), arrival, dep).astype("datetime64[D]")
        received = sent_day + rng.integers(0, 4, k).astype("timedelta64[D]")
        received = np.where(mode == "blank", np.datetime64("NaT"), received)
        doc_date = np.where(mode == "noref", dep_day, sent_day)
        corr = pd.DataFrame(
            {
                "practice_code": self.gp_rows["practice_code"].to_numpy()[np.maximum(row, 0)],
                "patient_id": self.gp_rows["patient_id"].to_numpy()[np.maximum(row, 0)],
                "sender_code": ae["provider_code"],
                "sender_reference": np.where(mode == "noref", "", ae["attendance_id"]),
                "document_date": doc_date,
                "received_date": received,
                "pidx": pidx,
            }
        )[keep]
        self.corr_truth = corr.reset_index(drop=True)

    def _mh_tables(self) -> None:
        rng = self.rng
        mh = self.MH
        mh = mh.iloc[
            np.lexsort((mh["type"].to_numpy(), mh["pidx"].to_numpy(), mh["start"].to_numpy()))
        ].reset_index(drop=True)
        k = len(mh)
        mh["activity_id"] = _ids("A", np.arange(1, k + 1) * 7 + 3, 8)
        start = mh["start"].to_numpy().astype("datetime64[D]")
        mode = mh["letter"].to_numpy().copy()
        r = rng.random(k)
        auto = mode == "auto"
        mode[auto] = np.where(r[auto] < 0.10, "late", np.where(r[auto] < 0.15, "blank", "ontime"))
        letter = np.select(
            [mode == "ontime", mode == "late"],
            [
                start + rng.integers(0, 2, k).astype("timedelta64[D]"),
                start + rng.integers(3, 13, k).astype("timedelta64[D]"),
            ],
            np.datetime64("NaT"),
        ).astype("datetime64[D]")
        letter = np.where(mh["type"].to_numpy() == "DISCHARGE", letter, np.datetime64("NaT"))
        mh["letter_on"] = letter
        pts = np.unique(mh["pidx"].to_numpy())
        local = _ids("M", rng.permutation(len(pts)) + 3_000_000, 7)
        loc_of = pd.Series(local, index=pts)
        mh["local_patient_id"] = loc_of.reindex(mh["pidx"]).to_numpy()
        self.MH = mh
        fut = mh["tag"] == "FUTURE"
        self.scenario(
            "FUTURE_DATED",
            mh["pidx"][fut],
            ref="mh_activity:" + MH_PROVIDER + ":" + mh["activity_id"][fut],
            note="activity after as_of",
        )
        self.out["mh_activity"] = pd.DataFrame(
            {
                "provider_code": MH_PROVIDER,
                "activity_id": mh["activity_id"],
                "local_patient_id": mh["local_patient_id"],
                "activity_type": mh["type"],
                "start_date": _fmt_date(start),
                "end_date": _fmt_date(mh["end"].to_numpy()),
                "codes": mh["codes"],
                "discharge_method": mh["method"],
                "discharge_letter_issued_on": _fmt_date(letter),
            }
        )
        # the patient's demographics as of the latest activity up to as_of
        dated = mh[start <= self.as_of]
        latest = dated.groupby("pidx")["start"].max().reindex(pts)
        when = latest.to_numpy().astype("datetime64[D]")
        when = np.where(np.isnat(when), self.as_of, when)
        addr = self.addr_at(pts, when, _MH)
        ident = self.identity(pts, addr, "mh")
        pr, _ = self.practice_at(pts, when)
        gp_code = np.where(pr >= 0, self.practices[np.maximum(pr, 0)], "")
        self.mh_pat = pd.DataFrame(
            {
                "pidx": pts,
                "local_patient_id": local,
                "addr": addr,
                "address_date": latest.to_numpy(),
            }
        )
        self.out["mh_patients"] = (
            pd.DataFrame(
                {
                    "provider_code": MH_PROVIDER,
                    "local_patient_id": local,
                    **ident,
                    "gp_practice_code": gp_code,
                }
            )
            .sort_values("local_patient_id", kind="stable")
            .reset_index(drop=True)
        )

    def _police_tables(self) -> None:
        rng = self.rng
        pol = self.POL
        pol = pol.iloc[
            np.lexsort(
                (pol["pidx"].to_numpy(), pol["incident"].to_numpy(), pol["occurred"].to_numpy())
            )
        ].reset_index(drop=True)
        inc_codes, _ = pd.factorize(pol["incident"], sort=False)
        pol["incident_id"] = _ids("INC", inc_codes.astype(np.int64) * 3 + 10_001, 8)[
            np.arange(len(pol))
        ]
        people = np.unique(pol["pidx"].to_numpy())
        dup = people[rng.random(len(people)) < 0.04]
        visit = pol.groupby("pidx").cumcount().to_numpy()
        variant = np.isin(pol["pidx"].to_numpy(), dup) & (visit % 2 == 1)
        pol["variant"] = variant.astype(np.int64)
        key = pol["pidx"].to_numpy() * 2 + pol["variant"].to_numpy()
        nominals = np.unique(key)
        nom_ids = _ids("N", rng.permutation(len(nominals)) + 5_000_000, 7)
        pol["nominal_id"] = pd.Series(nom_ids, index=nominals).reindex(key).to_numpy()
        self.scenario("DUPLICATE_POLICE_NOMINAL", np.unique(pol["pidx"][variant]))
        occurred = pol["occurred"].to_numpy()
        self.POL = pol
        fut = pol["tag"] == "FUTURE"
        self.scenario(
            "FUTURE_DATED",
            pol["pidx"][fut],
            ref="police_incidents:" + POLICE_FORCE + ":" + pol["incident_id"][fut],
            note="incident after as_of",
        )
        self.out["police_incidents"] = pd.DataFrame(
            {
                "force_code": POLICE_FORCE,
                "incident_id": pol["incident_id"],
                "nominal_id": pol["nominal_id"],
                "role": pol["role"],
                "occurred_at": _fmt_datetime(occurred, sep="T", seconds=True),
                "domestic": pol["domestic"],
                "dash_risk": pol["dash"],
                "marac_referred_on": _fmt_date(pol["marac"].to_numpy()),
                "bail_conditions": np.where(pol["domestic"] == "Y", pol["bail_conditions"], ""),
                "bail_breach": np.where(pol["domestic"] == "Y", pol["bail_breach"], ""),
                "outcome": pol["outcome"],
            }
        )
        dated = pol[occurred.astype("datetime64[D]") <= self.as_of]
        latest = dated.groupby("nominal_id")["occurred"].max()
        g = pol.groupby("nominal_id", sort=True).agg(
            pidx=("pidx", "first"),
            suspect=("role", lambda r: bool((r == "SUSPECT").any())),
        )
        g["address_date"] = latest.reindex(g.index).to_numpy()
        when = g["address_date"].to_numpy().astype("datetime64[D]")
        when = np.where(np.isnat(when), self.as_of, when)
        pidx = g["pidx"].to_numpy()
        addr = self.addr_at(pidx, when, _POLICE)
        g["addr"] = addr
        ident = self.identity(pidx, addr, "police", suspect=g["suspect"].to_numpy())
        self.nominals = g.reset_index()
        self.out["police_nominals"] = pd.DataFrame(
            {"force_code": POLICE_FORCE, "nominal_id": g.index.to_numpy(), **ident}
        )

    def write(self, out_dir: Path, *, messy: bool) -> GenerationSummary:
        from sample_data._expected import expected_flags

        self.out: dict[str, pd.DataFrame] = {}
        self._gp_tables()
        self._ae_tables()
        self._mh_tables()
        self._police_tables()
        corr = self.corr_truth
        corr = corr.iloc[
            np.lexsort(
                (
                    corr["document_date"].to_numpy(),
                    corr["patient_id"].to_numpy(),
                    corr["practice_code"].to_numpy(),
                )
            )
        ].reset_index(drop=True)
        corr["document_id"] = _ids("D", np.arange(1, len(corr) + 1) * 5 + 2, 8)
        self.corr_truth = corr
        self.out["gp_correspondence"] = pd.DataFrame(
            {
                "practice_code": corr["practice_code"],
                "patient_id": corr["patient_id"],
                "document_id": corr["document_id"],
                "sender_code": corr["sender_code"],
                "sender_reference": corr["sender_reference"],
                "document_date": _fmt_date(corr["document_date"].to_numpy()),
                "received_date": _fmt_date(corr["received_date"].to_numpy()),
            }
        )

        P = self.P
        hh_id = _ids("H", np.arange(1, self.n_households + 1), 6)
        hh = P["household"].to_numpy()
        p_hh = np.where(hh >= 0, hh_id[np.maximum(hh, 0)], "")
        person_id = P["person_id"].to_numpy()
        persons = pd.DataFrame(
            {
                "person_id": person_id,
                "household_id": p_hh,
                "communal": np.where(P["hh_kind"].to_numpy() == 1, "Y", "N"),
                "sensitive": np.where(P["sensitive"].to_numpy(), "Y", "N"),
                "date_of_birth": _fmt_date(P["dob"].to_numpy()),
                "sex": P["sex"].to_numpy(),
            }
        )
        gr, ae, nom = self.gp_rows, self.AE, self.nominals
        records = pd.DataFrame(
            {
                "record_key": np.concatenate(
                    [
                        ("gp:" + gr["practice_code"] + ":" + gr["patient_id"]).to_numpy(),
                        ("ae:" + ae["provider_code"] + ":" + ae["attendance_id"]).to_numpy(),
                        ("mh:" + MH_PROVIDER + ":" + self.mh_pat["local_patient_id"]).to_numpy(),
                        ("police:" + POLICE_FORCE + ":" + nom["nominal_id"]).to_numpy(),
                    ]
                ),
                "pidx": np.concatenate(
                    [gr["pidx"], ae["pidx"], self.mh_pat["pidx"], nom["pidx"]]
                ).astype(np.int64),
            }
        )
        records["person_id"] = person_id[records["pidx"]]
        records["household_id"] = p_hh[records["pidx"]]

        expected = expected_flags(self)
        expected["person_id"] = person_id[expected["pidx"].to_numpy().astype(np.int64)]
        expected = (
            expected[["kind", "person_id", "ref", "recipient"]]
            .sort_values(["kind", "person_id", "ref", "recipient"], kind="stable")
            .reset_index(drop=True)
        )
        scen = pd.concat(self.scen, ignore_index=True)
        scen["pidx"] = scen["pidx"].astype(np.int64)
        scen["person_id"] = person_id[scen["pidx"]]
        scen["household_id"] = p_hh[scen["pidx"]]

        # HH-DA is only visible for people whom the sources place at their true address
        from sample_data._expected import _households

        placed = _households(self)
        true_addr = P["cur_addr"].to_numpy()[placed["pidx"].to_numpy()]
        visible = set(placed["pidx"][placed["addr"].to_numpy() == true_addr].tolist())
        scen = scen[(scen["kind"] != "HH-DA") | scen["pidx"].isin(visible)]
        scen = scen[["kind", "person_id", "household_id", "ref", "note"]].drop_duplicates()
        scen = scen.sort_values(["kind", "person_id", "ref"], kind="stable")
        if messy:
            blanked = self._mess_up()
            records = records[~records["record_key"].isin(blanked)]

        out_dir.mkdir(parents=True, exist_ok=True)
        truth = out_dir / "truth"
        truth.mkdir(exist_ok=True)
        counts: dict[str, int] = {}
        for name, cols in FILES.items():
            frame = self.out[name]
            frame = frame[list(cols)]
            frame.to_csv(out_dir / f"{name}.csv", index=False, lineterminator="\n")
            counts[name] = len(frame)
        records[["record_key", "person_id", "household_id"]].to_csv(
            truth / "records.csv", index=False, lineterminator="\n"
        )
        persons.to_csv(truth / "persons.csv", index=False, lineterminator="\n")
        scen.to_csv(truth / "scenarios.csv", index=False, lineterminator="\n")
        expected.to_csv(truth / "expected.csv", index=False, lineterminator="\n")
        scenario_counts = {
            str(k): int(v) for k, v in scen.groupby("kind")["person_id"].nunique().items()
        }
        expected_counts = {
            str(k): int(v)
            for k, v in expected["kind"].value_counts(sort=False).sort_index().items()
        }
        meta = {
            "generator": "sample_data.generate",
            "generator_version": GENERATOR_VERSION,
            "seed": self.seed,
            "persons": self.n,
            "as_of": self.as_of_date.isoformat(),
            "messy": messy,
            "row_counts": counts,
            "truth_row_counts": {
                "records": len(records),
                "persons": len(persons),
                "scenarios": len(scen),
                "expected": len(expected),
            },
            "scenario_persons": scenario_counts,
            "expected_counts": expected_counts,
            "organisations": {
                "gp_practices": [str(x) for x in self.practices],
                "ae_providers": list(AE_PROVIDERS),
                "mh_provider": MH_PROVIDER,
                "police_force": POLICE_FORCE,
            },
        }
        (out_dir / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
        return GenerationSummary(
            out_dir=out_dir,
            seed=self.seed,
            persons=self.n,
            as_of=self.as_of_date,
            row_counts=counts,
            scenario_counts=scenario_counts,
            expected_counts=expected_counts,
        )

    def _mess_up(self) -> set[str]:
        """Blank ids and repeated keys in a few rows of every file (quarantine fodder)."""
        keys = {
            "gp_patients": "patient_id",
            "gp_events": "event_id",
            "gp_correspondence": "document_id",
            "ae_attendances": "attendance_id",
            "mh_patients": "local_patient_id",
            "mh_activity": "activity_id",
            "police_nominals": "nominal_id",
            "police_incidents": "incident_id",
        }
        person_keys = {
            "gp_patients": ("gp", "practice_code"),
            "ae_attendances": ("ae", "provider_code"),
            "mh_patients": ("mh", "provider_code"),
            "police_nominals": ("police", "force_code"),
        }
        blanked: set[str] = set()
        for name, key in keys.items():
            frame = self.out[name].copy()
            k = max(1, round(0.001 * len(frame)))
            blank = self.rng.choice(len(frame), k, replace=False)
            if name in person_keys:
                source, org = person_keys[name]
                hit = frame.iloc[blank]
                blanked |= set(source + ":" + hit[org] + ":" + hit[key])
            frame.loc[frame.index[blank], key] = ""
            dup = self.rng.choice(len(frame), k, replace=False)
            self.out[name] = pd.concat([frame, frame.iloc[dup]], ignore_index=True)
        return blanked
