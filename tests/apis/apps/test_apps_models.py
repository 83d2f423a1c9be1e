"""Deployment and ReplicaSet declarations: Kubernetes' defaults, the rules across fields
(reported together with type errors), immutable selectors, cells and the template hash."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis import apps
from kawa.apis.apps import deployment, workload
from kawa.apis.label_selector import format_selector
from kawa.apis.registry import SCHEME
from kawa.errors import ValidationError


def deploy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
            **spec,
        },
    }


def replicaset(**spec: Any) -> dict[str, Any]:
    obj = deploy(**spec)
    obj["kind"] = "ReplicaSet"
    return obj


def errors_of(obj: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        SCHEME.for_object(obj).validate(obj)
    return [str(e) for e in info.value.errors]


def test_names_resolve() -> None:
    assert SCHEME.resolve("deploy") is apps.DEPLOYMENT
    assert SCHEME.resolve("deployments.apps") is apps.DEPLOYMENT
    assert SCHEME.resolve("rs") is apps.REPLICA_SET
    assert "scale" in apps.DEPLOYMENT.subresources


def test_deployment_defaults_as_kubernetes() -> None:
    spec = apps.DEPLOYMENT.default(deploy())["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    recreate = apps.DEPLOYMENT.default(deploy(strategy={"type": "Recreate"}))["spec"]
    assert recreate["strategy"] == {"type": "Recreate"}
    assert apps.REPLICA_SET.default(replicaset())["spec"]["replicas"] == 1


def test_every_problem_at_once() -> None:
    bad = deploy(replicas="3", strategy={"type": "Recreate", "rollingUpdate": {}})
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert sorted(errors_of(bad)) == [
        "spec.replicas: expected an integer, got a string",
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` "
        "is 'Recreate'",
        'spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does not '
        "match template `labels`",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]


def test_rules_of_the_strategy_and_selector() -> None:
    zero = deploy(strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})
    assert errors_of(zero) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when "
        "`maxSurge` is 0"
    ]
    assert errors_of(deploy(strategy={"rollingUpdate": {"maxSurge": "x"}}))[0].startswith(
        'spec.strategy.rollingUpdate.maxSurge: Invalid value: "x"'
    )
    assert errors_of(deploy(selector={})) == [
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
    ]
    assert errors_of(deploy(minReadySeconds=700)) == [
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"
    ]
    missing = deploy()
    del missing["spec"]["selector"]
    assert "spec.selector: required field is missing" in errors_of(missing)
    assert errors_of(replicaset(replicas=-1))[0].startswith("spec.replicas")


def test_selector_is_immutable() -> None:
    old = apps.DEPLOYMENT.default(deploy())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    with pytest.raises(ValidationError) as info:
        apps.DEPLOYMENT.validate_update(old, new)
    assert info.value.errors[0].path == "spec.selector"
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    apps.DEPLOYMENT.validate_update(old, scaled)


def test_surge_and_unavailable() -> None:
    def resolved(replicas: int, surge: Any, unavailable: Any) -> tuple[int, int]:
        obj = deploy(
            replicas=replicas,
            strategy={"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
        )
        parsed = apps.DEPLOYMENT.parse(obj)
        assert isinstance(parsed, deployment.Deployment)
        return deployment.surge_and_unavailable(parsed.spec)

    assert resolved(4, "25%", "25%") == (1, 1)
    assert resolved(3, "25%", "25%") == (1, 0)  # surge rounds up, unavailable down
    assert resolved(1, 0, "10%") == (0, 1)  # never both 0
    assert resolved(10, 2, 3) == (2, 3)


def test_cells_and_selector_text() -> None:
    obj = apps.DEPLOYMENT.default(deploy(replicas=3))
    obj["status"] = {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    assert deployment.ready_cell(obj) == "2/3"
    assert workload.images_cell(obj) == "busybox"
    selector = {
        "matchLabels": {"app": "web", "pod-template-hash": "abc"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "gone", "operator": "DoesNotExist"},
        ],
    }
    assert format_selector(selector) == ("app=web,!gone,pod-template-hash=abc,tier in (a,b)")


def test_template_hash_ignores_its_own_label() -> None:
    template = deploy()["spec"]["template"]
    labelled = copy.deepcopy(template)
    labelled["metadata"]["labels"][workload.POD_TEMPLATE_HASH] = "x"
    assert workload.template_hash(template) == workload.template_hash(labelled)
    assert workload.template_hash(template) != workload.template_hash(template, 1)
    changed = copy.deepcopy(template)
    changed["spec"]["containers"][0]["image"] = "alpine"
    assert workload.template_hash(changed) != workload.template_hash(template)


def test_empty_fields_do_not_make_another_template() -> None:
    template = apps.DEPLOYMENT.default(deploy())["spec"]["template"]
    written_back = copy.deepcopy(template)  # as kubectl rollout undo writes it
    written_back["spec"]["containers"][0]["resources"] = {}
    written_back["metadata"]["creationTimestamp"] = None
    assert workload.without_hash(written_back) == workload.without_hash(template)
    assert workload.template_hash(written_back) == workload.template_hash(template)
