"""The Pods kawa's autoscaler creates for a Revision (kawa.serving.revision_pods)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis.core import pod as core_pod
from kawa.serving import revision_pods as pods


def revision(**spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "user-container",
        "image": "busybox",
        "command": ["sh", "-c", "serve"],
        "env": [{"name": "A", "value": "1"}, {"name": "PORT", "value": "1"}],
        "ports": [{"name": "http1", "containerPort": 9000}],
    }
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": "hello-00001",
            "namespace": "ns",
            "uid": "rev-uid",
            "labels": {
                "serving.knative.dev/configuration": "hello",
                "serving.knative.dev/configurationGeneration": "1",
                "serving.knative.dev/service": "hello",
                "serving.knative.dev/configurationUID": "cfg-uid",
            },
        },
        "spec": {"containers": [container], "containerConcurrency": 0, "timeoutSeconds": 300}
        | spec,
    }


def test_revision_pod_shape() -> None:
    rev = revision()
    before = copy.deepcopy(rev)
    name = pods.pod_name("hello-00001", "0123456789")
    pod = pods.revision_pod(rev, name=name, port=34567)
    assert rev == before
    assert name == "hello-00001-deployment-0123456789"
    meta = pod["metadata"]
    assert (meta["name"], meta["namespace"]) == (name, "ns")
    assert meta["labels"] == {
        "serving.knative.dev/revision": "hello-00001",
        "serving.knative.dev/revisionUID": "rev-uid",
        "serving.knative.dev/configuration": "hello",
        "serving.knative.dev/configurationGeneration": "1",
        "serving.knative.dev/service": "hello",
        "app": "hello-00001",
    }
    assert meta["annotations"] == {"serving.kawa.dev/user-port": "9000"}
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "name": "hello-00001",
            "uid": "rev-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    (container,) = spec["containers"]
    assert container["name"] == "user-container"
    assert container["command"] == ["sh", "-c", "serve"]
    assert container["ports"] == [{"name": "user-port", "containerPort": 34567, "protocol": "TCP"}]
    assert container["env"] == [
        {"name": "A", "value": "1"},
        {"name": "PORT", "value": "34567"},
        {"name": "K_REVISION", "value": "hello-00001"},
        {"name": "K_CONFIGURATION", "value": "hello"},
        {"name": "K_SERVICE", "value": "hello"},
    ]
    assert pod["status"] == {"phase": "Pending"}
    parsed = core_pod.parse_pod(pod)  # a valid Pod, as the API server would accept it
    assert parsed.spec.containers[0].ports[0].container_port == 34567
    assert pods.pod_endpoint(pod) == ("127.0.0.1", 34567)


def test_default_user_port_and_missing_labels() -> None:
    rev = revision(container={"ports": None})
    del rev["metadata"]["labels"]
    pod = pods.revision_pod(rev, name="x-deployment-abc", port=40000)
    assert pod["metadata"]["annotations"]["serving.kawa.dev/user-port"] == "8080"
    assert pod["metadata"]["labels"] == {
        "serving.knative.dev/revision": "hello-00001",
        "serving.knative.dev/revisionUID": "rev-uid",
        "app": "hello-00001",
    }
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["K_SERVICE"] == ""
    assert env["K_CONFIGURATION"] == ""


@pytest.mark.parametrize(
    ("probe", "expected_port"),
    [
        ({"tcpSocket": {}}, 40000),
        ({"tcpSocket": {"port": 9000}}, 40000),
        ({"httpGet": {"path": "/healthz", "port": "http1"}}, 40000),
        ({"httpGet": {"path": "/healthz", "port": 0}}, 40000),
        ({"httpGet": {"path": "/healthz", "port": 9999}}, 9999),
    ],
)
def test_probe_ports_follow_the_user_port(probe: dict[str, Any], expected_port: int) -> None:
    rev = revision(container={"readinessProbe": probe, "livenessProbe": copy.deepcopy(probe)})
    pod = pods.revision_pod(rev, name="x-deployment-abc", port=40000)
    container = pod["spec"]["containers"][0]
    for which in ("readinessProbe", "livenessProbe"):
        handler = next(iter(container[which].values()))
        assert handler["port"] == expected_port


def test_exec_probe_is_copied_untouched() -> None:
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    pod = pods.revision_pod(revision(container={"readinessProbe": probe}), name="p", port=1)
    assert pod["spec"]["containers"][0]["readinessProbe"] == probe


def test_pod_name_suffix_checked() -> None:
    with pytest.raises(ValueError, match="suffix"):
        pods.pod_name("r", "Bad_Suffix")


def test_pod_readiness() -> None:
    pod: dict[str, Any] = {"metadata": {}, "status": {}}
    assert not pods.pod_is_ready(pod)
    pod["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert pods.pod_is_ready(pod)
    pod["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert not pods.pod_is_ready(pod)
    assert pods.pod_endpoint({"spec": {"containers": [{"name": "c"}]}}) is None
