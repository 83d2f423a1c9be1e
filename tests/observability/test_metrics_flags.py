"""``kawa up --metrics-port`` / ``--metrics-host``: defaults, workers' ports, bad values."""

from __future__ import annotations

import socket
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kawa.cli.main import main
from kawa.cli.up import metrics_endpoint
from kawa.observability.endpoint import DEFAULT_PORT, MetricsEndpoint


def test_help_names_the_default_and_the_way_off() -> None:
    shown = CliRunner().invoke(main, ["up", "--help"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split()).split("--metrics-port", 1)[1]
    assert f"[default: {DEFAULT_PORT}" in text
    assert "-1: no metrics" in text
    assert "[default: 127.0.0.1]" in text.split("--metrics-host", 1)[1]


def test_where_each_process_serves() -> None:
    assert metrics_endpoint("127.0.0.1", None, None) == MetricsEndpoint(
        "127.0.0.1", DEFAULT_PORT, optional=True
    )
    assert metrics_endpoint("::1", 9200, None) == MetricsEndpoint("::1", 9200)
    assert metrics_endpoint("127.0.0.1", 9200, 0) == MetricsEndpoint("127.0.0.1", 9200)
    assert metrics_endpoint("127.0.0.1", 9200, 3) == MetricsEndpoint("127.0.0.1", 9203)
    assert metrics_endpoint("127.0.0.1", None, 2) == MetricsEndpoint(
        "127.0.0.1", DEFAULT_PORT + 2, optional=True
    )
    assert metrics_endpoint("127.0.0.1", 0, 5) == MetricsEndpoint("127.0.0.1", 0)
    assert metrics_endpoint("127.0.0.1", -1, 1) is None
    with pytest.raises(click.BadParameter, match="past 65535"):
        metrics_endpoint("127.0.0.1", 65535, 1)


@pytest.mark.parametrize("port", ["-2", "65536", "nine"])
def test_bad_ports_are_refused_before_anything_starts(tmp_path: Path, port: str) -> None:
    data_dir = tmp_path / "data"
    refused = CliRunner().invoke(main, ["up", f"--data-dir={data_dir}", "--metrics-port", port])
    assert refused.exit_code == 2, refused.output
    assert "--metrics-port" in refused.output
    assert not data_dir.exists()


def test_a_busy_port_given_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        run = CliRunner().invoke(
            main,
            ["up", f"--data-dir={tmp_path / 'data'}", "--ephemeral", "--port", "0",
             "--api-port", "0", "--metrics-port", port],
        )  # fmt: skip
    assert run.exit_code == 1, run.output
    assert f"error: cannot serve metrics on 127.0.0.1:{port}: the address is already in use" in (
        run.output
    )
    assert "Traceback" not in run.output
