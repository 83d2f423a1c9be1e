from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis import core
from kawa.apis.core import containers, pod, pod_status
from kawa.apis.model.base import Context
from kawa.apis.model.parse import validate
from kawa.errors import FieldError

from ..helpers import field_errors


def pod_obj(spec: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "busybox", "namespace": "default"},
        "spec": copy.deepcopy(spec)
        if spec is not None
        else {"containers": [{"name": "busybox", "image": "busybox"}]},
        **extra,
    }


FULL: dict[str, Any] = {
    "containers": [
        {
            "name": "app",
            "image": "gcr.io/knative-releases/event-display:v1.2",
            "command": ["/bin/app"],
            "args": ["--port", "8080"],
            "env": [
                {"name": "K_SINK", "value": "http://example.com"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "cm"}}],
            "ports": [{"containerPort": 8080, "name": "http"}],
            "workingDir": "/srv",
            "resources": {"limits": {"cpu": "1"}},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        }
    ],
    "initContainers": [{"name": "init", "image": "busybox@sha256:abc", "command": ["true"]}],
    "volumes": [{"name": "data", "emptyDir": {}}],
    "restartPolicy": "OnFailure",
    "serviceAccountName": "events-sa",
    "imagePullSecrets": [{"name": "reg"}],
}


def test_full_pod_parses() -> None:
    parsed = pod.parse_pod(pod_obj(FULL))
    (app,) = parsed.spec.containers
    assert app.image == "gcr.io/knative-releases/event-display:v1.2"
    assert app.command == ["/bin/app"]
    assert app.args == ["--port", "8080"]
    assert app.env[0] == containers.EnvVar(name="K_SINK", value="http://example.com")
    assert app.env[1].value_from == containers.EnvVarSource(
        field_ref=containers.ObjectFieldSelector(field_path="metadata.name")
    )
    assert app.ports == [containers.ContainerPort(container_port=8080, protocol="TCP", name="http")]
    assert app.working_dir == "/srv"
    assert app.image_pull_policy == "IfNotPresent"
    assert parsed.spec.init_containers[0].image_pull_policy == "IfNotPresent"
    assert parsed.spec.restart_policy == "OnFailure"
    assert parsed.spec.service_account_name == "events-sa"
    assert parsed.key == "default/busybox"


