"""``kawa up``'s node and leader-election flags: defaults shown, bad values refused before
anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kawa.cli.main import main


def test_the_flags_and_their_defaults() -> None:
    shown = CliRunner().invoke(main, ["up", "--help"])
    assert shown.exit_code == 0, shown.output
    help_text = " ".join(shown.output.split())
    for flag, default in (("--node-name", "kawa"), ("--leader-lease-duration", "15.0")):
        assert f"[default: {default}" in help_text.split(flag, 1)[1], flag
    assert "--leader-renew-deadline" in help_text
    assert "--leader-retry-period" in help_text


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--node-name", "Node_A"], "--node-name"),
        (["--leader-lease-duration", "3", "--leader-renew-deadline", "4"], "renew deadline"),
        (["--leader-renew-deadline", "5", "--leader-retry-period", "5"], "retry period"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, flags: list[str], said: str) -> None:
    data_dir = tmp_path / "data"
    refused = CliRunner().invoke(main, ["up", f"--data-dir={data_dir}", *flags])
    assert refused.exit_code == 2, refused.output
    assert said in refused.output
    assert not data_dir.exists()
