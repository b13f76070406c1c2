"""Review decisions steer later nights: accept releases held flags as NEW; reject drops a
link and its flags for good."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from sample_data.evaluate import read_outputs
from sample_data.generate import generate

AS_OF = "2026-11-20"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("review")
    generate(20_000, seed=11, out_dir=base / "input", as_of=date.fromisoformat(AS_OF))
    # A wide review band makes sure some DA evidence rests on links a person must decide.
    (base / "wide.toml").write_text("[linkage]\nauto_threshold = 0.9999\nreview_threshold = 0.5\n")
    return {"base": base}


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _night(base: Path, name: str) -> Path:
    out = base / name
    _cli(
        "run",
        "--input",
        str(base / "input"),
        "--out",
        str(out),
        "--as-of",
        AS_OF,
        "--store",
        f"sqlite:///{base / 'store.db'}",
        "--config",
        str(base / "wide.toml"),
        "-q",
    )
    return out


def _queue(base: Path) -> list[dict[str, str]]:
    return json.loads(
        _cli("review", "list", "--store", f"sqlite:///{base / 'store.db'}", "--format", "json")
    )


def _flags(out: Path) -> pd.DataFrame:
    return read_outputs(out, "flags.csv")


def _person(base: Path, record_key: str) -> str:
    source, org, record_id = record_key.split(":", 2)
    with sqlite3.connect(base / "store.db") as conn:
        row = conn.execute(
            "SELECT person_ref FROM records WHERE source=? AND org_code=? AND record_id=?",
            (source, org, record_id),
        ).fetchone()
    return str(row[0])


def _pair(base: Path, item: str) -> tuple[str, str]:
    with sqlite3.connect(base / "store.db") as conn:
        left, right = conn.execute(
            "SELECT record_key_l, record_key_r FROM links WHERE pair_id=?", (item,)
        ).fetchone()
    return str(left), str(right)


def test_accept_releases_held_flags_and_reject_is_permanent(world: dict[str, Path]) -> None:
    base = world["base"]
    night1 = _night(base, "night1")
    held = [i for i in _queue(base) if i["held_flags"]]
    assert len(held) >= 2, "the wide band must leave flags held behind links"
    accepted, rejected = held[0], held[1]
    rule = accepted["held_flags"].split(":")[0]
    left, right = _pair(base, accepted["item"])
    assert _person(base, left) != _person(base, right)
    # Held means sent to nobody: no such flag on either person tonight.
    sent = _flags(night1)
    people = {_person(base, left), _person(base, right)}
    assert not ((sent["rule"] == rule) & sent["person_ref"].isin(people)).any()

    _cli(
        "review",
        "accept",
        accepted["item"],
        "--reason",
        "same DOB and address",
        "--store",
        f"sqlite:///{base / 'store.db'}",
    )
    _cli(
        "review",
        "reject",
        rejected["item"],
        "--reason",
        "different people",
        "--store",
        f"sqlite:///{base / 'store.db'}",
    )
    night2 = _night(base, "night2")

    merged = _person(base, left)
    assert merged == _person(base, right), "an accepted link is a link"
    released = _flags(night2)
    mine = released[(released["person_ref"] == merged) & (released["rule"] == rule)]
    assert len(mine) and set(mine["status"]) == {"NEW"}, "held flags go out as NEW"

    r_left, r_right = _pair(base, rejected["item"])
    for name in ("night3", "night4"):
        out = _night(base, name)
        assert _person(base, r_left) != _person(base, r_right), "a rejected link never links"
        assert rejected["item"] not in {i["item"] for i in _queue(base)}
        review_file = pd.read_csv(out / "review_queue.csv", dtype=str)
        assert rejected["item"] not in set(review_file["item"])
        # The accepted flag is still there, now CONTINUING.
        later = _flags(out)
        assert set(
            later.loc[(later["person_ref"] == merged) & (later["rule"] == rule), "status"]
        ) == {"CONTINUING"}


def test_held_pass_scoped_to_pending_persons_loses_nothing(
    world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The held-flag pass evaluates only the persons holding pending links, their housemates
    and their police co-nominals; the held flags must equal those of a pass over everyone."""
    import pipeline

    def held(store: Path) -> pd.DataFrame:
        with sqlite3.connect(store) as conn:
            return pd.read_sql(
                "SELECT pair_id, rule, recipient_type, recipient_code, severity FROM held_flags "
                "ORDER BY pair_id, rule, recipient_type, recipient_code",
                conn,
            )

    def night(name: str) -> pd.DataFrame:
        (tmp_path / name).mkdir()
        pipeline.run_night(
            pipeline.RunOptions(
                input_dir=world["base"] / "input",
                out_dir=tmp_path / name / "out",
                as_of=date.fromisoformat(AS_OF),
                store_url=f"sqlite:///{tmp_path / name / 'store.db'}",
                config_path=world["base"] / "wide.toml",
            )
        )
        return held(tmp_path / name / "store.db")

    def everyone_world(
        review: pd.DataFrame,
        merged: pd.DataFrame,
        records: pd.DataFrame,
        linked: pd.DataFrame,
        people: pd.DataFrame,
        households: object,
        evidence: pd.DataFrame,
        **kw: Any,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The whole world with pending links accepted: every household rebuilt, everyone
        evaluated."""
        person = linked["person_ref"].map(merged.set_index("person_ref")["provisional_ref"])
        record_person = pd.DataFrame(
            {"record_key": linked["record_key"], "person_ref": person.fillna(linked["person_ref"])}
        )
        world, persons, _ = pipeline._with_households(
            records, record_person, known=households, **kw
        )
        return world, persons

    worlds: dict[str, pd.DataFrame] = {}

    def capture(name: str, build: Any) -> Any:
        """Keep, per person holding a pending link, their household in that world: each
        person named by their smallest record key (refs differ between the two stores)."""

        def wrapped(review: pd.DataFrame, merged: pd.DataFrame, *args: Any, **kw: Any) -> Any:
            linked, persons = build(review, merged, *args, **kw)
            name_of = linked.groupby("person_ref")["record_key"].min()
            holding = linked.loc[linked["record_key"].isin(review["record_key_l"]), "person_ref"]
            mine = persons.loc[persons["person_ref"].isin(holding), ["person_ref", "household_ref"]]
            homes = mine.merge(persons, on="household_ref", suffixes=("_holder", ""))
            homes = homes.loc[homes["household_ref"].notna()]
            worlds[name] = (
                pd.DataFrame(
                    {
                        "holder": homes["person_ref_holder"].map(name_of).to_numpy(),
                        "member": homes["person_ref"].map(name_of).to_numpy(),
                        "date_of_birth": homes["date_of_birth"].to_numpy(),
                        "communal": homes["communal"].to_numpy(),
                        "sensitive": homes["sensitive"].to_numpy(),
                    }
                )
                .sort_values(["holder", "member"])
                .reset_index(drop=True)
            )
            return linked, persons

        return wrapped

    real_world = pipeline._provisional_world
    monkeypatch.setattr(pipeline, "_provisional_world", capture("scoped", real_world))
    scoped = night("scoped")
    monkeypatch.setattr(pipeline, "_provisional_world", capture("everyone", everyone_world))
    everyone = night("everyone")
    # Structurally: each person holding a pending link has, in the scoped world, the same
    # housemates (with the same rows) as in the whole world.
    assert (worlds["everyone"]["holder"] != worlds["everyone"]["member"]).any()
    pd.testing.assert_frame_equal(worlds["scoped"], worlds["everyone"])
    assert len(everyone) >= 2, "the wide band must leave flags held behind links"
    # a household rule is held too, so the housemates part of the scope is exercised
    assert set(everyone["rule"]) & {"HH-DA", "HH-CRISIS"}, set(everyone["rule"])
    pd.testing.assert_frame_equal(scoped, everyone)