def test_defaults_on_a_copy() -> None:
    obj = pod_obj()
    out = pod.default_pod(obj)
    spec = out["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["serviceAccountName"] == "default"
    assert spec["containers"][0]["imagePullPolicy"] == "Always"
    assert out["status"] == {"phase": "Pending"}
    assert obj == pod_obj()
    ports = pod.default_pod(
        pod_obj({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 1}]}]})
    )
    assert ports["spec"]["containers"][0]["ports"] == [{"containerPort": 1, "protocol": "TCP"}]
    parsed = pod.parse_pod(obj)
    assert (parsed.spec.termination_grace_period_seconds, parsed.spec.dns_policy) == (
        30,
        "ClusterFirst",
    )


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:1.0", "IfNotPresent"),
        ("app@sha256:0123", "IfNotPresent"),
        ("kawa/event-display", "Always"),
    ],
)
def test_default_pull_policy(image: str, policy: str) -> None:
    assert containers.default_pull_policy(image) == policy


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, {"spec.containers": "required field is missing"}),
        ({"containers": []}, {"spec.containers": "required field is missing (a non-empty list)"}),
        (
            {"containers": [{"name": "a"}]},
            {"spec.containers[0].image": "required field is missing"},
        ),
        (
            {"containers": [{"image": "x"}, {"name": "Bad_Name", "image": "x"}]},
            {
                "spec.containers[0].name": "required field is missing",
                "spec.containers[1].name": "invalid value 'Bad_Name': a lowercase RFC 1123 label",
            },
        ),
        (
            {
                "containers": [{"name": "a", "image": "x"}],
                "initContainers": [{"name": "a", "image": "y"}],
            },
            {"spec.initContainers[0].name": "duplicate value 'a'"},
        ),
        (
            {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 0}, {}]}]},
            {
                "spec.containers[0].ports[0].containerPort": (
                    "invalid value 0: must be between 1 and 65535, inclusive"
                ),
                "spec.containers[0].ports[1].containerPort": "required field is missing",
            },
        ),
        (
            {
                "containers": [
                    {
                        "name": "a",
                        "image": "x",
                        "ports": [{"containerPort": 80, "protocol": "HTTP"}],
                    }
                ]
            },
            {"spec.containers[0].ports[0].protocol": "must be one of TCP, UDP, SCTP, got 'HTTP'"},
        ),
        (
            {
                "containers": [
                    {"name": "a", "image": "x", "ports": [{"containerPort": 80, "name": "Web"}]}
                ]
            },
            {"spec.containers[0].ports[0].name": "invalid value 'Web'"},
        ),
        (
            {"containers": [{"name": "a", "image": "x", "env": [{"value": "v"}, {"name": "1X"}]}]},
            {
                "spec.containers[0].env[0].name": "required field is missing",
                "spec.containers[0].env[1].name": "invalid value '1X'",
            },
        ),
        (
            {
                "containers": [
                    {
                        "name": "a",
                        "image": "x",
                        "env": [{"name": "X", "value": "v", "valueFrom": {}}],
                    }
                ]
            },
            {
                "spec.containers[0].env[0].valueFrom": (
                    "may not be specified when `value` is not empty"
                )
            },
        ),
        (
            {"containers": [{"name": "a", "image": "x", "command": "run", "args": [1]}]},
            {
                "spec.containers[0].command": "expected a list, got a string",
                "spec.containers[0].args[0]": "expected a string, got a number (quote it in YAML)",
            },
        ),
        (
            {"containers": [{"name": "a", "image": "x", "resources": "big"}]},
            {"spec.containers[0].resources": "expected a mapping, got a string"},
        ),
        (
            {"containers": [{"name": "a", "image": "x"}], "restartPolicy": "Sometimes"},
            {"spec.restartPolicy": "must be one of Always, OnFailure, Never, got 'Sometimes'"},
        ),
        (
            {"containers": [{"name": "a", "image": "x"}], "terminationGracePeriodSeconds": -1},
            {"spec.terminationGracePeriodSeconds": "invalid value -1"},
        ),
        (
            {"containers": [{"name": "a", "image": "x"}], "dnsPolicy": "Google"},
            {"spec.dnsPolicy": "must be one of ClusterFirst, ClusterFirstWithHostNet"},
        ),
        (
            {
                "containers": [
                    {
                        "name": "a",
                        "image": "x",
                        "volumeMounts": [{"name": "nope", "mountPath": "/d"}],
                    }
                ],
                "volumes": [{"name": "v"}, {"name": "v"}],
            },
            {
                "spec.containers[0].volumeMounts[0].name": "not found: no volume 'nope'",
                "spec.volumes[1].name": "duplicate value 'v'",
            },
        ),
        (
            {
                "containers": [
                    {
                        "name": "a",
                        "image": "x",
                        "volumeMounts": [
                            {"name": "v", "mountPath": "/a", "subPath": "../../etc"},
                            {"name": "v", "mountPath": "/b", "subPath": "/etc"},
                        ],
                    }
                ],
                "volumes": [{"name": "v", "emptyDir": {}}],
            },
            {
                "spec.containers[0].volumeMounts[0].subPath": "must not contain '..'",
                "spec.containers[0].volumeMounts[1].subPath": "must be a relative path",
            },
        ),
    ],
)
def test_invalid_pods(spec: dict[str, Any], expected: dict[str, str]) -> None:
    found = field_errors(lambda: pod.validate_pod(pod_obj(spec)))
    assert found.keys() == expected.keys(), found
    for path, start in expected.items():
        assert found[path].startswith(start), (path, found[path])


