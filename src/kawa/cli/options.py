"""Options several ``kawa`` commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click

from kawa.datadir import DEFAULT_DATA_DIR

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(DEFAULT_DATA_DIR),
    show_default=True,
    help="kawa's data directory (finds the server through its server.json).",
)

ARGS_KEY: Final = "kawa.args"
"""Where :class:`kawa.cli.main.KawaGroup` keeps the command line for ``kawa up --workers``."""
