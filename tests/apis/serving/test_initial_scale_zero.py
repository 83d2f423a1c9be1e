"""A Revision whose initial scale is 0 (Knative's ``allow-zero-initial-scale``): when it counts
as 0, and the status it gets without any Pod (pure: no store, no event loop)."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.apis.conditions import get_condition
from kawa.apis.serving import autoscaling, revision_status

from ..helpers import FakeClock

ALLOW = autoscaling.AutoscalerConfig(allow_zero_initial_scale=True)
ALLOW_AND_ZERO = autoscaling.AutoscalerConfig(initial_scale=0, allow_zero_initial_scale=True)
INITIAL = "autoscaling.knative.dev/initial-scale"


def rev(**annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "r", "annotations": dict(annotations)},
        "spec": {"containers": [{"name": "user-container", "image": "i"}]},
    }


def cond(status: dict[str, Any], type_: str) -> tuple[str, str, str]:
    found = get_condition(status, type_)
    assert found is not None, type_
    return (found.status, found.reason, found.message)


def pod(ready: bool, **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "user-container", **container}],
        },
    }


def config(**data: str) -> autoscaling.AutoscalerConfig:
    parsed, _ = autoscaling.config_from_configmap(data)
    return parsed


@pytest.mark.parametrize(
    ("annotations", "cfg", "zero"),
    [
        ({INITIAL: "0"}, ALLOW, True),
        # the old name of the annotation
        ({"autoscaling.knative.dev/initialScale": "0"}, ALLOW, True),
        # not allowed: 0 counts as 1 (Knative's webhook would refuse the annotation)
        ({INITIAL: "0"}, autoscaling.AutoscalerConfig(), False),
        # the config's initial-scale, allowed there
        ({}, config(**{"initial-scale": "0", "allow-zero-initial-scale": "true"}), True),
        # not allowed there: config-autoscaler keeps 1
        ({}, config(**{"initial-scale": "0"}), False),
        # the annotation wins over the config's 0
        ({INITIAL: "2"}, ALLOW_AND_ZERO, False),
        # Knative waits for max(min-scale, initial-scale) ready Pods
        ({INITIAL: "0", "autoscaling.knative.dev/min-scale": "1"}, ALLOW, False),
        # without scale to zero a Revision always has an instance
        (
            {INITIAL: "0"},
            config(**{"allow-zero-initial-scale": "true", "enable-scale-to-zero": "false"}),
            False,
        ),
        ({}, ALLOW, False),
    ],
)
def test_starts_at_zero(
    annotations: dict[str, str], cfg: autoscaling.AutoscalerConfig, zero: bool
) -> None:
    assert revision_status.starts_at_zero(rev(**annotations), cfg) is zero


def test_a_revision_at_zero_initial_scale_is_ready_without_a_pod() -> None:
    clock = FakeClock()
    status: dict[str, Any] = {}
    revision_status.compute_status(
        status, rev(), [], image_problem=None, clock=clock, zero_initial_scale=True
    )
    assert cond(status, "ResourcesAvailable")[0] == "True"
    assert cond(status, "ContainerHealthy")[0] == "True"
    assert cond(status, "Ready")[0] == "True"
    assert cond(status, "Active") == (
        "False",
        "NoTraffic",
        "The target is not receiving traffic.",
    )
    assert status["actualReplicas"] == 0
    assert status["desiredReplicas"] == 0

    # its first request starts a Pod: Queued while it starts, then Active; Ready all along
    starting = pod(False, state={"waiting": {"reason": "ContainerCreating"}})
    revision_status.compute_status(status, rev(), [starting], image_problem=None, clock=clock)
    assert cond(status, "Ready")[0] == "True"
    assert cond(status, "Active")[:2] == ("Unknown", "Queued")
    revision_status.compute_status(status, rev(), [pod(True)], image_problem=None, clock=clock)
    assert cond(status, "Active")[0] == "True"
    assert status["actualReplicas"] == 1
    revision_status.compute_status(status, rev(), [], image_problem=None, clock=clock)
    assert cond(status, "Ready")[0] == "True"
    assert cond(status, "Active")[:2] == ("False", "NoTraffic")


def test_at_zero_initial_scale_a_crash_of_its_first_pod_still_shows() -> None:
    clock = FakeClock()
    status: dict[str, Any] = {}
    revision_status.compute_status(
        status, rev(), [], image_problem=None, clock=clock, zero_initial_scale=True
    )
    died = pod(False, state={"terminated": {"exitCode": 3, "message": "no config\n"}})
    revision_status.compute_status(
        status, rev(), [died], image_problem=None, clock=clock, zero_initial_scale=True
    )
    assert cond(status, "ResourcesAvailable")[0] == "True"
    assert cond(status, "Ready") == ("False", "ExitCode3", "Container failed with: no config")


def test_at_zero_initial_scale_an_image_that_cannot_run_is_not_ready() -> None:
    status: dict[str, Any] = {}
    revision_status.compute_status(
        status,
        rev(),
        [],
        image_problem="map it",
        clock=FakeClock(),
        zero_initial_scale=True,
    )
    assert cond(status, "ResourcesAvailable") == ("False", "ImageNotRunnable", "map it")
    assert cond(status, "Ready")[:2] == ("False", "ImageNotRunnable")


def test_without_zero_initial_scale_a_revision_waits_for_its_first_pod() -> None:
    status: dict[str, Any] = {}
    revision_status.compute_status(status, rev(), [], image_problem=None, clock=FakeClock())
    assert cond(status, "ResourcesAvailable")[:2] == ("Unknown", "Deploying")
    assert cond(status, "Ready")[:2] == ("Unknown", "Deploying")