def test_missing_spec_and_bad_status() -> None:
    obj = pod_obj(status={"phase": "Sleeping", "containerStatuses": [{"restartCount": -1}]})
    del obj["spec"]
    # The status is never read with the object (status writes are checked against its schema).
    assert field_errors(lambda: pod.validate_pod(obj)) == {"spec": "required field is missing"}
    errors: list[FieldError] = []
    validate(pod_status.PodStatus, obj["status"], errors, ctx=Context(), path="status")
    assert {e.path: e.message for e in errors} == {
        "status.phase": "must be one of Pending, Running, Succeeded, Failed, Unknown, got "
        "'Sleeping'",
        "status.containerStatuses[0].name": "required field is missing",
        "status.containerStatuses[0].restartCount": (
            "invalid value -1: must be greater than or equal to 0"
        ),
    }


def test_image_format_is_free() -> None:
    spec = {"containers": [{"name": "a", "image": "./my-local-program --flag"}]}
    assert pod.parse_pod(pod_obj(spec)).spec.containers[0].image == "./my-local-program --flag"


def updated(change: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    old = pod.default_pod(pod_obj(FULL))
    new = copy.deepcopy(old)
    change(new["spec"])
    return old, new


def test_allowed_pod_updates() -> None:
    def allowed(spec: dict[str, Any]) -> None:
        spec["containers"][0]["image"] = "event-display:v2"
        spec["initContainers"][0]["image"] = "busybox:2"
        spec["activeDeadlineSeconds"] = 60
        spec["tolerations"] = [{"key": "k", "operator": "Exists"}]
        spec["nodeName"] = "kawa"

    core.POD.validate_update(*updated(allowed))
    old, new = updated(lambda s: s.update(activeDeadlineSeconds=60))
    lowered = copy.deepcopy(new)
    lowered["spec"]["activeDeadlineSeconds"] = 30
    core.POD.validate_update(new, lowered)
    assert field_errors(lambda: core.POD.validate_update(lowered, new)) == {
        "spec.activeDeadlineSeconds": "may only be set or lowered, never raised or removed"
    }
    # Status and metadata may change freely.
    moved = copy.deepcopy(old)
    moved["status"] = {"phase": "Running"}
    moved["metadata"]["labels"] = {"a": "b"}
    core.POD.validate_update(old, moved)


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        (
            lambda s: s["containers"][0].update(command=["/bin/other"]),
            ["spec.containers[0].command[0]"],
        ),
        (lambda s: s["containers"][0]["env"].append({"name": "X"}), ["spec.containers[0].env"]),
        (lambda s: s["containers"].append({"name": "b", "image": "x"}), ["spec.containers"]),
        (lambda s: s.update(restartPolicy="Never"), ["spec.restartPolicy"]),
        (lambda s: s.update(serviceAccountName="other"), ["spec.serviceAccountName"]),
        (
            lambda s: s.update(tolerations=[{"key": "a"}]),
            ["spec.tolerations[0].key"],
        ),
    ],
)
def test_forbidden_pod_updates(change: Any, paths: list[str]) -> None:
    old, new = updated(change)
    if paths == ["spec.tolerations[0].key"]:
        old["spec"]["tolerations"] = [{"key": "b"}]
    found = field_errors(lambda: core.POD.validate_update(old, new))
    assert sorted(found) == paths
    assert all(
        m.startswith("field is immutable: pod updates may not change") for m in found.values()
    )


def test_node_name_cannot_move_once_set() -> None:
    old, new = updated(lambda s: s.update(nodeName="a"))
    moved = copy.deepcopy(new)
    moved["spec"]["nodeName"] = "b"
    core.POD.validate_update(old, new)
    assert list(field_errors(lambda: core.POD.validate_update(new, moved))) == ["spec.nodeName"]


def test_update_checks_take_any_old_object() -> None:
    """The stored object may predate today's rules: odd shapes give field errors, not crashes."""
    old, new = updated(lambda s: s.update(tolerations=[{"key": "a"}]))
    old["spec"]["tolerations"] = 7
    assert list(field_errors(lambda: core.POD.validate_update(old, new))) == ["spec.tolerations"]
