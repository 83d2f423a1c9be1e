"""The kubelet's ConfigMap (kawa.serving.kubelet.config): Go durations and quantities."""

from __future__ import annotations

import pytest

from kawa.serving.kubelet import config

WHERE = "knative-serving/config-kawa-kubelet"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1m30s", 90.0), ("500ms", 0.5), (".5s", 0.5), ("+2s", 2.0), ("250\u03bcs", 0.00025)],
)
def test_durations_are_go_durations(text: str, seconds: float) -> None:
    parsed, warnings = config.config_from_configmap({"readiness-poll-interval": text})
    assert warnings == []
    assert parsed.readiness_poll_interval == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("10", "a number without a unit"),
        ("-1s", "expected a duration such as 60s"),
        ("0s", "must be positive"),
        ("soon", "expected a duration such as 60s"),
    ],
)
def test_bad_durations_keep_the_default(text: str, problem: str) -> None:
    parsed, warnings = config.config_from_configmap({"crash-loop-backoff-initial": text})
    assert parsed == config.KubeletConfig()
    (warning,) = warnings
    assert warning.startswith(f"{WHERE} data[crash-loop-backoff-initial]: ")
    assert problem in warning
    assert warning.endswith("keeping the default")


def test_sizes_and_backoff() -> None:
    data = {"log-max-bytes": "512Ki", "crash-loop-backoff-initial": "1s"}
    parsed, warnings = config.config_from_configmap({**data, "crash-loop-backoff-max": "3s"})
    assert warnings == []
    assert parsed.log_max_bytes == 512 * 1024
    assert [parsed.backoff(n) for n in range(5)] == [0.0, 1.0, 2.0, 3.0, 3.0]
