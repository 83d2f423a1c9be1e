"""A Job's ``spec.podFailurePolicy``: accepted as Kubernetes accepts it, refused with every
problem at its field path."""

from __future__ import annotations

from typing import Any

from kawa.apis import batch

from ..helpers import field_errors
from .test_job import job_obj

JOB = batch.JOB


def with_policy(*rules: dict[str, Any], restart: str = "Never") -> dict[str, Any]:
    obj = job_obj()
    obj["spec"]["template"]["spec"]["restartPolicy"] = restart
    obj["spec"]["podFailurePolicy"] = {"rules": list(rules)}
    return obj


DISRUPTED = {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}


def test_a_policy_as_kubernetes_documents_it_is_accepted_and_kept() -> None:
    obj = with_policy(
        DISRUPTED,
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]},
        },
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0, 1]}},
    )
    JOB.validate(obj)
    stored = JOB.default(obj)
    rules = stored["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["onPodConditions"] == [{"type": "DisruptionTarget"}]
    assert rules[1]["onExitCodes"]["values"] == [42]


def test_every_problem_is_reported_at_its_path() -> None:
    obj = with_policy(
        {"action": "Ignore"},
        {
            "action": "FailJob",
            "onExitCodes": {"operator": "In", "values": [0, 3, 3, 2]},
            "onPodConditions": [{"type": "DisruptionTarget"}],
        },
        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}},
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "other", "operator": "In", "values": [1]},
        },
        {"action": "Retry", "onPodConditions": [{"type": "X", "status": "Maybe"}]},
        restart="OnFailure",
    )
    errors = field_errors(lambda: JOB.validate(obj))
    assert errors["spec.template.spec.restartPolicy"] == (
        'Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified'
    )
    assert "onExitCodes.containerName" in "".join(errors)
    assert (
        "must be one of the container or initContainer names"
        in errors["spec.podFailurePolicy.rules[3].onExitCodes.containerName"]
    )
    assert "spec.podFailurePolicy.rules[4].action" in errors
    assert "spec.podFailurePolicy.rules[4].onPodConditions[0].status" in errors


def test_rule_checks_once_the_types_hold() -> None:
    obj = with_policy(
        {"action": "Ignore"},
        {
            "action": "FailJob",
            "onExitCodes": {"operator": "In", "values": [0, 3, 3, 2]},
            "onPodConditions": [{"type": "DisruptionTarget"}],
        },
        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": []}},
    )
    errors = field_errors(lambda: JOB.validate(obj))
    rules = "spec.podFailurePolicy.rules"
    assert errors == {
        f"{rules}[0]": "Invalid value: specify one of onExitCodes and onPodConditions",
        f"{rules}[1]": (
            "Invalid value: specify one of onExitCodes and onPodConditions, but not both"
        ),
        f"{rules}[1].onExitCodes.values[0]": "Invalid value: 0: must not be 0 for the In operator",
        f"{rules}[1].onExitCodes.values[2]": "Duplicate value: 3",
        f"{rules}[1].onExitCodes.values[3]": "Invalid value: 2: must be ordered",
        f"{rules}[2].action": (
            'Invalid value: "FailIndex": only for Indexed Jobs (kawa runs NonIndexed ones)'
        ),
        f"{rules}[3].onExitCodes.values": "Required value",
    }
