"""Reference answers: the rules and warnings of RULES.md evaluated on the true identities.

This is the generator's oracle, written independently of ``rules/``: it sees true person
ids (perfect linkage) and true address ids (perfect address normalisation), and the very
dates, codes and roles that went into the extracts.  A pipeline run on the extracts should
come as close to it as its linkage allows.

Readings chosen where RULES.md leaves room (keep in step with ``rules/`` if they differ):
* a blank letter "has passed its deadline" when the deadline is at or before the end of the
  ``as_of`` day (A&E: departure + 24 h < as_of + 1 day; MH: discharge + 1 day <= as_of);
* a letter sent/issued/received after ``as_of`` counts as not (yet) sent/issued/received;
* A&E departure blank -> arrival is used for "departed in the last 90 days" and deadlines;
* HH-CRISIS: one police incident seen from both sides is one crisis, not two (the reading
  of ``rules/hh_crisis.py``; RULES.md does not say).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sample_data import _names as W

if TYPE_CHECKING:
    from sample_data.generate import _World

_DA = frozenset(c for c, _ in W.DA_CODES)
_SH = frozenset(
    [
        "248062006",
        "276853009",
        "271982007",
        "161474000",
        "242824002",
        "130968006",
        "287181000",
        "287182007",
        "287183002",
        "287184008",
        "287185009",
        "287186005",
    ]
)
_SELF_INTENT = "276853009"


def _any_code(col: pd.Series, codes: frozenset[str]) -> pd.Series:
    exploded = col.fillna("").astype(str).str.split("|").explode()
    return exploded.isin(codes).groupby(level=0).any().reindex(col.index, fill_value=False)


def _day(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(values).astype("datetime64[D]")


def expected_flags(world: _World) -> pd.DataFrame:
    as_of = world.as_of
    end_of_day = as_of.astype("datetime64[m]") + 1440

    def ago(d: np.ndarray) -> np.ndarray:
        return (as_of - _day(d)).astype(np.int64)

    def window(d: np.ndarray, days: int) -> np.ndarray:
        a = ago(d)
        return (a >= 0) & (a <= days) & ~np.isnat(_day(d))

    ae, mh, pol, gpe = world.AE, world.MH, world.POL, world.GPE
    ae_ok = ae[_day(ae["arrival"]) <= as_of]
    mh_ok = mh[_day(mh["start"]) <= as_of]
    pol_ok = pol[_day(pol["occurred"]) <= as_of]
    gp_ok = gpe[_day(gpe["date"]) <= as_of]
    dom = pol_ok[pol_ok["domestic"] == "Y"]

    # ---- evidence: (pidx, date)
    ae_da = _any_code(ae_ok["safeguarding"], _DA)
    marac = dom[dom["role"] == "VICTIM"][["pidx", "marac"]].dropna()
    marac = marac[_day(marac["marac"]) <= as_of]
    da_victim = pd.concat(
        [
            pd.DataFrame(
                {
                    "pidx": gp_ok["pidx"][gp_ok["code"].isin(_DA)],
                    "date": _day(gp_ok["date"][gp_ok["code"].isin(_DA)]),
                }
            ),
            pd.DataFrame({"pidx": ae_ok["pidx"][ae_da], "date": _day(ae_ok["arrival"][ae_da])}),
            pd.DataFrame(
                {
                    "pidx": dom["pidx"][dom["role"] == "VICTIM"],
                    "date": _day(dom["occurred"][dom["role"] == "VICTIM"]),
                }
            ),
            pd.DataFrame({"pidx": marac["pidx"], "date": _day(marac["marac"])}),
        ]
    )
    sus_rows = dom[dom["role"] == "SUSPECT"]
    da_suspect = pd.DataFrame({"pidx": sus_rows["pidx"], "date": _day(sus_rows["occurred"])})
    ae_sh = (
        (ae_ok["intent"] == _SELF_INTENT)
        | ae_ok["complaint"].isin(_SH)
        | _any_code(ae_ok["diagnoses"], _SH)
    )
    mh_sh = _any_code(mh_ok["codes"], _SH)
    self_harm = pd.concat(
        [
            pd.DataFrame({"pidx": ae_ok["pidx"][ae_sh], "date": _day(ae_ok["arrival"][ae_sh])}),
            pd.DataFrame({"pidx": mh_ok["pidx"][mh_sh], "date": _day(mh_ok["start"][mh_sh])}),
            pd.DataFrame(
                {
                    "pidx": gp_ok["pidx"][gp_ok["code"].isin(_SH)],
                    "date": _day(gp_ok["date"][gp_ok["code"].isin(_SH)]),
                }
            ),
        ]
    )
    sd_rows = mh_ok[(mh_ok["type"] == "DISCHARGE") & (mh_ok["method"] == "SELF")]
    self_dis = pd.DataFrame({"pidx": sd_rows["pidx"], "date": _day(sd_rows["start"])})
    crisis_pol = dom[dom["role"].isin(["VICTIM", "SUSPECT", "CHILD_PRESENT"])]
    crisis = pd.concat(
        [
            self_harm.assign(incident=-1),
            self_dis.assign(incident=-1),
            pd.DataFrame(
                {
                    "pidx": crisis_pol["pidx"],
                    "date": _day(crisis_pol["occurred"]),
                    "incident": crisis_pol["incident"],
                }
            ),
        ]
    )

    da_all = pd.concat([da_victim, da_suspect])
    da_known = set(da_all["pidx"][window(da_all["date"].to_numpy(), 730)].tolist())
    out: list[pd.DataFrame] = []

    def flag(kind: str, people: Iterable[Any]) -> None:
        arr = np.array(sorted(set(int(x) for x in people)), dtype=np.int64)
        out.append(pd.DataFrame({"kind": kind, "pidx": arr, "ref": "", "recipient": ""}))

    sh90 = set(self_harm["pidx"][window(self_harm["date"].to_numpy(), 90)].tolist())
    flag("DA-SH", sh90 & da_known)
    att = ae_ok[window(ae_ok["arrival"].to_numpy(), 365)]
    counts = att.groupby("pidx").size()
    flag("FA", counts.index[counts >= 5])
    sd90 = set(self_dis["pidx"][window(self_dis["date"].to_numpy(), 90)].tolist())
    flag("MH-SD-DA", sd90 & da_known)

    vic = dom[dom["role"] == "VICTIM"]
    if len(marac):
        latest = marac.groupby("pidx")["marac"].max()
        v = vic[vic["pidx"].isin(latest.index)]
        m = _day(latest.reindex(v["pidx"]).to_numpy())
        d = _day(v["occurred"])
        hit = (d > m) & ((d - m).astype(np.int64) <= 365) & window(d, 365)
        flag("MARAC-REPEAT", v["pidx"][hit])
    else:
        flag("MARAC-REPEAT", set())
    br = vic[(vic["bail_breach"] == "Y") & window(vic["occurred"].to_numpy(), 365)]
    flag("BAIL-BREACH", br["pidx"])
    s5 = sus_rows[window(sus_rows["occurred"].to_numpy(), 1825)]
    pairs = s5[["incident", "pidx"]].merge(
        vic[["incident", "pidx"]], on="incident", suffixes=("", "_victim")
    )
    pairs = pairs[pairs["pidx"] != pairs["pidx_victim"]]
    nv = pairs.groupby("pidx")["pidx_victim"].nunique()
    flag("SERIAL", nv.index[nv >= 2])

    # ---- households from current addresses
    hh = _households(world)
    hh_of = pd.Series(hh["addr"].to_numpy(), index=hh["pidx"].to_numpy())
    dk = hh[hh["pidx"].isin(da_known)]
    dk_count = dk.groupby("addr").size()
    hcount = dk_count.reindex(hh["addr"]).fillna(0).to_numpy()
    own = hh["pidx"].isin(da_known).to_numpy().astype(int)
    flag("HH-DA", hh["pidx"][(hcount - own) > 0])
    c90 = crisis[window(crisis["date"].to_numpy(), 90)]
    c90 = c90[c90["pidx"].isin(hh_of.index)].drop_duplicates()
    c90 = c90.assign(addr=hh_of.reindex(c90["pidx"]).to_numpy())
    cp = c90.merge(c90, on="addr", suffixes=("", "_o"))
    # one police incident seen from both sides is one crisis, not two (as rules/hh_crisis)
    same_incident = (cp["incident"] >= 0) & (cp["incident"] == cp["incident_o"])
    close = np.abs((cp["date"] - cp["date_o"]).dt.days) <= 14
    cp = cp[(cp["pidx"] != cp["pidx_o"]) & close & ~same_incident]
    flag("HH-CRISIS", cp["pidx"])

    # ---- warnings
    out.extend(_letter_warnings(world, ae_ok, ae_sh, end_of_day))
    out.append(_mh_letter_late(world, mh_ok))
    return pd.concat(out, ignore_index=True)


def _current_gp(world: _World) -> pd.DataFrame:
    g = world.gp_rows
    reg = _day(g["registered_on"])
    dereg = _day(g["deregistered_on"])
    cur = (reg <= world.as_of) & (np.isnat(dereg) | (dereg > world.as_of))
    return g[cur]


def _households(world: _World) -> pd.DataFrame:
    """(pidx, addr) for persons in an ordinary household, as RULES.md builds them."""
    as_of = world.as_of
    cur = _current_gp(world).sort_values("registered_on", kind="stable")
    gp_addr = cur.groupby("pidx")["addr"].last()
    ae = world.AE[_day(world.AE["arrival"]) <= as_of]
    ae_addr = pd.DataFrame(
        {
            "pidx": ae["pidx"],
            "date": ae["arrival"],
            "addr": world.addr_at(ae["pidx"].to_numpy(), ae["arrival"].to_numpy(), 1),
        }
    )
    mh = world.mh_pat.dropna(subset=["address_date"])
    nom = world.nominals.dropna(subset=["address_date"])
    dated = pd.concat(
        [
            ae_addr,
            pd.DataFrame({"pidx": mh["pidx"], "date": mh["address_date"], "addr": mh["addr"]}),
            pd.DataFrame({"pidx": nom["pidx"], "date": nom["address_date"], "addr": nom["addr"]}),
        ]
    )
    dated["date"] = pd.to_datetime(dated["date"])
    dated = dated.sort_values(["pidx", "date"], kind="stable")
    last_addr = dated.groupby("pidx")["addr"].last()
    addr = last_addr.copy()
    addr.update(gp_addr)
    addr = pd.concat([addr, gp_addr[~gp_addr.index.isin(addr.index)]])
    sensitive = set(world.gp_rows["pidx"][world.gp_rows["sensitive"] == "Y"].tolist())
    frame = pd.DataFrame(
        {"pidx": addr.index.to_numpy().astype(np.int64), "addr": addr.to_numpy().astype(np.int64)}
    )
    frame = frame[~frame["pidx"].isin(sensitive)]
    frame = frame[world.A["kind"].to_numpy()[frame["addr"]] != 5]
    size = frame.groupby("addr")["pidx"].transform("size")
    return frame[size <= 10].reset_index(drop=True)


def _letter_warnings(
    world: _World, ae: pd.DataFrame, ae_sh: pd.Series, end_of_day: np.datetime64
) -> list[pd.DataFrame]:
    as_of = world.as_of
    concern = ae_sh | (ae["safeguarding"].fillna("") != "")
    a = ae[concern].copy()
    dep = a["departure"].to_numpy()
    dep = np.where(np.isnat(dep), a["arrival"].to_numpy(), dep).astype("datetime64[m]")
    dep_day = dep.astype("datetime64[D]")
    age = (as_of - dep_day).astype(np.int64)
    a = a[(age >= 0) & (age <= 90)]
    dep, dep_day, age = (
        dep[(age >= 0) & (age <= 90)],
        dep_day[(age >= 0) & (age <= 90)],
        age[(age >= 0) & (age <= 90)],
    )
    sent = a["sent"].to_numpy().astype("datetime64[m]")
    sent = np.where(sent.astype("datetime64[D]") > as_of, np.datetime64("NaT"), sent)
    deadline = dep + 1440
    late = np.where(np.isnat(sent), deadline < end_of_day, sent > deadline)
    key = ("ae:" + a["provider_code"] + ":" + a["attendance_id"]).to_numpy()
    frames = [
        pd.DataFrame(
            {
                "kind": "LETTER-LATE",
                "pidx": a["pidx"].to_numpy()[late],
                "ref": key[late],
                "recipient": a["provider_code"].to_numpy()[late],
            }
        )
    ]

    due = age >= 7
    b = a[due].assign(key=key[due], dep_day=dep_day[due])
    cur = _current_gp(world)[["pidx", "practice_code", "patient_id"]]
    b = b.merge(cur, on="pidx")
    corr = world.corr_truth
    corr = corr[_day(corr["received_date"]) <= as_of]
    c = b[
        ["key", "attendance_id", "provider_code", "dep_day", "practice_code", "patient_id"]
    ].merge(corr, on=["practice_code", "patient_id"], suffixes=("", "_c"))
    by_ref = c["sender_reference"] == c["attendance_id"]
    by_date = (
        (c["sender_reference"].fillna("") == "")
        & (c["sender_code"] == c["provider_code"])
        & (np.abs((_day(c["document_date"]) - _day(c["dep_day"])).astype(np.int64)) <= 2)
    )
    matched = c.loc[by_ref | by_date, ["key", "practice_code"]].drop_duplicates()
    b = b.merge(matched, on=["key", "practice_code"], how="left", indicator=True)
    miss = (b["_merge"] == "left_only").to_numpy()
    frames.append(
        pd.DataFrame(
            {
                "kind": "LETTER-NOT-RECEIVED",
                "pidx": b["pidx"][miss],
                "ref": b["key"][miss],
                "recipient": b["practice_code"][miss],
            }
        )
    )
    return frames


def _mh_letter_late(world: _World, mh: pd.DataFrame) -> pd.DataFrame:
    as_of = world.as_of
    d = mh[(mh["type"] == "DISCHARGE") & (mh["method"] != "DEATH")]
    day = _day(d["start"])
    age = (as_of - day).astype(np.int64)
    d, day = d[(age >= 0) & (age <= 90)], day[(age >= 0) & (age <= 90)]
    issued = _day(d["letter_on"])
    issued = np.where(issued > as_of, np.datetime64("NaT"), issued)
    late = np.where(np.isnat(issued), day + 1 <= as_of, (issued - day).astype(np.int64) > 1)
    return pd.DataFrame(
        {
            "kind": "MH-LETTER-LATE",
            "pidx": d["pidx"].to_numpy()[late],
            "ref": ("mh:RYG:" + d["activity_id"]).to_numpy()[late],
            "recipient": "RYG",
        }
    )
