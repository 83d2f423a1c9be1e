"""``kawa describe`` and ``kawa kubeconfig`` through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ..waiting import wait_until
from .e2e_support import Result, kawa_up, run_cli

TRIGGER = """
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: lonely
  labels: {team: blue}
spec:
  broker: missing
  subscriber: {uri: "http://127.0.0.1:9/"}
"""


@pytest.mark.slow
def test_describe_shows_fields_conditions_and_events(tmp_path: Path) -> None:
    with kawa_up(tmp_path) as kawa:
        manifest = tmp_path / "t.yaml"
        manifest.write_text(TRIGGER)
        data = ("--data-dir", str(kawa.data_dir))
        assert run_cli("apply", "-f", str(manifest), *data, cwd=tmp_path).code == 0

        def described() -> Result | None:
            result = run_cli("describe", "trigger", "lonely", *data, cwd=tmp_path)
            assert result.code == 0, result.explain()
            return result if "TriggerNotReady" in result.stdout else None

        out = wait_until(described, 15, "describe never showed TriggerNotReady", 0.2).stdout
        assert out.startswith("Name:         lonely\nNamespace:    default\n")
        assert "team=blue" in out
        assert "Kind:         Trigger" in out
        assert "Broker:  missing" in out
        assert "BrokerDoesNotExist" in out
        assert "Warning  TriggerNotReady" in out
        missing = run_cli("describe", "trigger", "nope", *data, cwd=tmp_path)
        assert missing.code == 1
        assert "not found" in missing.stderr
        assert "Traceback" not in missing.stderr

        config = run_cli("kubeconfig", *data, cwd=tmp_path)
        assert config.code == 0
        parsed = yaml.safe_load(config.stdout)
        assert parsed["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
        assert parsed["current-context"] == "kawa"


@pytest.mark.slow
def test_apply_refuses_unknown_fields(tmp_path: Path) -> None:
    with kawa_up(tmp_path) as kawa:
        manifest = tmp_path / "typo.yaml"
        manifest.write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndatta:\n  a: b\n"
        )
        result = run_cli(
            "apply", "-f", str(manifest), "--data-dir", str(kawa.data_dir), cwd=tmp_path
        )
        assert result.code == 1, result.explain()
        assert 'unknown field "datta"' in result.stderr
        assert "Traceback" not in result.stderr
        listed = run_cli("get", "cm", "-o", "name", "--data-dir", str(kawa.data_dir), cwd=tmp_path)
        assert "typo" not in listed.stdout
