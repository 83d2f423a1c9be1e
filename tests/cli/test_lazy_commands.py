"""``kawa up``, ``demo`` and ``cesql`` are imported only when they run: ``kawa --help`` lists
them with the short help kept beside their import path, which must be their own."""

from __future__ import annotations

import importlib

import click
import pytest
from click.testing import CliRunner

from kawa.cli.main import LAZY_COMMANDS, main


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    where, short_help = LAZY_COMMANDS[name]
    module, _, attr = where.partition(":")
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command)
    assert command.get_short_help_str(limit=500) == short_help


def test_help_lists_every_command_and_runs_the_lazy_ones() -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["--help"])
    assert listed.exit_code == 0, listed.output
    for name in ("up", "demo", "cesql", "get", "apply", "event-display"):
        assert f"  {name} " in listed.output, listed.output
    up_help = runner.invoke(main, ["up", "--help"])
    assert up_help.exit_code == 0, up_help.output
    assert "--data-dir" in up_help.output
