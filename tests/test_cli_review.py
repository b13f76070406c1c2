"""The review commands through click's CliRunner: exit codes and output, errors included."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from adapters.store import RunState, Store, pair_id
from cli import main

LEFT, RIGHT = "ae:RKB:A100", "police:43:N7"
OTHER_L, OTHER_R = "gp:M85001:P1", "mh:RYG:L9"


def _detail() -> str:
    return json.dumps(
        {
            "records": {
                "l": {"source": "ae", "given_name": "Kate", "family_name": "Hollis"},
                "r": {"source": "police", "given_name": "Katherine", "family_name": "Hollis"},
            },
            "comparisons": [
                {"name": "given_name", "level": 2, "label": "nickname", "weight": 4.1},
                {"name": "dob", "level": -1, "label": "null", "weight": 0.0},
                {"name": "postcode", "level": 3, "label": "else", "weight": -2.5},
            ],
            "prior_weight": -12.0,
        }
    )


@pytest.fixture
def seeded(store_url: str) -> str:
    store = Store(store_url)
    links = pd.DataFrame(
        [
            {
                "pair_id": pair_id(LEFT, RIGHT),
                "record_key_l": LEFT,
                "record_key_r": RIGHT,
                "match_probability": 0.91,
                "match_weight": 3.3,
                "detail": _detail(),
            },
            {
                "pair_id": pair_id(OTHER_L, OTHER_R),
                "record_key_l": OTHER_L,
                "record_key_r": OTHER_R,
                "match_probability": 0.97,
                "match_weight": 5.0,
                "detail": _detail(),
            },
        ]
    )
    held = pd.DataFrame(
        [
            {
                "pair_id": pair_id(LEFT, RIGHT),
                "rule": "DA-SH",
                "recipient_type": "gp",
                "recipient_code": "M85001",
                "severity": "HIGH",
            }
        ]
    )
    store.commit_run(
        RunState(
            run_id="r1",
            as_of=date(2026, 11, 20),
            started_at=datetime(2026, 11, 20, tzinfo=UTC),
            input_fingerprint="x",
            manifest={},
            records=pd.DataFrame(
                columns=["record_key", "source", "org_code", "record_id", "person_ref"]
            ),
            person_events=pd.DataFrame(columns=["kind", "person_ref"]),
            review_links=links,
            held=held,
            flags=pd.DataFrame(columns=["rule", "person_ref", "recipient_type", "recipient_code"]),
            flag_transitions=pd.DataFrame(columns=["rule"]),
        )
    )
    store.dispose()
    return store_url


def _run(*args: str, stdin: str | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def test_list_puts_held_high_flags_first(seeded: str) -> None:
    result = _run("review", "list", "--store", seeded, "--format", "json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert [i["item"] for i in items] == [pair_id(LEFT, RIGHT), pair_id(OTHER_L, OTHER_R)]
    assert items[0]["held_flags"] == "DA-SH:HIGH→gp"
    assert items[0]["sources"] == "ae+police"


def test_list_filters(seeded: str) -> None:
    result = _run("review", "list", "--store", seeded, "--rule", "DA-SH", "--format", "csv")
    assert result.exit_code == 0
    assert result.output.count("\n") == 2
    result = _run("review", "list", "--store", seeded, "--org", "RYG", "--format", "csv")
    assert pair_id(OTHER_L, OTHER_R) in result.output and pair_id(LEFT, RIGHT) not in result.output


def test_show_prints_the_waterfall_and_held_flags(seeded: str) -> None:
    result = _run("review", "show", pair_id(LEFT, RIGHT)[:6], "--store", seeded)
    assert result.exit_code == 0, result.output
    assert "Kate" in result.output and "Katherine" in result.output
    assert "nickname" in result.output and "+4.10" in result.output
    assert "-2.50" in result.output
    assert "DA-SH HIGH → gp M85001" in result.output


def test_accept_reject_undo_and_history(seeded: str) -> None:
    item = pair_id(LEFT, RIGHT)
    ok = _run(
        "review", "accept", item, "--reason", "same DOB", "--reviewer", "lead", "--store", seeded
    )
    assert ok.exit_code == 0 and "accepted" in ok.output
    again = _run("review", "reject", item, "--reason", "x", "--store", seeded)
    assert again.exit_code == 2 and "already accepted" in again.output
    undo = _run("review", "undo", item, "--reviewer", "lead", "--store", seeded)
    assert undo.exit_code == 0 and "pending" in undo.output
    history = _run("review", "history", "--store", seeded, "--format", "json")
    actions = [(h["action"], h["reviewer"]) for h in json.loads(history.output)]
    assert actions == [("accept", "lead"), ("undo", "lead")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("review", "show", "ffffffff"), "no review item"),
        (("review", "accept", "ffffffff", "--reason", "x"), "no review item"),
        (("review", "accept", "", "--reason", "x"), "give a review item id"),
        (("review", "reject", "ffff"), "Missing option '--reason'"),
    ],
)
def test_bad_ids_and_missing_reason_exit_2(
    seeded: str, args: tuple[str, ...], message: str
) -> None:
    result = _run(*args, "--store", seeded)
    assert result.exit_code == 2
    assert message in result.output


def test_next_with_closed_stdin_does_not_hang(seeded: str) -> None:
    result = _run("review", "next", "--store", seeded, stdin="")
    assert result.exit_code == 0
    assert "No input: stopped." in result.output


def test_next_walks_the_queue_from_a_script(seeded: str) -> None:
    result = _run(
        "review", "next", "--store", seeded, "--reviewer", "lead", stdin="a\nsame person\ns\n"
    )
    assert result.exit_code == 0, result.output
    assert f"{pair_id(LEFT, RIGHT)}: accepted" in result.output
    assert "End of the queue." in result.output
    pending = _run("review", "list", "--store", seeded, "--format", "json")
    assert [i["item"] for i in json.loads(pending.output)] == [pair_id(OTHER_L, OTHER_R)]
