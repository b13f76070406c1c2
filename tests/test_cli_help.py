"""Every command has help with an example and is documented in the README; the README's
config example is valid."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import pipeline
from cli import main

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


COMMANDS = _commands(main)


def test_there_are_commands() -> None:
    assert ("run",) in COMMANDS and ("review", "next") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example_and_is_in_the_readme(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output, f"`dalink {' '.join(path)} --help` shows no example"
    documented = f"dalink {' '.join(path)}" in README or (
        path[0] == "review" and path[1] in README.split("dalink review list / ")[1].split("`")[0]
    )
    assert documented, f"`dalink {' '.join(path)}` is not in the README"


def test_the_readme_config_example_is_valid(tmp_path: Path) -> None:
    block = re.search(r"```toml\n(.*?)```", README, re.S)
    assert block is not None
    config = tmp_path / "dalink.toml"
    config.write_text(block.group(1))
    loaded = pipeline.RunConfig.load(config)
    assert loaded.linkage.auto_threshold == 0.99
    assert loaded.max_household_persons == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules.FA]\nmin_visits = 5\n", "min_visits"),
        ("[rules.NOPE]\nx = 1\n", "NOPE"),
        ("[codes]\nda = ['abc']\n", "abc"),
        ("[linkage]\nauto_threshold = 2\n", "strictly between 0 and 1"),
        ("[linkage]\nspeed = 1\n", "unknown option(s) speed"),
        ("[households]\nmax_persons = 1\n", "max_persons"),
    ],
)
def test_bad_config_fails_before_any_work(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = CliRunner().invoke(
        main,
        ["run", "--input", str(tmp_path), "--out", str(tmp_path / "out"), "--config", str(config)],
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
